//! The SLO engine over HTTPS (TRD FR-2, FR-5, FR-10, FR-12): recommendations, the
//! accept / modify / reject lifecycle, burn-rate alert rules and the dashboard. Every
//! handler calls one `idgraph.*` SQL function; the math and the validation are there.
//!
//! **Units.** SQL speaks fractions (0.999). The TRD's HTTP contract speaks percent (99.9):
//! the recommendation tiers, FR-5's `modifications.availability_target` and `targets`,
//! FR-4's `proposed_change` and its answer. This module converts at the door, in
//! [`percent`] and [`fraction`], and nowhere else.
//!
//! **Ownership (FR-8 RBAC).** Deciding on a service's SLO needs `slo:write` and being on
//! the service's team (the principal's `team` — JWT claim or the API key's team — or one
//! of its JWT `groups`), or an SLO admin: `identity:admin`, or `slo:admin` in a JWT.
//! Anyone else gets 403; a service without a team can be decided on by admins only.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authenticated, Principal, Scope};
use crate::db::Access;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult, FieldError};
use crate::routes::graph::JsonDocument;
use crate::routes::ProblemResponses;
use crate::state::AppState;

/// A fraction (SQL) as percent (HTTP), rounded to 6 decimals so that 0.9995 is 99.95.
pub fn percent(x: f64) -> f64 {
    (x * 100.0 * 1e6).round() / 1e6
}

/// A percent (HTTP) as a fraction (SQL).
pub fn fraction(p: f64) -> f64 {
    p / 100.0
}

/// The keys whose numbers are availabilities (fractions in SQL, percent over HTTP).
const AVAILABILITY_KEYS: &[&str] = &[
    "target",
    "availability",
    "availability_used",
    "availability_target",
    "recommended_target",
    "composite_availability_bound",
    "current_composite_availability",
    "projected_composite_availability",
    "current_slo_target",
    "current_availability",
    "proposed_availability",
    "current_target",
    "proposed_target",
    "recommended",
    "selected",
    "delta",
];

