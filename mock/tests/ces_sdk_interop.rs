//! Huawei's official Python SDK (`huaweicloudsdkces`, pinned in interop/requirements.txt) reports
//! events to the mock unchanged: AK/SK signing, the 201 answer, and for a refused event an
//! exception carrying the status and the error code.
//!
//! `.ci/run` creates a virtualenv with the SDK and sets `CES_SDK_PYTHON`; without it this test
//! says so and does nothing.

use event_mock::apis::ces::config::CesConfig;
use event_mock::{MockConfig, MockServer};
use serde_json::Value;

/// Run the SDK script against a fresh mock with `config`; its JSON results and the events stored.
async fn run_sdk(python: std::ffi::OsString, config: MockConfig) -> (Value, Value) {
    run_sdk_at(python, config, None).await
}

/// [`run_sdk`], the events dated `event_time_ms` (the SDK still signs with real time).
async fn run_sdk_at(
    python: std::ffi::OsString,
    config: MockConfig,
    event_time_ms: Option<i64>,
) -> (Value, Value) {
    let server = MockServer::start_with(config.clone()).await.expect("mock");
    let key = config.api::<CesConfig>().expect("settings").access_keys[0].clone();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../interop/ces_sdk/report_events.py"
    );
    let endpoint = server.url();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .arg(endpoint)
            .arg(&key.ak)
            .arg(&key.sk)
            .arg(&key.project_ids[0])
            .args(event_time_ms.map(|ms| ms.to_string()))
            .env("NO_PROXY", "127.0.0.1,localhost")
            .output()
    })
    .await
    .expect("join")
    .expect("the interop script could not be started");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the SDK script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let stored = server.mock().handle(
        http::Request::builder()
            .uri("/__admin/cloud-eye-events/events")
            .body(bytes::Bytes::new())
            .unwrap(),
    );
    (results, serde_json::from_slice(stored.body()).unwrap())
}

