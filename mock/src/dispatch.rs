//! The sans-IO core: `Mock::handle(Request) -> Response`, with the clock, the id generator and
//! the APIs' stores injected. Transports (the hyper server, tests, fuzzers) only move bytes.
//!
//! The dispatcher routes a request to the API whose base path and resources cover it, applies
//! an injected fault if one matches, and encodes the API's [`Reply`] in the representation the
//! API's spec declares for that operation and the request's `Accept` asks for.

use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use serde_json::json;

use crate::admin::{self, Controls, Faults};
use crate::api::{Account, Api, Ctx};
use crate::clock::MockClock;
use crate::codec;
use crate::config::MockConfig;
use crate::ids::IdGenerator;
use crate::spec::{Routed, SpecError};
use crate::store::Budget;

pub use crate::admin::Fault;
use crate::wire::{json_response, Reply, ReplyBody, Request, Response};

/// Admin bodies (seed data) may be larger than an API's own limit, but stay bounded.
pub const ADMIN_BODY_LIMIT: usize = 256 * 1024 * 1024;

/// The default limit for a request body to a path nothing serves (see [`Mock::body_limit_for`]).
pub const UNCLAIMED_BODY_LIMIT: usize = 64 * 1024;

/// How much of a request's body a transport may read, decided from its path before any of the
/// body is read, and who answers when the body is larger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimit {
    /// An API claims the path: its own limit. Over it, the transport drops the body and marks
    /// the request with [`crate::wire::BodyTooLarge`]; the API answers 413 in its envelope.
    Api(usize),
    /// The control plane (when served): [`ADMIN_BODY_LIMIT`]. Over it, the transport answers.
    Admin(usize),
    /// Nothing serves the path: the small limit the caller passed. Over it, the transport
    /// answers.
    Unclaimed(usize),
}

impl BodyLimit {
    pub fn max_bytes(self) -> usize {
        match self {
            Self::Api(n) | Self::Admin(n) | Self::Unclaimed(n) => n,
        }
    }
}

/// Where a request goes: the API, the base path it came in under, and the rest of the path.
type ApiRoute<'a, 'p> = (&'a Arc<dyn Api>, &'p str, &'p str);

/// Where a path goes, decided once ([`Mock::routing`]) and carried by the transport from the
/// body limit to the answer, so a request is routed once. Holds no borrow: the API's index
/// and the length of the base path the path came in under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routing(Target);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Admin,
    Api { index: usize, base_len: usize },
    Nowhere,
}

/// Where a request goes, decided once per request.
enum Destination<'a, 'p> {
    /// The `/__admin` control plane.
    Admin,
    Api(ApiRoute<'a, 'p>),
    /// No API claims the path.
    Nowhere,
}

/// The mock: every served API behind one `handle`.
pub struct Mock {
    config: MockConfig,
    clock: Arc<MockClock>,
    ids: Arc<IdGenerator>,
    apis: Vec<Arc<dyn Api>>,
    faults: Faults,
    /// Panics the backstop in `handle` caught (tests assert it stays 0).
    panics_caught: std::sync::atomic::AtomicU64,
    /// The items and bytes every API's stores share.
    budget: Arc<Budget>,
}

impl Mock {
    /// Every API of the registry that `config` serves, set up as `config` says.
    pub fn new(config: MockConfig) -> Result<Self, SpecError> {
        let budget = Budget::new(config.store);
        let apis = crate::apis::build(&config, &budget)?;
        let mut mock = Self::with_apis(config, apis);
        mock.budget = budget;
        Ok(mock)
    }

    /// A mock serving the given APIs (e.g. one of your own, built on a spec folder of your own
    /// with [`crate::spec::load_from`]), with the clock and ids `config` sets. Their stores keep
    /// the budget they were built with; [`Mock::budget`] reports a fresh one from `config`.
    pub fn with_apis(config: MockConfig, apis: Vec<Arc<dyn Api>>) -> Self {
        let clock = Arc::new(match config.frozen_clock {
            Some(at) => MockClock::frozen(at),
            None => MockClock::system(),
        });
        let ids = Arc::new(IdGenerator::new(config.id_seed));
        let config_store = config.store;
        Self {
            config,
            clock,
            ids,
            apis,
            faults: Default::default(),
            panics_caught: Default::default(),
            budget: Budget::new(config_store),
        }
    }

    /// Inject a fault; refused when the API or its error kind is unknown.
    pub fn add_fault(&self, fault: Fault) -> Result<(), String> {
        let api = self
            .api(&fault.api)
            .ok_or_else(|| format!("no API '{}' is served", fault.api))?;
        if !api.has_error_kind(&fault.error) {
            return Err(format!(
                "API '{}' has no error kind '{}'",
                fault.api, fault.error
            ));
        }
        self.faults.add(fault);
        Ok(())
    }

