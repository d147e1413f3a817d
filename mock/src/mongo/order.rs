//! BSON-style total order and equality over JSON values.
//!
//! MongoDB orders values of different types by a fixed type rank (manual: "Comparison/Sort
//! Order"); JSON only has six of those types. Equality is defined as "compares equal" in this
//! order, so `1 == 1.0` and embedded documents are equal only with the same field order.

use super::view::{DocView, Num, TypeClass};
use std::cmp::Ordering;

pub(crate) fn type_class<'a, D: DocView<'a>>(v: D) -> TypeClass {
    v.class()
}

/// Total order over JSON values following MongoDB's BSON comparison rules. `a` and `b` may be
/// different views (a stored document against a query operand).
pub(crate) fn cmp_values<'a, 'b, A: DocView<'a>, B: DocView<'b>>(a: A, b: B) -> Ordering {
    let (ca, cb) = (a.class(), b.class());
    if ca != cb {
        return ca.cmp(&cb);
    }
    match ca {
        TypeClass::Null => Ordering::Equal,
        TypeClass::Number => cmp_nums(a.as_num(), b.as_num()),
        // Simple binary comparison: Rust's `str` ordering is byte-wise on UTF-8.
        TypeClass::String => a.as_str().unwrap_or("").cmp(b.as_str().unwrap_or("")),
        TypeClass::Bool => a.as_bool().cmp(&b.as_bool()),
        TypeClass::Object => match (a.fields(), b.fields()) {
            (Some(x), Some(y)) => cmp_objects(x, y),
            _ => Ordering::Equal,
        },
        TypeClass::Array => match (a.items(), b.items()) {
            (Some(x), Some(y)) => cmp_arrays(x, y),
            _ => Ordering::Equal,
        },
    }
}

/// Equality as MongoDB's `$eq` sees it (numeric types unified, order-sensitive documents).
pub(crate) fn values_equal<'a, 'b, A: DocView<'a>, B: DocView<'b>>(a: A, b: B) -> bool {
    let class = a.class();
    if class != b.class() {
        return false;
    }
    match class {
        TypeClass::String => a.as_str() == b.as_str(),
        TypeClass::Number => cmp_nums(a.as_num(), b.as_num()) == Ordering::Equal,
        TypeClass::Bool => a.as_bool() == b.as_bool(),
        TypeClass::Null => true,
        TypeClass::Array => match (a.items(), b.items()) {
            (Some(mut x), Some(mut y)) => loop {
                match (x.next(), y.next()) {
                    (None, None) => return true,
                    (Some(p), Some(q)) if values_equal(p, q) => {}
                    _ => return false,
                }
            },
            _ => false,
        },
        // Pairwise: serde_json's own Map equality ignores key order (IndexMap).
        TypeClass::Object => match (a.fields(), b.fields()) {
            (Some(mut x), Some(mut y)) => loop {
                match (x.next(), y.next()) {
                    (None, None) => return true,
                    (Some((k1, v1)), Some((k2, v2))) if k1 == k2 && values_equal(v1, v2) => {}
                    _ => return false,
                }
            },
            _ => false,
        },
    }
}

/// Documents compare pair by pair: value type, then field name, then value; a prefix sorts
/// first (manual "Objects", with the type step added by DOCS-14025).
fn cmp_objects<'a, 'b, A: DocView<'a>, B: DocView<'b>>(
    mut a: impl Iterator<Item = (&'a str, A)>,
    mut b: impl Iterator<Item = (&'b str, B)>,
) -> Ordering {
    loop {
        let ((ka, va), (kb, vb)) = match (a.next(), b.next()) {
            (Some(x), Some(y)) => (x, y),
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
        };
        let ord = va
            .class()
            .cmp(&vb.class())
            .then_with(|| ka.as_bytes().cmp(kb.as_bytes()))
            .then_with(|| cmp_values(va, vb));
        if ord != Ordering::Equal {
            return ord;
        }
    }
}

/// BSON arrays are documents keyed "0", "1", ...; keys at the same position are equal, so
/// only types and values matter.
fn cmp_arrays<'a, 'b, A: DocView<'a>, B: DocView<'b>>(
    mut a: impl Iterator<Item = A>,
    mut b: impl Iterator<Item = B>,
) -> Ordering {
    loop {
        let (va, vb) = match (a.next(), b.next()) {
            (Some(x), Some(y)) => (x, y),
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
        };
        let ord = cmp_values(va, vb);
        if ord != Ordering::Equal {
            return ord;
        }
    }
}

fn cmp_nums(a: Option<Num>, b: Option<Num>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => cmp_numbers(a, b),
        _ => Ordering::Equal,
    }
}

/// Exact numeric comparison across i64/u64/f64 (no rounding through f64 for big integers).
pub(crate) fn cmp_numbers(a: Num, b: Num) -> Ordering {
    match (a.as_int(), b.as_int()) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(x), None) => cmp_int_float(x, b.as_f64()),
        (None, Some(y)) => cmp_int_float(y, a.as_f64()).reverse(),
        (None, None) => {
            let (x, y) = (a.as_f64(), b.as_f64());
            // serde_json numbers are finite, so partial_cmp only fails in theory.
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
    }
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
