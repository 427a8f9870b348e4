//! The CRI traits on [`FakeRuntime`]: bookkeeping (call log, scripted failures, error
//! mapping) around the state methods.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use tonic::{Code, Status};

use crate::service::ContainerEventStream;
use crate::{Error, ImageService, Result, RuntimeService, v1};

use super::state::State;
use super::{Call, FAKE_ENDPOINT, FakeRuntime};

/// Map a status to the crate's error the way [`GrpcRuntime`](crate::GrpcRuntime) does, so
/// that code under test sees the same variants from the fake as from a real runtime.
fn to_error(call: &'static str, id: Option<String>, status: &Status) -> Error {
    let id = id.filter(|s| !s.is_empty());
    match status.code() {
        Code::Unavailable => Error::Unavailable {
            endpoint: FAKE_ENDPOINT.to_string(),
            call,
            id,
            message: status.message().to_string(),
        },
        _ => Error::from_status(call, id, status),
    }
}

impl FakeRuntime {
    /// Run one call: scripted failure or `f`, then log it.
    fn call<T>(
        &self,
        method: &'static str,
        id: Option<String>,
        timeout: Option<i64>,
        f: impl FnOnce(&mut State) -> std::result::Result<T, Status>,
    ) -> Result<T> {
        self.call_logging(method, id, timeout, f, |_| None)
    }

    /// [`FakeRuntime::call`] for calls that create something: `created` names it in the log.
    fn call_logging<T>(
        &self,
        method: &'static str,
        id: Option<String>,
        timeout: Option<i64>,
        f: impl FnOnce(&mut State) -> std::result::Result<T, Status>,
        created: impl FnOnce(&T) -> Option<String>,
    ) -> Result<T> {
        let mut st = self.lock();
        let scripted = st.failures.get_mut(method).and_then(|q| q.pop_front());
        let result = match scripted {
            Some(failure) => Err(failure.to_status()),
            None => f(&mut st),
        };
        let logged_id = match &result {
            Ok(value) => created(value).or_else(|| id.clone()),
            Err(_) => id.clone(),
        };
        st.calls.push(Call {
            method,
            id: logged_id.filter(|s| !s.is_empty()),
            timeout,
            failed: result.as_ref().err().map(Status::code),
        });
        drop(st);
        result.map_err(|status| to_error(method, id, &status))
    }
}

/// What containerd 1.6 answers for an RPC its CRI plugin does not know.
fn unknown_method(method: &str) -> Status {
    Status::unimplemented(format!(
        "unknown method {method} for service runtime.v1.RuntimeService"
    ))
}

fn sandbox_name(config: &Option<v1::PodSandboxConfig>) -> Option<String> {
    config
        .as_ref()
        .and_then(|c| c.metadata.as_ref())
        .map(|m| format!("{}/{}", m.namespace, m.name))
}

fn image_name(spec: &Option<v1::ImageSpec>) -> String {
    spec.as_ref().map(|s| s.image.clone()).unwrap_or_default()
}

fn condition(kind: &str, ready: bool, reason: &str, message: &str) -> v1::RuntimeCondition {
    v1::RuntimeCondition {
        r#type: kind.to_string(),
        status: ready,
        reason: if ready {
            String::new()
        } else {
            reason.to_string()
        },
        message: if ready {
            String::new()
        } else {
            message.to_string()
        },
    }
}

#[async_trait]
impl RuntimeService for FakeRuntime {
    async fn version(&self, _req: v1::VersionRequest) -> Result<v1::VersionResponse> {
        self.call("Version", None, None, |_| {
            Ok(v1::VersionResponse {
                version: crate::KUBE_RUNTIME_API_VERSION.to_string(),
                runtime_name: "fake".to_string(),
                runtime_version: env!("CARGO_PKG_VERSION").to_string(),
                runtime_api_version: "v1".to_string(),
            })
        })
    }

    async fn run_pod_sandbox(
        &self,
        req: v1::RunPodSandboxRequest,
    ) -> Result<v1::RunPodSandboxResponse> {
        let id = sandbox_name(&req.config);
        self.call_logging(
            "RunPodSandbox",
            id,
            None,
            |st| st.run_pod_sandbox(req),
            |created| Some(created.clone()),
        )
        .map(|pod_sandbox_id| v1::RunPodSandboxResponse { pod_sandbox_id })
    }

