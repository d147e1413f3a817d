//! Wire helpers shared by every API: the request and response types of the sans-IO core, the
//! value an API answers with before it is encoded ([`Reply`]), and small HTTP parsing helpers.
//! Nothing here knows an API or the spec.

use bytes::Bytes;
use http::header::{HeaderName, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;

pub type Request = http::Request<Bytes>;
pub type Response = http::Response<Bytes>;

/// Set by a transport on a request whose body went over the limit: the body was dropped and
/// the API answers with its own "too large" error.
#[derive(Debug, Clone, Copy)]
pub struct BodyTooLarge {
    pub limit: usize,
}

/// Did the body go over `limit`? Either the transport dropped it (`BodyTooLarge`), or it arrived
/// whole through the sans-IO path.
pub fn exceeds_body_limit(req: &Request, limit: usize) -> bool {
    req.extensions().get::<BodyTooLarge>().is_some() || req.body().len() > limit
}

/// What an API answers, before the dispatcher encodes it in the representation negotiated from
/// the spec's media types and the request's `Accept`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: ReplyBody,
}

#[derive(Debug, Clone)]
pub enum ReplyBody {
    /// No body at all (e.g. 204).
    Empty,
    /// A value the codec encodes. `error` picks the spec's error element for XML; `pretty`
    /// indents JSON.
    Value {
        value: Value,
        error: bool,
        pretty: bool,
    },
}

impl Reply {
    /// A successful answer carrying `value`.
    pub fn value(status: StatusCode, value: Value) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: ReplyBody::Value {
                value,
                error: false,
                pretty: false,
            },
        }
    }

    /// An error answer: `value` is the vendor's error body.
    pub fn error(status: StatusCode, value: Value) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: ReplyBody::Value {
                value,
                error: true,
                pretty: false,
            },
        }
    }

    pub fn empty(status: StatusCode) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: ReplyBody::Empty,
        }
    }

    /// Indent the JSON rendering (for APIs with a `pretty` switch).
    pub fn pretty(mut self, on: bool) -> Self {
        if let ReplyBody::Value { pretty, .. } = &mut self.body {
            *pretty = on;
        }
        self
    }

    /// Add a header; a value that is not a valid header value is dropped.
    pub fn header(mut self, name: impl TryInto<HeaderName>, value: &str) -> Self {
        if let (Ok(name), Ok(value)) = (name.try_into(), HeaderValue::from_str(value)) {
            self.headers.insert(name, value);
        }
        self
    }

    /// Set a header in place (for wrappers that add one to any answer).
    pub fn set_header(&mut self, name: HeaderName, value: &str) {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.insert(name, value);
        }
    }
}

/// A JSON response (the control plane's own format); `pretty` indents it.
pub fn json_response(status: StatusCode, body: &Value, pretty: bool) -> Response {
    let bytes = if pretty {
        serde_json::to_vec_pretty(body)
    } else {
        serde_json::to_vec(body)
    }
    .unwrap_or_default();
    bytes_response(status, Bytes::from(bytes), "application/json;charset=UTF-8")
}

pub fn text_response(status: StatusCode, body: String) -> Response {
    bytes_response(status, Bytes::from(body), "text/plain;charset=UTF-8")
}

pub fn bytes_response(status: StatusCode, body: Bytes, content_type: &str) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(CONTENT_TYPE, value);
    }
    resp
}

/// Decode the query string into (name, value) pairs: `+` is a space and `%XX` escapes are
/// decoded, as Java servlets do. Bytes that are not UTF-8 give `Err(name)`.
pub fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let Some(query) = query else {
        return Ok(Vec::new());
    };
    let decode = |s: &str| -> Result<String, ()> {
        let plus_as_space = s.replace('+', " ");
        let bytes: Vec<u8> = percent_encoding::percent_decode_str(&plus_as_space).collect();
        String::from_utf8(bytes).map_err(|_| ())
    };
    let mut out = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(raw_name).map_err(|_| raw_name.to_owned())?;
        let value = decode(raw_value).map_err(|_| name.clone())?;
        out.push((name, value));
    }
    Ok(out)
}

/// First value of a query parameter.
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The value of a path parameter filled by routing.
pub fn path_param<'a>(params: &[(&str, &'a str)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .unwrap_or_default()
}
