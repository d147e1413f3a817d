//! The `vim_rs` crate, used as published, against the mock's `vsphere-events` API over HTTPS.
//!
//! Only vim_rs's public API drives the traffic: its `ClientBuilder` negotiates the release with
//! `POST /api/vcenter/system?action=hello`, reads `ServiceInstance` content and logs in through
//! `SessionManager.Login`; the generated `EventManager` stub posts and queries events; `close`
//! logs out. The client trusts the mock's self-signed certificate (no insecure mode).
//!
//! To see the VI/JSON traffic vim_rs sends and receives (SessionManager bodies are never logged
//! by vim_rs), run with `RUST_LOG=vim_rs::wire=trace`.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use event_mock::api::Credential;
use event_mock::apis::vsphere::config::{UnknownMembers, UserNamePolicy, VsphereConfig};
use event_mock::{MockConfig, MockServer};
use miniserde::json::Value;
use vim_rs::core::client::{Client, ClientBuilder, Error as VimError, WireLoggingMode};
use vim_rs::mo::EventManager;
use vim_rs::types::enums::MoTypesEnum;
use vim_rs::types::struct_enum::StructType;
use vim_rs::types::structs::{
    EntityEventArgument, Event, EventFilterSpec, ManagedObjectReference, MethodFault,
    VmEventArgument,
};

const API: &str = "vsphere-events";
const EVENT_TYPE_ID: &str = "com.example.interop.test";
const MESSAGE: &str = "vim_rs interop: disk latency on vm-20 is above 50 ms";
/// A createdTime the caller sends; the server must replace it with its own time.
const CALLER_CREATED_TIME: &str = "2001-02-03T04:05:06Z";

/// The mock over HTTPS, and how to reach it with vim_rs.
struct Target {
    server: MockServer,
    /// `127.0.0.1:PORT`: vim_rs puts this between `https://` and the path as it is.
    host: String,
    user: String,
    password: String,
}

/// The mock serving every registered API with their default settings.
async fn start() -> Target {
    start_with(MockConfig::default()).await
}

async fn start_with(config: MockConfig) -> Target {
    let _ = env_logger::builder().is_test(true).try_init();
    let server = MockServer::start_tls_with(config)
        .await
        .expect("the mock starts on loopback");
    assert!(server.url().starts_with("https://"), "{}", server.url());
    let host = server.address().to_string();
    let accounts = server.mock().accounts(API).unwrap_or_else(|| {
        panic!(
            "the mock serves no {API} API: {:?}",
            server.mock().api_ids()
        )
    });
    let account = accounts
        .into_iter()
        .find(|a| a.permitted)
        .unwrap_or_else(|| panic!("{API} offers no permitted account"));
    let Credential::Password { user, password } = account.credential else {
        panic!("{API}'s permitted account is not a user and password: {account:?}");
    };
    Target {
        server,
        host,
        user,
        password,
    }
}

/// A reqwest client that trusts only the mock's self-signed certificate.
fn http_client(server: &MockServer) -> reqwest::Client {
    let pem = server
        .certificate_pem()
        .expect("the mock serves HTTPS, so it has a certificate");
    let certificate = reqwest::Certificate::from_pem(pem.as_bytes()).expect("the PEM parses");
    reqwest::Client::builder()
        .tls_certs_only([certificate])
        .build()
        .expect("a reqwest client")
}

