//! Who acted. The audit records the session user, or — for a request that came through
//! the facade — the principal the facade authenticated. That principal is set through one
//! door, `idgraph.set_principal`, executable only by the facade's role (sqitch change
//! `grants_doors`); it lives in this backend's memory, where no `SET` can reach it, so a
//! writer cannot forge who acted (a plain `SET idgraph.actor` has no effect any more).
//! Names a caller passes as arguments (`created_by`, `p_actor`, `p_by`) are kept beside the
//! real identity as labelled claims, never in its place.

use std::cell::RefCell;

use crate::error::{IdgraphError, OrRaise};
use idgraph_core::principal;
use pgrx::prelude::*;
use pgrx::{register_xact_callback, PgXactCallbackEvent};

#[derive(Clone)]
struct Principal {
    name: String,
    team: Option<String>,
}

/// The session's principal, and the one set inside the current transaction block, which
/// wins while that transaction lasts and is gone at its end (commit, abort or prepare).
#[derive(Default)]
struct Principals {
    session: Option<Principal>,
    /// `Some` once set in this transaction block (`Some(None)`: cleared for it).
    local: Option<Option<Principal>>,
}

impl Principals {
    fn current(&self) -> Option<&Principal> {
        match &self.local {
            Some(local) => local.as_ref(),
            None => self.session.as_ref(),
        }
    }
}

thread_local! {
    // A backend is single-threaded; this is the backend's principal state, set by the door.
    static PRINCIPAL: RefCell<Principals> = RefCell::new(Principals::default());
}

fn end_of_transaction() {
    PRINCIPAL.with(|p| p.borrow_mut().local = None);
}

/// Sets (or, with NULL, clears) the authenticated principal and its team; audit rows,
/// submissions and SLO changes record it as who acted. Called inside a transaction block
/// (`BEGIN … COMMIT`) it holds for that transaction only, as `SET LOCAL` would (a
/// savepoint rolled back does not undo it): a connection pooler in transaction mode
/// (PgBouncer) then never hands it to the next client's transaction. Called outside one
/// it holds for the session; the facade calls it before every request on a pooled
/// connection, so a previous request's principal never carries over. Only the facade's
/// role may execute it.
///
/// ```sql
/// BEGIN;
/// SELECT idgraph.set_principal('key:0123456789abcdef', 'payments');
/// SELECT idgraph.allocate(…);   -- audited as key:0123456789abcdef
/// COMMIT;                       -- and the principal is gone with the transaction
/// ```
#[pg_extern(volatile, parallel_unsafe)]
pub fn set_principal(p_principal: Option<&str>, p_team: default!(Option<&str>, "NULL")) {
    let value = match p_principal {
        None => None,
        Some(name) => {
            principal::validate("principal", name)
                .map_err(|e| IdgraphError::invalid(e.to_string()))
                .or_raise();
            if let Some(team) = p_team {
                principal::validate("team", team)
                    .map_err(|e| IdgraphError::invalid(e.to_string()))
                    .or_raise();
            }
            Some(Principal {
                name: name.to_owned(),
                team: p_team.map(str::to_owned),
            })
        }
    };
    // SAFETY: reads the transaction state of this backend; no arguments.
    let in_block = unsafe { pg_sys::IsTransactionBlock() };
    PRINCIPAL.with(|p| {
        let mut p = p.borrow_mut();
        if in_block {
            if p.local.is_none() {
                // Registered for this transaction only (pgrx forgets them at its end).
                for event in [
                    PgXactCallbackEvent::Commit,
                    PgXactCallbackEvent::Abort,
                    PgXactCallbackEvent::Prepare,
                ] {
                    register_xact_callback(event, end_of_transaction);
                }
            }
            p.local = Some(value);
        } else {
            p.session = value;
            p.local = None;
        }
    });
}

/// The principal set by `idgraph.set_principal` (this transaction's, else the session's),
/// or NULL.
#[pg_extern(stable, parallel_restricted)]
pub fn _principal() -> Option<String> {
    PRINCIPAL.with(|p| p.borrow().current().map(|p| p.name.clone()))
}

/// The team of the principal set by `idgraph.set_principal`, or NULL.
#[pg_extern(stable, parallel_restricted)]
pub fn _principal_team() -> Option<String> {
    PRINCIPAL.with(|p| p.borrow().current().and_then(|p| p.team.clone()))
}

/// The role that called into idgraph: the session's current role outside every
/// SECURITY DEFINER function (so `SET ROLE` counts, the definer does not). SECURITY
/// DEFINER doors use it to check the caller's own privileges.
#[pg_extern(stable, parallel_safe)]
pub fn _invoker() -> pg_sys::Oid {
    // SAFETY: reads a backend global that Postgres keeps for the whole session.
    unsafe { pg_sys::GetOuterUserId() }
}
