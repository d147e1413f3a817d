//! The control plane under `/__admin`: health, reset, the clock, faults, and each API's own
//! endpoints under `/__admin/<api-id>/...`. It always speaks JSON.

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
}

pub(crate) fn handle(mock: &dyn Controls, req: &Request, path: &str) -> Response {
    let sub = path.trim_start_matches("/__admin").trim_start_matches('/');
    let method = req.method().as_str();
    match (method, sub) {
        ("GET", "" | "health") => json_response(
            StatusCode::OK,
            &json!({"status": "ok", "apis": mock.api_ids(), "clock": mock.clock().now().to_rfc3339(), "clock_frozen": mock.clock().is_frozen()}),
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
