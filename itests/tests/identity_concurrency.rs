//! Concurrency of identity allocation against the real database:
//! (a) 32 sessions allocating the same 1,000 external ids one call at a time, in shuffled
//!     orders, all at once: one integer per id, no integer shared, everyone agrees;
//! (b) concurrent batch calls over overlapping, differently ordered sets: no deadlock, agreement;
//! (c) allocations racing a commit of their submission (single and batch calls, READ
//!     COMMITTED and REPEATABLE READ): nothing is left 'allocated', nothing slips in after.

// Test code: a failed unwrap is a failed test, with the error in the panic message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use idgraph_itests::connect_admin;
use rand::seq::SliceRandom;
use tokio::sync::Barrier;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;
use uuid::Uuid;

/// Creates a fresh target table `public.<prefix>_<random>` with pre-existing rows
/// (ids 1..=50) and registers its `id` column. Returns the table name.
async fn fresh_target(admin: &Client, prefix: &str) -> String {
    let table = format!("{prefix}_{}", Uuid::new_v4().simple());
    admin
        .batch_execute(&format!(
            "CREATE TABLE public.{table} (id bigint PRIMARY KEY, payload text);
             INSERT INTO public.{table} SELECT g, 'old' FROM generate_series(1, 50) g;
             SELECT * FROM idgraph.register_target('public.{table}', 'id');"
        ))
        .await
        .unwrap();
    table
}

async fn new_submission(c: &Client, name: &str) -> Uuid {
    c.query_one(
        "SELECT idgraph.create_submission($1::text, 'itests', 'concurrency')",
        &[&format!("{name}-{}", Uuid::new_v4())],
    )
    .await
    .unwrap()
    .get(0)
}

fn uuids(n: usize) -> Vec<String> {
    (0..n).map(|_| Uuid::new_v4().to_string()).collect()
}

