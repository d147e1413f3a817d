//! Query documents compiled once, then matched against many documents.

use super::order::{cmp_values, type_class, values_equal};
use super::path::{any_candidate, Part, Path};
use super::view::{DocView, Num, TypeClass, PREFETCH_AHEAD};
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// Why a query (or sort) document was rejected. `Display` is a short message meant for API
/// users, e.g. `unknown operator: $foo` or `$in needs an array`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("query must be a JSON object")]
    NotAnObject,
    #[error("unknown top level operator: {0}")]
    UnknownTopLevelOperator(String),
    #[error("unknown operator: {0}")]
    UnknownOperator(String),
    #[error("unsupported operator: {0}")]
    UnsupportedOperator(String),
    #[error("{op} needs {expected}")]
    BadOperand { op: String, expected: &'static str },
    #[error("invalid regex: {0}")]
    InvalidRegex(String),
    #[error("cannot mix operators and field names in the value of '{0}'")]
    MixedOperators(String),
    #[error("invalid sort: {0}")]
    InvalidSort(String),
    /// A cap of [`QueryLimits`] was exceeded.
    #[error("{} exceeds its limit of {limit} ({})", .kind.what(), .kind.key())]
    LimitExceeded { kind: LimitKind, limit: usize },
}

/// The capped dimensions of a query or sort document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// `$regex` operators in one query.
    RegexTerms,
    /// Bytes of one `$regex` pattern.
    RegexBytes,
    /// Values in all `$in`, `$nin` and `$all` lists of one query together.
    InValues,
    /// Clauses of all `$and`, `$or` and `$nor` arrays of one query together.
    LogicalClauses,
    /// Field predicates (one per operator on a path) in one query.
    Predicates,
    /// Keys of one sort document.
    SortKeys,
}

impl LimitKind {
    pub const ALL: [LimitKind; 6] = [
        LimitKind::RegexTerms,
        LimitKind::RegexBytes,
        LimitKind::InValues,
        LimitKind::LogicalClauses,
        LimitKind::Predicates,
        LimitKind::SortKeys,
    ];

    /// The stable name of the limit, as configurations and error messages spell it.
    pub fn key(self) -> &'static str {
        match self {
            LimitKind::RegexTerms => "regex_terms",
            LimitKind::RegexBytes => "regex_bytes",
            LimitKind::InValues => "in_values",
            LimitKind::LogicalClauses => "logical_clauses",
            LimitKind::Predicates => "predicates",
            LimitKind::SortKeys => "sort_keys",
        }
    }

    fn what(self) -> &'static str {
        match self {
            LimitKind::RegexTerms => "the number of $regex terms",
            LimitKind::RegexBytes => "the length of a $regex pattern in bytes",
            LimitKind::InValues => "the number of $in/$nin/$all values",
            LimitKind::LogicalClauses => "the number of $and/$or/$nor clauses",
            LimitKind::Predicates => "the number of field conditions",
            LimitKind::SortKeys => "the number of sort keys",
        }
    }

    pub fn from_key(key: &str) -> Option<LimitKind> {
        LimitKind::ALL.into_iter().find(|k| k.key() == key)
    }
}

/// Caps on what one query or sort document may ask for, so the cost of compiling and running it
/// stays bounded. [`QueryLimits::default`] keeps only the compiled-regex size bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLimits {
    pub regex_terms: usize,
    pub regex_bytes: usize,
    pub in_values: usize,
    pub logical_clauses: usize,
    pub predicates: usize,
    pub sort_keys: usize,
    /// Bytes a compiled regex (and, separately, its lazy DFA cache) may use.
    pub regex_compiled_bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            regex_terms: usize::MAX,
            regex_bytes: usize::MAX,
            in_values: usize::MAX,
            logical_clauses: usize::MAX,
            predicates: usize::MAX,
            sort_keys: usize::MAX,
            regex_compiled_bytes: 1 << 20,
        }
    }
}

