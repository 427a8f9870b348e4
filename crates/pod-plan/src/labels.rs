//! The labels and annotations the kubelet writes on CRI sandboxes and containers
//! (`pkg/kubelet/kuberuntime/labels.go`). They are how an agent re-reads its own state from
//! the runtime after a restart: nothing else is stored.
//!
//! And the annotations its pod sources put on pods (`pkg/kubelet/types`): where a pod came
//! from, the hash of a static pod's configuration, and the mark of a mirror pod.

/// Sandbox and container label: the pod's name.
pub const POD_NAME: &str = "io.kubernetes.pod.name";
/// Sandbox and container label: the pod's namespace.
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// Sandbox and container label: the pod's UID.
pub const POD_UID: &str = "io.kubernetes.pod.uid";
/// Container label: the container's name in the pod spec.
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// Sandbox label: `podsandbox` marks the pause container's type (set by containerd; listed
/// for completeness).
pub const CONTAINER_TYPE: &str = "io.kubernetes.container.type";

/// Container annotation: the container spec hash (hex), see [`crate::container_hash`].
pub const CONTAINER_HASH: &str = "io.kubernetes.container.hash";
/// Container annotation: how many times this container was restarted before this instance.
pub const CONTAINER_RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
/// Container annotation: `terminationMessagePath`.
pub const TERMINATION_MESSAGE_PATH: &str = "io.kubernetes.container.terminationMessagePath";
/// Container annotation: `terminationMessagePolicy`.
pub const TERMINATION_MESSAGE_POLICY: &str = "io.kubernetes.container.terminationMessagePolicy";
/// Container annotation: the container's preStop handler, as JSON.
pub const PRE_STOP_HANDLER: &str = "io.kubernetes.container.preStopHandler";
/// Container annotation: the container's ports, as JSON.
pub const CONTAINER_PORTS: &str = "io.kubernetes.container.ports";
/// Container annotation: the pod's `deletionGracePeriodSeconds`, when set.
pub const POD_DELETION_GRACE_PERIOD: &str = "io.kubernetes.pod.deletionGracePeriod";
/// Container annotation: the pod's `terminationGracePeriodSeconds`.
pub const POD_TERMINATION_GRACE_PERIOD: &str = "io.kubernetes.pod.terminationGracePeriod";

/// Sandbox annotation (nodelet's own): the pod's `status.startTime` (RFC 3339) when the
/// sandbox was created, so an agent restarted without an API server (static pods in
/// standalone mode) reports the pod's first start time instead of the time it adopted the
/// pod. The kubelet keeps no such record: in standalone mode its status manager forgets the
/// start time with the process, and a restarted kubelet reports the restart.
pub const POD_START_TIME: &str = "nodelet.io/pod-start-time";

/// Sandbox label (nodelet's own): the name of the node whose agent created the sandbox.
///
/// The kubelet assumes it is alone on its runtime and kills every sandbox it does not know.
/// nodelet removes as orphans only sandboxes carrying its own node name here, so several
/// agents (or an agent and its tests) can share one containerd without killing each other's
/// pods; a restarted agent with the same node name still finds and cleans up its own.
pub const NODE_NAME: &str = "nodelet.io/node-name";

/// Pod annotation: the source a pod came from (`file`, `http`, `api`); a pod from any source
/// but the API server is a static pod (`kubetypes.ConfigSourceAnnotationKey`).
pub const CONFIG_SOURCE_ANNOTATION: &str = "kubernetes.io/config.source";
/// Pod annotation: the hash of a static pod's configuration, which for a file source is also
/// its UID (`kubetypes.ConfigHashAnnotationKey`).
pub const CONFIG_HASH_ANNOTATION: &str = "kubernetes.io/config.hash";
/// Pod annotation: when the agent first saw the pod (`kubetypes.ConfigFirstSeenAnnotationKey`).
pub const CONFIG_SEEN_ANNOTATION: &str = "kubernetes.io/config.seen";
/// Pod annotation that makes a pod a mirror pod, valued with its static pod's
/// [`CONFIG_HASH_ANNOTATION`] (`v1.MirrorPodAnnotationKey`).
pub const CONFIG_MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// The [`CONFIG_SOURCE_ANNOTATION`] of pods from the API server (`kubetypes.ApiserverSource`).
pub const API_SOURCE: &str = "api";
/// The [`CONFIG_SOURCE_ANNOTATION`] of static pods from manifest files (`kubetypes.FileSource`).
pub const FILE_SOURCE: &str = "file";
