//! projected (`pkg/volume/projected/projected.go`): configMap, secret, downwardAPI and
//! serviceAccountToken sources merged into one tmpfs volume, written atomically.
//!
//! This is the volume every pod of a cluster gets (`kube-api-access-<random>`): a bound
//! service account token at `token`, the cluster's CA at `ca.crt` (ConfigMap
//! `kube-root-ca.crt`) and the pod's namespace at `namespace`.
//!
//! `serviceAccountToken` sources get their token from the manager's
//! [`TokenSource`](crate::tokens::TokenSource), asked again on every resync, so a renewed
//! token reaches the file at the next sync (the atomic writer swaps only when the content
//! changed). Without an API server ([`NoTokens`](crate::tokens::NoTokens), standalone
//! mode) such a volume fails to mount with a message that says so. `clusterTrustBundle`
//! and `podCertificate` sources need API objects that this node agent does not fetch yet:
//! they fail the same way. Either way the pod stays `ContainerCreating`, rather than
//! running without the file.

use k8s_openapi::api::core::v1::{Pod, ServiceAccountTokenProjection, Volume};

use super::config_map::config_map_payload;
use super::downward_api::downward_payload;
use super::payload::{self, DEFAULT_MODE};
use super::secret::secret_payload;
use super::{SetUpResult, VolumeAttributes, VolumeContext, VolumePlugin};
use crate::Result;
use crate::atomic_writer::{FileProjection, Payload};
use crate::tokens::ServiceAccountTokenRequest;

/// The plugin's name.
pub(crate) const PLUGIN_NAME: &str = "kubernetes.io/projected";

/// projected volumes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProjectedPlugin;

impl VolumePlugin for ProjectedPlugin {
    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn can_support(&self, volume: &Volume) -> bool {
        volume.projected.is_some()
    }

    fn attributes(&self, _volume: &Volume) -> VolumeAttributes {
        VolumeAttributes {
            read_only: true,
            managed: true,
            selinux_relabel: true,
        }
    }

    fn requires_remount(&self) -> bool {
        true
    }

    /// `collectData` over every source (later sources win on a shared path), then the
    /// wrapped tmpfs emptyDir and one atomic write.
    fn set_up(&self, ctx: &VolumeContext<'_>) -> Result<SetUpResult> {
        let Some(source) = ctx.volume.projected.as_ref() else {
            return Err(ctx.fail(".projected", "not a projected volume"));
        };
        let default = payload::file_mode(
            ctx,
            ".projected.defaultMode",
            source.default_mode,
            DEFAULT_MODE,
        )?;
        let user = payload::owner(ctx, ".projected.defaultUser", source.default_user)?;
        let mut all = Payload::new();
        for (i, projection) in source.sources.iter().flatten().enumerate() {
            let field = format!(".projected.sources[{i}]");
            let part = if let Some(cm) = &projection.config_map {
                let mut p = config_map_payload(
                    ctx,
                    &format!("{field}.configMap"),
                    &cm.name,
                    cm.items.as_deref(),
                    None,
                    None,
                    cm.optional.unwrap_or(false),
                    Some(default),
                )?;
                set_default_owner(&mut p, user);
                p
            } else if let Some(s) = &projection.secret {
                let mut p = secret_payload(
                    ctx,
                    &format!("{field}.secret"),
                    &s.name,
                    s.items.as_deref(),
                    None,
                    None,
                    s.optional.unwrap_or(false),
                    Some(default),
                )?;
                set_default_owner(&mut p, user);
                p
            } else if let Some(d) = &projection.downward_api {
                downward_payload(
                    ctx,
                    &format!("{field}.downwardAPI"),
                    d.items.as_deref().unwrap_or(&[]),
                    default,
                    user,
                )?
            } else if let Some(t) = &projection.service_account_token {
                token_payload(
                    ctx,
                    &format!("{field}.serviceAccountToken"),
                    t,
                    default,
                    user,
                )?
            } else if projection.cluster_trust_bundle.is_some() {
                return Err(ctx.fail(
                    &format!("{field}.clusterTrustBundle"),
                    "clusterTrustBundle projections need ClusterTrustBundle objects from the API server (cluster mode), which this node agent does not support yet",
                ));
            } else if projection.pod_certificate.is_some() {
                return Err(ctx.fail(
                    &format!("{field}.podCertificate"),
                    "podCertificate projections need the API server (cluster mode), which this node agent does not support yet",
                ));
            } else {
                Payload::new()
            };
            all.extend(part);
        }
        let dir = payload::set_up_wrapped(ctx, PLUGIN_NAME, true)?;
        payload::write(ctx, &dir, &all)?;
        Ok(SetUpResult {
            tmpfs: true,
            size_limit: None,
        })
    }
}

