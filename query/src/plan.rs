//! Step 1 of a search: check the request and work out what to run (the query text, the page, how
//! deep each signal looks, the filters as the engines take them). Also the cursors, which are a
//! request's fingerprint plus where the next page starts.

use crate::{Error, Result};
use loupe_schemas::{Filters, SearchRequest};
use loupe_store::Index;

/// Largest `limit` a request may ask for.
pub const MAX_LIMIT: usize = 1000;

/// Deepest offset a request may page to (each signal looks three pages deeper).
pub const MAX_OFFSET: usize = 10_000;

/// A checked request: what the signals run with and which page to return.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The query text, trimmed; `None` when empty (an image-only query).
    pub text: Option<String>,
    /// Where the page starts (from `offset` or the cursor).
    pub offset: usize,
    pub limit: usize,
    /// How many candidates each signal returns (deeper than the page, so fusion has material).
    pub depth: usize,
    /// The filters as the engines take them (a `path_prefix` naming a file becomes an asset filter).
    pub filters: Filters,
}

impl Plan {
    /// How many of the best hits may stretch a moment (see [`crate::group`]).
    pub fn horizon(&self) -> usize {
        crate::group::MOMENT_HORIZON.max(2 * (self.offset + self.limit))
    }

    /// The requested page of `grouped`, and whether more follow it.
    pub fn page<T>(&self, grouped: Vec<T>) -> (Vec<T>, bool) {
        let more = grouped.len() > self.offset + self.limit;
        let page = grouped.into_iter().skip(self.offset).take(self.limit).collect();
        (page, more)
    }
}

