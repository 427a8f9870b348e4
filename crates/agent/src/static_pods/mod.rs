//! The static pod source: pods from manifest files in `staticPodPath`, as the kubelet's
//! `file` source reads them (`pkg/kubelet/config/file.go`, `file_linux.go`, `common.go`).
//!
//! The source hands out **full snapshots**, never deltas: every pod the path defines right
//! now, the ConfigMaps and Secrets defined beside them, and the files it had to refuse.
//! The consumer diffs two snapshots by pod UID. That is cheap because a file that did not
//! change yields an *equal* pod on every rescan (same UID, same `config.seen`), and it is
//! robust: a missed inotify event costs at most one `fileCheckFrequency`, never a pod.
//!
//! # Rules (the kubelet's)
//!
//! - `staticPodPath` is a directory or a single file. In a directory, names starting with
//!   `.` are ignored, subdirectories are not entered, files are read in name order.
//! - A file holds YAML or JSON. YAML is read as the kubelet reads it ([`crate::yaml`]:
//!   `sigs.k8s.io/yaml`'s YAML 1.1), so `defaultMode: 0644` is 420, `mode: 0400` 256, and
//!   an unquoted `value: yes` the boolean `true`, which a string field refuses as the
//!   kubelet refuses it (the reason says to quote it).
//! - The kubelet reads one Pod per file. nodelet also allows several documents per file
//!   (`---`), each a `Pod`, `ConfigMap` or `Secret`, or a v1 `PodList` or `List` of them
//!   (which the kubelet's file source refuses; only its HTTP source takes a `PodList`):
//!   each item is read as its own document. Anchors belong to their document.
//! - A file over 10 MiB, a document or list item that does not decode, a pod without
//!   `metadata.name` ("invalid pod: name is needed for the pod") or failing validation is
//!   refused and reported as a [`SourceError`] naming the file, the document
//!   (`document 2: `), the item (`items[1]: `) and the field; it never keeps other pods
//!   from loading. A YAML syntax error refuses the whole file; a bad document only itself.
//! - Validation starts with the pod's identity, by the rules every pod source shares
//!   ([`pod_lifecycle::validation::validate_pod`]): the defaulted name a DNS-1123
//!   subdomain, the namespace and container names DNS-1123 labels, and a manifest's
//!   `metadata.uid` one safe path component. The kubelet takes a manifest's UID as it is;
//!   nodelet refuses `uid: ../../etc` with a reason naming `metadata.uid`, because the UID
//!   names directories the agent creates and removes as root (a departure that only
//!   refuses what would be unsafe).
//! - A `Secret` document that does not decode is refused with the field and key
//!   (`stringData.pin: invalid type: expected a string, found a number`), never its value
//!   ([`volume_manager::objects::decode_secret`]): the reason is shown on `/errors` and
//!   logged.
//! - Each pod gets the kubelet's defaults: UID (if unset) = FNV-128a of the pod, the node
//!   and the path; name `<name>-<node>`; namespace `default`; `spec.nodeName`;
//!   annotations `kubernetes.io/config.source=file`, `kubernetes.io/config.hash=<uid>`,
//!   `kubernetes.io/config.seen=<first seen, RFC 3339>`; the toleration
//!   `{operator: Exists, effect: NoExecute}`; phase `Pending`.
//! - Two documents that give the same pod full name (`name_namespace`) or UID: the first
//!   in file-name order wins, the later one is refused with an error naming both files.
//! - A missing path is an empty snapshot, so the source still counts as seen.
//!
//! # Example
//!
//! ```
//! use agent::static_pods::StaticPodSource;
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(
//!     dir.path().join("web.yaml"),
//!     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n\
//!      spec:\n  containers:\n  - name: web\n    image: busybox\n",
//! )?;
//! let source = StaticPodSource::new(dir.path(), "Node-1");
//! let snapshot = source.scan();
//! assert!(snapshot.errors.is_empty());
//! assert_eq!(snapshot.pods[0].metadata.name.as_deref(), Some("web-node-1"));
//! assert_eq!(snapshot, source.scan()); // unchanged files, equal snapshots
//! # Ok::<(), std::io::Error>(())
//! ```

mod manifest;
mod watch;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use serde::Serialize;

pub use manifest::{
    CONFIG_HASH_ANNOTATION, CONFIG_SEEN_ANNOTATION, CONFIG_SOURCE_ANNOTATION, FILE_SOURCE,
    MAX_MANIFEST_BYTES,
};
use manifest::{Decoded, Object};

/// The kubelet's default `fileCheckFrequency`.
pub const DEFAULT_FILE_CHECK_FREQUENCY: Duration = Duration::from_secs(20);

/// A manifest file (or one document of it) the source refused, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceError {
    /// The manifest file.
    pub file: PathBuf,
    /// What is wrong with it (multi-document files say which document: `document 2: ...`).
    pub reason: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.reason)
    }
}

