//! The static pod source against real temporary directories (checklist SP-01..SP-03,
//! SP-06, SP-07).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use agent::static_pods::{
    CONFIG_HASH_ANNOTATION, CONFIG_SEEN_ANNOTATION, CONFIG_SOURCE_ANNOTATION, Snapshot,
    StaticPodSource,
};
use k8s_openapi::api::core::v1::{Pod, Toleration};

fn pod_yaml(name: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  \
         - name: main\n    image: {image}\n"
    )
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

fn names(snapshot: &Snapshot) -> Vec<&str> {
    snapshot
        .pods
        .iter()
        .map(|pod| pod.metadata.name.as_deref().unwrap())
        .collect()
}

fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap()
}

fn annotations(pod: &Pod) -> &BTreeMap<String, String> {
    pod.metadata.annotations.as_ref().unwrap()
}

#[test]
fn sp_01_name_suffix_and_namespace() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "web.yaml", &pod_yaml("web", "busybox"));
    write(
        dir.path(),
        "kube-system.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: proxy\n  namespace: kube-system\n\
         spec:\n  containers:\n  - name: proxy\n    image: busybox\n",
    );
    let snapshot = StaticPodSource::new(dir.path(), "Node-1").scan();
    assert!(snapshot.errors.is_empty(), "{:?}", snapshot.errors);
    // File-name order: kube-system.yaml before web.yaml.
    assert_eq!(names(&snapshot), ["proxy-node-1", "web-node-1"]);
    let web = &snapshot.pods[1];
    assert_eq!(web.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(
        web.spec.as_ref().unwrap().node_name.as_deref(),
        Some("node-1")
    );
    assert_eq!(
        snapshot.pods[0].metadata.namespace.as_deref(),
        Some("kube-system")
    );
    assert_eq!(
        web.status.as_ref().unwrap().phase.as_deref(),
        Some("Pending")
    );
}

#[test]
fn sp_02_dotfiles_subdirs_and_bad_files_ignored() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.yaml", &pod_yaml("good", "busybox"));
    write(dir.path(), ".hidden.yaml", &pod_yaml("hidden", "busybox"));
    write(dir.path(), ".web.yaml.swp", "garbage: [");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write(
        &dir.path().join("sub"),
        "nested.yaml",
        &pod_yaml("nested", "busybox"),
    );
    write(
        dir.path(),
        "noname.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {}\nspec:\n  containers:\n  - name: a\n    image: b\n",
    );
    write(
        dir.path(),
        "broken.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: [\n",
    );
    // One byte over the 10 MiB limit.
    let big = format!(
        "{}\n# {}\n",
        pod_yaml("big", "busybox"),
        "x".repeat(10 * 1024 * 1024)
    );
    write(dir.path(), "big.yaml", &big);

    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    assert_eq!(names(&snapshot), ["good-node-1"]);

    let reasons: BTreeMap<String, String> = snapshot
        .errors
        .iter()
        .map(|e| {
            (
                e.file.file_name().unwrap().to_string_lossy().into_owned(),
                e.reason.clone(),
            )
        })
        .collect();
    assert_eq!(
        reasons.keys().map(String::as_str).collect::<Vec<_>>(),
        ["big.yaml", "broken.yaml", "noname.yaml"],
        "{reasons:?}"
    );
    assert_eq!(
        reasons["noname.yaml"],
        "invalid pod: name is needed for the pod"
    );
    assert!(
        reasons["big.yaml"].contains("10 MiB"),
        "{}",
        reasons["big.yaml"]
    );
    assert!(
        reasons["broken.yaml"].starts_with("invalid YAML"),
        "{}",
        reasons["broken.yaml"]
    );
    assert!(snapshot.errors[0].file.is_absolute());
}

