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
    pub ces: CesConfig,
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
            ces: CesConfig::default(),
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

/// A Huawei AK/SK pair and what it may do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessKey {
    pub ak: String,
    pub sk: String,
    /// Projects the key belongs to.
    pub project_ids: Vec<String>,
    /// IAM actions, e.g. `ces:events:post`; `*` grants all.
    pub permissions: Vec<String>,
}

/// An IAM token (project-scoped) and what it may do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    pub token: String,
    pub project_id: String,
    pub permissions: Vec<String>,
}

fn may(permissions: &[String], action: &str) -> bool {
    permissions.iter().any(|p| p == "*" || p == action)
}

impl AccessKey {
    pub fn may(&self, action: &str) -> bool {
        may(&self.permissions, action)
    }
}

impl Token {
    pub fn may(&self, action: &str) -> bool {
        may(&self.permissions, action)
    }
}

/// The id returned for a duplicate event (research A37: undocumented).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DuplicateId {
    /// The id of the event stored first.
    Original,
    /// A fresh id (nothing is stored).
    New,
}

/// What to do with `detail.sub_event_type` (a regional feature, research A13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubEventMode {
    Accept,
    /// Drop the field before storing.
    Ignore,
    /// Refuse the event (ces.0014).
    Reject,
}

/// The project, keys and token of the default Cloud Eye set-up.
pub const CES_PROJECT: &str = "0123456789abcdef0123456789abcdef";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CesConfig {
    pub access_keys: Vec<AccessKey>,
    pub tokens: Vec<Token>,
    /// Error body shape: `v1`, `v2` or `legacy`; `None` uses the spec's default.
    pub error_envelope: Option<String>,
    /// Margin of the time window in ms (10 s by default; 20 s in the regional variant).
    pub time_margin_ms: Option<i64>,
    pub duplicate_id: Option<DuplicateId>,
    pub sub_event_type: Option<SubEventMode>,
    pub max_body_bytes: Option<usize>,
    /// At most this many stored events; more gives the vendor's 500.
    pub max_events: usize,
}

impl Default for CesConfig {
    fn default() -> Self {
        Self {
            access_keys: vec![
                AccessKey {
                    ak: "TESTAK0123456789ABCD".into(),
                    sk: "TESTSK0123456789abcdefghijklmnopqrstuvwx".into(),
                    project_ids: vec![CES_PROJECT.into()],
                    permissions: vec!["ces:events:post".into()],
                },
                AccessKey {
                    ak: "READONLYAK0123456789".into(),
                    sk: "READONLYSK0123456789abcdefghijklmnopqrst".into(),
                    project_ids: vec![CES_PROJECT.into()],
                    permissions: vec!["ces:events:list".into()],
                },
            ],
            tokens: vec![Token {
                token: "MIIT-test-token-0123456789".into(),
                project_id: CES_PROJECT.into(),
                permissions: vec!["ces:events:post".into()],
            }],
            error_envelope: None,
            time_margin_ms: None,
            duplicate_id: None,
            sub_event_type: None,
            max_body_bytes: None,
            max_events: 1_000_000,
        }
    }
}
