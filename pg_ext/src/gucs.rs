//! Settings (`SET idgraph.…`). Defined when the library loads.

use std::ffi::CString;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// Largest batch `allocate_batch` accepts in one call.
pub static MAX_BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(10_000);

/// Seconds between background betweenness refreshes (when the topology changed).
pub static CENTRALITY_REFRESH_INTERVAL: GucSetting<i32> = GucSetting::<i32>::new(3600);

/// Database the background refresher works in.
pub static CENTRALITY_DATABASE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"idgraph"));

/// Seconds between the background worker's SLO maintenance runs (retention, dashboard).
pub static SLO_MAINTENANCE_INTERVAL: GucSetting<i32> = GucSetting::<i32>::new(3600);

pub fn slo_maintenance_interval() -> u64 {
    u64::try_from(SLO_MAINTENANCE_INTERVAL.get()).unwrap_or(3600)
}

/// Latency noise margin of SLO recommendations (TRD FR-2: 5–10% for shared infrastructure).
pub static SLO_NOISE_MARGIN: GucSetting<f64> =
    GucSetting::<f64>::new(idgraph_core::slo::DEFAULT_NOISE_MARGIN);

pub fn slo_noise_margin() -> f64 {
    SLO_NOISE_MARGIN.get()
}

/// Pending submissions older than this many seconds are expired (issue 9; seed 000 §5).
/// Read by `idgraph._submission_expiry_age()` through `current_setting`.
pub static SUBMISSION_EXPIRY_AGE: GucSetting<i32> = GucSetting::<i32>::new(7 * 86_400);

/// When on, the background worker rolls back expired submissions (reason `expired`).
pub static SUBMISSION_EXPIRY_ENABLED: GucSetting<bool> = GucSetting::<bool>::new(false);

pub fn submission_expiry_enabled() -> bool {
    SUBMISSION_EXPIRY_ENABLED.get()
}

pub fn centrality_refresh_interval() -> u64 {
    u64::try_from(CENTRALITY_REFRESH_INTERVAL.get()).unwrap_or(3600)
}

pub fn centrality_database() -> String {
    CENTRALITY_DATABASE
        .get()
        .and_then(|c| c.into_string().ok())
        .unwrap_or_else(|| "idgraph".to_string())
}

/// Threads a backend's betweenness and clustering use (its own rayon pool): a bound, so
/// that a refresh in each of many backends does not take every core of the machine.
pub static MAX_THREADS: GucSetting<i32> = GucSetting::<i32>::new(2);

/// Largest `idgraph.max_threads` accepted.
pub const MAX_THREADS_LIMIT: i32 = 64;

pub fn max_threads() -> usize {
    // Postgres enforces the GUC's bounds (1..=64) on every SET; the clamp makes the
    // conversion lossless by construction.
    MAX_THREADS.get().clamp(1, MAX_THREADS_LIMIT).unsigned_abs() as usize
}

pub fn init() {
    GucRegistry::define_int_guc(
        c"idgraph.max_batch_size",
        c"Largest number of external ids idgraph.allocate_batch accepts in one call.",
        c"Batches above this size are refused with SQLSTATE 54000 and nothing is written.",
        &MAX_BATCH_SIZE,
        1,
        1_000_000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"idgraph.max_threads",
        c"Threads one backend uses for betweenness and clustering (refresh_centrality).",
        c"Each backend keeps a pool of this many threads, built on first use and rebuilt when the setting changes. Superuser-only: it bounds what one session may take of the machine.",
        &MAX_THREADS,
        1,
        MAX_THREADS_LIMIT,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"idgraph.centrality_refresh_interval",
        c"Seconds between background refreshes of betweenness centrality.",
        c"The background worker (idgraph in shared_preload_libraries) refreshes betweenness when the topology changed and the last refresh is older than this.",
        &CENTRALITY_REFRESH_INTERVAL,
        1,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_string_guc(
        c"idgraph.centrality_database",
        c"Database in which the idgraph background worker refreshes centrality.",
        c"Read when the worker starts (a worker restart picks up a change).",
        &CENTRALITY_DATABASE,
        // Not Postmaster: the library is also loaded after startup (CREATE EXTENSION).
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"idgraph.slo_latency_noise_margin",
        c"Noise margin added to the conservative and balanced latency SLO recommendations.",
        c"A fraction: 0.05 adds 5% to the observed p99.9 and p99 of window p99 latencies (TRD FR-2: 5-10%).",
        &SLO_NOISE_MARGIN,
        0.0,
        1.0,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"idgraph.slo_maintenance_interval",
        c"Seconds between the background worker's SLO maintenance runs.",
        c"With idgraph in shared_preload_libraries the worker runs idgraph.apply_sli_retention() and idgraph.refresh_slo_dashboard() at start and then at this interval.",
        &SLO_MAINTENANCE_INTERVAL,
        1,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"idgraph.submission_expiry_age",
        c"Age after which a pending submission counts as expired.",
        c"idgraph.expired_submissions() lists pending submissions older than this; with idgraph.submission_expiry_enabled the background worker rolls them back with reason 'expired'.",
        &SUBMISSION_EXPIRY_AGE,
        1,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_bool_guc(
        c"idgraph.submission_expiry_enabled",
        c"Whether the background worker rolls back expired pending submissions.",
        c"Off by default. On a primary, with idgraph in shared_preload_libraries, the worker calls idgraph.expire_submissions() about once a minute.",
        &SUBMISSION_EXPIRY_ENABLED,
        GucContext::Sighup,
        GucFlags::default(),
    );
}
