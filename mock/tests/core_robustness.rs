//! Bad input never panics, always gets MWS's own error envelope, and never corrupts the store.
//! Driven through the sans-IO core, so no sockets and no timing.

use bytes::Bytes;
use event_mock::apis::mws::config::{MwsConfig, TotalCount};
use event_mock::{Mock, MockConfig, Request, Response};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};

const AUTH: &str = "Basic YWRtaW46c2VjcmV0"; // admin:secret

fn request(method: &str, uri: &str, content_type: Option<&str>, body: Vec<u8>) -> Request {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", AUTH);
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    builder.body(Bytes::from(body)).expect("request")
}

fn json_body(resp: &Response) -> Value {
    serde_json::from_slice(resp.body())
        .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", resp.body()))
}

fn stored_count(mock: &Mock) -> usize {
    let resp = mock.handle(request(
        "GET",
        "/__admin/mws-events/events",
        None,
        Vec::new(),
    ));
    json_body(&resp).as_array().map(Vec::len).unwrap_or(0)
}

fn valid_event() -> Value {
    json!({"arguments": ["vm1"], "associatedObjects": [{"type": "VM", "id": "vm1"}], "code": 234881023,
           "eventDate": "2024-06-10 17:13:31 UTC", "eventType": "VM Provision", "message": "m", "origin": "CSA Plugin", "severity": "INFO"})
}

/// Change one byte, cut the text, or splice in something hostile.
fn mutate(rng: &mut StdRng, text: &[u8]) -> Vec<u8> {
    let mut out = text.to_vec();
    match rng.gen_range(0..6) {
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
            ];
            let piece = hostile[rng.gen_range(0..hostile.len())];
            out.splice(i..i, piece.iter().copied());
        }
        4 => out = (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect(),
        _ => {}
    }
    out
}

#[test]
fn random_and_mutated_requests_never_panic_and_get_mws_errors() {
    let mock = Mock::new(MockConfig::deterministic()).expect("mock");
    let mut rng = StdRng::seed_from_u64(7);
    let valid = serde_json::to_vec(&valid_event()).unwrap();
    let queries: Vec<String> = vec![
        r#"{"eventType":"VM Provision"}"#.into(),
        r#"{code:234881023}"#.into(),
        r#"{"associatedObjects.id":{"$ne":"vm1"}}"#.into(),
        r#"{"eventDate":{"$gte":"2024-06-10 17:13:31 UTC"}}"#.into(),
        "[".repeat(5000),
    ];
    let methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
    let mut created = 0usize;
    for i in 0..3000 {
        let method = methods[rng.gen_range(0..methods.len())];
        let path = match rng.gen_range(0..4) {
            0 => "/mws/rest/events".to_owned(),
            1 => "/rest/events".to_owned(),
            2 => format!("/mws/rest/events/{:024x}", rng.gen::<u64>()),
            _ => format!(
                "/mws/rest/{}",
                ["", "events/", "x", "events/a/b", "%ff"][rng.gen_range(0..5)]
            ),
        };
        let pick = rng.gen_range(0..queries.len());
        let query_json = mutate(&mut rng, queries[pick].as_bytes());
        let encoded =
            percent_encoding::percent_encode(&query_json, percent_encoding::NON_ALPHANUMERIC);
        let version = ["3", "latest", "2", "1", "0", "x", ""][rng.gen_range(0..7)];
        let extra = [
            "",
            "&max=2",
            "&offset=-1",
            "&sort=%7B%22code%22%3A1%7D",
            "&fields=id,code",
            "&pretty=true",
            "&max=%ff",
        ][rng.gen_range(0..7)];
        let uri = format!("{path}?api-version={version}&query={encoded}{extra}");
        let body = if rng.gen_bool(0.3) {
            valid.clone()
        } else {
            mutate(&mut rng, &valid)
        };
        let content_type = [
            Some("application/json"),
            Some("text/plain"),
            None,
            Some("application/json; charset=UTF-8"),
        ][rng.gen_range(0..4)];
        let resp = mock.handle(request(method, &uri, content_type, body));
        let status = resp.status().as_u16();
        assert!((200..600).contains(&status), "request {i}: status {status}");
        if status == 201 {
            created += 1;
        }
        if status >= 400 {
            let body = json_body(&resp);
            let messages = body.get("messages").and_then(Value::as_array);
            assert!(
                messages.is_some_and(|m| !m.is_empty() && m.iter().all(Value::is_string)),
                "request {i} ({method} {uri}): error body is not MWS's envelope: {body}"
            );
        }
    }
    assert!(
        created > 10,
        "the loop should also create events, created {created}"
    );
    assert_eq!(
        stored_count(&mock),
        created,
        "every 201 stored exactly one event, nothing else was stored"
    );
    assert_eq!(
        mock.panics_caught(),
        0,
        "a request reached the panic backstop"
    );
}

