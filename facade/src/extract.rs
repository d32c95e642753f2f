//! Extractors whose rejections are problem documents: JSON bodies, query strings and
//! path parameters never produce a bare-text error.
//!
//! A JSON body that does not fit its type is checked field by field against the
//! OpenAPI schema of that type, so the 422 lists every offending field (serde alone
//! stops at the first).

use std::sync::OnceLock;

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::jsonscan;
use crate::problem::{ApiError, FieldError};

/// A JSON request body (`Content-Type: application/json`, at most 10 MB).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + ToSchema,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = content_type(&req);
        let bytes = read_body(req, state).await?;
        parse_json(&ct, &bytes).map(ApiJson)
    }
}

/// A JSON body that may be left out entirely (then `T::default()`).
pub struct ApiJsonOrEmpty<T>(pub T);

impl<S, T> FromRequest<S> for ApiJsonOrEmpty<T>
where
    S: Send + Sync,
    T: DeserializeOwned + ToSchema + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = content_type(&req);
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ApiJsonOrEmpty(T::default()));
        }
        parse_json(&ct, &bytes).map(ApiJsonOrEmpty)
    }
}

fn content_type(req: &Request) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::for_status(StatusCode::PAYLOAD_TOO_LARGE)
        } else {
            ApiError::bad_request(format!("cannot read the body: {rej}"))
        }
    })
}

fn parse_json<T: DeserializeOwned + ToSchema>(ct: &str, bytes: &[u8]) -> Result<T, ApiError> {
    let essence = ct.split(';').next().unwrap_or("").trim();
    if !(essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json")))
    {
        return Err(
            ApiError::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE).detail(format!(
                "expected Content-Type: application/json, got {}",
                if ct.is_empty() { "none" } else { ct }
            )),
        );
    }
    // Bounds first, from the bytes alone: no parse (and no allocation) for a body that
    // is too deep, holds too many values, or has a top-level array over its schema's
    // maxItems.
    let caps = array_caps(&T::name());
    jsonscan::scan(bytes, jsonscan::MAX_DEPTH, jsonscan::MAX_VALUES, |k| {
        caps.iter().find(|(n, _)| n == k).map(|(_, m)| *m)
    })
    .map_err(refused)?;
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON").detail(format!(
            "the body is not valid JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    match serde_path_to_error::deserialize::<_, T>(&value) {
        Ok(t) => Ok(t),
        Err(first) => {
            let mut errors = schema_errors(&T::name(), &value);
            if errors.is_empty() {
                let path = first.path().to_string();
                errors.push(FieldError {
                    field: if path == "." { "body".into() } else { path },
                    message: first.into_inner().to_string(),
                });
            }
            Err(ApiError::validation(errors))
        }
    }
}

/// The maxItems of the arrays directly under the root of component schema `name`.
fn array_caps(name: &str) -> Vec<(String, usize)> {
    components()
        .get(name)
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .filter_map(|(k, p)| {
                    let max = resolve(p).get("maxItems").and_then(Value::as_u64)?;
                    Some((k.clone(), usize::try_from(max).ok()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn refused(r: jsonscan::Refusal) -> ApiError {
    use jsonscan::Refusal as R;
    match r {
        R::TooDeep { max } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit-exceeded",
            "Limit Exceeded",
        )
        .detail(format!("the body is nested deeper than {max} levels")),
        R::TooManyValues { max } => ApiError::for_status(StatusCode::PAYLOAD_TOO_LARGE)
            .detail(format!("the body holds more than {max} JSON values")),
        R::ArrayTooLong { key, max } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit-exceeded",
            "Limit Exceeded",
        )
        .detail(format!(
            "{key} has more than {max} elements; the limit is {max} per request"
        ))
        .errors(vec![FieldError {
            field: key,
            message: format!("at most {max} items"),
        }]),
    }
}

/// A query string, decoded into `T`; errors are 400 problem documents.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(t)) => Ok(ApiQuery(t)),
            Err(rej) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-query",
                "Invalid Query Parameters",
            )
            .detail(rej.body_text())
            .errors(vec![FieldError {
                field: "query".into(),
                message: rej.body_text(),
            }])),
        }
    }
}

/// Path parameters; errors are 400 problem documents.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(t)) => Ok(ApiPath(t)),
            Err(rej) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-path",
                "Invalid Path Parameter",
            )
            .detail(rej.body_text())
            .errors(vec![FieldError {
                field: "path".into(),
                message: rej.body_text(),
            }])),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Field-by-field check against the OpenAPI schema
