//! `events.log`: one line per created event, in the layout and escaping the seed documents.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde_json::Value;

use super::config::ControlEscapes;
use super::dates::{parse_mws_date, Zone};
use super::rules::{EventsLogRule, LogEntry};

/// Lines kept in memory for the control plane; older ones are only in the file.
const RECENT_LINES: usize = 10_000;

pub struct EventsLog {
    rule: EventsLogRule,
    zone: Zone,
    /// Code point ranges escaped as `\uXXXX` beyond the table (empty: written raw).
    unicode_ranges: Vec<(u32, u32)>,
    file: Option<Mutex<File>>,
    recent: Mutex<VecDeque<String>>,
}

impl EventsLog {
    /// `zone` overrides the spec's default timestamp zone; `path` adds a file sink; `controls`
    /// says whether characters the escape table omits but the spec's ranges name are escaped.
    pub fn new(
        rule: EventsLogRule,
        zone: Option<&str>,
        path: Option<&Path>,
        controls: ControlEscapes,
    ) -> Result<Self, String> {
        let zone_text = zone.unwrap_or(&rule.timestamp.zone);
        let zone = Zone::parse(zone_text)
            .ok_or_else(|| format!("unknown events.log zone '{zone_text}'"))?;
        let file = match path {
            Some(p) => Some(Mutex::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| format!("cannot open events.log at {}: {e}", p.display()))?,
            )),
            None => None,
        };
        let unicode_ranges = match controls {
            ControlEscapes::Unicode => rule.unlisted_controls.code_ranges()?,
            ControlEscapes::Raw => Vec::new(),
        };
        Ok(Self {
            rule,
            zone,
            unicode_ranges,
            file,
            recent: Mutex::new(VecDeque::new()),
        })
    }

    pub fn append(&self, event: &Value) {
        let line = self.line(event);
        if let Some(file) = &self.file {
            let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
            // A full disk must not fail the API call; the in-memory copy still has the line.
            let _ = writeln!(file, "{line}");
        }
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == RECENT_LINES {
            recent.pop_front();
        }
        recent.push_back(line);
    }

    /// The most recent lines, oldest first, each ending in a newline.
    pub fn recent_text(&self) -> String {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.iter().map(|l| format!("{l}\n")).collect()
    }

    pub fn clear(&self) {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Render one event (stored form, v3 names) as an events.log line.
    pub fn line(&self, event: &Value) -> String {
        let mut parts: Vec<String> = Vec::new();
        let timestamp = event
            .get(&self.rule.timestamp.field)
            .and_then(Value::as_str)
            .and_then(parse_mws_date)
            .map(|at| {
                let local = self.zone.local(at);
                let text = local.format(&self.rule.timestamp.format).to_string();
                // Joda prints a zero offset as "Z".
                if local.offset().local_minus_utc() == 0 {
                    text.replace("+00:00", "Z")
                } else {
                    text
                }
            })
            .unwrap_or_default();
        parts.push(timestamp);
        for entry in &self.rule.entries {
            self.entry(entry, event, &mut parts);
        }
        parts.join(" ")
    }

    fn entry(&self, entry: &LogEntry, event: &Value, parts: &mut Vec<String>) {
        if let Some(list) = &entry.each {
            let Some(items) = event.get(list).and_then(Value::as_array) else {
                return;
            };
            for (i, item) in items.iter().enumerate() {
                let prefix = entry.key.replace("{i}", &i.to_string());
                for field in &entry.fields {
                    if let Some(text) = item.get(field).and_then(|v| self.scalar(v, None)) {
                        parts.push(format!("{prefix}{field}={text}"));
                    }
                }
            }
            return;
        }
        let Some(value) = entry.field.as_deref().and_then(|f| event.get(f)) else {
            return;
        };
        let text = if entry.list {
            value.as_array().map(|items| {
                let quoted: Vec<String> =
                    items.iter().filter_map(|v| self.scalar(v, None)).collect();
                format!("[{}]", quoted.join(","))
            })
        } else {
            self.scalar(value, entry.hex_width)
        };
        if let Some(text) = text {
            parts.push(format!("{}={text}", entry.key));
        }
    }

    /// A quoted, escaped value; `null` and non-scalars are left out.
    fn scalar(&self, value: &Value, hex_width: Option<usize>) -> Option<String> {
        let raw = match (value, hex_width) {
            (Value::Number(n), Some(width)) => {
                // Java's %x on an int prints its two's complement.
                let bits = n.as_i64()? as i32 as u32;
                format!("0x{bits:0width$x}")
            }
            (Value::String(s), _) => s.clone(),
            (Value::Number(n), None) => n.to_string(),
            (Value::Bool(b), _) => b.to_string(),
            _ => return None,
        };
        Some(format!("\"{}\"", self.escape(&raw)))
    }

    fn escape(&self, raw: &str) -> String {
        let mut out = String::with_capacity(raw.len());
        let mut buf = [0u8; 4];
        for c in raw.chars() {
            let key: &str = c.encode_utf8(&mut buf);
            match self.rule.escapes.get(key).and_then(Value::as_str) {
                Some(escaped) => out.push_str(escaped),
                None if self
                    .unicode_ranges
                    .iter()
                    .any(|&(lo, hi)| (lo..=hi).contains(&u32::from(c))) =>
                {
                    let hex = format!("{:04X}", u32::from(c));
                    out.push_str(&self.rule.unlisted_controls.escape.replace("XXXX", &hex));
                }
                None => out.push(c),
            }
        }
        out
    }
}
