//! Centrality over HTTPS (SPEC §3): read the materialized values, refresh betweenness.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authenticated, Scope};
use crate::db::Access;
use crate::extract::{ApiJsonOrEmpty, ApiPath, ApiQuery};
use crate::problem::ApiResult;
use crate::routes::graph::JsonDocument;
use crate::routes::ProblemResponses;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Centrality {
    pub service: String,
    pub in_degree: i32,
    pub out_degree: i32,
    pub degree: i32,
    pub betweenness: Option<f64>,
    pub betweenness_normalized: Option<f64>,
    pub clustering: f64,
    pub graph_version: i64,
    pub computed_at: DateTime<Utc>,
    pub betweenness_version: Option<i64>,
    pub betweenness_computed_at: Option<DateTime<Utc>>,
    /// True when betweenness predates the current topology.
    pub betweenness_stale: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TopQuery {
    /// betweenness, betweenness_normalized, degree, in_degree, out_degree or clustering.
    #[serde(default)]
    pub metric: Option<String>,
    /// 1..10000 (default 10).
    #[serde(default)]
    pub k: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopRow {
    pub rank: i64,
    pub service: String,
    pub value: Option<f64>,
    pub in_degree: i32,
    pub out_degree: i32,
    pub degree: i32,
    pub betweenness: Option<f64>,
    pub betweenness_normalized: Option<f64>,
    pub clustering: f64,
    pub stale: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopResponse {
    pub metric: String,
    pub top: Vec<TopRow>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// exact (default) or sampled.
    #[serde(default)]
    pub mode: Option<String>,
    /// Number of sampled sources (mode sampled only).
    #[serde(default)]
    pub samples: Option<i32>,
}

/// Centrality of one service.
#[utoipa::path(get, path = "/api/v1/services/{service_id}/centrality", tag = "centrality",
    params(("service_id" = String, Path, description = "The service")),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = Centrality), ProblemResponses))]
pub async fn centrality_of(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(service): ApiPath<String>,
) -> ApiResult<Json<Centrality>> {
    who.require(Scope::GraphRead)?;
    let r = state
        .db
        .query_one(
            Access::Read,
            &who,
            "SELECT * FROM idgraph.centrality_of($1)",
            &[&service],
        )
        .await?;
    Ok(Json(Centrality {
        service: r.try_get("service")?,
        in_degree: r.try_get("in_degree")?,
        out_degree: r.try_get("out_degree")?,
        degree: r.try_get("degree")?,
        betweenness: r.try_get("betweenness")?,
        betweenness_normalized: r.try_get("betweenness_normalized")?,
        clustering: r.try_get("clustering")?,
        graph_version: r.try_get("graph_version")?,
        computed_at: r.try_get("computed_at")?,
        betweenness_version: r.try_get("betweenness_version")?,
        betweenness_computed_at: r.try_get("betweenness_computed_at")?,
        betweenness_stale: r.try_get("betweenness_stale")?,
    }))
}

/// Top k services by a centrality metric.
#[utoipa::path(get, path = "/api/v1/centrality/top", tag = "centrality",
    params(TopQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = TopResponse), ProblemResponses))]
pub async fn top(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiQuery(q): ApiQuery<TopQuery>,
) -> ApiResult<Json<TopResponse>> {
    who.require(Scope::GraphRead)?;
    let metric = q.metric.unwrap_or_else(|| "betweenness".into());
    let rows = state
        .db
        .query(
            Access::Read,
            &who,
            "SELECT * FROM idgraph.centrality_top($1, $2)",
            &[&metric, &q.k.unwrap_or(10)],
        )
        .await?;
    let top = rows
        .iter()
        .map(|r| {
            Ok(TopRow {
                rank: r.try_get("rank")?,
                service: r.try_get("service")?,
                value: r.try_get("value")?,
                in_degree: r.try_get("in_degree")?,
                out_degree: r.try_get("out_degree")?,
                degree: r.try_get("degree")?,
                betweenness: r.try_get("betweenness")?,
                betweenness_normalized: r.try_get("betweenness_normalized")?,
                clustering: r.try_get("clustering")?,
                stale: r.try_get("stale")?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    Ok(Json(TopResponse { metric, top }))
}

/// Recompute betweenness now (exact or sampled); degree and clustering are always current.
#[utoipa::path(post, path = "/api/v1/centrality/refresh", tag = "centrality",
    request_body(content = RefreshRequest, description = "Optional; an empty body is accepted"),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = JsonDocument), ProblemResponses))]
pub async fn refresh(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiJsonOrEmpty(body): ApiJsonOrEmpty<RefreshRequest>,
) -> ApiResult<Json<Value>> {
    who.require(Scope::GraphWrite)?;
    let mode = body.mode.unwrap_or_else(|| "exact".into());
    let row = state
        .db
        .query_one(
            Access::Write,
            &who,
            "SELECT idgraph.refresh_centrality($1, $2)",
            &[&mode, &body.samples],
        )
        .await?;
    Ok(Json(row.try_get::<_, Value>(0)?))
}
