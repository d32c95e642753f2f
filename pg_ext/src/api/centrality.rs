//! Centrality: the SQL surface (SPEC §3). Algorithms are `idgraph_core::centrality`; the
//! table, the edge trigger and the read functions are `sql/centrality.sql`.

use std::collections::HashMap;

use idgraph_core::centrality::{self, Brandes, Csr};
use pgrx::prelude::*;
use pgrx::JsonB;
use rayon::prelude::*;
use rayon::ThreadPool;
use serde_json::json;

use crate::backend;
use crate::error::{required, IdgraphError, OrRaise};
use crate::graph_cache::{self, Snapshot};

/// Runs a betweenness computation on the backend's pool, step by step, checking for
/// cancel between steps on the backend's own thread. Each step keeps every pool thread
/// busy (`default_step` asked inside the pool); the result does not depend on the
/// number of threads.
fn betweenness_on(pool: &ThreadPool, mut run: Brandes<'_>) -> Vec<f64> {
    let step = pool.install(|| run.default_step());
    while !run.is_done() {
        pool.install(|| run.step(step));
        check_for_interrupts!();
    }
    pool.install(|| run.finish())
}

/// Nodes per parallel block of [`clustering_on`]: a cancel is noticed after one block.
const CLUSTERING_BLOCK: u32 = 4096;

/// Clustering of every node (`centrality::clustering`'s values: each node's own
/// [`centrality::clustering_of`]), on the backend's pool, in blocks with a check for
/// cancel between them: a hub's neighbourhood costs its degree squared.
fn clustering_on(pool: &ThreadPool, g: &Csr) -> Vec<f64> {
    let n = g.len() as u32;
    let mut out = Vec::with_capacity(g.len());
    let mut start = 0u32;
    while start < n {
        let end = n.min(start.saturating_add(CLUSTERING_BLOCK));
        let block: Vec<f64> = pool.install(|| {
            (start..end)
                .into_par_iter()
                .map_init(
                    || vec![false; g.len()],
                    |mark, v| centrality::clustering_of(g, v, mark),
                )
                .collect()
        });
        out.extend(block);
        check_for_interrupts!();
        start = end;
    }
    out
}

fn spi_err(e: pgrx::spi::SpiError) -> IdgraphError {
    IdgraphError::new(
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        format!("idgraph centrality: {e}"),
    )
}

/// The topology centrality measures, from the backend's cached graph snapshot (the one
/// the graph functions use, `graph_cache::snapshot`): its fresh distinct pairs without
/// self loops (`Graph::topology`), node `i` being `snap.pks[i]`.
fn topology_of(snap: &Snapshot) -> Result<&Csr, IdgraphError> {
    let csr = snap
        .graph
        .topology()
        .map_err(|e| IdgraphError::internal(e.to_string()))?;
    if snap.pks.len() != csr.len() {
        return Err(IdgraphError::internal(format!(
            "the graph snapshot has {} services but {} service pks",
            csr.len(),
            snap.pks.len()
        )));
    }
    Ok(csr)
}

/// Rows a refresh wrote: (updated, inserted).
type Written = (i64, i64);

