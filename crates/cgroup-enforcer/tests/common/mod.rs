//! Pod builders and cgroup-shaped temporary trees shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

pub const GI: i64 = 1 << 30;
pub const MI: i64 = 1 << 20;

fn list(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, Quantity>> {
    (!pairs.is_empty()).then(|| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect()
    })
}

/// A container with the given requests and limits.
pub fn container(name: &str, requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
    Container {
        name: name.into(),
        image: Some("busybox:1".into()),
        resources: Some(ResourceRequirements {
            requests: list(requests),
            limits: list(limits),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A pod `default/<name>` with UID `uid`.
pub fn pod(name: &str, uid: &str, containers: Vec<Container>) -> Pod {
    let mut pod = Pod {
        spec: Some(PodSpec {
            containers,
            ..Default::default()
        }),
        ..Default::default()
    };
    pod.metadata.name = Some(name.into());
    pod.metadata.namespace = Some("default".into());
    pod.metadata.uid = Some(uid.into());
    pod
}

pub fn with_init(mut pod: Pod, init: Vec<Container>) -> Pod {
    pod.spec.as_mut().unwrap().init_containers = Some(init);
    pod
}

pub fn guaranteed(uid: &str, cpu: &str, memory: &str) -> Pod {
    pod(
        "guaranteed",
        uid,
        vec![container("app", &[], &[("cpu", cpu), ("memory", memory)])],
    )
}

pub fn burstable(uid: &str, cpu_request: &str, memory_request: &str) -> Pod {
    pod(
        "burstable",
        uid,
        vec![container(
            "app",
            &[("cpu", cpu_request), ("memory", memory_request)],
            &[],
        )],
    )
}

pub fn best_effort(uid: &str) -> Pod {
    pod("besteffort", uid, vec![container("app", &[], &[])])
}

/// A temporary directory shaped like a cgroup v1 mount root: one directory per controller,
/// the cpuset root with CPUs and memory nodes.
pub struct V1Tree {
    pub dir: tempfile::TempDir,
}

impl V1Tree {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for controller in [
            "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "systemd",
        ] {
            std::fs::create_dir(dir.path().join(controller)).unwrap();
        }
        std::fs::write(dir.path().join("cpuset/cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(dir.path().join("cpuset/cpuset.mems"), "0\n").unwrap();
        V1Tree { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, controller: &str, rel: &str, file: &str) -> PathBuf {
        self.dir.path().join(controller).join(rel).join(file)
    }

    pub fn read(&self, controller: &str, rel: &str, file: &str) -> String {
        std::fs::read_to_string(self.file(controller, rel, file))
            .unwrap_or_else(|e| panic!("{controller}/{rel}/{file}: {e}"))
    }
}

/// A temporary directory shaped like a cgroup2 mount root.
pub struct V2Tree {
    pub dir: tempfile::TempDir,
}

impl V2Tree {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cgroup.controllers"),
            "cpuset cpu io memory hugetlb pids rdma misc\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("cgroup.subtree_control"), "").unwrap();
        V2Tree { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn read(&self, rel: &str, file: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(rel).join(file))
            .unwrap_or_else(|e| panic!("{rel}/{file}: {e}"))
    }
}
