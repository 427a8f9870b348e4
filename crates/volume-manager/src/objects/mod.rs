//! Where configMap and secret volumes get their objects: a small trait with an in-memory
//! implementation ([`InMemoryObjects`]), which an agent fills from its sources (nodelet's
//! static pod source reads the ConfigMaps and Secrets defined beside the manifests, the way
//! `podman kube play` accepts them beside the pod, and replaces the objects at each scan).
//!
//! This crate reads no manifests itself: what a YAML file means is the agent's one parser's
//! business (Kubernetes reads YAML 1.1, so `mode: 0400` is octal), and a second reader here
//! would sooner or later read the same file differently.
//!
//! The kubelet's secret and configMap managers keep a watch per referenced object and
//! answer from that cache; an implementation for the API server does the same, so a lookup
//! here never waits on the network.
//!
//! [`decode_secret`] turns a `Secret` document into a [`Secret`] with errors that name the
//! field and key but never a value (serde's own messages quote the value they reject, and
//! base64 errors name the offending byte); every reader of Secret documents uses it.

mod decode;
mod memory;

pub use decode::decode_secret;
pub use memory::InMemoryObjects;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use crate::Result;

/// A source of ConfigMaps and Secrets by namespace and name.
pub trait ObjectSource: Send + Sync {
    /// The ConfigMap, or `None` when it does not exist.
    fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>>;
    /// The Secret, or `None` when it does not exist. `stringData` is already merged into
    /// `data`, as the API server does.
    fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>>;
}

/// No objects at all: every lookup is "not found".
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObjects;

impl ObjectSource for NoObjects {
    fn config_map(&self, _: &str, _: &str) -> Result<Option<ConfigMap>> {
        Ok(None)
    }
    fn secret(&self, _: &str, _: &str) -> Result<Option<Secret>> {
        Ok(None)
    }
}

/// Merges `stringData` into `data` (the API server's conversion: `stringData` wins) and
/// clears `stringData`.
pub fn merge_string_data(secret: &mut Secret) {
    if let Some(strings) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(Default::default);
        for (k, v) in strings {
            data.insert(k, k8s_openapi::ByteString(v.into_bytes()));
        }
    }
}
