//! Delivery of a ping: the [`Transport`] seam (the Segment HTTP client in
//! production, recording fakes in tests) and bounded retries with backoff.
//!
//! The wire is what Flipt's analytics-go client produces: `POST
//! <endpoint>/v1/batch` with HTTP Basic auth (user = write key, empty
//! password) and a JSON batch body. The `segment` crate's `HttpClient`
//! picks the path from the message kind, so pings are sent as a
//! [`segment::Message::Batch`].

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use segment::{Client as _, HttpClient, Message};

use crate::VERSION;
use crate::config::SegmentConfig;

/// Why one attempt failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// The endpoint answered with an HTTP error status.
    #[error("endpoint answered HTTP {0}")]
    Status(u16),
    /// No answer in time.
    #[error("no answer within the timeout")]
    Timeout,
    /// Connecting or talking to the endpoint failed.
    #[error("cannot reach the endpoint: {0}")]
    Network(String),
}

impl SendError {
    /// Whether trying again can help: not for 4xx other than 408 and 429
    /// (a wrong write key stays wrong).
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            SendError::Status(code) => *code >= 500 || *code == 408 || *code == 429,
            SendError::Timeout | SendError::Network(_) => true,
        }
    }
}

/// The future of one send.
pub(crate) type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// Sends one Segment message. Object-safe so the reporter can hold any.
pub(crate) trait Transport: Send + Sync + 'static {
    /// One attempt, no retries.
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a>;
}

/// The real transport: the `segment` crate's HTTP client on a reqwest
/// client with connect and request timeouts.
#[derive(Debug, Clone)]
pub(crate) struct SegmentTransport {
    client: HttpClient,
    write_key: String,
}

impl SegmentTransport {
    /// A client for the endpoint and write key of `telemetry.segment.*`,
    /// with its timeout per attempt; `None` when either is missing.
    pub(crate) fn new(segment: &SegmentConfig) -> Result<Option<Self>, reqwest::Error> {
        let Some((endpoint, write_key)) = segment.destination() else {
            return Ok(None);
        };
        let http = reqwest::Client::builder()
            .connect_timeout(segment.timeout)
            .timeout(segment.timeout)
            .user_agent(format!("flipt-telemetry-reporter/{VERSION}"))
            .build()?;
        Ok(Some(Self {
            client: HttpClient::new(http, endpoint.to_owned()),
            write_key: write_key.to_owned(),
        }))
    }
}

impl Transport for SegmentTransport {
    fn send<'a>(&'a self, message: &'a Message) -> SendFuture<'a> {
        Box::pin(async move {
            self.client
                .send(self.write_key.clone(), message.clone())
                .await
                .map_err(classify)
        })
    }
}

fn classify(err: segment::Error) -> SendError {
    match err {
        segment::Error::NetworkError(err) => {
            if let Some(status) = err.status() {
                SendError::Status(status.as_u16())
            } else if err.is_timeout() {
                SendError::Timeout
            } else {
                // reqwest's Display omits the cause chain; the cause (for
                // example "connection refused") is what an operator needs.
                let mut text = err.to_string();
                let mut source = std::error::Error::source(&err);
                while let Some(cause) = source {
                    text.push_str(": ");
                    text.push_str(&cause.to_string());
                    source = cause.source();
                }
                SendError::Network(text)
            }
        }
        other => SendError::Network(other.to_string()),
    }
}

/// How often and how patiently a ping is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Attempts in total, at least 1.
    pub attempts: u32,
    /// Wait before the second attempt; doubled before each further one.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts, 1 s then 2 s apart: enough to ride out a restart of
    /// the collector, small next to the 4 h interval. With the 10 s attempt
    /// timeout one ping takes at most about 33 s.
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_secs(1),
        }
    }
}

/// Sends `message`, retrying retryable failures with doubling backoff.
/// Calls `on_retry` before each retry. Returns the last error when every
/// attempt failed.
pub(crate) async fn send_with_retries(
    transport: &dyn Transport,
    message: &Message,
    policy: RetryPolicy,
    mut on_retry: impl FnMut(&SendError),
) -> Result<(), SendError> {
    let mut backoff = policy.backoff;
    let mut attempt = 1;
    loop {
        let err = match transport.send(message).await {
            Ok(()) => return Ok(()),
            Err(err) => err,
        };
        if attempt >= policy.attempts.max(1) || !err.is_retryable() {
            return Err(err);
        }
        on_retry(&err);
        tokio::time::sleep(backoff).await;
        backoff = backoff.saturating_mul(2);
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::time::Instant;

    use super::*;

    /// Answers from a script, recording when each attempt happened.
    struct Scripted {
        answers: Mutex<Vec<Result<(), u16>>>,
        calls: Mutex<Vec<Instant>>,
    }

    impl Transport for Scripted {
        fn send<'a>(&'a self, _message: &'a Message) -> SendFuture<'a> {
            self.calls.lock().expect("lock").push(Instant::now());
            let answer = self.answers.lock().expect("lock").remove(0);
            Box::pin(async move { answer.map_err(SendError::Status) })
        }
    }

    fn scripted(answers: Vec<Result<(), u16>>) -> Scripted {
        Scripted {
            answers: Mutex::new(answers),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn message() -> Message {
        Message::Batch(segment::message::Batch::default())
    }

    #[tokio::test(start_paused = true)]
    async fn retries_are_bounded_and_back_off() {
        let transport = scripted(vec![Err(500), Err(503), Err(500), Ok(())]);
        let start = Instant::now();
        let mut retries = 0;
        let result = send_with_retries(&transport, &message(), RetryPolicy::default(), |_| {
            retries += 1
        })
        .await;
        assert!(matches!(result, Err(SendError::Status(500))));
        assert_eq!(retries, 2);
        let calls = transport.calls.lock().expect("lock");
        let offsets: Vec<_> = calls.iter().map(|t| *t - start).collect();
        assert_eq!(
            offsets,
            [
                Duration::ZERO,
                Duration::from_secs(1),
                Duration::from_secs(3)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn success_after_a_failure_and_no_retry_on_client_errors() {
        let transport = scripted(vec![Err(429), Ok(())]);
        let result =
            send_with_retries(&transport, &message(), RetryPolicy::default(), |_| {}).await;
        assert!(result.is_ok());

        let transport = scripted(vec![Err(401), Ok(())]);
        let result =
            send_with_retries(&transport, &message(), RetryPolicy::default(), |_| {}).await;
        assert!(matches!(result, Err(SendError::Status(401))));
        assert_eq!(transport.calls.lock().expect("lock").len(), 1);
    }
}
