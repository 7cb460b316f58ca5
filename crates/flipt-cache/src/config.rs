//! The cache service's own configuration sections: `storage.*` and
//! `cache.*` (DESIGN.md §3; key names follow Flipt's).

use std::{path::PathBuf, time::Duration};

use flipt_server::config::{
    CACHE_GRPC_PORT, CACHE_HTTP_PORT, Config, InvalidValue, ServiceConfig, duration,
};
use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;

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

    fn validate(config: &Config<Self>, _warnings: &mut Vec<String>) -> Result<(), InvalidValue> {
        let cache = &config.service.cache;
        if cache.ttl.is_zero() {
            return Err(InvalidValue::string("cache.ttl", "0s", "expected a duration above zero"));
        }
        if cache.memory.max_entries == 0 {
            return Err(InvalidValue::string(
                "cache.memory.max_entries",
                "0",
                "expected a positive number of entries",
            ));
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
}

impl Default for LocalStorageConfig {
    fn default() -> Self {
        // Flipt re-reads local storage every 30 s.
        Self { path: PathBuf::from("."), poll_interval: Duration::from_secs(30) }
    }
}

/// `cache.*`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheConfig {
    /// `cache.backend`: `memory`.
    pub backend: BackendKind,
    /// `cache.ttl`: how long an entry lives (Flipt's default 1m).
    #[serde(with = "duration")]
    pub ttl: Duration,
    /// `cache.memory.*`
    pub memory: MemoryCacheConfig,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::Memory,
            ttl: Duration::from_secs(60),
            memory: MemoryCacheConfig::default(),
        }
    }
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
        Self { max_entries: 10_000 }
    }
}
