//! The lexical side of the Index: tantivy over file names, paths and (later) transcripts and OCR text.
//!
//! One document per segment, keyed by `segment_id`. Filters (kind, folder, date, asset) are indexed
//! fields, so a filtered lexical query is filtered inside tantivy, not after it.

use crate::{Error, Result};
use loupe_schemas::{AssetId, AssetKind, Filters, Snippet, Uuid, WordBox, WordTime};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery, TermSetQuery};
use tantivy::schema::{
    Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT, TantivyDocument, Value,
};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Term, doc};

/// A document to index.
#[derive(Debug, Clone, PartialEq)]
pub struct TextDoc {
    pub segment_id: Uuid,
    pub asset_id: AssetId,
    pub kind: AssetKind,
    /// Every path of the asset (copies included).
    pub paths: Vec<String>,
    pub dirs: Vec<String>,
    pub date_ts: i64,
    /// Length of a video or recording in milliseconds; -1 for assets without one.
    pub duration_ms: i64,
    /// Transcript, OCR text or caption of the segment (empty for a plain photo).
    pub body: String,
    /// Word times of a transcript segment (stored, not indexed).
    pub words: Vec<WordTime>,
    /// Word boxes of a page (stored, not indexed).
    pub boxes: Vec<WordBox>,
}

/// The stored text of a segment, with the snippet that matched a query.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentText {
    pub body: String,
    pub words: Vec<WordTime>,
    pub boxes: Vec<WordBox>,
    /// Highlighted fragment for the query (the start of the body when no word matched).
    pub snippet: Option<Snippet>,
}

/// Longest snippet shown for a hit (characters).
const SNIPPET_CHARS: usize = 220;

/// A lexical hit.
#[derive(Debug, Clone, PartialEq)]
pub struct TextHit {
    pub segment_id: Uuid,
    pub asset_id: AssetId,
    pub score: f32,
}

#[derive(Clone, Copy)]
struct Fields {
    segment_id: Field,
    asset_id: Field,
    kind: Field,
    dirs: Field,
    date_ts: Field,
    duration_ms: Field,
    name: Field,
    path: Field,
    body: Field,
    words: Field,
    boxes: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let f = Fields {
        segment_id: b.add_text_field("segment_id", STRING | STORED),
        asset_id: b.add_text_field("asset_id", STRING | STORED),
        kind: b.add_text_field("kind", STRING | STORED),
        dirs: b.add_text_field("dirs", STRING | STORED),
        date_ts: b.add_i64_field("date_ts", INDEXED | STORED),
        duration_ms: b.add_i64_field("duration_ms", INDEXED | STORED),
        name: b.add_text_field("name", TEXT | STORED),
        path: b.add_text_field("path", TEXT | STORED),
        body: b.add_text_field("body", TEXT | STORED),
        words: b.add_text_field("words", STORED),
        boxes: b.add_text_field("boxes", STORED),
    };
    (b.build(), f)
}

fn terr(e: impl std::fmt::Display) -> Error {
    Error::Text(e.to_string())
}

/// The tantivy index. Writing needs [`TextIndex::open_writer`]; reading works with any handle.
pub struct TextIndex {
    index: Index,
    reader: IndexReader,
    writer: Option<Mutex<IndexWriter>>,
    fields: Fields,
}

