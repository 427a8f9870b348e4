//! The agent's configuration: a kubelet config file (`--config`, a `KubeletConfiguration`),
//! the kubelet's defaults, and command-line flags on top.
//!
//! The order is the kubelet's: defaults, then the file, then flags (a flag given on the
//! command line wins over the file). A file that cannot be parsed, an unknown field, a
//! value of the wrong type or out of range stops start-up with an [`Error`] naming the
//! field and where it came from; nothing is silently ignored.
//!
//! ```
//! use agent::config::{AgentConfig, Flags};
//! use clap::Parser;
//!
//! let flags = Flags::try_parse_from([
//!     "nodelet",
//!     "--pod-manifest-path", "/etc/kubernetes/manifests",
//!     "--hostname-override", "Node-1",
//!     "--max-pods", "30",
//! ])
//! .unwrap();
//! let config = AgentConfig::load(&flags).unwrap();
//! assert_eq!(config.node_name, "node-1");
//! assert_eq!(config.kubelet.max_pods, 30);
//! assert_eq!(config.kubelet.sync_frequency.to_string(), "1m0s");
//! ```

mod duration;
pub mod feature_gates;
mod kubelet;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;

pub use duration::{GoDuration, ParseDurationError};
pub use feature_gates::{FeatureGateSpec, FeatureGates, GateUse, KNOWN_FEATURE_GATES, Stage};
pub use kubelet::{API_VERSION, CrashLoopBackOffConfig, KIND, KubeletConfiguration};

use crate::logging::{LogFormat, LogLevel};
use crate::{Error, Result};

/// The kubelet's default `--root-dir`.
pub const DEFAULT_ROOT_DIR: &str = "/var/lib/kubelet";

/// Command-line flags of `nodelet`. Every flag that sets a config-file field overrides it.
///
/// The names are the kubelet's, except `--node-name` (nodelet's: the kubelet only has
/// `--hostname-override`) and `--log-level`/`--log-format` (the kubelet has `--v` and
/// `--logging-format`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Parser)]
#[command(name = "nodelet", version, about = "A Kubernetes node agent (kubelet)")]
pub struct Flags {
    /// The kubelet config file (a `KubeletConfiguration` in YAML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The static pod manifest file or directory (config file: staticPodPath).
    #[arg(long, value_name = "PATH")]
    pub pod_manifest_path: Option<PathBuf>,

    /// The CRI endpoint, e.g. unix:///run/containerd/containerd.sock (config file:
    /// containerRuntimeEndpoint).
    #[arg(long, value_name = "ENDPOINT")]
    pub container_runtime_endpoint: Option<String>,

    /// The node's name (used when --hostname-override is not given).
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,

    /// Use this instead of the host name as the node's name.
    #[arg(long, value_name = "NAME")]
    pub hostname_override: Option<String>,

    /// The agent's state directory (pods, volumes, plugins).
    #[arg(long, value_name = "DIR")]
    pub root_dir: Option<PathBuf>,

    /// The most pods this node runs (config file: maxPods).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub max_pods: Option<i32>,

    /// Log verbosity, 0-10, as klog's -v.
    #[arg(short = 'v', long = "v", value_name = "LEVEL", value_parser = clap::value_parser!(u8).range(0..=10))]
    pub verbosity: Option<u8>,

    /// The most verbose level logged (instead of --v).
    #[arg(long, value_enum, value_name = "LEVEL", conflicts_with = "verbosity")]
    pub log_level: Option<LogLevel>,

    /// Log line format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    /// The healthz server's port, 0 to disable (config file: healthzPort).
    #[arg(long, value_name = "PORT", allow_negative_numbers = true)]
    pub healthz_port: Option<i32>,

    /// The read-only server's port, 0 to disable (config file: readOnlyPort).
    #[arg(long, value_name = "PORT", allow_negative_numbers = true)]
    pub read_only_port: Option<i32>,

    /// Where container logs are written (config file: podLogsDir).
    #[arg(long, value_name = "DIR")]
    pub pod_logs_dir: Option<PathBuf>,

    /// A kubeconfig for the API server; without it the agent runs standalone.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Labels the node registers with (`key=value,...`; cluster mode).
    #[arg(long, value_name = "LABELS", value_delimiter = ',')]
    pub node_labels: Vec<String>,

    /// Taints the node registers with (`key=value:Effect,...`; cluster mode).
    #[arg(long, value_name = "TAINTS", value_delimiter = ',')]
    pub register_with_taints: Vec<String>,

    /// Whether the node registers itself (`registerNode`, default true; cluster mode).
    #[arg(long, value_name = "BOOL")]
    pub register_node: Option<bool>,

    /// The node's IP addresses (at most one per family), instead of the detected one.
    #[arg(long, value_name = "IP", value_delimiter = ',')]
    pub node_ip: Vec<std::net::IpAddr>,
}

