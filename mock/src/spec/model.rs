//! The typed spec model: what `specs/<api>/spec.json` declares, as Rust types. The
//! meta-schema (`specs/spec.schema.json`) checks the same shapes before these are read.

use std::collections::BTreeMap;

use http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use crate::codec::xml::XmlMapping;
use crate::codec::{MediaType, MediaTypes};

#[derive(Debug, Clone, Deserialize)]
pub struct ApiSpec {
    pub id: String,
    pub title: String,
    pub seed: String,
    #[serde(default)]
    pub research: Option<String>,
    pub base_path: String,
    #[serde(default)]
    pub alternate_base_paths: Vec<String>,
    #[serde(default)]
    pub versioning: Option<Versioning>,
    #[serde(default)]
    pub auth: Vec<AuthEntry>,
    /// What the operations consume and produce unless an operation says otherwise.
    #[serde(default)]
    pub media_types: MediaTypes,
    /// How JSON values sit in XML, for APIs with XML representations.
    #[serde(default)]
    pub xml: Option<XmlMapping>,
    /// The largest request body the API accepts.
    pub body_limit: BodyLimit,
    pub operations: Vec<Operation>,
    pub errors: Errors,
    pub rules: BTreeMap<String, Value>,
    pub requirements: Vec<Requirement>,
}

/// The request body limit and where it comes from (a vendor's gateway, or our own bound).
#[derive(Debug, Clone, Deserialize)]
pub struct BodyLimit {
    pub max_bytes: usize,
    pub source: String,
}

/// How a client names the API version it wants.
#[derive(Debug, Clone, Deserialize)]
pub struct Versioning {
    #[serde(flatten)]
    pub carrier: VersionCarrier,
    /// A request without a version is refused (else it gets `current`).
    #[serde(default)]
    pub required: bool,
    pub current: String,
    /// Other names of versions, e.g. `latest`.
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    pub supported: Vec<String>,
    /// How a requested version is compared with the supported ones.
    #[serde(default, rename = "match")]
    pub matching: VersionMatch,
    /// Answers carry the resolved version as the same parameter of their `Content-Type`, e.g.
    /// `application/vnd.example.record+xml;version=39.0`, as some APIs do so a client knows
    /// which version's shape it reads. Only meaningful for the `accept` carrier (the
    /// meta-schema refuses it with another); an answer to a request whose version does not
    /// resolve (none given, or unsupported) carries none.
    #[serde(default)]
    pub echo: bool,
}

/// Where the version travels.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "in", rename_all = "snake_case")]
pub enum VersionCarrier {
    /// A query parameter, e.g. `?api-version=3`.
    Query { name: String },
    /// A parameter of the `Accept` media type, e.g. `Accept: application/*+xml;version=39.0`.
    Accept { parameter: String },
    /// A path parameter of the operations' templates, e.g. `/{release}/...`.
    Path { parameter: String },
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VersionMatch {
    /// The text must equal a supported version (after trimming).
    #[default]
    Exact,
    /// Integers compare by value (`03` is `3`), as Java's `Integer.parseInt` does.
    Integer,
}

impl Versioning {
    /// The `Content-Type` parameter an answer carries when the versioning echoes (`echo` with
    /// the `accept` carrier) and the request's version resolves: `(parameter, version)`.
    pub fn echoed(&self, headers: &HeaderMap) -> Option<(&str, &str)> {
        let VersionCarrier::Accept { parameter } = &self.carrier else {
            return None;
        };
        if !self.echo {
            return None;
        }
        let raw = self.requested(&[], headers, &[])?;
        Some((parameter.as_str(), self.resolve(&raw)?))
    }

    /// Resolve a requested version (`3`, `latest`, `39.0`) to a supported one.
    pub fn resolve(&self, raw: &str) -> Option<&str> {
        if let Some(v) = self.aliases.get(raw) {
            return Some(v.as_str());
        }
        let raw = raw.trim();
        let wanted_int = raw.parse::<i64>().ok();
        self.supported
            .iter()
            .find(|v| match self.matching {
                VersionMatch::Exact => v.as_str() == raw,
                VersionMatch::Integer => {
                    wanted_int.is_some() && v.trim().parse::<i64>().ok() == wanted_int
                }
            })
            .map(String::as_str)
    }

