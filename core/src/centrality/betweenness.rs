//! Betweenness centrality: Brandes (2001) for unweighted graphs, exact or from sampled
//! sources, parallel over sources and deterministic.
//!
//! Determinism: sources are cut into fixed chunks of [`CHUNK`] consecutive sources. Each
//! chunk accumulates its own partial sums (sources in list order) into its own slot of a
//! scratch buffer; after a step the slots are added into the total node by node in chunk
//! order. Which thread ran which chunk never enters the arithmetic, so the result is
//! bit-for-bit the same for any thread count and any step sizes.
//!
//! Cancellation: [`Brandes::step`] returns to its caller after a bounded number of chunks,
//! on the caller's thread, so the caller (the pgrx layer: `check_for_interrupts!` must only
//! run on the backend's main thread) polls for cancel between steps and simply stops
//! calling. [`betweenness_from`] wraps that loop around a callback.
//!
//! Precision: shortest-path counts are `f64`, as in networkx and igraph — exact up to 2^53
//! paths per pair, rounded beyond; only graphs with more than ~10^308 shortest paths
//! between one pair (a chain of over a thousand diamonds) would overflow to non-finite
//! values.

use rayon::prelude::*;

use super::{CentralityError, Csr};

/// Sources per chunk: the unit of parallel work and of the deterministic reduction.
pub const CHUNK: usize = 16;

/// Upper bound on chunks per step: bounds the scratch memory to `MAX_STEP_CHUNKS × n` f64.
const MAX_STEP_CHUNKS: usize = 64;

/// Nodes per parallel task when adding chunk partials into the total.
const REDUCE_BLOCK: usize = 4096;

const UNSEEN: u32 = u32::MAX;

/// Per-task buffers for one Brandes pass, reused across sources: nothing is allocated per
/// source or per node. All entries are back at their initial values between sources.
struct Buffers {
    sigma: Vec<f64>,
    dist: Vec<u32>,
    /// (1 + δ(w)) / σ(w) of finished nodes: what a predecessor pulls from `w`.
    coeff: Vec<f64>,
    /// BFS queue (n + 1 slots: the last one takes speculative writes); read backwards, it
    /// is the stack of Brandes' accumulation phase.
    order: Vec<u32>,
}

impl Buffers {
    fn new(n: usize) -> Self {
        Self {
            sigma: vec![0.0; n],
            dist: vec![UNSEEN; n],
            coeff: vec![0.0; n],
            order: vec![0; n + 1],
        }
    }
}

/// Adds the dependencies δ(s, ·) of one source into `acc` (Brandes 2001, unweighted).
///
/// Accumulation pulls from successors instead of pushing to predecessors:
/// δ(v) = σ(v) · Σ over successors w of (1 + δ(w)) / σ(w), a successor being a neighbour
/// one BFS level further. That walks the same neighbour lists as the BFS, writes each δ
/// once and divides once per node.
fn single_source(g: &Csr, s: u32, undirected: bool, b: &mut Buffers, acc: &mut [f64]) {
    let next = |v: u32| {
        if undirected {
            g.undirected_neighbors(v)
        } else {
            g.out_neighbors(v)
        }
    };
    let si = s as usize;
    b.sigma[si] = 1.0;
    b.dist[si] = 0;
    b.order[0] = s;
    // Branch-free inner loops: whether a neighbour is new or on a shortest path is a
    // coin toss to the branch predictor, so both are turned into arithmetic: every
    // neighbour is written at `order[len]`, and `len` only moves past the new ones. A node
    // is appended once, so `len` ≤ n and slot n takes the last speculative write.
    let mut len = 1;
    let mut head = 0;
    while head < len {
        let v = b.order[head];
        head += 1;
        let dn = b.dist[v as usize] + 1;
        let sv = b.sigma[v as usize];
        for &w in next(v) {
            let wi = w as usize;
            let d = b.dist[wi];
            let new = d == UNSEEN;
            b.order[len] = w;
            len += usize::from(new);
            let d = if new { dn } else { d };
            b.dist[wi] = d;
            b.sigma[wi] += if d == dn { sv } else { 0.0 };
        }
    }
    let reached = &b.order[..len];
    for &v in reached.iter().rev() {
        let vi = v as usize;
        let dn = b.dist[vi] + 1;
        let mut pull = 0.0;
        for &w in next(v) {
            let wi = w as usize;
            pull += if b.dist[wi] == dn { b.coeff[wi] } else { 0.0 };
        }
        let delta = b.sigma[vi] * pull;
        b.coeff[vi] = (1.0 + delta) / b.sigma[vi];
        if v != s {
            acc[vi] += delta;
        }
    }
    for &v in reached {
        let vi = v as usize;
        b.sigma[vi] = 0.0;
        b.dist[vi] = UNSEEN;
        b.coeff[vi] = 0.0;
    }
}

