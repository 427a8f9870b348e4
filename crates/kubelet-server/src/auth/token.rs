//! Bearer token authentication: tokens reviewed by the API server (TokenReview), with the
//! apiserver's token cache in front (`token/cache`, `cacheTTL`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ring::hmac;
use ring::rand::SystemRandom;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::user::UserInfo;
use crate::{Error, Result};

/// A bearer token. Its `Debug` does not show it, so a token never reaches a log by
/// accident; [`secret`](Self::secret) hands it to whoever reviews it.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// Wraps `token`.
    pub fn new(token: impl Into<String>) -> Self {
        BearerToken(token.into())
    }

    /// The token itself, for a [`TokenReviewer`].
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// Reviews a bearer token: who it authenticates, if anyone. The kubelet asks the API
/// server (a TokenReview, `KubeReviewer` with the `kube` feature);
/// anything else that knows tokens can stand in.
#[async_trait]
pub trait TokenReviewer: Send + Sync {
    /// `Ok(Some(user))` when `token` authenticates `user`, `Ok(None)` when it
    /// authenticates nobody (remembered for the cache TTL), `Err` when the review could
    /// not be made or reported an error (not remembered; the request is refused).
    async fn review_token(&self, token: &BearerToken) -> Result<Option<UserInfo>>;
}

/// How long one review may take before the waiting requests give up on it (the
/// apiserver's token cache bounds its shared lookup to 30 seconds).
const REVIEW_TIMEOUT: Duration = Duration::from_secs(30);

/// A [`TokenReviewer`] with the apiserver's token cache in front: an answer, "this user"
/// or "nobody", is reused for `cache_ttl` (an error is not), concurrent requests with the
/// same token share one review, and the cache is keyed by an HMAC-SHA256 of the token
/// under a key drawn at start, so the token itself is never kept.
pub struct TokenAuthenticator {
    reviewer: Arc<dyn TokenReviewer>,
    cache_ttl: Duration,
    key: hmac::Key,
    slots: Mutex<Slots>,
}

/// The cache: one slot per token hash, a slot being filled by one review at a time.
#[derive(Default)]
struct Slots {
    map: HashMap<[u8; 32], Arc<Slot>>,
    /// The size at which expired slots are swept next.
    sweep_at: usize,
}

#[derive(Default)]
struct Slot {
    answer: OnceCell<(Option<UserInfo>, Instant)>,
}

impl Slot {
    fn expired(&self, now: Instant) -> bool {
        self.answer
            .get()
            .is_some_and(|(_, expires)| now >= *expires)
    }
}

/// Sweeps never run below this many slots.
const MIN_SWEEP: usize = 64;