/// Converts every availability in `v` (by key, recursively) from a fraction to percent.
pub fn percentify(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                let is_avail = AVAILABILITY_KEYS.contains(&k.as_str());
                match child {
                    Value::Number(n) if is_avail => {
                        if let Some(x) = n.as_f64() {
                            *child = json!(percent(x));
                        }
                    }
                    Value::Array(items) if k == "confidence_interval" => {
                        for it in items.iter_mut() {
                            if let Some(x) = it.as_f64() {
                                *it = json!(percent(x));
                            }
                        }
                    }
                    _ => percentify(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(percentify),
        _ => {}
    }
}

/// 403 unless `who` may decide on `service`'s SLO (see the module doc); 404 for an
/// unknown service.
pub async fn require_owner(state: &AppState, who: &Principal, service: &str) -> ApiResult<()> {
    who.require(Scope::SloWrite)?;
    if who.is_slo_admin() {
        return Ok(());
    }
    let row = state
        .db
        .query_one(
            Access::Write,
            who,
            "SELECT team FROM idgraph.service($1)",
            &[&service],
        )
        .await?;
    let team: Option<String> = row.try_get(0)?;
    match team {
        Some(t) if who.on_team(&t) => Ok(()),
        Some(t) => {
            tracing::warn!(principal = %who.subject, service = %service, team = %t, reason = "not the owning team", "authorization failed");
            Err(ApiError::forbidden(format!(
                "only team {t} (or an SLO admin) may decide on the SLO of {service}"
            )))
        }
        None => {
            tracing::warn!(principal = %who.subject, service = %service, reason = "service has no team", "authorization failed");
            Err(ApiError::forbidden(format!(
                "{service} has no team; only an SLO admin (identity:admin, or slo:admin in a JWT) may decide on its SLO"
            )))
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SliType {
    Availability,
    Latency,
    All,
}

impl SliType {
    fn as_str(self) -> &'static str {
        match self {
            SliType::Availability => "availability",
            SliType::Latency => "latency",
            SliType::All => "all",
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RecommendationsQuery {
    /// availability, latency or all (default).
    #[serde(default)]
    #[param(inline)]
    pub sli_type: Option<SliType>,
    /// Days of history, 7..365 (default 30; < 30 days of data extends it to 90).
    #[serde(default)]
    #[param(minimum = 7, maximum = 365)]
    pub lookback_days: Option<i32>,
    /// Compute afresh instead of serving the stored recommendation (default false).
    #[serde(default)]
    pub force_regenerate: Option<bool>,
}

/// FR-2 SLO recommendations: three tiers per SLI type with error budgets, breach
/// probabilities, confidence intervals and the explanation. Availability in percent.
/// Served from the store (`cached`) unless forced, expired, the graph changed or the SLI
/// data moved; an expired one with no newer SLI data is served with `stale: true`.
#[utoipa::path(get, path = "/api/v1/services/{service_id}/slo-recommendations", tag = "slo",
    params(("service_id" = String, Path, description = "The service"), RecommendationsQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = JsonDocument,
               description = "FR-2's document; availability targets, intervals and bounds in percent"),
              ProblemResponses))]
pub async fn recommendations(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(service): ApiPath<String>,
    ApiQuery(q): ApiQuery<RecommendationsQuery>,
) -> ApiResult<Json<Value>> {
    who.require(Scope::GraphRead)?;
    let sli_type = q.sli_type.unwrap_or(SliType::All).as_str();
    let lookback = q.lookback_days.unwrap_or(30);
    let force = q.force_regenerate.unwrap_or(false);
    // The primary: a recommendation computed now is stored (the cache).
    let row = state
        .db
        .query_one(
            Access::Write,
            &who,
            "SELECT idgraph.slo_recommendations($1, $2, $3, $4)",
            &[&service, &sli_type, &lookback, &force],
        )
        .await?;
    let mut doc: Value = row.try_get(0)?;
    if let Some(Value::Array(recs)) = doc.get_mut("recommendations") {
        for r in recs.iter_mut() {
            if r.get("sli_type").and_then(Value::as_str) == Some("availability") {
                percentify(r);
            }
        }
    }
    Ok(Json(doc))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Accept,
    Modify,
    Reject,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Conservative,
    Balanced,
    Aggressive,
}

/// FR-5 modifications of the selected tier's targets.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Modifications {
    /// Availability target in percent (99.95), strictly between 0 and 100.
    #[serde(default)]
    pub availability_target: Option<f64>,
    #[serde(default)]
    pub latency_p99_target_ms: Option<f64>,
    #[serde(default)]
    pub latency_p95_target_ms: Option<f64>,
}

/// Either FR-5's decision on a recommendation (`recommendation_id` + `action`, percent),
/// or, without a `recommendation_id`, a manual SLO (`availability_target` as a
/// **fraction**, as `idgraph.set_slo` takes it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SloPost {
    /// The recommendation decided on (from GET …/slo-recommendations).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub recommendation_id: Option<uuid::Uuid>,
    #[serde(default)]
    pub action: Option<Action>,
    /// Default balanced.
    #[serde(default)]
    pub selected_tier: Option<Tier>,
    /// modify only.
    #[serde(default)]
    pub modifications: Option<Modifications>,
    /// Required for reject.
    #[serde(default)]
    pub rationale: Option<String>,
    /// Accepted for TRD clients and ignored: the actor is always the authenticated
    /// principal.
    #[serde(default)]
    pub actor: Option<String>,
    /// Manual SLO: availability target, a fraction strictly between 0 and 1.
    #[serde(default)]
    pub availability_target: Option<f64>,
    /// Manual SLO: latency p95 target (ms).
    #[serde(default)]
    pub latency_p95_ms: Option<f64>,
    /// Manual SLO: latency p99 target (ms).
    #[serde(default)]
    pub latency_p99_ms: Option<f64>,
}

fn field(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// FR-5: accept, modify or reject a recommendation (→ `slo_decide`; answer with
/// `slo_id`, `status`, `targets` in percent, `source`, `activated_by` = the authenticated
/// principal), or without `recommendation_id` set a manual SLO (→ `set_slo`). Needs
/// slo:write and ownership of the service (its team, or identity:admin / slo:admin).
#[utoipa::path(post, path = "/api/v1/services/{service_id}/slos", tag = "slo",
    params(("service_id" = String, Path, description = "The service")),
    request_body = SloPost,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = JsonDocument), ProblemResponses))]
