//! Speech recognition: Whisper through whisper.cpp (the `whisper-rs` bindings, built from source by
//! cargo; no binary is downloaded).
//!
//! Why whisper.cpp and not candle: on this project's 2-core CPU, whisper.cpp transcribed the dev
//! set's speech several times faster than candle-transformers' Whisper at the same word error rate
//! (figures in the README), and it already implements OpenAI's decoding rules that a
//! hand-written decoder would have to repeat: timestamp tokens, temperature fallback on
//! low-confidence or repetitive output, the no-speech probability, and seeking by the last complete
//! timestamp so long audio is processed in 30 s windows without losing words at the seams.
//!
//! Model folder (as `scripts/setup` or `loupe models pull` installs it): `ggml-model.bin`, a
//! whisper.cpp model file, plus the usual `loupe-model.json`. English-only models (`*.en`) report
//! language `en`; multilingual ones detect the language of each call.

use crate::{Error, ModelStore, Result};
use loupe_schemas::{ModelManifest, ModelRole, TranscriptSegment, WordTime};
use std::path::PathBuf;
use std::sync::Once;
use whisper_rs::{
    DtwMode, DtwModelPreset, DtwParameters, FullParams, SamplingStrategy, WhisperContext,
    WhisperContextParameters,
};

/// Sample rate Whisper expects.
pub const SAMPLE_RATE: u32 = 16_000;

/// File name of the whisper.cpp model inside a model folder.
pub const MODEL_FILE: &str = "ggml-model.bin";

/// A loaded Whisper model. One context is shared; every call makes its own decoding state, so
/// several files can be transcribed at once.
pub struct Whisper {
    pub manifest: ModelManifest,
    pub dir: PathBuf,
    ctx: WhisperContext,
    multilingual: bool,
    threads: i32,
}

impl std::fmt::Debug for Whisper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Whisper")
            .field("dir", &self.dir)
            .field("multilingual", &self.multilingual)
            .finish()
    }
}

/// What one call recognised.
#[derive(Debug, Clone, PartialEq)]
pub struct Recognised {
    /// ISO 639-1 code of the language spoken (detected, forced, or `en` for English-only models).
    pub language: String,
    /// Segments with times relative to the start of the samples passed in.
    pub segments: Vec<TranscriptSegment>,
}

/// Decoding choices.
#[derive(Debug, Clone, Default)]
pub struct Decode {
    /// Force a language (ISO 639-1) instead of detecting it. Ignored by English-only models.
    pub language: Option<String>,
}

static QUIET: Once = Once::new();

fn werr(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Speech(format!("{what}: {e}"))
}

impl Whisper {
    /// Whether the model detects the language (false for the English-only `.en` models).
    pub fn multilingual(&self) -> bool {
        self.multilingual
    }

    /// Loads an installed Whisper model by name.
    pub fn load(store: &ModelStore, name: &str) -> Result<Self> {
        let (dir, manifest) = store.get(name)?;
        if manifest.role != ModelRole::Whisper {
            return Err(Error::BadModel {
                path: dir,
                reason: format!(
                    "'{name}' is not a Whisper model (role {})",
                    manifest.role.as_str()
                ),
            });
        }
        let file = dir.join(MODEL_FILE);
        let path = file.to_str().ok_or_else(|| Error::BadModel {
            path: file.clone(),
            reason: "model path is not valid UTF-8".into(),
        })?;
        if !file.is_file() {
            return Err(Error::BadModel {
                path: file,
                reason: format!("{MODEL_FILE} is missing; reinstall the model"),
            });
        }
        // whisper.cpp prints its model loading report to stderr; route it to the log hooks (dropped).
        QUIET.call_once(whisper_rs::install_logging_hooks);
        let load = |params: WhisperContextParameters<'_>| {
            WhisperContext::new_with_params(path, params).map_err(|e| Error::BadModel {
                path: file.clone(),
                reason: format!("whisper.cpp cannot load it: {e}"),
            })
        };
        let probe = load(WhisperContextParameters::default())?;
        let multilingual = probe.is_multilingual();
        // Word times from the cross-attention alignment (DTW over the alignment heads OpenAI
        // published for each standard size), as OpenAI's `word_timestamps` does; the plain
        // timestamp-token heuristic puts words after a pause too early.
        let ctx = match dtw_preset(&probe) {
            Some(preset) => {
                drop(probe);
                let params = WhisperContextParameters {
                    dtw_parameters: DtwParameters {
                        mode: DtwMode::ModelPreset { model_preset: preset },
                        ..DtwParameters::default()
                    },
                    ..WhisperContextParameters::default()
                };
                load(params)?
            }
            None => probe,
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as i32;
        Ok(Self {
            manifest,
            dir,
            ctx,
            multilingual,
            threads,
        })
    }

    /// `name@fingerprint`, what an index records.
    pub fn id(&self) -> String {
        format!("{}@{}", self.manifest.name, self.manifest.fingerprint())
    }

    pub fn is_multilingual(&self) -> bool {
        self.multilingual
    }

    /// Threads whisper.cpp uses per call (default: every core).
    pub fn set_threads(&mut self, n: usize) {
        self.threads = n.max(1) as i32;
    }

