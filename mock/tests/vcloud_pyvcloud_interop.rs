//! VMware's Python client for Cloud Director (`pyvcloud`, pinned in interop/requirements.txt)
//! drives the mock's `vcloud-events` API unchanged, over HTTPS: version negotiation from
//! `GET /api/versions`, the cloudapi login and `GET /api/session`, an Event posted as XML built
//! with pyvcloud's own ElementMaker, the query service, the AuditEvent read back, a 403 for an
//! unknown event, a refused password, fixed API versions (one not served), logout.
//!
//! `.ci/run` creates a virtualenv with pyvcloud (and Huawei's SDK) and sets `CES_SDK_PYTHON`
//! (and `INTEROP_PYTHON`, either is accepted); without them this test says so and does nothing.

use event_mock::apis::vcloud::config::VcloudConfig;
use event_mock::{MockConfig, MockServer};
use serde_json::Value;

const ACME_ID: &str = "7b832bc5-3d65-45a2-8d35-da28388ab80a";
/// What the script posts (see interop/pyvcloud/vcd_events.py).
const EVENT_TYPE: &str = "com/acme/backup/finished";
const SERVICE_NAMESPACE: &str = "com.acme.backup";
const TYPE_FULL: &str = "Nightly backup of vApp web-01 finished.";

fn python() -> Option<std::ffi::OsString> {
    let found = std::env::var_os("INTEROP_PYTHON").or_else(|| std::env::var_os("CES_SDK_PYTHON"));
    if found.is_none() {
        eprintln!(
            "SKIPPED: neither INTEROP_PYTHON nor CES_SDK_PYTHON is set. `bash .ci/run` sets both \
             to a virtualenv with pyvcloud (interop/requirements.txt); it skips only where \
             Python is absent."
        );
    }
    found
}

/// A directory of its own for the CA file and pyvcloud's log, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path =
            std::env::temp_dir().join(format!("vcloud-pyvcloud-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run the script against a fresh HTTPS mock; its JSON results and the events the mock stored.
async fn run_pyvcloud(python: std::ffi::OsString) -> (Value, Value) {
    // Every API served, as `event-mock` starts by default: vSphere also has an `/api/...`
    // operation on the same empty base path, and Cloud Director's deeper claims must win.
    let config = MockConfig::default();
    let settings: VcloudConfig = config.api().expect("settings");
    let user = settings
        .users
        .iter()
        .find(|u| u.name == "orgadmin" && u.org == "acme")
        .expect("orgadmin@acme in the default users")
        .clone();
    let org_id = settings
        .orgs
        .iter()
        .find(|o| o.name == "acme")
        .map(|o| o.id.clone())
        .expect("the acme org");
    assert_eq!(org_id, ACME_ID);
    let server = MockServer::start_tls_with(config).await.expect("mock");
    let dir = TempDir::new();
    let ca = dir.0.join("mock-ca.pem");
    std::fs::write(&ca, server.certificate_pem().expect("serving HTTPS")).expect("CA file");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../interop/pyvcloud/vcd_events.py"
    );
    let url = server.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let workdir = dir.0.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .arg(url)
            .arg(&ca)
            .arg(&user.org)
            .arg(&user.name)
            .arg(&user.password)
            .arg(&org_id)
            .current_dir(workdir)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            // The CA file is the only trust: no bundle from the environment overrides it.
            .env_remove("REQUESTS_CA_BUNDLE")
            .env_remove("CURL_CA_BUNDLE")
            .output()
    })
    .await
    .expect("join")
    .expect("the interop script could not be started");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let log = std::fs::read_to_string(dir.0.join("vcd_pysdk.log")).unwrap_or_default();
    assert!(
        output.status.success(),
        "the pyvcloud script failed:\n{stdout}\n{}\npyvcloud's log:\n{log}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\npyvcloud's log:\n{log}"));
    let stored = server.mock().handle(
        http::Request::builder()
            .uri("/__admin/vcloud-events/events")
            .body(bytes::Bytes::new())
            .unwrap(),
    );
    assert_eq!(stored.status(), 200);
    (results, serde_json::from_slice(stored.body()).unwrap())
}

