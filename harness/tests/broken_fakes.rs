//! The harness must catch deviations. Each fake here is the real mock core mounted on a
//! wiremock server with one deliberate deviation; the harness, pointed at it as a live target,
//! must report the requirement that deviation breaks.

use std::sync::Arc;

use bytes::Bytes;
use event_harness::report::SuiteReport;
use event_harness::{load_suite, run_suite, Accounts, LiveTarget, TargetKind, Verdict};
use event_mock::api::{Account, Credential};
use event_mock::apis::ces::config::CesConfig;
use event_mock::wire::{query_pairs, Request, Response};
use event_mock::wiremock_adapter::CoreResponder;
use event_mock::{Mock, MockConfig};
use serde_json::Value;

/// The mock core set up by `config`, behind a wiremock server, changed by `tweak`.
async fn mount(
    config: MockConfig,
    tweak: impl FnOnce(CoreResponder) -> CoreResponder,
) -> wiremock::MockServer {
    let server = wiremock::MockServer::builder()
        .disable_request_recording()
        .start()
        .await;
    let core = Arc::new(Mock::new(config).expect("mock"));
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(tweak(CoreResponder::new(core)))
        .mount(&server)
        .await;
    server
}

/// An MWS fake: the deterministic core behind wiremock, changed by `tweak`.
async fn fake(
    tweak: impl FnOnce(CoreResponder) -> CoreResponder,
) -> (wiremock::MockServer, LiveTarget) {
    let server = mount(MockConfig::deterministic(), tweak).await;
    let target = LiveTarget {
        url: format!("{}/mws", server.uri()),
        // What an operator passes with --credentials and --restricted-credentials.
        accounts: Accounts::new(vec![
            Account::new(password("admin", "secret"), true),
            Account::new(password("noevents", "secret"), false),
        ]),
        admin_url: Some(format!("{}/__admin", server.uri())),
        vars: Default::default(),
        trust: Default::default(),
    };
    (server, target)
}

async fn run(target: &LiveTarget, scenarios: &[&str]) -> SuiteReport {
    let suite = load_suite("mws-events").expect("suite");
    let only: Vec<String> = scenarios.iter().map(|s| s.to_string()).collect();
    run_suite(&suite, &TargetKind::Live(target.clone()), Some(&only)).await
}

fn verdict(report: &SuiteReport, id: &str) -> Verdict {
    report
        .requirement(id)
        .unwrap_or_else(|| panic!("no requirement {id}"))
        .verdict
}

fn reasons(report: &SuiteReport, id: &str) -> String {
    report
        .requirement(id)
        .map(|r| r.reasons.join("\n"))
        .unwrap_or_default()
}

fn with_json_body(mut response: Response, edit: impl FnOnce(&mut Value)) -> Response {
    if let Ok(mut body) = serde_json::from_slice::<Value>(response.body()) {
        edit(&mut body);
        *response.body_mut() = Bytes::from(serde_json::to_vec(&body).unwrap());
    }
    response
}

