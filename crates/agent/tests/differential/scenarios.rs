//! The scenarios: static pods that show one behaviour each, with the departures found.
//!
//! Pods are named after their scenario (all run at once in one static pod directory) and
//! write what only the inside of a container knows (mounts, environment, `/etc/hosts`)
//! into their termination message, which both agents report. `ev NAME` in a script appends
//! `NAME <uptime>` to `/host/events` (the scenario's hostPath), the clock of the timing
//! comparisons.

use super::{Action, ActionKind, Departure, Scenario};

/// Defines `ev` in a container script (`/host` must be the scenario's hostPath).
const EV: &str = "ev() { echo \"$1 $(cut -d' ' -f1 /proc/uptime)\" >> /host/events; }; ";

/// The hostPath volume of the scenario's `{host}` directory, and its mount at `/host`, for
/// pods that write events.
const HOST_VOLUME: &str =
    "  volumes:\n  - name: host\n    hostPath:\n      path: {host}\n      type: Directory\n";
const HOST_MOUNT: &str = "    volumeMounts:\n    - name: host\n      mountPath: /host\n";

/// A pod with one container `main` running `script` under `sh -c`, with `extra` lines
/// appended to the container (indented four spaces) and `spec` lines to the pod spec (two).
fn pod(name: &str, restart: &str, script: &str, container_extra: &str, spec_extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n\
         spec:\n  restartPolicy: {restart}\n  terminationGracePeriodSeconds: 2\n{spec_extra}  \
         containers:\n  - name: main\n    image: {{image}}\n    command: [\"sh\", \"-c\", {script:?}]\n\
         {container_extra}"
    )
}

/// Every scenario.
pub fn all() -> Vec<Scenario> {
    vec![
        crash_loop(),
        always_exit_zero(),
        on_failure(),
        never(),
        oom_kill(),
        init_failure(),
        init_sequence(),
        sidecar(),
        image_errors(),
        command_not_found(),
        liveness(),
        readiness(),
        startup(),
        prestop_grace(),
        deleted_while_running(),
        termination_message(),
        volumes(),
        api_references(),
        env(),
        invalid_manifests(),
        active_deadline(),
        post_start_failure(),
    ]
}

/// Departures that show in every scenario's pods, whatever they do.
pub fn global_departures() -> Vec<Departure> {
    vec![Departure::new(
        "standalone-host-ip",
        &["*: hostIP", "*: hostIPs*"],
        "the kubelet sets status.hostIP(s) only with an API server client \
             (generateAPIPodStatus in kubelet_pods.go: `if kl.kubeClient != nil`), so a \
             standalone kubelet reports none; nodelet reports the node's IP in standalone mode too",
    )]
}

/// Why a pod in a restart loop shows a different state at a given moment under the two
/// agents: the kubelet generates a pod's status at the start of a sync, before the sync's
/// actions (`SyncPod` in `pkg/kubelet/kubelet.go`: `generateAPIPodStatus`, then
/// `statusManager.SetPodStatus`, then `containerRuntime.SyncPod`), and the reason a sync
/// records (`CrashLoopBackOff`, in `reasonCache`) only shows in the status of the *next*
/// sync (`convertToAPIContainerStatuses`, `pkg/kubelet/kubelet_pods.go`). During a back-off
/// the kubelet's `/pods` therefore shows the exited instance as `terminated` (lastState: the
/// one before) and `waiting: CrashLoopBackOff` only from the sync at the back-off's expiry.
/// nodelet generates the status after the actions (`worker/sync.rs`), so it shows
/// `waiting: CrashLoopBackOff` (lastState: the exited instance) for the whole back-off.
const STATUS_AFTER_ACTIONS: &str = "the kubelet generates the status before a sync's actions and shows a \
    back-off reason only from the next sync (kubelet.go SyncPod, kubelet_pods.go \
    convertToAPIContainerStatuses): terminated during the back-off; nodelet generates it after \
    the actions (worker/sync.rs) and shows waiting CrashLoopBackOff at once";

/// Why restart counts (and what goes with a restart) differ at a given moment.
const BACKOFF_JITTER: &str = "the kubelet requeues a pod in back-off at the expiry plus up to 50 % \
    (pod_workers.go completeWork: wait.Jitter(backoff, workerBackOffPeriodJitterFactor = 0.5)); \
    nodelet restarts at the expiry, so it is up to a restart ahead at any moment (the restart \
    delays are compared with that window)";