/// Writes a refresh's values, only where they differ from the stored ones (one statement:
/// an UPDATE of the rows whose values are distinct, an INSERT of the services without a
/// row), and records the refresh in `idgraph.centrality_state`. Rows of services deleted
/// since the snapshot are gone already (ON DELETE CASCADE) and a service created since has
/// no value here: nothing is deleted.
#[allow(clippy::too_many_arguments)]
fn write_refresh(
    snap: &Snapshot,
    in_d: Vec<i32>,
    out_d: Vec<i32>,
    bc: Vec<f64>,
    bcn: Vec<f64>,
    clu: Vec<f64>,
    mode: &str,
) -> Result<Written, IdgraphError> {
    let names: Vec<&str> = (0..snap.graph.len() as u32)
        .map(|i| snap.graph.id(i))
        .collect();
    Spi::connect_mut(|client| {
        // Refreshes write one at a time, rows then state: the last to write the state is
        // the last to have written the rows.
        client
            .update(
                "SELECT 1 FROM idgraph.centrality_state FOR UPDATE",
                None,
                &[],
            )
            .map_err(spi_err)?;
        let row = client
            .update(
                "WITH u AS (
                   SELECT * FROM unnest($1::int[], $2::text[], $3::int[], $4::int[], $5::float8[], $6::float8[], $7::float8[])
                          AS u(pk, name, i, o, b, bn, cl)),
                 upd AS (
                   UPDATE idgraph.centrality c
                      SET service = u.name, in_degree = u.i, out_degree = u.o, degree = u.i + u.o, betweenness = u.b,
                          betweenness_normalized = u.bn, clustering = u.cl, graph_version = $8,
                          betweenness_version = $8, betweenness_mode = $9, computed_at = now(),
                          betweenness_computed_at = now()
                     FROM u
                    WHERE c.service_pk = u.pk
                      AND (c.service, c.in_degree, c.out_degree, c.degree, c.betweenness, c.betweenness_normalized,
                           c.clustering, c.betweenness_mode)
                          IS DISTINCT FROM (u.name, u.i, u.o, u.i + u.o, u.b, u.bn, u.cl, $9)
                   RETURNING 1),
                 ins AS (
                   INSERT INTO idgraph.centrality AS c (service_pk, service, in_degree, out_degree, degree, betweenness,
                          betweenness_normalized, clustering, graph_version, betweenness_version, betweenness_mode,
                          computed_at, betweenness_computed_at)
                   SELECT u.pk, u.name, u.i, u.o, u.i + u.o, u.b, u.bn, u.cl, $8, $8, $9, now(), now()
                     FROM u
                    WHERE NOT EXISTS (SELECT 1 FROM idgraph.centrality x WHERE x.service_pk = u.pk)
                      AND EXISTS (SELECT 1 FROM idgraph.services s WHERE s.service_pk = u.pk)
                   ON CONFLICT (service_pk) DO UPDATE
                      SET service = excluded.service, in_degree = excluded.in_degree, out_degree = excluded.out_degree,
                          degree = excluded.degree, betweenness = excluded.betweenness,
                          betweenness_normalized = excluded.betweenness_normalized, clustering = excluded.clustering,
                          graph_version = $8, betweenness_version = $8, betweenness_mode = $9,
                          computed_at = now(), betweenness_computed_at = now()
                   RETURNING 1)
                 SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM ins)",
                None,
                &[
                    snap.pks.clone().into(),
                    names.into(),
                    in_d.into(),
                    out_d.into(),
                    bc.into(),
                    bcn.into(),
                    clu.into(),
                    snap.topology_version.into(),
                    mode.into(),
                ],
            )
            .map_err(spi_err)?
            .first()
            .get_two::<i64, i64>()
            .map_err(spi_err)?;
        let updated = required(row.0, "the refresh's updated row count")?;
        let inserted = required(row.1, "the refresh's inserted row count")?;
        client
            .update(
                "UPDATE idgraph.centrality_state
                    SET betweenness_version = $1, betweenness_mode = $2, betweenness_computed_at = now(),
                        rows_written = $3",
                None,
                &[snap.topology_version.into(), mode.into(), (updated + inserted).into()],
            )
            .map_err(spi_err)?;
        Ok((updated, inserted))
    })
}

