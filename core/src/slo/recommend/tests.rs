//! Recommendations against hand-computed values (see the module docs for each formula).

use super::*;
use crate::depgraph::{Criticality, DiscoverySource, EdgeObservation, Kind, Mode, Service};
use proptest::prelude::*;

const NOW: i64 = 1_795_514_400 + 1800; // 2026-11-24T10:30:00Z; lookbacks end at 10:00
const HOUR: i64 = 3600;

fn lb(days: u32) -> Lookback {
    effective_lookback(days, Some(NOW - 400 * 86_400), NOW)
}

/// Hourly windows ending at the lookback end, 10,000 events each, `good[i]` good ones.
fn hourly(good: &[i64], end: i64) -> Vec<Window> {
    let n = good.len() as i64;
    good.iter()
        .enumerate()
        .map(|(i, &g)| Window {
            start: end - (n - i as i64) * HOUR,
            good: Some(g),
            total: Some(10_000),
            p99_ms: None,
        })
        .collect()
}

fn input<'a>(
    windows: &'a [Window],
    deps: &'a DependencyView,
    lookback: Lookback,
) -> RecommendInput<'a> {
    RecommendInput {
        service_id: "checkout",
        sli_type: SliType::Availability,
        lookback,
        window_secs: HOUR,
        windows,
        deps,
        archetype: Archetype::Backend,
        noise_margin: DEFAULT_NOISE_MARGIN,
        now: NOW,
    }
}

/// 720 hourly windows: 3 at 0.9, 7 at 0.995, 10 at 0.999, 700 at 1.0.
fn thirty_days() -> Vec<i64> {
    let mut g = vec![9000; 3];
    g.extend([9950; 7]);
    g.extend([9990; 10]);
    g.extend([10_000; 700]);
    g
}

fn deps(bound: f64, external: f64) -> DependencyView {
    DependencyView {
        bound,
        external_bound: external,
        hard_dependencies: 3,
        bottleneck: Some(("stripe".into(), external)),
        externals: vec![("stripe".into(), external)],
        counterfactuals: vec![],
        confidence: 1.0,
        missing_data: vec![],
    }
}

fn tier<'a>(v: &'a Value, i: usize, t: &str) -> &'a Value {
    &v["recommendations"][i]["tiers"][t]
}

