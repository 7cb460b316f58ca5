//! Integration tests of the generated protobuf code.
//!
//! The wire checks compare prost's encoding of `flipt.evaluation` with that of
//! Google's protobuf runtime, driven by `tools/wirecheck/encode.py` from the
//! project's Python venv (created by `tools/venv.sh`; `make test` runs it).

mod fields;
mod samples;
mod wire;

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
    thread,
    time::{Duration, Instant},
};

/// Upper bound for one run of the Python script (it normally takes well under a second).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // crates/flipt-proto → repository root
    manifest_dir
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_dir)
        .to_path_buf()
}

/// Runs `tools/wirecheck/encode.py MODE` with `input` on stdin and parses
/// its JSON output. Panics with the script's stderr if it fails.
pub(crate) fn run_wirecheck(mode: &str, input: &str) -> serde_json::Value {
    let root = repo_root();
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run tools/venv.sh to create the Python venv (`make test` does)",
        python.display()
    );
    let mut child = Command::new(&python)
        .arg(root.join("tools/wirecheck/encode.py"))
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tools/wirecheck/encode.py");

    // Pipes are drained on their own threads so that neither side can block
    // the other on a full pipe buffer.
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_owned();
    let writer = thread::spawn(move || stdin.write_all(input.as_bytes()));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).map(|_| buf)
    });
    let mut stderr = child.stderr.take().expect("piped stderr");
    let err_reader = thread::spawn(move || {
        let mut buf = String::new();
        stderr.read_to_string(&mut buf).map(|_| buf)
    });

    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll encode.py") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tools/wirecheck/encode.py {mode} did not finish within {SCRIPT_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    writer
        .join()
        .expect("stdin writer")
        .expect("write encode.py stdin");
    let stdout = out_reader
        .join()
        .expect("stdout reader")
        .expect("read encode.py stdout");
    let stderr = err_reader
        .join()
        .expect("stderr reader")
        .expect("read encode.py stderr");
    assert!(
        status.success(),
        "tools/wirecheck/encode.py {mode} failed ({status}):\n{stderr}"
    );
    serde_json::from_slice(&stdout).expect("encode.py prints JSON")
}

/// Output of `encode.py encode`, shared by the tests of this binary.
pub(crate) fn python_encoded() -> &'static serde_json::Value {
    static ENCODED: OnceLock<serde_json::Value> = OnceLock::new();
    ENCODED.get_or_init(|| run_wirecheck("encode", ""))
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn from_hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd-length hex string");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit pair"))
        .collect()
}
