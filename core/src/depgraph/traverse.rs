//! Traversal (breadth-first, cycle-safe, depth-limited) and cycles (strongly connected
//! components by petgraph's Kosaraju over the CSR, see [`super::view`]).

use crate::cancel::{Cancel, Canceled};

use super::model::{Edge, Graph, GraphError, Kind, PairChange};
use super::view::components;

/// Deepest traversal allowed.
pub const MAX_DEPTH: u32 = 10;

/// Which way to walk: downstream follows dependencies, upstream follows dependents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Downstream,
    Upstream,
    Both,
}

impl Direction {
    pub fn parse(s: &str) -> Result<Self, GraphError> {
        match s {
            "downstream" => Ok(Self::Downstream),
            "upstream" => Ok(Self::Upstream),
            "both" => Ok(Self::Both),
            other => Err(GraphError::Invalid(format!(
                "direction must be 'downstream', 'upstream' or 'both', got '{other}'"
            ))),
        }
    }
}

/// A service reached by a traversal, once, at its shortest depth.
#[derive(Debug, Clone, PartialEq)]
pub struct Reached {
    pub node: u32,
    pub depth: u32,
    /// The service it was reached from.
    pub parent: u32,
    /// The effective edge that reached it.
    pub edge: u32,
    /// Path from the start to this service (start first).
    pub path: Vec<u32>,
}

