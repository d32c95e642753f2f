//! The graph under concurrent writers: overlapping ingests and telemetry updates neither
//! deadlock nor lose writes, and a backend killed inside an ingest leaves nothing behind.

// Test code: a failed unwrap is a failed test, with the error in the panic message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use idgraph_itests::connect_admin;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::sync::Barrier;
use tokio_postgres::Client;

const SOURCES: [&str; 3] = ["manual", "service_mesh", "otel_service_graph"];

/// A document over a shared pool of services: every session's documents overlap with
/// every other's, listed in a random order so that row locks would be taken in different
/// orders.
fn overlapping_doc(root: &str, rng: &mut impl Rng, source: &str) -> serde_json::Value {
    let mut nodes: Vec<serde_json::Value> = (0..40)
        .map(|i| json!({"service_id": format!("{root}-s{i}"), "availability": rng.gen_range(0.99..1.0)}))
        .collect();
    nodes.shuffle(rng);
    let mut edges: Vec<serde_json::Value> = (0..120)
        .map(|_| {
            let a = rng.gen_range(0..40);
            let b = rng.gen_range(0..40);
            json!({"source": format!("{root}-s{a}"), "target": format!("{root}-s{b}"),
                   "attributes": {"timeout_ms": rng.gen_range(10..1000)}})
        })
        .filter(|e| e["source"] != e["target"])
        .collect();
    edges.shuffle(rng);
    json!({"source": source, "nodes": nodes, "edges": edges})
}

fn edge_set(doc: &serde_json::Value) -> BTreeSet<(String, String, String)> {
    let source = doc["source"].as_str().unwrap().to_string();
    doc["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["source"].as_str().unwrap().to_string(),
                e["target"].as_str().unwrap().to_string(),
                source.clone(),
            )
        })
        .collect()
}

