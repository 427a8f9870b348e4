//! The kubelet runner against the real kubelet and the reference containerd: a static pod
//! reaches Running on the kubelet's `/pods`, and stopping the kubelet leaves nothing
//! behind (no process, pod, mount or cgroup).

use std::path::Path;
use std::time::{Duration, Instant};

use cri_client::{GrpcRuntime, RuntimeService as _, v1};
use test_env::Kubelet;

const TIMEOUT: Duration = Duration::from_secs(60);

fn sleeper(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  \
         terminationGracePeriodSeconds: 2\n  containers:\n  - name: main\n    \
         image: {}\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 3600 & wait\"]\n",
        test_env::busybox_image()
    )
}

/// The static pod's phase and its one container's state on the kubelet's `/pods`.
fn pod_state(kubelet: &Kubelet, name: &str) -> Option<(String, String)> {
    let pods = kubelet.pods_json().ok()?;
    let full = kubelet.pod_name(name);
    let pod = pods["items"]
        .as_array()?
        .iter()
        .find(|p| p["metadata"]["name"] == full.as_str())?;
    let phase = pod["status"]["phase"].as_str().unwrap_or("").to_string();
    let state = &pod["status"]["containerStatuses"][0]["state"];
    let state = ["running", "waiting", "terminated"]
        .into_iter()
        .find(|s| !state[s].is_null())
        .unwrap_or("none")
        .to_string();
    Some((phase, state))
}

fn sandboxes(endpoint: &str) -> Vec<v1::PodSandbox> {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio.block_on(async {
        let runtime = GrpcRuntime::new(endpoint).unwrap();
        runtime
            .list_pod_sandbox(v1::ListPodSandboxRequest::default())
            .await
            .expect("ListPodSandbox on the reference runtime")
            .items
    })
}

#[test]
fn standalone_kubelet_runs_a_static_busybox_pod_and_leaves_nothing() {
    let Some(mut kubelet) = Kubelet::standalone("smoke") else {
        return;
    };
    kubelet
        .write_manifest("web.yaml", &sleeper("web"))
        .expect("writing the manifest");
    let deadline = Instant::now() + TIMEOUT;
    let mut last = None;
    while Instant::now() < deadline {
        last = pod_state(&kubelet, "web");
        if last
            .as_ref()
            .is_some_and(|(p, s)| p == "Running" && s == "running")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(
        last,
        Some(("Running".to_string(), "running".to_string())),
        "the static pod on the kubelet's /pods\n{}",
        kubelet.log_tail(40)
    );
    let endpoint = kubelet.cri_endpoint().to_string();
    let ours: Vec<v1::PodSandbox> = sandboxes(&endpoint)
        .into_iter()
        .filter(|s| {
            s.metadata
                .as_ref()
                .is_some_and(|m| m.name == kubelet.pod_name("web"))
        })
        .collect();
    assert_eq!(ours.len(), 1, "one sandbox for the pod: {ours:?}");

    let dir = kubelet.root_dir();
    let dir = dir.parent().unwrap().to_path_buf();
    let cgroup_root = kubelet.cgroup_root();
    let pid = kubelet.pid().expect("the kubelet runs");
    let problems = kubelet.stop();
    assert!(problems.is_empty(), "clean-up problems: {problems:?}");

    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the kubelet ({pid}) is gone"
    );
    assert!(
        sandboxes(&endpoint).is_empty(),
        "no pod is left in the reference runtime"
    );
    assert!(
        test_env::mounts_under(&dir).unwrap().is_empty(),
        "nothing is mounted under {}",
        dir.display()
    );
    for hierarchy in ["memory", "cpu", "pids"] {
        let path = Path::new(test_env::CGROUP_MOUNT)
            .join(hierarchy)
            .join(cgroup_root.trim_start_matches('/'));
        assert!(!path.exists(), "{} is removed", path.display());
    }
}
