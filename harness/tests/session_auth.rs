//! Session auth schemes, against wiremock fakes: the harness logs in through the operation the
//! spec names (HTTP Basic, or a JSON body at a versioned path), reads the token where the spec
//! says (a header, or a pointer into the body), carries it as the spec says (Bearer or a
//! header), and logs in once per scenario. The fakes answer 401 to anything else, and wiremock
//! verifies the login count when each server drops.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use event_harness::report::ScenarioOutcome;
use event_harness::runner::run_scenario;
use event_harness::scenario::build_suite;
use event_harness::target::{http_client, Target};
use event_harness::Accounts;
use event_mock::api::{Account, Credential};
use event_mock::spec::{self, SpecFiles};

fn suite(api: &str, steps: usize) -> event_harness::Suite {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/specs");
    let spec = spec::load_from(SpecFiles::Dir(dir), api, &[]).unwrap_or_else(|e| panic!("{e}"));
    let path = if api == "session-body" {
        "/sdk/vim25/8.0.3.0/things/{{i}}"
    } else {
        "/api/things/{{i}}"
    };
    let scenario = json!({
        "name": "three-calls-one-login",
        "description": "Three calls with the default credentials share one session.",
        "requirements": ["SES-001"],
        "steps": [{
            "name": "call",
            "repeat": steps,
            "request": {"method": "GET", "path": path},
            "expect": {"status": 200, "assert": [{"pointer": "/ok", "equals": true}]}
        }]
    });
    build_suite(
        Arc::new(spec),
        vec![(format!("{api}/scenarios/s.json"), scenario.to_string())],
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn target(url: &str) -> Target {
    let account = Account::new(
        Credential::Password {
            user: "administrator@System".into(),
            password: "pw".into(),
        },
        true,
    );
    Target {
        api_url: url.to_owned(),
        admin_url: None,
        accounts: Accounts::new(vec![account]),
        vars: Default::default(),
        run_tag: "r0001".into(),
    }
}

async fn unauthorised_otherwise(server: &MockServer) {
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "no session"})))
        .with_priority(u8::MAX)
        .mount(server)
        .await;
}

async fn run(api: &str, server: &MockServer, scenarios: usize) {
    let suite = suite(api, 3);
    for _ in 0..scenarios {
        let result = run_scenario(
            &http_client(),
            &suite,
            &suite.scenarios[0],
            &target(&server.uri()),
        )
        .await;
        assert!(
            matches!(result.outcome, ScenarioOutcome::Passed),
            "{api}: {:?}",
            result.outcome
        );
        assert_eq!(
            result.transcript[0]["request"]["auth"],
            json!({"session": "default"})
        );
    }
}

#[tokio::test]
async fn basic_login_header_token_sent_as_bearer_once_per_scenario() {
    let server = MockServer::start().await;
    // base64("administrator@System:pw")
    Mock::given(method("POST"))
        .and(path("/cloudapi/1.0.0/sessions"))
        .and(header(
            "authorization",
            "Basic YWRtaW5pc3RyYXRvckBTeXN0ZW06cHc=",
        ))
        .and(header("accept", "application/json;version=39.0"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-VMWARE-VCLOUD-ACCESS-TOKEN", "jwt-123")
                .set_body_json(json!({})),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer jwt-123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .expect(6)
        .mount(&server)
        .await;
    unauthorised_otherwise(&server).await;
    run("session-bearer", &server, 2).await;
}

#[tokio::test]
async fn body_login_at_the_release_path_token_from_the_body_sent_in_a_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/sdk/vim25/8.0.3.0/SessionManager/SessionManager/Login",
        ))
        .and(body_json(
            json!({"userName": "administrator@System", "password": "pw"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"key": "sess-9"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("vmware-api-session-id", "sess-9"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .expect(3)
        .mount(&server)
        .await;
    unauthorised_otherwise(&server).await;
    run("session-body", &server, 1).await;
}

#[tokio::test]
async fn a_failed_login_fails_the_step_and_says_why() {
    let server = MockServer::start().await;
    unauthorised_otherwise(&server).await;
    let suite = suite("session-bearer", 1);
    let result = run_scenario(
        &http_client(),
        &suite,
        &suite.scenarios[0],
        &target(&server.uri()),
    )
    .await;
    match result.outcome {
        ScenarioOutcome::Failed(reasons) => assert!(
            reasons
                .iter()
                .any(|r| r.contains("login as 'administrator@System' failed with status 401")),
            "{reasons:?}"
        ),
        other => panic!("a failed login went unnoticed: {other:?}"),
    }
}
