//! Pods made straight through the CRI, and their removal.
//!
//! A [`TestSandbox`] is what a test that talks to the runtime itself needs: a sandbox with
//! the kubelet's pod labels (so it is found by uid as the kubelet's are), busybox containers
//! in it, and a removal that stops first. The same calls run on the fake runtime and on
//! containerd.

use std::collections::HashMap;
use std::path::Path;

use cri_client::{GrpcRuntime, RuntimeService, v1};
use tracing::Instrument as _;

use crate::error::{Error, Result};
use crate::labels;

/// A pod sandbox made by a test; [`TestSandbox::remove`] stops and removes it.
#[derive(Debug, Clone)]
pub struct TestSandbox {
    /// The runtime's id of the sandbox.
    pub id: String,
    /// The config it was run with (containers are created with it).
    pub config: v1::PodSandboxConfig,
}

/// The config of a [`TestSandbox`] before it runs; see [`TestSandbox::builder`].
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    config: v1::PodSandboxConfig,
}

impl TestSandbox {
    /// A sandbox for pod `namespace/name` with `uid`, labelled as the kubelet labels its
    /// sandboxes (pod name, namespace and uid). On the pod network unless
    /// [`host_network`](SandboxBuilder::host_network) is asked for.
    pub fn builder(namespace: &str, name: &str, uid: &str) -> SandboxBuilder {
        SandboxBuilder {
            config: v1::PodSandboxConfig {
                metadata: Some(v1::PodSandboxMetadata {
                    name: name.to_string(),
                    namespace: namespace.to_string(),
                    uid: uid.to_string(),
                    attempt: 0,
                }),
                labels: HashMap::from([
                    (labels::POD_NAME.to_string(), name.to_string()),
                    (labels::POD_NAMESPACE.to_string(), namespace.to_string()),
                    (labels::POD_UID.to_string(), uid.to_string()),
                ]),
                ..Default::default()
            },
        }
    }

    /// The pod's uid.
    pub fn uid(&self) -> &str {
        self.config.metadata.as_ref().map_or("", |m| m.uid.as_str())
    }

    /// The pod as `namespace/name`.
    pub fn pod(&self) -> String {
        pod_of(&self.config)
    }

    /// Creates the container `name` running `command` in `image`, with the kubelet's pod and
    /// container labels and its log at `<name>/0.log` in the sandbox's log directory. Does
    /// not start it. Returns its id.
    pub async fn create_container(
        &self,
        runtime: &dyn RuntimeService,
        name: &str,
        image: &str,
        command: &[&str],
    ) -> Result<String> {
        let mut container_labels = self.config.labels.clone();
        container_labels.insert(labels::CONTAINER_NAME.to_string(), name.to_string());
        let config = v1::ContainerConfig {
            metadata: Some(v1::ContainerMetadata {
                name: name.to_string(),
                attempt: 0,
            }),
            image: Some(v1::ImageSpec {
                image: image.to_string(),
                ..Default::default()
            }),
            command: command.iter().map(|s| s.to_string()).collect(),
            log_path: format!("{name}/0.log"),
            labels: container_labels,
            ..Default::default()
        };
        let request = v1::CreateContainerRequest {
            pod_sandbox_id: self.id.clone(),
            config: Some(config),
            sandbox_config: Some(self.config.clone()),
        };
        let created = self
            .call("CreateContainer", runtime.create_container(request))
            .await?;
        Ok(created.container_id)
    }

    /// [`create_container`](TestSandbox::create_container), then starts it. Returns its id.
    pub async fn start_container(
        &self,
        runtime: &dyn RuntimeService,
        name: &str,
        image: &str,
        command: &[&str],
    ) -> Result<String> {
        let id = self.create_container(runtime, name, image, command).await?;
        let request = v1::StartContainerRequest {
            container_id: id.clone(),
        };
        self.call("StartContainer", runtime.start_container(request))
            .await?;
        Ok(id)
    }

    /// Stops and removes the sandbox (and so its containers). Both calls are made even when
    /// the first fails; the first error is returned.
    pub async fn remove(&self, runtime: &dyn RuntimeService) -> Result<()> {
        remove_sandbox(runtime, &self.id, &self.pod(), self.uid())
            .instrument(self.span())
            .await
    }

    fn span(&self) -> tracing::Span {
        tracing::info_span!("test_pod", pod = %self.pod(), uid = %self.uid())
    }

