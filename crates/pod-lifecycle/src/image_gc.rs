//! Image garbage collection (the kubelet's `realImageGCManager`): remembers when each image
//! was first seen and last used by a container, and when the image filesystem passes the
//! high threshold removes unused images, least recently used first, as
//! [`plan::image_gc_plan`] decides.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use cri_client::fake::FakeRuntime;
//! use pod_lifecycle::image_gc::ImageGc;
//! use pod_lifecycle::plan::{FsUsage, ImageGcPolicy};
//!
//! let fake = Arc::new(FakeRuntime::with_busybox());
//! let gc = ImageGc::new(fake.clone(), fake, ImageGcPolicy::default(), "localhost/pause:1")
//!     // A filesystem 10 % full: nothing to do.
//!     .with_fs_stats(Arc::new(|_mountpoint: &str| {
//!         Ok(FsUsage { capacity_bytes: 100 << 30, available_bytes: 90 << 30 })
//!     }));
//! let removed = gc.garbage_collect(jiff::Timestamp::now()).await.unwrap();
//! assert!(removed.remove.is_empty());
//! # });
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cri_client::{ImageService, RuntimeService, v1};
use jiff::Timestamp;

use crate::plan::{self, FsUsage, ImageGcPlan, ImageGcPolicy, ImageRecord};

/// How often the kubelet runs image GC (`ImageGCPeriod`).
pub const IMAGE_GC_PERIOD: Duration = Duration::from_secs(5 * 60);

/// Capacity and free space of the filesystem mounted at a path.
pub type FsStats = Arc<dyn Fn(&str) -> std::io::Result<FsUsage> + Send + Sync>;

/// What went wrong in one image GC pass.
#[derive(Debug, thiserror::Error)]
pub enum ImageGcError {
    /// A CRI call failed.
    #[error("image GC: {0}")]
    Runtime(#[from] cri_client::Error),
    /// The runtime reports no image filesystem.
    #[error("image GC: the runtime reports no image filesystem")]
    NoImageFs,
    /// The image filesystem's usage cannot be read.
    #[error("image GC: cannot read the usage of the image filesystem at {mountpoint}: {source}")]
    FsStats {
        /// The filesystem's mount point.
        mountpoint: String,
        /// The error.
        source: std::io::Error,
    },
    /// The plan could not be made (capacity 0).
    #[error("image GC: {0}")]
    Plan(#[from] plan::ImageGcProblem),
    /// Removing images freed less than the threshold asks (event `FreeDiskSpaceFailed`).
    #[error("image GC: {0}")]
    FreeDiskSpaceFailed(String),
}

/// Image GC over a runtime: usage records kept between passes.
pub struct ImageGc {
    runtime: Arc<dyn RuntimeService>,
    images: Arc<dyn ImageService>,
    policy: ImageGcPolicy,
    sandbox_image: String,
    fs_stats: FsStats,
    /// Image id → (first detected, last used).
    records: Mutex<HashMap<String, (Timestamp, Timestamp)>>,
}

impl std::fmt::Debug for ImageGc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageGc")
            .field("policy", &self.policy)
            .field("sandbox_image", &self.sandbox_image)
            .finish_non_exhaustive()
    }
}

/// The filesystem's size and the space left to unprivileged users (`statvfs`).
pub fn statvfs_usage(path: &str) -> std::io::Result<FsUsage> {
    let st = rustix::fs::statvfs(path)?;
    Ok(FsUsage {
        capacity_bytes: st.f_blocks.saturating_mul(st.f_frsize),
        available_bytes: st.f_bavail.saturating_mul(st.f_frsize),
    })
}

impl ImageGc {
    /// Image GC with this policy; `sandbox_image` (the pause image) is never removed. The
    /// filesystem is measured with `statvfs` at the mount point the runtime's `ImageFsInfo`
    /// names.
    pub fn new(
        runtime: Arc<dyn RuntimeService>,
        images: Arc<dyn ImageService>,
        policy: ImageGcPolicy,
        sandbox_image: &str,
    ) -> Self {
        ImageGc {
            runtime,
            images,
            policy,
            sandbox_image: sandbox_image.to_string(),
            fs_stats: Arc::new(statvfs_usage),
            records: Mutex::new(HashMap::new()),
        }
    }

