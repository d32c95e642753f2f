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

struct Principal {
    name: String,
    team: Option<String>,
}

thread_local! {
    // A backend is single-threaded; this is the session's principal, set by the door.
    static PRINCIPAL: RefCell<Option<Principal>> = const { RefCell::new(None) };
}

/// Sets (or, with NULL, clears) the authenticated principal and its team for this
/// session; audit rows, submissions and SLO changes record it as who acted. The facade
/// calls it before every request on a pooled connection, so a previous request's
/// principal never carries over. Only the facade's role may execute it.
///
/// ```sql
/// SELECT idgraph.set_principal('key:0123456789abcdef', 'payments');
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
    PRINCIPAL.with(|p| *p.borrow_mut() = value);
}

/// The principal set by `idgraph.set_principal` in this session, or NULL.
#[pg_extern(stable, parallel_restricted)]
pub fn _principal() -> Option<String> {
    PRINCIPAL.with(|p| p.borrow().as_ref().map(|p| p.name.clone()))
}

/// The team of the principal set by `idgraph.set_principal`, or NULL.
#[pg_extern(stable, parallel_restricted)]
pub fn _principal_team() -> Option<String> {
    PRINCIPAL.with(|p| p.borrow().as_ref().and_then(|p| p.team.clone()))
}

/// The role that called into idgraph: the session's current role outside every
/// SECURITY DEFINER function (so `SET ROLE` counts, the definer does not). SECURITY
/// DEFINER doors use it to check the caller's own privileges.
#[pg_extern(stable, parallel_safe)]
pub fn _invoker() -> pg_sys::Oid {
    // SAFETY: reads a backend global that Postgres keeps for the whole session.
    unsafe { pg_sys::GetOuterUserId() }
}
