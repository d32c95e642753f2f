//! The database side: deadpool-postgres pools (primary, optional read replica) and the
//! per-request actor context.
//!
//! Every call tells the SQL layer who is acting: `idgraph.set_principal(principal, team)`
//! runs on the pooled session right before the call, pipelined with it (one round trip).
//! They are set before every call, so a value left by a previous request never leaks.
//! So is `application_name`: `idgraph-facade trace=<trace id>` during a request (see
//! `trace.rs`), so that a statement in `pg_stat_activity` or in the server log (`%a` in
//! `log_line_prefix`) names the request it runs for.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::auth::Principal;
use crate::problem::{ApiError, ApiResult};

#[derive(Clone)]
pub struct Db {
    primary: Pool,
    replica: Option<Pool>,
}

// The principal door: only the facade's role may execute it (sqitch `grants_doors`), and
// what it sets lives in the backend, out of reach of any SET. application_name carries
// the request's trace id.
const SET_ACTOR: &str = "SELECT idgraph.set_principal($1, $2), \
     pg_catalog.set_config('application_name', $3, false)";
const SET_APPLICATION_NAME: &str = "SELECT pg_catalog.set_config('application_name', $1, false)";

/// A pool over the whole connection string `url` (see [`crate::pgconn`]: every libpq
/// setting it carries, TLS per its `sslmode`, the statement timeout on every session).
pub fn make_pool(
    url: &str,
    ca_file: Option<&std::path::Path>,
    statement_timeout: Duration,
    size: usize,
    wait: Duration,
) -> anyhow_like::Result<Pool> {
    let target =
        crate::pgconn::parse(url, ca_file, statement_timeout).map_err(anyhow_like::Error)?;
    let create = target
        .config
        .get_connect_timeout()
        .copied()
        .unwrap_or(Duration::from_secs(3));
    let manager = Manager::from_config(
        target.config,
        target.tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(wait))
        .create_timeout(Some(create))
        .recycle_timeout(Some(Duration::from_secs(3)))
        .build()
        .map_err(|e| anyhow_like::Error(format!("cannot create the pool: {e}")))
}

/// A tiny error type for start-up failures (printed, then exit 1).
pub mod anyhow_like {
    #[derive(Debug)]
    pub struct Error(pub String);
    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for Error {}
    pub type Result<T> = std::result::Result<T, Error>;
}

/// Which pool a call may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Db {
    pub fn new(primary: Pool, replica: Option<Pool>) -> Self {
        Self { primary, replica }
    }

    pub fn primary(&self) -> &Pool {
        &self.primary
    }

    pub fn replica(&self) -> Option<&Pool> {
        self.replica.as_ref()
    }

    async fn client(&self, access: Access) -> ApiResult<Object> {
        let pool = match (access, &self.replica) {
            (Access::Read, Some(r)) => r,
            _ => &self.primary,
        };
        Ok(pool.get().await?)
    }

    /// Runs one statement without an actor on `pool`, labelled with the current trace.
    pub async fn query_on(
        pool: &Pool,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> ApiResult<Vec<Row>> {
        let client = pool.get().await?;
        plain(&client, sql, params).await
    }

    /// Runs one statement as `who` and returns its rows.
    pub async fn query(
        &self,
        access: Access,
        who: &Principal,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> ApiResult<Vec<Row>> {
        let client = self.client(access).await?;
        let set = client.prepare_cached(SET_ACTOR).await?;
        let stmt = client.prepare_cached(sql).await?;
        let team: Option<&str> = who.team.as_deref();
        let app = crate::trace::application_name();
        let actor: [&(dyn ToSql + Sync); 3] = [&who.subject, &team, &app];
        // Pipelined: both are sent before the first answer is awaited.
        let (_, rows) = tokio::try_join!(client.query(&set, &actor), client.query(&stmt, params))?;
        Ok(rows)
    }

    /// Like [`Db::query`] for statements returning exactly one row.
    pub async fn query_one(
        &self,
        access: Access,
        who: &Principal,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> ApiResult<Row> {
        let mut rows = self.query(access, who, sql, params).await?;
        if rows.is_empty() {
            return Err(ApiError::internal_error(format!(
                "expected one row from {sql}"
            )));
        }
        Ok(rows.swap_remove(0))
    }

    /// A statement without an actor (key lookup, readiness).
    pub async fn query_plain(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> ApiResult<Vec<Row>> {
        let client = self.client(Access::Write).await?;
        plain(&client, sql, params).await
    }
}

async fn plain(client: &Object, sql: &str, params: &[&(dyn ToSql + Sync)]) -> ApiResult<Vec<Row>> {
    let set = client.prepare_cached(SET_APPLICATION_NAME).await?;
    let stmt = client.prepare_cached(sql).await?;
    let app = crate::trace::application_name();
    let app: [&(dyn ToSql + Sync); 1] = [&app];
    let (_, rows) = tokio::try_join!(client.query(&set, &app), client.query(&stmt, params))?;
    Ok(rows)
}
