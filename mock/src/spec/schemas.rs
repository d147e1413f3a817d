//! An API's JSON Schemas, compiled once, on first use, from `specs/<api>/schemas/`, and the
//! vendor messages of their violations (`x-message`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::Value;

use super::{invalid, SpecError, SpecFiles};

/// A named `format` checker: the API module implements the mechanism, its schemas name it.
pub type FormatCheck = (&'static str, fn(&str) -> bool);

const SCHEMA_BASE: &str = "file:///specs/";

/// Serves `$ref`s from the spec's own files only (the embedded `specs/` folder, or the folder a
/// test gave): schema compilation never touches the network.
struct SpecRetriever(SpecFiles);

impl jsonschema::Retrieve for SpecRetriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let path = uri
            .as_str()
            .strip_prefix(SCHEMA_BASE)
            .ok_or_else(|| format!("schema '{}' is outside specs/", uri.as_str()))?;
        let text = self
            .0
            .text(path)
            .ok_or_else(|| format!("no schema file specs/{path}"))?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// One violation of a schema: where, and the text to show the API's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the instance.
    pub instance_path: String,
    /// The `x-message` of the violated schema node (with placeholders filled), or the validator's text.
    pub message: String,
    /// The JSON Schema keyword violated (`type`, `required`, `enum`, ...).
    pub keyword: String,
    /// For `required`: the member that is missing.
    pub missing: Option<String>,
}

/// The compiled schemas of one API, by file name (optionally with a `#fragment`).
pub struct SchemaSet {
    api: String,
    files: SpecFiles,
    formats: &'static [FormatCheck],
    compiled: RwLock<HashMap<String, Arc<jsonschema::Validator>>>,
    /// Held while a schema compiles, so two first uses (a request and the server's warm-up)
    /// compile it once: the second waits, then finds it compiled.
    compiling: Mutex<()>,
    /// Parsed schema files, so request paths never re-parse them.
    documents: RwLock<HashMap<String, Arc<Value>>>,
}

impl SchemaSet {
    pub(super) fn new(api: &str, files: SpecFiles, formats: &'static [FormatCheck]) -> Self {
        Self {
            api: api.to_owned(),
            files,
            formats,
            compiled: RwLock::default(),
            compiling: Mutex::default(),
            documents: RwLock::default(),
        }
    }

    fn base_uri(&self) -> String {
        format!("{SCHEMA_BASE}{}/schemas/", self.api)
    }

    /// The raw JSON of a schema file of this API, parsed once.
    pub fn document(&self, file: &str) -> Result<Arc<Value>, SpecError> {
        if let Some(doc) = self
            .documents
            .read()
            .ok()
            .and_then(|m| m.get(file).cloned())
        {
            return Ok(doc);
        }
        let path = format!("{}/schemas/{file}", self.api);
        let text = self
            .files
            .text(&path)
            .ok_or_else(|| invalid(&path, "no such schema file"))?;
        let doc: Arc<Value> =
            Arc::new(serde_json::from_str(&text).map_err(|e| invalid(&path, e.to_string()))?);
        if let Ok(mut m) = self.documents.write() {
            m.insert(file.to_owned(), doc.clone());
        }
        Ok(doc)
    }

    /// The compiled validator for `name` (`event-v3.json` or `event-v3.json#/$defs/partial`),
    /// compiled on its first use.
    pub fn get(&self, name: &str) -> Result<Arc<jsonschema::Validator>, SpecError> {
        if let Some(v) = self.compiled.read().ok().and_then(|m| m.get(name).cloned()) {
            return Ok(v);
        }
        let _compiling = self.compiling.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = self.compiled.read().ok().and_then(|m| m.get(name).cloned()) {
            return Ok(v);
        }
        let root = if name.contains('#') {
            serde_json::json!({ "$ref": format!("{}{name}", self.base_uri()) })
        } else {
            let mut doc = (*self.document(name)?).clone();
            // Give the document its absolute id so relative $refs resolve inside specs/<api>/schemas/.
            if let Some(obj) = doc.as_object_mut() {
                obj.insert(
                    "$id".into(),
                    Value::String(format!("{}{name}", self.base_uri())),
                );
            }
            doc
        };
        let mut options = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .with_base_uri(self.base_uri())
            .with_retriever(SpecRetriever(self.files.clone()))
            .should_validate_formats(true);
        for (format, check) in self.formats {
            options = options.with_format(*format, *check);
        }
        let validator = Arc::new(
            options
                .build(&root)
                .map_err(|e| invalid(&format!("{}/schemas/{name}", self.api), e.to_string()))?,
        );
        if let Ok(mut m) = self.compiled.write() {
            m.insert(name.to_owned(), validator.clone());
        }
        Ok(validator)
    }

