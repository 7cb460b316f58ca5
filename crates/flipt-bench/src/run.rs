//! One benchmark run: for each observability mode, start the services,
//! and for each scenario load the echo chain and then the services with the
//! same closed-loop load, back to back, so both see the same machine.

use std::{path::PathBuf, time::Duration};

use anyhow::{Context as _, Result, anyhow};
use flipt_testkit::ServiceProcess;

use crate::{
    fill,
    load::{self, LoadOutcome, LoadSettings},
    micro,
    otlp::SpanSink,
    payloads, peer, propagation,
    report::{Machine, Measured, Memory, Report, Row, Settings, SpanCount, load_average},
    scenario::Scenario,
    stack::{EchoChain, Hops, Mode, Services},
};

/// What to run and where things are.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Directory holding `flipt-cache` and `flipt-evaluation`.
    pub bin_dir: PathBuf,
    /// Flag directory the cache service loads.
    pub flags: PathBuf,
    /// Where config files, payloads and the report go.
    pub out_dir: PathBuf,
    /// Criterion output of the engine micro-benchmark.
    pub criterion_dir: PathBuf,
    /// Load shape; `duration` is the measured time per run in total.
    pub load: LoadSettings,
    /// Slices each pair of runs is cut into, alternating echo chain and
    /// services, so slow changes in machine load hit both alike.
    pub rounds: u32,
    /// Modes to run, in order.
    pub modes: Vec<Mode>,
    /// Scenarios to run, in order.
    pub scenarios: Vec<Scenario>,
    /// Echo server A's deadline on B (evaluation's default cache timeout).
    pub upstream_timeout: Duration,
    /// Flag edits of the propagation measurement (0: skip it).
    pub edits: usize,
    /// Whether to run the peer row.
    pub peer: bool,
}

/// Runs everything and returns the report (goals evaluated).
pub async fn run(options: &RunOptions) -> Result<Report> {
    let mut report = Report {
        machine: Machine::describe(),
        settings: Settings {
            concurrency: options.load.concurrency,
            grpc_connections: options.load.connections,
            rest_connections: options.load.concurrency,
            warmup_s: options.load.warmup.as_secs_f64(),
            duration_s: options.load.duration.as_secs_f64(),
            rounds: options.rounds,
        },
        results: Vec::new(),
        memory: Vec::new(),
        spans: Vec::new(),
        propagation: None,
        peer: None,
        fill: None,
        micro: micro::read(&options.criterion_dir),
        goals: Vec::new(),
    };
    let sink = SpanSink::start().await?;
    let mut echo: Option<EchoChain> = None;
    let result = run_modes(options, &sink, &mut echo, &mut report).await;
    if let Some(echo) = echo {
        echo.stop().await.context("stopping the echo chain")?;
    }
    sink.stop().await;
    result?;
    // The extra measurements run after the table; one that fails is
    // reported as not run rather than losing the table.
    if options.edits > 0 {
        progress(format_args!("near cache: {} flags", fill::FLAGS));
        report.fill = fill::measure(&options.bin_dir, &options.out_dir.join("config"))
            .await
            .inspect_err(|err| progress(format_args!("near cache fill failed: {err:#}")))
            .ok();
    }
    if options.peer {
        progress(format_args!("peer: Unleash Edge"));
        report.peer = peer::measure(options)
            .await
            .inspect_err(|err| progress(format_args!("peer failed: {err:#}")))
            .ok();
    }
    if options.edits > 0 {
        progress(format_args!("propagation: {} flag edits", options.edits));
        report.propagation = propagation::measure(
            &options.bin_dir,
            &options.out_dir.join("config"),
            options.edits,
        )
        .await
        .inspect_err(|err| progress(format_args!("propagation failed: {err:#}")))
        .ok();
    }
    report.machine.load_after = load_average();
    report.evaluate_goals();
    Ok(report)
}

