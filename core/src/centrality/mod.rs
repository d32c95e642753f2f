//! Centrality (SPEC §3): degree, betweenness (exact Brandes and sampled), local clustering.
//!
//! Graphs are compact CSR adjacency over dense `u32` node indices. Betweenness runs one
//! BFS per source with per-thread buffers reused across sources (nothing is allocated in
//! the inner loop) and is parallel over sources with rayon. Sources are processed in
//! fixed chunks whose partial sums are added in chunk order, so the result is
//! bit-for-bit the same whatever the number of threads.

mod csr;

pub use csr::Csr;

use rayon::prelude::*;
use thiserror::Error;

/// Sources per chunk: the unit of parallel work and of the deterministic reduction.
const CHUNK: usize = 32;

/// Errors of the centrality functions.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CentralityError {
    #[error("edge ({0}, {1}) names a node outside 0..{2}")]
    NodeOutOfRange(u32, u32, usize),
    #[error("graph has {0} nodes; at most u32::MAX - 1 are supported")]
    TooLarge(usize),
    #[error("sample size must be between 1 and the number of nodes ({1}), got {0}")]
    BadSampleSize(usize, usize),
    #[error("cancelled")]
    Cancelled,
}

/// In-, out- and total degree of every node (distinct neighbours; self loops ignored).
pub fn degrees(g: &Csr) -> Vec<(u32, u32, u32)> {
    (0..g.len() as u32)
        .map(|v| {
            let i = g.in_neighbors(v).len() as u32;
            let o = g.out_neighbors(v).len() as u32;
            (i, o, i + o)
        })
        .collect()
}

/// Per-thread buffers for one Brandes pass.
struct Buffers {
    sigma: Vec<f64>,
    dist: Vec<i32>,
    delta: Vec<f64>,
    order: Vec<u32>,
}

impl Buffers {
    fn new(n: usize) -> Self {
        Self {
            sigma: vec![0.0; n],
            dist: vec![-1; n],
            delta: vec![0.0; n],
            order: Vec::with_capacity(n),
        }
    }
}

/// One source's dependency accumulation (Brandes 2001), added into `acc`.
/// `undirected` walks out- and in-neighbours alike.
fn single_source(g: &Csr, s: u32, undirected: bool, b: &mut Buffers, acc: &mut [f64]) {
    b.order.clear();
    b.sigma[s as usize] = 1.0;
    b.dist[s as usize] = 0;
    b.order.push(s);
    let mut head = 0;
    while head < b.order.len() {
        let v = b.order[head];
        head += 1;
        let dv = b.dist[v as usize];
        let sv = b.sigma[v as usize];
        let visit = |w: u32, b: &mut Buffers| {
            let wi = w as usize;
            if b.dist[wi] < 0 {
                b.dist[wi] = dv + 1;
                b.order.push(w);
            }
            if b.dist[wi] == dv + 1 {
                b.sigma[wi] += sv;
            }
        };
        let next = if undirected {
            g.undirected_neighbors(v)
        } else {
            g.out_neighbors(v)
        };
        for &w in next {
            visit(w, b);
        }
    }
    // Back-propagation in reverse BFS order: predecessors are the neighbours one level up.
    for idx in (0..b.order.len()).rev() {
        let w = b.order[idx];
        let wi = w as usize;
        let dw = b.dist[wi];
        let coeff = (1.0 + b.delta[wi]) / b.sigma[wi];
        let pull = |v: u32, b: &mut Buffers| {
            let vi = v as usize;
            if b.dist[vi] == dw - 1 {
                b.delta[vi] += b.sigma[vi] * coeff;
            }
        };
        // Predecessors of w: nodes one level up with an edge into w.
        let prev = if undirected {
            g.undirected_neighbors(w)
        } else {
            g.in_neighbors(w)
        };
        for &v in prev {
            pull(v, b);
        }
        if w != s {
            acc[wi] += b.delta[wi];
        }
    }
    for &w in &b.order {
        let wi = w as usize;
        b.sigma[wi] = 0.0;
        b.dist[wi] = -1;
        b.delta[wi] = 0.0;
    }
}

