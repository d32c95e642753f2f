//! Dependency graph: the SQL surface (SPEC §2). Validation and algorithms are
//! `idgraph_core::depgraph`; the statements that write tables are `sql/graph.sql`; this
//! module moves data between the two and the cached graph (`crate::graph_cache`).

use idgraph_core::cancel::Cancel;
use idgraph_core::depgraph::{self, AvailabilityOptions, Detail, Direction, GraphError};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};

use crate::backend;
use crate::error::{self, IdgraphError, OrRaise};
use crate::graph_cache;
use crate::jsonb::Jsonb;

fn graph_err(e: GraphError) -> IdgraphError {
    e.into()
}

/// A document with more nodes or edges than one call takes is refused with 54000
/// program_limit_exceeded (like a batch over `idgraph.max_batch_size`), before the
/// elements are validated one by one.
fn refuse_over_caps(doc: &Value) {
    let limits = &depgraph::LIMITS;
    for (key, max) in [("nodes", limits.max_nodes), ("edges", limits.max_edges)] {
        let n = doc.get(key).and_then(Value::as_array).map_or(0, Vec::len);
        if n > max {
            IdgraphError::new(
                PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                format!("the ingest document has {n} {key}; the limit is {max} per document"),
            )
            .with_hint(
                "Nothing was written. Send the graph in several documents (ingest is a merge).",
            )
            .raise()
        }
    }
}

fn spi_err(e: pgrx::spi::SpiError) -> IdgraphError {
    IdgraphError::new(
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        format!("idgraph: {e}"),
    )
}