/// Checks a request without touching the index: something to search for, a sane page, ordered
/// ranges, a cursor made for this request. Returns the plan with the request's own filters.
pub fn check(req: &SearchRequest) -> Result<Plan> {
    let text = req
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    if text.is_none() && req.image.is_none() {
        return Err(Error::BadRequest("give a text query, an image, or both".into()));
    }
    if req.limit == 0 || req.limit > MAX_LIMIT {
        return Err(Error::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    if let (Some(a), Some(b)) = (req.filters.date_from, req.filters.date_to)
        && a > b
    {
        return Err(Error::BadRequest("date_from is after date_to".into()));
    }
    if let (Some(a), Some(b)) = (req.filters.duration_min_s, req.filters.duration_max_s)
        && a > b
    {
        return Err(Error::BadRequest("duration_min_s is above duration_max_s".into()));
    }
    let offset = match &req.cursor {
        Some(c) => cursor_offset(c, req)?,
        None => req.offset,
    };
    if offset > MAX_OFFSET {
        return Err(Error::BadRequest(format!("offset must be at most {MAX_OFFSET}")));
    }
    Ok(Plan {
        text,
        offset,
        limit: req.limit,
        depth: ((offset + req.limit) * 3).max(50),
        filters: req.filters.clone(),
    })
}

/// [`check`], then the filters resolved against the index's catalog.
pub fn plan(index: &Index, req: &SearchRequest) -> Result<Plan> {
    let mut plan = check(req)?;
    plan.filters = file_filter(index, &plan.filters)?;
    Ok(plan)
}

/// A `path_prefix` that names an indexed file (not a folder) means that file: it becomes an
/// asset filter, so "only this PDF" works the same way as "only this folder".
pub fn file_filter(index: &Index, f: &Filters) -> Result<Filters> {
    let Some(p) = f.path_prefix.as_deref() else {
        return Ok(f.clone());
    };
    let Some(entry) = index.catalog().file(p.trim_end_matches('/'))? else {
        return Ok(f.clone());
    };
    if !f.asset_ids.is_empty() && !f.asset_ids.contains(&entry.asset_id) {
        // Another asset was asked for: as a folder prefix, the file's path matches nothing, which
        // is the answer.
        return Ok(f.clone());
    }
    let mut out = f.clone();
    out.path_prefix = None;
    out.asset_ids = vec![entry.asset_id];
    Ok(out)
}

/// A request's fingerprint for cursors: everything but where the page starts and how long it is.
fn request_fingerprint(req: &SearchRequest) -> u64 {
    let mut base = req.clone();
    base.offset = 0;
    base.limit = 0;
    base.cursor = None;
    base.explain = false;
    loupe_schemas::fnv1a64(serde_json::to_string(&base).unwrap_or_default().as_bytes())
}

/// The cursor of the page of `req` that starts at `offset`.
pub fn make_cursor(offset: usize, req: &SearchRequest) -> String {
    format!("{offset}.{:016x}", request_fingerprint(req))
}

/// The offset a cursor points at, refusing a cursor made for another request.
pub fn cursor_offset(cursor: &str, req: &SearchRequest) -> Result<usize> {
    let bad = || Error::BadRequest("cursor is not one this server handed out".into());
    let (offset, fp) = cursor.split_once('.').ok_or_else(bad)?;
    let offset: usize = offset.parse().map_err(|_| bad())?;
    let fp = u64::from_str_radix(fp, 16).map_err(|_| bad())?;
    if fp != request_fingerprint(req) {
        return Err(Error::BadRequest(
            "cursor belongs to a different search (same text, image, filters and fusion needed)".into(),
        ));
    }
    Ok(offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_schemas::{AssetKind, Fusion, ImageQuery};

    fn bad(req: &SearchRequest) -> String {
        match check(req) {
            Err(Error::BadRequest(m)) => m,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn needs_something_to_search_for() {
        assert!(bad(&SearchRequest::text("   ")).contains("give a text query"));
        let mut r = SearchRequest::text("  ");
        r.image = Some(ImageQuery::Path {
            path: "/x.jpg".into(),
        });
        let p = check(&r).unwrap();
        assert_eq!(p.text, None, "blank text is no text");
        assert_eq!(
            check(&SearchRequest::text(" cat ")).unwrap().text.as_deref(),
            Some("cat")
        );
    }

    #[test]
    fn limits_and_ranges_are_checked() {
        let mut r = SearchRequest::text("cat");
        r.limit = 0;
        assert!(bad(&r).contains("limit"));
        r.limit = MAX_LIMIT + 1;
        assert!(bad(&r).contains("limit"));
        r.limit = MAX_LIMIT;
        assert!(check(&r).is_ok());

        let mut r = SearchRequest::text("cat");
        r.filters.date_from = Some(10);
        r.filters.date_to = Some(9);
        assert!(bad(&r).contains("date_from"));
        r.filters.date_to = Some(10);
        assert!(check(&r).is_ok(), "an equal range is one instant");

        let mut r = SearchRequest::text("cat");
        r.filters.duration_min_s = Some(5.0);
        r.filters.duration_max_s = Some(4.0);
        assert!(bad(&r).contains("duration_min_s"));

        let mut r = SearchRequest::text("cat");
        r.offset = MAX_OFFSET + 1;
        assert!(bad(&r).contains("offset"));
    }

    #[test]
    fn depth_looks_past_the_page() {
        let mut r = SearchRequest::text("cat");
        r.limit = 10;
        assert_eq!(check(&r).unwrap().depth, 50);
        r.offset = 40;
        assert_eq!(check(&r).unwrap().depth, 150);
    }

    #[test]
    fn cursors_round_trip_and_belong_to_one_request() {
        let mut r = SearchRequest::text("cat");
        r.limit = 5;
        let c = make_cursor(5, &r);
        assert_eq!(cursor_offset(&c, &r).unwrap(), 5);
        // Page size and explain are not part of the fingerprint.
        let mut next = r.clone();
        next.limit = 7;
        next.explain = !r.explain;
        next.cursor = Some(c.clone());
        let p = check(&next).unwrap();
        assert_eq!((p.offset, p.limit), (5, 7));
        // Anything else is.
        for change in [
            |r: &mut SearchRequest| r.text = Some("dog".into()),
            |r: &mut SearchRequest| r.filters.kinds = vec![AssetKind::Video],
            |r: &mut SearchRequest| r.fusion = Fusion::Rrf { k: 1 },
        ] {
            let mut other = next.clone();
            change(&mut other);
            assert!(bad(&other).contains("different search"));
        }
        for junk in ["", "5", "x.00", "5.zz", "5.0000000000000000"] {
            let mut other = r.clone();
            other.cursor = Some(junk.into());
            assert!(check(&other).is_err(), "{junk}");
        }
    }

    #[test]
    fn pages_say_whether_more_follow() {
        let mut r = SearchRequest::text("cat");
        r.limit = 2;
        let p = check(&r).unwrap();
        assert_eq!(p.page(vec![1, 2, 3]), (vec![1, 2], true));
        assert_eq!(p.page(vec![1, 2]), (vec![1, 2], false));
        r.offset = 2;
        assert_eq!(check(&r).unwrap().page(vec![1, 2, 3]), (vec![3], false));
        assert_eq!(p.horizon(), crate::group::MOMENT_HORIZON);
    }
}
