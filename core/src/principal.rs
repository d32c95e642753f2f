//! Who acted: the authenticated principal a trusted front end (the facade) vouches for.
//! Its bounds live here, for the SQL door and the facade alike.

/// The longest principal or team name accepted, in bytes.
pub const MAX_PRINCIPAL_BYTES: usize = 200;

/// Why a principal or team name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalError {
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("{0} is longer than {MAX_PRINCIPAL_BYTES} bytes")]
    TooLong(&'static str),
    #[error("{0} contains a control character")]
    Control(&'static str),
}

/// Checks a principal (what = "principal") or team (what = "team") name.
pub fn validate(what: &'static str, name: &str) -> Result<(), PrincipalError> {
    if name.trim().is_empty() {
        return Err(PrincipalError::Empty(what));
    }
    if name.len() > MAX_PRINCIPAL_BYTES {
        return Err(PrincipalError::TooLong(what));
    }
    if name.chars().any(char::is_control) {
        return Err(PrincipalError::Control(what));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(validate("principal", "key:abc"), Ok(()));
        assert_eq!(validate("team", " "), Err(PrincipalError::Empty("team")));
        assert_eq!(
            validate("principal", &"x".repeat(201)),
            Err(PrincipalError::TooLong("principal"))
        );
        assert_eq!(validate("principal", &"x".repeat(200)), Ok(()));
        assert_eq!(
            validate("principal", "a\nb"),
            Err(PrincipalError::Control("principal"))
        );
    }
}
