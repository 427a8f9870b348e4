//! The test images, built from the machine's static busybox (there is no
//! internet to pull from) and imported into containerd.
//!
//! All share one layer: `/bin/busybox`, a symlink per applet, `/etc/passwd`
//! and `/etc/group`, and the usual empty directories. Every header field and
//! timestamp is fixed, so the same busybox always gives the same digests.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;

use anyhow::{Context, Result, bail};
use flate2::{Compression, GzBuilder};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::cmd;
use crate::containerd;
use crate::layout::{Layout, create_dir};

/// An image xtask builds.
#[derive(Debug)]
pub struct ImageSpec {
    /// The reference containerd knows it by.
    pub name: &'static str,
    entrypoint: &'static [&'static str],
    cmd: &'static [&'static str],
}

/// The sandbox ("pause") image the CRI config names: it only has to stay up.
pub const PAUSE: ImageSpec = ImageSpec {
    name: "localhost/pause:1",
    entrypoint: &["/bin/sleep", "infinity"],
    cmd: &[],
};

/// The image test containers run.
pub const BUSYBOX: ImageSpec = ImageSpec {
    name: "localhost/busybox:1",
    entrypoint: &[],
    cmd: &["/bin/sh"],
};

const BUSYBOX_BIN: &str = "/bin/busybox";
/// Applets tests rely on; setup fails early if the busybox build lacks one.
const REQUIRED_APPLETS: [&str; 12] = [
    "sh", "sleep", "httpd", "nc", "wget", "dd", "cat", "echo", "head", "tail", "true", "false",
];
/// 2000-01-01T00:00:00Z, the mtime of every file in every archive.
const MTIME: u64 = 946_684_800;
const CREATED: &str = "2000-01-01T00:00:00Z";
const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// The image names containerd has in the CRI namespace.
pub fn list(layout: &Layout) -> Result<BTreeSet<String>> {
    let out = cmd::output(containerd::ctr(layout).args(["images", "ls", "-q"]))?;
    Ok(out.lines().map(str::to_owned).collect())
}

/// Builds and imports whichever of the images containerd lacks. Returns the
/// names imported.
pub fn ensure_imported(layout: &Layout, layer: &mut LazyLayer) -> Result<Vec<&'static str>> {
    let present = list(layout)?;
    let missing: Vec<&ImageSpec> = [&PAUSE, &BUSYBOX]
        .into_iter()
        .filter(|spec| !present.contains(spec.name))
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let layer = layer.get()?;
    for spec in &missing {
        Image::new(spec.name, spec.config(layer), layer).import(layout)?;
    }
    Ok(missing.iter().map(|spec| spec.name).collect())
}

impl ImageSpec {
    /// The OCI image config of this image over `layer`.
    fn config(&self, layer: &Layer) -> Value {
        let mut config = json!({ "Env": [PATH_ENV], "WorkingDir": "/" });
        if !self.entrypoint.is_empty() {
            config["Entrypoint"] = json!(self.entrypoint);
        }
        if !self.cmd.is_empty() {
            config["Cmd"] = json!(self.cmd);
        }
        json!({
            "created": CREATED,
            "architecture": oci_arch(),
            "os": "linux",
            "config": config,
            "rootfs": { "type": "layers", "diff_ids": [layer.diff_id] },
            "history": [{ "created": CREATED, "created_by": "cargo xtask setup (from /bin/busybox)" }],
        })
    }
}

/// The busybox image for the registry, named `name`: same layer and command,
/// but a config of its own (one label more), so that it has its own image
/// id. containerd 1.6's `RemoveImage` removes every tag of an image id, so a
/// test that removes the pulled image must not take `localhost/busybox:1`
/// with it.
pub fn registry_busybox<'a>(name: &str, layer: &'a Layer) -> Image<'a> {
    let mut config = BUSYBOX.config(layer);
    config["config"]["Labels"] = json!({ "io.nodelet.image.source": "registry" });
    Image::new(name, config, layer)
}

/// One image: its config and manifest over the shared layer.
pub struct Image<'a> {
    name: String,
    config: Blob,
    manifest: Blob,
    layer: &'a Layer,
}

