//! vSphere settings of a mock instance (users and their privileges, the inventory, the policies
//! the research leaves open) and the server's `--vsphere-*` flags.

use serde::{Deserialize, Serialize};

use crate::api::ApiFlags;
use crate::config::{ApiConfig, MockConfig};

/// A vCenter user: the name typed at Login, its password and its global privileges.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub user_name: String,
    pub password: String,
    pub full_name: String,
    /// Privilege ids such as `Global.LogEvent`; `System.View` is implied for every user.
    pub privileges: Vec<String>,
}

impl User {
    pub fn holds(&self, privilege: &str) -> bool {
        privilege == "System.View" || self.privileges.iter().any(|p| p == privilege)
    }
}

/// One managed entity of the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryObject {
    /// The MoType, e.g. `VirtualMachine`.
    #[serde(rename = "type")]
    pub mo_type: String,
    /// The moId, e.g. `vm-20`.
    pub value: String,
    pub name: String,
    /// The moId of the parent (`None` for the root folder).
    #[serde(default)]
    pub parent: Option<String>,
}

/// `userName` of a posted event (rule `user_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserNamePolicy {
    /// Store the caller's value (seed 000 does not list userName among the overwritten fields).
    Keep,
    /// Replace it with the session's user (what vcsim does).
    Session,
}

/// What `taskInfo` of PostEvent does (rule `task_info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskInfoPolicy {
    /// The event joins the task's event chain; an unknown task is refused.
    Chain,
    /// taskInfo is ignored (what vcsim does).
    Ignore,
}

/// Members a data type does not declare (rule `unknown_members`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownMembers {
    /// Left out of what is stored.
    Ignore,
    /// InvalidRequest.
    Reject,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct VsphereConfig {
    pub users: Vec<User>,
    pub inventory: Vec<InventoryObject>,
    /// `None` uses the spec's rules.
    pub user_name: Option<UserNamePolicy>,
    pub task_info: Option<TaskInfoPolicy>,
    pub unknown_members: Option<UnknownMembers>,
    /// 500 (default) or 401 for a call without a valid session.
    pub unauthenticated_status: Option<u16>,
    /// Check EventEx.objectType against the inventory (default on, rule `object_type`).
    pub object_type_check: Option<bool>,
    /// Events QueryEvents returns when the filter sets no maxCount.
    pub query_max_count: Option<usize>,
    /// Releases served under /sdk/vim25/{release}; empty uses the spec's list.
    pub releases: Vec<String>,
    pub max_body_bytes: Option<usize>,
    /// At most this many stored events (the oldest go first when the store budget says so).
    pub max_events: usize,
}

/// The default inventory: one datacenter with a cluster of two hosts, two VMs, a datastore, a
/// network and a distributed switch, under the usual folders.
pub fn default_inventory() -> Vec<InventoryObject> {
    let object = |mo_type: &str, value: &str, name: &str, parent: Option<&str>| InventoryObject {
        mo_type: mo_type.into(),
        value: value.into(),
        name: name.into(),
        parent: parent.map(str::to_owned),
    };
    vec![
        object("Folder", "group-d1", "Datacenters", None),
        object("Datacenter", "datacenter-2", "DC0", Some("group-d1")),
        object("Folder", "group-h4", "host", Some("datacenter-2")),
        object("Folder", "group-v3", "vm", Some("datacenter-2")),
        object("Folder", "group-s5", "datastore", Some("datacenter-2")),
        object("Folder", "group-n6", "network", Some("datacenter-2")),
        object(
            "ClusterComputeResource",
            "domain-c7",
            "DC0_C0",
            Some("group-h4"),
        ),
        object("HostSystem", "host-10", "DC0_C0_H0", Some("domain-c7")),
        object("HostSystem", "host-11", "DC0_C0_H1", Some("domain-c7")),
        object(
            "VirtualMachine",
            "vm-20",
            "DC0_C0_RP0_VM0",
            Some("group-v3"),
        ),
        object(
            "VirtualMachine",
            "vm-21",
            "DC0_C0_RP0_VM1",
            Some("group-v3"),
        ),
        object("Datastore", "datastore-30", "LocalDS_0", Some("group-s5")),
        object("Network", "network-40", "VM Network", Some("group-n6")),
        object(
            "VmwareDistributedVirtualSwitch",
            "dvs-50",
            "DVS0",
            Some("group-n6"),
        ),
        object(
            "DistributedVirtualPortgroup",
            "dvportgroup-51",
            "DVS0-DVUplinks",
            Some("group-n6"),
        ),
    ]
}

impl Default for VsphereConfig {
    fn default() -> Self {
        Self {
            users: vec![
                User {
                    user_name: "administrator@vsphere.local".into(),
                    password: "Mock-Admin-Pass1!".into(),
                    full_name: "Administrator vsphere.local".into(),
                    privileges: vec!["Global.LogEvent".into(), "Task.Create".into()],
                },
                User {
                    user_name: "readonly@vsphere.local".into(),
                    password: "Mock-Read-Pass1!".into(),
                    full_name: "Read Only".into(),
                    privileges: Vec::new(),
                },
            ],
            inventory: default_inventory(),
            user_name: None,
            task_info: None,
            unknown_members: None,
            unauthenticated_status: None,
            object_type_check: None,
            query_max_count: None,
            releases: Vec::new(),
            max_body_bytes: None,
            max_events: 1_000_000,
        }
    }
}

