//! Any bytes as the body of `POST /v1/search` (serde), and any text through the BM25 query
//! parser (tantivy, lenient) and the filters of a real text index, plus the Whisper English
//! normaliser used by `loupe eval`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loupe_schemas::{Filters, SearchRequest};
use loupe_store::TextIndex;
use std::sync::OnceLock;

fn index() -> &'static TextIndex {
    static INDEX: OnceLock<TextIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("loupe-fuzz-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        TextIndex::open_writer(&dir).expect("text index")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = serde_json::from_slice::<SearchRequest>(data) {
        let text = req.text.as_deref().unwrap_or_default();
        let _ = index().search(text, &req.filters, req.limit.min(100));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = index().search(text, &Filters::default(), 10);
        let _ = loupe_metrics::speech::normalise_english(text);
    }
});