    async fn stop_pod_sandbox(
        &self,
        req: v1::StopPodSandboxRequest,
    ) -> Result<v1::StopPodSandboxResponse> {
        let id = req.pod_sandbox_id;
        self.call("StopPodSandbox", Some(id.clone()), None, |st| {
            st.stop_pod_sandbox(&id)
        })
        .map(|()| v1::StopPodSandboxResponse {})
    }

    async fn remove_pod_sandbox(
        &self,
        req: v1::RemovePodSandboxRequest,
    ) -> Result<v1::RemovePodSandboxResponse> {
        let id = req.pod_sandbox_id;
        self.call("RemovePodSandbox", Some(id.clone()), None, |st| {
            st.remove_pod_sandbox(&id)
        })
        .map(|()| v1::RemovePodSandboxResponse {})
    }

    async fn pod_sandbox_status(
        &self,
        req: v1::PodSandboxStatusRequest,
    ) -> Result<v1::PodSandboxStatusResponse> {
        self.call(
            "PodSandboxStatus",
            Some(req.pod_sandbox_id.clone()),
            None,
            |st| st.pod_sandbox_status(&req),
        )
    }

    async fn list_pod_sandbox(
        &self,
        req: v1::ListPodSandboxRequest,
    ) -> Result<v1::ListPodSandboxResponse> {
        self.call("ListPodSandbox", None, None, |st| {
            Ok(v1::ListPodSandboxResponse {
                items: st.list_pod_sandbox(req.filter.as_ref()),
            })
        })
    }

    async fn create_container(
        &self,
        req: v1::CreateContainerRequest,
    ) -> Result<v1::CreateContainerResponse> {
        let id = req
            .config
            .as_ref()
            .and_then(|c| c.metadata.as_ref())
            .map(|m| format!("{} in sandbox {}", m.name, req.pod_sandbox_id));
        self.call_logging(
            "CreateContainer",
            id,
            None,
            |st| st.create_container(req),
            |created| Some(created.clone()),
        )
        .map(|container_id| v1::CreateContainerResponse { container_id })
    }

    async fn start_container(
        &self,
        req: v1::StartContainerRequest,
    ) -> Result<v1::StartContainerResponse> {
        let id = req.container_id;
        self.call("StartContainer", Some(id.clone()), None, |st| {
            st.start_container(&id)
        })
        .map(|()| v1::StartContainerResponse {})
    }

    async fn stop_container(
        &self,
        req: v1::StopContainerRequest,
    ) -> Result<v1::StopContainerResponse> {
        let id = req.container_id;
        self.call("StopContainer", Some(id.clone()), Some(req.timeout), |st| {
            st.stop_container(&id, req.timeout)
        })
        .map(|()| v1::StopContainerResponse {})
    }

    async fn remove_container(
        &self,
        req: v1::RemoveContainerRequest,
    ) -> Result<v1::RemoveContainerResponse> {
        let id = req.container_id;
        self.call("RemoveContainer", Some(id.clone()), None, |st| {
            st.remove_container(&id)
        })
        .map(|()| v1::RemoveContainerResponse {})
    }

    async fn list_containers(
        &self,
        req: v1::ListContainersRequest,
    ) -> Result<v1::ListContainersResponse> {
        self.call("ListContainers", None, None, |st| {
            Ok(v1::ListContainersResponse {
                containers: st.list_containers(req.filter.as_ref()),
            })
        })
    }

    async fn container_status(
        &self,
        req: v1::ContainerStatusRequest,
    ) -> Result<v1::ContainerStatusResponse> {
        self.call(
            "ContainerStatus",
            Some(req.container_id.clone()),
            None,
            |st| st.container_status(&req),
        )
    }

    async fn update_container_resources(
        &self,
        req: v1::UpdateContainerResourcesRequest,
    ) -> Result<v1::UpdateContainerResourcesResponse> {
        self.call(
            "UpdateContainerResources",
            Some(req.container_id.clone()),
            None,
            |st| st.update_container_resources(req),
        )
        .map(|()| v1::UpdateContainerResourcesResponse {})
    }

    async fn reopen_container_log(
        &self,
        req: v1::ReopenContainerLogRequest,
    ) -> Result<v1::ReopenContainerLogResponse> {
        let id = req.container_id;
        self.call("ReopenContainerLog", Some(id.clone()), None, |st| {
            st.reopen_container_log(&id)
        })
        .map(|()| v1::ReopenContainerLogResponse {})
    }

