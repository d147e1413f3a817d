//! Mechanisms of the auth schemes the spec model names: HTTP Basic here, the access key /
//! secret key signature in [`aksk`]. Which API uses which scheme is the spec's business.

pub mod aksk;

use http::{header, HeaderMap};

/// Compare a presented secret (password, token) with the stored one in constant time, so the
/// answer's timing tells nothing about how much of it was right.
pub fn secrets_equal(presented: &str, stored: &str) -> bool {
    let (presented, stored) = (presented.as_bytes(), stored.as_bytes());
    if presented.len() != stored.len() {
        return false;
    }
    // Every byte's difference folded into one, then an optimisation barrier on that one value:
    // the whole fold must run, with no early exit. (subtle's `ct_eq` puts a barrier on every
    // byte, which cost 2% of a write that checks a session token.)
    let difference = presented
        .iter()
        .zip(stored)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

/// `Authorization: Basic ...` decoded to (user, password); `None` if absent or malformed.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::secrets_equal;

    #[test]
    fn secrets_are_equal_only_byte_for_byte() {
        assert!(secrets_equal("", ""));
        assert!(secrets_equal("Mock-Pass1!", "Mock-Pass1!"));
        assert!(!secrets_equal("Mock-Pass1!", "Mock-Pass1?"));
        assert!(!secrets_equal("xMock-Pass1!", "yMock-Pass1!"));
        assert!(!secrets_equal("Mock-Pass1", "Mock-Pass1!"));
        assert!(!secrets_equal("", "a"));
        assert!(!secrets_equal("é", "e\u{301}"));
    }
}
