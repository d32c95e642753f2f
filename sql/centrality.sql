-- idgraph: centrality (SPEC §3), the SQL half. The algorithms are idgraph-core's; the Rust
-- side (pg_ext/src/api/centrality.rs) computes and writes this table.
--
-- Degree and clustering stay current within the transaction that changes an edge: a
-- statement trigger on idgraph.edges hands the changed pairs to
-- idgraph._centrality_touch, which recomputes only the affected services (the endpoints
-- and their common neighbours). Betweenness is global: it is recomputed by
-- idgraph.refresh_centrality (callable; run by the background worker when idgraph is
-- preloaded) and reports itself stale in between.

CREATE TABLE idgraph.centrality (
    service_pk              integer PRIMARY KEY REFERENCES idgraph.services (service_pk) ON DELETE CASCADE,
    service                 text NOT NULL,
    in_degree               integer NOT NULL DEFAULT 0,
    out_degree              integer NOT NULL DEFAULT 0,
    degree                  integer NOT NULL DEFAULT 0,
    betweenness             float8,
    betweenness_normalized  float8,
    clustering              float8 NOT NULL DEFAULT 0,
    graph_version           bigint NOT NULL,   -- topology version degree and clustering are current for
    betweenness_version     bigint,            -- topology version betweenness was computed at
    betweenness_mode        text,              -- 'exact' or 'sampled:<k>'
    computed_at             timestamptz NOT NULL DEFAULT now(),
    betweenness_computed_at timestamptz
);
CREATE INDEX centrality_betweenness_idx ON idgraph.centrality (betweenness DESC NULLS LAST);
CREATE INDEX centrality_degree_idx ON idgraph.centrality (degree DESC);
CREATE INDEX centrality_clustering_idx ON idgraph.centrality (clustering DESC);
COMMENT ON TABLE idgraph.centrality IS
  'Materialized centrality per service, with the topology version it was computed at (idgraph.graph_state.topology_version).';
SELECT pg_catalog.pg_extension_config_dump('idgraph.centrality', '');

-- The last refresh: the topology version its betweenness is current for. A refresh
-- writes only the rows whose values changed (their betweenness_version says when their
-- value last changed); every other row with a betweenness was confirmed by it, so a row's
-- betweenness is current when this version is the graph's topology_version. Not dumped:
-- after a restore betweenness reads as stale until the next refresh.
CREATE TABLE idgraph.centrality_state (
    singleton               boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    betweenness_version     bigint,       -- topology version of the last refresh
    betweenness_mode        text,         -- its mode: 'exact' or 'sampled:<k>'
    betweenness_computed_at timestamptz,  -- when it ran
    rows_written            integer       -- rows of idgraph.centrality it changed
);
INSERT INTO idgraph.centrality_state DEFAULT VALUES;
COMMENT ON TABLE idgraph.centrality_state IS
  'The last idgraph.refresh_centrality(): topology version, mode, time and rows written (only changed rows are).';

