//! The sans-IO core: `Mock::handle(Request) -> Response`, with the clock, the id generator and
//! the stores injected. Transports (the hyper server, tests, fuzzers) only move bytes.

use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde_json::{json, Value};

use crate::clock::MockClock;
use crate::config::MockConfig;
use crate::ids::IdGenerator;
use crate::spec::{LoadedSpec, Routed, SpecError};

pub type Request = http::Request<Bytes>;
pub type Response = http::Response<Bytes>;

/// Set by a transport on a request whose body went over the limit: the body was dropped and
/// the API answers with its own "too large" error.
#[derive(Debug, Clone, Copy)]
pub struct BodyTooLarge {
    pub limit: usize,
}

/// What an API module gets from the core for each request.
pub struct Ctx<'a> {
    pub clock: &'a MockClock,
    pub ids: &'a IdGenerator,
    /// The base path the request came in under (e.g. `/mws` or empty).
    pub base_path: &'a str,
    /// The path below the base path, without the query.
    pub path: &'a str,
    pub public_scheme: &'a str,
}

/// One vendor API implemented by the mock.
pub trait Api: Send + Sync {
    fn id(&self) -> &str;
    /// The API's spec.
    fn spec(&self) -> &LoadedSpec;
    /// Base paths this API is mounted under, most specific first.
    fn base_paths(&self) -> &[String];
    /// Is `path` (below a base path) one of this API's resources or a near miss it should answer?
    fn claims(&self, path: &str) -> bool {
        self.spec().claims(path)
    }
    fn handle(&self, req: &Request, ctx: &Ctx<'_>) -> Response;
    /// The largest request body this API accepts.
    fn body_limit(&self) -> usize;
    /// Forget all state.
    fn reset(&self);
    /// API-specific control endpoints under `/__admin/<api-id>/<path>`.
    fn admin(&self, req: &Request, path: &str, ctx: &Ctx<'_>) -> Option<Response>;
    /// The spec operation a request addresses, if any (faults can target one operation).
    fn operation_of(&self, req: &Request, path: &str) -> Option<String> {
        match self.spec().route(req.method().as_str(), path) {
            Routed::Operation(op, _) => Some(op.id.clone()),
            _ => None,
        }
    }
    /// An answer with one of this API's own error kinds (fault injection).
    fn error(&self, kind: &str, req: &Request, ctx: &Ctx<'_>) -> Response;
    /// Does this API's spec declare the error kind?
    fn has_error_kind(&self, kind: &str) -> bool {
        self.spec().spec.errors.kinds.contains_key(kind)
    }
}

/// An injected failure: the next matching requests get one of the API's own error kinds
/// instead of being served.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Fault {
    /// API id, e.g. `cloud-eye-events`.
    pub api: String,
    /// Only requests to this operation id; any operation when absent.
    #[serde(default)]
    pub operation: Option<String>,
    /// An error kind of the API's spec, e.g. `throttled`.
    pub error: String,
    /// How many requests it affects; every request until cleared when absent.
    #[serde(default)]
    pub count: Option<u32>,
    /// Seconds to put in a `Retry-After` header.
    #[serde(default)]
    pub retry_after: Option<u32>,
}

/// The mock: every served API behind one `handle`.
pub struct Mock {
    config: MockConfig,
    clock: Arc<MockClock>,
    ids: Arc<IdGenerator>,
    apis: Vec<Arc<dyn Api>>,
    faults: std::sync::Mutex<Vec<Fault>>,
}

impl Mock {
    pub fn new(config: MockConfig) -> Result<Self, SpecError> {
        let clock = Arc::new(match config.frozen_clock {
            Some(at) => MockClock::frozen(at),
            None => MockClock::system(),
        });
        let ids = Arc::new(IdGenerator::new(config.id_seed));
        let mut apis: Vec<Arc<dyn Api>> = Vec::new();
        if config.serves(crate::mws::API_ID) {
            apis.push(Arc::new(crate::mws::MwsApi::new(&config)?));
        }
        if config.serves(crate::ces::API_ID) {
            apis.push(Arc::new(crate::ces::CesApi::new(&config)?));
        }
        Ok(Self {
            config,
            clock,
            ids,
            apis,
            faults: Default::default(),
        })
    }

    /// Inject a fault; refused when the API or its error kind is unknown.
    pub fn add_fault(&self, fault: Fault) -> Result<(), String> {
        let api = self
            .apis
            .iter()
            .find(|a| a.id() == fault.api)
            .ok_or_else(|| format!("no API '{}' is served", fault.api))?;
        if !api.has_error_kind(&fault.error) {
            return Err(format!(
                "API '{}' has no error kind '{}'",
                fault.api, fault.error
            ));
        }
        self.lock_faults().push(fault);
        Ok(())
    }

    pub fn faults(&self) -> Vec<Fault> {
        self.lock_faults().clone()
    }

    pub fn clear_faults(&self) {
        self.lock_faults().clear();
    }

    fn lock_faults(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fault that applies to this request, consuming one use of it.
    fn take_fault(&self, api: &dyn Api, req: &Request, path: &str) -> Option<Fault> {
        let mut faults = self.lock_faults();
        if faults.is_empty() {
            return None;
        }
        let operation = api.operation_of(req, path);
        let index = faults.iter().position(|f| {
            f.api == api.id() && (f.operation.is_none() || f.operation == operation)
        })?;
        let fault = faults[index].clone();
        if let Some(count) = &mut faults[index].count {
            *count = count.saturating_sub(1);
            if *count == 0 {
                faults.remove(index);
            }
        }
        Some(fault)
    }

    pub fn clock(&self) -> &MockClock {
        &self.clock
    }

    pub fn config(&self) -> &MockConfig {
        &self.config
    }

    pub fn api_ids(&self) -> Vec<&str> {
        self.apis.iter().map(|a| a.id()).collect()
    }

    /// The base path an API is served under by default (e.g. `/mws`).
    pub fn base_path_of(&self, api: &str) -> Option<&str> {
        self.apis
            .iter()
            .find(|a| a.id() == api)
            .and_then(|a| a.base_paths().first().map(String::as_str))
    }

    /// The largest body any served API accepts for `path`; transports stop reading beyond it.
    pub fn body_limit_for(&self, path: &str) -> usize {
        self.route(path)
            .map(|(api, _, _)| api.body_limit())
            .unwrap_or(ADMIN_BODY_LIMIT)
    }

    /// Forget stored data and faults (the clock is left as it is).
    pub fn reset(&self) {
        for api in &self.apis {
            api.reset();
        }
        self.clear_faults();
    }

    /// Answer one request. Never panics on any input.
    pub fn handle(&self, req: Request) -> Response {
        let path = req.uri().path().to_owned();
        if self.config.admin && (path == "/__admin" || path.starts_with("/__admin/")) {
            return self.handle_admin(&req, &path);
        }
        match self.route(&path) {
            Some((api, base, rest)) => {
                let ctx = Ctx {
                    clock: &self.clock,
                    ids: &self.ids,
                    base_path: base,
                    path: rest,
                    public_scheme: &self.config.public_scheme,
                };
                if let Some(fault) = self.take_fault(api.as_ref(), &req, rest) {
                    let mut resp = api.error(&fault.error, &req, &ctx);
                    if let Some(seconds) = fault.retry_after {
                        resp.headers_mut()
                            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                    }
                    return resp;
                }
                api.handle(&req, &ctx)
            }
            None => json_response(
                StatusCode::NOT_FOUND,
                &json!({"error": "no API is mounted at this path", "path": path, "apis": self.api_ids()}),
                false,
            ),
        }
    }

    /// Find the API whose base path and resources cover `path`; longest base path wins.
    fn route<'p>(&self, path: &'p str) -> Option<(&Arc<dyn Api>, &'p str, &'p str)> {
        let mut best: Option<(&Arc<dyn Api>, &'p str, &'p str)> = None;
        for api in &self.apis {
            for base in api.base_paths() {
                let Some(rest) = path.strip_prefix(base.as_str()) else {
                    continue;
                };
                if !(rest.is_empty() || rest.starts_with('/')) || !api.claims(rest) {
                    continue;
                }
                if best.is_none_or(|(_, b, _)| b.len() < base.len()) {
                    best = Some((api, &path[..base.len()], rest));
                }
            }
        }
        best
    }

    fn handle_admin(&self, req: &Request, path: &str) -> Response {
        let sub = path.trim_start_matches("/__admin").trim_start_matches('/');
        let method = req.method().as_str();
        match (method, sub) {
            ("GET", "" | "health") => json_response(
                StatusCode::OK,
                &json!({"status": "ok", "apis": self.api_ids(), "clock": self.clock.now().to_rfc3339(), "clock_frozen": self.clock.is_frozen()}),
                false,
            ),
            ("POST", "reset") => {
                self.reset();
                json_response(StatusCode::OK, &json!({"reset": true}), false)
            }
            ("GET", "clock") => self.clock_state(),
            ("POST", "clock") => match serde_json::from_slice::<ClockCommand>(req.body()) {
                Ok(command) => match command.apply(&self.clock) {
                    Ok(()) => self.clock_state(),
                    Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({"error": e}), false),
                },
                Err(e) => json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": e.to_string()}),
                    false,
                ),
            },
            ("GET", "faults") => json_response(StatusCode::OK, &json!(self.faults()), false),
            ("POST", "faults") => match serde_json::from_slice::<Fault>(req.body()) {
                Ok(fault) => match self.add_fault(fault) {
                    Ok(()) => json_response(StatusCode::CREATED, &json!(self.faults()), false),
                    Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({"error": e}), false),
                },
                Err(e) => json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": e.to_string()}),
                    false,
                ),
            },
            ("DELETE", "faults") => {
                self.clear_faults();
                json_response(StatusCode::OK, &json!([]), false)
            }
            _ => {
                let (api_id, api_path) = sub.split_once('/').unwrap_or((sub, ""));
                let ctx = Ctx {
                    clock: &self.clock,
                    ids: &self.ids,
                    base_path: "",
                    path: api_path,
                    public_scheme: &self.config.public_scheme,
                };
                self.apis
                    .iter()
                    .find(|a| a.id() == api_id)
                    .and_then(|api| api.admin(req, api_path, &ctx))
                    .unwrap_or_else(|| {
                        json_response(
                            StatusCode::NOT_FOUND,
                            &json!({"error": "unknown admin endpoint", "method": method, "path": path}),
                            false,
                        )
                    })
            }
        }
    }
}

