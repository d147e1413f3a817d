//! The panic backstop: an API whose handler panics is answered with that API's own 500, in
//! its envelope and negotiated representation; the mock keeps serving and counts the panic.
//! (The robustness runs assert the count stays 0: the backstop is never how an answer is made.)

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use event_mock::api::{Account, Api, Ctx};
use event_mock::spec::{self, LoadedSpec, SpecFiles};
use event_mock::wire::{Reply, Request};
use event_mock::{Mock, MockConfig};

struct Panicking(Arc<LoadedSpec>);

impl Api for Panicking {
    fn spec(&self) -> &LoadedSpec {
        &self.0
    }
    fn handle(&self, req: &Request, _ctx: &Ctx<'_>) -> Reply {
        // An index out of bounds, as a bug would.
        let empty: Vec<u8> = Vec::new();
        let _ = empty[req.uri().path().len()];
        unreachable!()
    }
    fn reset(&self) {}
    fn accounts(&self) -> Vec<Account> {
        Vec::new()
    }
}

fn request(accept: &str) -> Request {
    http::Request::builder()
        .method("GET")
        .uri("/api/admin/event/x")
        .header("accept", accept)
        .body(Bytes::new())
        .unwrap()
}

#[test]
fn a_panicking_handler_gets_the_apis_own_500_and_the_mock_keeps_serving() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../harness/tests/data/specs");
    let spec = spec::load_from(SpecFiles::Dir(dir), "xml-example", &[]).expect("fixture spec");
    let api: Arc<dyn Api> = Arc::new(Panicking(Arc::new(spec)));
    let mock = Mock::with_apis(MockConfig::deterministic(), vec![api]);
    // Keep the expected panic messages out of the test output.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let as_xml = mock.handle(request("application/*+xml"));
    let as_json = mock.handle(request("application/*+json"));
    std::panic::set_hook(hook);
    assert_eq!(as_xml.status(), 500);
    let xml = String::from_utf8_lossy(as_xml.body()).into_owned();
    assert!(
        xml.contains("<Error ") && xml.contains("INTERNAL_SERVER_ERROR"),
        "{xml}"
    );
    assert_eq!(as_json.status(), 500);
    let json: serde_json::Value = serde_json::from_slice(as_json.body()).expect("JSON body");
    assert_eq!(json["minorErrorCode"], "INTERNAL_SERVER_ERROR");
    assert_eq!(json["majorErrorCode"], 500);
    assert_eq!(mock.panics_caught(), 2);
    // The control plane still answers.
    let health = mock.handle(
        http::Request::builder()
            .uri("/__admin/health")
            .body(Bytes::new())
            .unwrap(),
    );
    assert_eq!(health.status(), 200);
}
