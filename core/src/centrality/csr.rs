//! Compressed sparse row adjacency: out-, in- and undirected neighbour lists.

use super::CentralityError;

/// A directed graph in CSR form. Multi-edges count once; self loops are dropped (they
/// change neither shortest paths between distinct nodes nor triangles).
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

fn build(n: usize, pairs: &[(u32, u32)]) -> (Vec<u32>, Vec<u32>) {
    let mut off = vec![0u32; n + 1];
    for &(a, _) in pairs {
        off[a as usize + 1] += 1;
    }
    for i in 0..n {
        off[i + 1] += off[i];
    }
    let mut fill = off.clone();
    let mut adj = vec![0u32; pairs.len()];
    for &(a, b) in pairs {
        let slot = &mut fill[a as usize];
        adj[*slot as usize] = b;
        *slot += 1;
    }
    for i in 0..n {
        adj[off[i] as usize..off[i + 1] as usize].sort_unstable();
    }
    (off, adj)
}

impl Csr {
    /// Builds from a node count and directed edges.
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
        let (out_off, out_adj) = build(n, &pairs);
        let rev: Vec<(u32, u32)> = pairs.iter().map(|&(a, b)| (b, a)).collect();
        let (in_off, in_adj) = build(n, &rev);
        let mut und: Vec<(u32, u32)> = pairs.iter().chain(rev.iter()).copied().collect();
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

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Number of distinct directed edges (self loops excluded).
    pub fn edge_count(&self) -> usize {
        self.out_adj.len()
    }

    pub fn out_neighbors(&self, v: u32) -> &[u32] {
        &self.out_adj[self.out_off[v as usize] as usize..self.out_off[v as usize + 1] as usize]
    }

    pub fn in_neighbors(&self, v: u32) -> &[u32] {
        &self.in_adj[self.in_off[v as usize] as usize..self.in_off[v as usize + 1] as usize]
    }

    /// Sorted distinct neighbours ignoring direction.
    pub fn undirected_neighbors(&self, v: u32) -> &[u32] {
        &self.und_adj[self.und_off[v as usize] as usize..self.und_off[v as usize + 1] as usize]
    }
}
