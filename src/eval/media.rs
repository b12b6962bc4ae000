//! Speech (WER, real-time factor, language), video (shot cuts, keyframe speed) and documents (OCR
//! character error rate, pages/s).

use super::{Ctx, Measure, Unit, read_tsv};
use crate::config::Config;
use anyhow::{Result, anyhow};
use loupe_metrics::speech::{cer, wer};
use loupe_schemas::AssetKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Published WER of each Whisper model on LibriSpeech test-clean (Whisper paper, table 2 / the
/// model card), to hold ours against.
fn whisper_reference(model: &str) -> Option<(f64, &'static str)> {
    match model {
        m if m.starts_with("whisper-tiny-en") => Some((0.056, "tiny.en, LibriSpeech test-clean")),
        m if m.starts_with("whisper-tiny") => Some((0.075, "tiny, LibriSpeech test-clean")),
        m if m.starts_with("whisper-base-en") => Some((0.043, "base.en, LibriSpeech test-clean")),
        m if m.starts_with("whisper-base") => Some((0.050, "base, LibriSpeech test-clean")),
        _ => None,
    }
}

pub fn speech(config: &Config, dir: &Path, only: &[String]) -> Result<Vec<Measure>> {
    let rows = read_tsv(&dir.join("manifest.tsv"), &["file", "transcript"])?;
    let cancel = AtomicBool::new(false);
    let mut out = Vec::new();
    let names: Vec<String> = if only.is_empty() {
        crate::config::SPEECH_MODELS
            .iter()
            .rev()
            .map(|s| s.to_string())
            .collect()
    } else {
        only.to_vec()
    };
    for name in names {
        let whisper = match config.load_speech(Some(&name)) {
            Ok(Some(w)) => w,
            Ok(None) => continue,
            Err(e) if only.is_empty() => {
                eprintln!("[eval] speech: {name} not installed, skipped ({e:#})");
                continue;
            }
            Err(e) => return Err(e),
        };
        let decode = loupe_models::whisper::Decode::default();
        let (mut wall, mut audio, mut errors, mut words, mut lang_ok, mut langs) = (0.0, 0.0, 0, 0, 0, 0);
        for row in &rows {
            let file = &row["file"];
            let t = Instant::now();
            let r =
                loupe_indexer::audio::transcribe_file(&dir.join(file), &whisper, &decode, &cancel, &|_| {})
                    .map_err(|e| anyhow!("{file}: {e}"))?;
            wall += t.elapsed().as_secs_f64();
            audio += r.transcript.duration_s;
            let said: Vec<&str> = r.transcript.segments.iter().map(|s| s.text.as_str()).collect();
            let (e, n) = wer(&row["transcript"], &said.join(" "));
            errors += e;
            words += n;
            if let Some(lang) = row.get("language").filter(|l| !l.is_empty()) {
                langs += 1;
                lang_ok += usize::from(*lang == r.transcript.language);
            }
        }
        let model = whisper.id();
        let mut m = Measure::new(
            "speech",
            "WER",
            errors as f64 / words.max(1) as f64,
            Unit::Percent,
            &model,
            rows.len(),
        )
        .note(format!("{errors}/{words} words, Whisper English normaliser"));
        if let Some((v, src)) = whisper_reference(&model) {
            m = m.reference(v, src);
        }
        out.push(m);
        out.push(
            Measure::new(
                "speech",
                "speed",
                audio / wall.max(1e-9),
                Unit::TimesRealTime,
                &model,
                rows.len(),
            )
            .note(format!(
                "{audio:.1} s of audio in {wall:.1} s (ffmpeg + VAD + whisper.cpp)"
            )),
        );
        if langs > 0 && whisper.multilingual() {
            out.push(Measure::new(
                "speech",
                "language identified",
                lang_ok as f64 / langs as f64,
                Unit::Percent,
                &model,
                langs,
            ));
        }
    }
    Ok(out)
}

fn media_files(dir: &Path, kinds: &[AssetKind]) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| loupe_media::kind_of(p).is_some_and(|k| kinds.contains(&k)))
        .collect();
    files.sort();
    Ok(files)
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Text -> moment: each described shot of `*.scenes.json` is a query; a hit counts when it is the
/// right video and its moment overlaps the shot.
fn moments(ctx: &Ctx<'_>, dir: &Path, out: &mut Vec<Measure>) -> Result<()> {
    let (searcher, report) = ctx.index("eval-video-index", dir)?;
    let model = ctx.models.clip.id();
    out.push(
        Measure::new(
            "index videos",
            "files/s",
            report.files_per_s,
            Unit::PerSecond,
            &model,
            report.indexed as usize,
        )
        .note(format!(
            "{:.1} s (keyframes + CLIP; no speech model in eval)",
            report.elapsed_s
        )),
    );
    let (mut at1, mut at5, mut n) = (0usize, 0usize, 0usize);
    for f in media_files(dir, &[AssetKind::Video])? {
        let name = name_of(&f);
        let Ok(text) = std::fs::read_to_string(f.with_file_name(format!("{name}.scenes.json"))) else {
            continue;
        };
        let scenes: Vec<serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| anyhow!("{name}: {e}"))?;
        for scene in &scenes {
            let (Some(desc), Some(start), Some(end)) = (
                scene["description"].as_str(),
                scene["start"].as_f64(),
                scene["end"].as_f64(),
            ) else {
                continue;
            };
            let mut req = loupe_schemas::SearchRequest::text(desc);
            req.filters.kinds = vec![AssetKind::Video];
            req.limit = 5;
            let hits = searcher.search(&req)?.hits;
            let right = |h: &loupe_schemas::Hit| {
                h.asset.paths.iter().any(|p| p.ends_with(&format!("/{name}")))
                    && h.moment.as_ref().is_some_and(|m| m.start < end && m.end > start)
            };
            at1 += usize::from(hits.first().is_some_and(right));
            at5 += usize::from(hits.iter().any(right));
            n += 1;
        }
    }
    if n > 0 {
        for (k, hits) in [(1, at1), (5, at5)] {
            out.push(
                Measure::new(
                    "text->moment",
                    &format!("R@{k}"),
                    hits as f64 / n as f64,
                    Unit::Percent,
                    &model,
                    n,
                )
                .note("right video, moment overlapping the described shot"),
            );
        }
    }
    Ok(())
}