/// A betweenness computation in progress, advanced by [`Brandes::step`] so the caller gets
/// control back between steps (to poll for cancellation, report progress or give up).
///
/// ```
/// use idgraph_core::centrality::{Brandes, Csr};
/// let g = Csr::from_edges(3, &[(0, 1), (1, 2)]).unwrap();
/// let mut run = Brandes::exact(&g, false);
/// while !run.step(run.default_step()) {
///     // check for cancel here; return early to abandon the computation
/// }
/// assert_eq!(run.finish(), vec![0.0, 1.0, 0.0]);
/// ```
#[derive(Debug)]
pub struct Brandes<'g> {
    g: &'g Csr,
    sources: Vec<u32>,
    undirected: bool,
    /// Multiplies the sums at the end: n / k for k sampled sources, else 1.
    scale: f64,
    done: usize,
    total: Vec<f64>,
    scratch: Vec<f64>,
}

impl<'g> Brandes<'g> {
    /// Exact betweenness: every node is a source.
    pub fn exact(g: &'g Csr, undirected: bool) -> Self {
        Self::new(g, (0..g.len() as u32).collect(), undirected, 1.0)
    }

    /// Betweenness summed over the given sources only (each occurrence counts), unscaled.
    /// Errors when a source is not a node of `g`.
    pub fn with_sources(
        g: &'g Csr,
        sources: Vec<u32>,
        undirected: bool,
    ) -> Result<Self, CentralityError> {
        if let Some(&s) = sources.iter().find(|&&s| !g.contains(s)) {
            return Err(CentralityError::NotANode(s, g.len()));
        }
        Ok(Self::new(g, sources, undirected, 1.0))
    }

    /// Sampled betweenness: `k` distinct sources drawn by [`sample_sources`] with `seed`,
    /// sums scaled by n / k.
    ///
    /// Error behaviour: every source is equally likely to be drawn, so each node's estimate
    /// is unbiased (its expectation is the exact value). Its standard deviation shrinks like
    /// 1/√k (a little faster, as sampling is without replacement, and it is 0 at k = n,
    /// where the result is exactly [`Brandes::exact`]'s). Relative error is smallest for
    /// the high-betweenness nodes, whose dependency is spread over many sources — the ones
    /// a top-k query asks for; nodes with small betweenness (often owed to a few sources)
    /// can be far off or 0. Errors when `k` is 0 or more than the number of nodes.
    pub fn sampled(
        g: &'g Csr,
        k: usize,
        seed: u64,
        undirected: bool,
    ) -> Result<Self, CentralityError> {
        let sources = sample_sources(g.len(), k, seed)?;
        Ok(Self::new(g, sources, undirected, g.len() as f64 / k as f64))
    }

    fn new(g: &'g Csr, sources: Vec<u32>, undirected: bool, scale: f64) -> Self {
        Self {
            g,
            sources,
            undirected,
            scale,
            done: 0,
            total: vec![0.0; g.len()],
            scratch: Vec::new(),
        }
    }

    /// A step size that keeps every thread of the current rayon pool busy while returning
    /// often: 16 chunks per thread (at most 64), about 0.15 s per step for exact directed
    /// betweenness of a 10,000-node BA graph on 2 cores.
    pub fn default_step(&self) -> usize {
        CHUNK * (rayon::current_num_threads().max(1) * 16).min(MAX_STEP_CHUNKS)
    }

    /// Number of sources already processed.
    pub fn sources_done(&self) -> usize {
        self.done
    }

    /// Number of sources in this computation.
    pub fn sources_total(&self) -> usize {
        self.sources.len()
    }

    /// Whether every source has been processed.
    pub fn is_done(&self) -> bool {
        self.done >= self.sources.len()
    }

    /// Processes up to `max_sources` more sources (rounded up to whole chunks of [`CHUNK`],
    /// at least one chunk, at most 64 chunks) in parallel on the current rayon pool, then
    /// returns on the calling thread. Returns whether the computation is complete. The
    /// result does not depend on the step sizes used.
    pub fn step(&mut self, max_sources: usize) -> bool {
        let n = self.g.len();
        let end = self.sources.len();
        if self.done >= end || n == 0 {
            self.done = end;
            return true;
        }
        let chunks = max_sources.div_ceil(CHUNK).clamp(1, MAX_STEP_CHUNKS);
        let stop = end.min(self.done + chunks * CHUNK);
        let part = &self.sources[self.done..stop];
        let used = part.len().div_ceil(CHUNK);
        if self.scratch.len() < used * n {
            self.scratch.resize(used * n, 0.0);
        }
        let scratch = &mut self.scratch[..used * n];
        let (g, undirected) = (self.g, self.undirected);
        scratch
            .par_chunks_mut(n)
            .zip(part.par_chunks(CHUNK))
            .for_each_init(
                || Buffers::new(n),
                |buf, (acc, chunk)| {
                    acc.fill(0.0);
                    for &s in chunk {
                        single_source(g, s, undirected, buf, acc);
                    }
                },
            );
        // Node by node, the chunk partials are added in chunk order.
        let scratch = &self.scratch[..used * n];
        self.total
            .par_chunks_mut(REDUCE_BLOCK)
            .enumerate()
            .for_each(|(blk, out)| {
                let base = blk * REDUCE_BLOCK;
                for c in 0..used {
                    let part = &scratch[c * n + base..c * n + base + out.len()];
                    for (t, x) in out.iter_mut().zip(part) {
                        *t += x;
                    }
                }
            });
        self.done = stop;
        self.is_done()
    }

