//! The Debian packages the environment is built from.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::Result;

use crate::cmd;

/// Everything setup needs, and nothing more (`--no-install-recommends`).
///
/// Never add `kubernetes-client`: it clashes with the machine's preinstalled
/// `kubectl`, and the aborted install leaves the other packages unconfigured.
const PACKAGES: [&str; 7] = [
    "containerd",
    "runc",
    "containernetworking-plugins",
    "iptables",
    "busybox-static",
    "docker-registry",
    "protobuf-compiler",
];

/// The state of one package, from the third word of dpkg's `${Status}`.
#[derive(Debug, PartialEq, Eq)]
enum State {
    Installed,
    /// Unpacked, half-configured, triggers pending...: an interrupted install.
    Interrupted,
    Missing,
}

/// Installs whichever packages are missing; does nothing (and asks apt for
/// nothing) when all are installed.
pub fn ensure_installed() -> Result<()> {
    let states = states()?;
    let missing: Vec<&str> = PACKAGES
        .into_iter()
        .filter(|pkg| states[pkg] != State::Installed)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if states.values().any(|state| *state == State::Interrupted) {
        eprintln!("xtask: repairing an interrupted package install");
        cmd::run(Command::new("dpkg").args(["--configure", "-a"]))?;
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    apt_get(&["update"])?;
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(&missing);
    apt_get(&install)
}

fn apt_get(args: &[&str]) -> Result<()> {
    cmd::run(
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Queries dpkg for every package; unknown packages are missing.
fn states() -> Result<BTreeMap<&'static str, State>> {
    // dpkg-query exits 1 when it knows some package not at all, but still
    // reports the others, so the exit status is ignored.
    let out = cmd::capture(
        Command::new("dpkg-query")
            .args(["-W", "-f=${Package}\t${Status}\n"])
            .args(PACKAGES),
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    let reported: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .collect();
    Ok(PACKAGES
        .into_iter()
        .map(|pkg| (pkg, reported.get(pkg).map_or(State::Missing, |s| parse(s))))
        .collect())
}

/// Parses dpkg's `want flag status`, e.g. `install ok installed`.
fn parse(status: &str) -> State {
    match status.split_whitespace().nth(2) {
        Some("installed") => State::Installed,
        None | Some("not-installed" | "config-files") => State::Missing,
        Some(_) => State::Interrupted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dpkg_status() {
        assert_eq!(parse("install ok installed"), State::Installed);
        assert_eq!(parse("install ok unpacked"), State::Interrupted);
        assert_eq!(parse("install ok half-configured"), State::Interrupted);
        assert_eq!(parse("deinstall ok config-files"), State::Missing);
        assert_eq!(parse("unknown ok not-installed"), State::Missing);
        assert_eq!(parse(""), State::Missing);
    }
}
