//! The HTTP transport: hyper on a multi-threaded tokio runtime. It only moves bytes: bodies are
//! read up to the API's limit, then the sans-IO core answers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::apis::RegisteredFlags;
use crate::config::MockConfig;
use crate::dispatch::Mock;
use crate::wire::{BodyTooLarge, Request};

/// A running mock on a TCP port; it stops when dropped.
pub struct MockServer {
    address: SocketAddr,
    mock: Arc<Mock>,
    stop: watch::Sender<bool>,
}

impl MockServer {
    /// Every API, default accounts, on an ephemeral loopback port. Call inside a tokio runtime.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(MockConfig::default()).await
    }

    pub async fn start_with(config: MockConfig) -> std::io::Result<Self> {
        Self::bind(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Bind `address`, then serve the APIs `config` names. Absolute URLs in answers use
    /// `config.public_url`, or the bound address when it is absent.
    pub async fn bind(mut config: MockConfig, address: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        if config.public_url.is_none() {
            config.public_url = Some(format!("http://{address}"));
        }
        let mock = Arc::new(Mock::new(config).map_err(std::io::Error::other)?);
        Self::listen(mock, listener)
    }

    /// Serve a mock built by hand (e.g. [`Mock::with_apis`]) on `address`.
    pub async fn serve(mock: Arc<Mock>, address: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        Self::listen(mock, listener)
    }

    fn listen(mock: Arc<Mock>, listener: TcpListener) -> std::io::Result<Self> {
        let address = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(accept_loop(listener, mock.clone(), stopped));
        Ok(Self {
            address,
            mock,
            stop,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
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

async fn accept_loop(listener: TcpListener, mock: Arc<Mock>, mut stopped: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors and the like: keep serving the connections we have.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let mock = mock.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| serve_one(mock.clone(), req));
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = stopped.changed() => {}
            }
        });
    }
}

async fn serve_one(
    mock: Arc<Mock>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let limit = mock.body_limit_for(req.uri().path());
    let (parts, body) = req.into_parts();
    let mut too_large = None;
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            too_large = Some(BodyTooLarge { limit });
            Bytes::new()
        }
        // The client went away mid-body; nobody reads this answer.
        Err(_) => return Ok(plain(400, "request body could not be read")),
    };
    let mut request = Request::from_parts(parts, bytes);
    if let Some(marker) = too_large {
        request.extensions_mut().insert(marker);
    }
    // Queries over large stores take milliseconds: keep them off the I/O threads.
    let answer = tokio::task::spawn_blocking(move || mock.handle(request)).await;
    Ok(match answer {
        Ok(resp) => resp.map(Full::new),
        Err(_) => plain(500, "internal error in the mock"),
    })
}

fn plain(status: u16, text: &'static str) -> hyper::Response<Full<Bytes>> {
    let mut resp = hyper::Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *resp.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_REQUEST);
    resp
}

/// Command-line options of the standalone server (`event-mock` and `cargo xtask serve`); each
/// registered API adds its own flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Keep the default (loopback) unless you need otherwise.
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
    #[command(flatten)]
    pub api_flags: RegisteredFlags,
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
        let mut config = MockConfig {
            apis: self.apis.clone(),
            id_seed: self.id_seed,
            admin: !self.no_admin,
            ..MockConfig::default()
        };
        self.api_flags.apply(&mut config)?;
        Ok(config)
    }

    /// Serve until Ctrl-C.
    pub async fn run(&self) -> anyhow::Result<()> {
        let config = self.config().map_err(anyhow::Error::msg)?;
        let server = MockServer::bind(config, SocketAddr::new(self.host, self.port)).await?;
        for api in server.mock().api_ids() {
            println!("{api}: {}", server.api_url(api).unwrap_or_default());
        }
        println!("control plane: {}/__admin", server.url());
        tokio::signal::ctrl_c().await?;
        Ok(())
    }
}
