//! The transport against hostile clients: timeouts (headers, body, idle), the connection cap,
//! body limits decided before the body is read (413 unread), the API's own 413 over HTTP/2, and
//! the control plane on non-loopback binds. Every server listens on loopback (one binds
//! 0.0.0.0 and is reached through 127.0.0.1); limits are small and timeouts short, so each test
//! takes a second or two, and each is bounded by `within`.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use event_mock::api::Credential;
use event_mock::apis::mws::config::MwsConfig;
use event_mock::{MockConfig, MockServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

// --- The transport's entry points under test. ---
use event_mock::server::ServerLimits;

async fn start(
    config: MockConfig,
    address: SocketAddr,
    limits: ServerLimits,
) -> std::io::Result<MockServer> {
    MockServer::bind_with(config, address, limits).await
}
// --- end ---

const HEADER_TIMEOUT: Duration = Duration::from_millis(600);
const BODY_TIMEOUT: Duration = Duration::from_millis(600);
const IDLE_TIMEOUT: Duration = Duration::from_millis(600);
/// How much later than its timeout a connection may be closed (scheduling, the shutdown grace
/// of an idle HTTP/2 connection).
const SLACK: Duration = Duration::from_millis(2500);
const UNCLAIMED_LIMIT: usize = 1024;
/// The MWS body limit in these tests (its own setting, so bodies stay small).
const API_LIMIT: usize = 2048;

fn limits() -> ServerLimits {
    ServerLimits {
        header_timeout: HEADER_TIMEOUT,
        body_timeout: BODY_TIMEOUT,
        idle_timeout: IDLE_TIMEOUT,
        max_connections: 64,
        unclaimed_body_limit: UNCLAIMED_LIMIT,
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn config() -> MockConfig {
    let mut config = MockConfig::deterministic();
    config.edit::<MwsConfig>(|c| c.max_body_bytes = Some(API_LIMIT));
    config
}

async fn server_with(config: MockConfig, limits: ServerLimits) -> MockServer {
    start(config, loopback(), limits).await.expect("server")
}

/// Every test is bounded in time, whatever the server does.
async fn within<T>(seconds: u64, test: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(seconds), test)
        .await
        .expect("the test ran out of time: the server never answered or closed")
}

/// `Authorization: Basic ...` for the MWS account the mock lists first.
fn mws_basic(server: &MockServer) -> String {
    use base64::Engine as _;
    let accounts = server.mock().accounts("mws-events").expect("mws is served");
    let Credential::Password { user, password } = &accounts[0].credential else {
        panic!("MWS accounts are user and password");
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// Read until the peer closes (EOF or reset); `None` if it is still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// Read one HTTP/1.1 response (head and a `Content-Length` body); `None` if it does not come
/// within `limit`.
async fn response_within(stream: &mut TcpStream, limit: Duration) -> Option<(String, Vec<u8>)> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if seen.len() >= end + 4 + length {
                return Some((head, seen[end + 4..end + 4 + length].to_vec()));
            }
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
}

async fn connect(server: &MockServer) -> TcpStream {
    TcpStream::connect(server.address()).await.expect("connect")
}

#[tokio::test]
async fn an_oversize_post_to_an_unclaimed_path_is_refused_before_its_body_is_sent() {
    within(10, async {
        let server = server_with(config(), limits()).await;
        // 200 MB announced, not one byte of it sent: the 413 comes anyway.
        let mut stream = connect(&server).await;
        stream
            .write_all(
                b"POST /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 200000000\r\n\
                  Content-Type: application/octet-stream\r\n\r\n",
            )
            .await
            .unwrap();
        let (head, body) = response_within(&mut stream, Duration::from_secs(2))
            .await
            .expect("a 413 before any of the body was sent");
        assert!(head.starts_with("http/1.1 413"), "{head}");
        assert!(head.contains("connection: close"), "{head}");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("a JSON body");
        assert!(body["error"].as_str().unwrap().contains("1024"), "{body}");

        // A chunked body (no length announced) is cut at the small limit.
        let mut stream = connect(&server).await;
        let chunk = vec![b'x'; 4 * UNCLAIMED_LIMIT];
        let mut request = b"POST /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                            Transfer-Encoding: chunked\r\n\r\n"
            .to_vec();
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(&chunk);
        request.extend_from_slice(b"\r\n");
        stream.write_all(&request).await.unwrap();
        let (head, _) = response_within(&mut stream, Duration::from_secs(2))
            .await
            .expect("an answer");
        assert!(head.starts_with("http/1.1 413"), "{head}");

        // Within the limit, the path is simply not there.
        let mut stream = connect(&server).await;
        stream
            .write_all(b"POST /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello")
            .await
            .unwrap();
        let (head, _) = response_within(&mut stream, Duration::from_secs(2))
            .await
            .expect("an answer");
        assert!(head.starts_with("http/1.1 404"), "{head}");
    })
    .await
}

#[tokio::test]
async fn without_the_control_plane_admin_paths_get_the_small_limit_too() {
    within(10, async {
        let server = server_with(
            MockConfig {
                admin: false,
                ..config()
            },
            limits(),
        )
        .await;
        let mut stream = connect(&server).await;
        stream
            .write_all(
                b"POST /__admin/faults HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                  Content-Length: 200000000\r\n\r\n",
            )
            .await
            .unwrap();
        let (head, _) = response_within(&mut stream, Duration::from_secs(2))
            .await
            .expect("a 413 before any of the body was sent");
        assert!(head.starts_with("http/1.1 413"), "{head}");
    })
    .await
}

#[tokio::test]
async fn control_plane_bodies_without_the_admin_token_are_refused_unread() {
    within(10, async {
        let server = server_with(
            MockConfig {
                admin_token: Some("s3cret-token".to_owned()),
                ..config()
            },
            limits(),
        )
        .await;
        let mut stream = connect(&server).await;
        stream
            .write_all(
                b"POST /__admin/faults HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                  Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n",
            )
            .await
            .unwrap();
        let (head, _) = response_within(&mut stream, Duration::from_secs(2))
            .await
            .expect("a 413 before any of the body was sent");
        assert!(head.starts_with("http/1.1 413"), "{head}");
    })
    .await
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_header_timeout() {
    within(10, async {
        let server = server_with(config(), limits()).await;
        let mut stream = connect(&server).await;
        let opened = Instant::now();
        let seen = closed_within(&mut stream, HEADER_TIMEOUT + SLACK)
            .await
            .expect("the server closes a connection that never sends a request");
        assert!(opened.elapsed() >= HEADER_TIMEOUT / 2, "closed too early");
        assert!(
            seen.is_empty() || seen.starts_with(b"HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&seen)
        );
    })
    .await
}

#[tokio::test]
async fn a_trickling_request_head_is_closed_after_the_header_timeout() {
    within(10, async {
        let server = server_with(config(), limits()).await;
        let stream = connect(&server).await;
        let (mut reader, mut writer) = stream.into_split();
        // One header line every 50 ms, for far longer than the header timeout.
        let trickle = tokio::spawn(async move {
            let _ = writer
                .write_all(b"GET /__admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .await;
            for i in 0..200 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if writer
                    .write_all(format!("X-Slow-{i}: x\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        let deadline = Instant::now() + HEADER_TIMEOUT + SLACK;
        let mut buf = [0u8; 1024];
        let closed = loop {
            match tokio::time::timeout_at(deadline, reader.read(&mut buf)).await {
                Err(_) => break false,
                Ok(Ok(0)) | Ok(Err(_)) => break true,
                Ok(Ok(_)) => {}
            }
        };
        trickle.abort();
        assert!(
            closed,
            "a request head trickled forever keeps its connection"
        );
    })
    .await
}

#[tokio::test]
async fn a_stalled_http2_preface_is_closed_after_the_header_timeout() {
    within(10, async {
        let server = server_with(config(), limits()).await;
        let mut stream = connect(&server).await;
        // All but the last byte of the HTTP/2 preface: the server cannot tell the version yet.
        stream
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r")
            .await
            .unwrap();
        assert!(
            closed_within(&mut stream, HEADER_TIMEOUT + SLACK)
                .await
                .is_some(),
            "a stalled preface keeps its connection"
        );
    })
    .await
}

#[tokio::test]
async fn a_huge_declared_body_followed_by_a_trickle_is_answered_at_once() {
    within(10, async {
        let server = server_with(config(), limits()).await;
        let mut stream = connect(&server).await;
        let request = format!(
            "POST /mws/rest/events?api-version=3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Authorization: {}\r\nContent-Type: application/json\r\n\
             Content-Length: 1000000000000000\r\n\r\n",
            mws_basic(&server)
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.write_all(&[b'x'; 200]).await.unwrap();
        let (head, body) = response_within(&mut stream, BODY_TIMEOUT + SLACK)
            .await
            .expect("an answer within the body timeout");
        // The API's own 413, in its envelope.
        assert!(head.starts_with("http/1.1 413"), "{head}");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert!(
            body["messages"][0]
                .as_str()
                .unwrap()
                .contains(&API_LIMIT.to_string()),
            "{body}"
        );
        // And the connection does not stay open for the rest of the petabyte.
        assert!(closed_within(&mut stream, BODY_TIMEOUT + SLACK)
            .await
            .is_some());
    })
    .await
}

#[tokio::test]
async fn a_body_that_stops_short_gets_408_after_the_body_timeout() {
    within(10, async {
        let server = server_with(config(), limits()).await;
        let mut stream = connect(&server).await;
        // 1000 bytes announced (within the limit), 200 sent, then nothing.
        stream
            .write_all(b"POST /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n")
            .await
            .unwrap();
        stream.write_all(&[b'x'; 200]).await.unwrap();
        let sent = Instant::now();
        let (head, _) = response_within(&mut stream, BODY_TIMEOUT + SLACK)
            .await
            .expect("an answer within the body timeout");
        assert!(head.starts_with("http/1.1 408"), "{head}");
        assert!(sent.elapsed() >= BODY_TIMEOUT / 2, "answered too early");
        assert!(closed_within(&mut stream, SLACK).await.is_some());
    })
    .await
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    within(10, async {
        // The header timeout is long, so the idle timeout is the one that closes it.
        let server = server_with(
            config(),
            ServerLimits {
                header_timeout: Duration::from_secs(30),
                ..limits()
            },
        )
        .await;
        let mut stream = connect(&server).await;
        stream
            .write_all(b"GET /__admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let (head, _) = response_within(&mut stream, Duration::from_secs(2))
            .await
            .expect("health");
        assert!(head.starts_with("http/1.1 200"), "{head}");
        let answered = Instant::now();
        assert!(
            closed_within(&mut stream, IDLE_TIMEOUT + SLACK)
                .await
                .is_some(),
            "an idle keep-alive connection stays open"
        );
        assert!(answered.elapsed() >= IDLE_TIMEOUT / 2, "closed too early");
    })
    .await
}

#[tokio::test]
async fn an_idle_http2_connection_is_shut_down_after_the_idle_timeout() {
    within(10, async {
        let server = server_with(
            config(),
            ServerLimits {
                header_timeout: Duration::from_secs(30),
                ..limits()
            },
        )
        .await;
        let mut h2 = H2::open(&server).await;
        h2.get(1, "/__admin/health").await;
        let frames = h2
            .frames_until(Duration::from_secs(2), |f| f.ends_stream(1))
            .await;
        assert!(
            frames.iter().any(|f| f.ends_stream(1)),
            "no answer: {frames:?}"
        );
        let answered = Instant::now();
        // Then silence: a GOAWAY (or the connection closing) ends it.
        let frames = h2
            .frames_until(IDLE_TIMEOUT + SLACK, |f| f.kind == GOAWAY)
            .await;
        assert!(
            h2.closed || frames.iter().any(|f| f.kind == GOAWAY),
            "an idle HTTP/2 connection stays open: {frames:?}"
        );
        assert!(
            answered.elapsed() >= IDLE_TIMEOUT / 2,
            "shut down too early"
        );
    })
    .await
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    within(15, async {
        let server = server_with(
            config(),
            ServerLimits {
                max_connections: 2,
                header_timeout: Duration::from_secs(30),
                ..limits()
            },
        )
        .await;
        let first = connect(&server).await;
        let _second = connect(&server).await;
        let mut third = connect(&server).await;
        third
            .write_all(b"GET /__admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        assert!(
            response_within(&mut third, Duration::from_millis(800))
                .await
                .is_none(),
            "a third connection was served while two held the cap"
        );
        // A slot frees up: the waiting connection is served.
        drop(first);
        let (head, _) = response_within(&mut third, Duration::from_secs(3))
            .await
            .expect("served once a slot is free");
        assert!(head.starts_with("http/1.1 200"), "{head}");
    })
    .await
}

#[tokio::test]
async fn an_oversize_body_over_http2_gets_the_apis_413() {
    within(10, async {
        let server = server_with(config(), limits()).await;
        let client = reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .unwrap();
        let url = format!(
            "{}/rest/events?api-version=3",
            server.api_url("mws-events").unwrap()
        );
        let send = |size: usize| {
            client
                .post(&url)
                .header("authorization", mws_basic(&server))
                .header("content-type", "application/json")
                .body(vec![b' '; size])
                .send()
        };
        // Small bodies, and one larger than HTTP/2's flow-control windows.
        for size in [4 * API_LIMIT, 4 * API_LIMIT, 3 * 1024 * 1024] {
            let resp = send(size).await.expect("an answer, not a stream error");
            assert_eq!(resp.version(), reqwest::Version::HTTP_2);
            assert_eq!(resp.status(), 413);
            let body: serde_json::Value = resp.json().await.expect("the API's envelope");
            assert!(
                body["messages"][0]
                    .as_str()
                    .unwrap()
                    .contains(&API_LIMIT.to_string()),
                "{body}"
            );
        }
        // The connection is still good for the next request.
        let resp = send(10).await.expect("an answer");
        assert_eq!(resp.status(), 400);
    })
    .await
}

#[tokio::test]
async fn an_http2_client_that_uploads_its_whole_oversize_body_before_reading_gets_the_413() {
    within(15, async {
        // Time enough to move the whole body on a busy machine.
        let server = server_with(
            config(),
            ServerLimits {
                body_timeout: Duration::from_secs(10),
                ..limits()
            },
        )
        .await;
        let mut h2 = H2::open(&server).await;
        let auth = mws_basic(&server);
        // No content-length: the server finds out while reading. 3 MiB is more than the
        // flow-control windows, so the upload finishes only if the server keeps reading.
        let size = 3 * 1024 * 1024;
        let (uploaded, mut frames) = h2
            .upload(
                1,
                "/mws/rest/events?api-version=3",
                &[(AUTHORIZATION, &auth), (CONTENT_TYPE, "application/json")],
                size,
                Duration::from_secs(5),
            )
            .await;
        assert!(
            uploaded,
            "the upload was cut off: {:?}",
            frames.iter().filter(|f| f.kind != DATA).collect::<Vec<_>>()
        );
        frames.extend(
            h2.frames_until(Duration::from_secs(2), |f| f.ends_stream(1))
                .await,
        );
        let body: Vec<u8> = frames
            .iter()
            .filter(|f| f.stream == 1 && f.kind == DATA)
            .flat_map(|f| f.payload.clone())
            .collect();
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains(&format!("exceeds the limit of {API_LIMIT}")),
            "the API's 413 body: {text:?}"
        );
        assert!(
            !frames.iter().any(|f| f.stream == 1 && f.kind == RST_STREAM),
            "the stream was reset"
        );
    })
    .await
}

#[tokio::test]
async fn an_http1_client_that_sends_its_whole_oversize_body_before_reading_gets_the_413() {
    within(15, async {
        // Time enough to move the whole body on a busy machine.
        let server = server_with(
            config(),
            ServerLimits {
                body_timeout: Duration::from_secs(10),
                ..limits()
            },
        )
        .await;
        let mut stream = connect(&server).await;
        // More than loopback socket buffers hold: the write completes only if the server reads.
        let size = 24 * 1024 * 1024;
        let head = format!(
            "POST /mws/rest/events?api-version=3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Authorization: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {size}\r\n\r\n",
            mws_basic(&server)
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..size / chunk.len() {
            stream
                .write_all(&chunk)
                .await
                .expect("the server reads the rest of the body after its answer");
        }
        let (head, body) = response_within(&mut stream, Duration::from_secs(2))
            .await
            .expect("the answer");
        assert!(head.starts_with("http/1.1 413"), "{head}");
        assert!(String::from_utf8_lossy(&body).contains(&API_LIMIT.to_string()));
    })
    .await
}

#[tokio::test]
async fn binding_all_interfaces_without_a_token_does_not_serve_the_control_plane() {
    within(10, async {
        let any = SocketAddr::from(([0, 0, 0, 0], 0));
        let server = start(config(), any, limits()).await.expect("server");
        assert!(!server.mock().config().admin);
        let local = format!("http://127.0.0.1:{}", server.address().port());
        let client = reqwest::Client::new();
        let health = client
            .get(format!("{local}/__admin/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 404);
        // The APIs are served.
        let events = client
            .get(format!("{local}/mws/rest/events?api-version=3"))
            .header("authorization", mws_basic(&server))
            .send()
            .await
            .unwrap();
        assert_eq!(events.status(), 200);

        // With a token, it is served (and the core checks the token).
        let token = "an-admin-token-for-this-test";
        let server = start(
            MockConfig {
                admin_token: Some(token.to_owned()),
                ..config()
            },
            any,
            limits(),
        )
        .await
        .expect("server");
        assert!(server.mock().config().admin);
        let health = client
            .get(format!(
                "http://127.0.0.1:{}/__admin/health",
                server.address().port()
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
    })
    .await
}

#[tokio::test]
async fn a_hand_built_mock_with_an_open_control_plane_is_not_served_on_all_interfaces() {
    within(10, async {
        let any = SocketAddr::from(([0, 0, 0, 0], 0));
        let open = std::sync::Arc::new(event_mock::Mock::new(config()).expect("mock"));
        let refused = MockServer::serve(open, any)
            .await
            .err()
            .expect("refused: the control plane would be open to the network");
        assert_eq!(refused.kind(), std::io::ErrorKind::PermissionDenied);
        // Without the control plane, or on loopback, it is served.
        let closed = std::sync::Arc::new(
            event_mock::Mock::new(MockConfig {
                admin: false,
                ..config()
            })
            .expect("mock"),
        );
        MockServer::serve(closed, any).await.expect("served");
        let open = std::sync::Arc::new(event_mock::Mock::new(config()).expect("mock"));
        MockServer::serve(open, loopback()).await.expect("served");
    })
    .await
}

// A minimal HTTP/2 client over a raw socket: enough frames and HPACK to send a request and
// watch what comes back, byte by byte.

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const END_STREAM: u8 = 0x1;
/// HPACK static-table indices of header names.
const AUTHORIZATION: u8 = 23;
const CONTENT_TYPE: u8 = 31;

#[derive(Debug)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

impl Frame {
    fn ends_stream(&self, stream: u32) -> bool {
        self.stream == stream && matches!(self.kind, DATA | HEADERS) && self.flags & END_STREAM != 0
    }
}

struct H2 {
    stream: TcpStream,
    buffer: Vec<u8>,
    closed: bool,
    /// What the server lets us send: on the connection, per stream (one upload at a time).
    connection_window: i64,
    stream_window: i64,
    initial_window: i64,
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    out.extend([kind, flags]);
    out.extend(stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A literal header field without indexing, its name from the static table.
fn literal(out: &mut Vec<u8>, name: u8, value: &str) {
    if name < 15 {
        out.push(name);
    } else {
        out.extend([0x0f, name - 15]);
    }
    assert!(value.len() < 127);
    out.push(value.len() as u8);
    out.extend_from_slice(value.as_bytes());
}

impl H2 {
    async fn open(server: &MockServer) -> Self {
        let mut stream = connect(server).await;
        let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        hello.extend(frame(SETTINGS, 0, 0, &[]));
        stream.write_all(&hello).await.unwrap();
        Self {
            stream,
            buffer: Vec::new(),
            closed: false,
            connection_window: 65_535,
            stream_window: 65_535,
            initial_window: 65_535,
        }
    }

    /// Keep the send windows as the server's SETTINGS and WINDOW_UPDATEs say.
    fn account(&mut self, frame: &Frame) {
        match frame.kind {
            SETTINGS if frame.flags & 0x1 == 0 => {
                for setting in frame.payload.chunks(6) {
                    if setting.len() == 6 && setting[..2] == [0, 4] {
                        let value =
                            u32::from_be_bytes([setting[2], setting[3], setting[4], setting[5]])
                                as i64;
                        self.stream_window += value - self.initial_window;
                        self.initial_window = value;
                    }
                }
            }
            WINDOW_UPDATE if frame.payload.len() == 4 => {
                let increment = (u32::from_be_bytes([
                    frame.payload[0],
                    frame.payload[1],
                    frame.payload[2],
                    frame.payload[3],
                ]) & 0x7fff_ffff) as i64;
                if frame.stream == 0 {
                    self.connection_window += increment;
                } else {
                    self.stream_window += increment;
                }
            }
            _ => {}
        }
    }

    /// POST a body of `size` spaces on stream `id`, as flow control allows, without reading
    /// anything but frames that open the windows. Whether it was all sent (with END_STREAM)
    /// within `limit`, and the frames seen meanwhile.
    async fn upload(
        &mut self,
        id: u32,
        path: &str,
        headers: &[(u8, &str)],
        size: usize,
        limit: Duration,
    ) -> (bool, Vec<Frame>) {
        let deadline = Instant::now() + limit;
        let mut block = vec![0x83, 0x86];
        literal(&mut block, 4, path);
        literal(&mut block, 1, "127.0.0.1");
        for (name, value) in headers {
            literal(&mut block, *name, value);
        }
        self.stream
            .write_all(&frame(HEADERS, 0x4, id, &block))
            .await
            .unwrap();
        let mut frames = Vec::new();
        let mut left = size;
        while left > 0 {
            let room = self.connection_window.min(self.stream_window).min(16_384);
            if room <= 0 {
                let now = Instant::now();
                if now >= deadline || self.closed {
                    return (false, frames);
                }
                frames.extend(
                    self.frames_until(deadline - now, |f| f.kind == WINDOW_UPDATE)
                        .await,
                );
                if frames
                    .iter()
                    .any(|f| f.stream == id && f.kind == RST_STREAM)
                {
                    return (false, frames);
                }
                continue;
            }
            let n = left.min(room as usize);
            left -= n;
            let flags = if left == 0 { END_STREAM } else { 0 };
            let out = frame(DATA, flags, id, &vec![b' '; n]);
            if self.stream.write_all(&out).await.is_err() {
                return (false, frames);
            }
            self.connection_window -= n as i64;
            self.stream_window -= n as i64;
        }
        (true, frames)
    }

    /// A GET on stream `id` (END_HEADERS, END_STREAM).
    async fn get(&mut self, id: u32, path: &str) {
        let mut block = vec![0x82, 0x86];
        literal(&mut block, 4, path);
        literal(&mut block, 1, "127.0.0.1");
        let out = frame(HEADERS, 0x4 | END_STREAM, id, &block);
        self.stream.write_all(&out).await.unwrap();
    }

    /// Frames as they come until `stop` matches one, the connection closes, or `limit` passes.
    /// Server SETTINGS are acknowledged; SETTINGS and WINDOW_UPDATEs open the send windows.
    async fn frames_until(&mut self, limit: Duration, stop: impl Fn(&Frame) -> bool) -> Vec<Frame> {
        let deadline = Instant::now() + limit;
        let mut frames = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            while self.buffer.len() >= 9 {
                let length = u32::from_be_bytes([0, self.buffer[0], self.buffer[1], self.buffer[2]])
                    as usize;
                if self.buffer.len() < 9 + length {
                    break;
                }
                let bytes: Vec<u8> = self.buffer.drain(..9 + length).collect();
                let frame = Frame {
                    kind: bytes[3],
                    flags: bytes[4],
                    stream: u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]])
                        & 0x7fff_ffff,
                    payload: bytes[9..].to_vec(),
                };
                if frame.kind == SETTINGS && frame.flags & 0x1 == 0 {
                    let _ = self
                        .stream
                        .write_all(&self::frame(SETTINGS, 0x1, 0, &[]))
                        .await;
                }
                self.account(&frame);
                let done = stop(&frame);
                frames.push(frame);
                if done {
                    return frames;
                }
            }
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return frames,
                Ok(Ok(0)) | Ok(Err(_)) => {
                    self.closed = true;
                    return frames;
                }
                Ok(Ok(n)) => self.buffer.extend_from_slice(&buf[..n]),
            }
        }
    }
}
