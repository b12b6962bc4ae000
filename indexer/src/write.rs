//! Write: a prepared batch becomes one list of store operations and one
//! [`loupe_store::Index::apply`] (which commits the catalog last, so an interrupted run resumes
//! where it stopped and never duplicates). Per-file outcomes go into the report here.

use crate::embed::{Built, embed_all};
use crate::plan::Candidate;
use crate::prepare::{NewContent, Prepared};
use crate::{Result, report};
use loupe_models::VisualEmbedder;
use loupe_schemas::IndexReport;
use loupe_store::{Index, Op};

/// Sorts a batch's prepared files into operations (links, and removals of paths whose content
/// could not be read), the new content still to embed, and the report's `linked`, `warnings` and
/// `failed` entries.
pub(crate) fn sort<'c>(
    prepared: impl IntoIterator<Item = (&'c Candidate, Result<Prepared, String>)>,
    report: &mut IndexReport,
) -> (Vec<Op>, Vec<(&'c Candidate, NewContent)>) {
    let mut ops = Vec::new();
    let mut new_content = Vec::new();
    for (c, p) in prepared {
        match p {
            Ok(Prepared::Link(file)) => {
                report.linked += 1;
                ops.push(Op::Link {
                    path: c.key.clone(),
                    file,
                });
            }
            Ok(Prepared::New(n)) => {
                if let Some(w) = &n.warning {
                    report.warnings.push(report::failure(c.key.clone(), w.clone()));
                }
                new_content.push((c, *n));
            }
            Err(reason) => {
                report.failed.push(report::failure(c.key.clone(), reason.trim()));
                // The path no longer holds what the catalog says it held.
                if c.previous.is_some() {
                    ops.push(Op::Unlink { path: c.key.clone() });
                }
            }
        }
    }
    (ops, new_content)
}

/// The write of new content at a candidate's path.
fn put(c: &Candidate, built: Built) -> Op {
    Op::Put {
        path: c.key.clone(),
        file: built.file,
        record: Box::new(built.record),
        segments: built.segments,
    }
}

/// Embeds a batch's new content and writes the whole batch with one `apply`.
pub(crate) fn write_batch<'c>(
    index: &Index,
    model: &dyn VisualEmbedder,
    prepared: impl IntoIterator<Item = (&'c Candidate, Result<Prepared, String>)>,
    batch_size: usize,
    report: &mut IndexReport,
) -> Result<()> {
    let (mut ops, new_content) = sort(prepared, report);
    for (c, built) in embed_all(index, model, new_content, batch_size)? {
        report.indexed += 1;
        ops.push(put(c, built));
    }
    index.apply(ops)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prepare::Facts;
    use crate::testing::{asset_record, open_index};
    use loupe_schemas::{AssetId, AssetKind};
    use loupe_store::FileEntry;
    use std::path::PathBuf;

    fn candidate(key: &str, previous: Option<FileEntry>) -> Candidate {
        Candidate {
            path: PathBuf::from(key),
            key: key.into(),
            kind: AssetKind::Image,
            size: 1,
            mtime_ns: 5,
            previous,
        }
    }

    fn entry(n: u8) -> FileEntry {
        FileEntry {
            asset_id: AssetId::from_hash(&[n; 32]),
            size: 1,
            mtime_ns: 5,
        }
    }

    #[test]
    fn outcomes_become_ops_and_report_entries() {
        let link = candidate("/lib/copy.jpg", None);
        let fresh = candidate("/lib/new.jpg", None);
        let broken_new = candidate("/lib/broken.jpg", None);
        let broken_known = candidate("/lib/was-fine.jpg", Some(entry(4)));
        let warned = NewContent::new(
            &fresh,
            entry(2),
            AssetKind::Image,
            Facts::default(),
            Vec::new(),
            Some("no text".into()),
        );
        let mut report = IndexReport::default();
        let (ops, new_content) = sort(
            vec![
                (&link, Ok(Prepared::Link(entry(1)))),
                (&fresh, Ok(Prepared::New(Box::new(warned)))),
                (&broken_new, Err("  not an image \n".to_string())),
                (&broken_known, Err("truncated".to_string())),
            ],
            &mut report,
        );
        assert_eq!(report.linked, 1);
        assert_eq!(report.indexed, 0, "counted once written");
        let failed: Vec<(&str, &str)> = report
            .failed
            .iter()
            .map(|f| (f.path.as_str(), f.reason.as_str()))
            .collect();
        assert_eq!(
            failed,
            vec![
                ("/lib/broken.jpg", "not an image"),
                ("/lib/was-fine.jpg", "truncated")
            ]
        );
        assert_eq!(report.warnings.len(), 1);
        assert_eq!(report.warnings[0].reason, "no text");
        assert_eq!(new_content.len(), 1);
        assert_eq!(new_content[0].0.key, "/lib/new.jpg");
        // A link, and the removal of a path whose new content could not be read (a path never
        // indexed needs none).
        assert!(
            matches!(&ops[..], [Op::Link { path: a, .. }, Op::Unlink { path: b }]
            if a == "/lib/copy.jpg" && b == "/lib/was-fine.jpg")
        );
    }

    #[test]
    fn a_file_that_turns_bad_leaves_the_index() {
        let tmp = tempfile::tempdir().unwrap();
        let index = open_index(tmp.path());
        let file = entry(7);
        index
            .apply(vec![Op::Put {
                path: "/lib/a.jpg".into(),
                record: Box::new(asset_record("/lib/a.jpg", &file, AssetKind::Image)),
                file: file.clone(),
                segments: Vec::new(),
            }])
            .unwrap();
        let c = candidate("/lib/a.jpg", Some(file.clone()));
        let mut report = IndexReport::default();
        let (ops, _) = sort(vec![(&c, Err("truncated".to_string()))], &mut report);
        index.apply(ops).unwrap();
        assert_eq!(index.catalog().file("/lib/a.jpg").unwrap(), None);
        assert_eq!(index.catalog().asset(&file.asset_id).unwrap(), None);
    }
}
