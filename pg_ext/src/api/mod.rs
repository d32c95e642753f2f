//! The SQL surface, one module per domain. Everything is created in schema `idgraph`.

pub mod actor;
pub mod centrality;
pub mod graph;
pub mod identity;
pub mod slo;
