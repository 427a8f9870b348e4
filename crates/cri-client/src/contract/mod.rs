//! The contract suite: one set of tests for any [`RuntimeService`] + [`ImageService`].
//!
//! [`FakeRuntime`] is only trusted because it behaves like containerd. This suite pins that
//! down: every case runs against the fake (`tests/contract_fake.rs`, plain `cargo test`) and
//! against a real containerd (`tests/contract_containerd.rs`, with the environment of
//! `cargo xtask setup`), with the same names and the same assertions. When the two disagree,
//! the real runtime is right and the fake is fixed.
//!
//! The cases use only real busybox commands whose behaviour the fake reproduces (see the
//! [process model](crate::fake#the-process-model)), so a case never needs to know which
//! implementation it runs against. Time is the one difference: where a case waits, it
//! sleeps on a real runtime and advances the [`FakeClock`] on the fake.
//!
//! Every case cleans up after itself, also when an assertion fails. All its sandboxes carry
//! a label unique to the case and run, and they are stopped and removed at the end. On a real
//! runtime, the pod cgroups under [`ContractEnv::cgroup_parent_base`] are removed too, since
//! runc leaves them behind; the (empty) base is left for the environment's teardown, because
//! removing it would race with other cases creating theirs.
//!
//! To run the suite against another implementation, write an async function that returns a
//! [`ContractTarget`] (or `None` to skip) and expand [`contract_tests!`](crate::contract_tests)
//! with it:
//!
//! ```
//! use cri_client::contract::ContractTarget;
//!
//! async fn target() -> Option<ContractTarget> {
//!     Some(ContractTarget::fake())
//! }
//!
//! cri_client::contract_tests!(target);
//! # fn main() {}
//! ```

mod cases;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::fake::{BUSYBOX_IMAGE, FakeClock, FakeRuntime};
use crate::{GrpcRuntime, ImageService, RuntimeService, v1};

/// The environment variable naming the CRI endpoint of the real runtime under test.
pub const ENDPOINT_VAR: &str = "NODELET_CRI_ENDPOINT";
/// The environment variable naming the test registry (`host:port`).
pub const REGISTRY_VAR: &str = "NODELET_TEST_REGISTRY";
/// The environment variable naming the local busybox image (default
/// [`BUSYBOX_IMAGE`]).
pub const BUSYBOX_VAR: &str = "NODELET_BUSYBOX_IMAGE";
/// The environment variable naming the registry's busybox image (default
/// `$NODELET_TEST_REGISTRY/busybox:1`).
pub const REGISTRY_IMAGE_VAR: &str = "NODELET_REGISTRY_BUSYBOX_IMAGE";
/// The test registry when [`REGISTRY_VAR`] is unset.
pub const DEFAULT_REGISTRY: &str = "127.0.0.1:5000";
/// What to do when the real environment is missing.
pub const SETUP_HINT: &str =
    "start the environment with `cargo xtask setup` (or run `cargo xtask test`)";

/// What the cases may assume about the node they run on. Keep it small: anything more is
/// a difference between runtimes that the suite exists to rule out.
#[derive(Debug, Clone)]
pub struct ContractEnv {
    /// A busybox image present locally (`localhost/busybox:1`). Cases never remove it.
    pub busybox_image: String,
    /// A busybox image in a registry the runtime can pull from
    /// (`127.0.0.1:5000/busybox:1`). Its image id must differ from `busybox_image`'s:
    /// containerd 1.6 removes every tag of an image id at once. `None` skips the pull cases.
    pub registry_image: Option<String>,
    /// Unique per run, so that names, uids and labels never collide with another run.
    pub name_prefix: String,
    /// The cgroup every test pod's cgroup goes under (`/nodelet-contract`); sandboxes get
    /// `<base>/pod<uid>`. The suite removes the pod cgroups, not the base (see the module
    /// docs).
    pub cgroup_parent_base: String,
    /// Where the pods' log directories go (under [`std::env::temp_dir`]).
    pub log_root: PathBuf,
    /// How long a case waits for a container to reach a state.
    pub poll_timeout: Duration,
}

impl ContractEnv {
    /// An environment with a fresh name prefix, `/nodelet-contract` as the cgroup base, logs
    /// under the temp directory and a 10 s poll timeout.
    pub fn new(busybox_image: &str, registry_image: Option<String>) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name_prefix = format!("ct{}-{:x}", std::process::id(), nanos % 0xffff_ffff);
        ContractEnv {
            busybox_image: busybox_image.to_string(),
            registry_image,
            log_root: std::env::temp_dir()
                .join("nodelet-contract")
                .join(&name_prefix),
            name_prefix,
            cgroup_parent_base: "/nodelet-contract".to_string(),
            poll_timeout: Duration::from_secs(10),
        }
    }
}

