//! Starting and stopping the reporter, with no API server to talk to: every loop stops on
//! cancellation, whatever it is waiting for.

use std::time::Duration;

use status_reporter::{Error, HostInfo, NodeConfig, NodeFacts, NodeStatusReporter};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A client for an address where nothing listens (connections are refused at once).
fn unreachable_client() -> kube::Client {
    let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
    kube::Client::try_from(config).unwrap()
}

fn config() -> NodeConfig {
    let mut config = NodeConfig::new("offline-node");
    // Nothing to detect offline: a hostname that is an address.
    config.hostname = "192.0.2.10".into();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_every_loop_while_the_api_server_is_unreachable() {
    let (_facts, facts_rx) = watch::channel(NodeFacts::default());
    let reporter = NodeStatusReporter::start(
        unreachable_client(),
        config(),
        HostInfo::default(),
        facts_rx,
    )
    .unwrap();
    // Registration, the lease and the watch are all retrying by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(reporter.node().is_none());
    tokio::time::timeout(Duration::from_secs(2), reporter.shutdown())
        .await
        .expect("the loops stop at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_parent_token_stops_the_loops() {
    let parent = CancellationToken::new();
    let (_facts, facts_rx) = watch::channel(NodeFacts::default());
    let reporter = NodeStatusReporter::start_with_cancellation(
        unreachable_client(),
        config(),
        HostInfo::default(),
        facts_rx,
        &parent,
    )
    .unwrap();
    parent.cancel();
    assert_eq!(reporter.wait_for_node().await, None);
    tokio::time::timeout(Duration::from_secs(2), reporter.shutdown())
        .await
        .expect("the loops have stopped");
}

#[test]
fn start_outside_a_runtime_is_an_error() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(async { unreachable_client() });
    let (_facts, facts_rx) = watch::channel(NodeFacts::default());
    let err = NodeStatusReporter::start(client, config(), HostInfo::default(), facts_rx)
        .expect_err("no runtime");
    assert!(matches!(err, Error::NoRuntime { .. }), "{err}");
}
