//! Flag state and evaluation inputs/outputs.
//!
//! The model mirrors Flipt's evaluation view of a flag (what Flipt's snapshot
//! endpoint serves): a flag carries its rules (variant flags) or rollouts
//! (boolean flags) with their segments and constraints inlined, so one
//! [`Flag`] value is everything needed to evaluate it. Segments are shared
//! between rules and flags through [`Arc`].

use std::{collections::HashMap, fmt, sync::Arc};

/// The two kinds of flag Flipt knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FlagType {
    /// Evaluates to one of the flag's variants through ranked rules.
    #[default]
    Variant,
    /// Evaluates to true/false through ranked rollouts.
    Boolean,
}

impl FlagType {
    /// Flipt's enum name, used in error messages (`flag type VARIANT_FLAG_TYPE invalid`).
    pub fn as_str(self) -> &'static str {
        match self {
            FlagType::Variant => "VARIANT_FLAG_TYPE",
            FlagType::Boolean => "BOOLEAN_FLAG_TYPE",
        }
    }
}

impl fmt::Display for FlagType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the constraints of a segment combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MatchType {
    /// Every constraint must match (an empty list matches).
    #[default]
    All,
    /// At least one constraint must match (an empty list matches).
    Any,
}

/// How the segments of a rule or segment rollout combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SegmentOperator {
    /// At least one segment must match.
    #[default]
    Or,
    /// Every segment must match.
    And,
}

/// The type a constraint compares the context value as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ComparisonType {
    /// Not a known type: evaluating it is an error, as in Flipt.
    #[default]
    Unknown,
    /// Plain string comparison.
    String,
    /// Floating-point number comparison.
    Number,
    /// Boolean (`true`/`false`/`present`/`notpresent`).
    Boolean,
    /// RFC 3339 timestamp or `YYYY-MM-DD` date comparison.
    DateTime,
    /// String comparison against the entity id instead of a context property.
    EntityId,
}

/// A constraint operator. Flipt stores operators as lower-case strings and
/// matches them exactly; names outside the known set become [`Operator::Unknown`]
/// and never match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `eq`
    Eq,
    /// `neq`
    Neq,
    /// `lt`
    Lt,
    /// `lte`
    Lte,
    /// `gt`
    Gt,
    /// `gte`
    Gte,
    /// `empty`
    Empty,
    /// `notempty`
    NotEmpty,
    /// `true`
    True,
    /// `false`
    False,
    /// `present`
    Present,
    /// `notpresent`
    NotPresent,
    /// `prefix`
    Prefix,
    /// `suffix`
    Suffix,
    /// `isoneof`
    IsOneOf,
    /// `isnotoneof`
    IsNotOneOf,
    /// `contains`
    Contains,
    /// `notcontains`
    NotContains,
    /// Any other string.
    Unknown,
}

impl Operator {
    /// Every known operator with its wire name.
    pub const ALL: [(Operator, &'static str); 18] = [
        (Operator::Eq, "eq"),
        (Operator::Neq, "neq"),
        (Operator::Lt, "lt"),
        (Operator::Lte, "lte"),
        (Operator::Gt, "gt"),
        (Operator::Gte, "gte"),
        (Operator::Empty, "empty"),
        (Operator::NotEmpty, "notempty"),
        (Operator::True, "true"),
        (Operator::False, "false"),
        (Operator::Present, "present"),
        (Operator::NotPresent, "notpresent"),
        (Operator::Prefix, "prefix"),
        (Operator::Suffix, "suffix"),
        (Operator::IsOneOf, "isoneof"),
        (Operator::IsNotOneOf, "isnotoneof"),
        (Operator::Contains, "contains"),
        (Operator::NotContains, "notcontains"),
    ];

    /// Parses a wire name exactly (case-sensitive, as Flipt does).
    pub fn parse(name: &str) -> Operator {
        for (op, op_name) in Operator::ALL {
            if op_name == name {
                return op;
            }
        }
        Operator::Unknown
    }
}

/// One condition of a segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    /// Opaque id (may be empty).
    pub id: String,
    /// How the context value is compared.
    pub comparison: ComparisonType,
    /// Context key the value is read from (ignored for [`ComparisonType::EntityId`]).
    pub property: String,
    /// Parsed operator.
    pub operator: Operator,
    /// The operator name as written, kept so it can be served back unchanged.
    pub operator_name: String,
    /// Constraint value as a string (a JSON array text for `isoneof`/`isnotoneof`).
    pub value: String,
}

impl Constraint {
    /// A constraint with an empty id, its operator parsed from `operator_name`
    /// (unknown names become [`Operator::Unknown`]).
    pub fn new(
        comparison: ComparisonType,
        property: impl Into<String>,
        operator_name: impl Into<String>,
        value: impl Into<String>,
    ) -> Constraint {
        let operator_name = operator_name.into();
        Constraint {
            id: String::new(),
            comparison,
            property: property.into(),
            operator: Operator::parse(&operator_name),
            operator_name,
            value: value.into(),
        }
    }
}

