//! Running scenarios against a target: the embedded mock (a fresh server per scenario) or a
//! live endpoint.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use event_mock::{MockConfig, MockServer};

use crate::checks::{check, short, Observed};
use crate::report::{ScenarioOutcome, ScenarioResult, SuiteReport};
use crate::scenario::{
    AkSkOptions, Auth, Capability, CaptureFrom, RequestSpec, Scenario, SchemaChoice, Step, Suite,
};
use crate::transcript::Normaliser;

#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Credentials {
    pub fn new(user: &str, password: &str) -> Self {
        Self {
            user: user.into(),
            password: password.into(),
        }
    }

    fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.user, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// Where scenarios run.
#[derive(Debug, Clone)]
pub enum TargetKind {
    /// The in-process mock, started afresh (deterministic) for every scenario.
    Embedded(MockConfig),
    Live(LiveTarget),
}

/// A Huawei access key pair.
#[derive(Debug, Clone)]
pub struct AccessKeyPair {
    pub ak: String,
    pub sk: String,
}

impl AccessKeyPair {
    pub fn new(ak: &str, sk: &str) -> Self {
        Self {
            ak: ak.into(),
            sk: sk.into(),
        }
    }
}

/// The credentials a target offers: a main set, and a restricted set that authenticates but lacks
/// the API's permission (for 403 checks). Each API uses the schemes its spec names.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    pub basic: Option<Credentials>,
    pub access_key: Option<AccessKeyPair>,
    pub token: Option<String>,
    pub restricted_basic: Option<Credentials>,
    pub restricted_access_key: Option<AccessKeyPair>,
}

/// A live endpoint: the API's base URL (e.g. `https://host:8080/mws`) and accounts.
#[derive(Debug, Clone)]
pub struct LiveTarget {
    pub url: String,
    pub accounts: Accounts,
    /// The target serves the mock's `/__admin` control plane at `admin_url`.
    pub admin_url: Option<String>,
    /// Values for `{{name}}` in scenarios, e.g. `project_id`.
    pub vars: BTreeMap<String, String>,
}

/// One resolved target for one scenario run.
#[derive(Debug, Clone)]
pub struct Target {
    pub api_url: String,
    pub admin_url: Option<String>,
    pub accounts: Accounts,
    pub vars: BTreeMap<String, String>,
    /// Tags data a scenario creates, so queries on a shared live system see only its own events.
    pub run_tag: String,
}

impl Target {
    pub fn capabilities(&self) -> BTreeSet<Capability> {
        let mut caps = BTreeSet::new();
        if self.admin_url.is_some() {
            caps.insert(Capability::Admin);
        }
        if self.accounts.restricted_basic.is_some() || self.accounts.restricted_access_key.is_some()
        {
            caps.insert(Capability::RestrictedUser);
        }
        if self.accounts.access_key.is_some() {
            caps.insert(Capability::AccessKey);
        }
        if self.accounts.token.is_some() {
            caps.insert(Capability::Token);
        }
        caps
    }

