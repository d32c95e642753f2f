//! Validation and normalization of external identifiers.
//!
//! Every external id is normalized before it is stored or looked up, so that
//! `{A3E4F567-E89B-12D3-A456-426614174001}` and `a3e4f567-e89b-12d3-a456-426614174001`
//! name the same thing and get the same integer.

use sha2::{Digest, Sha256};
use thiserror::Error;

/// Longest natural key accepted, in bytes. Long enough for composite keys, short enough
/// to stay well inside a btree index tuple.
pub const MAX_NATURAL_KEY_BYTES: usize = 512;

/// The two kinds of external identifier SEAD pipelines send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalIdType {
    Uuid,
    NaturalKey,
}

impl ExternalIdType {
    /// Parses `'uuid'` or `'natural_key'` (exactly, as the reference spells them).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        match s {
            "uuid" => Ok(Self::Uuid),
            "natural_key" => Ok(Self::NaturalKey),
            other => Err(IdError::UnknownType(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uuid => "uuid",
            Self::NaturalKey => "natural_key",
        }
    }
}

/// What is wrong with an external id. The messages are shown to pipeline authors.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    #[error("external_id_type must be 'uuid' or 'natural_key', got '{0}'")]
    UnknownType(String),
    #[error("external id '{0}' is not a valid UUID (expected 32 hex digits, optionally with hyphens 8-4-4-4-12 and braces)")]
    MalformedUuid(String),
    #[error("natural key must not be empty or blank")]
    EmptyNaturalKey,
    #[error("natural key is {0} bytes long; the limit is {MAX_NATURAL_KEY_BYTES} bytes")]
    NaturalKeyTooLong(usize),
    #[error("natural key contains a control character (NUL, newline, ...) at byte {0}")]
    NaturalKeyControlChar(usize),
}

/// Normalizes one external id of the given type.
///
/// UUIDs: braces and surrounding whitespace are stripped, hex is lower-cased, and the
/// canonical 8-4-4-4-12 hyphenation is produced whether or not the input had hyphens.
/// Natural keys: surrounding whitespace is trimmed; empty, oversized or control
/// characters are refused.
pub fn normalize(id: &str, ty: ExternalIdType) -> Result<String, IdError> {
    match ty {
        ExternalIdType::Uuid => normalize_uuid(id),
        ExternalIdType::NaturalKey => normalize_natural_key(id),
    }
}

fn normalize_uuid(raw: &str) -> Result<String, IdError> {
    let malformed = || IdError::MalformedUuid(truncate_for_message(raw));
    let mut s = raw.trim();
    if let Some(inner) = s.strip_prefix('{') {
        s = inner.strip_suffix('}').ok_or_else(malformed)?;
    } else if s.ends_with('}') {
        return Err(malformed());
    }
    let bytes = s.as_bytes();
    let hex: Vec<u8> = match bytes.len() {
        32 => bytes.to_vec(),
        36 => {
            for pos in [8usize, 13, 18, 23] {
                if bytes[pos] != b'-' {
                    return Err(malformed());
                }
            }
            bytes.iter().copied().filter(|b| *b != b'-').collect()
        }
        _ => return Err(malformed()),
    };
    if hex.len() != 32 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return Err(malformed());
    }
    let mut out = String::with_capacity(36);
    for (i, b) in hex.iter().enumerate() {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        out.push(char::from(b.to_ascii_lowercase()));
    }
    Ok(out)
}

fn normalize_natural_key(raw: &str) -> Result<String, IdError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(IdError::EmptyNaturalKey);
    }
    if s.len() > MAX_NATURAL_KEY_BYTES {
        return Err(IdError::NaturalKeyTooLong(s.len()));
    }
    if let Some(pos) = s.bytes().position(|b| b.is_ascii_control()) {
        return Err(IdError::NaturalKeyControlChar(pos));
    }
    Ok(s.to_owned())
}

