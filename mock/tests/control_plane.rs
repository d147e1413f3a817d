//! The `/__admin` control plane: clock and faults, through the sans-IO core.

use bytes::Bytes;
use event_mock::{Mock, MockConfig, Response};
use serde_json::{json, Value};

fn call(mock: &Mock, method: &str, uri: &str, body: Value) -> Response {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body).unwrap()
    };
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", "Basic YWRtaW46c2VjcmV0")
        .header("content-type", "application/json")
        .body(Bytes::from(bytes))
        .unwrap();
    mock.handle(req)
}

fn body(resp: &Response) -> Value {
    serde_json::from_slice(resp.body()).unwrap()
}

#[test]
fn the_clock_can_be_frozen_advanced_offset_and_released() {
    let mock = Mock::new(MockConfig::default()).unwrap();
    let frozen = call(
        &mock,
        "POST",
        "/__admin/clock",
        json!({"freeze": "2026-01-01T00:00:00Z"}),
    );
    assert_eq!(body(&frozen)["now_ms"], 1_767_225_600_000_i64);
    assert_eq!(body(&frozen)["frozen"], true);
    let by_ms = call(
        &mock,
        "POST",
        "/__admin/clock",
        json!({"freeze": 1_767_225_600_123_i64}),
    );
    assert_eq!(body(&by_ms)["now_ms"], 1_767_225_600_123_i64);
    let advanced = call(&mock, "POST", "/__admin/clock", json!({"advance_ms": -123}));
    assert_eq!(body(&advanced)["now_ms"], 1_767_225_600_000_i64);
    let offset = call(
        &mock,
        "POST",
        "/__admin/clock",
        json!({"offset_ms": -86_400_000}),
    );
    assert_eq!(body(&offset)["frozen"], false);
    let lag = chrono::Utc::now().timestamp_millis() - body(&offset)["now_ms"].as_i64().unwrap();
    assert!(
        (86_390_000..86_410_000).contains(&lag),
        "offset clock is a day behind, got {lag} ms"
    );
    let released = call(&mock, "POST", "/__admin/clock", json!({"system": true}));
    assert_eq!(body(&released)["frozen"], false);
    for bad in [
        json!({}),
        json!({"freeze": "yesterday"}),
        json!({"freeze": 1, "advance_ms": 1}),
        json!({"tick": 1}),
    ] {
        assert_eq!(
            call(&mock, "POST", "/__admin/clock", bad.clone()).status(),
            400,
            "{bad}"
        );
    }
}

#[test]
fn a_fault_answers_with_the_apis_own_error_for_its_count_then_stops() {
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    let added = call(
        &mock,
        "POST",
        "/__admin/faults",
        json!({"api": "mws-events", "operation": "listEvents", "error": "internal", "count": 2, "retry_after": 3}),
    );
    assert_eq!(added.status(), 201);
    for _ in 0..2 {
        let resp = call(&mock, "GET", "/mws/rest/events?api-version=3", Value::Null);
        assert_eq!(resp.status(), 500);
        assert_eq!(resp.headers()["retry-after"], "3");
        assert_eq!(
            body(&resp)["messages"][0],
            "A problem occurred while processing the request"
        );
    }
    assert_eq!(
        call(&mock, "GET", "/mws/rest/events?api-version=3", Value::Null).status(),
        200
    );
    assert_eq!(
        body(&call(&mock, "GET", "/__admin/faults", Value::Null)),
        json!([])
    );
}

#[test]
fn a_fault_on_one_operation_leaves_the_others_alone_until_cleared() {
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    call(
        &mock,
        "POST",
        "/__admin/faults",
        json!({"api": "mws-events", "operation": "createEvent", "error": "forbidden"}),
    );
    let event = json!({"eventDate": "2024-06-10 17:13:31 UTC"});
    for _ in 0..3 {
        assert_eq!(
            call(
                &mock,
                "POST",
                "/mws/rest/events?api-version=3",
                event.clone()
            )
            .status(),
            403
        );
    }
    assert_eq!(
        call(&mock, "GET", "/mws/rest/events?api-version=3", Value::Null).status(),
        200
    );
    call(&mock, "DELETE", "/__admin/faults", Value::Null);
    assert_eq!(
        call(&mock, "POST", "/mws/rest/events?api-version=3", event).status(),
        201
    );
}

