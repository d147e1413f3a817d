//! XML rendering of JSON bodies, driven by the XML mapping an API declares in its spec.
//!
//! A body's canonical form is one [`serde_json::Value`]. [`XmlMapping::encode`] renders that
//! value as XML, and [`XmlMapping::decode`] reads XML back into the value the JSON rendering
//! would give. So JSON Schema checks and JSON-pointer assertions work unchanged for both.
//!
//! # What a mapping says
//!
//! - `namespace`: the default namespace of every element (elements are matched in it). A type
//!   may name its own `namespace`: its element and its descendants are in that one instead
//!   (until a descendant type names another), and encoding declares it where it changes.
//! - `roots`: root element name -> type name.
//! - `types`: per type, which JSON properties are XML attributes (in output order), which are
//!   child elements (in the schema's order, which is the output order; input order is free), and
//!   which holds the text content of a simple-content type. A child element is either of a
//!   complex `type` or a simple text element with a `scalar`; `repeated` children form a JSON
//!   array. `ignore_properties` lists JSON-only properties (`otherAttributes`, ...) that encoding
//!   skips.
//! - `discriminator` on a complex child element (`{"property": "_type", "value": "RecordType"}`):
//!   JSON tells the kinds of an array's items apart by a member, XML by element name, so several
//!   element definitions of one type may share a `property` when each has a discriminator (with
//!   distinct values). Decoding sets the member (first, before the attributes) on the object an
//!   element of that definition becomes, and appends it to the shared array in document order;
//!   encoding writes each item, in array order, under the definition whose value the item's member
//!   names (an item no definition names is [`XmlError::Unmappable`]). The member is JSON-only:
//!   it is never written as an attribute.
//! - `scalar`: how text becomes JSON: `string` (kept verbatim, never trimmed), `boolean`
//!   (`true`/`false`/`1`/`0`), `integer` (i64), `number` (i64 when it is one, else a finite f64)
//!   or `json` (the text is a JSON document). Non-string scalars ignore surrounding whitespace.
//!
//! ```json
//! {"namespace": "urn:example:events",
//!  "roots": {"Error": "ErrorType"},
//!  "types": {"ErrorType": {
//!     "attributes": ["message", {"name": "majorErrorCode", "scalar": "integer"}],
//!     "elements": [{"name": "TenantError", "property": "tenantError", "type": "TenantErrorType"}],
//!     "ignore_properties": ["otherAttributes"]}, "TenantErrorType": {"attributes": ["message"]}}}
//! ```
//!
//! # What decoding refuses, and why
//!
//! Bodies come from clients under test, so decoding treats them as hostile. Every refusal is a
//! typed [`XmlError`]; nothing panics and memory stays proportional to the input.
//!
//! - Any `<!DOCTYPE>` ([`XmlError::Doctype`]): a DTD is the only way to declare entities, so
//!   refusing it before reading on rules out entity bombs ("billion laughs") and external
//!   entities (`SYSTEM "file:///etc/passwd"`). Nothing is ever expanded.
//! - Entity references other than the five predefined ones ([`XmlError::UnknownEntity`]);
//!   character references are fine.
//! - Elements outside the mapping's namespace, names or attributes the mapping does not know,
//!   text where the type has none, a non-repeated element given twice, and text that is not a
//!   valid scalar. `xmlns`/`xmlns:*` declarations and attributes in the XML Schema instance
//!   namespace (`xsi:schemaLocation`, `xsi:type`) are ignored. Prefixes are resolved properly,
//!   so `<ev:Event xmlns:ev="...">` is the same as `<Event xmlns="...">`.
//! - Anything that is not UTF-8 ([`XmlError::NotUtf8`]), including a declaration naming another
//!   encoding. A UTF-8 byte order mark is allowed.
//! - Size ([`XmlLimits`], all configurable): nesting deeper than `max_depth` (64), an attribute
//!   value longer than `max_attribute_bytes` (1 MiB), text of one element longer than
//!   `max_text_bytes` (16 MiB), more than `max_nodes` elements and attributes (100,000), more than
//!   `max_attributes` attributes on one element (256) or `max_namespace_declarations` in the
//!   document (64). The last two keep quick-xml's duplicate-attribute check and prefix lookup,
//!   both linear scans, from going quadratic.
//!
//! Decoding is one loop over quick-xml's [`NsReader`] events with an explicit stack that never
//! grows past `max_depth`, so deep input costs neither recursion nor memory. Encoding recurses
//! (values come from our own code) but refuses nesting deeper than `max_depth` as well, and
//! refuses values the mapping cannot render ([`XmlError::Unmappable`]). Its output is
//! deterministic: the declaration, a newline, then the root element with no indentation.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use quick_xml::escape::{unescape, EscapeError};
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesRef, BytesStart, BytesText, Event};
use quick_xml::name::{QName, ResolveResult};
use quick_xml::{NsReader, Writer};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};

/// Attributes in this namespace (`xsi:schemaLocation`, `xsi:type`, ...) are ignored on decode.
const XSI_NAMESPACE: &[u8] = b"http://www.w3.org/2001/XMLSchema-instance";
/// How much of an offending value or name an error message quotes.
const QUOTED_CHARS: usize = 64;
/// How much of quick-xml's own message (which may quote names from the input) is kept.
const MESSAGE_CHARS: usize = 300;

/// The XML mapping of one API, deserialised from the `xml` object of its spec.json.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmlMapping {
    /// Default namespace of every element (e.g. `urn:example:events`).
    pub namespace: String,
    /// Root element name -> type name, e.g. {"AuditEvent": "AuditEventType", "Error": "ErrorType"}.
    pub roots: BTreeMap<String, String>,
    /// Type name -> how its properties sit in XML.
    pub types: BTreeMap<String, XmlType>,
    /// Extra namespace declarations written on the root when encoding (prefix -> URI), optional.
    #[serde(default)]
    pub prefixes: BTreeMap<String, String>,
    /// Bounds on what decoding accepts (see [`XmlLimits`]; every field has a default).
    #[serde(default)]
    pub limits: XmlLimits,
}

