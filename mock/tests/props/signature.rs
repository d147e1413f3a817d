//! The AK/SK signature (`event_mock::auth::aksk`), with the names of the one registered API that
//! signs requests (its spec's `ak-sk` scheme).
//!
//! `verify` never panics on arbitrary requests; `sign` then `verify` accepts; and changing any
//! signed part of the request (method, path, query, a signed header, the body when it is signed,
//! the date, the signature, the key) makes `verify` refuse, while changes the signature does not
//! cover (query order, unsigned headers, the method's case) keep it valid.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseResult;

use event_mock::auth::aksk::{sign, verify, Profile, VerifyError, DATE_FORMAT};

use crate::runner::{bounded, until_deadline, Property};

const REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/proptest-regressions");
/// The verifier's skew limit in these tests.
const SKEW_MINUTES: i64 = 15;

fn prop(name: &'static str, cases: u32) -> Property {
    Property {
        name,
        regressions: REGRESSIONS,
        cases,
        shrink_iters: 2_000,
    }
}

fn profile() -> &'static Profile {
    static PROFILE: OnceLock<Profile> = OnceLock::new();
    PROFILE.get_or_init(|| {
        let spec = event_mock::apis::spec("cloud-eye-events").expect("the spec");
        Profile::of(spec.auth_scheme("ak-sk").expect("an ak-sk scheme")).expect("a profile")
    })
}

// ---------------------------------------------------------------------------------------------
// Generators

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
            .prop_map(str::to_owned),
        1 => prop::sample::select(vec!["get", "Post", "PROPFIND", ""]).prop_map(str::to_owned),
    ]
}

/// A piece of a path segment or query part as it travels: plain, reserved, escaped or raw
/// non-ASCII.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::char::range('a', 'z').prop_map(String::from),
        2 => proptest::char::range('0', '9').prop_map(String::from),
        2 => prop::sample::select(vec![
            "-", "_", ".", "~", "!", "$", "'", "(", ")", "*", "+", ",", ";", ":", "@", " ",
        ])
        .prop_map(str::to_owned),
        2 => any::<u8>().prop_map(|b| format!("%{b:02X}")),
        1 => any::<u8>().prop_map(|b| format!("%{b:02x}")),
        1 => prop::sample::select(vec!["%", "%4", "%zz", "%2F", "%25", "é", "☃", "😀", "\u{a0}"])
            .prop_map(str::to_owned),
    ]
}

fn word(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..max).prop_map(|p| p.concat())
}

fn path() -> impl Strategy<Value = String> {
    (prop::collection::vec(word(6), 0..4), any::<bool>()).prop_map(|(segments, slash)| {
        let mut p = format!("/{}", segments.join("/"));
        if slash && !p.ends_with('/') {
            p.push('/');
        }
        p
    })
}

fn query() -> impl Strategy<Value = Option<String>> {
    let pair = prop_oneof![
        4 => (word(5), word(5)).prop_map(|(k, v)| format!("{k}={v}")),
        1 => word(5),
        1 => (word(3), word(3)).prop_map(|(k, v)| format!("{k}={v}={v}")),
    ];
    prop::option::of(prop::collection::vec(pair, 0..5).prop_map(|pairs| pairs.join("&")))
}

/// Header names a client may send (not the profile's own, not Authorization).
fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(vec!["host", "x-project-id", "accept", "user-agent", "x-a_b"])
            .prop_map(str::to_owned),
        3 => prop::collection::vec(
            prop_oneof![
                proptest::char::range('a', 'z'),
                proptest::char::range('0', '9'),
                Just('-'),
                Just('_'),
            ],
            1..8,
        )
        .prop_map(|cs| format!("x-{}", cs.into_iter().collect::<String>())),
    ]
}

/// Header value bytes: visible ASCII, spaces and tabs (trimmed by the SDK), Unicode whitespace
/// (trimmed too, Python's `strip`) and bytes that are not UTF-8.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let chunk = prop_oneof![
        6 => (0x21u8..0x7f).prop_map(|b| vec![b]),
        2 => prop::sample::select(vec![b" ".to_vec(), b"\t".to_vec()]),
        1 => prop::sample::select(vec!["\u{a0}", "\u{3000}", "\u{85}", "é", "\u{2028}"])
            .prop_map(|s| s.as_bytes().to_vec()),
        1 => (0x80u8..=0xff).prop_map(|b| vec![b]),
    ];
    prop::collection::vec(chunk, 0..12).prop_map(|c| c.concat())
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::of(prop::sample::select(vec![
        "application/json",
        "application/json;charset=UTF-8",
        "application/bson",
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
    ]))
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => Just(Vec::new()),
        3 => prop::collection::vec(any::<u8>(), 1..48),
        1 => Just(br#"[{"event_name":"x"}]"#.to_vec()),
    ]
}