/// The departures of pods in a restart loop: the state shown at a checkpoint, and the count
/// of restarts so far.
fn restart_loop(pods: &[&str]) -> Vec<Departure> {
    let fields = |suffixes: &[&str]| -> Vec<String> {
        pods.iter()
            .flat_map(|pod| {
                suffixes.iter().flat_map(move |s| {
                    [
                        format!("{pod}: containerStatuses[*].{s}"),
                        format!("{pod}: initContainerStatuses[*].{s}"),
                    ]
                })
            })
            .collect()
    };
    let mut jitter = fields(&["restartCount", "ready", "started", "state.running.*"]);
    jitter.extend(pods.iter().flat_map(|pod| {
        [
            format!("{pod}: conditions[Ready].*"),
            format!("{pod}: conditions[ContainersReady].*"),
        ]
    }));
    vec![
        Departure {
            name: "status-after-actions",
            fields: fields(&["state.waiting.*", "state.terminated.*", "lastState.*"]),
            reason: STATUS_AFTER_ACTIONS,
            sometimes: true,
        },
        Departure {
            name: "backoff-jitter",
            fields: jitter,
            reason: BACKOFF_JITTER,
            sometimes: true,
        },
    ]
}

/// Why a removed pod's terminal states show only under nodelet.
const REMOVED_POD_VANISHES: &str = "the kubelet drops a static pod from /pods as soon as its \
    manifest is gone (HandlePodRemoves: podManager.RemovePod before the pod worker kills it; \
    GetPods in kubelet_getters.go lists the pod manager), so its containers' terminal states \
    never show there; nodelet keeps the pod on /pods until it is terminated and cleaned up";

fn at(at: u64, kind: ActionKind) -> Action {
    Action { at, kind }
}

fn crash_loop() -> Scenario {
    Scenario {
        name: "crash_loop",
        ids: &["RP-04", "RP-05", "RP-06", "PH-04"],
        about: "restartPolicy Always, the container exits 1 at once: restarts at once, then \
                back-off 10 s, 20 s, 40 s; CrashLoopBackOff with the previous exit in lastState",
        files: vec![(
            "crash-loop.yaml",
            pod("crash-loop", "Always", "echo crashing; exit 1", "", ""),
        )],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![50, 95],
        departures: restart_loop(&["crash-loop"]),
    }
}

fn always_exit_zero() -> Scenario {
    Scenario {
        name: "always_exit_zero",
        ids: &["RP-01"],
        about: "restartPolicy Always, the container exits 0: restarted with the same back-off",
        files: vec![(
            "always-exit-zero.yaml",
            pod("always-exit-zero", "Always", "exit 0", "", ""),
        )],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![50],
        departures: restart_loop(&["always-exit-zero"]),
    }
}

fn on_failure() -> Scenario {
    Scenario {
        name: "on_failure",
        ids: &["RP-02", "PH-05"],
        about: "restartPolicy OnFailure: exit 2 restarts with back-off, exit 0 ends Succeeded",
        files: vec![
            (
                "on-failure-fails.yaml",
                pod("on-failure-fails", "OnFailure", "exit 2", "", ""),
            ),
            (
                "on-failure-succeeds.yaml",
                pod("on-failure-succeeds", "OnFailure", "exit 0", "", ""),
            ),
        ],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![50],
        departures: restart_loop(&["on-failure-fails"]),
    }
}

fn never() -> Scenario {
    Scenario {
        name: "never",
        ids: &["RP-03", "PH-05", "PH-16"],
        about: "restartPolicy Never: exit 3 ends Failed, exit 0 ends Succeeded, neither restarts",
        files: vec![
            (
                "never-fails.yaml",
                pod("never-fails", "Never", "exit 3", "", ""),
            ),
            (
                "never-succeeds.yaml",
                pod("never-succeeds", "Never", "exit 0", "", ""),
            ),
        ],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![20],
        departures: vec![],
    }
}

