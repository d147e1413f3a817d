//! Conformance harness: loads an API's spec and scenarios, runs them against the embedded mock
//! or a live endpoint, checks status, schema and assertions, and reports per requirement.
//!
//! - [`scenario`]: the scenario file format and its loader.
//! - [`target`]: where scenarios run (embedded mock or live URL) and with which accounts.
//! - [`auth`]: client authentication, one function per scheme (Basic, token, AK/SK, session).
//! - [`template`]: `{{vars}}` and `{"$int": ...}`.
//! - [`request`]: building a step's request; [`step`]: sending it and checking the answer.
//! - [`runner`]: suites and scenarios, in order.
//! - [`checks`]: assertion evaluation.
//! - [`transcript`]: normalised exchanges for snapshots and drift diffs.
//! - [`report`]: verdicts and their table / Markdown / JUnit forms.

pub mod auth;
pub mod checks;
pub mod report;
pub mod request;
pub mod runner;
pub mod scenario;
pub mod step;
pub mod target;
pub mod template;
pub mod transcript;

pub use report::{SuiteReport, Verdict};
pub use runner::run_suite;
pub use scenario::{load_suite, Suite};
pub use target::{Accounts, LiveTarget, Target, TargetKind};
