//! `loupe eval DIR`: quality and speed on media with ground truth, in the dev set's format, printed
//! as one table (or `--json`), each figure beside a published reference figure where one exists.
//!
//! DIR is either a folder holding parts (`images/`, `speech/`, `video/`, `docs/`) or one part:
//! - images: `manifest.tsv` (`file`, `label`) + `queries.tsv` (`query`, `relevant_files` split by
//!   `;`): text->image and image->image Recall@1/5/10 and nDCG@10, indexing images/s, query latency.
//! - speech: `manifest.tsv` with `file`, `transcript` (+ `language`): WER per Whisper model
//!   (Whisper English normaliser), real-time factor, language identification.
//! - video: videos with `NAME.scenes.json` (shots with `start`, `end`, `description`): text->moment
//!   Recall@1/5 (the described shot found), shot cut recall/precision, keyframe extraction speed.
//! - docs: scans/PDFs with `STEM.gt.txt` (OCR character error rate, pages/s) and `qa.tsv`
//!   (`file`, `question`, `answer`: exact match, ANLS, answer speed per answerer).
//!
//! Everything runs through the real paths: the indexer writes a scratch index, searches go through
//! `loupe_query::Searcher`, answers through `loupe_answer::ask`.

mod answers;
mod images;
mod media;

use crate::config::Config;
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// The dev set (a folder with images/, speech/, video/, docs/) or one of those folders.
    pub dir: PathBuf,
    /// Only these parts.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<Part>,
    /// Answerers for the question-answering rows (default: every one installed).
    #[arg(long, value_delimiter = ',')]
    pub answerers: Vec<String>,
    /// Whisper models for the speech rows (default: every one installed).
    #[arg(long, value_delimiter = ',')]
    pub speech_models: Vec<String>,
    /// Local models to measure the local answerer with, each in turn (default: the default one).
    #[arg(long, value_delimiter = ',')]
    pub llm_models: Vec<String>,
    /// Write every question's answer to this file (tab-separated: answerer, file, type, question,
    /// gold, answer, found, exact, value match, first token ms, total ms), to see what each got wrong.
    #[arg(long)]
    pub answers_log: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Images,
    Speech,
    Video,
    Docs,
    Answers,
}

/// How a value reads.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A fraction shown as a percentage (0.588 -> "58.8 %").
    Percent,
    /// A score between 0 and 1 (nDCG, ANLS, cosine).
    Score,
    /// Milliseconds.
    Ms,
    /// Items per second; the item is named in the metric.
    PerSecond,
    /// Media seconds per wall-clock second.
    TimesRealTime,
}

impl Unit {
    fn show(self, v: f64) -> String {
        match self {
            Unit::Percent => format!("{:.1} %", 100.0 * v),
            Unit::Score => format!("{v:.3}"),
            Unit::Ms => format!("{v:.1} ms"),
            Unit::PerSecond => format!("{v:.2}/s"),
            Unit::TimesRealTime => format!("{v:.2}x"),
        }
    }
}

/// A published figure to hold a measure against.
#[derive(Clone, Debug, Serialize)]
pub struct Reference {
    pub value: f64,
    pub source: &'static str,
}

