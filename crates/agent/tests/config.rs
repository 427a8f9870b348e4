//! Loading the agent configuration as `nodelet` does: a config file and flags (DF-01).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use agent::config::{AgentConfig, Flags, KubeletConfiguration};
use clap::Parser;

fn flags(args: &[&str]) -> Flags {
    let mut argv = vec!["nodelet"];
    argv.extend_from_slice(args);
    Flags::try_parse_from(argv).unwrap()
}

fn load(args: &[&str]) -> agent::Result<AgentConfig> {
    AgentConfig::load_with_hostname(&flags(args), || Ok("host-1".into()))
}

fn config_file(body: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    write!(
        file,
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n{body}"
    )
    .unwrap();
    file
}

#[test]
fn df_01_kubelet_defaults() {
    // An empty config file and no config file give the same, kubelet-default, values.
    let file = config_file("");
    let from_file = load(&["--config", file.path().to_str().unwrap()]).unwrap();
    let without = load(&[]).unwrap();
    assert_eq!(from_file.kubelet, without.kubelet);
    let c = &from_file.kubelet;
    assert_eq!(c.max_pods, 110);
    assert_eq!(
        c.node_status_update_frequency.as_duration(),
        Duration::from_secs(10)
    );
    assert_eq!(
        c.node_status_report_frequency.as_duration(),
        Duration::from_secs(300)
    );
    assert_eq!(c.node_lease_duration_seconds, 40);
    assert_eq!(c.sync_frequency.as_duration(), Duration::from_secs(60));
    assert_eq!(
        c.file_check_frequency.as_duration(),
        Duration::from_secs(20)
    );
    assert_eq!(c.image_gc_high_threshold_percent, 85);
    assert_eq!(c.image_gc_low_threshold_percent, 80);
    assert_eq!(c.container_log_max_size, "10Mi");
    assert_eq!(c.container_log_max_files, 5);
    assert_eq!(c.read_only_port, 0);
    assert_eq!(c.healthz_port, 10248);
    assert_eq!(from_file.root_dir, PathBuf::from("/var/lib/kubelet"));
}

#[test]
fn a_full_file_with_flag_overrides() {
    let file = config_file(
        "staticPodPath: /etc/kubernetes/manifests\n\
         containerRuntimeEndpoint: unix:///run/containerd/containerd.sock\n\
         maxPods: 50\n\
         syncFrequency: 1m30s\n\
         fileCheckFrequency: 10s\n\
         podLogsDir: /var/log/pods\n\
         healthzBindAddress: 127.0.0.1\n\
         healthzPort: 10248\n\
         readOnlyPort: 10255\n\
         shutdownGracePeriod: 30s\n\
         shutdownGracePeriodCriticalPods: 10s\n\
         cgroupDriver: systemd\n\
         cgroupRoot: /\n\
         cgroupsPerQOS: true\n\
         cpuCFSQuota: false\n\
         containerLogMaxSize: 50Mi\n\
         containerLogMaxFiles: 3\n\
         nodeStatusUpdateFrequency: 20s\n\
         imageGCHighThresholdPercent: 90\n\
         featureGates:\n  ReduceDefaultCrashLoopBackOffDecay: true\n",
    );
    let config = load(&[
        "--config",
        file.path().to_str().unwrap(),
        "--max-pods",
        "60",
        "--read-only-port",
        "0",
        "--node-name",
        "Worker-7",
        "--log-format",
        "json",
        "--v",
        "4",
    ])
    .unwrap();
    let c = &config.kubelet;
    assert_eq!(c.max_pods, 60, "the flag wins");
    assert_eq!(c.read_only_port, 0, "the flag wins");
    assert_eq!(
        c.static_pod_path,
        Some(PathBuf::from("/etc/kubernetes/manifests"))
    );
    assert_eq!(c.sync_frequency.as_duration(), Duration::from_secs(90));
    assert_eq!(
        c.file_check_frequency.as_duration(),
        Duration::from_secs(10)
    );
    assert_eq!(
        c.shutdown_grace_period.as_duration(),
        Duration::from_secs(30)
    );
    assert_eq!(c.cgroup_driver, "systemd");
    assert_eq!(c.cgroup_root, "/");
    assert!(!c.cpu_cfs_quota);
    assert_eq!(c.container_log_max_size_bytes(), 50 * 1024 * 1024);
    assert_eq!(
        c.node_status_report_frequency.as_duration(),
        Duration::from_secs(20)
    );
    assert!(c.feature_gates["ReduceDefaultCrashLoopBackOffDecay"]);
    assert!(c.container_restart_backoff().reduce_default_decay);
    assert_eq!(config.node_name, "worker-7");
    assert_eq!(config.log_format, agent::logging::LogFormat::Json);
    assert_eq!(config.log_level, agent::logging::LogLevel::Debug);
}

#[test]
fn start_up_errors_name_the_field_and_the_file() {
    let cases = [
        ("maxPods: 10\nbogusField: 1\n", "bogusField: unknown field"),
        ("maxPods: ten\n", "maxPods: invalid type"),
        ("syncFrequency: 10\n", "syncFrequency: invalid duration"),
        (
            "healthzPort: 99999\n",
            "healthzPort (--healthz-port): 99999",
        ),
        (
            "maxPods: -5\n",
            "maxPods (--max-pods): -5 must be greater than 0",
        ),
        // GA in v1.33 and removed since: the kubelet v1.37 refuses it too.
        (
            "featureGates:\n  SidecarContainers: true\n",
            "featureGates: unrecognized feature gate: SidecarContainers",
        ),
    ];
    for (body, expected) in cases {
        let file = config_file(body);
        let err = load(&["--config", file.path().to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{body:?}: {err}");
        assert!(err.contains(&file.path().display().to_string()), "{err}");
    }
}

#[test]
fn default_configuration_is_valid() {
    assert_eq!(KubeletConfiguration::default().validate(), Ok(()));
}