    /// The target's clock in epoch milliseconds: its control plane's clock when it has one (a
    /// frozen mock), else this machine's.
    pub async fn now_ms(&self, client: &reqwest::Client) -> i64 {
        if let Some(admin) = &self.admin_url {
            if let Ok(resp) = client.get(format!("{admin}/clock")).send().await {
                if let Ok(body) = resp.json::<Value>().await {
                    if let Some(ms) = body.get("now_ms").and_then(Value::as_i64) {
                        return ms;
                    }
                }
            }
        }
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// The run tag of the embedded mock: fixed, so snapshots are stable.
pub const EMBEDDED_RUN_TAG: &str = "r0001";

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
        .unwrap_or_default()
}

/// Run every scenario of `suite` (or those named in `only`) on `kind`.
pub async fn run_suite(suite: &Suite, kind: &TargetKind, only: Option<&[String]>) -> SuiteReport {
    let client = http_client();
    let live_tag = format!("r{:08x}", rand_tag());
    let mut results = Vec::new();
    for (index, scenario) in suite.scenarios.iter().enumerate() {
        if only.is_some_and(|names| !names.iter().any(|n| n == &scenario.name)) {
            continue;
        }
        let result = match kind {
            TargetKind::Embedded(config) => match MockServer::start_with(config.clone()).await {
                Ok(server) => {
                    let target = embedded_target(&server, suite.api(), config);
                    run_scenario(&client, suite, scenario, &target).await
                }
                Err(e) => ScenarioResult::failed(
                    scenario,
                    vec![format!("could not start the embedded mock: {e}")],
                ),
            },
            TargetKind::Live(live) => {
                let target = Target {
                    api_url: live.url.trim_end_matches('/').to_owned(),
                    admin_url: live.admin_url.clone(),
                    accounts: live.accounts.clone(),
                    vars: live.vars.clone(),
                    // Scenarios share a live system: each gets its own tag.
                    run_tag: format!("{live_tag}s{index:03}"),
                };
                run_scenario(&client, suite, scenario, &target).await
            }
        };
        results.push(result);
    }
    let target = match kind {
        TargetKind::Embedded(_) => "embedded mock".to_owned(),
        TargetKind::Live(live) => live.url.clone(),
    };
    let covered = suite
        .scenarios
        .iter()
        .flat_map(|s| s.requirements.iter().cloned())
        .collect();
    SuiteReport::new(&suite.spec, target, results, &covered)
}

fn rand_tag() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}

/// The target for a freshly started embedded mock: its first all-permission account is the main
/// one; an account without the API's permission, if configured, is the restricted one.
pub fn embedded_target(server: &MockServer, api: &str, config: &MockConfig) -> Target {
    let permission = event_mock::spec::load(api)
        .ok()
        .and_then(|s| s.permission().map(str::to_owned))
        .unwrap_or_default();
    let users = &config.mws.users;
    let user = |allowed: bool| {
        users
            .iter()
            .find(|u| u.may(&permission) == allowed)
            .map(|u| Credentials::new(&u.name, &u.password))
    };
    let keys = &config.ces.access_keys;
    let key = |allowed: bool| {
        keys.iter()
            .find(|k| k.may(&permission) == allowed)
            .map(|k| AccessKeyPair::new(&k.ak, &k.sk))
    };
    let mut vars = BTreeMap::new();
    if let Some(project) = keys.iter().find_map(|k| k.project_ids.first()) {
        vars.insert("project_id".to_owned(), project.clone());
    }
    Target {
        api_url: server.api_url(api).unwrap_or_else(|| server.url()),
        admin_url: config.admin.then(|| format!("{}/__admin", server.url())),
        accounts: Accounts {
            basic: user(true),
            access_key: key(true),
            token: config
                .ces
                .tokens
                .iter()
                .find(|t| t.may(&permission))
                .map(|t| t.token.clone()),
            restricted_basic: user(false),
            restricted_access_key: key(false),
        },
        vars,
        run_tag: EMBEDDED_RUN_TAG.into(),
    }
}

