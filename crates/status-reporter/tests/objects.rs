//! [`ApiObjects`] against the real control plane, as node `system:node:<name>`: a Node, a
//! namespace and a pod bound to the node referencing a ConfigMap and a Secret, created by the
//! admin; the cache watches what the pod references and nothing else is readable.

mod support;

use std::error::Error as _;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use status_reporter::{ApiObjects, Error, ObjectChange, ObjectRef, root_ca_certificate};
use support::*;
use test_env::{Cluster, unique_name, with_cleanup};
use tokio::sync::broadcast;

/// What a scenario created: the node (also the namespace's name) and the pod.
struct Scene {
    name: String,
    pod: Pod,
    password: String,
    other_password: String,
}

/// Registers node `name` and creates, in namespace `name`, a ServiceAccount, the ConfigMap
/// `settings` and the Secret `creds` (with `stringData`) referenced by pod `web` bound to the
/// node, plus a ConfigMap and a Secret that no pod references.
async fn scene(cluster: &Cluster, name: &str) -> Scene {
    let password = format!("pw-{}", fastrand::u64(..));
    let other_password = format!("other-{}", fastrand::u64(..));
    let manifests = format!(
        r#"{}---
apiVersion: v1
kind: ConfigMap
metadata: {{ name: settings, namespace: {name} }}
data: {{ greeting: hello }}
---
apiVersion: v1
kind: Secret
metadata: {{ name: creds, namespace: {name} }}
data: {{ user: YWRtaW4= }}
stringData: {{ password: {password} }}
---
apiVersion: v1
kind: ConfigMap
metadata: {{ name: other, namespace: {name} }}
data: {{ unrelated: "yes" }}
---
apiVersion: v1
kind: Secret
metadata: {{ name: other-secret, namespace: {name} }}
stringData: {{ password: {other_password} }}
---
apiVersion: v1
kind: Pod
metadata: {{ name: web, namespace: {name} }}
spec:
  nodeName: {name}
  serviceAccountName: app
  containers:
  - name: app
    image: busybox
    env:
    - name: GREETING
      valueFrom: {{ configMapKeyRef: {{ name: settings, key: greeting }} }}
    volumeMounts:
    - {{ name: creds, mountPath: /creds }}
  volumes:
  - name: creds
    secret: {{ secretName: creds }}
"#,
        scene_manifests(name)
    );
    kubectl_with_input(cluster, &["apply", "-f", "-"], &manifests)
        .await
        .expect("the admin creates the scene");
    let text = kubectl(cluster, &["get", "pod", "web", "-n", name, "-o", "json"])
        .await
        .expect("the pod");
    Scene {
        name: name.to_owned(),
        pod: serde_json::from_str(&text).expect("pod JSON"),
        password,
        other_password,
    }
}

