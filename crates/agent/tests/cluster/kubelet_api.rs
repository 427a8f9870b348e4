//! The kubelet API on the node's port, reached the way users reach it: the real kubectl
//! through the real API server (`kubectl logs/exec/attach/port-forward/cp`,
//! `kubectl get --raw .../proxy/...`), and directly with a kubeconfig that points at the
//! node for authentication and authorization (checklist HT-01, HT-02, HT-05, HT-06).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{ClusterNode, bound_pod};

/// A busybox container running `script` with `sh -c`.
fn shell(name: &str, script: &str) -> Value {
    json!({
        "name": name,
        "image": test_env::busybox_image(),
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", script],
    })
}

/// What a finished kubectl gave back.
struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl ClusterNode {
    /// Runs the admin's kubectl with `args` and `input` on its stdin; never panics on a
    /// non-zero exit.
    fn kubectl_output(&self, args: &[&str], input: Option<&str>) -> Output {
        let mut command = self.cluster.kubectl_command();
        run(command.args(args), input)
    }

    /// A kubeconfig that talks to this node's kubelet API directly (not through the API
    /// server), with `user` fields (`token: ...`).
    fn direct_kubeconfig(&self, file: &str, user: &str) -> std::path::PathBuf {
        let path = self.test_dir().join(file);
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: node\n  cluster:\n    \
             server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\n\
             users:\n- name: u\n  user: {{{user}}}\ncontexts:\n- name: c\n  context: \
             {{cluster: node, user: u}}\ncurrent-context: c\n",
            port = self.port,
        );
        std::fs::write(&path, text).expect("writing a kubeconfig");
        path
    }

    /// `kubectl get --raw path` against the node directly with `kubeconfig`.
    fn raw_direct(&self, kubeconfig: &std::path::Path, path: &str) -> Output {
        let kubectl = self.cluster.kubectl_path();
        run(
            Command::new(kubectl)
                .arg("--kubeconfig")
                .arg(kubeconfig)
                .args(["--request-timeout=10s", "get", "--raw", path]),
            None,
        )
    }

    /// A running pod `name` in the test's namespace with `containers`, once Ready.
    fn running_pod(&mut self, name: &str, containers: Value) -> String {
        let ns = self.namespace();
        let node = self.name.clone();
        self.create(&bound_pod(&ns, name, &node, containers, json!([])));
        self.wait_pod_ready(&ns, name, Duration::from_secs(30));
        ns
    }
}

