//! Client authentication: a step's `auth` choice, resolved against the spec's auth schemes and
//! the target's accounts, becomes headers on the request. One function per scheme: Basic, a
//! token header, an AK/SK signature ([`aksk`]) and a session ([`session`]: log in once per
//! scenario, then carry the token).

pub mod aksk;
pub mod session;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use event_mock::api::Credential;
use event_mock::spec::{AuthScheme, LoadedSpec};

use crate::scenario::{AkSkOptions, Auth};
use crate::target::{CredentialKind, Target};
use crate::template::{template, Vars};

/// What a request needs signed: AK/SK covers the method, URL, headers and body.
pub struct Outgoing<'a> {
    pub method: &'a reqwest::Method,
    pub url: &'a str,
    pub headers: &'a mut Vec<(String, String)>,
    pub body: &'a [u8],
}

/// The client side of authentication for one scenario run (it holds the scenario's sessions).
pub struct ClientAuth<'a> {
    pub client: &'a reqwest::Client,
    pub spec: &'a LoadedSpec,
    pub target: &'a Target,
    sessions: session::Sessions,
}

impl<'a> ClientAuth<'a> {
    pub fn new(client: &'a reqwest::Client, spec: &'a LoadedSpec, target: &'a Target) -> Self {
        Self {
            client,
            spec,
            target,
            sessions: session::Sessions::default(),
        }
    }

    /// Add the credentials `choice` names to `out`; returns what the transcript shows of them.
    pub async fn apply(
        &mut self,
        choice: &Auth,
        admin: bool,
        out: Outgoing<'_>,
        vars: &Vars,
    ) -> Result<Value, String> {
        let scheme = self.spec.default_auth().cloned();
        match (choice, admin) {
            (Auth::Default, true) | (Auth::None, _) => Ok(json!("none")),
            (Auth::Default, false) => self.as_scheme(scheme.as_ref(), false, out, vars).await,
            (Auth::Restricted, _) => self.as_scheme(scheme.as_ref(), true, out, vars).await,
            (Auth::Basic { user, password }, _) => {
                let user = template(user, vars);
                out.headers
                    .push(basic_header(&user, &template(password, vars)));
                Ok(json!({ "basic": user }))
            }
            (Auth::Header(value), _) => {
                out.headers
                    .push(("Authorization".into(), template(value, vars)));
                Ok(json!({ "header": value }))
            }
            (Auth::Token, _) => {
                let token = self.token(true)?;
                out.headers.push((self.token_header()?, token));
                Ok(json!("token"))
            }
            (Auth::TokenValue(value), _) => {
                out.headers
                    .push((self.token_header()?, template(value, vars)));
                Ok(json!({ "token_value": value }))
            }
            (Auth::Aksk(options), _) => self.sign(options, out, vars).await,
        }
    }

    /// The target's main (or restricted) credential for the API's default scheme.
    async fn as_scheme(
        &mut self,
        scheme: Option<&AuthScheme>,
        restricted: bool,
        out: Outgoing<'_>,
        vars: &Vars,
    ) -> Result<Value, String> {
        let label = if restricted { "restricted" } else { "default" };
        match scheme {
            Some(AuthScheme::AkSk { .. }) => {
                let options = AkSkOptions {
                    restricted,
                    ..Default::default()
                };
                self.sign(&options, out, vars).await
            }
            Some(AuthScheme::Token { header, .. }) => {
                let token = self.token(!restricted)?;
                out.headers.push((header.clone(), token));
                Ok(json!(if restricted { "restricted" } else { "token" }))
            }
            Some(AuthScheme::Session(scheme)) => {
                let token = match self.sessions.token(restricted) {
                    Some(token) => token,
                    None => {
                        let (user, password) = self.password(!restricted)?;
                        let token = session::login(self, scheme, &user, &password, vars).await?;
                        self.sessions.keep(restricted, token.clone());
                        token
                    }
                };
                out.headers.push(session::carry(scheme, &token));
                Ok(json!({ "session": label }))
            }
            Some(AuthScheme::Basic { .. }) | None => {
                let (user, password) = self.password(!restricted)?;
                out.headers.push(basic_header(&user, &password));
                Ok(json!(label))
            }
        }
    }

    async fn sign(
        &mut self,
        options: &AkSkOptions,
        out: Outgoing<'_>,
        vars: &Vars,
    ) -> Result<Value, String> {
        aksk::sign_request(self, options, out, vars).await?;
        Ok(aksk::label(options))
    }

    /// The header of the spec's token scheme.
    fn token_header(&self) -> Result<String, String> {
        self.spec
            .token_header()
            .map(str::to_owned)
            .ok_or_else(|| "the API's spec has no token scheme".to_owned())
    }

    fn token(&self, permitted: bool) -> Result<String, String> {
        match self.target.accounts.find(CredentialKind::Token, permitted) {
            Some(account) => match &account.credential {
                Credential::Token { token } => Ok(token.clone()),
                _ => Err("the target has no token".into()),
            },
            None if permitted => Err("the target has no token".into()),
            None => Err("the target has no restricted token".into()),
        }
    }

    /// A user name and password (Basic, or a session login).
    fn password(&self, permitted: bool) -> Result<(String, String), String> {
        match self
            .target
            .accounts
            .find(CredentialKind::Password, permitted)
        {
            Some(account) => match &account.credential {
                Credential::Password { user, password } => Ok((user.clone(), password.clone())),
                _ => Err("the target has no account".into()),
            },
            None if permitted => Err("the target has no account".into()),
            None => Err("the target has no restricted account".into()),
        }
    }

    fn access_key(&self, permitted: bool) -> Option<(String, String)> {
        match &self
            .target
            .accounts
            .find(CredentialKind::AccessKey, permitted)?
            .credential
        {
            Credential::AccessKey { ak, sk } => Some((ak.clone(), sk.clone())),
            _ => None,
        }
    }
}

/// `Authorization: Basic base64(user:password)`.
pub fn basic_header(user: &str, password: &str) -> (String, String) {
    let raw = format!("{user}:{password}");
    (
        "Authorization".to_owned(),
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ),
    )
}

/// A transcript label as an object.
fn label_object(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<Map<String, Value>>(),
    )
}
