//! End to end over real HTTPS against the real database: the SEAD workflow and its error
//! paths, idempotency, problem+json for every kind of bad input, the graph and
//! centrality routes, operations endpoints, rate limiting, graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

fn sub_url(s: &Server, id: &str, tail: &str) -> String {
    s.url(&format!("/api/v1/identity/submissions/{id}{tail}"))
}

async fn create_submission(key: &str, name: &str) -> Value {
    let s = shared();
    let res = client()
        .post(s.url("/api/v1/identity/submissions"))
        .header("X-API-Key", key)
        .json(&json!({"submission_name": name, "source_system": "arbodat", "data_type": "sites"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

#[tokio::test]
async fn sead_workflow_end_to_end() {
    let s = shared();
    let c = client();
    let key = &fixture().keys.team_a;
    let name = unique("sites");
    let sub = create_submission(key, &name).await;
    assert_eq!(sub["status"], "pending");
    assert_eq!(sub["submission_name"], name.as_str());
    let id = sub["submission_uuid"].as_str().unwrap().to_owned();

    // The same name again: 409 problem.
    let res = c
        .post(s.url("/api/v1/identity/submissions"))
        .header("X-API-Key", key)
        .json(&json!({"submission_name": name, "source_system": "x", "data_type": "y"}))
        .send()
        .await
        .unwrap();
    problem(res, 409).await;

    // Single allocation, then the same again: same integer, not new (idempotent).
    let ext = uuid::Uuid::new_v4().to_string();
    let body = json!({"table_name": TABLE, "column_name": COLUMN, "external_id": ext,
                      "external_id_type": "uuid", "content_hash": "abc"});
    let a1: Value = c
        .post(sub_url(s, &id, "/allocations"))
        .header("X-API-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a1["is_new_allocation"], true, "{a1}");
    let int1 = a1["alloc_integer_id"].as_i64().unwrap();
    let a2: Value = c
        .post(sub_url(s, &id, "/allocations"))
        .header("X-API-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a2["alloc_integer_id"].as_i64(), Some(int1));
    assert_eq!(a2["is_new_allocation"], false);

    // Batch: new ids plus the one above; in input order; a duplicate shares its integer.
    let e2 = uuid::Uuid::new_v4().to_string();
    let e3 = uuid::Uuid::new_v4().to_string();
    let batch = json!({"table_name": TABLE, "column_name": COLUMN, "allocations": [
        {"external_id": e2}, {"external_id": ext}, {"external_id": e3}, {"external_id": e2}]});
    let res = c
        .post(sub_url(s, &id, "/allocations/batch"))
        .header("X-API-Key", key)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let b: Value = res.json().await.unwrap();
    let rows = b["allocations"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[1]["alloc_integer_id"].as_i64(), Some(int1));
    assert_eq!(rows[0]["alloc_integer_id"], rows[3]["alloc_integer_id"]);
    assert_eq!(b["summary"]["total"], 4);
    assert_eq!(b["summary"]["new"], 2);
    // The batch again: idempotent.
    let b2: Value = c
        .post(sub_url(s, &id, "/allocations/batch"))
        .header("X-API-Key", key)
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(b2["summary"]["new"], 0);
    assert_eq!(
        b2["allocations"][0]["alloc_integer_id"],
        rows[0]["alloc_integer_id"]
    );

    // Resolve (SEAD shape under the submission, and the plain one), batch, reverse.
    let res = c
        .get(sub_url(s, &id, "/resolve"))
        .query(&[
            ("table_name", TABLE),
            ("column_name", COLUMN),
            ("external_id", &ext),
        ])
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["alloc_integer_id"].as_i64(), Some(int1));
    assert_eq!(r["status"], "allocated");
    let unknown = uuid::Uuid::new_v4().to_string();
    let res = c
        .get(s.url("/api/v1/identity/resolve"))
        .query(&[
            ("table_name", TABLE),
            ("column_name", COLUMN),
            ("external_id", &unknown),
        ])
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    let rb: Value = c
        .post(s.url("/api/v1/identity/resolve/batch"))
        .header("X-API-Key", key)
        .json(&json!({"table_name": TABLE, "column_name": COLUMN, "external_ids": [ext, unknown]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rb["found"], 1, "{rb}");
    assert_eq!(rb["results"][1]["alloc_integer_id"], Value::Null);
    let rev: Value = c
        .get(s.url("/api/v1/identity/reverse"))
        .query(&[("table_name", TABLE), ("column_name", COLUMN)])
        .query(&[("alloc_integer_id", int1)])
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rev["external_id"], ext.as_str(), "{rev}");
    let dc: Value = c
        .post(s.url("/api/v1/identity/detect-change"))
        .header("X-API-Key", key)
        .json(&json!({"table_name": TABLE, "column_name": COLUMN, "external_id": ext, "content_hash": "abc"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dc["action"], "skip", "{dc}");

    // Status and statistics.
    let st: Value = c
        .get(sub_url(s, &id, ""))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["status"], "pending");
    assert_eq!(st["new_allocations"], 3, "{st}");

    // Commit (empty body accepted), then commit again: 409; allocate after commit: 409.
    let res = c
        .post(sub_url(s, &id, "/commit"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cm: Value = res.json().await.unwrap();
    assert_eq!(cm["status"], "committed");
    assert_eq!(cm["allocations_committed"], 3);
    let res = c
        .post(sub_url(s, &id, "/commit"))
        .header("X-API-Key", key)
        .json(&json!({"change_request_id": "CR-1"}))
        .send()
        .await
        .unwrap();
    problem(res, 409).await;
    let res = c
        .post(sub_url(s, &id, "/allocations"))
        .header("X-API-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    problem(res, 409).await;
    let st: Value = c
        .get(sub_url(s, &id, ""))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["status"], "committed");

    // Rollback of another submission; delete_allocations=true is refused.
    let sub2 = create_submission(key, &unique("rb")).await;
    let id2 = sub2["submission_uuid"].as_str().unwrap();
    let res = c
        .post(sub_url(s, id2, "/rollback"))
        .header("X-API-Key", key)
        .json(&json!({"delete_allocations": true}))
        .send()
        .await
        .unwrap();
    let p = problem(res, 422).await;
    assert_eq!(p["errors"][0]["field"], "delete_allocations");
    let res = c
        .post(sub_url(s, id2, "/rollback"))
        .header("X-API-Key", key)
        .json(&json!({"reason": "bad file"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rbk: Value = res.json().await.unwrap();
    assert_eq!(rbk["status"], "rolled_back");

    // Metrics count the allocations by target and is_new.
    let m = c
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("idgraph_facade_allocations_total{is_new=\"true\",target=\"facade_t.tbl_sites.site_id\"}"), "{m}");
}

#[tokio::test]
async fn submissions_are_visible_to_creator_team_and_admin_only() {
    let s = shared();
    let c = client();
    let k = &fixture().keys;
    let sub = create_submission(&k.team_a, &unique("vis")).await;
    let id = sub["submission_uuid"].as_str().unwrap();
    for (key, want) in [
        (&k.team_a, 200u16),
        (&k.team_a_peer, 200),
        (&k.identity_read, 200),
        (&k.admin, 200),
        (&k.team_b, 404),
        (&k.all, 404),
    ] {
        let res = c
            .get(sub_url(s, id, ""))
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), want, "key {}", &key[..25]);
    }
    // A foreign team cannot allocate into it either (404, existence not leaked).
    let res = c
        .post(sub_url(s, id, "/allocations"))
        .header("X-API-Key", &k.team_b)
        .json(&json!({"table_name": TABLE, "column_name": COLUMN, "external_id": uuid::Uuid::new_v4()}))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
}

#[tokio::test]
async fn bad_input_is_always_problem_json() {
    let s = shared();
    let c = client();
    let key = &fixture().keys.all;
    let sub = create_submission(key, &unique("bad")).await;
    let id = sub["submission_uuid"].as_str().unwrap();
    let alloc = sub_url(s, id, "/allocations");

    // Malformed JSON → 400.
    let res = c
        .post(&alloc)
        .header("X-API-Key", key)
        .header("content-type", "application/json")
        .body("{\"table_name\": ")
        .send()
        .await
        .unwrap();
    problem(res, 400).await;
    // Wrong content type → 415.
    let res = c
        .post(&alloc)
        .header("X-API-Key", key)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(res, 415).await;
    // Wrong types, a missing field and an unknown field → 422 listing every one.
    let res = c
        .post(&alloc)
        .header("X-API-Key", key)
        .json(&json!({"table_name": 5, "column_name": COLUMN, "bogus": 1, "content_hash": []}))
        .send()
        .await
        .unwrap();
    let p = problem(res, 422).await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["table_name", "external_id", "bogus", "content_hash"] {
        assert!(fields.contains(&f), "{f} not in {p}");
    }
    // A nested error has its path.
    let res = c
        .post(sub_url(s, id, "/allocations/batch"))
        .header("X-API-Key", key)
        .json(&json!({"table_name": TABLE, "column_name": COLUMN,
                      "allocations": [{"external_id": "a"}, {"external_id": 7}]}))
        .send()
        .await
        .unwrap();
    let p = problem(res, 422).await;
    assert_eq!(p["errors"][0]["field"], "allocations[1].external_id", "{p}");
    // A bad external id (SQL 22023) → 422 with the SQL layer's message.
    let res = c
        .post(&alloc)
        .header("X-API-Key", key)
        .json(&json!({"table_name": TABLE, "column_name": COLUMN, "external_id": "not-a-uuid"}))
        .send()
        .await
        .unwrap();
    problem(res, 422).await;
    // An unregistered target → 404; an injection attempt as table name → 422.
    let res = c
        .post(&alloc)
        .header("X-API-Key", key)
        .json(&json!({"table_name": "pg_class", "column_name": "oid", "external_id": uuid::Uuid::new_v4()}))
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    let res = c
        .post(&alloc)
        .header("X-API-Key", key)
        .json(&json!({"table_name": "x; drop table y", "column_name": "a", "external_id": uuid::Uuid::new_v4()}))
        .send()
        .await
        .unwrap();
    problem(res, 422).await;
    // Batch over the cap (1000 in tests) → 422.
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"external_id": uuid::Uuid::new_v4()}))
        .collect();
    let res = c
        .post(sub_url(s, id, "/allocations/batch"))
        .header("X-API-Key", key)
        .json(&json!({"table_name": TABLE, "column_name": COLUMN, "allocations": many}))
        .send()
        .await
        .unwrap();
    let p = problem(res, 422).await;
    assert_eq!(
        p["type"].as_str().unwrap().rsplit('/').next(),
        Some("batch-too-large")
    );
    // Body over 10 MB → 413.
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(11 * 1024 * 1024));
    let res = c
        .post(&alloc)
        .header("X-API-Key", key)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    problem(res, 413).await;
    // Path and query errors → 400.
    let res = c
        .get(s.url("/api/v1/identity/submissions/not-a-uuid"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    problem(res, 400).await;
    let res = c
        .get(s.url("/api/v1/identity/reverse?table_name=a&column_name=b&alloc_integer_id=x"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    problem(res, 400).await;
    // Unknown submission → 404. Unknown route → 404. Wrong method → 405 with Allow.
    let res = c
        .get(sub_url(s, &uuid::Uuid::new_v4().to_string(), ""))
        .header("X-API-Key", &fixture().keys.admin)
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    let res = c.get(s.url("/api/v1/nope")).send().await.unwrap();
    problem(res, 404).await;
    let res = c
        .delete(s.url("/api/v1/identity/submissions"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("allow").is_some());
    problem(res, 405).await;
}

/// SEAD's batch shape (seed 000's load test, SEAD's identity design): the type on each
/// item, optional content hash and external data; answered in SEAD's shape, atomically.
#[tokio::test]
async fn sead_batch_shape_with_types_per_item() {
    let s = shared();
    let c = client();
    let key = &fixture().keys.team_a;
    let sub = create_submission(key, &unique("sead-batch")).await;
    let id = sub["submission_uuid"].as_str().unwrap().to_owned();
    let url = sub_url(s, &id, "/allocations/batch");
    let u1 = uuid::Uuid::new_v4().to_string();
    let u2 = uuid::Uuid::new_v4().to_string();
    let nk = format!("SITE-{}", uuid::Uuid::new_v4().simple());

    // Mixed types, a duplicate, a content hash: one atomic statement, input order.
    let body = json!({"table_name": TABLE, "column_name": COLUMN, "allocations": [
        {"external_id": u1, "external_id_type": "uuid"},
        {"external_id": nk, "external_id_type": "natural_key", "content_hash": "h-nk"},
        {"external_id": u2.to_uppercase(), "external_id_type": "uuid"},
        {"external_id": u1, "external_id_type": "uuid"}]});
    let res = c
        .post(&url)
        .header("X-API-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let b: Value = res.json().await.unwrap();
    let rows = b["allocations"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{b}");
    let types: Vec<&str> = rows
        .iter()
        .map(|r| r["external_id_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["uuid", "natural_key", "uuid", "uuid"], "{b}");
    assert_eq!(rows[1]["external_id"], nk.as_str());
    assert_eq!(rows[0]["alloc_integer_id"], rows[3]["alloc_integer_id"]);
    assert_eq!(rows[0]["is_new_allocation"], true);
    assert_eq!(rows[3]["is_new_allocation"], false);
    for r in rows {
        for k in [
            "external_id",
            "external_id_type",
            "alloc_integer_id",
            "is_new_allocation",
        ] {
            assert!(r.get(k).is_some(), "{k} missing in {r}");
        }
    }
    assert_eq!(b["summary"]["total"], 4);
    assert_eq!(b["summary"]["new"], 3);
    assert_eq!(b["summary"]["existing"], 1);
    assert!(b["summary"]["duration_ms"].as_f64().is_some(), "{b}");

    // Again, with external data on an item: the same integers, nothing new.
    let with_data = json!({"table_name": TABLE, "column_name": COLUMN, "allocations": [
        {"external_id": u1, "external_id_type": "uuid", "external_data": {"n": 1}},
        {"external_id": nk, "external_id_type": "natural_key"}]});
    let b2: Value = c
        .post(&url)
        .header("X-API-Key", key)
        .json(&with_data)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        b2["allocations"][0]["alloc_integer_id"], rows[0]["alloc_integer_id"],
        "{b2}"
    );
    assert_eq!(
        b2["allocations"][1]["alloc_integer_id"], rows[1]["alloc_integer_id"],
        "{b2}"
    );
    assert_eq!(b2["summary"]["new"], 0, "{b2}");
    // A new id with external data keeps it as the allocation's external data.
    let u3 = uuid::Uuid::new_v4().to_string();
    let b3: Value = c.post(&url).header("X-API-Key", key)
        .json(&json!({"table_name": TABLE, "column_name": COLUMN, "allocations": [
            {"external_id": u3, "external_id_type": "uuid", "external_data": {"site": "Uppsala"}}]}))
        .send().await.unwrap().json().await.unwrap();
    assert_eq!(b3["allocations"][0]["is_new_allocation"], true, "{b3}");
    let kept: Value = admin()
        .await
        .query_one(
            "SELECT external_data FROM idgraph.allocations WHERE external_id = $1",
            &[&u3],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, json!({"site": "Uppsala"}));

    // Bad input: problem+json 4xx, never 500, and nothing written.
    let u4 = uuid::Uuid::new_v4().to_string();
    for (bad, status) in [
        // An unknown type on one item (SQL 22023).
        (
            json!({"table_name": TABLE, "column_name": COLUMN, "allocations": [
            {"external_id": u4, "external_id_type": "uuid"}, {"external_id": "x", "external_id_type": "guid"}]}),
            422,
        ),
        // A malformed uuid among good ones.
        (
            json!({"table_name": TABLE, "column_name": COLUMN, "allocations": [
            {"external_id": u4, "external_id_type": "uuid"}, {"external_id": "nope", "external_id_type": "uuid"}]}),
            422,
        ),
        // The same with external data (the per-item path).
        (
            json!({"table_name": TABLE, "column_name": COLUMN, "allocations": [
            {"external_id": u4, "external_id_type": "uuid", "external_data": {}},
            {"external_id": "nope", "external_id_type": "uuid"}]}),
            422,
        ),
        // A type of the wrong JSON type.
        (
            json!({"table_name": TABLE, "column_name": COLUMN, "allocations": [
            {"external_id": u4, "external_id_type": 5}]}),
            422,
        ),
        // An unregistered target.
        (
            json!({"table_name": "pg_class", "column_name": "oid", "allocations": [
            {"external_id": u4, "external_id_type": "uuid"}]}),
            404,
        ),
    ] {
        let res = c
            .post(&url)
            .header("X-API-Key", key)
            .json(&bad)
            .send()
            .await
            .unwrap();
        problem(res, status).await;
    }
    // An item type contradicting the batch's: 422 naming the item.
    let res = c.post(&url).header("X-API-Key", key)
        .json(&json!({"table_name": TABLE, "column_name": COLUMN, "external_id_type": "uuid", "allocations": [
            {"external_id": u4}, {"external_id": "k", "external_id_type": "natural_key"}]}))
        .send().await.unwrap();
    let p = problem(res, 422).await;
    assert_eq!(
        p["errors"][0]["field"], "allocations[1].external_id_type",
        "{p}"
    );
    let n: i64 = admin()
        .await
        .query_one(
            "SELECT count(*) FROM idgraph.allocations WHERE external_id = $1",
            &[&u4],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "a refused batch wrote nothing");

    // The OpenAPI document describes the per-item fields.
    let doc: Value = c
        .get(s.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let item = &doc["components"]["schemas"]["BatchItem"]["properties"];
    assert!(
        item.get("external_id_type").is_some() && item.get("external_data").is_some(),
        "{item}"
    );
}

#[tokio::test]
async fn headers_request_id_hsts_ratelimit() {
    let s = shared();
    let c = client();
    let res = c
        .get(s.url("/health"))
        .header("X-Request-Id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert_eq!(h["x-request-id"], "trace-me-123");
    assert!(h["strict-transport-security"]
        .to_str()
        .unwrap()
        .starts_with("max-age="));
    // Operational routes are free: no bucket to report; data routes report theirs.
    assert!(h.get("x-ratelimit-remaining").is_none());
    let res = c
        .get(s.url("/api/v1/identity/targets"))
        .header("X-API-Key", &fixture().keys.identity_read)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers();
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        assert!(h.get(name).is_some(), "{name}");
    }
    // A generated id when none (or a silly one) is sent; echoed in problem documents.
    let res = c
        .get(s.url("/api/v1/identity/targets"))
        .send()
        .await
        .unwrap();
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(res.headers().get("www-authenticate").is_some());
    let p = problem(res, 401).await;
    assert_eq!(p["request_id"], rid.as_str());
}

#[tokio::test]
async fn graph_and_centrality_routes() {
    let s = shared();
    let c = client();
    let key = &fixture().keys.all;
    let p = unique("svc");
    let (a, b, d) = (format!("{p}-a"), format!("{p}-b"), format!("{p}-c"));
    let doc = json!({"source": "manual", "nodes": [
        {"service_id": a, "availability": 0.999, "team": "team-all"}, {"service_id": b, "availability": 0.99}],
        "edges": [{"source": a, "target": b, "attributes": {"communication_mode": "sync", "criticality": "hard"}},
                  {"source": b, "target": d}]});
    let res = c
        .post(s.url("/api/v1/services/dependencies"))
        .header("X-API-Key", key)
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // An invalid document: 422 listing the problems.
    let res = c
        .post(s.url("/api/v1/services/dependencies"))
        .header("X-API-Key", key)
        .json(&json!({"source": "carrier-pigeon", "nodes": [{"service_id": ""}]}))
        .send()
        .await
        .unwrap();
    let pr = problem(res, 422).await;
    assert!(!pr["errors"].as_array().unwrap().is_empty(), "{pr}");

    let deps: Value = c
        .get(s.url(&format!("/api/v1/services/{a}/dependencies?max_depth=3")))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deps["dependencies"].as_array().unwrap().len(), 2, "{deps}");
    let res = c
        .get(s.url(&format!("/api/v1/services/{a}/dependencies?max_depth=99")))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    problem(res, 422).await;
    let res = c
        .get(s.url("/api/v1/services/no-such-service-xyz/dependencies"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    problem(res, 404).await;

    for (method, path, body) in [
        (
            "PUT",
            format!("/api/v1/services/{b}/availability"),
            json!({"availability": 0.995}),
        ),
        (
            "PUT",
            format!("/api/v1/services/{d}/published-sla"),
            json!({"published_sla": 0.9999}),
        ),
        (
            "POST",
            format!("/api/v1/services/{a}/slos"),
            json!({"availability_target": 0.99, "rationale": "test"}),
        ),
        (
            "POST",
            "/api/v1/slos/impact-analysis".to_string(),
            json!({"service_id": b, "proposed_availability": 0.95}),
        ),
        (
            "POST",
            "/api/v1/centrality/refresh".to_string(),
            json!({"mode": "exact"}),
        ),
        (
            "POST",
            "/api/v1/graph/mark-stale".to_string(),
            json!({"older_than_seconds": 86400}),
        ),
    ] {
        let req = if method == "PUT" {
            c.put(s.url(&path))
        } else {
            c.post(s.url(&path))
        };
        let res = req
            .header("X-API-Key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let st = res.status();
        assert_eq!(st, 200, "{method} {path}: {}", res.text().await.unwrap());
    }
    for path in [
        format!("/api/v1/services/{a}/availability?target=0.99"),
        format!("/api/v1/services/{a}/check-slo?target=0.9999"),
        format!("/api/v1/services/{a}/slos"),
        format!("/api/v1/services/{b}/centrality"),
        "/api/v1/centrality/top?metric=degree&k=5".to_string(),
        "/api/v1/cycles".to_string(),
    ] {
        let res = c
            .get(s.url(&path))
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap();
        let st = res.status();
        assert_eq!(st, 200, "GET {path}: {}", res.text().await.unwrap());
    }
    // One service; the list, a page of one at a time, reaches every service exactly once.
    let one: Value = c
        .get(s.url(&format!("/api/v1/services/{a}")))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["dependencies"], 1, "{one}");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = c.get(s.url("/api/v1/services")).query(&[("limit", "2")]);
        if let Some(cur) = &cursor {
            req = req.query(&[("cursor", cur)]);
        }
        let page: Value = req
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for svc in page["services"].as_array().unwrap() {
            seen.push(svc["service_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_owned()),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "pages overlap or are out of order");
    for svc in [&a, &b, &d] {
        assert!(seen.contains(svc), "{svc} not listed");
    }
    let res = c
        .get(s.url("/api/v1/services?cursor=%%%"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    problem(res, 400).await;
    let hist: Value = c
        .get(s.url(&format!("/api/v1/services/{a}/slo-history")))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hist["history"].as_array().unwrap().len(), 1, "{hist}");
    let slo: Value = c
        .get(s.url(&format!("/api/v1/services/{a}/slos")))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(slo["active"]["availability_target"], 0.99, "{slo}");
    let res = c
        .put(s.url(&format!("/api/v1/services/{b}/availability")))
        .header("X-API-Key", key)
        .json(&json!({"availability": 1.5}))
        .send()
        .await
        .unwrap();
    problem(res, 422).await;
    let res = c
        .post(s.url("/api/v1/alerts/999999999/acknowledge"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
}

#[tokio::test]
async fn operations_endpoints() {
    let s = shared();
    let c = client();
    let r: Value = c
        .get(s.url("/health/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "ready");
    let m = c
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for want in [
        "idgraph_facade_http_requests_total",
        "idgraph_facade_http_request_duration_seconds_bucket",
        "idgraph_facade_db_pool_connections{pool=\"primary\",state=\"available\"}",
        "idgraph_facade_db_pool_connections{pool=\"primary\",state=\"waiting\"}",
        "route=\"/health/ready\"",
    ] {
        assert!(m.contains(want), "{want} missing from metrics");
    }
    let doc: Value = c
        .get(s.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 28, "{}", paths.len());
    for (p, item) in paths {
        for (m, op) in item.as_object().unwrap() {
            // The TRD's health aliases are operational routes (no credentials, no body).
            if p.starts_with("/api/") && !p.starts_with("/api/v1/health") {
                for code in ["400", "401", "403", "422", "429", "503"] {
                    assert!(op["responses"].get(code).is_some(), "{m} {p} lacks {code}");
                }
            }
        }
    }
}

#[tokio::test]
async fn rate_limit_burst_then_recovery() {
    let s = Server::start(|a| {
        a.rate_limit_burst = 5;
        a.rate_limit_per_sec = 2.0;
    });
    let c = client();
    let key = &fixture().keys.identity_read;
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..8 {
        let res = c
            .get(s.url("/api/v1/identity/targets"))
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
        last = Some(res);
    }
    assert!(
        statuses.iter().filter(|&&x| x == 200).count() >= 5,
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
    let res = last.unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry));
    assert_eq!(res.headers()["x-ratelimit-limit"], "5");
    assert_eq!(res.headers()["x-ratelimit-remaining"], "0");
    problem(res, 429).await;
    // Another principal is not affected.
    let res = c
        .get(s.url("/api/v1/identity/targets"))
        .header("X-API-Key", &fixture().keys.all)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // After Retry-After, it works again.
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    let res = c
        .get(s.url("/api/v1/identity/targets"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let m = c
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("idgraph_facade_rate_limited_total"), "{m}");
}

#[tokio::test]
async fn sigterm_drains_and_exits_zero() {
    let f = fixture();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_idgraph-facade"))
        .arg("serve")
        .env("DATABASE_URL", facade_dsn())
        .env("IDGRAPH_LISTEN", format!("127.0.0.1:{port}"))
        .env("IDGRAPH_TLS_CERT", &f.cert_path)
        .env("IDGRAPH_TLS_KEY", &f.key_path)
        .env("IDGRAPH_SHUTDOWN_GRACE_SECS", "5")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let c = client();
    let url = format!("https://localhost:{port}/health/ready");
    let mut up = false;
    for _ in 0..100 {
        if let Ok(r) = c.get(&url).send().await {
            if r.status() == 200 {
                up = true;
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "binary did not come up");
    // A slow request in flight (a 1000-id batch) while SIGTERM arrives: it completes.
    let key = f.keys.all.clone();
    let sub = create_submission(&key, &unique("drain")).await;
    let id = sub["submission_uuid"].as_str().unwrap().to_owned();
    let many: Vec<Value> = (0..1000)
        .map(|_| json!({"external_id": uuid::Uuid::new_v4()}))
        .collect();
    let inflight = tokio::spawn({
        let c = c.clone();
        async move {
            c.post(format!(
                "https://localhost:{port}/api/v1/identity/submissions/{id}/allocations/batch"
            ))
            .header("X-API-Key", key)
            .json(&json!({"table_name": TABLE, "column_name": COLUMN, "allocations": many}))
            .send()
            .await
            .map(|r| r.status().as_u16())
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let got = inflight.await.unwrap();
    assert_eq!(got.ok(), Some(200), "in-flight request was not drained");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn key_guessing_is_rate_limited_per_address() {
    let s = Server::start(|a| {
        a.rate_limit_burst = 3;
        a.rate_limit_per_sec = 0.5;
    });
    let c = client();
    let f = fixture();
    let key_id = f.keys.all.split('_').nth(2).unwrap();
    let guess = format!("idg_live_{key_id}_{}", "1".repeat(64));
    // The real key, verified once (now cached).
    let res = c
        .get(s.url("/api/v1/identity/targets"))
        .header("X-API-Key", &f.keys.all)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let res = c
            .get(s.url("/api/v1/identity/targets"))
            .header("X-API-Key", &guess)
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    // Every verification of a key not in the cache costs the address (the real key's
    // first one too): 3 units = the real key + 2 guesses, then no more argon2 work.
    assert_eq!(statuses, vec![401, 401, 429, 429, 429]);
    // A verified (cached) key from the same address is not locked out by the guesser.
    let res = c
        .get(s.url("/api/v1/identity/targets"))
        .header("X-API-Key", &f.keys.all)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn read_routes_use_the_read_replica_pool_when_given() {
    // The "replica" is the same database here: what is checked is the routing.
    let s = Server::start(|a| a.read_database_url = Some(facade_dsn()));
    let c = client();
    let key = &fixture().keys.all;
    let res = c
        .get(s.url("/api/v1/identity/targets"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let m = c
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let size = m
        .lines()
        .find(|l| {
            l.starts_with("idgraph_facade_db_pool_connections{pool=\"replica\",state=\"size\"}")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    assert!(size >= 1, "the read went elsewhere: {m}");
    let r: Value = c
        .get(s.url("/health/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "ready");
    // Writes still go to the primary.
    let res = c
        .post(s.url("/api/v1/identity/submissions"))
        .header("X-API-Key", key)
        .json(
            &json!({"submission_name": unique("replica"), "source_system": "s", "data_type": "d"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}
