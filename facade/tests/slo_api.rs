//! The SLO engine over HTTPS: recommendations, FR-5 decisions with team ownership,
//! alert rules, dashboard, the TRD's shapes — and a replay of every request example of
//! the TRD (tests/fixtures/trd_requests.json, copied verbatim).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

/// 720 hourly windows ending at the last full hour: `good` of 10,000 requests each,
/// p99 250 ms.
async fn seed_sli(service: &str, good: i64) {
    let c = admin().await;
    c.query_one(
        "SELECT idgraph.record_sli(jsonb_build_object('source', 'test', 'windows', (
           SELECT jsonb_agg(jsonb_build_object('service_id', $1::text, 'window', '1h',
                    'start', to_char((date_trunc('hour', now() AT TIME ZONE 'UTC') - make_interval(hours => i)),
                                     'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    'good_events', $2::bigint, 'total_events', 10000,
                    'latency_p50_ms', 50, 'latency_p95_ms', 180, 'latency_p99_ms', 250))
             FROM generate_series(1, 720) i)))",
        &[&service, &good],
    )
    .await
    .unwrap();
}

async fn make_key(name: &str, scopes: &[&str], team: Option<&str>) -> String {
    let c = admin().await;
    let k = idgraph_facade::auth::generate_key().unwrap();
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    c.execute(
        "SELECT idgraph.api_key_create($1, $2, $3, $4, $5)",
        &[&k.key_id, &name, &k.secret_hash, &scopes, &team],
    )
    .await
    .unwrap();
    k.full_key
}

fn key_subject(k: &str) -> String {
    format!("key:{}", k.split('_').nth(2).unwrap())
}

fn team_jwt(sub: &str, scope: &str, team: &str, groups: &[&str]) -> String {
    jwt(
        json!({"sub": sub, "aud": AUDIENCE, "iss": ISSUER, "exp": now() + 600, "nbf": now() - 10,
               "scope": scope, "team": team, "groups": groups}),
    )
}