#[test]
fn sp_03_annotations_toleration_and_stable_uid() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "web.yaml", &pod_yaml("web", "busybox"));
    let source = StaticPodSource::new(dir.path(), "node-1");
    let first = source.scan();
    let pod = &first.pods[0];
    let first_uid = uid(pod).to_owned();
    assert_eq!(first_uid.len(), 32, "FNV-128a in hex: {first_uid}");
    assert!(first_uid.bytes().all(|b| b.is_ascii_hexdigit()));
    let pod_annotations = annotations(pod);
    assert_eq!(pod_annotations[CONFIG_SOURCE_ANNOTATION], "file");
    assert_eq!(pod_annotations[CONFIG_HASH_ANNOTATION], first_uid);
    let seen = &pod_annotations[CONFIG_SEEN_ANNOTATION];
    assert!(
        seen.parse::<jiff::Timestamp>().is_ok(),
        "config.seen is RFC 3339: {seen}"
    );
    let tolerations = pod.spec.as_ref().unwrap().tolerations.as_ref().unwrap();
    assert_eq!(
        tolerations,
        &[Toleration {
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            ..Toleration::default()
        }]
    );

    // Rescans give equal pods, config.seen included.
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(source.scan(), first);

    // A "restart" (a new source) gives the same UID; only config.seen may differ.
    let restarted = StaticPodSource::new(dir.path(), "node-1").scan();
    assert_eq!(uid(&restarted.pods[0]), first_uid);

    // Formatting does not matter, content does.
    write(
        dir.path(),
        "web.yaml",
        &format!("# a comment\n{}", pod_yaml("web", "busybox")),
    );
    assert_eq!(uid(&source.scan().pods[0]), first_uid);

    // Another node or another path gives another UID.
    let other_node = StaticPodSource::new(dir.path(), "node-2").scan();
    assert_ne!(uid(&other_node.pods[0]), first_uid);
    let moved = tempfile::tempdir().unwrap();
    write(moved.path(), "web.yaml", &pod_yaml("web", "busybox"));
    assert_ne!(
        uid(&StaticPodSource::new(moved.path(), "node-1").scan().pods[0]),
        first_uid
    );

    // A UID in the manifest is kept.
    write(
        dir.path(),
        "web.yaml",
        &pod_yaml("web", "busybox").replace("  name: web\n", "  name: web\n  uid: fixed-uid\n"),
    );
    let fixed = source.scan();
    assert_eq!(uid(&fixed.pods[0]), "fixed-uid");
    assert_eq!(
        annotations(&fixed.pods[0])[CONFIG_HASH_ANNOTATION],
        "fixed-uid"
    );
}

#[test]
fn sp_03_existing_tolerations_and_annotations_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "web.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations: {team: a}\n\
         spec:\n  tolerations:\n  - {key: k, operator: Exists}\n  - {operator: Exists, effect: NoExecute}\n\
         \x20 containers:\n  - name: main\n    image: busybox\n",
    );
    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    assert!(snapshot.errors.is_empty(), "{:?}", snapshot.errors);
    let pod = &snapshot.pods[0];
    assert_eq!(annotations(pod)["team"], "a");
    // The NoExecute toleration is not added twice.
    assert_eq!(
        pod.spec
            .as_ref()
            .unwrap()
            .tolerations
            .as_ref()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn sp_06_edit_changes_uid() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "web.yaml", &pod_yaml("web", "busybox:1"));
    let source = StaticPodSource::new(dir.path(), "node-1");
    let before = source.scan();
    write(dir.path(), "web.yaml", &pod_yaml("web", "busybox:2"));
    let after = source.scan();
    // Same full name, new UID: the consumer sees the old pod go and a new one come.
    assert_eq!(names(&before), names(&after));
    assert_ne!(uid(&before.pods[0]), uid(&after.pods[0]));
    assert_eq!(
        annotations(&after.pods[0])[CONFIG_HASH_ANNOTATION],
        uid(&after.pods[0])
    );
}

#[test]
fn sp_07_removed_file_removes_pod() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &pod_yaml("a", "busybox"));
    write(dir.path(), "b.yaml", &pod_yaml("b", "busybox"));
    let source = StaticPodSource::new(dir.path(), "node-1");
    assert_eq!(names(&source.scan()), ["a-node-1", "b-node-1"]);
    std::fs::remove_file(dir.path().join("a.yaml")).unwrap();
    assert_eq!(names(&source.scan()), ["b-node-1"]);
    std::fs::remove_file(dir.path().join("b.yaml")).unwrap();
    assert_eq!(source.scan(), Snapshot::default());
}

#[test]
fn missing_path_is_an_empty_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = StaticPodSource::new(dir.path().join("absent"), "node-1").scan();
    assert_eq!(snapshot, Snapshot::default());
}

