//! [`FileLimits`]: bounds on what one flag file may cost to load, checked
//! before the file is read (size) and before its document is built (nodes),
//! so a hostile or broken file is rejected in bounded memory.

/// Default of [`FileLimits::max_file_bytes`]: 16 MiB, far above any real
/// flag file (the demo files are a few KiB).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Default of [`FileLimits::max_nodes`]: two million values once YAML
/// aliases are expanded, far above any real flag file.
pub const DEFAULT_MAX_NODES: u64 = 2_000_000;

/// Default of [`FileLimits::max_alias_nodes`]: a hundred thousand nodes
/// repeated through aliases, far above what anchors in a real flag file
/// repeat (a shared constraint list, a segment), and small enough that
/// building them stays within a few megabytes.
pub const DEFAULT_MAX_ALIAS_NODES: u64 = 100_000;

/// Bounds on one flag file (`storage.local.max_file_bytes`,
/// `storage.local.max_nodes`, `storage.local.max_alias_nodes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimits {
    /// The most bytes a file may have; larger files are not read.
    pub max_file_bytes: u64,
    /// The most YAML nodes (scalars, lists and maps) a file may expand to,
    /// each alias counted at the size of what it repeats. Counted from the
    /// parser's events before any document is built, so an alias bomb
    /// ("billion laughs") costs no more memory than its text.
    pub max_nodes: u64,
    /// The most nodes aliases may add to a file, each alias counted at the
    /// size of what it repeats: the amplification a "billion laughs" file
    /// relies on, bounded separately because it costs memory out of all
    /// proportion to the file's size.
    pub max_alias_nodes: u64,
}

impl Default for FileLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_nodes: DEFAULT_MAX_NODES,
            max_alias_nodes: DEFAULT_MAX_ALIAS_NODES,
        }
    }
}
