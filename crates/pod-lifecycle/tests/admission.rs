//! The pod manager's resource-fit admission (PH-21) on `FakeRuntime`: a pod whose requests
//! do not fit in the node allocatable left by the admitted pods is rejected with the
//! kubelet's reason and message; pods that fit, and pods without requests, run.

use std::sync::Arc;

use cgroup_enforcer::allocatable::NodeResources;
use cri_client::fake::FakeRuntime;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pod_lifecycle::pod_manager::{PodManager, PodManagerConfig};
use pod_lifecycle::worker::{MemoryStatusSink, PodHost, PodWorkers, SystemClock, WorkerConfig};

fn pod(name: &str, requests: &[(&str, &str)], init: Option<(&str, &str)>) -> Pod {
    let list = |items: &[(&str, &str)]| {
        Some(
            items
                .iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect(),
        )
    };
    let container = |name: &str, requests: &[(&str, &str)]| Container {
        name: name.into(),
        image: Some("localhost/busybox:1".into()),
        command: Some(vec!["sleep".into(), "3600".into()]),
        resources: Some(ResourceRequirements {
            requests: list(requests),
            ..Default::default()
        }),
        ..Default::default()
    };
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![container("app", requests)],
            init_containers: init.map(|(k, v)| vec![container("init", &[(k, v)])]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The manager, its statuses, and the pod log directory (removed when dropped).
fn manager(
    allocatable: Option<NodeResources>,
) -> (PodManager, MemoryStatusSink, tempfile::TempDir) {
    manager_with(PodManagerConfig {
        allocatable,
        ..Default::default()
    })
}

/// [`manager`] with the whole configuration given.
fn manager_with(config: PodManagerConfig) -> (PodManager, MemoryStatusSink, tempfile::TempDir) {
    let statuses = MemoryStatusSink::new();
    let (manager, logs) = manager_with_sink(config, Arc::new(statuses.clone()));
    (manager, statuses, logs)
}

/// [`manager_with`], the statuses going to `sink`.
fn manager_with_sink(
    config: PodManagerConfig,
    sink: Arc<dyn pod_lifecycle::worker::StatusSink>,
) -> (PodManager, tempfile::TempDir) {
    let fake = FakeRuntime::with_busybox();
    let logs = tempfile::tempdir().unwrap();
    let host = PodHost {
        status: sink.clone(),
        ..PodHost::new(Arc::new(fake.clone()), Arc::new(fake.clone()))
    };
    let workers = Arc::new(PodWorkers::new(
        host,
        WorkerConfig {
            pod_logs_dir: logs.path().to_owned(),
            ..WorkerConfig::default()
        },
    ));
    let manager = PodManager::new(workers, Arc::new(fake), sink, Arc::new(SystemClock), config);
    (manager, logs)
}

fn reason_and_message(statuses: &MemoryStatusSink, name: &str) -> (Option<String>, Option<String>) {
    let status = statuses.get(&format!("uid-{name}")).unwrap_or_default();
    (status.reason, status.message)
}

const NODE: NodeResources = NodeResources {
    cpu_milli: 2000,
    memory: 1 << 30,
    ephemeral_storage: 0,
    pids: 0,
};

#[tokio::test]
async fn ph_21_out_of_cpu_when_requests_exceed_what_is_left() {
    let (manager, statuses, _logs) = manager(Some(NODE));
    let first = pod("first", &[("cpu", "1500m")], None);
    let second = pod("second", &[("cpu", "1")], None);
    manager.set_source_pods("file", vec![first.clone()]);
    manager.set_source_pods("file", vec![first, second]);

    assert_eq!(reason_and_message(&statuses, "first").0, None);
    let (reason, message) = reason_and_message(&statuses, "second");
    assert_eq!(reason.as_deref(), Some("OutOfcpu"));
    assert_eq!(
        message.as_deref(),
        Some(
            "Pod was rejected: Node didn't have enough resource: cpu, requested: 1000, used: \
             1500, capacity: 2000"
        )
    );
    let status = statuses.get("uid-second").unwrap();
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    manager.workers().shutdown();
}

#[tokio::test]
async fn ph_21_out_of_memory_counts_the_largest_init_container() {
    let (manager, statuses, _logs) = manager(Some(NODE));
    // The init container's 2Gi is the pod's memory request (max of init and the sum of
    // the regular containers): more than the node has.
    let big_init = pod("big-init", &[("memory", "64Mi")], Some(("memory", "2Gi")));
    manager.set_source_pods("file", vec![big_init]);
    let (reason, message) = reason_and_message(&statuses, "big-init");
    assert_eq!(reason.as_deref(), Some("OutOfmemory"));
    assert_eq!(
        message.as_deref(),
        Some(&*format!(
            "Pod was rejected: Node didn't have enough resource: memory, requested: {}, used: \
             0, capacity: {}",
            2u64 << 30,
            1u64 << 30
        ))
    );
    manager.workers().shutdown();
}

#[tokio::test]
async fn pods_that_fit_or_request_nothing_are_admitted() {
    let (manager, statuses, _logs) = manager(Some(NODE));
    let pods = vec![
        pod("half", &[("cpu", "1"), ("memory", "512Mi")], None),
        pod("other-half", &[("cpu", "1"), ("memory", "512Mi")], None),
        // Nothing left, but a BestEffort pod requests nothing.
        pod("best-effort", &[], None),
    ];
    manager.set_source_pods("file", pods);
    for name in ["half", "other-half", "best-effort"] {
        let (reason, _) = reason_and_message(&statuses, name);
        assert_ne!(reason.as_deref(), Some("OutOfcpu"), "{name}");
        assert_ne!(reason.as_deref(), Some("OutOfmemory"), "{name}");
    }
    let late = pod("late", &[("cpu", "10m")], None);
    let mut all = vec![
        pod("half", &[("cpu", "1"), ("memory", "512Mi")], None),
        pod("other-half", &[("cpu", "1"), ("memory", "512Mi")], None),
        pod("best-effort", &[], None),
    ];
    all.push(late);
    manager.set_source_pods("file", all);
    assert_eq!(
        reason_and_message(&statuses, "late").0.as_deref(),
        Some("OutOfcpu")
    );
    manager.workers().shutdown();
}

#[tokio::test]
async fn without_allocatable_only_the_pod_count_is_checked() {
    let (manager, statuses, _logs) = manager(None);
    manager.set_source_pods("file", vec![pod("huge", &[("cpu", "1000")], None)]);
    assert_eq!(reason_and_message(&statuses, "huge").0, None);
    manager.workers().shutdown();
}

/// `static-pod-defaulting` (differential suite): the manager gives every pod the API's
/// defaults before admission, so a container with a limit and no request requests its limit
/// (as a static pod decoded by the kubelet does), and admission counts it.
#[tokio::test]
async fn static_pod_defaulting_requests_default_to_limits_before_admission() {
    let (manager, statuses, _logs) = manager(Some(NODE));
    let mut limited = pod("limited", &[], None);
    let app = &mut limited.spec.as_mut().unwrap().containers[0];
    app.resources = Some(ResourceRequirements {
        limits: Some([("cpu".to_string(), Quantity("3".into()))].into()),
        ..Default::default()
    });
    manager.set_source_pods("file", vec![limited]);
    let (reason, _) = reason_and_message(&statuses, "limited");
    assert_eq!(reason.as_deref(), Some("OutOfcpu"), "3 CPUs requested on 2");
    manager.workers().shutdown();
}

/// `restart-policy-not-validated` (differential suite): a pod with an unknown
/// `restartPolicy` or `imagePullPolicy`, from any source, never reaches a worker.
#[tokio::test]
async fn sp_02_unknown_restart_or_pull_policy_is_refused_for_every_source() {
    let (manager, statuses, _logs) = manager(None);
    let mut sometimes = pod("sometimes", &[], None);
    sometimes.spec.as_mut().unwrap().restart_policy = Some("Sometimes".into());
    let mut pull = pod("pull", &[], None);
    pull.spec.as_mut().unwrap().containers[0].image_pull_policy = Some("Sometimes".into());
    let good = pod("good", &[], None);
    manager.set_source_pods("api", vec![sometimes, pull, good]);
    for refused in ["sometimes", "pull"] {
        assert_eq!(
            manager.workers().phase(&format!("uid-{refused}")),
            None,
            "{refused}"
        );
        assert!(
            statuses.get(&format!("uid-{refused}")).is_none(),
            "{refused}"
        );
    }
    assert!(manager.workers().phase("uid-good").is_some());
    manager.workers().shutdown();
}

/// The kubelet's other predicates: a pod whose node selector does not match the node's
/// labels, one bound to another node, and one asking for a host port an admitted pod holds
/// end Failed with the predicate as the reason; a matching pod runs.
#[tokio::test]
async fn node_affinity_node_name_and_host_ports_are_admission_predicates() {
    let (manager, statuses, _logs) = manager_with(PodManagerConfig {
        node_name: "n1".into(),
        node_labels: [("disk".to_string(), "ssd".to_string())].into(),
        ..Default::default()
    });
    let mut ssd = pod("ssd", &[], None);
    ssd.spec.as_mut().unwrap().node_selector = Some([("disk".into(), "ssd".into())].into());
    let mut hdd = pod("hdd", &[], None);
    hdd.spec.as_mut().unwrap().node_selector = Some([("disk".into(), "hdd".into())].into());
    let mut elsewhere = pod("elsewhere", &[], None);
    elsewhere.spec.as_mut().unwrap().node_name = Some("n2".into());
    let with_port = |name: &str| {
        let mut p = pod(name, &[], None);
        p.spec.as_mut().unwrap().containers[0].ports =
            Some(vec![k8s_openapi::api::core::v1::ContainerPort {
                container_port: 80,
                host_port: Some(8080),
                ..Default::default()
            }]);
        p
    };
    let (port_a, port_b) = (with_port("port-a"), with_port("port-b"));
    manager.set_source_pods("file", vec![ssd.clone(), port_a.clone()]);
    manager.set_source_pods("file", vec![ssd, port_a, hdd, elsewhere, port_b]);

    assert_eq!(reason_and_message(&statuses, "ssd").0, None);
    assert_eq!(reason_and_message(&statuses, "port-a").0, None);
    let expect = [
        (
            "hdd",
            "NodeAffinity",
            "Pod was rejected: Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector",
        ),
        (
            "elsewhere",
            "NodeName",
            "Pod was rejected: Predicate NodeName failed: node(s) didn't match the requested node name",
        ),
        (
            "port-b",
            "NodePorts",
            "Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports",
        ),
    ];
    for (name, reason, message) in expect {
        let (r, m) = reason_and_message(&statuses, name);
        assert_eq!(r.as_deref(), Some(reason), "{name}");
        assert_eq!(m.as_deref(), Some(message), "{name}");
        assert_eq!(
            statuses
                .get(&format!("uid-{name}"))
                .unwrap()
                .phase
                .as_deref(),
            Some("Failed")
        );
    }
    manager.workers().shutdown();
}

/// What a status sink was told about pods ending.
#[derive(Default)]
struct Endings {
    terminated: std::sync::Mutex<Vec<String>>,
    removed: std::sync::Mutex<Vec<String>>,
}

impl pod_lifecycle::worker::StatusSink for Endings {
    fn set_pod_status(&self, _: &Pod, _: &k8s_openapi::api::core::v1::PodStatus) {}
    fn pod_terminated(&self, pod: &Pod, _: &k8s_openapi::api::core::v1::PodStatus) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        self.terminated.lock().unwrap().push(uid);
    }
    fn pod_removed(&self, pod: &Pod) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        self.removed.lock().unwrap().push(uid);
    }
}

