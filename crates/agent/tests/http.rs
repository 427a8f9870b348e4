//! The HTTP endpoints on a real socket (checklist HT-03, HT-08, HT-09, HT-11).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use agent::config::KubeletConfiguration;
use agent::http::{Endpoints, HealthCheck, HttpServer, HttpState, ServerPlan};
use agent::metrics::KubeletMetrics;
use agent::static_pods::{SourceError, StaticPodSource};
use axum::body::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use k8s_openapi::api::core::v1::Pod;
use kubelet_server::NodeApi;

struct FakeAgent {
    pods: Vec<Pod>,
    pleg: Mutex<Result<(), String>>,
    metrics: KubeletMetrics,
    errors: Vec<SourceError>,
    config: KubeletConfiguration,
}

impl NodeApi for FakeAgent {
    fn pods(&self) -> Vec<Pod> {
        self.pods.clone()
    }
    fn healthz(&self) -> Vec<HealthCheck> {
        vec![HealthCheck::new("pleg", self.pleg.lock().unwrap().clone())]
    }
    fn metrics(&self) -> String {
        self.metrics.render()
    }
    fn configz(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap()
    }
}

impl HttpState for FakeAgent {
    fn errors(&self) -> Vec<SourceError> {
        self.errors.clone()
    }
}

/// A plain server plan on a free loopback port.
fn plan(endpoints: Endpoints) -> ServerPlan {
    ServerPlan {
        addr: "127.0.0.1:0".parse().unwrap(),
        endpoints,
        secure: false,
    }
}

/// A fake agent whose pods come from a real static pod directory.
fn fake_agent() -> Arc<FakeAgent> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("web.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  \
         - name: web\n    image: busybox\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "apiVersion: v1\nkind: Pod\n").unwrap();
    let snapshot = StaticPodSource::new(dir.path(), "node-1").scan();
    let metrics = KubeletMetrics::new("node-1");
    metrics.running_pods.set(1);
    metrics
        .running_containers
        .with_label_values(&["running"])
        .set(1);
    metrics
        .pod_worker_duration_seconds
        .with_label_values(&["create"])
        .observe(0.3);
    metrics
        .runtime_operations_duration_seconds
        .with_label_values(&["RunPodSandbox"])
        .observe(0.2);
    metrics.pleg_relist_duration_seconds.observe(0.01);
    metrics.pod_start_duration_seconds.observe(1.5);
    // A labelled family is exposed once it has a series (as with the Go client the kubelet
    // uses), so the agent has done a bit of everything.
    metrics
        .pod_start_sli_duration_seconds
        .with_label_values(&["true"])
        .observe(1.2);
    metrics
        .runtime_operations_total
        .with_label_values(&["RunPodSandbox"])
        .inc();
    metrics
        .runtime_operations_errors_total
        .with_label_values(&["RunPodSandbox"]);
    metrics
        .started_containers_total
        .with_label_values(&["container"])
        .inc();
    metrics.restarted_pods_total.with_label_values(&["true"]);
    Arc::new(FakeAgent {
        pods: snapshot.pods,
        pleg: Mutex::new(Ok(())),
        metrics,
        errors: snapshot.errors,
        config: KubeletConfiguration {
            static_pod_path: Some(PathBuf::from("/etc/kubernetes/manifests")),
            max_pods: 30,
            ..KubeletConfiguration::default()
        },
    })
}

struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<agent::Result<()>>,
}

