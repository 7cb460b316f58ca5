//! Segments and their constraints.

use flipt_core::{ComparisonType, Constraint, MatchType, Operator, Segment};

use super::fields::{Ctx, Field, Fields, field};
use crate::node::Node;

const SEGMENT_FIELDS: &[Field] = &[
    field("key"),
    field("name"),
    field("description"),
    field("match_type"),
    field("constraints"),
];

const CONSTRAINT_FIELDS: &[Field] = &[
    field("type"),
    field("property"),
    field("operator"),
    field("value"),
    field("description"),
];

/// Constraint type names as written in flag files.
const COMPARISON_TYPES: [(&str, ComparisonType); 5] = [
    ("STRING_COMPARISON_TYPE", ComparisonType::String),
    ("NUMBER_COMPARISON_TYPE", ComparisonType::Number),
    ("BOOLEAN_COMPARISON_TYPE", ComparisonType::Boolean),
    ("DATETIME_COMPARISON_TYPE", ComparisonType::DateTime),
    ("ENTITY_ID_COMPARISON_TYPE", ComparisonType::EntityId),
];

/// Operators the declarative schema allows per type. Note that entity-id
/// constraints get the whole string set here, wider than Flipt's API allows.
fn allowed_operators(comparison: ComparisonType) -> &'static [&'static str] {
    const STRING: &[&str] = &[
        "eq",
        "neq",
        "empty",
        "notempty",
        "prefix",
        "suffix",
        "isoneof",
        "isnotoneof",
        "contains",
        "notcontains",
    ];
    const NUMBER: &[&str] = &[
        "eq",
        "neq",
        "present",
        "notpresent",
        "lt",
        "lte",
        "gt",
        "gte",
        "isoneof",
        "isnotoneof",
    ];
    const BOOLEAN: &[&str] = &["true", "false", "present", "notpresent"];
    const DATETIME: &[&str] = &[
        "eq",
        "neq",
        "present",
        "notpresent",
        "lt",
        "lte",
        "gt",
        "gte",
    ];
    match comparison {
        ComparisonType::String | ComparisonType::EntityId => STRING,
        ComparisonType::Number => NUMBER,
        ComparisonType::Boolean => BOOLEAN,
        ComparisonType::DateTime => DATETIME,
        ComparisonType::Unknown => &[],
    }
}

/// Validates one entry of `segments`. Returns the segment whenever its key
/// could be read, even if other parts were invalid, so that rules referring
/// to it are not also reported as referring to an unknown segment.
pub(super) fn decode_segment(ctx: &mut Ctx<'_>, node: &Node, label: &str) -> Option<Segment> {
    let prefix = format!("{label}: ");
    let fields = Fields::of(ctx, node, &prefix, "segment", SEGMENT_FIELDS)?;
    let key = fields.key(ctx, &prefix, "key");
    let name = fields.required_string(ctx, &prefix, "name");
    let description = fields.string(ctx, &prefix, "description");
    let match_type = match fields
        .required_string(ctx, &prefix, "match_type")
        .as_deref()
    {
        Some("ALL_MATCH_TYPE") => MatchType::All,
        Some("ANY_MATCH_TYPE") => MatchType::Any,
        Some(other) => {
            let line = fields.line_of("match_type");
            ctx.error(
                line,
                format!(
                    "{prefix}match_type \"{other}\" is not one of ALL_MATCH_TYPE, ANY_MATCH_TYPE"
                ),
            );
            MatchType::All
        }
        None => MatchType::All,
    };
    let mut constraints = Vec::new();
    for (i, item) in fields.list(ctx, &prefix, "constraints").iter().enumerate() {
        let prefix = format!("{prefix}constraint {}: ", i + 1);
        if let Some(constraint) = decode_constraint(ctx, item, &prefix) {
            constraints.push(constraint);
        }
    }
    Some(Segment {
        key: key?,
        name: name.unwrap_or_default(),
        description: description.unwrap_or_default(),
        match_type,
        constraints,
    })
}

fn decode_constraint(ctx: &mut Ctx<'_>, node: &Node, prefix: &str) -> Option<Constraint> {
    let fields = Fields::of(ctx, node, prefix, "constraint", CONSTRAINT_FIELDS)?;
    let type_name = fields.required_string(ctx, prefix, "type");
    let comparison = match type_name.as_deref() {
        Some(name) => match COMPARISON_TYPES.iter().find(|(n, _)| *n == name) {
            Some((_, comparison)) => *comparison,
            None => {
                let line = fields.line_of("type");
                let known: Vec<&str> = COMPARISON_TYPES.iter().map(|(n, _)| *n).collect();
                ctx.error(
                    line,
                    format!("{prefix}type \"{name}\" is not one of {}", known.join(", ")),
                );
                ComparisonType::Unknown
            }
        },
        None => ComparisonType::Unknown,
    };
    let property = fields.required_string(ctx, prefix, "property");
    let operator_name = fields.required_string(ctx, prefix, "operator");
    let value = fields.string(ctx, prefix, "value");
    fields.string(ctx, prefix, "description");

    let operator_name = operator_name?;
    let allowed = allowed_operators(comparison);
    // With an unknown type the type error above already says what is wrong.
    if comparison != ComparisonType::Unknown && !allowed.contains(&operator_name.as_str()) {
        let line = fields.line_of("operator");
        ctx.error(
            line,
            format!(
                "{prefix}operator \"{operator_name}\" is not allowed for {} (allowed: {})",
                type_name.as_deref().unwrap_or_default(),
                allowed.join(", ")
            ),
        );
    }
    Some(Constraint {
        id: String::new(),
        comparison,
        property: property.unwrap_or_default(),
        operator: Operator::parse(&operator_name),
        operator_name,
        value: value.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_allowed_operator_is_known_to_the_model() {
        for (_, comparison) in COMPARISON_TYPES {
            for name in allowed_operators(comparison) {
                assert_ne!(Operator::parse(name), Operator::Unknown, "{name}");
            }
        }
    }
}
