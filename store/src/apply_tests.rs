//! Unit tests of [`Index::apply`]: idempotence, deletes, batches that fail part way, and resuming
//! after a failed write. A tempdir index with 3-value visual and 2-value text vectors; no models.

use super::*;
use loupe_schemas::{Asset, AssetKind, Locator};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn models() -> IndexModels {
    IndexModels {
        visual: ModelSpec {
            id: "fake-visual@0".into(),
            dim: 3,
        },
        text: Some(ModelSpec {
            id: "fake-text@0".into(),
            dim: 2,
        }),
    }
}

/// The vector backend a test runs on: every test here runs on both (see the bottom of the file).
enum Backend {
    Embedded,
    /// A Qdrant server through `qdrant-client` over gRPC: the in-process loopback server.
    /// The server, then its data folder (dropped in that order).
    Qdrant(
        loupe_qdrant_loopback::Loopback,
        #[allow(dead_code)] tempfile::TempDir,
    ),
}

impl Backend {
    fn qdrant() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = loupe_qdrant_loopback::Loopback::start(dir.path()).expect("loopback server");
        Self::Qdrant(server, dir)
    }

    fn options(&self) -> OpenOptions {
        OpenOptions {
            qdrant: match self {
                Self::Embedded => None,
                Self::Qdrant(server, _) => Some(QdrantConfig {
                    retry: vectors::RetryPolicy {
                        attempts: 3,
                        initial_ms: 5,
                        max_ms: 20,
                    },
                    ..QdrantConfig::new(server.url())
                }),
            },
            ..OpenOptions::default()
        }
    }
}

fn open(b: &Backend, dir: &Path) -> Index {
    Index::open_or_create_with(dir, &models(), &b.options()).expect("open index")
}

fn id(n: u8) -> AssetId {
    AssetId::from_hash(&[n; 32])
}

fn file(n: u8) -> FileEntry {
    FileEntry {
        asset_id: id(n),
        size: 100 + u64::from(n),
        mtime_ns: 1_000_000_000 * i128::from(n),
    }
}

/// New content `n` at `path`: a video with `shots` shots (visual vectors) and one transcript span
/// (text only, no visual vector), or a photo (one whole segment) when `shots` is 0.
fn put(path: &str, n: u8, shots: usize) -> Op {
    let kind = if shots == 0 {
        AssetKind::Image
    } else {
        AssetKind::Video
    };
    let mut segments = Vec::new();
    let mut locators: Vec<Locator> = (0..shots)
        .map(|i| Locator::Shot {
            t_start: i as f64,
            t_end: i as f64 + 1.0,
            keyframe: i as f64 + 0.5,
        })
        .collect();
    if shots == 0 {
        locators.push(Locator::Whole);
    }
    for (i, l) in locators.into_iter().enumerate() {
        segments.push(SegmentWrite {
            segment: Segment::new(id(n), l),
            vectors: vec![(Space::Visual, vec![f32::from(n), i as f32, 1.0])],
            body: String::new(),
            words: Vec::new(),
            boxes: Vec::new(),
        });
    }
    if shots > 0 {
        segments.push(SegmentWrite {
            segment: Segment::new(
                id(n),
                Locator::Span {
                    t_start: 0.0,
                    t_end: 2.0,
                },
            ),
            vectors: vec![(Space::Text, vec![1.0, f32::from(n)])],
            body: format!("words of asset {n}"),
            words: Vec::new(),
            boxes: Vec::new(),
        });
    }
    let f = file(n);
    Op::Put {
        path: path.into(),
        record: Box::new(AssetRecord {
            asset: Asset {
                id: id(n),
                kind,
                path: path.into(),
                paths: vec![path.into()],
                size: f.size,
                mtime: i64::from(n),
                width: Some(4),
                height: Some(3),
                duration_s: (shots > 0).then_some(shots as f64),
                pages: None,
                captured_at: None,
                language: None,
            },
            captured_ts: None,
            segments: vec![],
        }),
        file: f,
        segments,
    }
}

