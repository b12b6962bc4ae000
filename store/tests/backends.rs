//! The vector-backend conformance suite: the same tests against every backend.
//!
//! - Qdrant Edge, in process: always.
//! - A Qdrant server through the real `qdrant-client` over real gRPC on loopback: always, against
//!   `loupe-qdrant-loopback` (Qdrant's own protos, served by Edge shards), with faults injected
//!   there (unavailable for N calls, lost replies, dropped connections, restarts, a bad key).
//! - A real Qdrant server when `QDRANT_URL` is set (and `QDRANT_API_KEY` if it needs one); without
//!   it those tests print that they were skipped and why.
//!
//! Every filter combination must return the same ids in the same order on each backend.

use loupe_qdrant_loopback::{Loopback, Options};
use loupe_schemas::{AssetId, AssetKind, Filters, Locator, Segment};
use loupe_store::vectors::{OpenMode, RetryPolicy, ancestor_dirs};
use loupe_store::{
    CollectionModels, EdgeBackend, Error, Point, PointPayload, QdrantBackend, QdrantConfig, Space,
    VectorBackend, VectorQuery,
};
use std::time::{Duration, Instant};

const DIM: usize = 4;

fn models() -> CollectionModels {
    CollectionModels {
        visual: ("test-clip@0001".into(), DIM),
        text: Some(("test-text@0002".into(), 3)),
    }
}

fn asset(n: u8) -> AssetId {
    AssetId::from_hash(&[n; 32])
}

/// A small library: 12 assets of three kinds in three folders, dated 100 s apart, with videos of
/// growing length; every asset has a visual vector, every third a text vector too.
fn library() -> Vec<Point> {
    (1..=12u8)
        .map(|n| {
            let kind = match n % 3 {
                0 => AssetKind::Image,
                1 => AssetKind::Video,
                _ => AssetKind::Document,
            };
            let folder = ["/lib/a", "/lib/b", "/lib/a/deep"][usize::from(n % 3)];
            let f = f32::from(n);
            let mut vectors = vec![(Space::Visual, vec![1.0, f / 12.0, (f * 0.7).sin(), 0.1])];
            if n % 3 == 0 {
                vectors.push((Space::Text, vec![f.cos(), 1.0, f / 6.0]));
            }
            Point::of(
                &Segment::new(asset(n), Locator::Whole),
                PointPayload {
                    kind,
                    dirs: ancestor_dirs(&format!("{folder}/f{n}.bin")),
                    date_ts: 1_700_000_000 + i64::from(n) * 100,
                    duration_ms: if kind == AssetKind::Video {
                        i64::from(n) * 1_000
                    } else {
                        -1
                    },
                },
                vectors,
            )
        })
        .collect()
}

/// Every filter Loupe has, alone and combined.
fn filter_cases() -> Vec<(&'static str, Filters)> {
    let f = Filters::default;
    vec![
        ("none", f()),
        (
            "kinds",
            Filters {
                kinds: vec![AssetKind::Image, AssetKind::Video],
                ..f()
            },
        ),
        (
            "folder",
            Filters {
                path_prefix: Some("/lib/a/".into()),
                ..f()
            },
        ),
        (
            "deep folder",
            Filters {
                path_prefix: Some("/lib/a/deep".into()),
                ..f()
            },
        ),
        (
            "dates",
            Filters {
                date_from: Some(1_700_000_300),
                date_to: Some(1_700_000_800),
                ..f()
            },
        ),
        (
            "date from",
            Filters {
                date_from: Some(1_700_000_900),
                ..f()
            },
        ),
        (
            "long videos",
            Filters {
                duration_min_s: Some(5.0),
                ..f()
            },
        ),
        (
            "short videos",
            Filters {
                duration_max_s: Some(5.0),
                ..f()
            },
        ),
        (
            "assets",
            Filters {
                asset_ids: vec![asset(2), asset(5), asset(9)],
                ..f()
            },
        ),
        (
            "all at once",
            Filters {
                kinds: vec![AssetKind::Video, AssetKind::Document],
                path_prefix: Some("/lib".into()),
                date_from: Some(1_700_000_100),
                date_to: Some(1_700_001_100),
                duration_min_s: Some(1.0),
                duration_max_s: Some(10.0),
                asset_ids: vec![asset(1), asset(4), asset(7), asset(10), asset(2)],
            },
        ),
        (
            "nothing matches",
            Filters {
                kinds: vec![AssetKind::Audio],
                ..f()
            },
        ),
    ]
}

