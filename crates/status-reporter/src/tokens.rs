//! Projected service-account tokens: [`TokenManager`], the kubelet's token manager
//! (`pkg/kubelet/token/token_manager.go`) as `pkg/volume/projected` uses it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount, ServiceAccountTokenProjection};
use kube::Client;
use kube::api::PostParams;
use tracing::Instrument as _;

use crate::error::{Error, Result};
use crate::objects::ApiObjects;

/// `expirationSeconds` when a TokenRequest or a projection does not say (the API's default).
pub const DEFAULT_TOKEN_EXPIRATION_SECONDS: i64 = 3600;
/// `expirationSeconds` of the `kube-api-access-*` volume the ServiceAccount admission plugin
/// injects (`WarnOnlyBoundTokenExpirationSeconds`).
pub const KUBE_API_ACCESS_TOKEN_EXPIRATION_SECONDS: i64 = 3607;
/// The smallest `expirationSeconds` the API accepts (10 minutes).
pub const MIN_TOKEN_EXPIRATION_SECONDS: i64 = 600;
/// A token older than this is refreshed whatever its lifetime (`maxTTL`).
pub const TOKEN_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// The largest random advance of a refresh (`maxJitter`).
pub const TOKEN_MAX_JITTER: Duration = Duration::from_secs(10);
/// How often expired tokens are dropped from the cache (`gcPeriod`).
pub const TOKEN_GC_PERIOD: Duration = Duration::from_secs(60);
/// The ConfigMap that carries the cluster's CA bundle in every namespace.
pub const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";
/// Its key.
pub const ROOT_CA_KEY: &str = "ca.crt";

/// What a token is requested for; also its cache key (the kubelet's `keyFunc`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceAccountTokenRequest {
    /// The pod's namespace.
    pub namespace: String,
    /// The service account (`spec.serviceAccountName`).
    pub service_account: String,
    /// The audience; `None` for the API server's own audiences.
    pub audience: Option<String>,
    /// The requested lifetime in seconds (at least [`MIN_TOKEN_EXPIRATION_SECONDS`]).
    pub expiration_seconds: i64,
    /// The pod the token is bound to.
    pub pod_name: String,
    /// Its UID.
    pub pod_uid: String,
}

impl ServiceAccountTokenRequest {
    /// The request of a projected `serviceAccountToken` source of `pod`, as
    /// `pkg/volume/projected` makes it: the pod's service account, the projection's audience
    /// (none when empty) and `expirationSeconds` (3600 when unset).
    pub fn for_projection(
        pod: &Pod,
        projection: &ServiceAccountTokenProjection,
    ) -> Result<ServiceAccountTokenRequest> {
        ServiceAccountTokenRequest::for_pod(
            pod,
            projection.audience.as_deref(),
            projection.expiration_seconds,
        )
    }

