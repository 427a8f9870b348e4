//! End to end: the `nodelet` binary against the real containerd of `cargo xtask setup`,
//! observed from outside through `/pods`, `/errors`, `/metrics` and the CRI (checklist
//! SP-01, SP-02, SP-06, SP-07, LC-21, PH-22, HT-03, HT-09, RP-06).
//!
//! Without the environment (`$NODELET_CRI_ENDPOINT` unset, in the process and in
//! `target/nodelet-env/env`, or not answering) each test says so and passes, except with
//! `CI=true`, where it fails. The tests take turns on the runtime
//! (see `common`), and every wait is a poll with a generous timeout, never a timing
//! assertion.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{
    Node, app_statuses, http_get, init_statuses, is_running, phase, pod_ip, pod_yaml, runtime_id,
    runtime_running, sleeper_yaml, state_reason, summary,
};
use cri_client::v1;
use k8s_openapi::api::core::v1::Pod;
use test_env::labels::{CONTAINER_NAME, CONTAINER_RESTART_COUNT, POD_NAME, POD_UID};

/// The example web server: busybox httpd on 8080 serving a page written at start.
const WEB: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  terminationGracePeriodSeconds: 5
  containers:
    - name: httpd
      image: localhost/busybox:1
      command:
        - sh
        - -c
        - |
          mkdir -p /www && echo "hello from $(hostname)" > /www/index.html
          trap 'exit 0' TERM
          httpd -f -p 8080 -h /www &
          wait
      ports:
        - name: http
          containerPort: 8080
"#;

/// Two init containers, in order, then a sleeping app.
const INIT: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: initialized
spec:
  terminationGracePeriodSeconds: 5
  initContainers:
    - name: prepare
      image: localhost/busybox:1
      command: ["sh", "-c", "echo preparing; sleep 1"]
    - name: check
      image: localhost/busybox:1
      command: ["sh", "-c", "echo checking; true"]
  containers:
    - name: app
      image: localhost/busybox:1
      command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
"#;

/// The three pods most tests run: file name, manifest, pod name.
fn three_pods() -> [(&'static str, String, &'static str); 3] {
    [
        ("web.yaml", WEB.to_owned(), "web"),
        ("init.yaml", INIT.to_owned(), "initialized"),
        ("sleeper.yaml", sleeper_yaml("sleeper"), "sleeper"),
    ]
}

fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a str> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

/// Every container (init and app) of the pods in `/pods`: `(pod, container) -> runtime id`.
fn status_ids(pods: &[Pod]) -> BTreeMap<(String, String), Option<String>> {
    pods.iter()
        .flat_map(|pod| {
            let name = pod.metadata.name.clone().unwrap_or_default();
            init_statuses(pod)
                .iter()
                .chain(app_statuses(pod))
                .map(move |c| {
                    (
                        (name.clone(), c.name.clone()),
                        runtime_id(c).map(str::to_owned),
                    )
                })
        })
        .collect()
}

/// What the runtime holds for a node: `(container id, pod, container, attempt, state)`.
fn runtime_containers(node: &Node) -> BTreeSet<(String, String, String, u32, i32)> {
    node.containers()
        .into_iter()
        .map(|c| {
            (
                c.id,
                c.labels.get(POD_NAME).cloned().unwrap_or_default(),
                c.labels.get(CONTAINER_NAME).cloned().unwrap_or_default(),
                c.metadata.map(|m| m.attempt).unwrap_or_default(),
                c.state,
            )
        })
        .collect()
}

