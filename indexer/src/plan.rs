//! Walk and plan: which files are new, changed, moved or gone, decided from the file system and
//! the catalog alone (no decoding, no model).
//!
//! - [`walk`]: every file under the root; a file whose size and mtime match the catalog is
//!   unchanged and costs one `stat`; the others become [`Candidate`]s.
//! - [`identify`]: a candidate is read once and hashed (BLAKE3 = asset id); [`is_known`] says
//!   whether that content is indexed already (a copy or a move: linked, nothing re-embedded).
//! - [`batches`]: photos in batches, each video, recording or document on its own.
//! - [`gone`]: paths the catalog has under the root that the walk did not see.

use crate::progress::Progress;
use crate::report;
use crate::{DecodeLimits, Result};
use loupe_media::{kind_of, sniff_kind};
use loupe_schemas::{AssetId, AssetKind, IndexReport};
use loupe_store::{FileEntry, Index, Op};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// A file that is new or changed since the catalog last saw it.
#[derive(Debug)]
pub(crate) struct Candidate {
    pub path: PathBuf,
    /// The path as the catalog keys it.
    pub key: String,
    /// From the name, corrected by the content's first bytes.
    pub kind: AssetKind,
    pub size: u64,
    pub mtime_ns: i128,
    /// What the catalog had at this path.
    pub previous: Option<FileEntry>,
}

impl Candidate {
    /// The file name, for status lines.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map_or_else(|| self.key.clone(), |n| n.to_string_lossy().into_owned())
    }
}

/// What the walk found.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    /// Every media path seen (what is in the catalog under the root but not here is gone).
    pub seen: HashSet<String>,
    /// New and changed files, in walk order.
    pub todo: Vec<Candidate>,
}

fn mtime_ns(meta: &std::fs::Metadata) -> i128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128)
}

/// Walks `root` (canonical; symbolic links followed, loops reported) and sorts every file into
/// the report's counters (`seen`, `ignored`, `unchanged`, `failed`) or the returned to-do list.
pub(crate) fn walk(
    index: &Index,
    root: &Path,
    report: &mut IndexReport,
    progress: &dyn Progress,
) -> Result<Walk> {
    let mut out = Walk::default();
    progress.walk_started();
    for entry in walkdir::WalkDir::new(root).follow_links(true).sort_by_file_name() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                report.failed.push(report::walk_failure(root, &e));
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        report.seen += 1;
        progress.file_found();
        let path = entry.path().to_path_buf();
        let Some(key) = path.to_str().map(str::to_string) else {
            report.failed.push(report::failure(
                path.to_string_lossy(),
                "file name is not valid UTF-8 (not supported yet)",
            ));
            continue;
        };
        let Some(kind) = kind_of(&path) else {
            report.ignored += 1;
            continue;
        };
        out.seen.insert(key.clone());
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                report.failed.push(report::failure(key, e.to_string()));
                continue;
            }
        };
        let (size, mtime_ns) = (meta.len(), mtime_ns(&meta));
        let previous = index.catalog().file(&key)?;
        if previous
            .as_ref()
            .is_some_and(|p| p.size == size && p.mtime_ns == mtime_ns)
        {
            report.unchanged += 1;
            continue;
        }
        let kind = sniff_kind(&path, kind).unwrap_or(kind);
        out.todo.push(Candidate {
            path,
            key,
            kind,
            size,
            mtime_ns,
            previous,
        });
    }
    Ok(out)
}

/// Photos go in batches of `batch_size` (decoded in parallel); each video, recording or
/// document is a batch of its own, since one file can hold hundreds of segments.
pub(crate) fn batches(todo: Vec<Candidate>, batch_size: usize) -> Vec<Vec<Candidate>> {
    let (photos, timed): (Vec<Candidate>, Vec<Candidate>) =
        todo.into_iter().partition(|c| c.kind == AssetKind::Image);
    let mut out: Vec<Vec<Candidate>> = Vec::new();
    let mut photos = photos.into_iter().peekable();
    while photos.peek().is_some() {
        out.push(photos.by_ref().take(batch_size.max(1)).collect());
    }
    out.extend(timed.into_iter().map(|c| vec![c]));
    out
}

/// A candidate read and hashed: its catalog entry, and its bytes when it is a photo (read into
/// memory once, for the hash and the decoder).
pub(crate) struct Identified {
    pub file: FileEntry,
    pub bytes: Option<Vec<u8>>,
}

