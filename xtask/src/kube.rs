//! `cargo xtask kube`: the real Kubernetes, built from the pinned Go module in
//! `tools/kubernetes/`.
//!
//! nodelet is compared with the real kubelet and joins a real control plane,
//! both v1.37.2. Nothing but Go modules can be downloaded here, so the
//! binaries are built from `k8s.io/kubernetes` and `go.etcd.io/etcd/server/v3`
//! through the Go module proxy:
//!
//! - `tools/kubernetes/go.mod` requires `k8s.io/kubernetes`, and replaces its
//!   staging modules (which upstream's go.mod points at `./staging/...`) with
//!   their published `v0.<minor>.<patch>` tags. `kube sync` writes that
//!   replace block from upstream's own go.mod; `kube build` refuses a go.mod
//!   whose block has drifted from it.
//! - Binaries are stamped the way upstream's `hack/lib/version.sh` stamps a
//!   release (`gitVersion`, `gitMajor`, `gitMinor`, `gitTreeState`, and the
//!   tag's date as `buildDate`), so `kubectl version` and a node's
//!   `kubeletVersion` say v1.37.2.
//! - They land in `target/kubernetes/<version>/bin/` with a stamp file; a build
//!   whose version, go.mod, go.sum and Go toolchain match the stamp is reused.
//! - `KUBE_BIN_DIR` names a directory of prebuilt binaries (setup-envtest's,
//!   say) and skips the build.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::cmd;
use crate::layout::{Layout, write_if_changed};

/// Names a directory of prebuilt binaries; the build is skipped.
pub const BIN_DIR_VAR: &str = "KUBE_BIN_DIR";
/// The variable tests read the binaries' directory from.
pub const TEST_BIN_DIR_VAR: &str = "NODELET_KUBE_BIN_DIR";

/// The module that holds the Kubernetes commands.
const KUBERNETES: &str = "k8s.io/kubernetes";
/// etcd's server module; its root package is the `etcd` command.
const ETCD: &str = "go.etcd.io/etcd/server/v3";
/// The Kubernetes commands built, by package below `k8s.io/kubernetes/cmd/`.
pub const COMMANDS: [&str; 5] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kubelet",
];
/// Every binary a build leaves in the bin directory.
pub const BINARIES: [&str; 6] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kubelet",
];
/// Build tags upstream's `hack/lib/golang.sh` sets for release binaries.
const TAGS: &str = "selinux,notest";
/// Packages upstream's ldflags stamp the version into.
const VERSION_PACKAGES: [&str; 2] = [
    "k8s.io/client-go/pkg/version",
    "k8s.io/component-base/version",
];

const USAGE: &str = "\
usage: cargo xtask kube <build | sync | version>
  build    build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and
           the kubelet into target/kubernetes/<version>/bin (reused when up to date;
           KUBE_BIN_DIR=<dir> uses prebuilt binaries instead)
  sync     rewrite tools/kubernetes/go.mod's replace block from k8s.io/kubernetes's own
           go.mod, then `go mod tidy`
  version  print the pinned Kubernetes version";

/// Runs `cargo xtask kube ARGS`.
pub fn run(layout: &Layout, args: &[String]) -> Result<()> {
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["build"] => {
            let dir = ensure_built(layout)?;
            println!("{}", dir.display());
            Ok(())
        }
        ["sync"] => sync(layout),
        ["version"] => {
            println!("{}", Module::read(layout)?.version);
            Ok(())
        }
        _ => bail!("{USAGE}"),
    }
}

/// The pinned module in `tools/kubernetes/`.
#[derive(Debug)]
pub struct Module {
    dir: PathBuf,
    /// The `k8s.io/kubernetes` version go.mod requires, e.g. `v1.37.2`.
    pub version: String,
}

impl Module {
    /// Reads the version from `tools/kubernetes/go.mod`.
    pub fn read(layout: &Layout) -> Result<Self> {
        let dir = layout.workspace().join("tools").join("kubernetes");
        let go_mod = fs::read_to_string(dir.join("go.mod"))
            .with_context(|| format!("reading {}", dir.join("go.mod").display()))?;
        let version = required_version(&go_mod, KUBERNETES)
            .with_context(|| format!("{} does not require {KUBERNETES}", dir.display()))?;
        Ok(Self { dir, version })
    }