fn now() -> impl Strategy<Value = DateTime<Utc>> {
    // 2000-01-01 .. 2100-01-01
    (946_684_800i64..4_102_444_800).prop_map(|s| DateTime::from_timestamp(s, 0).expect("in range"))
}

fn access_key() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            proptest::char::range('A', 'Z'),
            proptest::char::range('a', 'z'),
            proptest::char::range('0', '9'),
        ],
        1..24,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn secret_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => access_key(),
        1 => any::<String>(),
    ]
}

/// A request before signing.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    ak: String,
    sk: String,
    now: DateTime<Utc>,
}

fn request() -> impl Strategy<Value = Request> {
    (
        (method(), path(), query()),
        prop::collection::vec((header_name(), header_value()), 0..5),
        (content_type(), body()),
        (access_key(), secret_key(), now()),
    )
        .prop_map(
            |((method, path, query), headers, (content_type, body), (ak, sk, now))| Request {
                method,
                path,
                query,
                headers,
                content_type,
                body,
                ak,
                sk,
                now,
            },
        )
}

fn header_map(headers: &[(String, Vec<u8>)], content_type: Option<&'static str>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            map.append(n, v);
        }
    }
    if let Some(ct) = content_type {
        map.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    map
}

/// A request as it arrives after the client signed it.
#[derive(Debug, Clone)]
struct Signed {
    method: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
    ak: String,
    sk: String,
    now: DateTime<Utc>,
}

fn signed(r: &Request) -> Signed {
    let mut headers = header_map(&r.headers, r.content_type);
    sign(
        profile(),
        &r.method,
        &r.path,
        r.query.as_deref(),
        &mut headers,
        &r.body,
        &r.ak,
        &r.sk,
        r.now,
    );
    Signed {
        method: r.method.clone(),
        path: r.path.clone(),
        query: r.query.clone(),
        headers,
        body: r.body.clone(),
        ak: r.ak.clone(),
        sk: r.sk.clone(),
        now: r.now,
    }
}

impl Signed {
    fn verify(&self) -> Result<String, VerifyError> {
        let (ak, sk) = (self.ak.clone(), self.sk.clone());
        let secret = move |k: &str| (k == ak).then(|| sk.clone());
        verify(
            profile(),
            &self.method,
            &self.path,
            self.query.as_deref(),
            &self.headers,
            &self.body,
            &secret,
            self.now,
            Duration::minutes(SKEW_MINUTES),
        )
    }

    /// The SignedHeaders list of the Authorization header.
    fn signed_headers(&self) -> Vec<String> {
        let auth = self
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        auth.and_then(|a| a.split("SignedHeaders=").nth(1))
            .and_then(|rest| rest.split(',').next())
            .map(|list| list.split(';').map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Is the body covered by the signature? Not when the client declared it unsigned.
    fn body_is_signed(&self) -> bool {
        self.headers
            .get(profile().content_sha256_header.as_str())
            .is_none_or(|v| v.as_bytes() != b"UNSIGNED-PAYLOAD")
    }
}

// ---------------------------------------------------------------------------------------------
// verify never panics

/// Authorization values near the real form, and anything else.
fn authorization() -> impl Strategy<Value = Vec<u8>> {
    let algorithm = prop_oneof![
        6 => Just(profile().algorithm.clone()),
        1 => Just(String::new()),
        1 => any::<String>(),
    ];
    let signed_list = prop::collection::vec(
        prop_oneof![
            4 => header_name(),
            4 => Just(profile().date_header.clone()),
            2 => Just(profile().content_sha256_header.clone()),
            2 => Just("content-type".to_owned()),
            1 => Just("Host".to_owned()),
            1 => Just(String::new()),
            1 => any::<String>(),
        ],
        0..4,
    )
    .prop_map(|names| names.join(";"));
    let signature = prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 32).prop_map(hex::encode),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(hex::encode),
        1 => any::<String>(),
    ];
    let separator = prop::sample::select(vec![", ", ",", " , ", ",\t", ";"]);
    prop_oneof![
        6 => (algorithm, access_key(), signed_list, signature, separator).prop_map(
            |(alg, ak, list, sig, sep)| {
                format!("{alg} Access={ak}{sep}SignedHeaders={list}{sep}Signature={sig}")
                    .into_bytes()
            }
        ),
        1 => header_value(),
    ]
}

