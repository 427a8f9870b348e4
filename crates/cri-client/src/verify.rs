//! Response checks the kubelet's CRI client makes before trusting a reply
//! (`verifySandboxStatus`, `verifyContainerStatus` in `remote_runtime.go`). A reply that
//! fails them is an error of the call, never a half-filled status passed on.

use crate::{Error, Result, v1};

/// Check a `PodSandboxStatus` reply: `id`, `metadata{name, namespace, uid}` and `created_at`
/// must be set.
pub fn check_sandbox_status(id: &str, status: Option<&v1::PodSandboxStatus>) -> Result<()> {
    let invalid = |reason: &str| Error::InvalidResponse {
        call: "PodSandboxStatus",
        id: Some(id.to_string()),
        reason: reason.to_string(),
    };
    let status = status.ok_or_else(|| invalid("status is not set"))?;
    if status.id.is_empty() {
        return Err(invalid("id is not set"));
    }
    let metadata = status
        .metadata
        .as_ref()
        .ok_or_else(|| invalid("metadata is not set"))?;
    if metadata.name.is_empty() || metadata.namespace.is_empty() || metadata.uid.is_empty() {
        return Err(invalid(
            "metadata.name, metadata.namespace or metadata.uid is not set",
        ));
    }
    if status.created_at == 0 {
        return Err(invalid("created_at is not set"));
    }
    Ok(())
}

/// Check a `ContainerStatus` reply: `id`, `metadata.name`, `created_at`, `image.image` and
/// `image_ref` must be set.
pub fn check_container_status(id: &str, status: Option<&v1::ContainerStatus>) -> Result<()> {
    let invalid = |reason: &str| Error::InvalidResponse {
        call: "ContainerStatus",
        id: Some(id.to_string()),
        reason: reason.to_string(),
    };
    let status = status.ok_or_else(|| invalid("status is not set"))?;
    if status.id.is_empty() {
        return Err(invalid("id is not set"));
    }
    if status.metadata.as_ref().is_none_or(|m| m.name.is_empty()) {
        return Err(invalid("metadata.name is not set"));
    }
    if status.created_at == 0 {
        return Err(invalid("created_at is not set"));
    }
    if status.image.as_ref().is_none_or(|i| i.image.is_empty()) {
        return Err(invalid("image is not set"));
    }
    if status.image_ref.is_empty() {
        return Err(invalid("image_ref is not set"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> v1::ContainerStatus {
        v1::ContainerStatus {
            id: "c1".into(),
            metadata: Some(v1::ContainerMetadata {
                name: "app".into(),
                attempt: 0,
            }),
            created_at: 1,
            image: Some(v1::ImageSpec {
                image: "busybox".into(),
                ..Default::default()
            }),
            image_ref: "sha256:abc".into(),
            ..Default::default()
        }
    }

    #[test]
    fn cri_11_container_status_needs_created_at_and_image_ref() {
        check_container_status("c1", Some(&valid())).unwrap();
        let no_created = v1::ContainerStatus {
            created_at: 0,
            ..valid()
        };
        let err = check_container_status("c1", Some(&no_created)).unwrap_err();
        assert!(err.to_string().contains("created_at"), "{err}");
        assert!(err.to_string().contains("c1"), "{err}");
        let no_ref = v1::ContainerStatus {
            image_ref: String::new(),
            ..valid()
        };
        let err = check_container_status("c1", Some(&no_ref)).unwrap_err();
        assert!(err.to_string().contains("image_ref"), "{err}");
        assert!(check_container_status("c1", None).is_err());
    }

    #[test]
    fn sandbox_status_needs_metadata_and_created_at() {
        let valid = v1::PodSandboxStatus {
            id: "s1".into(),
            metadata: Some(v1::PodSandboxMetadata {
                name: "p".into(),
                namespace: "ns".into(),
                uid: "u".into(),
                attempt: 0,
            }),
            created_at: 1,
            ..Default::default()
        };
        check_sandbox_status("s1", Some(&valid)).unwrap();
        let bad = v1::PodSandboxStatus {
            created_at: 0,
            ..valid.clone()
        };
        assert!(check_sandbox_status("s1", Some(&bad)).is_err());
        let bad = v1::PodSandboxStatus {
            metadata: None,
            ..valid
        };
        assert!(check_sandbox_status("s1", Some(&bad)).is_err());
    }
}
