//! Flags: variants, rules with distributions, rollouts, metadata.

use std::collections::BTreeMap;

use flipt_core::{FlagType, SegmentOperator, Variant};

use super::fields::{Ctx, Field, Fields, Version, field, gated, label, string_list};
use crate::node::{Node, ScalarKind, Value};

const FLAG_FIELDS: &[Field] = &[
    field("key"),
    field("name"),
    field("description"),
    field("enabled"),
    gated("type", Version::V1_1),
    gated("metadata", Version::V1_3),
    field("variants"),
    field("rules"),
    gated("rollouts", Version::V1_1),
];
const VARIANT_FIELDS: &[Field] = &[
    field("key"),
    field("name"),
    field("description"),
    field("attachment"),
    gated("default", Version::V1_3),
];
// `rank` is accepted for compatibility but ignored: position decides.
const RULE_FIELDS: &[Field] = &[field("segment"), field("rank"), field("distributions")];
const RULE_SEGMENT_FIELDS: &[Field] = &[field("keys"), field("operator")];
const DISTRIBUTION_FIELDS: &[Field] = &[field("variant"), field("rollout")];
const ROLLOUT_FIELDS: &[Field] = &[field("description"), field("segment"), field("threshold")];
const ROLLOUT_SEGMENT_FIELDS: &[Field] = &[
    field("key"),
    field("keys"),
    field("operator"),
    field("value"),
];
const THRESHOLD_FIELDS: &[Field] = &[field("percentage"), field("value")];

/// A flag as declared, before its references are resolved.
#[derive(Debug, Clone)]
pub(crate) struct FlagDecl {
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) enabled: bool,
    pub(crate) flag_type: FlagType,
    /// Variants with their attachment as compact JSON ("" when absent).
    pub(crate) variants: Vec<Variant>,
    /// Key of the last variant marked `default: true`.
    pub(crate) default_variant: Option<String>,
    pub(crate) rules: Vec<RuleDecl>,
    pub(crate) rollouts: Vec<RolloutDecl>,
}

/// A rule as declared: segment keys still unresolved.
#[derive(Debug, Clone)]
pub(crate) struct RuleDecl {
    pub(crate) line: usize,
    pub(crate) rank: i32,
    pub(crate) operator: SegmentOperator,
    pub(crate) segments: Vec<String>,
    pub(crate) distributions: Vec<DistributionDecl>,
}

/// A distribution as declared: variant key still unresolved.
#[derive(Debug, Clone)]
pub(crate) struct DistributionDecl {
    pub(crate) line: usize,
    pub(crate) variant: String,
    pub(crate) rollout: f32,
}

/// A rollout as declared.
#[derive(Debug, Clone)]
pub(crate) struct RolloutDecl {
    pub(crate) line: usize,
    pub(crate) rank: i32,
    pub(crate) description: String,
    pub(crate) kind: RolloutKind,
}

/// What a declared rollout matches on.
#[derive(Debug, Clone)]
pub(crate) enum RolloutKind {
    Threshold {
        percentage: f32,
        value: bool,
    },
    Segment {
        operator: SegmentOperator,
        segments: Vec<String>,
        value: bool,
    },
}

