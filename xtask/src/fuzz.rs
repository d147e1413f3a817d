//! `cargo xtask fuzz`: the property tests' long runs.
//!
//! Every property test has an `#[ignore]`d `fuzz_*` twin that repeats it with fresh seeds until
//! `EVENT_FUZZ_SECONDS` have passed (see `mock/tests/props/runner.rs`). This command builds those
//! tests in release mode, shares the time it is given among the chosen targets (a target's
//! properties run side by side for its share), runs them, and prints what ran.
//! A failure is shrunk and saved under the crate's `proptest-regressions/`, where `cargo test`
//! replays it from then on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// About how long to fuzz, in minutes (after the release build).
    #[arg(long, default_value_t = 1.0)]
    minutes: f64,
    /// What to fuzz.
    #[arg(long, value_enum, default_value_t = Target::All)]
    target: Target,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Target {
    /// The MongoDB query parser, filters and sorts.
    Query,
    /// The AK/SK signer and verifier.
    Signature,
    /// Every registered API's request handler, through the sans-IO core.
    Handler,
    /// The XML reader and writer.
    Xml,
    /// All of the above, one after the other.
    All,
}

/// Where a target's long runs live: package, test binary, and the filter naming them.
struct Suite {
    name: &'static str,
    package: &'static str,
    test: &'static str,
    filter: &'static str,
}

const SUITES: &[(Target, Suite)] = &[
    (
        Target::Query,
        Suite {
            name: "query",
            package: "event-mock",
            test: "props",
            filter: "query::fuzz_",
        },
    ),
    (
        Target::Signature,
        Suite {
            name: "signature",
            package: "event-mock",
            test: "props",
            filter: "signature::fuzz_",
        },
    ),
    (
        Target::Handler,
        Suite {
            name: "handler",
            package: "event-harness",
            test: "props_every_api",
            filter: "fuzz_handler_",
        },
    ),
    (
        Target::Xml,
        Suite {
            name: "xml",
            package: "event-mock",
            test: "props",
            filter: "xml::fuzz_",
        },
    ),
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(workspace_root());
    c
}

fn cargo_test(suite: &Suite) -> Command {
    let mut c = cargo();
    c.args([
        "test",
        "--release",
        "-p",
        suite.package,
        "--test",
        suite.test,
    ]);
    c
}

/// The names of a suite's long runs (`cargo test -- --ignored --list`).
fn long_runs(suite: &Suite) -> anyhow::Result<Vec<String>> {
    let out = cargo_test(suite)
        .args(["--", "--ignored", "--list", suite.filter])
        .output()
        .context("running cargo test --list")?;
    if !out.status.success() {
        bail!(
            "listing the {} tests failed:\n{}",
            suite.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .filter(|name| name.contains(suite.filter))
        .map(str::to_owned)
        .collect())
}

/// Build, list, share the time, run. Ok(true) when every long run passed.
pub fn run(args: FuzzArgs) -> anyhow::Result<bool> {
    if !(args.minutes.is_finite() && args.minutes > 0.0) {
        bail!("--minutes must be a positive number");
    }
    let suites: Vec<&Suite> = SUITES
        .iter()
        .filter(|(t, _)| args.target == Target::All || *t == args.target)
        .map(|(_, s)| s)
        .collect();

    println!("fuzz: building the property tests (release)");
    for package in ["event-mock", "event-harness"] {
        let tests: Vec<&str> = suites
            .iter()
            .filter(|s| s.package == package)
            .map(|s| s.test)
            .collect();
        if tests.is_empty() {
            continue;
        }
        let mut c = cargo();
        c.args(["test", "--release", "--no-run", "-p", package]);
        for t in tests {
            c.args(["--test", t]);
        }
        if !c.status().context("running cargo")?.success() {
            bail!("the release build of {package}'s property tests failed");
        }
    }

    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let share = args.minutes * 60.0 / suites.len() as f64;
    let mut summary = Vec::new();
    let mut all_passed = true;
    for suite in suites {
        let names = long_runs(suite)?;
        if names.is_empty() {
            bail!("no long runs named '{}' in {}", suite.filter, suite.test);
        }
        // All of a target's properties run at once for its whole share: the cores are split
        // evenly among them and the wall time is exact.
        let threads = names.len();
        let per_test = share;
        println!(
            "\nfuzz {}: {} properties at once for {:.0}s on {cores} cores (cargo test --release -p {} --test {} -- --ignored {})",
            suite.name,
            names.len(),
            per_test,
            suite.package,
            suite.test,
            suite.filter
        );
        for n in &names {
            println!("  {n}");
        }
        let start = Instant::now();
        let status = cargo_test(suite)
            .env(PROPERTY_SECONDS, format!("{per_test:.1}"))
            .args([
                "--",
                "--ignored",
                "--nocapture",
                &format!("--test-threads={threads}"),
                suite.filter,
            ])
            .status()
            .context("running cargo test")?;
        let passed = status.success();
        all_passed &= passed;
        summary.push(format!(
            "  {:<10} {:>2} properties  {:>6.1}s  {}",
            suite.name,
            names.len(),
            start.elapsed().as_secs_f64(),
            if passed { "ok" } else { "FAILED" }
        ));
        if !passed {
            println!(
                "fuzz {}: a property failed; the shrunk case is saved under {}/proptest-regressions/ \
                 (commit it, and add an explicit #[test] for the bug)",
                suite.name,
                if suite.package == "event-mock" { "mock" } else { "harness" }
            );
        }
    }
    println!("\nfuzz summary:\n{}", summary.join("\n"));
    Ok(all_passed)
}

/// The variable the long runs read (`mock/tests/props/runner.rs`).
const PROPERTY_SECONDS: &str = "EVENT_FUZZ_SECONDS";
