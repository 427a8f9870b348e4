//! Volumes and volume mounts (`ValidateVolumes`, `validateVolumeSource`, the sources a node
//! agent serves, and `ValidateVolumeMounts`).
//!
//! Field paths are the API's, quirks included: a subPath error names
//! `spec.containers[0].volumeMounts.subPath` (no index), a downwardAPI item error names
//! `spec.volumes[0].downwardAPI.path`, and a second source named `downwardAPI` is reported
//! at `spec.volumes[0].downwarAPI`, as `ValidateVolumeMounts` and `validateVolumeSource`
//! spell them.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::{
    Container, DownwardAPIVolumeFile, KeyToPath, PodSpec, Volume, VolumeProjection,
};

use super::env::{validate_object_field_selector, validate_resource_field_selector};
use super::field::FieldError;
use super::identity::validate_dns1123_label;
use super::resources::parse_quantity;

/// `fileModeErrorMsg`.
const FILE_MODE_MESSAGE: &str = "must be a number between 0 and 0777 (octal), both inclusive";
/// The host path types (`supportedHostPathTypes`, sorted as the API lists them).
pub const HOST_PATH_TYPES: [&str; 8] = [
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];
/// The field paths a downwardAPI volume item's `fieldRef` may name
/// (`validVolumeDownwardAPIFieldPathExpressions`, sorted).
const VOLUME_FIELD_PATHS: [&str; 5] = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

/// `validatePathNoBacksteps`: no `..` element.
pub(crate) fn validate_path_no_backsteps(errors: &mut Vec<FieldError>, field: &str, path: &str) {
    if path.split('/').any(|part| part == "..") {
        errors.push(FieldError::invalid(field, path, "must not contain '..'"));
    }
}

/// `validateLocalDescendingPath`: relative, no `..` element.
fn validate_local_descending_path(errors: &mut Vec<FieldError>, field: &str, path: &str) {
    if path.starts_with('/') {
        errors.push(FieldError::invalid(field, path, "must be a relative path"));
    }
    validate_path_no_backsteps(errors, field, path);
}

/// `ValidateLocalNonReservedPath`: relative, no `..` element, not starting with `..`.
fn validate_local_non_reserved_path(errors: &mut Vec<FieldError>, field: &str, path: &str) {
    validate_local_descending_path(errors, field, path);
    if path.starts_with("..") && !path.starts_with("../") {
        errors.push(FieldError::invalid(field, path, "must not start with '..'"));
    }
}

fn validate_mode(errors: &mut Vec<FieldError>, field: &str, mode: Option<i32>) {
    if let Some(mode) = mode
        && !(0..=0o777).contains(&mode)
    {
        errors.push(FieldError::invalid(field, &mode, FILE_MODE_MESSAGE));
    }
}

/// `validateKeyToPath`.
fn validate_key_to_path(errors: &mut Vec<FieldError>, path: &str, item: &KeyToPath) {
    if item.key.is_empty() {
        errors.push(FieldError::required(format!("{path}.key"), ""));
    }
    if item.path.is_empty() {
        errors.push(FieldError::required(format!("{path}.path"), ""));
    }
    validate_local_non_reserved_path(errors, &format!("{path}.path"), &item.path);
    validate_mode(errors, &format!("{path}.mode"), item.mode);
}

/// `validateDownwardAPIVolumeFile`; `path` is the source's path, not the item's (the API
/// names no index).
fn validate_downward_api_file(
    errors: &mut Vec<FieldError>,
    path: &str,
    file: &DownwardAPIVolumeFile,
) {
    if file.path.is_empty() {
        errors.push(FieldError::required(format!("{path}.path"), ""));
    }
    validate_local_non_reserved_path(errors, &format!("{path}.path"), &file.path);
    match (&file.field_ref, &file.resource_field_ref) {
        (Some(field_ref), resource_ref) => {
            validate_object_field_selector(
                errors,
                &format!("{path}.fieldRef"),
                field_ref,
                &VOLUME_FIELD_PATHS,
            );
            if resource_ref.is_some() {
                errors.push(FieldError::invalid(
                    path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                ));
            }
        }
        (None, Some(resource_ref)) => validate_resource_field_selector(
            errors,
            &format!("{path}.resourceFieldRef"),
            resource_ref,
            true,
        ),
        (None, None) => errors.push(FieldError::required(
            path,
            "one of fieldRef and resourceFieldRef is required",
        )),
    }
    validate_mode(errors, &format!("{path}.mode"), file.mode);
}

