//! Prometheus metrics, served as text at /metrics.
//!
//! Two registries, rendered together:
//! - idgraph's own facade metrics, prefixed `idgraph_facade_`;
//! - unprefixed: the names seed 000 §5 uses (`http_requests_total`,
//!   `http_request_duration_seconds`, `http_request_errors_total`,
//!   `process_resident_memory_bytes` and the other `process_*`, `identity_allocations_total`,
//!   `identity_allocation_duration_seconds`, `identity_active_submissions`), so its alert
//!   rules and dashboard work unchanged, and the database's state read at scrape time
//!   (`idgraph_*`, see `dbstats.rs`). The seed's request counter and histogram are the
//!   very collectors of `idgraph_facade_http_*`, registered twice under two names.

use prometheus::core::Collector;
use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Submission statuses (the CHECK of `idgraph.submissions.status`), exported even at 0.
pub const SUBMISSION_STATUSES: [&str; 5] =
    ["pending", "validated", "committed", "failed", "rolled_back"];
/// Cycle alert statuses (the CHECK of `idgraph.circular_dependency_alerts.status`).
pub const CYCLE_STATUSES: [&str; 3] = ["open", "acknowledged", "resolved"];
/// At most this many `identity_active_submissions` series (see [`DbGauges::active`]).
pub const ACTIVE_SLOTS_MAX: i64 = 1000;

pub struct Metrics {
    registry: Registry,
    unprefixed: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub errors: IntCounterVec,
    pub allocations: IntCounterVec,
    pub identity_allocations: IntCounterVec,
    pub allocation_duration: Histogram,
    pub ingests: IntCounterVec,
    pub rate_limited: IntCounter,
    pub auth_failures: IntCounterVec,
    pub pool: IntGaugeVec,
    pub replica_lag_bytes: IntGauge,
    pub replica_up: IntGauge,
    pub db: DbGauges,
}

/// The database's state, read at scrape time by `dbstats.rs`.
pub struct DbGauges {
    pub up: IntGauge,
    pub submissions: IntGaugeVec,
    pub oldest_pending: Gauge,
    /// Seed 000's `identity_active_submissions`: one series (value 1) per pending
    /// submission, labelled only by an ordinal `slot`, so that the seed's alert
    /// `count(identity_active_submissions) > 100` counts submissions; `sum` gives the same
    /// number. No submission id is exposed (/metrics needs no credentials). Capped at
    /// [`ACTIVE_SLOTS_MAX`]; `idgraph_identity_submissions{status="pending"}` is exact.
    pub active: IntGaugeVec,
    active_slots: std::sync::Mutex<i64>,
    pub cycles: IntGaugeVec,
    pub centrality_stale: IntGauge,
    pub centrality_age: Gauge,
    pub audit_rows: IntCounter,
    pub audit_seals: IntCounter,
    pub replica_lag: GaugeVec,
    /// Exported only while the SLO engine's table is there (no labels: a vector, so that
    /// it can be absent rather than a misleading 0).
    pub slo_recommendations_pending: IntGaugeVec,
    /// Pending submissions past `idgraph.submission_expiry_age` (seed 000 §5's orphaned
    /// submissions), with `enabled` saying whether the background worker expires them.
    /// Exported only while `idgraph.submission_expiry_status()` is there.
    pub submissions_expired: IntGaugeVec,
    /// When the database was last read (see `dbstats::refresh`); also serializes scrapes.
    pub refreshed: tokio::sync::Mutex<Option<std::time::Instant>>,
}

