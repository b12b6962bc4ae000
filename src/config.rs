//! Where things are: the index and model folders, and which CLIP model to use.

use anyhow::{Context, Result, bail};
use loupe_models::{ClipModel, ModelSet, ModelStore, Ocr, Runtime, TextEmbedder, Whisper};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
pub fn index_models(models: &ModelSet) -> loupe_store::IndexModels {
    loupe_store::IndexModels {
        visual: loupe_store::ModelSpec {
            id: models.clip.id(),
            dim: models.clip.manifest.dim,
        },
        text: models.text.as_ref().map(|t| loupe_store::ModelSpec {
            id: t.id(),
            dim: t.dim(),
        }),
    }
}

/// Which models a run loads, each by name, `none` (the optional ones), or unset (the defaults of
/// [`Config::choose_model`], [`Config::load_text`], [`Config::load_speech`] and
/// [`Config::load_ocr`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelChoice {
    pub clip: Option<String>,
    pub text: Option<String>,
    pub speech: Option<String>,
    pub ocr: Option<String>,
}

impl ModelChoice {
    /// The models that query an index: the CLIP model and sentence embedder it records, nothing
    /// for speech or OCR.
    pub fn for_query(meta: &loupe_store::IndexMeta) -> Self {
        let name = |id: &str| id.split('@').next().unwrap_or_default().to_string();
        Self {
            clip: Some(name(&meta.visual_model)),
            text: Some(
                meta.text_model
                    .as_deref()
                    .map_or_else(|| "none".to_string(), name),
            ),
            speech: Some("none".into()),
            ocr: Some("none".into()),
        }
    }

    /// CLIP (chosen as usual) and nothing else.
    pub fn clip_only(clip: Option<String>) -> Self {
        Self {
            clip,
            text: Some("none".into()),
            speech: Some("none".into()),
            ocr: Some("none".into()),
        }
    }
}

/// Where things are, from the run's [`Settings`](crate::settings::Settings).
pub struct Config {
    pub index: PathBuf,
    pub models: ModelStore,
    /// The ONNX Runtime library named by `ORT_DYLIB_PATH`; None: the one in the model folder.
    pub onnxruntime: Option<PathBuf>,
    /// How the index is opened for writing (the free-space floor).
    pub store: loupe_store::OpenOptions,
    /// The `loupe-llm` worker binary.
    pub llm_worker: Option<PathBuf>,
}

impl Config {
    pub fn from_settings(s: &crate::settings::Settings) -> Self {
        Self {
            index: s.index.clone(),
            models: ModelStore::new(s.models.clone()),
            onnxruntime: s.onnxruntime.clone(),
            store: s.store.clone(),
            llm_worker: s.server.answer.local_worker.clone(),
        }
    }

    pub fn models_dir(&self) -> &Path {
        self.models.root()
    }

    /// The ONNX Runtime library: `ORT_DYLIB_PATH` if set, else the one `scripts/setup` installed in
    /// the model folder.
    pub fn onnxruntime_library(&self) -> Result<PathBuf, loupe_models::Error> {
        match &self.onnxruntime {
            Some(p) if p.is_file() => Ok(p.clone()),
            Some(p) => Err(loupe_models::Error::RuntimeMissing(format!(
                "ORT_DYLIB_PATH={} is not a file",
                p.display()
            ))),
            None => Runtime::locate(self.models.root()),
        }
    }

    pub fn runtime(&self) -> Result<Runtime> {
        let lib = self.onnxruntime_library()?;
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

    /// Loads the models of a run: the one place a [`ModelSet`] is built.
    pub fn load_models(&self, runtime: &Runtime, choice: &ModelChoice) -> Result<ModelSet> {
        let name = self.choose_model(choice.clip.as_deref())?;
        let clip = self.load_clip(runtime, &name)?;
        let text = self.load_text(runtime, choice.text.as_deref())?;
        let whisper = self.load_speech(choice.speech.as_deref())?;
        let ocr = self.load_ocr(runtime, choice.ocr.as_deref())?;
        Ok(ModelSet {
            clip: Arc::new(clip),
            text: text.map(Arc::new),
            whisper,
            ocr,
        })
    }

    /// The index, read-only, with a searcher that encodes queries with the models it records
    /// (hits link to the HTTP API's routes, as the server's do).
    pub fn searcher(&self) -> Result<loupe_query::Searcher> {
        let index = loupe_store::Index::open_with(&self.index, loupe_store::Access::Read, &self.store)?;
        let runtime = self.runtime()?;
        let models = self.load_models(&runtime, &ModelChoice::for_query(index.meta()))?;
        Ok(
            loupe_query::Searcher::new(Arc::new(index), models.visual(), models.sentence())
                .with_links(loupe_server::ApiLinks),
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
