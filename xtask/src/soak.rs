//! `cargo xtask soak`: the long runs of issue 19 that CI runs short.
//!
//! - `churn`: 10 minutes of pods created and deleted at about 5 per second (static and API
//!   pods), then a census of what they left, and nodelet's RSS slope
//!   (`cluster_ft_04_churn_leaves_nothing_behind_and_rss_stays_flat`, which CI runs for
//!   one minute);
//! - `soak`: 110 pods with probes for 30 minutes, nodelet's RSS and CPU flat, no restarts
//!   (`ft_06_soak_110_probed_pods_rss_and_cpu_stay_flat_no_restarts`, two minutes in CI).
//!
//! Both run the release build of nodelet (built first, and handed to the tests in
//! `NODELET_BINARY`): its RSS and CPU are what users get, and a debug nodelet alone takes
//! most of a core of this 2-core machine at 5 pods a second, so the churn would measure a
//! backlog instead of a leak.
//!
//! Each test prints a line `churn: <elapsed>/<total> s, ...` (or `soak: ...`) every few
//! seconds; this command turns those into a progress bar, keeps the test's whole output in
//! `target/soak/<run>.log`, and prints the test's figures (its `ft-0N ...` lines) and result.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{ExitCode, Stdio};

use anyhow::{Context as _, Result, bail};

use crate::down;
use crate::layout::Layout;
use crate::steps::{Steps, cargo};

/// One long run: its name, the test binary and test, the variable that sets its length and
/// that length in seconds.
struct Run {
    name: &'static str,
    binary: &'static str,
    test: &'static str,
    length_var: &'static str,
    seconds: u64,
}

const RUNS: [Run; 2] = [
    Run {
        name: "churn",
        binary: "cluster",
        test: "churn::cluster_ft_04_churn_leaves_nothing_behind_and_rss_stays_flat",
        length_var: "NODELET_CHURN_SECS",
        seconds: 600,
    },
    Run {
        name: "soak",
        binary: "faults",
        test: "ft_06_soak_110_probed_pods_rss_and_cpu_stay_flat_no_restarts",
        length_var: "NODELET_SOAK_SECS",
        seconds: 1800,
    },
];

/// `cargo xtask soak [churn|soak] [--secs N]`: setup, kube build, cluster up, the runs
/// chosen (both by default), and always cluster down and down.
pub fn run(layout: &Layout, args: &[String]) -> Result<ExitCode> {
    let mut only = None;
    let mut seconds = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "churn" | "soak" => only = Some(arg.clone()),
            "--secs" => {
                let value = args.next().context("--secs needs a number of seconds")?;
                seconds = Some(
                    value
                        .parse::<u64>()
                        .with_context(|| format!("--secs {value}: not a number of seconds"))?,
                );
            }
            other => bail!("soak: unknown argument `{other}` (churn, soak, --secs N)"),
        }
    }
    let mut steps = Steps::new()?;
    let (ready, mut env, cluster) = crate::test::environment_and_cluster(&mut steps, layout);
    let built = ready
        && steps.run("build release nodelet", || {
            crate::test::run_cargo(cargo(layout).args([
                "build",
                "--release",
                "-p",
                "agent",
                "--bin",
                "nodelet",
            ]))
        });
    let binary = layout.workspace().join("target/release/nodelet");
    env.push(("NODELET_BINARY".into(), binary.display().to_string()));
    for run in RUNS
        .iter()
        .filter(|r| only.as_deref().is_none_or(|o| o == r.name))
    {
        if !built {
            steps.skip(run.name, "setup or the release build failed");
            continue;
        }
        let seconds = seconds.unwrap_or(run.seconds);
        steps.run(run.name, || run_one(layout, run, seconds, &env));
    }
    steps.always("cluster down", || cluster.down().map(drop));
    steps.always("down", || down::run(layout));
    Ok(steps.finish())
}

/// Runs one test for `seconds`, drawing its progress, and fails when it fails.
fn run_one(layout: &Layout, run: &Run, seconds: u64, env: &[(String, String)]) -> Result<()> {
    let dir = layout.workspace().join("target").join("soak");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let log_path = dir.join(format!("{}.log", run.name));
    let mut log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let mut child = cargo(layout)
        .args(["test", "-p", "agent", "--test", run.binary, "--", "--exact"])
        .arg(run.test)
        .arg("--nocapture")
        .envs(env.iter().cloned())
        .env(run.length_var, seconds.to_string())
        .env("CI", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting cargo test")?;
    // stdout holds only the harness's lines: read it after, stderr (the test's) live.
    let stdout = child.stdout.take().context("the test's stdout")?;
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stdout), &mut text);
        text
    });
    let stderr = BufReader::new(child.stderr.take().context("the test's stderr")?);
    let prefix = format!("{}: ", run.name);
    let mut figures = Vec::new();
    for line in stderr.lines() {
        let line = line.context("reading the test's output")?;
        writeln!(log, "{line}")?;
        if let Some(rest) = line.strip_prefix(&prefix) {
            draw(run.name, rest, seconds);
        } else if line.starts_with("ft-0") {
            figures.push(line);
        }
    }
    let status = child.wait().context("waiting for cargo test")?;
    let out = out.join().unwrap_or_default();
    writeln!(log, "{out}")?;
    eprintln!();
    for line in &figures {
        eprintln!("{line}");
    }
    eprintln!("xtask: the whole output is in {}", log_path.display());
    if !status.success() {
        bail!("{} failed ({status}); see {}", run.name, log_path.display());
    }
    Ok(())
}

/// One frame of the progress bar from a line `<elapsed>/<total> s, <what>`.
fn draw(name: &str, rest: &str, seconds: u64) {
    let elapsed: u64 = rest
        .split('/')
        .next()
        .and_then(|e| e.trim().parse().ok())
        .unwrap_or(0);
    let detail = rest.split_once(", ").map_or("", |(_, d)| d);
    eprint!("\r{}", bar(name, elapsed, seconds, detail));
    let _ = std::io::stderr().flush();
}

/// `name [=====>    ] 45% 270/600 s  detail`, 30 cells wide.
fn bar(name: &str, elapsed: u64, total: u64, detail: &str) -> String {
    const WIDTH: u64 = 30;
    let total = total.max(1);
    let done = (elapsed.min(total) * WIDTH / total) as usize;
    let arrow = if done < WIDTH as usize { ">" } else { "" };
    let rest = (WIDTH as usize).saturating_sub(done + arrow.len());
    format!(
        "{name} [{}{arrow}{}] {:>3}% {elapsed}/{total} s  {detail}\x1b[K",
        "=".repeat(done),
        " ".repeat(rest),
        elapsed.min(total) * 100 / total
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_elapsed_time() {
        assert_eq!(
            bar("churn", 0, 600, "x"),
            format!("churn [>{}]   0% 0/600 s  x\x1b[K", " ".repeat(29))
        );
        assert_eq!(
            bar("churn", 300, 600, ""),
            format!(
                "churn [{}>{}]  50% 300/600 s  \x1b[K",
                "=".repeat(15),
                " ".repeat(14)
            )
        );
        assert_eq!(
            bar("soak", 900, 600, ""),
            format!("soak [{}] 100% 900/600 s  \x1b[K", "=".repeat(30))
        );
    }
}
