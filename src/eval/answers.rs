//! Question answering: answer accuracy and speed per answerer on a folder of documents
//! with a `qa.tsv` (columns `file`, `question`, `answer`), e.g. the dev set's `docs/`. Each
//! question is asked about its own file (a path filter), in brief mode; the answer is scored by
//! exact match, value match (dates, amounts and currencies compared as values), "contains the
//! gold answer" and ANLS, overall and per question type; questions whose answer is not in their
//! file (`not_in_library.tsv`) are scored by the share answered "not found".

use super::{Ctx, Measure, Unit};
use anyhow::{Context, Result, bail};
use loupe_answer::Flow;
use loupe_answer::ask::History;
use loupe_metrics::qa as eval;
use loupe_schemas::answer::AskRequest;
use std::io::Write as _;
use std::path::Path;

struct Qa {
    file: String,
    question: String,
    /// None: the answer is not in the file (the answerer should say "not found").
    answer: Option<String>,
}

/// Questions about the dev set's documents whose answers are not in them: the answerer should
/// say "not found". Used for the files of this list that the folder holds.
const NOT_IN_LIBRARY: &str = include_str!("not_in_library.tsv");

fn read_qa(dir: &Path) -> Result<Vec<Qa>> {
    let path = dir.join("qa.tsv");
    let mut out: Vec<Qa> = super::read_tsv(&path, &["file", "question", "answer"])?
        .into_iter()
        .filter_map(|mut row| {
            Some(Qa {
                file: row.remove("file")?,
                question: row.remove("question")?,
                answer: Some(row.remove("answer")?.trim_matches('"').to_string()),
            })
        })
        .collect();
    if out.is_empty() {
        bail!("{} has no questions", path.display());
    }
    for line in NOT_IN_LIBRARY.lines().skip(1) {
        if let Some((file, question)) = line.split_once('\t')
            && dir.join(file).is_file()
        {
            out.push(Qa {
                file: file.to_string(),
                question: question.trim().to_string(),
                answer: None,
            });
        }
    }
    Ok(out)
}

/// Scores of one group of answerable questions.
#[derive(Default)]
struct Tally {
    n: usize,
    exact: usize,
    value: usize,
    contains: usize,
    anls: f64,
    found: usize,
}

impl Tally {
    fn add(&mut self, pred: &str, gold: &str, found: bool) {
        let exact = eval::exact_match(pred, gold);
        self.n += 1;
        self.exact += usize::from(exact);
        self.value += usize::from(
            exact || (found && loupe_answer::fields::same_value(&eval::strip_markers(pred), gold)),
        );
        self.contains += usize::from(eval::contains(pred, gold));
        self.anls += eval::anls(pred, gold);
        self.found += usize::from(found);
    }
    fn share(&self, k: usize) -> f64 {
        k as f64 / self.n.max(1) as f64
    }
}

/// Whether a given answer is in a cited source's quote (its value as the page writes it, or its
/// words).
fn supported_by_citation(r: &loupe_schemas::answer::AskResponse) -> bool {
    let said = r
        .value
        .as_ref()
        .map_or_else(|| eval::normalise(&r.answer), |v| eval::normalise(&v.as_written));
    !said.is_empty()
        && r.citations
            .iter()
            .filter(|c| c.cited)
            .filter_map(|c| c.quote.as_deref())
            .any(|q| eval::normalise(q).contains(&said))
}

/// The median (nearest rank), NaN when there is nothing to take it of.
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    loupe_metrics::percentile(&v, 0.5)
}

