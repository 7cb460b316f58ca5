//! [`Listeners`]: the gRPC and HTTP sockets of one service, bound before
//! serving so tests can bind `127.0.0.1:0` and read the ports back instead
//! of probing for free ones.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::{Protocol, ServerConfig};
use crate::error::ServeError;
use crate::tls;

/// The two bound listeners of a service.
pub struct Listeners {
    grpc: TcpListener,
    http: TcpListener,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Listeners {
    /// Binds `server.host` on `server.grpc_port` and `server.http_port`,
    /// with TLS on both when `server.protocol` is `https`.
    pub async fn bind(config: &ServerConfig) -> Result<Self, ServeError> {
        // Read the certificate first: a bad file should stop the process
        // before it holds any port.
        let tls = match config.protocol {
            Protocol::Https => Some(tls::acceptor(config)?),
            Protocol::Http => None,
        };
        let grpc = bind("gRPC", &config.host, config.grpc_port).await?;
        let http = bind("HTTP", &config.host, config.http_port).await?;
        let mut listeners = Self::from_listeners(grpc, http)?;
        listeners.tls = tls;
        Ok(listeners)
    }

    /// Serves TLS on both listeners with the certificate and key of
    /// `config` (`server.cert_file`, `server.cert_key`), whatever
    /// `server.protocol` says; for tests that bind with [`Listeners::ephemeral`].
    pub fn with_tls(mut self, config: &ServerConfig) -> Result<Self, ServeError> {
        self.tls = Some(tls::acceptor(config)?);
        Ok(self)
    }

    /// True when the listeners serve TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Binds both on `127.0.0.1` with OS-chosen ports (for tests).
    pub async fn ephemeral() -> Result<Self, ServeError> {
        let grpc = bind("gRPC", "127.0.0.1", 0).await?;
        let http = bind("HTTP", "127.0.0.1", 0).await?;
        Self::from_listeners(grpc, http)
    }

    /// Wraps listeners bound elsewhere.
    pub fn from_listeners(grpc: TcpListener, http: TcpListener) -> Result<Self, ServeError> {
        let grpc_addr = grpc.local_addr()?;
        let http_addr = http.local_addr()?;
        Ok(Self {
            grpc,
            http,
            grpc_addr,
            http_addr,
            tls: None,
        })
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The gRPC and HTTP listeners, and the TLS acceptor when serving TLS.
    pub(crate) fn into_parts(self) -> (TcpListener, TcpListener, Option<TlsAcceptor>) {
        (self.grpc, self.http, self.tls)
    }
}

async fn bind(listener: &'static str, host: &str, port: u16) -> Result<TcpListener, ServeError> {
    TcpListener::bind((host, port))
        .await
        .map_err(|source| ServeError::Bind {
            listener,
            address: format!("{host}:{port}"),
            source,
        })
}
