//! Graph model: services, effective edges, CSR adjacency.

use std::collections::HashMap;

use thiserror::Error;

/// Errors of graph queries. The pgrx layer maps them to SQLSTATEs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GraphError {
    /// Unknown service (P0002).
    #[error("service '{0}' does not exist")]
    NotFound(String),
    /// A parameter out of range (22023).
    #[error("{0}")]
    Invalid(String),
    /// The caller's cancellation check stopped the computation (57014).
    #[error("{0}")]
    Canceled(#[from] crate::cancel::Canceled),
}

/// The graph's vocabularies, each declared once: its SQL spelling (`snake_case` of the
/// variant), the list of allowed values ([`strum::VariantArray::VARIANTS`], in declaration
/// order) and parsing come from the one enum. The SQL side (CHECK constraints,
/// `idgraph.discovery_priority`) is checked against these lists
/// (`itests/tests/graph_rules.rs`).
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($variant:ident),+ $(,)? } $($derive:ident),*) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize,
            strum::EnumString, strum::IntoStaticStr, strum::VariantArray $(, $derive)*
        )]
        #[strum(serialize_all = "snake_case")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// The value of this SQL spelling, or `None`.
            pub fn parse(s: &str) -> Option<Self> {
                s.parse().ok()
            }

            /// The SQL spelling.
            pub fn as_str(self) -> &'static str {
                self.into()
            }

            /// Every SQL spelling, in declaration order.
            pub fn names() -> impl Iterator<Item = &'static str> {
                <Self as strum::VariantArray>::VARIANTS.iter().map(|v| v.as_str())
            }
        }
    };
}

vocabulary! {
    /// Internal service or an external (third-party) one.
    Kind { Internal, External }
}

vocabulary! {
    /// How a service calls a dependency.
    Mode { Sync, Async }
}

vocabulary! {
    /// What a failing dependency does to its caller.
    Criticality { Hard, Soft, Degraded }
}

vocabulary! {
    /// Where an edge was observed. Declaration order is priority order: `Manual` wins
    /// (priority 1, [`DiscoverySource::priority`]).
    DiscoverySource { Manual, ServiceMesh, OtelServiceGraph, Kubernetes } PartialOrd, Ord, Hash
}

impl DiscoverySource {
    /// 1 for the most trusted source, as `idgraph.discovery_priority` answers.
    pub fn priority(self) -> i32 {
        self as i32 + 1
    }
}

/// A service as the algorithms see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Service {
    pub id: String,
    pub kind: Kind,
    /// Observed availability, a fraction.
    pub availability: Option<f64>,
    /// Published SLA (external services), a fraction.
    pub published_sla: Option<f64>,
}

/// One discovery source's observation of a dependency `source -> target`.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeObservation {
    pub source: String,
    pub target: String,
    pub discovery: DiscoverySource,
    pub mode: Mode,
    pub criticality: Criticality,
    pub redundancy_group: Option<String>,
    pub stale: bool,
}

/// The effective edge of a pair: the freshest, highest-priority observation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Edge {
    pub from: u32,
    pub to: u32,
    pub discovery: DiscoverySource,
    pub mode: Mode,
    pub criticality: Criticality,
    pub redundancy_group: Option<String>,
    /// True only when every source's observation of the pair is stale.
    pub stale: bool,
}

impl EdgeObservation {
    /// Whether this observation of a pair wins over `other`: a fresh observation beats
    /// a stale one, then the discovery-source priority decides.
    pub fn beats(&self, other: &EdgeObservation) -> bool {
        (self.stale, self.discovery) < (other.stale, other.discovery)
    }
}

/// A change to apply to a built graph (see [`Graph::apply`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphDelta {
    /// Services as they are now (updated by id, or new).
    pub services: Vec<Service>,
    /// Pairs `(source, target)` with every observation of the pair as it is now; an
    /// empty list removes the pair.
    pub pairs: Vec<(String, String, Vec<EdgeObservation>)>,
}

