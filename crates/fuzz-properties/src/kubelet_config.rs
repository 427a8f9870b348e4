//! The `KubeletConfiguration` loader ([`KubeletConfiguration::from_yaml`]).
//!
//! Properties, on any text:
//!
//! - loading returns (no panic); a refusal is a parse or a value error that names the
//!   config file and a field (`maxPods (--max-pods)`, `authentication.webhook.cacheTTL`),
//!   or `document` / `invalid YAML` when the file as a whole is wrong, and says why;
//! - a loaded configuration validates ([`KubeletConfiguration::validate`]), its
//!   reservations parse, its log size is a positive byte count, its paths are absolute
//!   (relative ones resolved against the file's directory, as the kubelet does);
//! - what `/configz` serves of it (its JSON form) loads back into the same configuration.

use std::path::Path;

use agent::Error;
use agent::config::{API_VERSION, KIND, KubeletConfiguration};

/// The config file's path, as refusals must name it.
pub const PATH: &str = "/etc/kubernetes/kubelet.yaml";

/// Checks the loader on `data` read as UTF-8 text (the loader reads text; other bytes are
/// refused before it); panics when a property fails.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match KubeletConfiguration::from_yaml(text, Path::new(PATH)) {
        Ok(config) => check_config(&config),
        Err(err) => check_refusal(&err),
    }
}

/// A refusal names the file and a field, and says why.
fn check_refusal(err: &Error) {
    let message = err.to_string();
    assert!(
        message.contains(PATH),
        "the refusal names no file: {message}"
    );
    let (field, reason) = match err {
        Error::ParseConfig {
            path,
            field,
            reason,
        } => {
            assert_eq!(path, Path::new(PATH));
            (field, reason)
        }
        Error::InvalidConfig {
            origin,
            field,
            reason,
        } => {
            assert_eq!(origin, PATH);
            (field, reason)
        }
        other => panic!("the loader failed with neither a parse nor a value error: {other:?}"),
    };
    // An unknown key is named as written, even `.` or a blank one; any other field is a
    // path the file can hold, or `document` / `invalid YAML`.
    let unknown_key = reason.starts_with("unknown field");
    assert!(
        unknown_key || (!field.trim().is_empty() && field != "."),
        "the refusal names no field: {message}"
    );
    assert!(
        !reason.trim().is_empty(),
        "the refusal says no reason: {message}"
    );
    assert!(message.contains(field.as_str()), "{message}");
}

/// A loaded configuration is valid and survives `/configz`.
fn check_config(config: &KubeletConfiguration) {
    assert_eq!(config.api_version, API_VERSION);
    assert_eq!(config.kind, KIND);
    if let Err((field, reason)) = config.validate() {
        panic!("a loaded configuration fails validation: {field}: {reason}");
    }
    if let Err((field, reason)) = config.reservations() {
        panic!("a loaded configuration's reservations do not parse: {field}: {reason}");
    }
    assert!(config.container_log_max_size_bytes() > 0);
    assert!(config.pod_logs_dir.is_absolute());
    if let Some(path) = &config.static_pod_path {
        assert!(
            path.as_os_str().is_empty() || path.is_absolute(),
            "staticPodPath {} was not resolved",
            path.display()
        );
    }
    let served = serde_json::to_string_pretty(config).expect("a configuration serializes");
    match KubeletConfiguration::from_yaml(&served, Path::new(PATH)) {
        Ok(again) => assert!(
            &again == config,
            "/configz does not load back to the same configuration:\n{served}"
        ),
        Err(err) => panic!("/configz does not load back: {err}\n{served}"),
    }
}
