//! Evidence: the hits of a search, read and trimmed to what bears on the question.

use crate::text::{self, Passage};
use crate::{Error, Result};
use base64::Engine as _;
use loupe_query::Searcher;
use loupe_schemas::answer::Citation;
use loupe_schemas::{AssetKind, Filters, GroupBy, Hit, ImageQuery, Locator, SearchRequest, Uuid};
use loupe_store::Index;
use std::path::Path;

/// Longest side of an evidence image handed to a vision model.
pub const MAX_IMAGE_SIDE: u32 = 1568;

/// Quality of the evidence JPEGs handed to a vision model.
const JPEG_QUALITY: u8 = 85;

/// Longest the frame of a video hit may take to cut (the thumbnail is used past it).
const FRAME_LIMIT: loupe_media::TimeLimit = loupe_media::TimeLimit::fixed(std::time::Duration::from_secs(30));

/// At most this many evidence images go to a vision model (each costs hundreds of tokens).
pub const MAX_IMAGES: usize = 4;

/// One numbered source.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The number the answer cites it by (from 1).
    pub n: u32,
    pub hit: Hit,
    /// The passages shown, in reading order.
    pub passages: Vec<Passage>,
    /// Passages withheld because they read like instructions to a model.
    pub withheld: Vec<String>,
    /// The page, keyframe or photo as a JPEG, base64, when the answerer sees images.
    pub image: Option<String>,
}

