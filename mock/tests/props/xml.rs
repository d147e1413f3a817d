//! The XML reader and writer (`event_mock::codec::xml::XmlMapping`) on the test mapping of
//! `tests/data/xml/` (a public XML event API's AuditEvent, Event and Error).
//!
//! Decoding never panics on arbitrary bytes or on mutations of real documents; values generated
//! from the mapping itself (every attribute, element and scalar it declares, strings of any
//! character XML 1.0 can carry) come back unchanged through `encode` then `decode`; and whatever
//! decodes re-encodes to a document that decodes to the same value.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use proptest::test_runner::TestCaseResult;
use serde_json::{Map, Number, Value};

use event_mock::codec::xml::{ElementContent, Scalar, XmlLimits, XmlMapping};

use crate::runner::{bounded, until_deadline, Property};

const REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/proptest-regressions");
const MAPPING: &str = include_str!("../data/xml/vcloud-mapping.json");
const SAMPLE: &str = include_str!("../data/xml/audit-event.xml");
/// How deep generated values nest (types refer to themselves, e.g. tasks within tasks).
const NESTING: u32 = 3;

fn prop(name: &'static str, cases: u32) -> Property {
    Property {
        name,
        regressions: REGRESSIONS,
        cases,
        shrink_iters: 2_000,
    }
}

fn mapping() -> &'static XmlMapping {
    static MAP: OnceLock<XmlMapping> = OnceLock::new();
    MAP.get_or_init(|| {
        let m: XmlMapping = serde_json::from_str(MAPPING).expect("the mapping");
        m.check().expect("a valid mapping");
        m
    })
}

// ---------------------------------------------------------------------------------------------
// Generators

/// Characters XML 1.0 can carry, weighted towards the ones that need care.
fn xml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => proptest::char::range(' ', '~'),
        4 => prop::sample::select(vec!['<', '>', '&', '"', '\'', '\t', '\n', '\r', ']', ' ']),
        1 => proptest::char::range('\u{80}', '\u{d7ff}'),
        1 => proptest::char::range('\u{e000}', '\u{fffd}'),
        1 => proptest::char::range('\u{10000}', '\u{10ffff}'),
    ]
}

