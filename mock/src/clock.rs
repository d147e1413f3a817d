//! The mock's clock, injected everywhere time matters, so tests can freeze and move it.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Wall-clock time shifted by an offset.
    System { offset: Duration },
    /// A fixed instant that moves only when told to.
    Frozen(DateTime<Utc>),
}

/// A controllable clock: system time (optionally offset) or frozen.
#[derive(Debug)]
pub struct MockClock {
    mode: Mutex<Mode>,
}

impl Default for MockClock {
    fn default() -> Self {
        Self::system()
    }
}

impl MockClock {
    pub fn system() -> Self {
        Self {
            mode: Mutex::new(Mode::System {
                offset: Duration::zero(),
            }),
        }
    }

    pub fn frozen(at: DateTime<Utc>) -> Self {
        Self {
            mode: Mutex::new(Mode::Frozen(at)),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match *self.lock() {
            Mode::System { offset } => Utc::now() + offset,
            Mode::Frozen(at) => at,
        }
    }

    pub fn freeze(&self, at: DateTime<Utc>) {
        *self.lock() = Mode::Frozen(at);
    }

    /// Resume wall-clock time, keeping the given offset from it.
    pub fn run_with_offset(&self, offset: Duration) {
        *self.lock() = Mode::System { offset };
    }

    /// Move the clock forward (or back, with a negative duration) in either mode.
    pub fn advance(&self, by: Duration) {
        let mut mode = self.lock();
        *mode = match *mode {
            Mode::System { offset } => Mode::System {
                offset: offset + by,
            },
            Mode::Frozen(at) => Mode::Frozen(at + by),
        };
    }

    pub fn is_frozen(&self) -> bool {
        matches!(*self.lock(), Mode::Frozen(_))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mode> {
        // A poisoned clock still holds a valid Mode; keep serving it.
        self.mode.lock().unwrap_or_else(|p| p.into_inner())
    }
}
