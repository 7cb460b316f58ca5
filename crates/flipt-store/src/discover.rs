//! Finding and reading the flag files of a directory.
//!
//! As in Flipt, an optional `.flipt.yml` index at the root lists `include`
//! and `exclude` globs; without it the default includes match any file whose
//! name ends in `features.yml`, `features.yaml`, `.features.yml` or
//! `.features.yaml`. Globs match the `/`-separated path relative to the root,
//! and `*` also matches `/` (Flipt's glob library has no separator by
//! default), so `**features.yml` matches at any depth. The tree is walked in
//! lexical order, which fixes the order documents are merged in. Symbolic
//! links to files are followed; links to directories are not, like Go's
//! `fs.WalkDir`.
//!
//! A Kubernetes ConfigMap or Secret volume shows each file three times:
//! `features.yml` → `..data/features.yml` → `..2026_…/features.yml`, and
//! swaps `..data` atomically on update. Entries whose names start with `..`
//! are the volume's internals and are skipped, and a file reached through
//! several paths is read once (the first path in walk order), so every flag
//! loads once and an update is seen whole.
//!
//! A file larger than `storage.local.max_file_bytes` is not read at all.

use std::{
    collections::HashSet,
    fs,
    io::Read as _,
    path::{Path, PathBuf},
};

use globset::{Glob, GlobSet, GlobSetBuilder};
use sha1::{Digest, Sha1};

use crate::{
    decode::Version,
    error::{Issue, LoadError},
    limits::FileLimits,
    node::{self, Value},
};

/// Name of the index file at the root of the flag directory.
pub const INDEX_FILE: &str = ".flipt.yml";

/// Includes used when there is no index file.
pub const DEFAULT_INCLUDES: [&str; 4] = [
    "**features.yml",
    "**features.yaml",
    "**.features.yml",
    "**.features.yaml",
];

/// One flag file: its path relative to the root and its bytes.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    pub(crate) path: String,
    pub(crate) bytes: Vec<u8>,
}

/// Digest of the index and every selected file (paths and contents): equal
/// fingerprints mean a reload would produce the same snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint([u8; 20]);

impl Fingerprint {
    /// Matches no real read (SHA-1 does not produce all zeros in practice).
    pub(crate) const NONE: Fingerprint = Fingerprint([0; 20]);
}

/// Everything read from a flag directory.
pub(crate) struct Read {
    pub(crate) fingerprint: Fingerprint,
    pub(crate) files: Result<Vec<SourceFile>, LoadError>,
}

/// Reads the index and every selected file under `root`. The fingerprint is
/// computed even when reading fails, from what could be read, so a watcher
/// does not report the same broken state again and again.
pub(crate) fn read_tree(root: &Path, limits: &FileLimits) -> Read {
    let mut hasher = Sha1::new();
    let files = read_into(root, limits, &mut hasher);
    if let Err(err) = &files {
        // Distinguish "failed" from "read nothing" in the fingerprint.
        hasher.update(err.to_string().as_bytes());
    }
    Read {
        fingerprint: Fingerprint(hasher.finalize().into()),
        files,
    }
}

fn read_into(
    root: &Path,
    limits: &FileLimits,
    hasher: &mut Sha1,
) -> Result<Vec<SourceFile>, LoadError> {
    let root_label = root.display().to_string();
    let meta = fs::metadata(root).map_err(|err| Issue::file(&root_label, err.to_string()))?;
    if !meta.is_dir() {
        return Err(Issue::file(&root_label, "not a directory").into());
    }

    let index_path = root.join(INDEX_FILE);
    let index = match read_bounded(&index_path, limits.max_file_bytes) {
        Ok(bytes) => {
            hasher.update(b"index");
            hash_bytes(hasher, &bytes);
            Some(bytes)
        }
        Err(ReadError::Io(err)) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(Issue::file(INDEX_FILE, err.to_string()).into()),
    };
    let selector = match index {
        Some(bytes) => Selector::from_index(&bytes, limits)?,
        None => Selector::default_includes(),
    };

    let mut paths = Vec::new();
    let mut issues = Vec::new();
    walk(root, "", &selector, &mut paths, &mut issues);

    let mut files = Vec::with_capacity(paths.len());
    let mut seen = HashSet::new();
    for (rel, full) in paths {
        // The same file through another path (a link) is read once.
        if let Ok(canonical) = fs::canonicalize(&full)
            && !seen.insert(canonical)
        {
            continue;
        }
        match read_bounded(&full, limits.max_file_bytes) {
            Ok(bytes) => {
                hasher.update(b"file");
                hash_bytes(hasher, rel.as_bytes());
                hash_bytes(hasher, &bytes);
                files.push(SourceFile { path: rel, bytes });
            }
            Err(err) => issues.push(Issue::file(rel, err.to_string())),
        }
    }
    if issues.is_empty() {
        Ok(files)
    } else {
        Err(LoadError::new(issues))
    }
}

