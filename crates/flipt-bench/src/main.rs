//! `flipt-bench`: measures the release services under closed-loop load
//! against a baseline of the same shape (a bare tonic echo chain), in three
//! observability modes, and reports throughput, latency, errors and memory
//! per process (`target/bench/report.json` and a table on stdout).
//!
//! `flipt-bench echo-server` is one server of that baseline; the benchmark
//! starts two of them itself. `flipt-bench soak` is the soak (`make soak`):
//! mixed load through the same driver, failing on errors or RSS growth.

// A binary: its modules share `pub` items among themselves; the workspace's
// `unreachable_pub` is for the library crates' surfaces.
#![allow(unreachable_pub)]

mod echo;
mod fill;
mod goals;
mod load;
mod micro;
mod otlp;
mod payloads;
mod peer;
mod propagation;
mod report;
mod rest;
mod run;
mod scenario;
mod soak;
mod stack;

use std::{io::Write as _, path::PathBuf, time::Duration};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::{
    echo::{EchoOptions, Role},
    load::LoadSettings,
    run::RunOptions,
    scenario::Scenario,
    stack::Mode,
};

#[derive(Debug, Parser)]
#[command(
    name = "flipt-bench",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// One server of the baseline echo chain (the benchmark starts these).
    EchoServer(EchoArgs),
    /// Mixed load on the service binaries next to this executable; fails
    /// on any error or on more than 10 % RSS growth after the warm-up.
    Soak(SoakArgs),
}

#[derive(Debug, Args)]
struct SoakArgs {
    /// Length of the soak, warm-up included.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Flag directory the cache service loads [default: the repository's
    /// deploy/flags].
    #[arg(long, value_name = "DIR")]
    flags: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Directory holding the release `flipt-cache` and `flipt-evaluation`
    /// [default: the directory of this executable].
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Flag directory the cache service loads [default: the repository's
    /// deploy/flags].
    #[arg(long, value_name = "DIR")]
    flags: Option<PathBuf>,
    /// JSON report path [default: <bin-dir>/../bench/report.json, i.e.
    /// target/bench/report.json]; config files go next to it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Criterion output holding the flipt-core engine benchmark
    /// [default: <bin-dir>/../criterion].
    #[arg(long, value_name = "DIR")]
    criterion_dir: Option<PathBuf>,
    /// Requests in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// HTTP/2 connections the gRPC load shares (REST uses one HTTP/1.1
    /// connection per in-flight request).
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Unmeasured warm-up of each run.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Measured window of each run.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Slices the measured time of each scenario is cut into, alternating
    /// echo chain and services (each later slice warms up for 0.5 s); the
    /// reported ratio is the median of the per-slice ratios.
    #[arg(long, default_value_t = 5)]
    rounds: u32,
    /// Observability modes to run, comma separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Mode::ALL)]
    modes: Vec<Mode>,
    /// Scenarios to run, comma separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Scenario::ALL)]
    scenarios: Vec<Scenario>,
    /// Echo server A's deadline on B (evaluation's default
    /// `services.cache.timeout`).
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    upstream_timeout: Duration,
    /// Flag edits of the propagation measurement (0: skip it and the
    /// full-near-cache memory measurement).
    #[arg(long, default_value_t = 100)]
    edits: usize,
    /// Skip the peer row (Unleash Edge).
    #[arg(long)]
    no_peer: bool,
}

#[derive(Debug, Args)]
struct EchoArgs {
    /// Which server of the chain.
    #[arg(long, value_enum)]
    role: Role,
    /// Prebuilt responses (written by the benchmark).
    #[arg(long, value_name = "FILE")]
    payloads: PathBuf,
    /// Server B's gRPC URL (role a).
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// Deadline of A's call to B.
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::EchoServer(args)) => {
            echo::serve(EchoOptions {
                role: args.role,
                payloads: args.payloads,
                upstream: args.upstream,
                timeout: args.timeout,
            })
            .await
        }
        Some(Command::Soak(args)) => {
            let flags = args.flags.unwrap_or_else(flipt_testkit::demo_flags);
            soak::soak(Duration::from_secs(args.seconds), &flags).await
        }
        None => bench(cli.run).await,
    }
}

async fn bench(args: RunArgs) -> Result<()> {
    if args.concurrency == 0 || args.duration.is_zero() {
        bail!("--concurrency and --duration must be above zero");
    }
    let bin_dir = match args.bin_dir {
        Some(dir) => dir,
        None => std::env::current_exe()
            .context("locating flipt-bench")?
            .parent()
            .context("flipt-bench has no parent directory")?
            .to_path_buf(),
    };
    let target_dir = bin_dir.join("..");
    let out = args
        .out
        .unwrap_or_else(|| target_dir.join("bench").join("report.json"));
    let out_dir = out
        .parent()
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let flags = args.flags.unwrap_or_else(flipt_testkit::demo_flags);
    let flags = flags
        .canonicalize()
        .with_context(|| format!("flag directory {}", flags.display()))?;

    let options = RunOptions {
        bin_dir,
        flags,
        out_dir,
        criterion_dir: args
            .criterion_dir
            .unwrap_or_else(|| target_dir.join("criterion")),
        load: LoadSettings {
            concurrency: args.concurrency,
            connections: args.connections.max(1),
            warmup: args.warmup,
            duration: args.duration,
        },
        rounds: args.rounds.max(1),
        modes: args.modes,
        scenarios: args.scenarios,
        upstream_timeout: args.upstream_timeout,
        edits: args.edits,
        peer: !args.no_peer,
    };
    let report = run::run(&options).await?;
    report.write_json(&out)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", report.render())?;
    writeln!(stdout, "report: {}", out.display())?;
    Ok(())
}