pub async fn post_slo(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(service): ApiPath<String>,
    ApiJson(body): ApiJson<SloPost>,
) -> ApiResult<Json<Value>> {
    who.require(Scope::SloWrite)?;
    let Some(rec) = body.recommendation_id else {
        let mut errs = Vec::new();
        if body.action.is_some() || body.selected_tier.is_some() || body.modifications.is_some() {
            errs.push(field(
                "recommendation_id",
                "required with action, selected_tier or modifications",
            ));
        }
        if body.availability_target.is_none() {
            errs.push(field(
                "availability_target",
                "required for a manual SLO (a fraction); or decide on a recommendation with recommendation_id and action",
            ));
        }
        if !errs.is_empty() {
            return Err(ApiError::validation(errs));
        }
        require_owner(&state, &who, &service).await?;
        let row = state
            .db
            .query_one(
                Access::Write,
                &who,
                "SELECT idgraph.set_slo($1, $2, $3, $4, $5, $6)",
                &[
                    &service,
                    &body.availability_target,
                    &body.latency_p95_ms,
                    &body.latency_p99_ms,
                    &body.rationale,
                    &who.subject,
                ],
            )
            .await?;
        return Ok(Json(row.try_get(0)?));
    };
    let mut errs = Vec::new();
    if body.action.is_none() {
        errs.push(field("action", "required: accept, modify or reject"));
    }
    for (name, given) in [
        ("availability_target", body.availability_target.is_some()),
        ("latency_p95_ms", body.latency_p95_ms.is_some()),
        ("latency_p99_ms", body.latency_p99_ms.is_some()),
    ] {
        if given {
            errs.push(field(
                name,
                "a decision on a recommendation takes its changes in modifications (percent)",
            ));
        }
    }
    let Some(action) = body.action.filter(|_| errs.is_empty()) else {
        return Err(ApiError::validation(errs));
    };
    require_owner(&state, &who, &service).await?;
    let action = match action {
        Action::Accept => "accept",
        Action::Modify => "modify",
        Action::Reject => "reject",
    };
    let tier = body.selected_tier.map(|t| match t {
        Tier::Conservative => "conservative",
        Tier::Balanced => "balanced",
        Tier::Aggressive => "aggressive",
    });
    let mods = body.modifications.map(|m| {
        let mut o = serde_json::Map::new();
        if let Some(a) = m.availability_target {
            o.insert("availability_target".into(), json!(fraction(a)));
        }
        if let Some(x) = m.latency_p99_target_ms {
            o.insert("latency_p99_target_ms".into(), json!(x));
        }
        if let Some(x) = m.latency_p95_target_ms {
            o.insert("latency_p95_target_ms".into(), json!(x));
        }
        Value::Object(o)
    });
    let row = state
        .db
        .query_one(
            Access::Write,
            &who,
            "SELECT idgraph.slo_decide($1, $2, $3, $4, $5, $6)",
            &[&service, &rec, &action, &tier, &mods, &body.rationale],
        )
        .await?;
    let mut doc: Value = row.try_get(0)?;
    // Availabilities only: the latency deltas stay in ms.
    for path in [
        "/targets/availability",
        "/previous/availability_target",
        "/active_slo/availability_target",
        "/modification_delta/availability/recommended",
        "/modification_delta/availability/selected",
        "/modification_delta/availability/delta",
    ] {
        if let Some(x) = doc.pointer_mut(path) {
            if let Some(f) = x.as_f64() {
                *x = json!(percent(f));
            }
        }
    }
    Ok(Json(doc))
}

/// A service's active SLO and its history (idgraph's rows, availability as fractions),
/// plus the TRD's fields of the active SLO: `slo_id`, `status`, `targets` (availability
/// in percent), `source`, `recommendation_id`, `activated_at`, `activated_by`.
#[utoipa::path(get, path = "/api/v1/services/{service_id}/slos", tag = "slo",
    params(("service_id" = String, Path, description = "The service")),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = JsonDocument), ProblemResponses))]
