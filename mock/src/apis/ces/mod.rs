//! Huawei Cloud Eye, reporting events (seed 003): `POST /V1.0/{project_id}/events`.
//!
//! Order of checks, as the API gateway and then CES apply them: body size (413 APIGW.0201),
//! authentication (401: no credentials ces.0015; a token outside its length limit, a bad token
//! or signature APIGW.0301), resource (404) and method (405 with `Allow`), project id
//! (400 ces.0003), permission (403), header limits (400 ces.0011), empty body (400 ces.0001),
//! then every body rule at once (400 ces.0014). Every answer carries an X-Request-Id.

pub mod config;
mod replay;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use http::{
    header::{HeaderName, ALLOW},
    StatusCode,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{self, Account, Api, Credential, Ctx, Registration};
use crate::auth::aksk::{self, Profile, VerifyError};
use crate::auth::secrets_equal;
use crate::compact::CompactDoc;
use crate::config::MockConfig;
use crate::errors::{self, ApiError};
use crate::mongo::DocView;
use crate::spec::{self, BodyError, LoadedSpec, Operation, Routed, SpecError};
use crate::store::{entry_weight, Budget, Store};
use crate::wire::{exceeds_body_limit, json_response, path_param, Reply, Request, Response};

use config::{AccessKey, CesConfig, CesFlags, DuplicateId, SubEventMode, Token};

pub const API_ID: &str = "cloud-eye-events";

/// The registry's entry for Cloud Eye.
pub const REGISTRATION: Registration = Registration {
    id: API_ID,
    build: |spec, config, budget| Ok(Arc::new(CesApi::new(spec, config, budget)?)),
    formats: &[],
    flags: api::flags::<CesFlags>(),
};

#[derive(Debug, Clone, Deserialize)]
struct ProjectRule {
    param: String,
    pattern: String,
}

#[derive(Debug, Clone, Deserialize)]
struct TimeWindow {
    field: String,
    before_ms: i64,
    after_ms: i64,
    margin_ms: i64,
    message: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Dedup {
    fields: Vec<String>,
    duplicate_id: DuplicateId,
}

#[derive(Debug, Clone, Deserialize)]
struct EventIdRule {
    prefix: String,
    timestamp_digits: usize,
    random_length: usize,
    alphabet: String,
}

#[derive(Debug, Clone, Deserialize)]
struct SubEventRule {
    field: String,
    mode: SubEventMode,
    message: String,
}

#[derive(Debug, Clone, Deserialize)]
struct RequestIdRule {
    header: String,
    alphabet: String,
    length: usize,
}

#[derive(Debug, Clone, Deserialize)]
struct SignatureRule {
    max_skew_minutes: i64,
    messages: GatewayMessages,
}

/// Refusing a signature received before (a mock option; rule `replay`).
#[derive(Debug, Clone, Deserialize)]
struct ReplayRule {
    refuse: bool,
    message: String,
}

/// The gateway's texts for each authentication failure.
#[derive(Debug, Clone, Deserialize)]
struct GatewayMessages {
    bad_token: String,
    unknown_access_key: String,
    skew: String,
    bad_signature: String,
}

/// Seed 003's length limits of request headers, in characters.
#[derive(Debug, Clone, Deserialize)]
struct HeaderLimits {
    headers: BTreeMap<String, LengthLimit>,
    /// `{header}`, `{min}`, `{max}` are filled in.
    message: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct LengthLimit {
    min_length: usize,
    max_length: usize,
}

/// Who is calling: an AK/SK pair or a token.
enum Principal<'a> {
    Key(&'a AccessKey),
    Token(Token),
}

impl Principal<'_> {
    fn owns_project(&self, project: &str) -> bool {
        match self {
            Principal::Key(k) => k.project_ids.iter().any(|p| p == project),
            Principal::Token(t) => t.project_id == project,
        }
    }