fn date_value(now: DateTime<Utc>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => (-1200i64..1200).prop_map(move |d| (now + Duration::seconds(d))
            .format(DATE_FORMAT)
            .to_string()
            .into_bytes()),
        1 => header_value(),
        1 => prop::sample::select(vec![
            "20240230T000000Z",
            "99991231T235959Z",
            "2024-01-01T00:00:00Z",
            "00000101T000000Z",
            "+2024010T000000Z",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

/// A byte-level change to one header of a signed request.
#[derive(Debug, Clone)]
enum Corruption {
    Set {
        header: Index,
        at: Index,
        byte: u8,
    },
    Delete {
        header: Index,
        at: Index,
    },
    Insert {
        header: Index,
        at: Index,
        byte: u8,
    },
    /// The header once more, so it has two values.
    Repeat {
        header: Index,
    },
    Remove {
        header: Index,
    },
}

fn corruption() -> impl Strategy<Value = Corruption> {
    let byte = prop_oneof![3 => 0x20u8..0x7f, 1 => any::<u8>()];
    prop_oneof![
        3 => (any::<Index>(), any::<Index>(), byte.clone())
            .prop_map(|(header, at, byte)| Corruption::Set { header, at, byte }),
        2 => (any::<Index>(), any::<Index>())
            .prop_map(|(header, at)| Corruption::Delete { header, at }),
        2 => (any::<Index>(), any::<Index>(), byte)
            .prop_map(|(header, at, byte)| Corruption::Insert { header, at, byte }),
        1 => any::<Index>().prop_map(|header| Corruption::Repeat { header }),
        1 => any::<Index>().prop_map(|header| Corruption::Remove { header }),
    ]
}

fn corrupt(headers: &mut HeaderMap, c: &Corruption) {
    let mut names: Vec<HeaderName> = headers.keys().cloned().collect();
    names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    if names.is_empty() {
        return;
    }
    let (header, edit) = match c {
        Corruption::Set { header, .. }
        | Corruption::Delete { header, .. }
        | Corruption::Insert { header, .. }
        | Corruption::Repeat { header }
        | Corruption::Remove { header } => (header.get(&names).clone(), c),
    };
    let Some(value) = headers.get(&header).cloned() else {
        return;
    };
    let mut bytes = value.as_bytes().to_vec();
    match *edit {
        Corruption::Set { at, byte, .. } if !bytes.is_empty() => {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        Corruption::Delete { at, .. } if !bytes.is_empty() => {
            bytes.remove(at.index(bytes.len()));
        }
        Corruption::Insert { at, byte, .. } => {
            bytes.insert(at.index(bytes.len() + 1), byte);
        }
        Corruption::Repeat { .. } => {
            headers.append(header, value);
            return;
        }
        Corruption::Remove { .. } => {
            headers.remove(&header);
            return;
        }
        _ => return,
    }
    if let Ok(v) = HeaderValue::from_bytes(&bytes) {
        headers.insert(header, v);
    }
}

/// The headers `verify` gets: put together from parts, or signed properly and then corrupted.
#[derive(Debug, Clone)]
enum Headers {
    Built {
        authorization: Option<Vec<u8>>,
        dates: Vec<Vec<u8>>,
        content_hash: Option<Vec<u8>>,
    },
    SignedThenCorrupted(Vec<Corruption>),
}

#[derive(Debug, Clone)]
struct Arbitrary {
    request: Request,
    headers: Headers,
    max_skew_minutes: i64,
    every_key_known: bool,
}

fn arbitrary() -> impl Strategy<Value = Arbitrary> {
    (request(), any::<bool>(), 0i64..30).prop_flat_map(|(request, every_key_known, skew)| {
        let now = request.now;
        let built = (
            prop::option::weighted(0.9, authorization()),
            prop::collection::vec(date_value(now), 0..3),
            prop::option::of(prop_oneof![
                Just(b"UNSIGNED-PAYLOAD".to_vec()),
                Just(hex::encode(sha2_of(&request.body)).into_bytes()),
                header_value(),
            ]),
        )
            .prop_map(|(authorization, dates, content_hash)| Headers::Built {
                authorization,
                dates,
                content_hash,
            });
        let corrupted =
            prop::collection::vec(corruption(), 0..4).prop_map(Headers::SignedThenCorrupted);
        prop_oneof![built, corrupted].prop_map(move |headers| Arbitrary {
            request: request.clone(),
            headers,
            max_skew_minutes: skew,
            every_key_known,
        })
    })
}

fn sha2_of(body: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(body).into()
}

fn check_verify_never_panics(a: Arbitrary) -> TestCaseResult {
    let r = &a.request;
    let headers = match &a.headers {
        Headers::Built {
            authorization,
            dates,
            content_hash,
        } => {
            let mut headers = header_map(&r.headers, r.content_type);
            let mut put = |name: &str, value: &[u8]| {
                if let Ok(v) = HeaderValue::from_bytes(value) {
                    headers.append(
                        HeaderName::from_bytes(name.as_bytes()).expect("a valid name"),
                        v,
                    );
                }
            };
            if let Some(auth) = authorization {
                put(AUTHORIZATION.as_str(), auth);
            }
            for date in dates {
                put(&profile().date_header, date);
            }
            if let Some(hash) = content_hash {
                put(&profile().content_sha256_header, hash);
            }
            headers
        }
        Headers::SignedThenCorrupted(corruptions) => {
            let mut headers = signed(r).headers;
            for c in corruptions {
                corrupt(&mut headers, c);
            }
            headers
        }
    };
    let sk = r.sk.clone();
    let every = a.every_key_known;
    let known = r.ak.clone();
    let secret = move |k: &str| (every || k == known).then(|| sk.clone());
    let result = verify(
        profile(),
        &r.method,
        &r.path,
        r.query.as_deref(),
        &headers,
        &r.body,
        &secret,
        r.now,
        Duration::minutes(a.max_skew_minutes),
    );
    // Whatever the outcome, it names the key only when the key is one we know.
    if let Ok(ak) = result {
        prop_assert!(every || ak == r.ak, "accepted an unknown key {}", ak);
    }
    Ok(())
}

const VERIFY_NEVER_PANICS: u32 = 800;

#[test]
fn verify_never_panics() {
    bounded(
        prop("verify_never_panics", VERIFY_NEVER_PANICS),
        arbitrary(),
        check_verify_never_panics,
    );
}

#[test]
#[ignore = "long run: cargo xtask fuzz --target signature"]
fn fuzz_signature_verify_never_panics() {
    until_deadline(
        prop("verify_never_panics", VERIFY_NEVER_PANICS),
        arbitrary(),
        check_verify_never_panics,
    );
}

// ---------------------------------------------------------------------------------------------
// sign, then verify

fn check_round_trip(r: Request) -> TestCaseResult {
    let s = signed(&r);
    prop_assert_eq!(
        s.verify(),
        Ok(r.ak.clone()),
        "headers after signing: {:?}",
        s.headers
    );
    Ok(())
}

const ROUND_TRIP: u32 = 600;

#[test]
fn sign_then_verify_round_trips() {
    bounded(
        prop("sign_then_verify_round_trips", ROUND_TRIP),
        request(),
        check_round_trip,
    );
}

#[test]
#[ignore = "long run: cargo xtask fuzz --target signature"]
fn fuzz_signature_sign_then_verify_round_trips() {
    until_deadline(
        prop("sign_then_verify_round_trips", ROUND_TRIP),
        request(),
        check_round_trip,
    );
}

/// One change to a signed request after signing. `at` picks a position or an item.
#[derive(Debug, Clone)]
enum Change {
    // Changes the signature covers: verify must refuse.
    Method,
    PathAppend,
    PathReplace { at: usize, c: char },
    QueryAppend,
    QueryReplace { at: usize, c: char },
    SignedHeaderAppend { at: usize },
    SignedHeaderRemove { at: usize },
    BodyByte { at: usize, xor: u8 },
    BodyAppend,
    DateSecond { plus: bool },
    SignatureDigit { at: usize },
    SecretKey,
    // Changes outside the signature: verify must still accept.
    QueryReorder,
    UnsignedHeader,
    MethodCase,
    TrailingSlash,
}

fn change() -> impl Strategy<Value = Change> {
    let alnum = prop_oneof![
        proptest::char::range('a', 'z'),
        proptest::char::range('0', '9')
    ];
    prop_oneof![
        Just(Change::Method),
        Just(Change::PathAppend),
        (any::<usize>(), alnum.clone()).prop_map(|(at, c)| Change::PathReplace { at, c }),
        Just(Change::QueryAppend),
        (any::<usize>(), alnum).prop_map(|(at, c)| Change::QueryReplace { at, c }),
        any::<usize>().prop_map(|at| Change::SignedHeaderAppend { at }),
        any::<usize>().prop_map(|at| Change::SignedHeaderRemove { at }),
        (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Change::BodyByte { at, xor }),
        Just(Change::BodyAppend),
        any::<bool>().prop_map(|plus| Change::DateSecond { plus }),
        any::<usize>().prop_map(|at| Change::SignatureDigit { at }),
        Just(Change::SecretKey),
        Just(Change::QueryReorder),
        Just(Change::UnsignedHeader),
        Just(Change::MethodCase),
        Just(Change::TrailingSlash),
    ]
}

/// Byte positions of `s` where an ASCII letter or digit stands outside any `%XX`-like escape
/// (replacing it with another letter or digit changes the decoded text).
fn plain_positions(s: &str) -> Vec<usize> {
    let b = s.as_bytes();
    (0..b.len())
        .filter(|&i| b[i].is_ascii_alphanumeric())
        .filter(|&i| !b[i.saturating_sub(2)..i].contains(&b'%'))
        .collect()
}

fn replace_at(s: &str, positions: &[usize], at: usize, c: char) -> Option<String> {
    let &i = positions.get(at % positions.len().max(1))?;
    let old = char::from(s.as_bytes()[i]);
    let new = if old.eq_ignore_ascii_case(&c) {
        if old == 'z' || old == 'Z' {
            'a'
        } else {
            'z'
        }
    } else {
        c
    };
    let mut out = s.to_owned();
    out.replace_range(i..i + 1, new.encode_utf8(&mut [0; 4]));
    Some(out)
}

/// Apply `change`; returns whether the signature covers it, or None when it does not apply to
/// this request (e.g. no query to reorder).
fn apply(s: &mut Signed, change: &Change) -> Option<bool> {
    let signed_headers = s.signed_headers();
    let covered = match change {
        Change::Method => {
            let upper = s.method.to_uppercase();
            s.method = if upper == "PATCH" { "POST" } else { "PATCH" }.into();
            true
        }
        Change::PathAppend => {
            s.path.push('x');
            true
        }
        Change::PathReplace { at, c } => {
            s.path = replace_at(&s.path, &plain_positions(&s.path), *at, *c)?;
            true
        }
        Change::QueryAppend => {
            let q = s.query.get_or_insert_with(String::new);
            q.push_str("&tampered=1");
            true
        }
        Change::QueryReplace { at, c } => {
            let q = s.query.as_ref()?;
            // '+' and the rest decode as themselves; letters and digits outside escapes too.
            s.query = Some(replace_at(q, &plain_positions(q), *at, *c)?);
            true
        }
        Change::SignedHeaderAppend { at } => {
            let name = signed_headers.get(at % signed_headers.len().max(1))?;
            let value = s.headers.get(name.as_str())?.as_bytes().to_vec();
            let mut changed = value;
            changed.push(b'x');
            s.headers.insert(
                HeaderName::from_bytes(name.as_bytes()).ok()?,
                HeaderValue::from_bytes(&changed).ok()?,
            );
            true
        }
        Change::SignedHeaderRemove { at } => {
            let name = signed_headers.get(at % signed_headers.len().max(1))?;
            s.headers.remove(name.as_str());
            true
        }
        Change::BodyByte { at, xor } => {
            if s.body.is_empty() {
                return None;
            }
            let i = at % s.body.len();
            s.body[i] ^= xor;
            s.body_is_signed()
        }
        Change::BodyAppend => {
            // From empty to not: the empty body has its own hash whatever the header says.
            let was_empty = s.body.is_empty();
            s.body.push(b'!');
            was_empty || s.body_is_signed()
        }
        Change::DateSecond { plus } => {
            let name = profile().date_header.as_str();
            let value = s.headers.get(name)?.to_str().ok()?.to_owned();
            let date = chrono::NaiveDateTime::parse_from_str(&value, DATE_FORMAT).ok()?;
            let moved = date + Duration::seconds(if *plus { 1 } else { -1 });
            s.headers.insert(
                HeaderName::from_bytes(name.as_bytes()).ok()?,
                HeaderValue::from_str(&moved.format(DATE_FORMAT).to_string()).ok()?,
            );
            true
        }
        Change::SignatureDigit { at } => {
            let auth = s.headers.get(AUTHORIZATION)?.to_str().ok()?.to_owned();
            let start = auth.rfind("Signature=")? + "Signature=".len();
            let i = start + at % (auth.len() - start).max(1);
            let old = auth.as_bytes().get(i)?;
            let new = if *old == b'0' { "1" } else { "0" };
            let mut changed = auth.clone();
            changed.replace_range(i..i + 1, new);
            s.headers
                .insert(AUTHORIZATION, HeaderValue::from_str(&changed).ok()?);
            true
        }
        Change::SecretKey => {
            s.sk.push('x');
            true
        }
        Change::QueryReorder => {
            let q = s.query.as_ref()?;
            let mut pairs: Vec<&str> = q.split('&').collect();
            pairs.reverse();
            s.query = Some(pairs.join("&"));
            false
        }
        Change::UnsignedHeader => {
            s.headers.append(
                HeaderName::from_static("x-added-after-signing"),
                HeaderValue::from_static("1"),
            );
            false
        }
        Change::MethodCase => {
            s.method = s.method.to_lowercase();
            false
        }
        Change::TrailingSlash => {
            // The canonical URI always ends with '/', so the SDK cannot tell these apart; but
            // when the *decoded* path already ends with '/' (`/a%2F`), one more is a new segment.
            let decoded = percent_encoding::percent_decode_str(&s.path).decode_utf8_lossy();
            if decoded.ends_with('/') {
                return None;
            }
            s.path.push('/');
            false
        }
    };
    Some(covered)
}

fn check_tampering((r, change): (Request, Change)) -> TestCaseResult {
    let mut s = signed(&r);
    let before = s.clone();
    let Some(covered) = apply(&mut s, &change) else {
        return Ok(());
    };
    let result = s.verify();
    if covered {
        prop_assert!(
            result.is_err(),
            "{:?} is signed but verify still accepts\nbefore: {:?}\nafter: {:?}",
            change,
            before,
            s
        );
    } else {
        prop_assert_eq!(
            result,
            Ok(r.ak.clone()),
            "{:?} is not signed, yet refused",
            change
        );
    }
    Ok(())
}

fn tampering() -> impl Strategy<Value = (Request, Change)> {
    (request(), change())
}

const TAMPERING: u32 = 800;

#[test]
fn changing_a_signed_part_breaks_the_signature() {
    bounded(
        prop("changing_a_signed_part_breaks_the_signature", TAMPERING),
        tampering(),
        check_tampering,
    );
}

#[test]
#[ignore = "long run: cargo xtask fuzz --target signature"]
fn fuzz_signature_changing_a_signed_part_breaks_the_signature() {
    until_deadline(
        prop("changing_a_signed_part_breaks_the_signature", TAMPERING),
        tampering(),
        check_tampering,
    );
}

/// Found by the long run (a wrong expectation in the property, not a bug in the verifier): the
/// canonical URI appends '/' only when the *decoded* path lacks one, so `/x` and `/x/` sign
/// alike, but `/%2F` (decoded `//`) and `/%2F/` (decoded `///`) do not.
#[test]
fn a_trailing_slash_after_an_encoded_slash_is_signed() {
    let request = |path: &str| Request {
        method: "GET".into(),
        path: path.into(),
        query: None,
        headers: Vec::new(),
        content_type: None,
        body: Vec::new(),
        ak: "A".into(),
        sk: "A".into(),
        now: DateTime::from_timestamp(946_684_800, 0).expect("2000-01-01"),
    };
    for (path, covered) in [("/x", false), ("/%2F", true), ("/a%2f", true)] {
        let mut s = signed(&request(path));
        assert_eq!(s.verify(), Ok("A".to_owned()), "{path}");
        s.path.push('/');
        assert_eq!(s.verify().is_err(), covered, "{path} then '/'");
    }
}
