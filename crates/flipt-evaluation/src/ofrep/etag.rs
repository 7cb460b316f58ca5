//! The ETag of a bulk answer, built so that a poll whose answer cannot have
//! changed costs a hash and no evaluation.
//!
//! A bulk answer is a function of the namespace's flag state and of the
//! request (namespace, entity, context, flag filter). The ETag names both:
//! `"<namespace etag>-<request digest>"`, where the namespace etag is the
//! cache service's (it changes with every edit of the namespace's flag
//! files) and the request digest is a SHA-1 over the canonical request
//! (context sorted by key, every field length-prefixed). On `If-None-Match`
//! the digest of the new request is compared first; if it matches, the
//! namespace etag is handed to the cache service, which answers
//! not-modified without sending the snapshot, and the server answers 304
//! without evaluating anything.

use sha1::{Digest as _, Sha1};

/// Digest of the canonical request, as lowercase hex.
pub(crate) fn request_digest(
    namespace: &str,
    entity_id: &str,
    context: &std::collections::HashMap<String, String>,
    filter: Option<&[String]>,
) -> String {
    let mut hasher = Sha1::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    field(namespace.as_bytes());
    field(entity_id.as_bytes());
    let mut entries: Vec<(&String, &String)> = context.iter().collect();
    entries.sort();
    field(&(entries.len() as u64).to_be_bytes());
    for (key, value) in entries {
        field(key.as_bytes());
        field(value.as_bytes());
    }
    match filter {
        None => field(b"all"),
        Some(keys) => {
            field(b"only");
            field(&(keys.len() as u64).to_be_bytes());
            for key in keys {
                field(key.as_bytes());
            }
        }
    }
    hex::encode(hasher.finalize())
}

/// The ETag header value of a bulk answer.
pub(crate) fn etag(namespace_etag: &str, request_digest: &str) -> String {
    format!("\"{namespace_etag}-{request_digest}\"")
}

/// The namespace etag of the first entity tag in `if_none_match` (a list,
/// weak or strong, per RFC 9110) that was issued for a request with
/// `request_digest`; `None` when none was.
pub(crate) fn namespace_etag_for<'a>(
    if_none_match: &'a str,
    request_digest: &str,
) -> Option<&'a str> {
    if_none_match.split(',').find_map(|tag| {
        let tag = tag.trim();
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        let opaque = tag.strip_prefix('"')?.strip_suffix('"')?;
        let (namespace_etag, digest) = opaque.rsplit_once('-')?;
        (digest == request_digest && !namespace_etag.is_empty()).then_some(namespace_etag)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn context(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_digest_depends_on_every_part_of_the_request_but_not_on_context_order() {
        let base = request_digest("default", "u1", &context(&[("a", "1"), ("b", "2")]), None);
        let mut reordered = HashMap::new();
        reordered.insert("b".to_owned(), "2".to_owned());
        reordered.insert("a".to_owned(), "1".to_owned());
        assert_eq!(base, request_digest("default", "u1", &reordered, None));
        let others = [
            request_digest("other", "u1", &context(&[("a", "1"), ("b", "2")]), None),
            request_digest("default", "u2", &context(&[("a", "1"), ("b", "2")]), None),
            request_digest("default", "u1", &context(&[("a", "1"), ("b", "3")]), None),
            request_digest("default", "u1", &context(&[("a", "1")]), None),
            request_digest(
                "default",
                "u1",
                &context(&[("a", "1"), ("b", "2")]),
                Some(&[]),
            ),
            // Field boundaries count: "ab"+"c" is not "a"+"bc".
            request_digest("default", "u1", &context(&[("ab", "c"), ("b", "2")]), None),
        ];
        for other in others {
            assert_ne!(base, other);
        }
        assert_ne!(
            request_digest("d", "u", &context(&[("ab", "c")]), None),
            request_digest("d", "u", &context(&[("a", "bc")]), None)
        );
    }

    #[test]
    fn if_none_match_yields_the_namespace_etag_only_for_the_same_request() {
        let tag = etag("abc123", "d1");
        assert_eq!(tag, "\"abc123-d1\"");
        assert_eq!(namespace_etag_for(&tag, "d1"), Some("abc123"));
        assert_eq!(namespace_etag_for(&tag, "d2"), None);
        assert_eq!(namespace_etag_for("W/\"abc123-d1\"", "d1"), Some("abc123"));
        assert_eq!(
            namespace_etag_for("\"x-d9\", \"abc123-d1\"", "d1"),
            Some("abc123")
        );
        for junk in ["", "*", "abc123-d1", "\"-d1\"", "\"abc123\"", "\""] {
            assert_eq!(namespace_etag_for(junk, "d1"), None, "{junk:?}");
        }
    }
}