/// The effective edge of a pair before and after [`Graph::apply`] (`None`: no edge).
#[derive(Debug, Clone, PartialEq)]
pub struct PairChange {
    pub from: u32,
    pub to: u32,
    pub before: Option<Edge>,
    pub now: Option<Edge>,
}

impl Edge {
    fn effective(from: u32, to: u32, o: &EdgeObservation) -> Self {
        Edge {
            from,
            to,
            discovery: o.discovery,
            mode: o.mode,
            criticality: o.criticality,
            redundancy_group: o.redundancy_group.clone(),
            stale: o.stale,
        }
    }

    /// Only sync + hard edges are serial requirements.
    pub fn is_required(&self) -> bool {
        self.mode == Mode::Sync && self.criticality == Criticality::Hard
    }
}

/// The graph: services, effective edges, forward and reverse CSR adjacency.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    services: Vec<Service>,
    index: HashMap<String, u32>,
    edges: Vec<Edge>,
    out_offsets: Vec<u32>,
    out_edges: Vec<u32>,
    in_offsets: Vec<u32>,
    in_edges: Vec<u32>,
    /// Component of each node in the graph of required (sync + hard, fresh) edges,
    /// computed on first use.
    required_components: std::sync::OnceLock<Components>,
    /// The fresh topology as centrality sees it (distinct pairs, no self loops), built
    /// from this graph on first use.
    topology:
        std::sync::OnceLock<Result<crate::centrality::Csr, crate::centrality::CentralityError>>,
}

/// Heap bytes of a graph: the part that grows with the services and the part that grows
/// with the edges ([`Graph::heap_bytes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeapBytes {
    pub services: usize,
    pub edges: usize,
}

/// Strongly connected components: the component of each node and each component's members.
#[derive(Debug, Clone, Default)]
pub struct Components {
    pub of: Vec<u32>,
    pub members: Vec<Vec<u32>>,
    /// Whether the component is a cycle (2+ members or a self loop).
    pub cyclic: Vec<bool>,
}

impl Graph {
    /// Builds the graph. Observations naming unknown services are ignored (the database's
    /// foreign keys make that impossible there); several observations of one pair are
    /// resolved to one effective edge: a fresh observation beats a stale one, then the
    /// discovery-source priority decides.
    pub fn build(services: Vec<Service>, observations: &[EdgeObservation]) -> Self {
        let index: HashMap<String, u32> = services
            .iter()
            .enumerate()
            .filter_map(|(i, s)| u32::try_from(i).ok().map(|i| (s.id.clone(), i)))
            .collect();
        let mut best: HashMap<(u32, u32), &EdgeObservation> = HashMap::new();
        for o in observations {
            let (Some(&f), Some(&t)) = (index.get(&o.source), index.get(&o.target)) else {
                continue;
            };
            best.entry((f, t))
                .and_modify(|cur| {
                    if o.beats(cur) {
                        *cur = o;
                    }
                })
                .or_insert(o);
        }
        let mut edges: Vec<Edge> = best
            .into_iter()
            .map(|((from, to), o)| Edge::effective(from, to, o))
            .collect();
        edges.sort_by_key(|e| (e.from, e.to));
        let mut g = Self {
            services,
            index,
            edges,
            ..Self::default()
        };
        g.reindex();
        g
    }

