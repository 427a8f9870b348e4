//! Probe worker timing and state rules, in tokio paused time with scripted handlers.

mod support;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Probe};
use probes::events::{MemoryEvents, REASON_PROBE_WARNING, REASON_UNHEALTHY};
use probes::{
    PodStatusFeed, ProbeClock, ProbeKind, ProbeResult, ProbeSettings, ProbeWorker, ResultsCache,
    WorkerHandle,
};
use support::{Scripted, Step, UID, container, pod, probe, running, status, terminated};
use tokio::time::{Instant, sleep};

const T0: Timestamp = Timestamp::constant(1_767_225_600, 0);

struct Setup {
    feed: PodStatusFeed,
    cache: ResultsCache,
    events: MemoryEvents,
    clock: ProbeClock,
    start: Instant,
}

impl Setup {
    fn new() -> Self {
        Setup {
            feed: PodStatusFeed::new(),
            cache: ResultsCache::new(),
            events: MemoryEvents::new(),
            clock: ProbeClock::starting_at(T0),
            start: Instant::now(),
        }
    }

    fn spawn(
        &self,
        container: &Container,
        kind: ProbeKind,
        handler: Arc<Scripted>,
    ) -> WorkerHandle {
        self.spawn_in(&pod(vec![container.clone()]), container, kind, handler)
    }

    fn spawn_in(
        &self,
        pod: &k8s_openapi::api::core::v1::Pod,
        container: &Container,
        kind: ProbeKind,
        handler: Arc<Scripted>,
    ) -> WorkerHandle {
        ProbeWorker::new(
            pod,
            container,
            kind,
            handler,
            &self.feed,
            self.cache.clone(),
        )
        .with_clock(self.clock)
        .with_events(Arc::new(self.events.clone()))
        .spawn()
    }

    fn run(&self, name: &str, id: &str) {
        self.feed.publish(status(vec![running(name, id, T0)]));
    }

    fn result(&self, id: &str, kind: ProbeKind) -> Option<ProbeResult> {
        self.cache.get(UID, id, kind)
    }

    /// Sleep until `secs` after the start of the test (a little after, so a tick at exactly
    /// `secs` has run).
    async fn at(&self, secs: f64) {
        let deadline = self.start + Duration::from_secs_f64(secs) + Duration::from_millis(1);
        tokio::time::sleep_until(deadline).await;
    }
}

fn secs(times: &[Duration]) -> Vec<u64> {
    times.iter().map(|d| d.as_secs()).collect()
}

fn with(kind: ProbeKind, p: Probe) -> Container {
    let mut c = container("web");
    match kind {
        ProbeKind::Liveness => c.liveness_probe = Some(p),
        ProbeKind::Readiness => c.readiness_probe = Some(p),
        ProbeKind::Startup => c.startup_probe = Some(p),
    }
    c
}

#[test]
fn pr_01_api_defaults() {
    let s = ProbeSettings::from_probe(&probe());
    assert_eq!(s.initial_delay, Duration::ZERO);
    assert_eq!(s.period, Duration::from_secs(10));
    assert_eq!(s.timeout, Duration::from_secs(1));
    assert_eq!((s.success_threshold, s.failure_threshold), (1, 3));
    // Zero means "unset" for the API defaulting too.
    let zeros = ProbeSettings::from_probe(&Probe {
        period_seconds: Some(0),
        timeout_seconds: Some(0),
        success_threshold: Some(0),
        failure_threshold: Some(0),
        ..probe()
    });
    assert_eq!(zeros, s);
    let set = ProbeSettings::from_probe(&Probe {
        initial_delay_seconds: Some(4),
        period_seconds: Some(2),
        timeout_seconds: Some(3),
        success_threshold: Some(5),
        failure_threshold: Some(6),
        termination_grace_period_seconds: Some(7),
        ..probe()
    });
    assert_eq!(set.initial_delay, Duration::from_secs(4));
    assert_eq!(set.period, Duration::from_secs(2));
    assert_eq!(set.timeout, Duration::from_secs(3));
    assert_eq!((set.success_threshold, set.failure_threshold), (5, 6));
    assert_eq!(set.termination_grace_period_seconds, Some(7));
}

