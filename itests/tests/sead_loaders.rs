//! SEAD's real clients against the real database (issue 9):
//! (a) Shape Shifter's generated `INSERT … SELECT sead_utility.allocate_system_id(…)` from 8
//!     sessions at once, each with its own rows, one submission identifier created on
//!     first use by whichever session comes first: no collision, every row inserted, and
//!     asking again answers the same integers;
//! (b) `COPY sead_utility.identity_allocations … FROM STDIN`: allocates as allocate_batch
//!     (same integers for the same ids), atomically (a refused row leaves nothing), with
//!     its speed printed next to allocate_batch's.

// Test code: a failed unwrap is a failed test, with the error in the panic message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::SinkExt;
use idgraph_itests::connect_admin;
use tokio::sync::Barrier;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;
use uuid::Uuid;

/// A fresh SEAD-style table `public.<prefix>_<random>` (integer key, a few legacy rows)
/// with its key registered. Returns the unqualified table name.
async fn fresh_target(admin: &Client, prefix: &str) -> String {
    let table = format!("{prefix}_{}", Uuid::new_v4().simple());
    admin
        .batch_execute(&format!(
            "CREATE TABLE public.{table} (x_id integer PRIMARY KEY, a text, b integer);
             INSERT INTO public.{table} SELECT g, 'legacy', g FROM generate_series(1, 20) g;
             SELECT * FROM idgraph.register_target('public.{table}', 'x_id');"
        ))
        .await
        .unwrap();
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shape_shifter_statements_from_8_sessions() {
    const SESSIONS: usize = 8;
    const ROWS: i32 = 500;
    let admin = connect_admin().await.unwrap();
    let table = Arc::new(fresh_target(&admin, "itsead_ss").await);
    let ident = Arc::new(format!("shape-shifter-{}", Uuid::new_v4()));
    let barrier = Arc::new(Barrier::new(SESSIONS));
    let mut tasks = Vec::new();
    for s in 0..SESSIONS {
        let (table, ident, barrier) = (table.clone(), ident.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let c = connect_admin().await.unwrap();
            // Each session's own rows: system ids s*ROWS+1 ..= (s+1)*ROWS.
            let lo = i32::try_from(s).unwrap() * ROWS + 1;
            c.batch_execute(&format!(
                "CREATE TEMP TABLE new_data AS
                   SELECT g AS system_id, 'row ' || g AS a, g AS b, '{ident}'::text AS submission_identifier,
                          'CR-itests'::text AS change_request_identifier
                     FROM generate_series({lo}, {lo} + {ROWS} - 1) g"
            ))
            .await
            .unwrap();
            barrier.wait().await;
            // The generated statement as the issue quotes it, with this test's table for tbl_x.
            let sql = format!(
                "INSERT INTO {table} (x_id, a, b) SELECT sead_utility.allocate_system_id(submission_identifier, change_request_identifier, '{table}', 'x_id', new_data.system_id::text, row_to_json(new_data.*)::jsonb) AS x_id, a, b FROM new_data;"
            );
            let n = c.execute(&sql, &[]).await.unwrap();
            assert_eq!(n, u64::try_from(ROWS).unwrap());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }

    // Every row inserted, no integer twice (the table's primary key would have refused),
    // every integer above the legacy rows, and exactly one submission.
    let rows = admin
        .query(
            &format!("SELECT x_id, b FROM public.{table} WHERE a <> 'legacy'"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), SESSIONS * usize::try_from(ROWS).unwrap());
    let ids: HashSet<i32> = rows.iter().map(|r| r.get::<_, i32>(0)).collect();
    assert_eq!(ids.len(), rows.len(), "an integer was given twice");
    assert!(
        ids.iter().all(|&i| i > 20),
        "an integer collided with a legacy row"
    );
    let subs: i64 = admin
        .query_one(
            "SELECT count(*) FROM idgraph.submissions WHERE submission_name = $1 AND change_request_id = 'CR-itests'",
            &[&*ident],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(subs, 1, "one submission, created on first use");

    // Asking again for system ids already allocated answers the same integers.
    let again = admin
        .query(
            &format!(
                "SELECT t.b, sead_utility.allocate_system_id($1, 'CR-itests', '{table}', 'x_id', t.b::text) = t.x_id
                   FROM public.{table} t WHERE t.a <> 'legacy'"
            ),
            &[&*ident],
        )
        .await
        .unwrap();
    assert!(
        again.iter().all(|r| r.get::<_, bool>(1)),
        "a system id got another integer"
    );
    let ok: bool = admin
        .query_one("SELECT idgraph.verify_audit()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(ok);
}

async fn copy_rows(c: &Client, sql: &str, body: String) -> Result<u64, tokio_postgres::Error> {
    let sink = c.copy_in::<_, Bytes>(sql).await?;
    futures_util::pin_mut!(sink);
    sink.send(Bytes::from(body)).await?;
    sink.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_allocates_as_allocate_batch_atomically() {
    const N: usize = 10_000;
    let admin = connect_admin().await.unwrap();
    let table = fresh_target(&admin, "itsead_copy").await;
    let sub: Uuid = admin
        .query_one(
            "SELECT idgraph.create_submission($1::text, 'itests', 'copy')",
            &[&format!("itsead-copy-{}", Uuid::new_v4())],
        )
        .await
        .unwrap()
        .get(0);
    let ids: Vec<String> = (0..N).map(|_| Uuid::new_v4().to_string()).collect();
    let body: String = ids
        .iter()
        .map(|e| format!("{sub}\t{table}\tx_id\t{e}\tuuid\n"))
        .collect();
    let copy_sql = "COPY sead_utility.identity_allocations (submission_uuid, table_name, column_name, external_id, external_id_type) FROM STDIN";
    let t0 = Instant::now();
    let n = copy_rows(&admin, copy_sql, body).await.unwrap();
    let copy_time = t0.elapsed();
    assert_eq!(n, u64::try_from(N).unwrap());

    // The same ids through allocate_batch: the same integers, none new.
    let t1 = Instant::now();
    let rows = admin
        .query(
            "SELECT external_id, alloc_integer_id, is_new FROM idgraph.allocate_batch($1, $2, 'x_id', $3)",
            &[&sub, &table, &ids],
        )
        .await
        .unwrap();
    let again_time = t1.elapsed();
    assert_eq!(rows.len(), N);
    assert!(
        rows.iter().all(|r| !r.get::<_, bool>(2)),
        "COPY left an id unallocated"
    );
    let viewed: i64 = admin
        .query_one(
            "SELECT count(*) FROM sead_utility.identity_allocations WHERE submission_uuid = $1 AND status = 'allocated'
                AND alloc_integer_id > 20",
            &[&sub],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        viewed,
        i64::try_from(N).unwrap(),
        "the relation shows every allocation"
    );

    // allocate_batch of 10,000 new ids, for the comparison.
    let fresh: Vec<String> = (0..N).map(|_| Uuid::new_v4().to_string()).collect();
    let t2 = Instant::now();
    admin
        .query(
            "SELECT 1 FROM idgraph.allocate_batch($1, $2, 'x_id', $3)",
            &[&sub, &table, &fresh],
        )
        .await
        .unwrap();
    let batch_time = t2.elapsed();
    eprintln!(
        "COPY of {N} new ids: {:.1} ms; allocate_batch of {N} new ids: {:.1} ms (ratio {:.2}); allocate_batch of the copied ids again: {:.1} ms",
        copy_time.as_secs_f64() * 1e3,
        batch_time.as_secs_f64() * 1e3,
        copy_time.as_secs_f64() / batch_time.as_secs_f64(),
        again_time.as_secs_f64() * 1e3
    );

    // A supplied alloc_integer_id that differs: refused (22023), and the good rows of the
    // same COPY are not allocated either.
    let good = Uuid::new_v4().to_string();
    let bad = format!(
        "{sub}\t{table}\tx_id\t{good}\t\\N\n{sub}\t{table}\tx_id\t{}\t999999\n",
        ids[0]
    );
    let err = copy_rows(
        &admin,
        "COPY sead_utility.identity_allocations (submission_uuid, table_name, column_name, external_id, alloc_integer_id) FROM STDIN",
        bad,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::INVALID_PARAMETER_VALUE),
        "{err:?}"
    );
    let left: i64 = admin
        .query_one(
            "SELECT count(*) FROM idgraph.allocations WHERE external_id = $1",
            &[&good],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "a refused COPY allocated nothing");
}
