//! Decode: one new or changed file becomes [`Prepared`] content: a link to content the index
//! has, or the items (future segments) of new content with what reading it found out.
//!
//! - photos: decoded (EXIF orientation, capture date, limits), CLIP-preprocessed, text in them
//!   read when a quick check finds some;
//! - documents (PDFs, multi-page TIFFs): one item per page, embedded as they are read
//!   ([`PAGE_BATCH`] at a time) so a long document never holds its page images;
//! - videos and recordings: shots with keyframes, and transcript spans when there is sound and a
//!   speech model.
//!
//! Errors are per-file reasons (`String`): a bad file never stops a run.

use crate::embed::save_thumbnail;
use crate::plan::{self, Candidate};
use crate::progress::Progress;
use crate::report;
use crate::{DecodeLimits, Models, Options, audio, document, video};
use loupe_media::{decode_image, is_tiff};
use loupe_models::{Ocr, SentenceEmbedder};
use loupe_schemas::{Asset, AssetId, AssetKind, Locator, Segment, WordBox, WordTime};
use loupe_store::{AssetRecord, FileEntry, Index};
use std::sync::atomic::AtomicBool;

pub(crate) enum Prepared {
    /// Content already indexed: link the path.
    Link(FileEntry),
    /// New content, ready to embed.
    New(Box<NewContent>),
}

pub(crate) struct NewContent {
    pub file: FileEntry,
    pub record: AssetRecord,
    pub items: Vec<Item>,
    /// Indexed, but with something missing.
    pub warning: Option<String>,
}

/// What reading a file found out about it, beyond its kind (each `None` when unknown or not
/// applicable).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Facts {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_s: Option<f64>,
    pub pages: Option<u32>,
    /// Capture time, RFC 3339, and the same in seconds since the epoch.
    pub captured_at: Option<String>,
    pub captured_ts: Option<i64>,
    /// Spoken language of the transcript.
    pub language: Option<String>,
}

impl NewContent {
    /// New content found at a candidate: the one place an [`Asset`] record is assembled.
    pub fn new(
        c: &Candidate,
        file: FileEntry,
        kind: AssetKind,
        facts: Facts,
        items: Vec<Item>,
        warning: Option<String>,
    ) -> Self {
        let asset = Asset {
            id: file.asset_id.clone(),
            kind,
            path: c.key.clone(),
            paths: vec![c.key.clone()],
            size: file.size,
            mtime: (c.mtime_ns / 1_000_000_000) as i64,
            width: facts.width,
            height: facts.height,
            duration_s: facts.duration_s,
            pages: facts.pages,
            captured_at: facts.captured_at,
            language: facts.language,
        };
        Self {
            file,
            record: AssetRecord {
                asset,
                captured_ts: facts.captured_ts,
                segments: vec![],
            },
            items,
            warning,
        }
    }
}

/// One future segment of new content.
pub(crate) struct Item {
    pub locator: Locator,
    pub pixels: Option<Pixels>,
    /// Saved as the segment's thumbnail (video keyframes).
    pub thumbnail: Option<image::RgbImage>,
    /// Transcript or page text of the segment.
    pub body: String,
    pub words: Vec<WordTime>,
    /// Word boxes of a page or a photo with text.
    pub boxes: Vec<WordBox>,
    /// Sentence-embedder vector of `body`.
    pub text_vector: Option<Vec<f32>>,
}

impl Item {
    pub fn visual(locator: Locator, pixels: Option<Pixels>, thumbnail: Option<image::RgbImage>) -> Self {
        Self {
            locator,
            pixels,
            thumbnail,
            body: String::new(),
            words: Vec::new(),
            boxes: Vec::new(),
            text_vector: None,
        }
    }
}

pub(crate) enum Pixels {
    /// Already through CLIP preprocessing.
    Ready(ndarray::Array3<f32>),
    /// A frame to preprocess when its batch is embedded (keeps memory bounded for long videos).
    Frame(image::RgbImage),
    /// Already embedded (document pages are embedded as they are read, so a long PDF never holds
    /// its page images).
    Vector(Vec<f32>),
}

