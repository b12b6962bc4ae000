//! `loupe`: the command. Parses arguments, finds the index and model folders, wires the indexer and
//! the query service together, and prints tables or JSON. Nothing clever lives here.

mod bench;
mod config;
mod models_cmd;
mod output;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use config::Config;
use loupe_schemas::{AssetId, AssetKind, Filters, Fusion, GroupBy, ImageQuery, SearchRequest};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Parser, Debug)]
#[command(
    name = "loupe",
    version,
    about = "Multimodal search over your photos, videos, recordings and documents"
)]
struct Cli {
    /// Index folder.
    #[arg(long, global = true, env = "LOUPE_INDEX")]
    index: Option<PathBuf>,
    /// Model folder (holds models and the ONNX Runtime library).
    #[arg(long, global = true, env = "LOUPE_MODELS")]
    models: Option<PathBuf>,
    /// Print one JSON document on stdout instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Index a folder (or one file): new and changed files are embedded, gone ones removed.
    Index {
        path: PathBuf,
        /// CLIP model to embed with (default: the index's model, else clip-vit-b-32, else the test model).
        #[arg(long, env = "LOUPE_MODEL")]
        model: Option<String>,
        /// Images per model run.
        #[arg(long, default_value_t = 16)]
        batch: usize,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Search by text, by example image, or both.
    Search(SearchArgs),
    /// What the index holds.
    Status,
    /// Installed models; pull the real ones.
    Models {
        #[command(subcommand)]
        command: models_cmd::ModelsCommand,
    },
    /// Measure indexing throughput and query latency; prints a table.
    Bench(bench::BenchArgs),
}

#[derive(clap::Args, Debug)]
struct SearchArgs {
    /// What to look for, in words.
    text: Option<String>,
    /// An example image file.
    #[arg(long)]
    image: Option<PathBuf>,
    /// An indexed asset id to find similar ones.
    #[arg(long, value_name = "ASSET_ID")]
    similar: Option<AssetId>,
    #[arg(long, default_value_t = 10)]
    limit: usize,
    #[arg(long, default_value_t = 0)]
    offset: usize,
    /// Minimum visual cosine similarity (e.g. 0.25 for real CLIP).
    #[arg(long)]
    threshold: Option<f32>,
    /// Only this kind (repeatable): image, video, audio, document.
    #[arg(long = "kind")]
    kinds: Vec<AssetKind>,
    /// Only files under this folder.
    #[arg(long)]
    path_prefix: Option<PathBuf>,
    /// Only assets dated on or after (YYYY-MM-DD or RFC 3339; capture date, else file time).
    #[arg(long)]
    from: Option<String>,
    /// Only assets dated on or before (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    to: Option<String>,
    /// rrf or weighted.
    #[arg(long, default_value = "rrf")]
    fusion: String,
    /// RRF's k.
    #[arg(long, default_value_t = 60)]
    rrf_k: u32,
    /// Weights for --fusion weighted.
    #[arg(long, default_value_t = 1.0)]
    w_visual: f32,
    #[arg(long, default_value_t = 0.5)]
    w_lexical: f32,
    /// moment (merge adjacent hits of a video or recording), asset (best hit per file) or segment.
    #[arg(long, default_value = "moment")]
    group_by: GroupBy,
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOUPE_LOG")
                .unwrap_or_else(|_| "warn,qdrant_edge=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let json = cli.json;
    if let Err(e) = run(cli) {
        let code = error_code(&e);
        if json {
            let body = loupe_schemas::ErrorBody {
                code: code.to_string(),
                message: format!("{e:#}"),
            };
            println!("{}", serde_json::to_string(&body).unwrap_or_default());
        }
        eprintln!("error: {e:#}");
        std::process::exit(if code == "bad_request" || code == "usage" {
            2
        } else {
            1
        });
    }
}

fn error_code(e: &anyhow::Error) -> &'static str {
    for cause in e.chain() {
        if let Some(q) = cause.downcast_ref::<loupe_query::Error>() {
            return q.code();
        }
        if let Some(s) = cause.downcast_ref::<loupe_store::Error>() {
            return s.code();
        }
        if cause.downcast_ref::<loupe_models::Error>().is_some() {
            return "model_error";
        }
    }
    "error"
}

fn run(cli: Cli) -> Result<()> {
    let config = Config::resolve(cli.index, cli.models)?;
    match cli.command {
        Command::Index {
            path,
            model,
            batch,
            quiet,
        } => cmd_index(&config, &path, model, batch, quiet, cli.json),
        Command::Search(args) => cmd_search(&config, args, cli.json),
        Command::Status => cmd_status(&config, cli.json),
        Command::Models { command } => models_cmd::run(&config, command, cli.json),
        Command::Bench(args) => bench::run(&config, args, cli.json),
    }
}

fn cmd_index(
    config: &Config,
    path: &std::path::Path,
    model: Option<String>,
    batch: usize,
    quiet: bool,
    json: bool,
) -> Result<()> {
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    let runtime = config.runtime()?;
    let name = config.choose_model(model.as_deref())?;
    let model = config.load_clip(&runtime, &name)?;
    if model.manifest.test_only {
        eprintln!(
            "note: indexing with '{}', a generated test model that only sees colours; install the real CLIP with `loupe models pull clip-vit-b-32`",
            model.manifest.name
        );
    }
    let index = loupe_store::Index::open_or_create(&config.index, &model.id(), model.manifest.dim)
        .with_context(|| format!("opening index {}", config.index.display()))?;
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        // First Ctrl-C: finish the current batch and stop cleanly. Second: leave at once
        // (the catalog is committed last, so the next run still resumes without duplicates).
        ctrlc::set_handler(move || {
            if cancel.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\ninterrupted: finishing the current batch (Ctrl-C again to stop now)");
        })
        .context("installing the Ctrl-C handler")?;
    }
    let opts = loupe_indexer::Options {
        batch_size: batch.max(1),
        progress: !quiet && !json,
        ..Default::default()
    };
    let report = loupe_indexer::index_path(&index, &model, path, &opts, &cancel)?;
    output::index_report(&report, &model.id(), json)?;
    if report.interrupted {
        std::process::exit(130);
    }
    Ok(())
}

