//! Absolute URLs in answers (MWS's `Location`) come from the configured public URL, or the
//! address the server is bound to; never from the `Host` a client sent.

use bytes::Bytes;
use event_mock::{Mock, MockConfig, MockServer, Response};

fn create(mock: &Mock, host: &str) -> Response {
    let event = br#"{"eventType":"x","severity":"INFO","eventDate":"2024-06-10 17:13:31 UTC"}"#;
    let req = http::Request::builder()
        .method("POST")
        .uri("/mws/rest/events?api-version=3")
        .header("host", host)
        .header("authorization", "Basic YWRtaW46c2VjcmV0")
        .header("content-type", "application/json")
        .body(Bytes::from_static(event))
        .unwrap();
    mock.handle(req)
}

fn location(resp: &Response) -> String {
    assert_eq!(resp.status(), 201);
    resp.headers()["location"].to_str().unwrap().to_owned()
}

#[test]
fn location_ignores_the_clients_host() {
    let mut config = MockConfig::deterministic();
    config.public_url = Some("https://mock.example:8443".into());
    let mock = Mock::new(config).unwrap();
    let url = location(&create(&mock, "attacker.example"));
    assert!(
        url.starts_with("https://mock.example:8443/mws/rest/events/"),
        "{url}"
    );
    // No public URL and no server: a fixed local origin, still not the client's Host.
    let mock = Mock::new(MockConfig::deterministic()).unwrap();
    let url = location(&create(&mock, "attacker.example"));
    assert!(!url.contains("attacker"), "{url}");
}

#[tokio::test]
async fn the_server_uses_its_bound_address() {
    let server = MockServer::start_with(MockConfig::deterministic())
        .await
        .unwrap();
    let url = location(&create(server.mock(), "attacker.example"));
    assert!(
        url.starts_with(&format!("{}/mws/rest/events/", server.url())),
        "{url}"
    );
}
