//! The server's command line is the common flags plus every registered API's own block: the
//! merged command is valid (no two APIs claim one flag), and each API's flags land in its own
//! settings.

use clap::{CommandFactory, Parser};
use event_mock::apis::ces::config::{CesConfig, DuplicateId};
use event_mock::apis::mws::config::{MwsConfig, TotalCount};
use event_mock::server::ServeArgs;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

#[test]
fn the_merged_command_line_is_valid() {
    Cli::command().debug_assert();
}

#[test]
fn each_apis_flags_land_in_its_own_settings() {
    let cli = Cli::try_parse_from([
        "event-mock",
        "--port",
        "0",
        "--user",
        "ops:pw:events",
        "--total-count",
        "all",
        "--ces-duplicate-id",
        "new",
        "--token",
        "T0K:0123456789abcdef0123456789abcdef",
    ])
    .expect("flags");
    let config = cli.serve.config().expect("config");
    let mws: MwsConfig = config.api().expect("mws settings");
    assert_eq!(mws.users.len(), 1);
    assert_eq!(mws.users[0].name, "ops");
    assert!(mws.users[0].may("events"));
    assert_eq!(mws.total_count, Some(TotalCount::All));
    let ces: CesConfig = config.api().expect("ces settings");
    assert_eq!(ces.duplicate_id, Some(DuplicateId::New));
    assert_eq!(ces.tokens[0].token, "T0K");
    // Flags not given keep each API's defaults.
    assert_eq!(
        ces.access_keys.len(),
        CesConfig::default().access_keys.len()
    );
    // And the mock starts with them.
    event_mock::Mock::new(config).expect("mock");
}

#[test]
fn bad_values_and_unknown_apis_are_refused() {
    let bad_user = Cli::try_parse_from(["event-mock", "--user", "nopassword"]).expect("parses");
    assert!(bad_user.serve.config().unwrap_err().contains("--user"));
    let unknown = Cli::try_parse_from(["event-mock", "--api", "no-such-api"]).expect("parses");
    assert!(unknown.serve.config().unwrap_err().contains("unknown API"));
}

#[test]
fn control_plane_and_transport_flags_land_in_the_config_and_the_limits() {
    use std::time::Duration;
    let cli = Cli::try_parse_from([
        "event-mock",
        "--admin-token",
        "an-admin-token",
        "--admin-host",
        "mock.internal",
        "--admin-host",
        "mock.example",
        "--public-url",
        "https://mock.example:8443/",
        "--signature-clock",
        "mock",
        "--header-timeout-ms",
        "1500",
        "--body-timeout-ms",
        "2500",
        "--idle-timeout-ms",
        "3500",
        "--max-connections",
        "7",
        "--unclaimed-body-limit",
        "4096",
    ])
    .expect("flags");
    let config = cli.serve.config().expect("config");
    assert_eq!(config.admin_token.as_deref(), Some("an-admin-token"));
    assert_eq!(config.admin_hosts, ["mock.internal", "mock.example"]);
    assert_eq!(
        config.public_url.as_deref(),
        Some("https://mock.example:8443")
    );
    assert_eq!(
        config.signature_clock,
        event_mock::config::SignatureClock::Mock
    );
    let limits = cli.serve.limits();
    assert_eq!(limits.header_timeout, Duration::from_millis(1500));
    assert_eq!(limits.body_timeout, Duration::from_millis(2500));
    assert_eq!(limits.idle_timeout, Duration::from_millis(3500));
    assert_eq!(limits.max_connections, 7);
    assert_eq!(limits.unclaimed_body_limit, 4096);

    // Without flags: the documented defaults.
    let defaults = Cli::try_parse_from(["event-mock"]).expect("flags");
    assert_eq!(
        defaults.serve.limits(),
        event_mock::server::ServerLimits::default()
    );
    let config = defaults.serve.config().expect("config");
    assert_eq!(
        config.signature_clock,
        event_mock::config::SignatureClock::Real
    );
    // The token can also come from the environment (not set here: tests share it).
    let command = Cli::command();
    let token = command
        .get_arguments()
        .find(|a| a.get_id() == "admin_token")
        .expect("--admin-token");
    assert_eq!(
        token.get_env().and_then(|e| e.to_str()),
        Some("EVENT_MOCK_ADMIN_TOKEN")
    );
    // Bad values are refused.
    for bad in [
        ["event-mock", "--signature-clock", "wall"],
        ["event-mock", "--max-connections", "0"],
        ["event-mock", "--header-timeout-ms", "0"],
    ] {
        assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
    }
    let relative = Cli::try_parse_from(["event-mock", "--public-url", "mock.example"]).unwrap();
    assert!(relative
        .serve
        .config()
        .unwrap_err()
        .contains("--public-url"));
    let empty = Cli::try_parse_from(["event-mock", "--admin-token", ""]).unwrap();
    assert!(empty.serve.config().unwrap_err().contains("--admin-token"));
}

#[test]
fn the_store_budget_flags_land_in_the_config() {
    let cli = Cli::try_parse_from([
        "event-mock",
        "--store-max-items",
        "10",
        "--store-max-bytes",
        "4096",
        "--store-when-full",
        "evict-oldest",
    ])
    .expect("flags");
    let store = cli.serve.config().expect("config").store;
    assert_eq!((store.max_items, store.max_bytes), (10, 4096));
    assert_eq!(store.when_full, event_mock::config::WhenFull::EvictOldest);
    let defaults = Cli::try_parse_from(["event-mock"]).expect("flags");
    assert_eq!(
        defaults.serve.config().unwrap().store,
        event_mock::config::StoreLimits::default()
    );
}
