//! Flipt's own client libraries, unchanged, against our services: the PyPI
//! `flipt` and npm `@flipt-io/flipt` server SDKs and a `grpcio` client
//! generated from our proto ([`server_sdks`]), and the PyPI `flipt-client`
//! and npm `@flipt-io/flipt-client-js` client-side SDKs evaluating our
//! snapshots of the conformance data set ([`conformance`]); and the
//! OpenFeature SDKs with their OFREP providers ([`openfeature`],
//! [`openfeature_web`], [`openfeature_browser`], [`ofrep_conformance`]).
//!
//! The clients run as subprocesses: the scripts under `tests/clients/`, with
//! the project virtualenv's Python and the packages `make tools` installs
//! into `tests/clients/node_modules`. Each script prints one JSON line with
//! what its client returned; the tests compare that with our own gRPC
//! answers to the same requests.

mod conformance;
mod convert;
mod ofrep_conformance;
mod openfeature;
mod openfeature_browser;
mod openfeature_web;
mod server_sdks;
mod snapshot_endpoint;

use std::{path::PathBuf, process::Stdio, time::Duration};

use anyhow::{Context as _, Result, bail};
use flipt_testkit::repo_root;
use serde_json::Value;

/// A client script: which interpreter runs it.
#[derive(Debug, Clone, Copy)]
pub enum Runtime {
    /// `.venv/bin/python`.
    Python,
    /// `node`, resolving packages from `tests/clients/node_modules`.
    Node,
}

impl Runtime {
    /// The interpreter, or an error saying how to install it.
    fn program(self) -> Result<PathBuf> {
        let root = repo_root();
        match self {
            Self::Python => {
                let python = root.join(".venv/bin/python");
                if !python.exists() {
                    bail!("{} is missing: run `make tools`", python.display());
                }
                Ok(python)
            }
            Self::Node => {
                let modules = root.join("tests/clients/node_modules/@flipt-io");
                if !modules.exists() {
                    bail!("{} is missing: run `make tools`", modules.display());
                }
                Ok(PathBuf::from("node"))
            }
        }
    }
}

/// Runs `tests/clients/<script> <args>` bounded by `timeout` and returns the
/// JSON of the last line it printed. The script's stderr is printed (the
/// test harness shows it when the test fails).
pub async fn run_script(
    runtime: Runtime,
    script: &str,
    args: Vec<String>,
    timeout: Duration,
) -> Result<Value> {
    run_script_with_env(runtime, script, args, &[], timeout).await
}

/// [`run_script`] with extra environment variables (e.g. `SSL_CERT_FILE`).
pub async fn run_script_with_env(
    runtime: Runtime,
    script: &str,
    args: Vec<String>,
    env: &[(&str, &str)],
    timeout: Duration,
) -> Result<Value> {
    let program = runtime.program()?;
    let path = repo_root().join("tests/clients").join(script);
    let child = tokio::process::Command::new(&program)
        .arg(&path)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {} {}", program.display(), path.display()))?;
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .with_context(|| format!("{script} did not finish within {timeout:?}"))??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stderr.trim().is_empty() {
        eprintln!(
            "--- {script} stderr ---\n{}\n--- end of {script} stderr ---",
            stderr.trim_end()
        );
    }
    if !output.status.success() {
        bail!(
            "{script} failed ({}):\n{}",
            output.status,
            stderr.trim_end()
        );
    }
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("{script} printed no JSON line: {last:?}"))
}

/// Drops what differs between any two answers by design (request ids,
/// timestamps, durations) and sorts segment keys, whose order means nothing.
pub fn normalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| {
                !matches!(
                    k.as_str(),
                    "requestId" | "timestamp" | "requestDurationMillis"
                )
            });
            for (key, item) in map.iter_mut() {
                if key == "segmentKeys"
                    && let Value::Array(keys) = item
                {
                    keys.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                }
                normalize(item);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}
