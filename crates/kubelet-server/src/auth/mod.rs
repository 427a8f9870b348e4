//! Authentication and authorization of kubelet API requests, as the kubelet's
//! `InstallAuthFilter` does them in front of every route of the main server.
//!
//! Three parts, each usable alone:
//!
//! - [`Authenticator`]: who is asking. A client certificate verified against
//!   `authentication.x509.clientCAFile` ([`X509Authenticator`]: CommonName → user,
//!   Organizations → groups), then a bearer token reviewed by a [`TokenReviewer`] behind a
//!   cache ([`TokenAuthenticator`]), then, if enabled, the anonymous user.
//! - [`node_request_attributes`]: what is asked, in the kubelet's terms: a verb from the
//!   HTTP method on `nodes/<node>` with subresources from the path (`/stats/summary` →
//!   `stats`, `/pods` → `pods` then `proxy`).
//! - [`Authorizer`]: whether it is allowed, `AlwaysAllow` or through a
//!   [`SubjectAccessReviewer`] behind the kubelet's authorized/unauthorized caches.
//!
//! [`Auth`] puts them together and answers as the kubelet does: 401 `Unauthorized`, 403
//! `Forbidden (user=…, verb=…, resource=…, subresource(s)=[…])`, or 500
//! `Authorization error (…)`. Install it as a layer:
//!
//! ```
//! use std::sync::Arc;
//! use kubelet_server::auth::{
//!     Auth, AuthenticationConfig, AuthorizationConfig, AuthorizationMode, Reviewers,
//! };
//!
//! # fn main() -> kubelet_server::Result<()> {
//! // A node without an API server: no webhooks, anonymous requests, everything allowed.
//! let mut authentication = AuthenticationConfig::default();
//! authentication.webhook.enabled = false;
//! authentication.anonymous.enabled = true;
//! let authorization = AuthorizationConfig {
//!     mode: AuthorizationMode::AlwaysAllow,
//!     ..Default::default()
//! };
//! let auth = Auth::from_config("node-a", &authentication, &authorization, Reviewers::none())?;
//! let router: axum::Router =
//!     axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
//! let router = router.layer(Arc::new(auth).layer());
//! # Ok(()) }
//! ```
//!
//! With the `kube` feature, `Reviewers::api_server(client)` makes TokenReviews and
//! SubjectAccessReviews with a `kube::Client`, which the kubelet's defaults (webhook
//! authentication and authorization) need.
//!
//! The reviewers are traits rather than a kube client so that the crate is usable, and
//! testable, without an API server: the `kube` feature adds `KubeReviewer`, which makes
//! the reviews with a `kube::Client`, and anything else that knows tokens and permissions
//! can stand in.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::request::Parts;
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rustls_pki_types::CertificateDer;

#[cfg(feature = "kube")]
mod api_server;
mod attributes;
mod authenticator;
mod authorizer;
mod config;
mod go_duration;
mod token;
mod user;
mod x509;

#[cfg(feature = "kube")]
pub use api_server::KubeReviewer;
pub use attributes::{
    Attributes, ResourceAttributes, api_verb, node_request_attributes, node_subresources,
};
pub use authenticator::{Authentication, Authenticator, BEARER_PROTOCOL_PREFIX, Credential};
pub use authorizer::{
    AccessReviewStatus, Authorizer, Decision, SubjectAccessReviewer, WEBHOOK_CACHE_SIZE,
    WebhookAuthorizer,
};
pub use config::{
    AnonymousAuthenticationConfig, AuthenticationConfig, AuthorizationConfig, AuthorizationMode,
    DEFAULT_CACHE_AUTHORIZED_TTL, DEFAULT_CACHE_TTL, DEFAULT_CACHE_UNAUTHORIZED_TTL,
    WebhookAuthenticationConfig, WebhookAuthorizationConfig, X509AuthenticationConfig,
};
pub use token::{BearerToken, TokenAuthenticator, TokenReviewer};
pub use user::{ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, ANONYMOUS, CREDENTIAL_ID_KEY, UserInfo};
pub use x509::X509Authenticator;

