//! All middleware, in one place. Layer order, outermost first (see `routes::router`):
//!
//! 1. `request_context` — request id (honours a sane incoming `X-Request-Id`, else a new
//!    UUID; returned on every response), W3C trace context (a valid `traceparent` is
//!    continued, else a trace starts; the facade's `traceparent` is on every response
//!    and the trace id in the span, so in every log line, and in the database session's
//!    `application_name`), tracing span with the matched route, access
//!    log, request metrics, security headers (HSTS), and the problem normalizer: any
//!    error response that is not yet problem+json (405 from the router, 413 from the
//!    body limit, …) becomes one, and every problem gets `instance` and `request_id`.
//! 2. `timeout` — requests over the configured time answer 503 problem+json.
//! 3. catch-panic — a panicking handler answers 500 problem+json (details only logged).
//! 4. body limits — 10 MB (by Content-Length up front, and while reading), and
//!    `buffer_body`: the body is read completely before any handler may answer early
//!    (401, 404, …), so an HTTP/1.1 connection stays reusable instead of being closed
//!    under a client that is still sending.
//! 5. `auth_and_rate_limit` — the start-up check's gate (503 not-ready), credentials →
//!    `AuthOutcome` in the request extensions (handlers decide 401/403), then the
//!    principal's bucket (429), the `X-RateLimit-*` headers and the key-expiry `Warning`.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::auth::{authenticate, claimed_principal, expiry_warning, presented_key, AuthOutcome};
use crate::problem::{ApiError, ProblemMarker, PROBLEM_JSON};
use crate::ratelimit::{route_cost, Decision};
use crate::state::AppState;
use crate::trace::{TraceContext, TRACEPARENT};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const RL_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const RL_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RL_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// The principal a response was served to, for the access log.
#[derive(Clone)]
struct ServedTo(String);

fn sane_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b));
    ok.then(|| s.to_owned())
}

fn route_of(req: &Request) -> String {
    req.extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into())
}

pub async fn request_context(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(sane_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = req.method().as_str().to_owned();
    let route = route_of(&req);
    let path = req.uri().path().to_owned();
    let trace = TraceContext::from_headers(req.headers());
    let traceparent = trace.header_value();
    let span = tracing::info_span!("request", request_id = %request_id, trace_id = %trace.trace_id,
        method = %method, route = %route);
    let mut res = trace.scope(next.run(req)).instrument(span.clone()).await;

    let status = res.status();
    if status.is_client_error() || status.is_server_error() {
        res = normalize_problem(res, &path, &request_id);
    }
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert(REQUEST_ID, v);
    }
    if let Some(v) = traceparent {
        h.insert(TRACEPARENT, v);
    }
    if !state.hsts.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&state.hsts) {
            h.insert(header::STRICT_TRANSPORT_SECURITY, v);
        }
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));

    let elapsed = started.elapsed();
    state
        .metrics
        .observe_request(&method, &route, status.as_u16(), elapsed.as_secs_f64());
    let principal = res
        .extensions()
        .get::<ServedTo>()
        .map(|p| p.0.clone())
        .unwrap_or_default();
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            principal = %principal,
            path = %path,
            "request"
        )
    });
    res
}

/// Turns any error response into problem+json (keeping its headers, e.g. Allow and
/// Retry-After) and stamps `instance` and `request_id` into the document.
fn normalize_problem(res: Response, path: &str, request_id: &str) -> Response {
    let status = res.status();
    let (mut parts, body) = res.into_parts();
    let mut problem = match parts.extensions.remove::<ProblemMarker>() {
        Some(ProblemMarker(p)) => p,
        None => {
            let is_problem = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with(PROBLEM_JSON));
            if is_problem {
                // Already a problem document we know nothing about: leave it.
                return Response::from_parts(parts, body);
            }
            ApiError::for_status(status).to_problem()
        }
    };
    drop(body);
    problem.instance = Some(path.to_owned());
    problem.request_id = Some(request_id.to_owned());
    let bytes = serde_json::to_vec(&problem).unwrap_or_default();
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.headers.remove(header::CONTENT_LENGTH);
    if status == StatusCode::SERVICE_UNAVAILABLE && !parts.headers.contains_key(header::RETRY_AFTER)
    {
        parts
            .headers
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    Response::from_parts(parts, Body::from(bytes))
}

pub async fn buffer_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, crate::routes::BODY_LIMIT).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => {
            let too_big = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || e.to_string().contains("length limit");
            if too_big {
                ApiError::for_status(StatusCode::PAYLOAD_TOO_LARGE).into_response()
            } else {
                ApiError::bad_request("the request body could not be read").into_response()
            }
        }
    }
}

