//! One load: files → documents → validated snapshot.

use std::path::Path;

use crate::{
    assemble::assemble,
    decode::{Document, decode_document},
    discover::{SourceFile, read_tree},
    error::{Issue, LoadError},
    limits::FileLimits,
    node::{self, Parsed},
    snapshot::Snapshot,
};

/// Loads every flag file under `root` into a snapshot, or reports every
/// problem found, with the default [`FileLimits`].
///
/// Blocking: reads the files synchronously. Async callers should run it on a
/// blocking thread (as [`crate::Store`] does).
pub fn load_dir(root: impl AsRef<Path>) -> Result<Snapshot, LoadError> {
    load_dir_with(root, FileLimits::default())
}

/// [`load_dir`] with the given limits on each file.
pub fn load_dir_with(root: impl AsRef<Path>, limits: FileLimits) -> Result<Snapshot, LoadError> {
    let files = read_tree(root.as_ref(), &limits).files?;
    build(&files, &limits)
}

/// Decodes and validates `files` (in load order) into a snapshot.
pub(crate) fn build(files: &[SourceFile], limits: &FileLimits) -> Result<Snapshot, LoadError> {
    let mut issues = Vec::new();
    let mut documents: Vec<(String, Document)> = Vec::new();
    for file in files {
        let Some(parsed) = parse_file(file, limits, &mut issues) else {
            continue;
        };
        for problem in parsed.problems {
            issues.push(Issue::at(&file.path, problem.line, problem.message));
        }
        for node in &parsed.documents {
            if let Some(doc) = decode_document(&file.path, node, &mut issues) {
                documents.push((file.path.clone(), doc));
            }
        }
    }
    let snapshot = assemble(documents, &mut issues);
    if issues.is_empty() {
        Ok(snapshot)
    } else {
        Err(LoadError::new(issues))
    }
}

/// Parses a file by its extension, as Flipt does: `.yml`/`.yaml` are YAML
/// streams, `.json` or no extension is JSON (possibly several values).
fn parse_file(file: &SourceFile, limits: &FileLimits, issues: &mut Vec<Issue>) -> Option<Parsed> {
    let name = file.path.rsplit('/').next().unwrap_or(&file.path);
    let extension = match name.rfind('.') {
        // A leading dot starts a hidden name, not an extension.
        Some(i) if i > 0 => &name[i + 1..],
        _ => "",
    };
    let is_yaml = matches!(extension, "yml" | "yaml");
    let is_json = matches!(extension, "json" | "");
    if !is_yaml && !is_json {
        issues.push(Issue::file(
            &file.path,
            format!("unexpected extension: \".{extension}\""),
        ));
        return None;
    }
    let Ok(text) = std::str::from_utf8(&file.bytes) else {
        issues.push(Issue::file(&file.path, "file is not valid UTF-8"));
        return None;
    };
    // A byte-order mark is not content.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // JSON has no aliases: its node count is bounded by its size.
    if is_yaml && let Err(err) = node::check_node_budget(text, limits) {
        issues.push(Issue::at(&file.path, err.line, err.message));
        return None;
    }
    let parsed = if is_yaml {
        node::parse_yaml(text)
    } else {
        node::parse_json(text)
    };
    match parsed {
        Ok(parsed) => Some(parsed),
        Err(err) => {
            let kind = if is_yaml { "YAML" } else { "JSON" };
            issues.push(Issue::at(
                &file.path,
                err.line,
                format!("invalid {kind}: {}", err.message),
            ));
            None
        }
    }
}
