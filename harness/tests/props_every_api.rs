//! Property: every registered API answers any request through the sans-IO core without
//! panicking, with a status in 100..600, and every error (>= 400) in its own envelope (decoded
//! from the answer's representation, valid against the spec's error schema). Nothing here names
//! an API: the registry, the specs and the accounts the mock lists drive everything.
//!
//! A request is generated as an API-independent description (indexes and raw material) and
//! resolved against one API: its base paths, its operation templates (path parameters from the
//! accounts' variables or generated), query parameters the spec names, header names its auth
//! schemes name, media types it declares, bodies from its scenarios (mutated) or generated, and
//! credentials applied as its default auth scheme says (as `every_api.rs` does), or none, or
//! garbage. `cargo xtask fuzz --target handler` runs the `fuzz_handler_*` twin for longer.

#[path = "../../mock/tests/props/runner.rs"]
mod runner;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseResult;
use serde_json::Value;

mod support;

use event_harness::load_suite;
use event_harness::template::{template, template_json, Vars};
use event_mock::api::{Account, Credential};
use event_mock::spec::{AuthScheme, LoadedSpec, TokenCarrier, VersionCarrier};
use event_mock::{Mock, MockConfig, Request, Response};

use runner::{bounded, until_deadline, Property};

const REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/proptest-regressions");

/// Keep `%` (so generated escapes travel as such), unreserved characters and what structures a
/// query; escape the rest so the URI stays valid.
const QUERY_KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'%')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// In a path segment, also keep the sub-delimiters a path may carry.
const SEGMENT_KEEP: &percent_encoding::AsciiSet = &QUERY_KEEP
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

// ---------------------------------------------------------------------------------------------
// What the registry and the specs give: one `Api` per registered API

struct Api {
    spec: Arc<LoadedSpec>,
    bases: Vec<String>,
    vars: Vars,
    account: Option<Account>,
    /// (method, path template relative to the base, query parameter names) per operation.
    operations: Vec<(String, String, Vec<String>)>,
    /// Header names any client may send.
    header_names: Vec<String>,
    /// Header names the spec's auth schemes use (for made-up credentials).
    auth_headers: Vec<String>,
    /// Media types the spec declares, for Content-Type and Accept.
    media_types: Vec<String>,
    /// Versions and aliases, for wherever the version travels.
    versions: Vec<String>,
    /// Bodies of the API's own scenarios (with their Content-Type, if they set one).
    bodies: Vec<(Option<String>, Vec<u8>)>,
}

struct World {
    mock: Mock,
    apis: Vec<Api>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mock = Mock::new(MockConfig::deterministic()).expect("mock");
        let apis = event_mock::apis::ids()
            .into_iter()
            .map(|id| api(&mock, id))
            .collect();
        World { mock, apis }
    })
}

