//! MongoDB query semantics (filter, sort, relaxed JSON), for APIs that forward their query and
//! sort parameters to MongoDB. The mock reproduces the MongoDB manual's semantics over any
//! document readable through [`DocView`] (`serde_json::Value`, or a store's compact form):
//!
//! - [`parse_relaxed_json`] reads the parameters the way the Java driver does (unquoted keys,
//!   single quotes), keeping integers as integers and bounding nesting without recursion.
//! - [`Filter`] compiles a query document once (operators validated, regexes compiled, dotted
//!   paths pre-split) and then matches documents without allocating. Array traversal,
//!   null-versus-missing, type bracketing and order-sensitive embedded-document equality
//!   follow the manual; see `path.rs` for the traversal rules.
//! - [`SortSpec`] orders documents by BSON cross-type order (null/missing < numbers < strings
//!   < objects < arrays < booleans), using an array's smallest element for ascending keys and
//!   its largest for descending ones, stably.
//!
//! - [`QueryLimits`] caps what one query or sort may ask for (regex count and size, `$in`
//!   values, logical clauses, predicates, sort keys); a query over a cap is refused with
//!   [`QueryError::LimitExceeded`], which names the limit.
//!
//! A golden table in the specs (`query-golden.json`, run by `mock/tests/mongo_golden.rs`) pins
//! the semantics, including the edges where popular reimplementations (mongomock, sift, mingo)
//! disagree with MongoDB.

mod filter;
mod order;
mod path;
mod relaxed;
mod sort;
mod view;

pub use filter::{Filter, LimitKind, QueryError, QueryLimits};
pub use relaxed::parse_relaxed_json;
pub use sort::SortSpec;
pub use view::{DocView, Num, TypeClass};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// Compiled filters and sorts are shared across request threads.
    #[test]
    fn compiled_forms_are_send_and_sync() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Filter>();
        check::<SortSpec>();
        check::<QueryError>();
    }

    /// Every prefix and every one-character deletion of some realistic parameters must parse
    /// or fail cleanly, and whatever parses must compile, match and sort without panicking.
    #[test]
    fn mangled_parameters_never_panic() {
        let samples = [
            r#"{"severity":"ERROR","eventDate":{"$gte":"2025-01-27 12:04:00 UTC","$lte":"2025-01-27 12:08:00 UTC"}}"#,
            "{code:33554946, 'associatedObjects.id':{$ne:'51b6'}, a:{$elemMatch:{$gt:1,$lt:5}}}",
            r#"{"$or":[{"m":{"$regex":"^a\\d+","$options":"ix"}},{"x.0.y":{"$exists":false}}],"t":{"$type":["string",16]}}"#,
            r#"{"ü":"\u00e9\ud83d\ude00","n":{"$mod":[3,1]},"s":{"$size":2},"all":{"$all":[[1,2],{"$elemMatch":{"q":null}}]}}"#,
            "{eventDate:-1, 'associatedObjects.id':1.0}",
        ];
        let docs = [
            json!({"severity": "ERROR", "eventDate": "2025-01-27 12:05:00 UTC", "code": 33554946}),
            json!({"associatedObjects": [{"id": "51b6"}, [1], 3], "a": [0, 2, [4]], "x": [{"y": null}]}),
            json!({"m": ["a12", {"b": 1}], "t": 5, "n": [4, 7.5], "s": [[], {}], "all": [[1, 2], {"q": 1}]}),
            json!({}),
        ];
        for sample in samples {
            let cuts = sample.char_indices().map(|(i, c)| (i, i + c.len_utf8()));
            for (start, end) in cuts {
                let deleted = format!("{}{}", &sample[..start], &sample[end..]);
                for text in [&sample[..start], deleted.as_str()] {
                    let Ok(value) = parse_relaxed_json(text, 16) else {
                        continue;
                    };
                    if let Ok(filter) = Filter::parse(&value) {
                        for doc in &docs {
                            filter.matches(doc);
                        }
                    }
                    if let Ok(spec) = SortSpec::parse(&value) {
                        let mut refs: Vec<&Value> = docs.iter().collect();
                        spec.sort(&mut refs);
                    }
                }
            }
        }
    }

    #[test]
    fn limits_refuse_by_name_and_allow_up_to_the_cap() {
        let limits = QueryLimits {
            regex_terms: 2,
            regex_bytes: 8,
            in_values: 3,
            logical_clauses: 2,
            predicates: 4,
            sort_keys: 2,
            ..QueryLimits::default()
        };
        let parse = |q: Value| Filter::parse_limited(&q, None, &limits).map(|_| ());
        let refused = |q: Value| match parse(q) {
            Err(QueryError::LimitExceeded { kind, .. }) => kind.key(),
            other => panic!("not refused by a limit: {other:?}"),
        };
        assert!(parse(json!({"a": {"$regex": "x"}, "b": {"$regex": "12345678"}})).is_ok());
        assert_eq!(
            refused(
                json!({"$or": [{"a": {"$regex": "x"}}, {"b": {"$regex": "y"}}, {"c": {"$regex": "z"}}]})
            ),
            "logical_clauses"
        );
        assert_eq!(
            refused(
                json!({"a": {"$regex": "x"}, "b": {"$regex": "y"}, "c": {"$not": {"$regex": "z"}}})
            ),
            "regex_terms"
        );
        assert_eq!(
            refused(json!({"a": {"$regex": "123456789"}})),
            "regex_bytes"
        );
        assert!(parse(json!({"a": {"$in": [1, 2]}, "b": {"$nin": [3]}})).is_ok());
        assert_eq!(
            refused(json!({"a": {"$in": [1, 2]}, "b": {"$all": [3, 4]}})),
            "in_values"
        );
        assert_eq!(
            refused(json!({"a": 1, "b": 2, "c": {"$gt": 1, "$lt": 5}, "d": 4})),
            "predicates"
        );
        assert!(SortSpec::parse_limited(&json!({"a": 1, "b": -1}), &limits).is_ok());
        let err = SortSpec::parse_limited(&json!({"a": 1, "b": -1, "c": 1}), &limits).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the number of sort keys exceeds its limit of 2 (sort_keys)"
        );
        // The defaults cap nothing a realistic query uses.
        let many: Vec<Value> = (0..500).map(|i| json!({"a": i})).collect();
        assert!(Filter::parse(&json!({"$or": many})).is_ok());
    }
}
