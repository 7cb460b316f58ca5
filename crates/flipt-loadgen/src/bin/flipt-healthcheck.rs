//! `flipt-healthcheck [URL...]`: exits 0 when the service's
//! `grpc.health.v1` reports SERVING, 1 otherwise, with one line on stderr
//! saying why. Without URLs it probes 127.0.0.1 at `FLIPT_SERVER_GRPC_PORT`,
//! or at the default gRPC ports 9000, 9001, 9002; the first address that
//! accepts a connection decides, so one image-wide `HEALTHCHECK` fits
//! whichever service the container runs.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    flipt_loadgen::cli::healthcheck().await
}
