//! What a long computation needs inside a backend: a cancellation check for `core/`'s
//! loops, and the bounded thread pool betweenness and clustering run on.
//!
//! Postgres' interrupt handling (`check_for_interrupts!`, which raises the query-cancel
//! or statement-timeout ERROR) must only run on the backend's own thread: the parallel
//! work is done in steps inside `pool.install`, and the check runs between steps, back on
//! the backend's thread.

use std::cell::RefCell;
use std::rc::Rc;

use idgraph_core::cancel::Canceled;
use pgrx::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::IdgraphError;
use crate::gucs;

/// The check handed to `core/` (`idgraph_core::cancel::Cancel::new`): raises the
/// Postgres ERROR for a pending cancel or timeout itself, so it only ever returns `Ok`.
pub fn interrupts() -> impl FnMut() -> Result<(), Canceled> {
    || {
        check_for_interrupts!();
        Ok(())
    }
}

thread_local! {
    /// This backend's pool and the `idgraph.max_threads` it was built for.
    static POOL: RefCell<Option<(usize, Rc<ThreadPool>)>> = const { RefCell::new(None) };
}

/// The backend's rayon pool of `idgraph.max_threads` threads: built on first use, kept
/// for the backend's life, rebuilt when the setting changed (the old one's threads end
/// when it is dropped).
pub fn pool() -> Result<Rc<ThreadPool>, IdgraphError> {
    let want = gucs::max_threads();
    if let Some(pool) = POOL.with(|p| {
        p.borrow()
            .as_ref()
            .filter(|(size, _)| *size == want)
            .map(|(_, pool)| pool.clone())
    }) {
        return Ok(pool);
    }
    let pool = ThreadPoolBuilder::new()
        .num_threads(want)
        .thread_name(|i| format!("idgraph-worker-{i}"))
        .build()
        .map_err(|e| {
            IdgraphError::new(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_RESOURCES,
                format!("idgraph could not start {want} worker threads: {e}"),
            )
            .with_hint("Lower idgraph.max_threads.")
        })?;
    let pool = Rc::new(pool);
    POOL.with(|p| *p.borrow_mut() = Some((want, pool.clone())));
    Ok(pool)
}
