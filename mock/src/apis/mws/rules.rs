//! The MWS rules of `specs/mws-events/spec.json`, typed. Values come from the spec only.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::config::{ControlEscapes, ListOrder, SeededLegacyNames, TotalCount};
use crate::spec::{LoadedSpec, SpecError};

#[derive(Debug, Clone, Deserialize)]
pub struct DateFormat {
    pub fields: Vec<String>,
    pub storage_zone: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Renames {
    pub legacy_versions: Vec<String>,
    /// current name -> legacy (possibly dotted) name, in spec order.
    pub fields: Map<String, Value>,
    /// What seeding does with an event stored under the legacy names.
    pub seeded_legacy_names: SeededLegacyNames,
}

impl Renames {
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .filter_map(|(current, legacy)| Some((current.as_str(), legacy.as_str()?)))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct FieldList {
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OutputDefaults {
    pub values: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Artefacts {
    pub event: Map<String, Value>,
    /// List field -> fields added to each of its objects (`"{id}"` copies the object's id).
    pub lists: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ListRule {
    pub total_field: String,
    pub count_field: String,
    pub items_field: String,
    pub total_count: TotalCount,
    /// The order of a list without `sort`.
    pub default_order: ListOrder,
}

#[derive(Debug, Clone, Deserialize)]
pub struct QueryRule {
    pub query_param: String,
    pub sort_param: String,
    pub max_param: String,
    pub offset_param: String,
    pub max_depth: usize,
    /// Caps by name (`sort_keys`, `regex_terms`, ..., `page_items`).
    pub limits: std::collections::BTreeMap<String, QueryCap>,
}

/// One cap of the query rule: its value and what it counts (for the refusal's message).
#[derive(Debug, Clone, Deserialize)]
pub struct QueryCap {
    pub max: usize,
    pub what: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProjectionRule {
    pub fields_param: String,
    pub exclude_param: String,
    pub pretty_param: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventsLogRule {
    pub timestamp: LogTimestamp,
    pub entries: Vec<LogEntry>,
    pub escapes: Map<String, Value>,
    pub unlisted_controls: UnlistedControls,
}

/// Characters the escape table does not list that are still escaped (Java `\uXXXX`).
#[derive(Debug, Clone, Deserialize)]
pub struct UnlistedControls {
    pub default: ControlEscapes,
    /// Inclusive code point ranges, as hex strings.
    pub ranges: Vec<(String, String)>,
    /// The escape, with `XXXX` standing for the upper-case hex code point.
    pub escape: String,
}

impl UnlistedControls {
    /// The ranges as code points; a malformed bound is a spec error.
    pub fn code_ranges(&self) -> Result<Vec<(u32, u32)>, String> {
        self.ranges
            .iter()
            .map(|(lo, hi)| {
                let parse = |h: &str| {
                    u32::from_str_radix(h, 16).map_err(|_| format!("bad code point '{h}'"))
                };
                Ok((parse(lo)?, parse(hi)?))
            })
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogTimestamp {
    pub field: String,
    /// chrono format string.
    pub format: String,
    pub zone: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogEntry {
    /// Key, or key prefix with `{i}` for entries repeated over a list.
    pub key: String,
    #[serde(default)]
    pub field: Option<String>,
    /// Repeat over the objects of this list field, writing `fields` of each.
    #[serde(default)]
    pub each: Option<String>,
    #[serde(default)]
    pub fields: Vec<String>,
    /// Write an integer as `0x` + this many zero-padded lower-case hex digits (two's complement).
    #[serde(default)]
    pub hex_width: Option<usize>,
    /// Write a list as `["a","b"]`.
    #[serde(default)]
    pub list: bool,
}

/// All MWS rules, read once when the API is built.
#[derive(Debug, Clone)]
pub struct Rules {
    pub date_format: DateFormat,
    pub renames: Renames,
    pub removed_in_current: FieldList,
    pub added_in_current: FieldList,
    pub output_defaults: OutputDefaults,
    pub artefacts: Artefacts,
    pub list: ListRule,
    pub query: QueryRule,
    pub projection: ProjectionRule,
    pub events_log: EventsLogRule,
}

impl Rules {
    pub fn from_spec(spec: &LoadedSpec) -> Result<Self, SpecError> {
        Ok(Self {
            date_format: spec.rule("date_format")?,
            renames: spec.rule("renames")?,
            removed_in_current: spec.rule("removed_in_current")?,
            added_in_current: spec.rule("added_in_current")?,
            output_defaults: spec.rule("output_defaults")?,
            artefacts: spec.rule("create_response_artefacts")?,
            list: spec.rule("list")?,
            query: spec.rule("query")?,
            projection: spec.rule("projection")?,
            events_log: spec.rule("events_log")?,
        })
    }
}
