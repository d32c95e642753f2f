//! `idgraph-facade sli-sync` against a real Prometheus (stage `slo`, `make test-slo`):
//! generated OpenMetrics histories backfilled with `promtool tsdb create-blocks-from
//! openmetrics`, Prometheus on 127.0.0.1, sli-sync into the test database, then the
//! recommendations checked against hand-computed tiers; Prometheus stopped → sli-sync
//! fails without writing, the stored recommendation is served with `stale: true`.
//!
//! The histories (every 5 minutes, 6,000 requests; counters start at 10^6 so that no
//! extrapolation toward zero happens; rates change only on the hour, so every 1h window
//! is exact):
//! - steady: 90 days at 99.95 % (3 of 6,000 requests are 5xx);
//! - bad week: 30 days at 99.95 %, but from 17 to 10 days ago 99 %, and its first day 98 %;
//! - young: 10 days at 99.9 %.
//!
//! Latency (all): cumulative buckets per 5 min le 0.05: 3,000, 0.1: 5,400, 0.25: 5,940,
//! 0.5: 5,994, 1: 6,000 → histogram_quantile p50 = 50 ms, p95 = 0.1 + 0.15 · 300/540 s
//! = 183.333 ms, p99 = 250 ms in every window.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const STEP: i64 = 300;
const PER_STEP: i64 = 6000;
const BUCKETS: [(&str, i64); 6] = [
    ("0.05", 3000),
    ("0.1", 5400),
    ("0.25", 5940),
    ("0.5", 5994),
    ("1", 6000),
    ("+Inf", 6000),
];

struct History {
    service: String,
    days: i64,
    /// Bad requests per 5 minutes for the interval starting at `t`.
    bad: Box<dyn Fn(i64) -> i64>,
}

fn openmetrics(hs: &[History], end_h: i64, now: i64) -> String {
    let mut req = String::from("# TYPE http_requests counter\n");
    let mut dur = String::from("# TYPE http_request_duration_seconds histogram\n");
    for h in hs {
        let t0 = end_h - h.days * 86_400;
        let last = now - now.rem_euclid(STEP);
        let (mut good, mut bad) = (1_000_000i64, 1_000_000i64);
        let mut buckets: Vec<i64> = vec![1_000_000; BUCKETS.len()];
        let mut lines_good = String::new();
        let mut lines_bad = String::new();
        let mut lines_b: Vec<String> = vec![String::new(); BUCKETS.len()];
        let mut t = t0;
        while t <= last {
            if t > t0 {
                let b = (h.bad)(t - STEP);
                good += PER_STEP - b;
                bad += b;
                for (i, (_, n)) in BUCKETS.iter().enumerate() {
                    buckets[i] += n;
                }
            }
            let s = &h.service;
            writeln!(
                lines_good,
                "http_requests_total{{service=\"{s}\",status=\"200\"}} {good} {t}"
            )
            .unwrap();
            writeln!(
                lines_bad,
                "http_requests_total{{service=\"{s}\",status=\"500\"}} {bad} {t}"
            )
            .unwrap();
            for (i, (le, _)) in BUCKETS.iter().enumerate() {
                writeln!(
                    lines_b[i],
                    "http_request_duration_seconds_bucket{{service=\"{s}\",le=\"{le}\"}} {} {t}",
                    buckets[i]
                )
                .unwrap();
            }
            t += STEP;
        }
        req.push_str(&lines_good);
        req.push_str(&lines_bad);
        for l in lines_b {
            dur.push_str(&l);
        }
    }
    format!("{req}{dur}# EOF\n")
}

struct Prometheus {
    child: Option<Child>,
    url: String,
}

impl Prometheus {
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
    }
}

