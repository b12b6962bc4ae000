//! Where things are: the index and model folders, and which CLIP model to use.

use anyhow::{Context, Result, bail};
use loupe_models::{ClipModel, ModelStore, Ocr, Runtime, TextEmbedder, Whisper};
use std::path::{Path, PathBuf};

/// The real CLIP pair `loupe models pull` installs.
pub const REAL_CLIP: &str = "clip-vit-b-32";
/// The generated test pair `scripts/setup` installs where real weights cannot be had.
pub const TEST_CLIP: &str = "tiny-clip-colour";

/// Speech models in order of preference when none is named: multilingual base (detects the
/// language), then English-only tiny.
pub const SPEECH_MODELS: [&str; 2] = ["whisper-base", "whisper-tiny-en"];
/// The sentence embedder `scripts/setup` installs.
pub const TEXT_MODEL: &str = "minilm-l6-v2";
/// The OCR model set `scripts/setup` installs.
pub const OCR_MODEL: &str = "ppocr-v6-small";

/// What an index records about the models that write it: the CLIP model, and the sentence
/// embedder when there is one.
pub fn index_models(clip: &ClipModel, text: Option<&TextEmbedder>) -> loupe_store::IndexModels {
    loupe_store::IndexModels {
        visual: loupe_store::ModelSpec {
            id: clip.id(),
            dim: clip.manifest.dim,
        },
        text: text.map(|t| loupe_store::ModelSpec {
            id: t.id(),
            dim: t.dim(),
        }),
    }
}

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

    /// The speech model to use: the one asked for (`none` for no transcripts); else the first of
    /// [`SPEECH_MODELS`] that is installed; else none (recordings are then indexed by name only).
    pub fn load_speech(&self, asked: Option<&str>) -> Result<Option<Whisper>> {
        let name = match asked {
            Some("none") => return Ok(None),
            Some(n) => n.to_string(),
            None => match SPEECH_MODELS.iter().find(|n| self.models.get(n).is_ok()) {
                Some(n) => n.to_string(),
                None => return Ok(None),
            },
        };
        Ok(Some(
            Whisper::load(&self.models, &name).with_context(|| format!("loading speech model '{name}'"))?,
        ))
    }

    /// The sentence embedder: the one asked for (`none` for none); else the one the index uses;
    /// else [`TEXT_MODEL`] if installed.
    pub fn load_text(&self, runtime: &Runtime, asked: Option<&str>) -> Result<Option<TextEmbedder>> {
        let from_index = std::fs::read_to_string(self.index.join("index.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<loupe_store::IndexMeta>(&t).ok())
            .map(|m| m.text_model.and_then(|t| t.split('@').next().map(str::to_string)));
        let name = match (asked, from_index) {
            (Some("none"), _) => return Ok(None),
            (Some(n), _) => n.to_string(),
            // An index built without text vectors stays that way.
            (None, Some(None)) => return Ok(None),
            (None, Some(Some(n))) => n,
            (None, None) if self.models.get(TEXT_MODEL).is_ok() => TEXT_MODEL.to_string(),
            (None, None) => return Ok(None),
        };
        Ok(Some(
            TextEmbedder::load(runtime, &self.models, &name)
                .with_context(|| format!("loading text model '{name}'"))?,
        ))
    }

    /// The OCR models: the ones asked for (`none` for no OCR); else [`OCR_MODEL`] if installed.
    pub fn load_ocr(&self, runtime: &Runtime, asked: Option<&str>) -> Result<Option<Ocr>> {
        let name = match asked {
            Some("none") => return Ok(None),
            Some(n) => n.to_string(),
            None if self.models.get(OCR_MODEL).is_ok() => OCR_MODEL.to_string(),
            None => return Ok(None),
        };
        Ok(Some(
            Ocr::load(runtime, &self.models, &name).with_context(|| format!("loading OCR model '{name}'"))?,
        ))
    }
}
