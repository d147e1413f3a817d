//! VI/JSON data objects typed by the spec's table of data types (rule `data_types`): every
//! object is read as its declared type or a subtype named by `_typeName`, and written back with
//! `_typeName` first, its members in declared order, and undeclared members left out (or
//! refused). So a MoRef sent without `_typeName` is stored with it, a polymorphic event keeps
//! its concrete type, and whatever the mock emits has `_typeName` first.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::config::UnknownMembers;

/// The spec's rule `data_types`.
#[derive(Debug, Clone, Deserialize)]
pub struct DataTypes {
    types: BTreeMap<String, DataType>,
    primitives: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct DataType {
    #[serde(default)]
    extends: Option<String>,
    /// Member name -> declared type (`T`, `T[]`, a primitive, or `Any`), in order.
    members: Map<String, Value>,
    /// Every member with the inherited ones first, worked out on first use (each write walks
    /// the posted event's types).
    #[serde(skip)]
    all_members: std::sync::OnceLock<Box<[Member]>>,
}

/// A member's name and its declared type.
type Member = (Box<str>, Box<str>);

/// Why a value does not deserialise into its declared type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError {
    /// Where, as a dotted member path (e.g. `eventToPost.vm.vm`).
    pub path: String,
    pub message: String,
}

/// Nesting deeper than this is refused (serde_json already stops at 128).
const MAX_DEPTH: usize = 64;

