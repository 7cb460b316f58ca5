//! TLS on a service's listeners (`server.protocol: https`): the certificate
//! and key are read once at bind time into a rustls acceptor; each listener
//! then hands axum only connections whose handshake completed.
//!
//! Handshakes run in their own tasks, so one slow or silent client cannot
//! hold up the accept loop. ALPN offers `h2` (gRPC clients such as grpcio
//! insist on it) and `http/1.1`.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::ServerConfig;
use crate::error::ServeError;

/// How long a client may take to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Completed handshakes waiting for axum to accept them.
const BACKLOG: usize = 64;

/// A TLS acceptor built from `server.cert_file` and `server.cert_key`.
///
/// # Errors
/// A file cannot be read, holds no certificate or key, or the two do not
/// make a usable server configuration; the error names the key.
pub(crate) fn acceptor(config: &ServerConfig) -> Result<TlsAcceptor, ServeError> {
    let certs = read_certs(&config.cert_file)?;
    let key = read_key(config.key_path_key(), config.key_path())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|err| tls_error(config.key_path_key(), config.key_path(), err.to_string()))?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(tls)))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServeError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|err| tls_error("server.cert_file", path, err.to_string()))?
        .collect();
    let certs = certs.map_err(|err| tls_error("server.cert_file", path, err.to_string()))?;
    if certs.is_empty() {
        return Err(tls_error(
            "server.cert_file",
            path,
            "no PEM certificate in the file".to_owned(),
        ));
    }
    Ok(certs)
}

fn read_key(key: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, ServeError> {
    PrivateKeyDer::from_pem_file(path).map_err(|err| tls_error(key, path, err.to_string()))
}

fn tls_error(key: &'static str, path: &Path, detail: String) -> ServeError {
    ServeError::Tls {
        key,
        path: path.display().to_string(),
        detail,
    }
}

/// A TCP listener whose connections come out TLS-terminated.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
    accept_loop: JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `listener` (must be called within a runtime).
    pub(crate) fn new(listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (sender, ready) = mpsc::channel(BACKLOG);
        let accept_loop = tokio::spawn(accept_loop(listener, acceptor, sender));
        Ok(Self {
            ready,
            local_addr,
            accept_loop,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // Serving stopped: stop taking connections too.
        self.accept_loop.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off, as axum
                // does for plain TCP.
                tracing::debug!(%error, "accepting a TCP connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let handoff = ready.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = handoff.send((tls, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%error, %peer, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
        if ready.is_closed() {
            return;
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept loop never ends while the receiver lives; should it,
            // there is nothing more to accept.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
