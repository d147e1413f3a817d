//! The HTTP transport: hyper (HTTP/1.1 and HTTP/2, picked per connection by `hyper_util`'s auto
//! builder) on a multi-threaded tokio runtime. It only moves bytes, within [`ServerLimits`]:
//!
//! - **Connections**: at most `max_connections` at once. At the cap the server stops accepting;
//!   new connections wait in the kernel's listen backlog and are served, in order, as slots
//!   free up (when the backlog is full too, the kernel drops further attempts).
//! - **Headers**: a new connection must deliver its first request's headers within
//!   `header_timeout` (this covers HTTP version detection and the HTTP/2 handshake); over
//!   HTTP/1.1 hyper's own header timer also bounds every later request's headers, counted from
//!   when the server starts waiting for them, so it also bounds the wait between keep-alive
//!   requests.
//! - **Bodies**: the limit is decided from the path before any of the body is read
//!   ([`Mock::body_limit_for`]): the API's own where an API claims the path, the control
//!   plane's under `/__admin` (only for requests carrying the admin token when one is set),
//!   `unclaimed_body_limit` anywhere else. A declared length (`Content-Length`) over the limit
//!   is answered 413 at once, unread; a body that turns out larger is cut at the limit. On API
//!   paths the 413 is the API's own (the core sees the [`BodyTooLarge`] marker); elsewhere the
//!   transport answers. The whole body must arrive within `body_timeout` of its headers, or the
//!   answer is 408.
//! - **Early answers** (413, 408, before the whole body was read): the request stays open until
//!   the answer is out, then the server reads and discards what the client still sends (at most
//!   [`LINGER_MAX_BYTES`], until the body deadline), so a client that finishes its upload before
//!   it reads still gets the answer. Then an HTTP/1.1 connection closes (the answer said
//!   `Connection: close`); an HTTP/2 stream still open ends with `RST_STREAM(NO_ERROR)` after the
//!   answer (RFC 9113 §8.1), never with a reset in its place.
//! - **Idle connections**: a connection with no request in flight for `idle_timeout` is shut
//!   down (HTTP/2 gets a GOAWAY), and dropped [`SHUTDOWN_GRACE`] later if it has not closed.
//!
//! The control plane is served on loopback binds; on any other address only with an admin
//! token (see [`MockServer::bind_with`]).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode, Version};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

use crate::apis::RegisteredFlags;
use crate::config::{MockConfig, SignatureClock};
use crate::dispatch::{BodyLimit, Mock, Routing, UNCLAIMED_BODY_LIMIT};
use crate::store::{StoreLimits, WhenFull};
use crate::tls::{Tls, TlsSource};
use crate::wire::{json_response, BodyTooLarge, Request, Response};

/// Default of [`ServerLimits::header_timeout`], in milliseconds.
pub const DEFAULT_HEADER_TIMEOUT_MS: u64 = 10_000;
/// Default of [`ServerLimits::body_timeout`], in milliseconds.
pub const DEFAULT_BODY_TIMEOUT_MS: u64 = 30_000;
/// Default of [`ServerLimits::idle_timeout`], in milliseconds.
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 30_000;
/// Default of [`ServerLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// After an early answer, the most request body bytes the server reads and discards before it
/// closes the connection (HTTP/1.1) or resets the stream (HTTP/2).
pub const LINGER_MAX_BYTES: usize = 64 * 1024 * 1024;
/// How long a connection being shut down (idle) may take to close before it is dropped.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// What the transport allows a client: timeouts, connections, and the body limit of paths no
/// API claims. Every field has a default ([`ServerLimits::default`]); `ServeArgs` sets them from
/// the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// How long a client has to send a request's headers (default 10 s). A new connection's
    /// first request counts from the accept; over HTTP/1.1 later requests count from when the
    /// server is ready for them (hyper's header timer), so an HTTP/1.1 connection waiting for
    /// its next request is closed after the shorter of this and `idle_timeout`.
    pub header_timeout: Duration,
    /// How long a client has to send a request's whole body, counted from its headers
    /// (default 30 s); after it the answer is 408 and an HTTP/1.1 connection is closed.
    pub body_timeout: Duration,
    /// How long a connection may stay without a request in flight before it is shut down,
    /// HTTP/1.1 keep-alive and HTTP/2 alike (default 30 s).
    pub idle_timeout: Duration,
    /// How many connections are served at once (default 256, at least 1). Beyond it the
    /// server stops accepting: new connections wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// The body limit for requests to paths no API claims, and to the control plane when an
    /// admin token is set but the request does not carry it (default 64 KiB).
    pub unclaimed_body_limit: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_millis(DEFAULT_HEADER_TIMEOUT_MS),
            body_timeout: Duration::from_millis(DEFAULT_BODY_TIMEOUT_MS),
            idle_timeout: Duration::from_millis(DEFAULT_IDLE_TIMEOUT_MS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            unclaimed_body_limit: UNCLAIMED_BODY_LIMIT,
        }
    }
}

