//! CLIP image and text towers (ONNX), with CLIP's own preprocessing and tokenizer.
//!
//! The model folder has the layout of Qdrant's published ONNX repositories:
//! `vision/{model.onnx, preprocessor_config.json}` and
//! `text/{model.onnx, tokenizer.json, tokenizer_config.json}`. Preprocessing follows
//! `CLIPImageProcessor` exactly (resize so the shortest side is `shortest_edge` keeping the aspect
//! ratio, bicubic; centre crop; rescale; normalise with the config's mean/std). Note that fastembed's
//! preprocessing squashes the image to a square instead, which is why Loupe runs ONNX directly.

use crate::runtime::Runtime;
use crate::store::ModelStore;
use crate::{Error, Result};
use image::{DynamicImage, imageops::FilterType};
use loupe_schemas::{ModelManifest, ModelRole};
use ndarray::{Array2, Array3, Array4, Axis};
use ort::session::Session;
use ort::value::Tensor;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// CLIP's context length.
pub const CONTEXT_LENGTH: usize = 77;

/// Image preprocessing read from `preprocessor_config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessor {
    pub shortest_edge: u32,
    pub crop: Option<(u32, u32)>,
    pub rescale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Preprocessor {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        Self::from_json(&text).map_err(|reason| Error::BadModel {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses both the old (`"size": 224`) and the new (`"size": {"shortest_edge": 224}`) forms.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let u32_of = |x: &serde_json::Value| x.as_u64().and_then(|n| u32::try_from(n).ok());
        let shortest_edge = match &v["size"] {
            s if s.is_u64() => u32_of(s),
            s => s.get("shortest_edge").and_then(u32_of),
        }
        .filter(|&n| n > 0)
        .ok_or("size.shortest_edge missing (only CLIPImageProcessor-style configs are supported)")?;
        let crop = if v["do_center_crop"].as_bool().unwrap_or(true) {
            let c = &v["crop_size"];
            Some(match c {
                c if c.is_u64() => {
                    let n = u32_of(c).ok_or("bad crop_size")?;
                    (n, n)
                }
                c if c.is_object() => (
                    c.get("width").and_then(u32_of).ok_or("crop_size.width missing")?,
                    c.get("height")
                        .and_then(u32_of)
                        .ok_or("crop_size.height missing")?,
                ),
                _ => (shortest_edge, shortest_edge),
            })
        } else {
            None
        };
        let rescale = if v["do_rescale"].as_bool().unwrap_or(true) {
            v["rescale_factor"].as_f64().unwrap_or(1.0 / 255.0) as f32
        } else {
            1.0
        };
        let triple = |key: &str, default: [f32; 3]| -> std::result::Result<[f32; 3], String> {
            match v.get(key).and_then(|a| a.as_array()) {
                None => Ok(default),
                Some(a) if a.len() == 3 => {
                    let mut out = [0f32; 3];
                    for (o, x) in out.iter_mut().zip(a) {
                        *o = x.as_f64().ok_or(format!("{key} must hold numbers"))? as f32;
                    }
                    Ok(out)
                }
                Some(_) => Err(format!("{key} must have 3 values")),
            }
        };
        let (mean, std) = if v["do_normalize"].as_bool().unwrap_or(true) {
            (
                triple("image_mean", [0.481_454_66, 0.457_827_5, 0.408_210_73])?,
                triple("image_std", [0.268_629_54, 0.261_302_6, 0.275_777_1])?,
            )
        } else {
            ([0.0; 3], [1.0; 3])
        };
        if std.contains(&0.0) {
            return Err("image_std must not contain 0".into());
        }
        Ok(Self {
            shortest_edge,
            crop,
            rescale,
            mean,
            std,
        })
    }

    /// Output size (width, height) of [`Self::apply`].
    pub fn output_size(&self) -> (u32, u32) {
        self.crop.unwrap_or((self.shortest_edge, self.shortest_edge))
    }

    /// Resize (shortest side, aspect kept, bicubic), centre crop, rescale and normalise into a
    /// CHW float array.
    pub fn apply(&self, img: &DynamicImage) -> Array3<f32> {
        let rgb = img.to_rgb8();
        let (w, h) = rgb.dimensions();
        let (w, h) = (w.max(1), h.max(1));
        // As transformers' get_resize_output_image_size(default_to_square=False): the short side
        // becomes `shortest_edge`, the long side is scaled and truncated.
        let s = self.shortest_edge;
        let (nw, nh) = if w <= h {
            (s, ((u64::from(s) * u64::from(h)) / u64::from(w)).max(1) as u32)
        } else {
            (((u64::from(s) * u64::from(w)) / u64::from(h)).max(1) as u32, s)
        };
        let resized = if (nw, nh) == (w, h) {
            rgb
        } else {
            image::imageops::resize(&rgb, nw, nh, FilterType::CatmullRom)
        };
        let (cw, ch) = self.output_size();
        let mut out = Array3::<f32>::zeros((3, ch as usize, cw as usize));
        // Centre crop (pads with zeros if the image is smaller than the crop, like transformers).
        let left = (i64::from(nw) - i64::from(cw)) / 2;
        let top = (i64::from(nh) - i64::from(ch)) / 2;
        for y in 0..ch {
            let sy = i64::from(y) + top;
            if sy < 0 || sy >= i64::from(nh) {
                continue;
            }
            for x in 0..cw {
                let sx = i64::from(x) + left;
                if sx < 0 || sx >= i64::from(nw) {
                    continue;
                }
                let p = resized.get_pixel(sx as u32, sy as u32);
                for c in 0..3 {
                    out[[c, y as usize, x as usize]] =
                        (f32::from(p[c]) * self.rescale - self.mean[c]) / self.std[c];
                }
            }
        }
        out
    }
}

/// L2-normalises in place; a zero vector stays zero.
pub fn l2_normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Picks the embedding output: the preferred name if the model has it, else the first output (the
/// convention fastembed relies on for Qdrant's CLIP exports). Its rank is checked at run time.
fn output_name(session: &Session, preferred: &str, path: &Path) -> Result<String> {
    let names: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    if names.contains(&preferred) {
        return Ok(preferred.to_string());
    }
    names
        .first()
        .map(|n| (*n).to_string())
        .ok_or_else(|| Error::BadModel {
            path: path.to_path_buf(),
            reason: "model has no outputs".into(),
        })
}

fn extract_rows(
    outputs: &ort::session::SessionOutputs<'_>,
    name: &str,
    batch: usize,
) -> Result<Vec<Vec<f32>>> {
    let value = outputs
        .get(name)
        .ok_or_else(|| Error::Ort(format!("output '{name}' missing from the run")))?;
    let arr = value.try_extract_array::<f32>()?;
    if arr.ndim() != 2 || arr.shape()[0] != batch {
        return Err(Error::Ort(format!(
            "output '{name}' has shape {:?}, expected [{batch}, dim]",
            arr.shape()
        )));
    }
    Ok(arr
        .axis_iter(Axis(0))
        .map(|row| {
            let mut v: Vec<f32> = row.iter().copied().collect();
            l2_normalize(&mut v);
            v
        })
        .collect())
}

/// The CLIP image tower.
pub struct ClipImageEncoder {
    session: Mutex<Session>,
    input: String,
    output: String,
    pre: Preprocessor,
    path: PathBuf,
}

impl ClipImageEncoder {
    /// Loads `dir/model.onnx` and `dir/preprocessor_config.json`.
    pub fn load(rt: &Runtime, dir: &Path) -> Result<Self> {
        let onnx = dir.join("model.onnx");
        let pre = Preprocessor::from_file(&dir.join("preprocessor_config.json"))?;
        let session = rt.session(&onnx)?;
        let input = session
            .inputs()
            .first()
            .map(|i| i.name().to_string())
            .ok_or_else(|| Error::BadModel {
                path: onnx.clone(),
                reason: "model has no input".into(),
            })?;
        let output = output_name(&session, "image_embeds", &onnx)?;
        Ok(Self {
            session: Mutex::new(session),
            input,
            output,
            pre,
            path: onnx,
        })
    }

    pub fn preprocessor(&self) -> &Preprocessor {
        &self.pre
    }

    /// Embeds images that went through [`Preprocessor::apply`]. One ONNX run per call.
    pub fn embed_preprocessed(&self, batch: &[Array3<f32>]) -> Result<Vec<Vec<f32>>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let views: Vec<_> = batch.iter().map(|a| a.view()).collect();
        let stacked: Array4<f32> = ndarray::stack(Axis(0), &views).map_err(|e| Error::BadModel {
            path: self.path.clone(),
            reason: format!("images of different sizes in one batch: {e}"),
        })?;
        let tensor = Tensor::from_array(stacked)?;
        let mut session = self
            .session
            .lock()
            .map_err(|_| Error::Ort("session lock poisoned".into()))?;
        let outputs = session.run(ort::inputs![self.input.as_str() => tensor])?;
        extract_rows(&outputs, &self.output, batch.len())
    }

    /// Preprocesses and embeds.
    pub fn embed(&self, images: &[DynamicImage]) -> Result<Vec<Vec<f32>>> {
        let pre: Vec<_> = images.iter().map(|i| self.pre.apply(i)).collect();
        self.embed_preprocessed(&pre)
    }
}

/// CLIP's tokenizer: the repository's `tokenizer.json` (BPE over CLIP's merges) plus the special
/// tokens from `tokenizer_config.json`. Output is `<|startoftext|> ... <|endoftext|>`, at most 77 ids.
pub struct ClipTokenizer {
    tokenizer: tokenizers::Tokenizer,
    path: PathBuf,
    pad_id: i64,
    eot_id: i64,
}

impl ClipTokenizer {
    /// Loads `dir/tokenizer.json` and `dir/tokenizer_config.json`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("tokenizer.json");
        let tokenizer = tokenizers::Tokenizer::from_file(&path).map_err(|e| Error::Tokenizer {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let cfg_path = dir.join("tokenizer_config.json");
        let cfg: serde_json::Value = match std::fs::read_to_string(&cfg_path) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| Error::Tokenizer {
                path: cfg_path.clone(),
                reason: e.to_string(),
            })?,
            Err(_) => serde_json::Value::Null,
        };
        let token_id = |key: &str, default: &str| -> Result<i64> {
            let tok = cfg[key]
                .as_str()
                .or_else(|| cfg[key]["content"].as_str())
                .unwrap_or(default);
            tokenizer
                .token_to_id(tok)
                .map(i64::from)
                .ok_or_else(|| Error::Tokenizer {
                    path: path.clone(),
                    reason: format!("{key} '{tok}' is not in the vocabulary"),
                })
        };
        let eot_id = token_id("eos_token", "<|endoftext|>")?;
        let pad_id = token_id("pad_token", "<|endoftext|>")?;
        Ok(Self {
            tokenizer,
            path,
            pad_id,
            eot_id,
        })
    }

    /// Token ids as CLIP sees them; longer texts are cut to 77 with the end token kept.
    pub fn encode(&self, text: &str) -> Result<Vec<i64>> {
        let enc = self.tokenizer.encode(text, true).map_err(|e| Error::Tokenizer {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        let mut ids: Vec<i64> = enc.get_ids().iter().map(|&i| i64::from(i)).collect();
        if ids.len() > CONTEXT_LENGTH {
            ids.truncate(CONTEXT_LENGTH);
            ids[CONTEXT_LENGTH - 1] = self.eot_id;
        }
        Ok(ids)
    }

    /// A padded batch: (input_ids, attention_mask), both `[texts, longest]`.
    pub fn batch(&self, texts: &[&str]) -> Result<(Array2<i64>, Array2<i64>)> {
        let tokens: Vec<Vec<i64>> = texts.iter().map(|t| self.encode(t)).collect::<Result<_>>()?;
        let len = tokens.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let mut ids = Array2::<i64>::from_elem((texts.len(), len), self.pad_id);
        let mut mask = Array2::<i64>::zeros((texts.len(), len));
        for (r, t) in tokens.iter().enumerate() {
            for (c, &id) in t.iter().enumerate() {
                ids[[r, c]] = id;
                mask[[r, c]] = 1;
            }
        }
        Ok((ids, mask))
    }
}

/// The CLIP text tower.
pub struct ClipTextEncoder {
    session: Mutex<Session>,
    tokenizer: ClipTokenizer,
    output: String,
    wants_mask: bool,
}

impl ClipTextEncoder {
    /// Loads `dir/model.onnx` and the tokenizer beside it.
    pub fn load(rt: &Runtime, dir: &Path) -> Result<Self> {
        let tokenizer = ClipTokenizer::load(dir)?;
        let onnx = dir.join("model.onnx");
        let session = rt.session(&onnx)?;
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        if !inputs.contains(&"input_ids") {
            return Err(Error::BadModel {
                path: onnx,
                reason: format!("text model has no 'input_ids' input (inputs: {inputs:?})"),
            });
        }
        let wants_mask = inputs.contains(&"attention_mask");
        let output = output_name(&session, "text_embeds", &onnx)?;
        Ok(Self {
            session: Mutex::new(session),
            tokenizer,
            output,
            wants_mask,
        })
    }

    pub fn tokenizer(&self) -> &ClipTokenizer {
        &self.tokenizer
    }

    /// Embeds a batch of texts (padded to the longest, at most 77 tokens).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, mask) = self.tokenizer.batch(texts)?;
        let mut session = self
            .session
            .lock()
            .map_err(|_| Error::Ort("session lock poisoned".into()))?;
        let ids = Tensor::from_array(ids)?;
        let outputs = if self.wants_mask {
            let mask = Tensor::from_array(mask)?;
            session.run(ort::inputs!["input_ids" => ids, "attention_mask" => mask])?
        } else {
            session.run(ort::inputs!["input_ids" => ids])?
        };
        extract_rows(&outputs, &self.output, texts.len())
    }
}

/// A CLIP pair as installed in the model folder.
pub struct ClipModel {
    pub manifest: ModelManifest,
    pub dir: PathBuf,
    pub vision: ClipImageEncoder,
    pub text: ClipTextEncoder,
}

impl ClipModel {
    /// Loads an installed CLIP pair by name.
    pub fn load(rt: &Runtime, store: &ModelStore, name: &str) -> Result<Self> {
        let (dir, manifest) = store.get(name)?;
        if manifest.role != ModelRole::Clip {
            return Err(Error::BadModel {
                path: dir,
                reason: format!("'{name}' is not a CLIP model (role {:?})", manifest.role),
            });
        }
        let vision = ClipImageEncoder::load(rt, &dir.join("vision"))?;
        let text = ClipTextEncoder::load(rt, &dir.join("text"))?;
        Ok(Self {
            manifest,
            dir,
            vision,
            text,
        })
    }

    /// `name@fingerprint`, what an index records.
    pub fn id(&self) -> String {
        format!("{}@{}", self.manifest.name, self.manifest.fingerprint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    const OPENAI: &str = r#"{"crop_size": {"height": 224, "width": 224}, "do_center_crop": true,
        "do_normalize": true, "do_resize": true, "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "size": {"shortest_edge": 224},
        "do_rescale": true, "rescale_factor": 0.00392156862745098}"#;

    #[test]
    fn parses_both_config_forms() {
        let p = Preprocessor::from_json(OPENAI).unwrap();
        assert_eq!(p.shortest_edge, 224);
        assert_eq!(p.crop, Some((224, 224)));
        let old =
            Preprocessor::from_json(r#"{"size": 224, "crop_size": 224, "do_center_crop": true}"#).unwrap();
        assert_eq!(old.output_size(), (224, 224));
        assert!(Preprocessor::from_json(r#"{"size": {"height": 3}}"#).is_err());
        assert!(Preprocessor::from_json(r#"{"size": 224, "image_std": [0, 1, 1]}"#).is_err());
    }

    #[test]
    fn keeps_aspect_and_crops_centre() {
        let p = Preprocessor::from_json(OPENAI).unwrap();
        // A wide image: left third red, middle third green, right third blue. After shortest-side
        // resize to 224 it is 672 wide, and the centre crop keeps only green.
        let mut img = RgbImage::new(300, 100);
        for (x, _, px) in img.enumerate_pixels_mut() {
            *px = match x {
                0..90 => Rgb([255, 0, 0]),
                90..210 => Rgb([0, 255, 0]),
                _ => Rgb([0, 0, 255]),
            };
        }
        let a = p.apply(&DynamicImage::ImageRgb8(img));
        assert_eq!(a.shape(), &[3, 224, 224]);
        let green = (1.0 - p.mean[1]) / p.std[1];
        let red_channel_zero = (0.0 - p.mean[0]) / p.std[0];
        for &(y, x) in &[(0usize, 0usize), (112, 112), (223, 223), (0, 223)] {
            assert!(
                (a[[1, y, x]] - green).abs() < 1e-3,
                "green at {y},{x}: {}",
                a[[1, y, x]]
            );
            assert!((a[[0, y, x]] - red_channel_zero).abs() < 1e-3);
        }
    }

    #[test]
    fn normalize_handles_zero() {
        let mut v = vec![3.0, 4.0];
        l2_normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6);
        let mut z = vec![0.0, 0.0];
        l2_normalize(&mut z);
        assert_eq!(z, vec![0.0, 0.0]);
    }
}