/// Everything the agent needs to start: the effective [`KubeletConfiguration`] and the
/// settings that are flags only in the kubelet.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentConfig {
    /// The effective kubelet configuration (defaults, file, flags), as `/configz` shows it.
    pub kubelet: KubeletConfiguration,
    /// The node's name, lowercased (see [`resolve_node_name`]).
    pub node_name: String,
    /// The agent's state directory (`--root-dir`, default [`DEFAULT_ROOT_DIR`]).
    pub root_dir: PathBuf,
    /// The kubeconfig for cluster mode (`--kubeconfig`); `None` runs standalone.
    pub kubeconfig: Option<PathBuf>,
    /// `--node-labels`, for registration in cluster mode.
    pub node_labels: BTreeMap<String, String>,
    /// `--node-ip`.
    pub node_ips: Vec<std::net::IpAddr>,
    /// The config file it was loaded from (`--config`), if any.
    pub config_file: Option<PathBuf>,
    /// The most verbose level logged.
    pub log_level: LogLevel,
    /// The log line format.
    pub log_format: LogFormat,
}

impl AgentConfig {
    /// Loads the configuration: the kubelet's defaults, the `--config` file if given, then
    /// the flags; the node name from the flags or this machine's host name.
    pub fn load(flags: &Flags) -> Result<Self> {
        Self::load_with_hostname(flags, hostname)
    }

    /// [`load`](Self::load) with the host name lookup supplied (for tests, and for hosts
    /// where `uname` is not the name to use).
    pub fn load_with_hostname(
        flags: &Flags,
        hostname: impl FnOnce() -> std::io::Result<String>,
    ) -> Result<Self> {
        let mut kubelet = match &flags.config {
            Some(path) => KubeletConfiguration::from_file(path)?,
            None => KubeletConfiguration::default(),
        };
        apply_flags(&mut kubelet, flags)?;
        // The file's values were valid on their own, so whatever fails now was set by a
        // flag.
        kubelet
            .validate()
            .map_err(|(field, reason)| Error::InvalidConfig {
                origin: "command-line flags".into(),
                field: field.to_owned(),
                reason,
            })?;
        let node_name = resolve_node_name(
            flags.hostname_override.as_deref(),
            flags.node_name.as_deref(),
            hostname,
        )?;
        let log_level = match (flags.log_level, flags.verbosity) {
            (Some(level), _) => level,
            (None, Some(verbosity)) => LogLevel::from_verbosity(verbosity),
            (None, None) => LogLevel::default(),
        };
        Ok(AgentConfig {
            kubelet,
            node_name,
            root_dir: flags
                .root_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT_DIR)),
            kubeconfig: flags.kubeconfig.clone(),
            node_labels: parse_node_labels(&flags.node_labels)?,
            node_ips: flags.node_ip.clone(),
            config_file: flags.config.clone(),
            log_level,
            log_format: flags.log_format.unwrap_or_default(),
        })
    }
}

/// `--node-labels`: `key=value` pairs (checked against the API's rules when the node
/// registers).
fn parse_node_labels(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    for pair in pairs.iter().filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(Error::InvalidConfig {
                origin: "command-line flags".into(),
                field: "--node-labels".into(),
                reason: format!("{pair:?} is not key=value"),
            });
        };
        labels.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    Ok(labels)
}

/// One `--register-with-taints` item: `key=value:Effect` or `key:Effect`, as the kubelet's
/// flag takes them.
fn parse_taint(spec: &str) -> Result<k8s_openapi::api::core::v1::Taint> {
    let bad = |reason: String| Error::InvalidConfig {
        origin: "command-line flags".into(),
        field: "--register-with-taints".into(),
        reason,
    };
    let (key_value, effect) = spec
        .rsplit_once(':')
        .ok_or_else(|| bad(format!("{spec:?} is not key=value:Effect")))?;
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        return Err(bad(format!(
            "{spec:?}: effect {effect:?} is not one of NoSchedule, PreferNoSchedule, NoExecute"
        )));
    }
    let (key, value) = match key_value.split_once('=') {
        Some((k, v)) => (k, Some(v.to_owned())),
        None => (key_value, None),
    };
    if key.is_empty() {
        return Err(bad(format!("{spec:?}: the key is empty")));
    }
    Ok(k8s_openapi::api::core::v1::Taint {
        key: key.to_owned(),
        value: value.filter(|v| !v.is_empty()),
        effect: effect.to_owned(),
        time_added: None,
    })
}

