//! Errors of loading flag files and of looking things up in a snapshot.
//!
//! A load reports every problem it finds, not just the first, so an operator
//! fixing a broken flag directory sees the whole list at once. Each problem is
//! an [`Issue`] naming the file (relative to the flag directory), the line when
//! it is known, and what is wrong.

use std::fmt;

/// One problem found while loading a flag directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// File the problem is in, relative to the flag directory (`/`-separated),
    /// or the directory itself for problems that concern no single file.
    pub file: String,
    /// 1-based line of the offending element, when known.
    pub line: Option<usize>,
    /// What is wrong, e.g. `flag "new-ui": name is required`.
    pub message: String,
}

impl Issue {
    /// An issue at a known line of `file`.
    pub fn at(file: impl Into<String>, line: usize, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: Some(line),
            message: message.into(),
        }
    }

    /// An issue about `file` as a whole.
    pub fn file(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// A flag directory could not be loaded; lists every problem found, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.issues))]
pub struct LoadError {
    issues: Vec<Issue>,
}

fn render(issues: &[Issue]) -> String {
    let mut out = String::new();
    for (i, issue) in issues.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&issue.to_string());
    }
    out
}

impl LoadError {
    /// Wraps a non-empty list of issues.
    pub(crate) fn new(issues: Vec<Issue>) -> Self {
        debug_assert!(!issues.is_empty(), "a load error needs at least one issue");
        Self { issues }
    }

    /// Every problem found, in file order then line order.
    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }
}

impl From<Issue> for LoadError {
    fn from(issue: Issue) -> Self {
        Self::new(vec![issue])
    }
}

/// A lookup in a [`crate::Snapshot`] found nothing. Services map both variants
/// to a NotFound status; the messages are Flipt's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The namespace does not exist.
    #[error("namespace \"{0}\" not found")]
    NamespaceNotFound(String),
    /// The namespace exists but has no flag with this key.
    #[error("flag \"{namespace}/{key}\" not found")]
    FlagNotFound {
        /// Namespace key.
        namespace: String,
        /// Flag key.
        key: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_error_lists_one_issue_per_line() {
        let err = LoadError::new(vec![
            Issue::at("features.yml", 12, "flag \"a\": name is required"),
            Issue::file("b.json", "unexpected end of input"),
        ]);
        assert_eq!(
            err.to_string(),
            "features.yml:12: flag \"a\": name is required\nb.json: unexpected end of input"
        );
        assert_eq!(err.issues().len(), 2);
    }

    #[test]
    fn lookup_messages_match_flipt() {
        assert_eq!(
            LookupError::NamespaceNotFound("x".into()).to_string(),
            "namespace \"x\" not found"
        );
        let err = LookupError::FlagNotFound {
            namespace: "default".into(),
            key: "f".into(),
        };
        assert_eq!(err.to_string(), "flag \"default/f\" not found");
    }
}
