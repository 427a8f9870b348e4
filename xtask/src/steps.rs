//! A sequence of timed steps with a summary, for `test` and `bench`.
//!
//! A failed step does not stop the others, so one run shows every problem.
//! Ctrl-C is caught: cargo and the tests (same process group) get it and
//! stop, the remaining steps are skipped, and the teardown still runs.

use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::layout::Layout;

/// Runs steps and remembers how each went.
#[derive(Debug)]
pub struct Steps {
    results: Vec<(String, Outcome, Duration)>,
    interrupted: Arc<AtomicBool>,
}

#[derive(Debug)]
enum Outcome {
    Passed,
    Failed,
    Skipped(String),
}

impl Steps {
    /// Starts a sequence and takes over SIGINT for its duration.
    pub fn new() -> Result<Self> {
        let interrupted = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&interrupted))
            .context("catching SIGINT")?;
        Ok(Self {
            results: Vec::new(),
            interrupted,
        })
    }

    /// Runs `step` unless the run was interrupted. Returns whether it passed.
    pub fn run(&mut self, name: &str, step: impl FnOnce() -> Result<()>) -> bool {
        if self.interrupted.load(Ordering::SeqCst) {
            self.skip(name, "interrupted");
            return false;
        }
        self.always(name, step)
    }

    /// Runs `step` even after an interrupt: for the teardown.
    pub fn always(&mut self, name: &str, step: impl FnOnce() -> Result<()>) -> bool {
        eprintln!("\nxtask: ==> {name}");
        let start = Instant::now();
        let outcome = match step() {
            Ok(()) => Outcome::Passed,
            Err(err) => {
                eprintln!("xtask: {name} failed: {err:#}");
                Outcome::Failed
            }
        };
        let passed = matches!(outcome, Outcome::Passed);
        self.results
            .push((name.to_owned(), outcome, start.elapsed()));
        passed
    }

    /// Records a step that was not run, and why.
    pub fn skip(&mut self, name: &str, reason: &str) {
        let outcome = Outcome::Skipped(reason.to_owned());
        self.results
            .push((name.to_owned(), outcome, Duration::ZERO));
    }

    /// Prints the summary; fails if any step failed or was skipped.
    pub fn finish(self) -> ExitCode {
        eprintln!("\nxtask: summary");
        let width = self
            .results
            .iter()
            .map(|(name, ..)| name.len())
            .max()
            .unwrap_or(0);
        for (name, outcome, duration) in &self.results {
            let (took, status) = match outcome {
                Outcome::Passed => (format!("{duration:.1?}"), "ok".to_owned()),
                Outcome::Failed => (format!("{duration:.1?}"), "FAILED".to_owned()),
                Outcome::Skipped(reason) => ("-".to_owned(), format!("skipped ({reason})")),
            };
            eprintln!("  {name:<width$}  {took:>8}  {status}");
        }
        let all_passed = self
            .results
            .iter()
            .all(|(_, outcome, _)| matches!(outcome, Outcome::Passed));
        if all_passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

/// `cargo` (the one running xtask) in the workspace root.
pub fn cargo(layout: &Layout) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(layout.workspace());
    cmd
}
