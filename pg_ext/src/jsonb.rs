//! Results built as `jsonb` directly: a `serde_json::Value` pushed into PostgreSQL's
//! `JsonbValue` builder (`pushJsonbValue` + `JsonbValueToJsonb`), instead of pgrx's
//! `JsonB`, which prints the value as text and has `jsonb_in` parse it again.
//!
//! The result is the same `jsonb` as `jsonb_in` would make of serde_json's text: keys are
//! sorted and de-duplicated by `pushJsonbValue` exactly as by the parser, and numbers go
//! through `numeric_in` with serde_json's own digits (so 0.1 stays 0.1, not float8's
//! 15-digit rounding).

use std::ffi::CString;

use pgrx::callconv::{BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::pg_sys;
use pgrx::prelude::*;
use serde_json::Value;

use crate::error::IdgraphError;

/// A `jsonb` datum built in the current memory context, returned as it is.
pub struct Jsonb(pg_sys::Datum);

pgrx::impl_sql_translatable!(Jsonb, "jsonb");

impl IntoDatum for Jsonb {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(self.0)
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::JSONBOID
    }
}

unsafe impl BoxRet for Jsonb {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        // SAFETY: the datum is a jsonb varlena palloc'd in the function's memory context.
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}

impl Jsonb {
    /// `v` as a jsonb datum.
    pub fn from_value(v: &Value) -> Result<Self, IdgraphError> {
        let mut state: *mut pg_sys::JsonbParseState = std::ptr::null_mut();
        // SAFETY: pushJsonbValue and JsonbValueToJsonb are called as jsonb.c does: every
        // container opened is closed, scalars point into `v`, which outlives the
        // conversion (JsonbValueToJsonb copies everything into the new varlena).
        unsafe {
            let root = match v {
                Value::Object(_) | Value::Array(_) => push(&mut state, v, None)?,
                scalar => {
                    // A top-level scalar is a one-element "raw scalar" array, as in jsonb_in.
                    let mut open = pg_sys::JsonbValue {
                        type_: pg_sys::jbvType::jbvArray,
                        ..Default::default()
                    };
                    open.val.array.rawScalar = true;
                    pg_sys::pushJsonbValue(
                        &mut state,
                        pg_sys::JsonbIteratorToken::WJB_BEGIN_ARRAY,
                        &mut open,
                    );
                    push(
                        &mut state,
                        scalar,
                        Some(pg_sys::JsonbIteratorToken::WJB_ELEM),
                    )?;
                    pg_sys::pushJsonbValue(
                        &mut state,
                        pg_sys::JsonbIteratorToken::WJB_END_ARRAY,
                        std::ptr::null_mut(),
                    )
                }
            };
            if root.is_null() {
                return Err(IdgraphError::internal("building a jsonb result gave NULL"));
            }
            let jb = pg_sys::JsonbValueToJsonb(root);
            Ok(Jsonb(pg_sys::Datum::from(jb.cast::<std::ffi::c_void>())))
        }
    }
}

/// Pushes `v`: a container with everything in it, or a scalar as `token` (a key's value
/// or an array element). Returns what the last push returned (the root, at the end).
unsafe fn push(
    state: &mut *mut pg_sys::JsonbParseState,
    v: &Value,
    token: Option<pg_sys::JsonbIteratorToken::Type>,
) -> Result<*mut pg_sys::JsonbValue, IdgraphError> {
    use pg_sys::JsonbIteratorToken as T;
    unsafe {
        match v {
            Value::Object(m) => {
                pg_sys::pushJsonbValue(state, T::WJB_BEGIN_OBJECT, std::ptr::null_mut());
                for (k, child) in m {
                    let mut key = string(k)?;
                    pg_sys::pushJsonbValue(state, T::WJB_KEY, &mut key);
                    push(state, child, Some(T::WJB_VALUE))?;
                }
                Ok(pg_sys::pushJsonbValue(
                    state,
                    T::WJB_END_OBJECT,
                    std::ptr::null_mut(),
                ))
            }
            Value::Array(items) => {
                pg_sys::pushJsonbValue(state, T::WJB_BEGIN_ARRAY, std::ptr::null_mut());
                for child in items {
                    push(state, child, Some(T::WJB_ELEM))?;
                }
                Ok(pg_sys::pushJsonbValue(
                    state,
                    T::WJB_END_ARRAY,
                    std::ptr::null_mut(),
                ))
            }
            scalar => {
                let Some(token) = token else {
                    return Err(IdgraphError::internal(
                        "a jsonb scalar pushed without a token",
                    ));
                };
                let mut jv = scalar_value(scalar)?;
                Ok(pg_sys::pushJsonbValue(state, token, &mut jv))
            }
        }
    }
}

/// A string JsonbValue pointing into `s` (which must outlive the conversion).
fn string(s: &str) -> Result<pg_sys::JsonbValue, IdgraphError> {
    let len = i32::try_from(s.len())
        .map_err(|_| IdgraphError::internal("a string in a jsonb result is over 2 GB"))?;
    let mut jv = pg_sys::JsonbValue {
        type_: pg_sys::jbvType::jbvString,
        ..Default::default()
    };
    jv.val.string = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_1 {
        len,
        val: s.as_ptr().cast_mut().cast(),
    };
    Ok(jv)
}

fn scalar_value(v: &Value) -> Result<pg_sys::JsonbValue, IdgraphError> {
    let mut jv = pg_sys::JsonbValue::default();
    match v {
        Value::Null => jv.type_ = pg_sys::jbvType::jbvNull,
        Value::Bool(b) => {
            jv.type_ = pg_sys::jbvType::jbvBool;
            jv.val.boolean = *b;
        }
        Value::String(s) => return string(s),
        Value::Number(n) => {
            jv.type_ = pg_sys::jbvType::jbvNumeric;
            jv.val.numeric = numeric(n)?;
        }
        Value::Object(_) | Value::Array(_) => {
            return Err(IdgraphError::internal(
                "a jsonb container taken for a scalar",
            ))
        }
    }
    Ok(jv)
}

/// serde_json's digits for `n`, as a numeric (what `jsonb_in` makes of the same text).
fn numeric(n: &serde_json::Number) -> Result<pg_sys::Numeric, IdgraphError> {
    if let Some(i) = n.as_i64() {
        // SAFETY: int64_to_numeric takes any int64 and pallocs the result.
        return Ok(unsafe { pg_sys::int64_to_numeric(i) });
    }
    let text = CString::new(n.to_string())
        .map_err(|_| IdgraphError::internal("a number printed with a NUL byte"))?;
    // SAFETY: numeric_in(cstring, oid, int4) with a valid C string; it raises on bad input
    // (serde_json's digits are always valid numeric input).
    let d = unsafe {
        pgrx::direct_function_call_as_datum(
            pg_sys::numeric_in,
            &[
                Some(pg_sys::Datum::from(text.as_ptr())),
                pg_sys::InvalidOid.into_datum(),
                Some(pg_sys::Datum::from(-1i32)),
            ],
        )
    };
    match d {
        Some(d) => Ok(d.cast_mut_ptr()),
        None => Err(IdgraphError::internal("numeric_in returned NULL")),
    }
}
