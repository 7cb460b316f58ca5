//! Table tests: every comparison type × operator, with the answers Flipt's
//! client engine gives for the same inputs.

use super::*;
use crate::model::Context;

/// Context value of a case: `None` leaves the property out of the context.
type Case = (&'static str, &'static str, Option<&'static str>, bool);

fn constraint(comparison: ComparisonType, op: &str, value: &str) -> Constraint {
    Constraint {
        id: String::new(),
        comparison,
        property: "p".to_owned(),
        operator: Operator::parse(op),
        operator_name: op.to_owned(),
        value: value.to_owned(),
    }
}

fn run(comparison: ComparisonType, cases: &[Case]) {
    let mut failures = Vec::new();
    for &(op, value, ctx, want) in cases {
        let mut context = Context::new();
        if let Some(v) = ctx {
            context.insert("p".to_owned(), v.to_owned());
        }
        let got = matches(&constraint(comparison, op, value), &context, "entity")
            .expect("a known comparison type");
        if got != want {
            failures.push(format!("{op} {value:?} vs {ctx:?}: got {got}, want {want}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{comparison:?}:\n{}",
        failures.join("\n")
    );
}

#[test]
fn string_operators() {
    run(
        ComparisonType::String,
        &[
            ("eq", "x", Some("x"), true),
            ("eq", "x", Some("y"), false),
            ("eq", "x", Some(" x"), false),
            ("eq", "", None, false),
            ("eq", "", Some(""), false),
            ("neq", "x", Some("y"), true),
            ("neq", "x", Some("x"), false),
            // A missing or empty value never matches, even for neq.
            ("neq", "x", None, false),
            ("neq", "x", Some(""), false),
            ("empty", "", None, true),
            ("empty", "", Some(""), true),
            // No trimming: a blank value is not empty.
            ("empty", "", Some(" "), false),
            ("empty", "", Some("x"), false),
            ("notempty", "", None, false),
            ("notempty", "", Some(" "), true),
            ("notempty", "", Some("x"), true),
            ("prefix", "x", Some("xy"), true),
            ("prefix", "x", Some("yx"), false),
            ("prefix", "x", Some("  x "), false),
            ("prefix", "", Some("z"), true),
            ("prefix", "x", None, false),
            ("suffix", "x", Some("yx"), true),
            ("suffix", "x", Some("xy"), false),
            ("suffix", "x", Some("  x "), false),
            ("contains", "x", Some("yxy"), true),
            ("contains", "x", Some("z"), false),
            ("contains", "", Some("z"), true),
            ("contains", "x", None, false),
            ("notcontains", "x", Some("z"), true),
            ("notcontains", "x", Some("yxy"), false),
            ("notcontains", "x", None, false),
            ("isoneof", r#"["x","y"]"#, Some("x"), true),
            ("isoneof", r#"["x","y"]"#, Some("z"), false),
            ("isoneof", r#"["x", "  x "]"#, Some("  x "), true),
            ("isoneof", r#"["x","y"]"#, None, false),
            ("isoneof", "bad json", Some("x"), false),
            ("isoneof", "[1,2]", Some("1"), false),
            ("isnotoneof", r#"["x","y"]"#, Some("z"), true),
            ("isnotoneof", r#"["x","y"]"#, Some("x"), false),
            ("isnotoneof", r#"["x","y"]"#, None, false),
            // The client engine's quirk: a bad array is "not one of" it.
            ("isnotoneof", "bad json", Some("x"), true),
            ("isnotoneof", "null", Some("x"), true),
            ("isnotoneof", r#"["x\u0079"]"#, Some("xy"), true),
            // Operators of other types, and unknown or mis-cased names.
            ("present", "", Some("x"), false),
            ("notpresent", "", None, false),
            ("lt", "x", Some("a"), false),
            ("true", "", Some("true"), false),
            ("EQ", "x", Some("x"), false),
            ("bogus", "x", Some("x"), false),
        ],
    );
}

#[test]
fn number_operators() {
    run(
        ComparisonType::Number,
        &[
            ("eq", "1", Some("1"), true),
            ("eq", "1", Some("+1"), true),
            ("eq", "1", Some("01"), true),
            ("eq", "1", Some("2"), false),
            ("eq", "-5", Some("-5"), true),
            // Only 32-bit integers parse; anything else is no match.
            ("eq", "1", Some("1.0"), false),
            ("eq", "1.0", Some("1"), false),
            ("eq", "1", Some("1e0"), false),
            ("eq", "1", Some(" 1"), false),
            ("eq", "1", Some("1 "), false),
            ("eq", " 1", Some("1"), false),
            ("eq", "1", Some("abc"), false),
            ("eq", "abc", Some("1"), false),
            ("eq", "1", Some("0x1"), false),
            ("eq", "1", Some("1_000"), false),
            ("gt", "0", Some("2147483647"), true),
            ("gt", "0", Some("2147483648"), false),
            ("lt", "0", Some("-2147483648"), true),
            ("lt", "0", Some("-2147483649"), false),
            ("eq", "1", None, false),
            ("eq", "1", Some(""), false),
            ("neq", "1", Some("2"), true),
            ("neq", "1", Some("1"), false),
            ("neq", "1", Some("abc"), false),
            ("neq", "1", None, false),
            ("lt", "1", Some("0"), true),
            ("lt", "1", Some("-0"), true),
            ("lt", "1", Some("1"), false),
            ("lte", "1", Some("1"), true),
            ("lte", "1", Some("0"), true),
            ("lte", "1", Some("2"), false),
            ("gt", "1", Some("2"), true),
            ("gt", "1", Some("1"), false),
            ("gte", "1", Some("1"), true),
            ("gte", "1", Some("2"), true),
            ("gte", "1", Some("0"), false),
            ("present", "", Some("1"), true),
            // Presence is about the raw value: blank or unparsable is present.
            ("present", "", Some(" "), true),
            ("present", "", Some("abc"), true),
            ("present", "", Some(""), false),
            ("present", "", None, false),
            ("notpresent", "", None, true),
            ("notpresent", "", Some(""), true),
            ("notpresent", "", Some(" "), false),
            ("notpresent", "", Some("1"), false),
            ("isoneof", "[1,2]", Some("2"), true),
            ("isoneof", "[1,2]", Some("+1"), true),
            ("isoneof", "[1,2]", Some("3"), false),
            ("isoneof", "[1.0, 1.5]", Some("1"), false),
            ("isoneof", "bad", Some("1"), false),
            ("isoneof", "[1,2]", Some("abc"), false),
            ("isoneof", "[1,2]", None, false),
            ("isnotoneof", "[1,2]", Some("3"), true),
            ("isnotoneof", "[]", Some("3"), true),
            ("isnotoneof", "[1,2]", Some("1"), false),
            // Unlike STRING, a bad array fails isnotoneof too.
            ("isnotoneof", "bad", Some("1"), false),
            ("isnotoneof", r#"["1"]"#, Some("1"), false),
            ("isnotoneof", "[1,2]", Some("abc"), false),
            ("isnotoneof", "[1,2]", None, false),
            ("empty", "", None, false),
            ("contains", "1", Some("1"), false),
            ("bogus", "1", Some("1"), false),
        ],
    );
}

#[test]
fn boolean_operators() {
    run(
        ComparisonType::Boolean,
        &[
            ("true", "", Some("true"), true),
            ("true", "", Some("false"), false),
            ("false", "", Some("false"), true),
            ("false", "", Some("true"), false),
            // Only the exact words `true` and `false` parse.
            ("true", "", Some("True"), false),
            ("true", "", Some("TRUE"), false),
            ("true", "", Some("t"), false),
            ("true", "", Some("1"), false),
            ("true", "", Some(" true"), false),
            ("true", "", Some("yes"), false),
            ("false", "", Some("0"), false),
            ("false", "", Some("F"), false),
            ("true", "", None, false),
            ("false", "", None, false),
            ("false", "", Some(""), false),
            ("present", "", Some("true"), true),
            ("present", "", Some("yes"), true),
            ("present", "", Some(" "), true),
            ("present", "", None, false),
            ("notpresent", "", None, true),
            ("notpresent", "", Some(""), true),
            ("notpresent", "", Some("false"), false),
            ("eq", "true", Some("true"), false),
            ("bogus", "", Some("true"), false),
        ],
    );
}

#[test]
fn datetime_operators() {
    const T: &str = "2024-01-01T00:00:00Z";
    run(
        ComparisonType::DateTime,
        &[
            ("eq", T, Some(T), true),
            ("eq", T, Some("2024-01-01T01:00:00+01:00"), true),
            ("eq", T, Some("2024-01-01 00:00:00Z"), true),
            ("eq", T, Some("2024-01-01t00:00:00z"), true),
            // Whole seconds: fractions are ignored on both sides.
            ("eq", T, Some("2024-01-01T00:00:00.5Z"), true),
            ("eq", "2024-01-01T00:00:00.000000001Z", Some(T), true),
            ("eq", T, Some("2024-01-01T00:00:01Z"), false),
            ("neq", T, Some("2024-01-01T00:00:01Z"), true),
            ("neq", T, Some(T), false),
            ("lt", T, Some("2023-12-31T23:59:59Z"), true),
            ("lt", T, Some(T), false),
            ("lte", T, Some(T), true),
            ("lte", T, Some("2023-12-31T23:59:59Z"), true),
            ("lte", T, Some("2024-01-01T00:00:01Z"), false),
            ("gt", T, Some("2024-01-01T00:00:01Z"), true),
            ("gt", T, Some(T), false),
            ("gte", T, Some(T), true),
            ("gte", T, Some("2024-01-01T00:00:01Z"), true),
            ("gte", T, Some("2023-12-31T23:59:59Z"), false),
            // Date-only values do not parse in the client engine: no match,
            // whichever side they are on.
            ("eq", "2024-01-01", Some(T), false),
            ("eq", T, Some("2024-01-01"), false),
            ("lte", "2024-01-01", Some("2024-01-01"), false),
            ("neq", "2024-01-01", Some(T), false),
            // Unparsable values: no match, not an error.
            ("eq", T, Some("bad"), false),
            ("neq", T, Some("bad"), false),
            ("neq", "bad", Some(T), false),
            ("eq", T, Some(" 2024-01-01T00:00:00Z"), false),
            ("eq", T, Some("2024-01-01T00:00:00"), false),
            ("eq", T, None, false),
            ("eq", T, Some(""), false),
            ("present", T, Some(T), true),
            ("present", T, Some("bad"), true),
            ("present", T, Some(" "), true),
            ("present", T, None, false),
            ("notpresent", T, None, true),
            ("notpresent", T, Some(""), true),
            ("notpresent", T, Some(T), false),
            ("bogus", T, Some(T), false),
            ("empty", T, None, false),
        ],
    );
}

#[test]
fn entity_id_compares_the_entity_not_the_property() {
    let mut context = Context::new();
    context.insert("p".to_owned(), "other".to_owned());
    let cases: &[(&str, &str, &str, bool)] = &[
        ("eq", "user-1", "user-1", true),
        ("eq", "other", "user-1", false),
        ("neq", "user-2", "user-1", true),
        ("prefix", "user", "user-1", true),
        ("suffix", "-1", "user-1", true),
        ("contains", "er-", "user-1", true),
        ("notcontains", "x", "user-1", true),
        ("isoneof", r#"["user-1","user-2"]"#, "user-1", true),
        ("isnotoneof", r#"["user-1","user-2"]"#, "user-3", true),
        ("isnotoneof", r#"["user-1","user-2"]"#, "user-1", false),
        ("empty", "", "", true),
        ("empty", "", "user-1", false),
        ("notempty", "", "user-1", true),
        ("eq", "", "", false),
    ];
    for &(op, value, entity, want) in cases {
        let c = constraint(ComparisonType::EntityId, op, value);
        let got = matches(&c, &context, entity).expect("a known comparison type");
        assert_eq!(got, want, "{op} {value:?} vs entity {entity:?}");
    }
}

#[test]
fn unknown_comparison_type_is_told_apart() {
    let c = constraint(ComparisonType::Unknown, "eq", "x");
    assert_eq!(matches(&c, &Context::new(), "entity"), None);
}
