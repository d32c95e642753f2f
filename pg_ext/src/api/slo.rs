//! The SLO engine: the Rust half of `sql/slo.sql` (TRD FR-2, FR-6, FR-7). Validation and
//! math are `idgraph_core::slo`; caching, lifecycle, alert rules and the dashboard are
//! PL/pgSQL in `sql/slo.sql`; this module moves data between them.

use idgraph_core::depgraph::{AvailabilityOptions, GraphError};
use idgraph_core::slo::{self, DependencyView, RecommendInput, SliType, Window};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};

use crate::error::{IdgraphError, OrRaise};
use crate::{graph_cache, gucs};

fn spi_err(e: pgrx::spi::SpiError) -> IdgraphError {
    IdgraphError::new(
        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        format!("idgraph: {e}"),
    )
}

fn graph_err(e: GraphError) -> IdgraphError {
    e.into()
}

fn now_epoch() -> Result<i64, IdgraphError> {
    Spi::get_one::<f64>("SELECT extract(epoch FROM now())::float8")
        .map_err(spi_err)
        .map(|v| v.unwrap_or(0.0).floor() as i64)
}

/// Records SLI aggregates (FR-6): many services and windows in one call, idempotent per
/// (service, window, start) — a window written again replaces the earlier values. The
/// whole document is validated first; every offending element is named with its path
/// (22023) and nothing is written on any error. Returns what was received, inserted,
/// updated and left unchanged.
///
/// ```sql
/// SELECT idgraph.record_sli('{"source": "prometheus", "windows": [
///   {"service_id": "checkout", "window": "1h", "start": "2026-11-24T10:00:00Z",
///    "good_events": 99950, "total_events": 100000, "latency_p99_ms": 190}]}');
/// ```
// SECURITY DEFINER: the one validated door for SLI writes. The internal it calls
// (_record_sli_apply) trusts its input and is executable by nobody else.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn record_sli(p_doc: JsonB) -> JsonB {
    let now = now_epoch().or_raise();
    let mut errors = Vec::new();
    let rows = match slo::parse_sli_document(&p_doc.0, now) {
        Ok(r) => r,
        Err(e) => {
            errors = e;
            Vec::new()
        }
    };
    drop(p_doc);
    // Unknown services, by path (only when the rest is valid: the paths are then exact).
    if errors.is_empty() && !rows.is_empty() {
        let mut ids: Vec<String> = rows.iter().map(|r| r.service_id.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        let missing = Spi::get_one_with_args::<Vec<String>>(
            "SELECT coalesce(array_agg(x ORDER BY x), '{}') FROM unnest($1::text[]) x
              WHERE NOT EXISTS (SELECT 1 FROM idgraph.services s WHERE s.service_id = x)",
            &[ids.into()],
        )
        .map_err(spi_err)
        .or_raise();
        // coalesce(…, '{}'): never NULL.
        let missing = crate::error::required(missing, "the list of missing services").or_raise();
        if !missing.is_empty() {
            for (i, r) in rows.iter().enumerate() {
                if missing.binary_search(&r.service_id).is_ok() && errors.len() < 1000 {
                    errors.push(idgraph_core::depgraph::ValidationError {
                        path: format!("windows[{i}].service_id"),
                        message: format!("service '{}' does not exist", r.service_id),
                    });
                }
            }
        }
    }
    if !errors.is_empty() {
        let first = errors.first().map(|e| e.to_string()).unwrap_or_default();
        let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        IdgraphError::invalid(format!(
            "invalid SLI document ({} problem{}): {first}",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        ))
        .with_detail(all.join("\n"))
        .with_hint("Nothing was written. Fix every listed element and send the document again.")
        .raise()
    }
    let payload = crate::error::to_value(&rows, "the SLI windows").or_raise();
    let summary = Spi::get_one_with_args::<JsonB>(
        "SELECT idgraph._record_sli_apply($1)",
        &[JsonB(payload).into()],
    )
    .map_err(spi_err)
    .or_raise();
    crate::error::required(summary, "idgraph._record_sli_apply's summary").or_raise()
}

struct ServiceFacts {
    external: bool,
    metadata: Value,
    earliest: Option<i64>,
    now: i64,
}

