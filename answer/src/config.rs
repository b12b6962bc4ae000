//! Which answerers a process offers, from its configuration and the installed models.

use crate::local::{LocalConfig, LocalModel};
use crate::openai::{OpenAi, OpenAiConfig};
use crate::{Answerers, Error, Result};
use loupe_models::ModelStore;
use loupe_schemas::ModelRole;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The `[answer]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnswerConfig {
    /// `extractive`, `local` or `openai`. Default: `local` when a local model is installed, else
    /// `extractive`.
    pub default: Option<String>,
    /// The local model (a folder in the model store with role `vlm` or `llm`). Default: the first
    /// installed vision-language model, else the first text model, never a generated test model
    /// (`test_only`, e.g. `tiny-vlm-qwen0.5b`: name it here to use it); `none` for no local answerer.
    pub local_model: Option<String>,
    /// Context length of the local model, in tokens.
    pub local_ctx: u32,
    /// CPU threads for the local model (0 = all).
    pub local_threads: usize,
    /// Prompt style for the local model: `compact` (default; suits models under a few billion
    /// parameters) or `strict`.
    pub local_prompt: crate::prompt::Style,
    /// The `loupe-llm` worker binary. Default: the `loupe` command's `LOUPE_LLM_WORKER`, else the
    /// worker beside its executable, else `loupe-llm` on PATH.
    pub local_worker: Option<std::path::PathBuf>,
    /// An OpenAI-compatible server; the `openai` answerer exists only when this is set.
    pub openai: Option<OpenAiConfig>,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        Self {
            default: None,
            local_model: None,
            local_ctx: 4096,
            local_threads: 0,
            local_prompt: crate::prompt::Style::Compact,
            local_worker: None,
            openai: None,
        }
    }
}

/// The local model to use, if any: (folder, name).
pub fn pick_local(cfg: &AnswerConfig, store: &ModelStore) -> Result<Option<(std::path::PathBuf, String)>> {
    match cfg.local_model.as_deref() {
        Some("none") => Ok(None),
        Some(name) => {
            let (dir, m) = store.get(name).map_err(|e| Error::Config(e.to_string()))?;
            if !matches!(m.role, ModelRole::Llm | ModelRole::Vlm) {
                return Err(Error::Config(format!(
                    "model '{name}' is a {} model, not a language model",
                    m.role.as_str()
                )));
            }
            Ok(Some((dir, name.to_string())))
        }
        None => {
            let list = store.list().map_err(|e| Error::Config(e.to_string()))?;
            // Generated test models (random weights) are used only when named.
            let pick = |role| {
                list.iter()
                    .find(|(_, m)| m.role == role && !m.test_only)
                    .map(|(d, m)| (d.clone(), m.name.clone()))
            };
            Ok(pick(ModelRole::Vlm).or_else(|| pick(ModelRole::Llm)))
        }
    }
}

/// Builds the answerers: extractive always; local when a model is installed; openai when
/// configured. The local worker is not started here (see [`LocalModel::warm_up`]).
pub fn build(cfg: &AnswerConfig, store: &ModelStore) -> Result<Answerers> {
    let mut a = Answerers::new();
    if let Some((dir, name)) = pick_local(cfg, store)? {
        let mut lc = LocalConfig::from_model_dir(&dir, &name);
        lc.n_ctx = cfg.local_ctx;
        lc.threads = cfg.local_threads;
        lc.prompt = cfg.local_prompt;
        lc.worker = cfg.local_worker.clone();
        a.add_local(LocalModel::new(lc)?);
        a.set_default("local")?;
    }
    if let Some(o) = &cfg.openai {
        a.add_chat("openai", Arc::new(OpenAi::new(o.clone())?));
    }
    if let Some(d) = &cfg.default {
        a.set_default(d)?;
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::{AnswerConfig, pick_local};
    use loupe_models::ModelStore;
    use loupe_schemas::{ModelManifest, ModelRole};

    fn install(root: &std::path::Path, name: &str, role: ModelRole, test_only: bool) {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let m = ModelManifest {
            name: name.into(),
            role,
            source: "test".into(),
            licence: "test".into(),
            dim: 0,
            test_only,
            files: Vec::new(),
        };
        std::fs::write(
            dir.join(loupe_models::MANIFEST_FILE),
            serde_json::to_string(&m).unwrap(),
        )
        .unwrap();
    }

    #[test]
    fn default_local_model_skips_generated_test_models() {
        let dir = tempfile::tempdir().unwrap();
        install(dir.path(), "a-test-vlm", ModelRole::Vlm, true);
        install(dir.path(), "b-llm", ModelRole::Llm, false);
        let store = ModelStore::new(dir.path());
        let pick = |c: &AnswerConfig| pick_local(c, &store).unwrap().map(|(_, n)| n);
        assert_eq!(pick(&AnswerConfig::default()).as_deref(), Some("b-llm"));
        // Named, a test model is used.
        let named = AnswerConfig {
            local_model: Some("a-test-vlm".into()),
            ..AnswerConfig::default()
        };
        assert_eq!(pick(&named).as_deref(), Some("a-test-vlm"));
        // A real VLM comes before a text model.
        install(dir.path(), "c-vlm", ModelRole::Vlm, false);
        assert_eq!(pick(&AnswerConfig::default()).as_deref(), Some("c-vlm"));
    }

    #[test]
    fn file_keys_are_checked_and_default_when_absent() {
        let c: AnswerConfig = serde_json::from_str(r#"{"local_worker": "/opt/loupe-llm"}"#).unwrap();
        assert_eq!(
            c.local_worker.as_deref(),
            Some(std::path::Path::new("/opt/loupe-llm"))
        );
        assert_eq!(c.local_ctx, AnswerConfig::default().local_ctx);
        assert!(serde_json::from_str::<AnswerConfig>(r#"{"local_wroker": "x"}"#).is_err());
    }
}
