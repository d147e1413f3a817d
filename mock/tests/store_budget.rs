//! The stores' shared budget: a count cap and a byte budget for every API together, refusal in
//! the API's own envelope or eviction of the oldest when full, and a reset that gives the memory
//! back. Live heap bytes are measured with a counting allocator (this test binary only).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use bytes::Bytes;
use event_mock::config::{StoreLimits, WhenFull};
use event_mock::{Mock, MockConfig, Response};
use serde_json::{json, Value};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The allocation counter is global: the tests of this file run one at a time, so another
/// test's frees cannot land inside a measurement.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn post(mock: &Mock, message_bytes: usize, n: usize) -> Response {
    let event = json!({"eventType": "big", "severity": "INFO", "eventDate": "2024-06-10 17:13:31 UTC",
                       "origin": format!("o{n}"), "message": "m".repeat(message_bytes)});
    let req = http::Request::builder()
        .method("POST")
        .uri("/mws/rest/events?api-version=3")
        .header("authorization", "Basic YWRtaW46c2VjcmV0")
        .header("content-type", "application/json")
        .body(Bytes::from(serde_json::to_vec(&event).unwrap()))
        .unwrap();
    mock.handle(req)
}

fn with_limits(max_items: usize, max_bytes: usize, when_full: WhenFull) -> Mock {
    let mut config = MockConfig::deterministic();
    config.store = StoreLimits {
        max_items,
        max_bytes,
        when_full,
    };
    Mock::new(config).unwrap()
}

fn list(mock: &Mock) -> Vec<Value> {
    let req = http::Request::builder()
        .uri("/__admin/mws-events/events")
        .body(Bytes::new())
        .unwrap();
    serde_json::from_slice::<Value>(mock.handle(req).body())
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn a_full_budget_refuses_in_the_vendors_envelope_and_changes_nothing() {
    let _serial = one_at_a_time();
    // Bytes: 240 KiB messages against a 1 MiB budget.
    let mock = with_limits(1_000_000, 1024 * 1024, WhenFull::Refuse);
    let statuses: Vec<u16> = (0..8)
        .map(|n| post(&mock, 240 * 1024, n).status().as_u16())
        .collect();
    let stored = statuses.iter().filter(|s| **s == 201).count();
    assert!((3..=4).contains(&stored), "{statuses:?}");
    let refused = post(&mock, 240 * 1024, 99);
    assert_eq!(refused.status(), 500);
    let body: Value = serde_json::from_slice(refused.body()).unwrap();
    assert!(
        body["messages"].as_array().is_some_and(|m| !m.is_empty()),
        "MWS's envelope: {body}"
    );
    assert_eq!(list(&mock).len(), stored, "a refused event is not stored");
    // Count: the 4th event of a 3-item budget gets MWS's 500, not a bare one.
    let mock = with_limits(3, usize::MAX, WhenFull::Refuse);
    for n in 0..3 {
        assert_eq!(post(&mock, 10, n).status(), 201);
    }
    let fourth = post(&mock, 10, 3);
    assert_eq!(fourth.status(), 500);
    assert!(serde_json::from_slice::<Value>(fourth.body()).unwrap()["messages"].is_array());
}

#[test]
fn a_full_budget_evicts_the_oldest_when_told_to() {
    let _serial = one_at_a_time();
    let mock = with_limits(3, usize::MAX, WhenFull::EvictOldest);
    for n in 0..5 {
        assert_eq!(post(&mock, 10, n).status(), 201);
    }
    let origins: Vec<Value> = list(&mock).iter().map(|e| e["origin"].clone()).collect();
    assert_eq!(origins, vec![json!("o2"), json!("o3"), json!("o4")]);
    assert_eq!(mock.budget().items(), 3);
}

#[test]
fn a_reset_gives_the_memory_back() {
    let _serial = one_at_a_time();
    let mock = with_limits(1_000_000, usize::MAX, WhenFull::Refuse);
    // Warm up whatever the first request allocates once (spec caches, schema validators).
    assert_eq!(post(&mock, 10, 0).status(), 201);
    mock.reset();
    let before = LIVE.load(Ordering::Relaxed);
    for n in 0..40 {
        assert_eq!(post(&mock, 100 * 1024, n).status(), 201);
    }
    let full = LIVE.load(Ordering::Relaxed);
    assert!(
        full - before > 4_000_000,
        "40 events of 100 KiB should hold > 4 MB, held {}",
        full - before
    );
    assert!(mock.budget().bytes() > 4_000_000);
    mock.reset();
    let after = LIVE.load(Ordering::Relaxed);
    assert!(
        after - before < 512 * 1024,
        "a reset should release the events' memory: {} bytes still held",
        after - before
    );
    assert_eq!((mock.budget().items(), mock.budget().bytes()), (0, 0));
}
