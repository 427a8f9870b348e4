//! The `KubeletConfiguration` file (`kubelet.config.k8s.io/v1beta1`): the subset nodelet
//! reads, the kubelet's defaults and the kubelet's value checks.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use cgroup_enforcer::allocatable::{EvictionThresholds, NodeResources, Reservations};
use cgroup_enforcer::{CgroupConfig, CgroupDriver, QuantityValue, ResourceOptions};
use serde::{Deserialize, Serialize};

use super::GoDuration;
use super::feature_gates::{self, FeatureGates};
use crate::{Error, Result};

/// The `apiVersion` a kubelet config file must carry.
pub const API_VERSION: &str = "kubelet.config.k8s.io/v1beta1";
/// The `kind` a kubelet config file must carry.
pub const KIND: &str = "KubeletConfiguration";

/// The effective kubelet configuration: the `--config` file's values, the kubelet's
/// defaults for what the file leaves out (`SetDefaults_KubeletConfiguration` in
/// `pkg/kubelet/apis/config/v1beta1/defaults.go`), then the command-line flags.
///
/// Field names and JSON spellings are the kubelet's, so `/configz` serializes this as the
/// kubelet would. [`Default`] is the kubelet's defaults, with one deliberate difference:
/// [`address`](Self::address) defaults to `127.0.0.1`, because nodelet's main server has
/// neither TLS nor authentication yet and must not be reachable from the network unless
/// the operator asks for it.
///
/// ```
/// use agent::config::KubeletConfiguration;
/// use std::time::Duration;
///
/// let config = KubeletConfiguration::default();
/// assert_eq!(config.max_pods, 110);
/// assert_eq!(config.sync_frequency.as_duration(), Duration::from_secs(60));
/// assert_eq!(config.read_only_port, 0);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeletConfiguration {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// Always [`KIND`].
    pub kind: String,
    /// The static pod manifest file or directory (`--pod-manifest-path`); `None` (the
    /// default) runs no static pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub static_pod_path: Option<PathBuf>,
    /// How often every pod worker resyncs (default 1m, jittered by the workers).
    pub sync_frequency: GoDuration,
    /// How often the static pod path is re-listed besides inotify (default 20s).
    pub file_check_frequency: GoDuration,
    /// The address of the main server (default `0.0.0.0`). In standalone mode an
    /// unspecified address (`0.0.0.0`, `::`) serves on `127.0.0.1` only, over plain HTTP
    /// (see [`crate::http`]).
    pub address: String,
    /// The main server's port (default 10250).
    pub port: i32,
    /// The read-only server's port; 0 (the config-file default) disables it.
    pub read_only_port: i32,
    /// Whether the main server runs (default true).
    pub enable_server: bool,
    /// The address of the healthz server (default `127.0.0.1`).
    pub healthz_bind_address: String,
    /// The healthz server's port (default 10248); 0 disables it.
    pub healthz_port: i32,
    /// The CRI endpoint (default `unix:///run/containerd/containerd.sock`).
    pub container_runtime_endpoint: String,
    /// The CRI call deadline (default 2m).
    pub runtime_request_timeout: GoDuration,
    /// The most pods this node runs (default 110).
    pub max_pods: i32,
    /// The pids limit of each pod; -1 (the default) leaves it to the node.
    pub pod_pids_limit: i64,
    /// Where container logs are written (default `/var/log/pods`).
    pub pod_logs_dir: PathBuf,
    /// The size at which a container log is rotated (default `10Mi`).
    pub container_log_max_size: String,
    /// How many log files a container keeps (default 5).
    pub container_log_max_files: i32,
    /// How long node shutdown waits for pods in total (default 0s: graceful node shutdown off).
    pub shutdown_grace_period: GoDuration,
    /// The part of `shutdownGracePeriod` kept for critical pods (default 0s).
    pub shutdown_grace_period_critical_pods: GoDuration,
    /// `cgroupfs` (the default) or `systemd`.
    pub cgroup_driver: String,
    /// The root cgroup of pods; empty (the default) means the root of the hierarchy.
    pub cgroup_root: String,
    /// Whether pods live in QoS cgroups (`kubepods/burstable/...`, default true).
    #[serde(rename = "cgroupsPerQOS")]
    pub cgroups_per_qos: bool,
    /// Whether CPU limits are enforced with CFS quota (default true).
    #[serde(rename = "cpuCFSQuota")]
    pub cpu_cfs_quota: bool,
    /// The CFS quota period (default 100ms; between 1ms and 1s).
    #[serde(rename = "cpuCFSQuotaPeriod")]
    pub cpu_cfs_quota_period: GoDuration,
    /// Resources set aside for the kubelet and the runtime (`cpu`, `memory`,
    /// `ephemeral-storage`, `pid`; default none): subtracted from the node allocatable and
    /// from the `kubepods` cgroup's limits.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub kube_reserved: BTreeMap<String, String>,
    /// Resources set aside for the operating system, like `kubeReserved`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub system_reserved: BTreeMap<String, String>,
    /// Hard eviction thresholds by signal (`memory.available: 100Mi`, `nodefs.available:
    /// 10%`). Absent: the kubelet's Linux defaults; a map given in the file replaces them
    /// all, as in the kubelet. Subtracted from the node allocatable (not from `kubepods`).
    pub eviction_hard: BTreeMap<String, String>,
    /// Soft eviction thresholds by signal (default none); each needs a grace period in
    /// `evictionSoftGracePeriod`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub eviction_soft: BTreeMap<String, String>,
    /// How long a soft threshold must hold before pods are evicted, by signal (`30s`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub eviction_soft_grace_period: BTreeMap<String, String>,
    /// The grace (seconds) a pod evicted for a soft threshold gets, capped by its own
    /// `terminationGracePeriodSeconds` (default 0). A hard threshold's eviction always
    /// gets 1 s.
    pub eviction_max_pod_grace_period: i32,
    /// How much beyond a threshold eviction reclaims before it stops, by signal (default
    /// none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub eviction_minimum_reclaim: BTreeMap<String, String>,
    /// Whether the default `evictionHard` thresholds fill in the signals a given map leaves
    /// out (default false: a map replaces the defaults).
    pub merge_default_eviction_settings: bool,
    /// Whether memory thresholds are also watched through the kernel's memcg notifications
    /// (memory threshold events on cgroup v1, `memory.events` on v2), so pressure is seen
    /// before the next 10 s check (default false, as in the kubelet).
    pub kernel_memcg_notification: bool,
    /// Whether pods are evicted for exceeding their ephemeral-storage limits and emptyDir
    /// size limits (default true).
    pub local_storage_capacity_isolation: bool,
    /// The kubelet's own `oom_score_adj` (default -999).
    pub oom_score_adj: i32,
    /// Whether the node fails to start with swap on (default true).
    pub fail_swap_on: bool,
    /// How often node status is computed (default 10s).
    pub node_status_update_frequency: GoDuration,
    /// How often an unchanged node status is still posted (default 5m, or
    /// `nodeStatusUpdateFrequency` when only that one is set).
    pub node_status_report_frequency: GoDuration,
    /// The node lease duration (default 40; renewed every quarter of it).
    pub node_lease_duration_seconds: i32,
    /// Whether the node registers itself with the API server (default true).
    pub register_node: bool,
    /// Taints the node registers with (`registerWithTaints`; also `--register-with-taints`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub register_with_taints: Vec<k8s_openapi::api::core::v1::Taint>,
    /// How ConfigMaps and Secrets of API pods are kept current: `Watch` (the default, and
    /// the only strategy nodelet implements: one watch per referenced object).
    pub config_map_and_secret_change_detection_strategy: String,
    /// Disk usage (%) that starts image garbage collection (default 85).
    #[serde(rename = "imageGCHighThresholdPercent")]
    pub image_gc_high_threshold_percent: i32,
    /// Disk usage (%) image garbage collection frees down to (default 80).
    #[serde(rename = "imageGCLowThresholdPercent")]
    pub image_gc_low_threshold_percent: i32,
    /// How long an unused image is kept at least (default 2m).
    #[serde(rename = "imageMinimumGCAge")]
    pub image_minimum_gc_age: GoDuration,
    /// Whether images are pulled one at a time (default true unless
    /// `maxParallelImagePulls` is 2 or more).
    pub serialize_image_pulls: bool,
    /// The most parallel image pulls, when pulls are not serialized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_parallel_image_pulls: Option<i32>,
    /// Image pulls per second (default 5; 0 = unlimited).
    #[serde(rename = "registryPullQPS")]
    pub registry_pull_qps: i32,
    /// Image pull burst (default 10).
    pub registry_burst: i32,
    /// API requests per second (default 50).
    #[serde(rename = "kubeAPIQPS")]
    pub kube_api_qps: i32,
    /// API request burst (default 100).
    #[serde(rename = "kubeAPIBurst")]
    pub kube_api_burst: i32,
    /// Events per second (default 50).
    #[serde(rename = "eventRecordQPS")]
    pub event_record_qps: i32,
    /// Event burst (default 100).
    pub event_burst: i32,
    /// Idle timeout of exec/attach/port-forward streams (default 4h).
    pub streaming_connection_idle_timeout: GoDuration,
    /// How long a node condition stays after the pressure is gone (default 5m).
    pub eviction_pressure_transition_period: GoDuration,
    /// Whether `/exec`, `/run`, `/containerLogs` and friends are served (default true).
    pub enable_debugging_handlers: bool,
    /// DNS servers given to pods with `dnsPolicy: ClusterFirst`.
    #[serde(rename = "clusterDNS", skip_serializing_if = "Vec::is_empty")]
    pub cluster_dns: Vec<String>,
    /// The cluster's DNS domain (`cluster.local`); empty by default.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_domain: String,
    /// The resolver file pods inherit (default `/etc/resolv.conf`).
    pub resolv_conf: PathBuf,
    /// Feature gates by name, as written in the file. [`validate`](Self::validate) checks
    /// them as the kubelet does (unknown and locked gates are refused); what nodelet does
    /// with each is in [`KNOWN_FEATURE_GATES`](super::feature_gates::KNOWN_FEATURE_GATES),
    /// and [`gates`](Self::gates) gives the effective values.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub feature_gates: BTreeMap<String, bool>,
    /// The container restart back-off (`crashLoopBackOff`, gate
    /// `KubeletCrashLoopBackOffMax`).
    #[serde(rename = "crashLoopBackOff")]
    pub crash_loop_back_off: CrashLoopBackOffConfig,
    /// The main server's certificate chain (PEM); unset, a self-signed pair is generated
    /// under `<rootDir>/pki`, as the kubelet does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert_file: Option<PathBuf>,
    /// The key of [`tls_cert_file`](Self::tls_cert_file) (PEM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_private_key_file: Option<PathBuf>,
    /// How the main server authenticates requests (x509 client certificates, webhook
    /// bearer tokens, anonymous), with the kubelet's defaults.
    pub authentication: kubelet_server::auth::AuthenticationConfig,
    /// How the main server authorizes requests (`Webhook` or `AlwaysAllow`).
    pub authorization: kubelet_server::auth::AuthorizationConfig,
}

