//! The dependency graph over HTTPS (SPEC §2, SLO engine FR-8 shapes). Every handler
//! calls one `idgraph.*` SQL function; documents are validated there (idgraph-core), and
//! its 22023 detail lists every problem, which becomes the 422's `errors`.

use axum::extract::State;
use axum::Json;
use idgraph_core::depgraph::{Detail, Kind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authenticated, Scope};
use crate::db::Access;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::ApiResult;
use crate::routes::ProblemResponses;
use crate::state::AppState;

/// An FR-1 dependency document: `source`, optional `timestamp`, `nodes[]`, `edges[]`.
/// Validated by the SQL layer; every problem is listed in the 422.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestDocument {
    /// manual, service_mesh, otel_service_graph or kubernetes.
    pub source: String,
    /// RFC 3339 observation time (default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// At most 50,000 (idgraph-core's `LIMITS.max_nodes`; more → 422 limit-exceeded,
    /// refused from a scan of the body before it is parsed).
    #[serde(default)]
    #[schema(max_items = 50000)]
    pub nodes: Vec<Value>,
    /// At most 500,000 (`LIMITS.max_edges`).
    #[serde(default)]
    #[schema(max_items = 500000)]
    pub edges: Vec<Value>,
}

/// Summary of an ingest: counts, conflicts between sources, cycles, graph version.
#[derive(Debug, Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct JsonDocument(pub Value);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DependenciesQuery {
    /// downstream, upstream or both (default, as in FR-1).
    #[serde(default)]
    pub direction: Option<String>,
    /// Max hops, 1..10 (default 3).
    #[serde(default)]
    pub depth: Option<i32>,
    /// Alias of `depth` (kept for earlier clients); `depth` wins when both are given.
    #[serde(default)]
    pub max_depth: Option<i32>,
    #[serde(default)]
    pub include_stale: Option<bool>,
    #[serde(default)]
    pub include_external: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DependencyRow {
    pub service_id: String,
    pub depth: i32,
    pub parent: String,
    pub path: Vec<String>,
    pub communication_mode: String,
    pub criticality: String,
    pub discovery_source: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DependenciesResponse {
    pub service_id: String,
    pub direction: String,
    pub depth: i32,
    /// The same as `depth` (for earlier clients).
    pub max_depth: i32,
    pub dependencies: Vec<DependencyRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cycle {
    pub members: Vec<String>,
    pub cycle_path: Vec<String>,
    pub size: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CyclesResponse {
    pub cycles: Vec<Cycle>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// Who acknowledges (default: the caller).
    #[serde(default)]
    pub acknowledged_by: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TargetQuery {
    /// An availability target to compare with (a fraction, e.g. 0.999).
    #[serde(default)]
    pub target: Option<f64>,
    /// `summary` (when absent: composite, bound, bottleneck, the top 10 risks and counts)
    /// or `full` (every hard dependency, redundancy group, exclusion, external, cycle).
    #[serde(default)]
    #[param(schema_with = detail_schema)]
    pub detail: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DetailQuery {
    /// `summary` (when absent: the totals, the 10 most impacted services and the 10 most
    /// impacted whose SLO is at risk) or `full` (every upstream service).
    #[serde(default)]
    #[param(schema_with = detail_schema)]
    pub detail: Option<String>,
}

/// `detail`'s values, from idgraph-core's `Detail` (the SQL functions parse it there too).
/// No default here: when absent the facade calls the function without it, and the SQL
/// DEFAULT decides.
fn detail_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(Detail::ALL.iter().map(|d| d.as_str())))
        .build()
}

/// `name(args…)` or, with a `detail`, `name(args…, detail)`: the SQL call and its
/// parameters, so that an absent `detail` is the function's own default.
fn with_detail<'a>(
    name: &str,
    mut params: Vec<&'a (dyn tokio_postgres::types::ToSql + Sync)>,
    detail: &'a Option<String>,
) -> (String, Vec<&'a (dyn tokio_postgres::types::ToSql + Sync)>) {
    if let Some(d) = detail {
        params.push(d);
    }
    let args: Vec<String> = (1..=params.len()).map(|i| format!("${i}")).collect();
    (format!("SELECT {name}({})", args.join(", ")), params)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RequiredTargetQuery {
    /// The availability target to check (a fraction, e.g. 0.9999).
    pub target: f64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityRequest {
    /// Observed availability, a fraction in [0, 1].
    pub availability: f64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishedSlaRequest {
    /// Published SLA, a fraction in [0, 1].
    pub published_sla: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Updated {
    pub service_id: String,
    pub updated: bool,
}

/// FR-4's proposed change (availability in **percent**, as in the TRD).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposedChange {
    /// availability (the only SLI type whose change propagates through the graph).
    #[serde(default)]
    pub sli_type: Option<String>,
    /// The current target in percent (informational; echoed back).
    #[serde(default)]
    pub current_target: Option<f64>,
    /// The proposed target in percent, e.g. 99.5.
    pub proposed_target: f64,
}

/// Either FR-4's `proposed_change` (percent; the answer is in percent too) or
/// `proposed_availability` (a fraction; the answer in fractions, as SQL returns it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactRequest {
    pub service_id: String,
    /// The availability the service would have, a fraction.
    #[serde(default)]
    pub proposed_availability: Option<f64>,
    #[serde(default)]
    pub proposed_change: Option<ProposedChange>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkStaleRequest {
    /// Edges not observed for this many seconds become stale.
    pub older_than_seconds: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarkStaleResponse {
    pub edges_marked_stale: i32,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// The `next_cursor` of the previous page (absent: first page).
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size, 1..1000 (default 100).
    #[serde(default)]
    pub limit: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Service {
    pub service_id: String,
    pub team: Option<String>,
    pub criticality: Option<String>,
    /// internal or external.
    pub kind: String,
    pub availability: Option<f64>,
    pub published_sla: Option<f64>,
    /// A placeholder created by an edge to an unknown service.
    pub discovered: bool,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServicePage {
    pub services: Vec<Service>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceDetail {
    #[serde(flatten)]
    pub service: Service,
    /// Effective, non-stale outgoing edges.
    pub dependencies: i64,
    /// Effective, non-stale incoming edges.
    pub dependents: i64,
}

fn service_from_row(r: &tokio_postgres::Row) -> Result<Service, tokio_postgres::Error> {
    Ok(Service {
        service_id: r.try_get("service_id")?,
        team: r.try_get("team")?,
        criticality: r.try_get("criticality")?,
        kind: r.try_get("kind")?,
        availability: r.try_get("availability")?,
        published_sla: r.try_get("published_sla")?,
        discovered: r.try_get("discovered")?,
        metadata: r.try_get("metadata")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
    })
}

fn encode_cursor(service_id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(service_id.as_bytes())
}

fn decode_cursor(c: &str) -> Result<String, crate::problem::ApiError> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            crate::problem::ApiError::bad_request("cursor is not one this API handed out").errors(
                vec![crate::problem::FieldError {
                    field: "cursor".into(),
                    message: "not a cursor from a previous page".into(),
                }],
            )
        })
}

/// Registered services in service_id order, a page at a time (cursor pagination).
#[utoipa::path(get, path = "/api/v1/services", tag = "graph",
    params(ListQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = ServicePage), ProblemResponses))]
pub async fn list_services(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<ServicePage>> {
    who.require(Scope::GraphRead)?;
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let limit = q.limit.unwrap_or(100);
    let rows = state
        .db
        .query(
            Access::Read,
            &who,
            "SELECT * FROM idgraph.services_page($1, $2)",
            &[&after, &limit],
        )
        .await?;
    let services = rows
        .iter()
        .map(service_from_row)
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    let next_cursor = if services.len() as i64 == i64::from(limit) {
        services.last().map(|s| encode_cursor(&s.service_id))
    } else {
        None
    };
    Ok(Json(ServicePage {
        services,
        next_cursor,
    }))
}

/// One service, with its numbers of dependencies and dependents.
#[utoipa::path(get, path = "/api/v1/services/{service_id}", tag = "graph",
    params(("service_id" = String, Path, description = "The service")),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = ServiceDetail), ProblemResponses))]