    fn may(&self, action: &str) -> bool {
        match self {
            Principal::Key(k) => k.may(action),
            Principal::Token(t) => t.may(action),
        }
    }
}

pub struct CesApi {
    spec: Arc<LoadedSpec>,
    project: ProjectRule,
    project_pattern: regex::Regex,
    window: TimeWindow,
    dedup: Dedup,
    event_id: EventIdRule,
    sub_event: SubEventRule,
    request_id_header: HeaderName,
    request_id: RequestIdRule,
    /// The names of the spec's `ak-sk` signature.
    signing: Profile,
    max_skew: chrono::Duration,
    gateway_messages: GatewayMessages,
    body_limit: usize,
    envelope: Option<String>,
    permission: String,
    token_header: String,
    access_keys: Vec<AccessKey>,
    /// The configured tokens, then any the control plane added (`POST /__admin/<id>/tokens`).
    tokens: RwLock<Vec<Token>>,
    configured_tokens: Vec<Token>,
    header_limits: HeaderLimits,
    /// Signatures received, when replays are refused.
    replays: Option<replay::Seen>,
    replay_message: String,
    /// Reported events (with `event_id`, `project_id`, `received_ms`), each once, by dedup key,
    /// each a [`CompactDoc`] (one allocation; the same JSON back, key order included).
    store: Store<CompactDoc>,
    added_tokens: AddedTokensRule,
}

fn config_error(message: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        file: format!("{API_ID}/spec.json or the mock configuration"),
        message: message.into(),
    }
}

impl CesApi {
    pub fn new(
        spec: Arc<LoadedSpec>,
        config: &MockConfig,
        budget: &Arc<Budget>,
    ) -> Result<Self, SpecError> {
        let cfg: CesConfig = config.api().map_err(config_error)?;
        let project: ProjectRule = spec.rule("project_id")?;
        let project_pattern =
            regex::Regex::new(&project.pattern).map_err(|e| config_error(e.to_string()))?;
        let mut window: TimeWindow = spec.rule("time_window")?;
        if let Some(margin) = cfg.time_margin_ms {
            window.margin_ms = margin;
        }
        let mut dedup: Dedup = spec.rule("dedup")?;
        if let Some(choice) = cfg.duplicate_id {
            dedup.duplicate_id = choice;
        }
        let mut sub_event: SubEventRule = spec.rule("sub_event_type")?;
        if let Some(mode) = cfg.sub_event_type {
            sub_event.mode = mode;
        }
        let request_id: RequestIdRule = spec.rule("request_id")?;
        let signature: SignatureRule = spec.rule("signature")?;
        let signing = spec
            .auth_scheme("ak-sk")
            .and_then(Profile::of)
            .ok_or_else(|| config_error("the spec has no ak-sk auth scheme"))?;
        if let Some(envelope) = &cfg.error_envelope {
            if !spec.spec.errors.envelopes.contains_key(envelope) {
                return Err(config_error(format!("unknown error envelope '{envelope}'")));
            }
        }
        let token_header = spec.token_header().unwrap_or("X-Auth-Token").to_owned();
        let header_limits: HeaderLimits = spec.rule("header_limits")?;
        let replay_rule: ReplayRule = spec.rule("replay")?;
        let replays = cfg
            .refuse_replays
            .unwrap_or(replay_rule.refuse)
            .then(|| replay::Seen::new(cfg.max_remembered_signatures));
        // The token scheme's max_length and the header limit are one fact: they must agree.
        if let Some(crate::spec::AuthScheme::Token {
            max_length: Some(max),
            ..
        }) = spec.auth_scheme("token")
        {
            let limit = header_limits
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&token_header))
                .map(|(_, limit)| limit.max_length);
            if limit != Some(*max) {
                return Err(config_error(format!(
                    "the token scheme's max_length {max} differs from header_limits ({limit:?})"
                )));
            }
        }
        Ok(Self {
            project_pattern,
            project,
            window,
            dedup,
            event_id: spec.rule("event_id")?,
            sub_event,
            request_id_header: HeaderName::try_from(request_id.header.as_str())
                .map_err(|e| config_error(e.to_string()))?,
            request_id,
            signing,
            max_skew: chrono::Duration::minutes(signature.max_skew_minutes),
            gateway_messages: signature.messages,
            body_limit: cfg.max_body_bytes.unwrap_or(spec.spec.body_limit.max_bytes),
            envelope: cfg.error_envelope.clone(),
            permission: spec.permission().unwrap_or_default().to_owned(),
            token_header,
            access_keys: cfg.access_keys.clone(),
            tokens: RwLock::new(cfg.tokens.clone()),
            configured_tokens: cfg.tokens.clone(),
            header_limits,
            replays,
            replay_message: replay_rule.message,
            store: Store::new(cfg.max_events, budget.clone()),
            added_tokens: spec.rule("added_tokens")?,
            spec,
        })
    }

    /// Everything stored, oldest first: each event as reported plus `event_id`, `project_id`
    /// and `received_ms`.
    pub fn stored(&self) -> Vec<Value> {
        let snapshot: Vec<CompactDoc> = self.store.read().items().to_vec();
        snapshot.iter().map(CompactDoc::to_value).collect()
    }

    fn error_reply(&self, err: &ApiError, request_id: &str) -> Reply {
        errors::render(
            &self.spec,
            self.envelope.as_deref(),
            err,
            &[("request_id", request_id.to_owned())],
        )
    }

    fn with_request_id(&self, mut reply: Reply, request_id: &str) -> Reply {
        reply.set_header(self.request_id_header.clone(), request_id);
        reply
    }

    fn new_request_id(&self, ctx: &Ctx<'_>) -> String {
        ctx.ids
            .random_chars(self.request_id.alphabet.as_bytes(), self.request_id.length)
    }

    /// The caller, from an X-Auth-Token or an AK/SK signature (the gateway's job).
    fn authenticate(&self, req: &Request, ctx: &Ctx<'_>) -> Result<Principal<'_>, ApiError> {
        let gateway = |detail: &str| ApiError::new("gateway_auth").with("detail", detail);
        if let Some(value) = req.headers().get(self.token_header.as_str()) {
            if let Some(broken) = self.header_limit_violation(&self.token_header, value.as_bytes())
            {
                return Err(gateway(&broken));
            }
            return value
                .to_str()
                .ok()
                .and_then(|t| self.known_token(t))
                .map(Principal::Token)
                .ok_or_else(|| gateway(&self.gateway_messages.bad_token));
        }
        if !req.headers().contains_key(http::header::AUTHORIZATION) {
            return Err(ApiError::new("unauthenticated"));
        }
        let secret_for = |ak: &str| {
            self.access_keys
                .iter()
                .find(|k| k.ak == ak)
                .map(|k| k.sk.clone())
        };
        let verified = aksk::verify(
            &self.signing,
            req.method().as_str(),
            req.uri().path(),
            req.uri().query(),
            req.headers(),
            req.body(),
            &secret_for,
            ctx.signature_now(),
            self.max_skew,
        );
        let texts = &self.gateway_messages;
        match verified {
            Ok(ak) => {
                let key = self
                    .access_keys
                    .iter()
                    .find(|k| k.ak == ak)
                    .ok_or_else(|| gateway(&texts.bad_signature))?;
                if let Some(seen) = &self.replays {
                    // A signature dated d is accepted while |now - d| <= the skew limit, so it
                    // cannot come back later than 2 x the limit after it was first received.
                    let now = ctx.signature_now();
                    let signature = signature_of(req).unwrap_or_default();
                    if !seen.first_receipt(&format!("{ak}:{signature}"), now, self.max_skew * 2) {
                        return Err(gateway(&self.replay_message));
                    }
                }
                Ok(Principal::Key(key))
            }
            Err(VerifyError::UnknownAccessKey(ak)) => Err(gateway(&spec::render_template(
                &texts.unknown_access_key,
                &[("ak", &ak)],
            ))),
            Err(VerifyError::Skew { .. }) => Err(gateway(&texts.skew)),
            Err(_) => Err(gateway(&texts.bad_signature)),
        }
    }

    /// Does `path` match an operation's template once its empty segments stand for parameters?
    fn blank_parameter(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').collect();
        self.spec.spec.operations.iter().any(|op| {
            let template: Vec<&str> = op.path.split('/').collect();
            let is_param = |t: &str| t.len() > 2 && t.starts_with('{') && t.ends_with('}');
            template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || is_param(t))
                && template
                    .iter()
                    .zip(&segments)
                    .any(|(t, s)| is_param(t) && s.is_empty())
        })
    }

    /// The token that equals `presented`. Every known token is compared, each in constant time,
    /// so the answer's timing does not tell which (or how much of one) matched.
    fn known_token(&self, presented: &str) -> Option<Token> {
        let tokens = self.tokens.read().unwrap_or_else(|e| e.into_inner());
        let mut found = None;
        for known in tokens.iter() {
            if secrets_equal(presented, &known.token) && found.is_none() {
                found = Some(known.clone());
            }
        }
        found
    }

    /// The message of the limit `value` breaks, if `header` has a length limit (in characters;
    /// a value that is not UTF-8 counts its bytes).
    fn header_limit_violation(&self, header: &str, value: &[u8]) -> Option<String> {
        let (name, limit) = self
            .header_limits
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(header))?;
        let length = std::str::from_utf8(value)
            .map(|s| s.chars().count())
            .unwrap_or(value.len());
        if (limit.min_length..=limit.max_length).contains(&length) {
            return None;
        }
        Some(spec::render_template(
            &self.header_limits.message,
            &[
                ("header", name),
                ("min", &limit.min_length.to_string()),
                ("max", &limit.max_length.to_string()),
                ("length", &length.to_string()),
            ],
        ))
    }

    /// Every limited header of the request other than the token (checked at authentication).
    fn check_header_limits(&self, req: &Request) -> Result<(), ApiError> {
        let broken: Vec<String> = self
            .header_limits
            .headers
            .keys()
            .filter(|name| !name.eq_ignore_ascii_case(&self.token_header))
            .flat_map(|name| {
                req.headers()
                    .get_all(name.as_str())
                    .iter()
                    .filter_map(|value| self.header_limit_violation(name, value.as_bytes()))
                    .collect::<Vec<_>>()
            })
            .collect();
        if broken.is_empty() {
            Ok(())
        } else {
            Err(ApiError::new("bad_header").with("detail", broken.join("; ")))
        }
    }

    fn create(
        &self,
        req: &Request,
        ctx: &Ctx<'_>,
        project: &str,
        op: &Operation,
    ) -> Result<Reply, ApiError> {
        if req.body().iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::new("empty_body"));
        }
        let invalid = |violations: Vec<String>| {
            ApiError::new("body_invalid").with("violations", format!(" {}", violations.join("; ")))
        };
        let schema = op
            .request
            .as_ref()
            .map(|r| r.schema.as_str())
            .unwrap_or_default();
        // The gateway reads every body as JSON, whatever its Content-Type (the spec says so).
        let mut body: Value = self
            .spec
            .decode_request(op, req.headers(), req.body())
            .map_err(|e| match e {
                BodyError::Malformed(e) => {
                    invalid(vec![format!("the body is not valid JSON: {e}")])
                }
                BodyError::UnsupportedMediaType(media) => {
                    invalid(vec![format!("the media type {media} is not supported")])
                }
            })?;
        let mut violations: Vec<String> = self
            .spec
            .schemas
            .violations(schema, &body)
            .map_err(|e| ApiError::new("internal").with("detail", e.to_string()))?
            .into_iter()
            .map(|v| v.message)
            .collect();
        let now_ms = ctx.clock.now().timestamp_millis();
        if let Value::Array(items) = &mut body {
            for (i, item) in items.iter_mut().enumerate() {
                violations.extend(
                    self.check_time(item, now_ms)
                        .map(|m| format!("{m} (at [{i}].{})", self.window.field)),
                );
                let detail = item.get_mut("detail").and_then(Value::as_object_mut);
                if let Some(detail) = detail {
                    if detail.contains_key(&self.sub_event.field) {
                        match self.sub_event.mode {
                            SubEventMode::Accept => {}
                            SubEventMode::Ignore => {
                                detail.remove(&self.sub_event.field);
                            }
                            SubEventMode::Reject => violations.push(format!(
                                "{} (at [{i}].detail.{})",
                                self.sub_event.message, self.sub_event.field
                            )),
                        }
                    }
                }
            }
        }
        if !violations.is_empty() {
            return Err(invalid(violations));
        }
        let Value::Array(items) = body else {
            return Err(invalid(vec![
                "The body must be a JSON array of events".into()
            ]));
        };
        let answers = self.store_events(items, project, now_ms, ctx)?;
        Ok(Reply::value(StatusCode::CREATED, Value::Array(answers)))
    }

    /// A window violation of one item, if its time is an integer outside
    /// [now - before + margin, now + after - margin].
    fn check_time(&self, item: &Value, now_ms: i64) -> Option<String> {
        let time = item.get(&self.window.field)?.as_i64()?;
        let lower = now_ms - self.window.before_ms + self.window.margin_ms;
        let upper = now_ms + self.window.after_ms - self.window.margin_ms;
        if (lower..=upper).contains(&time) {
            return None;
        }
        Some(spec::render_template(
            &self.window.message,
            &[
                ("time", &time.to_string()),
                ("lower", &lower.to_string()),
                ("upper", &upper.to_string()),
                ("now", &now_ms.to_string()),
            ],
        ))
    }

    /// Store every new event; a duplicate (same dedup key) is answered but not stored again.
    fn store_events(
        &self,
        items: Vec<Value>,
        project: &str,
        now_ms: i64,
        ctx: &Ctx<'_>,
    ) -> Result<Vec<Value>, ApiError> {
        let keyed: Vec<(String, Value)> = items
            .into_iter()
            .map(|i| (self.dedup_key(&i, project), i))
            .collect();
        let extra = self.added_member_bytes(project);
        let mut store = self.store.write();
        let mut new_keys = std::collections::HashSet::new();
        let mut new_bytes = 0usize;
        for (key, item) in &keyed {
            if !store.contains_key(key) && new_keys.insert(key.as_str()) {
                // What the item will weigh once stored (with its id, project and time).
                let stored = CompactDoc::weight_of(item).saturating_add(extra);
                new_bytes = new_bytes.saturating_add(entry_weight(key.len(), stored));
            }
        }
        // All or nothing: a batch that does not fit is refused before anything is stored.
        if !store.has_room(new_keys.len(), new_bytes) {
            return Err(ApiError::new("internal").with(
                "detail",
                format!("the mock stores at most {} events", store.capacity()),
            ));
        }
        let mut answers = Vec::with_capacity(keyed.len());
        for (key, mut item) in keyed {
            let event_name = item.get("event_name").cloned().unwrap_or(Value::Null);
            let original = store
                .get(&key)
                .and_then(|stored| stored.view().field("event_id"))
                .and_then(DocView::as_str)
                .map(str::to_owned);
            let event_id = match original {
                Some(original) => match self.dedup.duplicate_id {
                    DuplicateId::Original => original,
                    DuplicateId::New => self.new_event_id(now_ms, ctx),
                },
                None => {
                    let fresh_id = self.new_event_id(now_ms, ctx);
                    if let Some(map) = item.as_object_mut() {
                        map.insert("event_id".into(), Value::String(fresh_id.clone()));
                        map.insert("project_id".into(), Value::String(project.to_owned()));
                        map.insert("received_ms".into(), Value::from(now_ms));
                    }
                    store
                        .insert(key, CompactDoc::encode(&item))
                        .map_err(|refused| {
                            ApiError::new("internal").with("detail", refused.to_string())
                        })?;
                    fresh_id
                }
            };
            answers.push(json!({"event_id": event_id, "event_name": event_name}));
        }
        Ok(answers)
    }

    /// An upper bound on what `event_id`, `project_id` and `received_ms` add to a stored event:
    /// their names, tags and lengths (under 64 bytes), the id, the project and the time.
    fn added_member_bytes(&self, project: &str) -> usize {
        let r = &self.event_id;
        64 + r.prefix.len() + r.timestamp_digits.max(20) + r.random_length + project.len()
    }

    /// The dedup fields' values (dotted paths into the item; `project_id` from the path), as
    /// the JSON text of an array with every number in its canonical form ([`Canonical`]).
    /// Written straight from the item: nothing is cloned.
    fn dedup_key(&self, item: &Value, project: &str) -> String {
        use serde::ser::SerializeSeq as _;
        let mut out = Vec::with_capacity(128);
        let mut writer = serde_json::Serializer::new(&mut out);
        let written = (|| {
            let mut seq = serde::Serializer::serialize_seq(&mut writer, None)?;
            for field in &self.dedup.fields {
                if field == &self.project.param {
                    seq.serialize_element(project)?;
                    continue;
                }
                let value = field.split('.').try_fold(item, |v, part| v.get(part));
                seq.serialize_element(&value.map(Canonical))?;
            }
            seq.end()
        })();
        debug_assert!(written.is_ok(), "a Value always serialises");
        // serde_json writes valid UTF-8.
        String::from_utf8(out).unwrap_or_default()
    }

    fn new_event_id(&self, now_ms: i64, ctx: &Ctx<'_>) -> String {
        let r = &self.event_id;
        format!(
            "{}{:0width$}{}",
            r.prefix,
            now_ms.max(0),
            ctx.ids.random_chars(r.alphabet.as_bytes(), r.random_length),
            width = r.timestamp_digits
        )
    }

    fn serve(&self, req: &Request, ctx: &Ctx<'_>) -> Result<Reply, Refused> {
        // The gateway refuses an oversized entity before it looks at credentials (whose
        // signature could not be checked anyway: the body was not kept).
        if exceeds_body_limit(req, self.body_limit) {
            return Err(ApiError::new("payload_too_large").into());
        }
        let principal = self.authenticate(req, ctx)?;
        let (op, params) = match self.spec.route(req.method().as_str(), ctx.path) {
            Routed::Operation(op, params) => (op, params),
            // `/V1.0//events`: the project id is left blank, which CES names (ces.0003).
            Routed::NoSuchPath if self.blank_parameter(ctx.path) => {
                return Err(ApiError::new("bad_project").into())
            }
            Routed::NoSuchPath => return Err(ApiError::new("not_found").into()),
            Routed::MethodNotAllowed(allowed) => {
                return Err(Refused {
                    error: ApiError::new("method_not_allowed"),
                    allow: Some(allowed.join(", ")),
                })
            }
        };
        let project = path_param(&params, &self.project.param);
        if !self.project_pattern.is_match(project) || !principal.owns_project(project) {
            return Err(ApiError::new("bad_project").into());
        }
        if !self.permission.is_empty() && !principal.may(&self.permission) {
            return Err(ApiError::new("forbidden").into());
        }
        self.check_header_limits(req)?;
        Ok(self.create(req, ctx, project, op)?)
    }
}