fn set_default_owner(payload: &mut Payload, user: Option<u32>) {
    for file in payload.values_mut() {
        if file.owner.is_none() {
            file.owner = user;
        }
    }
}

/// The message of a `serviceAccountToken` projection when the token source issues no
/// tokens ([`NoTokens`](crate::tokens::NoTokens)).
const NO_TOKENS: &str = "serviceAccountToken projections need a token from the API server (cluster mode), which this node agent does not support yet";

/// The `serviceAccountToken` case of `collectData`: one file at `path` holding the token
/// the [`TokenSource`](crate::tokens::TokenSource) returns for the pod's service account.
///
/// Its owner is the projection's `user`, else the volume's `defaultUser`, else the one
/// `runAsUser` every container of the pod runs as (`resolveFsUser` over `FsUserFrom`). Its
/// mode is the volume's `defaultMode` (0644 unless set), but 0600 when it gets an owner or
/// the pod has an `fsGroup`: the kubelet keeps a token private to its reader, and fsGroup
/// ownership then widens it to 0640 for the group.
fn token_payload(
    ctx: &VolumeContext<'_>,
    field: &str,
    projection: &ServiceAccountTokenProjection,
    default_mode: u32,
    default_user: Option<u32>,
) -> Result<Payload> {
    crate::atomic_writer::validate_path(&projection.path)
        .map_err(|m| ctx.fail(&format!("{field}.path"), m))?;
    let owner = payload::owner(ctx, &format!("{field}.user"), projection.user)?
        .or(default_user)
        .or_else(|| fs_user_from(ctx.pod));
    let mode = if owner.is_some() || super::ownership::fs_group(ctx).is_some() {
        0o600
    } else {
        default_mode
    };
    let request = token_request(ctx, field, projection)?;
    let token = match ctx.tokens.service_account_token(&request) {
        Ok(Some(token)) => token,
        Ok(None) => return Err(ctx.fail(field, NO_TOKENS)),
        // The kubelet's token manager words it so; the source's message never holds a
        // token (`TokenSource`'s contract), and nothing here adds one.
        Err(e) => return Err(ctx.fail(field, format!("failed to fetch token: {e}"))),
    };
    tracing::debug!(
        pod = %ctx.pod_name,
        volume = %ctx.volume.name,
        service_account = %request.service_account_name,
        bytes = token.as_str().len(),
        "received service account token"
    );
    let mut payload = Payload::new();
    payload.insert(
        projection.path.clone(),
        FileProjection {
            data: token.as_str().as_bytes().to_vec(),
            mode,
            owner,
        },
    );
    Ok(payload)
}

/// The TokenRequest for a projection (`collectData`): posted for the pod's service
/// account in its namespace, bound to the pod by name and UID, with the projection's
/// audience (none, for the API server's own, when empty) and lifetime.
fn token_request(
    ctx: &VolumeContext<'_>,
    field: &str,
    projection: &ServiceAccountTokenProjection,
) -> Result<ServiceAccountTokenRequest> {
    let meta = &ctx.pod.metadata;
    let (Some(pod_name), Some(pod_uid)) = (
        meta.name.as_deref().filter(|n| !n.is_empty()),
        meta.uid.as_deref().filter(|u| !u.is_empty()),
    ) else {
        return Err(ctx.fail(
            field,
            "a service account token is bound to its pod: the pod needs metadata.name and metadata.uid",
        ));
    };
    Ok(ServiceAccountTokenRequest {
        namespace: ctx.namespace().to_owned(),
        service_account_name: service_account_name(ctx.pod).to_owned(),
        audience: projection.audience.clone().filter(|a| !a.is_empty()),
        expiration_seconds: projection.expiration_seconds,
        pod_name: pod_name.to_owned(),
        pod_uid: pod_uid.to_owned(),
    })
}

