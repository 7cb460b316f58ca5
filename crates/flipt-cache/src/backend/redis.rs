//! Shared backend: entries in Redis, so several cache-service replicas share
//! one cache.
//!
//! * Keys are `<prefix>:v1:<entry key>`. The entry key embeds the namespace
//!   version (a content hash of the flag files), so a replica only ever reads
//!   entries built from the flag state it has loaded itself: replicas that
//!   reload at slightly different moments never serve each other's state.
//!   `v1` is the value format (protobuf of `flipt.cache.v1`); a format change
//!   takes a new tag, so old and new replicas can share a Redis during a
//!   rolling update.
//! * Values expire after `cache.ttl` (`SET … PX`), so entries of replaced
//!   flag state age out without explicit deletion, as in Flipt.
//! * Connections: `cache.redis.pool_size` multiplexed connections, each a
//!   [`ConnectionManager`] that reconnects by itself, used round robin.
//! * Failures degrade instead of failing requests: an error or a slow answer
//!   (`cache.redis.net_timeout`) makes the lookup a miss served from the
//!   loaded snapshot, and opens a [`Breaker`] so that during an outage
//!   requests skip Redis instead of each waiting for the timeout; one request
//!   per interval probes whether Redis is back.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use flipt_proto::{cache::v1::EvaluationState, evaluation::EvaluationNamespaceSnapshot};
use prost::Message as _;
use redis::{
    Client, ConnectionAddr, IntoConnectionInfo as _, RedisConnectionInfo,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

use super::{BackendError, Entry, EntryType, breaker::Breaker};
use crate::config::RedisCacheConfig;

/// Value format tag in every key; bump it when the encoding changes.
const FORMAT: &str = "v1";

/// How long requests skip Redis after a failure before one probes it again.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// How often the entries gauge is refreshed by scanning the key space.
const COUNT_INTERVAL: Duration = Duration::from_secs(15);

/// Redis-backed cache shared by replicas. Cheap to clone.
#[derive(Clone)]
pub(crate) struct RedisBackend {
    shared: Arc<Shared>,
}

struct Shared {
    connections: Vec<ConnectionManager>,
    next: AtomicUsize,
    prefix: String,
    ttl: Duration,
    op_timeout: Duration,
    breaker: Breaker,
    /// Entries under our prefix at the last scan.
    entries: AtomicU64,
}

impl RedisBackend {
    /// Prepares the connections of `cache.redis.*` without connecting, for
    /// entries that live `ttl`: the first lookups connect, so a Redis that
    /// is down at start only degrades the service.
    ///
    /// # Errors
    /// The section cannot describe a connection (e.g. TLS asked for but not
    /// built in).
    pub(crate) fn new(config: &RedisCacheConfig, ttl: Duration) -> Result<Self, BackendError> {
        let client = Client::open(connection_info(config)?).map_err(BackendError::Redis)?;
        // Connect timeout; reads and writes may take twice as long (Flipt's
        // rule for go-redis' dial and read/write timeouts).
        let net_timeout = config.effective_net_timeout();
        let op_timeout = net_timeout * 2;
        // Reconnects are driven by our probes, so the manager itself only
        // tries once per failure instead of backing off for seconds.
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(net_timeout))
            .set_response_timeout(Some(op_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(100));
        let pool_size = config.effective_pool_size().max(1);
        let mut connections = Vec::with_capacity(pool_size);
        for _ in 0..pool_size {
            let connection =
                ConnectionManager::new_lazy_with_config(client.clone(), manager.clone())
                    .map_err(BackendError::Redis)?;
            connections.push(connection);
        }
        let prefix = if config.prefix.is_empty() {
            "flipt".to_owned()
        } else {
            config.prefix.clone()
        };
        let address = format!("{}:{}/{}", config.host, config.port, config.db);
        tracing::info!(
            address = %address,
            tls = config.require_tls,
            connections = pool_size,
            net_timeout = ?net_timeout,
            "cache backend: redis"
        );
        Ok(Self {
            shared: Arc::new(Shared {
                connections,
                next: AtomicUsize::new(0),
                prefix,
                ttl,
                op_timeout,
                breaker: Breaker::new("redis", address, PROBE_INTERVAL),
                entries: AtomicU64::new(0),
            }),
        })
    }

    /// The physical key of an entry key.
    pub(crate) fn redis_key(&self, key: &str) -> String {
        format!("{}:{FORMAT}:{key}", self.shared.prefix)
    }

    pub(super) async fn get(
        &self,
        entry_type: EntryType,
        key: &str,
    ) -> Result<Option<Entry>, BackendError> {
        let mut command = redis::cmd("GET");
        command.arg(self.redis_key(key));
        let value: Option<Vec<u8>> = self.run(command).await?;
        let Some(bytes) = value else {
            return Ok(None);
        };
        decode(entry_type, &bytes).map(Some)
    }

    pub(super) async fn put(&self, key: &str, entry: &Entry) -> Result<(), BackendError> {
        let ttl_millis = u64::try_from(self.shared.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut command = redis::cmd("SET");
        command
            .arg(self.redis_key(key))
            .arg(encode(entry))
            .arg("PX")
            .arg(ttl_millis);
        self.run::<()>(command).await
    }

    pub(super) fn entry_count(&self) -> u64 {
        self.shared.entries.load(Ordering::Relaxed)
    }

    /// Runs one command on the next pooled connection, bounded by the
    /// operation timeout and guarded by the breaker.
    async fn run<T: redis::FromRedisValue>(&self, command: redis::Cmd) -> Result<T, BackendError> {
        let shared = &self.shared;
        let Some(attempt) = shared.breaker.attempt() else {
            return Err(BackendError::Bypassed);
        };
        let index = shared.next.fetch_add(1, Ordering::Relaxed) % shared.connections.len();
        let mut connection = shared.connections[index].clone();
        let result =
            tokio::time::timeout(shared.op_timeout, command.query_async::<T>(&mut connection))
                .await;
        match result {
            Ok(Ok(value)) => {
                attempt.succeeded();
                Ok(value)
            }
            Ok(Err(err)) => {
                attempt.failed(&err);
                Err(BackendError::Redis(err))
            }
            Err(_elapsed) => {
                let err = BackendError::Timeout(shared.op_timeout);
                attempt.failed(&err);
                Err(err)
            }
        }
    }

    /// Counts the keys under our prefix (SCAN, never KEYS, so Redis is not
    /// blocked) for the entries gauge. Skipped while Redis is unavailable.
    pub(crate) async fn refresh_entry_count(&self) -> Result<u64, BackendError> {
        let pattern = format!("{}:{FORMAT}:*", self.shared.prefix);
        let mut cursor: u64 = 0;
        let mut count: u64 = 0;
        loop {
            let mut command = redis::cmd("SCAN");
            command
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000);
            let (next, keys): (u64, Vec<redis::Value>) = self.run(command).await?;
            count += keys.len() as u64;
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        self.shared.entries.store(count, Ordering::Relaxed);
        Ok(count)
    }

    /// Refreshes the entries gauge every few seconds until `cancel` fires.
    pub(crate) async fn count_entries(self, cancel: tokio_util::sync::CancellationToken) {
        let mut interval = tokio::time::interval(COUNT_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = interval.tick() => {
                    // Failures are already counted and logged by the breaker.
                    let _ = self.refresh_entry_count().await;
                }
            }
        }
    }
}

/// Connection details from the section; the password never goes through a
/// URL, so any character works.
fn connection_info(config: &RedisCacheConfig) -> Result<redis::ConnectionInfo, BackendError> {
    let addr = if config.require_tls {
        ConnectionAddr::TcpTls {
            host: config.host.clone(),
            port: config.port,
            insecure: config.insecure_skip_tls,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(config.host.clone(), config.port)
    };
    let mut redis = RedisConnectionInfo::default().set_db(config.db);
    if !config.username.is_empty() {
        redis = redis.set_username(&config.username);
    }
    if !config.password.is_empty() {
        redis = redis.set_password(config.password.expose());
    }
    let info = addr
        .into_connection_info()
        .map_err(BackendError::Redis)?
        .set_redis_settings(redis);
    Ok(info)
}

fn encode(entry: &Entry) -> Vec<u8> {
    match entry {
        Entry::Flag(state) => state.encode_to_vec(),
        Entry::Snapshot(snapshot) => snapshot.encode_to_vec(),
    }
}

fn decode(entry_type: EntryType, bytes: &[u8]) -> Result<Entry, BackendError> {
    let entry = match entry_type {
        EntryType::Flag => Entry::Flag(Arc::new(EvaluationState::decode(bytes)?)),
        EntryType::Snapshot => {
            Entry::Snapshot(Arc::new(EvaluationNamespaceSnapshot::decode(bytes)?))
        }
    };
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use flipt_server::Secret;

    use super::*;

    fn settings() -> RedisCacheConfig {
        RedisCacheConfig {
            host: "127.0.0.1".into(),
            port: 1,
            db: 3,
            password: Secret::new("p@ss:/word"),
            prefix: String::new(),
            pool_size: 2,
            net_timeout: Duration::from_millis(50),
            ..RedisCacheConfig::default()
        }
    }

    #[test]
    fn connection_info_carries_db_and_password_verbatim() {
        let info = connection_info(&settings()).expect("info");
        assert_eq!(info.redis_settings().db(), 3);
        assert_eq!(info.redis_settings().password(), Some("p@ss:/word"));
        assert_eq!(info.redis_settings().username(), None);
        assert!(matches!(info.addr(), ConnectionAddr::Tcp(host, 1) if host == "127.0.0.1"));
    }

    #[test]
    fn require_tls_selects_a_tls_address() {
        let mut settings = settings();
        settings.require_tls = true;
        settings.insecure_skip_tls = true;
        let info = connection_info(&settings).expect("info");
        assert!(matches!(
            info.addr(),
            ConnectionAddr::TcpTls { insecure: true, .. }
        ));
    }

    #[tokio::test]
    async fn keys_carry_prefix_and_format() {
        let backend = RedisBackend::new(&settings(), Duration::from_secs(1)).expect("backend");
        assert_eq!(
            backend.redis_key("flag:default:v:f"),
            "flipt:v1:flag:default:v:f"
        );
    }

    #[test]
    fn entries_round_trip_through_their_encoding() {
        let state = EvaluationState {
            namespace_key: "default".into(),
            namespace_version: "abc".into(),
            namespace_etag: "def".into(),
            flag: None,
        };
        let bytes = encode(&Entry::Flag(Arc::new(state.clone())));
        match decode(EntryType::Flag, &bytes).expect("decode") {
            Entry::Flag(decoded) => assert_eq!(*decoded, state),
            Entry::Snapshot(_) => panic!("wrong entry type"),
        }
        assert!(matches!(
            decode(EntryType::Flag, &[0xff, 0xff, 0xff]),
            Err(BackendError::Decode(_))
        ));
    }
}
