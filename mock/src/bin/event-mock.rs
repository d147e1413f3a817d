//! Standalone mock server: `event-mock --port 8080`.

use clap::Parser;

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
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    Cli::parse().serve.run().await
}
