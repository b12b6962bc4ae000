//! Question answering: answer accuracy and speed per answerer on a folder of documents
//! with a `qa.tsv` (columns `file`, `question`, `answer`), e.g. the dev set's `docs/`. Each
//! question is asked about its own file (a path filter), in brief mode; the answer is scored by
//! exact match, "contains the gold answer" and ANLS.

use super::{Ctx, Measure, Unit};
use anyhow::{Context, Result, bail};
use loupe_answer::Flow;
use loupe_answer::ask::History;
use loupe_metrics::qa as eval;
use loupe_schemas::answer::AskRequest;
use std::path::Path;

struct Qa {
    file: String,
    question: String,
    answer: String,
}

fn read_qa(dir: &Path) -> Result<Vec<Qa>> {
    let path = dir.join("qa.tsv");
    let out: Vec<Qa> = super::read_tsv(&path, &["file", "question", "answer"])?
        .into_iter()
        .filter_map(|mut row| {
            Some(Qa {
                file: row.remove("file")?,
                question: row.remove("question")?,
                answer: row.remove("answer")?.trim_matches('"').to_string(),
            })
        })
        .collect();
    if out.is_empty() {
        bail!("{} has no questions", path.display());
    }
    Ok(out)
}

/// The median (nearest rank), NaN when there is nothing to take it of.
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    loupe_metrics::percentile(&v, 0.5)
}

pub fn run(ctx: &Ctx<'_>, dir: &Path, only: &[String]) -> Result<Vec<Measure>> {
    let qa = read_qa(dir)?;
    // Index the files the questions are about (OCR for scans, text layer for PDFs).
    let lib = ctx.scratch.join("eval-answers");
    std::fs::create_dir_all(&lib)?;
    let mut files: Vec<&str> = qa.iter().map(|q| q.file.as_str()).collect();
    files.sort();
    files.dedup();
    for f in &files {
        std::fs::copy(dir.join(f), lib.join(f)).with_context(|| format!("copying {f}"))?;
    }
    let (searcher, report) = ctx.index("eval-answers-index", &lib)?;
    let lib = lib.canonicalize()?;
    let reader = ctx.models.ocr.as_ref().map_or_else(
        || "text layer".to_string(),
        |o| format!("{} / text layer", o.id()),
    );
    let mut out = vec![
        Measure::new(
            "index documents",
            "files/s",
            report.files_per_s,
            Unit::PerSecond,
            &reader,
            report.indexed as usize,
        )
        .note(format!(
            "{:.1} s, {} failed",
            report.elapsed_s,
            report.failed.len()
        )),
    ];
    let cfg = loupe_answer::config::AnswerConfig {
        local_worker: ctx.config.llm_worker.clone(),
        ..Default::default()
    };
    let answerers = loupe_answer::config::build(&cfg, &ctx.config.models)?;
    for name in answerers.names() {
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        let answerer = answerers.get(Some(&name))?;
        let (mut em, mut contains, mut anls, mut found) = (0usize, 0usize, 0f64, 0usize);
        let (mut ttft, mut total, mut tps) = (Vec::new(), Vec::new(), Vec::new());
        for q in &qa {
            let mut req = AskRequest::new(q.question.clone());
            req.filters.path_prefix = Some(lib.join(&q.file).to_string_lossy().into_owned());
            req.brief = true;
            req.max_tokens = Some(48);
            req.max_evidence = 3;
            let r = loupe_answer::ask::ask(
                &searcher,
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
        }
        let n = qa.len();
        let model = answerer.name();
        let share = |k: usize| k as f64 / n as f64;
        out.push(Measure::new(
            "qa",
            "exact match",
            share(em),
            Unit::Percent,
            &model,
            n,
        ));
        out.push(Measure::new(
            "qa",
            "contains gold",
            share(contains),
            Unit::Percent,
            &model,
            n,
        ));
        out.push(Measure::new(
            "qa",
            "ANLS",
            anls / n as f64,
            Unit::Score,
            &model,
            n,
        ));
        out.push(Measure::new(
            "qa",
            "answered",
            share(found),
            Unit::Percent,
            &model,
            n,
        ));
        out.push(Measure::new(
            "qa",
            "first token p50",
            median(ttft),
            Unit::Ms,
            &model,
            n,
        ));
        out.push(Measure::new(
            "qa",
            "answer p50",
            median(total),
            Unit::Ms,
            &model,
            n,
        ));
        if !tps.is_empty() {
            let k = tps.len();
            out.push(Measure::new(
                "qa",
                "tokens/s",
                tps.iter().sum::<f64>() / k as f64,
                Unit::PerSecond,
                &model,
                k,
            ));
        }
    }
    Ok(out)
}
