//! Bounded waits: every loop in a test ends within [`WAIT`] (or a limit
//! the caller names).

use std::{net::SocketAddr, time::Duration};

use anyhow::Result;

/// Upper bound of every wait in the kit.
pub const WAIT: Duration = Duration::from_secs(10);

/// Polls `check` every 50 ms until it holds; panics naming `what` after
/// [`WAIT`]. For tests.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    wait_for(what, WAIT, || {
        let check = check();
        async move { check.await.then_some(()) }
    })
    .await;
}

/// Polls `poll` every 50 ms until it gives a value, and returns it; panics
/// naming `what` after `limit`. For tests that wait on something slower
/// than [`WAIT`] or need what they waited for.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut poll: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = poll().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (bounded by `limit`) until `GET /health` answers 200.
pub async fn wait_serving(http_addr: SocketAddr, limit: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if health_status(http_addr).await == Some(200) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("service at {http_addr} not SERVING within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Status code of `GET /health`, or `None` when nothing answers. Written
/// against a raw socket so it needs no HTTP client and no TLS setup.
pub async fn health_status(http_addr: SocketAddr) -> Option<u16> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::time::timeout(WAIT, tokio::net::TcpStream::connect(http_addr))
        .await
        .ok()?
        .ok()?;
    let request = format!("GET /health HTTP/1.1\r\nHost: {http_addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace().nth(1)?.parse().ok()
}
