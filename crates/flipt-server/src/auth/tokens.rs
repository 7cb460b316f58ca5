//! [`TokenSet`]: the credentials a listener accepts, kept only as SHA-256
//! digests, and the [`Identity`] each one stands for.

use std::collections::BTreeSet;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// Who a credential belongs to: the token's name (safe to log and to put on
/// spans) and, optionally, the namespaces it may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    name: String,
    namespaces: BTreeSet<String>,
}

impl Identity {
    /// A token called `name`, scoped to `namespaces` (none: every namespace).
    pub fn new<I, N>(name: impl Into<String>, namespaces: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: Into<String>,
    {
        Self {
            name: name.into(),
            namespaces: namespaces.into_iter().map(Into::into).collect(),
        }
    }

    /// The token's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True when the token is limited to some namespaces.
    pub fn is_scoped(&self) -> bool {
        !self.namespaces.is_empty()
    }

    /// The namespaces the token is limited to (empty: all).
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.namespaces.iter().map(String::as_str)
    }

    /// True when the token may read `namespace`.
    pub fn allows(&self, namespace: &str) -> bool {
        !self.is_scoped() || self.namespaces.contains(namespace)
    }
}

/// Two token names share one credential, so a request could not say which
/// one it used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token {second:?} has the same credential as token {first:?}")]
pub struct DuplicateCredential {
    /// The name registered first.
    pub first: String,
    /// The name that repeats its credential.
    pub second: String,
}

struct Entry {
    digest: [u8; 32],
    identity: Arc<Identity>,
}

/// The accepted credentials. Only digests are stored: the plain value is
/// hashed on insert and can be dropped by the caller, so a heap dump or a
/// `Debug` print shows no token.
#[derive(Default)]
pub struct TokenSet {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| e.identity.name()))
            .finish()
    }
}

impl TokenSet {
    /// No credentials: every guarded request is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `credential` as `identity`.
    ///
    /// # Errors
    /// Another token already has this credential.
    pub fn insert(
        &mut self,
        credential: &str,
        identity: Identity,
    ) -> Result<(), DuplicateCredential> {
        let digest = digest(credential);
        if let Some(existing) = self.entries.iter().find(|e| e.digest == digest) {
            return Err(DuplicateCredential {
                first: existing.identity.name().to_owned(),
                second: identity.name().to_owned(),
            });
        }
        self.entries.push(Entry {
            digest,
            identity: Arc::new(identity),
        });
        Ok(())
    }

    /// Number of credentials.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no credential is accepted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The identity of `presented`, if it is an accepted credential.
    ///
    /// Every stored digest is compared, in constant time, whatever matches:
    /// the time taken says neither whether nor which token matched.
    pub fn find(&self, presented: &str) -> Option<Arc<Identity>> {
        let digest = digest(presented);
        let mut index = 0u64;
        let mut found = Choice::from(0);
        for (i, entry) in self.entries.iter().enumerate() {
            let matches = entry.digest.ct_eq(&digest);
            index.conditional_assign(&(i as u64), matches);
            found |= matches;
        }
        if !bool::from(found) {
            return None;
        }
        let index = usize::try_from(index).ok()?;
        self.entries.get(index).map(|e| e.identity.clone())
    }
}

/// SHA-256 of a credential, as Flipt stores client tokens.
fn digest(credential: &str) -> [u8; 32] {
    Sha256::digest(credential.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> TokenSet {
        let mut set = TokenSet::new();
        set.insert("s3cret-a", Identity::new("ci", Vec::<String>::new()))
            .unwrap();
        set.insert("s3cret-b", Identity::new("checkout-app", ["checkout"]))
            .unwrap();
        set
    }

    #[test]
    fn finds_the_identity_of_a_known_credential() {
        let set = set();
        assert_eq!(set.find("s3cret-a").unwrap().name(), "ci");
        let scoped = set.find("s3cret-b").unwrap();
        assert_eq!(scoped.name(), "checkout-app");
        assert!(scoped.allows("checkout"));
        assert!(!scoped.allows("default"));
        assert!(set.find("s3cret-c").is_none());
        assert!(set.find("").is_none());
        assert!(set.find("s3cret-a ").is_none());
    }

    #[test]
    fn a_repeated_credential_is_an_error() {
        let mut set = set();
        let err = set
            .insert("s3cret-a", Identity::new("again", Vec::<String>::new()))
            .unwrap_err();
        assert_eq!(err.first, "ci");
        assert_eq!(err.second, "again");
    }

    #[test]
    fn debug_shows_names_only() {
        let printed = format!("{:?}", set());
        assert_eq!(printed, "[\"ci\", \"checkout-app\"]");
    }
}