fn oom_kill() -> Scenario {
    Scenario {
        name: "oom_kill",
        ids: &["PH-20"],
        about: "a 20Mi container that touches 64 MiB is OOM-killed: OOMKilled, exit 137, Failed \
                (a second after it starts: an OOM in the container's first instants was once \
                reported Error by the reference containerd, most likely before its shim \
                watched the cgroup for OOM events)",
        files: vec![(
            "oom-kill.yaml",
            pod(
                "oom-kill",
                "Never",
                "sleep 1; dd if=/dev/zero of=/dev/null bs=64M count=1",
                "    resources:\n      limits:\n        memory: 20Mi\n        cpu: 100m\n",
                "",
            ),
        )],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![20],
        departures: vec![],
    }
}

fn init_failure() -> Scenario {
    let with_init = |name: &str, restart: &str| {
        pod(name, restart, "sleep 3600", "", "").replace(
            "  containers:\n",
            "  initContainers:\n  - name: init\n    image: {image}\n    \
             command: [\"sh\", \"-c\", \"echo init failed; exit 1\"]\n  containers:\n",
        )
    };
    Scenario {
        name: "init_failure",
        ids: &["LC-08", "LC-09", "PH-02", "PH-12"],
        about: "an init container exiting 1: Failed under Never; under Always it restarts with \
                back-off, the pod stays Pending, the app waits PodInitializing",
        files: vec![
            (
                "init-fails-never.yaml",
                with_init("init-fails-never", "Never"),
            ),
            (
                "init-fails-always.yaml",
                with_init("init-fails-always", "Always"),
            ),
        ],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![25, 50],
        departures: restart_loop(&["init-fails-always"]),
    }
}

fn init_sequence() -> Scenario {
    let text = pod(
        "init-sequence",
        "Always",
        &format!("{EV}ev main; sleep 3600"),
        HOST_MOUNT,
        HOST_VOLUME,
    )
    .replace(
        "  containers:\n",
        &format!(
            "  initContainers:\n  - name: first\n    image: {{image}}\n    \
             command: [\"sh\", \"-c\", {:?}]\n{HOST_MOUNT}  - name: second\n    image: {{image}}\n    \
             command: [\"sh\", \"-c\", {:?}]\n{HOST_MOUNT}  containers:\n",
            format!("{EV}ev first; sleep 2"),
            format!("{EV}ev second; sleep 1"),
        ),
    );
    Scenario {
        name: "init_sequence",
        ids: &["LC-06", "LC-07"],
        about: "two init containers run one after the other, then the app",
        files: vec![("init-sequence.yaml", text)],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![30],
        departures: vec![],
    }
}

fn sidecar() -> Scenario {
    let sidecar_script = format!(
        "{EV}trap 'ev sidecar-term; exit 0' TERM; ev sidecar; sleep 3; touch /tmp/started; \
         while true; do sleep 1; done"
    );
    let text = pod(
        "sidecar-never",
        "Never",
        &format!("{EV}ev main; sleep 5; ev main-exit"),
        HOST_MOUNT,
        HOST_VOLUME,
    )
    .replace(
        "  containers:\n",
        &format!(
            "  initContainers:\n  - name: sidecar\n    image: {{image}}\n    restartPolicy: Always\n    \
             command: [\"sh\", \"-c\", {sidecar_script:?}]\n    startupProbe:\n      exec:\n        \
             command: [\"test\", \"-f\", \"/tmp/started\"]\n      periodSeconds: 1\n      \
             failureThreshold: 30\n{HOST_MOUNT}  - name: setup\n    image: {{image}}\n    \
             command: [\"sh\", \"-c\", {:?}]\n{HOST_MOUNT}  containers:\n",
            format!("{EV}ev setup"),
        ),
    );
    Scenario {
        name: "sidecar",
        ids: &["LC-10", "LC-12"],
        about: "a sidecar with a startup probe gates the next init container; under Never the \
                pod succeeds when the app exits 0, and the sidecar is stopped",
        files: vec![("sidecar-never.yaml", text)],
        actions: vec![],
        gaps: vec![("main-exit", "sidecar-term")],
        checkpoints: vec![30],
        departures: vec![],
    }
}