/// Raw betweenness accumulated over `sources`, parallel and deterministic. After every
/// round of chunks `between_rounds` runs on the calling thread (the pgrx layer checks for
/// query cancel there); an `Err` from it stops the computation.
pub fn betweenness_from<E>(
    g: &Csr,
    sources: &[u32],
    undirected: bool,
    mut between_rounds: impl FnMut() -> Result<(), E>,
) -> Result<Vec<f64>, E> {
    let n = g.len();
    let mut total = vec![0.0; n];
    let threads = rayon::current_num_threads().max(1);
    let round = CHUNK * threads * 4;
    for part in sources.chunks(round) {
        let partials: Vec<Vec<f64>> = part
            .par_chunks(CHUNK)
            .map_init(
                || Buffers::new(n),
                |b, chunk| {
                    let mut acc = vec![0.0; n];
                    for &s in chunk {
                        single_source(g, s, undirected, b, &mut acc);
                    }
                    acc
                },
            )
            .collect();
        for p in partials {
            for (t, x) in total.iter_mut().zip(p) {
                *t += x;
            }
        }
        between_rounds()?;
    }
    if undirected {
        // Each unordered pair was counted from both ends.
        total.iter_mut().for_each(|x| *x /= 2.0);
    }
    Ok(total)
}

/// Exact betweenness over all sources (raw, unnormalized).
pub fn betweenness(g: &Csr, undirected: bool) -> Vec<f64> {
    let sources: Vec<u32> = (0..g.len() as u32).collect();
    match betweenness_from(g, &sources, undirected, || Ok::<(), ()>(())) {
        Ok(v) => v,
        Err(()) => vec![0.0; g.len()],
    }
}

/// Normalization factor of directed betweenness: 1 / ((n − 1)(n − 2)); undirected doubles it.
pub fn normalization(n: usize, undirected: bool) -> f64 {
    if n < 3 {
        return 0.0;
    }
    let base = 1.0 / ((n as f64 - 1.0) * (n as f64 - 2.0));
    if undirected {
        2.0 * base
    } else {
        base
    }
}

/// `k` distinct sources drawn with a seeded splitmix64 (partial Fisher–Yates).
pub fn sample_sources(n: usize, k: usize, seed: u64) -> Result<Vec<u32>, CentralityError> {
    if k == 0 || k > n {
        return Err(CentralityError::BadSampleSize(k, n));
    }
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut all: Vec<u32> = (0..n as u32).collect();
    for i in 0..k {
        let j = i + (next() % (n - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(k);
    all.sort_unstable();
    Ok(all)
}

/// Sampled betweenness: `k` seeded random sources, scaled by n/k. An unbiased estimate of
/// the exact value; its relative error shrinks like 1/√k, and it is best for the nodes with
/// high betweenness (the ones a top-k query asks for). With k = n it is exact.
pub fn betweenness_sampled<E>(
    g: &Csr,
    k: usize,
    seed: u64,
    between_rounds: impl FnMut() -> Result<(), E>,
) -> Result<Result<Vec<f64>, E>, CentralityError> {
    let sources = sample_sources(g.len(), k, seed)?;
    let scale = g.len() as f64 / k as f64;
    Ok(
        betweenness_from(g, &sources, false, between_rounds).map(|mut v| {
            v.iter_mut().for_each(|x| *x *= scale);
            v
        }),
    )
}

/// Local clustering coefficient of `v` on the undirected view: the share of pairs of its
/// distinct neighbours (in or out, self excluded) that are adjacent. 0 for degree < 2.
/// `mark` must be all-false on entry and is left all-false.
pub fn clustering_of(g: &Csr, v: u32, mark: &mut [bool]) -> f64 {
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

/// Clustering of every node.
pub fn clustering(g: &Csr) -> Vec<f64> {
    let n = g.len();
    (0..n as u32)
        .into_par_iter()
        .map_init(|| vec![false; n], |mark, v| clustering_of(g, v, mark))
        .collect()
}

/// The nodes whose degree or clustering changes when the edge `u`–`v` appears or
/// disappears: `u`, `v` and their common neighbours (looked up in either graph, before or
/// after the change, whichever has the edge's endpoints' neighbourhoods).
pub fn affected_by_edge(g: &Csr, u: u32, v: u32) -> Vec<u32> {
    let mut out = vec![u, v];
    let (a, b) = (g.undirected_neighbors(u), g.undirected_neighbors(v));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests;
