//! Security end to end, on the real binaries and real clients:
//!
//! * [`auth`]: client tokens on gRPC, REST, snapshot and the OFREP path,
//!   with Flipt's SDKs, `grpcio` and raw requests; exclusions; rotation on
//!   SIGHUP; no token value in logs, spans or metrics;
//! * [`tls`]: `server.protocol: https` with a test CA, plaintext refused;
//! * [`internal`]: the cache and reporter gRPC APIs closed to callers
//!   without the internal token;
//! * [`flag_files`]: alias bombs and oversized files rejected in bounded
//!   memory, ConfigMap-style symlink swaps.

mod auth;
mod flag_files;
mod internal;
mod tls;

use flipt_testkit::{ServiceProcess, demo_flags};

/// The internal token every process of these tests shares.
pub const INTERNAL_TOKEN: &str = "e2e-internal-9f1c2d";

/// The cache service on `flags` with the internal token, plus `env`.
pub async fn start_cache(flags: &std::path::Path, env: Vec<(String, String)>) -> ServiceProcess {
    let mut all = vec![
        (
            "FLIPT_STORAGE_LOCAL_PATH".to_owned(),
            flags.display().to_string(),
        ),
        (
            "FLIPT_STORAGE_LOCAL_POLL_INTERVAL".to_owned(),
            "200ms".to_owned(),
        ),
        (
            "FLIPT_SERVICES_INTERNAL_TOKEN".to_owned(),
            INTERNAL_TOKEN.to_owned(),
        ),
    ];
    all.extend(env);
    ServiceProcess::start("flipt-cache", all)
        .await
        .expect("flipt-cache running")
}

/// The evaluation service reading `config` (YAML written to `dir`) and
/// `env`, calling `cache` with the internal token.
pub async fn start_evaluation(
    dir: &std::path::Path,
    config: &str,
    cache: &ServiceProcess,
    env: Vec<(String, String)>,
) -> ServiceProcess {
    let path = dir.join(format!("evaluation-{}.yml", env.len()));
    std::fs::write(&path, config).expect("write config");
    let mut all = vec![
        ("FLIPT_SERVICES_CACHE_ADDRESS".to_owned(), cache.grpc_url()),
        (
            "FLIPT_SERVICES_INTERNAL_TOKEN".to_owned(),
            INTERNAL_TOKEN.to_owned(),
        ),
    ];
    all.extend(env);
    ServiceProcess::start_with_args(
        "flipt-evaluation",
        vec!["--config".to_owned(), path.display().to_string()],
        all,
    )
    .await
    .expect("flipt-evaluation running")
}

/// The demo flags (namespaces `default`, `checkout`, `mobile`).
pub fn flags() -> std::path::PathBuf {
    demo_flags()
}