fn link(path: &str, n: u8) -> Op {
    Op::Link {
        path: path.into(),
        file: file(n),
    }
}

fn unlink(path: &str) -> Op {
    Op::Unlink { path: path.into() }
}

/// Everything an index holds, in a comparable form.
#[derive(Debug, PartialEq)]
struct State {
    files: Vec<(String, FileEntry)>,
    assets: Vec<AssetRecord>,
    points: BTreeSet<Uuid>,
    /// Segment id -> (paths, dirs, body) of its text document.
    docs: BTreeMap<Uuid, (Vec<String>, Vec<String>, String)>,
    pending: Vec<AssetId>,
}

fn state(idx: &Index) -> State {
    let mut docs = BTreeMap::new();
    for rec in idx.catalog().assets().expect("assets") {
        for d in idx.text().docs_of(&rec.asset.id).expect("docs") {
            let mut paths = d.paths.clone();
            paths.sort();
            docs.insert(d.segment_id, (paths, d.dirs.clone(), d.body.clone()));
        }
    }
    State {
        files: idx.catalog().files_under("/").expect("files"),
        assets: idx.catalog().assets().expect("assets"),
        points: idx
            .vectors()
            .points()
            .expect("points")
            .into_iter()
            .map(|(s, _)| s)
            .collect(),
        docs,
        pending: idx.catalog().pending().expect("pending"),
    }
}

fn assert_clean(idx: &Index) -> Consistency {
    let c = idx.check().expect("check");
    assert!(c.is_clean(), "index not consistent: {c:?}");
    assert!(c.orphan_assets.is_empty(), "orphan assets: {c:?}");
    c
}

/// A vector backend that fails its flush (after the points went in) while `fail` is set: a write
/// that dies after the engines took some of a batch, before the catalog commit.
struct FailingFlush {
    inner: Box<dyn VectorBackend>,
    fail: Arc<AtomicBool>,
}

impl VectorBackend for FailingFlush {
    fn upsert(&self, points: Vec<Point>) -> Result<()> {
        self.inner.upsert(points)
    }
    fn delete_asset(&self, asset: &AssetId) -> Result<()> {
        self.inner.delete_asset(asset)
    }
    fn set_dirs(&self, asset: &AssetId, dirs: &[String]) -> Result<()> {
        self.inner.set_dirs(asset, dirs)
    }
    fn search(&self, q: &VectorQuery<'_>) -> Result<Vec<Scored>> {
        self.inner.search(q)
    }
    fn vector(&self, segment: Uuid, space: Space) -> Result<Option<Vec<f32>>> {
        self.inner.vector(segment, space)
    }
    fn count(&self) -> Result<usize> {
        self.inner.count()
    }
    fn scroll(&self, offset: Option<Uuid>, limit: usize, with_vectors: bool) -> Result<Page> {
        self.inner.scroll(offset, limit, with_vectors)
    }
    fn get(&self, ids: &[Uuid]) -> Result<Vec<Point>> {
        self.inner.get(ids)
    }
    fn location(&self) -> Location {
        self.inner.location()
    }
    fn flush(&self) -> Result<()> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::Vector("injected flush failure".into()));
        }
        self.inner.flush()
    }
    fn optimize(&self) -> Result<()> {
        self.inner.optimize()
    }
}

/// A stand-in while the real backend is moved into [`FailingFlush`].
struct Nothing;

