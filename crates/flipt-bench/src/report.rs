//! The report: throughput, latency and errors per mode and scenario next to
//! the echo-chain baseline, memory per process, spans exported, the engine
//! micro-benchmark, and the goals checked against them. Printed as tables
//! and written as JSON.

use std::{fmt::Write as _, path::Path};

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::{
    fill::Fill,
    load::LoadOutcome,
    micro::Micro,
    peer::Peer,
    propagation::Propagation,
    scenario::Scenario,
    stack::{Hops, Mode},
};

const MIB: f64 = 1024.0;

/// Everything one run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// How the load was shaped.
    pub settings: Settings,
    /// One row per mode and scenario.
    pub results: Vec<Row>,
    /// RSS per process and mode.
    pub memory: Vec<Memory>,
    /// Spans the services exported, per mode.
    pub spans: Vec<SpanCount>,
    /// Flag edit propagation to every evaluation replica.
    pub propagation: Option<Propagation>,
    /// Evaluation RSS with a full near cache.
    pub fill: Option<Fill>,
    /// The peer under the same REST load.
    pub peer: Option<Peer>,
    /// Engine micro-benchmark.
    pub micro: Vec<Micro>,
    /// Goals and whether they hold.
    pub goals: Vec<Goal>,
}

/// The machine the run used.
#[derive(Debug, Serialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: usize,
    /// CPU model from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Total memory in MiB.
    pub memory_mib: u64,
    /// 1/5/15-minute load average when the run started.
    pub load_before: String,
    /// … and when it ended.
    pub load_after: String,
}

impl Machine {
    /// Reads the machine description from `/proc`.
    pub fn describe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == "model name").then(|| value.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: u64 = meminfo
            .lines()
            .find(|line| line.starts_with("MemTotal:"))
            .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0);
        Self {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model,
            memory_mib: memory_kib / 1024,
            load_before: load_average(),
            load_after: String::new(),
        }
    }
}

/// The first three fields of `/proc/loadavg`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Load shape.
#[derive(Debug, Serialize)]
pub struct Settings {
    /// Requests in flight.
    pub concurrency: usize,
    /// HTTP/2 connections for gRPC.
    pub grpc_connections: usize,
    /// HTTP/1.1 connections for REST (one per in-flight request).
    pub rest_connections: usize,
    /// Warm-up per run, seconds.
    pub warmup_s: f64,
    /// Measured time per run, seconds.
    pub duration_s: f64,
    /// Slices each run was cut into, alternating echo chain and services.
    pub rounds: u32,
}

/// Throughput and latency of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// Successful requests per second.
    pub rps: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// 99.9th percentile, ms.
    pub p999_ms: f64,
    /// Successful requests in the window.
    pub requests: u64,
    /// Failed requests in the window.
    pub errors: u64,
    /// The first failure, if any.
    pub first_error: Option<String>,
    /// CPU microseconds per successful request, per process: the two
    /// servers in chain order, then the load generator (`client`).
    pub cpu_us_per_request: Vec<ProcessCpu>,
}

/// CPU cost of one process per request.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessCpu {
    /// Process name.
    pub process: String,
    /// CPU microseconds (user + system) per successful request.
    pub us: f64,
}

impl Measured {
    /// The figures of `outcome`, whose watched processes are `names`.
    pub fn new(outcome: &LoadOutcome, names: &[&str]) -> Self {
        let mut cpu_us_per_request: Vec<ProcessCpu> = names
            .iter()
            .zip(&outcome.processes)
            .map(|(name, load)| ProcessCpu {
                process: (*name).to_owned(),
                us: outcome.cpu_us_per_request(load.cpu_s),
            })
            .collect();
        cpu_us_per_request.push(ProcessCpu {
            process: "client".to_owned(),
            us: outcome.cpu_us_per_request(outcome.client_cpu_s),
        });
        Self {
            rps: outcome.rps(),
            p50_ms: outcome.quantile_ms(0.5),
            p99_ms: outcome.quantile_ms(0.99),
            p999_ms: outcome.quantile_ms(0.999),
            requests: outcome.tally.ok,
            errors: outcome.tally.failed,
            first_error: outcome.tally.first_failure.clone(),
            cpu_us_per_request,
        }
    }