/// The `Signature=` part of a request's Authorization header.
fn signature_of(req: &Request) -> Option<String> {
    let value = req
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let at = value.find("Signature=")? + "Signature=".len();
    let rest = &value[at..];
    let end = rest.find([',', ' ', '\t']).unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

/// An answer refused before the operation: the error, and the methods a 405 allows.
struct Refused {
    error: ApiError,
    allow: Option<String>,
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        Self { error, allow: None }
    }
}

/// A `POST /__admin/cloud-eye-events/tokens` body: a token (or a generated one of `length`
/// characters) for a project, with the API's permission unless `permissions` says otherwise.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    project_id: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    length: Option<usize>,
    #[serde(default)]
    permissions: Option<Vec<String>>,
}

/// The spec's `added_tokens` rule: how many tokens the control plane may add, how long they
/// may be (enough to probe the seed's 16,384-character limit from both sides, bounded in
/// memory), and how generated ones are spelled (the prefix the `transcript` rule replaces).
#[derive(Debug, Clone, Deserialize)]
struct AddedTokensRule {
    prefix: String,
    alphabet: String,
    max_tokens: usize,
    max_length: usize,
}

impl CesApi {
    fn add_token(&self, body: &[u8], ctx: &Ctx<'_>) -> Result<Value, String> {
        let new: NewToken = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let token = match (new.token, new.length) {
            (Some(token), None) => token,
            (None, Some(length)) if (1..=self.added_tokens.max_length).contains(&length) => {
                let prefix = if length > self.added_tokens.prefix.len() {
                    self.added_tokens.prefix.as_str()
                } else {
                    ""
                };
                let rest = ctx
                    .ids
                    .random_chars(self.added_tokens.alphabet.as_bytes(), length - prefix.len());
                format!("{prefix}{rest}")
            }
            (None, Some(_)) => {
                return Err(format!("length is 1 to {}", self.added_tokens.max_length));
            }
            _ => return Err("give exactly one of token, length".into()),
        };
        if token.len() > self.added_tokens.max_length {
            return Err(format!(
                "a token has at most {} bytes",
                self.added_tokens.max_length
            ));
        }
        let added = Token {
            token,
            project_id: new.project_id,
            permissions: new
                .permissions
                .unwrap_or_else(|| vec![self.permission.clone()]),
        };
        let mut tokens = self.tokens.write().unwrap_or_else(|e| e.into_inner());
        if tokens.len() >= self.configured_tokens.len() + self.added_tokens.max_tokens {
            return Err(format!(
                "at most {} tokens can be added",
                self.added_tokens.max_tokens
            ));
        }
        tokens.push(added.clone());
        Ok(serde_json::to_value(&added).unwrap_or(Value::Null))
    }
}

