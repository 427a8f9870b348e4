//! Tests that check the tree itself: no unfinished code, every library crate documented, and
//! `docs/conformance.md` true to the code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file of the workspace outside `target/`.
fn rust_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    walk(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root(), &mut out);
    out
}

#[test]
fn no_unfinished_code() {
    // Spelled in two parts so this file does not find itself.
    let markers = [
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
        concat!("dbg", "!("),
    ];
    let mut found = Vec::new();
    for file in rust_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if markers.iter().any(|m| line.contains(m)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "unfinished code:\n{}", found.join("\n"));
}

#[test]
fn library_crates_have_crate_docs() {
    let crates = std::fs::read_dir(root().join("crates")).unwrap();
    for krate in crates.flatten() {
        let lib = krate.path().join("src/lib.rs");
        if !lib.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&lib).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} has no crate-level docs",
            lib.display()
        );
        assert!(
            text.contains("```"),
            "{} crate docs have no example",
            lib.display()
        );
    }
}

/// The checklist of `kubelet-behaviour.md`: id prefixes and how many ids each has.
const CHECKLIST: &[(&str, usize)] = &[
    ("CRI", 14),
    ("LC", 21),
    ("RP", 11),
    ("TM", 12),
    ("PH", 23),
    ("IM", 10),
    ("PL", 6),
    ("SP", 9),
    ("PR", 22),
    ("VO", 19),
    ("QS", 20),
    ("EV", 14),
    ("NS", 12),
    ("ST", 8),
    ("HT", 11),
    ("DF", 5),
];

#[test]
fn conformance_lists_every_checklist_id_once() {
    let doc = std::fs::read_to_string(root().join("docs/conformance.md")).unwrap();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for line in doc.lines() {
        if let Some(id) = row_id(line) {
            *seen.entry(id.to_string()).or_default() += 1;
        }
    }
    let mut expected = Vec::new();
    for (prefix, count) in CHECKLIST {
        for n in 1..=*count {
            expected.push(format!("{prefix}-{n:02}"));
        }
    }
    assert_eq!(expected.len(), 217);
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !seen.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "ids missing from docs/conformance.md: {missing:?}"
    );
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "ids listed more than once: {twice:?}");
    let unknown: Vec<_> = seen.keys().filter(|id| !expected.contains(id)).collect();
    assert!(unknown.is_empty(), "ids not in the checklist: {unknown:?}");
}

fn row_id(line: &str) -> Option<&str> {
    let cell = line.strip_prefix("| ")?.split(" |").next()?;
    let (prefix, num) = cell.split_once('-')?;
    (prefix.chars().all(|c| c.is_ascii_uppercase())
        && num.len() == 2
        && num.chars().all(|c| c.is_ascii_digit()))
    .then_some(cell)
}

/// What a row of `docs/conformance.md` says about its behaviour.
#[derive(Debug, PartialEq, Eq)]
enum RowState<'a> {
    /// Shown by these tests (`file_or_module::test_name` code spans).
    Tested(Vec<&'a str>),
    /// A figure, not a pass/fail test: these benches measure it. Not counted as tested.
    Measured(Vec<&'a str>),
    /// Not implemented yet.
    Open,
    /// Does not apply.
    NotApplicable,
}

/// The state cell of a row (its last column) and what it names.
fn row_state(line: &str) -> RowState<'_> {
    let state = line
        .trim_end_matches('|')
        .rsplit(" | ")
        .next()
        .unwrap_or("")
        .trim();
    if state.starts_with("open") {
        return RowState::Open;
    }
    if state.starts_with("n/a") {
        return RowState::NotApplicable;
    }
    // A row names tests (or benches) as `file_or_module::name`; other code spans in the
    // note (type names, calls) are prose.
    let named: Vec<&str> = state
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, t)| t.rsplit("::").next().unwrap())
        .filter(|t| looks_like_test(t))
        .collect();
    if state.starts_with("measured") {
        RowState::Measured(named)
    } else {
        RowState::Tested(named)
    }
}

/// Whether `name` is defined as a function (or a contract macro case) in `sources`.
fn defines(sources: &str, name: &str) -> bool {
    // Contract cases are generated per implementation by a macro: look for the name as a
    // function or as a macro case.
    sources.contains(&format!("fn {name}("))
        || sources.contains(&format!("fn {name}<"))
        || sources.contains(&format!("{name} =>"))
        || sources.contains(&format!("{name},"))
}

