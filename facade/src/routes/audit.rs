//! The audit's seal chain as a stream (issue 11, docs/AUDIT.md): an auditor pages through
//! it and anchors each digest outside the database, where no superuser can rewrite it.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authenticated, Scope};
use crate::db::Access;
use crate::extract::ApiQuery;
use crate::problem::ApiResult;
use crate::routes::ProblemResponses;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SealsQuery {
    /// Seals after this seal id (default 0: from the first).
    #[serde(default)]
    pub after: Option<i64>,
    /// 1..10000 (default 1000).
    #[serde(default)]
    pub limit: Option<i32>,
}

/// One seal: digest = sha256(prev_digest || the row hashes it sealed, in audit_id order).
#[derive(Debug, Serialize, ToSchema)]
pub struct Seal {
    pub seal_id: i64,
    pub sealed_at: DateTime<Utc>,
    pub system_identifier: i64,
    pub row_count: i64,
    /// Hex; null for the first seal of a system.
    pub prev_digest: Option<String>,
    /// Hex sha256.
    pub digest: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SealPage {
    pub seals: Vec<Seal>,
    /// Pass as `after` for the next page; null when this page is the last.
    pub next_after: Option<i64>,
}

/// The audit seal chain, for anchoring outside the database (identity:admin).
#[utoipa::path(get, path = "/api/v1/audit/seals", tag = "identity",
    params(SealsQuery),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, body = SealPage), ProblemResponses))]
pub async fn seals(
    State(state): State<AppState>,
    Authenticated(who): Authenticated,
    ApiQuery(q): ApiQuery<SealsQuery>,
) -> ApiResult<Json<SealPage>> {
    who.require(Scope::IdentityAdmin)?;
    let after = q.after.unwrap_or(0);
    let limit = q.limit.unwrap_or(1000);
    let rows = state
        .db
        .query(
            Access::Write,
            &who,
            "SELECT seal_id, sealed_at, system_identifier, row_count, prev_digest, digest \
               FROM idgraph.audit_seal_digests($1, $2)",
            &[&after, &limit],
        )
        .await?;
    let seals = rows
        .iter()
        .map(|r| {
            Ok(Seal {
                seal_id: r.try_get("seal_id")?,
                sealed_at: r.try_get("sealed_at")?,
                system_identifier: r.try_get("system_identifier")?,
                row_count: r.try_get("row_count")?,
                prev_digest: r.try_get("prev_digest")?,
                digest: r.try_get("digest")?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
    let next_after = if seals.len() as i64 == i64::from(limit) {
        seals.last().map(|s| s.seal_id)
    } else {
        None
    };
    Ok(Json(SealPage { seals, next_after }))
}
