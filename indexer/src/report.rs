//! Report: how a run's [`IndexReport`] is put together: per-file failures and warnings with a
//! readable reason, and the run's totals.

use loupe_schemas::{FileFailure, IndexReport};
use std::path::Path;
use std::time::Instant;

/// A file that could not be indexed (or was indexed with something missing), and why.
pub(crate) fn failure(path: impl Into<String>, reason: impl Into<String>) -> FileFailure {
    FileFailure {
        path: path.into(),
        reason: reason.into(),
    }
}

/// What the walk could not enter or read (`root` when the error names no path).
pub(crate) fn walk_failure(root: &Path, e: &walkdir::Error) -> FileFailure {
    let path = e
        .path()
        .map_or_else(|| root.display().to_string(), |p| p.display().to_string());
    let reason = if e.loop_ancestor().is_some() {
        "symbolic link loop".to_string()
    } else {
        e.io_error().map_or_else(|| e.to_string(), |io| io.to_string())
    };
    failure(path, reason)
}

/// How many pages of a document could not be read, naming the first five.
pub(crate) fn pages_warning(failed: &[(u32, String)], pages: u32) -> Option<String> {
    if failed.is_empty() {
        return None;
    }
    let list: Vec<String> = failed
        .iter()
        .take(5)
        .map(|(p, e)| format!("page {p}: {e}"))
        .collect();
    Some(format!(
        "{} of {} pages could not be read ({}{})",
        failed.len(),
        pages,
        list.join("; "),
        if failed.len() > 5 { "; ..." } else { "" }
    ))
}

/// Why a document yielded nothing (its first failed page, if any).
pub(crate) fn no_pages(failed: &[(u32, String)]) -> String {
    let reason = failed.first().map_or_else(
        || "no page could be read".to_string(),
        |(p, e)| format!("page {p}: {e}"),
    );
    format!("no page could be read ({reason})")
}

/// Fills in the run's time and rate.
pub(crate) fn finish(mut report: IndexReport, started: Instant) -> IndexReport {
    report.elapsed_s = started.elapsed().as_secs_f64();
    report.files_per_s = if report.elapsed_s > 0.0 {
        report.indexed as f64 / report.elapsed_s
    } else {
        0.0
    };
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_warnings_name_the_first_five() {
        assert_eq!(pages_warning(&[], 3), None);
        let two = vec![(2, "bad font".to_string()), (5, "timeout".to_string())];
        assert_eq!(
            pages_warning(&two, 9).unwrap(),
            "2 of 9 pages could not be read (page 2: bad font; page 5: timeout)"
        );
        let seven: Vec<(u32, String)> = (1..=7).map(|p| (p, "x".to_string())).collect();
        let w = pages_warning(&seven, 7).unwrap();
        assert!(w.starts_with("7 of 7 pages could not be read (page 1: x;"), "{w}");
        assert!(w.ends_with("page 5: x; ...)"), "{w}");
        assert_eq!(no_pages(&two), "no page could be read (page 2: bad font)");
        assert_eq!(no_pages(&[]), "no page could be read (no page could be read)");
    }

    #[test]
    fn walk_errors_name_the_path_and_loops() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::os::unix::fs::symlink(&root, root.join("loop")).unwrap();
        let errors: Vec<FileFailure> = walkdir::WalkDir::new(&root)
            .follow_links(true)
            .into_iter()
            .filter_map(|e| e.err())
            .map(|e| walk_failure(&root, &e))
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].reason, "symbolic link loop");
        assert!(errors[0].path.ends_with("/loop"), "{errors:?}");

        let missing = root.join("missing");
        let e = walkdir::WalkDir::new(&missing)
            .into_iter()
            .next()
            .unwrap()
            .unwrap_err();
        let f = walk_failure(&root, &e);
        assert_eq!(f.path, missing.display().to_string());
        assert!(f.reason.contains("No such file"), "{f:?}");
    }

    #[test]
    fn the_rate_counts_indexed_files() {
        let r = finish(
            IndexReport {
                indexed: 10,
                ..Default::default()
            },
            Instant::now() - std::time::Duration::from_secs(2),
        );
        assert!(r.elapsed_s >= 2.0);
        assert!(r.files_per_s > 0.0 && r.files_per_s <= 5.0);
    }
}