/// The largest header block a request may carry, over HTTP/1.1 and HTTP/2 alike.
const MAX_HEADER_LIST_BYTES: u32 = 64 * 1024;

/// A running mock on a TCP port; it stops when dropped.
pub struct MockServer {
    address: SocketAddr,
    mock: Arc<Mock>,
    stop: watch::Sender<bool>,
    /// The certificate clients must trust, when serving HTTPS.
    certificate_pem: Option<String>,
}

impl MockServer {
    /// Every API, default accounts, on an ephemeral loopback port. Call inside a tokio runtime.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(MockConfig::default()).await
    }

    pub async fn start_with(config: MockConfig) -> std::io::Result<Self> {
        Self::bind(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// [`MockServer::bind_with`] with the default [`ServerLimits`].
    pub async fn bind(config: MockConfig, address: SocketAddr) -> std::io::Result<Self> {
        Self::bind_with(config, address, ServerLimits::default()).await
    }

    /// Bind `address`, then serve the APIs `config` names within `limits`. Absolute URLs in
    /// answers use `config.public_url`, or the bound address when it is absent.
    ///
    /// On an address that is not loopback, the control plane is served only with an admin
    /// token: without one it is turned off (`config.admin = false`) and a warning on stderr
    /// says how to turn it on; with one a warning says it is exposed and token-protected.
    pub async fn bind_with(
        config: MockConfig,
        address: SocketAddr,
        limits: ServerLimits,
    ) -> std::io::Result<Self> {
        Self::bind_inner(config, address, limits, None).await
    }

    /// Every API over HTTPS on an ephemeral loopback port, with a self-signed certificate
    /// generated now ([`MockServer::certificate_pem`] is what a client trusts).
    pub async fn start_tls() -> std::io::Result<Self> {
        Self::start_tls_with(MockConfig::default()).await
    }

    /// [`MockServer::start_tls`] with a configuration of your own.
    pub async fn start_tls_with(config: MockConfig) -> std::io::Result<Self> {
        let tls = Tls::new(&TlsSource::SelfSigned {
            extra_names: Vec::new(),
        })
        .map_err(std::io::Error::other)?;
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        Self::bind_tls(config, loopback, ServerLimits::default(), tls).await
    }

    /// [`MockServer::bind_with`], over HTTPS with `tls`.
    pub async fn bind_tls(
        config: MockConfig,
        address: SocketAddr,
        limits: ServerLimits,
        tls: Tls,
    ) -> std::io::Result<Self> {
        Self::bind_inner(config, address, limits, Some(tls)).await
    }

    async fn bind_inner(
        mut config: MockConfig,
        address: SocketAddr,
        limits: ServerLimits,
        tls: Option<Tls>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        if let Some(warning) = control_plane_exposure(&mut config, address) {
            eprintln!("{warning}");
        }
        if config.public_url.is_none() {
            let scheme = if tls.is_some() { "https" } else { "http" };
            config.public_url = Some(format!("{scheme}://{address}"));
        }
        let mock = Arc::new(Mock::new(config).map_err(std::io::Error::other)?);
        Self::listen(mock, listener, limits, tls)
    }

    /// Serve a mock built by hand (e.g. [`Mock::with_apis`]) on `address`, with the default
    /// [`ServerLimits`].
    pub async fn serve(mock: Arc<Mock>, address: SocketAddr) -> std::io::Result<Self> {
        Self::serve_with(mock, address, ServerLimits::default()).await
    }

    /// Serve a mock built by hand on `address` within `limits`. Refused when the mock serves
    /// the control plane without an admin token and `address` is not loopback (its
    /// configuration cannot be changed here: build it with `admin: false` or a token).
    pub async fn serve_with(
        mock: Arc<Mock>,
        address: SocketAddr,
        limits: ServerLimits,
    ) -> std::io::Result<Self> {
        let config = mock.config();
        if config.admin && !is_loopback(address.ip()) && !has_token(config) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "refusing to serve the /__admin control plane on {address}, which is not a \
                     loopback address, without an admin token (set MockConfig::admin_token, or \
                     admin = false)"
                ),
            ));
        }
        let listener = TcpListener::bind(address).await?;
        Self::listen(mock, listener, limits, None)
    }

    fn listen(
        mock: Arc<Mock>,
        listener: TcpListener,
        limits: ServerLimits,
        tls: Option<Tls>,
    ) -> std::io::Result<Self> {
        let address = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let certificate_pem = tls.as_ref().map(|t| t.certificate_pem.clone());
        let shared = Arc::new(Shared {
            mock: mock.clone(),
            limits,
            tls: tls.map(|t| t.acceptor),
        });
        tokio::spawn(accept_loop(listener, shared, stopped));
        Ok(Self {
            address,
            mock,
            stop,
            certificate_pem,
        })
    }

    /// The certificate clients must trust (PEM), when serving HTTPS.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate_pem.as_deref()
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:PORT`, or `https://` when serving TLS (no trailing slash).
    pub fn url(&self) -> String {
        let scheme = if self.certificate_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.address)
    }

    /// The URL an API is served under by default, e.g. `http://127.0.0.1:PORT/base`.
    pub fn api_url(&self, api: &str) -> Option<String> {
        Some(format!("{}{}", self.url(), self.mock.base_path_of(api)?))
    }

    /// The core, for in-process control (reset, seeding, clock).
    pub fn mock(&self) -> &Arc<Mock> {
        &self.mock
    }

    /// Stop accepting and close open connections.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