pub async fn get_slo(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(service): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    who.require(Scope::GraphRead)?;
    let row = state
        .db
        .query_one(Access::Read, &who, "SELECT idgraph.slo($1)", &[&service])
        .await?;
    let mut doc: Value = row.try_get(0)?;
    let active = doc.get("active").cloned().unwrap_or(Value::Null);
    if let (Value::Object(a), Value::Object(d)) = (&active, &mut doc) {
        let avail = a.get("availability_target").and_then(Value::as_f64);
        d.insert(
            "slo_id".into(),
            a.get("slo_id").cloned().unwrap_or(Value::Null),
        );
        d.insert("status".into(), json!("active"));
        d.insert(
            "targets".into(),
            json!({
                "availability": avail.map(percent),
                "latency_p95_ms": a.get("latency_p95_ms"),
                "latency_p99_ms": a.get("latency_p99_ms"),
            }),
        );
        for k in ["source", "recommendation_id", "activated_at"] {
            d.insert(k.into(), a.get(k).cloned().unwrap_or(Value::Null));
        }
        d.insert(
            "activated_by".into(),
            a.get("set_by").cloned().unwrap_or(Value::Null),
        );
    } else if let Value::Object(d) = &mut doc {
        d.insert("status".into(), json!("none"));
    }
    Ok(Json(doc))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertFormat {
    Prometheus,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertsQuery {
    /// prometheus (the only format, and the default).
    #[serde(default)]
    #[param(inline)]
    pub format: Option<AlertFormat>,
}

/// FR-10: the Prometheus rule file (recording rules and multi-window, multi-burn-rate
/// alerts) for the service's active availability SLO; 404 when it has none.
#[utoipa::path(get, path = "/api/v1/services/{service_id}/slos/alerts", tag = "slo",
    params(("service_id" = String, Path, description = "The service"), AlertsQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, content_type = "text/plain", body = String,
               description = "A Prometheus rule file (YAML)"),
              ProblemResponses))]
pub async fn alerts(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(service): ApiPath<String>,
    ApiQuery(q): ApiQuery<AlertsQuery>,
) -> ApiResult<Response> {
    who.require(Scope::GraphRead)?;
    let _ = q.format.unwrap_or(AlertFormat::Prometheus);
    let row = state
        .db
        .query_one(
            Access::Read,
            &who,
            "SELECT idgraph.slo_alert_rules($1)",
            &[&service],
        )
        .await?;
    let text: String = row.try_get(0)?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response())
}

/// Rows of a dashboard view (availability in percent; shares and rates as fractions).
#[derive(Debug, serde::Serialize, ToSchema)]
#[schema(value_type = Vec<Object>)]
pub struct DashboardRows(pub Value);

async fn dashboard(state: &AppState, who: &Principal, view: &str) -> ApiResult<Json<Value>> {
    who.require(Scope::GraphRead)?;
    let row = state
        .db
        .query_one(
            Access::Read,
            who,
            "SELECT idgraph.slo_dashboard($1)",
            &[&view],
        )
        .await?;
    let mut doc: Value = row.try_get(0)?;
    percentify(&mut doc);
    Ok(Json(doc))
}

/// FR-12: SLO coverage by team and criticality (from the dashboard's materialized views).
#[utoipa::path(get, path = "/api/v1/dashboard/coverage", tag = "slo",
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = DashboardRows), ProblemResponses))]
pub async fn dashboard_coverage(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> ApiResult<Json<Value>> {
    dashboard(&state, &who, "coverage").await
}

/// FR-12: error budget consumed per service over its SLO window, from the SLI history
/// (availability targets in percent).
#[utoipa::path(get, path = "/api/v1/dashboard/error-budget-health", tag = "slo",
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = DashboardRows), ProblemResponses))]
pub async fn dashboard_error_budget_health(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> ApiResult<Json<Value>> {
    dashboard(&state, &who, "error_budget_health").await
}

/// FR-12: acceptance, modification and rejection rates, breaches after acceptance.
#[utoipa::path(get, path = "/api/v1/dashboard/recommendation-quality", tag = "slo",
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = DashboardRows), ProblemResponses))]
pub async fn dashboard_recommendation_quality(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> ApiResult<Json<Value>> {
    dashboard(&state, &who, "recommendation_quality").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_at_the_door() {
        assert_eq!(percent(0.9995), 99.95);
        assert_eq!(percent(0.999), 99.9);
        assert_eq!(fraction(99.95), 0.9995);
        let mut v = json!({"tiers": {"balanced": {"target": 0.999, "confidence_interval": [0.998, 0.9995],
                           "estimated_breach_probability": 0.08, "error_budget_monthly_minutes": 43.83}},
                           "explanation": {"feature_attribution": [{"contribution": 0.5}]}});
        percentify(&mut v);
        assert_eq!(v["tiers"]["balanced"]["target"], 99.9);
        assert_eq!(
            v["tiers"]["balanced"]["confidence_interval"],
            json!([99.8, 99.95])
        );
        assert_eq!(v["tiers"]["balanced"]["estimated_breach_probability"], 0.08);
        assert_eq!(
            v["tiers"]["balanced"]["error_budget_monthly_minutes"],
            43.83
        );
        assert_eq!(
            v["explanation"]["feature_attribution"][0]["contribution"],
            0.5
        );
    }
}