impl Default for KubeletConfiguration {
    fn default() -> Self {
        RawKubeletConfiguration::default().with_defaults()
    }
}

/// `crashLoopBackOff` of the `KubeletConfiguration`: the node's container restart back-off
/// (CrashLoopBackOff, RP-10).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrashLoopBackOffConfig {
    /// The longest delay between two restarts of a crashing container, 1s to 300s; when
    /// shorter than the first delay (10s, or 1s with `ReduceDefaultCrashLoopBackOffDecay`),
    /// it is the first delay too. Only with the `KubeletCrashLoopBackOffMax` gate (on by
    /// default), which defaults it to 300s; refused when the gate is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_container_restart_period: Option<GoDuration>,
}

impl KubeletConfiguration {
    /// Parses a config file's text. `path` names the file in errors, and its directory is
    /// the base of relative paths in the file (`staticPodPath`, `podLogsDir`,
    /// `resolvConf`), as the kubelet resolves them.
    ///
    /// Like the kubelet's strict decoder, an unknown field, a value of the wrong type, a
    /// wrong `apiVersion`/`kind` or a value out of range is an error naming the field.
    ///
    /// ```
    /// use agent::config::KubeletConfiguration;
    /// use std::path::Path;
    ///
    /// let text = "apiVersion: kubelet.config.k8s.io/v1beta1\n\
    ///             kind: KubeletConfiguration\n\
    ///             maxPods: 30\n";
    /// let config = KubeletConfiguration::from_yaml(text, Path::new("kubelet.yaml")).unwrap();
    /// assert_eq!(config.max_pods, 30);
    ///
    /// let err = KubeletConfiguration::from_yaml(&text.replace("maxPods", "maxPod"), Path::new("kubelet.yaml"))
    ///     .unwrap_err()
    ///     .to_string();
    /// assert!(err.contains("kubelet.yaml") && err.contains("maxPod"), "{err}");
    /// ```
    pub fn from_yaml(text: &str, path: &Path) -> Result<Self> {
        let parse_error = |field: String, reason: String| Error::ParseConfig {
            path: path.to_owned(),
            field,
            reason,
        };
        // The kubelet decodes its config file through the same YAML-to-JSON conversion as
        // manifests (`DecodeKubeletConfiguration`, apimachinery's YAML serializer), so
        // `maxPods: 0110` is the octal 72 there too.
        let mut documents = crate::yaml::documents(text).map_err(|err| match err {
            Error::Yaml {
                line,
                column,
                reason,
            } => parse_error(
                "invalid YAML".into(),
                format!("line {line} column {column}: {reason}"),
            ),
            other => other,
        })?;
        documents.retain(|document| !document.is_null());
        if documents.len() > 1 {
            return Err(parse_error(
                "document".into(),
                format!(
                    "the file holds {} YAML documents; a config file holds one",
                    documents.len()
                ),
            ));
        }
        let document = documents.pop().unwrap_or_default();
        if !document.is_object() {
            let found = match document {
                serde_json::Value::Null => "an empty document",
                serde_json::Value::Array(_) => "a sequence",
                _ => "a scalar",
            };
            return Err(parse_error(
                "document".into(),
                format!("expected a KubeletConfiguration mapping, found {found}"),
            ));
        }
        let raw: RawKubeletConfiguration =
            serde_path_to_error::deserialize(document).map_err(|err| {
                let path = err.path().to_string();
                let message = err.into_inner().to_string();
                let (field, reason) = describe_serde_error(&path, &message);
                parse_error(field, reason)
            })?;
        match raw.api_version.as_deref() {
            Some(API_VERSION) => {}
            Some(other) => {
                return Err(parse_error(
                    "apiVersion".into(),
                    format!("unsupported version {other:?}, expected {API_VERSION:?}"),
                ));
            }
            None => {
                return Err(parse_error(
                    "apiVersion".into(),
                    format!("missing, expected {API_VERSION:?}"),
                ));
            }
        }
        match raw.kind.as_deref() {
            Some(KIND) => {}
            Some(other) => {
                return Err(parse_error(
                    "kind".into(),
                    format!("unsupported kind {other:?}, expected {KIND:?}"),
                ));
            }
            None => {
                return Err(parse_error(
                    "kind".into(),
                    format!("missing, expected {KIND:?}"),
                ));
            }
        }
        let mut config = raw.with_defaults();
        if let Some(base) = path.parent().filter(|base| !base.as_os_str().is_empty()) {
            config.resolve_relative_paths(base);
        }
        config
            .validate()
            .map_err(|(field, reason)| Error::InvalidConfig {
                origin: path.display().to_string(),
                field: field.to_owned(),
                reason,
            })?;
        Ok(config)
    }