#[test]
fn single_file_path() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "web.yaml", &pod_yaml("web", "busybox"));
    write(dir.path(), "other.yaml", &pod_yaml("other", "busybox"));
    let snapshot = StaticPodSource::new(dir.path().join("web.yaml"), "node-1").scan();
    assert_eq!(names(&snapshot), ["web-node-1"]);
}

#[test]
fn duplicate_names_are_refused_naming_both_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &pod_yaml("web", "busybox:1"));
    write(dir.path(), "b.yaml", &pod_yaml("web", "busybox:2"));
    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    assert_eq!(names(&snapshot), ["web-node-1"]);
    assert_eq!(
        snapshot.pods[0].spec.as_ref().unwrap().containers[0]
            .image
            .as_deref(),
        Some("busybox:1"),
        "the first file in name order wins"
    );
    assert_eq!(snapshot.errors.len(), 1);
    let error = &snapshot.errors[0];
    assert_eq!(error.file, dir.path().join("b.yaml"));
    assert!(
        error.reason.contains("duplicate pod default/web-node-1"),
        "{error}"
    );
    assert!(
        error
            .reason
            .contains(&dir.path().join("a.yaml").display().to_string()),
        "{error}"
    );
    assert!(
        error
            .reason
            .contains(&dir.path().join("b.yaml").display().to_string()),
        "{error}"
    );
}

#[test]
fn multi_document_files() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}---\n{}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n\
         ---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: kube-system\n\
         stringData:\n  token: t0ken\n---\napiVersion: v1\nkind: Pod\nmetadata: {{}}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n",
        pod_yaml("web", "busybox"),
        pod_yaml("db", "busybox"),
    );
    write(dir.path(), "stack.yaml", &text);
    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    assert_eq!(names(&snapshot), ["web-node-1", "db-node-1"]);
    assert_ne!(uid(&snapshot.pods[0]), uid(&snapshot.pods[1]));
    assert_eq!(snapshot.config_maps.len(), 1);
    let map = &snapshot.config_maps[0];
    assert_eq!(map.metadata.name.as_deref(), Some("settings"));
    assert_eq!(map.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(snapshot.secrets.len(), 1);
    let secret = &snapshot.secrets[0];
    assert_eq!(secret.metadata.namespace.as_deref(), Some("kube-system"));
    assert_eq!(secret.data.as_ref().unwrap()["token"].0, b"t0ken");
    let reasons: Vec<&str> = snapshot.errors.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "document 5: invalid pod: name is needed for the pod",
            "document 6: unsupported kind \"Service\": a static manifest holds Pods, \
             ConfigMaps and Secrets, or a PodList or List of them",
        ]
    );
}

#[test]
fn json_files() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "web.json",
        r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "main", "image": "busybox", "command": ["sleep", "1d"]}]}}"#,
    );
    write(
        dir.path(),
        "bad.json",
        r#"{"apiVersion": "v1", "kind": "Pod", "#,
    );
    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    assert_eq!(names(&snapshot), ["web-node-1"]);
    let pod = &snapshot.pods[0];
    assert_eq!(pod.metadata.labels.as_ref().unwrap()["app"], "web");
    assert_eq!(
        pod.spec.as_ref().unwrap().containers[0].command.as_deref(),
        Some(&["sleep".to_owned(), "1d".to_owned()][..])
    );
    assert_eq!(snapshot.errors.len(), 1);
    assert!(
        snapshot.errors[0].reason.starts_with("invalid JSON"),
        "{}",
        snapshot.errors[0]
    );

    // The same pod written as YAML at the same path hashes the same: the UID depends on
    // the content, not on its spelling.
    let json_uid = uid(pod).to_owned();
    write(
        dir.path(),
        "web.json",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  labels: {app: web}\n  name: web\nspec:\n  containers:\n  \
         - name: main\n    image: busybox\n    command: [sleep, 1d]\n",
    );
    let from_yaml = StaticPodSource::new(dir.path(), "node-1").scan();
    assert_eq!(uid(&from_yaml.pods[0]), json_uid);
}

#[test]
fn wrong_field_types_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "web.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  \
         - name: main\n    image: busybox\n    ports: 80\n",
    );
    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    assert!(snapshot.pods.is_empty());
    assert!(
        snapshot.errors[0]
            .reason
            .starts_with("spec.containers[0].ports: invalid type"),
        "{}",
        snapshot.errors[0]
    );
}

