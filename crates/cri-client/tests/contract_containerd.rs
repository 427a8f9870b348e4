//! The contract suite against a real containerd, at `$NODELET_CRI_ENDPOINT` (set by
//! `cargo xtask setup`, which also starts the registry at `$NODELET_TEST_REGISTRY`, default
//! `127.0.0.1:5000`). `tests/contract_fake.rs` runs the same cases against the fake.
//!
//! Without the environment each test prints how to start it and passes, except with
//! `CI=true`, where it fails: CI must never pass by skipping.

use cri_client::contract::ContractTarget;

cri_client::contract_tests!(ContractTarget::containerd_from_env);
