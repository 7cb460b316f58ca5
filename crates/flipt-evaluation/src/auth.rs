//! Client tokens on the public API, with Flipt's keys and semantics:
//!
//! * `authentication.required` (default false): when false nothing is
//!   checked, whatever tokens are configured (as in Flipt);
//! * `authentication.exclude.{evaluation,ofrep}`: APIs left open when
//!   authentication is required (`evaluation` covers gRPC, REST and the
//!   snapshot, as Flipt's exclusion covers its evaluation and data servers);
//! * static tokens (`authentication.methods.token.*`): Flipt v2's
//!   `storage.tokens.<name>.{credential,metadata}` plus `credential_file`,
//!   and Flipt v1's `bootstrap.token` as one more token named
//!   `initial_bootstrap_token`;
//! * a token may be scoped to namespaces (`metadata.namespace`, Flipt v1's
//!   `metadata."io.flipt.auth.token.namespace"`, or a `namespaces` list).
//!
//! `/metrics` and `/health` (and gRPC health and reflection) stay open.
//! Credential files are read again on SIGHUP ([`reload_on_sighup`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use flipt_server::auth::{Access, Api, AuthMetrics, Classify, Guard, Identity, TokenSet};
use flipt_server::{InvalidValue, Secret, read_secret_file};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// Name of the `bootstrap.token`, as Flipt names the token it creates.
pub(crate) const BOOTSTRAP_TOKEN_NAME: &str = "initial_bootstrap_token";

/// Metadata keys that scope a token to one namespace: ours and Flipt v1's.
const NAMESPACE_METADATA: [&str; 2] = ["namespace", "io.flipt.auth.token.namespace"];

/// `authentication.*`
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthenticationConfig {
    /// `authentication.required`: refuse requests without a valid token.
    pub required: bool,
    /// `authentication.exclude.*`
    pub exclude: ExcludeConfig,
    /// `authentication.methods.*`
    pub methods: MethodsConfig,
}

/// `authentication.exclude.*`: APIs that stay open when authentication is
/// required.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExcludeConfig {
    /// `authentication.exclude.evaluation`: gRPC, REST and snapshot.
    pub evaluation: bool,
    /// `authentication.exclude.ofrep`: `/ofrep/...`.
    pub ofrep: bool,
}

/// `authentication.methods.*`
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MethodsConfig {
    /// `authentication.methods.token.*`
    pub token: TokenMethodConfig,
}

/// `authentication.methods.token.*`
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenMethodConfig {
    /// `authentication.methods.token.enabled`
    pub enabled: bool,
    /// `authentication.methods.token.storage.*`
    pub storage: TokenStorageConfig,
    /// `authentication.methods.token.bootstrap.*`
    pub bootstrap: BootstrapConfig,
}

/// `authentication.methods.token.storage.*` (Flipt v2's static storage).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenStorageConfig {
    /// `authentication.methods.token.storage.type`: only `static`.
    #[serde(rename = "type")]
    pub storage_type: TokenStorageType,
    /// `authentication.methods.token.storage.tokens.<name>`
    pub tokens: BTreeMap<String, StaticToken>,
}

/// `authentication.methods.token.storage.type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenStorageType {
    /// Tokens listed in the configuration.
    #[default]
    Static,
}

/// `authentication.methods.token.storage.tokens.<name>.*`
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaticToken {
    /// `…credential`: the token value.
    pub credential: Secret,
    /// `…credential_file`: read the value from this file instead.
    pub credential_file: PathBuf,
    /// `…metadata`: free-form; `namespace` scopes the token.
    pub metadata: BTreeMap<String, String>,
    /// `…namespaces`: the namespaces the token may read (empty: all).
    pub namespaces: Vec<String>,
}

/// `authentication.methods.token.bootstrap.*` (Flipt v1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BootstrapConfig {
    /// `authentication.methods.token.bootstrap.token`
    pub token: Secret,
}

impl AuthenticationConfig {
    /// Every configured token, read (files included) and hashed.
    ///
    /// # Errors
    /// A token has no credential or two, a file cannot be read, two tokens
    /// share a credential, or authentication is required without tokens;
    /// the error names the key.
    pub(crate) fn token_set(&self) -> Result<TokenSet, InvalidValue> {
        let mut set = TokenSet::new();
        let method = &self.methods.token;
        if method.enabled {
            for (name, token) in &method.storage.tokens {
                let key = format!("authentication.methods.token.storage.tokens.{name}");
                let credential = token.credential(&key)?;
                let identity = Identity::new(name.clone(), token.namespaces(&key)?);
                set.insert(credential.expose(), identity).map_err(|err| {
                    InvalidValue::string(format!("{key}.credential"), "******", err.to_string())
                })?;
            }
            let bootstrap = method.bootstrap.token.expose().trim();
            if !bootstrap.is_empty() {
                set.insert(
                    bootstrap,
                    Identity::new(BOOTSTRAP_TOKEN_NAME, Vec::<String>::new()),
                )
                .map_err(|err| {
                    InvalidValue::string(
                        "authentication.methods.token.bootstrap.token",
                        "******",
                        err.to_string(),
                    )
                })?;
            }
        }
        Ok(set)
    }

    /// Which requests need a token, by path; `None` when authentication is
    /// not required (nothing is checked).
    pub(crate) fn classify(&self) -> Option<Classify> {
        if !self.required {
            return None;
        }
        let exclude = self.exclude.clone();
        Some(Arc::new(move |path: &str, grpc: bool| {
            classify(&exclude, path, grpc)
        }))
    }

