//! Flag files that cannot hurt the cache service: an alias bomb and an
//! oversized file are rejected with the limit named, in bounded memory,
//! while the last good flags keep being served; a Kubernetes ConfigMap
//! volume (`..data` symlink swap) loads each flag once and picks up swaps.

use std::path::Path;

use flipt_proto::cache::v1::{
    FlagRef, GetEvaluationStateRequest, cache_service_client::CacheServiceClient,
};
use flipt_testkit::{ServiceProcess, eventually, fixtures};
use tonic::Request;

use super::{INTERNAL_TOKEN, start_cache};

/// Resident memory may grow this much over a bad reload (the issue's bound).
const RSS_SLACK_KIB: u64 = 20 * 1024;

/// `levels` levels of nine aliases each: the issue's file had six (about
/// 600 000 nodes once expanded); ten make about 3.5 billion.
fn alias_bomb(levels: usize) -> String {
    let mut text = String::from(
        "lol0: &lol0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for level in 1..levels {
        let refs = vec![format!("*lol{}", level - 1); 9].join(",");
        text.push_str(&format!("lol{level}: &lol{level} [{refs}]\n"));
    }
    text
}

/// The count of one series of the cache's `/metrics`.
async fn sample(process: &ServiceProcess, series: &str) -> f64 {
    let text = flipt_testkit::scrape(&process.http_url()).await;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The flag's state through the internal API, or the gRPC error.
async fn flag_state(
    process: &ServiceProcess,
    namespace: &str,
    flag: &str,
) -> Result<(), tonic::Status> {
    let mut client = CacheServiceClient::connect(process.grpc_url())
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut request = Request::new(GetEvaluationStateRequest {
        flag: Some(FlagRef {
            namespace_key: namespace.into(),
            flag_key: flag.into(),
        }),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {INTERNAL_TOKEN}").parse().expect("ascii"),
    );
    client.get_evaluation_state(request).await.map(|_| ())
}

const FAILURES: &str = r#"flipt_storage_reloads_total{result="failure"} "#;

/// Writes `text` as `name` into `dir` and waits for the failed reload.
async fn bad_reload(cache: &ServiceProcess, dir: &Path, name: &str, text: &[u8]) {
    let before = sample(cache, FAILURES).await;
    std::fs::write(dir.join(name), text).expect("write bad file");
    eventually(&format!("the reload of {name} to fail"), || async {
        sample(cache, FAILURES).await > before
    })
    .await;
    std::fs::remove_file(dir.join(name)).expect("remove bad file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bomb_and_an_oversized_file_are_rejected_in_bounded_memory() {
    let dir = fixtures::dir().unwrap();
    let cache = start_cache(
        dir.path(),
        vec![("FLIPT_STORAGE_LOCAL_MAX_FILE_BYTES".into(), "65536".into())],
    )
    .await;
    flag_state(&cache, "default", "color")
        .await
        .expect("served");
    let rss_before = cache.rss_kib().expect("rss");

    let mut rss_bombs = Vec::new();
    for levels in [6, 10] {
        let bomb = alias_bomb(levels);
        bad_reload(&cache, dir.path(), "bomb.features.yml", bomb.as_bytes()).await;
        rss_bombs.push(cache.rss_kib().expect("rss"));
        flag_state(&cache, "default", "color")
            .await
            .expect("still served after the bomb");
    }

    let big = "# padding\n".repeat(10_000);
    bad_reload(&cache, dir.path(), "big.features.yml", big.as_bytes()).await;
    let rss_big = cache.rss_kib().expect("rss");
    flag_state(&cache, "default", "color")
        .await
        .expect("still served after the big file");

    for (what, rss) in [
        ("six-level bomb", rss_bombs[0]),
        ("ten-level bomb", rss_bombs[1]),
        ("big file", rss_big),
    ] {
        assert!(
            rss <= rss_before + RSS_SLACK_KIB,
            "{what}: RSS {rss} KiB, was {rss_before} KiB"
        );
    }
    let log = cache.log().join("\n");
    let named = |file: &str, limit: &str| {
        log.lines()
            .any(|l| l.contains("invalid flag file") && l.contains(file) && l.contains(limit))
    };
    assert!(
        named("bomb.features.yml", "storage.local.max_alias_nodes"),
        "{log}"
    );
    assert!(
        named("big.features.yml", "storage.local.max_file_bytes"),
        "{}",
        cache.tail()
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configmap_volume_loads_each_flag_once_and_follows_the_data_swap() {
    use std::os::unix::fs::symlink;

    let volume = tempfile::tempdir().expect("volume");
    let root = volume.path();
    // What the kubelet writes: a timestamped directory, `..data` pointing
    // at it, and each key as a link through `..data`.
    let first = root.join("..2026_01_01_00_00_00.000000001");
    std::fs::create_dir(&first).expect("mkdir");
    std::fs::write(first.join("default.features.yml"), fixtures::DEFAULT_FLAGS).expect("write");
    symlink(first.file_name().expect("name"), root.join("..data")).expect("..data");
    symlink(
        "..data/default.features.yml",
        root.join("default.features.yml"),
    )
    .expect("key link");

    let cache = start_cache(root, Vec::new()).await;
    let loaded = "flipt_storage_flags_loaded ";
    assert_eq!(
        sample(&cache, loaded).await,
        4.0,
        "color, frozen, plain and beta, once each"
    );
    flag_state(&cache, "default", "color")
        .await
        .expect("served");
    assert!(
        flag_state(&cache, "default", "everything-on")
            .await
            .is_err()
    );

    // An update: a new timestamped directory, then `..data` swapped atomically.
    let second = root.join("..2026_01_01_00_01_00.000000002");
    std::fs::create_dir(&second).expect("mkdir");
    let updated = format!(
        "{}  - key: everything-on\n    name: Everything on\n    type: BOOLEAN_FLAG_TYPE\n    enabled: true\n",
        fixtures::DEFAULT_FLAGS
    );
    std::fs::write(second.join("default.features.yml"), updated).expect("write");
    symlink(second.file_name().expect("name"), root.join("..data_tmp")).expect("tmp link");
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).expect("swap");
    std::fs::remove_dir_all(&first).expect("remove old");

    eventually("the swapped data to be served", || async {
        flag_state(&cache, "default", "everything-on").await.is_ok()
    })
    .await;
    assert_eq!(sample(&cache, loaded).await, 5.0);
}
