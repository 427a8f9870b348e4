//! The `authentication` and `authorization` sections of a `KubeletConfiguration`
//! (kubelet.config.k8s.io/v1beta1), with the v1beta1 defaults.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::go_duration;

/// The default `authentication.webhook.cacheTTL`.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(2 * 60);
/// The default `authorization.webhook.cacheAuthorizedTTL`.
pub const DEFAULT_CACHE_AUTHORIZED_TTL: Duration = Duration::from_secs(5 * 60);
/// The default `authorization.webhook.cacheUnauthorizedTTL`.
pub const DEFAULT_CACHE_UNAUTHORIZED_TTL: Duration = Duration::from_secs(30);

/// `authentication`: how requests to the kubelet API are authenticated.
///
/// Missing fields take the kubelet's v1beta1 config-file defaults (anonymous off, webhook
/// on with a 2-minute cache, no client CA); durations are Go duration strings and a zero
/// duration means the default, as in the kubelet.
///
/// ```
/// use kubelet_server::auth::AuthenticationConfig;
/// use std::time::Duration;
///
/// let config: AuthenticationConfig = serde_json::from_str(
///     r#"{"x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"}, "webhook": {"cacheTTL": "30s"}}"#,
/// )?;
/// assert!(config.webhook.enabled);
/// assert_eq!(config.webhook.cache_ttl, Duration::from_secs(30));
/// assert!(!config.anonymous.enabled);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct AuthenticationConfig {
    /// `x509`: client certificate authentication.
    pub x509: X509AuthenticationConfig,
    /// `webhook`: bearer tokens reviewed by the API server (TokenReview).
    pub webhook: WebhookAuthenticationConfig,
    /// `anonymous`: requests without credentials.
    pub anonymous: AnonymousAuthenticationConfig,
}

/// `authentication.x509`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct X509AuthenticationConfig {
    /// `clientCAFile`: a PEM bundle of CAs; a request presenting a client certificate
    /// signed by one of them is authenticated as the certificate's CommonName, with its
    /// Organizations as groups. `None` (or `""` in the file) turns client certificate
    /// authentication off.
    #[serde(
        rename = "clientCAFile",
        deserialize_with = "empty_path_is_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_ca_file: Option<PathBuf>,
}

/// `authentication.webhook`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct WebhookAuthenticationConfig {
    /// `enabled` (default true): bearer tokens are reviewed by the API server.
    pub enabled: bool,
    /// `cacheTTL` (default 2m): how long a review's answer, accepted or refused, is
    /// reused for the same token.
    #[serde(
        rename = "cacheTTL",
        serialize_with = "go_duration::serialize",
        deserialize_with = "cache_ttl"
    )]
    pub cache_ttl: Duration,
}

impl Default for WebhookAuthenticationConfig {
    fn default() -> Self {
        WebhookAuthenticationConfig {
            enabled: true,
            cache_ttl: DEFAULT_CACHE_TTL,
        }
    }
}

/// `authentication.anonymous`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct AnonymousAuthenticationConfig {
    /// `enabled` (default false): a request without credentials is served as
    /// `system:anonymous` in the group `system:unauthenticated` (and still authorized).
    pub enabled: bool,
}

/// `authorization`: how authenticated requests are authorized.
///
/// ```
/// use kubelet_server::auth::{AuthorizationConfig, AuthorizationMode};
/// use std::time::Duration;
///
/// let config: AuthorizationConfig = serde_json::from_str(r#"{"mode": "AlwaysAllow"}"#)?;
/// assert_eq!(config.mode, AuthorizationMode::AlwaysAllow);
/// assert_eq!(config.webhook.cache_authorized_ttl, Duration::from_secs(300));
/// assert_eq!(AuthorizationConfig::default().mode, AuthorizationMode::Webhook);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct AuthorizationConfig {
    /// `mode` (default `Webhook`).
    pub mode: AuthorizationMode,
    /// `webhook`: the SubjectAccessReview caches.
    pub webhook: WebhookAuthorizationConfig,
}

/// `authorization.mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub enum AuthorizationMode {
    /// Every authenticated request is allowed.
    AlwaysAllow,
    /// Each request is reviewed by the API server (SubjectAccessReview).
    #[default]
    Webhook,
}

impl<'de> Deserialize<'de> for AuthorizationMode {
    /// `"AlwaysAllow"` or `"Webhook"`; `""` is the default (`Webhook`), as the kubelet's
    /// defaulting fills an empty mode.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mode = String::deserialize(deserializer)?;
        match mode.as_str() {
            "AlwaysAllow" => Ok(AuthorizationMode::AlwaysAllow),
            "Webhook" | "" => Ok(AuthorizationMode::Webhook),
            other => Err(serde::de::Error::custom(format!(
                "unknown authorization mode {other} (expected AlwaysAllow or Webhook)"
            ))),
        }
    }
}

