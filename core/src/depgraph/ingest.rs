//! Validation of FR-1 ingest documents.
//!
//! Every problem is reported with the JSON path of the offending element, and all of them
//! are reported, not only the first. Caps keep one call bounded; a document over them is
//! refused before anything is written.

use serde::Serialize;
use serde_json::{Map, Value};

use super::model::{Criticality, DiscoverySource, Kind, Mode};

/// Caps of one ingest document.
pub struct Limits {
    pub max_nodes: usize,
    pub max_edges: usize,
    pub max_id_len: usize,
    pub max_metadata_bytes: usize,
    pub max_errors: usize,
}

/// The caps: 50,000 nodes and 500,000 edges per document, ids of at most 255 characters,
/// node metadata of at most 16 KiB (serialized). At most 100 errors are listed.
pub const LIMITS: Limits = Limits {
    max_nodes: 50_000,
    max_edges: 500_000,
    max_id_len: 255,
    max_metadata_bytes: 16 * 1024,
    max_errors: 100,
};

/// One problem in a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    /// JSON path, e.g. `edges[3].attributes.communication_mode`.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A validated node, ready for the SQL upsert (absent fields stay `None`: merge).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IngestNode {
    pub service_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub criticality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_sla: Option<f64>,
}

/// A validated edge (absent attributes stay `None`: merge, defaults on insert).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IngestEdge {
    pub source: String,
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub communication_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub criticality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redundancy_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

/// A validated document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IngestDoc {
    pub source: String,
    pub timestamp: Option<String>,
    pub nodes: Vec<IngestNode>,
    pub edges: Vec<IngestEdge>,
}

struct Errors(Vec<ValidationError>);

impl Errors {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        if self.0.len() < LIMITS.max_errors {
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

fn id_field(obj: &Map<String, Value>, key: &str, path: &str, errs: &mut Errors) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => {
            errs.push(format!("{path}.{key}"), "is required");
            None
        }
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() {
                errs.push(format!("{path}.{key}"), "must not be empty");
                None
            } else if t.chars().count() > LIMITS.max_id_len {
                errs.push(
                    format!("{path}.{key}"),
                    format!("is longer than {} characters", LIMITS.max_id_len),
                );
                None
            } else if t.chars().any(char::is_control) {
                errs.push(format!("{path}.{key}"), "contains control characters");
                None
            } else {
                Some(t.to_owned())
            }
        }
        Some(v) => {
            errs.push(
                format!("{path}.{key}"),
                format!("must be a string, got {}", type_name(v)),
            );
            None
        }
    }
}

fn enum_field(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    allowed: &[&str],
    errs: &mut Errors,
) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Some(s.clone()),
        Some(other) => {
            let list = allowed
                .iter()
                .map(|a| format!("'{a}'"))
                .collect::<Vec<_>>()
                .join(", ");
            let got = match other {
                Value::String(s) => format!("'{s}'"),
                v => type_name(v).to_owned(),
            };
            errs.push(
                format!("{path}.{key}"),
                format!("expected one of {list}, got {got}"),
            );
            None
        }
    }
}

fn fraction_field(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    errs: &mut Errors,
) -> Option<f64> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if (0.0..=1.0).contains(&f) => Some(f),
            _ => {
                errs.push(
                    format!("{path}.{key}"),
                    format!("must be a fraction between 0 and 1 (e.g. 0.999), got {n}"),
                );
                None
            }
        },
        Some(v) => {
            errs.push(
                format!("{path}.{key}"),
                format!("must be a number, got {}", type_name(v)),
            );
            None
        }
    }
}

fn string_field(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    max: usize,
    errs: &mut Errors,
) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= max => Some(s.clone()),
        Some(Value::String(_)) => {
            errs.push(
                format!("{path}.{key}"),
                format!("is longer than {max} characters"),
            );
            None
        }
        Some(v) => {
            errs.push(
                format!("{path}.{key}"),
                format!("must be a string, got {}", type_name(v)),
            );
            None
        }
    }
}

fn unknown_keys(obj: &Map<String, Value>, known: &[&str], path: &str, errs: &mut Errors) {
    for k in obj.keys() {
        if !known.contains(&k.as_str()) {
            errs.push(
                format!("{path}.{k}"),
                format!("unknown field (expected one of: {})", known.join(", ")),
            );
        }
    }
}

const NODE_KEYS: &[&str] = &[
    "service_id",
    "metadata",
    "kind",
    "availability",
    "published_sla",
    "team",
    "criticality",
];
const EDGE_KEYS: &[&str] = &["source", "target", "attributes"];
const ATTR_KEYS: &[&str] = &[
    "communication_mode",
    "criticality",
    "protocol",
    "timeout_ms",
    "retry_config",
    "redundancy_group",
    "confidence",
];
const SERVICE_CRITICALITY: &[&str] = &["critical", "high", "medium", "low"];