fn reg<C: Collector + Clone + 'static>(r: &Registry, c: &C) -> Result<(), prometheus::Error> {
    r.register(Box::new(c.clone()))
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("idgraph_facade".into()), None)?;
        let unprefixed = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, matched route and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by method, matched route and status",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route", "status"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "http_request_errors_total",
                "HTTP requests answered with a server error (5xx), by method and matched route",
            ),
            &["method", "route"],
        )?;
        let allocations = IntCounterVec::new(
            Opts::new(
                "allocations_total",
                "Identity allocations by target and whether the id was new",
            ),
            &["target", "is_new"],
        )?;
        let identity_allocations = IntCounterVec::new(
            Opts::new("identity_allocations_total", "Total identity allocations"),
            &["table_name", "is_new"],
        )?;
        // Seed 000 §5.1's buckets.
        let allocation_duration = Histogram::with_opts(
            HistogramOpts::new(
                "identity_allocation_duration_seconds",
                "Time spent allocating identities (one allocation call, single or batch)",
            )
            .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0]),
        )?;
        let ingests = IntCounterVec::new(
            Opts::new(
                "graph_ingests_total",
                "Dependency documents ingested, by discovery source",
            ),
            &["source"],
        )?;
        let rate_limited = IntCounter::new("rate_limited_total", "Requests refused with 429")?;
        let auth_failures = IntCounterVec::new(
            Opts::new("auth_failures_total", "Rejected credentials by reason"),
            &["reason"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Database pool: size, available, waiting",
            ),
            &["pool", "state"],
        )?;
        let replica_lag_bytes = IntGauge::new(
            "replica_lag_bytes",
            "WAL bytes the read replica has not replayed yet (measured at each scrape)",
        )?;
        let replica_up = IntGauge::new(
            "replica_up",
            "1 when the read pool reaches a standby, 0 when reads fall back to the primary",
        )?;
        reg(&registry, &replica_lag_bytes)?;
        reg(&registry, &replica_up)?;
        for c in [&requests, &errors, &allocations, &ingests, &auth_failures] {
            reg(&registry, c)?;
        }
        reg(&registry, &latency)?;
        reg(&registry, &rate_limited)?;
        reg(&registry, &pool)?;
        for c in [&requests, &errors, &identity_allocations] {
            reg(&unprefixed, c)?;
        }
        reg(&unprefixed, &latency)?;
        reg(&unprefixed, &allocation_duration)?;
        unprefixed.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        let db = DbGauges::new(&unprefixed)?;
        Ok(Self {
            registry,
            unprefixed,
            requests,
            latency,
            errors,
            allocations,
            identity_allocations,
            allocation_duration,
            ingests,
            rate_limited,
            auth_failures,
            pool,
            replica_lag_bytes,
            replica_up,
            db,
        })
    }

    /// Creates the error counter of every route at 0, so that a rate over it answers 0
    /// (not "no series") until the first error.
    pub fn init_routes<'a>(&self, routes: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (method, route) in routes {
            self.errors.with_label_values(&[method, route]);
        }
    }

    /// Counts one finished request (both request metric families, and the error counter).
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status_s = status.to_string();
        let labels = [method, route, status_s.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
        if status >= 500 {
            self.errors.with_label_values(&[method, route]).inc();
        }
    }

    /// Counts allocations: idgraph's per-target counter and the seed's per-table one.
    pub fn count_allocations(&self, table: &str, column: &str, new: u64, existing: u64) {
        let target = format!("{table}.{column}");
        for (is_new, n) in [("true", new), ("false", existing)] {
            if n > 0 {
                self.allocations
                    .with_label_values(&[&target, is_new])
                    .inc_by(n);
                self.identity_allocations
                    .with_label_values(&[table, is_new])
                    .inc_by(n);
            }
        }
    }

    pub fn set_pool(&self, name: &str, status: deadpool_postgres::Status) {
        self.pool
            .with_label_values(&[name, "size"])
            .set(status.size as i64);
        self.pool
            .with_label_values(&[name, "available"])
            .set(status.available as i64);
        self.pool
            .with_label_values(&[name, "waiting"])
            .set(status.waiting as i64);
        self.pool
            .with_label_values(&[name, "max_size"])
            .set(status.max_size as i64);
    }

    pub fn render(&self) -> String {
        let mut families = self.registry.gather();
        families.extend(self.unprefixed.gather());
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut buf) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl DbGauges {
    fn new(r: &Registry) -> Result<Self, prometheus::Error> {
        let up = IntGauge::new(
            "idgraph_database_up",
            "1 when the facade's scrape-time query of the primary database succeeded, else 0",
        )?;
        let submissions = IntGaugeVec::new(
            Opts::new(
                "idgraph_identity_submissions",
                "Submissions by status (all time)",
            ),
            &["status"],
        )?;
        let oldest_pending = Gauge::new(
            "idgraph_identity_oldest_pending_submission_age_seconds",
            "Age of the oldest pending submission (0 when none is pending)",
        )?;
        let active = IntGaugeVec::new(
            Opts::new(
                "identity_active_submissions",
                "Number of active submissions (not committed/rolled back): one series of value 1 per pending submission",
            ),
            &["slot"],
        )?;
        let cycles = IntGaugeVec::new(
            Opts::new(
                "idgraph_graph_cycles",
                "Circular dependency alerts by status",
            ),
            &["status"],
        )?;
        let centrality_stale = IntGauge::new(
            "idgraph_centrality_stale_services",
            "Services whose betweenness was computed for an older topology",
        )?;
        let centrality_age = Gauge::new(
            "idgraph_centrality_betweenness_age_seconds",
            "Seconds since the last betweenness refresh (since the oldest centrality row when never refreshed)",
        )?;
        let audit_rows = IntCounter::new(
            "idgraph_audit_rows_inserted_total",
            "Rows inserted into idgraph.audit_log (PostgreSQL's table statistics, n_tup_ins)",
        )?;
        let audit_seals = IntCounter::new(
            "idgraph_audit_seals_inserted_total",
            "Seals inserted into idgraph.audit_seals (PostgreSQL's table statistics, n_tup_ins)",
        )?;
        let replica_lag = GaugeVec::new(
            Opts::new(
                "idgraph_database_replica_lag_seconds",
                "Replay lag of the database behind a pool (0 on a primary, or when all received WAL is replayed)",
            ),
            &["pool"],
        )?;
        for c in [&up, &centrality_stale] {
            reg(r, c)?;
        }
        let slo_recommendations_pending = IntGaugeVec::new(
            Opts::new(
                "idgraph_slo_recommendations_pending",
                "SLO recommendations waiting for a decision (active, undecided, not expired)",
            ),
            &[],
        )?;
        let submissions_expired = IntGaugeVec::new(
            Opts::new(
                "idgraph_identity_expired_submissions",
                "Pending submissions older than idgraph.submission_expiry_age; enabled=\"true\" when the background worker rolls them back",
            ),
            &["enabled"],
        )?;
        for c in [
            &submissions,
            &active,
            &cycles,
            &slo_recommendations_pending,
            &submissions_expired,
        ] {
            reg(r, c)?;
        }
        reg(r, &oldest_pending)?;
        reg(r, &centrality_age)?;
        reg(r, &audit_rows)?;
        reg(r, &audit_seals)?;
        reg(r, &replica_lag)?;
        for s in SUBMISSION_STATUSES {
            submissions.with_label_values(&[s]);
        }
        for s in CYCLE_STATUSES {
            cycles.with_label_values(&[s]);
        }
        Ok(Self {
            up,
            submissions,
            oldest_pending,
            active,
            active_slots: std::sync::Mutex::new(0),
            cycles,
            centrality_stale,
            centrality_age,
            audit_rows,
            audit_seals,
            replica_lag,
            slo_recommendations_pending,
            submissions_expired,
            refreshed: tokio::sync::Mutex::new(None),
        })
    }

    /// Exports `n` pending submissions as slots 1..=n (capped), removing slots above.
    pub fn set_active(&self, n: i64) {
        let n = n.clamp(0, ACTIVE_SLOTS_MAX);
        let Ok(mut had) = self.active_slots.lock() else {
            return;
        };
        for slot in 1..=n {
            self.active.with_label_values(&[&slot.to_string()]).set(1);
        }
        for slot in (n + 1)..=*had {
            let _ = self.active.remove_label_values(&[&slot.to_string()]);
        }
        *had = n;
    }

    /// Mirrors a cumulative count read from the database into a counter; a smaller value
    /// (statistics reset) restarts the counter, which Prometheus reads as a reset.
    pub fn mirror(counter: &IntCounter, value: i64) {
        // n_tup_ins is never negative; were it, the counter is left as it is.
        let Ok(value) = u64::try_from(value) else {
            return;
        };
        let have = counter.get();
        if value < have {
            counter.reset();
            counter.inc_by(value);
        } else {
            counter.inc_by(value - have);
        }
    }
}

/// (method, route) of every route in the OpenAPI document, in axum's path syntax (the
/// same as the matched-path label).
pub fn documented_routes() -> Vec<(String, String)> {
    let doc: serde_json::Value = match crate::openapi::document()
        .to_json()
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
    {
        Some(d) => d,
        None => return Vec::new(),
    };
    let mut out = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) {
        for (path, item) in paths {
            if let Some(ops) = item.as_object() {
                for m in ["get", "put", "post", "delete", "patch"] {
                    if ops.contains_key(m) {
                        out.push((m.to_uppercase(), path.clone()));
                    }
                }
            }
        }
    }
    out
}
