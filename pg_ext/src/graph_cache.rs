//! The dependency graph, cached in backend memory.
//!
//! Loading 5,000 services and 50,000 edges through SPI costs tens of milliseconds, the
//! algorithms on the loaded graph microseconds to a few milliseconds: so each backend
//! keeps the graph it loaded, keyed by `idgraph.graph_state`'s version and the xmin of
//! that row. Every change to services, edges or SLOs bumps the version in the same
//! transaction (statement triggers), so the next call in any session sees a committed
//! change; the xmin makes a rolled-back bump (same version number, other transaction)
//! impossible to confuse with a later committed one.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pgrx::prelude::*;

use idgraph_core::depgraph::{
    Criticality, DiscoverySource, EdgeObservation, Graph, Kind, Mode, Service,
};

use crate::error::{required, IdgraphError};

/// A service row as the algorithms need it.
#[derive(Debug, Clone)]
struct ServiceRow {
    service_id: String,
    kind: String,
    availability: Option<f64>,
    published_sla: Option<f64>,
}

/// An edge row (one discovery source's observation of a pair).
#[derive(Debug, Clone)]
struct EdgeRow {
    source: String,
    target: String,
    discovery_source: String,
    communication_mode: String,
    criticality: String,
    redundancy_group: Option<String>,
    stale: bool,
}

/// What a backend caches: the graph, the SLO targets, and the version they belong to.
pub struct Snapshot {
    /// `graph_state`'s version and the xmin of its row.
    pub key: (i64, String),
    /// `graph_state.topology_version` read together with `key` (centrality records it).
    pub topology_version: i64,
    /// `services.service_pk` of each node, in node order (`ORDER BY service_pk`).
    pub pks: Vec<i32>,
    pub slo_targets: HashMap<String, f64>,
    pub graph: Graph,
}

impl Snapshot {
    /// Bytes the snapshot holds on the heap, (per-service part, per-edge part): the graph
    /// (with whatever of it was built lazily so far), the pks and the SLO targets.
    pub fn heap_bytes(&self) -> (usize, usize) {
        let g = self.graph.heap_bytes();
        let slo = self.slo_targets.capacity()
            * (std::mem::size_of::<String>() + std::mem::size_of::<f64>() + 1)
            + self.slo_targets.keys().map(|k| k.capacity()).sum::<usize>();
        (
            g.services + self.pks.capacity() * std::mem::size_of::<i32>() + slo,
            g.edges,
        )
    }
}

/// The cache key and the topology version read with it.
struct Current {
    key: (i64, String),
    topology_version: i64,
}

thread_local! {
    static CACHE: RefCell<Option<Rc<Snapshot>>> = const { RefCell::new(None) };
}

fn spi_err(e: pgrx::spi::SpiError) -> IdgraphError {
    IdgraphError::new(
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        format!("idgraph could not read the graph: {e}"),
    )
}

fn current_key() -> Result<Current, IdgraphError> {
    let (version, xmin, topology) = Spi::get_three::<i64, String, i64>(
        "SELECT version, xmin::text, topology_version FROM idgraph.graph_state",
    )
    .map_err(spi_err)?;
    Ok(Current {
        key: (
            required(version, "idgraph.graph_state.version")?,
            required(xmin, "idgraph.graph_state's xmin")?,
        ),
        topology_version: required(topology, "idgraph.graph_state.topology_version")?,
    })
}

/// Drops this backend's cached graph (tests use it to compare cached and fresh answers).
pub fn invalidate() {
    CACHE.with(|c| *c.borrow_mut() = None);
}

/// The current graph: from the cache when its version is current, else loaded anew.
pub fn snapshot() -> Result<Rc<Snapshot>, IdgraphError> {
    let key = current_key()?;
    if let Some(s) = CACHE.with(|c| c.borrow().clone()) {
        // The topology version is compared too: within one transaction it can move while
        // version and xmin stay (the edge trigger bumps it alone on an UPDATE).
        if s.key == key.key && s.topology_version == key.topology_version {
            return Ok(s);
        }
    }
    // Load, then check the version did not move while we read (READ COMMITTED takes a
    // new snapshot per statement); if it did, load again. Under constant churn the last
    // load is used without caching it.
    let mut key = key;
    let mut last = None;
    for _ in 0..5 {
        check_for_interrupts!();
        let loaded = load(&key)?;
        let after = current_key()?;
        if after.key == key.key && after.topology_version == key.topology_version {
            let rc = Rc::new(loaded);
            CACHE.with(|c| *c.borrow_mut() = Some(rc.clone()));
            return Ok(rc);
        }
        last = Some(loaded);
        key = after;
    }
    match last {
        Some(s) => Ok(Rc::new(s)),
        None => Ok(Rc::new(load(&key)?)),
    }
}