/// SP-01, HT-03: three static pods (a web server, a pod with init containers, a sleeper)
/// reach Running with complete, true statuses; `/pods` is a `v1.PodList`; httpd answers on
/// the pod IP.
#[test]
fn sp_01_three_static_pods_reach_running() {
    let Some(mut node) = Node::new("sp01", "") else {
        return;
    };
    for (file, yaml, _) in three_pods() {
        node.write_manifest(file, &yaml);
    }
    node.start();
    let pods: Vec<Pod> = three_pods()
        .iter()
        .map(|(_, _, name)| node.wait_running(name))
        .collect();
    // The init pod's app only runs once both init containers completed, so the statuses
    // below are final.
    let runtime = node.runtime();
    for (pod, (_, _, short)) in pods.iter().zip(three_pods()) {
        let name = pod.metadata.name.as_deref().unwrap();
        let uid = pod.metadata.uid.as_deref().unwrap_or("");
        assert_eq!(pod.metadata.namespace.as_deref(), Some("default"), "{name}");
        assert!(!uid.is_empty(), "{name} has no uid");
        assert_eq!(
            pod.spec.as_ref().and_then(|s| s.node_name.as_deref()),
            Some(node.name.as_str())
        );
        for type_ in [
            "PodReadyToStartContainers",
            "Initialized",
            "ContainersReady",
            "Ready",
        ] {
            assert_eq!(
                condition(pod, type_),
                Some("True"),
                "{type_}: {}",
                summary(pod)
            );
        }
        for c in app_statuses(pod) {
            assert!(c.ready, "{name}/{} not ready", c.name);
            assert_eq!(c.restart_count, 0, "{name}/{}", c.name);
            assert_eq!(c.started, Some(true), "{name}/{}", c.name);
            let id = c.container_id.as_deref().unwrap();
            assert!(id.starts_with("containerd://"), "{name}/{}: {id}", c.name);
            assert!(
                runtime_running(runtime, runtime_id(c).unwrap()),
                "{name}/{}: {id} is not running in the runtime",
                c.name
            );
            // CRI-14: the legacy symlink points at the container's log file.
            let link = std::path::Path::new("/var/log/containers").join(format!(
                "{name}_default_{}-{}.log",
                c.name,
                runtime_id(c).unwrap()
            ));
            assert!(
                std::fs::metadata(&link).is_ok(),
                "{}: no log file behind the symlink",
                link.display()
            );
        }
        // The sandbox the status describes is the one the runtime runs.
        let sandboxes = node.sandboxes_of(short);
        assert_eq!(sandboxes.len(), 1, "{name}: {sandboxes:?}");
        assert_eq!(
            sandboxes[0].state,
            v1::PodSandboxState::SandboxReady as i32,
            "{name}"
        );
        assert_eq!(
            sandboxes[0].labels.get(POD_UID).map(String::as_str),
            Some(uid)
        );
        assert_eq!(
            runtime.sandbox_ip(&sandboxes[0].id).as_deref(),
            pod_ip(pod),
            "{name}: podIP differs from the sandbox's IP"
        );
    }

    // Init containers ran in order and completed.
    let init = &pods[1];
    let inits = init_statuses(init);
    assert_eq!(
        inits.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["prepare", "check"]
    );
    let mut finished = Vec::new();
    for c in inits {
        let terminated = c
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .unwrap_or_else(|| {
                panic!(
                    "init container {} not terminated: {}",
                    c.name,
                    summary(init)
                )
            });
        assert_eq!(terminated.exit_code, 0, "{}", c.name);
        assert_eq!(
            terminated.reason.as_deref(),
            Some("Completed"),
            "{}",
            c.name
        );
        assert_eq!(c.restart_count, 0, "{}", c.name);
        let status = runtime
            .container_status(runtime_id(c).expect("init containerID"))
            .unwrap_or_else(|| panic!("init container {} is not in the runtime", c.name));
        assert_eq!(status.state, v1::ContainerState::ContainerExited as i32);
        assert_eq!(status.exit_code, 0);
        finished.push((status.started_at, status.finished_at));
    }
    assert!(
        finished[0].1 <= finished[1].0,
        "check started before prepare finished: {finished:?}"
    );

    // HT-03: the shape of the PodList.
    let list = node.pods_json();
    assert_eq!(list["kind"], "PodList", "{list}");
    assert_eq!(list["apiVersion"], "v1", "{list}");
    let items = list["items"].as_array().expect("items is an array");
    assert_eq!(items.len(), 3, "{list}");
    for item in items {
        for pointer in [
            "/metadata/name",
            "/metadata/namespace",
            "/metadata/uid",
            "/spec/containers/0/image",
            "/status/phase",
            "/status/podIP",
            "/status/containerStatuses/0/containerID",
        ] {
            assert!(
                item.pointer(pointer).is_some(),
                "{pointer} missing in {item}"
            );
        }
        assert_eq!(
            item.pointer("/metadata/annotations/kubernetes.io~1config.source"),
            Some(&serde_json::json!("file"))
        );
    }

    // The web server answers on the pod IP.
    let ip = pod_ip(&pods[0]).unwrap();
    let addr: SocketAddr = format!("{ip}:8080").parse().unwrap();
    let body = node.wait_for("httpd to answer on the pod IP", || {
        match http_get(addr, "/") {
            Ok((200, body)) => Ok(body),
            Ok((code, body)) => Err(format!("{code} {body}")),
            Err(e) => Err(e.to_string()),
        }
    });
    assert!(body.contains("hello from"), "{body:?}");
}

/// SP-06: changing the manifest replaces the pod: a new UID runs, and the old pod's
/// container and sandbox are gone from the runtime.
#[test]
fn sp_06_editing_a_manifest_replaces_the_pod() {
    let Some(mut node) = Node::new("sp06", "") else {
        return;
    };
    let script = |v: &str| format!("echo {v}; trap 'exit 0' TERM; sleep 3600 & wait");
    node.write_manifest("app.yaml", &pod_yaml("app", &script("v1")));
    node.start();
    let old = node.wait_running("app");
    let old_uid = old.metadata.uid.clone().unwrap();
    let old_id = runtime_id(&app_statuses(&old)[0]).unwrap().to_owned();
    assert!(runtime_running(node.runtime(), &old_id));

    node.write_manifest("app.yaml", &pod_yaml("app", &script("v2")));
    let new = node.wait_for("the edited pod to run under a new UID", || {
        let pod = node.pod("app").ok_or("not in /pods")?;
        let command = pod.spec.as_ref().map(|s| s.containers[0].command.clone());
        let edited = format!("{command:?}").contains("echo v2");
        let running = app_statuses(&pod)
            .first()
            .is_some_and(|c| is_running(c) && c.ready && runtime_id(c) != Some(&old_id));
        if pod.metadata.uid.as_deref() != Some(&old_uid)
            && edited
            && phase(&pod) == "Running"
            && running
        {
            Ok(pod)
        } else {
            Err(summary(&pod))
        }
    });
    let new_uid = new.metadata.uid.clone().unwrap();
    let new_id = runtime_id(&app_statuses(&new)[0]).unwrap().to_owned();
    assert!(runtime_running(node.runtime(), &new_id));

    node.wait_for("the old container and sandbox to leave the runtime", || {
        let old_container = node.runtime().container_status(&old_id);
        let old_sandboxes: Vec<String> = node
            .sandboxes_of("app")
            .into_iter()
            .filter(|s| s.labels.get(POD_UID) == Some(&old_uid))
            .map(|s| s.id)
            .collect();
        if old_container.is_none() && old_sandboxes.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "old container {old_id}: {:?}; old sandboxes {old_sandboxes:?}",
                old_container.map(|s| s.state)
            ))
        }
    });
    // One pod of that name, the new one, still running.
    let pods: Vec<Pod> = node
        .pods()
        .into_iter()
        .filter(|p| p.metadata.name.as_deref() == Some(node.pod_name("app").as_str()))
        .collect();
    assert_eq!(
        pods.len(),
        1,
        "{:?}",
        pods.iter().map(summary).collect::<Vec<_>>()
    );
    assert_eq!(pods[0].metadata.uid.as_deref(), Some(new_uid.as_str()));
    assert!(runtime_running(node.runtime(), &new_id));
    let sandboxes = node.sandboxes_of("app");
    assert_eq!(sandboxes.len(), 1, "{sandboxes:?}");
    assert_eq!(sandboxes[0].labels.get(POD_UID), Some(&new_uid));
}

