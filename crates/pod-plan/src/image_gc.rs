//! Which images to remove when the image filesystem fills up (the kubelet's
//! `realImageGCManager.GarbageCollect` in `pkg/kubelet/images/image_gc_manager.go`), as a
//! pure function of the images, their usage records, the filesystem's usage and the time.

use std::time::Duration;

use jiff::Timestamp;

/// The image GC policy (`imageGCHighThresholdPercent`, `imageGCLowThresholdPercent`,
/// `imageMinimumGCAge`, `imageMaximumGCAge`). The defaults are the kubelet's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageGcPolicy {
    /// At or above this usage (percent of the image filesystem) images are removed (85).
    pub high_threshold_percent: u8,
    /// ...until usage is down to this (80).
    pub low_threshold_percent: u8,
    /// Images first seen less than this long ago are kept (2 min).
    pub min_age: Duration,
    /// Images unused for longer than this are removed whatever the usage (0: never).
    pub max_age: Duration,
}

impl Default for ImageGcPolicy {
    fn default() -> Self {
        ImageGcPolicy {
            high_threshold_percent: 85,
            low_threshold_percent: 80,
            min_age: Duration::from_secs(120),
            max_age: Duration::ZERO,
        }
    }
}

/// What the GC knows about one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    /// The image id (`sha256:...`).
    pub id: String,
    /// Its size on disk.
    pub size_bytes: u64,
    /// When the GC first saw it.
    pub first_detected: Timestamp,
    /// When a container last used it (first detection if never).
    pub last_used: Timestamp,
    /// Some container (running or not) uses it.
    pub in_use: bool,
    /// The runtime pins it, or it is the sandbox (pause) image: never removed.
    pub pinned: bool,
}

/// Capacity and free space of the image filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsUsage {
    /// Total bytes.
    pub capacity_bytes: u64,
    /// Bytes available to unprivileged users.
    pub available_bytes: u64,
}

impl FsUsage {
    /// Usage in percent as the kubelet computes it: `100 − available × 100 / capacity`,
    /// integer division. `None` for a capacity of 0.
    pub fn usage_percent(&self) -> Option<u64> {
        let available = self.available_bytes.min(self.capacity_bytes) as u128;
        let capacity = self.capacity_bytes as u128;
        (capacity > 0).then(|| 100 - (available * 100 / capacity) as u64)
    }
}

/// The images to remove, and whether that frees enough.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageGcPlan {
    /// Image ids to remove, in order.
    pub remove: Vec<String>,
    /// Bytes the usage threshold asks to free (0 below the high threshold).
    pub bytes_to_free: u64,
    /// Bytes the removals free.
    pub bytes_freed: u64,
}

impl ImageGcPlan {
    /// The Warning event `FreeDiskSpaceFailed` message when the removals fall short.
    pub fn shortfall_message(&self) -> Option<String> {
        (self.bytes_freed < self.bytes_to_free).then(|| {
            format!(
                "Failed to garbage collect required amount of images. Attempted to free {} bytes, but only found {} bytes eligible to free.",
                self.bytes_to_free, self.bytes_freed
            )
        })
    }
}

/// Why image GC could not decide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageGcProblem {
    /// The image filesystem reports a capacity of 0 (event `InvalidDiskCapacity`).
    #[error("invalid capacity 0 on image filesystem")]
    InvalidDiskCapacity,
}

/// Every image the eviction manager may remove to relieve disk pressure (the kubelet's
/// `DeleteUnusedImages`, `freeSpace` with no byte limit): unused, unpinned images first
/// seen at least `min_age` ago, least recently used first.
pub fn unused_images_plan(
    images: &[ImageRecord],
    policy: &ImageGcPolicy,
    now: Timestamp,
) -> ImageGcPlan {
    let age = |t: Timestamp| Duration::try_from(now.duration_since(t)).unwrap_or_default();
    let mut candidates: Vec<&ImageRecord> = images
        .iter()
        .filter(|i| !i.in_use && !i.pinned && age(i.first_detected) >= policy.min_age)
        .collect();
    candidates.sort_by(|a, b| {
        a.last_used
            .cmp(&b.last_used)
            .then_with(|| a.first_detected.cmp(&b.first_detected))
    });
    let mut plan = ImageGcPlan::default();
    for image in candidates {
        plan.remove.push(image.id.clone());
        plan.bytes_freed += image.size_bytes;
    }
    plan
}

/// The images to remove now:
///
/// 1. with `max_age` set, every unused, unpinned image not used for longer than it;
/// 2. when usage is at or above the high threshold, enough bytes to bring it down to the
///    low threshold (`capacity × (100 − low) / 100 − available`), taking unused, unpinned
///    images first seen at least `min_age` ago, least recently used first (ties: first
///    detected first).
pub fn image_gc_plan(
    images: &[ImageRecord],
    fs: FsUsage,
    policy: &ImageGcPolicy,
    now: Timestamp,
) -> Result<ImageGcPlan, ImageGcProblem> {
    let age = |t: Timestamp| Duration::try_from(now.duration_since(t)).unwrap_or_default();
    let removable = |i: &&ImageRecord| !i.in_use && !i.pinned;
    let mut plan = ImageGcPlan::default();

    if !policy.max_age.is_zero() {
        for image in images.iter().filter(removable) {
            if age(image.last_used) > policy.max_age {
                plan.remove.push(image.id.clone());
                plan.bytes_freed += image.size_bytes;
            }
        }
    }

    let usage = fs
        .usage_percent()
        .ok_or(ImageGcProblem::InvalidDiskCapacity)?;
    if usage < u64::from(policy.high_threshold_percent) {
        return Ok(plan);
    }
    let target_available =
        fs.capacity_bytes as u128 * (100 - u128::from(policy.low_threshold_percent)) / 100;
    plan.bytes_to_free = target_available.saturating_sub(fs.available_bytes as u128) as u64;

    let mut candidates: Vec<&ImageRecord> = images
        .iter()
        .filter(removable)
        .filter(|i| !plan.remove.contains(&i.id))
        .collect();
    candidates.sort_by(|a, b| {
        a.last_used
            .cmp(&b.last_used)
            .then_with(|| a.first_detected.cmp(&b.first_detected))
    });
    for image in candidates {
        if plan.bytes_freed >= plan.bytes_to_free {
            break;
        }
        if age(image.first_detected) < policy.min_age {
            continue;
        }
        plan.remove.push(image.id.clone());
        plan.bytes_freed += image.size_bytes;
    }
    Ok(plan)
}