/// Issue 13: the kubelet reads manifests as YAML 1.1 (`sigs.k8s.io/yaml`), where `0644` is
/// octal. A configMap volume with `mode: 0400` used to be refused ("invalid type: string
/// \"0400\", expected i32"); it is 256 now, `defaultMode: 0644` 420, as kubectl and the
/// kubelet read them.
#[test]
fn sp_01_octal_modes_in_volumes_are_read_as_the_kubelet_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "web.yaml",
        &format!(
            "{}    volumeMounts:\n    - {{name: config, mountPath: /etc/web}}\n  volumes:\n  \
             - name: config\n    configMap:\n      name: web-config\n      defaultMode: 0644\n      \
             items:\n      - key: web.conf\n        path: web.conf\n        mode: 0400\n",
            pod_yaml("web", "busybox")
        ),
    );
    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    assert!(snapshot.errors.is_empty(), "{:?}", snapshot.errors);
    let volumes = snapshot.pods[0]
        .spec
        .as_ref()
        .unwrap()
        .volumes
        .clone()
        .unwrap();
    let config_map = volumes[0].config_map.as_ref().unwrap();
    assert_eq!(config_map.default_mode, Some(420));
    assert_eq!(config_map.items.as_ref().unwrap()[0].mode, Some(256));
}

/// Issue 13: an unquoted `yes` is a YAML 1.1 boolean, which a string field refuses, as the
/// kubelet refuses it ("cannot unmarshal bool into Go struct field EnvVar...value of type
/// string"). Only that document is refused; the error names the file, the document and the
/// field, and says to quote the value.
#[test]
fn sp_02_an_unquoted_yes_in_an_env_value_refuses_only_its_document_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "stack.yaml",
        &format!(
            "{}---\n{}    env:\n    - name: DEBUG\n      value: yes\n",
            pod_yaml("web", "busybox"),
            pod_yaml("debug", "busybox")
        ),
    );
    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    assert_eq!(names(&snapshot), ["web-node-1"]);
    assert_eq!(snapshot.errors.len(), 1);
    let error = &snapshot.errors[0];
    assert!(error.file.ends_with("stack.yaml"), "{error}");
    assert_eq!(
        error.reason,
        "document 2: spec.containers[0].env[0].value: invalid type: boolean `true`, expected a \
         string (unquoted, yes/no/on/off/y/n/true/false are booleans in Kubernetes YAML, as the \
         kubelet reads it: quote the value to keep it a string)"
    );
}

/// Issue 13: anchors belong to their document. An alias to an anchor of an earlier
/// document refuses its own document (with the line and column), not the file; the same
/// anchor name defined again in a later document is that document's.
#[test]
fn sp_02_anchors_are_scoped_to_their_document_in_a_multi_document_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "anchors.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n\
         spec: {containers: [{name: c, image: &image busybox}]}\n\
         ---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: b}\n\
         spec: {containers: [{name: c, image: *image}]}\n\
         ---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: c}\n\
         spec: {containers: [{name: c, image: &image nginx}, {name: d, image: *image}]}\n",
    );
    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    assert_eq!(names(&snapshot), ["a-node-1", "c-node-1"]);
    let images: Vec<_> = snapshot.pods[1]
        .spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .map(|c| c.image.as_deref().unwrap())
        .collect();
    assert_eq!(images, ["nginx", "nginx"]);
    assert_eq!(snapshot.errors.len(), 1);
    assert_eq!(
        snapshot.errors[0].reason,
        "document 2: invalid YAML: line 9 column 38: an alias refers to an anchor that is not \
         defined earlier in its document (anchors are scoped to their document)"
    );
}

