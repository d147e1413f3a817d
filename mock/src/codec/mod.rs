//! Representations: one `serde_json::Value` is written and read as JSON, or as XML through the
//! mapping an API's spec declares ([`xml::XmlMapping`]). Which one a request or an answer uses
//! comes from the media types the spec declares and the request's `Content-Type` and `Accept`.
//! Nothing here knows an API; the spec module hands its declarations in.

pub mod xml;

use http::header::{ACCEPT, CONTENT_TYPE};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use xml::XmlMapping;

/// How a body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    Json,
    /// XML through the spec's mapping.
    Xml,
}

impl Representation {
    /// The representation a media type names: `application/json` or any `+json` type is JSON,
    /// `application/xml`, `text/xml` or any `+xml` type is XML; anything else is neither.
    pub fn of(media_type: &str) -> Option<Self> {
        let essence = MediaType::parse(media_type)?.essence;
        let subtype = essence.split_once('/')?.1;
        if subtype == "json" || subtype.ends_with("+json") {
            Some(Representation::Json)
        } else if subtype == "xml" || subtype.ends_with("+xml") {
            Some(Representation::Xml)
        } else {
            None
        }
    }
}

/// A media type: its lower-cased `type/subtype` and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    pub essence: String,
    pub params: Vec<(String, String)>,
}

impl MediaType {
    /// Parse `type/subtype; name=value; ...`; `None` without a `/`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(';');
        let essence = parts.next()?.trim().to_ascii_lowercase();
        if !essence.contains('/') {
            return None;
        }
        let params = parts
            .filter_map(|p| {
                let (name, value) = p.split_once('=')?;
                Some((
                    name.trim().to_ascii_lowercase(),
                    value.trim().trim_matches('"').to_owned(),
                ))
            })
            .collect();
        Some(Self { essence, params })
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `q` weight of an `Accept` range (1 when absent or unreadable).
    fn quality(&self) -> f32 {
        self.param("q")
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0)
    }
}

/// A media type's `type/subtype` as written, without parameters.
pub fn without_parameters(media_type: &str) -> &str {
    media_type.split(';').next().unwrap_or_default().trim()
}

/// The lower-cased `type/subtype` of a media type, without parameters; borrowed when it is
/// already lower case.
fn essence(media_type: &str) -> std::borrow::Cow<'_, str> {
    let essence = without_parameters(media_type);
    if essence.bytes().any(|b| b.is_ascii_uppercase()) {
        essence.to_ascii_lowercase().into()
    } else {
        essence.into()
    }
}

/// Does the media range `pattern` (`*/*`, `type/*`, `type/*+suffix` or exact) cover `concrete`?
pub fn covers(pattern: &str, concrete: &str) -> bool {
    let (Some((p_type, p_sub)), Some((c_type, c_sub))) =
        (pattern.split_once('/'), concrete.split_once('/'))
    else {
        return false;
    };
    if p_type != "*" && p_type != c_type {
        return false;
    }
    match p_sub {
        "*" => true,
        _ => match p_sub.strip_prefix("*+") {
            Some(suffix) => c_sub
                .strip_suffix(suffix)
                .is_some_and(|rest| rest.ends_with('+')),
            None => p_sub == c_sub,
        },
    }
}

/// The lower-cased media type of `Content-Type`, without parameters; `None` if absent.
pub fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    Some(essence(value).into_owned())
}

/// What an operation consumes and produces, as its spec declares.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaTypes {
    /// Request media types (ranges such as `application/*+json` allowed), the default first.
    #[serde(default)]
    pub request: Vec<String>,
    /// Response media types, the default first, written as the `Content-Type` of answers.
    #[serde(default)]
    pub response: Vec<String>,
    /// What a request `Content-Type` that is none of `request` gets.
    #[serde(default)]
    pub other_request_types: OtherRequestTypes,
    /// The `Content-Type` of error answers (e.g. `application/vnd.example.error+xml`), because
    /// an API may write its errors as a media type of their own. The representation is still
    /// negotiated from `response` and `Accept`; the first of these with that representation
    /// is written (see [`MediaTypes::answer_type`]). Empty (or none of that representation):
    /// errors are written as the negotiated response type. An operation's `media_types`
    /// replaces the API's wholesale, so an operation that declares its own without `error`
    /// writes its errors as its response type.
    #[serde(default)]
    pub error: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OtherRequestTypes {
    /// Refused (the API answers with its "unsupported media type" error).
    #[default]
    Refuse,
    /// Read as the default request type, as a gateway that ignores the header does.
    ReadAsDefault,
}

