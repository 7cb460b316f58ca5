//! The shared flags, embedded in a binary's own parser, and the
//! load-or-print step of `main`.

use clap::{Parser, Subcommand};
use flipt_server::Cli;
use flipt_server::load_and_print;
use flipt_server::{ConfigError, EXIT_USAGE, MASK};

use crate::support::CacheSections;

#[derive(Debug, Parser)]
struct Binary {
    #[command(flatten)]
    cli: Cli,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate flag files and exit.
    Validate,
}

#[test]
fn flags_embed_in_a_binary_parser() {
    let parsed =
        Binary::try_parse_from(["flipt-cache", "--config", "c.yml", "--print-config"]).unwrap();
    assert_eq!(parsed.cli.config.as_deref(), Some("c.yml".as_ref()));
    assert!(parsed.cli.print_config);
    assert!(parsed.command.is_none());

    let parsed = Binary::try_parse_from(["flipt-cache", "validate"]).unwrap();
    assert_eq!(parsed.cli, Cli::default());
    assert!(matches!(parsed.command, Some(Command::Validate)));

    assert!(Binary::try_parse_from(["flipt-cache", "--confg", "c.yml"]).is_err());
}

#[test]
fn print_config_writes_masked_yaml_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yml");
    std::fs::write(&path, "cache:\n  redis:\n    password: s3cret\n").unwrap();
    let cli = Cli {
        config: Some(path),
        print_config: true,
    };
    let mut out = Vec::new();
    let env = [("FLIPT_SERVER_HTTP_PORT", "18081")];
    let result = load_and_print::<CacheSections, _, _, _>(&cli, env, &mut out).unwrap();
    assert!(result.is_none(), "printing stops the binary");
    let printed = String::from_utf8(out).unwrap();
    assert!(printed.contains("http_port: 18081"), "{printed}");
    assert!(printed.contains(MASK), "{printed}");
    assert!(!printed.contains("s3cret"), "{printed}");
}

#[test]
fn without_print_config_the_config_is_returned() {
    let cli = Cli::default();
    let mut out = Vec::new();
    let loaded =
        load_and_print::<CacheSections, _, _, _>(&cli, [("FLIPT_LOG_LEVEL", "debug")], &mut out)
            .unwrap()
            .unwrap();
    assert_eq!(loaded.config.log.level, "debug");
    assert!(out.is_empty());
}

#[test]
fn missing_config_file_is_a_usage_error() {
    let cli = Cli {
        config: Some("/nonexistent/flipt.yml".into()),
        print_config: false,
    };
    let env: [(&str, &str); 0] = [];
    let err = load_and_print::<CacheSections, _, _, _>(&cli, env, &mut Vec::new())
        .err()
        .unwrap();
    assert!(matches!(err, ConfigError::ReadFile { .. }));
    assert_eq!(err.exit_code(), EXIT_USAGE);
    assert!(
        err.to_string()
            .starts_with("cannot read config file /nonexistent/flipt.yml: "),
        "{err}"
    );
}
