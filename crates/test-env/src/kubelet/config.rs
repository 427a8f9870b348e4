//! The `KubeletConfiguration` file the runner writes, and why each setting is there.

use std::fmt::Write as _;
use std::path::Path;

/// The settings of a [`Kubelet`](crate::Kubelet)'s config file: top-level keys of
/// `kubelet.config.k8s.io/v1beta1` with their values as YAML text, in the order written. A
/// key set twice keeps its first place and its last value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeletSettings {
    entries: Vec<(String, String)>,
}

/// Where one kubelet lives and listens: what [`KubeletSettings::standalone`] needs.
#[derive(Debug, Clone, Copy)]
pub struct KubeletPlaces<'a> {
    /// `staticPodPath`.
    pub manifests: &'a Path,
    /// `podLogsDir` (the kubelet's `/var/log/pods`).
    pub pod_logs: &'a Path,
    /// `volumePluginDir` (flex volumes; the default is under `/usr/libexec`).
    pub volume_plugins: &'a Path,
    /// `containerRuntimeEndpoint`.
    pub cri_endpoint: &'a str,
    /// `cgroupRoot` (`/<node name>`).
    pub cgroup_root: &'a str,
    /// `port` (the authenticated API, TLS with a self-signed certificate).
    pub port: u16,
    /// `readOnlyPort` (plain HTTP, no authentication: where a test reads `/pods`).
    pub read_only_port: u16,
    /// `healthzPort`.
    pub healthz_port: u16,
}

impl KubeletSettings {
    /// The settings a standalone kubelet needs on the machines of `cargo xtask setup` (a
    /// root VM, cgroup v1 hierarchies mounted one controller each plus a cgroup2 one, no
    /// systemd, no swap, a disk shared with everything else). Each is explained in
    /// `docs/kubelet-reference.md`; in short:
    ///
    /// - every address is loopback and every port one the OS gave out, so the kubelet meets
    ///   neither nodelet nor another test;
    /// - `failCgroupV1: false`: since v1.35 the kubelet refuses to start on cgroup v1
    ///   unless told otherwise; `cgroupDriver: cgroupfs` because there is no systemd;
    ///   `cgroupsPerQOS` and `enforceNodeAllocatable: [pods]` (the defaults, written out)
    ///   under a `cgroupRoot` of the node's own, so its `kubepods` tree is its own;
    /// - `failSwapOn: false`: the kubelet's default refuses a node with swap on; there is
    ///   none here, but the setting keeps a machine with swap usable;
    /// - anonymous authentication and `AlwaysAllow` authorization: a standalone kubelet
    ///   has no API server for its webhook authenticator and authorizer; only loopback
    ///   listens;
    /// - hard eviction thresholds no test disk reaches (`1%` free), and image GC at
    ///   100 %: the disk is shared, and an evicted pod or a collected busybox image (which
    ///   cannot be pulled again: there is no internet) would make the kubelet differ from
    ///   nodelet for reasons of the machine, not of the kubelet;
    /// - `fileCheckFrequency: 1s` (default 20 s): the same as nodelet's tests use, so a
    ///   manifest change is seen at the same pace by both.
    pub fn standalone(places: &KubeletPlaces<'_>) -> KubeletSettings {
        let mut s = KubeletSettings::default();
        let path = |p: &Path| yaml_string(&p.to_string_lossy());
        s.set("address", "127.0.0.1");
        s.set("port", places.port.to_string());
        s.set("readOnlyPort", places.read_only_port.to_string());
        s.set("healthzBindAddress", "127.0.0.1");
        s.set("healthzPort", places.healthz_port.to_string());
        s.set("staticPodPath", path(places.manifests));
        s.set("fileCheckFrequency", "1s");
        s.set("containerRuntimeEndpoint", yaml_string(places.cri_endpoint));
        s.set("podLogsDir", path(places.pod_logs));
        s.set("volumePluginDir", path(places.volume_plugins));
        s.set("cgroupRoot", yaml_string(places.cgroup_root));
        s.set("cgroupDriver", "cgroupfs");
        s.set("cgroupsPerQOS", "true");
        s.set("enforceNodeAllocatable", "[pods]");
        s.set("failCgroupV1", "false");
        s.set("failSwapOn", "false");
        s.set(
            "authentication",
            "{anonymous: {enabled: true}, webhook: {enabled: false}}",
        );
        s.set("authorization", "{mode: AlwaysAllow}");
        s.set("evictionHard", EVICTION_HARD);
        s.set("imageGCHighThresholdPercent", "100");
        s.set("imageGCLowThresholdPercent", "99");
        s
    }

    /// Sets `key` to `value` (YAML text: `true`, `10s`, `{mode: Webhook}`, `[pods]`).
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key.to_string(), value)),
        }
        self
    }

    /// The value of `key`, as YAML text.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The file's text.
    ///
    /// ```
    /// let mut settings = test_env::KubeletSettings::default();
    /// settings.set("port", "1").set("failSwapOn", "false").set("port", "2");
    /// assert_eq!(
    ///     settings.to_yaml(),
    ///     "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n\
    ///      port: 2\nfailSwapOn: false\n"
    /// );
    /// ```
    pub fn to_yaml(&self) -> String {
        let mut text =
            String::from("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n");
        for (key, value) in &self.entries {
            let _ = writeln!(text, "{key}: {value}");
        }
        text
    }
}

/// `evictionHard` with thresholds no test machine reaches. Setting the map replaces every
/// default threshold (the kubelet merges nothing unless `mergeDefaultEvictionSettings`), so
/// each signal is listed.
pub const EVICTION_HARD: &str = "{memory.available: 1Mi, nodefs.available: 1%, \
    nodefs.inodesFree: 1%, imagefs.available: 1%, imagefs.inodesFree: 1%}";

/// `value` as a double-quoted YAML string.
fn yaml_string(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| format!("{value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_settings_name_every_place() {
        let places = KubeletPlaces {
            manifests: Path::new("/t/manifests"),
            pod_logs: Path::new("/t/logs"),
            volume_plugins: Path::new("/t/plugins"),
            cri_endpoint: "unix:///t/c.sock",
            cgroup_root: "/kl-node",
            port: 1,
            read_only_port: 2,
            healthz_port: 3,
        };
        let yaml = KubeletSettings::standalone(&places).to_yaml();
        for line in [
            "port: 1\n",
            "readOnlyPort: 2\n",
            "healthzPort: 3\n",
            "staticPodPath: \"/t/manifests\"\n",
            "podLogsDir: \"/t/logs\"\n",
            "cgroupRoot: \"/kl-node\"\n",
            "containerRuntimeEndpoint: \"unix:///t/c.sock\"\n",
            "failCgroupV1: false\n",
        ] {
            assert!(yaml.contains(line), "{line:?} missing from\n{yaml}");
        }
    }
}
