//! The dependency graph, cached in backend memory.
//!
//! Loading 5,000 services and 50,000 edges through SPI costs tens of milliseconds, the
//! algorithms on the loaded graph microseconds to a few milliseconds: so each backend
//! keeps the graph it loaded, keyed by `idgraph.graph_state`'s version and the xmin of
//! that row. Every change to services, edges or SLOs bumps the version in the same
//! transaction (statement triggers), so the next call in any session sees a committed
//! change; the xmin makes a rolled-back bump (same version number, other transaction)
//! impossible to confuse with a later committed one.
//!
//! A cached graph that is behind catches up from `idgraph.graph_changes` (the services
//! and pairs each version changed, written by the same triggers): it re-reads only those
//! rows and applies them in place ([`Graph::apply`]), and its cycles are upkept from the
//! change ([`depgraph::update_cycles`]). It reloads whole when the log does not reach back
//! to its version, when a service was removed or renamed, or when the change is large.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use pgrx::prelude::*;

use idgraph_core::cancel::Cancel;
use idgraph_core::depgraph::{
    self, Criticality, Cycle, DiscoverySource, EdgeObservation, Graph, GraphDelta, Kind, Mode,
    PairChange, Service,
};

use crate::backend;
use crate::error::{required, IdgraphError};
use crate::graph_file;

/// A service row as the algorithms need it.
#[derive(Debug, Clone)]
struct ServiceRow {
    service_pk: i32,
    service_id: String,
    kind: String,
    availability: Option<f64>,
    published_sla: Option<f64>,
}

/// The columns both edge queries read, in the order [`edge_observation`] takes them.
const EDGE_COLUMNS: &str = "e.source_pk, e.target_pk, e.discovery_source, \
     e.communication_mode, e.criticality, e.redundancy_group, e.stale";

/// What a backend caches: the graph, the SLO targets, and the version they belong to.
pub struct Snapshot {
    /// `graph_state`'s version and the xmin of its row.
    pub key: (i64, String),
    /// `graph_state.topology_version` read together with `key` (centrality records it).
    pub topology_version: i64,
    /// `graph_state.tag`: with `key`, one state of one history (see `graph_file`).
    tag: i64,
    /// `services.service_pk` of each node, in node order (`ORDER BY service_pk`).
    pub pks: Vec<i32>,
    pub slo_targets: HashMap<String, f64>,
    pub graph: Graph,
    /// service_pk -> node.
    nodes: HashMap<i32, u32>,
    /// The highest service_pk held (new services must come after it to be appended in
    /// the order a fresh load has).
    max_pk: i32,
    /// Set when the state was written by a transaction that had not committed when it
    /// was read (our own): its xid8, checked before the snapshot is caught up later.
    provisional: Option<String>,
    cycles: OnceCell<Rc<Vec<Cycle>>>,
    /// The cycles of an earlier snapshot and the changes made since, to upkeep from.
    cycles_base: Option<(Rc<Vec<Cycle>>, Vec<PairChange>)>,
    /// What impact analyses of this graph reuse (each service's current composite once
    /// computed); emptied whenever the graph changes. Built only by impact_analysis.
    pub availability: RefCell<depgraph::AvailabilityCache>,
}

impl Snapshot {
    /// Bytes the snapshot holds on the heap, (per-service part, per-edge part): the graph
    /// (with whatever of it was built lazily so far), the pks and the SLO targets.
    pub fn heap_bytes(&self) -> (usize, usize) {
        let g = self.graph.heap_bytes();
        let slo = self.slo_targets.capacity()
            * (std::mem::size_of::<String>() + std::mem::size_of::<f64>() + 1)
            + self.slo_targets.keys().map(|k| k.capacity()).sum::<usize>();
        let nodes = self.nodes.capacity() * (2 * std::mem::size_of::<u32>() + 1);
        (
            g.services + self.pks.capacity() * std::mem::size_of::<i32>() + nodes + slo,
            g.edges,
        )
    }

