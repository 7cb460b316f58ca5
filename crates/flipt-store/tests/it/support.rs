//! Helpers: temporary flag directories and fixture paths.

use std::{
    fs,
    path::{Path, PathBuf},
};

/// A temporary flag directory that is removed when dropped.
pub(crate) struct FlagDir {
    dir: tempfile::TempDir,
    /// Same file system as `dir` (so renames are atomic), outside of it.
    staging: tempfile::TempDir,
}

impl FlagDir {
    /// An empty directory.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        let staging = tempfile::tempdir().expect("create staging dir");
        Self { dir, staging }
    }

    /// Writes `content` to `rel` (creating parent directories). The file is
    /// replaced atomically (write elsewhere, then rename), so a concurrent
    /// reload never sees it half written.
    pub(crate) fn write(&self, rel: &str, content: &str) -> &Self {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent dirs");
        }
        let staging = self.staging.path().join("next");
        fs::write(&staging, content).expect("write flag file");
        fs::rename(&staging, &path).expect("move flag file into place");
        self
    }

    /// Removes `rel`.
    pub(crate) fn remove(&self, rel: &str) {
        fs::remove_file(self.dir.path().join(rel)).expect("remove flag file");
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Loads the directory, panicking with the problems if it is invalid.
    pub(crate) fn load(&self) -> flipt_store::Snapshot {
        match flipt_store::load_dir(self.path()) {
            Ok(snapshot) => snapshot,
            Err(err) => panic!("load failed:\n{err}"),
        }
    }

    /// Loads the directory, expecting failure; returns the problem lines.
    pub(crate) fn load_err(&self) -> Vec<String> {
        let err = flipt_store::load_dir(self.path()).expect_err("load should fail");
        err.to_string().lines().map(str::to_string).collect()
    }
}

/// `tests/fixtures/<rel>` of this crate.
pub(crate) fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}
