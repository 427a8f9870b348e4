//! Clean-ups that run even when the test fails.

use std::panic::AssertUnwindSafe;

use futures::FutureExt as _;

/// Runs `scenario`, then `cleanup` whether the scenario returned or panicked (an assertion
/// failed), then passes the panic on: an async test's clean-up, which a `Drop` cannot do.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// let cleaned = AtomicBool::new(false);
/// let failed = std::panic::AssertUnwindSafe(test_env::with_cleanup(
///     async { assert_eq!(1 + 1, 3, "the scenario fails") },
///     async { cleaned.store(true, Ordering::SeqCst) },
/// ));
/// assert!(futures::FutureExt::catch_unwind(failed).await.is_err());
/// assert!(cleaned.load(Ordering::SeqCst), "and the clean-up ran");
/// # });
/// ```
pub async fn with_cleanup<T>(
    scenario: impl Future<Output = T>,
    cleanup: impl Future<Output = ()>,
) -> T {
    let result = AssertUnwindSafe(scenario).catch_unwind().await;
    cleanup.await;
    match result {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
