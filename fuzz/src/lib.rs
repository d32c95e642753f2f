//! The properties the fuzz targets check, one function per target, shared by the AFL
//! binaries (src/bin/) and by the regression tests that replay corpus/ and regressions/.
//! Each returns normally for any input; a panic is the bug the fuzzer looks for.

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{header, Request, StatusCode};
use idgraph_core::depgraph::parse_document;
use idgraph_core::identity::{normalize, ExternalIdType};
use idgraph_facade::extract::ApiJson;
use idgraph_facade::routes::graph::IngestDocument;
use idgraph_facade::routes::identity::{BatchRequest, CreateSubmission};

/// The ingest document parser (core): any JSON value is either a document whose every
/// service id is non-empty, or a non-empty list of errors, each with a path.
pub fn ingest_doc(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    match parse_document(&value) {
        Ok(doc) => {
            for n in &doc.nodes {
                assert!(!n.service_id.trim().is_empty(), "accepted an empty service id");
            }
            for e in &doc.edges {
                assert!(!e.source.trim().is_empty() && !e.target.trim().is_empty());
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "a refused document names no error");
        }
    }
}

/// External-id normalisation (core): never panics, a normalised id normalises to itself,
/// and a UUID comes out as canonical lower-case 8-4-4-4-12.
pub fn external_id(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for ty in [ExternalIdType::Uuid, ExternalIdType::NaturalKey] {
        if let Ok(n) = normalize(text, ty) {
            assert_eq!(normalize(&n, ty).as_deref(), Ok(n.as_str()), "not idempotent");
            if ty == ExternalIdType::Uuid {
                assert_eq!(n.len(), 36);
                assert!(n.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
            }
        }
    }
}

/// The facade's JSON extractor: any body is either accepted or refused with a 4xx
/// problem document — never a panic, never a 5xx.
pub fn facade_json(data: &[u8]) {
    let run = || {
        futures_executor::block_on(async {
            let req = || {
                Request::builder()
                    .method("POST")
                    .uri("/")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(data.to_vec()))
            };
            let checks: [Result<(), StatusCode>; 3] = [
                match req() {
                    Ok(r) => ApiJson::<CreateSubmission>::from_request(r, &()).await.map(|_| ()).map_err(|e| e.status),
                    Err(_) => Ok(()),
                },
                match req() {
                    Ok(r) => ApiJson::<BatchRequest>::from_request(r, &()).await.map(|_| ()).map_err(|e| e.status),
                    Err(_) => Ok(()),
                },
                match req() {
                    Ok(r) => ApiJson::<IngestDocument>::from_request(r, &()).await.map(|_| ()).map_err(|e| e.status),
                    Err(_) => Ok(()),
                },
            ];
            for c in checks {
                if let Err(status) = c {
                    assert!(status.is_client_error(), "refused with {status}, not a 4xx");
                }
            }
        })
    };
    run();
}

/// The facade's pre-parse byte scanner (depth, value count, array caps before serde
/// sees the body): hand-written index arithmetic over untrusted bytes, so it must never
/// panic, and it must agree with itself.
pub fn json_scan(data: &[u8]) {
    use idgraph_facade::jsonscan::scan;
    let cap = |k: &str| (k == "nodes" || k == "edges").then_some(4);
    let a = scan(data, 8, 1_000, cap);
    let b = scan(data, 8, 1_000, cap);
    assert_eq!(a, b, "the scan is not deterministic");
    // A looser bound never refuses what a tighter one accepted.
    if a.is_ok() {
        assert!(scan(data, 64, 1_000_000, |_| None).is_ok(), "looser bounds refused what tighter accepted");
    }
}

#[cfg(test)]
mod replay {
    //! Every file of the checked-in corpus and of regressions/ (crashes the fuzzer found,
    //! kept once fixed) runs through its target's property as an ordinary test.
    use std::path::Path;

    fn replay(target: &str, check: fn(&[u8])) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        for dir in [root.join("corpus").join(target), root.join("regressions").join(target)] {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let data = std::fs::read(entry.path()).unwrap_or_default();
                check(&data);
                n += 1;
            }
        }
        assert!(n > 0, "no corpus for {target}");
    }

    #[test]
    fn ingest_doc() {
        replay("ingest_doc", super::ingest_doc);
    }
    #[test]
    fn external_id() {
        replay("external_id", super::external_id);
    }
    #[test]
    fn facade_json() {
        replay("facade_json", super::facade_json);
    }
    #[test]
    fn json_scan() {
        replay("json_scan", super::json_scan);
    }
}