    /// The cycles of the graph (see [`depgraph::cycles`]): upkept from the previous
    /// snapshot's when this one was caught up from it, else computed.
    pub fn cycles(&self) -> Result<Rc<Vec<Cycle>>, IdgraphError> {
        if let Some(c) = self.cycles.get() {
            return Ok(c.clone());
        }
        let mut check = backend::interrupts();
        let mut cancel = Cancel::new(&mut check);
        let computed = match &self.cycles_base {
            Some((before, changes)) => {
                depgraph::update_cycles(&self.graph, before, changes, &mut cancel)
            }
            None => depgraph::cycles(&self.graph, &mut cancel),
        }
        .map_err(|e| IdgraphError::from(depgraph::GraphError::from(e)))?;
        let rc = Rc::new(computed);
        // Set once: a second caller in this backend finds it set first.
        let _ = self.cycles.set(rc.clone());
        Ok(rc)
    }
}

thread_local! {
    static CACHE: RefCell<Option<Rc<Snapshot>>> = const { RefCell::new(None) };
    /// How this backend got its graphs: whole loads, catch-ups from the change log,
    /// graphs taken from the cache file.
    static COUNTS: std::cell::Cell<Counts> = const {
        std::cell::Cell::new(Counts { loads: 0, catch_ups: 0, from_file: 0 })
    };
    /// The version this backend last wrote to the cache file.
    static WRITTEN: std::cell::Cell<i64> = const { std::cell::Cell::new(i64::MIN) };
}

/// How this backend got its graphs so far (see [`stats`]).
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    pub loads: u64,
    pub catch_ups: u64,
    pub from_file: u64,
}

enum Path {
    Load,
    CatchUp,
    File,
}

/// This backend's counts so far, and the version it holds.
pub fn stats() -> (Counts, Option<i64>) {
    (
        COUNTS.with(|c| c.get()),
        CACHE.with(|c| c.borrow().as_ref().map(|s| s.key.0)),
    )
}

fn count(path: Path) {
    COUNTS.with(|c| {
        let mut n = c.get();
        match path {
            Path::Load => n.loads += 1,
            Path::CatchUp => n.catch_ups += 1,
            Path::File => n.from_file += 1,
        }
        c.set(n);
    });
}

/// Versions a backend lets pass before it writes its caught-up graph to the file again.
const FILE_REFRESH_VERSIONS: i64 = 64;

/// `pg_database.xmin` of this database: what the cache file is checked against.
fn database_tag() -> Result<String, IdgraphError> {
    let tag = Spi::get_one::<String>(
        "SELECT xmin::text FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()",
    )
    .map_err(spi_err)?;
    required(tag, "pg_database's xmin")
}

/// The graph of the cache file, when there is one for this database that the change log
/// can bring to `state` (or that is `state`).
fn from_file(state: &State) -> Result<Option<Snapshot>, IdgraphError> {
    let Some(stored) = graph_file::read(&database_tag()?) else {
        return Ok(None);
    };
    let same =
        stored.version == state.key.0 && stored.xmin == state.key.1 && stored.tag == state.tag;
    let behind = !same
        && stored.version < state.key.0
        && stored.version >= state.log_floor
        // The file's state is one of this history's: its version's marker has its tag.
        && Spi::get_one_with_args::<bool>(
            "SELECT EXISTS (SELECT 1 FROM idgraph.graph_changes
                             WHERE version = $1 AND kind = 'v' AND a = $2)",
            &[stored.version.into(), stored.tag.into()],
        )
        .map_err(spi_err)?
            == Some(true);
    if !(same || behind) {
        return Ok(None);
    }
    let graph = match stored.graph() {
        Ok(g) => g,
        Err(why) => {
            pgrx::log!("idgraph: ignoring the graph cache file: {why}");
            return Ok(None);
        }
    };
    count(Path::File);
    let nodes = stored
        .pks
        .iter()
        .enumerate()
        .map(|(i, &pk)| (pk, i as u32))
        .collect();
    let cycles = OnceCell::new();
    if let Some(c) = &stored.cycles {
        let _ = cycles.set(Rc::new(c.clone()));
    }
    Ok(Some(Snapshot {
        key: (stored.version, stored.xmin.clone()),
        topology_version: stored.topology_version,
        tag: stored.tag,
        max_pk: stored.pks.iter().copied().max().unwrap_or(i32::MIN),
        pks: stored.pks.clone(),
        nodes,
        slo_targets: stored.slo_map(),
        graph,
        provisional: None,
        cycles,
        cycles_base: None,
        availability: RefCell::default(),
    }))
}