fn service_facts(service: &str) -> Result<ServiceFacts, IdgraphError> {
    Spi::connect(|client| {
        let rows = client
            .select(
                "SELECT s.kind, s.metadata, extract(epoch FROM now())::float8,
                        (SELECT extract(epoch FROM min(a.window_start))::float8
                           FROM idgraph.sli_aggregates a WHERE a.service_pk = s.service_pk)
                   FROM idgraph.services s WHERE s.service_id = $1",
                Some(1),
                &[service.into()],
            )
            .map_err(spi_err)?;
        let Some(row) = rows.into_iter().next() else {
            return Err(IdgraphError::not_found(format!(
                "service '{service}' does not exist"
            )));
        };
        Ok(ServiceFacts {
            external: row.get::<String>(1).map_err(spi_err)?.as_deref() == Some("external"),
            metadata: crate::error::required(
                row.get::<JsonB>(2).map_err(spi_err)?,
                "services.metadata",
            )?
            .0,
            now: crate::error::required(row.get::<f64>(3).map_err(spi_err)?, "now()")?.floor()
                as i64,
            earliest: row
                .get::<f64>(4)
                .map_err(spi_err)?
                .map(|v| v.floor() as i64),
        })
    })
}

/// The windows of one service in `[start, end)` at its finest granularity there (1h when
/// any 1h window exists, else 1d), ascending.
fn windows(service: &str, start: i64, end: i64) -> Result<(i64, Vec<Window>), IdgraphError> {
    Spi::connect(|client| {
        let rows = client
            .select(
                "WITH w AS (
                   SELECT a.* FROM idgraph.sli_aggregates a
                     JOIN idgraph.services s ON s.service_pk = a.service_pk
                    WHERE s.service_id = $1
                      AND a.window_start >= to_timestamp($2) AND a.window_start < to_timestamp($3))
                 SELECT extract(epoch FROM w.window_start)::int8, w.good_events, w.total_events,
                        w.latency_p99_ms, w.window_size
                   FROM w WHERE w.window_size = (SELECT max(window_size) FROM w)
                  ORDER BY w.window_start",
                None,
                &[service.into(), (start as f64).into(), (end as f64).into()],
            )
            .map_err(spi_err)?;
        let mut out = Vec::with_capacity(rows.len());
        let mut secs = 3600;
        for (i, row) in rows.enumerate() {
            if i % 4096 == 0 {
                check_for_interrupts!();
            }
            if i == 0 && row.get::<String>(5).map_err(spi_err)?.as_deref() == Some("1d") {
                secs = 86_400;
            }
            out.push(Window {
                start: crate::error::required(
                    row.get::<i64>(1).map_err(spi_err)?,
                    "sli_aggregates.window_start",
                )?,
                good: row.get::<i64>(2).map_err(spi_err)?,
                total: row.get::<i64>(3).map_err(spi_err)?,
                p99_ms: row.get::<f64>(4).map_err(spi_err)?,
            });
        }
        Ok((secs, out))
    })
}

/// Internal (called by `idgraph.slo_recommendations`, which caches): computes the FR-2
/// recommendation body for a service from its SLI history and its dependency graph.
#[pg_extern(stable)]
pub fn _slo_compute(p_service: &str, p_sli_type: &str, p_lookback_days: i32) -> JsonB {
    let sli = SliType::parse(p_sli_type)
        .ok_or_else(|| {
            IdgraphError::invalid(format!(
                "sli_type must be 'all', 'availability' or 'latency', got '{p_sli_type}'"
            ))
        })
        .or_raise();
    let days = u32::try_from(p_lookback_days)
        .ok()
        .filter(|d| (7..=365).contains(d))
        .ok_or_else(|| {
            IdgraphError::invalid(format!(
                "lookback_days must be between 7 and 365, got {p_lookback_days}"
            ))
        })
        .or_raise();
    let snap = graph_cache::snapshot().or_raise();
    let deps = DependencyView::of(&snap.graph, p_service, &AvailabilityOptions::default())
        .map_err(graph_err)
        .or_raise();
    let facts = service_facts(p_service).or_raise();
    let lookback = slo::effective_lookback(days, facts.earliest, facts.now);
    let (window_secs, ws) = windows(p_service, lookback.start, lookback.end).or_raise();
    let input = RecommendInput {
        service_id: p_service,
        sli_type: sli,
        lookback,
        window_secs,
        windows: &ws,
        deps: &deps,
        archetype: slo::archetype_of(p_service, facts.external, &facts.metadata),
        noise_margin: gucs::slo_noise_margin(),
        now: facts.now,
    };
    let mut body = slo::recommend(&input);
    if let Value::Object(m) = &mut body {
        m.insert("graph_version".into(), json!(snap.key.0));
    }
    JsonB(body)
}
