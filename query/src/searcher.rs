//! [`Searcher`]: the query side of one Index, built once, asked many times.

use crate::{Result, fusion, group, hydrate, plan, retrieve};
use loupe_models::{SentenceEmbedder, VisualEmbedder};
use loupe_schemas::{Asset, AssetId, SearchRequest, SearchResponse, Segment};
use loupe_store::Index;
use std::sync::Arc;
use std::time::Instant;

/// Where a hit's file and thumbnail can be fetched. The server gives its routes; the query side
/// knows no URLs.
pub trait Links: Send + Sync {
    /// The file of an asset (a fragment such as `#t=12.0` is appended to it); empty for none.
    fn media(&self, asset: &AssetId) -> String;
    /// The picture that shows a hit, if there is one.
    fn thumbnail(&self, asset: &Asset, segment: &Segment) -> Option<String>;
}

/// No links: hits carry an empty `media_url` and no `thumbnail_url`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLinks;

impl Links for NoLinks {
    fn media(&self, _: &AssetId) -> String {
        String::new()
    }

    fn thumbnail(&self, _: &Asset, _: &Segment) -> Option<String> {
        None
    }
}

/// The Index with the encoders that query it and the links its hits carry. Cheap to share
/// (everything is behind `Arc`); a request never loads or assembles models.
#[derive(Clone)]
pub struct Searcher {
    index: Arc<Index>,
    visual: Arc<dyn VisualEmbedder>,
    text: Option<Arc<dyn SentenceEmbedder>>,
    links: Arc<dyn Links>,
}

impl Searcher {
    /// A searcher over `index` with the visual encoder and, when there is one, the sentence
    /// encoder (without it, the text space is not searched). Hits get no links until
    /// [`Searcher::with_links`].
    pub fn new(
        index: Arc<Index>,
        visual: Arc<dyn VisualEmbedder>,
        text: Option<Arc<dyn SentenceEmbedder>>,
    ) -> Self {
        Self {
            index,
            visual,
            text,
            links: Arc::new(NoLinks),
        }
    }

    /// The same searcher, giving its hits these links.
    pub fn with_links(mut self, links: impl Links + 'static) -> Self {
        self.links = Arc::new(links);
        self
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The shared Index handle.
    pub fn shared_index(&self) -> &Arc<Index> {
        &self.index
    }

    pub fn visual(&self) -> &dyn VisualEmbedder {
        self.visual.as_ref()
    }

    pub fn links(&self) -> &dyn Links {
        self.links.as_ref()
    }

    /// The sentence encoder to query the text space with: none when the index has no text
    /// vectors or the searcher no encoder; an error when it differs from the index's.
    pub fn text_model(&self) -> Result<Option<&dyn SentenceEmbedder>> {
        match &self.text {
            Some(t) if self.index.check_text_model(&t.id())? => Ok(Some(t.as_ref())),
            _ => Ok(None),
        }
    }

    /// Runs one search: plan, retrieve per signal, fuse, hydrate, group, page, finish.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResponse> {
        let started = Instant::now();
        let index = self.index.as_ref();
        let visual_model = self.visual.id();
        index.check_model(&visual_model)?;
        let text_model = self.text_model()?;
        let plan = plan::plan(index, req)?;
        let retrieved = retrieve::run(index, self.visual.as_ref(), text_model, &plan, req)?;
        let fused = fusion::fuse(&retrieved.lists, &req.fusion);
        let hits = hydrate::hits(index, fused)?;
        let grouped = group::group(hits, req.group_by, plan.horizon());
        let (mut hits, more) = plan.page(grouped);
        hydrate::finish(
            index,
            &mut hits,
            plan.text.as_deref(),
            self.links.as_ref(),
            req.explain,
        )?;
        Ok(SearchResponse {
            hits,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
            signals: retrieved.runs,
            next_cursor: more.then(|| plan::make_cursor(plan.offset + plan.limit, req)),
            fusion: req.fusion.clone(),
            visual_model,
            text_model: text_model.map(|m| m.id()),
        })
    }
}

impl std::fmt::Debug for Searcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Searcher")
            .field("index", &self.index.dir())
            .field("visual", &self.visual.id())
            .field("text", &self.text.as_ref().map(|t| t.id()))
            .finish()
    }
}

#[cfg(test)]
#[path = "searcher_tests.rs"]
mod tests;
