//! Reading events back: `EventFilterSpec` matching (QueryEvents and collectors) and the
//! `EventHistoryCollector` cursor.
//!
//! A collector's cursor sits between two event keys: events with a key at or below it are
//! "before", the rest "after". ReadNextEvents returns what follows the cursor, oldest first, and
//! moves it past them; ReadPreviousEvents returns what precedes it, newest first, and moves it
//! before them. A new collector is rewound (the cursor before the oldest event); ResetCollector
//! puts the cursor just before the latest page. Collectors are live: events posted later that
//! match the filter are read too.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::compact::{CompactDoc, DocRef};
use crate::mongo::{DocView, Num};

use super::inventory::{Inventory, Recursion};
use super::vmodl::DataTypes;

/// The spec's rule `categories`: the severity category of an event type.
#[derive(Debug, Clone, Deserialize)]
pub struct Categories {
    pub default: String,
    pub by_type: BTreeMap<String, String>,
}

/// What matching needs besides the filter.
pub struct Matching<'a> {
    pub inventory: &'a Inventory,
    pub types: &'a DataTypes,
    pub categories: &'a Categories,
    /// EntityEventArgument slots and the MoRef member inside each.
    pub slots: &'a [(String, String)],
}

/// A parsed `EventFilterSpec`.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    entity: Option<(String, Recursion)>,
    begin: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    users: Option<(bool, Vec<String>)>,
    chain: Option<i64>,
    type_ids: Vec<String>,
    categories: Vec<String>,
    types: Vec<String>,
    /// A filter on alarms or scheduled tasks: posted events carry neither.
    never: bool,
    pub max_count: Option<usize>,
    pub disable_full_message: bool,
}

/// A filter member the server cannot use, named as `invalidProperty`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFilter(pub String);

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn instant(value: Option<&Value>, name: &str) -> Result<Option<DateTime<Utc>>, BadFilter> {
    match value.and_then(Value::as_str) {
        None => Ok(None),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|d| Some(d.with_timezone(&Utc)))
            .map_err(|_| BadFilter(format!("time.{name}"))),
    }
}

impl Filter {
    /// Parse a (schema-valid, normalised) EventFilterSpec; an entity outside the inventory is a
    /// bad filter (research A6: CreateCollectorForEvents InvalidArgument "invalid reference").
    pub fn parse(spec: &Value, inventory: &Inventory) -> Result<Self, BadFilter> {
        let mut filter = Filter::default();
        if let Some(by_entity) = spec.get("entity") {
            let target = by_entity.get("entity").unwrap_or(&Value::Null);
            let object = inventory
                .resolve(target)
                .ok_or_else(|| BadFilter("entity".into()))?;
            let recursion = by_entity
                .get("recursion")
                .and_then(Value::as_str)
                .and_then(Recursion::parse)
                .ok_or_else(|| BadFilter("recursion".into()))?;
            filter.entity = Some((object.value.clone(), recursion));
        }
        if let Some(time) = spec.get("time") {
            filter.begin = instant(time.get("beginTime"), "beginTime")?;
            filter.end = instant(time.get("endTime"), "endTime")?;
        }
        if let Some(users) = spec.get("userName") {
            let system = users
                .get("systemUser")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            filter.users = Some((system, strings(users.get("userList"))));
        }
        filter.chain = spec.get("eventChainId").and_then(Value::as_i64);
        filter.type_ids = strings(spec.get("eventTypeId"));
        filter.categories = strings(spec.get("category"));
        filter.types = strings(spec.get("type"));
        filter.never = spec.get("alarm").is_some() || spec.get("scheduledTask").is_some();
        filter.max_count = spec
            .get("maxCount")
            .and_then(Value::as_u64)
            .map(|n| n as usize);
        filter.disable_full_message = spec.get("disableFullMessage") == Some(&Value::Bool(true));
        Ok(filter)
    }

    /// Does the stored event pass? Read in place: nothing is decoded but the members compared.
    pub fn matches(&self, event: &CompactDoc, with: &Matching<'_>) -> bool {
        self.matches_view(event.view(), with)
    }