pub async fn get_service(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(service): ApiPath<String>,
) -> ApiResult<Json<ServiceDetail>> {
    who.require(Scope::GraphRead)?;
    let r = state
        .db
        .query_one(
            Access::Read,
            &who,
            "SELECT * FROM idgraph.service($1)",
            &[&service],
        )
        .await?;
    Ok(Json(ServiceDetail {
        service: service_from_row(&r)?,
        dependencies: r.try_get("dependencies")?,
        dependents: r.try_get("dependents")?,
    }))
}

/// A service's SLO history (the audit of every change), newest first.
#[utoipa::path(get, path = "/api/v1/services/{service_id}/slo-history", tag = "graph",
    params(("service_id" = String, Path, description = "The service")),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = JsonDocument), ProblemResponses))]
pub async fn slo_history(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(service): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    who.require(Scope::GraphRead)?;
    let row = state
        .db
        .query_one(
            Access::Read,
            &who,
            "SELECT jsonb_build_object('service_id', d->'service_id', 'history', d->'history') FROM idgraph.slo($1) d",
            &[&service],
        )
        .await?;
    Ok(Json(json_of(&row)?))
}

fn json_of(row: &tokio_postgres::Row) -> Result<Value, tokio_postgres::Error> {
    row.try_get::<_, Value>(0)
}

