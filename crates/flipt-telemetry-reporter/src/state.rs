//! The reporter's persistent state, `<meta.state_directory>/telemetry.json`
//! (`{"version","uuid","lastTimestamp"}`, DESIGN.md §6): the anonymous id
//! that must survive restarts and the time of the last ping sent.
//!
//! A corrupt or unreadable file is not fatal: it is reported once and a new
//! id is started (Flipt fails the report instead, which loses every later
//! ping). A directory that cannot be written disables sending, because an
//! id that changes at every restart would count one installation many times.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// File name inside `meta.state_directory` (Flipt's).
pub(crate) const STATE_FILE: &str = "telemetry.json";

/// Version written into the state file; the payload schema version.
pub(crate) const STATE_VERSION: &str = crate::payload::SCHEMA_VERSION;

/// Why the state could not be kept.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    /// The directory could not be created or the file not written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory concerned.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
}

/// What the reporter remembers between runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct State {
    /// Anonymous installation id (v4), the ping's `anonymousId` and `uuid`.
    pub uuid: Uuid,
    /// When the last ping was accepted by the endpoint.
    pub last_timestamp: Option<OffsetDateTime>,
}

impl State {
    /// A new installation: random id, no ping sent yet.
    pub(crate) fn fresh() -> Self {
        Self {
            uuid: Uuid::new_v4(),
            last_timestamp: None,
        }
    }
}

/// The file as written. Unknown fields are ignored and the version is not
/// checked, so Flipt's own state files (`"1.5"`) are read and their id kept.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    #[serde(default)]
    version: String,
    #[serde(default)]
    uuid: String,
    #[serde(
        rename = "lastTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    last_timestamp: Option<String>,
}

/// What reading the file found.
#[derive(Debug)]
pub(crate) enum Loaded {
    /// No file yet.
    Missing,
    /// A valid state.
    Found(State),
    /// The file exists but could not be used; the text says why.
    Unusable(String),
}

/// The state file in one directory.
#[derive(Debug, Clone)]
pub(crate) struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    /// The store for `dir` (nothing is touched yet).
    pub(crate) fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Path of `telemetry.json`.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// Reads the state without writing anything.
    pub(crate) fn load(&self) -> Loaded {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Loaded::Missing,
            Err(err) => return Loaded::Unusable(format!("cannot read it: {err}")),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            // Flipt treats an empty file as "no state yet".
            return Loaded::Missing;
        }
        let file: StateFile = match serde_json::from_slice(&bytes) {
            Ok(file) => file,
            Err(err) => return Loaded::Unusable(format!("not valid JSON: {err}")),
        };
        let uuid = match Uuid::parse_str(file.uuid.trim()) {
            Ok(uuid) if !uuid.is_nil() => uuid,
            _ => return Loaded::Unusable(format!("invalid uuid {:?}", file.uuid)),
        };
        // A bad timestamp only loses the timestamp, never the id.
        let last_timestamp = file
            .last_timestamp
            .and_then(|t| OffsetDateTime::parse(&t, &Rfc3339).ok());
        Loaded::Found(State {
            uuid,
            last_timestamp,
        })
    }

    /// Reads the state, or starts a new one; a file that exists but cannot
    /// be used is logged once as a warning.
    pub(crate) fn load_or_fresh(&self) -> State {
        match self.load() {
            Loaded::Found(state) => state,
            Loaded::Missing => State::fresh(),
            Loaded::Unusable(reason) => {
                tracing::warn!(
                    path = %self.path().display(),
                    reason = %reason,
                    "telemetry state file is unusable, starting with a new anonymous id"
                );
                State::fresh()
            }
        }
    }

    /// Creates the directory when missing (mode 0700, as Flipt) and writes
    /// `state` through a temporary file and a rename, so a crash mid-write
    /// never leaves a truncated file behind.
    pub(crate) fn save(&self, state: &State) -> Result<(), StateError> {
        let write_err = |path: &Path, source| StateError::Write {
            path: path.to_path_buf(),
            source,
        };
        create_dir(&self.dir).map_err(|e| write_err(&self.dir, e))?;
        let file = StateFile {
            version: STATE_VERSION.to_owned(),
            uuid: state.uuid.to_string(),
            last_timestamp: state
                .last_timestamp
                .and_then(|t| t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok()),
        };
        let mut text =
            serde_json::to_vec(&file).map_err(|e| write_err(&self.path(), io::Error::other(e)))?;
        text.push(b'\n');
        let tmp = self.dir.join(format!("{STATE_FILE}.tmp"));
        let result = fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(&text).and_then(|()| f.sync_all()))
            .and_then(|()| fs::rename(&tmp, self.path()));
        if let Err(err) = result {
            let _ = fs::remove_file(&tmp);
            return Err(write_err(&self.path(), err));
        }
        Ok(())
    }
}

fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    if fs::metadata(dir)?.is_dir() {
        Ok(())
    } else {
        Err(io::Error::other("exists and is not a directory"))
    }
}

/// `meta.state_directory`, or when empty the user config directory as Flipt
/// uses it: `$XDG_CONFIG_HOME/flipt`, else `$HOME/.config/flipt`. `None`
/// when neither variable is set.
pub fn resolve_state_directory(
    configured: &Path,
    env: &std::collections::HashMap<String, String>,
) -> Option<PathBuf> {
    if !configured.as_os_str().is_empty() {
        return Some(configured.to_path_buf());
    }
    let non_empty = |key: &str| env.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    if let Some(xdg) = non_empty("XDG_CONFIG_HOME") {
        return Some(Path::new(xdg).join("flipt"));
    }
    non_empty("HOME").map(|home| Path::new(home).join(".config").join("flipt"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn saved_state_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::new(dir.path().join("nested"));
        let state = State {
            uuid: Uuid::new_v4(),
            last_timestamp: Some(OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("ts")),
        };
        store.save(&state).expect("save");
        let Loaded::Found(read) = store.load() else {
            panic!("state not found");
        };
        assert_eq!(read, state);
        let text = fs::read_to_string(store.path()).expect("read");
        assert_eq!(
            text,
            format!(
                "{{\"version\":\"{STATE_VERSION}\",\"uuid\":\"{}\",\"lastTimestamp\":\"2023-11-14T22:13:20Z\"}}\n",
                state.uuid
            )
        );
    }

    #[test]
    fn flipt_state_files_keep_their_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::new(dir.path());
        let id = "4e5a0a47-3a0c-4a0e-9d0f-5d9f6f1e2b3c";
        fs::write(
            store.path(),
            format!(r#"{{"version":"1.5","uuid":"{id}","lastTimestamp":"2024-01-02T03:04:05Z"}}"#),
        )
        .expect("write");
        let Loaded::Found(state) = store.load() else {
            panic!("state not found");
        };
        assert_eq!(state.uuid.to_string(), id);
        assert!(state.last_timestamp.is_some());
    }

    #[test]
    fn empty_corrupt_and_unreadable_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::new(dir.path());
        assert!(matches!(store.load(), Loaded::Missing));
        fs::write(store.path(), "\n").expect("write");
        assert!(matches!(store.load(), Loaded::Missing));
        for corrupt in ["{not json", r#"{"uuid":"nope"}"#, "[1,2]"] {
            fs::write(store.path(), corrupt).expect("write");
            assert!(matches!(store.load(), Loaded::Unusable(_)), "{corrupt}");
        }
        fs::remove_file(store.path()).expect("remove");
        fs::create_dir(store.path()).expect("dir in the way");
        assert!(matches!(store.load(), Loaded::Unusable(_)));
    }

    #[test]
    fn a_file_in_place_of_the_directory_cannot_be_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocker = dir.path().join("file");
        fs::write(&blocker, "x").expect("write");
        for target in [blocker.clone(), blocker.join("sub")] {
            let err = StateStore::new(target).save(&State::fresh());
            assert!(err.is_err());
        }
    }

    #[test]
    fn default_directory_follows_xdg_then_home() {
        let env = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let empty = Path::new("");
        assert_eq!(
            resolve_state_directory(Path::new("/data"), &env(&[("HOME", "/h")])),
            Some(PathBuf::from("/data"))
        );
        assert_eq!(
            resolve_state_directory(empty, &env(&[("HOME", "/h"), ("XDG_CONFIG_HOME", "/x")])),
            Some(PathBuf::from("/x/flipt"))
        );
        assert_eq!(
            resolve_state_directory(empty, &env(&[("HOME", "/h")])),
            Some(PathBuf::from("/h/.config/flipt"))
        );
        assert_eq!(resolve_state_directory(empty, &env(&[])), None);
    }
}
