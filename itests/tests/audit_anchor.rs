//! The audit's seals, anchored outside the database (issue 11, docs/AUDIT.md): an auditor
//! keeps the digests `idgraph.audit_seal_digests` publishes. A superuser who rewrites an
//! audit row, its row hash and the whole seal chain consistently fools `verify_audit()`
//! (which can only recompute the chain from what the database holds) — and the anchored
//! digests expose the rewrite all the same. The rewrite happens in a transaction that
//! is rolled back.

// Test code: a failed unwrap is a failed test, with the error in the panic message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use idgraph_itests::connect_admin;
use uuid::Uuid;

#[tokio::test]
async fn anchored_digests_expose_a_consistent_rewrite() {
    let admin = connect_admin().await.unwrap();
    let table = format!("ita_{}", Uuid::new_v4().simple());
    admin
        .batch_execute(&format!(
            "CREATE TABLE public.{table} (id integer PRIMARY KEY);
             SELECT * FROM idgraph.register_target('public.{table}', 'id');"
        ))
        .await
        .unwrap();
    let sub: Uuid = admin
        .query_one(
            "SELECT idgraph.create_submission($1::text, 'itests', 'anchor')",
            &[&format!("anchor-{}", Uuid::new_v4())],
        )
        .await
        .unwrap()
        .get(0);
    admin
        .execute(
            &format!(
                "SELECT * FROM idgraph.allocate($1, 'public.{table}', 'id', 'A-1', 'natural_key')"
            ),
            &[&sub],
        )
        .await
        .unwrap();
    admin
        .execute("SELECT * FROM idgraph.commit_submission($1)", &[&sub])
        .await
        .unwrap();
    let sealed: Option<i64> = admin
        .query_one("SELECT idgraph.seal_audit()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(sealed.unwrap_or(0) > 0, "the new rows were sealed");

    // The auditor's copy: every seal's digest, paged as a client would page.
    let mut anchored = BTreeMap::new();
    let mut after = 0i64;
    loop {
        let rows = admin
            .query(
                "SELECT seal_id, digest FROM idgraph.audit_seal_digests($1, 2)",
                &[&after],
            )
            .await
            .unwrap();
        if rows.is_empty() {
            break;
        }
        for r in rows {
            let id: i64 = r.get(0);
            anchored.insert(id, r.get::<_, String>(1));
            after = id;
        }
    }
    let seals: i64 = admin
        .query_one("SELECT count(*) FROM idgraph.audit_seals", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        anchored.len() as i64,
        seals,
        "the stream carries every seal"
    );

    // A consistent rewrite, as only a superuser can do it.
    admin.batch_execute("BEGIN").await.unwrap();
    admin
        .batch_execute(
            "ALTER TABLE idgraph.audit_log DISABLE TRIGGER audit_log_append_only;
             ALTER TABLE idgraph.audit_seals DISABLE TRIGGER audit_seals_append_only;
             UPDATE idgraph.audit_log SET actor = 'rewritten'
              WHERE audit_id = (SELECT max(audit_id) FROM idgraph.audit_log WHERE action = 'allocate');
             UPDATE idgraph.audit_log a SET row_hash = idgraph._audit_row_hash(a) WHERE actor = 'rewritten';
             DO $$
             DECLARE s record; v_prev bytea; v_prev_snap pg_snapshot; v_agg bytea; v_sysid bigint;
             BEGIN
               FOR s IN SELECT * FROM idgraph.audit_seals ORDER BY sysid, seal_id LOOP
                 IF v_sysid IS DISTINCT FROM s.sysid THEN v_prev := NULL; v_prev_snap := NULL; v_sysid := s.sysid; END IF;
                 SELECT string_agg(a.row_hash, ''::bytea ORDER BY a.audit_id) INTO v_agg FROM idgraph.audit_log a
                  WHERE a.sysid = s.sysid AND pg_visible_in_snapshot(a.txid, s.snap)
                    AND (v_prev_snap IS NULL OR NOT pg_visible_in_snapshot(a.txid, v_prev_snap));
                 UPDATE idgraph.audit_seals
                    SET prev_digest = v_prev, digest = sha256(coalesce(v_prev, ''::bytea) || coalesce(v_agg, ''::bytea))
                  WHERE seal_id = s.seal_id;
                 v_prev := sha256(coalesce(v_prev, ''::bytea) || coalesce(v_agg, ''::bytea));
                 v_prev_snap := s.snap;
               END LOOP;
             END $$;",
        )
        .await
        .unwrap();
    let fooled: bool = admin
        .query_one("SELECT idgraph.verify_audit()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        fooled,
        "verify_audit() recomputes from what the database holds, so a consistent rewrite passes it"
    );
    let now: BTreeMap<i64, String> = admin
        .query(
            "SELECT seal_id, digest FROM idgraph.audit_seal_digests(0, 10000)",
            &[],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let changed: Vec<i64> = anchored
        .iter()
        .filter(|(id, d)| now.get(id) != Some(d))
        .map(|(id, _)| *id)
        .collect();
    assert!(
        !changed.is_empty(),
        "the anchored digests expose the rewrite"
    );
    admin.batch_execute("ROLLBACK").await.unwrap();
    let intact: bool = admin
        .query_one("SELECT idgraph.verify_audit()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(intact, "after the rollback the trail is intact again");
}
