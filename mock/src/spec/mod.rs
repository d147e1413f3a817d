//! The contract as data: `specs/` is embedded at compile time, each API's `spec.json` is typed
//! ([`model`]), and its JSON Schemas are compiled once, on first use ([`schemas`]). A spec folder
//! on disk is also checked against `specs/spec.schema.json` and compiled whole when it loads; the
//! embedded ones are checked so by `harness/tests/suite_integrity.rs` (see [`load_from`]).
//!
//! Rust never restates a contract constant: patterns, enums, messages and rules are read from here.

mod model;
mod schemas;

pub use model::*;
pub use schemas::{render_template, FormatCheck, SchemaSet, Violation};

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use http::HeaderMap;
use include_dir::{include_dir, Dir};
use serde::Deserialize;
use serde_json::Value;

use crate::codec::{self, MediaTypes, Representation};

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

/// Text of an embedded file under `specs/`, e.g. `<api>/spec.json`.
pub fn file_text(path: &str) -> Option<&'static str> {
    SPECS_DIR.get_file(path)?.contents_utf8()
}

/// Where a spec's files come from: the embedded `specs/` folder (every served API), or a folder
/// on disk laid out the same way (a user's own API, or a test's).
#[derive(Debug, Clone)]
pub enum SpecFiles {
    Embedded,
    Dir(std::path::PathBuf),
}

impl SpecFiles {
    /// The text of `path` below the specs folder, e.g. `<api>/schemas/error.json`.
    pub fn text(&self, path: &str) -> Option<String> {
        match self {
            SpecFiles::Embedded => file_text(path).map(str::to_owned),
            SpecFiles::Dir(root) => {
                // Only plain relative paths: a `$ref` cannot climb out of the folder.
                if path.split('/').any(|s| s == ".." || s.is_empty()) {
                    return None;
                }
                std::fs::read_to_string(root.join(path)).ok()
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("no spec for API '{0}' under specs/")]
    UnknownApi(String),
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

pub(crate) fn invalid(file: &str, message: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        file: file.to_owned(),
        message: message.into(),
    }
}

/// Why a request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The `Content-Type` is none the operation consumes (the lower-cased media type).
    UnsupportedMediaType(String),
    /// The bytes are not a document of the representation (the parser's words).
    Malformed(String),
}

/// One API's spec with its compiled schemas.
pub struct LoadedSpec {
    pub spec: ApiSpec,
    /// `spec.json` as plain JSON, parsed on first use ([`LoadedSpec::raw`]): the typed model
    /// is read straight from the text, and nothing on a request's path needs the raw form.
    raw: OnceLock<Value>,
    files: SpecFiles,
    pub schemas: SchemaSet,
    base_paths: Vec<String>,
    /// The distinct literal first segments of the operations' templates (`None` when one
    /// starts with a parameter): routing asks every API sharing a base path to claim a path,
    /// and most are ruled out by its first segment alone.
    leading: OnceLock<Option<Vec<Box<str>>>>,
}

impl LoadedSpec {
    /// `spec.json` as plain JSON (e.g. to look at a member the typed model does not keep).
    pub fn raw(&self) -> &Value {
        self.raw.get_or_init(|| {
            // The same text the typed model was read from, so it parses.
            self.files
                .text(&format!("{}/spec.json", self.spec.id))
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or(Value::Null)
        })
    }

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

    /// The schemas request bodies are checked against: what the mock itself compiles.
    pub fn request_schemas(&self) -> impl Iterator<Item = &str> {
        self.spec
            .operations
            .iter()
            .filter_map(|op| op.request.as_ref().map(|r| r.schema.as_str()))
    }

    /// Compile the request schemas now (the server does, off the request path, once it
    /// listens), so a client's first write does not wait for them.
    pub fn compile_request_schemas(&self) -> Result<(), SpecError> {
        self.request_schemas()
            .try_for_each(|name| self.schemas.get(name).map(drop))
    }

