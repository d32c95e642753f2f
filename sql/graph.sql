-- idgraph: dependency graph, the SQL half (SPEC §2). The Rust half (pg_ext/src/api/graph.rs)
-- validates documents and runs the graph algorithms of idgraph-core; the statements that
-- write the tables are here.
--
-- SQLSTATEs: 22023 invalid value (document, depth, fraction), 22004 NULL, P0002 unknown
-- service, 54000 document over the size caps.

-- Every function that writes the graph takes this lock first. The version bump at the end
-- of each statement serializes graph writers on the idgraph.graph_state row anyway; taking
-- it up front makes the order "graph_state, then rows" for all of them, so two ingests
-- over overlapping services (or an ingest and a telemetry update) wait instead of
-- deadlocking on rows locked in different orders.
CREATE FUNCTION idgraph._graph_write_lock() RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT FROM idgraph.graph_state FOR NO KEY UPDATE $$;

-- Applies a validated, normalized ingest document (see idgraph.ingest_graph) in a few
-- set-based statements. Partial documents merge: a node field or edge attribute that is
-- absent keeps its current value. Returns the counts and the conflicts between sources.
CREATE FUNCTION idgraph._ingest_apply(p_source text, p_observed_at timestamptz, p_nodes jsonb, p_edges jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_created integer := 0;
  v_updated integer := 0;
  v_placeholders integer := 0;
  v_edges_created integer := 0;
  v_edges_updated integer := 0;
  v_conflicts jsonb;
  -- A document of at most this many nodes plus edges is small: its scratch rows fit a page
  -- or two, so the statistics the scratch tables already have plan it well (nested loops
  -- over the indexes) and re-analyzing them, or truncating them twice (a new file each
  -- time), would cost it more than its writes.
  c_small constant integer := 64;
  v_small boolean := jsonb_array_length(coalesce(p_nodes, '[]')) + jsonb_array_length(coalesce(p_edges, '[]')) <= c_small;
  v_fresh boolean := false;
BEGIN
  PERFORM idgraph._graph_write_lock();
  -- Nodes: last occurrence of a service_id in the document wins.
  -- Scratch tables, made once per session and emptied at every commit (made and dropped
  -- per transaction, they cost a one-edge document more than its writes, and churn the
  -- catalog). IF NOT EXISTS would NOTICE on every later call.
  IF to_regclass('pg_temp.idgraph_ingest_nodes') IS NULL THEN
    CREATE TEMP TABLE idgraph_ingest_nodes (
      service_id text PRIMARY KEY, metadata jsonb, team text, criticality text, kind text,
      availability float8, published_sla float8) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE idgraph_ingest_edges (
      source text, target text, communication_mode text, criticality text, protocol text,
      timeout_ms integer, retry_config jsonb, redundancy_group text, confidence float8,
      source_pk integer, target_pk integer) ON COMMIT DELETE ROWS;
    v_fresh := true;
  END IF;
  -- Empty at the start of every transaction (the commit empties them); only an earlier
  -- small document in this transaction leaves rows (a large one truncates them at its end).
  DELETE FROM idgraph_ingest_nodes;
  DELETE FROM idgraph_ingest_edges;

  INSERT INTO idgraph_ingest_nodes
  SELECT DISTINCT ON (r.service_id) r.service_id, r.metadata, r.team, r.criticality, r.kind, r.availability, r.published_sla
    FROM jsonb_array_elements(coalesce(p_nodes, '[]')) WITH ORDINALITY AS e(v, ord),
         LATERAL jsonb_to_record(e.v) AS r(service_id text, metadata jsonb, team text, criticality text, kind text,
                                           availability float8, published_sla float8)
   ORDER BY r.service_id, e.ord DESC;
  -- Temp tables are never auto-analyzed; without statistics the joins below plan for a
  -- table of several pages and hash-join every service even for one node. Analyzed once
  -- per session, then for every large document (a small one is estimated from the pages
  -- it fills at the density last analyzed).
  IF v_fresh OR NOT v_small THEN
    ANALYZE idgraph_ingest_nodes;
  END IF;

  WITH changed AS (
    SELECT s.service_pk,
           (s.metadata || coalesce(n.metadata, '{}'::jsonb), coalesce(n.team, s.team), coalesce(n.criticality, s.criticality),
            coalesce(n.kind, s.kind), coalesce(n.availability, s.availability), coalesce(n.published_sla, s.published_sla), false)
             IS DISTINCT FROM
           (s.metadata, s.team, s.criticality, s.kind, s.availability, s.published_sla, s.discovered) AS changed
      FROM idgraph.services s JOIN idgraph_ingest_nodes n ON n.service_id = s.service_id
  ), upd AS (
    UPDATE idgraph.services s
       SET metadata = s.metadata || coalesce(n.metadata, '{}'::jsonb),
           team = coalesce(n.team, s.team),
           criticality = coalesce(n.criticality, s.criticality),
           kind = coalesce(n.kind, s.kind),
           availability = coalesce(n.availability, s.availability),
           published_sla = coalesce(n.published_sla, s.published_sla),
           discovered = false,
           updated_at = CASE WHEN c.changed THEN now() ELSE s.updated_at END,
           last_seen_at = greatest(s.last_seen_at, p_observed_at)
      FROM idgraph_ingest_nodes n, changed c
     WHERE n.service_id = s.service_id AND c.service_pk = s.service_pk
       -- Rows with nothing new (not even a later observation) are not rewritten.
       AND (c.changed OR s.last_seen_at < p_observed_at)
    RETURNING c.changed
  )
  SELECT count(*) FILTER (WHERE changed) INTO v_updated FROM upd;

  INSERT INTO idgraph.services (service_id, metadata, team, criticality, kind, availability, published_sla, last_seen_at)
  SELECT n.service_id, coalesce(n.metadata, '{}'::jsonb), n.team, n.criticality, coalesce(n.kind, 'internal'),
         n.availability, n.published_sla, p_observed_at
    FROM idgraph_ingest_nodes n
   WHERE NOT EXISTS (SELECT 1 FROM idgraph.services s WHERE s.service_id = n.service_id)
  ON CONFLICT (service_id) DO NOTHING;
  GET DIAGNOSTICS v_created = ROW_COUNT;

  -- Edges: last occurrence of a (source, target) pair in the document wins.
  -- Endpoints resolve to keys on the way in; only placeholders need a second look.
  INSERT INTO idgraph_ingest_edges (source, target, communication_mode, criticality, protocol, timeout_ms,
                                    retry_config, redundancy_group, confidence, source_pk, target_pk)
  SELECT DISTINCT ON (r.source, r.target) r.source, r.target, r.communication_mode, r.criticality, r.protocol,
         r.timeout_ms, r.retry_config, r.redundancy_group, r.confidence, s.service_pk, t.service_pk
    FROM jsonb_array_elements(coalesce(p_edges, '[]')) WITH ORDINALITY AS e(v, ord)
         CROSS JOIN LATERAL jsonb_to_record(e.v) AS r(source text, target text, communication_mode text, criticality text,
                                           protocol text, timeout_ms integer, retry_config jsonb,
                                           redundancy_group text, confidence float8)
         LEFT JOIN idgraph.services s ON s.service_id = r.source
         LEFT JOIN idgraph.services t ON t.service_id = r.target
   ORDER BY r.source, r.target, e.ord DESC;

  -- Unknown endpoints become placeholders (discovered = true).
  INSERT INTO idgraph.services (service_id, discovered, last_seen_at)
  SELECT DISTINCT x.id, true, p_observed_at
    FROM (SELECT source AS id FROM idgraph_ingest_edges WHERE source_pk IS NULL
          UNION SELECT target FROM idgraph_ingest_edges WHERE target_pk IS NULL) x
   WHERE NOT EXISTS (SELECT 1 FROM idgraph.services s WHERE s.service_id = x.id)
  ON CONFLICT (service_id) DO NOTHING;
  GET DIAGNOSTICS v_placeholders = ROW_COUNT;

  UPDATE idgraph_ingest_edges e
     SET source_pk = coalesce(e.source_pk, (SELECT s.service_pk FROM idgraph.services s WHERE s.service_id = e.source)),
         target_pk = coalesce(e.target_pk, (SELECT t.service_pk FROM idgraph.services t WHERE t.service_id = e.target))
   WHERE e.source_pk IS NULL OR e.target_pk IS NULL;
  IF v_fresh OR NOT v_small THEN
    ANALYZE idgraph_ingest_edges;
  END IF;

  WITH cur AS (
    SELECT d.edge_pk,
           (coalesce(e.communication_mode, d.communication_mode), coalesce(e.criticality, d.criticality),
            coalesce(e.protocol, d.protocol), coalesce(e.timeout_ms, d.timeout_ms), coalesce(e.retry_config, d.retry_config),
            coalesce(e.redundancy_group, d.redundancy_group), coalesce(e.confidence, d.confidence), false)
             IS DISTINCT FROM
           (d.communication_mode, d.criticality, d.protocol, d.timeout_ms, d.retry_config, d.redundancy_group,
            d.confidence, d.stale) AS changed,
           e.communication_mode, e.criticality, e.protocol, e.timeout_ms, e.retry_config, e.redundancy_group, e.confidence
      FROM idgraph_ingest_edges e
      JOIN idgraph.edges d ON d.source_pk = e.source_pk AND d.target_pk = e.target_pk AND d.discovery_source = p_source
  ), upd AS (
    UPDATE idgraph.edges d
       SET communication_mode = coalesce(c.communication_mode, d.communication_mode),
           criticality = coalesce(c.criticality, d.criticality),
           protocol = coalesce(c.protocol, d.protocol),
           timeout_ms = coalesce(c.timeout_ms, d.timeout_ms),
           retry_config = coalesce(c.retry_config, d.retry_config),
           redundancy_group = coalesce(c.redundancy_group, d.redundancy_group),
           confidence = coalesce(c.confidence, d.confidence),
           stale = false,
           last_observed_at = greatest(d.last_observed_at, p_observed_at)
      FROM cur c
     WHERE d.edge_pk = c.edge_pk
       AND (c.changed OR d.last_observed_at < p_observed_at)
    RETURNING c.changed
  )
  SELECT count(*) FILTER (WHERE changed) INTO v_edges_updated FROM upd;

  INSERT INTO idgraph.edges (source_pk, target_pk, discovery_source, communication_mode, criticality, protocol,
                             timeout_ms, retry_config, redundancy_group, confidence, first_observed_at, last_observed_at)
  SELECT e.source_pk, e.target_pk, p_source, coalesce(e.communication_mode, 'sync'), coalesce(e.criticality, 'hard'),
         e.protocol, e.timeout_ms, e.retry_config, e.redundancy_group, coalesce(e.confidence, 1.0), p_observed_at, p_observed_at
    FROM idgraph_ingest_edges e
   WHERE NOT EXISTS (SELECT 1 FROM idgraph.edges d
                      WHERE d.source_pk = e.source_pk AND d.target_pk = e.target_pk AND d.discovery_source = p_source)
  ON CONFLICT (source_pk, target_pk, discovery_source) DO NOTHING;
  GET DIAGNOSTICS v_edges_created = ROW_COUNT;

  -- Other sources that disagree with this one about a pair in the document (none to look
  -- for while every edge comes from this source).
  v_conflicts := '[]'::jsonb;
  IF EXISTS (SELECT 1 FROM idgraph.edges o WHERE o.discovery_source <> p_source) THEN
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'source', c.source, 'target', c.target, 'fields', c.fields,
           'values', jsonb_build_object(p_source, c.mine, c.other_source, c.theirs),
           'effective_source', CASE WHEN idgraph.discovery_priority(p_source) < idgraph.discovery_priority(c.other_source)
                                    THEN p_source ELSE c.other_source END)
           ORDER BY c.source, c.target, c.other_source), '[]'::jsonb)
    INTO v_conflicts
    FROM (
      SELECT e.source, e.target, o.discovery_source AS other_source,
             to_jsonb(array_remove(ARRAY[
               CASE WHEN m.communication_mode <> o.communication_mode THEN 'communication_mode' END,
               CASE WHEN m.criticality <> o.criticality THEN 'criticality' END,
               CASE WHEN m.protocol <> o.protocol THEN 'protocol' END,
               CASE WHEN m.timeout_ms <> o.timeout_ms THEN 'timeout_ms' END,
               CASE WHEN m.redundancy_group <> o.redundancy_group THEN 'redundancy_group' END], NULL)) AS fields,
             jsonb_build_object('communication_mode', m.communication_mode, 'criticality', m.criticality,
                                'protocol', m.protocol, 'timeout_ms', m.timeout_ms, 'redundancy_group', m.redundancy_group) AS mine,
             jsonb_build_object('communication_mode', o.communication_mode, 'criticality', o.criticality,
                                'protocol', o.protocol, 'timeout_ms', o.timeout_ms, 'redundancy_group', o.redundancy_group) AS theirs
        FROM idgraph_ingest_edges e
        JOIN idgraph.edges m ON m.source_pk = e.source_pk AND m.target_pk = e.target_pk AND m.discovery_source = p_source
        JOIN idgraph.edges o ON o.source_pk = e.source_pk AND o.target_pk = e.target_pk
                            AND o.discovery_source <> p_source AND NOT o.stale
    ) c
   WHERE jsonb_array_length(c.fields) > 0;
  END IF;

  -- A large document's rows are not kept until the commit.
  IF NOT v_small THEN
    TRUNCATE idgraph_ingest_nodes, idgraph_ingest_edges;
  END IF;
  RETURN jsonb_build_object(
    'received', jsonb_build_object('nodes', jsonb_array_length(coalesce(p_nodes, '[]')),
                                   'edges', jsonb_array_length(coalesce(p_edges, '[]'))),
    'created', jsonb_build_object('services', v_created, 'edges', v_edges_created),
    'updated', jsonb_build_object('services', v_updated, 'edges', v_edges_updated),
    'placeholders', v_placeholders,
    'conflicts', v_conflicts);
