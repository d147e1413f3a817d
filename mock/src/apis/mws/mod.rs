//! Moab Web Services, Events API (seed 004): `GET/POST /rest/events`, `GET /rest/events/{id}`.
//!
//! Order of checks, as MWS's servlet filters apply them: authentication (401), resource (404),
//! method (405), permission (403), parameters and api-version (400), then the operation.
//!
//! Events are stored under the v3 names as [`CompactDoc`]s: one shared allocation each, read in
//! place by the matcher and sort. Readers hold the store's lock only to copy those pointers:
//! matching, sorting and rendering happen after it is released, so a long list never holds up a
//! create. Only the events of a page become `Value`s again, to be rendered. What one list may
//! cost is capped by the spec's query limits.

pub mod config;
pub mod dates;
pub mod events_log;
pub mod render;
pub mod rules;

use std::sync::Arc;

use http::{header, Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::api::{self, Account, Api, Credential, Ctx, Registration};
use crate::auth::{basic_credentials, secrets_equal};
use crate::compact::{CompactDoc, DocRef};
use crate::config::MockConfig;
use crate::errors::{self, ApiError};
use crate::mongo::{parse_relaxed_json, Filter, LimitKind, QueryError, QueryLimits, SortSpec};
use crate::spec::{BodyError, LoadedSpec, Operation, Routed, SpecError};
use crate::store::{Budget, Store};
use crate::wire::{
    exceeds_body_limit, json_response, param, path_param, query_pairs, text_response, Reply,
    Request, Response,
};

use config::{ListOrder, MwsConfig, MwsFlags, SeededLegacyNames, TotalCount, User};
use dates::{format_mws_date, parse_mws_date, Zone};
use events_log::EventsLog;
use render::{project_exclude, project_include, render, FieldTree, View};
use rules::Rules;

pub const API_ID: &str = "mws-events";

/// The registry's entry for MWS.
pub const REGISTRATION: Registration = Registration {
    id: API_ID,
    build: |spec, config, budget| Ok(Arc::new(MwsApi::new(spec, config, budget)?)),
    formats: &[("mws-date", |s| parse_mws_date(s).is_some())],
    flags: api::flags::<MwsFlags>(),
};

pub struct MwsApi {
    spec: Arc<LoadedSpec>,
    rules: Rules,
    users: Vec<User>,
    permission: String,
    storage_zone: Zone,
    total_count: TotalCount,
    list_order: ListOrder,
    body_limit: usize,
    /// The caps a query and sort must stay within.
    limits: QueryLimits,
    /// At most this many results in one page.
    page_items: usize,
    /// `WWW-Authenticate` of every 401.
    challenge: String,
    /// Stored events in insertion order (MongoDB's natural order), by id, under the v3 names.
    store: Store<CompactDoc>,
    log: EventsLog,
    /// What a create does with each field, derived from the spec once.
    create_plan: CreatePlan,
    /// The item path of `getEvent` split around `{id}` (a created event's Location).
    item_path: Vec<String>,
}

/// How a validated create body becomes the stored event, derived from the request schema and
/// the rules when the API is built, so a create looks nothing up by name.
struct CreatePlan {
    /// The request schema this plan was made from.
    schema: String,
    /// The schema's properties, in its order: the fields an event may be stored with.
    fields: Vec<PlannedField>,
    /// Storage artefacts of the event itself, in rule order.
    event_artefacts: Vec<(String, Value)>,
}

struct PlannedField {
    name: String,
    /// A date field: a string is normalised to the storage zone.
    date: bool,
    /// A list field with artefacts: each object of an array gets them.
    artefacts: Option<Vec<(String, Artefact)>>,
}

/// One artefact field of a list's objects.
enum Artefact {
    /// `"{id}"`: the object's own id (null without one).
    OwnId,
    Fixed(Value),
}

impl CreatePlan {
    fn new(spec: &LoadedSpec, rules: &Rules, schema: &str) -> Result<Self, SpecError> {
        let document = if schema.is_empty() {
            Arc::new(Value::Null)
        } else {
            spec.schemas.document(schema)?
        };
        let fields = document
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .map(|name| PlannedField {
                date: rules.date_format.fields.contains(name),
                artefacts: rules
                    .artefacts
                    .lists
                    .get(name.as_str())
                    .and_then(Value::as_object)
                    .map(|artefacts| {
                        artefacts
                            .iter()
                            .map(|(key, template)| {
                                let artefact = match template {
                                    Value::String(t) if t == "{id}" => Artefact::OwnId,
                                    other => Artefact::Fixed(other.clone()),
                                };
                                (key.clone(), artefact)
                            })
                            .collect()
                    }),
                name: name.clone(),
            })
            .collect();
        Ok(Self {
            schema: schema.to_owned(),
            fields,
            event_artefacts: rules
                .artefacts
                .event
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }
}

/// Name of the page cap among the query limits (the others are the `mongo` module's).
const PAGE_ITEMS: &str = "page_items";
/// Name of the compiled-regex size cap among the query limits.
const REGEX_COMPILED_BYTES: &str = "regex_compiled_bytes";
/// Attempts at a fresh id before a create gives up (each skips an id already stored).
const ID_ATTEMPTS: usize = 64;

type MwsError = ApiError;

fn invalid_param(name: &str, detail: impl Into<String>) -> MwsError {
    MwsError::new("invalid_parameter")
        .with("param", name)
        .with("detail", detail)
}

type MwsResult<T> = Result<T, MwsError>;

impl MwsApi {
    pub fn new(
        spec: Arc<LoadedSpec>,
        config: &MockConfig,
        budget: &Arc<Budget>,
    ) -> Result<Self, SpecError> {
        let rules = Rules::from_spec(&spec)?;
        let cfg: MwsConfig = config.api().map_err(|message| SpecError::Invalid {
            file: "mock configuration".into(),
            message,
        })?;
        let spec_file = || format!("{API_ID}/spec.json");
        let storage_zone =
            Zone::parse(&rules.date_format.storage_zone).ok_or_else(|| SpecError::Invalid {
                file: spec_file(),
                message: format!("unknown storage zone '{}'", rules.date_format.storage_zone),
            })?;
        let log = EventsLog::new(
            rules.events_log.clone(),
            cfg.events_log_zone.as_deref(),
            cfg.events_log_path.as_deref(),
            cfg.events_log_escapes
                .unwrap_or(rules.events_log.unlisted_controls.default),
        )
        .map_err(|message| SpecError::Invalid {
            file: "mock configuration".into(),
            message,
        })?;
        let permission = spec.permission().unwrap_or_default().to_owned();
        let (limits, page_items) =
            query_limits(&rules, &cfg).map_err(|message| SpecError::Invalid {
                file: spec_file(),
                message,
            })?;
        let realm = spec.spec.auth.iter().find_map(|a| match &a.scheme {
            crate::spec::AuthScheme::Basic { realm } => realm.clone(),
            _ => None,
        });
        let challenge = format!("Basic realm=\"{}\"", realm.as_deref().unwrap_or(API_ID));
        let create_schema = spec
            .operation("createEvent")
            .and_then(|op| op.request.as_ref())
            .map(|r| r.schema.clone())
            .unwrap_or_default();
        let create_plan = CreatePlan::new(&spec, &rules, &create_schema)?;
        let item_path = spec
            .operation("getEvent")
            .map(|get| get.path.split("{id}").map(str::to_owned).collect())
            .unwrap_or_default();
        Ok(Self {
            create_plan,
            item_path,
            total_count: cfg.total_count.unwrap_or(rules.list.total_count),
            list_order: cfg.list_order.unwrap_or(rules.list.default_order),
            limits,
            page_items,
            challenge,
            body_limit: cfg.max_body_bytes.unwrap_or(spec.spec.body_limit.max_bytes),
            users: cfg.users.clone(),
            permission,
            storage_zone,
            store: Store::new(cfg.max_events, budget.clone()),
            log,
            rules,
            spec,
        })
    }

    /// Number of stored events.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The events.log lines written so far (bounded), oldest first.
    pub fn events_log_text(&self) -> String {
        self.log.recent_text()
    }

    /// Store events as they would sit in MWS's database: under the v3 names (an event seeded
    /// with the v1/v2 names is renamed, or refused, as the spec's `renames` rule says), possibly
    /// with the fields removed in v3. Missing ids are assigned, skipping every id already stored
    /// or given in the batch; dates are normalised to the storage zone. All or nothing.
    pub fn seed(&self, events: Vec<Value>, ctx: &Ctx<'_>) -> Result<Vec<String>, String> {
        let mut prepared: Vec<(Option<String>, Map<String, Value>)> =
            Vec::with_capacity(events.len());
        for (i, event) in events.into_iter().enumerate() {
            let Value::Object(mut event) = event else {
                return Err(format!("item {i} is not an object"));
            };
            self.current_names(&mut event)
                .map_err(|e| format!("item {i}: {e}"))?;
            for field in &self.rules.date_format.fields {
                if let Some(Value::String(text)) = event.get(field) {
                    let at = parse_mws_date(text)
                        .ok_or_else(|| format!("item {i}: {field} '{text}' is not an MWS date"))?;
                    event.insert(
                        field.clone(),
                        Value::String(format_mws_date(at, &self.storage_zone)),
                    );
                }
            }
            let id = match event.get("id") {
                None => None,
                Some(Value::String(id)) => Some(id.clone()),
                Some(other) => return Err(format!("item {i}: id {other} is not a string")),
            };
            prepared.push((id, event));
        }
        let mut store = self.store.write();
        // An id already stored or repeated in the batch would leave two events under one id.
        let mut taken = std::collections::HashSet::new();
        for id in prepared.iter().filter_map(|(id, _)| id.as_deref()) {
            if store.contains_key(id) || !taken.insert(id.to_owned()) {
                return Err(format!(
                    "an event with id '{id}' is already stored or repeated"
                ));
            }
        }
        if !store.has_room_for(prepared.len()) {
            return Err(format!(
                "the store holds at most {} events",
                store.capacity()
            ));
        }
        let mut ready = Vec::with_capacity(prepared.len());
        for (id, mut event) in prepared {
            let id = match id {
                Some(id) => id,
                None => {
                    let id = fresh_id(ctx, |id| store.contains_key(id) || taken.contains(id))
                        .ok_or("no fresh id could be generated")?;
                    taken.insert(id.clone());
                    event.insert("id".into(), Value::String(id.clone()));
                    id
                }
            };
            ready.push((id, CompactDoc::encode(&Value::Object(event))));
        }
        let ids = ready.iter().map(|(id, _)| id.clone()).collect();
        for (id, event) in ready {
            store.insert(id, event).map_err(|e| e.to_string())?;
        }
        Ok(ids)
    }

    /// Move the v1/v2 names of a stored event to the v3 names (or refuse them, as configured).
    /// Both names of one field cannot be held by one model.
    fn current_names(&self, event: &mut Map<String, Value>) -> Result<(), String> {
        let renames = &self.rules.renames;
        for (current, legacy) in renames.pairs() {
            if !has_path(event, legacy) {
                continue;
            }
            if renames.seeded_legacy_names == SeededLegacyNames::Refuse {
                return Err(format!(
                    "'{legacy}' is a v1/v2 name; store events under the v3 name '{current}'"
                ));
            }
            if has_path(event, current) {
                return Err(format!(
                    "both '{legacy}' (v1/v2) and '{current}' (v3) are given for one field"
                ));
            }
            if let Some(value) = render::remove_path(event, legacy) {
                render::insert_path(event, current, value);
            }
        }
        Ok(())
    }

    fn error_reply(&self, err: MwsError) -> Reply {
        errors::render(&self.spec, None, &err, &[])
    }

    /// The version the request asks for (required; `latest` is an alias).
    fn version(&self, req: &Request, pairs: &[(String, String)]) -> MwsResult<String> {
        let Some(versioning) = &self.spec.spec.versioning else {
            return Ok(String::new());
        };
        match versioning.requested(pairs, req.headers(), &[]) {
            None if versioning.required => Err(MwsError::new("missing_api_version")),
            None => Ok(versioning.current.clone()),
            Some(raw) => versioning
                .resolve(&raw)
                .map(str::to_owned)
                .ok_or_else(|| MwsError::new("unsupported_api_version").with("version", raw)),
        }
    }

    fn is_legacy(&self, version: &str) -> bool {
        self.rules
            .renames
            .legacy_versions
            .iter()
            .any(|v| v == version)
    }

    fn dispatch(
        &self,
        req: &Request,
        ctx: &Ctx<'_>,
        op: &Operation,
        params: &[(&str, &str)],
    ) -> MwsResult<Reply> {
        let pairs = query_pairs(req.uri().query())
            .map_err(|name| invalid_param(&name, "the value is not valid UTF-8"))?;
        let version = self.version(req, &pairs)?;
        let pretty = param(&pairs, &self.rules.projection.pretty_param) == Some("true");
        match op.id.as_str() {
            "listEvents" => {
                let body = self.list(&pairs, &version)?;
                Ok(Reply::value(StatusCode::OK, body).pretty(pretty))
            }
            "getEvent" => {
                let id = path_param(params, "id");
                // Only the pointer is copied under the lock; rendering happens after.
                let stored = self
                    .store
                    .read()
                    .get(id)
                    .cloned()
                    .ok_or_else(|| MwsError::new("not_found").with("id", id))?;
                let view = if self.is_legacy(&version) {
                    View::Legacy
                } else {
                    View::Current
                };
                let event = self.project(render(&stored.to_value(), view, &self.rules), &pairs);
                Ok(Reply::value(StatusCode::OK, event).pretty(pretty))
            }
            "createEvent" => self.create(req, ctx, op, &version, pretty),
            // An operation the spec declares but this module does not implement.
            other => Err(MwsError::new("internal")
                .with("detail", format!("operation {other} is not implemented"))),
        }
    }

    fn list(&self, pairs: &[(String, String)], version: &str) -> MwsResult<Value> {
        let q = &self.rules.query;
        let legacy = self.is_legacy(version);
        let filter = match param(pairs, &q.query_param) {
            Some(text) => {
                let mut query = self.parse_param_json(&q.query_param, text)?;
                if !query.is_object() {
                    return Err(invalid_param(
                        &q.query_param,
                        "the query must be a JSON object",
                    ));
                }
                if legacy {
                    self.rename_query_keys(&mut query);
                }
                let normalise = |field: &str, operand: &Value| {
                    self.normalise_operand(field, operand)
                        .unwrap_or_else(|| operand.clone())
                };
                Some(
                    Filter::parse_limited(&query, Some(&normalise), &self.limits)
                        .map_err(|e| self.query_error(&q.query_param, e))?,
                )
            }
            None => None,
        };
        let sort = match param(pairs, &q.sort_param) {
            Some(text) => {
                let mut sort = self.parse_param_json(&q.sort_param, text)?;
                if legacy {
                    self.rename_query_keys(&mut sort);
                }
                Some(
                    SortSpec::parse_limited(&sort, &self.limits)
                        .map_err(|e| self.query_error(&q.sort_param, e))?,
                )
            }
            None => None,
        };
        let max = self.count_param(pairs, &q.max_param)?;
        if max.is_some_and(|m| m > self.page_items) {
            return Err(self.limit_error(&q.max_param, PAGE_ITEMS, self.page_items));
        }
        let offset = self.count_param(pairs, &q.offset_param)?.unwrap_or(0);

        // Copy the pointers and release the lock: matching, sorting and rendering happen
        // without it, so creates are never held up by a list.
        let (snapshot, stored) = {
            let store = self.store.read();
            (store.items().to_vec(), store.len())
        };
        let events: Vec<DocRef<'_>> = snapshot.iter().map(CompactDoc::view).collect();
        let mut matched = match &filter {
            Some(f) => f.select(&events),
            None => events,
        };
        let total = match self.total_count {
            TotalCount::Matching => matched.len(),
            TotalCount::All => stored,
        };
        // MongoDB's limit(0) means no limit; a page is still capped.
        let take = max.filter(|&m| m > 0).unwrap_or(self.page_items);
        match &sort {
            // Only the documents up to the end of the page need sorting.
            Some(sort) => sort.sort_top_docs(&mut matched, offset.saturating_add(take)),
            None if self.list_order == ListOrder::NewestFirst => matched.reverse(),
            None => {}
        }
        let view = if legacy { View::Legacy } else { View::Current };
        let results: Vec<Value> = matched
            .into_iter()
            .skip(offset)
            .take(take)
            .map(|e| self.project(render(&e.to_value(), view, &self.rules), pairs))
            .collect();
        let l = &self.rules.list;
        let mut envelope = Map::new();
        envelope.insert(l.total_field.clone(), json!(total));
        envelope.insert(l.count_field.clone(), json!(results.len()));
        envelope.insert(l.items_field.clone(), Value::Array(results));
        Ok(Value::Object(envelope))
    }

    /// A refused query or sort: a cap names its limit, anything else is an invalid parameter.
    fn query_error(&self, param_name: &str, err: QueryError) -> MwsError {
        match err {
            QueryError::LimitExceeded { kind, limit } => {
                self.limit_error(param_name, kind.key(), limit)
            }
            other => invalid_param(param_name, other.to_string()),
        }
    }

    fn limit_error(&self, param_name: &str, name: &str, limit: usize) -> MwsError {
        let what = self
            .rules
            .query
            .limits
            .get(name)
            .map(|cap| cap.what.clone())
            .unwrap_or_else(|| name.to_owned());
        MwsError::new("query_limit")
            .with("param", param_name)
            .with("limit_name", name)
            .with("limit", limit.to_string())
            .with("what", what)
    }

    /// `query` and `sort` are Mongo-shell relaxed JSON (unquoted keys), bounded in depth.
    fn parse_param_json(&self, name: &str, text: &str) -> MwsResult<Value> {
        parse_relaxed_json(text, self.rules.query.max_depth).map_err(|e| invalid_param(name, e))
    }

    fn count_param(&self, pairs: &[(String, String)], name: &str) -> MwsResult<Option<usize>> {
        match param(pairs, name) {
            None => Ok(None),
            Some(raw) => {
                raw.trim().parse::<usize>().map(Some).map_err(|_| {
                    invalid_param(name, format!("'{raw}' is not a non-negative integer"))
                })
            }
        }
    }

    /// Date operands in any zone compare against stored UTC dates as the same instant.
    fn normalise_operand(&self, field: &str, operand: &Value) -> Option<Value> {
        if !self.rules.date_format.fields.iter().any(|f| f == field) {
            return None;
        }
        let at = parse_mws_date(operand.as_str()?)?;
        Some(Value::String(format_mws_date(at, &self.storage_zone)))
    }

    /// Old field names in a v1/v2 query or sort address the v3 names they were renamed to.
    fn rename_query_keys(&self, value: &mut Value) {
        let Value::Object(map) = value else {
            return;
        };
        let renamed: Map<String, Value> = std::mem::take(map)
            .into_iter()
            .map(|(key, mut sub)| {
                if matches!(key.as_str(), "$and" | "$or" | "$nor") {
                    if let Value::Array(clauses) = &mut sub {
                        clauses.iter_mut().for_each(|c| self.rename_query_keys(c));
                    }
                    return (key, sub);
                }
                let new_key = self
                    .rules
                    .renames
                    .pairs()
                    .find_map(|(current, legacy)| {
                        if key == legacy {
                            Some(current.to_owned())
                        } else {
                            key.strip_prefix(legacy)
                                .filter(|rest| rest.starts_with('.'))
                                .map(|rest| format!("{current}{rest}"))
                        }
                    })
                    .unwrap_or(key);
                (new_key, sub)
            })
            .collect();
        *map = renamed;
    }

    fn project(&self, event: Value, pairs: &[(String, String)]) -> Value {
        let p = &self.rules.projection;
        let mut event = event;
        if let Some(list) = param(pairs, &p.fields_param) {
            let tree = FieldTree::parse(list);
            if !tree.is_empty() {
                event = project_include(&event, &tree);
            }
        }
        if let Some(list) = param(pairs, &p.exclude_param) {
            event = project_exclude(&event, &FieldTree::parse(list));
        }
        event
    }

    fn create(
        &self,
        req: &Request,
        ctx: &Ctx<'_>,
        op: &Operation,
        version: &str,
        pretty: bool,
    ) -> MwsResult<Reply> {
        if exceeds_body_limit(req, self.body_limit) {
            return Err(
                MwsError::new("payload_too_large").with("limit", self.body_limit.to_string())
            );
        }
        let mut body = self
            .spec
            .decode_request(op, req.headers(), req.body())
            .map_err(|e| match e {
                BodyError::UnsupportedMediaType(media) => {
                    MwsError::new("unsupported_media_type").with("content_type", media)
                }
                BodyError::Malformed(detail) => {
                    MwsError::new("malformed_body").with("detail", detail)
                }
            })?;
        if self.is_legacy(version) {
            if let Value::Object(map) = &mut body {
                for (current, legacy) in self.rules.renames.pairs() {
                    if let Some(v) = render::remove_path(map, legacy) {
                        map.insert(current.to_owned(), v);
                    }
                }
            }
        }
        let schema = op.request.as_ref().map_or("", |r| r.schema.as_str());
        let violations = self
            .spec
            .schemas
            .violations(schema, &body)
            .map_err(|e| MwsError::new("internal").with("detail", e.to_string()))?;
        if !violations.is_empty() {
            return Err(MwsError::new("validation")
                .with_messages(violations.into_iter().map(|v| v.message).collect()));
        }
        let mut stored = if schema == self.create_plan.schema {
            self.to_stored(&self.create_plan, body)
        } else {
            let plan = CreatePlan::new(&self.spec, &self.rules, schema)
                .map_err(|e| MwsError::new("internal").with("detail", e.to_string()))?;
            self.to_stored(&plan, body)
        };
        let (id, stored, doc) = {
            // The id is drawn under the write lock, so no other create or seed can take it.
            let mut store = self.store.write();
            let id = fresh_id(ctx, |id| store.contains_key(id)).ok_or_else(|| {
                MwsError::new("internal").with("detail", "no fresh id could be generated")
            })?;
            stored.insert("id".into(), Value::String(id.clone()));
            let stored = Value::Object(stored);
            let doc = CompactDoc::encode(&stored);
            store.insert(id.clone(), doc.clone()).map_err(|refused| {
                MwsError::new("internal").with("detail", format!("the mock refused: {refused}"))
            })?;
            (id, stored, doc)
        };
        self.log.append(&stored, &doc);
        let mut location = String::with_capacity(128);
        location.push_str(ctx.public_origin());
        location.push_str(ctx.base_path);
        for (i, part) in self.item_path.iter().enumerate() {
            if i > 0 {
                location.push_str(&id);
            }
            location.push_str(part);
        }
        Ok(
            Reply::value(StatusCode::CREATED, render::created(stored, &self.rules))
                .pretty(pretty)
                .header(header::LOCATION, &location),
        )
    }

    /// The stored form of a validated create body: known fields only (moved out of the body,
    /// in the schema's order), dates in the storage zone, and the storage artefacts (version,
    /// associated objects' _id/version); the id is added when it is stored.
    fn to_stored(&self, plan: &CreatePlan, body: Value) -> Map<String, Value> {
        // The body's members as a list: a posted event has a dozen, found by a short scan
        // instead of a hashed removal per planned field; their keys move into the stored map.
        let mut given: Vec<(String, Value)> = match body {
            Value::Object(map) => map.into_iter().collect(),
            _ => Vec::new(),
        };
        let mut stored = Map::with_capacity(plan.fields.len() + plan.event_artefacts.len() + 1);
        for field in &plan.fields {
            let Some(at) = given.iter().position(|(name, _)| *name == field.name) else {
                continue;
            };
            let (name, value) = given.swap_remove(at);
            let value = match value {
                Value::String(text) if field.date => match parse_mws_date(&text) {
                    Some(at) => Value::String(format_mws_date(at, &self.storage_zone)),
                    None => Value::String(text),
                },
                Value::Array(items) => match &field.artefacts {
                    Some(artefacts) => Value::Array(
                        items
                            .into_iter()
                            .map(|item| with_artefacts(item, artefacts))
                            .collect(),
                    ),
                    None => Value::Array(items),
                },
                other => other,
            };
            stored.insert(name, value);
        }
        for (key, value) in &plan.event_artefacts {
            stored.insert(key.clone(), value.clone());
        }
        stored
    }
}

/// Add artefact fields to a sub-object; `"{id}"` copies the object's own id.
fn with_artefacts(item: Value, artefacts: &[(String, Artefact)]) -> Value {
    let Value::Object(mut item) = item else {
        return item;
    };
    // The object's id as it came, before any artefact is set.
    let own_id = artefacts
        .iter()
        .any(|(_, a)| matches!(a, Artefact::OwnId))
        .then(|| item.get("id").cloned().unwrap_or(Value::Null));
    for (key, artefact) in artefacts {
        let value = match artefact {
            Artefact::OwnId => own_id.clone().unwrap_or(Value::Null),
            Artefact::Fixed(v) => v.clone(),
        };
        item.insert(key.clone(), value);
    }
    Value::Object(item)
}

impl Api for MwsApi {
    fn spec(&self) -> &LoadedSpec {
        &self.spec
    }

    /// Reads over a large store are answered off the I/O threads.
    fn heavy(&self, req: &Request, path: &str) -> bool {
        self.store.len() > api::HEAVY_SCAN_ITEMS
            && matches!(
                self.spec.route(req.method().as_str(), path),
                Routed::Operation(op, _) if matches!(op.id.as_str(), "listEvents")
            )
    }

    fn body_limit(&self) -> usize {
        self.body_limit
    }

    fn reset(&self) {
        self.store.clear();
        self.log.clear();
    }

    fn accounts(&self) -> Vec<Account> {
        self.users
            .iter()
            .map(|u| {
                let credential = Credential::Password {
                    user: u.name.clone(),
                    password: u.password.clone(),
                };
                Account::new(
                    credential,
                    self.permission.is_empty() || u.may(&self.permission),
                )
            })
            .collect()
    }

    /// An injected fault; a 401 asks for credentials like every other 401.
    fn error(&self, kind: &str, _req: &Request, _ctx: &Ctx<'_>) -> Reply {
        let reply = self.error_reply(MwsError::new(kind).with("detail", "injected fault"));
        if reply.status == StatusCode::UNAUTHORIZED {
            reply.header(header::WWW_AUTHENTICATE, &self.challenge)
        } else {
            reply
        }
    }

    fn handle(&self, req: &Request, ctx: &Ctx<'_>) -> Reply {
        // Every account's password is compared, in constant time, whatever the name.
        let user = basic_credentials(req.headers()).and_then(|(name, password)| {
            self.users.iter().fold(None, |found, u| {
                let matches = secrets_equal(&password, &u.password) & (u.name == name);
                found.or(matches.then_some(u))
            })
        });
        let Some(user) = user else {
            return self
                .error_reply(MwsError::new("unauthenticated"))
                .header(header::WWW_AUTHENTICATE, &self.challenge);
        };
        let (op, params) = match self.spec.route(req.method().as_str(), ctx.path) {
            Routed::Operation(op, params) => (op, params),
            Routed::NoSuchPath => {
                return self.error_reply(MwsError::new("unknown_path").with("path", ctx.path))
            }
            Routed::MethodNotAllowed(allowed) => {
                return self
                    .error_reply(MwsError::new("method_not_allowed"))
                    .header(header::ALLOW, &allowed.join(", "));
            }
        };
        if !self.permission.is_empty() && !user.may(&self.permission) {
            return self.error_reply(MwsError::new("forbidden"));
        }
        self.dispatch(req, ctx, op, &params)
            .unwrap_or_else(|err| self.error_reply(err))
    }

    fn admin(&self, req: &Request, path: &str, ctx: &Ctx<'_>) -> Option<Response> {
        match (req.method(), path) {
            (&Method::GET, "events") => {
                let snapshot = self.store.read().items().to_vec();
                let events: Vec<Value> = snapshot.iter().map(CompactDoc::to_value).collect();
                Some(json_response(StatusCode::OK, &Value::Array(events), false))
            }
            (&Method::POST, "events") => Some(match serde_json::from_slice::<Value>(req.body()) {
                Ok(Value::Array(events)) => match self.seed(events, ctx) {
                    Ok(ids) => json_response(
                        StatusCode::CREATED,
                        &json!({"seeded": ids.len(), "ids": ids}),
                        false,
                    ),
                    Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({"error": e}), false),
                },
                Ok(_) => json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "expected a JSON array of events"}),
                    false,
                ),
                Err(e) => json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": e.to_string()}),
                    false,
                ),
            }),
            (&Method::DELETE, "events") => {
                self.reset();
                Some(json_response(
                    StatusCode::OK,
                    &json!({"reset": true}),
                    false,
                ))
            }
            (&Method::GET, "events-log") => {
                Some(text_response(StatusCode::OK, self.events_log_text()))
            }
            _ => None,
        }
    }
}