#[test]
fn faults_naming_an_unknown_api_or_error_kind_are_refused() {
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    for bad in [
        json!({"api": "nope", "error": "internal"}),
        json!({"api": "mws-events", "error": "no_such_kind"}),
        json!({"api": "mws-events"}),
    ] {
        assert_eq!(
            call(&mock, "POST", "/__admin/faults", bad.clone()).status(),
            400,
            "{bad}"
        );
    }
}

#[test]
fn seeding_an_id_twice_is_refused_and_leaves_the_store_as_it_was() {
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    let event =
        |id: &str| json!({"id": id, "eventDate": "2024-06-10 17:13:31 UTC", "eventType": "Seeded"});
    let first = call(
        &mock,
        "POST",
        "/__admin/mws-events/events",
        json!([event("51b608dfc4aa708a5bebb686")]),
    );
    assert_eq!(first.status(), 201);
    for batch in [
        json!([event("51b608dfc4aa708a5bebb686")]),
        json!([
            event("51b608dfc4aa708a5bebb687"),
            event("51b608dfc4aa708a5bebb687")
        ]),
    ] {
        assert_eq!(
            call(&mock, "POST", "/__admin/mws-events/events", batch.clone()).status(),
            400,
            "{batch}"
        );
    }
    let stored = body(&call(
        &mock,
        "GET",
        "/__admin/mws-events/events",
        Value::Null,
    ));
    assert_eq!(stored.as_array().map(Vec::len), Some(1), "{stored}");
}

/// A control-plane request with extra headers.
fn admin_with(
    mock: &Mock,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    mock.handle(builder.body(Bytes::from(body.to_owned())).unwrap())
}

fn seeded(mock: &Mock) -> usize {
    body(&call(
        mock,
        "GET",
        "/__admin/mws-events/events",
        Value::Null,
    ))
    .as_array()
    .map(Vec::len)
    .unwrap_or(0)
}

fn seed_one(mock: &Mock) {
    let event =
        json!([{"eventType": "x", "severity": "INFO", "eventDate": "2024-06-10 17:13:31 UTC"}]);
    assert_eq!(
        call(mock, "POST", "/__admin/mws-events/events", event).status(),
        201
    );
}

