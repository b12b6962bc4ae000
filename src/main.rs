//! `loupe`: the command. Parses arguments, finds the index and model folders, wires the indexer and
//! the query service together, and prints tables or JSON. Nothing clever lives here.

mod ask_cmd;
mod bench;
mod config;
mod eval;
mod migrate_cmd;
mod models_cmd;
mod output;
mod progress;
mod settings;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory as _, FromArgMatches as _, Subcommand};
use config::Config;
use loupe_schemas::{AssetId, AssetKind, ErrorCode, Filters, Fusion, GroupBy, ImageQuery, SearchRequest};
use settings::{Flags, ProcessEnv, Settings};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(clap::Parser, Debug)]
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
    /// Keep the index's vectors on this Qdrant server or cluster (gRPC, e.g. http://qdrant:6334;
    /// https:// uses TLS) instead of embedded. Also `[qdrant] url` in the config file.
    #[arg(long, global = true, env = "LOUPE_QDRANT_URL", hide_env_values = true)]
    qdrant_url: Option<String>,
    /// The Qdrant server's API key. Prefer LOUPE_QDRANT_API_KEY or the config file: a flag shows
    /// in `ps`. Never printed or logged.
    #[arg(long, global = true, env = "LOUPE_QDRANT_API_KEY", hide_env_values = true)]
    qdrant_api_key: Option<String>,
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
    /// Move the index's vectors between the embedded store and a Qdrant server: `--to URL` copies
    /// them to the server, `--from URL` brings them back. Batches, a progress bar, resumes after a
    /// kill, and checks counts and a sample of vectors before the index switches over.
    Migrate {
        /// The Qdrant server to move the vectors to (the rest of [qdrant] applies: key, collection,
        /// cluster settings).
        #[arg(long, conflicts_with = "from", required_unless_present = "from")]
        to: Option<String>,
        /// The Qdrant server the vectors are on now; they come back to the embedded store.
        #[arg(long)]
        from: Option<String>,
        /// Points per batch.
        #[arg(long, default_value_t = 512)]
        batch: usize,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
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
    /// The effective settings and where each came from.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Print every setting with its value and its origin (default, file, env or flag; the
    /// precedence is default < file < env < flag). API keys are masked.
    Show(ServeArgs),
}

// The flags of `serve`; `config show` takes them too, so it shows what `serve` would use.
#[derive(clap::Args, Debug)]
struct ServeArgs {
    #[command(flatten)]
    file: settings::FileArgs,
    #[command(flatten)]
    server: settings::ServerFlags,
    #[command(flatten)]
    answer: settings::AnswerFlags,
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
    /// How the signals' rankings are combined.
    #[arg(long, value_enum, default_value_t = FusionArg::Rrf)]
    fusion: FusionArg,
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

/// `--fusion`: how the signals' rankings are combined.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum FusionArg {
    /// Reciprocal rank fusion (`--rrf-k`).
    Rrf,
    /// A weighted sum of the signals' scores (`--w-visual`, `--w-lexical`, `--w-text-dense`).
    Weighted,
}

fn main() {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let log = settings::Log::resolve(&ProcessEnv, matches!(cli.command, Command::Serve(_)));
    let filter =
        tracing_subscriber::EnvFilter::try_new(&log.filter).unwrap_or_else(|_| log.default_filter.into());
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
    if log.json {
        logs.json().init();
    } else {
        logs.init();
    }
    let json = cli.json;
    if let Err(e) = run(cli, &matches) {
        let code = error_code(&e);
        if json {
            let body = loupe_schemas::ErrorBody {
                code,
                message: format!("{e:#}"),
            };
            println!("{}", serde_json::to_string(&body).unwrap_or_default());
        }
        eprintln!("error: {e:#}");
        drop(flush_logs);
        std::process::exit(code.exit_code());
    }
}

/// The code of the first cause that has one; `error` when none does.
fn error_code(e: &anyhow::Error) -> ErrorCode {
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
        match cause.downcast_ref::<loupe_indexer::Error>() {
            Some(loupe_indexer::Error::Store(s)) => return s.code(),
            Some(loupe_indexer::Error::Model(_)) => return ErrorCode::ModelError,
            _ => {}
        }
        if cause.downcast_ref::<loupe_models::Error>().is_some() {
            return ErrorCode::ModelError;
        }
    }
    ErrorCode::Error
}

