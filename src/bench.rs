//! `loupe bench`: indexing throughput on generated photos, and store/query latency on synthetic
//! vectors at 10k and 100k points. Prints a table with the command and the machine.

use crate::config::Config;
use anyhow::{Context, Result};
use loupe_schemas::{Asset, AssetId, AssetKind, Filters, Locator, SearchRequest, Segment};
use loupe_store::{Access, AssetRecord, FileEntry, Index, Op, SegmentWrite, Space, VectorQuery};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Store sizes to measure (points), comma separated.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    points: Vec<usize>,
    /// Generated photos to index for the throughput figure.
    #[arg(long, default_value_t = 64)]
    images: usize,
    /// Queries per latency figure.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Skip the indexing part.
    #[arg(long)]
    no_index: bool,
    /// A folder of recordings with a `manifest.tsv` (columns `file`, `transcript`, optionally
    /// `language`), e.g. the dev set's `speech/`: real-time factor and word error rate per Whisper
    /// model installed.
    #[arg(long)]
    speech: Option<std::path::PathBuf>,
    /// A folder of videos, each optionally with `NAME.scenes.json` (shots with `start`/`end`),
    /// e.g. the dev set's `video/`: keyframe extraction speed and cut accuracy.
    #[arg(long)]
    videos: Option<std::path::PathBuf>,
    /// A folder of scans, images and PDFs, each optionally with `STEM.gt.txt` (its text), e.g. the
    /// dev set's `docs/`: OCR character error rate and pages/s, PDF text-layer pages/s.
    #[arg(long)]
    docs: Option<std::path::PathBuf>,
    /// Also measure `POST /v1/search` through a real server on loopback at each store size.
    #[arg(long)]
    http: bool,
    /// A folder of documents with a `qa.tsv` (`file`, `question`, `answer`), e.g. the dev set's
    /// `docs/`: answer accuracy (exact match, contains, ANLS) and speed per installed answerer.
    #[arg(long)]
    answers: Option<std::path::PathBuf>,
    /// Only these answerers (comma separated) for --answers.
    #[arg(long, value_delimiter = ',')]
    answerers: Vec<String>,
}

/// xorshift64*: a reproducible stream of pseudo-random numbers, enough for synthetic data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn vector(&mut self, dim: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim).map(|_| self.unit()).collect();
        loupe_models::clip::l2_normalize(&mut v);
        v
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn time_many(n: usize, mut f: impl FnMut(usize) -> Result<()>) -> Result<(f64, f64, f64)> {
    let mut ms = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        f(i)?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    Ok((percentile(&ms, 0.5), percentile(&ms, 0.95), percentile(&ms, 0.99)))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or_else(String::new, |kb| format!(", {:.0} GiB RAM", kb / 1024.0 / 1024.0));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cpu}, {cores} cores{mem}")
}

struct Row {
    what: String,
    value: String,
}

fn visual_only(model: &loupe_models::ClipModel) -> loupe_store::IndexModels {
    crate::config::index_models(model, None)
}