    /// A request bound to `pod` for its service account, with `audience` (none when `None` or
    /// empty) and `expiration_seconds` (3600 when `None`). Fails for a pod without name, UID
    /// or service account, and for a lifetime under 600 s.
    pub fn for_pod(
        pod: &Pod,
        audience: Option<&str>,
        expiration_seconds: Option<i64>,
    ) -> Result<ServiceAccountTokenRequest> {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let invalid = |problem: &'static str| Error::InvalidPod {
            pod: format!("{namespace}/{pod_name}"),
            problem,
        };
        let pod_uid = pod
            .metadata
            .uid
            .clone()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| invalid("it has no UID"))?;
        if pod_name.is_empty() {
            return Err(invalid("it has no name"));
        }
        let service_account = pod
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.clone())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("it has no service account (spec.serviceAccountName)"))?;
        let expiration_seconds = expiration_seconds.unwrap_or(DEFAULT_TOKEN_EXPIRATION_SECONDS);
        if expiration_seconds < MIN_TOKEN_EXPIRATION_SECONDS {
            return Err(invalid(
                "a service account token may not expire in less than 10 minutes (600 s)",
            ));
        }
        Ok(ServiceAccountTokenRequest {
            namespace,
            service_account,
            audience: audience.filter(|a| !a.is_empty()).map(str::to_owned),
            expiration_seconds,
            pod_name,
            pod_uid,
        })
    }

    /// The pod as `namespace/name`.
    pub fn pod(&self) -> String {
        format!("{}/{}", self.namespace, self.pod_name)
    }

    /// The TokenRequest object sent.
    pub fn to_token_request(&self) -> TokenRequest {
        TokenRequest {
            spec: Some(TokenRequestSpec {
                audiences: self.audience.clone().map(|a| vec![a]),
                expiration_seconds: Some(self.expiration_seconds),
                bound_object_ref: Some(BoundObjectReference {
                    api_version: Some("v1".to_owned()),
                    kind: Some("Pod".to_owned()),
                    name: Some(self.pod_name.clone()),
                    uid: Some(self.pod_uid.clone()),
                }),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        }
    }
}

/// An issued token. Its `Debug` does not show the token.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceAccountToken {
    token: String,
    /// When it expires (`status.expirationTimestamp`).
    pub expiration: Timestamp,
    /// Its lifetime as granted (`spec.expirationSeconds` of the answer).
    pub expiration_seconds: i64,
    /// Its audiences as granted (the API server's when none was asked for).
    pub audiences: Vec<String>,
}

impl ServiceAccountToken {
    /// A token as the API issued it (for tests and other sources).
    pub fn new(
        token: String,
        expiration: Timestamp,
        expiration_seconds: i64,
        audiences: Vec<String>,
    ) -> ServiceAccountToken {
        ServiceAccountToken {
            token,
            expiration,
            expiration_seconds,
            audiences,
        }
    }

    /// The token (a JWT), the content of the projected file.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// When it was issued: its expiration less its lifetime.
    pub fn issued_at(&self) -> Timestamp {
        self.expiration
            .checked_sub(SignedDuration::from_secs(self.expiration_seconds))
            .unwrap_or(self.expiration)
    }

    /// Whether it has expired at `now`.
    pub fn expired(&self, now: Timestamp) -> bool {
        now > self.expiration
    }
}

impl std::fmt::Debug for ServiceAccountToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountToken")
            .field("token", &"<redacted>")
            .field("expiration", &self.expiration)
            .field("expiration_seconds", &self.expiration_seconds)
            .field("audiences", &self.audiences)
            .finish()
    }
}

/// Whether `token` must be refreshed at `now` (`requiresRefresh`): when it is older than
/// 24 hours less `jitter`, or when less than 20 % of its lifetime plus `jitter` is left.
/// The kubelet draws `jitter` between 0 and 10 s at each check (whole seconds).
pub fn token_requires_refresh(
    token: &ServiceAccountToken,
    now: Timestamp,
    jitter: Duration,
) -> bool {
    let jitter = SignedDuration::try_from(jitter).unwrap_or_default();
    let max_age = SignedDuration::try_from(TOKEN_MAX_AGE).unwrap_or_default();
    if now > token.issued_at() + (max_age - jitter) {
        return true;
    }
    let margin = SignedDuration::from_secs(token.expiration_seconds * 20 / 100);
    now > token.expiration - margin - jitter
}

/// The clock the manager reads.
type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

struct Cache {
    tokens: HashMap<ServiceAccountTokenRequest, ServiceAccountToken>,
    last_gc: Option<Timestamp>,
}