impl Mock {
    fn clock_state(&self) -> Response {
        let now = self.clock.now();
        json_response(
            StatusCode::OK,
            &json!({"now": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "now_ms": now.timestamp_millis(), "frozen": self.clock.is_frozen()}),
            false,
        )
    }
}

/// A `POST /__admin/clock` body: exactly one of the fields.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockCommand {
    /// Freeze at an instant: RFC 3339 text or epoch milliseconds.
    #[serde(default)]
    freeze: Option<serde_json::Value>,
    /// Move the clock (frozen or not) by this many milliseconds.
    #[serde(default)]
    advance_ms: Option<i64>,
    /// Run on wall-clock time shifted by this many milliseconds.
    #[serde(default)]
    offset_ms: Option<i64>,
    /// Run on wall-clock time again.
    #[serde(default)]
    system: Option<bool>,
}

impl ClockCommand {
    fn apply(&self, clock: &MockClock) -> Result<(), String> {
        let given = [
            self.freeze.is_some(),
            self.advance_ms.is_some(),
            self.offset_ms.is_some(),
            self.system.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err("give exactly one of freeze, advance_ms, offset_ms, system".into());
        }
        if let Some(at) = &self.freeze {
            let instant = match at {
                serde_json::Value::Number(n) => {
                    n.as_i64().and_then(chrono::DateTime::from_timestamp_millis)
                }
                serde_json::Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                    .ok()
                    .map(|d| d.with_timezone(&chrono::Utc)),
                _ => None,
            }
            .ok_or("freeze takes RFC 3339 text or epoch milliseconds")?;
            clock.freeze(instant);
        }
        if let Some(ms) = self.advance_ms {
            clock.advance(chrono::Duration::milliseconds(ms));
        }
        if let Some(ms) = self.offset_ms {
            clock.run_with_offset(chrono::Duration::milliseconds(ms));
        }
        if self.system == Some(true) {
            clock.run_with_offset(chrono::Duration::zero());
        }
        Ok(())
    }
}