    /// `v1.37.2` → `v0.37.2`: the tag of the staging modules of a release.
    fn staging_version(&self) -> Result<String> {
        let (major, minor, patch) = semver(&self.version)?;
        if major != 1 {
            bail!("{KUBERNETES} {}: only 1.x releases are known", self.version);
        }
        Ok(format!("v0.{minor}.{patch}"))
    }

    fn go(&self) -> Command {
        let mut go = Command::new("go");
        go.current_dir(&self.dir)
            // Never fetch another toolchain behind our back; go.mod's `go` line
            // must be satisfied by the machine's Go.
            .env("GOTOOLCHAIN", "local")
            .env("GOFLAGS", "-mod=readonly");
        go
    }
}

/// Where the binaries are or will be, without building: `KUBE_BIN_DIR`, else
/// `target/kubernetes/<version>/bin`.
pub fn bin_dir(layout: &Layout) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_DIR_VAR) {
        return Ok(std::path::absolute(PathBuf::from(dir))?);
    }
    let module = Module::read(layout)?;
    Ok(build_dir(layout, &module).join("bin"))
}

fn build_dir(layout: &Layout, module: &Module) -> PathBuf {
    layout
        .workspace()
        .join("target")
        .join("kubernetes")
        .join(&module.version)
}

/// Where the binaries are: `KUBE_BIN_DIR`, else a build under `target/`, made
/// or reused. Prints progress while it builds.
pub fn ensure_built(layout: &Layout) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_DIR_VAR) {
        let dir = std::path::absolute(PathBuf::from(dir))?;
        let missing = missing_binaries(&dir);
        if !missing.is_empty() {
            bail!(
                "{BIN_DIR_VAR}={} lacks {}",
                dir.display(),
                missing.join(", ")
            );
        }
        eprintln!(
            "xtask: using the prebuilt binaries in {} ({BIN_DIR_VAR})",
            dir.display()
        );
        return Ok(dir);
    }
    let module = Module::read(layout)?;
    let out = build_dir(layout, &module);
    let bin = out.join("bin");
    let stamp_file = out.join("stamp");
    let stamp = stamp(&module)?;
    if missing_binaries(&bin).is_empty()
        && fs::read_to_string(&stamp_file).is_ok_and(|old| old == stamp)
    {
        eprintln!(
            "xtask: Kubernetes {} binaries are up to date in {}",
            module.version,
            bin.display()
        );
        return Ok(bin);
    }
    check_replaces(&module)?;
    let _ = fs::remove_file(&stamp_file);
    build(&module, &bin)?;
    write_if_changed(&stamp_file, stamp.as_bytes())?;
    Ok(bin)
}

/// The binaries of [`BINARIES`] that `dir` lacks.
fn missing_binaries(dir: &Path) -> Vec<&'static str> {
    BINARIES
        .into_iter()
        .filter(|name| !dir.join(name).is_file())
        .collect()
}