impl Evidence {
    /// The passages as one text (gaps marked with "…").
    pub fn text(&self) -> String {
        self.passages
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A short human description: file name, page or time.
    pub fn label(&self) -> String {
        let a = &self.hit.asset;
        let name = Path::new(&a.path)
            .file_name()
            .map_or_else(|| a.path.clone(), |n| n.to_string_lossy().into_owned());
        match (&self.hit.segment.locator, self.hit.moment) {
            (Locator::Page { page, .. }, _) => format!("{name}, page {page}"),
            (_, Some(m)) => format!("{name}, {} to {}", clock(m.start), clock(m.end)),
            (Locator::Shot { t_start, t_end, .. } | Locator::Span { t_start, t_end }, None) => {
                format!("{name}, {} to {}", clock(*t_start), clock(*t_end))
            }
            _ => name,
        }
    }

    /// What the API reports for this source. `quote` narrows the citation to one passage (its boxes
    /// and time) where the answer rests on one.
    pub fn citation(&self, cited: bool, quote: Option<&Passage>) -> Citation {
        let h = &self.hit;
        let page = match h.segment.locator {
            Locator::Page { page, .. } => Some(page),
            _ => None,
        };
        let time = quote.and_then(|p| p.time).or(h.moment).or_else(|| {
            h.segment
                .locator
                .time_range()
                .map(|(start, end)| loupe_schemas::TimeRange { start, end })
        });
        let boxes = match quote {
            Some(p) if !p.boxes.is_empty() => p.boxes.clone(),
            _ => h.boxes.clone(),
        };
        let text = quote.map(|p| p.text.clone()).unwrap_or_else(|| self.text());
        let mut deep_link = h.deep_link.clone();
        let mut media_url = h.media_url.clone();
        if let Some(t) = quote.and_then(|p| p.time) {
            // Open at the quoted sentence.
            let base = |s: &str| s.split('#').next().unwrap_or(s).to_string();
            deep_link = format!("{}#t={:.1}", base(&deep_link), t.start);
            media_url = format!("{}#t={:.1}", base(&media_url), t.start);
        }
        Citation {
            n: self.n,
            cited,
            asset_id: h.asset.id.clone(),
            kind: h.asset.kind,
            path: h.asset.path.clone(),
            segment_id: h.segment.id,
            page,
            time,
            boxes,
            quote: (!text.is_empty()).then_some(text),
            image_shown: self.image.is_some(),
            deep_link,
            media_url,
            thumbnail_url: h.thumbnail_url.clone(),
            score: h.score,
        }
    }
}

fn clock(t: f64) -> String {
    let s = t.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// How to gather.
#[derive(Debug, Clone)]
pub struct GatherOptions {
    pub max_evidence: usize,
    pub score_threshold: Option<f32>,
    /// Characters of evidence text in all.
    pub budget_chars: usize,
    /// Render images for a vision model.
    pub images: bool,
}

/// Searches for each question (the current one first, then earlier turns of a conversation, whose
/// evidence is kept so follow-up questions can refer back), reads and trims the hits' text, screens
/// it for instructions, and numbers the sources. When the question names documents
/// (`scope::named`), only those are searched.
pub fn gather(
    searcher: &Searcher,
    questions: &[&str],
    image: Option<&ImageQuery>,
    filters: &Filters,
    opts: &GatherOptions,
) -> Result<Vec<Evidence>> {
    if opts.max_evidence == 0 {
        return Err(Error::BadRequest("max_evidence must be at least 1".into()));
    }
    let index = searcher.index();
    // A question that names its document ("the QualityHosting invoice") is answered from it; a
    // follow-up that names none keeps the document the question before it named.
    let mut named = Vec::new();
    for q in questions.iter().take(2) {
        named = crate::scope::named(searcher, q, filters)?;
        if !named.is_empty() {
            break;
        }
    }
    let scoped;
    let filters = if named.is_empty() {
        filters
    } else {
        scoped = Filters {
            asset_ids: named,
            ..filters.clone()
        };
        &scoped
    };
    let mut hits: Vec<Hit> = Vec::new();
    let cap = opts.max_evidence + 2 * questions.len().saturating_sub(1);
    for (i, q) in questions.iter().enumerate() {
        // A follow-up ("when was it issued?") is searched together with the question before it,
        // which usually names what "it" is.
        let joined;
        let q = match (i, questions.get(1)) {
            (0, Some(prev)) => {
                joined = format!("{} {}", q.trim(), prev.trim());
                joined.as_str()
            }
            _ => q.trim(),
        };
        let img = if i == 0 { image.cloned() } else { None };
        if q.is_empty() && img.is_none() {
            continue;
        }
        let mut req = SearchRequest::text(q);
        if q.is_empty() {
            req.text = None;
        }
        req.image = img;
        req.limit = if i == 0 { opts.max_evidence } else { 2 };
        req.filters = filters.clone();
        req.score_threshold = opts.score_threshold;
        req.group_by = GroupBy::Moment;
        for h in searcher.search(&req)?.hits {
            if hits.len() < cap && !hits.iter().any(|k| k.segment.id == h.segment.id) {
                hits.push(h);
            }
        }
    }
    let question = questions.first().copied().unwrap_or("");

    // The text behind each hit: its own segment, and for a shot or moment of a video or recording
    // the transcript spans it covers.
    let mut wanted: Vec<Vec<Uuid>> = Vec::new();
    for h in &hits {
        let mut ids = vec![h.segment.id];
        let range = h
            .moment
            .map(|m| (m.start, m.end))
            .or_else(|| h.segment.locator.time_range());
        if let (Some((start, end)), AssetKind::Video | AssetKind::Audio) = (range, h.asset.kind)
            && let Some(rec) = index.asset(&h.asset.id)?
        {
            for s in &rec.segments {
                if let Locator::Span { t_start, t_end } = s.locator
                    && t_end > start
                    && t_start < end
                    && !ids.contains(&s.id)
                {
                    ids.push(s.id);
                }
            }
        }
        wanted.push(ids);
    }
    let all: Vec<Uuid> = wanted.iter().flatten().copied().collect();
    let texts = index.text().segment_texts(&all, None)?;
    let mut raw: Vec<(Vec<Passage>, Vec<String>)> = Vec::new();
    for ids in &wanted {
        let mut ps = Vec::new();
        let mut withheld = Vec::new();
        for id in ids {
            if let Some(t) = texts.get(id) {
                // An instruction may run over several lines: withhold the lines after a flagged
                // one until a sentence ends.
                let mut continuing = false;
                for p in text::passages(&t.body, &t.words, &t.boxes) {
                    if continuing || text::looks_like_instruction(&p.text) {
                        continuing = !p.text.trim_end().ends_with(['.', '!', '?']);
                        withheld.push(p.text);
                    } else {
                        ps.push(p);
                    }
                }
            }
        }
        raw.push((ps, withheld));
    }
    let terms = text::content_terms(question);
    let every: Vec<&str> = raw
        .iter()
        .flat_map(|(ps, _)| ps.iter().map(|p| p.text.as_str()))
        .collect();
    let weights = text::weigh(&terms, &every);
    let per = (opts.budget_chars / hits.len().max(1)).max(300);

    let mut out = Vec::new();
    let mut images = 0;
    for (i, (h, (ps, withheld))) in hits.into_iter().zip(raw).enumerate() {
        let keep = text::focus(&ps, &weights, per);
        let passages: Vec<Passage> = keep.into_iter().map(|k| ps[k].clone()).collect();
        let image = if opts.images && images < MAX_IMAGES {
            match evidence_image(index, &h) {
                Ok(img) => img,
                Err(e) => {
                    tracing::warn!("no image for {}: {e}", h.asset.path);
                    None
                }
            }
        } else {
            None
        };
        images += usize::from(image.is_some());
        out.push(Evidence {
            n: u32::try_from(i + 1).unwrap_or(u32::MAX),
            hit: h,
            passages,
            withheld,
            image,
        });
    }
    Ok(out)
}

/// The picture behind a hit, at most [`MAX_IMAGE_SIDE`] on its long side, as a base64 JPEG: the
/// photo, the PDF page rendered afresh, the video frame at the keyframe, else the thumbnail.
/// Recordings have none.
pub fn evidence_image(index: &Index, h: &Hit) -> std::result::Result<Option<String>, String> {
    let path = Path::new(&h.asset.path);
    let limits = loupe_media::DecodeLimits::default();
    let read_file = |p: &Path| -> std::result::Result<image::DynamicImage, String> {
        let bytes = std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()))?;
        Ok(loupe_media::decode_image(&bytes, &limits)?.image)
    };
    let img = match (&h.segment.locator, h.asset.kind) {
        (Locator::Span { .. }, _) | (_, AssetKind::Audio) => return Ok(None),
        (Locator::Whole, _) => read_file(path),
        (Locator::Page { page, .. }, _) if loupe_media::is_pdf(path) => {
            loupe_media::pdf::render(path, *page, MAX_IMAGE_SIDE)
                .map(image::DynamicImage::ImageRgb8)
                .map_err(|e| e.to_string())
        }
        (Locator::Page { page: 1, .. }, _) => read_file(path),
        (Locator::Shot { keyframe, .. }, _) => {
            loupe_media::video::frame_at(path, *keyframe, MAX_IMAGE_SIDE, FRAME_LIMIT)
                .map(image::DynamicImage::ImageRgb8)
                .map_err(|e| e.to_string())
        }
        _ => Err("no renderer".into()),
    };
    let img = match img {
        Ok(i) => i,
        Err(e) => {
            let thumb = index.thumbnail_path(h.segment.id);
            if !thumb.is_file() {
                return Err(e);
            }
            read_file(&thumb)?
        }
    };
    let img = if img.width().max(img.height()) > MAX_IMAGE_SIDE {
        img.resize(
            MAX_IMAGE_SIDE,
            MAX_IMAGE_SIDE,
            image::imageops::FilterType::Triangle,
        )
    } else {
        img
    };
    let jpeg = loupe_media::encode_jpeg(&img.to_rgb8(), JPEG_QUALITY)?;
    Ok(Some(base64::engine::general_purpose::STANDARD.encode(jpeg)))
}
