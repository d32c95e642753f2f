//! Identity allocation over HTTPS (SPEC §1, the SEAD HTTP shapes under
//! `/api/v1/identity`). Every handler calls one `idgraph.*` SQL function.
//!
//! Submissions are visible to their creator, the creator's team and `identity:admin`.
//! Anyone else gets 404 — the same answer as for a submission that does not exist, so
//! that submission ids (and their existence) do not leak across teams.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Authenticated, Principal, Scope};
use crate::db::Access;
use crate::extract::{ApiJson, ApiJsonOrEmpty, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult, FieldError};
use crate::routes::ProblemResponses;
use crate::state::AppState;

// ---------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------

/// A registered allocation target.
#[derive(Debug, Serialize, ToSchema)]
pub struct Target {
    pub target_id: i32,
    pub table_name: String,
    pub column_name: String,
    pub allocations: i64,
    pub registered_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetList {
    pub targets: Vec<Target>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubmission {
    /// Unique name of the submission (1..200 characters).
    pub submission_name: String,
    pub source_system: String,
    pub data_type: String,
    #[serde(default)]
    pub notes: Option<String>,
}

/// A submission with its status and statistics.
#[derive(Debug, Serialize, ToSchema)]
pub struct Submission {
    pub submission_uuid: Uuid,
    pub submission_name: String,
    pub source_system: String,
    pub data_type: String,
    /// pending, validated, committed, failed or rolled_back.
    pub status: String,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub created_by_team: Option<String>,
    pub committed_at: Option<DateTime<Utc>>,
    pub change_request_id: Option<String>,
    pub rolled_back_at: Option<DateTime<Utc>>,
    pub rollback_reason: Option<String>,
    pub total_allocations: i64,
    pub new_allocations: i64,
    pub existing_allocations: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocateRequest {
    pub table_name: String,
    pub column_name: String,
    pub external_id: String,
    /// `uuid` (default) or `natural_key`.
    #[serde(default)]
    pub external_id_type: Option<String>,
    /// SHA-256 hex of the row's content, for change detection.
    #[serde(default)]
    pub content_hash: Option<String>,
    #[serde(default)]
    pub external_system_id: Option<String>,
    #[serde(default)]
    pub external_data: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Allocation {
    pub external_id: String,
    pub external_id_type: String,
    pub alloc_integer_id: i64,
    pub table_name: String,
    pub column_name: String,
    pub is_new_allocation: bool,
}

/// One element of a batch: an external id, optionally with its type (SEAD's shape: the
/// type per item), its content hash and data to keep with a new allocation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    pub external_id: String,
    /// `uuid` or `natural_key`; absent: the batch's `external_id_type` (default `uuid`).
    #[serde(default)]
    pub external_id_type: Option<String>,
    #[serde(default)]
    pub content_hash: Option<String>,
    /// Kept as the allocation's external data when the id is new (as a single allocation does).
    #[serde(default)]
    pub external_data: Option<Value>,
}

/// A batch, in either of two shapes: one `external_id_type` for the whole batch, or SEAD's,
/// with `external_id_type` (and optionally `external_data`) on each item. An item's type
/// that contradicts the batch's is a validation error.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub table_name: String,
    pub column_name: String,
    /// One type for the whole batch: `uuid` (default) or `natural_key`.
    #[serde(default)]
    pub external_id_type: Option<String>,
    pub allocations: Vec<BatchItem>,
}

/// Which SQL a batch takes: today's one call for the whole batch; one set-based call per
/// id type when the items carry their types; one allocation per item when any item carries
/// external data (the set-based call keeps none). Each is one statement: all or nothing.
#[derive(Debug, PartialEq, Eq)]
enum BatchPlan {
    OneType(String),
    PerItemTypes,
    PerItemWithData,
}

const BATCH_PER_TYPE: &str = "\
WITH input AS (
  SELECT u.ext, u.ty, u.hash, u.ord FROM unnest($4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS u(ext, ty, hash, ord)
), per_type AS (
  SELECT i.ty, array_agg(i.ext ORDER BY i.ord) AS exts, array_agg(i.hash ORDER BY i.ord) AS hashes,
         array_agg(i.ord ORDER BY i.ord) AS ords
    FROM input i GROUP BY i.ty
)
SELECT p.ords[b.ordinality] AS ord, b.alloc_integer_id, b.is_new
  FROM per_type p
 CROSS JOIN LATERAL idgraph.allocate_batch($1, $2, $3, p.exts, p.ty, p.hashes) b
 ORDER BY 1";

const BATCH_PER_ITEM: &str = "\
SELECT u.ord, a.alloc_integer_id, a.is_new
  FROM unnest($4::text[], $5::text[], $6::text[], $7::jsonb[]) WITH ORDINALITY AS u(ext, ty, hash, data, ord)
 CROSS JOIN LATERAL idgraph._allocate($1, idgraph._resolve_table($2), $3, u.ext, u.ty, u.hash, NULL, u.data) a
 ORDER BY u.ord";

fn batch_plan(body: &BatchRequest) -> ApiResult<BatchPlan> {
    let mut errors = Vec::new();
    if let Some(batch_ty) = &body.external_id_type {
        for (i, a) in body.allocations.iter().enumerate() {
            if a.external_id_type.as_ref().is_some_and(|t| t != batch_ty) {
                errors.push(FieldError {
                    field: format!("allocations[{i}].external_id_type"),
                    message: format!("differs from the batch's external_id_type '{batch_ty}'"),
                });
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    if body.allocations.iter().any(|a| a.external_data.is_some()) {
        Ok(BatchPlan::PerItemWithData)
    } else if body.external_id_type.is_none()
        && body
            .allocations
            .iter()
            .any(|a| a.external_id_type.is_some())
    {
        Ok(BatchPlan::PerItemTypes)
    } else {
        Ok(BatchPlan::OneType(id_type(&body.external_id_type)))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAllocation {
    pub external_id: String,
    pub external_id_type: String,
    pub alloc_integer_id: i64,
    pub is_new_allocation: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchSummary {
    pub total: usize,
    pub new: usize,
    pub existing: usize,
    pub duration_ms: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    pub allocations: Vec<BatchAllocation>,
    pub summary: BatchSummary,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ResolveQuery {
    pub table_name: String,
    pub column_name: String,
    pub external_id: String,
    /// Guessed when absent (a valid UUID is `uuid`, anything else `natural_key`).
    #[serde(default)]
    pub external_id_type: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Resolution {
    pub external_id: String,
    pub external_id_type: String,
    pub alloc_integer_id: i64,
    /// allocated, committed or rolled_back.
    pub status: String,
    pub submission_uuid: Uuid,
    pub table_name: String,
    pub column_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBatchRequest {
    pub table_name: String,
    pub column_name: String,
    pub external_ids: Vec<String>,
    #[serde(default)]
    pub external_id_type: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResolveBatchItem {
    pub external_id: String,
    /// null when the external id has no integer.
    pub alloc_integer_id: Option<i64>,
    pub status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResolveBatchResponse {
    pub results: Vec<ResolveBatchItem>,
    pub found: usize,
    pub missing: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReverseQuery {
    pub table_name: String,
    pub column_name: String,
    pub alloc_integer_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReverseLookup {
    pub alloc_integer_id: i64,
    pub external_id: String,
    pub external_id_type: String,
    pub status: String,
    pub submission_uuid: Uuid,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectChangeRequest {
    pub table_name: String,
    pub column_name: String,
    pub external_id: String,
    pub content_hash: String,
    #[serde(default)]
    pub external_id_type: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DetectChangeResponse {
    /// insert, update or skip.
    pub action: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitRequest {
    #[serde(default)]
    pub change_request_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommitResponse {
    pub submission_uuid: Uuid,
    pub status: String,
    pub committed_at: DateTime<Utc>,
    pub allocations_committed: i64,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// Must be false or absent: idgraph never frees an integer (the rolled-back
    /// allocations keep their integers for the same external ids).
    #[serde(default)]
    pub delete_allocations: Option<bool>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RollbackResponse {
    pub submission_uuid: Uuid,
    pub status: String,
    pub rolled_back_at: DateTime<Utc>,
    pub allocations_affected: i64,
}

// ---------------------------------------------------------------------------------------
// Visibility
// ---------------------------------------------------------------------------------------

/// 404 unless `who` may see submission `id` (creator, creator's team, identity:admin).
async fn check_visible(state: &AppState, who: &Principal, id: Uuid) -> ApiResult<()> {
    if who.has(Scope::IdentityAdmin) {
        return Ok(());
    }
    let owner = match state.owners.get(&id) {
        Some(o) => o,
        None => {
            let row = state
                .db
                .query_one(
                    Access::Read,
                    who,
                    "SELECT created_by, created_by_team FROM idgraph.submission($1)",
                    &[&id],
                )
                .await?;
            let o = (row.try_get(0)?, row.try_get(1)?);
            state.owners.put(id, o.clone());
            o
        }
    };
    let (creator, team): (String, Option<String>) = owner;
    let same_team = matches!((&team, &who.team), (Some(a), Some(b)) if a == b);
    if creator == who.subject || same_team {
        Ok(())
    } else {
        tracing::warn!(principal = %who.subject, submission = %id, reason = "foreign submission", "authorization failed");
        Err(not_found(id))
    }
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::not_found(format!("submission {id} does not exist"))
}

fn id_type(t: &Option<String>) -> String {
    t.clone().unwrap_or_else(|| "uuid".into())
}

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

/// List the registered allocation targets.
#[utoipa::path(get, path = "/api/v1/identity/targets", tag = "identity",
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = TargetList), ProblemResponses))]
pub async fn list_targets(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
) -> ApiResult<Json<TargetList>> {
    who.require(Scope::IdentityRead)?;
    let rows = state
        .db
        .query(
            Access::Read,
            &who,
            "SELECT target_id, table_name::text, column_name::text, allocations, registered_at FROM idgraph.targets()",
            &[],
        )
        .await?;
    let targets = rows
        .iter()
        .map(|r| {
            Ok(Target {
                target_id: r.try_get(0)?,
                table_name: r.try_get(1)?,
                column_name: r.try_get(2)?,
                allocations: r.try_get(3)?,
                registered_at: r.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    Ok(Json(TargetList { targets }))
}

/// Create a submission (201); 409 when the name is taken.
#[utoipa::path(post, path = "/api/v1/identity/submissions", tag = "identity",
    request_body = CreateSubmission,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 201, body = Submission), ProblemResponses))]
pub async fn create_submission(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiJson(body): ApiJson<CreateSubmission>,
) -> ApiResult<(StatusCode, Json<Submission>)> {
    who.require(Scope::IdentityWrite)?;
    // Two statements: submission() is STABLE and would not see a row inserted by the
    // same statement.
    let created = state
        .db
        .query_one(
            Access::Write,
            &who,
            "SELECT idgraph.create_submission($1, $2, $3, $4, $5)",
            &[
                &body.submission_name,
                &body.source_system,
                &body.data_type,
                &body.notes,
                &who.subject,
            ],
        )
        .await?;
    let id: Uuid = created.try_get(0)?;
    let row = state
        .db
        .query_one(
            Access::Write,
            &who,
            "SELECT * FROM idgraph.submission($1)",
            &[&id],
        )
        .await?;
    let s = submission_from_row(&row)?;
    state.owners.put(
        s.submission_uuid,
        (s.created_by.clone(), s.created_by_team.clone()),
    );
    Ok((StatusCode::CREATED, Json(s)))
}

fn submission_from_row(r: &tokio_postgres::Row) -> Result<Submission, tokio_postgres::Error> {
    Ok(Submission {
        submission_uuid: r.try_get("submission_id")?,
        submission_name: r.try_get("submission_name")?,
        source_system: r.try_get("source_system")?,
        data_type: r.try_get("data_type")?,
        status: r.try_get("status")?,
        notes: r.try_get("notes")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        created_by_team: r.try_get("created_by_team")?,
        committed_at: r.try_get("committed_at")?,
        change_request_id: r.try_get("change_request_id")?,
        rolled_back_at: r.try_get("rolled_back_at")?,
        rollback_reason: r.try_get("rollback_reason")?,
        total_allocations: r.try_get("total_allocations")?,
        new_allocations: r.try_get("new_allocations")?,
        existing_allocations: r.try_get("existing_allocations")?,
    })
}

/// A submission's status and statistics.
#[utoipa::path(get, path = "/api/v1/identity/submissions/{submission_uuid}", tag = "identity",
    params(("submission_uuid" = Uuid, Path, description = "The submission")),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = Submission), ProblemResponses))]
pub async fn get_submission(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Submission>> {
    who.require(Scope::IdentityRead)?;
    check_visible(&state, &who, id).await?;
    let row = state
        .db
        .query_one(
            Access::Read,
            &who,
            "SELECT * FROM idgraph.submission($1)",
            &[&id],
        )
        .await?;
    Ok(Json(submission_from_row(&row)?))
}

/// Allocate (or return) the integer for one external id. Idempotent.
#[utoipa::path(post, path = "/api/v1/identity/submissions/{submission_uuid}/allocations", tag = "identity",
    params(("submission_uuid" = Uuid, Path, description = "The submission")),
    request_body = AllocateRequest,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = Allocation), ProblemResponses))]
pub async fn allocate(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AllocateRequest>,
) -> ApiResult<Json<Allocation>> {
    who.require(Scope::IdentityWrite)?;
    check_visible(&state, &who, id).await?;
    let ty = id_type(&body.external_id_type);
    let started = std::time::Instant::now();
    let row = state
        .db
        .query_one(
            Access::Write,
            &who,
            "SELECT alloc_integer_id, is_new FROM idgraph._allocate($1, idgraph._resolve_table($2), $3, $4, $5, $6, $7, $8)",
            &[
                &id,
                &body.table_name,
                &body.column_name,
                &body.external_id,
                &ty,
                &body.content_hash,
                &body.external_system_id,
                &body.external_data,
            ],
        )
        .await?;
    state
        .metrics
        .allocation_duration
        .observe(started.elapsed().as_secs_f64());
    let alloc: i64 = row.try_get(0)?;
    let is_new: bool = row.try_get(1)?;
    state.metrics.count_allocations(
        &body.table_name,
        &body.column_name,
        u64::from(is_new),
        u64::from(!is_new),
    );
    Ok(Json(Allocation {
        external_id: body.external_id,
        external_id_type: ty,
        alloc_integer_id: alloc,
        table_name: body.table_name,
        column_name: body.column_name,
        is_new_allocation: is_new,
    }))
}

/// Allocate a batch atomically (set-based); rows come back in input order. Either one
/// `external_id_type` for the batch, or SEAD's shape with the type on each item.
#[utoipa::path(post, path = "/api/v1/identity/submissions/{submission_uuid}/allocations/batch", tag = "identity",
    params(("submission_uuid" = Uuid, Path, description = "The submission")),
    request_body = BatchRequest,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = BatchResponse), ProblemResponses))]
pub async fn allocate_batch(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<BatchRequest>,
) -> ApiResult<Json<BatchResponse>> {
    who.require(Scope::IdentityWrite)?;
    check_batch(body.allocations.len(), state.max_batch, "allocations")?;
    let plan = batch_plan(&body)?;
    check_visible(&state, &who, id).await?;
    let started = std::time::Instant::now();
    let ids: Vec<&str> = body
        .allocations
        .iter()
        .map(|a| a.external_id.as_str())
        .collect();
    let any_hash = body.allocations.iter().any(|a| a.content_hash.is_some());
    let all_hashes: Vec<Option<&str>> = body
        .allocations
        .iter()
        .map(|a| a.content_hash.as_deref())
        .collect();
    // Each item's type: its own, else the batch's, else uuid.
    let types: Vec<String> = body
        .allocations
        .iter()
        .map(|a| {
            a.external_id_type
                .clone()
                .unwrap_or_else(|| id_type(&body.external_id_type))
        })
        .collect();
    let rows = match &plan {
        BatchPlan::OneType(ty) => {
            let hashes = any_hash.then_some(&all_hashes);
            state
                .db
                .query(
                    Access::Write,
                    &who,
                    "SELECT ordinality, alloc_integer_id, is_new FROM idgraph.allocate_batch($1, $2, $3, $4, $5, $6)",
                    &[&id, &body.table_name, &body.column_name, &ids, ty, &hashes],
                )
                .await?
        }
        BatchPlan::PerItemTypes => {
            state
                .db
                .query(
                    Access::Write,
                    &who,
                    BATCH_PER_TYPE,
                    &[
                        &id,
                        &body.table_name,
                        &body.column_name,
                        &ids,
                        &types,
                        &all_hashes,
                    ],
                )
                .await?
        }
        BatchPlan::PerItemWithData => {
            let data: Vec<Option<&Value>> = body
                .allocations
                .iter()
                .map(|a| a.external_data.as_ref())
                .collect();
            state
                .db
                .query(
                    Access::Write,
                    &who,
                    BATCH_PER_ITEM,
                    &[
                        &id,
                        &body.table_name,
                        &body.column_name,
                        &ids,
                        &types,
                        &all_hashes,
                        &data,
                    ],
                )
                .await?
        }
    };
    state
        .metrics
        .allocation_duration
        .observe(started.elapsed().as_secs_f64());
    let mut out = Vec::with_capacity(rows.len());
    let mut new = 0usize;
    for r in &rows {
        let ord: i64 = r.try_get(0)?;
        let is_new: bool = r.try_get(2)?;
        new += usize::from(is_new);
        let idx = usize::try_from(ord - 1).unwrap_or(usize::MAX);
        out.push(BatchAllocation {
            external_id: body
                .allocations
                .get(idx)
                .map(|a| a.external_id.clone())
                .unwrap_or_default(),
            external_id_type: types.get(idx).cloned().unwrap_or_default(),
            alloc_integer_id: r.try_get(1)?,
            is_new_allocation: is_new,
        });
    }
    if out.len() != body.allocations.len() {
        return Err(ApiError::internal_error(format!(
            "batch allocation answered {} rows for {} items",
            out.len(),
            body.allocations.len()
        )));
    }
    state.metrics.count_allocations(
        &body.table_name,
        &body.column_name,
        new as u64,
        (out.len() - new) as u64,
    );
    let total = out.len();
    Ok(Json(BatchResponse {
        allocations: out,
        summary: BatchSummary {
            total,
            new,
            existing: total - new,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        },
    }))
}

fn check_batch(n: usize, cap: usize, field: &str) -> ApiResult<()> {
    if n > cap {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "batch-too-large",
            "Batch Too Large",
        )
        .detail(format!("a batch holds at most {cap} items, got {n}"))
        .errors(vec![FieldError {
            field: field.into(),
            message: format!("at most {cap} items"),
        }]));
    }
    Ok(())
}

async fn resolve_one(state: &AppState, who: &Principal, q: ResolveQuery) -> ApiResult<Resolution> {
    let row = state
        .db
        .query_one(
            Access::Read,
            who,
            "SELECT alloc_integer_id, status, submission_id, external_id, external_id_type FROM idgraph.resolve($1, $2, $3, $4)",
            &[&q.table_name, &q.column_name, &q.external_id, &q.external_id_type],
        )
        .await?;
    Ok(Resolution {
        alloc_integer_id: row.try_get(0)?,
        status: row.try_get(1)?,
        submission_uuid: row.try_get(2)?,
        external_id: row.try_get(3)?,
        external_id_type: row.try_get(4)?,
        table_name: q.table_name,
        column_name: q.column_name,
    })
}

/// Resolve an external id (SEAD shape, under a submission); 404 when it has no integer.
#[utoipa::path(get, path = "/api/v1/identity/submissions/{submission_uuid}/resolve", tag = "identity",
    params(("submission_uuid" = Uuid, Path, description = "The submission"), ResolveQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = Resolution), ProblemResponses))]