/// Everything the static pod path defines at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// The static pods, defaulted, in file-name then document order.
    pub pods: Vec<Pod>,
    /// ConfigMaps defined in the manifests (namespace defaulted), for volumes.
    pub config_maps: Vec<ConfigMap>,
    /// Secrets defined in the manifests (namespace defaulted, `stringData` merged into
    /// `data`), for volumes.
    pub secrets: Vec<Secret>,
    /// The files and documents that were refused.
    pub errors: Vec<SourceError>,
}

/// Pods from a static manifest directory or file.
///
/// [`scan`](Self::scan) reads the path once; [`run`](Self::run) keeps a
/// `tokio::sync::watch` channel up to date from inotify events and a periodic rescan.
#[derive(Debug)]
pub struct StaticPodSource {
    path: PathBuf,
    node_name: String,
    check_frequency: Duration,
    state: Mutex<ScanState>,
}

/// What a scan remembers for the next one.
#[derive(Debug, Default)]
struct ScanState {
    /// First-seen timestamp by pod UID, so a rescan gives equal pods; forgotten once the
    /// pod is gone.
    first_seen: HashMap<String, String>,
    /// The last scan's errors, to log each problem once rather than every rescan.
    errors: Vec<SourceError>,
}

impl StaticPodSource {
    /// A source for `path` (a directory or a file) on node `node_name`, rescanned every
    /// [`DEFAULT_FILE_CHECK_FREQUENCY`]. The node name is lowercased, as the kubelet's is.
    pub fn new(path: impl Into<PathBuf>, node_name: impl Into<String>) -> Self {
        let mut path: PathBuf = path.into();
        // A trailing slash would change the path in the UID hash; the kubelet trims it too.
        let trimmed = path.to_string_lossy().trim_end_matches('/').to_owned();
        if !trimmed.is_empty() {
            path = PathBuf::from(trimmed);
        }
        StaticPodSource {
            path,
            node_name: node_name.into().to_lowercase(),
            check_frequency: DEFAULT_FILE_CHECK_FREQUENCY,
            state: Mutex::new(ScanState::default()),
        }
    }

    /// Sets the periodic rescan interval (`fileCheckFrequency`; at least 10 ms).
    pub fn with_check_frequency(mut self, every: Duration) -> Self {
        self.check_frequency = every.max(Duration::from_millis(10));
        self
    }

    /// The manifest path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The node name pods are bound to.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// The periodic rescan interval.
    pub fn check_frequency(&self) -> Duration {
        self.check_frequency
    }