impl QueryLimits {
    pub fn get(&self, kind: LimitKind) -> usize {
        match kind {
            LimitKind::RegexTerms => self.regex_terms,
            LimitKind::RegexBytes => self.regex_bytes,
            LimitKind::InValues => self.in_values,
            LimitKind::LogicalClauses => self.logical_clauses,
            LimitKind::Predicates => self.predicates,
            LimitKind::SortKeys => self.sort_keys,
        }
    }

    pub fn set(&mut self, kind: LimitKind, value: usize) {
        match kind {
            LimitKind::RegexTerms => self.regex_terms = value,
            LimitKind::RegexBytes => self.regex_bytes = value,
            LimitKind::InValues => self.in_values = value,
            LimitKind::LogicalClauses => self.logical_clauses = value,
            LimitKind::Predicates => self.predicates = value,
            LimitKind::SortKeys => self.sort_keys = value,
        }
    }
}

/// Counts what a query has used so far against its limits.
#[derive(Debug, Default)]
struct Budget {
    used: std::cell::Cell<[usize; 6]>,
}

impl Budget {
    /// Spend `n` of `kind`; refused once the total passes the limit.
    fn spend(&self, limits: &QueryLimits, kind: LimitKind, n: usize) -> Result<(), QueryError> {
        let index = LimitKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        let mut used = self.used.get();
        used[index] = used[index].saturating_add(n);
        self.used.set(used);
        let limit = limits.get(kind);
        if used[index] > limit {
            return Err(QueryError::LimitExceeded { kind, limit });
        }
        Ok(())
    }
}

fn bad(op: &str, expected: &'static str) -> QueryError {
    QueryError::BadOperand {
        op: op.to_owned(),
        expected,
    }
}

/// A compiled MongoDB query document.
#[derive(Debug, Clone)]
pub struct Filter {
    root: Node,
}

#[derive(Debug, Clone)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Nor(Vec<Node>),
    Field(Path, Op),
}

#[derive(Debug, Clone, Copy)]
enum CmpOp {
    Lt,
    Lte,
    Gt,
    Gte,
}

impl CmpOp {
    fn accepts(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Lte => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Gte => ord != Ordering::Less,
        }
    }
}

/// One operator applied to the candidates of one path.
#[derive(Debug, Clone)]
enum Op {
    Eq(Value),
    Ne(Value),
    In(InSet),
    Nin(InSet),
    Cmp(CmpOp, Value),
    Exists(bool),
    Regex(Regex),
    Size(usize),
    /// Conjunction of `Eq`/`ElemMatch*` items; empty never matches (manual `$all`).
    All(Vec<Op>),
    ElemMatchValue(Vec<Op>),
    ElemMatchDoc(Box<Node>),
    Type(Vec<TypeTest>),
    Mod(i64, i64),
    /// Negation of the conjunction of its operators.
    Not(Vec<Op>),
}

/// `$in` list split by kind: strings are sorted for binary search, since large string lists
/// (ids, severities) are the common case.
#[derive(Debug, Clone, Default)]
struct InSet {
    strings: Vec<String>,
    others: Vec<Value>,
    has_null: bool,
}

