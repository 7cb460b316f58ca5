//! The peer row: Unleash Edge in offline mode against the evaluation
//! service (near cache on, metrics on, sampled 0), under the same REST load
//! in alternating slices of one run.
//!
//! Both serve one equivalent flag: a variant flag with one rule on a
//! segment (`plan` is `pro`) splitting 50/50 between two variants; for
//! Edge, a `flexibleRollout` strategy at 100 % with that constraint and two
//! variants of weight 500. Flipt is asked `POST /evaluate/v1/variant`, Edge
//! `POST /api/frontend` with the same entity as `userId` and the same
//! property: each answer is one evaluation of that flag.
//!
//! Edge is not built here: it is looked for at `$FLIPT_BENCH_UNLEASH_EDGE`
//! or `~/.cache/flipt-bench/unleash-edge/bin/unleash-edge` (what
//! `cargo install --locked --root ~/.cache/flipt-bench/unleash-edge unleash-edge`
//! leaves); without it the row is skipped with a line saying so.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;
use tokio::process::{Child, Command};

use crate::{
    load::{RestShape, Target},
    report::Measured,
    rest::RestConnection,
    run::{RunOptions, Side, alternate, median, progress},
    scenario::{Scenario, entity_id},
    stack::{Mode, Services},
};

/// The frontend token Edge is started with and asked with.
const EDGE_TOKEN: &str = "default:development.flipt-bench";
/// Upper bound of Edge's start-up.
const START_WAIT: Duration = Duration::from_secs(20);

/// The equivalent Flipt flag.
const FLIPT_FLAGS: &str = r#"version: "1.4"
namespace: default
segments:
  - key: pro
    name: Pro
    match_type: ALL_MATCH_TYPE
    constraints:
      - type: STRING_COMPARISON_TYPE
        property: plan
        operator: eq
        value: pro
flags:
  - key: checkout-button
    name: Checkout button
    type: VARIANT_FLAG_TYPE
    enabled: true
    variants:
      - key: blue
      - key: green
    rules:
      - segment: pro
        distributions:
          - variant: blue
            rollout: 50
          - variant: green
            rollout: 50
"#;

/// The equivalent Edge feature (client features format).
const EDGE_FEATURES: &str = r#"{"version":2,"features":[{"name":"checkout-button","type":"release","enabled":true,"project":"default","stale":false,"impressionData":false,"strategies":[{"name":"flexibleRollout","parameters":{"rollout":"100","stickiness":"default","groupId":"checkout-button"},"constraints":[{"contextName":"plan","operator":"IN","values":["pro"],"inverted":false,"caseInsensitive":false}],"variants":[{"name":"blue","weight":500,"weightType":"variable","stickiness":"default"},{"name":"green","weight":500,"weightType":"variable","stickiness":"default"}]}],"variants":[]}]}"#;

fn flipt_body(seq: u64) -> Vec<u8> {
    format!(
        r#"{{"namespaceKey":"default","flagKey":"checkout-button","entityId":"{}","context":{{"plan":"pro"}}}}"#,
        entity_id(seq)
    )
    .into_bytes()
}

fn edge_body(seq: u64) -> Vec<u8> {
    format!(
        r#"{{"context":{{"userId":"{}","properties":{{"plan":"pro"}}}}}}"#,
        entity_id(seq)
    )
    .into_bytes()
}

const FLIPT_SHAPE: RestShape = RestShape {
    path: "/evaluate/v1/variant",
    authorization: None,
    body: flipt_body,
};

const EDGE_SHAPE: RestShape = RestShape {
    path: "/api/frontend",
    authorization: Some(EDGE_TOKEN),
    body: edge_body,
};

/// The peer row: measured, or why it was skipped.
#[derive(Debug, Clone, Serialize)]
pub struct Peer {
    /// The peer and its version.
    pub name: String,
    /// Why it was not measured, if it was not.
    pub skipped: Option<String>,
    /// Flipt's REST variant on the equivalent flag.
    pub flipt: Option<Measured>,
    /// The peer on the equivalent flag.
    pub peer: Option<Measured>,
    /// Median over the slices of Flipt's req/s over the peer's.
    pub ratio: f64,
    /// Per slice.
    pub slice_ratios: Vec<f64>,
}

