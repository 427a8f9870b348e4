//! End to end, issue 11: the `nodelet` binary against the real containerd of
//! `cargo xtask setup`, fed hostile static manifests.
//!
//! - A pod whose `metadata.uid` is a path traversal (`../../canary`) is refused where it
//!   enters, with a reason on `/errors` naming the file and `metadata.uid`; adding and
//!   removing it touches nothing outside the root and pod-logs directories (a canary
//!   directory with files where the traversal leads survives).
//! - A Secret document with a type error or bad base64 is refused naming the key, and its
//!   value appears neither on `/errors` nor in nodelet's log.
//!
//! Without the environment each test says so and passes, except with `CI=true`, where it
//! fails (`common::Runtime::from_env`).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use common::{Node, sleeper_yaml};

/// Everything under `dir` except the `skip`ped top-level entries: path → (kind, content,
/// modification time). Content and mtime together catch a rewrite as well as a removal.
fn snapshot(dir: &Path, skip: &[&str]) -> BTreeMap<PathBuf, (char, Vec<u8>, Option<SystemTime>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let entry = entry.unwrap();
            let path = entry.path();
            if d == dir && skip.iter().any(|s| entry.file_name() == *s) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mtime = meta.modified().ok();
            if meta.is_dir() {
                out.insert(path.clone(), ('d', Vec::new(), mtime));
                stack.push(path);
            } else if meta.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(
                    path,
                    ('l', target.into_os_string().into_encoded_bytes(), mtime),
                );
            } else {
                out.insert(path.clone(), ('f', std::fs::read(&path).unwrap(), mtime));
            }
        }
    }
    out
}

/// `/errors` as JSON entries, or the body when it is not (yet) what `check` wants.
fn errors_where(
    node: &Node,
    check: impl Fn(&[serde_json::Value]) -> bool,
) -> Result<Vec<serde_json::Value>, String> {
    let (code, body) = node.get("/errors");
    if code != 200 {
        return Err(format!("{code} {body}"));
    }
    let errors: Vec<serde_json::Value> =
        serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    if check(&errors) {
        Ok(errors)
    } else {
        Err(body)
    }
}

fn error_for<'a>(errors: &'a [serde_json::Value], file: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|e| {
            e["file"]
                .as_str()
                .is_some_and(|p| p.ends_with(&format!("/{file}")))
        })
        .and_then(|e| e["reason"].as_str())
}