/// What is wrong with one row: tests named but not defined in `test_sources` (everything
/// outside `benches/`), benches named but not defined in `bench_sources`, names without
/// the row's tag.
fn row_problems(line: &str, test_sources: &str, bench_sources: &str) -> Vec<String> {
    let Some(id) = row_id(line) else {
        return Vec::new();
    };
    let tag = id.to_lowercase().replace('-', "_");
    let (named, sources, what, place) = match row_state(line) {
        RowState::Open | RowState::NotApplicable => return Vec::new(),
        RowState::Tested(tests) => (tests, test_sources, "test", "outside benches/"),
        RowState::Measured(benches) => (benches, bench_sources, "bench", "in benches/"),
    };
    let mut problems = Vec::new();
    if named.is_empty() {
        problems.push(format!(
            "{id}: state is neither open, n/a, measured with a bench, nor a test"
        ));
    }
    for name in named {
        if !name.contains(&tag) {
            problems.push(format!(
                "{id}: {what} {name} does not carry {tag} in its name"
            ));
        }
        if !defines(sources, name) {
            problems.push(format!("{id}: {what} {name} does not exist {place}"));
        }
    }
    problems
}

#[test]
fn conformance_tests_exist_and_carry_their_id() {
    let doc = std::fs::read_to_string(root().join("docs/conformance.md")).unwrap();
    let benches_dir = root().join("benches");
    let (benches, tests): (Vec<PathBuf>, Vec<PathBuf>) = rust_files()
        .into_iter()
        .partition(|f| f.starts_with(&benches_dir));
    let read_all = |files: &[PathBuf]| {
        files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    };
    // A bench is not a conformance test: tests are looked for outside `benches/`, and
    // the benches of measured rows only there.
    let (bench_sources, test_sources) = (read_all(&benches), read_all(&tests));
    let problems: Vec<String> = doc
        .lines()
        .flat_map(|line| row_problems(line, &test_sources, &bench_sources))
        .collect();
    assert!(
        problems.is_empty(),
        "docs/conformance.md is out of date:\n{}",
        problems.join("\n")
    );
}

#[test]
fn measured_rows_are_not_counted_as_tested() {
    assert_eq!(
        row_state("| PL-01 | x | `worker_scenarios::pl_01_exit_is_seen` |"),
        RowState::Tested(vec!["pl_01_exit_is_seen"])
    );
    assert_eq!(row_state("| DF-02 | x | open: later |"), RowState::Open);
    assert_eq!(
        row_state("| CRI-01 | x | n/a: why |"),
        RowState::NotApplicable
    );

    // A bench measures; it does not pass for a test.
    let benches = "async fn df_04_pod_startup(args: &Args) {}";
    let tests = "#[test]\nfn df_05_budget() {}";
    let measured = "| DF-04 | x | measured: `nodelet_startup::df_04_pod_startup` (a bench) |";
    assert_eq!(
        row_state(measured),
        RowState::Measured(vec!["df_04_pod_startup"])
    );
    assert!(row_problems(measured, tests, benches).is_empty());
    let claimed = "| DF-04 | x | `nodelet_startup::df_04_pod_startup` |";
    assert_eq!(
        row_problems(claimed, tests, benches),
        ["DF-04: test df_04_pod_startup does not exist outside benches/"]
    );
    // And a measured row must name a bench that exists.
    let no_bench = "| DF-05 | x | measured: `startup::df_05_budget` |";
    assert_eq!(
        row_problems(no_bench, tests, benches),
        ["DF-05: bench df_05_budget does not exist in benches/"]
    );
    assert_eq!(
        row_problems("| DF-05 | x | measured on a laptop |", tests, benches),
        ["DF-05: state is neither open, n/a, measured with a bench, nor a test"]
    );
}

/// A test name: snake_case with a checklist tag such as `cri_05` in it.
fn looks_like_test(name: &str) -> bool {
    let snake = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let tagged = name.split('_').collect::<Vec<_>>().windows(2).any(|w| {
        w[0].chars().all(|c| c.is_ascii_lowercase())
            && !w[0].is_empty()
            && w[1].len() == 2
            && w[1].chars().all(|c| c.is_ascii_digit())
    });
    snake && tagged
}
