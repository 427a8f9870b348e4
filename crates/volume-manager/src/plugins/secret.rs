//! secret (`pkg/volume/secret/secret.go`): the keys of a Secret as files on a tmpfs, so
//! they never reach the node's disk, written atomically, read-only in containers. Contents
//! are never logged: only names, key counts and sizes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{KeyToPath, Secret, Volume};

use super::payload::{self, DEFAULT_MODE};
use super::{SetUpResult, VolumeAttributes, VolumeContext, VolumePlugin};
use crate::Result;
use crate::atomic_writer::Payload;

/// The plugin's name.
pub(crate) const PLUGIN_NAME: &str = "kubernetes.io/secret";

/// secret volumes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecretPlugin;

impl VolumePlugin for SecretPlugin {
    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn can_support(&self, volume: &Volume) -> bool {
        volume.secret.is_some()
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

    /// `SetUpAt`: the Secret fetched (missing: empty when `optional`, else
    /// `secret "<name>" not found`), the wrapped tmpfs emptyDir set up, the payload written.
    fn set_up(&self, ctx: &VolumeContext<'_>) -> Result<SetUpResult> {
        let source = ctx.volume.secret.as_ref().expect("can_support checked");
        let name = source.secret_name.as_deref().unwrap_or("");
        let payload = secret_payload(
            ctx,
            ".secret",
            name,
            source.items.as_deref(),
            source.default_mode,
            source.default_user,
            source.optional.unwrap_or(false),
            None,
        )?;
        let dir = payload::set_up_wrapped(ctx, PLUGIN_NAME, true)?;
        payload::write(ctx, &dir, &payload)?;
        Ok(SetUpResult {
            tmpfs: true,
            size_limit: None,
        })
    }
}

/// The payload of a Secret (shared with projected sources).
#[allow(clippy::too_many_arguments)]
pub(crate) fn secret_payload(
    ctx: &VolumeContext<'_>,
    field: &str,
    name: &str,
    items: Option<&[KeyToPath]>,
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
    let name_field = if field.ends_with(".secret") && inherited_mode.is_none() {
        format!("{field}.secretName")
    } else {
        format!("{field}.name")
    };
    let secret = ctx
        .objects
        .secret(ctx.namespace(), name)
        .map_err(|e| ctx.fail(&name_field, e.to_string()))?;
    let secret = match secret {
        Some(s) => s,
        None if optional => Secret::default(),
        None => return Err(ctx.fail(&name_field, format!("secret {name:?} not found"))),
    };
    let data: BTreeMap<String, Vec<u8>> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    tracing::debug!(pod = %ctx.pod_name, volume = %ctx.volume.name, secret = %name, keys = data.len(), total_bytes = data.values().map(Vec::len).sum::<usize>(), "received secret");
    payload::make_payload(ctx, field, items, &data, default, user, optional, &|key| {
        format!("references non-existent secret key: {key}")
    })
}