fn parse_node(v: &Value, path: &str, errs: &mut Errors) -> Option<IngestNode> {
    let Value::Object(obj) = v else {
        errs.push(path, format!("must be an object, got {}", type_name(v)));
        return None;
    };
    unknown_keys(obj, NODE_KEYS, path, errs);
    let service_id = id_field(obj, "service_id", path, errs);
    let metadata = match obj.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => {
            let size = serde_json::to_string(m)
                .map(|s| s.len())
                .unwrap_or(usize::MAX);
            if size > LIMITS.max_metadata_bytes {
                errs.push(
                    format!("{path}.metadata"),
                    format!(
                        "is {size} bytes; the limit is {} bytes",
                        LIMITS.max_metadata_bytes
                    ),
                );
                None
            } else {
                Some(m.clone())
            }
        }
        Some(other) => {
            errs.push(
                format!("{path}.metadata"),
                format!("must be an object, got {}", type_name(other)),
            );
            None
        }
    };
    // FR-1 puts team and criticality inside metadata; top-level fields win.
    let team = string_field(obj, "team", path, 255, errs).or_else(|| {
        metadata
            .as_ref()
            .and_then(|m| m.get("team"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let criticality =
        enum_field(obj, "criticality", path, SERVICE_CRITICALITY, errs).or_else(|| match metadata
            .as_ref()
            .and_then(|m| m.get("criticality"))
        {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if SERVICE_CRITICALITY.contains(&s.as_str()) => Some(s.clone()),
            Some(_) => {
                errs.push(
                    format!("{path}.metadata.criticality"),
                    "expected one of 'critical', 'high', 'medium', 'low'",
                );
                None
            }
        });
    let kind = enum_field(obj, "kind", path, &["internal", "external"], errs);
    debug_assert!(kind.as_deref().is_none_or(|k| Kind::parse(k).is_some()));
    let availability = fraction_field(obj, "availability", path, errs);
    let published_sla = fraction_field(obj, "published_sla", path, errs);
    Some(IngestNode {
        service_id: service_id?,
        metadata,
        team,
        criticality,
        kind,
        availability,
        published_sla,
    })
}

fn parse_edge(v: &Value, path: &str, errs: &mut Errors) -> Option<IngestEdge> {
    let Value::Object(obj) = v else {
        errs.push(path, format!("must be an object, got {}", type_name(v)));
        return None;
    };
    unknown_keys(obj, EDGE_KEYS, path, errs);
    let source = id_field(obj, "source", path, errs);
    let target = id_field(obj, "target", path, errs);
    let empty = Map::new();
    let attrs = match obj.get("attributes") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(a)) => a,
        Some(other) => {
            errs.push(
                format!("{path}.attributes"),
                format!("must be an object, got {}", type_name(other)),
            );
            &empty
        }
    };
    let apath = format!("{path}.attributes");
    unknown_keys(attrs, ATTR_KEYS, &apath, errs);
    let communication_mode = enum_field(
        attrs,
        "communication_mode",
        &apath,
        &["sync", "async"],
        errs,
    );
    let criticality = enum_field(
        attrs,
        "criticality",
        &apath,
        &["hard", "soft", "degraded"],
        errs,
    );
    debug_assert!(communication_mode
        .as_deref()
        .is_none_or(|m| Mode::parse(m).is_some()));
    debug_assert!(criticality
        .as_deref()
        .is_none_or(|c| Criticality::parse(c).is_some()));
    let protocol = string_field(attrs, "protocol", &apath, 50, errs);
    let redundancy_group = string_field(attrs, "redundancy_group", &apath, 255, errs);
    let timeout_ms = match attrs.get("timeout_ms") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(t) if (0..=i64::from(i32::MAX)).contains(&t) => Some(t),
            _ => {
                errs.push(
                    format!("{apath}.timeout_ms"),
                    format!("must be a whole number of milliseconds >= 0, got {n}"),
                );
                None
            }
        },
        Some(v) => {
            errs.push(
                format!("{apath}.timeout_ms"),
                format!("must be a number, got {}", type_name(v)),
            );
            None
        }
    };
    let retry_config = match attrs.get("retry_config") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(v) => {
            errs.push(
                format!("{apath}.retry_config"),
                format!("must be an object, got {}", type_name(v)),
            );
            None
        }
    };
    let confidence = fraction_field(attrs, "confidence", &apath, errs);
    Some(IngestEdge {
        source: source?,
        target: target?,
        communication_mode,
        criticality,
        protocol,
        timeout_ms,
        retry_config,
        redundancy_group,
        confidence,
    })
}

