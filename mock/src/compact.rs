//! A compact, immutable JSON document for stores that hold many of them.
//!
//! A `serde_json::Value` tree with ordered maps costs one allocation per string and per
//! container, a hash index per object and about 80 bytes per node: some 3.8 KB resident for a
//! 400-byte event. A [`CompactDoc`] is one allocation: the value written out as bytes, members
//! in document order. It keeps everything an answer shows: key order, integers apart from
//! floats (`1` is not `1.0`), integers above `i64::MAX`, any Unicode. The Mongo matcher and sort
//! read it in place through [`DocView`] ([`DocRef`]), so a query neither parses nor allocates
//! per document; a document becomes a `Value` again only to be answered.
//!
//! Encoding (integers little-endian):
//!
//! ```text
//! value  = NULL | FALSE | TRUE
//!        | INT   zigzag-varint            an i64
//!        | UINT  u64                      only above i64::MAX
//!        | FLOAT f64
//!        | STR   varint(len) utf8
//!        | ARRAY  varint(count) u32(body bytes) value*
//!        | OBJECT varint(count) u32(body bytes) (varint(len) utf8 value)*
//! ```
//!
//! The body length lets a lookup step over a member without reading it.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::mongo::{DocView, Num, TypeClass};
use crate::store::Weigh;

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const UINT: u8 = 4;
const FLOAT: u8 = 5;
const STR: u8 = 6;
const ARRAY: u8 = 7;
const OBJECT: u8 = 8;

/// One JSON document in one shared allocation. Cloning shares it.
#[derive(Clone, PartialEq, Eq)]
pub struct CompactDoc {
    bytes: Arc<[u8]>,
}

impl CompactDoc {
    /// The compact form of `value`.
    ///
    /// # Panics
    /// When one array or object needs more than 4 GiB, which no request body limit allows.
    pub fn encode(value: &Value) -> CompactDoc {
        // Sized exactly first: growing the buffer step by step cost more than the walk.
        let size = encoded_size(value);
        let mut out = Vec::with_capacity(size);
        write_value(value, &mut out);
        debug_assert_eq!(out.len(), size, "encoded_size agrees with write_value");
        CompactDoc {
            bytes: Arc::from(out),
        }
    }

    /// The document as a `Value` again, identical to the one encoded (key order included).
    pub fn to_value(&self) -> Value {
        self.view().to_value()
    }

    /// The document's root value, for the matcher and sort.
    pub fn view(&self) -> DocRef<'_> {
        DocRef { bytes: &self.bytes }
    }

    /// Bytes of the encoding.
    pub fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    /// What [`CompactDoc::encode`] of `value` would weigh ([`Weigh`]), without encoding it: for
    /// a store that checks a batch's room before it builds the documents.
    pub fn weight_of(value: &Value) -> usize {
        encoded_size(value) + ARC_COUNTERS
    }
}

/// The shared allocation's counters.
const ARC_COUNTERS: usize = 16;

fn varint_size(mut n: u64) -> usize {
    let mut size = 1;
    while n >= 0x80 {
        n >>= 7;
        size += 1;
    }
    size
}

/// Bytes `write_value` writes for `value`.
fn encoded_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 1,
        Value::Number(n) => match Num::from_number(n) {
            Num::Int(i) => 1 + varint_size(((i << 1) ^ (i >> 63)) as u64),
            Num::UInt(_) | Num::Float(_) => 9,
        },
        Value::String(s) => 1 + varint_size(s.len() as u64) + s.len(),
        Value::Array(items) => {
            1 + varint_size(items.len() as u64) + 4 + items.iter().map(encoded_size).sum::<usize>()
        }
        Value::Object(map) => {
            1 + varint_size(map.len() as u64)
                + 4
                + map
                    .iter()
                    .map(|(k, v)| varint_size(k.len() as u64) + k.len() + encoded_size(v))
                    .sum::<usize>()
        }
    }
}

impl From<&Value> for CompactDoc {
    fn from(value: &Value) -> Self {
        CompactDoc::encode(value)
    }
}

impl fmt::Debug for CompactDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompactDoc({})", self.to_value())
    }
}

impl Weigh for CompactDoc {
    /// The encoding plus the shared allocation's counters.
    fn weight(&self) -> usize {
        self.bytes.len() + ARC_COUNTERS
    }
}

