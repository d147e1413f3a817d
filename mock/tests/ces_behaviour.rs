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

// ---------------------------------------------------------------------------------------------
// Hardening and fidelity (issue findings 3, 11, 12, 15, 16, 17). Settings that are new are set
// through the settings' JSON, so these tests also build against older commits (and fail there).

/// Merge `settings` (a JSON object) into the Cloud Eye settings of `config`.
fn set_ces(config: &mut MockConfig, settings: Value) {
    let mut current = serde_json::to_value(config.api::<CesConfig>().expect("settings")).unwrap();
    for (key, value) in settings.as_object().expect("an object") {
        current[key] = value.clone();
    }
    config.per_api.insert("cloud-eye-events".into(), current);
}

fn request(method: &str, headers: &[(&str, &str)], body: &[u8]) -> http::Request<Bytes> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("/V1.0/{CES_PROJECT}/events"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Bytes::copy_from_slice(body)).unwrap()
}

/// The event body `[event(time)]` with `time` written exactly as `literal`.
fn body_with_time(literal: &str) -> Vec<u8> {
    let marker = 4_242_424_242_i64;
    serde_json::to_string(&json!([event(marker)]))
        .unwrap()
        .replace(&marker.to_string(), literal)
        .into_bytes()
}

fn details(resp: &Response) -> String {
    let body = json_of(resp);
    body.pointer("/message/details")
        .or_else(|| body.get("error_msg"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn error_code(resp: &Response) -> String {
    let body = json_of(resp);
    body.pointer("/message/code")
        .or_else(|| body.get("error_code"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A request signed like Huawei's SDK signs it (`now` is the signer's clock).
fn signed(body: &[u8], now: chrono::DateTime<chrono::Utc>) -> http::Request<Bytes> {
    use event_mock::auth::aksk::{sign, Profile};
    let spec = event_mock::apis::spec("cloud-eye-events").unwrap();
    let profile = spec.auth_scheme("ak-sk").and_then(Profile::of).unwrap();
    let key = CesConfig::default().access_keys[0].clone();
    let path = format!("/V1.0/{CES_PROJECT}/events");
    let mut headers = http::HeaderMap::new();
    headers.insert("host", http::HeaderValue::from_static("127.0.0.1:8080"));
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert("x-project-id", http::HeaderValue::from_static(CES_PROJECT));
    sign(
        &profile,
        "POST",
        &path,
        None,
        &mut headers,
        body,
        &key.ak,
        &key.sk,
        now,
    );
    let mut req = http::Request::builder()
        .method("POST")
        .uri(path)
        .body(Bytes::copy_from_slice(body))
        .unwrap();
    *req.headers_mut() = headers;
    req
}

/// Finding 3: a `time` that is not an integer within the Long range is refused (ces.0014, the
/// message naming the rule), never stored.
#[test]
fn time_must_be_an_integer_within_the_long_range() {
    let mock = mock(|_| {});
    let cases = [
        "1.0e12".to_owned(),
        "1e300".to_owned(),
        "18446744073709551615".to_owned(),
        "-1e20".to_owned(),
        "1180591620717411303424".to_owned(),
        "-9223372036854775809".to_owned(),
        format!("{NOW}.0"),
        format!("{NOW}e0"),
    ];
    for literal in &cases {
        let resp = post(&mock, &body_with_time(literal));
        assert_eq!(resp.status(), 400, "time {literal}: {:?}", resp.body());
        assert_eq!(error_code(&resp), "ces.0014", "time {literal}");
        let text = details(&resp);
        assert!(
            text.contains("time must be a Long") && !text.contains("is outside"),
            "time {literal}: {text}"
        );
    }
    assert_eq!(stored(&mock).len(), 0, "nothing refused is stored");
    // The edges of the Long range are integers; the window refuses them with its own message.
    for literal in ["9223372036854775807", "-9223372036854775808"] {
        let resp = post(&mock, &body_with_time(literal));
        assert_eq!(resp.status(), 400, "time {literal}");
        assert!(details(&resp).contains("is outside"), "{}", details(&resp));
    }
    assert_eq!(post(&mock, &body_with_time(&NOW.to_string())).status(), 201);
}

/// Finding 12: `1800000000000.0` is not a second event next to `1800000000000`.
#[test]
fn a_time_written_with_a_fraction_is_not_a_second_event() {
    let mock = mock(|_| {});
    assert_eq!(post(&mock, &body_with_time(&NOW.to_string())).status(), 201);
    let again = post(&mock, &body_with_time(&format!("{NOW}.0")));
    assert_ne!(again.status(), 201, "{:?}", again.body());
    assert_eq!(stored(&mock).len(), 1, "{:?}", stored(&mock));
}

/// Finding 15: a 405 says which method is allowed.
#[test]
fn a_405_carries_an_allow_header() {
    let mock = mock(|_| {});
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let resp = mock.handle(request(method, &[("x-auth-token", TOKEN)], b""));
        assert_eq!(resp.status(), 405, "{method}");
        assert_eq!(
            resp.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some("POST"),
            "{method}"
        );
    }
}

/// Finding 15: X-Auth-Token is 1 to 16,384 characters (seed 003), whatever tokens are configured.
#[test]
fn the_token_length_limit_holds_on_both_sides() {
    let body = serde_json::to_vec(&json!([event(NOW)])).unwrap();
    let tokens: Vec<String> = [1, 16_384, 16_385].iter().map(|n| "t".repeat(*n)).collect();
    let mock = mock(|c| {
        let list: Vec<Value> = tokens
            .iter()
            .map(|t| json!({"token": t, "project_id": CES_PROJECT, "permissions": ["ces:events:post"]}))
            .collect();
        set_ces(c, json!({ "tokens": list }));
    });
    let send = |token: &str| {
        mock.handle(request(
            "POST",
            &[
                ("x-auth-token", token),
                ("content-type", "application/json"),
            ],
            &body,
        ))
    };
    assert_eq!(send(&tokens[0]).status(), 201, "1 character");
    assert_eq!(send(&tokens[1]).status(), 201, "16384 characters");
    for (label, token) in [("16385 characters", tokens[2].as_str()), ("empty", "")] {
        let resp = send(token);
        assert_eq!(resp.status(), 401, "{label}");
        assert_eq!(error_code(&resp), "APIGW.0301", "{label}");
        assert!(
            details(&resp).contains("16384"),
            "{label}: {}",
            details(&resp)
        );
    }
}

/// Finding 15: Content-Type is 1 to 64 characters (seed 003).
#[test]
fn the_content_type_length_limit_holds_on_both_sides() {
    let mock = mock(|_| {});
    let base = "application/json; charset=UTF-8; x=";
    let of_length = |n: usize| format!("{base}{}", "a".repeat(n - base.len()));
    for (content_type, status) in [
        (of_length(64), 201),
        (of_length(65), 400),
        (String::new(), 400),
        ("a".to_owned(), 201),
    ] {
        let body = serde_json::to_vec(&json!([event(NOW + content_type.len() as i64)])).unwrap();
        let resp = mock.handle(request(
            "POST",
            &[("x-auth-token", TOKEN), ("content-type", &content_type)],
            &body,
        ));
        assert_eq!(resp.status(), status, "{} characters", content_type.len());
        if status == 400 {
            assert!(
                details(&resp).contains("Content-Type"),
                "{}",
                details(&resp)
            );
        }
    }
}

/// Finding 15: project_id is 1 to 64 characters (seed 003), even for a project a key claims.
#[test]
fn the_project_id_length_limit_holds_on_both_sides() {
    let p64 = "p".repeat(64);
    let p65 = "p".repeat(65);
    let mock = mock(|c| {
        set_ces(
            c,
            json!({"tokens": [
                {"token": "T64", "project_id": p64, "permissions": ["ces:events:post"]},
                {"token": "T65", "project_id": p65, "permissions": ["ces:events:post"]}
            ]}),
        );
    });
    let body = serde_json::to_vec(&json!([event(NOW)])).unwrap();
    let send = |token: &str, project: &str| {
        mock.handle(
            http::Request::builder()
                .method("POST")
                .uri(format!("/V1.0/{project}/events"))
                .header("x-auth-token", token)
                .body(Bytes::copy_from_slice(&body))
                .unwrap(),
        )
    };
    assert_eq!(send("T64", &p64).status(), 201);
    let resp = send("T65", &p65);
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(&resp), "ces.0003");
}

/// Finding 16: a null or wrong-type value is described by the type rule it breaks, not by the
/// field's format rule.
#[test]
fn wrong_types_get_the_message_of_the_type_rule() {
    let mock = mock(|_| {});
    let body = json!([{
        "event_name": null, "event_source": 5, "time": NOW,
        "detail": {"content": 5, "group_id": null, "resource_id": [], "resource_name": {},
                   "event_user": false, "dimensions": [{"name": null, "value": 7}]}
    }]);
    let resp = post_json(&mock, body);
    assert_eq!(resp.status(), 400);
    let text = details(&resp);
    for expected in [
        "event_name must be a string",
        "event_source must be a string",
        "detail.content must be a string",
        "detail.group_id must be a string",
        "detail.resource_id must be a string",
        "detail.resource_name must be a string",
        "detail.event_user must be a string",
        "dimension name must be a string",
        "dimension value must be a string",
    ] {
        assert!(text.contains(expected), "missing '{expected}' in: {text}");
    }
    for wrong in [
        "must start with a letter",
        "at most",
        "24 characters",
        "1 to 256",
    ] {
        assert!(
            !text.contains(wrong),
            "'{wrong}' names another rule: {text}"
        );
    }
}

/// Finding 17: the mock clock frozen far from now (here in 2025) does not refuse a request the
/// SDK signs with real time; checked against the mock clock (`signature_clock: Mock`) it is.
#[test]
fn a_frozen_mock_clock_leaves_real_time_signatures_alone() {
    use event_mock::config::SignatureClock;
    let frozen = 1_740_787_200_000_i64; // 2025-03-01T00:00:00Z
    let make = |clock: SignatureClock| {
        let mut config = MockConfig::deterministic();
        config.frozen_clock = chrono::DateTime::from_timestamp_millis(frozen);
        config.signature_clock = clock;
        Mock::new(config).expect("mock")
    };
    let body = serde_json::to_vec(&json!([event(frozen)])).unwrap();
    let real = make(SignatureClock::Real);
    let resp = real.handle(signed(&body, chrono::Utc::now()));
    assert_eq!(resp.status(), 201, "{:?}", resp.body());
    assert_eq!(stored(&real).len(), 1);

    let on_mock_time = make(SignatureClock::Mock);
    let resp = on_mock_time.handle(signed(&body, chrono::Utc::now()));
    assert_eq!(resp.status(), 401, "{:?}", resp.body());
    assert_eq!(error_code(&resp), "APIGW.0301");
    assert!(
        details(&resp).contains("x-sdk-date differs from server time by more than 15min"),
        "{}",
        details(&resp)
    );
    // Signed on the mock's own (frozen) time, it is accepted there.
    let at_mock_time = chrono::DateTime::from_timestamp_millis(frozen).unwrap();
    assert_eq!(
        on_mock_time.handle(signed(&body, at_mock_time)).status(),
        201
    );
}

/// The control plane adds tokens (to probe the token and project limits from scenarios): they
/// work like configured ones, are bounded in number and length, and a reset forgets them.
#[test]
fn tokens_added_on_the_control_plane_are_bounded_and_forgotten_on_reset() {
    let mock = mock(|_| {});
    let admin = |method: &str, path: &str, body: Value| {
        mock.handle(
            http::Request::builder()
                .method(method)
                .uri(format!("/__admin{path}"))
                .body(Bytes::from(serde_json::to_vec(&body).unwrap()))
                .unwrap(),
        )
    };
    let added = admin(
        "POST",
        "/cloud-eye-events/tokens",
        json!({"project_id": CES_PROJECT, "length": 40}),
    );
    assert_eq!(added.status(), 201);
    let token = json_of(&added)["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 40);
    assert!(token.starts_with("MIIX"), "{token}");
    let body = serde_json::to_vec(&json!([event(NOW)])).unwrap();
    let send = |token: &str| {
        mock.handle(
            http::Request::builder()
                .method("POST")
                .uri(format!("/V1.0/{CES_PROJECT}/events"))
                .header("x-auth-token", token)
                .body(Bytes::copy_from_slice(&body))
                .unwrap(),
        )
    };
    assert_eq!(send(&token).status(), 201);
    for bad in [
        json!({"project_id": CES_PROJECT}),
        json!({"project_id": CES_PROJECT, "length": 0}),
        json!({"project_id": CES_PROJECT, "length": 65_537}),
        json!({"project_id": CES_PROJECT, "length": 4, "token": "abcd"}),
        json!({"length": 4}),
        json!({"project_id": CES_PROJECT, "length": 4, "extra": true}),
    ] {
        let resp = admin("POST", "/cloud-eye-events/tokens", bad.clone());
        assert_eq!(resp.status(), 400, "{bad}");
    }
    let mut added_count = 1;
    while admin(
        "POST",
        "/cloud-eye-events/tokens",
        json!({"project_id": CES_PROJECT, "token": format!("T{added_count}")}),
    )
    .status()
        == 201
    {
        added_count += 1;
        assert!(added_count <= 1000, "the number of added tokens is bounded");
    }
    assert_eq!(added_count, 100);
    assert_eq!(admin("POST", "/reset", json!({})).status(), 200);
    assert_eq!(send(&token).status(), 401, "a reset forgets added tokens");
    assert_eq!(send(TOKEN).status(), 201, "and keeps the configured ones");
}

/// Finding 11: replay refusal is a mock option, off by default.
#[test]
fn a_replayed_signature_is_refused_only_when_the_option_is_on() {
    let body = serde_json::to_vec(&json!([event(NOW)])).unwrap();
    let now = chrono::Utc::now();
    let default = mock(|_| {});
    assert_eq!(default.handle(signed(&body, now)).status(), 201);
    assert_eq!(
        default.handle(signed(&body, now)).status(),
        201,
        "by default the gateway's (undocumented) replay check is not imitated"
    );

    let strict = mock(|c| set_ces(c, json!({"refuse_replays": true})));
    assert_eq!(strict.handle(signed(&body, now)).status(), 201);
    let replay = strict.handle(signed(&body, now));
    assert_eq!(replay.status(), 401, "{:?}", replay.body());
    assert_eq!(error_code(&replay), "APIGW.0301");
    assert!(details(&replay).contains("replay"), "{}", details(&replay));
    // A fresh signature of the same body is another request (the event is a duplicate).
    let later = strict.handle(signed(&body, now + chrono::Duration::seconds(1)));
    assert_eq!(later.status(), 201, "{:?}", later.body());
    assert_eq!(stored(&strict).len(), 1);
}

#[test]
fn the_replay_option_has_a_flag() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: event_mock::server::ServeArgs,
    }
    let cli = Cli::try_parse_from(["event-mock", "--ces-refuse-replays"]).expect("flags");
    let config = cli.serve.config().expect("config");
    assert_eq!(
        config.per_api["cloud-eye-events"]["refuse_replays"],
        json!(true)
    );
    let off = Cli::try_parse_from(["event-mock"]).expect("flags");
    let settings =
        serde_json::to_value(off.serve.config().unwrap().api::<CesConfig>().unwrap()).unwrap();
    assert_ne!(settings["refuse_replays"], json!(true), "off by default");
}
