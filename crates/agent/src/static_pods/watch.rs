//! The source's run loop: inotify (through `notify`) plus the periodic rescan.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use notify::event::{AccessKind, EventKind, MetadataKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use tokio::sync::{Notify, watch};

use super::{Snapshot, StaticPodSource};

/// How long the loop waits for a burst of events (an editor's write, rename, chmod) to end
/// before rescanning.
const COALESCE: Duration = Duration::from_millis(10);
/// The longest a steady stream of events can delay a rescan.
const COALESCE_MAX: Duration = Duration::from_secs(1);

/// An armed inotify watch and what it watches.
struct ArmedWatch {
    _watcher: notify::RecommendedWatcher,
    target: PathBuf,
    /// Set by the event handler when the watched directory itself went away.
    lost: Arc<AtomicBool>,
}

pub(super) async fn run(
    source: StaticPodSource,
    tx: watch::Sender<Snapshot>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let source = Arc::new(source);
    let changed = Arc::new(Notify::new());
    let mut armed: Option<ArmedWatch> = None;
    tokio::pin!(shutdown);

    let mut first = true;
    let mut ticker = tokio::time::interval(source.check_frequency);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    tracing::info!(path = %source.path.display(), "watching static pod path");

    loop {
        // (Re)arm the watch whenever the right target changed: the directory appeared or
        // vanished, or the last watch was lost.
        rearm(&source, &changed, &mut armed);
        let snapshot = match scan(&source).await {
            Some(snapshot) => snapshot,
            None => return,
        };
        let sent = tx.send_if_modified(|current| {
            if first || *current != snapshot {
                *current = snapshot;
                true
            } else {
                false
            }
        });
        if sent {
            let current = tx.borrow();
            tracing::debug!(
                pods = current.pods.len(),
                errors = current.errors.len(),
                "static pod snapshot"
            );
        }
        first = false;
        if tx.is_closed() {
            return;
        }

        tokio::select! {
            () = &mut shutdown => return,
            () = tx.closed() => return,
            _ = ticker.tick() => {}
            () = changed.notified() => {
                // Let the burst finish, so a file being written is read once, complete.
                let deadline = tokio::time::Instant::now() + COALESCE_MAX;
                while tokio::time::Instant::now() < deadline
                    && tokio::time::timeout(COALESCE, changed.notified()).await.is_ok()
                {}
            }
        }
    }
}

/// Runs a scan off the async threads (it reads files).
async fn scan(source: &Arc<StaticPodSource>) -> Option<Snapshot> {
    let source = Arc::clone(source);
    match tokio::task::spawn_blocking(move || source.scan()).await {
        Ok(snapshot) => Some(snapshot),
        Err(err) => {
            tracing::error!(error = %err, "static pod scan failed");
            None
        }
    }
}

/// The directory to watch: the path itself when it is a directory, else its parent (a
/// single manifest file is watched through its directory, so an editor's
/// write-new-then-rename is seen; a missing path is watched for its creation).
fn watch_target(path: &Path) -> Option<PathBuf> {
    if path.is_dir() {
        return Some(path.to_owned());
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty())?;
    parent.is_dir().then(|| parent.to_owned())
}

fn rearm(source: &StaticPodSource, changed: &Arc<Notify>, armed: &mut Option<ArmedWatch>) {
    let target = watch_target(&source.path);
    if let Some(current) = armed
        && Some(&current.target) == target.as_ref()
        && !current.lost.load(Ordering::Relaxed)
    {
        return;
    }
    *armed = None;
    let Some(target) = target else { return };
    match arm(&source.path, &target, Arc::clone(changed)) {
        Ok(watch) => *armed = Some(watch),
        Err(err) => tracing::warn!(
            path = %target.display(),
            error = %err,
            "cannot watch the static pod path; relying on the periodic rescan"
        ),
    }
}

fn arm(path: &Path, target: &Path, changed: Arc<Notify>) -> notify::Result<ArmedWatch> {
    let lost = Arc::new(AtomicBool::new(false));
    let handler_lost = Arc::clone(&lost);
    let path = path.to_owned();
    let watched = target.to_owned();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) => {
                if is_noise(&event.kind) {
                    return;
                }
                if matches!(event.kind, EventKind::Remove(_)) && event.paths.contains(&watched) {
                    handler_lost.store(true, Ordering::Relaxed);
                }
                if event.paths.iter().any(|p| concerns(&path, &watched, p)) {
                    changed.notify_one();
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "static pod watch error");
                handler_lost.store(true, Ordering::Relaxed);
                changed.notify_one();
            }
        })?;
    watcher.watch(target, RecursiveMode::NonRecursive)?;
    tracing::debug!(target = %target.display(), "inotify watch armed");
    Ok(ArmedWatch {
        _watcher: watcher,
        target: target.to_owned(),
        lost,
    })
}

/// Reads (our own scans open every file) and access-time updates change nothing.
fn is_noise(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Access(
            AccessKind::Open(_)
                | AccessKind::Read
                | AccessKind::Close(notify::event::AccessMode::Read)
        ) | EventKind::Access(AccessKind::Any | AccessKind::Other)
            | EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime))
    )
}

/// Whether an event on `changed` matters for the manifest path `path` watched through
/// `watched`: the path itself, the watched directory itself, or a non-dot entry of the
/// manifest directory.
fn concerns(path: &Path, watched: &Path, changed: &Path) -> bool {
    if changed == path || changed == watched {
        return true;
    }
    changed.parent() == Some(path)
        && changed
            .file_name()
            .is_some_and(|name| !name.as_encoded_bytes().starts_with(b"."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotfiles_and_unrelated_paths_do_not_wake_the_loop() {
        let dir = Path::new("/etc/kubernetes/manifests");
        assert!(concerns(dir, dir, &dir.join("web.yaml")));
        assert!(!concerns(dir, dir, &dir.join(".web.yaml.swp")));
        assert!(concerns(dir, dir, dir));
        let file = Path::new("/etc/kubernetes/web.yaml");
        let parent = Path::new("/etc/kubernetes");
        assert!(concerns(file, parent, file));
        assert!(!concerns(file, parent, &parent.join("other.yaml")));
    }

    #[test]
    fn close_after_write_counts_but_reads_do_not() {
        use notify::event::AccessMode;
        assert!(is_noise(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(is_noise(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(!is_noise(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(!is_noise(&EventKind::Create(
            notify::event::CreateKind::File
        )));
    }
}
