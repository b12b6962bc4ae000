//! [`Searcher`] over a real temporary Index filled with a few assets embedded by the fake
//! embedder: no models, runs in well under a second.

use super::*;
use crate::Error;
use loupe_models::fake::FakeEmbedder;
use loupe_schemas::{AssetKind, Filters, Fusion, GroupBy, ImageQuery, Locator, Signal, WordBox, WordTime};
use loupe_store::{AssetRecord, FileEntry, IndexModels, ModelSpec, Op, SegmentWrite, Space};
use std::collections::HashSet;

const DIM: usize = 24;

fn clip() -> FakeEmbedder {
    FakeEmbedder::new("fake-clip", DIM)
}

fn minilm() -> FakeEmbedder {
    FakeEmbedder::new("fake-text", DIM)
}

struct TestLinks;

impl Links for TestLinks {
    fn media(&self, asset: &AssetId) -> String {
        format!("/m/{asset}")
    }

    fn thumbnail(&self, asset: &Asset, _: &Segment) -> Option<String> {
        Some(format!("/t/{}", asset.id))
    }
}

fn colour(name: &str) -> image::DynamicImage {
    let rgb = loupe_models::fake::PALETTE
        .iter()
        .find(|(c, _)| *c == name)
        .map(|(_, rgb)| *rgb)
        .unwrap();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(4, 4, image::Rgb(rgb)))
}

/// A segment to write: locator, colour of its picture if any, text body, word times, word boxes.
type SegmentSpec = (
    Locator,
    Option<&'static str>,
    &'static str,
    Vec<WordTime>,
    Vec<WordBox>,
);

/// One asset to write: its kind, path, mtime and segments.
struct Fixture {
    n: u8,
    kind: AssetKind,
    path: &'static str,
    mtime: i64,
    segments: Vec<SegmentSpec>,
}

fn put(f: Fixture) -> Op {
    let id = AssetId::from_hash(&[f.n; 32]);
    let segments = f
        .segments
        .into_iter()
        .map(|(locator, picture, body, words, boxes)| {
            let mut vectors = Vec::new();
            if let Some(c) = picture {
                vectors.push((Space::Visual, clip().image_vector(&colour(c))));
            }
            if !body.is_empty() {
                vectors.push((Space::Text, minilm().text_vector(body)));
            }
            SegmentWrite {
                segment: Segment::new(id.clone(), locator),
                vectors,
                body: body.into(),
                words,
                boxes,
            }
        })
        .collect();
    Op::Put {
        path: f.path.into(),
        file: FileEntry {
            asset_id: id.clone(),
            size: 10,
            mtime_ns: i128::from(f.mtime) * 1_000_000_000,
        },
        record: Box::new(AssetRecord {
            asset: Asset {
                id,
                kind: f.kind,
                path: f.path.into(),
                paths: vec![f.path.into()],
                size: 10,
                mtime: f.mtime,
                width: Some(4),
                height: Some(4),
                duration_s: (f.kind == AssetKind::Video).then_some(20.0),
                pages: (f.kind == AssetKind::Document).then_some(1),
                captured_at: None,
                language: None,
            },
            captured_ts: None,
            segments: Vec::new(),
        }),
        segments,
    }
}

fn word(text: &str, start: f64) -> WordTime {
    WordTime {
        text: text.into(),
        start,
        end: start + 0.4,
        p: 0.9,
    }
}

fn photo(n: u8, path: &'static str, c: &'static str, mtime: i64) -> Op {
    put(Fixture {
        n,
        kind: AssetKind::Image,
        path,
        mtime,
        segments: vec![(Locator::Whole, Some(c), "", vec![], vec![])],
    })
}