/// Bulk upsert of a dependency document (FR-1), atomically.
#[utoipa::path(post, path = "/api/v1/services/dependencies", tag = "graph",
    request_body = IngestDocument,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = JsonDocument), ProblemResponses))]
pub async fn ingest(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiJson(doc): ApiJson<IngestDocument>,
) -> ApiResult<Json<Value>> {
    who.require(Scope::GraphWrite)?;
    let mut doc = doc;
    let errs: Vec<crate::problem::FieldError> = doc
        .nodes
        .iter_mut()
        .enumerate()
        .flat_map(|(i, n)| trd_node(n, i))
        .collect();
    if !errs.is_empty() {
        return Err(crate::problem::ApiError::validation(errs));
    }
    let (nodes, edges) = (doc.nodes.len(), doc.edges.len());
    let doc = serde_json::to_value(&doc)
        .map_err(|e| crate::problem::ApiError::internal_error(e.to_string()))?;
    let row = state
        .db
        .query_one(
            Access::Write,
            &who,
            "SELECT idgraph.ingest_graph($1)",
            &[&doc],
        )
        .await?;
    let source = doc
        .get("source")
        .and_then(|v| v.as_str())
        .unwrap_or("unknown");
    state.metrics.ingests.with_label_values(&[source]).inc();
    let mut out = json_of(&row)?;
    // FR-1's response fields. The ingest is done when the answer comes: status completed.
    if let Value::Object(o) = &mut out {
        o.insert(
            "ingestion_id".into(),
            serde_json::json!(uuid::Uuid::new_v4()),
        );
        o.insert("status".into(), serde_json::json!("completed"));
        o.insert("nodes_received".into(), serde_json::json!(nodes));
        o.insert("edges_received".into(), serde_json::json!(edges));
        o.insert("estimated_completion_seconds".into(), serde_json::json!(0));
    }
    Ok(Json(out))
}

/// A node in the TRD's own shape, made idgraph's: `metadata.service_type` (or `type`)
/// `external` / `internal` → `kind`; `metadata.published_sla` (or `sla`) in **percent** →
/// `published_sla` as a fraction. Top-level fields win. Bad values are listed.
fn trd_node(node: &mut Value, i: usize) -> Vec<crate::problem::FieldError> {
    let mut errs = Vec::new();
    let Some(obj) = node.as_object_mut() else {
        return errs;
    };
    let Some(meta) = obj.get("metadata").and_then(Value::as_object).cloned() else {
        return errs;
    };
    let fe = |f: String, m: &str| crate::problem::FieldError {
        field: f,
        message: m.into(),
    };
    for key in ["service_type", "type"] {
        match meta.get(key) {
            Some(Value::String(k)) if Kind::parse(k).is_some() => {
                obj.entry("kind")
                    .or_insert_with(|| Value::String(k.clone()));
                break;
            }
            None | Some(Value::Null) => {}
            // Any other type is the service's own business (e.g. "gateway").
            Some(_) => {}
        }
    }
    if meta.get("external") == Some(&Value::Bool(true)) {
        obj.entry("kind").or_insert_with(|| "external".into());
    }
    for key in ["published_sla", "sla"] {
        match meta.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) if n.as_f64().is_some_and(|p| (0.0..=100.0).contains(&p)) => {
                let p = n.as_f64().unwrap_or_default();
                obj.entry("published_sla")
                    .or_insert_with(|| serde_json::json!(crate::routes::slo::fraction(p)));
                break;
            }
            Some(_) => errs.push(fe(
                format!("nodes[{i}].metadata.{key}"),
                "a published SLA in percent, 0 to 100 (e.g. 99.99)",
            )),
        }
    }
    errs
}

/// A service's dependency subgraph: each reachable service once, at its shortest depth.
#[utoipa::path(get, path = "/api/v1/services/{service_id}/dependencies", tag = "graph",
    params(("service_id" = String, Path, description = "The service"), DependenciesQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = DependenciesResponse), ProblemResponses))]
