//! MWS hardening and fidelity (issue "Hardening and fidelity", MWS part): one test per finding.
//! Each test drives the sans-IO core only (no sockets) and stays small in time and memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use event_mock::{Mock, MockConfig, Request, Response};
use serde_json::{json, Value};

const AUTH: &str = "Basic YWRtaW46c2VjcmV0"; // admin:secret
const EVENTS: &str = "/mws/rest/events?api-version=3";

fn request(method: &str, uri: &str, auth: Option<&str>, body: Option<&Value>) -> Request {
    let mut builder = http::Request::builder().method(method).uri(uri);
    if let Some(auth) = auth {
        builder = builder.header("authorization", auth);
    }
    let bytes = match body {
        Some(v) => {
            builder = builder.header("content-type", "application/json");
            serde_json::to_vec(v).unwrap()
        }
        None => Vec::new(),
    };
    builder.body(Bytes::from(bytes)).expect("request")
}

fn call(mock: &Mock, method: &str, uri: &str, body: Option<&Value>) -> Response {
    mock.handle(request(method, uri, Some(AUTH), body))
}

fn json_body(resp: &Response) -> Value {
    serde_json::from_slice(resp.body())
        .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", resp.body()))
}

fn messages(resp: &Response) -> Vec<String> {
    json_body(resp)["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn event(origin: &str) -> Value {
    json!({"arguments": ["vm1"], "associatedObjects": [{"type": "VM", "id": "vm1"}], "code": 234881023,
           "eventDate": "2024-06-10 17:13:31 UTC", "eventType": "VM Provision", "message": "m",
           "origin": origin, "severity": "INFO"})
}

fn seed(mock: &Mock, events: &Value) -> Response {
    call(mock, "POST", "/__admin/mws-events/events", Some(events))
}

fn stored(mock: &Mock) -> Vec<Value> {
    json_body(&call(mock, "GET", "/__admin/mws-events/events", None))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn log_text(mock: &Mock) -> String {
    let resp = call(mock, "GET", "/__admin/mws-events/events-log", None);
    String::from_utf8(resp.body().to_vec()).unwrap()
}

/// Finding 4: query cost is bounded. Each cap is refused with MWS's 400 naming the limit, and
/// a page never holds more than the page cap, whatever `max` says.
#[test]
fn query_cost_is_capped_and_each_refusal_names_its_limit() {
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    let bulk: Vec<Value> = (0..1_100)
        .map(|i| {
            let mut e = event("Bulk");
            e["code"] = json!(i + 1);
            e
        })
        .collect();
    assert_eq!(seed(&mock, &Value::Array(bulk)).status(), 201);

    let many_regexes: Vec<Value> = (0..50)
        .map(|i| json!({"message": {"$regex": format!("^x{i}(a|b)*c")}}))
        .collect();
    let many_in: Vec<Value> = (0..1_500).map(|i| json!(format!("v{i}"))).collect();
    let many_or: Vec<Value> = (0..200).map(|i| json!({"code": i})).collect();
    let long_regex = "a".repeat(5_000);
    let sort_keys: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("f{i}"), json!(1))).collect();
    let cases: Vec<(String, &str)> = vec![
        (
            format!(
                "query={}",
                encode(&json!({"$or": many_regexes}).to_string())
            ),
            "regex_terms",
        ),
        (
            format!(
                "query={}",
                encode(&json!({"message": {"$regex": long_regex}}).to_string())
            ),
            "regex_bytes",
        ),
        (
            format!(
                "query={}",
                encode(&json!({"origin": {"$in": many_in}}).to_string())
            ),
            "in_values",
        ),
        (
            format!("query={}", encode(&json!({"$or": many_or}).to_string())),
            "logical_clauses",
        ),
        (
            format!("sort={}", encode(&Value::Object(sort_keys).to_string())),
            "sort_keys",
        ),
        ("max=100000".to_owned(), "page_items"),
    ];
    for (params, limit) in cases {
        let started = Instant::now();
        let resp = call(&mock, "GET", &format!("{EVENTS}&{params}"), None);
        assert_eq!(resp.status(), 400, "{limit}: {:?}", messages(&resp));
        let text = messages(&resp).join(" ");
        assert!(
            text.contains(limit),
            "{limit}: the message names the limit: {text}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{limit}: refused quickly"
        );
    }
    // 32 sort keys is MongoDB's own limit, and allowed.
    let keys32: serde_json::Map<String, Value> =
        (0..32).map(|i| (format!("f{i}"), json!(1))).collect();
    let resp = call(
        &mock,
        "GET",
        &format!(
            "{EVENTS}&max=1&sort={}",
            encode(&Value::Object(keys32).to_string())
        ),
        None,
    );
    assert_eq!(resp.status(), 200);
    // max=0 (MongoDB's "no limit") and no max at all give at most one page of 1000 results;
    // totalCount still counts every match.
    for params in ["max=0", "query=%7B%7D"] {
        let resp = call(&mock, "GET", &format!("{EVENTS}&{params}"), None);
        assert_eq!(resp.status(), 200);
        let body = json_body(&resp);
        assert_eq!(body["resultCount"], 1_000, "{params}");
        assert_eq!(body["totalCount"], 1_100, "{params}");
    }
}

