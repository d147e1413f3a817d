//! The compact stored form (`event_mock::compact`) answers every case of the MongoDB golden
//! table (`specs/mws-events/query-golden.json`) exactly as the `serde_json::Value` path does:
//! the same documents, in the same order, for every query and sort.

use event_mock::compact::{CompactDoc, DocRef};
use event_mock::mongo::{parse_relaxed_json, Filter, SortSpec};
use serde_json::Value;

const GOLDEN: &str = include_str!("../../specs/mws-events/query-golden.json");

/// Every case of the golden table gives the same answer on the compact form as on `Value`.
#[test]
fn matcher_and_sort_agree_with_the_value_path_on_the_golden_table() {
    let golden: Value = serde_json::from_str(GOLDEN).unwrap();
    let max_depth = golden["max_depth"].as_u64().unwrap() as usize;
    let docs = golden["documents"].as_array().unwrap();
    let compact: Vec<CompactDoc> = docs.iter().map(CompactDoc::encode).collect();
    let load = |v: &Value| match v {
        Value::String(text) => parse_relaxed_json(text, max_depth).ok(),
        other => Some(other.clone()),
    };
    let mut checked = 0;
    for case in golden["cases"].as_array().unwrap() {
        let Some(filter) = load(&case["query"]).and_then(|q| Filter::parse(&q).ok()) else {
            continue;
        };
        let mut by_value: Vec<&Value> = docs.iter().filter(|d| filter.matches(d)).collect();
        let mut by_doc: Vec<DocRef<'_>> = compact
            .iter()
            .map(CompactDoc::view)
            .filter(|d| filter.matches_doc(*d))
            .collect();
        if let Some(sort) = case.get("sort") {
            let sort = SortSpec::parse(&load(sort).unwrap()).unwrap();
            sort.sort(&mut by_value);
            sort.sort_docs(&mut by_doc);
        }
        let by_doc: Vec<Value> = by_doc.into_iter().map(DocRef::to_value).collect();
        let by_value: Vec<Value> = by_value.into_iter().cloned().collect();
        assert_eq!(by_doc, by_value, "case {}", case["id"]);
        checked += 1;
    }
    assert!(checked > 100, "only {checked} cases ran");
}
