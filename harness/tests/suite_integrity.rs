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
fn xml_media_types_need_a_mapping_and_named_roots_must_exist() {
    // A spec that passes the meta-schema but declares XML without a mapping, or a root element
    // the mapping lacks, is refused when it loads.
    let dir = std::env::temp_dir().join(format!("spec-repr-{}", std::process::id()));
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/specs/xml-example");
    let original: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("spec.json")).unwrap()).unwrap();
    let mut no_mapping = original.clone();
    no_mapping.as_object_mut().unwrap().remove("xml");
    let mut unknown_root = original.clone();
    unknown_root["errors"]["xml_element"] = json!("Fault");
    let mut not_a_representation = original.clone();
    not_a_representation["media_types"]["response"] = json!(["text/html"]);
    let mut error_not_a_representation = original.clone();
    error_not_a_representation["media_types"]["error"] = json!(["text/html"]);
    // Two element definitions sharing a property need a discriminator each.
    let mut shared_property = original.clone();
    shared_property["xml"]["types"]["TasksInProgressType"]["elements"]
        .as_array_mut()
        .unwrap()
        .push(
            json!({"name": "OtherTask", "property": "task", "repeated": true, "type": "TaskType"}),
        );
    for (what, spec, expected) in [
        (
            "elements sharing a property without discriminators",
            shared_property,
            "type TasksInProgressType: property 'task' is mapped twice",
        ),
        (
            "an error media type that is neither JSON nor XML",
            error_not_a_representation,
            "neither JSON nor XML",
        ),
        ("XML without a mapping", no_mapping, "need an `xml` mapping"),
        (
            "an unknown root element",
            unknown_root,
            "'Fault' is not a root",
        ),
        (
            "a media type that is neither JSON nor XML",
            not_a_representation,
            "neither JSON nor XML",
        ),
    ] {
        let api_dir = dir.join("xml-example");
        std::fs::create_dir_all(api_dir.join("schemas")).unwrap();
        for schema in std::fs::read_dir(fixture.join("schemas")).unwrap() {
            let schema = schema.unwrap().path();
            std::fs::copy(
                &schema,
                api_dir.join("schemas").join(schema.file_name().unwrap()),
            )
            .unwrap();
        }
        std::fs::write(api_dir.join("spec.json"), spec.to_string()).unwrap();
        let loaded = spec::load_from(spec::SpecFiles::Dir(dir.clone()), "xml-example", &[]);
        match loaded {
            Ok(_) => panic!("a spec with {what} was loaded"),
            Err(e) => assert!(e.to_string().contains(expected), "{what}: {e}"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_meta_schema_checks_element_definitions_and_echo() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/specs/xml-example");
    let good: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("spec.json")).unwrap()).unwrap();
    check_against_meta_schema("fixture", &good).unwrap_or_else(|e| panic!("{e}"));
    let elements = "/xml/types/TasksInProgressType/elements/0";
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut spec = good.clone();
        edit(spec.pointer_mut(elements).unwrap());
        check_against_meta_schema("fixture", &spec)
    };
    let discriminator = json!({"property": "_type", "value": "QueryResultTaskType"});
    with(&|e| e["discriminator"] = discriminator.clone())
        .unwrap_or_else(|e| panic!("a discriminated element was refused: {e}"));
    for (what, edit) in [
        (
            "a discriminator without a value",
            &(|e: &mut Value| e["discriminator"] = json!({"property": "_type"}))
                as &dyn Fn(&mut Value),
        ),
        (
            "a discriminator with an unknown member",
            &|e: &mut Value| {
                e["discriminator"] = json!({"property": "_type", "value": "x", "when": "y"})
            },
        ),
        ("a discriminator on a simple element", &|e: &mut Value| {
            e.as_object_mut().unwrap().remove("type");
            e["discriminator"] = json!({"property": "_type", "value": "x"});
        }),
        ("an element with an unknown member", &|e: &mut Value| {
            e["kind"] = json!("x")
        }),
    ] {
        assert!(with(edit).is_err(), "meta-schema accepted {what}");
    }
    let mut echo_accept = good.clone();
    echo_accept["versioning"]["echo"] = json!(true);
    check_against_meta_schema("fixture", &echo_accept).unwrap_or_else(|e| panic!("{e}"));
}