    /// Compile every schema the spec names (errors, envelopes, requests, responses per status
    /// and version): fails on a schema that does not compile or a `$ref` that does not resolve.
    /// Compiled schemas are kept, so later uses are free.
    pub fn compile_all_schemas(&self) -> Result<(), SpecError> {
        let spec = &self.spec;
        let mut names: Vec<&str> = vec![spec.errors.schema.as_str()];
        names.extend(
            spec.errors
                .envelopes
                .values()
                .filter_map(|e| e.schema.as_deref()),
        );
        names.extend(self.request_schemas());
        for op in &spec.operations {
            for resp in op.responses.values() {
                names.push(&resp.schema);
                names.extend(resp.schema_by_version.values().map(String::as_str));
            }
        }
        names
            .into_iter()
            .try_for_each(|name| self.schemas.get(name).map(drop))
    }

    /// Every base path the API is served under: the default first, then the alternates.
    pub fn base_paths(&self) -> &[String] {
        &self.base_paths
    }

    /// The API's first auth scheme: what a client uses by default.
    pub fn default_auth(&self) -> Option<&AuthScheme> {
        self.spec.auth.first().map(|a| &a.scheme)
    }

    /// The first auth scheme of a kind, e.g. the token scheme, by [`AuthScheme::name`].
    pub fn auth_scheme(&self, name: &str) -> Option<&AuthScheme> {
        self.spec
            .auth
            .iter()
            .map(|a| &a.scheme)
            .find(|s| s.name() == name)
    }

    /// The header of the API's `token` auth scheme, if it has one.
    pub fn token_header(&self) -> Option<&str> {
        match self.auth_scheme("token")? {
            AuthScheme::Token { header, .. } => Some(header),
            _ => None,
        }
    }

    /// The permission an account needs for this API (from `auth[].permission`), if any.
    pub fn permission(&self) -> Option<&str> {
        self.spec.auth.iter().find_map(|a| a.permission.as_deref())
    }

    /// Which operation a request addresses: the path must match an operation's template, and the
    /// method one of those operations.
    pub fn route<'s, 'p>(&'s self, method: &str, path: &'p str) -> Routed<'s, 'p> {
        // The most specific template wins (fewest parameters; the first declared on a tie), so
        // a catch-all such as `/{type}/{id}/{method}` answers only what no named operation covers.
        let mut best: Option<(&Operation, usize)> = None;
        // The path's segments once, on the stack, for every template (a path too deep for the
        // buffer is matched from its text).
        let mut buffer = [""; MAX_SEGMENTS];
        let (segments, whole) = split_segments(path, &mut buffer);
        for op in &self.spec.operations {
            if op.method != method {
                continue;
            }
            let matched = if whole {
                op.match_segments(segments)
            } else {
                op.match_params(path)
            };
            if let Some(count) = matched {
                if best.is_none_or(|(_, b)| count < b) {
                    best = Some((op, count));
                }
            }
        }
        // Only the winner's parameters are collected.
        if let Some((op, params)) = best.and_then(|(op, _)| op.path_params(path).map(|p| (op, p))) {
            return Routed::Operation(op, params);
        }
        // No operation of this method: which methods the path has, if any (the rare case).
        let allowed: Vec<&str> = self
            .spec
            .operations
            .iter()
            .filter(|op| op.matches_path(path))
            .map(|op| op.method.as_str())
            .collect();
        if allowed.is_empty() {
            Routed::NoSuchPath
        } else {
            Routed::MethodNotAllowed(allowed)
        }
    }

    /// Is `path` under the first segment of one of the operations (e.g. `/rest/...`)? Such paths
    /// belong to this API even when no operation matches, so they get the vendor's 404.
    pub fn claims(&self, path: &str) -> bool {
        self.claim_depth(path) > 0
    }

