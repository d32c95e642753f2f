-- p_detail of composite_availability and impact_analysis (issue 10): 'summary' (the default)
-- answers the numbers, the top 10 risks and counts; 'full' the whole listing (0.1.0's
-- shape). The summary's numbers are the full answer's, exactly.
BEGIN;
SET LOCAL client_min_messages = warning;  -- ingest's temp tables say NOTICE on every call
SELECT plan(41);

DELETE FROM idgraph.edges;
DELETE FROM idgraph.services;
DELETE FROM idgraph.circular_dependency_alerts;

-- hub -> d01..d15 (d01 weakest: 0.981, ... d15: 0.995), hub -> r1, r2 in group db,
-- hub -> s (soft, excluded), hub -> x1 -> y1 -> x1 (a cycle), hub -> ext (external, published).
-- u01..u12 -> hub: twelve upstream services; u01..u04 have an SLO of 0.999.
SELECT lives_ok($$SELECT idgraph.ingest_graph(jsonb_build_object('source', 'manual',
    'nodes', (SELECT jsonb_agg(jsonb_build_object('service_id', format('d%s', lpad(g::text, 2, '0')), 'availability', 0.980 + g / 1000.0))
                FROM generate_series(1, 15) g)
             || (SELECT jsonb_agg(jsonb_build_object('service_id', format('u%s', lpad(g::text, 2, '0')), 'availability', 0.9999))
                   FROM generate_series(1, 12) g)
             || '[{"service_id": "hub", "availability": 0.9995}, {"service_id": "r1", "availability": 0.9},
                  {"service_id": "r2", "availability": 0.95}, {"service_id": "s", "availability": 0.5},
                  {"service_id": "x1", "availability": 0.97}, {"service_id": "y1", "availability": 0.999},
                  {"service_id": "ext", "kind": "external", "published_sla": 0.9999}]'::jsonb,
    'edges', (SELECT jsonb_agg(jsonb_build_object('source', 'hub', 'target', format('d%s', lpad(g::text, 2, '0'))))
                FROM generate_series(1, 15) g)
             || (SELECT jsonb_agg(jsonb_build_object('source', format('u%s', lpad(g::text, 2, '0')), 'target', 'hub'))
                   FROM generate_series(1, 12) g)
             || '[{"source": "hub", "target": "r1", "attributes": {"redundancy_group": "db"}},
                  {"source": "hub", "target": "r2", "attributes": {"redundancy_group": "db"}},
                  {"source": "hub", "target": "s", "attributes": {"criticality": "soft"}},
                  {"source": "hub", "target": "x1"}, {"source": "x1", "target": "y1"}, {"source": "y1", "target": "x1"},
                  {"source": "hub", "target": "ext"}]'::jsonb))$$, 'ingest the hub and its upstream');
SELECT lives_ok($$SELECT count(idgraph.set_slo(format('u%s', lpad(g::text, 2, '0')), 0.999)) FROM generate_series(1, 4) g$$,
                'SLOs on u01..u04');

CREATE TEMP TABLE cs AS SELECT idgraph.composite_availability('hub', 0.999) AS j;
CREATE TEMP TABLE cf AS SELECT idgraph.composite_availability('hub', 0.999, 'full') AS j;

-- Composite: the default is the summary -----------------------------------------------------
SELECT is(idgraph.composite_availability('hub', 0.999), idgraph.composite_availability('hub', 0.999, 'summary'),
          'composite_availability: the default p_detail is summary');
SELECT is((SELECT array_agg(k ORDER BY k) FROM cs, jsonb_object_keys(j) k),
          ARRAY['bottleneck', 'bottleneck_availability', 'composite_availability', 'confidence', 'counts', 'detail',
                'max_depth', 'self_availability', 'service_id', 'slo_target', 'target', 'top_risks', 'truncated'],
          'summary: the numbers, top_risks and counts, no listing');
SELECT is((SELECT array_agg(k ORDER BY k) FROM cf, jsonb_object_keys(j) k),
          ARRAY['bottleneck', 'bottleneck_availability', 'composite_availability', 'confidence', 'excluded', 'external',
                'hard_dependencies', 'max_depth', 'missing_data', 'redundancy_groups', 'self_availability', 'service_id',
                'slo_target', 'supernodes', 'target', 'truncated'],
          'full: the 0.1.0 keys, exactly');
SELECT is(j ->> 'detail', 'summary', 'summary says so') FROM cs;
SELECT is(j - 'top_risks' - 'counts' - 'detail',
          (SELECT f.j - 'hard_dependencies' - 'redundancy_groups' - 'excluded' - 'external' - 'supernodes' - 'missing_data' FROM cf f),
          'summary: every number equals the full answer''s (composite, self, bottleneck, confidence, truncation, target, SLO)')
  FROM cs;
SELECT is(j -> 'counts',
          (SELECT jsonb_build_object('closure', jsonb_array_length(f.j -> 'hard_dependencies') + 1,
                                     'hard_dependencies', jsonb_array_length(f.j -> 'hard_dependencies'),
                                     'redundancy_groups', jsonb_array_length(f.j -> 'redundancy_groups'),
                                     'supernodes', jsonb_array_length(f.j -> 'supernodes'),
                                     'external', jsonb_array_length(f.j -> 'external'),
                                     'external_high_risk', (SELECT count(*) FROM jsonb_array_elements(f.j -> 'external') e
                                                             WHERE (e ->> 'high_risk')::boolean),
                                     'excluded', jsonb_array_length(f.j -> 'excluded'),
                                     'missing_data', jsonb_array_length(f.j -> 'missing_data')) FROM cf f),
          'summary: the counts are the lengths of the full listings')
  FROM cs;
SELECT is(j -> 'counts', '{"closure": 21, "hard_dependencies": 20, "redundancy_groups": 1, "supernodes": 1, "external": 1,
                          "external_high_risk": 1, "excluded": 1, "missing_data": 0}',
          'summary: 20 dependencies (15 + r1, r2 + x1, y1 + ext), one group, one cycle, one external, one exclusion')
  FROM cs;
