//! Replays the fuzz targets' committed inputs through the same property checks as the fuzz
//! targets, so that CI checks on stable, without cargo-fuzz, every input the fuzzer kept:
//! the hand-written seeds (`fuzz/seeds/<target>/`), the minimized corpus
//! (`fuzz/corpus/<target>/`) and the inputs that made a target fail
//! (`fuzz/regressions/<target>/`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// The `fuzz/` directory at the root of the repository.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir`, sorted; none when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every seed, corpus file and crash case of `target` through its check; fails
/// naming each file that fails.
fn replay(target: &str) {
    let (_, check) = fuzz_properties::TARGETS
        .into_iter()
        .find(|(name, _)| *name == target)
        .expect("a target of fuzz_properties::TARGETS");
    let corpus = files(&fuzz_dir().join("corpus").join(target));
    assert!(
        !corpus.is_empty(),
        "no committed corpus for {target} in {}",
        fuzz_dir().display()
    );
    let inputs: Vec<PathBuf> = files(&fuzz_dir().join("seeds").join(target))
        .into_iter()
        .chain(corpus)
        .chain(files(&fuzz_dir().join("regressions").join(target)))
        .collect();
    let mut failed = Vec::new();
    for input in &inputs {
        let data = std::fs::read(input).unwrap();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&data))) {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failed.push(format!("{}: {why}", input.display()));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} inputs of {target} fail:\n{}",
        failed.len(),
        inputs.len(),
        failed.join("\n")
    );
}

#[test]
fn static_pod_manifest_corpus() {
    replay("static_pod_manifest");
}

#[test]
fn quantity_corpus() {
    replay("quantity");
}

#[test]
fn go_duration_corpus() {
    replay("go_duration");
}

#[test]
fn kubelet_config_corpus() {
    replay("kubelet_config");
}

#[test]
fn cri_log_corpus() {
    replay("cri_log");
}

#[test]
fn every_target_has_a_fuzz_target_file() {
    for (target, _) in fuzz_properties::TARGETS {
        let file = fuzz_dir().join("fuzz_targets").join(format!("{target}.rs"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            text.contains("fuzz_properties::") && text.contains("::check(data)"),
            "{} does not run the shared check",
            file.display()
        );
    }
}
