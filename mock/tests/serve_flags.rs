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