SELECT is(jsonb_array_length(j -> 'top_risks'), 10, 'summary: the top 10 risks of 18 factors (15 + the cycle + ext + the group)') FROM cs;
SELECT is((SELECT array_agg(r ->> 'factor' ORDER BY o) FROM cs, jsonb_array_elements(j -> 'top_risks') WITH ORDINALITY t(r, o)),
          ARRAY['x1', 'd01', 'd02', 'd03', 'd04', 'd05', 'd06', 'd07', 'd08', 'd09'],
          'summary: weakest first: the cycle at its weakest member x1 (0.97), then d01 (0.981) ... d09 (0.989)');
SELECT is(j #>> '{top_risks,0,factor}', j ->> 'bottleneck', 'summary: the first risk is the bottleneck') FROM cs;
SELECT is(j #> '{top_risks,1}', '{"factor": "d01", "kind": "dependency", "availability": 0.981, "contribution": 0.019000000000000017}',
          'summary: a risk names its factor, kind, availability and contribution (1 - availability)') FROM cs;
SELECT is((SELECT array_agg(DISTINCT r ->> 'kind' ORDER BY r ->> 'kind') FROM cs, jsonb_array_elements(j -> 'top_risks') r),
          ARRAY['cycle', 'dependency'], 'summary: kinds dependency and cycle among the top 10') FROM cs;
SELECT ok((SELECT bool_and((r ->> 'contribution')::float8 = 1 - (r ->> 'availability')::float8)
             FROM cs, jsonb_array_elements(j -> 'top_risks') r), 'summary: contribution = 1 - availability');
SELECT is(idgraph.composite_availability('d01', NULL, 'summary') -> 'top_risks', '[]', 'a leaf has no risks');
SELECT is(idgraph.composite_availability('d01', NULL, 'full'),
          '{"service_id": "d01", "composite_availability": 0.981, "self_availability": 0.981, "bottleneck": null,
            "bottleneck_availability": null, "hard_dependencies": [], "redundancy_groups": [], "excluded": [], "external": [],
            "supernodes": [], "truncated": false, "max_depth": 10, "confidence": 1.0, "missing_data": [], "target": null,
            "slo_target": null}',
          'full: a leaf''s whole answer, as 0.1.0 gave it');
SELECT is(j -> 'redundancy_groups', '[{"parent": "hub", "group": "db", "members": ["r1", "r2"], "availability": 0.995}]',
          'full: the redundancy group listing, numbers as jsonb_in would parse them') FROM cf;
SELECT is(j::text::jsonb, j, 'the jsonb built directly equals its own text parsed again') FROM cf;
SELECT is(j::text::jsonb, j, 'the summary too') FROM cs;

-- Impact: the default is the summary -----------------------------------------------------------
CREATE TEMP TABLE isum AS SELECT idgraph.impact_analysis('hub', 0.99) AS j;
CREATE TEMP TABLE ifull AS SELECT idgraph.impact_analysis('hub', 0.99, 'full') AS j;
SELECT is(idgraph.impact_analysis('hub', 0.99), idgraph.impact_analysis('hub', 0.99, 'summary'),
          'impact_analysis: the default p_detail is summary');
