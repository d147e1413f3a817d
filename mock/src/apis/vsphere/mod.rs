//! VMware vSphere VI/JSON (seeds 000 and 001): `EventManager.PostEvent` with Event and EventEx,
//! SessionManager Login/Logout, QueryEvents, event history collectors, TaskManager.CreateTask,
//! the ServiceInstance content and the vAPI release `hello`.
//!
//! Order of checks: body size (413), route (404, 405 with `Allow`), release (404), session
//! (NotAuthenticated, 500 or the configured 401), the managed object (ManagedObjectNotFound,
//! MethodNotFound), the privilege (NoPermission), the body (415; InvalidRequest for what does not
//! deserialise; InvalidArgument for the members the spec names), then the method itself. Faults
//! render from the spec's one fault envelope, `_typeName` first.

pub mod config;
mod history;
mod inventory;
mod vmodl;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use chrono::{DateTime, Utc};
use http::{header::ALLOW, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::{self, Account, Api, Credential, Ctx, Registration};
use crate::auth::secrets_equal;
use crate::compact::CompactDoc;
use crate::config::MockConfig;
use crate::errors::{self, ApiError};
use crate::ids::IdGenerator;
use crate::spec::{BodyError, LoadedSpec, Operation, Routed, SpecError};
use crate::store::{Budget, Store};
use crate::wire::{
    exceeds_body_limit, json_response, param, query_pairs, Reply, Request, Response,
};

use config::{
    InventoryObject, TaskInfoPolicy, UnknownMembers, User, UserNamePolicy, VsphereConfig,
    VsphereFlags,
};
use history::{Categories, Collector, Filter, Matching};
use inventory::Inventory;
use vmodl::{moref, DataTypes};

pub const API_ID: &str = "vsphere-events";

/// The registry's entry for vSphere.
pub const REGISTRATION: Registration = Registration {
    id: API_ID,
    build: |spec, config, budget| Ok(Arc::new(VsphereApi::new(spec, config, budget)?)),
    formats: &[],
    flags: api::flags::<VsphereFlags>(),
};

#[derive(Debug, Clone, Deserialize)]
struct OpenOperations {
    operations: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Unauthenticated {
    status: u16,
    status_choices: Vec<u16>,
    privilege_id: String,
}

#[derive(Debug, Clone, Deserialize)]
struct MoRefRule {
    #[serde(rename = "type")]
    mo_type: String,
    value: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Privileges {
    by_operation: BTreeMap<String, String>,
    checked_on: MoRefRule,
}

#[derive(Debug, Clone, Deserialize)]
struct SessionRule {
    header: String,
    key_alphabet: String,
    key_length: usize,
    max_sessions: usize,
    locale: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Policy<T> {
    default: T,
}

#[derive(Debug, Clone, Deserialize)]
struct EventKeyRule {
    first: i64,
    max: i64,
}

#[derive(Debug, Clone, Deserialize)]
struct Slot {
    member: String,
    types: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct EntityArguments {
    slots: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
struct ObjectTypeRule {
    entity_types: Vec<String>,
    require_in_inventory: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct CountRange {
    min: usize,
    max: usize,
}

#[derive(Debug, Clone, Deserialize)]
struct CollectorRule {
    max_per_session: usize,
    page_size: usize,
    max_count: CountRange,
    id_prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
struct QueryRule {
    max_count_default: usize,
}

#[derive(Debug, Clone, Deserialize)]
struct HelloRule {
    action: String,
    max_releases: usize,
    max_release_length: usize,
}

#[derive(Debug, Clone, Deserialize)]
struct SchemaFaults {
    default: String,
    invalid_argument_members: Vec<String>,
    /// Violations of these keywords (a wrong JSON type) are always the default fault.
    deserialisation_keywords: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct ServiceContentRule {
    managers: serde_json::Map<String, Value>,
}

/// The spec's rules, read once.
struct Rules {
    open: Vec<String>,
    unauthenticated: Unauthenticated,
    privileges: Privileges,
    session: SessionRule,
    event_key: EventKeyRule,
    slots: Vec<(String, Slot)>,
    /// (slot, MoRef member) of each EntityEventArgument slot.
    slot_members: Vec<(String, String)>,
    object_type: ObjectTypeRule,
    categories: Categories,
    collectors: CollectorRule,
    query: QueryRule,
    hello: HelloRule,
    schema_faults: SchemaFaults,
    about: Map<String, Value>,
    /// ServiceContent member -> (MoType, moId), in order.
    managers: Vec<(String, String, String)>,
    data_types: DataTypes,
}

impl Rules {
    fn read(spec: &LoadedSpec) -> Result<Self, SpecError> {
        let entity: EntityArguments = spec.rule("entity_arguments")?;
        let slots: Vec<(String, Slot)> = entity
            .slots
            .into_iter()
            .map(|(name, slot)| {
                serde_json::from_value::<Slot>(slot)
                    .map(|s| (name.clone(), s))
                    .map_err(|e| crate::spec::SpecError::Invalid {
                        file: format!("{API_ID}/spec.json"),
                        message: format!("rule entity_arguments.{name}: {e}"),
                    })
            })
            .collect::<Result<_, _>>()?;
        let slot_members = slots
            .iter()
            .map(|(slot, s): &(String, Slot)| (slot.clone(), s.member.clone()))
            .collect();
        let content: ServiceContentRule = spec.rule("service_content")?;
        let managers = content
            .managers
            .iter()
            .filter_map(|(member, pair)| {
                let pair = pair.as_array()?;
                Some((
                    member.clone(),
                    pair.first()?.as_str()?.to_owned(),
                    pair.get(1)?.as_str()?.to_owned(),
                ))
            })
            .collect();
        let mut about: Map<String, Value> = spec.rule("about")?;
        about.remove("source");
        let open: OpenOperations = spec.rule("open_operations")?;
        Ok(Self {
            open: open.operations,
            unauthenticated: spec.rule("unauthenticated")?,
            privileges: spec.rule("privileges")?,
            session: spec.rule("session")?,
            event_key: spec.rule("event_key")?,
            slots,
            slot_members,
            object_type: spec.rule("object_type")?,
            categories: spec.rule("categories")?,
            collectors: spec.rule("collectors")?,
            query: spec.rule("query")?,
            hello: spec.rule("hello")?,
            schema_faults: spec.rule("schema_faults")?,
            about,
            managers,
            data_types: spec.rule("data_types")?,
        })
    }
}

/// The policies in force: the configuration's, else the spec's defaults.
struct Policies {
    user_name: UserNamePolicy,
    task_info: TaskInfoPolicy,
    unknown_members: UnknownMembers,
    unauthenticated_status: StatusCode,
    object_type_check: bool,
    query_max_count: usize,
    max_body_bytes: usize,
}

struct Session {
    key: String,
    user: User,
    login_time: DateTime<Utc>,
    last_active: DateTime<Utc>,
    user_agent: String,
    call_count: u64,
    /// When it was last used, in calls since the mock started (ties on a frozen clock are
    /// broken by this, not by the time).
    used_at: u64,
    collectors: BTreeMap<String, Collector>,
    /// Collectors created so far: ids are never reused, so a destroyed collector's reference
    /// cannot reach a new one.
    collectors_created: u64,
}

/// Sessions, tasks and counters; locked before the event store when both are needed.
#[derive(Default)]
struct State {
    next_key: i64,
    next_task: u64,
    /// Calls with a session so far.
    calls: u64,
    sessions: HashMap<String, Session>,
    /// Task moId -> TaskInfo.
    tasks: HashMap<String, Value>,
}

/// The most tasks CreateTask keeps; then the oldest are forgotten.
const MAX_TASKS: usize = 10_000;

pub struct VsphereApi {
    spec: Arc<LoadedSpec>,
    rules: Rules,
    policies: Policies,
    users: Vec<User>,
    releases: Vec<String>,
    configured_inventory: Vec<InventoryObject>,
    inventory: RwLock<Inventory>,
    /// Posted events by key, each a [`CompactDoc`] (one allocation; the same JSON back).
    events: Store<CompactDoc>,
    state: Mutex<State>,
}

/// The parts of a `/sdk/vim25/{release}/{MoType}/{moId}/{member}` path.
struct Target<'p> {
    mo_type: &'p str,
    mo_id: String,
    member: &'p str,
}

impl<'p> Target<'p> {
    fn of(path: &'p str) -> Option<Self> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match parts.as_slice() {
            ["sdk", "vim25", _, mo_type, mo_id, member] => Some(Self {
                mo_type,
                mo_id: percent_encoding::percent_decode_str(mo_id)
                    .decode_utf8_lossy()
                    .into_owned(),
                member,
            }),
            _ => None,
        }
    }

    fn moref(&self) -> Value {
        moref(self.mo_type, &self.mo_id)
    }
}

/// A request refused part-way: the answer to send, boxed (the error path is the rare one).
type Refusal = Box<Reply>;

fn refuse<T>(reply: Reply) -> Result<T, Refusal> {
    Err(Box::new(reply))
}

fn timestamp(at: DateTime<Utc>) -> String {
    // `%Y-%m-%dT%H:%M:%S%.6fZ`, without parsing a format string on every write.
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl VsphereApi {
    pub fn new(
        spec: Arc<LoadedSpec>,
        config: &MockConfig,
        budget: &Arc<Budget>,
    ) -> Result<Self, SpecError> {
        let settings: VsphereConfig = config.api().map_err(|e| SpecError::Invalid {
            file: format!("{API_ID} configuration"),
            message: e,
        })?;
        let rules = Rules::read(&spec)?;
        let user_name: Policy<UserNamePolicy> = spec.rule("user_name")?;
        let task_info: Policy<TaskInfoPolicy> = spec.rule("task_info")?;
        let unknown: Policy<UnknownMembers> = spec.rule("unknown_members")?;
        let status = settings
            .unauthenticated_status
            .unwrap_or(rules.unauthenticated.status);
        if !rules.unauthenticated.status_choices.contains(&status) {
            return Err(SpecError::Invalid {
                file: format!("{API_ID} configuration"),
                message: format!(
                    "unauthenticated_status {status} is not one of {:?}",
                    rules.unauthenticated.status_choices
                ),
            });
        }
        let policies = Policies {
            user_name: settings.user_name.unwrap_or(user_name.default),
            task_info: settings.task_info.unwrap_or(task_info.default),
            unknown_members: settings.unknown_members.unwrap_or(unknown.default),
            unauthenticated_status: StatusCode::from_u16(status)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            object_type_check: settings
                .object_type_check
                .unwrap_or(rules.object_type.require_in_inventory),
            query_max_count: settings
                .query_max_count
                .unwrap_or(rules.query.max_count_default),
            max_body_bytes: settings
                .max_body_bytes
                .unwrap_or(spec.spec.body_limit.max_bytes),
        };
        let inventory = Inventory::new(&settings.inventory).map_err(|e| SpecError::Invalid {
            file: format!("{API_ID} inventory"),
            message: e,
        })?;
        let releases = if settings.releases.is_empty() {
            spec.spec
                .versioning
                .as_ref()
                .map(|v| v.supported.clone())
                .unwrap_or_default()
        } else {
            settings.releases.clone()
        };
        let state = State {
            next_key: rules.event_key.first,
            ..State::default()
        };
        Ok(Self {
            events: Store::new(settings.max_events, budget.clone()),
            spec,
            rules,
            policies,
            users: settings.users,
            releases,
            configured_inventory: settings.inventory,
            inventory: RwLock::new(inventory),
            state: Mutex::new(state),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn inventory(&self) -> std::sync::RwLockReadGuard<'_, Inventory> {
        self.inventory.read().unwrap_or_else(|p| p.into_inner())
    }

    fn fault(&self, error: ApiError) -> Reply {
        let not_authenticated = error.kind == "not_authenticated";
        let mut reply = errors::render(&self.spec, None, &error, &[]);
        if not_authenticated {
            reply.status = self.policies.unauthenticated_status;
        }
        reply
    }

    fn invalid_argument(&self, property: &str) -> Reply {
        self.fault(
            ApiError::new("invalid_argument")
                .with("invalid_property", property)
                .with_json("invalid_property", Value::String(property.to_owned())),
        )
    }

    fn invalid_request(&self, detail: impl Into<String>) -> Reply {
        self.fault(ApiError::new("invalid_request").with("detail", detail))
    }

    fn internal(&self, detail: impl Into<String>) -> Reply {
        self.fault(ApiError::new("internal").with("detail", detail))
    }

    fn object_not_found(&self, target: &Value) -> Reply {
        let text = format!(
            "{}:{}",
            target["type"].as_str().unwrap_or_default(),
            target["value"].as_str().unwrap_or_default()
        );
        self.fault(
            ApiError::new("managed_object_not_found")
                .with("object_text", text)
                .with_json("obj", target.clone()),
        )
    }

    fn matching<'a>(&'a self, inventory: &'a Inventory) -> Matching<'a> {
        Matching {
            inventory,
            types: &self.rules.data_types,
            categories: &self.rules.categories,
            slots: &self.rules.slot_members,
        }
    }
}

/// What a request that passed the session check carries on.
struct Call<'a> {
    op: &'a Operation,
    release: &'a str,
    target: Target<'a>,
    /// The session's token, when the call has a live session.
    token: Option<String>,
    /// PostEvent's event, typed and checked against the inventory before the state lock.
    event: Option<Result<Map<String, Value>, Refusal>>,
}

impl VsphereApi {
    fn answer(&self, req: &Request, ctx: &Ctx<'_>) -> Reply {
        if exceeds_body_limit(req, self.policies.max_body_bytes) {
            return self.fault(
                ApiError::new("payload_too_large")
                    .with("limit", self.policies.max_body_bytes.to_string()),
            );
        }
        let (op, params) = match self.spec.route(req.method().as_str(), ctx.path) {
            Routed::Operation(op, params) => (op, params),
            Routed::NoSuchPath => {
                return self.fault(ApiError::new("not_found").with("detail", ctx.path))
            }
            Routed::MethodNotAllowed(allowed) => {
                let mut reply = self.fault(
                    ApiError::new("method_not_allowed").with("http_method", req.method().as_str()),
                );
                let mut allowed: Vec<&str> = allowed;
                allowed.sort_unstable();
                allowed.dedup();
                reply.set_header(ALLOW, &allowed.join(", "));
                return reply;
            }
        };
        if op.id == "hello" {
            return self.hello(req, op);
        }
        let release = params
            .iter()
            .find(|(name, _)| *name == "release")
            .map(|(_, v)| *v)
            .unwrap_or_default();
        let Some(target) = Target::of(ctx.path) else {
            return self.fault(ApiError::new("not_found").with("detail", ctx.path));
        };
        if !self.releases.iter().any(|r| r == release) {
            return self
                .fault(ApiError::new("not_found").with("detail", format!("release {release}")));
        }
        let token = req
            .headers()
            .get(self.rules.session.header.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // What needs no session state (the body's decoding and schema check, PostEvent's typed
        // walk) is done before the state lock, so concurrent calls do not queue behind it. Its
        // refusals are still answered where the checks below put them.
        let body = self.body(op, req);
        let event = match (&body, op.id.as_str()) {
            (Ok(body), "postEvent") => Some(self.prepare_event(body)),
            _ => None,
        };
        let mut state = self.state();
        let now = ctx.clock.now();
        let live = token
            .as_ref()
            .filter(|t| state.sessions.contains_key(t.as_str()))
            .cloned();
        state.calls += 1;
        let calls = state.calls;
        if let Some(session) = live.as_ref().and_then(|t| state.sessions.get_mut(t)) {
            session.last_active = now;
            session.call_count += 1;
            session.used_at = calls;
        }
        if live.is_none() && !self.rules.open.contains(&op.id) {
            return self.fault(
                ApiError::new("not_authenticated")
                    .with_json("object", target.moref())
                    .with_json(
                        "privilege_id",
                        Value::String(self.rules.unauthenticated.privilege_id.clone()),
                    ),
            );
        }
        if let Err(reply) = self.check_object(&state, op, &target, live.as_deref()) {
            return *reply;
        }
        if let Some(privilege) = self.rules.privileges.by_operation.get(&op.id) {
            let holds = live
                .as_ref()
                .and_then(|t| state.sessions.get(t))
                .is_some_and(|s| s.user.holds(privilege));
            if !holds {
                let on = &self.rules.privileges.checked_on;
                return self.fault(
                    ApiError::new("no_permission")
                        .with_json("object", moref(&on.mo_type, &on.value))
                        .with_json("privilege_id", Value::String(privilege.clone())),
                );
            }
        }
        let body = match body {
            Ok(body) => body,
            Err(reply) => return *reply,
        };
        let mut call = Call {
            op,
            release,
            target,
            token: live,
            event,
        };
        self.run(&mut state, &mut call, &body, req, (ctx.ids, now))
    }

    /// Is the call's managed object one this server has, and (for the catch-all routes) the
    /// method or property one it has?
    fn check_object(
        &self,
        state: &State,
        op: &Operation,
        target: &Target<'_>,
        token: Option<&str>,
    ) -> Result<(), Refusal> {
        let known = self.knows(state, target.mo_type, &target.mo_id, token);
        if !known {
            return refuse(self.object_not_found(&target.moref()));
        }
        if op.id == "callMethod" || op.id == "readProperty" {
            return refuse(
                self.fault(
                    ApiError::new("method_not_found")
                        .with("method_name", target.member)
                        .with("mo_type", target.mo_type)
                        .with_json("receiver", target.moref())
                        .with_json("method_name", Value::String(target.member.to_owned())),
                ),
            );
        }
        Ok(())
    }

    /// Does the server have the object `mo_type:mo_id` (for this session)?
    fn knows(&self, state: &State, mo_type: &str, mo_id: &str, token: Option<&str>) -> bool {
        if mo_type == "ServiceInstance" {
            return mo_id == "ServiceInstance";
        }
        if mo_type == "EventHistoryCollector" {
            return token
                .and_then(|t| state.sessions.get(t))
                .is_some_and(|s| s.collectors.contains_key(mo_id));
        }
        if mo_type == "Task" {
            return state.tasks.contains_key(mo_id);
        }
        self.rules
            .managers
            .iter()
            .any(|(_, t, v)| t == mo_type && v == mo_id)
            || self.inventory().find(mo_type, mo_id).is_some()
    }

    /// The request's parameters: JSON, an object, valid against the operation's schema. An
    /// empty body is an empty object (methods without parameters).
    fn body(&self, op: &Operation, req: &Request) -> Result<Value, Refusal> {
        let Some(request) = &op.request else {
            return Ok(Value::Object(Map::new()));
        };
        let value = if req.body().iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else {
            match self.spec.decode_request(op, req.headers(), req.body()) {
                Ok(value) => value,
                Err(BodyError::UnsupportedMediaType(media_type)) => {
                    return refuse(self.fault(
                        ApiError::new("unsupported_media_type").with("media_type", media_type),
                    ))
                }
                Err(BodyError::Malformed(why)) => {
                    return refuse(
                        self.invalid_request(format!("The request body is not JSON: {why}")),
                    )
                }
            }
        };
        let violations = self
            .spec
            .schemas
            .violations(&request.schema, &value)
            .map_err(|e| self.internal(e.to_string()))?;
        if violations.is_empty() {
            return Ok(value);
        }
        let rule = &self.rules.schema_faults;
        for violation in violations
            .iter()
            .filter(|v| !rule.deserialisation_keywords.contains(&v.keyword))
        {
            // The member at fault: the one missing, else the last one of the path.
            let member = match &violation.missing {
                Some(missing) => missing.as_str(),
                None => violation
                    .instance_path
                    .rsplit('/')
                    .next()
                    .unwrap_or_default(),
            };
            let named = self
                .rules
                .schema_faults
                .invalid_argument_members
                .iter()
                .find(|m| *m == member);
            if let Some(member) = named {
                return refuse(self.invalid_argument(member));
            }
        }
        let detail = violations
            .iter()
            .map(|v| v.message.clone())
            .collect::<Vec<_>>()
            .join("; ");
        refuse(self.fault(ApiError::new(&self.rules.schema_faults.default).with("detail", detail)))
    }

    fn run(
        &self,
        state: &mut State,
        call: &mut Call<'_>,
        body: &Value,
        req: &Request,
        (ids, now): (&IdGenerator, DateTime<Utc>),
    ) -> Reply {
        match call.op.id.as_str() {
            "retrieveServiceContent" => {
                Reply::value(StatusCode::OK, self.service_content(call.release))
            }
            "login" => self.login(state, call, body, req, (ids, now)),
            "logout" => {
                if let Some(token) = &call.token {
                    state.sessions.remove(token);
                }
                Reply::empty(StatusCode::NO_CONTENT)
            }
            "currentSession" => match call.token.as_ref().and_then(|t| state.sessions.get(t)) {
                Some(session) => Reply::value(StatusCode::OK, self.user_session(session)),
                None => Reply::empty(StatusCode::NO_CONTENT),
            },
            "createTask" => self.create_task(state, call, body, now),
            "postEvent" => self.post_event(state, call, body, now),
            "queryEvents" => self.query_events(body),
            "latestEvent" => match self.events.read().items().last() {
                Some(event) => Reply::value(StatusCode::OK, event.to_value()),
                None => Reply::empty(StatusCode::NO_CONTENT),
            },
            "maxCollector" => Reply::value(
                StatusCode::OK,
                Value::from(self.rules.collectors.max_per_session),
            ),
            "createCollectorForEvents" => self.create_collector(state, call, body),
            _ => self.collector_call(state, call, body),
        }
    }

    fn service_content(&self, release: &str) -> Value {
        let mut content = Map::new();
        content.insert("_typeName".into(), json!("ServiceContent"));
        let (first, rest) = self
            .rules
            .managers
            .split_at(1.min(self.rules.managers.len()));
        for (member, mo_type, value) in first {
            content.insert(member.clone(), moref(mo_type, value));
        }
        let mut about = Map::new();
        about.insert("_typeName".into(), json!("AboutInfo"));
        about.extend(self.rules.about.clone());
        about.insert("apiVersion".into(), json!(release));
        about.insert(
            "instanceUuid".into(),
            json!("00000000-0000-4000-8000-000000000001"),
        );
        content.insert("about".into(), Value::Object(about));
        for (member, mo_type, value) in rest {
            content.insert(member.clone(), moref(mo_type, value));
        }
        Value::Object(content)
    }

    fn user_session(&self, session: &Session) -> Value {
        json!({
            "_typeName": "UserSession",
            "key": session.key,
            "userName": session.user.user_name,
            "fullName": session.user.full_name,
            "loginTime": timestamp(session.login_time),
            "lastActiveTime": timestamp(session.last_active),
            "locale": self.rules.session.locale,
            "messageLocale": self.rules.session.locale,
            "extensionSession": false,
            "ipAddress": "127.0.0.1",
            "userAgent": session.user_agent,
            "callCount": session.call_count,
        })
    }

    fn login(
        &self,
        state: &mut State,
        call: &Call<'_>,
        body: &Value,
        req: &Request,
        (ids, now): (&IdGenerator, DateTime<Utc>),
    ) -> Reply {
        let invalid_login = || self.fault(ApiError::new("invalid_login"));
        // vcsim: a Login on a session that is already logged in fails (research A7).
        if call.token.is_some() {
            return invalid_login();
        }
        let name = body["userName"].as_str().unwrap_or_default();
        let password = body["password"].as_str().unwrap_or_default();
        let Some(user) = self
            .users
            .iter()
            .find(|u| u.user_name == name && secrets_equal(password, &u.password))
        else {
            return invalid_login();
        };
        if state.sessions.len() >= self.rules.session.max_sessions {
            // The session idle longest makes room.
            if let Some(idle) = state
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.used_at)
                .map(|(t, _)| t.clone())
            {
                state.sessions.remove(&idle);
            }
        }
        let alphabet = self.rules.session.key_alphabet.as_bytes();
        let token = ids.random_chars(alphabet, self.rules.session.key_length);
        let hex = |n| ids.random_chars(b"0123456789abcdef", n);
        let key = format!("{}-{}-{}-{}-{}", hex(8), hex(4), hex(4), hex(4), hex(12));
        let user_agent = req
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let session = Session {
            key,
            user: user.clone(),
            login_time: now,
            last_active: now,
            user_agent,
            call_count: 0,
            used_at: state.calls,
            collectors: BTreeMap::new(),
            collectors_created: 0,
        };
        let answer = self.user_session(&session);
        state.sessions.insert(token.clone(), session);
        Reply::value(StatusCode::OK, answer).header(self.rules.session.header.as_str(), &token)
    }
}

impl VsphereApi {
    fn user_of<'s>(&self, state: &'s State, call: &Call<'_>) -> Option<&'s User> {
        call.token
            .as_ref()
            .and_then(|t| state.sessions.get(t))
            .map(|s| &s.user)
    }

    /// Store an event with the server's key, chainId (or the given chain) and createdTime.
    fn store_event(
        &self,
        state: &mut State,
        mut event: Map<String, Value>,
        chain: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<i64, Refusal> {
        let key = state.next_key;
        if key > self.rules.event_key.max {
            return refuse(self.internal(format!(
                "the event key space (up to {}) is used up",
                self.rules.event_key.max
            )));
        }
        event.insert("key".into(), Value::from(key));
        event.insert("chainId".into(), Value::from(chain.unwrap_or(key)));
        event.insert("createdTime".into(), Value::String(timestamp(now)));
        self.events
            .write()
            .insert(key.to_string(), CompactDoc::encode(&Value::Object(event)))
            .map_err(|refused| self.internal(refused.to_string()))?;
        state.next_key = key + 1;
        Ok(key)
    }

    /// PostEvent's `eventToPost`, typed (the typed walk) and its references checked against
    /// the inventory; needs no session state.
    fn prepare_event(&self, body: &Value) -> Result<Map<String, Value>, Refusal> {
        let types = &self.rules.data_types;
        let unknown = self.policies.unknown_members;
        let event = match types.normalise(&body["eventToPost"], "Event", unknown, "eventToPost") {
            Ok(Value::Object(event)) => event,
            Ok(_) => return refuse(self.invalid_request("eventToPost must be an object")),
            Err(e) => return refuse(self.invalid_request(e.message)),
        };
        let type_name = event["_typeName"].as_str().unwrap_or("Event");
        let inventory = self.inventory();
        for (slot, rule) in &self.rules.slots {
            let Some(argument) = event.get(slot) else {
                continue;
            };
            let reference = &argument[rule.member.as_str()];
            let resolved = inventory.resolve(reference);
            if !resolved.is_some_and(|o| rule.types.contains(&o.mo_type)) {
                return refuse(self.invalid_argument(slot));
            }
        }
        let entity = event.get("entity").and_then(|e| e.get("entity"));
        let managed_object = event.get("managedObject");
        for (member, reference) in [("entity", entity), ("managedObject", managed_object)] {
            if reference.is_some_and(|r| inventory.resolve(r).is_none()) {
                return refuse(self.invalid_argument(member));
            }
        }
        if types.is_a(type_name, "EventEx") {
            if event
                .get("eventTypeId")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return refuse(self.invalid_argument("eventTypeId"));
            }
            if let Some(object_type) = event.get("objectType").and_then(Value::as_str) {
                let entity_type = self
                    .rules
                    .object_type
                    .entity_types
                    .iter()
                    .any(|t| t == object_type);
                let present = event
                    .get("objectId")
                    .and_then(Value::as_str)
                    .is_none_or(|id| inventory.find(object_type, id).is_some());
                if !entity_type || (self.policies.object_type_check && !present) {
                    return refuse(self.invalid_argument("objectType"));
                }
            }
        }
        Ok(event)
    }

    fn post_event(
        &self,
        state: &mut State,
        call: &mut Call<'_>,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Reply {
        // Prepared before the state lock by `answer`; prepared here otherwise.
        let prepared = call
            .event
            .take()
            .unwrap_or_else(|| self.prepare_event(body));
        let mut event = match prepared {
            Ok(event) => event,
            Err(reply) => return *reply,
        };
        let mut chain = None;
        if self.policies.task_info == TaskInfoPolicy::Chain && body.get("taskInfo").is_some() {
            let task = body.pointer("/taskInfo/task/value").and_then(Value::as_str);
            match task.and_then(|t| state.tasks.get(t)) {
                Some(info) => chain = info["eventChainId"].as_i64(),
                None => return self.invalid_argument("taskInfo"),
            }
        }
        if self.policies.user_name == UserNamePolicy::Session {
            if let Some(user) = self.user_of(state, call) {
                event.insert("userName".into(), Value::String(user.user_name.clone()));
            }
        }
        match self.store_event(state, event, chain, now) {
            Ok(_) => Reply::empty(StatusCode::NO_CONTENT),
            Err(reply) => *reply,
        }
    }

    fn create_task(
        &self,
        state: &mut State,
        call: &Call<'_>,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Reply {
        let obj = match self.rules.data_types.normalise(
            &body["obj"],
            "ManagedObjectReference",
            UnknownMembers::Ignore,
            "obj",
        ) {
            Ok(obj) => obj,
            Err(e) => return self.invalid_request(e.message),
        };
        let entity_name = match self.inventory().resolve(&obj) {
            Some(object) => object.name.clone(),
            None => return self.invalid_argument("obj"),
        };
        if state.tasks.len() >= MAX_TASKS {
            return self.internal(format!("the mock keeps at most {MAX_TASKS} tasks"));
        }
        state.next_task += 1;
        let task_id = format!("task-{}", state.next_task);
        let user = self
            .user_of(state, call)
            .map(|u| u.user_name.clone())
            .unwrap_or_default();
        let task_type = body["taskTypeId"].as_str().unwrap_or_default().to_owned();
        let mut info = json!({
            "_typeName": "TaskInfo",
            "key": task_id,
            "task": moref("Task", &task_id),
            "descriptionId": task_type,
            "entity": obj,
            "entityName": entity_name,
            "state": "queued",
            "cancelled": false,
            "cancelable": body["cancelable"].as_bool().unwrap_or(false),
            "reason": {"_typeName": "TaskReasonUser", "userName": user},
            "queueTime": timestamp(now),
            "eventChainId": state.next_key,
        });
        for member in ["parentTaskKey", "activationId"] {
            if let Some(v) = body.get(member) {
                info[member] = v.clone();
            }
        }
        // The task's own event opens its chain (chainId = its key), as vCenter logs a TaskEvent.
        let event = json!({
            "_typeName": "TaskEvent",
            "key": 0, "chainId": 0, "createdTime": "",
            "userName": user,
            "fullFormattedMessage": format!("Task: {task_type}"),
            "info": info.clone(),
        });
        let Value::Object(event) = event else {
            unreachable!("a json object")
        };
        if let Err(reply) = self.store_event(state, event, None, now) {
            return *reply;
        }
        state.tasks.insert(task_id, info.clone());
        Reply::value(StatusCode::OK, info)
    }

    fn filter_of(&self, body: &Value) -> Result<(Value, Filter), Refusal> {
        let spec = self
            .rules
            .data_types
            .normalise(
                &body["filter"],
                "EventFilterSpec",
                self.policies.unknown_members,
                "filter",
            )
            .map_err(|e| self.invalid_request(e.message))?;
        let filter =
            Filter::parse(&spec, &self.inventory()).map_err(|bad| self.invalid_argument(&bad.0))?;
        Ok((spec, filter))
    }

    fn query_events(&self, body: &Value) -> Reply {
        let (_, filter) = match self.filter_of(body) {
            Ok(parsed) => parsed,
            Err(reply) => return *reply,
        };
        let max = filter.max_count.unwrap_or(self.policies.query_max_count);
        let inventory = self.inventory();
        let with = self.matching(&inventory);
        let events = self.events.read();
        let found: Vec<Value> = events
            .items()
            .iter()
            .rev()
            .filter(|e| filter.matches(e, &with))
            .take(max)
            .map(|e| filter.shown(e))
            .collect();
        Reply::value(StatusCode::OK, Value::Array(found))
    }

    fn create_collector(&self, state: &mut State, call: &Call<'_>, body: &Value) -> Reply {
        let (spec, filter) = match self.filter_of(body) {
            Ok(parsed) => parsed,
            Err(reply) => return *reply,
        };
        let Some(session) = call.token.as_ref().and_then(|t| state.sessions.get_mut(t)) else {
            return self.internal("no session");
        };
        let rule = &self.rules.collectors;
        if session.collectors.len() >= rule.max_per_session {
            return self.fault(ApiError::new("invalid_state").with(
                "detail",
                format!(
                    "a session holds at most {} collectors",
                    rule.max_per_session
                ),
            ));
        }
        session.collectors_created += 1;
        let id = format!(
            "{}{}]{:08x}",
            rule.id_prefix, session.key, session.collectors_created
        );
        session
            .collectors
            .insert(id.clone(), Collector::new(spec, filter, rule.page_size));
        Reply::value(StatusCode::OK, moref("EventHistoryCollector", &id))
    }

    fn collector_call(&self, state: &mut State, call: &Call<'_>, body: &Value) -> Reply {
        let Some(session) = call.token.as_ref().and_then(|t| state.sessions.get_mut(t)) else {
            return self.internal("no session");
        };
        let id = call.target.mo_id.as_str();
        if call.op.id == "destroyCollector" {
            session.collectors.remove(id);
            return Reply::empty(StatusCode::NO_CONTENT);
        }
        let Some(collector) = session.collectors.get_mut(id) else {
            return self.object_not_found(&call.target.moref());
        };
        let range = &self.rules.collectors.max_count;
        let max_count = body["maxCount"].as_u64().map(|n| n as usize);
        let inventory = self.inventory();
        let with = self.matching(&inventory);
        let events = self.events.read();
        let events = events.items();
        let list = |items: Vec<Value>| Reply::value(StatusCode::OK, Value::Array(items));
        match call.op.id.as_str() {
            "readNextEvents" | "readPreviousEvents" | "setCollectorPageSize" => {
                let Some(max) = max_count.filter(|n| (range.min..=range.max).contains(n)) else {
                    return self.invalid_argument("maxCount");
                };
                match call.op.id.as_str() {
                    "readNextEvents" => list(collector.read_next(events, &with, max)),
                    "readPreviousEvents" => list(collector.read_previous(events, &with, max)),
                    _ => {
                        collector.page_size = max;
                        Reply::empty(StatusCode::NO_CONTENT)
                    }
                }
            }
            "resetCollector" => {
                collector.reset(events, &with);
                Reply::empty(StatusCode::NO_CONTENT)
            }
            "rewindCollector" => {
                collector.rewind();
                Reply::empty(StatusCode::NO_CONTENT)
            }
            "latestPage" => list(collector.latest_page(events, &with)),
            "collectorFilter" => Reply::value(StatusCode::OK, collector.spec.clone()),
            other => self.internal(format!("operation {other} has no handler")),
        }
    }

    /// `POST /api/vcenter/system?action=hello` (vAPI, research V-21): the first of the client's
    /// releases this server serves, or "".
    fn hello(&self, req: &Request, op: &Operation) -> Reply {
        let rule = &self.rules.hello;
        let bad =
            |detail: String| self.fault(ApiError::new("hello_invalid").with("detail", detail));
        let pairs = query_pairs(req.uri().query()).unwrap_or_default();
        if param(&pairs, "action") != Some(rule.action.as_str()) {
            return bad(format!("the action parameter must be '{}'", rule.action));
        }
        let body = match self.spec.decode_request(op, req.headers(), req.body()) {
            Ok(body) => body,
            Err(BodyError::UnsupportedMediaType(media_type)) => {
                return self
                    .fault(ApiError::new("unsupported_media_type").with("media_type", media_type))
            }
            Err(BodyError::Malformed(why)) => return bad(format!("the body is not JSON: {why}")),
        };
        let schema = op
            .request
            .as_ref()
            .map(|r| r.schema.as_str())
            .unwrap_or_default();
        match self.spec.schemas.violations(schema, &body) {
            Ok(v) if v.is_empty() => {}
            Ok(v) => {
                return bad(v
                    .iter()
                    .map(|v| v.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "))
            }
            Err(e) => return self.internal(e.to_string()),
        }
        let releases: Vec<&str> = body["api_releases"]
            .as_array()
            .map(|items| items.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if releases.is_empty() {
            return bad("api_releases must name at least one release".into());
        }
        if releases.len() > rule.max_releases {
            return bad(format!(
                "api_releases may name at most {} releases",
                rule.max_releases
            ));
        }
        if let Some(long) = releases
            .iter()
            .find(|r| r.chars().count() > rule.max_release_length)
        {
            return bad(format!(
                "a release may have at most {} characters ('{long}' has {})",
                rule.max_release_length,
                long.chars().count()
            ));
        }
        let chosen = releases
            .iter()
            .find(|r| self.releases.iter().any(|s| s == *r))
            .copied()
            .unwrap_or("");
        Reply::value(StatusCode::OK, json!({ "api_release": chosen }))
    }

    fn stored(&self) -> Vec<Value> {
        self.events
            .read()
            .items()
            .iter()
            .map(CompactDoc::to_value)
            .collect()
    }

    fn set_inventory(&self, body: &[u8]) -> Result<Value, String> {
        let objects: Vec<InventoryObject> = serde_json::from_slice(body)
            .map_err(|e| format!("an inventory is a list of {{type, value, name, parent}}: {e}"))?;
        let inventory = Inventory::new(&objects)?;
        *self.inventory.write().unwrap_or_else(|p| p.into_inner()) = inventory;
        Ok(json!({"objects": objects.len()}))
    }
}

impl Api for VsphereApi {
    fn spec(&self) -> &LoadedSpec {
        &self.spec
    }

    /// Reads over a large store are answered off the I/O threads.
    fn heavy(&self, req: &Request, path: &str) -> bool {
        self.events.len() > api::HEAVY_SCAN_ITEMS
            && matches!(
                self.spec.route(req.method().as_str(), path),
                Routed::Operation(op, _) if matches!(op.id.as_str(), "queryEvents" | "createCollectorForEvents" | "readNextEvents" | "readPreviousEvents" | "latestPage" | "resetCollector")
            )
    }

    fn handle(&self, req: &Request, ctx: &Ctx<'_>) -> Reply {
        self.answer(req, ctx)
    }

    fn reset(&self) {
        self.events.clear();
        let mut state = self.state();
        *state = State {
            next_key: self.rules.event_key.first,
            ..State::default()
        };
        if let Ok(inventory) = Inventory::new(&self.configured_inventory) {
            *self.inventory.write().unwrap_or_else(|p| p.into_inner()) = inventory;
        }
    }

    fn accounts(&self) -> Vec<Account> {
        let permission = self
            .spec
            .spec
            .auth
            .first()
            .and_then(|a| a.permission.clone())
            .unwrap_or_default();
        let release = self
            .spec
            .spec
            .versioning
            .as_ref()
            .map(|v| v.current.clone())
            .unwrap_or_default();
        self.users
            .iter()
            .map(|u| {
                Account::new(
                    Credential::Password {
                        user: u.user_name.clone(),
                        password: u.password.clone(),
                    },
                    permission.is_empty() || u.holds(&permission),
                )
                .with_var("user", &u.user_name)
                .with_var("password", &u.password)
                .with_var("release", &release)
            })
            .collect()
    }

    fn body_limit(&self) -> usize {
        self.policies.max_body_bytes
    }

    fn admin(&self, req: &Request, path: &str, _ctx: &Ctx<'_>) -> Option<Response> {
        match (req.method().as_str(), path) {
            ("GET", "events") => Some(json_response(
                StatusCode::OK,
                &Value::Array(self.stored()),
                false,
            )),
            ("GET", "inventory") => {
                let objects: Vec<InventoryObject> =
                    self.inventory().objects().into_iter().cloned().collect();
                Some(json_response(StatusCode::OK, &json!(objects), false))
            }
            ("POST", "inventory") => Some(match self.set_inventory(req.body()) {
                Ok(answer) => json_response(StatusCode::OK, &answer, false),
                Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({"error": e}), false),
            }),
            _ => None,
        }
    }

    fn error(&self, kind: &str, _req: &Request, _ctx: &Ctx<'_>) -> Reply {
        let error = ApiError::new(kind).with("detail", "injected fault");
        let error = match kind {
            "invalid_argument" => error
                .with("invalid_property", "injected")
                .with_json("invalid_property", json!("injected")),
            "managed_object_not_found" => error.with("object_text", "injected"),
            "method_not_found" => error
                .with("method_name", "injected")
                .with("mo_type", "injected"),
            "method_not_allowed" => error.with("http_method", "injected"),
            "unsupported_media_type" => error.with("media_type", "injected"),
            "payload_too_large" => error.with("limit", self.policies.max_body_bytes.to_string()),
            _ => error,
        };
        self.fault(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_with_microseconds_and_z_over_the_clocks_range() {
        let instants = [
            crate::clock::MockClock::EARLIEST,
            DateTime::from_timestamp(1_718_039_611, 123_456_789).unwrap(),
            DateTime::from_timestamp(1_718_039_611, 0).unwrap(),
            DateTime::from_timestamp_millis(crate::clock::MockClock::LATEST_MS).unwrap(),
        ];
        for at in instants {
            assert_eq!(
                timestamp(at),
                at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            );
        }
        assert_eq!(timestamp(instants[1]), "2024-06-10T17:13:31.123456Z");
    }
}