/// Service-account tokens for pods, requested with the TokenRequest API and cached until they
/// need a refresh.
///
/// A token is requested with the TokenRequest API (`create serviceaccounts/<sa>/token`),
/// bound to the pod (`boundObjectRef` kind Pod, name and UID, which NodeRestriction requires
/// of a node, together with a pod bound to that node), with the projection's audience and
/// `expirationSeconds`. Tokens are cached by namespace, service account, audience,
/// expiration and pod UID, and requested again when the cached one requires a refresh
/// ([`token_requires_refresh`]): past 80 % of its lifetime, or 24 hours old, each less a
/// random jitter of up to 10 s. If a refresh fails and the old token has not expired yet, the
/// old one is served (and the failure logged); once expired, the failure is an error
/// ([`Error::TokenExpired`](crate::Error::TokenExpired)), and expired tokens are dropped from
/// the cache once a minute (the kubelet's cleanup), after which a failure is the request's own
/// ([`Error::TokenRequest`](crate::Error::TokenRequest)).
///
/// The API defaults `expirationSeconds` to 3600 ([`DEFAULT_TOKEN_EXPIRATION_SECONDS`], both
/// for a TokenRequest and for a projected `serviceAccountToken` source); 3607
/// ([`KUBE_API_ACCESS_TOKEN_EXPIRATION_SECONDS`]) is what the ServiceAccount admission plugin
/// writes into the `kube-api-access-*` volume it injects, and with it the API server issues a
/// token valid for a year that only warns after 3607 s (while reporting an expiration of
/// 3607 s, so the refresh schedule is unchanged). The minimum is 600 s.
///
/// The CA bundle of that volume is the `kube-root-ca.crt` ConfigMap, which a node reads like
/// any other referenced ConfigMap: [`root_ca_certificate`] takes it from an [`ApiObjects`].
///
/// Tokens never reach a log or an error: [`ServiceAccountToken`]'s `Debug` hides the token,
/// and the answer to a TokenRequest is decoded here rather than by kube-client, which logs
/// the body of an answer it cannot decode.
///
/// Clones share the cache. Expired tokens are dropped every [`TOKEN_GC_PERIOD`] on the next
/// request, and a pod's tokens by [`TokenManager::forget_pod`] when the pod is gone.
///
/// ```no_run
/// # async fn run(client: kube::Client, objects: status_reporter::ApiObjects, pod: k8s_openapi::api::core::v1::Pod) -> status_reporter::Result<()> {
/// use status_reporter::{ServiceAccountTokenRequest, TokenManager, root_ca_certificate};
///
/// let tokens = TokenManager::new(client);
/// // The kube-api-access volume: a token for the API server's audience, and its CA.
/// let request = ServiceAccountTokenRequest::for_pod(&pod, None, Some(3607))?;
/// let token = tokens.token(&request).await?;
/// let ca = root_ca_certificate(&objects, "shop")?;
/// # let _ = (token.token(), ca); Ok(()) }
/// ```
#[derive(Clone)]
pub struct TokenManager {
    client: Client,
    cache: Arc<Mutex<Cache>>,
    clock: Clock,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("cached", &self.cached())
            .finish()
    }
}

impl TokenManager {
    /// A manager that requests tokens with `client` (the node's identity).
    pub fn new(client: Client) -> TokenManager {
        TokenManager::with_clock(client, Timestamp::now)
    }