/// `validateProjectionSources`: each source exactly one kind, items well formed, no path
/// used twice in the volume.
fn validate_projection_sources(
    errors: &mut Vec<FieldError>,
    path: &str,
    sources: &[VolumeProjection],
) {
    let mut paths = HashSet::new();
    for (index, source) in sources.iter().enumerate() {
        let at = format!("{path}.sources[{index}]");
        let mut kinds = 0;
        if let Some(secret) = &source.secret {
            kinds += 1;
            if secret.name.is_empty() {
                errors.push(FieldError::required(format!("{at}.secret.name"), ""));
            }
            for (item_index, item) in secret.items.iter().flatten().enumerate() {
                validate_key_to_path(errors, &format!("{at}.secret.items[{item_index}]"), item);
                if !item.path.is_empty() && !paths.insert(item.path.clone()) {
                    errors.push(FieldError::invalid(
                        path,
                        secret.name.as_str(),
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(config_map) = &source.config_map {
            kinds += 1;
            if config_map.name.is_empty() {
                errors.push(FieldError::required(format!("{at}.configMap.name"), ""));
            }
            for (item_index, item) in config_map.items.iter().flatten().enumerate() {
                validate_key_to_path(errors, &format!("{at}.configMap.items[{item_index}]"), item);
                if !item.path.is_empty() && !paths.insert(item.path.clone()) {
                    errors.push(FieldError::invalid(
                        path,
                        config_map.name.as_str(),
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(downward) = &source.downward_api {
            kinds += 1;
            for file in downward.items.iter().flatten() {
                validate_downward_api_file(errors, &format!("{at}.downwardAPI"), file);
                if !file.path.is_empty() && !paths.insert(file.path.clone()) {
                    errors.push(FieldError::invalid(
                        path,
                        &file.path,
                        "conflicting duplicate paths",
                    ));
                }
            }
        }
        if let Some(token) = &source.service_account_token {
            kinds += 1;
            let expiration = format!("{at}.serviceAccountToken.expirationSeconds");
            match token.expiration_seconds {
                None => errors.push(FieldError::required(expiration, "")),
                Some(seconds) => {
                    if seconds < 10 * 60 {
                        errors.push(FieldError::invalid(
                            &expiration,
                            &seconds,
                            "may not specify a duration less than 10 minutes",
                        ));
                    }
                    if seconds > 1 << 32 {
                        errors.push(FieldError::invalid(
                            &expiration,
                            &seconds,
                            "may not specify a duration larger than 2^32 seconds",
                        ));
                    }
                }
            }
            if token.path.is_empty() {
                errors.push(FieldError::required(format!("{path}.path"), ""));
            } else {
                validate_local_non_reserved_path(errors, &format!("{path}.path"), &token.path);
            }
        }
        if source.cluster_trust_bundle.is_some() {
            kinds += 1;
        }
        if source.pod_certificate.is_some() {
            kinds += 1;
        }
        if kinds > 1 {
            errors.push(FieldError::forbidden(
                at,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
}

/// The sources of a volume that are set, in the order `validateVolumeSource` checks them,
/// each with the name the API gives it in a "more than 1 volume type" error.
fn sources_set(volume: &Volume) -> Vec<&'static str> {
    [
        ("emptyDir", volume.empty_dir.is_some()),
        ("hostPath", volume.host_path.is_some()),
        ("gitRepo", volume.git_repo.is_some()),
        ("gcePersistentDisk", volume.gce_persistent_disk.is_some()),
        (
            "awsElasticBlockStore",
            volume.aws_elastic_block_store.is_some(),
        ),
        ("secret", volume.secret.is_some()),
        ("nfs", volume.nfs.is_some()),
        ("iscsi", volume.iscsi.is_some()),
        ("glusterfs", volume.glusterfs.is_some()),
        ("flocker", volume.flocker.is_some()),
        (
            "persistentVolumeClaim",
            volume.persistent_volume_claim.is_some(),
        ),
        ("rbd", volume.rbd.is_some()),
        ("cinder", volume.cinder.is_some()),
        ("cephFS", volume.cephfs.is_some()),
        ("quobyte", volume.quobyte.is_some()),
        // sic: validateVolumeSource's spelling.
        ("downwarAPI", volume.downward_api.is_some()),
        ("fc", volume.fc.is_some()),
        ("flexVolume", volume.flex_volume.is_some()),
        ("configMap", volume.config_map.is_some()),
        ("azureFile", volume.azure_file.is_some()),
        ("vsphereVolume", volume.vsphere_volume.is_some()),
        (
            "photonPersistentDisk",
            volume.photon_persistent_disk.is_some(),
        ),
        ("portworxVolume", volume.portworx_volume.is_some()),
        ("azureDisk", volume.azure_disk.is_some()),
        ("storageos", volume.storageos.is_some()),
        ("projected", volume.projected.is_some()),
        ("scaleIO", volume.scale_io.is_some()),
        ("csi", volume.csi.is_some()),
        ("ephemeral", volume.ephemeral.is_some()),
        ("image", volume.image.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(name, _)| name)
    .collect()
}

/// `validateVolumeSource` for the volume at `path`: exactly one source, and the source
/// well formed (the sources a node agent serves are checked in full: emptyDir, hostPath,
/// secret, configMap, downwardAPI, projected, persistentVolumeClaim).
fn validate_volume_source(errors: &mut Vec<FieldError>, path: &str, volume: &Volume) {
    let set = sources_set(volume);
    for extra in set.iter().skip(1) {
        errors.push(FieldError::forbidden(
            format!("{path}.{extra}"),
            "may not specify more than 1 volume type",
        ));
    }
    match set.first() {
        None => {
            errors.push(FieldError::required(path, "must specify a volume type"));
        }
        Some(&"emptyDir") => {
            if let Some(limit) = volume
                .empty_dir
                .as_ref()
                .and_then(|e| e.size_limit.as_ref())
            {
                let field = format!("{path}.emptyDir.sizeLimit");
                match parse_quantity(&limit.0) {
                    Err(message) => errors.push(FieldError::invalid(field, &limit.0, message)),
                    Ok(value) if value.is_negative() => errors.push(FieldError::forbidden(
                        field,
                        "SizeLimit field must be a valid resource quantity",
                    )),
                    Ok(_) => {}
                }
            }
        }
        Some(&"hostPath") => {
            let host_path = volume.host_path.as_ref().expect("set");
            if host_path.path.is_empty() {
                errors.push(FieldError::required(format!("{path}.hostPath.path"), ""));
            } else {
                validate_path_no_backsteps(
                    errors,
                    &format!("{path}.hostPath.path"),
                    &host_path.path,
                );
                if let Some(kind) = host_path.type_.as_deref()
                    && !HOST_PATH_TYPES.contains(&kind)
                {
                    errors.push(FieldError::not_supported(
                        format!("{path}.hostPath.type"),
                        kind,
                        &HOST_PATH_TYPES,
                    ));
                }
            }
        }
        Some(&"secret") => {
            let secret = volume.secret.as_ref().expect("set");
            if secret.secret_name.as_deref().unwrap_or("").is_empty() {
                errors.push(FieldError::required(
                    format!("{path}.secret.secretName"),
                    "",
                ));
            }
            validate_mode(
                errors,
                &format!("{path}.secret.defaultMode"),
                secret.default_mode,
            );
            for (index, item) in secret.items.iter().flatten().enumerate() {
                validate_key_to_path(errors, &format!("{path}.secret.items[{index}]"), item);
            }
        }
        Some(&"configMap") => {
            let config_map = volume.config_map.as_ref().expect("set");
            if config_map.name.is_empty() {
                errors.push(FieldError::required(format!("{path}.configMap.name"), ""));
            }
            validate_mode(
                errors,
                &format!("{path}.configMap.defaultMode"),
                config_map.default_mode,
            );
            for (index, item) in config_map.items.iter().flatten().enumerate() {
                validate_key_to_path(errors, &format!("{path}.configMap.items[{index}]"), item);
            }
        }
        Some(&"downwarAPI") => {
            let downward = volume.downward_api.as_ref().expect("set");
            let at = format!("{path}.downwardAPI");
            validate_mode(errors, &format!("{at}.defaultMode"), downward.default_mode);
            for file in downward.items.iter().flatten() {
                validate_downward_api_file(errors, &at, file);
            }
        }
        Some(&"projected") => {
            let projected = volume.projected.as_ref().expect("set");
            let at = format!("{path}.projected");
            validate_mode(errors, &format!("{at}.defaultMode"), projected.default_mode);
            validate_projection_sources(errors, &at, projected.sources.as_deref().unwrap_or(&[]));
        }
        Some(&"persistentVolumeClaim") => {
            let claim = volume.persistent_volume_claim.as_ref().expect("set");
            if claim.claim_name.is_empty() {
                errors.push(FieldError::required(
                    format!("{path}.persistentVolumeClaim.claimName"),
                    "",
                ));
            }
        }
        Some(_) => {}
    }
}

/// `ValidateVolumes`: each volume named (a DNS-1123 label, unique in the pod) and with
/// exactly one well-formed source. Returns the volumes without errors, by name: only those
/// can be mounted (`IsMatchedVolume`).
pub(crate) fn validate_volumes<'a>(
    errors: &mut Vec<FieldError>,
    spec: &'a PodSpec,
) -> HashMap<&'a str, &'a Volume> {
    let mut valid = HashMap::new();
    let mut names = HashSet::new();
    for (index, volume) in spec.volumes.iter().flatten().enumerate() {
        let path = format!("spec.volumes[{index}]");
        let mut own = Vec::new();
        validate_volume_source(&mut own, &path, volume);
        let name_field = format!("{path}.name");
        if volume.name.is_empty() {
            own.push(FieldError::required(&name_field, ""));
        } else {
            validate_dns1123_label(&mut own, &name_field, &volume.name);
        }
        if names.contains(volume.name.as_str()) {
            own.push(FieldError::duplicate(&name_field, &volume.name));
        }
        if own.is_empty() {
            names.insert(volume.name.as_str());
            valid.insert(volume.name.as_str(), volume);
        } else {
            errors.append(&mut own);
        }
    }
    valid
}

/// `ValidateVolumeMounts` for the container at `path`: each mount names a volume of the pod
/// (one without errors), has a `mountPath` unique in the container, a `subPath` and
/// `subPathExpr` (not both) that are relative and without `..`, and a known
/// `mountPropagation` (`Bidirectional` only for a privileged container) and
/// `recursiveReadOnly`.
pub(crate) fn validate_volume_mounts(
    errors: &mut Vec<FieldError>,
    path: &str,
    container: &Container,
    volumes: &HashMap<&str, &Volume>,
) {
    let mut mount_paths = HashSet::new();
    let mounts_path = format!("{path}.volumeMounts");
    for (index, mount) in container.volume_mounts.iter().flatten().enumerate() {
        let at = format!("{mounts_path}[{index}]");
        if mount.name.is_empty() {
            errors.push(FieldError::required(format!("{at}.name"), ""));
        }
        if !volumes.contains_key(mount.name.as_str()) {
            errors.push(FieldError::not_found(format!("{at}.name"), &mount.name));
        }
        if mount.mount_path.is_empty() {
            errors.push(FieldError::required(format!("{at}.mountPath"), ""));
        }
        if !mount_paths.insert(mount.mount_path.as_str()) {
            errors.push(FieldError::invalid(
                format!("{at}.mountPath"),
                &mount.mount_path,
                "must be unique",
            ));
        }
        let sub_path = mount.sub_path.as_deref().unwrap_or("");
        if !sub_path.is_empty() {
            validate_local_descending_path(errors, &format!("{mounts_path}.subPath"), sub_path);
        }
        let sub_path_expr = mount.sub_path_expr.as_deref().unwrap_or("");
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                errors.push(FieldError::invalid(
                    format!("{at}.subPathExpr"),
                    sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            validate_local_descending_path(
                errors,
                &format!("{mounts_path}.subPathExpr"),
                sub_path_expr,
            );
        }
        if let Some(propagation) = mount.mount_propagation.as_deref() {
            let field = format!("{mounts_path}.mountPropagation");
            const PROPAGATIONS: [&str; 3] = ["Bidirectional", "HostToContainer", "None"];
            if !PROPAGATIONS.contains(&propagation) {
                errors.push(FieldError::not_supported(
                    &field,
                    propagation,
                    &PROPAGATIONS,
                ));
            }
            let privileged = container
                .security_context
                .as_ref()
                .and_then(|s| s.privileged)
                .unwrap_or(false);
            if propagation == "Bidirectional" && !privileged {
                errors.push(FieldError::forbidden(
                    field,
                    "Bidirectional mount propagation is available only to privileged \
                     containers",
                ));
            }
        }
        if let Some(recursive) = mount.recursive_read_only.as_deref() {
            let field = format!("{mounts_path}.recursiveReadOnly");
            match recursive {
                "Disabled" => {}
                "Enabled" | "IfPossible" => {
                    if mount.read_only != Some(true) {
                        errors.push(FieldError::forbidden(
                            &field,
                            "may only be specified when readOnly is true",
                        ));
                    }
                    if mount
                        .mount_propagation
                        .as_deref()
                        .is_some_and(|p| p != "None")
                    {
                        errors.push(FieldError::forbidden(
                            &field,
                            "may only be specified when mountPropagation is None or not \
                             specified",
                        ));
                    }
                }
                other => errors.push(FieldError::not_supported(
                    &field,
                    other,
                    &["Disabled", "Enabled", "IfPossible"],
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ConfigMapVolumeSource, EmptyDirVolumeSource, HostPathVolumeSource, VolumeMount,
    };

    fn empty_dir(name: &str) -> Volume {
        Volume {
            name: name.into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        }
    }

    fn mount(name: &str, path: &str) -> VolumeMount {
        VolumeMount {
            name: name.into(),
            mount_path: path.into(),
            ..Default::default()
        }
    }

    fn errors(volumes: Vec<Volume>, mounts: Vec<VolumeMount>) -> Vec<String> {
        let spec = PodSpec {
            volumes: Some(volumes),
            ..Default::default()
        };
        let container = Container {
            name: "main".into(),
            volume_mounts: Some(mounts),
            ..Default::default()
        };
        let mut errors = Vec::new();
        let valid = validate_volumes(&mut errors, &spec);
        validate_volume_mounts(&mut errors, "spec.containers[0]", &container, &valid);
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn sp_02_volume_names_are_unique_labels() {
        assert!(errors(vec![empty_dir("data"), empty_dir("cache")], vec![]).is_empty());
        assert_eq!(
            errors(vec![empty_dir("data"), empty_dir("data")], vec![]),
            ["spec.volumes[1].name: Duplicate value: \"data\""]
        );
        assert!(errors(vec![empty_dir("Data")], vec![])[0].starts_with(
            "spec.volumes[0].name: Invalid value: \"Data\": a lowercase RFC 1123 label"
        ));
        assert_eq!(
            errors(vec![empty_dir("")], vec![]),
            ["spec.volumes[0].name: Required value"]
        );
    }

    #[test]
    fn sp_02_a_volume_has_exactly_one_source() {
        let mut two = empty_dir("data");
        two.host_path = Some(HostPathVolumeSource {
            path: "/tmp".into(),
            type_: None,
        });
        assert_eq!(
            errors(vec![two], vec![]),
            ["spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"]
        );
        assert_eq!(
            errors(
                vec![Volume {
                    name: "none".into(),
                    ..Default::default()
                }],
                vec![]
            ),
            ["spec.volumes[0]: Required value: must specify a volume type"]
        );
    }

    #[test]
    fn sp_02_host_paths_and_items_are_checked() {
        let host = |path: &str, kind: Option<&str>| Volume {
            name: "host".into(),
            host_path: Some(HostPathVolumeSource {
                path: path.into(),
                type_: kind.map(Into::into),
            }),
            ..Default::default()
        };
        assert!(errors(vec![host("/var/log", Some("Directory"))], vec![]).is_empty());
        assert_eq!(
            errors(vec![host("/var/../etc", None)], vec![]),
            [
                "spec.volumes[0].hostPath.path: Invalid value: \"/var/../etc\": must not contain \
              '..'"
            ]
        );
        assert!(
            errors(vec![host("/x", Some("Dir"))], vec![])[0]
                .starts_with("spec.volumes[0].hostPath.type: Unsupported value: \"Dir\"")
        );
        let config = Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: "settings".into(),
                items: Some(vec![KeyToPath {
                    key: "a".into(),
                    path: "/abs".into(),
                    mode: Some(0o1000),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            errors(vec![config], vec![]),
            [
                "spec.volumes[0].configMap.items[0].path: Invalid value: \"/abs\": must be a \
                 relative path",
                "spec.volumes[0].configMap.items[0].mode: Invalid value: 512: must be a number \
                 between 0 and 0777 (octal), both inclusive",
            ]
        );
    }

    #[test]
    fn sp_02_mounts_name_existing_volumes_at_unique_paths() {
        assert!(errors(vec![empty_dir("data")], vec![mount("data", "/data")]).is_empty());
        assert_eq!(
            errors(vec![empty_dir("data")], vec![mount("cache", "/cache")]),
            ["spec.containers[0].volumeMounts[0].name: Not found: \"cache\""]
        );
        assert_eq!(
            errors(
                vec![empty_dir("data"), empty_dir("logs")],
                vec![mount("data", "/data"), mount("logs", "/data")]
            ),
            [
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/data\": must be \
              unique"
            ]
        );
        assert_eq!(
            errors(vec![empty_dir("data")], vec![mount("data", "")]),
            ["spec.containers[0].volumeMounts[0].mountPath: Required value"]
        );
        // A mount of a volume that has errors is not found either.
        assert_eq!(
            errors(vec![empty_dir("Data")], vec![mount("Data", "/d")]).len(),
            2
        );
    }

    #[test]
    fn sp_02_sub_paths_are_relative_and_without_dot_dot() {
        let with_sub_path = |sub_path: &str| VolumeMount {
            sub_path: Some(sub_path.into()),
            ..mount("data", "/data")
        };
        assert!(errors(vec![empty_dir("data")], vec![with_sub_path("a/b..c")]).is_empty());
        assert_eq!(
            errors(vec![empty_dir("data")], vec![with_sub_path("/etc")]),
            [
                "spec.containers[0].volumeMounts.subPath: Invalid value: \"/etc\": must be a \
              relative path"
            ]
        );
        assert_eq!(
            errors(vec![empty_dir("data")], vec![with_sub_path("a/../../etc")]),
            [
                "spec.containers[0].volumeMounts.subPath: Invalid value: \"a/../../etc\": must \
              not contain '..'"
            ]
        );
        let both = VolumeMount {
            sub_path_expr: Some("$(POD_NAME)".into()),
            ..with_sub_path("x")
        };
        assert_eq!(
            errors(vec![empty_dir("data")], vec![both]),
            [
                "spec.containers[0].volumeMounts[0].subPathExpr: Invalid value: \"$(POD_NAME)\": \
              subPathExpr and subPath are mutually exclusive"
            ]
        );
    }
}