/// Issue 19's churn: a pod refused at admission (here `OutOfpods`) that is then deleted is
/// terminated at once, so a sink for the API server deletes its object, as the kubelet's
/// status manager deletes a terminal pod being deleted. Before, nothing ended it: its
/// object, with the pod in every cache of the node, stayed for good.
#[tokio::test]
async fn ph_22_ft_04_a_rejected_pod_being_deleted_is_terminated() {
    let endings = Arc::new(Endings::default());
    let (manager, _logs) = manager_with_sink(
        PodManagerConfig {
            max_pods: 1,
            ..Default::default()
        },
        endings.clone(),
    );
    let first = pod("first", &[], None);
    let second = pod("second", &[], None);
    manager.set_source_pods("api", vec![first.clone(), second.clone()]);
    assert!(endings.terminated.lock().unwrap().is_empty());

    let mut deleted = second.clone();
    deleted.metadata.deletion_timestamp = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()),
    );
    manager.set_source_pods("api", vec![first.clone(), deleted.clone()]);
    manager.set_source_pods("api", vec![first.clone(), deleted]);
    assert_eq!(*endings.terminated.lock().unwrap(), ["uid-second"], "once");

    // Its object gone from the source, housekeeping forgets it.
    manager.set_source_pods("api", vec![first]);
    manager.housekeeping().await;
    assert_eq!(*endings.removed.lock().unwrap(), ["uid-second"]);
    manager.workers().shutdown();
}
