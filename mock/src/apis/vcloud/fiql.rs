//! The FIQL filter subset of the query service and the cloudapi (rule `fiql`): clauses
//! `field<op>value` with `==`, `!=`, `=gt=`, `=ge=`, `=lt=`, `=le=`, joined by `;` (and), which
//! binds tighter than `,` (or). `*` in a `==`/`!=` value matches any run of characters.
//! Parentheses are not supported; what cannot be read is an error the API answers with 400.

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde::Deserialize;
use serde_json::Value;

/// The rule's parameters.
#[derive(Debug, Clone, Deserialize)]
pub struct FiqlRule {
    pub max_clauses: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone)]
struct Clause {
    /// A field name; a dotted name (`user.name`) reaches into an object.
    field: String,
    op: Op,
    value: String,
}

/// A parsed filter: any of the groups matches when all of its clauses do.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    any_of: Vec<Vec<Clause>>,
}

/// Operators, longest first so `=ge=` is not read as `=`.
const OPERATORS: [(&str, Op); 6] = [
    ("=gt=", Op::Gt),
    ("=ge=", Op::Ge),
    ("=lt=", Op::Lt),
    ("=le=", Op::Le),
    ("==", Op::Eq),
    ("!=", Op::Ne),
];

impl Filter {
    /// Read `text`; every field must be one of `fields`.
    pub fn parse(text: &str, fields: &[String], rule: &FiqlRule) -> Result<Self, String> {
        if text.contains('(') || text.contains(')') {
            return Err("filter: parentheses are not supported".into());
        }
        let mut any_of = Vec::new();
        let mut count = 0usize;
        for group in text.split(',') {
            let mut all_of = Vec::new();
            for clause in group.split(';') {
                count += 1;
                if count > rule.max_clauses {
                    return Err(format!(
                        "filter: at most {} clauses are supported",
                        rule.max_clauses
                    ));
                }
                all_of.push(parse_clause(clause, fields)?);
            }
            any_of.push(all_of);
        }
        Ok(Self { any_of })
    }

    /// Does `record` (an object) pass? An empty filter passes everything.
    pub fn matches(&self, record: &Value) -> bool {
        self.any_of.is_empty()
            || self
                .any_of
                .iter()
                .any(|all| all.iter().all(|c| clause_matches(c, record)))
    }
}

fn parse_clause(text: &str, fields: &[String]) -> Result<Clause, String> {
    let found = OPERATORS
        .iter()
        .filter_map(|(symbol, op)| text.find(symbol).map(|at| (at, *symbol, *op)))
        .min_by_key(|(at, symbol, _)| (*at, usize::MAX - symbol.len()));
    let Some((at, symbol, op)) = found else {
        return Err(format!("filter: '{text}' has no comparison operator"));
    };
    let field = text[..at].trim();
    let value = &text[at + symbol.len()..];
    if !fields.iter().any(|f| f == field) {
        return Err(format!(
            "filter: '{field}' cannot be filtered on; fields: {}",
            fields.join(", ")
        ));
    }
    if value.is_empty() {
        return Err(format!("filter: '{text}' has no value"));
    }
    Ok(Clause {
        field: field.to_owned(),
        op,
        value: value.to_owned(),
    })
}

fn field_of<'v>(record: &'v Value, field: &str) -> Option<&'v Value> {
    field
        .split('.')
        .try_fold(record, |value, name| value.get(name))
}

fn clause_matches(clause: &Clause, record: &Value) -> bool {
    let Some(actual) = field_of(record, &clause.field).filter(|v| !v.is_null()) else {
        // A missing field equals nothing and differs from everything.
        return clause.op == Op::Ne;
    };
    let ordering = match actual {
        Value::Number(n) => match (n.as_f64(), clause.value.parse::<f64>()) {
            (Some(a), Ok(b)) => a.partial_cmp(&b),
            _ => None,
        },
        Value::Bool(b) => match clause.value.as_str() {
            "true" | "false" => Some(b.to_string().cmp(&clause.value)),
            _ => None,
        },
        Value::String(s) => match (parse_time(s), parse_time(&clause.value)) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ if matches!(clause.op, Op::Eq | Op::Ne) => {
                let equal = glob(&clause.value, s);
                return (clause.op == Op::Eq) == equal;
            }
            _ => Some(s.as_str().cmp(clause.value.as_str())),
        },
        _ => None,
    };
    let Some(ordering) = ordering else {
        return clause.op == Op::Ne;
    };
    match clause.op {
        Op::Eq => ordering.is_eq(),
        Op::Ne => ordering.is_ne(),
        Op::Gt => ordering.is_gt(),
        Op::Ge => ordering.is_ge(),
        Op::Lt => ordering.is_lt(),
        Op::Le => ordering.is_le(),
    }
}

/// A time as the API writes it (`+00:00`, `+0000` or `Z`), to the millisecond.
pub fn parse_time(text: &str) -> Option<DateTime<FixedOffset>> {
    if text.len() < 19 || !text.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .or_else(|| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z").ok())
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc().fixed_offset())
        })
}

/// `*` matches any run of characters (none included); everything else matches itself.
/// Iterative with one backtrack point, so it is linear-ish and never recursive.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filter(text: &str) -> Result<Filter, String> {
        let fields: Vec<String> = ["eventType", "timestamp", "eventStatus", "user.name"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        Filter::parse(text, &fields, &FiqlRule { max_clauses: 4 })
    }

    #[test]
    fn clauses_and_groups() {
        let record = json!({"eventType": "MyType", "timestamp": "2026-01-02T03:04:05.006+00:00",
            "eventStatus": 0, "user": {"name": "orgadmin"}});
        assert!(filter("eventType==MyType").unwrap().matches(&record));
        assert!(filter("eventType==My*").unwrap().matches(&record));
        assert!(!filter("eventType!=My*").unwrap().matches(&record));
        assert!(filter("timestamp=gt=2026-01-02T03:04:05.000+0000")
            .unwrap()
            .matches(&record));
        assert!(!filter("timestamp=lt=2026-01-02T03:04:05.000Z")
            .unwrap()
            .matches(&record));
        assert!(filter("eventStatus==0;user.name==orgadmin")
            .unwrap()
            .matches(&record));
        assert!(filter("eventType==Other,user.name==orgadmin")
            .unwrap()
            .matches(&record));
        assert!(!filter("eventType==Other;user.name==orgadmin")
            .unwrap()
            .matches(&record));
    }

    #[test]
    fn refusals() {
        assert!(filter("nope==1").is_err());
        assert!(filter("eventType").is_err());
        assert!(filter("eventType==").is_err());
        assert!(filter("(eventType==a)").is_err());
        assert!(
            filter("eventType==a;eventType==b;eventType==c;eventType==d;eventType==e").is_err()
        );
    }

    #[test]
    fn glob_is_not_fooled() {
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("*", ""));
        assert!(!glob("", "a"));
    }
}
