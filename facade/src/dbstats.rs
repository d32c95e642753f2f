//! The database's state for /metrics, read at scrape time: submissions by status and the
//! age of the oldest pending one, circular dependency alerts by status, stale centrality,
//! audit growth and seals, replica lag. Plain SELECTs the facade's role may run (it is a
//! reader: `idgraph.submissions`, `circular_dependency_alerts`, `centrality`,
//! `graph_state`); the audit tables are idgraph_admin's, so their growth comes from
//! PostgreSQL's table statistics, which every role may read. One read-only transaction
//! with a short `statement_timeout`, at most every [`FRESH`], bounded by [`BUDGET`]: a
//! slow or unreachable database makes `idgraph_database_up` 0 and never stalls a scrape.

use std::time::{Duration, Instant};

use deadpool_postgres::Pool;

use crate::metrics::{DbGauges, CYCLE_STATUSES, SUBMISSION_STATUSES};
use crate::state::AppState;

/// Scrapes within this long of the last read reuse it.
pub const FRESH: Duration = Duration::from_secs(5);
/// The whole read, connection included, within this long.
pub const BUDGET: Duration = Duration::from_secs(2);

const STATS: &str = "\
SELECT
  (SELECT coalesce(jsonb_object_agg(status, n), '{}') FROM
     (SELECT status, count(*) AS n FROM idgraph.submissions GROUP BY status) s) AS submissions,
  (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
     FROM idgraph.submissions WHERE status = 'pending') AS oldest_pending,
  (SELECT coalesce(jsonb_object_agg(status, n), '{}') FROM
     (SELECT status, count(*) AS n FROM idgraph.circular_dependency_alerts GROUP BY status) c) AS cycles,
  (SELECT count(*) FROM idgraph.centrality c
    WHERE c.betweenness IS NULL
       OR (SELECT r.betweenness_version FROM idgraph.centrality_state r)
          IS DISTINCT FROM (SELECT g.topology_version FROM idgraph.graph_state g)) AS centrality_stale,
  coalesce(extract(epoch FROM now() - coalesce((SELECT r.betweenness_computed_at FROM idgraph.centrality_state r),
                                              (SELECT min(c.computed_at) FROM idgraph.centrality c))), 0)::float8
    AS centrality_age,
  (SELECT coalesce(sum(n_tup_ins), 0)::int8 FROM pg_catalog.pg_stat_user_tables
    WHERE relid = pg_catalog.to_regclass('idgraph.audit_log')) AS audit_rows,
  (SELECT coalesce(sum(n_tup_ins), 0)::int8 FROM pg_catalog.pg_stat_user_tables
    WHERE relid = pg_catalog.to_regclass('idgraph.audit_seals')) AS audit_seals";

// The SLO engine's recommendations waiting for a decision, when its table is there and
// readable (it comes with a later release than the facade's first; readers may SELECT it).
const SLO_READABLE: &str = "\
SELECT coalesce(pg_catalog.has_table_privilege(pg_catalog.to_regclass('idgraph.slo_recommendations'), 'SELECT'), false)";
const SLO_PENDING: &str = "\
SELECT count(*) FROM idgraph.slo_recommendations
 WHERE status = 'active' AND decision IS NULL AND expires_at > now()";

// Pending submissions past the expiry age (idgraph 0.2.0 with issue 9; readers may call it).
const EXPIRY_PRESENT: &str = "\
SELECT coalesce(pg_catalog.has_function_privilege(
         pg_catalog.to_regprocedure('idgraph.submission_expiry_status()'), 'EXECUTE'), false)";
const EXPIRY: &str = "SELECT enabled, expired FROM idgraph.submission_expiry_status()";

// Replay lag, 0 on a primary and when everything received is replayed (an idle primary
// sends nothing, and the age of the last replayed commit alone would then grow forever).
const REPLICA_LAG: &str = "\
SELECT CASE WHEN NOT pg_catalog.pg_is_in_recovery()
              OR pg_catalog.pg_last_wal_receive_lsn() = pg_catalog.pg_last_wal_replay_lsn() THEN 0
            ELSE coalesce(extract(epoch FROM now() - pg_catalog.pg_last_xact_replay_timestamp()), 0)
       END::float8";

/// Refreshes the database gauges unless a recent read is still fresh.
pub async fn refresh(state: &AppState) {
    let g = &state.metrics.db;
    let mut last = g.refreshed.lock().await;
    if last.is_some_and(|t: Instant| t.elapsed() < FRESH) {
        return;
    }
    *last = Some(Instant::now());
    match tokio::time::timeout(BUDGET, read_primary(state.db.primary(), g)).await {
        Ok(Ok(())) => g.up.set(1),
        Ok(Err(e)) => {
            g.up.set(0);
            tracing::warn!(error = %e, "metrics: cannot read the database's state");
        }
        Err(_) => {
            g.up.set(0);
            tracing::warn!("metrics: reading the database's state timed out");
        }
    }
    if let Some(r) = state.db.replica() {
        match tokio::time::timeout(BUDGET, lag(r)).await {
            Ok(Ok(v)) => g.replica_lag.with_label_values(&["replica"]).set(v),
            Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot read the replica's lag"),
            Err(_) => tracing::warn!("metrics: reading the replica's lag timed out"),
        }
    }
}

