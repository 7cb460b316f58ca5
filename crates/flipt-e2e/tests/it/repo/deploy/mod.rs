//! Static checks of the deployment files: `docker-compose.yml` is valid for
//! `docker-compose config -q` and everything it mounts or builds from
//! exists; `deploy/Dockerfile` copies existing paths and builds the
//! binaries compose runs; the container configs of `deploy/config` load
//! without warnings under the environment compose gives each service (the
//! Redis backend included). Prometheus and Grafana files: [`observability`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value as Yaml;

use flipt_testkit::repo_root;

mod kubernetes;
mod observability;

/// Compose service → (gRPC, HTTP) ports of DESIGN.md §3.
const SERVICE_PORTS: [(&str, u16, u16); 3] = [
    ("evaluation", 9000, 8080),
    ("cache", 9001, 8081),
    ("telemetry-reporter", 9002, 8082),
];

fn root() -> PathBuf {
    repo_root().canonicalize().expect("repository root exists")
}

fn compose() -> Yaml {
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).expect("read compose");
    let mut value: Yaml = serde_norway::from_str(&text).expect("docker-compose.yml is YAML");
    value.apply_merge().expect("YAML merge keys resolve");
    value
}

fn services(compose: &Yaml) -> BTreeMap<String, Yaml> {
    compose["services"]
        .as_mapping()
        .expect("services is a mapping")
        .iter()
        .map(|(name, service)| {
            (
                name.as_str().expect("service name").to_owned(),
                service.clone(),
            )
        })
        .collect()
}

fn strings(value: &Yaml) -> Vec<String> {
    value
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|item| item.as_str().map(str::to_owned))
        .collect()
}

/// Runs a tool and returns its combined output, or fails naming the setup
/// script that installs it.
fn run_tool(program: &str, args: &[&str], installer: &str) -> (bool, String) {
    let output = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): run {installer} (make tools)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn compose_file_passes_docker_compose_config() {
    let (ok, output) = run_tool(
        "docker-compose",
        &["-f", "docker-compose.yml", "config", "-q"],
        "tools/ensure-docker-compose.sh",
    );
    assert!(ok, "docker-compose config -q failed:\n{output}");
}

/// Bind mounts of every service as (host path, container path).
fn bind_mounts(service: &Yaml) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for volume in strings(&service["volumes"]) {
        let mut parts = volume.splitn(3, ':');
        let (Some(source), Some(target)) = (parts.next(), parts.next()) else {
            panic!("volume {volume:?} is not source:target");
        };
        if source.starts_with('.') || source.starts_with('/') {
            out.push((source.to_owned(), target.to_owned()));
        }
    }
    out
}

/// The host file behind `container_path` through `service`'s bind mounts.
fn host_path(service: &Yaml, container_path: &str) -> Option<PathBuf> {
    for (source, target) in bind_mounts(service) {
        if let Some(rest) = container_path.strip_prefix(&target) {
            return Some(root().join(source).join(rest.trim_start_matches('/')));
        }
    }
    None
}

