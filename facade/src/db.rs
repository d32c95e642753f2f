//! The database side: deadpool-postgres pools (primary, optional read replica) and the
//! per-request actor context. Which pool a read uses: [`crate::replica`].
//!
//! Every call tells the SQL layer who is acting: `idgraph.set_principal(principal, team)`
//! runs on the pooled session right before the call, pipelined with it (one round trip).
//! They are set before every call, so a value left by a previous request never leaks.
//! So is `application_name`: `idgraph-facade trace=<trace id>` during a request (see
//! `trace.rs`), so that a statement in `pg_stat_activity` or in the server log (`%a` in
//! `log_line_prefix`) names the request it runs for.
//!
//! Behind a transaction-pooling PgBouncer (`--database-pooler transaction`) a session is
//! not the facade's from one statement to the next: every call is then one transaction
//! (BEGIN, the actor, the statement, COMMIT), the actor, `application_name` and
//! `statement_timeout` are set transaction-local (`idgraph.set_principal` called inside a
//! transaction block ends with it), and statements are prepared inside that transaction
//! and closed before its end, never cached across transactions (PgBouncer 1.18 hands the
//! next transaction another server connection, where a cached name does not exist).

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::auth::Principal;
use crate::problem::{ApiError, ApiResult};
use crate::replica::{retry_on_primary, RecentWriters};

#[derive(Clone)]
pub struct Db {
    primary: DbPool,
    replica: Option<DbPool>,
    recent: std::sync::Arc<RecentWriters>,
}

// The principal door: only the facade's role may execute it (sqitch `grants_doors`), and
// what it sets lives in the backend, out of reach of any SET. application_name carries
// the request's trace id.
const SET_ACTOR: &str = "SELECT idgraph.set_principal($1, $2), \
     pg_catalog.set_config('application_name', $3, false)";
const SET_APPLICATION_NAME: &str = "SELECT pg_catalog.set_config('application_name', $1, false)";
// The same, transaction-local, for a call that is one transaction through a pooler.
const SET_ACTOR_LOCAL: &str = "SELECT idgraph.set_principal($1, $2), \
     pg_catalog.set_config('application_name', $3, true), \
     pg_catalog.set_config('statement_timeout', $4, true)";
const SET_APPLICATION_NAME_LOCAL: &str =
    "SELECT pg_catalog.set_config('application_name', $1, true), \
     pg_catalog.set_config('statement_timeout', $2, true)";

/// What sits between the facade and PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Pooler {
    /// Nothing, or a pooler in session mode: a pooled connection is one server session.
    #[default]
    None,
    /// A pooler in transaction mode (PgBouncer `pool_mode = transaction`): every call is
    /// one transaction, nothing is kept on the session.
    Transaction,
}

/// A pool and how its connections reach the server.
#[derive(Clone)]
pub struct DbPool {
    pub pool: Pool,
    pub pooler: Pooler,
    /// statement_timeout, set per transaction behind a pooler (a pooler in transaction
    /// mode does not pass the `options` startup parameter on).
    statement_timeout_ms: String,
}

impl std::ops::Deref for DbPool {
    type Target = Pool;
    fn deref(&self) -> &Pool {
        &self.pool
    }
}

