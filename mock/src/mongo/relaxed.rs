//! Mongo-shell-style relaxed JSON, as APIs that take MongoDB queries in their parameters accept it.
//!
//! Accepted beyond strict JSON: unquoted keys (`{code:33554946}`, `{a.b:1}`, `{$gt:1}`),
//! single-quoted strings, and a trailing comma before `}` or `]`. Integers stay integers.
//! The parser is iterative (explicit stack), so hostile nesting cannot overflow the stack;
//! depth is still capped so the resulting `Value` stays shallow.

use serde_json::{Map, Number, Value};

/// Parse `text` as relaxed JSON, rejecting nesting deeper than `max_depth` containers and any
/// trailing non-whitespace. Errors are short messages suitable for API users.
pub fn parse_relaxed_json(text: &str, max_depth: usize) -> Result<Value, String> {
    Parser {
        src: text,
        bytes: text.as_bytes(),
        pos: 0,
    }
    .parse(max_depth)
}

enum Frame {
    Array(Vec<Value>),
    /// The key waiting for its value.
    Object(Map<String, Value>, String),
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn parse(mut self, max_depth: usize) -> Result<Value, String> {
        let mut stack: Vec<Frame> = Vec::new();
        self.skip_ws();
        if self.pos >= self.bytes.len() {
            return Err("empty JSON document".into());
        }
        'value: loop {
            self.skip_ws();
            let mut value = match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    if stack.len() >= max_depth {
                        return Err(format!("JSON nested deeper than {max_depth} levels"));
                    }
                    self.pos += 1;
                    self.skip_ws();
                    if open == b'{' {
                        if self.peek() == Some(b'}') {
                            self.pos += 1;
                            Value::Object(Map::new())
                        } else {
                            let key = self.parse_key()?;
                            stack.push(Frame::Object(Map::new(), key));
                            continue 'value;
                        }
                    } else if self.peek() == Some(b']') {
                        self.pos += 1;
                        Value::Array(Vec::new())
                    } else {
                        stack.push(Frame::Array(Vec::new()));
                        continue 'value;
                    }
                }
                Some(q @ (b'"' | b'\'')) => Value::String(self.parse_string(q)?),
                Some(b'-' | b'0'..=b'9') => self.parse_number()?,
                Some(c) if c.is_ascii_alphabetic() => self.parse_literal()?,
                Some(_) => return Err(self.unexpected()),
                None => return Err("unexpected end of JSON".into()),
            };
            // Attach the finished value to its parent; closing brackets may finish parents too.
            loop {
                let Some(frame) = stack.last_mut() else {
                    self.skip_ws();
                    if self.pos < self.bytes.len() {
                        return Err(format!(
                            "unexpected trailing characters at offset {}",
                            self.pos
                        ));
                    }
                    return Ok(value);
                };
                let close = match frame {
                    Frame::Array(items) => {
                        items.push(value);
                        b']'
                    }
                    Frame::Object(map, key) => {
                        map.insert(std::mem::take(key), value);
                        b'}'
                    }
                };
                self.skip_ws();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        self.skip_ws();
                        if self.peek() != Some(close) {
                            if let Frame::Object(_, key) = frame {
                                *key = self.parse_key()?;
                            }
                            continue 'value;
                        }
                        // Trailing comma: fall through to close the container.
                        self.pos += 1;
                    }
                    Some(c) if c == close => self.pos += 1,
                    Some(_) => {
                        return Err(format!(
                            "expected ',' or '{}' at offset {}",
                            close as char, self.pos
                        ))
                    }
                    None => return Err("unexpected end of JSON".into()),
                }
                value = match stack.pop() {
                    Some(Frame::Array(items)) => Value::Array(items),
                    Some(Frame::Object(map, _)) => Value::Object(map),
                    None => return Err("internal parser error".into()),
                };
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn unexpected(&self) -> String {
        match self.src.get(self.pos..).and_then(|s| s.chars().next()) {
            Some(c) => format!("unexpected character '{c}' at offset {}", self.pos),
            None => "unexpected end of JSON".into(),
        }
    }

    /// A key: quoted string, or a bare word as the Java driver's JSON parser accepts.
    fn parse_key(&mut self) -> Result<String, String> {
        let key = match self.peek() {
            Some(q @ (b'"' | b'\'')) => self.parse_string(q)?,
            _ => {
                let start = self.pos;
                let rest = &self.src[start..];
                let len = rest
                    .char_indices()
                    .find(|&(_, c)| !is_bare_key_char(c))
                    .map_or(rest.len(), |(i, _)| i);
                if len == 0 {
                    return Err(match self.peek() {
                        None => "unexpected end of JSON".into(),
                        Some(_) => format!("expected a field name at offset {}", self.pos),
                    });
                }
                self.pos += len;
                rest[..len].to_owned()
            }
        };
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(format!(
                "expected ':' after field name at offset {}",
                self.pos
            ));
        }
        self.pos += 1;
        Ok(key)
    }

    fn parse_string(&mut self, quote: u8) -> Result<String, String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut run = self.pos;
        loop {
            let Some(c) = self.peek() else {
                return Err(format!("unterminated string starting at offset {start}"));
            };
            match c {
                _ if c == quote => {
                    out.push_str(&self.src[run..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.src[run..self.pos]);
                    self.pos += 1;
                    self.parse_escape(&mut out)?;
                    run = self.pos;
                }
                0..=0x1f => {
                    return Err(format!(
                        "control character in string at offset {}",
                        self.pos
                    ))
                }
                _ => self.pos += 1,
            }
        }
    }

    fn parse_escape(&mut self, out: &mut String) -> Result<(), String> {
        let at = self.pos;
        let c = self.peek().ok_or("unterminated string")?;
        self.pos += 1;
        let ch = match c {
            b'"' => '"',
            b'\'' => '\'',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.parse_hex4()?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                        return Err(format!("unpaired surrogate escape at offset {at}"));
                    }
                    self.pos += 2;
                    let lo = self.parse_hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(format!("unpaired surrogate escape at offset {at}"));
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                char::from_u32(code)
                    .ok_or_else(|| format!("invalid unicode escape at offset {at}"))?
            }
            _ => return Err(format!("invalid escape sequence at offset {}", at - 1)),
        };
        out.push(ch);
        Ok(())
    }

    fn parse_hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .src
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| format!("invalid unicode escape at offset {}", self.pos))?;
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|_| "invalid unicode escape".to_string())
    }

    fn parse_number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        let bad = |p: &Self| format!("invalid number at offset {start}: '{}'", p.token(start));
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(bad(self)),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(bad(self));
            }
            self.skip_digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(bad(self));
            }
            self.skip_digits();
        }
        if matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'.') {
            return Err(bad(self));
        }
        let text = &self.src[start..self.pos];
        if integer {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::Number(i.into()));
            }
            if let Ok(u) = text.parse::<u64>() {
                return Ok(Value::Number(u.into()));
            }
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("number out of range at offset {start}"))
    }

    fn skip_digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn parse_literal(&mut self) -> Result<Value, String> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            self.pos += 1;
        }
        match &self.src[start..self.pos] {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "null" => Ok(Value::Null),
            word => Err(format!(
                "unexpected word '{}' at offset {start} (strings need quotes)",
                truncate(word)
            )),
        }
    }

    /// The offending token for an error message, bounded so errors stay short.
    fn token(&self, start: usize) -> &str {
        let rest = &self.src[start..];
        let end = rest
            .char_indices()
            .find(|&(_, c)| c.is_whitespace() || ",:]}".contains(c))
            .map_or(rest.len(), |(i, _)| i);
        truncate(&rest[..end])
    }
}

