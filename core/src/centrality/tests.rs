use super::*;
use proptest::prelude::*;

fn csr(n: usize, edges: &[(u32, u32)]) -> Csr {
    Csr::from_edges(n, edges).unwrap()
}

fn undirected(edges: &[(u32, u32)]) -> Vec<(u32, u32)> {
    edges.iter().flat_map(|&(a, b)| [(a, b), (b, a)]).collect()
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs())))
}

#[test]
fn path_graph() {
    // 0 -> 1 -> 2 -> 3: node 1 lies on 0->2 and 0->3; node 2 on 0->3 and 1->3.
    let g = csr(4, &[(0, 1), (1, 2), (2, 3)]);
    assert!(close(&betweenness(&g, false), &[0.0, 2.0, 2.0, 0.0]));
    assert!(close(&betweenness(&g, true), &[0.0, 2.0, 2.0, 0.0]));
    assert_eq!(clustering(&g), vec![0.0; 4]);
    assert_eq!(
        degrees(&g),
        vec![(0, 1, 1), (1, 1, 2), (1, 1, 2), (1, 0, 1)]
    );
}

#[test]
fn star_graph() {
    // Undirected star: the centre is on all C(4,2) = 6 leaf pairs. Out-star: no paths via it.
    let spokes = [(0, 1), (0, 2), (0, 3), (0, 4)];
    let g = csr(5, &undirected(&spokes));
    assert!(close(&betweenness(&g, true), &[6.0, 0.0, 0.0, 0.0, 0.0]));
    assert!(close(&betweenness(&csr(5, &spokes), false), &[0.0; 5]));
    // Directed both ways, each ordered leaf pair goes through the centre: 4*3 = 12.
    assert!(close(&betweenness(&g, false), &[12.0, 0.0, 0.0, 0.0, 0.0]));
    assert_eq!(clustering(&g), vec![0.0; 5]);
}

#[test]
fn directed_cycle() {
    // 0 -> 1 -> 2 -> 0: each node is the middle of exactly one shortest path.
    let g = csr(3, &[(0, 1), (1, 2), (2, 0)]);
    assert!(close(&betweenness(&g, false), &[1.0, 1.0, 1.0]));
    // Undirected triangle: every pair is adjacent, nothing in between; clustering 1.
    assert!(close(&betweenness(&g, true), &[0.0, 0.0, 0.0]));
    assert_eq!(clustering(&g), vec![1.0; 3]);
}

#[test]
fn two_triangles_and_a_bridge() {
    let e = undirected(&[(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)]);
    let g = csr(6, &e);
    // 2 bridges {0,1} x {3,4,5} = 6 pairs; 3 bridges {0,1,2} x {4,5} = 6 pairs.
    assert!(close(
        &betweenness(&g, true),
        &[0.0, 0.0, 6.0, 6.0, 0.0, 0.0]
    ));
    assert!(close(
        &betweenness(&g, false),
        &[0.0, 0.0, 12.0, 12.0, 0.0, 0.0]
    ));
    let c = clustering(&g);
    assert!(close(&c, &[1.0, 1.0, 1.0 / 3.0, 1.0 / 3.0, 1.0, 1.0]));
    assert!((normalization(6, false) - 1.0 / 20.0).abs() < 1e-15);
}

#[test]
fn bad_input_is_an_error() {
    assert!(matches!(
        Csr::from_edges(2, &[(0, 5)]),
        Err(CentralityError::NodeOutOfRange(0, 5, 2))
    ));
    assert!(sample_sources(5, 0, 1).is_err());
    assert!(sample_sources(5, 6, 1).is_err());
}

#[test]
fn cancellation_stops() {
    let g = csr(200, &(0..199).map(|i| (i, i + 1)).collect::<Vec<_>>());
    let sources: Vec<u32> = (0..200).collect();
    let mut calls = 0;
    let r = betweenness_from(&g, &sources, false, || {
        calls += 1;
        Err::<(), _>("cancel")
    });
    assert_eq!(r, Err("cancel"));
    assert_eq!(calls, 1);
}