    /// Awaits one CRI call for this pod, in its span; a failure names the call and the pod.
    async fn call<T>(
        &self,
        call: &'static str,
        reply: impl Future<Output = cri_client::Result<T>>,
    ) -> Result<T> {
        reply
            .instrument(self.span())
            .await
            .map_err(|source| Error::Cri {
                call,
                pod: self.pod(),
                uid: self.uid().to_string(),
                source: Box::new(source),
            })
    }
}

impl SandboxBuilder {
    /// The node's network namespace instead of the pod network (no CNI).
    pub fn host_network(mut self) -> Self {
        let linux = self.config.linux.get_or_insert_with(Default::default);
        let security = linux.security_context.get_or_insert_with(Default::default);
        security
            .namespace_options
            .get_or_insert_with(Default::default)
            .network = v1::NamespaceMode::Node as i32;
        self
    }

    /// The cgroup the pod's cgroup goes under (runc creates it and never removes it: see
    /// [`remove_cgroup_tree`](crate::remove_cgroup_tree)).
    pub fn cgroup_parent(mut self, parent: &str) -> Self {
        self.config
            .linux
            .get_or_insert_with(Default::default)
            .cgroup_parent = parent.to_string();
        self
    }

    /// Where the runtime writes the containers' logs.
    pub fn log_directory(mut self, dir: &Path) -> Self {
        self.config.log_directory = dir.to_string_lossy().into_owned();
        self
    }

    /// The pod's hostname.
    pub fn hostname(mut self, hostname: &str) -> Self {
        self.config.hostname = hostname.to_string();
        self
    }

    /// The config as it stands.
    pub fn config(&self) -> &v1::PodSandboxConfig {
        &self.config
    }

    /// Runs the sandbox and starts one container in it (see
    /// [`TestSandbox::start_container`]); when the container does not start, the sandbox is
    /// removed again and the container's error returned. Returns the sandbox and the
    /// container's id.
    pub async fn run_with_container(
        self,
        runtime: &dyn RuntimeService,
        name: &str,
        image: &str,
        command: &[&str],
    ) -> Result<(TestSandbox, String)> {
        let sandbox = self.run(runtime).await?;
        match sandbox.start_container(runtime, name, image, command).await {
            Ok(id) => Ok((sandbox, id)),
            Err(e) => {
                if let Err(cleanup) = sandbox.remove(runtime).await {
                    eprintln!("cleanup: {cleanup}");
                }
                Err(e)
            }
        }
    }

    /// Runs the sandbox.
    pub async fn run(self, runtime: &dyn RuntimeService) -> Result<TestSandbox> {
        let pod = pod_of(&self.config);
        let uid = self
            .config
            .metadata
            .as_ref()
            .map_or(String::new(), |m| m.uid.clone());
        let span = tracing::info_span!("test_pod", pod = %pod, uid = %uid);
        let ran = runtime
            .run_pod_sandbox(v1::RunPodSandboxRequest {
                config: Some(self.config.clone()),
                runtime_handler: String::new(),
            })
            .instrument(span)
            .await;
        match ran {
            Ok(r) => Ok(TestSandbox {
                id: r.pod_sandbox_id,
                config: self.config,
            }),
            Err(source) => Err(Error::Cri {
                call: "RunPodSandbox",
                pod,
                uid,
                source: Box::new(source),
            }),
        }
    }
}

fn pod_of(config: &v1::PodSandboxConfig) -> String {
    config
        .metadata
        .as_ref()
        .map_or("?/?".to_string(), |m| format!("{}/{}", m.namespace, m.name))
}

/// Stops and removes the sandbox `id` of `pod` (`namespace/name`) with `uid`; both calls are
/// made even when the first fails, and the first error is returned.
pub async fn remove_sandbox(
    runtime: &dyn RuntimeService,
    id: &str,
    pod: &str,
    uid: &str,
) -> Result<()> {
    let error = |call, source| Error::Cri {
        call,
        pod: pod.to_string(),
        uid: uid.to_string(),
        source: Box::new(source),
    };
    let stopped = runtime
        .stop_pod_sandbox(v1::StopPodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        })
        .await
        .map_err(|e| error("StopPodSandbox", e));
    let removed = runtime
        .remove_pod_sandbox(v1::RemovePodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        })
        .await
        .map_err(|e| error("RemovePodSandbox", e));
    stopped.and(removed).map(|_| ())
}