pub async fn resolve_in_submission(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<ResolveQuery>,
) -> ApiResult<Json<Resolution>> {
    who.require(Scope::IdentityRead)?;
    check_visible(&state, &who, id).await?;
    Ok(Json(resolve_one(&state, &who, q).await?))
}

/// Resolve an external id to its integer; 404 when it has none.
#[utoipa::path(get, path = "/api/v1/identity/resolve", tag = "identity",
    params(ResolveQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = Resolution), ProblemResponses))]
pub async fn resolve(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiQuery(q): ApiQuery<ResolveQuery>,
) -> ApiResult<Json<Resolution>> {
    who.require(Scope::IdentityRead)?;
    Ok(Json(resolve_one(&state, &who, q).await?))
}

/// Resolve many external ids at once, in input order; unknown ones come back null.
#[utoipa::path(post, path = "/api/v1/identity/resolve/batch", tag = "identity",
    request_body = ResolveBatchRequest,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = ResolveBatchResponse), ProblemResponses))]
pub async fn resolve_batch(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiJson(body): ApiJson<ResolveBatchRequest>,
) -> ApiResult<Json<ResolveBatchResponse>> {
    who.require(Scope::IdentityRead)?;
    check_batch(body.external_ids.len(), state.max_batch, "external_ids")?;
    let rows = state
        .db
        .query(
            Access::Read,
            &who,
            "SELECT external_id, alloc_integer_id, status FROM idgraph.resolve_batch($1, $2, $3, $4)",
            &[
                &body.table_name,
                &body.column_name,
                &body.external_ids,
                &body.external_id_type,
            ],
        )
        .await?;
    let results = rows
        .iter()
        .map(|r| {
            Ok(ResolveBatchItem {
                external_id: r.try_get(0)?,
                alloc_integer_id: r.try_get(1)?,
                status: r.try_get(2)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    let found = results
        .iter()
        .filter(|r| r.alloc_integer_id.is_some())
        .count();
    let missing = results.len() - found;
    Ok(Json(ResolveBatchResponse {
        results,
        found,
        missing,
    }))
}

/// Reverse lookup: integer → external id; 404 when idgraph did not allocate it.
#[utoipa::path(get, path = "/api/v1/identity/reverse", tag = "identity",
    params(ReverseQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = ReverseLookup), ProblemResponses))]
pub async fn reverse(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiQuery(q): ApiQuery<ReverseQuery>,
) -> ApiResult<Json<ReverseLookup>> {
    who.require(Scope::IdentityRead)?;
    let row = state
        .db
        .query_one(
            Access::Read,
            &who,
            "SELECT external_id, external_id_type, status, submission_id FROM idgraph.resolve_integer($1, $2, $3)",
            &[&q.table_name, &q.column_name, &q.alloc_integer_id],
        )
        .await?;
    Ok(Json(ReverseLookup {
        alloc_integer_id: q.alloc_integer_id,
        external_id: row.try_get(0)?,
        external_id_type: row.try_get(1)?,
        status: row.try_get(2)?,
        submission_uuid: row.try_get(3)?,
    }))
}

/// Change detection: insert (never allocated / rolled back), update or skip (same hash).
#[utoipa::path(post, path = "/api/v1/identity/detect-change", tag = "identity",
    request_body = DetectChangeRequest,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = DetectChangeResponse), ProblemResponses))]