fn xml_string() -> impl Strategy<Value = String> {
    let chunk = prop_oneof![
        6 => xml_char().prop_map(String::from),
        1 => prop::sample::select(vec![
            "]]>", "\r\n", "&amp;", "&#38;", "<![CDATA[x]]>", "<!--", "-->", "<?x?>", "  ",
            "\u{85}", "\u{2028}", "\u{feff}", "xmlns=\"a\"",
        ])
        .prop_map(str::to_owned),
    ];
    prop::collection::vec(chunk, 0..10).prop_map(|c| c.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        xml_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec((xml_string(), inner), 0..3)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn scalar(s: Scalar) -> BoxedStrategy<Value> {
    match s {
        Scalar::String => xml_string().prop_map(Value::from).boxed(),
        Scalar::Boolean => any::<bool>().prop_map(Value::from).boxed(),
        Scalar::Integer => any::<i64>().prop_map(Value::from).boxed(),
        Scalar::Number => prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        ]
        .boxed(),
        Scalar::Json => json_value().boxed(),
    }
}

/// A value of `type_name` shaped by the mapping: each attribute and element present or not,
/// repeated elements as arrays of one to three items; complex elements stop at `depth` 0.
fn value_of(type_name: &str, depth: u32) -> BoxedStrategy<Value> {
    let ty = &mapping().types[type_name];
    let mut fields: Vec<BoxedStrategy<Option<(String, Value)>>> = Vec::new();
    for a in &ty.attributes {
        let property = a.property.clone();
        fields.push(
            prop::option::of(scalar(a.scalar))
                .prop_map(move |v| v.map(|v| (property.clone(), v)))
                .boxed(),
        );
    }
    for e in &ty.elements {
        let item = match &e.content {
            ElementContent::Complex(_) if depth == 0 => continue,
            ElementContent::Complex(t) => value_of(t, depth - 1),
            ElementContent::Simple(s) => scalar(*s),
        };
        let property = e.property.clone();
        let element = if e.repeated {
            prop::collection::vec(item, 1..3)
                .prop_map(Value::Array)
                .boxed()
        } else {
            item
        };
        fields.push(
            prop::option::of(element)
                .prop_map(move |v| v.map(|v| (property.clone(), v)))
                .boxed(),
        );
    }
    if let Some(t) = &ty.text {
        // Text content is always there (an empty element reads back as "").
        let property = t.property.clone();
        fields.push(
            scalar(t.scalar)
                .prop_map(move |v| Some((property.clone(), v)))
                .boxed(),
        );
    }
    fields
        .prop_map(|entries| Value::Object(entries.into_iter().flatten().collect::<Map<_, _>>()))
        .boxed()
}

/// A root element name and a value for it.
fn rooted_value() -> impl Strategy<Value = (String, Value)> {
    let roots: BTreeMap<String, String> = mapping().roots.clone();
    let per_root: Vec<BoxedStrategy<(String, Value)>> = roots
        .into_iter()
        .map(|(root, ty)| {
            value_of(&ty, NESTING)
                .prop_map(move |v| (root.clone(), v))
                .boxed()
        })
        .collect();
    proptest::strategy::Union::new(per_root)
}

/// Pieces of XML to splice into documents.
const PIECES: &[&str] = &[
    "<",
    ">",
    "/>",
    "</",
    "=",
    "\"",
    "'",
    "&",
    ";",
    "&lt;",
    "&#0;",
    "&#x10FFFF;",
    "&#xD800;",
    "&e;",
    "&amp",
    "<!DOCTYPE a [<!ENTITY e \"x\">]>",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
    "<?pi?>",
    " xmlns=\"urn:x\"",
    " xmlns:p=\"",
    "p:",
    " xsi:type=\"x\"",
    "<Link/>",
    "<Tasks><Task>",
    "</Task>",
    "<Description>",
    "</Description>",
    " success=\"maybe\"",
    " success=\"1\"",
    "<AuditEvent>",
    "</AuditEvent>",
    "\u{feff}",
    "\r\n",
    "\t",
    "\u{0}",
    "\u{fffe}",
];

#[derive(Debug, Clone)]
enum Edit {
    Delete { at: u16, len: u8 },
    Insert { at: u16, piece: &'static str },
    Byte { at: u16, byte: u8 },
    Duplicate { at: u16, len: u8 },
    Truncate { at: u16 },
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let at = any::<u16>();
    let edit = prop_oneof![
        (at, 1u8..16).prop_map(|(at, len)| Edit::Delete { at, len }),
        (at, prop::sample::select(PIECES)).prop_map(|(at, piece)| Edit::Insert { at, piece }),
        (at, prop_oneof![3 => 0x20u8..0x7f, 1 => any::<u8>()])
            .prop_map(|(at, byte)| Edit::Byte { at, byte }),
        (at, 1u8..64).prop_map(|(at, len)| Edit::Duplicate { at, len }),
        at.prop_map(|at| Edit::Truncate { at }),
    ];
    prop::collection::vec(edit, 1..4)
}

fn apply(doc: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = doc.to_vec();
    let pos = |at: u16, len: usize| (usize::from(at) * (len + 1)) / (usize::from(u16::MAX) + 1);
    for edit in edits {
        let n = b.len();
        match *edit {
            Edit::Delete { at, len } => {
                let i = pos(at, n);
                b.drain(i..(i + usize::from(len)).min(n));
            }
            Edit::Insert { at, piece } => {
                let i = pos(at, n);
                b.splice(i..i, piece.bytes());
            }
            Edit::Byte { at, byte } => {
                if n > 0 {
                    let i = pos(at, n - 1);
                    b[i] = byte;
                }
            }
            Edit::Duplicate { at, len } => {
                let i = pos(at, n);
                let end = (i + usize::from(len)).min(n);
                let copy = b[i..end].to_vec();
                b.splice(end..end, copy);
            }
            Edit::Truncate { at } => b.truncate(pos(at, n)),
        }
    }
    b
}

// ---------------------------------------------------------------------------------------------
// Checks

/// Decode; whatever decodes must encode again and decode to the same value.
fn decode_and_reencode(bytes: &[u8]) -> TestCaseResult {
    let Ok((root, value)) = mapping().decode(bytes) else {
        return Ok(());
    };
    let again = mapping().encode(&root, &value).map_err(|e| {
        TestCaseError::fail(format!(
            "decoded {value} from <{root}> but cannot encode it: {e}"
        ))
    })?;
    let back = mapping().decode(&again).map_err(|e| {
        TestCaseError::fail(format!(
            "re-encoded {} does not decode: {e}",
            String::from_utf8_lossy(&again)
        ))
    })?;
    prop_assert_eq!(back, (root, value));
    Ok(())
}

fn arbitrary_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        prop::collection::vec(
            prop_oneof![
                3 => prop::sample::select(PIECES).prop_map(|p| p.as_bytes().to_vec()),
                1 => prop::sample::select(vec![
                    "AuditEvent", "Link", "Org", "href", "name", "Task", "Tasks", "Error",
                    " ", "x", "http://www.vmware.com/vcloud/v1.5",
                ])
                .prop_map(|p| p.as_bytes().to_vec()),
                1 => any::<char>().prop_map(|c| c.to_string().into_bytes()),
            ],
            0..48,
        )
        .prop_map(|chunks| chunks.concat()),
    ]
}

