//! `/stats/summary`, `/metrics/resource` and `/metrics/cadvisor`.

use serde::{Deserialize, Serialize};

/// The kubelet's stats summary (`k8s.io/kubelet/pkg/apis/stats/v1alpha1` `Summary`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {}
