//! Flipt's server SDKs (PyPI `flipt`, npm `@flipt-io/flipt`) over REST and a
//! Python `grpcio` client generated from our proto, on the demo flags: every
//! call a client makes must give exactly what our gRPC API answers to the
//! same request, field by field (request ids, timestamps and durations
//! aside), errors included.

use std::{collections::BTreeMap, time::Duration};

use flipt_proto::evaluation::{
    BatchEvaluationRequest, EvaluationRequest, evaluation_service_client::EvaluationServiceClient,
};
use flipt_testkit::{Stack, WAIT, demo_flags};
use serde::Serialize;
use serde_json::Value;
use tonic::{Code, transport::Channel};

use super::{Runtime, normalize, run_script};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// One request, in the protojson shape the scripts read.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    namespace_key: String,
    flag_key: String,
    entity_id: String,
    context: BTreeMap<String, String>,
}

fn req(namespace: &str, flag: &str, entity: &str, context: &[(&str, &str)]) -> Request {
    Request {
        namespace_key: namespace.into(),
        flag_key: flag.into(),
        entity_id: entity.into(),
        context: context
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

impl From<&Request> for EvaluationRequest {
    fn from(r: &Request) -> Self {
        EvaluationRequest {
            namespace_key: r.namespace_key.clone(),
            flag_key: r.flag_key.clone(),
            entity_id: r.entity_id.clone(),
            context: r.context.clone().into_iter().collect(),
            ..Default::default()
        }
    }
}

/// One call of the scenario.
#[derive(Debug, Serialize)]
struct Call {
    name: &'static str,
    op: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<Request>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    requests: Vec<Request>,
}

fn single(name: &'static str, op: &'static str, request: Request) -> Call {
    Call {
        name,
        op,
        request: Some(request),
        requests: Vec::new(),
    }
}

/// Matches, defaults, thresholds, a disabled flag, attachments, three
/// namespaces, a batch with a missing flag, and the error paths.
fn scenario() -> Vec<Call> {
    let internal = [("email", "ana@example.com")];
    let new_eu_account = [
        ("country", "DE"),
        ("signup_date", "2025-03-01T00:00:00Z"),
        ("account_age_days", "3"),
    ];
    vec![
        single(
            "boolean segment match",
            "boolean",
            req("default", "new-dashboard", "user-1", &internal),
        ),
        single(
            "boolean threshold",
            "boolean",
            req("default", "new-dashboard", "user-77", &[]),
        ),
        single(
            "boolean entity-id segment",
            "boolean",
            req("checkout", "express-delivery", "test-42", &[]),
        ),
        single(
            "variant AND rule",
            "variant",
            req("default", "theme", "user-5", &new_eu_account),
        ),
        single(
            "variant entity-id rule",
            "variant",
            req("default", "theme", "user-1001", &[]),
        ),
        single(
            "variant default variant",
            "variant",
            req("default", "theme", "user-5", &[]),
        ),
        single(
            "variant disabled flag",
            "variant",
            req("default", "search-algorithm", "user-5", &[]),
        ),
        single(
            "variant attachment",
            "variant",
            req("checkout", "payment-provider", "test-42", &[]),
        ),
        Call {
            name: "batch with a missing flag",
            op: "batch",
            request: None,
            requests: vec![
                req("default", "new-dashboard", "user-1", &internal),
                req("default", "theme", "user-5", &new_eu_account),
                req("default", "no-such-flag", "user-1", &[]),
                req(
                    "checkout",
                    "payment-provider",
                    "user-9",
                    &[("cart_total", "500")],
                ),
                req("mobile", "offline-mode", "device-3", &[]),
            ],
        },
        single(
            "error boolean on a variant flag",
            "boolean",
            req("default", "theme", "user-1", &[]),
        ),
        single(
            "error variant on a boolean flag",
            "variant",
            req("default", "new-dashboard", "user-1", &[]),
        ),
        single(
            "error missing flag",
            "variant",
            req("default", "no-such-flag", "user-1", &[]),
        ),
        single(
            "error missing namespace",
            "boolean",
            req("no-such-namespace", "x", "user-1", &[]),
        ),
    ]
}

/// Our gRPC answer to a call: the response as protojson, or the status.
enum Answer {
    Ok(Value),
    Err(tonic::Status),
}

async fn grpc_answer(client: &mut EvaluationServiceClient<Channel>, call: &Call) -> Answer {
    let result = match (call.op, &call.request) {
        ("boolean", Some(r)) => client
            .boolean(EvaluationRequest::from(r))
            .await
            .map(|r| to_json(r.get_ref())),
        ("variant", Some(r)) => client
            .variant(EvaluationRequest::from(r))
            .await
            .map(|r| to_json(r.get_ref())),
        _ => {
            let batch = BatchEvaluationRequest {
                requests: call.requests.iter().map(EvaluationRequest::from).collect(),
                ..Default::default()
            };
            client.batch(batch).await.map(|r| to_json(r.get_ref()))
        }
    };
    match result {
        Ok(value) => Answer::Ok(value),
        Err(status) => Answer::Err(status),
    }
}

fn to_json<T: Serialize>(message: &T) -> Value {
    let mut value = serde_json::to_value(message).expect("protojson encoding");
    normalize(&mut value);
    value
}

/// Differences between one client's results and our gRPC answers.
fn compare(client: &str, calls: &[Call], answers: &[Answer], output: &Value) -> Vec<String> {
    let results = output["results"].as_array().cloned().unwrap_or_default();
    if results.len() != calls.len() {
        return vec![format!(
            "{client}: {} results for {} calls",
            results.len(),
            calls.len()
        )];
    }
    let mut problems = Vec::new();
    for ((call, answer), result) in calls.iter().zip(answers).zip(results) {
        let mut result = result;
        normalize(&mut result);
        let problem = match answer {
            Answer::Ok(expected) if result["ok"] != *expected => Some(format!(
                "got {}\nwant {expected}",
                result.get("ok").unwrap_or(&result)
            )),
            Answer::Ok(_) => None,
            Answer::Err(status) => error_problem(client, status, &result),
        };
        if let Some(problem) = problem {
            problems.push(format!("{client}: {}: {problem}", call.name));
        }
    }
    problems
}

/// Checks an error result against our status: the message always, plus what
/// the client exposes of the code (HTTP status for the Python SDK, gRPC code
/// for grpcio; the npm SDK exposes only the message).
fn error_problem(client: &str, status: &tonic::Status, result: &Value) -> Option<String> {
    let error = &result["error"];
    let mut want = serde_json::json!({"message": status.message()});
    match client {
        "PyPI flipt" => {
            want["status"] = flipt_evaluation::http_status(status.code()).as_u16().into();
        }
        "grpcio" => want["code"] = grpc_code_name(status.code()).into(),
        _ => {}
    }
    (*error != want).then(|| format!("got {result}\nwant error {want}"))
}

/// The canonical name of a gRPC code, as grpcio spells it.
fn grpc_code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sdks_and_grpcio_answer_like_our_grpc_api() {
    let stack = Stack::start(demo_flags()).await.expect("stack start");
    let calls = scenario();
    let dir = tempfile::tempdir().unwrap();
    let scenario_path = dir.path().join("scenario.json");
    std::fs::write(
        &scenario_path,
        serde_json::to_vec(&serde_json::json!({"calls": calls})).unwrap(),
    )
    .unwrap();
    let scenario_arg = scenario_path.to_str().unwrap().to_owned();

    let mut grpc = stack.grpc();
    let mut answers = Vec::new();
    for call in &calls {
        answers.push(
            tokio::time::timeout(WAIT, grpc_answer(&mut grpc, call))
                .await
                .unwrap(),
        );
    }
    // The scenario must reach every kind of answer, or it proves less than it claims.
    let ok = answers
        .iter()
        .filter(|a| matches!(a, Answer::Ok(_)))
        .count();
    assert!(
        ok >= 9 && answers.len() - ok == 4,
        "scenario answers changed: {ok} ok"
    );

    let http = stack.evaluation.http_url();
    let grpc_target = stack.evaluation.grpc_addr.to_string();
    let (python, node, grpcio) = tokio::join!(
        run_script(
            Runtime::Python,
            "server_sdk.py",
            vec![http.clone(), scenario_arg.clone()],
            SCRIPT_TIMEOUT
        ),
        run_script(
            Runtime::Node,
            "server_sdk.mjs",
            vec![http.clone(), scenario_arg.clone()],
            SCRIPT_TIMEOUT
        ),
        run_script(
            Runtime::Python,
            "grpc_client.py",
            vec![grpc_target.clone(), scenario_arg.clone()],
            SCRIPT_TIMEOUT
        ),
    );
    let mut problems = Vec::new();
    for (client, output) in [
        ("PyPI flipt", python),
        ("npm @flipt-io/flipt", node),
        ("grpcio", grpcio),
    ] {
        match output {
            Ok(output) => problems.extend(compare(client, &calls, &answers, &output)),
            Err(err) => problems.push(format!("{client}: {err:#}")),
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n\n")
    );
    println!(
        "{} calls: PyPI flipt, npm @flipt-io/flipt and grpcio agree with our gRPC answers",
        calls.len()
    );
    stack.stop().await.unwrap();
}
