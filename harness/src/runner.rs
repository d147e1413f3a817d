//! Running a suite: each scenario against a fresh embedded mock or a live endpoint, its steps in
//! order with their repetitions, then the scenario's normalised transcript and outcome.

use serde_json::Value;

use event_mock::MockServer;

use crate::auth::ClientAuth;
use crate::report::{ScenarioOutcome, ScenarioResult, SuiteReport};
use crate::scenario::{Scenario, Suite, Variant};
use crate::target::{http_client, http_client_trusting, Target, TargetKind};
use crate::template::Vars;
use crate::transcript::Normaliser;

/// Run every scenario of `suite` (or those named in `only`) on `kind`.
pub async fn run_suite(suite: &Suite, kind: &TargetKind, only: Option<&[String]>) -> SuiteReport {
    let client = match kind {
        TargetKind::Live(live) => http_client_trusting(&live.trust).unwrap_or_else(|e| {
            eprintln!("{e}; trusting only the system's roots");
            http_client()
        }),
        _ => http_client(),
    };
    let live_tag = format!("r{:08x}", rand_tag());
    let mut results = Vec::new();
    for (index, scenario) in suite.scenarios.iter().enumerate() {
        if only.is_some_and(|names| !names.iter().any(|n| n == &scenario.name)) {
            continue;
        }
        let result = match kind {
            TargetKind::Embedded(_) | TargetKind::EmbeddedTls(_) => {
                run_embedded(&client, suite, scenario, kind).await
            }
            TargetKind::Live(live) => {
                let target = Target {
                    api_url: live.url.trim_end_matches('/').to_owned(),
                    admin_url: live.admin_url.clone(),
                    accounts: live.accounts.clone(),
                    vars: live.vars.clone(),
                    // Scenarios share a live system: each gets its own tag.
                    run_tag: format!("{live_tag}s{index:03}"),
                };
                run_scenario(&client, suite, scenario, &target).await
            }
        };
        results.push(result);
    }
    let target = match kind {
        TargetKind::Embedded(_) => "embedded mock".to_owned(),
        TargetKind::EmbeddedTls(_) => "embedded mock over HTTPS".to_owned(),
        TargetKind::Live(live) => live.url.clone(),
    };
    let covered = suite
        .scenarios
        .iter()
        .flat_map(|s| s.requirements.iter().cloned())
        .collect();
    SuiteReport::new(&suite.spec, target, results, &covered)
}

/// Run one scenario against a mock started for it alone (what `cargo test` does per scenario).
pub async fn run_embedded(
    client: &reqwest::Client,
    suite: &Suite,
    scenario: &Scenario,
    kind: &TargetKind,
) -> ScenarioResult {
    let (config, started) = match kind {
        TargetKind::Embedded(config) => (config, MockServer::start_with(config.clone()).await),
        TargetKind::EmbeddedTls(config) => {
            (config, MockServer::start_tls_with(config.clone()).await)
        }
        TargetKind::Live(_) => {
            return ScenarioResult::failed(scenario, vec!["not an embedded target".into()])
        }
    };
    match started {
        Ok(server) => {
            let target = Target::embedded(&server, suite.api(), config);
            // Over HTTPS, trust exactly this server's certificate.
            let trusting;
            let client = match server.certificate_pem() {
                Some(pem) => {
                    let trust = crate::target::Trust {
                        ca_pem: Some(pem.to_owned()),
                        accept_invalid_certs: false,
                    };
                    match http_client_trusting(&trust) {
                        Ok(c) => {
                            trusting = c;
                            &trusting
                        }
                        Err(e) => return ScenarioResult::failed(scenario, vec![e]),
                    }
                }
                None => client,
            };
            run_scenario(client, suite, scenario, &target).await
        }
        Err(e) => ScenarioResult::failed(
            scenario,
            vec![format!("could not start the embedded mock: {e}")],
        ),
    }
}

