//! Cloud Director through the sans-IO core: what the scenarios cannot show from outside (routing
//! beside vSphere on the same base path, the session cap, either token on either carrier, the
//! configuration and flags, seeding through the control plane) and robustness against hostile
//! bodies with the store checked after each.

use base64::Engine as _;
use bytes::Bytes;
use clap::Parser;
use event_mock::apis::vcloud::config::{User, VcloudConfig};
use event_mock::{Mock, MockConfig, Response};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};

const XML: &str = "application/*+xml;version=37.2";
const ACME: &str = "7b832bc5-3d65-45a2-8d35-da28388ab80a";
const EVENT_XML: &str = "application/vnd.vmware.admin.event+xml";

fn mock(edit: impl FnOnce(&mut VcloudConfig)) -> Mock {
    let mut config = MockConfig::deterministic();
    config.edit::<VcloudConfig>(edit);
    Mock::new(config).expect("mock")
}

fn request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> http::Request<Bytes> {
    let mut req = http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.body(Bytes::copy_from_slice(body)).unwrap()
}

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

fn login(mock: &Mock, user: &str, password: &str) -> Response {
    mock.handle(request(
        "POST",
        "/api/sessions",
        &[("accept", XML), ("authorization", &basic(user, password))],
        b"",
    ))
}

