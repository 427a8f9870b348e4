//! configMap (`pkg/volume/configmap/configmap.go`): the keys of a ConfigMap as files, on
//! disk, written atomically, read-only in containers.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Volume};

use super::payload::{self, DEFAULT_MODE};
use super::{SetUpResult, VolumeAttributes, VolumeContext, VolumePlugin};
use crate::Result;
use crate::atomic_writer::Payload;

/// The plugin's name.
pub(crate) const PLUGIN_NAME: &str = "kubernetes.io/configmap";

/// configMap volumes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConfigMapPlugin;

impl VolumePlugin for ConfigMapPlugin {
    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn can_support(&self, volume: &Volume) -> bool {
        volume.config_map.is_some()
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

    /// `SetUpAt`: the ConfigMap fetched (a missing one is an empty volume when `optional`,
    /// else `configmap "<name>" not found`), its payload made, the wrapped disk emptyDir set
    /// up and the payload written atomically.
    fn set_up(&self, ctx: &VolumeContext<'_>) -> Result<SetUpResult> {
        let source = ctx.volume.config_map.as_ref().expect("can_support checked");
        let payload = config_map_payload(
            ctx,
            ".configMap",
            &source.name,
            source.items.as_deref(),
            source.default_mode,
            source.default_user,
            source.optional.unwrap_or(false),
            None,
        )?;
        let dir = payload::set_up_wrapped(ctx, PLUGIN_NAME, false)?;
        payload::write(ctx, &dir, &payload)?;
        Ok(SetUpResult {
            tmpfs: false,
            size_limit: None,
        })
    }
}

/// The payload of a ConfigMap (shared with projected sources, which pass the projected
/// volume's `defaultMode` as `inherited_mode`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn config_map_payload(
    ctx: &VolumeContext<'_>,
    field: &str,
    name: &str,
    items: Option<&[k8s_openapi::api::core::v1::KeyToPath]>,
    default_mode: Option<i32>,
    default_user: Option<i64>,
    optional: bool,
    inherited_mode: Option<u32>,
) -> Result<Payload> {
    let default = match inherited_mode {
        Some(m) => m,
        None => payload::file_mode(
            ctx,
            &format!("{field}.defaultMode"),
            default_mode,
            DEFAULT_MODE,
        )?,
    };
    let user = payload::owner(ctx, &format!("{field}.defaultUser"), default_user)?;
    let config_map = ctx
        .objects
        .config_map(ctx.namespace(), name)
        .map_err(|e| ctx.fail(&format!("{field}.name"), e.to_string()))?;
    let config_map = match config_map {
        Some(cm) => cm,
        None if optional => ConfigMap::default(),
        None => {
            return Err(ctx.fail(
                &format!("{field}.name"),
                format!("configmap {name:?} not found"),
            ));
        }
    };
    let mut data: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (k, v) in config_map.data.unwrap_or_default() {
        data.insert(k, v.into_bytes());
    }
    for (k, v) in config_map.binary_data.unwrap_or_default() {
        data.insert(k, v.0);
    }
    tracing::debug!(pod = %ctx.pod_name, volume = %ctx.volume.name, configmap = %name, keys = data.len(), total_bytes = data.values().map(Vec::len).sum::<usize>(), "received configmap");
    payload::make_payload(ctx, field, items, &data, default, user, optional, &|key| {
        format!("configmap references non-existent config key: {key}")
    })
}