#[tokio::test(start_paused = true)]
async fn pr_01_worker_runs_every_default_period() {
    let s = Setup::new();
    let c = with(ProbeKind::Liveness, probe());
    let h = Scripted::always(Step::Success);
    s.run("web", "c1");
    let _w = s.spawn(&c, ProbeKind::Liveness, h.clone());
    s.at(35.0).await;
    assert_eq!(secs(&h.times(s.start)), [0, 10, 20, 30]);
}

#[tokio::test(start_paused = true)]
async fn pr_02_readiness_starts_as_failure_until_first_success() {
    let s = Setup::new();
    let c = with(
        ProbeKind::Readiness,
        Probe {
            initial_delay_seconds: Some(5),
            ..probe()
        },
    );
    let h = Scripted::always(Step::Success);
    let mut updates = s.cache.subscribe();
    s.run("web", "c1");
    let _w = s.spawn(&c, ProbeKind::Readiness, h.clone());
    s.at(9.0).await;
    assert_eq!(h.count(), 0, "no probe inside the initial delay");
    assert!(matches!(
        s.result("c1", ProbeKind::Readiness),
        Some(ProbeResult::Failure(_))
    ));
    s.at(10.0).await;
    assert_eq!(h.count(), 1);
    assert_eq!(
        s.result("c1", ProbeKind::Readiness),
        Some(ProbeResult::Success)
    );
    let first = updates.recv().await.unwrap();
    assert_eq!(
        first.result,
        ProbeResult::Failure(probes::INITIAL_READINESS.into())
    );
    let second = updates.recv().await.unwrap();
    assert_eq!(
        (second.container_id.as_str(), second.container_name.as_str()),
        ("c1", "web")
    );
    assert_eq!(second.result, ProbeResult::Success);
}

#[tokio::test(start_paused = true)]
async fn pr_03_liveness_fails_on_the_third_consecutive_failure() {
    let s = Setup::new();
    let c = with(ProbeKind::Liveness, probe());
    let h = Scripted::always(Step::Failure("boom"));
    s.run("web", "c1");
    let _w = s.spawn(&c, ProbeKind::Liveness, h.clone());
    s.at(19.0).await;
    assert_eq!(
        s.result("c1", ProbeKind::Liveness),
        Some(ProbeResult::Success)
    );
    s.at(20.0).await;
    assert_eq!(
        s.result("c1", ProbeKind::Liveness),
        Some(ProbeResult::Failure("Liveness probe failed: boom".into()))
    );
    // On hold: this instance is not probed again; the pod worker restarts it.
    s.at(60.0).await;
    assert_eq!(secs(&h.times(s.start)), [0, 10, 20]);
    assert_eq!(
        ProbeKind::Liveness.kill_message("web").unwrap(),
        "Container web failed liveness probe, will be restarted"
    );
    // The restarted instance is probed again from a clean slate.
    s.run("web", "c2");
    s.at(70.0).await;
    assert_eq!(
        s.result("c2", ProbeKind::Liveness),
        Some(ProbeResult::Success)
    );
    assert_eq!(s.result("c1", ProbeKind::Liveness), None);
    assert_eq!(h.container_ids().last().unwrap(), "c2");
}

