//! The routes, and the one `router()` that tests call with `tower::ServiceExt::oneshot`.

pub mod audit;
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
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::middleware;
use crate::problem::{ApiError, PROBLEM_JSON};
use crate::state::AppState;

/// Request bodies over this are refused with 413.
pub const BODY_LIMIT: usize = 10 * 1024 * 1024;

/// Every JSON route, declared once (utoipa-axum): the router and the OpenAPI document
/// both come from this list, so they cannot drift apart. The rate-limit cost of each
/// operation (`ratelimit::route_cost`) is written into the document as `x-rate-limit-cost`.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) =
        OpenApiRouter::<AppState>::with_openapi(crate::openapi::ApiDoc::openapi())
            .routes(routes!(health::live))
            .routes(routes!(health::ready))
            .routes(routes!(health::metrics))
            .routes(routes!(health::openapi))
            .routes(routes!(health::live_v1))
            .routes(routes!(health::ready_v1))
            // identity
            .routes(routes!(identity::list_targets))
            .routes(routes!(identity::create_submission))
            .routes(routes!(identity::get_submission))
            .routes(routes!(identity::allocate))
            .routes(routes!(identity::allocate_batch))
            .routes(routes!(identity::resolve_in_submission))
            .routes(routes!(identity::commit))
            .routes(routes!(identity::rollback))
            .routes(routes!(identity::resolve))
            .routes(routes!(identity::resolve_batch))
            .routes(routes!(identity::reverse))
            .routes(routes!(identity::detect_change))
            // graph
            .routes(routes!(graph::list_services))
            .routes(routes!(graph::ingest))
            .routes(routes!(graph::get_service))
            .routes(routes!(graph::slo_history))
            .routes(routes!(graph::dependencies))
            .routes(routes!(
                graph::composite_availability,
                graph::set_availability
            ))
            .routes(routes!(graph::set_published_sla))
            .routes(routes!(graph::check_slo))
            .routes(routes!(graph::impact_analysis))
            .routes(routes!(graph::cycles))
            .routes(routes!(graph::acknowledge_alert))
            .routes(routes!(graph::mark_stale))
            // the SLO engine
            .routes(routes!(slo::get_slo, slo::post_slo))
            .routes(routes!(slo::alerts))
            .routes(routes!(slo::recommendations))
            .routes(routes!(slo::dashboard_coverage))
            .routes(routes!(slo::dashboard_error_budget_health))
            .routes(routes!(slo::dashboard_recommendation_quality))
            // audit
            .routes(routes!(audit::seals))
            // centrality
            .routes(routes!(centrality::centrality_of))
            .routes(routes!(centrality::top))
            .routes(routes!(centrality::refresh))
            .split_for_parts();
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in [
            ("GET", item.get.as_mut()),
            ("PUT", item.put.as_mut()),
            ("POST", item.post.as_mut()),
            ("DELETE", item.delete.as_mut()),
            ("PATCH", item.patch.as_mut()),
        ] {
            if let Some(op) = op {
                let cost = crate::ratelimit::route_cost(method, path);
                let ext = utoipa::openapi::extensions::ExtensionsBuilder::new()
                    .add("x-rate-limit-cost", cost)
                    .build();
                op.extensions
                    .get_or_insert_with(Default::default)
                    .merge(ext);
            }
        }
    }
    (router, doc)
}

pub fn router(state: AppState) -> Router {
    api()
        .0
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
