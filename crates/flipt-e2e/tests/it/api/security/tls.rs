//! `server.protocol: https` on the evaluation service, with a CA made for
//! the test: Python clients evaluate over TLS, plaintext is refused, and a
//! bad key file stops the binary with one line naming the key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use flipt_testkit::{WAIT, eventually};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use super::{flags, start_cache, start_evaluation};
use crate::clients::{Runtime, run_script_with_env};

/// A CA and a server certificate for `localhost` and `127.0.0.1`, as PEM
/// files in `dir`: (ca, cert, key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "flipt-rs test CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);

    let key = KeyPair::generate().expect("server key");
    let params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("params");
    let cert = params.signed_by(&key, &issuer).expect("server certificate");

    let paths = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).expect("write CA");
    std::fs::write(&paths.1, cert.pem()).expect("write cert");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write key");
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_clients_evaluate_over_tls_and_plaintext_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = certificates(dir.path());
    let cache = start_cache(&flags(), Vec::new()).await;
    let env = vec![
        ("FLIPT_SERVER_PROTOCOL".to_owned(), "https".to_owned()),
        (
            "FLIPT_SERVER_CERT_FILE".to_owned(),
            cert.display().to_string(),
        ),
        (
            "FLIPT_SERVER_CERT_KEY".to_owned(),
            key.display().to_string(),
        ),
    ];
    let evaluation = start_evaluation(dir.path(), "", &cache, env).await;
    let https = format!("https://localhost:{}", evaluation.http_addr.port());
    let trusted = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&ca).expect("read CA")).expect("CA"),
        )
        .timeout(WAIT)
        .build()
        .expect("client");
    eventually("the evaluation service to be ready over TLS", || async {
        let health = trusted.get(format!("{https}/health")).send().await;
        health.is_ok_and(|r| r.status().is_success())
    })
    .await;

    // The PyPI SDK (httpx reads SSL_CERT_FILE), the client-side SDK with its
    // TlsConfig, and grpcio with the CA as root certificate.
    let ca_path = ca.display().to_string();
    let args = vec![
        https.clone(),
        format!("localhost:{}", evaluation.grpc_addr.port()),
        "-".to_owned(),
        "checkout".to_owned(),
        "payment-provider".to_owned(),
        "user-42".to_owned(),
        ca_path.clone(),
    ];
    let probe = run_script_with_env(
        Runtime::Python,
        "auth_probe.py",
        args,
        &[("SSL_CERT_FILE", ca_path.as_str())],
        Duration::from_secs(90),
    )
    .await
    .expect("auth_probe.py over TLS");
    let expected = &probe["grpc"]["ok"];
    assert!(
        expected["variantKey"].is_string(),
        "grpcio over TLS: {probe}"
    );
    assert_eq!(&probe["server_sdk"]["ok"], expected, "{probe}");
    assert_eq!(&probe["client_side"]["ok"], expected, "{probe}");

    // Plaintext HTTP and h2c gRPC to the TLS ports get no answer.
    let plain = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("client");
    let refused = plain
        .get(format!(
            "http://127.0.0.1:{}/health",
            evaluation.http_addr.port()
        ))
        .send()
        .await;
    assert!(refused.is_err(), "plaintext HTTP answered: {refused:?}");
    let grpc = tokio::time::timeout(
        WAIT,
        flipt_proto::evaluation::evaluation_service_client::EvaluationServiceClient::connect(
            evaluation.grpc_url(),
        ),
    )
    .await
    .expect("in time");
    if let Ok(mut client) = grpc {
        let answer = tokio::time::timeout(
            WAIT,
            client.variant(flipt_proto::evaluation::EvaluationRequest {
                namespace_key: "checkout".into(),
                flag_key: "payment-provider".into(),
                entity_id: "u".into(),
                ..Default::default()
            }),
        )
        .await
        .expect("in time");
        assert!(answer.is_err(), "plaintext gRPC answered: {answer:?}");
    }
}

#[test]
fn an_unusable_key_stops_the_binary_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, cert, _) = certificates(dir.path());
    let bad_key = dir.path().join("bad.key");
    std::fs::write(&bad_key, "not a key\n").expect("write");
    for (key_path, named) in [
        (bad_key.display().to_string(), "server.cert_key"),
        ("/nonexistent/server.key".to_owned(), "server.cert_key"),
    ] {
        let binary = flipt_testkit::binary_path("flipt-evaluation").expect("binary");
        let output = std::process::Command::new(binary)
            .env_clear()
            .env("FLIPT_SERVER_PROTOCOL", "https")
            .env("FLIPT_SERVER_HOST", "127.0.0.1")
            .env("FLIPT_SERVER_GRPC_PORT", "0")
            .env("FLIPT_SERVER_HTTP_PORT", "0")
            .env("FLIPT_SERVER_CERT_FILE", &cert)
            .env("FLIPT_SERVER_CERT_KEY", &key_path)
            .output()
            .expect("run flipt-evaluation");
        assert!(!output.status.success(), "{key_path}: started");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains(named) && l.contains(&key_path)),
            "{key_path}: {stderr}"
        );
    }
}