SELECT is((SELECT array_agg(k ORDER BY k) FROM ifull, jsonb_object_keys(j) k),
          ARRAY['graph_version', 'impacted_services', 'proposed_change', 'service_id', 'summary'], 'full: the 0.1.0 keys');
SELECT is((SELECT array_agg(k ORDER BY k) FROM isum, jsonb_object_keys(j) k),
          ARRAY['detail', 'graph_version', 'impacted_services', 'proposed_change', 'service_id', 'slos_at_risk_services', 'summary'],
          'summary: the same keys, the top at-risk services and detail');
SELECT is(jsonb_array_length(j -> 'impacted_services'), 12, 'full: all 12 upstream services') FROM ifull;
SELECT is(jsonb_array_length(j -> 'impacted_services'), 10, 'summary: the top 10') FROM isum;
SELECT is(j -> 'impacted_services', (SELECT jsonb_agg(r ORDER BY o) FROM ifull f, jsonb_array_elements(f.j -> 'impacted_services')
                                       WITH ORDINALITY t(r, o) WHERE o <= 10),
          'summary: the top 10 are the full listing''s first ten rows, as they are') FROM isum;
SELECT is(j -> 'summary', (SELECT f.j -> 'summary' FROM ifull f), 'summary: the totals equal the full answer''s') FROM isum;
SELECT is(j #> '{summary,total_impacted}', '12', 'summary: total_impacted counts all 12') FROM isum;
SELECT is(j #> '{summary,slos_at_risk}', '4', 'summary: the four SLOs at risk') FROM isum;
SELECT is(j -> 'slos_at_risk_services', (SELECT jsonb_agg(r ORDER BY o) FROM ifull f, jsonb_array_elements(f.j -> 'impacted_services')
                                           WITH ORDINALITY t(r, o) WHERE (r ->> 'slo_at_risk')::boolean),
          'summary: the at-risk rows of the full listing, in its order') FROM isum;
SELECT is(j - 'impacted_services' - 'slos_at_risk_services' - 'detail', (SELECT f.j - 'impacted_services' FROM ifull f),
          'summary: proposed_change, summary and graph_version as in full') FROM isum;

-- Bad values ------------------------------------------------------------------------------------
SELECT throws_ok($$SELECT idgraph.composite_availability('hub', NULL, 'everything')$$, '22023',
                 'detail must be one of ''summary'', ''full'', got ''everything''', 'composite_availability: unknown detail -> 22023 naming the values');
SELECT throws_ok($$SELECT idgraph.impact_analysis('hub', 0.99, 'FULL')$$, '22023',
                 'detail must be one of ''summary'', ''full'', got ''FULL''', 'impact_analysis: unknown detail -> 22023 (case matters)');
SELECT throws_ok($$SELECT idgraph.composite_availability('hub', NULL, NULL)$$, '22004', NULL, 'composite_availability: NULL detail -> 22004');
SELECT throws_ok($$SELECT idgraph.impact_analysis('hub', 0.99, NULL)$$, '22004', NULL, 'impact_analysis: NULL detail -> 22004');
SELECT throws_ok($$SELECT idgraph.impact_analysis(NULL, 0.99)$$, '22004', NULL, 'impact_analysis: NULL service -> 22004');
SELECT throws_ok($$SELECT idgraph.impact_analysis('hub', NULL)$$, '22004', NULL, 'impact_analysis: NULL proposed -> 22004');

-- The role boundary: readers run both, in either detail; a role outside idgraph's does not.
SET LOCAL ROLE idgraph_reader;
SELECT lives_ok($$SELECT idgraph.composite_availability('hub', 0.999, 'full'), idgraph.composite_availability('hub')$$,
                'a reader runs composite_availability');
SELECT lives_ok($$SELECT idgraph.impact_analysis('hub', 0.99, 'full'), idgraph.impact_analysis('hub', 0.99)$$,
                'a reader runs impact_analysis');
RESET ROLE;
CREATE ROLE idg_t47_nobody NOLOGIN;
SET LOCAL ROLE idg_t47_nobody;
SELECT throws_ok($$SELECT idgraph.composite_availability('hub')$$, '42501', NULL, 'a role outside idgraph''s may not run composite_availability');
SELECT throws_ok($$SELECT idgraph.impact_analysis('hub', 0.99, 'full')$$, '42501', NULL, 'nor impact_analysis');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