/// Writes a committed snapshot to the cache file, for the backends that start after.
fn share(s: &Snapshot) -> Result<(), IdgraphError> {
    if s.provisional.is_some() {
        return Ok(());
    }
    graph_file::write(&graph_file::Stored {
        format: graph_file::FORMAT,
        database: database_tag()?,
        version: s.key.0,
        xmin: s.key.1.clone(),
        topology_version: s.topology_version,
        tag: s.tag,
        services: s.graph.services().to_vec(),
        edges: s.graph.edges().to_vec(),
        pks: s.pks.clone(),
        slo_targets: s.slo_targets.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        cycles: s.cycles.get().map(|c| c.as_ref().clone()),
    });
    WRITTEN.with(|w| w.set(s.key.0));
    Ok(())
}

/// A whole load, shared through the cache file.
fn loaded(state: &State) -> Result<Snapshot, IdgraphError> {
    count(Path::Load);
    let s = load(state)?;
    share(&s)?;
    Ok(s)
}

fn spi_err(e: pgrx::spi::SpiError) -> IdgraphError {
    IdgraphError::new(
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        format!("idgraph could not read the graph: {e}"),
    )
}

/// Where the graph is: its key, the log's floor, and whether the current state is our
/// own transaction's (then its xid8).
struct State {
    key: (i64, String),
    topology_version: i64,
    tag: i64,
    log_floor: i64,
    own: Option<String>,
}

impl State {
    fn is(&self, s: &Snapshot) -> bool {
        // The topology version is compared too: within one transaction it can move while
        // version and xmin stay (the edge trigger bumps it alone on an UPDATE).
        s.key == self.key && s.tag == self.tag && s.topology_version == self.topology_version
    }
}

fn current_state() -> Result<State, IdgraphError> {
    Spi::connect(|client| {
        let row = client
            .select(
                "SELECT version, xmin::text, log_floor,
                        CASE WHEN xmin = pg_catalog.xid(pg_catalog.pg_current_xact_id_if_assigned())
                             THEN pg_catalog.pg_current_xact_id_if_assigned()::text END,
                        topology_version, tag
                   FROM idgraph.graph_state",
                Some(1),
                &[],
            )
            .map_err(spi_err)?
            .first();
        Ok(State {
            key: (
                required(
                    row.get::<i64>(1).map_err(spi_err)?,
                    "idgraph.graph_state.version",
                )?,
                required(
                    row.get::<String>(2).map_err(spi_err)?,
                    "idgraph.graph_state's xmin",
                )?,
            ),
            log_floor: required(
                row.get::<i64>(3).map_err(spi_err)?,
                "idgraph.graph_state.log_floor",
            )?,
            own: row.get::<String>(4).map_err(spi_err)?,
            topology_version: required(
                row.get::<i64>(5).map_err(spi_err)?,
                "idgraph.graph_state.topology_version",
            )?,
            tag: required(
                row.get::<i64>(6).map_err(spi_err)?,
                "idgraph.graph_state.tag",
            )?,
        })
    })
}

/// Drops this backend's cached graph (tests use it to compare cached and fresh answers).
pub fn invalidate() {
    CACHE.with(|c| *c.borrow_mut() = None);
}

