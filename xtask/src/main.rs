//! `cargo xtask <command>`: the project's entry points.
//!
//! - `conformance`: run the conformance suites (embedded mock by default, or `--target URL`).
//! - `serve`: the standalone mock server.
//! - `fuzz`: the property tests' long runs, in release mode, for about `--minutes N`.
//! - `bench`: speed and memory of the release mock beside a minimal server (`docs/PERFORMANCE.md`).

mod bench;
mod fuzz;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use event_harness::{load_suite, run_suite, Accounts, LiveTarget, SuiteReport, TargetKind};
use event_mock::api::{Account, Credential};
use event_mock::MockConfig;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Conformance harness and mock server for event-reporting APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the conformance suites and print a verdict per requirement. Exits non-zero when a
    /// documented requirement fails or a requirement has no scenario.
    Conformance(ConformanceArgs),
    /// Serve the mock until Ctrl-C.
    Serve(event_mock::server::ServeArgs),
    /// Run the property tests with fresh seeds for about --minutes N (release build), e.g.
    /// `cargo xtask fuzz --minutes 10 --target query`. Exits non-zero when a property fails.
    Fuzz(fuzz::FuzzArgs),
    /// Measure the release mock beside a minimal hyper server in one run (req/s, latency, CPU
    /// and memory per request, cold start, stores, queries over a large store) and write docs/PERFORMANCE.md.
    /// `--quick` takes seconds (what .ci/run does).
    Bench(bench::BenchArgs),
}

#[derive(clap::Args)]
struct ConformanceArgs {
    /// Only this API (repeatable); default: every API under specs/.
    #[arg(long = "api")]
    apis: Vec<String>,
    /// Base URL of a live implementation of the API, e.g. https://host:8080/base.
    /// Default: the embedded mock.
    #[arg(long)]
    target: Option<String>,
    /// Account on the target, as user:password.
    #[arg(long, env = "CONFORMANCE_CREDENTIALS", hide_env_values = true)]
    credentials: Option<String>,
    /// An account that authenticates but lacks the API's permission (enables 403 checks).
    #[arg(
        long,
        env = "CONFORMANCE_RESTRICTED_CREDENTIALS",
        hide_env_values = true
    )]
    restricted_credentials: Option<String>,
    /// An access key pair for AK/SK signatures, as AK:SK.
    #[arg(long, env = "CONFORMANCE_ACCESS_KEY", hide_env_values = true)]
    access_key: Option<String>,
    /// An access key pair without the API's permission, as AK:SK (enables 403 checks).
    #[arg(
        long,
        env = "CONFORMANCE_RESTRICTED_ACCESS_KEY",
        hide_env_values = true
    )]
    restricted_access_key: Option<String>,
    /// An IAM token for token authentication.
    #[arg(long, env = "CONFORMANCE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A scenario variable as name=value (repeatable), e.g. --var project_id=0123...
    #[arg(long = "var")]
    vars: Vec<String>,
    /// The target also serves the mock's control plane at this URL (e.g. http://host:8080/__admin).
    #[arg(long)]
    admin_url: Option<String>,
    /// Run against the embedded mock over HTTPS (a certificate generated per server).
    #[arg(long, conflicts_with = "target")]
    tls: bool,
    /// Trust this CA or server certificate (PEM file) for an HTTPS --target, e.g. the one a
    /// mock wrote with --tls-cert-out.
    #[arg(long, requires = "target")]
    ca_cert: Option<PathBuf>,
    /// Accept any certificate from an HTTPS --target (test endpoints only).
    #[arg(long, requires = "target")]
    insecure: bool,
    /// Only these scenarios (repeatable).
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
    /// Also write a JUnit XML report here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Also write a Markdown report here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Also print each scenario's outcome.
    #[arg(long, short)]
    verbose: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fuzz(args) => fuzz::run(args),
        Command::Conformance(args) => runtime().and_then(|rt| rt.block_on(conformance(args))),
        Command::Serve(args) => runtime().and_then(|rt| rt.block_on(args.run()).map(|()| true)),
        Command::Bench(args) => bench::run(args).map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))
}

