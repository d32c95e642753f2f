//! SLO recommendations (FR-2 computation pipeline, FR-7 explanations), exactly:
//!
//! **Windows.** The SLI history of one service at one granularity (1h windows when the
//! lookback has any, else 1d), each window weighing the same. A window's availability is
//! `good_events / total_events` (windows without traffic carry no availability value);
//! its latency is its p99 in ms.
//!
//! **Quantiles** are Hyndman–Fan type 7 over the window values (see `stats::quantile`).
//!
//! **Availability tiers** (fractions, rounded *down* to 0.00001, within [0.0001, 0.99999]):
//! - conservative = Q(0.001) of window availabilities — met by 99.9% of windows ("p99.9");
//! - balanced = min(Q(0.01), B) — met by 99% of windows ("p99"), capped by B, the composite
//!   availability of the service's hard dependencies (FR-3 math: composite ÷ the service's
//!   own factor);
//! - aggressive = Q(0.05) — met by 95% of windows ("p95").
//! - error budget per month = (1 − target) × 43,830 minutes (an average month: 365.25 / 12
//!   = 30.4375 days), rounded to 0.01 min;
//! - estimated breach probability = share of windows whose availability is below the target;
//! - confidence interval: percentile bootstrap, 1,000 resamples of the windows drawn by
//!   SplitMix64 from a fixed seed (same data, same interval), 2.5th–97.5th percentile of the
//!   tier's statistic, rounded like the target.
//!
//! **Latency tiers** (ms, rounded up to whole ms), over the windows' p99 latency, with a
//! noise margin m (default 5%): conservative = Q(0.999)·(1 + m), balanced = Q(0.99)·(1 + m),
//! aggressive = Q(0.95); breach probability = share of windows above the target.
//!
//! **Cold start.** With less than 30 days of data (since the service's first window) the
//! lookback is extended to 90 days. A type with fewer than 7 days' worth of windows in
//! the lookback (168 hourly, 7 daily) uses the TRD archetype baseline instead
//! (API gateway 99.95% / 200 ms, backend 99.9% / 500 ms, external integration 99.5% /
//! 2,000 ms; balanced = baseline, conservative = twice the error budget / 1.5× the
//! latency, aggressive = half the budget / 0.75× the latency), still capped by B, with
//! no breach probability or interval and a low confidence.
//!
//! **Attribution** (FR-7, no ML): the share of the gap between the balanced target T and
//! 100% that each factor accounts for, in log-availability (products become sums):
//! data_completeness = 1 − completeness; the rest r is split over L = −ln T as
//! hard dependencies (internal) = −ln(B / E)/L, external dependencies = −ln E/L (E = the
//! product of the externals' availabilities as the composite uses them), both scaled
//! down together when they exceed L, and own history (or the archetype baseline) = the
//! remainder. Shares are rounded to 4 decimals and sum to exactly 1 (the largest absorbs
//! the rounding). Latency: data_completeness = 1 − completeness, the rest split between
//! the historical p99 (1/(1 + m)) and the noise margin (m/(1 + m)).
//!
//! **Counterfactuals**: the balanced target recomputed with the bottleneck dependency
//! one nine better (1 − (1 − a)/10) and one nine worse (1 − 10·(1 − a)).
//!
//! **Confidence** (per recommendation, and their minimum overall) = completeness × the
//! composite's confidence × 0.7 on a cold start, at most 0.3 when an archetype was used.

use serde_json::{json, Value};

use super::stats::{bootstrap_quantiles, quantile, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED};
use super::time::format_rfc3339;
use crate::depgraph::{
    composite, dependency_bound_what_if, AvailabilityOptions, Graph, GraphError,
};

/// Minutes of an average month: 365.25 / 12 = 30.4375 days × 1,440.
pub const AVERAGE_MONTH_MINUTES: f64 = 43_830.0;
/// Less data than this (days since the first window) is a cold start.
pub const COLD_START_DAYS: f64 = 30.0;
/// A cold start's lookback.
pub const COLD_START_LOOKBACK_DAYS: u32 = 90;
/// Fewer days' worth of windows than this: archetype baseline.
pub const MIN_HISTORY_DAYS: i64 = 7;
/// Default latency noise margin (TRD: 5–10% for shared infrastructure).
pub const DEFAULT_NOISE_MARGIN: f64 = 0.05;