fn python() -> Option<std::ffi::OsString> {
    let found = std::env::var_os("CES_SDK_PYTHON");
    if found.is_none() {
        eprintln!(
            "SKIPPED: CES_SDK_PYTHON is not set. `bash .ci/run` sets it to a virtualenv with \
             huaweicloudsdkces (interop/requirements.txt); it skips only where Python is absent."
        );
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_reports_events_to_the_mock() {
    let Some(python) = python() else { return };
    // The SDK stamps events and signatures with the wall clock, so the mock runs on it too.
    let (results, stored) = run_sdk(python, MockConfig::default()).await;

    let accepted = &results["accepted"];
    assert_eq!(accepted["outcome"], "response", "{results:#}");
    assert_eq!(accepted["status"], 201);
    let events = accepted["events"].as_array().expect("events");
    let names: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event_name"].as_str())
        .collect();
    assert_eq!(names, ["systemInvaded", "systemParalysis"]);
    let id_shape = regex::Regex::new("^ev[0-9]{13}[A-Za-z0-9]{9}$").unwrap();
    for event in events {
        assert!(
            id_shape.is_match(event["event_id"].as_str().unwrap_or_default()),
            "{event}"
        );
    }
    let duplicate = &results["duplicate"];
    assert_eq!(duplicate["status"], 201);
    assert_eq!(
        duplicate["events"][0]["event_id"], events[0]["event_id"],
        "a duplicate gets the original id"
    );
    assert_eq!(
        stored.as_array().map(Vec::len),
        Some(2),
        "two distinct events stored: {stored}"
    );

    // The default v1 envelope nests the code under "message", which the SDK's handler does not
    // read: it falls back to the status as error_code and keeps the body (with ces.0014) as
    // error_msg. That is what a real v1 endpoint gives SDK users too.
    for case in ["event_sys", "too_old"] {
        let refused = &results[case];
        assert_eq!(refused["outcome"], "client_error", "{case}: {refused}");
        assert_eq!(refused["status"], 400, "{case}");
        assert_eq!(refused["error_code"], "400", "{case}");
        assert!(
            refused["error_msg"]
                .as_str()
                .is_some_and(|m| m.contains("ces.0014")),
            "{case}: {refused}"
        );
        assert!(
            refused["request_id"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{case}: the SDK exposes X-Request-Id"
        );
    }
    // Gateway errors have their own flat shape, which the SDK reads directly.
    let bad_signature = &results["bad_signature"];
    assert_eq!(bad_signature["status"], 401);
    assert_eq!(bad_signature["error_code"], "APIGW.0301");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_surfaces_the_error_code_as_each_envelope_allows() {
    let Some(python) = python() else { return };
    for (envelope, expected_code, expected_msg) in [
        (
            "v2",
            Value::from("ces.0014"),
            "Some content in message body is not correct.",
        ),
        (
            "legacy",
            Value::from(400),
            "The system received a request which cannot be recognized",
        ),
    ] {
        let mut config = MockConfig::default();
        config.edit::<CesConfig>(|s| s.error_envelope = Some(envelope.into()));
        let (results, _) = run_sdk(python.clone(), config).await;
        let refused = &results["event_sys"];
        assert_eq!(refused["status"], 400, "{envelope}: {refused}");
        assert_eq!(
            refused["error_code"], expected_code,
            "{envelope}: {refused}"
        );
        assert!(
            refused["error_msg"]
                .as_str()
                .is_some_and(|m| m.starts_with(expected_msg)),
            "{envelope}: {refused}"
        );
        assert_eq!(results["accepted"]["status"], 201, "{envelope}");
    }
}

/// The mock clock frozen far from now (2025) while the SDK signs with real time: the signature is
/// checked against real time (the default `signature_clock`), the events against the mock clock.
/// Checked against the frozen clock instead, the SDK's signature is refused for its date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_reports_to_a_mock_whose_clock_is_frozen_far_from_now() {
    let Some(python) = python() else { return };
    let frozen_ms = 1_740_787_200_000_i64; // 2025-03-01T00:00:00Z
    let mut config = MockConfig {
        frozen_clock: chrono::DateTime::from_timestamp_millis(frozen_ms),
        ..MockConfig::default()
    };
    let (results, stored) = run_sdk_at(python.clone(), config.clone(), Some(frozen_ms)).await;
    let accepted = &results["accepted"];
    assert_eq!(accepted["status"], 201, "{results:#}");
    let first_id = accepted["events"][0]["event_id"]
        .as_str()
        .unwrap_or_default();
    assert!(
        first_id.starts_with(&format!("ev{frozen_ms}")),
        "the id carries the mock's time of receipt: {first_id}"
    );
    assert_eq!(stored.as_array().map(Vec::len), Some(2), "{stored}");
    assert_eq!(
        results["too_old"]["status"], 400,
        "the window follows the mock clock"
    );
    assert_eq!(results["bad_signature"]["error_code"], "APIGW.0301");

    config.signature_clock = event_mock::config::SignatureClock::Mock;
    let (results, stored) = run_sdk_at(python, config, Some(frozen_ms)).await;
    let refused = &results["accepted"];
    assert_eq!(refused["status"], 401, "{results:#}");
    assert_eq!(refused["error_code"], "APIGW.0301");
    assert!(
        refused["error_msg"]
            .as_str()
            .is_some_and(|m| m.contains("x-sdk-date differs from server time by more than 15min")),
        "{refused}"
    );
    assert_eq!(stored.as_array().map(Vec::len), Some(0), "{stored}");
}

/// Replay refusal (off by default) leaves the SDK's own traffic alone: every request it sends is
/// signed afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_is_not_refused_when_replays_are_refused() {
    let Some(python) = python() else { return };
    let mut config = MockConfig::default();
    config.edit::<CesConfig>(|s| s.refuse_replays = Some(true));
    let (results, stored) = run_sdk(python, config).await;
    assert_eq!(results["accepted"]["status"], 201, "{results:#}");
    assert_eq!(results["duplicate"]["status"], 201, "{results:#}");
    assert_eq!(results["event_sys"]["status"], 400, "{results:#}");
    assert_eq!(stored.as_array().map(Vec::len), Some(2), "{stored}");
}
