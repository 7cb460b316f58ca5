use std::{collections::HashMap, sync::Arc, time::Duration};

use flipt_core::{Flag, FlagType};
use flipt_server::NearCacheConfig;

use super::{CachedFlag, NearCache};

fn cache(max_entries: u64, max_staleness: Duration) -> NearCache {
    NearCache::new(
        &NearCacheConfig {
            enabled: true,
            max_entries,
        },
        max_staleness,
        None,
    )
}

fn entry(namespace: &str, version: &str, key: &str) -> Arc<CachedFlag> {
    Arc::new(CachedFlag {
        namespace: namespace.to_owned(),
        version: version.to_owned(),
        etag: format!("etag-{version}"),
        flag: Flag {
            key: key.to_owned(),
            name: key.to_owned(),
            description: String::new(),
            enabled: true,
            flag_type: FlagType::Variant,
            variants: Vec::new(),
            rules: Vec::new(),
            rollouts: Vec::new(),
            default_variant: None,
        },
    })
}

fn versions(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(ns, v)| ((*ns).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn nothing_is_current_before_the_first_push() {
    let near = cache(10, Duration::ZERO);
    near.insert("a", entry("default", "v1", "a"));
    assert!(near.current("default", "a").is_none());
    near.apply_versions(versions(&[("default", "v1")]));
    assert_eq!(near.current("default", "a").expect("hit").flag.key, "a");
}

#[test]
fn a_push_drops_exactly_the_changed_namespace() {
    let near = cache(10, Duration::ZERO);
    near.apply_versions(versions(&[("default", "v1"), ("other", "w1")]));
    near.insert("a", entry("default", "v1", "a"));
    near.insert("b", entry("other", "w1", "b"));
    let dropped = near.apply_versions(versions(&[("default", "v2"), ("other", "w1")]));
    assert_eq!(dropped, vec!["default".to_owned()]);
    assert!(near.current("default", "a").is_none());
    assert!(near.current("other", "b").is_some());
    // A lookup that raced the edit does not bring the old version back.
    near.insert("a", entry("default", "v1", "a"));
    assert!(near.current("default", "a").is_none());
    near.insert("a", entry("default", "v2", "a"));
    assert!(near.current("default", "a").is_some());
}

#[test]
fn stale_state_is_served_after_the_stream_is_lost_within_the_bound() {
    let near = cache(10, Duration::from_secs(3600));
    near.apply_versions(versions(&[("default", "v1")]));
    near.insert("a", entry("default", "v1", "a"));
    assert_eq!(near.state_age(), Duration::ZERO);
    near.lost();
    assert!(!near.watching());
    assert!(near.current("default", "a").is_none());
    assert!(near.stale("default", "a").is_some());
    assert!(near.stale("default", "never-seen").is_none());

    let strict = cache(10, Duration::from_nanos(1));
    strict.apply_versions(versions(&[("default", "v1")]));
    strict.insert("a", entry("default", "v1", "a"));
    strict.lost();
    std::thread::sleep(Duration::from_millis(2));
    assert!(strict.state_age() >= Duration::from_millis(2));
    assert!(strict.stale("default", "a").is_none());
}

#[test]
fn entries_stay_within_max_entries() {
    let near = cache(50, Duration::ZERO);
    near.apply_versions(versions(&[("default", "v1")]));
    for i in 0..500 {
        let key = format!("flag-{i}");
        near.insert(&key, entry("default", "v1", &key));
    }
    assert!(near.entry_count() <= 50, "{}", near.entry_count());
}
