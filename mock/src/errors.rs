//! Vendor error bodies, rendered from the spec: an error kind (status, code, message texts) is
//! poured into one of the API's envelope templates.
//!
//! In a template, a string that is exactly `{name}` is replaced by the value itself (so a list
//! stays a list), `{name:int}` by the value as a number, and `{name}` inside a longer string by
//! its text. An object member whose template is exactly `{name?}` is left out when the error
//! has no value `name` (a fault's optional members), else replaced by the value.

use http::StatusCode;
use serde_json::{Map, Value};

use crate::spec::{render_template, ErrorKind, LoadedSpec};
use crate::wire::Reply;

/// One error to send: its kind in the spec, values for the placeholders of its texts, and
/// optionally texts that replace the kind's own (e.g. one message per violation).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: String,
    pub values: Vec<(&'static str, String)>,
    /// Structured values (objects, lists, numbers) for `{name}` / `{name?}` placeholders.
    pub json_values: Vec<(&'static str, Value)>,
    pub messages: Option<Vec<String>>,
}

impl ApiError {
    pub fn new(kind: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            values: Vec::new(),
            json_values: Vec::new(),
            messages: None,
        }
    }

    /// A structured value for a placeholder that stands alone (`"{name}"` or `"{name?}"`).
    pub fn with_json(mut self, name: &'static str, value: Value) -> Self {
        self.json_values.push((name, value));
        self
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.values.push((name, value.into()));
        self
    }

    pub fn with_messages(mut self, messages: Vec<String>) -> Self {
        self.messages = Some(messages);
        self
    }
}

/// Render `error` in `envelope` (the spec's default when `None`), with `extra` values such as a
/// request id. A kind missing from the spec renders as the API's internal error. The answer is a
/// value: the dispatcher encodes it in the representation the request negotiated.
pub fn render(
    spec: &LoadedSpec,
    envelope: Option<&str>,
    error: &ApiError,
    extra: &[(&str, String)],
) -> Reply {
    let errors = &spec.spec.errors;
    let (kind, error) = match errors.kinds.get(&error.kind) {
        Some(kind) => (kind, error.clone()),
        None => match errors.kinds.get("internal") {
            Some(kind) => (
                kind,
                ApiError::new("internal").with(
                    "detail",
                    format!("error kind '{}' is not in the spec", error.kind),
                ),
            ),
            None => return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, Value::Null),
        },
    };
    let status = StatusCode::from_u16(kind.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut values: Vec<(&str, String)> =
        error.values.iter().map(|(k, v)| (*k, v.clone())).collect();
    values.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
    let fill = |text: &str| {
        let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
        render_template(text, &pairs)
    };
    let messages: Vec<String> = match &error.messages {
        Some(m) => m.clone(),
        None => kind
            .messages
            .iter()
            .map(|t| fill(t))
            .filter(|m| !m.trim().is_empty())
            .collect(),
    };
    let message = kind
        .message
        .as_deref()
        .map(fill)
        .unwrap_or_else(|| messages.join("; "));
    let mut named: Map<String, Value> = Map::new();
    named.insert("status".into(), Value::String(status.as_u16().to_string()));
    named.insert(
        "reason".into(),
        Value::String(status.canonical_reason().unwrap_or("").to_owned()),
    );
    named.insert(
        "code".into(),
        Value::String(kind.code.clone().unwrap_or_default()),
    );
    named.insert("message".into(), Value::String(message));
    named.insert(
        "messages".into(),
        Value::Array(messages.into_iter().map(Value::String).collect()),
    );
    for (k, v) in &values {
        named.insert((*k).to_owned(), Value::String(v.clone()));
    }
    for (k, v) in &error.json_values {
        named.insert((*k).to_owned(), v.clone());
    }
    let template = envelope_template(spec, envelope, kind);
    Reply::error(status, fill_template(&template, &named))
}

fn envelope_template(spec: &LoadedSpec, envelope: Option<&str>, kind: &ErrorKind) -> Value {
    if let Some(body) = &kind.body {
        return body.clone();
    }
    let errors = &spec.spec.errors;
    let name = envelope
        .or(errors.default_envelope.as_deref())
        .unwrap_or_default();
    errors
        .envelopes
        .get(name)
        .map(|e| e.body.clone())
        .unwrap_or_else(|| serde_json::json!({ "messages": "{messages}" }))
}

fn fill_template(template: &Value, named: &Map<String, Value>) -> Value {
    match template {
        Value::String(text) => {
            if let Some(inner) = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                if let Some(name) = inner.strip_suffix(":int") {
                    let number = named
                        .get(name)
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<i64>().ok());
                    return number.map(Value::from).unwrap_or(Value::Null);
                }
                if let Some(value) = named.get(inner) {
                    return value.clone();
                }
            }
            let mut out = text.clone();
            for (name, value) in named {
                if let Value::String(v) = value {
                    out = out.replace(&format!("{{{name}}}"), v);
                }
            }
            Value::String(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| fill_template(v, named)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .filter_map(|(k, v)| match optional_placeholder(v) {
                    Some(name) => named.get(name).map(|value| (k.clone(), value.clone())),
                    None => Some((k.clone(), fill_template(v, named))),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `name` when `template` is exactly `"{name?}"`.
fn optional_placeholder(template: &Value) -> Option<&str> {
    template.as_str()?.strip_prefix('{')?.strip_suffix("?}")
}
