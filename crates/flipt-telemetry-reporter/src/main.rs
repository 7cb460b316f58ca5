//! `flipt-telemetry-reporter`: collects usage reports from the services
//! and sends the anonymous `flipt.ping` (see `docs/telemetry.md`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    flipt_telemetry_reporter::cli::main().await
}
