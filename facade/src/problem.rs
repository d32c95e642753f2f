//! RFC 7807 problem documents: the one error type of the facade.
//!
//! Every error response is `application/problem+json`. Database errors are mapped to
//! statuses by one table ([`status_for_sqlstate`]); 5xx details go to the log, never to
//! the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio_postgres::error::SqlState;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";
const TYPE_BASE: &str = "https://idgraph.invalid/problems/";

/// One offending input field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// Where: a JSON pointer-like path (`allocations[3].external_id`), a query or path
    /// parameter name, or a header name.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// An RFC 7807 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this occurrence, when it can be said safely.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The request id (X-Request-Id), to find the request in the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For validation errors: every offending field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// The facade's error. Converts into a problem+json response. Boxed: it travels in
/// every `Result` of the request path.
#[derive(Debug, Clone)]
pub struct ApiError(Box<ApiErrorInner>);

#[derive(Debug, Clone)]
pub struct ApiErrorInner {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: Option<String>,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<u64>,
    pub www_authenticate: bool,
    /// Logged (never sent) for 5xx.
    pub internal: Option<String>,
}

impl std::ops::Deref for ApiError {
    type Target = ApiErrorInner;
    fn deref(&self) -> &ApiErrorInner {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ApiErrorInner {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(status: StatusCode, slug: &'static str, title: &'static str) -> Self {
        Self(Box::new(ApiErrorInner {
            status,
            slug,
            title,
            detail: None,
            errors: Vec::new(),
            retry_after: None,
            www_authenticate: false,
            internal: None,
        }))
    }

    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }

    pub fn errors(mut self, e: Vec<FieldError>) -> Self {
        self.errors = e;
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    pub fn internal(mut self, why: impl Into<String>) -> Self {
        self.internal = Some(why.into());
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad Request").detail(detail)
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let n = errors.len();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid Request Content",
        )
        .detail(format!(
            "{n} field{} failed validation",
            if n == 1 { "" } else { "s" }
        ))
        .errors(errors)
    }

    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-parameter",
            "Invalid Parameter",
        )
        .detail(detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not Found").detail(detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication Required",
        )
        .detail(detail);
        e.www_authenticate = true;
        e
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden").detail(detail)
    }

    pub fn unavailable(internal: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service Unavailable",
        )
        .detail("The database is unavailable; retry later.")
        .retry_after(5)
        .internal(internal)
    }

    pub fn internal_error(internal: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal Server Error",
        )
        .detail("The request failed; the request id identifies it in the server's log.")
        .internal(internal)
    }

    /// The generic problem for a status produced outside the handlers (body limit,
    /// unknown route, wrong method, timeout, panic).
    pub fn for_status(status: StatusCode) -> Self {
        let (slug, title, detail): (&'static str, &'static str, &str) = match status.as_u16() {
            400 => (
                "bad-request",
                "Bad Request",
                "The request could not be read.",
            ),
            404 => ("not-found", "Not Found", "No such route."),
            405 => (
                "method-not-allowed",
                "Method Not Allowed",
                "This route does not accept this method; see the Allow header.",
            ),
            408 => ("timeout", "Request Timeout", "The request took too long."),
            413 => (
                "payload-too-large",
                "Payload Too Large",
                "The request body is over the 10 MB limit.",
            ),
            415 => (
                "unsupported-media-type",
                "Unsupported Media Type",
                "Send JSON with Content-Type: application/json.",
            ),
            429 => ("rate-limited", "Too Many Requests", "Rate limit exceeded."),
            503 => (
                "unavailable",
                "Service Unavailable",
                "The service is unavailable; retry later.",
            ),
            s if s >= 500 => (
                "internal",
                "Internal Server Error",
                "The request failed; the request id identifies it in the server's log.",
            ),
            _ => ("error", "Error", "The request failed."),
        };
        let mut e = Self::new(status, slug, title).detail(detail);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            e.retry_after = Some(5);
        }
        e
    }

    pub fn to_problem(&self) -> Problem {
        Problem {
            kind: format!("{TYPE_BASE}{}", self.slug),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            instance: None,
            request_id: None,
            errors: self.errors.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.title)?;
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

/// Marker in the response extensions: this response is already a problem document
/// (the normalizing middleware fills in `instance` and `request_id`).
#[derive(Debug, Clone)]
pub struct ProblemMarker(pub Problem);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), internal = ?self.internal, "request failed");
        }
        let problem = self.to_problem();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut res = (self.status, body).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                h.insert(header::RETRY_AFTER, v);
            }
        }
        if self.www_authenticate {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    r#"Bearer realm="idgraph", ApiKey realm="idgraph", header="X-API-Key""#,
                ),
            );
        }
        res.extensions_mut().insert(ProblemMarker(problem));
        res
    }
}

