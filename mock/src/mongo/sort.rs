//! MongoDB sort specifications (`{"field": 1 | -1, ...}`).

use super::filter::{LimitKind, QueryError, QueryLimits};
use super::order::{cmp_numbers, cmp_values};
use super::path::{Part, Path};
use super::view::{DocView, Num, TypeClass, PREFETCH_AHEAD};
use serde_json::Value;
use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ascending,
    Descending,
}

/// A compiled sort document. Empty means "natural order".
#[derive(Debug, Clone, Default)]
pub struct SortSpec {
    keys: Vec<(Path, Direction)>,
}

/// The value a document sorts by for one key. `Undefined` is what an empty array contributes:
/// it sorts before null and missing (DOCS-2760). Numbers and strings are decoded once, when the
/// key is extracted, since a sort compares each key many times.
#[derive(Debug, Clone, Copy)]
enum Key<'a, D> {
    Undefined,
    Null,
    Num(Num),
    Str(&'a str),
    Val(D),
}

impl<'a, D: DocView<'a>> Key<'a, D> {
    fn of(v: D) -> Self {
        match v.class() {
            TypeClass::Null => Key::Null,
            TypeClass::Number => v.as_num().map_or(Key::Val(v), Key::Num),
            TypeClass::String => v.as_str().map_or(Key::Val(v), Key::Str),
            _ => Key::Val(v),
        }
    }

    fn class(self) -> TypeClass {
        match self {
            Key::Undefined | Key::Null => TypeClass::Null,
            Key::Num(_) => TypeClass::Number,
            Key::Str(_) => TypeClass::String,
            Key::Val(v) => v.class(),
        }
    }
}

fn cmp_key<'a, D: DocView<'a>>(a: Key<'a, D>, b: Key<'a, D>) -> Ordering {
    match (a, b) {
        (Key::Undefined, Key::Undefined) => Ordering::Equal,
        (Key::Undefined, _) => Ordering::Less,
        (_, Key::Undefined) => Ordering::Greater,
        (Key::Num(x), Key::Num(y)) => cmp_numbers(x, y),
        (Key::Str(x), Key::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Key::Val(x), Key::Val(y)) => cmp_values(x, y),
        // Different kinds of key: only the type order can tell them apart (a `Val` is never a
        // number or a string, and a null `Val` does not occur).
        (x, y) => x.class().cmp(&y.class()),
    }
}

impl SortSpec {
    /// `{"field": 1 | -1, ...}` (1.0 and -1.0 accepted); keys apply in document order.
    pub fn parse(sort: &Value) -> Result<SortSpec, QueryError> {
        Self::parse_limited(sort, &QueryLimits::default())
    }

    /// Like [`SortSpec::parse`], refusing more keys than `limits.sort_keys` (MongoDB allows 32).
    pub fn parse_limited(sort: &Value, limits: &QueryLimits) -> Result<SortSpec, QueryError> {
        let Value::Object(map) = sort else {
            return Err(QueryError::InvalidSort("sort must be a JSON object".into()));
        };
        if map.len() > limits.sort_keys {
            return Err(QueryError::LimitExceeded {
                kind: LimitKind::SortKeys,
                limit: limits.sort_keys,
            });
        }
        let mut keys = Vec::with_capacity(map.len());
        for (field, dir) in map {
            if field.is_empty() || field.split('.').any(str::is_empty) {
                return Err(QueryError::InvalidSort(format!(
                    "invalid sort field name '{field}'"
                )));
            }
            let direction = match dir.as_f64() {
                Some(1.0) => Direction::Ascending,
                Some(-1.0) => Direction::Descending,
                _ => {
                    return Err(QueryError::InvalidSort(format!(
                        "sort value for '{field}' must be 1 or -1"
                    )))
                }
            };
            keys.push((Path::parse(field), direction));
        }
        Ok(SortSpec { keys })
    }