async fn target_rows(admin: &Client, table: &str) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM idgraph.allocations a JOIN idgraph.targets t USING (target_id)
              WHERE t.table_oid = $1::text::regclass AND t.column_name = 'id'",
            &[&format!("public.{table}")],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_sessions_same_ids_single_calls() {
    const SESSIONS: usize = 32;
    const IDS: usize = 1_000;
    let admin = connect_admin().await.unwrap();
    let table = Arc::new(fresh_target(&admin, "itc_single").await);
    let ids = Arc::new(uuids(IDS));
    let barrier = Arc::new(Barrier::new(SESSIONS));

    let mut tasks = Vec::new();
    for s in 0..SESSIONS {
        let (table, ids, barrier) = (table.clone(), ids.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let c = connect_admin().await.unwrap();
            // Each session allocates into a submission of its own: idempotency holds
            // across submissions too.
            let sub = new_submission(&c, &format!("itc-single-{s}")).await;
            let stmt = c
                .prepare(
                    "SELECT alloc_integer_id, is_new
                       FROM idgraph.allocate($1::uuid, $2::text, 'id', $3::text)",
                )
                .await
                .unwrap();
            let mut order: Vec<usize> = (0..ids.len()).collect();
            order.shuffle(&mut rand::thread_rng());
            barrier.wait().await;
            let mut seen: HashMap<String, (i64, bool)> = HashMap::with_capacity(ids.len());
            for i in order {
                let row = c
                    .query_one(&stmt, &[&sub, &*table, &ids[i]])
                    .await
                    .unwrap_or_else(|e| panic!("session {s}: allocate failed: {e:?}"));
                seen.insert(ids[i].clone(), (row.get(0), row.get(1)));
            }
            seen
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }

    // Every session saw the same integer for every id.
    let reference: HashMap<&String, i64> = results[0].iter().map(|(k, v)| (k, v.0)).collect();
    for (s, r) in results.iter().enumerate() {
        assert_eq!(r.len(), IDS, "session {s} got an answer for every id");
        for (k, v) in r {
            assert_eq!(reference[k], v.0, "session {s} disagrees on {k}");
        }
    }
    // One integer per id, none shared, all above the pre-existing rows.
    let distinct: HashSet<i64> = reference.values().copied().collect();
    assert_eq!(
        distinct.len(),
        IDS,
        "no integer is shared between external ids"
    );
    assert!(
        distinct.iter().all(|&i| i > 50),
        "new integers are above pre-existing ids"
    );
    // Exactly one session created each id.
    let n_new: usize = results
        .iter()
        .map(|r| r.values().filter(|v| v.1).count())
        .sum();
    assert_eq!(
        n_new, IDS,
        "exactly one is_new=true per external id over all sessions"
    );
    for id in ids.iter() {
        let creators = results.iter().filter(|r| r[id].1).count();
        assert_eq!(creators, 1, "exactly one session created {id}");
    }
    assert_eq!(target_rows(&admin, &table).await, IDS as i64);

    // The table agrees with what the sessions saw.
    let rows = admin
        .query(
            "SELECT a.external_id, a.alloc_integer_id FROM idgraph.allocations a
               JOIN idgraph.targets t USING (target_id)
              WHERE t.table_oid = $1::text::regclass",
            &[&format!("public.{table}")],
        )
        .await
        .unwrap();
    for r in rows {
        let ext: String = r.get(0);
        let id: i64 = r.get(1);
        assert_eq!(reference[&ext], id, "stored integer of {ext}");
    }
    assert!(admin
        .query_one("SELECT idgraph.verify_audit()", &[])
        .await
        .unwrap()
        .get::<_, bool>(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_overlapping_batches_do_not_deadlock() {
    const BATCHES: usize = 8;
    const POOL: usize = 5_000;
    const PER_BATCH: usize = 2_000;
    const ROUNDS: usize = 3;
    let admin = connect_admin().await.unwrap();
    for round in 0..ROUNDS {
        let table = Arc::new(fresh_target(&admin, "itc_batch").await);
        let pool = uuids(POOL);
        let barrier = Arc::new(Barrier::new(BATCHES));
        let mut tasks = Vec::new();
        for b in 0..BATCHES {
            // Overlapping, differently ordered subsets of the pool.
            let mut set: Vec<String> = pool
                .choose_multiple(&mut rand::thread_rng(), PER_BATCH)
                .cloned()
                .collect();
            set.shuffle(&mut rand::thread_rng());
            let (table, barrier) = (table.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                let c = connect_admin().await.unwrap();
                let sub = new_submission(&c, &format!("itc-batch-{round}-{b}")).await;
                barrier.wait().await;
                let res = c
                    .query(
                        "SELECT ordinality, external_id, alloc_integer_id, is_new
                           FROM idgraph.allocate_batch($1::uuid, $2::text, 'id', $3::text[])",
                        &[&sub, &*table, &set],
                    )
                    .await;
                (set, res)
            }));
        }
        let mut agreed: HashMap<String, i64> = HashMap::new();
        let mut n_new = 0usize;
        for t in tasks {
            let (set, res) = t.await.unwrap();
            let rows = match res {
                Ok(rows) => rows,
                Err(e) => {
                    assert_ne!(
                        e.code(),
                        Some(&SqlState::T_R_DEADLOCK_DETECTED),
                        "deadlock: {e:?}"
                    );
                    panic!("batch failed: {e:?}");
                }
            };
            assert_eq!(rows.len(), set.len(), "one row per input id");
            for (i, r) in rows.iter().enumerate() {
                let ord: i64 = r.get(0);
                let ext: String = r.get(1);
                let id: i64 = r.get(2);
                assert_eq!(ord, i as i64 + 1, "rows come back in input order");
                assert_eq!(ext, set[i], "row {ord} is the input id");
                if r.get::<_, bool>(3) {
                    n_new += 1;
                }
                let prev = *agreed.entry(ext.clone()).or_insert(id);
                assert_eq!(prev, id, "batches disagree on {ext}");
            }
        }
        let distinct: HashSet<i64> = agreed.values().copied().collect();
        assert_eq!(distinct.len(), agreed.len(), "no integer shared");
        assert_eq!(n_new, agreed.len(), "each id created by exactly one batch");
        assert_eq!(target_rows(&admin, &table).await, agreed.len() as i64);
    }
}

/// How a racing worker allocates: transaction isolation, calls per transaction, and
/// whether each call is a batch of two fresh ids instead of one single allocation.
#[derive(Clone, Copy)]
struct RaceWorker {
    repeatable_read: bool,
    per_tx: usize,
    batch: bool,
}

/// Runs `n` allocations of fresh ids into `sub`, `per_tx` calls per transaction with a short
/// sleep inside, until the submission stops accepting them. Returns the ids that were
/// allocated and committed by this worker; panics on any error other than 55000 (and, under
/// REPEATABLE READ, 40001: a transaction-wide snapshot that predates the commit).
async fn allocate_until_closed(
    sub: Uuid,
    table: Arc<String>,
    n: usize,
    w: RaceWorker,
) -> Vec<String> {
    let mut c = connect_admin().await.unwrap();
    let mut done = Vec::new();
    let mut left = n;
    while left > 0 {
        let tx = c.transaction().await.unwrap();
        if w.repeatable_read {
            tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .await
                .unwrap();
        }
        let mut batch = Vec::new();
        let mut closed = false;
        for _ in 0..w.per_tx.min(left) {
            let exts: Vec<String> = uuids(if w.batch { 2 } else { 1 });
            let res = if w.batch {
                tx.query(
                    "SELECT alloc_integer_id FROM idgraph.allocate_batch($1::uuid, $2::text, 'id', $3::text[])",
                    &[&sub, &*table, &exts],
                )
                .await
                .map(|_| ())
            } else {
                tx.query_one(
                    "SELECT alloc_integer_id FROM idgraph.allocate($1::uuid, $2::text, 'id', $3::text)",
                    &[&sub, &*table, &exts[0]],
                )
                .await
                .map(|_| ())
            };
            match res {
                Ok(()) => batch.extend(exts),
                Err(e) if e.code() == Some(&SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE) => {
                    closed = true;
                    break;
                }
                Err(e)
                    if w.repeatable_read
                        && e.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE) =>
                {
                    closed = true;
                    break;
                }
                Err(e) => panic!("allocate failed with something other than 55000: {e:?}"),
            }
            if w.per_tx > 1 {
                tx.batch_execute("SELECT pg_sleep(0.002)").await.unwrap();
            }
            left -= 1;
        }
        if closed {
            tx.rollback().await.unwrap();
            break;
        }
        tx.commit().await.unwrap();
        done.extend(batch);
    }
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn allocations_racing_commit_are_never_left_allocated() {
    const WORKERS: usize = 8;
    let admin = connect_admin().await.unwrap();
    for round in 0..3u64 {
        let table = Arc::new(fresh_target(&admin, "itc_race").await);
        let sub = new_submission(&admin, &format!("itc-race-{round}")).await;
        let mut tasks = Vec::new();
        for w in 0..WORKERS {
            // Half the workers allocate in autocommit, half in multi-call transactions; a
            // quarter of them under REPEATABLE READ, a quarter by batches.
            let worker = RaceWorker {
                repeatable_read: w % 4 == 1,
                per_tx: if w % 2 == 0 { 1 } else { 5 },
                batch: w % 4 == 2,
            };
            tasks.push(tokio::spawn(allocate_until_closed(
                sub,
                table.clone(),
                100_000,
                worker,
            )));
        }
        // Let them get going, then commit from another session.
        tokio::time::sleep(std::time::Duration::from_millis(300 + 200 * round)).await;
        let committer = connect_admin().await.unwrap();
        let n_committed: i64 = committer
            .query_one(
                "SELECT allocations_committed FROM idgraph.commit_submission($1::uuid, 'race')",
                &[&sub],
            )
            .await
            .unwrap()
            .get(0);
        let mut ok: Vec<String> = Vec::new();
        for t in tasks {
            ok.extend(t.await.unwrap());
        }
        assert!(!ok.is_empty(), "some allocations went in before the commit");

        let left: i64 = admin
            .query_one(
                "SELECT count(*) FROM idgraph.allocations WHERE submission_id = $1 AND status = 'allocated'",
                &[&sub],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            left, 0,
            "no allocation of the committed submission is left 'allocated'"
        );
        let rows = admin
            .query(
                "SELECT external_id, status FROM idgraph.allocations WHERE submission_id = $1",
                &[&sub],
            )
            .await
            .unwrap();
        let stored: HashMap<String, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(
            stored.len(),
            ok.len(),
            "exactly the successful allocations are stored"
        );
        for ext in &ok {
            assert_eq!(
                stored.get(ext).map(String::as_str),
                Some("committed"),
                "{ext} committed"
            );
        }
        assert_eq!(
            n_committed,
            ok.len() as i64,
            "commit reports every allocation it committed"
        );
        let status: String = admin
            .query_one("SELECT status FROM idgraph.submission($1)", &[&sub])
            .await
            .unwrap()
            .get(0);
        assert_eq!(status, "committed");
    }
    assert!(admin
        .query_one("SELECT idgraph.verify_audit()", &[])
        .await
        .unwrap()
        .get::<_, bool>(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_sessions_reviving_rolled_back_ids() {
    // Rolled-back ids keep their integers; when 16 sessions bring the same ones back at once
    // (single calls and batches mixed), each id is revived exactly once, with its old integer.
    const SESSIONS: usize = 16;
    const IDS: usize = 300;
    let admin = connect_admin().await.unwrap();
    let table = Arc::new(fresh_target(&admin, "itc_revive").await);
    let ids = Arc::new(uuids(IDS));
    let first = new_submission(&admin, "itc-revive-first").await;
    let before: HashMap<String, i64> = admin
        .query(
            "SELECT external_id, alloc_integer_id FROM idgraph.allocate_batch($1::uuid, $2::text, 'id', $3::text[])",
            &[&first, &*table, &*ids],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    admin
        .execute(
            "SELECT * FROM idgraph.rollback_submission($1::uuid, 'revive test')",
            &[&first],
        )
        .await
        .unwrap();

    let barrier = Arc::new(Barrier::new(SESSIONS));
    let mut tasks = Vec::new();
    for s in 0..SESSIONS {
        let (table, ids, barrier) = (table.clone(), ids.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let c = connect_admin().await.unwrap();
            let sub = new_submission(&c, &format!("itc-revive-{s}")).await;
            let mut order: Vec<String> = ids.to_vec();
            order.shuffle(&mut rand::thread_rng());
            barrier.wait().await;
            let mut seen: Vec<(String, i64, bool)> = Vec::new();
            if s % 2 == 0 {
                for ext in order {
                    let r = c
                        .query_one(
                            "SELECT alloc_integer_id, is_new FROM idgraph.allocate($1::uuid, $2::text, 'id', $3::text)",
                            &[&sub, &*table, &ext],
                        )
                        .await
                        .unwrap_or_else(|e| panic!("session {s}: {e:?}"));
                    seen.push((ext, r.get(0), r.get(1)));
                }
            } else {
                for chunk in order.chunks(50) {
                    let rows = c
                        .query(
                            "SELECT external_id, alloc_integer_id, is_new
                               FROM idgraph.allocate_batch($1::uuid, $2::text, 'id', $3::text[])",
                            &[&sub, &*table, &chunk.to_vec()],
                        )
                        .await
                        .unwrap_or_else(|e| panic!("session {s}: {e:?}"));
                    seen.extend(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))));
                }
            }
            seen
        }));
    }
    let mut revived: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        for (ext, id, is_new) in t.await.unwrap() {
            assert_eq!(before[&ext], id, "{ext} came back with a different integer");
            if is_new {
                *revived.entry(ext).or_default() += 1;
            }
        }
    }
    assert_eq!(revived.len(), IDS, "every rolled-back id was revived");
    assert!(
        revived.values().all(|&n| n == 1),
        "each id revived exactly once"
    );
    let left: i64 = admin
        .query_one(
            "SELECT count(*) FROM idgraph.allocations WHERE submission_id = $1 OR status <> 'allocated'
                AND target_id = (SELECT target_id FROM idgraph.targets WHERE table_oid = $2::text::regclass)",
            &[&first, &format!("public.{table}")],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        left, 0,
        "all rows moved to the reviving submissions, status allocated"
    );
    assert_eq!(target_rows(&admin, &table).await, IDS as i64);
}