/// Finding 4: readers take a snapshot of the store and release the lock before they match,
/// sort and render, so a POST is not held up by a long list.
#[test]
fn a_long_list_does_not_hold_up_a_create() {
    let mock = Arc::new(Mock::new(MockConfig::deterministic()).unwrap());
    let bulk: Vec<Value> = (0..20_000)
        .map(|i| {
            let mut e = event("Bulk");
            e["message"] = json!(format!("{:08}", (i * 7919) % 20_000));
            e
        })
        .collect();
    assert_eq!(seed(&mock, &Value::Array(bulk)).status(), 201);
    let list = format!(
        "{EVENTS}&sort={}&query={}",
        encode(r#"{"message":-1}"#),
        encode(r#"{"message":{"$regex":"^0"}}"#)
    );
    let started = Instant::now();
    assert_eq!(call(&mock, "GET", &list, None).status(), 200);
    let one_list = started.elapsed();

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (mock, stop, list) = (mock.clone(), stop.clone(), list.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                assert_eq!(call(&mock, "GET", &list, None).status(), 200);
            }
        })
    };
    std::thread::sleep(one_list / 2);
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let resp = call(&mock, "POST", EVENTS, Some(&event("Writer")));
        assert_eq!(resp.status(), 201);
        slowest = slowest.max(started.elapsed());
        std::thread::sleep(one_list / 7);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();
    assert!(
        slowest < one_list / 3,
        "a create waited {slowest:?} while lists ran (one list takes {one_list:?})"
    );
}

