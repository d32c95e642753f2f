//! The per-backend graph cache follows every committed change made in other sessions,
//! never shows uncommitted ones, and is not fooled by a rolled-back change.

// Test code: a failed unwrap is a failed test, with the error in the panic message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use idgraph_itests::{connect_admin, test_db};
use tokio_postgres::Client;

async fn downstream(c: &Client, svc: &str) -> Vec<String> {
    let mut v: Vec<String> = c
        .query(
            "SELECT service_id FROM idgraph.dependencies($1, 'downstream', 10)",
            &[&svc],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    v.sort();
    v
}

async fn ingest(c: &Client, doc: serde_json::Value) {
    c.execute("SELECT idgraph.ingest_graph($1)", &[&doc])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_sees_other_sessions_commits_only() {
    let _ = test_db();
    let a = connect_admin().await.unwrap();
    let b = connect_admin().await.unwrap();
    let root = format!("cache-{}", uuid::Uuid::new_v4());
    let n = |s: &str| format!("{root}-{s}");
    ingest(
        &b,
        serde_json::json!({"source": "manual", "edges": [{"source": root, "target": n("x")}]}),
    )
    .await;
    // A loads (and caches) the graph.
    assert_eq!(downstream(&a, &root).await, vec![n("x")]);

    // B commits a change: A's next call sees it.
    ingest(
        &b,
        serde_json::json!({"source": "manual", "edges": [{"source": n("x"), "target": n("y")}]}),
    )
    .await;
    assert_eq!(downstream(&a, &root).await, vec![n("x"), n("y")]);

    // B changes the graph in an open transaction: A does not see it.
    b.batch_execute("BEGIN").await.unwrap();
    ingest(&b, serde_json::json!({"source": "manual", "edges": [{"source": n("y"), "target": n("ghost")}]})).await;
    assert_eq!(
        downstream(&b, &root).await,
        vec![n("ghost"), n("x"), n("y")],
        "B sees its own change"
    );
    assert_eq!(
        downstream(&a, &root).await,
        vec![n("x"), n("y")],
        "A must not see B's uncommitted change"
    );
    b.batch_execute("ROLLBACK").await.unwrap();
    // B's cache saw the rolled-back graph: after the rollback it must not serve it.
    assert_eq!(
        downstream(&b, &root).await,
        vec![n("x"), n("y")],
        "B must drop the rolled-back graph"
    );

    // Another committed change reaches the same version number the rolled-back one had:
    // neither session may mistake one for the other.
    ingest(
        &a,
        serde_json::json!({"source": "manual", "edges": [{"source": n("y"), "target": n("z")}]}),
    )
    .await;
    assert_eq!(downstream(&b, &root).await, vec![n("x"), n("y"), n("z")]);
    assert_eq!(downstream(&a, &root).await, vec![n("x"), n("y"), n("z")]);

    // A direct change to the edges table (not through ingest) is seen too.
    b.execute(
        "DELETE FROM idgraph.edges e USING idgraph.services s
          WHERE e.target_pk = s.service_pk AND s.service_id = $1",
        &[&n("z")],
    )
    .await
    .unwrap();
    assert_eq!(downstream(&a, &root).await, vec![n("x"), n("y")]);
}