/// Run one scenario; a missing capability skips it.
pub async fn run_scenario(
    client: &reqwest::Client,
    suite: &Suite,
    scenario: &Scenario,
    target: &Target,
) -> ScenarioResult {
    let missing: Vec<String> = scenario
        .needs
        .difference(&target.capabilities())
        .map(|c| c.to_string())
        .collect();
    if !missing.is_empty() {
        return ScenarioResult {
            name: scenario.name.clone(),
            file: scenario.file.clone(),
            requirements: scenario.requirements.clone(),
            outcome: ScenarioOutcome::Skipped(format!("target lacks: {}", missing.join(", "))),
            transcript: Value::Array(Vec::new()),
        };
    }
    let mut vars: BTreeMap<String, String> = target.vars.clone();
    vars.insert("run".into(), target.run_tag.clone());
    let mut exchanges = Vec::new();
    let mut failures = Vec::new();
    'steps: for (index, step) in scenario.steps.iter().enumerate() {
        let count = step.repeat.unwrap_or(1).max(1);
        let width = count.to_string().len();
        for i in 1..=count {
            if step.repeat.is_some() {
                vars.insert("i".into(), i.to_string());
                vars.insert("i_pad".into(), format!("{i:0width$}"));
                vars.insert("i0_pad".into(), format!("{:0width$}", i - 1));
            }
            let label = if step.repeat.is_some() {
                format!(
                    "step {} '{}' (repetition {i} of {count})",
                    index + 1,
                    step.name
                )
            } else {
                format!("step {} '{}'", index + 1, step.name)
            };
            match run_step(client, suite, step, target, &mut vars).await {
                Ok((exchange, step_failures)) => {
                    if i == 1 || i == count {
                        exchanges.push(exchange);
                    }
                    if !step_failures.is_empty() {
                        failures.extend(step_failures.into_iter().map(|f| format!("{label}: {f}")));
                        break 'steps;
                    }
                }
                Err(e) => {
                    failures.push(format!("{label}: {e}"));
                    break 'steps;
                }
            }
        }
    }
    let normaliser = Normaliser::new(&suite.spec, target);
    let transcript = normaliser.normalise(Value::Array(exchanges));
    ScenarioResult {
        name: scenario.name.clone(),
        file: scenario.file.clone(),
        requirements: scenario.requirements.clone(),
        outcome: if failures.is_empty() {
            ScenarioOutcome::Passed
        } else {
            ScenarioOutcome::Failed(failures)
        },
        transcript,
    }
}

