//! hostPath (`pkg/volume/hostpath/host_path.go`): a path of the node, checked against its
//! `type` before use, never owned, relabelled or removed by the agent.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Volume;

use super::{SetUpResult, VolumeAttributes, VolumeContext, VolumePlugin};
use crate::Result;
use crate::layout::PodDirs;

/// The plugin's name.
pub(crate) const PLUGIN_NAME: &str = "kubernetes.io/host-path";

/// hostPath volumes.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostPathPlugin;

impl VolumePlugin for HostPathPlugin {
    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn can_support(&self, volume: &Volume) -> bool {
        volume.host_path.is_some()
    }

    fn host_path(&self, _dirs: &PodDirs, volume: &Volume) -> Result<PathBuf> {
        Ok(PathBuf::from(
            volume
                .host_path
                .as_ref()
                .map(|h| h.path.as_str())
                .unwrap_or(""),
        ))
    }

    fn attributes(&self, _volume: &Volume) -> VolumeAttributes {
        VolumeAttributes {
            read_only: false,
            managed: false,
            selinux_relabel: false,
        }
    }

    /// `SetUp`: no `..` in the path, then the type check.
    fn set_up(&self, ctx: &VolumeContext<'_>) -> Result<SetUpResult> {
        let source = ctx.volume.host_path.as_ref().expect("can_support checked");
        let path = source.path.as_str();
        if path.split('/').any(|e| e == "..") {
            return Err(ctx.fail(
                ".hostPath.path",
                format!("invalid HostPath `{path}`: must not contain '..'"),
            ));
        }
        check_type(Path::new(path), source.type_.as_deref().unwrap_or(""))
            .map_err(|message| ctx.fail(".hostPath.type", message))?;
        Ok(SetUpResult {
            tmpfs: false,
            size_limit: None,
        })
    }

    /// Host data stays: nothing to undo.
    fn tear_down(&self, _dirs: &PodDirs, _volume_name: &str, _pod: &str) -> Result<()> {
        Ok(())
    }
}

/// The kubelet's `checkType` for a hostPath `type`, with its messages
/// (`hostPath type check failed: <path> is not a directory`). `DirectoryOrCreate` creates
/// the missing directories with mode 0755 and `FileOrCreate` the file with mode 0644 (its
/// parent must exist), both chmod-ed so the umask does not matter.
///
/// ```
/// use volume_manager::plugins::check_host_path_type;
/// use std::path::Path;
///
/// let err = check_host_path_type(Path::new("/nonexistent/nodelet"), "Directory").unwrap_err();
/// assert_eq!(err, "hostPath type check failed: /nonexistent/nodelet is not a directory");
/// assert!(check_host_path_type(Path::new("/"), "Directory").is_ok());
/// ```
pub fn check_host_path_type(path: &Path, type_: &str) -> std::result::Result<(), String> {
    check_type(path, type_)
}

fn check_type(path: &Path, type_: &str) -> std::result::Result<(), String> {
    let shown = path.display();
    let meta = fs::metadata(path).ok();
    let is = |f: &dyn Fn(&fs::Metadata) -> bool| meta.as_ref().is_some_and(f);
    let failed = |what: &str| format!("hostPath type check failed: {shown} is not {what}");
    match type_ {
        "" => Ok(()),
        "DirectoryOrCreate" if meta.is_none() => {
            make_dir(path).map_err(|e| format!("{shown}: {e}"))
        }
        "DirectoryOrCreate" | "Directory" => {
            if is(&|m| m.is_dir()) {
                Ok(())
            } else {
                Err(failed("a directory"))
            }
        }
        "FileOrCreate" if meta.is_none() => make_file(path).map_err(|e| format!("{shown}: {e}")),
        "FileOrCreate" | "File" => {
            if is(&|m| m.is_file()) {
                Ok(())
            } else {
                Err(failed("a file"))
            }
        }
        "Socket" => {
            if is(&|m| m.file_type().is_socket()) {
                Ok(())
            } else {
                Err(failed("a socket file"))
            }
        }
        "CharDevice" => {
            if is(&|m| m.file_type().is_char_device()) {
                Ok(())
            } else {
                Err(failed("a character device"))
            }
        }
        "BlockDevice" => {
            if is(&|m| m.file_type().is_block_device()) {
                Ok(())
            } else {
                Err(failed("a block device"))
            }
        }
        other => Err(format!("{other} is an invalid volume type")),
    }
}

/// `MkdirAll(path, 0755)`, each created directory chmod-ed to 0755.
fn make_dir(path: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut cur = Some(path);
    while let Some(p) = cur {
        if fs::symlink_metadata(p).is_ok() {
            break;
        }
        missing.push(p.to_owned());
        cur = p.parent();
    }
    for dir in missing.iter().rev() {
        match fs::DirBuilder::new().mode(0o755).create(dir) {
            Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `os.OpenFile(path, O_CREATE, 0644)`: the parent must exist.
fn make_file(path: &Path) -> io::Result<()> {
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path);
    match file {
        Ok(f) => f.set_permissions(fs::Permissions::from_mode(0o644)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
