//! Scenario files (`specs/<api>/scenarios/*.json`): named request/expectation steps that check
//! one or more requirements of the API's spec.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use event_mock::spec::{self, AuthScheme, LoadedSpec};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Requirement ids this scenario checks.
    pub requirements: Vec<String>,
    /// Capabilities beyond plain API calls; the ones steps imply are added when loading.
    #[serde(default)]
    pub needs: BTreeSet<Capability>,
    pub steps: Vec<Step>,
    /// Run the steps once per variant, each with its own variables added (and `{{variant}}`
    /// set to its name): e.g. the same reads with an XML and a JSON `Accept`, held to one set
    /// of assertions. None: the steps run once.
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// File the scenario came from, relative to `specs/`.
    #[serde(skip)]
    pub file: String,
}

/// One run of a scenario's steps with extra variables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}

/// What a target must offer for a scenario to run; live targets often lack them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// The mock's `/__admin` control plane (seeding, events.log read-back).
    Admin,
    /// A second account that authenticates but lacks the API's permission.
    RestrictedUser,
    /// An AK/SK pair (the spec's `ak-sk` request signature).
    AccessKey,
    /// An IAM token.
    Token,
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Capability::Admin => "admin",
            Capability::RestrictedUser => "restricted_user",
            Capability::AccessKey => "access_key",
            Capability::Token => "token",
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub name: String,
    pub request: RequestSpec,
    pub expect: Expect,
    /// Send the request this many times, with `{{i}}` (1-based), `{{i_pad}}` and `{{i0_pad}}`
    /// (1- and 0-based, zero-padded to the width of the count) set; the transcript keeps the
    /// first and the last exchange.
    #[serde(default)]
    pub repeat: Option<usize>,
    /// Variable name -> where to read it from the response.
    #[serde(default)]
    pub capture: BTreeMap<String, CaptureFrom>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    pub method: String,
    /// Path below the API's base URL (or below the server root when `admin` is set).
    pub path: String,
    /// Query parameters, encoded by the harness; a non-string value is sent as compact JSON.
    #[serde(default)]
    pub query: serde_json::Map<String, Value>,
    /// A query string sent exactly as written (for malformed encodings).
    #[serde(default)]
    pub raw_query: Option<String>,
    #[serde(default)]
    pub auth: Auth,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON body (string values are templated); sets Content-Type unless `headers` does.
    #[serde(default)]
    pub json: Option<Value>,
    /// Raw text body, templated.
    #[serde(default)]
    pub body: Option<String>,
    /// Raw body bytes, base64 (for invalid UTF-8).
    #[serde(default)]
    pub body_base64: Option<String>,
    /// A generated body: `prefix`, then `fill` repeated to `bytes`, then `suffix`.
    #[serde(default)]
    pub generated_body: Option<GeneratedBody>,
    /// Talk to the mock's control plane (`/__admin/...`) instead of the API.
    #[serde(default)]
    pub admin: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratedBody {
    #[serde(default)]
    pub prefix: String,
    pub fill: String,
    pub bytes: usize,
    #[serde(default)]
    pub suffix: String,
}

impl GeneratedBody {
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes + self.prefix.len() + self.suffix.len());
        out.extend_from_slice(self.prefix.as_bytes());
        let fill = if self.fill.is_empty() {
            " "
        } else {
            self.fill.as_str()
        };
        // Whole copies of `fill` until `bytes` are reached: one `repeat` (doubling copies), not
        // a loop per copy, which took seconds for the 10-16 MB bodies in a debug build.
        out.extend_from_slice(fill.repeat(self.bytes.div_ceil(fill.len())).as_bytes());
        out.extend_from_slice(self.suffix.as_bytes());
        out
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// The target's main credential for the API's first auth scheme.
    #[default]
    Default,
    /// No credentials at all.
    None,
    /// The target's credential (same scheme) that lacks the API's permission.
    Restricted,
    /// Explicit HTTP Basic credentials (e.g. a wrong password).
    Basic { user: String, password: String },
    /// An Authorization header value sent as is.
    Header(String),
    /// The target's IAM token in the API's token header.
    Token,
    /// This token value in the API's token header.
    TokenValue(String),
    /// An AK/SK signature with the target's key, optionally tampered with.
    Aksk(AkSkOptions),
}

