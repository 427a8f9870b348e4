//! Pod start-up harness: the raw-CRI baseline.
//!
//! Starts N pods by calling the CRI directly (RunPodSandbox + CreateContainer + StartContainer
//! of one busybox container per pod), one at a time and 4 in flight, then tears them down
//! (StopContainer + RemoveContainer + StopPodSandbox + RemovePodSandbox). This is the physical
//! limit an agent is measured against: every later start-up figure of nodelet is divided by
//! the baseline taken in the same run, because the machines are noisy.
//!
//! Run through `cargo xtask bench`, which starts the environment and passes
//! `NODELET_CRI_ENDPOINT`. Flags: `--sizes 1,10,30,110`, `--concurrency 1,4`,
//! `--write <path>` (default `docs/benchmarks.md`), `--no-write`.

mod common;

use anyhow::{Context, bail};
use common::{Phase, list, machine, ms, raw_start_teardown, today, write_section};
use cri_client::{GrpcRuntime, RuntimeService, v1};
use test_env::RuntimeLock;

#[derive(Debug, Clone)]
struct Args {
    sizes: Vec<usize>,
    concurrency: Vec<usize>,
    write: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        sizes: vec![1, 10, 30, 110],
        concurrency: vec![1, 4],
        write: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/benchmarks.md").to_string()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bench" => {}
            "--sizes" => args.sizes = list(&it.next().context("--sizes needs a value")?)?,
            "--concurrency" => {
                args.concurrency = list(&it.next().context("--concurrency needs a value")?)?
            }
            "--write" => args.write = Some(it.next().context("--write needs a path")?),
            "--no-write" => args.write = None,
            other => bail!("unknown argument {other:?}"),
        }
    }
    Ok(args)
}

#[derive(Debug, Clone)]
struct Row {
    pods: usize,
    concurrency: usize,
    start: Phase,
    teardown: Phase,
}

async fn measure(rt: &GrpcRuntime, pods: usize, concurrency: usize) -> anyhow::Result<Row> {
    let run = format!("{:x}-{pods}-{concurrency}", std::process::id());
    let (start, teardown) = raw_start_teardown(rt, &run, pods, concurrency).await?;
    Ok(Row {
        pods,
        concurrency,
        start,
        teardown,
    })
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| pods | in flight | start wall (ms) | start wall/pod | start median | start p99 \
         | teardown wall (ms) | teardown wall/pod | teardown median | teardown p99 |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let per = |p: &Phase| p.wall / r.pods as u32;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.pods,
            r.concurrency,
            ms(r.start.wall),
            ms(per(&r.start)),
            ms(r.start.percentile(0.5)),
            ms(r.start.percentile(0.99)),
            ms(r.teardown.wall),
            ms(per(&r.teardown)),
            ms(r.teardown.percentile(0.5)),
            ms(r.teardown.percentile(0.99)),
        ));
    }
    out
}

const BEGIN: &str = "<!-- startup-baseline: written by benches/startup.rs -->";
const END: &str = "<!-- /startup-baseline -->";
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let (_, rt) = common::runtime().await?;
    // Its sandboxes stay out of an agent's way (an agent removes the sandboxes it does not
    // know).
    let _lock = RuntimeLock::shared()?;
    let version = rt.version(v1::VersionRequest::default()).await?;
    // One warm-up pod so the first measured pod does not pay for cold caches.
    measure(&rt, 1, 1).await?;

    let mut rows = Vec::new();
    for &concurrency in &args.concurrency {
        for &pods in &args.sizes {
            let row = measure(&rt, pods, concurrency).await?;
            eprintln!(
                "raw CRI: {pods} pods, {concurrency} in flight: start {} ms/pod, teardown {} ms/pod",
                ms(row.start.wall / pods as u32),
                ms(row.teardown.wall / pods as u32)
            );
            rows.push(row);
        }
    }
    let body = table(&rows);
    println!("{body}");

    if let Some(path) = args.write {
        let section = format!(
            "{BEGIN}\n## Raw-CRI pod start-up baseline\n\n\
             Measured {} on {}; runtime {} {} (CRI {}), CNI bridge networking.\n\n\
             Each pod: RunPodSandbox + CreateContainer + StartContainer of one busybox \
             `sleep 3600` container, with a per-pod `cgroup_parent`. Teardown: StopContainer \
             (timeout 0) + RemoveContainer + StopPodSandbox + RemovePodSandbox. \"wall/pod\" is \
             the wall time of all N pods divided by N; median and p99 are per pod, measured \
             around that pod's calls (with 4 in flight they include waiting on the other 3).\n\n\
             {body}\n\
             Reproduce: `cargo xtask bench` (runs `cargo bench --bench startup`).\n{END}",
            today(),
            machine(),
            version.runtime_name,
            version.runtime_version,
            version.runtime_api_version,
        );
        write_section(&path, BEGIN, END, &section)?;
        eprintln!("wrote {path}");
    }
    Ok(())
}
