//! Property tests (proptest) of the mock's parsers and verifiers, on stable Rust.
//!
//! Each property runs twice: a bounded `#[test]` in `cargo test` (fixed cases and seed), and an
//! `#[ignore]`d `fuzz_<target>_*` twin that `cargo xtask fuzz --target <target>` runs in release
//! mode with fresh seeds until its time is up (see `runner.rs`). Failures are saved under
//! `mock/proptest-regressions/` and replayed by every later run; each distinct bug also gets
//! an explicit `#[test]` next to the property that found it.
//!
//! - `query`: the MongoDB query parser, filters and sorts.
//! - `signature`: the AK/SK signer and verifier.
//! - `xml`: the XML reader and writer.

mod query;
mod runner;
mod signature;
mod xml;
