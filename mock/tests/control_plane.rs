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