/// Reads and hashes a candidate. Photos are read once into memory (hash + decode); videos,
/// recordings and documents are hashed as a stream, since they can be many gigabytes, and decoded
/// from the file later. Errors are per-file reasons.
pub(crate) fn identify(c: &Candidate, limits: &DecodeLimits) -> Result<Identified, String> {
    if c.size == 0 {
        return Err("empty file (0 bytes)".into());
    }
    let bytes = if c.kind == AssetKind::Image {
        if c.size > limits.max_file_bytes {
            return Err(format!(
                "file is {} bytes, over the {} byte limit for images",
                c.size, limits.max_file_bytes
            ));
        }
        Some(std::fs::read(&c.path).map_err(|e| format!("cannot read: {e}"))?)
    } else {
        None
    };
    let (hash, size) = match &bytes {
        Some(b) => (blake3::hash(b), b.len() as u64),
        None => {
            let f = std::fs::File::open(&c.path).map_err(|e| format!("cannot read: {e}"))?;
            let mut h = blake3::Hasher::new();
            h.update_reader(f).map_err(|e| format!("cannot read: {e}"))?;
            (h.finalize(), c.size)
        }
    };
    Ok(Identified {
        file: FileEntry {
            asset_id: AssetId::from_hash(hash.as_bytes()),
            size,
            mtime_ns: c.mtime_ns,
        },
        bytes,
    })
}

/// Whether this content is indexed already (then the path is linked to it: no model run).
pub(crate) fn is_known(index: &Index, file: &FileEntry) -> Result<bool, String> {
    index
        .catalog()
        .asset(&file.asset_id)
        .map(|a| a.is_some())
        .map_err(|e| e.to_string())
}

