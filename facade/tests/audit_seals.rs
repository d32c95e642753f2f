//! GET /api/v1/audit/seals (issue 11, docs/AUDIT.md): an identity:admin principal pages
//! through the seal chain and gets exactly what idgraph.audit_seal_digests says; anyone
//! else is refused (the auth matrix covers every credential case).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn admins_page_through_the_seal_chain() {
    let s = shared();
    let db = admin().await;
    // At least a few seals: allocate through SQL, commit, seal, three times.
    for i in 0..3 {
        let sub: uuid::Uuid = db
            .query_one(
                "SELECT idgraph.create_submission($1::text, 'tests', 'seals')",
                &[&unique(&format!("seals-{i}"))],
            )
            .await
            .unwrap()
            .get(0);
        db.execute(
            &format!(
                "SELECT * FROM idgraph.allocate($1, '{TABLE}', '{COLUMN}', $2, 'natural_key')"
            ),
            &[&sub, &unique("seal-id")],
        )
        .await
        .unwrap();
        db.execute("SELECT * FROM idgraph.commit_submission($1)", &[&sub])
            .await
            .unwrap();
        db.execute("SELECT idgraph.seal_audit()", &[])
            .await
            .unwrap();
    }
    let expected: Vec<(i64, String)> = db
        .query(
            "SELECT seal_id, digest FROM idgraph.audit_seal_digests(0, 10000)",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(expected.len() >= 3);

    let jwt = good_jwt("identity:admin");
    let mut got = Vec::new();
    let mut after = 0i64;
    loop {
        let res = client()
            .get(s.url(&format!("/api/v1/audit/seals?after={after}&limit=2")))
            .bearer_auth(&jwt)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.unwrap();
        for seal in page["seals"].as_array().unwrap() {
            got.push((
                seal["seal_id"].as_i64().unwrap(),
                seal["digest"].as_str().unwrap().to_owned(),
            ));
            assert_eq!(seal["digest"].as_str().unwrap().len(), 64, "hex sha256");
        }
        match page["next_after"].as_i64() {
            Some(n) => after = n,
            None => break,
        }
    }
    assert_eq!(got, expected, "the pages carry every seal, in order");

    let bad = client()
        .get(s.url("/api/v1/audit/seals?limit=0"))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    problem(bad, 422).await;

    let writer = client()
        .get(s.url("/api/v1/audit/seals"))
        .bearer_auth(good_jwt("identity:write graph:write"))
        .send()
        .await
        .unwrap();
    problem(writer, 403).await;
}
