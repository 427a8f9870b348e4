//! The variables `cargo xtask setup` writes, and what a test does without them.
//!
//! Setup prints them as `export` lines and writes them to `$NODELET_ENV_DIR/env`
//! (`target/nodelet-env/env` by default). A test reads each variable from its process
//! environment first, else from that file, so `cargo test` works in a shell that never
//! exported them.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The CRI endpoint of the environment's containerd (`unix:///...`).
pub const CRI_ENDPOINT_VAR: &str = "NODELET_CRI_ENDPOINT";
/// The environment's base directory (containerd's state, the env file, `runtime.lock`).
pub const ENV_DIR_VAR: &str = "NODELET_ENV_DIR";
/// The local busybox image setup imports.
pub const BUSYBOX_IMAGE_VAR: &str = "NODELET_BUSYBOX_IMAGE";
/// The local pause image setup imports.
pub const PAUSE_IMAGE_VAR: &str = "NODELET_PAUSE_IMAGE";
/// The test registry (`host:port`).
pub const REGISTRY_VAR: &str = "NODELET_TEST_REGISTRY";
/// The busybox image in the test registry.
pub const REGISTRY_BUSYBOX_IMAGE_VAR: &str = "NODELET_REGISTRY_BUSYBOX_IMAGE";

/// [`busybox_image`] when [`BUSYBOX_IMAGE_VAR`] is unset.
pub const DEFAULT_BUSYBOX_IMAGE: &str = "localhost/busybox:1";
/// [`pause_image`] when [`PAUSE_IMAGE_VAR`] is unset.
pub const DEFAULT_PAUSE_IMAGE: &str = "localhost/pause:1";
/// The registry when [`REGISTRY_VAR`] is unset.
pub const DEFAULT_REGISTRY: &str = "127.0.0.1:5000";

/// What to do when the environment is missing.
pub const SETUP_HINT: &str = "start the environment with `cargo xtask setup` (it writes \
    target/nodelet-env/env), or run everything with `cargo xtask test`";

/// The environment of `cargo xtask setup`, as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// [`CRI_ENDPOINT_VAR`].
    pub cri_endpoint: String,
    /// [`ENV_DIR_VAR`], when set.
    pub env_dir: Option<PathBuf>,
    /// [`BUSYBOX_IMAGE_VAR`], default [`DEFAULT_BUSYBOX_IMAGE`].
    pub busybox_image: String,
    /// [`PAUSE_IMAGE_VAR`], default [`DEFAULT_PAUSE_IMAGE`].
    pub pause_image: String,
    /// [`REGISTRY_BUSYBOX_IMAGE_VAR`], default `busybox:1` in the registry of
    /// [`REGISTRY_VAR`] (itself by default [`DEFAULT_REGISTRY`]).
    pub registry_busybox_image: String,
}

impl Env {
    /// The environment from the process's variables, else the env file ([`env_file`]).
    /// [`Error::Unset`] when there is no CRI endpoint.
    pub fn get() -> Result<Env> {
        let file = std::fs::read_to_string(env_file()).unwrap_or_default();
        Env::from_lookup(|name| lookup(name, &file))
    }

    /// The environment from `lookup`, which returns a variable's value or `None`. Empty
    /// values count as unset; [`Error::Unset`] (naming [`env_file`]) without a CRI endpoint.
    ///
    /// ```
    /// let file = "# Written by `cargo xtask setup`.\n\
    ///             NODELET_CRI_ENDPOINT=unix:///tmp/c.sock\n\
    ///             NODELET_TEST_REGISTRY=127.0.0.1:5001\n";
    /// let env = test_env::Env::from_lookup(|name| test_env::env_file_var(file, name)).unwrap();
    /// assert_eq!(env.cri_endpoint, "unix:///tmp/c.sock");
    /// assert_eq!(env.busybox_image, "localhost/busybox:1");
    /// assert_eq!(env.registry_busybox_image, "127.0.0.1:5001/busybox:1");
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Env> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let cri_endpoint = get(CRI_ENDPOINT_VAR).ok_or_else(|| Error::Unset {
            var: CRI_ENDPOINT_VAR,
            file: env_file(),
        })?;
        let registry = get(REGISTRY_VAR).unwrap_or_else(|| DEFAULT_REGISTRY.to_string());
        Ok(Env {
            cri_endpoint,
            env_dir: get(ENV_DIR_VAR).map(PathBuf::from),
            busybox_image: get(BUSYBOX_IMAGE_VAR)
                .unwrap_or_else(|| DEFAULT_BUSYBOX_IMAGE.to_string()),
            pause_image: get(PAUSE_IMAGE_VAR).unwrap_or_else(|| DEFAULT_PAUSE_IMAGE.to_string()),
            registry_busybox_image: get(REGISTRY_BUSYBOX_IMAGE_VAR)
                .unwrap_or_else(|| format!("{registry}/busybox:1")),
        })
    }
}

