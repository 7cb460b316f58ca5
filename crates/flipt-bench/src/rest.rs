//! HTTP/1.1 client side of the REST scenario: one keep-alive connection per
//! in-flight request, written directly on hyper so the load generator
//! controls exactly how many connections exist.

use std::net::SocketAddr;

use anyhow::{Context as _, Result};
use http::{HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::{body::Bytes, client::conn::http1};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Path of the REST variant endpoint.
pub const VARIANT_PATH: &str = "/evaluate/v1/variant";

/// Path of the `default` namespace's snapshot.
pub const SNAPSHOT_PATH: &str = "/internal/v1/evaluation/snapshot/namespace/default";

/// One keep-alive HTTP/1.1 connection.
pub struct RestConnection {
    sender: http1::SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

impl RestConnection {
    /// Connects to `addr` (TCP_NODELAY, as the services set on their side).
    pub async fn open(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        // The connection task ends when the sender is dropped or the peer
        // closes; its error then shows up on the next request.
        tokio::spawn(connection);
        Ok(Self {
            sender,
            host: HeaderValue::from_str(&addr.to_string())?,
        })
    }

    /// POSTs a JSON body and reads the whole response.
    pub async fn post(&mut self, path: &str, body: Vec<u8>) -> Result<(StatusCode, Bytes)> {
        self.post_with(path, None, body).await
    }

    /// [`RestConnection::post`] with an `Authorization` header.
    pub async fn post_with(
        &mut self,
        path: &str,
        authorization: Option<&str>,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Bytes)> {
        let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(authorization) = authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        self.send(request.body(Full::new(Bytes::from(body)))?).await
    }

    /// GETs `path` and reads the whole response.
    pub async fn get(&mut self, path: &str) -> Result<(StatusCode, Bytes)> {
        self.send(Request::get(path).body(Full::new(Bytes::new()))?)
            .await
    }

    async fn send(&mut self, mut request: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes)> {
        self.sender.ready().await?;
        request
            .headers_mut()
            .insert(header::HOST, self.host.clone());
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}

/// One POST on a fresh connection.
pub async fn post_once(addr: SocketAddr, path: &str, body: Vec<u8>) -> Result<(StatusCode, Bytes)> {
    RestConnection::open(addr).await?.post(path, body).await
}
