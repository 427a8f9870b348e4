//! Cgroup names and their spelling for the two cgroup drivers
//! (`pkg/kubelet/cm/cgroup_manager_linux.go`: `CgroupName`, `ToCgroupfs`, `ToSystemd`,
//! `ParseCgroupfsToCgroupName`, `ParseSystemdToCgroupName`; `pod_container_manager_linux.go`
//! `GetPodContainerName`).
//!
//! A [`CgroupName`] is a list of components (`["kubepods", "burstable", "pod<uid>"]`); the
//! driver decides how it is written:
//!
//! | driver | spelling |
//! |---|---|
//! | cgroupfs | `/kubepods/burstable/pod<uid>` |
//! | systemd | `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid with - → _>.slice` |

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::qos::QosClass;

/// The node-allocatable cgroup under the cgroup root (`CgroupKubePods`).
pub const KUBEPODS: &str = "kubepods";
/// Prefix of a pod cgroup's name (`podCgroupNamePrefix`).
pub const POD_CGROUP_PREFIX: &str = "pod";
const SYSTEMD_SUFFIX: &str = ".slice";

/// How cgroup names are spelled (the kubelet's `cgroupDriver`). It must match the
/// container runtime's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CgroupDriver {
    /// Paths as they are (`cgroupDriver: cgroupfs`, the kubelet config default).
    #[default]
    Cgroupfs,
    /// systemd slices (`cgroupDriver: systemd`, what kubeadm sets).
    Systemd,
}

impl std::str::FromStr for CgroupDriver {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cgroupfs" => Ok(CgroupDriver::Cgroupfs),
            "systemd" => Ok(CgroupDriver::Systemd),
            other => Err(Error::InvalidConfig {
                field: "cgroupDriver".into(),
                message: format!("{other:?}: must be \"cgroupfs\" or \"systemd\""),
            }),
        }
    }
}

/// A cgroup's name as a list of components, independent of the driver.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CgroupName(Vec<String>);

impl CgroupName {
    /// The root cgroup (no components).
    pub fn root() -> Self {
        CgroupName(Vec::new())
    }

    /// A name from components. A component must be non-empty and contain no `/` (nor `_`,
    /// which the systemd spelling uses to escape `-`).
    pub fn new<I, S>(components: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let name = CgroupName(components.into_iter().map(Into::into).collect());
        for component in &name.0 {
            check_component(component)?;
        }
        Ok(name)
    }

    /// This name with one more component (see [`CgroupName::new`] for what is allowed).
    pub fn child(&self, component: &str) -> Result<Self> {
        check_component(component)?;
        let mut components = self.0.clone();
        components.push(component.to_owned());
        Ok(CgroupName(components))
    }

    /// The components.
    pub fn components(&self) -> &[String] {
        &self.0
    }

    /// The last component (`pod<uid>`), or `None` for the root.
    pub fn leaf(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }

    /// The parent name, or `None` for the root.
    pub fn parent(&self) -> Option<CgroupName> {
        (!self.0.is_empty()).then(|| CgroupName(self.0[..self.0.len() - 1].to_vec()))
    }

    /// `ParseCgroupfsToCgroupName`: `/kubepods/burstable` → `["kubepods", "burstable"]`.
    pub fn parse_cgroupfs(path: &str) -> Result<Self> {
        CgroupName::new(path.split('/').filter(|c| !c.is_empty()))
    }

    /// `ParseSystemdToCgroupName`: the last slice of a systemd path, split on `-`, with
    /// `_` unescaped to `-` (`kubepods-burstable.slice` → `["kubepods", "burstable"]`).
    pub fn parse_systemd(path: &str) -> Result<Self> {
        let base = path.rsplit('/').next().unwrap_or_default();
        let base = base.strip_suffix(SYSTEMD_SUFFIX).unwrap_or(base);
        if base.is_empty() || base == "-" {
            return Ok(CgroupName::root());
        }
        Ok(CgroupName(
            base.split('-').map(|part| part.replace('_', "-")).collect(),
        ))
    }

    /// Parses `text` as `driver` spells names (the kubelet's `cgroupRoot` setting).
    pub fn parse(driver: CgroupDriver, text: &str) -> Result<Self> {
        match driver {
            CgroupDriver::Cgroupfs => CgroupName::parse_cgroupfs(text),
            CgroupDriver::Systemd => CgroupName::parse_systemd(text),
        }
    }

    /// `ToCgroupfs`: `/kubepods/burstable/pod<uid>`; the root is `/`.
    pub fn to_cgroupfs(&self) -> String {
        format!("/{}", self.0.join("/"))
    }

    /// `ToSystemd`: the expanded slice path,
    /// `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice`; the root
    /// is `/`. The leaf alone ([`CgroupName::systemd_slice`]) is what systemd calls the unit.
    pub fn to_systemd(&self) -> String {
        if self.0.is_empty() {
            return "/".to_owned();
        }
        let escaped: Vec<String> = self.0.iter().map(|c| c.replace('-', "_")).collect();
        let mut path = String::new();
        for i in 1..=escaped.len() {
            path.push('/');
            path.push_str(&escaped[..i].join("-"));
            path.push_str(SYSTEMD_SUFFIX);
        }
        path
    }