/// An implementation under test, with its environment.
#[derive(Clone)]
pub struct ContractTarget {
    /// What the output calls it (`"FakeRuntime"`, `"containerd 1.6.20 at unix://..."`).
    pub name: String,
    /// The runtime service under test.
    pub runtime: Arc<dyn RuntimeService>,
    /// The image service under test.
    pub images: Arc<dyn ImageService>,
    /// What the cases may assume.
    pub env: ContractEnv,
    /// The fake's clock. A case that waits advances it instead of sleeping. `None` for a
    /// real runtime, where waits sleep and the host's pod cgroups are cleaned up.
    pub fake_clock: Option<FakeClock>,
}

impl std::fmt::Debug for ContractTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContractTarget")
            .field("name", &self.name)
            .field("env", &self.env)
            .field("fake_clock", &self.fake_clock)
            .finish_non_exhaustive()
    }
}

impl ContractTarget {
    /// A fresh [`FakeRuntime::with_busybox`], with the registry image of a default test
    /// environment (`127.0.0.1:5000/busybox:1`) in its registry.
    pub fn fake() -> Self {
        let fake = FakeRuntime::with_busybox();
        let registry_image = format!("{DEFAULT_REGISTRY}/busybox:1");
        fake.add_registry_image(&registry_image);
        ContractTarget {
            name: "FakeRuntime".to_string(),
            runtime: Arc::new(fake.clone()),
            images: Arc::new(fake.clone()),
            env: ContractEnv::new(BUSYBOX_IMAGE, Some(registry_image)),
            fake_clock: Some(fake.clock().clone()),
        }
    }

    /// The real runtime at `$NODELET_CRI_ENDPOINT`, with the images `cargo xtask setup`
    /// names: `$NODELET_BUSYBOX_IMAGE` (default `localhost/busybox:1`) and
    /// `$NODELET_REGISTRY_BUSYBOX_IMAGE` (default `busybox:1` in the registry at
    /// `$NODELET_TEST_REGISTRY`, itself by default `127.0.0.1:5000`).
    ///
    /// When the variable is unset or the runtime does not answer `Version`, the environment
    /// is missing. With `CI=true` that is a failure (a panic that names `cargo xtask setup`):
    /// a test needing the environment never passes by skipping in CI. Elsewhere it prints the
    /// same hint and returns `None`, and the test passes without running.
    pub async fn containerd_from_env() -> Option<Self> {
        let endpoint = match std::env::var(ENDPOINT_VAR) {
            Ok(e) if !e.trim().is_empty() => e,
            _ => return missing_environment(&format!("{ENDPOINT_VAR} is not set")),
        };
        let runtime = match GrpcRuntime::new(&endpoint) {
            Ok(r) => r,
            Err(e) => return missing_environment(&format!("{ENDPOINT_VAR}={endpoint}: {e}")),
        };
        let version = tokio::time::timeout(
            Duration::from_secs(10),
            runtime.version(v1::VersionRequest {
                version: crate::KUBE_RUNTIME_API_VERSION.to_string(),
            }),
        )
        .await;
        let version = match version {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                return missing_environment(&format!(
                    "the runtime at {endpoint} does not answer Version: {e}"
                ));
            }
            Err(_) => {
                return missing_environment(&format!(
                    "the runtime at {endpoint} did not answer Version within 10 s"
                ));
            }
        };
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let registry = var(REGISTRY_VAR).unwrap_or_else(|| DEFAULT_REGISTRY.to_string());
        let busybox = var(BUSYBOX_VAR).unwrap_or_else(|| BUSYBOX_IMAGE.to_string());
        let registry_image =
            var(REGISTRY_IMAGE_VAR).unwrap_or_else(|| format!("{registry}/busybox:1"));
        let runtime = Arc::new(runtime);
        Some(ContractTarget {
            name: format!(
                "{} {} at {endpoint}",
                version.runtime_name, version.runtime_version
            ),
            runtime: runtime.clone(),
            images: runtime,
            env: ContractEnv::new(&busybox, Some(registry_image)),
            fake_clock: None,
        })
    }
}

fn missing_environment(why: &str) -> Option<ContractTarget> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the container runtime environment is missing ({why}): {SETUP_HINT}");
    }
    // Straight to stderr, past the test harness's capture: a skip must be seen.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "skipping: the container runtime environment is missing ({why}); {SETUP_HINT}"
    );
    None
}

