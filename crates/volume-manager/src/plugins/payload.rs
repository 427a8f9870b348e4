//! What configMap, secret, downwardAPI and projected volumes share: modes, `items`, the
//! wrapped emptyDir and the atomic write.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::KeyToPath;

use super::VolumeContext;
use super::empty_dir;
use crate::Result;
use crate::atomic_writer::{AtomicWriter, FileProjection, Payload, WriteOutcome};

/// The API default of `defaultMode` (0644, decimal 420).
pub(crate) const DEFAULT_MODE: u32 = 0o644;

/// A file mode from the spec, checked as the API server checks it (0 to 0777).
pub(crate) fn file_mode(
    ctx: &VolumeContext<'_>,
    field: &str,
    mode: Option<i32>,
    default: u32,
) -> Result<u32> {
    match mode {
        None => Ok(default),
        Some(m) if (0..=0o777).contains(&m) => Ok(m as u32),
        Some(m) => Err(ctx.fail(
            field,
            format!("{m}: must be a number between 0 and 0777 (octal), both inclusive"),
        )),
    }
}

/// A file owner from the spec (`items[].user`, `defaultUser`): none unless the
/// `AtomicWriteVolumeUserFields` gate is on (`ResolvesFsUser`), as the kubelet ignores
/// these fields without it.
pub(crate) fn owner(
    ctx: &VolumeContext<'_>,
    field: &str,
    user: Option<i64>,
) -> Result<Option<u32>> {
    match user {
        _ if !ctx.volume_user_fields => Ok(None),
        None => Ok(None),
        Some(u) => u32::try_from(u)
            .map(Some)
            .map_err(|_| ctx.fail(field, format!("{u}: must be a valid user ID"))),
    }
}

/// The kubelet's `MakePayload` for configMaps and secrets: every key when `items` is
/// empty, else only the listed keys at their paths; a listed key that is missing is
/// skipped when `optional`, else an error (`missing(key)` gives its message).
#[allow(clippy::too_many_arguments)]
pub(crate) fn make_payload(
    ctx: &VolumeContext<'_>,
    field: &str,
    items: Option<&[KeyToPath]>,
    data: &BTreeMap<String, Vec<u8>>,
    default_mode: u32,
    default_user: Option<u32>,
    optional: bool,
    missing: &dyn Fn(&str) -> String,
) -> Result<Payload> {
    let mut payload = Payload::new();
    match items {
        None | Some([]) => {
            for (key, value) in data {
                crate::atomic_writer::validate_path(key)
                    .map_err(|m| ctx.fail(field, format!("key {key:?}: {m}")))?;
                payload.insert(
                    key.clone(),
                    FileProjection {
                        data: value.clone(),
                        mode: default_mode,
                        owner: default_user,
                    },
                );
            }
        }
        Some(items) => {
            for (i, item) in items.iter().enumerate() {
                let Some(value) = data.get(&item.key) else {
                    if optional {
                        continue;
                    }
                    return Err(ctx.fail(&format!("{field}.items[{i}].key"), missing(&item.key)));
                };
                let item_field = format!("{field}.items[{i}]");
                crate::atomic_writer::validate_path(&item.path)
                    .map_err(|m| ctx.fail(&format!("{item_field}.path"), m))?;
                payload.insert(
                    item.path.clone(),
                    FileProjection {
                        data: value.clone(),
                        mode: file_mode(
                            ctx,
                            &format!("{item_field}.mode"),
                            item.mode,
                            default_mode,
                        )?,
                        owner: owner(ctx, &format!("{item_field}.user"), item.user)?
                            .or(default_user),
                    },
                );
            }
        }
    }
    Ok(payload)
}

/// Sets up the wrapped emptyDir of a volume (`NewWrapperMounter`): its directory under
/// `plugin`, a tmpfs when `memory` (sized like a `medium: Memory` emptyDir without a
/// `sizeLimit`: the node's allocatable memory, or the pod's memory limit when smaller), the
/// ready marker `wrapped_<volume>`; then the mount points of volumes mounted inside this one
/// (`MakeNestedMountpoints`), before any file is written.
pub(crate) fn set_up_wrapped(
    ctx: &VolumeContext<'_>,
    plugin: &str,
    memory: bool,
) -> Result<PathBuf> {
    let dir = ctx.volume_dir(plugin)?;
    let size = memory.then(|| {
        empty_dir::memory_volume_size(
            None,
            empty_dir::pod_memory_limit(ctx.pod),
            ctx.node.memory_bytes,
        )
    });
    empty_dir::set_up_dir(
        ctx,
        &dir,
        size,
        0o777,
        &format!("wrapped_{}", ctx.volume.name),
    )?;
    super::nested::make_nested_mount_points(ctx, &dir)?;
    Ok(dir)
}

/// Writes the payload atomically, applying fsGroup ownership (read-only masks) before the
/// swap.
///
/// With an fsGroup, each file's expected mode is the one the ownership walk leaves (a
/// token's 0600 becomes 0640): the writer compares modes to decide whether to swap, and
/// comparing against the mode before the walk would swap the volume at every resync. The
/// kubelet ends with the same files (it compares content only).
pub(crate) fn write(
    ctx: &VolumeContext<'_>,
    dir: &std::path::Path,
    payload: &Payload,
) -> Result<WriteOutcome> {
    let writer = AtomicWriter::new(dir, ctx.pod_name);
    match super::ownership::fs_group(ctx) {
        Some(gid) => {
            let mut widened = payload.clone();
            for file in widened.values_mut() {
                file.mode = super::ownership::file_mode_with_fs_group(file.mode, true);
            }
            writer.write_with(&widened, &|d| super::ownership::set_ownership(d, gid, true))
        }
        None => writer.write(payload),
    }
}