/// Why a file was not read.
enum ReadError {
    Io(std::io::Error),
    TooLarge { size: u64, limit: u64 },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(err) => err.fmt(f),
            ReadError::TooLarge { size, limit } => write!(
                f,
                "file is {size} bytes, over the limit of {limit} bytes (storage.local.max_file_bytes)"
            ),
        }
    }
}

/// Reads at most `limit` bytes: the size is checked before reading, and
/// the read stops past the limit should the file grow meanwhile.
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = fs::File::open(path).map_err(ReadError::Io)?;
    let size = file.metadata().map_err(ReadError::Io)?.len();
    if size > limit {
        return Err(ReadError::TooLarge { size, limit });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    let read = bytes.len() as u64;
    if read > limit {
        return Err(ReadError::TooLarge { size: read, limit });
    }
    Ok(bytes)
}

fn hash_bytes(hasher: &mut Sha1, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

/// Depth-first walk in lexical order, collecting selected files.
fn walk(
    dir: &Path,
    rel_dir: &str,
    selector: &Selector,
    out: &mut Vec<(String, PathBuf)>,
    issues: &mut Vec<Issue>,
) {
    let label = if rel_dir.is_empty() { "." } else { rel_dir };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            issues.push(Issue::file(label, err.to_string()));
            return;
        }
    };
    let mut children = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => children.push(entry),
            Err(err) => issues.push(Issue::file(label, err.to_string())),
        }
    }
    children.sort_by_key(|e| e.file_name());
    for entry in children {
        let name = entry.file_name().to_string_lossy().into_owned();
        // Kubernetes' atomic-writer internals (`..data`, `..2026_…`).
        if name.starts_with("..") {
            continue;
        }
        let rel = if rel_dir.is_empty() {
            name
        } else {
            format!("{rel_dir}/{name}")
        };
        let Ok(file_type) = entry.file_type() else {
            issues.push(Issue::file(&rel, "cannot read file type"));
            continue;
        };
        if file_type.is_dir() {
            walk(&entry.path(), &rel, selector, out, issues);
        } else if rel != INDEX_FILE && selector.selects(&rel) {
            // A link to a directory fails to read later only if selected;
            // skip it here like WalkDir does.
            if file_type.is_symlink() && entry.path().is_dir() {
                continue;
            }
            out.push((rel, entry.path()));
        }
    }
}

/// Include/exclude globs.
struct Selector {
    include: GlobSet,
    exclude: GlobSet,
}

impl Selector {
    fn default_includes() -> Self {
        let mut issues = Vec::new();
        let include = build_set(&default_globs(), &mut issues);
        Self {
            include,
            exclude: GlobSet::empty(),
        }
    }

    /// Parses `.flipt.yml`: `version` ("1.0"), `include`, `exclude`.
    fn from_index(bytes: &[u8], limits: &FileLimits) -> Result<Self, LoadError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Issue::file(INDEX_FILE, "file is not valid UTF-8"))?;
        node::check_node_budget(text, limits)
            .map_err(|e| Issue::at(INDEX_FILE, e.line, e.message))?;
        let parsed =
            node::parse_yaml(text).map_err(|e| Issue::at(INDEX_FILE, e.line, e.message))?;
        let mut issues: Vec<Issue> = parsed
            .problems
            .into_iter()
            .map(|p| Issue::at(INDEX_FILE, p.line, p.message))
            .collect();
        let mut include = Vec::new();
        let mut exclude = Vec::new();
        match parsed.documents.as_slice() {
            [] => {}
            [doc] => match &doc.value {
                Value::Map(entries) => {
                    for entry in entries {
                        let target = match entry.key.as_str() {
                            "version" => {
                                check_index_version(&entry.value, &mut issues);
                                continue;
                            }
                            "include" => &mut include,
                            "exclude" => &mut exclude,
                            other => {
                                issues.push(Issue::at(
                                    INDEX_FILE,
                                    entry.key_line,
                                    format!("unknown field \"{other}\""),
                                ));
                                continue;
                            }
                        };
                        read_globs(&entry.key, &entry.value, target, &mut issues);
                    }
                }
                _ => issues.push(Issue::at(
                    INDEX_FILE,
                    doc.line,
                    format!("index must be a mapping, not {}", doc.type_name()),
                )),
            },
            [_, second, ..] => issues.push(Issue::at(
                INDEX_FILE,
                second.line,
                "index must be a single document",
            )),
        }
        // An index without includes keeps the default ones.
        let include = if include.is_empty() {
            default_globs()
        } else {
            include
        };
        let selector = Self {
            include: build_set(&include, &mut issues),
            exclude: build_set(&exclude, &mut issues),
        };
        // Glob errors are found after the fields; report in line order.
        issues.sort_by_key(|issue| issue.line);
        if issues.is_empty() {
            Ok(selector)
        } else {
            Err(LoadError::new(issues))
        }
    }

    fn selects(&self, rel: &str) -> bool {
        self.include.is_match(rel) && !self.exclude.is_match(rel)
    }
}