pub async fn dependencies(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(service): ApiPath<String>,
    ApiQuery(q): ApiQuery<DependenciesQuery>,
) -> ApiResult<Json<DependenciesResponse>> {
    who.require(Scope::GraphRead)?;
    let direction = q.direction.unwrap_or_else(|| "both".into());
    let depth = q.depth.or(q.max_depth).unwrap_or(3);
    let rows = state
        .db
        .query(
            Access::Read,
            &who,
            "SELECT service_id, depth, parent, path, communication_mode, criticality, discovery_source \
               FROM idgraph.dependencies($1, $2, $3, $4, $5)",
            &[
                &service,
                &direction,
                &depth,
                &q.include_stale.unwrap_or(false),
                &q.include_external.unwrap_or(true),
            ],
        )
        .await?;
    let dependencies = rows
        .iter()
        .map(|r| {
            Ok(DependencyRow {
                service_id: r.try_get(0)?,
                depth: r.try_get(1)?,
                parent: r.try_get(2)?,
                path: r.try_get(3)?,
                communication_mode: r.try_get(4)?,
                criticality: r.try_get(5)?,
                discovery_source: r.try_get(6)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    Ok(Json(DependenciesResponse {
        service_id: service,
        direction,
        depth,
        max_depth: depth,
        dependencies,
    }))
}

/// Composite availability of a service from its dependency chain.
#[utoipa::path(get, path = "/api/v1/services/{service_id}/availability", tag = "graph",
    params(("service_id" = String, Path, description = "The service"), TargetQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = JsonDocument), ProblemResponses))]
pub async fn composite_availability(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(service): ApiPath<String>,
    ApiQuery(q): ApiQuery<TargetQuery>,
) -> ApiResult<Json<Value>> {
    who.require(Scope::GraphRead)?;
    let (sql, params) = with_detail(
        "idgraph.composite_availability",
        vec![&service, &q.target],
        &q.detail,
    );
    let row = state
        .db
        .query_one(Access::Read, &who, &sql, &params)
        .await?;
    Ok(Json(json_of(&row)?))
}

/// Whether an availability target is achievable given the dependency chain.
#[utoipa::path(get, path = "/api/v1/services/{service_id}/check-slo", tag = "graph",
    params(("service_id" = String, Path, description = "The service"), RequiredTargetQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = JsonDocument), ProblemResponses))]
pub async fn check_slo(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(service): ApiPath<String>,
    ApiQuery(q): ApiQuery<RequiredTargetQuery>,
) -> ApiResult<Json<Value>> {
    who.require(Scope::GraphRead)?;
    let row = state
        .db
        .query_one(
            Access::Read,
            &who,
            "SELECT idgraph.check_slo($1, $2)",
            &[&service, &q.target],
        )
        .await?;
    Ok(Json(json_of(&row)?))
}

/// Set a service's observed availability.
#[utoipa::path(put, path = "/api/v1/services/{service_id}/availability", tag = "graph",
    params(("service_id" = String, Path, description = "The service")),
    request_body = AvailabilityRequest,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = Updated), ProblemResponses))]
pub async fn set_availability(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(service): ApiPath<String>,
    ApiJson(body): ApiJson<AvailabilityRequest>,
) -> ApiResult<Json<Updated>> {
    set_service_fraction(
        &state,
        &who,
        "SELECT idgraph.set_availability($1, $2)",
        service,
        body.availability,
    )
    .await
}

/// Set a (typically external) service's published SLA.
#[utoipa::path(put, path = "/api/v1/services/{service_id}/published-sla", tag = "graph",
    params(("service_id" = String, Path, description = "The service")),
    request_body = PublishedSlaRequest,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = Updated), ProblemResponses))]
pub async fn set_published_sla(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(service): ApiPath<String>,
    ApiJson(body): ApiJson<PublishedSlaRequest>,
) -> ApiResult<Json<Updated>> {
    set_service_fraction(
        &state,
        &who,
        "SELECT idgraph.set_published_sla($1, $2)",
        service,
        body.published_sla,
    )
    .await
}

/// The body of the two telemetry setters: one SQL call `(service, fraction)` as a writer.
async fn set_service_fraction(
    state: &AppState,
    who: &crate::auth::Principal,
    sql: &str,
    service: String,
    value: f64,
) -> ApiResult<Json<Updated>> {
    who.require(Scope::GraphWrite)?;
    state
        .db
        .query(Access::Write, who, sql, &[&service, &value])
        .await?;
    Ok(Json(Updated {
        service_id: service,
        updated: true,
    }))
}

/// FR-4 impact analysis: upstream services affected by a change of availability, with
/// an `analysis_id`. FR-4's `proposed_change` is in percent and so is its answer.
#[utoipa::path(post, path = "/api/v1/slos/impact-analysis", tag = "graph",
    params(DetailQuery),
    request_body = ImpactRequest,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = JsonDocument), ProblemResponses))]
