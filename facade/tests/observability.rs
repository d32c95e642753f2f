//! Operations: W3C `traceparent` from the request to the log lines, the response and the
//! Postgres session (`application_name`), and /metrics with seed 000 §5's names beside
//! idgraph's own, including the database's state read at scrape time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>() | 1))
        .collect()
}

async fn create_submission(base: &str, key: &str) -> String {
    let res = client()
        .post(format!("{base}/api/v1/identity/submissions"))
        .header("X-API-Key", key)
        .json(&json!({"submission_name": unique("obs"), "source_system": "ops", "data_type": "sites"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    v["submission_uuid"].as_str().unwrap().to_owned()
}

fn traceparent_of(res: &reqwest::Response) -> String {
    res.headers()
        .get("traceparent")
        .expect("a traceparent on the response")
        .to_str()
        .unwrap()
        .to_owned()
}

fn parts(tp: &str) -> (String, String, String) {
    let p: Vec<&str> = tp.split('-').collect();
    assert_eq!(p.len(), 4, "{tp}");
    assert_eq!(p[0], "00", "{tp}");
    assert_eq!(p[1].len(), 32, "{tp}");
    assert_eq!(p[2].len(), 16, "{tp}");
    (p[1].to_owned(), p[2].to_owned(), p[3].to_owned())
}

#[tokio::test]
async fn traceparent_reaches_the_logs_the_response_and_postgres() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("facade.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_idgraph-facade"))
        .arg("serve")
        .env("DATABASE_URL", facade_dsn())
        .env("IDGRAPH_LISTEN", format!("127.0.0.1:{port}"))
        .env("IDGRAPH_TLS_CERT", &f.cert_path)
        .env("IDGRAPH_TLS_KEY", &f.key_path)
        .env("IDGRAPH_LOG", "info")
        .stdout(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let base = format!("https://localhost:{port}");
    let c = client();
    let mut up = false;
    for _ in 0..100 {
        if let Ok(r) = c.get(format!("{base}/health/ready")).send().await {
            if r.status() == 200 {
                up = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "binary did not come up");
    let key = f.keys.all.clone();
    let sub = create_submission(&base, &key).await;

    // Hold the submission's lock exclusively, as its commit does, so that the allocation
    // (which takes it in share mode) waits in Postgres, where pg_stat_activity shows it
    // with the trace id in its application_name.
    let mut admin = admin().await;
    let tx = admin.transaction().await.unwrap();
    let sub_id: uuid::Uuid = sub.parse().unwrap();
    tx.execute(
        "SELECT idgraph._lock_submission($1, true, true)",
        &[&sub_id],
    )
    .await
    .unwrap();
    let trace_id = random_hex(16);
    let parent_id = random_hex(8);
    let incoming = format!("00-{trace_id}-{parent_id}-01");
    let inflight = tokio::spawn({
        let c = c.clone();
        let url = format!("{base}/api/v1/identity/submissions/{sub}/allocations");
        let key = key.clone();
        let incoming = incoming.clone();
        async move {
            c.post(url)
                .header("X-API-Key", key)
                .header("traceparent", incoming)
                .json(&json!({"table_name": TABLE, "column_name": COLUMN,
                              "external_id": uuid::Uuid::new_v4()}))
                .send()
                .await
                .unwrap()
        }
    });
    let app_name = format!("idgraph-facade trace={trace_id}");
    let observer = common::admin().await;
    let mut seen: Option<(String, String)> = None;
    for _ in 0..200 {
        let rows = observer
            .query(
                "SELECT coalesce(wait_event_type, ''), query FROM pg_stat_activity \
                  WHERE application_name = $1 AND state = 'active'",
                &[&app_name],
            )
            .await
            .unwrap();
        // Seen once it waits for the lock: before that the session may still be on the
        // statement's way in (the trace id is already set, the wait not yet begun).
        if let Some(r) = rows.first() {
            seen = Some((r.get(0), r.get(1)));
            if seen.as_ref().is_some_and(|(w, _)| w == "Lock") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tx.rollback().await.unwrap();
    let (wait, query) =
        seen.expect("the request's statement in pg_stat_activity under its trace id");
    assert!(query.contains("_allocate"), "{query}");
    assert_eq!(wait, "Lock", "it waits for the submission lock held above");
    let res = inflight.await.unwrap();
    assert_eq!(res.status(), 200);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (t, span, flags) = parts(&traceparent_of(&res));
    assert_eq!(t, trace_id, "the caller's trace is continued");
    assert_ne!(span, parent_id, "the facade answers as a span of its own");
    assert_eq!(flags, "01");

    // Invalid headers are ignored (a new trace), never an error.
    let mut fresh_ids = Vec::new();
    for bad in [
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
    ] {
        let res = c
            .get(format!("{base}/api/v1/identity/targets"))
            .header("X-API-Key", &key)
            .header("traceparent", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{bad}");
        let (t, _, _) = parts(&traceparent_of(&res));
        assert!(!bad.contains(&t) && t != trace_id, "{bad} -> {t}");
        fresh_ids.push(t);
    }
    // A request after the traced one, on a pooled session that ran it: its statements
    // carry its own trace id, never the previous one.
    let res = c
        .get(format!("{base}/api/v1/identity/targets"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    let (untraced, _, _) = parts(&traceparent_of(&res));
    assert_ne!(untraced, trace_id);
    let stale = observer
        .query(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'",
            &[&app_name],
        )
        .await
        .unwrap();
    assert!(stale.is_empty());

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());

    // Every log line of the traced request carries its trace id; there is at least the
    // access log line.
    let lines: Vec<Value> = std::fs::read_to_string(&log_path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let of_request: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == request_id.as_str())
        .collect();
    assert!(
        !of_request.is_empty(),
        "no log line of request {request_id}"
    );
    for l in &of_request {
        assert_eq!(l["span"]["trace_id"], trace_id.as_str(), "{l}");
    }
    assert!(of_request
        .iter()
        .any(|l| l["fields"]["message"] == "request" && l["fields"]["status"] == 200));
    for t in fresh_ids {
        assert!(
            lines.iter().any(|l| l["span"]["trace_id"] == t.as_str()),
            "the new trace {t} is logged"
        );
    }
}

#[tokio::test]
async fn metrics_have_the_seed_names_and_the_database_state() {
    let s = Server::start(|_| {});
    let key = &fixture().keys.all;
    let sub = create_submission(&s.base, key).await;
    let res = client()
        .post(s.url(&format!(
            "/api/v1/identity/submissions/{sub}/allocations/batch"
        )))
        .header("X-API-Key", key)
        .json(&json!({"table_name": TABLE, "column_name": COLUMN,
                      "allocations": [{"external_id": uuid::Uuid::new_v4()}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let c = admin().await;
    let pending: i64 = c
        .query_one(
            "SELECT count(*) FROM idgraph.submissions WHERE status = 'pending'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let m = client()
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for want in [
        // seed 000 §5.1
        "\nhttp_requests_total{method=\"POST\",route=\"/api/v1/identity/submissions\",status=\"201\"}",
        "\nhttp_request_duration_seconds_bucket{",
        "\nhttp_request_errors_total{method=\"POST\",route=\"/api/v1/identity/submissions/{submission_uuid}/allocations\"} 0",
        "\nprocess_resident_memory_bytes ",
        &format!("\nidentity_allocations_total{{is_new=\"true\",table_name=\"{TABLE}\"}}"),
        "\nidentity_allocation_duration_seconds_bucket{le=\"0.001\"}",
        "\nidentity_active_submissions{slot=\"1\"} 1",
        // idgraph's own
        "\nidgraph_facade_http_requests_total{",
        "\nidgraph_facade_allocations_total{",
        "\nidgraph_database_up 1",
        &format!("\nidgraph_identity_submissions{{status=\"pending\"}} {pending}"),
        "\nidgraph_identity_submissions{status=\"rolled_back\"} ",
        "\nidgraph_identity_oldest_pending_submission_age_seconds ",
        "\nidgraph_graph_cycles{status=\"open\"} ",
        "\nidgraph_centrality_stale_services ",
        "\nidgraph_centrality_betweenness_age_seconds ",
        "\nidgraph_audit_rows_inserted_total ",
        "\nidgraph_audit_seals_inserted_total ",
        "\nidgraph_database_replica_lag_seconds{pool=\"primary\"} 0",
    ] {
        assert!(m.contains(want), "{want:?} missing from metrics:\n{m}");
    }
    let slo_table: bool = c
        .query_one(
            "SELECT to_regclass('idgraph.slo_recommendations') IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        m.contains("\nidgraph_slo_recommendations_pending "),
        slo_table,
        "exported exactly when the SLO engine's table is there"
    );
    let slots = m
        .lines()
        .filter(|l| l.starts_with("identity_active_submissions{"))
        .count() as i64;
    assert_eq!(
        slots,
        pending.min(1000),
        "one series per pending submission"
    );
}

#[tokio::test]
async fn metrics_answer_with_the_database_down() {
    // Nothing listens on port 1: the scrape still answers, saying so.
    let s = Server::start(|a| {
        a.db.database_url = "postgres://nobody:none@127.0.0.1:1/none".into();
    });
    let ready = client().get(s.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let res = client().get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let m = res.text().await.unwrap();
    assert!(m.contains("\nidgraph_database_up 0"), "{m}");
    assert!(
        m.contains(
            "\nhttp_requests_total{method=\"GET\",route=\"/health/ready\",status=\"503\"} 1"
        ),
        "{m}"
    );
    assert!(
        m.contains("\nhttp_request_errors_total{method=\"GET\",route=\"/health/ready\"} 1"),
        "a 503 is a server error: {m}"
    );
}