/// One figure of the table.
#[derive(Clone, Debug, Serialize)]
pub struct Measure {
    /// What was measured ("text->image", "speech", "ocr", ...).
    pub task: String,
    pub metric: String,
    pub value: f64,
    pub unit: Unit,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<Reference>,
    /// The model(s) that produced it.
    pub model: String,
    /// Queries, files or questions it is averaged over.
    pub n: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Measure {
    pub fn new(task: &str, metric: &str, value: f64, unit: Unit, model: &str, n: usize) -> Self {
        Self {
            task: task.into(),
            metric: metric.into(),
            value,
            unit,
            reference: None,
            model: model.into(),
            n,
            note: None,
        }
    }
    pub fn reference(mut self, value: f64, source: &'static str) -> Self {
        self.reference = Some(Reference { value, source });
        self
    }
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// The parts found under `dir`: the folder itself, or its sub-folders.
fn discover(dir: &Path) -> Result<Vec<(Part, PathBuf)>> {
    fn kind(dir: &Path) -> Vec<Part> {
        let has = |name: &str| dir.join(name).is_file();
        let mut parts = Vec::new();
        let manifest = std::fs::read_to_string(dir.join("manifest.tsv")).unwrap_or_default();
        let header = manifest.lines().next().unwrap_or_default();
        if has("queries.tsv") {
            parts.push(Part::Images);
        }
        if header.split('\t').any(|c| c == "transcript") {
            parts.push(Part::Speech);
        }
        let names: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        if names.iter().any(|n| n.ends_with(".scenes.json")) {
            parts.push(Part::Video);
        }
        if names.iter().any(|n| n.ends_with(".gt.txt")) {
            parts.push(Part::Docs);
        }
        if has("qa.tsv") {
            parts.push(Part::Answers);
        }
        parts
    }
    if !dir.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    let mut found: Vec<(Part, PathBuf)> = kind(dir).into_iter().map(|p| (p, dir.to_path_buf())).collect();
    if found.is_empty() {
        let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        subs.sort();
        for sub in subs {
            found.extend(kind(&sub).into_iter().map(|p| (p, sub.clone())));
        }
    }
    if found.is_empty() {
        bail!(
            "{} holds nothing to evaluate: expected queries.tsv (images), a manifest.tsv with a \
             transcript column (speech), *.scenes.json (video), *.gt.txt or qa.tsv (docs), there \
             or in its sub-folders",
            dir.display()
        );
    }
    Ok(found)
}

/// Reads a tab-separated file with a header into rows of named columns.
pub fn read_tsv(path: &Path, need: &[&str]) -> Result<Vec<std::collections::HashMap<String, String>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split('\t')
        .map(str::to_string)
        .collect();
    for n in need {
        if !header.iter().any(|h| h == n) {
            bail!("{} has no '{n}' column", path.display());
        }
    }
    Ok(lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split('\t').map(|v| v.trim().to_string()))
                .collect()
        })
        .collect())
}

pub fn run(config: &Config, args: EvalArgs, json: bool) -> Result<()> {
    let parts: Vec<(Part, PathBuf)> = discover(&args.dir)?
        .into_iter()
        .filter(|(p, _)| args.only.is_empty() || args.only.contains(p))
        .collect();
    if parts.is_empty() {
        bail!(
            "none of the parts asked for (--only) is in {}",
            args.dir.display()
        );
    }
    let runtime = config.runtime()?;
    // No speech model here: the speech part loads each one it compares.
    let models = config.load_models(
        &runtime,
        &crate::config::ModelChoice {
            speech: Some("none".into()),
            ..Default::default()
        },
    )?;
    let scratch = tempfile::tempdir().context("creating a scratch folder")?;
    let ctx = Ctx {
        config,
        models: &models,
        scratch: scratch.path(),
    };
    let mut out = Vec::new();
    for (part, dir) in &parts {
        eprintln!("[eval] {part:?}: {}", dir.display());
        let got = match part {
            Part::Images => images::run(&ctx, dir),
            Part::Speech => media::speech(config, dir, &args.speech_models),
            Part::Video => media::video(&ctx, dir),
            Part::Docs => media::docs(&ctx, dir),
            Part::Answers => answers::run(
                &ctx,
                dir,
                &args.answerers,
                &args.llm_models,
                args.answers_log.as_deref(),
            ),
        };
        out.extend(got.with_context(|| format!("evaluating {}", dir.display()))?);
    }
    print(&out, &models.clip, json);
    Ok(())
}

/// What every part may use: the loaded models and a scratch folder.
pub struct Ctx<'a> {
    pub config: &'a Config,
    pub models: &'a loupe_models::ModelSet,
    pub scratch: &'a Path,
}

impl Ctx<'_> {
    /// Indexes `lib` into a fresh scratch index named `name` with the loaded models; returns a
    /// searcher over it.
    pub fn index(
        &self,
        name: &str,
        lib: &Path,
    ) -> Result<(loupe_query::Searcher, loupe_schemas::IndexReport)> {
        let decode = loupe_models::whisper::Decode::default();
        let models = loupe_indexer::Models::from_set(self.models, &decode);
        let spec = crate::config::index_models(self.models);
        let index =
            loupe_store::Index::open_or_create_with(&self.scratch.join(name), &spec, &self.config.store)?;
        let opts = loupe_indexer::Options::default();
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let report = loupe_indexer::index_path(&index, &models, lib, &opts, &cancel)?;
        let searcher = loupe_query::Searcher::new(
            std::sync::Arc::new(index),
            self.models.visual(),
            self.models.sentence(),
        )
        .with_links(loupe_server::ApiLinks);
        Ok((searcher, report))
    }
}