/// Validates an FR-1 document. On success, nodes and edges are normalized (ids trimmed,
/// team/criticality lifted out of metadata); on failure, every problem found (up to 100).
pub fn parse_document(doc: &Value) -> Result<IngestDoc, Vec<ValidationError>> {
    let mut errs = Errors(Vec::new());
    let Value::Object(obj) = doc else {
        return Err(vec![ValidationError {
            path: "$".into(),
            message: format!("must be an object, got {}", type_name(doc)),
        }]);
    };
    unknown_keys(
        obj,
        &["source", "timestamp", "nodes", "edges"],
        "$",
        &mut errs,
    );
    let source = match obj.get("source") {
        None | Some(Value::Null) => {
            errs.push(
                "source",
                "is required (one of 'manual', 'service_mesh', 'otel_service_graph', 'kubernetes')",
            );
            None
        }
        Some(_) => enum_field(
            obj,
            "source",
            "$",
            &["manual", "service_mesh", "otel_service_graph", "kubernetes"],
            &mut errs,
        ),
    };
    debug_assert!(source
        .as_deref()
        .is_none_or(|s| DiscoverySource::parse(s).is_some()));
    let timestamp = match obj.get("timestamp") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => {
            errs.push(
                "timestamp",
                format!("must be an ISO 8601 string, got {}", type_name(v)),
            );
            None
        }
    };
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for (key, max) in [("nodes", LIMITS.max_nodes), ("edges", LIMITS.max_edges)] {
        match obj.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if items.len() > max => {
                errs.push(
                    key,
                    format!(
                        "has {} elements; the limit is {max} per document",
                        items.len()
                    ),
                );
            }
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("{key}[{i}]");
                    if key == "nodes" {
                        if let Some(n) = parse_node(item, &path, &mut errs) {
                            nodes.push(n);
                        }
                    } else if let Some(e) = parse_edge(item, &path, &mut errs) {
                        edges.push(e);
                    }
                }
            }
            Some(v) => errs.push(key, format!("must be an array, got {}", type_name(v))),
        }
    }
    if nodes.is_empty() && edges.is_empty() && errs.0.is_empty() {
        errs.push("$", "the document has neither nodes nor edges");
    }
    match source {
        Some(source) if errs.0.is_empty() => Ok(IngestDoc {
            source,
            timestamp,
            nodes,
            edges,
        }),
        _ => Err(errs.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fr1_example_parses() {
        let doc = json!({
            "source": "manual", "timestamp": "2026-02-14T10:00:00Z",
            "nodes": [{"service_id": "checkout-service", "metadata": {"team": "payments", "criticality": "high", "tier": 1}}],
            "edges": [{"source": "checkout-service", "target": "payment-service",
                       "attributes": {"communication_mode": "sync", "criticality": "hard", "protocol": "grpc",
                                      "timeout_ms": 5000, "retry_config": {"max_retries": 3}}}]
        });
        let d = parse_document(&doc).unwrap();
        assert_eq!(d.nodes[0].team.as_deref(), Some("payments"));
        assert_eq!(d.nodes[0].criticality.as_deref(), Some("high"));
        assert_eq!(d.edges[0].timeout_ms, Some(5000));
    }

    #[test]
    fn every_error_names_its_element() {
        let doc = json!({
            "source": "gossip",
            "nodes": [{"service_id": ""}, {"service_id": "a", "availability": 99.9}, 7, {"service_id": "b", "colour": "red"}],
            "edges": [{"source": "a"}, {"source": "a", "target": "b", "attributes": {"communication_mode": "maybe", "timeout_ms": "soon"}}]
        });
        let errs = parse_document(&doc).unwrap_err();
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        for want in [
            "$.source",
            "nodes[0].service_id",
            "nodes[1].availability",
            "nodes[2]",
            "nodes[3].colour",
            "edges[0].target",
            "edges[1].attributes.communication_mode",
            "edges[1].attributes.timeout_ms",
        ] {
            assert!(paths.contains(&want), "missing {want} in {paths:?}");
        }
        let cm = errs
            .iter()
            .find(|e| e.path == "edges[1].attributes.communication_mode")
            .unwrap();
        assert_eq!(cm.message, "expected one of 'sync', 'async', got 'maybe'");
    }

    #[test]
    fn caps_and_shapes() {
        assert!(parse_document(&json!([1, 2])).is_err());
        assert!(parse_document(&json!({"source": "manual"})).is_err());
        assert!(parse_document(&json!({"source": "manual", "nodes": "x"})).is_err());
        let big: Vec<Value> = (0..LIMITS.max_nodes + 1)
            .map(|i| json!({"service_id": format!("s{i}")}))
            .collect();
        let errs = parse_document(&json!({"source": "manual", "nodes": big})).unwrap_err();
        assert_eq!(errs[0].path, "nodes");
        let fat = json!({"source": "manual", "nodes": [{"service_id": "x", "metadata": {"blob": "y".repeat(20_000)}}]});
        assert_eq!(
            parse_document(&fat).unwrap_err()[0].path,
            "nodes[0].metadata"
        );
    }
}
