//! `deploy/kubernetes`: every overlay renders with `kubectl kustomize`,
//! every object passes `kubernetes-validate` (the Kubernetes API schemas,
//! strict), and the rendered workloads are checked against the binaries:
//! each flipt-rs container runs its binary with the manifest's env and
//! `--print-config`, and its ports, probes and cache address must match
//! the effective config. Hardening (non-root, read-only root filesystem,
//! no capabilities, RuntimeDefault seccomp), probes, resources and spread
//! constraints are required of every container and pod.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize as _;
use serde_norway::Value as Yaml;

use super::root;

/// The Kubernetes version the objects are validated against.
const KUBERNETES_VERSION: &str = "1.37.0";

const OVERLAYS: [&str; 3] = ["base", "overlays/redis", "overlays/monitoring"];

/// The three services' binaries.
const BINARIES: [&str; 3] = [
    "flipt-evaluation",
    "flipt-cache",
    "flipt-telemetry-reporter",
];

fn render(overlay: &str) -> (String, Vec<Yaml>) {
    let dir = root().join("deploy/kubernetes").join(overlay);
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run kubectl ({e}): install it (apt-get install kubectl) to render deploy/kubernetes")
        });
    assert!(
        output.status.success(),
        "kubectl kustomize {overlay}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let mut objects = Vec::new();
    for document in serde_norway::Deserializer::from_str(&text) {
        let value = Yaml::deserialize(document).expect("rendered YAML");
        if !value.is_null() {
            objects.push(value);
        }
    }
    (text, objects)
}

fn of_kind<'a>(objects: &'a [Yaml], kind: &str) -> Vec<&'a Yaml> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn name(object: &Yaml) -> &str {
    object["metadata"]["name"].as_str().expect("metadata.name")
}

fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} missing: build the services first (make test does)",
        path.display()
    );
    path
}

#[test]
fn every_overlay_renders_and_passes_the_kubernetes_schemas() {
    let validate = root().join(".venv/bin/kubernetes-validate");
    assert!(
        validate.is_file(),
        "{} missing: run tools/venv.sh (make tools)",
        validate.display()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    for overlay in OVERLAYS {
        let (text, objects) = render(overlay);
        assert!(!objects.is_empty(), "{overlay} renders objects");
        let file = dir
            .path()
            .join(format!("{}.yaml", overlay.replace('/', "-")));
        std::fs::write(&file, text).expect("write rendered");
        let output = Command::new(&validate)
            .args(["--strict", "--quiet", "-k", KUBERNETES_VERSION])
            .arg(&file)
            .output()
            .expect("run kubernetes-validate");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{overlay}: {report}");
        // Only the ServiceMonitor CRD has no schema in the Kubernetes API.
        for line in report.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                line.contains("kind ServiceMonitor"),
                "{overlay}: unexpected validation output: {line}"
            );
        }
    }
}

#[test]
fn workloads_are_hardened_probed_bounded_and_spread() {
    for overlay in OVERLAYS {
        let (_, objects) = render(overlay);
        for deployment in of_kind(&objects, "Deployment") {
            let what = format!("{overlay}: Deployment {}", name(deployment));
            let pod = &deployment["spec"]["template"]["spec"];
            assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{what}");
            assert_eq!(
                pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
                "{what}"
            );
            assert_eq!(pod["automountServiceAccountToken"], false, "{what}");
            let flipt = name(deployment).starts_with("flipt-");
            if flipt {
                let spread = pod["topologySpreadConstraints"].as_sequence();
                assert!(
                    spread.is_some_and(|s| !s.is_empty()),
                    "{what}: topologySpreadConstraints"
                );
            }
            for container in pod["containers"].as_sequence().expect("containers") {
                let security = &container["securityContext"];
                assert_eq!(security["readOnlyRootFilesystem"], true, "{what}");
                assert_eq!(security["allowPrivilegeEscalation"], false, "{what}");
                assert_eq!(
                    security["capabilities"]["drop"],
                    Yaml::Sequence(vec!["ALL".into()]),
                    "{what}"
                );
                for key in ["cpu", "memory"] {
                    assert!(
                        !container["resources"]["requests"][key].is_null(),
                        "{what}: requests.{key}"
                    );
                }
                assert!(
                    !container["resources"]["limits"]["memory"].is_null(),
                    "{what}: limits.memory"
                );
                assert!(
                    container["readinessProbe"].is_mapping(),
                    "{what}: readinessProbe"
                );
                assert!(
                    container["livenessProbe"].is_mapping(),
                    "{what}: livenessProbe"
                );
                if flipt {
                    // Liveness must not follow other services' reachability.
                    assert_eq!(
                        container["livenessProbe"]["grpc"]["service"], "liveness",
                        "{what}"
                    );
                    assert!(
                        container["readinessProbe"]["grpc"]["service"].is_null(),
                        "{what}: readiness is the server's status"
                    );
                }
            }
        }
    }
}

/// `FLIPT_*` env of a container, as name → value.
fn container_env(container: &Yaml) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for var in container["env"].as_sequence().into_iter().flatten() {
        let name = var["name"].as_str().expect("env name").to_owned();
        let value = var["value"].as_str().map(str::to_owned);
        env.insert(name, value.unwrap_or_default());
    }
    env
}

