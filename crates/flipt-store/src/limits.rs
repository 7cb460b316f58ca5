//! [`FileLimits`]: bounds on what one flag file may cost to load, checked
//! before the file is read (size) and before its document is built (nodes),
//! so a hostile or broken file is rejected in bounded memory.

/// Default of [`FileLimits::max_file_bytes`]: 16 MiB, far above any real
/// flag file (the demo files are a few KiB).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Default of [`FileLimits::max_nodes`]: two million values once YAML
/// aliases are expanded, far above any real flag file.
pub const DEFAULT_MAX_NODES: u64 = 2_000_000;

/// Bounds on one flag file (`storage.local.max_file_bytes`,
/// `storage.local.max_nodes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimits {
    /// The most bytes a file may have; larger files are not read.
    pub max_file_bytes: u64,
    /// The most YAML nodes (scalars, lists and maps) a file may expand to,
    /// each alias counted at the size of what it repeats. Counted from the
    /// parser's events before any document is built, so an alias bomb
    /// ("billion laughs") costs no more memory than its text.
    pub max_nodes: u64,
}

impl Default for FileLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_nodes: DEFAULT_MAX_NODES,
        }
    }
}
