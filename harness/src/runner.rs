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
    Auth, Capability, CaptureFrom, RequestSpec, Scenario, SchemaChoice, Step, Suite,
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

/// A live endpoint: the API's base URL (e.g. `https://host:8080/mws`) and accounts.
#[derive(Debug, Clone)]
pub struct LiveTarget {
    pub url: String,
    pub credentials: Option<Credentials>,
    /// An account that authenticates but lacks the API's permission (for 403 checks).
    pub restricted: Option<Credentials>,
    /// The target serves the mock's `/__admin` control plane at `admin_url`.
    pub admin_url: Option<String>,
}

/// One resolved target for one scenario run.
#[derive(Debug, Clone)]
pub struct Target {
    pub api_url: String,
    pub admin_url: Option<String>,
    pub credentials: Option<Credentials>,
    pub restricted: Option<Credentials>,
    /// Tags data a scenario creates, so queries on a shared live system see only its own events.
    pub run_tag: String,
}

impl Target {
    pub fn capabilities(&self) -> BTreeSet<Capability> {
        let mut caps = BTreeSet::new();
        if self.admin_url.is_some() {
            caps.insert(Capability::Admin);
        }
        if self.restricted.is_some() {
            caps.insert(Capability::RestrictedUser);
        }
        caps
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
                    credentials: live.credentials.clone(),
                    restricted: live.restricted.clone(),
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
    let users = &config.mws.users;
    let main = users.iter().find(|u| u.may("events"));
    let restricted = users.iter().find(|u| !u.may("events"));
    Target {
        api_url: server.api_url(api).unwrap_or_else(|| server.url()),
        admin_url: config.admin.then(|| format!("{}/__admin", server.url())),
        credentials: main.map(|u| Credentials::new(&u.name, &u.password)),
        restricted: restricted.map(|u| Credentials::new(&u.name, &u.password)),
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
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
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

/// Replace `{{name}}` with variables; an unknown variable is left as is (and will show in diffs).
fn template(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (name, value) in vars {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    out
}

fn template_json(value: &Value, vars: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(template(s, vars)),
        Value::Array(items) => Value::Array(items.iter().map(|v| template_json(v, vars)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (template(k, vars), template_json(v, vars)))
                .collect(),
        ),
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

fn build_request(
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
    let auth_label = match &req.auth {
        Auth::Default => {
            if !req.admin {
                let c = target
                    .credentials
                    .as_ref()
                    .ok_or("the target has no credentials")?;
                headers.push(("Authorization".into(), c.basic_header()));
            }
            json!("default")
        }
        Auth::None => json!("none"),
        Auth::Restricted => {
            let c = target
                .restricted
                .as_ref()
                .ok_or("the target has no restricted account")?;
            headers.push(("Authorization".into(), c.basic_header()));
            json!("restricted")
        }
        Auth::Basic { user, password } => {
            let c = Credentials::new(&template(user, vars), &template(password, vars));
            headers.push(("Authorization".into(), c.basic_header()));
            json!({"basic": c.user})
        }
        Auth::Header(value) => {
            headers.push(("Authorization".into(), template(value, vars)));
            json!({"header": value})
        }
    };
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

async fn run_step(
    client: &reqwest::Client,
    suite: &Suite,
    step: &Step,
    target: &Target,
    vars: &mut BTreeMap<String, String>,
) -> Result<(Value, Vec<String>), String> {
    let built = build_request(&step.request, target, vars)?;
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
    let observed = Observed {
        body_json: body_json.as_ref(),
        body_text: &body_text,
        header: &header,
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

fn truncate(text: &str) -> String {
    short(&Value::String(text.to_owned()))
}
