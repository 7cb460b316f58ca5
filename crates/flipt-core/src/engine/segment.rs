//! Matching segments (their constraints under ALL/ANY) and sets of segments
//! (under the OR/AND segment operator of a rule or rollout).

use std::sync::Arc;

use super::constraint;
use crate::model::{Context, MatchType, Segment, SegmentOperator};

/// Whether the entity matches `segment`.
///
/// An empty constraint list matches under both ALL and ANY. Like the client
/// engine, evaluation stops at the first constraint that decides the answer
/// (a miss under ALL, a hit under ANY), and a constraint of unknown
/// comparison type, when reached, makes the whole segment not match, even
/// under ANY with a matching constraint after it.
pub(crate) fn segment_matches(segment: &Segment, context: &Context, entity_id: &str) -> bool {
    match segment.match_type {
        MatchType::All => segment
            .constraints
            .iter()
            .all(|c| constraint::matches(c, context, entity_id) == Some(true)),
        MatchType::Any => {
            if segment.constraints.is_empty() {
                return true;
            }
            for c in &segment.constraints {
                match constraint::matches(c, context, entity_id) {
                    Some(true) => return true,
                    Some(false) => {}
                    None => return false,
                }
            }
            false
        }
    }
}

/// Evaluates every segment, pushes the keys of those that match onto
/// `matched` (in declaration order) and says whether `operator` is satisfied:
/// OR needs at least one match, AND needs all of them. With no segments, OR
/// never matches and AND always does.
///
/// `matched` is left holding the keys even when the operator is not
/// satisfied; callers clear it before reuse. Borrowing the keys keeps the
/// non-matching rules of a flag allocation-free.
///
/// Difference from the client engine: it keeps a rule's segments in a hash
/// map, so the order of its `segment_keys` is arbitrary; here it is the
/// declaration order. The set of keys is the same.
pub(crate) fn segments_match<'a>(
    operator: SegmentOperator,
    segments: &'a [Arc<Segment>],
    context: &Context,
    entity_id: &str,
    matched: &mut Vec<&'a str>,
) -> bool {
    let before = matched.len();
    for segment in segments {
        if segment_matches(segment, context, entity_id) {
            matched.push(&segment.key);
        }
    }
    let count = matched.len() - before;
    match operator {
        SegmentOperator::Or => count >= 1,
        SegmentOperator::And => count == segments.len(),
    }
}

/// Owned copies of matched segment keys, for a result.
pub(crate) fn owned_keys(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| (*k).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ComparisonType, Constraint, Operator};

    fn eq(property: &str, value: &str) -> Constraint {
        Constraint {
            id: String::new(),
            comparison: ComparisonType::String,
            property: property.to_owned(),
            operator: Operator::Eq,
            operator_name: "eq".to_owned(),
            value: value.to_owned(),
        }
    }

    fn unknown() -> Constraint {
        Constraint {
            comparison: ComparisonType::Unknown,
            ..eq("p", "x")
        }
    }

    fn segment(key: &str, match_type: MatchType, constraints: Vec<Constraint>) -> Arc<Segment> {
        Arc::new(Segment {
            key: key.to_owned(),
            match_type,
            constraints,
            ..Segment::default()
        })
    }

    fn context(pairs: &[(&str, &str)]) -> Context {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn match_types() {
        let ctx = context(&[("a", "1"), ("b", "2")]);
        let cases: &[(MatchType, Vec<Constraint>, bool)] = &[
            (MatchType::All, vec![], true),
            (MatchType::Any, vec![], true),
            (MatchType::All, vec![eq("a", "1"), eq("b", "2")], true),
            (MatchType::All, vec![eq("a", "1"), eq("b", "x")], false),
            (MatchType::Any, vec![eq("a", "x"), eq("b", "2")], true),
            (MatchType::Any, vec![eq("a", "x"), eq("b", "x")], false),
            (MatchType::All, vec![eq("missing", "1")], false),
        ];
        for (match_type, constraints, want) in cases {
            let s = segment("s", *match_type, constraints.clone());
            assert_eq!(
                segment_matches(&s, &ctx, "e"),
                *want,
                "{match_type:?} {constraints:?}"
            );
        }
    }

    #[test]
    fn unknown_type_fails_the_segment_when_reached() {
        let ctx = context(&[("p", "x")]);
        let cases = [
            (MatchType::All, vec![unknown()], false),
            (MatchType::All, vec![eq("p", "x"), unknown()], false),
            (MatchType::Any, vec![unknown()], false),
            // Reached before the matching constraint: the segment fails.
            (MatchType::Any, vec![unknown(), eq("p", "x")], false),
            // Decided before it is reached.
            (MatchType::Any, vec![eq("p", "x"), unknown()], true),
            (MatchType::All, vec![eq("p", "no"), unknown()], false),
        ];
        for (match_type, constraints, want) in cases {
            let s = segment("s", match_type, constraints);
            assert_eq!(segment_matches(&s, &ctx, "e"), want, "{match_type:?}");
        }
    }

    #[test]
    fn segment_operators() {
        let ctx = context(&[("p", "x")]);
        let hit = || segment("hit", MatchType::All, vec![eq("p", "x")]);
        let miss = || segment("miss", MatchType::All, vec![eq("p", "y")]);
        type Case = (SegmentOperator, Vec<Arc<Segment>>, bool, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            (SegmentOperator::Or, vec![], false, vec![]),
            (SegmentOperator::And, vec![], true, vec![]),
            (SegmentOperator::Or, vec![miss(), hit()], true, vec!["hit"]),
            (SegmentOperator::Or, vec![miss()], false, vec![]),
            (
                SegmentOperator::And,
                vec![hit(), miss()],
                false,
                vec!["hit"],
            ),
            (
                SegmentOperator::And,
                vec![hit(), hit()],
                true,
                vec!["hit", "hit"],
            ),
        ];
        for (op, segments, want, want_keys) in &cases {
            let mut keys = Vec::new();
            let got = segments_match(*op, segments, &ctx, "e", &mut keys);
            assert_eq!(got, *want, "{op:?}");
            assert_eq!(&keys, want_keys, "{op:?}");
        }
    }
}
