//! The nodelet agent's own parts: what a kubelet needs around the pod lifecycle.
//!
//! - [`config`]: the kubelet config file (`KubeletConfiguration`, v1beta1) with the
//!   kubelet's defaults and value checks, the command-line [`Flags`](config::Flags), and
//!   the node name.
//! - [`static_pods`]: the static pod source ([`StaticPodSource`]), which turns a manifest
//!   directory into full snapshots of pods, with the kubelet's naming, UID and annotation
//!   rules, and keeps them current from inotify and a periodic rescan.
//! - [`http`]: the servers: the kubelet API of the `kubelet-server` crate (TLS,
//!   authentication and authorization in cluster mode) and nodelet's `/errors`, over an
//!   [`HttpState`](http::HttpState) the composed agent implements.
//! - [`stats`]: the `/stats/summary` collector (cgroups, the runtime, the filesystems).
//! - [`metrics`]: the kubelet's metric families and the agent's prometheus-client registries.
//! - [`logging`]: text or JSON log lines carrying span fields.
//! - [`yaml`]: YAML read as the kubelet reads it (YAML 1.1 through `sigs.k8s.io/yaml`), into
//!   JSON values, for manifests and the config file.
//!
//! # Why the agent only wires
//!
//! Every rule about what happens to a pod lives in the libraries (`pod-lifecycle` and its
//! siblings), where it is tested against fakes; this crate only turns the outside world
//! (files, flags, HTTP) into their inputs and their state into answers. That is why the
//! static pod source hands out whole snapshots rather than add/update/remove events: the
//! pod workers already reconcile desired against actual state, so a snapshot (with
//! unchanged pods *equal* from one scan to the next) is all they need, and a lost inotify
//! event or a restart of the agent can never leave a pod behind. For the same reason the
//! HTTP server asks an `HttpState` on each request instead of holding state of its own.
//!
//! # Example
//!
//! Load the configuration as `nodelet` does, then read the static pods it names:
//!
//! ```
//! use agent::config::{AgentConfig, Flags};
//! use agent::static_pods::StaticPodSource;
//! use clap::Parser;
//!
//! let manifests = tempfile::tempdir()?;
//! std::fs::write(
//!     manifests.path().join("web.yaml"),
//!     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n\
//!      spec:\n  containers:\n  - name: web\n    image: busybox\n",
//! )?;
//! let flags = Flags::try_parse_from([
//!     "nodelet".as_ref(),
//!     "--pod-manifest-path".as_ref(),
//!     manifests.path().as_os_str(),
//!     "--hostname-override".as_ref(),
//!     "Node-1".as_ref(),
//! ])?;
//! let config = AgentConfig::load(&flags)?;
//!
//! let path = config.kubelet.static_pod_path.clone().unwrap();
//! let source = StaticPodSource::new(path, &config.node_name)
//!     .with_check_frequency(config.kubelet.file_check_frequency.as_duration());
//! let snapshot = source.scan();
//! let pod = &snapshot.pods[0];
//! assert_eq!(pod.metadata.name.as_deref(), Some("web-node-1"));
//! assert_eq!(pod.metadata.namespace.as_deref(), Some("default"));
//! assert_eq!(pod.spec.as_ref().unwrap().node_name.as_deref(), Some("node-1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cluster;
pub mod config;
mod error;
pub mod eviction;
pub mod http;
mod kubelet_api;
pub mod logging;
pub mod metrics;
pub mod node;
pub mod static_pods;
pub mod stats;
pub mod supervisor;
pub mod yaml;

pub use error::{Error, Result};
pub use static_pods::{Snapshot, SourceError, StaticPodSource};