/// A named set of constraints that an entity matches or not.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Segment {
    /// Segment key, unique in its namespace.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Free-text description.
    pub description: String,
    /// How the constraints combine.
    pub match_type: MatchType,
    /// The constraints, in declaration order.
    pub constraints: Vec<Constraint>,
}

/// A variant of a variant flag.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Variant {
    /// Opaque id (may be empty).
    pub id: String,
    /// Variant key, unique within its flag.
    pub key: String,
    /// JSON text of the attachment, or "" when there is none.
    pub attachment: String,
}

/// Share of a rule's matches that get one variant.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Distribution {
    /// Opaque id of the variant (may be empty).
    pub variant_id: String,
    /// Key of the variant served.
    pub variant_key: String,
    /// JSON text of the variant's attachment, or "".
    pub variant_attachment: String,
    /// Percentage (0..=100) of this rule's matches; rollouts of a rule are
    /// normalised at evaluation time, so they need not add up to 100.
    pub rollout: f32,
}

/// A ranked targeting rule of a variant flag.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rule {
    /// Opaque id (may be empty).
    pub id: String,
    /// 1-based rank; rules are evaluated in ascending rank order.
    pub rank: i32,
    /// How the segments combine.
    pub segment_operator: SegmentOperator,
    /// Segments the entity must match.
    pub segments: Vec<Arc<Segment>>,
    /// Variants served to matching entities.
    pub distributions: Vec<Distribution>,
}

/// What a boolean-flag rollout matches on.
#[derive(Debug, Clone, PartialEq)]
pub enum RolloutRule {
    /// A percentage of entities, by hash of entity id and flag key.
    Threshold {
        /// Percentage (0..=100) of entities that match.
        percentage: f32,
        /// Value returned to matching entities.
        value: bool,
    },
    /// Entities matching the segments.
    Segment {
        /// How the segments combine.
        operator: SegmentOperator,
        /// Segments the entity must match.
        segments: Vec<Arc<Segment>>,
        /// Value returned to matching entities.
        value: bool,
    },
}

/// A ranked rollout of a boolean flag.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    /// 1-based rank; rollouts are evaluated in ascending rank order.
    pub rank: i32,
    /// Free-text description.
    pub description: String,
    /// What the rollout matches on.
    pub rule: RolloutRule,
}

/// A feature flag with everything needed to evaluate it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Flag {
    /// Flag key, unique in its namespace.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Free-text description.
    pub description: String,
    /// Variant flags: whether rules are evaluated at all. Boolean flags: the
    /// value returned when no rollout matches.
    pub enabled: bool,
    /// Variant or boolean.
    pub flag_type: FlagType,
    /// Variant flags: the variants defined on the flag.
    pub variants: Vec<Variant>,
    /// Variant flags: ranked rules.
    pub rules: Vec<Rule>,
    /// Boolean flags: ranked rollouts.
    pub rollouts: Vec<Rollout>,
    /// Variant flags: variant served when no rule matches or the flag is disabled.
    pub default_variant: Option<Variant>,
}

/// Key of the namespace used when a request names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Resolves a namespace key as sent by a client: empty means `default`.
pub fn resolve_namespace(key: &str) -> &str {
    if key.is_empty() {
        DEFAULT_NAMESPACE
    } else {
        key
    }
}

/// Context properties of an evaluation request.
pub type Context = HashMap<String, String>;

/// Why an evaluation produced its result (Flipt's `EvaluationReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Reason {
    /// No rule matched and there is no default variant.
    #[default]
    Unknown,
    /// The flag is disabled: a disabled variant flag, or a disabled boolean
    /// flag without rollouts (as Flipt's client engine reports it).
    FlagDisabled,
    /// A rule or rollout matched.
    Match,
    /// Nothing matched; the default variant or value was returned.
    Default,
}

impl Reason {
    /// Flipt's enum name (`MATCH_EVALUATION_REASON`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unknown => "UNKNOWN_EVALUATION_REASON",
            Reason::FlagDisabled => "FLAG_DISABLED_EVALUATION_REASON",
            Reason::Match => "MATCH_EVALUATION_REASON",
            Reason::Default => "DEFAULT_EVALUATION_REASON",
        }
    }
}

/// Result of evaluating a variant flag.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VariantEvaluation {
    /// Whether a rule matched the entity.
    pub matched: bool,
    /// Why this result was produced.
    pub reason: Reason,
    /// Keys of the segments that matched, in rule order.
    pub segment_keys: Vec<String>,
    /// Variant served ("" when none).
    pub variant_key: String,
    /// JSON text of the served variant's attachment ("" when none).
    pub variant_attachment: String,
}

/// Result of evaluating a boolean flag.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BooleanEvaluation {
    /// The flag's value for the entity.
    pub enabled: bool,
    /// Why this result was produced.
    pub reason: Reason,
    /// Keys of the segments that matched (segment rollouts only).
    pub segment_keys: Vec<String>,
}

/// Result of evaluating a flag of either type ([`crate::evaluate`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// A variant flag's result.
    Variant(VariantEvaluation),
    /// A boolean flag's result.
    Boolean(BooleanEvaluation),
}