pub async fn detect_change(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiJson(body): ApiJson<DetectChangeRequest>,
) -> ApiResult<Json<DetectChangeResponse>> {
    who.require(Scope::IdentityRead)?;
    let row = state
        .db
        .query_one(
            Access::Read,
            &who,
            "SELECT idgraph.detect_change($1, $2, $3, $4, $5)",
            &[
                &body.table_name,
                &body.column_name,
                &body.external_id,
                &body.content_hash,
                &body.external_id_type,
            ],
        )
        .await?;
    Ok(Json(DetectChangeResponse {
        action: row.try_get(0)?,
    }))
}

/// Commit a pending submission; 409 when already committed or rolled back.
#[utoipa::path(post, path = "/api/v1/identity/submissions/{submission_uuid}/commit", tag = "identity",
    params(("submission_uuid" = Uuid, Path, description = "The submission")),
    request_body(content = CommitRequest, description = "Optional; an empty body is accepted"),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = CommitResponse), ProblemResponses))]
pub async fn commit(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    ApiJsonOrEmpty(body): ApiJsonOrEmpty<CommitRequest>,
) -> ApiResult<Json<CommitResponse>> {
    who.require(Scope::IdentityWrite)?;
    check_visible(&state, &who, id).await?;
    let row = state
        .db
        .query_one(
            Access::Write,
            &who,
            "SELECT submission_id, status, committed_at, allocations_committed FROM idgraph.commit_submission($1, $2)",
            &[&id, &body.change_request_id],
        )
        .await?;
    Ok(Json(CommitResponse {
        submission_uuid: row.try_get(0)?,
        status: row.try_get(1)?,
        committed_at: row.try_get(2)?,
        allocations_committed: row.try_get(3)?,
    }))
}

