//! Live dashboard test: the three services and a real Prometheus scraping
//! them with the repository's scrape config; after a drive that exercises
//! what the dashboards show, every PromQL expression of every dashboard
//! (panel targets, annotations, variable queries) runs through Prometheus'
//! HTTP API with the variables substituted, and must parse and return data.
//!
//! The README's alert queries run there too (see [`alerts`]).
//!
//! Each panel runs twice: with the variables at their defaults ("All")
//! and with real values read from Prometheus like Grafana's variable
//! drop-downs (preferring the flag and service the drive exercises fully).
//! Failures name dashboard, panel, target and values.

mod alerts;
mod drive;
pub(crate) mod grafana;
mod prometheus;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use flipt_testkit::{
    ReporterOptions, SegmentSink, Stack, StackOptions, demo_flags, eventually, fixtures,
};
use serde_json::Value;

use drive::Edit;
use grafana::{Builtins, Dashboard, load_dashboards, regex_escape, substitute};
use prometheus::Prometheus;

/// Values picked for variables when they are offered: the namespace and
/// flag every panel of the evaluations dashboard has data for, and the
/// service that has server, client and process metrics.
const PREFERRED: &[(&str, &str)] = &[
    ("namespace", "default"),
    ("flag", "theme"),
    ("service", "flipt-evaluation"),
];

/// Panels and annotations that must exist, so the live run below covers
/// them: (dashboard title, panel title or `annotation` name).
const REQUIRED: &[(&str, &str)] = &[
    ("Flipt Services", "HTTP requests by route and status"),
    ("Flipt Services", "HTTP latency p50 / p95 / p99 by route"),
    ("Flipt Services", "Error ratio by protocol"),
    ("Flipt Services", "Requests by protocol"),
    ("Flipt Services", "Worker utilisation"),
    ("Flipt Services", "Alive tasks"),
    ("Flipt Services", "Global queue depth"),
    ("Flipt Services", "Flags changed"),
    ("Flipt Evaluations", "Flags changed"),
];