/// Stops and removes every sandbox labelled with the pod `uid` ([`labels::POD_UID`]), as a
/// test's cleanup does for the pods it ran. Every sandbox is tried; returns how many were
/// removed, or the first error.
pub async fn remove_pod_sandboxes(runtime: &dyn RuntimeService, uid: &str) -> Result<usize> {
    let span = tracing::info_span!("remove_pod_sandboxes", uid = %uid);
    async {
        let sandboxes = runtime
            .list_pod_sandbox(v1::ListPodSandboxRequest {
                filter: Some(v1::PodSandboxFilter {
                    label_selector: HashMap::from([(labels::POD_UID.to_string(), uid.to_string())]),
                    ..Default::default()
                }),
            })
            .await
            .map_err(|source| Error::Cri {
                call: "ListPodSandbox",
                pod: "?/?".to_string(),
                uid: uid.to_string(),
                source: Box::new(source),
            })?
            .items;
        let mut first_error = None;
        let mut removed = 0;
        for sandbox in &sandboxes {
            let pod = sandbox
                .metadata
                .as_ref()
                .map_or("?/?".to_string(), |m| format!("{}/{}", m.namespace, m.name));
            match remove_sandbox(runtime, &sandbox.id, &pod, uid).await {
                Ok(()) => removed += 1,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(removed),
        }
    }
    .instrument(span)
    .await
}

/// [`remove_pod_sandboxes`] for every uid, from synchronous code such as a `Drop`: on a
/// thread of its own, with its own tokio runtime and its own connection to `endpoint` (the
/// test's runtime, and a client whose connection lives on it, may be going away). Returns
/// what failed, for the caller to print.
pub fn remove_pods_blocking(endpoint: &str, uids: &[String]) -> Vec<Error> {
    if uids.is_empty() {
        return Vec::new();
    }
    let (endpoint, owned) = (endpoint.to_string(), uids.to_vec());
    let cleanup = std::thread::spawn(move || {
        let uids = owned;
        let tokio = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(t) => t,
            Err(e) => {
                return vec![Error::Cleanup {
                    uids: uids.join(", "),
                    reason: format!("no tokio runtime: {e}"),
                }];
            }
        };
        tokio.block_on(async {
            let runtime = match GrpcRuntime::new(&endpoint) {
                Ok(r) => r,
                Err(source) => {
                    return vec![Error::Endpoint {
                        var: crate::env::CRI_ENDPOINT_VAR,
                        endpoint,
                        source: Box::new(source),
                    }];
                }
            };
            let mut errors = Vec::new();
            for uid in &uids {
                if let Err(e) = remove_pod_sandboxes(&runtime, uid).await {
                    errors.push(e);
                }
            }
            errors
        })
    });
    let uids = uids.join(", ");
    cleanup.join().unwrap_or_else(|_| {
        vec![Error::Cleanup {
            uids,
            reason: "the clean-up thread panicked".to_string(),
        }]
    })
}