fn has_token(config: &MockConfig) -> bool {
    config.admin_token.as_deref().is_some_and(|t| !t.is_empty())
}

/// Decide whether the control plane is served on `address`, turning it off in `config` when it
/// must not be; the warning to print, if any.
fn control_plane_exposure(config: &mut MockConfig, address: SocketAddr) -> Option<String> {
    if !config.admin || is_loopback(address.ip()) {
        return None;
    }
    if has_token(config) {
        return Some(format!(
            "warning: the /__admin control plane is exposed on {address}, which is not a \
             loopback address; it is token-protected: every control-plane request must carry \
             the admin token"
        ));
    }
    config.admin = false;
    Some(format!(
        "warning: {address} is not a loopback address and no admin token is set, so the \
         /__admin control plane is NOT served. To serve it there, set an admin token \
         (--admin-token or EVENT_MOCK_ADMIN_TOKEN); to silence this warning, pass --no-admin"
    ))
}

/// What every connection of one server shares.
struct Shared {
    mock: Arc<Mock>,
    limits: ServerLimits,
    /// Present when the server speaks HTTPS.
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Shared {
    /// The body limit of a request, from its head alone.
    fn body_limit(&self, parts: &http::request::Parts, routing: Routing) -> BodyLimit {
        let unclaimed = self.limits.unclaimed_body_limit;
        let limit = self.mock.body_limit_of(routing, unclaimed);
        match (&limit, self.mock.config().admin_token.as_deref()) {
            // A control-plane request without the token is refused by the core anyway: read no
            // more of it than of a stray request.
            (BodyLimit::Admin(_), Some(token))
                if !token.is_empty()
                    && !crate::admin::presents_admin_token(&parts.headers, token) =>
            {
                BodyLimit::Unclaimed(unclaimed)
            }
            _ => limit,
        }
    }

    /// The core's answer: in place for the usual microseconds of work, on a blocking thread
    /// for what the mock calls heavy (a query over a large store, the control plane), so a
    /// slow request never holds an I/O thread. Handing every request off cost more than the
    /// work itself (a thread switch each way).
    async fn answer(&self, request: Request, routing: Routing) -> Response {
        let request = match self.mock.handle_routed_unless_heavy(request, routing) {
            Ok(response) => return response,
            Err(heavy) => *heavy,
        };
        let mock = self.mock.clone();
        match tokio::task::spawn_blocking(move || mock.handle(request)).await {
            Ok(resp) => resp,
            Err(_) => transport_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error in the mock".to_owned(),
            ),
        }
    }
}