    /// [`Filter::matches`] on any view of an event (a stored one, or a `Value` in tests).
    pub fn matches_view<'e, V: DocView<'e>>(&self, event: V, with: &Matching<'_>) -> bool {
        if self.never {
            return false;
        }
        let text = |name: &str| event.field(name).and_then(DocView::as_str);
        let type_name = text("_typeName").unwrap_or("Event");
        if let Some(chain) = self.chain {
            if event.field("chainId").and_then(as_i64) != Some(chain) {
                return false;
            }
        }
        if !self.type_ids.is_empty() {
            let id = text("eventTypeId").unwrap_or(type_name);
            if !self.type_ids.iter().any(|t| t == id) {
                return false;
            }
        }
        if !self.types.is_empty() && !self.types.iter().any(|t| with.types.is_a(type_name, t)) {
            return false;
        }
        if !self.categories.is_empty() {
            let category = category_of(event, type_name, with.categories);
            if !self.categories.iter().any(|c| c == category) {
                return false;
            }
        }
        if self.begin.is_some() || self.end.is_some() {
            let created = text("createdTime")
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|d| d.with_timezone(&Utc));
            let Some(created) = created else {
                return false;
            };
            if self.begin.is_some_and(|b| created < b) || self.end.is_some_and(|e| created > e) {
                return false;
            }
        }
        if let Some((system, list)) = &self.users {
            let user = text("userName").unwrap_or("");
            let wanted = if user.is_empty() {
                *system
            } else {
                list.is_empty() || list.iter().any(|u| u == user)
            };
            if !wanted {
                return false;
            }
        }
        if let Some((target, recursion)) = &self.entity {
            if !entities_of(event, with.slots)
                .iter()
                .any(|id| with.inventory.covers(target, *recursion, id))
            {
                return false;
            }
        }
        true
    }

    /// The event as a reader sees it (without fullFormattedMessage when the filter says so).
    pub fn shown(&self, event: &CompactDoc) -> Value {
        let mut shown = event.to_value();
        if self.disable_full_message {
            if let Value::Object(fields) = &mut shown {
                fields.shift_remove("fullFormattedMessage");
            }
        }
        shown
    }
}

/// An integer member as `Value::as_i64` reads it: an integer within `i64`, not a float.
fn as_i64<'e, V: DocView<'e>>(value: V) -> Option<i64> {
    match value.as_num()? {
        Num::Int(i) => Some(i),
        Num::UInt(_) | Num::Float(_) => None,
    }
}

/// EventEx's severity, else the type's category.
fn category_of<'r, 'e: 'r, V: DocView<'e>>(
    event: V,
    type_name: &str,
    categories: &'r Categories,
) -> &'r str {
    if let Some(severity) = event.field("severity").and_then(DocView::as_str) {
        return severity;
    }
    categories
        .by_type
        .get(type_name)
        .map(String::as_str)
        .unwrap_or(&categories.default)
}

/// The moIds an event is about: its EntityEventArgument slots, a GeneralUserEvent's entity, an
/// ExtendedEvent's managedObject and an EventEx's objectId.
fn entities_of<'e, V: DocView<'e>>(event: V, slots: &[(String, String)]) -> Vec<&'e str> {
    let mut ids: Vec<&str> = slots
        .iter()
        .filter_map(|(slot, member)| event.field(slot)?.field(member)?.field("value")?.as_str())
        .collect();
    let extra = [
        event
            .field("entity")
            .and_then(|e| e.field("entity"))
            .and_then(|e| e.field("value")),
        event.field("managedObject").and_then(|m| m.field("value")),
        event.field("objectId"),
    ];
    ids.extend(extra.into_iter().flatten().filter_map(DocView::as_str));
    ids
}

/// A stored event's key.
pub fn key_of(event: &CompactDoc) -> i64 {
    key_in(event.view())
}