pub fn run(
    ctx: &Ctx<'_>,
    dir: &Path,
    only: &[String],
    llm_models: &[String],
    log: Option<&Path>,
) -> Result<Vec<Measure>> {
    let qa = read_qa(dir)?;
    let mut log = match log {
        Some(p) => {
            let mut f = std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
            writeln!(
                f,
                "answerer\tfile\ttype\tquestion\tgold\tanswer\tfound\texact\tvalue_match\tfirst_token_ms\ttotal_ms"
            )?;
            Some(f)
        }
        None => None,
    };
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
    // Every answerer asked for; with --llm-models, the local answerer once per named model.
    let mut todo: Vec<std::sync::Arc<dyn loupe_answer::Answerer>> = Vec::new();
    for name in answerers.names() {
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        if name == "local" && !llm_models.is_empty() {
            for m in llm_models {
                let cfg = loupe_answer::config::AnswerConfig {
                    local_model: Some(m.clone()),
                    ..cfg.clone()
                };
                todo.push(loupe_answer::config::build(&cfg, &ctx.config.models)?.get(Some("local"))?);
            }
        } else {
            todo.push(answerers.get(Some(&name))?);
        }
    }
    for answerer in todo {
        let mut all = Tally::default();
        let mut groups: Vec<(&'static str, Tally)> = Vec::new();
        let mut fields = Tally::default();
        let (mut unanswerable, mut refused) = (0usize, 0usize);
        let mut supported = 0usize;
        let (mut ttft, mut total, mut tps, mut ptps) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
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
            ttft.push(r.timings.first_token_ms);
            total.push(r.timings.total_ms);
            if let Some(t) = r.timings.tokens_per_s {
                tps.push(t);
            }
            if let Some(t) = r.timings.prompt_tokens_per_s {
                ptps.push(t);
            }
            supported += usize::from(r.found && supported_by_citation(&r));
            if let Some(f) = log.as_mut() {
                let gold = q.answer.as_deref().unwrap_or("(not in the file)");
                let pred = if r.found { r.answer.as_str() } else { "" };
                let expect = loupe_answer::question::analyse(&q.question).expect;
                writeln!(
                    f,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.0}\t{:.0}",
                    answerer.name(),
                    q.file,
                    if q.answer.is_some() {
                        expect.group()
                    } else {
                        "not in the file"
                    },
                    q.question,
                    gold,
                    r.answer.replace(['\t', '\n'], " "),
                    r.found,
                    q.answer.as_deref().is_some_and(|g| eval::exact_match(pred, g)),
                    q.answer.as_deref().is_some_and(|g| {
                        r.found && loupe_answer::fields::same_value(&eval::strip_markers(pred), g)
                    }),
                    r.timings.first_token_ms,
                    r.timings.total_ms
                )?;
            }
            let Some(gold) = &q.answer else {
                unanswerable += 1;
                refused += usize::from(!r.found);
                continue;
            };
            let pred = if r.found { r.answer.clone() } else { String::new() };
            let expect = loupe_answer::question::analyse(&q.question).expect;
            all.add(&pred, gold, r.found);
            if expect.is_field() {
                fields.add(&pred, gold, r.found);
            }
            let g = expect.group();
            match groups.iter_mut().find(|(k, _)| *k == g) {
                Some((_, t)) => t.add(&pred, gold, r.found),
                None => {
                    let mut t = Tally::default();
                    t.add(&pred, gold, r.found);
                    groups.push((g, t));
                }
            }
        }
        let model = answerer.name();
        let n = all.n;
        let row = |metric: &str, v: f64, unit: Unit, k: usize| Measure::new("qa", metric, v, unit, &model, k);
        out.push(row("exact match", all.share(all.exact), Unit::Percent, n));
        out.push(
            row("value match", all.share(all.value), Unit::Percent, n)
                .note("dates, amounts and currencies compared as values"),
        );
        out.push(row("contains gold", all.share(all.contains), Unit::Percent, n));
        out.push(row("ANLS", all.anls / n.max(1) as f64, Unit::Score, n));
        out.push(row("answered", all.share(all.found), Unit::Percent, n));
        groups.sort_by_key(|(g, _)| *g);
        for (g, t) in &groups {
            out.push(
                Measure::new(
                    &format!("qa: {g}"),
                    "exact match",
                    t.share(t.exact),
                    Unit::Percent,
                    &model,
                    t.n,
                )
                .note(format!(
                    "value match {:.1} %, ANLS {:.3}, answered {:.0} %",
                    100.0 * t.share(t.value),
                    t.anls / t.n.max(1) as f64,
                    100.0 * t.share(t.found)
                )),
            );
        }
        out.push(
            Measure::new(
                "qa: field questions",
                "exact match",
                fields.share(fields.exact),
                Unit::Percent,
                &model,
                fields.n,
            )
            .note(format!("value match {:.1} %", 100.0 * fields.share(fields.value))),
        );
        if unanswerable > 0 {
            out.push(Measure::new(
                "qa: not in the file",
                "said not found",
                refused as f64 / unanswerable as f64,
                Unit::Percent,
                &model,
                unanswerable,
            ));
        }
        let given = all.found + unanswerable - refused;
        out.push(
            row(
                "answers supported by a cited span",
                supported as f64 / given.max(1) as f64,
                Unit::Percent,
                given,
            )
            .note("the answer (or its value as written) is in a cited source's quote"),
        );
        let k = qa.len();
        out.push(row("first token p50", median(ttft), Unit::Ms, k));
        out.push(row("answer p50", median(total), Unit::Ms, k));
        if !ptps.is_empty() {
            let k = ptps.len();
            out.push(
                row("prompt tokens/s", median(ptps), Unit::PerSecond, k)
                    .note("median; tokens reused from the worker's cache not counted"),
            );
        }
        if !tps.is_empty() {
            let k = tps.len();
            out.push(row(
                "tokens/s",
                tps.iter().sum::<f64>() / k as f64,
                Unit::PerSecond,
                k,
            ));
        }
    }
    Ok(out)
}
