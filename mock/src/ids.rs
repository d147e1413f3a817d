//! Server-assigned identifiers, from a seedable generator so tests are deterministic.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rand::{rngs::StdRng, Rng, SeedableRng};

#[derive(Debug)]
pub struct IdGenerator {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    rng: StdRng,
    /// MongoDB draws 5 random bytes once per process; so do we, per generator.
    process_unique: [u8; 5],
    counter: u32,
}

impl IdGenerator {
    /// `seed: None` draws from the OS; `Some(n)` gives the same ids for the same clock and calls.
    pub fn new(seed: Option<u64>) -> Self {
        let mut rng = match seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        let process_unique: [u8; 5] = rng.gen();
        let counter = rng.gen_range(0..0x00ff_ffff);
        Self {
            state: Mutex::new(State {
                rng,
                process_unique,
                counter,
            }),
        }
    }

    /// A MongoDB ObjectId as 24 lower-case hex digits: 4 bytes of seconds, 5 process bytes,
    /// a 3-byte counter.
    pub fn object_id(&self, now: DateTime<Utc>) -> String {
        let mut s = self.lock();
        s.counter = (s.counter + 1) & 0x00ff_ffff;
        let secs = now.timestamp().clamp(0, u32::MAX as i64) as u32;
        // 4 bytes of seconds, 5 of process, 3 of counter: 24 hex digits, written directly.
        let mut out = String::with_capacity(24);
        push_hex(&mut out, u64::from(secs), 8);
        for byte in s.process_unique {
            push_hex(&mut out, u64::from(byte), 2);
        }
        push_hex(&mut out, u64::from(s.counter), 6);
        out
    }

    /// `len` lower-case hex digits, sixteen from each random draw (ids made of hex, such as
    /// UUIDs, are drawn on every write).
    pub fn random_hex(&self, len: usize) -> String {
        let mut s = self.lock();
        let mut out = String::with_capacity(len);
        let mut bits = 0u64;
        for i in 0..len {
            if i % 16 == 0 {
                bits = s.rng.gen();
            }
            out.push(char::from(HEX[(bits & 0xf) as usize]));
            bits >>= 4;
        }
        out
    }

    /// `len` characters drawn from `alphabet` (for vendors whose ids carry random suffixes).
    pub fn random_chars(&self, alphabet: &[u8], len: usize) -> String {
        let mut s = self.lock();
        (0..len)
            .map(|_| alphabet[s.rng.gen_range(0..alphabet.len())] as char)
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The low `digits` hex digits of `n`, most significant first, zero-padded.
fn push_hex(out: &mut String, n: u64, digits: u32) {
    for place in (0..digits).rev() {
        out.push(char::from(HEX[((n >> (4 * place)) & 0xf) as usize]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_hex_is_lower_case_hex_of_the_asked_length_and_follows_the_seed() {
        let ids = IdGenerator::new(Some(7));
        for len in [0, 1, 15, 16, 17, 30, 64] {
            let hex = ids.random_hex(len);
            assert_eq!(hex.len(), len);
            assert!(hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        }
        let (a, b) = (IdGenerator::new(Some(7)), IdGenerator::new(Some(7)));
        assert_eq!(a.random_hex(30), b.random_hex(30));
        // Every digit is drawn: over many ids each of the 16 appears at every position.
        let other = IdGenerator::new(Some(8));
        let draws: Vec<String> = (0..400).map(|_| other.random_hex(20)).collect();
        for position in 0..20 {
            let seen: std::collections::HashSet<u8> =
                draws.iter().map(|h| h.as_bytes()[position]).collect();
            assert_eq!(seen.len(), 16, "position {position}");
        }
    }

    #[test]
    fn object_ids_are_24_hex_digits_with_a_counter() {
        let ids = IdGenerator::new(Some(1));
        let now = DateTime::from_timestamp(0x6000_0000, 0).unwrap();
        let (a, b) = (ids.object_id(now), ids.object_id(now));
        assert_eq!(a.len(), 24);
        assert!(a.starts_with("60000000"));
        assert_eq!(a[..18], b[..18]);
        let process: String = ids
            .lock()
            .process_unique
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(a[8..18], process);
        let counter = |id: &str| u32::from_str_radix(&id[18..], 16).unwrap();
        assert_eq!(counter(&b), (counter(&a) + 1) & 0x00ff_ffff);
    }
}
