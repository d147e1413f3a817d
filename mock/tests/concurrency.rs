//! Concurrency evidence over the real server: N clients posting M events each to every API
//! leave exactly N x M stored events, all readable, with unique ids; a reset racing with posts
//! leaves a consistent store. A deadlock fails the test (bounded wait) instead of hanging it.

use std::collections::HashSet;
use std::time::Duration;

use event_mock::{MockConfig, MockServer};
use serde_json::{json, Value};

const CLIENTS: usize = 8;
const EACH: usize = 25;
/// Far beyond what the work takes: only a deadlock reaches it.
const DEADLOCK_GUARD: Duration = Duration::from_secs(120);

/// One API's way to post event number `i` of client `c`, and to name stored events.
#[derive(Clone, Copy)]
enum Api {
    Mws,
    Ces,
    Vsphere,
    Vcloud,
}

impl Api {
    fn id(self) -> &'static str {
        match self {
            Api::Mws => "mws-events",
            Api::Ces => "cloud-eye-events",
            Api::Vsphere => "vsphere-events",
            Api::Vcloud => "vcloud-events",
        }
    }

    /// The member of a stored event that identifies it.
    fn id_of(self, event: &Value) -> String {
        let member = match self {
            Api::Mws => "id",
            Api::Ces => "event_id",
            Api::Vsphere => "key",
            Api::Vcloud => "uuid",
        };
        event[member].to_string()
    }

    /// A session token where the API needs one (one login per client).
    async fn login(self, http: &reqwest::Client, base: &str) -> Option<String> {
        match self {
            Api::Mws | Api::Ces => None,
            Api::Vsphere => {
                let resp = http
                    .post(format!(
                        "{base}/sdk/vim25/8.0.2.0/SessionManager/SessionManager/Login"
                    ))
                    .json(&json!({"userName": "administrator@vsphere.local", "password": "Mock-Admin-Pass1!"}))
                    .send()
                    .await
                    .expect("login");
                assert_eq!(resp.status(), 200);
                Some(
                    resp.headers()["vmware-api-session-id"]
                        .to_str()
                        .unwrap()
                        .into(),
                )
            }
            Api::Vcloud => {
                let resp = http
                    .post(format!("{base}/api/sessions"))
                    .basic_auth("orgadmin@acme", Some("Mock-OrgAdmin-Pass1!"))
                    .header("accept", "application/*+xml;version=37.2")
                    .send()
                    .await
                    .expect("login");
                assert_eq!(resp.status(), 200);
                Some(
                    resp.headers()["x-vcloud-authorization"]
                        .to_str()
                        .unwrap()
                        .into(),
                )
            }
        }
    }

    fn post(
        self,
        http: &reqwest::Client,
        base: &str,
        token: Option<&str>,
        client: usize,
        i: usize,
    ) -> reqwest::RequestBuilder {
        let tag = format!("c{client}-e{i}");
        match self {
            Api::Mws => http
                .post(format!("{base}/mws/rest/events?api-version=3"))
                .basic_auth("admin", Some("secret"))
                .json(
                    &json!({"eventDate": "2024-06-10 17:13:31 UTC", "eventType": tag,
                              "message": "concurrent", "origin": "tests", "severity": "INFO",
                              "code": 1}),
                ),
            Api::Ces => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as i64;
                http.post(format!(
                    "{base}/V1.0/0123456789abcdef0123456789abcdef/events"
                ))
                .header("X-Auth-Token", "MIIT-test-token-0123456789")
                .json(
                    &json!([{"event_name": "concurrent", "event_source": "tests.Concurrency",
                                   "time": now, "detail": {"content": "concurrent", "resource_name": tag, "event_state": "normal",
                                   "event_level": "Minor"}}]),
                )
            }
            Api::Vsphere => http
                .post(format!(
                    "{base}/sdk/vim25/8.0.2.0/EventManager/EventManager/PostEvent"
                ))
                .header("vmware-api-session-id", token.unwrap_or_default())
                .json(
                    &json!({"eventToPost": {"_typeName": "EventEx", "key": 0, "chainId": 0,
                    "createdTime": "2020-01-01T00:00:00Z", "userName": "tests",
                    "eventTypeId": format!("com.example.{tag}")}}),
                ),
            Api::Vcloud => http
                .post(format!(
                    "{base}/api/admin/org/7b832bc5-3d65-45a2-8d35-da28388ab80a/events"
                ))
                .header("x-vcloud-authorization", token.unwrap_or_default())
                .header("accept", "application/*+xml;version=37.2")
                .header("content-type", "application/vnd.vmware.admin.event+json")
                .body(json!({"type": tag, "serviceNamespace": "tests"}).to_string()),
        }
    }
}

const APIS: [Api; 4] = [Api::Mws, Api::Ces, Api::Vsphere, Api::Vcloud];

async fn stored(http: &reqwest::Client, base: &str, api: Api) -> Vec<Value> {
    http.get(format!("{base}/__admin/{}/events", api.id()))
        .send()
        .await
        .expect("control plane")
        .json()
        .await
        .expect("events")
}