/// Model ids without their content hashes ("minilm-l6-v2@28a2..." -> "minilm-l6-v2"), for the
/// human table; `--json` keeps them.
fn short_ids(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut skipping = false;
    for c in s.chars() {
        if c == '@' {
            skipping = true;
        } else if skipping && !c.is_ascii_hexdigit() {
            skipping = false;
        }
        if !skipping {
            out.push(c);
        }
    }
    out
}

fn print(rows: &[Measure], clip: &loupe_models::ClipModel, json: bool) {
    let command: Vec<String> = std::env::args().collect();
    if json {
        let v = serde_json::json!({
            "command": command.join(" "),
            "machine": crate::bench::machine(),
            "visual_model": clip.id(),
            "visual_model_test_only": clip.manifest.test_only,
            "measures": rows,
        });
        println!("{v}");
        return;
    }
    println!("command: {}", command.join(" "));
    println!("machine: {}", crate::bench::machine());
    if clip.manifest.test_only {
        println!(
            "note:    {} is a generated test model (no real CLIP weights installed): image retrieval \
             figures measure the pipeline, not CLIP. `loupe models pull clip-vit-b-32` for real ones.",
            clip.id()
        );
    }
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|m| {
            [
                m.task.clone(),
                m.metric.clone(),
                m.unit.show(m.value),
                m.reference
                    .as_ref()
                    .map(|r| format!("{} ({})", m.unit.show(r.value), r.source))
                    .unwrap_or_else(|| "-".into()),
                short_ids(&m.model),
                match &m.note {
                    Some(note) => format!("{} | {note}", m.n),
                    None => m.n.to_string(),
                },
            ]
        })
        .collect();
    let head = ["task", "metric", "value", "reference", "model", "n"];
    let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for c in &cells {
        for (w, s) in widths.iter_mut().zip(c.iter()).take(5) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |c: &[String]| {
        let mut s = String::new();
        for (i, cell) in c.iter().enumerate() {
            if i < 5 {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            } else {
                s.push_str(cell);
            }
        }
        s.trim_end().to_string()
    };
    println!("{}", line(&head.map(String::from)));
    println!(
        "{}",
        line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>())
    );
    for c in &cells {
        println!("{}", line(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_parts_in_a_folder_and_its_subfolders() {
        let tmp = tempfile::tempdir().unwrap();
        let images = tmp.path().join("images");
        std::fs::create_dir_all(&images).unwrap();
        std::fs::write(images.join("queries.tsv"), "query\trelevant_files\n").unwrap();
        let speech = tmp.path().join("speech");
        std::fs::create_dir_all(&speech).unwrap();
        std::fs::write(speech.join("manifest.tsv"), "file\ttranscript\n").unwrap();
        let parts = discover(tmp.path()).unwrap();
        assert_eq!(
            parts.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            vec![Part::Images, Part::Speech]
        );
        assert_eq!(discover(&images).unwrap()[0], (Part::Images, images.clone()));
        let empty = tempfile::tempdir().unwrap();
        assert!(
            discover(empty.path())
                .unwrap_err()
                .to_string()
                .contains("nothing to evaluate")
        );
    }

    #[test]
    fn model_ids_lose_their_hashes_in_the_table() {
        assert_eq!(
            short_ids("tiny-clip@abfb1aad + text-in-photo check (ppocr@9143e35d)"),
            "tiny-clip + text-in-photo check (ppocr)"
        );
        assert_eq!(short_ids("extractive"), "extractive");
    }

    #[test]
    fn reads_tsv_and_names_missing_columns() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("m.tsv");
        std::fs::write(&p, "file\tlabel\na.png\ta cat\n\n").unwrap();
        let rows = read_tsv(&p, &["file"]).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["label"], "a cat");
        assert!(
            read_tsv(&p, &["query"])
                .unwrap_err()
                .to_string()
                .contains("'query'")
        );
    }
}