/// One case of the suite.
#[derive(Clone, Copy)]
pub struct Case {
    /// Its name, which is also the name of its test function. Checklist ids of
    /// `kubelet-behaviour.md` lead where one applies (`cri_11_...`).
    pub name: &'static str,
    run: for<'a> fn(&'a Ctx<'a>) -> BoxFuture<'a, ()>,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case").field("name", &self.name).finish()
    }
}

/// Every case of the suite.
pub fn all_cases() -> &'static [Case] {
    cases::ALL
}

/// Check that a test file expanded every case (run by the test that
/// [`contract_tests!`](crate::contract_tests) generates).
///
/// # Panics
///
/// If a case of [`all_cases`] is missing from `listed` or `listed` names an unknown case.
pub fn check_listed(listed: &[&str]) {
    let missing: Vec<&str> = all_cases()
        .iter()
        .map(|c| c.name)
        .filter(|n| !listed.contains(n))
        .collect();
    let unknown: Vec<&&str> = listed
        .iter()
        .filter(|n| !all_cases().iter().any(|c| c.name == **n))
        .collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "contract_tests! is out of date: missing {missing:?}, unknown {unknown:?}"
    );
}

/// Run one case against a target, then clean up what it created, whether it passed or not.
///
/// # Panics
///
/// If the case fails (its assertion message is kept) or `name` is not a case.
pub async fn run_case(name: &str, target: &ContractTarget) {
    let (index, case) = all_cases()
        .iter()
        .enumerate()
        .find(|(_, c)| c.name == name)
        .unwrap_or_else(|| panic!("no contract case named {name:?}"));
    eprintln!("contract case {name}: running against {}", target.name);
    let ctx = Ctx::new(target, index);
    let started = Instant::now();
    let outcome = AssertUnwindSafe((case.run)(&ctx)).catch_unwind().await;
    ctx.cleanup().await;
    match outcome {
        Ok(()) => eprintln!(
            "contract case {name}: passed against {} in {:?}",
            target.name,
            started.elapsed()
        ),
        Err(panic) => {
            eprintln!("contract case {name}: FAILED against {}", target.name);
            std::panic::resume_unwind(panic);
        }
    }
}

/// The body of one generated test: build a tokio runtime, get the target from `setup`
/// (`None` skips), run the case.
pub fn run_test<F, Fut>(name: &str, setup: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Option<ContractTarget>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the contract case");
    runtime.block_on(async {
        if let Some(target) = setup().await {
            run_case(name, &target).await;
        }
    });
}

/// Expand into one `#[test]` per contract case, each running against the target that
/// `$setup` (a path to an `async fn() -> Option<ContractTarget>`) returns, plus a test
/// that checks the list is complete.
///
/// Every expansion lists the same cases under the same names, so the outputs of two test
/// files can be compared line by line.
#[macro_export]
macro_rules! contract_tests {
    ($setup:path) => {
        $crate::__contract_tests_for! { $setup;
            version_and_status_report_a_ready_v1_runtime,
            sandbox_lifecycle_with_cni_network,
            sandbox_lifecycle_with_host_network,
            sandbox_with_host_network_and_a_hostname_fails,
            container_lifecycle_with_stop_timeout_0,
            container_stop_with_timeout_runs_the_term_trap,
            container_exit_3_is_error,
            container_exit_0_is_completed,
            container_sleep_exits_after_its_duration,
            container_over_memory_limit_is_oom_killed,
            container_within_memory_limit_completes,
            container_status_reports_resources_and_log_path,
            cri_11_not_found_for_unknown_ids,
            cri_11_not_found_is_success_for_stop_and_remove,
            cri_12_list_by_pod_uid_label,
            cri_13_labels_and_annotations_roundtrip,
            list_containers_by_state,
            list_filters_by_id_prefix,
            stop_and_remove_are_idempotent,
            stop_sandbox_stops_its_containers,
            remove_sandbox_removes_its_containers,
            create_container_in_missing_or_stopped_sandbox_fails,
            create_container_with_absent_image_fails,
            start_container_twice_fails,
            exec_sync_stdout_and_exit_code,
            exec_sync_timeout_is_command_timed_out,
            exec_sync_in_exited_container_fails,
            image_status_and_list_show_the_busybox_image,
            image_status_of_absent_image_is_none,
            pull_image_from_registry,
            pull_missing_image_is_not_found,
            twenty_pods_concurrently,
            container_events_capability_is_reported,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __contract_tests_for {
    ($setup:path; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::contract::run_test(stringify!($name), $setup);
            }
        )*

        #[test]
        fn contract_suite_lists_every_case() {
            $crate::contract::check_listed(&[$(stringify!($name)),*]);
        }
    };
}

/// What a case works with: the target, and bookkeeping for names and clean-up.
pub(crate) struct Ctx<'a> {
    rt: &'a dyn RuntimeService,
    img: &'a dyn ImageService,
    env: &'a ContractEnv,
    clock: Option<&'a FakeClock>,
    /// The value of [`CASE_LABEL`] on every sandbox of this case.
    case_label: String,
    pods: AtomicU32,
    uids: Mutex<Vec<String>>,
}

