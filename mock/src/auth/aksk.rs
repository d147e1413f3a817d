//! AK/SK request signature of the `SDK-HMAC-SHA256` family: signer and verifier.
//!
//! The mechanism is shared; what names it is data. The algorithm name and the date and content-hash
//! header names come from the API's spec (`auth[].scheme = ak-sk`), read into a [`Profile`]. The
//! signer is byte-compatible with the vendor SDK that the spec's API documents, checked against vectors
//! produced by that SDK (the generator script and its JSON output in `mock/tests/data/`, replayed by
//! `mock/tests/aksk_signature.rs`). The scheme:
//!
//! ```text
//! CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n PayloadHash
//! StringToSign     = <algorithm> \n <date header value> \n hex(sha256(CanonicalRequest))
//! Signature        = hex(hmac_sha256(SK, StringToSign))
//! Authorization    = <algorithm> Access=<AK>, SignedHeaders=<a;b;c>, Signature=<hex>
//! ```
//!
//! SDK details reproduced here (see the report in the tests for the vectors that pin each one):
//! - CanonicalURI: the whole path is percent-decoded (also `%2F`), split on `/`, each segment re-encoded
//!   with Python's `quote(s, safe='~')`, and a trailing `/` is appended if missing.
//! - CanonicalQuery: the SDK encodes its own parameters; a verifier decodes what arrived (`+` stays `+`, as
//!   in Python's `unquote`) and re-encodes the SDK's way, sorted by decoded name, then decoded value.
//! - CanonicalHeaders: `name:value\n` with the value trimmed like Python's `str.strip()`.
//! - PayloadHash: an empty body always hashes to sha256(""), even when the content-hash header is set;
//!   otherwise the (trimmed) content-hash header value, if present and signed, is used literally;
//!   otherwise the hex sha256 of the exact body bytes.

use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use crate::spec::AuthScheme;

/// The format of the date header's value (basic ISO 8601, UTC).
pub const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// The content-hash header value that leaves the body unsigned (the SDK sets it for non-JSON bodies).
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// sha256 of the empty string; the SDK uses it for any empty body.
const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Error payloads quote client input; cap them so a huge header cannot blow up logs or responses.
const MAX_ERROR_DETAIL: usize = 64;

/// Python's `urllib.parse.quote(s, safe='~')`: everything but `A-Za-z0-9_.-~` is percent-encoded
/// (upper-case hex, over the UTF-8 bytes).
const SDK_QUOTE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

type HmacSha256 = Hmac<Sha256>;

/// The names one API gives the mechanism, from its spec's `ak-sk` auth scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The algorithm name that opens the Authorization header and the string to sign.
    pub algorithm: String,
    /// The header carrying the signature date, lower-cased.
    pub date_header: String,
    /// The header whose signed value stands in for the body's hash, lower-cased.
    pub content_sha256_header: String,
}