fn run(cli: Cli, matches: &clap::ArgMatches) -> Result<()> {
    let settings = Settings::resolve(&Flags::from_cli(&cli, matches), &ProcessEnv)?;
    let config = Config::from_settings(&settings);
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
        Command::Ask(args) => ask_cmd::run(&config, &settings.server.answer, args, cli.json),
        Command::Status { check, repair } => cmd_status(&config, check || repair, repair, cli.json),
        Command::Migrate {
            to,
            from,
            batch,
            quiet,
        } => migrate_cmd::run(
            &config,
            migrate_cmd::MigrateArgs {
                to,
                from,
                batch,
                quiet,
            },
            cli.json,
        ),
        Command::Models { command } => models_cmd::run(&config, command, cli.json),
        Command::Bench(args) => bench::run(&config, args, cli.json),
        Command::Eval(args) => eval::run(&config, args, cli.json),
        Command::Serve(_) => cmd_serve(&config, settings.server),
        Command::Openapi => {
            print!("{}", loupe_schemas::openapi::document_text());
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Show(_),
        } => {
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&settings.to_json())?);
            } else {
                print!("{}", settings.to_text());
            }
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
    let set = config.load_models(
        &runtime,
        &config::ModelChoice {
            clip: a.model.clone(),
            text: a.text_model.clone(),
            speech: a.speech.speech_model.clone(),
            ocr: a.ocr_model.clone(),
        },
    )?;
    if set.clip.manifest.test_only {
        eprintln!(
            "note: indexing with '{}', a generated test model that only sees colours; install the real CLIP with `loupe models pull clip-vit-b-32`",
            set.clip.manifest.name
        );
    }
    if set.ocr.is_none() && a.ocr_model.is_none() {
        eprintln!(
            "note: no OCR model is installed; scanned pages and photos get no text (run scripts/setup)"
        );
    }
    if set.whisper.is_none() && a.speech.speech_model.is_none() {
        eprintln!(
            "note: no Whisper model is installed; videos and recordings get no transcript (run scripts/setup)"
        );
    }
    let spec = config::index_models(&set);
    let index = loupe_store::Index::open_or_create_with(&config.index, &spec, &config.store)
        .with_context(|| format!("opening index {}", config.index.display()))?;
    // The library reports progress; the command draws it (nothing with --quiet or --json).
    let bars = (!a.quiet && !json).then(|| Arc::new(progress::Bars::new()));
    let mut opts = loupe_indexer::Options {
        batch_size: a.batch.max(1),
        photo_ocr: a.photo_ocr,
        ..Default::default()
    };
    if let Some(b) = &bars {
        opts.progress = b.clone();
    }
    let decode = loupe_models::whisper::Decode {
        language: a.speech.language,
    };
    let models = loupe_indexer::Models::from_set(&set, &decode);
    let report = loupe_indexer::index_path(&index, &models, path, &opts, &cancel);
    if let Some(b) = &bars {
        b.clear();
    }
    let report = report?;
    output::index_report(&report, &set.clip.id(), &set.speech_id(), json)?;
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
    let fusion = match a.fusion {
        FusionArg::Rrf => Fusion::Rrf { k: a.rrf_k },
        FusionArg::Weighted => Fusion::Weighted {
            visual: a.w_visual,
            lexical: a.w_lexical,
            text_dense: a.w_text_dense,
        },
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
    let resp = config.searcher()?.search(&req)?;
    output::search_response(&resp, json)
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
    loupe_media::video::probe(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
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
    let kind = loupe_media::kind_of(file);
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
        let limits = loupe_media::DecodeLimits::default();
        if loupe_media::tiff::page_count(&bytes, &limits).is_ok_and(|n| n > 1) {
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
        let img = loupe_media::decode_image(&bytes, &limits)
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

/// `loupe serve`: the settings (file, environment and flags, see `settings.rs`), refused when unsafe.
fn cmd_serve(config: &Config, server_config: loupe_server::ServerConfig) -> Result<()> {
    server_config.validate()?;
    let runtime = config.runtime()?;
    let set = config.load_models(&runtime, &config::ModelChoice::default())?;
    let spec = config::index_models(&set);
    let index = loupe_store::Index::open_or_create_with(&config.index, &spec, &config.store)
        .with_context(|| format!("opening index {}", config.index.display()))?;
    let answerers = loupe_answer::config::build(&server_config.answer, &config.models)?;
    tracing::info!(
        "answerers: {} (default {})",
        answerers.names().join(", "),
        answerers.default_name()
    );
    let models = loupe_server::Models { set, answerers };
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
    let index = loupe_store::Index::open_with(&config.index, access, &config.store)?;
    let repaired = if repair { Some(index.repair()?) } else { None };
    let (files, assets) = index.catalog().counts()?;
    let points = index.vectors().count()?;
    let consistency = if check { Some(index.check()?) } else { None };
    let mut status = serde_json::json!({
        "index": config.index,
        "visual_model": index.meta().visual_model,
        "text_model": index.meta().text_model,
        "vectors": index.vectors().location().to_string(),
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
        println!("vectors       {}", index.vectors().location());
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