/// The pod's service account: `spec.serviceAccountName`, else the deprecated
/// `spec.serviceAccount` (the API's conversion copies it over), else `default` (what the
/// ServiceAccount admission plugin sets; static pods never pass through it).
fn service_account_name(pod: &Pod) -> &str {
    let spec = pod.spec.as_ref();
    spec.and_then(|s| s.service_account_name.as_deref())
        .filter(|n| !n.is_empty())
        .or_else(|| {
            spec.and_then(|s| s.service_account.as_deref())
                .filter(|n| !n.is_empty())
        })
        .unwrap_or("default")
}

/// `FsUserFrom`: the `runAsUser` that every container (init, regular and ephemeral) runs
/// as, its own or the pod's; `None` when one has none or two differ.
fn fs_user_from(pod: &Pod) -> Option<u32> {
    let spec = pod.spec.as_ref()?;
    let pod_user = spec.security_context.as_ref().and_then(|s| s.run_as_user);
    let own = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .map(|c| c.security_context.as_ref().and_then(|s| s.run_as_user))
        .chain(
            spec.ephemeral_containers
                .iter()
                .flatten()
                .map(|c| c.security_context.as_ref().and_then(|s| s.run_as_user)),
        );
    let mut user = None;
    for container_user in own {
        let effective = container_user.or(pod_user)?;
        match user {
            Some(u) if u != effective => return None,
            _ => user = Some(effective),
        }
    }
    user.and_then(|u| u32::try_from(u).ok())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{
        Container, EphemeralContainer, PodSecurityContext, PodSpec, SecurityContext,
    };

    use super::*;

    fn user(uid: Option<i64>) -> Option<SecurityContext> {
        uid.map(|u| SecurityContext {
            run_as_user: Some(u),
            ..Default::default()
        })
    }

    fn pod(pod_user: Option<i64>, users: &[Option<i64>], ephemeral: Option<Option<i64>>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                security_context: pod_user.map(|u| PodSecurityContext {
                    run_as_user: Some(u),
                    ..Default::default()
                }),
                containers: users
                    .iter()
                    .map(|u| Container {
                        security_context: user(*u),
                        ..Default::default()
                    })
                    .collect(),
                ephemeral_containers: ephemeral.map(|u| {
                    vec![EphemeralContainer {
                        security_context: user(u),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn fs_user_is_the_one_run_as_user_of_every_container() {
        assert_eq!(fs_user_from(&pod(None, &[Some(5)], None)), Some(5));
        assert_eq!(fs_user_from(&pod(Some(7), &[None, Some(7)], None)), Some(7));
        assert_eq!(fs_user_from(&pod(Some(7), &[None, Some(8)], None)), None);
        assert_eq!(fs_user_from(&pod(None, &[Some(5), None], None)), None);
        assert_eq!(fs_user_from(&pod(None, &[Some(5)], Some(None))), None);
        assert_eq!(fs_user_from(&pod(None, &[Some(5)], Some(Some(5)))), Some(5));
        assert_eq!(fs_user_from(&pod(Some(7), &[], None)), None);
        assert_eq!(fs_user_from(&pod(None, &[Some(-1)], None)), None);
    }

    #[test]
    fn service_account_defaults_as_the_api_server() {
        let mut p = pod(None, &[None], None);
        assert_eq!(service_account_name(&p), "default");
        let spec = p.spec.as_mut().unwrap();
        spec.service_account = Some("old".into());
        assert_eq!(service_account_name(&p), "old");
        let spec = p.spec.as_mut().unwrap();
        spec.service_account_name = Some("new".into());
        assert_eq!(service_account_name(&p), "new");
        let spec = p.spec.as_mut().unwrap();
        spec.service_account_name = Some(String::new());
        assert_eq!(service_account_name(&p), "old");
    }
}