use crate::Result;

/// The certificate chain the client presented in the TLS handshake (leaf first), put in
/// each request's extensions by the TLS server. Absent on plain HTTP and when the client
/// sent no certificate.
#[derive(Clone, Debug, Default)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

/// The reviewers webhook authentication and authorization use; `None` where there is
/// none (no API server), which the configuration must then not ask for.
#[derive(Clone, Default)]
pub struct Reviewers {
    /// Reviews bearer tokens (`authentication.webhook.enabled`).
    pub tokens: Option<Arc<dyn TokenReviewer>>,
    /// Reviews access (`authorization.mode: Webhook`).
    pub access: Option<Arc<dyn SubjectAccessReviewer>>,
}

impl fmt::Debug for Reviewers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reviewers")
            .field("tokens", &self.tokens.is_some())
            .field("access", &self.access.is_some())
            .finish()
    }
}

impl Reviewers {
    /// No reviewers (a node without an API server: webhook modes are then refused).
    pub fn none() -> Self {
        Reviewers::default()
    }

    /// Both reviews made through the API server with `client` ([`KubeReviewer`]).
    #[cfg(feature = "kube")]
    pub fn api_server(client: ::kube::Client) -> Self {
        let reviewer = Arc::new(KubeReviewer::new(client));
        Reviewers {
            tokens: Some(reviewer.clone()),
            access: Some(reviewer),
        }
    }
}

/// Why a request was refused, answered with the kubelet's status and exact text.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// No credential authenticated the request: 401 `Unauthorized`.
    Unauthorized,
    /// No attribute was allowed: 403.
    Forbidden {
        /// The user name.
        user: String,
        /// The verb.
        verb: String,
        /// The resource (`nodes`).
        resource: String,
        /// Every subresource tried, in order.
        subresources: Vec<String>,
    },
    /// The authorizer failed: 500.
    AuthorizationError {
        /// The user name.
        user: String,
        /// The verb.
        verb: String,
        /// The resource (`nodes`).
        resource: String,
        /// The subresource whose review failed.
        subresource: String,
    },
}

impl Rejection {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::Unauthorized => StatusCode::UNAUTHORIZED,
            Rejection::Forbidden { .. } => StatusCode::FORBIDDEN,
            Rejection::AuthorizationError { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for Rejection {
    /// The body the kubelet answers with, byte for byte (only the 403 ends with a newline).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Unauthorized => f.write_str("Unauthorized"),
            Rejection::Forbidden {
                user,
                verb,
                resource,
                subresources,
            } => writeln!(
                f,
                "Forbidden (user={user}, verb={verb}, resource={resource}, subresource(s)=[{}])",
                subresources.join(" ")
            ),
            Rejection::AuthorizationError {
                user,
                verb,
                resource,
                subresource,
            } => write!(
                f,
                "Authorization error (user={user}, verb={verb}, resource={resource}, subresource={subresource})"
            ),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        (
            self.status(),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.to_string(),
        )
            .into_response()
    }
}

/// The kubelet's authentication and authorization filter for one node: authenticate,
/// build the request's attributes, try them in order until one is allowed.
///
/// Install [`layer`](Self::layer) on the main server's router; an allowed request goes on
/// with its [`UserInfo`] in its extensions and the token it used removed from its
/// headers.
#[derive(Debug)]
pub struct Auth {
    node_name: String,
    authenticator: Authenticator,
    authorizer: Authorizer,
}

impl Auth {
    /// Authenticates with `authenticator` and authorizes with `authorizer`, requests being
    /// about the node `node_name`.
    pub fn new(
        node_name: impl Into<String>,
        authenticator: Authenticator,
        authorizer: Authorizer,
    ) -> Self {
        Auth {
            node_name: node_name.into(),
            authenticator,
            authorizer,
        }
    }