fn parse_date(s: &str, end_of_day: bool) -> Result<i64> {
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(dt.timestamp());
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("'{s}' is not a date (YYYY-MM-DD or RFC 3339)"))?;
    let t = if end_of_day {
        d.and_hms_opt(23, 59, 59)
    } else {
        d.and_hms_opt(0, 0, 0)
    }
    .context("bad date")?;
    Ok(t.and_utc().timestamp())
}

fn cmd_search(config: &Config, a: SearchArgs, json: bool) -> Result<()> {
    let fusion = match a.fusion.as_str() {
        "rrf" => Fusion::Rrf { k: a.rrf_k },
        "weighted" => Fusion::Weighted {
            visual: a.w_visual,
            lexical: a.w_lexical,
        },
        other => bail!(loupe_query::Error::BadRequest(format!(
            "--fusion must be rrf or weighted, not '{other}'"
        ))),
    };
    let image = match (a.image, a.similar) {
        (Some(_), Some(_)) => bail!(loupe_query::Error::BadRequest(
            "use --image or --similar, not both".into()
        )),
        (Some(p), None) => {
            let p = p
                .canonicalize()
                .with_context(|| format!("image {}", p.display()))?;
            Some(ImageQuery::Path {
                path: p.to_string_lossy().into_owned(),
            })
        }
        (None, Some(id)) => Some(ImageQuery::Asset { id }),
        (None, None) => None,
    };
    let path_prefix = a
        .path_prefix
        .map(|p| p.canonicalize().unwrap_or(p).to_string_lossy().into_owned());
    let req = SearchRequest {
        text: a.text,
        image,
        limit: a.limit,
        offset: a.offset,
        score_threshold: a.threshold,
        filters: Filters {
            kinds: a.kinds,
            path_prefix,
            date_from: a.from.as_deref().map(|s| parse_date(s, false)).transpose()?,
            date_to: a.to.as_deref().map(|s| parse_date(s, true)).transpose()?,
            asset_ids: Vec::new(),
        },
        fusion,
        group_by: a.group_by,
    };
    if req.text.is_none() && req.image.is_none() {
        bail!(loupe_query::Error::BadRequest(
            "give a text query, --image FILE or --similar ASSET_ID".into()
        ));
    }
    let index = loupe_store::Index::open(&config.index, loupe_store::Access::Read)?;
    let runtime = config.runtime()?;
    let model_name = index
        .meta()
        .visual_model
        .split('@')
        .next()
        .unwrap_or_default()
        .to_string();
    let model = config.load_clip(&runtime, &model_name)?;
    let resp = loupe_query::search(&index, &model, &req)?;
    output::search_response(&resp, json)
}

fn cmd_status(config: &Config, json: bool) -> Result<()> {
    let index = loupe_store::Index::open(&config.index, loupe_store::Access::Read)?;
    let (files, assets) = index.catalog().counts()?;
    let points = index.vectors().count()?;
    let status = serde_json::json!({
        "index": config.index,
        "visual_model": index.meta().visual_model,
        "files": files,
        "assets": assets,
        "points": points,
        "text_docs": index.text().num_docs(),
    });
    if json {
        println!("{status}");
    } else {
        println!("index         {}", config.index.display());
        println!("visual model  {}", index.meta().visual_model);
        println!("files         {files}");
        println!("assets        {assets}");
        println!("points        {points}");
        println!("text docs     {}", index.text().num_docs());
    }
    Ok(())
}