/// What a backend answers to every query of the suite, for comparing backends.
fn answers(b: &dyn VectorBackend) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for (name, filters) in filter_cases() {
        for (space, v, threshold) in [
            (Space::Visual, vec![1.0, 0.5, 0.0, 0.1], None),
            (Space::Visual, vec![0.2, 1.0, -0.5, 0.0], Some(0.5)),
            (Space::Text, vec![0.0, 1.0, 1.0], None),
        ] {
            let hits = b
                .search(&VectorQuery {
                    space,
                    vector: &v,
                    filters: &filters,
                    limit: 8,
                    score_threshold: threshold,
                })
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut prev = f32::INFINITY;
            for h in &hits {
                assert!(h.score <= prev + 1e-6, "{name}: not sorted by score");
                prev = h.score;
                if let Some(t) = threshold {
                    assert!(h.score >= t - 1e-6, "{name}: {} below the threshold", h.score);
                }
            }
            out.push((
                format!("{name}/{}/{threshold:?}", space.name()),
                hits.iter()
                    .map(|h| (h.segment_id.to_string(), format!("{:.4}", h.score)))
                    .collect(),
            ));
        }
    }
    out
}

/// The whole suite on one backend; `reopen` opens the same store again (a restart of the process).
fn conformance(open: &dyn Fn(bool) -> Box<dyn VectorBackend>) -> Vec<(String, Vec<(String, String)>)> {
    let first = open(true);
    let b = first.as_ref();
    assert_eq!(b.count().unwrap(), 0);
    let points = library();
    b.upsert(points.clone()).unwrap();
    // Writing again is an upsert, never a duplicate.
    b.upsert(points[..4].to_vec()).unwrap();
    b.flush().unwrap();
    assert_eq!(b.count().unwrap(), 12);

    // Filters, by what they must select.
    let ids_for = |b: &dyn VectorBackend, filters: &Filters| -> Vec<AssetId> {
        let mut ids: Vec<AssetId> = b
            .search(&VectorQuery {
                space: Space::Visual,
                vector: &[1.0, 0.0, 0.0, 0.0],
                filters,
                limit: 100,
                score_threshold: None,
            })
            .unwrap()
            .into_iter()
            .map(|h| h.asset_id)
            .collect();
        ids.sort();
        ids
    };
    let expect = |ns: &[u8]| -> Vec<AssetId> {
        let mut v: Vec<AssetId> = ns.iter().map(|n| asset(*n)).collect();
        v.sort();
        v
    };
    let cases = filter_cases();
    let case = |name: &str| &cases.iter().find(|(n, _)| *n == name).unwrap().1;
    assert_eq!(ids_for(b, case("none")).len(), 12);
    assert_eq!(ids_for(b, case("kinds")), expect(&[1, 3, 4, 6, 7, 9, 10, 12]));
    assert_eq!(ids_for(b, case("folder")), expect(&[2, 3, 5, 6, 8, 9, 11, 12]));
    assert_eq!(ids_for(b, case("deep folder")), expect(&[2, 5, 8, 11]));
    assert_eq!(ids_for(b, case("dates")), expect(&[3, 4, 5, 6, 7, 8]));
    assert_eq!(ids_for(b, case("date from")), expect(&[9, 10, 11, 12]));
    assert_eq!(ids_for(b, case("long videos")), expect(&[7, 10]));
    assert_eq!(ids_for(b, case("short videos")), expect(&[1, 4]));
    assert_eq!(ids_for(b, case("assets")), expect(&[2, 5, 9]));
    assert_eq!(ids_for(b, case("all at once")), expect(&[1, 4, 7, 10]));
    assert!(ids_for(b, case("nothing matches")).is_empty());
    let before = answers(b);

    // Scroll: every point once, in id order, page by page, with payload and vectors.
    let mut seen = Vec::new();
    let mut offset = None;
    loop {
        let page = b.scroll(offset, 5, true).unwrap();
        assert!(page.points.len() <= 5);
        seen.extend(page.points);
        match page.next {
            Some(n) => offset = Some(n),
            None => break,
        }
    }
    let mut want = points.clone();
    want.sort_by_key(|p| p.id);
    assert_eq!(seen.len(), 12);
    for (got, want) in seen.iter().zip(&want) {
        assert_eq!(got.id, want.id);
        assert_eq!(got.asset_id, want.asset_id);
        assert_eq!(got.payload, want.payload);
        assert_eq!(got.vectors.len(), want.vectors.len());
    }
    assert_eq!(b.points().unwrap().len(), 12);

    // Get and vector: stored vectors come back normalised (cosine), missing ids are left out.
    let three = Segment::new(asset(3), Locator::Whole);
    let got = b.get(&[three.id, loupe_schemas::Uuid::nil()]).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].vectors.len(), 2);
    let v = b.vector(three.id, Space::Visual).unwrap().unwrap();
    let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    assert!(b.vector(three.id, Space::Text).unwrap().is_some());
    assert!(
        b.vector(Segment::new(asset(1), Locator::Whole).id, Space::Text)
            .unwrap()
            .is_none()
    );

    // A restart keeps everything.
    drop(first);
    let again = open(false);
    let b = again.as_ref();
    assert_eq!(b.count().unwrap(), 12);
    assert_eq!(answers(b), before, "answers changed across a reopen");

    // Moves and deletes.
    b.set_dirs(&asset(2), &ancestor_dirs("/else where/My Trip/x.bin"))
        .unwrap();
    assert_eq!(ids_for(b, case("deep folder")), expect(&[5, 8, 11]));
    // Folders with spaces are exact keywords, never text matches.
    let folder = |p: &str| Filters {
        path_prefix: Some(p.into()),
        ..Filters::default()
    };
    assert_eq!(ids_for(b, &folder("/else where/My Trip/")), expect(&[2]));
    assert!(ids_for(b, &folder("/else where/My")).is_empty());
    assert!(ids_for(b, &folder("My Trip")).is_empty());
    assert!(ids_for(b, &folder("/else where/My Trip 2")).is_empty());
    b.delete_asset(&asset(1)).unwrap();
    b.delete_asset(&asset(1)).unwrap();
    assert_eq!(b.count().unwrap(), 11);
    assert_eq!(ids_for(b, case("short videos")), expect(&[4]));
    before
}