/// Issue 13: a `PodList` (as the API server writes it: items without `kind`) or a v1 `List`
/// (as `kubectl get -o yaml` prints it) is read like that many documents. The kubelet's own
/// file source takes one Pod per file and refuses both (only its HTTP source takes a
/// PodList); nodelet already reads several documents per file, and a list is the same in
/// one document. A bad item is refused alone, named by document and index.
#[test]
fn a_pod_list_and_a_list_are_read_like_several_documents() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a-podlist.yaml",
        "apiVersion: v1\nkind: PodList\nitems:\n\
         - metadata: {name: one}\n  spec: {containers: [{name: c, image: busybox}]}\n\
         - metadata: {name: two}\n  spec: {containers: [{name: c, image: busybox}]}\n",
    );
    write(
        dir.path(),
        "b-list.yaml",
        "apiVersion: v1\nkind: List\nitems:\n\
         - apiVersion: v1\n  kind: Pod\n  metadata: {name: three}\n  \
           spec: {containers: [{name: c, image: busybox}]}\n\
         - apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: settings}\n  data: {a: b}\n\
         - apiVersion: v1\n  kind: Pod\n  metadata: {name: four}\n  spec: {containers: [{name: c}]}\n\
         ---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: one}\nspec: {containers: [{name: c, image: busybox}]}\n",
    );
    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    assert_eq!(
        names(&snapshot),
        ["one-node-1", "two-node-1", "three-node-1"]
    );
    assert_ne!(uid(&snapshot.pods[0]), uid(&snapshot.pods[1]));
    assert_eq!(snapshot.config_maps.len(), 1);
    let reasons: Vec<&str> = snapshot.errors.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    // The API's validation (issue 16) names the pod, as every validation refusal does.
    assert_eq!(
        reasons[0],
        "document 1: items[2]: invalid pod default/four-node-1: spec.containers[0].image: \
         Required value"
    );
    assert!(
        reasons[1].starts_with("document 2: duplicate pod default/one-node-1: already defined in "),
        "{}",
        reasons[1]
    );
}

/// Issue 11: a manifest UID that is not one safe path component is refused where it
/// enters, as a `SourceError` naming the file and `metadata.uid` (what `/errors` serves);
/// other pods of the directory still load.
#[test]
fn traversal_uid_is_refused_naming_the_file_and_metadata_uid() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "trav.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: trav, uid: \"../../canary\"}\n\
         spec:\n  containers:\n  - name: main\n    image: busybox\n",
    );
    for (file, uid) in [
        ("dot.yaml", ".."),
        ("nul.yaml", "a\\0b"),
        ("slash.yaml", "a/b"),
    ] {
        write(
            dir.path(),
            file,
            &format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: {}, uid: \"{uid}\"}}\n\
                 spec:\n  containers:\n  - name: main\n    image: busybox\n",
                file.trim_end_matches(".yaml")
            ),
        );
    }
    write(dir.path(), "web.yaml", &pod_yaml("web", "busybox"));
    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    assert_eq!(names(&snapshot), ["web-node-1"]);
    assert_eq!(snapshot.errors.len(), 4, "{:?}", snapshot.errors);
    for error in &snapshot.errors {
        assert!(
            error.reason.contains(": metadata.uid: Invalid value: "),
            "{error}"
        );
    }
    let trav = snapshot
        .errors
        .iter()
        .find(|e| e.file.ends_with("trav.yaml"))
        .unwrap();
    assert!(
        trav.reason.starts_with(
            "invalid pod default/trav-node-1: metadata.uid: Invalid value: \"../../canary\""
        ),
        "{trav}"
    );
    // What `/errors` serves: the file and the reason.
    let json = serde_json::to_value(trav).unwrap();
    assert!(json["file"].as_str().unwrap().ends_with("/trav.yaml"));
    assert!(json["reason"].as_str().unwrap().contains("metadata.uid"));
}

/// Issue 16: a manifest the API server's pod validation refuses is refused at load, as the
/// kubelet refuses it (`ValidatePodCreate` in `tryDecodeSinglePod`), with the file, the
/// field and the reason on `/errors` (what a `SourceError` serializes to), instead of a
/// pod left Pending with "invalid port 70000" at sync time; the other pods load.
#[test]
fn sp_02_container_port_70000_is_refused_at_load_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "port.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: port\nspec:\n  containers:\n  \
         - name: main\n    image: busybox\n    ports:\n    - containerPort: 70000\n",
    );
    write(dir.path(), "web.yaml", &pod_yaml("web", "busybox"));
    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    assert_eq!(names(&snapshot), ["web-node-1"]);
    assert_eq!(snapshot.errors.len(), 1, "{:?}", snapshot.errors);
    let json = serde_json::to_value(&snapshot.errors[0]).unwrap();
    assert!(
        json["file"].as_str().unwrap().ends_with("/port.yaml"),
        "{json}"
    );
    assert_eq!(
        json["reason"],
        "invalid pod default/port-node-1: spec.containers[0].ports[0].containerPort: Invalid \
         value: 70000: must be between 1 and 65535, inclusive"
    );
}

