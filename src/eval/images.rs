//! Image retrieval: text->image and image->image Recall@1/5/10 and nDCG@10, indexing speed and
//! query latency, on a folder with `manifest.tsv` (`file`, `label`) and `queries.tsv` (`query`,
//! `relevant_files` split by `;`).
//!
//! The photos are copied under neutral names (`img_0001.png`, ...) before indexing, so file names
//! cannot give answers away to the lexical signal; hits are mapped back to the original names.
//! Relevance is per asset: byte-identical files are one asset, relevant when any of its files is.

use super::{Ctx, Measure, Unit, read_tsv};
use anyhow::{Context, Result};
use loupe_metrics::rank::{hit_at_k, ndcg_at_k};
use loupe_schemas::{AssetId, AssetKind, Filters, Fusion, ImageQuery, SearchRequest};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Instant;

const FLICKR: &str = "CLIP ViT-B/32, Flickr30k 1k test";
const FLICKR_R: [(usize, f64); 3] = [(1, 0.588), (5, 0.836), (10, 0.900)];

struct Scores {
    hits: [usize; 3],
    ndcg: f64,
    n: usize,
}

impl Scores {
    fn new() -> Self {
        Self {
            hits: [0; 3],
            ndcg: 0.0,
            n: 0,
        }
    }
    fn add(&mut self, ranked: &[AssetId], relevant: &[AssetId]) {
        for (slot, (k, _)) in self.hits.iter_mut().zip(FLICKR_R) {
            *slot += usize::from(hit_at_k(ranked, relevant, k));
        }
        self.ndcg += ndcg_at_k(ranked, relevant, 10);
        self.n += 1;
    }
    fn measures(&self, task: &str, model: &str, reference: bool, out: &mut Vec<Measure>) {
        let n = self.n.max(1) as f64;
        for (hits, (k, r)) in self.hits.iter().zip(FLICKR_R) {
            let m = Measure::new(
                task,
                &format!("R@{k}"),
                *hits as f64 / n,
                Unit::Percent,
                model,
                self.n,
            );
            out.push(if reference { m.reference(r, FLICKR) } else { m });
        }
        out.push(Measure::new(
            task,
            "nDCG@10",
            self.ndcg / n,
            Unit::Score,
            model,
            self.n,
        ));
    }
}

fn images_only() -> Filters {
    Filters {
        kinds: vec![AssetKind::Image],
        ..Filters::default()
    }
}

