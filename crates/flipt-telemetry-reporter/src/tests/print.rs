//! `print`: the payload of the next ping, from the running reporter or,
//! when none answers, from the configuration, never writing the state.

use std::fs;

use super::support::{Running, WAIT, assert_valid_ping, config, single_event};
use crate::print::print;
use crate::state::STATE_FILE;

async fn printed(
    config: &flipt_server::Config<crate::config::TelemetryReporterConfig>,
    address: &str,
) -> (serde_json::Value, String) {
    let (mut out, mut notes) = (Vec::new(), Vec::new());
    tokio::time::timeout(WAIT, print(config, Some(address), &mut out, &mut notes))
        .await
        .expect("print in time")
        .expect("print ok");
    let body = serde_json::from_slice(&out).expect("stdout is JSON");
    (body, String::from_utf8(notes).expect("utf-8"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_asks_the_running_reporter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), None, &[]);
    let reporter = Running::start(config.clone(), prometheus::Registry::new()).await;

    let (body, notes) = printed(&config, &reporter.grpc_url).await;
    let event = single_event(&body);
    assert_eq!(event["event"], "flipt.ping");
    assert_valid_ping(&event["properties"]);
    assert!(notes.contains("pings are not sent: no endpoint"), "{notes}");
    assert!(!notes.contains("no reporter answered"), "{notes}");

    reporter.stop().await;
}

#[tokio::test]
async fn print_without_a_reporter_reads_the_state_and_leaves_it_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let text = format!("{{\"version\":\"1.0\",\"uuid\":\"{id}\"}}\n");
    fs::write(dir.path().join(STATE_FILE), &text).expect("state");
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("addr"))
    };

    let config = config(
        dir.path(),
        None,
        &[
            ("FLIPT_TELEMETRY_SEGMENT_ENDPOINT", "http://127.0.0.1:9"),
            ("FLIPT_TELEMETRY_SEGMENT_WRITE_KEY", "k"),
        ],
    );
    let (body, notes) = printed(&config, &closed).await;
    let event = single_event(&body);
    assert_eq!(event["properties"]["uuid"], id);
    assert_valid_ping(&event["properties"]);
    assert!(notes.contains("no reporter answered"), "{notes}");
    assert!(!notes.contains("pings are not sent"), "{notes}");
    assert_eq!(
        fs::read_to_string(dir.path().join(STATE_FILE)).expect("state"),
        text
    );

    let opted_out = self::config(dir.path(), None, &[("DO_NOT_TRACK", "1")]);
    let (_, notes) = printed(&opted_out, &closed).await;
    assert!(notes.contains("telemetry is off"), "{notes}");
}