/// Replace `{{name}}` with variables, and `{{name+N}}` / `{{name-N}}` with integer arithmetic on
/// a variable holding an integer (e.g. `{{now_ms-3590000}}`). An unknown variable is left as is
/// (and shows in diffs).
fn template(text: &str, vars: &BTreeMap<String, String>) -> String {
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
fn template_json(value: &Value, vars: &BTreeMap<String, String>) -> Value {
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

const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

struct Built {
    url: String,
    method: reqwest::Method,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    /// What the transcript shows of the request.
    record: Value,
}

/// The header an API's token goes in (from the spec's `token` auth scheme).
fn token_header(suite: &Suite) -> String {
    suite
        .spec
        .token_header()
        .unwrap_or("X-Auth-Token")
        .to_owned()
}

fn default_scheme(suite: &Suite) -> &str {
    suite.spec.default_auth_scheme().unwrap_or("basic")
}

async fn build_request(
    client: &reqwest::Client,
    suite: &Suite,
    req: &RequestSpec,
    target: &Target,
    vars: &BTreeMap<String, String>,
) -> Result<Built, String> {
    let base = if req.admin {
        target
            .admin_url
            .clone()
            .ok_or("the target has no control plane")?
    } else {
        target.api_url.clone()
    };
    let path = template(&req.path, vars);
    let mut query_record = Map::new();
    let mut encoded: Vec<String> = Vec::new();
    for (name, value) in &req.query {
        let value = template_json(value, vars);
        let text = match &value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        encoded.push(format!(
            "{}={}",
            percent_encoding::utf8_percent_encode(name, QUERY_VALUE),
            percent_encoding::utf8_percent_encode(&text, QUERY_VALUE)
        ));
        query_record.insert(name.clone(), Value::String(text));
    }
    if let Some(raw) = &req.raw_query {
        encoded.push(template(raw, vars));
        query_record.insert("<raw>".into(), Value::String(template(raw, vars)));
    }
    let mut url = format!("{base}{path}");
    if !encoded.is_empty() {
        url.push('?');
        url.push_str(&encoded.join("&"));
    }
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), template(v, vars)))
        .collect();
    let has_content_type = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    let (body, body_record): (Option<Vec<u8>>, Value) = if let Some(j) = &req.json {
        let j = template_json(j, vars);
        if !has_content_type {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        (Some(serde_json::to_vec(&j).map_err(|e| e.to_string())?), j)
    } else if let Some(text) = &req.body {
        let text = template(text, vars);
        (Some(text.clone().into_bytes()), Value::String(text))
    } else if let Some(b64) = &req.body_base64 {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("body_base64: {e}"))?;
        (Some(bytes), json!({ "base64": b64 }))
    } else if let Some(generated) = &req.generated_body {
        let bytes = generated.build();
        let len = bytes.len();
        (Some(bytes), json!({ "generated_bytes": len }))
    } else {
        (None, Value::Null)
    };

    let basic = |c: &Credentials| ("Authorization".to_owned(), c.basic_header());
    let auth = match (&req.auth, req.admin) {
        (Auth::Default, true) => Auth::None,
        (Auth::Default, false) => match default_scheme(suite) {
            "ak-sk" => Auth::Aksk(Default::default()),
            "token" => Auth::Token,
            _ => Auth::Default,
        },
        (Auth::Restricted, _) if default_scheme(suite) == "ak-sk" => Auth::Aksk(AkSkOptions {
            restricted: true,
            ..Default::default()
        }),
        (other, _) => other.clone(),
    };
    let auth_label = match &auth {
        Auth::Default => {
            let c = target
                .accounts
                .basic
                .as_ref()
                .ok_or("the target has no account")?;
            headers.push(basic(c));
            json!("default")
        }
        Auth::None => json!("none"),
        Auth::Restricted => {
            let c = target
                .accounts
                .restricted_basic
                .as_ref()
                .ok_or("the target has no restricted account")?;
            headers.push(basic(c));
            json!("restricted")
        }
        Auth::Basic { user, password } => {
            let c = Credentials::new(&template(user, vars), &template(password, vars));
            headers.push(basic(&c));
            json!({"basic": c.user})
        }
        Auth::Header(value) => {
            headers.push(("Authorization".into(), template(value, vars)));
            json!({"header": value})
        }
        Auth::Token => {
            let token = target
                .accounts
                .token
                .as_ref()
                .ok_or("the target has no token")?;
            headers.push((token_header(suite), token.clone()));
            json!("token")
        }
        Auth::TokenValue(value) => {
            headers.push((token_header(suite), template(value, vars)));
            json!({"token_value": value})
        }
        Auth::Aksk(options) => {
            sign_request(
                client,
                target,
                options,
                &method,
                &url,
                &mut headers,
                body.as_deref().unwrap_or_default(),
                vars,
            )
            .await?;
            let mut label = Map::new();
            label.insert(
                "aksk".into(),
                json!(if options.restricted {
                    "restricted"
                } else {
                    "default"
                }),
            );
            if options.ak.is_some() {
                label.insert("ak".into(), json!(options.ak));
            }
            if options.skew_ms != 0 {
                label.insert("skew_ms".into(), json!(options.skew_ms));
            }
            if let Some(signed) = &options.signed_body {
                label.insert("signed_body".into(), json!(signed));
            }
            if !options.signed_headers.is_empty() {
                label.insert("signed_headers".into(), json!(options.signed_headers));
            }
            if !options.after_signing.is_empty() {
                label.insert("after_signing".into(), json!(options.after_signing));
            }
            Value::Object(label)
        }
    };
    let mut record = Map::new();
    record.insert("method".into(), json!(req.method));
    record.insert(
        "path".into(),
        json!(if req.admin {
            format!("/__admin{path}")
        } else {
            path.clone()
        }),
    );
    if !query_record.is_empty() {
        record.insert("query".into(), Value::Object(query_record));
    }
    record.insert("auth".into(), auth_label);
    let shown_headers: Map<String, Value> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(template(v, vars))))
        .collect();
    if !shown_headers.is_empty() {
        record.insert("headers".into(), Value::Object(shown_headers));
    }
    if !body_record.is_null() {
        record.insert("body".into(), body_record);
    }
    Ok(Built {
        url,
        method,
        headers,
        body,
        record: Value::Object(record),
    })
}