fn image_errors() -> Scenario {
    let with_image = |name: &str, image: &str, policy: &str| {
        pod(
            name,
            "Always",
            "sleep 3600",
            &format!("    imagePullPolicy: {policy}\n"),
            "",
        )
        .replace("image: {image}", &format!("image: {image}"))
    };
    Scenario {
        name: "image_errors",
        ids: &["IM-03", "IM-04", "IM-08"],
        about: "an image the registry lacks (ErrImagePull, ImagePullBackOff), an absent image \
                under Never (ErrImageNeverPull), an invalid reference (InvalidImageName)",
        files: vec![
            (
                "image-missing.yaml",
                with_image(
                    "image-missing",
                    "127.0.0.1:5000/nodelet/absent:1",
                    "IfNotPresent",
                ),
            ),
            (
                "image-never.yaml",
                with_image("image-never", "localhost/absent:1", "Never"),
            ),
            (
                "image-invalid.yaml",
                with_image("image-invalid", "Busybox:UPPER", "IfNotPresent"),
            ),
        ],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![30, 55],
        departures: vec![Departure {
            name: "image-pull-retry",
            fields: vec!["image-missing: containerStatuses[main].state.waiting.*".to_string()],
            reason: "the kubelet's pod worker requeues a pod whose sync failed on the image \
                         after 10-15 s (completeWork, backOffPeriod with jitter), so it retries \
                         up to 50 % after the image back-off (10 s, 20 s, 40 s ...) ends; \
                         nodelet's worker wakes at the back-off's end: at a given moment one \
                         may show ErrImagePull while the other shows ImagePullBackOff",
            sometimes: true,
        }],
    }
}

fn command_not_found() -> Scenario {
    let missing = |name: &str, restart: &str| {
        pod(name, restart, "", "", "").replace(
            "command: [\"sh\", \"-c\", \"\"]",
            "command: [\"/no/such/binary\"]",
        )
    };
    Scenario {
        name: "command_not_found",
        ids: &["PH-20", "RP-06"],
        about: "a command that does not exist: StartError in lastState, RunContainerError then \
                CrashLoopBackOff; Failed under Never",
        files: vec![
            ("command-missing.yaml", missing("command-missing", "Always")),
            (
                "command-missing-never.yaml",
                missing("command-missing-never", "Never"),
            ),
        ],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![25, 50],
        departures: restart_loop(&["command-missing"]),
    }
}

fn liveness() -> Scenario {
    Scenario {
        name: "liveness",
        ids: &["PR-03", "PR-12", "RP-11"],
        about: "an exec liveness probe that fails and an HTTP one that turns 404 after 8 s: \
                killed and restarted with the crash back-off",
        files: vec![
            (
                "liveness-exec.yaml",
                pod(
                    "liveness-exec",
                    "Always",
                    "exec sleep 3600",
                    "    livenessProbe:\n      exec:\n        command: [\"cat\", \"/tmp/healthy\"]\n      \
                     initialDelaySeconds: 2\n      periodSeconds: 2\n      failureThreshold: 2\n",
                    "",
                ),
            ),
            (
                "liveness-http.yaml",
                pod(
                    "liveness-http",
                    "Always",
                    "mkdir -p /www && echo ok > /www/healthz && httpd -p 8080 -h /www && sleep 8 \
                     && rm /www/healthz && exec sleep 3600",
                    "    livenessProbe:\n      httpGet:\n        path: /healthz\n        port: 8080\n      \
                     periodSeconds: 2\n      failureThreshold: 2\n",
                    "",
                ),
            ),
        ],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![40, 60],
        departures: restart_loop(&["liveness-exec", "liveness-http"]),
    }
}

fn readiness() -> Scenario {
    Scenario {
        name: "readiness",
        ids: &["PR-02", "PH-13", "PH-14", "PR-21"],
        about: "an exec readiness probe that passes for 25 s then fails, and a TCP one on a \
                closed port: Ready flips, nothing restarts",
        files: vec![
            (
                "readiness-flip.yaml",
                pod(
                    "readiness-flip",
                    "Always",
                    "touch /tmp/ready; sleep 25; rm /tmp/ready; exec sleep 3600",
                    "    readinessProbe:\n      exec:\n        command: [\"test\", \"-f\", \"/tmp/ready\"]\n      \
                     periodSeconds: 1\n",
                    "",
                ),
            ),
            (
                "readiness-tcp.yaml",
                pod(
                    "readiness-tcp",
                    "Always",
                    "exec sleep 3600",
                    "    readinessProbe:\n      tcpSocket:\n        port: 8081\n      periodSeconds: 2\n",
                    "",
                ),
            ),
        ],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![15, 45],
        departures: vec![],
    }
}

