//! Every scenario file of every API is its own test case: it passes against a fresh embedded mock,
//! and its normalised transcript matches the committed snapshot under `snapshots/<api>/`. A
//! failure names the scenario's file. Suite-wide facts (coverage, verdicts) are checked in
//! `suite_integrity.rs`.

use std::path::PathBuf;
use std::sync::OnceLock;

use event_harness::report::ScenarioOutcome;
use event_harness::runner::run_embedded;
use event_harness::target::http_client;
use event_harness::{load_suite, Suite, TargetKind};
use event_mock::MockConfig;
use rstest::rstest;

/// The suites, loaded once for every test case of this binary.
fn suite(api: &str) -> &'static Suite {
    static SUITES: OnceLock<Vec<Suite>> = OnceLock::new();
    SUITES
        .get_or_init(|| {
            event_mock::apis::ids()
                .into_iter()
                .map(|id| load_suite(id).unwrap_or_else(|e| panic!("{e}")))
                .collect()
        })
        .iter()
        .find(|s| s.api() == api)
        .unwrap_or_else(|| panic!("no registered API '{api}'"))
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario(#[files("../specs/*/scenarios/*.json")] file: PathBuf) {
    let api = file
        .parent()
        .and_then(|scenarios| scenarios.parent())
        .and_then(|api| api.file_name())
        .and_then(|name| name.to_str())
        .expect("specs/<api>/scenarios/<file>.json");
    let suite = suite(api);
    let file_name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let scenario = suite
        .scenarios
        .iter()
        .find(|s| s.file.ends_with(&format!("/{file_name}")))
        .unwrap_or_else(|| panic!("{} is not loaded by the suite", file.display()));
    let result = run_embedded(
        &http_client(),
        suite,
        scenario,
        &TargetKind::Embedded(MockConfig::deterministic()),
    )
    .await;
    assert!(
        matches!(result.outcome, ScenarioOutcome::Passed),
        "{} ({}): {:?}",
        scenario.name,
        scenario.file,
        result.outcome
    );
    insta::with_settings!({
        snapshot_path => format!("../../snapshots/{api}"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
        description => scenario.file.clone(),
    }, {
        insta::assert_json_snapshot!(scenario.name.clone(), result.transcript);
    });
}