/// What a build depends on besides the module cache: the version, go.mod,
/// go.sum, the Go toolchain and the flags. A change in any rebuilds.
fn stamp(module: &Module) -> Result<String> {
    let mut hash = Sha256::new();
    for file in ["go.mod", "go.sum"] {
        let path = module.dir.join(file);
        hash.update(fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
    }
    let go = cmd::output(module.go().arg("version"))?;
    Ok(format!(
        "version {}\ninputs {:x}\ngo {}\nldflags {}\ntags {TAGS}\n",
        module.version,
        hash.finalize(),
        go.trim(),
        ldflags(module)?,
    ))
}

/// The linker flags of an upstream release build: stripped, version stamped.
fn ldflags(module: &Module) -> Result<String> {
    let (major, minor, _) = semver(&module.version)?;
    let build_date = tag_date(module)?;
    let mut flags = vec!["-s".to_owned(), "-w".to_owned()];
    for package in VERSION_PACKAGES {
        for (key, value) in [
            ("gitVersion", module.version.as_str()),
            ("gitMajor", &major.to_string()),
            ("gitMinor", &minor.to_string()),
            ("gitTreeState", "clean"),
            ("buildDate", &build_date),
        ] {
            flags.push(format!("-X {package}.{key}={value}"));
        }
    }
    Ok(flags.join(" "))
}

/// The release's date from the module proxy's `.info` (in the module cache once
/// go.mod's requirements are downloaded), as upstream's `buildDate` format.
fn tag_date(module: &Module) -> Result<String> {
    let info = download_json(module, &format!("{KUBERNETES}@{}", module.version))?;
    let info_file = json_field(&info, "Info").context("`go mod download -json` gave no Info")?;
    let text = fs::read_to_string(&info_file).with_context(|| format!("reading {info_file}"))?;
    let time = json_field(&text, "Time").context("the module's .info has no Time")?;
    // RFC 3339 as the proxy gives it, e.g. 2026-10-27T12:01:04Z.
    Ok(time)
}

/// `go mod download -json MODULE@VERSION`, from the module cache when it is there.
fn download_json(module: &Module, target: &str) -> Result<String> {
    cmd::output(module.go().args(["mod", "download", "-json", target]))
}

/// A string field of a flat JSON object; enough for `go mod download -json`.
fn json_field(json: &str, key: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    value.get(key)?.as_str().map(str::to_owned)
}

/// Builds the binaries into `bin`, printing progress.
fn build(module: &Module, bin: &Path) -> Result<()> {
    fs::create_dir_all(bin).with_context(|| format!("creating {}", bin.display()))?;
    let start = Instant::now();
    eprintln!(
        "xtask: building Kubernetes {} and etcd with {} (a cold build takes about ten minutes \
         here; later builds reuse the Go caches)",
        module.version,
        cmd::output(module.go().arg("version"))?.trim()
    );
    eprintln!("xtask: downloading modules");
    cmd::run(module.go().args(["mod", "download"]))?;
    let kube: Vec<String> = COMMANDS
        .iter()
        .map(|command| format!("{KUBERNETES}/cmd/{command}"))
        .collect();
    let mut targets = kube.clone();
    targets.push(ETCD.to_owned());
    let total = count_packages(module, &targets)?;
    eprintln!("xtask: {total} packages to compile (fewer when the Go build cache has them)");
    let ldflags = ldflags(module)?;
    let progress = Progress::new(total);
    // One `go build` for the Kubernetes commands (they share most packages),
    // and one for etcd, whose package path would otherwise name it `server`.
    let mut kube_build = module.go();
    kube_build
        .args([
            "build",
            "-v",
            "-trimpath",
            "-tags",
            TAGS,
            "-ldflags",
            &ldflags,
            "-o",
        ])
        .arg(format!("{}/", bin.display()))
        .args(&kube);
    progress.run(&mut kube_build)?;
    let mut etcd_build = module.go();
    etcd_build
        .args(["build", "-v", "-trimpath", "-ldflags", "-s -w", "-o"])
        .arg(bin.join("etcd"))
        .arg(ETCD);
    progress.run(&mut etcd_build)?;
    let size: u64 = BINARIES
        .iter()
        .filter_map(|name| fs::metadata(bin.join(name)).ok())
        .map(|meta| meta.len())
        .sum();
    eprintln!(
        "xtask: built {} in {:.0?} ({} MiB of binaries in {})",
        BINARIES.join(", "),
        start.elapsed(),
        size >> 20,
        bin.display()
    );
    Ok(())
}

/// How many packages the targets depend on, standard library excluded.
fn count_packages(module: &Module, targets: &[String]) -> Result<usize> {
    let out = cmd::output(
        module
            .go()
            .args([
                "list",
                "-deps",
                "-tags",
                TAGS,
                "-f",
                "{{if not .Standard}}{{.ImportPath}}{{end}}",
            ])
            .args(targets),
    )?;
    Ok(out
        .lines()
        .filter(|line| !line.is_empty())
        .collect::<BTreeSet<_>>()
        .len())
}

/// Prints a line every 30 s while `go build -v` names the packages it compiles.
struct Progress {
    total: usize,
    start: Instant,
    compiled: std::cell::Cell<usize>,
}

impl Progress {
    fn new(total: usize) -> Self {
        Self {
            total,
            start: Instant::now(),
            compiled: std::cell::Cell::new(0),
        }
    }

    fn run(&self, command: &mut Command) -> Result<()> {
        eprintln!("xtask: $ {}", cmd::display(command));
        command
            .env("CGO_ENABLED", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("spawning `{}`", cmd::display(command)))?;
        let stderr = child.stderr.take().context("go build's stderr")?;
        let (lines_tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut errors = Vec::new();
        let mut last_report = Instant::now();
        loop {
            match lines.recv_timeout(Duration::from_secs(5)) {
                Ok(line) => {
                    // `-v` prints bare import paths; anything else is a message.
                    if line.contains(' ') || line.starts_with('#') {
                        eprintln!("go: {line}");
                        errors.push(line);
                    } else {
                        self.compiled.set(self.compiled.get() + 1);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if last_report.elapsed() >= Duration::from_secs(30) {
                last_report = Instant::now();
                eprintln!(
                    "xtask: kube build: {} of about {} packages after {:.0?}",
                    self.compiled.get(),
                    self.total,
                    self.start.elapsed()
                );
            }
        }
        let _ = reader.join();
        let status = child.wait()?;
        if !status.success() {
            bail!(
                "`{}` failed: {status}{}",
                cmd::display(command),
                if errors.is_empty() {
                    String::new()
                } else {
                    format!(":\n{}", errors.join("\n"))
                }
            );
        }
        Ok(())
    }
}

/// The replace block for `upstream_go_mod`: each staging module replaced by its
/// published tag.
fn replace_block(upstream_go_mod: &str, staging_version: &str) -> Result<String> {
    let mut lines = Vec::new();
    for line in upstream_go_mod.lines() {
        let Some((module, target)) = line.trim().split_once("=>") else {
            continue;
        };
        let (module, target) = (module.trim(), target.trim());
        let module = module.strip_prefix("replace").map_or(module, str::trim);
        if target.starts_with("./staging/") {
            lines.push(format!("\t{module} => {module} {staging_version}"));
        }
    }
    if lines.is_empty() {
        bail!("upstream's go.mod replaces no staging module: has the layout changed?");
    }
    lines.sort();
    Ok(format!("replace (\n{}\n)\n", lines.join("\n")))
}

/// Upstream's go.mod, from the module cache (downloaded if needed).
fn upstream_go_mod(module: &Module) -> Result<String> {
    let info = download_json(module, &format!("{KUBERNETES}@{}", module.version))?;
    let path = json_field(&info, "GoMod").context("`go mod download -json` gave no GoMod")?;
    fs::read_to_string(&path).with_context(|| format!("reading {path}"))
}

/// The replace block go.mod holds now.
fn current_replace_block(go_mod: &str) -> Option<String> {
    let start = go_mod.find("replace (\n")?;
    let end = start + go_mod[start..].find("\n)\n")? + 3;
    Some(go_mod[start..end].to_owned())
}

/// Fails when go.mod's replace block is not what upstream's go.mod gives.
fn check_replaces(module: &Module) -> Result<()> {
    let want = replace_block(&upstream_go_mod(module)?, &module.staging_version()?)?;
    let go_mod = fs::read_to_string(module.dir.join("go.mod"))?;
    if current_replace_block(&go_mod).as_deref() != Some(want.as_str()) {
        bail!(
            "tools/kubernetes/go.mod's replace block differs from the one {KUBERNETES} {} \
             implies; run `cargo xtask kube sync`",
            module.version
        );
    }
    Ok(())
}

/// Rewrites go.mod's replace block from upstream's go.mod and tidies.
fn sync(layout: &Layout) -> Result<()> {
    let module = Module::read(layout)?;
    let want = replace_block(&upstream_go_mod(&module)?, &module.staging_version()?)?;
    let path = module.dir.join("go.mod");
    let go_mod = fs::read_to_string(&path)?;
    let updated = match current_replace_block(&go_mod) {
        Some(old) => go_mod.replacen(&old, &want, 1),
        None => format!("{}\n{want}", go_mod.trim_end()),
    };
    if write_if_changed(&path, updated.as_bytes())? {
        eprintln!("xtask: rewrote the replace block of {}", path.display());
    }
    cmd::run(module.go().env("GOFLAGS", "-mod=mod").args(["mod", "tidy"]))?;
    eprintln!(
        "xtask: {} is in sync with {KUBERNETES} {}",
        path.display(),
        module.version
    );
    Ok(())
}

/// The version a go.mod requires of `path`.
fn required_version(go_mod: &str, path: &str) -> Option<String> {
    go_mod.lines().find_map(|line| {
        let line = line
            .trim()
            .strip_prefix("require")
            .map_or(line.trim(), str::trim);
        let mut words = line.split_whitespace();
        (words.next()? == path).then(|| words.next().map(str::to_owned))?
    })
}

/// `v1.37.2` → (1, 37, 2).
fn semver(version: &str) -> Result<(u64, u64, u64)> {
    let parse = || {
        let mut parts = version.strip_prefix('v')?.split('.');
        let numbers = (
            parts.next()?.parse().ok()?,
            parts.next()?.parse().ok()?,
            parts.next()?.parse().ok()?,
        );
        parts.next().is_none().then_some(numbers)
    };
    parse().with_context(|| format!("{version:?} is not a release version vX.Y.Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPSTREAM: &str = "\
module k8s.io/kubernetes

require (
\tk8s.io/api v0.0.0
\tgo.etcd.io/etcd/client/v3 v3.7.0
)

replace (
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tk8s.io/api => ./staging/src/k8s.io/api
\tgithub.com/x/y => github.com/z/y v1.0.0
)
";

    #[test]
    fn replace_block_names_each_staging_module_at_its_tag() {
        assert_eq!(
            replace_block(UPSTREAM, "v0.37.2").unwrap(),
            "replace (\n\tk8s.io/api => k8s.io/api v0.37.2\n\tk8s.io/client-go => k8s.io/client-go v0.37.2\n)\n"
        );
        assert!(replace_block("module x\n", "v0.1.0").is_err());
    }

    #[test]
    fn single_line_replaces_count_too() {
        let upstream = "replace k8s.io/api => ./staging/src/k8s.io/api\n";
        assert_eq!(
            replace_block(upstream, "v0.37.2").unwrap(),
            "replace (\n\tk8s.io/api => k8s.io/api v0.37.2\n)\n"
        );
    }

    #[test]
    fn finds_required_versions() {
        let go_mod = "module m\n\nrequire k8s.io/kubernetes v1.37.2\n\nrequire (\n\tgo.etcd.io/etcd/server/v3 v3.7.0 // indirect\n)\n";
        assert_eq!(
            required_version(go_mod, "k8s.io/kubernetes").as_deref(),
            Some("v1.37.2")
        );
        assert_eq!(
            required_version(go_mod, "go.etcd.io/etcd/server/v3").as_deref(),
            Some("v3.7.0")
        );
        assert_eq!(required_version(go_mod, "k8s.io/api"), None);
    }

    #[test]
    fn parses_release_versions_only() {
        assert_eq!(semver("v1.37.2").unwrap(), (1, 37, 2));
        assert!(semver("1.37.2").is_err());
        assert!(semver("v1.37.2-rc.0").is_err());
        assert!(semver("v1.37").is_err());
    }

    #[test]
    fn current_block_round_trips() {
        let go_mod = "module m\n\nreplace (\n\ta => a v1\n)\n\nrequire b v2\n";
        assert_eq!(
            current_replace_block(go_mod).as_deref(),
            Some("replace (\n\ta => a v1\n)\n")
        );
    }

    #[test]
    fn the_pinned_module_is_in_sync_with_its_replace_rule() {
        // The committed go.mod must parse and pin a release.
        let layout = Layout::from_env().unwrap();
        let module = Module::read(&layout).unwrap();
        assert!(semver(&module.version).is_ok());
        let go_mod = fs::read_to_string(module.dir.join("go.mod")).unwrap();
        let block = current_replace_block(&go_mod).expect("go.mod has a replace block");
        let staging = module.staging_version().unwrap();
        for line in block.lines().filter(|line| line.contains("=>")) {
            assert!(line.ends_with(&staging), "{line} is not at {staging}");
        }
    }
}
