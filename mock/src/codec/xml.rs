//! Placeholder until the XML mapping codec lands (same public surface).
use std::collections::BTreeMap;

#[derive(Debug, Clone, serde::Deserialize)]
pub struct XmlMapping {
    pub namespace: String,
    pub roots: BTreeMap<String, String>,
    #[serde(default)]
    pub types: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum XmlError {
    #[error("not yet")]
    Malformed(String),
}

impl XmlMapping {
    pub fn decode(&self, _bytes: &[u8]) -> Result<(String, serde_json::Value), XmlError> {
        Err(XmlError::Malformed("not yet".into()))
    }
    pub fn encode(&self, _root: &str, _value: &serde_json::Value) -> Result<Vec<u8>, XmlError> {
        Err(XmlError::Malformed("not yet".into()))
    }
    pub fn check(&self) -> Result<(), String> {
        Ok(())
    }
}
