//! Session schemes: log in through the operation the spec names (HTTP Basic or a JSON body with
//! the account), read the token from the answer's header or body, and carry it on later
//! requests as a header or a Bearer token. One login per account per scenario: the token is
//! reused by every later step, as a real client does.

use std::collections::HashMap;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

use event_mock::spec::{
    LoginCredentials, SessionScheme, TokenCarrier, TokenSource, VersionCarrier,
};

use super::{basic_header, ClientAuth};
use crate::template::{template, template_json, Vars};

/// The tokens a scenario holds, by whether they belong to the restricted account.
#[derive(Debug, Default)]
pub struct Sessions {
    tokens: HashMap<bool, String>,
}

impl Sessions {
    pub fn token(&self, restricted: bool) -> Option<String> {
        self.tokens.get(&restricted).cloned()
    }

    pub fn keep(&mut self, restricted: bool, token: String) {
        self.tokens.insert(restricted, token);
    }
}

/// The header that carries a session token.
pub fn carry(scheme: &SessionScheme, token: &str) -> (String, String) {
    match &scheme.send_as {
        TokenCarrier::Header(name) => (name.clone(), token.to_owned()),
        TokenCarrier::Bearer => ("Authorization".into(), format!("Bearer {token}")),
    }
}

/// Log in with `user`/`password` and return the issued token.
pub async fn login(
    auth: &ClientAuth<'_>,
    scheme: &SessionScheme,
    user: &str,
    password: &str,
    vars: &Vars,
) -> Result<String, String> {
    let spec = auth.spec;
    let op = spec
        .operation(&scheme.login)
        .ok_or_else(|| format!("the login operation '{}' is not in the spec", scheme.login))?;
    let mut vars = vars.clone();
    // A version carried in the path fills its template parameter (`{release}`).
    if let Some(versioning) = &spec.spec.versioning {
        if let VersionCarrier::Path { parameter } = &versioning.carrier {
            vars.entry(parameter.clone())
                .or_insert_with(|| versioning.current.clone());
        }
    }
    // `{name}` segments of the template are filled from the scenario's variables.
    let path = op
        .path
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => template(&format!("{{{{{name}}}}}"), &vars),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/");
    let url = format!("{}{path}", auth.target.api_url);
    let method = reqwest::Method::from_bytes(op.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut request = auth.client.request(method, &url);
    if let Some(accept) = login_accept(auth, op, &vars) {
        request = request.header("Accept", accept);
    }
    match &scheme.login_with {
        LoginCredentials::Basic => {
            let (name, value) = basic_header(user, password);
            request = request.header(name, value);
        }
        LoginCredentials::Body(body) => {
            vars.insert("user".into(), user.to_owned());
            vars.insert("password".into(), password.to_owned());
            let body = template_json(body, &vars);
            request = request
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(&body).map_err(|e| e.to_string())?);
        }
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("login request failed: {e}"))?;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "login as '{user}' failed with status {}",
            status.as_u16()
        ));
    }
    token_of(auth, scheme, &headers, &bytes).ok_or_else(|| {
        format!(
            "the login answer carries no token ({:?})",
            scheme.token_from
        )
    })
}

fn token_of(
    auth: &ClientAuth<'_>,
    scheme: &SessionScheme,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<String> {
    match &scheme.token_from {
        TokenSource::Header(name) => headers
            .get(name.as_str())
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned),
        TokenSource::Pointer(pointer) => {
            let content_type = headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            match auth
                .spec
                .decode_response(content_type, body)?
                .pointer(pointer)?
            {
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            }
        }
    }
}

/// `Accept` for the login: the operation's first response type, with the version parameter
/// when the API carries its version there (the scenario's variable of that name, e.g. a live
/// target's `--var version=...`, else the spec's current version).
fn login_accept(
    auth: &ClientAuth<'_>,
    op: &event_mock::spec::Operation,
    vars: &Vars,
) -> Option<String> {
    let media = auth.spec.media_types(Some(op)).response.first()?.clone();
    match &auth.spec.spec.versioning {
        Some(v) => match &v.carrier {
            VersionCarrier::Accept { parameter } => {
                let version = vars.get(parameter).unwrap_or(&v.current);
                Some(format!("{media};{parameter}={version}"))
            }
            _ => Some(media),
        },
        None => Some(media),
    }
}