    /// The guard for the public API, or `None` when not required.
    pub(crate) fn guard(
        &self,
        metrics: Option<AuthMetrics>,
    ) -> Result<Option<Guard>, InvalidValue> {
        let Some(classify) = self.classify() else {
            return Ok(None);
        };
        Ok(Some(Guard::new(self.token_set()?, classify, metrics)))
    }
}

impl StaticToken {
    fn credential(&self, key: &str) -> Result<Secret, InvalidValue> {
        let has_file = !self.credential_file.as_os_str().is_empty();
        let value = self.credential.expose().trim();
        match (value.is_empty(), has_file) {
            (false, true) => Err(InvalidValue::string(
                format!("{key}.credential_file"),
                &self.credential_file.display().to_string(),
                format!("{key}.credential is set too; set only one of them"),
            )),
            (true, true) => {
                read_secret_file(&format!("{key}.credential_file"), &self.credential_file)
            }
            (false, false) => Ok(Secret::new(value)),
            (true, false) => Err(InvalidValue::string(
                format!("{key}.credential"),
                "",
                "a token needs a credential or a credential_file",
            )),
        }
    }

    fn namespaces(&self, key: &str) -> Result<Vec<String>, InvalidValue> {
        let mut namespaces = self.namespaces.clone();
        for name in NAMESPACE_METADATA {
            if let Some(namespace) = self.metadata.get(name) {
                namespaces.push(namespace.clone());
            }
        }
        if let Some(blank) = namespaces.iter().find(|n| n.trim().is_empty()) {
            return Err(InvalidValue::string(
                format!("{key}.namespaces"),
                blank,
                "expected namespace keys",
            ));
        }
        Ok(namespaces)
    }
}

/// Flipt's split: health and metrics open; `/ofrep/` under
/// `exclude.ofrep` (scoped tokens refused, as Flipt's OFREP server does not
/// check scopes); everything else under `exclude.evaluation`. gRPC health
/// and reflection stay open like Flipt's.
fn classify(exclude: &ExcludeConfig, path: &str, grpc: bool) -> Access {
    if grpc {
        if path.starts_with("/grpc.health.v1.Health/")
            || path.starts_with("/grpc.reflection.")
            || exclude.evaluation
        {
            return Access::Open;
        }
        return Access::Guarded(Api::Grpc);
    }
    if path == "/health" || path == "/metrics" {
        return Access::Open;
    }
    if path.starts_with("/ofrep/") {
        return if exclude.ofrep {
            Access::Open
        } else {
            Access::GuardedUnscoped(Api::Ofrep)
        };
    }
    if exclude.evaluation {
        Access::Open
    } else {
        Access::Guarded(Api::Rest)
    }
}

/// Reads the tokens again (credential files included) on every SIGHUP
/// until `cancel`, so a token can be rotated without a restart. A token
/// list that no longer loads is logged and the previous one kept.
pub(crate) async fn reload_on_sighup(
    config: AuthenticationConfig,
    guard: Guard,
    cancel: CancellationToken,
) {
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; tokens reload only on restart");
            return;
        }
    };
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            received = hangups.recv() => {
                if received.is_none() {
                    return;
                }
            }
        }
        match config.token_set() {
            Ok(tokens) => {
                let count = tokens.len();
                guard.replace_tokens(tokens);
                tracing::info!(tokens = count, "authentication tokens reloaded");
            }
            Err(error) => {
                tracing::error!(%error, "authentication tokens not reloaded; keeping the previous ones");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_classified_like_flipt() {
        let none = ExcludeConfig::default();
        assert_eq!(classify(&none, "/health", false), Access::Open);
        assert_eq!(classify(&none, "/metrics", false), Access::Open);
        assert_eq!(
            classify(&none, "/evaluate/v1/boolean", false),
            Access::Guarded(Api::Rest)
        );
        assert_eq!(
            classify(
                &none,
                "/internal/v1/evaluation/snapshot/namespace/default",
                false
            ),
            Access::Guarded(Api::Rest)
        );
        assert_eq!(
            classify(&none, "/ofrep/v1/evaluate/flags", false),
            Access::GuardedUnscoped(Api::Ofrep)
        );
        assert_eq!(
            classify(&none, "/flipt.evaluation.EvaluationService/Boolean", true),
            Access::Guarded(Api::Grpc)
        );
        assert_eq!(
            classify(&none, "/grpc.health.v1.Health/Check", true),
            Access::Open
        );
        let evaluation = ExcludeConfig {
            evaluation: true,
            ofrep: false,
        };
        assert_eq!(
            classify(&evaluation, "/evaluate/v1/boolean", false),
            Access::Open
        );
        assert_eq!(
            classify(
                &evaluation,
                "/flipt.evaluation.EvaluationService/Boolean",
                true
            ),
            Access::Open
        );
        assert_eq!(
            classify(&evaluation, "/ofrep/v1/evaluate/flags", false),
            Access::GuardedUnscoped(Api::Ofrep)
        );
        let ofrep = ExcludeConfig {
            evaluation: false,
            ofrep: true,
        };
        assert_eq!(
            classify(&ofrep, "/ofrep/v1/evaluate/flags/x", false),
            Access::Open
        );
    }
}