// ---------------------------------------------------------------------------------------

fn components() -> &'static Map<String, Value> {
    static C: OnceLock<Map<String, Value>> = OnceLock::new();
    C.get_or_init(|| {
        serde_json::to_value(crate::openapi::document())
            .ok()
            .and_then(|v| v.pointer("/components/schemas").cloned())
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .unwrap_or_default()
    })
}

const MAX_ERRORS: usize = 100;

/// Every place where `value` does not fit the component schema `name`.
pub fn schema_errors(name: &str, value: &Value) -> Vec<FieldError> {
    let mut out = Vec::new();
    if let Some(schema) = components().get(name) {
        walk(schema, value, "", &mut out, 0);
    }
    out
}

fn resolve(schema: &Value) -> &Value {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        if let Some(name) = r.strip_prefix("#/components/schemas/") {
            if let Some(s) = components().get(name) {
                return s;
            }
        }
    }
    schema
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn push(out: &mut Vec<FieldError>, path: &str, message: String) {
    if out.len() < MAX_ERRORS {
        out.push(FieldError {
            field: if path.is_empty() {
                "body".into()
            } else {
                path.to_owned()
            },
            message,
        });
    }
}

fn walk(schema: &Value, v: &Value, path: &str, out: &mut Vec<FieldError>, depth: usize) {
    if depth > 32 || out.len() >= MAX_ERRORS {
        return;
    }
    let schema = resolve(schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(alts)) = schema.get(key) {
            let alts: Vec<&Value> = alts.iter().map(resolve).collect();
            if v.is_null() && alts.iter().any(|a| a.get("type") == Some(&"null".into())) {
                return;
            }
            let non_null: Vec<&&Value> = alts
                .iter()
                .filter(|a| a.get("type") != Some(&"null".into()))
                .collect();
            if let [only] = non_null.as_slice() {
                walk(only, v, path, out, depth + 1);
            }
            return;
        }
    }
    if let Some(Value::Array(all)) = schema.get("allOf") {
        for s in all {
            walk(s, v, path, out, depth + 1);
        }
        return;
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| type_ok(t, v)) {
        push(
            out,
            path,
            format!("expected {}, got {}", types.join(" or "), kind_of(v)),
        );
        return;
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(v) {
            let names: Vec<String> = allowed.iter().map(Value::to_string).collect();
            push(out, path, format!("must be one of {}", names.join(", ")));
        }
    }
    match v {
        Value::Object(obj) => {
            let props = schema.get("properties").and_then(Value::as_object);
            if let Some(Value::Array(req)) = schema.get("required") {
                for r in req.iter().filter_map(Value::as_str) {
                    if !obj.contains_key(r) {
                        push(out, &join(path, r), "missing required field".into());
                    }
                }
            }
            for (k, child) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => walk(s, child, &join(path, k), out, depth + 1),
                    None => {
                        if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
                            push(out, &join(path, k), "unknown field".into());
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
                if items.len() as u64 > max {
                    push(out, path, format!("at most {max} items"));
                }
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(item_schema, item, &format!("{path}[{i}]"), out, depth + 1);
                }
            }
        }
        Value::String(s)
            if schema.get("format") == Some(&"uuid".into())
                && uuid::Uuid::parse_str(s).is_err() =>
        {
            push(out, path, "expected a UUID".into());
        }
        Value::Number(n) => {
            if let (Some(min), Some(x)) =
                (schema.get("minimum").and_then(Value::as_f64), n.as_f64())
            {
                if x < min {
                    push(out, path, format!("must be at least {min}"));
                }
            }
            if let (Some(max), Some(x)) =
                (schema.get("maximum").and_then(Value::as_f64), n.as_f64())
            {
                if x > max {
                    push(out, path, format!("must be at most {max}"));
                }
            }
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::array_caps;
    use idgraph_core::depgraph::LIMITS;

    /// The ingest caps the facade enforces before parsing are core's (one source).
    #[test]
    fn ingest_caps_are_cores() {
        let mut caps = array_caps("IngestDocument");
        caps.sort();
        assert_eq!(
            caps,
            vec![
                ("edges".to_owned(), LIMITS.max_edges),
                ("nodes".to_owned(), LIMITS.max_nodes)
            ]
        );
    }
}