impl Peer {
    fn skipped(reason: String) -> Self {
        Self {
            name: "Unleash Edge".to_owned(),
            skipped: Some(reason),
            flipt: None,
            peer: None,
            ratio: 0.0,
            slice_ratios: Vec::new(),
        }
    }

    /// One line per side, or the reason it was skipped.
    pub fn render(&self) -> String {
        match (&self.skipped, &self.flipt, &self.peer) {
            (None, Some(flipt), Some(peer)) => format!(
                "peer, REST variant of one flag (segment rule, 50/50), same load, alternating slices:\n  {:<34} {:>8.0} req/s  p50 {:.3} ms  p99 {:.3} ms  errors {}\n  {:<34} {:>8.0} req/s  p50 {:.3} ms  p99 {:.3} ms  errors {}\n  ratio (median of slices) {:.2}",
                "flipt-evaluation (metrics on)",
                flipt.rps,
                flipt.p50_ms,
                flipt.p99_ms,
                flipt.errors,
                self.name,
                peer.rps,
                peer.p50_ms,
                peer.p99_ms,
                peer.errors,
                self.ratio
            ),
            (Some(reason), _, _) => format!("peer: skipped: {reason}"),
            _ => "peer: not run".to_owned(),
        }
    }
}

/// Where the Edge binary is expected.
fn edge_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FLIPT_BENCH_UNLEASH_EDGE") {
        return Some(PathBuf::from(path));
    }
    let home = std::env::var_os("HOME")?;
    Some(Path::new(&home).join(".cache/flipt-bench/unleash-edge/bin/unleash-edge"))
}

/// Runs the peer row, or says why it cannot.
pub async fn measure(options: &RunOptions) -> Result<Peer> {
    let Some(binary) = edge_binary().filter(|path| path.is_file()) else {
        return Ok(Peer::skipped(format!(
            "Unleash Edge not found at {} (cargo install --locked --root ~/.cache/flipt-bench/unleash-edge unleash-edge, or set FLIPT_BENCH_UNLEASH_EDGE)",
            edge_binary().map_or_else(
                || "$HOME/.cache/...".to_owned(),
                |p| p.display().to_string()
            )
        )));
    };
    let version = edge_version(&binary);
    let dir = tempfile::tempdir().context("peer flag directory")?;
    let flags = dir.path().join("flags");
    std::fs::create_dir_all(&flags)?;
    std::fs::write(flags.join("default.features.yml"), FLIPT_FLAGS)?;
    let features = dir.path().join("features.json");
    std::fs::write(&features, EDGE_FEATURES)?;

    let mut edge = start_edge(&binary, &features).await?;
    let services = Services::start(
        &options.bin_dir,
        &options.out_dir.join("config"),
        &flags,
        Mode::Metrics,
        "http://127.0.0.1:4317",
    )
    .await?;
    let result = compare(options, &services, &edge).await;
    services.stop().await?;
    let _ = edge.child.kill().await;
    let (pair, names) = result?;
    Ok(Peer {
        name: format!("Unleash Edge {version} (offline)"),
        skipped: None,
        flipt: Some(Measured::new(&pair.service, &names)),
        peer: Some(Measured::new(&pair.baseline, &["unleash-edge"])),
        ratio: median(&pair.slice_ratios),
        slice_ratios: pair.slice_ratios,
    })
}