const TIERS: [(&str, f64, &str); 3] = [
    ("conservative", 0.001, "p99.9"),
    ("balanced", 0.01, "p99"),
    ("aggressive", 0.05, "p95"),
];

/// Which SLI types to recommend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliType {
    All,
    Availability,
    Latency,
}

impl SliType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all" => Some(Self::All),
            "availability" => Some(Self::Availability),
            "latency" => Some(Self::Latency),
            _ => None,
        }
    }
    fn availability(self) -> bool {
        self != Self::Latency
    }
    fn latency(self) -> bool {
        self != Self::Availability
    }
}

/// One SLI window as stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start: i64,
    pub good: Option<i64>,
    pub total: Option<i64>,
    pub p99_ms: Option<f64>,
}

/// The lookback actually used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lookback {
    pub requested_days: u32,
    pub days: u32,
    pub start: i64,
    pub end: i64,
    pub extended: bool,
    /// Days from the service's first window to the end (0 without data).
    pub data_days: f64,
}

/// The lookback ending at the start of the current hour; extended to 90 days when the
/// service has less than 30 days of data (`earliest` = its first window start).
pub fn effective_lookback(requested_days: u32, earliest: Option<i64>, now: i64) -> Lookback {
    let end = now.div_euclid(3600) * 3600;
    let data_days = earliest
        .map(|e| ((end - e) as f64 / 86_400.0).max(0.0))
        .unwrap_or(0.0);
    let extended = data_days < COLD_START_DAYS && requested_days < COLD_START_LOOKBACK_DAYS;
    let days = if extended {
        COLD_START_LOOKBACK_DAYS
    } else {
        requested_days
    };
    Lookback {
        requested_days,
        days,
        start: end - i64::from(days) * 86_400,
        end,
        extended,
        data_days,
    }
}

/// TRD cold-start archetypes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archetype {
    Gateway,
    Backend,
    ExternalIntegration,
}

impl Archetype {
    pub fn name(self) -> &'static str {
        match self {
            Self::Gateway => "api_gateway",
            Self::Backend => "backend_service",
            Self::ExternalIntegration => "external_integration",
        }
    }
    pub fn availability(self) -> f64 {
        match self {
            Self::Gateway => 0.9995,
            Self::Backend => 0.999,
            Self::ExternalIntegration => 0.995,
        }
    }
    pub fn latency_p99_ms(self) -> f64 {
        match self {
            Self::Gateway => 200.0,
            Self::Backend => 500.0,
            Self::ExternalIntegration => 2000.0,
        }
    }
}

/// The archetype from service metadata: `metadata.archetype`, `.type`, `.service_type`
/// or `.tier` mentioning "gateway" or "external"; else an external service (kind or
/// `metadata.external: true`) is an external integration, a service id mentioning
/// "gateway" a gateway, anything else a backend service.
pub fn archetype_of(service_id: &str, external: bool, metadata: &Value) -> Archetype {
    for key in ["archetype", "type", "service_type", "tier"] {
        if let Some(s) = metadata.get(key).and_then(Value::as_str) {
            let s = s.to_ascii_lowercase();
            if s.contains("gateway") {
                return Archetype::Gateway;
            }
            if s.contains("external") {
                return Archetype::ExternalIntegration;
            }
        }
    }
    if external || metadata.get("external").and_then(Value::as_bool) == Some(true) {
        Archetype::ExternalIntegration
    } else if service_id.to_ascii_lowercase().contains("gateway") {
        Archetype::Gateway
    } else {
        Archetype::Backend
    }
}

/// A what-if run of the dependency bound.
#[derive(Debug, Clone, PartialEq)]
pub struct Counterfactual {
    pub change: &'static str,
    pub availability: f64,
    pub bound: f64,
}