fn attribution(v: &Value, i: usize) -> Vec<(String, f64)> {
    v["recommendations"][i]["explanation"]["feature_attribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["feature"].as_str().unwrap().to_owned(),
                a["contribution"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn average_month() {
    assert_eq!(AVERAGE_MONTH_MINUTES, 30.4375 * 1440.0);
}

#[test]
fn availability_tiers_by_hand() {
    let l = lb(30);
    let w = hourly(&thirty_days(), l.end);
    let d = deps(0.998, 0.999);
    let v = recommend(&input(&w, &d, l));
    // n = 720, h = 719·p. Q(0.001): h = 0.719 between two 0.9s -> 0.9.
    assert_eq!(tier(&v, 0, "conservative")["target"], 0.9);
    assert_eq!(
        tier(&v, 0, "conservative")["error_budget_monthly_minutes"],
        4383.0
    );
    assert_eq!(
        tier(&v, 0, "conservative")["estimated_breach_probability"],
        0.0
    );
    // Q(0.01): h = 7.19, x[7] = x[8] = 0.995; below the bound 0.998.
    assert_eq!(tier(&v, 0, "balanced")["target"], 0.995);
    assert_eq!(
        tier(&v, 0, "balanced")["error_budget_monthly_minutes"],
        219.15
    );
    // 3 of 720 windows below 0.995.
    assert_eq!(
        tier(&v, 0, "balanced")["estimated_breach_probability"],
        0.0042
    );
    // Q(0.05): h = 35.95 -> 1.0, clamped to 0.99999; 20 windows below.
    assert_eq!(tier(&v, 0, "aggressive")["target"], 0.99999);
    assert_eq!(
        tier(&v, 0, "aggressive")["error_budget_monthly_minutes"],
        0.44
    );
    assert_eq!(
        tier(&v, 0, "aggressive")["estimated_breach_probability"],
        0.0278
    );
    let dq = &v["data_quality"];
    assert_eq!(dq["data_completeness"], 1.0);
    assert_eq!(dq["gap_count"], 0);
    assert_eq!(dq["cold_start"], false);
    assert_eq!(v["lookback_window"]["end"], "2026-11-24T10:00:00Z");
    assert_eq!(v["lookback_window"]["start"], "2026-10-25T10:00:00Z");
    // Attribution over L = −ln 0.995: externals −ln 0.999, internal −ln 0.998 − that.
    assert_eq!(
        attribution(&v, 0),
        vec![
            ("historical_availability".to_owned(), 0.6006),
            ("hard_dependencies_composite_bound".to_owned(), 0.1998),
            ("external_dependencies".to_owned(), 0.1996),
            ("data_completeness".to_owned(), 0.0),
        ]
    );
    let di = &v["recommendations"][0]["explanation"]["dependency_impact"];
    assert_eq!(di["composite_availability_bound"], 0.998);
    assert_eq!(di["capped_by_bound"], false);
    // (1 − 0.999) / (1 − 0.995) = 0.2
    assert_eq!(di["bottleneck"]["error_budget_share"], 0.2);
    // the intervals bracket the targets and are ordered
    for t in ["conservative", "balanced", "aggressive"] {
        let ci = tier(&v, 0, t)["confidence_interval"]
            .as_array()
            .unwrap()
            .clone();
        let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
        assert!(lo <= hi, "{t}: {lo} {hi}");
    }
}

#[test]
fn balanced_is_capped_by_the_composite_bound() {
    let l = lb(30);
    let w = hourly(&thirty_days(), l.end);
    let d = deps(0.99, 0.995);
    let v = recommend(&input(&w, &d, l));
    assert_eq!(tier(&v, 0, "balanced")["target"], 0.99);
    assert_eq!(
        tier(&v, 0, "balanced")["estimated_breach_probability"],
        0.0042
    );
    assert_eq!(
        tier(&v, 0, "balanced")["error_budget_monthly_minutes"],
        438.3
    );
    // the interval of a capped tier never exceeds the cap
    let ci = tier(&v, 0, "balanced")["confidence_interval"]
        .as_array()
        .unwrap()
        .clone();
    assert!(ci[1].as_f64().unwrap() <= 0.99);
    assert_eq!(
        v["recommendations"][0]["explanation"]["dependency_impact"]["capped_by_bound"],
        true
    );
    // L = −ln 0.99 = −ln B: all of it is dependencies; −ln 0.995 of it external.
    assert_eq!(
        attribution(&v, 0),
        vec![
            ("hard_dependencies_composite_bound".to_owned(), 0.5013),
            ("external_dependencies".to_owned(), 0.4987),
            ("data_completeness".to_owned(), 0.0),
            ("historical_availability".to_owned(), 0.0),
        ]
    );
}

#[test]
fn the_same_data_gives_the_same_answer() {
    let l = lb(30);
    let w = hourly(&thirty_days(), l.end);
    let d = deps(0.998, 0.999);
    assert_eq!(recommend(&input(&w, &d, l)), recommend(&input(&w, &d, l)));
}

#[test]
fn gaps_and_completeness() {
    let l = lb(30);
    let mut w = hourly(&thirty_days(), l.end);
    // drop 72 hours in the middle (windows 100..172) and the last 8
    w.drain(100..172);
    w.truncate(w.len() - 8);
    let d = deps(1.0, 1.0);
    let v = recommend(&input(&w, &d, l));
    let dq = &v["data_quality"];
    // 640 of 720 windows
    assert_eq!(dq["data_completeness"], 0.8889);
    assert_eq!(dq["gap_count"], 2);
    assert_eq!(dq["telemetry_gaps"][0]["missing_windows"], 72);
    assert_eq!(dq["telemetry_gaps"][1]["missing_windows"], 8);
    assert_eq!(dq["telemetry_gaps"][1]["end"], "2026-11-24T10:00:00Z");
    // completeness share 1 − 640/720
    let a = attribution(&v, 0);
    let c = a.iter().find(|x| x.0 == "data_completeness").unwrap().1;
    assert_eq!(c, 0.1111);
    assert!((a.iter().map(|x| x.1).sum::<f64>() - 1.0).abs() < 1e-9);
}

#[test]
fn latency_tiers_by_hand() {
    let l = lb(30);
    let w: Vec<Window> = (0..200)
        .map(|i| Window {
            start: l.end - (200 - i) * HOUR,
            good: None,
            total: None,
            p99_ms: Some(100.0 + i as f64),
        })
        .collect();
    let d = DependencyView::none();
    let mut inp = input(&w, &d, l);
    inp.sli_type = SliType::Latency;
    let v = recommend(&inp);
    // values 100..299, n = 200, h = 199·p
    // Q(0.999) = 298.801 × 1.05 = 313.74 -> 314; Q(0.99) = 297.01 × 1.05 = 311.86 -> 312;
    // Q(0.95) = 289.05 -> 290 (no margin); 9 windows (291..299) above 290.
    assert_eq!(tier(&v, 0, "conservative")["target_ms"], 314.0);
    assert_eq!(tier(&v, 0, "balanced")["target_ms"], 312.0);
    assert_eq!(tier(&v, 0, "aggressive")["target_ms"], 290.0);
    assert_eq!(
        tier(&v, 0, "conservative")["estimated_breach_probability"],
        0.0
    );
    assert_eq!(
        tier(&v, 0, "aggressive")["estimated_breach_probability"],
        0.045
    );
    assert_eq!(tier(&v, 0, "balanced")["percentile"], "p99");
    // the 200 windows cover 200 of the 720 hours
    let a = attribution(&v, 0);
    let c: f64 = 1.0 - 200.0 / 720.0;
    assert_eq!(a[0].0, "data_completeness");
    assert!((a[0].1 - (c * 10_000.0).round() / 10_000.0).abs() < 1e-9);
    assert!((a.iter().map(|x| x.1).sum::<f64>() - 1.0).abs() < 1e-9);
    // a margin of 10% instead
    inp.noise_margin = 0.10;
    let v = recommend(&inp);
    // 297.01 × 1.1 = 326.711 -> 327
    assert_eq!(tier(&v, 0, "balanced")["target_ms"], 327.0);
}

#[test]
fn cold_start_extends_the_lookback() {
    let l = effective_lookback(30, Some(NOW - 10 * 86_400), NOW);
    assert!(l.extended);
    assert_eq!(l.days, 90);
    let l2 = effective_lookback(30, Some(NOW - 40 * 86_400), NOW);
    assert!(!l2.extended);
    assert_eq!(l2.days, 30);
    let l3 = effective_lookback(120, None, NOW);
    assert!(!l3.extended, "a lookback over 90 days is not shortened");
    assert_eq!(l3.data_days, 0.0);
}

#[test]
fn ten_days_of_data_is_history_with_low_confidence() {
    let start = NOW - 10 * 86_400;
    let l = effective_lookback(30, Some(start.div_euclid(HOUR) * HOUR), NOW);
    let w = hourly(&vec![9995; 240], l.end);
    let d = DependencyView::none();
    let v = recommend(&input(&w, &d, l));
    assert_eq!(v["recommendations"][0]["basis"], "history");
    assert_eq!(tier(&v, 0, "balanced")["target"], 0.9995);
    let dq = &v["data_quality"];
    assert_eq!(dq["cold_start"], true);
    assert_eq!(
        dq["data_completeness"], 1.0,
        "completeness counts from the first window"
    );
    assert_eq!(v["confidence"], 0.7);
    assert!(dq["confidence_note"]
        .as_str()
        .unwrap()
        .starts_with("Cold start"));
}

#[test]
fn too_little_data_uses_the_archetype() {
    let l = effective_lookback(30, Some(NOW - 3 * 86_400), NOW);
    let w = hourly(&vec![10_000; 72], l.end);
    let d = deps(0.9995, 1.0);
    let mut inp = input(&w, &d, l);
    inp.sli_type = SliType::All;
    let v = recommend(&inp);
    assert_eq!(v["recommendations"][0]["basis"], "archetype");
    assert_eq!(tier(&v, 0, "balanced")["target"], 0.999);
    assert_eq!(tier(&v, 0, "conservative")["target"], 0.998);
    assert_eq!(tier(&v, 0, "aggressive")["target"], 0.9995);
    assert_eq!(
        tier(&v, 0, "balanced")["estimated_breach_probability"],
        Value::Null
    );
    assert_eq!(tier(&v, 1, "balanced")["target_ms"], 500.0);
    assert_eq!(v["data_quality"]["archetype"], "backend_service");
    assert!(v["confidence"].as_f64().unwrap() <= 0.3);
    // the gateway archetype, capped by a bound below its baseline
    inp.archetype = Archetype::Gateway;
    let d2 = deps(0.9990, 1.0);
    inp.deps = &d2;
    let v = recommend(&inp);
    assert_eq!(tier(&v, 0, "balanced")["target"], 0.999);
    assert_eq!(tier(&v, 0, "aggressive")["target"], 0.99975);
    assert_eq!(tier(&v, 1, "balanced")["target_ms"], 200.0);
}

#[test]
fn archetypes_from_metadata() {
    use serde_json::json;
    assert_eq!(
        archetype_of("edge", false, &json!({"type": "API Gateway"})),
        Archetype::Gateway
    );
    assert_eq!(
        archetype_of("api-gateway", false, &json!({})),
        Archetype::Gateway
    );
    assert_eq!(
        archetype_of("stripe", true, &json!({})),
        Archetype::ExternalIntegration
    );
    assert_eq!(
        archetype_of("x", false, &json!({"archetype": "external_integration"})),
        Archetype::ExternalIntegration
    );
    assert_eq!(
        archetype_of("orders", false, &json!({"team": "a"})),
        Archetype::Backend
    );
}

fn svc(id: &str, a: Option<f64>, kind: Kind, sla: Option<f64>) -> Service {
    Service {
        id: id.into(),
        kind,
        availability: a,
        published_sla: sla,
    }
}

fn hard(s: &str, t: &str) -> EdgeObservation {
    EdgeObservation {
        source: s.into(),
        target: t.into(),
        discovery: DiscoverySource::Manual,
        mode: Mode::Sync,
        criticality: Criticality::Hard,
        redundancy_group: None,
        stale: false,
    }
}

/// AC-003: three serial hard dependencies multiply, and the product caps Balanced.
#[test]
fn three_serial_hard_dependencies() {
    let g = Graph::build(
        vec![
            svc("checkout", Some(0.9999), Kind::Internal, None),
            svc("cart", Some(0.999), Kind::Internal, None),
            svc("payment", Some(0.9995), Kind::Internal, None),
            svc("stripe", None, Kind::External, Some(0.9999)),
        ],
        &[
            hard("checkout", "cart"),
            hard("checkout", "payment"),
            hard("payment", "stripe"),
        ],
    );
    let d = DependencyView::of(&g, "checkout", &AvailabilityOptions::default()).unwrap();
    let want = 0.999 * 0.9995 * 0.9989;
    assert!((d.bound - want).abs() < 1e-12, "{} vs {want}", d.bound);
    assert!((d.external_bound - 0.9989).abs() < 1e-12);
    assert_eq!(d.hard_dependencies, 3);
    assert_eq!(d.bottleneck.as_ref().map(|b| b.0.as_str()), Some("stripe"));
    // counterfactuals: stripe at 0.99989 (one nine better) and 0.989 (worse)
    assert_eq!(d.counterfactuals.len(), 2);
    assert!((d.counterfactuals[0].availability - 0.99989).abs() < 1e-12);
    assert!((d.counterfactuals[0].bound - 0.999 * 0.9995 * 0.99989).abs() < 1e-12);
    assert!((d.counterfactuals[1].availability - 0.989).abs() < 1e-12);
    assert!((d.counterfactuals[1].bound - 0.999 * 0.9995 * 0.989).abs() < 1e-12);

    let l = lb(30);
    let w = hourly(&vec![10_000; 720], l.end);
    let v = recommend(&input(&w, &d, l));
    // history is perfect; Balanced = floor5(0.999 × 0.9995 × 0.9989 = 0.997402) = 0.9974
    assert_eq!(tier(&v, 0, "balanced")["target"], 0.9974);
    let cf = v["recommendations"][0]["explanation"]["counterfactuals"]
        .as_array()
        .unwrap()
        .clone();
    // 0.999 × 0.9995 × 0.99989 -> 0.99839 (floored); 0.999 × 0.9995 × 0.989 -> 0.98751
    assert_eq!(cf[0]["recommended_target"], 0.99839);
    assert_eq!(cf[0]["condition"], "If stripe improved to 99.989%");
    assert_eq!(cf[0]["result"], "Balanced target would increase to 99.839%");
    assert_eq!(cf[1]["recommended_target"], 0.98751);
}

proptest! {
    /// Attribution shares always sum to 1 and conservative <= aggressive.
    #[test]
    fn shares_sum_to_one(goods in proptest::collection::vec(9000i64..=10_000, 168..400),
                         bound in 0.95f64..1.0, ext in 0.0f64..1.0, drop in 0usize..50) {
        let l = lb(30);
        let mut w = hourly(&goods, l.end);
        w.truncate(w.len() - drop.min(w.len() - 168));
        let ext = bound + (1.0 - bound) * ext;
        let d = deps(bound, ext);
        let v = recommend(&input(&w, &d, l));
        let a = attribution(&v, 0);
        prop_assert!((a.iter().map(|x| x.1).sum::<f64>() - 1.0).abs() < 1e-9, "{:?}", a);
        prop_assert!(a.iter().all(|x| x.1 >= 0.0));
        let c = tier(&v, 0, "conservative")["target"].as_f64().unwrap();
        let g = tier(&v, 0, "aggressive")["target"].as_f64().unwrap();
        let b = tier(&v, 0, "balanced")["target"].as_f64().unwrap();
        prop_assert!(c <= g);
        prop_assert!(b <= bound + 1e-12);
        let pc = tier(&v, 0, "conservative")["estimated_breach_probability"].as_f64().unwrap();
        let pg = tier(&v, 0, "aggressive")["estimated_breach_probability"].as_f64().unwrap();
        prop_assert!(pc <= pg);
    }
}
