//! Images of the fake runtime: [`FakeImage`], reference normalisation and the local store.

use std::collections::BTreeMap;

use crate::v1;

use super::ids;

/// An image the fake knows, locally or in its registry.
///
/// Only what the CRI reports and what the fake's process model needs: the id, the size, the
/// default entrypoint and cmd, and the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeImage {
    /// The reference it is added or pulled under (`localhost/busybox:1`, `busybox`);
    /// normalised the way containerd does (`docker.io/library/busybox:latest`).
    pub reference: String,
    /// The image id (`sha256:` and 64 hex digits, the config digest in containerd). Images
    /// with the same id are one image with several tags, as in containerd.
    pub id: String,
    /// Size in bytes, as `ImageStatus` reports it.
    pub size: u64,
    /// The image's `ENTRYPOINT`.
    pub entrypoint: Vec<String>,
    /// The image's `CMD`.
    pub cmd: Vec<String>,
    /// The image's `USER` (empty: root, reported as no uid).
    pub user: String,
}

impl FakeImage {
    /// A busybox-like image under `reference`: a deterministic id derived from the reference,
    /// 1.25 MiB, no entrypoint, `CMD ["/bin/sh"]`.
    pub fn new(reference: &str) -> Self {
        let normalized = normalize(reference).unwrap_or_else(|| reference.to_string());
        FakeImage {
            id: format!("sha256:{}", ids::hex_of(&format!("image:{normalized}"))),
            reference: normalized,
            size: 1_310_720,
            entrypoint: Vec::new(),
            cmd: vec!["/bin/sh".to_string()],
            user: String::new(),
        }
    }

    /// Set the id (`sha256:...`); two images with one id are one image with two tags.
    pub fn with_id(mut self, id: &str) -> Self {
        self.id = id.to_string();
        self
    }

    /// Set the entrypoint.
    pub fn with_entrypoint(mut self, entrypoint: &[&str]) -> Self {
        self.entrypoint = entrypoint.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Set the cmd.
    pub fn with_cmd(mut self, cmd: &[&str]) -> Self {
        self.cmd = cmd.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Set the size in bytes.
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = size;
        self
    }

    /// Set the user (`"1000"`, `"nobody"`).
    pub fn with_user(mut self, user: &str) -> Self {
        self.user = user.to_string();
        self
    }

    /// The digest of this image's manifest in the fake registry (`sha256:...`).
    pub(crate) fn manifest_digest(&self) -> String {
        format!("sha256:{}", ids::hex_of(&format!("manifest:{}", self.id)))
    }
}

/// Normalise an image reference the way containerd's `docker.ParseDockerRef` does:
/// `busybox` → `docker.io/library/busybox:latest`, `localhost/busybox:1` unchanged,
/// `name:tag@digest` → `name@digest`. `None` for an empty or malformed reference.
pub(crate) fn normalize(reference: &str) -> Option<String> {
    let reference = reference.trim();
    if reference.is_empty() || reference.contains(char::is_whitespace) {
        return None;
    }
    let (name, digest) = match reference.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (reference, None),
    };
    let (path, tag) = match name.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') => (path, Some(tag)),
        _ => (name, None),
    };
    if path.is_empty() || tag == Some("") {
        return None;
    }
    let (domain, remainder) = match path.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first, rest.to_string())
        }
        Some(_) => ("docker.io", path.to_string()),
        None => ("docker.io", format!("library/{path}")),
    };
    if remainder.is_empty() || remainder.chars().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    Some(match (digest, tag) {
        (Some(digest), _) => format!("{domain}/{remainder}@{digest}"),
        (None, Some(tag)) => format!("{domain}/{remainder}:{tag}"),
        (None, None) => format!("{domain}/{remainder}:latest"),
    })
}

/// The repository part of a normalised reference (`localhost/busybox:1` → `localhost/busybox`).
fn repository(normalized: &str) -> &str {
    if let Some((name, _)) = normalized.split_once('@') {
        return name;
    }
    match normalized.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => normalized,
    }
}

/// One image in the local store: its content and every name it is known by.
#[derive(Debug, Clone)]
pub(crate) struct StoredImage {
    pub image: FakeImage,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
}

impl StoredImage {
    pub fn to_cri(&self) -> v1::Image {
        let (uid, username) = match self.image.user.as_str() {
            "" => (None, String::new()),
            user => match user.split(':').next().unwrap_or("").parse::<i64>() {
                Ok(uid) => (Some(v1::Int64Value { value: uid }), String::new()),
                Err(_) => (None, user.to_string()),
            },
        };
        v1::Image {
            id: self.image.id.clone(),
            repo_tags: self.repo_tags.clone(),
            repo_digests: self.repo_digests.clone(),
            size: self.image.size,
            uid,
            username,
            spec: None,
            pinned: false,
        }
    }

    /// What containerd reports as a container's `image_ref`: the first repo digest, or the
    /// image id for an image that was imported rather than pulled.
    pub fn image_ref(&self) -> String {
        self.repo_digests
            .first()
            .cloned()
            .unwrap_or_else(|| self.image.id.clone())
    }
}

