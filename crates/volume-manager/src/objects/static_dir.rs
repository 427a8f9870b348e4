//! ConfigMaps and Secrets from a directory of YAML or JSON documents, beside static pod
//! manifests.
//!
//! Every regular file whose name does not start with `.` is read (as the kubelet's static
//! pod file source reads its directory); a `.json` file holds one JSON object, any other
//! file one or more YAML documents separated by `---`. Documents of kind `ConfigMap` and
//! `Secret` are served (a `List` is opened); every other kind (the pods themselves) is
//! skipped. A missing `metadata.namespace` means `default`, the static pods' namespace.
//! Secret `stringData` is merged into `data` as the API server does.
//!
//! Each lookup first compares the directory's fingerprint (names, sizes, modification
//! times and inodes of its files: one `readdir` and a `stat` per file) with the one last
//! read, and reads the files again only when it changed, or when a file changed in the last
//! two seconds (a same-size rewrite within one clock tick keeps the fingerprint). So an
//! edited object reaches mounted files at the next resync of a pod using it.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde::Deserialize;

use super::{ObjectSource, decode_secret, merge_string_data};
use crate::{Error, Result};

type Key = (String, String);
type Fingerprint = Vec<(String, u64, i64, i64, u64)>;

/// ConfigMap and Secret documents read from a directory (see the module docs).
#[derive(Debug, Clone)]
pub struct StaticDirObjects {
    dir: PathBuf,
    cache: Arc<Mutex<Cache>>,
}

#[derive(Debug, Default)]
struct Cache {
    fingerprint: Option<Fingerprint>,
    config_maps: BTreeMap<Key, ConfigMap>,
    secrets: BTreeMap<Key, Secret>,
}

impl StaticDirObjects {
    /// Objects from `dir`; nothing is read until the first lookup.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StaticDirObjects {
            dir: dir.into(),
            cache: Arc::default(),
        }
    }

    /// The directory read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads the directory again if anything in it changed since the last read.
    pub fn refresh(&self) -> Result<()> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let fingerprint = self.fingerprint()?;
        if cache.fingerprint.as_ref() == Some(&fingerprint) && !recently_modified(&fingerprint) {
            return Ok(());
        }
        let mut config_maps = BTreeMap::new();
        let mut secrets = BTreeMap::new();
        for (name, ..) in &fingerprint {
            let path = self.dir.join(name);
            let text = match fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "cannot read object file");
                    continue;
                }
            };
            for doc in parse_documents(&path, &text) {
                match doc {
                    Ok(Object::ConfigMap(cm)) => {
                        let key = key_of(&cm.metadata);
                        if config_maps.insert(key.clone(), *cm).is_some() {
                            tracing::warn!(file = %path.display(), namespace = %key.0, name = %key.1, "ConfigMap defined twice; the last one wins");
                        }
                    }
                    Ok(Object::Secret(s)) => {
                        let key = key_of(&s.metadata);
                        if secrets.insert(key.clone(), *s).is_some() {
                            tracing::warn!(file = %path.display(), namespace = %key.0, name = %key.1, "Secret defined twice; the last one wins");
                        }
                    }
                    Ok(Object::Other) => {}
                    Err(e) => tracing::warn!(error = %e, "skipping an object document"),
                }
            }
        }
        tracing::debug!(dir = %self.dir.display(), config_maps = config_maps.len(), secrets = secrets.len(), "static objects read");
        *cache = Cache {
            fingerprint: Some(fingerprint),
            config_maps,
            secrets,
        };
        Ok(())
    }

    fn fingerprint(&self) -> Result<Fingerprint> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::ObjectSource {
                    path: self.dir.clone(),
                    message: e.to_string(),
                });
            }
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            // Follows a symlink, as the static pod source does.
            let Ok(meta) = fs::metadata(entry.path()) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            out.push((
                name,
                meta.len(),
                meta.mtime(),
                meta.mtime_nsec(),
                meta.ino(),
            ));
        }
        out.sort();
        Ok(out)
    }

    fn with_cache<T>(&self, f: impl FnOnce(&Cache) -> T) -> Result<T> {
        self.refresh()?;
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        Ok(f(&cache))
    }
}

impl ObjectSource for StaticDirObjects {
    fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>> {
        self.with_cache(|c| {
            c.config_maps
                .get(&(namespace.to_owned(), name.to_owned()))
                .cloned()
        })
    }

    fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>> {
        self.with_cache(|c| {
            c.secrets
                .get(&(namespace.to_owned(), name.to_owned()))
                .cloned()
        })
    }
}

