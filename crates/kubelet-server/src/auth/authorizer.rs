//! The kubelet's authorizer: `AlwaysAllow`, or `Webhook` (SubjectAccessReviews with the
//! apiserver's webhook authorizer cache), as `BuildAuthz` builds it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::attributes::{Attributes, ResourceAttributes};
use super::config::{AuthorizationConfig, AuthorizationMode};
use super::user::UserInfo;
use crate::{Error, Result};

/// An authorizer's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Explicitly denied.
    Deny,
    /// Neither allowed nor denied (treated as not allowed).
    NoOpinion,
}

/// The answer of a SubjectAccessReview (`status`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessReviewStatus {
    /// `allowed`.
    pub allowed: bool,
    /// `denied`: an explicit denial (authorizers after the one that denied are not asked).
    pub denied: bool,
    /// `reason`: why, for people.
    pub reason: String,
    /// `evaluationError`: an error the reviewing authorizer met, if any.
    pub evaluation_error: String,
}

/// Reviews whether a user may act on a resource. The kubelet asks the API server (a
/// SubjectAccessReview, `KubeReviewer` with the `kube` feature).
#[async_trait]
pub trait SubjectAccessReviewer: Send + Sync {
    /// The review of `user` doing `resource`; `Err` when it could not be made (the
    /// request gets the kubelet's 500 "Authorization error").
    async fn review_access(
        &self,
        user: &UserInfo,
        resource: &ResourceAttributes,
    ) -> Result<AccessReviewStatus>;
}

/// Decides whether a request may proceed, by the kubelet's `authorization.mode`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Authorizer {
    /// `AlwaysAllow`: every authenticated request is allowed.
    AlwaysAllow,
    /// `Webhook`: a SubjectAccessReview per question, cached.
    Webhook(WebhookAuthorizer),
}

impl Authorizer {
    /// A webhook authorizer over `reviewer` that remembers "allowed" answers for
    /// `authorized_ttl` and the others for `unauthorized_ttl`.
    pub fn webhook(
        reviewer: Arc<dyn SubjectAccessReviewer>,
        authorized_ttl: Duration,
        unauthorized_ttl: Duration,
    ) -> Self {
        Authorizer::Webhook(WebhookAuthorizer::new(
            reviewer,
            authorized_ttl,
            unauthorized_ttl,
        ))
    }

    /// The kubelet's authorizer for `config` (`BuildAuthz`); `Webhook` needs a `reviewer`
    /// ([`Error::AuthConfig`] "no client provided, cannot use webhook authorization"
    /// without one).
    pub fn from_config(
        config: &AuthorizationConfig,
        reviewer: Option<Arc<dyn SubjectAccessReviewer>>,
    ) -> Result<Self> {
        match config.mode {
            AuthorizationMode::AlwaysAllow => Ok(Authorizer::AlwaysAllow),
            AuthorizationMode::Webhook => {
                let reviewer = reviewer.ok_or_else(|| {
                    Error::AuthConfig(
                        "no client provided, cannot use webhook authorization".to_owned(),
                    )
                })?;
                Ok(Authorizer::webhook(
                    reviewer,
                    config.webhook.cache_authorized_ttl,
                    config.webhook.cache_unauthorized_ttl,
                ))
            }
        }
    }

    /// The decision on `attributes`.
    pub async fn authorize(&self, attributes: &Attributes) -> Result<Decision> {
        match self {
            Authorizer::AlwaysAllow => Ok(Decision::Allow),
            Authorizer::Webhook(webhook) => webhook.authorize(attributes).await,
        }
    }
}

/// How many answers the webhook authorizer remembers (the apiserver's
/// `NewLRUExpireCache(8192)`).
pub const WEBHOOK_CACHE_SIZE: usize = 8192;

/// The apiserver's webhook authorizer: a SubjectAccessReview per question, its answer
/// remembered for `cacheAuthorizedTTL` when allowed and `cacheUnauthorizedTTL` otherwise,
/// in a cache of [`WEBHOOK_CACHE_SIZE`] entries that forgets the least recently used.
/// Errors are not remembered. A review both allowed and denied is an error.
pub struct WebhookAuthorizer {
    reviewer: Arc<dyn SubjectAccessReviewer>,
    authorized_ttl: Duration,
    unauthorized_ttl: Duration,
    cache: Mutex<ExpiringLru>,
}

impl fmt::Debug for WebhookAuthorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookAuthorizer")
            .field("authorized_ttl", &self.authorized_ttl)
            .field("unauthorized_ttl", &self.unauthorized_ttl)
            .finish_non_exhaustive()
    }
}