async fn compare(
    options: &RunOptions,
    services: &Services,
    edge: &Edge,
) -> Result<(crate::run::Pair, [&'static str; 2])> {
    let edge_side = Side {
        label: "unleash-edge",
        target: edge.target,
        pids: vec![edge.pid],
    };
    let flipt_target = Target {
        rest: FLIPT_SHAPE,
        ..services.target()
    };
    check_answers(flipt_target).await?;
    let flipt_side = Side {
        label: "flipt (peer flag)",
        target: flipt_target,
        pids: services
            .processes()
            .iter()
            .map(|p| p.pid().unwrap_or_default())
            .collect::<Vec<_>>(),
    };
    let pair = alternate(Scenario::RestVariant, options, &edge_side, &flipt_side).await?;
    Ok((pair, ["flipt-evaluation", "flipt-cache"]))
}

/// The equivalent flag answers with a variant over Flipt's route.
async fn check_answers(target: Target) -> Result<()> {
    let mut connection = RestConnection::open(target.http).await?;
    let (status, body) = connection.post(FLIPT_SHAPE.path, flipt_body(1)).await?;
    let text = String::from_utf8_lossy(&body);
    if !status.is_success() || !text.contains("\"match\":true") {
        bail!("the peer flag does not match on Flipt: HTTP {status}: {text}");
    }
    Ok(())
}

/// A running Edge.
struct Edge {
    child: Child,
    pid: u32,
    target: Target,
}

/// Edge's version, as `cargo install` recorded it next to the binary
/// (`<root>/.crates.toml`; Edge has no `--version` flag).
fn edge_version(binary: &Path) -> String {
    binary
        .parent()
        .and_then(Path::parent)
        .and_then(|root| std::fs::read_to_string(root.join(".crates.toml")).ok())
        .and_then(|installed| {
            installed.lines().find_map(|line| {
                let mut words = line.trim_start_matches('"').split_whitespace();
                (words.next() == Some("unleash-edge")).then(|| words.next().map(str::to_owned))?
            })
        })
        .unwrap_or_else(|| "(version unknown)".to_owned())
}

/// Starts Edge offline on a free loopback port and waits until it answers
/// the frontend request with the flag.
async fn start_edge(binary: &Path, features: &Path) -> Result<Edge> {
    // Edge does not report a port it chose, so one is picked here.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(binary)
        .args(["--interface", "127.0.0.1", "--port", &port.to_string()])
        .arg("offline")
        .arg("--bootstrap-file")
        .arg(features)
        // Offline Edge accepts the tokens it is given: as a frontend token
        // for `/api/frontend` (and as a client token, as Edge's docs start it).
        .args([
            "--frontend-tokens",
            EDGE_TOKEN,
            "--client-tokens",
            EDGE_TOKEN,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let pid = child.id().context("unleash-edge exited at once")?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let target = Target {
        grpc: addr,
        http: addr,
        rest: EDGE_SHAPE,
    };
    let deadline = tokio::time::Instant::now() + START_WAIT;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("unleash-edge exited with {status}");
        }
        if let Ok(mut connection) = RestConnection::open(addr).await
            && let Ok((status, body)) = connection
                .post_with(EDGE_SHAPE.path, EDGE_SHAPE.authorization, edge_body(1))
                .await
        {
            let text = String::from_utf8_lossy(&body);
            if status.is_success() && text.contains("checkout-button") {
                progress(format_args!(
                    "unleash-edge answering on {addr} (RSS {} KiB)",
                    flipt_testkit::rss_kib(pid).unwrap_or(0)
                ));
                return Ok(Edge { child, pid, target });
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("unleash-edge answered HTTP {status}: {text}");
            }
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("unleash-edge did not answer on {addr} within {START_WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_bodies_name_the_same_entity_and_property() {
        let flipt = String::from_utf8(flipt_body(42)).expect("utf-8");
        let edge = String::from_utf8(edge_body(42)).expect("utf-8");
        let entity = entity_id(42);
        assert!(flipt.contains(&entity) && edge.contains(&entity));
        assert!(flipt.contains(r#""plan":"pro""#) && edge.contains(r#""plan":"pro""#));
        let features: serde_json::Value = serde_json::from_str(EDGE_FEATURES).expect("json");
        assert_eq!(features["features"][0]["name"], "checkout-button");
    }

    #[test]
    fn the_version_is_read_from_what_cargo_install_recorded() {
        let root = tempfile::tempdir().expect("tempdir");
        let binary = root.path().join("bin/unleash-edge");
        assert_eq!(edge_version(&binary), "(version unknown)");
        std::fs::write(
            root.path().join(".crates.toml"),
            "[v1]\n\"other 1.0.0 (registry)\" = [\"other\"]\n\"unleash-edge 20.1.0 (registry)\" = [\"unleash-edge\"]\n",
        )
        .expect("write");
        assert_eq!(edge_version(&binary), "20.1.0");
    }
}