impl VectorBackend for Nothing {
    fn upsert(&self, _: Vec<Point>) -> Result<()> {
        Ok(())
    }
    fn delete_asset(&self, _: &AssetId) -> Result<()> {
        Ok(())
    }
    fn set_dirs(&self, _: &AssetId, _: &[String]) -> Result<()> {
        Ok(())
    }
    fn search(&self, _: &VectorQuery<'_>) -> Result<Vec<Scored>> {
        Ok(Vec::new())
    }
    fn vector(&self, _: Uuid, _: Space) -> Result<Option<Vec<f32>>> {
        Ok(None)
    }
    fn count(&self) -> Result<usize> {
        Ok(0)
    }
    fn scroll(&self, _: Option<Uuid>, _: usize, _: bool) -> Result<Page> {
        Ok(Page::default())
    }
    fn get(&self, _: &[Uuid]) -> Result<Vec<Point>> {
        Ok(Vec::new())
    }
    fn location(&self) -> Location {
        Location::Embedded(std::path::PathBuf::new())
    }
    fn flush(&self) -> Result<()> {
        Ok(())
    }
    fn optimize(&self) -> Result<()> {
        Ok(())
    }
}

/// Wraps the index's vector backend so its flush fails while the returned flag is set.
fn failing_flush(idx: &mut Index) -> Arc<AtomicBool> {
    let fail = Arc::new(AtomicBool::new(false));
    let inner = std::mem::replace(&mut idx.vectors, Box::new(Nothing));
    idx.vectors = Box::new(FailingFlush {
        inner,
        fail: fail.clone(),
    });
    fail
}

fn the_same_batch_twice_gives_the_same_index(b: &Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let idx = open(b, tmp.path());
    let batch = || {
        vec![
            put("/lib/a.mp4", 1, 2),
            put("/lib/b.jpg", 2, 0),
            link("/lib/copy/a.mp4", 1),
        ]
    };
    idx.apply(batch()).unwrap();
    let once = state(&idx);
    let c = assert_clean(&idx);
    assert_eq!((c.files, c.assets), (3, 2));
    // Two shots and a span for the video, one photo: every segment has a text document, and the
    // span (text vector only) and the shots and the photo (visual) each one point.
    assert_eq!((c.segments, c.points, c.text_docs), (4, 4, 4));
    let rec = idx.catalog().asset(&id(1)).unwrap().unwrap();
    assert_eq!(rec.asset.paths, vec!["/lib/a.mp4", "/lib/copy/a.mp4"]);
    assert_eq!(rec.segments.len(), 3);

    idx.apply(batch()).unwrap();
    assert_eq!(state(&idx), once);
    // A third time, after reopening (what a resumed run does).
    drop(idx);
    let idx = open(b, tmp.path());
    idx.apply(batch()).unwrap();
    assert_eq!(state(&idx), once);
    assert_clean(&idx);
}

fn an_empty_batch_writes_nothing(b: &Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let idx = open(b, tmp.path());
    idx.apply(vec![put("/lib/a.jpg", 1, 0)]).unwrap();
    let before = state(&idx);
    idx.apply(Vec::new()).unwrap();
    assert_eq!(state(&idx), before);
}

fn links_and_unlinks_move_paths_without_touching_segments(b: &Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let idx = open(b, tmp.path());
    idx.apply(vec![put("/lib/old/a.mp4", 1, 1)]).unwrap();
    let points_before = state(&idx).points;
    // A move as the indexer writes it: the new path is linked, then the old one is unlinked.
    idx.apply(vec![link("/lib/new/a.mp4", 1), unlink("/lib/old/a.mp4")])
        .unwrap();
    let s = state(&idx);
    assert_eq!(s.points, points_before, "a move re-embeds nothing");
    let rec = idx.catalog().asset(&id(1)).unwrap().unwrap();
    assert_eq!(rec.asset.path, "/lib/new/a.mp4");
    assert_eq!(rec.asset.paths, vec!["/lib/new/a.mp4"]);
    for (paths, dirs, _) in s.docs.values() {
        assert_eq!(paths, &vec!["/lib/new/a.mp4".to_string()]);
        assert!(dirs.contains(&"/lib/new".to_string()));
        assert!(
            !dirs.contains(&"/lib/old".to_string()),
            "stale folder in {dirs:?}"
        );
    }
    // The folder filter of the vectors follows the move too.
    let q = VectorQuery {
        space: Space::Visual,
        vector: &[1.0, 0.0, 1.0],
        filters: &loupe_schemas::Filters {
            path_prefix: Some("/lib/old".into()),
            ..Default::default()
        },
        limit: 10,
        score_threshold: None,
    };
    assert!(idx.vectors().search(&q).unwrap().is_empty());
    assert_eq!(idx.catalog().file("/lib/old/a.mp4").unwrap(), None);
    assert_clean(&idx);
}