#[tokio::test(start_paused = true)]
async fn pr_04_worker_stops_when_container_ends_under_restart_never() {
    let s = Setup::new();
    let c = with(ProbeKind::Liveness, probe());
    let mut p = pod(vec![c.clone()]);
    p.spec.as_mut().unwrap().restart_policy = Some("Never".into());
    let h = Scripted::always(Step::Success);
    s.run("web", "c1");
    let w = s.spawn_in(&p, &c, ProbeKind::Liveness, h.clone());
    s.at(1.0).await;
    s.feed.publish(status(vec![terminated("web", "c1", 137)]));
    s.at(11.0).await;
    assert!(w.is_finished(), "no restart will come: the worker ends");
    assert_eq!(h.count(), 1);

    // Under OnFailure the worker waits for the next instance.
    let s = Setup::new();
    let mut p = pod(vec![c.clone()]);
    p.spec.as_mut().unwrap().restart_policy = Some("OnFailure".into());
    s.run("web", "c1");
    let w = s.spawn_in(&p, &c, ProbeKind::Liveness, Scripted::always(Step::Success));
    s.at(1.0).await;
    s.feed.publish(status(vec![terminated("web", "c1", 1)]));
    s.at(11.0).await;
    assert!(!w.is_finished());
    assert_eq!(
        s.result("c1", ProbeKind::Liveness),
        Some(ProbeResult::Failure(probes::NOT_RUNNING.into()))
    );
}

