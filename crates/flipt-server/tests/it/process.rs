//! The bootstrap as a real process (`flipt-server-example`): exit codes and
//! one-line errors, `--print-config`, and SIGTERM → drain → exit 0.

use std::process::Stdio;

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::time::timeout;

use crate::support::WAIT;

const BIN: &str = env!("CARGO_BIN_EXE_flipt-server-example");

/// A command with a clean env: only what the test passes.
fn example(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn bad_value_exits_1_with_one_line() -> Result<()> {
    let output = example(&[], &[("FLIPT_SERVER_GRPC_PORT", "abc")]).output();
    let output = timeout(WAIT, output).await??;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr)?,
        "flipt-server-example: invalid value \"abc\" for server.grpc_port \
         (FLIPT_SERVER_GRPC_PORT): expected a port number 0-65535\n"
    );
    Ok(())
}

#[tokio::test]
async fn usage_error_exits_64() -> Result<()> {
    let output = timeout(WAIT, example(&["--no-such-flag"], &[]).output()).await??;
    assert_eq!(output.status.code(), Some(64));
    let output = timeout(
        WAIT,
        example(&["--config", "/nonexistent.yml"], &[]).output(),
    )
    .await??;
    assert_eq!(output.status.code(), Some(64));
    Ok(())
}

#[tokio::test]
async fn print_config_prints_and_exits_0() -> Result<()> {
    let env = [
        ("FLIPT_SERVER_GRPC_PORT", "9911"),
        ("FLIPT_TRACING_OTLP_HEADERS_X_KEY", "k3y"),
    ];
    let output = timeout(WAIT, example(&["--print-config"], &env).output()).await??;
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout)?;
    assert!(stdout.contains("grpc_port: 9911"), "{stdout}");
    assert!(stdout.contains("http_port: 8180"), "{stdout}");
    assert!(
        stdout.contains("x-key: '******'") || stdout.contains("x-key: \"******\""),
        "{stdout}"
    );
    assert!(!stdout.contains("k3y"), "{stdout}");
    Ok(())
}

#[tokio::test]
async fn sigterm_drains_and_exits_0() -> Result<()> {
    let env = [
        ("FLIPT_SERVER_HOST", "127.0.0.1"),
        ("FLIPT_SERVER_GRPC_PORT", "0"),
        ("FLIPT_SERVER_HTTP_PORT", "0"),
    ];
    let mut child = example(&[], &env).stderr(Stdio::piped()).spawn()?;
    let stderr = child.stderr.take().context("stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let line = timeout(WAIT, lines.next_line())
        .await??
        .context("no output")?;
    let http = line
        .split_whitespace()
        .find_map(|part| part.strip_prefix("http="))
        .with_context(|| format!("no http address in {line:?}"))?
        .parse()?;

    let (status, _, body) = crate::serve::http_get(http, "/health").await?;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"SERVING"}"#));

    let pid = child.id().context("pid")?.to_string();
    let kill = timeout(WAIT, Command::new("kill").args(["-TERM", &pid]).status()).await??;
    assert!(kill.success());
    let exit = timeout(WAIT, child.wait()).await??;
    assert_eq!(exit.code(), Some(0));
    Ok(())
}