/// How the properties of one JSON object type sit in XML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmlType {
    /// Properties carried as attributes, in output order.
    #[serde(default)]
    pub attributes: Vec<XmlAttribute>,
    /// Properties carried as child elements, in the schema's element order (output order; input
    /// order is not enforced).
    #[serde(default)]
    pub elements: Vec<XmlElement>,
    /// The property that holds the element's text content, if the type has simple content.
    #[serde(default)]
    pub text: Option<XmlText>,
    /// JSON-only properties with no XML counterpart (e.g. `otherAttributes`): skipped on encode.
    #[serde(default)]
    pub ignore_properties: Vec<String>,
    /// The namespace of this type's element and its descendants, where it differs from the
    /// parent's (the mapping's `namespace` at the root).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// A property carried as an attribute. In JSON either a plain string `"href"` (XML name ==
/// JSON property, string scalar) or `{"name": "success", "property": "success", "scalar": "boolean"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlAttribute {
    pub name: String,
    pub property: String,
    pub scalar: Scalar,
}

/// A property carried as a child element:
/// `{"name": "Link", "property": "link", "repeated": true, "type": "LinkType"}` or, for a simple
/// text element, `{"name": "Description", "scalar": "string"}`. `property` defaults to the name
/// with its first letter lowercased; `repeated` (a JSON array) to false; `scalar` to string.
/// A complex element may carry a [`Discriminator`], so that several elements share one property.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "ElementRepr")]
pub struct XmlElement {
    pub name: String,
    pub property: String,
    pub repeated: bool,
    pub content: ElementContent,
    /// Which JSON objects this element stands for, when elements share `property`.
    pub discriminator: Option<Discriminator>,
}

/// The JSON member that tells which element an object is written as:
/// `{"property": "_type", "value": "RecordType"}`.
///
/// Why: a JSON answer may hold objects of several kinds in one array
/// (`{"record": [{"_type": "RecordType", ...}, {"_type": "AdminRecordType", ...}]}`) where its
/// XML holds differently named elements (`<Record/>`, `<AdminRecord/>`). The member exists in
/// JSON only; in XML the element name carries it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discriminator {
    pub property: String,
    pub value: String,
}

impl Discriminator {
    /// Does this JSON object name this discriminator's value?
    fn selects(&self, item: &Value) -> bool {
        item.get(&self.property).and_then(Value::as_str) == Some(self.value.as_str())
    }
}

/// What a child element holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElementContent {
    /// An element of this complex type (a key of [`XmlMapping::types`]): a JSON object.
    Complex(String),
    /// A simple text element: a JSON scalar.
    Simple(Scalar),
}

/// The property holding the text content of a simple-content type: `{"property": "value"}`.
/// An element with no text decodes to the empty string when the scalar is a string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmlText {
    pub property: String,
    #[serde(default)]
    pub scalar: Scalar,
}

/// How XML text maps to a JSON scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scalar {
    #[default]
    String,
    Boolean,
    Integer,
    Number,
    /// Text that holds a JSON document.
    Json,
}

/// Bounds on what decoding accepts (encoding checks `max_depth` only); see the module
/// documentation. Defaults: depth 64, 1 MiB per attribute value, 16 MiB of text per element,
/// 100,000 elements and attributes, 256 attributes per element, 64 namespace declarations.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XmlLimits {
    pub max_depth: usize,
    pub max_attribute_bytes: usize,
    pub max_text_bytes: usize,
    pub max_nodes: usize,
    pub max_attributes: usize,
    pub max_namespace_declarations: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_attribute_bytes: 1 << 20,
            max_text_bytes: 16 << 20,
            max_nodes: 100_000,
            max_attributes: 256,
            max_namespace_declarations: 64,
        }
    }
}

/// Why a document could not be decoded or a value encoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum XmlError {
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("DOCTYPE declarations are refused (no DTDs, so no entity declarations)")]
    Doctype,
    #[error("unknown entity '&{0};' (only the five predefined entities and character references are allowed)")]
    UnknownEntity(String),
    #[error("element <{element}> is in namespace '{found}', expected '{expected}'")]
    WrongNamespace {
        element: String,
        expected: String,
        found: String,
    },
    #[error("unknown root element <{0}>")]
    UnknownRoot(String),
    #[error("{path}: unknown element <{name}>")]
    UnknownElement { path: String, name: String },
    #[error("{path}: unknown attribute '{name}'")]
    UnknownAttribute { path: String, name: String },
    #[error("{path}: element <{name}> may appear only once")]
    Duplicate { path: String, name: String },
    #[error("{path}: text is not allowed here")]
    UnexpectedText { path: String },
    #[error("{path}: expected {expected}, found '{found}'")]
    BadScalar {
        path: String,
        expected: &'static str,
        found: String,
    },
    #[error("elements nested deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("document too large: more than {limit} {what}")]
    TooLarge { what: &'static str, limit: usize },
    #[error("the document is not UTF-8")]
    NotUtf8,
    #[error("{path}: cannot be rendered as XML: {reason}")]
    Unmappable { path: String, reason: String },
    #[error("the document has no root element")]
    Empty,
    #[error("content after the root element")]
    TrailingContent,
}

impl XmlMapping {
    /// Decode a document: returns (root element local name, value). Attributes and elements
    /// become JSON properties per the mapping, in mapping order; see the module documentation for
    /// what is refused.
    pub fn decode(&self, bytes: &[u8]) -> Result<(String, Value), XmlError> {
        let text = std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = NsReader::from_str(text);
        let config = reader.config_mut();
        config.trim_text(false);
        config.expand_empty_elements = false;
        config.check_end_names = true;
        config.allow_unmatched_ends = false;
        config.allow_dangling_amp = false;
        Decoder {
            mapping: self,
            reader,
            stack: Vec::new(),
            root: None,
            nodes: 0,
            namespace_declarations: 0,
        }
        .run()
    }

