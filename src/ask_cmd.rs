//! `loupe ask`: a question about the library, answered with citations, streamed as it is written.

use crate::config::Config;
use anyhow::{Context, Result, bail};
use loupe_answer::Flow;
use loupe_answer::ask::{AskEvent, History};
use loupe_answer::config::AnswerConfig;
use loupe_schemas::answer::AskRequest;
use loupe_schemas::{AssetKind, Filters, ImageQuery};
use std::io::Write as _;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct AskArgs {
    /// The question.
    pub question: String,
    /// An example image to search by as well.
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// Which answerer, which models, which server (over the config file's [answer] section).
    #[command(flatten)]
    pub answer: crate::settings::AnswerFlags,
    /// How many search hits the answer may draw on.
    #[arg(long, default_value_t = 5)]
    pub evidence: usize,
    /// Just the value asked for (a number, a name), not a sentence.
    #[arg(long)]
    pub brief: bool,
    /// Longest answer, in tokens.
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Only this kind (repeatable): image, video, audio, document.
    #[arg(long = "kind")]
    pub kinds: Vec<AssetKind>,
    /// Only files under this folder.
    #[arg(long)]
    pub path_prefix: Option<PathBuf>,
    #[command(flatten)]
    pub file: crate::settings::FileArgs,
}

/// `cfg`: the `[answer]` section of the config file with the environment and the flags over it
/// (resolved in `settings.rs`, `--answerer` as its `default`).
pub fn run(config: &Config, cfg: &AnswerConfig, a: AskArgs, json: bool) -> Result<()> {
    let answerers = loupe_answer::config::build(cfg, &config.models)?;
    let answerer = answerers.get(None)?;
    let image = match &a.image {
        Some(p) => Some(ImageQuery::Path {
            path: p
                .canonicalize()
                .with_context(|| format!("image {}", p.display()))?
                .to_string_lossy()
                .into_owned(),
        }),
        None => None,
    };
    if a.question.trim().is_empty() && image.is_none() {
        bail!(loupe_query::Error::BadRequest("the question is empty".into()));
    }
    let searcher = config.searcher()?;
    let mut req = AskRequest::new(a.question.clone());
    req.image = image;
    req.max_evidence = a.evidence;
    req.max_tokens = a.max_tokens;
    req.brief = a.brief;
    req.filters = Filters {
        kinds: a.kinds.clone(),
        path_prefix: a.path_prefix.as_ref().map(|p| {
            p.canonicalize()
                .unwrap_or(p.clone())
                .to_string_lossy()
                .into_owned()
        }),
        ..Filters::default()
    };
    let mut out = std::io::stdout();
    let resp = loupe_answer::ask::ask(
        &searcher,
        answerer.as_ref(),
        &req,
        &History::default(),
        &mut |ev| {
            if !json && let AskEvent::Token(t) = ev {
                let _ = out.write_all(t.as_bytes());
                let _ = out.flush();
            }
            Flow::Continue
        },
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&resp)?);
        return Ok(());
    }
    println!();
    if resp.unsupported_draft.is_some() {
        println!(
            "\n{} (the text above is not supported by the sources)",
            loupe_schemas::answer::NOT_FOUND
        );
    } else if !resp.found {
        println!("({})", loupe_schemas::answer::NOT_FOUND);
    }
    let shown: Vec<_> = resp.citations.iter().filter(|c| c.cited || !resp.found).collect();
    if !shown.is_empty() {
        println!(
            "\n{}",
            if resp.found {
                "Sources:"
            } else {
                "Closest matches:"
            }
        );
        for c in shown {
            let quote = c
                .quote
                .as_deref()
                .map(|q| format!("\n      \"{}\"", one_line(q, 160)))
                .unwrap_or_default();
            println!("  [{}] {}{quote}", c.n, c.deep_link);
        }
    }
    for w in &resp.withheld {
        eprintln!(
            "note: withheld from the model (reads like an instruction): {}",
            one_line(w, 120)
        );
    }
    eprintln!(
        "({}; search {:.0} ms, first token {:.0} ms, total {:.0} ms{})",
        resp.answerer,
        resp.timings.retrieval_ms,
        resp.timings.first_token_ms,
        resp.timings.total_ms,
        resp.timings
            .tokens_per_s
            .map(|t| format!(", {t:.1} tokens/s"))
            .unwrap_or_default()
    );
    Ok(())
}

fn one_line(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}
