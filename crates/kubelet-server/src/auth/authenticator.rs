//! The kubelet's request authenticator: client certificate, then bearer token, then
//! anonymous, as `BuildAuthn` composes the apiserver's delegating authenticator.

use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::PeerCertificates;
use super::config::AuthenticationConfig;
use super::token::{BearerToken, TokenAuthenticator, TokenReviewer};
use super::user::UserInfo;
use super::x509::X509Authenticator;
use crate::{Error, Result};

/// The WebSocket subprotocol prefix that carries a bearer token
/// (`base64url.bearer.authorization.k8s.io.<base64url(token)>`), for clients that cannot
/// set headers on a WebSocket request.
pub const BEARER_PROTOCOL_PREFIX: &str = "base64url.bearer.authorization.k8s.io.";

/// The credential a request was authenticated with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credential {
    /// A verified client certificate.
    ClientCertificate,
    /// `Authorization: Bearer <token>`.
    BearerToken,
    /// A token in the `Sec-WebSocket-Protocol` header; `other_protocols` are the
    /// subprotocols the client offered besides it.
    WebSocketProtocolToken {
        /// The other offered subprotocols, in order.
        other_protocols: Vec<String>,
    },
    /// None: the anonymous user (`authentication.anonymous.enabled`).
    Anonymous,
}

/// Who a request is from, and how that was established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authentication {
    /// The user, with `system:authenticated` added unless anonymous.
    pub user: UserInfo,
    /// How the user was authenticated.
    pub credential: Credential,
}

impl Authentication {
    /// Removes the token the request was authenticated with from `headers`, as the
    /// apiserver's bearer-token and WebSocket-protocol authenticators do on success, so no
    /// handler is ever tempted to use it: the `Authorization` header goes, and the token
    /// subprotocol is dropped from `Sec-WebSocket-Protocol`.
    pub fn remove_credentials(&self, headers: &mut HeaderMap) {
        match &self.credential {
            Credential::BearerToken => {
                headers.remove(header::AUTHORIZATION);
            }
            Credential::WebSocketProtocolToken { other_protocols } => {
                headers.remove(header::SEC_WEBSOCKET_PROTOCOL);
                if let Ok(value) = HeaderValue::from_str(&other_protocols.join(",")) {
                    headers.insert(header::SEC_WEBSOCKET_PROTOCOL, value);
                }
            }
            Credential::ClientCertificate | Credential::Anonymous => {}
        }
    }
}

/// Authenticates kubelet API requests, in the kubelet's order:
///
/// 1. the client certificate, when a client CA is configured ([`X509Authenticator`]);
/// 2. a bearer token, when a token reviewer is configured: `Authorization: Bearer <token>`,
///    then a token in the `Sec-WebSocket-Protocol` header of a WebSocket request
///    ([`TokenAuthenticator`]);
/// 3. the anonymous user, when enabled, for a request that presented no credential.
///
/// The first that authenticates wins and `system:authenticated` is added to its groups. A
/// credential that was presented and refused (a certificate that does not verify, a
/// token the API server rejects) fails the request even when anonymous requests are
/// enabled, as the apiserver's `unionauth.NewFailOnError` does: presenting a bad
/// credential never makes a request anonymous.
pub struct Authenticator {
    x509: Option<X509Authenticator>,
    tokens: Option<TokenAuthenticator>,
    anonymous: bool,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("x509", &self.x509)
            .field("tokens", &self.tokens)
            .field("anonymous", &self.anonymous)
            .finish()
    }
}

impl Authenticator {
    /// Composes the authenticators given; with none of them and anonymous requests off,
    /// nothing could ever authenticate, which is an [`Error::AuthConfig`] (the apiserver's
    /// "no authentication method configured").
    pub fn new(
        x509: Option<X509Authenticator>,
        tokens: Option<TokenAuthenticator>,
        anonymous: bool,
    ) -> Result<Self> {
        if x509.is_none() && tokens.is_none() && !anonymous {
            return Err(Error::AuthConfig(
                "no authentication method configured".to_owned(),
            ));
        }
        Ok(Authenticator {
            x509,
            tokens,
            anonymous,
        })
    }

