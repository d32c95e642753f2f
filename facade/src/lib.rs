//! idgraph's HTTPS facade: a thin door onto the `idgraph.*` SQL functions.
//!
//! Every route calls one SQL function through deadpool-postgres; no domain logic is
//! written twice. This crate adds what HTTP needs: TLS, authentication (API keys, JWT),
//! scopes, rate limits, RFC 7807 errors, metrics, OpenAPI.

pub mod auth;
pub mod config;
pub mod db;
pub mod dbstats;
pub mod extract;
pub mod gate;
pub mod jsonscan;
pub mod keys;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pgconn;
pub mod problem;
pub mod ratelimit;
pub mod replica;
pub mod routes;
pub mod server;
pub mod sli_sync;
pub mod state;
pub mod trace;