    /// Reads and parses a config file (see [`from_yaml`](Self::from_yaml)).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadConfig {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text, path)
    }

    /// Makes the file paths of the configuration absolute against `base` (the config
    /// file's directory), as the kubelet does for `KubeletConfigurationPathRefs`. Flags are
    /// not resolved: they are relative to the working directory already.
    fn resolve_relative_paths(&mut self, base: &Path) {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() && !path.as_os_str().is_empty() {
                *path = base.join(&*path);
            }
        };
        if let Some(path) = self.static_pod_path.as_mut() {
            resolve(path);
        }
        resolve(&mut self.pod_logs_dir);
        resolve(&mut self.resolv_conf);
        for path in [
            self.tls_cert_file.as_mut(),
            self.tls_private_key_file.as_mut(),
            self.authentication.x509.client_ca_file.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            resolve(path);
        }
    }

    /// [`container_log_max_size`](Self::container_log_max_size) in bytes.
    pub fn container_log_max_size_bytes(&self) -> u64 {
        // validate() refuses a size that does not parse, so this only falls back for a
        // value set in code after validation.
        quantity_bytes(&self.container_log_max_size).unwrap_or(10 * 1024 * 1024)
    }

    /// The eviction manager's settings (`evictionHard`, `evictionSoft`,
    /// `evictionSoftGracePeriod`, `evictionMinimumReclaim`, `evictionMaxPodGracePeriod`,
    /// `evictionPressureTransitionPeriod`, `localStorageCapacityIsolation`), parsed and
    /// checked as the kubelet checks them at start-up. Errors name the setting and its key
    /// (`evictionSoft.memory.available`) and what is wrong.
    pub fn eviction_config(
        &self,
    ) -> std::result::Result<pod_plan::eviction::EvictionConfig, (String, String)> {
        use pod_plan::eviction::{
            EvictionConfig, parse_grace_periods, parse_minimum_reclaims, parse_thresholds,
        };
        fn pairs(map: &BTreeMap<String, String>) -> impl Iterator<Item = (&str, &str)> {
            map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
        }
        let error = |e: pod_plan::Error| match e {
            pod_plan::Error::InvalidEvictionConfig { field, message } => (field, message),
            other => ("evictionHard".to_owned(), other.to_string()),
        };
        let config = EvictionConfig {
            hard: parse_thresholds("evictionHard", pairs(&self.eviction_hard)).map_err(error)?,
            soft: parse_thresholds("evictionSoft", pairs(&self.eviction_soft)).map_err(error)?,
            soft_grace_period: parse_grace_periods(
                "evictionSoftGracePeriod",
                pairs(&self.eviction_soft_grace_period),
            )
            .map_err(error)?,
            minimum_reclaim: parse_minimum_reclaims(
                "evictionMinimumReclaim",
                pairs(&self.eviction_minimum_reclaim),
            )
            .map_err(error)?,
            max_pod_grace_period_seconds: i64::from(self.eviction_max_pod_grace_period),
            pressure_transition_period: self.eviction_pressure_transition_period.as_duration(),
            local_storage_capacity_isolation: self.local_storage_capacity_isolation,
            ..EvictionConfig::default()
        };
        config.validate().map_err(error)?;
        Ok(config)
    }

    /// What is set aside on the node (`kubeReserved`, `systemReserved`, `evictionHard`,
    /// `maxPods`), parsed. Errors name the field (`kubeReserved.memory`) and what is wrong.
    pub fn reservations(&self) -> std::result::Result<Reservations, (String, String)> {
        let resources = |field: &str, map: &BTreeMap<String, String>| {
            NodeResources::parse(field, map.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(config_error)
        };
        Ok(Reservations {
            kube_reserved: resources("kubeReserved", &self.kube_reserved)?,
            system_reserved: resources("systemReserved", &self.system_reserved)?,
            eviction_hard: EvictionThresholds::parse(
                self.eviction_hard
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .map_err(config_error)?,
            max_pods: i64::from(self.max_pods),
            ..Reservations::default()
        })
    }

    /// The cgroup hierarchy's settings (`cgroupDriver`, `cgroupRoot`, `cgroupsPerQOS`,
    /// `cpuCFSQuota`, `cpuCFSQuotaPeriod`, `podPidsLimit`) for a node with `memory_capacity`
    /// bytes (for the Burstable `oom_score_adj`) and `allocatable_memory` bytes.
    pub fn cgroup_config(&self, memory_capacity: i64, allocatable_memory: i64) -> CgroupConfig {
        CgroupConfig {
            driver: match self.cgroup_driver.as_str() {
                "systemd" => CgroupDriver::Systemd,
                _ => CgroupDriver::Cgroupfs,
            },
            cgroup_root: if self.cgroup_root.is_empty() {
                "/".to_owned()
            } else {
                self.cgroup_root.clone()
            },
            cgroups_per_qos: self.cgroups_per_qos,
            resources: ResourceOptions {
                cpu_cfs_quota: self.cpu_cfs_quota,
                cpu_cfs_quota_period: self.cpu_cfs_quota_period.as_duration().as_micros() as u64,
                pod_pids_limit: self.pod_pids_limit,
                memory_capacity,
                node_allocatable_memory: allocatable_memory,
                ..ResourceOptions::default()
            },
            ..CgroupConfig::default()
        }
    }

    /// The effective feature gates: the v1.37 defaults with
    /// [`feature_gates`](Self::feature_gates) applied. A map that
    /// [`validate`](Self::validate) refuses gives the defaults; every configuration the agent
    /// loads has been validated.
    pub fn gates(&self) -> FeatureGates {
        FeatureGates::new(&self.feature_gates).unwrap_or_default()
    }

    /// The container restart back-off of the pod workers, as the kubelet's
    /// `newCrashLoopBackOff` reads the configuration: the `ReduceDefaultCrashLoopBackOffDecay`
    /// gate (1s doubling to 60s), then `crashLoopBackOff.maxContainerRestartPeriod` when the
    /// `KubeletCrashLoopBackOffMax` gate is on (the cap, and the first delay when shorter).
    ///
    /// ```
    /// use std::time::Duration;
    /// use agent::config::KubeletConfiguration;
    ///
    /// // The v1.37 defaults: 10s doubling to 300s (maxContainerRestartPeriod defaults to 5m).
    /// let backoff = KubeletConfiguration::default().container_restart_backoff();
    /// assert!(!backoff.reduce_default_decay);
    /// assert_eq!(backoff.max_container_restart_period, Some(Duration::from_secs(300)));
    /// ```
    pub fn container_restart_backoff(&self) -> pod_lifecycle::plan::CrashLoopBackOffConfig {
        let gates = self.gates();
        pod_lifecycle::plan::CrashLoopBackOffConfig {
            reduce_default_decay: gates
                .enabled(feature_gates::REDUCE_DEFAULT_CRASH_LOOP_BACK_OFF_DECAY),
            max_container_restart_period: self
                .crash_loop_back_off
                .max_container_restart_period
                .filter(|_| gates.enabled(feature_gates::KUBELET_CRASH_LOOP_BACK_OFF_MAX))
                .map(GoDuration::as_duration),
        }
    }

    /// The kubelet's value checks (`ValidateKubeletConfiguration`, the subset that applies
    /// to the fields nodelet reads). Returns the first failing field, spelled as in the
    /// file with its flag (`maxPods (--max-pods)`), and the reason.
    pub fn validate(&self) -> std::result::Result<(), (&'static str, String)> {
        // The kubelet applies the gates first and checks the rest against them.
        let gates = FeatureGates::new(&self.feature_gates).map_err(|e| ("featureGates", e))?;
        if self.max_pods <= 0 {
            return Err((
                "maxPods (--max-pods)",
                format!("{} must be greater than 0", self.max_pods),
            ));
        }
        for (field, port) in [
            ("port", self.port),
            ("readOnlyPort (--read-only-port)", self.read_only_port),
            ("healthzPort (--healthz-port)", self.healthz_port),
        ] {
            if !(0..=65535).contains(&port) {
                return Err((
                    field,
                    format!("{port} must be between 0 and 65535, inclusive"),
                ));
            }
        }
        for (field, address) in [
            ("address", &self.address),
            ("healthzBindAddress", &self.healthz_bind_address),
        ] {
            if address.parse::<IpAddr>().is_err() {
                return Err((field, format!("{address:?} is not a valid IP address")));
            }
        }
        for (field, duration) in [
            ("syncFrequency", self.sync_frequency),
            ("fileCheckFrequency", self.file_check_frequency),
            (
                "nodeStatusUpdateFrequency",
                self.node_status_update_frequency,
            ),
            (
                "nodeStatusReportFrequency",
                self.node_status_report_frequency,
            ),
            ("runtimeRequestTimeout", self.runtime_request_timeout),
        ] {
            if duration.is_zero() {
                return Err((field, "must be greater than 0".into()));
            }
        }
        if gates.enabled(feature_gates::GRACEFUL_NODE_SHUTDOWN) {
            if self.shutdown_grace_period_critical_pods > self.shutdown_grace_period {
                return Err((
                    "shutdownGracePeriodCriticalPods",
                    format!(
                        "{} must be <= shutdownGracePeriod {}",
                        self.shutdown_grace_period_critical_pods, self.shutdown_grace_period
                    ),
                ));
            }
            for (field, period) in [
                ("shutdownGracePeriod", self.shutdown_grace_period),
                (
                    "shutdownGracePeriodCriticalPods",
                    self.shutdown_grace_period_critical_pods,
                ),
            ] {
                if !period.is_zero() && period.as_duration() < std::time::Duration::from_secs(1) {
                    return Err((
                        field,
                        format!("{period} must be either zero or otherwise >= 1 sec"),
                    ));
                }
            }
        } else if !self.shutdown_grace_period.is_zero()
            || !self.shutdown_grace_period_critical_pods.is_zero()
        {
            return Err((
                "shutdownGracePeriod",
                "specifying shutdownGracePeriod or shutdownGracePeriodCriticalPods requires \
                 feature gate GracefulNodeShutdown"
                    .into(),
            ));
        }
        match (
            gates.enabled(feature_gates::KUBELET_CRASH_LOOP_BACK_OFF_MAX),
            self.crash_loop_back_off.max_container_restart_period,
        ) {
            (true, None) => {
                return Err((
                    "crashLoopBackOff.maxContainerRestartPeriod",
                    "FeatureGate KubeletCrashLoopBackOffMax is enabled, \
                     CrashLoopBackOff.MaxContainerRestartPeriod must be set"
                        .into(),
                ));
            }
            (true, Some(period)) => {
                let range = std::time::Duration::from_secs(1)..=std::time::Duration::from_secs(300);
                if !range.contains(&period.as_duration()) {
                    return Err((
                        "crashLoopBackOff.maxContainerRestartPeriod",
                        format!(
                            "CrashLoopBackOff.MaxContainerRestartPeriod (got: {} seconds) must be \
                             set between 1s and 300s",
                            period.as_duration().as_secs_f64()
                        ),
                    ));
                }
            }
            (false, Some(_)) => {
                return Err((
                    "crashLoopBackOff.maxContainerRestartPeriod",
                    "FeatureGate KubeletCrashLoopBackOffMax not enabled, \
                     CrashLoopBackOff.MaxContainerRestartPeriod must not be set"
                        .into(),
                ));
            }
            (false, None) => {}
        }
        if self.container_runtime_endpoint.is_empty() {
            return Err((
                "containerRuntimeEndpoint (--container-runtime-endpoint)",
                "must not be empty".into(),
            ));
        }
        if !self.pod_logs_dir.is_absolute() {
            return Err((
                "podLogsDir (--pod-logs-dir)",
                format!("{} must be an absolute path", self.pod_logs_dir.display()),
            ));
        }
        match quantity_bytes(&self.container_log_max_size) {
            Some(bytes) if bytes > 0 => {}
            _ => {
                return Err((
                    "containerLogMaxSize",
                    format!(
                        "{:?} is not a positive quantity (like 10Mi)",
                        self.container_log_max_size
                    ),
                ));
            }
        }
        if self.container_log_max_files < 2 {
            return Err((
                "containerLogMaxFiles",
                format!("{} must be greater than 1", self.container_log_max_files),
            ));
        }
        if !matches!(self.cgroup_driver.as_str(), "cgroupfs" | "systemd") {
            return Err((
                "cgroupDriver",
                format!(
                    "{:?} must be \"cgroupfs\" or \"systemd\"",
                    self.cgroup_driver
                ),
            ));
        }
        // The kubelet refuses a cgroupfs root that is not absolute; systemd names a slice.
        if self.cgroup_driver == "cgroupfs"
            && !self.cgroup_root.is_empty()
            && !self.cgroup_root.starts_with('/')
        {
            return Err((
                "cgroupRoot (--cgroup-root)",
                format!("{:?} must be an absolute path", self.cgroup_root),
            ));
        }
        let period = self.cpu_cfs_quota_period.as_duration();
        if !gates.enabled(feature_gates::CUSTOM_CPU_CFS_QUOTA_PERIOD)
            && period != std::time::Duration::from_millis(100)
        {
            return Err((
                "cpuCFSQuotaPeriod",
                format!(
                    "{} requires feature gate CustomCPUCFSQuotaPeriod",
                    self.cpu_cfs_quota_period
                ),
            ));
        }
        if !(std::time::Duration::from_millis(1)..=std::time::Duration::from_secs(1))
            .contains(&period)
        {
            return Err((
                "cpuCFSQuotaPeriod",
                format!(
                    "{} must be between 1ms and 1s, inclusive",
                    self.cpu_cfs_quota_period
                ),
            ));
        }
        // `kubeReserved.memory: "lots" ...` as field `kubeReserved`, reason
        // `memory: "lots" ...`; an unknown map name is `fallback`.
        let in_map = |field: String, reason: String, maps: &[&'static str], fallback| {
            let (map, key) = field.split_once('.').unwrap_or((field.as_str(), ""));
            let map = maps.iter().copied().find(|m| *m == map).unwrap_or(fallback);
            let reason = if key.is_empty() {
                reason
            } else {
                format!("{key}: {reason}")
            };
            (map, reason)
        };
        if let Err((field, reason)) = self.reservations() {
            return Err(in_map(
                field,
                reason,
                &["kubeReserved", "systemReserved"],
                "evictionHard",
            ));
        }
        if let Err((field, reason)) = self.eviction_config() {
            return Err(in_map(
                field,
                reason,
                &[
                    "evictionSoft",
                    "evictionSoftGracePeriod",
                    "evictionMinimumReclaim",
                    "evictionMaxPodGracePeriod",
                ],
                "evictionHard",
            ));
        }
        for (field, percent) in [
            (
                "imageGCHighThresholdPercent",
                self.image_gc_high_threshold_percent,
            ),
            (
                "imageGCLowThresholdPercent",
                self.image_gc_low_threshold_percent,
            ),
        ] {
            if !(0..=100).contains(&percent) {
                return Err((
                    field,
                    format!("{percent} must be between 0 and 100, inclusive"),
                ));
            }
        }
        if self.image_gc_low_threshold_percent >= self.image_gc_high_threshold_percent {
            return Err((
                "imageGCLowThresholdPercent",
                format!(
                    "{} must be less than imageGCHighThresholdPercent {}",
                    self.image_gc_low_threshold_percent, self.image_gc_high_threshold_percent
                ),
            ));
        }
        match self
            .config_map_and_secret_change_detection_strategy
            .as_str()
        {
            "Watch" => {}
            "Get" | "Cache" => {
                return Err((
                    "configMapAndSecretChangeDetectionStrategy",
                    format!(
                        "{:?} is a kubelet strategy nodelet does not implement: use \"Watch\"",
                        self.config_map_and_secret_change_detection_strategy
                    ),
                ));
            }
            other => {
                return Err((
                    "configMapAndSecretChangeDetectionStrategy",
                    format!(
                        "unknown strategy {other:?}: must be one of \"Get\", \"Cache\", \"Watch\""
                    ),
                ));
            }
        }
        if self.node_lease_duration_seconds <= 0 {
            return Err((
                "nodeLeaseDurationSeconds",
                format!(
                    "{} must be greater than 0",
                    self.node_lease_duration_seconds
                ),
            ));
        }
        for (field, value) in [
            ("registryPullQPS", self.registry_pull_qps),
            ("registryBurst", self.registry_burst),
            ("kubeAPIQPS", self.kube_api_qps),
            ("kubeAPIBurst", self.kube_api_burst),
            ("eventRecordQPS", self.event_record_qps),
            ("eventBurst", self.event_burst),
        ] {
            if value < 0 {
                return Err((field, format!("{value} must not be negative")));
            }
        }
        if let Some(pulls) = self.max_parallel_image_pulls {
            if pulls < 1 {
                return Err((
                    "maxParallelImagePulls",
                    format!("{pulls} must be at least 1"),
                ));
            }
            if pulls > 1 && self.serialize_image_pulls {
                return Err((
                    "maxParallelImagePulls",
                    format!("{pulls} must be 1 or unset when serializeImagePulls is true"),
                ));
            }
        }
        Ok(())
    }
}

/// Turns a serde error into (field, reason). serde reports an unknown field against its
/// parent and lists every known field; name the unknown field itself and drop the list.
/// A message that already starts with the path keeps it once.
fn describe_serde_error(path: &str, message: &str) -> (String, String) {
    let prefix = format!("{path}: ");
    let message = message.strip_prefix(&prefix).unwrap_or(message);
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((name, tail)) = rest.split_once('`')
    {
        let location = tail.find(" at line ").map_or("", |i| &tail[i..]);
        // serde_path_to_error's path may or may not end with the unknown key itself.
        let field = if path == "." {
            name.to_owned()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return (
            field,
            format!("unknown field (not a KubeletConfiguration field nodelet reads){location}"),
        );
    }
    let field = match path {
        "." => "document",
        field => field,
    };
    let hint = crate::yaml::string_field_hint(message);
    (field.to_owned(), format!("{message}{hint}"))
}

/// A Kubernetes quantity (`10Mi`, `1.5Ki`, `2G`, `1e3`) as a byte count, read by
/// `cgroup-enforcer`'s exact parser; `None` when it does not parse or is negative.
pub(crate) fn quantity_bytes(text: &str) -> Option<u64> {
    let value = QuantityValue::parse(text).ok()?;
    u64::try_from(value.value().ok()?).ok()
}

/// A `cgroup-enforcer` configuration error as (field, reason).
fn config_error(error: cgroup_enforcer::Error) -> (String, String) {
    match error {
        cgroup_enforcer::Error::InvalidConfig { field, message } => (field, message),
        other => ("reservations".to_owned(), other.to_string()),
    }
}

/// The file as written: every field optional, so that defaulting can tell "absent" from
/// "zero" exactly as the kubelet's Go structs do (pointer fields default when nil, plain
/// fields when zero).
#[derive(Debug, Default, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    expecting = "a KubeletConfiguration mapping"
)]
struct RawKubeletConfiguration {
    api_version: Option<String>,
    kind: Option<String>,
    static_pod_path: Option<PathBuf>,
    sync_frequency: Option<GoDuration>,
    file_check_frequency: Option<GoDuration>,
    address: Option<String>,
    port: Option<i32>,
    read_only_port: Option<i32>,
    enable_server: Option<bool>,
    healthz_bind_address: Option<String>,
    healthz_port: Option<i32>,
    container_runtime_endpoint: Option<String>,
    runtime_request_timeout: Option<GoDuration>,
    max_pods: Option<i32>,
    pod_pids_limit: Option<i64>,
    pod_logs_dir: Option<PathBuf>,
    container_log_max_size: Option<String>,
    container_log_max_files: Option<i32>,
    shutdown_grace_period: Option<GoDuration>,
    shutdown_grace_period_critical_pods: Option<GoDuration>,
    cgroup_driver: Option<String>,
    cgroup_root: Option<String>,
    #[serde(rename = "cgroupsPerQOS")]
    cgroups_per_qos: Option<bool>,
    #[serde(rename = "cpuCFSQuota")]
    cpu_cfs_quota: Option<bool>,
    #[serde(rename = "cpuCFSQuotaPeriod")]
    cpu_cfs_quota_period: Option<GoDuration>,
    kube_reserved: Option<BTreeMap<String, String>>,
    system_reserved: Option<BTreeMap<String, String>>,
    eviction_hard: Option<BTreeMap<String, String>>,
    eviction_soft: Option<BTreeMap<String, String>>,
    eviction_soft_grace_period: Option<BTreeMap<String, String>>,
    eviction_max_pod_grace_period: Option<i32>,
    eviction_minimum_reclaim: Option<BTreeMap<String, String>>,
    merge_default_eviction_settings: Option<bool>,
    kernel_memcg_notification: Option<bool>,
    local_storage_capacity_isolation: Option<bool>,
    oom_score_adj: Option<i32>,
    fail_swap_on: Option<bool>,
    node_status_update_frequency: Option<GoDuration>,
    node_status_report_frequency: Option<GoDuration>,
    node_lease_duration_seconds: Option<i32>,
    register_node: Option<bool>,
    register_with_taints: Option<Vec<k8s_openapi::api::core::v1::Taint>>,
    config_map_and_secret_change_detection_strategy: Option<String>,
    #[serde(rename = "imageGCHighThresholdPercent")]
    image_gc_high_threshold_percent: Option<i32>,
    #[serde(rename = "imageGCLowThresholdPercent")]
    image_gc_low_threshold_percent: Option<i32>,
    #[serde(rename = "imageMinimumGCAge")]
    image_minimum_gc_age: Option<GoDuration>,
    serialize_image_pulls: Option<bool>,
    max_parallel_image_pulls: Option<i32>,
    #[serde(rename = "registryPullQPS")]
    registry_pull_qps: Option<i32>,
    registry_burst: Option<i32>,
    #[serde(rename = "kubeAPIQPS")]
    kube_api_qps: Option<i32>,
    #[serde(rename = "kubeAPIBurst")]
    kube_api_burst: Option<i32>,
    #[serde(rename = "eventRecordQPS")]
    event_record_qps: Option<i32>,
    event_burst: Option<i32>,
    streaming_connection_idle_timeout: Option<GoDuration>,
    eviction_pressure_transition_period: Option<GoDuration>,
    enable_debugging_handlers: Option<bool>,
    #[serde(rename = "clusterDNS")]
    cluster_dns: Option<Vec<String>>,
    cluster_domain: Option<String>,
    resolv_conf: Option<PathBuf>,
    feature_gates: Option<BTreeMap<String, bool>>,
    crash_loop_back_off: Option<CrashLoopBackOffConfig>,
    tls_cert_file: Option<PathBuf>,
    tls_private_key_file: Option<PathBuf>,
    authentication: Option<kubelet_server::auth::AuthenticationConfig>,
    authorization: Option<kubelet_server::auth::AuthorizationConfig>,
}