    /// The kubelet's authenticator for `config` (`BuildAuthn`): the client CA file is read
    /// now ([`Error::Tls`] when it cannot be), and webhook authentication needs a
    /// `reviewer` ([`Error::AuthConfig`] "no client provided, cannot use webhook
    /// authentication" without one).
    pub fn from_config(
        config: &AuthenticationConfig,
        reviewer: Option<Arc<dyn TokenReviewer>>,
    ) -> Result<Self> {
        let x509 = match &config.x509.client_ca_file {
            Some(path) => Some(X509Authenticator::from_ca_file(path)?),
            None => None,
        };
        let tokens = if config.webhook.enabled {
            let Some(reviewer) = reviewer else {
                return Err(Error::AuthConfig(
                    "no client provided, cannot use webhook authentication".to_owned(),
                ));
            };
            Some(TokenAuthenticator::new(reviewer, config.webhook.cache_ttl))
        } else {
            None
        };
        Self::new(x509, tokens, config.anonymous.enabled)
    }

    /// Who `request` is from: `Ok(None)` when it presented no credential that
    /// authenticates and anonymous requests are off, `Err` when a credential was refused
    /// or could not be reviewed (either way the kubelet answers 401).
    pub async fn authenticate(&self, request: &Parts) -> Result<Option<Authentication>> {
        let mut errors: Vec<Error> = Vec::new();
        if let Some(x509) = &self.x509
            && let Some(PeerCertificates(chain)) = request.extensions.get::<PeerCertificates>()
        {
            match x509.authenticate(chain) {
                Ok(Some(user)) => {
                    return Ok(Some(authenticated(user, Credential::ClientCertificate)));
                }
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        if let Some(tokens) = &self.tokens {
            if let Some(token) = bearer_token(&request.headers) {
                match tokens.authenticate(&token).await {
                    Ok(Some(user)) => {
                        return Ok(Some(authenticated(user, Credential::BearerToken)));
                    }
                    Ok(None) => errors.push(invalid_token()),
                    Err(e) => errors.push(e),
                }
            }
            match websocket_protocol_token(&request.headers) {
                Ok(Some((token, other_protocols))) => match tokens.authenticate(&token).await {
                    Ok(Some(user)) => {
                        let credential = Credential::WebSocketProtocolToken { other_protocols };
                        return Ok(Some(authenticated(user, credential)));
                    }
                    Ok(None) => errors.push(invalid_token()),
                    Err(e) => errors.push(e),
                },
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        match errors.len() {
            0 if self.anonymous => Ok(Some(Authentication {
                user: UserInfo::anonymous(),
                credential: Credential::Anonymous,
            })),
            0 => Ok(None),
            1 => Err(errors.remove(0)),
            _ => {
                let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
                Err(Error::Unauthenticated(format!("[{}]", all.join(", "))))
            }
        }
    }
}

fn authenticated(user: UserInfo, credential: Credential) -> Authentication {
    Authentication {
        user: user.add_authenticated_group(),
        credential,
    }
}

fn invalid_token() -> Error {
    Error::Unauthenticated("invalid bearer token".to_owned())
}

/// The token of `Authorization: Bearer <token>`, read as the apiserver's `bearertoken`
/// reads it: surrounding space trimmed, the scheme case-insensitive, the token the second
/// space-separated word; an empty token is no token.
fn bearer_token(headers: &HeaderMap) -> Option<BearerToken> {
    let value = headers.get(header::AUTHORIZATION)?;
    let value = std::str::from_utf8(value.as_bytes()).ok()?.trim();
    let mut parts = value.splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return None;
    }
    Some(BearerToken::new(token))
}

/// The token a WebSocket request carries as a `base64url.bearer.authorization.k8s.io.`
/// subprotocol, with the other offered subprotocols, as the apiserver's websocket
/// `ProtocolAuthenticator` reads it. Two token subprotocols, bad encoding, or a token
/// without any other subprotocol to answer with are errors.
fn websocket_protocol_token(headers: &HeaderMap) -> Result<Option<(BearerToken, Vec<String>)>> {
    if !is_websocket_request(headers) {
        return Ok(None);
    }
    let refuse = |why: &str| Err(Error::Unauthenticated(why.to_owned()));
    let mut token = None;
    let mut others = Vec::new();
    for value in headers.get_all(header::SEC_WEBSOCKET_PROTOCOL) {
        let Ok(value) = std::str::from_utf8(value.as_bytes()) else {
            continue;
        };
        for protocol in value.split(',').map(str::trim) {
            let Some(encoded) = protocol.strip_prefix(BEARER_PROTOCOL_PREFIX) else {
                others.push(protocol.to_owned());
                continue;
            };
            if token.is_some() {
                return refuse("multiple base64.bearer.authorization tokens specified");
            }
            let Ok(decoded) = URL_SAFE_NO_PAD.decode(encoded) else {
                return refuse("invalid base64.bearer.authorization token encoding");
            };
            let Ok(decoded) = String::from_utf8(decoded) else {
                return refuse("invalid base64.bearer.authorization token");
            };
            token = Some(decoded);
        }
    }
    match token {
        Some(token) if !token.is_empty() => {
            if others.is_empty() {
                return refuse("missing additional subprotocol");
            }
            Ok(Some((BearerToken::new(token), others)))
        }
        _ => Ok(None),
    }
}

/// `Upgrade: websocket` on a `Connection: upgrade` request (`wsstream.IsWebSocketRequest`).
fn is_websocket_request(headers: &HeaderMap) -> bool {
    let upgrade = headers
        .get(header::UPGRADE)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"));
    upgrade
        && headers.get_all(header::CONNECTION).iter().any(|value| {
            value
                .to_str()
                .is_ok_and(|value| value.to_ascii_lowercase().contains("upgrade"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token::tests::FakeTokens;
    use crate::auth::user::{ALL_AUTHENTICATED, ANONYMOUS};
    use crate::auth::x509::tests::TestCa;
    use axum::http::Request;
    use rcgen::DnType;
    use std::time::Duration;

    fn parts(
        headers: &[(&str, &str)],
        certs: Option<Vec<rustls_pki_types::CertificateDer<'static>>>,
    ) -> Parts {
        let mut builder = Request::get("/pods");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        if let Some(certs) = certs {
            parts.extensions.insert(PeerCertificates(Arc::new(certs)));
        }
        parts
    }

    fn tokens_for(reviewer: Arc<FakeTokens>) -> Option<TokenAuthenticator> {
        Some(TokenAuthenticator::new(reviewer, Duration::from_secs(120)))
    }

    #[tokio::test]
    async fn anonymous_on_serves_requests_without_credentials_as_system_anonymous() {
        let authenticator =
            Authenticator::new(None, tokens_for(FakeTokens::with(&[])), true).unwrap();
        let authn = authenticator
            .authenticate(&parts(&[], None))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(authn.user.name, ANONYMOUS);
        assert_eq!(authn.user.groups, ["system:unauthenticated"]);
        assert_eq!(authn.credential, Credential::Anonymous);
    }

    #[tokio::test]
    async fn anonymous_off_leaves_requests_without_credentials_unauthenticated() {
        let authenticator =
            Authenticator::new(None, tokens_for(FakeTokens::with(&[])), false).unwrap();
        assert_eq!(
            authenticator.authenticate(&parts(&[], None)).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn a_refused_token_is_never_anonymous() {
        let authenticator =
            Authenticator::new(None, tokens_for(FakeTokens::with(&[])), true).unwrap();
        let err = authenticator
            .authenticate(&parts(&[("authorization", "Bearer nope")], None))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "invalid bearer token");
    }

    #[tokio::test]
    async fn bearer_token_authenticates_and_adds_system_authenticated() {
        let reviewer = FakeTokens::with(&[("good", UserInfo::new("alice").with_group("dev"))]);
        let authenticator = Authenticator::new(None, tokens_for(reviewer), false).unwrap();
        for header in [
            "Bearer good",
            "bearer good",
            "  BEARER good  ",
            "Bearer good extra",
        ] {
            let authn = authenticator
                .authenticate(&parts(&[("authorization", header)], None))
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{header:?} should authenticate"));
            assert_eq!(authn.user.name, "alice");
            assert_eq!(authn.user.groups, ["dev", ALL_AUTHENTICATED]);
            assert_eq!(authn.credential, Credential::BearerToken);
        }
        for header in ["Basic Zm9vOmJhcg==", "Bearer", "Bearer  good", "Token good"] {
            assert_eq!(
                authenticator
                    .authenticate(&parts(&[("authorization", header)], None))
                    .await
                    .unwrap(),
                None,
                "{header:?} carries no bearer token"
            );
        }
    }

    #[tokio::test]
    async fn websocket_protocol_token_authenticates_and_is_removed() {
        let reviewer = FakeTokens::with(&[("good", UserInfo::new("alice"))]);
        let authenticator = Authenticator::new(None, tokens_for(reviewer), false).unwrap();
        let protocol = format!(
            "v5.channel.k8s.io, {BEARER_PROTOCOL_PREFIX}{}",
            URL_SAFE_NO_PAD.encode("good")
        );
        let ws = [
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-protocol", protocol.as_str()),
        ];
        let mut request = parts(&ws, None);
        let authn = authenticator.authenticate(&request).await.unwrap().unwrap();
        assert_eq!(authn.user.name, "alice");
        authn.remove_credentials(&mut request.headers);
        assert_eq!(
            request.headers["sec-websocket-protocol"],
            "v5.channel.k8s.io"
        );

        let alone = format!("{BEARER_PROTOCOL_PREFIX}{}", URL_SAFE_NO_PAD.encode("good"));
        let err = authenticator
            .authenticate(&parts(
                &[ws[0], ws[1], ("sec-websocket-protocol", alone.as_str())],
                None,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "missing additional subprotocol");
        // Not a WebSocket request: the subprotocol is not looked at.
        assert_eq!(
            authenticator
                .authenticate(&parts(
                    &[("sec-websocket-protocol", protocol.as_str())],
                    None
                ))
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn client_certificate_comes_before_the_token() {
        let ca = TestCa::new("client-ca");
        let reviewer = FakeTokens::with(&[("good", UserInfo::new("alice"))]);
        let authenticator = Authenticator::new(
            Some(X509Authenticator::new(ca.roots()).unwrap()),
            tokens_for(reviewer.clone()),
            false,
        )
        .unwrap();
        let leaf = ca.client(&[
            (DnType::CommonName, "kubelet-client"),
            (DnType::OrganizationName, "system:masters"),
        ]);
        let authn = authenticator
            .authenticate(&parts(
                &[("authorization", "Bearer good")],
                Some(vec![leaf]),
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(authn.user.name, "kubelet-client");
        assert_eq!(authn.user.groups, ["system:masters", ALL_AUTHENTICATED]);
        assert_eq!(authn.credential, Credential::ClientCertificate);
        assert_eq!(reviewer.reviews(), 0);

        // A certificate from elsewhere does not stop a good token, as in the apiserver's union.
        let other = TestCa::new("other").client(&[(DnType::CommonName, "mallory")]);
        let authn = authenticator
            .authenticate(&parts(
                &[("authorization", "Bearer good")],
                Some(vec![other]),
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(authn.user.name, "alice");
    }

    #[tokio::test]
    async fn remove_credentials_drops_the_authorization_header() {
        let reviewer = FakeTokens::with(&[("good", UserInfo::new("alice"))]);
        let authenticator = Authenticator::new(None, tokens_for(reviewer), false).unwrap();
        let mut request = parts(&[("authorization", "Bearer good")], None);
        let authn = authenticator.authenticate(&request).await.unwrap().unwrap();
        authn.remove_credentials(&mut request.headers);
        assert!(request.headers.get("authorization").is_none());
    }

    #[test]
    fn config_validation_names_what_is_missing() {
        let mut config = AuthenticationConfig::default();
        let err = Authenticator::from_config(&config, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid authentication/authorization configuration: no client provided, cannot use webhook authentication"
        );
        config.webhook.enabled = false;
        let err = Authenticator::from_config(&config, None).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("no authentication method configured"),
            "{err}"
        );
        config.anonymous.enabled = true;
        assert!(Authenticator::from_config(&config, None).is_ok());
        config.x509.client_ca_file = Some("/nonexistent/ca.crt".into());
        let err = Authenticator::from_config(&config, None).unwrap_err();
        assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    }
}