fn api(mock: &Mock, id: &str) -> Api {
    let spec = event_mock::apis::spec(id).expect("spec");
    let accounts = mock.accounts(id).expect("served");
    let mut vars: Vars = BTreeMap::new();
    for account in accounts.iter().filter(|a| a.permitted) {
        vars.extend(account.vars.clone());
    }
    vars.insert("run".into(), "r0001".into());
    let now = mock.clock().now().timestamp_millis().to_string();
    vars.insert("now_ms".into(), now.clone());
    vars.insert("start_ms".into(), now);
    let mut versions = Vec::new();
    let header_names: Vec<String> = [
        "accept-language",
        "user-agent",
        "host",
        "content-length",
        "content-encoding",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-request-id",
    ]
    .map(String::from)
    .to_vec();
    let mut auth_headers: Vec<String> = vec!["authorization".into()];
    if let Some(v) = &spec.spec.versioning {
        versions.extend(v.supported.iter().cloned());
        versions.extend(v.aliases.keys().cloned());
        if let VersionCarrier::Path { parameter } = &v.carrier {
            vars.entry(parameter.clone())
                .or_insert_with(|| v.current.clone());
        }
    }
    for entry in &spec.spec.auth {
        match &entry.scheme {
            AuthScheme::AkSk {
                date_header,
                content_sha256_header,
                signed_headers,
                ..
            } => {
                auth_headers.push(date_header.to_ascii_lowercase());
                auth_headers.push(content_sha256_header.to_ascii_lowercase());
                auth_headers.extend(signed_headers.keys().map(|h| h.to_ascii_lowercase()));
            }
            AuthScheme::Token { header, .. } => auth_headers.push(header.to_ascii_lowercase()),
            AuthScheme::Session(s) => {
                if let TokenCarrier::Header(h) = &s.send_as {
                    auth_headers.push(h.to_ascii_lowercase());
                }
            }
            AuthScheme::Basic { .. } => {}
        }
    }
    let mut media_types = spec.spec.media_types.request.clone();
    media_types.extend(spec.spec.media_types.response.iter().cloned());
    let mut operations = Vec::new();
    for op in &spec.spec.operations {
        if let Some(m) = &op.media_types {
            media_types.extend(m.request.iter().cloned());
            media_types.extend(m.response.iter().cloned());
        }
        let mut names = op.query_params.clone();
        if let Some(VersionCarrier::Query { name }) =
            spec.spec.versioning.as_ref().map(|v| &v.carrier)
        {
            names.push(name.clone());
        }
        operations.push((op.method.clone(), op.path.clone(), names));
    }
    media_types.sort();
    media_types.dedup();
    let bodies = load_suite(id)
        .expect("suite")
        .scenarios
        .iter()
        .flat_map(|s| s.steps.iter())
        .filter(|step| !step.request.admin)
        .filter_map(|step| {
            let r = &step.request;
            let content_type = r
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.clone());
            match (&r.json, &r.body) {
                (Some(j), _) => Some((
                    Some(content_type.unwrap_or_else(|| "application/json".into())),
                    serde_json::to_vec(&template_json(j, &vars)).ok()?,
                )),
                (None, Some(text)) => Some((content_type, template(text, &vars).into_bytes())),
                _ => None,
            }
        })
        .collect();
    let kind = |c: &Credential| std::mem::discriminant(c);
    let wanted = match spec.default_auth() {
        Some(AuthScheme::AkSk { .. }) => kind(&Credential::AccessKey {
            ak: String::new(),
            sk: String::new(),
        }),
        Some(AuthScheme::Token { .. }) => kind(&Credential::Token {
            token: String::new(),
        }),
        _ => kind(&Credential::Password {
            user: String::new(),
            password: String::new(),
        }),
    };
    let account = accounts
        .into_iter()
        .find(|a| a.permitted && kind(&a.credential) == wanted);
    let mut bases = vec![mock.base_path_of(id).unwrap_or_default().to_owned()];
    bases.extend(spec.base_paths().iter().cloned());
    bases.dedup();
    Api {
        spec,
        bases,
        vars,
        account,
        operations,
        header_names,
        auth_headers,
        media_types,
        versions,
        bodies,
    }
}

// ---------------------------------------------------------------------------------------------
// Generated requests (independent of any API; resolved by `Case::resolve`)

/// A path parameter's value.
#[derive(Debug, Clone)]
enum Param {
    /// The accounts' variable of that name (a real project id, ...), or a version.
    Known,
    Generated(String),
    Empty,
}

#[derive(Debug, Clone)]
enum PathShape {
    /// An operation's template with its parameters filled, and maybe more segments.
    Operation {
        op: Index,
        params: Vec<Param>,
        extra: Vec<String>,
        trailing_slash: bool,
    },
    /// Any segments after the first segment of an operation's template (a path the API
    /// claims, e.g. a near miss it answers with its own 404).
    Near(Index, Vec<String>),
    /// Any segments under the base path (maybe a path no API claims).
    Under(Vec<String>),
}

#[derive(Debug, Clone)]
enum QueryName {
    /// A name the operation takes (or the version parameter).
    Known(Index),
    Other(String),
}

#[derive(Debug, Clone)]
enum QueryValue {
    Version(Index),
    Text(String),
    Raw(String),
}