enum Cred<'a> {
    None,
    Key(&'a str),
    Bearer(&'a str),
}

async fn call(method: &str, path: &str, body: Option<&Value>, cred: Cred<'_>) -> reqwest::Response {
    let s = shared();
    let c = client();
    let mut req = match method {
        "GET" => c.get(s.url(path)),
        "PUT" => c.put(s.url(path)),
        _ => c.post(s.url(path)),
    };
    if let Some(b) = body {
        req = req.json(b);
    }
    req = match cred {
        Cred::None => req,
        Cred::Key(k) => req.header("X-API-Key", k),
        Cred::Bearer(t) => req.bearer_auth(t),
    };
    req.send().await.unwrap()
}

async fn ok_json(res: reqwest::Response) -> Value {
    let st = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(st, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn tier<'a>(doc: &'a Value, sli: &str, t: &str) -> &'a Value {
    doc["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["sli_type"] == sli)
        .map(|r| &r["tiers"][t])
        .unwrap_or_else(|| panic!("no {sli} recommendation in {doc}"))
}

fn approx(v: &Value, want: f64, tol: f64) {
    let x = v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"));
    assert!((x - want).abs() <= tol, "{x} != {want} ± {tol}");
}

/// A service of `team` with a hard dependency on an external whose SLA (TRD shape:
/// marked in metadata, percent) is 99.9 %, and 30 days of history at 99.95 %.
async fn service_with_history(team: &str) -> (String, String) {
    let svc = unique("slo");
    let ext = format!("{svc}-ext");
    let doc = json!({"source": "manual", "nodes": [
        {"service_id": svc, "metadata": {"team": team, "criticality": "low"}},
        {"service_id": ext, "metadata": {"service_type": "external", "published_sla": 99.9}}],
        "edges": [{"source": svc, "target": ext,
                   "attributes": {"communication_mode": "sync", "criticality": "hard"}}]});
    let k = &fixture().keys.all;
    ok_json(
        call(
            "POST",
            "/api/v1/services/dependencies",
            Some(&doc),
            Cred::Key(k),
        )
        .await,
    )
    .await;
    seed_sli(&svc, 9995).await;
    (svc, ext)
}

#[tokio::test]
async fn recommendations_in_percent_cached_and_refused_with_reasons() {
    let k = &fixture().keys.all;
    let (svc, ext) = service_with_history("team-all").await;
    // The external is marked so, its SLA stored as a fraction.
    let e = ok_json(
        call(
            "GET",
            &format!("/api/v1/services/{ext}"),
            None,
            Cred::Key(k),
        )
        .await,
    )
    .await;
    assert_eq!(e["kind"], "external", "{e}");
    approx(&e["published_sla"], 0.999, 1e-12);

    let path = format!("/api/v1/services/{svc}/slo-recommendations");
    let doc = ok_json(call("GET", &path, None, Cred::Key(k)).await).await;
    assert_eq!(doc["service_id"], svc.as_str());
    assert_eq!(doc["cached"], false, "{doc}");
    assert_eq!(doc["stale"], false);
    // Hand-computed: every window 99.95 %. Conservative and aggressive are the history
    // (99.95); balanced is capped by the composite bound of the hard dependency: the
    // external's published 99.9 % less the 10 % pessimistic margin, 99.8 %.
    let cons = tier(&doc, "availability", "conservative");
    let bal = tier(&doc, "availability", "balanced");
    let agg = tier(&doc, "availability", "aggressive");
    approx(&cons["target"], 99.95, 1e-9);
    approx(&agg["target"], 99.95, 1e-9);
    approx(&bal["target"], 99.8, 1e-9);
    // Budget = (1 − target) × 43,830 min (an average month).
    approx(
        &cons["error_budget_monthly_minutes"],
        0.0005 * 43_830.0,
        0.01,
    );
    approx(&bal["error_budget_monthly_minutes"], 0.002 * 43_830.0, 0.01);
    assert_eq!(cons["estimated_breach_probability"], 0.0);
    assert_eq!(bal["confidence_interval"], json!([99.8, 99.8]), "{bal}");
    assert_eq!(cons["confidence_interval"], json!([99.95, 99.95]));
    let avail = doc["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["sli_type"] == "availability")
        .unwrap();
    approx(
        &avail["explanation"]["dependency_impact"]["composite_availability_bound"],
        99.8,
        1e-9,
    );
    assert_eq!(
        avail["explanation"]["dependency_impact"]["bottleneck_service"],
        ext.as_str()
    );
    // Latency stays in ms: p99 250 × 1.05 → 263 (rounded up); aggressive p95 of windows 250.
    assert_eq!(tier(&doc, "latency", "balanced")["target_ms"], 263.0);
    assert_eq!(tier(&doc, "latency", "aggressive")["target_ms"], 250.0);

    // Served from the store the second time; forced, a new one.
    let again = ok_json(call("GET", &path, None, Cred::Key(k)).await).await;
    assert_eq!(again["cached"], true);
    assert_eq!(again["recommendation_id"], doc["recommendation_id"]);
    let forced = ok_json(
        call(
            "GET",
            &format!("{path}?force_regenerate=true"),
            None,
            Cred::Key(k),
        )
        .await,
    )
    .await;
    assert_eq!(forced["cached"], false);
    assert_ne!(forced["recommendation_id"], doc["recommendation_id"]);
    let only = ok_json(
        call(
            "GET",
            &format!("{path}?sli_type=availability&lookback_days=30"),
            None,
            Cred::Key(k),
        )
        .await,
    )
    .await;
    assert_eq!(
        only["recommendations"].as_array().unwrap().len(),
        1,
        "{only}"
    );

    // Error paths.
    for (q, status) in [
        ("?lookback_days=6", 422),
        ("?lookback_days=366", 422),
        ("?sli_type=throughput", 400),
        ("?lookback_days=abc", 400),
        ("?force_regenerate=maybe", 400),
        ("?unknown=1", 400),
    ] {
        problem(
            call("GET", &format!("{path}{q}"), None, Cred::Key(k)).await,
            status,
        )
        .await;
    }
    problem(
        call(
            "GET",
            "/api/v1/services/no-such-svc-xyz/slo-recommendations",
            None,
            Cred::Key(k),
        )
        .await,
        404,
    )
    .await;
    problem(call("GET", &path, None, Cred::None).await, 401).await;
    problem(
        call("GET", &path, None, Cred::Key(&fixture().keys.identity_read)).await,
        403,
    )
    .await;
    // graph:read is enough (the TRD's viewer).
    ok_json(call("GET", &path, None, Cred::Key(&fixture().keys.graph_only)).await).await;
}

#[tokio::test]
async fn decisions_need_the_owning_team_and_record_the_real_actor() {
    let f = fixture();
    let (svc, _) = service_with_history("team-owner").await;
    let rec_path = format!("/api/v1/services/{svc}/slo-recommendations");
    let slos = format!("/api/v1/services/{svc}/slos");
    let owner = make_key("owner", &["graph:read", "slo:write"], Some("team-owner")).await;
    let other = make_key("other", &["graph:read", "slo:write"], Some("team-other")).await;
    let admin_key = make_key("slo-admin", &["identity:admin", "slo:write"], None).await;
    let rec = ok_json(call("GET", &rec_path, None, Cred::Key(&owner)).await).await;
    let rid = rec["recommendation_id"].as_str().unwrap().to_owned();
    let accept = json!({"recommendation_id": rid, "action": "accept", "selected_tier": "conservative",
                        "actor": "mallory@example.com"});

    // 401 without credentials; 403 without slo:write; 403 for another team (key or JWT,
    // whatever the body claims as actor); the owner passes.
    problem(call("POST", &slos, Some(&accept), Cred::None).await, 401).await;
    problem(
        call("POST", &slos, Some(&accept), Cred::Key(&f.keys.graph_only)).await,
        403,
    )
    .await;
    let pr = problem(
        call("POST", &slos, Some(&accept), Cred::Key(&other)).await,
        403,
    )
    .await;
    assert!(
        pr["detail"].as_str().unwrap().contains("team-owner"),
        "{pr}"
    );
    let stranger = team_jwt("eve", "graph:read slo:write", "team-other", &["x"]);
    problem(
        call("POST", &slos, Some(&accept), Cred::Bearer(&stranger)).await,
        403,
    )
    .await;
    let no_slo_scope = team_jwt("olga", "graph:write", "team-owner", &[]);
    problem(
        call("POST", &slos, Some(&accept), Cred::Bearer(&no_slo_scope)).await,
        403,
    )
    .await;
    // The manual path is owned the same way.
    let manual = json!({"availability_target": 0.99});
    problem(
        call("POST", &slos, Some(&manual), Cred::Key(&other)).await,
        403,
    )
    .await;

    let d = ok_json(call("POST", &slos, Some(&accept), Cred::Key(&owner)).await).await;
    assert_eq!(d["status"], "active", "{d}");
    assert_eq!(d["source"], "recommendation_accepted");
    assert!(d["slo_id"].is_string());
    approx(&d["targets"]["availability"], 99.95, 1e-9);
    assert_eq!(d["targets"]["latency_p99_ms"], 263.0);
    assert_eq!(d["activated_by"], key_subject(&owner).as_str(), "{d}");

    // GET …/slos: the TRD's fields (percent) beside idgraph's rows (fractions).
    let g = ok_json(call("GET", &slos, None, Cred::Key(&f.keys.graph_only)).await).await;
    assert_eq!(g["slo_id"], d["slo_id"]);
    approx(&g["targets"]["availability"], 99.95, 1e-9);
    approx(&g["active"]["availability_target"], 0.9995, 1e-12);
    assert_eq!(g["activated_by"], key_subject(&owner).as_str());
    assert_eq!(g["source"], "recommendation_accepted");

    // The accepted SLO changed the graph: the next GET computes a new recommendation and
    // the old one is superseded → deciding on it is a conflict (55000 → 409).
    let rec2 = ok_json(call("GET", &rec_path, None, Cred::Key(&owner)).await).await;
    assert_ne!(rec2["recommendation_id"], rec["recommendation_id"]);
    problem(
        call("POST", &slos, Some(&accept), Cred::Key(&owner)).await,
        409,
    )
    .await;
    let rid2 = rec2["recommendation_id"].as_str().unwrap().to_owned();

    // Modify through a JWT of another team that lists the owner among its groups.
    let grouped = team_jwt("gina", "graph:read slo:write", "team-x", &["team-owner"]);
    let modify = json!({"recommendation_id": rid2, "action": "modify", "selected_tier": "balanced",
                        "modifications": {"availability_target": 99.7, "latency_p99_target_ms": 600},
                        "rationale": "fallback provider next sprint"});
    let m = ok_json(call("POST", &slos, Some(&modify), Cred::Bearer(&grouped)).await).await;
    assert_eq!(m["source"], "recommendation_modified", "{m}");
    approx(&m["targets"]["availability"], 99.7, 1e-9);
    assert_eq!(m["targets"]["latency_p99_ms"], 600.0);
    approx(
        &m["modification_delta"]["availability"]["recommended"],
        99.8,
        1e-9,
    );
    approx(
        &m["modification_delta"]["availability"]["delta"],
        -0.1,
        1e-9,
    );
    // Latency deltas stay in ms.
    assert_eq!(m["modification_delta"]["latency_p99_ms"]["selected"], 600.0);
    assert_eq!(m["activated_by"], "jwt:gina");
    approx(&m["previous"]["availability_target"], 99.95, 1e-9);

    // Reject: rationale required; the active SLO stays. An SLO admin of no team may.
    let rec3 = ok_json(call("GET", &rec_path, None, Cred::Key(&owner)).await).await;
    let rid3 = rec3["recommendation_id"].as_str().unwrap().to_owned();
    let reject = json!({"recommendation_id": rid3, "action": "reject"});
    let pr = problem(
        call("POST", &slos, Some(&reject), Cred::Key(&admin_key)).await,
        422,
    )
    .await;
    assert!(pr["detail"].as_str().unwrap().contains("rationale"), "{pr}");
    let reject = json!({"recommendation_id": rid3, "action": "reject",
                        "rationale": "target too aggressive for upcoming holiday traffic"});
    let r = ok_json(call("POST", &slos, Some(&reject), Cred::Key(&admin_key)).await).await;
    assert_eq!(r["status"], "rejected", "{r}");
    approx(&r["active_slo"]["availability_target"], 99.7, 1e-9);
    let sre = team_jwt("sam", "graph:read slo:admin", "team-sre", &[]);
    let g = ok_json(call("GET", &slos, None, Cred::Bearer(&sre)).await).await;
    approx(&g["targets"]["availability"], 99.7, 1e-9);
    let hist = ok_json(
        call(
            "GET",
            &format!("/api/v1/services/{svc}/slo-history"),
            None,
            Cred::Bearer(&sre),
        )
        .await,
    )
    .await;
    let actors: Vec<&str> = hist["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["actor"].as_str())
        .collect();
    let sub_admin = key_subject(&admin_key);
    let sub_owner = key_subject(&owner);
    for want in [sub_admin.as_str(), "jwt:gina", sub_owner.as_str()] {
        assert!(actors.contains(&want), "{want} not among {actors:?}");
    }
    assert!(!actors.contains(&"mallory@example.com"));
    // slo:admin (JWT) decides on any service.
    let rec4 = ok_json(call("GET", &rec_path, None, Cred::Bearer(&sre)).await).await;
    let by_sre = json!({"recommendation_id": rec4["recommendation_id"], "action": "accept"});
    let d = ok_json(call("POST", &slos, Some(&by_sre), Cred::Bearer(&sre)).await).await;
    assert_eq!(d["activated_by"], "jwt:sam");

    // Bad bodies: every offending field named.
    for (body, field) in [
        (json!({"action": "accept"}), "recommendation_id"),
        (json!({"recommendation_id": rid3}), "action"),
        (
            json!({"recommendation_id": rid3, "action": "approve"}),
            "action",
        ),
        (
            json!({"recommendation_id": "uuid", "action": "accept"}),
            "recommendation_id",
        ),
        (
            json!({"recommendation_id": rid3, "action": "accept", "availability_target": 0.99}),
            "availability_target",
        ),
        (
            json!({"recommendation_id": rid3, "action": "modify", "modifications": {"availability": 99.9}}),
            "modifications.availability",
        ),
        (json!({"rationale": "no target"}), "availability_target"),
    ] {
        let pr = problem(
            call("POST", &slos, Some(&body), Cred::Key(&owner)).await,
            422,
        )
        .await;
        let fields: Vec<&str> = pr["errors"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default();
        assert!(fields.contains(&field), "{body}: {pr}");
    }
    // A recommendation of another service, or none at all: 404.
    let body = json!({"recommendation_id": uuid::Uuid::new_v4(), "action": "accept"});
    problem(
        call("POST", &slos, Some(&body), Cred::Key(&owner)).await,
        404,
    )
    .await;
    problem(
        call(
            "POST",
            "/api/v1/services/no-such-svc-xyz/slos",
            Some(&body),
            Cred::Key(&owner),
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn alert_rules_dashboard_and_health_aliases() {
    let k = &fixture().keys.all;
    let (svc, _) = service_with_history("team-all").await;
    let alerts = format!("/api/v1/services/{svc}/slos/alerts?format=prometheus");
    // No active SLO yet: 404.
    problem(call("GET", &alerts, None, Cred::Key(k)).await, 404).await;
    ok_json(
        call(
            "POST",
            &format!("/api/v1/services/{svc}/slos"),
            Some(&json!({"availability_target": 0.999})),
            Cred::Key(k),
        )
        .await,
    )
    .await;
    for path in [
        alerts.clone(),
        format!("/api/v1/services/{svc}/slos/alerts"),
    ] {
        let res = call("GET", &path, None, Cred::Key(k)).await;
        assert_eq!(res.status(), 200);
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/plain"), "{ct}");
        let text = res.text().await.unwrap();
        assert!(text.contains("groups:") && text.contains(&svc), "{text}");
        assert!(text.contains("14.4"), "{text}");
    }
    problem(
        call(
            "GET",
            &format!("/api/v1/services/{svc}/slos/alerts?format=json"),
            None,
            Cred::Key(k),
        )
        .await,
        400,
    )
    .await;
    problem(call("GET", &alerts, None, Cred::None).await, 401).await;
    problem(
        call(
            "GET",
            &alerts,
            None,
            Cred::Key(&fixture().keys.identity_read),
        )
        .await,
        403,
    )
    .await;

    admin()
        .await
        .query_one("SELECT idgraph.refresh_slo_dashboard()", &[])
        .await
        .unwrap();
    for view in ["coverage", "error-budget-health", "recommendation-quality"] {
        let path = format!("/api/v1/dashboard/{view}");
        let res = call("GET", &path, None, Cred::Key(&fixture().keys.graph_only)).await;
        assert_eq!(res.status(), 200, "{view}");
        let v: Value = res.json().await.unwrap();
        assert!(v.is_array(), "{view}: {v}");
        problem(call("GET", &path, None, Cred::None).await, 401).await;
        problem(
            call("GET", &path, None, Cred::Key(&fixture().keys.identity_read)).await,
            403,
        )
        .await;
    }
    let cov = ok_json(call("GET", "/api/v1/dashboard/coverage", None, Cred::Key(k)).await).await;
    assert!(cov.to_string().contains("team-all"), "{cov}");

    // Routes are declared once (utoipa-axum): the document carries each operation's
    // rate-limit cost, from the limiter's own table.
    let doc = ok_json(call("GET", "/openapi.json", None, Cred::None).await).await;
    assert_eq!(
        doc["paths"]["/api/v1/services/dependencies"]["post"]["x-rate-limit-cost"],
        20
    );
    assert_eq!(
        doc["paths"]["/api/v1/slos/impact-analysis"]["post"]["x-rate-limit-cost"],
        5
    );
    assert_eq!(
        doc["paths"]["/api/v1/health"]["get"]["x-rate-limit-cost"],
        0
    );
    assert_eq!(
        doc["paths"]["/api/v1/services/{service_id}/slo-recommendations"]["get"]
            ["x-rate-limit-cost"],
        1
    );
    for p in ["/api/v1/health", "/api/v1/health/ready"] {
        let v = ok_json(call("GET", p, None, Cred::None).await).await;
        assert!(v["status"].is_string(), "{v}");
    }
}

#[tokio::test]
async fn trd_shapes_depth_alias_ingest_metadata_impact_in_percent() {
    let k = &fixture().keys.all;
    let p = unique("shape");
    let (a, b, c) = (format!("{p}-a"), format!("{p}-b"), format!("{p}-c"));
    let doc = json!({"source": "manual", "nodes": [{"service_id": a}, {"service_id": b}],
        "edges": [{"source": a, "target": b, "attributes": {"communication_mode": "sync", "criticality": "hard"}},
                  {"source": b, "target": c, "attributes": {"communication_mode": "sync", "criticality": "hard"}}]});
    let r = ok_json(
        call(
            "POST",
            "/api/v1/services/dependencies",
            Some(&doc),
            Cred::Key(k),
        )
        .await,
    )
    .await;
    assert_eq!(r["nodes_received"], 2);
    assert_eq!(r["edges_received"], 2);
    assert_eq!(r["status"], "completed");
    assert!(uuid::Uuid::parse_str(r["ingestion_id"].as_str().unwrap()).is_ok());
    // FR-1's default direction is both: b sees a upstream and c downstream.
    let d = ok_json(
        call(
            "GET",
            &format!("/api/v1/services/{b}/dependencies"),
            None,
            Cred::Key(k),
        )
        .await,
    )
    .await;
    assert_eq!(d["direction"], "both");
    assert_eq!(d["depth"], 3);
    assert_eq!(d["dependencies"].as_array().unwrap().len(), 2, "{d}");
    // depth, with max_depth kept as an alias.
    for q in ["depth=1", "max_depth=1", "depth=1&max_depth=5"] {
        let d = ok_json(
            call(
                "GET",
                &format!("/api/v1/services/{a}/dependencies?direction=downstream&{q}"),
                None,
                Cred::Key(k),
            )
            .await,
        )
        .await;
        assert_eq!(d["dependencies"].as_array().unwrap().len(), 1, "{q}: {d}");
        assert_eq!(d["depth"], 1);
    }
    problem(
        call(
            "GET",
            &format!("/api/v1/services/{a}/dependencies?depth=11"),
            None,
            Cred::Key(k),
        )
        .await,
        422,
    )
    .await;

    // TRD-shaped nodes: a bad SLA in metadata is named.
    let bad = json!({"source": "manual", "nodes": [
        {"service_id": format!("{p}-x"), "metadata": {"service_type": "external", "published_sla": 120}},
        {"service_id": format!("{p}-y"), "metadata": {"sla": "high"}}]});
    let pr = problem(
        call(
            "POST",
            "/api/v1/services/dependencies",
            Some(&bad),
            Cred::Key(k),
        )
        .await,
        422,
    )
    .await;
    let fields: Vec<&str> = pr["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        vec!["nodes[0].metadata.published_sla", "nodes[1].metadata.sla"],
        "{pr}"
    );

    // FR-4 in percent: c at 99 % with a at 99.9 % and b at 99.5 %.
    for (svc, av) in [(&a, 0.999), (&b, 0.995), (&c, 0.999)] {
        let res = call(
            "PUT",
            &format!("/api/v1/services/{svc}/availability"),
            Some(&json!({"availability": av})),
            Cred::Key(k),
        )
        .await;
        assert_eq!(res.status(), 200);
    }
    let body = json!({"service_id": c, "proposed_change": {"sli_type": "availability", "current_target": 99.9, "proposed_target": 99.0}});
    let ia = ok_json(
        call(
            "POST",
            "/api/v1/slos/impact-analysis",
            Some(&body),
            Cred::Key(k),
        )
        .await,
    )
    .await;
    assert!(
        uuid::Uuid::parse_str(ia["analysis_id"].as_str().unwrap()).is_ok(),
        "{ia}"
    );
    assert_eq!(ia["proposed_change"]["proposed_target"], 99.0);
    assert_eq!(ia["proposed_change"]["current_target"], 99.9);
    let imp = ia["impacted_services"].as_array().unwrap();
    let ib = imp.iter().find(|x| x["service_id"] == b.as_str()).unwrap();
    // b's composite: 0.995 × c; projected with c at 0.99 → 98.505 %.
    approx(&ib["projected_composite_availability"], 99.5 * 0.99, 1e-6);
    let legacy = json!({"service_id": c, "proposed_availability": 0.99});
    let il = ok_json(
        call(
            "POST",
            "/api/v1/slos/impact-analysis",
            Some(&legacy),
            Cred::Key(k),
        )
        .await,
    )
    .await;
    let lb = il["impacted_services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["service_id"] == b.as_str())
        .unwrap()
        .clone();
    approx(&lb["projected_composite_availability"], 0.995 * 0.99, 1e-9);
    // `detail`: absent is the SQL default (summary); full lists everything; the rest 422.
    assert_eq!(il["detail"], "summary", "{il}");
    let full = ok_json(
        call(
            "POST",
            "/api/v1/slos/impact-analysis?detail=full",
            Some(&legacy),
            Cred::Key(k),
        )
        .await,
    )
    .await;
    assert!(full.get("detail").is_none(), "{full}");
    assert_eq!(
        full["impacted_services"], il["impacted_services"],
        "a few rows: the same"
    );
    assert_eq!(full["summary"], il["summary"]);
    let comp = ok_json(
        call(
            "GET",
            &format!("/api/v1/services/{b}/availability"),
            None,
            Cred::Key(k),
        )
        .await,
    )
    .await;
    assert_eq!(comp["detail"], "summary", "{comp}");
    assert!(
        comp.get("hard_dependencies").is_none() && comp["counts"]["hard_dependencies"] == 1,
        "{comp}"
    );
    let comp_full = ok_json(
        call(
            "GET",
            &format!("/api/v1/services/{b}/availability?detail=full"),
            None,
            Cred::Key(k),
        )
        .await,
    )
    .await;
    assert_eq!(
        comp_full["hard_dependencies"].as_array().map(Vec::len),
        Some(1),
        "{comp_full}"
    );
    assert_eq!(
        comp_full["composite_availability"],
        comp["composite_availability"]
    );
    for path in [
        format!("/api/v1/services/{b}/availability?detail=everything"),
        "/api/v1/slos/impact-analysis?detail=FULL".to_string(),
    ] {
        let (method, body) = if path.contains("impact") {
            ("POST", Some(&legacy))
        } else {
            ("GET", None)
        };
        problem(call(method, &path, body, Cred::Key(k)).await, 422).await;
    }
    for (body, field) in [
        (json!({"service_id": c}), "proposed_change"),
        (
            json!({"service_id": c, "proposed_availability": 0.9, "proposed_change": {"proposed_target": 90}}),
            "proposed_change",
        ),
        (
            json!({"service_id": c, "proposed_change": {"sli_type": "latency", "proposed_target": 90}}),
            "proposed_change.sli_type",
        ),
        (
            json!({"service_id": c, "proposed_change": {"current_target": 90}}),
            "proposed_change.proposed_target",
        ),
    ] {
        let pr = problem(
            call(
                "POST",
                "/api/v1/slos/impact-analysis",
                Some(&body),
                Cred::Key(k),
            )
            .await,
            422,
        )
        .await;
        let fields: Vec<&str> = pr["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{body}: {pr}");
    }
    // 150 % is no availability: the SQL layer says so.
    let body = json!({"service_id": c, "proposed_change": {"proposed_target": 150}});
    problem(
        call(
            "POST",
            "/api/v1/slos/impact-analysis",
            Some(&body),
            Cred::Key(k),
        )
        .await,
        422,
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// The TRD's request examples, replayed verbatim.

/// Strings shaped "a | b | c" (the TRD's way of listing the allowed values).
fn placeholders(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.contains(" | ") => out.push(path.to_owned()),
        Value::Object(m) => m
            .iter()
            .for_each(|(k, c)| placeholders(c, &format!("{path}/{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, c)| placeholders(c, &format!("{path}/{i}"), out)),
        _ => {}
    }
}

/// Fills the placeholders: the example's `resolve` (JSON pointer → value, `$name` from
/// earlier answers), else the first listed alternative.
fn resolve(body: &Value, how: &Value, vars: &std::collections::HashMap<&str, String>) -> Value {
    let mut b = body.clone();
    let mut ph = Vec::new();
    placeholders(&b, "", &mut ph);
    for p in ph {
        let first = b
            .pointer(&p)
            .and_then(Value::as_str)
            .unwrap()
            .split(" | ")
            .next()
            .unwrap()
            .to_owned();
        *b.pointer_mut(&p).unwrap() = json!(first);
    }
    if let Some(m) = how.as_object() {
        for (ptr, val) in m {
            let val = match val.as_str().and_then(|s| s.strip_prefix('$')) {
                Some(var) => json!(vars[var]),
                None => val.clone(),
            };
            *b.pointer_mut(ptr).unwrap() = val;
        }
    }
    b
}

fn field_at<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted
        .split('.')
        .try_fold(v, |v, k| v.get(k))
        .filter(|x| !x.is_null())
}

#[tokio::test]
async fn every_trd_request_example_replayed_verbatim() {
    let fx: Value = serde_json::from_str(include_str!("fixtures/trd_requests.json")).unwrap();
    // FR-1's example says checkout-service belongs to team payments: a payments engineer.
    let token = team_jwt("jane.doe", "graph:write slo:write", "payments", &[]);
    let mut vars: std::collections::HashMap<&str, String> = Default::default();
    let mut replayed = 0;
    for ex in fx["examples"].as_array().unwrap() {
        let name = ex["name"].as_str().unwrap();
        let method = ex["method"].as_str().unwrap();
        let path = ex["path"].as_str().unwrap();
        if name == "FR-2 recommendations" {
            // History for checkout-service (what sli-sync would have written).
            seed_sli("checkout-service", 9992).await;
        }
        if name.starts_with("FR-12") {
            admin()
                .await
                .query_one("SELECT idgraph.refresh_slo_dashboard()", &[])
                .await
                .unwrap();
        }
        let cred = || {
            if ex["anonymous"] == true {
                Cred::None
            } else {
                Cred::Bearer(&token)
            }
        };
        let mut body = ex.get("body").cloned();
        if let Some(b) = &body {
            // Verbatim first: the placeholders ("a | b", "uuid") are refused, by name.
            let mut ph = Vec::new();
            placeholders(b, "", &mut ph);
            if let Some(st) = ex["verbatim_status"].as_u64() {
                let pr = problem(call(method, path, Some(b), cred()).await, st as u16).await;
                assert!(
                    pr["errors"].as_array().is_some_and(|e| !e.is_empty()),
                    "{name}: {pr}"
                );
            } else {
                assert!(
                    ph.is_empty(),
                    "{name}: placeholders {ph:?} but no verbatim_status"
                );
            }
            body = Some(resolve(b, &ex["resolve"], &vars));
        }
        let res = call(method, path, body.as_ref(), cred()).await;
        let st = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(st, ex["status"].as_u64().unwrap() as u16, "{name}: {text}");
        if let Some(t) = ex["text"].as_str() {
            assert!(text.contains(t), "{name}: {text}");
            replayed += 1;
            continue;
        }
        let v: Value = serde_json::from_str(&text).unwrap();
        for f in ex["fields"].as_array().into_iter().flatten() {
            let f = f.as_str().unwrap();
            assert!(field_at(&v, f).is_some(), "{name}: no {f} in {v}");
        }
        match name {
            "FR-1 bulk upsert" => {
                assert_eq!(v["nodes_received"], 1);
                assert_eq!(v["edges_received"], 1);
            }
            "FR-1 dependency subgraph" => {
                let deps = v["dependencies"].as_array().unwrap();
                assert!(
                    deps.iter().any(|d| d["service_id"] == "payment-service"),
                    "{v}"
                );
            }
            "FR-1 dependency subgraph, defaults" => {
                assert_eq!(v["direction"], "both");
                assert_eq!(v["depth"], 3);
            }
            "FR-2 recommendations" => {
                vars.insert(
                    "recommendation_id",
                    v["recommendation_id"].as_str().unwrap().to_owned(),
                );
                let a = v["recommendations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["sli_type"] == "availability")
                    .unwrap();
                for t in ["conservative", "balanced", "aggressive"] {
                    for f in [
                        "target",
                        "error_budget_monthly_minutes",
                        "estimated_breach_probability",
                        "confidence_interval",
                    ] {
                        assert!(a["tiers"][t].get(f).is_some(), "{t}.{f} in {a}");
                    }
                }
                // Percent, as in the TRD: 99.92 % of every window.
                approx(&a["tiers"]["conservative"]["target"], 99.92, 1e-9);
                for f in [
                    "summary",
                    "feature_attribution",
                    "dependency_impact",
                    "counterfactuals",
                ] {
                    assert!(a["explanation"].get(f).is_some(), "{f} in {a}");
                }
                let l = v["recommendations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["sli_type"] == "latency")
                    .unwrap();
                for t in ["conservative", "balanced", "aggressive"] {
                    for f in ["target_ms", "percentile", "estimated_breach_probability"] {
                        assert!(l["tiers"][t].get(f).is_some(), "{t}.{f} in {l}");
                    }
                }
            }
            "FR-5 decide" => {
                assert_eq!(v["status"], "active");
                assert_eq!(v["source"], "recommendation_modified");
                assert_eq!(v["targets"]["availability"], 99.95);
                assert_eq!(v["targets"]["latency_p99_ms"], 600.0);
                // The actor is who authenticated, not the body's "actor".
                assert_eq!(v["activated_by"], "jwt:jane.doe", "{v}");
            }
            "FR-8 active SLO" => {
                assert_eq!(v["targets"]["availability"], 99.95);
            }
            "FR-4 impact analysis" => {
                let imp = v["impacted_services"].as_array().unwrap();
                let c = imp
                    .iter()
                    .find(|x| x["service_id"] == "checkout-service")
                    .unwrap();
                assert_eq!(c["relationship"], "upstream", "{v}");
                assert_eq!(c["current_slo_target"], 99.95, "{v}");
                assert_eq!(c["slo_at_risk"], true, "{v}");
                for f in [
                    "current_composite_availability",
                    "projected_composite_availability",
                    "delta",
                ] {
                    assert!(
                        c[f].as_f64().is_some_and(|x| x > 1.0 || f == "delta"),
                        "{f} in percent: {c}"
                    );
                }
            }
            _ => {}
        }
        replayed += 1;
    }
    assert_eq!(replayed, fx["examples"].as_array().unwrap().len());
}