/// The env file setup writes: `$NODELET_ENV_DIR/env` when the process has that variable,
/// else `target/nodelet-env/env` in this workspace.
pub fn env_file() -> PathBuf {
    match std::env::var_os(ENV_DIR_VAR).filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("env"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/nodelet-env/env"),
    }
}

/// The value of `name` in the text of an env file (`NAME=value` lines; comments and other
/// lines ignored), trimmed; `None` when absent or empty.
pub fn env_file_var(text: &str, name: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(name)?.strip_prefix('='))
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
}

fn lookup(name: &str, file: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| env_file_var(file, name))
}

/// The variable `name` from the process environment, else from the env file.
pub fn var(name: &str) -> Option<String> {
    let file = std::fs::read_to_string(env_file()).unwrap_or_default();
    lookup(name, &file)
}

/// The local busybox image ([`BUSYBOX_IMAGE_VAR`], default [`DEFAULT_BUSYBOX_IMAGE`]).
pub fn busybox_image() -> String {
    var(BUSYBOX_IMAGE_VAR).unwrap_or_else(|| DEFAULT_BUSYBOX_IMAGE.to_string())
}

/// The local pause image ([`PAUSE_IMAGE_VAR`], default [`DEFAULT_PAUSE_IMAGE`]).
pub fn pause_image() -> String {
    var(PAUSE_IMAGE_VAR).unwrap_or_else(|| DEFAULT_PAUSE_IMAGE.to_string())
}

/// Whether this is CI (`CI=true`), where a test must never pass by skipping.
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A test that cannot run here: with `CI=true` it fails (panics with `why` and
/// [`SETUP_HINT`]); elsewhere it prints `skipping: <why>` straight to stderr (past the test
/// harness's capture: a skip must be seen) and returns `None`, so the test can
/// `let Some(..) = .. else { return }`.
#[track_caller]
pub fn skip<T>(why: &str) -> Option<T> {
    if is_ci() {
        panic!("{why}: {SETUP_HINT}");
    }
    let _ = writeln!(std::io::stderr(), "skipping: {why}; {SETUP_HINT}");
    None
}

/// The environment, or [`skip`] when it is missing. `what` names what needs it (`"the
/// PLEG against containerd"`).
#[track_caller]
pub fn require_env(what: &str) -> Option<Env> {
    match Env::get() {
        Ok(env) => Some(env),
        Err(e) => skip(&format!("{what} needs the test environment: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_are_trimmed_and_empty_ones_unset() {
        let file = "NODELET_CRI_ENDPOINT=\nNODELET_CRI_ENDPOINT= unix:///a \nOTHER=1";
        assert_eq!(
            env_file_var(file, CRI_ENDPOINT_VAR).as_deref(),
            Some("unix:///a")
        );
        assert_eq!(env_file_var(file, "OTHER").as_deref(), Some("1"));
        assert_eq!(env_file_var(file, "OTH"), None, "a prefix is not the name");
        assert_eq!(env_file_var(file, "MISSING"), None);
    }

    #[test]
    fn without_an_endpoint_the_environment_is_unset() {
        let err = Env::from_lookup(|_| Some("  ".into())).unwrap_err();
        assert!(
            matches!(err, Error::Unset { var, .. } if var == CRI_ENDPOINT_VAR),
            "{err}"
        );
        assert!(err.to_string().contains("NODELET_CRI_ENDPOINT is not set"));
    }

    #[test]
    fn every_variable_is_read() {
        let env = Env::from_lookup(|name| {
            Some(match name {
                CRI_ENDPOINT_VAR => "unix:///c.sock".into(),
                ENV_DIR_VAR => "/env".into(),
                BUSYBOX_IMAGE_VAR => "b:1".into(),
                PAUSE_IMAGE_VAR => "p:1".into(),
                REGISTRY_BUSYBOX_IMAGE_VAR => "r/b:1".into(),
                _ => return None,
            })
        })
        .unwrap();
        assert_eq!(
            env,
            Env {
                cri_endpoint: "unix:///c.sock".into(),
                env_dir: Some("/env".into()),
                busybox_image: "b:1".into(),
                pause_image: "p:1".into(),
                registry_busybox_image: "r/b:1".into(),
            }
        );
    }
}