fn transport_error(status: StatusCode, error: String) -> Response {
    json_response(status, &json!({ "error": error }), false)
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(
        shared
            .limits
            .max_connections
            .clamp(1, Semaphore::MAX_PERMITS),
    ));
    loop {
        // At the cap, wait for a slot before accepting: new connections queue in the backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            _ = stopped.changed() => return,
        };
        let Ok(slot) = slot else { return };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors and the like: keep serving the connections we have.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let shared = shared.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match shared.tls.clone() {
                None => serve_connection(stream, shared, stopped).await,
                Some(acceptor) => {
                    // The handshake gets the header timeout, like a silent plain connection.
                    let handshake =
                        tokio::time::timeout(shared.limits.header_timeout, acceptor.accept(stream));
                    if let Ok(Ok(secure)) = handshake.await {
                        serve_connection(secure, shared, stopped).await;
                    }
                }
            }
        });
    }
}

/// Serve one connection until it closes, the server stops, or it stays idle too long.
async fn serve_connection<IO>(stream: IO, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let service = {
        let shared = shared.clone();
        let activity = activity.clone();
        service_fn(move |req| {
            let busy = activity.begin();
            let shared = shared.clone();
            async move {
                let answer = serve_one(&shared, &busy, req).await;
                drop(busy);
                Ok::<_, Infallible>(answer)
            }
        })
    };
    let limits = &shared.limits;
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // Vendors accept long credentials (tokens of 16,384 characters): HTTP/2's default 16 KiB
    // header list would refuse them with 431 where HTTP/1.1 accepts them.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_LIST_BYTES);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    // One timer, looked at lazily: when it fires, the activity says whether the connection has
    // been idle long enough; if not, it is set again. Requests never touch it (re-arming a timer
    // and waking this task on every request cost 2-4% of a request's CPU).
    // First look after the shorter of the two timeouts: a request served before then starts
    // the idle clock, which may end before the header timeout would.
    let recheck = limits.idle_timeout.min(limits.header_timeout);
    let timer = tokio::time::sleep(recheck);
    tokio::pin!(timer);
    loop {
        tokio::select! {
            _ = &mut connection => return,
            _ = stopped.changed() => return,
            _ = &mut timer => {
                let next = match activity.idle_deadline(limits) {
                    Some(deadline) if deadline <= Instant::now() => break,
                    Some(deadline) => deadline,
                    // A request is in flight (bounded by the body timeout and the core): look
                    // again later.
                    None => Instant::now() + recheck,
                };
                timer.as_mut().reset(next);
            }
        }
    }
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        _ = &mut connection => {}
        _ = stopped.changed() => {}
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => {}
    }
}

/// Whether a connection has requests in flight, and since when it has had none.
struct Activity {
    state: Mutex<ActivityState>,
}

