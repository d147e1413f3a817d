//! The configurable readings of the MWS hardening work: each setting's other reading, through
//! the configuration and through the server's flags.

use bytes::Bytes;
use clap::Parser;
use event_mock::apis::mws::config::{ControlEscapes, ListOrder, MwsConfig};
use event_mock::server::ServeArgs;
use event_mock::{Mock, MockConfig, Response};
use serde_json::{json, Value};

const AUTH: &str = "Basic YWRtaW46c2VjcmV0"; // admin:secret
const EVENTS: &str = "/mws/rest/events?api-version=3";

fn call(mock: &Mock, method: &str, uri: &str, body: Option<&Value>) -> Response {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", AUTH);
    let bytes = match body {
        Some(v) => {
            builder = builder.header("content-type", "application/json");
            serde_json::to_vec(v).unwrap()
        }
        None => Vec::new(),
    };
    mock.handle(builder.body(Bytes::from(bytes)).unwrap())
}

fn json_body(resp: &Response) -> Value {
    serde_json::from_slice(resp.body()).unwrap()
}

fn event(origin: &str, message: &str) -> Value {
    json!({"code": 1, "eventDate": "2024-06-10 17:13:31 UTC", "eventType": "T", "origin": origin,
           "severity": "INFO", "message": message})
}

fn mock_with(edit: impl FnOnce(&mut MwsConfig)) -> Mock {
    let mut config = MockConfig::deterministic();
    config.edit::<MwsConfig>(edit);
    Mock::new(config).unwrap()
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

#[test]
fn oldest_first_lists_in_stored_order() {
    let mock = mock_with(|c| c.list_order = Some(ListOrder::OldestFirst));
    for origin in ["First", "Second"] {
        assert_eq!(
            call(&mock, "POST", EVENTS, Some(&event(origin, "m"))).status(),
            201
        );
    }
    let body = json_body(&call(&mock, "GET", EVENTS, None));
    assert_eq!(body["results"][0]["origin"], "First");
    assert_eq!(body["results"][1]["origin"], "Second");
}

#[test]
fn raw_escapes_apply_the_seed_table_only() {
    let mock = mock_with(|c| c.events_log_escapes = Some(ControlEscapes::Raw));
    let resp = call(
        &mock,
        "POST",
        EVENTS,
        Some(&event("O", "esc\u{1b} \"q\" \n")),
    );
    assert_eq!(resp.status(), 201);
    let log = call(&mock, "GET", "/__admin/mws-events/events-log", None);
    let text = std::str::from_utf8(log.body()).unwrap();
    assert!(
        text.ends_with("message=\"esc\u{1b} \\\"q\\\" \\n\"\n"),
        "{text:?}"
    );
}

#[test]
fn query_limits_can_be_raised_or_lowered_by_name() {
    let mock = mock_with(|c| {
        c.query_limits.insert("page_items".into(), 2);
        c.query_limits.insert("sort_keys".into(), 40);
    });
    for i in 0..3 {
        call(&mock, "POST", EVENTS, Some(&event(&format!("E{i}"), "m")));
    }
    let body = json_body(&call(&mock, "GET", EVENTS, None));
    assert_eq!(body["resultCount"], 2);
    assert_eq!(body["totalCount"], 3);
    let resp = call(&mock, "GET", &format!("{EVENTS}&max=3"), None);
    assert_eq!(resp.status(), 400);
    assert_eq!(
        json_body(&resp)["messages"][0],
        "The 'max' parameter exceeds the limit 'page_items': at most 2 results per page"
    );
    let keys: serde_json::Map<String, Value> =
        (0..40).map(|i| (format!("k{i}"), json!(1))).collect();
    let sort = percent_encoding::utf8_percent_encode(
        &Value::Object(keys).to_string(),
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    let resp = call(&mock, "GET", &format!("{EVENTS}&sort={sort}"), None);
    assert_eq!(resp.status(), 200, "40 sort keys under a raised limit");

    let mut config = MockConfig::deterministic();
    config.edit::<MwsConfig>(|c| {
        c.query_limits.insert("no_such_limit".into(), 1);
    });
    assert!(
        Mock::new(config).is_err(),
        "an unknown limit name is refused"
    );
}

#[test]
fn the_flags_set_the_new_settings() {
    let cli = Cli::try_parse_from([
        "event-mock",
        "--list-order",
        "oldest-first",
        "--events-log-escapes",
        "raw",
        "--query-limit",
        "page_items=50",
        "--query-limit",
        "regex_terms=4",
    ])
    .expect("flags");
    let config = cli.serve.config().expect("config");
    let mws: MwsConfig = config.api().expect("mws settings");
    assert_eq!(mws.list_order, Some(ListOrder::OldestFirst));
    assert_eq!(mws.events_log_escapes, Some(ControlEscapes::Raw));
    assert_eq!(mws.query_limits.get("page_items"), Some(&50));
    assert_eq!(mws.query_limits.get("regex_terms"), Some(&4));
    Mock::new(config).expect("mock");

    let bad = Cli::try_parse_from(["event-mock", "--query-limit", "page_items"]).expect("parses");
    assert!(bad.serve.config().unwrap_err().contains("--query-limit"));
}