fn startup() -> Scenario {
    Scenario {
        name: "startup",
        ids: &["PR-08", "PR-09"],
        about: "a startup probe that never passes (restarted) and one that passes after 6 s \
                (started, then ready)",
        files: vec![
            (
                "startup-fails.yaml",
                pod(
                    "startup-fails",
                    "Always",
                    "exec sleep 3600",
                    "    startupProbe:\n      exec:\n        command: [\"false\"]\n      \
                     periodSeconds: 2\n      failureThreshold: 2\n",
                    "",
                ),
            ),
            (
                "startup-slow.yaml",
                pod(
                    "startup-slow",
                    "Always",
                    "sleep 6; touch /tmp/up; exec sleep 3600",
                    "    startupProbe:\n      exec:\n        command: [\"test\", \"-f\", \"/tmp/up\"]\n      \
                     periodSeconds: 1\n      failureThreshold: 30\n    readinessProbe:\n      \
                     exec:\n        command: [\"true\"]\n      periodSeconds: 1\n",
                    "",
                ),
            ),
        ],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![3, 15, 60],
        departures: restart_loop(&["startup-fails"]),
    }
}

fn prestop_grace() -> Scenario {
    let trapping =
        |name: &str| format!("{EV}trap 'ev {name}.term; exit 0' TERM; sleep 3600 & wait");
    Scenario {
        name: "prestop_grace",
        ids: &["TM-02", "TM-12"],
        about: "manifest removed once running: an exec preStop sleeping 3 s, a sleep preStop of \
                3 s, then SIGTERM; the phase the pod ends in",
        files: vec![
            (
                "prestop-exec.yaml",
                pod(
                    "prestop-exec",
                    "Always",
                    &trapping("prestop-exec"),
                    &format!(
                        "    lifecycle:\n      preStop:\n        exec:\n          command: \
                         [\"sh\", \"-c\", {:?}]\n{HOST_MOUNT}",
                        format!("{EV}ev prestop-exec.prestop; sleep 3")
                    ),
                    HOST_VOLUME,
                )
                .replace("terminationGracePeriodSeconds: 2", "terminationGracePeriodSeconds: 10"),
            ),
            (
                "prestop-sleep.yaml",
                pod(
                    "prestop-sleep",
                    "Always",
                    &trapping("prestop-sleep"),
                    &format!("    lifecycle:\n      preStop:\n        sleep:\n          seconds: 3\n{HOST_MOUNT}"),
                    HOST_VOLUME,
                )
                .replace("terminationGracePeriodSeconds: 2", "terminationGracePeriodSeconds: 10"),
            ),
        ],
        actions: vec![
            at(5, ActionKind::RemoveManifest("prestop-exec.yaml")),
            at(5, ActionKind::RemoveManifest("prestop-sleep.yaml")),
        ],
        gaps: vec![("action", "prestop-exec.prestop"), ("prestop-exec.prestop", "prestop-exec.term"), ("action", "prestop-sleep.term")],
        checkpoints: vec![40],
        departures: vec![Departure::new(
            "removed-pod-vanishes",
            &["prestop-exec: main.seenTerminated", "prestop-sleep: main.seenTerminated"],
            REMOVED_POD_VANISHES,
        )],
    }
}

fn deleted_while_running() -> Scenario {
    Scenario {
        name: "deleted_while_running",
        ids: &["SP-07", "PH-06", "PH-07", "TM-01"],
        about: "manifests removed once running: a container that exits 0 on SIGTERM, one that exits \
                143, one that ignores it (SIGKILL after the 3 s grace); the phase each pod ends in",
        files: vec![
            (
                "delete-exit-zero.yaml",
                pod(
                    "delete-exit-zero",
                    "Always",
                    &format!("{EV}trap 'ev zero.term; exit 0' TERM; sleep 3600 & wait"),
                    HOST_MOUNT,
                    HOST_VOLUME,
                ),
            ),
            (
                "delete-exit-143.yaml",
                pod(
                    "delete-exit-143",
                    "Always",
                    &format!("{EV}trap 'ev 143.term; exit 143' TERM; sleep 3600 & wait"),
                    HOST_MOUNT,
                    HOST_VOLUME,
                ),
            ),
            (
                "delete-ignores-term.yaml",
                pod("delete-ignores-term", "Always", "exec sleep 3600", "", "").replace(
                    "terminationGracePeriodSeconds: 2",
                    "terminationGracePeriodSeconds: 3",
                ),
            ),
        ],
        actions: vec![
            at(5, ActionKind::RemoveManifest("delete-exit-zero.yaml")),
            at(5, ActionKind::RemoveManifest("delete-exit-143.yaml")),
            at(5, ActionKind::RemoveManifest("delete-ignores-term.yaml")),
        ],
        gaps: vec![("action", "zero.term"), ("action", "143.term")],
        checkpoints: vec![40],
        departures: vec![Departure::new(
            "removed-pod-vanishes",
            &[
                "delete-exit-zero: main.seenTerminated",
                "delete-exit-143: main.seenTerminated",
                "delete-ignores-term: main.seenTerminated",
            ],
            REMOVED_POD_VANISHES,
        )],
    }
}

