//! Matching one constraint against an entity, as Flipt's client-side engine
//! (flipt-client-sdks `flipt-evaluation`) does.
//!
//! Common rules: the compared value is `context[property]`, or "" when the
//! property is missing; ENTITY_ID constraints compare the entity id and ignore
//! the property. A value that does not parse as the constraint's type, on
//! either side, is "no match", never an error. Operators the type does not
//! know never match.
//!
//! Differences from the v1 Go server (reference §7.3), where this module
//! follows the client engine:
//! * no trimming: `empty`/`notempty`, `present`/`notpresent` and
//!   `prefix`/`suffix` look at the value as sent (Go trims spaces first);
//! * STRING `isnotoneof` with a constraint value that is not a JSON array of
//!   strings matches (Go: no match);
//! * NUMBER values are 32-bit integers (`str::parse::<i32>`: optional sign,
//!   ASCII digits, no spaces, no fraction or exponent), and `isoneof` arrays
//!   must hold only such integers (Go: float64);
//! * BOOLEAN accepts only `true` and `false` (Go's ParseBool also takes
//!   `1`, `t`, `T`, `TRUE`, `True`, `0`, `f`, ...);
//! * DATETIME see [`super::datetime`]: no date-only form, whole seconds;
//! * a constraint of unknown comparison type is not an error (v1:
//!   `unknown constraint type`, InvalidArgument) but makes its segment not
//!   match, see [`matches()`].

use super::{datetime, json_list};
use crate::model::{ComparisonType, Constraint, Context, Operator};

/// Whether `constraint` matches the entity: `Some(true)` or `Some(false)`, or
/// `None` for a comparison type the engine does not know.
///
/// The client engine answers "the segment does not match" as soon as it
/// reaches a constraint of unknown type, whatever the segment's match type,
/// so the caller needs to tell that case apart from a plain miss.
#[inline]
pub(crate) fn matches(constraint: &Constraint, context: &Context, entity_id: &str) -> Option<bool> {
    let op = constraint.operator;
    let expected = constraint.value.as_str();
    let matched = match constraint.comparison {
        ComparisonType::String => match_string(op, expected, property(constraint, context)),
        ComparisonType::EntityId => match_string(op, expected, entity_id),
        ComparisonType::Number => match_number(op, expected, property(constraint, context)),
        ComparisonType::Boolean => match_boolean(op, property(constraint, context)),
        ComparisonType::DateTime => match_datetime(op, expected, property(constraint, context)),
        ComparisonType::Unknown => return None,
    };
    Some(matched)
}

/// The context value a constraint reads; a missing property reads as "".
#[inline]
fn property<'a>(constraint: &Constraint, context: &'a Context) -> &'a str {
    context
        .get(constraint.property.as_str())
        .map_or("", String::as_str)
}

/// STRING and ENTITY_ID comparison of the value `v` with the constraint value `c`.
fn match_string(op: Operator, c: &str, v: &str) -> bool {
    match op {
        Operator::Empty => return v.is_empty(),
        Operator::NotEmpty => return !v.is_empty(),
        _ => {}
    }
    if v.is_empty() {
        return false;
    }
    match op {
        Operator::Eq => v == c,
        Operator::Neq => v != c,
        Operator::Prefix => v.starts_with(c),
        Operator::Suffix => v.ends_with(c),
        Operator::Contains => v.contains(c),
        Operator::NotContains => !v.contains(c),
        Operator::IsOneOf => json_list::strings_contain(c, v).unwrap_or(false),
        // The client negates the membership test after mapping a decoding
        // failure to "not a member", so a bad array matches here.
        Operator::IsNotOneOf => !json_list::strings_contain(c, v).unwrap_or(false),
        _ => false,
    }
}

/// `present`/`notpresent`, shared by NUMBER, BOOLEAN and DATETIME. `None` for
/// the other operators.
#[inline]
fn presence(op: Operator, v: &str) -> Option<bool> {
    match op {
        Operator::Present => Some(!v.is_empty()),
        Operator::NotPresent => Some(v.is_empty()),
        _ => None,
    }
}

fn match_number(op: Operator, c: &str, v: &str) -> bool {
    if let Some(present) = presence(op, v) {
        return present;
    }
    let Ok(v) = v.parse::<i32>() else {
        return false;
    };
    match op {
        // Unlike STRING, a bad array fails both membership operators: the
        // client propagates the decoding error before negating.
        Operator::IsOneOf => return json_list::integers_contain(c, v) == Some(true),
        Operator::IsNotOneOf => return json_list::integers_contain(c, v) == Some(false),
        _ => {}
    }
    let Ok(c) = c.parse::<i32>() else {
        return false;
    };
    compare(op, v, c)
}

fn match_boolean(op: Operator, v: &str) -> bool {
    if let Some(present) = presence(op, v) {
        return present;
    }
    let Ok(v) = v.parse::<bool>() else {
        return false;
    };
    match op {
        Operator::True => v,
        Operator::False => !v,
        _ => false,
    }
}

fn match_datetime(op: Operator, c: &str, v: &str) -> bool {
    if let Some(present) = presence(op, v) {
        return present;
    }
    let Some(v) = datetime::unix_seconds(v) else {
        return false;
    };
    let Some(c) = datetime::unix_seconds(c) else {
        return false;
    };
    compare(op, v, c)
}

/// The ordering operators shared by NUMBER and DATETIME; others never match.
#[inline]
fn compare<T: Ord>(op: Operator, v: T, c: T) -> bool {
    match op {
        Operator::Eq => v == c,
        Operator::Neq => v != c,
        Operator::Lt => v < c,
        Operator::Lte => v <= c,
        Operator::Gt => v > c,
        Operator::Gte => v >= c,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