/// Validates one entry of `flags`. Returns the flag whenever its key could be
/// read, so reference checks still run on it.
pub(super) fn decode_flag(ctx: &mut Ctx<'_>, node: &Node, label_text: &str) -> Option<FlagDecl> {
    let prefix = format!("{label_text}: ");
    let fields = Fields::of(ctx, node, &prefix, "flag", FLAG_FIELDS)?;
    let key = fields.key(ctx, &prefix, "key");
    let name = fields.required_string(ctx, &prefix, "name");
    let description = fields.string(ctx, &prefix, "description");
    let enabled = fields.bool(ctx, &prefix, "enabled").unwrap_or(false);
    let flag_type = match fields.string(ctx, &prefix, "type").as_deref() {
        None | Some("VARIANT_FLAG_TYPE") => FlagType::Variant,
        Some("BOOLEAN_FLAG_TYPE") => FlagType::Boolean,
        Some(other) => {
            let line = fields.line_of("type");
            ctx.error(
                line,
                format!(
                    "{prefix}type \"{other}\" is not one of VARIANT_FLAG_TYPE, BOOLEAN_FLAG_TYPE"
                ),
            );
            FlagType::Variant
        }
    };
    if let Some(metadata) = fields.get("metadata") {
        check_metadata(ctx, metadata, &prefix);
    }

    let mut variants: Vec<Variant> = Vec::new();
    let mut default_variant = None;
    for (i, item) in fields.list(ctx, &prefix, "variants").iter().enumerate() {
        let prefix = format!("{prefix}{}: ", label("variant", item, i + 1));
        let Some(v) = Fields::of(ctx, item, &prefix, "variant", VARIANT_FIELDS) else {
            continue;
        };
        let key = v.required_string(ctx, &prefix, "key");
        v.string(ctx, &prefix, "name");
        v.string(ctx, &prefix, "description");
        let attachment = match v.get("attachment") {
            Some(node) => attachment_json(ctx, node, &prefix).unwrap_or_default(),
            None => String::new(),
        };
        let is_default = v.bool(ctx, &prefix, "default").unwrap_or(false);
        let Some(key) = key else { continue };
        if variants.iter().any(|existing| existing.key == key) {
            ctx.error(
                item.line,
                format!("{prefix}duplicate variant key \"{key}\""),
            );
            continue;
        }
        if is_default {
            // As in Flipt, the last variant marked default wins.
            default_variant = Some(key.clone());
        }
        variants.push(Variant {
            id: String::new(),
            key,
            attachment,
        });
    }

    let mut rules = Vec::new();
    for (i, item) in fields.list(ctx, &prefix, "rules").iter().enumerate() {
        if let Some(rule) = decode_rule(ctx, item, &prefix, i + 1) {
            rules.push(rule);
        }
    }

    let rollout_nodes = fields.list(ctx, &prefix, "rollouts");
    if !rollout_nodes.is_empty() && flag_type != FlagType::Boolean {
        let line = fields.line_of("rollouts");
        ctx.error(
            line,
            format!("{prefix}rollouts are only allowed on BOOLEAN_FLAG_TYPE flags"),
        );
    }
    let mut rollouts = Vec::new();
    for (i, item) in rollout_nodes.iter().enumerate() {
        if let Some(rollout) = decode_rollout(ctx, item, &prefix, i + 1) {
            rollouts.push(rollout);
        }
    }

    Some(FlagDecl {
        key: key?,
        name: name.unwrap_or_default(),
        description: description.unwrap_or_default(),
        enabled,
        flag_type,
        variants,
        default_variant,
        rules,
        rollouts,
    })
}