/// A pool over the whole connection string `url` (see [`crate::pgconn`]: every libpq
/// setting it carries, TLS per its `sslmode`, the statement timeout on every session).
/// Behind a pooler in transaction mode the statement timeout is set per transaction
/// instead of in the startup packet.
pub fn make_pool(
    url: &str,
    ca_file: Option<&std::path::Path>,
    statement_timeout: Duration,
    size: usize,
    wait: Duration,
    pooler: Pooler,
) -> anyhow_like::Result<DbPool> {
    let session_timeout = (pooler == Pooler::None).then_some(statement_timeout);
    let target = crate::pgconn::parse(url, ca_file, session_timeout).map_err(anyhow_like::Error)?;
    // Each host of a multi-host string may take the connect timeout in turn.
    let per_host = target
        .config
        .get_connect_timeout()
        .copied()
        .unwrap_or(Duration::from_secs(3));
    let hosts = u32::try_from(target.config.get_hosts().len().max(1)).unwrap_or(1);
    let manager = Manager::from_config(
        target.config,
        target.tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(wait))
        .create_timeout(Some(per_host * hosts + Duration::from_secs(1)))
        .recycle_timeout(Some(Duration::from_secs(3)))
        .build()
        .map_err(|e| anyhow_like::Error(format!("cannot create the pool: {e}")))?;
    Ok(DbPool {
        pool,
        pooler,
        statement_timeout_ms: statement_timeout.as_millis().to_string(),
    })
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
    /// Pools; a principal that wrote within `read_your_writes` reads from the primary.
    pub fn new(primary: DbPool, replica: Option<DbPool>, read_your_writes: Duration) -> Self {
        Self {
            primary,
            replica,
            recent: std::sync::Arc::new(RecentWriters::new(read_your_writes)),
        }
    }

    pub fn primary(&self) -> &DbPool {
        &self.primary
    }

    pub fn replica(&self) -> Option<&DbPool> {
        self.replica.as_ref()
    }

    /// Runs one statement without an actor on `pool`, labelled with the current trace.
    pub async fn query_on(
        pool: &DbPool,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> ApiResult<Vec<Row>> {
        plain(pool, sql, params).await
    }

    /// Runs one statement as `who` and returns its rows. Reads go to the replica unless
    /// `who` wrote recently, and to the primary when the replica cannot answer.
    pub async fn query(
        &self,
        access: Access,
        who: &Principal,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> ApiResult<Vec<Row>> {
        if let (Access::Read, Some(replica)) = (access, &self.replica) {
            if !self.recent.wrote_recently(&who.subject) {
                match Self::run(replica, who, sql, params).await {
                    Err(e) if retry_on_primary(&e) => {
                        tracing::debug!(error = ?e.internal, "read replica failed; reading from the primary");
                    }
                    done => return done,
                }
            }
        }
        let rows = Self::run(&self.primary, who, sql, params).await?;
        if access == Access::Write {
            self.recent.note(&who.subject);
        }
        Ok(rows)
    }

    async fn run(
        pool: &DbPool,
        who: &Principal,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> ApiResult<Vec<Row>> {
        let mut client = pool.pool.get().await?;
        if pool.pooler == Pooler::Transaction {
            let team: Option<&str> = who.team.as_deref();
            let app = crate::trace::application_name();
            let tx = client.transaction().await?;
            tx.execute(
                SET_ACTOR_LOCAL,
                &[&who.subject, &team, &app, &pool.statement_timeout_ms],
            )
            .await?;
            let rows = tx.query(sql, params).await?;
            tx.commit().await?;
            return Ok(rows);
        }
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
        plain(&self.primary, sql, params).await
    }
}

async fn plain(pool: &DbPool, sql: &str, params: &[&(dyn ToSql + Sync)]) -> ApiResult<Vec<Row>> {
    let mut client: Object = pool.pool.get().await?;
    if pool.pooler == Pooler::Transaction {
        let app = crate::trace::application_name();
        let tx = client.transaction().await?;
        tx.execute(
            SET_APPLICATION_NAME_LOCAL,
            &[&app, &pool.statement_timeout_ms],
        )
        .await?;
        let rows = tx.query(sql, params).await?;
        tx.commit().await?;
        return Ok(rows);
    }
    let set = client.prepare_cached(SET_APPLICATION_NAME).await?;
    let stmt = client.prepare_cached(sql).await?;
    let app = crate::trace::application_name();
    let app: [&(dyn ToSql + Sync); 1] = [&app];
    let (_, rows) = tokio::try_join!(client.query(&set, &app), client.query(&stmt, params))?;
    Ok(rows)
}

/// One statement answering one row, outside any transaction, sent as an unnamed statement
/// in one round trip (tokio-postgres' `query_typed`): safe behind a pooler in transaction
/// mode, where a named statement prepared in one round trip may be gone in the next.
pub async fn one_row(
    client: &Object,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), tokio_postgres::types::Type)],
) -> ApiResult<Row> {
    client
        .query_typed(sql, params)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal_error(format!("expected one row from {sql}")))
}
