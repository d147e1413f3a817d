//! Representations end to end. A small audit-event API (a test fixture on seed 002's AuditEvent,
//! spec in `tests/data/specs/xml-example/`) is served by the real dispatcher, which negotiates
//! XML or JSON from the spec's media types and `Accept`, and encodes errors in the same
//! representation. The harness reads both renderings to one value, so the same schema, the same
//! JSON-pointer assertions and the same `code_pointers` hold XML and JSON. Broken fakes show the
//! harness catches an XML rendering that breaks the mapping and a JSON one that breaks the schema.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::{json, Value};

use event_harness::report::ScenarioOutcome;
use event_harness::runner::run_scenario;
use event_harness::scenario::build_suite;
use event_harness::target::{http_client, Target, EMBEDDED_RUN_TAG};
use event_harness::{Accounts, Suite};
use event_mock::api::{Account, Api, Credential, Ctx};
use event_mock::auth::basic_credentials;
use event_mock::errors::{self, ApiError};
use event_mock::spec::{self, BodyError, LoadedSpec, Routed, SpecFiles};
use event_mock::store::Store;
use event_mock::wire::{json_response, path_param, Reply, Request, Response};
use event_mock::{Mock, MockConfig, MockServer};

const API: &str = "xml-example";

fn specs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/specs")
}

fn load_spec() -> Arc<LoadedSpec> {
    Arc::new(
        spec::load_from(SpecFiles::Dir(specs_dir()), API, &[]).unwrap_or_else(|e| panic!("{e}")),
    )
}

fn suite() -> Suite {
    let dir = specs_dir().join(API).join("scenarios");
    let files = std::fs::read_dir(&dir)
        .expect("scenarios")
        .map(|entry| {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("scenario text");
            (
                format!(
                    "{API}/scenarios/{}",
                    path.file_name().unwrap().to_string_lossy()
                ),
                text,
            )
        })
        .collect();
    build_suite(load_spec(), files).unwrap_or_else(|e| panic!("{e}"))
}

/// The fixture API: post an Event (XML or JSON), read the AuditEvent back.
struct AuditEvents {
    spec: Arc<LoadedSpec>,
    events: Store<Value>,
    /// A `Content-Type` the API sets on every answer itself (the dispatcher must keep it).
    own_content_type: Option<&'static str>,
}

impl AuditEvents {
    fn answer(&self, req: &Request, ctx: &Ctx<'_>) -> Reply {
        if basic_credentials(req.headers()) != Some(("admin".into(), "secret".into())) {
            return self.error("unauthenticated", "");
        }
        match self.spec.route(req.method().as_str(), ctx.path) {
            Routed::Operation(op, params) if op.id == "postEvent" => {
                self.post(req, ctx, path_param(&params, "org"))
            }
            Routed::Operation(_, params) => {
                let id = path_param(&params, "id");
                let uuid = id.strip_prefix("urn:vcloud:event:").unwrap_or(id);
                match self.events.read().get(uuid) {
                    Some(event) => Reply::value(StatusCode::OK, event.clone()),
                    None => self.error("forbidden", id),
                }
            }
            Routed::MethodNotAllowed(_) => self.error("method_not_allowed", ""),
            Routed::NoSuchPath => self.error("not_found", ""),
        }
    }

    fn error(&self, kind: &str, detail: &str) -> Reply {
        errors::render(
            &self.spec,
            None,
            &ApiError::new(kind)
                .with("detail", detail)
                .with("id", detail),
            &[],
        )
    }

