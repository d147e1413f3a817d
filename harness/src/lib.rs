//! Conformance harness: loads an API's spec and scenarios, runs them against the embedded mock
//! or a live endpoint, checks status, schema and assertions, and reports per requirement.
//!
//! - [`scenario`]: the scenario file format and its loader.
//! - [`runner`]: targets and execution (reqwest).
//! - [`checks`]: assertion evaluation.
//! - [`transcript`]: normalised exchanges for snapshots and drift diffs.
//! - [`report`]: verdicts and their table / Markdown / JUnit forms.

pub mod checks;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod transcript;

pub use report::{SuiteReport, Verdict};
pub use runner::{run_suite, Credentials, LiveTarget, TargetKind};
pub use scenario::{load_suite, Suite};
