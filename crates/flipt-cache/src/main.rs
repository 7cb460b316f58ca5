//! `flipt-cache`: loads flag files and serves flag state over gRPC.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    flipt_cache::cli::main().await
}
