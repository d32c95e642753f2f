//! `idgraph.set_principal` inside a transaction block lasts for that transaction only, so
//! that a pooler in transaction mode (PgBouncer) never hands one client's principal to the
//! next client's transaction on the same server session; outside a block it lasts for the
//! session, as the facade uses it on a pooled connection of its own. Run as the facade's
//! role (the door is its alone).

// Test code: a failed unwrap is a failed test, with the error in the panic message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use idgraph_itests::{connect_admin, connect_as_member};
use tokio_postgres::Client;
use uuid::Uuid;

/// Who `c` acts as now: the creator and team recorded for a submission it creates
/// (read back in its own transaction; the principal functions themselves are internal).
async fn principal(c: &Client) -> (Option<String>, Option<String>) {
    let sub: Uuid = c
        .query_one(
            "SELECT idgraph.create_submission($1::text, 'itests', 'scope')",
            &[&format!("scope-{}", Uuid::new_v4())],
        )
        .await
        .unwrap()
        .get(0);
    let row = c
        .query_one(
            "SELECT created_by, created_by_team FROM idgraph.submission($1)",
            &[&sub],
        )
        .await
        .unwrap();
    let by: String = row.get(0);
    // The session user acting for itself: no principal.
    let by = (by != LOGIN).then_some(by);
    (by, row.get(1))
}

const LOGIN: &str = "it_scope_facade";

fn some(p: &str, t: &str) -> (Option<String>, Option<String>) {
    (Some(p.to_owned()), Some(t.to_owned()))
}

#[tokio::test]
async fn a_principal_set_in_a_transaction_ends_with_it() {
    let admin = connect_admin().await.unwrap();
    let facade = connect_as_member(&admin, LOGIN, "idgraph_facade")
        .await
        .unwrap();
    admin
        .batch_execute(&format!("GRANT idgraph_writer TO {LOGIN}"))
        .await
        .unwrap();

    // Committed: gone afterwards.
    facade
        .batch_execute("BEGIN; SELECT idgraph.set_principal('key:local', 'team-a')")
        .await
        .unwrap();
    assert_eq!(principal(&facade).await, some("key:local", "team-a"));
    facade.batch_execute("COMMIT").await.unwrap();
    assert_eq!(principal(&facade).await, (None, None));

    // Rolled back, also by an error: gone afterwards.
    facade
        .batch_execute("BEGIN; SELECT idgraph.set_principal('key:aborted', 'team-a')")
        .await
        .unwrap();
    assert!(facade.batch_execute("SELECT 1 / 0").await.is_err());
    facade.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(principal(&facade).await, (None, None));

    // A session principal stays; a transaction's own wins while it lasts, then the
    // session's is back. Clearing it inside a transaction clears it for that one only.
    facade
        .batch_execute("SELECT idgraph.set_principal('key:session', 'team-s')")
        .await
        .unwrap();
    facade
        .batch_execute("BEGIN; SELECT idgraph.set_principal('key:local', 'team-l')")
        .await
        .unwrap();
    assert_eq!(principal(&facade).await, some("key:local", "team-l"));
    facade.batch_execute("COMMIT").await.unwrap();
    assert_eq!(principal(&facade).await, some("key:session", "team-s"));
    facade
        .batch_execute("BEGIN; SELECT idgraph.set_principal(NULL)")
        .await
        .unwrap();
    assert_eq!(principal(&facade).await, (None, None));
    facade.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(principal(&facade).await, some("key:session", "team-s"));
    facade
        .batch_execute("SELECT idgraph.set_principal(NULL)")
        .await
        .unwrap();
    assert_eq!(principal(&facade).await, (None, None));
}

#[tokio::test]
async fn the_next_transaction_on_the_session_is_audited_as_its_own_user() {
    let admin = connect_admin().await.unwrap();
    let table = format!("itp_{}", Uuid::new_v4().simple());
    admin
        .batch_execute(&format!(
            "CREATE TABLE public.{table} (id integer PRIMARY KEY);
             SELECT * FROM idgraph.register_target('public.{table}', 'id');"
        ))
        .await
        .unwrap();
    // The facade's login role allocating needs the writer's grants too, as a pooled
    // session shared by the facade and a pipeline would have.
    let facade = connect_as_member(&admin, "it_scope_pooled", "idgraph_facade")
        .await
        .unwrap();
    admin
        .batch_execute("GRANT idgraph_writer TO it_scope_pooled")
        .await
        .unwrap();
    let sub: Uuid = facade
        .query_one(
            "SELECT idgraph.create_submission($1::text, 'itests', 'scope')",
            &[&format!("scope-{}", Uuid::new_v4())],
        )
        .await
        .unwrap()
        .get(0);
    let alloc =
        format!("SELECT * FROM idgraph.allocate($1, 'public.{table}', 'id', $2, 'natural_key')");
    // One client's transaction, with its principal ...
    facade
        .batch_execute("BEGIN; SELECT idgraph.set_principal('key:first-client', 'team-a')")
        .await
        .unwrap();
    facade.execute(&alloc, &[&sub, &"P-1"]).await.unwrap();
    facade.batch_execute("COMMIT").await.unwrap();
    // ... then the next client's, on the same server session, sets none.
    facade.execute(&alloc, &[&sub, &"P-2"]).await.unwrap();
    let rows = admin
        .query(
            "SELECT external_id, actor FROM idgraph.audit_log
              WHERE action = 'allocate' AND submission_id = $1 ORDER BY external_id",
            &[&sub],
        )
        .await
        .unwrap();
    let got: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        vec![
            ("P-1".to_owned(), "key:first-client".to_owned()),
            ("P-2".to_owned(), "it_scope_pooled".to_owned()),
        ]
    );
}