pub fn run(config: &Config, args: BenchArgs, json: bool) -> Result<()> {
    let mut rows: Vec<Row> = Vec::new();
    let runtime = config.runtime()?;
    let model_name = config.choose_model(None)?;
    let model = config.load_clip(&runtime, &model_name)?;
    let dim = model.manifest.dim;
    let tmp = tempfile::tempdir().context("creating a scratch folder")?;
    let decode = loupe_models::whisper::Decode::default();
    let photo_models = loupe_indexer::Models {
        clip: &model,
        text: None,
        whisper: None,
        ocr: None,
        decode: &decode,
    };
    let ocr = config.load_ocr(&runtime, None)?;

    if !args.no_index && args.images > 0 {
        let lib = tmp.path().join("photos");
        std::fs::create_dir_all(&lib)?;
        let mut rng = Rng(0x1234_5678);
        for i in 0..args.images {
            let (r, g, b) = (
                (rng.next() % 256) as u8,
                (rng.next() % 256) as u8,
                (rng.next() % 256) as u8,
            );
            let img = image::RgbImage::from_fn(1600, 1200, |x, y| {
                image::Rgb([
                    r.wrapping_add((x / 7) as u8),
                    g.wrapping_add((y / 5) as u8),
                    b ^ ((x + y) as u8),
                ])
            });
            img.save(lib.join(format!("photo_{i:05}.jpg")))?;
        }
        let index_dir = tmp.path().join("index-photos");
        let index = Index::open_or_create(&index_dir, &visual_only(&model))?;
        let opts = loupe_indexer::Options {
            progress: false,
            ..Default::default()
        };
        let report = loupe_indexer::index_path(&index, &photo_models, &lib, &opts, &AtomicBool::new(false))?;
        rows.push(Row {
            what: format!(
                "index {} generated 1600x1200 JPEGs ({})",
                report.indexed,
                model.id()
            ),
            value: format!("{:.1} images/s ({:.2} s)", report.files_per_s, report.elapsed_s),
        });
        // The same photos with the text check on (photos without text pay only the quick check).
        if let Some(o) = &ocr {
            let with_ocr = loupe_indexer::Models {
                ocr: Some(o),
                ..photo_models
            };
            let index = Index::open_or_create(&tmp.path().join("index-photos-ocr"), &visual_only(&model))?;
            let report = loupe_indexer::index_path(&index, &with_ocr, &lib, &opts, &AtomicBool::new(false))?;
            rows.push(Row {
                what: format!("same, with the text-in-photo check ({})", o.id()),
                value: format!("{:.1} images/s ({:.2} s)", report.files_per_s, report.elapsed_s),
            });
        }
        let rerun = loupe_indexer::index_path(&index, &photo_models, &lib, &opts, &AtomicBool::new(false))?;
        rows.push(Row {
            what: format!("re-index unchanged ({} files)", rerun.unchanged),
            value: format!("{:.3} s", rerun.elapsed_s),
        });
        // Model-only cost, to separate decoding from inference.
        let pre = model.vision.preprocessor().output_size();
        let batch: Vec<_> = (0..16)
            .map(|_| ndarray::Array3::<f32>::zeros((3, pre.1 as usize, pre.0 as usize)))
            .collect();
        let (p50, _, _) = time_many(5, |_| {
            model.vision.embed_preprocessed(&batch)?;
            Ok(())
        })?;
        rows.push(Row {
            what: "image tower, batch of 16".into(),
            value: format!("{:.1} images/s", 16.0 / (p50 / 1000.0)),
        });
        let (t50, t95, _) = time_many(50, |i| {
            model.text.embed(&[&format!("a photo of a red car number {i}")])?;
            Ok(())
        })?;
        rows.push(Row {
            what: "text tower, one query".into(),
            value: format!("p50 {t50:.2} ms  p95 {t95:.2} ms"),
        });
    }

    if let Some(dir) = &args.speech {
        speech_rows(config, dir, &mut rows)?;
    }
    if let Some(dir) = &args.videos {
        video_rows(dir, &mut rows)?;
    }
    if let Some(dir) = &args.answers {
        for r in crate::bench_answers::rows(config, &runtime, &model, dir, tmp.path(), &args.answerers)? {
            rows.push(Row {
                what: r.what,
                value: r.value,
            });
        }
    }
    if let Some(dir) = &args.docs {
        doc_rows(config, &runtime, dir, &mut rows)?;
    }

    for &n in args.points.iter().filter(|&&n| n > 0) {
        let dir = tmp.path().join(format!("index-{n}"));
        // Recorded as built by the loaded model, so the real search path accepts it.
        let index = Index::open_or_create(&dir, &visual_only(&model))?;
        let mut rng = Rng(n as u64 | 1);
        let t = Instant::now();
        let batch = 1000;
        for start in (0..n).step_by(batch) {
            let mut ops = Vec::with_capacity(batch);
            for i in start..(start + batch).min(n) {
                let mut h = [0u8; 32];
                h[..8].copy_from_slice(&(i as u64).to_le_bytes());
                h[8..16].copy_from_slice(&(n as u64).to_le_bytes());
                let id = AssetId::from_hash(&h);
                let path = format!("/bench/album{:03}/photo_{i:07}.jpg", i % 100);
                let asset = Asset {
                    id: id.clone(),
                    kind: AssetKind::Image,
                    path: path.clone(),
                    paths: vec![path.clone()],
                    size: 1000,
                    mtime: 1_700_000_000 + i as i64,
                    width: Some(1600),
                    height: Some(1200),
                    duration_s: None,
                    pages: None,
                    captured_at: None,
                    language: None,
                };
                ops.push(Op::Put {
                    path,
                    file: FileEntry {
                        asset_id: id.clone(),
                        size: 1000,
                        mtime_ns: 0,
                    },
                    record: Box::new(AssetRecord {
                        asset,
                        captured_ts: None,
                        segments: vec![],
                    }),
                    segments: vec![SegmentWrite {
                        segment: Segment::new(id, Locator::Whole),
                        vectors: vec![(Space::Visual, rng.vector(dim))],
                        body: String::new(),
                        words: Vec::new(),
                        boxes: Vec::new(),
                    }],
                });
            }
            index.apply(ops)?;
        }
        let write_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        index.optimize()?;
        let opt_s = t.elapsed().as_secs_f64();
        rows.push(Row {
            what: format!("{n} points: write (catalog + vectors + text)"),
            value: format!(
                "{:.0} points/s ({write_s:.1} s), HNSW build {opt_s:.1} s",
                n as f64 / write_s
            ),
        });
        drop(index);
        let index = Index::open(&dir, Access::Read)?;
        let queries: Vec<Vec<f32>> = (0..args.queries).map(|_| rng.vector(dim)).collect();
        let none = Filters::default();
        let nearest = |vector: &[f32], filters: &Filters| {
            index.vectors().search(&VectorQuery {
                space: Space::Visual,
                vector,
                filters,
                limit: 50,
                score_threshold: None,
            })
        };
        let (p50, p95, p99) = time_many(args.queries, |i| {
            nearest(&queries[i], &none)?;
            Ok(())
        })?;
        rows.push(Row {
            what: format!("{n} points: vector top-50 (Qdrant Edge)"),
            value: format!("p50 {p50:.2} ms  p95 {p95:.2} ms  p99 {p99:.2} ms"),
        });
        let album = Filters {
            path_prefix: Some("/bench/album007".into()),
            ..Filters::default()
        };
        let (p50, p95, p99) = time_many(args.queries, |i| {
            nearest(&queries[i], &album)?;
            Ok(())
        })?;
        rows.push(Row {
            what: format!("{n} points: vector top-50, folder filter (1%)"),
            value: format!("p50 {p50:.2} ms  p95 {p95:.2} ms  p99 {p99:.2} ms"),
        });
        let (p50, p95, p99) = time_many(args.queries, |i| {
            index
                .text()
                .search(&format!("photo_{:07}", i * 37 % n), &none, 50)?;
            Ok(())
        })?;
        rows.push(Row {
            what: format!("{n} points: BM25 top-50 over names (tantivy)"),
            value: format!("p50 {p50:.2} ms  p95 {p95:.2} ms  p99 {p99:.2} ms"),
        });
        // The whole search path the CLI and the server use.
        let (p50, p95, p99) = time_many(args.queries, |i| {
            let req = SearchRequest::text(format!("red photo album{:03}", i % 100));
            let enc = loupe_query::Encoders {
                clip: &model,
                text: None,
            };
            loupe_query::search(&index, enc, &req)?;
            Ok(())
        })?;
        rows.push(Row {
            what: format!("{n} points: text search end to end (encode + both signals + RRF + hydrate)"),
            value: format!("p50 {p50:.2} ms  p95 {p95:.2} ms  p99 {p99:.2} ms"),
        });
        let (raw_p50, inproc_p50) = (
            time_many(args.queries, |i| {
                nearest(&queries[i], &none)?;
                Ok(())
            })?
            .0,
            p50,
        );
        drop(index);
        if args.http {
            let index = Index::open(&dir, Access::Write)?;
            let clip = config.load_clip(&runtime, &model_name)?;
            http_rows(&mut rows, n, index, clip, args.queries, raw_p50, inproc_p50)?;
        }
    }

    let command: Vec<String> = std::env::args().collect();
    if json {
        let v = serde_json::json!({
            "command": command.join(" "),
            "machine": machine(),
            "model": model.id(),
            "rows": rows.iter().map(|r| serde_json::json!({"what": r.what, "value": r.value})).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else {
        println!("command: {}", command.join(" "));
        println!("machine: {}", machine());
        println!(
            "model:   {}{}",
            model.id(),
            if model.manifest.test_only {
                " (generated test model)"
            } else {
                ""
            }
        );
        let w = rows.iter().map(|r| r.what.len()).max().unwrap_or(10);
        println!("{:<w$}  result", "measure");
        println!("{}  {}", "-".repeat(w), "-".repeat(40));
        for r in &rows {
            println!("{:<w$}  {}", r.what, r.value);
        }
    }
    Ok(())
}

/// Serves `index` on an ephemeral loopback port and measures text search over HTTP: latency of one
/// client (with the per-signal times the server reports), then throughput of four clients.
fn http_rows(
    rows: &mut Vec<Row>,
    n: usize,
    index: Index,
    clip: loupe_models::ClipModel,
    queries: usize,
    raw_p50: f64,
    inproc_p50: f64,
) -> Result<()> {
    let config = loupe_server::ServerConfig {
        port: 0,
        ..Default::default()
    };
    let models = loupe_server::Models {
        clip,
        text: None,
        whisper: None,
        ocr: None,
        answerers: loupe_answer::Answerers::new(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let server = rt.block_on(loupe_server::Server::bind(config, index, models))?;
    let url = format!("http://{}/v1/search", server.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = rt.spawn(server.run(async {
        let _ = stop_rx.await;
    }));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let ask = |agent: &ureq::Agent, i: usize| -> Result<serde_json::Value> {
        let body = serde_json::json!({"text": format!("red photo album{:03}", i % 100)}).to_string();
        let mut r = agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body)
            .context("POST /v1/search")?;
        anyhow::ensure!(r.status() == 200, "HTTP {}", r.status());
        Ok(serde_json::from_str(&r.body_mut().read_to_string()?)?)
    };
    for i in 0..20 {
        ask(&agent, i)?;
    }
    let mut per_signal: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    let (p50, p95, p99) = time_many(queries, |i| {
        let v = ask(&agent, i)?;
        for s in v["signals"].as_array().into_iter().flatten() {
            if let (Some(name), Some(ms)) = (s["signal"].as_str(), s["took_ms"].as_f64()) {
                per_signal.entry(name.to_string()).or_default().push(ms);
            }
        }
        Ok(())
    })?;
    rows.push(Row {
        what: format!("{n} points: POST /v1/search, one client"),
        value: format!("p50 {p50:.2} ms  p95 {p95:.2} ms  p99 {p99:.2} ms"),
    });
    let breakdown: Vec<String> = per_signal
        .iter_mut()
        .map(|(name, ms)| {
            ms.sort_by(f64::total_cmp);
            format!("{name} p50 {:.2} ms", percentile(ms, 0.5))
        })
        .collect();
    rows.push(Row {
        what: format!("{n} points: per signal inside the server (concurrent)"),
        value: breakdown.join(", "),
    });
    rows.push(Row {
        what: format!("{n} points: overhead over raw Qdrant Edge top-50 / in-process search"),
        value: format!("+{:.2} ms / +{:.2} ms at p50", p50 - raw_p50, p50 - inproc_p50),
    });
    let clients = 4;
    let per_client = queries.max(clients) / clients * 2;
    let t = Instant::now();
    let errors: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let ask = &ask;
                scope.spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    (0..per_client)
                        .filter(|i| ask(&agent, c * per_client + i).is_err())
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(per_client)).sum()
    });
    let secs = t.elapsed().as_secs_f64();
    rows.push(Row {
        what: format!("{n} points: POST /v1/search, {clients} clients"),
        value: format!(
            "{:.0} requests/s ({} requests, {errors} errors)",
            (clients * per_client) as f64 / secs,
            clients * per_client
        ),
    });
    let _ = stop_tx.send(());
    rt.block_on(serving).context("server task")?.context("server")?;
    Ok(())
}

/// Word error rate after lower-casing, dropping punctuation and spelling out numbers up to ten
/// (the dev set's references spell numbers out; Whisper writes digits).
pub fn wer(reference: &str, hypothesis: &str) -> (usize, usize) {
    fn words(s: &str) -> Vec<String> {
        const NUM: [&str; 11] = [
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        ];
        s.split(|c: char| !c.is_alphanumeric() && c != '\'')
            .map(|w| w.trim_matches('\''))
            .filter(|w| !w.is_empty())
            .map(|w| match w.parse::<usize>() {
                Ok(n) if n <= 10 => NUM[n].to_string(),
                _ => w.to_lowercase(),
            })
            .collect()
    }
    let (r, h) = (words(reference), words(hypothesis));
    (loupe_answer::eval::edit_distance(&r, &h), r.len())
}

fn speech_rows(config: &Config, dir: &std::path::Path, rows: &mut Vec<Row>) -> Result<()> {
    let manifest = dir.join("manifest.tsv");
    let text =
        std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(fc), Some(tc)) = (col("file"), col("transcript")) else {
        anyhow::bail!("{} needs 'file' and 'transcript' columns", manifest.display());
    };
    let lc = col("language");
    let items: Vec<(String, String, Option<String>)> = lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some((
                f.get(fc)?.to_string(),
                f.get(tc)?.to_string(),
                lc.and_then(|c| f.get(c)).map(|s| s.to_string()),
            ))
        })
        .collect();
    let cancel = AtomicBool::new(false);
    for name in crate::config::SPEECH_MODELS.iter().rev() {
        let Ok(Some(whisper)) = config.load_speech(Some(name)) else {
            continue;
        };
        let decode = loupe_models::whisper::Decode::default();
        let (mut wall, mut audio, mut errors, mut words, mut lang_ok) = (0.0, 0.0, 0, 0, 0);
        for (file, truth, lang) in &items {
            let t = Instant::now();
            let r =
                loupe_indexer::audio::transcribe_file(&dir.join(file), &whisper, &decode, &cancel, &|_| {})
                    .map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
            wall += t.elapsed().as_secs_f64();
            audio += r.transcript.duration_s;
            let said: Vec<&str> = r.transcript.segments.iter().map(|s| s.text.as_str()).collect();
            let (e, n) = wer(truth, &said.join(" "));
            errors += e;
            words += n;
            lang_ok += usize::from(lang.as_deref() == Some(r.transcript.language.as_str()));
        }
        rows.push(Row {
            what: format!(
                "speech: {} on {} files, {:.1} s of audio (ffmpeg + VAD + whisper.cpp, {} threads)",
                whisper.id(),
                items.len(),
                audio,
                std::thread::available_parallelism().map_or(1, |n| n.get())
            ),
            value: format!(
                "RTF {:.3} ({:.1}x real time)  WER {:.1}% ({errors}/{words} words)  language {lang_ok}/{}",
                wall / audio.max(1e-9),
                audio / wall.max(1e-9),
                100.0 * errors as f64 / words.max(1) as f64,
                items.len()
            ),
        });
    }
    Ok(())
}

