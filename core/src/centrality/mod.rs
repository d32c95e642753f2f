//! Centrality (SPEC §3): degree, betweenness (exact Brandes and sampled), local clustering.
//!
//! Graphs are [`Csr`] adjacency over dense `u32` node indices, with multi-edges counted
//! once and self loops dropped. Betweenness ([`Brandes`], [`betweenness`]) runs one BFS per
//! source with buffers reused across sources, parallel over sources with rayon, and gives
//! bit-for-bit the same result for any thread count; it advances in steps that return to
//! the caller, who polls for cancellation in between. Degree and clustering ([`degrees`],
//! [`clustering`]) depend on a node's neighbourhood only, so after an edge change only
//! [`affected_by_edge`]'s nodes need recomputing ([`local_metrics`]).
//!
//! Nothing here panics on bad input: out-of-range node indices are errors (or, for the
//! neighbour accessors, empty lists).

mod betweenness;
mod csr;
mod local;

pub use betweenness::{
    betweenness, betweenness_from, betweenness_sampled, normalization, normalized, sample_sources,
    Brandes, CHUNK,
};
pub use csr::Csr;
pub use local::{
    affected_by_edge, clustering, clustering_of, degrees, local_metrics, LocalMetrics,
};

use thiserror::Error;

/// Errors of the centrality functions.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CentralityError {
    /// An edge endpoint is not in `0..n`: (source, target, n).
    #[error("edge ({0}, {1}) names a node outside 0..{2}")]
    NodeOutOfRange(u32, u32, usize),
    /// A node asked about (a betweenness source, a node to recompute) is not in `0..n`.
    #[error("{0} is not a node (nodes are 0..{1})")]
    NotANode(u32, usize),
    /// More nodes or edges than `u32` indices and offsets can address.
    #[error("graph has {0} nodes; too large for u32 indices")]
    TooLarge(usize),
    /// Sampled betweenness needs 1 ≤ k ≤ n sources: (k, n).
    #[error("sample size must be between 1 and the number of nodes ({1}), got {0}")]
    BadSampleSize(usize, usize),
}

#[cfg(test)]
mod tests;
