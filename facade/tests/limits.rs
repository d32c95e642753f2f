//! Oversized, deep and malformed bodies: refused from a scan of the bytes, before a
//! parse, with problem+json — and the facade's peak memory (VmHWM of the real binary)
//! barely moves for a 100,000-node ingest document. Also the SQL door itself: 54000.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

fn vm_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next().map(str::to_owned))
        .unwrap()
        .parse()
        .unwrap()
}

fn nodes_doc(n: usize) -> String {
    let nodes: Vec<Value> = (0..n)
        .map(|i| json!({"service_id": format!("bulk-{i:06}"), "metadata": {"team": "t"}}))
        .collect();
    json!({"source": "manual", "nodes": nodes}).to_string()
}

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_100000_node_document_is_refused_before_parsing_without_a_memory_spike() {
    let f = fixture();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_idgraph-facade"))
            .arg("serve")
            .env("DATABASE_URL", facade_dsn())
            .env("IDGRAPH_LISTEN", format!("127.0.0.1:{port}"))
            .env("IDGRAPH_TLS_CERT", &f.cert_path)
            .env("IDGRAPH_TLS_KEY", &f.key_path)
            .env("IDGRAPH_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let c = client();
    let base = format!("https://localhost:{port}");
    let mut up = false;
    for _ in 0..100 {
        if let Ok(r) = c.get(format!("{base}/health/ready")).send().await {
            if r.status() == 200 {
                up = true;
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "binary did not come up");
    let post = |body: String| {
        c.post(format!("{base}/api/v1/services/dependencies"))
            .header("X-API-Key", &f.keys.all)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Warm up (TLS, pool, key cache) with a small document.
    assert_eq!(post(nodes_doc(2)).await.unwrap().status(), 200);
    let body = nodes_doc(100_000);
    let before = vm_kib(pid, "VmHWM:");
    let p = problem(post(body.clone()).await.unwrap(), 422).await;
    let after = vm_kib(pid, "VmHWM:");
    assert!(
        p["type"].as_str().unwrap().ends_with("/limit-exceeded"),
        "{p}"
    );
    assert_eq!(p["errors"][0]["field"], "nodes", "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("more than 50000"),
        "{p}"
    );
    let grown = after.saturating_sub(before) / 1024;
    eprintln!(
        "facade peak RSS (VmHWM) around a {} MB, 100,000-node ingest: {} MiB -> {} MiB",
        body.len() / 1_000_000,
        before / 1024,
        after / 1024
    );
    // The body itself is buffered (≈ its size); no parse into values on top of it.
    assert!(
        grown < 3 * (body.len() as u64 / (1024 * 1024)) + 16,
        "grew {grown} MiB"
    );
    drop(child);
}

#[tokio::test]
async fn deep_wide_and_malformed_bodies_are_problems() {
    let s = shared();
    let c = client();
    let post = |body: String| {
        c.post(s.url("/api/v1/services/dependencies"))
            .header("X-API-Key", &fixture().keys.all)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // 40 levels of nesting in node metadata: 422 before parsing.
    let deep = format!(
        r#"{{"source": "manual", "nodes": [{{"service_id": "d", "metadata": {}{}}}]}}"#,
        r#"{"a": "#.repeat(40),
        "}".repeat(40)
    );
    let p = problem(post(deep).await.unwrap(), 422).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("nested deeper than 32"),
        "{p}"
    );
    // Over a million values (a 3 MB array of zeros): 413.
    let wide = format!(
        r#"{{"source": "manual", "nodes": [], "edges": [], "x": [{}]}}"#,
        vec!["0"; 1_100_000].join(",")
    );
    let p = problem(post(wide).await.unwrap(), 413).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("1000000 JSON values"),
        "{p}"
    );
    // 500,001 edges: 422 from the scan.
    let edges = format!(
        r#"{{"source": "manual", "edges": [{}]}}"#,
        vec!["1"; 500_001].join(",")
    );
    let p = problem(post(edges).await.unwrap(), 422).await;
    assert_eq!(p["errors"][0]["field"], "edges", "{p}");
    // Malformed: still 400.
    problem(
        post(r#"{"source": "manual", "nodes": [}"#.into())
            .await
            .unwrap(),
        400,
    )
    .await;
    // The same bounds hold on every JSON route.
    let p = problem(
        c.post(s.url("/api/v1/identity/resolve/batch"))
            .header("X-API-Key", &fixture().keys.all)
            .header("content-type", "application/json")
            .body("[".repeat(33) + &"]".repeat(33))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(
        p["detail"].as_str().unwrap().contains("nested deeper"),
        "{p}"
    );
}

#[tokio::test]
async fn sql_ingest_of_100000_nodes_is_54000() {
    let c = admin().await;
    let pid: i32 = c
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let before = vm_kib(pid as u32, "VmHWM:");
    let doc: Value = serde_json::from_str(&nodes_doc(100_000)).unwrap();
    let e = c
        .execute("SELECT idgraph.ingest_graph($1)", &[&doc])
        .await
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("54000"), "{e:?}");
    let after = vm_kib(pid as u32, "VmHWM:");
    eprintln!(
        "backend peak RSS (VmHWM) around a 100,000-node ingest_graph: {} MiB -> {} MiB",
        before / 1024,
        after / 1024
    );
}
