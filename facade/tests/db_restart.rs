//! The database stops and starts under a running facade: readiness and data routes answer
//! 503 problem+json with Retry-After while it is down, and the facade recovers by itself.
//!
//! It stops the whole cluster, so it is `#[ignore]`d and run alone by the
//! `facade_dbdown` stage of scripts/test.sh (`cargo test -- --ignored`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn pg_ctl(action: &str) {
    let ver = std::env::var("PGVER").unwrap_or_else(|_| "15".into());
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let mut cmd = if root {
        std::process::Command::new("pg_ctlcluster")
    } else {
        let mut c = std::process::Command::new("sudo");
        c.arg("pg_ctlcluster");
        c
    };
    let st = cmd.args([&ver, "main", action]).status().unwrap();
    assert!(st.success(), "pg_ctlcluster {action} failed");
}

/// Starts the cluster again even when an assertion fails half way.
struct Restart;
impl Drop for Restart {
    fn drop(&mut self) {
        let _ = std::process::Command::new("pg_ctlcluster")
            .args(["15", "main", "start"])
            .status();
    }
}

#[tokio::test]
#[ignore = "stops the PostgreSQL cluster; run by scripts/test.sh facade_dbdown"]
async fn database_restart_under_a_running_facade() {
    let f = fixture();
    let s = Server::start(|a| {
        a.pool_wait_ms = 500;
        a.key_cache_ttl_secs = 120;
    });
    let c = client();
    let key = &f.keys.all;
    let targets = || async {
        c.get(s.url("/api/v1/identity/targets"))
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(targets().await.status(), 200);
    assert_eq!(
        c.get(s.url("/health/ready")).send().await.unwrap().status(),
        200
    );

    let guard = Restart;
    pg_ctl("stop");
    // Ready says 503; a data route says 503 problem+json with Retry-After.
    let res = c.get(s.url("/health/ready")).send().await.unwrap();
    assert!(res.headers().get("retry-after").is_some());
    problem(res, 503).await;
    let res = targets().await;
    assert!(res.headers().get("retry-after").is_some());
    let p = problem(res, 503).await;
    assert!(
        !p.to_string().contains("Connection refused") && !p.to_string().contains("postgres"),
        "5xx must not leak internals: {p}"
    );
    // An uncached key cannot be verified either: 503, not 401.
    let res = c
        .post(s.url("/api/v1/identity/submissions"))
        .header("X-API-Key", &f.keys.team_b)
        .json(&json!({"submission_name": unique("down"), "source_system": "s", "data_type": "d"}))
        .send()
        .await
        .unwrap();
    problem(res, 503).await;
    // The process itself is alive.
    assert_eq!(c.get(s.url("/health")).send().await.unwrap().status(), 200);

    pg_ctl("start");
    std::mem::forget(guard);
    // Recovers by itself: ready and data routes come back without a restart.
    let t0 = Instant::now();
    loop {
        let st = c.get(s.url("/health/ready")).send().await.unwrap().status();
        if st == 200 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "facade did not recover"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut ok = false;
    for _ in 0..20 {
        if targets().await.status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ok, "data route did not recover");
    let res = c
        .post(s.url("/api/v1/identity/submissions"))
        .header("X-API-Key", &f.keys.team_b)
        .json(&json!({"submission_name": unique("up"), "source_system": "s", "data_type": "d"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    eprintln!("recovered {:?} after the database came back", t0.elapsed());
}