    /// Runs whatever is left (without returning in between) and returns the raw
    /// betweenness of every node: scaled by n / k when sampled, and for the undirected
    /// variant with every unordered pair counted once.
    pub fn finish(mut self) -> Vec<f64> {
        while !self.step(MAX_STEP_CHUNKS * CHUNK) {}
        let factor = if self.undirected {
            self.scale / 2.0
        } else {
            self.scale
        };
        if factor != 1.0 {
            self.total.iter_mut().for_each(|x| *x *= factor);
        }
        self.total
    }
}

/// Raw betweenness summed over `sources` (each occurrence counts; sources that are not
/// nodes of `g` are skipped — use [`Brandes::with_sources`] to have them rejected),
/// parallel and deterministic. After every step of [`Brandes::default_step`] sources,
/// `between_steps` runs on the calling thread (the pgrx layer checks for query cancel
/// there); an `Err` from it abandons the computation and is returned.
pub fn betweenness_from<E>(
    g: &Csr,
    sources: &[u32],
    undirected: bool,
    mut between_steps: impl FnMut() -> Result<(), E>,
) -> Result<Vec<f64>, E> {
    let inside: Vec<u32> = sources.iter().copied().filter(|&s| g.contains(s)).collect();
    let mut run = Brandes::new(g, inside, undirected, 1.0);
    let step = run.default_step();
    while !run.is_done() {
        run.step(step);
        between_steps()?;
    }
    Ok(run.finish())
}

/// Exact raw betweenness of every node: directed (ordered pairs, shortest paths follow
/// edge direction) or, with `undirected`, on the undirected view (unordered pairs).
/// Normalize with [`normalization`].
pub fn betweenness(g: &Csr, undirected: bool) -> Vec<f64> {
    Brandes::exact(g, undirected).finish()
}

/// Sampled directed betweenness with a callback between steps, as [`betweenness_from`];
/// see [`Brandes::sampled`] for the estimator and its error. The outer error is a bad `k`,
/// the inner one the callback's.
pub fn betweenness_sampled<E>(
    g: &Csr,
    k: usize,
    seed: u64,
    mut between_steps: impl FnMut() -> Result<(), E>,
) -> Result<Result<Vec<f64>, E>, CentralityError> {
    let mut run = Brandes::sampled(g, k, seed, false)?;
    let step = run.default_step();
    while !run.is_done() {
        run.step(step);
        if let Err(e) = between_steps() {
            return Ok(Err(e));
        }
    }
    Ok(Ok(run.finish()))
}

/// Factor turning raw betweenness into normalized betweenness (values in [0, 1]):
/// 1 / ((n − 1)(n − 2)) directed, 2 / ((n − 1)(n − 2)) undirected (the conventions of
/// networkx and igraph). 0 when n < 3, where every betweenness is 0.
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

/// Normalized copy of raw betweenness values (see [`normalization`]).
pub fn normalized(raw: &[f64], undirected: bool) -> Vec<f64> {
    let f = normalization(raw.len(), undirected);
    raw.iter().map(|x| x * f).collect()
}

/// splitmix64 (Steele, Lea & Flood 2014): tiny, seedable, good enough to pick sources.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (`bound` > 0), by rejection: no modulo bias.
    fn below(&mut self, bound: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % bound;
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % bound;
            }
        }
    }
}

/// `k` distinct nodes of `0..n`, uniformly at random from `seed` (splitmix64, partial
/// Fisher–Yates), sorted. The same `(n, k, seed)` always gives the same sources. Errors
/// when `k` is 0 or more than `n`.
pub fn sample_sources(n: usize, k: usize, seed: u64) -> Result<Vec<u32>, CentralityError> {
    if k == 0 || k > n {
        return Err(CentralityError::BadSampleSize(k, n));
    }
    if n >= u32::MAX as usize {
        return Err(CentralityError::TooLarge(n));
    }
    let mut rng = SplitMix64(seed);
    let mut all: Vec<u32> = (0..n as u32).collect();
    for i in 0..k {
        let j = i + rng.below((n - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(k);
    all.sort_unstable();
    Ok(all)
}
