//! Validation of one document against Flipt's declarative schema.
//!
//! A document (one YAML document or JSON value) becomes a [`Document`]: its
//! namespace, segments and flags with every field checked and typed. Checks
//! that need more than the document itself (rule segments defined in an
//! earlier document, distribution variants) happen in [`crate::assemble`].

mod fields;
mod flag;
mod segment;

pub(crate) use fields::{Version, is_valid_key};
pub(crate) use flag::{FlagDecl, RolloutKind};

use flipt_core::{DEFAULT_NAMESPACE, Segment};

use crate::{
    error::Issue,
    node::{Node, ScalarKind, Value},
};
use fields::{Ctx, Fields, field, label};

/// The namespace a document writes into.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NamespaceDecl {
    pub(crate) key: String,
    pub(crate) name: Option<String>,
    pub(crate) description: Option<String>,
}

/// One validated document.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub(crate) namespace: NamespaceDecl,
    pub(crate) segments: Vec<Segment>,
    pub(crate) flags: Vec<FlagDecl>,
}

const TOP_LEVEL: &[fields::Field] = &[
    field("version"),
    field("namespace"),
    field("flags"),
    field("segments"),
];

/// Validates one document of `file`, appending every problem to `issues`.
/// Returns what could be read even when problems were found, so that later
/// checks can still run and report their own problems in the same load.
pub(crate) fn decode_document(
    file: &str,
    node: &Node,
    issues: &mut Vec<Issue>,
) -> Option<Document> {
    let version = read_version(file, node, issues);
    let mut ctx = Ctx {
        file,
        version,
        issues,
    };
    let doc = Fields::of(&mut ctx, node, "", "document", TOP_LEVEL)?;
    let namespace = read_namespace(&mut ctx, &doc);

    let mut segments = Vec::new();
    for (i, item) in doc.list(&mut ctx, "", "segments").iter().enumerate() {
        if let Some(segment) =
            segment::decode_segment(&mut ctx, item, &label("segment", item, i + 1))
        {
            segments.push(segment);
        }
    }
    let mut flags = Vec::new();
    for (i, item) in doc.list(&mut ctx, "", "flags").iter().enumerate() {
        if let Some(flag) = flag::decode_flag(&mut ctx, item, &label("flag", item, i + 1)) {
            flags.push(flag);
        }
    }
    Some(Document {
        namespace,
        segments,
        flags,
    })
}

/// Reads `version` before anything else, since it decides which fields are
/// allowed. A bad version is reported and the newest one assumed, so the
/// rest of the document is still checked without a cascade of gate errors.
fn read_version(file: &str, node: &Node, issues: &mut Vec<Issue>) -> Version {
    let Value::Map(entries) = &node.value else {
        return Version::LATEST;
    };
    let Some(entry) = entries.iter().find(|e| e.key == "version") else {
        return Version::LATEST;
    };
    let value = &entry.value;
    let text = match &value.value {
        // `version: 1.2` written without quotes is a number in YAML; its
        // source text is what the author meant.
        Value::Scalar(s) if matches!(s.kind, ScalarKind::Str | ScalarKind::Float(_)) => {
            s.text.as_str()
        }
        Value::Scalar(s) if s.kind == ScalarKind::Null => return Version::LATEST,
        _ => {
            issues.push(Issue::at(
                file,
                value.line,
                format!("version must be a string, not {}", value.type_name()),
            ));
            return Version::LATEST;
        }
    };
    match Version::parse(text) {
        Some(version) => version,
        None => {
            issues.push(Issue::at(
                file,
                value.line,
                format!(
                    "version \"{text}\" is not supported (supported: {})",
                    Version::SUPPORTED
                ),
            ));
            Version::LATEST
        }
    }
}

const NAMESPACE_FIELDS: &[fields::Field] = &[field("key"), field("name"), field("description")];

/// `namespace: key` or `namespace: {key, name, description}`; absent means
/// `default`.
fn read_namespace(ctx: &mut Ctx<'_>, doc: &Fields<'_>) -> NamespaceDecl {
    let mut decl = NamespaceDecl {
        key: DEFAULT_NAMESPACE.to_string(),
        name: None,
        description: None,
    };
    let Some(node) = doc.get("namespace") else {
        return decl;
    };
    match &node.value {
        Value::Scalar(s) if s.kind == ScalarKind::Str => decl.key = s.text.clone(),
        Value::Map(_) => {
            let prefix = "namespace: ";
            if let Some(ns) = Fields::of(ctx, node, prefix, "namespace", NAMESPACE_FIELDS) {
                if let Some(key) = ns.string(ctx, prefix, "key") {
                    decl.key = key;
                }
                decl.name = ns.string(ctx, prefix, "name");
                decl.description = ns.string(ctx, prefix, "description");
            }
        }
        _ => {
            ctx.error(
                node.line,
                format!(
                    "namespace must be a string or a mapping, not {}",
                    node.type_name()
                ),
            );
            return decl;
        }
    }
    if !is_valid_key(&decl.key) {
        ctx.error(
            node.line,
            format!(
                "namespace \"{}\" does not match {}",
                decl.key,
                fields::KEY_PATTERN
            ),
        );
    }
    decl
}

#[cfg(test)]
mod tests;