END
$$;
COMMENT ON FUNCTION idgraph._ingest_apply(text, timestamptz, jsonb, jsonb) IS
  'Internal: writes a validated ingest document (called by idgraph.ingest_graph).';

-- Records the current strongly connected components (from the Rust side) as alerts: a new
-- SCC opens an alert, an SCC that is gone resolves its alert. Returns the new ones.
CREATE FUNCTION idgraph._record_cycles(p_cycles jsonb, p_version bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_new jsonb;
BEGIN
  WITH sorted AS (
    SELECT ARRAY(SELECT jsonb_array_elements_text(c -> 'members') ORDER BY 1) AS members,
           ARRAY(SELECT jsonb_array_elements_text(c -> 'path')) AS path
      FROM jsonb_array_elements(coalesce(p_cycles, '[]')) c
  ), cur AS (
    SELECT x.members, x.path, md5(to_jsonb(x.members)::text) AS digest FROM sorted x
  ), resolved AS (
    UPDATE idgraph.circular_dependency_alerts a SET status = 'resolved', resolved_at = now()
     WHERE a.status <> 'resolved' AND NOT EXISTS (SELECT 1 FROM cur WHERE cur.digest = a.members_digest)
    RETURNING a.alert_id
  ), ins AS (
    INSERT INTO idgraph.circular_dependency_alerts (members, members_digest, cycle_path, graph_version)
    SELECT cur.members, cur.digest, cur.path, p_version FROM cur
     WHERE NOT EXISTS (SELECT 1 FROM idgraph.circular_dependency_alerts a
                        WHERE a.members_digest = cur.digest AND a.status <> 'resolved')
    ON CONFLICT DO NOTHING
    RETURNING alert_id, cycle_path
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object('alert_id', ins.alert_id, 'cycle_path', to_jsonb(ins.cycle_path))
                            ORDER BY ins.alert_id), '[]'::jsonb)
    INTO v_new FROM ins;
  RETURN v_new;