fn apply_flags(kubelet: &mut KubeletConfiguration, flags: &Flags) -> Result<()> {
    if !flags.register_with_taints.is_empty() {
        kubelet.register_with_taints = flags
            .register_with_taints
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| parse_taint(t))
            .collect::<Result<_>>()?;
    }
    if let Some(register) = flags.register_node {
        kubelet.register_node = register;
    }
    if let Some(path) = &flags.pod_manifest_path {
        kubelet.static_pod_path = Some(path.clone()).filter(|p| !p.as_os_str().is_empty());
    }
    if let Some(endpoint) = &flags.container_runtime_endpoint {
        kubelet.container_runtime_endpoint = endpoint.clone();
    }
    if let Some(max_pods) = flags.max_pods {
        kubelet.max_pods = max_pods;
    }
    if let Some(port) = flags.healthz_port {
        kubelet.healthz_port = port;
    }
    if let Some(port) = flags.read_only_port {
        kubelet.read_only_port = port;
    }
    if let Some(dir) = &flags.pod_logs_dir {
        kubelet.pod_logs_dir = dir.clone();
    }
    Ok(())
}

/// The node's name as the kubelet derives it: `--hostname-override`, else `--node-name`,
/// else the host name; trimmed and lowercased. It must be a DNS-1123 subdomain, because it
/// becomes part of static pod names (`web-node-1`) and the Node object's name.
///
/// ```
/// use agent::config::resolve_node_name;
///
/// let hostname = || Ok("Build-Host".to_owned());
/// assert_eq!(resolve_node_name(Some("Node-1"), Some("other"), hostname).unwrap(), "node-1");
/// assert_eq!(resolve_node_name(None, Some("Other"), hostname).unwrap(), "other");
/// assert_eq!(resolve_node_name(None, None, hostname).unwrap(), "build-host");
/// assert!(resolve_node_name(Some("not_valid"), None, hostname).is_err());
/// ```
pub fn resolve_node_name(
    hostname_override: Option<&str>,
    node_name: Option<&str>,
    hostname: impl FnOnce() -> std::io::Result<String>,
) -> Result<String> {
    let given = hostname_override
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .or_else(|| node_name.map(str::trim).filter(|s| !s.is_empty()));
    let name = match given {
        Some(name) => name.to_lowercase(),
        None => hostname()
            .map_err(|err| Error::NodeName(format!("cannot read the host name: {err}")))?
            .trim()
            .to_lowercase(),
    };
    if name.is_empty() {
        return Err(Error::NodeName(
            "the host name is empty; set --hostname-override".into(),
        ));
    }
    if !is_dns1123_subdomain(&name) {
        return Err(Error::NodeName(format!(
            "{name:?} is not a valid node name (lowercase letters, digits, '-' and '.', \
             starting and ending with a letter or digit, at most 253 characters)"
        )));
    }
    Ok(name)
}

/// This machine's host name (`uname -n`, what Go's `os.Hostname` returns on Linux).
fn hostname() -> std::io::Result<String> {
    let uname = rustix::system::uname();
    Ok(uname.nodename().to_string_lossy().into_owned())
}