#[test]
fn compose_mounts_builds_images_and_ports_are_sound() {
    let compose = compose();
    let services = services(&compose);
    let named_volumes: BTreeSet<String> = compose["volumes"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(name, _)| name.as_str().map(str::to_owned))
        .collect();
    let installed = dockerfile_binaries();
    let mut problems = Vec::new();

    for (name, service) in &services {
        for (source, _) in bind_mounts(service) {
            if !root().join(&source).exists() {
                problems.push(format!("{name}: mounts {source}, which does not exist"));
            }
        }
        for volume in strings(&service["volumes"]) {
            let source = volume.split(':').next().unwrap_or("");
            if !source.starts_with('.')
                && !source.starts_with('/')
                && !named_volumes.contains(source)
            {
                problems.push(format!("{name}: volume {source:?} is not declared"));
            }
        }
        if let Some(build) = service.get("build") {
            let context = root().join(build["context"].as_str().unwrap_or("."));
            let dockerfile = context.join(build["dockerfile"].as_str().unwrap_or("Dockerfile"));
            if !dockerfile.is_file() {
                problems.push(format!(
                    "{name}: builds from {}, which does not exist",
                    dockerfile.display()
                ));
            }
            let command = strings(&service["command"]);
            match command.first() {
                Some(binary) if installed.contains(binary) => {}
                other => problems.push(format!(
                    "{name}: runs {other:?}, which the image does not install"
                )),
            }
            // `--config FILE` must be a mounted file of deploy/config.
            if let Some(i) = command.iter().position(|arg| arg == "--config") {
                let file = command.get(i + 1).cloned().unwrap_or_default();
                match host_path(service, &file) {
                    Some(path) if path.is_file() => {}
                    other => problems.push(format!("{name}: --config {file} maps to {other:?}")),
                }
            }
        } else {
            // Third-party images are pinned through NAME_VERSION variables.
            let image = service["image"].as_str().unwrap_or("");
            let pinned = image
                .split_once(":${")
                .is_some_and(|(_, tag)| tag.contains("_VERSION:-") && !tag.contains("latest"));
            if !pinned {
                problems.push(format!(
                    "{name}: image {image:?} is not pinned as name:${{NAME_VERSION:-x.y}}"
                ));
            }
        }
        if let Some(depends) = service["depends_on"].as_mapping() {
            for (dependency, condition) in depends {
                let dependency = dependency.as_str().unwrap_or("");
                if !services.contains_key(dependency) {
                    problems.push(format!("{name}: depends on unknown service {dependency}"));
                }
                if condition["condition"].as_str().is_none() {
                    problems.push(format!("{name}: depends_on {dependency} has no condition"));
                }
                if condition["condition"] == "service_healthy"
                    && services[dependency].get("healthcheck").is_none()
                {
                    problems.push(format!(
                        "{name}: waits for {dependency} to be healthy, which has no healthcheck"
                    ));
                }
            }
        }
    }

    for (name, grpc, http) in SERVICE_PORTS {
        let Some(service) = services.get(name) else {
            problems.push(format!("service {name} is missing"));
            continue;
        };
        let ports = strings(&service["ports"]);
        for port in [grpc, http] {
            if !ports.contains(&format!("127.0.0.1:{port}:{port}")) {
                problems.push(format!(
                    "{name}: port {port} is not published as 127.0.0.1:{port}:{port}: {ports:?}"
                ));
            }
        }
    }

    let grafana = &services["grafana"];
    let home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
        .as_str()
        .unwrap_or("");
    if !host_path(grafana, home).is_some_and(|path| path.is_file()) {
        problems.push(format!(
            "grafana: home dashboard {home} is not a mounted file"
        ));
    }
    let provider = provider_path();
    if host_path(grafana, &provider).is_none_or(|path| path != root().join("./grafana/dashboards"))
    {
        problems.push(format!(
            "grafana: dashboard provider path {provider} is not the mount of ./grafana/dashboards"
        ));
    }
    assert!(
        problems.is_empty(),
        "docker-compose.yml:\n{}",
        problems.join("\n")
    );
}

/// Binaries `deploy/Dockerfile` copies into the image, after checking
/// that every COPY source exists and every built package and binary is
/// defined in the workspace.
fn dockerfile_binaries() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("deploy/Dockerfile")).expect("read Dockerfile");
    // Join continuation lines: `RUN a \` + `b` is one instruction.
    let joined = text.replace("\\\n", " ");
    let mut binaries = BTreeSet::new();
    for line in joined.lines().map(str::trim) {
        if let Some(args) = line.strip_prefix("COPY ") {
            if args.contains("--from=") {
                continue;
            }
            let parts: Vec<&str> = args.split_whitespace().collect();
            for source in &parts[..parts.len().saturating_sub(1)] {
                assert!(
                    root().join(source).exists(),
                    "Dockerfile copies {source}, which does not exist"
                );
            }
        }
        if line.starts_with("RUN ") && line.contains("cargo build") {
            // `-p` arguments of the cargo command only (`mkdir -p` follows).
            let cargo = line.split("cargo build").nth(1).unwrap_or("");
            let words: Vec<&str> = cargo
                .split("&&")
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            for pair in words.windows(2) {
                if pair[0] == "-p" {
                    let manifest = root().join("crates").join(pair[1]).join("Cargo.toml");
                    assert!(
                        manifest.is_file(),
                        "Dockerfile builds package {}, which does not exist",
                        pair[1]
                    );
                }
            }
            if let Some(list) = line.split("for bin in ").nth(1) {
                for bin in list.split(';').next().unwrap_or("").split_whitespace() {
                    assert!(
                        bin_defined(bin),
                        "Dockerfile copies binary {bin}, which no crate defines"
                    );
                    binaries.insert(bin.to_owned());
                }
            }
        }
    }
    assert!(!binaries.is_empty(), "Dockerfile installs no binaries");
    binaries
}