    async fn exec_sync(&self, req: v1::ExecSyncRequest) -> Result<v1::ExecSyncResponse> {
        let container_id = req.container_id.clone();
        let timeout = Duration::from_secs(req.timeout.max(0) as u64);
        let result = self.call(
            "ExecSync",
            Some(container_id.clone()),
            Some(req.timeout),
            |st| match st.exec_sync(&req)? {
                Ok(reply) => Ok(reply),
                Err(_) => Err(Status::deadline_exceeded(format!(
                    "failed to exec in container: timeout {timeout:?} exceeded: context deadline exceeded"
                ))),
            },
        );
        // As the real client does: the runtime's deadline is the kubelet's "command timed out".
        match result {
            Err(e) if e.code() == Some(Code::DeadlineExceeded) => Err(Error::CommandTimedOut {
                container_id,
                timeout,
            }),
            other => other,
        }
    }

    async fn exec(&self, req: v1::ExecRequest) -> Result<v1::ExecResponse> {
        let id = req.container_id.clone();
        self.call("Exec", Some(id.clone()), None, |st| {
            if !(req.stdin || req.stdout || req.stderr) {
                return Err(Status::invalid_argument(
                    "one of stdin, stdout, or stderr must be set",
                ));
            }
            st.streaming_url("exec", &id, false)
        })
        .map(|url| v1::ExecResponse { url })
    }

    async fn attach(&self, req: v1::AttachRequest) -> Result<v1::AttachResponse> {
        let id = req.container_id.clone();
        self.call("Attach", Some(id.clone()), None, |st| {
            st.streaming_url("attach", &id, false)
        })
        .map(|url| v1::AttachResponse { url })
    }

    async fn port_forward(&self, req: v1::PortForwardRequest) -> Result<v1::PortForwardResponse> {
        let id = req.pod_sandbox_id.clone();
        self.call("PortForward", Some(id.clone()), None, |st| {
            st.streaming_url("portforward", &id, true)
        })
        .map(|url| v1::PortForwardResponse { url })
    }

    async fn container_stats(
        &self,
        req: v1::ContainerStatsRequest,
    ) -> Result<v1::ContainerStatsResponse> {
        let id = req.container_id;
        self.call("ContainerStats", Some(id.clone()), None, |st| {
            st.container_stats(&id)
        })
        .map(|stats| v1::ContainerStatsResponse { stats: Some(stats) })
    }

    async fn list_container_stats(
        &self,
        req: v1::ListContainerStatsRequest,
    ) -> Result<v1::ListContainerStatsResponse> {
        self.call("ListContainerStats", None, None, |st| {
            Ok(v1::ListContainerStatsResponse {
                stats: st.list_container_stats(req.filter.as_ref()),
            })
        })
    }

    async fn pod_sandbox_stats(
        &self,
        req: v1::PodSandboxStatsRequest,
    ) -> Result<v1::PodSandboxStatsResponse> {
        let id = req.pod_sandbox_id;
        self.call("PodSandboxStats", Some(id.clone()), None, |st| {
            st.pod_sandbox_stats(&id)
        })
        .map(|stats| v1::PodSandboxStatsResponse { stats: Some(stats) })
    }

    async fn list_pod_sandbox_stats(
        &self,
        req: v1::ListPodSandboxStatsRequest,
    ) -> Result<v1::ListPodSandboxStatsResponse> {
        self.call("ListPodSandboxStats", None, None, |st| {
            Ok(v1::ListPodSandboxStatsResponse {
                stats: st.list_pod_sandbox_stats(req.filter.as_ref()),
            })
        })
    }

    async fn update_runtime_config(
        &self,
        req: v1::UpdateRuntimeConfigRequest,
    ) -> Result<v1::UpdateRuntimeConfigResponse> {
        self.call("UpdateRuntimeConfig", None, None, |st| {
            if let Some(cidr) = req
                .runtime_config
                .and_then(|c| c.network_config)
                .map(|n| n.pod_cidr)
            {
                st.pod_cidr = cidr;
            }
            Ok(v1::UpdateRuntimeConfigResponse {})
        })
    }

