//! [`Guard`] and its tower layer: checks the credential of every guarded
//! request before any handler runs, for gRPC and HTTP alike.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use futures::future::Either;
use http::{HeaderMap, Request, header};
use tower::{Layer, Service};

use super::refusal::{Api, AuthMetrics, Reason, Refused};
use super::span::mark_token;
use super::tokens::{Identity, TokenSet};

/// OFREP's API-key header, accepted next to `Authorization: Bearer`.
pub const API_KEY_HEADER: &str = "x-api-key";

/// Flipt's scheme word, matched exactly (case and the one space included).
const BEARER: &str = "Bearer ";

/// How a request is treated, from its path and whether it is gRPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential needed (health, metrics, excluded APIs).
    Open,
    /// A valid credential needed; refusals take this API's shape.
    Guarded(Api),
    /// A valid credential from a token without a namespace scope needed:
    /// for APIs that cannot check a scope (OFREP, as in Flipt).
    GuardedUnscoped(Api),
}

/// Decides the [`Access`] of a request from its path and `is_grpc`.
pub type Classify = Arc<dyn Fn(&str, bool) -> Access + Send + Sync>;

struct Shared {
    tokens: RwLock<Arc<TokenSet>>,
    classify: Classify,
    metrics: Option<AuthMetrics>,
}

/// The credentials a listener accepts and which requests need one. Cheap
/// to clone; [`Guard::replace_tokens`] swaps the credentials of every
/// layer made from it (a reload without a restart).
#[derive(Clone)]
pub struct Guard {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("tokens", &self.tokens())
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard accepting `tokens` on the requests `classify` marks guarded,
    /// counting refusals in `metrics`.
    pub fn new(tokens: TokenSet, classify: Classify, metrics: Option<AuthMetrics>) -> Self {
        Self {
            shared: Arc::new(Shared {
                tokens: RwLock::new(Arc::new(tokens)),
                classify,
                metrics,
            }),
        }
    }

    /// Replaces the accepted credentials; requests already past the check
    /// are not affected.
    pub fn replace_tokens(&self, tokens: TokenSet) {
        let mut current = self
            .shared
            .tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *current = Arc::new(tokens);
    }

    /// The credentials accepted now.
    pub fn tokens(&self) -> Arc<TokenSet> {
        self.shared
            .tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The tower layer that enforces this guard.
    pub fn layer(&self) -> AuthLayer {
        AuthLayer {
            guard: self.clone(),
        }
    }

    /// Checks one request: `Ok(None)` when it needs no credential,
    /// `Ok(Some(_))` with the caller's identity, or the recorded refusal.
    fn check(&self, path: &str, headers: &HeaderMap) -> Result<Option<Authenticated>, Refused> {
        let grpc = is_grpc(headers);
        let (api, unscoped_only) = match (self.shared.classify)(path, grpc) {
            Access::Open => return Ok(None),
            Access::Guarded(api) => (api, false),
            Access::GuardedUnscoped(api) => (api, true),
        };
        let metrics = self.shared.metrics.as_ref();
        let refuse =
            |reason, token: Option<&str>| Refused::record(api, reason, token, path, metrics);
        let credential = match credential(headers) {
            Credential::Missing => return Err(refuse(Reason::Missing, None)),
            Credential::Malformed => return Err(refuse(Reason::Malformed, None)),
            Credential::Present(value) => value,
        };
        let Some(identity) = self.tokens().find(credential) else {
            return Err(refuse(Reason::Unknown, None));
        };
        if unscoped_only && identity.is_scoped() {
            return Err(refuse(Reason::Namespace, Some(identity.name())));
        }
        mark_token(identity.name());
        Ok(Some(Authenticated {
            identity,
            api,
            path: path.to_owned(),
            metrics: self.shared.metrics.clone(),
        }))
    }
}

/// The caller of an authenticated request, in the request's extensions
/// (`tonic::Request::extensions` for gRPC handlers). Handlers that know the
/// request's namespaces check them with [`Authenticated::check_namespaces`]
/// or [`check_namespaces`].
#[derive(Debug, Clone)]
pub struct Authenticated {
    identity: Arc<Identity>,
    api: Api,
    path: String,
    metrics: Option<AuthMetrics>,
}

impl Authenticated {
    /// The token the request used.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Refuses (counted and logged) when the token is scoped and the
    /// request reads a namespace outside its scope, or several namespaces
    /// at once (a batch may not mix namespaces, as in Flipt).
    pub fn check_namespaces<'a>(
        &self,
        namespaces: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), Refused> {
        if !self.identity.is_scoped() {
            return Ok(());
        }
        let mut first: Option<&str> = None;
        for namespace in namespaces {
            let mixed = first.is_some_and(|f| f != namespace);
            if mixed || !self.identity.allows(namespace) {
                return Err(Refused::record(
                    self.api,
                    Reason::Namespace,
                    Some(self.identity.name()),
                    &self.path,
                    self.metrics.as_ref(),
                ));
            }
            first.get_or_insert(namespace);
        }
        Ok(())
    }
}

