//! The JWKS refresh holds no lock across the network fetch: while a refetch (an unknown
//! kid) hangs on a slow JWKS server, tokens signed by known keys still verify.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use idgraph_facade::auth::{JwksSource, JwtVerifier};
use serde_json::json;
use tokio::sync::Notify;

#[tokio::test]
async fn a_slow_jwks_fetch_blocks_no_verification() {
    let f = fixture();
    let jwks = std::fs::read_to_string(&f.jwks_path).unwrap();
    let fetches = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(Notify::new());
    let second_arrived = Arc::new(Notify::new());
    // A JWKS server: the first fetch answers at once, later ones wait for `release`.
    let app = {
        let (fetches, release, second_arrived) =
            (fetches.clone(), release.clone(), second_arrived.clone());
        axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let (fetches, release, second_arrived, jwks) = (
                    fetches.clone(),
                    release.clone(),
                    second_arrived.clone(),
                    jwks.clone(),
                );
                async move {
                    if fetches.fetch_add(1, Ordering::SeqCst) > 0 {
                        second_arrived.notify_one();
                        release.notified().await;
                    }
                    ([("content-type", "application/json")], jwks)
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let v = Arc::new(
        JwtVerifier::new(
            JwksSource::Url(format!("http://{addr}/jwks.json")),
            Some(ISSUER.into()),
            AUDIENCE.into(),
        )
        .with_min_refresh(Duration::ZERO),
    );
    let good = good_jwt("identity:read");
    assert_eq!(v.verify(&good).await.unwrap().subject, "jwt:alice");
    // A token naming an unknown kid: the verifier refetches, and the server hangs.
    let key = jsonwebtoken::EncodingKey::from_ec_pem(f.jwt_key_pem.as_bytes()).unwrap();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = Some("rotated-away".into());
    let unknown = jsonwebtoken::encode(
        &h,
        &json!({"sub": "mallory", "aud": AUDIENCE, "iss": ISSUER, "exp": now() + 600}),
        &key,
    )
    .unwrap();
    let hanging = tokio::spawn({
        let v = v.clone();
        async move { v.verify(&unknown).await.map(|p| p.subject) }
    });
    second_arrived.notified().await;
    // The fetch is in flight and held: a known-kid token verifies meanwhile. (The hang
    // guard is below the verifier's 5 s HTTP timeout, which would otherwise free a lock
    // held across the fetch.)
    let ok = tokio::time::timeout(Duration::from_secs(3), v.verify(&good)).await;
    assert_eq!(
        ok.expect("verification waited for the JWKS fetch")
            .unwrap()
            .subject,
        "jwt:alice"
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "one refetch at a time");
    release.notify_one();
    assert_eq!(
        hanging.await.unwrap().unwrap_err(),
        "JWT signed by an unknown key"
    );
}