/// SP-07: removing a manifest kills the pod's containers and removes its sandbox; the other
/// pods are untouched.
#[test]
fn sp_07_deleting_a_manifest_removes_containers_and_sandbox() {
    let Some(mut node) = Node::new("sp07", "") else {
        return;
    };
    node.write_manifest("doomed.yaml", &sleeper_yaml("doomed"));
    node.write_manifest("kept.yaml", &sleeper_yaml("kept"));
    node.start();
    node.wait_running("doomed");
    let kept = node.wait_running("kept");
    let kept_id = runtime_id(&app_statuses(&kept)[0]).unwrap().to_owned();
    assert!(!node.containers_of("doomed").is_empty());

    node.remove_manifest("doomed.yaml");
    node.wait_for("the deleted pod to leave /pods and the runtime", || {
        let listed = node.pod("doomed").map(|p| summary(&p));
        let sandboxes: Vec<String> = node
            .sandboxes_of("doomed")
            .into_iter()
            .map(|s| s.id)
            .collect();
        let containers: Vec<String> = node
            .containers_of("doomed")
            .into_iter()
            .map(|c| c.id)
            .collect();
        if listed.is_none() && sandboxes.is_empty() && containers.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "/pods: {listed:?}; sandboxes {sandboxes:?}; containers {containers:?}"
            ))
        }
    });
    let kept = node.wait_running("kept");
    assert_eq!(runtime_id(&app_statuses(&kept)[0]), Some(kept_id.as_str()));
    assert_eq!(app_statuses(&kept)[0].restart_count, 0);
    assert!(runtime_running(node.runtime(), &kept_id));
}

