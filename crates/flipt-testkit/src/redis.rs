//! A Redis for tests: a `redis-server` started on a free port when the
//! binary exists (no persistence, killed on drop), else the one at
//! `FLIPT_TEST_REDIS_URL` (`redis://host:port[/db]`). Each test gets its
//! own key prefix, so tests sharing a Redis never see each other's keys.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::WAIT;

/// Env var naming an external Redis when `redis-server` is not installed.
pub const REDIS_URL_VAR: &str = "FLIPT_TEST_REDIS_URL";

/// A Redis reachable from tests.
pub struct TestRedis {
    host: String,
    port: u16,
    db: u32,
    prefix: String,
    /// Whether we started the server (and may kill and restart it).
    owned: bool,
    /// The running server we started.
    child: Option<Child>,
}

impl TestRedis {
    /// Starts `redis-server` on a free port, or uses `FLIPT_TEST_REDIS_URL`.
    ///
    /// # Errors
    /// Neither is available (one line saying what to install), or the
    /// server did not answer PING in time.
    pub async fn start() -> Result<Self> {
        let prefix = format!("flipt-test-{}", unique());
        if has_redis_server() {
            let port = free_port()?;
            let mut redis = Self {
                host: "127.0.0.1".to_owned(),
                port,
                db: 0,
                prefix,
                owned: true,
                child: None,
            };
            redis.spawn()?;
            redis.wait_ready().await?;
            return Ok(redis);
        }
        let Ok(url) = std::env::var(REDIS_URL_VAR) else {
            bail!(
                "redis tests need redis-server (apt-get install redis-server, or make tools) or {REDIS_URL_VAR}=redis://host:port"
            );
        };
        let (host, port, db) = parse_url(&url)?;
        let redis = Self {
            host,
            port,
            db,
            prefix,
            owned: false,
            child: None,
        };
        redis.wait_ready().await?;
        Ok(redis)
    }

    /// Host to connect to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Port to connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// This test's key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The cache service's `cache.*` YAML for this Redis.
    pub fn cache_yaml(&self) -> String {
        format!(
            "cache:\n  backend: redis\n  redis:\n    host: \"{}\"\n    port: {}\n    db: {}\n    prefix: \"{}\"\n",
            self.host, self.port, self.db, self.prefix
        )
    }

    /// The same settings as `FLIPT_*` variables, for service processes.
    pub fn cache_env(&self) -> Vec<(String, String)> {
        vec![
            ("FLIPT_CACHE_BACKEND".into(), "redis".into()),
            ("FLIPT_CACHE_REDIS_HOST".into(), self.host.clone()),
            ("FLIPT_CACHE_REDIS_PORT".into(), self.port.to_string()),
            ("FLIPT_CACHE_REDIS_DB".into(), self.db.to_string()),
            ("FLIPT_CACHE_REDIS_PREFIX".into(), self.prefix.clone()),
        ]
    }

    /// True when this Redis is a process the test owns (and may kill).
    pub fn is_owned(&self) -> bool {
        self.owned
    }

    /// Kills the server (SIGKILL, as a crash would).
    ///
    /// # Errors
    /// The server is external (`FLIPT_TEST_REDIS_URL`), so it cannot be killed.
    pub fn kill(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            bail!("cannot kill the external Redis at {REDIS_URL_VAR}; install redis-server");
        };
        child.kill().context("killing redis-server")?;
        child.wait().context("reaping redis-server")?;
        Ok(())
    }

    /// Starts the server again on the same port (empty: no persistence).
    pub async fn restart(&mut self) -> Result<()> {
        if !self.owned || self.child.is_some() {
            bail!("only a stopped redis-server this test started can be restarted");
        }
        self.spawn()?;
        self.wait_ready().await
    }

    /// Number of keys under this test's prefix.
    pub async fn key_count(&self) -> Result<usize> {
        let reply = self
            .command(&["KEYS", &format!("{}:*", self.prefix)])
            .await?;
        // An array reply starts with `*<count>`.
        let count = reply
            .strip_prefix('*')
            .and_then(|rest| rest.split("\r\n").next())
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("unexpected KEYS reply {reply:?}"))?;
        Ok(count)
    }

    fn spawn(&mut self) -> Result<()> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server")?;
        self.child = Some(child);
        Ok(())
    }

    async fn wait_ready(&self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(reply) = self.command(&["PING"]).await
                && reply.starts_with("+PONG")
            {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "redis at {}:{} did not answer PING within {WAIT:?}",
                    self.host,
                    self.port
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends one command in RESP and returns the raw reply.
    async fn command(&self, args: &[&str]) -> Result<String> {
        let mut stream = tokio::time::timeout(
            WAIT,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .context("connecting to redis timed out")??;
        let mut request = String::new();
        for command in [&["SELECT", &self.db.to_string()][..], args] {
            request.push_str(&format!("*{}\r\n", command.len()));
            for arg in command {
                request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
            }
        }
        stream.write_all(request.as_bytes()).await?;
        let mut reply = Vec::new();
        let mut buf = [0_u8; 4096];
        // The SELECT reply (`+OK\r\n`) comes first; read until the second
        // reply has arrived (a short reply or one whose head is complete).
        loop {
            let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
                .await
                .context("redis reply timed out")??;
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&reply);
            if let Some(rest) = text.strip_prefix("+OK\r\n")
                && complete(rest)
            {
                return Ok(rest.to_owned());
            }
        }
        bail!(
            "redis closed the connection: {}",
            String::from_utf8_lossy(&reply)
        )
    }
}

/// Whether a RESP reply is complete enough to read: simple replies end at
/// their first CRLF; for arrays the count in the head is all we need.
fn complete(reply: &str) -> bool {
    reply.contains("\r\n")
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn has_redis_server() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A port that was free a moment ago (the OS hands out ports in sequence,
/// so a just-released one is not reused at once).
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn parse_url(url: &str) -> Result<(String, u16, u32)> {
    let rest = url.strip_prefix("redis://").with_context(|| {
        format!("{REDIS_URL_VAR} must look like redis://host:port[/db], got {url:?}")
    })?;
    let (address, db) = rest.split_once('/').unwrap_or((rest, "0"));
    let (host, port) = address.rsplit_once(':').unwrap_or((address, "6379"));
    let port = port
        .parse()
        .with_context(|| format!("bad port in {REDIS_URL_VAR}={url:?}"))?;
    let db = if db.is_empty() {
        0
    } else {
        db.parse()
            .with_context(|| format!("bad db in {REDIS_URL_VAR}={url:?}"))?
    };
    Ok((host.to_owned(), port, db))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_host_port_and_db() {
        assert_eq!(
            parse_url("redis://10.0.0.1:6380/2").expect("url"),
            ("10.0.0.1".to_owned(), 6380, 2)
        );
        assert_eq!(
            parse_url("redis://localhost").expect("url"),
            ("localhost".to_owned(), 6379, 0)
        );
        assert!(parse_url("http://x").is_err());
    }
}