END
$$;
COMMENT ON FUNCTION idgraph._record_cycles(jsonb, bigint) IS
  'Internal: opens alerts for new SCCs and resolves alerts whose SCC is gone.';

CREATE FUNCTION idgraph.acknowledge_cycle(p_alert_id bigint, p_by text DEFAULT NULL)
RETURNS idgraph.circular_dependency_alerts
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v idgraph.circular_dependency_alerts;
BEGIN
  IF p_alert_id IS NULL THEN
    RAISE EXCEPTION 'alert id must not be NULL' USING ERRCODE = '22004';
  END IF;
  UPDATE idgraph.circular_dependency_alerts a
     SET status = 'acknowledged', acknowledged_at = now(), acknowledged_by = idgraph._actor(),
         acknowledged_by_claim = NULLIF(p_by, idgraph._actor())
   WHERE a.alert_id = p_alert_id AND a.status = 'open'
  RETURNING a.* INTO v;
  IF NOT FOUND THEN
    IF EXISTS (SELECT 1 FROM idgraph.circular_dependency_alerts a WHERE a.alert_id = p_alert_id) THEN
      RAISE EXCEPTION 'alert % is not open', p_alert_id USING ERRCODE = '55000';
    END IF;
    RAISE EXCEPTION 'alert % does not exist', p_alert_id USING ERRCODE = 'P0002';
  END IF;
  RETURN v;
