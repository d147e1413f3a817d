fn main() {
    // The specs folder is embedded with include_dir!; make edits to it rebuild the crate.
    println!("cargo:rerun-if-changed=../specs");

    // Link the `event-mock` binary position-dependent on Linux. As a position-independent
    // executable it carries ~55,000 relative relocations (vtables and the `&'static` tables of
    // the regex, time-zone and TLS crates), which the loader applies at every start, copying
    // each page it writes (~1.4 MB): about half of the time before `main` (`event-mock --bogus`
    // took 4.1 ms as PIE, 1.9 ms without; docs/performance-notes.md, "Cold start"). The cost is
    // no address randomisation of the binary's own image (libraries, heap and stack still
    // are), which a test server can afford. The library, tests and examples link as before.
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bin=event-mock=-no-pie");
    }
}