impl InSet {
    fn contains<'a, D: DocView<'a>>(&self, c: Option<D>) -> bool {
        let Some(v) = c else {
            return self.has_null;
        };
        match v.class() {
            TypeClass::Null => self.has_null,
            TypeClass::String => {
                let s = v.as_str().unwrap_or("");
                self.strings.binary_search_by(|x| x.as_str().cmp(s)).is_ok()
            }
            _ => self.others.iter().any(|o| values_equal(o, v)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeTest {
    Double,
    String,
    Object,
    Array,
    Bool,
    Null,
    Int,
    Long,
    Number,
    /// A BSON type JSON cannot hold (date, objectId, ...): valid, never matches.
    Never,
}

impl TypeTest {
    fn from_alias(alias: &str) -> Option<TypeTest> {
        Some(match alias {
            "double" => TypeTest::Double,
            "string" => TypeTest::String,
            "object" => TypeTest::Object,
            "array" => TypeTest::Array,
            "bool" => TypeTest::Bool,
            "null" => TypeTest::Null,
            "int" => TypeTest::Int,
            "long" => TypeTest::Long,
            "number" => TypeTest::Number,
            "binData"
            | "undefined"
            | "objectId"
            | "date"
            | "regex"
            | "dbPointer"
            | "javascript"
            | "symbol"
            | "javascriptWithScope"
            | "timestamp"
            | "decimal"
            | "minKey"
            | "maxKey" => TypeTest::Never,
            _ => return None,
        })
    }

    fn from_code(code: i64) -> Option<TypeTest> {
        Some(match code {
            1 => TypeTest::Double,
            2 => TypeTest::String,
            3 => TypeTest::Object,
            4 => TypeTest::Array,
            8 => TypeTest::Bool,
            10 => TypeTest::Null,
            16 => TypeTest::Int,
            18 => TypeTest::Long,
            5 | 6 | 7 | 9 | 11 | 12 | 13 | 14 | 15 | 17 | 19 | -1 | 127 => TypeTest::Never,
            _ => return None,
        })
    }

    fn matches<'a, D: DocView<'a>>(self, v: D) -> bool {
        match (self, v.class()) {
            (TypeTest::Number, TypeClass::Number) => true,
            (TypeTest::Double, TypeClass::Number) => matches!(v.as_num(), Some(Num::Float(_))),
            // JSON integers map to BSON int when they fit in 32 bits, as drivers do.
            (TypeTest::Int, TypeClass::Number) => {
                matches!(v.as_num(), Some(Num::Int(i)) if i32::try_from(i).is_ok())
            }
            (TypeTest::Long, TypeClass::Number) => match v.as_num() {
                Some(Num::Int(i)) => i32::try_from(i).is_err(),
                Some(Num::UInt(_)) => true,
                _ => false,
            },
            (TypeTest::String, TypeClass::String)
            | (TypeTest::Object, TypeClass::Object)
            | (TypeTest::Array, TypeClass::Array)
            | (TypeTest::Bool, TypeClass::Bool)
            | (TypeTest::Null, TypeClass::Null) => true,
            _ => false,
        }
    }
}

type Normalizer<'n> = &'n dyn Fn(&str, &Value) -> Value;

impl Filter {
    /// Compile a query document (validating every operator).
    pub fn parse(query: &Value) -> Result<Filter, QueryError> {
        Compiler::new(None, &QueryLimits::default()).compile(query)
    }

    /// Like [`Filter::parse`], but every comparison operand (implicit equality, `$eq`, `$ne`,
    /// `$lt`/`$lte`/`$gt`/`$gte`, each `$in`/`$nin`/`$all` item) is first passed through
    /// `normalize(dotted_field_path, operand)`. Inside `$elemMatch` on documents the path is
    /// the full path, e.g. `associatedObjects.id`.
    pub fn parse_with(
        query: &Value,
        normalize: &dyn Fn(&str, &Value) -> Value,
    ) -> Result<Filter, QueryError> {
        Compiler::new(Some(normalize), &QueryLimits::default()).compile(query)
    }

    /// Like [`Filter::parse_with`], refusing a query that exceeds `limits`
    /// ([`QueryError::LimitExceeded`] names the limit).
    pub fn parse_limited(
        query: &Value,
        normalize: Option<Normalizer<'_>>,
        limits: &QueryLimits,
    ) -> Result<Filter, QueryError> {
        Compiler::new(normalize, limits).compile(query)
    }

    /// A filter that matches every document (the empty query `{}`).
    pub fn match_all() -> Filter {
        Filter {
            root: Node::And(Vec::new()),
        }
    }

    /// Does this document match?
    pub fn matches(&self, doc: &Value) -> bool {
        eval_node(&self.root, doc)
    }

    /// Does this document, read through a view (a store's compact form), match?
    pub fn matches_doc<'a, D: DocView<'a>>(&self, doc: D) -> bool {
        eval_node(&self.root, doc)
    }

    /// The documents that match, in their order.
    pub fn select<'a, D: DocView<'a>>(&self, docs: &[D]) -> Vec<D> {
        let mut out = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            if let Some(ahead) = docs.get(i + PREFETCH_AHEAD) {
                ahead.prefetch();
            }
            if eval_node(&self.root, *doc) {
                out.push(*doc);
            }
        }
        out
    }
}

impl Default for Filter {
    fn default() -> Self {
        Filter::match_all()
    }
}

fn eval_node<'a, D: DocView<'a>>(node: &Node, doc: D) -> bool {
    match node {
        Node::And(nodes) => nodes.iter().all(|n| eval_node(n, doc)),
        Node::Or(nodes) => nodes.iter().any(|n| eval_node(n, doc)),
        Node::Nor(nodes) => !nodes.iter().any(|n| eval_node(n, doc)),
        Node::Field(path, op) => eval_op(op, doc, &path.parts, true),
    }
}

/// `expand` is false inside `$elemMatch` on values, where operators see each element as is.
fn eval_op<'a, D: DocView<'a>>(op: &Op, v: D, parts: &[Part], expand: bool) -> bool {
    match op {
        Op::Eq(x) => any_candidate(v, parts, expand, &mut |c| eq_matches(c, x)),
        Op::Ne(x) => !any_candidate(v, parts, expand, &mut |c| eq_matches(c, x)),
        Op::In(set) => any_candidate(v, parts, expand, &mut |c| set.contains(c)),
        Op::Nin(set) => !any_candidate(v, parts, expand, &mut |c| set.contains(c)),
        Op::Cmp(cmp, x) => any_candidate(v, parts, expand, &mut |c| match c {
            // Type bracketing: missing only meets a null bound, and only inclusively.
            None => x.is_null() && matches!(cmp, CmpOp::Lte | CmpOp::Gte),
            Some(c) => type_class(c) == type_class(x) && cmp.accepts(cmp_values(c, x)),
        }),
        Op::Exists(want) => any_candidate(v, parts, false, &mut |c| c.is_some()) == *want,
        Op::Regex(re) => any_candidate(v, parts, expand, &mut |c| {
            c.and_then(|c| c.as_str()).is_some_and(|s| re.is_match(s))
        }),
        Op::Size(n) => any_candidate(v, parts, false, &mut |c| {
            c.is_some_and(|c| c.class() == TypeClass::Array && c.len() == *n)
        }),
        Op::All(items) => !items.is_empty() && items.iter().all(|o| eval_op(o, v, parts, expand)),
        Op::ElemMatchValue(ops) => {
            any_candidate(v, parts, false, &mut |c| match c.and_then(|c| c.items()) {
                Some(mut items) => items.any(|e| ops.iter().all(|o| eval_op(o, e, &[], false))),
                None => false,
            })
        }
        Op::ElemMatchDoc(node) => any_candidate(v, parts, false, &mut |c| match c
            .and_then(|c| c.items())
        {
            Some(mut items) => items.any(|e| e.class() == TypeClass::Object && eval_node(node, e)),
            None => false,
        }),
        Op::Type(tests) => any_candidate(v, parts, expand, &mut |c| {
            c.is_some_and(|c| tests.iter().any(|t| t.matches(c)))
        }),
        Op::Mod(divisor, remainder) => any_candidate(v, parts, expand, &mut |c| {
            c.and_then(|c| c.as_num())
                .and_then(truncate_to_i64)
                .and_then(|i| i.checked_rem(*divisor))
                .is_some_and(|r| r == *remainder)
        }),
        Op::Not(ops) => !ops.iter().all(|o| eval_op(o, v, parts, expand)),
    }
}

fn eq_matches<'a, D: DocView<'a>>(c: Option<D>, x: &Value) -> bool {
    match c {
        // `{f: null}` also selects documents without the field.
        None => x.is_null(),
        Some(c) => values_equal(c, x),
    }
}

fn truncate_to_i64(n: Num) -> Option<i64> {
    match n {
        Num::Int(i) => Some(i),
        Num::UInt(u) => i64::try_from(u).ok(),
        Num::Float(f) => {
            let f = f.trunc();
            // Out-of-range doubles have no meaningful 64-bit remainder.
            (-9.2e18..=9.2e18).contains(&f).then_some(f as i64)
        }
    }
}

fn is_operator_doc(v: &Value) -> bool {
    matches!(v, Value::Object(m) if m.keys().next().is_some_and(|k| k.starts_with('$')))
}

struct Compiler<'n> {
    normalize: Option<Normalizer<'n>>,
    limits: &'n QueryLimits,
    budget: Budget,
}

impl<'n> Compiler<'n> {
    fn new(normalize: Option<Normalizer<'n>>, limits: &'n QueryLimits) -> Self {
        Compiler {
            normalize,
            limits,
            budget: Budget::default(),
        }
    }

    fn spend(&self, kind: LimitKind, n: usize) -> Result<(), QueryError> {
        self.budget.spend(self.limits, kind, n)
    }

    fn operand(&self, path: &str, v: &Value) -> Value {
        match self.normalize {
            Some(f) => f(path, v),
            None => v.clone(),
        }
    }

    fn compile(&self, query: &Value) -> Result<Filter, QueryError> {
        Ok(Filter {
            root: self.document(query, "")?,
        })
    }

    /// A query document; `prefix` is the enclosing path inside `$elemMatch` (for the
    /// normaliser only: matching is relative to the element).
    fn document(&self, query: &Value, prefix: &str) -> Result<Node, QueryError> {
        let Value::Object(map) = query else {
            return Err(QueryError::NotAnObject);
        };
        let mut nodes = Vec::with_capacity(map.len());
        for (key, value) in map {
            if key.starts_with('$') {
                match key.as_str() {
                    "$and" | "$or" | "$nor" => {
                        let subs = match value {
                            Value::Array(items) if !items.is_empty() => items,
                            _ => return Err(bad(key, "a non-empty array")),
                        };
                        self.spend(LimitKind::LogicalClauses, subs.len())?;
                        let mut children = Vec::with_capacity(subs.len());
                        for sub in subs {
                            if !sub.is_object() {
                                return Err(bad(key, "an array of objects"));
                            }
                            children.push(self.document(sub, prefix)?);
                        }
                        nodes.push(match key.as_str() {
                            "$and" => Node::And(children),
                            "$or" => Node::Or(children),
                            _ => Node::Nor(children),
                        });
                    }
                    "$comment" => {}
                    "$where" | "$expr" | "$text" | "$jsonSchema" | "$sampleRate" => {
                        return Err(QueryError::UnsupportedOperator(key.clone()))
                    }
                    _ => return Err(QueryError::UnknownTopLevelOperator(key.clone())),
                }
            } else {
                let full = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                let path = Path::parse(key);
                let ops = self.field_value(&full, value)?;
                self.spend(LimitKind::Predicates, ops.len())?;
                for op in ops {
                    nodes.push(Node::Field(path.clone(), op));
                }
            }
        }
        Ok(if nodes.len() == 1 {
            nodes.remove(0)
        } else {
            Node::And(nodes)
        })
    }

    /// The value of a field in a query: operator expression or literal equality.
    fn field_value(&self, path: &str, value: &Value) -> Result<Vec<Op>, QueryError> {
        match value {
            Value::Object(map) if is_operator_doc(value) => self.expression(path, map),
            Value::Object(map) if map.keys().any(|k| k.starts_with('$')) => {
                Err(QueryError::MixedOperators(path.to_owned()))
            }
            _ => Ok(vec![Op::Eq(self.operand(path, value))]),
        }
    }

    /// An operator expression such as `{"$gte": a, "$lte": b}`: one `Op` per operator, ANDed.
    fn expression(&self, path: &str, map: &Map<String, Value>) -> Result<Vec<Op>, QueryError> {
        let mut ops = Vec::with_capacity(map.len());
        for (name, arg) in map {
            if !name.starts_with('$') {
                return Err(QueryError::MixedOperators(path.to_owned()));
            }
            match name.as_str() {
                "$regex" => {
                    self.spend(LimitKind::RegexTerms, 1)?;
                    if let Value::String(pattern) = arg {
                        if pattern.len() > self.limits.regex_bytes {
                            return Err(QueryError::LimitExceeded {
                                kind: LimitKind::RegexBytes,
                                limit: self.limits.regex_bytes,
                            });
                        }
                    }
                    ops.push(Op::Regex(compile_regex(
                        arg,
                        map.get("$options"),
                        self.limits.regex_compiled_bytes,
                    )?))
                }
                "$options" => {
                    if !map.contains_key("$regex") {
                        return Err(QueryError::BadOperand {
                            op: "$options".into(),
                            expected: "a $regex",
                        });
                    }
                }
                _ => ops.push(self.operator(path, name, arg)?),
            }
        }
        Ok(ops)
    }

    fn operator(&self, path: &str, name: &str, arg: &Value) -> Result<Op, QueryError> {
        Ok(match name {
            "$eq" => Op::Eq(self.operand(path, arg)),
            "$ne" => Op::Ne(self.operand(path, arg)),
            "$lt" => Op::Cmp(CmpOp::Lt, self.operand(path, arg)),
            "$lte" => Op::Cmp(CmpOp::Lte, self.operand(path, arg)),
            "$gt" => Op::Cmp(CmpOp::Gt, self.operand(path, arg)),
            "$gte" => Op::Cmp(CmpOp::Gte, self.operand(path, arg)),
            "$in" => Op::In(self.in_set(path, name, arg)?),
            "$nin" => Op::Nin(self.in_set(path, name, arg)?),
            "$exists" => Op::Exists(match arg {
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
                _ => return Err(bad(name, "a boolean")),
            }),
            "$size" => Op::Size(
                whole_number(arg)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| bad(name, "a non-negative integer"))?,
            ),
            "$all" => {
                let Value::Array(items) = arg else {
                    return Err(bad(name, "an array"));
                };
                self.spend(LimitKind::InValues, items.len())?;
                let mut ops = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::Object(m) if m.len() == 1 && m.contains_key("$elemMatch") => {
                            ops.push(self.operator(path, "$elemMatch", &m["$elemMatch"])?);
                        }
                        _ if is_operator_doc(item) => {
                            return Err(bad(name, "values or $elemMatch expressions"))
                        }
                        _ => ops.push(Op::Eq(self.operand(path, item))),
                    }
                }
                Op::All(ops)
            }
            "$elemMatch" => {
                let Value::Object(map) = arg else {
                    return Err(bad(name, "an object"));
                };
                let value_mode = map.keys().next().is_some_and(|k| {
                    k.starts_with('$') && !matches!(k.as_str(), "$and" | "$or" | "$nor")
                });
                if value_mode {
                    Op::ElemMatchValue(self.expression(path, map)?)
                } else {
                    Op::ElemMatchDoc(Box::new(self.document(arg, path)?))
                }
            }
            "$not" => match arg {
                Value::Object(map) if is_operator_doc(arg) => Op::Not(self.expression(path, map)?),
                Value::Object(map) if map.is_empty() => {
                    return Err(bad(name, "a non-empty object"))
                }
                _ => return Err(bad(name, "an operator expression or $regex")),
            },
            "$type" => {
                let specs = match arg {
                    Value::Array(items) if !items.is_empty() => items.as_slice(),
                    Value::Array(_) => return Err(bad(name, "at least one type")),
                    single => std::slice::from_ref(single),
                };
                let mut tests = Vec::with_capacity(specs.len());
                for spec in specs {
                    let test = match spec {
                        Value::String(alias) => TypeTest::from_alias(alias),
                        other => whole_number(other).and_then(TypeTest::from_code),
                    };
                    tests.push(test.ok_or_else(|| bad(name, "a known BSON type name or code"))?);
                }
                Op::Type(tests)
            }
            "$mod" => {
                let parsed = match arg {
                    Value::Array(items) if items.len() == 2 => match (&items[0], &items[1]) {
                        (Value::Number(d), Value::Number(r)) => {
                            truncate_to_i64(Num::from_number(d))
                                .zip(truncate_to_i64(Num::from_number(r)))
                        }
                        _ => None,
                    },
                    _ => None,
                };
                match parsed {
                    Some((0, _)) => return Err(bad(name, "a non-zero divisor")),
                    Some((d, r)) => Op::Mod(d, r),
                    None => return Err(bad(name, "an array of two numbers [divisor, remainder]")),
                }
            }
            "$where" | "$expr" | "$text" | "$geoWithin" | "$geoIntersects" | "$near"
            | "$nearSphere" | "$bitsAllSet" | "$bitsAnySet" | "$bitsAllClear" | "$bitsAnyClear" => {
                return Err(QueryError::UnsupportedOperator(name.to_owned()))
            }
            _ => return Err(QueryError::UnknownOperator(name.to_owned())),
        })
    }

    fn in_set(&self, path: &str, name: &str, arg: &Value) -> Result<InSet, QueryError> {
        let Value::Array(items) = arg else {
            return Err(bad(name, "an array"));
        };
        self.spend(LimitKind::InValues, items.len())?;
        let mut set = InSet::default();
        for item in items {
            if is_operator_doc(item) {
                return Err(bad(name, "plain values (no operator expressions)"));
            }
            match self.operand(path, item) {
                Value::Null => set.has_null = true,
                Value::String(s) => set.strings.push(s),
                other => set.others.push(other),
            }
        }
        set.strings.sort_unstable();
        set.strings.dedup();
        Ok(set)
    }
}