    /// Reads the path once and returns everything it defines.
    ///
    /// Synchronous file I/O. The only state kept between calls is each pod's first-seen
    /// time, so that an unchanged file gives an equal pod.
    pub fn scan(&self) -> Snapshot {
        let mut collector = Collector::new(&self.node_name);
        match std::fs::metadata(&self.path) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!(path = %self.path.display(), "static pod path does not exist");
            }
            Err(err) => collector.error(&self.path, format!("cannot read the path: {err}")),
            Ok(meta) if meta.is_dir() => self.scan_dir(&mut collector),
            Ok(meta) if meta.is_file() => collector.file(&self.path),
            Ok(_) => collector.error(&self.path, "the path is not a directory or a regular file"),
        }
        self.finish(collector)
    }

    fn scan_dir(&self, collector: &mut Collector<'_>) {
        let entries = match std::fs::read_dir(&self.path) {
            Ok(entries) => entries,
            Err(err) => {
                collector.error(&self.path, format!("cannot list the directory: {err}"));
                return;
            }
        };
        let mut names: Vec<_> = entries
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name())
            .filter(|name| !name.as_encoded_bytes().starts_with(b"."))
            .collect();
        names.sort();
        for name in names {
            let path = self.path.join(&name);
            // Follows symlinks, as the kubelet's os.Stat does.
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_dir() => {
                    tracing::debug!(path = %path.display(), "not recursing into a manifest subdirectory");
                }
                Ok(meta) if meta.is_file() => collector.file(&path),
                Ok(_) => collector.error(&path, "not a regular file"),
                // Removed between listing and reading: it is simply gone.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => collector.error(&path, format!("cannot read the file: {err}")),
            }
        }
    }

    fn finish(&self, collector: Collector<'_>) -> Snapshot {
        let mut snapshot = collector.snapshot;
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = jiff::Timestamp::now().to_string();
        let mut live = HashSet::new();
        for pod in &mut snapshot.pods {
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            let seen = state
                .first_seen
                .entry(uid.clone())
                .or_insert_with(|| now.clone())
                .clone();
            pod.metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(CONFIG_SEEN_ANNOTATION.into(), seen);
            live.insert(uid);
        }
        state.first_seen.retain(|uid, _| live.contains(uid));
        for error in &snapshot.errors {
            if !state.errors.contains(error) {
                tracing::warn!(file = %error.file.display(), reason = %error.reason, "refused static pod manifest");
            }
        }
        state.errors.clone_from(&snapshot.errors);
        snapshot
    }

    /// Keeps `tx` up to date until `shutdown` completes: a first snapshot at once (even
    /// when the path does not exist), then a new one after inotify reports a change in
    /// the path (events are coalesced for 100 ms, dotfiles ignored) and every
    /// [`check_frequency`](Self::check_frequency). A snapshot equal to the last one is not
    /// sent again. Returns early when every receiver is gone.
    ///
    /// The watch is on the directory (or, for a single file or a missing path, on its
    /// parent), non-recursive; when it cannot be set up it is retried at each periodic
    /// rescan, which alone keeps the snapshots correct meanwhile.
    pub async fn run(
        self,
        tx: tokio::sync::watch::Sender<Snapshot>,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) {
        watch::run(self, tx, shutdown).await;
    }
}

/// Gathers objects across files, refusing duplicates.
struct Collector<'a> {
    node_name: &'a str,
    snapshot: Snapshot,
    /// Pod full name (`name_namespace`) → the file that defined it first.
    pod_names: HashMap<String, PathBuf>,
    pod_uids: HashMap<String, PathBuf>,
    /// `kind/namespace/name` → the file that defined it first.
    objects: HashMap<String, PathBuf>,
}

impl<'a> Collector<'a> {
    fn new(node_name: &'a str) -> Self {
        Collector {
            node_name,
            snapshot: Snapshot::default(),
            pod_names: HashMap::new(),
            pod_uids: HashMap::new(),
            objects: HashMap::new(),
        }
    }

    fn error(&mut self, file: &Path, reason: impl Into<String>) {
        self.snapshot.errors.push(SourceError {
            file: file.to_owned(),
            reason: reason.into(),
        });
    }

    fn file(&mut self, path: &Path) {
        match read_manifest(path).and_then(manifest_text) {
            Ok(text) => self.text(path, &text),
            Err(reason) => self.error(path, reason),
        }
    }

    /// Takes the documents of the manifest `path`, whose content is `text`.
    fn text(&mut self, path: &Path, text: &str) {
        let documents = match manifest::split_documents(text) {
            Ok(documents) => documents,
            Err(reason) => return self.error(path, reason),
        };
        let numbered = documents.len() > 1;
        for (index, document) in documents.into_iter().enumerate() {
            let reasons = match document {
                Ok(document) => self.document(path, document),
                Err(reason) => vec![reason],
            };
            for reason in reasons {
                let reason = if numbered {
                    format!("document {}: {reason}", index + 1)
                } else {
                    reason
                };
                self.error(path, reason);
            }
        }
    }

    /// Takes the objects of one document; returns why each refused one was refused (items
    /// of a list are named `items[i]`).
    fn document(&mut self, path: &Path, document: serde_json::Value) -> Vec<String> {
        match manifest::decode_document(document) {
            Err(reason) => vec![reason],
            Ok(Decoded::Object(object)) => self.object(path, object).err().into_iter().collect(),
            Ok(Decoded::List(items)) => items
                .into_iter()
                .enumerate()
                .filter_map(|(index, item)| match item {
                    Err(reason) => Some(reason),
                    Ok(object) => self
                        .object(path, object)
                        .err()
                        .map(|reason| format!("items[{index}]: {reason}")),
                })
                .collect(),
        }
    }