/// How a SQLSTATE from the SQL layer becomes an HTTP status: the one table.
/// `None` means a server-side fault (500, details logged only).
pub fn status_for_sqlstate(code: &str) -> Option<(StatusCode, &'static str, &'static str)> {
    use StatusCode as S;
    let row = match code {
        // no_data_found: unknown submission, external id, service, alert, key.
        "P0002" => (S::NOT_FOUND, "not-found", "Not Found"),
        // undefined_object / undefined_table: target or table not registered / not there.
        "42704" | "42P01" => (S::NOT_FOUND, "not-found", "Not Found"),
        // unique_violation: name taken.
        "23505" => (S::CONFLICT, "conflict", "Conflict"),
        // object_not_in_prerequisite_state: submission already committed / rolled back.
        "55000" => (S::CONFLICT, "conflict", "Conflict"),
        // invalid_name: a table name that is not a name.
        "42602" => (
            S::UNPROCESSABLE_ENTITY,
            "invalid-parameter",
            "Invalid Parameter",
        ),
        // program_limit_exceeded: batch or document over the cap.
        "54000" => (S::UNPROCESSABLE_ENTITY, "limit-exceeded", "Limit Exceeded"),
        // check / not-null violations caused by input values.
        "23514" | "23502" => (
            S::UNPROCESSABLE_ENTITY,
            "invalid-parameter",
            "Invalid Parameter",
        ),
        // insufficient_privilege: the facade's own role lacks a grant it needs (clients
        // are authorized by the facade before any call): misconfiguration, not the
        // client's fault and no server bug either — 503, and the start-up check runs
        // again (see gate.rs), so /health/ready says why.
        "42501" => (S::SERVICE_UNAVAILABLE, "not-ready", "Service Not Ready"),
        // serialization failure / deadlock: retry.
        "40001" | "40P01" => (S::SERVICE_UNAVAILABLE, "retry", "Retry"),
        // statement timeout / cancel, shutdown, cannot connect now.
        "57014" | "57P01" | "57P02" | "57P03" => {
            (S::SERVICE_UNAVAILABLE, "unavailable", "Service Unavailable")
        }
        // data exceptions (22023 invalid_parameter_value, 22004 null, 22P02, 22021 …).
        c if c.starts_with("22") => (
            S::UNPROCESSABLE_ENTITY,
            "invalid-parameter",
            "Invalid Parameter",
        ),
        // connection exceptions, insufficient resources.
        c if c.starts_with("08") || c.starts_with("53") => {
            (S::SERVICE_UNAVAILABLE, "unavailable", "Service Unavailable")
        }
        _ => return None,
    };
    Some(row)
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        let Some(db) = e.as_db_error() else {
            // No server error: the connection broke, or a value did not convert.
            if e.is_closed() || is_io(&e) {
                return ApiError::unavailable(e.to_string());
            }
            return ApiError::internal_error(e.to_string());
        };
        let code = db.code().code();
        match status_for_sqlstate(code) {
            Some((status, slug, title)) if status.is_server_error() => {
                ApiError::new(status, slug, title)
                    .detail("The database is busy or unavailable; retry later.")
                    .retry_after(if *db.code() == SqlState::T_R_SERIALIZATION_FAILURE {
                        1
                    } else {
                        5
                    })
                    .internal(format!("{code}: {}", db.message()))
            }
            Some((status, slug, title)) => {
                let mut detail = db.message().to_owned();
                if let Some(h) = db.hint() {
                    detail.push_str(". ");
                    detail.push_str(h);
                }
                let mut err = ApiError::new(status, slug, title).detail(detail);
                // Validation with one line per problem (e.g. ingest documents).
                if status == StatusCode::UNPROCESSABLE_ENTITY {
                    if let Some(d) = db.detail() {
                        err.errors = d
                            .lines()
                            .filter(|l| !l.trim().is_empty())
                            .map(|l| FieldError {
                                field: l.split(':').next().unwrap_or("").trim().to_owned(),
                                message: l.trim().to_owned(),
                            })
                            .collect();
                    }
                }
                err
            }
            None => ApiError::internal_error(format!("{code}: {}", db.message())),
        }
    }
}

fn is_io(e: &tokio_postgres::Error) -> bool {
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if s.is::<std::io::Error>() {
            return true;
        }
        src = s.source();
    }
    false
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(b) => b.into(),
            other => ApiError::unavailable(other.to_string()),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstate_table() {
        let s = |c| status_for_sqlstate(c).map(|r| r.0.as_u16());
        assert_eq!(s("P0002"), Some(404));
        assert_eq!(s("23505"), Some(409));
        assert_eq!(s("55000"), Some(409));
        assert_eq!(s("22023"), Some(422));
        assert_eq!(s("22004"), Some(422));
        assert_eq!(s("54000"), Some(422));
        assert_eq!(s("08006"), Some(503));
        assert_eq!(s("57P01"), Some(503));
        assert_eq!(s("42501"), Some(503));
        assert_eq!(s("XX000"), None);
    }
}
