//! Shutdown of the agent as a library (`agent::node::run` in this process): with 30 pods
//! running, stopping returns at once, every task of the agent has ended, and the pods keep
//! running (an agent restart adopts them).

mod common;

use std::time::{Duration, Instant};

use agent::config::{AgentConfig, Flags};
use clap::Parser;
use common::{Node, TIMEOUT, phase, sleeper_yaml};

const PODS: usize = 30;

#[test]
fn shutdown_with_30_running_pods_returns_within_a_second_and_leaves_no_task() {
    let Some(node) = Node::new("shut30", "") else {
        return;
    };
    for i in 0..PODS {
        node.write_manifest(&format!("p{i}.yaml"), &sleeper_yaml(&format!("p{i}")));
    }
    let flags = Flags::parse_from([
        "nodelet".as_ref(),
        "--config".as_ref(),
        node.config_file().as_os_str(),
        "--root-dir".as_ref(),
        node.root_dir().as_os_str(),
        "--node-name".as_ref(),
        node.name.as_ref(),
    ]);
    let config = AgentConfig::load(&flags).expect("the generated configuration loads");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = rt.spawn(agent::node::run(config, async move {
        let _ = stopped.await;
    }));

    let deadline = Instant::now() + TIMEOUT * 3;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], node.port));
    loop {
        // The agent binds its endpoints once it reached the runtime: until then, none.
        let running = match test_env::http_get(addr, "/pods") {
            Ok((200, _)) => node.pods().iter().filter(|p| phase(p) == "Running").count(),
            _ => 0,
        };
        if running == PODS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{running} of {PODS} pods Running after {:?}",
            TIMEOUT * 3
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let sandboxes: Vec<String> = node.sandboxes().into_iter().map(|s| s.id).collect();
    let before: Vec<String> = node
        .runtime()
        .all_containers()
        .into_iter()
        .filter(|c| sandboxes.contains(&c.pod_sandbox_id))
        .map(|c| c.id)
        .collect();
    assert_eq!(before.len(), PODS);

    let started = Instant::now();
    stop.send(()).expect("the agent is running");
    rt.block_on(agent)
        .expect("the agent task did not panic")
        .expect("the agent stopped without error");
    let took = started.elapsed();
    eprintln!("shutdown with {PODS} running pods took {took:?}");
    assert!(took < Duration::from_secs(1), "shutdown took {took:?}");

    // Every task the agent spawned has returned (the gRPC channel's own background task
    // ends once its last handle is dropped, which may take a scheduler turn).
    let metrics = rt.metrics();
    let settle = Instant::now() + Duration::from_millis(500);
    while metrics.num_alive_tasks() > 0 && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(metrics.num_alive_tasks(), 0, "tasks left after shutdown");
    drop(rt);

    // The pods were left running.
    for id in &before {
        assert!(
            common::runtime_running(node.runtime(), id),
            "container {id} stopped"
        );
    }
}