/// The current graph: from the cache when its version is current, caught up from the
/// change log when it is behind, else loaded anew.
pub fn snapshot() -> Result<Rc<Snapshot>, IdgraphError> {
    let mut state = current_state()?;
    if let Some(s) = CACHE.with(|c| c.borrow().clone()) {
        if state.is(&s) {
            return Ok(s);
        }
    }
    // Load (or catch up), then check the version did not move while we read (READ
    // COMMITTED takes a new snapshot per statement); if it did, go again. Under constant
    // churn the last result is used without caching it.
    let mut last = None;
    for _ in 0..5 {
        check_for_interrupts!();
        let base = match CACHE.with(|c| c.borrow_mut().take()) {
            Some(b) => Some(b),
            // A fresh backend: what another backend of this database loaded, if any.
            None => from_file(&state)?.map(Rc::new),
        };
        let next = match base {
            Some(b) if state.is(&b) => {
                Rc::try_unwrap(b).unwrap_or_else(|shared| shared.duplicate())
            }
            Some(b) => match catch_up(b, &state)? {
                Ok(s) => {
                    count(Path::CatchUp);
                    s
                }
                Err(()) => loaded(&state)?,
            },
            None => loaded(&state)?,
        };
        let after = current_state()?;
        let rc = Rc::new(next);
        if after.is(&rc) {
            CACHE.with(|c| *c.borrow_mut() = Some(rc.clone()));
            if rc.key.0 - WRITTEN.with(|w| w.get()) >= FILE_REFRESH_VERSIONS {
                share(&rc)?;
            }
            return Ok(rc);
        }
        // Not cached as current, but a good base for the next round.
        CACHE.with(|c| *c.borrow_mut() = Some(rc.clone()));
        last = Some(rc);
        state = after;
    }
    match last {
        Some(s) => Ok(s),
        None => Ok(Rc::new(load(&state)?)),
    }
}

/// Above this many changed services and pairs, reloading is cheaper than catching up.
const MAX_DELTA_ROWS: i64 = 20_000;