    /// Encode `value` as the root element `root` (a key of `roots`): the XML declaration, a
    /// newline, then the root with `xmlns` (and the prefixes), attributes and child elements in
    /// mapping order. Null and absent properties are omitted, empty arrays write nothing, and an
    /// element with no content is written self-closed. Deterministic byte output.
    pub fn encode(&self, root: &str, value: &Value) -> Result<Vec<u8>, XmlError> {
        let type_name = self
            .roots
            .get(root)
            .ok_or_else(|| XmlError::UnknownRoot(root.to_owned()))?;
        let mut writer = Writer::new(Vec::new());
        write(
            &mut writer,
            Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)),
        )?;
        writer.get_mut().push(b'\n');
        let at = Place {
            namespace: &self.namespace,
            depth: 1,
        };
        self.encode_complex(
            &mut writer,
            root,
            type_name,
            value,
            &format!("/{root}"),
            at,
            None,
        )?;
        Ok(writer.into_inner())
    }

    /// Check the mapping itself: every root's type and every referenced type exists, names are
    /// XML names, no property is mapped twice, no type mixes text and child elements, limits are
    /// positive. All problems are reported, joined by "; ".
    pub fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.namespace.is_empty() {
            problems.push("namespace is empty".to_owned());
        }
        if self.roots.is_empty() {
            problems.push("no roots".to_owned());
        }
        for (root, type_name) in &self.roots {
            if !is_xml_name(root) {
                problems.push(format!("root '{root}' is not an XML name"));
            }
            if !self.types.contains_key(type_name) {
                problems.push(format!(
                    "root <{root}> has type '{type_name}', which is not in types"
                ));
            }
        }
        for (prefix, uri) in &self.prefixes {
            if !is_xml_name(prefix) || prefix == "xml" || prefix == "xmlns" {
                problems.push(format!("prefix '{prefix}' cannot be declared"));
            }
            if uri.is_empty() {
                problems.push(format!("prefix '{prefix}' has an empty URI"));
            }
        }
        for (name, ty) in &self.types {
            ty.check(name, &self.types, &mut problems);
        }
        let l = &self.limits;
        let limits = [
            l.max_depth,
            l.max_attribute_bytes,
            l.max_text_bytes,
            l.max_nodes,
            l.max_attributes,
            l.max_namespace_declarations,
        ];
        if limits.contains(&0) {
            problems.push("every limit must be positive".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    fn type_named(&self, name: &str, path: impl FnOnce() -> String) -> Result<&XmlType, XmlError> {
        self.types.get(name).ok_or_else(|| XmlError::Unmappable {
            path: path(),
            reason: format!("type '{name}' is not in the mapping"),
        })
    }

    /// Write `value` as the element `name` of type `type_name`. `discriminator` is the JSON-only
    /// member that chose this element (see [`Discriminator`]): allowed in `value`, never written.
    #[allow(clippy::too_many_arguments)]
    fn encode_complex(
        &self,
        w: &mut Writer<Vec<u8>>,
        name: &str,
        type_name: &str,
        value: &Value,
        path: &str,
        at: Place<'_>,
        discriminator: Option<&str>,
    ) -> Result<(), XmlError> {
        let depth = at.depth;
        if depth > self.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        let ty = self.type_named(type_name, || path.to_owned())?;
        let Value::Object(obj) = value else {
            return Err(unmappable(
                path,
                format!(
                    "expected an object ({type_name}), found {}",
                    json_kind(value)
                ),
            ));
        };
        if let Some(key) = obj
            .keys()
            .find(|k| !ty.knows(k) && Some(k.as_str()) != discriminator)
        {
            return Err(unmappable(
                path,
                format!("property '{key}' has no XML counterpart in {type_name}"),
            ));
        }
        let mut start = BytesStart::new(name);
        let namespace = ty.namespace.as_deref().unwrap_or(at.namespace);
        if depth == 1 || namespace != at.namespace {
            push_attribute(&mut start, "xmlns", namespace, path)?;
        }
        if depth == 1 {
            for (prefix, uri) in &self.prefixes {
                push_attribute(&mut start, &format!("xmlns:{prefix}"), uri, path)?;
            }
        }
        let inner = Place {
            namespace,
            depth: depth + 1,
        };
        for a in &ty.attributes {
            let Some(v) = present(obj, &a.property) else {
                continue;
            };
            let attr_path = format!("{path}/@{}", a.name);
            let text = render(a.scalar, v, &attr_path)?;
            push_attribute(&mut start, &a.name, &text, &attr_path)?;
        }
        let text = match &ty.text {
            Some(t) => match present(obj, &t.property) {
                Some(v) => render(t.scalar, v, path)?,
                None => Cow::Borrowed(""),
            },
            None => Cow::Borrowed(""),
        };
        let has_children = ty.elements.iter().any(|e| match present(obj, &e.property) {
            None => false,
            Some(Value::Array(items)) if e.repeated => !items.is_empty(),
            Some(_) => true,
        });
        if !has_children && text.is_empty() {
            return write(w, Event::Empty(start));
        }
        write(w, Event::Start(start))?;
        // Properties shared by discriminated elements, written whole at their first element.
        let mut shared_done: Vec<&str> = Vec::new();
        for e in &ty.elements {
            let Some(v) = present(obj, &e.property) else {
                continue;
            };
            let child_path = format!("{path}/{}", e.name);
            if e.discriminator.is_some() {
                if !shared_done.contains(&e.property.as_str()) {
                    shared_done.push(&e.property);
                    self.encode_discriminated(w, ty, type_name, e, v, path, inner)?;
                }
                continue;
            }
            if !e.repeated {
                self.encode_child(w, e, v, &child_path, inner)?;
                continue;
            }
            for item in repeated_items(v, &child_path)? {
                self.encode_child(w, e, item, &child_path, inner)?;
            }
        }
        if !text.is_empty() {
            let escaped = escape(&text, false, path)?;
            write(w, Event::Text(BytesText::from_escaped(escaped)))?;
        }
        write(w, Event::End(BytesEnd::new(name)))
    }

    /// Write the value of a property that discriminated elements carry (`first` is the first of
    /// them): each item (the value itself when not repeated), in array order, as the element
    /// whose discriminator value its member names.
    #[allow(clippy::too_many_arguments)]
    fn encode_discriminated(
        &self,
        w: &mut Writer<Vec<u8>>,
        ty: &XmlType,
        type_name: &str,
        first: &XmlElement,
        value: &Value,
        path: &str,
        at: Place<'_>,
    ) -> Result<(), XmlError> {
        let candidates: Vec<&XmlElement> = ty
            .elements
            .iter()
            .filter(|e| e.property == first.property && e.discriminator.is_some())
            .collect();
        let pick = |item: &Value, item_path: &str| {
            candidates
                .iter()
                .copied()
                .find(|e| e.discriminator.as_ref().is_some_and(|d| d.selects(item)))
                .ok_or_else(|| {
                    let member = first
                        .discriminator
                        .as_ref()
                        .map(|d| d.property.as_str())
                        .unwrap_or_default();
                    let found = match item.get(member) {
                        Some(Value::String(s)) => format!("'{}'", shorten(s, QUOTED_CHARS)),
                        Some(other) => json_kind(other).to_owned(),
                        None => "absent".to_owned(),
                    };
                    let known: Vec<&str> = candidates
                        .iter()
                        .filter_map(|e| e.discriminator.as_ref().map(|d| d.value.as_str()))
                        .collect();
                    unmappable(
                        item_path,
                        format!(
                            "member '{member}' is {found}, which no element of {type_name} stands for (known: {})",
                            known.join(", ")
                        ),
                    )
                })
        };
        let items: Vec<(&Value, String)> = if first.repeated {
            let property_path = format!("{path}/{}", first.property);
            repeated_items(value, &property_path)?
                .iter()
                .enumerate()
                .map(|(i, item)| (item, format!("{property_path}[{i}]")))
                .collect()
        } else {
            vec![(value, format!("{path}/{}", first.property))]
        };
        for (item, item_path) in items {
            let element = pick(item, &item_path)?;
            let child_path = format!("{path}/{}", element.name);
            self.encode_child(w, element, item, &child_path, at)?;
        }
        Ok(())
    }

    fn encode_child(
        &self,
        w: &mut Writer<Vec<u8>>,
        element: &XmlElement,
        value: &Value,
        path: &str,
        at: Place<'_>,
    ) -> Result<(), XmlError> {
        let depth = at.depth;
        let scalar = match &element.content {
            ElementContent::Complex(t) => {
                let discriminator = element.discriminator.as_ref().map(|d| d.property.as_str());
                return self.encode_complex(w, &element.name, t, value, path, at, discriminator);
            }
            ElementContent::Simple(scalar) => *scalar,
        };
        if depth > self.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        let text = render(scalar, value, path)?;
        if text.is_empty() {
            return write(w, Event::Empty(BytesStart::new(element.name.as_str())));
        }
        let escaped = escape(&text, false, path)?;
        write(w, Event::Start(BytesStart::new(element.name.as_str())))?;
        write(w, Event::Text(BytesText::from_escaped(escaped)))?;
        write(w, Event::End(BytesEnd::new(element.name.as_str())))
    }
}

/// Elements of one type that share a JSON property: each needs a discriminator, on the same
/// member with its own value, and all are repeated or none is (one array or one object).
fn check_shared(
    type_name: &str,
    property: &str,
    sharing: &[&XmlElement],
    problems: &mut Vec<String>,
) {
    let names = || {
        sharing
            .iter()
            .map(|e| format!("<{}>", e.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let discriminators: Vec<&Discriminator> = sharing
        .iter()
        .filter_map(|e| e.discriminator.as_ref())
        .collect();
    if discriminators.len() != sharing.len() {
        problems.push(format!(
            "type {type_name}: property '{property}' is mapped twice (elements {} share it, so each needs a discriminator)",
            names()
        ));
        return;
    }
    if sharing.iter().any(|e| e.repeated != sharing[0].repeated) {
        problems.push(format!(
            "type {type_name}: elements {} share property '{property}' but not all of them are repeated",
            names()
        ));
    }
    if discriminators
        .iter()
        .any(|d| d.property != discriminators[0].property)
    {
        problems.push(format!(
            "type {type_name}: elements {} share property '{property}' but their discriminators name different members",
            names()
        ));
    }
    let mut values = BTreeSet::new();
    for d in &discriminators {
        if !values.insert(d.value.as_str()) {
            problems.push(format!(
                "type {type_name}: discriminator value '{}' of property '{property}' is used twice",
                d.value
            ));
        }
    }
}

impl XmlType {
    fn knows(&self, property: &str) -> bool {
        self.attributes.iter().any(|a| a.property == property)
            || self.elements.iter().any(|e| e.property == property)
            || self.text.as_ref().is_some_and(|t| t.property == property)
            || self.ignore_properties.iter().any(|p| p == property)
    }

    /// Is `property` carried in XML (an attribute, a child element or the text)?
    fn maps(&self, property: &str) -> bool {
        self.attributes.iter().any(|a| a.property == property)
            || self.elements.iter().any(|e| e.property == property)
            || self.text.as_ref().is_some_and(|t| t.property == property)
    }

    fn check(&self, name: &str, types: &BTreeMap<String, XmlType>, problems: &mut Vec<String>) {
        if self.namespace.as_deref() == Some("") {
            problems.push(format!("type {name}: namespace is empty"));
        }
        let mut properties = BTreeSet::new();
        let mut property = |p: &str, problems: &mut Vec<String>| {
            if !properties.insert(p.to_owned()) {
                problems.push(format!("type {name}: property '{p}' is mapped twice"));
            }
        };
        let mut attribute_names = BTreeSet::new();
        for a in &self.attributes {
            if !is_xml_name(&a.name) {
                problems.push(format!(
                    "type {name}: attribute '{}' is not an XML name",
                    a.name
                ));
            }
            if !attribute_names.insert(&a.name) {
                problems.push(format!(
                    "type {name}: attribute '{}' is listed twice",
                    a.name
                ));
            }
            property(&a.property, problems);
        }
        let mut element_names = BTreeSet::new();
        let mut shared_checked = BTreeSet::new();
        for e in &self.elements {
            if !is_xml_name(&e.name) {
                problems.push(format!(
                    "type {name}: element '{}' is not an XML name",
                    e.name
                ));
            }
            if !element_names.insert(&e.name) {
                problems.push(format!("type {name}: element <{}> is listed twice", e.name));
            }
            if let ElementContent::Complex(t) = &e.content {
                if !types.contains_key(t) {
                    problems.push(format!(
                        "type {name}: element <{}> refers to unknown type '{t}'",
                        e.name
                    ));
                }
            }
            if let (Some(d), ElementContent::Complex(t)) = (&e.discriminator, &e.content) {
                if d.property.is_empty() {
                    problems.push(format!(
                        "type {name}: element <{}> has a discriminator with an empty property",
                        e.name
                    ));
                }
                if types.get(t).is_some_and(|ty| ty.maps(&d.property)) {
                    problems.push(format!(
                        "type {name}: element <{}>: discriminator property '{}' is also mapped by type '{t}' (it must be JSON-only)",
                        e.name, d.property
                    ));
                }
            }
            let sharing: Vec<&XmlElement> = self
                .elements
                .iter()
                .filter(|o| o.property == e.property)
                .collect();
            if sharing.len() == 1 {
                property(&e.property, problems);
            } else if shared_checked.insert(e.property.as_str()) {
                // Registered once, so an attribute or text on the same property is still caught.
                property(&e.property, problems);
                check_shared(name, &e.property, &sharing, problems);
            }
        }
        if let Some(t) = &self.text {
            if !self.elements.is_empty() {
                problems.push(format!(
                    "type {name}: text and child elements together (mixed content) are not supported"
                ));
            }
            property(&t.property, problems);
        }
        for p in &self.ignore_properties {
            property(p, problems);
        }
    }
}

impl Scalar {
    /// The scalar's name, as in the mapping and in [`XmlError::BadScalar`].
    pub fn name(self) -> &'static str {
        match self {
            Scalar::String => "string",
            Scalar::Boolean => "boolean",
            Scalar::Integer => "integer",
            Scalar::Number => "number",
            Scalar::Json => "json",
        }
    }

    /// The JSON value of XML text, or None when the text is not a valid scalar of this kind.
    fn parse(self, text: &str) -> Option<Value> {
        let t = text.trim_matches(is_xml_space);
        match self {
            Scalar::String => Some(Value::String(text.to_owned())),
            Scalar::Boolean => match t {
                "true" | "1" => Some(Value::Bool(true)),
                "false" | "0" => Some(Value::Bool(false)),
                _ => None,
            },
            Scalar::Integer => t.parse::<i64>().ok().map(Value::from),
            Scalar::Number => match t.parse::<i64>() {
                Ok(i) => Some(Value::from(i)),
                Err(_) => t
                    .parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number),
            },
            Scalar::Json => serde_json::from_str(t).ok(),
        }
    }
}

/// The text of `value` as a `scalar`, or Unmappable when the JSON type does not fit.
fn render<'v>(scalar: Scalar, value: &'v Value, path: &str) -> Result<Cow<'v, str>, XmlError> {
    let text = match (scalar, value) {
        (Scalar::String, Value::String(s)) => Some(Cow::Borrowed(s.as_str())),
        (Scalar::Boolean, Value::Bool(b)) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        (Scalar::Integer, Value::Number(n)) if n.is_i64() => Some(Cow::Owned(n.to_string())),
        (Scalar::Number, Value::Number(n)) if n.is_i64() || n.is_f64() => {
            Some(Cow::Owned(n.to_string()))
        }
        (Scalar::Json, v) => Some(Cow::Owned(v.to_string())),
        _ => None,
    };
    text.ok_or_else(|| {
        unmappable(
            path,
            format!(
                "expected a {} value, found {}",
                scalar.name(),
                json_kind(value)
            ),
        )
    })
}

