//! The control plane under `/__admin`: health, reset, the clock, faults, and each API's own
//! endpoints under `/__admin/<api-id>/...`. It always speaks JSON.
//!
//! It can reset stores and move the clock, so it is guarded even on loopback, where any web
//! page in a developer's browser can reach it:
//! - a request whose `Origin` is not the mock's own (a loopback origin or the public URL's) is
//!   refused, and so is one a browser marks `Sec-Fetch-Site: cross-site`;
//! - a `Host` that is not a loopback name, the public URL's host or a configured admin host is
//!   refused (DNS rebinding);
//! - a write (POST, PUT, PATCH, DELETE) with a `Content-Type` other than JSON is refused, so a
//!   page cannot send it as a "simple" cross-site request;
//! - with an admin token configured, every request must carry it (`Authorization: Bearer` or
//!   `X-Admin-Token`), compared in constant time;
//! - paths are matched exactly (`/__admin//reset` is not `/__admin/reset`).
//!
//! Whether the control plane is served at all on a non-loopback bind is the server's decision
//! (only with a token).

use http::StatusCode;
use serde_json::json;

use crate::clock::MockClock;
use crate::wire::{json_response, Request, Response};

/// An injected failure: the next matching requests get one of the API's own error kinds
/// instead of being served.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Fault {
    /// The API id, as the registry lists it.
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

/// The faults in force, consumed as they apply.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    list: std::sync::Mutex<Vec<Fault>>,
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn add(&self, fault: Fault) {
        self.lock().push(fault);
    }

    pub(crate) fn list(&self) -> Vec<Fault> {
        self.lock().clone()
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// The fault that applies to a request to `api` (whose operation `operation` tells, asked
    /// only when faults exist), consuming one use of it.
    pub(crate) fn take(
        &self,
        api: &str,
        operation: impl FnOnce() -> Option<String>,
    ) -> Option<Fault> {
        let mut faults = self.lock();
        if faults.is_empty() {
            return None;
        }
        let operation = operation();
        let index = faults
            .iter()
            .position(|f| f.api == api && (f.operation.is_none() || f.operation == operation))?;
        let fault = faults[index].clone();
        if let Some(count) = &mut faults[index].count {
            *count = count.saturating_sub(1);
            if *count == 0 {
                faults.remove(index);
            }
        }
        Some(fault)
    }
}

/// What the control plane needs of the mock.
pub(crate) trait Controls {
    fn api_ids(&self) -> Vec<&str>;
    fn clock(&self) -> &MockClock;
    /// The clock request signatures are checked against (real time unless configured).
    fn signature_clock(&self) -> crate::config::SignatureClock;
    fn reset(&self);
    fn faults(&self) -> Vec<Fault>;
    fn add_fault(&self, fault: Fault) -> Result<(), String>;
    fn clear_faults(&self);
    /// An API's own control endpoint, if it has one at `path`.
    fn api_admin(&self, api: &str, req: &Request, path: &str) -> Option<Response>;
    /// The mock's configuration (admin token, hosts, public URL).
    fn config(&self) -> &crate::config::MockConfig;
    /// What the shared store budget holds and allows.
    fn store_state(&self) -> serde_json::Value;
}

fn refuse(status: StatusCode, why: &str) -> Response {
    json_response(status, &json!({ "error": why }), false)
}

/// Is `host` (no port) a loopback name?
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The host of `authority` (`host[:port]`, `[v6]:port`), lower-cased.
fn host_of(authority: &str) -> String {
    let authority = authority.trim();
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.to_ascii_lowercase()
}

/// The host of a URL such as `http://host:port/path`.
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    Some(host_of(rest.split('/').next().unwrap_or_default()))
}

/// Does the request carry the admin token (`Authorization: Bearer <token>` or
/// `X-Admin-Token: <token>`)? Compared in constant time.
pub(crate) fn presents_admin_token(headers: &http::HeaderMap, token: &str) -> bool {
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, value) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| value.trim())
        });
    let own = headers
        .get("x-admin-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    [bearer, own]
        .into_iter()
        .flatten()
        .any(|presented| crate::auth::secrets_equal(presented, token))
}

