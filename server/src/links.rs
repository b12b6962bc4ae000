//! The HTTP routes a hit links to: the one place that knows `/v1/assets/...` URLs.

use loupe_schemas::{Asset, AssetId, AssetKind, Locator, Segment};

/// The file of an asset through the HTTP API.
pub fn media_url(id: &AssetId) -> String {
    format!("/v1/assets/{id}/media")
}

/// The thumbnail of a hit through the HTTP API: the keyframe or page itself, else the asset's
/// (a photo, a video's first keyframe, a document's first page); none for sound recordings.
pub fn thumbnail_url(asset: &Asset, segment: &Segment) -> Option<String> {
    match (asset.kind, &segment.locator) {
        (AssetKind::Audio, _) => None,
        (_, Locator::Shot { .. } | Locator::Page { .. }) => Some(format!(
            "/v1/assets/{}/thumbnail?segment={}",
            asset.id, segment.id
        )),
        _ => Some(format!("/v1/assets/{}/thumbnail", asset.id)),
    }
}

/// The links search hits carry, for the server and for the command's `--json` output alike.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiLinks;

impl loupe_query::Links for ApiLinks {
    fn media(&self, asset: &AssetId) -> String {
        media_url(asset)
    }

    fn thumbnail(&self, asset: &Asset, segment: &Segment) -> Option<String> {
        thumbnail_url(asset, segment)
    }
}