#[derive(Debug, Clone)]
enum MediaChoice {
    Declared(Index),
    Other(&'static str),
    Raw(String),
}

#[derive(Debug, Clone)]
enum BodyChoice {
    Empty,
    /// A scenario's body, mutated: (index, edits as (position, byte or deletion)).
    Scenario(Index, Vec<(Index, Option<u8>)>),
    Json(Value),
    Bytes(Vec<u8>),
    Nested(u16),
    /// One byte more than the API's body limit.
    Oversized,
}

#[derive(Debug, Clone)]
enum AuthChoice {
    Account,
    None,
    /// A header the spec's auth schemes use, with a made-up value.
    Garbage(Index, String),
}

#[derive(Debug, Clone)]
struct Case {
    api: Index,
    method: Option<String>,
    base: Index,
    path: PathShape,
    query: Vec<(QueryName, QueryValue)>,
    /// Send a version where the spec's versioning says (a supported one or an alias).
    version: Option<Index>,
    headers: Vec<(Index, Vec<u8>)>,
    content_type: Option<MediaChoice>,
    accept: Option<MediaChoice>,
    body: BodyChoice,
    auth: AuthChoice,
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "", "a", "0", "-1", "1.5", "99999999999999999999", "null", "true", "..", ".",
            "%00", "%2F", "%25", "%ZZ", "%", "é", "{a:1}", "{\"$where\":1}", "'", "<x/>",
            // Query and sort documents in MongoDB's relaxed syntax, as query APIs take them.
            "{a:{$gt:1}}", "{'$or':[{a:1},{'b.c':{$regex:'^x',$options:'i'}}]}",
            "{a:{$elemMatch:{$gte:1,$lt:5}},b:{$exists:false}}", "{a:{$in:[1,'x',null]}}",
            "{a:-1}", "{a:1,b:-1}", "{a:{$not:{$size:2}}}", "{$nor:[{a:{$type:'string'}}]}",
        ])
        .prop_map(str::to_owned),
        2 => prop::collection::vec(proptest::char::range('a', 'z'), 1..12)
            .prop_map(|c| c.into_iter().collect()),
        2 => any::<String>().prop_map(|s| s.chars().take(24).collect()),
    ]
}

fn segment() -> impl Strategy<Value = String> {
    text().prop_map(|t| {
        // Generated escapes (`%2F`, `%ZZ`) stay as written; the rest is escaped.
        percent_encoding::utf8_percent_encode(&t, SEGMENT_KEEP).to_string()
    })
}

fn path_shape() -> impl Strategy<Value = PathShape> {
    let param = prop_oneof![
        8 => Just(Param::Known),
        3 => segment().prop_map(Param::Generated),
        1 => Just(Param::Empty),
    ];
    let extra = prop_oneof![
        6 => Just(Vec::new()),
        1 => prop::collection::vec(segment(), 1..3),
    ];
    prop_oneof![
        6 => (
            any::<Index>(),
            prop::collection::vec(param, 4),
            extra,
            prop::bool::weighted(0.1),
        )
            .prop_map(|(op, params, extra, trailing_slash)| PathShape::Operation {
                op,
                params,
                extra,
                trailing_slash,
            }),
        2 => (any::<Index>(), prop::collection::vec(segment(), 0..3))
            .prop_map(|(op, segments)| PathShape::Near(op, segments)),
        1 => prop::collection::vec(segment(), 0..4).prop_map(PathShape::Under),
    ]
}

fn media() -> impl Strategy<Value = MediaChoice> {
    prop_oneof![
        5 => any::<Index>().prop_map(MediaChoice::Declared),
        2 => prop::sample::select(vec![
            "application/json",
            "application/xml",
            "text/plain",
            "*/*",
            "application/*",
            "application/*+xml",
            "application/json; charset=utf-16",
            "application/xml;q=0",
            "multipart/form-data; boundary=x",
            "",
        ])
        .prop_map(MediaChoice::Other),
        1 => text().prop_map(MediaChoice::Raw),
    ]
}

fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => text().prop_map(String::into_bytes),
        1 => prop::collection::vec(prop_oneof![0x20u8..0x7f, Just(b'\t'), 0x80u8..=0xff], 0..40),
    ]
}

