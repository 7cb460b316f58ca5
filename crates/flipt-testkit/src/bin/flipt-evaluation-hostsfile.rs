//! `flipt-evaluation` with the cache address's host resolved from a file
//! instead of DNS, for the multi-replica tests: loopback has no name that
//! resolves to several addresses which a test can change. The file
//! (`E2E_CACHE_HOSTS_FILE`) holds one IP address per line; it is read again
//! on every resolution, so a test adds and removes replicas by rewriting
//! it. Everything after resolution is the production code path
//! (`flipt_evaluation::main_with_resolver`).

use std::{
    future::Future,
    io,
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    pin::Pin,
    sync::Arc,
};

use anyhow::Context as _;
use flipt_evaluation::{Resolve, main_with_resolver};
use flipt_server::{Cli, parse_args};

/// Resolves any host to the addresses listed in a file.
struct FileResolver {
    path: PathBuf,
}

impl Resolve for FileResolver {
    fn resolve<'a>(
        &'a self,
        _host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move {
            let text = tokio::fs::read_to_string(&self.path).await?;
            let mut addrs = Vec::new();
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let ip: IpAddr = line.parse().map_err(|err| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("{line}: {err}"))
                })?;
                addrs.push(SocketAddr::new(ip, port));
            }
            Ok(addrs)
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::var_os("E2E_CACHE_HOSTS_FILE")
        .context("E2E_CACHE_HOSTS_FILE must name the hosts file")?;
    let cli: Cli = parse_args();
    main_with_resolver(&cli, Arc::new(FileResolver { path: path.into() })).await
}