/// Whether a file changed within the last 2 s: a rewrite in the same clock tick with the
/// same size would not change the fingerprint, so such files are read again (git's "racy
/// clean" rule).
fn recently_modified(fingerprint: &Fingerprint) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(i64::MAX);
    fingerprint.iter().any(|(_, _, secs, ..)| *secs >= now - 2)
}

fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Key {
    (
        meta.namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".into()),
        meta.name.clone().unwrap_or_default(),
    )
}

/// A document of an object file.
enum Object {
    ConfigMap(Box<ConfigMap>),
    Secret(Box<Secret>),
    Other,
}

/// Every document of a file, parsed.
fn parse_documents(path: &Path, text: &str) -> Vec<Result<Object>> {
    let err = |message: String| Error::ObjectSource {
        path: path.to_owned(),
        message,
    };
    let values: Vec<Result<serde_json::Value>> = if path.extension().is_some_and(|e| e == "json") {
        vec![serde_json::from_str(text).map_err(|e| err(format!("not JSON: {e}")))]
    } else {
        serde_yaml::Deserializer::from_str(text)
            .map(|doc| {
                serde_json::Value::deserialize(doc).map_err(|e| err(format!("not YAML: {e}")))
            })
            .collect()
    };
    let mut out = Vec::new();
    for value in values {
        match value {
            Ok(serde_json::Value::Null) => {}
            Ok(value) => objects_of(value, &err, &mut out),
            Err(e) => out.push(Err(e)),
        }
    }
    out
}

fn objects_of(
    value: serde_json::Value,
    err: &dyn Fn(String) -> Error,
    out: &mut Vec<Result<Object>>,
) {
    let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    let name = value
        .pointer("/metadata/name")
        .and_then(|n| n.as_str())
        .unwrap_or("")
        .to_owned();
    match kind {
        "ConfigMap" => out.push(
            serde_json::from_value::<ConfigMap>(value)
                .map(|cm| Object::ConfigMap(Box::new(cm)))
                .map_err(|e| err(format!("ConfigMap {name:?}: {e}"))),
        ),
        // The error names the key and the problem, never the value.
        "Secret" => out.push(
            decode_secret(value)
                .map(|mut s| {
                    merge_string_data(&mut s);
                    Object::Secret(Box::new(s))
                })
                .map_err(|e| err(e.to_string())),
        ),
        "List" => {
            if let Some(serde_json::Value::Array(items)) = value.get("items").cloned() {
                for item in items {
                    objects_of(item, err, out);
                }
            }
        }
        _ => out.push(Ok(Object::Other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_yaml_multi_documents_json_and_merges_string_data() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(
            tmp.path().join("app.yaml"),
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {containers: []}\n---\n\
             apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: \"1\"}\n---\n\
             apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: prod}\ndata: {x: eHh4}\nstringData: {y: yyy, x: override}\n",
        )
        .unwrap();
        fs::write(
            tmp.path().join("more.json"),
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"},"binaryData":{"b":"AAE="}}"#,
        )
        .unwrap();
        fs::write(
            tmp.path().join(".hidden.yaml"),
            "kind: ConfigMap\nmetadata: {name: hidden}\n",
        )
        .unwrap();
        fs::write(
            tmp.path().join("bad.yaml"),
            "kind: Secret\nmetadata: {name: bad}\ndata: {k: 12}\n",
        )
        .unwrap();

        let objects = StaticDirObjects::new(tmp.path());
        let cm = objects.config_map("default", "cfg").unwrap().unwrap();
        assert_eq!(cm.data.unwrap()["a"], "1");
        let j = objects.config_map("default", "j").unwrap().unwrap();
        assert_eq!(j.binary_data.unwrap()["b"].0, vec![0, 1]);
        assert!(objects.config_map("default", "hidden").unwrap().is_none());
        assert!(objects.secret("default", "bad").unwrap().is_none());
        let s = objects.secret("prod", "s").unwrap().unwrap();
        let data = s.data.unwrap();
        assert_eq!(data["x"].0, b"override");
        assert_eq!(data["y"].0, b"yyy");
        assert!(s.string_data.is_none());
        assert!(objects.secret("default", "s").unwrap().is_none());

        // A change is seen at the next lookup.
        fs::write(
            tmp.path().join("more.json"),
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"},"data":{"c":"changed"}}"#,
        )
        .unwrap();
        let j = objects.config_map("default", "j").unwrap().unwrap();
        assert_eq!(j.data.unwrap()["c"], "changed");
        fs::remove_file(tmp.path().join("more.json")).unwrap();
        assert!(objects.config_map("default", "j").unwrap().is_none());
    }

    #[test]
    fn a_missing_directory_has_no_objects() {
        let objects = StaticDirObjects::new("/nonexistent/nodelet/objects");
        assert!(objects.config_map("default", "x").unwrap().is_none());
    }
}
