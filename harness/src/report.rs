//! Verdicts: per scenario, then per requirement (the unit a vendor reads), and their rendering
//! as a terminal table, Markdown and JUnit XML.

use serde::Serialize;
use serde_json::Value;

use event_mock::spec::{Basis, LoadedSpec};

use crate::scenario::Scenario;

#[derive(Debug, Clone, Serialize)]
pub enum ScenarioOutcome {
    Passed,
    Failed(Vec<String>),
    Skipped(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub name: String,
    pub file: String,
    pub requirements: Vec<String>,
    pub outcome: ScenarioOutcome,
    /// Normalised exchanges (see `transcript`).
    pub transcript: Value,
}

impl ScenarioResult {
    pub fn failed(scenario: &Scenario, reasons: Vec<String>) -> Self {
        Self {
            name: scenario.name.clone(),
            file: scenario.file.clone(),
            requirements: scenario.requirements.clone(),
            outcome: ScenarioOutcome::Failed(reasons),
            transcript: Value::Array(Vec::new()),
        }
    }

    pub fn passed(&self) -> bool {
        matches!(self.outcome, ScenarioOutcome::Passed)
    }
}

/// A requirement's verdict. Inferred requirements that fail are `Advisory`: reported, not fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Advisory,
    Skipped,
    /// No scenario checks it: a hole in the suite, which fails the run.
    Uncovered,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Advisory => "advisory",
            Verdict::Skipped => "skipped",
            Verdict::Uncovered => "UNCOVERED",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RequirementResult {
    pub id: String,
    pub statement: String,
    pub source: String,
    pub basis: Basis,
    pub verdict: Verdict,
    pub scenarios: Vec<String>,
    /// Why it failed or was skipped.
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    pub api: String,
    pub title: String,
    pub target: String,
    pub scenarios: Vec<ScenarioResult>,
    pub requirements: Vec<RequirementResult>,
}

impl SuiteReport {
    /// `covered_in_suite`: requirement ids some scenario of the whole suite covers. A requirement
    /// outside it is `Uncovered`; one covered only by scenarios not run (filtered out) is left
    /// out of this report.
    pub fn new(
        spec: &LoadedSpec,
        target: String,
        scenarios: Vec<ScenarioResult>,
        covered_in_suite: &std::collections::BTreeSet<String>,
    ) -> Self {
        let requirements = spec
            .spec
            .requirements
            .iter()
            .filter(|req| {
                !covered_in_suite.contains(&req.id)
                    || scenarios.iter().any(|s| s.requirements.contains(&req.id))
            })
            .map(|req| {
                let covering: Vec<&ScenarioResult> = scenarios
                    .iter()
                    .filter(|s| s.requirements.contains(&req.id))
                    .collect();
                let mut reasons = Vec::new();
                let mut any_failed = false;
                let mut any_passed = false;
                for s in &covering {
                    match &s.outcome {
                        ScenarioOutcome::Passed => any_passed = true,
                        ScenarioOutcome::Failed(why) => {
                            any_failed = true;
                            reasons.extend(why.iter().map(|w| format!("{}: {w}", s.name)));
                        }
                        ScenarioOutcome::Skipped(why) => {
                            reasons.push(format!("{}: skipped, {why}", s.name))
                        }
                    }
                }
                let verdict = if covering.is_empty() {
                    Verdict::Uncovered
                } else if any_failed {
                    match req.basis {
                        Basis::Documented => Verdict::Fail,
                        Basis::Inferred => Verdict::Advisory,
                    }
                } else if any_passed {
                    reasons.clear();
                    Verdict::Pass
                } else {
                    Verdict::Skipped
                };
                RequirementResult {
                    id: req.id.clone(),
                    statement: req.statement.clone(),
                    source: req.source.clone(),
                    basis: req.basis,
                    verdict,
                    scenarios: covering.iter().map(|s| s.name.clone()).collect(),
                    reasons,
                }
            })
            .collect();
        Self {
            api: spec.spec.id.clone(),
            title: spec.spec.title.clone(),
            target,
            scenarios,
            requirements,
        }
    }

    pub fn count(&self, verdict: Verdict) -> usize {
        self.requirements
            .iter()
            .filter(|r| r.verdict == verdict)
            .count()
    }

    /// Fails the run: a documented requirement failed, or a requirement has no scenario.
    pub fn is_failure(&self) -> bool {
        self.count(Verdict::Fail) + self.count(Verdict::Uncovered) > 0
    }

    pub fn requirement(&self, id: &str) -> Option<&RequirementResult> {
        self.requirements.iter().find(|r| r.id == id)
    }