/// The answer's media type, chosen from the declared ones by the request's `Accept`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The declared media type to send as `Content-Type`.
    pub media_type: String,
    pub representation: Representation,
    /// `false` when `Accept` allows none of the declared types (the default was taken).
    pub acceptable: bool,
}

impl MediaTypes {
    /// The representation of a request body from its `Content-Type`; a request without one is
    /// read as the default type. `Err` carries the unsupported media type.
    pub fn request_representation(&self, headers: &HeaderMap) -> Result<Representation, String> {
        let default = self
            .request
            .first()
            .and_then(|m| Representation::of(m))
            .unwrap_or(Representation::Json);
        let Some(given) = content_type(headers) else {
            return Ok(default);
        };
        let declared = self.request.iter().find(|d| {
            MediaType::parse(d).is_some_and(|d| covers(&d.essence, &given) || d.essence == given)
        });
        match (declared, self.other_request_types) {
            (Some(_), _) => Representation::of(&given).ok_or(given),
            (None, OtherRequestTypes::ReadAsDefault) => Ok(default),
            (None, OtherRequestTypes::Refuse) => Err(given),
        }
    }

    /// Pick the response media type for an `Accept` header: the declared type the
    /// highest-weighted range covers, first declared first; the default when `Accept` is absent
    /// or allows none of them (then `acceptable` is false).
    pub fn negotiate(&self, headers: &HeaderMap) -> Negotiated {
        let default = self
            .response
            .first()
            .cloned()
            .unwrap_or_else(|| "application/json".into());
        let of = |m: &str| Representation::of(m).unwrap_or(Representation::Json);
        let mut ranges: Vec<MediaType> = headers
            .get_all(ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(MediaType::parse)
            .filter(|m| m.quality() > 0.0)
            .collect();
        if ranges.is_empty() {
            return Negotiated {
                representation: of(&default),
                media_type: default,
                acceptable: true,
            };
        }
        // A stable sort keeps the client's order among equal weights.
        ranges.sort_by(|a, b| b.quality().total_cmp(&a.quality()));
        for range in &ranges {
            for declared in &self.response {
                if covers(&range.essence, &essence(declared)) {
                    return Negotiated {
                        representation: of(declared),
                        media_type: declared.clone(),
                        acceptable: true,
                    };
                }
            }
        }
        Negotiated {
            representation: of(&default),
            media_type: default,
            acceptable: false,
        }
    }

    /// The `Content-Type` to write for an answer negotiated as `negotiated`: for an error, the
    /// first declared `error` type of the negotiated representation, else the negotiated type.
    pub fn answer_type<'a>(&'a self, negotiated: &'a Negotiated, error: bool) -> &'a str {
        let error_type = error
            .then(|| {
                self.error
                    .iter()
                    .find(|m| Representation::of(m) == Some(negotiated.representation))
            })
            .flatten();
        error_type.unwrap_or(&negotiated.media_type)
    }
}

/// Read a body. JSON errors keep serde_json's words (vendors quote them); XML errors are the
/// mapping's typed errors as text.
pub fn decode(
    representation: Representation,
    body: &[u8],
    mapping: Option<&XmlMapping>,
) -> Result<Value, String> {
    match representation {
        Representation::Json => serde_json::from_slice(body).map_err(|e| e.to_string()),
        Representation::Xml => {
            let mapping = mapping.ok_or("this API has no XML representation")?;
            mapping
                .decode(body)
                .map(|(_, value)| value)
                .map_err(|e| e.to_string())
        }
    }
}

/// Write a value. XML needs the mapping and the root element to write.
pub fn encode(
    representation: Representation,
    value: &Value,
    pretty: bool,
    xml: Option<(&XmlMapping, &str)>,
) -> Result<Vec<u8>, String> {
    match representation {
        Representation::Json if pretty => {
            serde_json::to_vec_pretty(value).map_err(|e| e.to_string())
        }
        Representation::Json => serde_json::to_vec(value).map_err(|e| e.to_string()),
        Representation::Xml => {
            let (mapping, root) = xml.ok_or("no XML element is declared for this answer")?;
            mapping.encode(root, value).map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: http::header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().unwrap());
        h
    }

    fn types(request: &[&str], response: &[&str], other: OtherRequestTypes) -> MediaTypes {
        MediaTypes {
            request: request.iter().map(|s| s.to_string()).collect(),
            response: response.iter().map(|s| s.to_string()).collect(),
            other_request_types: other,
            error: Vec::new(),
        }
    }

    #[test]
    fn media_ranges_cover_what_they_should() {
        assert!(covers("*/*", "application/json"));
        assert!(covers("application/*", "application/json"));
        assert!(covers(
            "application/*+xml",
            "application/vnd.example.event+xml"
        ));
        assert!(!covers(
            "application/*+xml",
            "application/vnd.example.event+json"
        ));
        assert!(!covers("text/*", "application/json"));
        assert!(!covers("application/json", "application/xml"));
        // The suffix is a whole `+suffix`, not the end of the subtype's text.
        assert!(!covers("application/*+xml", "application/xml"));
        assert!(!covers("application/*+xml", "application/vnd.examplexml"));
        assert!(covers("application/*+xml", "application/+xml"));
    }

    #[test]
    fn representations_follow_the_suffix() {
        assert_eq!(
            Representation::of("application/json;charset=UTF-8"),
            Some(Representation::Json)
        );
        assert_eq!(
            Representation::of("application/vnd.example.event+xml;version=39.0"),
            Some(Representation::Xml)
        );
        assert_eq!(Representation::of("text/plain"), None);
        assert_eq!(Representation::of("nonsense"), None);
    }

    #[test]
    fn request_types_are_refused_or_read_as_default_as_declared() {
        let strict = types(
            &["application/json", "application/*+json"],
            &[],
            OtherRequestTypes::Refuse,
        );
        assert_eq!(
            strict.request_representation(&HeaderMap::new()),
            Ok(Representation::Json)
        );
        assert_eq!(
            strict.request_representation(&headers(CONTENT_TYPE, "application/vnd.x+json")),
            Ok(Representation::Json)
        );
        assert_eq!(
            strict.request_representation(&headers(CONTENT_TYPE, "text/plain; charset=x")),
            Err("text/plain".into())
        );
        let lenient = types(&["application/json"], &[], OtherRequestTypes::ReadAsDefault);
        assert_eq!(
            lenient.request_representation(&headers(CONTENT_TYPE, "text/plain")),
            Ok(Representation::Json)
        );
        let both = types(
            &["application/vnd.e+xml", "application/vnd.e+json"],
            &[],
            OtherRequestTypes::Refuse,
        );
        assert_eq!(
            both.request_representation(&headers(
                CONTENT_TYPE,
                "application/vnd.e+json; charset=ISO-8859-1"
            )),
            Ok(Representation::Json)
        );
    }

    #[test]
    fn accept_picks_the_declared_type_with_the_highest_weight() {
        let media = types(
            &[],
            &["application/vnd.e+xml", "application/vnd.e+json"],
            OtherRequestTypes::Refuse,
        );
        let pick = |accept: &str| media.negotiate(&headers(ACCEPT, accept));
        assert_eq!(
            pick("application/*+json;version=39.0").media_type,
            "application/vnd.e+json"
        );
        assert_eq!(
            pick("application/*+xml;version=39.0").representation,
            Representation::Xml
        );
        assert_eq!(
            pick("application/*+xml;q=0.5, application/*+json").representation,
            Representation::Json
        );
        let refused = pick("text/html");
        assert!(!refused.acceptable);
        assert_eq!(refused.media_type, "application/vnd.e+xml");
        assert!(media.negotiate(&HeaderMap::new()).acceptable);
    }

    #[test]
    fn accept_parameters_are_readable() {
        let m = MediaType::parse("application/*+xml; version=\"39.0\"").unwrap();
        assert_eq!(m.param("version"), Some("39.0"));
        assert_eq!(m.essence, "application/*+xml");
    }

    #[test]
    fn errors_are_written_as_the_declared_error_type_of_the_negotiated_representation() {
        let mut media = types(
            &[],
            &[
                "application/vnd.example.record+xml",
                "application/vnd.example.record+json",
            ],
            OtherRequestTypes::Refuse,
        );
        media.error = vec![
            "application/vnd.example.error+xml".into(),
            "application/vnd.example.error+json;charset=UTF-8".into(),
        ];
        let xml = media.negotiate(&headers(ACCEPT, "application/*+xml"));
        let json = media.negotiate(&headers(ACCEPT, "application/*+json"));
        assert_eq!(
            media.answer_type(&xml, true),
            "application/vnd.example.error+xml"
        );
        assert_eq!(
            media.answer_type(&json, true),
            "application/vnd.example.error+json;charset=UTF-8"
        );
        // Successes keep the negotiated type.
        assert_eq!(
            media.answer_type(&xml, false),
            "application/vnd.example.record+xml"
        );
        // No error type of the negotiated representation: the negotiated type.
        media.error = vec!["application/vnd.example.error+xml".into()];
        assert_eq!(
            media.answer_type(&json, true),
            "application/vnd.example.record+json"
        );
        media.error.clear();
        assert_eq!(
            media.answer_type(&xml, true),
            "application/vnd.example.record+xml"
        );
    }
}