/// A new collection the first time, the existing one after.
fn mode(fresh: bool) -> OpenMode {
    if fresh { OpenMode::New } else { OpenMode::Existing }
}

fn loopback_config(url: String) -> QdrantConfig {
    QdrantConfig {
        retry: RetryPolicy {
            attempts: 4,
            initial_ms: 10,
            max_ms: 50,
        },
        ..QdrantConfig::new(url)
    }
}

#[test]
fn edge_and_the_server_backend_agree_on_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let edge_dir = tmp.path().join("edge");
    let edge_answers = conformance(&|_| Box::new(EdgeBackend::open(&edge_dir, DIM, Some(3)).unwrap()));

    let server = Loopback::start(&tmp.path().join("server")).unwrap();
    let config = loopback_config(server.url());
    let remote_answers = conformance(&|fresh| {
        Box::new(QdrantBackend::open(&config, "suite", &models(), mode(fresh)).unwrap())
    });
    assert_eq!(edge_answers, remote_answers, "the backends disagree");
    // Writes went in batches, each waited for.
    assert!(server.calls_to("Upsert") >= 2);
}

#[test]
fn the_collection_is_laid_out_like_the_embedded_one_and_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Loopback::start(tmp.path()).unwrap();
    let config = loopback_config(server.url());
    QdrantBackend::open(&config, "c", &models(), OpenMode::New).unwrap();
    // Payload indexes on every filtered field, one named vector per model with its dimension,
    // and the models in the collection's metadata: checked through the real client.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let info = rt.block_on(async {
        let c = qdrant_client::Qdrant::from_url(&server.url())
            .skip_compatibility_check()
            .build()
            .unwrap();
        c.collection_info("c").await.unwrap()
    });
    let info = info.result.unwrap();
    let mut fields: Vec<&str> = info.payload_schema.keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(fields, ["asset_id", "date_ts", "dirs", "duration_ms", "kind"]);
    let config_out = info.config.unwrap();
    assert_eq!(
        config_out
            .metadata
            .get("loupe_visual_model")
            .and_then(|v| v.as_str().cloned()),
        Some("test-clip@0001".to_string())
    );

    // Another dimension, another model, or a missing collection: refused with both named.
    let other_dim = CollectionModels {
        visual: ("test-clip@0001".into(), 8),
        text: None,
    };
    let e = QdrantBackend::open(&config, "c", &other_dim, OpenMode::New)
        .err()
        .unwrap();
    assert!(matches!(e, Error::CollectionMismatch(_)), "{e}");
    assert!(
        e.to_string().contains("dimension 4") && e.to_string().contains("dimension 8"),
        "{e}"
    );
    let other_model = CollectionModels {
        visual: ("clip-vit-b-32@abcd".into(), DIM),
        text: None,
    };
    let e = QdrantBackend::open(&config, "c", &other_model, OpenMode::New)
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("test-clip@0001") && e.to_string().contains("clip-vit-b-32@abcd"),
        "{e}"
    );
    let e = QdrantBackend::open(&config, "gone", &models(), OpenMode::Existing)
        .err()
        .unwrap();
    assert!(e.to_string().contains("does not exist"), "{e}");
    assert_eq!(e.code(), loupe_schemas::ErrorCode::StoreError);
}

