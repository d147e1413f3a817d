//! Cloud Eye through the sans-IO core: the configurable choices (error envelope, window margin,
//! duplicate ids, sub_event_type) and robustness against hostile bodies.

use bytes::Bytes;
use event_mock::apis::ces::config::{CesConfig, DuplicateId, SubEventMode, CES_PROJECT};
use event_mock::{Mock, MockConfig, Response};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};

const TOKEN: &str = "MIIT-test-token-0123456789";
/// 2026-01-01T00:00:00Z, where these tests freeze the clock.
const NOW: i64 = 1_767_225_600_000;

fn mock(edit: impl FnOnce(&mut MockConfig)) -> Mock {
    let mut config = MockConfig::deterministic();
    config.frozen_clock = chrono::DateTime::from_timestamp_millis(NOW);
    edit(&mut config);
    Mock::new(config).expect("mock")
}

fn post(mock: &Mock, body: &[u8]) -> Response {
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("/V1.0/{CES_PROJECT}/events"))
        .header("x-auth-token", TOKEN)
        .header("content-type", "application/json")
        .body(Bytes::copy_from_slice(body))
        .unwrap();
    mock.handle(req)
}

fn post_json(mock: &Mock, body: Value) -> Response {
    post(mock, &serde_json::to_vec(&body).unwrap())
}

fn json_of(resp: &Response) -> Value {
    serde_json::from_slice(resp.body()).unwrap_or_else(|e| panic!("{e}: {:?}", resp.body()))
}

fn event(time: i64) -> Value {
    json!({"event_name": "systemInvaded", "event_source": "financial.System", "time": time,
           "detail": {"event_state": "normal", "event_level": "Major", "event_user": "xiaokong"}})
}

