//! The goals of `make bench`, checked against one run's measurements.

use crate::{
    micro::FIVE_BY_THREE,
    report::{Goal, Memory, Report},
    scenario::Scenario,
    stack::Mode,
};

/// Largest p99 of a flag edit reaching every evaluation replica.
const PROPAGATION_P99_MS: f64 = 1000.0;

impl Report {
    /// Checks the goals against the measurements.
    pub fn evaluate_goals(&mut self) {
        let mut goals = Vec::new();
        for (mode, scenario, bound) in [
            (Mode::Metrics, Scenario::GrpcVariant, 0.8),
            (Mode::Traced, Scenario::GrpcVariant, 0.6),
            (Mode::Metrics, Scenario::RestVariant, 0.7),
            (Mode::NearCacheOff, Scenario::GrpcVariant, 0.8),
        ] {
            let row = self.row(mode, scenario);
            let name = match row {
                Some(row) => format!(
                    "{} vs {}, {}",
                    scenario.label(),
                    row.hops.label(),
                    mode.label()
                ),
                None => format!("{} vs echo, {}", scenario.label(), mode.label()),
            };
            let ratio = row.map(|row| row.ratio);
            goals.push(Goal {
                name,
                target: format!(">= {bound:.2}"),
                measured: ratio.map_or_else(|| "not run".to_owned(), |r| format!("{r:.2}")),
                met: ratio.map(|r| r >= bound),
            });
        }
        goals.push(self.metrics_cost());
        goals.push(self.near_cache_gain());
        goals.push(self.propagation_goal());
        goals.extend(self.peer_goals());
        goals.extend(self.memory_goals());

        let five_by_three = self.micro.iter().find(|m| m.id == FIVE_BY_THREE);
        goals.push(Goal {
            name: "flipt-core evaluation, 5 rules x 3 constraints".to_owned(),
            target: "< 2000 ns".to_owned(),
            measured: five_by_three.map_or_else(
                || "not run (cargo bench -p flipt-core)".to_owned(),
                |m| format!("{:.0} ns", m.mean_ns),
            ),
            met: five_by_three.map(|m| m.mean_ns < 2000.0),
        });
        self.goals = goals;
    }

    /// Each run is compared with the baseline run right before it, so the
    /// cost of metrics is the drop of that ratio: machine load that changed
    /// between the two runs cancels out.
    fn metrics_cost(&self) -> Goal {
        let off = self.row(Mode::Off, Scenario::GrpcVariant);
        let on = self.row(Mode::Metrics, Scenario::GrpcVariant);
        let cost = match (off, on) {
            (Some(off), Some(on)) if off.ratio > 0.0 => Some((
                1.0 - on.ratio / off.ratio,
                1.0 - on.service.rps / off.service.rps,
            )),
            _ => None,
        };
        Goal {
            name: "metrics on vs off, gRPC Variant throughput cost".to_owned(),
            target: "<= 5%".to_owned(),
            measured: cost.map_or_else(
                || "not run".to_owned(),
                |(normalised, raw)| {
                    format!(
                        "{:.1}% (raw req/s: {:.1}%)",
                        normalised * 100.0,
                        raw * 100.0
                    )
                },
            ),
            met: cost.map(|(normalised, _)| normalised <= 0.05),
        }
    }

    /// Throughput with the near cache over without it (both with metrics),
    /// for the record: no target.
    fn near_cache_gain(&self) -> Goal {
        let on = self.row(Mode::Metrics, Scenario::GrpcVariant);
        let off = self.row(Mode::NearCacheOff, Scenario::GrpcVariant);
        let gain = match (on, off) {
            (Some(on), Some(off)) if off.service.rps > 0.0 => {
                Some(on.service.rps / off.service.rps)
            }
            _ => None,
        };
        Goal {
            name: "near cache on vs off, gRPC Variant req/s".to_owned(),
            target: "(record)".to_owned(),
            measured: gain.map_or_else(|| "not run".to_owned(), |g| format!("{g:.2}x")),
            met: None,
        }
    }

    fn propagation_goal(&self) -> Goal {
        let p99 = self.propagation.as_ref().map(|p| p.p99_ms);
        Goal {
            name: "flag edit -> every evaluation replica answers it, p99".to_owned(),
            target: format!("<= {PROPAGATION_P99_MS:.0} ms"),
            measured: p99.map_or_else(|| "not run".to_owned(), |ms| format!("{ms:.1} ms")),
            met: p99.map(|ms| ms <= PROPAGATION_P99_MS),
        }
    }

    /// REST variant against the peer, same load, same run.
    fn peer_goals(&self) -> Vec<Goal> {
        let measured = self.peer.as_ref().and_then(|peer| {
            let (flipt, edge) = (peer.flipt.as_ref()?, peer.peer.as_ref()?);
            Some((peer.ratio, flipt.p99_ms, edge.p99_ms))
        });
        let skipped = || {
            self.peer
                .as_ref()
                .and_then(|peer| peer.skipped.clone())
                .map_or_else(
                    || "not run".to_owned(),
                    |reason| format!("skipped ({reason})"),
                )
        };
        vec![
            Goal {
                name: "REST variant vs Unleash Edge, req/s (metrics on)".to_owned(),
                target: ">= 1.30".to_owned(),
                measured: measured.map_or_else(skipped, |(ratio, _, _)| format!("{ratio:.2}")),
                met: measured.map(|(ratio, _, _)| ratio >= 1.3),
            },
            Goal {
                name: "REST variant vs Unleash Edge, p99".to_owned(),
                target: "<= peer's".to_owned(),
                measured: measured.map_or_else(skipped, |(_, ours, theirs)| {
                    format!("{ours:.2} ms vs {theirs:.2} ms")
                }),
                met: measured.map(|(_, ours, theirs)| ours <= theirs),
            },
        ]
    }

    fn memory_goals(&self) -> Vec<Goal> {
        let services: Vec<&Memory> = self.memory.iter().filter(|m| m.is_service()).collect();
        let mut goals = Vec::new();
        for (name, bound, pick) in [
            (
                "idle RSS per service",
                20.0,
                (|m: &Memory| m.idle_mib) as fn(&Memory) -> f64,
            ),
            ("RSS per service under load", 64.0, |m: &Memory| m.load_mib),
        ] {
            let worst = services
                .iter()
                .map(|m| (pick(m), m.process.as_str()))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            goals.push(Goal {
                name: format!("{name} (largest)"),
                target: format!("<= {bound:.0} MiB"),
                measured: worst.map_or_else(
                    || "not run".to_owned(),
                    |(mib, process)| format!("{mib:.1} MiB ({process})"),
                ),
                met: worst.map(|(mib, _)| mib <= bound),
            });
        }
        goals
    }
}