    pub fn faults(&self) -> Vec<Fault> {
        self.faults.list()
    }

    pub fn clear_faults(&self) {
        self.faults.clear();
    }

    pub fn clock(&self) -> &MockClock {
        &self.clock
    }

    /// The instant request signatures are checked against (real time unless configured).
    pub fn signature_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.ctx("", "").signature_now()
    }

    /// The shared store budget: its limits, and what every store holds now.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    pub fn config(&self) -> &MockConfig {
        &self.config
    }

    pub fn api_ids(&self) -> Vec<&str> {
        self.apis.iter().map(|a| a.id()).collect()
    }

    /// A served API, by id.
    pub fn api(&self, id: &str) -> Option<&Arc<dyn Api>> {
        self.apis.iter().find(|a| a.id() == id)
    }

    /// The accounts a served API accepts (what a client such as the harness logs in with).
    pub fn accounts(&self, api: &str) -> Option<Vec<Account>> {
        self.api(api).map(|a| a.accounts())
    }

    /// The base path an API is served under by default (e.g. `/base`).
    pub fn base_path_of(&self, api: &str) -> Option<&str> {
        self.api(api)
            .and_then(|a| a.base_paths().first().map(String::as_str))
    }

    /// The body limit for a request to `path`, routed as [`Mock::handle`] routes it: the
    /// control plane's under `/__admin` when it is served, the API's own where an API claims the
    /// path, and `unclaimed` (e.g. [`UNCLAIMED_BODY_LIMIT`]) anywhere else. Transports read no
    /// further.
    pub fn body_limit_for(&self, path: &str, unclaimed: usize) -> BodyLimit {
        self.body_limit_of(self.routing(path), unclaimed)
    }

    /// [`Mock::body_limit_for`] of a path already routed.
    pub fn body_limit_of(&self, routing: Routing, unclaimed: usize) -> BodyLimit {
        match routing.0 {
            Target::Admin => BodyLimit::Admin(ADMIN_BODY_LIMIT),
            Target::Api { index, .. } => BodyLimit::Api(self.apis[index].body_limit()),
            Target::Nowhere => BodyLimit::Unclaimed(unclaimed),
        }
    }

    /// Where a request to `path` goes, as [`Mock::handle`] routes it; for
    /// [`Mock::body_limit_of`] and [`Mock::handle_routed_unless_heavy`].
    pub fn routing(&self, path: &str) -> Routing {
        if self.config.admin && is_admin_path(path) {
            return Routing(Target::Admin);
        }
        Routing(match self.route(path) {
            Some((index, (_, base, _))) => Target::Api {
                index,
                base_len: base.len(),
            },
            None => Target::Nowhere,
        })
    }

    /// Forget stored data and faults (the clock is left as it is), and give the memory that
    /// held them back to the operating system.
    pub fn reset(&self) {
        for api in &self.apis {
            api.reset();
        }
        self.clear_faults();
        release_free_memory();
    }

    /// Answer one request. Never panics on any input: code paths are written not to, and a
    /// panic that slips through anyway is caught here and answered with the API's own 500
    /// (counted in [`Mock::panics_caught`]).
    pub fn handle(&self, req: Request) -> Response {
        let destination = self.destination(req.uri().path());
        self.guarded(&req, destination)
    }

    /// [`Mock::handle`], unless the request is heavy ([`Mock::is_heavy`]): then it is handed
    /// back for a blocking thread to `handle`. The request is routed once on the light path.
    pub fn handle_unless_heavy(&self, req: Request) -> Result<Response, Box<Request>> {
        let routing = self.routing(req.uri().path());
        self.handle_routed_unless_heavy(req, routing)
    }

    /// [`Mock::handle_unless_heavy`] of a request whose path [`Mock::routing`] has routed.
    /// A routing that does not fit the path (another request's) is routed again.
    pub fn handle_routed_unless_heavy(
        &self,
        req: Request,
        routing: Routing,
    ) -> Result<Response, Box<Request>> {
        {
            let destination = self.destination_of(req.uri().path(), routing);
            if !self.heavy_at(&req, &destination) {
                return Ok(self.guarded(&req, destination));
            }
        }
        // Boxed: the rare heavy case pays the allocation, not every answer's move.
        Err(Box::new(req))
    }

    /// The destination a routing names for `path`; routed again if it does not fit the path.
    fn destination_of<'p>(&self, path: &'p str, routing: Routing) -> Destination<'_, 'p> {
        if self.fits(path, routing.0) {
            self.resolve(path, routing.0)
        } else {
            self.destination(path)
        }
    }

    /// Could `target` be where `path` goes? (Nowhere is not checked: it is rare, and routed
    /// again.)
    fn fits(&self, path: &str, target: Target) -> bool {
        match target {
            Target::Admin => self.config.admin && is_admin_path(path),
            Target::Api { index, base_len } => self.apis.get(index).is_some_and(|api| {
                path.is_char_boundary(base_len)
                    && api.base_paths().iter().any(|b| b == &path[..base_len])
            }),
            Target::Nowhere => false,
        }
    }

    /// The destination `target` names for `path` (a target routed from this path).
    fn resolve<'p>(&self, path: &'p str, target: Target) -> Destination<'_, 'p> {
        match target {
            Target::Admin => Destination::Admin,
            Target::Api { index, base_len } => {
                Destination::Api((&self.apis[index], &path[..base_len], &path[base_len..]))
            }
            Target::Nowhere => Destination::Nowhere,
        }
    }

    /// May answering `req` take long? The control plane beyond its health check (a reset or
    /// a dump of large stores) and what the addressed API calls heavy ([`Api::heavy`]); the
    /// server answers those on a blocking thread and everything else in place.
    pub fn is_heavy(&self, req: &Request) -> bool {
        self.heavy_at(req, &self.destination(req.uri().path()))
    }

    fn heavy_at(&self, req: &Request, destination: &Destination<'_, '_>) -> bool {
        match destination {
            Destination::Admin => !matches!(
                req.uri().path(),
                "/__admin" | "/__admin/" | "/__admin/health"
            ),
            Destination::Api((api, _, rest)) => api.heavy(req, rest),
            Destination::Nowhere => false,
        }
    }

    /// The control plane, the API that routing picks, or nowhere.
    fn destination<'p>(&self, path: &'p str) -> Destination<'_, 'p> {
        self.resolve(path, self.routing(path).0)
    }

    /// Answer at `destination`, with the panic backstop.
    fn guarded(&self, req: &Request, destination: Destination<'_, '_>) -> Response {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.answer(req, destination)
        })) {
            Ok(resp) => resp,
            Err(_) => {
                self.panics_caught
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.backstop(req)
            }
        }
    }

    /// How many panics the backstop caught since the mock started.
    pub fn panics_caught(&self) -> u64 {
        self.panics_caught
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The answer to a request whose handling panicked: the API's `internal` error kind in its
    /// own envelope and representation, or a plain JSON 500 outside the APIs.
    fn backstop(&self, req: &Request) -> Response {
        let path = req.uri().path();
        let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let (_, (api, _, rest)) = self.route(path)?;
            let reply = crate::errors::render(
                api.spec(),
                None,
                &crate::errors::ApiError::new("internal")
                    .with("detail", "the mock failed while answering"),
                &[],
            );
            Some(encode(api.as_ref(), req, rest, reply))
        }));
        answer.ok().flatten().unwrap_or_else(|| {
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": "the mock failed while answering"}),
                false,
            )
        })
    }

    fn answer(&self, req: &Request, destination: Destination<'_, '_>) -> Response {
        let path = req.uri().path();
        match destination {
            Destination::Admin => admin::handle(self, req, path),
            Destination::Api((api, base, rest)) => {
                let ctx = self.ctx(base, rest);
                let fault = self.faults.take(api.id(), || api.operation_of(req, rest));
                let reply = match fault {
                    Some(fault) => {
                        let mut reply = api.error(&fault.error, req, &ctx);
                        if let Some(seconds) = fault.retry_after {
                            reply
                                .headers
                                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                        }
                        reply
                    }
                    None => api.handle(req, &ctx),
                };
                encode(api.as_ref(), req, rest, reply)
            }
            Destination::Nowhere => json_response(
                StatusCode::NOT_FOUND,
                &json!({"error": "no API is mounted at this path", "path": path, "apis": self.api_ids()}),
                false,
            ),
        }
    }

    pub(crate) fn ctx<'a>(&'a self, base_path: &'a str, path: &'a str) -> Ctx<'a> {
        Ctx {
            clock: &self.clock,
            ids: &self.ids,
            base_path,
            path,
            public_url: self.config.public_url.as_deref(),
            signature_clock: self.config.signature_clock,
        }
    }

    /// Find the API whose base path and resources cover `path`: the longest base path wins,
    /// then the deepest claim (APIs sharing a base path), then the first registered. With the
    /// API's index in the registry order this mock serves.
    fn route<'p>(&self, path: &'p str) -> Option<(usize, ApiRoute<'_, 'p>)> {
        // (base path length, claim depth) of the best so far, and its route.
        let mut best: Option<((usize, usize), (usize, ApiRoute<'_, 'p>))> = None;
        for (index, api) in self.apis.iter().enumerate() {
            for base in api.base_paths() {
                let Some(rest) = path.strip_prefix(base.as_str()) else {
                    continue;
                };
                if !(rest.is_empty() || rest.starts_with('/')) {
                    continue;
                }
                let depth = api.claim_depth(rest);
                if depth == 0 {
                    continue;
                }
                let score = (base.len(), depth);
                if best.as_ref().is_none_or(|(b, _)| *b < score) {
                    best = Some((score, (index, (api, &path[..base.len()], rest))));
                }
            }
        }
        best.map(|(_, route)| route)
    }
}

