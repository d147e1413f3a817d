//! Scenario templating: `{{name}}` variables, integer arithmetic on them (`{{now_ms-3590000}}`)
//! and `{"$int": "<text>"}` for numbers built from variables.

use std::collections::BTreeMap;

use serde_json::Value;

/// A scenario's variables: the target's, `run`, captures, clock readings, repetition counters.
pub type Vars = BTreeMap<String, String>;

/// Replace `{{name}}` with variables, and `{{name+N}}` / `{{name-N}}` with integer arithmetic on
/// a variable holding an integer (e.g. `{{now_ms-3590000}}`). An unknown variable is left as is
/// (and shows in diffs).
pub fn template(text: &str, vars: &Vars) -> String {
    let mut out = text.to_owned();
    for (name, value) in vars {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    let mut from = 0;
    while let Some(found) = out[from..].find("{{") {
        let start = from + found;
        let Some(len) = out[start..].find("}}") else {
            break;
        };
        let expr = &out[start + 2..start + len];
        let sum = expr.find(['+', '-']).and_then(|at| {
            let base: i64 = vars.get(expr[..at].trim())?.parse().ok()?;
            let offset: i64 = expr[at + 1..].trim().parse().ok()?;
            Some(if &expr[at..at + 1] == "+" {
                base + offset
            } else {
                base - offset
            })
        });
        match sum {
            Some(value) => out.replace_range(start..start + len + 2, &value.to_string()),
            None => from = start + 2,
        }
    }
    out
}

/// Template every string; `{"$int": "<text>"}` becomes the integer the text gives.
pub fn template_json(value: &Value, vars: &Vars) -> Value {
    match value {
        Value::String(s) => Value::String(template(s, vars)),
        Value::Array(items) => Value::Array(items.iter().map(|v| template_json(v, vars)).collect()),
        Value::Object(map) => {
            if let (1, Some(Value::String(text))) = (map.len(), map.get("$int")) {
                let filled = template(text, vars);
                return filled
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(filled));
            }
            Value::Object(
                map.iter()
                    .map(|(k, v)| (template(k, vars), template_json(v, vars)))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_arithmetic_and_ints_are_filled() {
        let vars: Vars = [("now_ms".to_owned(), "1000".to_owned())].into();
        assert_eq!(
            template("{{now_ms}}-{{now_ms+5}}-{{now_ms-1000}}", &vars),
            "1000-1005-0"
        );
        assert_eq!(template("{{unknown}}", &vars), "{{unknown}}");
        assert_eq!(
            template_json(&serde_json::json!({"t": {"$int": "{{now_ms+1}}"}}), &vars),
            serde_json::json!({"t": 1001})
        );
    }
}
