//! idgraph-core: the algorithms behind the `idgraph` PostgreSQL extension.
//!
//! No pgrx and no I/O here: everything is plain Rust so that `cargo test -p idgraph-core`
//! exercises it without a database. `pg_ext/` and `facade/` are thin doors onto it.

pub mod cancel;
pub mod centrality;
pub mod depgraph;
pub mod identity;
pub mod principal;
pub mod slo;
