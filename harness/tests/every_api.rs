//! Properties every registered API must have, checked by looping over the registry: nothing
//! here names an API. Requests go through the sans-IO core with the credentials the API lists,
//! signed or logged in as its spec's default auth scheme says; request shapes come from the
//! API's own scenarios.
//!
//! - Seeded hostile requests (mutated bodies, other methods, media types, no credentials) never
//!   panic, and every error is in the API's own envelope (its spec's error schema).
//! - The control plane's faults answer with each error kind of the API's spec, in its envelope,
//!   with its code and `Retry-After`, for exactly their count; a reset clears them.

use std::collections::BTreeMap;

use bytes::Bytes;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};

mod support;

use event_harness::load_suite;
use event_harness::template::{template, template_json, Vars};
use event_mock::api::{Account, Credential};
use event_mock::spec::{AuthScheme, LoadedSpec};
use event_mock::{Mock, MockConfig, Request, Response};

/// Escape all but what keeps a query's structure (`=`, `&`, `%`) and unreserved characters.
const QUERY_KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'=')
    .remove(b'&')
    .remove(b'%')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A request shape taken from a scenario step.
#[derive(Clone)]
struct Shape {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct Api {
    id: &'static str,
    spec: std::sync::Arc<LoadedSpec>,
    base: String,
    vars: Vars,
    shapes: Vec<Shape>,
    account: Option<Account>,
}

fn api(mock: &Mock, id: &'static str) -> Api {
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
    let suite = load_suite(id).expect("suite");
    let encode = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let shapes = suite
        .scenarios
        .iter()
        .flat_map(|s| s.steps.iter())
        .filter(|step| !step.request.admin)
        .map(|step| {
            let r = &step.request;
            let query: Vec<String> = r
                .query
                .iter()
                .map(|(k, v)| {
                    let v = encode(&template_json(v, &vars));
                    format!(
                        "{}={}",
                        k,
                        percent_encoding::utf8_percent_encode(
                            &v,
                            percent_encoding::NON_ALPHANUMERIC
                        )
                    )
                })
                .collect();
            let body = match (&r.json, &r.body) {
                (Some(j), _) => serde_json::to_vec(&template_json(j, &vars)).unwrap(),
                (None, Some(text)) => template(text, &vars).into_bytes(),
                _ => Vec::new(),
            };
            let mut headers: Vec<(String, String)> = r
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), template(v, &vars)))
                .collect();
            if r.json.is_some()
                && !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("content-type".into(), "application/json".into()));
            }
            Shape {
                method: r.method.clone(),
                path: template(&r.path, &vars),
                query: query.join("&"),
                headers,
                body,
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
    Api {
        id,
        base: mock.base_path_of(id).unwrap_or_default().to_owned(),
        spec,
        vars,
        shapes,
        account,
    }
}

fn build(shape: &Shape, api: &Api) -> http::Request<Bytes> {
    let uri = if shape.query.is_empty() {
        format!("{}{}", api.base, shape.path)
    } else {
        format!("{}{}?{}", api.base, shape.path, shape.query)
    };
    let mut builder = http::Request::builder()
        .method(shape.method.as_str())
        .uri(uri);
    for (k, v) in &shape.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
        .body(Bytes::from(shape.body.clone()))
        .unwrap_or_else(|e| panic!("the test built an invalid request ({e}): {}", shape.path))
}

/// Add the API's default credentials, the way its spec's scheme says.
fn authorise(mock: &Mock, api: &Api, req: Request) -> Request {
    let client = support::Client {
        mock,
        spec: &api.spec,
        base: &api.base,
        vars: &api.vars,
        account: api.account.as_ref(),
    };
    support::authorise(&client, req)
}

fn decoded(api: &Api, resp: &Response) -> Option<Value> {
    support::decoded(&api.spec, resp)
}

/// The error problems of an answer: not decodable, or not in the API's error schema.
fn envelope_problems(api: &Api, resp: &Response) -> Vec<String> {
    let Some(body) = decoded(api, resp) else {
        return vec![format!("not JSON or mapped XML: {:?}", resp.body())];
    };
    let validator = api
        .spec
        .schemas
        .get(&api.spec.spec.errors.schema)
        .expect("error schema");
    validator
        .iter_errors(&body)
        .map(|e| format!("{} {e} in {body}", e.instance_path()))
        .collect()
}

