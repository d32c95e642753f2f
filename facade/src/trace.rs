//! W3C Trace Context (`traceparent`, <https://www.w3.org/TR/trace-context/>).
//!
//! A valid incoming `traceparent` gives the request its trace id (and sampling flags); the
//! facade is a new span in that trace, with a span id of its own. Anything invalid —
//! malformed, upper-case hex, an all-zero id, version `ff`, several headers — is ignored
//! and a new trace starts: a bad header is never an error. The context travels in a
//! task-local for the duration of the request, so the database layer can label its
//! statements with the trace id (`application_name`) without every call site passing it.
//!
//! A tiny parser rather than `opentelemetry`'s propagator: the format is four fixed-width
//! hex fields, the facade exports no spans, and the propagator would bring the whole
//! OpenTelemetry SDK for those 55 bytes.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Prefix of the Postgres `application_name` of the facade's sessions.
pub const APPLICATION_NAME: &str = "idgraph-facade";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lower-case hex digits, not all zero.
    pub trace_id: String,
    /// The facade's own span id in this trace (16 lower-case hex digits).
    pub span_id: String,
    /// The caller's span id, when the trace came in with the request.
    pub parent_id: Option<String>,
    pub flags: u8,
}

tokio::task_local! {
    static CURRENT: TraceContext;
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn all_zero(s: &str) -> bool {
    s.bytes().all(|b| b == b'0')
}

/// The (trace id, parent id, flags) of a valid `traceparent` value, else `None`.
pub fn parse(value: &str) -> Option<(String, String, u8)> {
    let b = value.as_bytes();
    // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55.
    if b.len() < 55 {
        return None;
    }
    let version = value.get(0..2)?;
    if !is_lower_hex(version) || version == "ff" {
        return None;
    }
    // Version 00 is exactly 55 long; a later version may append fields after a dash.
    if (version == "00" && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
        return None;
    }
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let trace_id = value.get(3..35)?;
    let parent_id = value.get(36..52)?;
    let flags = value.get(53..55)?;
    if !is_lower_hex(trace_id) || !is_lower_hex(parent_id) || !is_lower_hex(flags) {
        return None;
    }
    if all_zero(trace_id) || all_zero(parent_id) {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some((trace_id.to_owned(), parent_id.to_owned(), flags))
}

fn random_hex(bytes: usize) -> String {
    loop {
        let v: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
        if v.iter().any(|&b| b != 0) {
            return hex::encode(v);
        }
    }
}

impl TraceContext {
    /// The request's context: the caller's trace when its one `traceparent` is valid,
    /// else a new trace (sampled: the facade logs every request).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut values = headers.get_all(&TRACEPARENT).iter();
        let incoming = match (values.next(), values.next()) {
            (Some(v), None) => v.to_str().ok().and_then(parse),
            _ => None,
        };
        match incoming {
            Some((trace_id, parent_id, flags)) => Self {
                trace_id,
                span_id: random_hex(8),
                parent_id: Some(parent_id),
                flags,
            },
            None => Self {
                trace_id: random_hex(16),
                span_id: random_hex(8),
                parent_id: None,
                flags: 0x01,
            },
        }
    }

    /// `traceparent` naming the facade's span, for the response and for anything
    /// called on the request's behalf.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, self.flags)
    }

    pub fn header_value(&self) -> Option<HeaderValue> {
        HeaderValue::from_str(&self.traceparent()).ok()
    }

    /// Runs `f` with this context as the current one.
    pub async fn scope<F: std::future::Future>(self, f: F) -> F::Output {
        CURRENT.scope(self, f).await
    }
}

/// The Postgres `application_name` for a statement run now: it carries the current
/// request's trace id, so `pg_stat_activity` and a server log with `%a` in
/// `log_line_prefix` lead from a slow statement to the request's log lines. Outside a
/// request (start-up, metrics) it is the bare prefix, never a stale trace id.
pub fn application_name() -> String {
    CURRENT
        .try_with(|t| format!("{APPLICATION_NAME} trace={}", t.trace_id))
        .unwrap_or_else(|_| APPLICATION_NAME.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_the_spec_example() {
        let (t, p, f) = parse(GOOD).unwrap();
        assert_eq!(t, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(p, "00f067aa0ba902b7");
        assert_eq!(f, 1);
    }

    #[test]
    fn later_versions_may_append_fields() {
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra").is_some());
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_some());
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x").is_none());
    }

    #[test]
    fn refuses_what_the_spec_refuses() {
        for bad in [
            "",
            "garbage",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\u{e9}",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn context_keeps_the_trace_and_makes_its_own_span() {
        let mut h = HeaderMap::new();
        h.insert(TRACEPARENT, HeaderValue::from_static(GOOD));
        let c = TraceContext::from_headers(&h);
        assert_eq!(c.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(c.parent_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_ne!(c.span_id, "00f067aa0ba902b7");
        let out = c.traceparent();
        assert!(
            out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{out}"
        );
        assert!(out.ends_with("-01"), "{out}");
        assert!(parse(&out).is_some());
    }

    #[test]
    fn invalid_or_repeated_headers_start_a_new_trace() {
        let mut h = HeaderMap::new();
        h.insert(TRACEPARENT, HeaderValue::from_static("nonsense"));
        let c = TraceContext::from_headers(&h);
        assert_eq!(c.parent_id, None);
        assert!(parse(&c.traceparent()).is_some());
        let mut h = HeaderMap::new();
        h.append(TRACEPARENT, HeaderValue::from_static(GOOD));
        h.append(TRACEPARENT, HeaderValue::from_static(GOOD));
        let c = TraceContext::from_headers(&h);
        assert_ne!(c.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[tokio::test]
    async fn application_name_carries_the_current_trace() {
        assert_eq!(application_name(), "idgraph-facade");
        let c = TraceContext::from_headers(&HeaderMap::new());
        let id = c.trace_id.clone();
        let name = c.scope(async { application_name() }).await;
        assert_eq!(name, format!("idgraph-facade trace={id}"));
        assert!(name.len() <= 63, "fits NAMEDATALEN");
    }
}
