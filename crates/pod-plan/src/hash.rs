//! The container spec hash written in `io.kubernetes.container.hash`.

use k8s_openapi::api::core::v1::Container;

/// Hash of a container spec, as recorded on the runtime container. A running container whose
/// recorded hash differs from the hash of the current spec is restarted ("definition
/// changed"), and the crash back-off key includes it, so a spec change resets the back-off.
///
/// Like the kubelet since in-place resize, `resources` are left out: changing them must not
/// restart the container. The hash is FNV-1a (64 bit) over the container's JSON form, which
/// is stable for a given spec (serde_json writes struct fields in declaration order and
/// k8s-openapi maps are ordered).
pub fn container_hash(container: &Container) -> u64 {
    let mut spec = container.clone();
    spec.resources = None;
    spec.resize_policy = None;
    let json = serde_json::to_vec(&spec).expect("a Container always serializes");
    fnv1a64(&json)
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ResourceRequirements;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn container(image: &str) -> Container {
        Container {
            name: "app".into(),
            image: Some(image.into()),
            ..Default::default()
        }
    }

    #[test]
    fn hash_is_stable_and_ignores_resources() {
        let a = container("busybox:1");
        assert_eq!(container_hash(&a), container_hash(&a.clone()));
        let mut resized = a.clone();
        resized.resources = Some(ResourceRequirements {
            limits: Some(
                [("cpu".to_string(), Quantity("1".into()))]
                    .into_iter()
                    .collect(),
            ),
            ..Default::default()
        });
        assert_eq!(container_hash(&a), container_hash(&resized));
        assert_ne!(container_hash(&a), container_hash(&container("busybox:2")));
    }
}