impl<'a> Image<'a> {
    fn new(name: &str, config: Value, layer: &'a Layer) -> Self {
        let config = Blob::json(CONFIG_MEDIA_TYPE, &config);
        let manifest = Blob::json(
            MANIFEST_MEDIA_TYPE,
            &json!({
                "schemaVersion": 2,
                "mediaType": MANIFEST_MEDIA_TYPE,
                "config": config.descriptor(),
                "layers": [layer.blob.descriptor()],
            }),
        );
        Self {
            name: name.to_owned(),
            config,
            manifest,
            layer,
        }
    }

    /// The manifest digest, which a registry reports as `Docker-Content-Digest`.
    pub fn digest(&self) -> String {
        self.manifest.digest()
    }

    /// The image id, as the CRI reports it: the config digest. The CRI
    /// plugin also keeps every image under its id as a name.
    pub fn id(&self) -> String {
        self.config.digest()
    }

    /// Writes the archive to the images directory and imports it under its name.
    pub fn import(&self, layout: &Layout) -> Result<()> {
        create_dir(&layout.images_dir())?;
        let file_name = format!("{}.tar", self.name.replace(['/', ':'], "_"));
        let path = layout.images_dir().join(file_name);
        fs::write(&path, self.archive()?).with_context(|| format!("writing {}", path.display()))?;
        cmd::output(
            containerd::ctr(layout)
                .args(["images", "import"])
                .arg(&path),
        )?;
        if !list(layout)?.contains(&self.name) {
            bail!(
                "`ctr images import {}` did not create {}",
                path.display(),
                self.name
            );
        }
        Ok(())
    }

    /// An OCI image layout archive, named through the index annotations
    /// `ctr images import` reads (`io.containerd.image.name` is the full
    /// reference; the OCI `ref.name` alone would need `--base-name`).
    fn archive(&self) -> Result<Vec<u8>> {
        let tag = self.name.rsplit_once(':').map_or("latest", |(_, tag)| tag);
        let mut descriptor = self.manifest.descriptor();
        descriptor["platform"] = json!({ "architecture": oci_arch(), "os": "linux" });
        descriptor["annotations"] = json!({
            "io.containerd.image.name": self.name,
            "org.opencontainers.image.ref.name": tag,
        });
        let index = json!({
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "manifests": [descriptor],
        });

        let mut entries = BTreeMap::new();
        entries.insert("blobs".to_owned(), Entry::Dir(0o755));
        entries.insert("blobs/sha256".to_owned(), Entry::Dir(0o755));
        for blob in [&self.layer.blob, &self.config, &self.manifest] {
            let path = format!("blobs/{}", blob.digest().replace(':', "/"));
            entries.insert(path, Entry::File(blob.bytes.clone(), 0o644));
        }
        let layout_file = json!({ "imageLayoutVersion": "1.0.0" });
        entries.insert("oci-layout".to_owned(), json_file(&layout_file));
        entries.insert("index.json".to_owned(), json_file(&index));
        tar_archive(&entries)
    }
}

/// A content-addressed blob.
struct Blob {
    media_type: &'static str,
    bytes: Vec<u8>,
}

impl Blob {
    fn json(media_type: &'static str, value: &Value) -> Self {
        Self {
            media_type,
            bytes: serde_json::to_vec(value).expect("serializing JSON to memory"),
        }
    }

    fn digest(&self) -> String {
        sha256(&self.bytes)
    }

    /// The OCI descriptor pointing at this blob.
    fn descriptor(&self) -> Value {
        json!({
            "mediaType": self.media_type,
            "digest": self.digest(),
            "size": self.bytes.len(),
        })
    }
}

/// The one layer all images share: compressed, and the digest of its
/// uncompressed tar (the diff id).
pub struct Layer {
    blob: Blob,
    diff_id: String,
}

impl Layer {
    /// Builds the layer from the machine's busybox. Fast compression: it
    /// costs a tenth of the best and the layer is only 15% larger.
    fn build() -> Result<Self> {
        let tar = tar_archive(&rootfs()?)?;
        let mut gz = GzBuilder::new()
            .mtime(0)
            .write(Vec::new(), Compression::fast());
        gz.write_all(&tar)?;
        Ok(Self {
            blob: Blob {
                media_type: LAYER_MEDIA_TYPE,
                bytes: gz.finish()?,
            },
            diff_id: sha256(&tar),
        })
    }
}

/// The layer, built on first use: a warm setup needs none, a cold one needs
/// it for both the import and the registry push.
#[derive(Default)]
pub struct LazyLayer(Option<Layer>);

