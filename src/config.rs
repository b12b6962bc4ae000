//! Where things are: the index and model folders, and which CLIP model to use.

use anyhow::{Context, Result, bail};
use loupe_models::{ClipModel, ModelStore, Runtime};
use std::path::{Path, PathBuf};

/// The real CLIP pair `loupe models pull` installs.
pub const REAL_CLIP: &str = "clip-vit-b-32";
/// The generated test pair `scripts/setup` installs where real weights cannot be had.
pub const TEST_CLIP: &str = "tiny-clip-colour";

pub struct Config {
    pub index: PathBuf,
    pub models: ModelStore,
}

fn data_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("loupe"));
    }
    let home = std::env::var_os("HOME").context("HOME is not set; pass --index and --models")?;
    Ok(PathBuf::from(home).join(".local/share/loupe"))
}

impl Config {
    pub fn resolve(index: Option<PathBuf>, models: Option<PathBuf>) -> Result<Self> {
        let index = match index {
            Some(i) => i,
            None => data_dir()?.join("index"),
        };
        let models = match models {
            Some(m) => m,
            None => data_dir()?.join("models"),
        };
        Ok(Self {
            index,
            models: ModelStore::new(models),
        })
    }

    pub fn models_dir(&self) -> &Path {
        self.models.root()
    }

    pub fn runtime(&self) -> Result<Runtime> {
        let lib = Runtime::locate(self.models.root())?;
        Ok(Runtime::load(&lib)?)
    }

    /// The model to index with: the one asked for; else the one the index already uses; else the
    /// real CLIP if installed; else the generated test model.
    pub fn choose_model(&self, asked: Option<&str>) -> Result<String> {
        if let Some(m) = asked {
            return Ok(m.to_string());
        }
        if let Ok(text) = std::fs::read_to_string(self.index.join("index.json"))
            && let Ok(meta) = serde_json::from_str::<loupe_store::IndexMeta>(&text)
            && let Some(name) = meta.visual_model.split('@').next()
        {
            return Ok(name.to_string());
        }
        for name in [REAL_CLIP, TEST_CLIP] {
            if self.models.get(name).is_ok() {
                return Ok(name.to_string());
            }
        }
        bail!(
            "no CLIP model is installed in {}: run scripts/setup, or `loupe models pull {REAL_CLIP}`",
            self.models.root().display()
        )
    }

    pub fn load_clip(&self, runtime: &Runtime, name: &str) -> Result<ClipModel> {
        ClipModel::load(runtime, &self.models, name).with_context(|| format!("loading CLIP model '{name}'"))
    }
}
