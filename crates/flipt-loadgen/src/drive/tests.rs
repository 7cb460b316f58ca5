//! The driver's pacing and tallies under paused time.

use super::*;

/// Answers `Ok`, except every `fail_every`-th request.
struct Counting {
    fail_every: u64,
}

impl Sender for Counting {
    async fn send(&mut self, seq: u64) -> Option<Outcome> {
        if seq % self.fail_every == self.fail_every - 1 {
            Some(Outcome::Failed(format!("request {seq}")))
        } else {
            Some(Outcome::Ok)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn workers_share_the_request_count_and_merge_their_tallies() {
    let senders = (0..3).map(|_| Counting { fail_every: 4 }).collect();
    let window = Window {
        max_requests: Some(20),
        ..Window::now()
    };
    let tally = drive(Pace::Workers, senders, window, std::future::pending(), None).await;
    assert_eq!((tally.sent, tally.ok, tally.failed), (20, 15, 5));
    assert_eq!(tally.latency.len(), 20);
    assert!(tally.first_failure.is_some());
}

#[tokio::test(start_paused = true)]
async fn the_rate_paces_requests_and_progress_is_reported() {
    let started = Instant::now();
    let window = Window {
        until: Some(started + Duration::from_secs(2)),
        ..Window::now()
    };
    let mut reports = 0;
    let mut report = |tally: &mut Tally| {
        reports += 1;
        assert!(tally.take_last_failure().is_some());
    };
    let progress = Progress {
        every: Duration::from_millis(500),
        report: &mut report,
    };
    let senders = vec![Counting { fail_every: 2 }];
    let tally = drive(
        Pace::Rate(10.0),
        senders,
        window,
        std::future::pending(),
        Some(progress),
    )
    .await;
    // Ticks at 0, 0.1, ..., 2.0 s: the limit is checked before waiting
    // for the next tick, so the one due at the deadline still goes out.
    assert_eq!(tally.sent, 21);
    assert_eq!((tally.ok, tally.failed), (11, 10));
    // At 0.5, 1.0, 1.5 and 2.0 s.
    assert_eq!(reports, 4);
}
