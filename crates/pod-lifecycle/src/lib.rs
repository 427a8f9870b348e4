//! The heart of a kubelet, as a library: given a pod and what the runtime reports, what
//! happens next, and what status does the pod have?
//!
//! (crate docs are written when the worker lands)
//!
//! ```
//! assert_eq!(pod_lifecycle::labels::POD_UID, "io.kubernetes.pod.uid");
//! ```
#![deny(missing_docs)]

pub mod cri_config;
mod error;
pub mod labels;
pub mod plan;
pub mod pod_manager;
pub mod pleg;
pub mod worker;

pub use error::{Error, Result};
