//! A cached graph that is behind catches up from `idgraph.graph_changes` (only what later
//! versions changed) and answers exactly what a fresh load answers: new services and
//! edges, changed attributes, another source's observation, removed edges, availability
//! and SLO changes, cycles opened and closed — each made by another session, each checked
//! against a brand-new session. `idgraph.graph_cache_stats()` shows which path was taken.

// Test code: a failed unwrap is a failed test, with the error in the panic message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use idgraph_itests::{connect_admin, test_db};
use serde_json::{json, Value};
use tokio_postgres::Client;

async fn ingest(c: &Client, doc: Value) -> Value {
    c.query_one("SELECT idgraph.ingest_graph($1)", &[&doc])
        .await
        .unwrap()
        .get(0)
}

/// Everything a graph call answers about the test's services, as one value.
async fn answers(c: &Client, root: &str) -> Value {
    let deps: Vec<String> = c
        .query(
            "SELECT format('%s/%s/%s/%s', service_id, depth, communication_mode, criticality)
               FROM idgraph.dependencies($1, 'downstream', 10) ORDER BY 1",
            &[&root],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let composite: Value = c
        .query_one(
            "SELECT idgraph.composite_availability($1, 0.999) - 'computed_at'",
            &[&root],
        )
        .await
        .unwrap()
        .get(0);
    let cycles: Vec<String> = c
        .query(
            "SELECT array_to_string(members, ',') || ' / ' || array_to_string(cycle_path, ',')
               FROM idgraph.cycles() WHERE members[1] LIKE $1 || '%' ORDER BY 1",
            &[&root],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // The upstream of a dependency of root's: each row's composites (cached per version of
    // the graph in a backend) must follow every change too.
    let impact: Value = c
        .query_one(
            "SELECT idgraph.impact_analysis($1, 0.9, 'full')",
            &[&format!("{root}-y")],
        )
        .await
        .unwrap()
        .get(0);
    json!({"deps": deps, "composite": composite, "cycles": cycles, "impact": impact})
}

async fn stats(c: &Client) -> (i64, i64) {
    let v: Value = c
        .query_one("SELECT idgraph.graph_cache_stats()", &[])
        .await
        .unwrap()
        .get(0);
    (
        v["loads"].as_i64().unwrap(),
        v["catch_ups"].as_i64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cache_behind_catches_up_to_what_a_fresh_load_answers() {
    let _ = test_db();
    let a = connect_admin().await.unwrap();
    let b = connect_admin().await.unwrap();
    let root = format!("delta-{}", uuid::Uuid::new_v4().simple());
    let n = |s: &str| format!("{root}-{s}");
    let e = |s: &str, t: &str| json!({"source": n(s), "target": n(t)});
    ingest(
        &b,
        json!({"source": "manual",
               "nodes": [{"service_id": root, "availability": 0.9995}],
               "edges": [{"source": root, "target": n("x")}, e("x", "y")]}),
    )
    .await;
    // A loads and caches the graph.
    let _ = answers(&a, &root).await;
    let (loads0, catch0) = stats(&a).await;

    // Each step is committed by B; then A (cached, behind) must answer what a new session
    // (loading whole) answers, and must have caught up rather than reloaded.
    let steps: Vec<(&str, String)> = vec![
        (
            "new services and edges",
            format!(
                "SELECT idgraph.ingest_graph('{}')",
                json!({"source": "manual", "nodes": [{"service_id": n("z"), "availability": 0.99}],
                   "edges": [e("y", "z"), e("x", "w")]})
            ),
        ),
        (
            "an edge becomes async and soft",
            format!(
                "SELECT idgraph.ingest_graph('{}')",
                json!({"source": "manual", "edges": [{"source": n("x"), "target": n("y"),
                   "attributes": {"communication_mode": "async", "criticality": "soft"}}]})
            ),
        ),
        (
            "another source's observation of a pair (lower priority: changes nothing)",
            format!(
                "SELECT idgraph.ingest_graph('{}')",
                json!({"source": "kubernetes", "edges": [{"source": n("x"), "target": n("y"),
                   "attributes": {"communication_mode": "sync", "criticality": "hard"}}]})
            ),
        ),
        (
            "a cycle closes",
            format!(
                "SELECT idgraph.ingest_graph('{}')",
                json!({"source": "manual", "edges": [e("z", "x")]})
            ),
        ),
        (
            "availability changes",
            format!("SELECT idgraph.set_availability('{}', 0.95)", n("w")),
        ),
        (
            "an SLO is set",
            format!("SELECT idgraph.set_slo('{root}', 0.999)"),
        ),
        (
            "the manual observation goes stale (the kubernetes one now decides)",
            format!(
                "UPDATE idgraph.edges SET stale = true WHERE discovery_source = 'manual'
               AND source_pk = idgraph._service_pk('{}') AND target_pk = idgraph._service_pk('{}')",
                n("x"),
                n("y")
            ),
        ),
        (
            "the cycle's edge is removed",
            format!(
                "DELETE FROM idgraph.edges WHERE source_pk = idgraph._service_pk('{}')
               AND target_pk = idgraph._service_pk('{}')",
                n("z"),
                n("x")
            ),
        ),
    ];
    let mut expected_catch_ups = catch0;
    for (what, sql) in steps {
        b.batch_execute(&sql).await.unwrap();
        let cached = answers(&a, &root).await;
        let fresh = answers(&connect_admin().await.unwrap(), &root).await;
        assert_eq!(
            cached, fresh,
            "after '{what}' the cached graph differs from a fresh load"
        );
        expected_catch_ups += 1;
        assert_eq!(
            stats(&a).await,
            (loads0, expected_catch_ups),
            "after '{what}' the cache should have caught up, not reloaded"
        );
    }

    // Removing a service is not a delta: the cache reloads, and still answers right.
    b.execute(
        "DELETE FROM idgraph.services WHERE service_id = $1",
        &[&n("w")],
    )
    .await
    .unwrap();
    let cached = answers(&a, &root).await;
    assert_eq!(
        cached,
        answers(&connect_admin().await.unwrap(), &root).await
    );
    assert_eq!(stats(&a).await.0, loads0 + 1, "a removed service reloads");
}

/// The cycles an ingest reports are upkept from the cached graph's: they equal
/// `idgraph.cycles()` in a new session, also when the document closes and opens several.
#[tokio::test(flavor = "multi_thread")]
async fn ingest_upkeeps_cycles_like_a_full_recompute() {
    let _ = test_db();
    let a = connect_admin().await.unwrap();
    let root = format!("cyc-{}", uuid::Uuid::new_v4().simple());
    let n = |s: &str| format!("{root}-{s}");
    let e = |s: &str, t: &str| json!({"source": n(s), "target": n(t)});
    let current = |v: &Value| -> Vec<String> {
        let mut out: Vec<String> = v["cycles"]["current"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["members"][0].as_str().unwrap().starts_with(&root))
            .map(|c| {
                format!(
                    "{} / {}",
                    c["members"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|m| m.as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join(","),
                    c["path"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|m| m.as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            })
            .collect();
        out.sort();
        out
    };
    let docs = [
        json!({"source": "manual", "edges": [e("a", "b"), e("b", "c"), e("c", "d")]}),
        // Closes a -> b -> c -> a and a self loop on d.
        json!({"source": "manual", "edges": [e("c", "a"), e("d", "d")]}),
        // Joins the cycle with d through d -> b (c -> d exists): one component a..d.
        json!({"source": "manual", "edges": [e("d", "b")]}),
        // A separate cycle, and an edge into the big one that closes nothing.
        json!({"source": "manual", "edges": [e("p", "q"), e("q", "p"), e("p", "a")]}),
        // c -> a goes async (cycles count every fresh edge: the component stays).
        json!({"source": "manual", "edges": [{"source": n("c"), "target": n("a"),
               "attributes": {"communication_mode": "async"}}]}),
    ];
    let fresh_cycles = |c: Client| {
        let root = root.clone();
        async move {
            let mut v: Vec<String> = c
                .query(
                    "SELECT array_to_string(members, ',') || ' / ' || array_to_string(cycle_path, ',')
                       FROM idgraph.cycles() WHERE members[1] LIKE $1 || '%'",
                    &[&root],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            v.sort();
            v
        }
    };
    for doc in docs {
        let out = ingest(&a, doc.clone()).await;
        let want = fresh_cycles(connect_admin().await.unwrap()).await;
        assert_eq!(current(&out), want, "after {doc}");
    }
    // Breaking the big component through the table: the next ingest (of anything) sees it.
    a.execute(
        "UPDATE idgraph.edges SET stale = true WHERE source_pk = idgraph._service_pk($1)
            AND target_pk = idgraph._service_pk($2)",
        &[&n("d"), &n("b")],
    )
    .await
    .unwrap();
    let out = ingest(&a, json!({"source": "manual", "edges": [e("x", "y")]})).await;
    assert_eq!(
        current(&out),
        fresh_cycles(connect_admin().await.unwrap()).await
    );
    assert!(
        stats(&a).await.1 >= 5,
        "the ingests should have caught the cache up"
    );
}

async fn counts(c: &Client) -> Value {
    c.query_one("SELECT idgraph.graph_cache_stats()", &[])
        .await
        .unwrap()
        .get(0)
}

/// A fresh backend starts from the cache file another backend of its database wrote,
/// catches up from the change log when the file is behind, and answers what the writer
/// answers; a damaged file is ignored (the backend loads whole) and answers the same.
#[tokio::test(flavor = "multi_thread")]
async fn fresh_backends_start_from_the_cache_file() {
    let _ = test_db();
    let a = connect_admin().await.unwrap();
    let root = format!("file-{}", uuid::Uuid::new_v4().simple());
    let n = |s: &str| format!("{root}-{s}");
    let e = |s: &str, t: &str| json!({"source": n(s), "target": n(t)});
    ingest(
        &a,
        json!({"source": "manual", "edges": [{"source": root, "target": n("x")}, e("x", "y"), e("y", "x")]}),
    )
    .await;
    // A new session loads whole (the ingest's own graph was its transaction's, never
    // written to the file) and writes the file.
    let writer = connect_admin().await.unwrap();
    let want = answers(&writer, &root).await;

    let fresh = connect_admin().await.unwrap();
    assert_eq!(answers(&fresh, &root).await, want);
    let c = counts(&fresh).await;
    assert_eq!(
        (c["from_file"].as_i64(), c["loads"].as_i64()),
        (Some(1), Some(0)),
        "{c}"
    );

    // Behind: another change, then a fresh backend starts from the file and catches up.
    ingest(&a, json!({"source": "manual", "edges": [e("y", "z")]})).await;
    let later = connect_admin().await.unwrap();
    let got = answers(&later, &root).await;
    assert_eq!(got, answers(&writer, &root).await);
    assert_ne!(got, want, "the change must show");
    let c = counts(&later).await;
    assert_eq!(
        (
            c["from_file"].as_i64(),
            c["catch_ups"].as_i64(),
            c["loads"].as_i64()
        ),
        (Some(1), Some(1), Some(0)),
        "{c}"
    );

    // A damaged file: ignored, loaded whole, same answers.
    let dir: String = a
        .query_one("SELECT current_setting('data_directory')", &[])
        .await
        .unwrap()
        .get(0);
    let oid: u32 = a
        .query_one(
            "SELECT oid FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let path = format!("{dir}/pg_idgraph/graph-{oid}.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let damaged = connect_admin().await.unwrap();
    assert_eq!(
        answers(&damaged, &root).await,
        answers(&writer, &root).await
    );
    let c = counts(&damaged).await;
    assert_eq!(
        (c["from_file"].as_i64(), c["loads"].as_i64()),
        (Some(0), Some(1)),
        "{c}"
    );
}
