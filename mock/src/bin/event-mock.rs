//! Standalone mock server: `event-mock --port 8080`.

use clap::Parser;
use tracing_subscriber::prelude::*;

#[derive(Parser)]
#[command(
    name = "event-mock",
    about = "Mock server for event-reporting APIs (every API of the registry)"
)]
struct Cli {
    #[command(flatten)]
    serve: event_mock::server::ServeArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // RUST_LOG as `target=level` directives (e.g. `h2=debug,info`). Not tracing-subscriber's
    // `EnvFilter`: its `env-filter` feature turns on regex-automata's full DFAs for every regex
    // in the process, which made compiling the specs' JSON Schema patterns about twice as slow.
    let targets: tracing_subscriber::filter::Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer())
        .with(targets)
        .init();
    Cli::parse().serve.run().await
}