impl TextIndex {
    fn open_index(dir: &Path) -> Result<(Index, Fields)> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let (schema, fields) = schema();
        let mmap = tantivy::directory::MmapDirectory::open(dir).map_err(terr)?;
        let index = Index::open_or_create(mmap, schema).map_err(terr)?;
        Ok((index, fields))
    }

    /// Opens for reading and writing (one writer per index at a time).
    pub fn open_writer(dir: &Path) -> Result<Self> {
        Self::open(dir, true)
    }

    /// Opens for reading only.
    pub fn open_reader(dir: &Path) -> Result<Self> {
        Self::open(dir, false)
    }

    fn open(dir: &Path, write: bool) -> Result<Self> {
        let (index, fields) = Self::open_index(dir)?;
        let writer = if write {
            let w: IndexWriter = index.writer_with_num_threads(1, 50_000_000).map_err(terr)?;
            Some(Mutex::new(w))
        } else {
            None
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(terr)?;
        Ok(Self {
            index,
            reader,
            writer,
            fields,
        })
    }

    fn with_writer<T>(&self, f: impl FnOnce(&mut IndexWriter) -> Result<T>) -> Result<T> {
        let w = self
            .writer
            .as_ref()
            .ok_or_else(|| Error::Text("index opened read-only".into()))?;
        let mut w = w.lock().map_err(|_| Error::Text("writer lock poisoned".into()))?;
        f(&mut w)
    }

    /// Adds (or replaces) documents. Not visible until [`Self::commit`].
    pub fn upsert(&self, docs: &[TextDoc]) -> Result<()> {
        let f = self.fields;
        self.with_writer(|w| {
            for d in docs {
                w.delete_term(Term::from_field_text(f.segment_id, &d.segment_id.to_string()));
                let mut td = doc!(
                    f.segment_id => d.segment_id.to_string(),
                    f.asset_id => d.asset_id.as_str(),
                    f.kind => d.kind.as_str(),
                    f.date_ts => d.date_ts,
                    f.duration_ms => d.duration_ms,
                    f.body => d.body.as_str(),
                );
                if !d.words.is_empty() {
                    td.add_text(f.words, serde_json::to_string(&d.words).map_err(terr)?);
                }
                if !d.boxes.is_empty() {
                    td.add_text(f.boxes, serde_json::to_string(&d.boxes).map_err(terr)?);
                }
                for p in &d.paths {
                    let name = Path::new(p).file_name().and_then(|n| n.to_str()).unwrap_or(p);
                    td.add_text(f.name, name);
                    td.add_text(f.path, p);
                }
                for dir in &d.dirs {
                    td.add_text(f.dirs, dir);
                }
                w.add_document(td).map_err(terr)?;
            }
            Ok(())
        })
    }

    /// Removes every document of an asset. Not visible until [`Self::commit`].
    pub fn delete_asset(&self, asset: &AssetId) -> Result<()> {
        let field = self.fields.asset_id;
        self.with_writer(|w| {
            w.delete_term(Term::from_field_text(field, asset.as_str()));
            Ok(())
        })
    }

    /// Makes writes durable and visible.
    pub fn commit(&self) -> Result<()> {
        self.with_writer(|w| w.commit().map(|_| ()).map_err(terr))?;
        self.reader.reload().map_err(terr)
    }

    /// Picks up commits made by another handle or process.
    pub fn reload(&self) -> Result<()> {
        self.reader.reload().map_err(terr)
    }

    /// The committed documents of an asset.
    pub fn docs_of(&self, asset: &AssetId) -> Result<Vec<TextDoc>> {
        let searcher = self.reader.searcher();
        let q = TermQuery::new(
            Term::from_field_text(self.fields.asset_id, asset.as_str()),
            IndexRecordOption::Basic,
        );
        let addrs = searcher.search(&q, &DocSetCollector).map_err(terr)?;
        let mut out = Vec::new();
        for addr in addrs {
            out.push(self.load(&searcher, addr)?);
        }
        Ok(out)
    }

    fn load(&self, searcher: &tantivy::Searcher, addr: DocAddress) -> Result<TextDoc> {
        let f = self.fields;
        let d: TantivyDocument = searcher.doc(addr).map_err(terr)?;
        let text = |field: Field| {
            d.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let all = |field: Field| {
            d.get_all(field)
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        };
        let bad = |what: &str| Error::Text(format!("document with a bad {what}"));
        Ok(TextDoc {
            segment_id: text(f.segment_id).parse().map_err(|_| bad("segment_id"))?,
            asset_id: text(f.asset_id).parse().map_err(|_| bad("asset_id"))?,
            kind: text(f.kind).parse().map_err(|_| bad("kind"))?,
            paths: all(f.path),
            dirs: all(f.dirs),
            date_ts: d
                .get_first(f.date_ts)
                .and_then(|v| v.as_i64())
                .unwrap_or_default(),
            duration_ms: d.get_first(f.duration_ms).and_then(|v| v.as_i64()).unwrap_or(-1),
            body: text(f.body),
            words: serde_json::from_str(&text(f.words)).unwrap_or_default(),
            boxes: serde_json::from_str(&text(f.boxes)).unwrap_or_default(),
        })
    }

    /// The stored text of these segments, with a highlighted snippet for `query` (BM25 terms).
    pub fn segment_texts(&self, ids: &[Uuid], query: Option<&str>) -> Result<HashMap<Uuid, SegmentText>> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        let generator = match query.filter(|q| !q.trim().is_empty()) {
            Some(q) => {
                let parser = QueryParser::for_index(&self.index, vec![f.body]);
                let (q, _) = parser.parse_query_lenient(q);
                let mut g =
                    tantivy::snippet::SnippetGenerator::create(&searcher, &*q, f.body).map_err(terr)?;
                g.set_max_num_chars(SNIPPET_CHARS);
                Some(g)
            }
            None => None,
        };
        let mut out = HashMap::new();
        for id in ids {
            let q = TermQuery::new(
                Term::from_field_text(f.segment_id, &id.to_string()),
                IndexRecordOption::Basic,
            );
            let Some(addr) = searcher
                .search(&q, &DocSetCollector)
                .map_err(terr)?
                .into_iter()
                .next()
            else {
                continue;
            };
            let doc = self.load(&searcher, addr)?;
            if doc.body.is_empty() {
                continue;
            }
            let snippet = generator
                .as_ref()
                .map(|g| g.snippet(&doc.body))
                .filter(|s| !s.highlighted().is_empty())
                .map(|s| Snippet {
                    text: s.fragment().to_string(),
                    highlights: s.highlighted().iter().map(|r| [r.start, r.end]).collect(),
                })
                .or_else(|| {
                    Some(Snippet {
                        text: head(&doc.body, SNIPPET_CHARS),
                        highlights: Vec::new(),
                    })
                });
            out.insert(
                *id,
                SegmentText {
                    body: doc.body,
                    words: doc.words,
                    boxes: doc.boxes,
                    snippet,
                },
            );
        }
        Ok(out)
    }

    fn filter_clauses(&self, filters: &Filters) -> Vec<(Occur, Box<dyn Query>)> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !filters.kinds.is_empty() {
            let terms = filters
                .kinds
                .iter()
                .map(|k| Term::from_field_text(f.kind, k.as_str()));
            clauses.push((Occur::Must, Box::new(TermSetQuery::new(terms))));
        }
        if let Some(p) = &filters.path_prefix {
            let t = Term::from_field_text(f.dirs, &crate::vectors::normalize_prefix(p));
            clauses.push((Occur::Must, Box::new(TermQuery::new(t, IndexRecordOption::Basic))));
        }
        if filters.date_from.is_some() || filters.date_to.is_some() {
            use std::ops::Bound;
            let lo = filters.date_from.map_or(Bound::Unbounded, |v| {
                Bound::Included(Term::from_field_i64(f.date_ts, v))
            });
            let hi = filters.date_to.map_or(Bound::Unbounded, |v| {
                Bound::Included(Term::from_field_i64(f.date_ts, v))
            });
            clauses.push((Occur::Must, Box::new(RangeQuery::new(lo, hi))));
        }
        if let Some((lo, hi)) = crate::vectors::duration_range_ms(filters) {
            use std::ops::Bound;
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_i64(f.duration_ms, lo)),
                    Bound::Included(Term::from_field_i64(f.duration_ms, hi)),
                )),
            ));
        }
        if !filters.asset_ids.is_empty() {
            let terms = filters
                .asset_ids
                .iter()
                .map(|a| Term::from_field_text(f.asset_id, a.as_str()));
            clauses.push((Occur::Must, Box::new(TermSetQuery::new(terms))));
        }
        clauses
    }

    /// BM25 over names, paths and body text. User syntax errors are tolerated (lenient parsing).
    pub fn search(&self, text: &str, filters: &Filters, limit: usize) -> Result<Vec<TextHit>> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        let mut parser = QueryParser::for_index(&self.index, vec![f.name, f.path, f.body]);
        parser.set_field_boost(f.name, 2.0);
        let (q, _errors) = parser.parse_query_lenient(text);
        let mut clauses = self.filter_clauses(filters);
        clauses.push((Occur::Must, q));
        let query = BooleanQuery::new(clauses);
        let top = searcher
            .search(&query, &TopDocs::with_limit(limit.max(1)).order_by_score())
            .map_err(terr)?;
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let d: TantivyDocument = searcher.doc(addr).map_err(terr)?;
            let get = |field: Field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let (Ok(segment_id), Ok(asset_id)) = (
                get(f.segment_id).parse::<Uuid>(),
                get(f.asset_id).parse::<AssetId>(),
            ) else {
                return Err(Error::Text("document without ids".into()));
            };
            out.push(TextHit {
                segment_id,
                asset_id,
                score,
            });
        }
        Ok(out)
    }

    /// Every document's segment and asset (for consistency checks).
    pub fn all_segments(&self) -> Result<Vec<(Uuid, AssetId)>> {
        let searcher = self.reader.searcher();
        let addrs = searcher
            .search(&tantivy::query::AllQuery, &DocSetCollector)
            .map_err(terr)?;
        let mut out = Vec::with_capacity(addrs.len());
        for addr in addrs {
            let d = self.load(&searcher, addr)?;
            out.push((d.segment_id, d.asset_id));
        }
        Ok(out)
    }

    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}