/// The images present on the fake node, keyed by id.
#[derive(Debug, Default)]
pub(crate) struct ImageStore {
    images: BTreeMap<String, StoredImage>,
}

impl ImageStore {
    /// Add `image` under its reference; an image with the same id gains a tag.
    pub fn add(&mut self, image: FakeImage, repo_digest: Option<String>) -> &StoredImage {
        let tag = image.reference.clone();
        // A tag names one image: moving it away from another image, as a re-pull does.
        for other in self.images.values_mut() {
            if other.image.id != image.id {
                other.repo_tags.retain(|t| t != &tag);
            }
        }
        self.images
            .retain(|_, i| !i.repo_tags.is_empty() || !i.repo_digests.is_empty());
        let stored = self
            .images
            .entry(image.id.clone())
            .or_insert_with(|| StoredImage {
                image: image.clone(),
                repo_tags: Vec::new(),
                repo_digests: Vec::new(),
            });
        if !tag.contains('@') && !stored.repo_tags.contains(&tag) {
            stored.repo_tags.push(tag);
        }
        if let Some(digest) = repo_digest
            && !stored.repo_digests.contains(&digest)
        {
            stored.repo_digests.push(digest);
        }
        stored
    }

    /// Find an image by reference, by id (`sha256:...`) or by a unique prefix of its id.
    pub fn resolve(&self, ref_or_id: &str) -> Option<&StoredImage> {
        if ref_or_id.starts_with("sha256:") {
            let mut matches = self.images.range(ref_or_id.to_string()..);
            return match (matches.next(), matches.next()) {
                (Some((id, image)), next)
                    if id.starts_with(ref_or_id)
                        && next.is_none_or(|(n, _)| !n.starts_with(ref_or_id)) =>
                {
                    Some(image)
                }
                _ => None,
            };
        }
        let normalized = normalize(ref_or_id)?;
        self.images
            .values()
            .find(|i| i.repo_tags.contains(&normalized) || i.repo_digests.contains(&normalized))
    }

    /// Remove an image and every name it has, as containerd 1.6's `RemoveImage` does (it
    /// deletes all references of the resolved image). Returns whether it was there.
    pub fn remove(&mut self, ref_or_id: &str) -> bool {
        match self.resolve(ref_or_id).map(|i| i.image.id.clone()) {
            Some(id) => self.images.remove(&id).is_some(),
            None => false,
        }
    }

    pub fn list(&self) -> impl Iterator<Item = &StoredImage> {
        self.images.values()
    }

    pub fn total_size(&self) -> u64 {
        self.images.values().map(|i| i.image.size).sum()
    }
}

/// The repo digest a pulled image gets: `repository@manifest-digest`.
pub(crate) fn repo_digest(image: &FakeImage) -> String {
    format!(
        "{}@{}",
        repository(&image.reference),
        image.manifest_digest()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalise_like_containerd() {
        assert_eq!(
            normalize("busybox").unwrap(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            normalize("library/busybox:1.36").unwrap(),
            "docker.io/library/busybox:1.36"
        );
        assert_eq!(
            normalize("localhost/busybox:1").unwrap(),
            "localhost/busybox:1"
        );
        assert_eq!(
            normalize("127.0.0.1:5000/busybox:1").unwrap(),
            "127.0.0.1:5000/busybox:1"
        );
        assert_eq!(
            normalize("127.0.0.1:5000/busybox").unwrap(),
            "127.0.0.1:5000/busybox:latest"
        );
        assert_eq!(
            normalize("registry.k8s.io/pause:3.9@sha256:abc").unwrap(),
            "registry.k8s.io/pause@sha256:abc"
        );
        assert_eq!(normalize(""), None);
        assert_eq!(normalize("Busybox"), None);
        assert_eq!(repository("localhost:5000/a/b:1"), "localhost:5000/a/b");
    }

    #[test]
    fn store_resolves_by_tag_id_and_prefix_and_removes_all_names() {
        let mut store = ImageStore::default();
        let image = FakeImage::new("localhost/busybox:1");
        let id = image.id.clone();
        store.add(image.clone(), None);
        let mut retagged = image.clone();
        retagged.reference = "localhost:5000/busybox:1".into();
        store.add(retagged, Some("localhost:5000/busybox@sha256:00".into()));
        assert_eq!(store.list().count(), 1);
        assert!(store.resolve("localhost/busybox:1").is_some());
        assert!(store.resolve(&id).is_some());
        assert!(store.resolve(&id[..20]).is_some());
        assert!(store.resolve("localhost/busybox:2").is_none());
        assert_eq!(
            store.resolve(&id).unwrap().image_ref(),
            "localhost:5000/busybox@sha256:00"
        );
        assert!(store.remove("localhost:5000/busybox:1"));
        assert!(store.resolve("localhost/busybox:1").is_none());
        assert!(!store.remove("localhost/busybox:1"));
    }
}