async fn lag(pool: &crate::db::DbPool) -> Result<f64, String> {
    let rows = crate::db::Db::query_on(pool, REPLICA_LAG, &[])
        .await
        .map_err(|e| e.internal.clone().unwrap_or_default())?;
    let row = rows.first().ok_or("no row")?;
    row.try_get(0).map_err(|e| e.to_string())
}

async fn read_primary(pool: &Pool, g: &DbGauges) -> Result<(), String> {
    let mut client = pool.get().await.map_err(|e| e.to_string())?;
    let mut tx = client.transaction().await.map_err(|e| e.to_string())?;
    let budget_ms = BUDGET.as_millis().to_string();
    tx.execute(
        "SELECT pg_catalog.set_config('statement_timeout', $1, true), \
                pg_catalog.set_config('transaction_read_only', 'on', true), \
                pg_catalog.set_config('application_name', $2, true)",
        &[
            &budget_ms,
            &format!("{} metrics", crate::trace::APPLICATION_NAME),
        ],
    )
    .await
    .map_err(|e| e.to_string())?;
    let row = tx.query_one(STATS, &[]).await.map_err(|e| e.to_string())?;
    let lag_row = tx
        .query_one(REPLICA_LAG, &[])
        .await
        .map_err(|e| e.to_string())?;
    let slo: Option<i64> = if tx
        .query_one(SLO_READABLE, &[])
        .await
        .map_err(|e| e.to_string())?
        .try_get(0)
        .map_err(|e| e.to_string())?
    {
        // In a savepoint: a table of another shape must not fail the whole read.
        let sp = tx.savepoint("slo").await.map_err(|e| e.to_string())?;
        let n = match sp.query_one(SLO_PENDING, &[]).await {
            Ok(r) => r.try_get(0).ok(),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot count pending SLO recommendations");
                None
            }
        };
        if n.is_some() {
            sp.commit().await.map_err(|e| e.to_string())?;
        } else {
            sp.rollback().await.map_err(|e| e.to_string())?;
        }
        n
    } else {
        None
    };
    let expiry: Option<(bool, i64)> = if tx
        .query_one(EXPIRY_PRESENT, &[])
        .await
        .map_err(|e| e.to_string())?
        .try_get(0)
        .map_err(|e| e.to_string())?
    {
        let sp = tx.savepoint("expiry").await.map_err(|e| e.to_string())?;
        let got = match sp.query_one(EXPIRY, &[]).await {
            Ok(r) => r.try_get(0).ok().zip(r.try_get(1).ok()),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot count expired submissions");
                None
            }
        };
        if got.is_some() {
            sp.commit().await.map_err(|e| e.to_string())?;
        } else {
            sp.rollback().await.map_err(|e| e.to_string())?;
        }
        got
    } else {
        None
    };
    tx.commit().await.map_err(|e| e.to_string())?;
    g.submissions_expired.reset();
    if let Some((enabled, n)) = expiry {
        g.submissions_expired
            .with_label_values(&[if enabled { "true" } else { "false" }])
            .set(n);
    }
    match slo {
        Some(n) => g.slo_recommendations_pending.with_label_values(&[]).set(n),
        None => {
            let _ = g.slo_recommendations_pending.remove_label_values(&[]);
        }
    }
    let get_f = |i: usize| row.try_get::<_, f64>(i).map_err(|e| e.to_string());
    let get_i = |i: usize| row.try_get::<_, i64>(i).map_err(|e| e.to_string());
    let submissions: serde_json::Value = row.try_get(0).map_err(|e| e.to_string())?;
    let cycles: serde_json::Value = row.try_get(2).map_err(|e| e.to_string())?;
    let count = |doc: &serde_json::Value, k: &str| doc.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
    for s in SUBMISSION_STATUSES {
        g.submissions
            .with_label_values(&[s])
            .set(count(&submissions, s));
    }
    g.set_active(count(&submissions, "pending"));
    g.oldest_pending.set(get_f(1)?);
    for s in CYCLE_STATUSES {
        g.cycles.with_label_values(&[s]).set(count(&cycles, s));
    }
    g.centrality_stale.set(get_i(3)?);
    g.centrality_age.set(get_f(4)?);
    DbGauges::mirror(&g.audit_rows, get_i(5)?);
    DbGauges::mirror(&g.audit_seals, get_i(6)?);
    g.replica_lag
        .with_label_values(&["primary"])
        .set(lag_row.try_get(0).map_err(|e| e.to_string())?);
    Ok(())
}
