//! [`Listeners`]: the gRPC and HTTP sockets of one service, bound before
//! serving so tests can bind `127.0.0.1:0` and read the ports back instead
//! of probing for free ones.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::config::ServerConfig;
use crate::error::ServeError;

/// The two bound listeners of a service.
#[derive(Debug)]
pub struct Listeners {
    grpc: TcpListener,
    http: TcpListener,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
}

impl Listeners {
    /// Binds `server.host` on `server.grpc_port` and `server.http_port`.
    pub async fn bind(config: &ServerConfig) -> Result<Self, ServeError> {
        let grpc = bind("gRPC", &config.host, config.grpc_port).await?;
        let http = bind("HTTP", &config.host, config.http_port).await?;
        Self::from_listeners(grpc, http)
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

    /// The gRPC and HTTP listeners.
    pub fn into_inner(self) -> (TcpListener, TcpListener) {
        (self.grpc, self.http)
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