    /// How many leading segments of `path` some operation's template matches (a literal equal,
    /// or a `{parameter}`); 0 when not even the first does. Where two APIs share a base path,
    /// the deeper claim answers (`/api/admin/...` goes to the API with `/api/admin/...`
    /// operations, not to one that only has `/api/other`).
    pub fn claim_depth(&self, path: &str) -> usize {
        // A claim deeper than the buffer is counted as its size (no two APIs tell themselves
        // apart that deep).
        let mut buffer = [""; MAX_SEGMENTS];
        let (segments, _) = split_segments(path, &mut buffer);
        let leading = self.leading.get_or_init(|| {
            let mut firsts: Vec<Box<str>> = Vec::new();
            for op in &self.spec.operations {
                match op.segments().first() {
                    Some(Segment::Literal(text)) => {
                        if !firsts.iter().any(|f| f == text) {
                            firsts.push(text.clone());
                        }
                    }
                    _ => return None,
                }
            }
            Some(firsts)
        });
        if let (Some(firsts), Some(first)) = (leading, segments.first()) {
            if !firsts.iter().any(|f| **f == **first) {
                return 0;
            }
        }
        let mut deepest = 0;
        for op in &self.spec.operations {
            let depth = op.leading_match(segments);
            if depth > deepest {
                deepest = depth;
                // No template matches more segments than the path has.
                if deepest == segments.len() {
                    break;
                }
            }
        }
        deepest
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
        version: Option<&str>,
    ) -> Option<String> {
        let op = self
            .spec
            .operations
            .iter()
            .find(|op| op.method.eq_ignore_ascii_case(method) && op.matches_path(path));
        if let Some(resp) = op.and_then(|op| op.responses.get(&status.to_string())) {
            if let Some(v) = version.and_then(|v| resp.schema_by_version.get(v)) {
                return Some(v.clone());
            }
            return Some(resp.schema.clone());
        }
        (status >= 400).then(|| self.spec.errors.schema.clone())
    }

    /// The media types of an operation (its own, else the API's).
    pub fn media_types<'a>(&'a self, op: Option<&'a Operation>) -> &'a MediaTypes {
        op.and_then(|op| op.media_types.as_ref())
            .unwrap_or(&self.spec.media_types)
    }

    /// Read a request body in the representation its `Content-Type` names.
    pub fn decode_request(
        &self,
        op: &Operation,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Value, BodyError> {
        let representation = self
            .media_types(Some(op))
            .request_representation(headers)
            .map_err(BodyError::UnsupportedMediaType)?;
        // An XML body must be the element the operation declares, not any mapped root.
        let expected = op.request.as_ref().and_then(|r| r.xml_element.as_deref());
        match (representation, self.spec.xml.as_ref(), expected) {
            (Representation::Xml, Some(mapping), Some(expected)) => {
                let (root, value) = mapping
                    .decode(body)
                    .map_err(|e| BodyError::Malformed(e.to_string()))?;
                if root != expected {
                    return Err(BodyError::Malformed(format!(
                        "the root element is {root}, expected {expected}"
                    )));
                }
                Ok(value)
            }
            _ => self
                .decode(representation, body)
                .map_err(BodyError::Malformed),
        }
    }

    /// Read a body of a known representation (JSON, or XML through the spec's mapping).
    pub fn decode(&self, representation: Representation, body: &[u8]) -> Result<Value, String> {
        codec::decode(representation, body, self.spec.xml.as_ref())
    }

    /// Read a response body by its `Content-Type` (what the harness does with every answer):
    /// `None` when it is neither JSON nor mapped XML.
    pub fn decode_response(&self, content_type: Option<&str>, body: &[u8]) -> Option<Value> {
        let representation = content_type
            .and_then(Representation::of)
            .unwrap_or(Representation::Json);
        self.decode(representation, body).ok()
    }

    /// The root element of an XML answer: the error element for errors, else the one the
    /// operation's response declares.
    pub fn xml_element<'a>(
        &'a self,
        op: Option<&'a Operation>,
        status: u16,
        error: bool,
    ) -> Option<&'a str> {
        if error {
            return self.spec.errors.xml_element.as_deref();
        }
        op?.responses
            .get(&status.to_string())?
            .xml_element
            .as_deref()
    }
}

static LOADED: OnceLock<RwLock<HashMap<String, Arc<LoadedSpec>>>> = OnceLock::new();