fn body() -> impl Strategy<Value = BodyChoice> {
    let json = prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        text().prop_map(Value::from),
    ]
    .prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    });
    // Oversized bodies are rare: each is the size of the API's limit (megabytes, signed).
    prop_oneof![
        8 => Just(BodyChoice::Empty),
        24 => (
            any::<Index>(),
            prop_oneof![
                Just(Vec::new()),
                prop::collection::vec((any::<Index>(), prop::option::of(any::<u8>())), 1..4),
            ]
        )
            .prop_map(|(i, edits)| BodyChoice::Scenario(i, edits)),
        8 => json.prop_map(BodyChoice::Json),
        4 => prop::collection::vec(any::<u8>(), 0..64).prop_map(BodyChoice::Bytes),
        4 => (1u16..20_000).prop_map(BodyChoice::Nested),
        1 => Just(BodyChoice::Oversized),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let method = prop::option::weighted(
        0.3,
        prop_oneof![
            4 => prop::sample::select(vec![
                "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT",
            ])
            .prop_map(str::to_owned),
            1 => prop::collection::vec(proptest::char::range('A', 'z'), 1..10)
                .prop_map(|c| c.into_iter().filter(char::is_ascii_alphabetic).collect::<String>())
                .prop_filter("a method", |m| !m.is_empty()),
        ],
    );
    let query_name = prop_oneof![
        3 => any::<Index>().prop_map(QueryName::Known),
        1 => text().prop_map(QueryName::Other),
    ];
    let query_value = prop_oneof![
        2 => any::<Index>().prop_map(QueryValue::Version),
        3 => text().prop_map(QueryValue::Text),
        1 => text().prop_map(QueryValue::Raw),
    ];
    let auth = prop_oneof![
        7 => Just(AuthChoice::Account),
        2 => Just(AuthChoice::None),
        1 => (any::<Index>(), text()).prop_map(|(i, v)| AuthChoice::Garbage(i, v)),
    ];
    (
        (any::<Index>(), method, any::<Index>(), path_shape()),
        (
            prop::collection::vec((query_name, query_value), 0..4),
            prop::option::weighted(0.8, any::<Index>()),
        ),
        prop::collection::vec((any::<Index>(), header_bytes()), 0..3),
        (
            prop::option::weighted(0.7, media()),
            prop::option::weighted(0.5, media()),
        ),
        (body(), auth),
    )
        .prop_map(
            |(
                (api, method, base, path),
                (query, version),
                headers,
                (content_type, accept),
                (body, auth),
            )| {
                Case {
                    api,
                    method,
                    base,
                    path,
                    query,
                    version,
                    headers,
                    content_type,
                    accept,
                    body,
                    auth,
                }
            },
        )
}

// ---------------------------------------------------------------------------------------------
// From a generated case to a request

fn pick<'a, T>(items: &'a [T], i: &Index) -> Option<&'a T> {
    (!items.is_empty()).then(|| i.get(items))
}

fn media_type(api: &Api, choice: &MediaChoice) -> String {
    match choice {
        MediaChoice::Declared(i) => pick(&api.media_types, i).cloned().unwrap_or_default(),
        MediaChoice::Other(m) => (*m).to_owned(),
        MediaChoice::Raw(t) => t.clone(),
    }
}

