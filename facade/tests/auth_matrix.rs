//! The auth matrix: every API route × {no credentials, malformed key, unknown key, wrong
//! secret, revoked key, expired JWT, not-yet-valid JWT, wrong audience, wrong issuer,
//! bad signature, wrong scope, right scope (JWT and API key)} → the expected status.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

struct Route {
    method: &'static str,
    path: String,
    body: Option<Value>,
    scope: &'static str,
}

fn routes(sub: &str, svc: &str) -> Vec<Route> {
    let ext = uuid::Uuid::new_v4().to_string();
    let r = |method, path: String, body: Option<Value>, scope| Route {
        method,
        path,
        body,
        scope,
    };
    let tc = json!({"table_name": TABLE, "column_name": COLUMN});
    let with = |extra: Value| {
        let mut v = tc.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    let q = format!("table_name={TABLE}&column_name={COLUMN}&external_id={ext}");
    vec![
        r("GET", "/api/v1/identity/targets".into(), None, "identity:read"),
        r(
            "POST",
            "/api/v1/identity/submissions".into(),
            Some(json!({"submission_name": unique("m"), "source_system": "s", "data_type": "d"})),
            "identity:write",
        ),
        r("GET", format!("/api/v1/identity/submissions/{sub}"), None, "identity:read"),
        r(
            "POST",
            format!("/api/v1/identity/submissions/{sub}/allocations"),
            Some(with(json!({"external_id": ext}))),
            "identity:write",
        ),
        r(
            "POST",
            format!("/api/v1/identity/submissions/{sub}/allocations/batch"),
            Some(with(json!({"allocations": [{"external_id": ext}]}))),
            "identity:write",
        ),
        r(
            "GET",
            format!("/api/v1/identity/submissions/{sub}/resolve?{q}"),
            None,
            "identity:read",
        ),
        r("GET", format!("/api/v1/identity/resolve?{q}"), None, "identity:read"),
        r(
            "POST",
            "/api/v1/identity/resolve/batch".into(),
            Some(with(json!({"external_ids": [ext]}))),
            "identity:read",
        ),
        r(
            "GET",
            format!("/api/v1/identity/reverse?table_name={TABLE}&column_name={COLUMN}&alloc_integer_id=1"),
            None,
            "identity:read",
        ),
        r(
            "POST",
            "/api/v1/identity/detect-change".into(),
            Some(with(json!({"external_id": ext, "content_hash": "h"}))),
            "identity:read",
        ),
        r(
            "POST",
            format!("/api/v1/identity/submissions/{}/commit", uuid::Uuid::new_v4()),
            Some(json!({})),
            "identity:write",
        ),
        r(
            "POST",
            format!("/api/v1/identity/submissions/{}/rollback", uuid::Uuid::new_v4()),
            Some(json!({})),
            "identity:write",
        ),
        r(
            "POST",
            "/api/v1/services/dependencies".into(),
            // Owned by team-all: the all-scope key's team, and a group of the JWTs.
            Some(json!({"source": "manual", "nodes": [{"service_id": svc, "team": "team-all"}]})),
            "graph:write",
        ),
        r("GET", "/api/v1/services?limit=5".into(), None, "graph:read"),
        r("GET", format!("/api/v1/services/{svc}"), None, "graph:read"),
        r("GET", format!("/api/v1/services/{svc}/slo-history"), None, "graph:read"),
        r("GET", format!("/api/v1/services/{svc}/dependencies"), None, "graph:read"),
        r("GET", format!("/api/v1/services/{svc}/availability"), None, "graph:read"),
        r(
            "PUT",
            format!("/api/v1/services/{svc}/availability"),
            Some(json!({"availability": 0.999})),
            "graph:write",
        ),
        r(
            "PUT",
            format!("/api/v1/services/{svc}/published-sla"),
            Some(json!({"published_sla": 0.999})),
            "graph:write",
        ),
        r("GET", format!("/api/v1/services/{svc}/check-slo?target=0.99"), None, "graph:read"),
        r(
            "POST",
            format!("/api/v1/services/{svc}/slos"),
            Some(json!({"availability_target": 0.99})),
            "slo:write",
        ),
        r("GET", format!("/api/v1/services/{svc}/slos"), None, "graph:read"),
        r(
            "GET",
            format!("/api/v1/services/{svc}/slos/alerts?format=prometheus"),
            None,
            "graph:read",
        ),
        r(
            "GET",
            format!("/api/v1/services/{svc}/slo-recommendations?lookback_days=30"),
            None,
            "graph:read",
        ),
        r(
            "POST",
            format!("/api/v1/services/{svc}/slos"),
            Some(json!({"recommendation_id": uuid::Uuid::new_v4(), "action": "accept"})),
            "slo:write",
        ),
        r("GET", "/api/v1/dashboard/coverage".into(), None, "graph:read"),
        r("GET", "/api/v1/dashboard/error-budget-health".into(), None, "graph:read"),
        r("GET", "/api/v1/dashboard/recommendation-quality".into(), None, "graph:read"),
        r(
            "POST",
            "/api/v1/slos/impact-analysis".into(),
            Some(json!({"service_id": svc, "proposed_availability": 0.9})),
            "graph:read",
        ),
        r("GET", "/api/v1/cycles".into(), None, "graph:read"),
        r(
            "POST",
            "/api/v1/alerts/1/acknowledge".into(),
            Some(json!({})),
            "graph:write",
        ),
        r(
            "POST",
            "/api/v1/graph/mark-stale".into(),
            Some(json!({"older_than_seconds": 864000})),
            "graph:write",
        ),
        r("GET", format!("/api/v1/services/{svc}/centrality"), None, "graph:read"),
        r("GET", "/api/v1/centrality/top".into(), None, "graph:read"),
        r(
            "POST",
            "/api/v1/centrality/refresh".into(),
            Some(json!({"mode": "sampled", "samples": 2})),
            "graph:write",
        ),
        r("GET", "/api/v1/audit/seals?after=0&limit=10".into(), None, "identity:admin"),
    ]
}

/// A scope set that does not grant `scope` (nor anything implying it).
fn wrong_scopes(scope: &str) -> &'static str {
    match scope {
        "identity:read" | "identity:write" => "graph:write slo:write",
        "graph:read" | "graph:write" => "identity:admin slo:write",
        "identity:admin" => "identity:write graph:write slo:write",
        _ => "graph:write identity:admin",
    }
}