fn run(command: &mut Command, input: Option<&str>) -> Output {
    let mut child = command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting kubectl");
    if let Some(input) = input {
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("writing stdin");
    }
    let out = child.wait_with_output().expect("kubectl's output");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `kubectl logs` with `--tail`, `--timestamps`, `--since`, `--previous` and `-f`, through
/// the API server to nodelet's `/containerLogs`.
#[test]
fn cluster_ht_05_kubectl_logs_tail_timestamps_since_previous_follow() {
    let Some(mut node) = ClusterNode::new("c-logs", "") else {
        return;
    };
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let ns = node.running_pod(
        "talker",
        json!([
            shell(
                "counter",
                "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done"
            ),
            shell("crasher", "echo boot; sleep 1; exit 1"),
        ]),
    );
    // Enough lines for a tail.
    std::thread::sleep(Duration::from_secs(2));

    let tail = node.kubectl(&["logs", "talker", "-n", &ns, "-c", "counter", "--tail", "3"]);
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), 3, "--tail 3: {tail:?}");
    let numbers: Vec<u64> = lines
        .iter()
        .map(|l| {
            l.trim_start_matches("line ")
                .parse()
                .expect("a counter line")
        })
        .collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
    assert!(
        numbers[0] >= 5,
        "the tail is the end of the log: {numbers:?}"
    );

    let stamped = node.kubectl(&[
        "logs",
        "talker",
        "-n",
        &ns,
        "-c",
        "counter",
        "--tail",
        "2",
        "--timestamps",
    ]);
    for line in stamped.lines() {
        let (stamp, rest) = line.split_once(' ').expect("timestamp and line");
        stamp
            .parse::<jiff::Timestamp>()
            .unwrap_or_else(|e| panic!("{stamp:?} is not an RFC 3339 time: {e}"));
        assert!(rest.starts_with("line "), "{line:?}");
    }

    // --since: the last second holds a few lines, not all of them.
    let all = node.kubectl(&["logs", "talker", "-n", &ns, "-c", "counter"]);
    let recent = node.kubectl(&["logs", "talker", "-n", &ns, "-c", "counter", "--since=1s"]);
    let (all_n, recent_n) = (all.lines().count(), recent.lines().count());
    assert!(
        recent_n >= 1 && recent_n < all_n,
        "--since=1s gave {recent_n} of {all_n} lines"
    );

    // --previous: the crasher's last run.
    node.wait("the crasher restarted", Duration::from_secs(60), || {
        let pod = node.get("pod", "talker", Some(&ns)).ok_or("no pod")?;
        let restarts = pod["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == "crasher")
            .and_then(|c| c["restartCount"].as_u64())
            .unwrap_or(0);
        (restarts >= 1)
            .then_some(())
            .ok_or(format!("restarts {restarts}"))
    });
    let previous = node.kubectl(&["logs", "talker", "-n", &ns, "-c", "crasher", "--previous"]);
    assert_eq!(previous.trim(), "boot", "--previous");
    let missing = node.kubectl_output(
        &["logs", "talker", "-n", &ns, "-c", "counter", "--previous"],
        None,
    );
    assert_ne!(missing.code, Some(0));
    assert!(
        missing
            .stderr
            .contains(r#"previous terminated container "counter" in pod "talker" not found"#),
        "{}",
        missing.stderr
    );

    // A finished pod's log stays readable (the kubelet keeps its containers until the pod
    // is deleted).
    let mut done = bound_pod(
        &ns,
        "done",
        &node.name.clone(),
        json!([shell("once", "echo finished")]),
        json!([]),
    );
    done["spec"]["restartPolicy"] = json!("Never");
    node.create(&done);
    node.wait("the pod to succeed", Duration::from_secs(30), || {
        let pod = node.get("pod", "done", Some(&ns)).ok_or("no pod")?;
        (pod["status"]["phase"] == "Succeeded")
            .then_some(())
            .ok_or(format!("phase {}", pod["status"]["phase"]))
    });
    std::thread::sleep(Duration::from_secs(3));
    let finished = node.kubectl(&["logs", "done", "-n", &ns]);
    assert_eq!(finished, "finished", "the log of a finished pod");

    // -f: new lines arrive while the request is open.
    let mut follow = node
        .cluster
        .kubectl_command()
        .args([
            "logs", "-f", "talker", "-n", &ns, "-c", "counter", "--tail", "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl logs -f");
    let stdout = follow.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut seen = Vec::new();
    while seen.len() < 6 && started.elapsed() < Duration::from_secs(8) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            seen.push(line);
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(seen.len() >= 6, "-f gave {seen:?}");
    let spread = seen.last().unwrap().0 - seen[0].0;
    assert!(
        spread >= Duration::from_millis(600),
        "lines came as they were written, not at once: {spread:?}"
    );
    eprintln!("kubectl logs -f: {} lines over {spread:?}", seen.len());
}

/// `kubectl exec -i` passes stdin in and the exit code back; `kubectl exec -t` in a
/// terminal passes its size (the resize stream); `kubectl cp` both ways.
#[test]
fn cluster_ht_06_kubectl_exec_stdin_exit_code_tty_resize_and_cp() {
    let Some(mut node) = ClusterNode::new("c-exec", "") else {
        return;
    };
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let ns = node.running_pod(
        "shell",
        json!([shell("main", "trap 'exit 0' TERM; sleep 3600 & wait")]),
    );

    let started = Instant::now();
    let out = node.kubectl_output(
        &[
            "exec",
            "-i",
            "shell",
            "-n",
            &ns,
            "-c",
            "main",
            "--",
            "sh",
            "-c",
            "tr a-z A-Z; exit 3",
        ],
        Some("hello from stdin\n"),
    );
    eprintln!("kubectl exec -i: {:?}", started.elapsed());
    assert_eq!(out.stdout, "HELLO FROM STDIN\n", "stderr: {}", out.stderr);
    assert_eq!(
        out.code,
        Some(3),
        "the exit code comes back: {}",
        out.stderr
    );

    // A terminal of 33 rows and 77 columns, resized to 40 x 100 during the session:
    // kubectl sends the size on the resize stream at the start and on SIGWINCH, which the
    // kernel sends it when `stty` changes the terminal's size. The container waits (at
    // most 10 s each) for each size to reach its terminal.
    let wait_size = |want: &str, tag: &str| {
        format!(
            "i=0; W=; while [ \"$W\" != \"{want}\" ] && [ $i -lt 100 ]; do \
             W=$(stty size); i=$((i+1)); sleep 0.1; done; echo {tag}:$W;"
        )
    };
    let in_container = format!(
        "{} {}",
        wait_size("33 77", "first"),
        wait_size("40 100", "second")
    );
    let inner = format!(
        "stty rows 33 cols 77; {kubectl} --kubeconfig {kubeconfig} exec -it shell -n {ns} \
         -c main -- sh -c '{in_container}' < /dev/tty & sleep 3; stty rows 40 cols 100; wait",
        kubectl = node.cluster.kubectl_path().display(),
        kubeconfig = node.cluster.admin_kubeconfig().display(),
    );
    let tty = run(
        Command::new("timeout").args(["60", "script", "-qec", &inner, "/dev/null"]),
        None,
    );
    assert!(
        tty.stdout.contains("first:33 77") && tty.stdout.contains("second:40 100"),
        "the container's terminal size: {:?} (stderr {:?})",
        tty.stdout,
        tty.stderr
    );

    // kubectl cp, both ways (tar through exec).
    let local = node.test_dir().join("to-pod.txt");
    std::fs::write(&local, "copied in\n").unwrap();
    let target = format!("{ns}/shell:/tmp/in.txt");
    node.kubectl(&["cp", &local.display().to_string(), &target, "-c", "main"]);
    let inside = node.kubectl(&[
        "exec",
        "shell",
        "-n",
        &ns,
        "-c",
        "main",
        "--",
        "cat",
        "/tmp/in.txt",
    ]);
    assert_eq!(inside, "copied in");
    let back = node.test_dir().join("from-pod.txt");
    node.kubectl(&["cp", &target, &back.display().to_string(), "-c", "main"]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "copied in\n");
}

/// `kubectl attach -i` to a container that reads its stdin (`stdinOnce`).
#[test]
fn cluster_ht_06_kubectl_attach() {
    let Some(mut node) = ClusterNode::new("c-attach", "") else {
        return;
    };
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let mut reader = shell(
        "reader",
        "while read line; do echo got:$line; done; echo bye",
    );
    reader["stdin"] = json!(true);
    reader["stdinOnce"] = json!(true);
    let ns = node.running_pod("attached", json!([reader]));
    let out = node.kubectl_output(
        &["attach", "-i", "attached", "-n", &ns, "-c", "reader"],
        Some("one\ntwo\n"),
    );
    assert!(
        out.stdout.contains("got:one") && out.stdout.contains("got:two"),
        "attach output {:?} (stderr {:?})",
        out.stdout,
        out.stderr
    );
}

/// `kubectl port-forward`, then an HTTP request through the forwarded port.
#[test]
fn cluster_ht_06_kubectl_port_forward() {
    let Some(mut node) = ClusterNode::new("c-portfwd", "") else {
        return;
    };
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let ns = node.running_pod(
        "web",
        json!([shell(
            "httpd",
            "mkdir -p /www && echo hello-through-port-forward > /www/index.html && exec httpd -f -p 8080 -h /www"
        )]),
    );
    let mut forward = node
        .cluster
        .kubectl_command()
        .args(["port-forward", "-n", &ns, "pod/web", ":8080"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl port-forward");
    let mut stdout = BufReader::new(follow_stdout(&mut forward));
    let mut line = String::new();
    let port: u16 = loop {
        line.clear();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            let mut err = String::new();
            let _ = forward
                .stderr
                .take()
                .map(|mut e| e.read_to_string(&mut err));
            let _ = forward.kill();
            panic!("port-forward ended: {err}");
        }
        // "Forwarding from 127.0.0.1:PORT -> 8080"
        if let Some(rest) = line.strip_prefix("Forwarding from 127.0.0.1:") {
            break rest
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
                .expect("a local port");
        }
    };
    let response = test_env::http_get(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        "/index.html",
    );
    let _ = forward.kill();
    let _ = forward.wait();
    let (code, body) = response.expect("GET through the forwarded port");
    assert_eq!(code, 200);
    assert_eq!(body.trim(), "hello-through-port-forward");
}

fn follow_stdout(child: &mut std::process::Child) -> std::process::ChildStdout {
    child.stdout.take().expect("stdout")
}

/// Authentication and authorization on the node's port: anonymous gets 401; a service
/// account (a bearer token, reviewed by the API server) without `nodes/proxy` gets 403
/// with the kubelet's text, and 200 once granted; `/stats/summary` is authorized as
/// `stats` and `/metrics` as `metrics`; the API server's client certificate passes
/// (kubectl get --raw through the proxy).
#[test]
fn cluster_ht_01_ht_02_authentication_and_authorization() {
    let Some(mut node) = ClusterNode::new("c-authz", "") else {
        return;
    };
    node.start_cluster(&[]);
    node.wait_node_ready("True", Duration::from_secs(15));
    let ns = node.namespace();
    let name = node.name.clone();

    // Anonymous: 401 on every path.
    // (A user with only a name and no password: kubectl would otherwise prompt for one;
    // the kubelet treats the request as carrying no credentials.)
    let anonymous = node.direct_kubeconfig("anonymous.yaml", "username: anonymous");
    for path in [
        "/healthz",
        "/pods",
        "/runningpods/",
        "/stats/summary",
        "/metrics",
        "/metrics/resource",
        "/metrics/cadvisor",
        "/configz",
        "/errors",
        "/containerLogs/default/x/y",
        "/logs/",
        "/no-such-path",
    ] {
        let out = node.raw_direct(&anonymous, path);
        assert_ne!(
            out.code,
            Some(0),
            "{path} answered anonymous: {}",
            out.stdout
        );
        // kubectl's words for a 401.
        assert!(
            out.stderr.contains("Unauthorized")
                || out
                    .stderr
                    .contains("the server has asked for the client to provide credentials"),
            "{path}: anonymous gets 401: {}",
            out.stderr
        );
    }

    // A service account: authenticated by TokenReview, denied by SubjectAccessReview.
    let token = node.kubectl(&["create", "token", "default", "-n", &ns]);
    let user = format!("system:serviceaccount:{ns}:default");
    let with_token = node.direct_kubeconfig("token.yaml", &format!("token: {token}"));
    for (path, subresources) in [
        ("/pods", "[pods proxy]"),
        ("/stats/summary", "[stats]"),
        ("/metrics", "[metrics]"),
        ("/healthz", "[healthz proxy]"),
        ("/logs/", "[log]"),
    ] {
        let out = node.raw_direct(&with_token, path);
        assert_ne!(out.code, Some(0), "{path} answered without permission");
        let expected = format!(
            "Forbidden (user={user}, verb=get, resource=nodes, subresource(s)={subresources})"
        );
        assert!(out.stderr.contains(&expected), "{path}: {}", out.stderr);
    }

    // Granted nodes/proxy and nodes/stats: the same token now passes.
    let role = format!("{name}-proxy");
    node.also_delete
        .push(vec!["clusterrole".into(), role.clone()]);
    node.also_delete
        .push(vec!["clusterrolebinding".into(), role.clone()]);
    node.kubectl(&[
        "create",
        "clusterrole",
        &role,
        "--verb=get,create",
        "--resource=nodes/proxy,nodes/stats",
    ]);
    node.kubectl(&[
        "create",
        "clusterrolebinding",
        &role,
        "--clusterrole",
        &role,
        "--serviceaccount",
        &format!("{ns}:default"),
    ]);
    node.wait(
        "the grant to reach the node",
        Duration::from_secs(60),
        || {
            // Denials are cached for 30 s (cacheUnauthorizedTTL).
            let out = node.raw_direct(&with_token, "/pods");
            (out.code == Some(0)).then_some(()).ok_or(out.stderr)
        },
    );
    let pods: Value =
        serde_json::from_str(&node.raw_direct(&with_token, "/pods").stdout).expect("a PodList");
    assert_eq!(pods["kind"], "PodList");

    // The API server's client certificate (x509 against the cluster CA).
    let through_proxy =
        node.kubectl(&["get", "--raw", &format!("/api/v1/nodes/{name}/proxy/pods")]);
    let pods: Value = serde_json::from_str(&through_proxy).expect("a PodList");
    assert_eq!(pods["kind"], "PodList");
    let healthz = node.kubectl(&[
        "get",
        "--raw",
        &format!("/api/v1/nodes/{name}/proxy/healthz"),
    ]);
    assert_eq!(healthz, "ok");
}

/// The paths of `summary`'s node part and of the pod named `pod` in it, for comparison
/// (array elements collapsed; the pod's part prefixed `pod.`).
fn summary_fields(summary: &Value, pod: &str) -> std::collections::BTreeSet<String> {
    let mut fields: std::collections::BTreeSet<String> =
        kubelet_server::stats::field_paths(&summary["node"])
            .into_iter()
            .map(|f| format!("node.{f}"))
            .collect();
    let ours = summary["pods"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["podRef"]["name"] == pod)
        .unwrap_or_else(|| panic!("pod {pod} in the summary: {summary}"));
    fields.extend(
        kubelet_server::stats::field_paths(ours)
            .into_iter()
            .map(|f| format!("pod.{f}")),
    );
    fields
}

/// The series names of a Prometheus text.
fn series_names(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// `kubectl get --raw /api/v1/nodes/<node>/proxy/stats/summary`, `/metrics/resource` and
/// `/metrics/cadvisor`, on nodelet's node and on a real kubelet v1.37.2 joined to the same
/// control plane, each running the same pod: nodelet's summary has every field the
/// kubelet's has (node and pod), its resource metrics every series name, and its cAdvisor
/// metrics only series the kubelet's cAdvisor writes, with cAdvisor's labels.
#[test]
fn cluster_ht_04_ht_10_stats_summary_and_resource_metrics_match_the_real_kubelets() {
    let Some(mut node) = ClusterNode::new("c-stats", "") else {
        return;
    };
    let Some(env) = test_env::kubelet::require_reference_env("the stats comparison") else {
        return;
    };
    node.start_cluster(&[]);
    let ns = node.namespace();
    let (reference, mut kubelet) = node.join_reference_kubelet(&env, "cstats");
    node.wait_node_ready("True", Duration::from_secs(10));
    for (pod, host) in [
        ("on-nodelet", node.name.clone()),
        ("on-kubelet", reference.clone()),
    ] {
        let mut container = shell(
            "main",
            "echo hello; dd if=/dev/zero of=/scratch/f bs=1k count=64; trap 'exit 0' TERM; sleep 3600 & wait",
        );
        container["image"] = json!(env.busybox_image);
        container["volumeMounts"] = json!([{ "name": "scratch", "mountPath": "/scratch" }]);
        node.create(&bound_pod(
            &ns,
            pod,
            &host,
            json!([container]),
            json!([{ "name": "scratch", "emptyDir": {} }]),
        ));
    }
    for pod in ["on-nodelet", "on-kubelet"] {
        node.wait_pod_ready(&ns, pod, Duration::from_secs(60));
    }
    let raw = |host: &str, path: &str| {
        node.kubectl(&["get", "--raw", &format!("/api/v1/nodes/{host}/proxy{path}")])
    };
    // The kubelet's stats come from cAdvisor, which sees a new pod's containers only after
    // its next housekeeping (up to ~15 s); wait until both summaries have their pod with
    // its container's CPU.
    let summaries = node.wait(
        "both summaries with their pod's container stats",
        Duration::from_secs(90),
        || {
            let mut out = Vec::new();
            for (host, pod) in [
                (node.name.as_str(), "on-nodelet"),
                (reference.as_str(), "on-kubelet"),
            ] {
                let summary: Value = serde_json::from_str(&raw(host, "/stats/summary"))
                    .map_err(|e| e.to_string())?;
                let has = summary["pods"].as_array().into_iter().flatten().any(|p| {
                    p["podRef"]["name"] == pod
                        && p["containers"][0]["cpu"]["usageCoreNanoSeconds"].is_u64()
                        && p["volume"].is_array()
                });
                if !has {
                    return Err(format!("{host}: {pod} without container stats yet"));
                }
                out.push(summary);
            }
            Ok(out)
        },
    );
    let ours = summary_fields(&summaries[0], "on-nodelet");
    let theirs = summary_fields(&summaries[1], "on-kubelet");
    // The reference kubelet runs its own containerd on a socket of its own, which its
    // cAdvisor (looking for containerd on /run/containerd/containerd.sock) cannot see, so
    // for containers it falls back to the CRI's figures: an `availableBytes` and a
    // `swapAvailableBytes` even without a limit, and no pressure. On a standard install
    // cAdvisor's figures replace them, which is what nodelet reports (no available bytes
    // without a limit, the cgroup's pressure). These two are the only fields allowed to
    // differ that way.
    const CADVISOR_BLIND: [&str; 2] = [
        "pod.containers[].memory.availableBytes",
        "pod.containers[].swap.swapAvailableBytes",
    ];
    let missing: Vec<&String> = theirs
        .difference(&ours)
        .filter(|f| !CADVISOR_BLIND.contains(&f.as_str()))
        .collect();
    let extra: Vec<&String> = ours.difference(&theirs).collect();
    eprintln!(
        "summary fields: kubelet {}, nodelet {}, missing {missing:?}, extra {extra:?}",
        theirs.len(),
        ours.len()
    );
    assert!(
        missing.is_empty(),
        "fields the kubelet's summary has and nodelet's lacks: {missing:#?}"
    );

    let ours = series_names(&raw(&node.name, "/metrics/resource"));
    let theirs = series_names(&raw(&reference, "/metrics/resource"));
    // `container_swap_limit_bytes` is written from `swapAvailableBytes`, present in the
    // kubelet's summary here only for the reason above.
    let missing: Vec<&String> = theirs
        .difference(&ours)
        .filter(|s| s.as_str() != "container_swap_limit_bytes")
        .collect();
    eprintln!("resource metrics: kubelet {theirs:?}, nodelet {ours:?}");
    assert!(
        missing.is_empty(),
        "series the kubelet's /metrics/resource has and nodelet's lacks: {missing:?}"
    );
    for series in [
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
    ] {
        assert!(ours.contains(series), "{series}");
    }

    // /metrics/cadvisor: every series nodelet writes is one the kubelet's cAdvisor writes
    // too (no invented names), and the core ones carry cAdvisor's labels.
    let ours_text = raw(&node.name, "/metrics/cadvisor");
    let theirs_text = raw(&reference, "/metrics/cadvisor");
    let (ours, theirs) = (series_names(&ours_text), series_names(&theirs_text));
    let invented: Vec<&String> = ours.difference(&theirs).collect();
    eprintln!(
        "cadvisor metrics: kubelet {} series names, nodelet {}",
        theirs.len(),
        ours.len()
    );
    assert!(
        invented.is_empty(),
        "series the kubelet's cAdvisor does not write: {invented:?}"
    );
    let line = ours_text
        .lines()
        .find(|l| {
            l.starts_with("container_memory_working_set_bytes{") && l.contains("pod=\"on-nodelet\"")
        })
        .unwrap_or_else(|| panic!("the pod's working set in /metrics/cadvisor:\n{ours_text}"));
    for label in ["container=", "id=", "image=", "name=", "namespace=", "pod="] {
        assert!(line.contains(label), "{label} in {line}");
    }
    let _ = kubelet.stop();
}