/// Breadth-first walk from `start`. Each service appears once, at its shortest depth,
/// with the edge that first reached it. Stale edges are skipped unless `include_stale`;
/// external services are neither reported nor walked through unless `include_external`.
/// Polls `cancel` as it goes (a depth-10 walk can cover the whole graph).
pub fn traverse(
    g: &Graph,
    start: u32,
    direction: Direction,
    max_depth: u32,
    include_stale: bool,
    include_external: bool,
    cancel: &mut Cancel,
) -> Result<Vec<Reached>, GraphError> {
    if !(1..=MAX_DEPTH).contains(&max_depth) {
        return Err(GraphError::Invalid(format!(
            "depth must be between 1 and {MAX_DEPTH}, got {max_depth}"
        )));
    }
    if start as usize >= g.len() {
        return Err(GraphError::NotFound(format!("#{start}")));
    }
    let n = g.len();
    let mut seen = vec![false; n];
    let mut parent_slot = vec![u32::MAX; n]; // index into `out` of the reaching entry
    seen[start as usize] = true;
    let mut out: Vec<Reached> = Vec::new();
    let mut frontier = vec![start];
    for depth in 1..=max_depth {
        let mut next = Vec::new();
        for &u in &frontier {
            let down = matches!(direction, Direction::Downstream | Direction::Both);
            let up = matches!(direction, Direction::Upstream | Direction::Both);
            let fwd = if down { g.out_edges(u) } else { &[] };
            let rev = if up { g.in_edges(u) } else { &[] };
            cancel.tick(1 + fwd.len() + rev.len())?;
            for (&e, forward) in fwd
                .iter()
                .map(|e| (e, true))
                .chain(rev.iter().map(|e| (e, false)))
            {
                let edge = g.edge(e);
                if edge.stale && !include_stale {
                    continue;
                }
                let v = if forward { edge.to } else { edge.from };
                if seen[v as usize] {
                    continue;
                }
                if !include_external && g.service(v).kind == Kind::External {
                    continue;
                }
                seen[v as usize] = true;
                let mut path = match parent_slot[u as usize] {
                    u32::MAX => vec![start],
                    slot => out[slot as usize].path.clone(),
                };
                path.push(v);
                parent_slot[v as usize] = out.len() as u32;
                out.push(Reached {
                    node: v,
                    depth,
                    parent: u,
                    edge: e,
                    path,
                });
                next.push(v);
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    Ok(out)
}

/// A strongly connected component of 2+ services, or a self loop.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cycle {
    /// Members, sorted by service id.
    pub members: Vec<u32>,
    /// A closed walk through the component, e.g. `[a, b, c, a]`.
    pub path: Vec<u32>,
}

/// Strongly connected components (petgraph's Kosaraju over non-stale effective edges, see
/// [`super::view`]) that are cycles: two or more members, or one member with a self loop.
/// Polls `cancel` throughout: the closed walk through a large component costs up to
/// members × edges.
pub fn cycles(g: &Graph, cancel: &mut Cancel) -> Result<Vec<Cycle>, Canceled> {
    let comps = components(g, |e| !g.edge(e).stale, None, &mut |work| cancel.tick(work))?;
    let mut out = Vec::new();
    collect_cycles(g, comps, &mut out, cancel)?;
    out.sort_by(|a, b| g.id(a.members[0]).cmp(g.id(b.members[0])));
    Ok(out)
}

/// Keeps the components that are cycles, members sorted by id, with their closed walk.
fn collect_cycles(
    g: &Graph,
    comps: Vec<Vec<u32>>,
    out: &mut Vec<Cycle>,
    cancel: &mut Cancel,
) -> Result<(), Canceled> {
    for comp in comps {
        let is_cycle = comp.len() > 1
            || g.out_edges(comp[0])
                .iter()
                .any(|&e| !g.edge(e).stale && g.edge(e).to == comp[0]);
        if !is_cycle {
            continue;
        }
        let mut members = comp;
        members.sort_by(|a, b| g.id(*a).cmp(g.id(*b)));
        let path = cycle_path(g, &members, cancel)?;
        out.push(Cycle { members, path });
    }
    Ok(())
}

/// The cycles of `g` after [`Graph::apply`] made `changes`, given the cycles `before` it
/// (node indices stay valid: a delta only appends services). Only what the change can
/// touch is recomputed: a cycle that lost an edge (it may split), a cycle that gained
/// one (its walk may change), and for an edge `u -> v` between components, the nodes
/// reachable from `v` that reach `u` (the new component, when `v` reaches `u`). The
/// answer is [`cycles`]'s, in its order.
pub fn update_cycles(
    g: &Graph,
    before: &[Cycle],
    changes: &[PairChange],
    cancel: &mut Cancel,
) -> Result<Vec<Cycle>, Canceled> {
    let n = g.len();
    let live = |e: &Option<Edge>| e.as_ref().is_some_and(|e| !e.stale);
    // Old cyclic component of each node (usize::MAX: none).
    let mut comp_of = vec![usize::MAX; n];
    for (c, cycle) in before.iter().enumerate() {
        for &m in &cycle.members {
            if let Some(slot) = comp_of.get_mut(m as usize) {
                *slot = c;
            }
        }
    }
    let mut region = vec![false; n];
    let mut dirty = vec![false; before.len()];
    let mut any = false;
    for ch in changes {
        let (was, is) = (live(&ch.before), live(&ch.now));
        if was == is {
            continue; // attributes only: the live edge set is the same
        }
        let (u, v) = (ch.from as usize, ch.to as usize);
        let same = comp_of[u] != usize::MAX && comp_of[u] == comp_of[v];
        if same {
            dirty[comp_of[u]] = true;
            any = true;
        } else if is {
            // A new edge between components: a cycle iff v reaches u.
            if u == v {
                region[u] = true;
                any = true;
            } else if let Some(joined) = joined_by(g, ch.from, ch.to, cancel)? {
                for m in joined {
                    region[m as usize] = true;
                }
                any = true;
            }
        }
        // A lost edge between components was on no cycle.
    }
    if !any {
        return Ok(before.to_vec());
    }
    for (c, cycle) in before.iter().enumerate() {
        if dirty[c] {
            for &m in &cycle.members {
                region[m as usize] = true;
            }
        }
    }
    let mut out: Vec<Cycle> = before
        .iter()
        .filter(|c| !c.members.iter().any(|&m| region[m as usize]))
        .cloned()
        .collect();
    let roots: Vec<u32> = (0..n as u32).filter(|&i| region[i as usize]).collect();
    let comps = components(
        g,
        |e| {
            let edge = g.edge(e);
            !edge.stale && region[edge.from as usize] && region[edge.to as usize]
        },
        Some(&roots),
        &mut |work| cancel.tick(work),
    )?;
    collect_cycles(g, comps, &mut out, cancel)?;
    out.sort_by(|a, b| g.id(a.members[0]).cmp(g.id(b.members[0])));
    Ok(out)
}

/// For a live edge `u -> v`: when `v` reaches `u` over live edges, the nodes on such
/// paths (reachable from `v` and reaching `u`), `u` and `v` included; else `None`.
fn joined_by(g: &Graph, u: u32, v: u32, cancel: &mut Cancel) -> Result<Option<Vec<u32>>, Canceled> {
    let n = g.len();
    let mut fwd = vec![false; n];
    fwd[v as usize] = true;
    let mut stack = vec![v];
    while let Some(x) = stack.pop() {
        cancel.tick(1)?;
        for &e in g.out_edges(x) {
            let edge = g.edge(e);
            if !edge.stale && !fwd[edge.to as usize] {
                fwd[edge.to as usize] = true;
                stack.push(edge.to);
            }
        }
    }
    if !fwd[u as usize] {
        return Ok(None);
    }
    let mut back = vec![false; n];
    back[u as usize] = true;
    let mut stack = vec![u];
    let mut joined = vec![u];
    while let Some(x) = stack.pop() {
        cancel.tick(1)?;
        for &e in g.in_edges(x) {
            let edge = g.edge(e);
            let w = edge.from as usize;
            if !edge.stale && fwd[w] && !back[w] {
                back[w] = true;
                joined.push(edge.from);
                stack.push(edge.from);
            }
        }
    }
    Ok(Some(joined))
}

/// A closed walk through every member of a strongly connected component, starting and
/// ending at its first member: shortest paths inside the component, member by member.
fn cycle_path(g: &Graph, members: &[u32], cancel: &mut Cancel) -> Result<Vec<u32>, Canceled> {
    let first = members[0];
    if members.len() == 1 {
        return Ok(vec![first, first]);
    }
    let inside: std::collections::HashSet<u32> = members.iter().copied().collect();
    let mut path = vec![first];
    let mut visited: std::collections::HashSet<u32> = [first].into_iter().collect();
    let mut at = first;
    // Visit the nearest unvisited member until all are on the walk, then return home.
    loop {
        let done = visited.len() == members.len();
        let hop = shortest_inside(
            g,
            at,
            &inside,
            |v| {
                if done {
                    v == first
                } else {
                    !visited.contains(&v)
                }
            },
            cancel,
        )?;
        match hop {
            Some(segment) => {
                for &v in &segment[1..] {
                    visited.insert(v);
                    path.push(v);
                }
                at = *segment.last().unwrap_or(&at);
                if done {
                    break;
                }
            }
            None => break,
        }
    }
    Ok(path)
}

/// BFS inside a component from `from` to the nearest node satisfying `goal`.
fn shortest_inside(
    g: &Graph,
    from: u32,
    inside: &std::collections::HashSet<u32>,
    goal: impl Fn(u32) -> bool,
    cancel: &mut Cancel,
) -> Result<Option<Vec<u32>>, Canceled> {
    let mut prev: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
    let mut queue = std::collections::VecDeque::from([from]);
    while let Some(u) = queue.pop_front() {
        cancel.tick(1 + g.out_edges(u).len())?;
        for &e in g.out_edges(u) {
            let edge = g.edge(e);
            let v = edge.to;
            if edge.stale || !inside.contains(&v) || prev.contains_key(&v) {
                continue;
            }
            prev.insert(v, u);
            if goal(v) {
                let mut seg = vec![v];
                let mut cur = v;
                while cur != from {
                    cur = prev[&cur];
                    seg.push(cur);
                    if seg.len() > inside.len() + 1 {
                        break;
                    }
                }
                seg.reverse();
                return Ok(Some(seg));
            }
            queue.push_back(v);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::{graph, obs, svc};
    use super::super::model::{
        DiscoverySource, EdgeObservation, Graph, GraphDelta, Kind, Mode, Service,
    };
    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet, VecDeque};

    /// A check that counts its calls and cancels from call `after` on.
    fn cancel_after(
        calls: &std::cell::Cell<u32>,
        after: u32,
    ) -> impl FnMut() -> Result<(), Canceled> + '_ {
        move || {
            calls.set(calls.get() + 1);
            if calls.get() >= after {
                Err(Canceled)
            } else {
                Ok(())
            }
        }
    }

    /// A star that is one strongly connected component: hub 0 ↔ every leaf.
    fn star(leaves: usize) -> Graph {
        let edges: Vec<(usize, usize)> = (1..=leaves).flat_map(|i| [(0, i), (i, 0)]).collect();
        graph(leaves + 1, &edges)
    }

    #[test]
    fn cycles_stop_when_the_check_says_so() {
        let g = star(400);
        let full = cycles(&g, &mut Cancel::never()).unwrap();
        assert_eq!(full.len(), 1);
        assert_eq!(full[0].members.len(), 401);
        // The walk through the star costs ~leaves² edge looks: many checks. Canceling on
        // the third check stops it, and the check is not called again after that.
        let calls = std::cell::Cell::new(0);
        let mut check = cancel_after(&calls, 3);
        assert_eq!(cycles(&g, &mut Cancel::new(&mut check)), Err(Canceled));
        assert_eq!(calls.get(), 3);
        // A check that never cancels gives the same answer.
        let calls = std::cell::Cell::new(0);
        let mut check = cancel_after(&calls, u32::MAX);
        assert_eq!(cycles(&g, &mut Cancel::new(&mut check)).unwrap(), full);
        assert!(
            calls.get() > 3,
            "the star walk was polled {} times",
            calls.get()
        );
    }

    #[test]
    fn traverse_stops_when_the_check_says_so() {
        let edges: Vec<(usize, usize)> = (0..20_000).map(|i| (i, i + 1)).collect();
        let g = graph(20_001, &edges);
        let calls = std::cell::Cell::new(0);
        let mut check = cancel_after(&calls, 1);
        assert_eq!(
            traverse(
                &g,
                0,
                Direction::Downstream,
                10,
                false,
                true,
                &mut Cancel::new(&mut check)
            ),
            Err(GraphError::Canceled(Canceled))
        );
    }

    #[test]
    fn depth_limits_and_errors() {
        let g = graph(3, &[(0, 1), (1, 2)]);
        assert!(matches!(
            traverse(
                &g,
                0,
                Direction::Downstream,
                11,
                false,
                true,
                &mut Cancel::never()
            ),
            Err(GraphError::Invalid(_))
        ));
        assert!(matches!(
            traverse(
                &g,
                0,
                Direction::Downstream,
                0,
                false,
                true,
                &mut Cancel::never()
            ),
            Err(GraphError::Invalid(_))
        ));
        let r = traverse(
            &g,
            0,
            Direction::Downstream,
            1,
            false,
            true,
            &mut Cancel::never(),
        )
        .unwrap();
        assert_eq!(r.len(), 1);
        let r = traverse(
            &g,
            2,
            Direction::Upstream,
            10,
            false,
            true,
            &mut Cancel::never(),
        )
        .unwrap();
        assert_eq!(
            r.iter().map(|x| (x.node, x.depth)).collect::<Vec<_>>(),
            vec![(1, 1), (0, 2)]
        );
        assert_eq!(r[1].path, vec![2, 1, 0]);
        assert!(Direction::parse("sideways").is_err());
    }

    #[test]
    fn cycle_safe_and_shortest_depth() {
        // 0 -> 1 -> 2 -> 0, and 0 -> 2 directly.
        let g = graph(3, &[(0, 1), (1, 2), (2, 0), (0, 2)]);
        let r = traverse(
            &g,
            0,
            Direction::Downstream,
            10,
            false,
            true,
            &mut Cancel::never(),
        )
        .unwrap();
        let depths: HashMap<u32, u32> = r.iter().map(|x| (x.node, x.depth)).collect();
        assert_eq!(depths.len(), 2);
        assert_eq!(depths[&2], 1);
    }

    #[test]
    fn stale_and_external_flags() {
        let mut services: Vec<Service> = (0..3).map(|i| svc(&format!("s{i:02}"), None)).collect();
        services[2].kind = Kind::External;
        let mut stale = obs("s00", "s01");
        stale.stale = true;
        let g = Graph::build(services, &[stale, obs("s00", "s02")]);
        let r = traverse(
            &g,
            0,
            Direction::Downstream,
            3,
            false,
            true,
            &mut Cancel::never(),
        )
        .unwrap();
        assert_eq!(r.iter().map(|x| x.node).collect::<Vec<_>>(), vec![2]);
        let r = traverse(
            &g,
            0,
            Direction::Downstream,
            3,
            true,
            false,
            &mut Cancel::never(),
        )
        .unwrap();
        assert_eq!(r.iter().map(|x| x.node).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn cycles_with_paths() {
        let g = graph(6, &[(0, 1), (1, 2), (2, 0), (3, 3), (4, 5)]);
        let c = cycles(&g, &mut Cancel::never()).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].members, vec![0, 1, 2]);
        assert_eq!(c[0].path, vec![0, 1, 2, 0]);
        assert_eq!(c[1].members, vec![3]);
        assert_eq!(c[1].path, vec![3, 3]);
    }

    fn brute_bfs(
        n: usize,
        edges: &[(usize, usize)],
        start: usize,
        depth: u32,
    ) -> HashMap<usize, u32> {
        let mut dist = HashMap::new();
        let mut q = VecDeque::from([(start, 0u32)]);
        let mut seen = HashSet::from([start]);
        while let Some((u, d)) = q.pop_front() {
            if d == depth {
                continue;
            }
            for &(a, b) in edges {
                if a == u && b < n && seen.insert(b) {
                    dist.insert(b, d + 1);
                    q.push_back((b, d + 1));
                }
            }
        }
        dist
    }

    fn reach_matrix(n: usize, edges: &[(usize, usize)]) -> Vec<Vec<bool>> {
        let mut r = vec![vec![false; n]; n];
        for &(a, b) in edges {
            r[a][b] = true;
        }
        for k in 0..n {
            for i in 0..n {
                for j in 0..n {
                    if r[i][k] && r[k][j] {
                        r[i][j] = true;
                    }
                }
            }
        }
        r
    }

    fn edges_strategy() -> impl Strategy<Value = (usize, Vec<(usize, usize)>)> {
        (2usize..14).prop_flat_map(|n| (Just(n), proptest::collection::vec((0..n, 0..n), 0..40)))
    }

    /// (source, target, discovery source, stale, async) over `n` services.
    type ObsSpec = (usize, usize, usize, bool, bool);

    fn spec_obs(&(a, b, src, stale, is_async): &ObsSpec) -> EdgeObservation {
        let mut o = obs(&format!("s{a:02}"), &format!("s{b:02}"));
        o.discovery = [
            DiscoverySource::Manual,
            DiscoverySource::ServiceMesh,
            DiscoverySource::OtelServiceGraph,
            DiscoverySource::Kubernetes,
        ][src % 4];
        o.stale = stale;
        if is_async {
            o.mode = Mode::Async;
        }
        o
    }

    /// One observation per (source, target, discovery source), as the table's key has it.
    fn dedup(specs: Vec<ObsSpec>) -> Vec<EdgeObservation> {
        let mut seen = HashSet::new();
        specs
            .iter()
            .filter(|s| seen.insert((s.0, s.1, s.2 % 4)))
            .map(spec_obs)
            .collect()
    }

    fn delta_strategy(
    ) -> impl Strategy<Value = (usize, usize, Vec<ObsSpec>, Vec<bool>, Vec<ObsSpec>)> {
        (2usize..12, 0usize..3).prop_flat_map(|(n, extra)| {
            let m = n + extra;
            (
                Just(n),
                Just(extra),
                proptest::collection::vec(
                    (0..n, 0..n, 0usize..4, any::<bool>(), any::<bool>()),
                    0..36,
                ),
                proptest::collection::vec(any::<bool>(), 36),
                proptest::collection::vec(
                    (0..m, 0..m, 0usize..4, any::<bool>(), any::<bool>()),
                    0..6,
                ),
            )
        })
    }

    proptest! {
        #[test]
        fn traversal_equals_brute_force_bfs((n, edges) in edges_strategy(), start_seed in 0usize..100, depth in 1u32..=10) {
            let g = graph(n, &edges);
            let start = start_seed % n;
            let got: HashMap<usize, u32> = traverse(&g, start as u32, Direction::Downstream, depth, false, true, &mut Cancel::never())
                .unwrap().into_iter().map(|r| (r.node as usize, r.depth)).collect();
            let want = brute_bfs(n, &edges, start, depth);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn paths_follow_edges((n, edges) in edges_strategy(), start_seed in 0usize..100) {
            let g = graph(n, &edges);
            let start = (start_seed % n) as u32;
            let set: HashSet<(usize, usize)> = edges.iter().copied().collect();
            for r in traverse(&g, start, Direction::Downstream, 10, false, true, &mut Cancel::never()).unwrap() {
                prop_assert_eq!(r.path.len() as u32, r.depth + 1);
                prop_assert_eq!(r.path[0], start);
                for w in r.path.windows(2) {
                    prop_assert!(set.contains(&(w[0] as usize, w[1] as usize)));
                }
            }
        }

        #[test]
        fn scc_equals_reachability((n, edges) in edges_strategy()) {
            let g = graph(n, &edges);
            let r = reach_matrix(n, &edges);
            let mut want: Vec<Vec<u32>> = Vec::new();
            let mut assigned = vec![false; n];
            for i in 0..n {
                if assigned[i] { continue; }
                let comp: Vec<u32> = (0..n).filter(|&j| j == i || (r[i][j] && r[j][i])).map(|j| j as u32).collect();
                for &j in &comp { assigned[j as usize] = true; }
                if comp.len() > 1 || r[i][i] && edges.contains(&(i, i)) {
                    want.push(comp);
                }
            }
            // A single node on a longer cycle is in a 2+ component; a lone node counts only with a self loop.
            want.retain(|c| c.len() > 1 || edges.contains(&(c[0] as usize, c[0] as usize)));
            want.sort();
            let mut got: Vec<Vec<u32>> = cycles(&g, &mut Cancel::never()).unwrap().into_iter().map(|c| c.members).collect();
            got.sort();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn cycle_paths_are_closed_walks_over_members((n, edges) in edges_strategy()) {
            let g = graph(n, &edges);
            let set: HashSet<(usize, usize)> = edges.iter().copied().collect();
            for c in cycles(&g, &mut Cancel::never()).unwrap() {
                prop_assert_eq!(c.path.first(), c.path.last());
                let on: HashSet<u32> = c.path.iter().copied().collect();
                let members: HashSet<u32> = c.members.iter().copied().collect();
                prop_assert_eq!(on, members);
                for w in c.path.windows(2) {
                    prop_assert!(set.contains(&(w[0] as usize, w[1] as usize)));
                }
            }
        }
    }

    proptest! {
        /// A delta applied in place gives the graph a fresh build gives, and the cycles
        /// upkept from the change equal the cycles computed from scratch.
        #[test]
        fn delta_equals_rebuild((n, extra, before, keep, added) in delta_strategy(), bump in 0usize..12) {
            let services = |m: usize| -> Vec<Service> {
                (0..m).map(|i| svc(&format!("s{i:02}"), Some(0.99 + (i % 3) as f64 / 1000.0))).collect()
            };
            let old = dedup(before.clone());
            let mut now_specs: Vec<ObsSpec> = before.iter().zip(keep.iter()).filter(|(_, k)| **k).map(|(s, _)| *s).collect();
            // Added observations go first so they win the dedup (a changed attribute).
            let mut specs = added.clone();
            specs.append(&mut now_specs);
            let now = dedup(specs);
            let mut g = Graph::build(services(n), &old);
            let old_cycles = cycles(&g, &mut Cancel::never()).unwrap();
            let mut all = services(n + extra);
            if bump < n {
                all[bump].availability = Some(0.5);
            }
            // The pairs whose observations differ, each with its observations now.
            let key = |o: &EdgeObservation| (o.source.clone(), o.target.clone());
            let mut pairs: Vec<(String, String)> = old.iter().chain(now.iter()).map(key).collect();
            pairs.sort();
            pairs.dedup();
            let mut delta = GraphDelta { services: all[n..].to_vec(), pairs: Vec::new() };
            if bump < n {
                delta.services.push(all[bump].clone());
            }
            for (s, t) in pairs {
                let of = |list: &[EdgeObservation]| -> Vec<EdgeObservation> {
                    let mut v: Vec<_> = list.iter().filter(|o| o.source == s && o.target == t).cloned().collect();
                    v.sort_by_key(|o| o.discovery);
                    v
                };
                let (a, b) = (of(&old), of(&now));
                if a != b {
                    delta.pairs.push((s, t, b));
                }
            }
            let changes = g.apply(&delta);
            let fresh = Graph::build(all, &now);
            prop_assert_eq!(g.services(), fresh.services());
            prop_assert_eq!(g.edges(), fresh.edges());
            for i in 0..fresh.len() as u32 {
                prop_assert_eq!(g.out_edges(i), fresh.out_edges(i));
                prop_assert_eq!(g.in_edges(i), fresh.in_edges(i));
            }
            prop_assert_eq!(g.required_components().of.clone(), fresh.required_components().of.clone());
            let (t, ft) = (g.topology().unwrap(), fresh.topology().unwrap());
            for i in 0..fresh.len() as u32 {
                prop_assert_eq!(t.out_neighbors(i), ft.out_neighbors(i));
            }
            let upkept = update_cycles(&g, &old_cycles, &changes, &mut Cancel::never()).unwrap();
            prop_assert_eq!(upkept, cycles(&fresh, &mut Cancel::never()).unwrap());
        }
    }
}
