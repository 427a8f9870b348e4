//! Round trips of `Version` and `ListContainers` through both `RuntimeService`
//! implementations: `FakeRuntime` (the cost of the trait and the fake's bookkeeping) and
//! `GrpcRuntime` against the containerd of `cargo xtask setup` (the cost of one CRI call on
//! this machine). Without the environment (`NODELET_CRI_ENDPOINT`, in the process or in
//! `target/nodelet-env/env`) only the fake is measured.
#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn

use cri_client::fake::FakeRuntime;
use cri_client::{RuntimeService, v1};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench_runtime(
    c: &mut Criterion,
    name: &str,
    rt: &dyn RuntimeService,
    tokio: &tokio::runtime::Runtime,
) {
    let mut group = c.benchmark_group(name);
    group.bench_function("version", |b| {
        b.to_async(tokio).iter(|| async {
            rt.version(v1::VersionRequest::default())
                .await
                .expect("version")
        })
    });
    group.bench_function("list_containers", |b| {
        b.to_async(tokio).iter(|| async {
            rt.list_containers(v1::ListContainersRequest::default())
                .await
                .expect("list")
        })
    });
    group.finish();
}

fn roundtrips(c: &mut Criterion) {
    let tokio = tokio::runtime::Runtime::new().expect("tokio runtime");
    let fake = FakeRuntime::new();
    bench_runtime(c, "fake", &fake, &tokio);
    match test_env::Env::get() {
        Ok(env) => {
            let real = tokio
                .block_on(env.connect())
                .expect("connect to NODELET_CRI_ENDPOINT");
            bench_runtime(c, "containerd", &real, &tokio);
        }
        Err(e) => eprintln!("{e}: measuring FakeRuntime only"),
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = roundtrips
}
criterion_main!(benches);
