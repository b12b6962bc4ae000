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
    /// extractive, local or openai (default: from the config file; else local when a local model
    /// is installed; else extractive).
    #[arg(long, env = "LOUPE_ANSWERER")]
    pub answerer: Option<String>,
    /// The local model (a model folder with role llm or vlm).
    #[arg(long, env = "LOUPE_LLM_MODEL")]
    pub llm_model: Option<String>,
    /// An OpenAI-compatible server (base URL up to /v1); makes the `openai` answerer available.
    #[arg(long, env = "LOUPE_OPENAI_URL")]
    pub openai_url: Option<String>,
    /// The model to ask on that server.
    #[arg(long, env = "LOUPE_OPENAI_MODEL")]
    pub openai_model: Option<String>,
    /// Do not send images to the OpenAI-compatible server (for text-only models).
    #[arg(long)]
    pub openai_text_only: bool,
    /// Prompt style for the OpenAI-compatible server: strict (default) or compact (small models).
    #[arg(long, value_parser = ["strict", "compact"])]
    pub openai_prompt: Option<String>,
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
    /// Config file with an [answer] section (default: ~/.config/loupe/server.toml if present).
    #[arg(long, env = "LOUPE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The `[answer]` section of the config file, with the flags on top.
fn answer_config(a: &AskArgs) -> Result<AnswerConfig> {
    let mut c = crate::read_config_file(a.config.as_ref())?.answer;
    if a.llm_model.is_some() {
        c.local_model = a.llm_model.clone();
    }
    if let Some(url) = &a.openai_url {
        let mut o = c.openai.clone().unwrap_or_default();
        o.base_url = url.clone();
        if let Some(m) = &a.openai_model {
            o.model = m.clone();
        }
        if a.openai_text_only {
            o.vision = false;
        }
        if a.openai_prompt.as_deref() == Some("compact") {
            o.prompt = loupe_answer::prompt::Style::Compact;
        }
        c.openai = Some(o);
    }
    Ok(c)
}

pub fn run(config: &Config, a: AskArgs, json: bool) -> Result<()> {
    let cfg = answer_config(&a)?;
    let answerers = loupe_answer::config::build(&cfg, &config.models)?;
    let answerer = answerers.get(a.answerer.as_deref())?;
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
    let (index, clip, text) = crate::open_for_query(config)?;
    let encoders = loupe_query::Encoders {
        clip: &clip,
        text: text.as_ref(),
    };
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
        &index,
        encoders,
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
