//! How a mock instance is set up: which APIs, ids, clock, control plane. Each API keeps its own
//! settings (accounts, modes, limits) in its folder as an [`ApiConfig`]; the root holds them by
//! API id, so this file names no API. Contract values (patterns, messages, rules) are not here:
//! they come from `specs/`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::store::{StoreLimits, WhenFull};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MockConfig {
    /// APIs to serve, by spec id; empty means every registered API.
    pub apis: Vec<String>,
    /// Seed for server-assigned ids; `None` draws from the OS.
    pub id_seed: Option<u64>,
    /// Start with the clock frozen at this instant.
    pub frozen_clock: Option<DateTime<Utc>>,
    /// Serve the control plane under `/__admin`.
    pub admin: bool,
    /// The absolute URL clients reach the mock at (`https://mock.example:8443`), used for
    /// absolute URLs in answers such as `Location`. The server sets its bound address when
    /// this is absent; the sans-IO core without either falls back to `http://localhost`.
    pub public_url: Option<String>,
    /// A secret every `/__admin` request must carry (`Authorization: Bearer <token>` or
    /// `X-Admin-Token`). Without one, the server serves the control plane on loopback binds only.
    pub admin_token: Option<String>,
    /// Host names the control plane accepts besides loopback names and the public URL's host
    /// (against DNS rebinding).
    pub admin_hosts: Vec<String>,
    /// The clock request signatures are checked against: real time by default, so a client
    /// signing with its own clock keeps working while a test freezes the mock clock.
    pub signature_clock: SignatureClock,
    /// The items and bytes every API's stores may hold together, and what happens when full.
    pub store: StoreLimits,
    /// Each API's own settings, by API id (see [`ApiConfig`]); an API without an entry uses
    /// its defaults.
    pub per_api: BTreeMap<String, Value>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            apis: Vec::new(),
            id_seed: None,
            frozen_clock: None,
            admin: true,
            public_url: None,
            admin_token: None,
            admin_hosts: Vec::new(),
            signature_clock: SignatureClock::Real,
            store: StoreLimits::default(),
            per_api: BTreeMap::new(),
        }
    }
}

/// Which clock request signatures (AK/SK dates) are checked against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureClock {
    /// This machine's time, whatever the mock clock says.
    #[default]
    Real,
    /// The mock clock (frozen or offset with it).
    Mock,
}

/// The settings of one API, kept in its own folder.
pub trait ApiConfig: Serialize + DeserializeOwned + Default {
    /// The API id the settings belong to.
    const API_ID: &'static str;
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

    /// An API's settings: its entry, or its defaults. A malformed entry is an error.
    pub fn api<C: ApiConfig>(&self) -> Result<C, String> {
        match self.per_api.get(C::API_ID) {
            None => Ok(C::default()),
            Some(value) => serde_json::from_value(value.clone())
                .map_err(|e| format!("configuration of {}: {e}", C::API_ID)),
        }
    }

    /// Replace an API's settings.
    pub fn set_api<C: ApiConfig>(&mut self, settings: &C) {
        let value = serde_json::to_value(settings).unwrap_or(Value::Null);
        self.per_api.insert(C::API_ID.to_owned(), value);
    }

    /// Change some of an API's settings, e.g.
    /// `config.edit::<CesConfig>(|c| c.time_margin_ms = Some(20_000))`.
    pub fn edit<C: ApiConfig>(&mut self, change: impl FnOnce(&mut C)) -> &mut Self {
        let mut settings: C = self.api().unwrap_or_default();
        change(&mut settings);
        self.set_api(&settings);
        self
    }
}
