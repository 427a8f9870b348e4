//! Projected service account token volumes (`kube-api-access-*`) through the manager,
//! with a fake token source: the files and modes the kubelet writes, the TokenRequest the
//! source is asked for, a renewed token reaching the file at the next resync, and the
//! failures (no token source, a failing one) naming the pod and the field, never a token.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::*;
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, Container, DownwardAPIProjection, DownwardAPIVolumeFile, KeyToPath,
    ObjectFieldSelector, Pod, PodSecurityContext, PodSpec, ProjectedVolumeSource, SecurityContext,
    ServiceAccountTokenProjection, Volume, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use volume_manager::tokens::{ServiceAccountToken, ServiceAccountTokenRequest, TokenSource};
use volume_manager::{ContainerContext, Error};

const VOLUME: &str = "kube-api-access-x7k2p";
const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const FIELD: &str = "spec.volumes[0].projected.sources[0].serviceAccountToken";
const TOKEN_1: &str = "eyJhbGciOiJSUzI1NiJ9.first-token-payload.signature-one";
const TOKEN_2: &str = "eyJhbGciOiJSUzI1NiJ9.second-token-payload.signature-two";

/// A token source whose answer the test sets, recording every request and forgotten pod.
#[derive(Default)]
struct FakeTokens {
    answer: Mutex<Answer>,
    requests: Mutex<Vec<ServiceAccountTokenRequest>>,
    forgotten: Mutex<Vec<String>>,
}

#[derive(Default)]
enum Answer {
    #[default]
    NoTokens,
    Token(String),
    /// Fails; the message is given to `Error::token_request`.
    Fail(String),
}

impl FakeTokens {
    fn issuing(token: &str) -> Arc<Self> {
        let fake = FakeTokens::default();
        fake.set(Answer::Token(token.into()));
        Arc::new(fake)
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn requests(&self) -> Vec<ServiceAccountTokenRequest> {
        self.requests.lock().unwrap().clone()
    }
}

impl TokenSource for FakeTokens {
    fn service_account_token(
        &self,
        request: &ServiceAccountTokenRequest,
    ) -> volume_manager::Result<Option<ServiceAccountToken>> {
        self.requests.lock().unwrap().push(request.clone());
        match &*self.answer.lock().unwrap() {
            Answer::NoTokens => Ok(None),
            Answer::Token(t) => Ok(Some(ServiceAccountToken::new(t.clone()))),
            Answer::Fail(message) => Err(Error::token_request(request, message.clone())),
        }
    }