/// Finding 7: a generated id never repeats a stored one, even when a seeded event took the id
/// the generator produces next.
#[test]
fn generated_ids_skip_ids_already_stored() {
    // The same deterministic generator, on a twin mock, tells which id comes next.
    let twin = Mock::new(MockConfig::deterministic()).unwrap();
    let next = json_body(&call(&twin, "POST", EVENTS, Some(&event("Twin"))))["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    let mut seeded = event("Seeded");
    seeded["id"] = json!(next);
    assert_eq!(seed(&mock, &json!([seeded])).status(), 201);
    let resp = call(&mock, "POST", EVENTS, Some(&event("Created")));
    assert_eq!(resp.status(), 201, "{:?}", messages(&resp));
    let created = json_body(&resp)["id"].as_str().unwrap().to_owned();
    assert_ne!(created, next, "the new event got the seeded event's id");

    // A batch: an event without an id must not take an id given later in the same batch.
    let twin = Mock::new(MockConfig::deterministic()).unwrap();
    let ids = json_body(&seed(&twin, &json!([event("A"), event("B")])))["ids"].clone();
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    let mut given = event("Given");
    given["id"] = ids[0].clone();
    let resp = seed(&mock, &json!([event("Generated"), given]));
    assert_eq!(resp.status(), 201, "{}", json_body(&resp));

    let all = stored(&mock);
    let mut ids: Vec<&str> = all.iter().filter_map(|e| e["id"].as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "one id per event: {all:?}");
}

/// Finding 10: events.log escapes every control character and every non-ASCII line break as a
/// Java `\uXXXX` escape; no raw control character reaches the file.
#[test]
fn events_log_escapes_every_control_and_line_break() {
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    let mut e = event("CSA Plugin");
    e["message"] = json!("esc\u{1b} nul\u{0} del\u{7f} vt\u{b} ff\u{c} ls\u{2028} ps\u{2029} nel\u{85} é \"q\" \\ \n\r\t");
    let resp = call(&mock, "POST", EVENTS, Some(&e));
    assert_eq!(resp.status(), 201);
    let log = log_text(&mock);
    let line = log.strip_suffix('\n').unwrap();
    assert!(
        !line
            .chars()
            .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}'),
        "a raw control or line break in {line:?}"
    );
    assert!(
        line.ends_with(
            r#"message="esc\u001B nul\u0000 del\u007F vt\u000B ff\u000C ls\u2028 ps\u2029 nel\u0085 é \"q\" \\ \n\r\t""#
        ),
        "{line}"
    );
}

/// Finding 11: every 401 carries `WWW-Authenticate: Basic realm="MWS"`, however the
/// credentials are missing or wrong, and also when a 401 is injected as a fault.
#[test]
fn every_401_asks_for_basic_credentials() {
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    let cases: [(&str, Option<&str>); 7] = [
        ("no Authorization header", None),
        ("empty header", Some("")),
        ("not base64", Some("Basic !!!")),
        ("no colon", Some("Basic YWRtaW4=")),
        ("another scheme", Some("Bearer abc")),
        ("wrong password", Some("Basic YWRtaW46d3Jvbmc=")),
        ("unknown user", Some("Basic bm9ib2R5OnNlY3JldA==")),
    ];
    for (name, auth) in cases {
        for (method, uri) in [("GET", EVENTS), ("POST", EVENTS), ("PUT", EVENTS)] {
            let body = (method == "POST").then(|| event("x"));
            let resp = mock.handle(request(method, uri, auth, body.as_ref()));
            assert_eq!(resp.status(), 401, "{name} {method}");
            assert_eq!(
                resp.headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok()),
                Some("Basic realm=\"MWS\""),
                "{name} {method}"
            );
        }
    }
    let fault = json!({"api": "mws-events", "error": "unauthenticated", "count": 1});
    assert_eq!(
        call(&mock, "POST", "/__admin/faults", Some(&fault)).status(),
        201
    );
    let resp = call(&mock, "GET", EVENTS, None);
    assert_eq!(resp.status(), 401, "the injected fault");
    assert_eq!(
        resp.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Basic realm=\"MWS\""),
        "an injected 401"
    );
}

/// Finding 12: `code` is a positive 32-bit int written as an integer.
#[test]
fn code_is_a_positive_int_written_as_an_integer() {
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    for raw in ["1.0", "1e3", "-0", "0", "-1", "2147483648", "33554944.5"] {
        let body = format!(
            r#"{{"code": {raw}, "eventDate": "2024-06-10 17:13:31 UTC", "severity": "INFO"}}"#
        );
        let req = http::Request::builder()
            .method("POST")
            .uri(EVENTS)
            .header("authorization", AUTH)
            .header("content-type", "application/json")
            .body(Bytes::from(body))
            .unwrap();
        let resp = mock.handle(req);
        assert_eq!(resp.status(), 400, "code {raw} was accepted");
        assert!(
            messages(&resp)
                .iter()
                .any(|m| m.starts_with("code must be")),
            "code {raw}: {:?}",
            messages(&resp)
        );
    }
    assert!(stored(&mock).is_empty());
    for code in [1i64, 2147483647] {
        let mut e = event("Codes");
        e["code"] = json!(code);
        let resp = call(&mock, "POST", EVENTS, Some(&e));
        assert_eq!(resp.status(), 201, "code {code}");
        assert_eq!(json_body(&resp)["code"], json!(code));
    }
    assert!(log_text(&mock).contains("code=\"0x7fffffff\""));
}

