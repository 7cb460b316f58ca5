//! Static checks of the observability files: the Prometheus config passes
//! `promtool check config` and scrapes the three services; the Grafana
//! dashboards are valid dashboard JSON whose datasource uids are all
//! provisioned, and match their generator (`grafana/generate.py`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value as Json;
use serde_norway::Value as Yaml;

use super::{SERVICE_PORTS, root, run_tool, strings};
use crate::observability::dashboards::grafana::load_dashboards;

#[test]
fn prometheus_config_passes_promtool_and_scrapes_the_services() {
    let (status, output) =
        flipt_testkit::promtool(&["check", "config", "deploy/prometheus/prometheus.yml"], "")
            .unwrap_or_else(|error| panic!("{error}"));
    assert!(status.success(), "promtool check config failed:\n{output}");

    let text =
        std::fs::read_to_string(root().join("deploy/prometheus/prometheus.yml")).expect("read");
    let config: Yaml = serde_norway::from_str(&text).expect("YAML");
    let mut scraped = BTreeSet::new();
    for job in config["scrape_configs"].as_sequence().into_iter().flatten() {
        for group in job["static_configs"].as_sequence().into_iter().flatten() {
            scraped.extend(strings(&group["targets"]));
        }
    }
    for (service, _, http) in SERVICE_PORTS {
        let target = format!("{service}:{http}");
        assert!(
            scraped.contains(&target),
            "prometheus.yml does not scrape {target}: {scraped:?}"
        );
    }
}

/// Provisioned datasources: uid → type.
fn provisioned_datasources() -> BTreeMap<String, String> {
    let dir = root().join("grafana/provisioning/datasources");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("datasources dir").flatten() {
        let text = std::fs::read_to_string(entry.path()).expect("read datasource file");
        let value: Yaml = serde_norway::from_str(&text).expect("datasources are YAML");
        for source in value["datasources"].as_sequence().into_iter().flatten() {
            let uid = source["uid"]
                .as_str()
                .expect("every datasource has a fixed uid");
            let kind = source["type"].as_str().unwrap_or("").to_owned();
            assert!(
                out.insert(uid.to_owned(), kind).is_none(),
                "datasource uid {uid} twice"
            );
        }
    }
    out
}

/// Every datasource uid a dashboard refers to: `datasource` objects
/// anywhere, and Explore links naming a datasource.
fn referenced_uids(value: &Json, out: &mut BTreeSet<String>) {
    match value {
        Json::Object(map) => {
            for (key, child) in map {
                if key == "datasource"
                    && let Some(uid) = child["uid"].as_str()
                {
                    out.insert(uid.to_owned());
                }
                if key == "url"
                    && let Some(url) = child.as_str()
                    && url.contains("/explore?")
                {
                    let decoded = url.replace("%22", "\"").replace("%3A", ":");
                    for part in decoded.split("\"datasource\":\"").skip(1) {
                        out.insert(part.split('"').next().unwrap_or("").to_owned());
                    }
                }
                referenced_uids(child, out);
            }
        }
        Json::Array(items) => items.iter().for_each(|item| referenced_uids(item, out)),
        _ => {}
    }
}

#[test]
fn dashboards_are_valid_and_use_provisioned_datasources() {
    let datasources = provisioned_datasources();
    assert_eq!(
        datasources.get("flipt_prometheus").map(String::as_str),
        Some("prometheus")
    );
    assert_eq!(
        datasources.get("flipt_jaeger").map(String::as_str),
        Some("jaeger")
    );

    let mut uids = BTreeSet::new();
    let mut problems = Vec::new();
    let dashboards = load_dashboards();
    let titles: BTreeSet<&str> = dashboards.iter().map(|d| d.title()).collect();
    for expected in [
        "Flipt Evaluations",
        "Flipt Services",
        "Flipt Cache & Storage",
        "Flipt Telemetry",
    ] {
        assert!(
            titles.contains(expected),
            "no dashboard titled {expected:?}: {titles:?}"
        );
    }
    for dashboard in &dashboards {
        let file = &dashboard.file;
        let json = &dashboard.json;
        if json["schemaVersion"].as_u64().is_none_or(|v| v < 36) {
            problems.push(format!(
                "{file}: schemaVersion missing or old: {}",
                json["schemaVersion"]
            ));
        }
        match json["uid"].as_str() {
            Some(uid) if !uid.is_empty() && uid.len() <= 40 => {
                if !uids.insert(uid.to_owned()) {
                    problems.push(format!("{file}: uid {uid} used twice"));
                }
            }
            other => problems.push(format!("{file}: bad uid {other:?}")),
        }
        let mut ids = BTreeSet::new();
        for panel in dashboard.panels() {
            let id = panel["id"].as_u64();
            if !id.is_some_and(|id| ids.insert(id)) {
                problems.push(format!("{file}: panel id {id:?} missing or repeated"));
            }
            let grid = &panel["gridPos"];
            let (x, w) = (grid["x"].as_u64(), grid["w"].as_u64());
            if !matches!((x, w), (Some(x), Some(w)) if w > 0 && x + w <= 24)
                || grid["h"].as_u64().is_none()
            {
                problems.push(format!("{file}: panel {id:?} has a bad gridPos {grid}"));
            }
            if panel["type"].as_str().is_none_or(str::is_empty)
                || panel["title"].as_str().is_none_or(str::is_empty)
            {
                problems.push(format!("{file}: panel {id:?} lacks a type or title"));
            }
        }
        let variables: BTreeSet<String> =
            dashboard.variables().into_iter().map(|v| v.name).collect();
        for query in dashboard.queries() {
            for name in query.expr.split('$').skip(1) {
                let name: String = name
                    .trim_start_matches('{')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.starts_with("__") && !variables.contains(&name) {
                    problems.push(format!(
                        "{file}: {} uses undefined variable ${name}",
                        query.place
                    ));
                }
            }
        }
        let mut used = BTreeSet::new();
        referenced_uids(json, &mut used);
        used.remove("-- Grafana --");
        for uid in used {
            if !datasources.contains_key(&uid) {
                problems.push(format!("{file}: datasource uid {uid:?} is not provisioned"));
            }
        }
    }
    assert!(problems.is_empty(), "dashboards:\n{}", problems.join("\n"));
}

#[test]
fn dashboards_match_their_generator() {
    // The generator builds the dashboards with grafana-foundation-sdk,
    // which tools/venv.sh installs into .venv.
    let script: &Path = Path::new("grafana/generate.py");
    let (ok, output) = run_tool(
        &root().join(".venv/bin/python").display().to_string(),
        &[&script.display().to_string(), "--check"],
        "tools/venv.sh",
    );
    assert!(ok, "{output}");
}