/// LC-21 (and the design's "restarting the agent must not restart a single container"):
/// after `kill -9` and a restart with the same config, nodelet adopts what runs: same
/// container ids and restart counts, no container created, pods Running.
#[test]
fn lc_21_kill_9_and_restart_keeps_containers() {
    let Some(mut node) = Node::new("lc21", "") else {
        return;
    };
    for (file, yaml, _) in three_pods() {
        node.write_manifest(file, &yaml);
    }
    node.start();
    for (_, _, name) in three_pods() {
        node.wait_running(name);
    }
    let before_status = status_ids(&node.pods());
    let before_counts: BTreeMap<String, i32> = node
        .pods()
        .iter()
        .flat_map(|p| {
            app_statuses(p)
                .iter()
                .map(|c| (c.name.clone(), c.restart_count))
        })
        .collect();
    let before_runtime = runtime_containers(&node);
    assert_eq!(before_runtime.len(), 5, "{before_runtime:?}");
    let sandboxes_before: BTreeSet<String> = node.sandboxes().into_iter().map(|s| s.id).collect();

    node.kill_9();
    // The containers outlive the agent.
    for c in &before_runtime {
        let state = node.runtime().container_status(&c.0).map(|s| s.state);
        assert_eq!(state, Some(c.4), "{c:?} changed while nodelet was dead");
    }

    node.start();
    for (_, _, name) in three_pods() {
        node.wait_running(name);
    }
    node.wait_for("the statuses to name the same containers", || {
        let now = status_ids(&node.pods());
        if now == before_status {
            Ok(())
        } else {
            Err(format!("before {before_status:?}, now {now:?}"))
        }
    });
    // Give housekeeping (2 s) and the PLEG (1 s) several rounds to misbehave: nothing may
    // be created, stopped or removed.
    let watch_until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < watch_until {
        let now = runtime_containers(&node);
        assert_eq!(
            now, before_runtime,
            "the runtime's containers changed after the restart"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let sandboxes_after: BTreeSet<String> = node.sandboxes().into_iter().map(|s| s.id).collect();
    assert_eq!(sandboxes_after, sandboxes_before);
    let pods = node.pods();
    let after_counts: BTreeMap<String, i32> = pods
        .iter()
        .flat_map(|p| {
            app_statuses(p)
                .iter()
                .map(|c| (c.name.clone(), c.restart_count))
        })
        .collect();
    assert_eq!(after_counts, before_counts);
    for pod in &pods {
        assert_eq!(phase(pod), "Running", "{}", summary(pod));
    }
}

/// SP-02: a manifest that does not parse, or has no name, is reported on `/errors` with its
/// file and the reason; dot files are ignored; the other pods keep running untouched, and a
/// fixed manifest becomes a pod.
#[test]
fn sp_02_invalid_manifest_is_reported_and_others_keep_running() {
    let Some(mut node) = Node::new("sp02", "") else {
        return;
    };
    node.write_manifest("good.yaml", &sleeper_yaml("good"));
    node.write_manifest(
        "broken.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n",
    );
    node.write_manifest(
        "noname.yaml",
        &sleeper_yaml("x").replace("  name: x\n", "  labels: {}\n"),
    );
    std::fs::write(
        node.manifest_dir().join(".hidden.yaml"),
        sleeper_yaml("hidden"),
    )
    .unwrap();
    node.start();
    let good = node.wait_running("good");
    let good_id = runtime_id(&app_statuses(&good)[0]).unwrap().to_owned();

    let errors_for = |files: &[&str]| {
        let (code, body) = node.get("/errors");
        if code != 200 {
            return Err(format!("{code} {body}"));
        }
        let errors: Vec<serde_json::Value> =
            serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        let found = files.iter().all(|f| {
            errors.iter().any(|e| {
                e["file"]
                    .as_str()
                    .is_some_and(|p| p.ends_with(&format!("/{f}")))
                    && e["reason"].as_str().is_some_and(|r| !r.trim().is_empty())
            })
        });
        if found { Ok(errors) } else { Err(body) }
    };
    let errors = node.wait_for("/errors to report both bad manifests", || {
        errors_for(&["broken.yaml", "noname.yaml"])
    });
    assert!(
        errors
            .iter()
            .all(|e| !e["file"].as_str().unwrap_or("").contains(".hidden")),
        "{errors:?}"
    );
    let noname = errors
        .iter()
        .find(|e| e["file"].as_str().unwrap_or("").ends_with("/noname.yaml"))
        .unwrap();
    assert!(
        noname["reason"].as_str().unwrap().contains("name"),
        "the reason should say the name is missing: {noname}"
    );
    let names: Vec<String> = node
        .pods()
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    assert_eq!(
        names,
        [node.pod_name("good")],
        "only the good manifest is a pod"
    );

    // A bad manifest appearing later changes nothing for the running pod.
    node.write_manifest("late.yaml", "kind: Pod\napiVersion: v1\nspec: 42\n");
    node.wait_for("/errors to report the late manifest", || {
        errors_for(&["broken.yaml", "noname.yaml", "late.yaml"])
    });
    // Fixing a manifest turns it into a pod and clears its error.
    node.write_manifest("broken.yaml", &sleeper_yaml("fixed"));
    node.wait_running("fixed");
    node.wait_for("/errors to drop the fixed manifest", || {
        let (_, body) = node.get("/errors");
        if body.contains("broken.yaml") {
            Err(body)
        } else {
            Ok(())
        }
    });
    let good = node.wait_running("good");
    assert_eq!(runtime_id(&app_statuses(&good)[0]), Some(good_id.as_str()));
    assert_eq!(app_statuses(&good)[0].restart_count, 0);
    assert!(runtime_running(node.runtime(), &good_id));
    assert!(node.pod("hidden").is_none());
}

/// PH-22: with `maxPods: 2`, the third pod is rejected with `OutOfpods`, gets a Failed
/// status and no sandbox; the two others run.
#[test]
fn ph_22_max_pods_is_enforced() {
    let Some(mut node) = Node::new("ph22", "maxPods: 2\n") else {
        return;
    };
    for name in ["a", "b", "c"] {
        node.write_manifest(&format!("{name}.yaml"), &sleeper_yaml(name));
    }
    node.start();
    let (running, rejected) = node.wait_for("two pods Running and one rejected", || {
        let pods = node.pods();
        let running: Vec<&Pod> = pods
            .iter()
            .filter(|p| phase(p) == "Running" && app_statuses(p).iter().all(|c| c.ready))
            .collect();
        let rejected: Vec<&Pod> = pods
            .iter()
            .filter(|p| {
                phase(p) == "Failed"
                    && p.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("OutOfpods")
            })
            .collect();
        if pods.len() == 3 && running.len() == 2 && rejected.len() == 1 {
            let names = |ps: &[&Pod]| -> Vec<String> {
                ps.iter().filter_map(|p| p.metadata.name.clone()).collect()
            };
            Ok((names(&running), rejected[0].clone()))
        } else {
            Err(pods.iter().map(summary).collect::<Vec<_>>().join("; "))
        }
    });
    let rejected_name = rejected.metadata.name.clone().unwrap();
    let message = rejected
        .status
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or_default();
    assert!(message.contains("pods"), "{message:?}");
    // Watch a few housekeeping rounds: the rejected pod never gets a sandbox or a container.
    let watch_until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < watch_until {
        let short = rejected_name.trim_end_matches(&format!("-{}", node.name));
        assert!(
            node.sandboxes_of(short).is_empty(),
            "{rejected_name} has a sandbox"
        );
        assert!(
            node.containers_of(short).is_empty(),
            "{rejected_name} has containers"
        );
        let pod = node.pod(short).expect("the rejected pod stays in /pods");
        assert_eq!(phase(&pod), "Failed", "{}", summary(&pod));
        std::thread::sleep(Duration::from_millis(500));
    }
    let mut sandbox_names: Vec<String> = node
        .sandboxes()
        .into_iter()
        .filter(|s| s.state == v1::PodSandboxState::SandboxReady as i32)
        .filter_map(|s| s.metadata.map(|m| m.name))
        .collect();
    sandbox_names.sort();
    let mut running = running;
    running.sort();
    assert_eq!(sandbox_names, running);
}

/// HT-09: `kubelet_running_pods` and `kubelet_running_containers{container_state="running"}`
/// equal what the runtime runs, before and after a pod is deleted.
#[test]
fn ht_09_metrics_match_reality() {
    let Some(mut node) = Node::new("ht09", "") else {
        return;
    };
    for (file, yaml, _) in three_pods() {
        node.write_manifest(file, &yaml);
    }
    node.start();
    for (_, _, name) in three_pods() {
        node.wait_running(name);
    }
    let check = |expected_pods: usize, expected_containers: usize| {
        node.wait_for("the metrics to match the runtime", || {
            let metrics = node.metrics();
            let ready_sandboxes = node
                .sandboxes()
                .iter()
                .filter(|s| s.state == v1::PodSandboxState::SandboxReady as i32)
                .count();
            let running_containers = node
                .containers()
                .iter()
                .filter(|c| c.state == v1::ContainerState::ContainerRunning as i32)
                .count();
            let pods = metrics.get("kubelet_running_pods").copied();
            let containers = metrics
                .get("kubelet_running_containers{container_state=\"running\"}")
                .copied();
            let seen = format!(
                "kubelet_running_pods {pods:?} vs {ready_sandboxes} READY sandboxes; \
                 running containers {containers:?} vs {running_containers} in the runtime"
            );
            if pods == Some(ready_sandboxes as f64)
                && containers == Some(running_containers as f64)
                && ready_sandboxes == expected_pods
                && running_containers == expected_containers
            {
                Ok(())
            } else {
                Err(seen)
            }
        })
    };
    check(3, 3);
    let metrics = node.metrics();
    assert_eq!(
        metrics.get(&format!("kubelet_node_name{{node=\"{}\"}}", node.name)),
        Some(&1.0)
    );
    // Every CRI call is counted: one RunPodSandbox per pod, one CreateContainer per
    // container, relists as ListPodSandbox; each pod's start and first sync observed once.
    let value = |name: &str| metrics.get(name).copied().unwrap_or(0.0);
    assert_eq!(
        value("kubelet_runtime_operations_total{operation_type=\"run_podsandbox\"}"),
        3.0
    );
    assert!(value("kubelet_runtime_operations_total{operation_type=\"create_container\"}") >= 3.0);
    assert!(value("kubelet_runtime_operations_total{operation_type=\"list_podsandbox\"}") >= 1.0);
    assert_eq!(
        value(
            "kubelet_runtime_operations_duration_seconds_count{operation_type=\"run_podsandbox\"}"
        ),
        3.0
    );
    assert_eq!(value("kubelet_pod_start_duration_seconds_count"), 3.0);
    assert_eq!(
        value("kubelet_pod_worker_duration_seconds_count{operation_type=\"create\"}"),
        3.0
    );
    node.remove_manifest("web.yaml");
    check(2, 2);
}

/// RP-06 and LC-21: a container that keeps failing shows `CrashLoopBackOff` with a growing
/// `restartCount` and the last exit in `lastState`; the count is what the runtime's latest
/// container says, and it survives a restart of the agent.
#[test]
fn rp_06_crash_loop_back_off_and_restart_count_survives_agent_restart() {
    let Some(mut node) = Node::new("rp06", "") else {
        return;
    };
    node.write_manifest("crash.yaml", &pod_yaml("crash", "echo crashing; exit 1"));
    node.start();
    // The restart count recorded on the runtime's newest container.
    let runtime_count = |node: &Node| {
        node.containers_of("crash")
            .iter()
            .filter_map(|c| {
                c.annotations
                    .get(CONTAINER_RESTART_COUNT)?
                    .parse::<i32>()
                    .ok()
            })
            .max()
    };
    let mut seen = Vec::new();
    let backed_off = node.wait_for("CrashLoopBackOff after at least two restarts", || {
        let pod = node.pod("crash").ok_or("not in /pods")?;
        let Some(c) = app_statuses(&pod).first() else {
            return Err(summary(&pod));
        };
        seen.push(c.restart_count);
        let last_exit = c
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| t.exit_code);
        if state_reason(c) == Some("CrashLoopBackOff")
            && c.restart_count >= 2
            && last_exit == Some(1)
        {
            Ok(pod.clone())
        } else {
            Err(summary(&pod))
        }
    });
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "restartCount went down: {seen:?}"
    );
    assert_eq!(phase(&backed_off), "Running", "{}", summary(&backed_off));
    let c = &app_statuses(&backed_off)[0];
    assert!(!c.ready);
    let message = c
        .state
        .as_ref()
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.message.clone())
        .unwrap_or_default();
    assert!(message.starts_with("back-off "), "{message:?}");
    assert!(message.contains(&node.pod_name("crash")), "{message:?}");

    let before = node.wait_for("the status and the runtime to agree on the count", || {
        let pod = node.pod("crash").ok_or("not in /pods")?;
        let status = app_statuses(&pod).first().map(|c| c.restart_count);
        match (status, runtime_count(&node)) {
            (Some(s), Some(r)) if s == r => Ok(s),
            other => Err(format!("status, runtime: {other:?}")),
        }
    });
    assert!(before >= 2);

    node.stop();
    node.start();
    let mut seen = Vec::new();
    let after = node.wait_for("the restarted agent to report the crash loop again", || {
        let pod = node.pod("crash").ok_or("not in /pods")?;
        let Some(c) = app_statuses(&pod).first() else {
            return Err(summary(&pod));
        };
        seen.push(c.restart_count);
        let runtime = runtime_count(&node);
        let settled = matches!(state_reason(c), Some("CrashLoopBackOff")) || is_running(c);
        if settled && Some(c.restart_count) == runtime {
            Ok(c.restart_count)
        } else {
            Err(format!("{}; runtime count {runtime:?}", summary(&pod)))
        }
    });
    assert!(
        seen.iter().all(|&n| n >= before),
        "restartCount fell below {before} after the agent restart: {seen:?}"
    );
    assert!(after >= before);
}