fn unlinking_the_last_path_deletes_the_asset_its_points_and_thumbnails(b: &Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let idx = open(b, tmp.path());
    idx.apply(vec![
        put("/lib/a.mp4", 1, 2),
        link("/lib/b.mp4", 1),
        put("/lib/c.jpg", 2, 0),
    ])
    .unwrap();
    let rec = idx.catalog().asset(&id(1)).unwrap().unwrap();
    let thumbs: Vec<PathBuf> = rec.segments.iter().map(|s| idx.thumbnail_path(s.id)).collect();
    for t in &thumbs {
        std::fs::create_dir_all(t.parent().unwrap()).unwrap();
        std::fs::write(t, b"jpeg").unwrap();
    }

    // One of two paths: the asset stays, under its other path.
    idx.apply(vec![unlink("/lib/a.mp4")]).unwrap();
    let rec = idx.catalog().asset(&id(1)).unwrap().unwrap();
    assert_eq!(rec.asset.path, "/lib/b.mp4");
    assert_eq!(rec.asset.paths, vec!["/lib/b.mp4"]);
    assert!(thumbs.iter().all(|t| t.exists()));
    assert_clean(&idx);

    // The last path: the asset, its points, its text and its thumbnails go.
    idx.apply(vec![unlink("/lib/b.mp4")]).unwrap();
    assert_eq!(idx.catalog().asset(&id(1)).unwrap(), None);
    assert!(thumbs.iter().all(|t| !t.exists()));
    assert!(idx.text().docs_of(&id(1)).unwrap().is_empty());
    let c = assert_clean(&idx);
    assert_eq!((c.files, c.assets, c.points, c.text_docs), (1, 1, 1, 1));

    // Unlinking a path the index never had changes nothing.
    let before = state(&idx);
    idx.apply(vec![unlink("/lib/never.jpg")]).unwrap();
    assert_eq!(state(&idx), before);
}

fn new_content_at_a_known_path_replaces_the_old(b: &Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let idx = open(b, tmp.path());
    idx.apply(vec![put("/lib/a.jpg", 1, 0)]).unwrap();
    // The file was edited: same path, new content.
    idx.apply(vec![put("/lib/a.jpg", 2, 0)]).unwrap();
    assert_eq!(idx.catalog().asset(&id(1)).unwrap(), None);
    assert_eq!(idx.catalog().file("/lib/a.jpg").unwrap(), Some(file(2)));
    let c = assert_clean(&idx);
    assert_eq!((c.files, c.assets, c.points), (1, 1, 1));
}

fn a_batch_with_a_bad_op_writes_nothing(b: &Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let idx = open(b, tmp.path());
    idx.apply(vec![put("/lib/a.jpg", 1, 0)]).unwrap();
    let before = state(&idx);
    // Linking to content the index does not have is refused, and so is the rest of the batch.
    let err = idx
        .apply(vec![
            put("/lib/b.jpg", 2, 0),
            link("/lib/c.jpg", 9),
            unlink("/lib/a.jpg"),
        ])
        .unwrap_err();
    assert!(matches!(err, Error::Catalog(_)), "{err}");
    assert_eq!(state(&idx), before);
    assert_clean(&idx);
}

