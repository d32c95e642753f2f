//! Times idgraph-core's centrality on a CSV edge list (`src,dst`, header line), printing
//! JSON lines shaped like `benches/centrality/peers.py`'s so the two can be put side by
//! side: exact betweenness, full degree + clustering, and the incremental upkeep of one
//! edge change (affected set + local recompute).
//!
//! ```text
//! cargo run --release -p idgraph-core --example centrality_bench -- EDGES.csv [--undirected] [--threads N] [--reps R]
//! ```

use std::error::Error as StdError;

type Error = dyn StdError + Send + Sync;
use std::time::Instant;

use idgraph_core::centrality::{
    affected_by_edge, betweenness, clustering, degrees, local_metrics, Csr,
};

fn main() -> Result<(), Box<Error>> {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let (mut undirected, mut threads, mut reps) = (false, 0usize, 1usize);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--undirected" => undirected = true,
            "--threads" => threads = args.next().ok_or("--threads N")?.parse()?,
            "--reps" => reps = args.next().ok_or("--reps R")?.parse()?,
            _ => path = Some(a),
        }
    }
    let path = path.ok_or("usage: centrality_bench EDGES.csv [--undirected] [--threads N]")?;
    let text = std::fs::read_to_string(&path)?;
    let mut edges = Vec::new();
    let mut n = 0usize;
    for line in text.lines().skip(1) {
        let mut it = line.split(',');
        let (a, b) = (it.next().ok_or("src")?, it.next().ok_or("dst")?);
        let (a, b): (u32, u32) = (a.trim().parse()?, b.trim().parse()?);
        n = n.max(a as usize + 1).max(b as usize + 1);
        edges.push((a, b));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let threads = pool.current_num_threads();
    pool.install(|| -> Result<(), Box<Error>> {
        let g = Csr::from_edges(n, &edges)?;
        let m = if undirected {
            (0..n as u32)
                .map(|v| g.undirected_neighbors(v).len())
                .sum::<usize>()
                / 2
        } else {
            g.edge_count()
        };
        for _ in 0..reps {
            let t = Instant::now();
            let bc = betweenness(&g, undirected);
            let secs = t.elapsed().as_secs_f64();
            let sum: f64 = bc.iter().sum();
            let max = bc.iter().copied().fold(0.0, f64::max);
            println!(
                "{{\"tool\": \"idgraph-core\", \"seconds\": {secs:.4}, \"n\": {n}, \"m\": {m}, \"directed\": {}, \"threads\": {threads}, \"sum\": {sum}, \"max\": {max}}}",
                !undirected
            );
        }
        let t = Instant::now();
        let d = degrees(&g);
        let c = clustering(&g);
        let full = t.elapsed().as_secs_f64();
        // One edge change: the hub-to-leaf edge of the first edge listed, touched again.
        let (u, v) = edges.first().copied().ok_or("no edges")?;
        let t = Instant::now();
        let affected = affected_by_edge(&g, u, v);
        let local = local_metrics(&g, &affected)?;
        let incr = t.elapsed().as_secs_f64();
        let agree = local.iter().all(|x| {
            d[x.node as usize].2 == x.degree && c[x.node as usize] == x.clustering
        });
        println!(
            "{{\"tool\": \"idgraph-core degree+clustering\", \"full_seconds\": {full:.6}, \"one_edge_seconds\": {incr:.6}, \"affected\": {}, \"agree\": {agree}}}",
            affected.len()
        );
        Ok(())
    })
}