fn token(mock: &Mock) -> String {
    let resp = login(mock, "orgadmin@acme", "Mock-OrgAdmin-Pass1!");
    assert_eq!(resp.status(), 200, "{:?}", resp.body());
    resp.headers()["x-vcloud-authorization"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn post(mock: &Mock, token: &str, content_type: &str, body: &[u8]) -> Response {
    mock.handle(request(
        "POST",
        &format!("/api/admin/org/{ACME}/events"),
        &[
            ("accept", XML),
            ("content-type", content_type),
            ("x-vcloud-authorization", token),
        ],
        body,
    ))
}

fn stored(mock: &Mock) -> Vec<Value> {
    let resp = mock.handle(request("GET", "/__admin/vcloud-events/events", &[], b""));
    serde_json::from_slice(resp.body()).expect("events")
}

fn event_xml(event_type: &str) -> String {
    format!(
        r#"<Event xmlns="http://www.vmware.com/vcloud/v1.5" type="{event_type}" serviceNamespace="tests" success="true"/>"#
    )
}

#[test]
fn beside_vsphere_each_api_answers_its_own_paths() {
    // Both APIs sit on the empty base path and both have /api/... operations.
    let mock = Mock::new(MockConfig::deterministic()).expect("mock");
    let versions = mock.handle(request("GET", "/api/versions", &[], b""));
    assert_eq!(versions.status(), 200);
    assert!(String::from_utf8_lossy(versions.body()).contains("SupportedVersions"));
    let hello = mock.handle(request(
        "POST",
        "/api/vcenter/system?action=hello",
        &[("content-type", "application/json")],
        b"{}",
    ));
    assert_ne!(hello.status(), 404, "{:?}", hello.body());
    assert!(!String::from_utf8_lossy(hello.body()).contains("majorErrorCode"));
    // A near miss under /api/admin is Cloud Director's 404, in its envelope.
    let miss = mock.handle(request(
        "GET",
        "/api/admin/nothing",
        &[("accept", XML)],
        b"",
    ));
    assert_eq!(miss.status(), 404);
    assert!(String::from_utf8_lossy(miss.body()).contains("RESOURCE_NOT_FOUND"));
}

#[test]
fn either_token_works_on_either_carrier() {
    let mock = mock(|_| {});
    let legacy = token(&mock);
    let as_bearer = mock.handle(request(
        "GET",
        "/api/session",
        &[
            ("accept", XML),
            ("authorization", &format!("Bearer {legacy}")),
        ],
        b"",
    ));
    assert_eq!(as_bearer.status(), 200);
    let cloud = mock.handle(request(
        "POST",
        "/cloudapi/1.0.0/sessions",
        &[
            ("accept", "application/json;version=37.2"),
            (
                "authorization",
                &basic("orgadmin@acme", "Mock-OrgAdmin-Pass1!"),
            ),
        ],
        b"",
    ));
    assert_eq!(cloud.status(), 200);
    let jwt = cloud.headers()["x-vmware-vcloud-access-token"]
        .to_str()
        .unwrap();
    let as_legacy = mock.handle(request(
        "GET",
        "/api/session",
        &[("accept", XML), ("x-vcloud-authorization", jwt)],
        b"",
    ));
    assert_eq!(as_legacy.status(), 200);
}

#[test]
fn the_session_cap_drops_the_session_used_longest_ago() {
    let mock = mock(|_| {});
    let first = token(&mock);
    let second = token(&mock);
    // Keep the second in use; the spec's cap is 1024 sessions.
    for _ in 0..1023 {
        let resp = mock.handle(request(
            "GET",
            "/api/session",
            &[("accept", XML), ("x-vcloud-authorization", &second)],
            b"",
        ));
        assert_eq!(resp.status(), 200);
        token(&mock);
    }
    let status = |t: &str| {
        mock.handle(request(
            "GET",
            "/api/session",
            &[("accept", XML), ("x-vcloud-authorization", t)],
            b"",
        ))
        .status()
    };
    assert_eq!(status(&first), 401, "the oldest unused session is gone");
    assert_eq!(status(&second), 200, "the busy session stays");
}

#[test]
fn the_configuration_is_checked_when_the_mock_is_built() {
    let mut config = MockConfig::deterministic();
    config.edit::<VcloudConfig>(|c| c.versions = vec!["99.0".into()]);
    assert!(
        Mock::new(config).is_err(),
        "a version the spec does not know"
    );
    let mut config = MockConfig::deterministic();
    config.edit::<VcloudConfig>(|c| {
        c.users.push(User {
            name: "x".into(),
            org: "nowhere".into(),
            password: "p".into(),
            role: "vApp User".into(),
            id: "00000000-0000-4000-8000-000000000009".into(),
        })
    });
    assert!(Mock::new(config).is_err(), "a user of an unknown org");
    let mut config = MockConfig::deterministic();
    config.edit::<VcloudConfig>(|c| c.users[0].role = "Superuser".into());
    assert!(Mock::new(config).is_err(), "a role the spec does not name");
}

#[test]
fn configured_versions_are_the_ones_served() {
    let mock = mock(|c| c.versions = vec!["36.0".into(), "37.2".into()]);
    let resp = login(&mock, "orgadmin@acme", "Mock-OrgAdmin-Pass1!");
    assert_eq!(resp.status(), 200);
    let old = mock.handle(request(
        "POST",
        "/api/sessions",
        &[
            ("accept", "application/*+xml;version=35.0"),
            (
                "authorization",
                &basic("orgadmin@acme", "Mock-OrgAdmin-Pass1!"),
            ),
        ],
        b"",
    ));
    assert_eq!(old.status(), 406);
    let text = String::from_utf8_lossy(old.body()).to_string();
    assert!(
        text.contains("Supported API versions are: [37.2, 36.0]"),
        "{text}"
    );
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: event_mock::server::ServeArgs,
}

#[test]
fn flags_set_orgs_users_and_versions() {
    let cli = Cli::parse_from([
        "event-mock",
        "--vcloud-org",
        "System:a93c9db9-7471-3192-8d09-a8f7eeda85f9",
        "--vcloud-org",
        "initech:11111111-2222-4333-8444-555555555555",
        "--vcloud-user",
        "peter@initech:Pw-1!:Organization Administrator",
        "--vcloud-version",
        "37.2",
    ]);
    let config = cli.serve.config().expect("config");
    let settings: VcloudConfig = config.api().unwrap();
    assert_eq!(settings.orgs.len(), 2);
    assert_eq!(settings.users[0].org, "initech");
    assert_eq!(settings.users[0].role, "Organization Administrator");
    let mock = Mock::new(config).expect("mock");
    assert_eq!(login(&mock, "peter@initech", "Pw-1!").status(), 200);
    assert_eq!(
        login(&mock, "orgadmin@acme", "Mock-OrgAdmin-Pass1!").status(),
        401
    );
    let bad = Cli::try_parse_from(["event-mock", "--vcloud-org", "initech:not-a-uuid"])
        .map(|c| c.serve.config());
    assert!(
        matches!(bad, Ok(Err(_))),
        "an org id that is not a UUID is refused"
    );
}

#[test]
fn events_can_be_seeded_through_the_control_plane() {
    let mock = mock(|_| {});
    let seeded = mock.handle(request(
        "POST",
        "/__admin/vcloud-events/events",
        &[("content-type", "application/json")],
        json!([{"org": "acme", "type": "Seeded", "serviceNamespace": "seed", "time": "2020-01-02T03:04:05Z"},
               {"org": "globex", "type": "Seeded", "serviceNamespace": "seed"}])
        .to_string()
        .as_bytes(),
    ));
    assert_eq!(seeded.status(), 200, "{:?}", seeded.body());
    let bad = mock.handle(request(
        "POST",
        "/__admin/vcloud-events/events",
        &[("content-type", "application/json")],
        json!([{"org": "acme", "type": "", "serviceNamespace": "seed"}])
            .to_string()
            .as_bytes(),
    ));
    assert_eq!(bad.status(), 400);
    assert_eq!(stored(&mock).len(), 2, "a refused seed stores nothing");
    // The org admin of acme sees its one event, with the seeded time.
    let token = token(&mock);
    let page = mock.handle(request(
        "GET",
        "/api/query?type=event",
        &[
            ("accept", "application/*+json;version=37.2"),
            ("x-vcloud-authorization", &token),
        ],
        b"",
    ));
    let page: Value = serde_json::from_slice(page.body()).unwrap();
    assert_eq!(page["total"], 1);
    assert_eq!(
        page["record"][0]["timeStamp"],
        "2020-01-02T03:04:05.000+00:00"
    );
}

#[test]
fn hostile_bodies_are_refused_and_change_nothing() {
    let mock = mock(|_| {});
    let token = token(&mock);
    let good = event_xml("Good");
    let mut rng = StdRng::seed_from_u64(7);
    let mut stored_count = 0;
    for i in 0..400 {
        let mut body = good.clone().into_bytes();
        match rng.gen_range(0..5) {
            0 => body.truncate(rng.gen_range(0..body.len())),
            1 => {
                let at = rng.gen_range(0..body.len());
                body[at] = rng.gen();
            }
            2 => body
                .splice(0..0, b"<!DOCTYPE e [<!ENTITY a \"aaaa\">]>".iter().copied())
                .for_each(drop),
            3 => body = "<Event>".repeat(rng.gen_range(1..5000)).into_bytes(),
            _ => {}
        }
        let resp = post(&mock, &token, EVENT_XML, &body);
        let status = resp.status().as_u16();
        assert!(
            status == 204 || status == 400,
            "request {i}: {status} {:?}",
            resp.body()
        );
        if status == 204 {
            stored_count += 1;
        } else {
            let text = String::from_utf8_lossy(resp.body()).to_string();
            assert!(
                text.contains("minorErrorCode=\"BAD_REQUEST\""),
                "request {i}: {text}"
            );
        }
        assert_eq!(stored(&mock).len(), stored_count, "request {i}");
    }
    assert!(stored_count > 0, "unchanged bodies are stored");
    assert_eq!(mock.panics_caught(), 0);
}