/// Change bytes, cut, splice in something hostile, or replace the body.
fn mutate(rng: &mut StdRng, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match rng.gen_range(0..7) {
        0 if !out.is_empty() => {
            let i = rng.gen_range(0..out.len());
            out[i] = rng.gen();
        }
        1 => out.truncate(rng.gen_range(0..=out.len())),
        2 => out.extend_from_slice(&[0xff, 0xfe, 0x00]),
        3 => {
            let i = rng.gen_range(0..=out.len());
            let hostile: &[&[u8]] = &[
                b"'",
                b"\"",
                b"\\u0000",
                b"{",
                b"]",
                b"1e99999",
                b"-",
                b"null",
                b"[[[[[[[[",
                b"<!DOCTYPE x [<!ENTITY e \"e\">]>",
                b"&e;",
                b"<",
                b"]]>",
            ];
            let piece = hostile[rng.gen_range(0..hostile.len())];
            out.splice(i..i, piece.iter().copied());
        }
        4 => out = (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect(),
        5 => out = "[".repeat(rng.gen_range(1..20_000)).into_bytes(),
        _ => {}
    }
    out
}

#[test]
fn every_api_answers_hostile_requests_in_its_own_envelope_without_panicking() {
    for id in event_mock::apis::ids() {
        let mock = Mock::new(MockConfig::deterministic()).expect("mock");
        let api = api(&mock, id);
        assert!(
            !api.shapes.is_empty(),
            "{id}: its scenarios give no request shapes"
        );
        let mut media: Vec<String> = api.spec.spec.media_types.request.clone();
        media.extend(["text/plain".into(), "application/xml".into(), String::new()]);
        let methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
        let mut rng = StdRng::seed_from_u64(11);
        let (mut errors, mut successes) = (0, 0);
        for i in 0..1500 {
            let mut shape = api.shapes[rng.gen_range(0..api.shapes.len())].clone();
            if rng.gen_bool(0.2) {
                shape.method = methods[rng.gen_range(0..methods.len())].into();
            }
            if rng.gen_bool(0.7) {
                shape.body = mutate(&mut rng, &shape.body);
            }
            if rng.gen_bool(0.3) {
                shape
                    .headers
                    .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
                let chosen = &media[rng.gen_range(0..media.len())];
                if !chosen.is_empty() {
                    shape.headers.push(("content-type".into(), chosen.clone()));
                }
            }
            if rng.gen_bool(0.1) {
                // Mutated, then escaped again so the URI stays valid (the core sees odd values).
                let mutated = mutate(&mut rng, shape.query.as_bytes());
                shape.query = percent_encoding::percent_encode(&mutated, QUERY_KEEP).to_string();
            }
            let req = build(&shape, &api);
            let req = if rng.gen_bool(0.9) {
                authorise(&mock, &api, req)
            } else {
                req
            };
            let label = format!(
                "{id} request {i}: {} {}{}",
                shape.method, api.base, shape.path
            );
            let resp = mock.handle(req);
            let status = resp.status().as_u16();
            assert!((200..600).contains(&status), "{label}: status {status}");
            if status < 300 {
                successes += 1;
            }
            if status >= 400 {
                errors += 1;
                let problems = envelope_problems(&api, &resp);
                assert!(
                    problems.is_empty(),
                    "{label}: not the API's envelope: {problems:?}"
                );
            }
        }
        assert!(
            errors > 100,
            "{id}: the run should provoke errors, got {errors}"
        );
        // Credentials work, so requests reach the operations, not only the auth check.
        assert!(successes > 50, "{id}: only {successes} requests succeeded");
        // Nothing reached the panic backstop: every answer came from code written for it.
        assert_eq!(mock.panics_caught(), 0, "{id}: the backstop caught a panic");
    }
}

/// A request to `operation` from the API's scenarios, authorised.
fn request_to(mock: &Mock, api: &Api, operation: &str) -> Request {
    let shape = api
        .shapes
        .iter()
        .find(|s| {
            matches!(api.spec.route(&s.method, &s.path),
                event_mock::spec::Routed::Operation(op, _) if op.id == operation)
        })
        .unwrap_or_else(|| panic!("{}: no scenario calls {operation}", api.id));
    authorise(mock, api, build(shape, api))
}

fn admin(mock: &Mock, method: &str, path: &str, body: Value) -> Response {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body).unwrap()
    };
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Bytes::from(bytes))
        .unwrap();
    mock.handle(req)
}

#[test]
fn every_error_kind_of_every_api_can_be_injected_as_a_fault() {
    for id in event_mock::apis::ids() {
        let mock = Mock::new(MockConfig::deterministic()).expect("mock");
        let api = api(&mock, id);
        let operation = api.spec.spec.operations[0].id.clone();
        for (name, kind) in &api.spec.spec.errors.kinds {
            let label = format!("{id} fault {name}");
            let added = admin(
                &mock,
                "POST",
                "/__admin/faults",
                json!({"api": id, "operation": operation, "error": name, "count": 2, "retry_after": 3}),
            );
            assert_eq!(added.status(), 201, "{label}");
            for n in 1..=2 {
                let resp = mock.handle(request_to(&mock, &api, &operation));
                assert_eq!(resp.status().as_u16(), kind.status, "{label}, request {n}");
                assert_eq!(
                    resp.headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()),
                    Some("3"),
                    "{label}"
                );
                let problems = envelope_problems(&api, &resp);
                assert!(problems.is_empty(), "{label}: {problems:?}");
                if let (Some(code), Some(body)) = (&kind.code, decoded(&api, &resp)) {
                    let found =
                        api.spec.spec.errors.code_pointers.iter().find_map(|p| {
                            match body.pointer(p)? {
                                Value::String(s) => Some(s.clone()),
                                Value::Number(n) => Some(n.to_string()),
                                _ => None,
                            }
                        });
                    if !api.spec.spec.errors.code_pointers.is_empty() {
                        assert_eq!(found.as_deref(), Some(code.as_str()), "{label}: {body}");
                    }
                }
            }
            let after = mock.handle(request_to(&mock, &api, &operation));
            assert!(
                after.headers().get("retry-after").is_none(),
                "{label}: the fault outlived its count"
            );
        }
        // Unknown kinds are refused; a reset clears faults without a count.
        let refused = admin(
            &mock,
            "POST",
            "/__admin/faults",
            json!({"api": id, "error": "no_such_kind"}),
        );
        assert_eq!(refused.status(), 400, "{id}");
        let (name, _) = api.spec.spec.errors.kinds.iter().next().expect("a kind");
        let added = admin(
            &mock,
            "POST",
            "/__admin/faults",
            json!({"api": id, "error": name}),
        );
        assert_eq!(added.status(), 201, "{id}");
        assert_eq!(
            admin(&mock, "POST", "/__admin/reset", Value::Null).status(),
            200
        );
        let after = mock.handle(request_to(&mock, &api, &operation));
        assert!(
            after.headers().get("retry-after").is_none(),
            "{id}: reset left a fault"
        );
        assert_eq!(
            admin(&mock, "GET", "/__admin/faults", Value::Null)
                .body()
                .as_ref(),
            b"[]"
        );
    }
}
