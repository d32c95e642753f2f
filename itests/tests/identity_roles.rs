//! Least privilege, proven by logging in (over TCP, with a password, as a pipeline does) as
//! members of idgraph_writer, idgraph_reader and idgraph_admin.

// Test code: a failed unwrap is a failed test, with the error in the panic message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use idgraph_itests::{connect_admin, connect_as_member, denied, test_db};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;
use uuid::Uuid;

/// A login name unique to this test database (roles are cluster-wide).
fn login(kind: &str) -> String {
    format!("itr_{}_{kind}", test_db())
}

async fn drop_login(admin: &Client, name: &str) {
    let _ = admin
        .batch_execute(&format!("DROP ROLE IF EXISTS \"{name}\""))
        .await;
}

async fn fresh_target(admin: &Client, prefix: &str) -> String {
    let table = format!("{prefix}_{}", Uuid::new_v4().simple());
    admin
        .batch_execute(&format!(
            "CREATE TABLE public.{table} (id bigserial PRIMARY KEY, payload text);
             INSERT INTO public.{table} (payload) VALUES ('old'), ('old');
             SELECT * FROM idgraph.register_target('public.{table}', 'id');"
        ))
        .await
        .unwrap();
    table
}

#[tokio::test(flavor = "multi_thread")]
async fn writer_allocates_through_functions_only() {
    let admin = connect_admin().await.unwrap();
    let table = fresh_target(&admin, "itr_w").await;
    let name = login("writer");
    let w = connect_as_member(&admin, &name, "idgraph_writer")
        .await
        .unwrap();
    let is_super: bool = w
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!is_super, "the writer login is an ordinary role");

    // The functions work.
    let sub: Uuid = w
        .query_one(
            "SELECT idgraph.create_submission($1::text, 'itests', 'roles')",
            &[&format!("itr-w-{}", Uuid::new_v4())],
        )
        .await
        .unwrap()
        .get(0);
    let ext = Uuid::new_v4().to_string();
    let r = w
        .query_one(
            "SELECT alloc_integer_id, is_new FROM idgraph.allocate($1::uuid, $2::text, 'id', $3::text)",
            &[&sub, &table, &ext],
        )
        .await
        .unwrap();
    assert!(r.get::<_, bool>(1));
    assert!(r.get::<_, i64>(0) > 2, "above the pre-existing rows");
    let batch: Vec<String> = (0..50).map(|_| Uuid::new_v4().to_string()).collect();
    let rows = w
        .query(
            "SELECT * FROM idgraph.allocate_batch($1::uuid, $2::text, 'id', $3::text[])",
            &[&sub, &table, &batch],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 50);
    let committed: i64 = w
        .query_one(
            "SELECT allocations_committed FROM idgraph.commit_submission($1::uuid, 'CR-1')",
            &[&sub],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(committed, 51);
    let sub2: Uuid = w
        .query_one(
            "SELECT idgraph.create_submission($1::text, 'itests', 'roles')",
            &[&format!("itr-w2-{}", Uuid::new_v4())],
        )
        .await
        .unwrap()
        .get(0);
    let ext2 = Uuid::new_v4().to_string();
    w.query_one(
        "SELECT * FROM idgraph.allocate($1::uuid, $2::text, 'id', $3::text)",
        &[&sub2, &table, &ext2],
    )
    .await
    .unwrap();
    let rolled: i64 = w
        .query_one(
            "SELECT allocations_affected FROM idgraph.rollback_submission($1::uuid, 'test')",
            &[&sub2],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rolled, 1);

    // The audit recorded who did it.
    let actors: i64 = admin
        .query_one(
            "SELECT count(*) FROM idgraph.audit_log WHERE submission_id IN ($1, $2) AND db_user = $3",
            &[&sub, &sub2, &name],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        actors >= 6,
        "audit rows carry the writer's login ({actors})"
    );

    // Tables cannot be written directly: the audit cannot be bypassed.
    let tid: i32 = admin
        .query_one(
            "SELECT target_id FROM idgraph.targets WHERE table_oid = $1::text::regclass",
            &[&format!("public.{table}")],
        )
        .await
        .unwrap()
        .get(0);
    denied(
        &w,
        "INSERT INTO idgraph.allocations (target_id, external_id, alloc_integer_id, external_id_type, submission_id, created_by)
         VALUES ($1, 'x', 999999, 'natural_key', $2, 'me')",
        &[&tid, &sub2],
    )
    .await;
    denied(
        &w,
        "UPDATE idgraph.allocations SET alloc_integer_id = alloc_integer_id + 1000000",
        &[],
    )
    .await;
    denied(
        &w,
        "UPDATE idgraph.allocations SET status = 'committed' WHERE submission_id = $1",
        &[&sub2],
    )
    .await;
    denied(&w, "DELETE FROM idgraph.allocations", &[]).await;
    // idgraph.allocations is a view over idgraph.allocation_rows (issue 9): neither is
    // the writer's to write, and a view cannot be truncated at all.
    denied(&w, "TRUNCATE idgraph.allocation_rows", &[]).await;
    denied(
        &w,
        "INSERT INTO idgraph.allocation_rows (alloc_integer_id, target_id, submission_no, id_key)
         VALUES (999999, $1, 1, gen_random_uuid())",
        &[&tid],
    )
    .await;
    denied(
        &w,
        "UPDATE idgraph.allocation_rows SET submission_no = submission_no + 1",
        &[],
    )
    .await;
    denied(&w, "DELETE FROM idgraph.allocation_rows", &[]).await;
    denied(&w, "SELECT count(*) FROM idgraph.allocation_rows", &[]).await;
    let e = w
        .execute("TRUNCATE idgraph.allocations", &[])
        .await
        .expect_err("a view cannot be truncated");
    assert_eq!(e.code(), Some(&SqlState::WRONG_OBJECT_TYPE), "{e:?}");
    denied(
        &w,
        "INSERT INTO idgraph.audit_log (actor, action, sysid, row_hash) VALUES ('me', 'allocate', 0, '\\x00')",
        &[],
    )
    .await;
    denied(
        &w,
        "UPDATE idgraph.submissions SET status = 'pending' WHERE submission_id = $1",
        &[&sub2],
    )
    .await;
    denied(&w, "INSERT INTO idgraph.audit_seals (sysid, snap, row_count, digest) VALUES (0, '1:1:', 0, '\\x00')", &[]).await;
    // Target registration and audit verification are the admin's.
    denied(
        &w,
        "SELECT * FROM idgraph.register_target($1::text::regclass, 'id')",
        &[&format!("public.{table}")],
    )
    .await;
    denied(&w, "SELECT idgraph.verify_audit()", &[]).await;
    denied(&w, "SELECT nextval('idgraph.audit_log_audit_id_seq')", &[]).await;

    drop(w);
    drop_login(&admin, &name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reader_resolves_only() {
    let admin = connect_admin().await.unwrap();
    let table = fresh_target(&admin, "itr_r").await;
    let sub: Uuid = admin
        .query_one(
            "SELECT idgraph.create_submission($1::text, 'itests', 'roles')",
            &[&format!("itr-r-{}", Uuid::new_v4())],
        )
        .await
        .unwrap()
        .get(0);
    let ext = Uuid::new_v4().to_string();
    let id: i64 = admin
        .query_one(
            "SELECT alloc_integer_id FROM idgraph.allocate($1::uuid, $2::text, 'id', $3::text)",
            &[&sub, &table, &ext],
        )
        .await
        .unwrap()
        .get(0);

    let name = login("reader");
    let r = connect_as_member(&admin, &name, "idgraph_reader")
        .await
        .unwrap();
    // Resolve works, both ways and in batch; the tables are readable.
    let got: i64 = r
        .query_one(
            "SELECT alloc_integer_id FROM idgraph.resolve($1::text, 'id', $2::text)",
            &[&table, &ext],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(got, id);
    let back: String = r
        .query_one(
            "SELECT external_id FROM idgraph.resolve_integer($1::text, 'id', $2::bigint)",
            &[&table, &id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(back, ext);
    let n: i64 = r
        .query_one(
            "SELECT count(alloc_integer_id) FROM idgraph.resolve_batch($1::text, 'id', $2::text[])",
            &[&table, &vec![ext.clone()]],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    r.query_one("SELECT count(*) FROM idgraph.allocations", &[])
        .await
        .unwrap();
    r.query_one("SELECT status FROM idgraph.submission($1::uuid)", &[&sub])
        .await
        .unwrap();

    // Nothing that writes.
    let other = Uuid::new_v4().to_string();
    denied(
        &r,
        "SELECT * FROM idgraph.allocate($1::uuid, $2::text, 'id', $3::text)",
        &[&sub, &table, &other],
    )
    .await;
    denied(
        &r,
        "SELECT * FROM idgraph.allocate_batch($1::uuid, $2::text, 'id', $3::text[])",
        &[&sub, &table, &vec![other.clone()]],
    )
    .await;
    denied(
        &r,
        "SELECT idgraph.create_submission('itr-r-x', 'itests', 'roles')",
        &[],
    )
    .await;
    denied(
        &r,
        "SELECT * FROM idgraph.commit_submission($1::uuid)",
        &[&sub],
    )
    .await;
    denied(
        &r,
        "SELECT * FROM idgraph.rollback_submission($1::uuid)",
        &[&sub],
    )
    .await;
    denied(&r, "DELETE FROM idgraph.allocations", &[]).await;
    // The audit trail is the admin's to read.
    denied(&r, "SELECT count(*) FROM idgraph.audit_log", &[]).await;
    denied(&r, "SELECT count(*) FROM idgraph.audit_seals", &[]).await;

    let resolved_after: i64 = admin
        .query_one(
            "SELECT count(*) FROM idgraph.resolve_batch($1::text, 'id', $2::text[]) WHERE alloc_integer_id IS NOT NULL",
            &[&table, &vec![other]],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(resolved_after, 0, "the reader's attempts wrote nothing");
    drop(r);
    drop_login(&admin, &name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_registers_and_verifies() {
    let admin = connect_admin().await.unwrap();
    let table = format!("itr_a_{}", Uuid::new_v4().simple());
    admin
        .batch_execute(&format!(
            "CREATE TABLE public.{table} (id integer PRIMARY KEY);
             INSERT INTO public.{table} VALUES (7), (41);"
        ))
        .await
        .unwrap();
    let name = login("admin");
    let a = connect_as_member(&admin, &name, "idgraph_admin")
        .await
        .unwrap();
    // An admin registers only a table it may write the column of (issue 11): refused
    // before the grant, accepted after it.
    denied(
        &a,
        "SELECT * FROM idgraph.register_target($1::text::regclass, 'id')",
        &[&format!("public.{table}")],
    )
    .await;
    admin
        .batch_execute(&format!("GRANT UPDATE (id) ON public.{table} TO {name}"))
        .await
        .unwrap();
    let next: i64 = a
        .query_one(
            "SELECT next_id FROM idgraph.register_target($1::text::regclass, 'id')",
            &[&format!("public.{table}")],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(next, 42, "allocation starts above max(id)");
    let ok: bool = a
        .query_one("SELECT idgraph.verify_audit()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(ok);
    let n: i64 = a
        .query_one(
            "SELECT count(*) FROM idgraph.audit_log WHERE action = 'register_target' AND db_user = $1",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the registration is audited under the admin's login");
    // Even the admin cannot rewrite the audit trail.
    match a.execute("DELETE FROM idgraph.audit_log", &[]).await {
        Ok(_) => panic!("admin deleted audit rows"),
        Err(e) => assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{e:?}"),
    }
    drop(a);
    drop_login(&admin, &name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn security_definer_functions_pin_search_path() {
    let admin = connect_admin().await.unwrap();
    let rows = admin
        .query(
            "SELECT p.oid::regprocedure::text,
                    EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\\_path=%')
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname IN ('idgraph', 'sead_utility') AND p.prosecdef",
            &[],
        )
        .await
        .unwrap();
    assert!(
        rows.len() >= 10,
        "expected SECURITY DEFINER functions, found {}",
        rows.len()
    );
    let unpinned: Vec<String> = rows
        .iter()
        .filter(|r| !r.get::<_, bool>(1))
        .map(|r| r.get(0))
        .collect();
    assert!(
        unpinned.is_empty(),
        "SECURITY DEFINER without a pinned search_path: {unpinned:?}"
    );
    // And the pinned path never puts a user-writable schema first (public) or omits pg_temp last.
    let loose: Vec<String> = admin
        .query(
            "SELECT p.oid::regprocedure::text
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
                    unnest(p.proconfig) c
              WHERE n.nspname IN ('idgraph', 'sead_utility') AND p.prosecdef
                AND c LIKE 'search\\_path=%' AND c ~ '(^|[=, ])\"?public\"?($|,)'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        loose.is_empty(),
        "SECURITY DEFINER with public on its search_path: {loose:?}"
    );
}