impl RawKubeletConfiguration {
    /// `SetDefaults_KubeletConfiguration`: a Go pointer field (`*int32`, `*bool`) defaults
    /// when absent; a plain field (`int32`, `metav1.Duration`, `string`) also defaults when
    /// zero or empty, because Go cannot tell the two apart. So `maxPods: 0` means 110 and
    /// `syncFrequency: 0s` means 1m, exactly as in the kubelet, while `healthzPort: 0`
    /// (a pointer) disables the healthz server.
    fn with_defaults(self) -> KubeletConfiguration {
        fn duration(value: Option<GoDuration>, default: GoDuration) -> GoDuration {
            value.filter(|d| !d.is_zero()).unwrap_or(default)
        }
        fn nonzero(value: Option<i32>, default: i32) -> i32 {
            value.filter(|v| *v != 0).unwrap_or(default)
        }
        fn nonempty(value: Option<String>, default: &str) -> String {
            value
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| default.to_owned())
        }
        let node_status_update_frequency =
            self.node_status_update_frequency.filter(|d| !d.is_zero());
        // For backward compatibility the kubelet defaults the report frequency to the
        // update frequency when only the latter is set.
        let node_status_report_frequency = duration(
            self.node_status_report_frequency,
            node_status_update_frequency.unwrap_or(GoDuration::from_secs(300)),
        );
        // The kubelet defaults with the file's gates applied (`SetDefaults_KubeletConfiguration`);
        // gates it would refuse leave the v1.37 defaults here, and `validate` refuses them.
        let feature_gates = self.feature_gates.unwrap_or_default();
        let gates = FeatureGates::new(&feature_gates).unwrap_or_default();
        let mut crash_loop_back_off = self.crash_loop_back_off.unwrap_or_default();
        if gates.enabled(feature_gates::KUBELET_CRASH_LOOP_BACK_OFF_MAX)
            && crash_loop_back_off.max_container_restart_period.is_none()
        {
            // `MaxContainerBackOff`.
            crash_loop_back_off.max_container_restart_period = Some(GoDuration::from_secs(300));
        }
        let serialize_image_pulls = self
            .serialize_image_pulls
            .unwrap_or(self.max_parallel_image_pulls.is_none_or(|n| n < 2));
        KubeletConfiguration {
            api_version: API_VERSION.to_owned(),
            kind: KIND.to_owned(),
            static_pod_path: self.static_pod_path.filter(|p| !p.as_os_str().is_empty()),
            sync_frequency: duration(self.sync_frequency, GoDuration::from_secs(60)),
            file_check_frequency: duration(self.file_check_frequency, GoDuration::from_secs(20)),
            address: nonempty(self.address, "0.0.0.0"),
            port: nonzero(self.port, 10250),
            read_only_port: self.read_only_port.unwrap_or(0),
            enable_server: self.enable_server.unwrap_or(true),
            healthz_bind_address: nonempty(self.healthz_bind_address, "127.0.0.1"),
            healthz_port: self.healthz_port.unwrap_or(10248),
            container_runtime_endpoint: nonempty(
                self.container_runtime_endpoint,
                "unix:///run/containerd/containerd.sock",
            ),
            runtime_request_timeout: duration(
                self.runtime_request_timeout,
                GoDuration::from_secs(120),
            ),
            max_pods: nonzero(self.max_pods, 110),
            // nil or negative means -1: the node-level pid limit applies.
            pod_pids_limit: self.pod_pids_limit.filter(|n| *n >= 0).unwrap_or(-1),
            pod_logs_dir: self
                .pod_logs_dir
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or_else(|| PathBuf::from("/var/log/pods")),
            container_log_max_size: nonempty(self.container_log_max_size, "10Mi"),
            container_log_max_files: self.container_log_max_files.unwrap_or(5),
            shutdown_grace_period: self.shutdown_grace_period.unwrap_or_default(),
            shutdown_grace_period_critical_pods: self
                .shutdown_grace_period_critical_pods
                .unwrap_or_default(),
            cgroup_driver: nonempty(self.cgroup_driver, "cgroupfs"),
            cgroup_root: self.cgroup_root.unwrap_or_default(),
            cgroups_per_qos: self.cgroups_per_qos.unwrap_or(true),
            cpu_cfs_quota: self.cpu_cfs_quota.unwrap_or(true),
            cpu_cfs_quota_period: self
                .cpu_cfs_quota_period
                .unwrap_or(GoDuration::from_millis(100)),
            kube_reserved: self.kube_reserved.unwrap_or_default(),
            system_reserved: self.system_reserved.unwrap_or_default(),
            // `DefaultEvictionHard` (defaults_linux.go) when the file has no map; with
            // `mergeDefaultEvictionSettings`, the defaults fill in the signals a map leaves
            // out.
            eviction_hard: {
                let defaults = [
                    ("memory.available", "100Mi"),
                    ("nodefs.available", "10%"),
                    ("nodefs.inodesFree", "5%"),
                    ("imagefs.available", "15%"),
                    ("imagefs.inodesFree", "5%"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()));
                match self.eviction_hard {
                    None => defaults.collect(),
                    Some(mut map) => {
                        if self.merge_default_eviction_settings == Some(true) {
                            for (k, v) in defaults {
                                map.entry(k).or_insert(v);
                            }
                        }
                        map
                    }
                }
            },
            eviction_soft: self.eviction_soft.unwrap_or_default(),
            eviction_soft_grace_period: self.eviction_soft_grace_period.unwrap_or_default(),
            eviction_max_pod_grace_period: self.eviction_max_pod_grace_period.unwrap_or(0),
            eviction_minimum_reclaim: self.eviction_minimum_reclaim.unwrap_or_default(),
            merge_default_eviction_settings: self.merge_default_eviction_settings.unwrap_or(false),
            kernel_memcg_notification: self.kernel_memcg_notification.unwrap_or(false),
            local_storage_capacity_isolation: self.local_storage_capacity_isolation.unwrap_or(true),
            oom_score_adj: self.oom_score_adj.unwrap_or(-999),
            fail_swap_on: self.fail_swap_on.unwrap_or(true),
            node_status_update_frequency: node_status_update_frequency
                .unwrap_or(GoDuration::from_secs(10)),
            node_status_report_frequency,
            node_lease_duration_seconds: nonzero(self.node_lease_duration_seconds, 40),
            register_node: self.register_node.unwrap_or(true),
            register_with_taints: self.register_with_taints.unwrap_or_default(),
            config_map_and_secret_change_detection_strategy: self
                .config_map_and_secret_change_detection_strategy
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "Watch".to_owned()),
            image_gc_high_threshold_percent: self.image_gc_high_threshold_percent.unwrap_or(85),
            image_gc_low_threshold_percent: self.image_gc_low_threshold_percent.unwrap_or(80),
            image_minimum_gc_age: duration(self.image_minimum_gc_age, GoDuration::from_secs(120)),
            serialize_image_pulls,
            max_parallel_image_pulls: self.max_parallel_image_pulls,
            registry_pull_qps: self.registry_pull_qps.unwrap_or(5),
            registry_burst: nonzero(self.registry_burst, 10),
            kube_api_qps: self.kube_api_qps.unwrap_or(50),
            kube_api_burst: nonzero(self.kube_api_burst, 100),
            event_record_qps: self.event_record_qps.unwrap_or(50),
            event_burst: nonzero(self.event_burst, 100),
            streaming_connection_idle_timeout: duration(
                self.streaming_connection_idle_timeout,
                GoDuration::from_secs(4 * 3600),
            ),
            eviction_pressure_transition_period: duration(
                self.eviction_pressure_transition_period,
                GoDuration::from_secs(300),
            ),
            enable_debugging_handlers: self.enable_debugging_handlers.unwrap_or(true),
            cluster_dns: self.cluster_dns.unwrap_or_default(),
            cluster_domain: self.cluster_domain.unwrap_or_default(),
            resolv_conf: self
                .resolv_conf
                .unwrap_or_else(|| PathBuf::from("/etc/resolv.conf")),
            feature_gates,
            crash_loop_back_off,
            tls_cert_file: self.tls_cert_file.filter(|p| !p.as_os_str().is_empty()),
            tls_private_key_file: self
                .tls_private_key_file
                .filter(|p| !p.as_os_str().is_empty()),
            authentication: self.authentication.unwrap_or_default(),
            authorization: self.authorization.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const HEADER: &str = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";