/// Stops and removes every container, then every sandbox, in `runtime`: the clean-up of a
/// runtime that belongs to one agent at a time (the reference runtime of the real kubelet,
/// under [`ReferenceRuntimeLock`](crate::ReferenceRuntimeLock)), where whatever is left
/// is that agent's. Every object is tried; returns how many sandboxes were removed, or the
/// first error.
pub async fn remove_all_pods(runtime: &dyn RuntimeService) -> Result<usize> {
    let error = |call, id: &str, source| Error::Cri {
        call,
        pod: "?/?".to_string(),
        uid: id.to_string(),
        source: Box::new(source),
    };
    let mut first_error = None;
    let containers = runtime
        .list_containers(v1::ListContainersRequest::default())
        .await
        .map_err(|e| error("ListContainers", "", e))?
        .containers;
    for container in containers {
        let stopped = runtime
            .stop_container(v1::StopContainerRequest {
                container_id: container.id.clone(),
                timeout: 0,
            })
            .await
            .map_err(|e| error("StopContainer", &container.id, e));
        let removed = runtime
            .remove_container(v1::RemoveContainerRequest {
                container_id: container.id.clone(),
            })
            .await
            .map_err(|e| error("RemoveContainer", &container.id, e));
        if let Err(e) = stopped.and(removed) {
            first_error.get_or_insert(e);
        }
    }
    let sandboxes = runtime
        .list_pod_sandbox(v1::ListPodSandboxRequest::default())
        .await
        .map_err(|e| error("ListPodSandbox", "", e))?
        .items;
    let mut removed = 0;
    for sandbox in &sandboxes {
        let (pod, uid) = sandbox.metadata.as_ref().map_or_else(
            || ("?/?".to_string(), String::new()),
            |m| (format!("{}/{}", m.namespace, m.name), m.uid.clone()),
        );
        match remove_sandbox(runtime, &sandbox.id, &pod, &uid).await {
            Ok(()) => removed += 1,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}

/// [`remove_all_pods`] on the runtime at `endpoint`, from synchronous code such as a `Drop`
/// (on a thread of its own, with its own tokio runtime and connection, as
/// [`remove_pods_blocking`] does).
pub fn remove_all_pods_blocking(endpoint: &str) -> Result<usize> {
    let endpoint = endpoint.to_string();
    let cleanup = std::thread::spawn(move || {
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Cleanup {
                uids: format!("every pod in {endpoint}"),
                reason: format!("no tokio runtime: {e}"),
            })?;
        tokio.block_on(async {
            let runtime = GrpcRuntime::new(&endpoint).map_err(|source| Error::Endpoint {
                var: crate::kubelet::REF_CRI_ENDPOINT_VAR,
                endpoint: endpoint.clone(),
                source: Box::new(source),
            })?;
            remove_all_pods(&runtime).await
        })
    });
    cleanup.join().unwrap_or_else(|_| {
        Err(Error::Cleanup {
            uids: "every pod".to_string(),
            reason: "the clean-up thread panicked".to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use cri_client::fake::{BUSYBOX_IMAGE, FakeRuntime};

    use super::*;

    #[tokio::test]
    async fn a_pod_is_labelled_as_the_kubelet_labels_it() {
        let fake = FakeRuntime::with_busybox();
        let (sandbox, id) = TestSandbox::builder("ns", "web", "uid-1")
            .host_network()
            .cgroup_parent("/base/poduid-1")
            .run_with_container(&fake, "app", BUSYBOX_IMAGE, &["sleep", "infinity"])
            .await
            .unwrap();
        assert_eq!(
            (sandbox.pod(), sandbox.uid()),
            ("ns/web".to_string(), "uid-1")
        );
        let linux = sandbox.config.linux.as_ref().unwrap();
        assert_eq!(linux.cgroup_parent, "/base/poduid-1");
        let network = linux
            .security_context
            .as_ref()
            .unwrap()
            .namespace_options
            .as_ref();
        assert_eq!(network.unwrap().network, v1::NamespaceMode::Node as i32);
        let status = fake
            .container_status(v1::ContainerStatusRequest {
                container_id: id,
                verbose: false,
            })
            .await
            .unwrap()
            .status
            .unwrap();
        assert_eq!(status.state(), v1::ContainerState::ContainerRunning);
        assert_eq!(status.labels[labels::POD_UID], "uid-1");
        assert_eq!(status.labels[labels::POD_NAMESPACE], "ns");
        assert_eq!(status.labels[labels::CONTAINER_NAME], "app");
        assert_eq!(status.log_path, "app/0.log");
    }

    #[tokio::test]
    async fn a_container_that_cannot_start_takes_its_sandbox_with_it() {
        let fake = FakeRuntime::with_busybox();
        let err = TestSandbox::builder("ns", "web", "uid-1")
            .run_with_container(&fake, "app", "absent:1", &["true"])
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Cri {
                    call: "CreateContainer",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("ns/web (uid uid-1)"), "{err}");
        let left = fake.list_pod_sandbox(Default::default()).await.unwrap();
        assert!(left.items.is_empty(), "{left:?}");
    }

    #[tokio::test]
    async fn only_the_pods_sandboxes_are_removed() {
        let fake = FakeRuntime::with_busybox();
        for (name, uid) in [("a1", "a"), ("a2", "a"), ("b", "b")] {
            TestSandbox::builder("ns", name, uid)
                .run(&fake)
                .await
                .unwrap();
        }
        assert_eq!(remove_pod_sandboxes(&fake, "a").await.unwrap(), 2);
        let left = fake
            .list_pod_sandbox(Default::default())
            .await
            .unwrap()
            .items;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].labels[labels::POD_UID], "b");
    }

    #[tokio::test]
    async fn every_pod_and_container_goes() {
        let fake = FakeRuntime::with_busybox();
        for (name, uid) in [("a", "a"), ("b", "b")] {
            TestSandbox::builder("ns", name, uid)
                .run_with_container(&fake, "app", BUSYBOX_IMAGE, &["sleep", "infinity"])
                .await
                .unwrap();
        }
        assert_eq!(remove_all_pods(&fake).await.unwrap(), 2);
        let sandboxes = fake.list_pod_sandbox(Default::default()).await.unwrap();
        assert!(sandboxes.items.is_empty(), "{sandboxes:?}");
        let containers = fake.list_containers(Default::default()).await.unwrap();
        assert!(containers.containers.is_empty(), "{containers:?}");
    }
}
