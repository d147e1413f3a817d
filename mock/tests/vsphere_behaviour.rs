//! vSphere through the sans-IO core: the configurable choices the research leaves open (userName,
//! taskInfo, unknown members, the NotAuthenticated status, objectType, releases), the seedable
//! inventory, the server's flags, and robustness against hostile bodies.

use bytes::Bytes;
use event_mock::apis::vsphere::config::{
    InventoryObject, TaskInfoPolicy, UnknownMembers, UserNamePolicy, VsphereConfig,
};
use event_mock::{Mock, MockConfig, Response};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};

const RELEASE: &str = "8.0.2.0";
const HEADER: &str = "vmware-api-session-id";

fn mock(edit: impl FnOnce(&mut VsphereConfig)) -> Mock {
    let mut config = MockConfig::deterministic();
    config.edit::<VsphereConfig>(edit);
    Mock::new(config).expect("mock")
}

fn call(mock: &Mock, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Response {
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(token) = token {
        req = req.header(HEADER, token);
    }
    mock.handle(req.body(Bytes::copy_from_slice(body)).unwrap())
}

fn sdk(member: &str) -> String {
    format!("/sdk/vim25/{RELEASE}/{member}")
}

fn json_of(resp: &Response) -> Value {
    serde_json::from_slice(resp.body()).unwrap_or_else(|e| panic!("{e}: {:?}", resp.body()))
}

fn login_as(mock: &Mock, user: &str, password: &str) -> String {
    let resp = call(
        mock,
        "POST",
        &sdk("SessionManager/SessionManager/Login"),
        None,
        json!({"userName": user, "password": password})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(resp.status(), 200, "{:?}", resp.body());
    resp.headers()[HEADER].to_str().unwrap().to_owned()
}

fn login(mock: &Mock) -> String {
    login_as(mock, "administrator@vsphere.local", "Mock-Admin-Pass1!")
}

fn post(mock: &Mock, token: &str, body: Value) -> Response {
    call(
        mock,
        "POST",
        &sdk("EventManager/EventManager/PostEvent"),
        Some(token),
        body.to_string().as_bytes(),
    )
}

fn event_ex(type_id: &str) -> Value {
    json!({"_typeName": "EventEx", "key": 0, "chainId": 0, "createdTime": "2020-01-01T00:00:00Z",
           "userName": "caller", "eventTypeId": type_id})
}

fn stored(mock: &Mock) -> Vec<Value> {
    let resp = mock.handle(
        http::Request::builder()
            .uri("/__admin/vsphere-events/events")
            .body(Bytes::new())
            .unwrap(),
    );
    serde_json::from_slice(resp.body()).unwrap()
}

#[test]
fn user_name_is_kept_by_default_and_replaced_by_the_session_user_when_told() {
    let keep = mock(|_| {});
    let token = login(&keep);
    assert_eq!(
        post(&keep, &token, json!({"eventToPost": event_ex("a")})).status(),
        204
    );
    assert_eq!(stored(&keep)[0]["userName"], "caller");

    let session = mock(|c| c.user_name = Some(UserNamePolicy::Session));
    let token = login(&session);
    assert_eq!(
        post(&session, &token, json!({"eventToPost": event_ex("a")})).status(),
        204
    );
    assert_eq!(
        stored(&session)[0]["userName"],
        "administrator@vsphere.local"
    );
}

#[test]
fn task_info_chains_the_event_to_the_task_or_is_ignored_when_told() {
    let chain = mock(|_| {});
    let token = login(&chain);
    let task = call(
        &chain,
        "POST",
        &sdk("TaskManager/TaskManager/CreateTask"),
        Some(&token),
        json!({"obj": {"type": "VirtualMachine", "value": "vm-20"}, "taskTypeId": "com.example.task", "cancelable": false})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(task.status(), 200);
    let info = json_of(&task);
    let body = json!({"eventToPost": event_ex("in-task"), "taskInfo": info});
    assert_eq!(post(&chain, &token, body).status(), 204);
    let events = stored(&chain);
    let posted = events.last().unwrap();
    assert_eq!(posted["chainId"], info["eventChainId"]);
    assert_ne!(posted["key"], posted["chainId"]);
    // A task the server never created is refused.
    let mut unknown = info.clone();
    unknown["task"]["value"] = json!("task-999");
    let refused = post(
        &chain,
        &token,
        json!({"eventToPost": event_ex("x"), "taskInfo": unknown}),
    );
    assert_eq!(refused.status(), 500);
    assert_eq!(json_of(&refused)["invalidProperty"], "taskInfo");

    let ignore = mock(|c| c.task_info = Some(TaskInfoPolicy::Ignore));
    let token = login(&ignore);
    assert_eq!(
        post(
            &ignore,
            &token,
            json!({"eventToPost": event_ex("x"), "taskInfo": unknown})
        )
        .status(),
        204
    );
    let posted = stored(&ignore).pop().unwrap();
    assert_eq!(posted["chainId"], posted["key"]);
}

#[test]
fn unknown_members_are_left_out_or_refused_when_told() {
    let mut body = event_ex("m");
    body["colour"] = json!("red");
    let ignore = mock(|_| {});
    let token = login(&ignore);
    assert_eq!(
        post(&ignore, &token, json!({"eventToPost": body})).status(),
        204
    );
    assert!(stored(&ignore)[0].get("colour").is_none());

    let reject = mock(|c| c.unknown_members = Some(UnknownMembers::Reject));
    let token = login(&reject);
    let resp = post(&reject, &token, json!({"eventToPost": body}));
    assert_eq!(resp.status(), 500);
    assert_eq!(json_of(&resp)["_typeName"], "InvalidRequest");
    assert!(stored(&reject).is_empty());
}

#[test]
fn not_authenticated_is_a_500_fault_or_a_401_when_told() {
    for (status, expected) in [(None, 500), (Some(401), 401)] {
        let m = mock(|c| c.unauthenticated_status = status);
        let resp = post(&m, "no-such-session", json!({"eventToPost": event_ex("x")}));
        assert_eq!(resp.status(), expected);
        let fault = json_of(&resp);
        assert_eq!(fault["_typeName"], "NotAuthenticated");
        assert_eq!(fault["privilegeId"], "System.View");
        assert_eq!(fault["object"]["type"], "EventManager");
    }
    let mut config = MockConfig::deterministic();
    config.edit::<VsphereConfig>(|c| c.unauthenticated_status = Some(403));
    assert!(Mock::new(config).is_err(), "only 500 and 401 are choices");
}

#[test]
fn object_type_is_checked_against_the_inventory_unless_lenient() {
    let mut body = event_ex("o");
    body["objectType"] = json!("VirtualMachine");
    body["objectId"] = json!("vm-404");
    let strict = mock(|_| {});
    let token = login(&strict);
    let resp = post(&strict, &token, json!({"eventToPost": body}));
    assert_eq!(json_of(&resp)["invalidProperty"], "objectType");
    let lenient = mock(|c| c.object_type_check = Some(false));
    let token = login(&lenient);
    assert_eq!(
        post(&lenient, &token, json!({"eventToPost": body})).status(),
        204
    );
    // A type that is no managed entity is refused either way.
    body["objectType"] = json!("Banana");
    assert_eq!(
        post(&lenient, &token, json!({"eventToPost": body})).status(),
        500
    );
}

#[test]
fn only_the_configured_releases_are_served() {
    let m = mock(|c| c.releases = vec!["9.1.1.0".into()]);
    let content = |release: &str| {
        call(
            &m,
            "GET",
            &format!("/sdk/vim25/{release}/ServiceInstance/ServiceInstance/content"),
            None,
            b"",
        )
    };
    assert_eq!(content("9.1.1.0").status(), 200);
    assert_eq!(
        json_of(&content("9.1.1.0"))["about"]["apiVersion"],
        "9.1.1.0"
    );
    assert_eq!(content(RELEASE).status(), 404);
    let hello = call(
        &m,
        "POST",
        "/api/vcenter/system?action=hello",
        None,
        br#"{"api_releases":["8.0.2.0","9.1.1.0"]}"#,
    );
    assert_eq!(json_of(&hello), json!({"api_release": "9.1.1.0"}));
}

#[test]
fn the_inventory_can_be_seeded_and_is_restored_by_a_reset() {
    let m = mock(|_| {});
    let token = login(&m);
    let mut body = event_ex("seeded");
    body["vm"] = json!({"name": "new", "vm": {"type": "VirtualMachine", "value": "vm-900"}});
    let refused = post(&m, &token, json!({"eventToPost": body}));
    assert_eq!(json_of(&refused)["invalidProperty"], "vm");

    let mut objects = event_mock::apis::vsphere::config::default_inventory();
    objects.push(InventoryObject {
        mo_type: "VirtualMachine".into(),
        value: "vm-900".into(),
        name: "new".into(),
        parent: Some("group-v3".into()),
    });
    let admin = |method: &str, body: Vec<u8>| {
        m.handle(
            http::Request::builder()
                .method(method)
                .uri("/__admin/vsphere-events/inventory")
                .header("content-type", "application/json")
                .body(Bytes::from(body))
                .unwrap(),
        )
    };
    assert_eq!(
        admin("POST", serde_json::to_vec(&objects).unwrap()).status(),
        200
    );
    assert_eq!(post(&m, &token, json!({"eventToPost": body})).status(), 204);
    // A parent that does not exist, or an id listed twice, is refused and changes nothing.
    let bad = json!([{"type": "Folder", "value": "f", "name": "f", "parent": "nowhere"}]);
    assert_eq!(admin("POST", bad.to_string().into_bytes()).status(), 400);
    assert_eq!(post(&m, &token, json!({"eventToPost": body})).status(), 204);

    m.reset();
    let token = login(&m);
    assert_eq!(post(&m, &token, json!({"eventToPost": body})).status(), 500);
}

#[test]
fn emitted_objects_carry_the_type_name_first() {
    fn breach(value: &Value) -> bool {
        match value {
            Value::Object(fields) => {
                fields.keys().next().map(String::as_str) != Some("_typeName")
                    || fields.values().any(breach)
            }
            Value::Array(items) => items.iter().any(breach),
            _ => false,
        }
    }
    let m = mock(|_| {});
    let token = login(&m);
    // Sent with _typeName last and MoRefs without one.
    let body = json!({"eventToPost": {"key": 0, "chainId": 0, "createdTime": "2020-01-01T00:00:00Z",
        "userName": "u", "eventTypeId": "first", "severity": "info",
        "vm": {"vm": {"value": "vm-20", "type": "VirtualMachine"}, "name": "vm0"},
        "arguments": [{"value": {"_value": "v", "_typeName": "string"}, "key": "k"}],
        "_typeName": "EventEx"}, "_typeName": "PostEvent"});
    assert_eq!(post(&m, &token, body).status(), 204);
    let query = call(
        &m,
        "POST",
        &sdk("EventManager/EventManager/QueryEvents"),
        Some(&token),
        br#"{"filter":{"eventTypeId":["first"]}}"#,
    );
    let events = json_of(&query);
    assert_eq!(events.as_array().unwrap().len(), 1);
    assert!(!breach(&events), "{events}");
    let content = call(
        &m,
        "GET",
        &sdk("ServiceInstance/ServiceInstance/content"),
        None,
        b"",
    );
    assert!(!breach(&json_of(&content)));
    let fault = post(&m, "bogus", json!({}));
    assert!(!breach(&json_of(&fault)));
}

#[test]
fn hostile_bodies_get_faults_and_change_nothing() {
    let m = mock(|c| c.max_body_bytes = Some(64 * 1024));
    let token = login(&m);
    let path = sdk("EventManager/EventManager/PostEvent");
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (b"{".to_vec(), 500),
        (b"[]".to_vec(), 500),
        (b"\"text\"".to_vec(), 500),
        (vec![0xff, 0xfe, b'{', b'}'], 500),
        ("[".repeat(100_000).into_bytes(), 413),
        ("[".repeat(20_000).into_bytes(), 500),
        (
            format!("{}{}", "{\"a\":".repeat(5_000), "}".repeat(5_000)).into_bytes(),
            500,
        ),
        (br#"{"eventToPost": 5}"#.to_vec(), 500),
        (br#"{"eventToPost": {"_typeName": 7}}"#.to_vec(), 500),
        (vec![b' '; 70 * 1024], 413),
    ];
    for (body, status) in cases {
        let resp = call(&m, "POST", &path, Some(&token), &body);
        assert_eq!(
            resp.status(),
            status,
            "{:?}",
            String::from_utf8_lossy(&body[..body.len().min(40)])
        );
        let fault = json_of(&resp);
        assert!(fault["_typeName"].is_string(), "{fault}");
        assert!(fault["faultstring"].is_string(), "{fault}");
    }
    let mut rng = StdRng::seed_from_u64(8);
    let good = json!({"eventToPost": event_ex("fuzz")})
        .to_string()
        .into_bytes();
    let mut accepted = 0;
    for _ in 0..2_000 {
        let mut body = good.clone();
        for _ in 0..rng.gen_range(1..6) {
            let i = rng.gen_range(0..body.len());
            body[i] = rng.gen();
        }
        let resp = call(&m, "POST", &path, Some(&token), &body);
        assert!(
            matches!(resp.status().as_u16(), 204 | 500),
            "{}",
            resp.status()
        );
        accepted += usize::from(resp.status() == 204);
        if resp.status() == 500 {
            assert!(json_of(&resp)["faultstring"].is_string());
        }
    }
    let text_plain = m.handle(
        http::Request::builder()
            .method("POST")
            .uri(&path)
            .header("content-type", "text/plain")
            .header(HEADER, &token)
            .body(Bytes::from(good.clone()))
            .unwrap(),
    );
    assert_eq!(text_plain.status(), 415);
    assert_eq!(m.panics_caught(), 0);
    // Exactly the accepted posts are stored, with keys 1, 2, 3, ...
    let keys: Vec<i64> = stored(&m)
        .iter()
        .map(|e| e["key"].as_i64().unwrap())
        .collect();
    assert_eq!(keys, (1..=accepted as i64).collect::<Vec<_>>());
}

#[test]
fn a_session_cap_evicts_the_longest_idle_session() {
    let m = mock(|_| {});
    let first = login(&m);
    let others: Vec<String> = (0..10_000).map(|_| login(&m)).collect();
    let old = post(&m, &first, json!({"eventToPost": event_ex("x")}));
    assert_eq!(json_of(&old)["_typeName"], "NotAuthenticated");
    assert_eq!(
        post(
            &m,
            others.last().unwrap(),
            json!({"eventToPost": event_ex("x")})
        )
        .status(),
        204
    );
}

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    serve: event_mock::server::ServeArgs,
}

#[test]
fn the_server_flags_land_in_the_vsphere_settings() {
    use clap::Parser;
    let dir = std::env::temp_dir().join(format!("vsphere-inventory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("inventory.json");
    std::fs::write(
        &file,
        json!([{"type": "Folder", "value": "group-d1", "name": "root"}]).to_string(),
    )
    .unwrap();
    let cli = Cli::try_parse_from([
        "event-mock",
        "--vsphere-user",
        "ops@local:pw",
        "--vsphere-inventory",
        file.to_str().unwrap(),
        "--vsphere-user-name",
        "session",
        "--vsphere-task-info",
        "ignore",
        "--vsphere-unknown-members",
        "reject",
        "--vsphere-unauthenticated-status",
        "401",
        "--vsphere-object-type-check",
        "lenient",
        "--vsphere-query-max-count",
        "10",
        "--vsphere-release",
        "9.0.0.0",
        "--vsphere-max-body-bytes",
        "1000",
    ])
    .expect("flags");
    let config = cli.serve.config().expect("config");
    let settings: VsphereConfig = config.api().expect("settings");
    assert_eq!(settings.users[0].user_name, "ops@local");
    assert!(settings.users[0].holds("Global.LogEvent"));
    assert_eq!(settings.inventory.len(), 1);
    assert_eq!(settings.user_name, Some(UserNamePolicy::Session));
    assert_eq!(settings.task_info, Some(TaskInfoPolicy::Ignore));
    assert_eq!(settings.unknown_members, Some(UnknownMembers::Reject));
    assert_eq!(settings.unauthenticated_status, Some(401));
    assert_eq!(settings.object_type_check, Some(false));
    assert_eq!(settings.query_max_count, Some(10));
    assert_eq!(settings.releases, vec!["9.0.0.0".to_owned()]);
    assert_eq!(settings.max_body_bytes, Some(1000));
    Mock::new(config).expect("mock");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn limits_of_the_event_hold_on_both_sides() {
    let m = mock(|_| {});
    let token = login(&m);
    let with = |member: &str, value: Value| {
        let mut event = event_ex("limits");
        event[member] = value;
        post(&m, &token, json!({ "eventToPost": event }))
    };
    // key and chainId are int32 (and overwritten): the largest fits, one more does not.
    assert_eq!(with("key", json!(2_147_483_647)).status(), 204);
    assert_eq!(with("chainId", json!(-2_147_483_648_i64)).status(), 204);
    for (member, value) in [
        ("key", json!(2_147_483_648_i64)),
        ("chainId", json!(-2_147_483_649_i64)),
        ("key", json!(1.5)),
    ] {
        let resp = with(member, value.clone());
        assert_eq!(
            json_of(&resp)["_typeName"],
            "InvalidRequest",
            "{member}={value}"
        );
    }
    // createdTime must be a date-time even though the server replaces it.
    assert_eq!(
        json_of(&with("createdTime", json!("yesterday")))["_typeName"],
        "InvalidRequest"
    );
    // severity: null is info (seed 001); an empty string is not a severity.
    assert_eq!(with("severity", Value::Null).status(), 204);
    assert_eq!(
        json_of(&with("severity", json!("")))["invalidProperty"],
        "severity"
    );
    let stored = stored(&m);
    assert_eq!(stored.len(), 3);
    assert!(stored[2].get("severity").is_none(), "{}", stored[2]);
    // The server's keys, whatever was sent.
    let keys: Vec<i64> = stored.iter().map(|e| e["key"].as_i64().unwrap()).collect();
    assert_eq!(keys, vec![1, 2, 3]);
}
