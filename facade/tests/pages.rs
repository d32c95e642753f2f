//! The explorer and the API docs as the facade serves them: every page and asset is
//! embedded and answers 200 without credentials, with a strict Content-Security-Policy
//! and framing refused; the pages carry no inline script; they are not part of the
//! OpenAPI document. (The browser test, tests/browser.sh, drives them in Chromium.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use idgraph_facade::routes::pages::{ASSETS, CONTENT_SECURITY_POLICY};
use serde_json::Value;

#[tokio::test]
async fn every_page_and_asset_is_served_with_a_strict_csp() {
    let s = shared();
    for a in ASSETS {
        let res = client().get(s.url(a.path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{}", a.path);
        let h = res.headers().clone();
        assert_eq!(h["content-type"], a.content_type, "{}", a.path);
        assert_eq!(
            h["content-security-policy"], CONTENT_SECURITY_POLICY,
            "{}",
            a.path
        );
        assert_eq!(h["x-frame-options"], "DENY", "{}", a.path);
        assert_eq!(h["referrer-policy"], "no-referrer", "{}", a.path);
        assert_eq!(h["x-content-type-options"], "nosniff", "{}", a.path);
        assert!(h.contains_key("strict-transport-security"), "{}", a.path);
        let body = res.bytes().await.unwrap();
        assert_eq!(body.len(), a.body.len(), "{}", a.path);
        assert!(body.len() > 100, "{} is nearly empty", a.path);
    }
    for want in [
        "/explorer",
        "/docs",
        "/ui/explorer.js",
        "/ui/docs.js",
        "/ui/vendor/cytoscape.min.js",
        "/ui/vendor/swagger-ui-bundle.js",
        "/ui/vendor/swagger-ui.css",
    ] {
        assert!(ASSETS.iter().any(|a| a.path == want), "{want} not served");
    }
}

#[test]
fn the_policy_allows_only_this_origin_and_no_framing() {
    let p = CONTENT_SECURITY_POLICY;
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'none'",
        "base-uri 'none'",
    ] {
        assert!(p.contains(directive), "{directive} missing from {p}");
    }
    assert!(!p.contains("unsafe"), "{p}");
    assert!(!p.contains("http"), "no other origin: {p}");
}

#[test]
fn the_pages_have_no_inline_script_and_load_only_local_files() {
    for a in ASSETS
        .iter()
        .filter(|a| a.content_type.starts_with("text/html"))
    {
        let html = std::str::from_utf8(a.body).unwrap();
        let scripts: Vec<&str> = html.split("<script").skip(1).collect();
        assert!(!scripts.is_empty(), "{}", a.path);
        for s in scripts {
            let tag = &s[..s.find('>').unwrap()];
            assert!(
                tag.contains("src=\"/ui/"),
                "{}: inline or foreign script {tag}",
                a.path
            );
            assert!(
                s[s.find('>').unwrap() + 1..].starts_with("</script>"),
                "{}",
                a.path
            );
        }
        assert!(!html.contains(" style="), "{}: inline style", a.path);
        let handler = html.match_indices(" on").any(|(i, _)| {
            let rest = &html[i + 3..];
            let n = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            n > 0 && rest[n..].starts_with('=')
        });
        assert!(!handler, "{}: inline event handler", a.path);
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{}",
            a.path
        );
        // The credential input has no name: it can never be serialized into a URL.
        if a.path == "/explorer" {
            let input = html.split("<input id=\"credential\"").nth(1).unwrap();
            let tag = &input[..input.find('>').unwrap()];
            assert!(!tag.contains("name="), "{tag}");
            assert!(tag.contains("type=\"password\""), "{tag}");
        }
    }
}

#[tokio::test]
async fn pages_need_no_credentials_and_only_answer_get() {
    let s = shared();
    // A bad credential changes nothing on a page (it is the same for everyone).
    let res = client()
        .get(s.url("/explorer"))
        .header("X-API-Key", "idg_live_nonsense")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client().post(s.url("/explorer")).send().await.unwrap();
    let p = problem(res, 405).await;
    assert_eq!(p["instance"], "/explorer");
    let res = client().get(s.url("/ui/nope.js")).send().await.unwrap();
    problem(res, 404).await;
    // HEAD works for caches and link checkers.
    let res = client().head(s.url("/docs")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn pages_are_not_in_the_openapi_document() {
    let s = shared();
    let doc: Value = client()
        .get(s.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for a in ASSETS {
        assert!(
            !paths.contains_key(a.path),
            "{} is in the API document",
            a.path
        );
    }
}
