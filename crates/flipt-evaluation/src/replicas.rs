//! The cache replicas behind `services.cache.address`.
//!
//! The address's host may resolve to several addresses (a Kubernetes
//! headless Service lists every ready pod). One HTTP/2 connection would pin
//! every call to one of them, so each address gets its own lazily connected
//! channel, calls go round-robin over them, and the host is resolved again
//! every `services.cache.resolve_interval`: new replicas get calls, gone
//! ones are dropped. A replica whose call failed in transport (refused,
//! reset, GOAWAY of a replica that is shutting down) is passed over for
//! [`FAILED_COOLDOWN`], and the failed call is tried on another replica
//! (see `cache_client`).
//!
//! Why not tonic's balanced channel (tower's power-of-two-choices over a
//! discover stream): its endpoints connect lazily, so a replica that
//! refuses connections still looks ready and keeps being picked, and a
//! retry cannot ask for a different replica. Here a retry names the
//! replicas already tried, and a failing one is skipped for a while.
//!
//! Resolution goes through [`Resolve`]: the system resolver in the binary,
//! a test's own list in tests, with the same code path after it.

use std::{
    collections::BTreeMap,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError, RwLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use flipt_server::{CacheAddress, ServiceAddress};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::error::EvaluationError;

/// How long a replica whose call failed in transport is passed over while
/// others are available.
pub(crate) const FAILED_COOLDOWN: Duration = Duration::from_secs(1);

/// Resolves a host name to the addresses of its replicas.
pub trait Resolve: Send + Sync + 'static {
    /// Every address `host` (a name or an IP literal) has for `port`.
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;
}

/// The operating system's resolver (`getaddrinfo`, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// Wraps a replica's plain channel with the client layers (tracing,
/// metrics) into the channel calls go through.
pub(crate) type Wrap<C> = Arc<dyn Fn(Channel) -> C + Send + Sync>;

/// One cache replica.
#[derive(Debug)]
pub(crate) struct Replica<C> {
    pub(crate) addr: SocketAddr,
    /// The layered channel calls go through.
    pub(crate) channel: C,
    /// The plain channel, for health probes.
    pub(crate) plain: Channel,
    failed_at: Mutex<Option<Instant>>,
}