fn video_rows(dir: &std::path::Path, rows: &mut Vec<Row>) -> Result<()> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| loupe_indexer::kind_of(p) == Some(AssetKind::Video))
        .collect();
    files.sort();
    let params = loupe_indexer::video::ShotParams::default();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let t = Instant::now();
        let probe = loupe_indexer::video::probe(&f).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let shots =
            loupe_indexer::video::shots(&f, &probe, &params).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let wall = t.elapsed().as_secs_f64();
        let mut value = format!(
            "{:.1} video s per wall s ({:.1} s video in {:.2} s), {} shots",
            probe.duration_s / wall.max(1e-9),
            probe.duration_s,
            wall,
            shots.len()
        );
        let truth = f.with_file_name(format!("{name}.scenes.json"));
        if let Ok(text) = std::fs::read_to_string(&truth) {
            let scenes: Vec<serde_json::Value> = serde_json::from_str(&text)?;
            let cuts: Vec<f64> = scenes
                .iter()
                .skip(1)
                .filter_map(|s| s["start"].as_f64())
                .collect();
            let found: Vec<f64> = shots.iter().skip(1).map(|s| s.t_start).collect();
            let hit = cuts
                .iter()
                .filter(|c| found.iter().any(|f| (f - *c).abs() <= 0.5))
                .count();
            value.push_str(&format!(
                "; true cuts found within 0.5 s: {hit}/{}; cuts reported: {}",
                cuts.len(),
                found.len()
            ));
        }
        rows.push(Row {
            what: format!("keyframes: {name}"),
            value,
        });
    }
    Ok(())
}

