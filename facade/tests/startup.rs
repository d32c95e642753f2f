//! The start-up check: a facade whose role lacks the idgraph_facade grants, or whose
//! database has no (or another version of) idgraph, refuses to serve with a clear
//! message; one whose database is unreachable serves 503s (never 500) with readiness
//! saying why; a grant revoked under a running facade answers 503, never 500.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Runs `idgraph-facade serve` against `url`; returns (exit code, stderr) once it exits
/// (it must, within 20 s).
fn serve_until_exit(url: &str) -> (Option<i32>, String) {
    let f = fixture();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_idgraph-facade"))
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("IDGRAPH_LISTEN", format!("127.0.0.1:{port}"))
        .env("IDGRAPH_TLS_CERT", &f.cert_path)
        .env("IDGRAPH_TLS_KEY", &f.key_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (st.code(), err);
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the facade kept serving against {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn login_role(name: &str, grant_facade: bool) -> String {
    let c = admin().await;
    c.batch_execute(&format!(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') THEN
             CREATE ROLE {name} LOGIN;
           END IF;
         END $$;
         ALTER ROLE {name} LOGIN NOSUPERUSER PASSWORD '{LOGIN_PASSWORD}';
         {}",
        if grant_facade {
            format!("GRANT idgraph_facade TO {name};")
        } else {
            format!("REVOKE idgraph_facade FROM {name};")
        }
    ))
    .await
    .unwrap();
    format!(
        "postgres://{name}:{LOGIN_PASSWORD}@127.0.0.1:{}/{}",
        pg_port(),
        db_name()
    )
}

#[tokio::test]
async fn role_without_facade_grants_refuses_to_serve() {
    let url = login_role("idgraph_facade_nogrant", false).await;
    let (code, err) = tokio::task::spawn_blocking(move || serve_until_exit(&url))
        .await
        .unwrap();
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("refusing to serve")
            && err.contains("idgraph_facade_nogrant lacks the idgraph_facade grants"),
        "{err}"
    );
}

#[tokio::test]
async fn database_without_idgraph_refuses_to_serve() {
    let url = login_role("idgraph_facade_noext", true).await;
    // The same role, in the cluster's `postgres` database, where idgraph is not installed.
    let url = format!("{}/postgres", url.rsplit_once('/').unwrap().0);
    let (code, err) = tokio::task::spawn_blocking(move || serve_until_exit(&url))
        .await
        .unwrap();
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("database postgres has no idgraph extension"),
        "{err}"
    );
}

#[tokio::test]
async fn unreachable_database_answers_503_and_readiness_says_why() {
    // A port where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = Server::start(|a| {
        a.db.database_url = format!("postgres://nobody:x@127.0.0.1:{port}/nowhere");
    });
    let c = client();
    let p = problem(c.get(s.url("/health/ready")).send().await.unwrap(), 503).await;
    assert!(p["detail"].as_str().unwrap().contains("unavailable"), "{p}");
    let res = c
        .get(s.url("/api/v1/identity/targets"))
        .header("X-API-Key", &fixture().keys.all)
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("retry-after"));
    let p = problem(res, 503).await;
    assert_eq!(
        p["type"].as_str().unwrap().rsplit('/').next(),
        Some("not-ready"),
        "{p}"
    );
}

#[tokio::test]
async fn grant_revoked_under_a_running_facade_answers_503_not_500() {
    let name = "idgraph_facade_revoked";
    let url = login_role(name, true).await;
    let s = Server::start(|a| a.db.database_url = url.clone());
    let c = client();
    let key = &fixture().keys.all;
    let res = c
        .get(s.url("/api/v1/identity/targets"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    admin()
        .await
        .batch_execute(&format!("REVOKE idgraph_facade FROM {name}"))
        .await
        .unwrap();
    // A key not yet cached (the lookup itself is refused) and a cached one (the route's
    // function is refused): both 503 with Retry-After.
    for k in [&fixture().keys.graph_only, key] {
        let res = c
            .get(s.url("/api/v1/identity/targets"))
            .header("X-API-Key", k)
            .send()
            .await
            .unwrap();
        assert!(res.headers().contains_key("retry-after"));
        problem(res, 503).await;
    }
    let p = problem(c.get(s.url("/health/ready")).send().await.unwrap(), 503).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("idgraph_facade_revoked lacks the idgraph_facade grants"),
        "{p}"
    );
    // Granted again: serving again, without a restart.
    admin()
        .await
        .batch_execute(&format!("GRANT idgraph_facade TO {name}"))
        .await
        .unwrap();
    let mut ok = false;
    for _ in 0..30 {
        let res = c
            .get(s.url("/api/v1/identity/targets"))
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap();
        if res.status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ok, "the facade did not recover after the grant");
}