enum Cred {
    None,
    Key(String),
    Bearer(String),
}

async fn call(s: &Server, r: &Route, cred: &Cred) -> (u16, Value) {
    let c = client();
    let mut req = match r.method {
        "GET" => c.get(s.url(&r.path)),
        "PUT" => c.put(s.url(&r.path)),
        _ => c.post(s.url(&r.path)),
    };
    if let Some(b) = &r.body {
        req = req.json(b);
    }
    req = match cred {
        Cred::None => req,
        Cred::Key(k) => req.header("X-API-Key", k),
        Cred::Bearer(t) => req.bearer_auth(t),
    };
    let res = req.send().await.unwrap();
    let st = res.status().as_u16();
    let www = res.headers().get("www-authenticate").is_some();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if st == 401 {
        assert!(www, "401 without WWW-Authenticate: {} {}", r.method, r.path);
    }
    (st, body)
}

#[tokio::test]
async fn every_route_times_every_credential() {
    let s = Server::start(|a| {
        a.rate_limit_burst = 100_000;
        a.rate_limit_per_sec = 100_000.0;
    });
    let f = fixture();
    let k = &f.keys;
    // A submission the right-scope JWT principal (team-jwt) can see: made by that principal.
    let maker = jwt(
        json!({"sub": "alice", "aud": AUDIENCE, "iss": ISSUER, "exp": now() + 600,
                           "scope": "identity:write", "team": "team-jwt"}),
    );
    let res = client()
        .post(s.url("/api/v1/identity/submissions"))
        .bearer_auth(&maker)
        .json(&json!({"submission_name": unique("matrix"), "source_system": "s", "data_type": "d"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let sub: Value = res.json().await.unwrap();
    let sub = sub["submission_uuid"].as_str().unwrap().to_owned();
    let svc = unique("matrix-svc");

    let some_key = &k.all;
    let key_id = some_key.split('_').nth(2).unwrap();
    let wrong_secret = format!("idg_live_{key_id}_{}", "0".repeat(64));
    let unknown_key = format!("idg_live_{}_{}", "f".repeat(16), "0".repeat(64));
    let base = |scope: &str| {
        json!({"sub": "alice", "aud": AUDIENCE, "iss": ISSUER, "exp": now() + 600,
               "nbf": now() - 10, "scope": scope, "team": "team-jwt", "groups": ["team-all"]})
    };
    let mut checked = 0;
    for r in routes(&sub, &svc) {
        let mut expired = base(r.scope);
        expired["exp"] = json!(now() - 3600);
        let mut early = base(r.scope);
        early["nbf"] = json!(now() + 3600);
        let mut wrong_aud = base(r.scope);
        wrong_aud["aud"] = json!("someone-else");
        let mut wrong_iss = base(r.scope);
        wrong_iss["iss"] = json!("https://evil.test");
        let good = jwt(base(r.scope));
        let mut forged = good.clone();
        // Flip the signature's last character.
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        let cases: Vec<(&str, Cred, u16)> = vec![
            ("none", Cred::None, 401),
            ("malformed key", Cred::Key("hello".into()), 401),
            ("unknown key", Cred::Key(unknown_key.clone()), 401),
            ("wrong secret", Cred::Key(wrong_secret.clone()), 401),
            ("revoked key", Cred::Key(k.revoked.clone()), 401),
            ("expired jwt", Cred::Bearer(jwt(expired)), 401),
            ("nbf jwt", Cred::Bearer(jwt(early)), 401),
            ("wrong aud", Cred::Bearer(jwt(wrong_aud)), 401),
            ("wrong iss", Cred::Bearer(jwt(wrong_iss)), 401),
            ("bad signature", Cred::Bearer(forged), 401),
            (
                "wrong scope",
                Cred::Bearer(jwt(base(wrong_scopes(r.scope)))),
                403,
            ),
            (
                "wrong scope key",
                Cred::Key(if r.scope.starts_with("identity") {
                    k.graph_only.clone()
                } else {
                    k.identity_read.clone()
                }),
                403,
            ),
        ];
        for (name, cred, want) in cases {
            let (got, body) = call(&s, &r, &cred).await;
            assert_eq!(got, want, "{} {} with {name}: {body}", r.method, r.path);
            assert!(body["request_id"].is_string(), "{body}");
            checked += 1;
        }
        // Right scope: authorized; whatever the route then says, never 401/403/5xx.
        for (name, cred) in [
            ("right scope jwt", Cred::Bearer(good)),
            (
                "all-scope key",
                Cred::Key(if r.scope.starts_with("identity") {
                    k.admin.clone()
                } else {
                    k.all.clone()
                }),
            ),
        ] {
            let (got, body) = call(&s, &r, &cred).await;
            assert!(
                !matches!(got, 401 | 403) && got < 500,
                "{} {} with {name}: {got} {body}",
                r.method,
                r.path
            );
            checked += 1;
        }
    }
    assert!(checked >= 36 * 14, "{checked}");
}

#[tokio::test]
async fn operational_routes_need_no_credentials() {
    let s = shared();
    for p in [
        "/health",
        "/health/ready",
        "/api/v1/health",
        "/api/v1/health/ready",
        "/metrics",
        "/openapi.json",
    ] {
        let res = client().get(s.url(p)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{p}");
    }
}

#[tokio::test]
async fn revocation_takes_effect_within_the_cache_ttl() {
    let s = Server::start(|a| a.key_cache_ttl_secs = 1);
    let admin = admin().await;
    let k = idgraph_facade::auth::generate_key().unwrap();
    let scopes = vec!["identity:read".to_string()];
    admin
        .execute(
            "SELECT idgraph.api_key_create($1, 'soon-revoked', $2, $3)",
            &[&k.key_id, &k.secret_hash, &scopes],
        )
        .await
        .unwrap();
    let get = || async {
        client()
            .get(s.url("/api/v1/identity/targets"))
            .header("X-API-Key", &k.full_key)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(get().await, 200);
    assert_eq!(get().await, 200); // cached
    admin
        .execute("SELECT idgraph.api_key_revoke($1)", &[&k.key_id])
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(get().await, 401);
    // The key list shows it revoked, without any hash.
    let row = admin
        .query_one(
            "SELECT revoked_at IS NOT NULL, last_used_at IS NOT NULL FROM idgraph.api_keys_list() WHERE key_id = $1",
            &[&k.key_id],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert!(row.get::<_, bool>(1));
}

#[tokio::test]
async fn facade_role_cannot_manage_keys_or_read_hashes() {
    let (c, conn) = tokio_postgres::connect(&facade_dsn(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let su: bool = c
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!su, "the facade must not log in as a superuser");
    for sql in [
        "SELECT * FROM idgraph.api_keys",
        "SELECT * FROM idgraph.api_keys_list()",
        "SELECT idgraph.api_key_revoke('0123456789abcdef')",
    ] {
        let e = c.query(sql, &[]).await.unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("42501"), "{sql}");
    }
}

#[tokio::test]
async fn rs256_tokens_and_no_algorithm_confusion() {
    let s = shared();
    let claims = json!({"sub": "bob", "aud": AUDIENCE, "iss": ISSUER, "exp": now() + 600,
                        "scp": ["identity:read"]});
    let get = |token: String| async move {
        client()
            .get(s.url("/api/v1/identity/targets"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    // RS256 against the RSA key; scopes from `scp` as a list.
    assert_eq!(get(jwt_rs256(claims.clone(), "test-rs256")).await, 200);
    // An RS256 signature presented as if by the EC key: refused.
    assert_eq!(get(jwt_rs256(claims.clone(), "test-es256")).await, 401);
    // HS256 (e.g. signed with a public key as the HMAC secret): refused.
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"public key bytes"),
    )
    .unwrap();
    assert_eq!(get(hs).await, 401);
    // `scp` as a space-separated string works too; a JWT without the scope gets 403.
    let mut c2 = claims.clone();
    c2["scp"] = json!("graph:read identity:read");
    assert_eq!(get(jwt_rs256(c2, "test-rs256")).await, 200);
    let mut c3 = claims;
    c3["scp"] = json!(["graph:read"]);
    assert_eq!(get(jwt_rs256(c3, "test-rs256")).await, 403);
}

#[tokio::test]
async fn jwks_from_a_url() {
    let f = fixture();
    let jwks = std::fs::read_to_string(&f.jwks_path).unwrap();
    // A JWKS endpoint on a port of its own.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            let body = jwks.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let s = Server::start(|a| {
        a.jwks_file = None;
        a.jwks_url = Some(format!("http://127.0.0.1:{port}/.well-known/jwks.json"));
    });
    let res = client()
        .get(s.url("/api/v1/identity/targets"))
        .bearer_auth(good_jwt("identity:read"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client()
        .get(s.url("/api/v1/identity/targets"))
        .bearer_auth(good_jwt("graph:read"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}