const ARBITRARY_BYTES: u32 = 1_000;

#[test]
fn xml_decode_never_panics_on_arbitrary_bytes() {
    bounded(
        prop(
            "xml_decode_never_panics_on_arbitrary_bytes",
            ARBITRARY_BYTES,
        ),
        arbitrary_bytes(),
        |b| decode_and_reencode(&b),
    );
}

#[test]
#[ignore = "long run: cargo xtask fuzz --target xml"]
fn fuzz_xml_decode_never_panics_on_arbitrary_bytes() {
    until_deadline(
        prop(
            "xml_decode_never_panics_on_arbitrary_bytes",
            ARBITRARY_BYTES,
        ),
        arbitrary_bytes(),
        |b| decode_and_reencode(&b),
    );
}

/// A real document to mutate: the sample, or the encoding of a generated value.
fn document() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => Just(SAMPLE.as_bytes().to_vec()),
        2 => rooted_value().prop_filter_map("encodable", |(root, v)| mapping().encode(&root, &v).ok()),
    ]
}

fn mutated_document() -> impl Strategy<Value = (Vec<u8>, Vec<Edit>, Option<XmlLimits>)> {
    (
        document(),
        prop_oneof![Just(Vec::new()), edits()],
        prop::option::weighted(0.3, limits()),
    )
}

fn check_mutated((doc, edits, limits): (Vec<u8>, Vec<Edit>, Option<XmlLimits>)) -> TestCaseResult {
    let bytes = apply(&doc, &edits);
    match limits {
        None => decode_and_reencode(&bytes),
        Some(limits) => {
            // Tight limits: refused or decoded, never a panic; what decodes is within them.
            let tight = XmlMapping {
                limits: limits.clone(),
                ..mapping().clone()
            };
            if let Ok((_, value)) = tight.decode(&bytes) {
                prop_assert!(depth(&value) <= limits.max_depth, "deeper than the limit");
            }
            Ok(())
        }
    }
}

/// How deeply `v`'s objects nest (elements), not counting arrays (repeated elements).
fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn limits() -> impl Strategy<Value = XmlLimits> {
    (
        1usize..6,
        1usize..64,
        0usize..64,
        1usize..40,
        1usize..6,
        0usize..3,
    )
        .prop_map(
            |(max_depth, max_attribute_bytes, max_text_bytes, max_nodes, max_attributes, ns)| {
                XmlLimits {
                    max_depth,
                    max_attribute_bytes,
                    max_text_bytes,
                    max_nodes,
                    max_attributes,
                    max_namespace_declarations: ns,
                }
            },
        )
}

const MUTATED: u32 = 600;

#[test]
fn xml_decode_never_panics_on_mutated_documents() {
    bounded(
        prop("xml_decode_never_panics_on_mutated_documents", MUTATED),
        mutated_document(),
        check_mutated,
    );
}

#[test]
#[ignore = "long run: cargo xtask fuzz --target xml"]
fn fuzz_xml_decode_never_panics_on_mutated_documents() {
    until_deadline(
        prop("xml_decode_never_panics_on_mutated_documents", MUTATED),
        mutated_document(),
        check_mutated,
    );
}

fn check_round_trip((root, value): (String, Value)) -> TestCaseResult {
    let xml = mapping()
        .encode(&root, &value)
        .map_err(|e| TestCaseError::fail(format!("cannot encode {value}: {e}")))?;
    let text = String::from_utf8_lossy(&xml).into_owned();
    let decoded = mapping()
        .decode(&xml)
        .map_err(|e| TestCaseError::fail(format!("cannot decode {text}: {e}")))?;
    prop_assert_eq!(&decoded, &(root.clone(), value.clone()), "through {}", text);
    // Encoding is deterministic: the decoded value writes the same bytes.
    let again = mapping().encode(&root, &decoded.1).expect("encodes");
    prop_assert_eq!(again, xml);
    Ok(())
}

const ROUND_TRIP: u32 = 400;

