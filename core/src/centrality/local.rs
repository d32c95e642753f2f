//! Degree and local clustering: the metrics that depend on a node's neighbourhood only,
//! so they can be kept current edge by edge (SPEC §3: "only affected nodes recomputed").

use rayon::prelude::*;

use super::{CentralityError, Csr};

/// Degree and clustering of one node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalMetrics {
    /// The node these values are for.
    pub node: u32,
    /// Distinct nodes with an edge into this one.
    pub in_degree: u32,
    /// Distinct nodes this one has an edge to.
    pub out_degree: u32,
    /// `in_degree + out_degree` (a pair of opposite edges counts twice, as in networkx).
    pub degree: u32,
    /// Local clustering coefficient on the undirected view, see [`clustering_of`].
    pub clustering: f64,
}

/// `(in, out, in + out)` degree of every node, counting distinct neighbours (a multi-edge
/// once, self loops not at all).
pub fn degrees(g: &Csr) -> Vec<(u32, u32, u32)> {
    (0..g.len() as u32).map(|v| degree_of(g, v)).collect()
}

fn degree_of(g: &Csr, v: u32) -> (u32, u32, u32) {
    let i = g.in_neighbors(v).len() as u32;
    let o = g.out_neighbors(v).len() as u32;
    (i, o, i + o)
}

/// Local clustering coefficient of `v` on the undirected view: among the pairs of its
/// distinct neighbours (in or out, never itself), the share that are adjacent in either
/// direction. 0 when it has fewer than two neighbours, and when `v` is not a node.
///
/// `mark` is scratch space, all `false` on entry and left so; pass one buffer of length
/// `g.len()` for many calls (a shorter one makes this call allocate its own).
pub fn clustering_of(g: &Csr, v: u32, mark: &mut [bool]) -> f64 {
    if mark.len() < g.len() {
        return clustering_of(g, v, &mut vec![false; g.len()]);
    }
    let nb = g.undirected_neighbors(v);
    let k = nb.len();
    if k < 2 {
        return 0.0;
    }
    for &u in nb {
        mark[u as usize] = true;
    }
    let mut links = 0u64;
    for &u in nb {
        // Each link u–w counted once, from its smaller end.
        for &w in g.undirected_neighbors(u) {
            if w > u && mark[w as usize] {
                links += 1;
            }
        }
    }
    for &u in nb {
        mark[u as usize] = false;
    }
    2.0 * links as f64 / (k as f64 * (k as f64 - 1.0))
}

/// Clustering coefficient of every node (parallel; each value is computed independently,
/// so the result does not depend on the thread count).
pub fn clustering(g: &Csr) -> Vec<f64> {
    let n = g.len();
    (0..n as u32)
        .into_par_iter()
        .map_init(|| vec![false; n], |mark, v| clustering_of(g, v, mark))
        .collect()
}

/// The nodes whose degree or clustering can change when edge `u → v` is added or removed
/// (either direction, or a multi-edge's last copy): `u`, `v` and their common neighbours
/// on the undirected view — a triangle through u–v has its third corner there. Sorted,
/// distinct; endpoints that are not nodes of `g` are left out.
///
/// Common neighbours are the same before and after the change (the edge joins u and v,
/// and neither is its own neighbour), so either graph gives the same set.
pub fn affected_by_edge(g: &Csr, u: u32, v: u32) -> Vec<u32> {
    let mut out: Vec<u32> = [u, v].into_iter().filter(|&x| g.contains(x)).collect();
    let (a, b) = (g.undirected_neighbors(u), g.undirected_neighbors(v));
    let (mut i, mut j) = (0, 0);
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        match x.cmp(&y) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(x);
                i += 1;
                j += 1;
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Degree and clustering of just `nodes` (in the order given), for incremental upkeep:
/// after an edge change, recompute [`affected_by_edge`]'s nodes on the new graph and
/// every other node's values stay valid. Costs O(Σ over `nodes` of their neighbours'
/// degrees) plus one zeroed scratch of n bytes. Errors when a node is not in `g`.
pub fn local_metrics(g: &Csr, nodes: &[u32]) -> Result<Vec<LocalMetrics>, CentralityError> {
    if let Some(&v) = nodes.iter().find(|&&v| !g.contains(v)) {
        return Err(CentralityError::NotANode(v, g.len()));
    }
    let mut mark = vec![false; g.len()];
    Ok(nodes
        .iter()
        .map(|&v| {
            let (in_degree, out_degree, degree) = degree_of(g, v);
            LocalMetrics {
                node: v,
                in_degree,
                out_degree,
                degree,
                clustering: clustering_of(g, v, &mut mark),
            }
        })
        .collect())
}