/// The next change of `object`, within `timeout`.
async fn next_change(
    changes: &mut broadcast::Receiver<ObjectChange>,
    object: &ObjectRef,
    timeout: Duration,
) -> ObjectChange {
    tokio::time::timeout(timeout, async {
        loop {
            match changes.recv().await {
                Ok(change) if change.object == *object => return change,
                Ok(_) => {}
                Err(e) => panic!("change notifications: {e}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no change of {object} within {timeout:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_objects_follow_updates_and_merge_string_data() {
    let Some(cluster) = Cluster::require("the API object cache") else {
        return;
    };
    let name = unique_name("sr-obj");
    let client = node_client(&cluster, &name).await;
    let scenario = async {
        let scene = scene(&cluster, &name).await;
        let ns = scene.name.as_str();
        let uid = scene.pod.metadata.uid.clone().expect("a pod UID");
        let objects = ApiObjects::start(client, &name).expect("the cache starts");
        let mut changes = objects.changes();

        let settings = ObjectRef::config_map(ns, "settings");
        let creds = ObjectRef::secret(ns, "creds");
        let root_ca = ObjectRef::config_map(ns, "kube-root-ca.crt");
        let started = Instant::now();
        objects
            .register_pod(&scene.pod)
            .expect("registering the pod");
        assert_eq!(
            objects.watched(),
            [root_ca.clone(), settings.clone(), creds.clone()],
            "the pod's references, with the injected kube-api-access volume's CA"
        );
        for object in [&settings, &creds, &root_ca] {
            objects
                .wait_synced(object, Duration::from_secs(10))
                .await
                .unwrap_or_else(|e| panic!("{object} synced: {e}"));
        }
        eprintln!(
            "3 objects synced {:?} after registration",
            started.elapsed()
        );

        let config_map = objects
            .config_map(ns, "settings")
            .expect("a lookup")
            .expect("the ConfigMap exists");
        assert_eq!(config_map.data.unwrap()["greeting"], "hello");
        let secret = objects
            .secret(ns, "creds")
            .expect("a lookup")
            .expect("the Secret exists");
        assert!(secret.string_data.is_none());
        let data = secret.data.expect("data");
        assert_eq!(data["user"].0, b"admin");
        assert_eq!(
            data["password"].0,
            scene.password.as_bytes(),
            "stringData merged into data"
        );

        // The cluster's CA, from the kube-root-ca.crt ConfigMap the root CA publisher writes.
        let ca = eventually(
            "kube-root-ca.crt is published",
            Duration::from_secs(5),
            || async { root_ca_certificate(&objects, ns).expect("a lookup") },
        )
        .await;
        let expected = std::fs::read_to_string(cluster.ca_file()).expect("the cluster CA");
        assert_eq!(ca.trim(), expected.trim());

        // An update reaches the cache through the watch, and is announced.
        while changes.try_recv().is_ok() {}
        let patched = Instant::now();
        kubectl(
            &cluster,
            &[
                "patch",
                "configmap",
                "settings",
                "-n",
                ns,
                "--type",
                "merge",
                "-p",
                r#"{"data":{"greeting":"bonjour"}}"#,
            ],
        )
        .await
        .expect("the admin updates the ConfigMap");
        let change = next_change(&mut changes, &settings, Duration::from_secs(5)).await;
        assert_eq!(change.pods, std::slice::from_ref(&uid));
        let greeting = objects
            .config_map(ns, "settings")
            .unwrap()
            .unwrap()
            .data
            .unwrap()["greeting"]
            .clone();
        assert_eq!(greeting, "bonjour");
        eprintln!("the update reached the cache after {:?}", patched.elapsed());

        // A deletion too: the object is then absent, not an error.
        kubectl(&cluster, &["delete", "configmap", "settings", "-n", ns])
            .await
            .expect("the admin deletes the ConfigMap");
        next_change(&mut changes, &settings, Duration::from_secs(5)).await;
        assert!(objects.config_map(ns, "settings").unwrap().is_none());

        // Unregistering the pod stops every watch; lookups then say the object is unknown.
        objects.unregister_pod(&uid);
        assert!(objects.watched().is_empty());
        let err = objects.secret(ns, "creds").expect_err("not registered");
        assert!(matches!(err, Error::ObjectNotRegistered { .. }), "{err}");
        objects.shutdown().await;
    };
    with_cleanup(scenario, delete_scene(&cluster, &name)).await;
}

/// The error and every source under it, as one string.
fn chain(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(" <- ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_objects_not_referenced_by_a_pod_on_the_node_are_refused() {
    let Some(cluster) = Cluster::require("the Node authorizer's refusal") else {
        return;
    };
    let name = unique_name("sr-deny");
    let client = node_client(&cluster, &name).await;
    let scenario = async {
        let scene = scene(&cluster, &name).await;
        let ns = scene.name.as_str();
        let objects = ApiObjects::start(client, &name).expect("the cache starts");
        objects
            .register_pod(&scene.pod)
            .expect("registering the pod");
        // A registration the API server knows nothing of: no pod on this node references these.
        objects.register(
            "not-a-pod-on-this-node",
            ns,
            "ghost",
            [
                ObjectRef::config_map(ns, "other"),
                ObjectRef::secret(ns, "other-secret"),
            ],
        );

        let refused = eventually(
            "the Secret's list is refused",
            Duration::from_secs(5),
            || async {
                match objects.secret(ns, "other-secret") {
                    Err(e @ Error::ObjectForbidden { .. }) => Some(e),
                    _ => None,
                }
            },
        )
        .await;
        let text = chain(&refused);
        eprintln!("{text}");
        for expected in ["other-secret", "forbidden", "Node authorizer", &name] {
            assert!(text.contains(expected), "{expected:?} in {text}");
        }
        assert!(
            !text.contains(&scene.other_password) && !text.contains(&scene.password),
            "no secret value in {text}"
        );
        let source = refused.source().expect("the API's refusal is kept");
        assert!(source.to_string().contains("403"), "{source}");

        // The ConfigMap alike, and waiting for it ends with the same refusal.
        let err = objects
            .wait_synced(
                &ObjectRef::config_map(ns, "other"),
                Duration::from_millis(500),
            )
            .await
            .expect_err("refused");
        assert!(matches!(err, Error::ObjectForbidden { .. }), "{err}");
        // While what the pod references is served.
        objects
            .wait_synced(&ObjectRef::secret(ns, "creds"), Duration::from_secs(10))
            .await
            .expect("the pod's Secret is readable");
        assert!(objects.secret(ns, "creds").unwrap().is_some());
        // A Debug of the cache shows no object either.
        let debug = format!("{objects:?}");
        assert!(!debug.contains(&scene.password), "{debug}");
        objects.shutdown().await;
    };
    with_cleanup(scenario, delete_scene(&cluster, &name)).await;
}