/// Fails naming every [`REQUIRED`] panel or annotation that is missing.
fn assert_required(dashboards: &[Dashboard]) {
    let mut missing = Vec::new();
    for (board, name) in REQUIRED {
        let found = dashboards.iter().any(|dashboard| {
            dashboard.title() == *board
                && dashboard
                    .queries()
                    .iter()
                    .any(|query| query.place.contains(&format!("{name:?}")))
        });
        if !found {
            missing.push(format!("{board}: {name}"));
        }
    }
    assert!(missing.is_empty(), "dashboards lack {missing:?}");
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_returns_data_from_a_live_prometheus() {
    let start = unix_now() - 1.0;
    let sink = SegmentSink::start().await.expect("segment sink");
    let flags = fixtures::copy(demo_flags()).expect("copy demo flags");
    // The reporter pings the sink at once and then every two seconds.
    let options = StackOptions {
        reporter: Some(
            ReporterOptions::pinging(sink.url()).set("FLIPT_TELEMETRY_REPORT_INTERVAL", "2s"),
        ),
        ..Default::default()
    };
    let stack = Stack::start_with(flags.path(), options)
        .await
        .expect("stack starts");
    let reporter = stack.reporter.as_ref().expect("reporter");

    let targets = BTreeMap::from([
        (
            "flipt-evaluation".to_owned(),
            stack.evaluation.http_addr.to_string(),
        ),
        ("flipt-cache".to_owned(), stack.cache.http_addr.to_string()),
        (
            "flipt-telemetry-reporter".to_owned(),
            reporter.http_addr.to_string(),
        ),
    ]);
    let prometheus = Prometheus::start(&targets).await;
    prometheus.wait_scrapes(1).await;

    // Four rounds, each across a scrape, so rates have two samples with
    // traffic between them; a good and a bad flag edit in between.
    for round in 0..4 {
        drive::round(&stack, round).await;
        match round {
            1 => drive::edit_flags(&stack, Edit::Valid).await,
            2 => drive::edit_flags(&stack, Edit::Invalid).await,
            _ => {}
        }
        prometheus.wait_scrapes(1).await;
    }
    eventually("a telemetry ping at the sink", || async {
        sink.received() > 0
    })
    .await;
    prometheus.wait_scrapes(2).await;

    let end = unix_now();
    let builtins = Builtins {
        // What Grafana computes for a 1 s scrape interval and step.
        rate_interval: "4s".into(),
        interval: "1s".into(),
        range: format!("{}s", (end - start).ceil() as u64 + 1),
    };
    let mut failures = Vec::new();
    let dashboards = load_dashboards();
    assert_eq!(dashboards.len(), 4, "expected the four Flipt dashboards");
    assert_required(&dashboards);
    for dashboard in &dashboards {
        check_dashboard(&prometheus, dashboard, &builtins, start, end, &mut failures).await;
    }

    alerts::check_readme_alerts(&prometheus, end, &mut failures).await;
    readme_lists_every_metric(&[
        &stack.evaluation.registry,
        &stack.cache.registry,
        &reporter.registry,
    ]);

    prometheus.stop().await;
    stack.stop().await.expect("stack stops");
    assert!(
        failures.is_empty(),
        "{} dashboard queries failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every metric family the services export (after the drive, so families
/// created on first use exist) is in the README's observability reference.
fn readme_lists_every_metric(registries: &[&::prometheus::Registry]) {
    let readme =
        std::fs::read_to_string(flipt_testkit::repo_root().join("README.md")).expect("README");
    let section = readme
        .split("## Observability reference")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has an Observability reference section");
    let mut missing = std::collections::BTreeSet::new();
    for registry in registries {
        for family in registry.gather() {
            if !section.contains(&format!("`{}`", family.name())) {
                missing.insert(family.name().to_owned());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README observability reference lacks {missing:?}"
    );
}

/// Resolves the variables of `dashboard` and runs every query with the
/// defaults and with real values; appends one line per failure.
async fn check_dashboard(
    prometheus: &Prometheus,
    dashboard: &Dashboard,
    builtins: &Builtins,
    start: f64,
    end: f64,
    failures: &mut Vec<String>,
) {
    let title = dashboard.title().to_owned();
    let mut defaults: Vec<(String, String)> = Vec::new();
    let mut real: Vec<(String, String)> = Vec::new();
    for variable in dashboard.variables() {
        let Some((selector, label)) = variable.label_values() else {
            failures.push(format!(
                "{title}: variable {} ({}) is not label_values(...): {:?}",
                variable.name, variable.kind, variable.query
            ));
            continue;
        };
        let selector = selector.unwrap_or_else(|| format!("{{{label}!=\"\"}}"));
        let selector = substitute(&selector, &real, builtins);
        let options = match prometheus.label_values(&selector, &label, start, end).await {
            Ok(options) if !options.is_empty() => options,
            Ok(_) => {
                failures.push(format!(
                    "{title}: variable {} has no values: {}",
                    variable.name, variable.query
                ));
                continue;
            }
            Err(error) => {
                failures.push(format!(
                    "{title}: variable {} query failed: {error}: {}",
                    variable.name, variable.query
                ));
                continue;
            }
        };
        let preferred = PREFERRED
            .iter()
            .find(|(name, _)| *name == variable.name)
            .map(|(_, value)| (*value).to_owned());
        let chosen = match preferred {
            Some(value) if options.contains(&value) => value,
            Some(value) => {
                failures.push(format!(
                    "{title}: variable {} does not offer {value:?}: {options:?}",
                    variable.name
                ));
                options[0].clone()
            }
            None => options[0].clone(),
        };
        let default = variable
            .all_value
            .clone()
            .unwrap_or_else(|| regex_escape(&chosen));
        defaults.push((variable.name.clone(), default));
        real.push((variable.name.clone(), regex_escape(&chosen)));
    }

    for query in dashboard.queries() {
        for (label, values) in [("defaults", &defaults), ("values", &real)] {
            let expr = substitute(&query.expr, values, builtins);
            let shown: Vec<String> = values.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let place = format!(
                "{title} ({}) {} [{label}: {}]",
                dashboard.file,
                query.place,
                shown.join(", ")
            );
            if expr.contains('$') {
                failures.push(format!("{place}: unresolved variable in {expr}"));
                continue;
            }
            match prometheus.query(&expr, query.instant, start, end).await {
                Err(error) => failures.push(format!("{place}: {error}: {expr}")),
                Ok(result) if result.is_empty() => {
                    failures.push(format!("{place}: empty result: {expr}"));
                }
                Ok(result) if !has_number(&result) => {
                    failures.push(format!("{place}: only NaN values: {expr}"));
                }
                Ok(_) => {}
            }
        }
    }
}

/// True when some sample of an instant or range result is a number.
fn has_number(result: &[Value]) -> bool {
    let is_number = |sample: &Value| {
        sample[1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(|v| !v.is_nan())
    };
    result.iter().any(|series| {
        is_number(&series["value"])
            || series["values"]
                .as_array()
                .is_some_and(|values| values.iter().any(is_number))
    })
}
