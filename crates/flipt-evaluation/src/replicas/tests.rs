//! Resolution, refresh and picking of cache replicas, with a resolver the
//! test controls.

use std::sync::Mutex;

use super::*;

/// Answers with whatever the test put in it last.
struct ListResolver {
    answer: Mutex<io::Result<Vec<SocketAddr>>>,
}

impl Default for ListResolver {
    fn default() -> Self {
        Self {
            answer: Mutex::new(Ok(Vec::new())),
        }
    }
}

impl ListResolver {
    fn set(&self, answer: io::Result<Vec<SocketAddr>>) {
        *self.answer.lock().expect("lock") = answer;
    }
}

impl Resolve for ListResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        assert_eq!((host, port), ("cache.flipt.svc", 9001));
        let answer = match &*self.answer.lock().expect("lock") {
            Ok(addrs) => Ok(addrs.clone()),
            Err(err) => Err(io::Error::new(err.kind(), err.to_string())),
        };
        Box::pin(async move { answer })
    }
}

fn addr(last: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, last], 9001))
}

fn setup() -> (Arc<ListResolver>, Discovery<Channel>, Replicas<Channel>) {
    let resolver = Arc::new(ListResolver::default());
    let cache = CacheAddress::new("http://cache.flipt.svc:9001");
    let wrap: Wrap<Channel> = Arc::new(|channel| channel);
    let discovery = Discovery::new(&cache, resolver.clone(), wrap).expect("discovery");
    (resolver, discovery, Replicas::default())
}

fn addrs(replicas: &Replicas<Channel>) -> Vec<SocketAddr> {
    replicas.all().iter().map(|r| r.addr).collect()
}

#[tokio::test]
async fn refresh_follows_the_resolved_set_and_keeps_it_through_failures() {
    let (resolver, discovery, replicas) = setup();
    resolver.set(Ok(vec![addr(2), addr(3), addr(2)]));
    discovery.refresh(&replicas).await;
    assert_eq!(addrs(&replicas), [addr(2), addr(3)]);
    let kept = Arc::clone(&replicas.all()[0]);

    resolver.set(Ok(vec![addr(2), addr(3), addr(4)]));
    discovery.refresh(&replicas).await;
    assert_eq!(addrs(&replicas), [addr(2), addr(3), addr(4)]);
    // A replica that stays keeps its channel (and its connection).
    assert!(Arc::ptr_eq(&kept, &replicas.all()[0]));

    resolver.set(Ok(vec![addr(3), addr(4)]));
    discovery.refresh(&replicas).await;
    assert_eq!(addrs(&replicas), [addr(3), addr(4)]);

    resolver.set(Err(io::Error::other("no such host")));
    discovery.refresh(&replicas).await;
    resolver.set(Ok(Vec::new()));
    discovery.refresh(&replicas).await;
    assert_eq!(addrs(&replicas), [addr(3), addr(4)]);
}

#[tokio::test]
async fn picks_go_round_robin_skip_tried_and_pass_over_failed_replicas() {
    let (resolver, discovery, replicas) = setup();
    resolver.set(Ok(vec![addr(2), addr(3), addr(4)]));
    discovery.refresh(&replicas).await;

    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(replicas.pick(&[]).expect("a replica").addr);
    }
    for a in [addr(2), addr(3), addr(4)] {
        assert_eq!(seen.iter().filter(|s| **s == a).count(), 2, "{seen:?}");
    }

    replicas.all()[1].mark_failed();
    for _ in 0..6 {
        assert_ne!(replicas.pick(&[]).expect("a replica").addr, addr(3));
    }
    // Tried ones are skipped; a failed one is still used as the last resort.
    let last = replicas.pick(&[addr(2), addr(4)]).expect("the failed one");
    assert_eq!(last.addr, addr(3));
    assert!(replicas.pick(&[addr(2), addr(3), addr(4)]).is_none());
}