fn load(key: &Current) -> Result<Snapshot, IdgraphError> {
    Spi::connect(|client| {
        let mut services = Vec::new();
        let mut pks = Vec::new();
        let rows = client
            .select(
                "SELECT service_id, kind, availability, published_sla, service_pk
                   FROM idgraph.services ORDER BY service_pk",
                None,
                &[],
            )
            .map_err(spi_err)?;
        for (i, row) in rows.enumerate() {
            if i % 4096 == 0 {
                check_for_interrupts!();
            }
            services.push(ServiceRow {
                service_id: required(
                    row.get::<String>(1).map_err(spi_err)?,
                    "services.service_id",
                )?,
                kind: required(row.get::<String>(2).map_err(spi_err)?, "services.kind")?,
                availability: row.get::<f64>(3).map_err(spi_err)?,
                published_sla: row.get::<f64>(4).map_err(spi_err)?,
            });
            pks.push(required(row.get::<i32>(5).map_err(spi_err)?, "services.service_pk")?);
        }
        let by_pk: HashMap<i32, usize> = pks.iter().enumerate().map(|(i, &pk)| (pk, i)).collect();
        let mut edges = Vec::new();
        let rows = client
            .select(
                // No join: the endpoints' ids come from the services just read (a join
                // planned inside an ingest's transaction, before any ANALYZE, can turn
                // into a nested loop over both tables). An edge naming a service not read
                // (committed after that statement) belongs to a later version: the
                // version check below reloads.
                "SELECT e.source_pk, e.target_pk, e.discovery_source, e.communication_mode,
                        e.criticality, e.redundancy_group, e.stale
                   FROM idgraph.edges e
                  ORDER BY e.edge_pk",
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
            let (Some(&si), Some(&ti)) = (by_pk.get(&s), by_pk.get(&t)) else {
                continue;
            };
            edges.push(EdgeRow {
                source: services[si].service_id.clone(),
                target: services[ti].service_id.clone(),
                discovery_source: required(
                    row.get::<String>(3).map_err(spi_err)?,
                    "edges.discovery_source",
                )?,
                communication_mode: required(
                    row.get::<String>(4).map_err(spi_err)?,
                    "edges.communication_mode",
                )?,
                criticality: required(row.get::<String>(5).map_err(spi_err)?, "edges.criticality")?,
                redundancy_group: row.get::<String>(6).map_err(spi_err)?,
                stale: required(row.get::<bool>(7).map_err(spi_err)?, "edges.stale")?,
            });
        }
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
        let graph = build_graph(&services, &edges)?;
        Ok(Snapshot {
            key: key.key.clone(),
            topology_version: key.topology_version,
            pks,
            slo_targets,
            graph,
        })
    })
}

/// Turns rows into the algorithms' graph. The table CHECKs allow only values the enums
/// parse; anything else is an internal error naming the value, not a guess.
fn build_graph(services: &[ServiceRow], edges: &[EdgeRow]) -> Result<Graph, IdgraphError> {
    fn parsed<T>(v: Option<T>, column: &str, value: &str) -> Result<T, IdgraphError> {
        v.ok_or_else(|| {
            IdgraphError::internal(format!(
                "{column} holds '{value}', which idgraph does not know"
            ))
        })
    }
    let svcs = services
        .iter()
        .map(|s| {
            Ok(Service {
                id: s.service_id.clone(),
                kind: parsed(Kind::parse(&s.kind), "services.kind", &s.kind)?,
                availability: s.availability,
                published_sla: s.published_sla,
            })
        })
        .collect::<Result<Vec<_>, IdgraphError>>()?;
    let obs = edges
        .iter()
        .map(|e| {
            Ok(EdgeObservation {
                source: e.source.clone(),
                target: e.target.clone(),
                discovery: parsed(
                    DiscoverySource::parse(&e.discovery_source),
                    "edges.discovery_source",
                    &e.discovery_source,
                )?,
                mode: parsed(
                    Mode::parse(&e.communication_mode),
                    "edges.communication_mode",
                    &e.communication_mode,
                )?,
                criticality: parsed(
                    Criticality::parse(&e.criticality),
                    "edges.criticality",
                    &e.criticality,
                )?,
                redundancy_group: e.redundancy_group.clone(),
                stale: e.stale,
            })
        })
        .collect::<Result<Vec<_>, IdgraphError>>()?;
    Ok(Graph::build(svcs, &obs))
}