    /// The version text a request carries, if any: from its query, its `Accept` header, or the
    /// path parameters routing filled.
    pub fn requested(
        &self,
        query: &[(String, String)],
        headers: &HeaderMap,
        path_params: &[(&str, &str)],
    ) -> Option<String> {
        match &self.carrier {
            VersionCarrier::Query { name } => query
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone()),
            VersionCarrier::Accept { parameter } => headers
                .get_all(http::header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(MediaType::parse)
                .find_map(|m| m.param(parameter).map(str::to_owned)),
            VersionCarrier::Path { parameter } => path_params
                .iter()
                .find(|(n, _)| n == parameter)
                .map(|(_, v)| (*v).to_owned()),
        }
    }
}

/// One way to authenticate, with what it grants.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthEntry {
    #[serde(flatten)]
    pub scheme: AuthScheme,
    /// The permission an account needs to use the API.
    #[serde(default)]
    pub permission: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

/// The authentication schemes the harness and the mock know.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "scheme", rename_all = "kebab-case")]
pub enum AuthScheme {
    /// HTTP Basic.
    Basic {
        #[serde(default)]
        realm: Option<String>,
    },
    /// An access key / secret key request signature.
    AkSk {
        /// The signing algorithm, e.g. `SDK-HMAC-SHA256`.
        algorithm: String,
        /// The header that carries the signature date.
        date_header: String,
        /// The header whose signed value stands in for the body's hash.
        content_sha256_header: String,
        /// Headers a client adds to what it signs: name -> template (`{{project_id}}`).
        #[serde(default)]
        signed_headers: BTreeMap<String, String>,
    },
    /// A token sent as is in a header.
    Token {
        header: String,
        #[serde(default)]
        max_length: Option<usize>,
    },
    /// A login operation issues a token that later requests carry.
    Session(SessionScheme),
}

impl AuthScheme {
    /// The scheme's name in spec files (`basic`, `ak-sk`, `token`, `session`).
    pub fn name(&self) -> &'static str {
        match self {
            AuthScheme::Basic { .. } => "basic",
            AuthScheme::AkSk { .. } => "ak-sk",
            AuthScheme::Token { .. } => "token",
            AuthScheme::Session(_) => "session",
        }
    }
}