/// What the recommendation needs from the dependency graph.
#[derive(Debug, Clone, PartialEq)]
pub struct DependencyView {
    /// Composite availability of the hard dependencies alone (composite ÷ own factor).
    pub bound: f64,
    /// Product of the externals' availabilities in the closure (≥ bound).
    pub external_bound: f64,
    pub hard_dependencies: usize,
    /// The weakest hard dependency (service id, availability used).
    pub bottleneck: Option<(String, f64)>,
    pub externals: Vec<(String, f64)>,
    pub counterfactuals: Vec<Counterfactual>,
    pub confidence: f64,
    pub missing_data: Vec<String>,
}

fn one_nine(a: f64, better: bool) -> f64 {
    if better {
        1.0 - (1.0 - a) / 10.0
    } else {
        (1.0 - (1.0 - a) * 10.0).max(0.0)
    }
}

impl DependencyView {
    /// From the composite math of `idgraph-core` (FR-3) on `g`.
    pub fn of(g: &Graph, service: &str, opts: &AvailabilityOptions) -> Result<Self, GraphError> {
        let c = composite(g, service, None, opts)?;
        let ratio = |c: f64, own: f64| if own > 0.0 { (c / own).min(1.0) } else { c };
        let bound = ratio(c.composite_availability, c.self_availability);
        let externals: Vec<(String, f64)> = c
            .external
            .iter()
            .map(|e| (e.service_id.clone(), e.availability_used))
            .collect();
        let external_bound = externals
            .iter()
            .map(|e| e.1)
            .product::<f64>()
            .max(bound)
            .min(1.0);
        let named = c
            .bottleneck
            .as_deref()
            .and_then(|b| c.hard_dependencies.iter().find(|d| d.service_id == b));
        let weakest = c.hard_dependencies.iter().min_by(|a, b| {
            a.availability
                .total_cmp(&b.availability)
                .then_with(|| a.service_id.cmp(&b.service_id))
        });
        let bottleneck = named
            .or(weakest)
            .map(|d| (d.service_id.clone(), d.availability));
        let mut counterfactuals = Vec::new();
        if let Some((b, a)) = &bottleneck {
            let changes: Vec<(&'static str, f64)> =
                [("one nine better", true), ("one nine worse", false)]
                    .into_iter()
                    .map(|(change, better)| (change, one_nine(*a, better)))
                    .filter(|(_, a2)| a2 != a)
                    .collect();
            let values: Vec<f64> = changes.iter().map(|c| c.1).collect();
            let bounds = dependency_bound_what_if(g, service, opts, b, &values)?;
            for ((change, a2), bound) in changes.into_iter().zip(bounds) {
                counterfactuals.push(Counterfactual {
                    change,
                    availability: a2,
                    bound,
                });
            }
        }
        Ok(Self {
            bound,
            external_bound,
            hard_dependencies: c.hard_dependencies.len(),
            bottleneck,
            externals,
            counterfactuals,
            confidence: c.confidence,
            missing_data: c.missing_data,
        })
    }

    /// No dependencies (a service alone).
    pub fn none() -> Self {
        Self {
            bound: 1.0,
            external_bound: 1.0,
            hard_dependencies: 0,
            bottleneck: None,
            externals: Vec::new(),
            counterfactuals: Vec::new(),
            confidence: 1.0,
            missing_data: Vec::new(),
        }
    }
}

/// Everything one recommendation is computed from.
#[derive(Debug, Clone)]
pub struct RecommendInput<'a> {
    pub service_id: &'a str,
    pub sli_type: SliType,
    pub lookback: Lookback,
    /// 3600 or 86400.
    pub window_secs: i64,
    /// Ascending by start, inside the lookback.
    pub windows: &'a [Window],
    pub deps: &'a DependencyView,
    pub archetype: Archetype,
    pub noise_margin: f64,
    pub now: i64,
}