fn write_varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    write_varint(s.len() as u64, out);
    out.extend_from_slice(s.as_bytes());
}

fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Number(n) => match Num::from_number(n) {
            Num::Int(i) => {
                out.push(INT);
                write_varint(((i << 1) ^ (i >> 63)) as u64, out);
            }
            Num::UInt(u) => {
                out.push(UINT);
                out.extend_from_slice(&u.to_le_bytes());
            }
            Num::Float(f) => {
                out.push(FLOAT);
                out.extend_from_slice(&f.to_le_bytes());
            }
        },
        Value::String(s) => {
            out.push(STR);
            write_str(s, out);
        }
        Value::Array(items) => {
            out.push(ARRAY);
            write_varint(items.len() as u64, out);
            let at = begin_body(out);
            for item in items {
                write_value(item, out);
            }
            end_body(out, at);
        }
        Value::Object(map) => {
            out.push(OBJECT);
            write_varint(map.len() as u64, out);
            let at = begin_body(out);
            for (key, item) in map {
                write_str(key, out);
                write_value(item, out);
            }
            end_body(out, at);
        }
    }
}

/// Reserve the body length; returns where it goes.
fn begin_body(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    at
}

fn end_body(out: &mut [u8], at: usize) {
    let body = out.len() - at - 4;
    let body = u32::try_from(body).expect("a JSON container under 4 GiB");
    out[at..at + 4].copy_from_slice(&body.to_le_bytes());
}

/// A container's body length: four little-endian bytes at `pos`.
#[inline]
fn read_body_len(bytes: &[u8], pos: usize) -> usize {
    u32::from_le_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]) as usize
}

/// Reads a varint at `*pos` and moves past it.
#[inline]
fn read_varint(bytes: &[u8], pos: &mut usize) -> u64 {
    let mut n = 0u64;
    let mut shift = 0;
    loop {
        let b = bytes[*pos];
        *pos += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return n;
        }
        shift += 7;
    }
}

#[inline]
fn read_str<'a>(bytes: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let len = read_varint(bytes, pos) as usize;
    let s = &bytes[*pos..*pos + len];
    *pos += len;
    s
}

#[inline]
fn read_8(bytes: &[u8], at: usize) -> [u8; 8] {
    let mut b = [0; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    b
}

/// Strings were written from `&str`, so they are valid UTF-8; the check stays for safety's
/// sake and costs little on short strings.
#[inline]
fn as_text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

#[inline]
fn prefetch_read(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint to the cache: it never faults and writes nothing,
    // whatever the address (here always inside a live slice).
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// One value inside a [`CompactDoc`]: a slice that starts at the value (and may run past it).
#[derive(Clone, Copy)]
pub struct DocRef<'a> {
    bytes: &'a [u8],
}

impl<'a> DocRef<'a> {
    fn tag(self) -> u8 {
        self.bytes[0]
    }

    /// Count and body of a container.
    #[inline]
    fn container(self) -> (usize, &'a [u8]) {
        let mut pos = 1;
        let count = read_varint(self.bytes, &mut pos) as usize;
        let body = read_body_len(self.bytes, pos);
        pos += 4;
        (count, &self.bytes[pos..pos + body])
    }

    /// Bytes this value takes.
    #[inline]
    fn encoded_len(self) -> usize {
        let mut pos = 1;
        match self.tag() {
            INT => {
                read_varint(self.bytes, &mut pos);
                pos
            }
            UINT | FLOAT => 9,
            STR => {
                let len = read_varint(self.bytes, &mut pos) as usize;
                pos + len
            }
            ARRAY | OBJECT => {
                read_varint(self.bytes, &mut pos);
                pos + 4 + read_body_len(self.bytes, pos)
            }
            _ => 1,
        }
    }

    /// This value as a `Value`.
    pub fn to_value(self) -> Value {
        match self.tag() {
            TRUE => Value::Bool(true),
            FALSE => Value::Bool(false),
            INT | UINT | FLOAT => self
                .as_num()
                .map_or(Value::Null, |n| Value::Number(n.to_number())),
            STR => Value::String(self.as_str().unwrap_or_default().to_owned()),
            ARRAY => Value::Array(
                self.items()
                    .into_iter()
                    .flatten()
                    .map(Self::to_value)
                    .collect(),
            ),
            OBJECT => {
                let mut map = Map::with_capacity(self.container().0);
                for (key, item) in self.fields().into_iter().flatten() {
                    map.insert(key.to_owned(), item.to_value());
                }
                Value::Object(map)
            }
            _ => Value::Null,
        }
    }
}

/// The elements of an array.
pub struct Items<'a> {
    body: &'a [u8],
    left: usize,
}