impl Profile {
    /// The profile of an `ak-sk` scheme; `None` for any other scheme.
    pub fn of(scheme: &AuthScheme) -> Option<Profile> {
        match scheme {
            AuthScheme::AkSk {
                algorithm,
                date_header,
                content_sha256_header,
                ..
            } => Some(Profile {
                algorithm: algorithm.clone(),
                date_header: date_header.to_ascii_lowercase(),
                content_sha256_header: content_sha256_header.to_ascii_lowercase(),
            }),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("no Authorization header")]
    Missing,
    #[error("malformed Authorization header: {0}")]
    Malformed(String),
    #[error("unsupported algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("no date header")]
    MissingDate,
    #[error("malformed date header: {0}")]
    MalformedDate(String),
    #[error("the signature date differs from server time by more than {max_minutes}min")]
    Skew { max_minutes: i64 },
    #[error("ak not exist: {0}")]
    UnknownAccessKey(String),
    #[error("a signed header is missing from the request: {0}")]
    MissingSignedHeader(String),
    #[error("verify aksk signature fail")]
    BadSignature,
}

/// The canonical request string exactly as the SDK builds it.
/// `path` is the request path as sent (percent-encoded as on the wire), `raw_query` the query string
/// as on the wire (without '?'), `signed_headers` lower-case names in the order to sign.
///
/// A signed header that is absent from `headers` is rendered as `name:` (the SDK itself would crash);
/// header values that are not UTF-8 are rendered lossily here, [`verify`] hashes their exact bytes.
pub fn canonical_request(
    profile: &Profile,
    method: &str,
    path: &str,
    raw_query: Option<&str>,
    headers: &HeaderMap,
    signed_headers: &[String],
    body: &[u8],
) -> String {
    let query = canonical_query(raw_query, QueryOrder::NameThenValue);
    let bytes =
        canonical_request_bytes(profile, method, path, &query, headers, signed_headers, body);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `algorithm \n date \n hex(sha256(canonical_request))`, `date` being the date header's value as sent.
pub fn string_to_sign(profile: &Profile, canonical_request: &str, date: &str) -> String {
    string_to_sign_bytes(profile, canonical_request.as_bytes(), date)
}

/// Lower-case hex HMAC-SHA256 of `string_to_sign`, keyed with the SK's bytes (no key derivation).
pub fn signature(sk: &str, string_to_sign: &str) -> String {
    match mac(sk, string_to_sign) {
        Some(m) => hex::encode(m.finalize().into_bytes()),
        // Unreachable: HMAC takes keys of any length.
        None => String::new(),
    }
}

/// Sign like the SDK: sets the profile's date header (from `now`) and Authorization on `headers`, signing
/// every header present (names without '_'), which must already include Host and Content-Type if they are
/// to be signed.
///
/// Like the SDK it also sets the content-hash header to `UNSIGNED-PAYLOAD` when Content-Type is set and is
/// not `application/json*` / `application/bson*`, and rewrites header values to their trimmed form (the
/// SDK sends what it signed). An existing Authorization header is replaced. If `ak` cannot be carried in a
/// header value (control characters), no Authorization header is set; a profile header name that is not
/// a valid header name is not set either.
#[allow(clippy::too_many_arguments)] // the signature is the public contract other modules call
pub fn sign(
    profile: &Profile,
    method: &str,
    path: &str,
    raw_query: Option<&str>,
    headers: &mut HeaderMap,
    body: &[u8],
    ak: &str,
    sk: &str,
    now: DateTime<Utc>,
) {
    headers.remove(AUTHORIZATION);
    let date = now.format(DATE_FORMAT).to_string();
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(profile.date_header.as_bytes()),
        HeaderValue::from_str(&date),
    ) {
        headers.insert(name, value);
    }

    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !content_type.is_empty()
        && !content_type.starts_with(b"application/json")
        && !content_type.starts_with(b"application/bson")
    {
        if let Ok(name) = HeaderName::from_bytes(profile.content_sha256_header.as_bytes()) {
            headers.insert(name, HeaderValue::from_static(UNSIGNED_PAYLOAD));
        }
    }

    trim_header_values(headers);

    let mut signed: Vec<String> = headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| !k.contains('_'))
        .map(str::to_owned)
        .collect();
    signed.sort();

    let query = canonical_query(raw_query, QueryOrder::NameThenValue);
    let canonical = canonical_request_bytes(profile, method, path, &query, headers, &signed, body);
    let sts = string_to_sign_bytes(profile, &canonical, &date);
    let auth = format!(
        "{} Access={ak}, SignedHeaders={}, Signature={}",
        profile.algorithm,
        signed.join(";"),
        signature(sk, &sts)
    );
    if let Ok(v) = HeaderValue::from_str(&auth) {
        headers.insert(AUTHORIZATION, v);
    }
}