async fn run_modes(
    options: &RunOptions,
    sink: &SpanSink,
    echo: &mut Option<EchoChain>,
    report: &mut Report,
) -> Result<()> {
    let config_dir = options.out_dir.join("config");
    for &mode in &options.modes {
        progress(format_args!("{}: starting services", mode.label()));
        let services = Services::start(
            &options.bin_dir,
            &config_dir,
            &options.flags,
            mode,
            &sink.endpoint(),
        )
        .await?;
        let idle = idle_rss(&services.processes())?;

        // The baseline answers with what the services answer, captured
        // once from the first services started.
        let first_echo = echo.is_none();
        if first_echo {
            let payloads = payloads::capture(
                services.evaluation.grpc_addr,
                services.evaluation.http_addr,
                services.cache.grpc_addr,
            )
            .await
            .context("capturing the echo payloads")?;
            let path = options.out_dir.join("echo-payloads.pb");
            payloads.write(&path)?;
            *echo = Some(EchoChain::start(&path, options.upstream_timeout).await?);
        }
        let chain = echo
            .as_ref()
            .ok_or_else(|| anyhow!("the echo chain did not start"))?;
        let hops = mode.hops();
        let echo_idle = idle_rss(&chain.processes(Hops::Two))?;
        let one_idle = chain.one.rss_kib()?;

        let spans_before = sink.spans();
        let mut service_peaks = [0_u64; 2];
        let mut echo_peaks = [0_u64; 2];
        let mut one_peak = 0_u64;
        let mut traced_requests = 0;
        let mut expected_spans = 0;
        for &scenario in &options.scenarios {
            let pair = drive_pair(scenario, mode, options, chain, &services).await?;
            let (baseline, service) = (pair.baseline, pair.service);
            match hops {
                Hops::Two => merge_peaks(&mut echo_peaks, &baseline),
                Hops::One => {
                    let sampled = baseline.processes.first().map_or(0, |p| p.peak_rss_kib);
                    one_peak = one_peak.max(sampled);
                }
            }
            merge_peaks(&mut service_peaks, &service);
            traced_requests += service.tally.sent;
            expected_spans += service.tally.sent * scenario.spans_per_request(mode.near_cache());
            let service = Measured::new(&service, &names(&services.processes()));
            let baseline = Measured::new(&baseline, &names(&chain.processes(hops)));
            let overall_ratio = if baseline.rps > 0.0 {
                service.rps / baseline.rps
            } else {
                0.0
            };
            report.results.push(Row {
                mode,
                scenario,
                service,
                baseline,
                hops,
                ratio: median(&pair.slice_ratios),
                overall_ratio,
                slice_ratios: pair.slice_ratios,
            });
        }

        for (index, process) in services.processes().iter().enumerate() {
            report.memory.push(Memory::from_kib(
                mode,
                process.name(),
                idle[index],
                service_peaks[index],
                process.rss_kib()?,
            ));
        }
        if first_echo {
            for (index, process) in chain.processes(Hops::Two).iter().enumerate() {
                report.memory.push(Memory::from_kib(
                    mode,
                    process.name(),
                    echo_idle[index],
                    echo_peaks[index],
                    process.rss_kib()?,
                ));
            }
            report.memory.push(Memory::from_kib(
                mode,
                chain.one.name(),
                one_idle,
                one_peak,
                chain.one.rss_kib()?,
            ));
        }

        // SIGTERM makes the services flush their last spans before exiting,
        // so the count below is complete.
        services.stop().await.context("stopping the services")?;
        if mode == Mode::Traced {
            report.spans.push(SpanCount {
                mode,
                requests: traced_requests,
                expected: expected_spans,
                received: sink.spans() - spans_before,
            });
        }
    }
    Ok(())
}

/// Warm-up of every slice after the first: only new connections to settle.
const RESUME_WARMUP: Duration = Duration::from_millis(500);

/// Both chains under one scenario.
pub struct Pair {
    /// The baseline, all slices merged.
    pub baseline: LoadOutcome,
    /// The services, all slices merged.
    pub service: LoadOutcome,
    /// Per round: services' req/s over the baseline's in the slice just
    /// before.
    pub slice_ratios: Vec<f64>,
}

/// One side of a comparison: where the load goes and whose CPU and RSS
/// are watched.
pub struct Side<'a> {
    /// Name in the progress log.
    pub label: &'a str,
    /// Where the load goes.
    pub target: load::Target,
    /// Processes watched during the measured windows.
    pub pids: Vec<u32>,
}

impl<'a> Side<'a> {
    fn of(label: &'a str, target: load::Target, processes: &[&ServiceProcess; 2]) -> Self {
        Self {
            label,
            target,
            pids: processes
                .iter()
                .map(|p| p.pid().unwrap_or_default())
                .collect(),
        }
    }
}

