//! Shared helpers for the integration tests: connections to the test database that
//! `scripts/test.sh` deployed with sqitch, as superuser or as a login role that is a
//! member of one of idgraph's roles.

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

/// The database under test (`IDGRAPH_TEST_DB`, default `idgraph_test`).
pub fn test_db() -> String {
    std::env::var("IDGRAPH_TEST_DB").unwrap_or_else(|_| "idgraph_test".to_string())
}

/// The server's socket directory and port: `PGHOST` / `PGPORT` as libpq reads them
/// (scripts/env.sh sets both), else Debian's cluster.
fn socket_dir() -> String {
    std::env::var("PGHOST").unwrap_or_else(|_| "/var/run/postgresql".to_string())
}
fn port() -> String {
    std::env::var("PGPORT").unwrap_or_else(|_| "5432".to_string())
}

/// Connects as the `postgres` superuser over the local socket.
pub async fn connect_admin() -> Result<Client, tokio_postgres::Error> {
    connect(&format!(
        "host={} port={} user=postgres dbname={}",
        socket_dir(),
        port(),
        test_db()
    ))
    .await
}

/// Connects with an explicit connection string; the connection task is spawned.
pub async fn connect(conninfo: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(conninfo, NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Creates (or resets) a LOGIN role that is a member of `member_of` and connects as it
/// over TCP with a password, the way a pipeline logs in.
pub async fn connect_as_member(
    admin: &Client,
    login: &str,
    member_of: &str,
) -> Result<Client, tokio_postgres::Error> {
    let password = format!("pw-{}", uuid::Uuid::new_v4());
    let exists = admin
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&login])
        .await?
        .is_some();
    let verb = if exists { "ALTER" } else { "CREATE" };
    admin
        .batch_execute(&format!(
            "{verb} ROLE \"{login}\" LOGIN PASSWORD '{password}'"
        ))
        .await?;
    admin
        .batch_execute(&format!("GRANT \"{member_of}\" TO \"{login}\""))
        .await?;
    connect(&format!(
        "host=127.0.0.1 port={} user={login} password={password} dbname={}",
        port(),
        test_db()
    ))
    .await
}

/// Asserts that `sql` fails with 42501 insufficient_privilege (a test helper: panics
/// with the statement and the actual outcome otherwise).
#[allow(clippy::panic)]
pub async fn denied(c: &Client, sql: &str, params: &[&(dyn ToSql + Sync)]) {
    match c.execute(sql, params).await {
        Ok(n) => panic!("expected 42501 for `{sql}`, it succeeded ({n} rows)"),
        Err(e) => assert_eq!(
            e.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "expected 42501 for `{sql}`, got {e:?}"
        ),
    }
}