fn a_failed_write_leaves_the_catalog_behind_and_the_next_open_cleans_up(b: &Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let mut idx = open(b, tmp.path());
    let fail = failing_flush(&mut idx);
    idx.apply(vec![put("/lib/a.jpg", 1, 0)]).unwrap();
    let before = state(&idx);

    fail.store(true, Ordering::SeqCst);
    let second = || vec![put("/lib/b.mp4", 2, 2), unlink("/lib/a.jpg")];
    assert!(idx.apply(second()).is_err());
    // The catalog is behind: it knows neither the new content nor the removal.
    let s = state(&idx);
    assert_eq!(s.files, before.files);
    assert_eq!(s.assets, before.assets);
    // ...and the new content is marked, so whatever the engines kept of it can be found.
    assert_eq!(s.pending, vec![id(2)]);
    drop(idx);

    // The next run opens the index: the half-written content is removed.
    let idx = open(b, tmp.path());
    let s = state(&idx);
    assert!(s.pending.is_empty());
    assert_eq!(s.files, before.files);
    assert!(idx.text().docs_of(&id(2)).unwrap().is_empty());
    assert_clean(&idx);

    // ...and redoing the batch gives what an uninterrupted run gives.
    idx.apply(second()).unwrap();
    let resumed = state(&idx);
    assert_clean(&idx);
    let other = tempfile::tempdir().unwrap();
    let clean = open(b, other.path());
    clean.apply(vec![put("/lib/a.jpg", 1, 0)]).unwrap();
    clean.apply(second()).unwrap();
    assert_eq!(resumed, state(&clean));
}

fn a_failed_write_can_be_retried_in_the_same_process(b: &Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let mut idx = open(b, tmp.path());
    let fail = failing_flush(&mut idx);
    idx.apply(vec![put("/lib/a.jpg", 1, 0)]).unwrap();

    fail.store(true, Ordering::SeqCst);
    assert!(idx.apply(vec![put("/lib/b.mp4", 2, 1)]).is_err());
    fail.store(false, Ordering::SeqCst);
    idx.apply(vec![put("/lib/b.mp4", 2, 1)]).unwrap();
    let c = assert_clean(&idx);
    assert_eq!(
        (c.files, c.assets, c.segments, c.points, c.text_docs),
        (2, 2, 3, 3, 3)
    );
    assert!(state(&idx).pending.is_empty());
}

fn a_failed_write_then_other_work_leaves_no_orphans(b: &Backend) {
    // The server keeps its index open across jobs: a job whose write failed must not leave
    // points or documents behind for a later job's commit to publish.
    let tmp = tempfile::tempdir().unwrap();
    let mut idx = open(b, tmp.path());
    let fail = failing_flush(&mut idx);
    idx.apply(vec![put("/lib/a.jpg", 1, 0)]).unwrap();

    fail.store(true, Ordering::SeqCst);
    assert!(idx.apply(vec![put("/lib/b.mp4", 2, 2)]).is_err());
    fail.store(false, Ordering::SeqCst);
    // The file is gone before anyone retries; other content is written instead.
    idx.apply(vec![put("/lib/c.jpg", 3, 0)]).unwrap();
    assert!(idx.text().docs_of(&id(2)).unwrap().is_empty());
    let c = assert_clean(&idx);
    assert_eq!((c.files, c.assets, c.points, c.text_docs), (2, 2, 2, 2));
}

fn writes_need_the_write_lock(b: &Backend) {
    let tmp = tempfile::tempdir().unwrap();
    drop(open(b, tmp.path()));
    let idx = Index::open_with(tmp.path(), Access::Read, &b.options()).unwrap();
    let err = idx.apply(vec![put("/lib/a.jpg", 1, 0)]).unwrap_err();
    assert!(matches!(err, Error::Busy(_)), "{err}");
}