impl fmt::Debug for TokenAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAuthenticator")
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl TokenAuthenticator {
    /// Reviews tokens with `reviewer` and caches answers for `cache_ttl`
    /// (`authentication.webhook.cacheTTL`); zero caches nothing.
    pub fn new(reviewer: Arc<dyn TokenReviewer>, cache_ttl: Duration) -> Self {
        // As the apiserver, which panics when crypto/rand fails: without randomness the
        // cache key would be guessable, and nothing sensible can go on.
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .expect("the system random number generator failed");
        TokenAuthenticator {
            reviewer,
            cache_ttl,
            key,
            slots: Mutex::new(Slots {
                map: HashMap::new(),
                sweep_at: MIN_SWEEP,
            }),
        }
    }

    /// The user `token` authenticates, from the cache or a review: `Ok(None)` when it
    /// authenticates nobody.
    pub async fn authenticate(&self, token: &BearerToken) -> Result<Option<UserInfo>> {
        let mut key = [0u8; 32];
        key.copy_from_slice(hmac::sign(&self.key, token.secret().as_bytes()).as_ref());
        let slot = self.slot(key);
        let (user, _) = slot
            .answer
            .get_or_try_init(|| async {
                let user = tokio::time::timeout(REVIEW_TIMEOUT, self.reviewer.review_token(token))
                    .await
                    .map_err(|_| Error::Review {
                        review: "TokenReview",
                        source: format!("no answer within {}s", REVIEW_TIMEOUT.as_secs()).into(),
                    })??;
                Ok::<_, Error>((user, Instant::now() + self.cache_ttl))
            })
            .await?;
        if self.cache_ttl.is_zero() {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            if slots.map.get(&key).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                slots.map.remove(&key);
            }
        }
        Ok(user.clone())
    }

    /// The slot for `key`: the cached one, or a fresh one replacing an expired answer.
    fn slot(&self, key: [u8; 32]) -> Arc<Slot> {
        let now = Instant::now();
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.map.get(&key)
            && !slot.expired(now)
        {
            return Arc::clone(slot);
        }
        if slots.map.len() >= slots.sweep_at {
            // Drop expired answers, and empty slots nobody is filling (their review
            // failed and its requests are gone).
            slots.map.retain(|_, slot| {
                !slot.expired(now) && (slot.answer.initialized() || Arc::strong_count(slot) > 1)
            });
            slots.sweep_at = (slots.map.len() * 2).max(MIN_SWEEP);
        }
        let slot = Arc::new(Slot::default());
        slots.map.insert(key, Arc::clone(&slot));
        slot
    }

    /// How many tokens the cache holds an answer or a review for (for tests and metrics).
    pub fn cached(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .len()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Knows a fixed set of tokens; counts reviews; fails on `"error"`.
    #[derive(Default)]
    pub(crate) struct FakeTokens {
        pub(crate) users: HashMap<String, UserInfo>,
        pub(crate) reviews: AtomicUsize,
    }

    impl FakeTokens {
        pub(crate) fn with(tokens: &[(&str, UserInfo)]) -> Arc<Self> {
            Arc::new(FakeTokens {
                users: tokens
                    .iter()
                    .map(|(token, user)| (token.to_string(), user.clone()))
                    .collect(),
                reviews: AtomicUsize::new(0),
            })
        }

        pub(crate) fn reviews(&self) -> usize {
            self.reviews.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl TokenReviewer for FakeTokens {
        async fn review_token(&self, token: &BearerToken) -> Result<Option<UserInfo>> {
            self.reviews.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            if token.secret() == "error" {
                return Err(Error::Review {
                    review: "TokenReview",
                    source: "the API server is away".into(),
                });
            }
            Ok(self.users.get(token.secret()).cloned())
        }
    }

    #[test]
    fn bearer_token_debug_hides_the_token() {
        let token = BearerToken::new("s3cr3t");
        assert_eq!(format!("{token:?}"), "BearerToken(<redacted>)");
        assert_eq!(token.secret(), "s3cr3t");
    }

    #[tokio::test(start_paused = true)]
    async fn token_cache_reviews_once_within_ttl_and_again_after() {
        let reviewer = FakeTokens::with(&[("good", UserInfo::new("alice"))]);
        let tokens = TokenAuthenticator::new(reviewer.clone(), Duration::from_secs(120));
        let good = BearerToken::new("good");
        assert_eq!(
            tokens.authenticate(&good).await.unwrap().unwrap().name,
            "alice"
        );
        tokio::time::advance(Duration::from_secs(119)).await;
        assert_eq!(
            tokens.authenticate(&good).await.unwrap().unwrap().name,
            "alice"
        );
        assert_eq!(reviewer.reviews(), 1);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            tokens.authenticate(&good).await.unwrap().unwrap().name,
            "alice"
        );
        assert_eq!(reviewer.reviews(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn token_cache_remembers_refusals_but_not_errors() {
        let reviewer = FakeTokens::with(&[]);
        let tokens = TokenAuthenticator::new(reviewer.clone(), Duration::from_secs(120));
        let bad = BearerToken::new("bad");
        assert_eq!(tokens.authenticate(&bad).await.unwrap(), None);
        assert_eq!(tokens.authenticate(&bad).await.unwrap(), None);
        assert_eq!(reviewer.reviews(), 1);

        let error = BearerToken::new("error");
        assert!(tokens.authenticate(&error).await.is_err());
        assert!(tokens.authenticate(&error).await.is_err());
        assert_eq!(reviewer.reviews(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn token_cache_shares_one_review_between_concurrent_requests() {
        let reviewer = FakeTokens::with(&[("good", UserInfo::new("alice"))]);
        let tokens = TokenAuthenticator::new(reviewer.clone(), Duration::from_secs(120));
        let good = BearerToken::new("good");
        let (a, b, c) = tokio::join!(
            tokens.authenticate(&good),
            tokens.authenticate(&good),
            tokens.authenticate(&good)
        );
        assert!(a.unwrap().is_some() && b.unwrap().is_some() && c.unwrap().is_some());
        assert_eq!(reviewer.reviews(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn token_cache_with_zero_ttl_reviews_every_time() {
        let reviewer = FakeTokens::with(&[("good", UserInfo::new("alice"))]);
        let tokens = TokenAuthenticator::new(reviewer.clone(), Duration::ZERO);
        let good = BearerToken::new("good");
        tokens.authenticate(&good).await.unwrap();
        tokens.authenticate(&good).await.unwrap();
        assert_eq!(reviewer.reviews(), 2);
        assert_eq!(tokens.cached(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn token_cache_sweeps_expired_answers() {
        let reviewer = FakeTokens::with(&[]);
        let tokens = TokenAuthenticator::new(reviewer, Duration::from_secs(1));
        for i in 0..MIN_SWEEP {
            tokens
                .authenticate(&BearerToken::new(format!("t{i}")))
                .await
                .unwrap();
        }
        assert_eq!(tokens.cached(), MIN_SWEEP);
        tokio::time::advance(Duration::from_secs(2)).await;
        tokens
            .authenticate(&BearerToken::new("fresh"))
            .await
            .unwrap();
        assert_eq!(tokens.cached(), 1);
    }

    #[test]
    fn token_cache_key_is_not_the_token() {
        let tokens = TokenAuthenticator::new(FakeTokens::with(&[]), Duration::from_secs(1));
        let other = TokenAuthenticator::new(FakeTokens::with(&[]), Duration::from_secs(1));
        let a = hmac::sign(&tokens.key, b"token");
        let b = hmac::sign(&other.key, b"token");
        assert_ne!(a.as_ref(), b"token");
        assert_ne!(a.as_ref(), b.as_ref(), "each cache draws its own key");
    }
}
