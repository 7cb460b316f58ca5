//! Authentication of incoming requests by static tokens, as one tower layer
//! in front of a service's gRPC and HTTP routers.
//!
//! * [`TokenSet`]: accepted credentials, stored as SHA-256 digests and
//!   compared in constant time; each maps to an [`Identity`] (a name and an
//!   optional namespace scope).
//! * [`Guard`]: the token set plus a [`Classify`] function saying, by path,
//!   which requests need a credential and which API shape a refusal takes;
//!   [`Guard::layer`] enforces it, [`Guard::replace_tokens`] reloads it.
//! * Refusals ([`Refused`]) answer exactly as Flipt does, are counted in
//!   `flipt_authentication_refusals_total{api,reason}` and logged with the
//!   reason and the token's name, never its value.
//!
//! The evaluation service guards its public API with it; the cache and the
//! telemetry reporter guard their internal gRPC with the deployment's
//! internal token ([`internal_guard`]).

mod internal;
mod layer;
mod refusal;
mod span;
mod tokens;

pub use internal::{
    INTERNAL_TOKEN_NAME, InternalGuardError, InternalTokenLayer, InternalTokenService,
    internal_guard, internal_service_guard, internal_token_layer,
};
pub use layer::{
    API_KEY_HEADER, Access, AuthLayer, AuthService, Authenticated, Classify, Guard,
    check_namespaces,
};
pub use refusal::{Api, AuthMetrics, REFUSALS_TOTAL, Reason, Refused, UNAUTHENTICATED};
pub use span::{REFUSAL_ATTRIBUTE, TOKEN_NAME_ATTRIBUTE};
pub use tokens::{DuplicateCredential, Identity, TokenSet};
