//! `docker compose up` for real: the repository's docker-compose.yml and
//! deploy/Dockerfile on a real Docker Engine. The test builds the image (the
//! whole release build runs inside the build container), starts
//! evaluation, cache (Redis backend), telemetry-reporter, loadgen, Redis,
//! Prometheus and the OTLP receiver in Jaeger's place, and checks from the
//! host, through the ports published on 127.0.0.1, what a user relies on:
//! health, the README's demo calls, Prometheus's view of the services, one
//! trace across two containers, flag reload from the host, the telemetry
//! switch and state, and a clean stop.
//!
//! Images that cannot be pulled are built locally first
//! (tools/ensure-base-images.sh, tools/ensure-jaeger-standin.sh; see
//! deploy/README.md). When no Docker Engine can be started the test fails
//! with tools/ensure-docker.sh's line. Run alone with `make test-compose`.

mod checks;
mod harness;

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use harness::{Compose, root, tool};

/// The project name; `down -v` of it leaves nothing behind.
const PROJECT: &str = "flipt-compose-test";
/// Services the test starts (Grafana is covered by the dashboard tests).
const SERVICES: &[&str] = &[
    "evaluation",
    "cache",
    "telemetry-reporter",
    "loadgen",
    "redis",
    "prometheus",
    "jaeger",
];
/// Services with a health check.
const HEALTHY: &[&str] = &[
    "evaluation",
    "cache",
    "telemetry-reporter",
    "redis",
    "prometheus",
    "jaeger",
];
/// The project's own services, which must stop with exit code 0.
const FLIPT: &[&str] = &["evaluation", "cache", "telemetry-reporter", "loadgen"];

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_stack_builds_runs_and_stops_cleanly() {
    if let Err(line) = tool("ensure-docker.sh", &[], 10 * MINUTE).await {
        panic!("no Docker Engine: {line}");
    }
    tool("ensure-base-images.sh", &[], 20 * MINUTE)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tool(
        "ensure-jaeger-standin.sh",
        &[env!("CARGO_BIN_EXE_flipt-otlp-standin")],
        10 * MINUTE,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    // The cache reads a copy of the demo flags, so the reload check edits
    // the copy and not the repository.
    let dir = tempfile::tempdir().expect("temp dir");
    // The services run as uid 10001, which must read the mounted copy.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod temp dir");
    let flags = dir.path().join("flags");
    copy_dir(&root().join("deploy/flags"), &flags);
    let override_file = dir.path().join("compose.override.yml");
    std::fs::write(&override_file, override_yaml(&flags)).expect("write override");

    let compose = Compose::new(PROJECT, override_file).await;
    compose
        .run(&["down", "-v", "--remove-orphans"], &[], 2 * MINUTE)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    compose
        .run(&["build", "evaluation"], &[], 40 * MINUTE)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    checks::image().await;

    let mut up = vec!["up", "-d"];
    up.extend(SERVICES);
    compose
        .run(&up, &[], 5 * MINUTE)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    compose.wait_healthy(HEALTHY, 3 * MINUTE).await;
    assert_eq!(
        compose.inspect("loadgen", "{{.State.Status}}").await,
        "running"
    );

    checks::non_root(&compose).await;
    checks::demo_calls().await;
    checks::prometheus_sees_services_and_load().await;
    checks::trace_spans_both_containers(&flags).await;
    checks::flag_edit_reloads(&flags).await;
    checks::telemetry_switch_and_state(&compose, HEALTHY).await;

    // `stop` sends SIGTERM and waits the grace period (10 s) before SIGKILL
    // (exit 137): exit code 0 means each service drained and ended in time.
    let mut ids = Vec::new();
    for service in FLIPT {
        ids.push((*service, compose.container(service).await));
    }
    compose
        .run(&["stop"], &[], 2 * MINUTE)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for (service, id) in &ids {
        let state = harness::docker(
            &[
                "inspect",
                "--format",
                "{{.State.Status}} {{.State.ExitCode}}",
                id,
            ],
            MINUTE,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            state.trim(),
            "exited 0",
            "{service} after docker-compose stop"
        );
    }

    compose
        .run(&["down", "-v", "--remove-orphans"], &[], 2 * MINUTE)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let left = compose.leftovers().await;
    assert!(left.is_empty(), "left after down -v: {left:?}");
}

/// Bind-mounts the flags copy over ./deploy/flags (Compose merges volumes
/// by container path) and gives the reporter a destination on the compose
/// network, so it keeps its state as a sending reporter does; nothing
/// leaves the network.
fn override_yaml(flags: &std::path::Path) -> String {
    format!(
        "services:\n  \
           cache:\n    \
             volumes:\n      \
               - {}:/etc/flipt/flags:ro\n  \
           telemetry-reporter:\n    \
             environment:\n      \
               FLIPT_TELEMETRY_SEGMENT_ENDPOINT: http://jaeger:16686\n      \
               FLIPT_TELEMETRY_SEGMENT_WRITE_KEY: compose-test\n",
        flags.display()
    )
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