/// A capture time as given by a file's metadata (RFC 3339), kept when it parses and is after
/// 1970, as (RFC 3339, seconds since the epoch).
fn capture_time(t: Option<&str>) -> (Option<String>, Option<i64>) {
    t.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .filter(|t| t.timestamp() > 0)
        .map(|t| (t.to_rfc3339(), t.timestamp()))
        .unzip()
}

/// Reads, hashes and (for new content) decodes one file. Errors are per-file reasons.
pub(crate) fn prepare(
    index: &Index,
    models: &Models<'_>,
    c: &Candidate,
    opts: &Options,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Prepared, String> {
    let limits = &opts.limits;
    let plan::Identified { file, bytes } = plan::identify(c, limits)?;
    if plan::is_known(index, &file)? {
        return Ok(Prepared::Link(file));
    }
    match (bytes, c.kind) {
        (Some(b), _)
            if is_tiff(&c.path) && loupe_media::tiff::page_count(&b, limits).is_ok_and(|n| n > 1) =>
        {
            prepare_document(
                index,
                models,
                c,
                DocSource::Tiff(&b, limits),
                file,
                cancel,
                progress,
            )
        }
        (Some(b), _) => prepare_image(models, c, &b, file, opts),
        (None, AssetKind::Document) => {
            prepare_document(index, models, c, DocSource::Pdf, file, cancel, progress)
        }
        (None, _) => prepare_timed(models, c, file, cancel, progress),
    }
}

fn prepare_image(
    models: &Models<'_>,
    c: &Candidate,
    bytes: &[u8],
    file: FileEntry,
    opts: &Options,
) -> Result<Prepared, String> {
    let decoded = decode_image(bytes, &opts.limits)?;
    let pixels = models.clip.prepare_image(&decoded.image);
    let mut item = Item::visual(Locator::Whole, Some(Pixels::Ready(pixels)), None);
    let mut warning = None;
    if let (Some(ocr), true) = (models.ocr, opts.photo_ocr) {
        match photo_text(ocr, models.text, &decoded.image.to_rgb8()) {
            Ok(Some((text, vector))) => {
                item.body = text.text;
                item.boxes = text.words;
                item.text_vector = vector;
            }
            Ok(None) => {}
            Err(e) => warning = Some(format!("text in the photo could not be read: {e}")),
        }
    }
    let facts = Facts {
        width: Some(decoded.image.width()),
        height: Some(decoded.image.height()),
        captured_at: decoded.captured_at.clone(),
        captured_ts: decoded.captured_ts,
        ..Facts::default()
    };
    Ok(Prepared::New(Box::new(NewContent::new(
        c,
        file,
        c.kind,
        facts,
        vec![item],
        warning,
    ))))
}

/// Short side of the quick text check on photos, and how many boxes it must find.
const PHOTO_TEXT_CHECK: (u32, usize) = (320, 2);

/// Text read in a photo, and its text vector (when a text model is loaded).
type PhotoText = (loupe_schemas::PageText, Option<Vec<f32>>);

/// Text in a photo: a quick detection at low resolution, then full OCR only if it found text.
fn photo_text(
    ocr: &Ocr,
    text_model: Option<&dyn SentenceEmbedder>,
    img: &image::RgbImage,
) -> Result<Option<PhotoText>, String> {
    let (side, boxes) = PHOTO_TEXT_CHECK;
    if !ocr.has_text(img, side, boxes).map_err(|e| e.to_string())? {
        return Ok(None);
    }
    let text = document::read_image(ocr, img)?;
    if text.words.is_empty() {
        return Ok(None);
    }
    let vector = match text_model {
        Some(m) => Some(m.embed_long(&text.text).map_err(|e| e.to_string())?),
        None => None,
    };
    Ok(Some((text, vector)))
}

/// Pages embedded per CLIP run while a document is read.
const PAGE_BATCH: usize = 8;

/// Embeds the pages read so far and turns them into items (thumbnails are written now, so page
/// images are not kept).
fn flush_pages(
    index: &Index,
    models: &Models<'_>,
    asset_id: &AssetId,
    pending: &mut Vec<document::Page>,
    items: &mut Vec<Item>,
) -> Result<(), String> {
    if pending.is_empty() {
        return Ok(());
    }
    let pixels: Vec<ndarray::Array3<f32>> = pending
        .iter()
        .map(|p| {
            models
                .clip
                .prepare_image(&image::DynamicImage::ImageRgb8(p.image.clone()))
        })
        .collect();
    let vectors = models.clip.embed_prepared(&pixels).map_err(|e| e.to_string())?;
    for (page, v) in pending.drain(..).zip(vectors) {
        let t = page.text;
        let locator = Locator::Page {
            page: t.page,
            width: t.width,
            height: t.height,
        };
        save_thumbnail(
            &index.thumbnail_path(Segment::new(asset_id.clone(), locator.clone()).id),
            &page.image,
        );
        let text_vector = match models.text {
            Some(m) if !t.text.trim().is_empty() => Some(m.embed_long(&t.text).map_err(|e| e.to_string())?),
            _ => None,
        };
        items.push(Item {
            locator,
            pixels: Some(Pixels::Vector(v)),
            thumbnail: None,
            body: t.text,
            words: Vec::new(),
            boxes: t.words,
            text_vector,
        });
    }
    Ok(())
}

/// Where a document's pages come from.
enum DocSource<'a> {
    /// The candidate's file, through poppler.
    Pdf,
    /// A multi-page TIFF already in memory.
    Tiff(&'a [u8], &'a DecodeLimits),
}