/// The checks every control-plane request passes first; `Err` is the refusal to send.
fn guard(mock: &dyn Controls, req: &Request) -> Result<(), (StatusCode, &'static str)> {
    let config = mock.config();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("\u{fffd}").to_owned())
    };
    let public_host = config.public_url.as_deref().and_then(url_host);
    let allowed_host = |host: &str| {
        is_loopback_host(host)
            || public_host.as_deref() == Some(host)
            || config
                .admin_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(host))
    };
    if let Some(token) = &config.admin_token {
        if !presents_admin_token(req.headers(), token) {
            return Err((
                StatusCode::UNAUTHORIZED,
                "the control plane needs its token (Authorization: Bearer <token> or X-Admin-Token)",
            ));
        }
    }
    if let Some(host) = header("host") {
        if !allowed_host(&host_of(&host)) {
            return Err((
                StatusCode::FORBIDDEN,
                "the control plane answers only to loopback names and configured hosts",
            ));
        }
    }
    if let Some(origin) = header("origin") {
        let same_site = url_host(&origin).is_some_and(|h| allowed_host(&h));
        if !same_site {
            return Err((
                StatusCode::FORBIDDEN,
                "cross-site requests to the control plane are refused",
            ));
        }
    }
    if header("sec-fetch-site").as_deref() == Some("cross-site") {
        return Err((
            StatusCode::FORBIDDEN,
            "cross-site requests to the control plane are refused",
        ));
    }
    let writes = !matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS");
    if writes {
        if let Some(content_type) = crate::codec::content_type(req.headers()) {
            if crate::codec::Representation::of(&content_type)
                != Some(crate::codec::Representation::Json)
            {
                return Err((
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "control-plane writes take application/json",
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn handle(mock: &dyn Controls, req: &Request, path: &str) -> Response {
    if let Err((status, why)) = guard(mock, req) {
        return refuse(status, why);
    }
    // Exact paths: `/__admin`, `/__admin/`, `/__admin/x`; an empty segment matches nothing.
    let sub = match path.strip_prefix("/__admin") {
        Some("" | "/") => "",
        Some(rest) => rest.strip_prefix('/').unwrap_or(rest),
        None => path,
    };
    let method = req.method().as_str();
    if sub.split('/').any(str::is_empty) && !sub.is_empty() {
        return refuse(StatusCode::NOT_FOUND, "unknown admin endpoint");
    }
    match (method, sub) {
        ("GET", "" | "health") => json_response(
            StatusCode::OK,
            &json!({"status": "ok", "apis": mock.api_ids(), "clock": mock.clock().now().to_rfc3339(), "clock_frozen": mock.clock().is_frozen(),
                    "store": mock.store_state()}),
            false,
        ),
        ("POST", "reset") => {
            mock.reset();
            json_response(StatusCode::OK, &json!({"reset": true}), false)
        }
        ("GET", "clock") => clock_state(mock),
        ("POST", "clock") => match serde_json::from_slice::<ClockCommand>(req.body()) {
            Ok(command) => match command.apply(mock.clock()) {
                Ok(()) => clock_state(mock),
                Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({"error": e}), false),
            },
            Err(e) => json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": e.to_string()}),
                false,
            ),
        },
        ("GET", "faults") => json_response(StatusCode::OK, &json!(mock.faults()), false),
        ("POST", "faults") => match serde_json::from_slice::<Fault>(req.body()) {
            Ok(fault) => match mock.add_fault(fault) {
                Ok(()) => json_response(StatusCode::CREATED, &json!(mock.faults()), false),
                Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({"error": e}), false),
            },
            Err(e) => json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": e.to_string()}),
                false,
            ),
        },
        ("DELETE", "faults") => {
            mock.clear_faults();
            json_response(StatusCode::OK, &json!([]), false)
        }
        _ => {
            let (api_id, api_path) = sub.split_once('/').unwrap_or((sub, ""));
            mock.api_admin(api_id, req, api_path).unwrap_or_else(|| {
                json_response(
                    StatusCode::NOT_FOUND,
                    &json!({"error": "unknown admin endpoint", "method": method, "path": path}),
                    false,
                )
            })
        }
    }
}

fn clock_state(mock: &dyn Controls) -> Response {
    let now = mock.clock().now();
    json_response(
        StatusCode::OK,
        &json!({"now": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "now_ms": now.timestamp_millis(), "frozen": mock.clock().is_frozen(),
                "signature_clock": mock.signature_clock()}),
        false,
    )
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
            clock.freeze(instant).map_err(|e| e.to_string())?;
        }
        // Durations beyond chrono's range are refused like any other move out of range.
        let duration = |ms: i64| {
            chrono::Duration::try_milliseconds(ms)
                .ok_or_else(|| crate::clock::OutOfRange.to_string())
        };
        if let Some(ms) = self.advance_ms {
            clock.advance(duration(ms)?).map_err(|e| e.to_string())?;
        }
        if let Some(ms) = self.offset_ms {
            clock
                .run_with_offset(duration(ms)?)
                .map_err(|e| e.to_string())?;
        }
        if self.system == Some(true) {
            clock
                .run_with_offset(chrono::Duration::zero())
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