    /// The systemd unit name of this cgroup (`kubepods-burstable-pod<uid_>.slice`), or `-.slice`
    /// for the root.
    pub fn systemd_slice(&self) -> String {
        if self.0.is_empty() {
            return format!("-{SYSTEMD_SUFFIX}");
        }
        let escaped: Vec<String> = self.0.iter().map(|c| c.replace('-', "_")).collect();
        format!("{}{SYSTEMD_SUFFIX}", escaped.join("-"))
    }

    /// The kubelet's `cgroupManager.Name`: the driver's spelling, which is also a path
    /// relative to each cgroup hierarchy's mount point.
    pub fn to_driver(&self, driver: CgroupDriver) -> String {
        match driver {
            CgroupDriver::Cgroupfs => self.to_cgroupfs(),
            CgroupDriver::Systemd => self.to_systemd(),
        }
    }

    /// The directory of this cgroup relative to a hierarchy's mount point.
    pub fn relative_path(&self, driver: CgroupDriver) -> PathBuf {
        PathBuf::from(self.to_driver(driver).trim_start_matches('/'))
    }
}

impl fmt::Display for CgroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_cgroupfs())
    }
}

/// A cgroup name component becomes one directory in every hierarchy: it must be exactly
/// one normal path component (not empty, `.` or `..`, no `/` or NUL), and without `_`,
/// which the systemd spelling uses for `-`.
fn check_component(component: &str) -> Result<()> {
    let mut parts = std::path::Path::new(component).components();
    let one_normal = matches!(
        (parts.next(), parts.next()),
        (Some(std::path::Component::Normal(c)), None) if c == component
    );
    if !one_normal || component.contains('/') || component.contains('\0') || component.contains('_')
    {
        let shown: String = format!("{component:?}").chars().take(80).collect();
        return Err(Error::InvalidConfig {
            field: "cgroup name".into(),
            message: format!(
                "invalid component {shown}: must be one path component (not empty, '.' or \
                 '..'), without '/', NUL or '_'"
            ),
        });
    }
    Ok(())
}

/// The cgroup of a QoS class under `root` (with `cgroupsPerQOS`): `<root>/kubepods` for
/// Guaranteed, `<root>/kubepods/burstable`, `<root>/kubepods/besteffort`.
pub fn qos_cgroup_name(root: &CgroupName, qos: QosClass) -> CgroupName {
    let mut components = root.0.clone();
    components.push(KUBEPODS.to_owned());
    if let Some(dir) = qos.cgroup_dir() {
        components.push(dir.to_owned());
    }
    CgroupName(components)
}

/// `GetPodContainerName`: the pod cgroup of a pod with `uid` and class `qos` under `root`
/// (`<root>/kubepods/burstable/pod<uid>`). The UID must be usable as a component.
///
/// ```
/// use cgroup_enforcer::names::{CgroupDriver, CgroupName, pod_cgroup_name};
/// use cgroup_enforcer::QosClass;
///
/// let name = pod_cgroup_name(&CgroupName::root(), QosClass::Burstable, "1234-ab")?;
/// assert_eq!(name.to_cgroupfs(), "/kubepods/burstable/pod1234-ab");
/// assert_eq!(
///     name.to_driver(CgroupDriver::Systemd),
///     "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_ab.slice"
/// );
/// # Ok::<(), cgroup_enforcer::Error>(())
/// ```
pub fn pod_cgroup_name(root: &CgroupName, qos: QosClass, uid: &str) -> Result<CgroupName> {
    qos_cgroup_name(root, qos).child(&format!("{POD_CGROUP_PREFIX}{uid}"))
}

/// The pod UID of a pod cgroup's leaf component in either spelling (`pod<uid>`,
/// `kubepods-burstable-pod<uid_>.slice`), or `None` when it is not a pod cgroup.
pub fn pod_uid_from_cgroup(leaf: &str) -> Option<String> {
    if let Some(slice) = leaf.strip_suffix(SYSTEMD_SUFFIX) {
        let last = slice.rsplit('-').next()?;
        let uid = last.strip_prefix(POD_CGROUP_PREFIX)?;
        return (!uid.is_empty()).then(|| uid.replace('_', "-"));
    }
    let uid = leaf.strip_prefix(POD_CGROUP_PREFIX)?;
    (!uid.is_empty() && !uid.contains('/')).then(|| uid.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_cgroup_names_refuse_dotdot_slash_empty_dot_nul_and_underscore_uids() {
        let root = CgroupName::root();
        // "pod" + uid must be one component: a uid of "." or ".." still gives "pod." or
        // "pod..", normal names; the traversal ones are refused.
        for bad in ["/", "a/b", "../../x", "a\0b", "a_b"] {
            let err = pod_cgroup_name(&root, QosClass::BestEffort, bad).unwrap_err();
            assert!(err.to_string().contains("cgroup name"), "{bad:?}: {err}");
        }
        for bad in ["..", ".", "", "/", "a\0b"] {
            assert!(root.child(bad).is_err(), "{bad:?}");
            assert!(CgroupName::new([bad]).is_err(), "{bad:?}");
        }
        let name = pod_cgroup_name(&root, QosClass::BestEffort, "..").unwrap();
        assert_eq!(name.to_cgroupfs(), "/kubepods/besteffort/pod..");
        assert_eq!(
            name.relative_path(CgroupDriver::Cgroupfs),
            std::path::Path::new("kubepods/besteffort/pod..")
        );
    }
}