/// Documents: one item per page (CLIP vector of the rendered page, its text and word boxes).
fn prepare_document(
    index: &Index,
    models: &Models<'_>,
    c: &Candidate,
    source: DocSource<'_>,
    file: FileEntry,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Prepared, String> {
    let name = c.name();
    let mut items = Vec::new();
    let mut pending: Vec<document::Page> = Vec::new();
    let mut on_page = |total: u32, page: document::Page| {
        progress.status(&format!("{name}: page {}/{total}", page.text.page));
        pending.push(page);
        if pending.len() >= PAGE_BATCH {
            flush_pages(index, models, &file.asset_id, &mut pending, &mut items)?;
        }
        Ok(())
    };
    let read = match source {
        DocSource::Pdf => document::read_pdf(&c.path, models.ocr, cancel, &mut on_page)?,
        DocSource::Tiff(bytes, limits) => {
            document::read_tiff(bytes, limits, models.ocr, cancel, &mut on_page)?
        }
    };
    flush_pages(index, models, &file.asset_id, &mut pending, &mut items)?;
    if items.is_empty() {
        return Err(report::no_pages(&read.failed_pages));
    }
    let warning = report::pages_warning(&read.failed_pages, read.info.pages);
    let (captured_at, captured_ts) = capture_time(read.info.created.as_deref());
    let facts = Facts {
        width: Some(read.info.page_size.0.round() as u32),
        height: Some(read.info.page_size.1.round() as u32),
        pages: Some(read.info.pages),
        captured_at,
        captured_ts,
        ..Facts::default()
    };
    Ok(Prepared::New(Box::new(NewContent::new(
        c,
        file,
        AssetKind::Document,
        facts,
        items,
        warning,
    ))))
}

/// Videos and recordings: probe, then one item per shot (videos), or one whole-file item
/// (recordings, and videos whose picture cannot be read but whose sound can), plus one item per
/// transcript segment when the file has sound and a speech model is loaded.
fn prepare_timed(
    models: &Models<'_>,
    c: &Candidate,
    file: FileEntry,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Prepared, String> {
    let probe = loupe_media::video::probe(&c.path)?;
    let name = c.name();
    progress.status(&format!("shots: {name}"));
    let shots = match probe.video {
        Some(_) => match video::shots(&c.path, &probe, &video::ShotParams::default()) {
            Ok(s) => s,
            Err(e) if probe.has_audio => {
                tracing::warn!("{}: picture unreadable ({e}); indexing the sound only", c.key);
                Vec::new()
            }
            Err(e) => return Err(e),
        },
        None => Vec::new(),
    };
    let kind = if shots.is_empty() {
        AssetKind::Audio
    } else {
        AssetKind::Video
    };
    let (captured_at, captured_ts) = capture_time(probe.creation_time.as_deref());
    let mut items = if shots.is_empty() {
        vec![Item::visual(Locator::Whole, None, None)]
    } else {
        shots
            .into_iter()
            .map(|s| {
                let locator = Locator::Shot {
                    t_start: s.t_start,
                    t_end: s.t_end,
                    keyframe: s.keyframe_t,
                };
                let thumb = Some(s.keyframe.clone());
                Item::visual(locator, Some(Pixels::Frame(s.keyframe)), thumb)
            })
            .collect()
    };
    let mut warning = None;
    let mut language = None;
    if let (true, Some(whisper)) = (probe.has_audio, models.whisper) {
        let total = probe.duration_s;
        let on_time = |done: f64| {
            progress.status(&format!("transcribing {name} {}/{}", clock(done), clock(total)));
        };
        match audio::transcribe_file(&c.path, whisper, models.decode, cancel, &on_time) {
            Ok(t) => {
                warning = t
                    .warning
                    .map(|w| format!("sound partly unreadable, transcript may be short: {w}"));
                if !t.transcript.segments.is_empty() {
                    language = Some(t.transcript.language.clone()).filter(|l| !l.is_empty());
                }
                let mut spoken = spoken_items(t.transcript.segments);
                if let Some(m) = models.text {
                    for batch in spoken.chunks_mut(32) {
                        let texts: Vec<&str> = batch.iter().map(|i| i.body.as_str()).collect();
                        let vs = m.embed_texts(&texts).map_err(|e| e.to_string())?;
                        for (item, v) in batch.iter_mut().zip(vs) {
                            item.text_vector = Some(v);
                        }
                    }
                }
                items.extend(spoken);
            }
            Err(e) if e == audio::INTERRUPTED => return Err(e),
            // The picture (or the name, for a recording) is still worth indexing.
            Err(e) => warning = Some(format!("no transcript: {e}")),
        }
    }
    let facts = Facts {
        width: probe.video.map(|v| v.0),
        height: probe.video.map(|v| v.1),
        duration_s: Some(probe.duration_s),
        captured_at,
        captured_ts,
        language,
        ..Facts::default()
    };
    Ok(Prepared::New(Box::new(NewContent::new(
        c, file, kind, facts, items, warning,
    ))))
}

/// Transcript segments as items. Segments with the same span (start and end rounded to the id's
/// millisecond key) are joined, so every item has its own segment id.
fn spoken_items(segments: Vec<loupe_schemas::TranscriptSegment>) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::with_capacity(segments.len());
    for s in segments {
        let locator = Locator::Span {
            t_start: (s.start * 1000.0).round() / 1000.0,
            t_end: (s.end * 1000.0).round() / 1000.0,
        };
        if let Some(last) = items.last_mut()
            && last.locator.key() == locator.key()
        {
            last.body.push(' ');
            last.body.push_str(&s.text);
            last.words.extend(s.words);
            continue;
        }
        items.push(Item {
            locator,
            pixels: None,
            thumbnail: None,
            body: s.text,
            words: s.words,
            boxes: Vec::new(),
            text_vector: None,
        });
    }
    items
}

/// `h:mm:ss` or `m:ss`.
fn clock(s: f64) -> String {
    let t = s.max(0.0) as u64;
    let (h, m, sec) = (t / 3600, t / 60 % 60, t % 60);
    if h > 0 {
        format!("{h}:{m:02}:{sec:02}")
    } else {
        format!("{m}:{sec:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_schemas::TranscriptSegment;
    use std::path::PathBuf;

    #[test]
    fn one_place_assembles_the_asset() {
        let c = Candidate {
            path: PathBuf::from("/lib/a.mp4"),
            key: "/lib/a.mp4".into(),
            kind: AssetKind::Video,
            size: 10,
            mtime_ns: 1_700_000_000_999_999_999,
            previous: None,
        };
        let file = FileEntry {
            asset_id: AssetId::from_hash(&[3; 32]),
            size: 10,
            mtime_ns: c.mtime_ns,
        };
        let (captured_at, captured_ts) = capture_time(Some("2024-05-01T10:00:00+02:00"));
        let facts = Facts {
            width: Some(640),
            height: Some(360),
            duration_s: Some(12.5),
            captured_at,
            captured_ts,
            language: Some("en".into()),
            ..Facts::default()
        };
        let n = NewContent::new(&c, file.clone(), AssetKind::Audio, facts, Vec::new(), None);
        let a = &n.record.asset;
        assert_eq!(a.id, file.asset_id);
        assert_eq!(
            a.kind,
            AssetKind::Audio,
            "the kind found by reading wins over the name's"
        );
        assert_eq!(
            (a.path.as_str(), a.paths.clone()),
            ("/lib/a.mp4", vec!["/lib/a.mp4".to_string()])
        );
        assert_eq!((a.size, a.mtime), (10, 1_700_000_000));
        assert_eq!(
            (a.width, a.height, a.duration_s, a.pages),
            (Some(640), Some(360), Some(12.5), None)
        );
        assert_eq!(a.captured_at.as_deref(), Some("2024-05-01T10:00:00+02:00"));
        assert_eq!(n.record.captured_ts, Some(1_714_550_400));
        assert_eq!(a.language.as_deref(), Some("en"));
        assert!(n.record.segments.is_empty());
    }

    #[test]
    fn capture_times_before_1970_or_unparsed_are_dropped() {
        assert_eq!(capture_time(None), (None, None));
        assert_eq!(capture_time(Some("yesterday")), (None, None));
        assert_eq!(capture_time(Some("1970-01-01T00:00:00Z")), (None, None));
        assert_eq!(
            capture_time(Some("2001-02-03T04:05:06Z")),
            (Some("2001-02-03T04:05:06+00:00".into()), Some(981_173_106))
        );
    }

    #[test]
    fn spans_with_the_same_start_are_joined() {
        let seg = |start: f64, end: f64, text: &str| TranscriptSegment {
            start,
            end,
            text: text.into(),
            words: vec![WordTime {
                text: text.into(),
                start,
                end,
                p: 1.0,
            }],
        };
        let items = spoken_items(vec![
            seg(0.0, 1.0, "hello"),
            seg(1.0004, 2.0, "there"),
            seg(1.0001, 2.0002, "again"),
            seg(2.0, 2.5, "and"),
            seg(2.0, 3.0, "more"),
            seg(3.0, 4.0, "bye"),
        ]);
        let got: Vec<(String, usize)> = items.iter().map(|i| (i.body.clone(), i.words.len())).collect();
        assert_eq!(
            got,
            vec![
                ("hello".into(), 1),
                ("there again".into(), 2),
                ("and".into(), 1),
                ("more".into(), 1),
                ("bye".into(), 1)
            ]
        );
        assert!(
            items
                .iter()
                .all(|i| i.pixels.is_none() && i.text_vector.is_none())
        );
    }

    #[test]
    fn clock_reads_like_a_player() {
        assert_eq!(clock(-1.0), "0:00");
        assert_eq!(clock(65.9), "1:05");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