    fn post(&self, req: &Request, ctx: &Ctx<'_>, org: &str) -> Reply {
        let Routed::Operation(op, _) = self.spec.route("POST", ctx.path) else {
            return self.error("internal", "no route");
        };
        let event = match self.spec.decode_request(op, req.headers(), req.body()) {
            Ok(event) => event,
            Err(BodyError::UnsupportedMediaType(media)) => {
                return self.error("unsupported_media_type", &media)
            }
            Err(BodyError::Malformed(detail)) => return self.error("bad_request", &detail),
        };
        let schema = op
            .request
            .as_ref()
            .map(|r| r.schema.as_str())
            .unwrap_or_default();
        match self.spec.schemas.violations(schema, &event) {
            Ok(v) if v.is_empty() => {}
            Ok(v) => {
                let texts: Vec<String> = v.into_iter().map(|v| v.message).collect();
                return self.error("bad_request", &texts.join("; "));
            }
            Err(e) => return self.error("internal", &e.to_string()),
        }
        let uuid = ctx.ids.random_chars(b"0123456789abcdef", 32);
        let origin = ctx.public_origin().to_owned();
        let text = |name: &str| event.get(name).cloned().unwrap_or(Value::Null);
        let audit = json!({
            "href": format!("{origin}/api/admin/event/{uuid}"),
            "type": "application/vnd.vmware.admin.event+xml",
            "id": format!("urn:vcloud:event:{uuid}"),
            "name": text("type"),
            "eventType": text("type"),
            "serviceNamespace": text("serviceNamespace"),
            "timeStamp": ctx.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "success": text("success"),
            "description": text("typeFull"),
            "org": {"href": format!("{origin}/api/org/{org}"), "id": format!("urn:vcloud:org:{org}"),
                    "type": "application/vnd.vmware.vcloud.org+xml", "name": org},
            "owner": text("owner"),
            "user": text("user"),
        });
        match self.events.write().insert(uuid, audit.clone()) {
            Ok(()) => Reply::value(StatusCode::CREATED, audit),
            Err(refused) => self.error("internal", &refused.to_string()),
        }
    }
}

impl Api for AuditEvents {
    fn spec(&self) -> &LoadedSpec {
        &self.spec
    }

    fn handle(&self, req: &Request, ctx: &Ctx<'_>) -> Reply {
        let mut reply = self.answer(req, ctx);
        if let Some(own) = self.own_content_type {
            reply
                .headers
                .insert(http::header::CONTENT_TYPE, own.parse().unwrap());
        }
        reply
    }

    fn reset(&self) {
        self.events.clear();
    }

    fn accounts(&self) -> Vec<Account> {
        let admin = Credential::Password {
            user: "admin".into(),
            password: "secret".into(),
        };
        vec![Account::new(admin, true).with_var("org", "7b832bc5-3d65-45a2-8d35-da28388ab80a")]
    }

    fn admin(&self, req: &Request, path: &str, _ctx: &Ctx<'_>) -> Option<Response> {
        (req.method() == Method::GET && path == "events").then(|| {
            json_response(
                StatusCode::OK,
                &Value::Array(self.events.read().items().to_vec()),
                false,
            )
        })
    }
}

fn mock() -> Arc<Mock> {
    mock_with(load_spec(), None)
}

fn mock_with(spec: Arc<LoadedSpec>, own_content_type: Option<&'static str>) -> Arc<Mock> {
    let api: Arc<dyn Api> = Arc::new(AuditEvents {
        spec,
        events: Store::new(1000, event_mock::store::Budget::unlimited()),
        own_content_type,
    });
    Arc::new(Mock::with_apis(MockConfig::deterministic(), vec![api]))
}

