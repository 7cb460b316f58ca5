//! The README's alert queries ("Alert on, per service") against the live
//! Prometheus of the dashboard test: each must parse and run, and those
//! that describe a fault must not fire on the healthy stack the drive
//! leaves (an alert that always fires is as useless as one that never
//! does).

use super::prometheus::Prometheus;

/// Alerts the drive does not provoke: it keeps the cache service up and
/// connected (the stale-state and unreachable-cache alerts) and runs one
/// cache replica, which gets every lookup.
const QUIET_WHEN_HEALTHY: &[&str] = &[
    "cache unreachable from evaluation",
    "a cache replica gets no lookups while the others do",
    "evaluation answering from flag state it cannot confirm (push stream down)",
];

/// `(what, query)` of every row of the README's alert table.
fn readme_alerts() -> Vec<(String, String)> {
    let readme =
        std::fs::read_to_string(flipt_testkit::repo_root().join("README.md")).expect("README");
    let table = readme
        .split("Alert on, per service:")
        .nth(1)
        .expect("README has the alert table");
    table
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .filter_map(|row| {
            let (what, query) = row.trim_matches('|').split_once(" | `")?;
            Some((
                what.trim().to_owned(),
                query.trim().trim_end_matches('`').to_owned(),
            ))
        })
        .collect()
}

/// Appends one line per alert query that fails to run, or that fires
/// although it is in [`QUIET_WHEN_HEALTHY`].
pub(super) async fn check_readme_alerts(
    prometheus: &Prometheus,
    at: f64,
    failures: &mut Vec<String>,
) {
    let alerts = readme_alerts();
    for quiet in QUIET_WHEN_HEALTHY {
        assert!(
            alerts.iter().any(|(what, _)| what == quiet),
            "README alert table lacks {quiet:?}: {alerts:?}"
        );
    }
    for (what, query) in &alerts {
        match prometheus.query(query, true, at, at).await {
            Err(err) => failures.push(format!("README alert {what:?}: {err}")),
            Ok(firing) if !firing.is_empty() && QUIET_WHEN_HEALTHY.contains(&what.as_str()) => {
                failures.push(format!(
                    "README alert {what:?} fires on a healthy stack: {firing:?}"
                ));
            }
            Ok(_) => {}
        }
    }
}