/// [`Authenticated::check_namespaces`] for the identity in `extensions`;
/// `Ok` when there is none (authentication not required, or the API is
/// excluded).
pub fn check_namespaces<'a>(
    extensions: &http::Extensions,
    namespaces: impl IntoIterator<Item = &'a str>,
) -> Result<(), Refused> {
    match extensions.get::<Authenticated>() {
        Some(auth) => auth.check_namespaces(namespaces),
        None => Ok(()),
    }
}

enum Credential<'a> {
    Missing,
    Malformed,
    Present(&'a str),
}

/// `Authorization: Bearer <token>` (gRPC metadata is the same header), else
/// `X-API-Key: <token>`.
fn credential(headers: &HeaderMap) -> Credential<'_> {
    let mut malformed = false;
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        match value.to_str().ok().and_then(|v| v.strip_prefix(BEARER)) {
            Some(token) if !token.is_empty() => return Credential::Present(token),
            _ => malformed = true,
        }
    }
    if let Some(value) = headers.get(API_KEY_HEADER) {
        match value.to_str() {
            Ok(token) if !token.is_empty() => return Credential::Present(token),
            _ => malformed = true,
        }
    }
    if malformed {
        Credential::Malformed
    } else {
        Credential::Missing
    }
}

fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// Layer of [`Guard::layer`].
#[derive(Clone)]
pub struct AuthLayer {
    guard: Guard,
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            guard: self.guard.clone(),
        }
    }
}

/// Service of [`AuthLayer`].
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    guard: Guard,
}

impl<S> Service<Request<Body>> for AuthService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        match self.guard.check(request.uri().path(), request.headers()) {
            Ok(identity) => {
                if let Some(identity) = identity {
                    request.extensions_mut().insert(identity);
                }
                Either::Right(self.inner.call(request))
            }
            Err(refused) => Either::Left(ready(Ok(refused.response()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn bearer_prefix_is_exact_and_api_key_is_accepted() {
        let found = |pairs: &[(&str, &str)]| match credential(&headers(pairs)) {
            Credential::Present(t) => Some(t.to_owned()),
            _ => None,
        };
        assert_eq!(
            found(&[("authorization", "Bearer abc")]),
            Some("abc".into())
        );
        assert_eq!(found(&[("authorization", "bearer abc")]), None);
        assert_eq!(
            found(&[("authorization", "Bearer  abc")]),
            Some(" abc".into())
        );
        assert_eq!(found(&[("x-api-key", "abc")]), Some("abc".into()));
        assert!(matches!(credential(&headers(&[])), Credential::Missing));
        assert!(matches!(
            credential(&headers(&[("authorization", "JWT abc")])),
            Credential::Malformed
        ));
    }
}