/// Recomputes degree, betweenness (exact, or sampled from `p_samples` seeded sources) and
/// clustering for every service and writes `idgraph.centrality`. Honours query cancel
/// (and `statement_timeout`) between rounds of sources; runs on `idgraph.max_threads`
/// threads (the summary's `threads`).
///
/// ```sql
/// SELECT idgraph.refresh_centrality();                 -- exact
/// SELECT idgraph.refresh_centrality('sampled', 500);   -- 500 random sources, scaled
/// ```
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn refresh_centrality(
    p_mode: default!(Option<&str>, "'exact'"),
    p_samples: default!(Option<i32>, "NULL"),
) -> JsonB {
    // Not STRICT (p_samples may be NULL), so a NULL mode arrives here: 22004, not a crash.
    let Some(p_mode) = p_mode else {
        IdgraphError::null("p_mode").raise()
    };
    let started = std::time::Instant::now();
    let sampled = match (p_mode, p_samples) {
        ("exact", None) => None,
        ("exact", Some(_)) => IdgraphError::invalid("p_samples is only for mode 'sampled'").raise(),
        ("sampled", Some(k)) if k >= 1 => Some(k as usize),
        ("sampled", _) => IdgraphError::invalid("mode 'sampled' needs p_samples >= 1").raise(),
        (other, _) => {
            IdgraphError::invalid(format!("mode must be 'exact' or 'sampled', got '{other}'"))
                .raise()
        }
    };
    let snap = graph_cache::snapshot().or_raise();
    let csr = topology_of(&snap).or_raise();
    let n = csr.len();
    let seconds_load = started.elapsed().as_secs_f64();
    let pool = backend::pool().or_raise();
    let (run, mode) = match sampled {
        None => (Brandes::exact(csr, false), "exact".to_string()),
        Some(k) => {
            let k = k.min(n.max(1));
            match Brandes::sampled(csr, k, 42, false) {
                Ok(run) => (run, format!("sampled:{k}")),
                Err(e) => IdgraphError::invalid(e.to_string()).raise(),
            }
        }
    };
    let bc = betweenness_on(&pool, run);
    let norm = centrality::normalization(n, false);
    let deg = centrality::degrees(csr);
    let clu = clustering_on(&pool, csr);
    let seconds_compute = started.elapsed().as_secs_f64();

    let in_d: Vec<i32> = deg.iter().map(|d| d.0 as i32).collect();
    let out_d: Vec<i32> = deg.iter().map(|d| d.1 as i32).collect();
    let bcn: Vec<f64> = bc.iter().map(|x| x * norm).collect();
    let (updated, inserted) = write_refresh(&snap, in_d, out_d, bc, bcn, clu, &mode).or_raise();
    let seconds = started.elapsed().as_secs_f64();
    let cache_bytes = snap.heap_bytes();
    JsonB(json!({
        "services": n,
        "edges": csr.edge_count(),
        "mode": mode,
        "graph_version": snap.topology_version,
        "threads": pool.current_num_threads(),
        "seconds": seconds,
        "seconds_compute": seconds_compute,
        "seconds_load": seconds_load,
        "seconds_write": seconds - seconds_compute,
        "rows_written": updated + inserted,
        "rows_updated": updated,
        "rows_inserted": inserted,
        // The cached snapshot's heap bytes (graph, pks, SLO targets, the centrality
        // topology built from it): what grows with the services, what with the edges.
        "cache_bytes_services": cache_bytes.0,
        "cache_bytes_edges": cache_bytes.1,
        "graph_edges": snap.graph.edge_count(),
    }))
}

fn edges_touching(pks: &[i32]) -> Result<Vec<(i32, i32)>, IdgraphError> {
    Spi::connect(|client| {
        let mut out = Vec::new();
        for row in client
            .select(
                "SELECT DISTINCT e.source_pk, e.target_pk FROM idgraph.edges e
                  WHERE NOT e.stale AND e.source_pk <> e.target_pk
                    AND (e.source_pk = ANY($1) OR e.target_pk = ANY($1))",
                None,
                &[pks.to_vec().into()],
            )
            .map_err(spi_err)?
        {
            out.push((
                required(row.get::<i32>(1).map_err(spi_err)?, "edges.source_pk")?,
                required(row.get::<i32>(2).map_err(spi_err)?, "edges.target_pk")?,
            ));
        }
        Ok(out)
    })
}

/// A CSR over part of the graph, with local index -> pk and pk -> local index.
type Local = (Csr, Vec<i32>, HashMap<i32, u32>);

/// A CSR over the services named in `edges` (and `extra`).
fn local_csr(extra: &[i32], edges: &[(i32, i32)]) -> Result<Local, IdgraphError> {
    let mut index: HashMap<i32, u32> = HashMap::new();
    let mut pks: Vec<i32> = Vec::new();
    let mut local = |pk: i32| -> u32 {
        *index.entry(pk).or_insert_with(|| {
            pks.push(pk);
            (pks.len() - 1) as u32
        })
    };
    for &pk in extra {
        local(pk);
    }
    let pairs: Vec<(u32, u32)> = edges.iter().map(|&(s, t)| (local(s), local(t))).collect();
    let csr =
        Csr::from_edges(pks.len(), &pairs).map_err(|e| IdgraphError::internal(e.to_string()))?;
    Ok((csr, pks, index))
}

fn write_local(
    pks: &[i32],
    in_d: Vec<i32>,
    out_d: Vec<i32>,
    clustering: Vec<f64>,
    version: i64,
) -> Result<(), IdgraphError> {
    // Services deleted in this statement (cascade) are skipped by the join.
    Spi::run_with_args(
        "INSERT INTO idgraph.centrality AS c (service_pk, service, in_degree, out_degree, degree, clustering,
                                              graph_version, computed_at)
         SELECT u.pk, s.service_id, u.i, u.o, u.i + u.o, u.cl, $5, now()
           FROM unnest($1::int[], $2::int[], $3::int[], $4::float8[]) AS u(pk, i, o, cl)
           JOIN idgraph.services s ON s.service_pk = u.pk
         ON CONFLICT (service_pk) DO UPDATE
            SET service = excluded.service, in_degree = excluded.in_degree, out_degree = excluded.out_degree,
                degree = excluded.degree, clustering = excluded.clustering, graph_version = $5, computed_at = now()",
        &[pks.to_vec().into(), in_d.into(), out_d.into(), clustering.into(), version.into()],
    )
    .map_err(spi_err)
}