pub fn run(ctx: &Ctx<'_>, dir: &Path) -> Result<Vec<Measure>> {
    let manifest = read_tsv(&dir.join("manifest.tsv"), &["file"])?;
    let queries = read_tsv(&dir.join("queries.tsv"), &["query", "relevant_files"])?;

    // Copy under neutral names.
    let lib = ctx.scratch.join("eval-images");
    std::fs::create_dir_all(&lib)?;
    let mut original: HashMap<String, String> = HashMap::new();
    for (i, row) in manifest.iter().enumerate() {
        let file = &row["file"];
        let ext = Path::new(file)
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        let neutral = format!("img_{i:04}.{ext}");
        std::fs::copy(dir.join(file), lib.join(&neutral)).with_context(|| format!("copying {file}"))?;
        original.insert(neutral, file.clone());
    }
    let (searcher, report) = ctx.index("eval-images-index", &lib)?;
    let model = ctx.models.clip.id();
    let with_text = match &ctx.models.ocr {
        Some(o) => format!("{model} + text-in-photo check ({})", o.id()),
        None => model.clone(),
    };
    let mut out = vec![
        Measure::new(
            "index photos",
            "images/s",
            report.files_per_s,
            Unit::PerSecond,
            &with_text,
            report.indexed as usize,
        )
        .note(format!(
            "{:.1} s, {} failed",
            report.elapsed_s,
            report.failed.len()
        )),
    ];

    // Asset of each original file, and the files of each asset.
    let mut asset_of: HashMap<String, AssetId> = HashMap::new();
    for rec in searcher.index().catalog().assets()? {
        for p in &rec.asset.paths {
            let name = Path::new(p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(orig) = original.get(&name) {
                asset_of.insert(orig.clone(), rec.asset.id.clone());
            }
        }
    }
    let assets_for = |files: &[&str]| -> Vec<AssetId> {
        let set: BTreeSet<AssetId> = files.iter().filter_map(|f| asset_of.get(*f).cloned()).collect();
        set.into_iter().collect()
    };
    let ranked = |req: &SearchRequest| -> Result<Vec<AssetId>> {
        let resp = searcher.search(req)?;
        Ok(resp.hits.into_iter().map(|h| h.asset.id).collect())
    };

    // Text -> image, as served (all signals fused) and by CLIP alone.
    let (mut served, mut clip_only) = (Scores::new(), Scores::new());
    let mut latency = Vec::new();
    let mut groups: Vec<Vec<AssetId>> = Vec::new();
    for q in &queries {
        let files: Vec<&str> = q["relevant_files"]
            .split(';')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        let relevant = assets_for(&files);
        if relevant.is_empty() {
            continue;
        }
        let mut req = SearchRequest::text(q["query"].clone());
        req.filters = images_only();
        let t = Instant::now();
        let got = ranked(&req)?;
        latency.push(t.elapsed().as_secs_f64() * 1000.0);
        served.add(&got, &relevant);
        req.fusion = Fusion::Weighted {
            visual: 1.0,
            lexical: 0.0,
            text_dense: 0.0,
        };
        clip_only.add(&ranked(&req)?, &relevant);
        if relevant.len() > 1 {
            groups.push(relevant);
        }
    }
    clip_only.measures("text->image, CLIP only", &model, true, &mut out);
    let fused = match &ctx.models.text {
        Some(t) => format!("{model} + BM25 + {}", t.id()),
        None => format!("{model} + BM25"),
    };
    served.measures("text->image, as served (RRF)", &fused, false, &mut out);
    latency.sort_by(f64::total_cmp);
    for (p, name) in [(0.5, "p50"), (0.95, "p95")] {
        out.push(
            Measure::new(
                "text search latency",
                name,
                loupe_metrics::percentile(&latency, p),
                Unit::Ms,
                &fused,
                latency.len(),
            )
            .note("encode + signals + fusion + hydrate, in process"),
        );
    }

    // Image -> image: every photo that shares a label or a query's relevant set with another one
    // asks for the others ("find similar" by asset).
    let mut by_label: HashMap<&str, Vec<&str>> = HashMap::new();
    for row in &manifest {
        if let Some(label) = row.get("label").filter(|l| !l.is_empty()) {
            by_label.entry(label).or_default().push(&row["file"]);
        }
    }
    groups.extend(
        by_label
            .values()
            .map(|files| assets_for(files))
            .filter(|g| g.len() > 1),
    );
    let mut relevant_to: HashMap<AssetId, BTreeSet<AssetId>> = HashMap::new();
    for g in &groups {
        for a in g {
            relevant_to
                .entry(a.clone())
                .or_default()
                .extend(g.iter().filter(|b| *b != a).cloned());
        }
    }
    let mut similar = Scores::new();
    let mut probes: Vec<(&AssetId, &BTreeSet<AssetId>)> = relevant_to.iter().collect();
    probes.sort();
    for (id, relevant) in probes {
        let mut req = SearchRequest::text("");
        (req.text, req.image) = (None, Some(ImageQuery::Asset { id: id.clone() }));
        (req.limit, req.filters) = (11, images_only());
        let got: Vec<AssetId> = ranked(&req)?.into_iter().filter(|a| a != id).take(10).collect();
        similar.add(&got, &relevant.iter().cloned().collect::<Vec<_>>());
    }
    similar.measures("image->image (find similar)", &model, false, &mut out);
    Ok(out)
}