/// A pod with a ConfigMap and a Secret defined beside it in the manifest directory, an
/// emptyDir and a memory emptyDir; its app reads the files.
const VOLUMES: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: site
data:
  index.html: hello from a ConfigMap
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  token: s3cret
---
apiVersion: v1
kind: Pod
metadata:
  name: volumes
spec:
  terminationGracePeriodSeconds: 2
  volumes:
    - name: site
      configMap:
        name: site
    - name: creds
      secret:
        secretName: creds
    - name: scratch
      emptyDir: {}
    - name: fast
      emptyDir:
        medium: Memory
  containers:
    - name: app
      image: localhost/busybox:1
      command: ["sh", "-c", "cat /site/index.html /creds/token > /scratch/seen; trap 'exit 0' TERM; sleep 3600 & wait"]
      volumeMounts:
        - {name: site, mountPath: /site}
        - {name: creds, mountPath: /creds}
        - {name: scratch, mountPath: /scratch}
        - {name: fast, mountPath: /fast}
"#;

/// Volumes from the manifest directory reach the container; killing nodelet with them
/// mounted and starting it again neither mounts twice nor unmounts what the running pod
/// uses; deleting the manifest unmounts everything and removes `pods/<uid>`.
#[test]
fn vo_18_volumes_survive_kill_9_without_double_mounts_and_go_with_the_pod() {
    let Some(mut node) = Node::new("vo18", "") else {
        return;
    };
    node.write_manifest("volumes.yaml", VOLUMES);
    node.start();
    let pod = node.wait_running("volumes");
    let uid = pod.metadata.uid.clone().unwrap();
    let pod_dir = node.root_dir().join("pods").join(&uid);
    let seen = pod_dir.join("volumes/kubernetes.io~empty-dir/scratch/seen");
    node.wait_for("the app to read its volumes", || {
        std::fs::read_to_string(&seen).map_err(|e| e.to_string())
    });
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap(),
        "hello from a ConfigMaps3cret"
    );
    let mounts_before = node.mounts();
    // The secret and the memory emptyDir are tmpfs mounts.
    assert_eq!(mounts_before.len(), 2, "{mounts_before:?}");
    let containers_before = runtime_containers(&node);

    node.kill_9();
    node.start();
    node.wait_running("volumes");
    // Several syncs and housekeeping rounds after the restart.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(node.mounts(), mounts_before, "no double mount, none lost");
    assert_eq!(runtime_containers(&node), containers_before);

    node.remove_manifest("volumes.yaml");
    node.wait_for("pods/<uid> to be removed", || {
        if pod_dir.exists() {
            Err(format!(
                "{} still there; mounts {:?}",
                pod_dir.display(),
                node.mounts()
            ))
        } else {
            Ok(())
        }
    });
    assert_eq!(node.mounts(), Vec::<std::path::PathBuf>::new());
}

