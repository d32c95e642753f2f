//! Identity allocation: the Rust half. Validation and normalization of external ids
//! happen here (in `idgraph-core`); the rest is PL/pgSQL, one file per concern, because
//! it is nothing but SQL statements over idgraph's tables: `sql/identity_audit.sql` (who
//! acted, audit rows, seals), `identity_targets.sql` (table names, targets; the SQLSTATE
//! list), `identity_submissions.sql`, `identity_allocation.sql` (allocate,
//! allocate_batch) and `identity_resolution.sql` (resolve*, detect_change).

use crate::error::{IdgraphError, OrRaise};
use idgraph_core::identity::{self, ExternalIdType};
use pgrx::prelude::*;

fn parse_type(ty: &str) -> Result<ExternalIdType, IdgraphError> {
    ExternalIdType::parse(ty).map_err(|e| IdgraphError::invalid(e.to_string()))
}

/// Normalizes one external id: UUIDs lower-cased and hyphenated, braces dropped;
/// natural keys trimmed and checked (non-empty, at most 512 bytes, no control chars).
///
/// ```sql
/// SELECT idgraph.normalize_external_id('{A3E4F567-E89B-12D3-A456-426614174001}', 'uuid');
/// -- a3e4f567-e89b-12d3-a456-426614174001
/// ```
#[pg_extern(immutable, strict, parallel_safe)]
pub fn normalize_external_id(p_external_id: &str, p_external_id_type: &str) -> String {
    let ty = parse_type(p_external_id_type).or_raise();
    identity::normalize(p_external_id, ty)
        .map_err(|e| IdgraphError::invalid(e.to_string()))
        .or_raise()
}

/// Normalizes a whole array of external ids; the first bad element is reported with its
/// 1-based position. A NULL element is refused (22004).
///
/// ```sql
/// SELECT idgraph.normalize_external_ids(ARRAY['SITE-1 ', 'SITE-2'], 'natural_key');
/// ```
#[pg_extern(immutable, strict, parallel_safe)]
pub fn normalize_external_ids(
    p_external_ids: Vec<Option<String>>,
    p_external_id_type: &str,
) -> Vec<String> {
    let ty = parse_type(p_external_id_type).or_raise();
    let mut out = Vec::with_capacity(p_external_ids.len());
    for (i, id) in p_external_ids.iter().enumerate() {
        if i % 1024 == 0 {
            check_for_interrupts!();
        }
        let Some(id) = id else {
            IdgraphError::null(&format!("external id at position {}", i + 1)).raise()
        };
        match identity::normalize(id, ty) {
            Ok(n) => out.push(n),
            Err(e) => {
                IdgraphError::invalid(format!("external id at position {}: {e}", i + 1)).raise()
            }
        }
    }
    out
}

/// Guesses the type of an external id for lookups that were not told it: a valid UUID
/// in any accepted spelling is a `uuid`, anything else a `natural_key`.
///
/// ```sql
/// SELECT idgraph.guess_external_id_type('SITE-1');  -- natural_key
/// ```
#[pg_extern(immutable, strict, parallel_safe)]
pub fn guess_external_id_type(p_external_id: &str) -> &'static str {
    match identity::normalize(p_external_id, ExternalIdType::Uuid) {
        Ok(_) => "uuid",
        Err(_) => "natural_key",
    }
}

/// This cluster's system identifier (from pg_control). Audit rows carry it so that rows
/// restored into another cluster are never mistaken for rows sealed there.
///
/// ```sql
/// SELECT idgraph._system_identifier();
/// ```
#[pg_extern(stable, parallel_safe)]
pub fn _system_identifier() -> i64 {
    // SAFETY: GetSystemIdentifier reads a field of the control file copy in shared memory,
    // which is set up before any backend runs SQL.
    let id = unsafe { pg_sys::GetSystemIdentifier() };
    i64::from_ne_bytes(id.to_ne_bytes())
}