/// A value written with every number in one canonical form, so keys compare numbers by value:
/// a number with an integral value within 64 bits is written as an integer (`1800000000000.0`
/// and `-0.0` key like `1800000000000` and `0`). Nesting is bounded by the body's parse depth.
struct Canonical<'a>(&'a Value);

impl serde::Serialize for Canonical<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap as _, SerializeSeq as _};
        match self.0 {
            Value::Number(n) if n.is_f64() => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                // 2^63 and 2^64: integral values below them convert to i64 / u64 without loss.
                const I64_END: f64 = 9_223_372_036_854_775_808.0;
                const U64_END: f64 = 18_446_744_073_709_551_616.0;
                if x.fract() != 0.0 {
                    n.serialize(serializer)
                } else if (-I64_END..I64_END).contains(&x) {
                    serializer.serialize_i64(x as i64)
                } else if (0.0..U64_END).contains(&x) {
                    serializer.serialize_u64(x as u64)
                } else {
                    n.serialize(serializer)
                }
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Canonical(item))?;
                }
                seq.end()
            }
            Value::Object(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (key, value) in members {
                    map.serialize_entry(key, &Canonical(value))?;
                }
                map.end()
            }
            other => other.serialize(serializer),
        }
    }
}

impl Api for CesApi {
    fn spec(&self) -> &LoadedSpec {
        &self.spec
    }

