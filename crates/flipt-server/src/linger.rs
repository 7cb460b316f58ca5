//! Lingering close: when hyper shuts a connection down, its last bytes
//! still reach the client.
//!
//! Closing a TCP socket that holds unread bytes makes the kernel answer
//! with a reset instead of a FIN, and a reset discards what the socket had
//! not sent yet. During a graceful shutdown the client keeps writing until
//! it has read the server's GOAWAY (new streams it will retry, window
//! updates, pings), so the server's final close often finds unread bytes:
//! the last response of a call the server answered could be lost, and the
//! client would see a reset connection. Like nginx's `lingering_close`,
//! [`Linger`] sends the FIN first and then reads and drops what the client
//! still sends, until the client closes its side or [`LINGER`] passes; only
//! then is the socket closed.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Upper bound of the wait for the client's FIN after ours. The server's
/// shutdown grace period bounds the whole drain as well.
pub(crate) const LINGER: Duration = Duration::from_secs(1);

/// A listener whose connections close with [`Linger`].
#[derive(Debug)]
pub(crate) struct LingerListener<L>(pub(crate) L);

impl<L: Listener> Listener for LingerListener<L> {
    type Io = Linger<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.0.accept().await;
        (Linger::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A connection whose shutdown waits for the peer's FIN; see the module
/// docs.
#[derive(Debug)]
pub(crate) struct Linger<Io> {
    io: Io,
    closing: Closing,
}

#[derive(Debug)]
enum Closing {
    Open,
    /// Our FIN is sent; reading until the peer's or the deadline.
    Draining(Pin<Box<Sleep>>),
    Closed,
}

impl<Io> Linger<Io> {
    pub(crate) fn new(io: Io) -> Self {
        Self {
            io,
            closing: Closing::Open,
        }
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for Linger<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<Io: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Linger<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.closing {
                Closing::Open => {
                    ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
                    this.closing = Closing::Draining(Box::pin(tokio::time::sleep(LINGER)));
                }
                Closing::Draining(deadline) => {
                    if deadline.as_mut().poll(cx).is_ready() {
                        this.closing = Closing::Closed;
                        continue;
                    }
                    let mut scratch = [0u8; 4096];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match ready!(Pin::new(&mut this.io).poll_read(cx, &mut buf)) {
                        // More from the peer: dropped, keep reading.
                        Ok(()) if !buf.filled().is_empty() => {}
                        // Its FIN, or a reset: nothing is left to lose.
                        Ok(()) | Err(_) => this.closing = Closing::Closed,
                    }
                }
                Closing::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn shutdown_waits_for_the_peers_fin_and_drops_what_it_sends() {
        let (server, mut client) = tokio::io::duplex(64);
        let mut server = Linger::new(server);
        let peer = tokio::spawn(async move {
            client.write_all(b"late frames").await.expect("write");
            let mut seen = Vec::new();
            client.read_to_end(&mut seen).await.expect("read");
            // Our side closes only after it has read the server's FIN.
            drop(client);
            seen
        });
        server.write_all(b"last answer").await.expect("write");
        tokio::time::timeout(LINGER / 2, server.shutdown())
            .await
            .expect("shutdown ends at the peer's FIN, before the linger bound")
            .expect("shutdown");
        assert_eq!(peer.await.expect("peer"), b"last answer");
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_never_closes_is_given_up_on_after_the_bound() {
        let (server, _client) = tokio::io::duplex(64);
        let mut server = Linger::new(server);
        let started = tokio::time::Instant::now();
        server.shutdown().await.expect("shutdown");
        let waited = started.elapsed();
        assert!(waited >= LINGER && waited < LINGER * 2, "{waited:?}");
    }
}
