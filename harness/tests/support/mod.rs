//! Shared by the tests that drive every registered API through the sans-IO core: the API's
//! default credentials applied as its spec's auth scheme says (Basic, token, AK/SK signed at the
//! mock's signature clock, or a session logged in through the core), and answers read by their
//! Content-Type. Nothing here names an API.

use bytes::Bytes;
use serde_json::Value;

use event_harness::template::{template, template_json, Vars};
use event_mock::api::{Account, Credential};
use event_mock::spec::{AuthScheme, LoadedSpec, LoginCredentials, TokenCarrier, TokenSource};
use event_mock::{Mock, Request, Response};

/// What a test knows of one API: the mock, its spec, its default base path, the scenario
/// variables its accounts bring, and the account to use (none: send no credentials).
pub struct Client<'a> {
    pub mock: &'a Mock,
    pub spec: &'a LoadedSpec,
    pub base: &'a str,
    pub vars: &'a Vars,
    pub account: Option<&'a Account>,
}

/// Add the API's default credentials, the way its spec's scheme says.
pub fn authorise(client: &Client<'_>, mut req: Request) -> Request {
    let Client {
        mock,
        spec,
        base,
        vars,
        account,
    } = client;
    let Some(account) = account else {
        return req;
    };
    let put = |req: &mut Request, name: &str, value: &str| {
        if let (Ok(n), Ok(v)) = (
            http::header::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            req.headers_mut().insert(n, v);
        }
    };
    match (spec.default_auth(), &account.credential) {
        (Some(AuthScheme::AkSk { signed_headers, .. }), Credential::AccessKey { ak, sk }) => {
            for (name, value) in signed_headers {
                put(&mut req, name, &template(value, vars));
            }
            let host = "localhost";
            put(&mut req, "host", host);
            let (parts, body) = req.into_parts();
            let mut headers = parts.headers.clone();
            let profile = spec
                .default_auth()
                .and_then(event_mock::auth::aksk::Profile::of)
                .expect("an ak-sk scheme has a signing profile");
            event_mock::auth::aksk::sign(
                &profile,
                parts.method.as_str(),
                parts.uri.path(),
                parts.uri.query(),
                &mut headers,
                &body,
                ak,
                sk,
                mock.signature_now(),
            );
            let mut req = Request::from_parts(parts, body);
            *req.headers_mut() = headers;
            req
        }
        (Some(AuthScheme::Token { header, .. }), Credential::Token { token }) => {
            put(&mut req, header, token);
            req
        }
        (Some(AuthScheme::Session(scheme)), Credential::Password { user, password }) => {
            let token = login(mock, spec, base, vars, scheme, user, password).unwrap_or_default();
            match &scheme.send_as {
                TokenCarrier::Header(name) => put(&mut req, name, &token),
                TokenCarrier::Bearer => put(&mut req, "authorization", &format!("Bearer {token}")),
            }
            req
        }
        (_, Credential::Password { user, password }) => {
            let (name, value) = event_harness::auth::basic_header(user, password);
            put(&mut req, &name, &value);
            req
        }
        _ => req,
    }
}

/// A session login through the core, with the operation the scheme names.
fn login(
    mock: &Mock,
    spec: &LoadedSpec,
    base: &str,
    vars: &Vars,
    scheme: &event_mock::spec::SessionScheme,
    user: &str,
    password: &str,
) -> Option<String> {
    let op = spec.operation(&scheme.login)?;
    let mut vars = vars.clone();
    if let Some(v) = &spec.spec.versioning {
        if let event_mock::spec::VersionCarrier::Path { parameter } = &v.carrier {
            vars.entry(parameter.clone())
                .or_insert_with(|| v.current.clone());
        }
    }
    vars.insert("user".into(), user.into());
    vars.insert("password".into(), password.into());
    let path: Vec<String> = op
        .path
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => vars.get(name).cloned().unwrap_or_default(),
                None => s.to_owned(),
            },
        )
        .collect();
    let mut builder = http::Request::builder()
        .method(op.method.as_str())
        .uri(format!("{base}{}", path.join("/")));
    // A version carried in `Accept` goes there, on the login's own response type.
    if let Some(v) = &spec.spec.versioning {
        if let event_mock::spec::VersionCarrier::Accept { parameter } = &v.carrier {
            let media = spec.media_types(Some(op)).response.first().cloned();
            let media = media.unwrap_or_else(|| "*/*".into());
            builder = builder.header("accept", format!("{media};{parameter}={}", v.current));
        }
    }
    let mut body = Vec::new();
    match &scheme.login_with {
        LoginCredentials::Basic => {
            let (name, value) = event_harness::auth::basic_header(user, password);
            builder = builder.header(name, value);
        }
        LoginCredentials::Body(template) => {
            body = serde_json::to_vec(&template_json(template, &vars)).ok()?;
            builder = builder.header("content-type", "application/json");
        }
    }
    let resp = mock.handle(builder.body(Bytes::from(body)).ok()?);
    match &scheme.token_from {
        TokenSource::Header(name) => {
            Some(resp.headers().get(name.as_str())?.to_str().ok()?.to_owned())
        }
        TokenSource::Pointer(p) => {
            let body = decoded(spec, &resp)?;
            body.pointer(p).map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            })
        }
    }
}

/// An answer's body, read by its Content-Type through the spec (JSON or mapped XML).
pub fn decoded(spec: &LoadedSpec, resp: &Response) -> Option<Value> {
    let content_type = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    spec.decode_response(content_type, resp.body())
}