/// An integral JSON number (`3` or `3.0`).
fn whole_number(v: &Value) -> Option<i64> {
    let Value::Number(n) = v else { return None };
    n.as_i64().or_else(|| {
        let f = n.as_f64()?;
        (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
    })
}

fn compile_regex(
    pattern: &Value,
    options: Option<&Value>,
    compiled_bytes: usize,
) -> Result<Regex, QueryError> {
    let Value::String(pattern) = pattern else {
        return Err(bad("$regex", "a string"));
    };
    let options = match options {
        None => "",
        Some(Value::String(o)) => o.as_str(),
        Some(_) => return Err(bad("$options", "a string")),
    };
    let (mut i, mut m, mut s, mut x) = (false, false, false, false);
    for flag in options.chars() {
        match flag {
            'i' => i = true,
            'm' => m = true,
            's' => s = true,
            'x' => x = true,
            // PCRE's UTF mode; Rust regexes are always Unicode-aware.
            'u' => {}
            other => {
                return Err(QueryError::InvalidRegex(format!(
                    "unsupported option '{other}' in $options"
                )))
            }
        }
    }
    // The regex crate's `x` mode also drops whitespace inside character classes, which PCRE
    // keeps, so extended patterns are rewritten here instead.
    let source = if x {
        strip_extended(pattern)
    } else {
        pattern.clone()
    };
    RegexBuilder::new(&source)
        .case_insensitive(i)
        .multi_line(m)
        .dot_matches_new_line(s)
        // Bound compiled size and the lazy DFA's cache: patterns come from API users.
        .size_limit(compiled_bytes)
        .dfa_size_limit(compiled_bytes)
        .build()
        .map_err(|e| {
            let detail = e.to_string();
            // regex's syntax errors are multi-line diagrams; keep the one-line reason.
            let reason = detail
                .lines()
                .find_map(|l| l.trim().strip_prefix("error: "))
                .unwrap_or_else(|| detail.lines().next().unwrap_or("invalid pattern"))
                .to_owned();
            QueryError::InvalidRegex(reason)
        })
}

/// PCRE extended mode: drop unescaped whitespace and `#` comments outside character classes.
fn strip_extended(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                // An escaped space must survive without x mode's help.
                Some(w) if w.is_whitespace() => out.push_str(&format!("\\x{{{:x}}}", w as u32)),
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            },
            '[' if in_class => {
                out.push('[');
                // POSIX class such as [:alpha:] contains a ']' that does not close the class.
                if chars.peek() == Some(&':') {
                    for p in chars.by_ref() {
                        out.push(p);
                        if p == ']' {
                            break;
                        }
                    }
                }
            }
            '[' => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.extend(chars.next());
                }
                // A leading ']' is a literal member.
                if chars.peek() == Some(&']') {
                    out.extend(chars.next());
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            _ if in_class => out.push(c),
            '#' => {
                for skipped in chars.by_ref() {
                    if skipped == '\n' {
                        break;
                    }
                }
            }
            _ if c.is_whitespace() => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(query: Value, doc: Value) -> bool {
        Filter::parse(&query)
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .matches(&doc)
    }

    #[test]
    fn normaliser_rewrites_operands_per_path() {
        let norm = |path: &str, v: &Value| -> Value {
            match (path, v) {
                ("eventDate", Value::String(s)) => Value::String(s.replace('T', " ")),
                _ => v.clone(),
            }
        };
        let f = Filter::parse_with(
            &json!({"eventDate": {"$gte": "2025-01-27T12:04:00 UTC"}, "x": "aTb"}),
            &norm,
        )
        .unwrap();
        assert!(f.matches(&json!({"eventDate": "2025-01-27 12:05:00 UTC", "x": "aTb"})));
        assert!(!f.matches(&json!({"eventDate": "2025-01-27 12:03:00 UTC", "x": "aTb"})));
    }

    #[test]
    fn errors_have_short_messages() {
        let cases = [
            (json!({"a": {"$foo": 1}}), "unknown operator: $foo"),
            (json!({"a": {"$in": 1}}), "$in needs an array"),
            (json!({"$and": []}), "$and needs a non-empty array"),
            (json!({"a": {"$regex": "("}}), "invalid regex"),
            (json!({"a": {"$gt": 1, "b": 1}}), "cannot mix"),
            (json!({"a": {"b": 1, "$gt": 1}}), "cannot mix"),
            (json!([1]), "must be a JSON object"),
            (json!({"$foo": 1}), "unknown top level operator: $foo"),
            (json!({"a": {"$options": "i"}}), "$options needs a $regex"),
            (json!({"a": {"$size": -1}}), "$size needs"),
            (json!({"a": {"$mod": [0, 1]}}), "non-zero divisor"),
            (json!({"a": {"$where": "1"}}), "unsupported operator"),
        ];
        for (q, needle) in cases {
            let err = Filter::parse(&q).unwrap_err().to_string();
            assert!(err.contains(needle), "{q}: {err}");
        }
    }

    #[test]
    fn extended_regex_follows_pcre() {
        assert_eq!(strip_extended("^ a [ b] # note\n c\\ d"), "^a[ b]c\\x{20}d");
        assert_eq!(
            strip_extended("[]] x [^]] [[:alpha:] ]"),
            "[]]x[^]][[:alpha:] ]"
        );
        assert!(m(
            json!({"a": {"$regex": "^ a \\  b $", "$options": "x"}}),
            json!({"a": "a b"})
        ));
    }

    #[test]
    fn operators_beyond_the_golden_table() {
        assert!(m(json!({"a": {"$mod": [4, 1]}}), json!({"a": [8, 9]})));
        assert!(!m(json!({"a": {"$mod": [4, 1]}}), json!({"a": 8.5})));
        assert!(m(json!({"a": {"$type": "int"}}), json!({"a": 5})));
        assert!(m(
            json!({"a": {"$type": "long"}}),
            json!({"a": 5_000_000_000i64})
        ));
        assert!(m(json!({"a": {"$type": 1}}), json!({"a": 5.5})));
        assert!(!m(
            json!({"a": {"$type": "date"}}),
            json!({"a": "2025-01-01"})
        ));
        assert!(m(json!({"a": {"$lte": null}}), json!({})));
        assert!(!m(json!({"a": {"$lt": null}}), json!({"a": null})));
        assert!(m(
            json!({"a": {"$all": [{"$elemMatch": {"x": 1}}, {"$elemMatch": {"x": 2}}]}}),
            json!({"a": [{"x": 1}, {"x": 2}]})
        ));
        assert!(m(json!({"$comment": "hi", "a": 1}), json!({"a": 1})));
        assert!(m(json!({}), json!({"a": 1})));
    }
}
