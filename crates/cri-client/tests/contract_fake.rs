//! The contract suite against [`FakeRuntime`](cri_client::fake::FakeRuntime): in memory,
//! no environment needed. `tests/contract_containerd.rs` runs the same cases against a real
//! containerd.

use cri_client::contract::ContractTarget;

async fn fake() -> Option<ContractTarget> {
    Some(ContractTarget::fake())
}

cri_client::contract_tests!(fake);
