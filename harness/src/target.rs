//! Where scenarios run: the embedded mock (a fresh server per scenario, whose accounts the mock
//! itself lists) or a live endpoint with the accounts its operator gives.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use event_mock::api::{Account, Credential};
use event_mock::{MockConfig, MockServer};

use crate::scenario::Capability;

/// Where scenarios run.
#[derive(Debug, Clone)]
pub enum TargetKind {
    /// The in-process mock, started afresh (deterministic) for every scenario.
    Embedded(MockConfig),
    Live(LiveTarget),
}

/// The credentials a target offers. A permitted account holds the API's permission; one that
/// is not authenticates but lacks it (for 403 checks). Each API uses the schemes its spec names.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    pub list: Vec<Account>,
}

/// Which kind of credential a scheme uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    Password,
    AccessKey,
    Token,
}

impl CredentialKind {
    pub fn of(credential: &Credential) -> Self {
        match credential {
            Credential::Password { .. } => CredentialKind::Password,
            Credential::AccessKey { .. } => CredentialKind::AccessKey,
            Credential::Token { .. } => CredentialKind::Token,
        }
    }
}

impl Accounts {
    pub fn new(list: Vec<Account>) -> Self {
        Self { list }
    }

    /// The first account of a kind, permitted or restricted.
    pub fn find(&self, kind: CredentialKind, permitted: bool) -> Option<&Account> {
        self.list
            .iter()
            .find(|a| a.permitted == permitted && CredentialKind::of(&a.credential) == kind)
    }

    pub fn has(&self, kind: CredentialKind, permitted: bool) -> bool {
        self.find(kind, permitted).is_some()
    }
}

/// A live endpoint: the API's base URL (e.g. `https://host:8080/base`) and accounts.
#[derive(Debug, Clone)]
pub struct LiveTarget {
    pub url: String,
    pub accounts: Accounts,
    /// The target serves the mock's `/__admin` control plane at `admin_url`.
    pub admin_url: Option<String>,
    /// Values for `{{name}}` in scenarios, e.g. `project_id`.
    pub vars: BTreeMap<String, String>,
}

/// One resolved target for one scenario run.
#[derive(Debug, Clone)]
pub struct Target {
    pub api_url: String,
    pub admin_url: Option<String>,
    pub accounts: Accounts,
    pub vars: BTreeMap<String, String>,
    /// Tags data a scenario creates, so queries on a shared live system see only its own events.
    pub run_tag: String,
}

/// The run tag of the embedded mock: fixed, so snapshots are stable.
pub const EMBEDDED_RUN_TAG: &str = "r0001";

impl Target {
    pub fn capabilities(&self) -> BTreeSet<Capability> {
        let mut caps = BTreeSet::new();
        if self.admin_url.is_some() {
            caps.insert(Capability::Admin);
        }
        if self.accounts.list.iter().any(|a| !a.permitted) {
            caps.insert(Capability::RestrictedUser);
        }
        if self.accounts.has(CredentialKind::AccessKey, true) {
            caps.insert(Capability::AccessKey);
        }
        if self.accounts.has(CredentialKind::Token, true) {
            caps.insert(Capability::Token);
        }
        caps
    }

    /// The target's clock in epoch milliseconds: its control plane's clock when it has one (a
    /// frozen mock), else this machine's.
    pub async fn now_ms(&self, client: &reqwest::Client) -> i64 {
        if let Some(admin) = &self.admin_url {
            if let Ok(resp) = client.get(format!("{admin}/clock")).send().await {
                if let Ok(body) = resp.json::<Value>().await {
                    if let Some(ms) = body.get("now_ms").and_then(Value::as_i64) {
                        return ms;
                    }
                }
            }
        }
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    /// The target for a freshly started embedded mock: the accounts the mock lists for `api`,
    /// and the variables its permitted accounts bring (e.g. a project id).
    pub fn embedded(server: &MockServer, api: &str, config: &MockConfig) -> Target {
        let accounts = server.mock().accounts(api).unwrap_or_default();
        let mut vars = BTreeMap::new();
        for account in accounts.iter().filter(|a| a.permitted) {
            for (name, value) in &account.vars {
                vars.entry(name.clone()).or_insert_with(|| value.clone());
            }
        }
        Target {
            api_url: server.api_url(api).unwrap_or_else(|| server.url()),
            admin_url: config.admin.then(|| format!("{}/__admin", server.url())),
            accounts: Accounts::new(accounts),
            vars,
            run_tag: EMBEDDED_RUN_TAG.into(),
        }
    }
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
        .unwrap_or_default()
}