    /// The graph from its services and effective edges as [`Graph::edges`] lists them (a
    /// copy kept elsewhere, e.g. the cache file of the pgrx layer). Checked, not trusted:
    /// edges must name services in range and come sorted by (from, to) without duplicates,
    /// and service ids must be distinct.
    pub fn from_parts(services: Vec<Service>, edges: Vec<Edge>) -> Result<Self, GraphError> {
        let n = services.len();
        let bad = |what: &str| {
            Err(GraphError::Invalid(format!(
                "a stored graph is inconsistent: {what}"
            )))
        };
        if u32::try_from(n).is_err() {
            return bad("too many services");
        }
        if edges
            .iter()
            .any(|e| e.from as usize >= n || e.to as usize >= n)
        {
            return bad("an edge names a service out of range");
        }
        if edges
            .windows(2)
            .any(|w| (w[0].from, w[0].to) >= (w[1].from, w[1].to))
        {
            return bad("edges are not sorted by (from, to) or repeat a pair");
        }
        let index: HashMap<String, u32> = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i as u32))
            .collect();
        if index.len() != n {
            return bad("a service id repeats");
        }
        let mut g = Self {
            services,
            index,
            edges,
            ..Self::default()
        };
        g.reindex();
        Ok(g)
    }

    /// Recomputes both CSR adjacencies from `edges` (sorted by (from, to)) and forgets
    /// the cached required components.
    fn reindex(&mut self) {
        let n = self.services.len();
        let (out_offsets, out_edges) = csr(n, self.edges.iter().map(|e| e.from));
        let (in_offsets, in_edges) = csr(n, self.edges.iter().map(|e| e.to));
        self.out_offsets = out_offsets;
        self.out_edges = out_edges;
        self.in_offsets = in_offsets;
        self.in_edges = in_edges;
        self.required_components = std::sync::OnceLock::new();
        self.topology = std::sync::OnceLock::new();
    }

    /// Applies a change in place: the graph becomes what [`Graph::build`] makes of the
    /// changed rows, without rebuilding what the change does not touch. Services are
    /// updated by id or appended (appending keeps a fresh build's order when new
    /// services come last, as new keys do); each listed pair gets the effective edge of
    /// its observations (none: the pair is gone). Observations naming an unknown service
    /// are ignored, as in `build`. Removing a service is not a delta: rebuild instead.
    /// Returns, for every pair whose effective edge changed, what it was and is now.
    pub fn apply(&mut self, delta: &GraphDelta) -> Vec<PairChange> {
        let mut structural = false;
        for s in &delta.services {
            match self.index.get(&s.id) {
                Some(&i) => self.services[i as usize] = s.clone(),
                None => {
                    let Ok(i) = u32::try_from(self.services.len()) else {
                        continue;
                    };
                    self.index.insert(s.id.clone(), i);
                    self.services.push(s.clone());
                    structural = true;
                }
            }
        }
        let mut changes = Vec::new();
        let mut removed = false;
        let mut inserted = Vec::new();
        for (source, target, observations) in &delta.pairs {
            let (Some(&from), Some(&to)) = (self.index.get(source), self.index.get(target)) else {
                continue;
            };
            let best = observations
                .iter()
                .filter(|o| &o.source == source && &o.target == target)
                .fold(None::<&EdgeObservation>, |cur, o| match cur {
                    Some(c) if !o.beats(c) => Some(c),
                    _ => Some(o),
                });
            let now = best.map(|o| Edge::effective(from, to, o));
            let at = self
                .edges
                .binary_search_by_key(&(from, to), |e| (e.from, e.to));
            let before = match (at, now.clone()) {
                (Ok(i), Some(e)) => Some(std::mem::replace(&mut self.edges[i], e)),
                (Ok(i), None) => {
                    // Marked for removal below (indices stay valid until then).
                    removed = true;
                    Some(self.edges[i].clone())
                }
                (Err(_), Some(e)) => {
                    inserted.push(e);
                    None
                }
                (Err(_), None) => None,
            };
            if before != now {
                changes.push(PairChange {
                    from,
                    to,
                    before,
                    now,
                });
            }
        }
        if removed {
            let gone: std::collections::HashSet<(u32, u32)> = changes
                .iter()
                .filter(|c| c.now.is_none())
                .map(|c| (c.from, c.to))
                .collect();
            self.edges.retain(|e| !gone.contains(&(e.from, e.to)));
        }
        if !inserted.is_empty() {
            self.edges.extend(inserted);
            self.edges.sort_by_key(|e| (e.from, e.to));
        }
        if structural || removed || changes.iter().any(|c| c.before.is_none()) {
            self.reindex();
        } else if !changes.is_empty() {
            // Same pairs, other attributes: the adjacency stands, the required
            // components and the fresh topology may not.
            self.required_components = std::sync::OnceLock::new();
            self.topology = std::sync::OnceLock::new();
        }
        changes
    }

    /// The fresh topology over the same node indices: every pair with a fresh effective
    /// edge (at least one source's observation not stale), self loops dropped — the graph
    /// centrality measures. Built from this graph once, on first use; the one builder of
    /// the centrality CSR from the model.
    pub fn topology(&self) -> Result<&crate::centrality::Csr, crate::centrality::CentralityError> {
        self.topology
            .get_or_init(|| {
                let pairs: Vec<(u32, u32)> = self
                    .edges
                    .iter()
                    .filter(|e| !e.stale)
                    .map(|e| (e.from, e.to))
                    .collect();
                crate::centrality::Csr::from_edges(self.len(), &pairs)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Bytes this graph holds on the heap, split into what grows with the services
    /// (services with their ids, the id index, the adjacency offsets, the required-edge
    /// components) and what grows with the edges (the effective edges with their
    /// redundancy groups, the adjacency lists), the lazily built centrality topology
    /// included once built. Capacities, not lengths; a hash map counts its buckets at
    /// key + value + one control byte each (hashbrown's layout), a close lower bound.
    pub fn heap_bytes(&self) -> HeapBytes {
        use std::mem::size_of;
        let u = size_of::<u32>();
        let strings: usize = self.services.iter().map(|s| s.id.capacity()).sum();
        let services = self.services.capacity() * size_of::<Service>() + strings;
        let index = self.index.capacity() * (size_of::<String>() + u + 1)
            + self.index.keys().map(|k| k.capacity()).sum::<usize>();
        let groups: usize = self
            .edges
            .iter()
            .filter_map(|e| e.redundancy_group.as_ref())
            .map(|g| g.capacity())
            .sum();
        let edges = self.edges.capacity() * size_of::<Edge>() + groups;
        let offsets = (self.out_offsets.capacity() + self.in_offsets.capacity()) * u;
        let lists = (self.out_edges.capacity() + self.in_edges.capacity()) * u;
        let components = self.required_components.get().map_or(0, |c| {
            (c.of.capacity() + c.members.iter().map(Vec::capacity).sum::<usize>()) * u
                + c.members.capacity() * size_of::<Vec<u32>>()
                + c.cyclic.capacity()
        });
        let (t_nodes, t_edges) = match self.topology.get() {
            Some(Ok(t)) => t.heap_bytes(),
            _ => (0, 0),
        };
        HeapBytes {
            services: services + index + offsets + components + t_nodes,
            edges: edges + lists + t_edges,
        }
    }

    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    pub fn service(&self, i: u32) -> &Service {
        &self.services[i as usize]
    }

    pub fn id(&self, i: u32) -> &str {
        &self.services[i as usize].id
    }

    pub fn edge(&self, e: u32) -> &Edge {
        &self.edges[e as usize]
    }

    /// The index of a service id.
    pub fn lookup(&self, id: &str) -> Result<u32, GraphError> {
        self.index
            .get(id)
            .copied()
            .ok_or_else(|| GraphError::NotFound(id.to_owned()))
    }

    /// Components of the required-edge graph (sync + hard, not stale).
    pub fn required_components(&self) -> &Components {
        self.required_components.get_or_init(|| {
            // Linear in the graph and computed once per cached graph; a lazily initialised
            // value cannot stop halfway, so this pass is the one that is not polled.
            let Ok(comps) = super::view::components(
                self,
                |e| {
                    let edge = self.edge(e);
                    edge.is_required() && !edge.stale
                },
                None,
                &mut |_| Ok::<(), std::convert::Infallible>(()),
            );
            let mut of = vec![0u32; self.len()];
            let mut cyclic = Vec::with_capacity(comps.len());
            for (c, members) in comps.iter().enumerate() {
                for &m in members {
                    of[m as usize] = c as u32;
                }
                let self_loop = members.len() == 1
                    && self.out_edges(members[0]).iter().any(|&e| {
                        let edge = self.edge(e);
                        edge.to == members[0] && edge.is_required() && !edge.stale
                    });
                cyclic.push(members.len() > 1 || self_loop);
            }
            Components {
                of,
                members: comps,
                cyclic,
            }
        })
    }

    /// Effective out-edges of a node (indices into [`Graph::edges`]).
    pub fn out_edges(&self, i: u32) -> &[u32] {
        let (a, b) = (
            self.out_offsets[i as usize],
            self.out_offsets[i as usize + 1],
        );
        &self.out_edges[a as usize..b as usize]
    }

    /// Effective in-edges of a node.
    pub fn in_edges(&self, i: u32) -> &[u32] {
        let (a, b) = (self.in_offsets[i as usize], self.in_offsets[i as usize + 1]);
        &self.in_edges[a as usize..b as usize]
    }
}

/// CSR over edge indices grouped by a key (the edge's source or target).
fn csr(n: usize, keys: impl Iterator<Item = u32> + Clone) -> (Vec<u32>, Vec<u32>) {
    let mut offsets = vec![0u32; n + 1];
    for k in keys.clone() {
        offsets[k as usize + 1] += 1;
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    let mut fill = offsets.clone();
    let mut items = vec![0u32; offsets[n] as usize];
    for (e, k) in keys.enumerate() {
        let slot = &mut fill[k as usize];
        items[*slot as usize] = e as u32;
        *slot += 1;
    }
    (offsets, items)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn svc(id: &str, a: Option<f64>) -> Service {
        Service {
            id: id.into(),
            kind: Kind::Internal,
            availability: a,
            published_sla: None,
        }
    }

    pub fn obs(s: &str, t: &str) -> EdgeObservation {
        EdgeObservation {
            source: s.into(),
            target: t.into(),
            discovery: DiscoverySource::Manual,
            mode: Mode::Sync,
            criticality: Criticality::Hard,
            redundancy_group: None,
            stale: false,
        }
    }

    /// `n` services `s00`, `s01`, … and a fresh manual sync/hard edge per pair of `edges`.
    pub fn graph(n: usize, edges: &[(usize, usize)]) -> Graph {
        let services: Vec<Service> = (0..n)
            .map(|i| svc(&format!("s{i:02}"), Some(0.999)))
            .collect();
        let o: Vec<_> = edges
            .iter()
            .map(|&(a, b)| obs(&format!("s{a:02}"), &format!("s{b:02}")))
            .collect();
        Graph::build(services, &o)
    }

    #[test]
    fn vocabularies_round_trip_their_sql_names() {
        assert_eq!(
            DiscoverySource::names().collect::<Vec<_>>(),
            ["manual", "service_mesh", "otel_service_graph", "kubernetes"]
        );
        assert_eq!(Mode::names().collect::<Vec<_>>(), ["sync", "async"]);
        assert_eq!(
            Criticality::names().collect::<Vec<_>>(),
            ["hard", "soft", "degraded"]
        );
        assert_eq!(Kind::names().collect::<Vec<_>>(), ["internal", "external"]);
        for name in DiscoverySource::names() {
            assert_eq!(
                DiscoverySource::parse(name).map(DiscoverySource::as_str),
                Some(name)
            );
        }
        assert_eq!(DiscoverySource::Manual.priority(), 1);
        assert_eq!(DiscoverySource::Kubernetes.priority(), 4);
        // SQL spellings only: no other case, no Rust names.
        assert_eq!(Mode::parse("Sync"), None);
        assert_eq!(DiscoverySource::parse("ServiceMesh"), None);
        assert_eq!(Kind::parse(""), None);
    }

    #[test]
    fn priority_and_freshness_pick_the_effective_edge() {
        let services = vec![svc("a", None), svc("b", None)];
        let mut k8s = obs("a", "b");
        k8s.discovery = DiscoverySource::Kubernetes;
        k8s.mode = Mode::Async;
        let mut mesh = obs("a", "b");
        mesh.discovery = DiscoverySource::ServiceMesh;
        mesh.criticality = Criticality::Soft;
        let g = Graph::build(services.clone(), &[k8s.clone(), mesh.clone()]);
        assert_eq!(g.edge_count(), 1);
        assert_eq!(g.edges()[0].discovery, DiscoverySource::ServiceMesh);
        assert_eq!(g.edges()[0].criticality, Criticality::Soft);
        // A stale manual observation loses to a fresh kubernetes one.
        let mut manual = obs("a", "b");
        manual.stale = true;
        let g = Graph::build(services, &[manual, k8s]);
        assert_eq!(g.edges()[0].discovery, DiscoverySource::Kubernetes);
        assert!(!g.edges()[0].stale);
    }

    #[test]
    fn from_parts_rebuilds_and_checks() {
        let mut k8s = obs("a", "b");
        k8s.discovery = DiscoverySource::Kubernetes;
        let g = Graph::build(
            vec![svc("a", None), svc("b", None), svc("c", None)],
            &[k8s, obs("b", "c"), obs("c", "a")],
        );
        let h = Graph::from_parts(g.services().to_vec(), g.edges().to_vec()).unwrap();
        assert_eq!(h.edges(), g.edges());
        for i in 0..3 {
            assert_eq!(h.out_edges(i), g.out_edges(i));
            assert_eq!(h.in_edges(i), g.in_edges(i));
        }
        assert_eq!(h.lookup("c").unwrap(), 2);
        let mut out_of_range = g.edges().to_vec();
        out_of_range[0].to = 7;
        assert!(Graph::from_parts(g.services().to_vec(), out_of_range).is_err());
        let mut unsorted = g.edges().to_vec();
        unsorted.reverse();
        assert!(Graph::from_parts(g.services().to_vec(), unsorted).is_err());
        let dup = vec![svc("a", None), svc("a", None), svc("c", None)];
        assert!(Graph::from_parts(dup, g.edges().to_vec()).is_err());
    }

    #[test]
    fn csr_adjacency() {
        let g = Graph::build(
            vec![svc("a", None), svc("b", None), svc("c", None)],
            &[obs("a", "b"), obs("a", "c"), obs("b", "c")],
        );
        let a = g.lookup("a").unwrap();
        let c = g.lookup("c").unwrap();
        assert_eq!(g.out_edges(a).len(), 2);
        assert_eq!(g.in_edges(c).len(), 2);
        assert!(g.lookup("zz").is_err());
    }

    #[test]
    fn topology_is_the_fresh_pairs_without_self_loops() {
        let services = vec![svc("a", None), svc("b", None), svc("c", None)];
        let mut stale = obs("b", "c");
        stale.stale = true;
        // a -> b twice (two sources, one fresh), b -> c stale only, c -> c a self loop.
        let mut mesh = obs("a", "b");
        mesh.discovery = DiscoverySource::ServiceMesh;
        mesh.stale = true;
        let g = Graph::build(
            services,
            &[obs("a", "b"), mesh, stale, obs("c", "c"), obs("c", "a")],
        );
        let t = g.topology().unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.edge_count(), 2);
        let (a, b, c) = (
            g.lookup("a").unwrap(),
            g.lookup("b").unwrap(),
            g.lookup("c").unwrap(),
        );
        assert_eq!(t.out_neighbors(a), &[b]);
        assert_eq!(t.out_neighbors(c), &[a]);
        assert!(t.out_neighbors(b).is_empty());
        // Built once: the same allocation on the second call, counted by heap_bytes.
        assert!(std::ptr::eq(t, g.topology().unwrap()));
        let h = g.heap_bytes();
        assert!(h.services >= t.heap_bytes().0 + 3 * std::mem::size_of::<Service>());
        assert!(h.edges >= t.heap_bytes().1 + 3 * std::mem::size_of::<Edge>());
    }
}