/// Runs `scenario` against the echo chain and the services in alternating
/// slices ([`RunOptions::rounds`]).
async fn drive_pair(
    scenario: Scenario,
    mode: Mode,
    options: &RunOptions,
    chain: &EchoChain,
    services: &Services,
) -> Result<Pair> {
    let hops = mode.hops();
    let baseline = Side::of(hops.label(), chain.target(hops), &chain.processes(hops));
    let service = Side::of(mode.label(), services.target(), &services.processes());
    alternate(scenario, options, &baseline, &service).await
}

/// Runs `scenario` against `baseline` and `service` in alternating slices
/// ([`RunOptions::rounds`]), the baseline first in each round.
pub async fn alternate(
    scenario: Scenario,
    options: &RunOptions,
    baseline_side: &Side<'_>,
    service_side: &Side<'_>,
) -> Result<Pair> {
    let rounds = options.rounds.max(1);
    let mut baseline: Option<LoadOutcome> = None;
    let mut service: Option<LoadOutcome> = None;
    let mut slice_ratios = Vec::with_capacity(rounds as usize);
    for round in 0..rounds {
        let settings = LoadSettings {
            warmup: if round == 0 {
                options.load.warmup
            } else {
                options.load.warmup.min(RESUME_WARMUP)
            },
            duration: options.load.duration / rounds,
            ..options.load
        };
        let slice = drive(scenario, baseline_side, settings).await?;
        let baseline_rps = slice.rps();
        accumulate(&mut baseline, slice);
        let slice = drive(scenario, service_side, settings).await?;
        if baseline_rps > 0.0 {
            slice_ratios.push(slice.rps() / baseline_rps);
        }
        accumulate(&mut service, slice);
    }
    let (Some(baseline), Some(service)) = (baseline, service) else {
        return Err(anyhow!("no load run"));
    };
    log_outcome(scenario, baseline_side.label, &baseline);
    log_outcome(scenario, service_side.label, &service);
    Ok(Pair {
        baseline,
        service,
        slice_ratios,
    })
}

/// Median of `values` (0 when empty): the ratio reported per scenario, so
/// one slice hit by a burst of outside load does not decide it.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn accumulate(total: &mut Option<LoadOutcome>, slice: LoadOutcome) {
    match total {
        Some(total) => total.merge(slice),
        None => *total = Some(slice),
    }
}

async fn drive(scenario: Scenario, side: &Side<'_>, settings: LoadSettings) -> Result<LoadOutcome> {
    load::drive(scenario, side.target, settings, &side.pids)
        .await
        .with_context(|| format!("{} against {}", scenario.label(), side.label))
}

fn log_outcome(scenario: Scenario, what: &str, outcome: &LoadOutcome) {
    progress(format_args!(
        "{:<17} {:<22} {:>8.0} req/s  p50 {:.3} ms  p99 {:.3} ms  cpu us/req {:.1}+{:.1} (client {:.1})  errors {}{}",
        scenario.label(),
        what,
        outcome.rps(),
        outcome.quantile_ms(0.5),
        outcome.quantile_ms(0.99),
        outcome.cpu_us_per_request(outcome.processes.first().map_or(0.0, |p| p.cpu_s)),
        outcome.cpu_us_per_request(outcome.processes.get(1).map_or(0.0, |p| p.cpu_s)),
        outcome.cpu_us_per_request(outcome.client_cpu_s),
        outcome.tally.failed,
        outcome
            .tally
            .first_failure
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    ));
}

fn idle_rss(processes: &[&ServiceProcess; 2]) -> Result<[u64; 2]> {
    Ok([processes[0].rss_kib()?, processes[1].rss_kib()?])
}

fn merge_peaks(peaks: &mut [u64; 2], outcome: &LoadOutcome) {
    for (peak, sampled) in peaks.iter_mut().zip(&outcome.processes) {
        *peak = (*peak).max(sampled.peak_rss_kib);
    }
}

fn names<'a>(processes: &[&'a ServiceProcess; 2]) -> [&'a str; 2] {
    [processes[0].name(), processes[1].name()]
}

/// Progress goes to stderr; stdout carries only the final table.
pub fn progress(message: std::fmt::Arguments<'_>) {
    eprintln!("[flipt-bench] {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[0.9, 0.2, 0.8]), 0.8);
        assert_eq!(median(&[0.9, 0.2, 0.8, 0.6]), 0.7);
    }
}