/// The items of a repeated element's value, or Unmappable when it is not an array.
fn repeated_items<'v>(value: &'v Value, path: &str) -> Result<&'v [Value], XmlError> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(unmappable(
            path,
            format!(
                "expected an array (the element repeats), found {}",
                json_kind(other)
            ),
        )),
    }
}

/// An open element while decoding.
/// Where an element is written: the namespace in force around it and its depth.
#[derive(Clone, Copy)]
struct Place<'a> {
    namespace: &'a str,
    depth: usize,
}

struct Frame<'m> {
    name: String,
    /// The namespace this element is in (its children's, unless their type names another).
    namespace: &'m str,
    shape: Shape<'m>,
    /// How the element sits in its parent; None for the root.
    slot: Option<&'m XmlElement>,
    props: Map<String, Value>,
    text: String,
}

#[derive(Clone, Copy)]
enum Shape<'m> {
    Complex(&'m XmlType),
    Simple(Scalar),
}

impl Shape<'_> {
    fn takes_text(self) -> bool {
        match self {
            Shape::Complex(t) => t.text.is_some(),
            Shape::Simple(_) => true,
        }
    }
}

/// Why an element's namespace is not the mapping's.
enum NsProblem {
    Other(String),
    UndeclaredPrefix(String),
}

struct Decoder<'m, 'i> {
    mapping: &'m XmlMapping,
    reader: NsReader<&'i [u8]>,
    stack: Vec<Frame<'m>>,
    root: Option<(String, Value)>,
    nodes: usize,
    namespace_declarations: usize,
}

