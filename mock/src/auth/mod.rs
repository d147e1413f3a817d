//! Mechanisms of the auth schemes the spec model names: HTTP Basic here, the access key /
//! secret key signature in [`aksk`]. Which API uses which scheme is the spec's business.

pub mod aksk;

use http::{header, HeaderMap};

/// Compare a presented secret (password, token) with the stored one in constant time, so the
/// answer's timing tells nothing about how much of it was right.
pub fn secrets_equal(presented: &str, stored: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    presented.as_bytes().ct_eq(stored.as_bytes()).into()
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
