//! VMware Cloud Director audit events (seed 002): post an Event to an organization, read the
//! AuditEvent back as XML or JSON, list events through the query service (`type=event`,
//! `type=adminEvent`) and the cloudapi `auditTrail`; `GET /api/versions`, the legacy and the
//! cloudapi sessions.
//!
//! Order of checks: body size (413), route (404; 405 with `Allow`), the API version in `Accept`
//! (406, except for the operations rule `versions` leaves unversioned), a media type the
//! operation can produce (406), the session (401), the role (403 "This operation is denied."),
//! then the operation: its organization or event (403 "No access to entity", never 404), the
//! body (415, 400), the store. Errors are `Error` (XML or JSON) or, under `/cloudapi/`, the
//! cloudapi `{minorErrorCode, message}`; every answer carries a request id.

pub mod config;
mod fiql;
mod listing;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use http::header::{HeaderName, ALLOW, AUTHORIZATION};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::{self, Account, Api, Credential, Ctx, Registration};
use crate::auth::{basic_credentials, secrets_equal};
use crate::codec::{without_parameters, Negotiated};
use crate::compact::{CompactDoc, DocRef};
use crate::config::MockConfig;
use crate::errors::{self, ApiError};
use crate::ids::IdGenerator;
use crate::mongo::DocView;
use crate::spec::{BodyError, LoadedSpec, Operation, Routed, SpecError};
use crate::store::{Budget, Store};
use crate::timefmt::TimeFormat;
use crate::wire::{exceeds_body_limit, json_response, path_param, Reply, Request, Response};

use config::{is_uuid, Org, User, VcloudConfig, VcloudFlags};
use fiql::FiqlRule;
use listing::{AuditTrailRule, QueryRule};

pub const API_ID: &str = "vcloud-events";

/// The registry's entry for Cloud Director.
pub const REGISTRATION: Registration = Registration {
    id: API_ID,
    build: |spec, config, budget| Ok(Arc::new(VcloudApi::new(spec, config, budget)?)),
    formats: &[],
    flags: api::flags::<VcloudFlags>(),
};

#[derive(Debug, Clone, Deserialize)]
struct VersionsRule {
    deprecated: Vec<String>,
    deprecated_mark: String,
    unversioned_operations: Vec<String>,
    login_url: String,
}