/// Writes the Secret volumes `container` mounts into `dir` (a test value
/// per key) and points env values under their mount paths there, so the
/// binary reads files where the kubelet would put them.
fn materialise_secrets(
    pod: &Yaml,
    container: &Yaml,
    env: &mut BTreeMap<String, String>,
    dir: &std::path::Path,
) -> Vec<String> {
    let mut secrets = Vec::new();
    for mount in container["volumeMounts"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        let volume_name = &mount["name"];
        let Some(volume) = pod["volumes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .find(|v| &v["name"] == volume_name)
        else {
            panic!("volume {volume_name:?} is declared");
        };
        if volume["secret"].is_null() {
            continue;
        }
        let secret = volume["secret"]["secretName"].as_str().expect("secretName");
        secrets.push(secret.to_owned());
        let local = dir.join(secret);
        std::fs::create_dir_all(&local).expect("secret dir");
        for item in volume["secret"]["items"].as_sequence().expect("items") {
            let path = item["path"].as_str().expect("item path");
            std::fs::write(local.join(path), "test-secret-value\n").expect("secret file");
        }
        let mount_path = mount["mountPath"].as_str().expect("mountPath");
        for value in env.values_mut() {
            if let Some(rest) = value.strip_prefix(mount_path) {
                *value = format!("{}{rest}", local.display());
            }
        }
    }
    secrets
}

fn port_named(container: &Yaml, port: &str) -> u64 {
    container["ports"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == port)
        .and_then(|p| p["containerPort"].as_u64())
        .unwrap_or_else(|| panic!("container port {port}"))
}

#[test]
fn containers_match_their_binaries_effective_config() {
    let (_, objects) = render("overlays/monitoring");
    let services = of_kind(&objects, "Service");
    let mut seen = Vec::new();
    for deployment in of_kind(&objects, "Deployment") {
        let pod = &deployment["spec"]["template"]["spec"];
        for container in pod["containers"].as_sequence().expect("containers") {
            let args: Vec<&str> = container["args"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(Yaml::as_str)
                .collect();
            let Some(program) = args.first().filter(|a| BINARIES.contains(a)) else {
                continue;
            };
            seen.push((*program).to_owned());
            let mut env = container_env(container);
            let secrets_dir = tempfile::tempdir().expect("temp dir");
            let secrets = materialise_secrets(pod, container, &mut env, secrets_dir.path());
            // Every service holds the same internal token.
            assert_eq!(secrets, ["flipt-internal-token"], "{program}");
            let output = Command::new(binary(program))
                .args(&args[1..])
                .arg("--print-config")
                .env_clear()
                .envs(&env)
                .output()
                .expect("run --print-config");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success(),
                "{program} --print-config: {stderr}"
            );
            assert!(
                stderr.trim().is_empty(),
                "{program}: warnings with the manifest's env: {stderr}"
            );
            let config: Yaml = serde_norway::from_slice(&output.stdout).expect("printed YAML");
            let grpc = port_named(container, "grpc");
            let http = port_named(container, "http");
            assert_eq!(
                config["server"]["grpc_port"].as_u64(),
                Some(grpc),
                "{program}"
            );
            assert_eq!(
                config["server"]["http_port"].as_u64(),
                Some(http),
                "{program}"
            );
            for probe in ["readinessProbe", "livenessProbe"] {
                assert_eq!(
                    container[probe]["grpc"]["port"].as_u64(),
                    Some(grpc),
                    "{program} {probe}"
                );
            }
            // The Service selecting this pod exposes the same named ports.
            let app = &deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"];
            let service = services
                .iter()
                .find(|s| &s["spec"]["selector"]["app.kubernetes.io/name"] == app)
                .unwrap_or_else(|| panic!("a Service for {program}"));
            for port in service["spec"]["ports"].as_sequence().expect("ports") {
                let target = port["targetPort"].as_str().expect("named targetPort");
                let _ = port_named(container, target);
            }
            let token_file = config["services"]["internal_token_file"]
                .as_str()
                .expect("token file");
            assert_eq!(
                token_file,
                format!(
                    "{}/flipt-internal-token/token",
                    secrets_dir.path().display()
                ),
                "{program} reads the internal token from the Secret"
            );
            if *program == "flipt-cache" {
                assert_eq!(
                    service["spec"]["clusterIP"], "None",
                    "the cache Service is headless"
                );
                assert_eq!(config["cache"]["backend"], "redis", "replicas share Redis");
            }
            if *program == "flipt-evaluation" {
                let address = config["services"]["cache"]["address"]
                    .as_str()
                    .expect("address");
                assert_eq!(
                    address, "http://flipt-cache:9001",
                    "the headless cache Service's gRPC port"
                );
                assert_eq!(config["server"]["grpc_conn_max_age"], "5m");
            }
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "flipt-cache",
            "flipt-evaluation",
            "flipt-telemetry-reporter"
        ]
    );

    for monitor in of_kind(&objects, "ServiceMonitor") {
        let endpoint = &monitor["spec"]["endpoints"][0];
        assert_eq!(endpoint["interval"], "15s", "{}", name(monitor));
        assert_eq!(endpoint["port"], "http", "{}", name(monitor));
        assert_eq!(endpoint["path"], "/metrics", "{}", name(monitor));
        let app = &monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"];
        assert!(
            services
                .iter()
                .any(|s| &s["metadata"]["labels"]["app.kubernetes.io/name"] == app),
            "{} selects a Service",
            name(monitor)
        );
    }
    assert_eq!(of_kind(&objects, "ServiceMonitor").len(), 3);
    let hpa = of_kind(&objects, "HorizontalPodAutoscaler");
    assert_eq!(hpa.len(), 1);
    assert_eq!(hpa[0]["spec"]["scaleTargetRef"]["name"], "flipt-evaluation");
    assert_eq!(of_kind(&objects, "PodDisruptionBudget").len(), 2);
}
