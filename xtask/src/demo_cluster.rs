//! `cargo xtask demo --cluster`: nodelet as a node of the local control plane.
//!
//! setup (as `cargo xtask demo`), the Kubernetes binaries (`kube build`, reused when up to
//! date), the control plane (`cluster up`, idempotent), build `nodelet`, then start it as
//! node `demo-node` with that node's kubeconfig (`system:node:demo-node`) and a generated
//! `KubeletConfiguration`, everything under `target/nodelet-env/demo-cluster/`. With the
//! built kubectl, as the admin, the demo then
//!
//! 1. waits for the Node to register and turn Ready,
//! 2. applies a ConfigMap, a Secret, a Deployment of 3 busybox web servers (the page comes
//!    from the ConfigMap volume, the Secret is in their environment, an httpGet readiness
//!    probe gates Ready) and a Job that works for a few seconds and completes, and waits for
//!    3 Ready replicas and the Job's completion,
//! 3. shows the kubelet API through the API server: `kubectl logs` of the finished Job
//!    and `kubectl exec` in a web pod (nodelet's TLS port, the API server's client
//!    certificate verified against the cluster CA),
//! 4. scales the Deployment to 6 and waits for 6 Ready replicas, scales it back to 3 and
//!    waits until the 3 extra pods are gone (terminated by nodelet, deleted from the API),
//! 5. cleans up: deletes the Deployment, the Job, the ConfigMap and the Secret, waits for
//!    their pods to be gone, stops nodelet (SIGTERM) and deletes the Node and its lease.
//!
//! Throughout, a table of the node and the pods is redrawn every second from
//! `kubectl get nodes,pods,deployments,jobs -o json` (on a terminal; otherwise each change
//! is printed as a line, as `kubectl get -w` does). Ctrl-C (or a failure) goes straight to
//! the clean-up. The control plane is stopped at the end only if the demo started it, and
//! the environment is torn down only if the demo set it up, as `cargo xtask demo` does.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::cluster::Cluster;
use crate::cri::{self, RuntimeClient};
use crate::demo::{
    DEFAULT_HEALTHZ_PORT, DEFAULT_PORT, Nodelet, format_age, http_get, lock_runtime, parse_time,
    port_or_free, stop_stale, str_at, target_dir,
};
use crate::layout::{Layout, create_dir};
use crate::steps::cargo;
use crate::{cmd, containerd, down, kube, mounts, process, setup};

/// The node nodelet registers as.
const NODE_NAME: &str = "demo-node";
/// Where the demo's objects live.
const NAMESPACE: &str = "default";
/// The value of `app.kubernetes.io/part-of` on every object and pod of the demo: the pods
/// shown and waited for are those with it.
const PART_OF: &str = "nodelet-demo";
const DEPLOYMENT: &str = "demo-web";
const JOB: &str = "demo-job";
const CONFIG_MAP: &str = "demo-web-page";
const SECRET: &str = "demo-web-secret";
/// Whether the demo's pods get the default service-account token: the projected
/// `kube-api-access-*` volume (a TokenRequest token, the cluster's CA from the
/// `kube-root-ca.crt` ConfigMap, the namespace) that the API server adds to every pod that
/// does not opt out. The one place to turn it off, for both pod templates.
const AUTOMOUNT_SERVICE_ACCOUNT_TOKEN: bool = true;
/// Where the default service-account token is mounted.
const TOKEN_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The web servers' port.
const WEB_PORT: u16 = 8080;
/// The replicas before and after scaling up.
const REPLICAS: u32 = 3;
const SCALED_REPLICAS: u32 = 6;
/// How often the table is redrawn.
const REFRESH: Duration = Duration::from_secs(1);
/// How long the Node gets to register and turn Ready.
const NODE_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long each rollout (apply, scale up, scale down) gets.
const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the pods get to be gone once their owners are deleted.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// The step messages a terminal shows under the table.
const SHOWN_MESSAGES: usize = 14;

