//! `promtool check metrics` on an exposition, with the one finding the
//! project accepts.

use std::{
    io::Write as _,
    process::{Command, ExitStatus, Stdio},
    time::Duration,
};

use crate::repo_root;

/// The one finding `promtool check metrics` is allowed to report.
/// `flipt_evaluations_latency_milliseconds` is Flipt's name, which Flipt's
/// Grafana dashboard queries (`..._milliseconds_bucket`), and DESIGN.md §5
/// keeps it; promtool's linter wants base units (seconds) in every name.
/// Any other finding fails the check.
pub const ACCEPTED_PROMTOOL_FINDINGS: &[&str] = &[
    r#"flipt_evaluations_latency_milliseconds use base unit "seconds" instead of "milliseconds""#,
];

/// Runs `promtool` with `args` in the repository root, `stdin` on its
/// standard input, and returns its exit status and combined output. When
/// promtool is missing, first runs `tools/ensure-promtool.sh`, which
/// installs Debian's `prometheus` package (root) or says what to install.
pub fn promtool(args: &[&str], stdin: &str) -> Result<(ExitStatus, String), String> {
    if Command::new("promtool").arg("--version").output().is_err() {
        install_promtool()?;
    }
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run promtool: {e}"))?;
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.as_bytes())
            .map_err(|e| format!("cannot write to promtool: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("promtool failed: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok((output.status, text))
}

/// Runs `promtool check metrics` on `text` and fails on any finding other
/// than [`ACCEPTED_PROMTOOL_FINDINGS`].
pub fn promtool_check(text: &str) -> Result<(), String> {
    let (status, findings) = promtool(&["check", "metrics"], text)?;
    let unexpected: Vec<&str> = findings
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !ACCEPTED_PROMTOOL_FINDINGS.contains(line))
        .collect();
    // Exit status 3 means "lint findings only"; anything else (1: parse
    // error) is a failure even without a line we could match.
    let status_ok = status.success() || status.code() == Some(3);
    if unexpected.is_empty() && status_ok {
        Ok(())
    } else {
        Err(format!(
            "promtool check metrics ({}): {}",
            status,
            findings.trim()
        ))
    }
}

fn install_promtool() -> Result<(), String> {
    let script = repo_root().join("tools/ensure-promtool.sh");
    let mut child = Command::new("bash")
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
