//! A real Prometheus (Debian's `prometheus` binary) for the test: its
//! config is `deploy/prometheus/prometheus.yml` with the targets pointed at
//! the services' bound addresses and a 1 s scrape interval; it listens on a
//! free loopback port and is killed when dropped.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use flipt_testkit::{repo_root, wait_for};

/// Upper bound of the waits on Prometheus (start, scrapes).
const PROM_WAIT: Duration = Duration::from_secs(30);

/// A running Prometheus.
pub struct Prometheus {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    child: Child,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// The compose scrape config with each job's target replaced by the
/// address in `targets` (by job name), every interval at 1 s. A job of the
/// file that `targets` does not name fails the test: the dashboards rely on
/// the job names, so the two must move together.
fn scrape_config(targets: &BTreeMap<String, String>) -> String {
    let path = repo_root().join("deploy/prometheus/prometheus.yml");
    let text = std::fs::read_to_string(&path).expect("read prometheus.yml");
    let mut config: serde_norway::Value =
        serde_norway::from_str(&text).expect("prometheus.yml is YAML");
    let global = &mut config["global"];
    global["scrape_interval"] = "1s".into();
    global["scrape_timeout"] = "1s".into();
    global["evaluation_interval"] = "1s".into();
    let jobs = config["scrape_configs"]
        .as_sequence_mut()
        .expect("scrape_configs is a list");
    for job in jobs {
        let name = job["job_name"].as_str().unwrap_or("").to_owned();
        let address = targets
            .get(name.as_str())
            .unwrap_or_else(|| panic!("prometheus.yml job {name:?} has no test target"));
        job["static_configs"] = serde_norway::from_str(&format!("[{{targets: [\"{address}\"]}}]"))
            .expect("static config");
    }
    serde_norway::to_string(&config).expect("serialize config")
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (job name → `host:port`; the
    /// `prometheus` job scrapes Prometheus itself) and waits until it is
    /// ready.
    pub async fn start(targets: &BTreeMap<String, String>) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        // Prometheus cannot report a port it picked itself: take a free one
        // from the kernel and hand it over.
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind probe");
            probe.local_addr().expect("probe addr").port()
        };
        let mut targets = targets.clone();
        targets.insert("prometheus".into(), format!("127.0.0.1:{port}"));
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, scrape_config(&targets)).expect("write config");
        let url = format!("http://127.0.0.1:{port}");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run prometheus ({e}): install Debian's `prometheus` package \
                     (tools/ensure-promtool.sh, run by make tools)"
                )
            });
        let prometheus = Prometheus {
            url,
            child,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("http client"),
            _dir: dir,
        };
        prometheus.wait_ready().await;
        prometheus
    }

    async fn wait_ready(&self) {
        let what = format!("prometheus at {} to be ready", self.url);
        wait_for(&what, PROM_WAIT, || async {
            let ready = self.http.get(format!("{}/-/ready", self.url)).send().await;
            ready.is_ok_and(|r| r.status().is_success()).then_some(())
        })
        .await;
    }

    /// `lastScrape` of every active target, by `job`, with its health.
    async fn targets(&self) -> BTreeMap<String, (String, String)> {
        let body: Value = self
            .http
            .get(format!("{}/api/v1/targets?state=active", self.url))
            .send()
            .await
            .expect("targets request")
            .json()
            .await
            .expect("targets json");
        let mut out = BTreeMap::new();
        for target in body["data"]["activeTargets"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let job = target["labels"]["job"].as_str().unwrap_or("").to_owned();
            let last = target["lastScrape"].as_str().unwrap_or("").to_owned();
            let health = target["health"].as_str().unwrap_or("").to_owned();
            out.insert(job, (last, health));
        }
        out
    }

    /// Waits until every target has been scraped `scrapes` more times and
    /// the last scrape of each was healthy. A scrape that was running when
    /// this was called counts as the first, so two mean at least one scrape
    /// that started after the call.
    pub async fn wait_scrapes(&self, scrapes: usize) {
        let deadline = tokio::time::Instant::now() + PROM_WAIT;
        let mut seen = self.targets().await;
        let mut counts: BTreeMap<String, usize> = seen.keys().map(|job| (job.clone(), 0)).collect();
        loop {
            let now = self.targets().await;
            for (job, (last, _)) in &now {
                let previous = seen.get(job).map(|(l, _)| l.as_str());
                if previous != Some(last.as_str()) && !last.starts_with("0001-") {
                    *counts.entry(job.clone()).or_insert(0) += 1;
                }
            }
            seen = now;
            let done = counts.values().all(|n| *n >= scrapes)
                && seen.values().all(|(_, health)| health == "up");
            if done && !seen.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "prometheus did not scrape every target {scrapes} times within {PROM_WAIT:?}: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `expr` (instant at `end`, or over `[start, end]` every second)
    /// and returns the result list, or Prometheus' error message.
    pub async fn query(
        &self,
        expr: &str,
        instant: bool,
        start: f64,
        end: f64,
    ) -> Result<Vec<Value>, String> {
        let data = if instant {
            self.api(
                "query",
                &[("query", expr.to_owned()), ("time", format!("{end:.3}"))],
            )
            .await?
        } else {
            self.api(
                "query_range",
                &[
                    ("query", expr.to_owned()),
                    ("start", format!("{start:.3}")),
                    ("end", format!("{end:.3}")),
                    ("step", "1".to_owned()),
                ],
            )
            .await?
        };
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// Label values of `label` on the series matching `selector` in
    /// `[start, end]`: what Grafana's `label_values(selector, label)` lists.
    pub async fn label_values(
        &self,
        selector: &str,
        label: &str,
        start: f64,
        end: f64,
    ) -> Result<Vec<String>, String> {
        let data = self
            .api(
                "series",
                &[
                    ("match[]", selector.to_owned()),
                    ("start", format!("{start:.3}")),
                    ("end", format!("{end:.3}")),
                ],
            )
            .await?;
        let mut values: Vec<String> = data
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|series| series[label].as_str().map(str::to_owned))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }

    /// POSTs `form` to `/api/v1/<endpoint>` and returns the answer's `data`,
    /// or Prometheus' error type and message.
    async fn api(&self, endpoint: &str, form: &[(&str, String)]) -> Result<Value, String> {
        let body: Value = self
            .http
            .post(format!("{}/api/v1/{endpoint}", self.url))
            .form(form)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?
            .json()
            .await
            .map_err(|e| format!("answer is not JSON: {e}"))?;
        if body["status"] != "success" {
            return Err(format!(
                "{}: {}",
                body["errorType"].as_str().unwrap_or("error"),
                body["error"].as_str().unwrap_or("?")
            ));
        }
        Ok(body["data"].clone())
    }

    /// Stops Prometheus.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(PROM_WAIT, self.child.wait()).await;
    }
}