#[test]
fn transient_errors_are_retried_and_permanent_ones_fail_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Loopback::start_with(
        tmp.path(),
        Options {
            api_key: Some("the-right-key-0123456789".into()),
            addr: None,
        },
    )
    .unwrap();
    let mut config = loopback_config(server.url());
    config.api_key = Some("the-right-key-0123456789".into());
    let b = QdrantBackend::open(&config, "r", &models(), OpenMode::New).unwrap();

    // Unavailable three times, then fine: the write lands once.
    server
        .faults()
        .fail_next(3, tonic::Code::Unavailable, Some("Upsert"));
    b.upsert(library()).unwrap();
    assert_eq!(b.count().unwrap(), 12);
    // A new index never inherits a collection's points.
    let e = QdrantBackend::open(&config, "r", &models(), OpenMode::New)
        .err()
        .unwrap();
    assert!(e.to_string().contains("already holds 12 points"), "{e}");
    // A lost reply (applied, then an error): the retry is an upsert of the same ids.
    server.faults().fail_after_apply(1, tonic::Code::DeadlineExceeded);
    b.upsert(library()).unwrap();
    assert_eq!(b.count().unwrap(), 12);
    // Down for longer than the retries: a clear, typed error.
    server.faults().fail_next(10, tonic::Code::Unavailable, None);
    let e = b.count().err().unwrap();
    assert!(matches!(e, Error::VectorUnavailable(_)), "{e}");
    assert_eq!(e.code(), loupe_schemas::ErrorCode::StoreUnavailable);
    assert!(e.to_string().contains("4 tries"), "{e}");
    server.faults().clear();

    // A bad key fails at once (no retries) and says what to fix; the key is not in the message.
    let mut wrong = config.clone();
    wrong.api_key = Some("a-wrong-key-9876543210".into());
    wrong.retry.initial_ms = 2_000;
    let started = Instant::now();
    let e = QdrantBackend::open(&wrong, "r", &models(), OpenMode::Existing)
        .err()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a permanent error was retried"
    );
    assert_eq!(e.code(), loupe_schemas::ErrorCode::Config);
    assert!(e.to_string().contains("API key"), "{e}");
    assert!(
        !e.to_string().contains("wrong-key") && !e.to_string().contains("right-key"),
        "{e}"
    );

    // A wrong dimension is permanent too.
    let bad = vec![Point::of(
        &Segment::new(asset(99), Locator::Whole),
        library()[0].payload.clone(),
        vec![(Space::Visual, vec![1.0, 2.0])],
    )];
    server.faults().clear();
    let calls = server.calls_to("Upsert");
    let e = b.upsert(bad).err().unwrap();
    assert_eq!(
        server.calls_to("Upsert"),
        calls + 1,
        "a permanent error was retried"
    );
    assert!(e.to_string().contains("dimension"), "{e}");
}

#[test]
fn a_server_that_restarts_or_drops_connections_mid_run_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Loopback::start(tmp.path()).unwrap();
    let mut config = loopback_config(server.url());
    config.batch_size = 3;
    let b = QdrantBackend::open(&config, "k", &models(), OpenMode::New).unwrap();
    let points = library();
    b.upsert(points[..6].to_vec()).unwrap();
    server.restart().unwrap();
    b.upsert(points[6..9].to_vec()).unwrap();
    server.drop_connections().unwrap();
    b.upsert(points[9..].to_vec()).unwrap();
    assert_eq!(b.count().unwrap(), 12);
    // Unreachable for a moment (the port refuses connections), back before the retries run out.
    server.pause();
    let resume = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(60));
        server.resume().unwrap();
        server
    });
    let mut slow = config.clone();
    slow.retry = RetryPolicy {
        attempts: 8,
        initial_ms: 20,
        max_ms: 200,
    };
    let b2 = QdrantBackend::connect(&slow, "k");
    let server = resume.join().unwrap();
    let b2 = b2.unwrap();
    assert_eq!(b2.count().unwrap(), 12);
    drop(server);
}

/// The suite against a real Qdrant server, when one is named.
#[test]
fn a_real_qdrant_server_when_qdrant_url_is_set() {
    let Some(url) = std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!(
            "SKIPPED a_real_qdrant_server_when_qdrant_url_is_set: QDRANT_URL is not set (no Qdrant \
             server package can be installed here; the loopback server above ran the same suite)"
        );
        return;
    };
    let mut config = QdrantConfig::new(url);
    config.api_key = std::env::var("QDRANT_API_KEY").ok();
    let name = format!("loupe_suite_{}", std::process::id());
    let tmp = tempfile::tempdir().unwrap();
    let edge_dir = tmp.path().join("edge");
    let want = conformance(&|_| Box::new(EdgeBackend::open(&edge_dir, DIM, Some(3)).unwrap()));
    let got =
        conformance(&|fresh| Box::new(QdrantBackend::open(&config, &name, &models(), mode(fresh)).unwrap()));
    // The suite's collection is removed again.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = qdrant_client::Qdrant::from_url(&config.url)
            .api_key(config.api_key.clone())
            .skip_compatibility_check()
            .build()
            .unwrap();
        c.delete_collection(name.clone()).await.unwrap();
    });
    assert_eq!(want, got);
}