    fn parse(body: &str) -> Result<KubeletConfiguration> {
        KubeletConfiguration::from_yaml(
            &format!("{HEADER}{body}"),
            Path::new("/etc/nodelet/kubelet.yaml"),
        )
    }

    fn error(body: &str) -> String {
        parse(body).unwrap_err().to_string()
    }

    #[test]
    fn df_01_kubelet_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c, KubeletConfiguration::default());
        assert_eq!(c.max_pods, 110);
        assert_eq!(c.sync_frequency.as_duration(), Duration::from_secs(60));
        assert_eq!(
            c.file_check_frequency.as_duration(),
            Duration::from_secs(20)
        );
        assert_eq!(
            c.node_status_update_frequency.as_duration(),
            Duration::from_secs(10)
        );
        assert_eq!(
            c.node_status_report_frequency.as_duration(),
            Duration::from_secs(300)
        );
        assert_eq!(c.node_lease_duration_seconds, 40);
        // DF-02
        assert_eq!(c.image_gc_high_threshold_percent, 85);
        assert_eq!(c.image_gc_low_threshold_percent, 80);
        assert_eq!(
            c.image_minimum_gc_age.as_duration(),
            Duration::from_secs(120)
        );
        assert_eq!(
            c.runtime_request_timeout.as_duration(),
            Duration::from_secs(120)
        );
        assert_eq!(
            c.streaming_connection_idle_timeout.as_duration(),
            Duration::from_secs(4 * 3600)
        );
        assert_eq!((c.registry_pull_qps, c.registry_burst), (5, 10));
        assert_eq!((c.kube_api_qps, c.kube_api_burst), (50, 100));
        assert_eq!((c.event_record_qps, c.event_burst), (50, 100));
        // DF-03
        assert_eq!(c.container_log_max_size, "10Mi");
        assert_eq!(c.container_log_max_size_bytes(), 10 * 1024 * 1024);
        assert_eq!(c.container_log_max_files, 5);
        // Ports (HT-08: the config-file default of readOnlyPort is 0, i.e. off).
        assert_eq!(
            (c.port, c.read_only_port, c.healthz_port),
            (10250, 0, 10248)
        );
        assert_eq!(c.healthz_bind_address, "127.0.0.1");
        assert_eq!(
            c.container_runtime_endpoint,
            "unix:///run/containerd/containerd.sock"
        );
        assert_eq!(c.pod_logs_dir, PathBuf::from("/var/log/pods"));
        assert_eq!(c.cgroup_driver, "cgroupfs");
        assert!(c.cgroups_per_qos && c.cpu_cfs_quota && c.serialize_image_pulls);
        assert_eq!(
            c.cpu_cfs_quota_period.as_duration(),
            Duration::from_millis(100)
        );
        assert_eq!(c.oom_score_adj, -999);
        assert_eq!(c.shutdown_grace_period, GoDuration::ZERO);
        assert_eq!(c.static_pod_path, None);
    }

    #[test]
    fn zero_values_default_like_go_but_pointer_fields_keep_zero() {
        let c =
            parse("maxPods: 0\nsyncFrequency: 0s\nhealthzPort: 0\nimageGCLowThresholdPercent: 0\n")
                .unwrap();
        assert_eq!(c.max_pods, 110);
        assert_eq!(c.sync_frequency, GoDuration::from_secs(60));
        assert_eq!(c.healthz_port, 0);
        assert_eq!(c.image_gc_low_threshold_percent, 0);
    }

    #[test]
    fn report_frequency_follows_an_explicit_update_frequency() {
        let c = parse("nodeStatusUpdateFrequency: 20s\n").unwrap();
        assert_eq!(c.node_status_report_frequency, GoDuration::from_secs(20));
        let c = parse("nodeStatusUpdateFrequency: 20s\nnodeStatusReportFrequency: 1m\n").unwrap();
        assert_eq!(c.node_status_report_frequency, GoDuration::from_secs(60));
    }

    #[test]
    fn values_from_the_file() {
        let c = parse(
            "staticPodPath: /etc/kubernetes/manifests\nmaxPods: 30\nsyncFrequency: 1m30s\n\
             fileCheckFrequency: 500ms\ncgroupDriver: systemd\ncgroupsPerQOS: false\n\
             containerLogMaxSize: 5M\nshutdownGracePeriod: 30s\nreadOnlyPort: 10255\n",
        )
        .unwrap();
        assert_eq!(
            c.static_pod_path,
            Some(PathBuf::from("/etc/kubernetes/manifests"))
        );
        assert_eq!(c.max_pods, 30);
        assert_eq!(c.sync_frequency.as_duration(), Duration::from_secs(90));
        assert_eq!(
            c.file_check_frequency.as_duration(),
            Duration::from_millis(500)
        );
        assert_eq!(c.cgroup_driver, "systemd");
        assert!(!c.cgroups_per_qos);
        assert_eq!(c.container_log_max_size_bytes(), 5_000_000);
        assert_eq!(c.shutdown_grace_period, GoDuration::from_secs(30));
        assert_eq!(c.read_only_port, 10255);
    }

    #[test]
    fn unknown_field_names_the_field_and_the_file() {
        let err = error("maxPod: 3\n");
        assert!(err.contains("/etc/nodelet/kubelet.yaml"), "{err}");
        assert!(err.contains("kubelet.yaml: maxPod: unknown field"), "{err}");
        assert!(!err.contains("expected one of"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let err = error("maxPods: lots\n");
        assert!(
            err.contains("/etc/nodelet/kubelet.yaml: maxPods: invalid type"),
            "{err}"
        );
        let err = error("cgroupsPerQOS: 3\n");
        assert!(err.contains("cgroupsPerQOS"), "{err}");
        let err = error("clusterDNS: [1, {a: b}]\n");
        assert!(err.contains("clusterDNS"), "{err}");
    }

    #[test]
    fn bad_durations_name_the_field() {
        for body in [
            "syncFrequency: 20\n",
            "syncFrequency: 1x\n",
            "fileCheckFrequency: -5s\n",
        ] {
            let err = error(body);
            let field = body.split(':').next().unwrap();
            assert!(err.contains(&format!("{field}: invalid duration")), "{err}");
        }
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let cases = [
            (
                "maxPods: -1\n",
                "maxPods (--max-pods): -1 must be greater than 0",
            ),
            (
                "healthzPort: 70000\n",
                "healthzPort (--healthz-port): 70000 must be between 0 and 65535",
            ),
            ("readOnlyPort: -2\n", "readOnlyPort (--read-only-port)"),
            ("port: 65536\n", "port: 65536"),
            ("healthzBindAddress: localhost\n", "healthzBindAddress"),
            ("cgroupDriver: docker\n", "cgroupDriver"),
            ("containerLogMaxSize: ten\n", "containerLogMaxSize"),
            (
                "containerLogMaxFiles: 1\n",
                "containerLogMaxFiles: 1 must be greater than 1",
            ),
            (
                "imageGCHighThresholdPercent: 101\n",
                "imageGCHighThresholdPercent",
            ),
            (
                "imageGCHighThresholdPercent: 70\n",
                "imageGCLowThresholdPercent: 80 must be less than",
            ),
            (
                "shutdownGracePeriodCriticalPods: 10s\n",
                "shutdownGracePeriodCriticalPods",
            ),
            ("maxParallelImagePulls: 0\n", "maxParallelImagePulls"),
        ];
        for (body, expected) in cases {
            let err = error(body);
            assert!(err.contains(expected), "{body:?} gave {err}");
            assert!(err.contains("/etc/nodelet/kubelet.yaml"), "{err}");
        }
    }

    #[test]
    fn relative_paths_are_resolved_against_the_file() {
        let c = parse("staticPodPath: manifests\npodLogsDir: ../logs\nresolvConf: /etc/r.conf\n")
            .unwrap();
        assert_eq!(
            c.static_pod_path,
            Some(PathBuf::from("/etc/nodelet/manifests"))
        );
        assert_eq!(c.pod_logs_dir, PathBuf::from("/etc/nodelet/../logs"));
        assert_eq!(c.resolv_conf, PathBuf::from("/etc/r.conf"));
    }

    #[test]
    fn yaml_errors_say_so() {
        let err = error(": :\n");
        assert!(err.contains("kubelet.yaml: invalid YAML: "), "{err}");
        let err = KubeletConfiguration::from_yaml("[1]\n", Path::new("k.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "k.yaml: document: expected a KubeletConfiguration mapping, found a sequence"
            ),
            "{err}"
        );
        let err =
            KubeletConfiguration::from_yaml(&format!("{HEADER}---\n{HEADER}"), Path::new("k.yaml"))
                .unwrap_err()
                .to_string();
        assert!(
            err.contains(
                "k.yaml: document: the file holds 2 YAML documents; a config file holds one"
            ),
            "{err}"
        );
    }

    #[test]
    fn the_file_is_read_as_yaml_1_1_like_the_kubelet_reads_it() {
        let c = parse("maxPods: 0x20\nserializeImagePulls: no\npodPidsLimit: 0o1750\n").unwrap();
        assert_eq!(c.max_pods, 32);
        assert!(!c.serialize_image_pulls);
        assert_eq!(c.pod_pids_limit, 1000);
        // map[string]string in the kubelet: an unquoted number is refused there too.
        let err = error("kubeReserved:\n  cpu: 1\n");
        assert!(
            err.ends_with(
                "kubeReserved.cpu: invalid type: integer `1`, expected a string (unquoted, 0644, \
                 0x1F, 1_000 and 1e3 are numbers in Kubernetes YAML, as the kubelet reads it: \
                 quote the value to keep it a string)"
            ),
            "{err}"
        );
        assert!(parse("kubeReserved:\n  cpu: \"1\"\n").is_ok());
    }

    #[test]
    fn api_version_and_kind_are_checked() {
        let path = Path::new("k.yaml");
        let err = KubeletConfiguration::from_yaml("kind: KubeletConfiguration\n", path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("apiVersion: missing"), "{err}");
        let err = KubeletConfiguration::from_yaml(
            "apiVersion: kubelet.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n",
            path,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("apiVersion: unsupported version"), "{err}");
        let err =
            KubeletConfiguration::from_yaml(&HEADER.replace("KubeletConfiguration", "Pod"), path)
                .unwrap_err()
                .to_string();
        assert!(err.contains("kind: unsupported kind \"Pod\""), "{err}");
    }

    #[test]
    fn max_parallel_image_pulls_turns_off_serialized_pulls() {
        let c = parse("maxParallelImagePulls: 3\n").unwrap();
        assert!(!c.serialize_image_pulls);
        assert!(
            error("maxParallelImagePulls: 3\nserializeImagePulls: true\n")
                .contains("maxParallelImagePulls")
        );
    }

    #[test]
    fn serializes_with_the_kubelet_field_names() {
        let json = serde_json::to_value(KubeletConfiguration::default()).unwrap();
        assert_eq!(json["maxPods"], 110);
        assert_eq!(json["syncFrequency"], "1m0s");
        assert_eq!(json["fileCheckFrequency"], "20s");
        assert_eq!(json["cgroupsPerQOS"], true);
        assert_eq!(json["imageGCHighThresholdPercent"], 85);
        assert_eq!(json["kind"], "KubeletConfiguration");
        assert!(json.get("staticPodPath").is_none());
    }

    #[test]
    fn ev_03_default_eviction_hard() {
        let c = parse("").unwrap();
        let expected: BTreeMap<String, String> = [
            ("memory.available", "100Mi"),
            ("nodefs.available", "10%"),
            ("nodefs.inodesFree", "5%"),
            ("imagefs.available", "15%"),
            ("imagefs.inodesFree", "5%"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(c.eviction_hard, expected);
        assert_eq!(
            c.reservations().unwrap().eviction_hard,
            EvictionThresholds::default()
        );
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["evictionHard"]["memory.available"], "100Mi");
    }

    #[test]
    fn ev_04_an_eviction_hard_map_replaces_the_defaults() {
        let c = parse("evictionHard:\n  memory.available: 200Mi\n").unwrap();
        let thresholds = c.reservations().unwrap().eviction_hard;
        assert_eq!(thresholds.0.len(), 1, "{thresholds:?}");
        let capacity = NodeResources {
            cpu_milli: 2000,
            memory: 1 << 30,
            ephemeral_storage: 10 << 30,
            pids: 1000,
        };
        let reserved = thresholds.reservation(&capacity);
        assert_eq!(
            (reserved.memory, reserved.ephemeral_storage),
            (200 << 20, 0)
        );
    }

    #[test]
    fn reservations_and_cgroup_settings_from_the_file() {
        let c = parse(
            "kubeReserved:\n  cpu: 500m\n  memory: 1Gi\nsystemReserved:\n  memory: 512Mi\n  \
             pid: \"100\"\ncgroupRoot: /nodelet\ncgroupDriver: systemd\ncpuCFSQuota: false\n\
             cpuCFSQuotaPeriod: 50ms\npodPidsLimit: 300\nmaxPods: 30\n",
        )
        .unwrap();
        let r = c.reservations().unwrap();
        assert_eq!(
            (r.kube_reserved.cpu_milli, r.kube_reserved.memory),
            (500, 1 << 30)
        );
        assert_eq!(
            (r.system_reserved.memory, r.system_reserved.pids),
            (512 << 20, 100)
        );
        assert_eq!(r.max_pods, 30);
        let g = c.cgroup_config(8 << 30, 7 << 30);
        assert_eq!(g.cgroup_root, "/nodelet");
        assert_eq!(g.driver, CgroupDriver::Systemd);
        assert!(g.cgroups_per_qos);
        assert!(!g.resources.cpu_cfs_quota);
        assert_eq!(g.resources.cpu_cfs_quota_period, 50_000);
        assert_eq!(g.resources.pod_pids_limit, 300);
        assert_eq!(g.resources.memory_capacity, 8 << 30);
        // An empty cgroupRoot (the default) is the root of the hierarchy.
        assert_eq!(parse("").unwrap().cgroup_config(0, 0).cgroup_root, "/");
    }

    #[test]
    fn bad_cgroup_and_reservation_values_name_the_field_and_the_file() {
        let cases = [
            ("kubeReserved:\n  memory: lots\n", "kubeReserved: memory: "),
            (
                "systemReserved:\n  gpu: \"1\"\n",
                "systemReserved: gpu: unsupported resource",
            ),
            (
                "kubeReserved:\n  cpu: -1\n",
                "kubeReserved.cpu: invalid type: integer `-1`",
            ),
            ("kubeReserved:\n  cpu: \"-1\"\n", "kubeReserved: cpu: "),
            (
                "evictionHard:\n  memory.free: 1Gi\n",
                "evictionHard: memory.free: unknown",
            ),
            (
                "evictionHard:\n  nodefs.available: 150%\n",
                "evictionHard: nodefs.available",
            ),
            ("cgroupRoot: kubepods\n", "cgroupRoot (--cgroup-root)"),
            (
                "cpuCFSQuotaPeriod: 2s\n",
                "cpuCFSQuotaPeriod: 2s must be between 1ms and 1s",
            ),
            ("cpuCFSQuotaPeriod: 500us\n", "cpuCFSQuotaPeriod"),
        ];
        for (body, expected) in cases {
            let err = error(body);
            assert!(err.contains(expected), "{body:?} gave {err}");
            assert!(err.contains("/etc/nodelet/kubelet.yaml"), "{err}");
        }
    }

    /// The eviction settings: parsed into the eviction manager's config, the defaults
    /// merged only when asked, and the kubelet's start-up refusals naming the setting.
    #[test]
    fn eviction_settings_are_parsed_merged_and_checked() {
        use pod_plan::eviction::{EvictionSignal, ThresholdValue};
        let c = parse(
            "evictionHard:\n  memory.available: 200Mi\n\
             evictionSoft:\n  memory.available: 1Gi\n  nodefs.available: 15%\n\
             evictionSoftGracePeriod:\n  memory.available: 1m30s\n  nodefs.available: 2m\n\
             evictionMinimumReclaim:\n  memory.available: 100Mi\n\
             evictionMaxPodGracePeriod: 30\nevictionPressureTransitionPeriod: 30s\n",
        )
        .unwrap();
        let e = c.eviction_config().unwrap();
        assert_eq!(
            e.hard,
            [(
                EvictionSignal::MemoryAvailable,
                ThresholdValue::Quantity(200 << 20)
            )]
            .into()
        );
        assert_eq!(
            e.soft[&EvictionSignal::NodefsAvailable],
            ThresholdValue::Percentage(0.15)
        );
        assert_eq!(
            e.soft_grace_period[&EvictionSignal::MemoryAvailable],
            Duration::from_secs(90)
        );
        assert_eq!(
            e.minimum_reclaim[&EvictionSignal::MemoryAvailable],
            ThresholdValue::Quantity(100 << 20)
        );
        assert_eq!(e.max_pod_grace_period_seconds, 30);
        assert_eq!(e.pressure_transition_period, Duration::from_secs(30));
        assert!(e.local_storage_capacity_isolation);
        // Defaults: the Linux hard thresholds, 5 minutes of transition.
        let d = parse("").unwrap().eviction_config().unwrap();
        assert_eq!(d.hard.len(), 5);
        assert_eq!(d.pressure_transition_period, Duration::from_secs(300));
        // mergeDefaultEvictionSettings fills in what the map leaves out.
        let merged =
            parse("mergeDefaultEvictionSettings: true\nevictionHard:\n  memory.available: 1Gi\n")
                .unwrap();
        assert_eq!(merged.eviction_hard.len(), 5);
        assert_eq!(merged.eviction_hard["memory.available"], "1Gi");
        assert_eq!(merged.eviction_hard["nodefs.available"], "10%");
        let json = serde_json::to_value(&merged).unwrap();
        assert_eq!(json["mergeDefaultEvictionSettings"], true);

        let error = |body: &str| parse(body).unwrap_err().to_string();
        for (body, expected) in [
            (
                "evictionSoft:\n  memory.available: 1Gi\n",
                "evictionSoftGracePeriod: memory.available: grace period must be specified for the soft eviction threshold memory.available",
            ),
            (
                "evictionSoft:\n  pid.free: \"10\"\n",
                "evictionSoft: pid.free: unknown eviction signal",
            ),
            (
                "evictionSoftGracePeriod:\n  memory.available: -1s\n",
                "evictionSoftGracePeriod: memory.available: invalid eviction grace period",
            ),
            (
                "evictionMinimumReclaim:\n  nodefs.available: 0%\n",
                "evictionMinimumReclaim: nodefs.available: eviction percentage minimum reclaim",
            ),
        ] {
            let err = error(body);
            assert!(err.contains(expected), "{body:?} gave {err}");
        }
    }

    #[test]
    fn rp_10_crash_loop_back_off_is_parsed_defaulted_and_validated() {
        // Default (KubeletCrashLoopBackOffMax is on in v1.37): 300s, shown by /configz.
        let c = parse("").unwrap();
        assert_eq!(
            c.crash_loop_back_off.max_container_restart_period,
            Some(GoDuration::from_secs(300))
        );
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json["crashLoopBackOff"]["maxContainerRestartPeriod"],
            "5m0s"
        );
        assert_eq!(
            c.container_restart_backoff(),
            pod_lifecycle::plan::CrashLoopBackOffConfig {
                reduce_default_decay: false,
                max_container_restart_period: Some(Duration::from_secs(300)),
            }
        );

        let c = parse("crashLoopBackOff:\n  maxContainerRestartPeriod: 30s\n").unwrap();
        assert_eq!(
            c.container_restart_backoff().max_container_restart_period,
            Some(Duration::from_secs(30))
        );
        // The bounds are inclusive.
        for ok in ["1s", "300s", "5m"] {
            parse(&format!(
                "crashLoopBackOff:\n  maxContainerRestartPeriod: {ok}\n"
            ))
            .unwrap();
        }
        for (bad, got) in [("500ms", "0.5"), ("301s", "301"), ("0s", "0")] {
            let err = error(&format!(
                "crashLoopBackOff:\n  maxContainerRestartPeriod: {bad}\n"
            ));
            assert!(
                err.ends_with(&format!(
                    "kubelet.yaml: crashLoopBackOff.maxContainerRestartPeriod: \
                     CrashLoopBackOff.MaxContainerRestartPeriod (got: {got} seconds) must be set \
                     between 1s and 300s"
                )),
                "{bad}: {err}"
            );
        }
        let err = error("crashLoopBackOff:\n  maxContainerRestartPeriod: soon\n");
        assert!(
            err.contains("crashLoopBackOff.maxContainerRestartPeriod: invalid duration"),
            "{err}"
        );
        let err = error("crashLoopBackOff:\n  maxRestartPeriod: 30s\n");
        assert!(err.contains("maxRestartPeriod: unknown field"), "{err}");

        // With the gate off: not defaulted, refused when set, and the cap is the kubelet's.
        let off = "featureGates:\n  KubeletCrashLoopBackOffMax: false\n";
        let c = parse(off).unwrap();
        assert_eq!(c.crash_loop_back_off.max_container_restart_period, None);
        assert_eq!(
            c.container_restart_backoff().max_container_restart_period,
            None
        );
        let err = error(&format!(
            "{off}crashLoopBackOff:\n  maxContainerRestartPeriod: 30s\n"
        ));
        assert!(
            err.ends_with(
                "crashLoopBackOff.maxContainerRestartPeriod: FeatureGate \
                 KubeletCrashLoopBackOffMax not enabled, CrashLoopBackOff.MaxContainerRestartPeriod \
                 must not be set"
            ),
            "{err}"
        );
    }

    #[test]
    fn rp_10_reduce_default_crash_loop_back_off_decay_gate() {
        let c = parse("featureGates:\n  ReduceDefaultCrashLoopBackOffDecay: true\n").unwrap();
        let backoff = c.container_restart_backoff();
        assert!(backoff.reduce_default_decay);
        // As in the kubelet v1.37, the defaulted 300s maximum still applies.
        assert_eq!(
            backoff.max_container_restart_period,
            Some(Duration::from_secs(300))
        );
        let b = pod_lifecycle::plan::Backoff::container_with(backoff);
        assert_eq!(
            (b.initial(), b.max()),
            (Duration::from_secs(1), Duration::from_secs(300))
        );
        // With KubeletCrashLoopBackOffMax off: 1s to 60s.
        let c = parse(
            "featureGates:\n  ReduceDefaultCrashLoopBackOffDecay: true\n  \
             KubeletCrashLoopBackOffMax: false\n",
        )
        .unwrap();
        let b = pod_lifecycle::plan::Backoff::container_with(c.container_restart_backoff());
        assert_eq!(
            (b.initial(), b.max()),
            (Duration::from_secs(1), Duration::from_secs(60))
        );
    }

    #[test]
    fn feature_gates_are_refused_as_the_kubelet_refuses_them() {
        let cases = [
            (
                "featureGates:\n  NoSuchGate: true\n",
                "featureGates: unrecognized feature gate: NoSuchGate",
            ),
            (
                "featureGates:\n  ExecProbeTimeout: false\n",
                "featureGates: cannot set feature gate ExecProbeTimeout to false, feature is \
                 locked to true",
            ),
            (
                "featureGates:\n  EventedPLEG: true\n  PLEGOnDemandRelist: false\n",
                "featureGates: cannot set feature gate PLEGOnDemandRelist to false, feature is \
                 locked to true",
            ),
            (
                "featureGates:\n  GracefulNodeShutdown: false\n  \
                 WindowsGracefulNodeShutdown: false\n",
                "featureGates: GracefulNodeShutdownBasedOnPodPriority is enabled, but depends \
                 on features that are disabled: [GracefulNodeShutdown]",
            ),
        ];
        for (body, expected) in cases {
            let err = error(body);
            assert!(
                err.ends_with(expected) && err.contains("/etc/nodelet/kubelet.yaml"),
                "{body:?} gave {err}"
            );
        }
        // A value that is not a boolean is the decoder's error.
        let err = error("featureGates:\n  GracefulNodeShutdown: maybe\n");
        assert!(err.contains("featureGates.GracefulNodeShutdown"), "{err}");
        // Known gates, locked ones at their default, and gates of other components pass.
        let c = parse(
            "featureGates:\n  ExecProbeTimeout: true\n  WatchList: false\n  \
             MemoryQoS: false\n",
        )
        .unwrap();
        assert!(!c.gates().enabled("MemoryQoS"));
        assert_eq!(c.gates().warnings().len(), 2, "{:?}", c.gates().warnings());
    }

    #[test]
    fn graceful_node_shutdown_gate() {
        // On (the default): the kubelet's checks of the periods.
        parse("shutdownGracePeriod: 30s\nshutdownGracePeriodCriticalPods: 10s\n").unwrap();
        let err = error("shutdownGracePeriod: 500ms\n");
        assert!(
            err.ends_with("shutdownGracePeriod: 500ms must be either zero or otherwise >= 1 sec"),
            "{err}"
        );
        // Off: setting either period is refused, leaving them unset is fine.
        let off = "featureGates:\n  GracefulNodeShutdown: false\n  \
                   GracefulNodeShutdownBasedOnPodPriority: false\n  \
                   WindowsGracefulNodeShutdown: false\n";
        parse(off).unwrap();
        for period in [
            "shutdownGracePeriod: 30s\n",
            "shutdownGracePeriodCriticalPods: 1s\n",
        ] {
            let err = error(&format!("{off}{period}"));
            assert!(
                err.ends_with(
                    "shutdownGracePeriod: specifying shutdownGracePeriod or \
                     shutdownGracePeriodCriticalPods requires feature gate GracefulNodeShutdown"
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn custom_cpu_cfs_quota_period_gate() {
        let c = parse("cpuCFSQuotaPeriod: 50ms\n").unwrap();
        assert_eq!(c.cgroup_config(0, 0).resources.cpu_cfs_quota_period, 50_000);
        let off = "featureGates:\n  CustomCPUCFSQuotaPeriod: false\n";
        parse(off).unwrap();
        parse(&format!("{off}cpuCFSQuotaPeriod: 100ms\n")).unwrap();
        let err = error(&format!("{off}cpuCFSQuotaPeriod: 50ms\n"));
        assert!(
            err.ends_with("cpuCFSQuotaPeriod: 50ms requires feature gate CustomCPUCFSQuotaPeriod"),
            "{err}"
        );
    }

    #[test]
    fn atomic_write_volume_user_fields_gate() {
        assert!(
            !parse("")
                .unwrap()
                .gates()
                .enabled(feature_gates::ATOMIC_WRITE_VOLUME_USER_FIELDS)
        );
        let c = parse("featureGates:\n  AtomicWriteVolumeUserFields: true\n").unwrap();
        assert!(
            c.gates()
                .enabled(feature_gates::ATOMIC_WRITE_VOLUME_USER_FIELDS)
        );
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity_bytes("10Mi"), Some(10 * 1024 * 1024));
        assert_eq!(quantity_bytes("1.5Ki"), Some(1536));
        assert_eq!(quantity_bytes("100"), Some(100));
        assert_eq!(quantity_bytes("2G"), Some(2_000_000_000));
        assert_eq!(quantity_bytes("1e3"), Some(1000));
        assert_eq!(quantity_bytes("10MB"), None);
        assert_eq!(quantity_bytes("Mi"), None);
        assert_eq!(quantity_bytes("1..2"), None);
        assert_eq!(quantity_bytes("-1Ki"), None);
    }
}