    async fn status(&self, req: v1::StatusRequest) -> Result<v1::StatusResponse> {
        self.call("Status", None, None, |st| {
            let mut info = HashMap::new();
            if req.verbose {
                info.insert(
                    "config".to_string(),
                    "{\"runtimeType\":\"fake\"}".to_string(),
                );
            }
            Ok(v1::StatusResponse {
                status: Some(v1::RuntimeStatus {
                    conditions: vec![
                        condition(
                            "RuntimeReady",
                            st.runtime_ready,
                            "RuntimeNotReady",
                            "the fake runtime was set not ready",
                        ),
                        condition(
                            "NetworkReady",
                            st.network_ready,
                            "NetworkPluginNotReady",
                            "Network plugin returns error: cni plugin not initialized",
                        ),
                    ],
                }),
                info,
                // containerd 1.6 predates runtime handler features.
                runtime_handlers: Vec::new(),
                features: None,
            })
        })
    }

    async fn checkpoint_container(
        &self,
        req: v1::CheckpointContainerRequest,
    ) -> Result<v1::CheckpointContainerResponse> {
        self.call("CheckpointContainer", Some(req.container_id), None, |_| {
            Err(Status::unimplemented(
                "method CheckpointContainer not implemented",
            ))
        })
    }

    async fn get_container_events(
        &self,
        _req: v1::GetEventsRequest,
    ) -> Result<ContainerEventStream> {
        self.call("GetContainerEvents", None, None, |st| {
            match &mut st.event_subscribers {
                None => Err(Status::unimplemented(
                    "method GetContainerEvents not implemented",
                )),
                Some(subscribers) => {
                    let (tx, rx) = futures::channel::mpsc::unbounded();
                    subscribers.push(tx);
                    Ok(Box::pin(rx) as ContainerEventStream)
                }
            }
        })
    }

    async fn list_metric_descriptors(
        &self,
        _req: v1::ListMetricDescriptorsRequest,
    ) -> Result<v1::ListMetricDescriptorsResponse> {
        self.call("ListMetricDescriptors", None, None, |_| {
            Err(unknown_method("ListMetricDescriptors"))
        })
    }

    async fn list_pod_sandbox_metrics(
        &self,
        _req: v1::ListPodSandboxMetricsRequest,
    ) -> Result<v1::ListPodSandboxMetricsResponse> {
        self.call("ListPodSandboxMetrics", None, None, |_| {
            Err(unknown_method("ListPodSandboxMetrics"))
        })
    }

    async fn runtime_config(
        &self,
        _req: v1::RuntimeConfigRequest,
    ) -> Result<v1::RuntimeConfigResponse> {
        self.call("RuntimeConfig", None, None, |st| match st.cgroup_driver {
            Some(driver) => Ok(v1::RuntimeConfigResponse {
                linux: Some(v1::LinuxRuntimeConfiguration {
                    cgroup_driver: driver as i32,
                }),
            }),
            None => Err(unknown_method("RuntimeConfig")),
        })
    }
}

#[async_trait]
impl ImageService for FakeRuntime {
    async fn list_images(&self, _req: v1::ListImagesRequest) -> Result<v1::ListImagesResponse> {
        // containerd 1.6 ignores the filter and lists every image; so does the fake.
        self.call("ListImages", None, None, |st| {
            Ok(v1::ListImagesResponse {
                images: st.images.list().map(|i| i.to_cri()).collect(),
            })
        })
    }

    async fn image_status(&self, req: v1::ImageStatusRequest) -> Result<v1::ImageStatusResponse> {
        let name = image_name(&req.image);
        self.call("ImageStatus", Some(name.clone()), None, |st| {
            Ok(v1::ImageStatusResponse {
                image: st.images.resolve(&name).map(|i| i.to_cri()),
                info: HashMap::new(),
            })
        })
    }

    async fn pull_image(&self, req: v1::PullImageRequest) -> Result<v1::PullImageResponse> {
        let name = image_name(&req.image);
        self.call("PullImage", Some(name.clone()), None, |st| {
            st.pull_image(&name)
        })
        .map(|image_ref| v1::PullImageResponse { image_ref })
    }

    async fn remove_image(&self, req: v1::RemoveImageRequest) -> Result<v1::RemoveImageResponse> {
        let name = image_name(&req.image);
        self.call("RemoveImage", Some(name.clone()), None, |st| {
            st.images.remove(&name);
            Ok(v1::RemoveImageResponse {})
        })
    }

    async fn image_fs_info(&self, _req: v1::ImageFsInfoRequest) -> Result<v1::ImageFsInfoResponse> {
        self.call("ImageFsInfo", None, None, |st| Ok(st.image_fs_info()))
    }
}
