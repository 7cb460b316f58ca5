//! A YAML/JSON value tree that remembers the source line of every node.
//!
//! Validation messages must name the line of the offending element, which
//! serde-based decoding cannot give, so documents are first parsed into this
//! small tree: YAML through yaml-rust2's event parser (which reports a marker
//! per event), JSON by splitting concatenated values with serde_json and then
//! reading each value with the YAML parser (JSON is YAML 1.2 flow syntax), so
//! JSON files get line numbers too.
//!
//! Plain YAML scalars are resolved with the YAML 1.2 core schema, as Flipt's
//! YAML decoder does; quoted and block scalars are always strings.

use std::collections::HashMap;

mod budget;
mod scalar;

pub(crate) use budget::check_node_budget;

use yaml_rust2::{
    parser::{Event, MarkedEventReceiver, Parser},
    scanner::Marker,
};

use scalar::resolve;

/// A parsed value with the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) line: usize,
    pub(crate) value: Value,
}

/// The shape of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One `key: value` pair of a mapping, in document order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_line: usize,
    pub(crate) value: Node,
}

/// A scalar: its source text and what it resolved to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scalar {
    pub(crate) text: String,
    pub(crate) kind: ScalarKind,
}

/// What a scalar resolved to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ScalarKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

impl Node {
    /// A short name of the node's type for "must be X, not Y" messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
            Value::Scalar(s) => match s.kind {
                ScalarKind::Null => "null",
                ScalarKind::Bool(_) => "a boolean",
                ScalarKind::Int(_) | ScalarKind::Float(_) => "a number",
                ScalarKind::Str => "a string",
            },
        }
    }

    /// True for an explicit or implicit YAML null.
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(s) if s.kind == ScalarKind::Null)
    }
}

/// A syntax error with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

/// Result of parsing one file: its documents, plus structural problems that
/// do not stop parsing (duplicate keys, non-scalar keys).
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub(crate) documents: Vec<Node>,
    pub(crate) problems: Vec<SyntaxError>,
}

/// Parses a YAML stream (several documents separated by `---`). Empty
/// documents are skipped.
pub(crate) fn parse_yaml(text: &str) -> Result<Parsed, SyntaxError> {
    parse_yaml_at(text, 0)
}

fn parse_yaml_at(text: &str, line_offset: usize) -> Result<Parsed, SyntaxError> {
    let mut builder = TreeBuilder {
        line_offset,
        ..TreeBuilder::default()
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(err) = parser.load(&mut builder, true) {
        return Err(SyntaxError {
            line: err.marker().line() + line_offset,
            message: err.info().to_string(),
        });
    }
    let documents = builder
        .documents
        .into_iter()
        .filter(|d| !d.is_null())
        .collect();
    Ok(Parsed {
        documents,
        problems: builder.problems,
    })
}

/// Parses a JSON file holding one or several concatenated values.
pub(crate) fn parse_json(text: &str) -> Result<Parsed, SyntaxError> {
    let mut parsed = Parsed::default();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    let mut start = 0;
    while let Some(item) = stream.next() {
        let value = item.map_err(|err| {
            // serde_json appends the position; the issue carries the line.
            let message = err.to_string();
            let position = format!(" at line {} column {}", err.line(), err.column());
            SyntaxError {
                line: err.line(),
                message: message
                    .strip_suffix(&position)
                    .unwrap_or(&message)
                    .to_string(),
            }
        })?;
        let end = stream.byte_offset();
        let piece = &text[start..end];
        let line_offset = text[..start].matches('\n').count();
        // The YAML reading gives a line per node; serde_json already proved the
        // text is JSON, so should the YAML parser disagree on some corner of the
        // grammar, the value is kept with the line where it starts.
        match parse_yaml_at(piece, line_offset) {
            Ok(mut one) if one.documents.len() == 1 => {
                parsed.documents.append(&mut one.documents);
                parsed.problems.append(&mut one.problems);
            }
            _ => {
                let leading = piece.len() - piece.trim_start().len();
                let line = 1 + text[..start + leading].matches('\n').count();
                parsed.documents.push(from_json(&value, line));
            }
        }
        start = end;
    }
    Ok(parsed)
}

fn from_json(value: &serde_json::Value, line: usize) -> Node {
    let value = match value {
        serde_json::Value::Null => scalar("null", ScalarKind::Null),
        serde_json::Value::Bool(b) => scalar(&b.to_string(), ScalarKind::Bool(*b)),
        serde_json::Value::Number(n) => {
            let kind = match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => ScalarKind::Int(i),
                (None, Some(f)) => ScalarKind::Float(f),
                (None, None) => ScalarKind::Str,
            };
            scalar(&n.to_string(), kind)
        }
        serde_json::Value::String(s) => scalar(s, ScalarKind::Str),
        serde_json::Value::Array(items) => {
            Value::Seq(items.iter().map(|v| from_json(v, line)).collect())
        }
        serde_json::Value::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| Entry {
                    key: k.clone(),
                    key_line: line,
                    value: from_json(v, line),
                })
                .collect(),
        ),
    };
    Node { line, value }
}

fn scalar(text: &str, kind: ScalarKind) -> Value {
    Value::Scalar(Scalar {
        text: text.to_string(),
        kind,
    })
}

/// A collection being built while its events arrive.
enum Frame {
    Seq {
        line: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        line: usize,
        anchor: usize,
        entries: Vec<Entry>,
        pending_key: Option<(String, usize)>,
    },
}

#[derive(Default)]
struct TreeBuilder {
    line_offset: usize,
    documents: Vec<Node>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    problems: Vec<SyntaxError>,
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let line = mark.line() + self.line_offset;
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let kind = resolve(&text, style, tag.as_ref());
                let node = Node {
                    line,
                    value: Value::Scalar(Scalar { text, kind }),
                };
                self.complete(node, anchor);
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(mut node) => {
                    node.line = line;
                    self.complete(node, 0);
                }
                None => self.problems.push(SyntaxError {
                    line,
                    message: "alias refers to an unknown anchor".to_string(),
                }),
            },
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq {
                line,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                line,
                anchor,
                entries: Vec::new(),
                pending_key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq {
                        line,
                        anchor,
                        items,
                    }) => (
                        Node {
                            line,
                            value: Value::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        line,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            line,
                            value: Value::Map(entries),
                        },
                        anchor,
                    ),
                    // The parser balances start and end events; nothing to close.
                    None => return,
                };
                self.complete(node, anchor);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

impl TreeBuilder {
    /// Attaches a finished node to its parent (or ends the document).
    fn complete(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => {
                    let key = match &node.value {
                        Value::Scalar(s) => s.text.clone(),
                        _ => {
                            self.problems.push(SyntaxError {
                                line: node.line,
                                message: "mapping keys must be scalars".to_string(),
                            });
                            String::new()
                        }
                    };
                    *pending_key = Some((key, node.line));
                }
                Some((key, key_line)) => {
                    if entries.iter().any(|e| e.key == key) {
                        self.problems.push(SyntaxError {
                            line: key_line,
                            message: format!("duplicate key \"{key}\""),
                        });
                    }
                    entries.push(Entry {
                        key,
                        key_line,
                        value: node,
                    });
                }
            },
        }
    }
}

#[cfg(test)]
mod tests;