fn start_prometheus(dir: &std::path::Path, om: &str) -> Prometheus {
    let file = dir.join("history.om");
    std::fs::write(&file, om).unwrap();
    let data = dir.join("data");
    let out = Command::new("promtool")
        .args([
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=720h",
        ])
        .arg(&file)
        .arg(&data)
        .output()
        .expect("promtool (Debian package prometheus; scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "promtool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1h\nscrape_configs: []\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=400d")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus");
    let p = Prometheus {
        child: Some(child),
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = probe::ready();
    for _ in 0..300 {
        if http(&format!("{}/-/ready", p.url)) {
            return p;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("prometheus did not become ready");
}

mod probe {
    /// A readiness probe without a runtime: one HTTP/1.0 GET over a TCP socket.
    pub fn ready() -> impl Fn(&str) -> bool {
        |url: &str| {
            use std::io::{Read, Write};
            let rest = url.trim_start_matches("http://");
            let (host, path) = rest.split_once('/').unwrap();
            let Ok(mut s) = std::net::TcpStream::connect(host) else {
                return false;
            };
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            if write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").is_err() {
                return false;
            }
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200")
        }
    }
}

fn sli_sync(prom: &str, services: &[&str], days: u32) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_idgraph-facade"));
    c.arg("sli-sync")
        .arg("--prometheus-url")
        .arg(prom)
        .arg("--lookback-days")
        .arg(days.to_string())
        .env("DATABASE_URL", facade_dsn())
        .stdin(Stdio::null());
    for s in services {
        c.arg("--service").arg(s);
    }
    c.output().unwrap()
}

fn tier(doc: &Value, sli: &str, t: &str) -> Value {
    doc["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["sli_type"] == sli)
        .map(|r| r["tiers"][t].clone())
        .unwrap_or_else(|| panic!("no {sli} in {doc}"))
}

fn approx(v: &Value, want: f64, tol: f64) {
    let x = v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"));
    assert!((x - want).abs() <= tol, "{x} != {want} ± {tol}");
}

/// Expected availability tiers in percent: (target, budget minutes, breach probability).
fn check_availability(doc: &Value, want: [(f64, f64); 3]) {
    for (t, (target, breach)) in ["conservative", "balanced", "aggressive"].iter().zip(want) {
        let x = tier(doc, "availability", t);
        approx(&x["target"], target, 1e-9);
        // (1 − target) × 43,830 minutes (an average month), rounded to 2 decimals.
        approx(
            &x["error_budget_monthly_minutes"],
            (100.0 - target) / 100.0 * 43_830.0,
            0.006,
        );
        approx(&x["estimated_breach_probability"], breach, 1e-4);
    }
}

#[tokio::test]
#[ignore = "needs prometheus and promtool; run by scripts/test.sh stage slo (make test-slo)"]
async fn sli_sync_from_a_real_prometheus_then_recommendations() {
    let run = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let steady = format!("steady-{run}");
    let badweek = format!("badweek-{run}");
    let young = format!("young-{run}");
    let now = chrono::Utc::now().timestamp();
    let end_h = now - now.rem_euclid(3600);
    let (b0, b1) = (end_h - 17 * 86_400, end_h - 10 * 86_400);
    let hs = vec![
        History {
            service: steady.clone(),
            days: 90,
            bad: Box::new(|_| 3),
        },
        History {
            service: badweek.clone(),
            days: 30,
            bad: Box::new(move |t| {
                if (b0..b0 + 86_400).contains(&t) {
                    120
                } else if (b0..b1).contains(&t) {
                    60
                } else {
                    3
                }
            }),
        },
        History {
            service: young.clone(),
            days: 10,
            bad: Box::new(|_| 6),
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut prom = start_prometheus(dir.path(), &openmetrics(&hs, end_h, now));

    let db = admin().await;
    let doc = json!({"source": "manual", "nodes": [
        {"service_id": steady, "metadata": {"team": "team-all"}},
        {"service_id": badweek, "metadata": {"team": "team-all"}},
        {"service_id": young, "metadata": {"team": "team-all"}}]});
    db.query_one("SELECT idgraph.ingest_graph($1)", &[&doc])
        .await
        .unwrap();

    // A service Prometheus knows but idgraph does not: refused before anything is read.
    let out = sli_sync(&prom.url, &[&steady, "not-registered-xyz"], 90);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not registered"),
        "{out:?}"
    );

    let out = sli_sync(&prom.url, &[&steady, &badweek, &young], 90);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "sli-sync: {stderr}");
    // Not a terminal: JSON progress lines.
    let progress: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        progress
            .iter()
            .any(|p| p["sli_sync"] == "query" && p["total"] == 10),
        "{stderr}"
    );
    assert!(
        progress
            .iter()
            .any(|p| p["sli_sync"] == "write" && p["item"] == "committed"),
        "{stderr}"
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["services"], 3, "{summary}");

    // What was written, per window: exact counts.
    let count = |svc: String, w: &'static str| {
        let db = &db;
        async move {
            let r = db
                .query_one(
                    "SELECT count(*), min(a.good_events), max(a.good_events), min(a.total_events), max(a.total_events),
                            min(a.latency_p50_ms), max(a.latency_p95_ms), max(a.latency_p99_ms)
                       FROM idgraph.sli_aggregates a JOIN idgraph.services s USING (service_pk)
                      WHERE s.service_id = $1 AND a.window_size = $2",
                    &[&svc, &w],
                )
                .await
                .unwrap();
            (
                r.get::<_, i64>(0),
                r.get::<_, Option<i64>>(1),
                r.get::<_, Option<i64>>(2),
                r.get::<_, Option<i64>>(3),
                r.get::<_, Option<i64>>(4),
                r.get::<_, Option<f64>>(5),
                r.get::<_, Option<f64>>(6),
                r.get::<_, Option<f64>>(7),
            )
        }
    };
    let (n, gmin, gmax, tmin, tmax, p50, p95, p99) = count(steady.clone(), "1h").await;
    assert_eq!(n, 90 * 24);
    assert_eq!(
        (gmin, gmax, tmin, tmax),
        (Some(71_964), Some(71_964), Some(72_000), Some(72_000))
    );
    approx(&json!(p50), 50.0, 1e-6);
    approx(&json!(p95), 183.333, 1e-3);
    approx(&json!(p99), 250.0, 1e-6);
    assert_eq!(count(badweek.clone(), "1h").await.0, 30 * 24);
    assert_eq!(count(young.clone(), "1h").await.0, 10 * 24);
    let days = count(steady.clone(), "1d").await;
    assert!((89..=90).contains(&days.0), "{days:?}");
    assert_eq!(days.4, Some(72_000 * 24), "{days:?}");

    // Idempotent: the same history again changes nothing.
    let again = sli_sync(&prom.url, &[&steady, &badweek, &young], 90);
    assert!(again.status.success());
    let s2: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(s2["inserted"], 0, "{s2}");
    assert_eq!(s2["updated"], 0, "{s2}");

    // Recommendations over HTTPS, against hand-computed tiers.
    let srv = shared();
    let key = &fixture().keys.all;
    let get = |svc: &str, q: &str| {
        let url = srv.url(&format!("/api/v1/services/{svc}/slo-recommendations{q}"));
        async move {
            let res = client()
                .get(url)
                .header("X-API-Key", key)
                .send()
                .await
                .unwrap();
            let st = res.status().as_u16();
            let v: Value = res.json().await.unwrap();
            assert_eq!(st, 200, "{v}");
            v
        }
    };
    // steady: every window 99.95 % → every tier 99.95, 21.915 budget minutes, never breached.
    for lookback in ["?lookback_days=30", "?lookback_days=90"] {
        let d = get(&steady, lookback).await;
        check_availability(&d, [(99.95, 0.0), (99.95, 0.0), (99.95, 0.0)]);
        assert_eq!(d["data_quality"]["data_completeness"], 1.0, "{d}");
        assert_eq!(tier(&d, "latency", "balanced")["target_ms"], 263.0); // ⌈250 × 1.05⌉
        assert_eq!(tier(&d, "latency", "aggressive")["target_ms"], 250.0);
    }
    // bad week over 30 days: 720 windows, sorted 24 × 98 %, 144 × 99 %, 552 × 99.95 %.
    // Type-7 quantiles h = 719 p: Q(0.001) (h 0.72) = 98, Q(0.01) (h 7.19) = 98,
    // Q(0.05) (h 35.95, between the 36th and 37th) = 99. Breach = share below target:
    // 0, 0, and 24 / 720 for 99 %.
    let d = get(&badweek, "?lookback_days=30").await;
    check_availability(&d, [(98.0, 0.0), (98.0, 0.0), (99.0, 24.0 / 720.0)]);
    // young: 10 days (< 30) → the lookback extends to 90, the 240 windows at 99.9 % give
    // the tiers, and the confidence says it is thin.
    let d = get(&young, "").await;
    assert_eq!(d["lookback_window"]["extended"], true, "{d}");
    assert_eq!(d["data_quality"]["cold_start"], true, "{d}");
    check_availability(&d, [(99.9, 0.0), (99.9, 0.0), (99.9, 0.0)]);

    // serve --sli-sync-interval: the server syncs by itself (every registered service
    // Prometheus knows, the last 2 days): the young service's rows are rewritten as they
    // were (unchanged), and a window deleted meanwhile comes back.
    db.execute(
        "DELETE FROM idgraph.sli_aggregates a USING idgraph.services s
          WHERE s.service_pk = a.service_pk AND s.service_id = $1 AND a.window_size = '1h'
            AND a.window_start >= date_trunc('hour', now()) - interval '2 days'",
        &[&young],
    )
    .await
    .unwrap();
    let young_rows = || async { count(young.clone(), "1h").await.0 };
    assert_eq!(young_rows().await, 10 * 24 - 48);
    {
        let url = prom.url.clone();
        let _srv = Server::start(move |a| {
            a.prometheus_url = Some(url);
            a.sli_sync_interval = Some(Duration::from_secs(1));
        });
        let mut n = 0;
        for _ in 0..120 {
            n = young_rows().await;
            if n == 10 * 24 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(
            n,
            10 * 24,
            "the periodic sync did not write the missing windows"
        );
    }

    // Prometheus gone: sli-sync says so, exits non-zero and writes nothing.
    prom.stop();
    let before: i64 = db
        .query_one("SELECT count(*) FROM idgraph.sli_aggregates", &[])
        .await
        .unwrap()
        .get(0);
    let out = sli_sync(&prom.url, &[&steady], 30);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unreachable") && err.contains("nothing written"),
        "{err}"
    );
    let after: i64 = db
        .query_one("SELECT count(*) FROM idgraph.sli_aggregates", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(before, after);
    // A day later (the stored recommendation expired) with no new SLI data: served,
    // stale: true, never a 5xx (AC-008).
    db.execute(
        "UPDATE idgraph.slo_recommendations r SET generated_at = generated_at - interval '25 hours',
                expires_at = now() - interval '1 hour'
           FROM idgraph.services s WHERE s.service_pk = r.service_pk AND s.service_id = $1 AND r.status = 'active'",
        &[&steady],
    )
    .await
    .unwrap();
    let d = get(&steady, "?lookback_days=30").await;
    assert_eq!(d["stale"], true, "{d}");
    check_availability(&d, [(99.95, 0.0), (99.95, 0.0), (99.95, 0.0)]);
}
