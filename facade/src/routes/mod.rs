//! The routes, and the one `router()` that tests call with `tower::ServiceExt::oneshot`.

pub mod centrality;
pub mod graph;
pub mod health;
pub mod identity;
pub mod pages;
pub mod slo;

use std::collections::BTreeMap;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

use crate::middleware;
use crate::problem::{ApiError, PROBLEM_JSON};
use crate::state::AppState;

/// Request bodies over this are refused with 413.
pub const BODY_LIMIT: usize = 10 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(health::openapi))
        .route("/api/v1/health", get(health::live_v1))
        .route("/api/v1/health/ready", get(health::ready_v1))
        // identity
        .route("/api/v1/identity/targets", get(identity::list_targets))
        .route(
            "/api/v1/identity/submissions",
            post(identity::create_submission),
        )
        .route(
            "/api/v1/identity/submissions/{submission_uuid}",
            get(identity::get_submission),
        )
        .route(
            "/api/v1/identity/submissions/{submission_uuid}/allocations",
            post(identity::allocate),
        )
        .route(
            "/api/v1/identity/submissions/{submission_uuid}/allocations/batch",
            post(identity::allocate_batch),
        )
        .route(
            "/api/v1/identity/submissions/{submission_uuid}/resolve",
            get(identity::resolve_in_submission),
        )
        .route(
            "/api/v1/identity/submissions/{submission_uuid}/commit",
            post(identity::commit),
        )
        .route(
            "/api/v1/identity/submissions/{submission_uuid}/rollback",
            post(identity::rollback),
        )
        .route("/api/v1/identity/resolve", get(identity::resolve))
        .route(
            "/api/v1/identity/resolve/batch",
            post(identity::resolve_batch),
        )
        .route("/api/v1/identity/reverse", get(identity::reverse))
        .route(
            "/api/v1/identity/detect-change",
            post(identity::detect_change),
        )
        // graph
        .route("/api/v1/services", get(graph::list_services))
        .route("/api/v1/services/dependencies", post(graph::ingest))
        .route("/api/v1/services/{service_id}", get(graph::get_service))
        .route(
            "/api/v1/services/{service_id}/slo-history",
            get(graph::slo_history),
        )
        .route(
            "/api/v1/services/{service_id}/dependencies",
            get(graph::dependencies),
        )
        .route(
            "/api/v1/services/{service_id}/availability",
            get(graph::composite_availability).put(graph::set_availability),
        )
        .route(
            "/api/v1/services/{service_id}/published-sla",
            put(graph::set_published_sla),
        )
        .route(
            "/api/v1/services/{service_id}/check-slo",
            get(graph::check_slo),
        )
        // the SLO engine
        .route(
            "/api/v1/services/{service_id}/slos",
            get(slo::get_slo).post(slo::post_slo),
        )
        .route(
            "/api/v1/services/{service_id}/slos/alerts",
            get(slo::alerts),
        )
        .route(
            "/api/v1/services/{service_id}/slo-recommendations",
            get(slo::recommendations),
        )
        .route("/api/v1/dashboard/coverage", get(slo::dashboard_coverage))
        .route(
            "/api/v1/dashboard/error-budget-health",
            get(slo::dashboard_error_budget_health),
        )
        .route(
            "/api/v1/dashboard/recommendation-quality",
            get(slo::dashboard_recommendation_quality),
        )
        .route("/api/v1/slos/impact-analysis", post(graph::impact_analysis))
        .route("/api/v1/cycles", get(graph::cycles))
        .route(
            "/api/v1/alerts/{alert_id}/acknowledge",
            post(graph::acknowledge_alert),
        )
        .route("/api/v1/graph/mark-stale", post(graph::mark_stale))
        // centrality
        .route(
            "/api/v1/services/{service_id}/centrality",
            get(centrality::centrality_of),
        )
        .route("/api/v1/centrality/top", get(centrality::top))
        .route("/api/v1/centrality/refresh", post(centrality::refresh))
        // the explorer and the API docs (HTML, scripts, styles; not in the OpenAPI document)
        .merge(pages::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Innermost first; see crate::middleware for the order written down.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::auth_and_rate_limit,
        ))
        .layer(axum::middleware::from_fn(middleware::buffer_body))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::request_context,
        ))
        .with_state(state)
}

async fn not_found() -> Response {
    ApiError::for_status(StatusCode::NOT_FOUND).into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::for_status(StatusCode::METHOD_NOT_ALLOWED).into_response()
}

/// The error responses every API route documents (all `application/problem+json`).
pub struct ProblemResponses;

impl utoipa::IntoResponses for ProblemResponses {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
        let rows = [
            ("400", "Malformed JSON, or bad path or query parameters"),
            ("401", "No credentials, or credentials rejected"),
            ("403", "Authenticated without the needed scope"),
            ("404", "No such resource (or a submission of another team)"),
            ("405", "Method not allowed on this route"),
            ("409", "Conflict (name taken, submission already closed)"),
            ("413", "Body over 10 MB"),
            ("415", "Body is not application/json"),
            (
                "422",
                "Invalid content; `errors` lists every offending field",
            ),
            ("429", "Rate limit exceeded; see Retry-After"),
            ("500", "Internal error (details only in the server log)"),
            ("503", "Database unavailable; see Retry-After"),
        ];
        rows.into_iter()
            .map(|(code, desc)| {
                let r = ResponseBuilder::new()
                    .description(desc)
                    .content(
                        PROBLEM_JSON,
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build();
                (code.to_owned(), RefOr::T(r))
            })
            .collect()
    }
}