impl<'m, 'i> Decoder<'m, 'i> {
    fn run(mut self) -> Result<(String, Value), XmlError> {
        let mut first = true;
        loop {
            let (in_ns, event) = match self.reader.read_resolved_event() {
                Ok((ns, event)) => (ElementNs::of(ns), event),
                Err(e) => return Err(self.malformed(e)),
            };
            match event {
                Event::Decl(decl) => {
                    if !first {
                        return Err(XmlError::Malformed(
                            "the XML declaration is not at the start".to_owned(),
                        ));
                    }
                    match decl.encoding() {
                        None => {}
                        Some(Ok(enc)) if enc.eq_ignore_ascii_case(b"utf-8") => {}
                        Some(Ok(_)) => return Err(XmlError::NotUtf8),
                        Some(Err(e)) => return Err(XmlError::Malformed(e.to_string())),
                    }
                }
                Event::DocType(_) => return Err(XmlError::Doctype),
                Event::Start(start) => self.open(&start, in_ns)?,
                Event::Empty(start) => {
                    self.open(&start, in_ns)?;
                    self.close()?;
                }
                Event::End(_) => self.close()?,
                Event::Text(text) => {
                    let text = text.xml10_content().map_err(|_| XmlError::NotUtf8)?;
                    self.text(&text, true)?;
                }
                Event::CData(cdata) => {
                    let text = cdata.xml10_content().map_err(|_| XmlError::NotUtf8)?;
                    self.text(&text, true)?;
                }
                Event::GeneralRef(reference) => {
                    let c = resolve_reference(&reference)?;
                    self.text(c.encode_utf8(&mut [0; 4]), false)?;
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => return self.finish(),
            }
            first = false;
        }
    }

    fn malformed(&self, e: quick_xml::Error) -> XmlError {
        let message = shorten(&e.to_string(), MESSAGE_CHARS);
        XmlError::Malformed(match e {
            // Positions inside a start tag are relative to the tag, so name the tag's end.
            quick_xml::Error::InvalidAttr(_) | quick_xml::Error::Namespace(_) => format!(
                "{message} (in the tag ending at byte {})",
                self.reader.buffer_position()
            ),
            _ => format!("{message} (at byte {})", self.reader.error_position()),
        })
    }

    fn path(&self) -> String {
        self.stack.iter().fold(String::new(), |mut p, f| {
            p.push('/');
            p.push_str(&f.name);
            p
        })
    }

    fn count_node(&mut self) -> Result<(), XmlError> {
        self.nodes += 1;
        let limit = self.mapping.limits.max_nodes;
        if self.nodes > limit {
            return Err(XmlError::TooLarge {
                what: "elements and attributes",
                limit,
            });
        }
        Ok(())
    }

    fn open(&mut self, start: &BytesStart<'i>, in_ns: ElementNs) -> Result<(), XmlError> {
        let mapping = self.mapping;
        if self.stack.len() >= mapping.limits.max_depth {
            return Err(XmlError::TooDeep {
                limit: mapping.limits.max_depth,
            });
        }
        self.count_node()?;
        let local = utf8(start.local_name().into_inner())?;
        // Names are matched in full; errors quote at most QUOTED_CHARS of them.
        let name = shorten(local, QUOTED_CHARS);
        let (shape, slot) = match self.stack.last() {
            None => {
                if self.root.is_some() {
                    return Err(XmlError::TrailingContent);
                }
                let type_name = mapping
                    .roots
                    .get(local)
                    .ok_or_else(|| XmlError::UnknownRoot(name.clone()))?;
                let ty = mapping.type_named(type_name, || format!("/{name}"))?;
                (Shape::Complex(ty), None)
            }
            Some(parent) => {
                let element = match parent.shape {
                    Shape::Complex(t) => t.elements.iter().find(|e| e.name == local),
                    Shape::Simple(_) => None,
                };
                let Some(element) = element else {
                    return Err(XmlError::UnknownElement {
                        path: self.path(),
                        name,
                    });
                };
                if !element.repeated && parent.props.contains_key(&element.property) {
                    return Err(XmlError::Duplicate {
                        path: self.path(),
                        name,
                    });
                }
                let shape = match &element.content {
                    ElementContent::Complex(t) => {
                        Shape::Complex(mapping.type_named(t, || format!("{}/{name}", self.path()))?)
                    }
                    ElementContent::Simple(scalar) => Shape::Simple(*scalar),
                };
                (shape, Some(element))
            }
        };
        // The element's namespace: its type's own, else its parent's (the mapping's at the root).
        let inherited = self
            .stack
            .last()
            .map(|f| f.namespace)
            .unwrap_or(mapping.namespace.as_str());
        let namespace = match shape {
            Shape::Complex(t) => t.namespace.as_deref().unwrap_or(inherited),
            Shape::Simple(_) => inherited,
        };
        match in_ns.check(namespace.as_bytes()) {
            Ok(()) => {}
            Err(NsProblem::UndeclaredPrefix(prefix)) => {
                return Err(XmlError::Malformed(format!(
                    "namespace prefix '{prefix}' of <{name}> is not declared"
                )))
            }
            Err(NsProblem::Other(found)) => {
                return Err(XmlError::WrongNamespace {
                    element: name,
                    expected: namespace.to_owned(),
                    found,
                })
            }
        }
        self.stack.push(Frame {
            name,
            namespace,
            shape,
            slot,
            props: Map::new(),
            text: String::new(),
        });
        self.attributes(start)
    }

    fn attributes(&mut self, start: &BytesStart<'i>) -> Result<(), XmlError> {
        let mapping = self.mapping;
        let limits = &mapping.limits;
        for (count, attr) in start.attributes().enumerate() {
            if count >= limits.max_attributes {
                return Err(XmlError::TooLarge {
                    what: "attributes on one element",
                    limit: limits.max_attributes,
                });
            }
            let attr = attr.map_err(|e| self.malformed(e.into()))?;
            self.count_node()?;
            if attr.value.len() > limits.max_attribute_bytes {
                return Err(XmlError::TooLarge {
                    what: "bytes in an attribute value",
                    limit: limits.max_attribute_bytes,
                });
            }
            if attr.key.as_namespace_binding().is_some() {
                self.namespace_declarations += 1;
                if self.namespace_declarations > limits.max_namespace_declarations {
                    return Err(XmlError::TooLarge {
                        what: "namespace declarations",
                        limit: limits.max_namespace_declarations,
                    });
                }
                continue;
            }
            let qname = shorten(utf8(attr.key.as_ref())?, QUOTED_CHARS);
            let (ns, local) = self.reader.resolve_attribute(attr.key);
            match ns {
                ResolveResult::Unbound => {}
                ResolveResult::Bound(ns) if ns.as_ref() == XSI_NAMESPACE => continue,
                ResolveResult::Bound(_) => {
                    return Err(XmlError::UnknownAttribute {
                        path: self.path(),
                        name: qname,
                    })
                }
                ResolveResult::Unknown(_) => {
                    return Err(XmlError::Malformed(format!(
                        "{}: namespace prefix of attribute '{qname}' is not declared",
                        self.path()
                    )))
                }
            }
            let local = utf8(local.into_inner())?;
            let spec = match self.stack.last().map(|f| f.shape) {
                Some(Shape::Complex(t)) => t.attributes.iter().find(|a| a.name == local),
                _ => None,
            };
            let Some(spec) = spec else {
                return Err(XmlError::UnknownAttribute {
                    path: self.path(),
                    name: qname,
                });
            };
            let text = attribute_value(&attr.value)?;
            let value = spec.scalar.parse(&text).ok_or_else(|| {
                bad_scalar(format!("{}/@{local}", self.path()), spec.scalar, &text)
            })?;
            if let Some(frame) = self.stack.last_mut() {
                frame.props.insert(spec.property.clone(), value);
            }
        }
        Ok(())
    }

    /// Character data: `blank_ok` is false for references, which are never ignorable.
    fn text(&mut self, text: &str, blank_ok: bool) -> Result<(), XmlError> {
        let blank = blank_ok && text.bytes().all(|b| is_xml_space(b as char));
        let Some(frame) = self.stack.last() else {
            return match (blank, self.root.is_some()) {
                (true, _) => Ok(()),
                (false, true) => Err(XmlError::TrailingContent),
                (false, false) => Err(XmlError::Malformed(
                    "text before the root element".to_owned(),
                )),
            };
        };
        if !frame.shape.takes_text() {
            return if blank {
                Ok(())
            } else {
                Err(XmlError::UnexpectedText { path: self.path() })
            };
        }
        let limit = self.mapping.limits.max_text_bytes;
        if frame.text.len() + text.len() > limit {
            return Err(XmlError::TooLarge {
                what: "bytes of text in one element",
                limit,
            });
        }
        check_chars(text)?;
        if let Some(frame) = self.stack.last_mut() {
            frame.text.push_str(text);
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), XmlError> {
        let Some(mut frame) = self.stack.pop() else {
            return Err(XmlError::Malformed(
                "an end tag without a start tag".to_owned(),
            ));
        };
        let here = |d: &Self| format!("{}/{}", d.path(), frame.name);
        let value = match frame.shape {
            Shape::Simple(scalar) => scalar
                .parse(&frame.text)
                .ok_or_else(|| bad_scalar(here(self), scalar, &frame.text))?,
            Shape::Complex(ty) => {
                if let Some(t) = &ty.text {
                    let v = t
                        .scalar
                        .parse(&frame.text)
                        .ok_or_else(|| bad_scalar(here(self), t.scalar, &frame.text))?;
                    frame.props.insert(t.property.clone(), v);
                }
                let ordered = in_mapping_order(ty, std::mem::take(&mut frame.props));
                match frame.slot.and_then(|s| s.discriminator.as_ref()) {
                    None => Value::Object(ordered),
                    // An element chosen by a discriminator gives its member back, first.
                    Some(d) => {
                        let mut object = Map::with_capacity(ordered.len() + 1);
                        object.insert(d.property.clone(), Value::String(d.value.clone()));
                        object.extend(ordered);
                        Value::Object(object)
                    }
                }
            }
        };
        let (Some(parent), Some(slot)) = (self.stack.last_mut(), frame.slot) else {
            self.root = Some((frame.name, value));
            return Ok(());
        };
        if !slot.repeated {
            parent.props.insert(slot.property.clone(), value);
            return Ok(());
        }
        let items = parent
            .props
            .entry(slot.property.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        match items {
            Value::Array(items) => items.push(value),
            _ => {
                return Err(XmlError::Unmappable {
                    path: self.path(),
                    reason: format!("property '{}' is mapped twice", slot.property),
                })
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(String, Value), XmlError> {
        if !self.stack.is_empty() {
            return Err(XmlError::Malformed(format!(
                "unexpected end of input: {} is not closed",
                self.path()
            )));
        }
        self.root.ok_or(XmlError::Empty)
    }
}

/// An element's resolved namespace, kept until its type (and so the namespace it must be in)
/// is known.
enum ElementNs {
    Bound(Vec<u8>),
    Unbound,
    UndeclaredPrefix(Vec<u8>),
}

impl ElementNs {
    fn of(ns: ResolveResult<'_>) -> Self {
        match ns {
            ResolveResult::Bound(ns) => Self::Bound(ns.as_ref().to_vec()),
            ResolveResult::Unbound => Self::Unbound,
            ResolveResult::Unknown(prefix) => Self::UndeclaredPrefix(prefix),
        }
    }

    fn check(&self, expected: &[u8]) -> Result<(), NsProblem> {
        match self {
            Self::Bound(ns) if ns.as_slice() == expected => Ok(()),
            Self::Bound(ns) => Err(NsProblem::Other(shorten(
                &String::from_utf8_lossy(ns),
                QUOTED_CHARS,
            ))),
            Self::Unbound => Err(NsProblem::Other(String::new())),
            Self::UndeclaredPrefix(prefix) => Err(NsProblem::UndeclaredPrefix(shorten(
                &String::from_utf8_lossy(prefix),
                QUOTED_CHARS,
            ))),
        }
    }
}

/// `&...;` in text: a character reference or one of the five predefined entities.
fn resolve_reference(reference: &BytesRef<'_>) -> Result<char, XmlError> {
    let name = reference.decode().map_err(|_| XmlError::NotUtf8)?;
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(c),
            _ => Err(XmlError::Malformed(format!(
                "'&{name};' is not a valid character reference"
            ))),
        };
    }
    match name.as_ref() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err(XmlError::UnknownEntity(shorten(&name, QUOTED_CHARS))),
    }
}

/// An attribute's value: literal whitespace normalised to spaces (XML 1.0 section 3.3.3, so
/// character references survive), then references resolved.
fn attribute_value(raw: &[u8]) -> Result<String, XmlError> {
    let raw = std::str::from_utf8(raw).map_err(|_| XmlError::NotUtf8)?;
    if raw.contains('<') {
        return Err(XmlError::Malformed("'<' in an attribute value".to_owned()));
    }
    let normalized = if raw.contains(['\t', '\n', '\r']) {
        Cow::Owned(raw.replace("\r\n", " ").replace(['\t', '\n', '\r'], " "))
    } else {
        Cow::Borrowed(raw)
    };
    let value = unescape(&normalized).map_err(|e| match e {
        EscapeError::UnrecognizedEntity(_, name) => {
            XmlError::UnknownEntity(shorten(&name, QUOTED_CHARS))
        }
        other => XmlError::Malformed(shorten(&other.to_string(), MESSAGE_CHARS)),
    })?;
    check_chars(&value)?;
    Ok(value.into_owned())
}

/// Properties of a decoded object in mapping order: attributes, elements, text.
fn in_mapping_order(ty: &XmlType, mut props: Map<String, Value>) -> Map<String, Value> {
    let order = ty
        .attributes
        .iter()
        .map(|a| &a.property)
        .chain(ty.elements.iter().map(|e| &e.property))
        .chain(ty.text.iter().map(|t| &t.property));
    let mut out = Map::new();
    for property in order {
        if let Some(v) = props.remove(property) {
            out.insert(property.clone(), v);
        }
    }
    out
}

fn push_attribute(
    start: &mut BytesStart<'_>,
    name: &str,
    value: &str,
    path: &str,
) -> Result<(), XmlError> {
    let escaped = escape(value, true, path)?;
    start.push_attribute(Attribute {
        key: QName(name.as_bytes()),
        value: Cow::Owned(escaped.into_owned().into_bytes()),
    });
    Ok(())
}

/// Escape text or an attribute value so decoding gives it back exactly: markup characters,
/// and (so XML's whitespace and end-of-line normalisation leave them alone) CR everywhere and
/// tab/LF in attributes become character references. Characters XML 1.0 cannot carry at all
/// (most C0 controls) are Unmappable.
fn escape<'a>(s: &'a str, attribute: bool, path: &str) -> Result<Cow<'a, str>, XmlError> {
    let needs = |c: char| {
        matches!(c, '<' | '>' | '&' | '\r')
            || (attribute && matches!(c, '"' | '\'' | '\t' | '\n'))
            || !is_xml_char(c)
    };
    if !s.chars().any(needs) {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => out.push_str("&#13;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            c if !is_xml_char(c) => {
                return Err(unmappable(
                    path,
                    format!("character U+{:04X} cannot appear in XML 1.0", c as u32),
                ))
            }
            c => out.push(c),
        }
    }
    Ok(Cow::Owned(out))
}