/// Rounds an availability target down to 0.00001 (the epsilon keeps 0.999 from becoming
/// 0.99899 through binary representation), within [0.0001, 0.99999].
fn target(x: f64) -> f64 {
    ((x * 1e5 + 1e-6).floor() / 1e5).clamp(0.0001, 0.99999)
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

fn ceil_ms(x: f64) -> f64 {
    (x - 1e-9).ceil().max(1.0)
}

/// A fraction as a percentage for prose: up to 3 decimals, trailing zeros dropped.
fn pct(x: f64) -> String {
    let s = format!("{:.3}", x * 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

fn budget_minutes(t: f64) -> f64 {
    round_to((1.0 - t) * AVERAGE_MONTH_MINUTES, 2)
}

/// Shares that sum to exactly 1 after rounding to 4 decimals (the largest absorbs the
/// difference), sorted by contribution, then name.
fn shares(raw: Vec<(&'static str, f64)>) -> Vec<Value> {
    let total: f64 = raw.iter().map(|r| r.1.max(0.0)).sum();
    let mut v: Vec<(&str, f64)> = raw
        .into_iter()
        .map(|(n, x)| {
            (
                n,
                if total > 0.0 {
                    round_to(x.max(0.0) / total, 4)
                } else {
                    0.0
                },
            )
        })
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let sum: f64 = v.iter().map(|x| x.1).sum();
    if let Some(first) = v.first_mut() {
        first.1 = round_to(first.1 + (1.0 - sum), 4);
    }
    v.into_iter()
        .map(|(n, x)| json!({"feature": n, "contribution": x}))
        .collect()
}

struct Quality {
    completeness: f64,
    gaps: Vec<Value>,
    gap_count: usize,
    expected: i64,
}

fn quality(input: &RecommendInput) -> Quality {
    let lb = &input.lookback;
    let w = input.window_secs;
    let first = input.windows.first().map(|x| x.start);
    // Completeness counts from the lookback start, or from the first window when the
    // service is younger than the lookback.
    let span_start = match first {
        Some(f) if lb.data_days < f64::from(lb.days) => f.max(lb.start),
        _ => lb.start,
    };
    let expected = ((lb.end - span_start) / w).max(1);
    let present = input
        .windows
        .iter()
        .filter(|x| x.start >= span_start && x.start < lb.end)
        .count() as i64;
    let completeness = (present as f64 / expected as f64).min(1.0);
    let mut gaps = Vec::new();
    let mut gap_count = 0;
    let mut t = span_start;
    let mut push_gap = |from: i64, to: i64| {
        if to > from {
            gap_count += 1;
            if gaps.len() < 20 {
                gaps.push(
                    json!({"start": format_rfc3339(from), "end": format_rfc3339(to),
                                 "missing_windows": (to - from) / w}),
                );
            }
        }
    };
    for x in input.windows {
        if x.start < t {
            continue;
        }
        push_gap(t, x.start);
        t = x.start + w;
    }
    push_gap(t, lb.end);
    Quality {
        completeness,
        gaps,
        gap_count,
        expected,
    }
}

/// The FR-2 response body (without the fields of the stored recommendation: id, expiry,
/// graph version, cache state), fractions for availability.
pub fn recommend(input: &RecommendInput) -> Value {
    let q = quality(input);
    let min_windows = (MIN_HISTORY_DAYS * 86_400 / input.window_secs).max(1) as usize;
    let mut avail: Vec<f64> = input
        .windows
        .iter()
        .filter_map(|w| match (w.good, w.total) {
            (Some(g), Some(t)) if t > 0 => Some(g as f64 / t as f64),
            _ => None,
        })
        .collect();
    avail.sort_by(f64::total_cmp);
    let mut lat: Vec<f64> = input.windows.iter().filter_map(|w| w.p99_ms).collect();
    lat.sort_by(f64::total_cmp);

    let cold = input.lookback.data_days < COLD_START_DAYS;
    let base_confidence = q.completeness * input.deps.confidence * if cold { 0.7 } else { 1.0 };
    let mut recs = Vec::new();
    // (type, windows with a value) of the types that fell back to the archetype
    let mut thin: Vec<(&str, usize)> = Vec::new();
    let mut confidence: f64 = 1.0;
    for (wanted, name, n) in [
        (input.sli_type.availability(), "availability", avail.len()),
        (input.sli_type.latency(), "latency", lat.len()),
    ] {
        if !wanted {
            continue;
        }
        let from_history = n >= min_windows;
        let c = if from_history {
            base_confidence
        } else {
            thin.push((name, n));
            base_confidence.min(0.3)
        };
        confidence = confidence.min(c);
        let mut rec = if name == "availability" {
            availability(input, &q, &avail, from_history)
        } else {
            latency(input, &q, &lat, from_history)
        };
        if let Value::Object(m) = &mut rec {
            m.insert("confidence".into(), json!(round_to(c, 4)));
        }
        recs.push(rec);
    }
    let archetype_used = !thin.is_empty();
    let days_of_data = input.lookback.data_days.min(f64::from(input.lookback.days));
    let window_name = if input.window_secs == 3600 {
        "1h"
    } else {
        "1d"
    };
    let note = if archetype_used {
        let what: Vec<String> = thin
            .iter()
            .map(|(t, n)| format!("{t} ({n} {window_name} windows with values)"))
            .collect();
        format!(
            "Insufficient data for {} over {} days (at least {MIN_HISTORY_DAYS} days' worth of windows needed): the {} archetype baseline is used. Low confidence; re-evaluated as data accumulates.",
            what.join(" and "), round_to(days_of_data, 1), input.archetype.name().replace('_', " ")
        )
    } else if cold {
        format!(
            "Cold start: only {} days of data, lookback extended to {} days, {}% completeness. Low confidence until 30 days of data exist.",
            round_to(days_of_data, 1), input.lookback.days, pct(q.completeness)
        )
    } else {
        format!(
            "Based on {} days of {window_name} windows with {}% completeness",
            input.lookback.days,
            pct(q.completeness)
        )
    };
    json!({
        "service_id": input.service_id,
        "generated_at": format_rfc3339(input.now),
        "lookback_window": {
            "start": format_rfc3339(input.lookback.start),
            "end": format_rfc3339(input.lookback.end),
            "days": input.lookback.days,
            "requested_days": input.lookback.requested_days,
            "extended": input.lookback.extended,
        },
        "data_quality": {
            "data_completeness": round_to(q.completeness, 4),
            "telemetry_gaps": q.gaps,
            "gap_count": q.gap_count,
            "confidence_note": note,
            "confidence": round_to(confidence, 4),
            "window_size": window_name,
            "windows": input.windows.len(),
            "expected_windows": q.expected,
            "days_of_data": round_to(days_of_data, 1),
            "cold_start": cold,
            "archetype": if archetype_used { json!(input.archetype.name()) } else { Value::Null },
        },
        "confidence": round_to(confidence, 4),
        "recommendations": recs,
    })
}

fn breach_below(sorted: &[f64], t: f64) -> f64 {
    let n = sorted.partition_point(|&v| v < t);
    round_to(n as f64 / sorted.len().max(1) as f64, 4)
}

fn breach_above(sorted: &[f64], t: f64) -> f64 {
    let n = sorted.len() - sorted.partition_point(|&v| v <= t);
    round_to(n as f64 / sorted.len().max(1) as f64, 4)
}

fn availability(input: &RecommendInput, q: &Quality, vals: &[f64], from_history: bool) -> Value {
    let d = input.deps;
    let bound = d.bound;
    let base_balanced = |bal_raw: f64, b: f64| target(bal_raw.min(b));
    let mut tiers = serde_json::Map::new();
    let balanced_raw;
    let balanced;
    if from_history {
        let qs: Vec<f64> = TIERS
            .iter()
            .map(|t| quantile(vals, t.1).unwrap_or(0.0))
            .collect();
        balanced_raw = qs[1];
        let ci = bootstrap_quantiles(
            vals,
            &[TIERS[0].1, TIERS[1].1, TIERS[2].1],
            BOOTSTRAP_RESAMPLES,
            BOOTSTRAP_SEED,
            |j, v| {
                if j == 1 {
                    target(v.min(bound))
                } else {
                    target(v)
                }
            },
        )
        .unwrap_or_default();
        balanced = base_balanced(qs[1], bound);
        for (i, (name, _, pctl)) in TIERS.iter().enumerate() {
            let t = if i == 1 { balanced } else { target(qs[i]) };
            let (lo, hi) = ci.get(i).copied().unwrap_or((t, t));
            tiers.insert(
                (*name).into(),
                json!({"target": t, "percentile": pctl,
                       "error_budget_monthly_minutes": budget_minutes(t),
                       "estimated_breach_probability": breach_below(vals, t),
                       "confidence_interval": [lo, hi]}),
            );
        }
    } else {
        let b = input.archetype.availability();
        balanced_raw = b;
        balanced = base_balanced(b, bound);
        for (name, t) in [
            ("conservative", target(1.0 - 2.0 * (1.0 - b))),
            ("balanced", balanced),
            ("aggressive", target(1.0 - (1.0 - b) / 2.0)),
        ] {
            tiers.insert(
                name.into(),
                json!({"target": t, "percentile": Value::Null,
                       "error_budget_monthly_minutes": budget_minutes(t),
                       "estimated_breach_probability": Value::Null,
                       "confidence_interval": Value::Null}),
            );
        }
    }
    let capped = bound < balanced_raw;
    let (good, total) =
        input
            .windows
            .iter()
            .fold((0i64, 0i64), |(g, t), w| match (w.good, w.total) {
                (Some(a), Some(b)) => (g.saturating_add(a), t.saturating_add(b)),
                _ => (g, t),
            });
    let observed = if total > 0 {
        Some(good as f64 / total as f64)
    } else {
        None
    };

    // Attribution over L = −ln T.
    let completeness_share = (1.0 - q.completeness).clamp(0.0, 1.0);
    let rest = 1.0 - completeness_share;
    let l = -balanced.ln();
    let mut le = -d.external_bound.ln();
    let mut ld = (-bound.ln() - le).max(0.0);
    if ld + le > l && ld + le > 0.0 {
        let s = l / (ld + le);
        ld *= s;
        le *= s;
    }
    let own = (l - ld - le).max(0.0);
    let own_name = if from_history {
        "historical_availability"
    } else {
        "archetype_baseline"
    };
    let raw = if l > 0.0 {
        vec![
            (own_name, rest * own / l),
            ("hard_dependencies_composite_bound", rest * ld / l),
            ("external_dependencies", rest * le / l),
            ("data_completeness", completeness_share),
        ]
    } else {
        vec![
            (own_name, rest),
            ("hard_dependencies_composite_bound", 0.0),
            ("external_dependencies", 0.0),
            ("data_completeness", completeness_share),
        ]
    };

    let bottleneck = d.bottleneck.as_ref().map(|(s, a)| {
        let share = (1.0 - a) / (1.0 - balanced);
        json!({"service_id": s, "availability": a, "error_budget_share": round_to(share, 4)})
    });
    let counterfactuals: Vec<Value> = d
        .counterfactuals
        .iter()
        .map(|c| {
            let t2 = base_balanced(balanced_raw, c.bound);
            let b = d.bottleneck.as_ref().map(|x| x.0.as_str()).unwrap_or("");
            let verb = if c.change == "one nine better" {
                "improved"
            } else {
                "degraded"
            };
            let result = if (t2 - balanced).abs() < 1e-12 {
                format!("Balanced target would stay at {}%", pct(balanced))
            } else if t2 > balanced {
                format!("Balanced target would increase to {}%", pct(t2))
            } else {
                format!("Balanced target would decrease to {}%", pct(t2))
            };
            json!({"dependency": b, "change": c.change, "availability": c.availability,
                   "condition": format!("If {b} {verb} to {}%", pct(c.availability)),
                   "composite_availability_bound": c.bound,
                   "recommended_target": t2, "delta": round_to(t2 - balanced, 5),
                   "result": result})
        })
        .collect();
    let window_name = if input.window_secs == 3600 {
        "1h"
    } else {
        "1d"
    };
    let mut summary = match observed {
        Some(o) if from_history => format!(
            "{} achieved {}% availability over {} days ({} {window_name} windows). The Balanced target of {}% provides {} percentage points of margin.",
            input.service_id, pct(o), input.lookback.days, vals.len(), pct(balanced),
            pct(o - balanced)
        ),
        _ => format!(
            "{} has too little availability history; the Balanced target of {}% is the {} archetype baseline.",
            input.service_id, pct(balanced), input.archetype.name().replace('_', " ")
        ),
    };
    summary.push_str(&format!(
        " Composite availability bound is {}% given {} hard dependenc{}.",
        pct(bound),
        d.hard_dependencies,
        if d.hard_dependencies == 1 { "y" } else { "ies" }
    ));
    if capped {
        summary.push_str(" The Balanced target is capped by that bound.");
    }
    json!({
        "sli_type": "availability",
        "metric": "error_rate",
        "basis": if from_history { "history" } else { "archetype" },
        "tiers": tiers,
        "observed": {"availability": observed, "windows": vals.len(),
                     "good_events": good, "total_events": total},
        "explanation": {
            "summary": summary,
            "feature_attribution": shares(raw),
            "dependency_impact": {
                "composite_availability_bound": bound,
                "capped_by_bound": capped,
                "hard_dependencies": d.hard_dependencies,
                "bottleneck_service": d.bottleneck.as_ref().map(|b| b.0.clone()),
                "bottleneck": bottleneck,
                "bottleneck_contribution": d.bottleneck.as_ref().map(|(s, a)| format!(
                    "{s} consumes {}% of the error budget at a {}% target",
                    pct((1.0 - a) / (1.0 - balanced)), pct(balanced))),
                "external_error_budget": d.externals.iter().map(|(s, a)| json!({
                    "service_id": s, "availability_used": a,
                    "error_budget_share": round_to((1.0 - a) / (1.0 - balanced), 4)})).collect::<Vec<_>>(),
                "missing_data": d.missing_data,
            },
            "counterfactuals": counterfactuals,
        },
    })
}

fn latency(input: &RecommendInput, q: &Quality, vals: &[f64], from_history: bool) -> Value {
    let m = input.noise_margin;
    let mut tiers = serde_json::Map::new();
    let balanced;
    if from_history {
        let up = [0.999, 0.99, 0.95];
        let mut ts = [0.0; 3];
        for (i, (name, _, pctl)) in TIERS.iter().enumerate() {
            let qv = quantile(vals, up[i]).unwrap_or(0.0);
            let t = ceil_ms(if i < 2 { qv * (1.0 + m) } else { qv });
            ts[i] = t;
            tiers.insert(
                (*name).into(),
                json!({"target_ms": t, "percentile": pctl,
                       "estimated_breach_probability": breach_above(vals, t)}),
            );
        }
        balanced = ts[1];
    } else {
        let b = input.archetype.latency_p99_ms();
        balanced = b;
        for (name, t) in [
            ("conservative", b * 1.5),
            ("balanced", b),
            ("aggressive", b * 0.75),
        ] {
            tiers.insert(
                name.into(),
                json!({"target_ms": ceil_ms(t), "percentile": "p99",
                       "estimated_breach_probability": Value::Null}),
            );
        }
    }
    let completeness_share = (1.0 - q.completeness).clamp(0.0, 1.0);
    let rest = 1.0 - completeness_share;
    let raw = if from_history {
        vec![
            ("p99_latency_historical", rest / (1.0 + m)),
            ("noise_margin", rest * m / (1.0 + m)),
            ("data_completeness", completeness_share),
        ]
    } else {
        vec![
            ("archetype_baseline", rest),
            ("data_completeness", completeness_share),
        ]
    };
    let summary = if from_history {
        format!(
            "Per-window p99 latency of {} over {} days: {} ms at the 95th and {} ms at the 99th percentile of windows. The Balanced target of {} ms includes a {}% noise margin.",
            input.service_id, input.lookback.days,
            round_to(quantile(vals, 0.95).unwrap_or(0.0), 1),
            round_to(quantile(vals, 0.99).unwrap_or(0.0), 1), balanced, pct(m)
        )
    } else {
        format!(
            "{} has too little latency history; the Balanced target of {} ms is the {} archetype baseline.",
            input.service_id, balanced, input.archetype.name().replace('_', " ")
        )
    };
    json!({
        "sli_type": "latency",
        "metric": "p99_response_time_ms",
        "basis": if from_history { "history" } else { "archetype" },
        "noise_margin": m,
        "tiers": tiers,
        "observed": {"windows": vals.len(),
                     "p99_ms_median": quantile(vals, 0.5).map(|v| round_to(v, 3))},
        "explanation": {
            "summary": summary,
            "feature_attribution": shares(raw),
            "note": "Latency SLO derived from measured per-window p99 latency, not mathematical composition (percentiles are non-additive).",
        },
    })
}

#[cfg(test)]
mod tests;