/// The label that marks a sandbox as made by one case of one run.
const CASE_LABEL: &str = "nodelet.io/contract-case";

/// A pod sandbox a case created.
#[derive(Debug, Clone)]
pub(crate) struct Pod {
    pub id: String,
    pub uid: String,
    pub config: v1::PodSandboxConfig,
    pub log_dir: PathBuf,
}

impl<'a> Ctx<'a> {
    fn new(target: &'a ContractTarget, index: usize) -> Self {
        Ctx {
            rt: target.runtime.as_ref(),
            img: target.images.as_ref(),
            env: &target.env,
            clock: target.fake_clock.as_ref(),
            case_label: format!("{}-c{index}", target.env.name_prefix),
            pods: AtomicU32::new(0),
            uids: Mutex::new(Vec::new()),
        }
    }

    /// Let `d` pass: sleep on a real runtime, advance the fake's clock.
    pub async fn wait(&self, d: Duration) {
        match self.clock {
            Some(clock) => {
                clock.advance(d);
                tokio::task::yield_now().await;
            }
            None => tokio::time::sleep(d).await,
        }
    }

    /// Remove everything the case made: its sandboxes (by label), their log directories
    /// and, on a real runtime, their pod cgroups.
    async fn cleanup(&self) {
        let filter = v1::PodSandboxFilter {
            label_selector: [(CASE_LABEL.to_string(), self.case_label.clone())].into(),
            ..Default::default()
        };
        match self
            .rt
            .list_pod_sandbox(v1::ListPodSandboxRequest {
                filter: Some(filter),
            })
            .await
        {
            Ok(list) => {
                let removals = list.items.into_iter().map(|s| async move {
                    let id = s.id;
                    let stop = self
                        .rt
                        .stop_pod_sandbox(v1::StopPodSandboxRequest {
                            pod_sandbox_id: id.clone(),
                        })
                        .await;
                    let remove = self
                        .rt
                        .remove_pod_sandbox(v1::RemovePodSandboxRequest {
                            pod_sandbox_id: id.clone(),
                        })
                        .await;
                    if let Err(e) = stop.and(remove) {
                        eprintln!("contract clean-up: sandbox {id}: {e}");
                    }
                });
                futures::future::join_all(removals).await;
            }
            Err(e) => eprintln!("contract clean-up: listing sandboxes: {e}"),
        }
        // The case's own log directory: the label is one path component by construction
        // (`<prefix>-c<index>`); checked anyway, so a removal never leaves the log root.
        let label = std::path::Path::new(&self.case_label);
        let mut parts = label.components();
        if matches!(
            (parts.next(), parts.next()),
            (Some(std::path::Component::Normal(_)), None)
        ) {
            let _ = std::fs::remove_dir_all(self.env.log_root.join(label));
        }
        // Then the run's directory and their parent, once empty (other cases may still run).
        let _ = std::fs::remove_dir(&self.env.log_root);
        if let Some(parent) = self.env.log_root.parent() {
            let _ = std::fs::remove_dir(parent);
        }
        if self.clock.is_none() {
            let uids = self.uids.lock().unwrap_or_else(|e| e.into_inner()).clone();
            remove_pod_cgroups(&self.env.cgroup_parent_base, &uids);
        }
    }
}

/// runc creates `<base>/pod<uid>` in every cgroup hierarchy and never removes it (the
/// kubelet's pod container manager does): remove those of this case. Errors are ignored.
///
/// The base itself stays: removing it while it looks empty races with runc creating another
/// case's pod cgroup under it (runc's `mkdir -p` then fails with "no such file or
/// directory"). The environment's teardown removes it.
fn remove_pod_cgroups(base: &str, uids: &[String]) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let base = base.trim_start_matches('/');
    for hierarchy in hierarchies.flatten() {
        let root = hierarchy.path();
        for uid in uids {
            let _ = std::fs::remove_dir(root.join(base).join(format!("pod{uid}")));
        }
    }
}