fn termination_message() -> Scenario {
    let fallback = "    terminationMessagePolicy: FallbackToLogsOnError\n";
    Scenario {
        name: "termination_message",
        ids: &["LC-19", "LC-20"],
        about: "the termination message from /dev/termination-log, from a custom path, capped \
                at 4096 bytes, and from the log under FallbackToLogsOnError",
        files: vec![
            (
                "termmsg-file.yaml",
                pod(
                    "termmsg-file",
                    "Never",
                    "printf bye > /dev/termination-log; exit 0",
                    "",
                    "",
                ),
            ),
            (
                "termmsg-path.yaml",
                pod(
                    "termmsg-path",
                    "Never",
                    "printf custom > /tmp/msg; exit 4",
                    "    terminationMessagePath: /tmp/msg\n",
                    "",
                ),
            ),
            (
                "termmsg-big.yaml",
                pod(
                    "termmsg-big",
                    "Never",
                    "head -c 5000 /dev/zero | tr '\\0' x > /dev/termination-log; exit 1",
                    "",
                    "",
                ),
            ),
            (
                "termmsg-fallback.yaml",
                pod(
                    "termmsg-fallback",
                    "Never",
                    "echo line1; echo line2; exit 1",
                    fallback,
                    "",
                ),
            ),
            (
                "termmsg-fallback-ok.yaml",
                pod(
                    "termmsg-fallback-ok",
                    "Never",
                    "echo out; exit 0",
                    fallback,
                    "",
                ),
            ),
        ],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![20],
        departures: vec![],
    }
}

fn volumes() -> Scenario {
    let script = "{ cat /podinfo/labels; echo; cat /podinfo/name; echo; cat /podinfo/namespace; \
                  echo; stat -c '%a' /scratch /mem; \
                  grep -E ' /(mem|scratch|podinfo|ro) ' /proc/mounts | cut -d' ' -f2,3,4 | cut -d, -f1; \
                  touch /ro/x 2>&1; echo hosts:; cat /etc/hosts; echo resolv:; cat /etc/resolv.conf; \
                  echo hostname: $(hostname); } > /dev/termination-log";
    let text = pod(
        "volumes-fs",
        "Never",
        script,
        "    volumeMounts:\n    - name: scratch\n      mountPath: /scratch\n    - name: scratch\n      \
         mountPath: /ro\n      readOnly: true\n    - name: mem\n      mountPath: /mem\n    \
         - name: podinfo\n      mountPath: /podinfo\n",
        "  volumes:\n  - name: scratch\n    emptyDir: {}\n  - name: mem\n    emptyDir:\n      \
         medium: Memory\n  - name: podinfo\n    downwardAPI:\n      items:\n      - path: labels\n        \
         fieldRef:\n          fieldPath: metadata.labels\n      - path: name\n        fieldRef:\n          \
         fieldPath: metadata.name\n      - path: namespace\n        fieldRef:\n          \
         fieldPath: metadata.namespace\n",
    );
    Scenario {
        name: "volumes",
        ids: &["VO-01", "VO-14", "VO-15", "VO-17"],
        about: "emptyDir (disk and memory), a read-only mount, a downwardAPI volume, /etc/hosts \
                and /etc/resolv.conf, as the container sees them",
        files: vec![("volumes-fs.yaml", text)],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![20],
        departures: vec![],
    }
}