impl LazyLayer {
    /// The layer, built now if this is the first call.
    pub fn get(&mut self) -> Result<&Layer> {
        if self.0.is_none() {
            self.0 = Some(Layer::build()?);
        }
        Ok(self.0.as_ref().expect("built above"))
    }
}

/// A file system entry of the layer.
enum Entry {
    Dir(u32),
    File(Vec<u8>, u32),
    Symlink(&'static str),
}

/// The layer's contents, keyed by path without the leading `/`.
fn rootfs() -> Result<BTreeMap<String, Entry>> {
    let busybox = fs::read(BUSYBOX_BIN).with_context(|| format!("reading {BUSYBOX_BIN}"))?;
    let mut entries = BTreeMap::new();
    for dir in ["bin", "dev", "etc", "proc", "sys", "usr", "var"] {
        entries.insert(dir.to_owned(), Entry::Dir(0o755));
    }
    entries.insert("root".to_owned(), Entry::Dir(0o700));
    entries.insert("tmp".to_owned(), Entry::Dir(0o1777));
    entries.insert("bin/busybox".to_owned(), Entry::File(busybox, 0o755));
    let passwd =
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    let group = "root:x:0:\nnobody:x:65534:\n";
    entries.insert("etc/passwd".to_owned(), Entry::File(passwd.into(), 0o644));
    entries.insert("etc/group".to_owned(), Entry::File(group.into(), 0o644));
    for path in applet_paths()? {
        for parent in parents(&path) {
            entries.entry(parent).or_insert(Entry::Dir(0o755));
        }
        entries.entry(path).or_insert(Entry::Symlink(BUSYBOX_BIN));
    }
    Ok(entries)
}

/// Every applet where busybox's installer puts it (`usr/bin/wget`), and also
/// in `bin/`, so that `/bin/<applet>` works for each one.
fn applet_paths() -> Result<BTreeSet<String>> {
    let list = cmd::output(std::process::Command::new(BUSYBOX_BIN).arg("--list-full"))?;
    let mut paths = BTreeSet::new();
    for path in list.lines().map(|line| line.trim().trim_start_matches('/')) {
        let Some(name) = path.rsplit('/').next().filter(|name| !name.is_empty()) else {
            continue;
        };
        paths.insert(format!("bin/{name}"));
        paths.insert(path.to_owned());
    }
    if let Some(missing) = REQUIRED_APPLETS
        .iter()
        .find(|applet| !paths.contains(&format!("bin/{applet}")))
    {
        bail!("{BUSYBOX_BIN} has no `{missing}` applet");
    }
    Ok(paths)
}

/// `usr/sbin/httpd` → `usr`, `usr/sbin`.
fn parents(path: &str) -> Vec<String> {
    path.match_indices('/')
        .map(|(end, _)| path[..end].to_owned())
        .collect()
}

/// A tar of `entries` in path order (parents before children), owned by root
/// and stamped with [`MTIME`].
fn tar_archive(entries: &BTreeMap<String, Entry>) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, entry) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(MTIME);
        match entry {
            Entry::Dir(mode) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                header.set_size(0);
                builder.append_data(&mut header, format!("{path}/"), std::io::empty())?;
            }
            Entry::File(bytes, mode) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(bytes.len() as u64);
                builder.append_data(&mut header, path, bytes.as_slice())?;
            }
            Entry::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                builder.append_link(&mut header, path, target)?;
            }
        }
    }
    Ok(builder.into_inner()?)
}

fn json_file(value: &Value) -> Entry {
    Entry::File(
        serde_json::to_vec(value).expect("serializing JSON to memory"),
        0o644,
    )
}

/// The OCI (Go) name of the architecture xtask runs on.
fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_listed_outermost_first() {
        assert_eq!(parents("usr/sbin/httpd"), ["usr", "usr/sbin"]);
        assert!(parents("bin").is_empty());
    }

    #[test]
    fn archives_are_reproducible() {
        let entries = || {
            let mut entries = BTreeMap::new();
            entries.insert("etc".to_owned(), Entry::Dir(0o755));
            entries.insert(
                "etc/group".to_owned(),
                Entry::File(b"root:x:0:\n".to_vec(), 0o644),
            );
            entries.insert("bin/sh".to_owned(), Entry::Symlink(BUSYBOX_BIN));
            entries
        };
        assert_eq!(
            tar_archive(&entries()).unwrap(),
            tar_archive(&entries()).unwrap()
        );
    }
}