/// Sign like Huawei's SDK: Host, Content-Type, X-Project-Id (when the target has a project) and
/// X-Sdk-Date, dated by the target's clock; then apply the scenario's tampering.
#[allow(clippy::too_many_arguments)]
async fn sign_request(
    client: &reqwest::Client,
    target: &Target,
    options: &AkSkOptions,
    method: &reqwest::Method,
    url: &str,
    headers: &mut Vec<(String, String)>,
    body: &[u8],
    vars: &BTreeMap<String, String>,
) -> Result<(), String> {
    let key = if options.restricted {
        target
            .accounts
            .restricted_access_key
            .clone()
            .ok_or("the target has no restricted access key")?
    } else {
        target
            .accounts
            .access_key
            .clone()
            .unwrap_or_else(|| AccessKeyPair::new("", ""))
    };
    let ak = options
        .ak
        .as_deref()
        .map(|a| template(a, vars))
        .unwrap_or(key.ak);
    let sk = options
        .sk
        .as_deref()
        .map(|s| template(s, vars))
        .unwrap_or(key.sk);
    if ak.is_empty() {
        return Err("the target has no access key".into());
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    let host = match parsed.port() {
        Some(port) => format!("{}:{port}", parsed.host_str().unwrap_or_default()),
        None => parsed.host_str().unwrap_or_default().to_owned(),
    };
    let mut map = http::HeaderMap::new();
    let put = |map: &mut http::HeaderMap, name: &str, value: &str| -> Result<(), String> {
        let name =
            http::header::HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        let value = http::HeaderValue::from_str(value).map_err(|e| e.to_string())?;
        map.insert(name, value);
        Ok(())
    };
    put(&mut map, "host", &host)?;
    for (name, value) in headers.iter() {
        put(&mut map, name, value)?;
    }
    if let Some(project) = vars.get("project_id") {
        put(&mut map, "x-project-id", project)?;
    }
    for (name, value) in &options.signed_headers {
        put(&mut map, name, &template(value, vars))?;
    }
    let now_ms = target.now_ms(client).await + options.skew_ms;
    let now = chrono::DateTime::from_timestamp_millis(now_ms)
        .ok_or("the target's clock is out of range")?;
    let signed_body = options
        .signed_body
        .as_ref()
        .map(|b| template(b, vars).into_bytes());
    event_mock::auth::aksk::sign(
        method.as_str(),
        parsed.path(),
        parsed.query(),
        &mut map,
        signed_body.as_deref().unwrap_or(body),
        &ak,
        &sk,
        now,
    );
    for (name, value) in &options.after_signing {
        put(&mut map, name, &template(value, vars))?;
    }
    headers.clear();
    for (name, value) in &map {
        headers.push((
            name.as_str().to_owned(),
            value.to_str().unwrap_or_default().to_owned(),
        ));
    }
    Ok(())
}

async fn run_step(
    client: &reqwest::Client,
    suite: &Suite,
    step: &Step,
    target: &Target,
    vars: &mut BTreeMap<String, String>,
) -> Result<(Value, Vec<String>), String> {
    // `{{now_ms}}` is the target's clock at this step; `{{start_ms}}` at the first step that
    // uses it, fixed for the rest of the scenario (for events that must be equal).
    let mentions = step_text(step);
    if mentions.contains("{{now_ms") {
        let now = target.now_ms(client).await;
        vars.insert("now_ms".into(), now.to_string());
    }
    if mentions.contains("{{start_ms") && !vars.contains_key("start_ms") {
        let now = target.now_ms(client).await;
        vars.insert("start_ms".into(), now.to_string());
    }
    let built = build_request(client, suite, &step.request, target, vars).await?;
    let mut request = client.request(built.method.clone(), &built.url);
    for (k, v) in &built.headers {
        request = request.header(k, v);
    }
    if let Some(body) = built.body {
        request = request.body(body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("reading the body failed: {e}"))?;
    let body_text = String::from_utf8_lossy(&bytes).into_owned();
    let body_json: Option<Value> = serde_json::from_slice(&bytes).ok();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };

    let mut failures = Vec::new();
    if !step.expect.status.accepts(status) {
        failures.push(format!(
            "status {status}, expected {} (body: {})",
            step.expect.status,
            truncate(&body_text)
        ));
    }
    // The response schema: the step's choice, else what the spec declares for this status.
    let schema = match &step.expect.schema {
        Some(SchemaChoice::Flag(false)) => None,
        Some(SchemaChoice::File(name)) => Some(name.clone()),
        _ if step.request.admin => None,
        _ => {
            let version = suite.spec.spec.versioning.as_ref().and_then(|v| {
                let raw = step.request.query.get(&v.query_param)?;
                v.resolve(raw.as_str()?)
            });
            suite.spec.response_schema(
                &step.request.method,
                &template(&step.request.path, vars),
                status,
                version,
            )
        }
    };
    if let Some(schema) = schema {
        match &body_json {
            None => failures.push(format!(
                "body is not JSON but the spec declares {schema} (body: {})",
                truncate(&body_text)
            )),
            Some(body) => match suite.spec.schemas.get(&schema) {
                Err(e) => failures.push(e.to_string()),
                Ok(validator) => {
                    let problems: Vec<String> = validator
                        .iter_errors(body)
                        .take(5)
                        .map(|e| format!("{} {}", e.instance_path(), e))
                        .collect();
                    if !problems.is_empty() {
                        failures.push(format!("body breaks {schema}: {}", problems.join("; ")));
                    }
                }
            },
        }
    }
    let error_code = body_json.as_ref().and_then(|b| {
        suite
            .spec
            .spec
            .errors
            .code_pointers
            .iter()
            .find_map(|p| match b.pointer(p)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
    });
    let observed = Observed {
        body_json: body_json.as_ref(),
        body_text: &body_text,
        header: &header,
        error_code,
    };
    let vars_now = vars.clone();
    let resolve = |v: &Value| template_json(v, &vars_now);
    for assertion in &step.expect.assertions {
        if let Err(e) = check(assertion, &observed, &resolve) {
            failures.push(e);
        }
    }
    for (name, from) in &step.capture {
        let value = match from {
            CaptureFrom::Pointer(p) => {
                body_json
                    .as_ref()
                    .and_then(|b| b.pointer(p))
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
            }
            CaptureFrom::Header { header: h } => header(h),
        };
        match value {
            Some(v) => {
                vars.insert(name.clone(), v);
            }
            None => failures.push(format!("capture '{name}': nothing at {from:?}")),
        }
    }

    let mut response_record = Map::new();
    response_record.insert("status".into(), json!(status));
    let recorded_headers: Map<String, Value> = Normaliser::recorded_headers(&suite.spec)
        .into_iter()
        .filter_map(|h| header(&h).map(|v| (h, Value::String(v))))
        .collect();
    if !recorded_headers.is_empty() {
        response_record.insert("headers".into(), Value::Object(recorded_headers));
    }
    response_record.insert(
        "body".into(),
        body_json
            .clone()
            .unwrap_or_else(|| Value::String(body_text.clone())),
    );
    let exchange = json!({
        "step": step.name,
        "request": built.record,
        "response": Value::Object(response_record),
    });
    Ok((exchange, failures))
}

/// The step's request as text, to see which clock variables it mentions.
fn step_text(step: &Step) -> String {
    let r = &step.request;
    serde_json::to_string(&(&r.path, &r.query, &r.json, &r.body, &r.headers)).unwrap_or_default()
}

fn truncate(text: &str) -> String {
    short(&Value::String(text.to_owned()))
}
