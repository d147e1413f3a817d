//! Evaluating a step's assertions against a response.

use serde_json::Value;

use crate::scenario::{Assertion, Order};

/// What an assertion sees of a response.
pub struct Observed<'a> {
    /// The body decoded from JSON or mapped XML.
    pub body: Option<&'a Value>,
    pub body_text: &'a str,
    pub header: &'a dyn Fn(&str) -> Option<String>,
    /// The vendor error code found at the spec's `errors.code_pointers`.
    pub error_code: Option<String>,
}

/// Check one assertion; `Err` explains the failure. `resolve` fills `{{vars}}` in expected values.
pub fn check(
    a: &Assertion,
    seen: &Observed<'_>,
    resolve: &dyn Fn(&Value) -> Value,
) -> Result<(), String> {
    let (label, target) = target_of(a, seen);
    let target = match (&a.pluck, target) {
        (Some(p), Some(Value::Array(items))) => Some(Value::Array(
            items
                .iter()
                .map(|i| i.pointer(p).cloned().unwrap_or(Value::Null))
                .collect(),
        )),
        (Some(_), Some(other)) => {
            return Err(format!(
                "{label}: pluck needs an array, got {}",
                short(&other)
            ))
        }
        (None, t) => t,
        (Some(_), None) => None,
    };
    let label = match &a.pluck {
        Some(p) => format!("{label}[*]{p}"),
        None => label,
    };
    let fail = |msg: String| -> Result<(), String> {
        Err(match &a.note {
            Some(note) => format!("{label}: {msg} ({note})"),
            None => format!("{label}: {msg}"),
        })
    };
    // A reference like {"$pointer": "/x"} or {"$length": "/x"} compares against the same body.
    let expected = |v: &Value| -> Value { resolve_reference(&resolve(v), seen.body) };

    if a.absent {
        if let Some(t) = &target {
            return fail(format!("expected absent, found {}", short(t)));
        }
        return Ok(());
    }
    // `present` needs nothing more than this.
    let Some(actual) = target else {
        return fail("is missing".into());
    };
    if let Some(want) = &a.equals {
        let want = expected(want);
        if !json_eq(&actual, &want) {
            return fail(format!("expected {}, got {}", short(&want), short(&actual)));
        }
    }
    if let Some(want) = &a.not_equals {
        let want = expected(want);
        if json_eq(&actual, &want) {
            return fail(format!("expected anything but {}", short(&want)));
        }
    }
    if let Some(want) = &a.same_set {
        let want = expected(want);
        if !same_set(&actual, &want) {
            return fail(format!(
                "expected the elements {} in any order, got {}",
                short(&want),
                short(&actual)
            ));
        }
    }
    if let Some(re) = &a.matches {
        let re = regex::Regex::new(re).map_err(|e| e.to_string())?;
        match actual.as_str() {
            Some(s) if re.is_match(s) => {}
            _ => return fail(format!("expected to match /{re}/, got {}", short(&actual))),
        }
    }
    if let Some(want) = &a.length {
        let want = expected(want);
        let len = match &actual {
            Value::Array(a) => a.len(),
            Value::String(s) => s.chars().count(),
            Value::Object(o) => o.len(),
            _ => return fail(format!("has no length: {}", short(&actual))),
        };
        if Some(len as u64) != want.as_u64() {
            return fail(format!("expected length {}, got {len}", short(&want)));
        }
    }
    if let Some(want) = &a.contains {
        let want = expected(want);
        if !contains(&actual, &want) {
            return fail(format!(
                "expected to contain {}, got {}",
                short(&want),
                short(&actual)
            ));
        }
    }
    if let Some(want) = &a.not_contains {
        let want = expected(want);
        if contains(&actual, &want) {
            return fail(format!(
                "expected not to contain {}, got {}",
                short(&want),
                short(&actual)
            ));
        }
    }
    if let Some(member) = &a.first_member {
        if let Some(place) = first_member_breach(&actual, member, "") {
            return fail(format!(
                "the object at {place} does not have '{member}' first"
            ));
        }
    }
    if let Some(order) = a.ordered {
        let Value::Array(items) = &actual else {
            return fail(format!("ordered needs an array, got {}", short(&actual)));
        };
        for (i, pair) in items.windows(2).enumerate() {
            let in_order = natural_order(&pair[0], &pair[1]).is_some_and(|o| match order {
                Order::Ascending => o.is_le(),
                Order::Descending => o.is_ge(),
            });
            if !in_order {
                return fail(format!(
                    "expected {order:?} order, but item {i} {} and item {} {} are not",
                    short(&pair[0]),
                    i + 1,
                    short(&pair[1])
                ));
            }
        }
    }
    if let Some(want) = &a.gte {
        let want = expected(want);
        if compare(&actual, &want).is_none_or(|o| o.is_lt()) {
            return fail(format!(
                "expected >= {}, got {}",
                short(&want),
                short(&actual)
            ));
        }
    }
    if let Some(want) = &a.lte {
        let want = expected(want);
        if compare(&actual, &want).is_none_or(|o| o.is_gt()) {
            return fail(format!(
                "expected <= {}, got {}",
                short(&want),
                short(&actual)
            ));
        }
    }
    if let Some(options) = &a.one_of {
        let options: Vec<Value> = options.iter().map(expected).collect();
        if !options.iter().any(|o| json_eq(&actual, o)) {
            return fail(format!(
                "expected one of {}, got {}",
                short(&Value::Array(options)),
                short(&actual)
            ));
        }
    }
    if let Some(subs) = &a.each {
        let Value::Array(items) = &actual else {
            return fail(format!("each needs an array, got {}", short(&actual)));
        };
        for (i, item) in items.iter().enumerate() {
            let no_headers = |_: &str| None;
            let text = item.to_string();
            let inner = Observed {
                body: Some(item),
                body_text: &text,
                header: &no_headers,
                error_code: None,
            };
            for sub in subs {
                if let Err(e) = check(sub, &inner, resolve) {
                    return fail(format!("element {i}: {e}"));
                }
            }
        }
    }
    Ok(())
}

