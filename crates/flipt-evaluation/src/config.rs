//! The evaluation service's configuration: the common sections
//! (`services.cache.*` says where flag state comes from) and
//! `evaluation.limits.*`, and `cors.*` for browser clients.

use flipt_server::{
    Config, EVALUATION_GRPC_PORT, EVALUATION_HTTP_PORT, InvalidValue, ServiceConfig,
};
use serde::{Deserialize, Serialize};

use crate::{cors::CorsConfig, limits::Limits};

/// Sections read by `flipt-evaluation` on top of the common ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EvaluationServiceConfig {
    /// `evaluation.*`
    pub evaluation: EvaluationConfig,
    /// `cors.*`
    pub cors: CorsConfig,
}

/// `evaluation.*`
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EvaluationConfig {
    /// `evaluation.limits.*`: bounds on one request.
    pub limits: Limits,
}

impl ServiceConfig for EvaluationServiceConfig {
    const SERVICE_NAME: &'static str = "flipt-evaluation";
    const DEFAULT_GRPC_PORT: u16 = EVALUATION_GRPC_PORT;
    const DEFAULT_HTTP_PORT: u16 = EVALUATION_HTTP_PORT;

    fn validate(config: &Config<Self>, _warnings: &mut Vec<String>) -> Result<(), InvalidValue> {
        if let Some(key) = config.service.evaluation.limits.zero_limit() {
            return Err(InvalidValue::string(
                format!("evaluation.limits.{key}"),
                "0",
                "expected a positive number",
            ));
        }
        config.service.cors.validate()
    }
}