/// Brings `base` to `state` from the change log; `Err(())` when it cannot (reload).
fn catch_up(base: Rc<Snapshot>, state: &State) -> Result<Result<Snapshot, ()>, IdgraphError> {
    let from = base.key.0;
    // Forward only, from a version the log still covers. The same version with another
    // xmin is another history (ours rolled back, then someone's committed): reload. The
    // same key with another topology version is the same graph (only the version the
    // centrality trigger keeps moved): nothing to re-read.
    if state.key.0 < from
        || from < state.log_floor
        || (state.key.0 == from && (state.key.1 != base.key.1 || state.tag != base.tag))
    {
        return Ok(Err(()));
    }
    Spi::connect(|client| {
        if let Some(xid) = &base.provisional {
            // Written by a transaction of ours that was open when read: usable only if it
            // is still ours or has committed.
            let ok = client
                .select(
                    "SELECT pg_catalog.pg_xact_status($1::xid8) = 'committed'
                         OR pg_catalog.pg_current_xact_id_if_assigned() = $1::xid8",
                    Some(1),
                    &[xid.as_str().into()],
                )
                .map_err(spi_err)?
                .first()
                .get::<bool>(1)
                .map_err(spi_err)?;
            if ok != Some(true) {
                return Ok(Err(()));
            }
        }
        let n = client
            .select(
                "SELECT count(*) FROM idgraph.graph_changes WHERE version > $1",
                Some(1),
                &[from.into()],
            )
            .map_err(spi_err)?
            .first()
            .get::<i64>(1)
            .map_err(spi_err)?;
        if required(n, "the change count")? > MAX_DELTA_ROWS {
            return Ok(Err(()));
        }
        let mut service_pks: Vec<i32> = Vec::new();
        let mut pairs: Vec<(i32, i32)> = Vec::new();
        let mut slos = false;
        for row in client
            .select(
                "SELECT DISTINCT kind::text, a, b FROM idgraph.graph_changes WHERE version > $1",
                None,
                &[from.into()],
            )
            .map_err(spi_err)?
        {
            let kind = required(row.get::<String>(1).map_err(spi_err)?, "graph_changes.kind")?;
            let a = row.get::<i64>(2).map_err(spi_err)?;
            let b = row.get::<i64>(3).map_err(spi_err)?;
            let pk = |x: i64| {
                i32::try_from(x).map_err(|_| {
                    IdgraphError::internal(format!(
                        "idgraph.graph_changes holds a key out of range: {x}"
                    ))
                })
            };
            match (kind.as_str(), a, b) {
                ("s", Some(a), _) => service_pks.push(pk(a)?),
                ("e", Some(a), Some(b)) => pairs.push((pk(a)?, pk(b)?)),
                ("o", _, _) => slos = true,
                ("v", _, _) => {}
                _ => {
                    return Err(IdgraphError::internal(format!(
                        "idgraph.graph_changes holds a row of kind '{kind}' without its keys"
                    )))
                }
            }
        }
        service_pks.sort_unstable();
        service_pks.dedup();
        pairs.sort_unstable();
        pairs.dedup();

        let mut snap = Rc::try_unwrap(base).unwrap_or_else(|shared| shared.duplicate());
        let mut delta = GraphDelta::default();
        // Ids of the services this delta appends, in node order.
        let mut appended: Vec<String> = Vec::new();
        if !service_pks.is_empty() {
            let rows = client
                .select(
                    "SELECT service_pk, service_id, kind, availability, published_sla
                       FROM idgraph.services WHERE service_pk = ANY ($1) ORDER BY service_pk",
                    None,
                    &[service_pks.clone().into()],
                )
                .map_err(spi_err)?;
            let mut seen = 0usize;
            for row in rows {
                seen += 1;
                let r = service_row(&row)?;
                match snap.nodes.get(&r.service_pk) {
                    // Renamed: node ids are names, so reload.
                    Some(&i) if snap.graph.id(i) != r.service_id => return Ok(Err(())),
                    Some(_) => {}
                    None if r.service_pk <= snap.max_pk => return Ok(Err(())),
                    None => {
                        let i = u32::try_from(snap.graph.len() + appended.len()).map_err(|_| {
                            IdgraphError::internal("more services than a graph holds")
                        })?;
                        snap.nodes.insert(r.service_pk, i);
                        snap.pks.push(r.service_pk);
                        snap.max_pk = r.service_pk;
                        appended.push(r.service_id.clone());
                    }
                }
                delta.services.push(service(&r)?);
            }
            if seen != service_pks.len() {
                // A service is gone: its node would have to go, so reload.
                return Ok(Err(()));
            }
        }
        if !pairs.is_empty() {
            let (src, dst): (Vec<i32>, Vec<i32>) = pairs.iter().copied().unzip();
            let mut by_pair: HashMap<(i32, i32), Vec<EdgeObservation>> = HashMap::new();
            let rows = client
                .select(
                    &format!(
                        "SELECT {EDGE_COLUMNS}
                           FROM unnest($1::integer[], $2::integer[]) AS p(s, t)
                           JOIN idgraph.edges e ON e.source_pk = p.s AND e.target_pk = p.t"
                    ),
                    None,
                    &[src.into(), dst.into()],
                )
                .map_err(spi_err)?;
            for row in rows {
                let s = required(row.get::<i32>(1).map_err(spi_err)?, "edges.source_pk")?;
                let t = required(row.get::<i32>(2).map_err(spi_err)?, "edges.target_pk")?;
                let (Some(&si), Some(&ti)) = (snap.nodes.get(&s), snap.nodes.get(&t)) else {
                    return Ok(Err(()));
                };
                let source = node_name(&snap, &appended, si)?;
                let target = node_name(&snap, &appended, ti)?;
                by_pair
                    .entry((s, t))
                    .or_default()
                    .push(edge_observation(&row, source, target)?);
            }
            for (s, t) in &pairs {
                let (Some(&si), Some(&ti)) = (snap.nodes.get(s), snap.nodes.get(t)) else {
                    // A pair whose service is unknown and has no rows left: nothing to do
                    // unless it was ever in the graph, which needs its service.
                    return Ok(Err(()));
                };
                delta.pairs.push((
                    node_name(&snap, &appended, si)?,
                    node_name(&snap, &appended, ti)?,
                    by_pair.remove(&(*s, *t)).unwrap_or_default(),
                ));
            }
        }
        if slos {
            snap.slo_targets = load_slo_targets(client)?;
        }
        let changes = snap.graph.apply(&delta);
        snap.availability = RefCell::default();
        // Cycles: upkeep from what this snapshot knew (computed, or itself pending).
        let base_cycles = match snap.cycles.take() {
            Some(c) => Some((c, Vec::new())),
            None => snap.cycles_base.take(),
        };
        snap.cycles_base = base_cycles.map(|(c, mut earlier)| {
            merge_changes(&mut earlier, changes);
            (c, earlier)
        });
        snap.key = state.key.clone();
        snap.topology_version = state.topology_version;
        snap.tag = state.tag;
        snap.provisional = state.own.clone();
        Ok(Ok(snap))
    })
}