fn rand_tag() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}

/// Run a scenario's steps once (one variant), appending exchanges and failures; a failing step
/// ends this run. `tag` labels the steps of a variant (`[xml] `), in failures and transcripts.
async fn run_steps(
    auth: &mut ClientAuth<'_>,
    scenario: &Scenario,
    vars: &mut Vars,
    tag: &str,
    exchanges: &mut Vec<Value>,
    failures: &mut Vec<String>,
) {
    'steps: for (index, step) in scenario.steps.iter().enumerate() {
        let count = step.repeat.unwrap_or(1).max(1);
        let width = count.to_string().len();
        for i in 1..=count {
            if step.repeat.is_some() {
                vars.insert("i".into(), i.to_string());
                vars.insert("i_pad".into(), format!("{i:0width$}"));
                vars.insert("i0_pad".into(), format!("{:0width$}", i - 1));
            }
            let label = if step.repeat.is_some() {
                format!(
                    "{tag}step {} '{}' (repetition {i} of {count})",
                    index + 1,
                    step.name
                )
            } else {
                format!("{tag}step {} '{}'", index + 1, step.name)
            };
            match crate::step::run(auth, step, vars).await {
                Ok((mut exchange, step_failures)) => {
                    if !tag.is_empty() {
                        if let Some(name) = exchange.get_mut("step") {
                            *name = Value::String(format!("{tag}{}", step.name));
                        }
                    }
                    if i == 1 || i == count {
                        exchanges.push(exchange);
                    }
                    if !step_failures.is_empty() {
                        failures.extend(step_failures.into_iter().map(|f| format!("{label}: {f}")));
                        break 'steps;
                    }
                }
                Err(e) => {
                    failures.push(format!("{label}: {e}"));
                    break 'steps;
                }
            }
        }
    }
}

/// Run one scenario; a missing capability skips it.
pub async fn run_scenario(
    client: &reqwest::Client,
    suite: &Suite,
    scenario: &Scenario,
    target: &Target,
) -> ScenarioResult {
    let missing: Vec<String> = scenario
        .needs
        .difference(&target.capabilities())
        .map(|c| c.to_string())
        .collect();
    if !missing.is_empty() {
        return ScenarioResult {
            name: scenario.name.clone(),
            file: scenario.file.clone(),
            requirements: scenario.requirements.clone(),
            outcome: ScenarioOutcome::Skipped(format!("target lacks: {}", missing.join(", "))),
            transcript: Value::Array(Vec::new()),
        };
    }
    let mut auth = ClientAuth::new(client, &suite.spec, target);
    let mut exchanges = Vec::new();
    let mut failures = Vec::new();
    // No variants: one run with no extra variables and unlabelled steps.
    let single = [Variant {
        name: String::new(),
        vars: Default::default(),
    }];
    let variants = if scenario.variants.is_empty() {
        &single[..]
    } else {
        &scenario.variants[..]
    };
    for variant in variants {
        let mut vars: Vars = target.vars.clone();
        vars.insert("run".into(), target.run_tag.clone());
        vars.extend(variant.vars.clone());
        let tag = if variant.name.is_empty() {
            String::new()
        } else {
            vars.insert("variant".into(), variant.name.clone());
            format!("[{}] ", variant.name)
        };
        run_steps(
            &mut auth,
            scenario,
            &mut vars,
            &tag,
            &mut exchanges,
            &mut failures,
        )
        .await;
    }
    let normaliser = Normaliser::new(&suite.spec, target);
    let transcript = normaliser.normalise(Value::Array(exchanges));
    ScenarioResult {
        name: scenario.name.clone(),
        file: scenario.file.clone(),
        requirements: scenario.requirements.clone(),
        outcome: if failures.is_empty() {
            ScenarioOutcome::Passed
        } else {
            ScenarioOutcome::Failed(failures)
        },
        transcript,
    }
}