#[test]
fn a_cross_site_page_cannot_reset_inject_faults_or_move_the_clock() {
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    seed_one(&mock);
    let attacker = [
        ("origin", "http://attacker.example"),
        ("content-type", "text/plain"),
    ];
    for (uri, body) in [
        ("/__admin/reset", ""),
        (
            "/__admin/faults",
            r#"{"api":"mws-events","error":"internal"}"#,
        ),
        ("/__admin/clock", r#"{"offset_ms":1000}"#),
    ] {
        let resp = admin_with(&mock, "POST", uri, &attacker, body);
        assert_eq!(resp.status(), 403, "{uri}");
    }
    // Without the Origin, a text/plain write is still refused (no "simple" cross-site form).
    let plain = admin_with(
        &mock,
        "POST",
        "/__admin/reset",
        &[("content-type", "text/plain")],
        "",
    );
    assert_eq!(plain.status(), 415);
    let fetch_marked = admin_with(
        &mock,
        "POST",
        "/__admin/reset",
        &[("sec-fetch-site", "cross-site")],
        "",
    );
    assert_eq!(fetch_marked.status(), 403);
    assert_eq!(seeded(&mock), 1, "nothing was reset");
    assert!(mock.faults().is_empty(), "no fault was injected");
    assert!(mock.clock().is_frozen(), "the clock did not move");
    // The mock's own origin is fine.
    let own = admin_with(
        &mock,
        "POST",
        "/__admin/reset",
        &[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ],
        "",
    );
    assert_eq!(own.status(), 200);
    assert_eq!(seeded(&mock), 0);
}

#[test]
fn a_rebound_host_name_is_refused_and_configured_hosts_are_accepted() {
    let mut config = MockConfig::deterministic();
    config.admin_hosts = vec!["mock.internal".into()];
    let mock = Mock::new(config).unwrap();
    let rebound = admin_with(
        &mock,
        "GET",
        "/__admin/health",
        &[("host", "attacker.example:8080")],
        "",
    );
    assert_eq!(rebound.status(), 403);
    for host in [
        "localhost:8080",
        "127.0.0.1",
        "[::1]:9",
        "mock.internal:8080",
    ] {
        let resp = admin_with(&mock, "GET", "/__admin/health", &[("host", host)], "");
        assert_eq!(resp.status(), 200, "{host}");
    }
}

#[test]
fn with_a_token_every_control_plane_request_must_carry_it() {
    let mut config = MockConfig::deterministic();
    config.admin_token = Some("s3cret-token".into());
    let mock = Mock::new(config).unwrap();
    seed_one_with_token(&mock);
    for headers in [
        vec![],
        vec![("authorization", "Bearer wrong")],
        vec![("x-admin-token", "s3cret-token-but-longer")],
    ] {
        let resp = admin_with(&mock, "POST", "/__admin/reset", &headers, "");
        assert_eq!(resp.status(), 401, "{headers:?}");
    }
    let resp = admin_with(
        &mock,
        "GET",
        "/__admin/mws-events/events",
        &[("authorization", "Bearer s3cret-token")],
        "",
    );
    assert_eq!(
        body(&resp).as_array().map(Vec::len),
        Some(1),
        "nothing was reset"
    );
    let resp = admin_with(
        &mock,
        "POST",
        "/__admin/reset",
        &[("x-admin-token", "s3cret-token")],
        "",
    );
    assert_eq!(resp.status(), 200);
}

fn seed_one_with_token(mock: &Mock) {
    let resp = admin_with(
        mock,
        "POST",
        "/__admin/mws-events/events",
        &[
            ("authorization", "Bearer s3cret-token"),
            ("content-type", "application/json"),
        ],
        r#"[{"eventType": "x", "severity": "INFO", "eventDate": "2024-06-10 17:13:31 UTC"}]"#,
    );
    assert_eq!(resp.status(), 201);
}

#[test]
fn control_plane_paths_are_matched_exactly() {
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    seed_one(&mock);
    for uri in ["/__admin//reset", "/__admin/reset/", "/__admin///reset"] {
        assert_eq!(call(&mock, "POST", uri, Value::Null).status(), 404, "{uri}");
    }
    assert_eq!(seeded(&mock), 1);
}

#[test]
fn out_of_range_clock_moves_are_refused_and_every_api_keeps_answering() {
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    for bad in [
        json!({"offset_ms": 9_000_000_000_000_000_i64}),
        json!({"advance_ms": i64::MIN}),
        json!({"advance_ms": i64::MAX}),
        json!({"freeze": -1}),
        json!({"freeze": "+275760-09-13T00:00:00Z"}),
    ] {
        assert_eq!(
            call(&mock, "POST", "/__admin/clock", bad.clone()).status(),
            400,
            "{bad}"
        );
    }
    // Near the end of the range: one more step is refused, not a panic.
    let near_end = json!({"freeze": 253_402_300_799_000_i64});
    assert_eq!(
        call(&mock, "POST", "/__admin/clock", near_end).status(),
        200
    );
    assert_eq!(
        call(&mock, "POST", "/__admin/clock", json!({"advance_ms": 5000})).status(),
        400
    );
    // Every request still gets the vendor's answer, not a plain-text 500.
    let resp = call(&mock, "GET", "/mws/rest/events?api-version=3", Value::Null);
    assert_eq!(resp.status(), 200);
    assert_eq!(mock.panics_caught(), 0);
}
