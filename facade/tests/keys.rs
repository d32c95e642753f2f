//! API-key lifetime (seed 000 §2): every key expires (default 90 days), responses warn in
//! its last 14 days, an expired key is refused (401), and `keys rotate` issues a
//! successor while the old key keeps working for a grace period.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use idgraph_facade::auth::generate_key;

/// A key for team `team`, expiring after `expires` (SQL interval text).
async fn key_expiring(name: &str, expires: &str) -> (String, String) {
    let c = admin().await;
    let k = generate_key().unwrap();
    let scopes = vec!["identity:write".to_owned(), "graph:read".to_owned()];
    c.execute(
        &format!(
            "SELECT idgraph.api_key_create($1, $2, $3, $4, 'team-keys', now() + interval '{expires}')"
        ),
        &[&k.key_id, &name, &k.secret_hash, &scopes],
    )
    .await
    .unwrap();
    (k.key_id, k.full_key)
}

async fn get_targets(s: &Server, key: &str) -> reqwest::Response {
    client()
        .get(s.url("/api/v1/identity/targets"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap()
}

/// `idgraph-facade keys …` as the postgres superuser (an idgraph_admin's rights).
fn keys_cli(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idgraph-facade"))
        .arg("keys")
        .args(args)
        .env("DATABASE_URL", admin_dsn())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn warning(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get("warning")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn key_in_its_last_14_days_gets_a_warning_header() {
    let s = shared();
    let (_, soon) = key_expiring("expiring-soon", "10 days").await;
    let res = get_targets(s, &soon).await;
    assert_eq!(res.status(), 200);
    let w = warning(&res).expect("a Warning header");
    assert!(
        w.starts_with("299 idgraph \"API key expires in 9 days (at "),
        "{w}"
    );
    // Cached, it still warns.
    let res = get_targets(s, &soon).await;
    assert!(warning(&res).is_some());
    // 15 days left: no warning.
    let (_, later) = key_expiring("expiring-later", "15 days").await;
    let res = get_targets(s, &later).await;
    assert_eq!(res.status(), 200);
    assert_eq!(warning(&res), None);
}

#[tokio::test]
async fn expired_key_is_refused_with_401_problem() {
    let s = shared();
    // Expired before its first use.
    let (id, key) = key_expiring("expired", "1 hour").await;
    admin()
        .await
        .execute(
            "UPDATE idgraph.api_keys SET expires_at = now() - interval '1 second' WHERE key_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let p = problem(get_targets(s, &key).await, 401).await;
    assert!(
        p["detail"].as_str().unwrap().contains("expired API key"),
        "{p}"
    );
    // Expiring while cached: the cache does not outlive the key.
    let (_, key) = key_expiring("expires-while-cached", "3 seconds").await;
    assert_eq!(get_targets(s, &key).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let p = problem(get_targets(s, &key).await, 401).await;
    assert!(
        p["detail"].as_str().unwrap().contains("expired API key"),
        "{p}"
    );
}

#[tokio::test]
async fn keys_create_expires_in_90_days_by_default() {
    let (ok, key, err) = tokio::task::spawn_blocking(|| {
        keys_cli(&[
            "create",
            "--name",
            "default-expiry",
            "--scopes",
            "graph:read",
        ])
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(err.contains("expiring"), "{err}");
    let id = key.split('_').nth(2).unwrap().to_owned();
    let days: f64 = admin()
        .await
        .query_one(
            "SELECT (extract(epoch FROM expires_at - now()) / 86400)::float8 FROM idgraph.api_keys_list() WHERE key_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get::<_, f64>(0);
    assert!((89.9..=90.0).contains(&days), "{days}");
    let (ok, _, err) = tokio::task::spawn_blocking(|| {
        keys_cli(&[
            "create",
            "--name",
            "x",
            "--scopes",
            "graph:read",
            "--expires-in-days",
            "0",
        ])
    })
    .await
    .unwrap();
    assert!(!ok && err.contains("expires-in-days"), "{err}");
}

#[tokio::test]
async fn rotate_issues_a_successor_and_the_old_key_works_for_the_grace_period() {
    let s = shared();
    let (old_id, old_key) = key_expiring("rotating", "60 days").await;
    assert_eq!(get_targets(s, &old_key).await.status(), 200);
    let id = old_id.clone();
    let (ok, new_key, err) =
        tokio::task::spawn_blocking(move || keys_cli(&["rotate", &id, "--grace-hours", "2"]))
            .await
            .unwrap();
    assert!(ok, "{err}");
    assert!(err.contains("rotated"), "{err}");
    let new_id = new_key.split('_').nth(2).unwrap().to_owned();
    // The successor: same name, scopes and team, 90 days; the old key: 2 hours left.
    let c = admin().await;
    let rows = c
        .query(
            "SELECT key_id, name, scopes, team, (extract(epoch FROM expires_at - now()) / 3600)::float8 \
               FROM idgraph.api_keys_list() WHERE key_id IN ($1, $2) ORDER BY key_id = $1 DESC",
            &[&old_id, &new_id],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r.get::<_, String>(1), "rotating");
        assert_eq!(
            r.get::<_, Vec<String>>(2),
            vec!["identity:write".to_owned(), "graph:read".to_owned()]
        );
        assert_eq!(r.get::<_, Option<String>>(3).as_deref(), Some("team-keys"));
    }
    let old_hours: f64 = rows[0].get(4);
    assert!((1.9..=2.0).contains(&old_hours), "{old_hours}");
    let new_hours: f64 = rows[1].get(4);
    assert!(new_hours > 89.0 * 24.0, "{new_hours}");
    let replaced_by: Option<String> = c
        .query_one(
            "SELECT replaced_by FROM idgraph.api_keys WHERE key_id = $1",
            &[&old_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(replaced_by.as_deref(), Some(new_id.as_str()));
    // Both work during the grace period; the old one warns.
    let res = get_targets(s, &new_key).await;
    assert_eq!(res.status(), 200);
    assert_eq!(warning(&res), None);
    // (The old key's cached copy may predate the rotation; a fresh facade looks it up.)
    let fresh = Server::start(|_| {});
    let res = get_targets(&fresh, &old_key).await;
    assert_eq!(res.status(), 200);
    assert!(warning(&res).unwrap().contains("expires in 0 days"));
    // A key rotates once; a revoked or unknown one not at all.
    let id = old_id.clone();
    let (ok, _, err) = tokio::task::spawn_blocking(move || keys_cli(&["rotate", &id]))
        .await
        .unwrap();
    assert!(
        !ok && err.contains("rotated already") && err.contains("55000"),
        "{err}"
    );
    let (ok, _, err) = tokio::task::spawn_blocking(|| keys_cli(&["rotate", "0000000000000000"]))
        .await
        .unwrap();
    assert!(!ok && err.contains("P0002"), "{err}");
    // Grace 0: the successor of the successor takes over at once.
    let id = new_id.clone();
    let (ok, _, err) =
        tokio::task::spawn_blocking(move || keys_cli(&["rotate", &id, "--grace-hours", "0"]))
            .await
            .unwrap();
    assert!(ok, "{err}");
    let fresh2 = Server::start(|_| {});
    let p = problem(get_targets(&fresh2, &new_key).await, 401).await;
    assert!(
        p["detail"].as_str().unwrap().contains("expired API key"),
        "{p}"
    );
}

#[tokio::test]
async fn only_admins_rotate_keys() {
    let (c, conn) = tokio_postgres::connect(&facade_dsn(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let e = c
        .query(
            "SELECT * FROM idgraph.api_key_rotate('0123456789abcdef', 'fedcba9876543210', '$argon2id$x')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("42501"));
    // Bad grace: 22023, from an admin.
    let e = admin()
        .await
        .query(
            "SELECT * FROM idgraph.api_key_rotate('0123456789abcdef', 'fedcba9876543210', '$argon2id$x', interval '31 days')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("22023"));
}