    fn forget_pod(&self, pod_uid: &str) {
        self.forgotten.lock().unwrap().push(pod_uid.to_owned());
    }
}

/// The volume the API server's ServiceAccount admission adds to every pod, as it stores
/// it (defaults applied: `defaultMode: 420`, `expirationSeconds: 3607`).
fn kube_api_access() -> Volume {
    Volume {
        name: VOLUME.into(),
        projected: Some(ProjectedVolumeSource {
            default_mode: Some(420),
            sources: Some(vec![
                VolumeProjection {
                    service_account_token: Some(ServiceAccountTokenProjection {
                        expiration_seconds: Some(3607),
                        path: "token".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    config_map: Some(ConfigMapProjection {
                        name: "kube-root-ca.crt".into(),
                        items: Some(vec![KeyToPath {
                            key: "ca.crt".into(),
                            path: "ca.crt".into(),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    downward_api: Some(DownwardAPIProjection {
                        items: Some(vec![DownwardAPIVolumeFile {
                            path: "namespace".into(),
                            field_ref: Some(ObjectFieldSelector {
                                api_version: Some("v1".into()),
                                field_path: "metadata.namespace".into(),
                            }),
                            ..Default::default()
                        }]),
                    }),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Pod `team-a/web` of service account `builder`, with the kube-api-access volume mounted
/// where every container gets it.
fn api_pod(uid: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("team-a".into()),
            uid: Some(uid.into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            service_account_name: Some("builder".into()),
            volumes: Some(vec![kube_api_access()]),
            containers: vec![Container {
                name: "app".into(),
                volume_mounts: Some(vec![k8s_openapi::api::core::v1::VolumeMount {
                    read_only: Some(true),
                    ..mount(VOLUME, MOUNT_PATH)
                }]),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The cluster's CA as the root CA publisher stores it in every namespace.
fn root_ca(root: &TestRoot) {
    let mut cm = config_map(
        "kube-root-ca.crt",
        &[("ca.crt", "-----BEGIN CERTIFICATE-----\n")],
    );
    cm.metadata.namespace = Some("team-a".into());
    root.objects.set_config_map(cm);
}

fn volume_dir(root: &TestRoot, uid: &str) -> PathBuf {
    root.manager
        .root()
        .pod(uid)
        .unwrap()
        .volume_dir("kubernetes.io/projected", VOLUME)
        .unwrap()
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn data_dir(dir: &Path) -> PathBuf {
    fs::read_link(dir.join("..data")).unwrap()
}

#[test]
fn vo_14_kube_api_access_mounts_token_ca_and_namespace_as_the_kubelet() {
    if !can_mount("kube_api_access") {
        return;
    }
    let tokens = FakeTokens::issuing(TOKEN_1);
    let root = TestRoot::with_tokens(tokens.clone());
    root_ca(&root);
    let pod = api_pod("uid-kaa");
    root.manager.mount_pod(&pod).unwrap();

    let dir = volume_dir(&root, "uid-kaa");
    assert_eq!(fs::read_to_string(dir.join("token")).unwrap(), TOKEN_1);
    assert_eq!(
        fs::read_to_string(dir.join("ca.crt")).unwrap(),
        "-----BEGIN CERTIFICATE-----\n"
    );
    assert_eq!(fs::read_to_string(dir.join("namespace")).unwrap(), "team-a");
    // defaultMode 420 for every file, the token too: no fsGroup, no runAsUser.
    for file in ["token", "ca.crt", "namespace"] {
        assert_eq!(mode(&dir.join(file)), 0o644, "{file}");
        assert_eq!(
            fs::read_link(dir.join(file)).unwrap(),
            Path::new("..data").join(file),
            "{file} goes through the atomic writer's ..data"
        );
    }
    assert!(
        root.mounts()
            .iter()
            .any(|m| m.mount_point == dir && m.fs_type == "tmpfs"),
        "the token lives on a tmpfs, never on the node's disk"
    );

    assert_eq!(
        tokens.requests(),
        [ServiceAccountTokenRequest {
            namespace: "team-a".into(),
            service_account_name: "builder".into(),
            audience: None,
            expiration_seconds: Some(3607),
            pod_name: "web".into(),
            pod_uid: "uid-kaa".into(),
        }]
    );

    let ips = vec!["10.88.0.9".to_owned()];
    let ctx = ContainerContext {
        pod_ips: &ips,
        hostname: "web",
        ..Default::default()
    };
    let mounts = root
        .manager
        .container_mounts(&pod, app(&pod), &ctx)
        .unwrap();
    let token_mount = mounts
        .iter()
        .find(|m| m.container_path == MOUNT_PATH)
        .expect("the service account mount");
    assert_eq!(token_mount.host_path, dir);
    assert!(token_mount.read_only);

    root.manager.unmount_pod("uid-kaa").unwrap();
    assert!(root.mounts().is_empty());
    assert_eq!(*tokens.forgotten.lock().unwrap(), ["uid-kaa"]);
}

#[test]
fn vo_14_a_renewed_token_is_written_at_the_next_resync_and_nothing_else_is_swapped() {
    if !can_mount("token_refresh") {
        return;
    }
    let tokens = FakeTokens::issuing(TOKEN_1);
    let root = TestRoot::with_tokens(tokens.clone());
    root_ca(&root);
    let pod = api_pod("uid-refresh");
    root.manager.mount_pod(&pod).unwrap();
    let dir = volume_dir(&root, "uid-refresh");
    let first = data_dir(&dir);

    // Same token: the source is asked again, the files are left alone.
    assert!(root.manager.resync_pod(&pod).unwrap().is_empty());
    assert_eq!(tokens.requests().len(), 2);
    assert_eq!(data_dir(&dir), first, "no swap when nothing changed");

    // mount_pod does not re-render a mounted volume: only resync does.
    root.manager.mount_pod(&pod).unwrap();
    assert_eq!(tokens.requests().len(), 2);

    tokens.set(Answer::Token(TOKEN_2.into()));
    assert!(root.manager.resync_pod(&pod).unwrap().is_empty());
    assert_eq!(fs::read_to_string(dir.join("token")).unwrap(), TOKEN_2);
    assert_ne!(data_dir(&dir), first, "a renewed token swaps ..data");
    assert_eq!(mode(&dir.join("token")), 0o644);
    assert_eq!(fs::read_to_string(dir.join("namespace")).unwrap(), "team-a");
    assert!(!dir.join(&first).exists(), "the old version is removed");

    root.manager.unmount_pod("uid-refresh").unwrap();
    assert!(root.mounts().is_empty());
}

#[test]
fn token_mode_follows_the_kubelet_with_fs_group_and_run_as_user() {
    if !can_mount("token_modes") {
        return;
    }
    let tokens = FakeTokens::issuing(TOKEN_1);
    let root = TestRoot::with_tokens(tokens.clone());
    root_ca(&root);

    // fsGroup: the token is written 0600, then fsGroup ownership widens it to 0640.
    let mut grouped = api_pod("uid-fsgroup");
    grouped.spec.as_mut().unwrap().security_context = Some(PodSecurityContext {
        fs_group: Some(2000),
        ..Default::default()
    });
    root.manager.mount_pod(&grouped).unwrap();
    let dir = volume_dir(&root, "uid-fsgroup");
    assert_eq!(mode(&dir.join("token")), 0o640);
    assert_eq!(fs::metadata(dir.join("token")).unwrap().gid(), 2000);
    assert_eq!(mode(&dir.join("ca.crt")), 0o644);
    let first = data_dir(&dir);
    assert!(root.manager.resync_pod(&grouped).unwrap().is_empty());
    assert_eq!(
        data_dir(&dir),
        first,
        "fsGroup's widened modes are no change: no swap at every resync"
    );

    // One runAsUser for every container: the token is that user's, 0600; the other files
    // keep the agent's user and defaultMode.
    let mut user = api_pod("uid-runas");
    let spec = user.spec.as_mut().unwrap();
    spec.security_context = Some(PodSecurityContext {
        run_as_user: Some(1000),
        ..Default::default()
    });
    spec.init_containers = Some(vec![Container {
        name: "init".into(),
        security_context: Some(SecurityContext {
            run_as_user: Some(1000),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    root.manager.mount_pod(&user).unwrap();
    let dir = volume_dir(&root, "uid-runas");
    let token = fs::metadata(dir.join("token")).unwrap();
    assert_eq!((token.uid(), mode(&dir.join("token"))), (1000, 0o600));
    let ca = fs::metadata(dir.join("ca.crt")).unwrap();
    assert_eq!((ca.uid(), mode(&dir.join("ca.crt"))), (0, 0o644));

    // Two containers with different users: no single owner, defaultMode.
    let mut mixed = api_pod("uid-mixed");
    let spec = mixed.spec.as_mut().unwrap();
    spec.containers[0].security_context = Some(SecurityContext {
        run_as_user: Some(1000),
        ..Default::default()
    });
    spec.containers.push(Container {
        name: "sidecar".into(),
        security_context: Some(SecurityContext {
            run_as_user: Some(1001),
            ..Default::default()
        }),
        ..Default::default()
    });
    root.manager.mount_pod(&mixed).unwrap();
    let dir = volume_dir(&root, "uid-mixed");
    assert_eq!(fs::metadata(dir.join("token")).unwrap().uid(), 0);
    assert_eq!(mode(&dir.join("token")), 0o644);

    for uid in ["uid-fsgroup", "uid-runas", "uid-mixed"] {
        root.manager.unmount_pod(uid).unwrap();
    }
    assert!(root.mounts().is_empty());
}

#[test]
fn the_request_defaults_the_service_account_and_the_audience() {
    if !can_mount("token_request") {
        return;
    }
    let tokens = FakeTokens::issuing(TOKEN_1);
    let root = TestRoot::with_tokens(tokens.clone());
    let volume = |name: &str, audience: &str| Volume {
        name: name.into(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(vec![VolumeProjection {
                service_account_token: Some(ServiceAccountTokenProjection {
                    audience: Some(audience.into()),
                    path: "vault/token".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    // A static pod: no serviceAccountName, no expirationSeconds, no defaultMode.
    let p = pod(
        "uid-static",
        vec![volume("vault-token", "vault"), volume("api-token", "")],
        vec![],
    );
    root.manager.mount_pod(&p).unwrap();
    let requests = tokens.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!(r.service_account(), "default/default");
        assert_eq!(r.expiration_seconds, None);
        assert_eq!(
            (r.pod_name.as_str(), r.pod_uid.as_str()),
            ("web", "uid-static")
        );
    }
    assert_eq!(requests[0].audience.as_deref(), Some("vault"));
    assert_eq!(
        requests[1].audience, None,
        "an empty audience is the API server's"
    );
    let dir = root
        .manager
        .root()
        .pod("uid-static")
        .unwrap()
        .volume_dir("kubernetes.io/projected", "vault-token")
        .unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("vault/token")).unwrap(),
        TOKEN_1
    );
    assert_eq!(mode(&dir.join("vault/token")), 0o644);

    // The deprecated spec.serviceAccount stands in for serviceAccountName.
    let mut old = pod("uid-old", vec![volume("api-token", "")], vec![]);
    old.spec.as_mut().unwrap().service_account = Some("legacy".into());
    root.manager.mount_pod(&old).unwrap();
    assert_eq!(
        tokens.requests().last().unwrap().service_account(),
        "default/legacy"
    );

    root.manager.unmount_pod("uid-static").unwrap();
    root.manager.unmount_pod("uid-old").unwrap();
    assert!(root.mounts().is_empty());
}

#[test]
fn without_a_token_source_the_volume_is_refused_naming_the_pod_and_the_field() {
    if !can_mount("no_tokens") {
        return;
    }
    // The default: NoTokens, as in standalone mode.
    let root = TestRoot::new();
    root_ca(&root);
    let api = api_pod("uid-none");
    let err = root.manager.mount_pod(&api).unwrap_err();
    assert_eq!(err.unmounted_volumes(), [VOLUME]);
    let Error::PodNotMounted { failures, .. } = &err else {
        panic!("{err:?}");
    };
    let [
        Error::SetUp {
            pod,
            field,
            message,
            ..
        },
    ] = failures.as_slice()
    else {
        panic!("{failures:?}");
    };
    assert_eq!(pod, "team-a/web");
    assert_eq!(field, FIELD);
    assert_eq!(
        message,
        "serviceAccountToken projections need a token from the API server (cluster mode), \
         which this node agent does not support yet"
    );
    let text = err.to_string();
    assert!(
        text.contains("team-a/web") && text.contains(FIELD),
        "{text}"
    );
    assert!(
        root.mounts().is_empty(),
        "nothing mounted for a refused volume"
    );
    assert!(!root.manager.pod_volumes_mounted(&api));

    root.manager.unmount_pod("uid-none").unwrap();
}

#[test]
fn a_failing_token_source_is_reported_with_pod_and_field_and_never_the_token() {
    if !can_mount("token_errors") {
        return;
    }
    let tokens = FakeTokens::issuing(TOKEN_1);
    let root = TestRoot::with_tokens(tokens.clone());
    root_ca(&root);
    let pod = api_pod("uid-err");
    root.manager.mount_pod(&pod).unwrap();
    let dir = volume_dir(&root, "uid-err");

    // A refresh that fails leaves the mounted volume with its last token and comes back
    // as a failure to report.
    tokens.set(Answer::Fail(
        r#"serviceaccounts "builder" not found"#.into(),
    ));
    let failures = root.manager.resync_pod(&pod).unwrap();
    let [failure] = failures.as_slice() else {
        panic!("{failures:?}");
    };
    let text = failure.to_string();
    assert_eq!(
        text,
        format!(
            "pod team-a/web: {FIELD}: MountVolume.SetUp failed for volume \"{VOLUME}\" : \
             failed to fetch token: service account team-a/builder: \
             serviceaccounts \"builder\" not found"
        )
    );
    for shown in [text, format!("{failure:?}")] {
        assert!(!shown.contains(TOKEN_1), "{shown}");
        assert!(!shown.contains("first-token-payload"), "{shown}");
    }
    assert_eq!(fs::read_to_string(dir.join("token")).unwrap(), TOKEN_1);

    // A pod whose first mount fails: the volume is not mounted, the error says why.
    let other = api_pod("uid-err2");
    let err = root.manager.mount_pod(&other).unwrap_err();
    assert_eq!(err.unmounted_volumes(), [VOLUME]);
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(shown.contains("team-a/web"), "{shown}");
        assert!(shown.contains(FIELD), "{shown}");
        assert!(shown.contains("team-a/builder"), "{shown}");
        assert!(
            !shown.contains(TOKEN_1) && !shown.contains(TOKEN_2),
            "{shown}"
        );
    }

    root.manager.unmount_pod("uid-err").unwrap();
    root.manager.unmount_pod("uid-err2").unwrap();
    assert!(root.mounts().is_empty());
}

#[test]
fn an_unsafe_token_path_is_refused_before_the_source_is_asked() {
    let tokens = FakeTokens::issuing(TOKEN_1);
    let root = TestRoot::with_tokens(tokens.clone());
    let mut volume = kube_api_access();
    let projected = volume.projected.as_mut().unwrap();
    projected.sources.as_mut().unwrap()[0]
        .service_account_token
        .as_mut()
        .unwrap()
        .path = "../escape".into();
    let p = pod("uid-path", vec![volume], vec![]);
    let err = root.manager.mount_pod(&p).unwrap_err();
    assert!(err.to_string().contains(&format!("{FIELD}.path")), "{err}");
    assert!(err.to_string().contains("must not contain '..'"), "{err}");
    assert!(tokens.requests().is_empty());
    root.manager.unmount_pod("uid-path").unwrap();
}

#[test]
fn a_token_never_shows_in_debug_output() {
    let token = ServiceAccountToken::new(TOKEN_1);
    let shown = format!("{token:?}");
    assert!(!shown.contains("first-token-payload"), "{shown}");
    assert!(shown.contains(&TOKEN_1.len().to_string()), "{shown}");
    assert_eq!(token.as_str(), TOKEN_1);
}