    fn handle(&self, req: &Request, ctx: &Ctx<'_>) -> Reply {
        let request_id = self.new_request_id(ctx);
        let reply = self.serve(req, ctx).unwrap_or_else(|refused| {
            let reply = self.error_reply(&refused.error, &request_id);
            match refused.allow {
                Some(methods) => reply.header(ALLOW, &methods),
                None => reply,
            }
        });
        self.with_request_id(reply, &request_id)
    }

    fn body_limit(&self) -> usize {
        self.body_limit
    }

    fn reset(&self) {
        self.store.clear();
        if let Some(seen) = &self.replays {
            seen.clear();
        }
        *self.tokens.write().unwrap_or_else(|e| e.into_inner()) = self.configured_tokens.clone();
    }

    fn accounts(&self) -> Vec<Account> {
        let permitted = |may: bool| self.permission.is_empty() || may;
        let keys = self.access_keys.iter().map(|k| {
            let account = Account::new(
                Credential::AccessKey {
                    ak: k.ak.clone(),
                    sk: k.sk.clone(),
                },
                permitted(k.may(&self.permission)),
            );
            match k.project_ids.first() {
                Some(project) => account.with_var(&self.project.param, project),
                None => account,
            }
        });
        let tokens = self
            .tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let tokens = tokens.iter().map(|t| {
            Account::new(
                Credential::Token {
                    token: t.token.clone(),
                },
                permitted(t.may(&self.permission)),
            )
            .with_var(&self.project.param, &t.project_id)
        });
        keys.chain(tokens).collect()
    }