END
$$;
COMMENT ON FUNCTION idgraph.acknowledge_cycle(bigint, text) IS
  'Acknowledges an open circular-dependency alert. Example: SELECT * FROM idgraph.acknowledge_cycle(1);';

CREATE FUNCTION idgraph._service_pk(p_service text) RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v integer;
BEGIN
  IF p_service IS NULL THEN
    RAISE EXCEPTION 'service must not be NULL' USING ERRCODE = '22004';
  END IF;
  SELECT s.service_pk INTO v FROM idgraph.services s WHERE s.service_id = p_service;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'service % does not exist', quote_literal(left(p_service, 255)) USING ERRCODE = 'P0002';
  END IF;
  RETURN v;
END
$$;

CREATE FUNCTION idgraph._check_fraction(p_value float8, p_what text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_value IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', p_what USING ERRCODE = '22004';
  END IF;
  IF p_value = 'NaN'::float8 OR p_value < 0 OR p_value > 1 THEN
    RAISE EXCEPTION '% must be a fraction between 0 and 1 (e.g. 0.999), got %', p_what, p_value
      USING ERRCODE = '22023';
  END IF;
END
$$;

CREATE FUNCTION idgraph.set_availability(p_service text, p_availability float8) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM idgraph._check_fraction(p_availability, 'availability');
  PERFORM idgraph._graph_write_lock();
  UPDATE idgraph.services s SET availability = p_availability, updated_at = now()
   WHERE s.service_pk = idgraph._service_pk(p_service) AND s.availability IS DISTINCT FROM p_availability;
END
$$;
COMMENT ON FUNCTION idgraph.set_availability(text, float8) IS
  'Sets a service''s observed availability (a fraction). Example: SELECT idgraph.set_availability(''payment-service'', 0.9995);';

CREATE FUNCTION idgraph.set_published_sla(p_service text, p_sla float8) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM idgraph._check_fraction(p_sla, 'published SLA');
  PERFORM idgraph._graph_write_lock();
  UPDATE idgraph.services s SET published_sla = p_sla, updated_at = now()
   WHERE s.service_pk = idgraph._service_pk(p_service) AND s.published_sla IS DISTINCT FROM p_sla;
END
$$;
COMMENT ON FUNCTION idgraph.set_published_sla(text, float8) IS
  'Sets a (typically external) service''s published SLA. Example: SELECT idgraph.set_published_sla(''stripe'', 0.9999);';

CREATE FUNCTION idgraph.mark_stale(p_older_than interval DEFAULT '7 days') RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v integer;
BEGIN
  IF p_older_than IS NULL THEN
    RAISE EXCEPTION 'staleness window must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF p_older_than < interval '0' THEN
    RAISE EXCEPTION 'staleness window must be a non-negative interval' USING ERRCODE = '22023';
  END IF;
  PERFORM idgraph._graph_write_lock();
  UPDATE idgraph.edges e SET stale = true
   WHERE NOT e.stale AND e.last_observed_at < now() - p_older_than;
  GET DIAGNOSTICS v = ROW_COUNT;
  RETURN v;
END
$$;
COMMENT ON FUNCTION idgraph.mark_stale(interval) IS
  'Marks edges not observed within the window stale (kept, skipped by traversal and math unless asked). Example: SELECT idgraph.mark_stale(''7 days'');';

CREATE FUNCTION idgraph.set_slo(p_service text, p_availability_target float8,
                                p_latency_p95_ms float8 DEFAULT NULL, p_latency_p99_ms float8 DEFAULT NULL,
                                p_rationale text DEFAULT NULL, p_actor text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_pk integer := idgraph._service_pk(p_service);
  v_old jsonb;
  v_new jsonb;
  v_actor text := idgraph._actor();   -- who really acted; p_actor is kept as a claim
BEGIN
  PERFORM idgraph._check_fraction(p_availability_target, 'availability target');
  PERFORM idgraph._graph_write_lock();
  IF p_availability_target IN (0, 1) THEN
    RAISE EXCEPTION 'availability target must be strictly between 0 and 1, got %', p_availability_target USING ERRCODE = '22023';
  END IF;
  IF p_latency_p95_ms <= 0 OR p_latency_p99_ms <= 0 OR p_latency_p99_ms < p_latency_p95_ms THEN
    RAISE EXCEPTION 'latency targets must be positive and p99 >= p95' USING ERRCODE = '22023';
  END IF;
  SELECT to_jsonb(s) - 'service_pk' INTO v_old FROM idgraph.slos s WHERE s.service_pk = v_pk FOR UPDATE;
  INSERT INTO idgraph.slos AS s (service_pk, availability_target, latency_p95_ms, latency_p99_ms, set_by, rationale)
  VALUES (v_pk, p_availability_target, p_latency_p95_ms, p_latency_p99_ms, v_actor, p_rationale)
  ON CONFLICT (service_pk) DO UPDATE
     SET availability_target = excluded.availability_target, latency_p95_ms = excluded.latency_p95_ms,
         latency_p99_ms = excluded.latency_p99_ms, set_by = excluded.set_by, rationale = excluded.rationale,
         source = 'manual', recommendation_id = NULL, selected_tier = NULL, activated_at = now(),
         updated_at = now()
  RETURNING to_jsonb(s) - 'service_pk' INTO v_new;
  INSERT INTO idgraph.slo_audit_log (service_id, action, old_value, new_value, actor, rationale, actor_claim)
  VALUES (p_service, 'set', v_old, v_new, v_actor, p_rationale, NULLIF(p_actor, v_actor));
  RETURN jsonb_build_object('service_id', p_service) || v_new;
END
$$;
COMMENT ON FUNCTION idgraph.set_slo(text, float8, float8, float8, text, text) IS
  'Sets a service''s active SLO (availability fraction, optional latency ms) with actor and rationale; history in idgraph.slo_audit_log. Example: SELECT idgraph.set_slo(''checkout'', 0.999, 300, 800, ''Q4 review'');';

CREATE FUNCTION idgraph.slo(p_service text) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object('service_id', p_service,
           'active', (SELECT to_jsonb(s) - 'service_pk' FROM idgraph.slos s WHERE s.service_pk = idgraph._service_pk(p_service)),
           'history', coalesce((SELECT jsonb_agg(to_jsonb(h) - 'service_id' ORDER BY h.audit_id DESC)
                                  FROM idgraph.slo_audit_log h WHERE h.service_id = p_service), '[]'::jsonb))
$$;
COMMENT ON FUNCTION idgraph.slo(text) IS
  'A service''s active SLO (null when none) and its history, newest first. Example: SELECT idgraph.slo(''checkout'');';
