//! `flipt-evaluation`: Flipt's evaluation API over flag state from the
//! cache service.

use std::sync::Arc;

use flipt_evaluation::{SystemResolver, main_with_resolver};
use flipt_server::{Cli, parse_args};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = parse_args();
    main_with_resolver(&cli, Arc::new(SystemResolver)).await
}