    fn admin(&self, req: &Request, path: &str, ctx: &Ctx<'_>) -> Option<Response> {
        match (req.method().as_str(), path) {
            ("POST", "tokens") => Some(match self.add_token(req.body(), ctx) {
                Ok(token) => json_response(StatusCode::CREATED, &token, false),
                Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({"error": e}), false),
            }),
            ("GET", "events") => Some(json_response(
                StatusCode::OK,
                &Value::Array(self.stored()),
                false,
            )),
            ("DELETE", "events") => {
                self.reset();
                Some(json_response(
                    StatusCode::OK,
                    &json!({"reset": true}),
                    false,
                ))
            }
            _ => None,
        }
    }

    fn error(&self, kind: &str, _req: &Request, ctx: &Ctx<'_>) -> Reply {
        let request_id = self.new_request_id(ctx);
        let reply = self.error_reply(
            &ApiError::new(kind).with("detail", "injected fault"),
            &request_id,
        );
        self.with_request_id(reply, &request_id)
    }
}

#[cfg(test)]
mod tests {
    use super::config::CES_PROJECT;
    use super::*;

    fn api() -> CesApi {
        let spec = crate::apis::spec(API_ID).expect("spec");
        CesApi::new(
            spec,
            &MockConfig::default(),
            &crate::store::Budget::unlimited(),
        )
        .expect("api")
    }

