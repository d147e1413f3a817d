//! TEMPORARY stub; replaced by branch huawei-sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("no Authorization header")]
    Missing,
    #[error("x-sdk-date differs from server time by more than {max_minutes}min")]
    Skew { max_minutes: i64 },
    #[error("ak not exist: {0}")]
    UnknownAccessKey(String),
    #[error("verify aksk signature fail")]
    BadSignature,
}
#[allow(clippy::too_many_arguments)]
pub fn verify(
    _method: &str,
    _path: &str,
    _raw_query: Option<&str>,
    _headers: &http::HeaderMap,
    _body: &[u8],
    _secret_for: &dyn Fn(&str) -> Option<String>,
    _now: chrono::DateTime<chrono::Utc>,
    _max_skew: chrono::Duration,
) -> Result<String, VerifyError> {
    Err(VerifyError::BadSignature)
}
#[allow(clippy::too_many_arguments)]
pub fn sign(
    _method: &str,
    _path: &str,
    _raw_query: Option<&str>,
    _headers: &mut http::HeaderMap,
    _body: &[u8],
    _ak: &str,
    _sk: &str,
    _now: chrono::DateTime<chrono::Utc>,
) {
}