/// Roll back a pending submission. Integers are never freed: `delete_allocations: true`
/// is refused with 422.
#[utoipa::path(post, path = "/api/v1/identity/submissions/{submission_uuid}/rollback", tag = "identity",
    params(("submission_uuid" = Uuid, Path, description = "The submission")),
    request_body(content = RollbackRequest, description = "Optional; an empty body is accepted"),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = RollbackResponse), ProblemResponses))]
pub async fn rollback(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    ApiJsonOrEmpty(body): ApiJsonOrEmpty<RollbackRequest>,
) -> ApiResult<Json<RollbackResponse>> {
    who.require(Scope::IdentityWrite)?;
    if body.delete_allocations == Some(true) {
        return Err(ApiError::validation(vec![FieldError {
            field: "delete_allocations".into(),
            message: "idgraph never frees an integer: rolled-back allocations keep theirs for the same external ids; send false or omit it".into(),
        }]));
    }
    check_visible(&state, &who, id).await?;
    let row = state
        .db
        .query_one(
            Access::Write,
            &who,
            "SELECT submission_id, status, rolled_back_at, allocations_affected FROM idgraph.rollback_submission($1, $2)",
            &[&id, &body.reason],
        )
        .await?;
    Ok(Json(RollbackResponse {
        submission_uuid: row.try_get(0)?,
        status: row.try_get(1)?,
        rolled_back_at: row.try_get(2)?,
        allocations_affected: row.try_get(3)?,
    }))
}
