//! What the matcher and the sort read a document through. `serde_json::Value` is one view (query
//! operands, tests, the golden table); a store may keep documents in a form of its own (see
//! [`crate::compact`]) and match them in place, without building a `Value` per document.

use serde_json::{Number, Value};

/// Canonical type class, in MongoDB's cross-type sort order. Values of the same class are
/// comparable by `$lt`/`$gt` (type bracketing); values of different classes never are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TypeClass {
    Null,
    Number,
    String,
    Object,
    Array,
    Bool,
}

/// A JSON number as it was written: an integer (`Int`; `UInt` only above `i64::MAX`) or a
/// float (`1.0`, `1e3`). The split decides `$type` (int, long, double) and rendering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int(i64),
    UInt(u64),
    Float(f64),
}

impl Num {
    pub fn from_number(n: &Number) -> Num {
        if let Some(i) = n.as_i64() {
            Num::Int(i)
        } else if let Some(u) = n.as_u64() {
            Num::UInt(u)
        } else {
            // serde_json numbers are finite (without arbitrary precision), so this is exact.
            Num::Float(n.as_f64().unwrap_or(0.0))
        }
    }

    /// The serde_json number this is (`1.0` stays a float, `1` an integer).
    pub fn to_number(self) -> Number {
        match self {
            Num::Int(i) => Number::from(i),
            Num::UInt(u) => Number::from(u),
            Num::Float(f) => Number::from_f64(f).unwrap_or_else(|| Number::from(0)),
        }
    }

    pub(crate) fn as_int(self) -> Option<i128> {
        match self {
            Num::Int(i) => Some(i128::from(i)),
            Num::UInt(u) => Some(i128::from(u)),
            Num::Float(_) => None,
        }
    }

    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::UInt(u) => u as f64,
            Num::Float(f) => f,
        }
    }
}

/// A read-only view of one JSON value inside a document. Cheap to copy (a reference or a slice).
pub trait DocView<'a>: Copy {
    type Items: Iterator<Item = Self>;
    type Fields: Iterator<Item = (&'a str, Self)>;

    fn class(self) -> TypeClass;
    fn as_str(self) -> Option<&'a str>;
    fn as_bool(self) -> Option<bool>;
    fn as_num(self) -> Option<Num>;
    /// The elements of an array (`None` for anything else).
    fn items(self) -> Option<Self::Items>;
    /// The members of an object, in document order (`None` for anything else).
    fn fields(self) -> Option<Self::Fields>;
    /// Elements of an array or members of an object; 0 for anything else.
    fn len(self) -> usize;
    /// A member of an object by name (`None` when missing or not an object).
    fn field(self, name: &str) -> Option<Self>;

    fn is_empty(self) -> bool {
        self.len() == 0
    }

    fn is_null(self) -> bool {
        self.class() == TypeClass::Null
    }

    /// A hint that this value will be read soon. Scans over many stored documents call it a
    /// few documents ahead, so their memory loads overlap instead of stalling one by one.
    #[inline]
    fn prefetch(self) {}
}

/// How many documents ahead a scan announces the ones it will read.
pub(crate) const PREFETCH_AHEAD: usize = 8;

type FieldsOf<'a> =
    std::iter::Map<serde_json::map::Iter<'a>, fn((&'a String, &'a Value)) -> (&'a str, &'a Value)>;

impl<'a> DocView<'a> for &'a Value {
    type Items = std::slice::Iter<'a, Value>;
    type Fields = FieldsOf<'a>;

    fn class(self) -> TypeClass {
        match self {
            Value::Null => TypeClass::Null,
            Value::Number(_) => TypeClass::Number,
            Value::String(_) => TypeClass::String,
            Value::Object(_) => TypeClass::Object,
            Value::Array(_) => TypeClass::Array,
            Value::Bool(_) => TypeClass::Bool,
        }
    }

    fn as_str(self) -> Option<&'a str> {
        Value::as_str(self)
    }

    fn as_bool(self) -> Option<bool> {
        Value::as_bool(self)
    }

    fn as_num(self) -> Option<Num> {
        match self {
            Value::Number(n) => Some(Num::from_number(n)),
            _ => None,
        }
    }

    fn items(self) -> Option<Self::Items> {
        self.as_array().map(|a| a.iter())
    }

    fn fields(self) -> Option<Self::Fields> {
        let pair: fn((&'a String, &'a Value)) -> (&'a str, &'a Value) = |(k, v)| (k.as_str(), v);
        self.as_object().map(|m| m.iter().map(pair))
    }

    fn len(self) -> usize {
        match self {
            Value::Array(a) => a.len(),
            Value::Object(m) => m.len(),
            _ => 0,
        }
    }

    /// Event documents have about ten keys, where comparing keys in place is cheaper than
    /// hashing the name with SipHash.
    #[inline]
    fn field(self, name: &str) -> Option<Self> {
        let map = self.as_object()?;
        if map.len() <= 16 {
            map.iter().find(|(k, _)| k.as_str() == name).map(|(_, v)| v)
        } else {
            map.get(name)
        }
    }
}