#[test]
fn events_log_uses_the_configured_zone_like_the_seed() {
    for zone in ["-06:00", "America/Denver"] {
        let mut config = MockConfig::deterministic();
        config.edit::<MwsConfig>(|s| s.events_log_zone = Some(zone.into()));
        let mock = Mock::new(config).unwrap();
        let mut event = valid_event();
        event["message"] = json!("The virtual machine \"vm1\" was provisioned");
        let resp = mock.handle(request(
            "POST",
            "/mws/rest/events?api-version=3",
            Some("application/json"),
            serde_json::to_vec(&event).unwrap(),
        ));
        assert_eq!(resp.status(), 201);
        let log = mock.handle(request(
            "GET",
            "/__admin/mws-events/events-log",
            None,
            Vec::new(),
        ));
        // The line of seed 004, byte for byte.
        assert_eq!(
            std::str::from_utf8(log.body()).unwrap(),
            "2024-06-10T11:13:31.000-06:00 severity=\"INFO\" code=\"0x0dffffff\" type=\"VM Provision\" origin=\"CSA Plugin\" associatedObject.0.type=\"VM\" associatedObject.0.id=\"vm1\" arguments=[\"vm1\"] message=\"The virtual machine \\\"vm1\\\" was provisioned\"\n",
            "zone {zone}"
        );
    }
}

#[test]
fn events_log_is_appended_to_the_configured_file() {
    let path = std::env::temp_dir().join(format!("event-mock-events-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut config = MockConfig::deterministic();
    config.edit::<MwsConfig>(|s| s.events_log_path = Some(path.clone()));
    let mock = Mock::new(config).unwrap();
    for _ in 0..2 {
        let resp = mock.handle(request(
            "POST",
            "/mws/rest/events?api-version=3",
            Some("application/json"),
            serde_json::to_vec(&valid_event()).unwrap(),
        ));
        assert_eq!(resp.status(), 201);
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(text.lines().count(), 2);
    // The file's lines are written as events are stored; the control plane's are rendered
    // from the kept events when asked: the same text.
    let recent = mock.handle(request(
        "GET",
        "/__admin/mws-events/events-log",
        None,
        Vec::new(),
    ));
    assert_eq!(std::str::from_utf8(recent.body()).unwrap(), text);
    assert!(
        text.lines().all(
            |l| l.starts_with("2024-06-10T17:13:31.000Z severity=\"INFO\" code=\"0x0dffffff\"")
        ),
        "{text}"
    );
}

#[test]
fn total_count_can_count_every_stored_event() {
    let mut config = MockConfig::deterministic();
    config.edit::<MwsConfig>(|s| s.total_count = Some(TotalCount::All));
    let mock = Mock::new(config).unwrap();
    for severity in ["INFO", "ERROR", "ERROR"] {
        let mut event = valid_event();
        event["severity"] = json!(severity);
        mock.handle(request(
            "POST",
            "/mws/rest/events?api-version=3",
            Some("application/json"),
            serde_json::to_vec(&event).unwrap(),
        ));
    }
    let resp = mock.handle(request(
        "GET",
        "/mws/rest/events?api-version=3&query=%7B%22severity%22%3A%22ERROR%22%7D&max=1",
        None,
        Vec::new(),
    ));
    let body = json_body(&resp);
    assert_eq!(body["resultCount"], 1);
    assert_eq!(
        body["totalCount"], 3,
        "totalCount=all counts every stored event"
    );
}

#[test]
fn the_body_limit_is_configurable_and_answered_in_mws_shape() {
    let mut config = MockConfig::deterministic();
    config.edit::<MwsConfig>(|s| s.max_body_bytes = Some(64));
    let mock = Mock::new(config).unwrap();
    let resp = mock.handle(request(
        "POST",
        "/mws/rest/events?api-version=3",
        Some("application/json"),
        serde_json::to_vec(&valid_event()).unwrap(),
    ));
    assert_eq!(resp.status(), 413);
    assert_eq!(
        json_body(&resp)["messages"][0],
        "The request body exceeds the limit of 64 bytes"
    );
    assert_eq!(stored_count(&mock), 0);
}
