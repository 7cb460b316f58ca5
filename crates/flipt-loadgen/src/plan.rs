//! What to send next: a deterministic mix of evaluation requests over the
//! flags the evaluation service knows.
//!
//! The mix alternates gRPC and REST, sends mostly single evaluations of the
//! right kind for each flag (boolean or variant), some batches, and a small
//! share of deliberate client errors, alternately a flag that does not
//! exist (`NotFound`) and an existing flag asked with the evaluation of the
//! other type (`InvalidArgument`, counted by
//! `flipt_evaluations_errors_total`), so the error panels of the dashboards
//! have something to show. Entities come from a
//! fixed pool and each entity always carries the same context, so segment
//! matches and rollout buckets behave like real returning users.

use std::collections::HashMap;

/// Key used for requests that must fail with "not found".
pub const MISSING_FLAG: &str = "loadgen-missing-flag";

/// How many distinct entities the generator evaluates for.
const ENTITIES: u64 = 1000;

/// One batch in this many requests.
const BATCH_EVERY: u64 = 10;

/// Flags per batch request (fewer when fewer flags are known).
const BATCH_SIZE: usize = 3;

/// Whether a flag is evaluated with `Boolean` or `Variant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// `BOOLEAN_FLAG_TYPE`.
    Boolean,
    /// `VARIANT_FLAG_TYPE` (Flipt's default type).
    Variant,
}

/// A flag of the evaluation service, as listed by a namespace snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// Namespace key.
    pub namespace: String,
    /// Flag key.
    pub key: String,
    /// Which evaluation the flag answers.
    pub kind: FlagKind,
}

/// Transport of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `flipt.evaluation.EvaluationService` over gRPC.
    Grpc,
    /// `POST /evaluate/v1/*` with JSON.
    Rest,
}

/// One evaluation inside a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// Namespace key.
    pub namespace: String,
    /// Flag key (possibly [`MISSING_FLAG`]).
    pub flag: String,
    /// Which evaluation to ask for.
    pub kind: FlagKind,
    /// Entity id.
    pub entity_id: String,
    /// Evaluation context of the entity.
    pub context: HashMap<String, String>,
}

/// What to call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// One boolean or variant evaluation.
    Single(Evaluation),
    /// A batch of evaluations.
    Batch(Vec<Evaluation>),
}

/// The answer a planned request should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A result.
    Success,
    /// "Not found": the flag does not exist.
    NotFound,
    /// "Invalid argument": the flag exists but is of the other type.
    InvalidArgument,
}

/// One planned request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Transport.
    pub protocol: Protocol,
    /// What to call.
    pub call: Call,
    /// The answer it should get.
    pub expect: Expect,
}

/// Kinds of request, each alternating between gRPC and REST on its own.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Single = 0,
    Batch = 1,
    Missing = 2,
    WrongType = 3,
}

/// Produces the request sequence. Deterministic for a seed, so tests can
/// reason about the mix.
#[derive(Debug, Clone)]
pub struct Planner {
    state: u64,
    sent: u64,
    error_every: Option<u64>,
    /// Requests so far per [`Kind`]: each kind alternates between gRPC and
    /// REST on its own, so every kind reaches both transports whatever the
    /// periods.
    per_kind: [u64; 4],
    errors: u64,
}

impl Planner {
    /// A planner seeded with `seed`; one request in `error_every` is a
    /// deliberate client error (`None`: never), alternately a missing flag
    /// and a flag asked with the other type's evaluation.
    pub fn new(seed: u64, error_every: Option<u64>) -> Self {
        // xorshift has one fixed point, zero.
        Self {
            state: seed.max(1),
            sent: 0,
            error_every: error_every.filter(|n| *n > 0),
            per_kind: [0; 4],
            errors: 0,
        }
    }

    /// The next request over `flags`; `None` when no flag is known.
    pub fn next(&mut self, flags: &[Flag]) -> Option<Planned> {
        let first = flags.first()?;
        self.sent += 1;
        let kind = if self
            .error_every
            .is_some_and(|n| self.sent.is_multiple_of(n))
        {
            self.errors += 1;
            if self.errors.is_multiple_of(2) {
                Kind::WrongType
            } else {
                Kind::Missing
            }
        } else if self.sent.is_multiple_of(BATCH_EVERY) {
            Kind::Batch
        } else {
            Kind::Single
        };
        let count = &mut self.per_kind[kind as usize];
        *count += 1;
        let protocol = if count.is_multiple_of(2) {
            Protocol::Rest
        } else {
            Protocol::Grpc
        };
        let entity = self.random() % ENTITIES;
        let (call, expect) = match kind {
            Kind::Single => {
                let flag = &flags[self.pick(flags.len())];
                (Call::Single(evaluation(flag, entity)), Expect::Success)
            }
            Kind::Batch => {
                let mut batch = Vec::with_capacity(BATCH_SIZE);
                for _ in 0..BATCH_SIZE.min(flags.len()) {
                    let flag = &flags[self.pick(flags.len())];
                    batch.push(evaluation(flag, entity));
                }
                (Call::Batch(batch), Expect::Success)
            }
            Kind::Missing => {
                let missing = Evaluation {
                    namespace: first.namespace.clone(),
                    flag: MISSING_FLAG.to_owned(),
                    kind: FlagKind::Variant,
                    entity_id: entity_id(entity),
                    context: HashMap::new(),
                };
                (Call::Single(missing), Expect::NotFound)
            }
            Kind::WrongType => {
                let mut wrong = evaluation(&flags[self.pick(flags.len())], entity);
                wrong.kind = match wrong.kind {
                    FlagKind::Boolean => FlagKind::Variant,
                    FlagKind::Variant => FlagKind::Boolean,
                };
                (Call::Single(wrong), Expect::InvalidArgument)
            }
        };
        Some(Planned {
            protocol,
            call,
            expect,
        })
    }

