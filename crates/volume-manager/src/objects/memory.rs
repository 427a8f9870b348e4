//! Objects held in memory: for tests, examples and agents that receive objects by other
//! means.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use super::{ObjectSource, merge_string_data};
use crate::Result;

type Key = (String, String);

/// ConfigMaps and Secrets in memory; clones share the same objects.
#[derive(Debug, Clone, Default)]
pub struct InMemoryObjects {
    inner: Arc<RwLock<Objects>>,
}

#[derive(Debug, Default)]
struct Objects {
    config_maps: BTreeMap<Key, ConfigMap>,
    secrets: BTreeMap<Key, Secret>,
}

fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Key {
    (
        meta.namespace.clone().unwrap_or_else(|| "default".into()),
        meta.name.clone().unwrap_or_default(),
    )
}

impl InMemoryObjects {
    /// No objects.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a ConfigMap (its namespace defaults to `default`).
    pub fn set_config_map(&self, config_map: ConfigMap) {
        let key = key_of(&config_map.metadata);
        self.write().config_maps.insert(key, config_map);
    }

    /// Removes a ConfigMap.
    pub fn remove_config_map(&self, namespace: &str, name: &str) {
        self.write()
            .config_maps
            .remove(&(namespace.to_owned(), name.to_owned()));
    }

    /// Adds or replaces a Secret (its namespace defaults to `default`; `stringData` is
    /// merged into `data`).
    pub fn set_secret(&self, mut secret: Secret) {
        merge_string_data(&mut secret);
        let key = key_of(&secret.metadata);
        self.write().secrets.insert(key, secret);
    }

    /// Removes a Secret.
    pub fn remove_secret(&self, namespace: &str, name: &str) {
        self.write()
            .secrets
            .remove(&(namespace.to_owned(), name.to_owned()));
    }

    /// Replaces every object at once (a source that delivers full snapshots, such as a
    /// directory of manifests): readers see the old set or the new one, never a mix.
    pub fn replace_all(
        &self,
        config_maps: impl IntoIterator<Item = ConfigMap>,
        secrets: impl IntoIterator<Item = Secret>,
    ) {
        let config_maps = config_maps
            .into_iter()
            .map(|c| (key_of(&c.metadata), c))
            .collect();
        let secrets = secrets
            .into_iter()
            .map(|mut s| {
                merge_string_data(&mut s);
                (key_of(&s.metadata), s)
            })
            .collect();
        *self.write() = Objects {
            config_maps,
            secrets,
        };
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Objects> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Objects> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl ObjectSource for InMemoryObjects {
    fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>> {
        Ok(self
            .read()
            .config_maps
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned())
    }

    fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>> {
        Ok(self
            .read()
            .secrets
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned())
    }
}
