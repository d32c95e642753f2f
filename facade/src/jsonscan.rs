//! A pre-scan of a JSON body's bytes, before anything is parsed or allocated: nesting
//! depth, the number of values, and the length of each array directly under the root
//! object (where the bulk of a body is: `nodes`, `edges`, `items` …). A body over a bound
//! is refused from the scan alone — fast, and without the memory a parse into
//! `serde_json::Value` would take (tens of bytes per value).
//!
//! The scan does not validate JSON: a malformed body passes it (or trips a bound) and is
//! then refused by the parser with 400, as before.

/// Bodies nested deeper than this are refused (422); serde_json's own limit is 128.
pub const MAX_DEPTH: usize = 32;

/// Bodies with more values than this are refused (413). A 10 MB body of the shape the
/// routes take holds far fewer; 1,000,000 `Value`s are some 50–100 MB parsed.
pub const MAX_VALUES: usize = 1_000_000;

/// Why a body was refused by the scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    TooDeep { max: usize },
    TooManyValues { max: usize },
    ArrayTooLong { key: String, max: usize },
}

struct Watched {
    max: usize,
    n: usize,
    key: (usize, usize),
}

/// Scans `b`; `cap(key)` is the most elements allowed in the array at `$.key`.
pub fn scan(
    b: &[u8],
    max_depth: usize,
    max_values: usize,
    cap: impl Fn(&str) -> Option<usize>,
) -> Result<(), Refusal> {
    let mut depth = 0usize;
    let mut values = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let mut root_is_object = false;
    // The last string seen directly in the root object, and the key it became.
    let mut string_start = 0usize;
    let mut last_root_string: Option<(usize, usize)> = None;
    let mut root_key: Option<(usize, usize)> = None;
    // The array directly under the root whose elements are being counted.
    let mut watched: Option<Watched> = None;
    for (i, &c) in b.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
                if depth == 1 && root_is_object {
                    last_root_string = Some((string_start, i));
                }
            }
            continue;
        }
        if c.is_ascii_whitespace() {
            continue;
        }
        let mut opened_watched = false;
        match c {
            b'"' => {
                in_string = true;
                string_start = i + 1;
            }
            b'{' | b'[' => {
                if depth == 0 && c == b'{' {
                    root_is_object = true;
                }
                if depth == 1 && c == b'[' && root_is_object {
                    if let Some((s, e)) = root_key {
                        if let Some(max) = cap(&String::from_utf8_lossy(&b[s..e])) {
                            watched = Some(Watched {
                                max,
                                n: 0,
                                key: (s, e),
                            });
                            opened_watched = true;
                        }
                    }
                }
                depth += 1;
                values += 1;
                if depth > max_depth {
                    return Err(Refusal::TooDeep { max: max_depth });
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth <= 1 {
                    watched = None;
                }
            }
            b':' if depth == 1 => root_key = last_root_string.take(),
            b',' => {
                values += 1;
                if depth == 1 {
                    root_key = None;
                }
            }
            _ => {}
        }
        if values > max_values {
            return Err(Refusal::TooManyValues { max: max_values });
        }
        if opened_watched {
            continue;
        }
        if let Some(w) = watched.as_mut() {
            // Anything after the '[' starts the first element (a ']' would have ended
            // the watch); then each comma at the array's own level starts one more.
            if w.n == 0 || (c == b',' && depth == 2) {
                w.n += 1;
            }
            if w.n > w.max {
                let (s, e) = w.key;
                return Err(Refusal::ArrayTooLong {
                    key: String::from_utf8_lossy(&b[s..e]).into_owned(),
                    max: w.max,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(k: &str) -> Option<usize> {
        (k == "nodes").then_some(3)
    }

    #[test]
    fn depth_values_and_root_arrays() {
        let ok =
            br#"{"source": "m", "nodes": [{"a": [1, 2]}, {"b": "x,]"}, 3], "edges": [1,2,3,4,5]}"#;
        assert_eq!(scan(ok, 32, 100, caps), Ok(()));
        let long = br#"{"nodes": [1, 2, 3, 4]}"#;
        assert_eq!(
            scan(long, 32, 100, caps),
            Err(Refusal::ArrayTooLong {
                key: "nodes".into(),
                max: 3
            })
        );
        let objs = br#"{"nodes": [{"x": 1, "y": 2}, {"x": 3}, {}, {}]}"#;
        assert!(matches!(
            scan(objs, 32, 100, caps),
            Err(Refusal::ArrayTooLong { .. })
        ));
        // Commas inside the elements do not count as elements.
        let inner = br#"{"nodes": [{"x": [1,2,3,4,5,6]}, {"y": "a,b,c,d"}]}"#;
        assert_eq!(scan(inner, 32, 100, caps), Ok(()));
        assert_eq!(scan(br#"{"nodes": []}"#, 32, 100, caps), Ok(()));
        // A key named like a capped one deeper down is not capped.
        let deep_key = br#"{"meta": {"nodes": [1,2,3,4,5]}}"#;
        assert_eq!(scan(deep_key, 32, 100, caps), Ok(()));
        // An escaped quote inside a key or value does not confuse the scan.
        let esc = br#"{"n\"odes": [1,2,3,4], "nodes": [1]}"#;
        assert_eq!(scan(esc, 32, 100, caps), Ok(()));
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert_eq!(
            scan(deep.as_bytes(), 32, 100, caps),
            Err(Refusal::TooDeep { max: 32 })
        );
        let many = format!("[{}]", vec!["1"; 200].join(","));
        assert_eq!(
            scan(many.as_bytes(), 32, 100, caps),
            Err(Refusal::TooManyValues { max: 100 })
        );
        // Malformed input is the parser's business.
        assert_eq!(scan(b"{\"nodes\": [1,", 32, 100, caps), Ok(()));
        assert_eq!(scan(b"}}}]]]", 32, 100, caps), Ok(()));
    }

    /// Arbitrary bytes never panic the scan, and on valid JSON its depth bound agrees
    /// with the document's real depth.
    #[test]
    fn arbitrary_bytes_and_real_depths() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = br#"{}[]",:\ ab1"#;
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let _ = scan(&bytes, 8, 50, |_| Some(2));
        }
        fn depth(v: &serde_json::Value) -> usize {
            match v {
                serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
                serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
                _ => 0,
            }
        }
        for d in 0..12usize {
            let doc = format!("{}1{}", r#"{"a": ["#.repeat(d), "]}".repeat(d));
            let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
            let real = depth(&v);
            assert_eq!(scan(doc.as_bytes(), real, 1000, |_| None), Ok(()));
            if real > 0 {
                assert!(scan(doc.as_bytes(), real - 1, 1000, |_| None).is_err());
            }
        }
    }
}
