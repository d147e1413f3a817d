//! The harness over HTTPS: every suite passes against the embedded mock serving TLS (each
//! server's own self-signed certificate trusted), and a live HTTPS target is reached only when
//! its certificate is trusted (`--ca-cert`) or checks are off (`--insecure`).

use event_harness::report::ScenarioOutcome;
use event_harness::target::Trust;
use event_harness::{load_suite, run_suite, Accounts, LiveTarget, TargetKind};
use event_mock::{MockConfig, MockServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_suite_passes_over_https() {
    for api in event_mock::apis::ids() {
        let suite = load_suite(api).unwrap();
        let report = run_suite(
            &suite,
            &TargetKind::EmbeddedTls(MockConfig::deterministic()),
            None,
        )
        .await;
        assert!(!report.is_failure(), "{api}:\n{}", report.table(160));
        assert_eq!(report.target, "embedded mock over HTTPS");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_https_target_is_reached_only_when_its_certificate_is_trusted() {
    let server = MockServer::start_tls_with(MockConfig::deterministic())
        .await
        .unwrap();
    let api = "mws-events";
    let suite = load_suite(api).unwrap();
    let only = vec!["create-seed-example".to_owned()];
    let target = |trust: Trust| {
        TargetKind::Live(LiveTarget {
            url: server.api_url(api).unwrap(),
            accounts: Accounts::new(server.mock().accounts(api).unwrap()),
            admin_url: Some(format!("{}/__admin", server.url())),
            vars: Default::default(),
            trust,
        })
    };
    let outcome = |report: &event_harness::SuiteReport| report.scenarios[0].outcome.clone();
    let trusted = Trust {
        ca_pem: server.certificate_pem().map(str::to_owned),
        accept_invalid_certs: false,
    };
    let report = run_suite(&suite, &target(trusted), Some(&only)).await;
    assert!(
        matches!(outcome(&report), ScenarioOutcome::Passed),
        "{:?}",
        outcome(&report)
    );
    let insecure = Trust {
        ca_pem: None,
        accept_invalid_certs: true,
    };
    let report = run_suite(&suite, &target(insecure), Some(&only)).await;
    assert!(
        matches!(outcome(&report), ScenarioOutcome::Passed),
        "{:?}",
        outcome(&report)
    );
    let report = run_suite(&suite, &target(Trust::default()), Some(&only)).await;
    match outcome(&report) {
        ScenarioOutcome::Failed(reasons) => {
            assert!(
                reasons.iter().any(|r| r.contains("request failed")),
                "{reasons:?}"
            )
        }
        other => panic!("an untrusted certificate was accepted: {other:?}"),
    }
}