fn api_references() -> Scenario {
    let text = pod(
        "api-refs",
        "Never",
        "cat /cm/greeting /secret/token > /dev/termination-log",
        "    volumeMounts:\n    - name: cm\n      mountPath: /cm\n    - name: secret\n      mountPath: /secret\n",
        "  volumes:\n  - name: cm\n    configMap:\n      name: api-refs-config\n  - name: secret\n    \
         secret:\n      secretName: api-refs-secret\n",
    ) + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-refs-config\ndata:\n  greeting: hello\n\
         ---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: api-refs-secret\nstringData:\n  token: s3cr3t\n";
    Scenario {
        name: "api_references",
        ids: &["SP-08", "VO-08", "VO-13"],
        about: "a static pod with configMap and secret volumes, the objects defined beside it",
        files: vec![("api-refs.yaml", text)],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![20],
        departures: vec![Departure::new(
            "static-api-references",
            &["api-refs: *", "api-refs.yaml: refused"],
            "the kubelet v1.37 refuses a static pod that references API objects (\"static pods \
             may not reference secrets\": HasAPIObjectReference in tryDecodeSinglePod, \
             pkg/kubelet/config/common.go, SP-08); nodelet deliberately serves the ConfigMaps and \
             Secrets defined beside the manifests (its static source, issue 7)",
        )],
    }
}

fn env() -> Scenario {
    let field = |name: &str, path: &str| {
        format!(
            "    - name: {name}\n      valueFrom:\n        fieldRef:\n          fieldPath: {path}\n"
        )
    };
    let resource = |name: &str, res: &str, divisor: &str| {
        format!(
            "    - name: {name}\n      valueFrom:\n        resourceFieldRef:\n          \
             resource: {res}\n          divisor: {divisor}\n"
        )
    };
    let env = [
        field("POD_NAME", "metadata.name"),
        field("POD_NAMESPACE", "metadata.namespace"),
        field("POD_UID", "metadata.uid"),
        field("POD_LABEL", "metadata.labels['app']"),
        field("NODE_NAME", "spec.nodeName"),
        field("SA_NAME", "spec.serviceAccountName"),
        field("POD_IP", "status.podIP"),
        field("POD_IPS", "status.podIPs"),
        resource("CPU_LIMIT", "limits.cpu", "1m"),
        resource("CPU_REQUEST", "requests.cpu", "1m"),
        resource("MEM_LIMIT", "limits.memory", "1Mi"),
        resource("MEM_REQUEST", "requests.memory", "1Mi"),
        resource("EPH_LIMIT", "limits.ephemeral-storage", "1Gi"),
        "    - name: GREETING\n      value: \"hi $(POD_NAMESPACE) $$(POD_NAME) $(MISSING)\"\n"
            .to_string(),
    ]
    .concat();
    let script =
        "env | grep -E '^(POD_|NODE_|SA_|CPU_|MEM_|EPH_|GREETING)' | sort > /dev/termination-log";
    let host_ip = [
        field("HOST_IP", "status.hostIP"),
        field("HOST_IPS", "status.hostIPs"),
    ]
    .concat();
    Scenario {
        name: "env",
        ids: &["VO-14"],
        about: "environment from fieldRef and resourceFieldRef (limits.cpu and limits.memory \
                with no limit set: node allocatable), $(VAR) expansion; status.hostIP",
        files: vec![
            (
                "env-fields.yaml",
                pod(
                    "env-fields",
                    "Never",
                    script,
                    &format!(
                        "    resources:\n      requests:\n        memory: 16Mi\n    env:\n{env}"
                    ),
                    "",
                ),
            ),
            (
                "env-host-ip.yaml",
                pod(
                    "env-host-ip",
                    "Never",
                    "env | grep -E '^HOST_' | sort > /dev/termination-log",
                    &format!("    env:\n{host_ip}"),
                    "",
                ),
            ),
        ],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![20],
        departures: vec![],
    }
}