/// A session: log in with a password account, then send the issued token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionScheme {
    /// The operation id that logs in.
    pub login: String,
    /// How the login request carries the account.
    pub login_with: LoginCredentials,
    /// Where the login answer carries the token.
    pub token_from: TokenSource,
    /// How later requests carry the token.
    pub send_as: TokenCarrier,
    /// The operation id that logs out, if any.
    #[serde(default)]
    pub logout: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginCredentials {
    /// HTTP Basic on the login request (the user may carry a tenant, `user@org`).
    Basic,
    /// A JSON body template with `{{user}}` and `{{password}}`.
    Body(Value),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    /// A response header.
    Header(String),
    /// A JSON pointer into the response body.
    Pointer(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenCarrier {
    /// This header holds the token as is.
    Header(String),
    /// `Authorization: Bearer <token>`.
    Bearer,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub query_params: Vec<String>,
    #[serde(default)]
    pub request: Option<RequestBody>,
    pub responses: BTreeMap<String, ResponseSpec>,
    /// Overrides the API's media types for this operation.
    #[serde(default)]
    pub media_types: Option<MediaTypes>,
    /// `path` split once into its segments (routing runs for every request).
    #[serde(skip)]
    segments: std::sync::OnceLock<Box<[Segment]>>,
}

/// One segment of an operation's path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Must equal the request's segment.
    Literal(Box<str>),
    /// `{name}`: takes any one segment.
    Param(Box<str>),
}

impl Operation {
    /// The template's segments, empty ones (leading or doubled slashes) left out.
    pub fn segments(&self) -> &[Segment] {
        self.segments.get_or_init(|| {
            self.path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(
                    |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => Segment::Param(name.into()),
                        None => Segment::Literal(s.into()),
                    },
                )
                .collect()
        })
    }

    /// How many leading segments of a request path (split into its non-empty `segments`) this
    /// template matches (a literal equal, or a parameter); the rest of either side does not
    /// matter.
    pub fn leading_match(&self, segments: &[&str]) -> usize {
        self.segments()
            .iter()
            .zip(segments)
            .take_while(|(want, got)| match want {
                Segment::Param(_) => true,
                Segment::Literal(text) => **text == ***got,
            })
            .count()
    }

    /// Does `path` (relative to the base path, no query) match this operation's template?
    pub fn matches_path(&self, path: &str) -> bool {
        self.match_params(path).is_some()
    }

    /// How many `{name}` segments the template fills if `path` matches it; `None` if it does
    /// not. Allocates nothing: routing asks this of every operation.
    pub fn match_params(&self, path: &str) -> Option<usize> {
        self.count_params(path.split('/').filter(|s| !s.is_empty()))
    }

    /// [`Operation::match_params`] of a path already split into its non-empty `segments`.
    pub fn match_segments(&self, segments: &[&str]) -> Option<usize> {
        if self.segments().len() != segments.len() {
            return None;
        }
        self.count_params(segments.iter().copied())
    }

    /// The parameters the template fills from the request's segments `got`, if they match.
    fn count_params<'p>(&self, mut got: impl Iterator<Item = &'p str>) -> Option<usize> {
        let mut want = self.segments().iter();
        let mut params = 0;
        loop {
            match (want.next(), got.next()) {
                (None, None) => return Some(params),
                (Some(Segment::Param(_)), Some(_)) => params += 1,
                (Some(Segment::Literal(text)), Some(g)) if **text == *g => {}
                _ => return None,
            }
        }
    }

    /// The `{name}` segments of the template, filled from `path`; `None` if it does not match.
    pub fn path_params<'p>(&self, path: &'p str) -> Option<Vec<(&str, &'p str)>> {
        // In lockstep, without collecting the request's side: this runs for every operation of
        // every request, and most templates are refused at their first segment.
        let mut want = self.segments().iter();
        let mut got = path.split('/').filter(|s| !s.is_empty());
        let mut params = Vec::new();
        loop {
            match (want.next(), got.next()) {
                (None, None) => return Some(params),
                (Some(Segment::Param(name)), Some(g)) => params.push((&**name, g)),
                (Some(Segment::Literal(text)), Some(g)) if **text == *g => {}
                _ => return None,
            }
        }
    }

    /// The template with `{name}` segments filled in.
    pub fn fill_path(&self, params: &[(&str, &str)]) -> String {
        params
            .iter()
            .fold(self.path.clone(), |path, (name, value)| {
                path.replace(&format!("{{{name}}}"), value)
            })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct RequestBody {
    pub schema: String,
    /// The root element of the XML rendering, for APIs with one.
    #[serde(default)]
    pub xml_element: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ResponseSpec {
    pub schema: String,
    #[serde(default)]
    pub schema_by_version: BTreeMap<String, String>,
    #[serde(default)]
    pub headers: Vec<String>,
    /// The root element of the XML rendering, for APIs with one.
    #[serde(default)]
    pub xml_element: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Errors {
    /// Schema every error body (status >= 400) satisfies, whatever the envelope.
    pub schema: String,
    /// Named body templates; an API may switch between them (configuration).
    #[serde(default)]
    pub envelopes: BTreeMap<String, Envelope>,
    #[serde(default)]
    pub default_envelope: Option<String>,
    /// Where an error body carries the vendor's error code, per envelope (tried in order).
    #[serde(default)]
    pub code_pointers: Vec<String>,
    pub kinds: BTreeMap<String, ErrorKind>,
    /// The root element of an error body rendered as XML.
    #[serde(default)]
    pub xml_element: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    pub body: Value,
    #[serde(default)]
    pub schema: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ErrorKind {
    pub status: u16,
    /// The vendor's error code.
    #[serde(default)]
    pub code: Option<String>,
    /// The vendor's message text (one), for envelopes with a single message.
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub messages: Vec<String>,
    #[serde(default)]
    pub body: Option<Value>,
    pub basis: Basis,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    Documented,
    Inferred,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Requirement {
    pub id: String,
    pub statement: String,
    pub source: String,
    pub basis: Basis,
}

/// The outcome of routing a request by the spec's operations.
pub enum Routed<'s, 'p> {
    Operation(&'s Operation, Vec<(&'s str, &'p str)>),
    /// The path is an operation's, the method none of them: the methods that are.
    MethodNotAllowed(Vec<&'s str>),
    NoSuchPath,
}
