//! Cloud Director settings of a mock instance (organizations, users and their roles, the
//! versions served, bounds) and the server's `--vcloud-*` flags. Contract values (messages,
//! media types, which role may call what) live in the spec; these are the installation's data.

use serde::{Deserialize, Serialize};

use crate::api::ApiFlags;
use crate::config::{ApiConfig, MockConfig};

/// An organization: its name (what `user@org` names at login) and its UUID (what URLs carry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub name: String,
    pub id: String,
}

/// A user of one organization, with the role that decides what it may call (rule `roles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    /// The organization's name.
    pub org: String,
    pub password: String,
    /// A role of rule `roles`, e.g. `Organization Administrator`.
    pub role: String,
    /// The user's UUID (URN `urn:vcloud:user:<id>`).
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct VcloudConfig {
    pub orgs: Vec<Org>,
    pub users: Vec<User>,
    /// API versions served; empty uses the spec's list.
    pub versions: Vec<String>,
    pub max_body_bytes: Option<usize>,
    /// At most this many stored events (the oldest go first when the store budget says so).
    pub max_events: usize,
}

/// The provider organization's fixed UUID on every Cloud Director installation.
const SYSTEM_ORG_ID: &str = "a93c9db9-7471-3192-8d09-a8f7eeda85f9";

impl Default for VcloudConfig {
    fn default() -> Self {
        let org = |name: &str, id: &str| Org {
            name: name.into(),
            id: id.into(),
        };
        let user = |name: &str, org: &str, password: &str, role: &str, id: &str| User {
            name: name.into(),
            org: org.into(),
            password: password.into(),
            role: role.into(),
            id: id.into(),
        };
        Self {
            orgs: vec![
                org("System", SYSTEM_ORG_ID),
                org("acme", "7b832bc5-3d65-45a2-8d35-da28388ab80a"),
                org("globex", "5f0e4b2c-6a1d-4c3e-9b7a-2d8f1e0c4a61"),
            ],
            users: vec![
                user(
                    "orgadmin",
                    "acme",
                    "Mock-OrgAdmin-Pass1!",
                    "Organization Administrator",
                    "007a5dfd-32b4-42dd-813b-bfef3da70cb5",
                ),
                user(
                    "administrator",
                    "System",
                    "Mock-Admin-Pass1!",
                    "System Administrator",
                    "2f6c1b8e-0d4a-4e7b-9c3f-5a1e8d2b7c40",
                ),
                user(
                    "orgadmin",
                    "globex",
                    "Mock-Globex-Pass1!",
                    "Organization Administrator",
                    "9c4e2a7b-1f3d-4b6e-8a5c-0e7d3f9b2a18",
                ),
                user(
                    "vappuser",
                    "acme",
                    "Mock-User-Pass1!",
                    "vApp User",
                    "4d8b3e1a-7c2f-4a9e-b6d0-3f5c8e1a9b27",
                ),
            ],
            versions: Vec::new(),
            max_body_bytes: None,
            max_events: 1_000_000,
        }
    }
}

impl ApiConfig for VcloudConfig {
    const API_ID: &'static str = super::API_ID;
}

/// Cloud Director's command-line flags.
#[derive(Debug, Clone, clap::Args)]
pub struct VcloudFlags {
    /// Cloud Director: an organization as NAME:UUID (repeatable); replaces the default ones
    /// (System, acme, globex). Keep `System` for the provider login.
    #[arg(long = "vcloud-org")]
    pub vcloud_orgs: Vec<String>,
    /// Cloud Director: a user as NAME@ORG:PASSWORD:ROLE (repeatable); replaces the default
    /// users. ROLE is one of the spec's roles, e.g. "Organization Administrator".
    #[arg(long = "vcloud-user")]
    pub vcloud_users: Vec<String>,
    /// Cloud Director: an API version served (repeatable); replaces the spec's list.
    #[arg(long = "vcloud-version")]
    pub vcloud_versions: Vec<String>,
    /// Cloud Director: the largest request body in bytes.
    #[arg(long)]
    pub vcloud_max_body_bytes: Option<usize>,
}

impl ApiFlags for VcloudFlags {
    fn apply(&self, config: &mut MockConfig) -> Result<(), String> {
        let mut settings: VcloudConfig = config.api()?;
        if !self.vcloud_orgs.is_empty() {
            settings.orgs = self
                .vcloud_orgs
                .iter()
                .map(|o| parse_org(o))
                .collect::<Result<_, _>>()?;
        }
        if !self.vcloud_users.is_empty() {
            settings.users = self
                .vcloud_users
                .iter()
                .enumerate()
                .map(|(i, u)| parse_user(u, i))
                .collect::<Result<_, _>>()?;
        }
        if !self.vcloud_versions.is_empty() {
            settings.versions = self.vcloud_versions.clone();
        }
        if self.vcloud_max_body_bytes.is_some() {
            settings.max_body_bytes = self.vcloud_max_body_bytes;
        }
        config.set_api(&settings);
        Ok(())
    }
}

fn parse_org(text: &str) -> Result<Org, String> {
    let (name, id) = text
        .split_once(':')
        .ok_or_else(|| format!("--vcloud-org '{text}': expected NAME:UUID"))?;
    if !is_uuid(id) {
        return Err(format!("--vcloud-org '{text}': '{id}' is not a UUID"));
    }
    Ok(Org {
        name: name.into(),
        id: id.to_ascii_lowercase(),
    })
}

fn parse_user(text: &str, index: usize) -> Result<User, String> {
    let parts: Vec<&str> = text.splitn(3, ':').collect();
    let [login, password, role] = parts.as_slice() else {
        return Err(format!(
            "--vcloud-user '{text}': expected NAME@ORG:PASSWORD:ROLE"
        ));
    };
    let (name, org) = login
        .rsplit_once('@')
        .ok_or_else(|| format!("--vcloud-user '{text}': expected NAME@ORG"))?;
    Ok(User {
        name: name.into(),
        org: org.into(),
        password: (*password).into(),
        role: (*role).into(),
        // A stable id per position, so restarts with the same flags give the same URNs.
        id: format!("00000000-0000-4000-8000-{:012x}", index + 1),
    })
}

/// `8-4-4-4-12` hexadecimal digits.
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}