fn check_index_version(value: &node::Node, issues: &mut Vec<Issue>) {
    let text = match &value.value {
        Value::Scalar(s) => s.text.as_str(),
        _ => "",
    };
    // The index format has only ever had version 1.0.
    if Version::parse(text) != Some(Version(0)) {
        issues.push(Issue::at(
            INDEX_FILE,
            value.line,
            format!("version \"{text}\" is not supported (supported: 1.0)"),
        ));
    }
}

fn read_globs(
    field: &str,
    value: &node::Node,
    out: &mut Vec<(String, usize)>,
    issues: &mut Vec<Issue>,
) {
    let Value::Seq(items) = &value.value else {
        if !value.is_null() {
            issues.push(Issue::at(
                INDEX_FILE,
                value.line,
                format!("{field} must be a list, not {}", value.type_name()),
            ));
        }
        return;
    };
    for item in items {
        match &item.value {
            Value::Scalar(s) if !item.is_null() => out.push((s.text.clone(), item.line)),
            _ => issues.push(Issue::at(
                INDEX_FILE,
                item.line,
                format!("{field} must hold glob strings, not {}", item.type_name()),
            )),
        }
    }
}

/// The default includes, as (glob, line) pairs like index globs.
fn default_globs() -> Vec<(String, usize)> {
    DEFAULT_INCLUDES
        .iter()
        .map(|g| (g.to_string(), 0))
        .collect()
}

fn build_set(globs: &[(String, usize)], issues: &mut Vec<Issue>) -> GlobSet {
    let mut builder = GlobSetBuilder::new();
    for (glob, line) in globs {
        let line = *line;
        match Glob::new(glob) {
            Ok(g) => {
                builder.add(g);
            }
            Err(err) => issues.push(Issue::at(
                INDEX_FILE,
                line,
                format!("invalid glob \"{glob}\": {}", err.kind()),
            )),
        }
    }
    builder.build().unwrap_or_else(|err| {
        issues.push(Issue::file(INDEX_FILE, format!("invalid globs: {err}")));
        GlobSet::empty()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_includes_match_at_any_depth() {
        let s = Selector::default_includes();
        assert!(s.selects("features.yml"));
        assert!(s.selects("a/b/features.yaml"));
        assert!(s.selects("team.features.yml"));
        assert!(s.selects("a/myfeatures.yml"));
        assert!(!s.selects("features.json"));
        assert!(!s.selects("flags.yml"));
    }

    #[test]
    fn index_include_and_exclude() {
        let s = Selector::from_index(
            b"version: \"1.0\"\ninclude:\n  - \"**/*.yml\"\nexclude:\n  - \"drafts/**\"\n",
            &FileLimits::default(),
        )
        .expect("valid index");
        assert!(s.selects("a/b.yml"));
        assert!(!s.selects("drafts/x.yml"));
        assert!(!s.selects("a/b.json"));
    }

    #[test]
    fn index_errors_have_lines() {
        let err = Selector::from_index(
            b"version: \"2.0\"\nincludes: []\ninclude:\n  - \"a[\"\n",
            &FileLimits::default(),
        )
        .err()
        .expect("invalid index");
        let lines: Vec<String> = err.issues().iter().map(|i| i.to_string()).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(
            lines[0],
            ".flipt.yml:1: version \"2.0\" is not supported (supported: 1.0)"
        );
        assert_eq!(lines[1], ".flipt.yml:2: unknown field \"includes\"");
        assert!(
            lines[2].starts_with(".flipt.yml:4: invalid glob \"a[\""),
            "{}",
            lines[2]
        );
    }
}
