//! refresh_centrality reads the backend's cached graph snapshot: a refresh after another
//! session committed an ingest sees the new graph (the cache is keyed by graph_state), and
//! writes the rows that changed.

// Test code: a failed unwrap is a failed test, with the error in the panic message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use idgraph_itests::connect_admin;
use serde_json::json;
use tokio_postgres::Client;

async fn betweenness(c: &Client, service: &str) -> (f64, bool, i32) {
    let r = c
        .query_one(
            "SELECT betweenness, betweenness_stale, in_degree FROM idgraph.centrality_of($1)",
            &[&service],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

#[tokio::test]
async fn refresh_after_another_sessions_ingest_sees_the_new_graph() {
    let a = connect_admin().await.unwrap();
    let b = connect_admin().await.unwrap();
    let root = format!("crf-{}", uuid::Uuid::new_v4().simple());
    let [x, y, z, w] = ["x", "y", "z", "w"].map(|s| format!("{root}-{s}"));
    b.execute(
        "SELECT idgraph.ingest_graph($1)",
        &[&json!({"source": "manual", "edges": [
            {"source": x, "target": y}, {"source": y, "target": z}]})],
    )
    .await
    .unwrap();
    // Session a refreshes: its backend now caches this graph.
    a.query_one("SELECT idgraph.refresh_centrality()", &[])
        .await
        .unwrap();
    assert_eq!(betweenness(&a, &y).await, (1.0, false, 1));
    // Another session commits one more edge, to a new service.
    b.execute(
        "SELECT idgraph.ingest_graph($1)",
        &[&json!({"source": "manual", "edges": [{"source": z, "target": w}]})],
    )
    .await
    .unwrap();
    assert!(betweenness(&a, &y).await.1, "stale after b's ingest");
    let r: serde_json::Value = a
        .query_one("SELECT idgraph.refresh_centrality()", &[])
        .await
        .unwrap()
        .get(0);
    let topology: i64 = a
        .query_one("SELECT topology_version FROM idgraph.graph_state", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(r["graph_version"], json!(topology), "{r}");
    assert!(r["rows_written"].as_i64().unwrap() >= 3, "{r}");
    // x -> y -> z -> w: y lies on x~z and x~w, z on x~w and y~w; w is new.
    assert_eq!(betweenness(&a, &y).await, (2.0, false, 1));
    assert_eq!(betweenness(&a, &z).await, (2.0, false, 1));
    assert_eq!(betweenness(&a, &w).await, (0.0, false, 1));
    b.execute(
        "DELETE FROM idgraph.services WHERE service_id LIKE $1 || '-%'",
        &[&root],
    )
    .await
    .unwrap();
}