struct ActivityState {
    in_flight: usize,
    idle_since: Instant,
    served: bool,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                idle_since: Instant::now(),
                served: false,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A request (or an early answer's lingering read) is in flight until the guard drops.
    fn begin(self: &Arc<Self>) -> Busy {
        let mut state = self.lock();
        state.in_flight += 1;
        state.served = true;
        Busy(self.clone())
    }

    /// When the connection is to be shut down if no request comes; `None` while one is in
    /// flight. Before its first request a connection has the header timeout, then the idle one.
    fn idle_deadline(&self, limits: &ServerLimits) -> Option<Instant> {
        let state = self.lock();
        if state.in_flight > 0 {
            return None;
        }
        let allowed = if state.served {
            limits.idle_timeout
        } else {
            limits.header_timeout
        };
        Some(state.idle_since + allowed)
    }
}

struct Busy(Arc<Activity>);

impl Busy {
    fn activity(&self) -> &Arc<Activity> {
        &self.0
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
        }
    }
}

enum BodyRead {
    Whole(Bytes),
    TooLarge,
    TimedOut,
    Failed,
}

/// Read a body of at most `limit` bytes by `deadline`; a declared length over the limit is
/// refused before anything is read.
async fn read_body(body: &mut Incoming, limit: usize, deadline: Instant) -> BodyRead {
    if body.size_hint().lower() > limit as u64 {
        return BodyRead::TooLarge;
    }
    match tokio::time::timeout_at(deadline, Limited::new(&mut *body, limit).collect()).await {
        Err(_) => BodyRead::TimedOut,
        Ok(Ok(collected)) => BodyRead::Whole(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => BodyRead::TooLarge,
        // The client went away mid-body; nobody reads this answer.
        Ok(Err(_)) => BodyRead::Failed,
    }
}

async fn serve_one(
    shared: &Shared,
    busy: &Busy,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Answer> {
    let deadline = Instant::now() + shared.limits.body_timeout;
    let (parts, mut body) = req.into_parts();
    let http1 = parts.version < Version::HTTP_2;
    // Routed once: the body limit and the answer both follow this.
    let routing = shared.mock.routing(parts.uri.path());
    let limit = shared.body_limit(&parts, routing);
    let read = read_body(&mut body, limit.max_bytes(), deadline).await;
    let finished = matches!(read, BodyRead::Whole(_));
    let mut resp = match read {
        BodyRead::Whole(bytes) => {
            shared
                .answer(Request::from_parts(parts, bytes), routing)
                .await
        }
        BodyRead::TooLarge => match limit {
            BodyLimit::Api(max_bytes) => {
                let mut request = Request::from_parts(parts, Bytes::new());
                request
                    .extensions_mut()
                    .insert(BodyTooLarge { limit: max_bytes });
                shared.answer(request, routing).await
            }
            BodyLimit::Admin(max_bytes) | BodyLimit::Unclaimed(max_bytes) => transport_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {max_bytes} bytes"),
            ),
        },
        BodyRead::TimedOut => transport_error(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} ms",
                shared.limits.body_timeout.as_millis()
            ),
        ),
        BodyRead::Failed => transport_error(
            StatusCode::BAD_REQUEST,
            "the request body could not be read".to_owned(),
        ),
    };
    let unread = (!finished).then(|| {
        if http1 {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Unread {
            body,
            deadline,
            activity: busy.activity().clone(),
        }
    });
    resp.map(|bytes| Answer {
        body: Full::new(bytes),
        unread,
    })
}

/// An answer's body. It keeps the request's unread body (if any) until the answer has been
/// handed to hyper, then the rest is read and discarded for a while ([`Unread::linger`]): the
/// request is not cut off before the client has the answer.
struct Answer {
    body: Full<Bytes>,
    unread: Option<Unread>,
}

impl Body for Answer {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Some(unread) = self.unread.take() {
            unread.linger();
        }
    }
}

struct Unread {
    body: Incoming,
    deadline: Instant,
    activity: Arc<Activity>,
}