    fn pick(&mut self, len: usize) -> usize {
        // len is a small flag count; the modulo bias is irrelevant here.
        (self.random() % len as u64) as usize
    }

    /// xorshift64: enough spread for a traffic mix, no dependency.
    fn random(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }
}

fn evaluation(flag: &Flag, entity: u64) -> Evaluation {
    Evaluation {
        namespace: flag.namespace.clone(),
        flag: flag.key.clone(),
        kind: flag.kind,
        entity_id: entity_id(entity),
        context: context(entity),
    }
}

/// Entity ids: mostly `user-N`, some `test-N` (the demo's test accounts).
fn entity_id(n: u64) -> String {
    if n.is_multiple_of(25) {
        format!("test-{n}")
    } else {
        format!("user-{n}")
    }
}

/// The context an entity always carries: the properties the demo flags'
/// segments look at, spread so every segment matches someone.
fn context(n: u64) -> HashMap<String, String> {
    const COUNTRIES: [&str; 6] = ["US", "DE", "FR", "GB", "BR", "JP"];
    const PLANS: [&str; 3] = ["free", "pro", "enterprise"];
    const PLATFORMS: [&str; 3] = ["web", "ios", "android"];
    let pick =
        |values: &[&'static str], salt: u64| values[((n / salt) % values.len() as u64) as usize];
    let platform = pick(&PLATFORMS, 1);
    let mut context = HashMap::new();
    let mut set = |key: &str, value: String| {
        context.insert(key.to_owned(), value);
    };
    set("country", pick(&COUNTRIES, 3).to_owned());
    set("plan", pick(&PLANS, 7).to_owned());
    set("beta_opt_in", n.is_multiple_of(11).to_string());
    set(
        "email",
        if n.is_multiple_of(13) {
            format!("staff{n}@example.com")
        } else {
            format!("customer{n}@mail.test")
        },
    );
    set("account_age_days", (n % 90).to_string());
    set(
        "signup_date",
        format!("2025-{:02}-15T09:00:00Z", n % 12 + 1),
    );
    set("platform", platform.to_owned());
    if platform != "web" {
        set("os", platform.to_owned());
        set("app_version", format!("3.{}.0", n % 5));
        set("build_number", (4200 + n % 200).to_string());
        set("premium", n.is_multiple_of(4).to_string());
        set("locale", "en-US".to_owned());
    }
    set("cart_total", (n % 400).to_string());
    set("items_count", (n % 15).to_string());
    set("orders_count", (n % 6).to_string());
    set("is_guest", n.is_multiple_of(9).to_string());
    context
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> Vec<Flag> {
        let flag = |ns: &str, key: &str, kind| Flag {
            namespace: ns.into(),
            key: key.into(),
            kind,
        };
        vec![
            flag("default", "theme", FlagKind::Variant),
            flag("default", "new-dashboard", FlagKind::Boolean),
            flag("checkout", "payment-provider", FlagKind::Variant),
        ]
    }

    #[test]
    fn no_flags_no_request() {
        assert_eq!(Planner::new(1, Some(10)).next(&[]), None);
    }

    #[test]
    fn mix_covers_protocols_batches_errors_and_every_flag() {
        let flags = flags();
        let mut planner = Planner::new(42, Some(50));
        let mut grpc = 0;
        let mut rest = 0;
        let mut batches = 0;
        let mut missing = 0;
        let mut wrong = 0;
        let mut grpc_batches = 0;
        let mut grpc_errors = 0;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let planned = planner.next(&flags).expect("flags are known");
            match planned.protocol {
                Protocol::Grpc => grpc += 1,
                Protocol::Rest => rest += 1,
            }
            let over_grpc = planned.protocol == Protocol::Grpc;
            match planned.expect {
                Expect::Success => {}
                Expect::NotFound => missing += 1,
                Expect::InvalidArgument => wrong += 1,
            }
            if planned.expect != Expect::Success {
                grpc_errors += usize::from(over_grpc);
            }
            match planned.call {
                Call::Batch(batch) => {
                    batches += 1;
                    grpc_batches += usize::from(over_grpc);
                    assert_eq!(batch.len(), 3);
                    let entities: std::collections::HashSet<_> =
                        batch.iter().map(|e| e.entity_id.clone()).collect();
                    assert_eq!(entities.len(), 1, "a batch is for one entity");
                }
                Call::Single(evaluation) => {
                    if evaluation.flag != MISSING_FLAG {
                        let flag = flags
                            .iter()
                            .find(|f| f.key == evaluation.flag)
                            .expect("a known flag");
                        let right_kind = planned.expect == Expect::Success;
                        assert_eq!(flag.kind == evaluation.kind, right_kind);
                        seen.insert(evaluation.flag);
                    }
                }
            }
        }
        assert_eq!((grpc, rest), (500, 500));
        assert_eq!((missing, wrong, grpc_errors), (10, 10, 10));
        assert_eq!((batches, grpc_batches), (80, 40));
        assert_eq!(seen.len(), flags.len());
    }

    #[test]
    fn errors_can_be_turned_off() {
        let flags = flags();
        let mut planner = Planner::new(7, None);
        assert!((0..500).all(|_| planner.next(&flags).expect("flags").expect == Expect::Success));
    }

    #[test]
    fn an_entity_always_has_the_same_context() {
        assert_eq!(context(123), context(123));
        assert_ne!(context(123), context(124));
        assert!(context(13)["email"].ends_with("@example.com"));
        assert_eq!(entity_id(50), "test-50");
        assert_eq!(entity_id(51), "user-51");
    }
}
