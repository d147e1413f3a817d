//! BSON-style total order and equality over JSON values.
//!
//! MongoDB orders values of different types by a fixed type rank (manual: "Comparison/Sort
//! Order"); JSON only has six of those types. Equality is defined as "compares equal" in this
//! order, so `1 == 1.0` and embedded documents are equal only with the same field order.

use serde_json::{Map, Number, Value};
use std::cmp::Ordering;

/// Canonical type class, in MongoDB's cross-type sort order. Values of the same class are
/// comparable by `$lt`/`$gt` (type bracketing); values of different classes never are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TypeClass {
    Null,
    Number,
    String,
    Object,
    Array,
    Bool,
}

pub(crate) fn type_class(v: &Value) -> TypeClass {
    match v {
        Value::Null => TypeClass::Null,
        Value::Number(_) => TypeClass::Number,
        Value::String(_) => TypeClass::String,
        Value::Object(_) => TypeClass::Object,
        Value::Array(_) => TypeClass::Array,
        Value::Bool(_) => TypeClass::Bool,
    }
}

/// Total order over JSON values following MongoDB's BSON comparison rules.
pub(crate) fn cmp_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y),
        // Simple binary comparison: Rust's `str` ordering is byte-wise on UTF-8.
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Object(x), Value::Object(y)) => cmp_objects(x, y),
        (Value::Array(x), Value::Array(y)) => cmp_arrays(x, y),
        _ => type_class(a).cmp(&type_class(b)),
    }
}

/// Equality as MongoDB's `$eq` sees it (numeric types unified, order-sensitive documents).
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y) == Ordering::Equal,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Null, Value::Null) => true,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        // serde_json's own Map equality ignores key order (IndexMap), so compare pairwise.
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && values_equal(v1, v2))
        }
        _ => false,
    }
}

/// Documents compare pair by pair: value type, then field name, then value; a prefix sorts
/// first (manual "Objects", with the type step added by DOCS-14025).
fn cmp_objects(a: &Map<String, Value>, b: &Map<String, Value>) -> Ordering {
    for ((ka, va), (kb, vb)) in a.iter().zip(b) {
        let ord = type_class(va)
            .cmp(&type_class(vb))
            .then_with(|| ka.as_bytes().cmp(kb.as_bytes()))
            .then_with(|| cmp_values(va, vb));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

/// BSON arrays are documents keyed "0", "1", ...; keys at the same position are equal, so
/// only types and values matter.
fn cmp_arrays(a: &[Value], b: &[Value]) -> Ordering {
    for (va, vb) in a.iter().zip(b) {
        let ord = cmp_values(va, vb);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

/// Exact numeric comparison across i64/u64/f64 (no rounding through f64 for big integers).
pub(crate) fn cmp_numbers(a: &Number, b: &Number) -> Ordering {
    match (as_int(a), as_int(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(x), None) => cmp_int_float(x, b.as_f64().unwrap_or(0.0)),
        (None, Some(y)) => cmp_int_float(y, a.as_f64().unwrap_or(0.0)).reverse(),
        (None, None) => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            // serde_json numbers are finite, so partial_cmp only fails in theory.
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
    }
}

fn as_int(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

fn cmp_int_float(i: i128, f: f64) -> Ordering {
    // Beyond ±2^126 no i64/u64 can reach; avoids saturating casts.
    const LIMIT: f64 = 8.5e37;
    if f >= LIMIT {
        return Ordering::Less;
    }
    if f <= -LIMIT {
        return Ordering::Greater;
    }
    let floor = f.floor();
    match i.cmp(&(floor as i128)) {
        Ordering::Equal if f > floor => Ordering::Less,
        ord => ord,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_across_representations() {
        assert!(values_equal(&json!(1), &json!(1.0)));
        assert_eq!(cmp_values(&json!(2), &json!(1.5)), Ordering::Greater);
        assert_eq!(cmp_values(&json!(-2), &json!(-1.5)), Ordering::Less);
        assert_eq!(
            cmp_values(&json!(u64::MAX), &json!(i64::MAX)),
            Ordering::Greater
        );
        assert_eq!(
            cmp_values(&json!(9007199254740993i64), &json!(9007199254740992.0)),
            Ordering::Greater
        );
    }

    #[test]
    fn cross_type_order() {
        let ordered = [
            json!(null),
            json!(-5),
            json!("B"),
            json!("a"),
            json!({}),
            json!({"a": 1}),
            json!([]),
            json!(false),
            json!(true),
        ];
        for w in ordered.windows(2) {
            assert_eq!(cmp_values(&w[0], &w[1]), Ordering::Less, "{w:?}");
        }
    }

    #[test]
    fn object_equality_is_order_sensitive() {
        let a = json!({"type": "VM", "id": "vm1"});
        let b = json!({"id": "vm1", "type": "VM"});
        assert!(!values_equal(&a, &b));
        assert!(values_equal(&a, &json!({"type": "VM", "id": "vm1"})));
    }
}
