//! The `idgraph` PostgreSQL extension: the SQL surface of idgraph.
//!
//! Algorithms live in `idgraph-core`; this crate moves data between Postgres and it.
//! Hand-written SQL (tables, triggers, PL/pgSQL, grants) lives in `../sql/` and is
//! loaded with `extension_sql_file!`.

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

pub mod api;
pub mod backend;
pub mod bgworker;
pub mod error;
pub mod graph_cache;
pub mod graph_file;
pub mod gucs;
pub mod jsonb;

// Tables, sequences and triggers come first; everything else may refer to them.
extension_sql_file!("../../sql/schema.sql", name = "schema", bootstrap);
// Dependency graph tables and triggers.
extension_sql_file!(
    "../../sql/graph_schema.sql",
    name = "graph_schema",
    requires = ["schema"]
);
// Graph PL/pgSQL (writes for ingest, SLOs, telemetry); the Rust side calls into it.
extension_sql_file!(
    "../../sql/graph.sql",
    name = "graph",
    requires = ["graph_schema", "identity"]
);
// Centrality table, edge trigger and readers.
extension_sql_file!(
    "../../sql/centrality.sql",
    name = "centrality",
    requires = ["graph_schema", "graph"]
);
// The SLO engine: SLI history, recommendations cache, lifecycle, alert rules, dashboard.
extension_sql_file!(
    "../../sql/slo.sql",
    name = "slo",
    requires = [
        "graph_schema",
        "graph",
        api::slo::record_sli,
        api::slo::_slo_compute
    ]
);
// API keys and whatever else the HTTPS facade keeps in the database.
extension_sql_file!(
    "../../sql/facade.sql",
    name = "facade",
    requires = ["schema", "identity"]
);
// Identity allocation, one file per concern, in this order (each needs the one before):
// who acted and the audit, targets, submissions, allocation, resolution. PL/pgSQL over
// the Rust functions declared in `api::identity` and `api::actor`.
extension_sql_file!(
    "../../sql/identity_audit.sql",
    name = "identity_audit",
    requires = [
        "schema",
        api::identity::normalize_external_id,
        api::identity::normalize_external_ids,
        api::identity::external_id_key,
        api::identity::external_id_keys,
        api::identity::_system_identifier,
        api::identity::_lock_submission,
        api::actor::_principal,
        api::actor::_principal_team,
        api::actor::_invoker
    ]
);
extension_sql_file!(
    "../../sql/identity_targets.sql",
    name = "identity_targets",
    requires = ["identity_audit"]
);
extension_sql_file!(
    "../../sql/identity_submissions.sql",
    name = "identity_submissions",
    requires = ["identity_targets"]
);
extension_sql_file!(
    "../../sql/identity_allocation.sql",
    name = "identity_allocation",
    requires = ["identity_submissions"]
);
extension_sql_file!(
    "../../sql/identity_resolution.sql",
    // The whole chain is done once this is: what graph.sql and facade.sql require.
    name = "identity",
    requires = ["identity_allocation"]
);
// The release history (one row per install or upgrade).
extension_sql_file!(
    "../../sql/releases.sql",
    name = "releases",
    requires = ["schema"]
);
// Last: privileges. Nothing is executable by PUBLIC until a DBA grants it (sqitch `grants_api`).
extension_sql_file!("../../sql/finalize.sql", name = "finalize", finalize);

#[allow(non_snake_case)]
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
    // SAFETY: a plain read of a flag Postgres sets while loading preload libraries.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        bgworker::register();
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn normalize_uuid_roundtrip() {
        let got = Spi::get_one::<String>(
            "SELECT idgraph.normalize_external_id('{A3E4F567-E89B-12D3-A456-426614174001}', 'uuid')",
        );
        assert_eq!(
            got,
            Ok(Some("a3e4f567-e89b-12d3-a456-426614174001".to_string()))
        );
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
