//! Image garbage collection: the pure plan and the pass against `FakeRuntime`.

use std::sync::Arc;
use std::time::Duration;

use cri_client::fake::{FakeImage, FakeRuntime};
use cri_client::{ImageService, RuntimeService, v1};
use jiff::{Timestamp, ToSpan};
use pod_lifecycle::image_gc::{ImageGc, ImageGcError};
use pod_lifecycle::plan::{FsUsage, ImageGcPolicy, ImageRecord, image_gc_plan};

const MIB: u64 = 1 << 20;

fn t(minutes: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000).unwrap() + minutes.minutes()
}

fn image(id: &str, mib: u64, first: i64, last: i64) -> ImageRecord {
    ImageRecord {
        id: id.into(),
        size_bytes: mib * MIB,
        first_detected: t(first),
        last_used: t(last),
        in_use: false,
        pinned: false,
    }
}

/// 1000 MiB filesystem with `used` MiB in use.
fn fs(used: u64) -> FsUsage {
    FsUsage {
        capacity_bytes: 1000 * MIB,
        available_bytes: (1000 - used) * MIB,
    }
}

#[test]
fn im_09_at_90_percent_unused_images_go_lru_until_80_percent() {
    let now = t(60);
    let images = vec![
        image("newest-use", 60, 0, 50),
        image("oldest-use", 60, 0, 10),
        image("middle-use", 60, 0, 30),
        ImageRecord {
            in_use: true,
            ..image("running", 500, 0, 0)
        },
        ImageRecord {
            pinned: true,
            ..image("pause", 1, 0, 0)
        },
        // Too young: first seen 1 minute ago.
        image("fresh", 300, 59, 0),
    ];
    let policy = ImageGcPolicy::default();
    let plan = image_gc_plan(&images, fs(900), &policy, now).unwrap();
    // 90 % used: free 1000 × 20 % − 100 = 100 MiB, least recently used first.
    assert_eq!(plan.bytes_to_free, 100 * MIB);
    assert_eq!(plan.remove, vec!["oldest-use", "middle-use"]);
    assert_eq!(plan.bytes_freed, 120 * MIB);
    assert_eq!(plan.shortfall_message(), None);

    // Below the high threshold (84 %): nothing.
    let plan = image_gc_plan(&images, fs(840), &policy, now).unwrap();
    assert!(plan.remove.is_empty() && plan.bytes_to_free == 0);
    // Exactly 85 %: collect.
    let plan = image_gc_plan(&images, fs(850), &policy, now).unwrap();
    assert_eq!(plan.bytes_to_free, 50 * MIB);
    assert_eq!(plan.remove, vec!["oldest-use"]);
}

#[test]
fn im_09_in_use_pinned_and_young_images_are_kept_and_shortfall_reported() {
    let now = t(60);
    let images = vec![
        ImageRecord {
            in_use: true,
            ..image("running", 400, 0, 0)
        },
        ImageRecord {
            pinned: true,
            ..image("pause", 400, 0, 0)
        },
        image("fresh", 50, 59, 59),
        image("old", 10, 0, 0),
    ];
    let plan = image_gc_plan(&images, fs(950), &ImageGcPolicy::default(), now).unwrap();
    assert_eq!(plan.remove, vec!["old"]);
    assert_eq!(
        plan.shortfall_message().as_deref(),
        Some(
            "Failed to garbage collect required amount of images. Attempted to free 157286400 bytes, but only found 10485760 bytes eligible to free."
        )
    );
    // Ties in last use: first detected goes first.
    let tie = vec![image("b", 60, 5, 10), image("a", 60, 1, 10)];
    let plan = image_gc_plan(&tie, fs(900), &ImageGcPolicy::default(), now).unwrap();
    assert_eq!(plan.remove, vec!["a", "b"]);
    // Capacity 0 is refused.
    let zero = FsUsage {
        capacity_bytes: 0,
        available_bytes: 0,
    };
    assert!(image_gc_plan(&tie, zero, &ImageGcPolicy::default(), now).is_err());
}

#[test]
fn im_09_maximum_age_removes_long_unused_images_at_any_usage() {
    let policy = ImageGcPolicy {
        max_age: Duration::from_secs(30 * 60),
        ..ImageGcPolicy::default()
    };
    let images = vec![image("stale", 10, 0, 5), image("recent", 10, 0, 50)];
    let plan = image_gc_plan(&images, fs(100), &policy, t(60)).unwrap();
    assert_eq!(plan.remove, vec!["stale"]);
}

fn fake_with_images() -> (Arc<FakeRuntime>, [String; 3]) {
    let fake = Arc::new(FakeRuntime::with_busybox());
    let old = fake.add_image_with(FakeImage::new("registry.test/old:1").with_size(100 * MIB));
    let used = fake.add_image_with(FakeImage::new("registry.test/used:1").with_size(100 * MIB));
    let pause = fake.add_image_with(FakeImage::new("localhost/pause:1").with_size(MIB));
    (fake, [old, used, pause])
}

#[tokio::test]
async fn im_09_a_pass_removes_unused_images_and_keeps_used_and_sandbox_images() {
    let (fake, [old, used, pause]) = fake_with_images();
    // A container (exited or not) of the "used" image.
    let sandbox = fake
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(v1::PodSandboxConfig {
                metadata: Some(v1::PodSandboxMetadata {
                    name: "p".into(),
                    uid: "u".into(),
                    namespace: "default".into(),
                    attempt: 0,
                }),
                ..Default::default()
            }),
            runtime_handler: String::new(),
        })
        .await
        .unwrap()
        .pod_sandbox_id;
    fake.create_container(v1::CreateContainerRequest {
        pod_sandbox_id: sandbox,
        config: Some(v1::ContainerConfig {
            metadata: Some(v1::ContainerMetadata {
                name: "c".into(),
                attempt: 0,
            }),
            image: Some(v1::ImageSpec {
                image: "registry.test/used:1".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        sandbox_config: None,
    })
    .await
    .unwrap();

    // 95 % full: everything unused must go, but only once it is 2 minutes old.
    let gc = ImageGc::new(
        fake.clone(),
        fake.clone(),
        ImageGcPolicy::default(),
        "localhost/pause:1",
    )
    .with_fs_stats(Arc::new(|_: &str| {
        Ok(FsUsage {
            capacity_bytes: 1000 * MIB,
            available_bytes: 50 * MIB,
        })
    }));
    let first = gc.garbage_collect(t(0)).await;
    assert!(
        matches!(first, Err(ImageGcError::FreeDiskSpaceFailed(_))),
        "{first:?}"
    );
    assert!(
        fake.calls_to("RemoveImage").is_empty(),
        "all images too young"
    );

    let _ = gc.garbage_collect(t(3)).await;
    let removed: Vec<String> = fake
        .calls_to("RemoveImage")
        .into_iter()
        .filter_map(|c| c.id)
        .collect();
    let present: Vec<String> = fake
        .list_images(v1::ListImagesRequest::default())
        .await
        .unwrap()
        .images
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert!(!present.contains(&old), "unused image removed: {removed:?}");
    assert!(present.contains(&used), "in-use image kept");
    assert!(present.contains(&pause), "sandbox image kept");
}
