//! Feature gates (`featureGates` in the `KubeletConfiguration`): every gate the kubelet
//! v1.37 knows, what nodelet does with each, and the kubelet's rules for setting them
//! (component-base's `featuregate.SetFromMap`).
//!
//! The kubelet refuses a gate it does not know ("unrecognized feature gate: X"), a gate
//! locked to its default set to the other value ("cannot set feature gate X to false,
//! feature is locked to true"), and an enabled gate whose dependencies are disabled. nodelet
//! refuses the same maps with the same messages, so a config file that one accepts the other
//! accepts too.
//!
//! What nodelet does with a gate is in [`GateUse`]: a few gates are **honoured** (they change
//! what nodelet does, see [`KNOWN_FEATURE_GATES`] and `docs/feature-gates.md`); the other
//! gates the kubelet reads are accepted and **not read** (nodelet behaves the same whatever
//! their value, and says so in a warning when one is set away from its default); the rest
//! belong to other components and change nothing on a node.
//!
//! ```
//! use std::collections::BTreeMap;
//! use agent::config::{FeatureGates, feature_gates};
//!
//! let gates = FeatureGates::new(&BTreeMap::from([
//!     ("ReduceDefaultCrashLoopBackOffDecay".to_string(), true),
//! ]))
//! .unwrap();
//! assert!(gates.enabled(feature_gates::REDUCE_DEFAULT_CRASH_LOOP_BACK_OFF_DECAY));
//! assert!(gates.enabled(feature_gates::KUBELET_CRASH_LOOP_BACK_OFF_MAX)); // on by default
//!
//! let err = FeatureGates::new(&BTreeMap::from([("NoSuchGate".to_string(), true)]));
//! assert_eq!(err.unwrap_err(), "unrecognized feature gate: NoSuchGate");
//! ```

use std::collections::BTreeMap;
use std::fmt;

/// `AllAlpha`: sets every alpha gate not set explicitly.
pub const ALL_ALPHA: &str = "AllAlpha";
/// `AllBeta`: sets every beta gate not set explicitly.
pub const ALL_BETA: &str = "AllBeta";
/// `AtomicWriteVolumeUserFields` (alpha, off).
pub const ATOMIC_WRITE_VOLUME_USER_FIELDS: &str = "AtomicWriteVolumeUserFields";
/// `CustomCPUCFSQuotaPeriod` (GA, on, not locked).
pub const CUSTOM_CPU_CFS_QUOTA_PERIOD: &str = "CustomCPUCFSQuotaPeriod";
/// `GracefulNodeShutdown` (beta, on).
pub const GRACEFUL_NODE_SHUTDOWN: &str = "GracefulNodeShutdown";
/// `KubeletCrashLoopBackOffMax` (beta, on).
pub const KUBELET_CRASH_LOOP_BACK_OFF_MAX: &str = "KubeletCrashLoopBackOffMax";
/// `ReduceDefaultCrashLoopBackOffDecay` (alpha, off).
pub const REDUCE_DEFAULT_CRASH_LOOP_BACK_OFF_DECAY: &str = "ReduceDefaultCrashLoopBackOffDecay";

/// How mature a gate is in Kubernetes v1.37 (component-base's `prerelease`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Alpha: off by default, may change or go away.
    Alpha,
    /// Beta: usually on by default.
    Beta,
    /// Generally available: on, often locked.
    Ga,
    /// Deprecated: on its way out, often locked.
    Deprecated,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Alpha => "Alpha",
            Stage::Beta => "Beta",
            Stage::Ga => "GA",
            Stage::Deprecated => "Deprecated",
        })
    }
}

/// What nodelet does with a gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GateUse {
    /// nodelet reads the gate: its value changes what nodelet does, as the text says.
    Honoured(&'static str),
    /// The kubelet reads this gate; nodelet does not, and behaves the same whatever its
    /// value. Setting it away from its default is accepted, with a warning at start-up.
    NotRead,
    /// A gate of other components (API server, controllers, scheduler, kube-proxy): the
    /// kubelet accepts it and nothing on the node changes, in the kubelet or in nodelet.
    NoNodeEffect,
}

/// One gate the kubelet v1.37 knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FeatureGateSpec {
    /// The gate's name, as written in `featureGates`.
    pub name: &'static str,
    /// Its default in v1.37.
    pub default: bool,
    /// Whether it is locked to its default (setting the other value is refused).
    pub locked: bool,
    /// Its stage in v1.37.
    pub stage: Stage,
    /// What nodelet does with it.
    pub nodelet: GateUse,
}

const fn spec(
    name: &'static str,
    default: bool,
    locked: bool,
    stage: Stage,
    nodelet: GateUse,
) -> FeatureGateSpec {
    FeatureGateSpec {
        name,
        default,
        locked,
        stage,
        nodelet,
    }
}

/// How nodelet honours each gate it reads; the texts of [`GateUse::Honoured`].
pub mod use_text {
    /// [`super::ALL_ALPHA`].
    pub const ALL_ALPHA: &str = "sets every alpha gate not set explicitly (as the kubelet does), \
        so the honoured alpha gates below follow it";
    /// [`super::ALL_BETA`].
    pub const ALL_BETA: &str = "sets every beta gate not set explicitly (as the kubelet does), \
        so the honoured beta gates below follow it";
    /// [`super::ATOMIC_WRITE_VOLUME_USER_FIELDS`].
    pub const ATOMIC_WRITE_VOLUME_USER_FIELDS: &str = "configMap, secret, downwardAPI and \
        projected volume files get the owner of `defaultUser` / `items[].user`; off, the \
        fields are ignored";
    /// [`super::CUSTOM_CPU_CFS_QUOTA_PERIOD`].
    pub const CUSTOM_CPU_CFS_QUOTA_PERIOD: &str = "a `cpuCFSQuotaPeriod` other than 100ms is \
        used for container and pod CPU quotas; off, such a value is refused at start-up";
    /// [`super::GRACEFUL_NODE_SHUTDOWN`].
    pub const GRACEFUL_NODE_SHUTDOWN: &str = "`shutdownGracePeriod` and \
        `shutdownGracePeriodCriticalPods` (zero or at least 1s) terminate the pods when nodelet \
        stops; off, setting them is refused at start-up";
    /// [`super::KUBELET_CRASH_LOOP_BACK_OFF_MAX`].
    pub const KUBELET_CRASH_LOOP_BACK_OFF_MAX: &str = "`crashLoopBackOff.maxContainerRestartPeriod` \
        (1s to 300s, default 300s) caps the container restart back-off, and is also its first \
        delay when shorter than that; off, setting it is refused at start-up";
    /// [`super::REDUCE_DEFAULT_CRASH_LOOP_BACK_OFF_DECAY`].
    pub const REDUCE_DEFAULT_CRASH_LOOP_BACK_OFF_DECAY: &str = "the container restart back-off \
        starts at 1s instead of 10s and its cap is 60s, unless `maxContainerRestartPeriod` (on \
        by default, 300s) sets the cap";
}

