//! The cache service's own configuration sections: `storage.*` and
//! `cache.*` (DESIGN.md §3; key names follow Flipt's).

use std::{path::PathBuf, time::Duration};

use flipt_server::{
    CACHE_GRPC_PORT, CACHE_HTTP_PORT, Config, InvalidValue, Secret, ServiceConfig, duration, port,
};
use flipt_store::{DEFAULT_MAX_ALIAS_NODES, DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_NODES, FileLimits};
use serde::{Deserialize, Serialize};

/// Sections read by `flipt-cache` on top of the common ones.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheServiceConfig {
    /// `storage.*`: where flag state comes from.
    pub storage: StorageConfig,
    /// `cache.*`: how flag state is cached.
    pub cache: CacheConfig,
}

impl ServiceConfig for CacheServiceConfig {
    const SERVICE_NAME: &'static str = "flipt-cache";
    const DEFAULT_GRPC_PORT: u16 = CACHE_GRPC_PORT;
    const DEFAULT_HTTP_PORT: u16 = CACHE_HTTP_PORT;

    fn validate(config: &Config<Self>, warnings: &mut Vec<String>) -> Result<(), InvalidValue> {
        let cache = &config.service.cache;
        if cache.ttl.is_zero() {
            return Err(InvalidValue::string(
                "cache.ttl",
                "0s",
                "expected a duration above zero",
            ));
        }
        if cache.memory.max_entries == 0 {
            return Err(InvalidValue::string(
                "cache.memory.max_entries",
                "0",
                "expected a positive number of entries",
            ));
        }
        validate_redis(&cache.redis, warnings)?;
        for (key, value) in [
            (
                "storage.local.max_file_bytes",
                config.service.storage.local.max_file_bytes,
            ),
            (
                "storage.local.max_nodes",
                config.service.storage.local.max_nodes,
            ),
        ] {
            if value == 0 {
                return Err(InvalidValue::string(key, "0", "expected a positive number"));
            }
        }
        if config.service.storage.local.path.as_os_str().is_empty() {
            return Err(InvalidValue::string(
                "storage.local.path",
                "",
                "local path must be specified",
            ));
        }
        Ok(())
    }
}

/// `storage.*`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageConfig {
    /// `storage.type`: only `local` (declarative files in a directory).
    #[serde(rename = "type")]
    pub storage_type: StorageType,
    /// `storage.local.*`
    pub local: LocalStorageConfig,
}

/// `storage.type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageType {
    /// Declarative flag files in `storage.local.path`.
    #[default]
    Local,
}

impl StorageType {
    /// Name reported in logs and the usage ping.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageType::Local => "local",
        }
    }
}

/// `storage.local.*`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LocalStorageConfig {
    /// `storage.local.path`: directory of flag files.
    pub path: PathBuf,
    /// `storage.local.poll_interval`: how often the directory is checked
    /// when file events are missed (file watching reacts sooner); `0s`
    /// turns polling off.
    #[serde(with = "duration")]
    pub poll_interval: Duration,
    /// `storage.local.max_file_bytes`: larger flag files are rejected
    /// without being read.
    pub max_file_bytes: u64,
    /// `storage.local.max_nodes`: flag files expanding to more YAML nodes
    /// (aliases counted at their expanded size) are rejected before they
    /// are built in memory.
    pub max_nodes: u64,
    /// `storage.local.max_alias_nodes`: flag files whose aliases repeat
    /// more YAML nodes than this are rejected before they are built.
    pub max_alias_nodes: u64,
}

impl Default for LocalStorageConfig {
    fn default() -> Self {
        // Flipt re-reads local storage every 30 s.
        Self {
            path: PathBuf::from("."),
            poll_interval: Duration::from_secs(30),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_nodes: DEFAULT_MAX_NODES,
            max_alias_nodes: DEFAULT_MAX_ALIAS_NODES,
        }
    }
}

impl LocalStorageConfig {
    /// The limits on each flag file.
    pub fn limits(&self) -> FileLimits {
        FileLimits {
            max_file_bytes: self.max_file_bytes,
            max_nodes: self.max_nodes,
            max_alias_nodes: self.max_alias_nodes,
        }
    }
}

/// `cache.backend`: which backend serves cached entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// In-process, bounded, per replica.
    Memory,
    /// Redis, shared by replicas.
    Redis,
}

