//! `loupe`: the command. Parses arguments, finds the index and model folders, wires the indexer and
//! the query service together, and prints tables or JSON. Nothing clever lives here.

mod ask_cmd;
mod bench;
mod config;
mod eval;
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
        #[command(flatten)]
        speech: SpeechArgs,
        /// Sentence embedder for transcript text (default: the index's, else minilm-l6-v2 if
        /// installed; `none` for BM25 only).
        #[arg(long, env = "LOUPE_TEXT_MODEL")]
        text_model: Option<String>,
        /// OCR models for scanned pages and text in photos (default: ppocr-v6-small if installed;
        /// `none` for no OCR: PDF text layers are still read).
        #[arg(long, env = "LOUPE_OCR_MODEL")]
        ocr_model: Option<String>,
        /// Do not look for text in photos (saves a quick text detection per photo).
        #[arg(long)]
        no_photo_ocr: bool,
    },
    /// Read the text of a PDF or an image (what `loupe index` stores for it) and print it, with
    /// word boxes under --json.
    Ocr {
        file: PathBuf,
        /// OCR models (default: ppocr-v6-small).
        #[arg(long, env = "LOUPE_OCR_MODEL")]
        ocr_model: Option<String>,
    },
    /// Transcribe one video or recording (what `loupe index` stores for it) and print it.
    Transcribe {
        file: PathBuf,
        #[command(flatten)]
        speech: SpeechArgs,
        /// Print word times too.
        #[arg(long)]
        words: bool,
    },
    /// Search by text, by example image, or both.
    Search(SearchArgs),
    /// Ask a question; the answer comes from what the search finds, with numbered citations.
    Ask(ask_cmd::AskArgs),
    /// What the index holds.
    Status {
        /// Also check that the catalog, the vectors and the text index agree (no orphan points or
        /// documents, one text document per segment); exits 1 when they do not.
        #[arg(long)]
        check: bool,
        /// Remove orphan points and documents (left by a crash, then a deleted file); implies --check.
        #[arg(long)]
        repair: bool,
    },
    /// Installed models; pull the real ones.
    Models {
        #[command(subcommand)]
        command: models_cmd::ModelsCommand,
    },
    /// Measure indexing throughput and query latency; prints a table.
    Bench(bench::BenchArgs),
    /// Quality and speed on media with ground truth (the dev set's format): retrieval recall and
    /// nDCG, transcript WER, OCR CER, answer accuracy, each beside its reference figure.
    Eval(eval::EvalArgs),
    /// Serve the HTTP API and the web page (models stay loaded; the index stays open).
    Serve(ServeArgs),
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Port to listen on (0: any free port; the address is printed). Default 7878.
    #[arg(long, env = "LOUPE_PORT")]
    port: Option<u16>,
    /// Address to listen on. Default 127.0.0.1; anything else needs an API key (LOUPE_API_KEY).
    #[arg(long, env = "LOUPE_BIND")]
    bind: Option<std::net::IpAddr>,
    /// Server config file (TOML; keys as in the README). Default: ~/.config/loupe/server.toml if present.
    #[arg(long, env = "LOUPE_CONFIG")]
    config: Option<PathBuf>,
    /// A folder `POST /v1/index` may add (repeatable), besides the index's own roots.
    #[arg(long = "root")]
    roots: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct SpeechArgs {
    /// Whisper model for speech (default: whisper-base if installed, else whisper-tiny-en;
    /// `none` for no transcripts).
    #[arg(long, env = "LOUPE_SPEECH_MODEL")]
    speech_model: Option<String>,
    /// Spoken language (ISO 639-1, e.g. `de`) instead of detecting it (multilingual models only).
    #[arg(long)]
    language: Option<String>,
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
    /// Only videos and recordings at least this long (seconds).
    #[arg(long, value_name = "SECONDS")]
    min_duration: Option<f64>,
    /// Only videos and recordings at most this long (seconds).
    #[arg(long, value_name = "SECONDS")]
    max_duration: Option<f64>,
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
    #[arg(long, default_value_t = 0.5)]
    w_text_dense: f32,
    /// moment (merge adjacent hits of a video or recording), asset (best hit per file) or segment.
    #[arg(long, default_value = "moment")]
    group_by: GroupBy,
}