    /// Measure the image filesystem another way (tests, other runtimes).
    pub fn with_fs_stats(mut self, fs_stats: FsStats) -> Self {
        self.fs_stats = fs_stats;
        self
    }

    /// Record the images and which containers use them (`detectImages`): new images are
    /// first detected now, images of any container (running or exited) are used now.
    /// Returns the records of the images present.
    pub async fn detect_images(&self, now: Timestamp) -> Result<Vec<ImageRecord>, ImageGcError> {
        let images = self
            .images
            .list_images(v1::ListImagesRequest::default())
            .await?
            .images;
        let containers = self
            .runtime
            .list_containers(v1::ListContainersRequest::default())
            .await?
            .containers;
        let mut used: HashSet<&str> = HashSet::new();
        for c in &containers {
            used.insert(c.image_ref.as_str());
            if let Some(spec) = &c.image {
                used.insert(spec.image.as_str());
            }
        }
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let present: HashSet<&str> = images.iter().map(|i| i.id.as_str()).collect();
        records.retain(|id, _| present.contains(id.as_str()));
        let mut out = Vec::with_capacity(images.len());
        for image in &images {
            let in_use = std::iter::once(&image.id)
                .chain(&image.repo_tags)
                .chain(&image.repo_digests)
                .any(|n| used.contains(n.as_str()));
            let is_sandbox = image.id == self.sandbox_image
                || image.repo_tags.iter().any(|t| t == &self.sandbox_image);
            let record = records.entry(image.id.clone()).or_insert((now, now));
            if in_use {
                record.1 = now;
            }
            out.push(ImageRecord {
                id: image.id.clone(),
                size_bytes: image.size,
                first_detected: record.0,
                last_used: record.1,
                in_use,
                pinned: image.pinned || is_sandbox,
            });
        }
        Ok(out)
    }

    /// One pass (`GarbageCollect`): detect, measure, plan, remove. Returns the plan carried
    /// out; an image that cannot be removed is logged and skipped. Freeing less than the
    /// threshold asks is an error ([`ImageGcError::FreeDiskSpaceFailed`]) after the removals.
    pub async fn garbage_collect(&self, now: Timestamp) -> Result<ImageGcPlan, ImageGcError> {
        let records = self.detect_images(now).await?;
        let fs = self
            .images
            .image_fs_info(v1::ImageFsInfoRequest {})
            .await?
            .image_filesystems
            .into_iter()
            .next()
            .and_then(|f| f.fs_id)
            .ok_or(ImageGcError::NoImageFs)?;
        let usage = (self.fs_stats)(&fs.mountpoint).map_err(|source| ImageGcError::FsStats {
            mountpoint: fs.mountpoint.clone(),
            source,
        })?;
        let plan = plan::image_gc_plan(&records, usage, &self.policy, now)?;
        self.remove_images(&plan.remove).await;
        match plan.shortfall_message() {
            Some(message) => Err(ImageGcError::FreeDiskSpaceFailed(message)),
            None => Ok(plan),
        }
    }

    /// Remove every unused image past the minimum age, least recently used first (the
    /// eviction manager's reclaim under disk pressure, `DeleteUnusedImages`). Returns the
    /// plan carried out; an image that cannot be removed is logged and skipped.
    pub async fn delete_unused_images(&self, now: Timestamp) -> Result<ImageGcPlan, ImageGcError> {
        let records = self.detect_images(now).await?;
        let plan = plan::unused_images_plan(&records, &self.policy, now);
        self.remove_images(&plan.remove).await;
        Ok(plan)
    }

    async fn remove_images(&self, ids: &[String]) {
        for id in ids {
            tracing::info!(image = %id, "image GC: removing an unused image");
            let removed = self
                .images
                .remove_image(v1::RemoveImageRequest {
                    image: Some(v1::ImageSpec {
                        image: id.clone(),
                        ..Default::default()
                    }),
                })
                .await;
            match removed {
                Ok(_) => {
                    self.records
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(id);
                }
                Err(e) => tracing::warn!(image = %id, error = %e, "image GC: cannot remove image"),
            }
        }
    }

    /// Run a pass every `period` until `stop` completes; failures are logged.
    pub async fn run(&self, period: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tick.tick() => {
                    if let Err(e) = self.garbage_collect(Timestamp::now()).await {
                        tracing::warn!(error = %e, "image garbage collection failed");
                    }
                }
            }
        }
    }
}
