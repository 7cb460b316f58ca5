//! Unit tests of the line-tracking parser.

use super::*;

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
