//! What the facade needs of its database before it serves data: the idgraph extension at
//! a version this build speaks (same major.minor), and a role that holds the
//! `idgraph_facade` grants. Checked at start — a database that answers but is wrong makes
//! `serve` exit non-zero with the reason — and, when the database was unreachable at
//! start, again until it passes: until then data routes answer 503 and `/health/ready`
//! says why, so a misconfigured facade never answers 500 to every request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::db::DbPool;

use crate::problem::ApiError;

/// The version of this build (the workspace's); the extension must match major.minor.
pub const FACADE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The NOLOGIN role (sqitch change `grants_facade`) whose grants the facade's role needs.
pub const FACADE_ROLE: &str = "idgraph_facade";

const CHECK: &str =
    "SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'idgraph'), \
       current_user::text, current_database()::text, \
       CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1) \
            THEN pg_catalog.pg_has_role(current_user, $1, 'USAGE') ELSE false END, \
       (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)";

/// Whether `ext` (the extension's version) is one this facade speaks: same major.minor.
pub fn compatible(ext: &str, facade: &str) -> bool {
    let mm = |v: &str| {
        let mut it = v.split('.');
        (it.next().map(str::to_owned), it.next().map(str::to_owned))
    };
    let (a, b) = (mm(ext), mm(facade));
    a.0.is_some() && a.1.is_some() && a == b
}

/// Checks one pool's database. Outer `Err`: it could not be asked (unreachable);
/// inner `Err`: it answered and is not what the facade needs (the reason).
pub async fn check_pool(pool: &DbPool, which: &str) -> Result<Result<(), String>, ApiError> {
    let client = pool.get().await?;
    let row = crate::db::one_row(
        &client,
        CHECK,
        &[(&FACADE_ROLE, tokio_postgres::types::Type::TEXT)],
    )
    .await?;
    let ext: Option<String> = row.try_get(0)?;
    let user: String = row.try_get(1)?;
    let db: String = row.try_get(2)?;
    let member: bool = row.try_get(3)?;
    let superuser: Option<bool> = row.try_get(4)?;
    let Some(ext) = ext else {
        return Ok(Err(format!(
            "the {which} database {db} has no idgraph extension (deploy it with sqitch first)"
        )));
    };
    if !compatible(&ext, FACADE_VERSION) {
        return Ok(Err(format!(
            "the {which} database {db} has idgraph {ext}; this facade {FACADE_VERSION} needs {}.x \
             (ALTER EXTENSION idgraph UPDATE, or run the matching facade)",
            FACADE_VERSION
                .rsplit_once('.')
                .map_or(FACADE_VERSION, |p| p.0)
        )));
    }
    if !member {
        return Ok(Err(format!(
            "the {which} database role {user} lacks the {FACADE_ROLE} grants \
             (GRANT {FACADE_ROLE} TO {user}; it must inherit them)"
        )));
    }
    if superuser == Some(true) {
        tracing::warn!(role = %user, "the facade connects as a superuser; use an ordinary LOGIN role granted {FACADE_ROLE}");
    }
    Ok(Ok(()))
}

/// The last check's outcome, shared by every request.
pub struct Gate {
    ok: AtomicBool,
    state: Mutex<(String, Option<Instant>)>,
}

/// Retry an unreachable or refused database at most this often from the request path.
const RETRY_EVERY: Duration = Duration::from_secs(1);

impl Default for Gate {
    fn default() -> Self {
        Self {
            ok: AtomicBool::new(false),
            state: Mutex::new(("not checked yet".into(), None)),
        }
    }
}

impl Gate {
    pub fn is_open(&self) -> bool {
        self.ok.load(Ordering::Acquire)
    }

    /// The reason the gate is closed (for readiness and the log).
    pub fn reason(&self) -> String {
        match self.state.lock() {
            Ok(g) => g.0.clone(),
            Err(p) => p.into_inner().0.clone(),
        }
    }

    fn set(&self, ok: bool, reason: String) {
        let mut g = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = (reason, Some(Instant::now()));
        self.ok.store(ok, Ordering::Release);
    }

    /// Closes the gate (the database refused the facade's role something): requests
    /// re-run the check, and readiness reports it.
    pub fn close(&self, reason: String) {
        if self.ok.swap(false, Ordering::AcqRel) {
            tracing::error!(reason = %reason, "the database refused the facade's role: checking again");
        }
        let mut g = match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = (reason, None);
    }

    /// Checks every pool now. `Ok(Err(reason))`: refused; `Err`: unreachable.
    pub async fn check_now(
        &self,
        primary: &DbPool,
        replica: Option<&DbPool>,
    ) -> Result<Result<(), String>, ApiError> {
        let mut pools = vec![(primary, "primary")];
        if let Some(r) = replica {
            pools.push((r, "read"));
        }
        for (pool, which) in pools {
            match check_pool(pool, which).await {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => {
                    self.set(false, reason.clone());
                    return Ok(Err(reason));
                }
                // An unreachable read replica does not stop the facade: reads then go to
                // the primary (crate::replica). A replica that answers is still checked.
                Err(e) if which == "read" => {
                    tracing::warn!(error = ?e.internal, "the read database is unreachable; reads go to the primary");
                }
                Err(e) => {
                    let why = format!(
                        "the {which} database is unreachable: {}",
                        e.internal.clone().unwrap_or_default()
                    );
                    self.set(false, why);
                    return Err(e);
                }
            }
        }
        self.set(true, "ok".into());
        Ok(Ok(()))
    }

    /// For the request path: open, or re-checked (at most every second) and opened, or
    /// the 503 to answer.
    pub async fn admit(&self, primary: &DbPool, replica: Option<&DbPool>) -> Result<(), ApiError> {
        if self.is_open() {
            return Ok(());
        }
        let due = match self.state.lock() {
            Ok(g) => g.1.is_none_or(|t| t.elapsed() >= RETRY_EVERY),
            Err(_) => true,
        };
        if due {
            match self.check_now(primary, replica).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(reason)) => {
                    tracing::error!(reason = %reason, "the database is not fit to serve")
                }
                Err(_) => {}
            }
        }
        Err(not_ready(&self.reason()))
    }
}

/// 503: the facade cannot serve data yet (the detail points at readiness, which says why).
pub fn not_ready(reason: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "not-ready",
        "Service Not Ready",
    )
    .detail("The facade is not ready to serve; GET /health/ready says why.")
    .retry_after(5)
    .internal(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::compatible;

    #[test]
    fn versions_match_on_major_minor() {
        assert!(compatible("0.2.0", "0.2.0"));
        assert!(compatible("0.2.3", "0.2.0"));
        assert!(!compatible("0.1.0", "0.2.0"));
        assert!(!compatible("1.2.0", "0.2.0"));
        assert!(!compatible("", "0.2.0"));
        assert!(!compatible("0", "0.2.0"));
    }
}
