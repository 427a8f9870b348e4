//! The contract suite against a real containerd, at `$NODELET_CRI_ENDPOINT` (set by
//! `cargo xtask setup`, which also starts the registry at `$NODELET_TEST_REGISTRY`, default
//! `127.0.0.1:5000`). `tests/contract_fake.rs` runs the same cases against the fake.
//!
//! The environment comes from the process or from `target/nodelet-env/env` (through
//! `test_env`). Without it each test prints how to start it and passes, except with
//! `CI=true`, where it fails: CI must never pass by skipping. Once a case has started, the
//! test process holds a shared lock on the runtime until it exits, so no agent under test
//! removes the suite's sandboxes.

use std::sync::{Arc, OnceLock};

use cri_client::contract::{ContractEnv, ContractTarget};
use cri_client::{RuntimeService, v1};
use test_env::RuntimeLock;

async fn containerd() -> Option<ContractTarget> {
    static LOCK: OnceLock<RuntimeLock> = OnceLock::new();
    let env = test_env::require_env("the contract suite against containerd")?;
    LOCK.get_or_init(|| RuntimeLock::shared().expect("the runtime lock"));
    let runtime = match env.connect().await {
        Ok(r) => Arc::new(r),
        Err(e) => return test_env::skip(&e.to_string()),
    };
    let version = runtime
        .version(v1::VersionRequest::default())
        .await
        .expect("Version, which answered a moment ago");
    Some(ContractTarget {
        name: format!(
            "{} {} at {}",
            version.runtime_name, version.runtime_version, env.cri_endpoint
        ),
        runtime: runtime.clone(),
        images: runtime,
        env: ContractEnv::new(&env.busybox_image, Some(env.registry_busybox_image)),
        fake_clock: None,
    })
}

cri_client::contract_tests!(containerd);