fn decode_rule(ctx: &mut Ctx<'_>, node: &Node, flag_prefix: &str, rank: usize) -> Option<RuleDecl> {
    let prefix = format!("{flag_prefix}rule {rank}: ");
    let fields = Fields::of(ctx, node, &prefix, "rule", RULE_FIELDS)?;
    let (operator, segments) = match fields.get("segment") {
        None => {
            ctx.error(node.line, format!("{prefix}segment is required"));
            (SegmentOperator::Or, Vec::new())
        }
        Some(segment) => match &segment.value {
            Value::Scalar(s) if s.kind == ScalarKind::Str => {
                if !super::is_valid_key(&s.text) {
                    ctx.error(
                        segment.line,
                        format!(
                            "{prefix}segment \"{}\" does not match {}",
                            s.text,
                            super::fields::KEY_PATTERN
                        ),
                    );
                }
                (SegmentOperator::Or, vec![s.text.clone()])
            }
            Value::Map(_) => {
                let seg = Fields::of(ctx, segment, &prefix, "segment", RULE_SEGMENT_FIELDS)?;
                segment_keys(ctx, &seg, &prefix, false)
            }
            _ => {
                ctx.error(
                    fields.line_of("segment"),
                    format!(
                        "{prefix}segment must be a segment key or a mapping with keys, not {}",
                        segment.type_name()
                    ),
                );
                (SegmentOperator::Or, Vec::new())
            }
        },
    };
    if fields.get("rank").is_some_and(
        |r| !matches!(&r.value, Value::Scalar(s) if matches!(s.kind, ScalarKind::Int(_))),
    ) {
        let line = fields.line_of("rank");
        ctx.error(line, format!("{prefix}rank must be an integer"));
    }
    let mut distributions = Vec::new();
    for (i, item) in fields
        .list(ctx, &prefix, "distributions")
        .iter()
        .enumerate()
    {
        let prefix = format!("{prefix}distribution {}: ", i + 1);
        let Some(d) = Fields::of(ctx, item, &prefix, "distribution", DISTRIBUTION_FIELDS) else {
            continue;
        };
        let variant = d.required_string(ctx, &prefix, "variant");
        let rollout = d.percentage(ctx, &prefix, "rollout");
        if let (Some(variant), Some(rollout)) = (variant, rollout) {
            distributions.push(DistributionDecl {
                line: item.line,
                variant,
                rollout,
            });
        }
    }
    Some(RuleDecl {
        line: node.line,
        rank: rank_of(rank),
        operator,
        segments,
        distributions,
    })
}

fn decode_rollout(
    ctx: &mut Ctx<'_>,
    node: &Node,
    flag_prefix: &str,
    rank: usize,
) -> Option<RolloutDecl> {
    let prefix = format!("{flag_prefix}rollout {rank}: ");
    let fields = Fields::of(ctx, node, &prefix, "rollout", ROLLOUT_FIELDS)?;
    let description = fields
        .string(ctx, &prefix, "description")
        .unwrap_or_default();
    let kind = match (fields.get("segment"), fields.get("threshold")) {
        (Some(segment), None) => {
            let seg = Fields::of(ctx, segment, &prefix, "segment", ROLLOUT_SEGMENT_FIELDS)?;
            let (operator, segments) = segment_keys(ctx, &seg, &prefix, true);
            let value = seg.bool(ctx, &prefix, "value").unwrap_or(false);
            RolloutKind::Segment {
                operator,
                segments,
                value,
            }
        }
        (None, Some(threshold)) => {
            let t = Fields::of(ctx, threshold, &prefix, "threshold", THRESHOLD_FIELDS)?;
            let percentage = t.percentage(ctx, &prefix, "percentage");
            let value = t.bool(ctx, &prefix, "value").unwrap_or(false);
            RolloutKind::Threshold {
                percentage: percentage?,
                value,
            }
        }
        _ => {
            ctx.error(
                node.line,
                format!("{prefix}exactly one of segment or threshold is required"),
            );
            return None;
        }
    };
    Some(RolloutDecl {
        line: node.line,
        rank: rank_of(rank),
        description,
        kind,
    })
}