/// `prober_probe_total{...}` of one probe in `/metrics/probes`, 0 when absent.
fn probe_total(node: &Node, pod: &Pod, container: &str, probe: &str, result: &str) -> f64 {
    let (code, body) = node.get("/metrics/probes");
    assert_eq!(code, 200, "GET /metrics/probes: {body}");
    let series = format!(
        "prober_probe_total{{container=\"{container}\",namespace=\"default\",pod=\"{}\",pod_uid=\"{}\",probe_type=\"{probe}\",result=\"{result}\"}}",
        pod.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.uid.as_deref().unwrap_or_default(),
    );
    body.lines()
        .find_map(|line| line.strip_prefix(&series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// PR-22 end to end, with the demo's own web server manifest (a readiness httpGet probe on
/// the named port, a tcpSocket liveness probe): the pod becomes Ready through its probe,
/// and `/metrics/probes` counts the successful readiness runs as they happen.
#[test]
fn pr_22_probe_metrics_count_readiness_runs_on_metrics_probes() {
    let Some(mut node) = Node::new("pr22", "") else {
        return;
    };
    let web = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/manifests/web.yaml"),
    )
    .expect("the demo's web.yaml");
    assert!(web.contains("readinessProbe:") && web.contains("livenessProbe:"));
    node.write_manifest("web.yaml", &web);
    node.start();
    let pod = node.wait_running("web");
    assert_eq!(condition(&pod, "Ready"), Some("True"), "{}", summary(&pod));
    let first = node.wait_for("a successful readiness run counted", || {
        match probe_total(&node, &pod, "httpd", "Readiness", "successful") {
            n if n >= 1.0 => Ok(n),
            n => Err(format!("{n}")),
        }
    });
    // A readiness probe runs as soon as the container starts (no initial delay), so a run
    // may fail once before httpd listens, under the kubelet too; once Ready, none fails.
    let failed = probe_total(&node, &pod, "httpd", "Readiness", "failed");
    assert!(
        failed <= 1.0,
        "{failed} failed readiness runs before the first success"
    );
    // The next period's run is counted too.
    node.wait_for(
        "another successful readiness run counted",
        || match probe_total(&node, &pod, "httpd", "Readiness", "successful") {
            n if n > first => Ok(()),
            n => Err(format!("{n}, first {first}")),
        },
    );
    assert_eq!(
        probe_total(&node, &pod, "httpd", "Readiness", "failed"),
        failed
    );
    node.wait_for("a successful liveness run counted", || {
        match probe_total(&node, &pod, "httpd", "Liveness", "successful") {
            n if n >= 1.0 => Ok(()),
            n => Err(format!("{n}")),
        }
    });
    let pod = node.pod("web").expect("web in /pods");
    assert_eq!(app_statuses(&pod)[0].restart_count, 0);
}

/// The cgroup hierarchy through the agent (QS-04, QS-15, QS-18): `kubepods` under the
/// node's own `cgroupRoot` sized from the capacity minus `kubeReserved` and
/// `systemReserved`, a static pod's cgroup in its QoS class with its limits and its
/// container inside, a pod cgroup left by an earlier run removed once the manifests are
/// read, and no `pod<uid>` left after the manifest is deleted.
#[test]
fn qs_04_qs_15_qs_18_agent_kubepods_pod_cgroups_and_orphans() {
    let Some(mut node) = Node::new(
        "qs15",
        "kubeReserved:\n  cpu: 500m\n  memory: 100Mi\nsystemReserved:\n  memory: 100Mi\n\
         podPidsLimit: 200\n",
    ) else {
        return;
    };
    let cgroup_root = node.cgroup_root();
    let dir = |controller: &str, rel: &str| {
        std::path::PathBuf::from(format!("/sys/fs/cgroup/{controller}{cgroup_root}/{rel}"))
    };
    let read = |controller: &str, rel: &str, file: &str| {
        let path = dir(controller, rel).join(file);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .to_owned()
    };
    // A pod cgroup of a pod deleted while no agent ran.
    let stale = "kubepods/besteffort/podstale-qs15";
    for controller in ["cpu", "memory", "pids"] {
        std::fs::create_dir_all(dir(controller, stale)).expect("a stale pod cgroup");
    }
    node.write_manifest(
        "cg.yaml",
        r#"apiVersion: v1
kind: Pod
metadata:
  name: cg
spec:
  terminationGracePeriodSeconds: 5
  containers:
    - name: app
      image: localhost/busybox:1
      command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
      resources:
        requests: {cpu: 100m, memory: 32Mi}
        limits: {memory: 64Mi}
"#,
    );
    node.start();
    let pod = node.wait_running("cg");
    let uid = pod.metadata.uid.clone().expect("a UID");

    // kubepods: capacity − kubeReserved − systemReserved (not the eviction threshold).
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let mem_total: i64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("MemTotal");
    let expected = (mem_total * 1024 - (200 << 20)) / 4096 * 4096;
    assert_eq!(
        read("memory", "kubepods", "memory.limit_in_bytes"),
        expected.to_string()
    );
    let cpus = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap()
        .lines()
        .filter(|l| l.split(':').next().map(str::trim) == Some("processor"))
        .count() as i64;
    assert_eq!(
        read("cpu", "kubepods", "cpu.shares"),
        ((cpus * 1000 - 500) * 1024 / 1000).to_string()
    );

    // The pod's cgroup and its container inside.
    let cgroup = format!("kubepods/burstable/pod{uid}");
    assert_eq!(read("memory", &cgroup, "memory.limit_in_bytes"), "67108864");
    assert_eq!(read("cpu", &cgroup, "cpu.shares"), "102");
    assert_eq!(read("cpu", &cgroup, "cpu.cfs_quota_us"), "-1");
    assert_eq!(read("pids", &cgroup, "pids.max"), "200");
    let id = runtime_id(&app_statuses(&pod)[0])
        .expect("a container ID")
        .to_owned();
    assert!(
        dir("memory", &cgroup).join(&id).is_dir(),
        "{summary}",
        summary = summary(&pod)
    );

    // The stale pod cgroup goes once the file source has reported.
    node.wait_for("the stale pod cgroup to be removed", || {
        let left: Vec<_> = ["cpu", "memory", "pids"]
            .into_iter()
            .filter(|c| dir(c, stale).exists())
            .collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("still in {left:?}"))
        }
    });

    // Deleting the manifest removes the pod cgroup from every hierarchy.
    node.remove_manifest("cg.yaml");
    node.wait_for("the pod cgroup to be removed", || {
        let left: Vec<String> = std::fs::read_dir("/sys/fs/cgroup")
            .unwrap()
            .flatten()
            .map(|h| h.path().join(cgroup_root.trim_start_matches('/')))
            .map(|root| root.join(format!("kubepods/burstable/pod{uid}")))
            .filter(|d| d.exists())
            .map(|d| d.display().to_string())
            .collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("left: {left:?}"))
        }
    });
}