impl<C> Replica<C> {
    /// Passes this replica over for a while.
    pub(crate) fn mark_failed(&self) {
        *self
            .failed_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    fn cooling_down(&self, now: Instant) -> bool {
        let failed_at = *self
            .failed_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        failed_at.is_some_and(|at| now.duration_since(at) < FAILED_COOLDOWN)
    }
}

/// A list of replicas, swapped whole on a change.
type ReplicaList<C> = Arc<[Arc<Replica<C>>]>;

/// The current replicas and the round-robin cursor. Cheap to clone.
pub(crate) struct Replicas<C> {
    current: Arc<RwLock<ReplicaList<C>>>,
    next: Arc<AtomicUsize>,
}

impl<C> Clone for Replicas<C> {
    fn clone(&self) -> Self {
        Self {
            current: Arc::clone(&self.current),
            next: Arc::clone(&self.next),
        }
    }
}

impl<C> Default for Replicas<C> {
    fn default() -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::from(Vec::new()))),
            next: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl<C> Replicas<C> {
    /// Every replica known now.
    pub(crate) fn all(&self) -> ReplicaList<C> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The next replica in turn that is not in `tried`, preferring ones
    /// that have not failed lately; `None` when every replica was tried.
    pub(crate) fn pick(&self, tried: &[SocketAddr]) -> Option<Arc<Replica<C>>> {
        let all = self.all();
        if all.is_empty() {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut fallback = None;
        for offset in 0..all.len() {
            let replica = &all[(start + offset) % all.len()];
            if tried.contains(&replica.addr) {
                continue;
            }
            if !replica.cooling_down(now) {
                return Some(Arc::clone(replica));
            }
            fallback.get_or_insert_with(|| Arc::clone(replica));
        }
        fallback
    }

    fn replace(&self, replicas: Vec<Arc<Replica<C>>>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::from(replicas);
    }
}

/// What the refresh task needs to turn addresses into replicas.
pub(crate) struct Discovery<C> {
    target: ServiceAddress,
    scheme: String,
    host: String,
    port: u16,
    interval: Duration,
    resolver: Arc<dyn Resolve>,
    wrap: Wrap<C>,
}

impl<C: Send + Sync + 'static> Discovery<C> {
    /// Reads the host and port of `services.cache.address`.
    pub(crate) fn new(
        cache: &CacheAddress,
        resolver: Arc<dyn Resolve>,
        wrap: Wrap<C>,
    ) -> Result<Self, EvaluationError> {
        let invalid = |detail: String| EvaluationError::CacheUnavailable {
            address: cache.address.clone(),
            detail,
        };
        let uri: http::Uri = cache
            .address
            .trim()
            .parse()
            .map_err(|err| invalid(format!("invalid address: {err}")))?;
        let scheme = uri.scheme_str().unwrap_or("http").to_owned();
        let host = uri
            .host()
            .ok_or_else(|| invalid("the address has no host".to_owned()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        Ok(Self {
            target: cache.target.clone(),
            scheme,
            host,
            port,
            interval: cache.resolve_interval,
            resolver,
            wrap,
        })
    }

    /// Resolves once, updating `replicas`; keeps the last known replicas
    /// when resolution fails or finds nothing (a DNS hiccup must not empty
    /// the pool).
    pub(crate) async fn refresh(&self, replicas: &Replicas<C>) {
        let addrs = match self.resolver.resolve(&self.host, self.port).await {
            Ok(addrs) if !addrs.is_empty() => addrs,
            Ok(_) => {
                tracing::warn!(host = %self.host, "services.cache.address resolved to no address; keeping the last known replicas");
                return;
            }
            Err(error) => {
                tracing::warn!(host = %self.host, %error, "cannot resolve services.cache.address; keeping the last known replicas");
                return;
            }
        };
        let known: BTreeMap<SocketAddr, Arc<Replica<C>>> = replicas
            .all()
            .iter()
            .map(|replica| (replica.addr, Arc::clone(replica)))
            .collect();
        let mut next = Vec::with_capacity(addrs.len());
        for addr in dedup(addrs) {
            match known.get(&addr) {
                Some(replica) => next.push(Arc::clone(replica)),
                None => match self.replica(addr) {
                    Ok(replica) => next.push(Arc::new(replica)),
                    Err(error) => tracing::warn!(%addr, %error, "cannot use cache replica"),
                },
            }
        }
        let changed =
            next.len() != known.len() || next.iter().any(|r| !known.contains_key(&r.addr));
        if changed {
            let list: Vec<String> = next.iter().map(|r| r.addr.to_string()).collect();
            tracing::info!(replicas = ?list, "cache replicas changed");
            replicas.replace(next);
        }
    }

    /// Refreshes every `services.cache.resolve_interval` until `stop`.
    pub(crate) async fn run(self, replicas: Replicas<C>, stop: CancellationToken) {
        loop {
            self.refresh(&replicas).await;
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// Sets `replicas` to `addrs` without resolving.
    #[cfg(test)]
    pub(crate) fn fill(&self, replicas: &Replicas<C>, addrs: &[SocketAddr]) {
        let mut list = Vec::new();
        for addr in addrs {
            list.push(Arc::new(self.replica(*addr).expect("replica channel")));
        }
        replicas.replace(list);
    }

    fn replica(&self, addr: SocketAddr) -> Result<Replica<C>, tonic::transport::Error> {
        let per_address = ServiceAddress {
            address: format!("{}://{addr}", self.scheme),
            timeout: self.target.timeout,
        };
        let plain = per_address
            .endpoint()?
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true)
            .connect_lazy();
        Ok(Replica {
            addr,
            channel: (self.wrap)(plain.clone()),
            plain,
            failed_at: Mutex::new(None),
        })
    }
}

fn dedup(mut addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let mut seen = Vec::with_capacity(addrs.len());
    addrs.retain(|addr| {
        let new = !seen.contains(addr);
        seen.push(*addr);
        new
    });
    addrs
}

#[cfg(test)]
mod tests;
