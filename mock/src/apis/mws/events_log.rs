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
use crate::compact::CompactDoc;
use crate::timefmt::TimeFormat;

/// Lines kept in memory for the control plane; older ones are only in the file.
const RECENT_LINES: usize = 10_000;

pub struct EventsLog {
    rule: EventsLogRule,
    zone: Zone,
    /// The timestamp's strftime format, parsed once.
    timestamp: TimeFormat,
    /// The spec's escape table by character, built once: every line escapes every character.
    escapes: Escapes,
    /// Code point ranges escaped as `\uXXXX` beyond the table (empty: written raw).
    unicode_ranges: Vec<(u32, u32)>,
    file: Option<Mutex<File>>,
    /// The most recent events, kept as stored (shared with the store, immutable) and written
    /// as lines only when read: a create pays for a line only when a file is written.
    recent: Mutex<VecDeque<CompactDoc>>,
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
        let timestamp = TimeFormat::new(&rule.timestamp.format)
            .map_err(|e| format!("events.log timestamp: {e}"))?;
        let escapes = Escapes::new(&rule.escapes)?;
        Ok(Self {
            rule,
            zone,
            timestamp,
            escapes,
            unicode_ranges,
            file,
            recent: Mutex::new(VecDeque::new()),
        })
    }

    /// Log a stored event: `event` and `stored` are the same document, as a value and as kept
    /// in the store.
    pub fn append(&self, event: &Value, stored: &CompactDoc) {
        if let Some(file) = &self.file {
            let line = self.line(event);
            let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
            // A full disk must not fail the API call; the in-memory copy still has the line.
            let _ = writeln!(file, "{line}");
        }
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == RECENT_LINES {
            recent.pop_front();
        }
        recent.push_back(stored.clone());
    }

    /// The most recent lines, oldest first, each ending in a newline. A line depends only on
    /// its event and the log's fixed rule, so writing it now gives what writing it at append
    /// time gave.
    pub fn recent_text(&self) -> String {
        let recent: Vec<CompactDoc> = {
            let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            recent.iter().cloned().collect()
        };
        let mut text = String::new();
        for doc in recent {
            text.push_str(&self.line(&doc.to_value()));
            text.push('\n');
        }
        text
    }

    pub fn clear(&self) {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Render one event (stored form, v3 names) as an events.log line.
    pub fn line(&self, event: &Value) -> String {
        let mut line = String::with_capacity(256);
        if let Some(at) = event
            .get(&self.rule.timestamp.field)
            .and_then(Value::as_str)
            .and_then(parse_mws_date)
        {
            let local = self.zone.local(at);
            self.timestamp.write(&local, &mut line);
            // Joda prints a zero offset as "Z".
            if local.offset().local_minus_utc() == 0 {
                const ZERO: &str = "+00:00";
                let mut from = 0;
                while let Some(found) = line[from..].find(ZERO) {
                    line.replace_range(from + found..from + found + ZERO.len(), "Z");
                    from += found + 1;
                }
            }
        }
        for entry in &self.rule.entries {
            self.entry(entry, event, &mut line);
        }
        line
    }

    /// Append ` key="value"` parts for one entry of the rule.
    fn entry(&self, entry: &LogEntry, event: &Value, line: &mut String) {
        use std::fmt::Write as _;
        if let Some(list) = &entry.each {
            let Some(items) = event.get(list).and_then(Value::as_array) else {
                return;
            };
            for (i, item) in items.iter().enumerate() {
                for field in &entry.fields {
                    let Some(value) = item.get(field).filter(|v| is_scalar(v)) else {
                        continue;
                    };
                    line.push(' ');
                    // `{i}` in the key stands for the item's index.
                    for (n, part) in entry.key.split("{i}").enumerate() {
                        if n > 0 {
                            let _ = write!(line, "{i}");
                        }
                        line.push_str(part);
                    }
                    line.push_str(field);
                    line.push('=');
                    self.scalar(value, None, line);
                }
            }
            return;
        }
        let Some(value) = entry.field.as_deref().and_then(|f| event.get(f)) else {
            return;
        };
        if entry.list {
            let Some(items) = value.as_array() else {
                return;
            };
            line.push(' ');
            line.push_str(&entry.key);
            line.push_str("=[");
            let mut first = true;
            for item in items.iter().filter(|v| is_scalar(v)) {
                if !first {
                    line.push(',');
                }
                first = false;
                self.scalar(item, None, line);
            }
            line.push(']');
        } else if is_scalar(value)
            // Java's %x takes an int: a number that is not one leaves the entry out.
            && (entry.hex_width.is_none() || !value.is_number() || value.as_i64().is_some())
        {
            let _ = write!(line, " {}=", entry.key);
            self.scalar(value, entry.hex_width, line);
        }
    }

    /// Append a quoted, escaped scalar (the caller leaves out `null` and non-scalars).
    fn scalar(&self, value: &Value, hex_width: Option<usize>, line: &mut String) {
        use std::fmt::Write as _;
        line.push('"');
        match (value, hex_width) {
            (Value::Number(n), Some(width)) => match n.as_i64() {
                // Java's %x on an int prints its two's complement.
                Some(v) => {
                    let bits = v as i32 as u32;
                    let _ = write!(line, "0x{bits:0width$x}");
                }
                None => self.escape(&n.to_string(), line),
            },
            (Value::String(s), _) => self.escape(s, line),
            (Value::Number(n), None) => self.escape(&n.to_string(), line),
            (Value::Bool(b), _) => line.push_str(if *b { "true" } else { "false" }),
            _ => {}
        }
        line.push('"');
    }

    fn escape(&self, raw: &str, out: &mut String) {
        for c in raw.chars() {
            match self.escapes.get(c) {
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
    }
}

/// What [`EventsLog::scalar`] writes; other values are left out of the line.
fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// The escape table by character: ASCII by index, the rest (rare) in a short list.
struct Escapes {
    ascii: Vec<Option<Box<str>>>,
    other: Vec<(char, Box<str>)>,
}

impl Escapes {
    fn new(table: &serde_json::Map<String, Value>) -> Result<Self, String> {
        let mut escapes = Escapes {
            ascii: vec![None; 128],
            other: Vec::new(),
        };
        for (key, escaped) in table {
            let mut chars = key.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                return Err(format!(
                    "events.log escape key '{key}' is not one character"
                ));
            };
            let escaped: Box<str> = escaped
                .as_str()
                .ok_or_else(|| format!("events.log escape for '{key}' is not a string"))?
                .into();
            match escapes.ascii.get_mut(c as usize) {
                Some(slot) => *slot = Some(escaped),
                None => escapes.other.push((c, escaped)),
            }
        }
        Ok(escapes)
    }

    fn get(&self, c: char) -> Option<&str> {
        match self.ascii.get(c as usize) {
            Some(slot) => slot.as_deref(),
            None => self.other.iter().find(|(k, _)| *k == c).map(|(_, e)| &**e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The spec's own rule, so the lines below are what the mock writes.
    fn log(controls: ControlEscapes) -> EventsLog {
        let spec: Value =
            serde_json::from_str(include_str!("../../../../specs/mws-events/spec.json")).unwrap();
        let rule: EventsLogRule =
            serde_json::from_value(spec["rules"]["events_log"].clone()).unwrap();
        EventsLog::new(rule, None, None, controls).unwrap()
    }

    #[test]
    fn a_line_has_the_timestamp_then_each_entry_quoted_and_escaped() {
        let event = json!({
            "eventDate": "2024-06-10 17:13:31 UTC",
            "severity": "INFO",
            "code": 234881023,
            "eventType": "VM \"Provision\"",
            "associatedObjects": [{"type": "VM", "id": "vm1"}, {"type": "Host", "id": "h\\1"}],
            "arguments": ["a", 1, null, {"x": 1}],
            "message": "line\nbreak\ttab\u{1}\u{2028}é",
        });
        assert_eq!(
            log(ControlEscapes::Unicode).line(&event),
            "2024-06-10T17:13:31.000Z severity=\"INFO\" code=\"0x0dffffff\" \
             type=\"VM \\\"Provision\\\"\" \
             associatedObject.0.type=\"VM\" associatedObject.0.id=\"vm1\" \
             associatedObject.1.type=\"Host\" associatedObject.1.id=\"h\\\\1\" \
             arguments=[\"a\",\"1\"] message=\"line\\nbreak\\ttab\\u0001\\u2028é\""
        );
        assert!(log(ControlEscapes::Raw)
            .line(&event)
            .ends_with("message=\"line\\nbreak\\ttab\u{1}\u{2028}é\""));
    }

    #[test]
    fn absent_null_and_unprintable_values_leave_their_entry_out() {
        let line = log(ControlEscapes::Unicode).line(&json!({
            "severity": null,
            "code": 1.5,
            "eventType": {"not": "a scalar"},
            "origin": true,
            "arguments": "not a list",
        }));
        // No date: the line starts with the separator, as the joined parts always did.
        assert_eq!(line, " origin=\"true\"");
        // A negative code prints Java's two's complement.
        let line = log(ControlEscapes::Unicode).line(&json!({"code": -1}));
        assert_eq!(line, " code=\"0xffffffff\"");
    }
}