/// Verify a request's AK/SK signature using ITS OWN SignedHeaders list (never a fixed set), the exact body
/// bytes received, and the skew limit against `now` (the mock's clock). `secret_for(ak)` looks up the SK.
/// Returns the AK on success. Comparison of signatures is constant-time.
///
/// Query order: the canonical form sorts by name then value. The SDK, however, sorts repeated parameters
/// by their native value (ints numerically: `ids=9&ids=10`) and sends them in that order, so when a
/// repeated name arrives in another order than the string sort, the wire order of its values is tried too.
#[allow(clippy::too_many_arguments)] // the signature is the public contract other modules call
pub fn verify(
    profile: &Profile,
    method: &str,
    path: &str,
    raw_query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    secret_for: &dyn Fn(&str) -> Option<String>,
    now: DateTime<Utc>,
    max_skew: chrono::Duration,
) -> Result<String, VerifyError> {
    let auth = parse_authorization(profile, headers)?;
    let (date_str, date) = parse_date(profile, headers)?;

    let drift = now.signed_duration_since(date);
    if drift > max_skew || -drift > max_skew {
        return Err(VerifyError::Skew {
            max_minutes: max_skew.num_minutes(),
        });
    }

    let sk = secret_for(&auth.access)
        .ok_or_else(|| VerifyError::UnknownAccessKey(clip(&auth.access)))?;

    for name in &auth.signed_headers {
        let present = HeaderName::from_bytes(name.as_bytes())
            .map(|n| headers.contains_key(n))
            .unwrap_or(false);
        if !present {
            return Err(VerifyError::MissingSignedHeader(clip(name)));
        }
    }

    // The SDK signs a content-hash header value instead of the body. UNSIGNED-PAYLOAD leaves the body
    // unsigned by design; any other value is a claimed hash, so hold the body to it — otherwise a
    // captured request could carry a swapped body under its original hash.
    if !body.is_empty() {
        if let Some(claimed) = signed_content_sha256(profile, headers, &auth.signed_headers) {
            if claimed != UNSIGNED_PAYLOAD.as_bytes() && claimed != sha256_hex(body).as_bytes() {
                return Err(VerifyError::BadSignature);
            }
        }
    }

    if !is_lower_hex_sha256(&auth.signature) {
        return Err(VerifyError::BadSignature);
    }
    let Ok(provided) = hex::decode(&auth.signature) else {
        return Err(VerifyError::BadSignature);
    };

    let mut candidates = vec![canonical_query(raw_query, QueryOrder::NameThenValue)];
    let wire_order = canonical_query(raw_query, QueryOrder::NameThenWireValue);
    if wire_order != candidates[0] {
        candidates.push(wire_order);
    }

    let mut ok = false;
    for query in &candidates {
        let canonical = canonical_request_bytes(
            profile,
            method,
            path,
            query,
            headers,
            &auth.signed_headers,
            body,
        );
        let sts = string_to_sign_bytes(profile, &canonical, &date_str);
        if let Some(m) = mac(&sk, &sts) {
            // `verify_slice` compares in constant time.
            ok |= m.verify_slice(&provided).is_ok();
        }
    }
    if ok {
        Ok(auth.access)
    } else {
        Err(VerifyError::BadSignature)
    }
}

// ---------------------------------------------------------------------------------------------------------
// Authorization and date parsing

#[derive(Debug, PartialEq, Eq)]
struct Authorization {
    access: String,
    signed_headers: Vec<String>,
    signature: String,
}