async fn stored_edges(c: &Client, root: &str) -> BTreeSet<(String, String, String)> {
    c.query(
        "SELECT s.service_id, t.service_id, e.discovery_source FROM idgraph.edges e
           JOIN idgraph.services s ON s.service_pk = e.source_pk
           JOIN idgraph.services t ON t.service_pk = e.target_pk
          WHERE s.service_id LIKE $1 || '-%'",
        &[&root],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_ingests_and_telemetry_do_not_deadlock() {
    const SESSIONS: usize = 6;
    const ROUNDS: usize = 4;
    let admin = connect_admin().await.unwrap();
    let root = format!("gcc-{}", uuid::Uuid::new_v4().simple());
    let barrier = Arc::new(Barrier::new(SESSIONS + 2));
    let mut tasks = Vec::new();
    for s in 0..SESSIONS {
        let (root, barrier) = (root.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let c = connect_admin().await.unwrap();
            let mut rng = rand::rngs::StdRng::seed_from_u64(s as u64);
            let mut sent = BTreeSet::new();
            let mut errors = Vec::new();
            for round in 0..ROUNDS {
                let doc = overlapping_doc(&root, &mut rng, SOURCES[(s + round) % SOURCES.len()]);
                barrier.wait().await;
                // Errors are collected, not panicked on: every session must keep meeting
                // the barrier, or the others would wait for it forever.
                match c.execute("SELECT idgraph.ingest_graph($1)", &[&doc]).await {
                    Ok(_) => sent.extend(edge_set(&doc)),
                    Err(e) => errors.push(format!("session {s} round {round}: {e:?}")),
                }
            }
            (sent, errors)
        }));
    }
    // Telemetry: multi-statement transactions touching the same services in random order.
    for t in 0..2u64 {
        let (root, barrier) = (root.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = connect_admin().await.unwrap();
            let mut rng = rand::rngs::StdRng::seed_from_u64(100 + t);
            let mut errors = Vec::new();
            for round in 0..ROUNDS {
                barrier.wait().await;
                if round == 0 {
                    // The services exist only once a first ingest committed.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                let mut ids: Vec<usize> = (0..40).collect();
                ids.shuffle(&mut rng);
                let tx = c.transaction().await.unwrap();
                for i in ids.iter().take(10) {
                    let svc = format!("{root}-s{i}");
                    let a: f64 = rng.gen_range(0.9..1.0);
                    match tx
                        .execute("SELECT idgraph.set_availability($1, $2)", &[&svc, &a])
                        .await
                    {
                        Ok(_) => {}
                        // Not ingested yet in this round: a clear not-found, nothing else.
                        Err(e)
                            if e.code()
                                == Some(&tokio_postgres::error::SqlState::NO_DATA_FOUND) =>
                        {
                            break
                        }
                        Err(e) => {
                            errors.push(format!("telemetry {t} round {round}: {e:?}"));
                            break;
                        }
                    }
                }
                let _ = tx.commit().await;
            }
            (BTreeSet::new(), errors)
        }));
    }
    let mut sent = BTreeSet::new();
    let mut errors = Vec::new();
    for t in tasks {
        let (s, e) = t.await.unwrap();
        sent.extend(s);
        errors.extend(e);
    }
    assert!(
        errors.is_empty(),
        "concurrent graph writers failed: {errors:#?}"
    );
    assert_eq!(
        stored_edges(&admin, &root).await,
        sent,
        "every edge every session sent is stored once per source"
    );
    let services: i64 = admin
        .query_one(
            "SELECT count(*) FROM idgraph.services WHERE service_id LIKE $1 || '-%'",
            &[&root],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(services, 40, "each service once");
    // Degree in the centrality table agrees with the stored edges (the trigger kept up).
    let wrong: i64 = admin
        .query_one(
            "SELECT count(*) FROM idgraph.services s
               JOIN idgraph.centrality c USING (service_pk)
              WHERE s.service_id LIKE $1 || '-%'
                AND c.out_degree <> (SELECT count(DISTINCT e.target_pk) FROM idgraph.edges e
                                      WHERE e.source_pk = s.service_pk AND NOT e.stale)",
            &[&root],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        wrong, 0,
        "out-degrees match the edges after concurrent ingests"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_inside_an_ingest_leaves_nothing() {
    let admin = connect_admin().await.unwrap();
    let root = format!("gck-{}", uuid::Uuid::new_v4().simple());
    let victim = connect_admin().await.unwrap();
    let pid: i32 = victim
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let version_before: i64 = admin
        .query_one("SELECT version FROM idgraph.graph_state", &[])
        .await
        .unwrap()
        .get(0);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let doc = overlapping_doc(&root, &mut rng, "manual");
    victim.batch_execute("BEGIN").await.unwrap();
    victim
        .execute("SELECT idgraph.ingest_graph($1)", &[&doc])
        .await
        .unwrap();
    // The ingest is written but not committed; the backend dies.
    let killed: bool = admin
        .query_one("SELECT pg_terminate_backend($1, 10000)", &[&pid])
        .await
        .unwrap()
        .get(0);
    assert!(killed);
    assert!(victim.execute("SELECT 1", &[]).await.is_err());

    let services: i64 = admin
        .query_one(
            "SELECT count(*) FROM idgraph.services WHERE service_id LIKE $1 || '-%'",
            &[&root],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(services, 0, "nothing of the killed ingest is visible");
    assert!(stored_edges(&admin, &root).await.is_empty());
    let version_after: i64 = admin
        .query_one("SELECT version FROM idgraph.graph_state", &[])
        .await
        .unwrap()
        .get(0);
    assert!(version_after >= version_before);

    // The graph lock died with it: the next ingest goes through and stores everything.
    let c = connect_admin().await.unwrap();
    c.execute("SET lock_timeout = '10s'", &[]).await.unwrap();
    c.execute("SELECT idgraph.ingest_graph($1)", &[&doc])
        .await
        .unwrap();
    assert_eq!(stored_edges(&admin, &root).await, edge_set(&doc));
}