    /// Transcribes 16 kHz mono samples (any length: whisper.cpp walks 30 s windows and seeks by the
    /// last complete timestamp). Times in the result are relative to `pcm[0]`.
    pub fn transcribe(&self, pcm: &[f32], decode: &Decode) -> Result<Recognised> {
        let mut state = self.ctx.create_state().map_err(|e| werr("whisper state", e))?;
        let mut p = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        p.set_n_threads(self.threads);
        let language = if self.multilingual {
            decode.language.as_deref().unwrap_or("auto")
        } else {
            "en"
        };
        p.set_language(Some(language));
        p.set_translate(false);
        p.set_print_special(false);
        p.set_print_progress(false);
        p.set_print_realtime(false);
        p.set_print_timestamps(false);
        p.set_token_timestamps(true);
        // Non-speech tokens ("[Music]", "(laughs)", ...) are never useful search text.
        p.set_suppress_nst(true);
        p.set_suppress_blank(true);
        // OpenAI's defaults for falling back to sampling and for skipping silent windows.
        p.set_temperature(0.0);
        p.set_temperature_inc(0.2);
        p.set_entropy_thold(2.4);
        p.set_logprob_thold(-1.0);
        p.set_no_speech_thold(0.6);
        // Whisper's audio is padded to 30 s; anything shorter than 0.1 s cannot hold a word.
        if pcm.len() < (SAMPLE_RATE / 10) as usize {
            return Ok(Recognised {
                language: if self.multilingual {
                    String::new()
                } else {
                    "en".into()
                },
                segments: Vec::new(),
            });
        }
        state.full(p, pcm).map_err(|e| werr("whisper.cpp", e))?;
        let language = if self.multilingual {
            whisper_rs::get_lang_str(state.full_lang_id_from_state())
                .unwrap_or("")
                .to_string()
        } else {
            "en".to_string()
        };
        let eot = self.ctx.token_eot();
        let mut segments = Vec::new();
        for seg in state.as_iter() {
            let start = seg.start_timestamp() as f64 / 100.0;
            let end = seg.end_timestamp() as f64 / 100.0;
            let mut words: Vec<(Vec<u8>, f64, f64, f32)> = Vec::new();
            for i in 0..seg.n_tokens() {
                let Some(tok) = seg.get_token(i) else { continue };
                let data = tok.token_data();
                if data.id >= eot {
                    continue; // special and timestamp tokens
                }
                let Ok(bytes) = tok.to_bytes() else { continue };
                let t0 = if data.t_dtw >= 0 { data.t_dtw } else { data.t0 };
                let (t0, t1) = (t0 as f64 / 100.0, (data.t1.max(t0)) as f64 / 100.0);
                match words.last_mut() {
                    Some(w) if !bytes.starts_with(b" ") => {
                        w.0.extend_from_slice(bytes);
                        w.2 = w.2.max(t1);
                    }
                    _ => words.push((bytes.to_vec(), t0, t1, data.p)),
                }
            }
            let words: Vec<WordTime> = words
                .into_iter()
                .filter_map(|(b, s, e, p)| {
                    let text = String::from_utf8_lossy(&b).trim().to_string();
                    (!text.is_empty()).then(|| WordTime {
                        text,
                        start: s.clamp(start, end.max(start)),
                        end: e.clamp(start, end.max(start)),
                        p,
                    })
                })
                .collect();
            let text = seg
                .to_bytes()
                .map(|b| String::from_utf8_lossy(b).trim().to_string())
                .unwrap_or_default();
            if is_noise(&text) {
                continue;
            }
            segments.push(TranscriptSegment {
                start,
                end,
                text,
                words,
            });
        }
        Ok(Recognised { language, segments })
    }
}

/// The alignment-head preset of a standard Whisper size, recognised by its shape.
fn dtw_preset(ctx: &WhisperContext) -> Option<DtwModelPreset> {
    let en = !ctx.is_multilingual();
    let (audio, text, mels) = (
        ctx.model_n_audio_layer(),
        ctx.model_n_text_layer(),
        ctx.model_n_mels(),
    );
    Some(match (audio, text, en) {
        (4, 4, true) => DtwModelPreset::TinyEn,
        (4, 4, false) => DtwModelPreset::Tiny,
        (6, 6, true) => DtwModelPreset::BaseEn,
        (6, 6, false) => DtwModelPreset::Base,
        (12, 12, true) => DtwModelPreset::SmallEn,
        (12, 12, false) => DtwModelPreset::Small,
        (24, 24, true) => DtwModelPreset::MediumEn,
        (24, 24, false) => DtwModelPreset::Medium,
        (32, 4, false) => DtwModelPreset::LargeV3Turbo,
        (32, 32, false) if mels == 128 => DtwModelPreset::LargeV3,
        (32, 32, false) => DtwModelPreset::LargeV2,
        _ => return None,
    })
}

/// Text that carries no speech: empty, punctuation only, or a bracketed non-speech marker such as
/// `[BLANK_AUDIO]` or `(music)` that some models still emit.
pub fn is_noise(text: &str) -> bool {
    let t = text.trim();
    if !t.chars().any(char::is_alphanumeric) {
        return true;
    }
    let bracketed = |open: char, close: char| t.starts_with(open) && t.ends_with(close);
    bracketed('[', ']') || bracketed('(', ')') || bracketed('*', '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_markers_are_not_text() {
        assert!(is_noise(""));
        assert!(is_noise(" ... "));
        assert!(is_noise("[BLANK_AUDIO]"));
        assert!(is_noise("(music)"));
        assert!(!is_noise("Ask not what your country can do for you."));
    }
}