/// `authorization.webhook`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct WebhookAuthorizationConfig {
    /// `cacheAuthorizedTTL` (default 5m): how long an "allowed" answer is reused.
    #[serde(
        rename = "cacheAuthorizedTTL",
        serialize_with = "go_duration::serialize",
        deserialize_with = "cache_authorized_ttl"
    )]
    pub cache_authorized_ttl: Duration,
    /// `cacheUnauthorizedTTL` (default 30s): how long a "not allowed" answer is reused.
    #[serde(
        rename = "cacheUnauthorizedTTL",
        serialize_with = "go_duration::serialize",
        deserialize_with = "cache_unauthorized_ttl"
    )]
    pub cache_unauthorized_ttl: Duration,
}

impl Default for WebhookAuthorizationConfig {
    fn default() -> Self {
        WebhookAuthorizationConfig {
            cache_authorized_ttl: DEFAULT_CACHE_AUTHORIZED_TTL,
            cache_unauthorized_ttl: DEFAULT_CACHE_UNAUTHORIZED_TTL,
        }
    }
}

fn cache_ttl<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    go_duration::deserialize_or(deserializer, DEFAULT_CACHE_TTL)
}

fn cache_authorized_ttl<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    go_duration::deserialize_or(deserializer, DEFAULT_CACHE_AUTHORIZED_TTL)
}

fn cache_unauthorized_ttl<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    go_duration::deserialize_or(deserializer, DEFAULT_CACHE_UNAUTHORIZED_TTL)
}

/// The kubelet's `clientCAFile` is a string where `""` means "none".
fn empty_path_is_none<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<PathBuf>, D::Error> {
    let path = Option::<PathBuf>::deserialize(deserializer)?;
    Ok(path.filter(|path| !path.as_os_str().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sections_take_the_kubelet_v1beta1_defaults() {
        let authn: AuthenticationConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(authn, AuthenticationConfig::default());
        assert!(!authn.anonymous.enabled);
        assert!(authn.webhook.enabled);
        assert_eq!(authn.webhook.cache_ttl, Duration::from_secs(120));
        assert_eq!(authn.x509.client_ca_file, None);

        let authz: AuthorizationConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(authz.mode, AuthorizationMode::Webhook);
        assert_eq!(authz.webhook.cache_authorized_ttl, Duration::from_secs(300));
        assert_eq!(
            authz.webhook.cache_unauthorized_ttl,
            Duration::from_secs(30)
        );
    }

    #[test]
    fn reads_every_field_with_kubelet_names() {
        let authn: AuthenticationConfig = serde_json::from_str(
            r#"{"x509": {"clientCAFile": "/ca.crt"},
                "webhook": {"enabled": false, "cacheTTL": "1m30s"},
                "anonymous": {"enabled": true}}"#,
        )
        .unwrap();
        assert_eq!(authn.x509.client_ca_file, Some(PathBuf::from("/ca.crt")));
        assert!(!authn.webhook.enabled);
        assert_eq!(authn.webhook.cache_ttl, Duration::from_secs(90));
        assert!(authn.anonymous.enabled);

        let authz: AuthorizationConfig = serde_json::from_str(
            r#"{"mode": "AlwaysAllow",
                "webhook": {"cacheAuthorizedTTL": "10s", "cacheUnauthorizedTTL": "1s"}}"#,
        )
        .unwrap();
        assert_eq!(authz.mode, AuthorizationMode::AlwaysAllow);
        assert_eq!(authz.webhook.cache_authorized_ttl, Duration::from_secs(10));
        assert_eq!(authz.webhook.cache_unauthorized_ttl, Duration::from_secs(1));
    }

    #[test]
    fn zero_durations_and_empty_strings_mean_the_default() {
        let authn: AuthenticationConfig = serde_json::from_str(
            r#"{"x509": {"clientCAFile": ""}, "webhook": {"cacheTTL": "0s"}}"#,
        )
        .unwrap();
        assert_eq!(authn.x509.client_ca_file, None);
        assert_eq!(authn.webhook.cache_ttl, DEFAULT_CACHE_TTL);
        let authz: AuthorizationConfig = serde_json::from_str(
            r#"{"mode": "", "webhook": {"cacheAuthorizedTTL": "0", "cacheUnauthorizedTTL": "0s"}}"#,
        )
        .unwrap();
        assert_eq!(authz, AuthorizationConfig::default());
    }

    #[test]
    fn refuses_unknown_modes_bare_numbers_and_typos() {
        assert!(serde_json::from_str::<AuthorizationConfig>(r#"{"mode": "RBAC"}"#).is_err());
        assert!(
            serde_json::from_str::<AuthenticationConfig>(r#"{"webhook": {"cacheTTL": 120}}"#)
                .is_err()
        );
        assert!(
            serde_json::from_str::<AuthenticationConfig>(r#"{"x509": {"clientCaFile": "/a"}}"#)
                .is_err()
        );
    }

    #[test]
    fn writes_go_durations_and_kubelet_names() {
        let json = serde_json::to_value((
            AuthenticationConfig::default(),
            AuthorizationConfig::default(),
        ))
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"x509": {}, "webhook": {"enabled": true, "cacheTTL": "2m0s"}, "anonymous": {"enabled": false}},
                {"mode": "Webhook", "webhook": {"cacheAuthorizedTTL": "5m0s", "cacheUnauthorizedTTL": "30s"}}
            ])
        );
    }
}