    /// A manager that reads the time from `clock` (for tests of the refresh rule).
    pub fn with_clock(
        client: Client,
        clock: impl Fn() -> Timestamp + Send + Sync + 'static,
    ) -> TokenManager {
        TokenManager {
            client,
            cache: Arc::new(Mutex::new(Cache {
                tokens: HashMap::new(),
                last_gc: None,
            })),
            clock: Arc::new(clock),
        }
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many tokens are cached.
    pub fn cached(&self) -> usize {
        self.cache().tokens.len()
    }

    /// The token for `request` (`GetServiceAccountToken`): the cached one unless it requires
    /// a refresh, else a new one from the API. A failed refresh serves the cached token while
    /// it has not expired.
    pub async fn token(&self, request: &ServiceAccountTokenRequest) -> Result<ServiceAccountToken> {
        let span = tracing::debug_span!(
            "service_account_token",
            pod = %format_args!("{}/{}", request.namespace, request.pod_name),
            uid = %request.pod_uid,
            service_account = %request.service_account,
        );
        self.token_in_span(request).instrument(span).await
    }

    async fn token_in_span(
        &self,
        request: &ServiceAccountTokenRequest,
    ) -> Result<ServiceAccountToken> {
        let now = (self.clock)();
        let cached = {
            let mut cache = self.cache();
            let gc_period = SignedDuration::try_from(TOKEN_GC_PERIOD).unwrap_or_default();
            if cache
                .last_gc
                .is_none_or(|last| now.duration_since(last) >= gc_period)
            {
                cache.tokens.retain(|_, token| !token.expired(now));
                cache.last_gc = Some(now);
            }
            cache.tokens.get(request).cloned()
        };
        let jitter = Duration::from_secs(fastrand::u64(..=TOKEN_MAX_JITTER.as_secs()));
        if let Some(token) = &cached
            && !token_requires_refresh(token, now, jitter)
        {
            return Ok(token.clone());
        }
        match (self.request(request).await, cached) {
            (Ok(token), _) => {
                tracing::debug!(expiration = %token.expiration, "got a service account token");
                self.cache().tokens.insert(request.clone(), token.clone());
                Ok(token)
            }
            (Err(e), None) => Err(e),
            (Err(e), Some(old)) if old.expired((self.clock)()) => Err(Error::TokenExpired {
                pod: request.pod(),
                uid: request.pod_uid.clone(),
                service_account: request.service_account.clone(),
                expired: old.expiration,
                source: Box::new(e),
            }),
            (Err(e), Some(old)) => {
                tracing::error!(error = %e, "Couldn't update token");
                Ok(old)
            }
        }
    }

    /// One TokenRequest.
    async fn request(&self, request: &ServiceAccountTokenRequest) -> Result<ServiceAccountToken> {
        let failed = |action: &'static str, source: kube::Error| Error::TokenRequest {
            pod: request.pod(),
            uid: request.pod_uid.clone(),
            service_account: request.service_account.clone(),
            action,
            source: Box::new(source),
        };
        let bad_answer = |problem: String| Error::TokenAnswer {
            pod: request.pod(),
            uid: request.pod_uid.clone(),
            service_account: request.service_account.clone(),
            problem,
        };
        let body = serde_json::to_vec(&request.to_token_request())
            .map_err(|e| failed("encoding the TokenRequest", kube::Error::SerdeError(e)))?;
        let url = <ServiceAccount as kube::Resource>::url_path(&(), Some(&request.namespace));
        let http_request = kube::core::Request::new(url)
            .create_subresource(
                "token",
                &request.service_account,
                &PostParams::default(),
                body,
            )
            .map_err(|e| failed("building the TokenRequest", kube::Error::BuildRequest(e)))?;
        let text = self
            .client
            .request_text(http_request)
            .await
            .map_err(|e| failed("requesting a service account token", e))?;
        // Decoded here: serde's message could quote the token.
        // Decoded here, and field by field (the shape of TokenRequestStatus differs between
        // k8s-openapi versions): serde's messages could quote the token.
        let answer: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            bad_answer(format!(
                "could not be decoded ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        let token = answer["status"]["token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad_answer("has no status.token".to_owned()))?;
        let expiration = answer["status"]["expirationTimestamp"]
            .as_str()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .ok_or_else(|| bad_answer("has no valid status.expirationTimestamp".to_owned()))?;
        let audiences = answer["spec"]["audiences"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok(ServiceAccountToken {
            token: token.to_owned(),
            expiration,
            expiration_seconds: answer["spec"]["expirationSeconds"]
                .as_i64()
                .unwrap_or(request.expiration_seconds),
            audiences,
        })
    }

    /// Drops the cached tokens bound to the pod with UID `pod_uid`
    /// (`DeleteServiceAccountToken`), when the pod is deleted.
    pub fn forget_pod(&self, pod_uid: &str) {
        self.cache().tokens.retain(|key, _| key.pod_uid != pod_uid);
    }
}

/// The cluster's CA bundle for pods of `namespace`: the `ca.crt` of the `kube-root-ca.crt`
/// ConfigMap, read from `objects` (a pod with a `kube-api-access-*` volume references it, so
/// registering the pod makes it available). `None` when the ConfigMap or the key is missing.
pub fn root_ca_certificate(objects: &ApiObjects, namespace: &str) -> Result<Option<String>> {
    Ok(objects
        .config_map(namespace, ROOT_CA_CONFIG_MAP)?
        .and_then(|c| c.data)
        .and_then(|mut data| data.remove(ROOT_CA_KEY)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(issued: i64, lifetime: i64) -> ServiceAccountToken {
        let issued = Timestamp::from_second(1_700_000_000 + issued).unwrap();
        ServiceAccountToken::new(
            "jwt".into(),
            issued + SignedDuration::from_secs(lifetime),
            lifetime,
            vec![],
        )
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + second).unwrap()
    }

    #[test]
    fn refresh_after_80_percent_of_the_lifetime() {
        let t = token(0, 600);
        let no_jitter = Duration::ZERO;
        assert!(!token_requires_refresh(&t, at(479), no_jitter));
        assert!(!token_requires_refresh(&t, at(480), no_jitter));
        assert!(token_requires_refresh(&t, at(481), no_jitter));
        // The jitter brings the refresh forward by up to 10 s.
        assert!(token_requires_refresh(&t, at(471), TOKEN_MAX_JITTER));
        assert!(!token_requires_refresh(&t, at(469), TOKEN_MAX_JITTER));
        let hour = token(0, 3607);
        assert!(!token_requires_refresh(&hour, at(2885), no_jitter));
        assert!(token_requires_refresh(&hour, at(2887), no_jitter));
    }

    #[test]
    fn refresh_after_24_hours_whatever_the_lifetime() {
        let year = token(0, 365 * 24 * 3600);
        assert!(!token_requires_refresh(
            &year,
            at(24 * 3600 - 11),
            TOKEN_MAX_JITTER
        ));
        assert!(token_requires_refresh(
            &year,
            at(24 * 3600 - 9),
            TOKEN_MAX_JITTER
        ));
        assert!(token_requires_refresh(
            &year,
            at(24 * 3600 + 1),
            Duration::ZERO
        ));
    }

    #[test]
    fn tokens_are_not_shown() {
        let t = ServiceAccountToken::new("secret-jwt".into(), at(0), 600, vec![]);
        assert!(!format!("{t:?}").contains("secret-jwt"));
        assert_eq!(t.token(), "secret-jwt");
        assert_eq!(t.issued_at(), at(-600));
    }

    fn pod(sa: Option<&str>) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": { "namespace": "ns", "name": "web", "uid": "u1" },
            "spec": { "containers": [], "serviceAccountName": sa },
        }))
        .unwrap()
    }

    #[test]
    fn requests_are_bound_to_the_pod() {
        let projection = ServiceAccountTokenProjection {
            audience: Some("vault".into()),
            expiration_seconds: None,
            path: "token".into(),
            ..ServiceAccountTokenProjection::default()
        };
        let request =
            ServiceAccountTokenRequest::for_projection(&pod(Some("app")), &projection).unwrap();
        assert_eq!(request.expiration_seconds, 3600);
        let body = serde_json::to_value(request.to_token_request()).unwrap();
        assert_eq!(
            body["spec"],
            serde_json::json!({
                "audiences": ["vault"],
                "expirationSeconds": 3600,
                "boundObjectRef": { "apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "u1" },
            })
        );
        let default_audience =
            ServiceAccountTokenRequest::for_pod(&pod(Some("app")), Some(""), Some(3607)).unwrap();
        assert_eq!(default_audience.audience, None);
        assert!(
            serde_json::to_value(default_audience.to_token_request()).unwrap()["spec"]
                .get("audiences")
                .is_none()
        );
        assert!(ServiceAccountTokenRequest::for_pod(&pod(None), None, None).is_err());
        let short =
            ServiceAccountTokenRequest::for_pod(&pod(Some("app")), None, Some(599)).unwrap_err();
        assert!(short.to_string().contains("600"), "{short}");
    }
}