/// Upserts an FR-1 document (`source`, `timestamp`, `nodes[]`, `edges[]`) in one atomic
/// call and returns the summary: received, created, updated, placeholders, conflicts
/// between discovery sources, and the cycles found (new ones open alerts).
///
/// ```sql
/// SELECT idgraph.ingest_graph('{"source": "manual", "nodes": [{"service_id": "checkout"}],
///   "edges": [{"source": "checkout", "target": "payment",
///              "attributes": {"communication_mode": "sync", "criticality": "hard"}}]}');
/// ```
// SECURITY DEFINER: the one validated door for graph writes. The internals it calls
// (_ingest_apply, _record_cycles) trust their input and are executable by nobody else.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn ingest_graph(p_doc: JsonB) -> JsonB {
    let started = std::time::Instant::now();
    refuse_over_caps(&p_doc.0);
    let doc = match depgraph::parse_document(&p_doc.0) {
        Ok(d) => d,
        Err(errors) => {
            let first = errors.first().map(|e| e.to_string()).unwrap_or_default();
            let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            IdgraphError::invalid(format!(
                "invalid ingest document ({} problem{}): {first}",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            ))
            .with_detail(all.join("\n"))
            .with_hint("Nothing was written. Fix every listed element and send the document again.")
            .raise()
        }
    };
    drop(p_doc);
    let nodes = error::to_value(&doc.nodes, "the ingest document's nodes").or_raise();
    let edges = error::to_value(&doc.edges, "the ingest document's edges").or_raise();
    let summary = Spi::get_one_with_args::<JsonB>(
        "SELECT idgraph._ingest_apply($1, coalesce($2::timestamptz, now()), $3, $4)",
        &[
            doc.source.clone().into(),
            doc.timestamp.clone().into(),
            JsonB(nodes).into(),
            JsonB(edges).into(),
        ],
    )
    .map_err(spi_err)
    .or_raise();
    check_for_interrupts!();

    // Cycles on the graph as it is now (our own writes included).
    let snap = graph_cache::snapshot().or_raise();
    let g = &snap.graph;
    // Upkept from the cached graph's cycles when the cache caught up from the change
    // log: only the components this document's changes can touch are recomputed.
    let cycles = snap.cycles().or_raise();
    let cycles_json: Vec<Value> = cycles
        .iter()
        .map(|c| {
            json!({
                "members": c.members.iter().map(|&m| g.id(m)).collect::<Vec<_>>(),
                "path": c.path.iter().map(|&m| g.id(m)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let new_alerts = Spi::get_one_with_args::<JsonB>(
        "SELECT idgraph._record_cycles($1, $2)",
        &[
            JsonB(Value::Array(cycles_json.clone())).into(),
            snap.key.0.into(),
        ],
    )
    .map_err(spi_err)
    .or_raise();

    let mut out = error::required(summary, "idgraph._ingest_apply's summary")
        .or_raise()
        .0;
    let new_alerts = error::required(new_alerts, "idgraph._record_cycles's result")
        .or_raise()
        .0;
    let Value::Object(m) = &mut out else {
        IdgraphError::internal("idgraph._ingest_apply's summary is not a JSON object").raise()
    };
    m.insert("source".into(), json!(doc.source));
    m.insert(
        "cycles".into(),
        json!({
            "count": cycles_json.len(),
            "current": cycles_json,
            "new_alerts": new_alerts,
            "recommendation": if cycles.is_empty() { Value::Null } else {
                json!("Break each cycle with an async boundary; composite availability treats a cycle as one supernode at its weakest member.")
            },
        }),
    );
    m.insert("graph_version".into(), json!(snap.key.0));
    m.insert("seconds".into(), json!(started.elapsed().as_secs_f64()));
    JsonB(out)
}

/// Services reachable from `p_service`: each once, at its shortest depth, with the edge
/// that reached it and the path. Depth 1..10 (else 22023); unknown service → P0002.
///
/// ```sql
/// SELECT * FROM idgraph.dependencies('checkout', 'downstream', 3);
/// ```
#[pg_extern(stable)]
#[allow(clippy::type_complexity)] // pgrx needs the row type spelled out here
pub fn dependencies(
    p_service: &str,
    p_direction: default!(&str, "'downstream'"),
    p_max_depth: default!(i32, 3),
    p_include_stale: default!(bool, false),
    p_include_external: default!(bool, true),
) -> TableIterator<
    'static,
    (
        name!(service_id, String),
        name!(depth, i32),
        name!(parent, String),
        name!(path, Vec<String>),
        name!(communication_mode, &'static str),
        name!(criticality, &'static str),
        name!(discovery_source, &'static str),
    ),
> {
    let direction = Direction::parse(p_direction).map_err(graph_err).or_raise();
    let depth = u32::try_from(p_max_depth)
        .map_err(|_| {
            IdgraphError::invalid(format!("depth must be between 1 and 10, got {p_max_depth}"))
        })
        .or_raise();
    let snap = graph_cache::snapshot().or_raise();
    let g = &snap.graph;
    let start = g.lookup(p_service).map_err(graph_err).or_raise();
    let reached = depgraph::traverse(
        g,
        start,
        direction,
        depth,
        p_include_stale,
        p_include_external,
        &mut Cancel::new(&mut backend::interrupts()),
    )
    .map_err(graph_err)
    .or_raise();
    // Rows are made as the executor asks for them, from the snapshot the iterator keeps;
    // the edge's attributes are the enums' static names, not copies.
    TableIterator::new(reached.into_iter().map(move |r| {
        let g = &snap.graph;
        let e = g.edge(r.edge);
        (
            g.id(r.node).to_owned(),
            r.depth as i32,
            g.id(r.parent).to_owned(),
            r.path.iter().map(|&p| g.id(p).to_owned()).collect(),
            e.mode.as_str(),
            e.criticality.as_str(),
            e.discovery.as_str(),
        )
    }))
}

/// The current cycles: strongly connected components of 2+ services (and self loops) over
/// fresh edges, each with a closed path through it and its alert.
///
/// ```sql
/// SELECT * FROM idgraph.cycles();
/// ```
#[pg_extern(stable)]
pub fn cycles() -> TableIterator<
    'static,
    (
        name!(members, Vec<String>),
        name!(cycle_path, Vec<String>),
        name!(size, i32),
    ),
> {
    let snap = graph_cache::snapshot().or_raise();
    let g = &snap.graph;
    // The cached graph's cycles: computed once per graph, or upkept from the previous
    // graph's when the cache caught up from the change log.
    let rows: Vec<_> = snap
        .cycles()
        .or_raise()
        .iter()
        .map(|c| {
            (
                c.members.iter().map(|&m| g.id(m).to_owned()).collect(),
                c.path.iter().map(|&m| g.id(m).to_owned()).collect(),
                c.members.len() as i32,
            )
        })
        .collect();
    TableIterator::new(rows)
}

fn options() -> AvailabilityOptions {
    AvailabilityOptions::default()
}

/// `p_detail` as [`Detail`]: NULL is 22004, anything but the allowed values 22023.
fn detail_arg(p_detail: Option<&str>) -> Detail {
    let Some(d) = p_detail else {
        IdgraphError::null("p_detail").raise()
    };
    d.parse::<Detail>().map_err(graph_err).or_raise()
}

fn jsonb(v: &Value) -> Jsonb {
    Jsonb::from_value(v).or_raise()
}

/// Composite availability of a service over its downstream closure (FR-3): serial hard
/// dependencies, redundancy groups in parallel, cycles as supernodes, externals with
/// their error-budget share against `p_target`, excluded soft/degraded/async edges,
/// truncation and confidence.
///
/// `p_detail` `'summary'` (the default) answers the composite, self availability,
/// bottleneck, confidence and truncation with the top 10 risks (`TOP_RISKS`: the weakest
/// factors, by contribution 1 − availability) and the counts of everything the full
/// listing has; `'full'` lists every hard dependency, redundancy group, exclusion,
/// external and supernode (the 0.1.0 answer).
///
/// ```sql
/// SELECT idgraph.composite_availability('checkout', 0.999);
/// SELECT idgraph.composite_availability('checkout', 0.999, 'full') -> 'hard_dependencies';
/// ```
#[pg_extern(stable)]
pub fn composite_availability(
    p_service: Option<&str>,
    p_target: default!(Option<f64>, "NULL"),
    p_detail: default!(Option<&str>, "'summary'"),
) -> Jsonb {
    // Not STRICT (p_target may be NULL), so a NULL service arrives here: 22004, not a crash.
    let Some(p_service) = p_service else {
        IdgraphError::null("p_service").raise()
    };
    let detail = detail_arg(p_detail);
    let snap = graph_cache::snapshot().or_raise();
    let mut v = match detail {
        Detail::Full => {
            let c = depgraph::composite(&snap.graph, p_service, p_target, &options())
                .map_err(graph_err)
                .or_raise();
            error::to_value(&c, "the composite availability").or_raise()
        }
        Detail::Summary => {
            let c = depgraph::composite_summary(&snap.graph, p_service, p_target, &options())
                .map_err(graph_err)
                .or_raise();
            error::to_value(&c, "the composite availability summary").or_raise()
        }
    };
    let Value::Object(m) = &mut v else {
        IdgraphError::internal("the composite availability is not a JSON object").raise()
    };
    m.insert("slo_target".into(), json!(snap.slo_targets.get(p_service)));
    jsonb(&v)
}

/// Whether `p_target` is achievable for a service given its dependency chain; when not,
/// the message and what each critical dependency would need (the "extra nine" rule).
///
/// ```sql
/// SELECT idgraph.check_slo('checkout', 0.9999);
/// ```
#[pg_extern(stable)]
pub fn check_slo(p_service: &str, p_target: f64) -> Jsonb {
    let snap = graph_cache::snapshot().or_raise();
    let r = depgraph::check_slo(&snap.graph, p_service, p_target, &options())
        .map_err(graph_err)
        .or_raise();
    jsonb(&error::to_value(&r, "the SLO check").or_raise())
}

/// FR-4: every upstream service of `p_service` with its composite availability now and
/// with `p_proposed_availability`, delta, SLO target and at-risk flag (null without an
/// SLO), sorted by delta; and a summary.
///
/// `p_detail` `'summary'` (the default) lists the top 10 rows (`TOP_RISKS`: the most
/// negative deltas, the full listing's first rows) under `impacted_services` and the top
/// 10 whose SLO is at risk under `slos_at_risk_services`; `summary` counts them all.
/// `'full'` lists every upstream service (the 0.1.0 answer).
///
/// ```sql
/// SELECT idgraph.impact_analysis('payment', 0.995);
/// SELECT idgraph.impact_analysis('payment', 0.995, 'full');
/// ```
#[pg_extern(stable)]
pub fn impact_analysis(
    p_service: Option<&str>,
    p_proposed_availability: Option<f64>,
    p_detail: default!(Option<&str>, "'summary'"),
) -> Jsonb {
    // Not STRICT (so that a NULL p_detail is refused), so every NULL is refused: 22004.
    let Some(p_service) = p_service else {
        IdgraphError::null("p_service").raise()
    };
    let Some(p_proposed_availability) = p_proposed_availability else {
        IdgraphError::null("p_proposed_availability").raise()
    };
    let detail = detail_arg(p_detail);
    let snap = graph_cache::snapshot().or_raise();
    // The snapshot's cache: current composites computed by earlier calls on this version
    // of the graph are reused. (Nothing else borrows it; were it borrowed, a fresh one.)
    let mut fresh = depgraph::AvailabilityCache::default();
    let mut held = snap.availability.try_borrow_mut();
    let cache = match held.as_deref_mut() {
        Ok(c) => c,
        Err(_) => &mut fresh,
    };
    let r = depgraph::impact_analysis_cached(
        &snap.graph,
        p_service,
        p_proposed_availability,
        &snap.slo_targets,
        &options(),
        &mut Cancel::new(&mut backend::interrupts()),
        cache,
    )
    .map_err(graph_err)
    .or_raise();
    drop(held);
    let proposed_change = json!({
        "sli_type": "availability",
        "current_availability": r.current_availability,
        "proposed_availability": r.proposed_availability,
    });
    let v = match detail {
        Detail::Full => json!({
            "service_id": r.service_id,
            "proposed_change": proposed_change,
            "impacted_services": r.impacted_services,
            "summary": {
                "total_impacted": r.total_impacted,
                "slos_at_risk": r.slos_at_risk,
                "recommendation": r.recommendation,
            },
            "graph_version": snap.key.0,
        }),
        Detail::Summary => {
            let s = r.summary();
            json!({
                "service_id": s.service_id,
                "proposed_change": proposed_change,
                "impacted_services": s.impacted_services,
                "slos_at_risk_services": s.slos_at_risk_services,
                "summary": {
                    "total_impacted": s.total_impacted,
                    "slos_at_risk": s.slos_at_risk,
                    "recommendation": s.recommendation,
                },
                "graph_version": snap.key.0,
                "detail": Detail::Summary.as_str(),
            })
        }
    };
    jsonb(&v)
}

/// Drops this session's cached graph; the next call loads it again. (The cache already
/// follows every committed change; this exists for tests and benchmarks.)
///
/// ```sql
/// SELECT idgraph.graph_cache_reset();
/// ```
#[pg_extern(volatile)]
pub fn graph_cache_reset() {
    graph_cache::invalidate();
}

/// This session's graph cache: the version it holds (null: none yet), how many times it
/// loaded the graph whole, how many times it caught up from `idgraph.graph_changes` (only
/// the services and pairs later versions changed), and how many times it started from the
/// cache file another backend wrote (`pg_idgraph/` in the data directory).
///
/// ```sql
/// SELECT idgraph.graph_cache_stats();
/// ```
#[pg_extern(volatile)]
pub fn graph_cache_stats() -> JsonB {
    let (n, version) = graph_cache::stats();
    JsonB(
        json!({"version": version, "loads": n.loads, "catch_ups": n.catch_ups, "from_file": n.from_file}),
    )
}