pub fn video(ctx: &Ctx<'_>, dir: &Path) -> Result<Vec<Measure>> {
    let mut out = Vec::new();
    moments(ctx, dir, &mut out)?;
    let params = loupe_indexer::video::ShotParams::default();
    let (mut video_s, mut wall, mut cuts_true, mut cuts_hit, mut cuts_found, mut n) = (0.0, 0.0, 0, 0, 0, 0);
    for f in media_files(dir, &[AssetKind::Video])? {
        let name = name_of(&f);
        let truth = f.with_file_name(format!("{name}.scenes.json"));
        let Ok(text) = std::fs::read_to_string(&truth) else {
            continue;
        };
        let t = Instant::now();
        let probe = loupe_media::video::probe(&f).map_err(|e| anyhow!("{name}: {e}"))?;
        let shots = loupe_indexer::video::shots(&f, &probe, &params).map_err(|e| anyhow!("{name}: {e}"))?;
        wall += t.elapsed().as_secs_f64();
        video_s += probe.duration_s;
        n += 1;
        let scenes: Vec<serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", truth.display()))?;
        let cuts: Vec<f64> = scenes
            .iter()
            .skip(1)
            .filter_map(|s| s["start"].as_f64())
            .collect();
        let found: Vec<f64> = shots.iter().skip(1).map(|s| s.t_start).collect();
        cuts_hit += cuts
            .iter()
            .filter(|c| found.iter().any(|f| (f - *c).abs() <= 0.5))
            .count();
        cuts_true += cuts.len();
        cuts_found += found.len();
    }
    let how = "ffmpeg scene scores + keyframes";
    out.extend([
        Measure::new(
            "video shots",
            "cut recall (within 0.5 s)",
            cuts_hit as f64 / cuts_true.max(1) as f64,
            Unit::Percent,
            how,
            n,
        )
        .note(format!(
            "{cuts_hit}/{cuts_true} true cuts; {cuts_found} cuts reported"
        )),
        Measure::new(
            "video shots",
            "cut precision (within 0.5 s)",
            cuts_hit.min(cuts_found) as f64 / cuts_found.max(1) as f64,
            Unit::Percent,
            how,
            n,
        ),
        Measure::new(
            "video shots",
            "speed",
            video_s / wall.max(1e-9),
            Unit::TimesRealTime,
            how,
            n,
        )
        .note(format!("{video_s:.1} s of video in {wall:.1} s")),
    ]);
    Ok(out)
}