#[tokio::test(start_paused = true)]
async fn pr_05_two_failures_then_success_resets_the_count() {
    let s = Setup::new();
    let c = with(ProbeKind::Liveness, probe());
    use Step::*;
    let h = Scripted::new(&[
        Failure("a"),
        Failure("b"),
        Success,
        Failure("c"),
        Failure("d"),
        Success,
    ]);
    let mut updates = s.cache.subscribe();
    s.run("web", "c1");
    let _w = s.spawn(&c, ProbeKind::Liveness, h.clone());
    s.at(65.0).await;
    assert_eq!(h.count(), 7);
    assert_eq!(
        s.result("c1", ProbeKind::Liveness),
        Some(ProbeResult::Success)
    );
    // Only the initial value was ever published.
    assert_eq!(updates.recv().await.unwrap().result, ProbeResult::Success);
    assert!(updates.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn pr_06_success_threshold_three_on_readiness() {
    let s = Setup::new();
    let c = with(
        ProbeKind::Readiness,
        Probe {
            success_threshold: Some(3),
            period_seconds: Some(1),
            ..probe()
        },
    );
    use Step::*;
    let h = Scripted::new(&[
        Success,
        Success,
        Success,
        Failure("x"),
        Failure("y"),
        Success,
    ]);
    s.run("web", "c1");
    let _w = s.spawn(&c, ProbeKind::Readiness, h.clone());
    s.at(1.0).await;
    assert!(matches!(
        s.result("c1", ProbeKind::Readiness),
        Some(ProbeResult::Failure(_))
    ));
    s.at(2.0).await;
    assert_eq!(
        s.result("c1", ProbeKind::Readiness),
        Some(ProbeResult::Success)
    );
    // Two failures stay below failureThreshold 3: still ready.
    s.at(4.0).await;
    assert_eq!(h.count(), 5);
    assert_eq!(
        s.result("c1", ProbeKind::Readiness),
        Some(ProbeResult::Success)
    );
    s.at(5.0).await;
    assert_eq!(
        s.result("c1", ProbeKind::Readiness),
        Some(ProbeResult::Success)
    );
}

#[tokio::test(start_paused = true)]
async fn pr_08_startup_probe_fails_after_failure_threshold_runs_then_holds() {
    let s = Setup::new();
    let c = with(
        ProbeKind::Startup,
        Probe {
            failure_threshold: Some(2),
            period_seconds: Some(5),
            ..probe()
        },
    );
    let h = Scripted::always(Step::Failure("not up"));
    s.run("web", "c1");
    let _w = s.spawn(&c, ProbeKind::Startup, h.clone());
    // One failed run is below the threshold: no verdict yet.
    s.at(1.0).await;
    assert_eq!(h.count(), 1);
    assert_eq!(
        s.result("c1", ProbeKind::Startup),
        Some(ProbeResult::Unknown)
    );
    // The second failed run (5 s later) reaches failureThreshold: Failure, which the pod
    // worker turns into a kill and a restart ("failed startup probe").
    s.at(5.0).await;
    assert_eq!(h.count(), 2);
    assert_eq!(
        s.result("c1", ProbeKind::Startup),
        Some(ProbeResult::Failure("Startup probe failed: not up".into()))
    );
    let unhealthy: Vec<(ProbeKind, String)> = s
        .events
        .events()
        .into_iter()
        .filter(|e| e.reason == REASON_UNHEALTHY)
        .map(|e| (e.kind, e.message))
        .collect();
    let failed = (
        ProbeKind::Startup,
        "Startup probe failed: not up".to_string(),
    );
    assert_eq!(
        unhealthy,
        [failed.clone(), failed],
        "one event per failed run"
    );
    // On hold until the container is restarted: the killed instance is not probed again...
    s.at(30.0).await;
    assert_eq!(h.count(), 2);
    // ...and its replacement is probed from the start, at the next tick.
    s.run("web", "c2");
    s.at(35.0).await;
    assert_eq!(h.container_ids(), ["c1", "c1", "c2"]);
    assert_eq!(
        s.result("c2", ProbeKind::Startup),
        Some(ProbeResult::Unknown)
    );
}

#[tokio::test(start_paused = true)]
async fn pr_09_startup_probe_never_runs_again_after_success() {
    let s = Setup::new();
    let mut c = with(
        ProbeKind::Startup,
        Probe {
            period_seconds: Some(1),
            ..probe()
        },
    );
    c.liveness_probe = Some(probe());
    let startup = Scripted::new(&[Step::Failure("no"), Step::Success]);
    let liveness = Scripted::always(Step::Success);
    s.run("web", "c1");
    let _s = s.spawn(&c, ProbeKind::Startup, startup.clone());
    let _l = s.spawn(&c, ProbeKind::Liveness, liveness.clone());
    s.at(30.0).await;
    assert_eq!(secs(&startup.times(s.start)), [0, 1]);
    assert_eq!(
        s.result("c1", ProbeKind::Startup),
        Some(ProbeResult::Success)
    );
    // Liveness runs once started: its ticks at 10, 20, 30.
    assert_eq!(secs(&liveness.times(s.start)), [10, 20, 30]);
    // A new instance is started (probed) again.
    startup.set(&[Step::Success]);
    s.run("web", "c2");
    s.at(31.0).await;
    assert_eq!(startup.container_ids(), ["c1", "c1", "c2"]);
}

#[tokio::test(start_paused = true)]
async fn pr_10_no_probe_before_started_at_plus_initial_delay() {
    let s = Setup::new();
    let c = with(
        ProbeKind::Readiness,
        Probe {
            initial_delay_seconds: Some(15),
            ..probe()
        },
    );
    let h = Scripted::always(Step::Success);
    s.run("web", "c1");
    let _w = s.spawn(&c, ProbeKind::Readiness, h.clone());
    s.at(35.0).await;
    assert_eq!(secs(&h.times(s.start)), [20, 30]);

    // A container that started 12 s before the worker: the first tick past 15 s of age.
    let s = Setup::new();
    let h = Scripted::always(Step::Success);
    s.feed.publish(status(vec![running(
        "web",
        "c1",
        T0 - jiff::SignedDuration::from_secs(12),
    )]));
    let _w = s.spawn(&c, ProbeKind::Readiness, h.clone());
    s.at(15.0).await;
    assert_eq!(secs(&h.times(s.start)), [10]);
}

#[tokio::test(start_paused = true)]
async fn pr_19_events_carry_the_kubelet_messages() {
    let s = Setup::new();
    let mut c = with(
        ProbeKind::Liveness,
        Probe {
            period_seconds: Some(1),
            failure_threshold: Some(10),
            ..probe()
        },
    );
    c.readiness_probe = Some(Probe {
        period_seconds: Some(1),
        ..probe()
    });
    c.startup_probe = Some(Probe {
        period_seconds: Some(1),
        failure_threshold: Some(1),
        ..probe()
    });
    s.run("web", "c1");
    let _st = s.spawn(&c, ProbeKind::Startup, Scripted::new(&[Step::Success]));
    s.at(0.5).await;
    let _l = s.spawn(
        &c,
        ProbeKind::Liveness,
        Scripted::new(&[Step::Failure("exit 1"), Step::Warning("moved"), Step::Error]),
    );
    let _r = s.spawn(
        &c,
        ProbeKind::Readiness,
        Scripted::always(Step::Failure("HTTP probe failed with statuscode: 500")),
    );
    s.at(3.0).await;
    let events = s.events.events();
    let has = |reason: &str, message: &str| {
        events
            .iter()
            .any(|e| e.reason == reason && e.message == message && e.container == "web")
    };
    assert!(
        has(REASON_UNHEALTHY, "Liveness probe failed: exit 1"),
        "{events:#?}"
    );
    assert!(
        has(REASON_PROBE_WARNING, "Liveness probe warning: moved"),
        "{events:#?}"
    );
    assert!(
        has(
            REASON_UNHEALTHY,
            "Readiness probe failed: HTTP probe failed with statuscode: 500"
        ),
        "{events:#?}"
    );
    assert!(events.iter().any(|e| {
        e.reason == REASON_UNHEALTHY
            && e.message
                .starts_with("Liveness probe errored and resulted in Failure state: ")
            && e.message.contains("scripted error")
    }));
    assert!(
        events
            .iter()
            .all(|e| e.pod.to_string() == "default/demo" && e.pod.uid == UID)
    );

    let s = Setup::new();
    let c = with(
        ProbeKind::Startup,
        Probe {
            failure_threshold: Some(1),
            ..probe()
        },
    );
    s.run("web", "c1");
    let _w = s.spawn(
        &c,
        ProbeKind::Startup,
        Scripted::always(Step::Failure("slow")),
    );
    s.at(0.5).await;
    assert_eq!(s.events.events()[0].message, "Startup probe failed: slow");
}

#[tokio::test(start_paused = true)]
async fn pr_20_liveness_and_startup_stop_while_readiness_goes_on() {
    let s = Setup::new();
    let mut c = with(
        ProbeKind::Liveness,
        Probe {
            period_seconds: Some(1),
            ..probe()
        },
    );
    c.readiness_probe = Some(Probe {
        period_seconds: Some(1),
        ..probe()
    });
    c.startup_probe = Some(Probe {
        period_seconds: Some(1),
        failure_threshold: Some(100),
        ..probe()
    });
    let c2 = {
        let mut c2 = c.clone();
        c2.startup_probe = None;
        c2
    };
    let liveness = Scripted::always(Step::Failure("dying"));
    let readiness = Scripted::always(Step::Success);
    let startup = Scripted::always(Step::Failure("slow"));
    s.run("web", "c1");
    let l = s.spawn(&c2, ProbeKind::Liveness, liveness.clone());
    let r = s.spawn(&c2, ProbeKind::Readiness, readiness.clone());
    let st = s.spawn(&c, ProbeKind::Startup, startup.clone());
    s.at(1.5).await;
    assert_eq!(liveness.count(), 2);
    l.terminating();
    r.terminating();
    st.terminating();
    support::settle().await;
    assert!(l.is_finished() && st.is_finished());
    // Liveness ends on Success, so a dying container is not restarted while it terminates;
    // the finished worker then forgets its result.
    assert_eq!(s.result("c1", ProbeKind::Liveness), None);
    s.at(5.5).await;
    assert_eq!(liveness.count(), 2);
    assert_eq!(startup.count(), 2);
    assert_eq!(
        readiness.count(),
        6,
        "readiness keeps probing during termination"
    );
    assert!(!r.is_finished());

    // A pod created already terminating never runs liveness.
    let s = Setup::new();
    let mut p = pod(vec![c2.clone()]);
    p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(T0));
    s.run("web", "c1");
    let liveness = Scripted::always(Step::Failure("dying"));
    let l = s.spawn_in(&p, &c2, ProbeKind::Liveness, liveness.clone());
    support::settle().await;
    assert!(l.is_finished());
    assert_eq!(liveness.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn pr_21_readiness_failure_is_never_a_restart() {
    let s = Setup::new();
    let c = with(
        ProbeKind::Readiness,
        Probe {
            period_seconds: Some(1),
            ..probe()
        },
    );
    let h = Scripted::new(&[
        Step::Success,
        Step::Failure("a"),
        Step::Failure("b"),
        Step::Failure("c"),
        Step::Success,
    ]);
    s.run("web", "c1");
    let _w = s.spawn(&c, ProbeKind::Readiness, h.clone());
    s.at(3.0).await;
    assert_eq!(
        s.result("c1", ProbeKind::Readiness),
        Some(ProbeResult::Failure("Readiness probe failed: c".into()))
    );
    // Not on hold (nothing will restart the container): probing goes on and it recovers.
    s.at(4.0).await;
    assert_eq!(h.count(), 5);
    assert_eq!(
        s.result("c1", ProbeKind::Readiness),
        Some(ProbeResult::Success)
    );
    assert!(!ProbeKind::Readiness.restarts_container());
    assert_eq!(ProbeKind::Readiness.kill_message("web"), None);
}

#[tokio::test(start_paused = true)]
async fn new_container_instance_resets_results_and_counters() {
    let s = Setup::new();
    let c = with(
        ProbeKind::Readiness,
        Probe {
            period_seconds: Some(1),
            failure_threshold: Some(2),
            ..probe()
        },
    );
    let h = Scripted::new(&[Step::Success, Step::Failure("x")]);
    s.run("web", "c1");
    let _w = s.spawn(&c, ProbeKind::Readiness, h.clone());
    s.at(1.0).await;
    assert_eq!(
        s.result("c1", ProbeKind::Readiness),
        Some(ProbeResult::Success)
    );
    // One failure counted on c1; the new instance starts from Failure with a fresh count.
    h.set(&[Step::Failure("y"), Step::Success]);
    s.run("web", "c2");
    s.at(2.0).await;
    assert_eq!(s.result("c1", ProbeKind::Readiness), None);
    // "y" would be the second failure in a row if c1's count carried over.
    assert!(
        matches!(s.result("c2", ProbeKind::Readiness), Some(ProbeResult::Failure(m)) if m == probes::INITIAL_READINESS)
    );
    s.at(3.0).await;
    assert_eq!(
        s.result("c2", ProbeKind::Readiness),
        Some(ProbeResult::Success)
    );
}

#[tokio::test(start_paused = true)]
async fn prober_errors_are_retried_three_times_then_discarded() {
    let s = Setup::new();
    let c = with(
        ProbeKind::Liveness,
        Probe {
            failure_threshold: Some(1),
            ..probe()
        },
    );
    let h = Scripted::always(Step::Error);
    s.run("web", "c1");
    let _w = s.spawn(&c, ProbeKind::Liveness, h.clone());
    s.at(15.0).await;
    assert_eq!(secs(&h.times(s.start)), [0, 0, 0, 10, 10, 10]);
    // An error is not a failure: the container stays alive.
    assert_eq!(
        s.result("c1", ProbeKind::Liveness),
        Some(ProbeResult::Success)
    );
    assert_eq!(s.events.events().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn worker_waits_for_status_and_stops_on_terminal_phase() {
    let s = Setup::new();
    let c = with(
        ProbeKind::Readiness,
        Probe {
            period_seconds: Some(1),
            ..probe()
        },
    );
    let h = Scripted::always(Step::Success);
    let w = s.spawn(&c, ProbeKind::Readiness, h.clone());
    s.at(2.5).await;
    assert_eq!(h.count(), 0, "no status, no probe");
    s.run("web", "c1");
    s.at(3.5).await;
    assert_eq!(h.count(), 1);
    let mut done = status(vec![terminated("web", "c1", 0)]);
    done.phase = Some("Succeeded".into());
    s.feed.publish(done);
    s.at(4.5).await;
    assert!(w.is_finished());
    assert_eq!(s.result("c1", ProbeKind::Readiness), None);
    let _ = sleep(Duration::ZERO).await;
}