/// The first `max` characters of `text`, cut at a word boundary, with an ellipsis when cut.
fn head(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a);
    format!("{cut} …")
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_schemas::{Locator, Segment};

    fn d(asset: u8, path: &str, kind: AssetKind, date: i64) -> TextDoc {
        let a = AssetId::from_hash(&[asset; 32]);
        TextDoc {
            segment_id: Segment::new(a.clone(), Locator::Whole).id,
            asset_id: a,
            kind,
            paths: vec![path.into()],
            dirs: crate::vectors::ancestor_dirs(path),
            date_ts: date,
            duration_ms: if kind == AssetKind::Video { 12_000 } else { -1 },
            body: String::new(),
            words: Vec::new(),
            boxes: Vec::new(),
        }
    }

    #[test]
    fn finds_by_name_with_filters_and_replaces() {
        let tmp = tempfile::tempdir().unwrap();
        let t = TextIndex::open_writer(tmp.path()).unwrap();
        t.upsert(&[
            d(1, "/lib/trip/red_car.jpg", AssetKind::Image, 10),
            d(2, "/lib/home/blue_car.png", AssetKind::Image, 20),
            d(3, "/lib/trip/beach.mp4", AssetKind::Video, 30),
        ])
        .unwrap();
        t.commit().unwrap();
        let all = Filters::default();
        let hits = t.search("car", &all, 10).unwrap();
        assert_eq!(hits.len(), 2);
        let trip = Filters {
            path_prefix: Some("/lib/trip".into()),
            ..Filters::default()
        };
        assert_eq!(t.search("car", &trip, 10).unwrap().len(), 1);
        assert_eq!(t.search("trip", &all, 10).unwrap().len(), 2);
        let videos = Filters {
            kinds: vec![AssetKind::Video],
            ..Filters::default()
        };
        assert_eq!(t.search("trip", &videos, 10).unwrap().len(), 1);
        let late = Filters {
            date_from: Some(15),
            ..Filters::default()
        };
        assert_eq!(t.search("car", &late, 10).unwrap().len(), 1);
        let short = Filters {
            duration_max_s: Some(20.0),
            ..Filters::default()
        };
        assert_eq!(t.search("trip", &short, 10).unwrap().len(), 1);
        assert_eq!(t.search("car", &short, 10).unwrap().len(), 0);
        // Unbalanced syntax is tolerated.
        assert!(t.search("car \"(", &all, 10).is_ok());
        // Replacing a document keeps one copy.
        t.upsert(&[d(1, "/lib/trip/red_car.jpg", AssetKind::Image, 10)])
            .unwrap();
        t.commit().unwrap();
        assert_eq!(t.num_docs(), 3);
        let a1 = AssetId::from_hash(&[1; 32]);
        assert_eq!(t.docs_of(&a1).unwrap()[0].paths, vec!["/lib/trip/red_car.jpg"]);
        t.delete_asset(&a1).unwrap();
        t.commit().unwrap();
        assert_eq!(t.num_docs(), 2);
    }
}
