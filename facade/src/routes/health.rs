//! Liveness, readiness, metrics and the OpenAPI document (no credentials needed).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::gate::not_ready;
use crate::problem::{ApiError, Problem};
use crate::replica::{measure, ReplicaLag};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// ok
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// ready
    pub status: String,
    pub database: String,
    /// With --read-database-url: "ok", or "unavailable" (reads then go to the primary;
    /// still ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
    /// With --read-database-url and the replica reachable: how far it is behind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_lag: Option<ReplicaLag>,
}

/// The read replica's lag, bounded in time; None when it cannot be measured.
async fn replica_lag(state: &AppState) -> Option<ReplicaLag> {
    let r = state.db.replica()?;
    match tokio::time::timeout(
        std::time::Duration::from_secs(2),
        measure(state.db.primary(), r),
    )
    .await
    {
        Ok(Ok(lag)) => Some(lag),
        Ok(Err(e)) => {
            tracing::warn!(error = ?e.internal, "cannot measure the replica lag");
            None
        }
        Err(_) => None,
    }
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, body = Health)))]
pub async fn live() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the start-up check (extension version, the role's grants) passed and a
/// database round trip works; 503 otherwise, saying why.
#[utoipa::path(get, path = "/health/ready", tag = "operations",
    responses((status = 200, body = Ready),
              (status = 503, body = Problem, content_type = "application/problem+json",
               description = "The database is unreachable, or not fit to serve (the detail says why)")))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Ready>, ApiError> {
    if !state.gate.is_open() {
        let checked = tokio::time::timeout(
            std::time::Duration::from_secs(3),
            state.gate.check_now(state.db.primary(), state.db.replica()),
        )
        .await;
        match checked {
            Ok(Ok(Ok(()))) => {}
            // Operators need the reason; it names roles and versions, never secrets.
            Ok(Ok(Err(reason))) => return Err(not_ready(&reason).detail(reason)),
            Ok(Err(e)) => {
                return Err(ApiError::unavailable(format!(
                    "readiness: {}",
                    e.internal.clone().unwrap_or_default()
                )))
            }
            Err(_) => return Err(ApiError::unavailable("readiness: timed out")),
        }
    }
    let check = async {
        state.db.query_plain("SELECT 1", &[]).await?;
        Ok::<_, ApiError>(())
    };
    match tokio::time::timeout(std::time::Duration::from_secs(3), check).await {
        Ok(Ok(())) => {
            let lag = replica_lag(&state).await;
            Ok(Json(Ready {
                status: "ready".into(),
                database: "ok".into(),
                replica: state
                    .db
                    .replica()
                    .map(|_| if lag.is_some() { "ok" } else { "unavailable" }.to_owned()),
                replica_lag: lag,
            }))
        }
        Ok(Err(e)) => Err(ApiError::unavailable(format!(
            "readiness: {}",
            e.internal.clone().unwrap_or_default()
        ))),
        Err(_) => Err(ApiError::unavailable("readiness: timed out")),
    }
}

/// Liveness at the TRD's path (FR-8): the same as `/health`.
#[utoipa::path(get, path = "/api/v1/health", tag = "operations",
    responses((status = 200, body = Health)))]
pub async fn live_v1() -> Json<Health> {
    live().await
}

/// Readiness at the TRD's path (FR-8): the same as `/health/ready`.
#[utoipa::path(get, path = "/api/v1/health/ready", tag = "operations",
    responses((status = 200, body = Ready),
              (status = 503, body = Problem, content_type = "application/problem+json",
               description = "The database is unreachable")))]
pub async fn ready_v1(state: State<AppState>) -> Result<Json<Ready>, ApiError> {
    ready(state).await
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    crate::dbstats::refresh(&state).await;
    state
        .metrics
        .set_pool("primary", state.db.primary().status());
    if let Some(r) = state.db.replica() {
        state.metrics.set_pool("replica", r.status());
        match replica_lag(&state).await {
            Some(lag) => {
                state.metrics.replica_lag_bytes.set(lag.lag_bytes);
                state.metrics.replica_up.set(i64::from(lag.standby));
            }
            None => state.metrics.replica_up.set(0),
        }
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn openapi() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document()
            .to_json()
            .unwrap_or_else(|_| "{}".into()),
    )
        .into_response()
}
