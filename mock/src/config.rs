//! How a mock instance is set up: which APIs, who may log in, where logs go. Contract values
//! (patterns, messages, rules) are not here: they come from `specs/`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MockConfig {
    /// APIs to serve, by spec id; empty means every API under `specs/`.
    pub apis: Vec<String>,
    /// Seed for server-assigned ids; `None` draws from the OS.
    pub id_seed: Option<u64>,
    /// Start with the clock frozen at this instant.
    pub frozen_clock: Option<DateTime<Utc>>,
    /// Serve the control plane under `/__admin`.
    pub admin: bool,
    /// Scheme used to build absolute URLs (Location headers) from the Host header.
    pub public_scheme: String,
    pub mws: MwsConfig,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            apis: Vec::new(),
            id_seed: None,
            frozen_clock: None,
            admin: true,
            public_scheme: "http".into(),
            mws: MwsConfig::default(),
        }
    }
}

impl MockConfig {
    /// Deterministic set-up for tests: seeded ids, frozen clock.
    pub fn deterministic() -> Self {
        Self {
            id_seed: Some(1),
            frozen_clock: DateTime::parse_from_rfc3339("2025-01-27T12:00:00Z")
                .ok()
                .map(|d| d.with_timezone(&Utc)),
            ..Self::default()
        }
    }

    pub fn serves(&self, api: &str) -> bool {
        self.apis.is_empty() || self.apis.iter().any(|a| a == api)
    }
}

/// An account that may call the API with HTTP Basic authentication.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub password: String,
    /// Resource permissions, e.g. `events`; `*` grants all.
    pub permissions: Vec<String>,
}

impl User {
    pub fn new(name: &str, password: &str, permissions: &[&str]) -> Self {
        Self {
            name: name.into(),
            password: password.into(),
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
        }
    }

    pub fn may(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == "*" || p == permission)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TotalCount {
    /// Events matching the query, before max/offset (the common reading).
    Matching,
    /// Every stored event (the literal reading of MWS-RESP).
    All,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MwsConfig {
    pub users: Vec<User>,
    /// Append each created event to this file, in the events.log format.
    pub events_log_path: Option<PathBuf>,
    /// Zone of the events.log timestamps: `UTC`, an IANA name or an offset like `-06:00`.
    /// `None` uses the spec's default.
    pub events_log_zone: Option<String>,
    /// Meaning of `totalCount`; `None` uses the spec's default.
    pub total_count: Option<TotalCount>,
    /// Request body limit in bytes; `None` uses the spec's default.
    pub max_body_bytes: Option<usize>,
    /// At most this many stored events; creating more gives the vendor's 500.
    pub max_events: usize,
}

impl Default for MwsConfig {
    fn default() -> Self {
        Self {
            users: vec![
                User::new("admin", "secret", &["*"]),
                User::new("noevents", "secret", &["jobs"]),
            ],
            events_log_path: None,
            events_log_zone: None,
            total_count: None,
            max_body_bytes: None,
            max_events: 1_000_000,
        }
    }
}
