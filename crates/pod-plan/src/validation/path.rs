//! Path safety: one-component checks for the path builders and guarded removals.

use std::io;
use std::path::{Component, Path};

/// The longest stretch of a value quoted in an error message.
const MAX_QUOTED_CHARS: usize = 64;

/// Whether `value` can name exactly one directory entry: not empty, no `/`, no NUL, not
/// `.` or `..` — the only component of the path is `Component::Normal(value)`.
///
/// ```
/// use pod_plan::validation::is_path_component;
/// assert!(is_path_component("web_prod_app-0123.log"));
/// for bad in ["", ".", "..", "a/b", "/", "a/", "a\0b"] {
///     assert!(!is_path_component(bad), "{bad:?}");
/// }
/// ```
pub fn is_path_component(value: &str) -> bool {
    check_path_component(value).is_ok()
}

/// [`is_path_component`], saying what is wrong (for error messages).
pub fn check_path_component(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        return Err("must not be empty (it names a file or directory)");
    }
    if value.contains('\0') {
        return Err("must not contain NUL (it names a file or directory)");
    }
    if value.contains('/') {
        return Err("must not contain '/' (it names one file or directory)");
    }
    let mut components = Path::new(value).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(name)), None) if name == value => Ok(()),
        _ => Err("must not be '.' or '..' (it names one file or directory)"),
    }
}

/// `value` quoted for an error message: escaped (no newline or control character gets
/// through) and cut after 64 characters.
///
/// ```
/// use pod_plan::validation::display_value;
/// assert_eq!(display_value("a\nb"), "\"a\\nb\"");
/// assert!(display_value(&"x".repeat(100)).ends_with("... (100 bytes)"));
/// ```
pub fn display_value(value: &str) -> String {
    match value.char_indices().nth(MAX_QUOTED_CHARS) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!("{:?}... ({} bytes)", &value[..cut], value.len()),
    }
}

/// Whether `path` is strictly inside `parent`, lexically: neither has a `..` component,
/// and after dropping `.` components and repeated slashes, `path` starts with every
/// component of `parent` and has at least one more. No symlink is resolved: the paths
/// checked are built by this crate from validated components below a directory it owns.
fn is_within(parent: &Path, path: &Path) -> bool {
    let has_parent_dir = |p: &Path| p.components().any(|c| c == Component::ParentDir);
    if parent.as_os_str().is_empty() || has_parent_dir(parent) || has_parent_dir(path) {
        return false;
    }
    let parent: Vec<Component<'_>> = normal_components(parent).collect();
    let path: Vec<Component<'_>> = normal_components(path).collect();
    path.len() > parent.len() && path.starts_with(&parent)
}

/// The components of `path` without `.` ones (`Path::components` already folds repeated
/// slashes and inner `.`; a leading `.` is dropped here).
fn normal_components(path: &Path) -> impl Iterator<Item = Component<'_>> {
    path.components().filter(|c| *c != Component::CurDir)
}

fn refuse(parent: &Path, path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "refusing to remove {}: not inside {}",
            path.display(),
            parent.display()
        ),
    )
}

/// `std::fs::remove_dir_all(path)`, only when `path` is strictly inside `parent`, lexically:
/// neither has a `..` component, and `path` has every component of `parent` and at least
/// one more. Otherwise nothing is touched and the error is `InvalidInput`. Fails closed: a
/// path with `..` anywhere is refused even when it would resolve inside. Every removal of a
/// path built from pod data goes through this or [`remove_file_within`].
///
/// ```
/// use pod_plan::validation::remove_dir_all_within;
/// let root = std::env::temp_dir();
/// let err = remove_dir_all_within(&root.join("pods"), &root.join("pods/../etc")).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// ```
pub fn remove_dir_all_within(parent: &Path, path: &Path) -> io::Result<()> {
    if !is_within(parent, path) {
        return Err(refuse(parent, path));
    }
    std::fs::remove_dir_all(path)
}

/// `std::fs::remove_file(path)`, only when `path` is strictly inside `parent` (as
/// [`remove_dir_all_within`]).
pub fn remove_file_within(parent: &Path, path: &Path) -> io::Result<()> {
    if !is_within(parent, path) {
        return Err(refuse(parent, path));
    }
    std::fs::remove_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components_refuse_dot_dotdot_slash_empty_and_nul() {
        for bad in ["..", "/", "", ".", "a\0b", "a/b", "../x", "x/.."] {
            assert!(check_path_component(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "a..b", "...", ".hidden", "ns_name_uid"] {
            assert!(check_path_component(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn within_is_lexical_and_fails_closed() {
        let parent = Path::new("/var/lib/kubelet/pods");
        assert!(is_within(
            parent,
            Path::new("/var/lib/kubelet/pods/uid/containers")
        ));
        assert!(is_within(
            parent,
            Path::new("/var/lib/kubelet/pods/./uid//x")
        ));
        assert!(!is_within(parent, parent), "never the parent itself");
        assert!(!is_within(
            parent,
            Path::new("/var/lib/kubelet/pods/../../canary")
        ));
        assert!(!is_within(
            parent,
            Path::new("/var/lib/kubelet/pods/a/../b")
        ));
        assert!(!is_within(parent, Path::new("/var/lib/kubelet/podsx/uid")));
        assert!(!is_within(parent, Path::new("/etc")));
        assert!(!is_within(Path::new(""), Path::new("uid")));
        assert!(!is_within(Path::new("/a/../b"), Path::new("/a/../b/c")));
    }

    #[test]
    fn guarded_removals_touch_nothing_outside() {
        let tmp = tempfile::tempdir().unwrap();
        let parent = tmp.path().join("root/pods");
        let canary = tmp.path().join("canary");
        std::fs::create_dir_all(&parent).unwrap();
        std::fs::create_dir_all(&canary).unwrap();
        std::fs::write(canary.join("file"), "alive").unwrap();

        let escape = parent.join("../../canary");
        let err = remove_dir_all_within(&parent, &escape).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("not inside"), "{err}");
        let err = remove_file_within(&parent, &escape.join("file")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            std::fs::read_to_string(canary.join("file")).unwrap(),
            "alive"
        );

        std::fs::create_dir_all(parent.join("uid/containers")).unwrap();
        remove_dir_all_within(&parent, &parent.join("uid/containers")).unwrap();
        assert!(!parent.join("uid/containers").exists());
    }

    #[test]
    fn quoted_values_are_escaped_and_cut() {
        assert_eq!(display_value("a\nb"), "\"a\\nb\"");
        let long = display_value(&"x".repeat(300));
        assert!(long.ends_with("... (300 bytes)"), "{long}");
        assert!(long.len() < 90);
    }
}