/// Issue 16: `cpu: lots` is refused at load naming the quantity's field (the API server
/// refuses it when it decodes the pod), instead of being admitted as a request of 0 and
/// failing at sync time; the other pods load.
#[test]
fn sp_02_cpu_lots_is_refused_at_load_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "lots.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: lots\nspec:\n  containers:\n  \
         - name: main\n    image: busybox\n    resources:\n      requests:\n        \
         cpu: lots\n",
    );
    write(dir.path(), "web.yaml", &pod_yaml("web", "busybox"));
    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    assert_eq!(names(&snapshot), ["web-node-1"]);
    assert_eq!(snapshot.errors.len(), 1, "{:?}", snapshot.errors);
    let json = serde_json::to_value(&snapshot.errors[0]).unwrap();
    assert!(
        json["file"].as_str().unwrap().ends_with("/lots.yaml"),
        "{json}"
    );
    assert_eq!(
        json["reason"],
        "invalid pod default/lots-node-1: spec.containers[0].resources.requests[cpu]: Invalid \
         value: \"lots\": quantities must match the regular expression \
         '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
}

/// Issue 16: in a multi-document file, only the invalid document is refused, and its
/// refusal lists every problem the API's validation finds, the first field first.
#[test]
fn sp_02_an_invalid_document_lists_every_problem_and_spares_the_others() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pods.yaml",
        &format!(
            "{}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  \
             restartPolicy: Sometimes\n  containers:\n  - name: main\n    image: busybox\n    \
             imagePullPolicy: Sometimes\n",
            pod_yaml("good", "busybox")
        ),
    );
    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    assert_eq!(names(&snapshot), ["good-node-1"]);
    assert_eq!(snapshot.errors.len(), 1, "{:?}", snapshot.errors);
    assert_eq!(
        snapshot.errors[0].reason,
        "document 2: invalid pod default/bad-node-1: spec.containers[0].imagePullPolicy: \
         Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \
         \"Never\"; spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \
         \"Always\", \"OnFailure\", \"Never\""
    );
}

/// Issue 16: the example manifests shipped with the workspace are valid pods by the API's
/// rules, so the static source loads every one of them.
#[test]
fn sp_02_the_example_manifests_pass_the_apis_validation() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/manifests");
    let snapshot = StaticPodSource::new(&examples, "node-1").scan();
    assert!(snapshot.errors.is_empty(), "{:?}", snapshot.errors);
    assert_eq!(
        names(&snapshot),
        ["crashloop-node-1", "initialized-node-1", "web-node-1"]
    );
}

/// Issue 11: Secret documents with a type error in `stringData` or bad base64 in `data`
/// are refused naming the key; the value is nowhere in the errors (`/errors` and the log
/// show these reasons).
#[test]
fn secret_type_error_and_bad_base64_are_refused_without_the_value() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "typed.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: typed}\nstringData: {pin: 918273645}\n",
    );
    write(
        dir.path(),
        "encoded.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: encoded}\ndata: {token: \"s3cr3t-v@lue!!\"}\n",
    );
    write(
        dir.path(),
        "multi.yaml",
        &format!(
            "{}---\napiVersion: v1\nkind: Secret\nmetadata: {{name: m}}\n\
             stringData: {{list: [918273645]}}\n",
            pod_yaml("web", "busybox")
        ),
    );
    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    assert!(snapshot.secrets.is_empty());
    assert_eq!(names(&snapshot), ["web-node-1"]);
    let reason = |file: &str| {
        snapshot
            .errors
            .iter()
            .find(|e| e.file.ends_with(file))
            .map(|e| e.reason.clone())
            .unwrap_or_else(|| panic!("no error for {file}: {:?}", snapshot.errors))
    };
    assert_eq!(
        reason("typed.yaml"),
        "invalid Secret default/typed: stringData.pin: invalid type: expected a string, \
         found a number (the value is not shown)"
    );
    assert_eq!(
        reason("encoded.yaml"),
        "invalid Secret default/encoded: data.token: invalid value: not valid base64 (the \
         value is not shown)"
    );
    assert!(
        reason("multi.yaml").starts_with("document 2: invalid Secret default/m: stringData.list")
    );
    let all = serde_json::to_string(&snapshot.errors).unwrap();
    for value in ["918273645", "s3cr3t", "v@lue"] {
        assert!(!all.contains(value), "{all}");
    }
}

