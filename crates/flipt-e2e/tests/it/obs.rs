//! Shared pieces of the observability tests (`metrics`, `traces`,
//! `shutdown`): a flag directory with answers that do not depend on
//! hashing, request builders, and promtool.

use std::path::{Path, PathBuf};
use std::time::Duration;

use flipt_e2e::WAIT;
use flipt_proto::evaluation::EvaluationRequest;

/// Namespace `default`: a variant flag matching the `pro-users` segment and
/// a boolean flag with a segment rollout; namespace `other`: a boolean flag
/// on for everyone. Every answer is certain (100 % / 0 % rollouts).
pub const FLAGS_DEFAULT: &str = r#"
version: "1.4"
namespace: default
segments:
  - key: pro-users
    name: Pro users
    match_type: ALL_MATCH_TYPE
    constraints:
      - type: STRING_COMPARISON_TYPE
        property: plan
        operator: eq
        value: pro
flags:
  - key: color
    name: Color
    type: VARIANT_FLAG_TYPE
    enabled: true
    variants:
      - key: red
      - key: blue
        default: true
    rules:
      - segment: pro-users
        distributions:
          - variant: red
            rollout: 100
  - key: beta
    name: Beta
    type: BOOLEAN_FLAG_TYPE
    enabled: false
    rollouts:
      - segment:
          key: pro-users
          value: true
"#;

/// See [`FLAGS_DEFAULT`].
pub const FLAGS_OTHER: &str = r#"
namespace: other
flags:
  - key: everything-on
    name: Everything on
    type: BOOLEAN_FLAG_TYPE
    enabled: false
    rollouts:
      - threshold:
          percentage: 100
          value: true
"#;

/// Writes the flags into a new temporary directory.
pub fn flag_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    write_flags(dir.path());
    dir
}

/// Writes the flags into `dir`.
pub fn write_flags(dir: &Path) {
    std::fs::write(dir.join("default.features.yml"), FLAGS_DEFAULT).expect("write flags");
    std::fs::write(dir.join("other.features.yml"), FLAGS_OTHER).expect("write flags");
}

/// An evaluation request in namespace `namespace` ("" = default).
pub fn request(
    namespace: &str,
    flag: &str,
    entity: &str,
    context: &[(&str, &str)],
) -> EvaluationRequest {
    EvaluationRequest {
        namespace_key: namespace.into(),
        flag_key: flag.into(),
        entity_id: entity.into(),
        context: context
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

/// `GET <base>/metrics` as text, checking the exposition content type.
pub async fn scrape(base_url: &str) -> String {
    let response = reqwest::Client::new()
        .get(format!("{base_url}/metrics"))
        .timeout(WAIT)
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.expect("metrics body")
}

/// The one finding `promtool check metrics` is allowed to report.
/// `flipt_evaluations_latency_milliseconds` is Flipt's name, which Flipt's
/// Grafana dashboard queries (`..._milliseconds_bucket`), and DESIGN.md §5
/// keeps it; promtool's linter wants base units (seconds) in every name.
/// Any other finding fails the check.
pub const ACCEPTED_PROMTOOL_FINDINGS: &[&str] = &[
    r#"flipt_evaluations_latency_milliseconds use base unit "seconds" instead of "milliseconds""#,
];

/// Runs `promtool check metrics` on `text` and fails on any finding other
/// than [`ACCEPTED_PROMTOOL_FINDINGS`]. When promtool is missing, first
/// runs `tools/ensure-promtool.sh`, which installs Debian's `prometheus`
/// package (root) or says what to install.
pub fn promtool_check(text: &str) -> Result<(), String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    if Command::new("promtool").arg("--version").output().is_err() {
        install_promtool()?;
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run promtool: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("cannot write to promtool: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("promtool failed: {e}"))?;
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let unexpected: Vec<&str> = findings
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !ACCEPTED_PROMTOOL_FINDINGS.contains(line))
        .collect();
    // Exit status 3 means "lint findings only"; anything else (1: parse
    // error) is a failure even without a line we could match.
    let status_ok = output.status.success() || output.status.code() == Some(3);
    if unexpected.is_empty() && status_ok {
        Ok(())
    } else {
        Err(format!(
            "promtool check metrics ({}): {}",
            output.status,
            findings.trim()
        ))
    }
}

fn install_promtool() -> Result<(), String> {
    let script = repo_root().join("tools/ensure-promtool.sh");
    let mut child = std::process::Command::new("bash")
        .arg(&script)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    // apt-get may take a while; bounded all the same.
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("{} failed: {status}", script.display())),
            Ok(None) if std::time::Instant::now() >= deadline => {
                let _ = child.kill();
                return Err(format!("{} did not finish in 10 minutes", script.display()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => return Err(format!("waiting for {}: {e}", script.display())),
        }
    }
}

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