fn builder(target: &Target) -> ClientBuilder {
    ClientBuilder::new(&target.host)
        .http_client(http_client(&target.server))
        .app_details(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
        .wire_logging(WireLoggingMode::Detailed)
}

fn moref(kind: MoTypesEnum, id: &str) -> ManagedObjectReference {
    ManagedObjectReference {
        r#type: kind,
        value: id.to_owned(),
    }
}

fn string(s: &str) -> Value {
    Value::String(s.to_owned())
}

/// An `EventEx` as vim_rs models it: the base `Event` with `type_` set and the subtype's members
/// in `extra_fields_`. `key`, `chainId` and `createdTime` are placeholders the server overwrites.
fn event_ex(user: &str, severity: &str, vm_id: &str) -> Event {
    let extra: HashMap<String, Value> = [
        ("eventTypeId", string(EVENT_TYPE_ID)),
        ("severity", string(severity)),
        ("message", string(MESSAGE)),
        ("objectType", string("VirtualMachine")),
        ("objectId", string(vm_id)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Event {
        key: 0,
        chain_id: 0,
        created_time: CALLER_CREATED_TIME.to_owned(),
        user_name: user.to_owned(),
        datacenter: None,
        compute_resource: None,
        host: None,
        vm: Some(VmEventArgument {
            entity_event_argument_: EntityEventArgument {
                name: "interop-vm".to_owned(),
            },
            vm: moref(MoTypesEnum::VirtualMachine, vm_id),
        }),
        ds: None,
        net: None,
        dvs: None,
        tgw: None,
        full_formatted_message: None,
        change_tag: None,
        audit_id: None,
        type_: Some(StructType::EventEx),
        extra_fields_: extra,
    }
}

fn filter_by_event_type(event_type_id: &str) -> EventFilterSpec {
    EventFilterSpec {
        entity: None,
        time: None,
        user_name: None,
        event_chain_id: None,
        alarm: None,
        scheduled_task: None,
        disable_full_message: None,
        category: None,
        r#type: None,
        tag: None,
        event_type_id: Some(vec![event_type_id.to_owned()]),
        max_count: None,
        delayed_init: None,
        auditable: None,
        audit_id: None,
    }
}

/// The fault vim_rs made of an error answer, or a panic naming what came instead.
fn fault_of<T: std::fmt::Debug>(result: Result<T, VimError>, what: &str) -> Arc<MethodFault> {
    match result {
        Err(VimError::MethodFault(fault)) => fault,
        other => panic!("{what}: expected a MethodFault from vim_rs, got {other:?}"),
    }
}

fn extra_str<'a>(fields: &'a HashMap<String, Value>, name: &str) -> Option<&'a str> {
    match fields.get(name) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

fn event_manager(client: &Arc<Client>) -> EventManager {
    let moref = client
        .service_content()
        .event_manager
        .as_ref()
        .expect("ServiceContent names an eventManager");
    assert_eq!(moref.r#type, MoTypesEnum::EventManager);
    EventManager::new(client.clone(), &moref.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vim_rs_logs_in_posts_and_queries_events() {
    let target = start().await;

    // 1. Log in. No release is pinned, so vim_rs negotiates one with the hello call; the first
    //    release of its list the mock serves is 9.1.0.0.
    let client = builder(&target)
        .basic_authn(&target.user, &target.password)
        .build()
        .await
        .expect("vim_rs negotiates a release, reads ServiceInstance content and logs in");
    assert_eq!(client.api_release(), "9.1.0.0");
    let content = client.service_content();
    assert!(
        !content.about.api_version.is_empty(),
        "about.apiVersion is empty: {:?}",
        content.about
    );
    let events = event_manager(&client);

    // 2. A valid EventEx about vm-20 is accepted.
    events
        .post_event(&event_ex(&target.user, "warning", "vm-20"), None)
        .await
        .expect("PostEvent of a valid EventEx succeeds");
    let posted_at = Utc::now();

    // 3. A severity outside error/warning/info/user is InvalidArgument.
    let fault = fault_of(
        events
            .post_event(&event_ex(&target.user, "bogus", "vm-20"), None)
            .await,
        "PostEvent with severity bogus",
    );
    assert_eq!(fault.type_, Some(StructType::InvalidArgument), "{fault:?}");
    let property = extra_str(&fault.extra_fields_, "invalidProperty");
    assert!(
        property.is_some_and(|p| p.contains("severity")),
        "invalidProperty should name the severity: {fault:?}"
    );

    // 4. A vm argument that names no VirtualMachine in the inventory is InvalidArgument.
    let fault = fault_of(
        events
            .post_event(&event_ex(&target.user, "warning", "vm-9999"), None)
            .await,
        "PostEvent about vm-9999",
    );
    assert_eq!(fault.type_, Some(StructType::InvalidArgument), "{fault:?}");
    let property = extra_str(&fault.extra_fields_, "invalidProperty");
    assert!(
        property.is_some_and(|p| p.contains("vm")),
        "invalidProperty should name the vm argument: {fault:?}"
    );

    // 5. QueryEvents by eventTypeId returns exactly the event of step 2: the rejected posts of
    //    steps 3 and 4 (same eventTypeId) were not stored.
    let found = events
        .query_events(&filter_by_event_type(EVENT_TYPE_ID), None)
        .await
        .expect("QueryEvents succeeds")
        .unwrap_or_default();
    assert_eq!(
        found.len(),
        1,
        "expected exactly the posted event: {found:?}"
    );
    let event = &found[0];
    assert_eq!(event.type_, Some(StructType::EventEx), "{event:?}");
    let extra = &event.extra_fields_;
    assert_eq!(
        extra_str(extra, "eventTypeId"),
        Some(EVENT_TYPE_ID),
        "{event:?}"
    );
    assert_eq!(extra_str(extra, "severity"), Some("warning"), "{event:?}");
    assert_eq!(extra_str(extra, "message"), Some(MESSAGE), "{event:?}");
    assert_eq!(
        extra_str(extra, "objectType"),
        Some("VirtualMachine"),
        "{event:?}"
    );
    assert_eq!(extra_str(extra, "objectId"), Some("vm-20"), "{event:?}");
    assert!(
        event.key > 0,
        "the server assigns a positive key: {event:?}"
    );
    let created = DateTime::parse_from_rfc3339(&event.created_time)
        .unwrap_or_else(|e| panic!("createdTime {:?}: {e}", event.created_time))
        .with_timezone(&Utc);
    assert_ne!(
        event.created_time, CALLER_CREATED_TIME,
        "createdTime is the server's"
    );
    assert!(
        (created - posted_at).abs() < Duration::minutes(5),
        "createdTime {created} is not about now ({posted_at})"
    );
    let vm = event.vm.as_ref().expect("the vm argument is kept");
    assert_eq!(vm.vm, moref(MoTypesEnum::VirtualMachine, "vm-20"));
    assert_eq!(event.user_name, target.user, "{event:?}");

    // The filter filters: another eventTypeId matches nothing.
    let none = events
        .query_events(&filter_by_event_type("com.example.interop.absent"), None)
        .await
        .expect("QueryEvents with a filter that matches nothing succeeds")
        .unwrap_or_default();
    assert!(none.is_empty(), "nothing has that eventTypeId: {none:?}");

    // 6. Log out (SessionManager.Logout); a second close is a no-op.
    client.close().await.expect("Logout succeeds");
    client.close().await.expect("close is idempotent");
    drop(client);
    target.server.stop();
}

/// vim_rs's requests carry `_typeName` on every object, the request body included; a mock that
/// rejects members a type does not declare still takes them, and keeps the session's user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vim_rs_sends_only_declared_members() {
    let mut config = MockConfig::default();
    config.edit::<VsphereConfig>(|c| {
        c.unknown_members = Some(UnknownMembers::Reject);
        c.user_name = Some(UserNamePolicy::Session);
    });
    let target = start_with(config).await;
    let client = builder(&target)
        .basic_authn(&target.user, &target.password)
        .build()
        .await
        .expect("vim_rs logs in on a strict mock");
    let events = event_manager(&client);
    events
        .post_event(&event_ex("someone-else", "info", "vm-20"), None)
        .await
        .expect("PostEvent of vim_rs's EventEx passes the undeclared-members check");
    let found = events
        .query_events(&filter_by_event_type(EVENT_TYPE_ID), None)
        .await
        .expect("QueryEvents succeeds")
        .unwrap_or_default();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(extra_str(&found[0].extra_fields_, "severity"), Some("info"));
    assert_eq!(
        found[0].user_name, target.user,
        "the session's user, not the caller's"
    );
    client.close().await.expect("Logout succeeds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vim_rs_with_a_pinned_release_skips_hello() {
    let target = start().await;
    let client = builder(&target)
        .api_release("8.0.2.0")
        .basic_authn(&target.user, &target.password)
        .build()
        .await
        .expect("vim_rs logs in on /sdk/vim25/8.0.2.0");
    assert_eq!(client.api_release(), "8.0.2.0");
    let found = event_manager(&client)
        .query_events(&filter_by_event_type(EVENT_TYPE_ID), None)
        .await
        .expect("QueryEvents on 8.0.2.0 succeeds")
        .unwrap_or_default();
    assert!(
        found.is_empty(),
        "a fresh mock holds no such event: {found:?}"
    );
    client.close().await.expect("Logout succeeds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vim_rs_refuses_when_no_release_is_common() {
    let target = start().await;
    let result = builder(&target)
        .compatible_api_releases(vec!["7.0.3.0"])
        .basic_authn(&target.user, &target.password)
        .build()
        .await;
    match result {
        Err(VimError::CannotNegotiateAPIRelease(tried)) => assert_eq!(tried, ["7.0.3.0"]),
        Err(other) => panic!("expected CannotNegotiateAPIRelease, got {other:?}"),
        Ok(_) => panic!("expected CannotNegotiateAPIRelease, got a session"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vim_rs_reports_a_wrong_password_as_invalid_login() {
    let target = start().await;
    let wrong = format!("{}-wrong", target.password);
    let fault = fault_of(
        builder(&target)
            .basic_authn(&target.user, &wrong)
            .build()
            .await
            .map(|_| ()),
        "Login with a wrong password",
    );
    assert_eq!(fault.type_, Some(StructType::InvalidLogin), "{fault:?}");
}
