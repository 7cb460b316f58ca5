//! Reading typed fields out of a mapping node while collecting problems.
//!
//! Flipt's schema is closed (CUE definitions), so a field that is unknown at
//! a given place, or that the document's version does not have yet, is an
//! error rather than silently ignored: a typo such as `enabeld` would
//! otherwise quietly leave a flag disabled.

use std::fmt;

use crate::{
    error::Issue,
    node::{Entry, Node, ScalarKind, Value},
};

/// The key pattern Flipt enforces on flag, segment and namespace keys.
pub(crate) const KEY_PATTERN: &str = "^[-_,A-Za-z0-9]+$";

/// True when `key` matches [`KEY_PATTERN`].
pub(crate) fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b','))
}

/// A document format version `1.<minor>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Version(pub(crate) u8);

impl Version {
    /// The newest version, used when a document names none.
    pub(crate) const LATEST: Version = Version(4);
    /// `type` and `rollouts` on flags.
    pub(crate) const V1_1: Version = Version(1);
    /// `metadata` on flags and `default` on variants.
    pub(crate) const V1_3: Version = Version(3);
    /// Every version this loader reads.
    pub(crate) const SUPPORTED: &'static str = "1.0, 1.1, 1.2, 1.3, 1.4";

    /// Parses `"1.0"` .. `"1.4"`.
    pub(crate) fn parse(text: &str) -> Option<Version> {
        match text {
            "1.0" => Some(Version(0)),
            "1.1" => Some(Version(1)),
            "1.2" => Some(Version(2)),
            "1.3" => Some(Version(3)),
            "1.4" => Some(Version(4)),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.{}", self.0)
    }
}

/// A field allowed at some place of the schema, with the version it appeared in.
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) since: Version,
}

/// A field present since version 1.0.
pub(crate) const fn field(name: &'static str) -> Field {
    Field {
        name,
        since: Version(0),
    }
}

/// A field present since `since`.
pub(crate) const fn gated(name: &'static str, since: Version) -> Field {
    Field { name, since }
}

/// Where problems of one document go, and what version gates apply.
pub(crate) struct Ctx<'a> {
    pub(crate) file: &'a str,
    pub(crate) version: Version,
    pub(crate) issues: &'a mut Vec<Issue>,
}

impl Ctx<'_> {
    /// Records a problem at `line`.
    pub(crate) fn error(&mut self, line: usize, message: String) {
        self.issues.push(Issue::at(self.file, line, message));
    }
}

/// The entries of a mapping whose field names were checked.
pub(crate) struct Fields<'n> {
    pub(crate) line: usize,
    entries: &'n [Entry],
}