#[derive(Debug, Clone, Deserialize)]
struct OpenOperations {
    operations: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct SessionsRule {
    legacy_header: String,
    access_token_header: String,
    token_type_header: String,
    token_type: String,
    provider_org: String,
    max_sessions: usize,
    token_alphabet: String,
    token_length: usize,
    session_urn_prefix: String,
    idle_timeout_minutes: u32,
    /// The Session document's links.
    links: Vec<SessionLink>,
}

#[derive(Debug, Clone, Deserialize)]
struct SessionLink {
    rel: String,
    media_type: String,
    path: String,
    /// Only for a user who sees every organization.
    #[serde(default)]
    all_orgs_only: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct RolesRule {
    /// Operation id (or `query:<type>`) -> the roles that may call it.
    by_operation: BTreeMap<String, Vec<String>>,
    /// Roles that see every organization.
    all_orgs: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct EntitiesRule {
    event: String,
    org: String,
}

#[derive(Debug, Clone, Deserialize)]
struct EventRule {
    urn_prefix: String,
    audit_urn_prefix: String,
    org_urn_prefix: String,
    user_urn_prefix: String,
    org_media_type: String,
    user_media_type: String,
    time_format: TimeFormat,
}

#[derive(Debug, Clone, Deserialize)]
struct ErrorEnvelopes {
    /// Path prefix -> the envelope of errors under it.
    by_path_prefix: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
struct RequestIdRule {
    header: String,
}

/// The spec's rules, read once.
struct Rules {
    versions: VersionsRule,
    open: OpenOperations,
    sessions: SessionsRule,
    roles: RolesRule,
    entities: EntitiesRule,
    event: EventRule,
    query: QueryRule,
    audit_trail: AuditTrailRule,
    fiql: FiqlRule,
    envelopes: ErrorEnvelopes,
    request_id: HeaderName,
}

impl Rules {
    fn read(spec: &LoadedSpec) -> Result<Self, SpecError> {
        let request_id: RequestIdRule = spec.rule("request_id")?;
        Ok(Self {
            versions: spec.rule("versions")?,
            open: spec.rule("open_operations")?,
            sessions: spec.rule("sessions")?,
            roles: spec.rule("roles")?,
            entities: spec.rule("entities")?,
            event: spec.rule("event")?,
            query: spec.rule("query")?,
            audit_trail: spec.rule("audit_trail")?,
            fiql: spec.rule("fiql")?,
            envelopes: spec.rule("error_envelopes")?,
            request_id: HeaderName::from_bytes(request_id.header.to_ascii_lowercase().as_bytes())
                .map_err(|e| SpecError::Invalid {
                file: format!("{API_ID}/spec.json"),
                message: format!("rule request_id: {e}"),
            })?,
        })
    }
}

/// A live session: whose it is, its cloudapi id, and when it was last used (for the cap).
#[derive(Debug, Clone)]
struct Session {
    user: usize,
    id: String,
    last_used: u64,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<String, Session>,
    uses: u64,
}

pub struct VcloudApi {
    spec: Arc<LoadedSpec>,
    rules: Rules,
    orgs: Vec<Org>,
    users: Vec<User>,
    /// Versions served, ascending.
    versions: Vec<String>,
    max_body_bytes: usize,
    /// Posted events (see [`StoredEvent`] for the shape), keyed by their UUID.
    events: Store<CompactDoc>,
    state: Mutex<State>,
}

/// What an operation gets once the request passed the version, media and session checks.
#[derive(Clone)]
struct Call<'a> {
    op: &'a Operation,
    params: Vec<(&'a str, &'a str)>,
    negotiated: Negotiated,
    /// The session's user and token (`None` for the open operations).
    session: Option<(usize, String)>,
    origin: String,
    envelope: Option<&'a str>,
}

/// An error answer travels boxed: a `Reply` is large, and most calls succeed.
type Refusal = Box<Reply>;

type Outcome = Result<Reply, Refusal>;

/// `8-4-4-4-12` random hex digits from the mock's seeded generator.
fn uuid(ids: &IdGenerator) -> String {
    // One draw of 30 hex digits, cut into the version-4 layout.
    let hex = ids.random_hex(30);
    let mut out = String::with_capacity(36);
    for (part, lead) in [
        (&hex[..8], ""),
        (&hex[8..12], "-"),
        (&hex[12..15], "-4"),
        (&hex[15..18], "-8"),
        (&hex[18..30], "-"),
    ] {
        out.push_str(lead);
        out.push_str(part);
    }
    out
}

fn version_key(version: &str) -> Vec<u64> {
    version.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

impl VcloudApi {
    pub fn new(
        spec: Arc<LoadedSpec>,
        config: &MockConfig,
        budget: &Arc<Budget>,
    ) -> Result<Self, SpecError> {
        let invalid = |message: String| SpecError::Invalid {
            file: format!("{API_ID} configuration"),
            message,
        };
        let settings: VcloudConfig = config.api().map_err(invalid)?;
        let rules = Rules::read(&spec)?;
        let known: Vec<String> = spec
            .spec
            .versioning
            .as_ref()
            .map(|v| v.supported.clone())
            .unwrap_or_default();
        let mut versions = if settings.versions.is_empty() {
            known.clone()
        } else {
            settings.versions.clone()
        };
        if let Some(unknown) = versions.iter().find(|v| !known.contains(v)) {
            return Err(invalid(format!(
                "version {unknown} is not in the spec's supported list {known:?}"
            )));
        }
        versions.sort_by_key(|v| version_key(v));
        for user in &settings.users {
            if !settings.orgs.iter().any(|o| o.name == user.org) {
                return Err(invalid(format!(
                    "user {}@{}: no such organization",
                    user.name, user.org
                )));
            }
            if !rules
                .roles
                .by_operation
                .values()
                .flatten()
                .any(|r| *r == user.role)
            {
                return Err(invalid(format!(
                    "user {}@{}: role '{}' is not in the spec's rule roles",
                    user.name, user.org, user.role
                )));
            }
        }
        if let Some(org) = settings.orgs.iter().find(|o| !is_uuid(&o.id)) {
            return Err(invalid(format!(
                "org {}: '{}' is not a UUID",
                org.name, org.id
            )));
        }
        Ok(Self {
            max_body_bytes: settings
                .max_body_bytes
                .unwrap_or(spec.spec.body_limit.max_bytes),
            events: Store::new(settings.max_events, budget.clone()),
            spec,
            rules,
            orgs: settings.orgs,
            users: settings.users,
            versions,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The envelope errors under `path` use (rule `error_envelopes`); `None` is the default.
    fn envelope_for(&self, path: &str) -> Option<&str> {
        self.rules
            .envelopes
            .by_path_prefix
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .map(|(_, envelope)| envelope.as_str())
    }

    fn fail(&self, envelope: Option<&str>, error: ApiError) -> Refusal {
        Box::new(errors::render(&self.spec, envelope, &error, &[]))
    }

    fn bad_request(&self, envelope: Option<&str>, detail: impl Into<String>) -> Refusal {
        self.fail(
            envelope,
            ApiError::new("bad_request").with("detail", detail),
        )
    }

    fn no_access(&self, envelope: Option<&str>, kind: &str, id: &str) -> Refusal {
        self.fail(
            envelope,
            ApiError::new("no_access_to_entity")
                .with("entity_kind", kind)
                .with("entity_id", id),
        )
    }

    /// `37.2, 37.1, ..., 35.2 [D], ...`: newest first, deprecated ones marked (rule `versions`).
    fn version_list(&self) -> String {
        self.versions
            .iter()
            .rev()
            .map(|v| {
                if self.rules.versions.deprecated.contains(v) {
                    format!("{v}{}", self.rules.versions.deprecated_mark)
                } else {
                    v.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn user_org(&self, user: &User) -> Option<&Org> {
        self.orgs.iter().find(|o| o.name == user.org)
    }

    fn sees_all_orgs(&self, user: &User) -> bool {
        self.rules.roles.all_orgs.contains(&user.role)
    }

    fn may(&self, user: &User, operation: &str) -> bool {
        self.rules
            .roles
            .by_operation
            .get(operation)
            .is_some_and(|roles| roles.contains(&user.role))
    }

    fn reference(
        &self,
        prefix: &str,
        media_type: &str,
        href: String,
        id: &str,
        name: &str,
    ) -> Value {
        let mut urn = String::with_capacity(prefix.len() + id.len());
        urn.push_str(prefix);
        urn.push_str(id);
        let members = [
            ("otherAttributes", Value::Object(Map::new())),
            ("href", Value::String(href)),
            ("id", Value::String(urn)),
            ("type", Value::String(media_type.to_owned())),
            ("name", Value::String(name.to_owned())),
            ("vCloudExtension", Value::Array(Vec::new())),
        ];
        let mut reference = Map::with_capacity(members.len());
        for (key, value) in members {
            reference.insert(key.to_owned(), value);
        }
        Value::Object(reference)
    }

    fn org_reference(&self, origin: &str, org: &Org) -> Value {
        self.reference(
            &self.rules.event.org_urn_prefix,
            &self.rules.event.org_media_type,
            format!("{origin}/api/org/{}", org.id),
            &org.id,
            &org.name,
        )
    }

    fn user_reference(&self, origin: &str, user: &User) -> Value {
        self.reference(
            &self.rules.event.user_urn_prefix,
            &self.rules.event.user_media_type,
            format!("{origin}/api/admin/user/{}", user.id),
            &user.id,
            &user.name,
        )
    }

    fn timestamp(&self, at: DateTime<Utc>) -> String {
        self.rules.event.time_format.utc(at)
    }
}

impl VcloudApi {
    fn answer(&self, req: &Request, ctx: &Ctx<'_>) -> Reply {
        let envelope = self.envelope_for(ctx.path);
        match self.checked(req, ctx, envelope) {
            Ok(reply) => reply,
            Err(reply) => *reply,
        }
    }

    fn checked(&self, req: &Request, ctx: &Ctx<'_>, envelope: Option<&str>) -> Outcome {
        if exceeds_body_limit(req, self.max_body_bytes) {
            return Err(self.fail(
                envelope,
                ApiError::new("request_too_large")
                    .with("max_bytes", self.max_body_bytes.to_string()),
            ));
        }
        let (op, params) = match self.spec.route(req.method().as_str(), ctx.path) {
            Routed::Operation(op, params) => (op, params),
            Routed::MethodNotAllowed(allowed) => {
                let mut reply = self.fail(
                    envelope,
                    ApiError::new("method_not_allowed")
                        .with("detail", req.method().as_str().to_owned()),
                );
                reply.set_header(ALLOW, &allowed.join(", "));
                return Err(reply);
            }
            Routed::NoSuchPath => {
                return Err(self.fail(
                    envelope,
                    ApiError::new("not_found").with("detail", ctx.path.to_owned()),
                ))
            }
        };
        let negotiated = self.spec.media_types(Some(op)).negotiate(req.headers());
        if !self.rules.versions.unversioned_operations.contains(&op.id) {
            self.check_version(req, envelope)?;
            if !negotiated.acceptable {
                let accept = req
                    .headers()
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                return Err(self.fail(
                    envelope,
                    ApiError::new("media_not_acceptable").with(
                        "detail",
                        format!("this resource cannot be returned as {accept}"),
                    ),
                ));
            }
        }
        let session = if self.rules.open.operations.contains(&op.id) {
            None
        } else {
            Some(self.session_of(req, envelope)?)
        };
        if let Some((user, _)) = &session {
            let operation = match op.id.as_str() {
                "query" => format!(
                    "query:{}",
                    self.query_param(req, "type").unwrap_or_default()
                ),
                id => id.to_owned(),
            };
            let open_to_all = !self.rules.roles.by_operation.contains_key(&operation)
                && !self.rules.roles.by_operation.contains_key(&op.id);
            if !open_to_all && !self.may(&self.users[*user], &operation) {
                // An unknown query type is the query's own 400, not a denial.
                let unknown_query =
                    op.id == "query" && !self.rules.roles.by_operation.contains_key(&operation);
                if !unknown_query {
                    return Err(self.fail(envelope, ApiError::new("operation_denied")));
                }
            }
        }
        let call = Call {
            op,
            params,
            negotiated,
            session,
            origin: format!("{}{}", ctx.public_origin(), ctx.base_path),
            envelope,
        };
        self.run(req, ctx, &call)
    }

    /// The version in `Accept` must be one served (rule `versions`; 406 otherwise).
    fn check_version(&self, req: &Request, envelope: Option<&str>) -> Result<(), Refusal> {
        let Some(versioning) = &self.spec.spec.versioning else {
            return Ok(());
        };
        match versioning.requested(&[], req.headers(), &[]) {
            None => Err(self.fail(
                envelope,
                ApiError::new("version_missing").with("versions", self.version_list()),
            )),
            Some(raw) if !self.versions.iter().any(|v| v == raw.trim()) => Err(self.fail(
                envelope,
                ApiError::new("version_unsupported").with("versions", self.version_list()),
            )),
            Some(_) => Ok(()),
        }
    }

    /// The session a request's token names: `x-vcloud-authorization` or `Authorization:
    /// Bearer` (either token works with either carrier).
    fn session_of(
        &self,
        req: &Request,
        envelope: Option<&str>,
    ) -> Result<(usize, String), Refusal> {
        let legacy = req
            .headers()
            .get(self.rules.sessions.legacy_header.as_str())
            .and_then(|v| v.to_str().ok());
        let bearer = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split_once(' ')
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map(|(_, token)| token.trim())
            });
        let Some(token) = legacy.or(bearer).filter(|t| !t.is_empty()) else {
            return Err(self.fail(envelope, ApiError::new("unauthenticated")));
        };
        let mut state = self.state();
        state.uses += 1;
        let now = state.uses;
        let found = state
            .sessions
            .iter_mut()
            .find(|(known, _)| secrets_equal(token, known));
        match found {
            Some((known, session)) => {
                session.last_used = now;
                Ok((session.user, known.clone()))
            }
            None => Err(self.fail(envelope, ApiError::new("login_failed"))),
        }
    }
}

/// A stored event: the internal JSON object
/// `{uuid, audit_uuid, org_id, event_type, service_namespace, success, description, details,
/// properties, owner, user, actor, time}` as a [`CompactDoc`] (one allocation). Renderings
/// (AuditEvent, query records, audit trail entries) read the members they show in place when
/// read; nothing else is decoded.
#[derive(Clone, Copy)]
struct StoredEvent<'a>(DocRef<'a>);

/// EventProperty entries (`[{name, value}]`) as one object, `{name: value}`: the Details JSON
/// and the audit trail's additionalProperties.
fn properties_object(properties: &[Value]) -> Map<String, Value> {
    properties
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p.get("value").cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}

impl<'a> StoredEvent<'a> {
    fn of(doc: &'a CompactDoc) -> Self {
        Self(doc.view())
    }

    /// A text member ("" when missing or not text).
    fn str(self, name: &str) -> &'a str {
        self.0
            .field(name)
            .and_then(DocView::as_str)
            .unwrap_or_default()
    }

    /// A member as a `Value`, null when missing (as indexing a `Value` reads it).
    fn value(self, name: &str) -> Value {
        self.0.field(name).map_or(Value::Null, DocRef::to_value)
    }

    /// `success`, true unless stored as false.
    fn success(self) -> bool {
        self.0
            .field("success")
            .and_then(DocView::as_bool)
            .unwrap_or(true)
    }
}

impl VcloudApi {
    fn run(&self, req: &Request, ctx: &Ctx<'_>, call: &Call<'_>) -> Outcome {
        match call.op.id.as_str() {
            "getVersions" => Ok(self.versions_answer(call)),
            "login" => self.login(req, ctx, call, LoginKind::Legacy),
            "cloudapiLogin" => self.login(req, ctx, call, LoginKind::Tenant),
            "cloudapiProviderLogin" => self.login(req, ctx, call, LoginKind::Provider),
            "getSession" => Ok(self.session_answer(call)),
            "logout" => {
                if let Some((_, token)) = &call.session {
                    self.state().sessions.remove(token);
                }
                Ok(Reply::empty(StatusCode::NO_CONTENT))
            }
            "postEvent" => self.post_event(req, ctx, call),
            "getEvent" => self.get_event(call),
            "query" => self.query(req, call),
            "auditTrail" => self.audit_trail(req, call),
            other => Err(self.fail(
                call.envelope,
                ApiError::new("internal")
                    .with("detail", format!("operation {other} is not served")),
            )),
        }
    }

    /// SupportedVersions, ascending, each with `deprecated` and the login URL (rule `versions`).
    fn versions_answer(&self, call: &Call<'_>) -> Reply {
        let login_url = format!("{}{}", call.origin, self.rules.versions.login_url);
        let infos: Vec<Value> = self
            .versions
            .iter()
            .map(|v| {
                json!({
                    "deprecated": self.rules.versions.deprecated.contains(v),
                    "version": v,
                    "loginUrl": login_url,
                })
            })
            .collect();
        Reply::value(StatusCode::OK, json!({ "versionInfo": infos }))
    }

    /// Basic `user@org:password` against the configured users; the org is matched without
    /// regard to case, as Cloud Director does.
    fn authenticate(&self, req: &Request, envelope: Option<&str>) -> Result<usize, Refusal> {
        let Some((login, password)) = basic_credentials(req.headers()) else {
            return Err(self.fail(envelope, ApiError::new("unauthenticated")));
        };
        let (name, org) = login.rsplit_once('@').unwrap_or((login.as_str(), ""));
        self.users
            .iter()
            .position(|u| {
                u.name == name
                    && u.org.eq_ignore_ascii_case(org)
                    && secrets_equal(&password, &u.password)
            })
            .ok_or_else(|| self.fail(envelope, ApiError::new("login_failed")))
    }

    fn login(&self, req: &Request, ctx: &Ctx<'_>, call: &Call<'_>, kind: LoginKind) -> Outcome {
        let user = self.authenticate(req, call.envelope)?;
        let provider = self.users[user]
            .org
            .eq_ignore_ascii_case(&self.rules.sessions.provider_org);
        // Tenants log in at /sessions, the provider org at /sessions/provider (rule sessions).
        let wrong_door = match kind {
            LoginKind::Legacy => false,
            LoginKind::Tenant => provider,
            LoginKind::Provider => !provider,
        };
        if wrong_door {
            return Err(self.fail(call.envelope, ApiError::new("login_failed")));
        }
        let rules = &self.rules.sessions;
        let token = ctx
            .ids
            .random_chars(rules.token_alphabet.as_bytes(), rules.token_length);
        let session_id = uuid(ctx.ids);
        {
            let mut state = self.state();
            state.uses += 1;
            let now = state.uses;
            if state.sessions.len() >= self.rules.sessions.max_sessions {
                let oldest = state
                    .sessions
                    .iter()
                    .min_by_key(|(_, s)| s.last_used)
                    .map(|(t, _)| t.clone());
                if let Some(oldest) = oldest {
                    state.sessions.remove(&oldest);
                }
            }
            state.sessions.insert(
                token.clone(),
                Session {
                    user,
                    id: session_id,
                    last_used: now,
                },
            );
        }
        let rules = &self.rules.sessions;
        match kind {
            LoginKind::Legacy => {
                let call = Call {
                    session: Some((user, token.clone())),
                    ..call.clone()
                };
                Ok(self
                    .session_answer(&call)
                    .header(rules.legacy_header.as_str(), &token))
            }
            LoginKind::Tenant | LoginKind::Provider => Ok(self
                .cloudapi_session(user, &token)
                .header(rules.access_token_header.as_str(), &token)
                .header(rules.token_type_header.as_str(), &rules.token_type)),
        }
    }

    /// The legacy Session document, with the session's token in `x-vcloud-authorization` (what
    /// pyvcloud reads after a cloudapi login).
    fn session_answer(&self, call: &Call<'_>) -> Reply {
        let Some((user_index, token)) = &call.session else {
            return *self.fail(call.envelope, ApiError::new("unauthenticated"));
        };
        let user = &self.users[*user_index];
        let origin = &call.origin;
        let links: Vec<Value> = self
            .rules
            .sessions
            .links
            .iter()
            .filter(|l| !l.all_orgs_only || self.sees_all_orgs(user))
            .map(|l| json!({"otherAttributes": {}, "rel": l.rel, "type": l.media_type, "href": format!("{origin}{}", l.path), "vCloudExtension": []}))
            .collect();
        let value = json!({
            "otherAttributes": {},
            "link": links,
            "href": format!("{origin}/api/session/"),
            "type": without_parameters(&call.negotiated.media_type),
            "user": user.name,
            "userId": format!("{}{}", self.rules.event.user_urn_prefix, user.id),
            "org": user.org,
            "roles": user.role,
            "vCloudExtension": [],
        });
        Reply::value(StatusCode::OK, value)
            .header(self.rules.sessions.legacy_header.as_str(), token)
    }

    fn cloudapi_session(&self, user_index: usize, token: &str) -> Reply {
        let user = &self.users[user_index];
        let org = self.user_org(user);
        let named_org = json!({
            "name": user.org,
            "id": format!("{}{}", self.rules.event.org_urn_prefix, org.map(|o| o.id.as_str()).unwrap_or_default()),
        });
        let session_id = self
            .state()
            .sessions
            .get(token)
            .map(|s| s.id.clone())
            .unwrap_or_default();
        Reply::value(
            StatusCode::OK,
            json!({
                "id": format!("{}{session_id}", self.rules.sessions.session_urn_prefix),
                "user": {"name": user.name, "id": format!("{}{}", self.rules.event.user_urn_prefix, user.id)},
                "org": named_org,
                "operatingOrg": named_org,
                "roles": [user.role],
                "sessionIdleTimeoutMinutes": self.rules.sessions.idle_timeout_minutes,
            }),
        )
    }
}

#[derive(Debug, Clone, Copy)]
enum LoginKind {
    /// `POST /api/sessions`: any organization.
    Legacy,
    /// `POST /cloudapi/1.0.0/sessions`: tenants.
    Tenant,
    /// `POST /cloudapi/1.0.0/sessions/provider`: the provider organization.
    Provider,
}

impl VcloudApi {
    fn session_user(&self, call: &Call<'_>) -> Option<&User> {
        call.session.as_ref().map(|(u, _)| &self.users[*u])
    }

    /// The organization a URL names, if the caller may see it; else 403 "No access to entity".
    fn visible_org(&self, call: &Call<'_>, id: &str) -> Result<&Org, Refusal> {
        let user = self.session_user(call);
        self.orgs
            .iter()
            .find(|o| o.id.eq_ignore_ascii_case(id))
            .filter(|o| user.is_some_and(|u| self.sees_all_orgs(u) || u.org == o.name))
            .ok_or_else(|| self.no_access(call.envelope, &self.rules.entities.org, id))
    }

    fn post_event(&self, req: &Request, ctx: &Ctx<'_>, call: &Call<'_>) -> Outcome {
        let org = self
            .visible_org(call, path_param(&call.params, "org"))?
            .clone();
        let event = match self.spec.decode_request(call.op, req.headers(), req.body()) {
            Ok(value) => value,
            Err(BodyError::UnsupportedMediaType(media_type)) => {
                return Err(self.fail(
                    call.envelope,
                    ApiError::new("unsupported_media_type").with("detail", media_type),
                ))
            }
            Err(BodyError::Malformed(why)) => {
                return Err(self.bad_request(
                    call.envelope,
                    format!("The request body could not be read: {why}"),
                ))
            }
        };
        self.validate_event(&event, call.envelope)?;
        let actor = self.session_user(call).cloned();
        let record = self.event_record(
            &event,
            &org,
            actor.as_ref(),
            ctx.clock.now(),
            ctx.ids,
            &call.origin,
        );
        self.store(record, call.envelope)?;
        Ok(Reply::empty(StatusCode::NO_CONTENT))
    }

    /// The posted Event against `event.json` (rule messages from its `x-message`s).
    fn validate_event(&self, event: &Value, envelope: Option<&str>) -> Result<(), Refusal> {
        let schema = self
            .spec
            .spec
            .operations
            .iter()
            .find(|o| o.id == "postEvent")
            .and_then(|o| o.request.as_ref())
            .map(|r| r.schema.clone())
            .unwrap_or_default();
        let violations = self.spec.schemas.violations(&schema, event).map_err(|e| {
            self.fail(
                envelope,
                ApiError::new("internal").with("detail", e.to_string()),
            )
        })?;
        if violations.is_empty() {
            return Ok(());
        }
        let detail = violations
            .iter()
            .map(|v| v.message.clone())
            .collect::<Vec<_>>()
            .join("; ");
        Err(self.bad_request(envelope, detail))
    }

    /// The stored form of a posted Event (rule `event`): `type` is the event type and name,
    /// `typeFull` the description, the properties the Details, the org the URL's, the user as
    /// posted (else the caller), the time the server's.
    fn event_record(
        &self,
        event: &Value,
        org: &Org,
        actor: Option<&User>,
        now: DateTime<Utc>,
        ids: &IdGenerator,
        origin: &str,
    ) -> Value {
        let properties: Vec<Value> = event["eventProperties"]["eventProperty"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let details = (!properties.is_empty())
            .then(|| Value::Object(properties_object(&properties)).to_string());
        let plain_reference = |r: &Value| {
            let mut out = Map::new();
            for key in ["href", "id", "type", "name"] {
                if let Some(v) = r.get(key).filter(|v| v.is_string()) {
                    out.insert(key.into(), v.clone());
                }
            }
            Value::Object(out)
        };
        let user = match event.get("user").filter(|u| u.is_object()) {
            Some(posted) => plain_reference(posted),
            None => actor
                .map(|a| self.user_reference(origin, a))
                .unwrap_or(Value::Null),
        };
        // Built member by member: `json!` would serialise each interpolated `Value` into a new
        // one, slower than the clone it amounts to.
        let actor = actor.map_or(Value::Null, |a| {
            let mut id = String::with_capacity(self.rules.event.user_urn_prefix.len() + a.id.len());
            id.push_str(&self.rules.event.user_urn_prefix);
            id.push_str(&a.id);
            let mut out = Map::with_capacity(2);
            out.insert("name".into(), Value::String(a.name.clone()));
            out.insert("id".into(), Value::String(id));
            Value::Object(out)
        });
        let members: [(&str, Value); 13] = [
            ("uuid", Value::String(uuid(ids))),
            ("audit_uuid", Value::String(uuid(ids))),
            ("org_id", Value::String(org.id.clone())),
            ("event_type", event["type"].clone()),
            ("service_namespace", event["serviceNamespace"].clone()),
            (
                "success",
                Value::Bool(
                    event
                        .get("success")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                ),
            ),
            (
                "description",
                event.get("typeFull").cloned().unwrap_or(Value::Null),
            ),
            ("details", details.map_or(Value::Null, Value::String)),
            ("properties", Value::Array(properties)),
            (
                "owner",
                event
                    .get("owner")
                    .filter(|o| o.is_object())
                    .map_or(Value::Null, plain_reference),
            ),
            ("user", user),
            ("actor", actor),
            ("time", Value::String(self.timestamp(now))),
        ];
        let mut record = Map::with_capacity(members.len());
        for (name, value) in members {
            record.insert(name.to_owned(), value);
        }
        Value::Object(record)
    }

    fn store(&self, record: Value, envelope: Option<&str>) -> Result<(), Refusal> {
        let key = record["uuid"].as_str().unwrap_or_default().to_owned();
        self.events
            .write()
            .insert(key, CompactDoc::encode(&record))
            .map_err(|refused| {
                self.fail(
                    envelope,
                    ApiError::new("internal").with(
                        "detail",
                        format!("the mock's event store refused the event: {refused:?}"),
                    ),
                )
            })
    }

    fn org_of(&self, event: StoredEvent<'_>) -> Option<&Org> {
        let id = event.str("org_id");
        self.orgs.iter().find(|o| o.id == id)
    }

    /// The AuditEvent of a stored event, its `type` the media type the answer is written as.
    fn audit_event(&self, event: StoredEvent<'_>, origin: &str, media_type: &str) -> Value {
        let uuid = event.str("uuid");
        let org = self
            .org_of(event)
            .map(|o| self.org_reference(origin, o))
            .unwrap_or(Value::Null);
        json!({
            "otherAttributes": {},
            "link": [],
            "href": format!("{origin}/api/admin/event/{uuid}"),
            "type": media_type,
            "id": format!("{}{uuid}", self.rules.event.urn_prefix),
            "operationKey": null,
            "description": event.value("description"),
            "tasks": null,
            "name": event.value("event_type"),
            "org": org,
            "owner": event.value("owner"),
            "user": event.value("user"),
            "details": event.value("details"),
            "eventType": event.value("event_type"),
            "serviceNamespace": event.value("service_namespace"),
            "timeStamp": event.value("time"),
            "success": event.value("success"),
            "vCloudExtension": [],
        })
    }

    /// Is the event in an organization the caller may see?
    fn visible(&self, call: &Call<'_>, event: StoredEvent<'_>) -> bool {
        let Some(user) = self.session_user(call) else {
            return false;
        };
        self.sees_all_orgs(user) || self.org_of(event).is_some_and(|o| o.name == user.org)
    }

    fn get_event(&self, call: &Call<'_>) -> Outcome {
        let id = path_param(&call.params, "id");
        let found = self.events.read().get(id).cloned();
        match found.filter(|event| self.visible(call, StoredEvent::of(event))) {
            Some(event) => Ok(Reply::value(
                StatusCode::OK,
                self.audit_event(
                    StoredEvent::of(&event),
                    &call.origin,
                    without_parameters(&call.negotiated.media_type),
                ),
            )),
            None => Err(self.no_access(call.envelope, &self.rules.entities.event, id)),
        }
    }

    fn query_param(&self, req: &Request, name: &str) -> Option<String> {
        crate::wire::query_pairs(req.uri().query())
            .ok()?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Every stored event the caller may see, in posting order (`all` ignores the caller's org
    /// for the roles that see every organization).
    fn visible_events(&self, call: &Call<'_>, all_orgs: bool) -> Vec<CompactDoc> {
        let Some(user) = self.session_user(call) else {
            return Vec::new();
        };
        let everything = all_orgs && self.sees_all_orgs(user);
        let own = self
            .user_org(user)
            .map(|o| o.id.clone())
            .unwrap_or_default();
        self.events
            .read()
            .items()
            .iter()
            .filter(|e| everything || StoredEvent::of(e).str("org_id") == own)
            .cloned()
            .collect()
    }

    /// Store events given to the control plane (seeding): each an Event plus `org` (name or
    /// id) and optionally `time` (RFC 3339).
    fn seed(&self, body: &[u8], ids: &IdGenerator, now: DateTime<Utc>) -> Result<Value, String> {
        let items: Vec<Value> = serde_json::from_slice(body)
            .map_err(|e| format!("a list of events is expected: {e}"))?;
        let mut records = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let Value::Object(mut event) = item else {
                return Err(format!("event {i}: not an object"));
            };
            let org_text = event
                .remove("org")
                .and_then(|o| o.as_str().map(str::to_owned))
                .ok_or_else(|| format!("event {i}: 'org' (a name or an id) is required"))?;
            let org = self
                .orgs
                .iter()
                .find(|o| o.name == org_text || o.id == org_text)
                .ok_or_else(|| format!("event {i}: no organization '{org_text}'"))?
                .clone();
            let at = match event.remove("time") {
                None => now,
                Some(Value::String(t)) => fiql::parse_time(&t)
                    .map(|t| t.with_timezone(&Utc))
                    .ok_or_else(|| format!("event {i}: time '{t}' is not RFC 3339"))?,
                Some(other) => return Err(format!("event {i}: time {other} is not a string")),
            };
            let event = Value::Object(event);
            self.validate_event(&event, None)
                .map_err(|_| format!("event {i}: not a valid Event (see event.json)"))?;
            // The org's first user stands for the poster of a seeded event.
            let actor = self.users.iter().find(|u| u.org == org.name);
            records.push(self.event_record(&event, &org, actor, at, ids, ""));
        }
        let count = records.len();
        for record in records {
            self.store(record, None)
                .map_err(|_| "the event store is full".to_owned())?;
        }
        Ok(json!({ "stored": count }))
    }
}

impl Api for VcloudApi {
    fn spec(&self) -> &LoadedSpec {
        &self.spec
    }

    /// Reads over a large store are answered off the I/O threads.
    fn heavy(&self, req: &Request, path: &str) -> bool {
        self.events.len() > api::HEAVY_SCAN_ITEMS
            && matches!(
                self.spec.route(req.method().as_str(), path),
                Routed::Operation(op, _) if matches!(op.id.as_str(), "query" | "auditTrail")
            )
    }

    fn handle(&self, req: &Request, ctx: &Ctx<'_>) -> Reply {
        let mut reply = self.answer(req, ctx);
        reply.set_header(self.rules.request_id.clone(), &uuid(ctx.ids));
        reply
    }

    fn reset(&self) {
        self.events.clear();
        *self.state() = State::default();
    }

    /// Each user as `name@org`. Permitted means the user may post events. Every permitted
    /// account brings `user`, `password`, `org` (its org's UUID) and `org_name` (the first one
    /// wins); an account of a role that sees every org also brings `admin_*`, one of another
    /// org `other_*`, so scenarios can cross organizations.
    fn accounts(&self) -> Vec<Account> {
        let version = self
            .spec
            .spec
            .versioning
            .as_ref()
            .map(|v| v.current.clone())
            .unwrap_or_default();
        let first_org = self
            .users
            .iter()
            .find(|u| self.may(u, "postEvent") && !self.sees_all_orgs(u))
            .map(|u| u.org.clone());
        self.users
            .iter()
            .map(|u| {
                let login = format!("{}@{}", u.name, u.org);
                let org_id = self.user_org(u).map(|o| o.id.clone()).unwrap_or_default();
                let mut account = Account::new(
                    Credential::Password {
                        user: login.clone(),
                        password: u.password.clone(),
                    },
                    self.may(u, "postEvent"),
                )
                .with_var("user", &login)
                .with_var("password", &u.password)
                .with_var("org", &org_id)
                .with_var("org_name", &u.org)
                .with_var("version", &version);
                let prefix = if self.sees_all_orgs(u) {
                    Some("admin")
                } else if first_org.as_deref() != Some(u.org.as_str()) {
                    Some("other")
                } else {
                    None
                };
                if let Some(prefix) = prefix {
                    account = account
                        .with_var(&format!("{prefix}_user"), &login)
                        .with_var(&format!("{prefix}_password"), &u.password)
                        .with_var(&format!("{prefix}_org"), &org_id)
                        .with_var(&format!("{prefix}_org_name"), &u.org);
                }
                account
            })
            .collect()
    }

    fn body_limit(&self) -> usize {
        self.max_body_bytes
    }

    fn admin(&self, req: &Request, path: &str, ctx: &Ctx<'_>) -> Option<Response> {
        match (req.method().as_str(), path) {
            ("GET", "events") => {
                let snapshot: Vec<CompactDoc> = self.events.read().items().to_vec();
                let events: Vec<Value> = snapshot.iter().map(CompactDoc::to_value).collect();
                Some(json_response(StatusCode::OK, &Value::Array(events), false))
            }
            ("POST", "events") => Some(match self.seed(req.body(), ctx.ids, ctx.clock.now()) {
                Ok(answer) => json_response(StatusCode::OK, &answer, false),
                Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({ "error": e }), false),
            }),
            _ => None,
        }
    }

    fn error(&self, kind: &str, _req: &Request, ctx: &Ctx<'_>) -> Reply {
        let error = ApiError::new(kind)
            .with("detail", "injected fault")
            .with("versions", self.version_list())
            .with("entity_kind", self.rules.entities.event.clone())
            .with("entity_id", "injected")
            .with("max_bytes", self.max_body_bytes.to_string());
        let mut reply = *self.fail(self.envelope_for(ctx.path), error);
        reply.set_header(self.rules.request_id.clone(), &uuid(ctx.ids));
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored event's members read back as the record they were stored from.
    #[test]
    fn stored_events_read_back_as_their_records() {
        let record = json!({
            "uuid": "0b1c2d3e-0000-4000-8000-000000000001",
            "audit_uuid": "0b1c2d3e-0000-4000-8000-000000000002",
            "org_id": "7b832bc5-3d65-45a2-8d35-da28388ab80a",
            "event_type": "com/vmware/bench",
            "service_namespace": "bench",
            "success": false,
            "description": null,
            "details": "{\"b\":1,\"a\":2.0}",
            "properties": [{"name": "b", "value": 1}, {"name": "a", "value": 2.0}],
            "owner": null,
            "user": {"href": "https://x/api/admin/user/1", "name": "ü"},
            "actor": {"name": "orgadmin", "id": "urn:vcloud:user:1"},
            "time": "2024-06-10T17:13:31.123Z",
        });
        let doc = CompactDoc::encode(&record);
        let event = StoredEvent::of(&doc);
        for (name, value) in record.as_object().unwrap() {
            assert_eq!(event.value(name).to_string(), value.to_string(), "{name}");
        }
        assert_eq!(event.value("missing"), Value::Null);
        assert_eq!(event.str("uuid"), record["uuid"].as_str().unwrap());
        assert_eq!(event.str("success"), "");
        assert!(!event.success());
        let posted = CompactDoc::encode(&json!({"uuid": "u"}));
        assert!(
            StoredEvent::of(&posted).success(),
            "success unless stored as false"
        );
        assert_eq!(doc.to_value().to_string(), record.to_string());
    }
}