    /// Every violation of `instance` against schema file `name`, with messages taken from the
    /// schema's `x-message` annotations. Duplicate (path, message) pairs are reported once.
    pub fn violations(&self, name: &str, instance: &Value) -> Result<Vec<Violation>, SpecError> {
        let validator = self.get(name)?;
        // The usual case is a valid instance with integers written as integers: the validator's
        // yes/no answer is far cheaper than collecting errors, and only a number written with
        // a fraction or exponent can break `x-strict-integer`.
        let inexact = has_inexact_number(instance, 0);
        if !inexact && validator.is_valid(instance) {
            return Ok(Vec::new());
        }
        let document = if name.contains('#') {
            Arc::new(Value::Null)
        } else {
            self.document(name)?
        };
        let mut out: Vec<Violation> = Vec::new();
        for error in validator.iter_errors(instance) {
            let instance_path = error.instance_path().as_str().to_owned();
            let message = annotated_message(&document, &error).unwrap_or_else(|| error.to_string());
            let message = with_location(message, &instance_path);
            let missing = match error.kind() {
                jsonschema::error::ValidationErrorKind::Required { property } => {
                    property.as_str().map(str::to_owned)
                }
                _ => None,
            };
            let violation = Violation {
                instance_path,
                message,
                keyword: error.kind().keyword().to_owned(),
                missing,
            };
            // One line per (place, text), whatever keywords gave it.
            if !out.iter().any(|v| {
                v.instance_path == violation.instance_path && v.message == violation.message
            }) {
                out.push(violation);
            }
        }
        // JSON Schema counts 1.0 as an integer; where the spec says integers must be written
        // as integers (`x-strict-integer`), a fraction or exponent is a violation too.
        let mut strict = Vec::new();
        if inexact {
            strict_integer_violations(&document, &document, instance, false, "", 0, &mut strict);
        }
        for violation in strict {
            if !out
                .iter()
                .any(|v| v.instance_path == violation.instance_path)
            {
                out.push(violation);
            }
        }
        Ok(out)
    }
}

/// Does `instance` hold a number serde_json could not keep as an integer (written with a
/// fraction or an exponent)? Bounded in depth like the walk it guards; deeper means yes.
fn has_inexact_number(instance: &Value, depth: usize) -> bool {
    if depth > 64 {
        return true;
    }
    match instance {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(|v| has_inexact_number(v, depth + 1)),
        Value::Object(map) => map.values().any(|v| has_inexact_number(v, depth + 1)),
        _ => false,
    }
}

