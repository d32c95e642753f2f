//! petgraph's view of a [`Graph`]: petgraph's visit traits implemented over idgraph's own
//! CSR adjacency (nothing is copied), for the effective edges a filter keeps, optionally
//! from a subset of the nodes. petgraph's algorithms then run on the cached graph itself.
//!
//! Which of them idgraph uses, and why: the components of the required-edge graph and of
//! the live graph (the cycles) come from petgraph's Kosaraju, which walks with explicit
//! stacks. petgraph's Tarjan is recursive, one frame per node on the deepest path: a chain
//! of 100,000 services would overrun a PostgreSQL backend's stack, so it is not used.
//!
//! The walk is cancellable although petgraph's loops are not: each adjacency list that
//! petgraph asks for is first reported to the caller's check ([`View::poll`]); once the
//! check refuses, every later list is empty, so the algorithm finishes in one pass over
//! the nodes it still holds, and [`View::finish`] hands the refusal back instead of the
//! (incomplete) answer.

use std::cell::RefCell;
use std::ops::Range;

use fixedbitset::FixedBitSet;
use petgraph::visit::{
    GraphBase, GraphRef, IntoNeighbors, IntoNeighborsDirected, IntoNodeIdentifiers, NodeCount,
    NodeIndexable, Visitable,
};
use petgraph::Direction;

use super::model::Graph;

/// A check told the work done (one unit per adjacency entry) that may stop the walk.
type Poll<'a, E> = &'a mut dyn FnMut(usize) -> Result<(), E>;

/// The graph as petgraph sees it: nodes are `g`'s indices, an edge is an effective edge
/// `keep` accepts (by its index in [`Graph::edges`]).
pub(crate) struct View<'a, K, E> {
    g: &'a Graph,
    keep: K,
    /// The nodes petgraph starts from; `None`: every node.
    roots: Option<&'a [u32]>,
    poll: RefCell<Poll<'a, E>>,
    refused: RefCell<Option<E>>,
}

impl<'a, K: Fn(u32) -> bool, E> View<'a, K, E> {
    pub(crate) fn new(g: &'a Graph, keep: K, roots: Option<&'a [u32]>, poll: Poll<'a, E>) -> Self {
        Self {
            g,
            keep,
            roots,
            poll: RefCell::new(poll),
            refused: RefCell::new(None),
        }
    }

    /// The answer of the algorithm run over this view, or the check's refusal.
    pub(crate) fn finish<T>(self, answer: T) -> Result<T, E> {
        match self.refused.into_inner() {
            Some(e) => Err(e),
            None => Ok(answer),
        }
    }

    /// Reports `work` to the check; false once the check refused (now or before).
    fn poll(&self, work: usize) -> bool {
        let mut refused = self.refused.borrow_mut();
        if refused.is_some() {
            return false;
        }
        let result = match self.poll.try_borrow_mut() {
            Ok(mut poll) => (*poll)(work),
            // Not reentrant: petgraph asks for one list at a time.
            Err(_) => return true,
        };
        match result {
            Ok(()) => true,
            Err(e) => {
                *refused = Some(e);
                false
            }
        }
    }
}

/// The kept neighbours of a node, in one direction.
pub(crate) struct Neighbors<'b, K> {
    g: &'b Graph,
    keep: &'b K,
    edges: std::slice::Iter<'b, u32>,
    incoming: bool,
}

impl<K: Fn(u32) -> bool> Iterator for Neighbors<'_, K> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        for &e in self.edges.by_ref() {
            if (self.keep)(e) {
                let edge = self.g.edge(e);
                return Some(if self.incoming { edge.from } else { edge.to });
            }
        }
        None
    }
}

/// The nodes petgraph starts from.
pub(crate) enum Roots<'b> {
    All(Range<u32>),
    Some(std::iter::Copied<std::slice::Iter<'b, u32>>),
}

impl Iterator for Roots<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        match self {
            Roots::All(r) => r.next(),
            Roots::Some(s) => s.next(),
        }
    }
}

impl<K, E> GraphBase for &View<'_, K, E> {
    type NodeId = u32;
    type EdgeId = u32;
}

impl<K, E> GraphRef for &View<'_, K, E> {}

impl<'b, K: Fn(u32) -> bool, E> IntoNeighbors for &'b View<'_, K, E> {
    type Neighbors = Neighbors<'b, K>;

    fn neighbors(self, a: u32) -> Self::Neighbors {
        self.neighbors_directed(a, Direction::Outgoing)
    }
}

impl<'b, K: Fn(u32) -> bool, E> IntoNeighborsDirected for &'b View<'_, K, E> {
    type NeighborsDirected = Neighbors<'b, K>;

    fn neighbors_directed(self, n: u32, d: Direction) -> Self::NeighborsDirected {
        let incoming = d == Direction::Incoming;
        let list = if incoming {
            self.g.in_edges(n)
        } else {
            self.g.out_edges(n)
        };
        let list = if self.poll(1 + list.len()) { list } else { &[] };
        Neighbors {
            g: self.g,
            keep: &self.keep,
            edges: list.iter(),
            incoming,
        }
    }
}