/// Error messages quote the offending input, but never more than a screenful of it.
fn truncate_for_message(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Normalizes a whole batch, reporting the first bad element with its 1-based position.
pub fn normalize_batch<'a, I>(ids: I, ty: ExternalIdType) -> Result<Vec<String>, (usize, IdError)>
where
    I: IntoIterator<Item = &'a str>,
{
    ids.into_iter()
        .enumerate()
        .map(|(i, id)| normalize(id, ty).map_err(|e| (i + 1, e)))
        .collect()
}

/// The 16-byte key an allocation is stored and looked up under (issue 9: a UUID kept as 16
/// bytes, not as 37 bytes of text in the row and again in the index).
///
/// A normalized external id that is a canonical UUID (lower-case 8-4-4-4-12, as
/// [`normalize`] writes every `uuid`, and as a natural key may happen to be spelled) is its
/// own key. Any other natural key is keyed by a name-based UUID (RFC 9562 version 8): the
/// first 16 bytes of `sha256("idgraph.external_id:" || key)` with the version and variant
/// bits set. The row keeps the natural key's text beside its key and every lookup compares
/// it, so that two ids sharing a key (a sha256 collision, or a version-8 UUID crafted to
/// equal a natural key's key) are refused, never merged.
pub fn external_id_key(normalized: &str) -> [u8; 16] {
    if let Some(bytes) = canonical_uuid_bytes(normalized) {
        return bytes;
    }
    let mut h = Sha256::new();
    h.update(b"idgraph.external_id:");
    h.update(normalized.as_bytes());
    let digest = h.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key[6] = (key[6] & 0x0f) | 0x80;
    key[8] = (key[8] & 0x3f) | 0x80;
    key
}

/// The 16 bytes of `s` when it is a UUID in canonical form (lower-case hex, hyphens at
/// 8-4-4-4-12), else `None`: `A3E4…` or an unhyphenated UUID is not canonical.
fn canonical_uuid_bytes(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut nibbles = 0usize;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        out[nibbles / 2] |= if nibbles.is_multiple_of(2) { v << 4 } else { v };
        nibbles += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_canonical_uuid_is_its_own_key() {
        let id = "a3e4f567-e89b-12d3-a456-426614174001";
        let key = external_id_key(id);
        assert_eq!(key[0], 0xa3);
        assert_eq!(key[15], 0x01);
        assert_eq!(
            key,
            external_id_key(&normalize(id, ExternalIdType::NaturalKey).unwrap())
        );
    }

    #[test]
    fn a_natural_key_gets_a_version_8_key() {
        let key = external_id_key("SITE-1");
        assert_eq!(key[6] >> 4, 8, "version 8");
        assert_eq!(key[8] >> 6, 0b10, "RFC 9562 variant");
        assert_eq!(key, external_id_key("SITE-1"), "deterministic");
        assert_ne!(key, external_id_key("SITE-2"));
        // Not canonical spellings of a UUID are natural keys, keyed by their hash.
        let upper = "A3E4F567-E89B-12D3-A456-426614174001";
        assert_ne!(
            external_id_key(upper),
            external_id_key(&upper.to_lowercase())
        );
        assert_eq!(external_id_key(upper)[6] >> 4, 8);
    }

    proptest::proptest! {
        #[test]
        fn canonical_uuids_round_trip(bytes in proptest::array::uniform16(0u8..)) {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let s = format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]);
            proptest::prop_assert_eq!(external_id_key(&s), bytes);
        }
    }
    use proptest::prelude::*;

    #[test]
    fn uuid_forms_normalize_to_one() {
        let want = "a3e4f567-e89b-12d3-a456-426614174001";
        for form in [
            "a3e4f567-e89b-12d3-a456-426614174001",
            "A3E4F567-E89B-12D3-A456-426614174001",
            "{a3e4f567-e89b-12d3-a456-426614174001}",
            "  {A3E4F567-e89b-12d3-a456-426614174001} ",
            "a3e4f567e89b12d3a456426614174001",
        ] {
            assert_eq!(
                normalize(form, ExternalIdType::Uuid).as_deref(),
                Ok(want),
                "{form}"
            );
        }
    }

    #[test]
    fn malformed_uuids_are_refused() {
        for bad in [
            "",
            "not-a-uuid",
            "a3e4f567-e89b-12d3-a456-42661417400",
            "a3e4f567-e89b-12d3-a456-4266141740011",
            "g3e4f567-e89b-12d3-a456-426614174001",
            "{a3e4f567-e89b-12d3-a456-426614174001",
            "a3e4f567-e89b-12d3-a456-426614174001}",
            "a3e4f567+e89b-12d3-a456-426614174001",
            "'; drop table x; --",
        ] {
            assert!(
                matches!(
                    normalize(bad, ExternalIdType::Uuid),
                    Err(IdError::MalformedUuid(_))
                ),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn natural_keys() {
        assert_eq!(
            normalize("  SITE-1 ", ExternalIdType::NaturalKey).as_deref(),
            Ok("SITE-1")
        );
        assert_eq!(
            normalize("   ", ExternalIdType::NaturalKey),
            Err(IdError::EmptyNaturalKey)
        );
        let long = "x".repeat(MAX_NATURAL_KEY_BYTES + 1);
        assert_eq!(
            normalize(&long, ExternalIdType::NaturalKey),
            Err(IdError::NaturalKeyTooLong(MAX_NATURAL_KEY_BYTES + 1))
        );
        assert!(normalize(
            &"x".repeat(MAX_NATURAL_KEY_BYTES),
            ExternalIdType::NaturalKey
        )
        .is_ok());
        assert_eq!(
            normalize("a\nb", ExternalIdType::NaturalKey),
            Err(IdError::NaturalKeyControlChar(1))
        );
    }

    #[test]
    fn types_parse() {
        assert_eq!(ExternalIdType::parse("uuid"), Ok(ExternalIdType::Uuid));
        assert_eq!(
            ExternalIdType::parse("natural_key"),
            Ok(ExternalIdType::NaturalKey)
        );
        assert!(ExternalIdType::parse("UUID").is_err());
    }

    #[test]
    fn batch_reports_position() {
        let r = normalize_batch(["SITE-1", "", "SITE-3"], ExternalIdType::NaturalKey);
        assert_eq!(r, Err((2, IdError::EmptyNaturalKey)));
    }

    proptest! {
        #[test]
        fn uuid_normalization_is_idempotent_and_case_blind(bytes in proptest::array::uniform16(any::<u8>()), upper in any::<bool>(), hyphens in any::<bool>(), braces in any::<bool>()) {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let canonical = format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]);
            let mut form = if hyphens { canonical.clone() } else { hex.clone() };
            if upper { form = form.to_uppercase(); }
            if braces { form = format!("{{{form}}}"); }
            let n = normalize(&form, ExternalIdType::Uuid);
            prop_assert_eq!(n.as_deref(), Ok(canonical.as_str()));
            let again = normalize(&canonical, ExternalIdType::Uuid);
            prop_assert_eq!(again.as_deref(), Ok(canonical.as_str()));
        }

        #[test]
        fn natural_key_never_panics(s in ".{0,600}") {
            let _ = normalize(&s, ExternalIdType::NaturalKey);
            let _ = normalize(&s, ExternalIdType::Uuid);
        }
    }
}
