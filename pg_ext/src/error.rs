//! The one error type of the SQL surface, turned into a Postgres `ERROR` at the edge.
//!
//! Every error a caller can cause carries a specific SQLSTATE (never XX000) and a message
//! that says what is wrong; a hint says what to do where that helps. XX000 is kept for
//! the impossible: a case the table constraints or the code rule out, reported instead of
//! being papered over with a default.

use idgraph_core::depgraph::GraphError;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

/// An error raised by an idgraph SQL function.
#[derive(Debug)]
pub struct IdgraphError {
    code: PgSqlErrorCode,
    message: String,
    hint: Option<String>,
    detail: Option<String>,
}

impl IdgraphError {
    pub fn new(code: PgSqlErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
            detail: None,
        }
    }

    /// 22023 invalid_parameter_value.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, message)
    }

    /// 22004 null_value_not_allowed.
    pub fn null(what: &str) -> Self {
        Self::new(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            format!("{what} must not be NULL"),
        )
    }

    /// P0002 no_data_found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_NO_DATA_FOUND, message)
    }

    /// XX000 internal_error: something the schema or the code rules out happened. The
    /// message names what, so that the report is a useful bug report.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("idgraph internal error: {}", message.into()),
        )
    }

    /// 57014 query_canceled: a long computation was stopped by its cancellation check.
    pub fn canceled() -> Self {
        Self::new(
            PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
            "canceling statement: the idgraph computation was canceled",
        )
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Raises the error as a Postgres `ERROR`; does not return.
    pub fn raise(self) -> ! {
        let mut report = ErrorReport::new(self.code, self.message, "idgraph");
        if let Some(hint) = self.hint {
            report = report.set_hint(hint);
        }
        if let Some(detail) = self.detail {
            report = report.set_detail(detail);
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("ereport(ERROR) returned")
    }
}

/// Unwraps a result, raising its error as a Postgres `ERROR`.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T, IdgraphError> {
    fn or_raise(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => e.raise(),
        }
    }
}

impl From<GraphError> for IdgraphError {
    fn from(e: GraphError) -> Self {
        match e {
            GraphError::NotFound(id) => Self::not_found(format!("service '{id}' does not exist")),
            GraphError::Invalid(m) => Self::invalid(m),
            GraphError::Canceled(_) => Self::canceled(),
        }
    }
}

/// A column value that the schema declares NOT NULL (or a query that always returns a
/// row): NULL there is an internal error naming `what`, never a default.
pub fn required<T>(value: Option<T>, what: &str) -> Result<T, IdgraphError> {
    value.ok_or_else(|| IdgraphError::internal(format!("{what} is NULL")))
}

/// Serialises a value the code built itself; a failure is an internal error, never JSON
/// null.
pub fn to_value<T: serde::Serialize>(v: &T, what: &str) -> Result<serde_json::Value, IdgraphError> {
    serde_json::to_value(v)
        .map_err(|e| IdgraphError::internal(format!("could not serialise {what}: {e}")))
}
