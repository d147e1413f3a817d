//! A reset gives a large load's memory back to the operating system: the process's resident
//! size after a reset is close to what it was before the load (Linux, where /proc tells it).

use bytes::Bytes;
use event_mock::{Mock, MockConfig};
use serde_json::json;

fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn seed(mock: &Mock, count: usize, message_bytes: usize) {
    let events: Vec<_> = (0..count)
        .map(|i| {
            json!({"id": format!("{i:024x}"), "eventType": "big", "severity": "INFO",
                   "eventDate": "2024-06-10 17:13:31 UTC", "message": "m".repeat(message_bytes)})
        })
        .collect();
    let req = http::Request::builder()
        .method("POST")
        .uri("/__admin/mws-events/events")
        .header("content-type", "application/json")
        .body(Bytes::from(serde_json::to_vec(&events).unwrap()))
        .unwrap();
    assert_eq!(mock.handle(req).status(), 201);
}

#[test]
fn a_reset_returns_the_memory_of_a_large_load() {
    let Some(start) = resident_bytes() else {
        eprintln!("SKIP: /proc/self/statm is not available here");
        return;
    };
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    seed(&mock, 1, 10);
    mock.reset();
    let before = resident_bytes().unwrap().max(start);
    // 400 events of 60 KiB: blocks small enough that the allocator keeps them in its arenas.
    seed(&mock, 400, 60 * 1024);
    let loaded = resident_bytes().unwrap();
    assert!(
        loaded > before + 20_000_000,
        "the load should take > 20 MB resident, took {}",
        loaded.saturating_sub(before)
    );
    mock.reset();
    let after = resident_bytes().unwrap();
    assert!(
        after < before + 8_000_000,
        "after a reset {} MB stay resident of the {} MB the load took",
        after.saturating_sub(before) / 1_000_000,
        loaded.saturating_sub(before) / 1_000_000
    );
}
