//! Exact directed betweenness equals networkx's on a 2,000-node graph (reference values
//! computed once by benches/centrality/make_reference.py and checked in as data).

#![allow(clippy::unwrap_used)] // a test: a failure to read its data should fail loudly
use idgraph_core::centrality::{betweenness, Csr};

fn read(path: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[test]
fn directed_betweenness_matches_networkx() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let edges: Vec<(u32, u32)> = read(&format!("{dir}/ref2000_edges.csv"))
        .iter()
        .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap()))
        .collect();
    let want: Vec<f64> = read(&format!("{dir}/ref2000_betweenness_networkx.csv"))
        .iter()
        .map(|r| r[1].parse().unwrap())
        .collect();
    let g = Csr::from_edges(want.len(), &edges).unwrap();
    let got = betweenness(&g, false);
    assert_eq!(got.len(), 2000);
    for (v, (a, b)) in got.iter().zip(&want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-9 * b.abs().max(1.0),
            "node {v}: idgraph {a}, networkx {b}"
        );
    }
}
