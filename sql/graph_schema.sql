-- idgraph: service dependency graph tables (SPEC §2).
--
-- Every change to services or edges bumps idgraph.graph_state.version in the same
-- transaction (statement triggers). Backends cache the graph keyed by (version, xmin of
-- the graph_state row): a change committed by another session is seen by the next call,
-- and a rolled-back change can never be mistaken for a later committed one.

CREATE TABLE idgraph.graph_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    bigint NOT NULL DEFAULT 0,
    -- bumped only when the topology changes (edges, services added or removed): what
    -- centrality depends on.
    topology_version bigint NOT NULL DEFAULT 0,
    changed_at timestamptz NOT NULL DEFAULT now(),
    -- idgraph.graph_changes holds every change of the versions above this one: a cache
    -- built at version >= log_floor can catch up from the log instead of reloading.
    log_floor  bigint NOT NULL DEFAULT 0,
    -- A random number drawn at every bump: with version and xmin it names one state of
    -- one history (a cache file copied to a server whose history forked, by a failover or
    -- a restore, cannot pass for a state of this one).
    tag        bigint NOT NULL DEFAULT 0
);
INSERT INTO idgraph.graph_state DEFAULT VALUES;
COMMENT ON TABLE idgraph.graph_state IS 'The graph version, bumped by every change to services or edges.';

-- What each version changed, as the graph cache sees it (pg_ext/src/graph_cache.rs): the
-- services whose id, kind, availability or SLA changed ('s', a = service_pk), the pairs
-- whose observations changed ('e', a = source_pk, b = target_pk), and that SLO targets
-- changed ('o'), and one 'v' per version (a = its tag: the version is in this history).
-- A backend holding version V reads the rows of versions > V and re-reads only those
-- services and pairs. Written by the version triggers below; pruned to the last
-- idgraph._graph_log_keep() versions (log_floor moves up with it).
CREATE TABLE idgraph.graph_changes (
    version bigint NOT NULL,
    kind    "char" NOT NULL CHECK (kind IN ('s', 'e', 'o', 'v')),
    a       bigint,
    b       bigint
);
CREATE INDEX graph_changes_version_idx ON idgraph.graph_changes (version);
COMMENT ON TABLE idgraph.graph_changes IS
  'Change log of the graph per version, for backends catching their cached graph up (not dumped: a restored database starts without it).';

CREATE TABLE idgraph.services (
    service_pk     serial PRIMARY KEY,
    service_id     text NOT NULL UNIQUE CHECK (length(service_id) BETWEEN 1 AND 255),
    metadata       jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    team           text,
    criticality    text CHECK (criticality IN ('critical', 'high', 'medium', 'low')),
    kind           text NOT NULL DEFAULT 'internal' CHECK (kind IN ('internal', 'external')),
    availability   float8 CHECK (availability >= 0 AND availability <= 1),
    published_sla  float8 CHECK (published_sla >= 0 AND published_sla <= 1),
    discovered     boolean NOT NULL DEFAULT false,   -- a placeholder created by an edge to an unknown service
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 50);  -- room for HOT updates: a re-ingest rewrites every observation time
COMMENT ON TABLE idgraph.services IS 'Services of the dependency graph; discovered = placeholder created by an edge.';

CREATE TABLE idgraph.edges (
    edge_pk           bigserial PRIMARY KEY,
    -- References idgraph.services (service_pk), checked per statement by triggers below
    -- rather than by foreign keys: row-by-row RI checks were a third of a bulk ingest.
    source_pk         integer NOT NULL,
    target_pk         integer NOT NULL,
    discovery_source  text NOT NULL CHECK (discovery_source IN ('manual', 'service_mesh', 'otel_service_graph', 'kubernetes')),
    communication_mode text NOT NULL DEFAULT 'sync' CHECK (communication_mode IN ('sync', 'async')),
    criticality       text NOT NULL DEFAULT 'hard' CHECK (criticality IN ('hard', 'soft', 'degraded')),
    protocol          text,
    timeout_ms        integer CHECK (timeout_ms >= 0),
    retry_config      jsonb,
    redundancy_group  text,
    confidence        float8 CHECK (confidence >= 0 AND confidence <= 1),
    first_observed_at timestamptz NOT NULL DEFAULT now(),
    last_observed_at  timestamptz NOT NULL DEFAULT now(),
    stale             boolean NOT NULL DEFAULT false,
    UNIQUE (source_pk, target_pk, discovery_source)
) WITH (fillfactor = 50);  -- room for HOT updates: a re-ingest rewrites every observation time
CREATE INDEX edges_target_idx ON idgraph.edges (target_pk);
COMMENT ON TABLE idgraph.edges IS
  'Observed dependencies, one row per (source, target, discovery_source); stale edges are kept and skipped unless asked for.';