impl<'b, K, E> IntoNodeIdentifiers for &'b View<'_, K, E> {
    type NodeIdentifiers = Roots<'b>;

    fn node_identifiers(self) -> Self::NodeIdentifiers {
        match self.roots {
            None => Roots::All(0..self.g.len() as u32),
            Some(r) => Roots::Some(r.iter().copied()),
        }
    }
}

impl<K, E> NodeIndexable for &View<'_, K, E> {
    fn node_bound(&self) -> usize {
        self.g.len()
    }

    fn to_index(&self, a: u32) -> usize {
        a as usize
    }

    fn from_index(&self, i: usize) -> u32 {
        i as u32
    }
}

impl<K, E> NodeCount for &View<'_, K, E> {
    fn node_count(&self) -> usize {
        self.g.len()
    }
}

impl<K, E> Visitable for &View<'_, K, E> {
    type Map = FixedBitSet;

    fn visit_map(&self) -> FixedBitSet {
        FixedBitSet::with_capacity(self.g.len())
    }

    fn reset_map(&self, map: &mut FixedBitSet) {
        map.clear();
        map.grow(self.g.len());
    }
}

/// Strongly connected components over the edges `keep` accepts, from `roots` (every node
/// when `None`): petgraph's Kosaraju over the CSR view. Components come in reverse
/// topological order (a component after every component it reaches), as Tarjan's would.
/// `poll` is told the work done and stops the walk with its error.
pub(crate) fn components<E>(
    g: &Graph,
    keep: impl Fn(u32) -> bool,
    roots: Option<&[u32]>,
    poll: Poll<'_, E>,
) -> Result<Vec<Vec<u32>>, E> {
    let view = View::new(g, keep, roots, poll);
    let comps = petgraph::algo::kosaraju_scc(&view);
    view.finish(comps)
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::graph;
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::convert::Infallible;

    fn all(g: &Graph) -> Vec<Vec<u32>> {
        let Ok(c) = components(g, |_| true, None, &mut |_| Ok::<(), Infallible>(()));
        c
    }

    fn as_sets(comps: &[Vec<u32>]) -> BTreeSet<BTreeSet<u32>> {
        comps.iter().map(|c| c.iter().copied().collect()).collect()
    }

    #[test]
    fn a_cycle_of_200k_services_fits_a_small_stack() {
        // One component through every node: a recursive Tarjan would need a frame per
        // node. Run on a thread with a 256 KiB stack (a backend has 2 MB by default).
        let n = 200_000;
        let edges: Vec<(usize, usize)> = (0..n).map(|i| (i, (i + 1) % n)).collect();
        let g = graph(n, &edges);
        let sizes = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || all(&g).iter().map(Vec::len).collect::<Vec<_>>())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(sizes, vec![n]);
    }

    #[test]
    fn the_walk_stops_when_the_check_refuses() {
        let edges: Vec<(usize, usize)> = (0..20_000).map(|i| (i, i + 1)).collect();
        let g = graph(20_001, &edges);
        let mut calls = 0;
        let got = components(&g, |_| true, None, &mut |_| {
            calls += 1;
            if calls >= 3 {
                Err("stop")
            } else {
                Ok(())
            }
        });
        assert_eq!(got, Err("stop"));
        assert_eq!(calls, 3, "the check is not asked again once it refused");
    }

    proptest! {
        #[test]
        fn components_equal_petgraphs_own_graph_and_come_in_reverse_topological_order(
            (n, edges) in (1usize..30).prop_flat_map(|n| (Just(n), proptest::collection::vec((0..n, 0..n), 0..80))),
            keep_seed in any::<u64>(),
        ) {
            let g = graph(n, &edges);
            // Keep a pseudo-random subset of the effective edges.
            let keep = |e: u32| (keep_seed >> (e % 64)) & 1 == 1;
            let Ok(got) = components(&g, keep, None, &mut |_| Ok::<(), Infallible>(()));
            let mut pg = petgraph::Graph::<(), ()>::new();
            let nodes: Vec<_> = (0..n).map(|_| pg.add_node(())).collect();
            for (e, edge) in g.edges().iter().enumerate() {
                if keep(e as u32) {
                    pg.add_edge(nodes[edge.from as usize], nodes[edge.to as usize], ());
                }
            }
            let want: Vec<Vec<u32>> = petgraph::algo::tarjan_scc(&pg)
                .into_iter()
                .map(|c| c.into_iter().map(|x| x.index() as u32).collect())
                .collect();
            prop_assert_eq!(as_sets(&got), as_sets(&want));
            let mut comp_of = vec![usize::MAX; n];
            for (c, members) in got.iter().enumerate() {
                for &m in members {
                    comp_of[m as usize] = c;
                }
            }
            for (e, edge) in g.edges().iter().enumerate() {
                let (cu, cv) = (comp_of[edge.from as usize], comp_of[edge.to as usize]);
                if keep(e as u32) && cu != cv {
                    prop_assert!(cu > cv, "a component comes after every component it reaches");
                }
            }
        }
    }
}
