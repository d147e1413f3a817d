//! The contract as data: `specs/` is embedded at compile time, each API's `spec.json` is checked
//! against `specs/spec.schema.json`, and its JSON Schemas are compiled once.
//!
//! Rust never restates a contract constant: patterns, enums, messages and rules are read from here.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, RwLock};

use include_dir::{include_dir, Dir};
use serde::Deserialize;
use serde_json::Value;

/// The whole `specs/` folder, embedded so the standalone binary needs no files beside it.
pub static SPECS_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../specs");

/// Ids of every API that has a `spec.json`, sorted.
pub fn api_ids() -> Vec<String> {
    let mut ids: Vec<String> = SPECS_DIR
        .dirs()
        .filter(|d| d.get_file(d.path().join("spec.json")).is_some())
        .filter_map(|d| d.path().file_name()?.to_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

/// Text of an embedded file under `specs/`, e.g. `mws-events/spec.json`.
pub fn file_text(path: &str) -> Option<&'static str> {
    SPECS_DIR.get_file(path)?.contents_utf8()
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("no spec for API '{0}' under specs/")]
    UnknownApi(String),
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

fn invalid(file: &str, message: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        file: file.to_owned(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiSpec {
    pub id: String,
    pub title: String,
    pub seed: String,
    #[serde(default)]
    pub research: Option<String>,
    pub base_path: String,
    #[serde(default)]
    pub alternate_base_paths: Vec<String>,
    #[serde(default)]
    pub versioning: Option<Versioning>,
    #[serde(default)]
    pub auth: Vec<Value>,
    pub operations: Vec<Operation>,
    pub errors: Errors,
    pub rules: BTreeMap<String, Value>,
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Versioning {
    pub query_param: String,
    #[serde(default)]
    pub required: bool,
    pub current: i64,
    #[serde(default)]
    pub aliases: BTreeMap<String, i64>,
    pub supported: Vec<i64>,
}

impl Versioning {
    /// Resolve a version parameter value (`3`, `latest`) to a supported version number.
    pub fn resolve(&self, raw: &str) -> Option<i64> {
        if let Some(v) = self.aliases.get(raw) {
            return Some(*v);
        }
        let v: i64 = raw.trim().parse().ok()?;
        self.supported.contains(&v).then_some(v)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub query_params: Vec<String>,
    #[serde(default)]
    pub request: Option<RequestBody>,
    pub responses: BTreeMap<String, ResponseSpec>,
}

impl Operation {
    /// Does `path` (relative to the base path, no query) match this operation's template?
    pub fn matches_path(&self, path: &str) -> bool {
        self.path_params(path).is_some()
    }

    /// The `{name}` segments of the template, filled from `path`; `None` if it does not match.
    pub fn path_params<'p>(&self, path: &'p str) -> Option<Vec<(&str, &'p str)>> {
        let want: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        let got: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if want.len() != got.len() {
            return None;
        }
        let mut params = Vec::new();
        for (w, g) in want.iter().zip(&got) {
            match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                Some(name) => params.push((name, *g)),
                None if w == g => {}
                None => return None,
            }
        }
        Some(params)
    }

    /// The template with `{name}` segments filled in.
    pub fn fill_path(&self, params: &[(&str, &str)]) -> String {
        params
            .iter()
            .fold(self.path.clone(), |path, (name, value)| {
                path.replace(&format!("{{{name}}}"), value)
            })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct RequestBody {
    pub schema: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ResponseSpec {
    pub schema: String,
    #[serde(default)]
    pub schema_by_version: BTreeMap<String, String>,
    #[serde(default)]
    pub headers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Errors {
    /// Schema every error body (status >= 400) satisfies, whatever the envelope.
    pub schema: String,
    /// Named body templates; an API may switch between them (configuration).
    #[serde(default)]
    pub envelopes: BTreeMap<String, Envelope>,
    #[serde(default)]
    pub default_envelope: Option<String>,
    /// Where an error body carries the vendor's error code, per envelope (tried in order).
    #[serde(default)]
    pub code_pointers: Vec<String>,
    pub kinds: BTreeMap<String, ErrorKind>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    pub body: Value,
    #[serde(default)]
    pub schema: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ErrorKind {
    pub status: u16,
    /// The vendor's error code (e.g. ces.0014).
    #[serde(default)]
    pub code: Option<String>,
    /// The vendor's message text (one), for envelopes with a single message.
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub messages: Vec<String>,
    #[serde(default)]
    pub body: Option<Value>,
    pub basis: Basis,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    Documented,
    Inferred,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Requirement {
    pub id: String,
    pub statement: String,
    pub source: String,
    pub basis: Basis,
}

/// The outcome of routing a request by the spec's operations.
pub enum Routed<'s, 'p> {
    Operation(&'s Operation, Vec<(&'s str, &'p str)>),
    /// The path is an operation's, the method none of them: the methods that are.
    MethodNotAllowed(Vec<&'s str>),
    NoSuchPath,
}

/// One API's spec with its compiled schemas.
pub struct LoadedSpec {
    pub spec: ApiSpec,
    pub raw: Value,
    pub schemas: SchemaSet,
}

impl LoadedSpec {
    /// A named rule from `rules`, deserialised into the API module's own type.
    pub fn rule<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, SpecError> {
        let file = format!("{}/spec.json", self.spec.id);
        let value = self
            .spec
            .rules
            .get(name)
            .ok_or_else(|| invalid(&file, format!("missing rule '{name}'")))?;
        serde_json::from_value(value.clone())
            .map_err(|e| invalid(&file, format!("rule '{name}': {e}")))
    }

    /// Every base path the API is served under: the default first, then the alternates.
    pub fn base_paths(&self) -> Vec<String> {
        std::iter::once(self.spec.base_path.clone())
            .chain(self.spec.alternate_base_paths.iter().cloned())
            .collect()
    }

    /// The scheme of the API's first `auth` entry (what a client uses by default), e.g. `basic`.
    pub fn default_auth_scheme(&self) -> Option<&str> {
        self.spec.auth.first()?.get("scheme")?.as_str()
    }

    /// The header of the API's `token` auth scheme, if it has one.
    pub fn token_header(&self) -> Option<&str> {
        self.spec
            .auth
            .iter()
            .find(|a| a.get("scheme").and_then(Value::as_str) == Some("token"))?
            .get("header")?
            .as_str()
    }

    /// The permission an account needs for this API (from `auth[].permission`), if any.
    pub fn permission(&self) -> Option<&str> {
        self.spec
            .auth
            .iter()
            .find_map(|a| a.get("permission").and_then(Value::as_str))
    }

    /// Which operation a request addresses: the path must match an operation's template, and the
    /// method one of those operations.
    pub fn route<'s, 'p>(&'s self, method: &str, path: &'p str) -> Routed<'s, 'p> {
        let candidates: Vec<(&Operation, Vec<(&str, &'p str)>)> = self
            .spec
            .operations
            .iter()
            .filter_map(|op| op.path_params(path).map(|params| (op, params)))
            .collect();
        if candidates.is_empty() {
            return Routed::NoSuchPath;
        }
        let allowed: Vec<&str> = candidates
            .iter()
            .map(|(op, _)| op.method.as_str())
            .collect();
        match candidates.into_iter().find(|(op, _)| op.method == method) {
            Some((op, params)) => Routed::Operation(op, params),
            None => Routed::MethodNotAllowed(allowed),
        }
    }

    /// Is `path` under the first segment of one of the operations (e.g. `/rest/...`)? Such paths
    /// belong to this API even when no operation matches, so they get the vendor's 404.
    pub fn claims(&self, path: &str) -> bool {
        let first = |p: &str| p.split('/').find(|s| !s.is_empty()).map(str::to_owned);
        let wanted = first(path);
        wanted.is_some()
            && self
                .spec
                .operations
                .iter()
                .any(|op| first(&op.path) == wanted)
    }

    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.spec.operations.iter().find(|op| op.id == id)
    }

    pub fn error_kind(&self, name: &str) -> Option<&ErrorKind> {
        self.spec.errors.kinds.get(name)
    }

    /// The schema a response with `status` must satisfy for `method path` under `version`.
    /// Errors (status >= 400) use the API's error schema unless the operation names another.
    pub fn response_schema(
        &self,
        method: &str,
        path: &str,
        status: u16,
        version: Option<i64>,
    ) -> Option<String> {
        let op = self
            .spec
            .operations
            .iter()
            .find(|op| op.method.eq_ignore_ascii_case(method) && op.matches_path(path));
        if let Some(resp) = op.and_then(|op| op.responses.get(&status.to_string())) {
            if let Some(v) = version.and_then(|v| resp.schema_by_version.get(&v.to_string())) {
                return Some(v.clone());
            }
            return Some(resp.schema.clone());
        }
        (status >= 400).then(|| self.spec.errors.schema.clone())
    }
}

static LOADED: OnceLock<RwLock<HashMap<String, Arc<LoadedSpec>>>> = OnceLock::new();

/// Load (once per process) the spec of `api`, validated against the meta-schema, with its schemas.
pub fn load(api: &str) -> Result<Arc<LoadedSpec>, SpecError> {
    let cache = LOADED.get_or_init(Default::default);
    if let Some(found) = cache.read().ok().and_then(|m| m.get(api).cloned()) {
        return Ok(found);
    }
    let loaded = Arc::new(load_uncached(api)?);
    if let Ok(mut m) = cache.write() {
        m.insert(api.to_owned(), loaded.clone());
    }
    Ok(loaded)
}

fn load_uncached(api: &str) -> Result<LoadedSpec, SpecError> {
    let file = format!("{api}/spec.json");
    let text = file_text(&file).ok_or_else(|| SpecError::UnknownApi(api.to_owned()))?;
    let raw: Value = serde_json::from_str(text).map_err(|e| invalid(&file, e.to_string()))?;
    check_against_meta_schema(&file, &raw)?;
    let spec: ApiSpec =
        serde_json::from_value(raw.clone()).map_err(|e| invalid(&file, e.to_string()))?;
    if spec.id != api {
        return Err(invalid(
            &file,
            format!("id '{}' differs from its folder", spec.id),
        ));
    }
    let schemas = SchemaSet::new(api);
    // Fail fast on a schema that does not compile or a $ref that does not resolve.
    let mut names: Vec<&str> = vec![spec.errors.schema.as_str()];
    names.extend(
        spec.errors
            .envelopes
            .values()
            .filter_map(|e| e.schema.as_deref()),
    );
    for op in &spec.operations {
        names.extend(op.request.iter().map(|r| r.schema.as_str()));
        for resp in op.responses.values() {
            names.push(&resp.schema);
            names.extend(resp.schema_by_version.values().map(String::as_str));
        }
    }
    for name in names {
        schemas.get(name)?;
    }
    Ok(LoadedSpec { spec, raw, schemas })
}

/// Validate a spec document against `specs/spec.schema.json`, listing every problem.
pub fn check_against_meta_schema(file: &str, raw: &Value) -> Result<(), SpecError> {
    let meta_text = file_text("spec.schema.json")
        .ok_or_else(|| invalid(file, "specs/spec.schema.json is missing"))?;
    let meta: Value =
        serde_json::from_str(meta_text).map_err(|e| invalid("spec.schema.json", e.to_string()))?;
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&meta)
        .map_err(|e| invalid("spec.schema.json", e.to_string()))?;
    let problems: Vec<String> = validator
        .iter_errors(raw)
        .map(|e| format!("{}: {}", e.instance_path(), e))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(invalid(file, problems.join("; ")))
    }
}

/// A named `format` checker.
type FormatCheck = (&'static str, fn(&str) -> bool);

/// Custom `format` checkers the specs use; the mechanisms live in Rust, the names in the schemas.
fn formats() -> &'static [FormatCheck] {
    &[("mws-date", |s| {
        crate::mws::dates::parse_mws_date(s).is_some()
    })]
}

const SCHEMA_BASE: &str = "file:///specs/";

/// Serves `$ref`s from the embedded `specs/` folder only: schema compilation never touches the
/// network or the disk.
struct EmbeddedRetriever;

impl jsonschema::Retrieve for EmbeddedRetriever {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let path = uri
            .as_str()
            .strip_prefix(SCHEMA_BASE)
            .ok_or_else(|| format!("schema '{}' is outside specs/", uri.as_str()))?;
        let text = file_text(path).ok_or_else(|| format!("no schema file specs/{path}"))?;
        Ok(serde_json::from_str(text)?)
    }
}

/// One violation of a schema: where, and the text to show the API's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the instance.
    pub instance_path: String,
    /// The `x-message` of the violated schema node (with placeholders filled), or the validator's text.
    pub message: String,
}

/// The compiled schemas of one API, by file name (optionally with a `#fragment`).
pub struct SchemaSet {
    api: String,
    compiled: RwLock<HashMap<String, Arc<jsonschema::Validator>>>,
    /// Parsed schema files, so request paths never re-parse them.
    documents: RwLock<HashMap<String, Arc<Value>>>,
}

impl SchemaSet {
    fn new(api: &str) -> Self {
        Self {
            api: api.to_owned(),
            compiled: RwLock::default(),
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
        let text = file_text(&path).ok_or_else(|| invalid(&path, "no such schema file"))?;
        let doc: Arc<Value> =
            Arc::new(serde_json::from_str(text).map_err(|e| invalid(&path, e.to_string()))?);
        if let Ok(mut m) = self.documents.write() {
            m.insert(file.to_owned(), doc.clone());
        }
        Ok(doc)
    }

    /// The compiled validator for `name` (`event-v3.json` or `event-v3.json#/$defs/partial`).
    pub fn get(&self, name: &str) -> Result<Arc<jsonschema::Validator>, SpecError> {
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
            .with_retriever(EmbeddedRetriever)
            .should_validate_formats(true);
        for (format, check) in formats() {
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
            let violation = Violation {
                instance_path,
                message,
            };
            if !out.contains(&violation) {
                out.push(violation);
            }
        }
        Ok(out)
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