/// A pod whose container sets no resources and reports, in its termination message, the
/// `resourceFieldRef`s it reads through `env` and through a downwardAPI volume.
fn limits_manifest() -> String {
    let env = [
        ("CPU_LIMIT", "limits.cpu", "1m"),
        ("MEMORY_LIMIT", "limits.memory", "1"),
        ("EPHEMERAL_LIMIT", "limits.ephemeral-storage", "1"),
        ("CPU_REQUEST", "requests.cpu", "1m"),
    ]
    .map(|(name, resource, divisor)| {
        format!(
            "    - {{name: {name}, valueFrom: {{resourceFieldRef: \
             {{resource: {resource}, divisor: \"{divisor}\"}}}}}}\n"
        )
    })
    .concat();
    let items = [
        ("cpu_limit", "limits.cpu", "1m"),
        ("memory_limit", "limits.memory", "1Mi"),
        ("ephemeral_limit", "limits.ephemeral-storage", "1Gi"),
        ("memory_request", "requests.memory", "1"),
    ]
    .map(|(path, resource, divisor)| {
        format!(
            "      - {{path: {path}, resourceFieldRef: {{containerName: main, \
             resource: {resource}, divisor: \"{divisor}\"}}}}\n"
        )
    })
    .concat();
    let script = "{ echo CPU_LIMIT=$CPU_LIMIT; echo MEMORY_LIMIT=$MEMORY_LIMIT; \
                  echo EPHEMERAL_LIMIT=$EPHEMERAL_LIMIT; echo CPU_REQUEST=$CPU_REQUEST; \
                  for f in cpu_limit memory_limit ephemeral_limit memory_request; do \
                  echo $f=`cat /limits/$f`; done; } > /dev/termination-log";
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: limits\nspec:\n  \
         restartPolicy: Never\n  terminationGracePeriodSeconds: 2\n  volumes:\n  \
         - name: limits\n    downwardAPI:\n      items:\n{items}  containers:\n  \
         - name: main\n    image: {image}\n    command: [\"sh\", \"-c\", {script:?}]\n    \
         volumeMounts:\n    - {{name: limits, mountPath: /limits}}\n    env:\n{env}",
        image = test_env::busybox_image(),
    )
}