fn write(w: &mut Writer<Vec<u8>>, event: Event<'_>) -> Result<(), XmlError> {
    w.write_event(event).map_err(|e| XmlError::Unmappable {
        path: String::new(),
        reason: e.to_string(),
    })
}

fn check_chars(s: &str) -> Result<(), XmlError> {
    match s.chars().find(|c| !is_xml_char(*c)) {
        None => Ok(()),
        Some(c) => Err(XmlError::Malformed(format!(
            "character U+{:04X} is not allowed in XML 1.0",
            c as u32
        ))),
    }
}

/// XML 1.0 `Char`: tab, LF, CR and everything from U+0020 except U+FFFE/U+FFFF (Rust chars
/// already exclude surrogates).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// A name usable unprefixed for an element or attribute (an NCName, ASCII-leaning).
fn is_xml_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn present<'v>(obj: &'v Map<String, Value>, property: &str) -> Option<&'v Value> {
    obj.get(property).filter(|v| !v.is_null())
}

fn utf8(bytes: &[u8]) -> Result<&str, XmlError> {
    std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)
}

fn unmappable(path: &str, reason: impl Into<String>) -> XmlError {
    XmlError::Unmappable {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn bad_scalar(path: String, scalar: Scalar, found: &str) -> XmlError {
    XmlError::BadScalar {
        path,
        expected: scalar.name(),
        found: shorten(found, QUOTED_CHARS),
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut: input quoted in an error stays
/// small however large the input.
/// At most `max` characters of `s` for an error message, control characters written as
/// `\u{8}`: messages quote client input, and an answer in XML cannot carry most controls.
fn shorten(s: &str, max: usize) -> String {
    let (kept, cut) = match s.char_indices().nth(max) {
        None => (s, false),
        Some((at, _)) => (&s[..at], true),
    };
    let mut out: String = kept
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    if cut {
        out.push('…');
    }
    out
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The JSON form of a mapping attribute: a bare name or an object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttributeRepr {
    name: String,
    #[serde(default)]
    property: Option<String>,
    #[serde(default)]
    scalar: Scalar,
}

impl<'de> Deserialize<'de> for XmlAttribute {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AttributeVisitor;
        impl<'de> Visitor<'de> for AttributeVisitor {
            type Value = XmlAttribute;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an attribute name or {\"name\", \"property\", \"scalar\"}")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<XmlAttribute, E> {
                Ok(XmlAttribute {
                    name: name.to_owned(),
                    property: name.to_owned(),
                    scalar: Scalar::String,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<XmlAttribute, A::Error> {
                let repr = AttributeRepr::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(XmlAttribute {
                    property: repr.property.unwrap_or_else(|| repr.name.clone()),
                    name: repr.name,
                    scalar: repr.scalar,
                })
            }
        }
        deserializer.deserialize_any(AttributeVisitor)
    }
}

/// The JSON form of a mapping element.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ElementRepr {
    name: String,
    #[serde(default)]
    property: Option<String>,
    #[serde(default)]
    repeated: bool,
    #[serde(default, rename = "type")]
    type_name: Option<String>,
    #[serde(default)]
    scalar: Option<Scalar>,
    #[serde(default)]
    discriminator: Option<Discriminator>,
}

impl TryFrom<ElementRepr> for XmlElement {
    type Error = String;

    fn try_from(r: ElementRepr) -> Result<Self, String> {
        let content = match (r.type_name, r.scalar) {
            (Some(_), Some(_)) => {
                return Err(format!("element '{}' has both a type and a scalar", r.name))
            }
            (Some(t), None) => ElementContent::Complex(t),
            (None, _) if r.discriminator.is_some() => {
                return Err(format!(
                    "element '{}' has a discriminator but no type (only objects carry one)",
                    r.name
                ))
            }
            (None, scalar) => ElementContent::Simple(scalar.unwrap_or_default()),
        };
        let property = r.property.unwrap_or_else(|| {
            let mut chars = r.name.chars();
            chars
                .next()
                .map(|c| c.to_lowercase().chain(chars).collect())
                .unwrap_or_default()
        });
        Ok(XmlElement {
            name: r.name,
            property,
            repeated: r.repeated,
            content,
            discriminator: r.discriminator,
        })
    }
}
