//! A Segment-compatible endpoint for the telemetry reporter's pings: it
//! accepts every batch with `200 {}` and counts them, or (hanging) accepts
//! connections and never answers, as a stuck endpoint would.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use anyhow::Result;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
};

use crate::WAIT;

/// A Segment endpoint on a free loopback port, served until dropped.
pub struct SegmentSink {
    url: String,
    accepted: Arc<AtomicUsize>,
    received: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl SegmentSink {
    /// An endpoint that answers every batch.
    pub async fn start() -> Result<Self> {
        Self::serve(true).await
    }

    /// An endpoint that accepts connections and never reads or answers.
    pub async fn hanging() -> Result<Self> {
        Self::serve(false).await
    }

    /// `http://127.0.0.1:<port>`, for `telemetry.segment.endpoint`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Whole requests received (and answered) so far.
    pub fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }

    async fn serve(answer: bool) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let accepted = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(AtomicUsize::new(0));
        let (accepted_count, received_count) = (accepted.clone(), received.clone());
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                accepted_count.fetch_add(1, Ordering::SeqCst);
                if !answer {
                    // Held open, never read or answered.
                    held.push(stream);
                    continue;
                }
                let count = received_count.clone();
                tokio::spawn(async move {
                    if read_request(&mut stream).await {
                        count.fetch_add(1, Ordering::SeqCst);
                        let _ = stream
                            .write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                  content-length: 2\r\nconnection: close\r\n\r\n{}",
                            )
                            .await;
                    }
                });
            }
        });
        Ok(Self {
            url,
            accepted,
            received,
            task,
        })
    }
}

impl Drop for SegmentSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one HTTP/1.1 request (headers, then `content-length` bytes).
async fn read_request(stream: &mut TcpStream) -> bool {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(Ok(n)) = tokio::time::timeout(WAIT, stream.read(&mut chunk)).await else {
            return false;
        };
        if n == 0 {
            return false;
        }
        buffer.extend_from_slice(&chunk[..n]);
        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let headers = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
        let length: usize = headers
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        if buffer.len() >= end + 4 + length {
            return true;
        }
    }
}
