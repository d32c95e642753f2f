//! SLI history documents for `idgraph.record_sli` (FR-6 pre-computed aggregates).
//!
//! ```json
//! {"source": "prometheus",
//!  "windows": [{"service_id": "checkout", "window": "1h", "start": "2026-11-24T10:00:00Z",
//!               "good_events": 99950, "total_events": 100000,
//!               "latency_p50_ms": 21.0, "latency_p95_ms": 80.5, "latency_p99_ms": 190.0}]}
//! ```
//! Every problem is reported with its path; nothing is returned unless the whole
//! document is valid. Services must exist (the SQL side checks that, by path too).

use serde::Serialize;
use serde_json::{Map, Value};

use super::time::parse_rfc3339;
use crate::depgraph::ValidationError;

/// Most windows one document may carry.
pub const MAX_SLI_WINDOWS: usize = 200_000;
const MAX_ERRORS: usize = 1000;

/// One validated window, ready for the SQL upsert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SliRow {
    pub service_id: String,
    pub window: &'static str,
    /// Unix seconds of the window start.
    pub start: i64,
    pub good_events: Option<i64>,
    pub total_events: Option<i64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
}

struct Errs(Vec<ValidationError>);

impl Errs {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        if self.0.len() < MAX_ERRORS {
            self.0.push(ValidationError {
                path: path.into(),
                message: message.into(),
            });
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

const WINDOW_KEYS: [&str; 8] = [
    "service_id",
    "window",
    "start",
    "good_events",
    "total_events",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
];

fn count(o: &Map<String, Value>, key: &str, path: &str, errs: &mut Errs) -> Option<i64> {
    match o.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some_and(|v| v >= 0) => n.as_i64(),
        Some(v) => {
            errs.push(
                format!("{path}.{key}"),
                format!("must be a non-negative integer, got {}", short(v)),
            );
            None
        }
    }
}

fn millis(o: &Map<String, Value>, key: &str, path: &str, errs: &mut Errs) -> Option<f64> {
    match o.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_f64().is_some_and(|v| v.is_finite() && v >= 0.0) => {
            n.as_f64()
        }
        Some(v) => {
            errs.push(
                format!("{path}.{key}"),
                format!(
                    "must be a non-negative number of milliseconds, got {}",
                    short(v)
                ),
            );
            None
        }
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        let cut: String = s.chars().take(60).collect();
        format!("{cut}…")
    } else {
        s
    }
}

/// Validates a `record_sli` document; `now` (Unix seconds) refuses windows that start in
/// the future.
pub fn parse_sli_document(doc: &Value, now: i64) -> Result<Vec<SliRow>, Vec<ValidationError>> {
    let mut errs = Errs(Vec::new());
    let Value::Object(obj) = doc else {
        return Err(vec![ValidationError {
            path: "$".into(),
            message: format!("must be an object, got {}", type_name(doc)),
        }]);
    };
    for k in obj.keys() {
        if !["source", "windows"].contains(&k.as_str()) {
            errs.push(
                k.clone(),
                "unknown field (expected one of: source, windows)",
            );
        }
    }
    match obj.get("source") {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(v) => errs.push("source", format!("must be a string, got {}", type_name(v))),
    }
    let mut rows = Vec::new();
    match obj.get("windows") {
        None | Some(Value::Null) => errs.push("windows", "is required (an array of windows)"),
        Some(Value::Array(items)) if items.len() > MAX_SLI_WINDOWS => errs.push(
            "windows",
            format!(
                "has {} elements; the limit is {MAX_SLI_WINDOWS} per document",
                items.len()
            ),
        ),
        Some(Value::Array(items)) => {
            rows.reserve(items.len());
            for (i, item) in items.iter().enumerate() {
                let path = format!("windows[{i}]");
                if let Some(r) = parse_window(item, &path, now, &mut errs) {
                    rows.push(r);
                }
            }
        }
        Some(v) => errs.push("windows", format!("must be an array, got {}", type_name(v))),
    }
    if errs.0.is_empty() {
        Ok(rows)
    } else {
        Err(errs.0)
    }
}