/// `A:B` split once, for credential flags.
fn pair(text: &str, flag: &str, shape: &str) -> anyhow::Result<(String, String)> {
    text.split_once(':')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .ok_or_else(|| anyhow::anyhow!("{flag} must be {shape}"))
}

/// The accounts given on the command line (or in the environment), by scheme.
fn accounts(args: &ConformanceArgs) -> anyhow::Result<Accounts> {
    let mut list = Vec::new();
    let password = |text: &str, flag: &str| -> anyhow::Result<Credential> {
        let (user, password) = pair(text, flag, "user:password")?;
        Ok(Credential::Password { user, password })
    };
    let access_key = |text: &str, flag: &str| -> anyhow::Result<Credential> {
        let (ak, sk) = pair(text, flag, "AK:SK")?;
        Ok(Credential::AccessKey { ak, sk })
    };
    if let Some(text) = &args.credentials {
        list.push(Account::new(password(text, "--credentials")?, true));
    }
    if let Some(text) = &args.restricted_credentials {
        list.push(Account::new(
            password(text, "--restricted-credentials")?,
            false,
        ));
    }
    if let Some(text) = &args.access_key {
        list.push(Account::new(access_key(text, "--access-key")?, true));
    }
    if let Some(text) = &args.restricted_access_key {
        list.push(Account::new(
            access_key(text, "--restricted-access-key")?,
            false,
        ));
    }
    if let Some(token) = &args.token {
        let credential = Credential::Token {
            token: token.clone(),
        };
        list.push(Account::new(credential, true));
    }
    Ok(Accounts::new(list))
}

async fn conformance(args: ConformanceArgs) -> anyhow::Result<bool> {
    let known = event_mock::apis::ids();
    let apis: Vec<String> = if args.apis.is_empty() {
        known.iter().map(|a| a.to_string()).collect()
    } else {
        args.apis.clone()
    };
    if let Some(unknown) = apis.iter().find(|a| !known.contains(&a.as_str())) {
        anyhow::bail!("unknown API '{unknown}' (known: {})", known.join(", "));
    }
    if args.target.is_some() && apis.len() != 1 {
        anyhow::bail!(
            "--target needs exactly one --api (known: {})",
            known.join(", ")
        );
    }
    let kind = match &args.target {
        None if args.tls => TargetKind::EmbeddedTls(MockConfig::deterministic()),
        None => TargetKind::Embedded(MockConfig::deterministic()),
        Some(url) => TargetKind::Live(LiveTarget {
            trust: event_harness::target::Trust {
                ca_pem: args
                    .ca_cert
                    .as_ref()
                    .map(std::fs::read_to_string)
                    .transpose()?,
                accept_invalid_certs: args.insecure,
            },
            url: url.clone(),
            accounts: accounts(&args)?,
            admin_url: args.admin_url.clone(),
            vars: args
                .vars
                .iter()
                .map(|v| {
                    v.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .ok_or_else(|| anyhow::anyhow!("--var must be name=value, got '{v}'"))
                })
                .collect::<anyhow::Result<_>>()?,
        }),
    };
    let only = (!args.scenarios.is_empty()).then(|| args.scenarios.clone());
    let width = terminal_width();
    // The APIs' suites run at once (each scenario still on a mock of its own, so they share
    // nothing); their reports are printed in the order of the APIs.
    let mut runs = Vec::new();
    for api in &apis {
        let suite = load_suite(api).map_err(anyhow::Error::msg)?;
        let (kind, only) = (kind.clone(), only.clone());
        runs.push(tokio::spawn(async move {
            run_suite(&suite, &kind, only.as_deref()).await
        }));
    }
    let mut reports: Vec<SuiteReport> = Vec::new();
    for run in runs {
        let report = run.await?;
        if args.verbose {
            for s in &report.scenarios {
                println!("scenario {:<40} {:?}", s.name, s.outcome);
            }
        }
        println!("{}", report.table(width));
        reports.push(report);
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, event_harness::report::junit_document(&reports))?;
    }
    if let Some(path) = &args.markdown {
        let text: String = reports
            .iter()
            .map(SuiteReport::markdown)
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(path, text)?;
    }
    Ok(!reports.iter().any(SuiteReport::is_failure))
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(140)
}
