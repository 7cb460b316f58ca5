//! The evaluation service's configuration: the common sections
//! (`services.cache.*` says where flag state comes from),
//! `evaluation.limits.*`, `cors.*` for browser clients and
//! `authentication.*`.

use flipt_server::{
    Config, EVALUATION_GRPC_PORT, EVALUATION_HTTP_PORT, InvalidValue, ServiceConfig,
};
use serde::{Deserialize, Serialize};

use crate::{auth::AuthenticationConfig, cors::CorsConfig, limits::Limits};

/// Warning for `authentication.required` without any token.
pub const NO_TOKENS_WARNING: &str = "authentication.required is true but no token is configured \
     (authentication.methods.token.enabled with storage.tokens.<name>.credential or \
     bootstrap.token): every guarded request is refused";

/// Sections read by `flipt-evaluation` on top of the common ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EvaluationServiceConfig {
    /// `evaluation.*`
    pub evaluation: EvaluationConfig,
    /// `cors.*`
    pub cors: CorsConfig,
    /// `authentication.*`: client tokens on the public API.
    pub authentication: AuthenticationConfig,
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

    fn validate(config: &Config<Self>, warnings: &mut Vec<String>) -> Result<(), InvalidValue> {
        let authentication = &config.service.authentication;
        // Reads credential files too, so a bad one stops the process here,
        // with the key named.
        let tokens = authentication.token_set()?;
        if !authentication.required && !tokens.is_empty() {
            warnings.push(
                "authentication.required is false: the configured tokens are not checked"
                    .to_owned(),
            );
        }
        let excluded = authentication.exclude.evaluation && authentication.exclude.ofrep;
        if authentication.required && tokens.is_empty() && !excluded {
            // Fails closed: every guarded request is refused.
            warnings.push(NO_TOKENS_WARNING.to_owned());
        }
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
