//! Waiting for the runtime: polls with a deadline, never a timing assertion.

use std::time::{Duration, Instant};

/// The pause between two polls.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Calls `check` every [`POLL_INTERVAL`] until it returns `Some`, for at most `timeout`
/// (real time); `None` when time ran out, for a caller that fails with its own message.
pub async fn poll<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Waits until `cond` holds, for at most `timeout`; fails the test (panics with `what`)
/// when it never does.
#[track_caller]
pub fn wait_until<'a>(
    what: &'a str,
    timeout: Duration,
    mut cond: impl FnMut() -> bool + 'a,
) -> impl Future<Output = ()> + 'a {
    // Taken here: an `async fn` cannot track its caller.
    let caller = std::panic::Location::caller();
    async move {
        if poll(timeout, || cond().then_some(())).await.is_none() {
            panic!("timed out after {timeout:?} waiting until {what} (at {caller})");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn poll_returns_the_first_value() {
        let mut calls = 0;
        let got = poll(Duration::from_secs(5), || {
            calls += 1;
            (calls == 3).then_some(calls)
        })
        .await;
        assert_eq!(got, Some(3));
    }

    #[tokio::test]
    async fn poll_gives_up_after_the_timeout() {
        let started = Instant::now();
        assert_eq!(poll(Duration::from_millis(50), || None::<()>).await, None);
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[tokio::test]
    #[should_panic(expected = "timed out after 10ms waiting until never")]
    async fn wait_until_fails_with_what_it_waited_for() {
        wait_until("never", Duration::from_millis(10), || false).await;
    }
}
