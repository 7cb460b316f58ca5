//! What to send next: a deterministic mix of evaluation requests over the
//! flags the evaluation service knows.
//!
//! The mix alternates gRPC and REST, sends mostly single evaluations of the
//! right kind for each flag (boolean or variant), some batches, and a small
//! share of requests for a flag that does not exist so that error counters
//! and `NotFound` codes show up on the dashboards. Entities come from a
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

/// One planned request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Transport.
    pub protocol: Protocol,
    /// What to call.
    pub call: Call,
}

impl Planned {
    /// True when the request names the flag that does not exist.
    pub fn expects_not_found(&self) -> bool {
        match &self.call {
            Call::Single(evaluation) => evaluation.flag == MISSING_FLAG,
            Call::Batch(evaluations) => evaluations.iter().any(|e| e.flag == MISSING_FLAG),
        }
    }
}

/// Produces the request sequence. Deterministic for a seed, so tests can
/// reason about the mix.
#[derive(Debug, Clone)]
pub struct Planner {
    state: u64,
    sent: u64,
    missing_every: Option<u64>,
    /// Requests so far per kind of call (single, batch, missing): each kind
    /// alternates between gRPC and REST on its own, so every kind reaches
    /// both transports whatever the periods.
    per_kind: [u64; 3],
}

impl Planner {
    /// A planner seeded with `seed`; one request in `missing_every` names a
    /// flag that does not exist (`None`: never).
    pub fn new(seed: u64, missing_every: Option<u64>) -> Self {
        // xorshift has one fixed point, zero.
        Self {
            state: seed.max(1),
            sent: 0,
            missing_every: missing_every.filter(|n| *n > 0),
            per_kind: [0; 3],
        }
    }

    /// The next request over `flags`; `None` when no flag is known.
    pub fn next(&mut self, flags: &[Flag]) -> Option<Planned> {
        let first = flags.first()?;
        self.sent += 1;
        let missing = self
            .missing_every
            .is_some_and(|n| self.sent.is_multiple_of(n));
        let batch = !missing && self.sent.is_multiple_of(BATCH_EVERY);
        let kind = usize::from(batch) + 2 * usize::from(missing);
        self.per_kind[kind] += 1;
        let protocol = if self.per_kind[kind].is_multiple_of(2) {
            Protocol::Rest
        } else {
            Protocol::Grpc
        };
        let call = if missing {
            Call::Single(Evaluation {
                namespace: first.namespace.clone(),
                flag: MISSING_FLAG.to_owned(),
                kind: FlagKind::Variant,
                entity_id: entity_id(self.random() % ENTITIES),
                context: HashMap::new(),
            })
        } else if batch {
            let entity = self.random() % ENTITIES;
            let mut batch = Vec::with_capacity(BATCH_SIZE);
            for _ in 0..BATCH_SIZE.min(flags.len()) {
                let flag = &flags[self.pick(flags.len())];
                batch.push(evaluation(flag, entity));
            }
            Call::Batch(batch)
        } else {
            let flag = &flags[self.pick(flags.len())];
            Call::Single(evaluation(flag, self.random() % ENTITIES))
        };
        Some(Planned { protocol, call })
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
    fn mix_covers_protocols_batches_missing_and_every_flag() {
        let flags = flags();
        let mut planner = Planner::new(42, Some(50));
        let mut grpc = 0;
        let mut rest = 0;
        let mut batches = 0;
        let mut missing = 0;
        let mut grpc_batches = 0;
        let mut grpc_missing = 0;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let planned = planner.next(&flags).expect("flags are known");
            match planned.protocol {
                Protocol::Grpc => grpc += 1,
                Protocol::Rest => rest += 1,
            }
            let over_grpc = planned.protocol == Protocol::Grpc;
            if planned.expects_not_found() {
                missing += 1;
                grpc_missing += usize::from(over_grpc);
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
                        assert_eq!(flag.kind, evaluation.kind, "kind follows the flag");
                        seen.insert(evaluation.flag);
                    }
                }
            }
        }
        assert_eq!((grpc, rest), (500, 500));
        assert_eq!((missing, grpc_missing), (20, 10));
        assert_eq!((batches, grpc_batches), (80, 40));
        assert_eq!(seen.len(), flags.len());
    }

    #[test]
    fn missing_can_be_turned_off() {
        let flags = flags();
        let mut planner = Planner::new(7, None);
        assert!((0..500).all(|_| !planner.next(&flags).expect("flags").expects_not_found()));
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