impl Running {
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

async fn start(state: Arc<FakeAgent>, endpoints: Endpoints) -> Running {
    let server = HttpServer::bind(plan(endpoints), None).await.unwrap();
    let addr = server.local_addr();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(state, true, async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        task,
    }
}

/// GET `path`; returns the status, the content type and the body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri = format!("http://{addr}{path}").parse().unwrap();
    let response = client.get(uri).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn ht_03_pods_returns_pod_list() {
    let server = start(fake_agent(), Endpoints::Full).await;
    let (status, content_type, body) = get(server.addr, "/pods").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["kind"], "PodList");
    assert_eq!(list["apiVersion"], "v1");
    assert_eq!(list["metadata"], serde_json::json!({}));
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["metadata"]["name"], "web-node-1");
    assert_eq!(
        items[0]["metadata"]["annotations"]["kubernetes.io/config.source"],
        "file"
    );
    // It decodes as a typed v1.PodList, too.
    let typed: k8s_openapi::List<Pod> = serde_json::from_str(&body).unwrap();
    assert_eq!(typed.items.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn ht_09_metrics_names() {
    let server = start(fake_agent(), Endpoints::Full).await;
    let (status, content_type, body) = get(server.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );

    // A minimal exposition-format parser: every line is a comment or `name{labels} value`.
    let mut types = std::collections::HashMap::new();
    let mut samples = Vec::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            types.insert(name.to_owned(), kind.to_owned());
        } else if line.starts_with("# HELP ") {
            continue;
        } else {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            };
            let name = series.split('{').next().unwrap();
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "{line}"
            );
            samples.push((series.to_owned(), value));
        }
    }
    for (name, kind) in [
        ("kubelet_running_pods", "gauge"),
        ("kubelet_running_containers", "gauge"),
        ("kubelet_pod_worker_duration_seconds", "histogram"),
        ("kubelet_pod_start_duration_seconds", "histogram"),
        ("kubelet_pod_start_sli_duration_seconds", "histogram"),
        ("kubelet_runtime_operations_total", "counter"),
        ("kubelet_runtime_operations_duration_seconds", "histogram"),
        ("kubelet_runtime_operations_errors_total", "counter"),
        ("kubelet_pleg_relist_duration_seconds", "histogram"),
        ("kubelet_started_containers_total", "counter"),
        ("kubelet_restarted_pods_total", "counter"),
        ("kubelet_node_name", "gauge"),
    ] {
        assert_eq!(types.get(name).map(String::as_str), Some(kind), "{name}");
    }
    let sample = |series: &str| {
        samples
            .iter()
            .find(|(s, _)| s == series)
            .unwrap_or_else(|| panic!("{series} missing from:\n{body}"))
            .1
    };
    assert_eq!(sample("kubelet_running_pods"), 1.0);
    assert_eq!(
        sample("kubelet_running_containers{container_state=\"running\"}"),
        1.0
    );
    assert_eq!(sample("kubelet_node_name{node=\"node-1\"}"), 1.0);
    assert_eq!(
        sample("kubelet_pod_worker_duration_seconds_bucket{operation_type=\"create\",le=\"0.25\"}"),
        0.0
    );
    assert_eq!(
        sample("kubelet_pod_worker_duration_seconds_bucket{operation_type=\"create\",le=\"0.5\"}"),
        1.0
    );
    assert_eq!(
        sample("kubelet_pod_worker_duration_seconds_bucket{operation_type=\"create\",le=\"+Inf\"}"),
        1.0
    );
    assert_eq!(
        sample("kubelet_pod_worker_duration_seconds_count{operation_type=\"create\"}"),
        1.0
    );
    assert_eq!(
        sample("kubelet_runtime_operations_duration_seconds_sum{operation_type=\"RunPodSandbox\"}"),
        0.2
    );
    assert_eq!(sample("kubelet_pleg_relist_duration_seconds_count"), 1.0);
    server.stop().await;
}

#[tokio::test]
async fn healthz_ok_and_failing() {
    let state = fake_agent();
    let server = start(Arc::clone(&state), Endpoints::Full).await;
    assert_eq!(
        get(server.addr, "/healthz").await,
        (200, "text/plain; charset=utf-8".into(), "ok".into())
    );
    let (status, _, body) = get(server.addr, "/healthz?verbose").await;
    assert_eq!(status, 200);
    assert_eq!(body, "[+]ping ok\n[+]pleg ok\nhealthz check passed\n");

    *state.pleg.lock().unwrap() =
        Err("pleg was last seen active 3m0.5s ago; threshold is 3m0s".into());
    let (status, _, body) = get(server.addr, "/healthz").await;
    assert_eq!(status, 500);
    assert_eq!(
        body,
        "[+]ping ok\n[-]pleg failed: pleg was last seen active 3m0.5s ago; threshold is 3m0s\n\
         healthz check failed\n"
    );
    server.stop().await;
}

#[tokio::test]
async fn errors_lists_refused_manifests() {
    let server = start(fake_agent(), Endpoints::Full).await;
    let (status, content_type, body) = get(server.addr, "/errors").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    let errors: serde_json::Value = serde_json::from_str(&body).unwrap();
    let errors = errors.as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(errors[0]["file"].as_str().unwrap().ends_with("/bad.yaml"));
    assert_eq!(
        errors[0]["reason"],
        "invalid pod: name is needed for the pod"
    );
    server.stop().await;
}

#[tokio::test]
async fn ht_11_configz_returns_the_effective_configuration() {
    let server = start(fake_agent(), Endpoints::Full).await;
    let (status, _, body) = get(server.addr, "/configz").await;
    assert_eq!(status, 200);
    let configz: serde_json::Value = serde_json::from_str(&body).unwrap();
    let config = &configz["kubeletconfig"];
    assert_eq!(config["maxPods"], 30);
    assert_eq!(config["staticPodPath"], "/etc/kubernetes/manifests");
    assert_eq!(config["syncFrequency"], "1m0s");
    assert_eq!(config["readOnlyPort"], 0);
    server.stop().await;
}

#[tokio::test]
async fn ht_08_read_only_and_healthz_servers_serve_less() {
    let state = fake_agent();
    let read_only = start(Arc::clone(&state), Endpoints::ReadOnly).await;
    assert_eq!(get(read_only.addr, "/pods").await.0, 200);
    assert_eq!(get(read_only.addr, "/metrics").await.0, 200);
    assert_eq!(get(read_only.addr, "/healthz").await.0, 200);
    assert_eq!(get(read_only.addr, "/configz").await.0, 404);
    assert_eq!(get(read_only.addr, "/errors").await.0, 404);
    read_only.stop().await;

    let healthz = start(Arc::clone(&state), Endpoints::Healthz).await;
    assert_eq!(get(healthz.addr, "/healthz").await.0, 200);
    assert_eq!(get(healthz.addr, "/pods").await.0, 404);
    healthz.stop().await;
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let server = start(fake_agent(), Endpoints::Full).await;
    let (status, _, body) = get(server.addr, "/nope").await;
    assert_eq!((status, body.as_str()), (404, "404 page not found\n"));
    server.stop().await;
}

