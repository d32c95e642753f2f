//! The service dependency graph (SPEC §2): model, traversal, cycles, composite
//! availability, achievability and impact analysis.
//!
//! A [`Graph`] is built once from service rows and edge observations (one per discovery
//! source) and then queried many times: the pgrx layer caches it per backend. Nodes are
//! dense `u32` indices with forward and reverse adjacency in compressed (CSR) form.

mod availability;
mod ingest;
mod model;
mod traverse;
mod view;

pub use availability::{
    check_slo, composite, composite_summary, composite_what_if, dependency_bound_what_if,
    impact_analysis, impact_analysis_cached, AvailabilityCache, AvailabilityOptions, CheckSlo,
    Composite, CompositeCounts, CompositeSummary, DataSource, Detail, Excluded, ExternalUse,
    Impact, ImpactRow, ImpactSummary, NeededDependency, Risk, RiskKind, Supernode, TOP_RISKS,
};
pub use ingest::{parse_document, IngestDoc, IngestEdge, IngestNode, ValidationError, LIMITS};
pub use model::{
    Components, Criticality, DiscoverySource, Edge, EdgeObservation, Graph, GraphDelta, GraphError,
    HeapBytes, Kind, Mode, PairChange, Service,
};
pub use traverse::{cycles, traverse, update_cycles, Cycle, Direction, Reached, MAX_DEPTH};
