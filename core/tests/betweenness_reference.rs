//! Exact betweenness equals networkx's on a generated 2,000-node Barabási–Albert graph
//! (m = 5), directed and undirected. The reference values were computed once by
//! `benches/centrality/make_reference.py` (networkx `betweenness_centrality`,
//! `normalized=False`, on a DiGraph and on a Graph of the same edges) and checked in.

#![allow(clippy::unwrap_used)] // a test: a failure to read its data should fail loudly
use idgraph_core::centrality::{betweenness, normalized, Brandes, Csr};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn rows(file: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(format!("{DIR}/{file}"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

/// The graph and networkx's (directed, undirected) betweenness per node.
fn reference() -> (Csr, Vec<f64>, Vec<f64>) {
    let edges: Vec<(u32, u32)> = rows("ba2000_edges.csv")
        .iter()
        .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap()))
        .collect();
    let want = rows("ba2000_betweenness_networkx.csv");
    assert_eq!(want.len(), 2000);
    for (v, r) in want.iter().enumerate() {
        assert_eq!(r[0], v.to_string());
    }
    let col = |i: usize| want.iter().map(|r| r[i].parse().unwrap()).collect();
    (Csr::from_edges(2000, &edges).unwrap(), col(1), col(2))
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len());
    for (v, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-9 * b.abs().max(1.0),
            "{what}, node {v}: idgraph {a}, networkx {b}"
        );
    }
}

#[test]
fn directed_betweenness_matches_networkx() {
    let (g, directed, _) = reference();
    assert_eq!(g.edge_count(), 12937);
    let got = betweenness(&g, false);
    assert_close(&got, &directed, "directed");
    // Normalized: networkx's normalized=True divides by (n-1)(n-2) on a DiGraph.
    let scale = 1.0 / (1999.0 * 1998.0);
    let want: Vec<f64> = directed.iter().map(|x| x * scale).collect();
    assert_close(&normalized(&got, false), &want, "directed, normalized");
}

#[test]
fn undirected_betweenness_matches_networkx() {
    let (g, _, undirected) = reference();
    assert_close(&betweenness(&g, true), &undirected, "undirected");
}

#[test]
fn stepping_with_odd_step_sizes_changes_nothing() {
    let (g, _, _) = reference();
    let all = betweenness(&g, false);
    let mut run = Brandes::exact(&g, false);
    let mut k = 1;
    while !run.step(k) {
        k = k * 3 + 1;
    }
    assert_eq!(run.sources_done(), 2000);
    let stepped = run.finish();
    assert!(all
        .iter()
        .zip(&stepped)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}