#[test]
fn xml_decode_of_encode_is_identity() {
    bounded(
        prop("xml_decode_of_encode_is_identity", ROUND_TRIP),
        rooted_value(),
        check_round_trip,
    );
}

#[test]
#[ignore = "long run: cargo xtask fuzz --target xml"]
fn fuzz_xml_decode_of_encode_is_identity() {
    until_deadline(
        prop("xml_decode_of_encode_is_identity", ROUND_TRIP),
        rooted_value(),
        check_round_trip,
    );
}

// ---------------------------------------------------------------------------------------------
// Other spellings of the same document

/// Ways to write the same document that XML 1.0 says are equivalent (and the mapping says
/// decode alike: element order is free, non-string scalars may carry surrounding whitespace).
#[derive(Debug, Clone)]
struct Spelling {
    /// `<p:AuditEvent xmlns:p="...">` instead of a default namespace.
    prefix: bool,
    declaration: bool,
    bom: bool,
    /// Newlines and spaces between elements.
    indent: bool,
    single_quotes: bool,
    /// Text in CDATA sections.
    cdata: bool,
    /// Every non-ASCII character as a character reference.
    char_refs: bool,
    reverse_attributes: bool,
    reverse_elements: bool,
    /// `<X></X>` rather than `<X/>`.
    open_close_empty: bool,
    /// Comments and processing instructions between elements.
    comments: bool,
    /// Booleans as `1` and `0`.
    numeric_booleans: bool,
    /// Whitespace around non-string scalars.
    pad_scalars: bool,
}

fn spelling() -> impl Strategy<Value = Spelling> {
    prop::collection::vec(any::<bool>(), 13).prop_map(|b| Spelling {
        prefix: b[0],
        declaration: b[1],
        bom: b[2],
        indent: b[3],
        single_quotes: b[4],
        cdata: b[5],
        char_refs: b[6],
        reverse_attributes: b[7],
        reverse_elements: b[8],
        open_close_empty: b[9],
        comments: b[10],
        numeric_booleans: b[11],
        pad_scalars: b[12],
    })
}

struct Speller<'s> {
    s: &'s Spelling,
    out: String,
}

