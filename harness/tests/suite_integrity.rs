//! The specs folder is the contract: every spec validates against the meta-schema, every
//! requirement has at least one scenario, and broken specs and scenarios are refused.

use event_harness::load_suite;
use event_mock::spec::{self, check_against_meta_schema};
use serde_json::{json, Value};

fn spec_json(api: &str) -> Value {
    serde_json::from_str(spec::file_text(&format!("{api}/spec.json")).expect("spec.json"))
        .expect("JSON")
}

#[test]
fn every_spec_validates_against_the_meta_schema() {
    for api in spec::api_ids() {
        check_against_meta_schema(&api, &spec_json(&api)).unwrap_or_else(|e| panic!("{e}"));
        event_mock::apis::spec(&api).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn the_meta_schema_refuses_broken_specs() {
    let good = spec_json("mws-events");
    let mut cases: Vec<(&str, Value)> = Vec::new();
    let mut missing_requirements = good.clone();
    missing_requirements
        .as_object_mut()
        .unwrap()
        .remove("requirements");
    cases.push(("no requirements", missing_requirements));
    let mut bad_basis = good.clone();
    bad_basis["requirements"][0]["basis"] = json!("guessed");
    cases.push(("unknown basis", bad_basis));
    let mut no_source = good.clone();
    no_source["requirements"][0]
        .as_object_mut()
        .unwrap()
        .remove("source");
    cases.push(("requirement without source", no_source));
    let mut bad_id = good.clone();
    bad_id["requirements"][0]["id"] = json!("mws 1");
    cases.push(("malformed requirement id", bad_id));
    let mut rule_without_source = good.clone();
    rule_without_source["rules"]["date_format"]
        .as_object_mut()
        .unwrap()
        .remove("source");
    cases.push(("rule without source", rule_without_source));
    let mut bad_status = good.clone();
    bad_status["errors"]["kinds"]["forbidden"]["status"] = json!(200);
    cases.push(("error kind with a success status", bad_status));
    for (what, spec) in cases {
        assert!(
            check_against_meta_schema("test", &spec).is_err(),
            "meta-schema accepted a spec with {what}"
        );
    }
}

#[test]
fn every_requirement_has_a_scenario_and_every_scenario_a_known_requirement() {
    for api in spec::api_ids() {
        let suite = load_suite(&api).unwrap_or_else(|e| panic!("{e}"));
        let uncovered: Vec<&str> = suite
            .spec
            .spec
            .requirements
            .iter()
            .filter(|r| {
                !suite
                    .scenarios
                    .iter()
                    .any(|s| s.requirements.contains(&r.id))
            })
            .map(|r| r.id.as_str())
            .collect();
        assert!(
            uncovered.is_empty(),
            "{api}: requirements without a scenario: {uncovered:?}"
        );
        let mut ids: Vec<&str> = suite
            .spec
            .spec
            .requirements
            .iter()
            .map(|r| r.id.as_str())
            .collect();
        let before = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(before, ids.len(), "{api}: duplicate requirement ids");
    }
}

#[test]
fn every_error_kind_the_spec_declares_renders_in_its_own_schema() {
    for api in spec::api_ids() {
        let loaded = event_mock::apis::spec(&api).unwrap();
        for (name, kind) in &loaded.spec.errors.kinds {
            if kind.messages.is_empty() {
                continue;
            }
            let body = json!({ "messages": kind.messages });
            let violations = loaded
                .schemas
                .violations(&loaded.spec.errors.schema, &body)
                .unwrap();
            assert!(
                violations.is_empty(),
                "{api}: error kind {name} breaks {}: {violations:?}",
                loaded.spec.errors.schema
            );
        }
    }
}

#[test]
fn a_requirement_without_a_scenario_is_uncovered_and_fails_the_run() {
    let loaded = event_mock::apis::spec("mws-events").unwrap();
    let report =
        event_harness::SuiteReport::new(&loaded, "nowhere".into(), Vec::new(), &Default::default());
    assert_eq!(
        report.count(event_harness::Verdict::Uncovered),
        loaded.spec.requirements.len()
    );
    assert!(report.is_failure());
    assert!(report.table(120).contains("UNCOVERED"));
}
