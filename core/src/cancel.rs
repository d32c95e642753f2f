//! Cooperative cancellation of long loops.
//!
//! `core/` has no pgrx, so it cannot call `check_for_interrupts!()` itself: a caller hands
//! a check to the long computations (cycle paths, SCC, traversal, impact analysis), which
//! report the work they did through [`Cancel::tick`]; the check runs once per
//! [`INTERVAL`] units of work, so the cost of polling stays negligible and the delay
//! before a cancel is noticed stays bounded. The pgrx layer's check raises the
//! query-cancel ERROR itself (and so never returns); other callers return
//! `Err(Canceled)`, which the computation passes up unchanged.
//!
//! The check runs on the thread that called the computation: none of the loops polled
//! here are parallel (Postgres' interrupt handling must only run on the backend's main
//! thread). Betweenness has its own step-wise form, see [`crate::centrality::Brandes`].

use std::fmt;

/// Units of work (a node visited or an edge looked at) between two checks.
pub const INTERVAL: u32 = 4096;

/// A computation was abandoned because its caller's check asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the computation was canceled")]
pub struct Canceled;

/// A cancellation check and the work left before it runs next.
///
/// ```
/// use idgraph_core::cancel::{Cancel, Canceled};
/// let mut calls = 0;
/// let mut check = || { calls += 1; if calls > 2 { Err(Canceled) } else { Ok(()) } };
/// let mut cancel = Cancel::new(&mut check);
/// let mut result = Ok(());
/// for _ in 0..1_000_000 {
///     result = cancel.tick(1);
///     if result.is_err() { break; }
/// }
/// assert_eq!(result, Err(Canceled));
/// ```
pub struct Cancel<'a> {
    check: Option<&'a mut dyn FnMut() -> Result<(), Canceled>>,
    budget: u32,
}

impl fmt::Debug for Cancel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancel")
            .field("checked", &self.check.is_some())
            .field("budget", &self.budget)
            .finish()
    }
}

impl<'a> Cancel<'a> {
    /// Runs `check` every [`INTERVAL`] units of work (and on the first tick).
    pub fn new(check: &'a mut dyn FnMut() -> Result<(), Canceled>) -> Self {
        Self {
            check: Some(check),
            budget: 0,
        }
    }

    /// No check: the computation always runs to its end.
    pub fn never() -> Self {
        Self {
            check: None,
            budget: u32::MAX,
        }
    }

    /// Counts `work` units done; runs the check once at least [`INTERVAL`] have been
    /// counted since the last one. An `Err` means: stop and return it.
    #[inline]
    pub fn tick(&mut self, work: usize) -> Result<(), Canceled> {
        let work = u32::try_from(work).unwrap_or(u32::MAX);
        if work < self.budget {
            self.budget -= work;
            return Ok(());
        }
        match &mut self.check {
            Some(check) => {
                self.budget = INTERVAL;
                check()
            }
            None => {
                self.budget = u32::MAX;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_once_per_interval() {
        let mut calls = 0u32;
        let mut check = || {
            calls += 1;
            Ok(())
        };
        {
            let mut c = Cancel::new(&mut check);
            for _ in 0..(INTERVAL * 3) {
                c.tick(1).unwrap();
            }
        }
        // The first tick, then once per INTERVAL.
        assert_eq!(calls, 3);
    }

    #[test]
    fn never_never_cancels() {
        let mut c = Cancel::never();
        for _ in 0..10_000 {
            assert_eq!(c.tick(usize::MAX), Ok(()));
        }
    }

    #[test]
    fn big_ticks_check_every_time() {
        let mut calls = 0u32;
        let mut check = || {
            calls += 1;
            Err(Canceled)
        };
        {
            let mut c = Cancel::new(&mut check);
            assert_eq!(c.tick(INTERVAL as usize * 10), Err(Canceled));
            assert_eq!(c.tick(INTERVAL as usize), Err(Canceled));
        }
        assert_eq!(calls, 2);
    }
}