fn parse_authorization(
    profile: &Profile,
    headers: &HeaderMap,
) -> Result<Authorization, VerifyError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(VerifyError::Missing)?;
    if values.next().is_some() {
        return Err(malformed("more than one Authorization header"));
    }
    let s = value
        .to_str()
        .map_err(|_| malformed("not visible ASCII"))?
        .trim_matches(|c| c == ' ' || c == '\t');
    if s.is_empty() {
        return Err(malformed("empty"));
    }
    let (algorithm, rest) = match s.split_once([' ', '\t']) {
        Some((a, r)) => (a, r.trim_start_matches([' ', '\t'])),
        None => (s, ""),
    };
    if algorithm != profile.algorithm {
        return Err(VerifyError::UnsupportedAlgorithm(clip(algorithm)));
    }

    // Gateway-tolerant: spaces around the commas are optional, the parts come in this fixed order.
    let mut parts = rest.split(',').map(|p| p.trim_matches([' ', '\t']));
    let mut field = |key: &str| -> Result<&str, VerifyError> {
        let part = parts
            .next()
            .ok_or_else(|| malformed(&format!("no {key}")))?;
        let value = part
            .strip_prefix(key)
            .and_then(|p| p.strip_prefix('='))
            .ok_or_else(|| malformed(&format!("expected {key}=… but found {}", clip(part))))?;
        if value.is_empty() {
            return Err(malformed(&format!("empty {key}")));
        }
        Ok(value)
    };
    let access = field("Access")?.to_owned();
    let signed = field("SignedHeaders")?;
    let signature = field("Signature")?.to_owned();
    if parts.next().is_some() {
        return Err(malformed("unexpected part after Signature"));
    }

    let signed_headers: Vec<String> = signed.split(';').map(str::to_owned).collect();
    if signed_headers.iter().any(String::is_empty) {
        return Err(malformed("empty name in SignedHeaders"));
    }
    Ok(Authorization {
        access,
        signed_headers,
        signature,
    })
}

/// Returns the date exactly as sent (it goes into the StringToSign verbatim) and its parsed value.
/// Only the canonical 16-character form is accepted, so that the verbatim string equals what the SDK
/// would print back with `strftime` (Python's `strptime` would also take e.g. single-digit fields).
fn parse_date(
    profile: &Profile,
    headers: &HeaderMap,
) -> Result<(String, DateTime<Utc>), VerifyError> {
    let mut values = headers.get_all(profile.date_header.as_str()).iter();
    let value = values.next().ok_or(VerifyError::MissingDate)?;
    if values.next().is_some() {
        return Err(VerifyError::MalformedDate(
            "more than one date header".into(),
        ));
    }
    let s = value.to_str().map_err(|_| {
        VerifyError::MalformedDate(clip(&String::from_utf8_lossy(value.as_bytes())))
    })?;
    let parsed = NaiveDateTime::parse_from_str(s, DATE_FORMAT)
        .ok()
        .filter(|d| s.len() == 16 && d.format(DATE_FORMAT).to_string() == s)
        .ok_or_else(|| VerifyError::MalformedDate(clip(s)))?;
    Ok((s.to_owned(), parsed.and_utc()))
}

fn malformed(why: &str) -> VerifyError {
    VerifyError::Malformed(why.to_owned())
}

/// At most `MAX_ERROR_DETAIL` characters of client input, for error messages.
fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_ERROR_DETAIL) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn is_lower_hex_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

// ---------------------------------------------------------------------------------------------------------
// Canonical request

fn canonical_request_bytes(
    profile: &Profile,
    method: &str,
    path: &str,
    canonical_query: &str,
    headers: &HeaderMap,
    signed_headers: &[String],
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + path.len() + canonical_query.len());
    out.extend_from_slice(method.to_uppercase().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(path).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query.as_bytes());
    out.push(b'\n');
    for name in signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&header_value(headers, name).unwrap_or_default());
        out.push(b'\n');
    }
    // The header block ends with its own '\n' and is then joined with '\n', hence the blank line.
    out.push(b'\n');
    out.extend_from_slice(signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&payload_hash(profile, headers, signed_headers, body));
    out
}

fn string_to_sign_bytes(profile: &Profile, canonical: &[u8], date: &str) -> String {
    format!("{}\n{date}\n{}", profile.algorithm, sha256_hex(canonical))
}