pub async fn impact_analysis(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiQuery(q): ApiQuery<DetailQuery>,
    ApiJson(body): ApiJson<ImpactRequest>,
) -> ApiResult<Json<Value>> {
    who.require(Scope::GraphRead)?;
    use crate::problem::{ApiError, FieldError};
    let fe = |f: &str, m: &str| FieldError {
        field: f.into(),
        message: m.into(),
    };
    let (proposed, trd) = match (&body.proposed_availability, &body.proposed_change) {
        (Some(p), None) => (*p, false),
        (None, Some(c)) => {
            if c.sli_type.as_deref().is_some_and(|t| t != "availability") {
                return Err(ApiError::validation(vec![fe(
                    "proposed_change.sli_type",
                    "only availability changes propagate through the dependency graph",
                )]));
            }
            (crate::routes::slo::fraction(c.proposed_target), true)
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(vec![fe(
                "proposed_change",
                "give proposed_change (percent) or proposed_availability (a fraction), not both",
            )]))
        }
        (None, None) => {
            return Err(ApiError::validation(vec![fe(
                "proposed_change",
                "required (or proposed_availability, a fraction)",
            )]))
        }
    };
    let (sql, params) = with_detail(
        "idgraph.impact_analysis",
        vec![&body.service_id, &proposed],
        &q.detail,
    );
    let row = state
        .db
        .query_one(Access::Read, &who, &sql, &params)
        .await?;
    let mut doc = json_of(&row)?;
    if trd {
        crate::routes::slo::percentify(&mut doc);
        if let (Some(c), Some(pc)) = (
            &body.proposed_change,
            doc.get_mut("proposed_change")
                .and_then(Value::as_object_mut),
        ) {
            pc.insert(
                "proposed_target".into(),
                serde_json::json!(c.proposed_target),
            );
            if let Some(cur) = c.current_target {
                pc.insert("current_target".into(), serde_json::json!(cur));
            }
        }
    }
    if let Value::Object(o) = &mut doc {
        o.insert(
            "analysis_id".into(),
            serde_json::json!(uuid::Uuid::new_v4()),
        );
    }
    Ok(Json(doc))
}

/// Circular dependencies (strongly connected components) in the current graph.
#[utoipa::path(get, path = "/api/v1/cycles", tag = "graph",
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = CyclesResponse), ProblemResponses))]
pub async fn cycles(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> ApiResult<Json<CyclesResponse>> {
    who.require(Scope::GraphRead)?;
    let rows = state
        .db
        .query(
            Access::Read,
            &who,
            "SELECT members, cycle_path, size FROM idgraph.cycles()",
            &[],
        )
        .await?;
    let cycles = rows
        .iter()
        .map(|r| {
            Ok(Cycle {
                members: r.try_get(0)?,
                cycle_path: r.try_get(1)?,
                size: r.try_get(2)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    Ok(Json(CyclesResponse { cycles }))
}

/// Acknowledge an open circular-dependency alert; 404 unknown, 409 not open.
#[utoipa::path(post, path = "/api/v1/alerts/{alert_id}/acknowledge", tag = "graph",
    params(("alert_id" = i64, Path, description = "The alert")),
    request_body(content = AckRequest, description = "Optional; an empty body is accepted"),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = JsonDocument), ProblemResponses))]
pub async fn acknowledge_alert(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(alert_id): ApiPath<i64>,
    crate::extract::ApiJsonOrEmpty(body): crate::extract::ApiJsonOrEmpty<AckRequest>,
) -> ApiResult<Json<Value>> {
    who.require(Scope::GraphWrite)?;
    let row = state
        .db
        .query_one(
            Access::Write,
            &who,
            "SELECT to_jsonb(a) FROM idgraph.acknowledge_cycle($1, $2) a",
            &[&alert_id, &body.acknowledged_by],
        )
        .await?;
    Ok(Json(json_of(&row)?))
}

/// Mark edges not observed within a window stale (kept, skipped by traversal).
#[utoipa::path(post, path = "/api/v1/graph/mark-stale", tag = "graph",
    request_body = MarkStaleRequest,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = MarkStaleResponse), ProblemResponses))]
pub async fn mark_stale(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiJson(body): ApiJson<MarkStaleRequest>,
) -> ApiResult<Json<MarkStaleResponse>> {
    who.require(Scope::GraphWrite)?;
    let row = state
        .db
        .query_one(
            Access::Write,
            &who,
            "SELECT idgraph.mark_stale(make_interval(secs => $1::float8))",
            &[&(body.older_than_seconds as f64)],
        )
        .await?;
    Ok(Json(MarkStaleResponse {
        edges_marked_stale: row.try_get(0)?,
    }))
}
