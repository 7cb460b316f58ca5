//! Service binaries as child processes, for tests whose behaviour crosses a
//! process boundary (a crash, SIGTERM, a restart on the same port), and for
//! the benchmark's release binaries and echo servers.
//!
//! The binaries are found next to the running executable
//! (`target/debug/flipt-cache` for a test; the benchmark names its own).
//! Each runs with JSON logs and binds the ports it is given (0: any); its
//! `serving` log line (`{"message":"serving","grpc":…,"http":…}`) tells the
//! bound addresses, so no port is guessed.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    path::{Path, PathBuf},
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

use crate::{WAIT, wait_serving};

/// Output lines kept for failure messages.
const TAIL: usize = 40;

/// Upper bound of a start: the `serving` line, then `/health` SERVING.
const START_WAIT: Duration = Duration::from_secs(20);

/// A running service binary.
pub struct ServiceProcess {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    /// Wait for `/health` SERVING after the `serving` line.
    health: bool,
    env: Vec<(String, String)>,
    child: Option<Child>,
    /// Bound gRPC address.
    pub grpc_addr: SocketAddr,
    /// Bound HTTP address.
    pub http_addr: SocketAddr,
    tail: Arc<Mutex<VecDeque<String>>>,
    /// Every line the process wrote, for tests that search the whole log.
    log: Arc<Mutex<Vec<String>>>,
    /// Tasks reading the child's stdout and stderr into `tail`.
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl ServiceProcess {
    /// Starts binary `name` with `env` (on top of loopback, ephemeral ports
    /// and JSON logs) and waits (bounded) for its addresses.
    pub async fn start(name: &str, env: Vec<(String, String)>) -> Result<Self> {
        Self::start_with_args(name, Vec::new(), env).await
    }

    /// [`ServiceProcess::start`] with command-line arguments (`--config FILE`).
    /// With `FLIPT_SERVER_PROTOCOL=https` in `env` it returns once the
    /// process reports its addresses; the caller waits for readiness with a
    /// client that trusts the certificate.
    pub async fn start_with_args(
        name: &str,
        args: Vec<String>,
        env: Vec<(String, String)>,
    ) -> Result<Self> {
        let https = env
            .iter()
            .any(|(k, v)| k == "FLIPT_SERVER_PROTOCOL" && v == "https");
        Self::launch_program(name, binary_path(name)?, args, env, !https).await
    }

    /// Starts `program` (any path) under `name` as [`ServiceProcess::start`]
    /// does; with `health` false it returns once the `serving` line names
    /// the addresses (for servers without `/health`, or behind TLS).
    pub async fn start_program(
        name: &str,
        program: &Path,
        args: Vec<String>,
        env: Vec<(String, String)>,
        health: bool,
    ) -> Result<Self> {
        Self::launch_program(name, program.to_path_buf(), args, env, health).await
    }

    async fn launch_program(
        name: &str,
        program: PathBuf,
        args: Vec<String>,
        env: Vec<(String, String)>,
        health: bool,
    ) -> Result<Self> {
        let mut process = Self {
            name: name.to_owned(),
            program,
            args,
            health,
            env,
            child: None,
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tail: Arc::new(Mutex::new(VecDeque::new())),
            log: Arc::new(Mutex::new(Vec::new())),
            readers: Vec::new(),
        };
        process.launch().await?;
        Ok(process)
    }

    /// `http://<grpc addr>`.
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// `http://<http addr>`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// Process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// The name it was started under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Resident set size now (`VmRSS` from `/proc/<pid>/status`), in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        let pid = self
            .pid()
            .ok_or_else(|| anyhow!("{} is not running", self.name))?;
        rss_kib(pid)
    }

    /// The last lines the process wrote.
    pub fn tail(&self) -> String {
        let tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Every line the process wrote so far (all runs), stdout and stderr.
    pub fn log(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The fields of the last JSON log line whose message is `message`
    /// (among the last lines kept).
    pub fn last_event(&self, message: &str) -> Option<serde_json::Value> {
        let tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        tail.iter().rev().find_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
            (value.get("message")?.as_str()? == message).then_some(value)
        })
    }

    /// Sends `signal` (e.g. SIGTERM) without waiting.
    pub fn signal(&self, signal: rustix::process::Signal) -> Result<()> {
        let pid = self
            .pid()
            .and_then(|pid| rustix::process::Pid::from_raw(pid as i32))
            .ok_or_else(|| anyhow!("{} is not running", self.name))?;
        rustix::process::kill_process(pid, signal)
            .with_context(|| format!("signalling {}", self.name))
    }

    /// SIGTERM, then waits (bounded) for a clean exit.
    pub async fn terminate(&mut self) -> Result<()> {
        self.signal(rustix::process::Signal::TERM)?;
        let status = self.wait_exit(WAIT * 3).await?;
        if !status.success() {
            bail!("{} exited with {status}:\n{}", self.name, self.tail());
        }
        Ok(())
    }

    /// SIGKILL (a crash), then reaps the process.
    pub async fn kill(&mut self) -> Result<()> {
        if let Some(child) = &mut self.child {
            child.kill().await.context("killing")?;
        }
        self.child = None;
        Ok(())
    }

    /// Starts the binary again on the addresses it had.
    pub async fn restart(&mut self) -> Result<()> {
        if self.child.is_some() {
            bail!("{} is still running", self.name);
        }
        self.launch().await
    }