fn mac(sk: &str, string_to_sign: &str) -> Option<HmacSha256> {
    let mut m = HmacSha256::new_from_slice(sk.as_bytes()).ok()?;
    m.update(string_to_sign.as_bytes());
    Some(m)
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Python's `quote(s, safe='~')`.
fn sdk_quote(s: &str) -> String {
    utf8_percent_encode(s, SDK_QUOTE).to_string()
}

/// Python's `unquote(s)`: `%XX` decoded, invalid escapes kept literally, `+` kept, invalid UTF-8 replaced
/// by U+FFFD (Python decodes with errors='replace'; both use the maximal-subpart rule).
fn unquote(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn canonical_uri(path: &str) -> String {
    let decoded = unquote(path);
    let mut uri = decoded
        .split('/')
        .map(sdk_quote)
        .collect::<Vec<_>>()
        .join("/");
    // The SDK always ends the canonical URI with '/'; an empty path (which it never sends) becomes "/".
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueryOrder {
    /// Sort by decoded name, then decoded value (code-point order, like Python's str sort).
    NameThenValue,
    /// Stable sort by decoded name only: values of a repeated name keep their wire order.
    NameThenWireValue,
}

fn canonical_query(raw_query: Option<&str>, order: QueryOrder) -> String {
    let Some(raw) = raw_query else {
        return String::new();
    };
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (unquote(k), unquote(v)),
            None => (unquote(p), String::new()),
        })
        .collect();
    // Sorting the decoded strings matters: the SDK sorts before encoding ('a.' < 'a/' but 'a%2F' < 'a.').
    match order {
        QueryOrder::NameThenValue => pairs.sort(),
        QueryOrder::NameThenWireValue => pairs.sort_by(|a, b| a.0.cmp(&b.0)),
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", sdk_quote(k), sdk_quote(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of a signed header as the SDK canonicalises it (trimmed). Repeated headers, which the SDK
/// never sends, are trimmed and joined with ',' so that an appended duplicate breaks the signature.
fn header_value(headers: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
    let mut out: Option<Vec<u8>> = None;
    for v in headers.get_all(&name) {
        let trimmed = py_trim_bytes(v.as_bytes());
        match out.as_mut() {
            None => out = Some(trimmed.to_vec()),
            Some(buf) => {
                buf.push(b',');
                buf.extend_from_slice(trimmed);
            }
        }
    }
    out
}

/// The content-hash header's value, if that header is both present and signed.
fn signed_content_sha256(
    profile: &Profile,
    headers: &HeaderMap,
    signed_headers: &[String],
) -> Option<Vec<u8>> {
    let name = profile.content_sha256_header.as_str();
    if !signed_headers.iter().any(|h| h.eq_ignore_ascii_case(name)) {
        return None;
    }
    header_value(headers, name).filter(|v| !v.is_empty())
}

fn payload_hash(
    profile: &Profile,
    headers: &HeaderMap,
    signed_headers: &[String],
    body: &[u8],
) -> Vec<u8> {
    if body.is_empty() {
        return EMPTY_HASH.as_bytes().to_vec();
    }
    // Only a signed content-hash header may stand in for the body hash; the SDK always signs it.
    signed_content_sha256(profile, headers, signed_headers)
        .unwrap_or_else(|| sha256_hex(body).into_bytes())
}

/// Python's `str.isspace()`: Unicode White_Space plus the separators U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` on a header value; bytes that are not UTF-8 get the ASCII subset of it.
fn py_trim_bytes(b: &[u8]) -> &[u8] {
    match std::str::from_utf8(b) {
        Ok(s) => s.trim_matches(is_py_space).as_bytes(),
        Err(_) => {
            let is_space = |c: &u8| c.is_ascii() && is_py_space(char::from(*c));
            let start = b.iter().position(|c| !is_space(c)).unwrap_or(b.len());
            let end = b
                .iter()
                .rposition(|c| !is_space(c))
                .map_or(start, |i| i + 1);
            &b[start..end]
        }
    }
}

/// The SDK sends header values as it signed them, i.e. stripped.
fn trim_header_values(headers: &mut HeaderMap) {
    let names: Vec<HeaderName> = headers.keys().cloned().collect();
    for name in names {
        let values: Vec<HeaderValue> = headers.get_all(&name).iter().cloned().collect();
        if values
            .iter()
            .all(|v| py_trim_bytes(v.as_bytes()).len() == v.as_bytes().len())
        {
            continue;
        }
        headers.remove(&name);
        for v in values {
            // A slice of a valid header value is itself valid.
            if let Ok(t) = HeaderValue::from_bytes(py_trim_bytes(v.as_bytes())) {
                headers.append(name.clone(), t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names no vendor uses: the mechanism must not care.
    fn test_profile() -> Profile {
        Profile {
            algorithm: "SDK-HMAC-SHA256".into(),
            date_header: "x-test-date".into(),
            content_sha256_header: "x-test-content-sha256".into(),
        }
    }

    #[test]
    fn profile_comes_from_an_ak_sk_scheme_with_lower_case_headers() {
        let scheme = AuthScheme::AkSk {
            algorithm: "ACME-HMAC-SHA256".into(),
            date_header: "X-Acme-Date".into(),
            content_sha256_header: "X-Acme-Content-Sha256".into(),
            signed_headers: Default::default(),
        };
        assert_eq!(
            Profile::of(&scheme),
            Some(Profile {
                algorithm: "ACME-HMAC-SHA256".into(),
                date_header: "x-acme-date".into(),
                content_sha256_header: "x-acme-content-sha256".into(),
            })
        );
        assert_eq!(Profile::of(&AuthScheme::Basic { realm: None }), None);
        assert_eq!(
            Profile::of(&AuthScheme::Token {
                header: "X-Token".into(),
                max_length: None,
            }),
            None
        );
    }

    #[test]
    fn sign_and_verify_use_the_profile_names() {
        let acme = Profile {
            algorithm: "ACME-HMAC-SHA256".into(),
            date_header: "x-acme-date".into(),
            content_sha256_header: "x-acme-content-sha256".into(),
        };
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("localhost"));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        sign(&acme, "PUT", "/a", None, &mut h, b"body", "AK", "SK", now);
        assert_eq!(
            h["x-acme-date"],
            now.format(DATE_FORMAT).to_string().as_str()
        );
        assert_eq!(h["x-acme-content-sha256"], UNSIGNED_PAYLOAD);
        let auth = h[AUTHORIZATION].to_str().unwrap();
        assert!(
            auth.starts_with(
                "ACME-HMAC-SHA256 Access=AK, \
                 SignedHeaders=content-type;host;x-acme-content-sha256;x-acme-date, Signature="
            ),
            "{auth}"
        );
        let secret = |ak: &str| (ak == "AK").then(|| "SK".to_owned());
        let check = |p: &Profile| {
            verify(
                p,
                "PUT",
                "/a",
                None,
                &h,
                b"body",
                &secret,
                now,
                chrono::Duration::minutes(15),
            )
        };
        assert_eq!(check(&acme), Ok("AK".into()));
        // Another profile's algorithm or date header does not match.
        assert_eq!(
            check(&test_profile()),
            Err(VerifyError::UnsupportedAlgorithm("ACME-HMAC-SHA256".into()))
        );
        let other_date = Profile {
            date_header: "x-other-date".into(),
            ..acme.clone()
        };
        assert_eq!(check(&other_date), Err(VerifyError::MissingDate));
    }

    #[test]
    fn quote_matches_python_safe_tilde() {
        // Expected values from Python 3.11 `urllib.parse.quote(s, safe='~')`.
        assert_eq!(sdk_quote("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(sdk_quote("a b+c/d"), "a%20b%2Bc%2Fd");
        assert_eq!(
            sdk_quote("!*'();:@&=$,?#[]%"),
            "%21%2A%27%28%29%3B%3A%40%26%3D%24%2C%3F%23%5B%5D%25"
        );
        assert_eq!(sdk_quote("café ☃"), "caf%C3%A9%20%E2%98%83");
        assert_eq!(sdk_quote(""), "");
    }

    #[test]
    fn unquote_matches_python() {
        assert_eq!(unquote("a+b%20c"), "a+b c");
        assert_eq!(unquote("%zz%4"), "%zz%4");
        assert_eq!(unquote("%c3%a9%C3%A9"), "éé");
        // Python 3.11 unquote() results (errors='replace' uses the same maximal-subpart rule).
        assert_eq!(unquote("%C3%28"), "\u{fffd}(");
        assert_eq!(unquote("%E2%82"), "\u{fffd}");
        assert_eq!(unquote("%F0%9F%98"), "\u{fffd}");
        assert_eq!(unquote("%ED%A0%80"), "\u{fffd}\u{fffd}\u{fffd}");
        assert_eq!(unquote("%F4%90%80%80"), "\u{fffd}\u{fffd}\u{fffd}\u{fffd}");
        assert_eq!(unquote("%C0%AF"), "\u{fffd}\u{fffd}");
    }

    #[test]
    fn canonical_uri_edge_cases() {
        assert_eq!(canonical_uri("/V1.0/pid/events"), "/V1.0/pid/events/");
        assert_eq!(canonical_uri("/V1.0/pid/events/"), "/V1.0/pid/events/");
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a%7Eb/c+d/%2Fe"), "/a~b/c%2Bd//e/");
        assert_eq!(canonical_uri("/x%2"), "/x%252/");
        assert_eq!(canonical_uri("/sp ace/é"), "/sp%20ace/%C3%A9/");
    }

    #[test]
    fn canonical_query_edge_cases() {
        let q = |s| canonical_query(Some(s), QueryOrder::NameThenValue);
        assert_eq!(canonical_query(None, QueryOrder::NameThenValue), "");
        assert_eq!(q(""), "");
        assert_eq!(q("b=2&a=1"), "a=1&b=2");
        assert_eq!(q("a=2&a=10"), "a=10&a=2");
        assert_eq!(q("flag&&x="), "flag=&x=");
        assert_eq!(q("a+b=c+d"), "a%2Bb=c%2Bd");
        assert_eq!(q("k=a%20b~%7e"), "k=a%20b~~");
        assert_eq!(q("k=a=b"), "k=a%3Db");
        // Decoded order: '.' (0x2E) < '/' (0x2F), whereas encoded "a%2F" < "a.".
        assert_eq!(q("a%2F=1&a.=2"), "a.=2&a%2F=1");
        // Upper case sorts before lower case (code points).
        assert_eq!(q("b=1&B=2"), "B=2&b=1");
        let wire = |s| canonical_query(Some(s), QueryOrder::NameThenWireValue);
        assert_eq!(wire("ids=9&b=1&ids=10"), "b=1&ids=9&ids=10");
    }

    #[test]
    fn python_strip_set() {
        // `[hex(c) for c in range(0x110000) if chr(c).isspace()]` in Python 3.11.
        let py: &[u32] = &[
            0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000,
            0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028,
            0x2029, 0x202f, 0x205f, 0x3000,
        ];
        let ours: Vec<u32> = (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|c| is_py_space(*c))
            .map(u32::from)
            .collect();
        assert_eq!(ours, py);
        assert_eq!(py_trim_bytes(" \t a b \u{a0}\u{3000}".as_bytes()), b"a b");
        assert_eq!(py_trim_bytes(b"  \xff x \xfe \t"), b"\xff x \xfe");
        assert_eq!(py_trim_bytes(b"   "), b"");
    }

    #[test]
    fn payload_hash_rules() {
        let mut h = HeaderMap::new();
        let p = test_profile();
        let signed = vec![p.content_sha256_header.clone()];
        assert_eq!(payload_hash(&p, &h, &signed, b""), EMPTY_HASH.as_bytes());
        assert_eq!(sha256_hex(b""), EMPTY_HASH);
        h.insert(
            HeaderName::from_bytes(p.content_sha256_header.as_bytes()).unwrap(),
            HeaderValue::from_static(" UNSIGNED-PAYLOAD "),
        );
        // An empty body wins over the header, as in the SDK.
        assert_eq!(payload_hash(&p, &h, &signed, b""), EMPTY_HASH.as_bytes());
        assert_eq!(payload_hash(&p, &h, &signed, b"x"), b"UNSIGNED-PAYLOAD");
        // Not signed: the header cannot replace the body hash.
        assert_eq!(payload_hash(&p, &h, &[], b"x"), sha256_hex(b"x").as_bytes());
    }

    #[test]
    fn repeated_signed_header_is_joined() {
        let mut h = HeaderMap::new();
        h.append("x-a", HeaderValue::from_static(" 1 "));
        h.append("x-a", HeaderValue::from_static("2"));
        assert_eq!(header_value(&h, "x-a").as_deref(), Some(&b"1,2"[..]));
        assert_eq!(header_value(&h, "X-A").as_deref(), Some(&b"1,2"[..]));
        assert_eq!(header_value(&h, "x-b"), None);
        assert_eq!(header_value(&h, "bad name"), None);
    }

    #[test]
    fn authorization_parsing_is_tolerant_but_strict_on_order() {
        let parse = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            parse_authorization(&test_profile(), &h)
        };
        assert_eq!(
            parse("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-test-date, Signature=ab"),
            Ok(Authorization {
                access: "AK".into(),
                signed_headers: vec!["host".into(), "x-test-date".into()],
                signature: "ab".into(),
            })
        );
        let want = || Authorization {
            access: "AK".into(),
            signed_headers: vec!["host".into()],
            signature: "ab".into(),
        };
        assert_eq!(
            parse("SDK-HMAC-SHA256 Access=AK,SignedHeaders=host,Signature=ab"),
            Ok(want())
        );
        assert_eq!(
            parse("  SDK-HMAC-SHA256   Access=AK ,  SignedHeaders=host,\tSignature=ab "),
            Ok(want())
        );
        assert!(matches!(
            parse("SDK-HMAC-SHA256 SignedHeaders=host, Access=AK, Signature=ab"),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            parse("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host"),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            parse("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=ab, x=y"),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            parse("SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature=ab"),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            parse("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;;a, Signature=ab"),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            parse("SDK-HMAC-SHA256"),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            parse("SDK-HMAC-SHA256 ,,,"),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(parse(""), Err(VerifyError::Malformed(_))));
        assert_eq!(
            parse("Bearer abc"),
            Err(VerifyError::UnsupportedAlgorithm("Bearer".into()))
        );
        assert_eq!(
            parse("sdk-hmac-sha256 Access=AK, SignedHeaders=host, Signature=ab"),
            Err(VerifyError::UnsupportedAlgorithm("sdk-hmac-sha256".into()))
        );
        let huge = "A".repeat(100_000);
        match parse(&huge) {
            Err(VerifyError::UnsupportedAlgorithm(s)) => assert!(s.len() < 100),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn date_must_be_canonical() {
        let parse = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-test-date", HeaderValue::from_str(v).unwrap());
            parse_date(&test_profile(), &h).map(|(s, _)| s)
        };
        assert_eq!(parse("20261122T024851Z"), Ok("20261122T024851Z".into()));
        for bad in [
            "2026112T024851Z",
            "20261122T024851",
            "20261122T246060Z",
            "2026-11-22T02:48:51Z",
            "",
            "20261122T024851Z ",
        ] {
            assert!(
                matches!(parse(bad), Err(VerifyError::MalformedDate(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn clip_is_char_safe() {
        let s = "é".repeat(100);
        assert_eq!(clip(&s).chars().count(), MAX_ERROR_DETAIL + 1);
        assert_eq!(clip("short"), "short");
    }
}
