//! Runs every case of `specs/mws-events/query-golden.json` against the `mongo` module and
//! reports all failures at once.

use event_mock::mongo::{parse_relaxed_json, Filter, SortSpec};
use serde_json::Value;
use std::collections::BTreeSet;

const GOLDEN: &str = include_str!("../../specs/mws-events/query-golden.json");

/// A case's query or sort: a JSON value, or a string in relaxed Mongo-shell syntax.
fn load(v: &Value, max_depth: usize) -> Result<Value, String> {
    match v {
        Value::String(text) => parse_relaxed_json(text, max_depth),
        other => Ok(other.clone()),
    }
}

fn run_case(case: &Value, docs: &[Value], max_depth: usize) -> Result<Vec<String>, String> {
    let query = load(&case["query"], max_depth)?;
    let filter = Filter::parse(&query).map_err(|e| format!("query rejected: {e}"))?;
    let mut hits: Vec<&Value> = docs.iter().filter(|d| filter.matches(d)).collect();
    if let Some(sort) = case.get("sort") {
        let sort = load(sort, max_depth)?;
        let spec = SortSpec::parse(&sort).map_err(|e| format!("sort rejected: {e}"))?;
        spec.sort(&mut hits);
    }
    Ok(hits
        .iter()
        .map(|d| d["id"].as_str().unwrap_or("?").to_owned())
        .collect())
}

fn run_invalid(entry: &Value, max_depth: usize) -> Result<String, String> {
    let mut errors = Vec::new();
    if let Some(q) = entry.get("query") {
        match load(q, max_depth) {
            Err(e) => errors.push(e),
            Ok(q) => {
                if let Err(e) = Filter::parse(&q) {
                    errors.push(e.to_string());
                }
            }
        }
    }
    if let Some(s) = entry.get("sort") {
        match load(s, max_depth) {
            Err(e) => errors.push(e),
            Ok(s) => {
                if let Err(e) = SortSpec::parse(&s) {
                    errors.push(e.to_string());
                }
            }
        }
    }
    if errors.is_empty() {
        Err("accepted".into())
    } else {
        Ok(errors.join(" | "))
    }
}

#[test]
fn golden_table() {
    let golden: Value = serde_json::from_str(GOLDEN).expect("golden file is valid JSON");
    let max_depth = golden["max_depth"].as_u64().expect("max_depth") as usize;
    let docs = golden["documents"].as_array().expect("documents");
    let cases = golden["cases"].as_array().expect("cases");
    let invalid = golden["invalid"].as_array().expect("invalid");

    let mut failures = Vec::new();
    let mut ids = BTreeSet::new();
    for case in cases {
        let id = case["id"].as_str().expect("case id");
        assert!(ids.insert(id.to_owned()), "duplicate case id {id}");
        let expect: Vec<String> = case["expect"]
            .as_array()
            .expect("expect")
            .iter()
            .map(|v| v.as_str().expect("expect ids are strings").to_owned())
            .collect();
        match run_case(case, docs, max_depth) {
            Err(e) => failures.push(format!("{id}: {e}")),
            Ok(got) if case.get("sort").is_some() => {
                if got != expect {
                    failures.push(format!("{id}: expected order {expect:?}, got {got:?}"));
                }
            }
            Ok(got) => {
                let (want, have): (BTreeSet<_>, BTreeSet<_>) =
                    (expect.iter().collect(), got.iter().collect());
                if want != have {
                    // Show the difference only: many expectations list most of the collection.
                    let missing: Vec<_> = want.difference(&have).collect();
                    let unexpected: Vec<_> = have.difference(&want).collect();
                    failures.push(format!(
                        "{id}: missing {missing:?}, unexpected {unexpected:?} (query {})",
                        case["query"]
                    ));
                }
            }
        }
    }
    for entry in invalid {
        let id = entry["id"].as_str().expect("invalid id");
        assert!(ids.insert(id.to_owned()), "duplicate id {id}");
        let needle = entry["error_contains"].as_str().expect("error_contains");
        match run_invalid(entry, max_depth) {
            Err(_) => failures.push(format!(
                "{id}: expected an error containing {needle:?}, but it was accepted"
            )),
            Ok(msg) if !msg.contains(needle) => failures.push(format!(
                "{id}: expected an error containing {needle:?}, got {msg:?}"
            )),
            Ok(_) => {}
        }
    }

    assert!(cases.len() >= 70, "golden table needs at least 70 cases");
    assert!(
        invalid.len() >= 10,
        "golden table needs at least 10 invalid entries"
    );
    assert!(
        failures.is_empty(),
        "{} of {} golden entries failed:\n{}",
        failures.len(),
        cases.len() + invalid.len(),
        failures.join("\n")
    );
}

/// Every query in the golden table also parses from its relaxed-JSON rendering, so the
/// URL-parameter path sees the same semantics as the JSON-value path.
#[test]
fn golden_queries_survive_relaxed_round_trip() {
    let golden: Value = serde_json::from_str(GOLDEN).expect("golden file is valid JSON");
    for case in golden["cases"].as_array().expect("cases") {
        if let q @ (Value::Object(_) | Value::Array(_)) = &case["query"] {
            let text = serde_json::to_string(q).expect("serialize");
            let back = parse_relaxed_json(&text, 64).expect("relaxed parser accepts strict JSON");
            assert_eq!(&back, q, "{}", case["id"]);
        }
    }
}