/// The request a case describes for `api`, before credentials; None if it is not a valid
/// HTTP request (e.g. a header value the `http` crate refuses).
fn resolve(api: &Api, c: &Case) -> Option<(Request, String)> {
    let base = pick(&api.bases, &c.base)?;
    let mut method = c.method.clone();
    let mut op_query: &[String] = &[];
    let path = match &c.path {
        PathShape::Operation {
            op,
            params,
            extra,
            trailing_slash,
        } => {
            let (op_method, template_path, names) = pick(&api.operations, op)?;
            method.get_or_insert_with(|| op_method.clone());
            op_query = names;
            let mut n = 0;
            let mut segments: Vec<String> = template_path
                .split('/')
                .map(
                    |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => {
                            let p = &params[n % params.len()];
                            n += 1;
                            match p {
                                Param::Known => api.vars.get(name).cloned().unwrap_or_default(),
                                Param::Generated(g) => g.clone(),
                                Param::Empty => String::new(),
                            }
                        }
                        None => s.to_owned(),
                    },
                )
                .collect();
            segments.extend(extra.iter().cloned());
            let mut p = segments.join("/");
            if *trailing_slash {
                p.push('/');
            }
            p
        }
        PathShape::Near(op, segments) => {
            let (_, template_path, _) = pick(&api.operations, op)?;
            let first = template_path.split('/').find(|s| !s.is_empty())?;
            let mut p = format!("/{first}");
            for s in segments {
                p.push('/');
                p.push_str(s);
            }
            p
        }
        PathShape::Under(segments) => format!("/{}", segments.join("/")),
    };
    let versioning = api.spec.spec.versioning.as_ref();
    let version = c.version.as_ref().and_then(|i| pick(&api.versions, i));
    let mut query: Vec<String> = c
        .query
        .iter()
        .map(|(name, value)| {
            let name = match name {
                QueryName::Known(i) => pick(op_query, i).cloned().unwrap_or_default(),
                QueryName::Other(t) => t.clone(),
            };
            let value = match value {
                QueryValue::Version(i) => pick(&api.versions, i).cloned().unwrap_or_default(),
                QueryValue::Text(t) => t.clone(),
                QueryValue::Raw(t) => t.clone(),
            };
            let enc = |s: &str| percent_encoding::utf8_percent_encode(s, QUERY_KEEP).to_string();
            format!("{}={}", enc(&name), enc(&value))
        })
        .collect();
    if let (Some(VersionCarrier::Query { name }), Some(v)) =
        (versioning.map(|v| &v.carrier), version)
    {
        query.push(format!("{name}={v}"));
    }
    let uri = if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{}", query.join("&"))
    };
    let method = method.unwrap_or_else(|| "GET".into());
    let mut builder = http::Request::builder().method(method.as_str()).uri(&uri);
    let mut body_type = None;
    let body: Vec<u8> = match &c.body {
        BodyChoice::Empty => Vec::new(),
        BodyChoice::Scenario(i, edits) => match pick(&api.bodies, i) {
            None => Vec::new(),
            Some((ct, bytes)) => {
                body_type = ct.clone();
                let mut b = bytes.clone();
                for (at, byte) in edits {
                    if b.is_empty() {
                        break;
                    }
                    let i = at.index(b.len());
                    match byte {
                        Some(x) => b[i] = *x,
                        None => {
                            b.truncate(i);
                        }
                    }
                }
                b
            }
        },
        BodyChoice::Json(v) => serde_json::to_vec(v).ok()?,
        BodyChoice::Bytes(b) => b.clone(),
        BodyChoice::Nested(n) => "[".repeat(usize::from(*n)).into_bytes(),
        BodyChoice::Oversized => vec![b' '; api.spec.spec.body_limit.max_bytes + 1],
    };
    let content_type = match &c.content_type {
        Some(choice) => Some(media_type(api, choice)),
        None => body_type,
    };
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    match (&c.accept, versioning.map(|v| &v.carrier), version) {
        (Some(accept), _, _) => builder = builder.header("accept", media_type(api, accept)),
        (None, Some(VersionCarrier::Accept { parameter }), Some(v)) => {
            let media = api.spec.spec.media_types.response.first().cloned();
            builder = builder.header(
                "accept",
                format!("{};{parameter}={v}", media.unwrap_or_else(|| "*/*".into())),
            );
        }
        _ => {}
    }
    for (name, value) in &c.headers {
        let name = pick(&api.header_names, name)?;
        builder = builder.header(name.as_str(), value.as_slice());
    }
    if let AuthChoice::Garbage(i, value) = &c.auth {
        let name = pick(&api.auth_headers, i)?;
        builder = builder.header(name.as_str(), value.as_str());
    }
    let label = format!("{method} {uri}");
    builder.body(Bytes::from(body)).ok().map(|r| (r, label))
}