fn is_v3_get(req: &Request) -> bool {
    req.method() == http::Method::GET
        && req
            .uri()
            .query()
            .is_some_and(|q| q.contains("api-version=3"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_core_behind_wiremock_passes_the_whole_suite() {
    // The control: without a deviation every requirement passes, so the failures below come
    // from the deviations and not from the wiremock transport.
    let (_server, target) = fake(|r| r).await;
    let suite = load_suite("mws-events").unwrap();
    let report = run_suite(&suite, &TargetKind::Live(target), None).await;
    assert!(!report.is_failure(), "{}", report.table(160));
    assert_eq!(
        report.count(Verdict::Pass),
        report.requirements.len(),
        "{}",
        report.table(160)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_status_is_reported() {
    let (_server, target) = fake(|r| {
        r.with_response_tweak(|_, mut resp| {
            if resp.status() == http::StatusCode::CREATED {
                *resp.status_mut() = http::StatusCode::OK;
            }
            resp
        })
    })
    .await;
    let report = run(&target, &["create-seed-example"]).await;
    assert_eq!(verdict(&report, "MWS-POST-001"), Verdict::Fail);
    assert!(reasons(&report, "MWS-POST-001").contains("status 200, expected 201"));
    assert!(report.is_failure());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_breaks_the_schema_is_reported() {
    let (_server, target) = fake(|r| {
        r.with_response_tweak(|req, resp| {
            if req.method() != http::Method::GET {
                return resp;
            }
            with_json_body(resp, |body| {
                for event in body
                    .get_mut("results")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(code) = event.get("code").cloned() {
                        event["code"] = Value::String(code.to_string());
                    }
                }
            })
        })
    })
    .await;
    let report = run(&target, &["list-envelope"]).await;
    assert_eq!(verdict(&report, "MWS-LIST-001"), Verdict::Fail);
    assert!(
        reasons(&report, "MWS-LIST-001").contains("breaks list-v3.json"),
        "{}",
        reasons(&report, "MWS-LIST-001")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renamed_fields_under_api_version_3_are_reported() {
    let (_server, target) = fake(|r| {
        r.with_response_tweak(|req, resp| {
            if !is_v3_get(req) {
                return resp;
            }
            let rename = |event: &mut Value| {
                if let Some(map) = event.as_object_mut() {
                    if let Some(date) = map.shift_remove("eventDate") {
                        map.insert("eventTime".into(), date);
                    }
                }
            };
            with_json_body(resp, |body| {
                match body.get_mut("results").and_then(Value::as_array_mut) {
                    Some(results) => results.iter_mut().for_each(rename),
                    None => rename(body),
                }
            })
        })
    })
    .await;
    let report = run(&target, &["v3-new-field-names"]).await;
    assert_eq!(verdict(&report, "MWS-VER-004"), Verdict::Fail);
    let why = reasons(&report, "MWS-VER-004");
    assert!(why.contains("eventTime"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_404_is_reported() {
    let (_server, target) = fake(|r| {
        r.with_response_tweak(|_, mut resp| {
            if resp.status() == http::StatusCode::NOT_FOUND {
                *resp.status_mut() = http::StatusCode::OK;
                *resp.body_mut() = Bytes::from_static(b"{}");
            }
            resp
        })
    })
    .await;
    let report = run(&target, &["get-unknown-id"]).await;
    assert_eq!(verdict(&report, "MWS-GET-002"), Verdict::Fail);
    assert!(reasons(&report, "MWS-GET-002").contains("status 200, expected 404"));
}

/// The classic bug: `$ne` on an array path implemented as "some element differs".
fn naive_ne(query: &mut Value) {
    let Some(map) = query.as_object_mut() else {
        return;
    };
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let Some((array, field)) = key.split_once('.') else {
            continue;
        };
        let is_ne = map[&key].as_object().is_some_and(|o| o.contains_key("$ne"));
        if is_ne {
            let condition = map.shift_remove(&key).unwrap();
            map.insert(
                array.to_owned(),
                serde_json::json!({ "$elemMatch": { field: condition } }),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_that_ignores_ne_semantics_on_arrays_is_reported() {
    let (_server, target) = fake(|r| {
        r.with_request_tweak(|mut req| {
            let Ok(pairs) = query_pairs(req.uri().query()) else {
                return req;
            };
            let mut rewritten = Vec::new();
            for (name, value) in pairs {
                let value = if name == "query" {
                    match serde_json::from_str::<Value>(&value) {
                        Ok(mut q) => {
                            naive_ne(&mut q);
                            q.to_string()
                        }
                        Err(_) => value,
                    }
                } else {
                    value
                };
                let enc = |s: &str| {
                    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                        .to_string()
                };
                rewritten.push(format!("{}={}", enc(&name), enc(&value)));
            }
            let uri = format!("{}?{}", req.uri().path(), rewritten.join("&"));
            *req.uri_mut() = uri.parse().expect("uri");
            req
        })
    })
    .await;
    let report = run(&target, &["query-seed-embedded"]).await;
    assert_eq!(verdict(&report, "MWS-QUERY-005"), Verdict::Fail);
    assert!(
        reasons(&report, "MWS-QUERY-005").contains("$ne the service"),
        "{}",
        reasons(&report, "MWS-QUERY-005")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deviation_from_an_inferred_requirement_is_advisory_not_a_failure() {
    let (_server, target) = fake(|r| {
        r.with_response_tweak(|_, resp| {
            if resp.status() != http::StatusCode::NOT_FOUND {
                return resp;
            }
            with_json_body(resp, |body| {
                body["messages"] = serde_json::json!(["Event not found"])
            })
        })
    })
    .await;
    let report = run(&target, &["get-unknown-id", "get-unknown-id-message"]).await;
    assert_eq!(verdict(&report, "MWS-GET-002"), Verdict::Pass);
    assert_eq!(verdict(&report, "MWS-GET-003"), Verdict::Advisory);
    assert!(
        !report.is_failure(),
        "an advisory verdict must not fail the run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_needing_what_a_target_lacks_are_skipped_not_passed() {
    let (_server, mut target) = fake(|r| r).await;
    target.accounts.list.retain(|a| a.permitted);
    target.admin_url = None;
    let report = run(&target, &["auth-forbidden", "events-log", "list-envelope"]).await;
    assert_eq!(verdict(&report, "MWS-AUTH-003"), Verdict::Skipped);
    assert_eq!(verdict(&report, "MWS-LOG-001"), Verdict::Skipped);
    assert_eq!(verdict(&report, "MWS-LIST-001"), Verdict::Pass);
    assert!(reasons(&report, "MWS-AUTH-003").contains("restricted_user"));
}

// ---- Cloud Eye ----

/// A Cloud Eye fake: the core (wall clock, so the SDK-style signing dates line up) behind
/// wiremock, set up by `config` and changed by `tweak`.
async fn ces_fake(
    config: impl FnOnce(&mut MockConfig),
    tweak: impl FnOnce(CoreResponder) -> CoreResponder,
) -> (wiremock::MockServer, LiveTarget) {
    let mut mock_config = MockConfig::default();
    config(&mut mock_config);
    let server = mount(mock_config.clone(), tweak).await;
    let settings: CesConfig = mock_config.api().expect("settings");
    let keys = &settings.access_keys;
    let access_key = |k: &event_mock::apis::ces::config::AccessKey| Credential::AccessKey {
        ak: k.ak.clone(),
        sk: k.sk.clone(),
    };
    let target = LiveTarget {
        url: server.uri(),
        // What an operator passes with --access-key, --restricted-access-key and --token.
        accounts: Accounts::new(vec![
            Account::new(access_key(&keys[0]), true),
            Account::new(access_key(&keys[1]), false),
            Account::new(
                Credential::Token {
                    token: settings.tokens[0].token.clone(),
                },
                true,
            ),
        ]),
        admin_url: Some(format!("{}/__admin", server.uri())),
        vars: [("project_id".to_owned(), keys[0].project_ids[0].clone())].into(),
        trust: Default::default(),
    };
    (server, target)
}

async fn run_ces(target: &LiveTarget, scenarios: Option<&[&str]>) -> SuiteReport {
    let suite = load_suite("cloud-eye-events").expect("suite");
    let only: Option<Vec<String>> = scenarios.map(|s| s.iter().map(|s| s.to_string()).collect());
    run_suite(&suite, &TargetKind::Live(target.clone()), only.as_deref()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_cloud_eye_core_behind_wiremock_passes_its_whole_suite() {
    let (_server, target) = ces_fake(|_| {}, |r| r).await;
    let report = run_ces(&target, None).await;
    assert_eq!(
        report.count(Verdict::Pass),
        report.requirements.len(),
        "{}",
        report.table(160)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_window_with_other_margins_is_reported() {
    // The regional variant's 20 s margins, served where 10 s is documented.
    let (_server, target) = ces_fake(
        |c| {
            c.edit::<CesConfig>(|s| s.time_margin_ms = Some(20_000));
        },
        |r| r,
    )
    .await;
    let report = run_ces(&target, Some(&["time-window-edges"])).await;
    assert_eq!(verdict(&report, "CES-TIME-001"), Verdict::Fail);
    assert!(
        reasons(&report, "CES-TIME-001").contains("exactly the lower edge"),
        "{}",
        reasons(&report, "CES-TIME-001")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_ignores_bad_signatures_is_reported() {
    let config = MockConfig::default();
    let key = config.api::<CesConfig>().expect("settings").access_keys[0].clone();
    let spec = event_mock::apis::spec("cloud-eye-events").expect("the Cloud Eye spec");
    let profile = spec
        .auth_scheme("ak-sk")
        .and_then(event_mock::auth::aksk::Profile::of)
        .expect("Cloud Eye signs with ak-sk");
    let (_server, target) = ces_fake(
        |_| {},
        move |r| {
            r.with_request_tweak(move |mut req| {
                // Whatever arrived, re-sign it with the right key over the bytes received.
                if req.headers().contains_key(http::header::AUTHORIZATION) {
                    let (path, query) = (
                        req.uri().path().to_owned(),
                        req.uri().query().map(str::to_owned),
                    );
                    let body = req.body().clone();
                    let date = req
                        .headers()
                        .get(profile.date_header.as_str())
                        .and_then(|d| d.to_str().ok())
                        .and_then(|d| {
                            chrono::NaiveDateTime::parse_from_str(
                                d,
                                event_mock::auth::aksk::DATE_FORMAT,
                            )
                            .ok()
                        })
                        .map(|d| d.and_utc())
                        .unwrap_or_else(chrono::Utc::now);
                    let method = req.method().as_str().to_owned();
                    event_mock::auth::aksk::sign(
                        &profile,
                        &method,
                        &path,
                        query.as_deref(),
                        req.headers_mut(),
                        &body,
                        &key.ak,
                        &key.sk,
                        date,
                    );
                }
                req
            })
        },
    )
    .await;
    let report = run_ces(
        &target,
        Some(&["auth-bad-credentials", "report-seed-example"]),
    )
    .await;
    assert_eq!(verdict(&report, "CES-AUTH-005"), Verdict::Fail);
    assert!(
        reasons(&report, "CES-AUTH-005").contains("expected 401"),
        "{}",
        reasons(&report, "CES-AUTH-005")
    );
    assert_eq!(verdict(&report, "CES-AUTH-001"), Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_out_of_request_order_are_an_advisory_finding() {
    let (_server, target) = ces_fake(
        |_| {},
        |r| {
            r.with_response_tweak(|_, resp| {
                if resp.status() != http::StatusCode::CREATED {
                    return resp;
                }
                with_json_body(resp, |body| {
                    if let Some(items) = body.as_array_mut() {
                        items.reverse();
                    }
                })
            })
        },
    )
    .await;
    let report = run_ces(
        &target,
        Some(&["report-answers-in-order", "report-seed-example"]),
    )
    .await;
    assert_eq!(verdict(&report, "CES-RESP-002"), Verdict::Advisory);
    assert_eq!(verdict(&report, "CES-RESP-001"), Verdict::Pass);
    assert!(!report.is_failure());
}

fn password(user: &str, password: &str) -> Credential {
    Credential::Password {
        user: user.into(),
        password: password.into(),
    }
}

// ---- vSphere ----

/// A vSphere fake: the core behind wiremock, changed by `tweak`; the harness logs in with the
/// default users.
async fn vsphere_fake(
    tweak: impl FnOnce(CoreResponder) -> CoreResponder,
) -> (wiremock::MockServer, LiveTarget) {
    let config = MockConfig::default();
    let server = mount(config.clone(), tweak).await;
    let settings: event_mock::apis::vsphere::config::VsphereConfig =
        config.api().expect("settings");
    let (main, restricted) = (&settings.users[0], &settings.users[1]);
    let target = LiveTarget {
        url: server.uri(),
        // What an operator passes with --credentials and --restricted-credentials.
        accounts: Accounts::new(vec![
            Account::new(password(&main.user_name, &main.password), true),
            Account::new(password(&restricted.user_name, &restricted.password), false),
        ]),
        admin_url: Some(format!("{}/__admin", server.uri())),
        vars: [
            ("release".to_owned(), "8.0.2.0".to_owned()),
            ("user".to_owned(), main.user_name.clone()),
            ("password".to_owned(), main.password.clone()),
        ]
        .into(),
        trust: Default::default(),
    };
    (server, target)
}

async fn run_vsphere(target: &LiveTarget) -> SuiteReport {
    let suite = load_suite("vsphere-events").expect("suite");
    run_suite(&suite, &TargetKind::Live(target.clone()), None).await
}

/// Every object of `value`, at any depth, with `_typeName` moved last.
fn type_name_last(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            if let Some(name) = fields.shift_remove("_typeName") {
                fields.insert("_typeName".into(), name);
            }
            fields.values_mut().for_each(type_name_last);
        }
        Value::Array(items) => items.iter_mut().for_each(type_name_last),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_vsphere_core_behind_wiremock_passes_its_whole_suite() {
    let (_server, target) = vsphere_fake(|r| r).await;
    let report = run_vsphere(&target).await;
    assert_eq!(
        report.count(Verdict::Pass),
        report.requirements.len(),
        "{}",
        report.table(160)
    );
}

/// A PostEvent request tweak: `edit` changes the eventToPost of every request.
fn edit_posted_event(
    edit: impl Fn(&mut Value) + Send + Sync + 'static,
) -> impl Fn(CoreResponder) -> CoreResponder {
    let edit = Arc::new(edit);
    move |r: CoreResponder| {
        let edit = edit.clone();
        r.with_request_tweak(move |mut req| {
            if req.uri().path().ends_with("/PostEvent") {
                if let Ok(mut body) = serde_json::from_slice::<Value>(req.body()) {
                    if let Some(event) = body.get_mut("eventToPost") {
                        edit(event);
                    }
                    *req.body_mut() = Bytes::from(serde_json::to_vec(&body).unwrap());
                }
            }
            req
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_accepts_any_severity_is_reported() {
    let (_server, target) = vsphere_fake(edit_posted_event(|event| {
        // An unknown severity is read as info instead of refused.
        let known = ["error", "warning", "info", "user"];
        if event
            .get("severity")
            .is_some_and(|s| !known.iter().any(|k| s == k))
        {
            event["severity"] = Value::from("info");
        }
    }))
    .await;
    let report = run_vsphere(&target).await;
    assert_eq!(
        verdict(&report, "VIM-EVEX-001"),
        Verdict::Fail,
        "{}",
        report.table(160)
    );
    assert!(
        reasons(&report, "VIM-EVEX-001").contains("expected 500"),
        "{}",
        reasons(&report, "VIM-EVEX-001")
    );
    assert_eq!(verdict(&report, "VIM-POST-003"), Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_does_not_resolve_entity_references_is_reported() {
    // Every VM reference is rewritten to one that exists, as if the server never looked it up.
    let (_server, target) = vsphere_fake(edit_posted_event(|event| {
        if let Some(vm) = event.pointer_mut("/vm/vm") {
            *vm = serde_json::json!({"type": "VirtualMachine", "value": "vm-20"});
        }
    }))
    .await;
    let report = run_vsphere(&target).await;
    assert_eq!(
        verdict(&report, "VIM-POST-003"),
        Verdict::Fail,
        "{}",
        report.table(160)
    );
    assert_eq!(verdict(&report, "VIM-EVEX-001"), Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_writes_the_type_name_last_is_an_advisory_finding() {
    let (_server, target) =
        vsphere_fake(|r| r.with_response_tweak(|_, resp| with_json_body(resp, type_name_last)))
            .await;
    let report = run_vsphere(&target).await;
    // An inferred requirement: reported, as advisory, and the run does not fail on it alone.
    assert_eq!(
        verdict(&report, "VIM-ENC-003"),
        Verdict::Advisory,
        "{}",
        report.table(160)
    );
    assert!(
        reasons(&report, "VIM-ENC-003").contains("first"),
        "{}",
        reasons(&report, "VIM-ENC-003")
    );
    assert_eq!(verdict(&report, "VIM-HELLO-001"), Verdict::Pass);
}

// ---- Cloud Director ----

/// A Cloud Director fake: the core behind wiremock, changed by `tweak`. The accounts and
/// variables are what an operator passes for a live VCD (see the README).
async fn vcloud_fake(
    tweak: impl FnOnce(CoreResponder) -> CoreResponder,
) -> (wiremock::MockServer, LiveTarget) {
    use event_mock::apis::vcloud::config::VcloudConfig;
    let config = MockConfig::default();
    let server = mount(config.clone(), tweak).await;
    let settings: VcloudConfig = config.api().expect("settings");
    let org_id = |name: &str| {
        settings
            .orgs
            .iter()
            .find(|o| o.name == name)
            .map(|o| o.id.clone())
            .expect("org")
    };
    let login = |i: usize| {
        let u = &settings.users[i];
        (format!("{}@{}", u.name, u.org), u.password.clone())
    };
    // orgadmin@acme, administrator@System, orgadmin@globex, vappuser@acme (the defaults).
    let (main, admin, other, viewer) = (login(0), login(1), login(2), login(3));
    let vars: [(&str, String); 12] = [
        ("version", "37.2".into()),
        ("user", main.0.clone()),
        ("password", main.1.clone()),
        ("org", org_id("acme")),
        ("org_name", "acme".into()),
        ("admin_user", admin.0.clone()),
        ("admin_password", admin.1.clone()),
        ("admin_org_name", "System".into()),
        ("other_user", other.0.clone()),
        ("other_password", other.1.clone()),
        ("other_org", org_id("globex")),
        ("other_org_name", "globex".into()),
    ];
    let target = LiveTarget {
        url: server.uri(),
        accounts: Accounts::new(vec![
            Account::new(password(&main.0, &main.1), true),
            Account::new(password(&viewer.0, &viewer.1), false),
        ]),
        admin_url: Some(format!("{}/__admin", server.uri())),
        vars: vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        trust: Default::default(),
    };
    (server, target)
}

async fn run_vcloud(target: &LiveTarget) -> SuiteReport {
    let suite = load_suite("vcloud-events").expect("suite");
    run_suite(&suite, &TargetKind::Live(target.clone()), None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_vcloud_core_behind_wiremock_passes_its_whole_suite() {
    let (_server, target) = vcloud_fake(|r| r).await;
    let report = run_vcloud(&target).await;
    assert_eq!(
        report.count(Verdict::Pass),
        report.requirements.len(),
        "{}",
        report.table(160)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vcloud_that_answers_404_for_an_unknown_event_is_reported() {
    let (_server, target) = vcloud_fake(|r| {
        r.with_response_tweak(|req, mut resp| {
            if req.uri().path().starts_with("/api/admin/event/") && resp.status() == 403 {
                *resp.status_mut() = http::StatusCode::NOT_FOUND;
            }
            resp
        })
    })
    .await;
    let report = run_vcloud(&target).await;
    assert_eq!(
        verdict(&report, "VCD-D-012"),
        Verdict::Fail,
        "{}",
        report.table(160)
    );
    assert!(
        reasons(&report, "VCD-D-012").contains("expected 403"),
        "{}",
        reasons(&report, "VCD-D-012")
    );
    assert_eq!(verdict(&report, "VCD-D-007"), Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vcloud_that_reads_events_only_as_json_is_reported_per_representation() {
    // The server ignores an XML Accept on the event resource and answers JSON.
    let (_server, target) = vcloud_fake(|r| {
        r.with_request_tweak(|mut req| {
            let xml_accept = req
                .headers()
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("xml"));
            if req.uri().path().starts_with("/api/admin/event/") && xml_accept {
                req.headers_mut().insert(
                    "accept",
                    http::HeaderValue::from_static("application/*+json;version=37.2"),
                );
            }
            req
        })
    })
    .await;
    let report = run_vcloud(&target).await;
    assert_eq!(
        verdict(&report, "VCD-D-011"),
        Verdict::Fail,
        "{}",
        report.table(160)
    );
    let why = reasons(&report, "VCD-D-011");
    assert!(why.contains("[xml]"), "{why}");
    assert!(!why.contains("[json]"), "the JSON reads still pass: {why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vcloud_that_does_not_echo_the_version_is_reported() {
    let (_server, target) = vcloud_fake(|r| {
        r.with_response_tweak(|_, mut resp| {
            let bare = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(';').next().unwrap_or(v).to_owned());
            if let Some(bare) = bare.and_then(|b| http::HeaderValue::from_str(&b).ok()) {
                resp.headers_mut().insert("content-type", bare);
            }
            resp
        })
    })
    .await;
    let report = run_vcloud(&target).await;
    assert_eq!(
        verdict(&report, "VCD-D-003"),
        Verdict::Fail,
        "{}",
        report.table(160)
    );
    assert_eq!(verdict(&report, "VCD-D-012"), Verdict::Pass);
}
