//! `loupe bench`: indexing throughput on generated photos, and store/query latency on synthetic
//! vectors at 10k and 100k points. Prints a table with the command and the machine. Quality on
//! media with ground truth (and its speed) is `loupe eval`.

use crate::config::Config;
use anyhow::{Context, Result};
use loupe_metrics::percentile;
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
    /// Also measure `POST /v1/search` through a real server on loopback at each store size.
    #[arg(long)]
    http: bool,
    /// Also measure a Qdrant server backend, side by side with the embedded one, against an
    /// in-process Qdrant gRPC server on loopback (Qdrant Edge shards behind Qdrant's own protocol;
    /// measures the client, gRPC and serialisation cost). `--qdrant-url URL` measures that server.
    #[arg(long)]
    qdrant_loopback: bool,
}

/// Store and query figures of one backend at one size.
struct StoreFigures {
    write_pps: f64,
    top50_p50: f64,
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

pub fn machine() -> String {
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

fn visual_only(models: &loupe_models::ModelSet) -> loupe_store::IndexModels {
    crate::config::index_models(models)
}

pub fn run(config: &Config, args: BenchArgs, json: bool) -> Result<()> {
    let mut rows: Vec<Row> = Vec::new();
    let runtime = config.runtime()?;
    // CLIP alone: the photo and search rows measure the visual path.
    let set = config.load_models(&runtime, &crate::config::ModelChoice::clip_only(None))?;
    let model = set.clip.clone();
    let dim = model.manifest.dim;
    let tmp = tempfile::tempdir().context("creating a scratch folder")?;
    let decode = loupe_models::whisper::Decode::default();
    let photo_models = loupe_indexer::Models::from_set(&set, &decode);
    let ocr = config.load_ocr(&runtime, None)?;
    // Photos are indexed into the embedded store: that part measures the models.
    let embedded = loupe_store::OpenOptions {
        qdrant: None,
        ..config.store.clone()
    };

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
        let index = Index::open_or_create_with(&index_dir, &visual_only(&set), &embedded)?;
        let opts = loupe_indexer::Options::default();
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
            let index = Index::open_or_create_with(
                &tmp.path().join("index-photos-ocr"),
                &visual_only(&set),
                &embedded,
            )?;
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

    // The backends measured: embedded always; a Qdrant server beside it when one is given.
    let mut backends: Vec<(String, loupe_store::OpenOptions)> = vec![("Qdrant Edge".to_string(), embedded)];
    let _loopback = if args.qdrant_loopback {
        let server = loupe_qdrant_loopback::Loopback::start(&tmp.path().join("qdrant-loopback"))
            .context("starting the loopback Qdrant server")?;
        let mut q = config.store.qdrant.clone().unwrap_or_default();
        q.url = server.url();
        // Measure searches on built indexes, as on the embedded side: wait for green.
        q.optimize_wait_s = 3600;
        backends.push((
            "Qdrant server (loopback gRPC)".to_string(),
            loupe_store::OpenOptions {
                qdrant: Some(q),
                ..config.store.clone()
            },
        ));
        Some(server)
    } else {
        if let Some(q) = &config.store.qdrant {
            let mut q = q.clone();
            q.optimize_wait_s = q.optimize_wait_s.max(3600);
            backends.push((
                format!("Qdrant server {}", q.display_url()),
                loupe_store::OpenOptions {
                    qdrant: Some(q),
                    ..config.store.clone()
                },
            ));
        }
        None
    };
    for &n in args.points.iter().filter(|&&n| n > 0) {
        let mut figures = Vec::new();
        for (b, (label, options)) in backends.iter().enumerate() {
            let dir = tmp.path().join(format!("index-{n}-{b}"));
            let http = args.http && b + 1 == backends.len();
            figures.push(store_rows(
                &mut rows, &set, dim, n, &dir, label, options, &args, http,
            )?);
            if let Some(q) = options.qdrant.as_ref().filter(|_| !args.qdrant_loopback) {
                // Leave nothing behind on a real server (the loopback's data is in the scratch folder).
                let meta = Index::open_with(&dir, Access::Read, options)?.meta().clone();
                if let loupe_store::VectorsAt::Qdrant { collection, .. } = meta.vectors
                    && let Err(e) = loupe_store::QdrantBackend::drop_collection(q, &collection)
                {
                    eprintln!("bench: could not delete the collection {collection}: {e}");
                }
            }
        }
        if let [edge, server, ..] = figures.as_slice() {
            rows.push(Row {
                what: format!("{n} points: {} over Qdrant Edge", backends[1].0),
                value: format!(
                    "write {:.2}x the time; top-50 p50 +{:.2} ms ({:.1}x)",
                    edge.write_pps / server.write_pps,
                    server.top50_p50 - edge.top50_p50,
                    server.top50_p50 / edge.top50_p50
                ),
            });
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

/// Writes `n` synthetic points into a new index at `dir` on the backend `options` names, then
/// measures queries on it; adds the rows and returns the figures compared across backends.
#[allow(clippy::too_many_arguments)]
fn store_rows(
    rows: &mut Vec<Row>,
    set: &loupe_models::ModelSet,
    dim: usize,
    n: usize,
    dir: &std::path::Path,
    label: &str,
    options: &loupe_store::OpenOptions,
    args: &BenchArgs,
    http: bool,
) -> Result<StoreFigures> {
    // Recorded as built by the loaded model, so the real search path accepts it.
    let index = Index::open_or_create_with(dir, &visual_only(set), options)?;
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
        what: format!("{n} points, {label}: write (catalog + vectors + text)"),
        value: format!(
            "{:.0} points/s ({write_s:.1} s), HNSW build {opt_s:.1} s",
            n as f64 / write_s
        ),
    });
    drop(index);
    let index = std::sync::Arc::new(Index::open_with(dir, Access::Read, options)?);
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
    let top50_p50 = p50;
    rows.push(Row {
        what: format!("{n} points, {label}: vector top-50"),
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
        what: format!("{n} points, {label}: vector top-50, folder filter (1%)"),
        value: format!("p50 {p50:.2} ms  p95 {p95:.2} ms  p99 {p99:.2} ms"),
    });
    let (p50, p95, p99) = time_many(args.queries, |i| {
        index
            .text()
            .search(&format!("photo_{:07}", i * 37 % n), &none, 50)?;
        Ok(())
    })?;
    rows.push(Row {
        what: format!("{n} points, {label}: BM25 top-50 over names (tantivy)"),
        value: format!("p50 {p50:.2} ms  p95 {p95:.2} ms  p99 {p99:.2} ms"),
    });
    // The whole search path the CLI and the server use.
    let searcher = loupe_query::Searcher::new(index.clone(), set.visual(), None);
    let (p50, p95, p99) = time_many(args.queries, |i| {
        let req = SearchRequest::text(format!("red photo album{:03}", i % 100));
        searcher.search(&req)?;
        Ok(())
    })?;
    rows.push(Row {
        what: format!("{n} points, {label}: text search end to end (encode + both signals + RRF + hydrate)"),
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
    drop(searcher);
    drop(index);
    if http {
        let index = Index::open_with(dir, Access::Write, options)?;
        let clip_only = loupe_models::ModelSet {
            clip: set.clip.clone(),
            text: None,
            whisper: None,
            ocr: None,
        };
        http_rows(rows, n, index, clip_only, args.queries, raw_p50, inproc_p50)?;
    }
    Ok(StoreFigures {
        write_pps: n as f64 / write_s,
        top50_p50,
    })
}

/// Serves `index` on an ephemeral loopback port and measures text search over HTTP: latency of one
/// client (with the per-signal times the server reports), then throughput of four clients.
fn http_rows(
    rows: &mut Vec<Row>,
    n: usize,
    index: Index,
    set: loupe_models::ModelSet,
    queries: usize,
    raw_p50: f64,
    inproc_p50: f64,
) -> Result<()> {
    let config = loupe_server::ServerConfig {
        port: 0,
        ..Default::default()
    };
    let models = loupe_server::Models {
        set,
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
