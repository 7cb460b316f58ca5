//! Security settings every service shares: TLS on the listeners
//! (`server.protocol`, `server.cert_file`, `server.cert_key`) and the
//! internal token (`services.internal_token`, `services.internal_token_file`).
//! Files are checked when the config loads, so a bad path stops the process
//! with one line naming the key.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{InvalidValue, Secret, ServerConfig, ServicesConfig};

/// `server.protocol`, as in Flipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Plain text (h2c for gRPC).
    #[default]
    Http,
    /// TLS on the gRPC and HTTP ports.
    Https,
}

impl ServerConfig {
    /// The private key path: `server.cert_key`, else `server.key_file`.
    pub fn key_path(&self) -> &Path {
        if self.cert_key.as_os_str().is_empty() {
            &self.key_file
        } else {
            &self.cert_key
        }
    }

    /// The key of the private key path, for messages.
    pub fn key_path_key(&self) -> &'static str {
        if self.cert_key.as_os_str().is_empty() {
            "server.key_file"
        } else {
            "server.cert_key"
        }
    }
}

impl ServicesConfig {
    /// The internal token, from `services.internal_token` or
    /// `services.internal_token_file`; `None` when neither is set.
    ///
    /// # Errors
    /// The file cannot be read or holds nothing.
    pub fn internal_token(&self) -> Result<Option<Secret>, InvalidValue> {
        if !self.internal_token_file.as_os_str().is_empty() {
            let token =
                read_secret_file("services.internal_token_file", &self.internal_token_file)?;
            return Ok(Some(token));
        }
        let token = self.internal_token.expose().trim();
        Ok((!token.is_empty()).then(|| Secret::new(token)))
    }
}

/// Reads a secret from `path` (surrounding whitespace, such as the final
/// newline of an editor or `kubectl create secret --from-file`, ignored).
///
/// # Errors
/// The file cannot be read or holds only whitespace; the error names `key`.
pub fn read_secret_file(key: &str, path: &Path) -> Result<Secret, InvalidValue> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|err| InvalidValue::string(key, &shown, format!("cannot read the file: {err}")))?;
    let value = text.trim();
    if value.is_empty() {
        return Err(InvalidValue::string(key, &shown, "the file is empty"));
    }
    Ok(Secret::new(value))
}

pub(super) fn validate(
    server: &ServerConfig,
    services: &ServicesConfig,
) -> Result<(), InvalidValue> {
    if !server.cert_key.as_os_str().is_empty()
        && !server.key_file.as_os_str().is_empty()
        && server.cert_key != server.key_file
    {
        return Err(InvalidValue::string(
            "server.key_file",
            &server.key_file.display().to_string(),
            "server.cert_key is set to another file; set only one of them",
        ));
    }
    if server.protocol == Protocol::Https {
        for (key, path) in [
            ("server.cert_file", server.cert_file.as_path()),
            (server.key_path_key(), server.key_path()),
        ] {
            if path.as_os_str().is_empty() {
                return Err(InvalidValue::string(
                    key,
                    "",
                    "must be set when server.protocol is https",
                ));
            }
            if let Err(err) = std::fs::metadata(path) {
                return Err(InvalidValue::string(
                    key,
                    &path.display().to_string(),
                    format!("cannot read the file: {err}"),
                ));
            }
        }
    }
    if !services.internal_token.is_empty() && !services.internal_token_file.as_os_str().is_empty() {
        return Err(InvalidValue::string(
            "services.internal_token_file",
            &services.internal_token_file.display().to_string(),
            "services.internal_token is set too; set only one of them",
        ));
    }
    services.internal_token()?;
    Ok(())
}