impl<'n> Fields<'n> {
    /// Checks that `node` is a mapping holding only `allowed` fields valid in
    /// the document's version. Unknown or too-new fields are reported (and
    /// then ignored); a non-mapping is reported and gives `None`.
    pub(crate) fn of(
        ctx: &mut Ctx<'_>,
        node: &'n Node,
        prefix: &str,
        what: &str,
        allowed: &[Field],
    ) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            ctx.error(
                node.line,
                format!("{prefix}{what} must be a mapping, not {}", node.type_name()),
            );
            return None;
        };
        for entry in entries {
            match allowed.iter().find(|f| f.name == entry.key) {
                None => ctx.error(
                    entry.key_line,
                    format!("{prefix}unknown field \"{}\"", entry.key),
                ),
                Some(f) if f.since > ctx.version => ctx.error(
                    entry.key_line,
                    format!(
                        "{prefix}field \"{}\" requires version {} or later (document version is {})",
                        entry.key, f.since, ctx.version
                    ),
                ),
                Some(_) => {}
            }
        }
        Some(Fields {
            line: node.line,
            entries,
        })
    }

    /// The value of `name`, treating an explicit null like an absent field.
    pub(crate) fn get(&self, name: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|e| e.key == name)
            .map(|e| &e.value)
            .filter(|n| !n.is_null())
    }

    /// The line of field `name` (its key), or of the mapping when absent.
    /// Problems with a field's value are reported here: for a block list or
    /// mapping the value itself only starts on the next line.
    pub(crate) fn line_of(&self, name: &str) -> usize {
        self.entries
            .iter()
            .find(|e| e.key == name)
            .map_or(self.line, |e| e.key_line)
    }

    /// An optional string field.
    pub(crate) fn string(&self, ctx: &mut Ctx<'_>, prefix: &str, name: &str) -> Option<String> {
        let node = self.get(name)?;
        match &node.value {
            Value::Scalar(s) if s.kind == ScalarKind::Str => Some(s.text.clone()),
            _ => {
                ctx.error(
                    self.line_of(name),
                    format!("{prefix}{name} must be a string, not {}", node.type_name()),
                );
                None
            }
        }
    }

    /// A required string field that must not be empty. A missing field is
    /// reported at the line of the mapping.
    pub(crate) fn required_string(
        &self,
        ctx: &mut Ctx<'_>,
        prefix: &str,
        name: &str,
    ) -> Option<String> {
        if self.get(name).is_none() {
            ctx.error(self.line, format!("{prefix}{name} is required"));
            return None;
        }
        let value = self.string(ctx, prefix, name)?;
        if value.is_empty() {
            let line = self.line_of(name);
            ctx.error(line, format!("{prefix}{name} must not be empty"));
            return None;
        }
        Some(value)
    }

    /// An optional boolean field.
    pub(crate) fn bool(&self, ctx: &mut Ctx<'_>, prefix: &str, name: &str) -> Option<bool> {
        let node = self.get(name)?;
        match &node.value {
            Value::Scalar(s) => match s.kind {
                ScalarKind::Bool(b) => Some(b),
                _ => {
                    ctx.error(
                        self.line_of(name),
                        format!("{prefix}{name} must be a boolean, not {}", node.type_name()),
                    );
                    None
                }
            },
            _ => {
                ctx.error(
                    self.line_of(name),
                    format!("{prefix}{name} must be a boolean, not {}", node.type_name()),
                );
                None
            }
        }
    }

    /// A required number field within `0..=100`.
    pub(crate) fn percentage(&self, ctx: &mut Ctx<'_>, prefix: &str, name: &str) -> Option<f32> {
        let Some(node) = self.get(name) else {
            ctx.error(self.line, format!("{prefix}{name} is required"));
            return None;
        };
        let value = match &node.value {
            Value::Scalar(s) => match s.kind {
                ScalarKind::Int(i) => Some(i as f64),
                ScalarKind::Float(f) => Some(f),
                _ => None,
            },
            _ => None,
        };
        let Some(value) = value else {
            ctx.error(
                self.line_of(name),
                format!("{prefix}{name} must be a number, not {}", node.type_name()),
            );
            return None;
        };
        if !(0.0..=100.0).contains(&value) {
            ctx.error(
                self.line_of(name),
                format!("{prefix}{name} {value} is out of range 0..100"),
            );
            return None;
        }
        Some(value as f32)
    }

    /// An optional list field; anything else is reported and read as empty.
    pub(crate) fn list(&self, ctx: &mut Ctx<'_>, prefix: &str, name: &str) -> &'n [Node] {
        let Some(node) = self.get(name) else {
            return &[];
        };
        match &node.value {
            Value::Seq(items) => items,
            _ => {
                ctx.error(
                    self.line_of(name),
                    format!("{prefix}{name} must be a list, not {}", node.type_name()),
                );
                &[]
            }
        }
    }

    /// A required key field matching [`KEY_PATTERN`]. A key that does not
    /// match is reported but still returned, so that references to it do not
    /// produce a second, misleading "unknown" error.
    pub(crate) fn key(&self, ctx: &mut Ctx<'_>, prefix: &str, name: &str) -> Option<String> {
        let key = self.required_string(ctx, prefix, name)?;
        if !is_valid_key(&key) {
            let line = self.line_of(name);
            ctx.error(
                line,
                format!("{prefix}{name} \"{key}\" does not match {KEY_PATTERN}"),
            );
        }
        Some(key)
    }
}

/// Reads a list of strings (e.g. segment `keys`), reporting non-strings.
pub(crate) fn string_list(
    ctx: &mut Ctx<'_>,
    prefix: &str,
    name: &str,
    items: &[Node],
) -> Vec<String> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match &item.value {
            Value::Scalar(s) if s.kind == ScalarKind::Str => out.push(s.text.clone()),
            _ => ctx.error(
                item.line,
                format!("{prefix}{name} must hold strings, not {}", item.type_name()),
            ),
        }
    }
    out
}

/// Labels an element of a list for messages: `flag "new-ui"` when its key is
/// a string, else `flag #3` (1-based position).
pub(crate) fn label(kind: &str, node: &Node, position: usize) -> String {
    if let Value::Map(entries) = &node.value {
        for entry in entries {
            if entry.key == "key"
                && let Value::Scalar(s) = &entry.value.value
                && s.kind == ScalarKind::Str
                && !s.text.is_empty()
            {
                return format!("{kind} \"{}\"", s.text);
            }
        }
    }
    format!("{kind} #{position}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_pattern() {
        assert!(is_valid_key("new-ui_2,beta"));
        assert!(!is_valid_key(""));
        assert!(!is_valid_key("bad key!"));
        assert!(!is_valid_key("a.b"));
    }

    #[test]
    fn versions() {
        assert_eq!(Version::parse("1.2"), Some(Version(2)));
        assert_eq!(Version::parse("1.5"), None);
        assert_eq!(Version::parse("1"), None);
        assert_eq!(Version::LATEST.to_string(), "1.4");
        assert!(Version(0) < Version::V1_1);
    }
}