pub fn docs(ctx: &Ctx<'_>, dir: &Path) -> Result<Vec<Measure>> {
    let cancel = AtomicBool::new(false);
    let (mut ocr_pages, mut ocr_s, mut layer_pages, mut layer_s) = (0usize, 0f64, 0usize, 0f64);
    let (mut strict, mut loose, mut files) = ((0, 0), (0, 0), 0usize);
    for f in media_files(dir, &[AssetKind::Image, AssetKind::Document])? {
        let name = name_of(&f);
        let stem = f
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(truth) = std::fs::read_to_string(dir.join(format!("{stem}.gt.txt"))) else {
            continue;
        };
        let t = Instant::now();
        let mut pages = Vec::new();
        if loupe_media::kind_of(&f) == Some(AssetKind::Document) {
            let info = loupe_media::pdf::info(&f).map_err(|e| anyhow!("{name}: {e}"))?;
            let tl = Instant::now();
            let layer =
                loupe_media::pdf::text_layer(&f, 1, info.pages).map_err(|e| anyhow!("{name}: {e}"))?;
            if layer.iter().any(|p| !p.words.is_empty()) {
                layer_pages += layer.len();
                layer_s += tl.elapsed().as_secs_f64();
            }
            loupe_indexer::document::read_pdf(&f, ctx.models.ocr.as_ref(), &cancel, &mut |_, p| {
                pages.push(p.text);
                Ok(())
            })
            .map_err(|e| anyhow!("{name}: {e}"))?;
        } else if let Some(o) = &ctx.models.ocr {
            let bytes = std::fs::read(&f)?;
            let img = loupe_media::decode_image(&bytes, &loupe_media::DecodeLimits::default())
                .map_err(|e| anyhow!("{name}: {e}"))?;
            pages.push(
                loupe_indexer::document::read_image(o, &img.image.to_rgb8())
                    .map_err(|e| anyhow!("{name}: {e}"))?,
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
        let text: Vec<&str> = pages.iter().map(|p| p.text.as_str()).collect();
        let text = text.join("\n");
        let (e1, n1) = cer(&truth, &text, false);
        let (e2, n2) = cer(&truth, &text, true);
        strict = (strict.0 + e1, strict.1 + n1);
        loose = (loose.0 + e2, loose.1 + n2);
        files += 1;
    }
    let model = ctx
        .models
        .ocr
        .as_ref()
        .map_or_else(|| "text layer only".to_string(), |o| o.id());
    let mut out = Vec::new();
    if files > 0 {
        out.push(
            Measure::new(
                "ocr",
                "CER",
                strict.0 as f64 / strict.1.max(1) as f64,
                Unit::Percent,
                &model,
                files,
            )
            .note(format!("{} chars, exact characters", strict.1)),
        );
        out.push(
            Measure::new(
                "ocr",
                "CER, letters and digits",
                loose.0 as f64 / loose.1.max(1) as f64,
                Unit::Percent,
                &model,
                files,
            )
            .note("lower case, punctuation ignored"),
        );
    }
    if ocr_pages > 0 {
        out.push(
            Measure::new(
                "ocr",
                "pages/s",
                ocr_pages as f64 / ocr_s,
                Unit::PerSecond,
                &model,
                ocr_pages,
            )
            .note("render + detect + classify + recognise"),
        );
    }
    if layer_pages > 0 {
        out.push(Measure::new(
            "pdf text layer",
            "pages/s",
            layer_pages as f64 / layer_s,
            Unit::PerSecond,
            "pdftotext -bbox-layout",
            layer_pages,
        ));
    }
    Ok(out)
}