/// Post `EACH` events from each of `CLIENTS` clients at once; how many were answered 2xx.
/// `strict`: every post must succeed (without a racing reset, which ends sessions).
async fn post_concurrently(base: &str, api: Api, strict: bool) -> usize {
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let base = base.to_owned();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let token = api.login(&http, &base).await;
            let mut ok = 0;
            for i in 0..EACH {
                let resp = api
                    .post(&http, &base, token.as_deref(), client, i)
                    .send()
                    .await
                    .expect("post");
                let status = resp.status();
                let body = resp.text().await.unwrap_or_default();
                assert!(
                    !strict || status.is_success(),
                    "{}: {status} {body}",
                    api.id()
                );
                assert!(
                    status.as_u16() < 500 || matches!(api, Api::Vsphere),
                    "{}: {status} {body}",
                    api.id()
                );
                if status.is_success() {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("client");
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clients_leave_exactly_what_they_posted_in_every_api() {
    let server = MockServer::start_with(MockConfig::default())
        .await
        .expect("mock");
    let base = server.url();
    let run = async {
        for api in APIS {
            let answered = post_concurrently(&base, api, true).await;
            assert_eq!(answered, CLIENTS * EACH);
            let events = stored(&reqwest::Client::new(), &base, api).await;
            assert_eq!(events.len(), CLIENTS * EACH, "{}", api.id());
            let ids: HashSet<String> = events.iter().map(|e| api.id_of(e)).collect();
            assert_eq!(ids.len(), CLIENTS * EACH, "{}: ids are unique", api.id());
        }
    };
    tokio::time::timeout(DEADLOCK_GUARD, run)
        .await
        .expect("deadlock: the clients did not finish");
    // Readable through the API as well: the vSphere history holds every key.
    let http = reqwest::Client::new();
    let token = Api::Vsphere.login(&http, &base).await;
    let resp: Value = http
        .post(format!(
            "{base}/sdk/vim25/8.0.2.0/EventManager/EventManager/QueryEvents"
        ))
        .header("vmware-api-session-id", token.unwrap_or_default())
        .json(&json!({"filter": {"_typeName": "EventFilterSpec", "maxCount": 1000}}))
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("events");
    assert_eq!(resp.as_array().map(Vec::len), Some(CLIENTS * EACH));
    assert_eq!(server.mock().panics_caught(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reset_racing_with_posts_leaves_a_consistent_store() {
    let server = MockServer::start_with(MockConfig::default())
        .await
        .expect("mock");
    let base = server.url();
    let run = async {
        let posting = tokio::spawn({
            let base = base.clone();
            async move {
                let mut handles = Vec::new();
                for api in APIS {
                    let base = base.clone();
                    handles.push(tokio::spawn(async move {
                        post_concurrently(&base, api, false).await
                    }));
                }
                for h in handles {
                    h.await.expect("posters");
                }
            }
        });
        let resetting = tokio::spawn({
            let base = base.clone();
            async move {
                let http = reqwest::Client::new();
                for _ in 0..20 {
                    let resp = http
                        .post(format!("{base}/__admin/reset"))
                        .header("content-type", "application/json")
                        .body("{}")
                        .send()
                        .await
                        .expect("reset");
                    assert_eq!(resp.status(), 200);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
        // A reset ends sessions, so a poster's later posts may be refused (vSphere's
        // NotAuthenticated is a 500 by default): a valid outcome of the race.
        posting.await.expect("posters");
        resetting.await.expect("resets");
    };
    tokio::time::timeout(DEADLOCK_GUARD, run)
        .await
        .expect("deadlock: posts and resets did not finish");
    // Whatever survived is consistent: unique ids, and the shared budget counts exactly the
    // items the stores hold.
    let http = reqwest::Client::new();
    let mut held = 0;
    for api in APIS {
        let events = stored(&http, &base, api).await;
        let ids: HashSet<String> = events.iter().map(|e| api.id_of(e)).collect();
        assert_eq!(ids.len(), events.len(), "{}: ids are unique", api.id());
        held += events.len();
    }
    let health: Value = http
        .get(format!("{base}/__admin/health"))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(health["store"]["items"], json!(held), "{health}");
    // And the store still works: one more post is one more event.
    let before = stored(&http, &base, Api::Mws).await.len();
    let resp = Api::Mws
        .post(&http, &base, None, 99, 0)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 201);
    assert_eq!(stored(&http, &base, Api::Mws).await.len(), before + 1);
    assert_eq!(server.mock().panics_caught(), 0);
}

#[test]
fn only_reads_over_large_stores_and_the_control_plane_leave_the_io_threads() {
    use bytes::Bytes;
    use event_mock::Mock;
    let mock = Mock::new(MockConfig::deterministic()).expect("mock");
    let req = |method: &str, uri: &str| {
        http::Request::builder()
            .method(method)
            .uri(uri)
            .body(Bytes::new())
            .unwrap()
    };
    let list = req("GET", "/mws/rest/events?api-version=3");
    let post = req("POST", "/mws/rest/events?api-version=3");
    assert!(!mock.is_heavy(&list), "a list over an empty store is light");
    assert!(!mock.is_heavy(&post));
    assert!(mock.is_heavy(&req("POST", "/__admin/reset")));
    assert!(!mock.is_heavy(&req("GET", "/__admin/health")));
    // Past the threshold the same list is heavy; a post still is not.
    let events: Vec<Value> = (0..=event_mock::api::HEAVY_SCAN_ITEMS)
        .map(|i| {
            json!({"eventDate": "2024-06-10 17:13:31 UTC", "eventType": format!("t{i}"),
                        "message": "m", "origin": "o", "severity": "INFO", "code": 1})
        })
        .collect();
    let seeded = mock.handle(
        http::Request::builder()
            .method("POST")
            .uri("/__admin/mws-events/events")
            .header("content-type", "application/json")
            .body(Bytes::from(serde_json::to_vec(&events).unwrap()))
            .unwrap(),
    );
    assert_eq!(seeded.status(), 201, "{:?}", seeded.body());
    assert!(mock.is_heavy(&list));
    assert!(!mock.is_heavy(&post));
}
