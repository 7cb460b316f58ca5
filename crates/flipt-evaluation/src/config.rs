//! The evaluation service's configuration: only the common sections
//! (`services.cache.*` says where flag state comes from).

use flipt_server::config::{EVALUATION_GRPC_PORT, EVALUATION_HTTP_PORT, ServiceConfig};
use serde::{Deserialize, Serialize};

/// `flipt-evaluation` has no sections of its own.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EvaluationServiceConfig {}

impl ServiceConfig for EvaluationServiceConfig {
    const SERVICE_NAME: &'static str = "flipt-evaluation";
    const DEFAULT_GRPC_PORT: u16 = EVALUATION_GRPC_PORT;
    const DEFAULT_HTTP_PORT: u16 = EVALUATION_HTTP_PORT;
}
