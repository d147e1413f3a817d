//! Every scenario of every API passes against the embedded mock, and its normalised transcript
//! matches the committed snapshot under `snapshots/<api>/`.

use event_harness::{load_suite, run_suite, TargetKind};
use event_mock::MockConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_passes_against_the_mock_and_matches_its_snapshot() {
    let apis = event_mock::spec::api_ids();
    assert!(!apis.is_empty(), "no API specs found under specs/");
    for api in apis {
        let suite = load_suite(&api).unwrap_or_else(|e| panic!("{e}"));
        assert!(!suite.scenarios.is_empty(), "{api} has no scenarios");
        let report = run_suite(
            &suite,
            &TargetKind::Embedded(MockConfig::deterministic()),
            None,
        )
        .await;
        let failures: Vec<String> = report
            .scenarios
            .iter()
            .filter(|s| !s.passed())
            .map(|s| format!("{} ({}): {:?}", s.name, s.file, s.outcome))
            .collect();
        assert!(
            failures.is_empty(),
            "scenarios failing against the mock:\n{}",
            failures.join("\n")
        );
        assert!(!report.is_failure(), "{}", report.table(160));
        for scenario in &report.scenarios {
            insta::with_settings!({
                snapshot_path => format!("../../snapshots/{api}"),
                prepend_module_to_snapshot => false,
                omit_expression => true,
                description => scenario.file.clone(),
            }, {
                insta::assert_json_snapshot!(scenario.name.clone(), scenario.transcript);
            });
        }
    }
}
