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
    /// The same over HTTPS, with a certificate generated per server that the client trusts.
    EmbeddedTls(MockConfig),
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
    /// Which server certificates the client trusts besides the system's roots.
    pub trust: Trust,
}

/// Certificates a client trusts beyond the usual roots: a mock's self-signed one (PEM), or,
/// for a test endpoint only, any certificate at all.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    pub ca_pem: Option<String>,
    pub accept_invalid_certs: bool,
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
        self.clock_reading(client, "now_ms").await
    }

    /// The instant the target checks request signatures against: the mock clock when its
    /// control plane says signatures use it (`"signature_clock": "mock"`), else real time.
    pub async fn signature_now_ms(&self, client: &reqwest::Client) -> i64 {
        match self.clock_state(client).await {
            Some(state) if state.get("signature_clock") == Some(&Value::from("mock")) => state
                .get("now_ms")
                .and_then(Value::as_i64)
                .unwrap_or_else(local_ms),
            _ => local_ms(),
        }
    }

    async fn clock_reading(&self, client: &reqwest::Client, field: &str) -> i64 {
        self.clock_state(client)
            .await
            .and_then(|state| state.get(field).and_then(Value::as_i64))
            .unwrap_or_else(local_ms)
    }

    async fn clock_state(&self, client: &reqwest::Client) -> Option<Value> {
        let admin = self.admin_url.as_ref()?;
        let resp = client.get(format!("{admin}/clock")).send().await.ok()?;
        resp.json::<Value>().await.ok()
    }
}

/// This machine's clock in epoch milliseconds.
fn local_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Target {
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
    http_client_trusting(&Trust::default()).unwrap_or_default()
}

/// A client that trusts what `trust` says; `Err` when the PEM cannot be read.
pub fn http_client_trusting(trust: &Trust) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .no_proxy();
    if let Some(pem) = &trust.ca_pem {
        let certificate = reqwest::Certificate::from_pem(pem.as_bytes())
            .map_err(|e| format!("the CA certificate cannot be read: {e}"))?;
        builder = builder.add_root_certificate(certificate);
    }
    if trust.accept_invalid_certs {
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|e| e.to_string())
}