CREATE FUNCTION idgraph._centrality_edges_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_src integer[];
  v_dst integer[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(n.source_pk), array_agg(n.target_pk) INTO v_src, v_dst FROM new_rows n;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(o.source_pk), array_agg(o.target_pk) INTO v_src, v_dst FROM old_rows o;
  ELSE
    -- Only changes that can alter the topology matter: endpoints or staleness. Set
    -- differences, not a join: transition tables have no statistics, and a join planned
    -- for one row each way turns a bulk UPDATE into a quadratic nested loop.
    SELECT array_agg(x.s), array_agg(x.t) INTO v_src, v_dst
      FROM (SELECT c.source_pk AS s, c.target_pk AS t
              FROM (SELECT n.edge_pk, n.source_pk, n.target_pk, n.stale FROM new_rows n
                    EXCEPT
                    SELECT o.edge_pk, o.source_pk, o.target_pk, o.stale FROM old_rows o) c
            UNION
            SELECT c.source_pk, c.target_pk
              FROM (SELECT o.edge_pk, o.source_pk, o.target_pk FROM old_rows o
                    EXCEPT
                    SELECT n.edge_pk, n.source_pk, n.target_pk FROM new_rows n) c) x;
    -- An UPDATE that changed no endpoint and no staleness (a later observation, a new
    -- timeout) leaves the topology as it was: betweenness stays current.
    IF v_src IS NOT NULL THEN
      UPDATE idgraph.graph_state SET topology_version = topology_version + 1;
    END IF;
  END IF;
  IF v_src IS NOT NULL THEN
    PERFORM idgraph._centrality_touch(v_src, v_dst);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER edges_centrality_insert AFTER INSERT ON idgraph.edges
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION idgraph._centrality_edges_changed();
CREATE TRIGGER edges_centrality_update AFTER UPDATE ON idgraph.edges
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION idgraph._centrality_edges_changed();
CREATE TRIGGER edges_centrality_delete AFTER DELETE ON idgraph.edges
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION idgraph._centrality_edges_changed();

CREATE FUNCTION idgraph.centrality_of(p_service text)
RETURNS TABLE (service text, in_degree integer, out_degree integer, degree integer, betweenness float8,
               betweenness_normalized float8, clustering float8, graph_version bigint, computed_at timestamptz,
               betweenness_version bigint, betweenness_computed_at timestamptz, betweenness_stale boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY
    -- A row with a betweenness was written or confirmed by the last refresh: its value is
    -- that refresh's (version, time).
    SELECT c.service, c.in_degree, c.out_degree, c.degree, c.betweenness, c.betweenness_normalized, c.clustering,
           c.graph_version, c.computed_at,
           CASE WHEN c.betweenness IS NOT NULL THEN r.betweenness_version END,
           CASE WHEN c.betweenness IS NOT NULL THEN r.betweenness_computed_at END,
           c.betweenness IS NULL OR r.betweenness_version IS DISTINCT FROM g.topology_version
      FROM idgraph.centrality c, idgraph.graph_state g, idgraph.centrality_state r
     WHERE c.service_pk = idgraph._service_pk(p_service);
  IF NOT FOUND THEN
    -- A known service without a row has no edges yet: all zeros, betweenness unknown.
    RETURN QUERY
      SELECT p_service, 0, 0, 0, NULL::float8, NULL::float8, 0::float8, g.topology_version, now(),
             NULL::bigint, NULL::timestamptz, true
        FROM idgraph.graph_state g;
  END IF;
END
$$;
COMMENT ON FUNCTION idgraph.centrality_of(text) IS
  'Centrality of one service from the materialized table, saying whether its betweenness is stale. Example: SELECT * FROM idgraph.centrality_of(''checkout'');';

CREATE FUNCTION idgraph.centrality_top(p_metric text, p_k integer DEFAULT 10)
RETURNS TABLE (rank bigint, service text, value float8, in_degree integer, out_degree integer, degree integer,
               betweenness float8, betweenness_normalized float8, clustering float8, stale boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_current boolean;
BEGIN
  IF p_metric IS NULL OR p_metric NOT IN ('betweenness', 'betweenness_normalized', 'degree', 'in_degree', 'out_degree', 'clustering') THEN
    RAISE EXCEPTION 'metric must be one of betweenness, betweenness_normalized, degree, in_degree, out_degree, clustering; got %', p_metric
      USING ERRCODE = '22023';
  END IF;
  IF p_k IS NULL OR p_k < 1 OR p_k > 10000 THEN
    RAISE EXCEPTION 'k must be between 1 and 10000, got %', p_k USING ERRCODE = '22023';
  END IF;
  SELECT r.betweenness_version IS NOT DISTINCT FROM g.topology_version INTO v_current
    FROM idgraph.graph_state g, idgraph.centrality_state r;
  -- The metric is whitelisted above; %I quotes it anyway. ORDER BY the bare column so the
  -- per-metric index serves the top-k. Degree and clustering are kept current by the edge
  -- trigger, so only betweenness can be stale.
  RETURN QUERY EXECUTE format(
    'SELECT row_number() OVER (ORDER BY t.%1$I DESC NULLS LAST, t.service), t.service, t.%1$I::float8,
            t.in_degree, t.out_degree, t.degree, t.betweenness, t.betweenness_normalized, t.clustering,
            CASE WHEN %2$L IN (''betweenness'', ''betweenness_normalized'')
                 THEN t.betweenness IS NULL OR NOT $1 ELSE false END
       FROM (SELECT * FROM idgraph.centrality c ORDER BY c.%1$I DESC NULLS LAST LIMIT $2) t
      ORDER BY 1', p_metric, p_metric)
    USING v_current, p_k;
END
$$;
COMMENT ON FUNCTION idgraph.centrality_top(text, integer) IS
  'Top k services by a centrality metric, read from the materialized table; each row says whether its value is stale. Example: SELECT * FROM idgraph.centrality_top(''betweenness'', 20);';