/// Folds `later` into `earlier`: per pair, the first `before` and the last `now`.
fn merge_changes(earlier: &mut Vec<PairChange>, later: Vec<PairChange>) {
    let mut at: HashMap<(u32, u32), usize> = earlier
        .iter()
        .enumerate()
        .map(|(i, c)| ((c.from, c.to), i))
        .collect();
    for c in later {
        match at.get(&(c.from, c.to)) {
            Some(&i) => earlier[i].now = c.now,
            None => {
                at.insert((c.from, c.to), earlier.len());
                earlier.push(c);
            }
        }
    }
    earlier.retain(|c| c.before != c.now);
}

/// The id of node `i`: in the graph, or among the services the delta appends.
fn node_name(snap: &Snapshot, appended: &[String], i: u32) -> Result<String, IdgraphError> {
    if (i as usize) < snap.graph.len() {
        return Ok(snap.graph.id(i).to_owned());
    }
    appended
        .get(i as usize - snap.graph.len())
        .cloned()
        .ok_or_else(|| {
            IdgraphError::internal(format!("the graph cache has no service at node {i}"))
        })
}

impl Snapshot {
    /// A copy to catch up when another holder still uses this one.
    fn duplicate(&self) -> Snapshot {
        Snapshot {
            key: self.key.clone(),
            topology_version: self.topology_version,
            tag: self.tag,
            pks: self.pks.clone(),
            slo_targets: self.slo_targets.clone(),
            graph: self.graph.clone(),
            nodes: self.nodes.clone(),
            max_pk: self.max_pk,
            provisional: self.provisional.clone(),
            cycles: self.cycles.clone(),
            cycles_base: self.cycles_base.clone(),
            availability: RefCell::default(),
        }
    }
}

fn service_row(row: &pgrx::spi::SpiHeapTupleData) -> Result<ServiceRow, IdgraphError> {
    Ok(ServiceRow {
        service_pk: required(row.get::<i32>(1).map_err(spi_err)?, "services.service_pk")?,
        service_id: required(
            row.get::<String>(2).map_err(spi_err)?,
            "services.service_id",
        )?,
        kind: required(row.get::<String>(3).map_err(spi_err)?, "services.kind")?,
        availability: row.get::<f64>(4).map_err(spi_err)?,
        published_sla: row.get::<f64>(5).map_err(spi_err)?,
    })
}

fn load_slo_targets(
    client: &pgrx::spi::SpiClient<'_>,
) -> Result<HashMap<String, f64>, IdgraphError> {
    let mut slo_targets = HashMap::new();
    let rows = client
        .select(
            "SELECT s.service_id, o.availability_target
               FROM idgraph.slos o JOIN idgraph.services s USING (service_pk)",
            None,
            &[],
        )
        .map_err(spi_err)?;
    for row in rows {
        if let (Some(id), Some(t)) = (
            row.get::<String>(1).map_err(spi_err)?,
            row.get::<f64>(2).map_err(spi_err)?,
        ) {
            slo_targets.insert(id, t);
        }
    }
    Ok(slo_targets)
}