    /// True when the spec has no keys (results stay in natural order).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn compare(&self, a: &Value, b: &Value) -> Ordering {
        self.compare_docs(a, b)
    }

    /// [`SortSpec::compare`] over documents read through a view.
    pub fn compare_docs<'a, D: DocView<'a>>(&self, a: D, b: D) -> Ordering {
        for (path, dir) in &self.keys {
            let ord = directed(
                *dir,
                sort_key(a, &path.parts, *dir),
                sort_key(b, &path.parts, *dir),
            );
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }

    /// Stable sort in place: ties keep their input order, as a natural-order scan would.
    pub fn sort(&self, docs: &mut [&Value]) {
        self.sort_docs(docs);
    }

    /// [`SortSpec::sort`] over documents read through a view.
    pub fn sort_docs<'a, D: DocView<'a>>(&self, docs: &mut [D]) {
        if self.keys.is_empty() || docs.len() < 2 {
            return;
        }
        let order = self.order(docs, docs.len());
        let original: Vec<D> = docs.to_vec();
        for (slot, i) in docs.iter_mut().zip(order) {
            *slot = original[i];
        }
    }

    /// The first `k` of what [`SortSpec::sort`] would give, in that order, and nothing else:
    /// a page at `offset`/`max` needs only `offset + max` documents sorted, so a selection
    /// (linear) replaces sorting every match.
    pub fn sort_top(&self, docs: &mut Vec<&Value>, k: usize) {
        self.sort_top_docs(docs, k);
    }

    /// [`SortSpec::sort_top`] over documents read through a view.
    pub fn sort_top_docs<'a, D: DocView<'a>>(&self, docs: &mut Vec<D>, k: usize) {
        if k >= docs.len() {
            self.sort_docs(docs);
            return;
        }
        if self.keys.is_empty() {
            docs.truncate(k);
            return;
        }
        let order = self.order(docs, k);
        *docs = order.into_iter().map(|i| docs[i]).collect();
    }

    /// The indices of the first `k` documents in sorted order, ties by input position.
    fn order<'a, D: DocView<'a>>(&self, docs: &[D], k: usize) -> Vec<usize> {
        if k == 0 {
            return Vec::new();
        }
        // Extract every key once: path walks are far costlier than key comparisons.
        let width = self.keys.len();
        let mut keys: Vec<Key<'a, D>> = Vec::with_capacity(docs.len() * width);
        for (i, doc) in docs.iter().enumerate() {
            if let Some(ahead) = docs.get(i + PREFETCH_AHEAD) {
                ahead.prefetch();
            }
            for (path, dir) in &self.keys {
                keys.push(sort_key(*doc, &path.parts, *dir));
            }
        }
        // A total order: the keys, then the input position (what makes it stable).
        let compare = |&i: &u32, &j: &u32| self.compare_at(&keys, i as usize, j as usize);
        // u32 positions halve the index array a selection over a large store moves around.
        let mut order: Vec<u32> = match u32::try_from(docs.len()) {
            Ok(n) => (0..n).collect(),
            Err(_) => return self.order_wide(&keys, docs.len(), k),
        };
        if k < order.len() {
            order.select_nth_unstable_by(k - 1, compare);
            order.truncate(k);
        }
        order.sort_unstable_by(compare);
        order.into_iter().map(|i| i as usize).collect()
    }

    /// The order of the documents at positions `i` and `j` by their extracted `keys` (one row
    /// of `self.keys.len()` per document): the keys, then the position, so the order is total
    /// and ties keep insertion order.
    fn compare_at<'a, D: DocView<'a>>(&self, keys: &[Key<'a, D>], i: usize, j: usize) -> Ordering {
        let width = self.keys.len();
        let (ki, kj) = (&keys[i * width..][..width], &keys[j * width..][..width]);
        for (((_, dir), a), b) in self.keys.iter().zip(ki).zip(kj) {
            let ord = directed(*dir, *a, *b);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        i.cmp(&j)
    }

    /// [`SortSpec::order`] for more documents than `u32` counts.
    fn order_wide<'a, D: DocView<'a>>(
        &self,
        keys: &[Key<'a, D>],
        len: usize,
        k: usize,
    ) -> Vec<usize> {
        let compare = |&i: &usize, &j: &usize| self.compare_at(keys, i, j);
        let mut order: Vec<usize> = (0..len).collect();
        if k < order.len() {
            order.select_nth_unstable_by(k - 1, compare);
            order.truncate(k);
        }
        order.sort_unstable_by(compare);
        order
    }
}

fn directed<'a, D: DocView<'a>>(dir: Direction, a: Key<'a, D>, b: Key<'a, D>) -> Ordering {
    match dir {
        Direction::Ascending => cmp_key(a, b),
        Direction::Descending => cmp_key(b, a),
    }
}

/// Ascending sorts use the smallest value the path reaches, descending the largest.
fn sort_key<'a, D: DocView<'a>>(doc: D, parts: &[Part], dir: Direction) -> Key<'a, D> {
    let mut best: Option<Key<'a, D>> = None;
    collect_keys(doc, parts, &mut |k| {
        best = Some(match best {
            None => k,
            Some(b) => {
                let better = match dir {
                    Direction::Ascending => cmp_key(k, b) == Ordering::Less,
                    Direction::Descending => cmp_key(k, b) == Ordering::Greater,
                };
                if better {
                    k
                } else {
                    b
                }
            }
        });
    });
    best.unwrap_or(Key::Null)
}

/// Sort keys follow index key generation: a leaf array contributes its elements (an empty one
/// `Undefined`), and anything that lacks the path contributes null, including scalar elements
/// of an array in mid-path (SERVER-4529 lists these keys).
fn collect_keys<'a, D: DocView<'a>, F: FnMut(Key<'a, D>)>(v: D, parts: &[Part], emit: &mut F) {
    let Some((part, rest)) = parts.split_first() else {
        match v.items() {
            Some(mut items) => match items.next() {
                None => emit(Key::Undefined),
                Some(first) => {
                    emit(Key::of(first));
                    items.for_each(|e| emit(Key::of(e)));
                }
            },
            None => emit(Key::of(v)),
        }
        return;
    };
    match v.class() {
        TypeClass::Object => match v.field(&part.name) {
            Some(child) => collect_keys(child, rest, emit),
            None => emit(Key::Null),
        },
        TypeClass::Array if v.is_empty() => emit(Key::Null),
        TypeClass::Array => {
            for (i, e) in v.items().into_iter().flatten().enumerate() {
                if part.index == Some(i) {
                    if rest.is_empty() {
                        emit(Key::of(e));
                    } else {
                        collect_keys(e, rest, emit);
                    }
                }
                // Mirrors the matcher: a numeric component addresses positionally, so only
                // named lookups turn a lacking element into null.
                if e.class() == TypeClass::Object {
                    match e.field(&part.name) {
                        Some(child) => collect_keys(child, rest, emit),
                        None if part.index.is_none() => emit(Key::Null),
                        None => {}
                    }
                } else if part.index.is_none() {
                    emit(Key::Null);
                }
            }
        }
        _ => emit(Key::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(spec: Value, docs: &[Value]) -> Vec<i64> {
        let spec = SortSpec::parse(&spec).unwrap();
        let mut refs: Vec<&Value> = docs.iter().collect();
        spec.sort(&mut refs);
        // compare() must agree with sort().
        for w in refs.windows(2) {
            assert_ne!(spec.compare(w[0], w[1]), Ordering::Greater);
        }
        refs.iter().map(|d| d["n"].as_i64().unwrap()).collect()
    }

    #[test]
    fn stable_and_multi_key() {
        let docs = [
            json!({"n": 1, "s": "b", "t": 2}),
            json!({"n": 2, "s": "a", "t": 1}),
            json!({"n": 3, "s": "b", "t": 1}),
            json!({"n": 4, "s": "a", "t": 1}),
        ];
        assert_eq!(ids(json!({"s": 1}), &docs), vec![2, 4, 1, 3]);
        assert_eq!(ids(json!({"s": -1, "t": 1.0}), &docs), vec![3, 1, 2, 4]);
        assert_eq!(ids(json!({}), &docs), vec![1, 2, 3, 4]);
    }

    #[test]
    fn the_top_k_is_the_first_k_of_the_stable_sort() {
        // Many ties, mixed types and missing fields: the selection must agree exactly.
        let docs: Vec<Value> = (0..300)
            .map(|n| match n % 5 {
                0 => json!({"n": n, "a": (n * 7) % 4}),
                1 => json!({"n": n, "a": format!("s{}", (n * 3) % 5)}),
                2 => json!({"n": n}),
                3 => json!({"n": n, "a": null, "b": n % 2}),
                _ => json!({"n": n, "a": [(n * 11) % 6, 1], "b": -(n % 3)}),
            })
            .collect();
        for spec in [json!({"a": 1}), json!({"a": -1, "b": 1}), json!({"b": -1})] {
            let spec = SortSpec::parse(&spec).unwrap();
            let mut all: Vec<&Value> = docs.iter().collect();
            spec.sort(&mut all);
            for k in [0, 1, 7, 150, 299, 300, 400] {
                let mut top: Vec<&Value> = docs.iter().collect();
                spec.sort_top(&mut top, k);
                assert_eq!(top, all[..k.min(all.len())].to_vec(), "k = {k}");
            }
        }
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in [
            json!({"a": 2}),
            json!({"a": "asc"}),
            json!({"a": 0}),
            json!([]),
            json!({"": 1}),
        ] {
            assert!(SortSpec::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nested_paths_through_arrays() {
        let docs = [
            json!({"n": 1, "ao": [{"id": "m"}, {"id": "c"}]}),
            json!({"n": 2, "ao": [{"id": "d"}]}),
            json!({"n": 3, "ao": []}),
            json!({"n": 4}),
        ];
        assert_eq!(ids(json!({"ao.id": 1}), &docs), vec![3, 4, 1, 2]);
        assert_eq!(ids(json!({"ao.id": -1}), &docs), vec![1, 2, 3, 4]);
    }
}
