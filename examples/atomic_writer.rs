//! `volume-manager`'s `AtomicWriter` used alone: the kubelet's `..data` symlink swap that
//! configMap, secret, downwardAPI and projected volumes are written with. A payload is written
//! twice into a temporary directory; the listing after each write shows the new timestamped
//! directory, `..data` pointing at it, and the user-visible names that point through `..data`.
//! A third write of the same payload changes nothing.
//!
//! ```sh
//! cargo run --example atomic_writer
//! ```

use std::path::Path;

use volume_manager::atomic_writer::{AtomicWriter, DATA_DIR_NAME, FileProjection, Payload};

fn payload(files: &[(&str, &str)]) -> Payload {
    files
        .iter()
        .map(|(path, content)| (path.to_string(), FileProjection::new(*content, 0o644)))
        .collect()
}

/// Every entry of the volume directory: symlinks with their target, directories with their
/// files, so the swap can be seen.
fn show(dir: &Path) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            println!(
                "  {name:<32} -> {}",
                std::fs::read_link(entry.path())?.display()
            );
        } else if kind.is_dir() {
            let mut files: Vec<String> = std::fs::read_dir(entry.path())?
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<_, _>>()?;
            files.sort();
            println!("  {name:<32}    (directory: {})", files.join(", "));
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = tempfile::tempdir()?;
    let volume = root.path().join("config");
    std::fs::create_dir(&volume)?;
    // The pod name only appears in errors and logs.
    let writer = AtomicWriter::new(&volume, "default/web");

    let first = payload(&[("app.conf", "color=blue\n"), ("greeting.txt", "hello\n")]);
    println!("write 1: {:?}", writer.write(&first)?);
    show(&volume)?;

    // A ConfigMap edit: one value changed, one key removed, one added.
    let second = payload(&[("app.conf", "color=green\n"), ("limits/max.txt", "42\n")]);
    println!("\nwrite 2: {:?}", writer.write(&second)?);
    show(&volume)?;

    println!("\nwrite 2 again: {:?}", writer.write(&second)?);

    let data = std::fs::read_link(volume.join(DATA_DIR_NAME))?;
    println!(
        "\n{DATA_DIR_NAME} -> {}; app.conf now reads {:?}; greeting.txt exists: {}",
        data.display(),
        std::fs::read_to_string(volume.join("app.conf"))?,
        volume.join("greeting.txt").exists(),
    );
    Ok(())
}