fn invalid_manifests() -> Scenario {
    let good = |name: &str| pod(name, "Always", "exec sleep 3600", "", "");
    Scenario {
        name: "invalid_manifests",
        ids: &["SP-02"],
        about: "manifests refused at load (no name, an invalid container name, broken YAML, no \
                containers, a bad restartPolicy, an unknown apiVersion, a port out of range, a \
                quantity that does not parse, a request over its limit, an unknown \
                imagePullPolicy, a bad env name, a subPath with '..', a probe with two \
                handlers) and the message given; an unknown field; a dot file",
        files: vec![
            (
                "invalid-noname.yaml",
                good("x").replace("  name: x\n", ""),
            ),
            (
                "invalid-uppercase.yaml",
                good("invalid-uppercase").replace("- name: main", "- name: Main"),
            ),
            (
                "invalid-syntax.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n".to_string(),
            ),
            (
                "invalid-no-containers.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: invalid-no-containers\nspec:\n  containers: []\n"
                    .to_string(),
            ),
            (
                "invalid-restart-policy.yaml",
                good("invalid-restart-policy").replace("restartPolicy: Always", "restartPolicy: Sometimes"),
            ),
            (
                "invalid-api-version.yaml",
                good("invalid-api-version").replace("apiVersion: v1", "apiVersion: v2"),
            ),
            // The API server's pod validation, which the kubelet runs on static pods
            // (issue 16): each refused at load, never left Pending.
            (
                "invalid-port.yaml",
                good("invalid-port").to_string()
                    + "    ports:\n    - containerPort: 70000\n",
            ),
            (
                "invalid-quantity.yaml",
                good("invalid-quantity").to_string()
                    + "    resources:\n      requests:\n        cpu: lots\n",
            ),
            (
                "invalid-request-over-limit.yaml",
                good("invalid-request-over-limit").to_string()
                    + "    resources:\n      requests:\n        memory: 64Mi\n      limits:\n        memory: 32Mi\n",
            ),
            (
                "invalid-pull-policy.yaml",
                good("invalid-pull-policy").to_string() + "    imagePullPolicy: Sometimes\n",
            ),
            (
                "invalid-env-name.yaml",
                good("invalid-env-name").to_string()
                    + "    env:\n    - name: \"1=bad\"\n      value: x\n",
            ),
            (
                "invalid-subpath.yaml",
                pod(
                    "invalid-subpath",
                    "Always",
                    "exec sleep 3600",
                    "    volumeMounts:\n    - name: scratch\n      mountPath: /s\n      subPath: ../escape\n",
                    "  volumes:\n  - name: scratch\n    emptyDir: {}\n",
                ),
            ),
            (
                "invalid-probe.yaml",
                good("invalid-probe").to_string()
                    + "    readinessProbe:\n      exec:\n        command: [\"true\"]\n      tcpSocket:\n        port: 80\n",
            ),
            (
                "unknown-field.yaml",
                good("unknown-field").replace("    image: {image}\n", "    image: {image}\n    bogus: 1\n"),
            ),
            (".hidden-pod.yaml", good("hidden-pod")),
        ],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![10],
        departures: vec![
            Departure::new(
                "refusal-wording",
                &["*: refusedMessage"],
                "both refuse the same files, in other words: the kubelet wraps validation errors \
                 as `invalid pod: [<errors>]` and decoding errors as `<path>: couldn't parse as \
                 pod(<error>), please check config file` (tryDecodeSinglePod and extractFromFile, \
                 pkg/kubelet/config/common.go and file.go); nodelet names the pod, drops the \
                 brackets and the validation regex, and gives its YAML parser's or its own \
                 apiVersion message",
            ),
        ],
    }
}

fn active_deadline() -> Scenario {
    Scenario {
        name: "active_deadline",
        ids: &["PH-09"],
        about: "activeDeadlineSeconds 15: the pod is killed and ends Failed, DeadlineExceeded",
        files: vec![(
            "active-deadline.yaml",
            pod(
                "active-deadline",
                "Always",
                "exec sleep 3600",
                "",
                "  activeDeadlineSeconds: 15\n",
            ),
        )],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![30],
        departures: vec![],
    }
}

fn post_start_failure() -> Scenario {
    Scenario {
        name: "post_start_failure",
        ids: &["LC-17"],
        about: "a postStart hook that exits 1: the container is killed and restarted with back-off",
        files: vec![(
            "poststart-fails.yaml",
            pod(
                "poststart-fails",
                "Always",
                "exec sleep 3600",
                "    lifecycle:\n      postStart:\n        exec:\n          command: [\"sh\", \"-c\", \"exit 1\"]\n",
                "",
            ),
        )],
        actions: vec![],
        gaps: vec![],
        checkpoints: vec![30],
        departures: restart_loop(&["poststart-fails"]),
    }
}
