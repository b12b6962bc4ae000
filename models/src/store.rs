//! The model folder: one sub-folder per model, each with a `loupe-model.json` manifest.

use crate::{Error, Result};
use loupe_schemas::{ModelFile, ModelManifest};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// File name of the manifest inside each model folder.
pub const MANIFEST_FILE: &str = "loupe-model.json";

/// The folder that holds the installed models (and the ONNX Runtime library under `runtime/`).
#[derive(Debug, Clone)]
pub struct ModelStore {
    root: PathBuf,
}

impl ModelStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Installed models (folders with a readable manifest), sorted by name.
    pub fn list(&self) -> Result<Vec<(PathBuf, ModelManifest)>> {
        let rd = match std::fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("reading {}", self.root.display()), e)),
        };
        let mut out = Vec::new();
        for entry in rd.flatten() {
            let dir = entry.path();
            if dir.join(MANIFEST_FILE).is_file() {
                // One unreadable manifest (e.g. written by a newer Loupe) must not hide the others.
                match read_manifest(&dir) {
                    Ok(m) => out.push((dir.clone(), m)),
                    Err(e) => tracing::warn!("skipping model folder: {e}"),
                }
            }
        }
        out.sort_by(|a, b| a.1.name.cmp(&b.1.name));
        Ok(out)
    }

    /// The manifest of an installed model, or a clear error naming what is installed.
    pub fn get(&self, name: &str) -> Result<(PathBuf, ModelManifest)> {
        let dir = self.model_dir(name);
        if dir.join(MANIFEST_FILE).is_file() {
            return Ok((dir.clone(), read_manifest(&dir)?));
        }
        let installed = self
            .list()?
            .into_iter()
            .map(|(_, m)| m.name)
            .collect::<Vec<_>>()
            .join(", ");
        Err(Error::ModelMissing {
            name: name.to_string(),
            dir: self.root.clone(),
            installed: if installed.is_empty() {
                "none".into()
            } else {
                installed
            },
            hint: format!("install it with `loupe models pull {name}` (or `--from DIR` offline)"),
        })
    }

    /// Re-hashes every file of a model and compares with its manifest.
    pub fn verify(&self, name: &str) -> Result<ModelManifest> {
        let (dir, manifest) = self.get(name)?;
        for f in &manifest.files {
            let path = dir.join(&f.path);
            let actual = sha256_file(&path)?;
            if actual != f.sha256 {
                return Err(Error::Checksum {
                    path,
                    expected: f.sha256.clone(),
                    actual,
                });
            }
        }
        Ok(manifest)
    }
}

/// Reads and parses `dir/loupe-model.json`.
pub fn read_manifest(dir: &Path) -> Result<ModelManifest> {
    let path = dir.join(MANIFEST_FILE);
    let text =
        std::fs::read_to_string(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    serde_json::from_str(&text).map_err(|e| Error::BadModel {
        path,
        reason: format!("bad manifest: {e}"),
    })
}

/// Writes a manifest for `dir`, hashing the given files (paths relative to `dir`).
pub fn write_manifest(dir: &Path, mut manifest: ModelManifest, files: &[String]) -> Result<ModelManifest> {
    let mut entries = Vec::new();
    for rel in files {
        let path = dir.join(rel);
        let bytes = std::fs::metadata(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
            .len();
        entries.push(ModelFile {
            path: rel.clone(),
            sha256: sha256_file(&path)?,
            bytes,
        });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    manifest.files = entries;
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| Error::BadModel {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
    std::fs::write(&tmp, text).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, dir.join(MANIFEST_FILE))
        .map_err(|e| Error::io(format!("writing manifest in {}", dir.display()), e))?;
    Ok(manifest)
}

/// sha256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_schemas::ModelRole;

    fn manifest(name: &str) -> ModelManifest {
        ModelManifest {
            name: name.into(),
            role: ModelRole::Clip,
            source: "test".into(),
            licence: "MIT".into(),
            dim: 4,
            test_only: true,
            files: vec![],
        }
    }

    #[test]
    fn manifest_roundtrip_and_verify() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ModelStore::new(tmp.path());
        let dir = store.model_dir("m");
        std::fs::create_dir_all(dir.join("vision")).unwrap();
        std::fs::write(dir.join("vision/model.onnx"), b"abc").unwrap();
        let m = write_manifest(&dir, manifest("m"), &["vision/model.onnx".into()]).unwrap();
        assert_eq!(
            m.files[0].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(store.list().unwrap().len(), 1);
        store.verify("m").unwrap();
        std::fs::write(dir.join("vision/model.onnx"), b"abd").unwrap();
        assert!(matches!(store.verify("m"), Err(Error::Checksum { .. })));
        let err = store.get("other").unwrap_err().to_string();
        assert!(err.contains("installed: m"), "{err}");
    }
}