impl ApiConfig for VsphereConfig {
    const API_ID: &'static str = super::API_ID;
}

/// vSphere's command-line flags.
#[derive(Debug, Clone, clap::Args)]
pub struct VsphereFlags {
    /// vSphere: a user as NAME:PASSWORD[:privilege,privilege] (repeatable); replaces the
    /// default users. Privileges default to Global.LogEvent.
    #[arg(long = "vsphere-user")]
    pub vsphere_users: Vec<String>,
    /// vSphere: a JSON file with the inventory (a list of {type, value, name, parent}).
    #[arg(long)]
    pub vsphere_inventory: Option<std::path::PathBuf>,
    /// vSphere: userName of a posted event: the caller's (keep) or the session user's.
    #[arg(long, value_parser = ["keep", "session"])]
    pub vsphere_user_name: Option<String>,
    /// vSphere: taskInfo of PostEvent joins the task's event chain (chain) or is ignored.
    #[arg(long, value_parser = ["chain", "ignore"])]
    pub vsphere_task_info: Option<String>,
    /// vSphere: members a data type does not declare are ignored or rejected.
    #[arg(long, value_parser = ["ignore", "reject"])]
    pub vsphere_unknown_members: Option<String>,
    /// vSphere: the HTTP status of NotAuthenticated (500 as every fault, or 401).
    #[arg(long, value_parser = ["500", "401"])]
    pub vsphere_unauthenticated_status: Option<String>,
    /// vSphere: check EventEx.objectType against the inventory (strict) or not (lenient).
    #[arg(long, value_parser = ["strict", "lenient"])]
    pub vsphere_object_type_check: Option<String>,
    /// vSphere: events QueryEvents returns when the filter sets no maxCount.
    #[arg(long)]
    pub vsphere_query_max_count: Option<usize>,
    /// vSphere: a release served under /sdk/vim25/{release} (repeatable); replaces the list.
    #[arg(long = "vsphere-release")]
    pub vsphere_releases: Vec<String>,
    /// vSphere: the largest request body in bytes.
    #[arg(long)]
    pub vsphere_max_body_bytes: Option<usize>,
}

impl ApiFlags for VsphereFlags {
    fn apply(&self, config: &mut MockConfig) -> Result<(), String> {
        let mut settings: VsphereConfig = config.api()?;
        if !self.vsphere_users.is_empty() {
            settings.users = self
                .vsphere_users
                .iter()
                .map(|u| parse_user(u))
                .collect::<Result<_, _>>()?;
        }
        if let Some(path) = &self.vsphere_inventory {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--vsphere-inventory {}: {e}", path.display()))?;
            settings.inventory = serde_json::from_str(&text)
                .map_err(|e| format!("--vsphere-inventory {}: {e}", path.display()))?;
        }
        if let Some(policy) = &self.vsphere_user_name {
            settings.user_name = Some(if policy == "session" {
                UserNamePolicy::Session
            } else {
                UserNamePolicy::Keep
            });
        }
        if let Some(policy) = &self.vsphere_task_info {
            settings.task_info = Some(if policy == "ignore" {
                TaskInfoPolicy::Ignore
            } else {
                TaskInfoPolicy::Chain
            });
        }
        if let Some(policy) = &self.vsphere_unknown_members {
            settings.unknown_members = Some(if policy == "reject" {
                UnknownMembers::Reject
            } else {
                UnknownMembers::Ignore
            });
        }
        if let Some(status) = &self.vsphere_unauthenticated_status {
            settings.unauthenticated_status = status.parse().ok();
        }
        if let Some(check) = &self.vsphere_object_type_check {
            settings.object_type_check = Some(check == "strict");
        }
        if self.vsphere_query_max_count.is_some() {
            settings.query_max_count = self.vsphere_query_max_count;
        }
        if !self.vsphere_releases.is_empty() {
            settings.releases = self.vsphere_releases.clone();
        }
        if self.vsphere_max_body_bytes.is_some() {
            settings.max_body_bytes = self.vsphere_max_body_bytes;
        }
        config.set_api(&settings);
        Ok(())
    }
}

fn parse_user(text: &str) -> Result<User, String> {
    let parts: Vec<&str> = text.splitn(3, ':').collect();
    let [name, password, rest @ ..] = parts.as_slice() else {
        return Err(format!(
            "--vsphere-user '{text}': expected NAME:PASSWORD[:privileges]"
        ));
    };
    let privileges = match rest.first() {
        Some(list) => list
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        None => vec!["Global.LogEvent".to_owned()],
    };
    Ok(User {
        user_name: (*name).into(),
        password: (*password).into(),
        full_name: (*name).into(),
        privileges,
    })
}