-- Priority of discovery sources when they disagree about a pair: lower wins.
CREATE FUNCTION idgraph.discovery_priority(p_source text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE p_source WHEN 'manual' THEN 1 WHEN 'service_mesh' THEN 2
                           WHEN 'otel_service_graph' THEN 3 WHEN 'kubernetes' THEN 4 END $$;
COMMENT ON FUNCTION idgraph.discovery_priority(text) IS
  'manual (1) > service_mesh (2) > otel_service_graph (3) > kubernetes (4). Example: SELECT idgraph.discovery_priority(''manual'');';

-- The effective edge of each (source, target) pair: the highest-priority source's row.
CREATE VIEW idgraph.effective_edges AS
SELECT DISTINCT ON (e.source_pk, e.target_pk)
       e.edge_pk, e.source_pk, e.target_pk, s.service_id AS source_id, t.service_id AS target_id,
       e.discovery_source, e.communication_mode, e.criticality, e.protocol, e.timeout_ms,
       e.redundancy_group, e.confidence, e.last_observed_at, e.stale
  FROM idgraph.edges e
  JOIN idgraph.services s ON s.service_pk = e.source_pk
  JOIN idgraph.services t ON t.service_pk = e.target_pk
 ORDER BY e.source_pk, e.target_pk, e.stale, idgraph.discovery_priority(e.discovery_source);
COMMENT ON VIEW idgraph.effective_edges IS
  'One row per (source, target): the non-stale row of the highest-priority discovery source (stale rows only when no fresh one exists).';

CREATE TABLE idgraph.circular_dependency_alerts (
    alert_id      bigserial PRIMARY KEY,
    members       text[] NOT NULL,            -- sorted service ids of the SCC
    members_digest text NOT NULL,             -- md5 of the members as JSON: the key (an SCC can be too big for a btree key)
    cycle_path    text[] NOT NULL,            -- a closed walk through the members
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
    detected_at   timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at   timestamptz,
    graph_version bigint NOT NULL,
    acknowledged_by_claim text                -- acknowledge_cycle(p_by) when it names someone else
);
CREATE UNIQUE INDEX circular_dependency_alerts_open_idx
    ON idgraph.circular_dependency_alerts (members_digest) WHERE status <> 'resolved';
COMMENT ON TABLE idgraph.circular_dependency_alerts IS
  'Strongly connected components of 2+ services (or self loops) found after ingest: open -> acknowledged -> resolved.';

CREATE TABLE idgraph.slos (
    service_pk          integer PRIMARY KEY REFERENCES idgraph.services (service_pk) ON DELETE CASCADE,
    availability_target float8 NOT NULL CHECK (availability_target > 0 AND availability_target < 1),
    latency_p95_ms      float8 CHECK (latency_p95_ms > 0),
    latency_p99_ms      float8 CHECK (latency_p99_ms > 0),
    set_by              text NOT NULL,
    rationale           text,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE idgraph.slos IS 'The active SLO of each service; history in idgraph.slo_audit_log.';

CREATE TABLE idgraph.slo_audit_log (
    audit_id            bigserial PRIMARY KEY,
    service_id          text NOT NULL,
    action              text NOT NULL CHECK (action IN ('set', 'delete')),
    old_value           jsonb,
    new_value           jsonb,
    actor               text NOT NULL,
    db_user             text NOT NULL DEFAULT session_user,
    rationale           text,
    logged_at           timestamptz NOT NULL DEFAULT now(),
    actor_claim         text                  -- set_slo(p_actor) when it names someone else
);
CREATE INDEX slo_audit_log_service_idx ON idgraph.slo_audit_log (service_id, audit_id);
COMMENT ON TABLE idgraph.slo_audit_log IS 'Append-only history of SLO changes (UPDATE/DELETE/TRUNCATE refused).';
CREATE TRIGGER slo_audit_log_append_only BEFORE UPDATE OR DELETE ON idgraph.slo_audit_log
  FOR EACH ROW EXECUTE FUNCTION idgraph._append_only();
CREATE TRIGGER slo_audit_log_no_truncate BEFORE TRUNCATE ON idgraph.slo_audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._append_only();

-- How many versions idgraph.graph_changes keeps. A backend whose cached graph is older
-- reloads it whole.
CREATE FUNCTION idgraph._graph_log_keep() RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 1024::bigint $$;

-- Bumps the version (and the topology version when p_topology), prunes the
-- change log every _graph_log_keep() versions; returns the new version.
CREATE FUNCTION idgraph._graph_bump(p_topology boolean, p_reset_log boolean) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v bigint;
  v_keep bigint := idgraph._graph_log_keep();
  v_tag bigint := (random() * 9.2e18)::bigint;
BEGIN
  UPDATE idgraph.graph_state
     SET version = version + 1,
         topology_version = topology_version + CASE WHEN p_topology THEN 1 ELSE 0 END,
         changed_at = now(),
         log_floor = CASE WHEN p_reset_log THEN version + 1 ELSE log_floor END,
         tag = v_tag
  RETURNING version INTO v;
  INSERT INTO idgraph.graph_changes (version, kind, a) VALUES (v, 'v', v_tag);
  IF v % v_keep = 0 THEN
    DELETE FROM idgraph.graph_changes WHERE version <= v - v_keep;
    UPDATE idgraph.graph_state SET log_floor = greatest(log_floor, v - v_keep);
  END IF;
  RETURN v;
END
$$;

-- TRUNCATE of services or edges (nothing to log row by row: caches reload) and any
-- change of SLOs (logged as one 'o': caches re-read the targets).
CREATE FUNCTION idgraph._bump_graph_version() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v bigint;
BEGIN
  v := idgraph._graph_bump(TG_ARGV[0] IS NOT DISTINCT FROM 'topology',
                           TG_OP = 'TRUNCATE' AND TG_TABLE_NAME <> 'slos');
  IF TG_TABLE_NAME = 'slos' THEN
    INSERT INTO idgraph.graph_changes (version, kind) VALUES (v, 'o');
  END IF;
  RETURN NULL;
END
$$;
-- The same for services and edges, but only when the statement touched a row: an ingest
-- that inserts no new service must not look like a topology change (statement triggers
-- fire for zero rows). Transition tables allow one event per trigger, hence one trigger
-- per event. Logs what the graph cache must re-read: an update only when a column the
-- cache holds changed (a re-ingest that only moves observation times logs nothing).
CREATE FUNCTION idgraph._bump_graph_version_if_rows() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF NOT EXISTS (SELECT 1 FROM old_rows) THEN RETURN NULL; END IF;
  ELSIF NOT EXISTS (SELECT 1 FROM new_rows) THEN
    RETURN NULL;
  END IF;
  v := idgraph._graph_bump(TG_ARGV[0] IS NOT DISTINCT FROM 'topology', false);
  IF TG_TABLE_NAME = 'services' THEN
    IF TG_OP = 'INSERT' THEN
      INSERT INTO idgraph.graph_changes (version, kind, a) SELECT v, 's', n.service_pk FROM new_rows n;
    ELSIF TG_OP = 'DELETE' THEN
      INSERT INTO idgraph.graph_changes (version, kind, a) SELECT v, 's', o.service_pk FROM old_rows o;
    ELSE
      INSERT INTO idgraph.graph_changes (version, kind, a)
      SELECT v, 's', n.service_pk
        FROM new_rows n JOIN old_rows o USING (service_pk)
       WHERE (n.service_id, n.kind, n.availability, n.published_sla)
             IS DISTINCT FROM (o.service_id, o.kind, o.availability, o.published_sla);
    END IF;
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO idgraph.graph_changes (version, kind, a, b)
    SELECT DISTINCT v, 'e', n.source_pk, n.target_pk FROM new_rows n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO idgraph.graph_changes (version, kind, a, b)
    SELECT DISTINCT v, 'e', o.source_pk, o.target_pk FROM old_rows o;
  ELSE
    INSERT INTO idgraph.graph_changes (version, kind, a, b)
    SELECT DISTINCT v, 'e', x.s, x.t
      FROM new_rows n JOIN old_rows o USING (edge_pk),
           LATERAL (VALUES (n.source_pk, n.target_pk), (o.source_pk, o.target_pk)) x(s, t)
     WHERE (n.source_pk, n.target_pk, n.discovery_source, n.communication_mode, n.criticality,
            n.redundancy_group, n.stale)
           IS DISTINCT FROM
           (o.source_pk, o.target_pk, o.discovery_source, o.communication_mode, o.criticality,
            o.redundancy_group, o.stale);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER services_bump_version AFTER UPDATE ON idgraph.services REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._bump_graph_version_if_rows();
CREATE TRIGGER services_bump_topology_insert AFTER INSERT ON idgraph.services REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._bump_graph_version_if_rows('topology');
CREATE TRIGGER services_bump_topology_delete AFTER DELETE ON idgraph.services REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._bump_graph_version_if_rows('topology');
CREATE TRIGGER services_bump_topology_truncate AFTER TRUNCATE ON idgraph.services
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._bump_graph_version('topology');
CREATE TRIGGER edges_bump_version_insert AFTER INSERT ON idgraph.edges REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._bump_graph_version_if_rows('topology');
CREATE TRIGGER edges_bump_version_delete AFTER DELETE ON idgraph.edges REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._bump_graph_version_if_rows('topology');
CREATE TRIGGER edges_bump_version_truncate AFTER TRUNCATE ON idgraph.edges
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._bump_graph_version('topology');
-- An UPDATE of edges bumps the topology version only when an endpoint or the staleness
-- changed; idgraph._centrality_edges_changed (centrality.sql) decides and bumps it.
CREATE TRIGGER edges_bump_version_update AFTER UPDATE ON idgraph.edges REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._bump_graph_version_if_rows();
CREATE TRIGGER slos_bump_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON idgraph.slos
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._bump_graph_version();

-- Referential integrity of edges, set-based: one anti-join per statement instead of two
-- RI lookups per row. Graph writers hold the graph_state lock (idgraph._graph_write_lock),
-- and deleting services bumps it too, so a check cannot race a concurrent delete through
-- the functions.
CREATE FUNCTION idgraph._edges_check_endpoints() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_source integer;
  v_target integer;
BEGIN
  SELECT n.source_pk, n.target_pk INTO v_source, v_target
    FROM new_rows n
   WHERE NOT EXISTS (SELECT 1 FROM idgraph.services s WHERE s.service_pk = n.source_pk)
      OR NOT EXISTS (SELECT 1 FROM idgraph.services s WHERE s.service_pk = n.target_pk)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'edge (%, %) refers to a service that does not exist', v_source, v_target
      USING ERRCODE = '23503', TABLE = 'edges', SCHEMA = 'idgraph';
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER edges_check_endpoints_insert AFTER INSERT ON idgraph.edges REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._edges_check_endpoints();
CREATE TRIGGER edges_check_endpoints_update AFTER UPDATE ON idgraph.edges REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._edges_check_endpoints();

-- Deleting services deletes their edges (what ON DELETE CASCADE did), also set-based.
CREATE FUNCTION idgraph._services_delete_edges() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM idgraph.edges;
    RETURN NULL;
  END IF;
  DELETE FROM idgraph.edges e USING old_rows o WHERE e.source_pk = o.service_pk;
  DELETE FROM idgraph.edges e USING old_rows o WHERE e.target_pk = o.service_pk;
  RETURN NULL;
END
$$;
CREATE TRIGGER services_delete_edges AFTER DELETE ON idgraph.services REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._services_delete_edges();
CREATE TRIGGER services_truncate_edges AFTER TRUNCATE ON idgraph.services
  FOR EACH STATEMENT EXECUTE FUNCTION idgraph._services_delete_edges();

SELECT pg_catalog.pg_extension_config_dump('idgraph.services', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.services_service_pk_seq', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.edges', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.edges_edge_pk_seq', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.circular_dependency_alerts', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.circular_dependency_alerts_alert_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.slos', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.slo_audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('idgraph.slo_audit_log_audit_id_seq', '');
