//! How a stored event is shown: per API version (renames, removed and added fields), with the
//! storage artefacts of a create response, and projected by `fields` / `exclude-fields`.

use serde_json::{Map, Value};

use super::rules::Rules;

/// Which view of a stored event to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// api-version 3: new names, removed fields hidden, no storage artefacts.
    Current,
    /// api-version 1 and 2: old names, removed fields shown, v3 additions hidden.
    Legacy,
    /// The body of a 201: the stored object with its artefacts, keys sorted as MWS serialises it.
    Created,
}

pub fn render(stored: &Value, view: View, rules: &Rules) -> Value {
    let Value::Object(stored) = stored else {
        return stored.clone();
    };
    let mut out = stored.clone();
    for (key, default) in &rules.output_defaults.values {
        if !out.contains_key(key) {
            out.insert(key.clone(), default.clone());
        }
    }
    match view {
        View::Created => {
            let mut out = Value::Object(out);
            sort_keys(&mut out);
            return out;
        }
        View::Current => {
            strip_artefacts(&mut out, rules);
            for field in &rules.removed_in_current.fields {
                remove_path(&mut out, field);
            }
        }
        View::Legacy => {
            strip_artefacts(&mut out, rules);
            for field in &rules.added_in_current.fields {
                out.remove(field);
            }
            for (current, legacy) in rules.renames.pairs() {
                if let Some(value) = remove_path(&mut out, current) {
                    insert_path(&mut out, legacy, value);
                }
            }
        }
    }
    Value::Object(id_last(out))
}

/// The body of a 201 from the stored event (taken, not copied): [`View::Created`].
pub fn created(stored: Value, rules: &Rules) -> Value {
    let Value::Object(mut out) = stored else {
        return stored;
    };
    for (key, default) in &rules.output_defaults.values {
        if !out.contains_key(key) {
            out.insert(key.clone(), default.clone());
        }
    }
    let mut out = Value::Object(out);
    sort_keys(&mut out);
    out
}

/// MWS serialises an event's keys alphabetically with `id` last (seed 004, sample responses).
fn id_last(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| {
        (a.0 == "id")
            .cmp(&(b.0 == "id"))
            .then_with(|| a.0.cmp(&b.0))
    });
    entries.into_iter().collect()
}

fn strip_artefacts(event: &mut Map<String, Value>, rules: &Rules) {
    for key in rules.artefacts.event.keys() {
        event.remove(key);
    }
    for (list, artefacts) in &rules.artefacts.lists {
        let (Some(Value::Array(objects)), Some(artefacts)) =
            (event.get_mut(list), artefacts.as_object())
        else {
            continue;
        };
        for object in objects.iter_mut().filter_map(Value::as_object_mut) {
            for key in artefacts.keys() {
                object.remove(key);
            }
        }
    }
}

/// Keys sorted at every level, as the seed's create response shows them (in place: keys are
/// unique, so the order is the one a stable sort gives).
fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// Remove a dotted path from an object; parents left empty are removed too.
pub fn remove_path(map: &mut Map<String, Value>, path: &str) -> Option<Value> {
    match path.split_once('.') {
        None => map.shift_remove(path),
        Some((head, rest)) => {
            let child = map.get_mut(head)?.as_object_mut()?;
            let removed = remove_path(child, rest);
            if child.is_empty() {
                map.shift_remove(head);
            }
            removed
        }
    }
}

/// Insert at a dotted path, creating intermediate objects.
pub fn insert_path(map: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            map.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let child = map
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Value::Object(child) = child {
                insert_path(child, rest, value);
            }
        }
    }
}

/// A set of dotted field paths as a tree: `a.b,a.c,d` gives a -> {b, c}, d.
#[derive(Debug, Default, Clone)]
pub struct FieldTree {
    children: Map<String, Value>,
}

impl FieldTree {
    /// Parse a comma list; empty items are ignored.
    pub fn parse(list: &str) -> Self {
        let mut root = Map::new();
        for path in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut node = &mut root;
            for segment in path.split('.') {
                let entry = node
                    .entry(segment.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                match entry {
                    Value::Object(next) => node = next,
                    _ => break,
                }
            }
        }
        Self { children: root }
    }

    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }
}

/// Keep only the listed fields. A path into a list applies to each object of the list.
pub fn project_include(value: &Value, tree: &FieldTree) -> Value {
    include(value, &tree.children)
}

fn include(value: &Value, wanted: &Map<String, Value>) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, sub) in map {
                let Some(Value::Object(next)) = wanted.get(key) else {
                    continue;
                };
                let kept = if next.is_empty() {
                    sub.clone()
                } else {
                    include(sub, next)
                };
                out.insert(key.clone(), kept);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| include(i, wanted)).collect()),
        other => other.clone(),
    }
}

/// Drop the listed fields. A path into a list applies to each object of the list.
pub fn project_exclude(value: &Value, tree: &FieldTree) -> Value {
    exclude(value, &tree.children)
}

fn exclude(value: &Value, unwanted: &Map<String, Value>) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, sub) in map {
                match unwanted.get(key) {
                    Some(Value::Object(next)) if next.is_empty() => {}
                    Some(Value::Object(next)) => {
                        out.insert(key.clone(), exclude(sub, next));
                    }
                    _ => {
                        out.insert(key.clone(), sub.clone());
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| exclude(i, unwanted)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn include_applies_dotted_paths_to_each_list_item() {
        let event = json!({"id": "1", "severity": "INFO", "associatedObjects": [{"type": "VM", "id": "a"}, {"type": "S", "id": "b"}]});
        let out = project_include(&event, &FieldTree::parse("id,associatedObjects.id"));
        assert_eq!(
            out,
            json!({"id": "1", "associatedObjects": [{"id": "a"}, {"id": "b"}]})
        );
    }

    #[test]
    fn exclude_removes_whole_fields_and_sub_fields() {
        let event = json!({"id": "1", "severity": "INFO", "associatedObjects": [{"type": "VM", "id": "a"}]});
        let out = project_exclude(
            &event,
            &FieldTree::parse("severity, associatedObjects.type"),
        );
        assert_eq!(out, json!({"id": "1", "associatedObjects": [{"id": "a"}]}));
    }

    #[test]
    fn dotted_insert_and_remove_prune_empty_parents() {
        let mut map = json!({"errorMessage": {"originator": "x"}})
            .as_object()
            .cloned()
            .unwrap();
        insert_path(&mut map, "errorMessage.message", json!("m"));
        assert_eq!(
            remove_path(&mut map, "errorMessage.originator"),
            Some(json!("x"))
        );
        assert_eq!(
            Value::Object(map.clone()),
            json!({"errorMessage": {"message": "m"}})
        );
        remove_path(&mut map, "errorMessage.message");
        assert!(map.is_empty());
    }
}
