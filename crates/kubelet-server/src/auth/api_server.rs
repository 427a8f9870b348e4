//! The reviews through the API server with a `kube::Client` (feature `kube`).

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes as SarResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Api;
use kube::api::PostParams;

use super::attributes::ResourceAttributes;
use super::authorizer::{AccessReviewStatus, SubjectAccessReviewer};
use super::token::{BearerToken, TokenReviewer};
use super::user::UserInfo;
use crate::{Error, Result};

/// How many times a review is tried when the API server fails transiently, and the
/// first pause between tries (growing by half each time): the apiserver's
/// `DefaultAuthWebhookRetryBackoff` (500ms, factor 1.5, 5 steps), without its jitter.
const RETRY_STEPS: u32 = 5;
const RETRY_FIRST_DELAY: Duration = Duration::from_millis(500);

/// Makes TokenReviews (`authentication.k8s.io/v1`) and SubjectAccessReviews
/// (`authorization.k8s.io/v1`) with a kube client, as the kubelet's webhook authenticator
/// and authorizer do with its client-go clientset. Transient failures (a lost connection,
/// 429, 500, 504) are retried with the apiserver's webhook back-off.
///
/// ```no_run
/// use std::sync::Arc;
/// use kubelet_server::auth::{Auth, AuthenticationConfig, AuthorizationConfig, Reviewers};
///
/// # async fn build() -> Result<(), Box<dyn std::error::Error>> {
/// let client = kube::Client::try_default().await?;
/// let auth = Auth::from_config(
///     "node-a",
///     &AuthenticationConfig::default(),
///     &AuthorizationConfig::default(),
///     Reviewers::api_server(client),
/// )?;
/// # let _ = Arc::new(auth).layer();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct KubeReviewer {
    client: kube::Client,
}

impl std::fmt::Debug for KubeReviewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeReviewer").finish_non_exhaustive()
    }
}

impl KubeReviewer {
    /// Reviews through `client`'s API server.
    pub fn new(client: kube::Client) -> Self {
        KubeReviewer { client }
    }
}

#[async_trait]
impl TokenReviewer for KubeReviewer {
    /// A TokenReview of `token` with no audiences (the kubelet asks for none, so the API
    /// server checks its own). A review answered "not authenticated" with an `error` is an
    /// error (not cached), without one it is `None` (cached).
    async fn review_token(&self, token: &BearerToken) -> Result<Option<UserInfo>> {
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.secret().to_owned(),
                audiences: None,
            },
            ..TokenReview::default()
        };
        let params = PostParams::default();
        let answer = with_retry(|| api.create(&params, &review))
            .await
            .map_err(|source| Error::Review {
                review: "TokenReview",
                source: Box::new(source),
            })?;
        let status = answer.status.unwrap_or_default();
        if !status.authenticated.unwrap_or(false) {
            return match status.error.filter(|error| !error.is_empty()) {
                Some(error) => Err(Error::Review {
                    review: "TokenReview",
                    source: error.into(),
                }),
                None => Ok(None),
            };
        }
        let user = status.user.unwrap_or_default();
        Ok(Some(UserInfo {
            name: user.username.unwrap_or_default(),
            uid: user.uid.unwrap_or_default(),
            groups: user.groups.unwrap_or_default(),
            extra: user.extra.unwrap_or_default(),
        }))
    }
}

#[async_trait]
impl SubjectAccessReviewer for KubeReviewer {
    /// A SubjectAccessReview of `user` doing `resource`, as the apiserver's webhook
    /// authorizer writes it (empty strings and lists left out).
    async fn review_access(
        &self,
        user: &UserInfo,
        resource: &ResourceAttributes,
    ) -> Result<AccessReviewStatus> {
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let review = SubjectAccessReview {
            spec: subject_access_review_spec(user, resource),
            ..SubjectAccessReview::default()
        };
        let params = PostParams::default();
        let answer = with_retry(|| api.create(&params, &review))
            .await
            .map_err(|source| Error::Review {
                review: "SubjectAccessReview",
                source: Box::new(source),
            })?;
        let status = answer.status.unwrap_or_default();
        Ok(AccessReviewStatus {
            allowed: status.allowed,
            denied: status.denied.unwrap_or(false),
            reason: status.reason.unwrap_or_default(),
            evaluation_error: status.evaluation_error.unwrap_or_default(),
        })
    }
}

