//! The process's ONNX Runtime environment.

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// The ONNX Runtime environment of this process. ONNX Runtime allows one per process, so the
/// binary creates it once and hands clones to every model.
#[derive(Clone)]
pub struct Runtime {
    env: ort::environment::Environment,
    library: PathBuf,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("library", &self.library).finish()
    }
}

impl Runtime {
    /// Finds the ONNX Runtime shared library: `<models>/runtime/libonnxruntime.so*` as
    /// `scripts/setup` installs it. (The `loupe` command checks `ORT_DYLIB_PATH` first; this crate
    /// reads no environment.)
    pub fn locate(models_dir: &Path) -> Result<PathBuf> {
        let dir = models_dir.join("runtime");
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                            n.starts_with("libonnxruntime.so")
                                || n == "libonnxruntime.dylib"
                                || n == "onnxruntime.dll"
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found.pop().ok_or_else(|| {
            Error::RuntimeMissing(format!(
                "no libonnxruntime in {} and ORT_DYLIB_PATH is not set; run scripts/setup (it installs the library from the onnxruntime wheel)",
                dir.display()
            ))
        })
    }

    /// Loads the library and creates the environment. Call once per process.
    pub fn load(library: &Path) -> Result<Self> {
        let env = ort::init_from(library)
            .map_err(|e| Error::RuntimeMissing(format!("{}: {e}", library.display())))?
            .with_name("loupe")
            .build()?;
        Ok(Self {
            env,
            library: library.to_path_buf(),
        })
    }

    pub fn library(&self) -> &Path {
        &self.library
    }

    /// A session for one ONNX file, using every core for intra-op parallelism.
    pub(crate) fn session(&self, onnx: &Path) -> Result<ort::session::Session> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let session = ort::session::Session::builder(&self.env)?
            .with_optimization_level(ort::session::builder::GraphOptimizationLevel::Level3)?
            .with_intra_threads(threads)?
            .commit_from_file(onnx)
            .map_err(|e| Error::BadModel {
                path: onnx.to_path_buf(),
                reason: e.to_string(),
            })?;
        Ok(session)
    }
}