/// Has [`load`] read the spec of `api` already in this process?
pub fn is_loaded(api: &str) -> bool {
    LOADED
        .get()
        .and_then(|cache| cache.read().ok())
        .is_some_and(|m| m.contains_key(api))
}

/// Load (once per process) the spec of `api`, validated against the meta-schema, with its
/// schemas compiled with the API's own `format` checkers. Use the registry's
/// [`crate::apis::spec`], which hands each API's checkers in.
pub fn load(api: &str, formats: &'static [FormatCheck]) -> Result<Arc<LoadedSpec>, SpecError> {
    let cache = LOADED.get_or_init(Default::default);
    if let Some(found) = cache.read().ok().and_then(|m| m.get(api).cloned()) {
        return Ok(found);
    }
    let loaded = Arc::new(load_from(SpecFiles::Embedded, api, formats)?);
    if let Ok(mut m) = cache.write() {
        m.insert(api.to_owned(), loaded.clone());
    }
    Ok(loaded)
}

/// Load a spec from `files` (not cached): `<api>/spec.json` and `<api>/schemas/`.
///
/// A folder on disk (`SpecFiles::Dir`, a user's own spec) is checked whole here: against the
/// meta-schema, and every schema it names is compiled, so a broken file fails at load. The
/// embedded specs skip those two checks at run time (they cost most of the mock's start): the
/// binary carries exactly the files `harness/tests/suite_integrity.rs`
/// (`every_spec_validates_against_the_meta_schema`) checks the same way, with
/// [`check_against_meta_schema`] and [`LoadedSpec::compile_all_schemas`]. Their schemas compile
/// on first use ([`SchemaSet::get`]), and the server compiles the request schemas in the
/// background once it listens ([`LoadedSpec::compile_request_schemas`]).
pub fn load_from(
    files: SpecFiles,
    api: &str,
    formats: &'static [FormatCheck],
) -> Result<LoadedSpec, SpecError> {
    let file = format!("{api}/spec.json");
    let text = files
        .text(&file)
        .ok_or_else(|| SpecError::UnknownApi(api.to_owned()))?;
    let on_disk = matches!(files, SpecFiles::Dir(_));
    let raw = OnceLock::new();
    let spec = if on_disk {
        let value: Value =
            serde_json::from_str(&text).map_err(|e| invalid(&file, e.to_string()))?;
        check_against_meta_schema(&file, &value)?;
        let spec = ApiSpec::deserialize(&value).map_err(|e| invalid(&file, e.to_string()))?;
        let _ = raw.set(value);
        spec
    } else {
        // Straight into the typed model: a third of the cost of a `Value` first.
        serde_json::from_str::<ApiSpec>(&text).map_err(|e| invalid(&file, e.to_string()))?
    };
    if spec.id != api {
        return Err(invalid(
            &file,
            format!("id '{}' differs from its folder", spec.id),
        ));
    }
    check_representations(&file, &spec)?;
    let schemas = SchemaSet::new(api, files.clone(), formats);
    let base_paths = std::iter::once(spec.base_path.clone())
        .chain(spec.alternate_base_paths.iter().cloned())
        .collect();
    let loaded = LoadedSpec {
        spec,
        raw,
        files,
        schemas,
        base_paths,
        leading: OnceLock::new(),
    };
    if on_disk {
        loaded.compile_all_schemas()?;
    }
    Ok(loaded)
}

/// How many segments of a request path routing splits on the stack.
const MAX_SEGMENTS: usize = 32;

/// The non-empty segments of `path` in `buffer`, and whether they are all of them (`false`:
/// the path has more than the buffer holds, and the first ones are given).
fn split_segments<'p, 'b>(
    path: &'p str,
    buffer: &'b mut [&'p str; MAX_SEGMENTS],
) -> (&'b [&'p str], bool) {
    let mut parts = path.split('/').filter(|s| !s.is_empty());
    let mut count = 0;
    for (slot, segment) in buffer.iter_mut().zip(&mut parts) {
        *slot = segment;
        count += 1;
    }
    let whole = count < MAX_SEGMENTS || parts.next().is_none();
    (&buffer[..count], whole)
}

