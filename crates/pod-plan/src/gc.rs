//! Container garbage collection within a pod (the kubelet's container GC with its default
//! policy `MaxPerPodContainer = 1`, `MinAge = 0`).

use std::collections::BTreeMap;

use super::{ContainerState, PodRuntimeStatus};

/// Dead container instances to remove: for every container name, every exited instance but
/// the newest one, which stays so `lastState` keeps showing the previous run (IM-10).
pub fn dead_containers_to_remove(view: &PodRuntimeStatus) -> Vec<String> {
    let mut exited: BTreeMap<&str, Vec<(&jiff::Timestamp, &str)>> = BTreeMap::new();
    for c in &view.containers {
        if c.state == ContainerState::Exited {
            exited
                .entry(c.name.as_str())
                .or_default()
                .push((&c.created_at, c.id.as_str()));
        }
    }
    let mut remove = Vec::new();
    for (_, mut instances) in exited {
        instances.sort_by(|a, b| b.0.cmp(a.0).then_with(|| a.1.cmp(b.1)));
        remove.extend(instances.into_iter().skip(1).map(|(_, id)| id.to_string()));
    }
    remove.sort();
    remove
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ContainerStatus;
    use jiff::Timestamp;

    fn instance(id: &str, name: &str, created: i64, state: ContainerState) -> ContainerStatus {
        ContainerStatus {
            id: id.into(),
            name: name.into(),
            state,
            created_at: Timestamp::from_second(created).unwrap(),
            started_at: None,
            finished_at: None,
            exit_code: 1,
            reason: "Error".into(),
            message: String::new(),
            image: "busybox".into(),
            image_ref: "sha256:1".into(),
            hash: Some(1),
            restart_count: 0,
        }
    }

    #[test]
    fn im_10_keeps_one_dead_instance_per_container() {
        let mut view = PodRuntimeStatus {
            uid: "u".into(),
            sandboxes: vec![],
            containers: vec![
                instance("a1", "app", 1, ContainerState::Exited),
                instance("a2", "app", 2, ContainerState::Exited),
                instance("a3", "app", 3, ContainerState::Exited),
                instance("a4", "app", 4, ContainerState::Running),
                instance("b1", "side", 1, ContainerState::Exited),
            ],
        };
        view.sort();
        assert_eq!(dead_containers_to_remove(&view), ["a1", "a2"]);
    }
}