/// How to sign with AK/SK; the defaults sign the request as the SDK would.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AkSkOptions {
    /// Use this AK instead of the target's.
    #[serde(default)]
    pub ak: Option<String>,
    /// Sign with this SK instead of the target's.
    #[serde(default)]
    pub sk: Option<String>,
    /// Sign with the target's restricted key.
    #[serde(default)]
    pub restricted: bool,
    /// Date the signature this many milliseconds away from the target's clock.
    #[serde(default)]
    pub skew_ms: i64,
    /// Sign these bytes (text) but send the step's real body.
    #[serde(default)]
    pub signed_body: Option<String>,
    /// Extra headers to include in the signature.
    #[serde(default)]
    pub signed_headers: BTreeMap<String, String>,
    /// Headers set (or replaced) after signing.
    #[serde(default)]
    pub after_signing: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Expected status, or any of a list.
    pub status: StatusSet,
    /// Schema file of the API to validate the body against. Absent: what the spec declares for
    /// this operation and status; `false`: no schema check.
    #[serde(default)]
    pub schema: Option<SchemaChoice>,
    #[serde(default, rename = "assert")]
    pub assertions: Vec<Assertion>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StatusSet {
    One(u16),
    Any(Vec<u16>),
}

impl StatusSet {
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            StatusSet::One(s) => *s == status,
            StatusSet::Any(list) => list.contains(&status),
        }
    }
}

impl std::fmt::Display for StatusSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusSet::One(s) => write!(f, "{s}"),
            StatusSet::Any(list) => {
                let parts: Vec<String> = list.iter().map(u16::to_string).collect();
                write!(f, "one of {}", parts.join(", "))
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SchemaChoice {
    File(String),
    /// Only `false` is meaningful: skip the schema check.
    Flag(bool),
}

/// One check on a response. Exactly one target (`pointer`, `header` or `text`) and at least one
/// operation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assertion {
    /// JSON pointer into the response body ("" is the whole body).
    #[serde(default)]
    pub pointer: Option<String>,
    /// A response header, by name.
    #[serde(default)]
    pub header: Option<String>,
    /// The raw response body as text.
    #[serde(default)]
    pub text: bool,
    /// The vendor error code, wherever the API's envelope puts it (spec `errors.code_pointers`).
    #[serde(default)]
    pub error_code: bool,
    /// Map an array target through this pointer first (missing gives null).
    #[serde(default)]
    pub pluck: Option<String>,
    #[serde(default)]
    pub equals: Option<Value>,
    #[serde(default)]
    pub not_equals: Option<Value>,
    /// The same elements in any order.
    #[serde(default)]
    pub same_set: Option<Value>,
    #[serde(default)]
    pub matches: Option<String>,
    #[serde(default)]
    pub length: Option<Value>,
    #[serde(default)]
    pub absent: bool,
    #[serde(default)]
    pub present: bool,
    #[serde(default)]
    pub contains: Option<Value>,
    #[serde(default)]
    pub not_contains: Option<Value>,
    #[serde(default)]
    pub gte: Option<Value>,
    #[serde(default)]
    pub lte: Option<Value>,
    #[serde(default)]
    pub one_of: Option<Vec<Value>>,
    /// Every object in the target, at any depth, has this member first (a member order the
    /// API promises, e.g. a type discriminator clients read before the rest).
    #[serde(default)]
    pub first_member: Option<String>,
    /// The array target is in this order: `ascending` or `descending`. Numbers compare by value,
    /// dotted numbers (`36.0` < `100.1`) part by part, other text by code point.
    #[serde(default)]
    pub ordered: Option<Order>,
    /// Sub-assertions applied to every element of an array target (pointers relative to it).
    #[serde(default)]
    pub each: Option<Vec<Assertion>>,
    /// Why this check matters (shown on failure).
    #[serde(default)]
    pub note: Option<String>,
}

