//! Signatures received, for the optional replay refusal: each is remembered until it could no
//! longer pass the date check anyway, in bounded memory.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Keys (an access key and its signature) seen, with when they may be forgotten.
pub(super) struct Seen {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    expiry_of: HashMap<String, i64>,
    by_expiry: BTreeSet<(i64, String)>,
}

impl Seen {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::default(),
        }
    }

    /// `true` the first time `key` is given (it is then remembered for `keep`), `false` for a
    /// replay. Expired keys are forgotten first; when full, the key that expires first is.
    pub(super) fn first_receipt(&self, key: &str, now: DateTime<Utc>, keep: Duration) -> bool {
        let now_ms = now.timestamp_millis();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((expiry, _)) = inner.by_expiry.first() {
            if *expiry > now_ms {
                break;
            }
            if let Some((_, old)) = inner.by_expiry.pop_first() {
                inner.expiry_of.remove(&old);
            }
        }
        if inner.expiry_of.contains_key(key) {
            return false;
        }
        while inner.expiry_of.len() >= self.capacity {
            match inner.by_expiry.pop_first() {
                Some((_, old)) => {
                    inner.expiry_of.remove(&old);
                }
                None => break,
            }
        }
        let expiry = now_ms.saturating_add(keep.num_milliseconds());
        inner.expiry_of.insert(key.to_owned(), expiry);
        inner.by_expiry.insert((expiry, key.to_owned()));
        true
    }

    pub(super) fn clear(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *inner = Inner::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    #[test]
    fn a_key_is_refused_until_it_expires() {
        let seen = Seen::new(10);
        let keep = Duration::minutes(30);
        assert!(seen.first_receipt("a", at(0), keep));
        assert!(!seen.first_receipt("a", at(1), keep));
        assert!(seen.first_receipt("b", at(1), keep));
        assert!(!seen.first_receipt("a", at(30 * 60_000 - 1), keep));
        // Expired: forgotten (the date check refuses such a request anyway).
        assert!(seen.first_receipt("a", at(30 * 60_000), keep));
    }

    #[test]
    fn memory_is_bounded_and_the_first_to_expire_goes_first() {
        let seen = Seen::new(3);
        let keep = Duration::minutes(30);
        for (i, key) in ["a", "b", "c", "d"].iter().enumerate() {
            assert!(seen.first_receipt(key, at(i as i64), keep));
        }
        assert_eq!(seen.inner.lock().unwrap().expiry_of.len(), 3);
        assert!(
            seen.first_receipt("a", at(10), keep),
            "the oldest was forgotten"
        );
        assert!(!seen.first_receipt("d", at(10), keep));
        seen.clear();
        assert!(seen.first_receipt("d", at(10), keep));
    }
}
