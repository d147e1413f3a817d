//! Dotted field paths and how MongoDB resolves them through arrays.
//!
//! Resolution yields a sequence of *candidates*: `Some(value)` for each value the path reaches,
//! `None` where a document lacks the field. Rules (manual: "Query an Array of Embedded
//! Documents", "Query for Null or Missing Fields"; SERVER-64060 shows the modern behaviour):
//! - an array in the middle of a path is traversed one level: each object element continues
//!   the path; an element lacking the field yields `None`; scalar and nested-array elements
//!   yield nothing (so `{"ao.id":"S1"}` does not see `ao:[["S1"]]`, and `a:[]` yields nothing);
//! - a numeric component (`arr.0`) also addresses the array positionally;
//! - a scalar in the middle of a path yields `None` (`"arr.0"` on a string is missing);
//! - with `expand`, an array at the end of the path yields each element, then the array itself
//!   (one level only: `{a:1}` does not see `a:[[1]]`).

use super::view::{DocView, TypeClass};

#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub(crate) name: Box<str>,
    /// Set when `name` is a canonical array index ("0", "17", not "01").
    pub(crate) index: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct Path {
    pub(crate) parts: Box<[Part]>,
}

impl Path {
    pub(crate) fn parse(dotted: &str) -> Path {
        let parts = dotted
            .split('.')
            .map(|name| Part {
                name: name.into(),
                index: array_index(name),
            })
            .collect();
        Path { parts }
    }
}

fn array_index(name: &str) -> Option<usize> {
    let canonical = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_digit())
        && (name == "0" || !name.starts_with('0'));
    if canonical {
        name.parse().ok()
    } else {
        None
    }
}

/// Calls `f` for each candidate until it returns `true`; returns whether it did.
pub(crate) fn any_candidate<'a, D, F>(v: D, parts: &[Part], expand: bool, f: &mut F) -> bool
where
    D: DocView<'a>,
    F: FnMut(Option<D>) -> bool,
{
    let Some((part, rest)) = parts.split_first() else {
        if expand {
            if let Some(items) = v.items() {
                for e in items {
                    if f(Some(e)) {
                        return true;
                    }
                }
            }
        }
        return f(Some(v));
    };
    match v.class() {
        TypeClass::Object => match v.field(&part.name) {
            Some(child) => any_candidate(child, rest, expand, f),
            None => f(None),
        },
        TypeClass::Array => {
            for (i, e) in v.items().into_iter().flatten().enumerate() {
                if part.index == Some(i) {
                    let stop = if rest.is_empty() {
                        // Positional addressing is not an implicit traversal: no expansion.
                        f(Some(e))
                    } else {
                        positional_descend(e, rest, expand, f)
                    };
                    if stop {
                        return true;
                    }
                }
                if e.class() == TypeClass::Object {
                    let stop = match e.field(&part.name) {
                        Some(child) => any_candidate(child, rest, expand, f),
                        // For a numeric component the array was addressed positionally, so
                        // elements lacking a field of that name do not count as "missing".
                        None if part.index.is_none() => f(None),
                        None => false,
                    };
                    if stop {
                        return true;
                    }
                }
            }
            false
        }
        _ => f(None),
    }
}

/// Continues a path below a positionally addressed element. An element that is itself an
/// array is treated as a document keyed "0", "1", ... (BSON's representation), so only a
/// further numeric component reaches into it.
fn positional_descend<'a, D, F>(e: D, rest: &[Part], expand: bool, f: &mut F) -> bool
where
    D: DocView<'a>,
    F: FnMut(Option<D>) -> bool,
{
    match e.items() {
        Some(mut inner) => {
            let (next, after) = match rest.split_first() {
                Some(split) => split,
                None => return f(Some(e)),
            };
            match next.index.and_then(|i| inner.nth(i)) {
                Some(child) => any_candidate(child, after, expand, f),
                None => f(None),
            }
        }
        None => any_candidate(e, rest, expand, f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn collect(doc: &Value, path: &str, expand: bool) -> Vec<Option<Value>> {
        let mut out = Vec::new();
        any_candidate(doc, &Path::parse(path).parts, expand, &mut |c: Option<
            &Value,
        >| {
            out.push(c.cloned());
            false
        });
        out
    }

    #[test]
    fn traversal_rules() {
        let doc = json!({
            "ao": [{"type": "VM", "id": "vm1"}, {"type": "Node"}, ["S1"], 7],
            "s": "str",
            "a": [[1], 2],
            "e": []
        });
        assert_eq!(collect(&doc, "ao.id", true), vec![Some(json!("vm1")), None]);
        assert_eq!(collect(&doc, "s.0", true), vec![None]);
        assert_eq!(
            collect(&doc, "a", true),
            vec![Some(json!([1])), Some(json!(2)), Some(json!([[1], 2]))]
        );
        assert_eq!(collect(&doc, "e.x", true), Vec::<Option<Value>>::new());
        assert_eq!(collect(&doc, "ao.2.0", true), vec![Some(json!("S1"))]);
        assert_eq!(collect(&doc, "ao.0.id", true), vec![Some(json!("vm1"))]);
        assert_eq!(collect(&doc, "ao.3", true), vec![Some(json!(7))]);
        assert_eq!(collect(&doc, "missing.x", true), vec![None]);
    }
}