fn target_of(a: &Assertion, seen: &Observed<'_>) -> (String, Option<Value>) {
    if let Some(p) = &a.pointer {
        let label = if p.is_empty() {
            "body".to_owned()
        } else {
            format!("body{p}")
        };
        return (label, seen.body.and_then(|b| b.pointer(p)).cloned());
    }
    if let Some(h) = &a.header {
        return (format!("header {h}"), (seen.header)(h).map(Value::String));
    }
    if a.error_code {
        return (
            "error code".into(),
            seen.error_code.clone().map(Value::String),
        );
    }
    (
        "body text".into(),
        Some(Value::String(seen.body_text.to_owned())),
    )
}

fn resolve_reference(v: &Value, body: Option<&Value>) -> Value {
    if let Value::Object(map) = v {
        if map.len() == 1 {
            if let Some(p) = map.get("$pointer").and_then(Value::as_str) {
                return body
                    .and_then(|b| b.pointer(p))
                    .cloned()
                    .unwrap_or(Value::Null);
            }
            if let Some(p) = map.get("$length").and_then(Value::as_str) {
                return match body.and_then(|b| b.pointer(p)) {
                    Some(Value::Array(a)) => Value::from(a.len()),
                    _ => Value::Null,
                };
            }
        }
    }
    v.clone()
}

/// Equality where 1 and 1.0 are the same number.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn same_set(actual: &Value, want: &Value) -> bool {
    let (Value::Array(a), Value::Array(w)) = (actual, want) else {
        return false;
    };
    if a.len() != w.len() {
        return false;
    }
    let mut used = vec![false; w.len()];
    a.iter().all(|x| {
        let slot = w
            .iter()
            .enumerate()
            .position(|(i, y)| !used[i] && json_eq(x, y));
        slot.map(|i| used[i] = true).is_some()
    })
}

fn contains(actual: &Value, want: &Value) -> bool {
    match (actual, want) {
        (Value::String(s), Value::String(w)) => s.contains(w.as_str()),
        (Value::Array(items), w) => items.iter().any(|i| {
            json_eq(i, w)
                || matches!((i, w), (Value::String(s), Value::String(w)) if s.contains(w.as_str()))
        }),
        (Value::Object(map), Value::String(key)) => map.contains_key(key),
        _ => false,
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        _ => None,
    }
}

/// Numbers by value, dotted numbers (`36.0`, `100.1`, `1.2.3`) part by part, other text by code
/// point; `None` for values that do not compare.
fn natural_order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    let dotted = |v: &Value| -> Option<Vec<u64>> {
        v.as_str()?
            .split('.')
            .map(|p| p.parse::<u64>().ok())
            .collect()
    };
    match (dotted(a), dotted(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => compare(a, b),
    }
}

/// A value shortened for messages.
pub fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 160 {
        let cut: String = text.chars().take(157).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// The pointer of the first object under `value` whose first member is not `member`.
fn first_member_breach(value: &Value, member: &str, at: &str) -> Option<String> {
    match value {
        Value::Object(fields) => {
            if fields.keys().next().map(String::as_str) != Some(member) {
                return Some(if at.is_empty() {
                    "/".into()
                } else {
                    at.to_owned()
                });
            }
            fields
                .iter()
                .find_map(|(k, v)| first_member_breach(v, member, &format!("{at}/{k}")))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| first_member_breach(v, member, &format!("{at}/{i}"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ordered(order: &str, body: Value) -> Result<(), String> {
        let assertion: Assertion =
            serde_json::from_value(json!({"pointer": "/v", "ordered": order})).unwrap();
        let header = |_: &str| None;
        let seen = Observed {
            body: Some(&body),
            body_text: "",
            header: &header,
            error_code: None,
        };
        check(&assertion, &seen, &|v| v.clone())
    }

    #[test]
    fn ordered_compares_versions_numbers_and_text() {
        assert!(ordered("ascending", json!({"v": ["33.0", "36.3", "100.0"]})).is_ok());
        assert!(ordered("ascending", json!({"v": ["36.3", "33.0"]})).is_err());
        assert!(ordered("descending", json!({"v": [3, 2, 2, 1]})).is_ok());
        assert!(ordered("descending", json!({"v": [1, 2]})).is_err());
        assert!(ordered("ascending", json!({"v": ["a", "b"]})).is_ok());
        assert!(ordered("ascending", json!({"v": "not an array"})).is_err());
        // Values that do not compare are not in order.
        assert!(ordered("ascending", json!({"v": [1, "a"]})).is_err());
    }
}
