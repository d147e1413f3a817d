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
        let mut out = format!("{secs:08x}");
        for b in s.process_unique {
            out.push_str(&format!("{b:02x}"));
        }
        out.push_str(&format!("{:06x}", s.counter));
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
