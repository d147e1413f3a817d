//! Normalised transcripts: the target's URLs, the run tag and server-generated values (per the
//! spec's `transcript` rule) are replaced by stable placeholders. The same value gets the same
//! placeholder everywhere in one transcript (`<id:1>`), so references between steps stay visible.

use std::collections::HashMap;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use event_mock::spec::LoadedSpec;

use crate::target::Target;

#[derive(Debug, Deserialize)]
struct TranscriptRule {
    #[serde(default)]
    placeholders: Vec<Placeholder>,
    #[serde(default)]
    headers: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Placeholder {
    name: String,
    pattern: String,
}

pub struct Normaliser {
    literals: Vec<(String, String)>,
    patterns: Vec<(String, Regex)>,
}

impl Normaliser {
    pub fn new(spec: &LoadedSpec, target: &Target) -> Self {
        let rule: Option<TranscriptRule> = spec.rule("transcript").ok();
        let mut literals = vec![(target.api_url.clone(), "<api>".to_owned())];
        if let Some(admin) = &target.admin_url {
            literals.push((admin.clone(), "<admin>".to_owned()));
        }
        literals.push((target.run_tag.clone(), "<run>".to_owned()));
        // Passwords a step may send in a body (a session login) never reach a transcript.
        for account in &target.accounts.list {
            if let event_mock::api::Credential::Password { password, .. } = &account.credential {
                if !password.is_empty() {
                    literals.push((password.clone(), "<password>".to_owned()));
                }
            }
        }
        let patterns = rule
            .map(|r| r.placeholders)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| Regex::new(&p.pattern).ok().map(|re| (p.name, re)))
            .collect();
        Self { literals, patterns }
    }

    /// Response headers a transcript records, per the spec.
    pub fn recorded_headers(spec: &LoadedSpec) -> Vec<String> {
        spec.rule::<TranscriptRule>("transcript")
            .map(|r| r.headers)
            .unwrap_or_default()
    }

    pub fn normalise(&self, transcript: Value) -> Value {
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        self.walk(transcript, &mut seen)
    }

    fn walk(&self, value: Value, seen: &mut HashMap<(String, String), usize>) -> Value {
        match value {
            Value::String(s) => Value::String(self.string(&s, seen)),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.walk(v, seen)).collect())
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.string(&k, seen), self.walk(v, seen)))
                    .collect(),
            ),
            other => other,
        }
    }

    fn string(&self, text: &str, seen: &mut HashMap<(String, String), usize>) -> String {
        let mut out = text.to_owned();
        for (literal, placeholder) in &self.literals {
            if !literal.is_empty() {
                out = out.replace(literal.as_str(), placeholder);
            }
        }
        for (name, re) in &self.patterns {
            out = re
                .replace_all(&out, |caps: &regex::Captures<'_>| {
                    let next = seen.iter().filter(|((n, _), _)| n == name).count() + 1;
                    let n = *seen
                        .entry((name.clone(), caps[0].to_owned()))
                        .or_insert(next);
                    format!("<{name}:{n}>")
                })
                .into_owned();
        }
        out
    }
}