/// The embedded specs skip these checks at run time (`spec::load_from`): the meta-schema, and
/// every schema they name compiling (their `$ref`s resolving, their patterns valid).
#[test]
fn every_spec_validates_against_the_meta_schema() {
    for api in spec::api_ids() {
        check_against_meta_schema(&api, &spec_json(&api)).unwrap_or_else(|e| panic!("{e}"));
        let loaded = event_mock::apis::spec(&api).unwrap_or_else(|e| panic!("{e}"));
        loaded
            .compile_all_schemas()
            .unwrap_or_else(|e| panic!("{e}"));
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
    // The typed model: versioning, auth schemes, media types, the body limit.
    let mut query_without_name = good.clone();
    query_without_name["versioning"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    cases.push((
        "query versioning without a parameter name",
        query_without_name,
    ));
    let mut integer_versions = good.clone();
    integer_versions["versioning"]["supported"] = json!([1, 2, 3]);
    cases.push(("versions that are not strings", integer_versions));
    let mut unknown_carrier = good.clone();
    unknown_carrier["versioning"]["in"] = json!("cookie");
    cases.push((
        "a version carrier that is not query, accept or path",
        unknown_carrier,
    ));
    let mut unknown_scheme = good.clone();
    unknown_scheme["auth"][0]["scheme"] = json!("oauth-magic");
    cases.push(("an unknown auth scheme", unknown_scheme));
    let mut token_without_header = good.clone();
    token_without_header["auth"][0] = json!({"scheme": "token"});
    cases.push(("a token scheme without its header", token_without_header));
    let mut session_without_login = good.clone();
    session_without_login["auth"][0] = json!({"scheme": "session", "login_with": "basic", "token_from": {"header": "x"}, "send_as": "bearer"});
    cases.push((
        "a session scheme without its login operation",
        session_without_login,
    ));
    let mut session_bad_carrier = good.clone();
    session_bad_carrier["auth"][0] = json!({"scheme": "session", "login": "login",
        "login_with": "basic", "token_from": {"header": "x"}, "send_as": "cookie"});
    cases.push((
        "a session token carried in an unknown way",
        session_bad_carrier,
    ));
    let mut no_body_limit = good.clone();
    no_body_limit.as_object_mut().unwrap().remove("body_limit");
    cases.push(("no body limit", no_body_limit));
    let mut limit_in_rules = good.clone();
    limit_in_rules["body_limit"]["max_bytes"] = json!("1 MiB");
    cases.push(("a body limit that is not a number", limit_in_rules));
    let mut response_types_as_text = good.clone();
    response_types_as_text["media_types"]["response"] = json!("application/json");
    cases.push((
        "response media types that are not a list",
        response_types_as_text,
    ));
    // Echoing the version belongs to the accept carrier only.
    let mut echo_in_query = good.clone();
    echo_in_query["versioning"]["echo"] = json!(true);
    cases.push(("an echoed version carried in the query", echo_in_query));
    let mut error_types_as_text = good.clone();
    error_types_as_text["media_types"]["error"] = json!("application/json");
    cases.push(("error media types that are not a list", error_types_as_text));
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

/// What names an API: its id, its module folder, its vendor (the first word of its spec's
/// title) and every header its spec declares (auth schemes, rules).
fn names_of_apis(root: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("mock/src/apis"))
        .expect("mock/src/apis")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    fn headers(value: &Value, out: &mut Vec<String>) {
        if let Value::Object(map) = value {
            for (key, v) in map {
                match v {
                    Value::String(s) if key == "header" || key.ends_with("_header") => {
                        out.push(s.clone())
                    }
                    Value::Object(inner) if key.ends_with("_headers") => {
                        out.extend(inner.keys().cloned())
                    }
                    _ => headers(v, out),
                }
            }
        } else if let Value::Array(items) = value {
            items.iter().for_each(|i| headers(i, out));
        }
    }
    for id in event_mock::apis::ids() {
        let spec = event_mock::apis::spec(id).unwrap();
        names.push(id.to_owned());
        if let Some(vendor) = spec.spec.title.split([' ', ',']).next() {
            names.push(vendor.to_owned());
        }
        headers(&spec.raw()["auth"], &mut names);
        headers(&spec.raw()["rules"], &mut names);
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn shared_code_names_no_api() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let names = names_of_apis(&root);
    assert!(names.len() > 6, "too few names to look for: {names:?}");
    let patterns: Vec<(String, regex::Regex)> = names
        .iter()
        .map(|n| {
            let re = format!(
                r"(?i)(^|[^A-Za-z0-9_-]){}($|[^A-Za-z0-9_-])",
                regex::escape(n)
            );
            (n.clone(), regex::Regex::new(&re).unwrap())
        })
        .collect();
    // Shared code: everything but the API folders and the registry (mock/src/apis/).
    let mut files = Vec::new();
    let mut dirs = vec![
        root.join("mock/src"),
        root.join("harness/src"),
        root.join("xtask/src"),
    ];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()) {
            let path = entry.path();
            if path.ends_with("mock/src/apis") {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 20, "found only {} shared files", files.len());
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            for (name, re) in &patterns {
                if re.is_match(line) {
                    offences.push(format!(
                        "{}:{}: names '{name}': {}",
                        file.strip_prefix(&root).unwrap_or(file).display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "shared code names an API (move it into the API's folder or its spec):\n{}",
        offences.join("\n")
    );
}