/// Expiry skips a submission with an allocation in flight (it holds the submission's lock
/// in share mode) instead of waiting for it, and takes it once that allocation is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_skips_a_submission_with_an_allocation_in_flight() {
    let admin = connect_admin().await.unwrap();
    let table = fresh_target(&admin, "itc_expiry").await;
    let sub = new_submission(&admin, "itc-expiry").await;
    // Aged far beyond anything the other tests of this binary (running at the same time)
    // create, so that the expiry below reaches this submission alone.
    admin
        .execute(
            "UPDATE idgraph.submissions SET created_at = now() - interval '200 years' WHERE submission_id = $1",
            &[&sub],
        )
        .await
        .unwrap();
    let mut writer = connect_admin().await.unwrap();
    let tx = writer.transaction().await.unwrap();
    tx.query_one(
        "SELECT alloc_integer_id FROM idgraph.allocate($1::uuid, $2::text, 'id', $3::text)",
        &[&sub, &table, &Uuid::new_v4().to_string()],
    )
    .await
    .unwrap();
    let expirer = connect_admin().await.unwrap();
    expirer
        .batch_execute("SET statement_timeout = '5s'")
        .await
        .unwrap();
    let expired = expirer
        .query(
            "SELECT submission_id FROM idgraph.expire_submissions(interval '199 years', 100000) WHERE submission_id = $1",
            &[&sub],
        )
        .await
        .unwrap();
    assert!(
        expired.is_empty(),
        "a busy submission is skipped, not waited for"
    );
    tx.commit().await.unwrap();
    let expired = expirer
        .query(
            "SELECT allocations_rolled_back FROM idgraph.expire_submissions(interval '199 years', 100000) WHERE submission_id = $1",
            &[&sub],
        )
        .await
        .unwrap();
    assert_eq!(expired.len(), 1, "once idle it is expired");
    assert_eq!(expired[0].get::<_, i64>(0), 1);
}