/// Runs `cargo xtask demo --cluster` (see the module docs).
pub fn run(layout: &Layout) -> Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("catching signals")?;
    }
    let started = Instant::now();

    // An environment or a control plane someone else started is left running.
    let env_was_running = containerd::is_running(layout);
    setup::run(layout)?;
    let bin = kube::ensure_built(layout)?;
    let cluster = Cluster::new(layout);
    let cluster_was_running = control_plane_runs(layout);

    let demo = (|| {
        eprintln!("\nxtask: ==> cluster up");
        cluster.up(&bin)?;
        eprintln!("\nxtask: building nodelet");
        let mut build = cargo(layout);
        build.args(["build", "-p", "agent", "--bin", "nodelet"]);
        eprintln!("xtask: $ {}", cmd::display(&build));
        cmd::run(&mut build)?;
        let binary = target_dir(layout).join("debug").join("nodelet");
        if stop.load(Ordering::SeqCst) {
            return Err(anyhow!(Interrupted));
        }
        let _lock = lock_runtime(layout)?;
        let mut demo = ClusterDemo::prepare(layout, &cluster, &bin, &stop)?;
        let mut nodelet = match demo.start(&binary) {
            Ok(nodelet) => nodelet,
            Err(e) => {
                // It may have registered the Node before it failed.
                if let Err(e) = demo.delete_node() {
                    eprintln!("xtask: {e:#}");
                }
                return Err(e);
            }
        };
        // A Ctrl-C also reaches a kubectl that runs at that moment (same process group),
        // which then fails: that is the interruption too.
        let shown = demo.script(&mut nodelet).map_err(|e| {
            if stop.load(Ordering::SeqCst) {
                anyhow!(Interrupted)
            } else {
                e
            }
        });
        let cleaned = demo.clean_up(&mut nodelet);
        if shown.is_ok() && cleaned.is_ok() {
            demo.view
                .say("done: nothing of the demo is left in the cluster or on the runtime");
        }
        shown.and(cleaned)
    })();

    let stopped = match (env_was_running, cluster_was_running) {
        (false, false) => {
            eprintln!("\nxtask: ==> down");
            down::run(layout)
        }
        (true, false) => {
            eprintln!("\nxtask: ==> cluster down (the demo started the control plane)");
            cluster.down().map(|lines| {
                for line in lines {
                    eprintln!("xtask: cluster down: {line}");
                }
            })
        }
        (false, true) => {
            eprintln!(
                "\nxtask: the control plane was running before the demo, so the environment is \
                 left running too (`cargo xtask down` stops both)"
            );
            Ok(())
        }
        (true, true) => {
            eprintln!(
                "\nxtask: the environment and the control plane were running before the demo; \
                 leaving them running"
            );
            Ok(())
        }
    };
    eprintln!("xtask: demo --cluster took {:.1?}", started.elapsed());
    match demo {
        Err(e) if e.is::<Interrupted>() => {
            stopped?;
            eprintln!("xtask: interrupted");
            Ok(ExitCode::from(130))
        }
        demo => {
            demo?;
            stopped?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Ctrl-C: the demo stops where it is and cleans up.
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Whether any daemon of the control plane runs: its program, with the cluster's directory
/// on its command line. (`cluster up` starts only what does not run, so the demo stops the
/// control plane only when none of it ran.)
fn control_plane_runs(layout: &Layout) -> bool {
    let dir = layout.root().join("cluster").display().to_string();
    process::processes().any(|(_, cmdline)| {
        cmdline.first().is_some_and(|program| {
            Path::new(program).file_name().is_some_and(|name| {
                matches!(
                    name.to_str(),
                    Some("etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler")
                )
            })
        }) && cmdline.iter().any(|arg| arg.contains(&dir))
    })
}

/// The demo's workload: the ConfigMap, the Secret, the Deployment and the Job.
fn workload(automount_token: bool) -> String {
    format!(
        r#"# Written by `cargo xtask demo --cluster`; applied with kubectl.
apiVersion: v1
kind: ConfigMap
metadata:
  name: {CONFIG_MAP}
  labels: {{app.kubernetes.io/part-of: {PART_OF}}}
data:
  index.html: |
    hello from the ConfigMap {CONFIG_MAP}, mounted as a volume
---
apiVersion: v1
kind: Secret
metadata:
  name: {SECRET}
  labels: {{app.kubernetes.io/part-of: {PART_OF}}}
stringData:
  token: s3cr3t-from-the-Secret
---
# busybox httpd serving a page made from the ConfigMap volume and the Secret in the
# environment; Ready once the page answers (httpGet readiness probe).
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {DEPLOYMENT}
  labels: {{app.kubernetes.io/part-of: {PART_OF}}}
spec:
  replicas: {REPLICAS}
  selector:
    matchLabels: {{app: {DEPLOYMENT}}}
  template:
    metadata:
      labels: {{app: {DEPLOYMENT}, app.kubernetes.io/part-of: {PART_OF}}}
    spec:
      nodeSelector: {{kubernetes.io/hostname: {NODE_NAME}}}
      automountServiceAccountToken: {automount_token}
      terminationGracePeriodSeconds: 10
      containers:
        - name: httpd
          image: localhost/busybox:1
          command:
            - sh
            - -c
            - |
              mkdir -p /www
              {{
                cat /page/index.html
                echo "served by $(hostname), with a Secret of ${{#TOKEN}} characters in its environment"
                if [ -s {TOKEN_DIR}/token ]; then
                  echo "service-account token: mounted in {TOKEN_DIR}"
                else
                  echo "service-account token: none"
                fi
              }} > /www/index.html
              trap 'exit 0' TERM
              httpd -f -p {WEB_PORT} -h /www &
              wait
          env:
            - name: TOKEN
              valueFrom:
                secretKeyRef: {{name: {SECRET}, key: token}}
          ports:
            - {{name: http, containerPort: {WEB_PORT}}}
          readinessProbe:
            httpGet: {{path: /index.html, port: http}}
            periodSeconds: 2
          volumeMounts:
            - {{name: page, mountPath: /page, readOnly: true}}
      volumes:
        - name: page
          configMap: {{name: {CONFIG_MAP}}}
---
# Works for a few seconds, then completes.
apiVersion: batch/v1
kind: Job
metadata:
  name: {JOB}
  labels: {{app.kubernetes.io/part-of: {PART_OF}}}
spec:
  backoffLimit: 1
  template:
    metadata:
      labels: {{app.kubernetes.io/part-of: {PART_OF}}}
    spec:
      nodeSelector: {{kubernetes.io/hostname: {NODE_NAME}}}
      automountServiceAccountToken: {automount_token}
      restartPolicy: Never
      containers:
        - name: work
          image: localhost/busybox:1
          command: ["sh", "-c", "echo working; sleep 5; echo done"]
"#
    )
}

/// One run of the demo.
struct ClusterDemo<'a> {
    cluster: &'a Cluster,
    /// The Kubernetes binaries (kubectl).
    bin: &'a Path,
    stop: &'a AtomicBool,
    dir: PathBuf,
    node_kubeconfig: PathBuf,
    endpoint: String,
    port: u16,
    healthz_port: u16,
    view: View,
    /// The last state read from the API server.
    state: State,
    /// Every demo pod seen (`namespace/name`): any sandbox of theirs still in the runtime
    /// once nodelet has stopped (after a failure) is removed through the CRI, so that no
    /// container outlives the demo.
    seen: BTreeSet<String>,
}

impl<'a> ClusterDemo<'a> {
    /// A fresh `demo-cluster/` directory with the config file and the workload, empty root
    /// and logs directories, and the node's kubeconfig. Stops a nodelet an interrupted demo
    /// left behind.
    fn prepare(
        layout: &Layout,
        cluster: &'a Cluster,
        bin: &'a Path,
        stop: &'a AtomicBool,
    ) -> Result<Self> {
        let dir = layout.base().join("demo-cluster");
        stop_stale(&dir)?;
        mounts::unmount_below(&dir)?;
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        for sub in ["root", "logs"] {
            create_dir(&dir.join(sub))?;
        }
        let demo = ClusterDemo {
            cluster,
            bin,
            stop,
            node_kubeconfig: cluster.node_kubeconfig(NODE_NAME)?,
            endpoint: layout.cri_endpoint(),
            port: port_or_free(DEFAULT_PORT)?,
            healthz_port: port_or_free(DEFAULT_HEALTHZ_PORT)?,
            view: View::new(std::io::stdout().is_terminal()),
            state: State::default(),
            seen: BTreeSet::new(),
            dir,
        };
        let config = format!(
            "apiVersion: kubelet.config.k8s.io/v1beta1\n\
             kind: KubeletConfiguration\n\
             port: {port}\n\
             healthzPort: {healthz}\n\
             containerRuntimeEndpoint: {endpoint}\n\
             cgroupRoot: /nodelet-demo\n\
             podLogsDir: {logs}\n\
             authentication:\n  x509:\n    clientCAFile: {ca}\n",
            port = demo.port,
            healthz = demo.healthz_port,
            endpoint = demo.endpoint,
            logs = demo.dir.join("logs").display(),
            ca = cluster.ca_file().display(),
        );
        fs::write(demo.config(), config).context("writing the demo's config file")?;
        fs::write(demo.workload(), workload(AUTOMOUNT_SERVICE_ACCOUNT_TOKEN))
            .context("writing the demo's workload")?;
        Ok(demo)
    }

    fn config(&self) -> PathBuf {
        self.dir.join("kubelet.yaml")
    }

    fn workload(&self) -> PathBuf {
        self.dir.join("workload.yaml")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.join("nodelet.log")
    }

    /// The built kubectl as the admin.
    fn kubectl(&self, args: &[&str]) -> Result<String> {
        self.cluster.kubectl(self.bin, args)
    }

    /// Starts nodelet as node [`NODE_NAME`] in its own process group (a Ctrl-C is ours to
    /// handle: the pods are deleted first) and waits for `/healthz`.
    fn start(&mut self, binary: &Path) -> Result<Nodelet> {
        let log = File::create(self.log_file()).context("creating nodelet.log")?;
        let child = Command::new(binary)
            .arg("--kubeconfig")
            .arg(&self.node_kubeconfig)
            .arg("--config")
            .arg(self.config())
            .arg("--root-dir")
            .arg(self.dir.join("root"))
            .arg("--node-name")
            .arg(NODE_NAME)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        fs::write(self.dir.join("nodelet.pid"), format!("{}\n", child.id()))?;
        let mut nodelet = Nodelet::new(child, self.log_file());
        self.view.intro = self.intro();
        if !self.view.tty {
            println!("{}", self.view.intro);
        }
        self.view.say(format!(
            "started nodelet ({}) as node {NODE_NAME}",
            nodelet
                .pid()
                .map_or_else(|| "-".to_owned(), |p| p.to_string())
        ));
        let healthz = SocketAddr::from(([127, 0, 0, 1], self.healthz_port));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            nodelet.check_alive()?;
            if matches!(http_get(healthz, "/healthz"), Ok((200, body)) if body == "ok") {
                return Ok(nodelet);
            }
            if Instant::now() > deadline {
                nodelet.stop();
                bail!(
                    "nodelet did not answer /healthz within 30 s\n{}",
                    nodelet.log_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn intro(&self) -> String {
        format!(
            "nodelet joins the control plane at {server} as node {NODE_NAME:?}\n\
             \x20 nodelet log     {log}\n\
             \x20 node config     {config}\n\
             \x20 workload        {workload}\n\
             \x20 kubectl         {kubectl} --kubeconfig {admin} get nodes,pods -o wide\n",
            server = self.cluster.server(),
            log = self.log_file().display(),
            config = self.config().display(),
            workload = self.workload().display(),
            kubectl = self.bin.join("kubectl").display(),
            admin = self.cluster.admin_kubeconfig().display(),
        )
    }

    /// The demo proper, up to (not including) the clean-up.
    fn script(&mut self, nodelet: &mut Nodelet) -> Result<()> {
        let took = self.wait_for(
            nodelet,
            &format!("node {NODE_NAME} to register and turn Ready"),
            NODE_READY_TIMEOUT,
            true,
            |s| s.node.as_ref().is_some_and(|n| node_status(n) == "Ready"),
        )?;
        self.view
            .say(format!("node {NODE_NAME} is Ready ({took:.1?})"));

        let workload = self.workload().display().to_string();
        let applied = self.kubectl(&["apply", "-f", &workload])?;
        for line in applied.lines() {
            self.view.say(format!("kubectl apply: {line}"));
        }
        let took = self.wait_for(
            nodelet,
            &format!("{REPLICAS} Ready replicas of {DEPLOYMENT} and the Job's completion"),
            ROLLOUT_TIMEOUT,
            true,
            |s| s.web_settled(REPLICAS) && s.job_complete(),
        )?;
        self.view.say(format!(
            "{REPLICAS}/{REPLICAS} replicas Ready and {JOB} Complete ({took:.1?})"
        ));
        self.show_page();
        self.show_kubelet_api();

        for (replicas, what) in [
            (SCALED_REPLICAS, "Ready"),
            (REPLICAS, "left (the others terminated and deleted)"),
        ] {
            self.kubectl(&[
                "scale",
                "-n",
                NAMESPACE,
                &format!("deployment/{DEPLOYMENT}"),
                &format!("--replicas={replicas}"),
            ])?;
            self.view.say(format!(
                "kubectl scale deployment/{DEPLOYMENT} --replicas={replicas}"
            ));
            let took = self.wait_for(
                nodelet,
                &format!("{replicas} Ready replicas, and no other"),
                ROLLOUT_TIMEOUT,
                true,
                |s| s.web_settled(replicas),
            )?;
            self.view
                .say(format!("{replicas} replicas {what} ({took:.1?})"));
        }
        Ok(())
    }

    /// What a Ready web pod serves: the ConfigMap's page, the Secret's length, the token.
    fn show_page(&mut self) {
        let pod = self
            .state
            .pods
            .iter()
            .find(|p| str_at(p, "/metadata/labels/app") == DEPLOYMENT && pod_ready(p));
        let Some(pod) = pod else {
            return;
        };
        let name = str_at(pod, "/metadata/name").to_owned();
        let Ok(ip) = str_at(pod, "/status/podIP").parse::<IpAddr>() else {
            return;
        };
        let addr = SocketAddr::new(ip, WEB_PORT);
        match http_get(addr, "/index.html") {
            Ok((200, body)) => {
                self.view
                    .say(format!("GET http://{addr}/index.html ({name}):"));
                for line in body.lines() {
                    self.view.say(format!("  | {line}"));
                }
            }
            Ok((code, body)) => self.view.say(format!(
                "GET http://{addr}/index.html ({name}): {code} {}",
                body.trim()
            )),
            Err(e) => self
                .view
                .say(format!("GET http://{addr}/index.html ({name}): {e:#}")),
        }
    }

    /// The kubelet API, reached as users reach it: through the API server to nodelet's
    /// authenticated port. The finished Job's log and a command in a web pod.
    fn show_kubelet_api(&mut self) {
        let web = self
            .state
            .pods
            .iter()
            .find(|p| str_at(p, "/metadata/labels/app") == DEPLOYMENT && pod_ready(p))
            .map(|p| str_at(p, "/metadata/name").to_owned());
        let job = format!("job/{JOB}");
        let mut calls = vec![vec!["logs", "-n", NAMESPACE, job.as_str()]];
        if let Some(web) = &web {
            calls.push(vec![
                "exec",
                "-n",
                NAMESPACE,
                web.as_str(),
                "-c",
                "httpd",
                "--",
                "sh",
                "-c",
                "echo \"$(hostname) has $(ls /page | wc -l) page(s) and uid $(id -u)\"",
            ]);
        }
        for args in calls {
            let shown = args
                .iter()
                .filter(|a| **a != "-n" && **a != NAMESPACE)
                .map(|a| {
                    if a.contains(' ') {
                        format!("'{a}'")
                    } else {
                        (*a).to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
            match self.kubectl(&args) {
                Ok(out) => {
                    self.view.say(format!("kubectl {shown}:"));
                    for line in out.lines() {
                        self.view.say(format!("  | {line}"));
                    }
                }
                Err(e) => self.view.say(format!("kubectl {shown}: {e:#}")),
            }
        }
    }

    /// Deletes the demo's objects and waits for their pods to be gone, stops nodelet, removes
    /// any pod sandbox of the demo left in the runtime, deletes the Node and its lease. Every
    /// step runs, whatever failed before; after a failure the pods are force-deleted.
    fn clean_up(&mut self, nodelet: &mut Nodelet) -> Result<()> {
        let mut failures = Vec::new();
        let mut failed = |what: &str, e: anyhow::Error| {
            eprintln!("xtask: clean-up: {what}: {e:#}");
            failures.push(what.to_owned());
        };
        self.view.say(format!(
            "cleaning up: kubectl delete deployment/{DEPLOYMENT} job/{JOB} \
             configmap/{CONFIG_MAP} secret/{SECRET}"
        ));
        let objects = [
            format!("deployment/{DEPLOYMENT}"),
            format!("job/{JOB}"),
            format!("configmap/{CONFIG_MAP}"),
            format!("secret/{SECRET}"),
        ];
        let mut args = vec![
            "delete",
            "-n",
            NAMESPACE,
            "--ignore-not-found",
            "--wait=false",
        ];
        args.extend(objects.iter().map(String::as_str));
        if let Err(e) = self.kubectl(&args) {
            failed("deleting the objects", e);
        }
        // The pods seen last, for the runtime's clean-up below.
        self.refresh();
        let drained = match nodelet.check_alive() {
            Ok(()) => self.wait_for(
                nodelet,
                "the demo's pods to be terminated and deleted",
                DRAIN_TIMEOUT,
                false,
                |s| s.pods.is_empty(),
            ),
            Err(e) => Err(e),
        };
        match &drained {
            Ok(took) => self
                .view
                .say(format!("all the demo's pods are gone ({took:.1?})")),
            Err(e) => failed("waiting for the pods to be gone", anyhow!("{e:#}")),
        }

        self.view.say("stopping nodelet (SIGTERM)");
        nodelet.stop();
        // Nodelet removes what it terminates; anything of the demo still in the runtime
        // (after a failure) goes now, so that no container outlives the demo.
        match self.remove_sandboxes() {
            Ok(removed) => {
                for line in removed {
                    self.view.say(line);
                }
            }
            Err(e) => failed("removing the demo's pod sandboxes", e),
        }
        match mounts::unmount_below(&self.dir) {
            Ok(points) => {
                for point in points {
                    self.view.say(format!("unmounted {}", point.display()));
                }
            }
            Err(e) => failed("unmounting", e),
        }

        if let Err(e) = self.delete_node() {
            failed("deleting the node", e);
        }
        if drained.is_err() {
            self.view
                .say("kubectl delete pods --force (nodelet did not finish them)");
            let selector = format!("app.kubernetes.io/part-of={PART_OF}");
            if let Err(e) = self.kubectl(&[
                "delete",
                "pods",
                "-n",
                NAMESPACE,
                "-l",
                &selector,
                "--force",
                "--grace-period=0",
                "--ignore-not-found",
            ]) {
                failed("force-deleting the pods", e);
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            bail!("clean-up incomplete: {}", failures.join(", "))
        }
    }

    /// Deletes the Node and its lease, if they exist.
    fn delete_node(&mut self) -> Result<()> {
        self.view
            .say(format!("kubectl delete node/{NODE_NAME} (and its lease)"));
        self.kubectl(&["delete", "node", NODE_NAME, "--ignore-not-found"])?;
        self.kubectl(&[
            "delete",
            "-n",
            "kube-node-lease",
            "lease",
            NODE_NAME,
            "--ignore-not-found",
        ])?;
        Ok(())
    }

    /// Stops and removes the sandboxes of the pods the demo has seen (those nodelet did not
    /// terminate).
    fn remove_sandboxes(&self) -> Result<Vec<String>> {
        let socket = self
            .endpoint
            .strip_prefix("unix://")
            .unwrap_or(&self.endpoint);
        cri::block_on(async {
            let mut client = RuntimeClient::connect(Path::new(socket)).await?;
            let mut removed = Vec::new();
            for sandbox in client.list_pod_sandboxes().await? {
                let Some(meta) = &sandbox.metadata else {
                    continue;
                };
                let pod = format!("{}/{}", meta.namespace, meta.name);
                if self.seen.contains(&pod) {
                    client.stop_pod_sandbox(&sandbox.id).await?;
                    client.remove_pod_sandbox(&sandbox.id).await?;
                    removed.push(format!("removed the pod sandbox of {pod} through the CRI"));
                }
            }
            Ok(removed)
        })
    }

    /// Redraws the table every [`REFRESH`] until `done` holds, and returns how long that
    /// took. Fails when nodelet exits, after `timeout` (with the end of nodelet's log) and,
    /// if `interruptible`, on Ctrl-C.
    fn wait_for(
        &mut self,
        nodelet: &mut Nodelet,
        what: &str,
        timeout: Duration,
        interruptible: bool,
        done: impl Fn(&State) -> bool,
    ) -> Result<Duration> {
        let start = Instant::now();
        self.view.say(format!("waiting for {what}"));
        loop {
            nodelet.check_alive()?;
            self.refresh();
            self.view.show(&self.state)?;
            if self.view.error.is_none() && done(&self.state) {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                bail!(
                    "no {what} after {timeout:?}; the end of {}:\n{}",
                    self.log_file().display(),
                    nodelet.log_tail(30)
                );
            }
            let next = Instant::now() + REFRESH;
            while Instant::now() < next {
                if interruptible && self.stop.load(Ordering::SeqCst) {
                    self.view.say("interrupted: cleaning up");
                    return Err(anyhow!(Interrupted));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Reads the state; a failure is shown until a read succeeds.
    fn refresh(&mut self) {
        match self.read_state() {
            Ok(state) => {
                self.seen.extend(
                    state
                        .pods
                        .iter()
                        .map(|p| format!("{NAMESPACE}/{}", str_at(p, "/metadata/name"))),
                );
                self.state = state;
                self.view.error = None;
            }
            Err(e) => self.view.error = Some(format!("{e:#}")),
        }
    }

    /// The node, the demo's pods, the Deployment and the Job, from one kubectl call.
    fn read_state(&self) -> Result<State> {
        let out = self.kubectl(&[
            "get",
            "nodes,pods,deployments,jobs",
            "-n",
            NAMESPACE,
            "-o",
            "json",
        ])?;
        let list: Value = serde_json::from_str(&out).context("decoding kubectl's output")?;
        Ok(State::from_list(&list))
    }
}

/// What the API server says about the demo.
#[derive(Debug, Default)]
struct State {
    node: Option<Value>,
    /// The demo's pods, by name.
    pods: Vec<Value>,
    deployment: Option<Value>,
    job: Option<Value>,
}

impl State {
    /// Picks the demo's objects from a `List` of nodes, pods, deployments and jobs.
    fn from_list(list: &Value) -> State {
        let mut state = State::default();
        for item in list["items"].as_array().into_iter().flatten() {
            let name = str_at(item, "/metadata/name");
            match str_at(item, "/kind") {
                "Node" if name == NODE_NAME => state.node = Some(item.clone()),
                "Pod" if str_at(item, "/metadata/labels/app.kubernetes.io~1part-of") == PART_OF => {
                    state.pods.push(item.clone());
                }
                "Deployment" if name == DEPLOYMENT => state.deployment = Some(item.clone()),
                "Job" if name == JOB => state.job = Some(item.clone()),
                _ => {}
            }
        }
        state
            .pods
            .sort_by(|a, b| str_at(a, "/metadata/name").cmp(str_at(b, "/metadata/name")));
        state
    }

    /// Exactly `replicas` pods of the Deployment, every one Ready and none terminating.
    fn web_settled(&self, replicas: u32) -> bool {
        let web: Vec<&Value> = self
            .pods
            .iter()
            .filter(|p| str_at(p, "/metadata/labels/app") == DEPLOYMENT)
            .collect();
        web.len() == replicas as usize
            && web
                .iter()
                .all(|p| p.pointer("/metadata/deletionTimestamp").is_none() && pod_ready(p))
    }

    fn job_complete(&self) -> bool {
        self.job
            .as_ref()
            .is_some_and(|j| job_status(j) == "Complete")
    }

    /// The table rows: the node's ([`node_row`]) and the pods' ([`pod_row`]).
    fn rows(&self, now: SystemTime) -> (Vec<Row>, Vec<Row>) {
        let nodes = self.node.iter().map(|n| node_row(n, now)).collect();
        let pods = self.pods.iter().map(|p| pod_row(p, now)).collect();
        (nodes, pods)
    }

    /// One line each for the Deployment and the Job, as `kubectl get` summarizes them.
    fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(d) = &self.deployment {
            let n = |pointer: &str| d.pointer(pointer).and_then(Value::as_i64).unwrap_or(0);
            lines.push(format!(
                "deployment.apps/{DEPLOYMENT}: {}/{} ready, {} up to date, {} available",
                n("/status/readyReplicas"),
                n("/spec/replicas"),
                n("/status/updatedReplicas"),
                n("/status/availableReplicas"),
            ));
        }
        if let Some(j) = &self.job {
            let succeeded = j
                .pointer("/status/succeeded")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let completions = j
                .pointer("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let duration = match (
                parse_time(str_at(j, "/status/startTime")),
                parse_time(str_at(j, "/status/completionTime")),
            ) {
                (Some(start), Some(end)) => end
                    .duration_since(start)
                    .map(|d| format!(" in {}", format_age(d)))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            lines.push(format!(
                "job.batch/{JOB}: {}, {succeeded}/{completions} completions{duration}",
                job_status(j)
            ));
        }
        lines
    }
}

/// A table row: a key (kind/name) and its cells.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    key: String,
    cells: Vec<String>,
    /// The index of the AGE cell, which changes every second and is not a change.
    age: usize,
}

impl Row {
    /// The cells but the age: what counts as a change.
    fn without_age(&self) -> Vec<&str> {
        self.cells
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.age)
            .map(|(_, c)| c.as_str())
            .collect()
    }
}

const NODE_HEADER: [&str; 5] = ["NAME", "STATUS", "ROLES", "AGE", "VERSION"];
const POD_HEADER: [&str; 6] = ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE"];

/// `NAME STATUS ROLES AGE VERSION`, as `kubectl get nodes`.
fn node_row(node: &Value, now: SystemTime) -> Row {
    let name = str_at(node, "/metadata/name");
    let roles: Vec<&str> = node["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .collect();
    Row {
        key: format!("node/{name}"),
        cells: vec![
            name.to_owned(),
            node_status(node),
            if roles.is_empty() {
                "<none>".to_owned()
            } else {
                roles.join(",")
            },
            age(node, now),
            str_at(node, "/status/nodeInfo/kubeletVersion").to_owned(),
        ],
        age: 3,
    }
}

/// `Ready`, `NotReady` or `Unknown` from the Ready condition, with `,SchedulingDisabled`
/// when cordoned (kubectl's node printer).
fn node_status(node: &Value) -> String {
    let ready = node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .map(|c| str_at(c, "/status"));
    let mut status = match ready {
        Some("True") => "Ready",
        Some("False") => "NotReady",
        _ => "Unknown",
    }
    .to_owned();
    if node.pointer("/spec/unschedulable") == Some(&Value::Bool(true)) {
        status.push_str(",SchedulingDisabled");
    }
    status
}

/// `NAME READY STATUS RESTARTS AGE NODE`, as `kubectl get pods -o wide` (some columns).
fn pod_row(pod: &Value, now: SystemTime) -> Row {
    let name = str_at(pod, "/metadata/name");
    let (ready, total, restarts, status) = pod_columns(pod);
    let node = str_at(pod, "/spec/nodeName");
    Row {
        key: format!("pod/{name}"),
        cells: vec![
            name.to_owned(),
            format!("{ready}/{total}"),
            status,
            restarts.to_string(),
            age(pod, now),
            if node.is_empty() { "<none>" } else { node }.to_owned(),
        ],
        age: 4,
    }
}

/// The age from `creationTimestamp`, or `-`.
fn age(object: &Value, now: SystemTime) -> String {
    parse_time(str_at(object, "/metadata/creationTimestamp"))
        .map(|t| now.duration_since(t).unwrap_or_default())
        .map_or_else(|| "-".to_owned(), format_age)
}

/// Whether the pod's Ready condition is True.
fn pod_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Ready containers, containers, restarts and the STATUS column, as kubectl's pod printer
/// (`printPod` in `k8s.io/kubernetes/pkg/printers/internalversion`) computes them.
fn pod_columns(pod: &Value) -> (usize, usize, i64, String) {
    let status = &pod["status"];
    let empty = Vec::new();
    let inits = status["initContainerStatuses"].as_array().unwrap_or(&empty);
    let apps = status["containerStatuses"].as_array().unwrap_or(&empty);
    let total = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
    let mut reason = str_at(status, "/phase").to_owned();
    if !str_at(status, "/reason").is_empty() {
        reason = str_at(status, "/reason").to_owned();
    }
    let count = |c: &Value| c["restartCount"].as_i64().unwrap_or(0);
    let exit = |c: &Value, prefix: &str| {
        let signal = c
            .pointer("/state/terminated/signal")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if signal != 0 {
            format!("{prefix}Signal:{signal}")
        } else {
            let code = c
                .pointer("/state/terminated/exitCode")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            format!("{prefix}ExitCode:{code}")
        }
    };
    let mut restarts = 0;
    let mut initializing = false;
    let n_inits = pod["spec"]["initContainers"].as_array().map_or(0, Vec::len);
    for (i, c) in inits.iter().enumerate() {
        restarts += count(c);
        let terminated = c.pointer("/state/terminated");
        let waiting_reason = str_at(c, "/state/waiting/reason");
        if terminated.is_some() && c.pointer("/state/terminated/exitCode") == Some(&0.into()) {
            continue;
        }
        if terminated.is_some() {
            let r = str_at(c, "/state/terminated/reason");
            reason = if r.is_empty() {
                exit(c, "Init:")
            } else {
                format!("Init:{r}")
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{n_inits}");
        }
        initializing = true;
        break;
    }
    let mut ready = 0;
    if !initializing {
        restarts = 0;
        let mut has_running = false;
        for c in apps.iter().rev() {
            restarts += count(c);
            let waiting = str_at(c, "/state/waiting/reason");
            let terminated = str_at(c, "/state/terminated/reason");
            if !waiting.is_empty() {
                reason = waiting.to_owned();
            } else if !terminated.is_empty() {
                reason = terminated.to_owned();
            } else if c.pointer("/state/terminated").is_some() {
                reason = exit(c, "");
            } else if c["ready"] == true && c.pointer("/state/running").is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if pod_ready(pod) {
                "Running"
            } else {
                "NotReady"
            }
            .to_owned();
        }
    }
    let phase = str_at(status, "/phase");
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        if str_at(status, "/reason") == "NodeLost" {
            reason = "Unknown".to_owned();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_owned();
        }
    }
    (ready, total, restarts, reason)
}

/// `Complete`, `Failed` or `Running`, from the Job's conditions.
fn job_status(job: &Value) -> &'static str {
    let holds = |t: &str| {
        job["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == t && c["status"] == "True")
    };
    if holds("Complete") {
        "Complete"
    } else if holds("Failed") {
        "Failed"
    } else {
        "Running"
    }
}

/// Rows under a header, columns aligned, three spaces apart.
fn aligned(header: &[&str], rows: &[Row]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(&row.cells) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        padded.join("   ").trim_end().to_owned() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.cells.iter().map(String::as_str).collect()));
    }
    out
}

/// The screen: on a terminal, the whole table redrawn; otherwise, each changed row as a
/// line (as `kubectl get -w` prints), with the time since the start.
#[derive(Debug)]
struct View {
    tty: bool,
    started: Instant,
    intro: String,
    /// The step messages, with their times.
    messages: Vec<String>,
    /// The last error reading the state, shown until a read succeeds.
    error: Option<String>,
    /// What was printed last for each row (not on a terminal).
    printed: BTreeMap<String, Vec<String>>,
    /// The headers printed (not on a terminal).
    headers: BTreeSet<String>,
    printed_summary: Vec<String>,
    printed_error: Option<String>,
}

impl View {
    fn new(tty: bool) -> View {
        View {
            tty,
            started: Instant::now(),
            intro: String::new(),
            messages: Vec::new(),
            error: None,
            printed: BTreeMap::new(),
            headers: BTreeSet::new(),
            printed_summary: Vec::new(),
            printed_error: None,
        }
    }

    fn stamp(&self) -> String {
        format!("{:>6.1}s", self.started.elapsed().as_secs_f64())
    }

    /// A step message, printed at once. On a terminal it is also kept for the redraws,
    /// under the table (the last ones, after the last redraw, stay where they are printed).
    fn say(&mut self, message: impl Into<String>) {
        let line = format!("{}  {}", self.stamp(), message.into());
        println!("{line}");
        self.messages.push(line);
    }

    fn show(&mut self, state: &State) -> Result<()> {
        let (nodes, pods) = state.rows(SystemTime::now());
        let summary = state.summary();
        let mut out = std::io::stdout().lock();
        if self.tty {
            writeln!(out, "\x1b[2J\x1b[H{}", self.intro)?;
            if nodes.is_empty() {
                writeln!(out, "node {NODE_NAME} is not registered yet")?;
            } else {
                write!(out, "{}", aligned(&NODE_HEADER, &nodes))?;
            }
            writeln!(out)?;
            if pods.is_empty() {
                writeln!(out, "no pods of the demo")?;
            } else {
                write!(out, "{}", aligned(&POD_HEADER, &pods))?;
            }
            writeln!(out)?;
            for line in &summary {
                writeln!(out, "{line}")?;
            }
            if let Some(e) = &self.error {
                writeln!(out, "kubectl: {e}")?;
            }
            if !summary.is_empty() || self.error.is_some() {
                writeln!(out)?;
            }
            let from = self.messages.len().saturating_sub(SHOWN_MESSAGES);
            for line in &self.messages[from..] {
                writeln!(out, "{line}")?;
            }
            writeln!(
                out,
                "\nCtrl-C stops the demo (its objects are deleted first)"
            )?;
        } else {
            let stamp = self.stamp();
            for (header, rows) in [(&NODE_HEADER[..], &nodes), (&POD_HEADER[..], &pods)] {
                for row in rows.iter() {
                    let now: Vec<String> =
                        row.without_age().into_iter().map(str::to_owned).collect();
                    if self.printed.get(&row.key) == Some(&now) {
                        continue;
                    }
                    if self.headers.insert(header.join(" ")) {
                        // A fixed layout keeps the lines of a kind aligned.
                        writeln!(out, "{:>7}  {}", "", watch_line(header, header))?;
                    }
                    let cells: Vec<&str> = row.cells.iter().map(String::as_str).collect();
                    writeln!(out, "{stamp}  {}", watch_line(header, &cells))?;
                    self.printed.insert(row.key.clone(), now);
                }
            }
            let keys: BTreeSet<&String> = nodes.iter().chain(&pods).map(|r| &r.key).collect();
            let gone: Vec<String> = self
                .printed
                .keys()
                .filter(|k| !keys.contains(k))
                .cloned()
                .collect();
            for key in gone {
                writeln!(out, "{stamp}  {key} deleted")?;
                self.printed.remove(&key);
            }
            for (i, line) in summary.iter().enumerate() {
                if self.printed_summary.get(i) != Some(line) {
                    writeln!(out, "{stamp}  {line}")?;
                }
            }
            self.printed_summary = summary;
            if self.error != self.printed_error {
                if let Some(e) = &self.error {
                    writeln!(out, "{stamp}  kubectl: {e}")?;
                }
                self.printed_error.clone_from(&self.error);
            }
        }
        out.flush()?;
        Ok(())
    }
}

/// A row in the fixed widths of a watch stream.
fn watch_line(header: &[&str], cells: &[&str]) -> String {
    let widths: &[usize] = if header.len() == NODE_HEADER.len() {
        &[28, 9, 8, 6, 0]
    } else {
        &[28, 6, 18, 9, 6, 0]
    };
    let padded: Vec<String> = cells
        .iter()
        .zip(widths)
        .map(|(cell, w)| format!("{cell:<w$}"))
        .collect();
    padded.join(" ").trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn pod_status_as_kubectl_prints_it() {
        let creating = pod(r#"{"spec":{"containers":[{"name":"a"}]},
            "status":{"phase":"Pending","containerStatuses":[{"name":"a","ready":false,
              "restartCount":0,"state":{"waiting":{"reason":"ContainerCreating"}}}]}}"#);
        assert_eq!(
            pod_columns(&creating),
            (0, 1, 0, "ContainerCreating".into())
        );
        let running = pod(r#"{"spec":{"containers":[{"name":"a"}]},
            "status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}],
              "containerStatuses":[{"name":"a","ready":true,"restartCount":2,
              "state":{"running":{}}}]}}"#);
        assert_eq!(pod_columns(&running), (1, 1, 2, "Running".into()));
        let done = pod(r#"{"spec":{"containers":[{"name":"a"}]},
            "status":{"phase":"Succeeded","containerStatuses":[{"name":"a","ready":false,
              "restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}}"#);
        assert_eq!(pod_columns(&done), (0, 1, 0, "Completed".into()));
        let terminating = pod(r#"{"metadata":{"deletionTimestamp":"2026-11-28T07:26:02Z"},
            "spec":{"containers":[{"name":"a"}]},
            "status":{"phase":"Running","containerStatuses":[{"name":"a","ready":true,
              "restartCount":0,"state":{"running":{}}}]}}"#);
        assert_eq!(pod_columns(&terminating).3, "Terminating");
        let init = pod(
            r#"{"spec":{"initContainers":[{"name":"i"}],"containers":[{"name":"a"}]},
            "status":{"phase":"Pending","initContainerStatuses":[{"name":"i","ready":false,
              "restartCount":0,"state":{"running":{}}}]}}"#,
        );
        assert_eq!(pod_columns(&init).3, "Init:0/1");
        let pending = pod(r#"{"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Pending"}}"#);
        assert_eq!(pod_columns(&pending), (0, 1, 0, "Pending".into()));
    }

    #[test]
    fn state_picks_the_demo_objects() {
        let list = pod(&format!(
            r#"{{"items":[
              {{"kind":"Node","metadata":{{"name":"{NODE_NAME}","creationTimestamp":"2026-11-28T07:26:02Z"}},
                "status":{{"conditions":[{{"type":"Ready","status":"True"}}],
                  "nodeInfo":{{"kubeletVersion":"v1.37.2+nodelet.0.1.0"}}}}}},
              {{"kind":"Node","metadata":{{"name":"other"}}}},
              {{"kind":"Pod","metadata":{{"name":"b","labels":{{"app":"{DEPLOYMENT}",
                "app.kubernetes.io/part-of":"{PART_OF}"}}}},
                "status":{{"conditions":[{{"type":"Ready","status":"True"}}]}}}},
              {{"kind":"Pod","metadata":{{"name":"a","labels":{{"app":"{DEPLOYMENT}",
                "app.kubernetes.io/part-of":"{PART_OF}"}}}},
                "status":{{"conditions":[{{"type":"Ready","status":"False"}}]}}}},
              {{"kind":"Pod","metadata":{{"name":"not-ours"}}}},
              {{"kind":"Job","metadata":{{"name":"{JOB}"}},
                "status":{{"conditions":[{{"type":"Complete","status":"True"}}]}}}}]}}"#
        ));
        let state = State::from_list(&list);
        let names: Vec<&str> = state
            .pods
            .iter()
            .map(|p| str_at(p, "/metadata/name"))
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert!(state.job_complete());
        assert!(!state.web_settled(2), "a is not ready");
        assert!(!state.web_settled(1));
        let now = parse_time("2026-11-28T07:27:02Z").unwrap();
        let (nodes, _) = state.rows(now);
        assert_eq!(
            nodes[0].cells,
            [NODE_NAME, "Ready", "<none>", "60s", "v1.37.2+nodelet.0.1.0"]
        );
        assert_eq!(nodes[0].without_age().len(), 4);
    }

    #[test]
    fn workload_has_the_token_setting_in_both_templates() {
        for automount in [true, false] {
            let text = workload(automount);
            let setting = format!("automountServiceAccountToken: {automount}");
            assert_eq!(text.matches(&setting).count(), 2, "{text}");
            assert!(text.contains("${#TOKEN}"), "{text}");
        }
    }
}
