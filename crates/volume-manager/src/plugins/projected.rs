//! projected (`pkg/volume/projected/projected.go`): configMap, secret and downwardAPI
//! sources merged into one tmpfs volume, written atomically.
//!
//! `serviceAccountToken` sources need a token from the API server (TokenRequest), which
//! arrives with cluster mode; `clusterTrustBundle` and `podCertificate` sources need API
//! objects too. Until then a volume with one of them fails to mount with a message that
//! says so, and the pod stays `ContainerCreating`, rather than running without the file.

use k8s_openapi::api::core::v1::Volume;

use super::config_map::config_map_payload;
use super::downward_api::downward_payload;
use super::payload::{self, DEFAULT_MODE};
use super::secret::secret_payload;
use super::{SetUpResult, VolumeAttributes, VolumeContext, VolumePlugin};
use crate::Result;
use crate::atomic_writer::Payload;

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
        let source = ctx.volume.projected.as_ref().expect("can_support checked");
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
            } else if projection.service_account_token.is_some() {
                return Err(ctx.fail(
                    &format!("{field}.serviceAccountToken"),
                    "serviceAccountToken projections need a token from the API server (cluster mode), which this node agent does not support yet",
                ));
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
