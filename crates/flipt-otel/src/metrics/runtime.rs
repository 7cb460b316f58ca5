//! Tokio runtime metrics (`tokio_*`), the counterpart of the `go_*`
//! families a Go service exposes: read from the runtime's stable metrics API
//! at scrape time, so they cost nothing between scrapes.
//!
//! * `tokio_workers`: worker threads of the runtime;
//! * `tokio_alive_tasks`: tasks spawned and not yet finished;
//! * `tokio_global_queue_depth`: tasks waiting in the shared injection queue;
//! * `tokio_workers_busy_seconds_total`: time all workers spent running
//!   tasks (its rate over the worker count is the runtime's utilisation);
//! * `tokio_workers_park_total`: times workers went to sleep for lack of work.
//!
//! Busy time and park counts are per worker in Tokio; they are summed here,
//! which keeps the families label-free (a worker index says nothing an
//! operator can act on).

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, IntCounter, IntGauge, Registry};
use tokio::runtime::Handle;

use crate::OtelError;

const WORKERS: &str = "tokio_workers";
const ALIVE_TASKS: &str = "tokio_alive_tasks";
const GLOBAL_QUEUE_DEPTH: &str = "tokio_global_queue_depth";
const BUSY_SECONDS: &str = "tokio_workers_busy_seconds_total";
const PARKS: &str = "tokio_workers_park_total";

/// Registers the `tokio_*` families of the runtime `handle` belongs to in
/// `registry` (call from inside the service's runtime with
/// `Handle::current()`).
pub fn register_runtime_metrics(registry: &Registry, handle: Handle) -> Result<(), OtelError> {
    let collector = RuntimeCollector::new(handle)?;
    registry
        .register(Box::new(collector))
        .map_err(|source| OtelError::Metric {
            name: "tokio_*",
            source,
        })
}

struct RuntimeCollector {
    handle: Handle,
    workers: IntGauge,
    alive_tasks: IntGauge,
    global_queue_depth: IntGauge,
    busy_seconds: Counter,
    parks: IntCounter,
    descs: Vec<Desc>,
}

impl RuntimeCollector {
    fn new(handle: Handle) -> Result<Self, OtelError> {
        let error = |name: &'static str| move |source| OtelError::Metric { name, source };
        let workers = IntGauge::new(WORKERS, "Number of worker threads of the Tokio runtime.")
            .map_err(error(WORKERS))?;
        let alive_tasks = IntGauge::new(
            ALIVE_TASKS,
            "Number of tasks alive (spawned, not yet finished) in the Tokio runtime.",
        )
        .map_err(error(ALIVE_TASKS))?;
        let global_queue_depth = IntGauge::new(
            GLOBAL_QUEUE_DEPTH,
            "Number of tasks waiting in the Tokio runtime's global queue.",
        )
        .map_err(error(GLOBAL_QUEUE_DEPTH))?;
        let busy_seconds = Counter::new(
            BUSY_SECONDS,
            "Total time the Tokio runtime's workers spent running tasks, summed over workers.",
        )
        .map_err(error(BUSY_SECONDS))?;
        let parks = IntCounter::new(
            PARKS,
            "Total number of times the Tokio runtime's workers parked, summed over workers.",
        )
        .map_err(error(PARKS))?;
        let mut descs = Vec::new();
        for collector in [
            &workers as &dyn Collector,
            &alive_tasks,
            &global_queue_depth,
            &busy_seconds,
            &parks,
        ] {
            descs.extend(collector.desc().into_iter().cloned());
        }
        Ok(Self {
            handle,
            workers,
            alive_tasks,
            global_queue_depth,
            busy_seconds,
            parks,
            descs,
        })
    }
}

impl Collector for RuntimeCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let metrics = self.handle.metrics();
        let workers = metrics.num_workers();
        self.workers.set(saturate(workers));
        self.alive_tasks.set(saturate(metrics.num_alive_tasks()));
        self.global_queue_depth
            .set(saturate(metrics.global_queue_depth()));
        let mut busy = 0.0;
        let mut parks = 0;
        for worker in 0..workers {
            busy += metrics.worker_total_busy_duration(worker).as_secs_f64();
            parks += metrics.worker_park_count(worker);
        }
        // The runtime's totals only grow; the counters follow them.
        self.busy_seconds
            .inc_by((busy - self.busy_seconds.get()).max(0.0));
        self.parks.inc_by(parks.saturating_sub(self.parks.get()));
        let mut families = Vec::new();
        families.extend(self.workers.collect());
        families.extend(self.alive_tasks.collect());
        families.extend(self.global_queue_depth.collect());
        families.extend(self.busy_seconds.collect());
        families.extend(self.parks.collect());
        families
    }
}

fn saturate(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Value of the label-free counter or gauge `name`.
    fn metric_value(registry: &Registry, name: &str, _labels: &[(&str, &str)]) -> Option<f64> {
        let family = registry.gather().into_iter().find(|f| f.name() == name)?;
        let metric = family.get_metric().first()?;
        metric
            .counter
            .as_ref()
            .map(|c| c.value())
            .or_else(|| metric.gauge.as_ref().map(|g| g.value()))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_the_runtime_it_runs_on() {
        let registry = Registry::new();
        register_runtime_metrics(&registry, Handle::current()).expect("register");
        assert_eq!(metric_value(&registry, WORKERS, &[]), Some(2.0));

        // Tasks held open are alive; the workers run them, so busy time grows.
        let (release, held) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let mut held = held.clone();
            tasks.push(tokio::spawn(async move {
                let mut spin = 0_u64;
                for i in 0..200_000_u64 {
                    spin = spin.wrapping_add(std::hint::black_box(i));
                }
                let _ = held.wait_for(|released| *released).await;
                spin
            }));
        }
        let alive = metric_value(&registry, ALIVE_TASKS, &[]).expect("alive tasks");
        assert!(alive >= 5.0, "{alive}");
        release.send_replace(true);
        for task in tasks {
            task.await.expect("task");
        }
        // Workers publish their busy time when they park, which may come
        // just after the tasks' results: wait for it, bounded.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        let busy = loop {
            let busy = metric_value(&registry, BUSY_SECONDS, &[]).expect("busy");
            if busy > 0.0 {
                break busy;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no busy time published"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        assert!(metric_value(&registry, GLOBAL_QUEUE_DEPTH, &[]).is_some());
        assert!(metric_value(&registry, PARKS, &[]).is_some());
        // Counters never go back.
        let again = metric_value(&registry, BUSY_SECONDS, &[]).expect("busy");
        assert!(again >= busy, "{again} < {busy}");
    }
}
