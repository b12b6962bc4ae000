//! `loupe bench --answers DIR`: answer accuracy and speed per answerer on a folder of documents
//! with a `qa.tsv` (columns `file`, `question`, `answer`), e.g. the dev set's `docs/`. Each
//! question is asked about its own file (a path filter), in brief mode; the answer is scored by
//! exact match, "contains the gold answer" and ANLS.

use crate::config::Config;
use anyhow::{Context, Result, bail};
use loupe_answer::ask::History;
use loupe_answer::{Flow, eval};
use loupe_schemas::answer::AskRequest;
use loupe_store::Index;
use std::path::Path;
use std::sync::atomic::AtomicBool;

pub struct Row {
    pub what: String,
    pub value: String,
}

struct Qa {
    file: String,
    question: String,
    answer: String,
}

fn read_qa(dir: &Path) -> Result<Vec<Qa>> {
    let text =
        std::fs::read_to_string(dir.join("qa.tsv")).with_context(|| format!("{}/qa.tsv", dir.display()))?;
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 3 {
            continue;
        }
        out.push(Qa {
            file: cols[0].to_string(),
            question: cols[1].to_string(),
            answer: cols[2].trim_matches('"').to_string(),
        });
    }
    if out.is_empty() {
        bail!("{}/qa.tsv has no questions", dir.display());
    }
    Ok(out)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn rows(
    config: &Config,
    runtime: &loupe_models::Runtime,
    clip: &loupe_models::ClipModel,
    dir: &Path,
    scratch: &Path,
    only: &[String],
) -> Result<Vec<Row>> {
    let qa = read_qa(dir)?;
    // Index the files the questions are about (OCR for scans, text layer for PDFs).
    let lib = scratch.join("answers-lib");
    std::fs::create_dir_all(&lib)?;
    let mut files: Vec<&str> = qa.iter().map(|q| q.file.as_str()).collect();
    files.sort();
    files.dedup();
    for f in &files {
        std::fs::copy(dir.join(f), lib.join(f)).with_context(|| format!("copying {f}"))?;
    }
    let text = config.load_text(runtime, None)?;
    let ocr = config.load_ocr(runtime, None)?;
    let decode = loupe_models::whisper::Decode::default();
    let models = loupe_indexer::Models {
        clip,
        text: text.as_ref(),
        whisper: None,
        ocr: ocr.as_ref(),
        decode: &decode,
    };
    let spec = crate::config::index_models(clip, text.as_ref());
    let index = Index::open_or_create(&scratch.join("answers-index"), &spec)?;
    let opts = loupe_indexer::Options {
        progress: false,
        ..Default::default()
    };
    let report = loupe_indexer::index_path(&index, &models, &lib, &opts, &AtomicBool::new(false))?;
    let lib = lib.canonicalize()?;
    let mut rows = vec![Row {
        what: format!("answers: indexed {} files of {}", report.indexed, dir.display()),
        value: format!("{:.1} s", report.elapsed_s),
    }];
    let answerers =
        loupe_answer::config::build(&loupe_answer::config::AnswerConfig::default(), &config.models)?;
    let encoders = loupe_query::Encoders {
        clip,
        text: text.as_ref(),
    };
    for name in answerers.names() {
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        let answerer = answerers.get(Some(&name))?;
        let (mut em, mut contains, mut anls, mut found) = (0usize, 0usize, 0f64, 0usize);
        let (mut ttft, mut total, mut tps) = (Vec::new(), Vec::new(), Vec::new());
        let mut misses = Vec::new();
        for q in &qa {
            let mut req = AskRequest::new(q.question.clone());
            req.filters.path_prefix = Some(lib.join(&q.file).to_string_lossy().into_owned());
            req.brief = true;
            req.max_tokens = Some(48);
            req.max_evidence = 3;
            let r = loupe_answer::ask::ask(
                &index,
                encoders,
                answerer.as_ref(),
                &req,
                &History::default(),
                &mut |_| Flow::Continue,
            )?;
            let pred = if r.found { r.answer.clone() } else { String::new() };
            em += usize::from(eval::exact_match(&pred, &q.answer));
            contains += usize::from(eval::contains(&pred, &q.answer));
            anls += eval::anls(&pred, &q.answer);
            found += usize::from(r.found);
            ttft.push(r.timings.first_token_ms);
            total.push(r.timings.total_ms);
            if let Some(t) = r.timings.tokens_per_s {
                tps.push(t);
            }
            if !eval::contains(&pred, &q.answer) && misses.len() < 3 {
                misses.push(format!(
                    "{}: \"{}\" -> \"{}\"",
                    q.file,
                    q.question,
                    loupe_answer::ask::strip_markers(&pred)
                ));
            }
        }
        let n = qa.len() as f64;
        rows.push(Row {
            what: format!("answers: {} on {} questions (brief)", answerer.name(), qa.len()),
            value: format!(
                "EM {:.1}%, contains {:.1}%, ANLS {:.3}, answered {:.0}%",
                100.0 * em as f64 / n,
                100.0 * contains as f64 / n,
                anls / n,
                100.0 * found as f64 / n
            ),
        });
        rows.push(Row {
            what: format!("answers: {} speed", answerer.name()),
            value: format!(
                "first token p50 {:.0} ms, answer p50 {:.0} ms{}",
                median(ttft),
                median(total),
                if tps.is_empty() {
                    String::new()
                } else {
                    format!(", {:.1} tokens/s", tps.iter().sum::<f64>() / tps.len() as f64)
                }
            ),
        });
        for m in misses {
            rows.push(Row {
                what: format!("answers: {} miss", answerer.name()),
                value: m,
            });
        }
    }
    Ok(rows)
}