/// The spec of a SubjectAccessReview: the user, and the resource attributes with the core
/// group written out as `""`.
fn subject_access_review_spec(
    user: &UserInfo,
    resource: &ResourceAttributes,
) -> SubjectAccessReviewSpec {
    let some = |value: &str| (!value.is_empty()).then(|| value.to_owned());
    SubjectAccessReviewSpec {
        user: some(&user.name),
        uid: some(&user.uid),
        groups: (!user.groups.is_empty()).then(|| user.groups.clone()),
        extra: (!user.extra.is_empty()).then(|| user.extra.clone()),
        resource_attributes: Some(SarResourceAttributes {
            verb: some(&resource.verb),
            namespace: some(&resource.namespace),
            group: Some(resource.group.clone()),
            version: some(&resource.version),
            resource: some(&resource.resource),
            subresource: some(&resource.subresource),
            name: some(&resource.name),
            ..SarResourceAttributes::default()
        }),
        non_resource_attributes: None,
    }
}

/// Calls `call` until it succeeds, fails for good, or [`RETRY_STEPS`] tries are spent.
async fn with_retry<T, F, Fut>(mut call: F) -> std::result::Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, kube::Error>>,
{
    let mut delay = RETRY_FIRST_DELAY;
    let mut tries = 1;
    loop {
        match call().await {
            Err(error) if tries < RETRY_STEPS && is_transient(&error) => {
                tracing::debug!(%error, tries, "review failed; retrying");
                tokio::time::sleep(delay).await;
                delay = delay.mul_f64(1.5);
                tries += 1;
            }
            result => return result,
        }
    }
}