impl<'a> Iterator for Items<'a> {
    type Item = DocRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<DocRef<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let item = DocRef { bytes: self.body };
        self.body = &self.body[item.encoded_len()..];
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// The members of an object, in document order.
pub struct Fields<'a> {
    body: &'a [u8],
    left: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a str, DocRef<'a>);

    #[inline]
    fn next(&mut self) -> Option<(&'a str, DocRef<'a>)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let mut pos = 0;
        let key = read_str(self.body, &mut pos);
        let item = DocRef {
            bytes: &self.body[pos..],
        };
        self.body = &self.body[pos + item.encoded_len()..];
        Some((as_text(key), item))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a> DocView<'a> for DocRef<'a> {
    type Items = Items<'a>;
    type Fields = Fields<'a>;

    #[inline]
    fn class(self) -> TypeClass {
        match self.tag() {
            NULL => TypeClass::Null,
            FALSE | TRUE => TypeClass::Bool,
            INT | UINT | FLOAT => TypeClass::Number,
            STR => TypeClass::String,
            ARRAY => TypeClass::Array,
            _ => TypeClass::Object,
        }
    }

    #[inline]
    fn as_str(self) -> Option<&'a str> {
        if self.tag() != STR {
            return None;
        }
        let mut pos = 1;
        Some(as_text(read_str(self.bytes, &mut pos)))
    }

    fn as_bool(self) -> Option<bool> {
        match self.tag() {
            TRUE => Some(true),
            FALSE => Some(false),
            _ => None,
        }
    }

    #[inline]
    fn as_num(self) -> Option<Num> {
        match self.tag() {
            INT => {
                let mut pos = 1;
                let z = read_varint(self.bytes, &mut pos);
                Some(Num::Int(((z >> 1) as i64) ^ -((z & 1) as i64)))
            }
            UINT => Some(Num::UInt(u64::from_le_bytes(read_8(self.bytes, 1)))),
            FLOAT => Some(Num::Float(f64::from_le_bytes(read_8(self.bytes, 1)))),
            _ => None,
        }
    }

