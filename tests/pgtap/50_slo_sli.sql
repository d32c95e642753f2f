-- SLI history (issue 8, TRD FR-6): idgraph.record_sli validates the whole document
-- (every offending element named by path, 22023, nothing written), upserts per
-- (service, window, start) with the later write winning, and idgraph.apply_sli_retention
-- keeps 1h windows 90 days and 1d windows a year.
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(27);

DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
SELECT idgraph.ingest_graph('{"source": "manual", "nodes": [{"service_id": "sli-a"}, {"service_id": "sli-b"}]}');

-- The hour that started last (aligned in UTC whatever the session's time zone).
CREATE TEMP TABLE t AS SELECT to_timestamp(floor(extract(epoch FROM now()) / 3600) * 3600) - interval '1 hour' AS h;
CREATE FUNCTION pg_temp.ts(p timestamptz) RETURNS text LANGUAGE sql AS
  $$ SELECT to_char(p AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;
CREATE TEMP TABLE s (step text PRIMARY KEY, r jsonb);

INSERT INTO s SELECT 'first', idgraph.record_sli(jsonb_build_object('source', 'prometheus', 'windows', jsonb_build_array(
  jsonb_build_object('service_id', 'sli-a', 'window', '1h', 'start', pg_temp.ts(h), 'good_events', 999, 'total_events', 1000,
                     'latency_p50_ms', 10, 'latency_p95_ms', 40, 'latency_p99_ms', 90),
  jsonb_build_object('service_id', 'sli-a', 'window', '1h', 'start', pg_temp.ts(h - interval '1 hour'), 'good_events', 1000, 'total_events', 1000),
  jsonb_build_object('service_id', 'sli-b', 'window', '1d', 'start', pg_temp.ts(date_trunc('day', h AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 day'),
                     'latency_p99_ms', 120)))) FROM t;
SELECT is((SELECT r FROM s WHERE step = 'first'),
          '{"received": 3, "services": 2, "inserted": 3, "updated": 0, "unchanged": 0}', 'three windows inserted');
SELECT is((SELECT count(*)::int FROM idgraph.sli_aggregates), 3, 'three rows');
SELECT is((SELECT (good_events, total_events, latency_p99_ms)::text FROM idgraph.sli_aggregates a
             JOIN idgraph.services v USING (service_pk), t WHERE v.service_id = 'sli-a' AND window_start = t.h),
          '(999,1000,90)', 'values stored');

-- The same window again: one row, the later write wins; a repeat changes nothing.
INSERT INTO s SELECT 'again', idgraph.record_sli(jsonb_build_object('windows', jsonb_build_array(
  jsonb_build_object('service_id', 'sli-a', 'window', '1h', 'start', pg_temp.ts(h), 'good_events', 990, 'total_events', 1000),
  jsonb_build_object('service_id', 'sli-a', 'window', '1h', 'start', pg_temp.ts(h), 'good_events', 995, 'total_events', 1000),
  jsonb_build_object('service_id', 'sli-a', 'window', '1h', 'start', pg_temp.ts(h - interval '1 hour'), 'good_events', 1000, 'total_events', 1000)))) FROM t;
SELECT is((SELECT r->>'updated' FROM s WHERE step = 'again'), '1', 'a rewritten window is updated');
SELECT is((SELECT r->>'unchanged' FROM s WHERE step = 'again'), '2', 'the duplicate and the identical window count as unchanged');
SELECT is((SELECT r->>'inserted' FROM s WHERE step = 'again'), '0', 'nothing inserted');
SELECT is((SELECT count(*)::int FROM idgraph.sli_aggregates a JOIN idgraph.services v USING (service_pk), t
            WHERE v.service_id = 'sli-a' AND window_start = t.h), 1, 'the same window twice is one row');
SELECT is((SELECT good_events FROM idgraph.sli_aggregates a JOIN idgraph.services v USING (service_pk), t
            WHERE v.service_id = 'sli-a' AND window_start = t.h), 995::bigint, 'the later occurrence wins');
SELECT is((SELECT latency_p99_ms FROM idgraph.sli_aggregates a JOIN idgraph.services v USING (service_pk), t
            WHERE v.service_id = 'sli-a' AND window_start = t.h), NULL::float8, 'a rewrite replaces the whole window');
SELECT is(idgraph.record_sli('{"windows": []}'), '{"received": 0, "services": 0, "inserted": 0, "updated": 0, "unchanged": 0}',
          'an empty document writes nothing');

-- Errors: 22023, every element named, nothing written.
SELECT throws_ok($$SELECT idgraph.record_sli('[]')$$, '22023', 'invalid SLI document (1 problem): $: must be an object, got an array',
                 'a non-object document');
SELECT throws_ok($$SELECT idgraph.record_sli('{}')$$, '22023', 'invalid SLI document (1 problem): windows: is required (an array of windows)',
                 'windows are required');
SELECT throws_like($$SELECT idgraph.record_sli('{"windows": [{"service_id": "sli-a", "window": "5m", "start": "2026-01-01T00:00:00Z", "total_events": 1, "good_events": 2}]}')$$,
                   'invalid SLI document (2 problems): windows[0].window: %', 'bad window size and good > total');
CREATE TEMP TABLE e (detail text, msg text);
DO $$
DECLARE d text; m text;
BEGIN
  PERFORM idgraph.record_sli(jsonb_build_object('windows', jsonb_build_array(
    jsonb_build_object('service_id', 'sli-a', 'window', '1h', 'start', '2026-01-01T00:30:00Z', 'good_events', 1, 'total_events', 1),
    jsonb_build_object('service_id', 'sli-a', 'window', '1h', 'start', '2026-01-01T00:00:00Z', 'good_events', 1, 'total_events', 1),
    jsonb_build_object('service_id', 'nope', 'window', '1h', 'start', '2026-01-01T01:00:00Z', 'good_events', 1, 'total_events', 1),
    jsonb_build_object('service_id', 'sli-b', 'window', '1d', 'start', '2099-01-01T00:00:00Z', 'latency_p99_ms', 5),
    jsonb_build_object('service_id', 'sli-b', 'window', '1h', 'start', 'soon', 'latency_p95_ms', 9, 'latency_p99_ms', 5),
    jsonb_build_object('service_id', 'sli-b', 'window', '1h', 'start', '2026-01-01T00:00:00Z', 'colour', 'red', 'total_events', 1, 'good_events', 1),
    jsonb_build_object('service_id', 'sli-b', 'window', '1h', 'start', '2026-01-01T02:00:00Z'))));
EXCEPTION WHEN invalid_parameter_value THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, m = MESSAGE_TEXT;
  INSERT INTO e VALUES (d, m);
END
$$;
SELECT is((SELECT msg FROM e), 'invalid SLI document (6 problems): windows[0].start: a 1h window must start on the hour (UTC)',
          'the first problem in the message, the count of all');
SELECT matches((SELECT detail FROM e), 'windows\[3\]\.start: is in the future', 'a future window is named');
SELECT matches((SELECT detail FROM e), 'windows\[4\]\.start: must be an RFC 3339 timestamp', 'a bad timestamp is named');
SELECT matches((SELECT detail FROM e), 'windows\[4\]: latency percentiles must not decrease', 'decreasing percentiles are named');
SELECT matches((SELECT detail FROM e), 'windows\[5\]\.colour: unknown field', 'an unknown field is named');
SELECT matches((SELECT detail FROM e), 'windows\[6\]: carries no measurement', 'a window without measurement is named');
-- Unknown services are checked once the rest is valid, by path too.
SELECT throws_ok($$SELECT idgraph.record_sli('{"windows": [
  {"service_id": "sli-a", "window": "1h", "start": "2026-01-01T00:00:00Z", "good_events": 1, "total_events": 1},
  {"service_id": "ghost", "window": "1h", "start": "2026-01-01T00:00:00Z", "good_events": 1, "total_events": 1}]}')$$,
  '22023', 'invalid SLI document (1 problem): windows[1].service_id: service ''ghost'' does not exist', 'an unknown service is named');
SELECT is((SELECT count(*)::int FROM idgraph.sli_aggregates a WHERE a.window_start = '2026-01-01T00:00:00Z'), 0,
          'nothing of a refused document was written');
SELECT is(idgraph.record_sli(NULL), NULL, 'record_sli is STRICT: a NULL document writes nothing');

-- Retention: 1h windows 90 days, 1d windows a year.
SELECT idgraph.record_sli(jsonb_build_object('windows', jsonb_build_array(
  jsonb_build_object('service_id', 'sli-a', 'window', '1h', 'start', pg_temp.ts(h - interval '91 days'), 'good_events', 1, 'total_events', 1),
  jsonb_build_object('service_id', 'sli-a', 'window', '1h', 'start', pg_temp.ts(h - interval '89 days'), 'good_events', 1, 'total_events', 1),
  jsonb_build_object('service_id', 'sli-a', 'window', '1d', 'start', pg_temp.ts(date_trunc('day', h AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '370 days'), 'good_events', 1, 'total_events', 1),
  jsonb_build_object('service_id', 'sli-a', 'window', '1d', 'start', pg_temp.ts(date_trunc('day', h AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '100 days'), 'good_events', 1, 'total_events', 1)))) FROM t;
SELECT is((SELECT count(*)::int FROM idgraph.sli_aggregates), 7, 'seven windows before retention');
SELECT is(idgraph.apply_sli_retention() - 'expired_recommendations' - 'purged_recommendations',
          '{"deleted_1h_windows": 1, "deleted_1d_windows": 1}', 'one 1h window past 90 days and one 1d window past a year deleted');
SELECT is((SELECT count(*)::int FROM idgraph.sli_aggregates), 5, 'the rest kept');
SELECT is((SELECT count(*)::int FROM idgraph.sli_aggregates a, t WHERE a.window_size = '1h' AND a.window_start < t.h - interval '90 days'), 0,
          'no 1h window older than 90 days');
-- The table refuses misaligned windows even without the function.
SELECT throws_ok($$INSERT INTO idgraph.sli_aggregates (service_pk, window_size, window_start, good_events, total_events)
                   SELECT service_pk, '1h', '2026-01-01T00:10:00Z', 1, 1 FROM idgraph.services WHERE service_id = 'sli-a'$$,
                 '23514', NULL, 'a misaligned window violates the table check');
SELECT * FROM finish();
ROLLBACK;
