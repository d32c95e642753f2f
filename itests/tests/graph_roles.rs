//! Least privilege on the dependency graph and centrality, proven by logging in (over TCP,
//! with a password) as members of idgraph_writer, idgraph_reader and idgraph_admin.

// Test code: a failed unwrap is a failed test, with the error in the panic message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use idgraph_itests::{connect_admin, connect_as_member, denied, test_db};
use serde_json::json;

/// A login name unique to this test database (roles are cluster-wide).
fn login(kind: &str) -> String {
    format!("itg_{}_{kind}", test_db())
}

fn doc(root: &str) -> serde_json::Value {
    json!({
        "source": "manual",
        "nodes": [{"service_id": format!("{root}-api"), "availability": 0.999},
                  {"service_id": format!("{root}-db"), "availability": 0.9995}],
        "edges": [{"source": format!("{root}-api"), "target": format!("{root}-db"),
                   "attributes": {"communication_mode": "sync", "criticality": "hard"}}]
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn writer_ingests_and_sets_reader_only_queries() {
    let admin = connect_admin().await.unwrap();
    let root = format!("itg-{}", uuid::Uuid::new_v4().simple());
    let api = format!("{root}-api");
    let db = format!("{root}-db");

    let w = connect_as_member(&admin, &login("writer"), "idgraph_writer")
        .await
        .unwrap();
    let summary: serde_json::Value = w
        .query_one("SELECT idgraph.ingest_graph($1)", &[&doc(&root)])
        .await
        .unwrap()
        .get(0);
    assert_eq!(summary["created"]["services"], json!(2), "{summary}");
    assert_eq!(summary["created"]["edges"], json!(1), "{summary}");
    w.execute("SELECT idgraph.set_availability($1, 0.998)", &[&api])
        .await
        .unwrap();
    w.execute("SELECT idgraph.set_published_sla($1, 0.9999)", &[&db])
        .await
        .unwrap();
    w.execute(
        "SELECT idgraph.set_slo($1, 0.99, NULL, NULL, 'itest', NULL)",
        &[&api],
    )
    .await
    .unwrap();
    // The writer also reads (writer is a member of reader).
    let n: i64 = w
        .query_one(
            "SELECT count(*) FROM idgraph.dependencies($1, 'downstream', 3)",
            &[&api],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    // No direct table writes: ingest goes through the functions.
    denied(
        &w,
        "INSERT INTO idgraph.services (service_id) VALUES ($1)",
        &[&format!("{root}-sneaky")],
    )
    .await;
    denied(&w, "DELETE FROM idgraph.edges", &[]).await;
    denied(&w, "UPDATE idgraph.services SET availability = 0", &[]).await;
    denied(&w, "DELETE FROM idgraph.slo_audit_log", &[]).await;
    denied(&w, "UPDATE idgraph.centrality SET degree = 0", &[]).await;
    // Betweenness refresh is the admin's (it is a whole-graph computation).
    denied(&w, "SELECT idgraph.refresh_centrality()", &[]).await;

    let r = connect_as_member(&admin, &login("reader"), "idgraph_reader")
        .await
        .unwrap();
    let deps: Vec<String> = r
        .query(
            "SELECT service_id FROM idgraph.dependencies($1, 'downstream', 3)",
            &[&api],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(deps, vec![db.clone()]);
    let comp: serde_json::Value = r
        .query_one("SELECT idgraph.composite_availability($1)", &[&api])
        .await
        .unwrap()
        .get(0);
    let value = comp["composite_availability"].as_f64().unwrap();
    assert!(
        (value - 0.998 * 0.9995).abs() < 1e-12,
        "composite of a two-service chain: {comp}"
    );
    r.query_one("SELECT idgraph.impact_analysis($1, 0.99)", &[&db])
        .await
        .unwrap();
    r.query_one("SELECT idgraph.slo($1)", &[&api])
        .await
        .unwrap();
    r.query("SELECT * FROM idgraph.centrality_of($1)", &[&api])
        .await
        .unwrap();
    denied(&r, "SELECT idgraph.ingest_graph($1)", &[&doc(&root)]).await;
    denied(&r, "SELECT idgraph.set_availability($1, 0.5)", &[&api]).await;
    denied(&r, "SELECT idgraph.set_published_sla($1, 0.5)", &[&db]).await;
    denied(&r, "SELECT idgraph.set_slo($1, 0.5)", &[&api]).await;
    denied(&r, "SELECT idgraph.mark_stale('1 day')", &[]).await;
    denied(&r, "SELECT idgraph.refresh_centrality()", &[]).await;

    let a = connect_as_member(&admin, &login("admin"), "idgraph_admin")
        .await
        .unwrap();
    let refreshed: serde_json::Value = a
        .query_one("SELECT idgraph.refresh_centrality('sampled', 10)", &[])
        .await
        .unwrap()
        .get(0);
    assert!(refreshed["services"].as_i64().unwrap() >= 2, "{refreshed}");

    // Nothing the denied calls tried was written.
    let availability: f64 = admin
        .query_one(
            "SELECT availability FROM idgraph.services WHERE service_id = $1",
            &[&api],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(availability, 0.998);
    let target: f64 = admin
        .query_one(
            "SELECT availability_target FROM idgraph.slos s JOIN idgraph.services v USING (service_pk)
              WHERE v.service_id = $1",
            &[&api],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(target, 0.99);
    for name in ["writer", "reader", "admin"] {
        let _ = admin
            .batch_execute(&format!("DROP ROLE IF EXISTS \"{}\"", login(name)))
            .await;
    }
}
