//! Prometheus metrics, served as text at /metrics.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub allocations: IntCounterVec,
    pub rate_limited: IntCounter,
    pub auth_failures: IntCounterVec,
    pub pool: IntGaugeVec,
    pub replica_lag_bytes: IntGauge,
    pub replica_up: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("idgraph_facade".into()), None)?;
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
        let allocations = IntCounterVec::new(
            Opts::new(
                "allocations_total",
                "Identity allocations by target and whether the id was new",
            ),
            &["target", "is_new"],
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
        registry.register(Box::new(replica_lag_bytes.clone()))?;
        registry.register(Box::new(replica_up.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(allocations.clone()))?;
        registry.register(Box::new(rate_limited.clone()))?;
        registry.register(Box::new(auth_failures.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            allocations,
            rate_limited,
            auth_failures,
            pool,
            replica_lag_bytes,
            replica_up,
        })
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
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}