fn is_bare_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '_' | '$' | '.')
        || (!c.is_ascii() && c.is_alphanumeric())
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(32) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unquoted_keys_and_single_quotes() {
        assert_eq!(
            parse_relaxed_json("{code:33554946}", 32).unwrap(),
            json!({"code": 33554946})
        );
        assert_eq!(
            parse_relaxed_json("{ 'associatedObjects.id' : {$ne:'x'} , a.b:[1,2,] }", 32).unwrap(),
            json!({"associatedObjects.id": {"$ne": "x"}, "a.b": [1, 2]})
        );
    }

    #[test]
    fn integers_stay_integers() {
        let v = parse_relaxed_json(
            "[33554946, -9223372036854775808, 18446744073709551615, 1.0, 1e2]",
            8,
        )
        .unwrap();
        assert!(v[0].is_i64());
        assert!(v[1].is_i64());
        assert!(v[2].is_u64());
        assert!(v[3].is_f64());
        assert!(v[4].is_f64());
        // Too large for u64: falls back to a float rather than failing.
        assert!(parse_relaxed_json("123456789012345678901234567890", 8)
            .unwrap()
            .is_f64());
    }

    #[test]
    fn deep_nesting_is_rejected_without_overflow() {
        let deep = "[".repeat(100_000);
        let err = parse_relaxed_json(&deep, 64).unwrap_err();
        assert!(err.contains("deeper than 64"), "{err}");
        // Even an absurd limit cannot overflow: the parser is iterative.
        let err = parse_relaxed_json(&deep, usize::MAX).unwrap_err();
        assert!(err.contains("end of JSON"), "{err}");
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert!(parse_relaxed_json(&ok, 64).is_ok());
        let too_deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert!(parse_relaxed_json(&too_deep, 64).is_err());
    }

    #[test]
    fn errors() {
        for (text, needle) in [
            ("", "empty"),
            ("   ", "empty"),
            ("{a:1} x", "trailing"),
            ("{a:1}}", "trailing"),
            ("{a 1}", "expected ':'"),
            ("{a:1 b:2}", "expected ','"),
            ("{a:ERROR}", "strings need quotes"),
            ("{'a:1}", "unterminated"),
            ("{a:01}", "invalid number"),
            ("{a:1.}", "invalid number"),
            ("{a:-}", "invalid number"),
            ("{a:1e999}", "out of range"),
            ("{a:'\\q'}", "invalid escape"),
            ("{:1}", "field name"),
            ("[1,,2]", "unexpected character"),
            ("{a:[1}", "expected ','"),
            ("{\"a\":\"\\ud800\"}", "surrogate"),
            ("{a:1", "end of JSON"),
        ] {
            let err = parse_relaxed_json(text, 16).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn escapes_and_unicode() {
        assert_eq!(
            parse_relaxed_json(r#"["a\"b", 'it\'s', "\u00e9\ud83d\ude00", "ü"]"#, 4).unwrap(),
            json!(["a\"b", "it's", "é😀", "ü"])
        );
        assert_eq!(parse_relaxed_json("{ünï:1}", 4).unwrap(), json!({"ünï": 1}));
    }
}