pub async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.request_timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "Request Timed Out",
        )
        .detail("The request took too long; retry later.")
        .retry_after(5)
        .internal("request timeout")
        .into_response(),
    }
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal_error("handler panicked").into_response()
}

pub async fn auth_and_rate_limit(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let route = route_of(&req);
    let cost = route_cost(req.method().as_str(), &route);
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "local".into());

    // Every API key that is not already verified in the cache costs the client's address
    // first (argon2 is the expensive part); once that bucket is empty such keys are not
    // even looked at, so a guessing client gets no argon2 work out of the facade, while
    // cached keys and JWTs are cheap and unaffected. Failed and anonymous requests are
    // charged to the address as well (once).
    let ip_bucket = format!("ip:{client}");
    let slow_key = match presented_key(req.headers()) {
        Some(k) => !state.keys.is_cached(k).await,
        None => false,
    };
    let mut charged_ip = None;
    if cost > 0 && slow_key {
        let pre = state.limiter.check(&ip_bucket, cost);
        if !pre.allowed {
            state.metrics.rate_limited.inc();
            return too_many(pre, &ip_bucket, &route);
        }
        charged_ip = Some(pre);
    }
    // Data routes wait for the start-up check (extension version, the role's grants).
    if cost > 0 {
        if let Err(e) = state
            .gate
            .admit(state.db.primary(), state.db.replica())
            .await
        {
            return e.into_response();
        }
    }
    let outcome = if cost == 0 {
        // Operational routes and the pages take no credentials (and must answer when the
        // DB is down).
        AuthOutcome::Anonymous
    } else {
        match authenticate(req.headers(), &state.db, &state.keys, state.jwt.as_ref()).await {
            Ok(o) => o,
            Err(e) => {
                if e.slug == "not-ready" {
                    state.gate.close(e.internal.clone().unwrap_or_default());
                }
                return e.into_response();
            }
        }
    };
    if let AuthOutcome::Failed(reason) = &outcome {
        tracing::warn!(
            claimed = %claimed_principal(req.headers()),
            route = %route,
            reason = *reason,
            "authentication failed"
        );
        state
            .metrics
            .auth_failures
            .with_label_values(&[reason])
            .inc();
    }
    let (bucket, served_to) = match &outcome {
        AuthOutcome::Ok(p) => (p.subject.clone(), p.subject.clone()),
        _ => (ip_bucket, String::new()),
    };
    let d = match (&outcome, charged_ip) {
        (AuthOutcome::Ok(_), _) | (_, None) => state.limiter.check(&bucket, cost),
        (_, Some(already)) => already,
    };
    if !d.allowed {
        state.metrics.rate_limited.inc();
        return too_many(d, &bucket, &route);
    }
    let expiry = match &outcome {
        AuthOutcome::Ok(p) => p.key_expires_at,
        _ => None,
    };
    req.extensions_mut().insert(outcome);
    let mut res = next.run(req).await;
    if let Some(w) = expiry.and_then(|t| expiry_warning(t, chrono::Utc::now())) {
        if let Ok(v) = HeaderValue::from_str(&w) {
            res.headers_mut().insert(header::WARNING, v);
        }
    }
    if let Some(why) = refused_role(&res) {
        state.gate.close(why);
    }
    // Operational routes are free: they neither draw on nor report a bucket.
    if cost > 0 {
        rate_headers(&mut res, d);
    }
    res.extensions_mut().insert(ServedTo(served_to));
    res
}

/// The reason, when a response says the database refused the facade's role (42501).
fn refused_role(res: &Response) -> Option<String> {
    if res.status() != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let ProblemMarker(p) = res.extensions().get::<ProblemMarker>()?;
    p.kind
        .ends_with("/not-ready")
        .then(|| "the database refused the facade's role a privilege (42501)".to_owned())
}

fn too_many(d: Decision, bucket: &str, route: &str) -> Response {
    tracing::warn!(principal = %bucket, route = %route, "rate limited");
    let mut res = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too Many Requests",
    )
    .detail(format!(
        "rate limit exceeded; retry in {} s",
        d.retry_after_secs
    ))
    .retry_after(d.retry_after_secs)
    .into_response();
    rate_headers(&mut res, d);
    res.extensions_mut().insert(ServedTo(bucket.to_owned()));
    res
}

fn rate_headers(res: &mut Response, d: Decision) {
    let h = res.headers_mut();
    for (name, v) in [
        (RL_LIMIT, d.limit),
        (RL_REMAINING, d.remaining),
        (RL_RESET, d.reset_secs),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v.to_string()) {
            h.insert(name, v);
        }
    }
}
