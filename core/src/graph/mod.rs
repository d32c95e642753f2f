//! Dependency-graph model and algorithms (SPEC §2). Filled in by the graph work.
