//! TEMPORARY stub (replaced by the real engine from branch mongo-engine): equality only.
use serde_json::Value;

#[derive(Debug)]
pub struct QueryError(pub String);
impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub struct Filter(Value);
impl Filter {
    pub fn parse(q: &Value) -> Result<Filter, QueryError> {
        Ok(Filter(q.clone()))
    }
    pub fn parse_with(
        q: &Value,
        _f: &dyn Fn(&str, &Value) -> Option<Value>,
    ) -> Result<Filter, QueryError> {
        Self::parse(q)
    }
    pub fn matches(&self, doc: &Value) -> bool {
        self.0
            .as_object()
            .is_none_or(|m| m.iter().all(|(k, v)| doc.get(k) == Some(v)))
    }
}
pub struct SortSpec;
impl SortSpec {
    pub fn parse(_s: &Value) -> Result<SortSpec, QueryError> {
        Ok(SortSpec)
    }
    pub fn sort(&self, _docs: &mut [&Value]) {}
}
pub fn parse_relaxed_json(text: &str, _max_depth: usize) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}
