//! Runs `docker-compose` (Debian ships Compose v1.29; `docker compose`
//! takes the same arguments) on the repository's own compose file, plus an
//! override file the test writes, under a project name of its own that
//! `down -v` removes again when the harness is dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// The repository root: the compose file's directory.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `tools/<script> args…` from the repository root; on failure the
/// error is the script's last line on stderr (what to do).
pub(crate) async fn tool(script: &str, args: &[&str], limit: Duration) -> Result<(), String> {
    let output = run(
        Command::new(root().join("tools").join(script))
            .args(args)
            .current_dir(root()),
        limit,
    )
    .await?;
    if output.ok {
        return Ok(());
    }
    let line = output.stderr.lines().last().unwrap_or("").to_owned();
    Err(format!("tools/{script} failed: {line}"))
}

/// What a finished command printed.
pub(crate) struct Output {
    pub(crate) ok: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `command` to completion, at most `limit`.
async fn run(command: &mut Command, limit: Duration) -> Result<Output, String> {
    let described = format!("{:?}", command.as_std());
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("{described}: {e}"))?;
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .map_err(|_| format!("{described} did not finish within {limit:?}"))?
        .map_err(|e| format!("{described}: {e}"))?;
    Ok(Output {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// `docker …` to completion; the error carries stderr.
pub(crate) async fn docker(args: &[&str], limit: Duration) -> Result<String, String> {
    let output = run(Command::new("docker").args(args), limit).await?;
    if output.ok {
        Ok(output.stdout)
    } else {
        Err(format!("docker {}: {}", args.join(" "), output.stderr))
    }
}

/// One compose project on the repository's compose file.
pub(crate) struct Compose {
    project: String,
    override_file: PathBuf,
    path: String,
}

impl Compose {
    /// A project named `project` on docker-compose.yml plus `override_file`.
    ///
    /// The Dockerfile's cache mounts need BuildKit, which Compose v1 uses
    /// through the `docker` CLI (`COMPOSE_DOCKER_CLI_BUILD`). A CLI without
    /// the buildx plugin cannot build with BuildKit; Debian's docker.io CLI
    /// (/usr/bin/docker) can, so it goes first on PATH then.
    pub(crate) async fn new(project: &str, override_file: PathBuf) -> Self {
        let mut path = std::env::var("PATH").unwrap_or_default();
        let buildx = run(
            Command::new("docker").args(["buildx", "version"]),
            Duration::from_secs(30),
        )
        .await
        .is_ok_and(|output| output.ok);
        if !buildx && Path::new("/usr/bin/docker").is_file() {
            path = format!("/usr/bin:{path}");
        }
        Self {
            project: project.to_owned(),
            override_file,
            path,
        }
    }

    /// `docker-compose <args>` with `env`, at most `limit`; stdout, or the
    /// command's stderr as the error.
    pub(crate) async fn run(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        limit: Duration,
    ) -> Result<String, String> {
        let mut command = Command::new("docker-compose");
        command
            .current_dir(root())
            .env("PATH", &self.path)
            .env("COMPOSE_DOCKER_CLI_BUILD", "1")
            .env("DOCKER_BUILDKIT", "1")
            .args(["-p", &self.project, "-f", "docker-compose.yml", "-f"])
            .arg(&self.override_file)
            .args(args)
            .envs(env.iter().copied());
        let output = run(&mut command, limit).await?;
        if output.ok {
            Ok(output.stdout)
        } else {
            Err(format!(
                "docker-compose {}:\n{}",
                args.join(" "),
                tail(&output.stderr, 40)
            ))
        }
    }

    /// The id of the one container of `service`.
    pub(crate) async fn container(&self, service: &str) -> String {
        let out = self
            .run(&["ps", "-q", service], &[], Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let id = out.trim().to_owned();
        assert!(!id.is_empty(), "{service} has no container");
        id
    }

    /// `docker inspect --format <format>` of the container of `service`.
    pub(crate) async fn inspect(&self, service: &str, format: &str) -> String {
        let id = self.container(service).await;
        docker(
            &["inspect", "--format", format, &id],
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .trim()
        .to_owned()
    }

    /// Waits until every service in `services` reports `healthy`, at most
    /// `limit`; on timeout panics with each one's state and its last logs.
    pub(crate) async fn wait_healthy(&self, services: &[&str], limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let mut waiting = Vec::new();
            for service in services {
                let state = self
                    .inspect(
                        service,
                        "{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}",
                    )
                    .await;
                if state != "running/healthy" {
                    waiting.push(format!("{service}: {state}"));
                }
            }
            if waiting.is_empty() {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                let logs = self
                    .run(&["logs", "--tail", "20"], &[], Duration::from_secs(60))
                    .await
                    .unwrap_or_else(|e| e);
                panic!("not healthy within {limit:?}: {waiting:?}\n{logs}");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Containers, volumes and networks of the project still present.
    pub(crate) async fn leftovers(&self) -> Vec<String> {
        let label = format!("label=com.docker.compose.project={}", self.project);
        let mut left = Vec::new();
        for kind in [["ps", "-aq"], ["volume", "ls"], ["network", "ls"]] {
            let mut args = kind.to_vec();
            if kind[0] != "ps" {
                args.push("-q");
            }
            args.extend(["--filter", &label]);
            let out = docker(&args, Duration::from_secs(30))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            left.extend(out.lines().map(|id| format!("{} {id}", kind[0])));
        }
        left
    }
}

impl Drop for Compose {
    /// `down -v`, whatever the test did before, and the project's image
    /// (BuildKit's cache keeps the next build short); the base and stand-in
    /// images stay.
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker-compose")
            .current_dir(root())
            .env("PATH", &self.path)
            .args(["-p", &self.project, "-f", "docker-compose.yml", "-f"])
            .arg(&self.override_file)
            .args(["down", "-v", "--remove-orphans", "--timeout", "10"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::process::Command::new("docker")
            .args(["image", "rm", "flipt-rs:local"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
