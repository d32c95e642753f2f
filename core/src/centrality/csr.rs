//! Compressed sparse row adjacency: out-, in- and undirected neighbour lists.

use super::CentralityError;

/// A directed graph over the dense node indices `0..n`, in CSR form, with three sorted
/// neighbour lists per node: out-neighbours, in-neighbours and the undirected view (their
/// union).
///
/// Deliberate simplifications, made once here so every metric agrees on them:
/// - a multi-edge counts once (betweenness counts shortest paths through distinct
///   neighbours; degree counts distinct neighbours);
/// - self loops are dropped: they lie on no shortest path between distinct nodes and close
///   no triangle, so betweenness and clustering ignore them, and degree does too.
#[derive(Debug, Clone, Default)]
pub struct Csr {
    n: usize,
    out_off: Vec<u32>,
    out_adj: Vec<u32>,
    in_off: Vec<u32>,
    in_adj: Vec<u32>,
    und_off: Vec<u32>,
    und_adj: Vec<u32>,
}

/// Offsets and targets for `pairs`, which are sorted by (source, target) and distinct, so
/// every neighbour list comes out sorted.
fn build(n: usize, pairs: &[(u32, u32)]) -> (Vec<u32>, Vec<u32>) {
    let mut off = vec![0u32; n + 1];
    for &(a, _) in pairs {
        off[a as usize + 1] += 1;
    }
    for i in 0..n {
        off[i + 1] += off[i];
    }
    let adj = pairs.iter().map(|&(_, b)| b).collect();
    (off, adj)
}

/// The slice of `adj` that `off` assigns to `v`; empty when `v` is not a node.
fn row<'a>(off: &[u32], adj: &'a [u32], v: u32) -> &'a [u32] {
    let v = v as usize;
    match (off.get(v), off.get(v + 1)) {
        (Some(&a), Some(&b)) => adj.get(a as usize..b as usize).unwrap_or(&[]),
        _ => &[],
    }
}

impl Csr {
    /// Builds from a node count and directed edges `(source, target)`.
    ///
    /// Errors: an endpoint outside `0..n` ([`CentralityError::NodeOutOfRange`]); more
    /// nodes or distinct edges than `u32` offsets can address ([`CentralityError::TooLarge`]).
    pub fn from_edges(n: usize, edges: &[(u32, u32)]) -> Result<Self, CentralityError> {
        if n >= u32::MAX as usize {
            return Err(CentralityError::TooLarge(n));
        }
        let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(edges.len());
        for &(a, b) in edges {
            if a as usize >= n || b as usize >= n {
                return Err(CentralityError::NodeOutOfRange(a, b, n));
            }
            if a != b {
                pairs.push((a, b));
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        // The undirected lists hold up to twice the directed edges.
        if pairs.len() >= (u32::MAX / 2) as usize {
            return Err(CentralityError::TooLarge(n));
        }
        let (out_off, out_adj) = build(n, &pairs);
        let mut rev: Vec<(u32, u32)> = pairs.iter().map(|&(a, b)| (b, a)).collect();
        rev.sort_unstable();
        let (in_off, in_adj) = build(n, &rev);
        let mut und: Vec<(u32, u32)> = pairs;
        und.extend_from_slice(&rev);
        und.sort_unstable();
        und.dedup();
        let (und_off, und_adj) = build(n, &und);
        Ok(Self {
            n,
            out_off,
            out_adj,
            in_off,
            in_adj,
            und_off,
            und_adj,
        })
    }

    /// Bytes held on the heap (capacities): (the offsets, which grow with the nodes; the
    /// neighbour lists, which grow with the edges).
    pub fn heap_bytes(&self) -> (usize, usize) {
        let u = std::mem::size_of::<u32>();
        (
            (self.out_off.capacity() + self.in_off.capacity() + self.und_off.capacity()) * u,
            (self.out_adj.capacity() + self.in_adj.capacity() + self.und_adj.capacity()) * u,
        )
    }

    /// Number of nodes `n`; the nodes are `0..n`.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Whether `v` is a node of this graph.
    pub fn contains(&self, v: u32) -> bool {
        (v as usize) < self.n
    }

    /// Number of distinct directed edges (self loops excluded).
    pub fn edge_count(&self) -> usize {
        self.out_adj.len()
    }

    /// Sorted distinct targets of edges leaving `v`; empty when `v` is not a node.
    pub fn out_neighbors(&self, v: u32) -> &[u32] {
        row(&self.out_off, &self.out_adj, v)
    }

    /// Sorted distinct sources of edges entering `v`; empty when `v` is not a node.
    pub fn in_neighbors(&self, v: u32) -> &[u32] {
        row(&self.in_off, &self.in_adj, v)
    }

    /// Sorted distinct neighbours of `v` ignoring direction (the union of in- and
    /// out-neighbours, never `v` itself); empty when `v` is not a node.
    pub fn undirected_neighbors(&self, v: u32) -> &[u32] {
        row(&self.und_off, &self.und_adj, v)
    }
}