fn parse_window(item: &Value, path: &str, now: i64, errs: &mut Errs) -> Option<SliRow> {
    let Value::Object(o) = item else {
        errs.push(path, format!("must be an object, got {}", type_name(item)));
        return None;
    };
    let before = errs.0.len();
    for k in o.keys() {
        if !WINDOW_KEYS.contains(&k.as_str()) {
            errs.push(
                format!("{path}.{k}"),
                format!(
                    "unknown field (expected one of: {})",
                    WINDOW_KEYS.join(", ")
                ),
            );
        }
    }
    let service_id = match o.get("service_id") {
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 255 => Some(s.clone()),
        Some(Value::String(_)) => {
            errs.push(format!("{path}.service_id"), "must be 1 to 255 characters");
            None
        }
        None | Some(Value::Null) => {
            errs.push(format!("{path}.service_id"), "is required");
            None
        }
        Some(v) => {
            errs.push(
                format!("{path}.service_id"),
                format!("must be a string, got {}", type_name(v)),
            );
            None
        }
    };
    let window: Option<(&'static str, i64)> = match o.get("window") {
        Some(Value::String(s)) if s == "1h" => Some(("1h", 3600)),
        Some(Value::String(s)) if s == "1d" => Some(("1d", 86_400)),
        None | Some(Value::Null) => {
            errs.push(format!("{path}.window"), "is required ('1h' or '1d')");
            None
        }
        Some(v) => {
            errs.push(
                format!("{path}.window"),
                format!("must be '1h' or '1d', got {}", short(v)),
            );
            None
        }
    };
    let start = match o.get("start") {
        Some(Value::String(s)) => match parse_rfc3339(s) {
            Some(t) => Some(t),
            None => {
                errs.push(
                    format!("{path}.start"),
                    format!(
                        "must be an RFC 3339 timestamp with offset (e.g. 2026-11-24T10:00:00Z), got {}",
                        short(&Value::String(s.clone()))
                    ),
                );
                None
            }
        },
        None | Some(Value::Null) => {
            errs.push(format!("{path}.start"), "is required");
            None
        }
        Some(v) => {
            errs.push(
                format!("{path}.start"),
                format!("must be a timestamp string, got {}", type_name(v)),
            );
            None
        }
    };
    if let (Some((w, secs)), Some(t)) = (window, start) {
        if t.rem_euclid(secs) != 0 {
            errs.push(
                format!("{path}.start"),
                if w == "1h" {
                    "a 1h window must start on the hour (UTC)"
                } else {
                    "a 1d window must start at midnight UTC"
                },
            );
        }
        if t > now {
            errs.push(format!("{path}.start"), "is in the future");
        }
    }
    let good = count(o, "good_events", path, errs);
    let total = count(o, "total_events", path, errs);
    match (
        o.get("good_events").is_some_and(|v| !v.is_null()),
        o.get("total_events").is_some_and(|v| !v.is_null()),
    ) {
        (true, false) | (false, true) => errs.push(
            path,
            "good_events and total_events go together (both or neither)",
        ),
        _ => {}
    }
    if let (Some(g), Some(t)) = (good, total) {
        if g > t {
            errs.push(
                format!("{path}.good_events"),
                format!("must not exceed total_events ({g} > {t})"),
            );
        }
    }
    let p50 = millis(o, "latency_p50_ms", path, errs);
    let p95 = millis(o, "latency_p95_ms", path, errs);
    let p99 = millis(o, "latency_p99_ms", path, errs);
    let ordered = [p50, p95, p99];
    let present: Vec<f64> = ordered.iter().flatten().copied().collect();
    if present.windows(2).any(|w| w[0] > w[1]) {
        errs.push(
            path,
            "latency percentiles must not decrease (p50 <= p95 <= p99)",
        );
    }
    if total.is_none() && present.is_empty() && errs.0.len() == before {
        errs.push(
            path,
            "carries no measurement (give good_events/total_events and/or latency_*_ms)",
        );
    }
    if errs.0.len() != before {
        return None;
    }
    Some(SliRow {
        service_id: service_id?,
        window: window?.0,
        start: start?,
        good_events: good,
        total_events: total,
        latency_p50_ms: p50,
        latency_p95_ms: p95,
        latency_p99_ms: p99,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_795_514_400; // 2026-11-24T10:00:00Z

    #[test]
    fn a_valid_document() {
        let rows = parse_sli_document(
            &json!({"source": "prometheus", "windows": [
                {"service_id": "a", "window": "1h", "start": "2026-11-24T09:00:00Z",
                 "good_events": 999, "total_events": 1000, "latency_p99_ms": 120},
                {"service_id": "a", "window": "1d", "start": "2026-11-23T00:00:00Z",
                 "latency_p50_ms": 10, "latency_p95_ms": 50.5, "latency_p99_ms": 90}]}),
            NOW,
        )
        .unwrap_or_default();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].start, NOW - 3600);
        assert_eq!(rows[0].good_events, Some(999));
        assert_eq!(rows[1].window, "1d");
        assert_eq!(rows[1].total_events, None);
    }

    #[test]
    fn every_problem_is_named() {
        let errs = parse_sli_document(
            &json!({"windows": [
                {"service_id": "", "window": "5m", "start": "2026-11-24T09:00:00Z", "total_events": 1},
                {"service_id": "a", "window": "1h", "start": "2026-11-24T09:30:00Z",
                 "good_events": 5, "total_events": 4},
                {"service_id": "a", "window": "1d", "start": "2026-11-24T01:00:00Z", "total_events": -1},
                {"service_id": "a", "window": "1h", "start": "2026-11-24T11:00:00Z", "good_events": 1, "total_events": 1},
                {"service_id": "a", "window": "1h", "start": "nope", "latency_p95_ms": 10, "latency_p99_ms": 5},
                {"service_id": "a", "window": "1h", "start": "2026-11-24T09:00:00Z"},
                {"service_id": "a", "window": "1h", "start": "2026-11-24T09:00:00Z", "extra": 1, "good_events": 1},
                3]}),
            NOW,
        )
        .err()
        .unwrap_or_default();
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        for want in [
            "windows[0].service_id",
            "windows[0].window",
            "windows[0]",
            "windows[1].start",
            "windows[1].good_events",
            "windows[2].start",
            "windows[2].total_events",
            "windows[3].start",
            "windows[4].start",
            "windows[4]",
            "windows[5]",
            "windows[6].extra",
            "windows[6]",
            "windows[7]",
        ] {
            assert!(paths.contains(&want), "{want} missing from {errs:?}");
        }
    }

    #[test]
    fn document_level_errors() {
        assert!(parse_sli_document(&json!([]), NOW).is_err());
        let e = parse_sli_document(&json!({"source": 1, "x": 2}), NOW)
            .err()
            .unwrap_or_default();
        let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, vec!["x", "source", "windows"]);
        assert_eq!(
            parse_sli_document(&json!({"windows": []}), NOW).ok(),
            Some(vec![])
        );
    }
}
