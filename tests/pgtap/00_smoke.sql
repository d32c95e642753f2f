-- The extension is installed by sqitch and its schema objects exist.
BEGIN;
SELECT plan(4);
SELECT has_extension('idgraph');
SELECT has_view('idgraph', 'allocations', 'allocations view exists (over idgraph.allocation_rows)');
SELECT has_function('idgraph', 'allocate', ARRAY['uuid', 'text', 'text', 'text', 'text', 'text']);
SELECT is(idgraph.normalize_external_id(' {A3E4F567-E89B-12D3-A456-426614174001} ', 'uuid'),
          'a3e4f567-e89b-12d3-a456-426614174001', 'UUIDs normalize');
SELECT * FROM finish();
ROLLBACK;
