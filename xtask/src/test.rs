//! `cargo xtask test`: what CI runs, against a fresh environment.

use std::process::{Command, ExitCode};

use anyhow::Result;

use crate::cluster::Cluster;
use crate::layout::Layout;
use crate::steps::{Steps, cargo};
use crate::{cmd, down, kube, setup};

/// setup, kube build, cluster up, fmt, clippy, test, doc, and always cluster
/// down and down. Doc tests run as part of `cargo test`.
pub fn run(layout: &Layout) -> Result<ExitCode> {
    let mut steps = Steps::new()?;
    let (ready, env, cluster) = environment_and_cluster(&mut steps, layout);
    steps.run("fmt", || {
        run_cargo(cargo(layout).args(["fmt", "--all", "--check"]))
    });
    steps.run("clippy", || {
        run_cargo(cargo(layout).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]))
    });
    // Tests that need the environment fail without it when CI=true, so
    // running them after a failed setup would only bury the real error.
    if ready {
        steps.run("test", || {
            run_cargo(
                cargo(layout)
                    .args(["test", "--workspace", "--all-features", "--no-fail-fast"])
                    .envs(env.clone()),
            )
        });
    } else {
        steps.skip("test", "setup failed");
    }
    steps.run("doc", || {
        run_cargo(
            cargo(layout)
                .args(["doc", "--workspace", "--no-deps", "--all-features"])
                .env("RUSTDOCFLAGS", "-D warnings"),
        )
    });
    steps.always("cluster down", || cluster.down().map(drop));
    steps.always("down", || down::run(layout));
    Ok(steps.finish())
}

/// The steps setup, kube build and cluster up: whether all succeeded, the environment's
/// variables, and the cluster (for the `cluster down` step at the end).
pub fn environment_and_cluster(
    steps: &mut Steps,
    layout: &Layout,
) -> (bool, Vec<(String, String)>, Cluster) {
    let mut env = Vec::new();
    let mut ready = steps.run("setup", || {
        env = setup::run(layout)?;
        Ok(())
    });
    // The real Kubernetes: the reference kubelet of the differential suite and
    // the control plane of the cluster tests. Built once, then reused.
    ready &= steps.run("kube build", || kube::ensure_built(layout).map(drop));
    let cluster = Cluster::new(layout);
    if ready {
        ready &= steps.run("cluster up", || cluster.up(&kube::ensure_built(layout)?));
    } else {
        steps.skip("cluster up", "setup or kube build failed");
    }
    (ready, env, cluster)
}

/// Runs a cargo command, echoing it first so CI logs show what ran.
pub fn run_cargo(command: &mut Command) -> Result<()> {
    eprintln!("xtask: $ {}", cmd::display(command));
    cmd::run(command)
}