/// The server goes away in the middle of a batch (after some of its vector writes went in) for
/// longer than the retries: the batch fails with `store_unavailable`, nothing is committed, and
/// once the server is back the same batch gives what a clean run gives.
#[test]
fn a_server_that_goes_away_mid_batch_loses_nothing_and_duplicates_nothing() {
    let b = Backend::qdrant();
    let Backend::Qdrant(server, _) = &b else {
        unreachable!()
    };
    let tmp = tempfile::tempdir().unwrap();
    let idx = open(&b, tmp.path());
    idx.apply(vec![put("/lib/a.jpg", 1, 0)]).unwrap();
    let before = state(&idx);
    let second = || {
        vec![
            put("/lib/b.mp4", 2, 3),
            put("/lib/c.jpg", 3, 0),
            unlink("/lib/a.jpg"),
        ]
    };
    // Deletes and upserts go through; then the server is gone for good (more than 3 tries).
    server
        .faults()
        .fail_next(100, tonic::Code::Unavailable, Some("Upsert"));
    let e = idx.apply(second()).expect_err("the batch must fail");
    assert_eq!(e.code(), ErrorCode::StoreUnavailable, "{e}");
    let s = state(&idx);
    assert_eq!(s.files, before.files);
    assert_eq!(s.assets, before.assets);
    server.faults().clear();
    drop(idx);
    // `loupe index` again: the same batch.
    let idx = open(&b, tmp.path());
    idx.apply(second()).unwrap();
    assert_clean(&idx);
    let other = tempfile::tempdir().unwrap();
    let clean = open(&b, other.path());
    clean.apply(vec![put("/lib/a.jpg", 1, 0)]).unwrap();
    clean.apply(second()).unwrap();
    assert_eq!(state(&idx), state(&clean));
}

/// A server restart between batches is invisible to the index.
#[test]
fn a_server_restart_between_batches_is_survived() {
    let mut b = Backend::qdrant();
    let tmp = tempfile::tempdir().unwrap();
    let idx = open(&b, tmp.path());
    idx.apply(vec![put("/lib/a.mp4", 1, 2)]).unwrap();
    if let Backend::Qdrant(server, _) = &mut b {
        server.restart().unwrap();
    }
    idx.apply(vec![put("/lib/b.jpg", 2, 0), link("/lib/c/a.mp4", 1)])
        .unwrap();
    assert_clean(&idx);
    assert_eq!(state(&idx).points.len(), 4);
}

/// Embedded -> server -> embedded, with a migration killed part way (the server fails for good
/// in the middle) and resumed: the index answers the same at every step and ends consistent.
#[test]
fn migrate_to_a_server_and_back_resuming_after_a_failure() {
    let server_side = Backend::qdrant();
    let Backend::Qdrant(server, _) = &server_side else {
        unreachable!()
    };
    let embedded = Backend::Embedded;
    let tmp = tempfile::tempdir().unwrap();
    let idx = open(&embedded, tmp.path());
    let ops: Vec<Op> = (1..=9).map(|n| put(&format!("/lib/v{n}.mp4"), n, 3)).collect();
    idx.apply(ops).unwrap();
    let want = state(&idx);
    let target = server_side.options().qdrant.unwrap();
    let search = |idx: &Index| {
        idx.vectors()
            .search(&VectorQuery {
                space: Space::Visual,
                vector: &[3.0, 1.0, 1.0],
                filters: &loupe_schemas::Filters::default(),
                limit: 10,
                score_threshold: None,
            })
            .unwrap()
            .into_iter()
            .map(|h| h.segment_id)
            .collect::<Vec<_>>()
    };
    let hits = search(&idx);

    // The server fails for good after two batches: the migration stops, the index is untouched.
    let batches = std::sync::atomic::AtomicUsize::new(0);
    let e = idx
        .migrate(MigrateTarget::Qdrant(Box::new(target.clone())), 5, &mut |_, _| {
            if batches.fetch_add(1, Ordering::SeqCst) == 1 {
                server
                    .faults()
                    .fail_next(100, tonic::Code::Unavailable, Some("Upsert"));
            }
        })
        .expect_err("the migration must fail");
    assert_eq!(e.code(), ErrorCode::StoreUnavailable, "{e}");
    server.faults().clear();
    let idx = open(&embedded, tmp.path());
    assert_eq!(state(&idx), want, "a failed migration changed the index");
    assert!(tmp.path().join("migrate.json").is_file());

    // Run again: it resumes, verifies and switches.
    let report = idx
        .migrate(MigrateTarget::Qdrant(Box::new(target.clone())), 5, &mut |_, _| {})
        .unwrap();
    assert!(report.resumed);
    assert_eq!(report.points, 36);
    assert!(report.copied < 36, "{report:?}");
    assert!(report.verified > 0);
    assert!(!tmp.path().join("vectors").exists(), "the embedded copy is gone");
    assert!(!tmp.path().join("migrate.json").exists());
    // Opening without the server is refused with what to do; with it, all is as before.
    let e = Index::open_with(tmp.path(), Access::Read, &OpenOptions::default())
        .err()
        .unwrap();
    assert!(e.to_string().contains("--qdrant-url"), "{e}");
    let idx = open(&server_side, tmp.path());
    assert_eq!(state(&idx), want);
    assert_eq!(search(&idx), hits);
    assert_clean(&idx);

    // And back.
    let report = idx.migrate(MigrateTarget::Embedded, 7, &mut |_, _| {}).unwrap();
    assert!(!report.resumed);
    assert_eq!(report.copied, 36);
    let e = Index::open_with(tmp.path(), Access::Read, &server_side.options())
        .err()
        .unwrap();
    assert!(e.to_string().contains("migrate --to"), "{e}");
    let idx = open(&embedded, tmp.path());
    assert_eq!(state(&idx), want);
    assert_eq!(search(&idx), hits);
    assert_clean(&idx);
    assert_eq!(batches.load(Ordering::SeqCst), 2);
}