    fn object(&mut self, path: &Path, object: Object) -> Result<(), String> {
        match object {
            Object::Pod(pod) => {
                let pod = manifest::static_pod(*pod, self.node_name, path)?;
                let name = pod.metadata.name.clone().unwrap_or_default();
                let namespace = pod.metadata.namespace.clone().unwrap_or_default();
                let full_name = format!("{name}_{namespace}");
                if let Some(first) = self.pod_names.get(&full_name) {
                    return Err(format!(
                        "duplicate pod {namespace}/{name}: already defined in {}; \
                         refusing the definition in {}",
                        first.display(),
                        path.display()
                    ));
                }
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                if let Some(first) = self.pod_uids.get(&uid) {
                    return Err(format!(
                        "duplicate pod UID {uid}: already used in {}; refusing pod \
                         {namespace}/{name} in {}",
                        first.display(),
                        path.display()
                    ));
                }
                self.pod_names.insert(full_name, path.to_owned());
                self.pod_uids.insert(uid, path.to_owned());
                self.snapshot.pods.push(pod);
            }
            Object::ConfigMap(map) => {
                let map = manifest::config_map(*map)?;
                self.claim("ConfigMap", &map.metadata, path)?;
                self.snapshot.config_maps.push(map);
            }
            Object::Secret(secret) => {
                let secret = manifest::secret(*secret)?;
                self.claim("Secret", &secret.metadata, path)?;
                self.snapshot.secrets.push(secret);
            }
        }
        Ok(())
    }

    fn claim(
        &mut self,
        kind: &str,
        meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        path: &Path,
    ) -> Result<(), String> {
        let namespace = meta.namespace.as_deref().unwrap_or_default();
        let name = meta.name.as_deref().unwrap_or_default();
        let key = format!("{kind}/{namespace}/{name}");
        if let Some(first) = self.objects.get(&key) {
            return Err(format!(
                "duplicate {kind} {namespace}/{name}: already defined in {}; refusing the \
                 definition in {}",
                first.display(),
                path.display()
            ));
        }
        self.objects.insert(key, path.to_owned());
        Ok(())
    }
}

/// What one manifest file yields, given its content: the pods (defaulted and validated),
/// ConfigMaps and Secrets it defines, and every refusal, each naming `path`, exactly as
/// [`StaticPodSource::scan`] reads that file on node `node_name` (lowercased, as the
/// source lowercases it). A duplicate is a duplicate within the file only, and pods carry
/// no `config.seen` annotation: both come from the scan of a whole directory.
///
/// For a tool that checks a manifest before it is installed, and for the fuzz target of
/// the manifest reader.
///
/// ```
/// use agent::static_pods::parse_manifest;
/// use std::path::Path;
///
/// let path = Path::new("/etc/kubernetes/manifests/web.yaml");
/// let snapshot = parse_manifest(
///     path,
///     "node-1",
///     b"apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n\
///       spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 70000}]}]}\n",
/// );
/// assert!(snapshot.pods.is_empty());
/// assert_eq!(snapshot.errors[0].file, path);
/// assert!(snapshot.errors[0].reason.contains("spec.containers[0].ports[0].containerPort"));
/// ```
pub fn parse_manifest(path: &Path, node_name: &str, content: &[u8]) -> Snapshot {
    let node_name = node_name.to_lowercase();
    let mut collector = Collector::new(&node_name);
    let size = content.len() as u64;
    if size > MAX_MANIFEST_BYTES {
        collector.error(path, too_large(size));
    } else {
        match manifest_text(content.to_vec()) {
            Ok(text) => collector.text(path, &text),
            Err(reason) => collector.error(path, reason),
        }
    }
    collector.snapshot
}

/// The refusal of a manifest of `size` bytes.
fn too_large(size: u64) -> String {
    format!("the file is {size} bytes, more than the {MAX_MANIFEST_BYTES}-byte (10 MiB) limit")
}

/// A manifest's bytes as text.
fn manifest_text(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".to_owned())
}

/// Reads a manifest of at most [`MAX_MANIFEST_BYTES`].
fn read_manifest(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|err| format!("cannot open the file: {err}"))?;
    let size = file
        .metadata()
        .map_err(|err| format!("cannot read the file: {err}"))?
        .len();
    if size > MAX_MANIFEST_BYTES {
        return Err(too_large(size));
    }
    // The file may grow between stat and read.
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("cannot read the file: {err}"))?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}
