//! The database side: deadpool-postgres pools (primary, optional read replica) and the
//! per-request actor context.
//!
//! Every call tells the SQL layer who is acting: `idgraph.set_principal(principal, team)`
//! runs on the pooled session right before the call, pipelined with it (one round trip).
//! They are set before every call, so a value left by a previous request never leaks.

use std::time::Duration;

use deadpool_postgres::{
    Config as PoolConfig, ManagerConfig, Object, Pool, PoolConfig as DpConfig, RecyclingMethod,
    Runtime, Timeouts,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::auth::Principal;
use crate::problem::{ApiError, ApiResult};

#[derive(Clone)]
pub struct Db {
    primary: Pool,
    replica: Option<Pool>,
}

// The principal door: only the facade's role may execute it (sqitch `grants_doors`), and
// what it sets lives in the backend, out of reach of any SET.
const SET_ACTOR: &str = "SELECT idgraph.set_principal($1, $2)";

pub fn make_pool(url: &str, size: usize, wait: Duration) -> anyhow_like::Result<Pool> {
    let pg: tokio_postgres::Config = url
        .parse()
        .map_err(|e| anyhow_like::Error(format!("bad database URL: {e}")))?;
    let mut cfg = PoolConfig::new();
    // deadpool's Config wants the fields; copy what tokio-postgres parsed.
    cfg.user = pg.get_user().map(str::to_owned);
    cfg.password = pg
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    cfg.dbname = pg.get_dbname().map(str::to_owned);
    cfg.application_name = Some("idgraph-facade".into());
    cfg.hosts = Some(
        pg.get_hosts()
            .iter()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(s) => s.clone(),
                tokio_postgres::config::Host::Unix(p) => p.to_string_lossy().into_owned(),
            })
            .collect(),
    );
    let ports = pg.get_ports();
    if !ports.is_empty() {
        cfg.ports = Some(ports.to_vec());
    }
    cfg.connect_timeout = Some(Duration::from_secs(3));
    cfg.manager = Some(ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    });
    cfg.pool = Some(DpConfig {
        max_size: size.max(1),
        timeouts: Timeouts {
            wait: Some(wait),
            create: Some(Duration::from_secs(3)),
            recycle: Some(Duration::from_secs(3)),
        },
        ..DpConfig::default()
    });
    cfg.create_pool(Some(Runtime::Tokio1), NoTls)
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
        let actor: [&(dyn ToSql + Sync); 2] = [&who.subject, &team];
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
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.query(&stmt, params).await?)
    }
}