/// The order an `ordered` assertion checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Ascending,
    Descending,
}

impl Assertion {
    fn check_shape(&self) -> Result<(), String> {
        let targets = [
            self.pointer.is_some(),
            self.header.is_some(),
            self.text,
            self.error_code,
        ]
        .iter()
        .filter(|t| **t)
        .count();
        if targets != 1 {
            return Err(
                "an assertion needs exactly one of pointer, header, text, error_code".into(),
            );
        }
        let ops = [
            self.equals.is_some(),
            self.not_equals.is_some(),
            self.same_set.is_some(),
            self.matches.is_some(),
            self.length.is_some(),
            self.absent,
            self.present,
            self.contains.is_some(),
            self.not_contains.is_some(),
            self.gte.is_some(),
            self.lte.is_some(),
            self.one_of.is_some(),
            self.first_member.is_some(),
            self.ordered.is_some(),
            self.each.is_some(),
        ]
        .iter()
        .filter(|o| **o)
        .count();
        if ops == 0 {
            return Err("an assertion needs at least one check".into());
        }
        if let Some(re) = &self.matches {
            regex::Regex::new(re).map_err(|e| format!("bad regex {re:?}: {e}"))?;
        }
        for sub in self.each.iter().flatten() {
            sub.check_shape()?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CaptureFrom {
    /// A JSON pointer into the body.
    Pointer(String),
    Header {
        header: String,
    },
    /// The first group of `regex` in the value at `pointer` (e.g. an id inside a URL:
    /// `{"pointer": "/record/0/href", "regex": "/event/([^/]+)$"}`).
    Matched {
        pointer: String,
        regex: String,
    },
}

/// An API's spec with its scenarios.
pub struct Suite {
    pub spec: std::sync::Arc<LoadedSpec>,
    pub scenarios: Vec<Scenario>,
}

impl Suite {
    pub fn api(&self) -> &str {
        &self.spec.spec.id
    }
}

/// Load the suite of `api` from the embedded `specs/` folder, checking every scenario against
/// the spec (known requirement ids, schema files that exist, well-formed assertions).
pub fn load_suite(api: &str) -> Result<Suite, String> {
    let spec = event_mock::apis::spec(api).map_err(|e| e.to_string())?;
    let dir = spec::SPECS_DIR
        .get_dir(format!("{api}/scenarios"))
        .ok_or_else(|| format!("specs/{api}/scenarios is missing"))?;
    let files = dir
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "json"))
        .map(|f| {
            let path = f.path().display().to_string();
            let text = f
                .contents_utf8()
                .ok_or_else(|| format!("{path}: not UTF-8"))?;
            Ok((path, text.to_owned()))
        })
        .collect::<Result<Vec<_>, String>>()?;
    build_suite(spec, files)
}

/// A suite from a loaded spec and scenario files given as (path, text), checked as
/// [`load_suite`] checks the embedded ones (for specs of your own, and tests).
pub fn build_suite(
    spec: std::sync::Arc<LoadedSpec>,
    mut files: Vec<(String, String)>,
) -> Result<Suite, String> {
    files.sort();
    let mut scenarios = Vec::new();
    let mut names = BTreeSet::new();
    for (path, text) in files {
        let mut scenario: Scenario =
            serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        scenario.file = path.clone();
        check_scenario(&scenario, &spec).map_err(|e| format!("{path}: {e}"))?;
        if !names.insert(scenario.name.clone()) {
            return Err(format!(
                "{path}: duplicate scenario name '{}'",
                scenario.name
            ));
        }
        scenario.needs.extend(implied_needs(&scenario, &spec));
        scenarios.push(scenario);
    }
    Ok(Suite { spec, scenarios })
}

/// Capabilities a scenario's steps imply: the control plane, a restricted account, or the
/// credential kind the API's default scheme (or the step's explicit choice) uses.
fn implied_needs(scenario: &Scenario, spec: &LoadedSpec) -> BTreeSet<Capability> {
    let mut needs = BTreeSet::new();
    for step in &scenario.steps {
        if step.request.admin {
            needs.insert(Capability::Admin);
            continue;
        }
        let default_scheme = spec.default_auth();
        match (&step.request.auth, default_scheme) {
            (Auth::Default, Some(AuthScheme::AkSk { .. })) => {
                needs.insert(Capability::AccessKey);
            }
            (Auth::Default, Some(AuthScheme::Token { .. })) => {
                needs.insert(Capability::Token);
            }
            _ => {}
        }
        match &step.request.auth {
            Auth::Restricted => {
                needs.insert(Capability::RestrictedUser);
            }
            Auth::Token => {
                needs.insert(Capability::Token);
            }
            Auth::Aksk(options) => {
                if options.ak.is_none() || options.sk.is_none() {
                    needs.insert(Capability::AccessKey);
                }
                if options.restricted {
                    needs.insert(Capability::RestrictedUser);
                }
            }
            _ => {}
        }
    }
    needs
}

fn check_scenario(scenario: &Scenario, spec: &LoadedSpec) -> Result<(), String> {
    if !scenario
        .name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "scenario name '{}' must be lower-case-with-dashes",
            scenario.name
        ));
    }
    if scenario.requirements.is_empty() {
        return Err("a scenario must name the requirements it checks".into());
    }
    let mut variant_names = BTreeSet::new();
    for variant in &scenario.variants {
        if variant.name.is_empty() || !variant_names.insert(variant.name.as_str()) {
            return Err(format!(
                "variant names must be present and distinct ('{}')",
                variant.name
            ));
        }
    }
    for id in &scenario.requirements {
        if !spec.spec.requirements.iter().any(|r| &r.id == id) {
            return Err(format!("unknown requirement '{id}'"));
        }
    }
    if scenario.steps.is_empty() {
        return Err("a scenario needs steps".into());
    }
    for step in &scenario.steps {
        let bodies = [
            step.request.json.is_some(),
            step.request.body.is_some(),
            step.request.body_base64.is_some(),
            step.request.generated_body.is_some(),
        ];
        if bodies.iter().filter(|b| **b).count() > 1 {
            return Err(format!(
                "step '{}': give at most one of json, body, body_base64, generated_body",
                step.name
            ));
        }
        if let Some(SchemaChoice::File(name)) = &step.expect.schema {
            spec.schemas
                .get(name)
                .map_err(|e| format!("step '{}': {e}", step.name))?;
        }
        if step.expect.assertions.is_empty() && matches!(step.expect.status, StatusSet::Any(_)) {
            return Err(format!(
                "step '{}': a step that accepts several statuses must assert something",
                step.name
            ));
        }
        for assertion in &step.expect.assertions {
            assertion
                .check_shape()
                .map_err(|e| format!("step '{}': {e}", step.name))?;
        }
        for (name, from) in &step.capture {
            if let CaptureFrom::Matched { regex, .. } = from {
                let compiled = regex::Regex::new(regex)
                    .map_err(|e| format!("step '{}': capture '{name}': {e}", step.name))?;
                if compiled.captures_len() < 2 {
                    return Err(format!(
                        "step '{}': capture '{name}': the regex needs a group to capture",
                        step.name
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::GeneratedBody;

    #[test]
    fn a_generated_body_repeats_whole_fills_until_its_size_is_reached() {
        let body = |fill: &str, bytes| {
            let generated = GeneratedBody {
                prefix: "<".into(),
                fill: fill.into(),
                bytes,
                suffix: ">".into(),
            };
            String::from_utf8(generated.build()).unwrap()
        };
        assert_eq!(body("x", 3), "<xxx>");
        assert_eq!(body("ab", 3), "<abab>");
        assert_eq!(body("ab", 4), "<abab>");
        assert_eq!(body("", 2), "<  >");
        assert_eq!(body("ab", 0), "<>");
        assert_eq!(body("x", 10_000_000).len(), 10_000_002);
    }
}