/// A library: three photos, a video with a yellow shot and a spoken budget, a document page.
fn library() -> (tempfile::TempDir, Searcher) {
    let dir = tempfile::tempdir().unwrap();
    let spec = |e: &FakeEmbedder| ModelSpec {
        id: VisualEmbedder::id(e),
        dim: DIM,
    };
    let index = Index::open_or_create(
        &dir.path().join("index"),
        &IndexModels {
            visual: spec(&clip()),
            text: Some(spec(&minilm())),
        },
    )
    .unwrap();
    index
        .apply(vec![
            photo(1, "/lib/red.jpg", "red", 1_000),
            photo(2, "/lib/blue.jpg", "blue", 2_000),
            photo(3, "/lib/sub/green.png", "green", 3_000),
            put(Fixture {
                n: 4,
                kind: AssetKind::Video,
                path: "/lib/talk.mp4",
                mtime: 4_000,
                segments: vec![
                    (
                        Locator::Shot {
                            t_start: 0.0,
                            t_end: 5.0,
                            keyframe: 1.0,
                        },
                        Some("yellow"),
                        "",
                        vec![],
                        vec![],
                    ),
                    (
                        Locator::Span {
                            t_start: 10.0,
                            t_end: 14.0,
                        },
                        None,
                        "so the budget for next year",
                        vec![
                            word("so", 10.0),
                            word("the", 10.4),
                            word("budget", 11.0),
                            word("for", 11.6),
                            word("next", 12.0),
                            word("year", 12.4),
                        ],
                        vec![],
                    ),
                ],
            }),
            put(Fixture {
                n: 5,
                kind: AssetKind::Document,
                path: "/lib/invoice.pdf",
                mtime: 5_000,
                segments: vec![(
                    Locator::Page {
                        page: 1,
                        width: 100.0,
                        height: 100.0,
                    },
                    Some("white"),
                    "invoice total due",
                    vec![],
                    vec![
                        WordBox {
                            text: "Invoice".into(),
                            bbox: [1.0, 1.0, 10.0, 3.0],
                            conf: 1.0,
                            line: 0,
                        },
                        WordBox {
                            text: "total:".into(),
                            bbox: [1.0, 5.0, 10.0, 7.0],
                            conf: 1.0,
                            line: 1,
                        },
                    ],
                )],
            }),
        ])
        .unwrap();
    let searcher = Searcher::new(
        Arc::new(index),
        Arc::new(clip()),
        Some(Arc::new(minilm()) as Arc<dyn SentenceEmbedder>),
    )
    .with_links(TestLinks);
    (dir, searcher)
}

fn paths(resp: &SearchResponse) -> Vec<&str> {
    resp.hits.iter().map(|h| h.asset.path.as_str()).collect()
}

#[test]
fn a_colour_query_finds_the_photo_of_that_colour() {
    let (_dir, s) = library();
    let resp = s.search(&SearchRequest::text("red")).unwrap();
    assert_eq!(paths(&resp)[0], "/lib/red.jpg");
    let top = &resp.hits[0];
    assert_eq!(top.media_url, format!("/m/{}", top.asset.id));
    assert_eq!(top.thumbnail_url, Some(format!("/t/{}", top.asset.id)));
    assert_eq!(top.deep_link, "/lib/red.jpg");
    assert_eq!(resp.visual_model, "fake-clip@fake");
    assert_eq!(resp.text_model.as_deref(), Some("fake-text@fake"));
    let ran: Vec<Signal> = resp.signals.iter().map(|r| r.signal).collect();
    assert_eq!(ran, [Signal::Visual, Signal::Lexical, Signal::TextDense]);
    assert!(top.signals.is_empty(), "no per-signal detail without explain");
}

#[test]
fn spoken_words_land_on_the_first_matched_word() {
    let (_dir, s) = library();
    let mut req = SearchRequest::text("budget next year");
    req.explain = true;
    let resp = s.search(&req).unwrap();
    let top = &resp.hits[0];
    assert_eq!(top.asset.path, "/lib/talk.mp4");
    assert!(matches!(top.segment.locator, Locator::Span { .. }));
    assert_eq!(
        top.at,
        Some(11.5),
        "half a second before 'next year', the longest run of query words"
    );
    assert_eq!(top.deep_link, "/lib/talk.mp4#t=11.5");
    assert!(top.media_url.ends_with("#t=11.5"));
    let signals: HashSet<Signal> = top.signals.iter().map(|s| s.signal).collect();
    assert!(signals.contains(&Signal::Lexical) && signals.contains(&Signal::TextDense));
    assert!(top.snippet.is_some());
}

#[test]
fn a_page_hit_points_at_the_named_words() {
    let (_dir, s) = library();
    let resp = s.search(&SearchRequest::text("total")).unwrap();
    let top = &resp.hits[0];
    assert_eq!(top.asset.path, "/lib/invoice.pdf");
    assert_eq!(top.deep_link, "/lib/invoice.pdf#page=1");
    assert_eq!(top.boxes.len(), 1);
    assert_eq!(top.boxes[0].text, "total:");
}

#[test]
fn filters_exclude_inside_every_signal() {
    let (_dir, s) = library();
    let mut req = SearchRequest::text("red budget");
    req.filters.kinds = vec![AssetKind::Video];
    let resp = s.search(&req).unwrap();
    assert!(!resp.hits.is_empty());
    assert!(resp.hits.iter().all(|h| h.asset.kind == AssetKind::Video));

    let mut req = SearchRequest::text("red");
    req.filters.path_prefix = Some("/lib/sub".into());
    assert_eq!(paths(&s.search(&req).unwrap()), ["/lib/sub/green.png"]);

    // A path naming one file means that file.
    req.filters.path_prefix = Some("/lib/blue.jpg".into());
    assert_eq!(paths(&s.search(&req).unwrap()), ["/lib/blue.jpg"]);

    let mut req = SearchRequest::text("red");
    req.filters = Filters {
        date_from: Some(2_500),
        date_to: Some(4_500),
        ..Filters::default()
    };
    let resp = s.search(&req).unwrap();
    let got: HashSet<&str> = paths(&resp).into_iter().collect();
    assert_eq!(got, HashSet::from(["/lib/sub/green.png", "/lib/talk.mp4"]));
}

