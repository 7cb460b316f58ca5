//! The OpenFeature web SDK with the OFREP web provider under Node, on a
//! copy of the demo flags: one bulk fetch, then polls that must be answered
//! 304 without any evaluation (the engine's counter does not move), then a
//! flag-file edit that must reach the provider as a configuration change;
//! every answer equal to our REST API's.

use std::{collections::BTreeMap, process::Stdio};

use anyhow::{Context as _, Result, bail};
use flipt_otel::testing::metric_value;
use flipt_testkit::{demo_flags, fixtures};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};

use super::{
    openfeature::{Case, SCRIPT_TIMEOUT, case, differences, rest_expectation, start},
    repo_root,
};

/// A client script whose JSON lines are read as it prints them.
struct LiveScript {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl LiveScript {
    fn start(script: &str, args: Vec<String>) -> Result<Self> {
        let modules = repo_root().join("tests/clients/node_modules/@openfeature");
        if !modules.exists() {
            bail!("{} is missing: run `make tools`", modules.display());
        }
        let mut child = tokio::process::Command::new("node")
            .arg(repo_root().join("tests/clients").join(script))
            .args(args)
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting node {script}"))?;
        let stdout = child.stdout.take().context("stdout")?;
        Ok(Self {
            child,
            lines: BufReader::new(stdout).lines(),
        })
    }

    /// The next JSON line, which must be of `phase`.
    async fn next(&mut self, phase: &str) -> Result<Value> {
        let line = tokio::time::timeout(SCRIPT_TIMEOUT, self.lines.next_line())
            .await
            .with_context(|| format!("no {phase} line within {SCRIPT_TIMEOUT:?}"))??
            .with_context(|| format!("script ended before its {phase} line"))?;
        let value: Value =
            serde_json::from_str(&line).with_context(|| format!("not JSON: {line}"))?;
        if value["phase"] != phase {
            bail!("expected phase {phase}, got {value}");
        }
        Ok(value)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_provider_polls_with_304_and_sees_a_flag_file_edit() {
    let flags = fixtures::copy(demo_flags()).unwrap();
    let stack = start(flags.path()).await;
    let http = stack.evaluation.http_url();
    let dir = tempfile::tempdir().unwrap();
    let context = json!({
        "targetingKey": "user-5", "country": "DE", "signup_date": "2025-03-01T00:00:00Z",
        "account_age_days": 3, "email": "ana@example.com",
    });
    let cases: Vec<Case> = [
        ("theme", "string"),
        ("new-dashboard", "boolean"),
        ("maintenance-banner", "boolean"),
    ]
    .into_iter()
    .map(|(flag, kind)| {
        let mut c = case(flag, "default", flag, kind, "user-5", context.clone());
        c.context.as_object_mut().unwrap().remove("targetingKey");
        c
    })
    .collect();
    let cases_path = dir.path().join("web.json");
    let web_cases: Vec<Value> = cases
        .iter()
        .map(|c| json!({"name": c.name, "flag": c.flag, "type": c.kind, "default": c.default}))
        .collect();
    std::fs::write(
        &cases_path,
        json!({"context": context, "cases": web_cases}).to_string(),
    )
    .unwrap();

    const POLLS: u64 = 10;
    let mut script = LiveScript::start(
        "openfeature_web.mjs",
        vec![
            http.clone(),
            "default".into(),
            cases_path.to_str().unwrap().into(),
            POLLS.to_string(),
        ],
    )
    .unwrap();

    let expect = |stack_http: String, cases: Vec<Case>| async move {
        let mut expected = BTreeMap::new();
        for case in &cases {
            expected.insert(case.name, rest_expectation(&stack_http, case).await);
        }
        expected
    };
    let ready = script.next("ready").await.unwrap();
    let problems = differences(
        ready["results"].as_array().unwrap(),
        &expect(http.clone(), cases.clone()).await,
    );
    assert!(
        problems.is_empty(),
        "after the bulk fetch:\n{}",
        problems.join("\n")
    );

    // The REST expectations above evaluated; count from here on.
    let evaluations = || {
        metric_value(
            &stack.evaluation.registry,
            "flipt_evaluations_requests_total",
            &[],
        )
        .unwrap_or(0.0)
    };
    let before = evaluations();
    let polled = script.next("polled").await.unwrap();
    let after = evaluations();
    assert_eq!(
        polled["statuses"]["200"], 1,
        "one bulk fetch, then only 304s: {polled}"
    );
    let not_modified = polled["statuses"]["304"].as_u64().unwrap();
    assert!(not_modified >= POLLS, "{polled}");
    assert_eq!(
        before, after,
        "{not_modified} polls answered 304 evaluated nothing"
    );
    println!(
        "web provider: {not_modified} polls answered 304; evaluations {before} before, {after} after"
    );

    let path = flags.path().join("default.features.yml");
    let original = std::fs::read_to_string(&path).unwrap();
    let needle = "Kill switch for the site-wide maintenance notice\n    type: BOOLEAN_FLAG_TYPE\n    enabled: false";
    assert!(original.contains(needle));
    std::fs::write(
        &path,
        original.replace(needle, &needle.replace("enabled: false", "enabled: true")),
    )
    .unwrap();

    let changed = script.next("changed").await.unwrap();
    let flags_changed: Vec<&str> = changed["flagsChanged"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(flags_changed, ["maintenance-banner"], "{changed}");
    let results = changed["results"].as_array().unwrap();
    let problems = differences(results, &expect(http.clone(), cases.clone()).await);
    assert!(
        problems.is_empty(),
        "after the edit:\n{}",
        problems.join("\n")
    );
    let banner = results
        .iter()
        .find(|r| r["name"] == "maintenance-banner")
        .unwrap();
    assert_eq!(banner["value"], true, "{banner}");

    let status = tokio::time::timeout(SCRIPT_TIMEOUT, script.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    stack.stop().await.unwrap();
}