fn main() {
    let cli = Cli::parse();
    // The server logs each request at info; the other commands only warnings.
    let default_filter = if matches!(cli.command, Command::Serve(_)) {
        "info,qdrant_edge=error"
    } else {
        "warn,qdrant_edge=error"
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("LOUPE_LOG").unwrap_or_else(|_| default_filter.into());
    // The server's logs go through a bounded buffer written by its own thread: a slow or stuck
    // stderr drops log lines instead of stalling requests. The guard flushes the rest on exit.
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    let (writer, flush_logs) = if matches!(cli.command, Command::Serve(_)) {
        let (w, guard) = tracing_appender::non_blocking(std::io::stderr());
        (BoxMakeWriter::new(w), Some(guard))
    } else {
        (BoxMakeWriter::new(std::io::stderr), None)
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    // Structured logs for collectors: one JSON object per line.
    if std::env::var("LOUPE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
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
        drop(flush_logs);
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
        if let Some(a) = cause.downcast_ref::<loupe_answer::Error>() {
            return a.code();
        }
        if let Some(s) = cause.downcast_ref::<loupe_store::Error>() {
            return s.code();
        }
        if let Some(loupe_indexer::Error::Store(s)) = cause.downcast_ref::<loupe_indexer::Error>() {
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
            speech,
            text_model,
            ocr_model,
            no_photo_ocr,
        } => cmd_index(
            &config,
            &path,
            IndexArgs {
                model,
                batch,
                quiet,
                speech,
                text_model,
                ocr_model,
                photo_ocr: !no_photo_ocr,
            },
            cli.json,
        ),
        Command::Transcribe { file, speech, words } => {
            cmd_transcribe(&config, &file, speech, words, cli.json)
        }
        Command::Ocr { file, ocr_model } => cmd_ocr(&config, &file, ocr_model.as_deref(), cli.json),
        Command::Search(args) => cmd_search(&config, args, cli.json),
        Command::Ask(args) => ask_cmd::run(&config, args, cli.json),
        Command::Status { check, repair } => cmd_status(&config, check || repair, repair, cli.json),
        Command::Models { command } => models_cmd::run(&config, command, cli.json),
        Command::Bench(args) => bench::run(&config, args, cli.json),
        Command::Eval(args) => eval::run(&config, args, cli.json),
        Command::Serve(args) => cmd_serve(&config, args),
        Command::Openapi => {
            print!("{}", loupe_schemas::openapi::document_text());
            Ok(())
        }
    }
}

struct IndexArgs {
    model: Option<String>,
    batch: usize,
    quiet: bool,
    speech: SpeechArgs,
    text_model: Option<String>,
    ocr_model: Option<String>,
    photo_ocr: bool,
}

fn cmd_index(config: &Config, path: &std::path::Path, a: IndexArgs, json: bool) -> Result<()> {
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    // Installed before the models load (which takes seconds), so a Ctrl-C at any point is a clean
    // stop, never the default kill.
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
    let runtime = config.runtime()?;
    let name = config.choose_model(a.model.as_deref())?;
    let model = config.load_clip(&runtime, &name)?;
    if model.manifest.test_only {
        eprintln!(
            "note: indexing with '{}', a generated test model that only sees colours; install the real CLIP with `loupe models pull clip-vit-b-32`",
            model.manifest.name
        );
    }
    let text = config.load_text(&runtime, a.text_model.as_deref())?;
    let whisper = config.load_speech(a.speech.speech_model.as_deref())?;
    let ocr = config.load_ocr(&runtime, a.ocr_model.as_deref())?;
    if ocr.is_none() && a.ocr_model.is_none() {
        eprintln!(
            "note: no OCR model is installed; scanned pages and photos get no text (run scripts/setup)"
        );
    }
    if whisper.is_none() && a.speech.speech_model.is_none() {
        eprintln!(
            "note: no Whisper model is installed; videos and recordings get no transcript (run scripts/setup)"
        );
    }
    let models = config::index_models(&model, text.as_ref());
    let index = loupe_store::Index::open_or_create(&config.index, &models)
        .with_context(|| format!("opening index {}", config.index.display()))?;
    let opts = loupe_indexer::Options {
        batch_size: a.batch.max(1),
        progress: !a.quiet && !json,
        photo_ocr: a.photo_ocr,
        ..Default::default()
    };
    let decode = loupe_models::whisper::Decode {
        language: a.speech.language,
    };
    let models = loupe_indexer::Models {
        clip: &model,
        text: text.as_ref(),
        whisper: whisper.as_ref(),
        ocr: ocr.as_ref(),
        decode: &decode,
    };
    let report = loupe_indexer::index_path(&index, &models, path, &opts, &cancel)?;
    let speech = whisper.as_ref().map_or_else(|| "none".to_string(), |w| w.id());
    output::index_report(&report, &model.id(), &speech, json)?;
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
            text_dense: a.w_text_dense,
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
            duration_min_s: a.min_duration,
            duration_max_s: a.max_duration,
            asset_ids: Vec::new(),
        },
        fusion,
        group_by: a.group_by,
        cursor: None,
        explain: true,
    };
    if req.text.is_none() && req.image.is_none() {
        bail!(loupe_query::Error::BadRequest(
            "give a text query, --image FILE or --similar ASSET_ID".into()
        ));
    }
    let (index, model, text) = open_for_query(config)?;
    let encoders = loupe_query::Encoders {
        clip: &model,
        text: text.as_ref(),
    };
    let resp = loupe_query::search(&index, encoders, &req)?;
    output::search_response(&resp, json)
}