/// Numbers written with a fraction or an exponent (`1.0`, `1e3`, `-0.0`) where the schema types
/// an integer under an `x-strict-integer: true` (on the node or an ancestor). Follows
/// `properties`, `additionalProperties`, `items`, local `$ref`s and the `allOf`/`anyOf`/`oneOf`
/// branches, bounded in depth. The message is the node's `x-message` (for `type`), else a
/// plain statement.
fn strict_integer_violations(
    root: &Value,
    schema: &Value,
    instance: &Value,
    strict: bool,
    path: &str,
    depth: usize,
    out: &mut Vec<Violation>,
) {
    const MAX_DEPTH: usize = 64;
    if depth > MAX_DEPTH {
        return;
    }
    let Value::Object(node) = schema else {
        return;
    };
    let strict = strict || node.get("x-strict-integer") == Some(&Value::Bool(true));
    if let Some(target) = node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| root.pointer(pointer))
    {
        strict_integer_violations(root, target, instance, strict, path, depth + 1, out);
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for branch in node
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            strict_integer_violations(root, branch, instance, strict, path, depth + 1, out);
        }
    }
    let says_integer = match node.get("type") {
        Some(Value::String(t)) => t == "integer",
        Some(Value::Array(types)) => {
            types.iter().any(|t| t == "integer") && !types.iter().any(|t| t == "number")
        }
        _ => false,
    };
    if let (true, true, Value::Number(n)) = (strict, says_integer, instance) {
        if n.is_f64() {
            let message = match node.get("x-message") {
                Some(Value::String(m)) => Some(m.clone()),
                Some(Value::Object(by_keyword)) => by_keyword
                    .get("type")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                _ => None,
            }
            .unwrap_or_else(|| format!("{n} is not written as an integer"));
            if !out.iter().any(|v| v.instance_path == path) {
                out.push(Violation {
                    instance_path: path.to_owned(),
                    message: with_location(message, path),
                    keyword: "type".to_owned(),
                    missing: None,
                });
            }
        }
    }
    match instance {
        Value::Object(fields) => {
            let properties = node.get("properties").and_then(Value::as_object);
            for (name, value) in fields {
                let sub = properties
                    .and_then(|p| p.get(name))
                    .or_else(|| node.get("additionalProperties"));
                if let Some(sub) = sub {
                    let child = format!("{path}/{}", name.replace('~', "~0").replace('/', "~1"));
                    strict_integer_violations(root, sub, value, strict, &child, depth + 1, out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = node.get("items") {
                for (i, value) in items.iter().enumerate() {
                    let child = format!("{path}/{i}");
                    strict_integer_violations(root, sub, value, strict, &child, depth + 1, out);
                }
            }
        }
        _ => {}
    }
}

/// Find the deepest `x-message` on the evaluation path of `error` inside `document`. Local
/// `$ref`s (`#/...`) are followed; a `$ref` to another file ends the walk (messages belong to the
/// referencing property, not the shared definition).
fn annotated_message(document: &Value, error: &jsonschema::ValidationError<'_>) -> Option<String> {
    let keyword = error.kind().keyword();
    let mut node = document;
    let mut found: Option<&Value> = node.get("x-message");
    let segments: Vec<String> = error
        .evaluation_path()
        .segments()
        .map(|s| s.to_string())
        .collect();
    for segment in &segments {
        if segment == "$ref" {
            let target = node
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix('#'));
            match target.and_then(|pointer| document.pointer(pointer)) {
                Some(referenced) => {
                    node = referenced;
                    if let Some(m) = node.get("x-message") {
                        found = Some(m);
                    }
                    continue;
                }
                None => break,
            }
        }
        node = match node {
            Value::Object(map) => map.get(segment.as_str())?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
        if let Some(m) = node.get("x-message") {
            found = Some(m);
        }
    }
    let template = match found? {
        Value::String(s) => s.as_str(),
        Value::Object(by_keyword) => by_keyword.get(keyword)?.as_str()?,
        _ => return None,
    };
    Some(fill_placeholders(template, error.kind()))
}

fn fill_placeholders(template: &str, kind: &jsonschema::error::ValidationErrorKind) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    let mut text = template.to_owned();
    if let K::Required { property } = kind {
        let field = property
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| property.to_string());
        text = text.replace("{field}", &field);
    }
    if let K::Enum { options } = kind {
        let allowed: Vec<String> = options
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        text = text.replace("{allowed}", &allowed.join(", "));
    }
    text
}

/// Items of arrays share one message text; the index tells the user which item is wrong.
fn with_location(message: String, instance_path: &str) -> String {
    let has_index = instance_path
        .split('/')
        .any(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    if !has_index {
        return message;
    }
    let mut location = String::new();
    for segment in instance_path.split('/').filter(|s| !s.is_empty()) {
        if segment.bytes().all(|b| b.is_ascii_digit()) {
            location.push_str(&format!("[{segment}]"));
        } else {
            if !location.is_empty() {
                location.push('.');
            }
            location.push_str(segment);
        }
    }
    format!("{message} (at {location})")
}

/// Replace `{name}` placeholders in an error-kind template.
pub fn render_template(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strict(schema: Value, instance: Value) -> Vec<String> {
        let mut out = Vec::new();
        strict_integer_violations(&schema, &schema, &instance, false, "", 0, &mut out);
        out.into_iter().map(|v| v.instance_path).collect()
    }

    #[test]
    fn integers_written_with_a_fraction_or_exponent_are_found_where_the_schema_asks() {
        let schema = json!({
            "type": "array",
            "items": {"$ref": "#/$defs/event"},
            "$defs": {"event": {"type": "object", "properties": {
                "time": {"type": "integer", "x-strict-integer": true},
                "loose": {"type": "integer"},
                "ratio": {"type": "number", "x-strict-integer": true}
            }}}
        });
        let instance: Value = serde_json::from_str(
            r#"[{"time": 1800000000000}, {"time": 1800000000000.0, "loose": 1.0, "ratio": 0.5},
                {"time": 1e3}, {"time": -0.0}]"#,
        )
        .unwrap();
        assert_eq!(
            strict(schema, instance),
            vec!["/1/time", "/2/time", "/3/time"]
        );
    }
}
