//! Child processes under test: the release service binaries and the echo
//! servers. Each announces its bound addresses in one JSON line with
//! `"message":"serving"` (the services log it through `flipt-server` with
//! `log.encoding: json`; the echo servers print it), so every process binds
//! port 0 and the parent reads the ports back: no port probing, no races.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    process::Stdio,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use anyhow::{Context as _, Result, anyhow, bail};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncRead, BufReader},
    process::{Child, Command},
    sync::mpsc,
};

use crate::rest::health_status;

/// Upper bound of a child's start-up (bound addresses announced, then
/// `/health` SERVING).
pub const START_WAIT: Duration = Duration::from_secs(20);

/// Upper bound of a graceful stop after SIGTERM (the services drain and
/// flush spans) before the child is killed.
pub const STOP_WAIT: Duration = Duration::from_secs(20);

/// Output lines kept for error messages.
const TAIL_LINES: usize = 30;

/// A running child process with its announced addresses.
pub struct Process {
    name: String,
    child: Child,
    pid: u32,
    /// Bound gRPC address.
    pub grpc: SocketAddr,
    /// Bound HTTP address.
    pub http: SocketAddr,
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl Process {
    /// Spawns `command` and waits (bounded) for its `serving` line. The
    /// child is killed if this process exits without stopping it.
    pub async fn spawn(name: &str, mut command: Command) -> Result<Self> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let pid = child.id().ok_or_else(|| anyhow!("{name} exited at once"))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let (found_tx, mut found_rx) = mpsc::channel(1);
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(read_lines(stdout, Arc::clone(&tail), found_tx.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(read_lines(stderr, Arc::clone(&tail), found_tx));
        }

        let mut process = Self {
            name: name.to_owned(),
            child,
            pid,
            grpc: SocketAddr::from(([0, 0, 0, 0], 0)),
            http: SocketAddr::from(([0, 0, 0, 0], 0)),
            tail,
        };
        let found = tokio::select! {
            found = found_rx.recv() => found,
            status = process.child.wait() => {
                let status = status?;
                bail!("{name} exited ({status}) before serving:\n{}", process.tail());
            }
            () = tokio::time::sleep(START_WAIT) => None,
        };
        let Some((grpc, http)) = found else {
            bail!(
                "{name} did not announce its addresses within {START_WAIT:?}:\n{}",
                process.tail()
            );
        };
        process.grpc = grpc;
        process.http = http;
        Ok(process)
    }

    /// Waits (bounded) until `GET /health` on the HTTP port answers 200.
    pub async fn wait_healthy(&self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + START_WAIT;
        loop {
            if health_status(self.http).await == Some(http::StatusCode::OK) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "{} not SERVING on {} within {START_WAIT:?}:\n{}",
                    self.name,
                    self.http,
                    self.tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Resident set size now, in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        rss_kib(self.pid)
    }

    /// The last lines the child wrote, for error messages.
    pub fn tail(&self) -> String {
        let tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// SIGTERM, then waits (bounded) for the exit; kills on timeout.
    /// Returns an error when the child did not exit cleanly.
    pub async fn stop(mut self) -> Result<()> {
        let pid = rustix::process::Pid::from_raw(self.pid as i32)
            .ok_or_else(|| anyhow!("{} has no valid pid", self.name))?;
        if rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_err() {
            // Already gone; reap it below.
        }
        match tokio::time::timeout(STOP_WAIT, self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if !status.success() {
                    bail!("{} exited with {status}:\n{}", self.name, self.tail());
                }
                Ok(())
            }
            Err(_) => {
                self.child.kill().await?;
                bail!("{} did not stop within {STOP_WAIT:?}", self.name)
            }
        }
    }
}

async fn read_lines(
    stream: impl AsyncRead + Unpin,
    tail: Arc<Mutex<VecDeque<String>>>,
    found: mpsc::Sender<(SocketAddr, SocketAddr)>,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(addresses) = serving_line_addresses(&line) {
            let _ = found.try_send(addresses);
        }
        let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

/// The gRPC and HTTP addresses of a `serving` line: the services' JSON log
/// line (`{"message":"serving","grpc":"…","http":"…",…}`) or the echo
/// servers' line of the same shape.
pub fn serving_line_addresses(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let value: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    if value.get("message")?.as_str()? != "serving" {
        return None;
    }
    let grpc = value.get("grpc")?.as_str()?.parse().ok()?;
    let http = value.get("http")?.as_str()?.parse().ok()?;
    Some((grpc, http))
}

/// `VmRSS` of a process, in KiB, from `/proc/<pid>/status`.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_vm_rss(&status).ok_or_else(|| anyhow!("no VmRSS in {path}"))
}

/// CPU time (user + system) a process has used so far, in seconds, from
/// `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let ticks = parse_cpu_ticks(&stat).ok_or_else(|| anyhow!("unexpected {path}"))?;
    Ok(ticks as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// `utime + stime` (fields 14 and 15); the command name (field 2) may hold
/// spaces and parentheses, so fields are counted after its last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_addresses_in_the_services_json_log_line() {
        let line = r#"{"timestamp":"2025-01-01T00:00:00Z","level":"INFO","grpc":"127.0.0.1:40001","http":"127.0.0.1:40002","message":"serving","target":"flipt_server::serve"}"#;
        assert_eq!(
            serving_line_addresses(line),
            Some((
                "127.0.0.1:40001".parse().unwrap(),
                "127.0.0.1:40002".parse().unwrap()
            ))
        );
    }

    #[test]
    fn ignores_other_lines() {
        assert_eq!(serving_line_addresses("serving grpc=1 http=2"), None);
        assert_eq!(
            serving_line_addresses(r#"{"message":"flags loaded","grpc":"127.0.0.1:1"}"#),
            None
        );
        assert_eq!(
            serving_line_addresses(r#"{"message":"serving","grpc":"nope","http":"x"}"#),
            None
        );
    }

    #[test]
    fn reads_vm_rss() {
        let status =
            "Name:\tflipt-cache\nVmPeak:\t  100 kB\nVmRSS:\t    12345 kB\nRssAnon:\t 1 kB\n";
        assert_eq!(parse_vm_rss(status), Some(12345));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn reads_cpu_ticks_after_the_command_name() {
        let stat = "4242 (tokio rt) (x)) S 1 4242 4242 0 -1 4194560 500 0 0 0 1234 56 0 0 20 0 3 0";
        assert_eq!(parse_cpu_ticks(stat), Some(1290));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1"), None);
    }

    #[test]
    fn reads_own_cpu_time() {
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(50) {}
        assert!(cpu_seconds(std::process::id()).unwrap() > 0.0);
    }

    #[test]
    fn reads_own_rss() {
        assert!(rss_kib(std::process::id()).unwrap() > 0);
    }
}