/// Issue 11: `metadata.uid: ../../canary` in a static manifest. The root dir is `T/root`,
/// so `T/root/pods/../../canary` is `T/canary`; the pod logs dir is `T/logs`, where
/// `<ns>_<name>_../../canary` leads to `T/logs/canary`. Both canaries hold files (and
/// `T/canary` the `containers` directory the worker's clean-up removes). The manifest is
/// added beside a good pod, then both are removed; the good pod's termination completing
/// shows that nodelet processed the removal.
#[test]
fn uid_traversal_manifest_is_refused_on_errors_and_the_canary_outside_root_survives() {
    let Some(mut node) = Node::new("trav", "") else {
        return;
    };
    let base = node
        .root_dir()
        .parent()
        .expect("the node's directory")
        .to_owned();
    for dir in ["canary/containers", "logs/canary"] {
        std::fs::create_dir_all(base.join(dir)).unwrap();
    }
    std::fs::write(base.join("canary/file"), "alive").unwrap();
    std::fs::write(base.join("canary/containers/file"), "alive").unwrap();
    std::fs::write(base.join("logs/canary/file"), "alive").unwrap();
    // nodelet owns `root` and `logs`; the test writes `manifests`; `nodelet.log` is its log.
    let outside = || snapshot(&base, &["root", "logs", "manifests", "nodelet.log"]);
    let before = outside();
    assert!(before.contains_key(&base.join("canary/containers/file")));

    node.write_manifest(
        "trav.yaml",
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: trav, uid: \"../../canary\"}}\n\
             spec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    \
             image: {}\n    command: [sleep, \"3600\"]\n",
            test_env::busybox_image()
        ),
    );
    node.write_manifest("good.yaml", &sleeper_yaml("good"));
    node.start();
    node.wait_running("good");

    let errors = node.wait_for("/errors to refuse trav.yaml", || {
        errors_where(&node, |e| error_for(e, "trav.yaml").is_some())
    });
    let reason = error_for(&errors, "trav.yaml").unwrap();
    assert!(
        reason.contains("metadata.uid") && reason.contains("../../canary"),
        "the reason names the field and the value: {reason}"
    );
    assert!(node.pod("trav").is_none(), "a refused pod is not in /pods");
    assert!(node.sandboxes_of("trav").is_empty());
    node.wait_for("the refusal in nodelet's log", || {
        let log = std::fs::read_to_string(node.log_file()).unwrap_or_default();
        let line = log
            .lines()
            .find(|l| l.contains("trav.yaml") && l.contains("metadata.uid"));
        line.map(|_| ()).ok_or_else(|| node.log_tail(20))
    });

    node.remove_manifest("trav.yaml");
    node.remove_manifest("good.yaml");
    node.wait_for(
        "the good pod to terminate and trav.yaml to leave /errors",
        || {
            let gone = node.pod("good").is_none() && node.sandboxes_of("good").is_empty();
            let (_, body) = node.get("/errors");
            if gone && !body.contains("trav.yaml") {
                Ok(())
            } else {
                Err(format!("good gone: {gone}; /errors: {body}"))
            }
        },
    );

    for file in ["canary/file", "canary/containers/file", "logs/canary/file"] {
        assert_eq!(
            std::fs::read_to_string(base.join(file)).ok().as_deref(),
            Some("alive"),
            "{file} must survive"
        );
    }
    let after = outside();
    let changed: Vec<&PathBuf> = before
        .iter()
        .filter(|(p, v)| after.get(*p) != Some(*v))
        .map(|(p, _)| p)
        .chain(after.keys().filter(|p| !before.contains_key(*p)))
        .collect();
    assert!(
        changed.is_empty(),
        "nodelet touched paths outside its root and log dirs: {changed:?}"
    );
    node.stop();
}

/// Issue 11: a Secret whose `stringData` value is a number and one whose `data` value is
/// not base64 are refused naming the key; neither value is on `/errors` or in the log.
/// (Distinctive values, so that a port or a pid cannot match by chance.)
#[test]
fn secret_type_error_and_bad_base64_never_show_the_value_on_errors_or_in_the_log() {
    const NUMBER: &str = "918273645";
    const NOT_BASE64: &str = "s3cr3t-v@lue!!";
    let Some(mut node) = Node::new("secret", "") else {
        return;
    };
    node.write_manifest(
        "typed.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: typed}}\nstringData: {{pin: {NUMBER}}}\n"
        ),
    );
    node.write_manifest(
        "encoded.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: encoded}}\ndata: {{token: \"{NOT_BASE64}\"}}\n"
        ),
    );
    node.start();

    let errors = node.wait_for("/errors to refuse both Secrets", || {
        errors_where(&node, |e| {
            error_for(e, "typed.yaml").is_some() && error_for(e, "encoded.yaml").is_some()
        })
    });
    let typed = error_for(&errors, "typed.yaml").unwrap();
    let encoded = error_for(&errors, "encoded.yaml").unwrap();
    assert!(typed.contains("stringData.pin"), "{typed}");
    assert!(
        encoded.contains("data.token") && encoded.contains("base64"),
        "{encoded}"
    );
    let (_, body) = node.get("/errors");
    for value in [NUMBER, NOT_BASE64] {
        assert!(
            !body.contains(value),
            "/errors shows a secret value: {body}"
        );
    }

    // The refusals reach the log (so the log was written), without the values.
    node.wait_for("both refusals in nodelet's log", || {
        let log = std::fs::read_to_string(node.log_file()).unwrap_or_default();
        if log.contains("stringData.pin") && log.contains("data.token") {
            Ok(())
        } else {
            Err(node.log_tail(20))
        }
    });
    node.stop();
    let log = std::fs::read_to_string(node.log_file()).unwrap();
    for value in [NUMBER, NOT_BASE64] {
        assert!(
            !log.contains(value),
            "nodelet's log shows a secret value:\n{log}"
        );
    }
}