/// The manifest of the test below is a valid static pod: its `resourceFieldRef`s parse
/// (this runs without the environment, so a typo shows everywhere).
#[test]
fn the_limits_manifest_is_a_valid_static_pod() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("limits.yaml"), limits_manifest()).unwrap();
    let snapshot = agent::StaticPodSource::new(dir.path(), "node-a").scan();
    assert!(snapshot.errors.is_empty(), "{:?}", snapshot.errors);
    let spec = snapshot.pods[0].spec.clone().unwrap();
    let env = spec.containers[0].env.clone().unwrap();
    assert_eq!(env.len(), 4);
    let cpu = env[0]
        .value_from
        .as_ref()
        .unwrap()
        .resource_field_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        (
            cpu.resource.as_str(),
            cpu.divisor.as_ref().unwrap().0.as_str()
        ),
        ("limits.cpu", "1m")
    );
    let items = spec.volumes.unwrap()[0]
        .downward_api
        .clone()
        .unwrap()
        .items
        .unwrap();
    assert_eq!(items.len(), 4);
    assert!(
        spec.containers[0]
            .resources
            .as_ref()
            .is_none_or(|r| r.limits.is_none())
    );
}

/// `resource-field-ref-allocatable` against the real runtime: a container that sets no
/// limit reads the node allocatable for `limits.cpu`, `limits.memory` and
/// `limits.ephemeral-storage`, through `env` and through a downwardAPI volume alike (the
/// kubelet's `containerResourceRuntimeValue` and `ExtractResourceValueByContainerNameAndNodeAllocatable`
/// with `MergeContainerResourceLimits`, `kubelet_resources.go`), not 0; requests are not
/// defaulted. The expected values are the node allocatable computed here, independently,
/// from the same host (capacity from `/proc` and the root directory's filesystem, minus the
/// reservations written into the config), so a CPU limit of CPUs × 1000 − 250 millicores
/// shows that the agent reports its allocatable, not its capacity.
#[test]
fn resource_field_refs_without_limits_read_the_node_allocatable_in_env_and_files() {
    use cgroup_enforcer::allocatable::{
        EvictionThresholds, HostPaths, NodeResources, Reservations, node_allocatable, read_capacity,
    };
    let Some(mut node) = Node::new(
        "rfr01",
        "kubeReserved:\n  cpu: 250m\n  memory: 64Mi\n\
         evictionHard:\n  memory.available: 100Mi\n  nodefs.available: 1%\n",
    ) else {
        return;
    };
    node.write_manifest("limits.yaml", &limits_manifest());

    // The node allocatable, as the kubelet computes it for this configuration.
    let capacity = read_capacity(&HostPaths {
        node_fs: Some(node.root_dir()),
        ..HostPaths::default()
    })
    .expect("the node capacity");
    let reservations = Reservations {
        kube_reserved: NodeResources {
            cpu_milli: 250,
            memory: 64 << 20,
            ..NodeResources::default()
        },
        eviction_hard: EvictionThresholds::parse([
            ("memory.available", "100Mi"),
            ("nodefs.available", "1%"),
        ])
        .unwrap(),
        ..Reservations::default()
    };
    let allocatable = node_allocatable(&capacity, &reservations)
        .expect("the node allocatable")
        .resources;
    assert!(allocatable.cpu_milli > 0 && allocatable.memory > 0);

    node.start();
    let pod = node.wait_for("the pod to succeed", || {
        let pod = node.pod("limits").ok_or("not in /pods")?;
        if phase(&pod) == "Succeeded" {
            Ok(pod)
        } else {
            Err(summary(&pod))
        }
    });
    let message = app_statuses(&pod)[0]
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .and_then(|t| t.message.clone())
        .unwrap_or_default();
    let seen: BTreeMap<&str, &str> = message.lines().filter_map(|l| l.split_once('=')).collect();
    let ceil = |amount: i64, unit: i64| (amount + unit - 1) / unit;
    let expected: BTreeMap<&str, String> = [
        ("CPU_LIMIT", allocatable.cpu_milli.to_string()),
        ("MEMORY_LIMIT", allocatable.memory.to_string()),
        ("EPHEMERAL_LIMIT", allocatable.ephemeral_storage.to_string()),
        ("CPU_REQUEST", "0".to_owned()),
        ("cpu_limit", allocatable.cpu_milli.to_string()),
        (
            "memory_limit",
            ceil(allocatable.memory, 1 << 20).to_string(),
        ),
        (
            "ephemeral_limit",
            ceil(allocatable.ephemeral_storage, 1 << 30).to_string(),
        ),
        ("memory_request", "0".to_owned()),
    ]
    .into();
    let seen: BTreeMap<&str, String> = seen.into_iter().map(|(k, v)| (k, v.to_owned())).collect();
    assert_eq!(seen, expected, "{message}");
    // And so not the capacity: the reservation shows.
    assert_eq!(allocatable.cpu_milli, capacity.cpu_milli - 250);
}
