//! Command-line flags every binary shares, and the load-or-exit step of
//! `main`.

use std::io::Write;
use std::path::PathBuf;
use std::process;

use clap::Parser;

use crate::config::{ConfigError, EXIT_USAGE, Loaded, Loader, ServiceConfig, to_yaml};

/// `--config FILE` and `--print-config`. Embed it in a binary's own parser
/// with `#[command(flatten)]` to add subcommands or flags.
///
/// The help text below is what every service binary shows for `--help`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Parser)]
#[command(
    version,
    about = "A Flipt-compatible feature-flag service.",
    long_about = "A Flipt-compatible feature-flag service.\n\nConfiguration comes from the \
                  YAML file given with --config, overridden by FLIPT_* environment \
                  variables (FLIPT_ + the dotted key upper-cased, e.g. \
                  FLIPT_SERVER_GRPC_PORT), then built-in defaults."
)]
pub struct Cli {
    /// YAML configuration file; `FLIPT_*` env vars override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration (secrets masked) and exit.
    #[arg(long)]
    pub print_config: bool,
}

impl Cli {
    /// A loader for this command line and the given env vars.
    fn loader<I, K, V>(&self, env: I) -> Loader
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let loader = Loader::new().env(env);
        match &self.config {
            Some(path) => loader.file(path),
            None => loader,
        }
    }
}

/// Parses the process arguments; on a usage error prints clap's message and
/// exits with [`EXIT_USAGE`] (64) instead of clap's 2. `--help` and
/// `--version` exit 0.
pub fn parse_args<T: Parser>() -> T {
    match T::try_parse() {
        Ok(args) => args,
        Err(err) => {
            let code = if err.use_stderr() { EXIT_USAGE } else { 0 };
            // Printing can only fail on a closed stdout/stderr, where there
            // is nobody left to tell.
            let _ = err.print();
            process::exit(code);
        }
    }
}

/// The process env as UTF-8 pairs (vars that are not UTF-8 cannot be config).
pub fn process_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}

/// Loads the config from the command line and the process env, or exits:
/// on error prints the one-line message to stderr and exits with
/// [`ConfigError::exit_code`]; with `--print-config` prints the YAML to
/// stdout and exits 0. Logging is not up yet, so warnings are returned, not
/// logged.
pub fn load_or_exit<S: ServiceConfig>(cli: &Cli) -> Loaded<S> {
    match load_and_print(cli, process_env(), &mut std::io::stdout()) {
        Ok(Some(loaded)) => loaded,
        Ok(None) => process::exit(0),
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "{}: {err}", S::SERVICE_NAME);
            process::exit(err.exit_code());
        }
    }
}

/// What [`load_or_exit`] does, without exiting: `Ok(None)` when the config
/// was printed (the binary should stop).
pub fn load_and_print<S, I, K, V>(
    cli: &Cli,
    env: I,
    out: &mut dyn Write,
) -> Result<Option<Loaded<S>>, ConfigError>
where
    S: ServiceConfig,
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    let loaded = cli.loader(env).load::<S>()?;
    if !cli.print_config {
        return Ok(Some(loaded));
    }
    let yaml = to_yaml(&loaded.config)?;
    for warning in &loaded.warnings {
        let _ = writeln!(std::io::stderr(), "warning: {warning}");
    }
    out.write_all(yaml.as_bytes())
        .map_err(|e| ConfigError::Serialize(e.to_string()))?;
    Ok(None)
}
