//! The mock's clock, injected everywhere time matters, so tests can freeze and move it.
//!
//! Every instant it can reach lies in [`MockClock::EARLIEST`, `MockClock::LATEST`] (years 1970
//! to 9999: what vendors' epoch-millisecond and RFC 3339 fields can carry). Moves that would leave
//! that range are refused, never wrapped or panicked on.

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

/// A clock move that would leave the clock's range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the clock would leave its range (1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z)")]
pub struct OutOfRange;

impl Default for MockClock {
    fn default() -> Self {
        Self::system()
    }
}

impl MockClock {
    /// 1970-01-01T00:00:00Z.
    pub const EARLIEST: DateTime<Utc> = DateTime::UNIX_EPOCH;
    /// 9999-12-31T23:59:59.999Z, in epoch milliseconds.
    pub const LATEST_MS: i64 = 253_402_300_799_999;

    pub fn system() -> Self {
        Self {
            mode: Mutex::new(Mode::System {
                offset: Duration::zero(),
            }),
        }
    }

    /// A clock frozen at `at` (clamped into the clock's range).
    pub fn frozen(at: DateTime<Utc>) -> Self {
        Self {
            mode: Mutex::new(Mode::Frozen(clamp(at))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match *self.lock() {
            // The offset was checked when it was set; clamping keeps any later wall time in range.
            Mode::System { offset } => {
                clamp(Utc::now().checked_add_signed(offset).unwrap_or_else(latest))
            }
            Mode::Frozen(at) => at,
        }
    }

    /// Freeze at `at`; refused outside the clock's range.
    pub fn freeze(&self, at: DateTime<Utc>) -> Result<(), OutOfRange> {
        in_range(at)?;
        *self.lock() = Mode::Frozen(at);
        Ok(())
    }

    /// Resume wall-clock time, shifted by `offset`; refused when that leaves the range.
    pub fn run_with_offset(&self, offset: Duration) -> Result<(), OutOfRange> {
        in_range(Utc::now().checked_add_signed(offset).ok_or(OutOfRange)?)?;
        *self.lock() = Mode::System { offset };
        Ok(())
    }

    /// Move the clock forward (or back, with a negative duration) in either mode; refused when
    /// that leaves the range.
    pub fn advance(&self, by: Duration) -> Result<(), OutOfRange> {
        let mut mode = self.lock();
        let moved = match *mode {
            Mode::System { offset } => {
                let offset = offset.checked_add(&by).ok_or(OutOfRange)?;
                in_range(Utc::now().checked_add_signed(offset).ok_or(OutOfRange)?)?;
                Mode::System { offset }
            }
            Mode::Frozen(at) => {
                Mode::Frozen(in_range(at.checked_add_signed(by).ok_or(OutOfRange)?)?)
            }
        };
        *mode = moved;
        Ok(())
    }

    pub fn is_frozen(&self) -> bool {
        matches!(*self.lock(), Mode::Frozen(_))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mode> {
        // A poisoned clock still holds a valid Mode; keep serving it.
        self.mode.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn latest() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(MockClock::LATEST_MS).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn in_range(at: DateTime<Utc>) -> Result<DateTime<Utc>, OutOfRange> {
    if at < MockClock::EARLIEST || at > latest() {
        Err(OutOfRange)
    } else {
        Ok(at)
    }
}

fn clamp(at: DateTime<Utc>) -> DateTime<Utc> {
    at.clamp(MockClock::EARLIEST, latest())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_out_of_range_are_refused_and_change_nothing() {
        let clock = MockClock::frozen(latest() - Duration::milliseconds(1));
        assert_eq!(clock.advance(Duration::milliseconds(2)), Err(OutOfRange));
        assert_eq!(clock.now(), latest() - Duration::milliseconds(1));
        assert_eq!(clock.advance(Duration::MIN), Err(OutOfRange));
        assert_eq!(clock.advance(Duration::MAX), Err(OutOfRange));
        assert!(clock.advance(Duration::milliseconds(1)).is_ok());
        assert_eq!(clock.now(), latest());
        let running = MockClock::system();
        assert_eq!(
            running.run_with_offset(Duration::milliseconds(9_000_000_000_000_000)),
            Err(OutOfRange)
        );
        assert!(!running.now().timestamp_millis().is_negative());
        assert_eq!(running.advance(Duration::MIN), Err(OutOfRange));
        assert_eq!(
            running.freeze(DateTime::from_timestamp_millis(-1).unwrap()),
            Err(OutOfRange)
        );
        assert!(!running.is_frozen());
    }
}