    /// The room a batch is checked for covers what its events weigh once stored.
    #[test]
    fn the_room_checked_covers_the_stored_weight() {
        use crate::store::Weigh;
        let api = api();
        let item = json!({"event_name": "a", "event_source": "s", "time": 1800000000000i64,
                          "detail": {"content": "ü".repeat(300), "resource_name": "r"}});
        let mut stored = item.clone();
        let map = stored.as_object_mut().unwrap();
        map.insert(
            "event_id".into(),
            json!(format!("ev{}{}", i64::MAX, "x".repeat(9))),
        );
        map.insert("project_id".into(), json!(CES_PROJECT));
        map.insert("received_ms".into(), json!(i64::MAX));
        let estimate = CompactDoc::weight_of(&item) + api.added_member_bytes(CES_PROJECT);
        let weight = CompactDoc::encode(&stored).weight();
        assert!(weight <= estimate, "{weight} > {estimate}");
        assert!(
            estimate < weight + 64,
            "close, not lavish: {weight} vs {estimate}"
        );
        assert_eq!(CompactDoc::encode(&stored).to_value(), stored);
    }

    #[test]
    fn dedup_keys_compare_numbers_by_value() {
        let api = api();
        let key = |text: &str| {
            let item: Value = serde_json::from_str(text).expect("json");
            api.dedup_key(&item, CES_PROJECT)
        };
        let integer = key(r#"{"event_name": "a", "time": 1800000000000}"#);
        assert_eq!(
            integer,
            key(r#"{"event_name": "a", "time": 1800000000000.0}"#)
        );
        assert_eq!(integer, key(r#"{"event_name": "a", "time": 1.8e12}"#));
        assert_ne!(
            integer,
            key(r#"{"event_name": "a", "time": 1800000000000.5}"#)
        );
        assert_ne!(
            integer,
            key(r#"{"event_name": "a", "time": 1800000000001}"#)
        );
        assert_eq!(key(r#"{"time": 0}"#), key(r#"{"time": -0.0}"#));
        assert_eq!(
            key(r#"{"time": 10000000000000000000}"#),
            key(r#"{"time": 1e19}"#)
        );
    }
}