/// Where the walk is, as links back to the root: written out only for an error, so a valid
/// body costs no string per member.
#[derive(Clone, Copy)]
enum Place<'a> {
    Root(&'a str),
    Member(&'a Place<'a>, &'a str),
    Item(&'a Place<'a>, usize),
}

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Root(path) => f.write_str(path),
            Place::Member(parent, member) => write!(f, "{parent}.{member}"),
            Place::Item(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

impl DataTypes {
    /// Is `name` a declared data type?
    pub fn is_type(&self, name: &str) -> bool {
        self.types.contains_key(name)
    }

    /// Is `name` the type `ancestor` or one of its subtypes?
    pub fn is_a(&self, name: &str, ancestor: &str) -> bool {
        let mut current = Some(name);
        let mut hops = 0;
        while let Some(type_name) = current {
            if type_name == ancestor {
                return true;
            }
            hops += 1;
            if hops > self.types.len() {
                return false;
            }
            current = self.types.get(type_name).and_then(|t| t.extends.as_deref());
        }
        false
    }

    /// Every member of `name` (member, declared type), inherited ones first.
    fn members(&self, name: &str) -> &[Member] {
        match self.types.get(name) {
            Some(data_type) => data_type.all_members.get_or_init(|| {
                self.chain_members(name)
                    .into_iter()
                    .map(|(member, declared)| (member.into(), declared.into()))
                    .collect()
            }),
            None => &[],
        }
    }

    fn chain_members(&self, name: &str) -> Vec<(&str, &str)> {
        let mut chain = Vec::new();
        let mut current = self.types.get_key_value(name);
        while let Some((type_name, data_type)) = current {
            if chain.len() > self.types.len() {
                break;
            }
            chain.push((type_name.as_str(), data_type));
            current = data_type
                .extends
                .as_deref()
                .and_then(|parent| self.types.get_key_value(parent));
        }
        chain
            .iter()
            .rev()
            .flat_map(|(_, t)| {
                t.members
                    .iter()
                    .map(|(member, declared)| (member.as_str(), declared.as_str().unwrap_or("Any")))
            })
            .collect()
    }

    fn is_primitive(&self, name: &str) -> bool {
        self.primitives.iter().any(|p| p == name)
    }

    /// `value` read as `declared` and written back in canonical form.
    pub fn normalise(
        &self,
        value: &Value,
        declared: &str,
        unknown: UnknownMembers,
        path: &str,
    ) -> Result<Value, TypeError> {
        self.walk(value, declared, unknown, &Place::Root(path), 0)
    }

    fn walk(
        &self,
        value: &Value,
        declared: &str,
        unknown: UnknownMembers,
        path: &Place<'_>,
        depth: usize,
    ) -> Result<Value, TypeError> {
        let fail = |message: String| TypeError {
            path: path.to_string(),
            message,
        };
        if depth > MAX_DEPTH {
            return Err(fail(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        if let Some(item_type) = declared.strip_suffix("[]") {
            let Value::Array(items) = value else {
                return Err(fail(format!("{path} must be an array of {item_type}")));
            };
            return items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    self.walk(item, item_type, unknown, &Place::Item(path, i), depth + 1)
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array);
        }
        if declared == "Any" {
            return self.walk_any(value, unknown, path, depth);
        }
        if self.is_primitive(declared) {
            return Ok(value.clone());
        }
        let Value::Object(fields) = value else {
            return Err(fail(format!("{path} must be an object of type {declared}")));
        };
        let actual = match fields.get("_typeName") {
            None => declared,
            Some(Value::String(name)) => name.as_str(),
            Some(_) => return Err(fail(format!("{path}._typeName must be a string"))),
        };
        if !self.is_type(actual) || !self.is_a(actual, declared) {
            return Err(fail(format!(
                "{path}: '{actual}' is not a known type of {declared}"
            )));
        }
        let members = self.members(actual);
        if unknown == UnknownMembers::Reject {
            if let Some(extra) = fields
                .keys()
                .find(|k| *k != "_typeName" && !members.iter().any(|(m, _)| **m == ***k))
            {
                return Err(fail(format!("{path}: {actual} has no member '{extra}'")));
            }
        }
        let mut out = Map::with_capacity(fields.len() + 1);
        out.insert("_typeName".into(), Value::String(actual.to_owned()));
        for (member, member_type) in members {
            match fields.get(&**member) {
                None | Some(Value::Null) => {}
                Some(v) => {
                    let child = Place::Member(path, member);
                    out.insert(
                        String::from(&**member),
                        self.walk(v, member_type, unknown, &child, depth + 1)?,
                    );
                }
            }
        }
        Ok(Value::Object(out))
    }

    /// An `Any` value: a data object with `_typeName`, or a wrapped primitive or array
    /// (`{"_typeName": "string", "_value": "x"}`, `{"_typeName": "ArrayOfString", "_value": []}`).
    fn walk_any(
        &self,
        value: &Value,
        unknown: UnknownMembers,
        path: &Place<'_>,
        depth: usize,
    ) -> Result<Value, TypeError> {
        let fail = |message: String| TypeError {
            path: path.to_string(),
            message,
        };
        let Some(type_name) = value.get("_typeName").and_then(Value::as_str) else {
            return Err(fail(format!(
                "{path}: a value of type Any must carry _typeName"
            )));
        };
        let wrapped = self.is_primitive(type_name)
            || type_name == "ManagedObjectReference"
            || type_name.starts_with("ArrayOf");
        if wrapped {
            let inner = value
                .get("_value")
                .ok_or_else(|| fail(format!("{path}: a {type_name} value needs _value")))?;
            let inner = if type_name == "ManagedObjectReference" {
                self.walk(
                    inner,
                    type_name,
                    unknown,
                    &Place::Member(path, "_value"),
                    depth + 1,
                )?
            } else {
                inner.clone()
            };
            let mut out = Map::new();
            out.insert("_typeName".into(), Value::String(type_name.to_owned()));
            out.insert("_value".into(), inner);
            return Ok(Value::Object(out));
        }
        if !self.is_type(type_name) {
            return Err(fail(format!("{path}: '{type_name}' is not a known type")));
        }
        self.walk(value, type_name, unknown, path, depth + 1)
    }
}

/// A MoRef as the server writes it.
pub fn moref(mo_type: &str, value: &str) -> Value {
    let mut out = Map::new();
    out.insert(
        "_typeName".into(),
        Value::String("ManagedObjectReference".into()),
    );
    out.insert("type".into(), Value::String(mo_type.to_owned()));
    out.insert("value".into(), Value::String(value.to_owned()));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn types() -> DataTypes {
        serde_json::from_value(json!({
            "primitives": ["string", "int"],
            "types": {
                "Event": {"members": {"key": "int", "vm": "VmEventArgument"}},
                "EventEx": {"extends": "Event", "members": {"arguments": "KeyAnyValue[]"}},
                "VmEventArgument": {"members": {"name": "string", "vm": "ManagedObjectReference"}},
                "ManagedObjectReference": {"members": {"type": "string", "value": "string"}},
                "KeyAnyValue": {"members": {"key": "string", "value": "Any"}}
            }
        }))
        .unwrap()
    }

    #[test]
    fn type_names_come_first_and_are_filled_in() {
        let out = types()
            .normalise(
                &json!({"vm": {"vm": {"value": "vm-1", "type": "VirtualMachine"}, "name": "a"}, "key": 1, "_typeName": "EventEx"}),
                "Event",
                UnknownMembers::Ignore,
                "e",
            )
            .unwrap();
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"_typeName":"EventEx","key":1,"vm":{"_typeName":"VmEventArgument","name":"a","vm":{"_typeName":"ManagedObjectReference","type":"VirtualMachine","value":"vm-1"}}}"#
        );
    }

    #[test]
    fn wrong_type_names_and_unknown_members_are_reported() {
        let t = types();
        let wrong = t.normalise(
            &json!({"_typeName": "VmEventArgument"}),
            "Event",
            UnknownMembers::Ignore,
            "e",
        );
        assert!(wrong
            .unwrap_err()
            .message
            .contains("not a known type of Event"));
        let extra = json!({"key": 1, "colour": "red"});
        assert!(t
            .normalise(&extra, "Event", UnknownMembers::Reject, "e")
            .is_err());
        let kept = t
            .normalise(&extra, "Event", UnknownMembers::Ignore, "e")
            .unwrap();
        assert_eq!(kept, json!({"_typeName": "Event", "key": 1}));
    }

    #[test]
    fn any_values_must_be_wrapped() {
        let t = types();
        let ok = json!({"_typeName": "EventEx", "arguments": [{"key": "k", "value": {"_value": "x", "_typeName": "string"}}]});
        let out = t
            .normalise(&ok, "Event", UnknownMembers::Ignore, "e")
            .unwrap();
        assert_eq!(
            serde_json::to_string(&out["arguments"][0]).unwrap(),
            r#"{"_typeName":"KeyAnyValue","key":"k","value":{"_typeName":"string","_value":"x"}}"#
        );
        let bare = json!({"_typeName": "EventEx", "arguments": [{"key": "k", "value": "x"}]});
        assert!(t
            .normalise(&bare, "Event", UnknownMembers::Ignore, "e")
            .is_err());
    }
}
