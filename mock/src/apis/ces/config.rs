//! Cloud Eye settings of a mock instance (keys, tokens, envelope, window margin, dedup and
//! sub_event_type modes, replay refusal, limits) and the server's `--access-key`/`--token`/
//! `--ces-*` flags.

use serde::{Deserialize, Serialize};

use crate::api::ApiFlags;
use crate::config::{ApiConfig, MockConfig};

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
    /// Refuse an AK/SK signature seen before (401 APIGW.0301), as a gateway with replay
    /// protection would; `None` uses the spec's rule `replay` (off: Huawei documents no such
    /// check, only the 15-minute date window).
    pub refuse_replays: Option<bool>,
    /// With replay refusal on, at most this many signatures are remembered (each for twice the
    /// date window); when full, the one that expires first is forgotten.
    pub max_remembered_signatures: usize,
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
            refuse_replays: None,
            max_remembered_signatures: 100_000,
        }
    }
}

impl ApiConfig for CesConfig {
    const API_ID: &'static str = super::API_ID;
}

/// Cloud Eye's command-line flags.
#[derive(Debug, Clone, clap::Args)]
pub struct CesFlags {
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
    /// Cloud Eye: refuse an AK/SK-signed request whose signature was already received (off by
    /// default: Huawei's gateway behaviour is undocumented). `--ces-refuse-replays=false` turns
    /// it off where the spec turns it on.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub ces_refuse_replays: Option<bool>,
}

impl ApiFlags for CesFlags {
    fn apply(&self, config: &mut MockConfig) -> Result<(), String> {
        let mut settings: CesConfig = config.api()?;
        if !self.access_keys.is_empty() {
            settings.access_keys = self
                .access_keys
                .iter()
                .map(|k| parse_access_key(k))
                .collect::<Result<_, _>>()?;
        }
        if !self.tokens.is_empty() {
            settings.tokens = self
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
        if self.ces_error_envelope.is_some() {
            settings.error_envelope = self.ces_error_envelope.clone();
        }
        if self.ces_time_margin_ms.is_some() {
            settings.time_margin_ms = self.ces_time_margin_ms;
        }
        match self.ces_duplicate_id.as_deref() {
            Some("new") => settings.duplicate_id = Some(DuplicateId::New),
            Some(_) => settings.duplicate_id = Some(DuplicateId::Original),
            None => {}
        }
        match self.ces_sub_event_type.as_deref() {
            Some("ignore") => settings.sub_event_type = Some(SubEventMode::Ignore),
            Some("reject") => settings.sub_event_type = Some(SubEventMode::Reject),
            Some(_) => settings.sub_event_type = Some(SubEventMode::Accept),
            None => {}
        }
        if self.ces_refuse_replays.is_some() {
            settings.refuse_replays = self.ces_refuse_replays;
        }
        config.set_api(&settings);
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
