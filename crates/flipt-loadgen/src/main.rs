//! `flipt-loadgen`: steady demo traffic against the evaluation service.
//!
//! ```text
//! flipt-loadgen --grpc http://127.0.0.1:9000 --http http://127.0.0.1:8080 --rate 10
//! ```
//!
//! Runs until SIGINT/SIGTERM, `--requests` or `--duration`; exits 1 when a
//! bounded run saw failures.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    flipt_loadgen::cli::loadgen().await
}