    pub fn summary(&self) -> String {
        format!(
            "{}: {} requirements: {} pass, {} fail, {} advisory, {} skipped, {} uncovered ({} scenarios against {})",
            self.api,
            self.requirements.len(),
            self.count(Verdict::Pass),
            self.count(Verdict::Fail),
            self.count(Verdict::Advisory),
            self.count(Verdict::Skipped),
            self.count(Verdict::Uncovered),
            self.scenarios.len(),
            self.target
        )
    }

    /// A plain-text table, one requirement per row, then the reasons of every non-pass.
    pub fn table(&self, width: usize) -> String {
        let id_w = self
            .requirements
            .iter()
            .map(|r| r.id.len())
            .max()
            .unwrap_or(2)
            .max(11);
        let statement_w = width.saturating_sub(id_w + 32).max(30);
        let mut out = format!("{} ({})\n", self.title, self.api);
        out.push_str(&format!(
            "{:<id_w$}  {:<10}  {:<9}  {}\n",
            "requirement", "basis", "verdict", "statement"
        ));
        out.push_str(&format!(
            "{}\n",
            "-".repeat(id_w + 25 + statement_w.min(60))
        ));
        for r in &self.requirements {
            let basis = match r.basis {
                Basis::Documented => "documented",
                Basis::Inferred => "inferred",
            };
            out.push_str(&format!(
                "{:<id_w$}  {:<10}  {:<9}  {}\n",
                r.id,
                basis,
                r.verdict.label(),
                clip(&r.statement, statement_w)
            ));
        }
        let problems: Vec<&RequirementResult> = self
            .requirements
            .iter()
            .filter(|r| r.verdict != Verdict::Pass)
            .collect();
        if !problems.is_empty() {
            out.push('\n');
            for r in problems {
                out.push_str(&format!("{} [{}]\n", r.id, r.verdict.label()));
                if r.reasons.is_empty() && r.verdict == Verdict::Uncovered {
                    out.push_str("    no scenario checks this requirement\n");
                }
                for reason in &r.reasons {
                    out.push_str(&format!("    {reason}\n"));
                }
            }
        }
        out.push('\n');
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = format!(
            "## {} (`{}`)\n\nTarget: {}\n\n",
            self.title, self.api, self.target
        );
        out.push_str("| requirement | basis | verdict | statement | source | scenarios |\n|---|---|---|---|---|---|\n");
        for r in &self.requirements {
            let basis = match r.basis {
                Basis::Documented => "documented",
                Basis::Inferred => "inferred",
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                r.id,
                basis,
                r.verdict.label(),
                md_cell(&r.statement),
                md_cell(&r.source),
                r.scenarios.join(", ")
            ));
        }
        let problems: Vec<&RequirementResult> = self
            .requirements
            .iter()
            .filter(|r| !r.reasons.is_empty())
            .collect();
        if !problems.is_empty() {
            out.push_str("\n### Details\n\n");
            for r in problems {
                out.push_str(&format!("- **{}** ({})\n", r.id, r.verdict.label()));
                for reason in &r.reasons {
                    out.push_str(&format!("  - {}\n", md_cell(reason)));
                }
            }
        }
        out.push_str(&format!("\n{}\n", self.summary()));
        out
    }

    /// JUnit XML: one test suite per API, one test case per requirement.
    pub fn junit(&self) -> String {
        let failures = self.count(Verdict::Fail) + self.count(Verdict::Uncovered);
        let skipped = self.count(Verdict::Skipped) + self.count(Verdict::Advisory);
        let mut out = format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n",
            xml(&self.api),
            self.requirements.len()
        );
        for r in &self.requirements {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\">",
                xml(&self.api),
                xml(&r.id)
            ));
            let detail = xml(&r.reasons.join("\n"));
            match r.verdict {
                Verdict::Pass => {}
                Verdict::Fail => out.push_str(&format!("<failure message=\"{}\">{detail}</failure>", xml(&r.statement))),
                Verdict::Uncovered => out.push_str("<failure message=\"no scenario checks this requirement\"/>"),
                Verdict::Advisory => out.push_str(&format!("<skipped message=\"advisory (inferred requirement failed)\">{detail}</skipped>")),
                Verdict::Skipped => out.push_str(&format!("<skipped message=\"{detail}\"/>")),
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
        out
    }
}

/// Wrap several suites' JUnit fragments in one document.
pub fn junit_document(reports: &[SuiteReport]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for r in reports {
        out.push_str(&r.junit());
    }
    out.push_str("</testsuites>\n");
    out
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(width.saturating_sub(3)).collect();
        format!("{cut}...")
    }
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}