/// Every declared media type is JSON or XML; XML needs the spec's mapping, and every XML root
/// element the operations and errors name must be one of the mapping's roots.
fn check_representations(file: &str, spec: &ApiSpec) -> Result<(), SpecError> {
    let all_media = std::iter::once(&spec.media_types).chain(
        spec.operations
            .iter()
            .filter_map(|op| op.media_types.as_ref()),
    );
    let mut wants_xml = false;
    for media in all_media {
        for declared in media
            .request
            .iter()
            .chain(&media.response)
            .chain(&media.error)
        {
            match Representation::of(declared) {
                Some(Representation::Xml) => wants_xml = true,
                Some(Representation::Json) => {}
                None => {
                    return Err(invalid(
                        file,
                        format!("media type '{declared}' is neither JSON nor XML"),
                    ))
                }
            }
        }
    }
    let elements = spec
        .errors
        .xml_element
        .iter()
        .chain(spec.operations.iter().flat_map(|op| {
            op.request
                .iter()
                .filter_map(|r| r.xml_element.as_ref())
                .chain(op.responses.values().filter_map(|r| r.xml_element.as_ref()))
        }));
    match &spec.xml {
        None if wants_xml => Err(invalid(file, "XML media types need an `xml` mapping")),
        None => Ok(()),
        Some(mapping) => {
            mapping
                .check()
                .map_err(|e| invalid(file, format!("xml: {e}")))?;
            for element in elements {
                if !mapping.roots.contains_key(element) {
                    return Err(invalid(
                        file,
                        format!("xml element '{element}' is not a root of the mapping"),
                    ));
                }
            }
            Ok(())
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Matching a path split once on the stack agrees with matching its text, for every
    /// operation of every embedded spec, on paths made from the templates and on near misses;
    /// a path deeper than the buffer is routed from its text.
    #[test]
    fn split_paths_route_as_their_text_does() {
        for api in api_ids() {
            let spec = load(&api, &[]).unwrap();
            let mut paths: Vec<String> = Vec::new();
            for op in &spec.spec.operations {
                let filled = op.path.replace('{', "x").replace('}', "");
                paths.push(filled.clone());
                paths.push(format!("{filled}/extra"));
                paths.push(format!("//{}", filled.trim_start_matches('/')));
                paths.push(
                    filled
                        .rsplit_once('/')
                        .map_or(String::new(), |(head, _)| head.to_owned()),
                );
            }
            paths.push("/a".repeat(MAX_SEGMENTS + 3));
            for path in &paths {
                let mut buffer = [""; MAX_SEGMENTS];
                let (segments, whole) = split_segments(path, &mut buffer);
                for op in &spec.spec.operations {
                    if whole {
                        assert_eq!(
                            op.match_segments(segments),
                            op.match_params(path),
                            "{api} {} {path}",
                            op.path
                        );
                    }
                }
                for method in ["GET", "POST"] {
                    let by_route = match spec.route(method, path) {
                        Routed::Operation(op, params) => Some((op.id.clone(), params.len())),
                        _ => None,
                    };
                    let by_text = spec
                        .spec
                        .operations
                        .iter()
                        .filter(|op| op.method == method)
                        .filter_map(|op| op.match_params(path).map(|n| (op, n)))
                        .fold(None::<(&Operation, usize)>, |best, (op, n)| match best {
                            Some((_, b)) if b <= n => best,
                            _ => Some((op, n)),
                        })
                        .map(|(op, n)| (op.id.clone(), n));
                    assert_eq!(by_route, by_text, "{api} {method} {path}");
                }
            }
            let mut buffer = [""; MAX_SEGMENTS];
            let deep = "/a".repeat(MAX_SEGMENTS + 3);
            assert!(!split_segments(&deep, &mut buffer).1);
            let exact = "/a".repeat(MAX_SEGMENTS);
            assert!(split_segments(&exact, &mut buffer).1);
        }
    }
}
