//! A cancel (pg_cancel_backend / the protocol's cancel request) stops idgraph's long graph
//! computations with 57014, and the same connection goes on working: the backend is
//! neither killed nor left with a broken cache or thread pool. The graph is a star that is
//! one strongly connected component (a hub ↔ 20,000 leaves), built in a transaction that
//! is rolled back, so other tests never see it. Its cycle walk and its betweenness take
//! seconds; the cancel comes after 300 ms. No assertion on time.

// Test code: a failed unwrap is a failed test, with the error in the panic message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use idgraph_itests::{connect_admin, test_db};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

/// Runs `sql` on `c`, sends a cancel request after 300 ms, and returns the error.
async fn canceled(c: &Client, sql: &str) -> tokio_postgres::Error {
    let token = c.cancel_token();
    let cancel = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await
    });
    let r = c.simple_query(sql).await;
    cancel.await.unwrap().unwrap();
    match r {
        Ok(_) => panic!("{sql} was not canceled"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_cycles_and_refresh_and_the_backend_goes_on() {
    let _ = test_db();
    let a = connect_admin().await.unwrap();
    let root = format!("cancel-{}", uuid::Uuid::new_v4().simple());
    let hub = format!("{root}-hub");
    for sql in ["cycles", "refresh"] {
        a.batch_execute("BEGIN; SET LOCAL client_min_messages = warning")
            .await
            .unwrap();
        a.execute(
            "INSERT INTO idgraph.services (service_id, availability)
             SELECT $1, 0.999 UNION ALL
             SELECT format('%s-leaf-%s', $2::text, i), 0.999 FROM generate_series(1, 20000) i",
            &[&hub, &root],
        )
        .await
        .unwrap();
        a.execute(
            "WITH h AS (SELECT service_pk FROM idgraph.services WHERE service_id = $2),
                  l AS (SELECT service_pk FROM idgraph.services WHERE service_id LIKE $1 || '-leaf-%')
             INSERT INTO idgraph.edges (source_pk, target_pk, discovery_source)
             SELECT h.service_pk, l.service_pk, 'manual' FROM h, l
             UNION ALL
             SELECT l.service_pk, h.service_pk, 'manual' FROM h, l",
            &[&root, &hub],
        )
        .await
        .unwrap();
        // Loads the graph into this backend's cache: the cancel then lands in the walk.
        let n: i64 = a
            .query_one(
                "SELECT count(*) FROM idgraph.dependencies($1, 'downstream', 1)",
                &[&hub],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 20_000);
        let statement = match sql {
            "cycles" => "SELECT count(*) FROM idgraph.cycles()",
            _ => "SELECT idgraph.refresh_centrality()",
        };
        let e = canceled(&a, statement).await;
        assert_eq!(
            e.code(),
            Some(&SqlState::QUERY_CANCELED),
            "{statement}: {e}"
        );
        a.batch_execute("ROLLBACK").await.unwrap();
    }
    // Same connection, same backend: graph calls and settings work.
    let n: i64 = a
        .query_one("SELECT count(*) FROM idgraph.cycles()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(n >= 0);
    let threads: String = a
        .query_one("SELECT current_setting('idgraph.max_threads')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(threads, "2");
    let missing = a
        .query_one("SELECT idgraph.impact_analysis($1, 0.99)", &[&hub])
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some(&SqlState::NO_DATA_FOUND), "{missing}");
}