impl Speller<'_> {
    fn scalar(&self, scalar: Scalar, v: &Value) -> String {
        let text = match (scalar, v) {
            (Scalar::String, Value::String(s)) => return s.clone(),
            (Scalar::Boolean, Value::Bool(b)) if self.s.numeric_booleans => {
                if *b { "1" } else { "0" }.to_owned()
            }
            (Scalar::Json, v) => v.to_string(),
            (_, Value::String(s)) => s.clone(),
            (_, other) => other.to_string(),
        };
        if self.s.pad_scalars {
            format!(" \n\t{text}\r\n ")
        } else {
            text
        }
    }

    fn char_ref(&self, c: char) -> Option<String> {
        (self.s.char_refs && !c.is_ascii()).then(|| format!("&#x{:X};", c as u32))
    }

    fn attribute_value(&self, text: &str) -> String {
        let quote = if self.s.single_quotes { '\'' } else { '"' };
        let mut out = String::new();
        out.push(quote);
        for c in text.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '&' => out.push_str("&amp;"),
                '\t' => out.push_str("&#9;"),
                '\n' => out.push_str("&#xA;"),
                '\r' => out.push_str("&#13;"),
                c if c == quote => out.push_str(if quote == '"' { "&quot;" } else { "&apos;" }),
                c => match self.char_ref(c) {
                    Some(r) => out.push_str(&r),
                    None => out.push(c),
                },
            }
        }
        out.push(quote);
        out
    }

    fn text(&mut self, text: &str) {
        if self.s.cdata && !self.s.char_refs {
            // CDATA cannot hold "]]>" or keep a carriage return; split around both.
            let mut section = String::new();
            for c in text.chars() {
                if c == '\r' {
                    self.out.push_str(&format!("<![CDATA[{section}]]>&#13;"));
                    section.clear();
                } else if c == '>' && section.ends_with("]]") {
                    self.out.push_str(&format!("<![CDATA[{section}]]>&gt;"));
                    section.clear();
                } else {
                    section.push(c);
                }
            }
            self.out.push_str(&format!("<![CDATA[{section}]]>"));
            return;
        }
        for c in text.chars() {
            match c {
                '<' => self.out.push_str("&lt;"),
                '&' => self.out.push_str("&amp;"),
                '>' => self.out.push_str("&gt;"),
                '\r' => self.out.push_str("&#xD;"),
                c => match self.char_ref(c) {
                    Some(r) => self.out.push_str(&r),
                    None => self.out.push(c),
                },
            }
        }
    }

    fn between(&mut self, depth: usize) {
        if self.s.comments {
            self.out.push_str("<!-- - --><?pi data?>");
        }
        if self.s.indent {
            self.out.push('\n');
            self.out.push_str(&"  ".repeat(depth));
        }
    }

    fn name(&self, local: &str) -> String {
        if self.s.prefix {
            format!("p:{local}")
        } else {
            local.to_owned()
        }
    }

    /// An element of `type_name` holding `value`.
    fn complex(&mut self, element: &str, type_name: &str, value: &Value, depth: usize) {
        let ty = &mapping().types[type_name];
        let obj = value.as_object().expect("generated values are objects");
        let name = self.name(element);
        self.out.push('<');
        self.out.push_str(&name);
        if depth == 0 {
            let ns = self.attribute_value(&mapping().namespace);
            let decl = if self.s.prefix { "xmlns:p" } else { "xmlns" };
            self.out.push_str(&format!(" {decl}={ns}"));
        }
        let mut attributes: Vec<_> = ty.attributes.iter().collect();
        if self.s.reverse_attributes {
            attributes.reverse();
        }
        for a in attributes {
            if let Some(v) = obj.get(&a.property) {
                let text = self.scalar(a.scalar, v);
                let quoted = self.attribute_value(&text);
                self.out.push_str(&format!(" {}={quoted}", a.name));
            }
        }
        let mut elements: Vec<_> = ty.elements.iter().collect();
        if self.s.reverse_elements {
            elements.reverse();
        }
        let text = ty.text.as_ref().and_then(|t| {
            obj.get(&t.property)
                .map(|v| self.scalar(t.scalar, v))
                .filter(|s| !s.is_empty())
        });
        let children: Vec<_> = elements
            .into_iter()
            .filter_map(|e| obj.get(&e.property).map(|v| (e, v)))
            .collect();
        if children.is_empty() && text.is_none() && !self.s.open_close_empty {
            self.out.push_str("/>");
            return;
        }
        self.out.push('>');
        if let Some(t) = text {
            self.text(&t);
        }
        for (e, v) in &children {
            let items: Vec<&Value> = match v {
                Value::Array(items) if e.repeated => items.iter().collect(),
                single => vec![single],
            };
            for item in items {
                self.between(depth + 1);
                match &e.content {
                    ElementContent::Complex(t) => self.complex(&e.name, t, item, depth + 1),
                    ElementContent::Simple(scalar) => {
                        let name = self.name(&e.name);
                        let text = self.scalar(*scalar, item);
                        self.out.push_str(&format!("<{name}>"));
                        self.text(&text);
                        self.out.push_str(&format!("</{name}>"));
                    }
                }
            }
        }
        if !children.is_empty() {
            self.between(depth);
        }
        self.out.push_str(&format!("</{name}>"));
    }
}

fn respell(root: &str, value: &Value, s: &Spelling) -> String {
    let mut speller = Speller {
        s,
        out: String::new(),
    };
    if s.bom {
        speller.out.push('\u{feff}');
    }
    if s.declaration {
        speller
            .out
            .push_str("<?xml version='1.0' encoding='utf-8'?>");
    }
    speller.between(0);
    speller.complex(root, &mapping().roots[root], value, 0);
    speller.between(0);
    speller.out
}

fn check_spellings(((root, value), spelling): ((String, Value), Spelling)) -> TestCaseResult {
    let xml = respell(&root, &value, &spelling);
    let decoded = mapping()
        .decode(xml.as_bytes())
        .map_err(|e| TestCaseError::fail(format!("cannot decode {xml}: {e}")))?;
    prop_assert_eq!(&decoded, &(root, value), "through {}", xml);
    Ok(())
}

fn spelled_value() -> impl Strategy<Value = ((String, Value), Spelling)> {
    (rooted_value(), spelling())
}

const SPELLINGS: u32 = 400;

#[test]
fn xml_equivalent_spellings_decode_alike() {
    bounded(
        prop("xml_equivalent_spellings_decode_alike", SPELLINGS),
        spelled_value(),
        check_spellings,
    );
}

#[test]
#[ignore = "long run: cargo xtask fuzz --target xml"]
fn fuzz_xml_equivalent_spellings_decode_alike() {
    until_deadline(
        prop("xml_equivalent_spellings_decode_alike", SPELLINGS),
        spelled_value(),
        check_spellings,
    );
}