/// A migration stopped part way, then the index changes (`loupe index` ran meanwhile): the next
/// migration starts over rather than resume past points that changed, and the index is whole.
#[test]
fn a_migration_resumed_after_the_index_changed_starts_over() {
    let server_side = Backend::qdrant();
    let Backend::Qdrant(server, _) = &server_side else {
        unreachable!()
    };
    let tmp = tempfile::tempdir().unwrap();
    let idx = open(&Backend::Embedded, tmp.path());
    idx.apply((1..=6).map(|n| put(&format!("/lib/v{n}.mp4"), n, 3)).collect())
        .unwrap();
    let target = Box::new(server_side.options().qdrant.unwrap());
    let batches = std::sync::atomic::AtomicUsize::new(0);
    idx.migrate(MigrateTarget::Qdrant(target.clone()), 4, &mut |_, _| {
        if batches.fetch_add(1, Ordering::SeqCst) == 0 {
            server
                .faults()
                .fail_next(100, tonic::Code::Unavailable, Some("Upsert"));
        }
    })
    .expect_err("the migration must fail");
    server.faults().clear();
    let idx = open(&Backend::Embedded, tmp.path());
    idx.apply(vec![unlink("/lib/v1.mp4"), put("/lib/v9.mp4", 9, 2)])
        .unwrap();
    let want = state(&idx);
    let report = idx
        .migrate(MigrateTarget::Qdrant(target), 4, &mut |_, _| {})
        .unwrap();
    assert!(!report.resumed, "{report:?}");
    assert_eq!(report.copied, report.points);
    let idx = open(&server_side, tmp.path());
    assert_eq!(state(&idx), want);
    assert_clean(&idx);
}

/// Every test above, on each backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(#[test]
            fn $name() {
                super::$name(&super::Backend::Embedded)
            })*
        }
        mod qdrant_server {
            $(#[test]
            fn $name() {
                super::$name(&super::Backend::qdrant())
            })*
        }
    };
}

on_both_backends!(
    the_same_batch_twice_gives_the_same_index,
    an_empty_batch_writes_nothing,
    links_and_unlinks_move_paths_without_touching_segments,
    unlinking_the_last_path_deletes_the_asset_its_points_and_thumbnails,
    new_content_at_a_known_path_replaces_the_old,
    a_batch_with_a_bad_op_writes_nothing,
    a_failed_write_leaves_the_catalog_behind_and_the_next_open_cleans_up,
    a_failed_write_can_be_retried_in_the_same_process,
    a_failed_write_then_other_work_leaves_no_orphans,
    writes_need_the_write_lock
);
