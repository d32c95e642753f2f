//! Centrality (SPEC §3). Filled in by the centrality work.
