//! A Segment-compatible endpoint for the telemetry reporter's pings. It
//! records every request and answers from a script, then with a default
//! answer: a status code (`200 {}` for [`SegmentSink::start`]) or a hang,
//! as a stuck endpoint would. [`SegmentSink::hanging`] accepts connections
//! and never reads them, which also stands in for a gRPC peer that never
//! answers.
//!
//! Each connection is served by hyper's HTTP/1.1 server, and every answer
//! says `connection: close`, so each retry of a client arrives on a
//! connection of its own. Dropping the sink closes every connection,
//! hanging ones included.

use std::{
    collections::VecDeque,
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use anyhow::{Result, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::{
    Request, Response, StatusCode,
    body::{Bytes, Incoming},
    header,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::Notify,
    task::JoinSet,
};

use crate::WAIT;

/// How the sink answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// This HTTP status, with the body `{}`.
    Status(u16),
    /// Read the request, record it, never answer.
    Hang,
}

/// One request the sink received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `POST`, `GET`, ...
    pub method: String,
    /// Request path, without the query.
    pub path: String,
    /// Header names (lowercase) and values, as received.
    pub headers: Vec<(String, String)>,
    /// The body, `content-length` bytes.
    pub body: Vec<u8>,
}

impl Received {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON; panics (a test failure) when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("sink body is JSON")
    }
}

#[derive(Default)]
struct State {
    accepted: AtomicUsize,
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Answer>>,
    arrived: Notify,
}

impl State {
    /// The scripted answer for the next request, else `default`.
    fn answer(&self, default: Answer) -> Answer {
        let scripted = self.script.lock().expect("sink lock").pop_front();
        scripted.unwrap_or(default)
    }

    fn record(&self, request: Received) {
        self.received.lock().expect("sink lock").push(request);
        self.arrived.notify_waiters();
    }
}

/// A Segment endpoint on a free loopback port, served until dropped.
pub struct SegmentSink {
    addr: SocketAddr,
    url: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl SegmentSink {
    /// An endpoint that answers every batch with `200 {}`.
    pub async fn start() -> Result<Self> {
        Self::answering(Answer::Status(200)).await
    }

    /// An endpoint that answers with `default` once the script (see
    /// [`SegmentSink::script`]) is used up.
    pub async fn answering(default: Answer) -> Result<Self> {
        Self::serve(Some(default)).await
    }

    /// An endpoint that accepts connections and never reads or answers.
    pub async fn hanging() -> Result<Self> {
        Self::serve(None).await
    }

    /// `http://127.0.0.1:<port>`, for `telemetry.segment.endpoint`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address the sink listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers for the next requests, in order, before the default applies.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.script.lock().expect("sink lock").extend(answers);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// Whole requests received so far (answered or hanging).
    pub fn received(&self) -> usize {
        self.state.received.lock().expect("sink lock").len()
    }

    /// The requests received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Received> {
        self.state.received.lock().expect("sink lock").clone()
    }

    /// Waits (up to [`WAIT`]) until at least `n` requests arrived, and
    /// returns all received by then.
    pub async fn wait_for(&self, n: usize) -> Result<Vec<Received>> {
        let wait = async {
            loop {
                // Registered before the check, so an arrival in between
                // is not missed.
                let arrived = self.state.arrived.notified();
                let requests = self.requests();
                if requests.len() >= n {
                    return requests;
                }
                arrived.await;
            }
        };
        match tokio::time::timeout(WAIT, wait).await {
            Ok(requests) => Ok(requests),
            Err(_) => bail!(
                "the sink got {} of {n} requests within {WAIT:?}",
                self.received()
            ),
        }
    }

    /// `default: None` holds every connection unread.
    async fn serve(default: Option<Answer>) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let shared = state.clone();
        let task = tokio::spawn(async move {
            // Dropped with the accept loop when the sink is dropped, which
            // closes every connection still open.
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let state = shared.clone();
                connections.spawn(async move {
                    match default {
                        Some(default) => serve_one(stream, state, default).await,
                        // Held open, never read or answered.
                        None => hold(stream).await,
                    }
                });
                // Reap finished connections so the set does not grow.
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Self {
            addr,
            url: format!("http://{addr}"),
            state,
            task,
        })
    }
}

impl Drop for SegmentSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_one(stream: TcpStream, state: Arc<State>, default: Answer) {
    let service = service_fn(move |request| answer(Arc::clone(&state), default, request));
    // The connection ends with the client, or with the sink.
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// Records `request`, then answers it as scripted.
async fn answer(
    state: Arc<State>,
    default: Answer,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    // A body cut short by the client is recorded as far as it came.
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes().to_vec())
        .unwrap_or_default();
    state.record(Received {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect(),
        body,
    });
    match state.answer(default) {
        Answer::Status(code) => Ok(Response::builder()
            .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONNECTION, "close")
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap_or_default()),
        Answer::Hang => std::future::pending().await,
    }
}

async fn hold(stream: TcpStream) {
    std::future::pending::<()>().await;
    drop(stream);
}