    /// Waits for the process to exit on its own.
    pub async fn wait_exit(&mut self, limit: Duration) -> Result<std::process::ExitStatus> {
        let child = self
            .child
            .as_mut()
            .ok_or_else(|| anyhow!("{} is not running", self.name))?;
        let status = tokio::time::timeout(limit, child.wait())
            .await
            .with_context(|| format!("{} did not exit within {limit:?}", self.name))??;
        self.child = None;
        // The pipes are closed now; once the readers reach their end, every
        // line the process wrote is in the tail.
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(limit, reader).await;
        }
        Ok(status)
    }

    async fn launch(&mut self) -> Result<()> {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("FLIPT_SERVER_HOST", "127.0.0.1")
            .env("FLIPT_SERVER_GRPC_PORT", self.grpc_addr.port().to_string())
            .env("FLIPT_SERVER_HTTP_PORT", self.http_addr.port().to_string())
            .env("FLIPT_LOG_ENCODING", "json")
            .env("FLIPT_META_TELEMETRY_ENABLED", "false")
            .env("FLIPT_SERVICES_TELEMETRY_ADDRESS", "")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", self.program.display()))?;
        let (found_tx, mut found_rx) = mpsc::channel(1);
        self.readers.clear();
        if let Some(stdout) = child.stdout.take() {
            self.readers.push(tokio::spawn(read_lines(
                stdout,
                Output {
                    tail: Arc::clone(&self.tail),
                    log: Arc::clone(&self.log),
                },
                found_tx.clone(),
            )));
        }
        if let Some(stderr) = child.stderr.take() {
            self.readers.push(tokio::spawn(read_lines(
                stderr,
                Output {
                    tail: Arc::clone(&self.tail),
                    log: Arc::clone(&self.log),
                },
                found_tx,
            )));
        }
        let found = tokio::select! {
            found = found_rx.recv() => found,
            status = child.wait() => {
                bail!("{} exited ({}) before serving:\n{}", self.name, status?, self.tail());
            }
            () = tokio::time::sleep(START_WAIT) => None,
        };
        let Some((grpc, http)) = found else {
            bail!(
                "{} did not report its addresses within {START_WAIT:?}:\n{}",
                self.name,
                self.tail()
            );
        };
        self.child = Some(child);
        self.grpc_addr = grpc;
        self.http_addr = http;
        if !self.health {
            return Ok(());
        }
        wait_serving(http, START_WAIT)
            .await
            .with_context(|| format!("{}:\n{}", self.name, self.tail()))
    }
}

/// `target/<profile>/<name>`: next to the running executable (a binary of
/// this crate) or one level up (a test binary in `target/<profile>/deps`).
pub fn binary_path(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent();
    while let Some(candidate) = dir {
        let path = candidate.join(name);
        if path.is_file() {
            return Ok(path);
        }
        if candidate.file_name().is_some_and(|n| n == "deps") {
            dir = candidate.parent();
        } else {
            break;
        }
    }
    bail!(
        "{name} not found next to {}: build the services first (cargo build -p {name}; make test does)",
        exe.display()
    )
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

/// Where a reader puts the lines it reads.
struct Output {
    tail: Arc<Mutex<VecDeque<String>>>,
    log: Arc<Mutex<Vec<String>>>,
}

async fn read_lines(
    stream: impl AsyncRead + Unpin,
    output: Output,
    found: mpsc::Sender<(SocketAddr, SocketAddr)>,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(addresses) = serving_addresses(&line) {
            let _ = found.try_send(addresses);
        }
        output
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line.clone());
        let mut tail = output.tail.lock().unwrap_or_else(PoisonError::into_inner);
        if tail.len() == TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }
}

/// The addresses in a JSON `serving` log line.
fn serving_addresses(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let value: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    if value.get("message")?.as_str()? != "serving" {
        return None;
    }
    let grpc = value.get("grpc")?.as_str()?.parse().ok()?;
    let http = value.get("http")?.as_str()?.parse().ok()?;
    Some((grpc, http))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_lines_give_both_addresses() {
        let line = r#"{"timestamp":"t","level":"INFO","message":"serving","grpc":"127.0.0.1:1","http":"127.0.0.1:2"}"#;
        assert_eq!(
            serving_addresses(line),
            Some((
                "127.0.0.1:1".parse().expect("addr"),
                "127.0.0.1:2".parse().expect("addr")
            ))
        );
        assert_eq!(serving_addresses(r#"{"message":"flags loaded"}"#), None);
        assert_eq!(
            serving_addresses(r#"{"message":"flags loaded","grpc":"127.0.0.1:1"}"#),
            None
        );
        assert_eq!(
            serving_addresses(r#"{"message":"serving","grpc":"nope","http":"x"}"#),
            None
        );
        assert_eq!(serving_addresses("serving grpc=1 http=2"), None);
        assert_eq!(serving_addresses("not json"), None);
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
    fn reads_own_cpu_time_and_rss() {
        // Spin until at least one clock tick of CPU time is counted (on a
        // busy machine 50 ms of wall time may be less), bounded.
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(50)
            || (cpu_seconds(std::process::id()).expect("cpu") == 0.0
                && spin.elapsed() < Duration::from_secs(5))
        {}
        assert!(cpu_seconds(std::process::id()).expect("cpu") > 0.0);
        assert!(rss_kib(std::process::id()).expect("rss") > 0);
    }
}