/// Brute force: enumerate every shortest path between every ordered pair and count the
/// intermediate nodes (each path weighted by 1 / number of shortest paths of the pair).
fn brute(n: usize, edges: &[(u32, u32)], undirected: bool) -> Vec<f64> {
    let mut adj = vec![Vec::new(); n];
    for &(a, b) in edges {
        if a != b {
            adj[a as usize].push(b as usize);
            if undirected {
                adj[b as usize].push(a as usize);
            }
        }
    }
    for a in &mut adj {
        a.sort_unstable();
        a.dedup();
    }
    let mut bc = vec![0.0; n];
    for s in 0..n {
        let mut dist = vec![usize::MAX; n];
        dist[s] = 0;
        let mut q = std::collections::VecDeque::from([s]);
        while let Some(u) = q.pop_front() {
            for &w in &adj[u] {
                if dist[w] == usize::MAX {
                    dist[w] = dist[u] + 1;
                    q.push_back(w);
                }
            }
        }
        for t in 0..n {
            if t == s || dist[t] == usize::MAX {
                continue;
            }
            let mut paths: Vec<Vec<usize>> = Vec::new();
            let mut stack = vec![vec![s]];
            while let Some(p) = stack.pop() {
                let last = *p.last().unwrap_or(&s);
                if last == t {
                    paths.push(p);
                    continue;
                }
                for &w in &adj[last] {
                    if dist[w] == dist[last] + 1 && dist[w] <= dist[t] {
                        let mut q = p.clone();
                        q.push(w);
                        stack.push(q);
                    }
                }
            }
            let total = paths.len() as f64;
            for p in &paths {
                for &v in &p[1..p.len() - 1] {
                    bc[v] += 1.0 / total;
                }
            }
        }
    }
    if undirected {
        bc.iter_mut().for_each(|x| *x /= 2.0);
    }
    bc
}

fn graphs() -> impl Strategy<Value = (usize, Vec<(u32, u32)>)> {
    (2usize..9).prop_flat_map(|n| {
        (
            Just(n),
            proptest::collection::vec((0..n as u32, 0..n as u32), 0..24),
        )
    })
}

proptest! {
    #[test]
    fn directed_betweenness_equals_brute_force((n, edges) in graphs()) {
        let g = csr(n, &edges);
        prop_assert!(close(&betweenness(&g, false), &brute(n, &edges, false)));
    }

    #[test]
    fn undirected_betweenness_equals_brute_force((n, edges) in graphs()) {
        let g = csr(n, &edges);
        prop_assert!(close(&betweenness(&g, true), &brute(n, &edges, true)));
    }

    #[test]
    fn sampling_all_sources_is_exact((n, edges) in graphs(), seed in any::<u64>()) {
        let g = csr(n, &edges);
        let s = betweenness_sampled(&g, n, seed, || Ok::<(), ()>(())).unwrap().unwrap();
        prop_assert!(close(&s, &betweenness(&g, false)));
    }

    #[test]
    fn affected_set_covers_every_change((n, edges) in graphs(), u in 0u32..9, v in 0u32..9) {
        let (u, v) = (u % n as u32, v % n as u32);
        prop_assume!(u != v);
        let before = csr(n, &edges);
        let mut with = edges.clone();
        with.push((u, v));
        let after = csr(n, &with);
        let affected = affected_by_edge(&after, u, v);
        let (cb, ca) = (clustering(&before), clustering(&after));
        let (db, da) = (degrees(&before), degrees(&after));
        for x in 0..n {
            if !affected.contains(&(x as u32)) {
                prop_assert_eq!(cb[x], ca[x]);
                prop_assert_eq!(db[x], da[x]);
            }
        }
    }
}

#[test]
fn thread_count_does_not_change_the_result() {
    // A preferential-attachment-like graph, deterministic.
    let n = 600u32;
    let mut edges = Vec::new();
    let mut x: u64 = 7;
    for v in 3..n {
        for _ in 0..3 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let t = (x >> 33) as u32 % v;
            edges.push((v, t));
            edges.push((t, v));
        }
    }
    let g = csr(n as usize, &edges);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let sources: Vec<u32> = (0..n).collect();
            betweenness_from(&g, &sources, false, || Ok::<(), ()>(())).unwrap()
        })
    };
    let one = run(1);
    let four = run(4);
    assert_eq!(
        one.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        four.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    // Sampling a quarter of the sources finds most of the top 10.
    let approx = betweenness_sampled(&g, n as usize / 4, 42, || Ok::<(), ()>(()))
        .unwrap()
        .unwrap();
    let top = |v: &[f64]| {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
        idx.truncate(10);
        idx
    };
    let (t1, t2) = (top(&one), top(&approx));
    let common = t1.iter().filter(|i| t2.contains(i)).count();
    assert!(common >= 6, "only {common} of the top 10 agree");
}