/// Internal (edge trigger): recomputes degree and clustering of the services a set of
/// changed pairs affects — the endpoints and their common neighbours — from their
/// neighbourhoods only, and marks them current for the new topology version. When the
/// change touches a large part of the graph (a bulk ingest) it recomputes every service in
/// one pass instead, which is cheaper than many neighbourhood queries.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn _centrality_touch(p_sources: Vec<i32>, p_targets: Vec<i32>) {
    let mut endpoints: Vec<i32> = p_sources.iter().chain(p_targets.iter()).copied().collect();
    endpoints.sort_unstable();
    endpoints.dedup();
    // How many services, for the choice below: the planner's estimate does (a seq scan
    // of every service cost a one-edge ingest more than the rest of this function); the
    // count itself only while the table was never analyzed.
    let services = required(
        Spi::get_one::<i64>(
            "SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint
                         ELSE (SELECT count(*) FROM idgraph.services) END
               FROM pg_catalog.pg_class c WHERE c.oid = 'idgraph.services'::regclass",
        )
        .map_err(spi_err)
        .or_raise(),
        "the number of idgraph.services",
    )
    .or_raise();
    if endpoints.len() as i64 * 4 > services {
        // The snapshot of this transaction's graph (cached under its own key; the graph
        // calls after the commit find it current).
        let snap = graph_cache::snapshot().or_raise();
        let csr = topology_of(&snap).or_raise();
        let deg = centrality::degrees(csr);
        let clu = clustering_on(&backend::pool().or_raise(), csr);
        write_local(
            &snap.pks,
            deg.iter().map(|d| d.0 as i32).collect(),
            deg.iter().map(|d| d.1 as i32).collect(),
            clu,
            snap.topology_version,
        )
        .or_raise();
        return;
    }
    let version = required(
        Spi::get_one::<i64>("SELECT topology_version FROM idgraph.graph_state")
            .map_err(spi_err)
            .or_raise(),
        "idgraph.graph_state.topology_version",
    )
    .or_raise();
    // 1. Edges at the endpoints: their neighbourhoods, hence the common neighbours.
    let e1 = edges_touching(&endpoints).or_raise();
    let (csr1, pks1, index1) = local_csr(&endpoints, &e1).or_raise();
    let mut affected: Vec<i32> = endpoints.clone();
    for (s, t) in p_sources.iter().zip(p_targets.iter()) {
        if let (Some(&a), Some(&b)) = (index1.get(s), index1.get(t)) {
            affected.extend(
                centrality::affected_by_edge(&csr1, a, b)
                    .into_iter()
                    .map(|v| pks1[v as usize]),
            );
        }
    }
    affected.sort_unstable();
    affected.dedup();
    // 2. The affected and their neighbours, then every edge touching those: enough for each
    //    affected service's degree and the links among its neighbours.
    let e2 = edges_touching(&affected).or_raise();
    let mut ring: Vec<i32> = affected.clone();
    ring.extend(e2.iter().flat_map(|&(s, t)| [s, t]));
    ring.sort_unstable();
    ring.dedup();
    let e3 = edges_touching(&ring).or_raise();
    let (csr, _pks, index) = local_csr(&affected, &e3).or_raise();
    let mut mark = vec![false; csr.len()];
    let (mut in_d, mut out_d, mut clu) = (Vec::new(), Vec::new(), Vec::new());
    for pk in &affected {
        // Every affected service was put into the local graph (`local_csr`'s `extra`).
        let Some(&v) = index.get(pk) else {
            IdgraphError::internal(format!("service {pk} is missing from its local graph")).raise()
        };
        in_d.push(csr.in_neighbors(v).len() as i32);
        out_d.push(csr.out_neighbors(v).len() as i32);
        clu.push(centrality::clustering_of(&csr, v, &mut mark));
    }
    write_local(&affected, in_d, out_d, clu, version).or_raise();
}
