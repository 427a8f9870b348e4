//! `cargo xtask bench`: the benches that need the real environment.

use std::process::ExitCode;

use anyhow::Result;

use crate::layout::Layout;
use crate::steps::{Steps, cargo};
use crate::test::run_cargo;
use crate::{down, setup};

/// setup, the `startup` bench (given `args`), the `nodelet_startup` bench, the
/// `exit_detection` bench, the `cri_roundtrip` and `plan` criterion benches, and always down.
pub fn run(layout: &Layout, args: &[String]) -> Result<ExitCode> {
    let mut steps = Steps::new()?;
    let mut env = Vec::new();
    let ready = steps.run("setup", || {
        env = setup::run(layout)?;
        Ok(())
    });
    if ready {
        steps.run("bench startup", || {
            let mut bench = cargo(layout);
            bench
                .args(["bench", "--bench", "startup"])
                .envs(env.clone());
            if !args.is_empty() {
                bench.arg("--").args(args);
            }
            run_cargo(&mut bench)
        });
        steps.run("bench nodelet_startup", || {
            run_cargo(
                cargo(layout)
                    .args(["bench", "--bench", "nodelet_startup"])
                    .envs(env.clone()),
            )
        });
        steps.run("bench exit_detection", || {
            run_cargo(
                cargo(layout)
                    .args(["bench", "--bench", "exit_detection"])
                    .envs(env.clone()),
            )
        });
        steps.run("bench cri_roundtrip", || {
            run_cargo(
                cargo(layout)
                    .args(["bench", "--bench", "cri_roundtrip"])
                    .envs(env.clone()),
            )
        });
        // Pure CPU, no runtime: run last so the runtime benches have the machine alone.
        steps.run("bench plan", || {
            run_cargo(cargo(layout).args(["bench", "--bench", "plan"]))
        });
    } else {
        steps.skip("benches", "setup failed");
    }
    steps.always("down", || down::run(layout));
    Ok(steps.finish())
}
