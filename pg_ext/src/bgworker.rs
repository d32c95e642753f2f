//! The centrality refresher: a background worker, registered when `idgraph` is in
//! `shared_preload_libraries`. It wakes up periodically and, in the database named by
//! `idgraph.centrality_database`, runs `idgraph.refresh_centrality()` when the topology
//! changed since betweenness was last computed and that computation is older than
//! `idgraph.centrality_refresh_interval` seconds. It also runs the SLO engine's
//! maintenance — `idgraph.apply_sli_retention()` and `idgraph.refresh_slo_dashboard()` —
//! as soon as those functions exist and then every `idgraph.slo_maintenance_interval`
//! seconds (default an hour). With `idgraph.submission_expiry_enabled` on it rolls back
//! pending submissions older than `idgraph.submission_expiry_age` (reason `expired`) on
//! every wake-up. It writes only on a primary: it is started once recovery has finished
//! (`enable_spi_access`), and each round checks `RecoveryInProgress()` besides.

use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::gucs;

/// Registers the worker (only possible while shared_preload_libraries is processed).
pub fn register() {
    BackgroundWorkerBuilder::new("idgraph centrality refresher")
        .set_function("idgraph_centrality_worker_main")
        .set_library("idgraph")
        .enable_spi_access()
        .set_restart_time(Some(Duration::from_secs(10)))
        .load();
}

/// Entry point of the worker process.
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn idgraph_centrality_worker_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let db = gucs::centrality_database();
    BackgroundWorker::connect_worker_to_spi(Some(&db), None);
    log!("idgraph centrality refresher started for database {db}");
    let mut last_slo_maintenance: Option<Instant> = None;
    loop {
        let interval = gucs::centrality_refresh_interval();
        let nap = Duration::from_secs(interval.clamp(1, 60));
        if !BackgroundWorker::wait_latch(Some(nap)) {
            break;
        }
        if BackgroundWorker::sighup_received() {
            // SAFETY: reloading the configuration file is what a SIGHUP asks for, and the
            // worker is between transactions here.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        // SAFETY: a plain read of shared state Postgres keeps for every backend.
        if unsafe { pg_sys::RecoveryInProgress() } {
            // Never true today (the worker starts after recovery); kept so that a change
            // of start time cannot make it write on a standby.
            continue;
        }
        BackgroundWorker::transaction(|| refresh_if_due(gucs::centrality_refresh_interval()));
        if gucs::submission_expiry_enabled() {
            BackgroundWorker::transaction(expire_submissions);
        }
        let every = Duration::from_secs(gucs::slo_maintenance_interval());
        if last_slo_maintenance.is_none_or(|t| t.elapsed() >= every)
            && BackgroundWorker::transaction(slo_maintenance)
        {
            last_slo_maintenance = Some(Instant::now());
        }
    }
    log!("idgraph centrality refresher stopped");
}

fn refresh_if_due(interval_secs: u64) {
    let installed = Spi::get_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'idgraph')",
    );
    if installed != Ok(Some(true)) {
        return;
    }
    // The last refresh is recorded in idgraph.centrality_state (a refresh writes only the
    // rows that changed, so the rows' own versions do not say when it ran).
    let due = Spi::get_one_with_args::<bool>(
        "SELECT g.topology_version IS DISTINCT FROM r.betweenness_version
            AND coalesce(r.betweenness_computed_at, '-infinity') < now() - make_interval(secs => $1)
           FROM idgraph.graph_state g, idgraph.centrality_state r",
        &[(interval_secs as f64).into()],
    );
    if due == Ok(Some(true)) {
        match Spi::get_one::<JsonB>("SELECT idgraph.refresh_centrality()") {
            Ok(Some(r)) => log!("idgraph centrality refreshed: {}", r.0),
            Ok(None) => {}
            Err(e) => warning!("idgraph centrality refresh failed: {e}"),
        }
    }
}

/// Rolls back pending submissions past `idgraph.submission_expiry_age`, when the installed
/// idgraph has `expire_submissions` (0.2.0 and later).
fn expire_submissions() {
    let present = Spi::get_one::<bool>(
        "SELECT to_regprocedure('idgraph.expire_submissions(interval,integer)') IS NOT NULL",
    );
    if present != Ok(Some(true)) {
        return;
    }
    match Spi::get_one::<i64>("SELECT count(*) FROM idgraph.expire_submissions()") {
        Ok(Some(0)) | Ok(None) => {}
        Ok(Some(n)) => log!("idgraph expired {n} pending submission(s)"),
        Err(e) => warning!("idgraph submission expiry failed: {e}"),
    }
}

/// SLI retention and the dashboard refresh; false while the installed idgraph has no SLO
/// engine (an older version, or none).
fn slo_maintenance() -> bool {
    let present = Spi::get_one::<bool>(
        "SELECT to_regprocedure('idgraph.apply_sli_retention()') IS NOT NULL
            AND to_regprocedure('idgraph.refresh_slo_dashboard()') IS NOT NULL",
    );
    if present != Ok(Some(true)) {
        return false;
    }
    match Spi::get_one::<JsonB>(
        "SELECT idgraph.apply_sli_retention() || idgraph.refresh_slo_dashboard()",
    ) {
        Ok(Some(r)) => log!("idgraph SLO maintenance: {}", r.0),
        Ok(None) => {}
        Err(e) => warning!("idgraph SLO maintenance failed: {e}"),
    }
    true
}