fn load(state: &State) -> Result<Snapshot, IdgraphError> {
    Spi::connect(|client| {
        let mut services = Vec::new();
        let rows = client
            .select(
                "SELECT service_pk, service_id, kind, availability, published_sla
                   FROM idgraph.services ORDER BY service_pk",
                None,
                &[],
            )
            .map_err(spi_err)?;
        let mut nodes = HashMap::new();
        let mut pks = Vec::new();
        let mut max_pk = i32::MIN;
        for (i, row) in rows.enumerate() {
            if i % 4096 == 0 {
                check_for_interrupts!();
            }
            let r = service_row(&row)?;
            let node = u32::try_from(i)
                .map_err(|_| IdgraphError::internal("more services than a graph holds"))?;
            nodes.insert(r.service_pk, node);
            pks.push(r.service_pk);
            max_pk = max_pk.max(r.service_pk);
            services.push(service(&r)?);
        }
        let mut observations = Vec::new();
        let rows = client
            .select(
                // No join: the endpoints' ids come from the services just read (a join
                // planned inside an ingest's transaction, before any ANALYZE, can turn
                // into a nested loop over both tables). An edge naming a service not read
                // (committed after that statement) belongs to a later version: the
                // version check after the load loads again.
                &format!("SELECT {EDGE_COLUMNS} FROM idgraph.edges e ORDER BY e.edge_pk"),
                None,
                &[],
            )
            .map_err(spi_err)?;
        for (i, row) in rows.enumerate() {
            if i % 4096 == 0 {
                check_for_interrupts!();
            }
            let s = required(row.get::<i32>(1).map_err(spi_err)?, "edges.source_pk")?;
            let t = required(row.get::<i32>(2).map_err(spi_err)?, "edges.target_pk")?;
            let (Some(&si), Some(&ti)) = (nodes.get(&s), nodes.get(&t)) else {
                continue;
            };
            observations.push(edge_observation(
                &row,
                services[si as usize].id.clone(),
                services[ti as usize].id.clone(),
            )?);
        }
        let slo_targets = load_slo_targets(client)?;
        Ok(Snapshot {
            key: state.key.clone(),
            topology_version: state.topology_version,
            tag: state.tag,
            pks,
            slo_targets,
            graph: Graph::build(services, &observations),
            nodes,
            max_pk,
            provisional: state.own.clone(),
            cycles: OnceCell::new(),
            cycles_base: None,
            availability: RefCell::default(),
        })
    })
}

/// The table CHECKs allow only values the enums parse; anything else is an internal
/// error naming the value, not a guess.
fn parsed<T>(v: Option<T>, column: &str, value: &str) -> Result<T, IdgraphError> {
    v.ok_or_else(|| {
        IdgraphError::internal(format!(
            "{column} holds '{value}', which idgraph does not know"
        ))
    })
}

fn service(s: &ServiceRow) -> Result<Service, IdgraphError> {
    Ok(Service {
        id: s.service_id.clone(),
        kind: parsed(Kind::parse(&s.kind), "services.kind", &s.kind)?,
        availability: s.availability,
        published_sla: s.published_sla,
    })
}

/// One discovery source's observation of a pair from an edge row whose columns 3 to 7 are
/// `discovery_source, communication_mode, criticality, redundancy_group, stale` (both edge
/// queries select [`EDGE_COLUMNS`]); `source` and `target` are the endpoints' service ids.
fn edge_observation(
    row: &pgrx::spi::SpiHeapTupleData,
    source: String,
    target: String,
) -> Result<EdgeObservation, IdgraphError> {
    let text = |n: usize, column: &str| -> Result<String, IdgraphError> {
        required(row.get::<String>(n).map_err(spi_err)?, column)
    };
    let discovery = text(3, "edges.discovery_source")?;
    let mode = text(4, "edges.communication_mode")?;
    let criticality = text(5, "edges.criticality")?;
    Ok(EdgeObservation {
        source,
        target,
        discovery: parsed(
            DiscoverySource::parse(&discovery),
            "edges.discovery_source",
            &discovery,
        )?,
        mode: parsed(Mode::parse(&mode), "edges.communication_mode", &mode)?,
        criticality: parsed(
            Criticality::parse(&criticality),
            "edges.criticality",
            &criticality,
        )?,
        redundancy_group: row.get::<String>(6).map_err(spi_err)?,
        stale: required(row.get::<bool>(7).map_err(spi_err)?, "edges.stale")?,
    })
}
