//! The OFREP web provider in a real browser on another origin: Debian's
//! headless Chromium loads `tests/clients/openfeature_web.html` from a
//! static server on one loopback port while the evaluation service listens
//! on another, so every OFREP call is cross-origin. With `cors.*` allowing
//! the page's origin, the provider's bulk fetch gives our REST answers and
//! its polls get 304 (which needs the exposed ETag); with the origin not
//! allowed, the browser blocks the calls.

use std::{process::Stdio, time::Duration};

use anyhow::{Context as _, Result, bail};
use flipt_testkit::{Stack, StackOptions, WAIT, demo_flags};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};

use super::{
    openfeature::{Case, case, differences, rest_expectation},
    repo_root,
};

const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);
const POLLS: u64 = 3;

/// `python3 -m http.server` on an ephemeral loopback port, serving
/// `tests/clients` (the page and the installed packages).
struct StaticServer {
    _child: tokio::process::Child,
    origin: String,
}

impl StaticServer {
    async fn start() -> Result<Self> {
        let mut child = tokio::process::Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(repo_root().join("tests/clients"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting python3 -m http.server")?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .context("http.server did not start in time")??
            .context("http.server exited")?;
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .with_context(|| format!("no port in {line:?}"))?;
        Ok(Self {
            _child: child,
            origin: format!("http://127.0.0.1:{port}"),
        })
    }
}

/// Loads the page in headless Chromium and returns the JSON it wrote.
async fn run_page(page: &str) -> Result<Value> {
    let program = "chromium";
    let output = tokio::process::Command::new(program)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--virtual-time-budget=30000",
            "--dump-dom",
            page,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BROWSER_TIMEOUT, output)
        .await
        .context("chromium did not finish in time")?
        .context("chromium is missing: run `make tools` (tools/ensure-chromium.sh)")?;
    let dom = String::from_utf8_lossy(&output.stdout);
    let Some(start) = dom.find("<pre id=\"result\">") else {
        bail!(
            "no result element in chromium's DOM ({}):\n{dom}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let text = &dom[start + "<pre id=\"result\">".len()..];
    let text = &text[..text.find("</pre>").context("unterminated result")?];
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    if text.is_empty() {
        bail!("the page wrote no result within its time budget:\n{dom}");
    }
    serde_json::from_str(&text).with_context(|| format!("result is not JSON: {text}"))
}

fn page_url(server: &StaticServer, ofrep: &str, cases: &Value) -> String {
    let mut url = reqwest::Url::parse(&format!("{}/openfeature_web.html", server.origin)).unwrap();
    url.query_pairs_mut()
        .append_pair("ofrep", ofrep)
        .append_pair("namespace", "default")
        .append_pair("cases", &cases.to_string())
        .append_pair("polls", &POLLS.to_string());
    url.to_string()
}

async fn start(cors_origin: &str) -> Stack {
    let options = StackOptions {
        evaluation_yaml: format!(
            "cors:\n  enabled: true\n  allowed_origins: [\"{cors_origin}\"]\n"
        ),
        ..StackOptions::default()
    };
    Stack::start_with(demo_flags(), options).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_provider_works_from_a_page_on_another_origin() {
    let server = StaticServer::start().await.unwrap();
    let context = json!({"targetingKey": "user-5", "country": "DE",
                         "signup_date": "2025-03-01T00:00:00Z", "account_age_days": 3});
    let mut attributes = context.clone();
    attributes.as_object_mut().unwrap().remove("targetingKey");
    let cases: Vec<Case> = [("theme", "string"), ("new-dashboard", "boolean")]
        .into_iter()
        .map(|(flag, kind)| case(flag, "default", flag, kind, "user-5", attributes.clone()))
        .collect();
    let page_cases: Vec<Value> = cases
        .iter()
        .map(|c| json!({"name": c.name, "flag": c.flag, "type": c.kind, "default": c.default}))
        .collect();
    let page_cases = json!({"context": context, "cases": page_cases});

    let stack = start(&server.origin).await;
    let http = stack.evaluation.http_url();
    let output = run_page(&page_url(&server, &http, &page_cases))
        .await
        .unwrap();
    assert!(output.get("error").is_none(), "{output}");
    let mut expected = std::collections::BTreeMap::new();
    for case in &cases {
        expected.insert(case.name, rest_expectation(&http, case).await);
    }
    let problems = differences(output["results"].as_array().unwrap(), &expected);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(output["statuses"]["200"], 1, "{output}");
    let not_modified = output["statuses"]["304"].as_u64().unwrap_or_default();
    assert!(not_modified >= POLLS, "{output}");
    println!(
        "chromium, page on {}: bulk fetch equal to REST, {not_modified} polls answered 304",
        server.origin
    );
    stack.stop().await.unwrap();

    // The same page, its origin not allowed: the browser blocks the calls.
    let stack = start("http://allowed.example").await;
    let output = run_page(&page_url(
        &server,
        &stack.evaluation.http_url(),
        &page_cases,
    ))
    .await
    .unwrap();
    assert!(output.get("error").is_some(), "{output}");
    assert_eq!(
        output["statuses"],
        json!({}),
        "no answer reached the page: {output}"
    );
    stack.stop().await.unwrap();
}
