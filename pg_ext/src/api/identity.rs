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

/// The 16-byte key an allocation of this (normalized) external id is stored under: a
/// canonical UUID is its own key, any other natural key a version-8 UUID from its sha256
/// (`idgraph_core::identity::external_id_key` says why and how collisions are refused).
///
/// ```sql
/// SELECT idgraph.external_id_key('SITE-1');
/// ```
#[pg_extern(immutable, strict, parallel_safe)]
pub fn external_id_key(p_external_id: &str) -> pgrx::Uuid {
    pgrx::Uuid::from_bytes(identity::external_id_key(p_external_id))
}

/// [`external_id_key`] of every element, in order (NULL elements stay NULL).
///
/// ```sql
/// SELECT idgraph.external_id_keys(ARRAY['SITE-1', 'SITE-2']);
/// ```
#[pg_extern(immutable, strict, parallel_safe)]
pub fn external_id_keys(p_external_ids: Vec<Option<String>>) -> Vec<Option<pgrx::Uuid>> {
    p_external_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            if i % 1024 == 0 {
                check_for_interrupts!();
            }
            id.as_deref()
                .map(|id| pgrx::Uuid::from_bytes(identity::external_id_key(id)))
        })
        .collect()
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

/// The lock tag of a submission's allocation lock: an advisory-type tag in this database
/// whose `objsubid` (field 4) is idgraph's own, so that `pg_advisory_lock(…)` calls, which
/// use 1 and 2 there, can never take or block it. The key is the uuid's two halves
/// xor-ed; two submissions that share a key only ever wait for each other, never miss a
/// conflict.
fn submission_locktag(submission: &pgrx::datum::Uuid) -> pg_sys::LOCKTAG {
    let b = submission.as_bytes();
    let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    pg_sys::LOCKTAG {
        // SAFETY: MyDatabaseId is set for the whole life of a backend connected to a database.
        locktag_field1: unsafe { pg_sys::MyDatabaseId }.to_u32(),
        locktag_field2: word(0) ^ word(8),
        locktag_field3: word(4) ^ word(12),
        locktag_field4: SUBMISSION_LOCK_SUBID,
        locktag_type: pg_sys::LockTagType::LOCKTAG_ADVISORY as u8,
        locktag_lockmethodid: pg_sys::USER_LOCKMETHOD as u8,
    }
}

/// `objsubid` of submission locks in `pg_locks` (advisory locks of SQL use 1 and 2).
const SUBMISSION_LOCK_SUBID: u16 = 29;

/// Takes this transaction's lock on a submission: shared by every allocation into it
/// (they go on together), exclusive by its commit and rollback, which so wait for the
/// allocations in flight and make those that come after see the closed state. It replaces
/// the `FOR KEY SHARE` row lock every allocation took on the submission row, which wrote
/// that one hot tuple (and a new multixact) on every call. A heavyweight lock in the lock
/// manager's memory: held until the transaction ends, released by an abort or a killed
/// backend, in the deadlock detector's view. Taken again in the same transaction it costs a
/// local hash lookup. With `p_wait` false it does not wait and returns false when the lock
/// is busy (expiry skips such submissions). Internal: executable by the extension's owner
/// only.
///
/// ```sql
/// SELECT idgraph._lock_submission('…'::uuid, false, true);  -- true
/// ```
#[pg_extern(volatile, strict, parallel_unsafe)]
pub fn _lock_submission(p_submission: pgrx::datum::Uuid, p_exclusive: bool, p_wait: bool) -> bool {
    let tag = submission_locktag(&p_submission);
    let mode = if p_exclusive {
        pg_sys::ExclusiveLock
    } else {
        pg_sys::ShareLock
    } as pg_sys::LOCKMODE;
    // SAFETY: a transaction-level lock (sessionLock false) on a tag built above, taken
    // inside a transaction (this is a SQL function); the lock manager owns the memory.
    let res = unsafe { pg_sys::LockAcquire(&tag, mode, false, !p_wait) };
    res != pg_sys::LockAcquireResult::LOCKACQUIRE_NOT_AVAIL
}