impl BackendKind {
    /// Label value used in metrics, logs and the usage report.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Memory => "memory",
            BackendKind::Redis => "redis",
        }
    }
}

/// `cache.*`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheConfig {
    /// `cache.backend`: `memory` or `redis`.
    pub backend: BackendKind,
    /// `cache.ttl`: how long an entry lives (Flipt's default 1m).
    #[serde(with = "duration")]
    pub ttl: Duration,
    /// `cache.memory.*`
    pub memory: MemoryCacheConfig,
    /// `cache.redis.*`
    pub redis: RedisCacheConfig,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::Memory,
            ttl: Duration::from_secs(60),
            memory: MemoryCacheConfig::default(),
            redis: RedisCacheConfig::default(),
        }
    }
}

/// `cache.redis.*` (Flipt's names and defaults, except where noted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisCacheConfig {
    /// `cache.redis.host`
    pub host: String,
    /// `cache.redis.port`
    #[serde(deserialize_with = "port::deserialize")]
    pub port: u16,
    /// `cache.redis.db`: database number.
    pub db: i64,
    /// `cache.redis.username`: ACL user; empty for the default user.
    pub username: String,
    /// `cache.redis.password`
    pub password: Secret,
    /// `cache.redis.prefix`: key prefix; empty means `flipt`, as in Flipt.
    pub prefix: String,
    /// `cache.redis.require_tls`: connect with TLS (system roots).
    pub require_tls: bool,
    /// `cache.redis.insecure_skip_tls`: accept any server certificate.
    pub insecure_skip_tls: bool,
    /// `cache.redis.pool_size`: multiplexed connections; 0 means one per
    /// CPU (each carries many requests at once).
    pub pool_size: usize,
    /// `cache.redis.net_timeout`: connect timeout; commands may take twice
    /// as long before the lookup is served from the loaded flags instead.
    /// 0 means 100ms (Flipt leaves it to go-redis, whose seconds-long
    /// defaults would stall requests during an outage).
    #[serde(with = "duration")]
    pub net_timeout: Duration,
}

impl Default for RedisCacheConfig {
    fn default() -> Self {
        Self {
            host: "localhost".to_owned(),
            port: 6379,
            db: 0,
            username: String::new(),
            password: Secret::default(),
            prefix: "flipt".to_owned(),
            require_tls: false,
            insecure_skip_tls: false,
            pool_size: 0,
            net_timeout: Duration::ZERO,
        }
    }
}

/// `net_timeout` when the config leaves it at 0.
pub(crate) const DEFAULT_REDIS_NET_TIMEOUT: Duration = Duration::from_millis(100);

impl RedisCacheConfig {
    /// The connect timeout in effect.
    pub fn effective_net_timeout(&self) -> Duration {
        if self.net_timeout.is_zero() {
            DEFAULT_REDIS_NET_TIMEOUT
        } else {
            self.net_timeout
        }
    }

    /// The number of connections in effect.
    pub fn effective_pool_size(&self) -> usize {
        if self.pool_size == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            self.pool_size
        }
    }
}

fn validate_redis(
    redis: &RedisCacheConfig,
    warnings: &mut Vec<String>,
) -> Result<(), InvalidValue> {
    if redis.host.trim().is_empty() {
        return Err(InvalidValue::string(
            "cache.redis.host",
            &redis.host,
            "expected a host name or address",
        ));
    }
    if !(0..=1_000_000).contains(&redis.db) {
        return Err(InvalidValue::new(
            "cache.redis.db",
            redis.db,
            "expected a database number of 0 or more",
        ));
    }
    // More connections than this would only cost file descriptors: each
    // multiplexed connection already carries many requests.
    if redis.pool_size > 1024 {
        return Err(InvalidValue::new(
            "cache.redis.pool_size",
            redis.pool_size,
            "expected at most 1024 connections (0 = one per CPU)",
        ));
    }
    if redis.insecure_skip_tls && !redis.require_tls {
        warnings.push(
            "cache.redis.insecure_skip_tls is ignored without cache.redis.require_tls: true"
                .to_owned(),
        );
    }
    Ok(())
}

/// `cache.memory.*`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryCacheConfig {
    /// `cache.memory.max_entries`: bound on cached objects.
    pub max_entries: u64,
}

impl Default for MemoryCacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
        }
    }
}