/// Removals for the paths the catalog holds under `root` that the walk did not see.
pub(crate) fn gone(index: &Index, root: &Path, seen: &HashSet<String>) -> Result<Vec<Op>> {
    Ok(index
        .catalog()
        .files_under(&root.to_string_lossy())?
        .into_iter()
        .filter(|(p, _)| !seen.contains(p))
        .map(|(path, _)| Op::Unlink { path })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;
    use crate::testing::{asset_record, open_index};

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Records `path` in the catalog as the file it is now (size and mtime), with content `n`.
    fn index_as_is(index: &Index, path: &Path, id: AssetId) {
        let meta = std::fs::metadata(path).unwrap();
        let key = path.to_str().unwrap().to_string();
        let file = FileEntry {
            asset_id: id,
            size: meta.len(),
            mtime_ns: mtime_ns(&meta),
        };
        index
            .apply(vec![Op::Put {
                path: key.clone(),
                record: Box::new(asset_record(&key, &file, AssetKind::Image)),
                file,
                segments: Vec::new(),
            }])
            .unwrap();
    }

    #[test]
    fn unchanged_files_are_skipped_and_the_rest_is_sorted() {
        let lib = tempfile::tempdir().unwrap();
        let root = lib.path().canonicalize().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let index = open_index(tmp.path());
        let same = write(&root, "a/same.jpg", b"same bytes");
        let edited = write(&root, "a/edited.png", b"old bytes");
        index_as_is(&index, &same, AssetId::from_hash(&[1; 32]));
        index_as_is(&index, &edited, AssetId::from_hash(&[2; 32]));
        write(&root, "a/edited.png", b"new bytes, longer");
        write(&root, "b/new.mp4", b"\0\0\0\x18ftypmp42 not really");
        write(&root, "b/notes.txt", b"not media");
        // A PDF behind a photo's name is read as a document.
        write(&root, "b/scan.jpg", b"%PDF-1.7\n1 0 obj");

        let mut report = IndexReport::default();
        let w = walk(&index, &root, &mut report, &NoProgress).unwrap();
        assert_eq!((report.seen, report.unchanged, report.ignored), (5, 1, 1));
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        let todo: Vec<(&str, AssetKind, bool)> = w
            .todo
            .iter()
            .map(|c| {
                let rel = c.path.strip_prefix(&root).unwrap().to_str().unwrap();
                (rel, c.kind, c.previous.is_some())
            })
            .collect();
        assert_eq!(
            todo,
            vec![
                ("a/edited.png", AssetKind::Image, true),
                ("b/new.mp4", AssetKind::Video, false),
                ("b/scan.jpg", AssetKind::Document, false),
            ]
        );
        // Every media path counts as seen, unchanged or not; other files do not.
        assert_eq!(w.seen.len(), 4);
        assert!(!w.seen.iter().any(|p| p.ends_with("notes.txt")));
    }

    #[test]
    fn copies_and_moves_are_known_content() {
        let lib = tempfile::tempdir().unwrap();
        let root = lib.path().canonicalize().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let index = open_index(tmp.path());
        let original = write(&root, "a.jpg", b"pixels");
        let c = Candidate {
            path: original.clone(),
            key: original.to_str().unwrap().into(),
            kind: AssetKind::Image,
            size: 6,
            mtime_ns: 7,
            previous: None,
        };
        let first = identify(&c, &DecodeLimits::default()).unwrap();
        assert_eq!(
            first.file.asset_id,
            AssetId::from_hash(blake3::hash(b"pixels").as_bytes())
        );
        assert_eq!(first.bytes.as_deref(), Some(&b"pixels"[..]));
        assert!(!is_known(&index, &first.file).unwrap());
        index_as_is(&index, &original, first.file.asset_id.clone());

        // The same bytes under another name (a copy, or the original moved): known, so linked.
        let copy = write(&root, "sub/b.jpg", b"pixels");
        let c2 = Candidate {
            path: copy.clone(),
            key: copy.to_str().unwrap().into(),
            ..c
        };
        let second = identify(&c2, &DecodeLimits::default()).unwrap();
        assert_eq!(second.file.asset_id, first.file.asset_id);
        assert!(is_known(&index, &second.file).unwrap());

        // Videos are hashed as a stream, and not kept in memory.
        let video = write(&root, "c.mp4", b"frames");
        let c3 = Candidate {
            path: video.clone(),
            key: video.to_str().unwrap().into(),
            kind: AssetKind::Video,
            size: 6,
            mtime_ns: 1,
            previous: None,
        };
        let v = identify(&c3, &DecodeLimits::default()).unwrap();
        assert!(v.bytes.is_none());
        assert_eq!(
            v.file.asset_id,
            AssetId::from_hash(blake3::hash(b"frames").as_bytes())
        );
    }

    #[test]
    fn empty_and_oversized_files_fail_with_a_reason() {
        let lib = tempfile::tempdir().unwrap();
        let p = write(lib.path(), "a.jpg", b"");
        let mut c = Candidate {
            key: p.to_str().unwrap().into(),
            path: p,
            kind: AssetKind::Image,
            size: 0,
            mtime_ns: 0,
            previous: None,
        };
        assert_eq!(
            identify(&c, &DecodeLimits::default()).err().unwrap(),
            "empty file (0 bytes)"
        );
        c.size = u64::MAX;
        assert!(
            identify(&c, &DecodeLimits::default())
                .err()
                .unwrap()
                .contains("byte limit")
        );
    }

    #[test]
    fn gone_files_are_removed_only_under_the_root() {
        let lib = tempfile::tempdir().unwrap();
        let root = lib.path().canonicalize().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let index = open_index(tmp.path());
        let kept = write(&root, "lib/kept.jpg", b"1");
        let deleted = write(&root, "lib/deleted.jpg", b"2");
        let elsewhere = write(&root, "other/x.jpg", b"3");
        for (i, p) in [&kept, &deleted, &elsewhere].into_iter().enumerate() {
            index_as_is(&index, p, AssetId::from_hash(&[i as u8 + 1; 32]));
        }
        std::fs::remove_file(&deleted).unwrap();

        let lib_root = root.join("lib");
        let mut report = IndexReport::default();
        let w = walk(&index, &lib_root, &mut report, &NoProgress).unwrap();
        assert_eq!(report.unchanged, 1);
        let ops = gone(&index, &lib_root, &w.seen).unwrap();
        let paths: Vec<&str> = ops
            .iter()
            .map(|op| match op {
                Op::Unlink { path } => path.as_str(),
                other => panic!("not a removal: {other:?}"),
            })
            .collect();
        assert_eq!(paths, vec![deleted.to_str().unwrap()]);
        index.apply(ops).unwrap();
        assert_eq!(index.catalog().file(deleted.to_str().unwrap()).unwrap(), None);
        assert!(
            index
                .catalog()
                .file(elsewhere.to_str().unwrap())
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn photos_are_batched_and_timed_media_go_alone() {
        let c = |name: &str, kind| Candidate {
            path: PathBuf::from(name),
            key: name.into(),
            kind,
            size: 1,
            mtime_ns: 0,
            previous: None,
        };
        let todo = vec![
            c("1.jpg", AssetKind::Image),
            c("2.mp4", AssetKind::Video),
            c("3.jpg", AssetKind::Image),
            c("4.pdf", AssetKind::Document),
            c("5.jpg", AssetKind::Image),
        ];
        let keys: Vec<Vec<String>> = batches(todo, 2)
            .into_iter()
            .map(|b| b.into_iter().map(|c| c.key).collect())
            .collect();
        assert_eq!(
            keys,
            vec![
                vec!["1.jpg", "3.jpg"],
                vec!["5.jpg"],
                vec!["2.mp4"],
                vec!["4.pdf"]
            ]
        );
        // A batch size of 0 is taken as 1.
        assert_eq!(
            batches(
                vec![c("1.jpg", AssetKind::Image), c("2.jpg", AssetKind::Image)],
                0
            )
            .len(),
            2
        );
    }
}
