//! GET /rest/events over 100,000 stored events, through the sans-IO core (no sockets), release
//! mode. Run: `cargo bench -p event-mock --bench query`. Figures: docs/benchmarks.md.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use event_mock::{Mock, MockConfig};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};

const EVENTS: usize = 100_000;
const AUTH: &str = "Basic YWRtaW46c2VjcmV0"; // admin:secret

fn request(method: &str, uri: &str, body: Vec<u8>) -> event_mock::Request {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", AUTH)
        .header("content-type", "application/json")
        .body(Bytes::from(body))
        .expect("request")
}

/// 100,000 MWS-shaped events: 8 types, 4 severities, dates over a year, 0-3 associated objects.
fn seeded_mock() -> Mock {
    let mock = Mock::new(MockConfig::deterministic()).expect("mock");
    let mut rng = StdRng::seed_from_u64(42);
    let types = [
        "VM Provision",
        "Service Create",
        "Job Fail",
        "Node Down",
        "Reservation Create",
        "Job Start",
        "Job End",
        "Node Up",
    ];
    let severities = ["INFO", "WARN", "ERROR", "FATAL"];
    let events: Vec<Value> = (0..EVENTS)
        .map(|i| {
            let day = rng.gen_range(1..=28);
            let month = rng.gen_range(1..=12);
            let objects: Vec<Value> = (0..rng.gen_range(0..4))
                .map(|_| {
                    let kind = ["VM", "Service", "Node"][rng.gen_range(0..3)];
                    json!({"type": kind, "id": format!("obj{}", rng.gen_range(0..5000))})
                })
                .collect();
            let event_type = types[rng.gen_range(0..types.len())];
            let severity = severities[rng.gen_range(0..severities.len())];
            json!({
                "arguments": [format!("arg{i}")],
                "associatedObjects": objects,
                "code": rng.gen_range(0..i32::MAX),
                "eventDate": format!("2025-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rng.gen_range(0..24), rng.gen_range(0..60), rng.gen_range(0..60)),
                "eventType": event_type,
                "message": format!("event number {i}"),
                "origin": "bench",
                "severity": severity,
            })
        })
        .collect();
    let resp = mock.handle(request(
        "POST",
        "/__admin/mws-events/events",
        serde_json::to_vec(&events).unwrap(),
    ));
    assert_eq!(resp.status(), 201, "seeding failed: {:?}", resp.body());
    mock
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn list_uri(query: Option<&str>, sort: Option<&str>, paging: &str) -> String {
    let mut uri = "/mws/rest/events?api-version=3".to_owned();
    if let Some(q) = query {
        uri.push_str(&format!("&query={}", encode(q)));
    }
    if let Some(s) = sort {
        uri.push_str(&format!("&sort={}", encode(s)));
    }
    uri.push_str(paging);
    uri
}

fn bench(c: &mut Criterion) {
    let mock = seeded_mock();
    let cases = [
        // The figure the README quotes: a filter, a sort and offset/max, as in the seed's example.
        (
            "filter+sort+offset/max",
            list_uri(
                Some(r#"{"eventType":"VM Provision","severity":{"$in":["ERROR","WARN"]}}"#),
                Some(r#"{"eventDate":-1}"#),
                "&offset=50&max=10",
            ),
        ),
        (
            "sort+offset/max, no filter",
            list_uri(None, Some(r#"{"eventDate":-1}"#), "&offset=50&max=10"),
        ),
        (
            "filter on array path ($ne), max=10",
            list_uri(
                Some(r#"{"associatedObjects.id":{"$ne":"obj42"}}"#),
                None,
                "&max=10",
            ),
        ),
        (
            "date range + sort on code",
            list_uri(
                Some(
                    r#"{"eventDate":{"$gte":"2025-03-01 00:00:00 UTC","$lt":"2025-04-01 00:00:00 UTC"}}"#,
                ),
                Some(r#"{"code":1}"#),
                "&max=10",
            ),
        ),
        // Reference point within the same run: a full scan with no sort and nothing returned.
        (
            "scan only (no match)",
            list_uri(Some(r#"{"eventType":"No Such Type"}"#), None, ""),
        ),
    ];
    let mut group = c.benchmark_group("mws list over 100k events");
    group.sample_size(20);
    for (name, uri) in &cases {
        let check = mock.handle(request("GET", uri, Vec::new()));
        assert_eq!(check.status(), 200, "{name}: {:?}", check.body());
        group.bench_function(*name, |b| {
            b.iter(|| mock.handle(request("GET", uri, Vec::new())))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