/// Add the API's default credentials, the way its spec's scheme says.
fn authorise(mock: &Mock, api: &Api, req: Request) -> Request {
    let client = support::Client {
        mock,
        spec: &api.spec,
        base: &api.bases[0],
        vars: &api.vars,
        account: api.account.as_ref(),
    };
    support::authorise(&client, req)
}

fn decoded(api: &Api, resp: &Response) -> Option<Value> {
    support::decoded(&api.spec, resp)
}

// ---------------------------------------------------------------------------------------------
// The property

/// The API that answers `path`, as the dispatcher routes: the longest base path under which
/// the API claims the rest of the path, then the deepest claim (APIs sharing a base path), then
/// the first registered. None: no API, the dispatcher's own 404.
fn owner<'w>(apis: &'w [Api], path: &str) -> Option<&'w Api> {
    let mut best: Option<(&Api, (usize, usize))> = None;
    for api in apis {
        for base in &api.bases {
            let Some(rest) = path.strip_prefix(base.as_str()) else {
                continue;
            };
            if !(rest.is_empty() || rest.starts_with('/')) {
                continue;
            }
            let score = (base.len(), api.spec.claim_depth(rest));
            if score.1 > 0 && best.is_none_or(|(_, b)| b < score) {
                best = Some((api, score));
            }
        }
    }
    best.map(|(api, _)| api)
}

fn check(c: Case) -> TestCaseResult {
    let w = world();
    let target = c.api.get(&w.apis);
    let Some((req, label)) = resolve(target, &c) else {
        // Not a request HTTP can carry; nothing to send.
        return Ok(());
    };
    let path = req.uri().path().to_owned();
    let req = match c.auth {
        AuthChoice::Account => authorise(&w.mock, target, req),
        AuthChoice::None | AuthChoice::Garbage(..) => req,
    };
    let before = w.mock.panics_caught();
    let resp = w.mock.handle(req);
    prop_assert_eq!(
        w.mock.panics_caught(),
        before,
        "{}: {}: the backstop caught a panic",
        target.spec.spec.id,
        label
    );
    let Some(api) = owner(&w.apis, &path) else {
        // A path no API claims: the dispatcher's own 404 (JSON).
        prop_assert_eq!(resp.status().as_u16(), 404, "{}: unclaimed", label);
        let body: Result<Value, _> = serde_json::from_slice(resp.body());
        prop_assert!(body.is_ok(), "{}: the 404 is not JSON", label);
        return Ok(());
    };
    let status = resp.status().as_u16();
    prop_assert!(
        (100..600).contains(&status),
        "{}: {}: status {}",
        api.spec.spec.id,
        label,
        status
    );
    if status >= 400 {
        let Some(body) = decoded(api, &resp) else {
            return Err(TestCaseError::fail(format!(
                "{}: {label}: {status} with a body that is not JSON or mapped XML: {:?} ({:?})",
                api.spec.spec.id,
                String::from_utf8_lossy(resp.body()),
                resp.headers().get(http::header::CONTENT_TYPE)
            )));
        };
        let validator = api
            .spec
            .schemas
            .get(&api.spec.spec.errors.schema)
            .expect("error schema");
        let problems: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{} {e}", e.instance_path()))
            .collect();
        prop_assert!(
            problems.is_empty(),
            "{}: {}: {} not in the error envelope: {:?} in {}",
            api.spec.spec.id,
            label,
            status,
            problems,
            body
        );
    }
    Ok(())
}

fn property(cases: u32) -> Property {
    Property {
        name: "every_api_handler",
        regressions: REGRESSIONS,
        cases,
        shrink_iters: 1_000,
    }
}

const CASES: u32 = 1_500;

#[test]
fn every_api_handler_answers_any_request_in_its_envelope() {
    bounded(property(CASES), case(), check);
    assert_eq!(
        world().mock.panics_caught(),
        0,
        "the backstop caught a panic"
    );
}

#[test]
#[ignore = "long run: cargo xtask fuzz --target handler"]
fn fuzz_handler_every_api_answers_any_request_in_its_envelope() {
    until_deadline(property(CASES), case(), check);
    assert_eq!(
        world().mock.panics_caught(),
        0,
        "the backstop caught a panic"
    );
}
