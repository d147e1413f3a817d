//! Building a step's HTTP request: URL with its encoded query, headers, body (JSON, text,
//! base64 bytes or generated), the client's credentials, and what the transcript shows of it.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::auth::{ClientAuth, Outgoing};
use crate::scenario::RequestSpec;
use crate::template::{template, template_json, Vars};

const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A request ready to send.
pub struct Built {
    pub url: String,
    pub method: reqwest::Method,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// The path below the API's base URL, templated (for spec lookups).
    pub path: String,
    /// What the transcript shows of the request.
    pub record: Value,
}

pub async fn build(
    auth: &mut ClientAuth<'_>,
    req: &RequestSpec,
    vars: &Vars,
) -> Result<Built, String> {
    let target = auth.target;
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
    let auth_label = auth
        .apply(
            &req.auth,
            req.admin,
            Outgoing {
                method: &method,
                url: &url,
                headers: &mut headers,
                body: body.as_deref().unwrap_or_default(),
            },
            vars,
        )
        .await?;

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
        path,
        record: Value::Object(record),
    })
}