fn target(url: &str, mock: &Mock) -> Target {
    let accounts = mock.accounts(API).unwrap_or_default();
    let vars = accounts.iter().flat_map(|a| a.vars.clone()).collect();
    Target {
        api_url: url.to_owned(),
        admin_url: Some(format!("{url}/__admin")),
        accounts: Accounts::new(accounts),
        vars,
        run_tag: EMBEDDED_RUN_TAG.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_and_json_renderings_are_held_to_one_contract() {
    let suite = suite();
    assert_eq!(suite.scenarios.len(), 5);
    let client = http_client();
    let mut transcripts = Vec::new();
    for scenario in &suite.scenarios {
        let server = MockServer::serve(mock(), SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("server");
        let result = run_scenario(
            &client,
            &suite,
            scenario,
            &target(&server.url(), server.mock()),
        )
        .await;
        assert!(
            matches!(result.outcome, ScenarioOutcome::Passed),
            "{}: {:?}\n{}",
            scenario.name,
            result.outcome,
            serde_json::to_string_pretty(&result.transcript).unwrap()
        );
        transcripts.push((scenario.name.clone(), result.transcript));
    }
    // The XML and the JSON reading of one event decode to the same value.
    let (_, both) = transcripts
        .iter()
        .find(|(name, _)| name == "post-xml-read-both")
        .expect("scenario");
    let as_xml = &both[1]["response"]["body"];
    let as_json = &both[2]["response"]["body"];
    assert!(as_xml.is_object(), "{as_xml}");
    assert_eq!(as_xml, as_json);
}

/// The fixture behind wiremock with a deviation, run as a live target.
async fn broken(
    deviate: impl Fn(&Request, Response) -> Response + Send + Sync + 'static,
) -> event_harness::report::ScenarioResult {
    let mock = mock();
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(
            event_mock::wiremock_adapter::CoreResponder::new(mock.clone())
                .with_response_tweak(deviate),
        )
        .mount(&server)
        .await;
    let suite = suite();
    let scenario = suite
        .scenarios
        .iter()
        .find(|s| s.name == "post-xml-read-both")
        .expect("scenario");
    run_scenario(
        &http_client(),
        &suite,
        scenario,
        &target(&server.uri(), &mock),
    )
    .await
}

fn rewrite_body(resp: Response, change: impl Fn(&str) -> String) -> Response {
    let (parts, body) = resp.into_parts();
    let text = change(&String::from_utf8_lossy(&body));
    Response::from_parts(parts, bytes::Bytes::from(text))
}

fn failures(result: &event_harness::report::ScenarioResult) -> String {
    match &result.outcome {
        ScenarioOutcome::Failed(reasons) => reasons.join("\n"),
        other => panic!("the deviation went unnoticed: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xml_rendering_that_breaks_the_mapping_is_caught() {
    // `Org` written as `Organisation`: not an element the AuditEvent mapping knows.
    let result = broken(|req, resp| {
        if req.method() == Method::GET {
            rewrite_body(resp, |t| t.replace("<Org ", "<Organisation "))
        } else {
            resp
        }
    })
    .await;
    let reasons = failures(&result);
    assert!(reasons.contains("read it as XML"), "{reasons}");
    assert!(reasons.contains("not JSON or mapped XML"), "{reasons}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_rendering_that_breaks_the_schema_is_caught() {
    // `success` as a string in JSON only: the XML step passes, the JSON step must not.
    let result = broken(|req, resp| {
        let json = req
            .headers()
            .get("accept")
            .is_some_and(|a| a.to_str().unwrap_or("").contains("json"));
        if req.method() == Method::GET && json {
            rewrite_body(resp, |t| {
                t.replace("\"success\":true", "\"success\":\"true\"")
            })
        } else {
            resp
        }
    })
    .await;
    let reasons = failures(&result);
    assert!(reasons.contains("read it as JSON"), "{reasons}");
    assert!(reasons.contains("audit-event.json"), "{reasons}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_with_variants_runs_once_per_representation_and_names_the_one_that_breaks() {
    let suite = suite();
    let scenario = suite
        .scenarios
        .iter()
        .find(|s| s.name == "read-in-each-representation")
        .expect("scenario");
    // Both runs are recorded, labelled by variant.
    let server = MockServer::serve(mock(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("server");
    let result = run_scenario(
        &http_client(),
        &suite,
        scenario,
        &target(&server.url(), server.mock()),
    )
    .await;
    assert!(
        matches!(result.outcome, ScenarioOutcome::Passed),
        "{:?}",
        result.outcome
    );
    let steps: Vec<&str> = result
        .transcript
        .as_array()
        .expect("exchanges")
        .iter()
        .filter_map(|e| e["step"].as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "[xml] post an event",
            "[xml] read it back",
            "[json] post an event",
            "[json] read it back"
        ]
    );
    // `success` as a string in JSON only: the XML run passes, the JSON run is reported.
    let mock = mock();
    let fake = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(
            event_mock::wiremock_adapter::CoreResponder::new(mock.clone()).with_response_tweak(
                |req, resp| {
                    let json = req
                        .headers()
                        .get("accept")
                        .is_some_and(|a| a.to_str().unwrap_or("").contains("json"));
                    if req.method() == Method::GET && json {
                        rewrite_body(resp, |t| {
                            t.replace("\"success\":true", "\"success\":\"true\"")
                        })
                    } else {
                        resp
                    }
                },
            ),
        )
        .mount(&fake)
        .await;
    let result = run_scenario(
        &http_client(),
        &suite,
        scenario,
        &target(&fake.uri(), &mock),
    )
    .await;
    let reasons = failures(&result);
    assert!(
        reasons.contains("[json] step 2 'read it back'"),
        "{reasons}"
    );
    assert!(!reasons.contains("[xml]"), "{reasons}");
}

/// A request to the fixture through the dispatcher, as the admin account.
fn call(mock: &Mock, method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
    let mut req = Request::new(bytes::Bytes::from(body.to_owned()));
    *req.method_mut() = method;
    *req.uri_mut() = path.parse().unwrap();
    req.headers_mut()
        .insert("authorization", "Basic YWRtaW46c2VjcmV0".parse().unwrap());
    for (name, value) in headers {
        req.headers_mut().append(
            http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    mock.handle(req)
}

fn content_type(resp: &Response) -> &str {
    resp.headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

const EVENT_JSON: &str = r#"{"type": "Echo", "serviceNamespace": "ns", "success": true,
    "user": {"name": "User", "href": "https://events.example.com/user/1", "type": "application/vnd.example.user+xml"}}"#;
const EVENTS: &str = "/api/admin/org/7b832bc5-3d65-45a2-8d35-da28388ab80a/events";

#[test]
fn the_resolved_version_is_echoed_in_the_content_type_and_still_read_by_the_harness() {
    let mock = mock();
    let spec = load_spec();
    let post = |accept: &str| {
        call(
            &mock,
            Method::POST,
            EVENTS,
            &[
                ("content-type", "application/vnd.vmware.admin.event+json"),
                ("accept", accept),
            ],
            EVENT_JSON,
        )
    };
    // The version resolves: the answer names it, as the Accept parameter it came in.
    let xml = post("application/*+xml;version=38.1");
    assert_eq!(xml.status(), StatusCode::CREATED);
    assert_eq!(
        content_type(&xml),
        "application/vnd.vmware.admin.event+xml;version=38.1"
    );
    let json = post("application/*+json; version=39.0");
    assert_eq!(
        content_type(&json),
        "application/vnd.vmware.admin.event+json;version=39.0"
    );
    // The harness reads both by their Content-Type, parameters ignored, to the same shape.
    let from_xml = spec
        .decode_response(Some(content_type(&xml)), xml.body())
        .expect("the XML answer with a version parameter is read as XML");
    let from_json = spec
        .decode_response(Some(content_type(&json)), json.body())
        .expect("the JSON answer with a version parameter is read as JSON");
    assert_eq!(from_xml["eventType"], "Echo");
    assert_eq!(from_json["eventType"], "Echo");
    let violations = spec
        .schemas
        .violations("audit-event.json", &from_xml)
        .unwrap();
    assert!(violations.is_empty(), "{violations:?}");
    // No version, or one that does not resolve: nothing is echoed.
    assert_eq!(
        content_type(&post("application/*+xml")),
        "application/vnd.vmware.admin.event+xml"
    );
    assert_eq!(
        content_type(&post("application/*+xml;version=1.0")),
        "application/vnd.vmware.admin.event+xml"
    );
    // Errors carry it too, on their own media type.
    let missing = call(
        &mock,
        Method::GET,
        "/api/admin/event/nope",
        &[("accept", "application/*+xml;version=39.0")],
        "",
    );
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        content_type(&missing),
        "application/vnd.vmware.vcloud.error+xml;version=39.0"
    );
    // Without echo, the negotiated type alone.
    let mut quiet = spec::load_from(SpecFiles::Dir(specs_dir()), API, &[]).unwrap();
    quiet.spec.versioning.as_mut().unwrap().echo = false;
    let quiet = mock_with(Arc::new(quiet), None);
    let resp = call(
        &quiet,
        Method::POST,
        EVENTS,
        &[
            ("content-type", "application/vnd.vmware.admin.event+json"),
            ("accept", "application/*+xml;version=39.0"),
        ],
        EVENT_JSON,
    );
    assert_eq!(
        content_type(&resp),
        "application/vnd.vmware.admin.event+xml"
    );
}

#[test]
fn a_content_type_the_api_sets_itself_is_kept_as_is() {
    let mock = mock_with(load_spec(), Some("application/vnd.example.own+xml"));
    for path in [EVENTS, "/api/admin/event/nope"] {
        let resp = call(
            &mock,
            if path == EVENTS {
                Method::POST
            } else {
                Method::GET
            },
            path,
            &[
                ("content-type", "application/vnd.vmware.admin.event+json"),
                ("accept", "application/*+xml;version=39.0"),
            ],
            EVENT_JSON,
        );
        assert_eq!(
            content_type(&resp),
            "application/vnd.example.own+xml",
            "{path}"
        );
    }
}

#[test]
fn errors_are_written_as_the_error_type_of_the_negotiated_representation() {
    let mock = mock();
    let get = |mock: &Mock, accept: &str| {
        call(
            mock,
            Method::GET,
            "/api/admin/event/nope",
            &[("accept", accept)],
            "",
        )
    };
    let xml = get(&mock, "application/*+xml");
    assert_eq!(xml.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        content_type(&xml),
        "application/vnd.vmware.vcloud.error+xml"
    );
    assert!(String::from_utf8_lossy(xml.body()).contains("<Error "));
    let json = get(&mock, "application/*+json");
    assert_eq!(
        content_type(&json),
        "application/vnd.vmware.vcloud.error+json"
    );
    // No Accept: the default (first) response type's representation.
    assert_eq!(
        content_type(&get(&mock, "")),
        "application/vnd.vmware.vcloud.error+xml"
    );
    // Only an XML error type: JSON errors keep the negotiated response type.
    let mut xml_only = spec::load_from(SpecFiles::Dir(specs_dir()), API, &[]).unwrap();
    xml_only
        .spec
        .media_types
        .error
        .retain(|m| m.ends_with("+xml"));
    let xml_only = mock_with(Arc::new(xml_only), None);
    assert_eq!(
        content_type(&get(&xml_only, "application/*+json")),
        "application/vnd.vmware.admin.event+json"
    );
    // An operation that declares its own media types without `error` replaces the API's whole:
    // its errors are written as its response type, as before error types existed.
    let mut own = spec::load_from(SpecFiles::Dir(specs_dir()), API, &[]).unwrap();
    let mut op_types = own.spec.media_types.clone();
    op_types.error.clear();
    let get_event = own
        .spec
        .operations
        .iter_mut()
        .find(|op| op.id == "getEvent")
        .unwrap();
    get_event.media_types = Some(op_types);
    let own = mock_with(Arc::new(own), None);
    assert_eq!(
        content_type(&get(&own, "application/*+xml")),
        "application/vnd.vmware.admin.event+xml"
    );
    // Successes are never written as an error type.
    let created = call(
        &mock,
        Method::POST,
        EVENTS,
        &[("content-type", "application/vnd.vmware.admin.event+json")],
        EVENT_JSON,
    );
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(
        content_type(&created),
        "application/vnd.vmware.admin.event+xml"
    );
}
