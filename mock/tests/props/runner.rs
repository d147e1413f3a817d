//! How the property tests run: the same property, two budgets.
//!
//! - [`bounded`]: a `#[test]` in `cargo test`. A fixed case count, a fixed seed derived from the
//!   property's name (a run is reproducible; a failure in CI is the same failure on a laptop),
//!   limited shrinking. Cases saved earlier under `proptest-regressions/<property>.txt` are
//!   replayed first.
//! - [`until_deadline`]: an `#[ignore]`d `fuzz_*` test that `cargo xtask fuzz` runs in release
//!   mode. It repeats the property with fresh seeds until `EVENT_FUZZ_SECONDS` have passed,
//!   saves any failure to the same regressions file (commit it: `cargo test` replays it from then
//!   on) and fails with the shrunk input.
//!
//! (Shared by the `props` tests of both crates.)

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngSeed, TestCaseResult, TestError, TestRunner,
};

/// The seconds a `fuzz_*` test runs for (set by `cargo xtask fuzz`).
pub const FUZZ_SECONDS: &str = "EVENT_FUZZ_SECONDS";
/// Without `EVENT_FUZZ_SECONDS`, a `fuzz_*` test run by hand takes this long.
const DEFAULT_FUZZ_SECONDS: f64 = 20.0;

/// One property's name and budget.
#[derive(Clone, Copy)]
pub struct Property {
    /// Unique per crate: names the regressions file and seeds the bounded run.
    pub name: &'static str,
    /// The crate's `proptest-regressions` folder (`concat!(env!("CARGO_MANIFEST_DIR"), ...)`).
    pub regressions: &'static str,
    /// Cases in the bounded run.
    pub cases: u32,
    /// Shrinking steps in the bounded run (the long run allows more).
    pub shrink_iters: u32,
}

impl Property {
    fn config(&self, cases: u32, shrink_iters: u32, seed: u64) -> Config {
        let file: &'static str =
            Box::leak(format!("{}/{}.txt", self.regressions, self.name).into_boxed_str());
        Config {
            cases,
            max_shrink_iters: shrink_iters,
            // Shrinking stops after a minute however many steps are left.
            max_shrink_time: 60_000,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(file))),
            rng_seed: RngSeed::Fixed(seed),
            test_name: Some(self.name),
            ..Config::default()
        }
    }
}

/// FNV-1a of the name: a stable seed per property.
fn seed_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn fail<T: std::fmt::Debug>(name: &str, seed: u64, error: TestError<T>) -> ! {
    match error {
        TestError::Fail(reason, input) => panic!(
            "property {name} failed (seed {seed}): {reason}\nminimal failing input: {input:#?}"
        ),
        TestError::Abort(reason) => panic!("property {name} aborted (seed {seed}): {reason}"),
    }
}

/// Run `test` on `p.cases` inputs from `strategy` (plus the saved regressions), panicking with
/// the shrunk input on failure.
pub fn bounded<S: Strategy>(p: Property, strategy: S, test: impl Fn(S::Value) -> TestCaseResult) {
    let seed = seed_of(p.name);
    let mut runner = TestRunner::new(p.config(p.cases, p.shrink_iters, seed));
    if let Err(e) = runner.run(&strategy, test) {
        fail(p.name, seed, e);
    }
}

/// A seed nobody chose: the standard library's per-process random hasher keys.
fn fresh_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// The long run: rounds of fresh seeds until `EVENT_FUZZ_SECONDS` have passed. Each round is
/// sized from the previous one's speed so the run ends close to the deadline.
pub fn until_deadline<S: Strategy>(
    p: Property,
    strategy: S,
    test: impl Fn(S::Value) -> TestCaseResult,
) {
    let seconds: f64 = std::env::var(FUZZ_SECONDS)
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| s.is_finite() && *s >= 0.0)
        .unwrap_or(DEFAULT_FUZZ_SECONDS);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let (mut total, mut rounds) = (0u64, 0u32);
    let mut chunk = p.cases.max(1);
    loop {
        let seed = fresh_seed();
        let round_start = Instant::now();
        let mut runner = TestRunner::new(p.config(chunk, 100_000, seed));
        if let Err(e) = runner.run(&strategy, &test) {
            println!(
                "fuzz {}: FAILED after {total} cases (round seed {seed})",
                p.name
            );
            fail(p.name, seed, e);
        }
        total += u64::from(chunk);
        rounds += 1;
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        // Aim each round at a few seconds, never past the deadline.
        let per_case = round_start.elapsed().as_secs_f64() / f64::from(chunk);
        let left = (deadline - now).as_secs_f64().min(5.0);
        chunk = ((left / per_case.max(1e-9)) as u32).clamp(1, 1_000_000);
    }
    println!(
        "fuzz {}: {total} cases in {rounds} rounds, {:.1}s, no failure",
        p.name,
        start.elapsed().as_secs_f64()
    );
}
