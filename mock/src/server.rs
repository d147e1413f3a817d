//! The HTTP transport: hyper on a multi-threaded tokio runtime. It only moves bytes: bodies are
//! read up to the API's limit, then the sans-IO core answers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{AccessKey, DuplicateId, MockConfig, SubEventMode, Token, TotalCount, User};
use crate::core::{BodyTooLarge, Mock, Request};

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

    pub async fn bind(config: MockConfig, address: SocketAddr) -> std::io::Result<Self> {
        let mock = Arc::new(Mock::new(config).map_err(std::io::Error::other)?);
        let listener = TcpListener::bind(address).await?;
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

    /// The URL an API is served under by default, e.g. `http://127.0.0.1:PORT/mws`.
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

/// Command-line options of the standalone server (`event-mock` and `cargo xtask serve`).
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Keep the default (loopback) unless you need otherwise.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Serve only this API (repeatable); default: every API under specs/.
    #[arg(long = "api")]
    pub apis: Vec<String>,
    /// An account as name:password[:perm1,perm2] (repeatable); replaces the default accounts
    /// admin:secret (all permissions) and noevents:secret (no events permission).
    #[arg(long = "user")]
    pub users: Vec<String>,
    /// MWS: append created events to this events.log file.
    #[arg(long)]
    pub events_log: Option<PathBuf>,
    /// MWS: zone of events.log timestamps (UTC, an IANA id, or an offset like -06:00).
    #[arg(long)]
    pub events_log_zone: Option<String>,
    /// MWS: what totalCount counts.
    #[arg(long, value_parser = ["matching", "all"])]
    pub total_count: Option<String>,
    /// Cloud Eye: an access key as AK:SK:PROJECT_ID[:action,action] (repeatable); replaces the
    /// default keys. Actions default to ces:events:post.
    #[arg(long = "access-key")]
    pub access_keys: Vec<String>,
    /// Cloud Eye: an IAM token as TOKEN:PROJECT_ID (repeatable); replaces the default token.
    #[arg(long = "token")]
    pub tokens: Vec<String>,
    /// Cloud Eye: error body shape.
    #[arg(long, value_parser = ["v1", "v2", "legacy"])]
    pub ces_error_envelope: Option<String>,
    /// Cloud Eye: margin of the time window in ms (10000 by default, 20000 in the regional variant).
    #[arg(long)]
    pub ces_time_margin_ms: Option<i64>,
    /// Cloud Eye: the event_id returned for a duplicate event.
    #[arg(long, value_parser = ["original", "new"])]
    pub ces_duplicate_id: Option<String>,
    /// Cloud Eye: what to do with detail.sub_event_type (a regional feature).
    #[arg(long, value_parser = ["accept", "ignore", "reject"])]
    pub ces_sub_event_type: Option<String>,
    /// Seed for generated ids (deterministic runs).
    #[arg(long)]
    pub id_seed: Option<u64>,
    /// Do not serve the /__admin control plane.
    #[arg(long)]
    pub no_admin: bool,
}

impl ServeArgs {
    pub fn config(&self) -> Result<MockConfig, String> {
        let mut config = MockConfig {
            apis: self.apis.clone(),
            id_seed: self.id_seed,
            admin: !self.no_admin,
            ..MockConfig::default()
        };
        if !self.users.is_empty() {
            config.mws.users = self
                .users
                .iter()
                .map(|u| parse_user(u))
                .collect::<Result<_, _>>()?;
        }
        config.mws.events_log_path = self.events_log.clone();
        config.mws.events_log_zone = self.events_log_zone.clone();
        config.mws.total_count = match self.total_count.as_deref() {
            Some("all") => Some(TotalCount::All),
            Some(_) => Some(TotalCount::Matching),
            None => None,
        };
        if !self.access_keys.is_empty() {
            config.ces.access_keys = self
                .access_keys
                .iter()
                .map(|k| parse_access_key(k))
                .collect::<Result<_, _>>()?;
        }
        if !self.tokens.is_empty() {
            config.ces.tokens = self
                .tokens
                .iter()
                .map(|t| {
                    let (token, project) = t
                        .rsplit_once(':')
                        .ok_or_else(|| format!("--token '{t}': expected TOKEN:PROJECT_ID"))?;
                    Ok(Token {
                        token: token.into(),
                        project_id: project.into(),
                        permissions: vec!["ces:events:post".into()],
                    })
                })
                .collect::<Result<_, String>>()?;
        }
        config.ces.error_envelope = self.ces_error_envelope.clone();
        config.ces.time_margin_ms = self.ces_time_margin_ms;
        config.ces.duplicate_id = match self.ces_duplicate_id.as_deref() {
            Some("new") => Some(DuplicateId::New),
            Some(_) => Some(DuplicateId::Original),
            None => None,
        };
        config.ces.sub_event_type = match self.ces_sub_event_type.as_deref() {
            Some("ignore") => Some(SubEventMode::Ignore),
            Some("reject") => Some(SubEventMode::Reject),
            Some(_) => Some(SubEventMode::Accept),
            None => None,
        };
        for api in &self.apis {
            if !crate::spec::api_ids().contains(api) {
                return Err(format!(
                    "unknown API '{api}'; known: {}",
                    crate::spec::api_ids().join(", ")
                ));
            }
        }
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

fn parse_access_key(text: &str) -> Result<AccessKey, String> {
    let parts: Vec<&str> = text.splitn(4, ':').collect();
    let [ak, sk, project, rest @ ..] = parts.as_slice() else {
        return Err(format!(
            "--access-key '{text}': expected AK:SK:PROJECT_ID[:actions]"
        ));
    };
    let permissions = match rest.first() {
        Some(list) => list
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        None => vec!["ces:events:post".to_owned()],
    };
    Ok(AccessKey {
        ak: (*ak).into(),
        sk: (*sk).into(),
        project_ids: vec![(*project).into()],
        permissions,
    })
}

fn parse_user(text: &str) -> Result<User, String> {
    let mut parts = text.splitn(3, ':');
    let (Some(name), Some(password)) = (parts.next(), parts.next()) else {
        return Err(format!(
            "--user '{text}': expected name:password[:permissions]"
        ));
    };
    let permissions: Vec<&str> = match parts.next() {
        Some(list) => list.split(',').filter(|p| !p.is_empty()).collect(),
        None => vec!["*"],
    };
    Ok(User::new(name, password, &permissions))
}
