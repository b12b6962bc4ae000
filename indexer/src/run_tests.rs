//! Whole `index_path` runs with the deterministic fake embedder (no model installed): what a
//! first run indexes and reports, that a second run changes nothing, that copies are linked
//! without a model run, that deleted files leave the index, and that the result is consistent and
//! searchable in the visual space.

use crate::{Models, Options, index_path};
use image::{Rgb, RgbImage};
use loupe_models::VisualEmbedder;
use loupe_models::fake::FakeEmbedder;
use loupe_models::whisper::Decode;
use loupe_schemas::Filters;
use loupe_store::{Index, IndexModels, ModelSpec, Space, VectorQuery};
use std::path::Path;
use std::sync::atomic::AtomicBool;

fn solid(path: &Path, rgb: [u8; 3]) {
    RgbImage::from_pixel(64, 48, Rgb(rgb))
        .save(path)
        .expect("write a test image");
}

fn open(dir: &Path, fake: &FakeEmbedder) -> Index {
    let models = IndexModels {
        visual: ModelSpec {
            id: VisualEmbedder::id(fake),
            dim: VisualEmbedder::dim(fake),
        },
        text: None,
    };
    Index::open_or_create(dir, &models).expect("open a test index")
}

fn run(index: &Index, fake: &FakeEmbedder, root: &Path) -> loupe_schemas::IndexReport {
    let decode = Decode::default();
    let models = Models {
        clip: fake,
        text: None,
        whisper: None,
        ocr: None,
        decode: &decode,
    };
    index_path(index, &models, root, &Options::default(), &AtomicBool::new(false)).expect("index run")
}

/// The file names of the nearest assets to a colour word, best first.
fn nearest(index: &Index, fake: &FakeEmbedder, word: &str) -> Vec<String> {
    let q = fake.text_vector(word);
    let hits = index
        .vectors()
        .search(&VectorQuery {
            space: Space::Visual,
            vector: &q,
            filters: &Filters::default(),
            limit: 10,
            score_threshold: Some(0.5),
        })
        .expect("search");
    hits.iter()
        .map(|h| {
            let rec = index.asset(&h.asset_id).expect("catalog").expect("asset");
            Path::new(&rec.asset.path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn a_library_indexes_once_links_copies_and_forgets_deleted_files() {
    let lib = tempfile::tempdir().unwrap();
    let idx = tempfile::tempdir().unwrap();
    let root = lib.path();
    solid(&root.join("red.png"), [220, 30, 30]);
    solid(&root.join("blue.jpg"), [30, 40, 220]);
    std::fs::create_dir(root.join("sub")).unwrap();
    solid(&root.join("sub/green.png"), [30, 180, 40]);
    std::fs::write(root.join("broken.png"), b"\x89PNG\r\n\x1a\n not really").unwrap();
    std::fs::write(root.join("notes.txt"), "not media").unwrap();
    let fake = FakeEmbedder::new("fake-clip", 16);
    let index = open(&idx.path().join("index"), &fake);

    // First run: three photos in, the broken one reported with a reason, the text file ignored.
    let r = run(&index, &fake, root);
    assert_eq!(
        (r.indexed, r.unchanged, r.linked, r.removed),
        (3, 0, 0, 0),
        "{r:?}"
    );
    assert_eq!(r.failed.len(), 1, "{:?}", r.failed);
    assert!(r.failed[0].path.ends_with("broken.png"));
    assert!(!r.failed[0].reason.is_empty());
    assert_eq!(index.vectors().count().unwrap(), 3);
    assert_eq!(nearest(&index, &fake, "red"), ["red.png"]);
    assert_eq!(nearest(&index, &fake, "green"), ["green.png"]);

    // Second run: nothing changed, nothing written.
    let r = run(&index, &fake, root);
    assert_eq!(
        (r.indexed, r.unchanged, r.linked, r.removed),
        (0, 3, 0, 0),
        "{r:?}"
    );
    assert_eq!(index.vectors().count().unwrap(), 3);

    // A copy is linked to the known content (no model run, no new point); a deleted file leaves.
    std::fs::copy(root.join("red.png"), root.join("sub/red-copy.png")).unwrap();
    std::fs::remove_file(root.join("blue.jpg")).unwrap();
    let r = run(&index, &fake, root);
    assert_eq!((r.indexed, r.linked, r.removed), (0, 1, 1), "{r:?}");
    assert_eq!(index.vectors().count().unwrap(), 2);
    assert_eq!(index.catalog().counts().unwrap(), (3, 2), "files, assets");
    assert!(nearest(&index, &fake, "blue").is_empty());
    assert!(index.check().unwrap().is_clean());
}