/// Reads `keys` (and, for rollouts, `key`) plus `operator` of a rule or
/// rollout segment. Only AND is special; anything else is OR, as in Flipt,
/// but names other than the two operators are reported.
fn segment_keys(
    ctx: &mut Ctx<'_>,
    seg: &Fields<'_>,
    prefix: &str,
    single_key_allowed: bool,
) -> (SegmentOperator, Vec<String>) {
    let operator = match seg.string(ctx, prefix, "operator").as_deref() {
        None | Some("OR_SEGMENT_OPERATOR") => SegmentOperator::Or,
        Some("AND_SEGMENT_OPERATOR") => SegmentOperator::And,
        Some(other) => {
            let line = seg.line_of("operator");
            ctx.error(
                line,
                format!(
                    "{prefix}operator \"{other}\" is not one of OR_SEGMENT_OPERATOR, AND_SEGMENT_OPERATOR"
                ),
            );
            SegmentOperator::Or
        }
    };
    let single = if single_key_allowed {
        seg.string(ctx, prefix, "key")
    } else {
        None
    };
    let list_node = seg.get("keys");
    let keys = match (single, list_node) {
        (Some(key), None) => vec![key],
        (None, Some(_)) => {
            let items = seg.list(ctx, prefix, "keys");
            string_list(ctx, prefix, "segment keys", items)
        }
        (Some(_), Some(_)) => {
            ctx.error(seg.line, format!("{prefix}segment has both key and keys"));
            Vec::new()
        }
        (None, None) => {
            let what = if single_key_allowed {
                "key or keys"
            } else {
                "keys"
            };
            ctx.error(seg.line, format!("{prefix}segment {what} is required"));
            return (operator, Vec::new());
        }
    };
    if keys.is_empty() && list_node.is_some() {
        ctx.error(seg.line, format!("{prefix}segment keys must not be empty"));
    }
    (operator, keys)
}

/// Metadata is a mapping of scalars; it is validated but not served.
fn check_metadata(ctx: &mut Ctx<'_>, node: &Node, prefix: &str) {
    let Value::Map(entries) = &node.value else {
        ctx.error(
            node.line,
            format!(
                "{prefix}metadata must be a mapping, not {}",
                node.type_name()
            ),
        );
        return;
    };
    for entry in entries {
        let ok = matches!(&entry.value.value, Value::Scalar(s) if s.kind != ScalarKind::Null);
        if !ok {
            ctx.error(
                entry.value.line,
                format!(
                    "{prefix}metadata \"{}\" must be a string, number or boolean, not {}",
                    entry.key,
                    entry.value.type_name()
                ),
            );
        }
    }
}

/// An attachment as compact JSON text. Only objects and arrays are allowed,
/// as in Flipt's schema. Object keys come out sorted, as Go's JSON encoder
/// writes them, so the text is the same whatever the source order.
fn attachment_json(ctx: &mut Ctx<'_>, node: &Node, prefix: &str) -> Option<String> {
    if !matches!(node.value, Value::Map(_) | Value::Seq(_)) {
        ctx.error(
            node.line,
            format!(
                "{prefix}attachment must be an object or array, not {}",
                node.type_name()
            ),
        );
        return None;
    }
    match to_json(node) {
        Ok(value) => Some(value.to_string()),
        Err(line) => {
            ctx.error(
                line,
                format!("{prefix}attachment holds a number JSON cannot represent"),
            );
            None
        }
    }
}

/// Converts a node to JSON; the error is the line of a non-finite number.
fn to_json(node: &Node) -> Result<serde_json::Value, usize> {
    Ok(match &node.value {
        Value::Scalar(s) => match s.kind {
            ScalarKind::Null => serde_json::Value::Null,
            ScalarKind::Bool(b) => serde_json::Value::Bool(b),
            ScalarKind::Int(i) => serde_json::Value::from(i),
            ScalarKind::Float(f) => serde_json::Number::from_f64(f)
                .map(serde_json::Value::Number)
                .ok_or(node.line)?,
            ScalarKind::Str => serde_json::Value::String(s.text.clone()),
        },
        Value::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(to_json(item)?);
            }
            serde_json::Value::Array(out)
        }
        Value::Map(entries) => {
            let mut sorted = BTreeMap::new();
            for entry in entries {
                sorted.insert(entry.key.clone(), to_json(&entry.value)?);
            }
            serde_json::Value::Object(sorted.into_iter().collect())
        }
    })
}

/// Rank from a 1-based position; lists beyond i32 are not realistic.
fn rank_of(position: usize) -> i32 {
    i32::try_from(position).unwrap_or(i32::MAX)
}
