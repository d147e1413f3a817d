//! MWS settings of a mock instance (accounts, events.log, totalCount, list order, limits) and
//! the server's `--user`/`--events-log*`/`--total-count`/`--list-order`/`--query-limit` flags
//! that set them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::api::ApiFlags;
use crate::config::{ApiConfig, MockConfig};

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

/// The order of a list without `sort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListOrder {
    /// The reverse of the stored order, as the seed's sample lists events.
    NewestFirst,
    /// The stored (MongoDB natural) order.
    OldestFirst,
}

/// How events.log writes control characters and line separators its escape table omits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlEscapes {
    /// As Java `\uXXXX` escapes (the research's reading of "escaped as Java strings").
    Unicode,
    /// Unchanged (only the seed's table is applied).
    Raw,
}

/// What seeding does with an event that carries the v1/v2 field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeededLegacyNames {
    /// Store it under the v3 names.
    Rename,
    /// Refuse the batch.
    Refuse,
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
    /// Order of a list without `sort`; `None` uses the spec's default (newest first).
    pub list_order: Option<ListOrder>,
    /// events.log escaping of unlisted control characters; `None` uses the spec's default.
    pub events_log_escapes: Option<ControlEscapes>,
    /// Query caps by name (`sort_keys`, `regex_terms`, `page_items`, ...) replacing the spec's.
    pub query_limits: std::collections::BTreeMap<String, usize>,
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
            list_order: None,
            events_log_escapes: None,
            query_limits: Default::default(),
        }
    }
}

impl ApiConfig for MwsConfig {
    const API_ID: &'static str = super::API_ID;
}

/// MWS's command-line flags.
#[derive(Debug, Clone, clap::Args)]
pub struct MwsFlags {
    /// MWS: an account as name:password[:perm1,perm2] (repeatable); replaces the default
    /// accounts admin:secret (all permissions) and noevents:secret (no events permission).
    #[arg(long = "user")]
    pub users: Vec<String>,
    /// MWS: append created events to this events.log file.
    #[arg(long)]
    pub events_log: Option<PathBuf>,
    /// MWS: zone of events.log timestamps (UTC, an IANA id, or an offset like -06:00).
    #[arg(long)]
    pub events_log_zone: Option<String>,
    /// MWS: what totalCount counts.
    #[arg(long, value_parser = ["matching", "all"])]
    pub total_count: Option<String>,
    /// MWS: order of a list without sort (the seed's sample lists the newest first).
    #[arg(long, value_parser = ["newest-first", "oldest-first"])]
    pub list_order: Option<String>,
    /// MWS: events.log escaping of control characters beyond the seed's table: Java \uXXXX
    /// escapes (unicode) or unchanged (raw).
    #[arg(long, value_parser = ["unicode", "raw"])]
    pub events_log_escapes: Option<String>,
    /// MWS: a query cap as NAME=VALUE (repeatable), e.g. page_items=5000; names as in the
    /// spec's query limits (sort_keys, regex_terms, regex_bytes, regex_compiled_bytes,
    /// in_values, logical_clauses, predicates, page_items).
    #[arg(long = "query-limit")]
    pub query_limits: Vec<String>,
}

impl ApiFlags for MwsFlags {
    fn apply(&self, config: &mut MockConfig) -> Result<(), String> {
        let users = self
            .users
            .iter()
            .map(|u| parse_user(u))
            .collect::<Result<Vec<_>, _>>()?;
        let mut settings: MwsConfig = config.api()?;
        if !users.is_empty() {
            settings.users = users;
        }
        if self.events_log.is_some() {
            settings.events_log_path = self.events_log.clone();
        }
        if self.events_log_zone.is_some() {
            settings.events_log_zone = self.events_log_zone.clone();
        }
        match self.total_count.as_deref() {
            Some("all") => settings.total_count = Some(TotalCount::All),
            Some(_) => settings.total_count = Some(TotalCount::Matching),
            None => {}
        }
        match self.list_order.as_deref() {
            Some("oldest-first") => settings.list_order = Some(ListOrder::OldestFirst),
            Some(_) => settings.list_order = Some(ListOrder::NewestFirst),
            None => {}
        }
        match self.events_log_escapes.as_deref() {
            Some("raw") => settings.events_log_escapes = Some(ControlEscapes::Raw),
            Some(_) => settings.events_log_escapes = Some(ControlEscapes::Unicode),
            None => {}
        }
        for limit in &self.query_limits {
            let (name, value) = limit
                .split_once('=')
                .and_then(|(n, v)| Some((n.trim(), v.trim().parse::<usize>().ok()?)))
                .ok_or_else(|| format!("--query-limit '{limit}': expected NAME=NUMBER"))?;
            settings.query_limits.insert(name.to_owned(), value);
        }
        config.set_api(&settings);
        Ok(())
    }
}

fn parse_user(text: &str) -> Result<User, String> {
    let mut parts = text.splitn(3, ':');
    let (Some(name), Some(password)) = (parts.next(), parts.next()) else {
        return Err(format!(
            "--user '{text}': expected name:password[:permissions]"
        ));
    };
    let permissions: Vec<&str> = match parts.next() {
        Some(list) => list.split(',').filter(|p| !p.is_empty()).collect(),
        None => vec!["*"],
    };
    Ok(User::new(name, password, &permissions))
}
