//! Names no other test and no other run uses at the same time.

use std::sync::atomic::{AtomicU32, Ordering};

/// `<prefix>-<pid>-<n>`, with `n` counting the calls of this process: unique among the
/// tests running at once (pod names, uids, cgroup and node names), and short enough for a
/// hostname with a short prefix.
pub fn unique_name(prefix: &str) -> String {
    static COUNT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_gives_a_new_name() {
        let (a, b) = (unique_name("pod"), unique_name("pod"));
        assert_ne!(a, b);
        assert!(
            a.starts_with(&format!("pod-{}-", std::process::id())),
            "{a}"
        );
    }
}