    fn cpu_columns(&self) -> String {
        self.cpu_us_per_request
            .iter()
            .map(|cpu| format!("{:>7.1}", cpu.us))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One mode × scenario.
#[derive(Debug, Serialize)]
pub struct Row {
    /// Observability mode of the services.
    pub mode: Mode,
    /// Request kind.
    pub scenario: Scenario,
    /// The services.
    pub service: Measured,
    /// The echo chain, run right before.
    pub baseline: Measured,
    /// Which echo baseline `baseline` is.
    pub hops: Hops,
    /// Median over the slices of the services' req/s divided by the echo
    /// chain's in the slice just before: the figure the goals use.
    pub ratio: f64,
    /// `service.rps / baseline.rps` over all slices together.
    pub overall_ratio: f64,
    /// The per-slice ratios the median is taken of.
    pub slice_ratios: Vec<f64>,
}

impl Row {
    /// `min-max` of the slice ratios.
    fn spread(&self) -> String {
        let min = self
            .slice_ratios
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let max = self.slice_ratios.iter().copied().fold(0.0, f64::max);
        if self.slice_ratios.is_empty() {
            return "-".to_owned();
        }
        format!("{min:.2}-{max:.2}")
    }
}

/// Memory of one process in one mode.
#[derive(Debug, Serialize)]
pub struct Memory {
    /// Mode (the echo servers are listed under the first mode run).
    pub mode: Mode,
    /// Process name.
    pub process: String,
    /// RSS after start-up, before any load, MiB.
    pub idle_mib: f64,
    /// Peak RSS during the measured windows, MiB.
    pub load_mib: f64,
    /// RSS after the last run of the mode, MiB.
    pub after_mib: f64,
}

impl Memory {
    /// From KiB figures.
    pub fn from_kib(mode: Mode, process: &str, idle: u64, load: u64, after: u64) -> Self {
        Self {
            mode,
            process: process.to_owned(),
            idle_mib: idle as f64 / MIB,
            load_mib: load as f64 / MIB,
            after_mib: after as f64 / MIB,
        }
    }

    pub(crate) fn is_service(&self) -> bool {
        self.process.starts_with("flipt-")
    }
}

/// Spans exported in one mode.
#[derive(Debug, Serialize)]
pub struct SpanCount {
    /// Mode.
    pub mode: Mode,
    /// Requests answered by the services in this mode, warm-ups included.
    pub requests: u64,
    /// Spans those requests produce when every one is traced.
    pub expected: u64,
    /// Spans the OTLP receiver got.
    pub received: u64,
}

/// One goal of the benchmark.
#[derive(Debug, Serialize)]
pub struct Goal {
    /// What is measured.
    pub name: String,
    /// The bound.
    pub target: String,
    /// The measured value.
    pub measured: String,
    /// Whether it holds; `None` when the run did not measure it.
    pub met: Option<bool>,
}

impl Report {
    /// The row of `mode` × `scenario`.
    pub fn row(&self, mode: Mode, scenario: Scenario) -> Option<&Row> {
        self.results
            .iter()
            .find(|row| row.mode == mode && row.scenario == scenario)
    }

    /// Writes the JSON report, creating its directory.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let json = serde_json::to_string_pretty(self)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
    }

    /// The report as text tables.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let s = &self.settings;
        let _ = writeln!(
            out,
            "machine: {} CPUs, {}, {} MiB; load average {} -> {}",
            m.cpus, m.cpu_model, m.memory_mib, m.load_before, m.load_after
        );
        let _ = writeln!(
            out,
            "load: closed loop, {} in flight, gRPC over {} connections, REST over {}; per run {}s warm-up + {}s measured, in {} alternating slices; ratio = median of the slice ratios\n",
            s.concurrency,
            s.grpc_connections,
            s.rest_connections,
            s.warmup_s,
            s.duration_s,
            s.rounds
        );

        let _ = writeln!(
            out,
            "{:<24} {:<17} {:>8} {:>7} {:>7} {:>8} {:>6} | {:<10} {:>8} {:>7} {:>7} | {:>5} {:>9}",
            "mode",
            "scenario",
            "req/s",
            "p50 ms",
            "p99 ms",
            "p999 ms",
            "errors",
            "baseline",
            "base r/s",
            "b p50",
            "b p99",
            "ratio",
            "slices"
        );
        for row in &self.results {
            let (sv, b) = (&row.service, &row.baseline);
            let _ = writeln!(
                out,
                "{:<24} {:<17} {:>8.0} {:>7.3} {:>7.3} {:>8.3} {:>6} | {:<10} {:>8.0} {:>7.3} {:>7.3} | {:>5.2} {:>9}",
                row.mode.label(),
                row.scenario.label(),
                sv.rps,
                sv.p50_ms,
                sv.p99_ms,
                sv.p999_ms,
                sv.errors,
                row.hops.label(),
                b.rps,
                b.p50_ms,
                b.p99_ms,
                row.ratio,
                row.spread()
            );
        }

        let _ = writeln!(
            out,
            "\nCPU us per request: services (evaluation, cache, client) | echo chain (A, B, client)"
        );
        for row in &self.results {
            let _ = writeln!(
                out,
                "{:<22} {:<17} {} | {}",
                row.mode.label(),
                row.scenario.label(),
                row.service.cpu_columns(),
                row.baseline.cpu_columns()
            );
        }

        let _ = writeln!(
            out,
            "\n{:<22} {:<17} {:>9} {:>9} {:>9}",
            "mode", "process", "idle MiB", "load MiB", "after MiB"
        );
        for memory in &self.memory {
            let _ = writeln!(
                out,
                "{:<22} {:<17} {:>9.1} {:>9.1} {:>9.1}",
                memory.mode.label(),
                memory.process,
                memory.idle_mib,
                memory.load_mib,
                memory.after_mib
            );
        }

        for spans in &self.spans {
            let share = if spans.expected > 0 {
                spans.received as f64 / spans.expected as f64 * 100.0
            } else {
                0.0
            };
            let _ = writeln!(
                out,
                "\nspans exported ({}): {} of {} expected for {} requests ({share:.1}%)",
                spans.mode.label(),
                spans.received,
                spans.expected,
                spans.requests
            );
        }

        if let Some(p) = &self.propagation {
            let _ = writeln!(
                out,
                "\nflag edit -> all {} evaluation replicas answer it ({} edits): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                p.replicas, p.edits, p.p50_ms, p.p99_ms, p.max_ms
            );
        }

        if let Some(f) = &self.fill {
            let _ = writeln!(
                out,
                "\nnear cache holding {} flags: evaluation RSS {:.1} MiB (idle {:.1} MiB); cache {:.1} MiB",
                f.flags, f.filled_mib, f.idle_mib, f.cache_mib
            );
        }
        if let Some(peer) = &self.peer {
            let _ = writeln!(out, "\n{}", peer.render());
        }

        if !self.micro.is_empty() {
            let _ = writeln!(out, "\nflipt-core engine (criterion mean):");
            for micro in &self.micro {
                let _ = writeln!(out, "  {:<40} {:>8.0} ns", micro.description, micro.mean_ns);
            }
        }

        let _ = writeln!(out, "\ngoals:");
        for goal in &self.goals {
            let verdict = match goal.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "n/a",
            };
            let _ = writeln!(
                out,
                "  [{verdict:^6}] {:<52} {:<10} measured {}",
                goal.name, goal.target, goal.measured
            );
        }
        out
    }
}