fn key_in(event: DocRef<'_>) -> i64 {
    event.field("key").and_then(as_i64).unwrap_or(0)
}

/// One `EventHistoryCollector`.
#[derive(Debug, Clone)]
pub struct Collector {
    /// The filter as given (normalised), for the `filter` property.
    pub spec: Value,
    pub filter: Filter,
    pub page_size: usize,
    /// Events with a key at or below it are behind the cursor.
    pub cursor: i64,
}

impl Collector {
    pub fn new(spec: Value, filter: Filter, page_size: usize) -> Self {
        Self {
            spec,
            filter,
            page_size,
            cursor: 0,
        }
    }

    /// The newest `page_size` matching events, newest first.
    pub fn latest_page(&self, events: &[CompactDoc], with: &Matching<'_>) -> Vec<Value> {
        events
            .iter()
            .rev()
            .filter(|e| self.filter.matches(e, with))
            .take(self.page_size)
            .map(|e| self.filter.shown(e))
            .collect()
    }

    pub fn read_next(
        &mut self,
        events: &[CompactDoc],
        with: &Matching<'_>,
        max: usize,
    ) -> Vec<Value> {
        let start = events.partition_point(|e| key_of(e) <= self.cursor);
        let page: Vec<&CompactDoc> = events[start..]
            .iter()
            .filter(|e| self.filter.matches(e, with))
            .take(max)
            .collect();
        if let Some(last) = page.last() {
            self.cursor = key_of(last);
        }
        page.into_iter().map(|e| self.filter.shown(e)).collect()
    }

    pub fn read_previous(
        &mut self,
        events: &[CompactDoc],
        with: &Matching<'_>,
        max: usize,
    ) -> Vec<Value> {
        let end = events.partition_point(|e| key_of(e) <= self.cursor);
        let page: Vec<&CompactDoc> = events[..end]
            .iter()
            .rev()
            .filter(|e| self.filter.matches(e, with))
            .take(max)
            .collect();
        if let Some(oldest) = page.last() {
            self.cursor = key_of(oldest) - 1;
        }
        page.into_iter().map(|e| self.filter.shown(e)).collect()
    }

    pub fn rewind(&mut self) {
        self.cursor = 0;
    }