/// Did the body go over `limit`? Either the transport dropped it (`BodyTooLarge`), or it arrived
/// whole through the sans-IO path.
pub fn exceeds_body_limit(req: &Request, limit: usize) -> bool {
    req.extensions().get::<BodyTooLarge>().is_some() || req.body().len() > limit
}

/// Admin bodies (seed data) may be larger than an API's own limit, but stay bounded.
pub const ADMIN_BODY_LIMIT: usize = 256 * 1024 * 1024;

/// A JSON response; `pretty` indents it.
pub fn json_response(status: StatusCode, body: &Value, pretty: bool) -> Response {
    let bytes = if pretty {
        serde_json::to_vec_pretty(body)
    } else {
        serde_json::to_vec(body)
    }
    .unwrap_or_default();
    let mut resp = Response::new(Bytes::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    resp
}

pub fn text_response(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Bytes::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    resp
}

/// Decode the query string into (name, value) pairs: `+` is a space and `%XX` escapes are
/// decoded, as Java servlets do. Bytes that are not UTF-8 give `Err(name)`.
pub fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let Some(query) = query else {
        return Ok(Vec::new());
    };
    let decode = |s: &str| -> Result<String, ()> {
        let plus_as_space = s.replace('+', " ");
        let bytes: Vec<u8> = percent_encoding::percent_decode_str(&plus_as_space).collect();
        String::from_utf8(bytes).map_err(|_| ())
    };
    let mut out = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(raw_name).map_err(|_| raw_name.to_owned())?;
        let value = decode(raw_value).map_err(|_| name.clone())?;
        out.push((name, value));
    }
    Ok(out)
}

/// First value of a query parameter.
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// `Authorization: Basic ...` decoded to (user, password); `None` if absent or malformed.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The media type of the request without parameters, lower-cased; `None` if absent.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// `application/json` or any `+json` type.
pub fn is_json_media_type(media_type: &str) -> bool {
    media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}