    /// The kubelet's filter for `authentication` and `authorization` (`BuildAuth`): reads
    /// the client CA file and checks that every webhook asked for has its reviewer.
    pub fn from_config(
        node_name: impl Into<String>,
        authentication: &AuthenticationConfig,
        authorization: &AuthorizationConfig,
        reviewers: Reviewers,
    ) -> Result<Self> {
        let authenticator = Authenticator::from_config(authentication, reviewers.tokens)?;
        let authorizer = Authorizer::from_config(authorization, reviewers.access)?;
        Ok(Auth::new(node_name, authenticator, authorizer))
    }

    /// The node requests are about.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// Authenticates and authorizes `request`: who it is from, or the answer to refuse it
    /// with. The request is not changed; see [`Authentication::remove_credentials`].
    pub async fn check(&self, request: &Parts) -> std::result::Result<Authentication, Rejection> {
        let authentication = match self.authenticator.authenticate(request).await {
            Ok(Some(authentication)) => authentication,
            Ok(None) => return Err(Rejection::Unauthorized),
            Err(error) => {
                // The error names the refused credential, never a token.
                tracing::warn!(%error, path = request.uri.path(), "unable to authenticate the request");
                return Err(Rejection::Unauthorized);
            }
        };
        let path = request.uri.path();
        let attributes =
            node_request_attributes(&self.node_name, &authentication.user, &request.method, path);
        for attribute in &attributes {
            match self.authorizer.authorize(attribute).await {
                Ok(Decision::Allow) => return Ok(authentication),
                Ok(Decision::Deny | Decision::NoOpinion) => {}
                Err(error) => {
                    let resource = &attribute.resource;
                    tracing::error!(
                        %error,
                        user = %attribute.user.name,
                        verb = %resource.verb,
                        resource = %resource.resource,
                        subresource = %resource.subresource,
                        "authorization error"
                    );
                    return Err(Rejection::AuthorizationError {
                        user: attribute.user.name.clone(),
                        verb: resource.verb.clone(),
                        resource: resource.resource.clone(),
                        subresource: resource.subresource.clone(),
                    });
                }
            }
        }
        let first = &attributes[0];
        let subresources: Vec<String> = attributes
            .iter()
            .map(|attribute| attribute.resource.subresource.clone())
            .collect();
        tracing::debug!(
            user = %first.user.name,
            verb = %first.resource.verb,
            resource = %first.resource.resource,
            subresources = ?subresources,
            "forbidden"
        );
        Err(Rejection::Forbidden {
            user: first.user.name.clone(),
            verb: first.resource.verb.clone(),
            resource: first.resource.resource.clone(),
            subresources,
        })
    }

    /// A tower layer that puts this filter in front of a router:
    /// `router.layer(Arc::new(auth).layer())`.
    pub fn layer(self: Arc<Self>) -> AuthLayer {
        AuthLayer { auth: self }
    }
}

/// The [`Auth`] filter as a tower [`Layer`](tower::Layer) ([`Auth::layer`]).
#[derive(Clone, Debug)]
pub struct AuthLayer {
    auth: Arc<Auth>,
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            auth: Arc::clone(&self.auth),
        }
    }
}

/// A service behind the [`Auth`] filter: refused requests are answered here, allowed ones
/// go on to the inner service.
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    auth: Arc<Auth>,
}

impl<S, B> tower::Service<Request<B>> for AuthService<S>
where
    S: tower::Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was polled ready serves this request; a fresh clone waits for
        // the next (tower's usual pattern for services moved into a future).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let auth = Arc::clone(&self.auth);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match auth.check(&parts).await {
                Ok(authentication) => {
                    authentication.remove_credentials(&mut parts.headers);
                    parts.extensions.insert(authentication.user);
                    inner.call(Request::from_parts(parts, body)).await
                }
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}

#[cfg(test)]
mod tests;
