//! The pages a person looks at: the graph explorer (`/explorer`) and the interactive API
//! docs (`/docs`, Swagger UI over the live `/openapi.json`), with their scripts and
//! styles. Everything is embedded in the binary at build time — our own files from
//! `facade/ui/src`, cytoscape and swagger-ui-dist from `facade/ui/node_modules`
//! (installed from the lockfile by `build.rs`) — so nothing is fetched from anywhere
//! else at run time.
//!
//! The pages take no credentials themselves (they are the same for everyone); their
//! scripts call the JSON API with the person's API key or JWT in a header. They are not
//! part of the OpenAPI document, which describes the JSON API.

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// Only this origin's own files; no inline script or style, no eval, no framing, no
/// form submissions (the credential form is handled by script and must never turn into
/// a GET with the key in the URL), no plugins. `data:` images are Swagger UI's icons.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// One embedded file and the path it is served at.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! ui {
    ($p:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/", $p))
    };
}

/// Every page and asset (build.rs lists the node_modules files it makes sure exist).
pub static ASSETS: &[Asset] = &[
    Asset {
        path: "/explorer",
        content_type: HTML,
        body: ui!("src/explorer.html"),
    },
    Asset {
        path: "/docs",
        content_type: HTML,
        body: ui!("src/docs.html"),
    },
    Asset {
        path: "/ui/explorer.js",
        content_type: JS,
        body: ui!("src/explorer.js"),
    },
    Asset {
        path: "/ui/explorer.css",
        content_type: CSS,
        body: ui!("src/explorer.css"),
    },
    Asset {
        path: "/ui/docs.js",
        content_type: JS,
        body: ui!("src/docs.js"),
    },
    Asset {
        path: "/ui/docs.css",
        content_type: CSS,
        body: ui!("src/docs.css"),
    },
    Asset {
        path: "/ui/vendor/cytoscape.min.js",
        content_type: JS,
        body: ui!("node_modules/cytoscape/dist/cytoscape.min.js"),
    },
    Asset {
        path: "/ui/vendor/swagger-ui-bundle.js",
        content_type: JS,
        body: ui!("node_modules/swagger-ui-dist/swagger-ui-bundle.js"),
    },
    Asset {
        path: "/ui/vendor/swagger-ui.css",
        content_type: CSS,
        body: ui!("node_modules/swagger-ui-dist/swagger-ui.css"),
    },
];

/// Whether a matched route is one of these pages or assets (free of rate-limit cost
/// and of credentials, like the operational routes).
pub fn is_page(route: &str) -> bool {
    ASSETS.iter().any(|a| a.path == route)
}

fn serve(a: &'static Asset) -> Response {
    let mut res = a.body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// The pages' routes, merged into `routes::router`.
pub fn routes() -> Router<AppState> {
    ASSETS.iter().fold(Router::new(), |r, a| {
        r.route(a.path, get(move || async move { serve(a) }))
    })
}