use GateUse::{Honoured, NoNodeEffect, NotRead};
use Stage::{Alpha, Beta, Deprecated, Ga};

/// Every gate the kubelet v1.37.2 knows (its `DefaultMutableFeatureGate` after start-up:
/// Kubernetes', client-go's, component-base's logging, metrics and zpages gates), sorted by
/// name: the default, whether it is locked, its stage, and what nodelet does with it.
pub const KNOWN_FEATURE_GATES: &[FeatureGateSpec] = &[
    spec("APIResponseCompression", true, false, Beta, NoNodeEffect),
    spec("APIServerIdentity", true, false, Beta, NoNodeEffect),
    spec(
        "APIServerWebhookAuthenticationToken",
        false,
        false,
        Alpha,
        NoNodeEffect,
    ),
    spec("APIServingWithRoutine", false, false, Alpha, NoNodeEffect),
    spec(
        "AggregatedDiscoveryRemoveBetaType",
        true,
        true,
        Deprecated,
        NoNodeEffect,
    ),
    spec(
        "AllAlpha",
        false,
        false,
        Alpha,
        Honoured(use_text::ALL_ALPHA),
    ),
    spec("AllBeta", false, false, Beta, Honoured(use_text::ALL_BETA)),
    spec("AllowDNSOnlyNodeCSR", false, false, Deprecated, NotRead),
    spec(
        "AllowInsecureKubeletCertificateSigningRequests",
        false,
        false,
        Deprecated,
        NoNodeEffect,
    ),
    spec(
        "AllowOverwriteTerminationGracePeriodSeconds",
        false,
        true,
        Deprecated,
        NoNodeEffect,
    ),
    spec(
        "AllowParsingUserUIDFromCertAuth",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("AllowServiceExternalIPs", true, false, Ga, NoNodeEffect),
    spec(
        "AllowUnsafeMalformedObjectDeletion",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("AtomicFIFO", true, false, Beta, NotRead),
    spec(
        "AtomicWriteVolumeUserFields",
        false,
        false,
        Alpha,
        Honoured(use_text::ATOMIC_WRITE_VOLUME_USER_FIELDS),
    ),
    spec(
        "AuthorizePodWebsocketUpgradeCreatePermission",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("CBORServingAndStorage", false, false, Alpha, NoNodeEffect),
    spec("CPUManagerPolicyAlphaOptions", false, false, Alpha, NotRead),
    spec("CPUManagerPolicyBetaOptions", true, false, Beta, NotRead),
    spec("CPUManagerPolicyOptions", true, true, Ga, NotRead),
    spec(
        "CRDObservedGenerationTracking",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("CRDValidationRatcheting", true, true, Ga, NoNodeEffect),
    spec("CRIListStreaming", false, false, Alpha, NotRead),
    spec(
        "CSIServiceAccountTokenSecrets",
        true,
        true,
        Ga,
        NoNodeEffect,
    ),
    spec("CSIVolumeHealth", false, false, Alpha, NotRead),
    spec(
        "ChangeContainerStatusOnKubeletRestart",
        false,
        false,
        Deprecated,
        NotRead,
    ),
    spec(
        "ClearingNominatedNodeNameAfterBinding",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("ClientsAllowCARotation", true, false, Beta, NotRead),
    spec("ClientsAllowCBOR", false, false, Alpha, NotRead),
    spec("ClientsAllowTLSCacheGC", true, false, Beta, NotRead),
    spec("ClientsPreferCBOR", false, false, Alpha, NotRead),
    spec(
        "CloudControllerManagerWatchBasedRoutesReconciliation",
        false,
        false,
        Alpha,
        NoNodeEffect,
    ),
    spec(
        "CloudControllerManagerWebhook",
        false,
        false,
        Alpha,
        NoNodeEffect,
    ),
    spec("ClusterTrustBundle", true, false, Ga, NotRead),
    spec("ClusterTrustBundleProjection", true, false, Ga, NotRead),
    spec("ComponentFlagz", true, false, Beta, NotRead),
    spec("ComponentStatusz", true, false, Beta, NotRead),
    spec("CompositePodGroup", false, false, Alpha, NoNodeEffect),
    spec(
        "ConcurrentWatchObjectDecode",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec(
        "ConsistentListFromCacheSkipTimeoutFallback",
        false,
        false,
        Alpha,
        NoNodeEffect,
    ),
    spec("ConstrainedImpersonation", true, false, Beta, NoNodeEffect),
    spec("ContainerCheckpoint", true, false, Beta, NotRead),
    spec("ContainerRestartRules", true, false, Beta, NotRead),
    spec("ContainerStopSignals", false, false, Alpha, NotRead),
    spec("ContextualLogging", true, false, Beta, NotRead),
    spec(
        "ControllerManagerReleaseLeaderElectionLockOnExit",
        false,
        false,
        Alpha,
        NoNodeEffect,
    ),
    spec(
        "CoordinatedLeaderElection",
        false,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec(
        "CrossNamespaceVolumeDataSource",
        false,
        false,
        Alpha,
        NoNodeEffect,
    ),
    spec(
        "CustomCPUCFSQuotaPeriod",
        true,
        false,
        Ga,
        Honoured(use_text::CUSTOM_CPU_CFS_QUOTA_PERIOD),
    ),
    spec("CustomResourceFieldSelectors", true, true, Ga, NoNodeEffect),
    spec("DRAAdminAccess", true, true, Ga, NoNodeEffect),
    spec("DRAConsumableCapacity", true, false, Beta, NoNodeEffect),
    spec("DRADerivedAttributes", false, false, Alpha, NoNodeEffect),
    spec(
        "DRADeviceBindingConditions",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec(
        "DRADeviceCompatibilityGroups",
        false,
        false,
        Alpha,
        NoNodeEffect,
    ),
    spec("DRADeviceTaintRules", true, false, Ga, NoNodeEffect),
    spec("DRADeviceTaints", true, false, Ga, NoNodeEffect),
    spec("DRAExtendedResource", true, true, Ga, NotRead),
    spec(
        "DRAFractionalCapacityRange",
        false,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("DRAListTypeAttributes", false, false, Alpha, NoNodeEffect),
    spec("DRANodeAllocatableResources", false, false, Alpha, NotRead),
    spec("DRAOptionalNodeOperations", false, false, Alpha, NotRead),
    spec("DRAPartitionableDevices", true, false, Beta, NoNodeEffect),
    spec(
        "DRAPartitionableDevicesType",
        false,
        false,
        Alpha,
        NoNodeEffect,
    ),
    spec("DRAPrioritizedList", true, true, Ga, NoNodeEffect),
    spec("DRAResourceClaimDeviceStatus", true, true, Ga, NoNodeEffect),
    spec(
        "DRAResourceClaimGranularStatusAuthorization",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("DRAResourcePoolStatus", false, false, Alpha, NoNodeEffect),
    spec("DRASchedulerFilterTimeout", true, false, Beta, NoNodeEffect),
    spec("DRAWorkloadResourceClaims", false, false, Beta, NotRead),
    spec("DeclarativeValidation", true, true, Ga, NoNodeEffect),
    spec("DeclarativeValidationBeta", true, false, Beta, NoNodeEffect),
    spec(
        "DeclarativeValidationTakeover",
        false,
        true,
        Deprecated,
        NoNodeEffect,
    ),
    spec("DefaultPodSysctls", false, false, Alpha, NotRead),
    spec(
        "DeploymentReplicaSetTerminatingReplicas",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("DetectCacheInconsistency", true, false, Beta, NoNodeEffect),
    spec("DisableAllocatorDualWrite", true, true, Ga, NoNodeEffect),
    spec(
        "DisableCPUQuotaWithExclusiveCPUs",
        true,
        true,
        Deprecated,
        NotRead,
    ),
    spec(
        "DisableNodeKubeProxyVersion",
        true,
        true,
        Deprecated,
        NotRead,
    ),
    spec("DynamicResourceAllocation", true, true, Ga, NotRead),
    spec("EmptyDirVolumeMode", false, false, Alpha, NotRead),
    spec("EnvFiles", true, false, Beta, NotRead),
    spec("EtcdRangeStream", true, false, Beta, NoNodeEffect),
    spec("EventedPLEG", false, false, Alpha, NotRead),
    spec("EvictionRequestAPI", false, false, Alpha, NoNodeEffect),
    spec(
        "ExcludeAdmissionWebhookVirtualResources",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("ExecProbeTimeout", true, true, Ga, NoNodeEffect),
    spec("ExtendWebSocketsToKubelet", true, false, Beta, NotRead),
    spec(
        "ExternalServiceAccountTokenSigner",
        true,
        true,
        Ga,
        NoNodeEffect,
    ),
    spec("GRPCContainerProbeTLS", false, false, Alpha, NotRead),
    spec("GenericWorkload", false, false, Beta, NoNodeEffect),
    spec("GitRepoVolumeDriver", false, true, Deprecated, NotRead),
    spec(
        "GracefulNodeShutdown",
        true,
        false,
        Beta,
        Honoured(use_text::GRACEFUL_NODE_SHUTDOWN),
    ),
    spec(
        "GracefulNodeShutdownBasedOnPodPriority",
        true,
        false,
        Beta,
        NotRead,
    ),
    spec("H2CContainerProbe", false, false, Alpha, NotRead),
    spec("HPAConfigurableTolerance", true, true, Ga, NoNodeEffect),
    spec("HPAGeneration", true, false, Beta, NoNodeEffect),
    spec("HPAOptimizedSelectorStore", true, false, Beta, NoNodeEffect),
    spec("HPAScaleToZero", true, false, Beta, NoNodeEffect),
    spec("HostnameOverride", true, true, Ga, NotRead),
    spec("HugepageAwareEviction", true, false, Beta, NotRead),
    spec("ImageMaximumGCAge", true, true, Ga, NotRead),
    spec("ImageVolume", true, true, Ga, NotRead),
    spec("ImageVolumeWithDigest", false, false, Alpha, NotRead),
    spec("InOrderInformers", true, true, Ga, NotRead),
    spec("InOrderInformersBatchProcess", true, false, Beta, NotRead),
    spec(
        "InPlacePodLevelResourcesVerticalScaling",
        true,
        false,
        Beta,
        NotRead,
    ),
    spec("InPlacePodVerticalScaling", true, true, Ga, NotRead),
    spec(
        "InPlacePodVerticalScalingExclusiveCPUs",
        false,
        false,
        Alpha,
        NotRead,
    ),
    spec(
        "InPlacePodVerticalScalingExclusiveMemory",
        false,
        false,
        Alpha,
        NotRead,
    ),
    spec(
        "InPlacePodVerticalScalingInitContainers",
        true,
        true,
        Ga,
        NotRead,
    ),
    spec(
        "InPlacePodVerticalScalingMemoryBackedVolumes",
        false,
        false,
        Alpha,
        NotRead,
    ),
    spec(
        "InPlacePodVerticalScalingSchedulerPreemption",
        false,
        false,
        Alpha,
        NotRead,
    ),
    spec("InformerResourceVersion", true, false, Ga, NotRead),
    spec(
        "InterPodAffinityHostnameFastPath",
        false,
        false,
        Alpha,
        NoNodeEffect,
    ),
    spec("JobManagedBy", true, true, Ga, NoNodeEffect),
    spec("KMSv1", false, false, Deprecated, NoNodeEffect),
    spec("KubeProxyIPVS", true, false, Deprecated, NoNodeEffect),
    spec(
        "KubeProxyNFTablesLocalhostNodePorts",
        false,
        false,
        Alpha,
        NoNodeEffect,
    ),
    spec("KubeletAllocatedPodsEndpoint", false, false, Alpha, NotRead),
    spec("KubeletCgroupDriverFromCRI", true, true, Ga, NoNodeEffect),
    spec(
        "KubeletCrashLoopBackOffMax",
        true,
        false,
        Beta,
        Honoured(use_text::KUBELET_CRASH_LOOP_BACK_OFF_MAX),
    ),
    spec(
        "KubeletEnsureSecretPulledImages",
        true,
        false,
        Beta,
        NotRead,
    ),
    spec("KubeletFineGrainedAuthz", true, true, Ga, NotRead),
    spec("KubeletInUserNamespace", true, false, Beta, NotRead),
    spec("KubeletPSI", true, true, Ga, NotRead),
    spec(
        "KubeletPodResourcesDynamicResources",
        true,
        true,
        Ga,
        NoNodeEffect,
    ),
    spec("KubeletPodResourcesGet", true, true, Ga, NotRead),
    spec(
        "KubeletPodResourcesListUseActivePods",
        true,
        false,
        Deprecated,
        NotRead,
    ),
    spec(
        "KubeletRegistrationGetOnExistsOnly",
        false,
        false,
        Deprecated,
        NotRead,
    ),
    spec("KubeletSeparateDiskGC", true, false, Beta, NotRead),
    spec(
        "KubeletServiceAccountTokenForCredentialProviders",
        true,
        false,
        Beta,
        NotRead,
    ),
    spec("KubeletTracing", true, true, Ga, NoNodeEffect),
    spec("ListFromCacheSnapshot", true, false, Beta, NoNodeEffect),
    spec(
        "LocalStorageCapacityIsolationFSQuotaMonitoring",
        false,
        false,
        Beta,
        NotRead,
    ),
    spec("LoggingAlphaOptions", false, false, Alpha, NotRead),
    spec("LoggingBetaOptions", true, false, Beta, NotRead),
    spec(
        "ManifestBasedAdmissionControlConfig",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("MatchLabelKeysInPodAffinity", true, true, Ga, NoNodeEffect),
    spec(
        "MatchLabelKeysInPodTopologySpread",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec(
        "MatchLabelKeysInPodTopologySpreadSelectorMerge",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("MaxUnavailableStatefulSet", true, false, Beta, NoNodeEffect),
    spec("MemoryQoS", true, false, Beta, NotRead),
    spec("MultiCIDRServiceAllocator", true, true, Ga, NoNodeEffect),
    spec("MutableCSINodeAllocatableCount", true, true, Ga, NotRead),
    spec("MutablePVNodeAffinity", false, false, Alpha, NoNodeEffect),
    spec(
        "MutablePodResourcesForSuspendedJobs",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec(
        "MutableSchedulingDirectivesForSuspendedJobs",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("MutatingAdmissionPolicy", true, false, Ga, NoNodeEffect),
    spec("NFTablesNetlink", true, false, Beta, NoNodeEffect),
    spec("NFTablesProxyMode", true, true, Ga, NoNodeEffect),
    spec("NativeHistograms", true, false, Beta, NotRead),
    spec(
        "NodeControllerLeaseCircuitBreaker",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("NodeDeclaredFeatures", true, true, Ga, NotRead),
    spec(
        "NodeInclusionPolicyInPodTopologySpread",
        true,
        true,
        Ga,
        NoNodeEffect,
    ),
    spec("NodeLifecycleConditions", false, false, Alpha, NoNodeEffect),
    spec("NodeLogQuery", true, true, Ga, NotRead),
    spec("NodeSwap", true, true, Ga, NotRead),
    spec(
        "NominatedNodeNameForExpectation",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("OpenAPIEnums", true, false, Beta, NoNodeEffect),
    spec("OpportunisticBatching", true, false, Beta, NoNodeEffect),
    spec("PLEGOnDemandRelist", true, true, Ga, NotRead),
    spec(
        "PersistentVolumeClaimUnusedSinceTime",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("PodAndContainerStatsFromCRI", false, false, Beta, NotRead),
    spec("PodCertificateRequest", true, false, Ga, NotRead),
    spec("PodDeletionCost", true, false, Beta, NoNodeEffect),
    spec(
        "PodGroupPreemptionPolicy",
        false,
        false,
        Alpha,
        NoNodeEffect,
    ),
    spec("PodLevelResourceManagers", false, false, Beta, NotRead),
    spec("PodLevelResources", true, false, Beta, NotRead),
    spec(
        "PodLevelResourcesFixDefaulting",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec(
        "PodLevelResourcesFixKubeletQOSClass",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("PodLogsQuerySplitStreams", false, false, Alpha, NotRead),
    spec(
        "PodObservedGenerationTracking",
        true,
        true,
        Ga,
        NoNodeEffect,
    ),
    spec(
        "PodReadyToStartContainersCondition",
        true,
        true,
        Ga,
        NotRead,
    ),
    spec("PodSchedulingReadiness", true, true, Ga, NoNodeEffect),
    spec(
        "PodTopologyLabelsAdmission",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("PodsAPI", true, false, Beta, NotRead),
    spec("PortForwardWebsockets", true, false, Beta, NoNodeEffect),
    spec(
        "PreferSameTrafficDistribution",
        true,
        true,
        Ga,
        NoNodeEffect,
    ),
    spec("ProcMountType", true, true, Ga, NotRead),
    spec("QOSReserved", false, false, Alpha, NotRead),
    spec("RecoverVolumeExpansionFailure", true, true, Ga, NotRead),
    spec("RecursiveReadOnlyMounts", true, true, Ga, NotRead),
    spec(
        "ReduceDefaultCrashLoopBackOffDecay",
        false,
        false,
        Alpha,
        Honoured(use_text::REDUCE_DEFAULT_CRASH_LOOP_BACK_OFF_DECAY),
    ),
    spec(
        "RelaxedEnvironmentVariableValidation",
        true,
        true,
        Ga,
        NoNodeEffect,
    ),
    spec("RelaxedServiceNameValidation", true, true, Ga, NoNodeEffect),
    spec("ReloadKubeletClientCAFile", true, false, Beta, NotRead),
    spec(
        "ReloadKubeletServerCertificateFile",
        true,
        false,
        Beta,
        NotRead,
    ),
    spec("RemoteRequestHeaderUID", true, false, Beta, NoNodeEffect),
    spec("ResourceHealthStatus", true, false, Beta, NotRead),
    spec("ResourceHealthStatusMessage", true, false, Beta, NotRead),
    spec(
        "RestartAllContainersOnContainerExits",
        true,
        false,
        Beta,
        NotRead,
    ),
    spec("RotateKubeletServerCertificate", true, false, Beta, NotRead),
    spec("RuntimeClassInImageCriApi", false, false, Alpha, NotRead),
    spec("SELinuxChangePolicy", true, true, Ga, NotRead),
    spec("SELinuxMount", true, false, Ga, NotRead),
    spec("SELinuxMountReadWriteOncePod", true, true, Ga, NotRead),
    spec("SchedulerAsyncAPICalls", false, false, Beta, NoNodeEffect),
    spec("SchedulerAsyncPreemption", true, false, Beta, NoNodeEffect),
    spec("SchedulerPopFromBackoffQ", true, false, Beta, NoNodeEffect),
    spec(
        "SchedulerPreQueueingHints",
        false,
        false,
        Alpha,
        NoNodeEffect,
    ),
    spec(
        "SeparateCacheWatchRPC",
        false,
        true,
        Deprecated,
        NoNodeEffect,
    ),
    spec(
        "SeparateTaintEvictionController",
        true,
        true,
        Ga,
        NoNodeEffect,
    ),
    spec(
        "ServiceAccountNodeAudienceRestriction",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("ServiceAccountTokenJTI", true, true, Ga, NoNodeEffect),
    spec(
        "ServiceAccountTokenNodeBinding",
        true,
        true,
        Ga,
        NoNodeEffect,
    ),
    spec(
        "ServiceAccountTokenNodeBindingValidation",
        true,
        true,
        Ga,
        NoNodeEffect,
    ),
    spec(
        "ServiceAccountTokenPodNodeInfo",
        true,
        true,
        Ga,
        NoNodeEffect,
    ),
    spec(
        "ServiceCIDRStatusFieldWiping",
        true,
        false,
        Deprecated,
        NoNodeEffect,
    ),
    spec("ShardedListAndWatch", false, false, Alpha, NoNodeEffect),
    spec("SizeBasedListCostEstimate", true, false, Beta, NoNodeEffect),
    spec(
        "StaleControllerConsistencyDaemonSet",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec(
        "StaleControllerConsistencyHPA",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec(
        "StaleControllerConsistencyJob",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec(
        "StaleControllerConsistencyReplicaSet",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec(
        "StaleControllerConsistencyStatefulSet",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec(
        "StatefulSetRecreateStrategy",
        false,
        false,
        Alpha,
        NoNodeEffect,
    ),
    spec(
        "StatefulSetSemanticRevisionComparison",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("StorageCapacityScoring", true, false, Beta, NoNodeEffect),
    spec(
        "StorageNamespaceIndex",
        true,
        false,
        Deprecated,
        NoNodeEffect,
    ),
    spec("StorageVersionAPI", false, false, Alpha, NoNodeEffect),
    spec("StorageVersionHash", true, false, Beta, NoNodeEffect),
    spec("StorageVersionMigrator", true, false, Ga, NoNodeEffect),
    spec("StrictIPCIDRValidation", true, false, Beta, NoNodeEffect),
    spec(
        "StructuredAuthenticationConfigurationEgressSelector",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec(
        "StructuredAuthenticationConfigurationJWKSMetrics",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("SupplementalGroupsPolicy", true, true, Ga, NotRead),
    spec("SystemdWatchdog", true, true, Ga, NoNodeEffect),
    spec(
        "TaintTolerationComparisonOperators",
        false,
        false,
        Alpha,
        NotRead,
    ),
    spec(
        "TokenRequestServiceAccountUIDValidation",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec(
        "TopologyAwareWorkloadScheduling",
        false,
        false,
        Alpha,
        NoNodeEffect,
    ),
    spec(
        "TopologyManagerPolicyAlphaOptions",
        false,
        false,
        Alpha,
        NotRead,
    ),
    spec(
        "TopologyManagerPolicyBetaOptions",
        true,
        false,
        Beta,
        NotRead,
    ),
    spec("TopologyManagerPolicyOptions", true, true, Ga, NotRead),
    spec(
        "TranslateStreamCloseWebsocketRequests",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec(
        "UnauthenticatedHTTP2DOSMitigation",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec(
        "UnknownVersionInteroperabilityProxy",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("UnlockWhileProcessingFIFO", true, false, Beta, NotRead),
    spec(
        "UserNamespacesHostNetworkSupport",
        false,
        false,
        Alpha,
        NoNodeEffect,
    ),
    spec("UserNamespacesSupport", true, true, Ga, NotRead),
    spec("VolumeAttributesClass", true, true, Ga, NoNodeEffect),
    spec("VolumeBindMountOptions", false, false, Alpha, NoNodeEffect),
    spec("VolumeLimitScaling", true, false, Beta, NoNodeEffect),
    spec(
        "WatchCacheInitializationPostStartHook",
        true,
        true,
        Ga,
        NoNodeEffect,
    ),
    spec("WatchList", true, false, Beta, NoNodeEffect),
    spec("WatchListClient", true, false, Beta, NotRead),
    spec("WatchListCompression", true, false, Beta, NoNodeEffect),
    spec(
        "WebhookRoundTripLoadBalancing",
        true,
        false,
        Beta,
        NoNodeEffect,
    ),
    spec("WinDSR", true, true, Ga, NoNodeEffect),
    spec("WinOverlay", true, true, Ga, NoNodeEffect),
    spec("WindowsCPUAndMemoryAffinity", false, false, Alpha, NotRead),
    spec("WindowsGracefulNodeShutdown", true, false, Beta, NotRead),
    spec("WindowsHostNetwork", false, false, Deprecated, NoNodeEffect),
    spec("WorkloadWithJob", false, false, Alpha, NoNodeEffect),
];

/// The gates that need others enabled (the kubelet's `AddDependencies`): enabling the first
/// while one of the second is disabled is refused.
pub const FEATURE_GATE_DEPENDENCIES: &[(&str, &[&str])] = &[
    ("ClusterTrustBundleProjection", &["ClusterTrustBundle"]),
    (
        "CompositePodGroup",
        &["GenericWorkload", "TopologyAwareWorkloadScheduling"],
    ),
    ("DRAAdminAccess", &["DynamicResourceAllocation"]),
    ("DRAConsumableCapacity", &["DynamicResourceAllocation"]),
    ("DRADerivedAttributes", &["DynamicResourceAllocation"]),
    (
        "DRADeviceBindingConditions",
        &["DRAResourceClaimDeviceStatus", "DynamicResourceAllocation"],
    ),
    (
        "DRADeviceCompatibilityGroups",
        &["DRAPartitionableDevices", "DynamicResourceAllocation"],
    ),
    ("DRADeviceTaintRules", &["DRADeviceTaints"]),
    ("DRADeviceTaints", &["DynamicResourceAllocation"]),
    ("DRAExtendedResource", &["DynamicResourceAllocation"]),
    ("DRAFractionalCapacityRange", &["DRAConsumableCapacity"]),
    ("DRAListTypeAttributes", &["DynamicResourceAllocation"]),
    (
        "DRANodeAllocatableResources",
        &["DynamicResourceAllocation"],
    ),
    (
        "DRAOptionalNodeOperations",
        &["DynamicResourceAllocation", "NodeDeclaredFeatures"],
    ),
    ("DRAPartitionableDevices", &["DynamicResourceAllocation"]),
    (
        "DRAPartitionableDevicesType",
        &[
            "DRAPartitionableDevices",
            "DRAResourcePoolStatus",
            "DynamicResourceAllocation",
        ],
    ),
    ("DRAPrioritizedList", &["DynamicResourceAllocation"]),
    (
        "DRAResourceClaimGranularStatusAuthorization",
        &["DRAResourceClaimDeviceStatus", "DynamicResourceAllocation"],
    ),
    ("DRAResourcePoolStatus", &["DynamicResourceAllocation"]),
    ("DRASchedulerFilterTimeout", &["DynamicResourceAllocation"]),
    (
        "DRAWorkloadResourceClaims",
        &["DynamicResourceAllocation", "GenericWorkload"],
    ),
    ("DeclarativeValidationBeta", &["DeclarativeValidation"]),
    ("DeclarativeValidationTakeover", &["DeclarativeValidation"]),
    ("DisableAllocatorDualWrite", &["MultiCIDRServiceAllocator"]),
    ("EventedPLEG", &["PLEGOnDemandRelist"]),
    ("ExtendWebSocketsToKubelet", &["NodeDeclaredFeatures"]),
    (
        "GracefulNodeShutdownBasedOnPodPriority",
        &["GracefulNodeShutdown"],
    ),
    ("H2CContainerProbe", &["NodeDeclaredFeatures"]),
    ("ImageVolumeWithDigest", &["ImageVolume"]),
    (
        "InPlacePodLevelResourcesVerticalScaling",
        &[
            "InPlacePodVerticalScaling",
            "NodeDeclaredFeatures",
            "PodLevelResources",
        ],
    ),
    (
        "InPlacePodVerticalScalingExclusiveCPUs",
        &["InPlacePodVerticalScaling"],
    ),
    (
        "InPlacePodVerticalScalingExclusiveMemory",
        &["InPlacePodVerticalScaling"],
    ),
    (
        "InPlacePodVerticalScalingInitContainers",
        &["InPlacePodVerticalScaling", "NodeDeclaredFeatures"],
    ),
    (
        "InPlacePodVerticalScalingMemoryBackedVolumes",
        &["InPlacePodVerticalScaling", "NodeDeclaredFeatures"],
    ),
    (
        "InPlacePodVerticalScalingSchedulerPreemption",
        &["InPlacePodVerticalScaling"],
    ),
    (
        "KubeletAllocatedPodsEndpoint",
        &["InPlacePodVerticalScaling"],
    ),
    (
        "MatchLabelKeysInPodTopologySpreadSelectorMerge",
        &["MatchLabelKeysInPodTopologySpread"],
    ),
    ("NodeControllerLeaseCircuitBreaker", &["AtomicFIFO"]),
    ("PodGroupPreemptionPolicy", &["GenericWorkload"]),
    ("PodLevelResourceManagers", &["PodLevelResources"]),
    ("PodLevelResourcesFixDefaulting", &["PodLevelResources"]),
    (
        "PodLevelResourcesFixKubeletQOSClass",
        &["PodLevelResources"],
    ),
    ("ProcMountType", &["UserNamespacesSupport"]),
    ("ResourceHealthStatus", &["DynamicResourceAllocation"]),
    ("ResourceHealthStatusMessage", &["ResourceHealthStatus"]),
    (
        "RestartAllContainersOnContainerExits",
        &["ContainerRestartRules", "NodeDeclaredFeatures"],
    ),
    (
        "ServiceAccountTokenNodeBinding",
        &["ServiceAccountTokenNodeBindingValidation"],
    ),
    ("StaleControllerConsistencyDaemonSet", &["AtomicFIFO"]),
    ("StaleControllerConsistencyHPA", &["AtomicFIFO"]),
    ("StaleControllerConsistencyJob", &["AtomicFIFO"]),
    ("StaleControllerConsistencyReplicaSet", &["AtomicFIFO"]),
    ("StaleControllerConsistencyStatefulSet", &["AtomicFIFO"]),
    ("StorageVersionAPI", &["APIServerIdentity"]),
    ("TopologyAwareWorkloadScheduling", &["GenericWorkload"]),
    (
        "UnknownVersionInteroperabilityProxy",
        &["APIServerIdentity"],
    ),
    (
        "UserNamespacesHostNetworkSupport",
        &["NodeDeclaredFeatures", "UserNamespacesSupport"],
    ),
    ("WindowsGracefulNodeShutdown", &["GracefulNodeShutdown"]),
    ("WorkloadWithJob", &["GenericWorkload"]),
];

/// The gate called `name`, if the kubelet knows it.
pub fn known_gate(name: &str) -> Option<&'static FeatureGateSpec> {
    KNOWN_FEATURE_GATES
        .binary_search_by(|gate| gate.name.cmp(name))
        .ok()
        .map(|i| &KNOWN_FEATURE_GATES[i])
}

/// The effective feature gates: the v1.37 defaults with a `featureGates` map applied, as the
/// kubelet's `SetFromMap` applies it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeatureGates {
    /// The gates whose value is not their default's source: those set in the map, and
    /// those `AllAlpha` / `AllBeta` set.
    set: BTreeMap<&'static str, bool>,
}

impl FeatureGates {
    /// The gates of a `featureGates` map, checked as the kubelet checks them:
    ///
    /// - an unknown name: `unrecognized feature gate: <name>` (the first one, by name);
    /// - a locked gate set to the other value: `cannot set feature gate <name> to <value>,
    ///   feature is locked to <default>`;
    /// - then, an enabled gate with a disabled dependency: `<name> is enabled, but depends on
    ///   features that are disabled: [<dep> ...]`.
    ///
    /// Several errors read as Go's aggregate error reads them: `[<first>, <second>]`.
    pub fn new(map: &BTreeMap<String, bool>) -> Result<Self, String> {
        let mut set = BTreeMap::new();
        let mut errors = Vec::new();
        let mut all_alpha = None;
        let mut all_beta = None;
        for (name, &value) in map {
            let Some(gate) = known_gate(name) else {
                // The kubelet stops at the first unknown gate.
                return Err(format!("unrecognized feature gate: {name}"));
            };
            if gate.locked && gate.default != value {
                errors.push(format!(
                    "cannot set feature gate {name} to {value}, feature is locked to {}",
                    gate.default
                ));
                continue;
            }
            match gate.name {
                ALL_ALPHA => all_alpha = Some(value),
                ALL_BETA => all_beta = Some(value),
                _ => {}
            }
            set.insert(gate.name, value);
        }
        if !errors.is_empty() {
            return Err(aggregate(errors));
        }
        // `setUnsetAlphaGates` / `setUnsetBetaGates`: an explicit value always wins.
        for (stage, value) in [(Alpha, all_alpha), (Beta, all_beta)] {
            let Some(value) = value else { continue };
            for gate in KNOWN_FEATURE_GATES {
                if gate.stage == stage && gate.name != ALL_ALPHA && gate.name != ALL_BETA {
                    set.entry(gate.name).or_insert(value);
                }
            }
        }
        let gates = FeatureGates { set };
        let errors: Vec<String> = FEATURE_GATE_DEPENDENCIES
            .iter()
            .filter(|(gate, _)| gates.enabled(gate))
            .filter_map(|(gate, deps)| {
                let disabled: Vec<&str> =
                    deps.iter().copied().filter(|d| !gates.enabled(d)).collect();
                (!disabled.is_empty()).then(|| {
                    format!(
                        "{gate} is enabled, but depends on features that are disabled: [{}]",
                        disabled.join(" ")
                    )
                })
            })
            .collect();
        if !errors.is_empty() {
            return Err(aggregate(errors));
        }
        Ok(gates)
    }

    /// Whether gate `name` is on: its value in the map (or from `AllAlpha` / `AllBeta`),
    /// else its v1.37 default. An unknown name is off.
    pub fn enabled(&self, name: &str) -> bool {
        match self.set.get(name) {
            Some(&value) => value,
            None => known_gate(name).is_some_and(|gate| gate.default),
        }
    }

    /// What deserves a warning at start-up: gates nodelet does not read set away from their
    /// default (nodelet behaves as it always does), and GA or deprecated gates set at all
    /// (the kubelet warns that they will be removed).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (&name, &value) in &self.set {
            let Some(gate) = known_gate(name) else {
                continue;
            };
            if gate.nodelet == NotRead && value != gate.default {
                warnings.push(format!(
                    "feature gate {name}={value} is accepted, but nodelet does not read it: \
                     what nodelet does is the same with either value"
                ));
            }
            match gate.stage {
                Ga => warnings.push(format!(
                    "setting GA feature gate {name}={value}. It will be removed in a future release."
                )),
                Deprecated => warnings.push(format!(
                    "setting deprecated feature gate {name}={value}. It will be removed in a future release."
                )),
                Alpha | Beta => {}
            }
        }
        warnings
    }
}

/// Go's `utilerrors.NewAggregate(errs).Error()`: one error as it is, several in brackets.
fn aggregate(mut errors: Vec<String>) -> String {
    errors.dedup();
    match errors.len() {
        1 => errors.remove(0),
        _ => format!("[{}]", errors.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gates(pairs: &[(&str, bool)]) -> Result<FeatureGates, String> {
        FeatureGates::new(
            &pairs
                .iter()
                .map(|(name, value)| (name.to_string(), *value))
                .collect(),
        )
    }

    #[test]
    fn the_table_is_sorted_and_names_every_honoured_gate() {
        assert!(
            KNOWN_FEATURE_GATES
                .windows(2)
                .all(|w| w[0].name < w[1].name)
        );
        assert_eq!(KNOWN_FEATURE_GATES.len(), 254);
        let honoured: Vec<&str> = KNOWN_FEATURE_GATES
            .iter()
            .filter(|g| matches!(g.nodelet, GateUse::Honoured(_)))
            .map(|g| g.name)
            .collect();
        assert_eq!(
            honoured,
            [
                ALL_ALPHA,
                ALL_BETA,
                ATOMIC_WRITE_VOLUME_USER_FIELDS,
                CUSTOM_CPU_CFS_QUOTA_PERIOD,
                GRACEFUL_NODE_SHUTDOWN,
                KUBELET_CRASH_LOOP_BACK_OFF_MAX,
                REDUCE_DEFAULT_CRASH_LOOP_BACK_OFF_DECAY,
            ]
        );
        for (gate, deps) in FEATURE_GATE_DEPENDENCIES {
            assert!(known_gate(gate).is_some(), "{gate}");
            assert!(deps.iter().all(|d| known_gate(d).is_some()), "{deps:?}");
        }
    }

    /// docs/feature-gates.md lists every gate nodelet honours and every gate it does not
    /// read, as the table says.
    #[test]
    fn the_docs_list_the_gates_as_the_table_does() {
        let doc = include_str!("../../../../docs/feature-gates.md");
        let (honoured, rest) = doc
            .split_once("## Gates the kubelet reads and nodelet does not")
            .unwrap();
        for gate in KNOWN_FEATURE_GATES {
            let row = format!("| `{}` |", gate.name);
            match gate.nodelet {
                GateUse::Honoured(_) => assert!(honoured.contains(&row), "{}", gate.name),
                GateUse::NotRead => assert!(rest.contains(&row), "{}", gate.name),
                GateUse::NoNodeEffect => assert!(!doc.contains(&row), "{}", gate.name),
            }
        }
    }

    #[test]
    fn defaults_of_v1_37() {
        let g = FeatureGates::default();
        assert!(g.enabled(KUBELET_CRASH_LOOP_BACK_OFF_MAX));
        assert!(!g.enabled(REDUCE_DEFAULT_CRASH_LOOP_BACK_OFF_DECAY));
        assert!(g.enabled(GRACEFUL_NODE_SHUTDOWN));
        assert!(g.enabled(CUSTOM_CPU_CFS_QUOTA_PERIOD));
        assert!(!g.enabled(ATOMIC_WRITE_VOLUME_USER_FIELDS));
        assert!(!g.enabled("NoSuchGate"));
        let locked = known_gate("ExecProbeTimeout").unwrap();
        assert!(locked.default && locked.locked && locked.stage == Stage::Ga);
    }

    #[test]
    fn unknown_gates_are_refused_as_the_kubelet_does() {
        assert_eq!(
            gates(&[("NoSuchGate", true)]).unwrap_err(),
            "unrecognized feature gate: NoSuchGate"
        );
        // Names are case-sensitive, as in the kubelet.
        assert_eq!(
            gates(&[("gracefulNodeShutdown", true)]).unwrap_err(),
            "unrecognized feature gate: gracefulNodeShutdown"
        );
        // The first unknown one stops the check.
        assert_eq!(
            gates(&[("Bogus", true), ("ExecProbeTimeout", false), ("Zzz", true)]).unwrap_err(),
            "unrecognized feature gate: Bogus"
        );
    }

    #[test]
    fn locked_gates_refuse_the_other_value() {
        assert_eq!(
            gates(&[("ExecProbeTimeout", false)]).unwrap_err(),
            "cannot set feature gate ExecProbeTimeout to false, feature is locked to true"
        );
        assert_eq!(
            gates(&[("AllowOverwriteTerminationGracePeriodSeconds", true)]).unwrap_err(),
            "cannot set feature gate AllowOverwriteTerminationGracePeriodSeconds to true, \
             feature is locked to false"
        );
        // Its own default is fine.
        assert!(gates(&[("ExecProbeTimeout", true)]).is_ok());
        // Several errors read as Go's aggregate.
        assert_eq!(
            gates(&[("ExecProbeTimeout", false), ("NodeSwap", false)]).unwrap_err(),
            "[cannot set feature gate ExecProbeTimeout to false, feature is locked to true, \
             cannot set feature gate NodeSwap to false, feature is locked to true]"
        );
    }

    #[test]
    fn dependencies_must_be_enabled() {
        assert_eq!(
            gates(&[("EventedPLEG", true), ("PLEGOnDemandRelist", true)]).map(|_| ()),
            Ok(())
        );
        assert_eq!(
            gates(&[
                ("GracefulNodeShutdown", false),
                ("WindowsGracefulNodeShutdown", false)
            ])
            .unwrap_err(),
            "GracefulNodeShutdownBasedOnPodPriority is enabled, but depends on features that \
             are disabled: [GracefulNodeShutdown]"
        );
        assert_eq!(
            gates(&[("GracefulNodeShutdown", false)]).unwrap_err(),
            "[GracefulNodeShutdownBasedOnPodPriority is enabled, but depends on features that \
             are disabled: [GracefulNodeShutdown], WindowsGracefulNodeShutdown is enabled, but \
             depends on features that are disabled: [GracefulNodeShutdown]]"
        );
        assert!(
            gates(&[
                ("GracefulNodeShutdown", false),
                ("GracefulNodeShutdownBasedOnPodPriority", false),
                ("WindowsGracefulNodeShutdown", false),
            ])
            .is_ok()
        );
    }

    #[test]
    fn all_alpha_sets_the_alpha_gates_not_set_explicitly() {
        // AllAlpha alone enables alpha gates whose beta dependencies are off: the kubelet
        // refuses that too.
        let err = gates(&[("AllAlpha", true)]).unwrap_err();
        assert!(err.contains("CompositePodGroup is enabled"), "{err}");
        let g = gates(&[("AllAlpha", true), ("AllBeta", true)]).unwrap();
        assert!(g.enabled(REDUCE_DEFAULT_CRASH_LOOP_BACK_OFF_DECAY));
        assert!(g.enabled(ATOMIC_WRITE_VOLUME_USER_FIELDS));
        let g = gates(&[
            ("AllAlpha", true),
            ("AllBeta", true),
            (REDUCE_DEFAULT_CRASH_LOOP_BACK_OFF_DECAY, false),
        ])
        .unwrap();
        assert!(!g.enabled(REDUCE_DEFAULT_CRASH_LOOP_BACK_OFF_DECAY));
        // AllBeta=false turns off the beta gates, honoured ones included.
        let g = gates(&[
            ("AllBeta", false),
            ("GracefulNodeShutdownBasedOnPodPriority", false),
        ])
        .unwrap();
        assert!(!g.enabled(KUBELET_CRASH_LOOP_BACK_OFF_MAX));
        assert!(!g.enabled(GRACEFUL_NODE_SHUTDOWN));
    }

    #[test]
    fn warnings_name_gates_nodelet_does_not_implement() {
        let g = gates(&[
            ("MemoryQoS", false),
            ("EventedPLEG", false),
            ("WatchList", false),
            (CUSTOM_CPU_CFS_QUOTA_PERIOD, true),
        ])
        .unwrap();
        assert_eq!(
            g.warnings(),
            [
                "setting GA feature gate CustomCPUCFSQuotaPeriod=true. It will be removed in a \
                 future release.",
                "feature gate MemoryQoS=false is accepted, but nodelet does not read it: what \
                 nodelet does is the same with either value",
            ]
        );
    }
}