/// The apiserver's `DefaultShouldRetry`: a lost connection, an internal error, a timeout,
/// too many requests, or an answer that asks to be retried later.
fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => {
            matches!(status.code, 429 | 500 | 504)
                || matches!(
                    status.reason.as_str(),
                    "InternalError" | "Timeout" | "ServerTimeout" | "TooManyRequests"
                )
                || status
                    .details
                    .as_ref()
                    .is_some_and(|details| details.retry_after_seconds > 0)
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};

    use axum::http::{Request, Response, StatusCode};
    use http_body_util::BodyExt;
    use serde_json::{Value, json};

    use super::*;

    /// What the fake API server was sent: `"<method> <path>"` and the JSON body.
    type Requests = Arc<Mutex<Vec<(String, Value)>>>;

    /// A kube client whose API server answers each request with the next of `answers`
    /// and records what it was sent.
    fn fake_client(answers: Vec<(StatusCode, Value)>) -> (kube::Client, Requests) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(answers.into_iter()));
        let recorded = Arc::clone(&seen);
        let service = tower::service_fn(move |request: Request<kube::client::Body>| {
            let seen = Arc::clone(&recorded);
            let answers = Arc::clone(&answers);
            async move {
                let target = format!("{} {}", request.method(), request.uri().path());
                let body = request.into_body().collect().await.unwrap().to_bytes();
                let body: Value = serde_json::from_slice(&body).unwrap();
                seen.lock().unwrap().push((target, body));
                let (status, answer) = answers.lock().unwrap().next().expect("an answer");
                let response = Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(answer.to_string()))
                    .unwrap();
                Ok::<_, Infallible>(response)
            }
        });
        (kube::Client::new(service, "default"), seen)
    }

    fn token_review_answer(status: Value) -> Value {
        json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "metadata": {},
            "spec": {"token": "t0ken"},
            "status": status,
        })
    }

    #[tokio::test]
    async fn kube_token_review_sends_the_token_and_reads_the_user() {
        let (client, seen) = fake_client(vec![(
            StatusCode::CREATED,
            token_review_answer(json!({
                "authenticated": true,
                "user": {"username": "system:serviceaccount:kube-system:metrics-server",
                         "uid": "u-1", "groups": ["system:serviceaccounts"],
                         "extra": {"authentication.kubernetes.io/pod-name": ["ms-0"]}}
            })),
        )]);
        let user = KubeReviewer::new(client)
            .review_token(&BearerToken::new("t0ken"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            user.name,
            "system:serviceaccount:kube-system:metrics-server"
        );
        assert_eq!(user.uid, "u-1");
        assert_eq!(user.groups, ["system:serviceaccounts"]);
        assert_eq!(
            user.extra["authentication.kubernetes.io/pod-name"],
            ["ms-0"]
        );
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen[0].0,
            "POST /apis/authentication.k8s.io/v1/tokenreviews"
        );
        assert_eq!(seen[0].1["apiVersion"], "authentication.k8s.io/v1");
        assert_eq!(seen[0].1["kind"], "TokenReview");
        assert_eq!(seen[0].1["spec"], json!({"token": "t0ken"}));
    }

    #[tokio::test]
    async fn kube_token_review_refusals_and_errors() {
        let (client, _) = fake_client(vec![
            (
                StatusCode::CREATED,
                token_review_answer(json!({"authenticated": false})),
            ),
            (
                StatusCode::CREATED,
                token_review_answer(json!({"authenticated": false, "error": "token expired"})),
            ),
        ]);
        let reviewer = KubeReviewer::new(client);
        assert_eq!(
            reviewer.review_token(&BearerToken::new("a")).await.unwrap(),
            None
        );
        let err = reviewer
            .review_token(&BearerToken::new("b"))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "TokenReview failed: token expired");
    }

    #[tokio::test(start_paused = true)]
    async fn kube_reviews_retry_transient_failures() {
        let internal = json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
                              "reason": "InternalError", "code": 500, "message": "etcd"});
        let forbidden = json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
                               "reason": "Forbidden", "code": 403, "message": "no"});
        let (client, seen) = fake_client(vec![
            (StatusCode::INTERNAL_SERVER_ERROR, internal),
            (
                StatusCode::CREATED,
                token_review_answer(json!({"authenticated": false})),
            ),
            (StatusCode::FORBIDDEN, forbidden),
        ]);
        let reviewer = KubeReviewer::new(client);
        assert_eq!(
            reviewer.review_token(&BearerToken::new("a")).await.unwrap(),
            None
        );
        assert_eq!(seen.lock().unwrap().len(), 2);
        let err = reviewer
            .review_token(&BearerToken::new("a"))
            .await
            .unwrap_err();
        assert!(err.to_string().starts_with("TokenReview failed: "), "{err}");
        assert_eq!(seen.lock().unwrap().len(), 3, "a 403 is not retried");
    }

    #[tokio::test]
    async fn kube_subject_access_review_sends_user_and_node_attributes() {
        let (client, seen) = fake_client(vec![(
            StatusCode::CREATED,
            json!({
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "metadata": {},
                "spec": {},
                "status": {"allowed": false, "denied": true, "reason": "nope"}
            }),
        )]);
        let mut user = UserInfo::new("alice").with_group("dev");
        user.uid = "u-2".into();
        user.extra.insert("scopes".into(), vec!["a".into()]);
        let resource = ResourceAttributes {
            verb: "get".into(),
            version: "v1".into(),
            resource: "nodes".into(),
            subresource: "proxy".into(),
            name: "node-a".into(),
            ..ResourceAttributes::default()
        };
        let status = KubeReviewer::new(client)
            .review_access(&user, &resource)
            .await
            .unwrap();
        assert_eq!(
            status,
            AccessReviewStatus {
                allowed: false,
                denied: true,
                reason: "nope".into(),
                evaluation_error: String::new(),
            }
        );
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen[0].0,
            "POST /apis/authorization.k8s.io/v1/subjectaccessreviews"
        );
        assert_eq!(
            seen[0].1["spec"],
            json!({
                "user": "alice",
                "uid": "u-2",
                "groups": ["dev"],
                "extra": {"scopes": ["a"]},
                "resourceAttributes": {
                    "verb": "get",
                    "group": "",
                    "version": "v1",
                    "resource": "nodes",
                    "subresource": "proxy",
                    "name": "node-a"
                }
            })
        );
    }
}