impl Unread {
    /// Read and discard the rest of the body (at most [`LINGER_MAX_BYTES`], until the body
    /// deadline), then let hyper close the connection (HTTP/1.1) or end the stream (HTTP/2).
    fn linger(self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.body.is_end_stream() || self.deadline <= Instant::now() {
            return;
        }
        let busy = self.activity.begin();
        let (mut body, deadline) = (self.body, self.deadline);
        runtime.spawn(async move {
            let _busy = busy;
            let mut left = LINGER_MAX_BYTES;
            let discard = async {
                while let Some(Ok(frame)) = body.frame().await {
                    let read = frame.data_ref().map_or(0, Bytes::len);
                    left = left.saturating_sub(read);
                    if left == 0 {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout_at(deadline, discard).await;
        });
    }
}

/// Command-line options of the standalone server (`event-mock` and `cargo xtask serve`); each
/// registered API adds its own flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Keep the default (loopback) unless you need otherwise: on any
    /// other address the /__admin control plane is served only with --admin-token.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Serve only this API (repeatable); default: every registered API.
    #[arg(long = "api")]
    pub apis: Vec<String>,
    /// Seed for generated ids (deterministic runs).
    #[arg(long)]
    pub id_seed: Option<u64>,
    /// Do not serve the /__admin control plane.
    #[arg(long)]
    pub no_admin: bool,
    /// A secret every /__admin request must carry (`Authorization: Bearer <token>` or
    /// `X-Admin-Token: <token>`). Required to serve the control plane on a non-loopback --host.
    #[arg(long, env = "EVENT_MOCK_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// A host name the control plane accepts besides loopback names and the public URL's host
    /// (repeatable; against DNS rebinding).
    #[arg(long = "admin-host")]
    pub admin_hosts: Vec<String>,
    /// The absolute URL clients reach the mock at (e.g. https://mock.example:8443), for
    /// absolute URLs in answers; default: the bound address.
    #[arg(long)]
    pub public_url: Option<String>,
    /// The clock request signatures are checked against: `real` (this machine's time) or
    /// `mock` (the mock clock, frozen or offset with it).
    #[arg(long, default_value = "real", value_parser = signature_clock_parser())]
    pub signature_clock: SignatureClock,
    /// Milliseconds a client has to send a request's headers (from the accept for a new
    /// connection; over HTTP/1.1 also between keep-alive requests).
    #[arg(long, default_value_t = DEFAULT_HEADER_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,
    /// Milliseconds a client has to send a request's whole body after its headers; then 408.
    #[arg(long, default_value_t = DEFAULT_BODY_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_ms: u64,
    /// Milliseconds a connection may stay without a request in flight before it is closed.
    #[arg(long, default_value_t = DEFAULT_IDLE_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_ms: u64,
    /// Connections served at once; further ones wait in the listen backlog until one closes.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS as u64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Body limit in bytes for paths no API claims (and for control-plane requests without
    /// the admin token when one is set); larger bodies get 413 unread.
    #[arg(long, default_value_t = UNCLAIMED_BODY_LIMIT)]
    pub unclaimed_body_limit: usize,
    /// Serve HTTPS, with a self-signed certificate generated at start for localhost,
    /// 127.0.0.1 and ::1 (unless --tls-cert and --tls-key give one).
    #[arg(long)]
    pub tls: bool,
    /// HTTPS with this certificate chain (PEM file); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM file).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Write the served certificate (PEM) to this file, for clients to trust.
    #[arg(long)]
    pub tls_cert_out: Option<std::path::PathBuf>,
    /// Items every API's stores may hold together.
    #[arg(long, default_value_t = StoreLimits::default().max_items)]
    pub store_max_items: usize,
    /// Approximate bytes every API's stores may hold together.
    #[arg(long, default_value_t = StoreLimits::default().max_bytes)]
    pub store_max_bytes: usize,
    /// What a full store does with one more event: refuse it (the API's own error) or evict
    /// the oldest.
    #[arg(long, default_value = "refuse", value_parser = ["refuse", "evict-oldest"])]
    pub store_when_full: String,
    #[command(flatten)]
    pub api_flags: RegisteredFlags,
}

fn signature_clock_parser() -> impl clap::builder::TypedValueParser<Value = SignatureClock> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(["real", "mock"]).map(|s| match s.as_str() {
        "mock" => SignatureClock::Mock,
        _ => SignatureClock::Real,
    })
}

impl ServeArgs {
    pub fn config(&self) -> Result<MockConfig, String> {
        for api in &self.apis {
            if crate::apis::find(api).is_none() {
                return Err(format!(
                    "unknown API '{api}'; known: {}",
                    crate::apis::ids().join(", ")
                ));
            }
        }
        if self.admin_token.as_deref().is_some_and(str::is_empty) {
            return Err("--admin-token (EVENT_MOCK_ADMIN_TOKEN) must not be empty".to_owned());
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "--public-url '{url}' must be an absolute http:// or https:// URL"
                ));
            }
        }
        let mut config = MockConfig {
            apis: self.apis.clone(),
            id_seed: self.id_seed,
            admin: !self.no_admin,
            admin_token: self.admin_token.clone(),
            admin_hosts: self.admin_hosts.clone(),
            public_url: self
                .public_url
                .as_deref()
                .map(|u| u.trim_end_matches('/').to_owned()),
            signature_clock: self.signature_clock,
            store: StoreLimits {
                max_items: self.store_max_items,
                max_bytes: self.store_max_bytes,
                when_full: if self.store_when_full == "evict-oldest" {
                    WhenFull::EvictOldest
                } else {
                    WhenFull::Refuse
                },
            },
            ..MockConfig::default()
        };
        self.api_flags.apply(&mut config)?;
        Ok(config)
    }

    /// The transport's limits the flags set.
    pub fn limits(&self) -> ServerLimits {
        ServerLimits {
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            body_timeout: Duration::from_millis(self.body_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            unclaimed_body_limit: self.unclaimed_body_limit,
        }
    }

    /// Serve until Ctrl-C.
    /// The TLS set-up the flags ask for, if any.
    pub fn tls(&self) -> Result<Option<Tls>, String> {
        let source = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                let read = |path: &std::path::Path| {
                    std::fs::read_to_string(path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))
                };
                TlsSource::Pem {
                    cert_chain: read(cert)?,
                    private_key: read(key)?,
                }
            }
            _ if self.tls => TlsSource::SelfSigned {
                extra_names: self.admin_hosts.clone(),
            },
            _ => return Ok(None),
        };
        Tls::new(&source).map(Some)
    }

    pub async fn run(&self) -> anyhow::Result<()> {
        let config = self.config().map_err(anyhow::Error::msg)?;
        let address = SocketAddr::new(self.host, self.port);
        let server = match self.tls().map_err(anyhow::Error::msg)? {
            Some(tls) => MockServer::bind_tls(config, address, self.limits(), tls).await?,
            None => MockServer::bind_with(config, address, self.limits()).await?,
        };
        if let (Some(pem), Some(path)) = (server.certificate_pem(), &self.tls_cert_out) {
            std::fs::write(path, pem)?;
            println!(
                "certificate (PEM, for clients to trust): {}",
                path.display()
            );
        }
        let mock = server.mock();
        // Schemas compile on first use; compile the ones requests are checked against now, off
        // the request path, so a client's first write rarely waits for them.
        let warm = mock.clone();
        std::thread::spawn(move || {
            for id in warm.api_ids() {
                if let Some(api) = warm.api(id) {
                    let _ = api.spec().compile_request_schemas();
                }
            }
        });
        let base = mock
            .config()
            .public_url
            .clone()
            .unwrap_or_else(|| server.url());
        for api in mock.api_ids() {
            println!(
                "{api}: {base}{}",
                mock.base_path_of(api).unwrap_or_default()
            );
        }
        if mock.config().admin {
            println!("control plane: {base}/__admin");
        }
        tokio::signal::ctrl_c().await?;
        Ok(())
    }
}