/// Finding 13: events stored under the v1/v2 names are held in one model and every version
/// shows them right.
#[test]
fn seeded_legacy_names_are_served_right_in_every_version() {
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    let legacy = json!([{
        "eventTime": "2024-06-10 11:13:31 America/Denver",
        "sourceComponent": "Old Plugin",
        "relatedObjects": [{"type": "VM", "id": "vm9"}],
        "errorMessage": {"message": "old text", "originator": "RM"},
        "eventType": "Legacy",
        "severity": "WARN",
        "code": 7
    }]);
    let resp = seed(&mock, &legacy);
    assert_eq!(resp.status(), 201, "{}", json_body(&resp));
    let id = json_body(&resp)["ids"][0].as_str().unwrap().to_owned();

    let v3 = json_body(&call(
        &mock,
        "GET",
        &format!("/mws/rest/events/{id}?api-version=3"),
        None,
    ));
    assert_eq!(v3["eventDate"], "2024-06-10 17:13:31 UTC", "{v3}");
    assert_eq!(v3["origin"], "Old Plugin", "{v3}");
    assert_eq!(v3["message"], "old text", "{v3}");
    assert_eq!(
        v3["associatedObjects"],
        json!([{"type": "VM", "id": "vm9"}])
    );
    for old in [
        "eventTime",
        "sourceComponent",
        "relatedObjects",
        "errorMessage",
    ] {
        assert!(v3.get(old).is_none(), "v3 shows {old}: {v3}");
    }
    let listed = json_body(&call(
        &mock,
        "GET",
        &format!("{EVENTS}&query={}", encode(r#"{"origin":"Old Plugin"}"#)),
        None,
    ));
    assert_eq!(listed["results"][0], v3, "the list shows the same v3 view");

    for version in ["1", "2"] {
        let old = json_body(&call(
            &mock,
            "GET",
            &format!("/mws/rest/events/{id}?api-version={version}"),
            None,
        ));
        assert_eq!(
            old["eventTime"], "2024-06-10 17:13:31 UTC",
            "v{version}: {old}"
        );
        assert_eq!(old["sourceComponent"], "Old Plugin", "v{version}: {old}");
        assert_eq!(
            old["errorMessage"],
            json!({"message": "old text", "originator": "RM"}),
            "v{version}: {old}"
        );
        assert_eq!(
            old["relatedObjects"],
            json!([{"type": "VM", "id": "vm9"}]),
            "v{version}: {old}"
        );
        for new in [
            "eventDate",
            "origin",
            "message",
            "associatedObjects",
            "code",
        ] {
            assert!(old.get(new).is_none(), "v{version} shows {new}: {old}");
        }
    }
    // One stored model: the v3 names.
    let raw = &stored(&mock)[0];
    assert_eq!(raw["eventDate"], "2024-06-10 17:13:31 UTC", "{raw}");
    assert!(raw.get("eventTime").is_none(), "{raw}");

    // Both names of one field in one event cannot be stored as one model.
    let both =
        json!([{"eventDate": "2024-06-10 17:13:31 UTC", "eventTime": "2024-06-10 17:13:32 UTC"}]);
    assert_eq!(seed(&mock, &both).status(), 400);
}

/// Finding 14: without a sort the list shows the newest event first, as the seed's sample does.
#[test]
fn the_default_list_order_is_newest_first() {
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    for origin in ["First", "Second", "Third"] {
        assert_eq!(
            call(&mock, "POST", EVENTS, Some(&event(origin))).status(),
            201
        );
    }
    let body = json_body(&call(&mock, "GET", EVENTS, None));
    let origins: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["origin"].as_str())
        .collect();
    assert_eq!(origins, ["Third", "Second", "First"]);
    let body = json_body(&call(
        &mock,
        "GET",
        &format!("{EVENTS}&max=1&offset=1"),
        None,
    ));
    assert_eq!(body["results"][0]["origin"], "Second");
}

/// Finding 15: every field of the date format stays within its range (seconds 00-59, ...).
#[test]
fn date_fields_are_checked_on_both_sides_of_their_range() {
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    let accepted = [
        "2024-12-31 23:59:59 UTC",
        "2024-01-01 00:00:00 UTC",
        "2024-02-29 12:00:00 UTC",
        "0001-01-01 00:00:00 UTC",
    ];
    let refused = [
        "2024-06-10 17:13:60 UTC",
        "2024-06-10 17:60:00 UTC",
        "2024-06-10 24:00:00 UTC",
        "2024-13-01 00:00:00 UTC",
        "2024-00-10 00:00:00 UTC",
        "2024-06-00 00:00:00 UTC",
        "2024-06-31 00:00:00 UTC",
        "2023-02-29 00:00:00 UTC",
        "0000-06-10 00:00:00 UTC",
    ];
    for date in accepted {
        let mut e = event("Dates");
        e["eventDate"] = json!(date);
        let resp = call(&mock, "POST", EVENTS, Some(&e));
        assert_eq!(resp.status(), 201, "{date}: {:?}", messages(&resp));
    }
    for date in refused {
        let mut e = event("Dates");
        e["eventDate"] = json!(date);
        let resp = call(&mock, "POST", EVENTS, Some(&e));
        assert_eq!(resp.status(), 400, "{date} was accepted");
        assert!(
            messages(&resp)[0].starts_with("eventDate must be a date"),
            "{date}: {:?}",
            messages(&resp)
        );
    }
}

/// Finding 16: a wrong-type or null value is refused with the message of the type rule, not
/// the message of another rule of the same field.
#[test]
fn wrong_types_get_the_message_of_the_broken_rule() {
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    let cases = [
        ("origin", json!(5), "origin must be a string"),
        ("origin", Value::Null, "origin must be a string"),
        ("eventType", json!(["a"]), "eventType must be a string"),
        (
            "severity",
            json!(1),
            "severity must be one of INFO, WARN, ERROR, FATAL",
        ),
        ("eventDate", Value::Null, "eventDate must be a string"),
        ("eventDate", json!(1718039611), "eventDate must be a string"),
        ("code", json!("1"), "code must be an int"),
        ("code", Value::Null, "code must be an int"),
        (
            "arguments",
            json!("a"),
            "arguments must be a list of strings",
        ),
        (
            "associatedObjects",
            json!({"type": "VM"}),
            "associatedObjects must be a list of objects",
        ),
        ("message", json!(5), "message must be a string"),
    ];
    for (field, value, expected) in cases {
        let mut e = event("Types");
        e[field] = value.clone();
        let resp = call(&mock, "POST", EVENTS, Some(&e));
        assert_eq!(resp.status(), 400, "{field}={value}");
        let got = messages(&resp);
        assert!(
            got.iter().any(|m| m.starts_with(expected)),
            "{field}={value}: {got:?}"
        );
        assert!(
            !got.iter().any(|m| m.contains("quotes")),
            "{field}={value}: the quotes rule was not broken: {got:?}"
        );
    }
    let mut e = event("Types");
    e["associatedObjects"] = json!([{"type": 5, "id": null}]);
    let got = messages(&call(&mock, "POST", EVENTS, Some(&e)));
    assert!(
        got.iter()
            .any(|m| m.starts_with("associatedObject.type must be a string")),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|m| m.starts_with("associatedObject.id must be a string")),
        "{got:?}"
    );
}
