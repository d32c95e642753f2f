-- Fills a database deployed at idgraph 0.1.0 (sqitch plan of that release) with data in
-- every table, through 0.1.0's own functions only: targets with and without their own
-- sequence, pending / committed / rolled-back / shared allocations, audit rows and seals,
-- services, edges from two discovery sources, cycle alerts (open and acknowledged), SLOs
-- with history, centrality (refreshed), API keys. Run by tests/upgrade.sh.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE SCHEMA upg_data;
CREATE TABLE upg_data.tbl_sites (site_id serial PRIMARY KEY, name text);
INSERT INTO upg_data.tbl_sites (name) SELECT 'legacy ' || g FROM generate_series(1, 5) g;
CREATE TABLE upg_data.tbl_samples (sample_id integer PRIMARY KEY, label text);
INSERT INTO upg_data.tbl_samples VALUES (100, 'legacy');
SELECT * FROM idgraph.register_target('upg_data.tbl_sites', 'site_id');
SELECT * FROM idgraph.register_target('upg_data.tbl_samples', 'sample_id');

-- A committed submission: singles and a batch, uuids and natural keys, content hashes.
SELECT idgraph.create_submission('upg-committed', 'arbodat', 'sites', 'carried across') AS s1 \gset
SELECT * FROM idgraph.allocate(:'s1', 'upg_data.tbl_sites', 'site_id', '{A3E4F567-E89B-12D3-A456-426614174001}', 'uuid', 'h1');
SELECT * FROM idgraph.allocate(:'s1', 'upg_data.tbl_sites', 'site_id', 'SITE-NK-1', 'natural_key');
SELECT count(*) FROM idgraph.allocate_batch(:'s1', 'upg_data.tbl_samples', 'sample_id',
  ARRAY(SELECT 'S-' || g FROM generate_series(1, 300) g), 'natural_key',
  ARRAY(SELECT md5(g::text) FROM generate_series(1, 300) g));
SELECT * FROM idgraph.commit_submission(:'s1');

-- A rolled-back submission, and an id of it that came back in a later one.
SELECT idgraph.create_submission('upg-rolled-back', 'arbodat', 'samples') AS s2 \gset
SELECT count(*) FROM idgraph.allocate_batch(:'s2', 'upg_data.tbl_samples', 'sample_id',
  ARRAY(SELECT 'R-' || g FROM generate_series(1, 50) g), 'natural_key');
SELECT * FROM idgraph.rollback_submission(:'s2', 'bad input file');

-- Shared ids: A allocates, B uses the same ids while A is pending; A rolls back, the
-- rows pass to B (pending). C stays pending with ids of its own.
SELECT idgraph.create_submission('upg-shared-a', 'dendro', 'samples') AS sa \gset
SELECT idgraph.create_submission('upg-shared-b', 'dendro', 'samples') AS sb \gset
SELECT count(*) FROM idgraph.allocate_batch(:'sa', 'upg_data.tbl_samples', 'sample_id',
  ARRAY(SELECT 'SH-' || g FROM generate_series(1, 20) g), 'natural_key');
SELECT count(*) FROM idgraph.allocate_batch(:'sb', 'upg_data.tbl_samples', 'sample_id',
  ARRAY(SELECT 'SH-' || g FROM generate_series(11, 30) g), 'natural_key');
SELECT * FROM idgraph.rollback_submission(:'sa', 'superseded by b');
SELECT idgraph.create_submission('upg-pending', 'sead', 'sites', NULL, 'pipeline-7') AS sc \gset
SELECT * FROM idgraph.allocate(:'sc', 'upg_data.tbl_sites', 'site_id', 'b3e4f567-e89b-12d3-a456-426614174002');
SELECT * FROM idgraph.allocate(:'sc', 'upg_data.tbl_samples', 'sample_id', 'R-7', 'natural_key');
-- The compatibility layer writes through the same tables.
SELECT sead_utility.allocate_identity(gen_random_uuid(), 'upg-sead-compat', 'upg_data.tbl_sites', 'site_id',
  'c3e4f567-e89b-12d3-a456-426614174003', 'uuid');

SELECT idgraph.seal_audit();
-- Rows after the last seal too.
SELECT * FROM idgraph.allocate(:'sc', 'upg_data.tbl_sites', 'site_id', 'd3e4f567-e89b-12d3-a456-426614174004');

-- The dependency graph: two sources, a redundancy group, an external, a cycle.
SELECT idgraph.ingest_graph('{"source": "otel_service_graph", "timestamp": "2026-11-24T10:00:00Z",
  "nodes": [{"service_id": "gateway", "metadata": {"team": "edge", "criticality": "critical"}},
            {"service_id": "checkout", "metadata": {"team": "payments"}},
            {"service_id": "stripe", "kind": "external", "published_sla": 0.9999},
            {"service_id": "adyen", "kind": "external", "published_sla": 0.999},
            {"service_id": "cart", "availability": 0.9995}, {"service_id": "pricing"}],
  "edges": [{"source": "gateway", "target": "checkout", "attributes": {"communication_mode": "sync", "criticality": "hard"}},
            {"source": "checkout", "target": "stripe", "attributes": {"criticality": "hard", "redundancy_group": "psp"}},
            {"source": "checkout", "target": "adyen", "attributes": {"criticality": "hard", "redundancy_group": "psp"}},
            {"source": "checkout", "target": "cart", "attributes": {"criticality": "hard", "timeout_ms": 300}},
            {"source": "cart", "target": "pricing", "attributes": {"criticality": "soft"}},
            {"source": "pricing", "target": "cart"},
            {"source": "checkout", "target": "ledger", "attributes": {"communication_mode": "async"}}]}');
SELECT idgraph.ingest_graph('{"source": "kubernetes", "timestamp": "2026-11-24T11:00:00Z",
  "edges": [{"source": "gateway", "target": "checkout", "attributes": {"criticality": "soft"}},
            {"source": "a", "target": "b"}, {"source": "b", "target": "c"}, {"source": "c", "target": "a"}]}');
SELECT idgraph.set_availability('checkout', 0.9993);
SELECT idgraph.set_availability('gateway', 0.9999);
SELECT idgraph.set_published_sla('stripe', 0.99995);
SELECT idgraph.set_slo('gateway', 0.999, 250, 800, 'launch target');
SELECT idgraph.set_slo('gateway', 0.9995, 200, 700, 'tightened');
SELECT idgraph.set_slo('checkout', 0.999);
SELECT idgraph.acknowledge_cycle(min(alert_id), 'sre-on-call') FROM idgraph.circular_dependency_alerts;
SELECT idgraph.refresh_centrality();
-- A topology change after the refresh leaves betweenness stale in some rows.
SELECT idgraph.ingest_graph('{"source": "manual", "edges": [{"source": "gateway", "target": "search"}]}');

-- API keys as the facade stores them (the hash is opaque to the database).
SELECT * FROM idgraph.api_key_create('00000000000a0001', 'portal', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g',
  ARRAY['identity:read', 'graph:read'], 'payments');
SELECT * FROM idgraph.api_key_create('00000000000a0002', 'sre', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g',
  ARRAY['graph:write'], NULL, now() + interval '30 days');
SELECT idgraph.api_key_revoke('00000000000a0002');