fn stored(mock: &Mock) -> Vec<Value> {
    let req = http::Request::builder()
        .uri("/__admin/cloud-eye-events/events")
        .body(Bytes::new())
        .unwrap();
    json_of(&mock.handle(req))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn violations(schema: &str, body: &Value) -> Vec<String> {
    let spec = event_mock::apis::spec("cloud-eye-events").unwrap();
    spec.schemas
        .violations(schema, body)
        .unwrap()
        .into_iter()
        .map(|v| v.message)
        .collect()
}

#[test]
fn each_error_envelope_renders_its_documented_shape() {
    let cases = [
        ("v1", "error-v1.json", "/message/code"),
        ("v2", "error-v2.json", "/error_code"),
        ("legacy", "error-legacy.json", "/details/code"),
    ];
    for (envelope, schema, code_at) in cases {
        let mock = mock(|c| {
            c.edit::<CesConfig>(|s| s.error_envelope = Some(envelope.into()));
        });
        let resp = post_json(&mock, json!([]));
        assert_eq!(resp.status(), 400, "{envelope}");
        assert!(resp.headers().contains_key("x-request-id"), "{envelope}");
        let body = json_of(&resp);
        assert_eq!(
            violations(schema, &body),
            Vec::<String>::new(),
            "{envelope}: {body}"
        );
        assert_eq!(
            body.pointer(code_at),
            Some(&json!("ces.0014")),
            "{envelope}: {body}"
        );
    }
    // The legacy shape carries the status as a number.
    let legacy = json_of(&post_json(
        &mock(|c| {
            c.edit::<CesConfig>(|s| s.error_envelope = Some("legacy".into()));
        }),
        json!([]),
    ));
    assert_eq!(legacy["code"], 400);
}

#[test]
fn an_unknown_envelope_is_a_configuration_error() {
    let mut config = MockConfig::deterministic();
    config.edit::<CesConfig>(|s| s.error_envelope = Some("v9".into()));
    assert!(Mock::new(config).is_err());
}

#[test]
fn the_regional_variant_moves_both_window_edges_by_twenty_seconds() {
    let default = mock(|_| {});
    let regional = mock(|c| {
        c.edit::<CesConfig>(|s| s.time_margin_ms = Some(20_000));
    });
    let lower_10 = NOW - 3_600_000 + 10_000;
    let upper_10 = NOW + 600_000 - 10_000;
    assert_eq!(post_json(&default, json!([event(lower_10)])).status(), 201);
    assert_eq!(post_json(&default, json!([event(upper_10)])).status(), 201);
    assert_eq!(post_json(&regional, json!([event(lower_10)])).status(), 400);
    assert_eq!(post_json(&regional, json!([event(upper_10)])).status(), 400);
    assert_eq!(
        post_json(&regional, json!([event(lower_10 + 10_000)])).status(),
        201
    );
    assert_eq!(
        post_json(&regional, json!([event(upper_10 - 10_000)])).status(),
        201
    );
}

#[test]
fn a_duplicate_can_be_answered_with_a_new_id_but_is_still_stored_once() {
    let mock = mock(|c| {
        c.edit::<CesConfig>(|s| s.duplicate_id = Some(DuplicateId::New));
    });
    let first = json_of(&post_json(&mock, json!([event(NOW)])));
    let second = json_of(&post_json(&mock, json!([event(NOW)])));
    assert_ne!(first[0]["event_id"], second[0]["event_id"]);
    assert_eq!(stored(&mock).len(), 1);
}

#[test]
fn sub_event_type_can_be_refused_or_dropped_where_the_region_lacks_it() {
    let mut with_sub = event(NOW);
    with_sub["detail"]["sub_event_type"] = json!("SUB_EVENT.OPS");
    let reject = mock(|c| {
        c.edit::<CesConfig>(|s| s.sub_event_type = Some(SubEventMode::Reject));
    });
    let resp = post_json(&reject, json!([with_sub.clone()]));
    assert_eq!(resp.status(), 400);
    assert!(json_of(&resp)["message"]["details"]
        .as_str()
        .unwrap()
        .contains("not available in this region"));
    let ignore = mock(|c| {
        c.edit::<CesConfig>(|s| s.sub_event_type = Some(SubEventMode::Ignore));
    });
    assert_eq!(post_json(&ignore, json!([with_sub.clone()])).status(), 201);
    assert!(stored(&ignore)[0]["detail"].get("sub_event_type").is_none());
    let accept = mock(|_| {});
    assert_eq!(post_json(&accept, json!([with_sub])).status(), 201);
    assert_eq!(
        stored(&accept)[0]["detail"]["sub_event_type"],
        "SUB_EVENT.OPS"
    );
}

#[test]
fn hostile_bodies_never_panic_always_get_a_ces_error_and_store_exactly_what_was_answered() {
    let mock = mock(|_| {});
    let mut rng = StdRng::seed_from_u64(11);
    let good = serde_json::to_vec(&json!([event(NOW), event(NOW + 1)])).unwrap();
    let mut answered_ids = std::collections::BTreeSet::new();
    for i in 0..2000 {
        let mut body = good.clone();
        match rng.gen_range(0..6) {
            0 => {
                let at = rng.gen_range(0..body.len());
                body[at] = rng.gen();
            }
            1 => body.truncate(rng.gen_range(0..body.len())),
            2 => body = (0..rng.gen_range(0..200)).map(|_| rng.gen()).collect(),
            3 => body = vec![b'['; rng.gen_range(1..50_000)],
            4 => {
                let text = String::from_utf8_lossy(&body)
                    .replace(&NOW.to_string(), &rng.gen::<i64>().to_string());
                body = text.into_bytes();
            }
            _ => {}
        }
        let resp = post(&mock, &body);
        let status = resp.status().as_u16();
        assert!(matches!(status, 201 | 400), "body {i}: status {status}");
        assert!(resp.headers().contains_key("x-request-id"), "body {i}");
        let answer = json_of(&resp);
        if status == 201 {
            for e in answer.as_array().unwrap() {
                answered_ids.insert(e["event_id"].as_str().unwrap().to_owned());
            }
        } else {
            assert_eq!(
                violations("error-v1.json", &answer),
                Vec::<String>::new(),
                "body {i}: {answer}"
            );
        }
    }
    let stored_ids: std::collections::BTreeSet<String> = stored(&mock)
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!stored_ids.is_empty());
    assert_eq!(
        stored_ids, answered_ids,
        "the store holds exactly the events that were answered"
    );
    assert_eq!(
        mock.panics_caught(),
        0,
        "a request reached the panic backstop"
    );
}