/// Character error rate: edit distance over characters / reference length. `loose` also
/// lower-cases and drops everything but letters, digits and spaces.
pub fn cer(reference: &str, hypothesis: &str, loose: bool) -> (usize, usize) {
    let norm = |s: &str| {
        let s: String = if loose {
            s.to_lowercase()
                .chars()
                .map(|c| if c.is_alphanumeric() { c } else { ' ' })
                .collect()
        } else {
            s.to_string()
        };
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .collect::<Vec<char>>()
    };
    let (r, h) = (norm(reference), norm(hypothesis));
    (loupe_answer::eval::edit_distance(&r, &h), r.len())
}

fn doc_rows(
    config: &Config,
    runtime: &loupe_models::Runtime,
    dir: &std::path::Path,
    rows: &mut Vec<Row>,
) -> Result<()> {
    // One ONNX Runtime environment per process: the caller's.
    let ocr = config.load_ocr(runtime, None)?;
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                loupe_indexer::kind_of(p),
                Some(AssetKind::Image | AssetKind::Document)
            )
        })
        .collect();
    files.sort();
    let cancel = AtomicBool::new(false);
    let (mut ocr_pages, mut ocr_s, mut layer_pages, mut layer_s) = (0usize, 0f64, 0usize, 0f64);
    let (mut strict, mut loose, mut chars) = ((0, 0), (0, 0), 0usize);
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = f
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let t = Instant::now();
        let mut pages = Vec::new();
        if loupe_indexer::kind_of(&f) == Some(AssetKind::Document) {
            // Text layer alone (what a born-digital PDF costs).
            let info = loupe_indexer::pdf::info(&f).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            let tl = Instant::now();
            let layer = loupe_indexer::pdf::text_layer(&f, 1, info.pages)
                .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            if layer.iter().any(|p| !p.words.is_empty()) {
                layer_pages += layer.len();
                layer_s += tl.elapsed().as_secs_f64();
            }
            loupe_indexer::document::read_pdf(&f, ocr.as_ref(), &cancel, &mut |_, p| {
                pages.push(p.text);
                Ok(())
            })
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        } else if let Some(o) = &ocr {
            let bytes = std::fs::read(&f)?;
            let img = loupe_indexer::decode_image(&bytes, &loupe_indexer::DecodeLimits::default())
                .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            pages.push(
                loupe_indexer::document::read_image(o, &img.image.to_rgb8())
                    .map_err(|e| anyhow::anyhow!("{name}: {e}"))?,
            );
        } else {
            continue;
        }
        let wall = t.elapsed().as_secs_f64();
        let by_ocr = pages
            .iter()
            .filter(|p| p.source == loupe_schemas::TextSource::Ocr)
            .count();
        if by_ocr > 0 {
            ocr_pages += by_ocr;
            ocr_s += wall;
        }
        let source = if by_ocr > 0 { "OCR" } else { "text layer" };
        let mut value = format!(
            "{} page(s) by {source}, {:.2} s/page",
            pages.len(),
            wall / pages.len().max(1) as f64
        );
        if let Ok(truth) = std::fs::read_to_string(dir.join(format!("{stem}.gt.txt"))) {
            let text: Vec<&str> = pages.iter().map(|p| p.text.as_str()).collect();
            let text = text.join("\n");
            let (e1, n) = cer(&truth, &text, false);
            let (e2, n2) = cer(&truth, &text, true);
            strict = (strict.0 + e1, strict.1 + n);
            loose = (loose.0 + e2, loose.1 + n2);
            chars += n;
            value.push_str(&format!(
                "; CER {:.2}% strict, {:.2}% loose ({n} chars)",
                100.0 * e1 as f64 / n.max(1) as f64,
                100.0 * e2 as f64 / n2.max(1) as f64
            ));
        }
        rows.push(Row {
            what: format!("docs: {name}"),
            value,
        });
    }
    let model = ocr.as_ref().map_or_else(|| "none".to_string(), |o| o.id());
    if chars > 0 {
        rows.push(Row {
            what: format!("docs: CER over all pages with ground truth ({model})"),
            value: format!(
                "{:.2}% strict, {:.2}% loose ({chars} chars)",
                100.0 * strict.0 as f64 / strict.1.max(1) as f64,
                100.0 * loose.0 as f64 / loose.1.max(1) as f64
            ),
        });
    }
    if ocr_pages > 0 {
        rows.push(Row {
            what: format!("docs: OCR speed ({model}, render + detect + classify + recognise)"),
            value: format!(
                "{:.2} pages/s ({ocr_pages} pages in {ocr_s:.1} s)",
                ocr_pages as f64 / ocr_s
            ),
        });
    }
    if layer_pages > 0 {
        rows.push(Row {
            what: "docs: PDF text-layer extraction (pdftotext -bbox-layout)".into(),
            value: format!(
                "{:.1} pages/s ({layer_pages} pages in {layer_s:.2} s)",
                layer_pages as f64 / layer_s
            ),
        });
    }
    Ok(())
}