#[test]
fn pages_follow_the_cursor_without_overlap() {
    let (_dir, s) = library();
    let mut req = SearchRequest::text("red");
    req.group_by = GroupBy::Asset;
    let all = paths(&s.search(&req).unwrap())
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    assert_eq!(all.len(), 5, "every asset has a picture: {all:?}");
    req.limit = 2;
    let mut seen = Vec::new();
    let mut cursor = None;
    for page in 0.. {
        let mut r = req.clone();
        r.cursor = cursor.take();
        let resp = s.search(&r).unwrap();
        seen.extend(paths(&resp).into_iter().map(str::to_string));
        match resp.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(page < 5, "pagination does not end");
    }
    assert_eq!(seen, all);
    // A cursor is for its own search only.
    let first = s.search(&req).unwrap().next_cursor.unwrap();
    let mut other = SearchRequest::text("blue");
    other.limit = 2;
    other.group_by = GroupBy::Asset;
    other.cursor = Some(first);
    assert!(matches!(s.search(&other), Err(Error::BadRequest(_))));
}

#[test]
fn image_queries_search_by_picture() {
    use base64::Engine as _;
    let (_dir, s) = library();
    let mut png = Vec::new();
    colour("blue")
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut req = SearchRequest::text("");
    req.text = None;
    req.image = Some(ImageQuery::Base64 {
        data: base64::engine::general_purpose::STANDARD.encode(&png),
    });
    let resp = s.search(&req).unwrap();
    assert_eq!(paths(&resp)[0], "/lib/blue.jpg");
    assert_eq!(resp.signals.len(), 1, "no text: the visual signal only");

    // "Find similar" from a video: its keyframe's vector.
    let video = AssetId::from_hash(&[4; 32]);
    req.image = Some(ImageQuery::Asset { id: video.clone() });
    assert_eq!(s.search(&req).unwrap().hits[0].asset.id, video);

    req.image = Some(ImageQuery::Asset {
        id: AssetId::from_hash(&[9; 32]),
    });
    assert!(matches!(s.search(&req), Err(Error::NotFound(_))));
    req.image = Some(ImageQuery::Base64 { data: "!!".into() });
    assert!(matches!(s.search(&req), Err(Error::BadRequest(_))));
}

#[test]
fn weighted_fusion_and_thresholds_change_what_comes_back() {
    let (_dir, s) = library();
    let mut req = SearchRequest::text("budget");
    req.fusion = Fusion::Weighted {
        visual: 0.0,
        lexical: 1.0,
        text_dense: 0.0,
    };
    assert_eq!(paths(&s.search(&req).unwrap())[0], "/lib/talk.mp4");
    // A visual threshold nothing reaches: only the text signals can answer.
    let mut req = SearchRequest::text("red");
    req.score_threshold = Some(1.5);
    req.explain = true;
    let resp = s.search(&req).unwrap();
    assert_eq!(resp.signals[0].signal, Signal::Visual);
    assert_eq!(resp.signals[0].candidates, 0);
    assert!(
        resp.hits
            .iter()
            .all(|h| h.signals.iter().all(|x| x.signal != Signal::Visual))
    );
}

#[test]
fn another_model_is_refused() {
    let (_dir, s) = library();
    let other = Searcher::new(
        s.shared_index().clone(),
        Arc::new(FakeEmbedder::new("other-clip", DIM)),
        None,
    );
    let err = other.search(&SearchRequest::text("red")).unwrap_err();
    assert_eq!(err.code(), loupe_schemas::ErrorCode::ModelMismatch);
    let wrong_text = Searcher::new(
        s.shared_index().clone(),
        Arc::new(clip()),
        Some(Arc::new(FakeEmbedder::new("other-text", DIM)) as Arc<dyn SentenceEmbedder>),
    );
    assert!(wrong_text.search(&SearchRequest::text("red")).is_err());
    // Without a sentence encoder the text space is simply not searched.
    let no_text = Searcher::new(s.shared_index().clone(), Arc::new(clip()), None);
    let resp = no_text.search(&SearchRequest::text("budget")).unwrap();
    assert!(resp.text_model.is_none());
    assert!(resp.signals.iter().all(|r| r.signal != Signal::TextDense));
    assert_eq!(resp.hits[0].media_url, "", "no links given");
}
