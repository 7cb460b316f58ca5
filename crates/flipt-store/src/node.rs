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

use yaml_rust2::{
    parser::{Event, MarkedEventReceiver, Parser, Tag},
    scanner::{Marker, TScalarStyle},
};

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

/// Resolves a scalar with the YAML 1.2 core schema.
fn resolve(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> ScalarKind {
    if let Some(tag) = tag {
        if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" {
            if tag.suffix == "str" {
                return ScalarKind::Str;
            }
        } else {
            // Local tags (`!foo`) carry no meaning for flag files: keep the text.
            return ScalarKind::Str;
        }
    }
    if style != TScalarStyle::Plain {
        return ScalarKind::Str;
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarKind::Null,
        "true" | "True" | "TRUE" => return ScalarKind::Bool(true),
        "false" | "False" | "FALSE" => return ScalarKind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return ScalarKind::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return ScalarKind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return ScalarKind::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return ScalarKind::Int(i);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return ScalarKind::Int(i);
    }
    if is_core_int(text) {
        return match text.parse::<i64>() {
            Ok(i) => ScalarKind::Int(i),
            // Too large for i64: still a number.
            Err(_) => text
                .parse::<f64>()
                .map_or(ScalarKind::Str, ScalarKind::Float),
        };
    }
    if is_core_float(text)
        && let Ok(f) = text.parse::<f64>()
    {
        return ScalarKind::Float(f);
    }
    ScalarKind::Str
}

/// `[-+]?[0-9]+`
fn is_core_int(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_core_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
                && (!int.is_empty() || !frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(is_core_int);
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(text: &str) -> ScalarKind {
        resolve(text, TScalarStyle::Plain, None)
    }

    #[test]
    fn resolves_plain_scalars_with_the_core_schema() {
        assert_eq!(kind_of(""), ScalarKind::Null);
        assert_eq!(kind_of("~"), ScalarKind::Null);
        assert_eq!(kind_of("True"), ScalarKind::Bool(true));
        assert_eq!(kind_of("yes"), ScalarKind::Str);
        assert_eq!(kind_of("42"), ScalarKind::Int(42));
        assert_eq!(kind_of("-7"), ScalarKind::Int(-7));
        assert_eq!(kind_of("0x1f"), ScalarKind::Int(31));
        assert_eq!(kind_of("1.5"), ScalarKind::Float(1.5));
        assert_eq!(kind_of("1e3"), ScalarKind::Float(1000.0));
        assert_eq!(kind_of(".5"), ScalarKind::Float(0.5));
        assert_eq!(kind_of("1.0"), ScalarKind::Float(1.0));
        assert_eq!(kind_of("1.2.3"), ScalarKind::Str);
        assert_eq!(kind_of("e5"), ScalarKind::Str);
        assert_eq!(kind_of("inf"), ScalarKind::Str);
        assert_eq!(
            resolve("42", TScalarStyle::DoubleQuoted, None),
            ScalarKind::Str
        );
    }

    #[test]
    fn yaml_nodes_carry_lines() {
        let parsed = parse_yaml("a: 1\nb:\n  - x\n  - y: z\n").expect("valid yaml");
        let Value::Map(entries) = &parsed.documents[0].value else {
            panic!("expected a mapping");
        };
        assert_eq!(entries[0].key, "a");
        assert_eq!(entries[0].key_line, 1);
        assert_eq!(entries[1].key_line, 2);
        let Value::Seq(items) = &entries[1].value.value else {
            panic!("expected a list");
        };
        assert_eq!(items[0].line, 3);
        assert_eq!(items[1].line, 4);
    }

    #[test]
    fn multi_document_streams_skip_empty_documents() {
        let parsed = parse_yaml("a: 1\n---\n---\nb: 2\n").expect("valid yaml");
        assert_eq!(parsed.documents.len(), 2);
        assert_eq!(parsed.documents[1].line, 4);
    }

    #[test]
    fn duplicate_keys_are_reported() {
        let parsed = parse_yaml("a: 1\nb: 2\na: 3\n").expect("valid yaml");
        assert_eq!(
            parsed.problems,
            vec![SyntaxError {
                line: 3,
                message: "duplicate key \"a\"".to_string()
            }]
        );
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let parsed = parse_yaml("a: &x {k: v}\nb: *x\n").expect("valid yaml");
        let Value::Map(entries) = &parsed.documents[0].value else {
            panic!("expected a mapping");
        };
        assert_eq!(entries[0].value.value, entries[1].value.value);
        assert_eq!(entries[1].value.line, 2);
    }

    #[test]
    fn syntax_errors_have_lines() {
        let err = parse_yaml("a: 1\nb: [1, 2\n").expect_err("unterminated flow sequence");
        assert!(err.line >= 2, "line {}", err.line);
    }

    #[test]
    fn concatenated_json_values_get_lines() {
        let text = "{\"a\": 1,\n \"b\": [true]}\n{\n\t\"c\": \"x\"\n}\n";
        let parsed = parse_json(text).expect("valid json");
        assert_eq!(parsed.documents.len(), 2);
        let Value::Map(entries) = &parsed.documents[1].value else {
            panic!("expected a mapping");
        };
        assert_eq!(entries[0].key, "c");
        assert_eq!(entries[0].key_line, 4);
        let Value::Map(first) = &parsed.documents[0].value else {
            panic!("expected a mapping");
        };
        assert_eq!(first[1].key_line, 2);
    }

    #[test]
    fn json_syntax_errors_have_lines() {
        let err = parse_json("{\"a\": 1}\n{\"b\": }\n").expect_err("bad json");
        assert_eq!(err.line, 2);
    }
}
