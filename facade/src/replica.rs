//! Reads on replicas that never contradict a write the same principal just got back,
//! and how far the read replica is behind the primary.
//!
//! A principal that wrote within the last `window` (`--read-your-writes-secs`) reads from
//! the primary: a resolve right after an allocate then answers the integer, never
//! not-found, however far the replica lags. Everyone else reads from the replica while it
//! answers; a replica that cannot (down, 503-class error, recovery conflict) sends the read
//! to the primary instead, so a lost replica costs the client nothing but latency. The lag
//! is reported in `/health/ready` and `/metrics`, so an operator sees when it exceeds the
//! window (the window must stay above the lag for the rule to hold for other readers).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use serde::Serialize;
use tokio_postgres::types::PgLsn;
use utoipa::ToSchema;

use crate::problem::{ApiError, ApiResult};

/// Principals (by subject) that wrote recently, with when.
pub struct RecentWriters {
    window: Duration,
    map: Mutex<HashMap<String, Instant>>,
}

/// Above this many entries, expired ones are dropped (and all, should every one be live:
/// forgetting a writer only sends its reads to the replica a little early).
const RECENT_MAX: usize = 100_000;

impl RecentWriters {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// `subject` just had a write acknowledged.
    pub fn note(&self, subject: &str) {
        if self.window.is_zero() {
            return;
        }
        if let Ok(mut m) = self.map.lock() {
            let now = Instant::now();
            if m.len() >= RECENT_MAX {
                let window = self.window;
                m.retain(|_, t| now.duration_since(*t) < window);
                if m.len() >= RECENT_MAX {
                    m.clear();
                }
            }
            m.insert(subject.to_owned(), now);
        }
    }

    /// Whether `subject` wrote within the window (its reads then go to the primary).
    pub fn wrote_recently(&self, subject: &str) -> bool {
        if self.window.is_zero() {
            return false;
        }
        match self.map.lock() {
            Ok(m) => m.get(subject).is_some_and(|t| t.elapsed() < self.window),
            // A poisoned lock: be safe, read from the primary.
            Err(_) => true,
        }
    }
}

/// Whether a failed read on the replica should be tried again on the primary: anything
/// the client would see as 503 (connection lost or refused, pool timeout, shutdown,
/// a query cancelled by a recovery conflict), never a 4xx answer.
pub fn retry_on_primary(e: &ApiError) -> bool {
    e.status.is_server_error()
}

/// The read replica's position relative to the primary.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReplicaLag {
    /// WAL bytes the replica has not replayed yet (0 when the read pool reached the
    /// primary itself, i.e. no standby is up).
    pub lag_bytes: i64,
    /// Whether the read pool is on a standby (false: reads fell back to the primary).
    pub standby: bool,
    /// Seconds since the last transaction the replica replayed was committed on the
    /// primary (null on the primary, or before anything was replayed).
    pub replay_age_seconds: Option<f64>,
}

/// Measures the lag: the primary's current WAL position, then the replica's replay
/// position (in that order, so that the lag is never under-reported).
pub async fn measure(primary: &Pool, replica: &Pool) -> ApiResult<ReplicaLag> {
    let p = primary.get().await?;
    let row = crate::db::one_row(&p, "SELECT pg_catalog.pg_current_wal_lsn()", &[]).await?;
    let primary_lsn: PgLsn = row.try_get(0)?;
    drop(p);
    let r = replica.get().await?;
    let row = crate::db::one_row(
        &r,
        "SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.pg_last_wal_replay_lsn(),
                extract(epoch FROM now() - pg_catalog.pg_last_xact_replay_timestamp())::float8",
        &[],
    )
    .await?;
    let standby: bool = row.try_get(0)?;
    if !standby {
        return Ok(ReplicaLag {
            lag_bytes: 0,
            standby,
            replay_age_seconds: None,
        });
    }
    let replay: Option<PgLsn> = row.try_get(1)?;
    let age: Option<f64> = row.try_get(2)?;
    let behind = match replay {
        Some(r) => u64::from(primary_lsn).saturating_sub(u64::from(r)),
        None => u64::from(primary_lsn),
    };
    Ok(ReplicaLag {
        lag_bytes: i64::try_from(behind).unwrap_or(i64::MAX),
        standby,
        replay_age_seconds: age,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_writers_window() {
        let r = RecentWriters::new(Duration::from_millis(50));
        assert!(!r.wrote_recently("key:a"));
        r.note("key:a");
        assert!(r.wrote_recently("key:a"));
        assert!(!r.wrote_recently("key:b"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!r.wrote_recently("key:a"));
    }

    #[test]
    fn zero_window_is_off() {
        let r = RecentWriters::new(Duration::ZERO);
        r.note("key:a");
        assert!(!r.wrote_recently("key:a"));
    }
}