    /// Just before the latest page.
    pub fn reset(&mut self, events: &[CompactDoc], with: &Matching<'_>) {
        let page: Vec<i64> = events
            .iter()
            .rev()
            .filter(|e| self.filter.matches(e, with))
            .take(self.page_size)
            .map(key_of)
            .collect();
        self.cursor = match page.last() {
            Some(oldest) => oldest - 1,
            None => events.last().map(key_of).unwrap_or(0),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::default_inventory;
    use super::*;
    use serde_json::json;

    fn events() -> Vec<Value> {
        vec![
            json!({"_typeName": "VmPoweredOnEvent", "key": 1, "chainId": 1,
                   "createdTime": "2024-01-01T00:00:00Z", "userName": "alice",
                   "vm": {"_typeName": "VmEventArgument", "name": "vm",
                          "vm": {"_typeName": "ManagedObjectReference", "type": "VirtualMachine", "value": "vm-20"}},
                   "fullFormattedMessage": "on"}),
            json!({"_typeName": "EventEx", "key": 2, "chainId": 1, "eventTypeId": "com.example.x",
                   "severity": "warning", "createdTime": "2024-02-01T00:00:00Z", "userName": "",
                   "objectType": "HostSystem", "objectId": "host-10", "fullFormattedMessage": "x"}),
            json!({"_typeName": "GeneralUserEvent", "key": 3, "chainId": 3.0,
                   "createdTime": "2024-03-01T00:00:00.5+01:00", "userName": "bob",
                   "entity": {"entity": {"type": "Datacenter", "value": "datacenter-2"}}}),
            json!({"_typeName": "ExtendedEvent", "key": 18446744073709551615u64, "chainId": 4,
                   "managedObject": {"type": "VirtualMachine", "value": "vm-21"}}),
            json!({"key": "5", "createdTime": 7, "userName": null}),
        ]
    }

    fn filters() -> Vec<Value> {
        vec![
            json!({}),
            json!({"eventChainId": 1}),
            json!({"eventChainId": 3}),
            json!({"eventTypeId": ["com.example.x", "VmPoweredOnEvent"]}),
            json!({"category": ["warning"]}),
            json!({"category": ["info", "user"]}),
            json!({"type": ["Event"]}),
            json!({"type": ["EventEx"]}),
            json!({"time": {"beginTime": "2024-01-15T00:00:00Z"}}),
            json!({"time": {"endTime": "2024-02-01T00:00:00Z"}}),
            json!({"userName": {"systemUser": true, "userList": ["bob"]}}),
            json!({"userName": {"systemUser": false}}),
            json!({"entity": {"entity": {"type": "Datacenter", "value": "datacenter-2"}, "recursion": "all"}}),
            json!({"entity": {"entity": {"type": "VirtualMachine", "value": "vm-21"}, "recursion": "self"}}),
            json!({"alarm": {}}),
            json!({"disableFullMessage": true}),
        ]
    }

    /// The compact form is matched, keyed and shown as the `Value` it was made of.
    #[test]
    fn stored_events_match_and_show_as_their_values() {
        let inventory = Inventory::new(&default_inventory()).unwrap();
        let types: DataTypes = serde_json::from_value(json!({
            "primitives": ["string", "int"],
            "types": {
                "Event": {"members": {"key": "int"}},
                "EventEx": {"extends": "Event", "members": {}},
                "VmPoweredOnEvent": {"extends": "Event", "members": {}},
                "GeneralUserEvent": {"extends": "Event", "members": {}},
                "ExtendedEvent": {"extends": "Event", "members": {}}
            }
        }))
        .unwrap();
        let categories = Categories {
            default: "info".into(),
            by_type: BTreeMap::from([("GeneralUserEvent".into(), "user".into())]),
        };
        let slots = vec![("vm".to_owned(), "vm".to_owned())];
        let with = Matching {
            inventory: &inventory,
            types: &types,
            categories: &categories,
            slots: &slots,
        };
        let events = events();
        let stored: Vec<CompactDoc> = events.iter().map(CompactDoc::encode).collect();
        let mut hits = 0;
        for spec in filters() {
            let filter = Filter::parse(&spec, &inventory).unwrap();
            for (value, doc) in events.iter().zip(&stored) {
                let matched = filter.matches(doc, &with);
                assert_eq!(
                    matched,
                    filter.matches_view(value, &with),
                    "{spec} on {value}"
                );
                hits += usize::from(matched);
                let mut expected = value.clone();
                if filter.disable_full_message {
                    expected
                        .as_object_mut()
                        .unwrap()
                        .shift_remove("fullFormattedMessage");
                }
                let shown = filter.shown(doc);
                assert_eq!(shown.to_string(), expected.to_string());
            }
        }
        assert!(hits > 20, "the filters select something: {hits}");
        let keys: Vec<i64> = stored.iter().map(key_of).collect();
        assert_eq!(keys, vec![1, 2, 3, 0, 0]);
        // Known answers, not only agreement.
        let pick = |spec: Value| -> Vec<i64> {
            let filter = Filter::parse(&spec, &inventory).unwrap();
            events
                .iter()
                .filter(|e| filter.matches_view(*e, &with))
                .map(|e| e["key"].as_i64().unwrap_or(-1))
                .collect()
        };
        assert_eq!(pick(json!({"eventChainId": 3})), Vec::<i64>::new());
        assert_eq!(pick(json!({"category": ["warning"]})), vec![2]);
        assert_eq!(
            pick(
                json!({"entity": {"entity": {"type": "Datacenter", "value": "datacenter-2"}, "recursion": "all"}})
            ),
            vec![1, 2, 3, -1],
            "vm-20 (a slot), host-10 (objectId), the datacenter (entity), vm-21 (managedObject)"
        );
    }
}