impl Controls for Mock {
    fn api_ids(&self) -> Vec<&str> {
        Mock::api_ids(self)
    }

    fn clock(&self) -> &MockClock {
        &self.clock
    }

    fn signature_clock(&self) -> crate::config::SignatureClock {
        self.config.signature_clock
    }

    fn reset(&self) {
        Mock::reset(self)
    }

    fn faults(&self) -> Vec<Fault> {
        Mock::faults(self)
    }

    fn add_fault(&self, fault: Fault) -> Result<(), String> {
        Mock::add_fault(self, fault)
    }

    fn clear_faults(&self) {
        Mock::clear_faults(self)
    }

    fn config(&self) -> &MockConfig {
        &self.config
    }

    fn store_state(&self) -> serde_json::Value {
        let limits = self.budget.limits();
        json!({"items": self.budget.items(), "bytes": self.budget.bytes(),
               "max_items": limits.max_items, "max_bytes": limits.max_bytes, "when_full": limits.when_full})
    }

    fn api_admin(&self, api: &str, req: &Request, path: &str) -> Option<Response> {
        self.api(api)?.admin(req, path, &self.ctx("", path))
    }
}

fn is_admin_path(path: &str) -> bool {
    path == "/__admin" || path.starts_with("/__admin/")
}

/// Encode an API's reply: a value in the representation negotiated from the operation's media
/// types and the request's `Accept` (XML under the element the spec names for that answer); a
/// `Content-Type` the API set itself wins. An error answer (status >= 400) is written as the
/// media types' `error` type of that representation when one is declared; and when the API's
/// versioning echoes, the resolved version is appended as its `Accept` parameter
/// (`;version=39.0`), so a client reads which version's shape it got.
fn encode(api: &dyn Api, req: &Request, path: &str, reply: Reply) -> Response {
    let spec = api.spec();
    let Reply {
        status,
        headers,
        body,
    } = reply;
    let (bytes, content_type) = match body {
        ReplyBody::Empty => (Bytes::new(), None),
        ReplyBody::Value {
            value,
            error,
            pretty,
        } => {
            let op = match spec.route(req.method().as_str(), path) {
                Routed::Operation(op, _) => Some(op),
                _ => None,
            };
            let media = spec.media_types(op);
            let negotiated = media.negotiate(req.headers());
            let element = spec.xml_element(op, status.as_u16(), error);
            let xml = spec.spec.xml.as_ref().zip(element);
            match codec::encode(negotiated.representation, &value, pretty, xml) {
                Ok(bytes) => {
                    let written = media.answer_type(&negotiated, error && status.as_u16() >= 400);
                    let echo = spec
                        .spec
                        .versioning
                        .as_ref()
                        .and_then(|v| v.echoed(req.headers()));
                    let content_type = match echo {
                        Some((parameter, version)) => format!("{written};{parameter}={version}"),
                        None => written.to_owned(),
                    };
                    (Bytes::from(bytes), Some(content_type))
                }
                // The spec cannot render this value in the negotiated form (a spec defect the
                // tests catch): send it as JSON rather than nothing.
                Err(_) => (
                    Bytes::from(serde_json::to_vec(&value).unwrap_or_default()),
                    Some("application/json".to_owned()),
                ),
            }
        }
    };
    let mut resp = Response::new(bytes);
    *resp.status_mut() = status;
    if let Some(content_type) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    // Headers the API set replace the ones above (all values of a name at once).
    resp.headers_mut().extend(headers);
    resp
}

/// Return freed heap pages to the operating system. glibc keeps freed small blocks in its
/// arenas, so without this a reset after a large load leaves the process as big as before.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}
