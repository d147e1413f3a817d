//! AK/SK signing as a vendor SDK does it: Host, Content-Type, the headers the spec's scheme
//! adds (`signed_headers`, templated) and the date, dated by the target's own clock; then any
//! tampering the scenario asks for.

use serde_json::{json, Value};

use event_mock::auth::aksk::Profile;
use event_mock::spec::AuthScheme;

use super::{label_object, ClientAuth, Outgoing};
use crate::scenario::AkSkOptions;
use crate::template::{template, Vars};

pub async fn sign_request(
    auth: &ClientAuth<'_>,
    options: &AkSkOptions,
    out: Outgoing<'_>,
    vars: &Vars,
) -> Result<(), String> {
    let key = if options.restricted {
        auth.access_key(false)
            .ok_or("the target has no restricted access key")?
    } else {
        auth.access_key(true).unwrap_or_default()
    };
    let ak = options
        .ak
        .as_deref()
        .map(|a| template(a, vars))
        .unwrap_or(key.0);
    let sk = options
        .sk
        .as_deref()
        .map(|s| template(s, vars))
        .unwrap_or(key.1);
    if ak.is_empty() {
        return Err("the target has no access key".into());
    }
    let scheme = auth.spec.auth_scheme("ak-sk");
    let profile = scheme
        .and_then(Profile::of)
        .ok_or("the API's spec has no ak-sk auth scheme")?;
    let parsed = reqwest::Url::parse(out.url).map_err(|e| e.to_string())?;
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
    for (name, value) in out.headers.iter() {
        put(&mut map, name, value)?;
    }
    // Headers the scheme signs too (e.g. a project id); one whose variable is unknown is left out.
    if let Some(AuthScheme::AkSk { signed_headers, .. }) = scheme {
        for (name, value) in signed_headers {
            let filled = template(value, vars);
            if !filled.contains("{{") {
                put(&mut map, name, &filled)?;
            }
        }
    }
    for (name, value) in &options.signed_headers {
        put(&mut map, name, &template(value, vars))?;
    }
    let now_ms = auth.target.signature_now_ms(auth.client).await + options.skew_ms;
    let now = chrono::DateTime::from_timestamp_millis(now_ms)
        .ok_or("the target's clock is out of range")?;
    let signed_body = options
        .signed_body
        .as_ref()
        .map(|b| template(b, vars).into_bytes());
    event_mock::auth::aksk::sign(
        &profile,
        out.method.as_str(),
        parsed.path(),
        parsed.query(),
        &mut map,
        signed_body.as_deref().unwrap_or(out.body),
        &ak,
        &sk,
        now,
    );
    for (name, value) in &options.after_signing {
        put(&mut map, name, &template(value, vars))?;
    }
    out.headers.clear();
    for (name, value) in &map {
        out.headers.push((
            name.as_str().to_owned(),
            value.to_str().unwrap_or_default().to_owned(),
        ));
    }
    Ok(())
}

/// What the transcript shows of a signature: whose key, and every tampering.
pub fn label(options: &AkSkOptions) -> Value {
    let mut pairs = vec![(
        "aksk",
        json!(if options.restricted {
            "restricted"
        } else {
            "default"
        }),
    )];
    if options.ak.is_some() {
        pairs.push(("ak", json!(options.ak)));
    }
    if options.skew_ms != 0 {
        pairs.push(("skew_ms", json!(options.skew_ms)));
    }
    if let Some(signed) = &options.signed_body {
        pairs.push(("signed_body", json!(signed)));
    }
    if !options.signed_headers.is_empty() {
        pairs.push(("signed_headers", json!(options.signed_headers)));
    }
    if !options.after_signing.is_empty() {
        pairs.push(("after_signing", json!(options.after_signing)));
    }
    label_object(pairs)
}
