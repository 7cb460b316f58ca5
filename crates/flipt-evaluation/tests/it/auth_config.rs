//! `authentication.methods.token.storage.tokens.<name>`: tokens from the
//! file (inline or from a credential file), their scopes, one-line errors
//! naming the key, and `--print-config` masking every credential.

use flipt_evaluation::EvaluationServiceConfig;
use flipt_server::{load_from, to_yaml};

const TOKENS: &str = "authentication:
  required: true
  methods:
    token:
      enabled: true
      bootstrap:
        token: boot-s3cret
      storage:
        tokens:
          ci:
            credential: ci-s3cret
          checkout-app:
            credential: checkout-s3cret
            metadata:
              namespace: checkout
";

#[test]
fn tokens_load_with_their_scopes_and_print_masked() {
    let loaded = load_from::<EvaluationServiceConfig>(Some(TOKENS), &[]).expect("load");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let tokens = &loaded
        .config
        .service
        .authentication
        .methods
        .token
        .storage
        .tokens;
    assert_eq!(tokens["ci"].credential.expose(), "ci-s3cret");
    assert_eq!(
        tokens["checkout-app"]
            .metadata
            .get("namespace")
            .map(String::as_str),
        Some("checkout")
    );
    let printed = to_yaml(&loaded.config).expect("print");
    for secret in ["boot-s3cret", "ci-s3cret", "checkout-s3cret"] {
        assert!(!printed.contains(secret), "{secret} printed:\n{printed}");
    }
    assert!(printed.contains("credential: '******'"), "{printed}");
}

#[test]
fn a_credential_file_is_read_and_errors_name_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ci.token");
    std::fs::write(&file, "from-file\n").expect("write");
    let yaml = |token: &str| {
        format!(
            "authentication:\n  methods:\n    token:\n      enabled: true\n      storage:\n        tokens:\n          ci:\n{token}"
        )
    };
    let good = yaml(&format!(
        "            credential_file: {}\n",
        file.display()
    ));
    let loaded = load_from::<EvaluationServiceConfig>(Some(&good), &[]).expect("load");
    // Not required: tokens are accepted in the file but not checked.
    assert_eq!(
        loaded.warnings,
        ["authentication.required is false: the configured tokens are not checked"]
    );

    let missing = yaml("            credential_file: /nonexistent/ci.token\n");
    let err = load_from::<EvaluationServiceConfig>(Some(&missing), &[])
        .expect_err("missing file")
        .to_string();
    assert!(
        err.starts_with(
            "invalid value \"/nonexistent/ci.token\" for \
             authentication.methods.token.storage.tokens.ci.credential_file: cannot read the file"
        ),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");

    let both = yaml(&format!(
        "            credential: inline\n            credential_file: {}\n",
        file.display()
    ));
    let err = load_from::<EvaluationServiceConfig>(Some(&both), &[])
        .expect_err("both")
        .to_string();
    assert!(err.contains("tokens.ci.credential is set too"), "{err}");

    let none = yaml("            metadata:\n              team: x\n");
    let err = load_from::<EvaluationServiceConfig>(Some(&none), &[])
        .expect_err("no credential")
        .to_string();
    assert!(
        err.contains("authentication.methods.token.storage.tokens.ci.credential"),
        "{err}"
    );

    let unknown = yaml("            credentail: typo\n");
    let err = load_from::<EvaluationServiceConfig>(Some(&unknown), &[])
        .expect_err("unknown field")
        .to_string();
    assert!(err.contains("credentail"), "{err}");
}

#[test]
fn two_tokens_with_one_credential_are_refused() {
    let yaml = "authentication:
  methods:
    token:
      enabled: true
      storage:
        tokens:
          a:
            credential: same
          b:
            credential: same
";
    let err = load_from::<EvaluationServiceConfig>(Some(yaml), &[])
        .expect_err("duplicate")
        .to_string();
    assert!(
        err.contains("token \"b\" has the same credential as token \"a\""),
        "{err}"
    );
    assert!(
        !err.contains("same\""),
        "the credential must not be printed: {err}"
    );
}
