//! The seam every vendor API plugs into: the [`Api`] trait the dispatcher calls, the
//! [`Registration`] an API's folder exports for the registry (`apis/mod.rs`), and the
//! [`Account`]s an API offers to clients such as the harness.
//!
//! Most of [`Api`] defaults from the API's spec; a module writes `spec`, `handle`, `reset` and
//! `accounts`, and overrides the rest only where its vendor differs.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::clock::MockClock;
use crate::config::{MockConfig, SignatureClock};
use crate::errors::{self, ApiError};
use crate::ids::IdGenerator;
use crate::spec::{FormatCheck, LoadedSpec, Routed, SpecError};
use crate::store::Budget;
use crate::wire::{Reply, Request, Response};

/// What an API module gets from the dispatcher for each request.
pub struct Ctx<'a> {
    pub clock: &'a MockClock,
    pub ids: &'a IdGenerator,
    /// The base path the request came in under (e.g. `/base`, or empty).
    pub base_path: &'a str,
    /// The path below the base path, without the query.
    pub path: &'a str,
    /// The configured public URL (no trailing slash), if any.
    pub public_url: Option<&'a str>,
    pub signature_clock: SignatureClock,
}

impl Ctx<'_> {
    /// `scheme://host[:port]` for absolute URLs in answers: the configured public URL (the
    /// server's bound address by default), never the client's `Host` header.
    pub fn public_origin(&self) -> &str {
        self.public_url.unwrap_or("http://localhost")
    }

    /// The instant request signatures are checked against.
    pub fn signature_now(&self) -> chrono::DateTime<chrono::Utc> {
        match self.signature_clock {
            SignatureClock::Real => chrono::Utc::now(),
            SignatureClock::Mock => self.clock.now(),
        }
    }
}

/// A read over more stored items than this is heavy (see [`Api::heavy`]): at roughly a
/// microsecond per item, it takes longer than handing the request to a blocking thread.
pub const HEAVY_SCAN_ITEMS: usize = 10_000;

/// One vendor API implemented by the mock.
pub trait Api: Send + Sync {
    /// The API's spec.
    fn spec(&self) -> &LoadedSpec;

    /// Answer one request addressed to this API (below one of its base paths). The reply is a
    /// value; the dispatcher encodes it.
    fn handle(&self, req: &Request, ctx: &Ctx<'_>) -> Reply;

    /// Forget all state.
    fn reset(&self);

    /// The accounts this instance accepts, for clients that need credentials (the harness).
    fn accounts(&self) -> Vec<Account>;

    fn id(&self) -> &str {
        &self.spec().spec.id
    }

    /// Base paths this API is mounted under, the default first.
    fn base_paths(&self) -> &[String] {
        self.spec().base_paths()
    }

    /// How deeply `path` (below a base path) is one of this API's resources or a near miss it
    /// should answer: 0 is not at all; where APIs share a base path the deepest claim wins.
    fn claim_depth(&self, path: &str) -> usize {
        self.spec().claim_depth(path)
    }

    /// May answering `req` take long (a read scanning a large store)? Such requests are
    /// answered off the server's I/O threads; everything else is answered in place, since a
    /// hand-off costs more than the microseconds the work takes. By default nothing is heavy.
    fn heavy(&self, _req: &Request, _path: &str) -> bool {
        false
    }

    /// The largest request body this API accepts (the spec's, unless configured otherwise).
    fn body_limit(&self) -> usize {
        self.spec().spec.body_limit.max_bytes
    }

    /// API-specific control endpoints under `/__admin/<api-id>/<path>`.
    fn admin(&self, _req: &Request, _path: &str, _ctx: &Ctx<'_>) -> Option<Response> {
        None
    }

    /// The spec operation a request addresses, if any (faults can target one operation).
    fn operation_of(&self, req: &Request, path: &str) -> Option<String> {
        match self.spec().route(req.method().as_str(), path) {
            Routed::Operation(op, _) => Some(op.id.clone()),
            _ => None,
        }
    }

    /// An answer with one of this API's own error kinds (fault injection).
    fn error(&self, kind: &str, _req: &Request, _ctx: &Ctx<'_>) -> Reply {
        errors::render(
            self.spec(),
            None,
            &ApiError::new(kind).with("detail", "injected fault"),
            &[],
        )
    }

    /// Does this API's spec declare the error kind?
    fn has_error_kind(&self, kind: &str) -> bool {
        self.spec().spec.errors.kinds.contains_key(kind)
    }
}

/// A credential an API accepts, by the auth scheme that uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Credential {
    /// A user name and password: HTTP Basic, or a session login.
    Password { user: String, password: String },
    /// An access key / secret key pair (request signatures).
    AccessKey { ak: String, sk: String },
    /// A token sent as is.
    Token { token: String },
}

/// An account of an API instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub credential: Credential,
    /// Holds the API's permission. Accounts without it authenticate but get 403: the harness
    /// uses one as the "restricted" account.
    pub permitted: bool,
    /// Scenario variables that go with the account, e.g. the project a key belongs to.
    pub vars: BTreeMap<String, String>,
}

impl Account {
    pub fn new(credential: Credential, permitted: bool) -> Self {
        Self {
            credential,
            permitted,
            vars: BTreeMap::new(),
        }
    }

    pub fn with_var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }
}

/// Builds an API from its loaded spec, the mock's configuration and the budget its stores
/// share with every other API's.
pub type BuildApi =
    fn(Arc<LoadedSpec>, &MockConfig, &Arc<Budget>) -> Result<Arc<dyn Api>, SpecError>;

/// What an API's folder hands the registry: how to build it, its `format` checkers, and its
/// command-line flags.
pub struct Registration {
    pub id: &'static str,
    /// Build the API from its loaded spec, the mock's configuration and the shared store budget.
    pub build: BuildApi,
    /// `format` checkers its schemas name (handed to the spec loader).
    pub formats: &'static [FormatCheck],
    pub flags: Flags,
}

/// An API's command-line flags, as a clap `Args` block merged into the server's.
#[derive(Clone, Copy)]
pub struct Flags {
    pub augment: fn(clap::Command) -> clap::Command,
    pub apply: fn(&clap::ArgMatches, &mut MockConfig) -> Result<(), String>,
}

/// A clap `Args` block of one API that writes what it was given into the mock's configuration.
pub trait ApiFlags: clap::Args {
    fn apply(&self, config: &mut MockConfig) -> Result<(), String>;
}

/// The [`Flags`] of an [`ApiFlags`] type.
pub const fn flags<F: ApiFlags>() -> Flags {
    Flags {
        augment: F::augment_args,
        apply: apply_flags::<F>,
    }
}

fn apply_flags<F: ApiFlags>(
    matches: &clap::ArgMatches,
    config: &mut MockConfig,
) -> Result<(), String> {
    F::from_arg_matches(matches)
        .map_err(|e| e.to_string())?
        .apply(config)
}