type ReviewKey = (UserInfo, ResourceAttributes);

impl WebhookAuthorizer {
    /// Reviews with `reviewer`, caching as described above.
    pub fn new(
        reviewer: Arc<dyn SubjectAccessReviewer>,
        authorized_ttl: Duration,
        unauthorized_ttl: Duration,
    ) -> Self {
        WebhookAuthorizer {
            reviewer,
            authorized_ttl,
            unauthorized_ttl,
            cache: Mutex::new(ExpiringLru::new(WEBHOOK_CACHE_SIZE)),
        }
    }

    /// The decision on `attributes`, from the cache or a review.
    pub async fn authorize(&self, attributes: &Attributes) -> Result<Decision> {
        let key = (attributes.user.clone(), attributes.resource.clone());
        let cached = self.lock().get(&key, Instant::now());
        let status = match cached {
            Some(status) => status,
            None => {
                let status = self
                    .reviewer
                    .review_access(&attributes.user, &attributes.resource)
                    .await?;
                let ttl = if status.allowed {
                    self.authorized_ttl
                } else {
                    self.unauthorized_ttl
                };
                self.lock()
                    .insert(key, status.clone(), Instant::now() + ttl);
                status
            }
        };
        match (status.allowed, status.denied) {
            (true, true) => Err(Error::Auth(
                "webhook subject access review returned both allow and deny response".to_owned(),
            )),
            (_, true) => Ok(Decision::Deny),
            (true, false) => Ok(Decision::Allow),
            (false, false) => Ok(Decision::NoOpinion),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ExpiringLru> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A map whose entries expire, bounded to `capacity` by evicting the least recently used.
struct ExpiringLru {
    capacity: usize,
    entries: HashMap<ReviewKey, LruEntry>,
    /// A counter stamped on each entry when it is used.
    clock: u64,
}

struct LruEntry {
    status: AccessReviewStatus,
    expires: Instant,
    used: u64,
}

impl ExpiringLru {
    fn new(capacity: usize) -> Self {
        ExpiringLru {
            capacity,
            entries: HashMap::new(),
            clock: 0,
        }
    }

    fn get(&mut self, key: &ReviewKey, now: Instant) -> Option<AccessReviewStatus> {
        self.clock += 1;
        let entry = self.entries.get_mut(key)?;
        if now >= entry.expires {
            self.entries.remove(key);
            return None;
        }
        entry.used = self.clock;
        Some(entry.status.clone())
    }

    fn insert(&mut self, key: ReviewKey, status: AccessReviewStatus, expires: Instant) {
        if self.capacity == 0 {
            return;
        }
        self.clock += 1;
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            let now = Instant::now();
            self.entries.retain(|_, entry| entry.expires > now);
            if self.entries.len() >= self.capacity
                && let Some(oldest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, entry)| entry.used)
                    .map(|(key, _)| key.clone())
            {
                self.entries.remove(&oldest);
            }
        }
        let used = self.clock;
        self.entries.insert(
            key,
            LruEntry {
                status,
                expires,
                used,
            },
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::auth::attributes::node_request_attributes;
    use axum::http::Method;

    /// Allows the (user, subresource) pairs it holds; counts reviews; fails for user
    /// `"error"` and answers both allowed and denied for user `"confused"`.
    #[derive(Default)]
    pub(crate) struct FakeAccess {
        pub(crate) allowed: HashSet<(String, String)>,
        pub(crate) reviews: AtomicUsize,
        /// The subresources reviewed, in order.
        pub(crate) seen: std::sync::Mutex<Vec<String>>,
    }

    impl FakeAccess {
        pub(crate) fn allowing(pairs: &[(&str, &str)]) -> Arc<Self> {
            Arc::new(FakeAccess {
                allowed: pairs
                    .iter()
                    .map(|(user, sub)| (user.to_string(), sub.to_string()))
                    .collect(),
                reviews: AtomicUsize::new(0),
                seen: Default::default(),
            })
        }

        pub(crate) fn seen(&self) -> Vec<String> {
            self.seen.lock().unwrap().clone()
        }

        pub(crate) fn reviews(&self) -> usize {
            self.reviews.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl SubjectAccessReviewer for FakeAccess {
        async fn review_access(
            &self,
            user: &UserInfo,
            resource: &ResourceAttributes,
        ) -> Result<AccessReviewStatus> {
            self.reviews.fetch_add(1, Ordering::SeqCst);
            self.seen.lock().unwrap().push(resource.subresource.clone());
            match user.name.as_str() {
                "error" => Err(Error::Review {
                    review: "SubjectAccessReview",
                    source: "the API server is away".into(),
                }),
                "confused" => Ok(AccessReviewStatus {
                    allowed: true,
                    denied: true,
                    ..Default::default()
                }),
                name => Ok(AccessReviewStatus {
                    allowed: self
                        .allowed
                        .contains(&(name.to_owned(), resource.subresource.clone())),
                    ..Default::default()
                }),
            }
        }
    }

    fn question(user: &str, path: &str) -> Attributes {
        node_request_attributes("node-a", &UserInfo::new(user), &Method::GET, path).remove(0)
    }

    #[tokio::test(start_paused = true)]
    async fn authorized_answers_are_cached_for_the_authorized_ttl() {
        let reviewer = FakeAccess::allowing(&[("alice", "stats")]);
        let authorizer = Authorizer::webhook(
            reviewer.clone(),
            Duration::from_secs(300),
            Duration::from_secs(30),
        );
        let stats = question("alice", "/stats/summary");
        assert_eq!(authorizer.authorize(&stats).await.unwrap(), Decision::Allow);
        tokio::time::advance(Duration::from_secs(299)).await;
        // Another path with the same review is the same cache entry.
        let other = question("alice", "/stats/container");
        assert_eq!(authorizer.authorize(&other).await.unwrap(), Decision::Allow);
        assert_eq!(reviewer.reviews(), 1);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(authorizer.authorize(&stats).await.unwrap(), Decision::Allow);
        assert_eq!(reviewer.reviews(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn unauthorized_answers_are_cached_for_the_unauthorized_ttl() {
        let reviewer = FakeAccess::allowing(&[]);
        let authorizer = Authorizer::webhook(
            reviewer.clone(),
            Duration::from_secs(300),
            Duration::from_secs(30),
        );
        let metrics = question("bob", "/metrics");
        assert_eq!(
            authorizer.authorize(&metrics).await.unwrap(),
            Decision::NoOpinion
        );
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(
            authorizer.authorize(&metrics).await.unwrap(),
            Decision::NoOpinion
        );
        assert_eq!(reviewer.reviews(), 1);
        tokio::time::advance(Duration::from_secs(1)).await;
        authorizer.authorize(&metrics).await.unwrap();
        assert_eq!(reviewer.reviews(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn errors_are_not_cached_and_allow_plus_deny_is_an_error() {
        let reviewer = FakeAccess::allowing(&[]);
        let authorizer = Authorizer::webhook(
            reviewer.clone(),
            Duration::from_secs(300),
            Duration::from_secs(30),
        );
        assert!(
            authorizer
                .authorize(&question("error", "/pods"))
                .await
                .is_err()
        );
        assert!(
            authorizer
                .authorize(&question("error", "/pods"))
                .await
                .is_err()
        );
        assert_eq!(reviewer.reviews(), 2);
        let err = authorizer
            .authorize(&question("confused", "/pods"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("both allow and deny"), "{err}");
    }

    #[tokio::test]
    async fn always_allow_allows() {
        assert_eq!(
            Authorizer::AlwaysAllow
                .authorize(&question("anyone", "/exec/a/b/c"))
                .await
                .unwrap(),
            Decision::Allow
        );
    }

    #[test]
    fn webhook_mode_needs_a_reviewer() {
        let err = Authorizer::from_config(&AuthorizationConfig::default(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid authentication/authorization configuration: no client provided, cannot use webhook authorization"
        );
        let always = AuthorizationConfig {
            mode: AuthorizationMode::AlwaysAllow,
            ..Default::default()
        };
        assert!(matches!(
            Authorizer::from_config(&always, None).unwrap(),
            Authorizer::AlwaysAllow
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn lru_forgets_the_least_recently_used_when_full() {
        let mut lru = ExpiringLru::new(2);
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let key = |name: &str| (UserInfo::new(name), ResourceAttributes::default());
        let allowed = AccessReviewStatus {
            allowed: true,
            ..Default::default()
        };
        lru.insert(key("a"), allowed.clone(), later);
        lru.insert(key("b"), allowed.clone(), later);
        assert!(lru.get(&key("a"), now).is_some());
        lru.insert(key("c"), allowed.clone(), later);
        assert!(lru.get(&key("a"), now).is_some());
        assert!(lru.get(&key("b"), now).is_none());
        assert!(lru.get(&key("c"), now).is_some());
        assert!(lru.get(&key("c"), later).is_none());
    }
}