/// True when a workspace crate defines a binary target `name`.
fn bin_defined(name: &str) -> bool {
    let crates = root().join("crates");
    let main = crates.join(name).join("src/main.rs");
    main.is_file()
        || std::fs::read_dir(&crates)
            .into_iter()
            .flatten()
            .flatten()
            .any(|krate| {
                krate
                    .path()
                    .join("src/bin")
                    .join(format!("{name}.rs"))
                    .is_file()
            })
}

fn provider_path() -> String {
    let path = root().join("grafana/provisioning/dashboards/dashboards.yml");
    let text = std::fs::read_to_string(path).expect("read dashboard provider");
    let value: Yaml = serde_norway::from_str(&text).expect("provider is YAML");
    value["providers"][0]["options"]["path"]
        .as_str()
        .expect("provider path")
        .to_owned()
}

/// A compose environment value with `${NAME:-default}` resolved to its
/// default, as compose does when NAME is unset.
fn compose_default(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let inner = &rest[start + 2..start + end];
        out.push_str(inner.split_once(":-").map(|(_, d)| d).unwrap_or(""));
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

/// Loads `deploy/config/<file>` with the `FLIPT_*` environment compose
/// gives `service`, through the services' own config loader.
fn load_compose_config<S: flipt_server::ServiceConfig>(
    service: &str,
    file: &str,
) -> flipt_server::Loaded<S> {
    let services = services(&compose());
    let env: Vec<(String, String)> = services[service]["environment"]
        .as_mapping()
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            let value = match value {
                Yaml::String(text) => compose_default(text),
                other => serde_norway::to_string(other)
                    .expect("scalar")
                    .trim()
                    .to_owned(),
            };
            (key.as_str().expect("env name").to_owned(), value)
        })
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let yaml =
        std::fs::read_to_string(root().join("deploy/config").join(file)).expect("read config");
    flipt_server::load_from::<S>(Some(&yaml), &env)
        .unwrap_or_else(|e| panic!("deploy/config/{file} with {service}'s compose env: {e}"))
}

#[test]
fn container_configs_load_cleanly_with_the_compose_environment() {
    use flipt_cache::CacheServiceConfig;
    use flipt_evaluation::EvaluationServiceConfig;
    use flipt_telemetry_reporter::TelemetryReporterConfig;

    let evaluation = load_compose_config::<EvaluationServiceConfig>("evaluation", "evaluation.yml");
    assert_eq!(evaluation.warnings, Vec::<String>::new());
    assert_eq!(
        evaluation.config.services.cache.address,
        "http://cache:9001"
    );
    assert!(evaluation.config.tracing.enabled);
    assert_eq!(
        evaluation.config.tracing.otlp.endpoint,
        "http://jaeger:4317"
    );

    let cache = load_compose_config::<CacheServiceConfig>("cache", "cache.yml");
    assert_eq!(cache.warnings, Vec::<String>::new());
    let settings = &cache.config.service;
    assert_eq!(
        settings.cache.backend.as_str(),
        "redis",
        "compose selects redis"
    );
    assert_eq!(settings.cache.redis.host, "redis");
    assert_eq!(settings.cache.redis.port, 6379);
    assert_eq!(settings.storage.local.path, Path::new("/etc/flipt/flags"));

    let reporter = load_compose_config::<TelemetryReporterConfig>(
        "telemetry-reporter",
        "telemetry-reporter.yml",
    );
    assert_eq!(reporter.warnings, Vec::<String>::new());
    assert!(
        reporter.config.service.telemetry.enabled,
        "on by default, as documented"
    );
    assert_eq!(
        reporter.config.meta.state_directory,
        Path::new("/var/opt/flipt")
    );
}
