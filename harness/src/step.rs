//! Running one step: send the built request, read the answer in its representation (JSON, or
//! XML through the spec's mapping, both to the same value), then check status, schema and
//! assertions, take captures, and record the normalisable exchange.

use serde_json::{json, Map, Value};

use event_mock::spec::Routed;

use crate::auth::ClientAuth;
use crate::checks::{check, short, Observed};
use crate::request::{self, Built};
use crate::scenario::{CaptureFrom, SchemaChoice, Step};
use crate::template::{template_json, Vars};
use crate::transcript::Normaliser;

/// Run `step`; `Ok` carries the exchange for the transcript and the step's failures.
pub async fn run(
    auth: &mut ClientAuth<'_>,
    step: &Step,
    vars: &mut Vars,
) -> Result<(Value, Vec<String>), String> {
    let client = auth.client;
    let target = auth.target;
    let spec = auth.spec;
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
    let built = request::build(auth, &step.request, vars).await?;
    let version = requested_version(auth, &built);
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
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    // The control plane always speaks JSON; the API's answers are read by their Content-Type.
    let body: Option<Value> = if step.request.admin {
        serde_json::from_slice(&bytes).ok()
    } else {
        spec.decode_response(header("content-type").as_deref(), &bytes)
    };

    let mut failures = Vec::new();
    if !step.expect.status.accepts(status) {
        failures.push(format!(
            "status {status}, expected {} (body: {})",
            step.expect.status,
            truncate(&body_text)
        ));
    }
    // A 204 has no body by definition (RFC 9110): one that carries a body is a deviation, and
    // there is nothing for a schema to check.
    if status == 204 && !bytes.is_empty() {
        failures.push(format!(
            "a 204 answer carries a body: {}",
            truncate(&body_text)
        ));
    }
    // The response schema: the step's choice, else what the spec declares for this status.
    let schema = match &step.expect.schema {
        _ if status == 204 => None,
        Some(SchemaChoice::Flag(false)) => None,
        Some(SchemaChoice::File(name)) => Some(name.clone()),
        _ if step.request.admin => None,
        _ => spec.response_schema(
            &step.request.method,
            &built.path,
            status,
            version.as_deref(),
        ),
    };
    if let Some(schema) = schema {
        match &body {
            None => failures.push(format!(
                "body is not JSON or mapped XML but the spec declares {schema} (body: {})",
                truncate(&body_text)
            )),
            Some(body) => match spec.schemas.get(&schema) {
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
    let error_code = body.as_ref().and_then(|b| {
        spec.spec
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
        body: body.as_ref(),
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
            CaptureFrom::Pointer(p) => body.as_ref().and_then(|b| b.pointer(p)).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            CaptureFrom::Header { header: h } => header(h),
            CaptureFrom::Matched { pointer, regex } => {
                let text = body
                    .as_ref()
                    .and_then(|b| b.pointer(pointer))
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                match regex::Regex::new(regex) {
                    Ok(re) => text.and_then(|t| {
                        re.captures(&t)
                            .and_then(|c| c.get(1))
                            .map(|m| m.as_str().to_owned())
                    }),
                    Err(e) => {
                        failures.push(format!("capture '{name}': bad regex: {e}"));
                        continue;
                    }
                }
            }
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
    let recorded_headers: Map<String, Value> = Normaliser::recorded_headers(spec)
        .into_iter()
        .filter_map(|h| header(&h).map(|v| (h, Value::String(v))))
        .collect();
    if !recorded_headers.is_empty() {
        response_record.insert("headers".into(), Value::Object(recorded_headers));
    }
    response_record.insert(
        "body".into(),
        body.unwrap_or_else(|| Value::String(body_text.clone())),
    );
    let exchange = json!({
        "step": step.name,
        "request": built.record,
        "response": Value::Object(response_record),
    });
    Ok((exchange, failures))
}

/// The API version the request asks for, where the spec's versioning says it travels.
fn requested_version(auth: &ClientAuth<'_>, built: &Built) -> Option<String> {
    let versioning = auth.spec.spec.versioning.as_ref()?;
    let query = reqwest::Url::parse(&built.url)
        .ok()
        .and_then(|u| u.query().map(str::to_owned));
    let pairs = event_mock::wire::query_pairs(query.as_deref()).unwrap_or_default();
    let mut headers = http::HeaderMap::new();
    for (name, value) in &built.headers {
        if let (Ok(n), Ok(v)) = (
            http::header::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    let params = match auth.spec.route(built.method.as_str(), &built.path) {
        Routed::Operation(_, params) => params,
        _ => Vec::new(),
    };
    let raw = versioning.requested(&pairs, &headers, &params)?;
    versioning.resolve(&raw).map(str::to_owned)
}

/// The step's request as text, to see which clock variables it mentions.
fn step_text(step: &Step) -> String {
    let r = &step.request;
    serde_json::to_string(&(&r.path, &r.query, &r.json, &r.body, &r.headers)).unwrap_or_default()
}

fn truncate(text: &str) -> String {
    short(&Value::String(text.to_owned()))
}
