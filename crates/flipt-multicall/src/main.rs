//! `flipt`: the service image's one binary. It runs the program whose name
//! it is called by (`/usr/local/bin/flipt-cache` is a link to it, and so on):
//! flipt-evaluation, flipt-cache, flipt-telemetry-reporter, flipt-loadgen or
//! flipt-healthcheck, exactly as that program's own binary does. One binary
//! carries the libraries the five share once, which keeps the image small.

use std::future::Future;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use flipt_evaluation::{SystemResolver, main_with_resolver};
use flipt_server::{Cli, parse_args};

/// The programs, by the name they are called by.
const PROGRAMS: [&str; 5] = [
    "flipt-evaluation",
    "flipt-cache",
    "flipt-telemetry-reporter",
    "flipt-loadgen",
    "flipt-healthcheck",
];

fn main() -> ExitCode {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let name = Path::new(&argv0)
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.as_str() {
        "flipt-evaluation" => services(async {
            let cli: Cli = parse_args();
            main_with_resolver(&cli, Arc::new(SystemResolver)).await
        }),
        "flipt-cache" => services(flipt_cache::cli::main()),
        "flipt-telemetry-reporter" => services(flipt_telemetry_reporter::cli::main()),
        "flipt-loadgen" => clients(flipt_loadgen::cli::loadgen()),
        "flipt-healthcheck" => clients(flipt_loadgen::cli::healthcheck()),
        _ => {
            eprintln!(
                "flipt: run me through a link named after one of: {}",
                PROGRAMS.join(", ")
            );
            ExitCode::from(2)
        }
    }
}

/// A service on the multi-threaded runtime (as `#[tokio::main]`); an error
/// is printed as a `main` returning it prints it.
fn services(program: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("Error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(program) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:?}");
            ExitCode::FAILURE
        }
    }
}

/// Loadgen and the health probe, on a current-thread runtime as their own
/// binaries.
fn clients(program: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(program),
        Err(error) => {
            eprintln!("Error: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}