/// The index, read-only, with the models that encode queries for it.
pub(crate) fn open_for_query(
    config: &Config,
) -> Result<(
    loupe_store::Index,
    loupe_models::ClipModel,
    Option<loupe_models::TextEmbedder>,
)> {
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
    let text = match &index.meta().text_model {
        Some(t) => config.load_text(&runtime, t.split('@').next())?,
        None => None,
    };
    Ok((index, model, text))
}

fn cmd_transcribe(
    config: &Config,
    file: &std::path::Path,
    a: SpeechArgs,
    words: bool,
    json: bool,
) -> Result<()> {
    if !file.is_file() {
        bail!("{} is not a file", file.display());
    }
    let Some(whisper) = config.load_speech(a.speech_model.as_deref())? else {
        bail!("no Whisper model is installed (run scripts/setup, or name one with --speech-model)");
    };
    loupe_indexer::video::probe(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let decode = loupe_models::whisper::Decode { language: a.language };
    let started = std::time::Instant::now();
    let t = loupe_indexer::audio::transcribe_file(file, &whisper, &decode, &AtomicBool::new(false), &|_| {})
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if let Some(w) = &t.warning {
        eprintln!("warning: {w}");
    }
    output::transcript(&t.transcript, started.elapsed().as_secs_f64(), words, json)
}

fn cmd_ocr(config: &Config, file: &std::path::Path, ocr_model: Option<&str>, json: bool) -> Result<()> {
    if !file.is_file() {
        bail!("{} is not a file", file.display());
    }
    let runtime = config.runtime()?;
    let ocr = config.load_ocr(&runtime, ocr_model)?;
    let started = std::time::Instant::now();
    let mut pages = Vec::new();
    let kind = loupe_indexer::kind_of(file);
    if kind == Some(loupe_schemas::AssetKind::Document) {
        let read =
            loupe_indexer::document::read_pdf(file, ocr.as_ref(), &AtomicBool::new(false), &mut |_, p| {
                pages.push(p.text);
                Ok(())
            })
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        for (p, e) in read.failed_pages {
            eprintln!("warning: page {p}: {e}");
        }
    } else if kind == Some(loupe_schemas::AssetKind::Image) {
        let Some(ocr) = &ocr else {
            bail!("no OCR model is installed (run scripts/setup, or name one with --ocr-model)");
        };
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let limits = loupe_indexer::DecodeLimits::default();
        if loupe_indexer::document::tiff_pages(&bytes, &limits).is_ok_and(|n| n > 1) {
            let read = loupe_indexer::document::read_tiff(
                &bytes,
                &limits,
                Some(ocr),
                &AtomicBool::new(false),
                &mut |_, p| {
                    pages.push(p.text);
                    Ok(())
                },
            )
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            for (p, e) in read.failed_pages {
                eprintln!("warning: page {p}: {e}");
            }
            let model = ocr.id();
            return output::pages(&pages, &model, started.elapsed().as_secs_f64(), json);
        }
        let img = loupe_indexer::decode_image(&bytes, &loupe_indexer::DecodeLimits::default())
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        pages.push(
            loupe_indexer::document::read_image(ocr, &img.image.to_rgb8())
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?,
        );
    } else {
        bail!(loupe_query::Error::BadRequest(format!(
            "{} is not a PDF or an image",
            file.display()
        )));
    }
    let model = ocr.as_ref().map_or_else(|| "none".to_string(), |o| o.id());
    output::pages(&pages, &model, started.elapsed().as_secs_f64(), json)
}

/// The server's settings: the config file, then the environment and flags over it.
/// The config file: the one named, else ~/.config/loupe/server.toml when it exists.
pub(crate) fn config_file(named: Option<&PathBuf>) -> Option<PathBuf> {
    let default_file = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("loupe/server.toml"));
    match named {
        Some(f) => Some(f.clone()),
        None => default_file.filter(|f| f.is_file()),
    }
}