/// Waits for the next snapshot that satisfies `done`, up to `within`.
async fn wait_for(
    rx: &mut tokio::sync::watch::Receiver<Snapshot>,
    within: Duration,
    done: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    tokio::time::timeout(within, async {
        loop {
            if done(&rx.borrow_and_update()) {
                return rx.borrow().clone();
            }
            rx.changed().await.expect("the source stopped");
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "no matching snapshot within {within:?}; last: {:?}",
            *rx.borrow()
        )
    })
}

#[tokio::test]
async fn inotify_picks_up_changes_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    // A periodic rescan far in the future: only inotify can explain a quick update.
    let source =
        StaticPodSource::new(dir.path(), "node-1").with_check_frequency(Duration::from_secs(3600));
    let (tx, mut rx) = tokio::sync::watch::channel(Snapshot::default());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(source.run(tx, async {
        let _ = stop_rx.await;
    }));

    // The first snapshot comes even though the directory is empty.
    rx.changed().await.unwrap();
    assert!(rx.borrow_and_update().pods.is_empty());

    write(dir.path(), "web.yaml", &pod_yaml("web", "busybox"));
    let added = wait_for(&mut rx, Duration::from_secs(1), |s| s.pods.len() == 1).await;
    let first_uid = uid(&added.pods[0]).to_owned();

    // Written as a dotfile then renamed into place, as editors and config tools do.
    write(dir.path(), ".web.yaml.tmp", &pod_yaml("web", "busybox:2"));
    std::fs::rename(
        dir.path().join(".web.yaml.tmp"),
        dir.path().join("web.yaml"),
    )
    .unwrap();
    wait_for(&mut rx, Duration::from_secs(1), |s| {
        s.pods.len() == 1 && uid(&s.pods[0]) != first_uid
    })
    .await;

    std::fs::remove_file(dir.path().join("web.yaml")).unwrap();
    wait_for(&mut rx, Duration::from_secs(1), |s| s.pods.is_empty()).await;

    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("run stops on shutdown")
        .unwrap();
}

#[tokio::test]
async fn periodic_rescan_and_a_directory_created_later() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("manifests");
    let source =
        StaticPodSource::new(&dir, "node-1").with_check_frequency(Duration::from_millis(200));
    let (tx, mut rx) = tokio::sync::watch::channel(Snapshot::default());
    let task = tokio::spawn(source.run(tx, std::future::pending()));
    rx.changed().await.unwrap();
    assert!(rx.borrow_and_update().pods.is_empty());

    std::fs::create_dir(&dir).unwrap();
    write(&dir, "web.yaml", &pod_yaml("web", "busybox"));
    wait_for(&mut rx, Duration::from_secs(2), |s| s.pods.len() == 1).await;

    // The next file in the new directory shows up too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    write(&dir, "db.yaml", &pod_yaml("db", "busybox"));
    wait_for(&mut rx, Duration::from_secs(2), |s| s.pods.len() == 2).await;

    // Dropping the receiver ends the loop.
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("run stops when nobody listens")
        .unwrap();
}

#[tokio::test]
async fn unchanged_rescans_send_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "web.yaml", &pod_yaml("web", "busybox"));
    let source =
        StaticPodSource::new(dir.path(), "node-1").with_check_frequency(Duration::from_millis(50));
    let (tx, mut rx) = tokio::sync::watch::channel(Snapshot::default());
    let task = tokio::spawn(source.run(tx, std::future::pending()));
    rx.changed().await.unwrap();
    assert_eq!(rx.borrow_and_update().pods.len(), 1);
    // Several rescans later, nothing new was sent.
    let again = tokio::time::timeout(Duration::from_millis(400), rx.changed()).await;
    assert!(
        again.is_err(),
        "an unchanged directory produced a new snapshot"
    );
    task.abort();
}