/// A new ObjectId that `taken` does not hold; `None` after [`ID_ATTEMPTS`] tries.
fn fresh_id(ctx: &Ctx<'_>, taken: impl Fn(&str) -> bool) -> Option<String> {
    (0..ID_ATTEMPTS)
        .map(|_| ctx.ids.object_id(ctx.clock.now()))
        .find(|id| !taken(id))
}

/// Does a dotted path exist in an object?
fn has_path(map: &Map<String, Value>, path: &str) -> bool {
    match path.split_once('.') {
        None => map.contains_key(path),
        Some((head, rest)) => map
            .get(head)
            .and_then(Value::as_object)
            .is_some_and(|child| has_path(child, rest)),
    }
}

/// The query caps: the spec's, with the configuration's overrides. Every name must be known.
fn query_limits(rules: &Rules, cfg: &MwsConfig) -> Result<(QueryLimits, usize), String> {
    let mut caps: std::collections::BTreeMap<String, usize> = rules
        .query
        .limits
        .iter()
        .map(|(name, cap)| (name.clone(), cap.max))
        .collect();
    for (name, value) in &cfg.query_limits {
        if !caps.contains_key(name) {
            return Err(format!("unknown query limit '{name}' in the configuration"));
        }
        caps.insert(name.clone(), *value);
    }
    let mut limits = QueryLimits::default();
    let mut page_items = usize::MAX;
    for (name, value) in caps {
        match (name.as_str(), LimitKind::from_key(&name)) {
            (_, Some(kind)) => limits.set(kind, value),
            (PAGE_ITEMS, None) => page_items = value,
            (REGEX_COMPILED_BYTES, None) => limits.regex_compiled_bytes = value,
            _ => return Err(format!("unknown query limit '{name}'")),
        }
    }
    Ok((limits, page_items))
}
