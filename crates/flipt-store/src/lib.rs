//! Declarative flag files loaded into validated, immutable snapshots.
//!
//! The flag directory holds files in Flipt's declarative format
//! (`features.yml`): [`load_dir`] discovers them (an optional `.flipt.yml`
//! index with include/exclude globs, else the default `*features.yml` names),
//! decodes YAML streams and JSON values, validates every document against
//! Flipt's schema (versions 1.0 to 1.4 with their field gates), merges
//! documents per namespace, resolves segment and variant references and
//! returns a [`Snapshot`]. Every problem of a load is reported with file and
//! line in one [`LoadError`].
//!
//! A [`Store`] keeps the current snapshot and reloads it when the files
//! change, keeping the last good snapshot when the new files are invalid.
//! Each namespace carries a content-derived [`Namespace::version`] that cache
//! keys and snapshot ETags are built from.

mod assemble;
mod decode;
mod diff;
mod discover;
mod error;
mod limits;
mod load;
mod node;
mod snapshot;
mod store;
mod version;
mod watcher;

pub use diff::{NamespaceDiff, SnapshotDiff};
pub use discover::{DEFAULT_INCLUDES, INDEX_FILE};
pub use error::{Issue, LoadError, LookupError};
pub use limits::{DEFAULT_MAX_ALIAS_NODES, DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_NODES, FileLimits};
pub use load::{load_dir, load_dir_with};
pub use snapshot::{Namespace, Snapshot};
pub use store::{LOGGED_KEYS, ReloadEvent, ReloadHook, ReloadOutcome, Store, StoreOptions};