#[tokio::test]
async fn bind_errors_name_the_address() {
    let first = HttpServer::bind(plan(Endpoints::Healthz), None)
        .await
        .unwrap();
    let taken = ServerPlan {
        addr: first.local_addr(),
        ..plan(Endpoints::Healthz)
    };
    let err = HttpServer::bind(taken, None).await.unwrap_err().to_string();
    assert!(err.contains(&first.local_addr().to_string()), "{err}");
}

/// An agent whose probes ran: one readiness probe succeeded twice, one liveness probe
/// failed once.
struct ProbedAgent {
    inner: Arc<FakeAgent>,
    probes: probes::metrics::ProbeMetrics,
}

impl NodeApi for ProbedAgent {
    fn pods(&self) -> Vec<Pod> {
        self.inner.pods()
    }
    fn healthz(&self) -> Vec<HealthCheck> {
        self.inner.healthz()
    }
    fn metrics(&self) -> String {
        self.inner.metrics()
    }
    fn probe_metrics(&self) -> String {
        self.probes.render()
    }
    fn configz(&self) -> serde_json::Value {
        self.inner.configz()
    }
}

impl HttpState for ProbedAgent {
    fn errors(&self) -> Vec<SourceError> {
        self.inner.errors()
    }
}

async fn start_state(state: Arc<dyn HttpState>, endpoints: Endpoints) -> Running {
    let server = HttpServer::bind(plan(endpoints), None).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(state, true, async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        task,
    }
}

#[tokio::test]
async fn pr_22_metrics_probes_serves_the_probe_metrics() {
    use probes::metrics::{MetricResult, ProbeLabels};
    use probes::{PodRef, ProbeKind};

    let metrics = probes::metrics::ProbeMetrics::new();
    let pod = PodRef {
        uid: "uid-1".into(),
        namespace: "default".into(),
        name: "web-node-1".into(),
    };
    let readiness = ProbeLabels::new(&pod, "web", ProbeKind::Readiness);
    let liveness = ProbeLabels::new(&pod, "web", ProbeKind::Liveness);
    metrics.record(
        &readiness,
        MetricResult::Successful,
        Some(std::time::Duration::from_millis(3)),
    );
    metrics.record(
        &readiness,
        MetricResult::Successful,
        Some(std::time::Duration::from_millis(30)),
    );
    metrics.record(&liveness, MetricResult::Failed, None);
    let state: Arc<dyn HttpState> = Arc::new(ProbedAgent {
        inner: fake_agent(),
        probes: metrics,
    });

    for endpoints in [Endpoints::Full, Endpoints::ReadOnly] {
        let server = start_state(Arc::clone(&state), endpoints).await;
        let (status, content_type, body) = get(server.addr, "/metrics/probes").await;
        assert_eq!(status, 200, "{endpoints:?}");
        assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
        assert!(
            body.contains("# TYPE prober_probe_total counter\n"),
            "{body}"
        );
        assert!(
            body.contains(
                "prober_probe_total{container=\"web\",namespace=\"default\",pod=\"web-node-1\",\
                 pod_uid=\"uid-1\",probe_type=\"Readiness\",result=\"successful\"} 2\n"
            ),
            "{body}"
        );
        assert!(
            body.contains(
                "prober_probe_total{container=\"web\",namespace=\"default\",pod=\"web-node-1\",\
                 pod_uid=\"uid-1\",probe_type=\"Liveness\",result=\"failed\"} 1\n"
            ),
            "{body}"
        );
        assert!(
            body.contains(
                "prober_probe_duration_seconds_count{container=\"web\",namespace=\"default\",\
                 pod=\"web-node-1\",probe_type=\"Readiness\"} 2\n"
            ),
            "{body}"
        );
        // The kubelet metrics stay on /metrics, apart.
        let (_, _, kubelet) = get(server.addr, "/metrics").await;
        assert!(!kubelet.contains("prober_probe_total"), "{kubelet}");
        assert!(!body.contains("kubelet_"), "{body}");
        server.stop().await;
    }

    // Not on the healthz server; empty (the trait's default) for an agent without probes.
    let healthz = start_state(Arc::clone(&state), Endpoints::Healthz).await;
    assert_eq!(get(healthz.addr, "/metrics/probes").await.0, 404);
    healthz.stop().await;
    let no_probes = start(fake_agent(), Endpoints::Full).await;
    assert_eq!(
        get(no_probes.addr, "/metrics/probes").await,
        (
            200,
            "text/plain; version=0.0.4; charset=utf-8".into(),
            String::new()
        )
    );
    no_probes.stop().await;
}