/// A DNS-1123 subdomain: at most 253 characters of `[a-z0-9.-]`, each dot-separated label
/// starting and ending with an alphanumeric character (the pods' rule, from
/// [`pod_lifecycle::validation`]).
pub(crate) fn is_dns1123_subdomain(name: &str) -> bool {
    pod_lifecycle::validation::is_dns1123_subdomain(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn flags(args: &[&str]) -> Flags {
        let mut argv = vec!["nodelet"];
        argv.extend_from_slice(args);
        Flags::try_parse_from(argv).unwrap()
    }

    fn load(args: &[&str]) -> Result<AgentConfig> {
        AgentConfig::load_with_hostname(&flags(args), || Ok("Test-Host".into()))
    }

    fn config_file(body: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n{body}"
        )
        .unwrap();
        file
    }

    #[test]
    fn df_01_kubelet_defaults() {
        let config = load(&[]).unwrap();
        assert_eq!(config.kubelet, KubeletConfiguration::default());
        assert_eq!(config.kubelet.max_pods, 110);
        assert_eq!(config.kubelet.sync_frequency.to_string(), "1m0s");
        assert_eq!(config.kubelet.file_check_frequency.to_string(), "20s");
        assert_eq!(
            config.kubelet.node_status_update_frequency.to_string(),
            "10s"
        );
        assert_eq!(
            config.kubelet.node_status_report_frequency.to_string(),
            "5m0s"
        );
        assert_eq!(config.kubelet.node_lease_duration_seconds, 40);
        assert_eq!(config.root_dir, PathBuf::from("/var/lib/kubelet"));
        assert_eq!(config.node_name, "test-host");
        assert_eq!(config.log_level, LogLevel::Info);
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.kubeconfig, None);
    }

    #[test]
    fn flags_override_the_file() {
        let file = config_file(
            "staticPodPath: /from/file\nmaxPods: 20\nhealthzPort: 1000\nreadOnlyPort: 10255\n\
             containerRuntimeEndpoint: unix:///file.sock\npodLogsDir: /file/logs\n",
        );
        let path = file.path().to_str().unwrap();
        let from_file = load(&["--config", path]).unwrap();
        assert_eq!(from_file.kubelet.max_pods, 20);
        assert_eq!(
            from_file.kubelet.static_pod_path,
            Some(PathBuf::from("/from/file"))
        );
        assert_eq!(from_file.config_file.as_deref(), Some(file.path()));

        let config = load(&[
            "--config",
            path,
            "--pod-manifest-path",
            "/from/flag",
            "--max-pods",
            "7",
            "--healthz-port",
            "2000",
            "--read-only-port",
            "0",
            "--container-runtime-endpoint",
            "unix:///flag.sock",
            "--pod-logs-dir",
            "/flag/logs",
            "--root-dir",
            "/tmp/nodelet",
        ])
        .unwrap();
        assert_eq!(
            config.kubelet.static_pod_path,
            Some(PathBuf::from("/from/flag"))
        );
        assert_eq!(config.kubelet.max_pods, 7);
        assert_eq!(config.kubelet.healthz_port, 2000);
        assert_eq!(config.kubelet.read_only_port, 0);
        assert_eq!(
            config.kubelet.container_runtime_endpoint,
            "unix:///flag.sock"
        );
        assert_eq!(config.kubelet.pod_logs_dir, PathBuf::from("/flag/logs"));
        assert_eq!(config.root_dir, PathBuf::from("/tmp/nodelet"));
    }

    #[test]
    fn invalid_flag_values_name_the_flag() {
        let err = load(&["--max-pods", "-1"]).unwrap_err().to_string();
        assert!(err.contains("command-line flags"), "{err}");
        assert!(err.contains("--max-pods"), "{err}");
        let err = load(&["--healthz-port", "70000"]).unwrap_err().to_string();
        assert!(err.contains("--healthz-port"), "{err}");
        let err = load(&["--pod-logs-dir", "relative"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--pod-logs-dir"), "{err}");
    }

    #[test]
    fn file_errors_name_the_file_and_field() {
        let file = config_file("maxPods: many\n");
        let err = load(&["--config", file.path().to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(err.contains(&file.path().display().to_string()), "{err}");
        assert!(err.contains("maxPods"), "{err}");

        let err = load(&["--config", "/nonexistent/kubelet.yaml"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/kubelet.yaml"), "{err}");
    }

    #[test]
    fn node_name_precedence_and_lowercase() {
        assert_eq!(
            load(&["--node-name", "N1", "--hostname-override", "H1"])
                .unwrap()
                .node_name,
            "h1"
        );
        assert_eq!(load(&["--node-name", "N1"]).unwrap().node_name, "n1");
        assert_eq!(load(&[]).unwrap().node_name, "test-host");
        assert_eq!(
            load(&["--hostname-override", " Node-1 "])
                .unwrap()
                .node_name,
            "node-1"
        );
        assert!(load(&["--node-name", "bad_name"]).is_err());
        let err =
            AgentConfig::load_with_hostname(&flags(&[]), || Err(std::io::Error::other("boom")))
                .unwrap_err()
                .to_string();
        assert!(err.contains("boom"), "{err}");
    }

    #[test]
    fn real_hostname_is_a_usable_default() {
        // This machine's host name; it only has to be non-empty and lowercase.
        if let Ok(config) = AgentConfig::load(&Flags::default()) {
            assert_eq!(config.node_name, config.node_name.to_lowercase());
        }
    }

    #[test]
    fn verbosity_and_log_level() {
        assert_eq!(load(&["--v", "4"]).unwrap().log_level, LogLevel::Debug);
        assert_eq!(load(&["-v", "6"]).unwrap().log_level, LogLevel::Trace);
        assert_eq!(load(&["--v=0"]).unwrap().log_level, LogLevel::Info);
        assert_eq!(
            load(&["--log-level", "warn"]).unwrap().log_level,
            LogLevel::Warn
        );
        assert_eq!(
            load(&["--log-format", "json"]).unwrap().log_format,
            LogFormat::Json
        );
        let parse = |args: &[&str]| Flags::try_parse_from([&["nodelet"], args].concat());
        assert!(parse(&["--v", "11"]).is_err());
        assert!(parse(&["--v", "2", "--log-level", "debug"]).is_err());
        assert!(parse(&["--log-format", "xml"]).is_err());
        assert!(parse(&["--unknown-flag"]).is_err());
    }

    #[test]
    fn dns1123() {
        assert!(is_dns1123_subdomain("node-1.example.com"));
        assert!(!is_dns1123_subdomain("Node"));
        assert!(!is_dns1123_subdomain("-a"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(!is_dns1123_subdomain(&"a".repeat(254)));
    }
}