fn is_uuid(text: &str) -> bool {
    regex::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
        .unwrap()
        .is_match(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyvcloud_posts_and_reads_events_on_the_mock_over_https() {
    let Some(python) = python() else { return };
    let (results, stored) = run_pyvcloud(python).await;
    println!("pyvcloud results: {results:#}");

    // Negotiated from GET /api/versions: the highest version both know is 36.0 (pyvcloud knows
    // 29.0..36.0); that is a cloudapi login (>= 33.0), then GET /api/session with the Bearer.
    let login = &results["login"];
    assert_eq!(login["outcome"], "logged_in", "{results:#}");
    assert_eq!(login["api_version"], "36.0");
    assert_eq!(login["session_user"], "orgadmin");
    assert_eq!(login["session_org"], "acme");
    assert_eq!(login["bearer"], true, "a cloudapi login gives a JWT");
    assert_eq!(
        login["x_vcloud_authorization"], true,
        "GET /api/session gives the x-vcloud-authorization token too"
    );

    // POST .../events answers 204, which pyvcloud returns as None.
    assert_eq!(
        results["post"],
        serde_json::json!({"outcome": "returned", "none": true}),
        "{results:#}"
    );

    // The query service finds it, as QueryResultRecords of one EventRecord.
    let query = &results["query"];
    let href = {
        assert_eq!(query["outcome"], "returned", "{results:#}");
        assert_eq!(
            query["root"],
            "{http://www.vmware.com/vcloud/v1.5}QueryResultRecords"
        );
        assert_eq!(query["total"], "1");
        let records = query["records"].as_array().expect("records");
        assert_eq!(records.len(), 1, "{query:#}");
        let record = &records[0];
        assert_eq!(record["eventType"], EVENT_TYPE);
        assert_eq!(record["serviceNamespace"], SERVICE_NAMESPACE);
        assert_eq!(record["orgName"], "acme");
        assert_eq!(record["userName"], "orgadmin");
        assert_eq!(record["eventStatus"], "0", "0 is success");
        assert_eq!(record["description"], TYPE_FULL);
        record["href"].as_str().expect("an href").to_owned()
    };
    let event_uuid = href
        .rsplit_once("/api/admin/event/")
        .map(|(origin, id)| {
            assert!(origin.starts_with("https://127.0.0.1:"), "{href}");
            id
        })
        .unwrap_or_else(|| panic!("not an event URL: {href}"));
    assert!(is_uuid(event_uuid), "{href}");

    // GET href: the AuditEvent, every posted field round-tripped.
    let read = &results["read"];
    assert_eq!(read["outcome"], "returned", "{results:#}");
    assert_eq!(
        read["root"],
        "{http://www.vmware.com/vcloud/v1.5}AuditEvent"
    );
    assert_eq!(read["href"], href);
    assert_eq!(read["id"], format!("urn:vcloud:event:{event_uuid}"));
    assert_eq!(read["eventType"], EVENT_TYPE);
    assert_eq!(read["serviceNamespace"], SERVICE_NAMESPACE);
    assert_eq!(read["success"], "true");
    assert_eq!(read["description"], TYPE_FULL);
    assert_eq!(read["org_name"], "acme");
    assert!(
        read["org_href"]
            .as_str()
            .is_some_and(|h| h.ends_with(&format!("/api/org/{ACME_ID}"))),
        "{read}"
    );
    assert_eq!(read["user_name"], "orgadmin");
    assert_eq!(
        read["details"],
        serde_json::json!({"vapp": "web-01", "bytes": "1048576"}),
        "the EventProperties become the Details JSON"
    );
    assert!(read["timeStamp"].as_str().is_some_and(|t| !t.is_empty()));

    // An unknown event is 403, never 404: pyvcloud's AccessForbiddenException with the Error's
    // codes and the X-VMWARE-VCLOUD-REQUEST-ID it carries.
    let unknown = &results["unknown_event"];
    assert_eq!(
        unknown["exception"], "AccessForbiddenException",
        "{results:#}"
    );
    assert_eq!(unknown["status"], 403);
    assert_eq!(
        unknown["minor_error_code"],
        "ACCESS_TO_RESOURCE_IS_FORBIDDEN"
    );
    assert_eq!(unknown["major_error_code"], "403");
    assert_eq!(
        unknown["error_root"],
        "{http://www.vmware.com/vcloud/v1.5}Error"
    );
    assert!(
        unknown["error_message"]
            .as_str()
            .is_some_and(|m| m.contains("00000000-0000-4000-8000-000000000000")),
        "{unknown}"
    );
    assert!(
        unknown["request_id"].as_str().is_some_and(is_uuid),
        "{unknown}"
    );

    // Logout (DELETE /api/session, 204) ends the session: its token opens no other.
    assert_eq!(
        results["logout"],
        serde_json::json!({"outcome": "returned", "none": true}),
        "{results:#}"
    );
    let after = &results["after_logout"];
    assert_eq!(after["exception"], "UnauthorizedException", "{results:#}");
    assert_eq!(after["status"], 401);

    // A wrong password: the cloudapi login's 401, its JSON error read by pyvcloud.
    let wrong = &results["wrong_password"];
    assert_eq!(wrong["exception"], "UnauthorizedException", "{results:#}");
    assert_eq!(wrong["status"], 401);
    assert!(wrong["request_id"].as_str().is_some_and(is_uuid), "{wrong}");

    // 32.0 is below 33.0, so pyvcloud logs in at the legacy POST /api/sessions; the mock does
    // not serve 32.0, so the Accept version is refused with 406 NOT_ACCEPTABLE.
    let v32 = &results["login_32.0"];
    assert_eq!(v32["exception"], "NotAcceptableException", "{results:#}");
    assert_eq!(v32["status"], 406);
    assert_eq!(v32["minor_error_code"], "NOT_ACCEPTABLE");
    assert!(
        v32["error_message"]
            .as_str()
            .is_some_and(|m| m.contains("37.2") && m.contains("33.0")),
        "the 406 lists the versions served: {v32}"
    );
    // 33.0 and 35.0 (deprecated, still served): cloudapi logins at those versions.
    for version in ["33.0", "35.0"] {
        let fixed = &results[format!("login_{version}").as_str()];
        assert_eq!(fixed["outcome"], "logged_in", "{version}: {results:#}");
        assert_eq!(fixed["api_version"], version);
        assert_eq!(fixed["bearer"], true, "{version}");
        assert_eq!(fixed["session_org"], "acme", "{version}");
    }

    // The control plane: exactly the one event pyvcloud posted.
    let stored = stored.as_array().expect("a list");
    assert_eq!(stored.len(), 1, "{stored:#?}");
    assert_eq!(stored[0]["event_type"], EVENT_TYPE);
    assert_eq!(stored[0]["service_namespace"], SERVICE_NAMESPACE);
    assert_eq!(stored[0]["org_id"], ACME_ID);
    assert_eq!(stored[0]["uuid"], event_uuid);
    assert_eq!(stored[0]["success"], true);
}