/// The settings in the config file (see [`config_file`]), or the defaults when there is none.
pub(crate) fn read_config_file(named: Option<&PathBuf>) -> Result<loupe_server::ServerConfig> {
    match config_file(named) {
        Some(f) => {
            let text = std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
            toml::from_str(&text).with_context(|| format!("{}", f.display()))
        }
        None => Ok(loupe_server::ServerConfig::default()),
    }
}

fn server_config(a: &ServeArgs) -> Result<loupe_server::ServerConfig> {
    let mut c = read_config_file(a.config.as_ref())?;
    if let Some(p) = a.port {
        c.port = p;
    }
    if let Some(b) = a.bind {
        c.bind = b;
    }
    // The key comes from the environment (or the file), never from a flag that `ps` would show.
    if let Ok(k) = std::env::var("LOUPE_API_KEY")
        && !k.is_empty()
    {
        c.api_key = Some(k);
    }
    for r in &a.roots {
        c.roots.push(
            r.canonicalize()
                .with_context(|| format!("--root {}", r.display()))?,
        );
    }
    c.validate()?;
    Ok(c)
}

fn cmd_serve(config: &Config, a: ServeArgs) -> Result<()> {
    let server_config = server_config(&a)?;
    let runtime = config.runtime()?;
    let name = config.choose_model(None)?;
    let clip = config.load_clip(&runtime, &name)?;
    let text = config.load_text(&runtime, None)?;
    let whisper = config.load_speech(None)?;
    let ocr = config.load_ocr(&runtime, None)?;
    let spec = config::index_models(&clip, text.as_ref());
    let index = loupe_store::Index::open_or_create(&config.index, &spec)
        .with_context(|| format!("opening index {}", config.index.display()))?;
    let answerers = loupe_answer::config::build(&server_config.answer, &config.models)?;
    tracing::info!(
        "answerers: {} (default {})",
        answerers.names().join(", "),
        answerers.default_name()
    );
    let models = loupe_server::Models {
        clip,
        text,
        whisper,
        ocr,
        answerers,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let server = loupe_server::Server::bind(server_config, index, models).await?;
        let addr = server.local_addr()?;
        // Tests and scripts read this line to find the port.
        println!("loupe: listening on http://{addr}");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        server.run(loupe_server::shutdown_signal()).await?;
        Ok::<_, anyhow::Error>(())
    })
}

fn cmd_status(config: &Config, check: bool, repair: bool, json: bool) -> Result<()> {
    let access = if repair {
        loupe_store::Access::Write
    } else {
        loupe_store::Access::Read
    };
    let index = loupe_store::Index::open(&config.index, access)?;
    let repaired = if repair { Some(index.repair()?) } else { None };
    let (files, assets) = index.catalog().counts()?;
    let points = index.vectors().count()?;
    let consistency = if check { Some(index.check()?) } else { None };
    let mut status = serde_json::json!({
        "index": config.index,
        "visual_model": index.meta().visual_model,
        "text_model": index.meta().text_model,
        "files": files,
        "assets": assets,
        "points": points,
        "text_docs": index.text().num_docs(),
    });
    if let Some(c) = &consistency {
        status["consistent"] = c.is_clean().into();
        status["check"] = serde_json::to_value(c)?;
    }
    if let Some(n) = repaired {
        status["repaired_assets"] = n.into();
    }
    if json {
        println!("{status}");
    } else {
        println!("index         {}", config.index.display());
        println!("visual model  {}", index.meta().visual_model);
        println!(
            "text model    {}",
            index
                .meta()
                .text_model
                .as_deref()
                .unwrap_or("none (transcripts by BM25 only)")
        );
        println!("files         {files}");
        println!("assets        {assets}");
        println!("points        {points}");
        println!("text docs     {}", index.text().num_docs());
        if let Some(n) = repaired {
            println!("repaired      {n} orphan asset(s) removed");
        }
        if let Some(c) = &consistency {
            if c.is_clean() {
                println!("check         consistent ({} segments)", c.segments);
            } else {
                println!(
                    "check         INCONSISTENT: {} orphan points, {} orphan text docs, {} duplicate \
                     text docs, {} segments without text, {} paths without asset \
                     (`loupe status --repair` removes orphans)",
                    c.orphan_points.len(),
                    c.orphan_text_docs.len(),
                    c.duplicate_text_docs.len(),
                    c.segments_without_text.len(),
                    c.paths_without_asset.len()
                );
            }
        }
    }
    if consistency.as_ref().is_some_and(|c| !c.is_clean()) {
        std::process::exit(1);
    }
    Ok(())
}