    fn items(self) -> Option<Items<'a>> {
        (self.tag() == ARRAY).then(|| {
            let (left, body) = self.container();
            Items { body, left }
        })
    }

    fn fields(self) -> Option<Fields<'a>> {
        (self.tag() == OBJECT).then(|| {
            let (left, body) = self.container();
            Fields { body, left }
        })
    }

    fn len(self) -> usize {
        match self.tag() {
            ARRAY | OBJECT => self.container().0,
            _ => 0,
        }
    }

    /// The first cache lines of the value (most documents fit in them).
    #[inline]
    fn prefetch(self) {
        const LINE: usize = 64;
        const LINES: usize = 4;
        for offset in (0..self.bytes.len().min(LINE * LINES)).step_by(LINE) {
            prefetch_read(self.bytes[offset..].as_ptr());
        }
    }

    /// Steps over members by their lengths, comparing key bytes; no member is decoded.
    #[inline]
    fn field(self, name: &str) -> Option<DocRef<'a>> {
        if self.tag() != OBJECT {
            return None;
        }
        let (left, body) = self.container();
        let mut pos = 0;
        for _ in 0..left {
            let key = read_str(body, &mut pos);
            let item = DocRef {
                bytes: &body[pos..],
            };
            if key == name.as_bytes() {
                return Some(item);
            }
            pos += item.encoded_len();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mongo::SortSpec;
    use serde_json::json;

    fn round_trip(text: &str) {
        let value: Value = serde_json::from_str(text).unwrap();
        let doc = CompactDoc::encode(&value);
        assert_eq!(CompactDoc::weight_of(&value), doc.weight(), "{text}");
        let back = doc.to_value();
        assert_eq!(back, value, "{text}");
        // Same text: key order, number forms and escapes survive.
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            serde_json::to_string(&value).unwrap()
        );
    }

    #[test]
    fn round_trips_to_identical_json() {
        for text in [
            r#"{"z":1,"a":2,"m":{"y":[],"b":{}}}"#,
            r#"{"one":1,"onePointZero":1.0,"exp":1e3,"neg":-5,"negZero":-0.0,"zero":0}"#,
            r#"{"i64min":-9223372036854775808,"i64max":9223372036854775807,"u64max":18446744073709551615}"#,
            r#"{"big":123456789012345678901234567890,"tiny":5e-324,"pi":3.141592653589793}"#,
            r#"{"ü":"é😀\u0000\n\"\\","日本":["語",null,true,false]}"#,
            r#"[1,[2,[3,[{"deep":[{}]}]]]]"#,
            r#""a string""#,
            "null",
            "-12",
            r#"{"arguments":["vm1"],"associatedObjects":[{"type":"VM","id":"vm1","_id":"vm1","version":0}],"code":234881023,"eventDate":"2024-06-10 17:13:31 UTC","eventType":"VM Provision","message":"The virtual machine vm1 was provisioned","origin":"CSA Plugin","severity":"INFO","version":0,"id":"65a1b2c3d4e5f60718293a4b"}"#,
        ] {
            round_trip(text);
        }
        let long = format!(
            r#"{{"s":"{}","n":[{}]}}"#,
            "x".repeat(70_000),
            "7,".repeat(300) + "8"
        );
        round_trip(&long);
    }

    #[test]
    fn an_event_takes_less_than_its_json_text() {
        let event = json!({"arguments": ["vm1"], "associatedObjects": [{"type": "VM", "id": "vm1"}],
            "code": 234881023, "eventDate": "2024-06-10 17:13:31 UTC", "eventType": "VM Provision",
            "message": "The virtual machine vm1 was provisioned", "origin": "CSA Plugin",
            "severity": "INFO", "id": "65a1b2c3d4e5f60718293a4b"});
        let doc = CompactDoc::encode(&event);
        assert!(
            doc.encoded_len() < event.to_string().len(),
            "{}",
            doc.encoded_len()
        );
    }

    #[test]
    fn the_view_reads_what_the_value_holds() {
        let value = json!({"a": {"b": [1, 2.5, "x", null, true, {"c": -3}]}, "u": u64::MAX});
        let doc = CompactDoc::encode(&value);
        let root = doc.view();
        assert_eq!(root.class(), TypeClass::Object);
        assert_eq!(root.len(), 2);
        let b = root.field("a").and_then(|a| a.field("b")).unwrap();
        let items: Vec<Value> = b.items().unwrap().map(DocRef::to_value).collect();
        assert_eq!(items, value["a"]["b"].as_array().unwrap().clone());
        assert_eq!(
            root.field("u").and_then(DocView::as_num),
            Some(Num::UInt(u64::MAX))
        );
        assert!(root.field("missing").is_none());
        assert!(b.field("a").is_none());
    }

    /// Sorts over mixed types, missing fields and arrays pick the same top k on both paths.
    #[test]
    fn top_k_agrees_with_the_value_path() {
        let docs: Vec<Value> = (0..200)
            .map(|n| match n % 6 {
                0 => json!({"n": n, "a": (n * 7) % 4}),
                1 => json!({"n": n, "a": format!("s{}", (n * 3) % 5)}),
                2 => json!({"n": n}),
                3 => json!({"n": n, "a": null, "b": n % 2}),
                4 => json!({"n": n, "a": [(n * 11) % 6, 1.5], "b": -(n % 3)}),
                _ => json!({"n": n, "a": {"x": n % 3}, "b": [true, "t"]}),
            })
            .collect();
        let compact: Vec<CompactDoc> = docs.iter().map(CompactDoc::encode).collect();
        for spec in [
            json!({"a": 1}),
            json!({"a": -1, "b": 1}),
            json!({"b": -1, "n": -1}),
        ] {
            let spec = SortSpec::parse(&spec).unwrap();
            for k in [0, 1, 10, 199, 200, 250] {
                let mut by_value: Vec<&Value> = docs.iter().collect();
                spec.sort_top(&mut by_value, k);
                let mut by_doc: Vec<DocRef<'_>> = compact.iter().map(CompactDoc::view).collect();
                spec.sort_top_docs(&mut by_doc, k);
                let by_doc: Vec<Value> = by_doc.into_iter().map(DocRef::to_value).collect();
                let by_value: Vec<Value> = by_value.into_iter().cloned().collect();
                assert_eq!(by_doc, by_value, "{k}");
            }
        }
    }
}
