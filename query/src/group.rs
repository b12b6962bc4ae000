//! Step 4 of a search: group fused hits per segment, per moment or per asset.
//!
//! A moment is the hits of one video or recording less than [`MOMENT_GAP_S`] apart; only the best
//! hits (up to the horizon) may stretch one, so a dense signal that ranks every shot of a video
//! does not turn the whole video into one moment.

use loupe_schemas::{GroupBy, Hit};
use std::collections::HashSet;

/// Hits of the same video or recording closer than this (seconds) merge into one moment.
pub const MOMENT_GAP_S: f64 = 2.0;

/// Only hits ranked this high (or within twice the requested page) may grow a moment; weaker
/// neighbours are absorbed into it without stretching it, so a dense signal that ranks every shot
/// of a video does not turn the whole video into one moment.
pub const MOMENT_HORIZON: usize = 20;

/// Groups hits (sorted best first): per segment, per moment, or per asset. Order is kept: a group
/// ranks where its best member ranked, and shows that member.
pub fn group(hits: Vec<Hit>, by: GroupBy, horizon: usize) -> Vec<Hit> {
    match by {
        GroupBy::Segment => hits,
        GroupBy::Asset => {
            let mut seen = HashSet::new();
            hits.into_iter()
                .filter(|h| seen.insert(h.asset.id.clone()))
                .collect()
        }
        GroupBy::Moment => {
            let mut out: Vec<Hit> = Vec::new();
            for (rank, h) in hits.into_iter().enumerate() {
                let joined = h.moment.and_then(|m| {
                    out.iter_mut().find(|g| {
                        g.asset.id == h.asset.id
                            && g.moment.is_some_and(|gm| {
                                m.start <= gm.end + MOMENT_GAP_S && gm.start <= m.end + MOMENT_GAP_S
                            })
                    })
                });
                match (joined, h.moment) {
                    (Some(_), Some(_)) if rank >= horizon => {}
                    (Some(g), Some(m)) => {
                        if let Some(gm) = g.moment.as_mut() {
                            gm.start = gm.start.min(m.start);
                            gm.end = gm.end.max(m.end);
                        }
                        g.merged += 1;
                    }
                    _ => out.push(h),
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_schemas::{Asset, AssetId, AssetKind, Locator, Segment, TimeRange};

    fn hit(asset: u8, range: Option<(f64, f64)>, score: f32) -> Hit {
        let id = AssetId::from_hash(&[asset; 32]);
        let locator = match range {
            Some((a, b)) => Locator::Shot {
                t_start: a,
                t_end: b,
                keyframe: a,
            },
            None => Locator::Whole,
        };
        Hit {
            score,
            asset: Asset {
                id: id.clone(),
                kind: AssetKind::Video,
                path: format!("/v{asset}.mp4"),
                paths: vec![],
                size: 1,
                mtime: 0,
                width: None,
                height: None,
                duration_s: None,
                pages: None,
                captured_at: None,
                language: None,
            },
            moment: locator.time_range().map(|(start, end)| TimeRange { start, end }),
            segment: Segment::new(id, locator),
            signals: vec![],
            merged: 1,
            deep_link: String::new(),
            media_url: String::new(),
            thumbnail_url: None,
            snippet: None,
            at: None,
            boxes: Vec::new(),
        }
    }

    #[test]
    fn moments_merge_adjacent_hits_of_one_file_only() {
        let hits = vec![
            hit(1, Some((10.0, 12.0)), 0.9),
            hit(2, Some((11.0, 12.0)), 0.8),
            hit(1, Some((13.0, 15.0)), 0.7), // 1 s after the first: same moment
            hit(1, Some((40.0, 42.0)), 0.6), // far away: its own moment
            hit(3, None, 0.5),
        ];
        let m = group(hits.clone(), GroupBy::Moment, 20);
        assert_eq!(m.len(), 4);
        assert_eq!(
            m[0].moment,
            Some(TimeRange {
                start: 10.0,
                end: 15.0
            })
        );
        assert_eq!(m[0].merged, 2);
        assert_eq!(m[0].score, 0.9);
        assert_eq!(
            m[2].moment,
            Some(TimeRange {
                start: 40.0,
                end: 42.0
            })
        );
        let a = group(hits.clone(), GroupBy::Asset, 20);
        assert_eq!(a.len(), 3);
        assert_eq!(group(hits.clone(), GroupBy::Segment, 20).len(), 5);
        // Past the horizon, a neighbour is absorbed without stretching the moment.
        let tight = group(hits, GroupBy::Moment, 2);
        assert_eq!(
            tight.len(),
            4,
            "the far hit of file 1 still shows; the near one is absorbed"
        );
        assert_eq!(
            tight[0].moment,
            Some(TimeRange {
                start: 10.0,
                end: 12.0
            })
        );
    }

    #[test]
    fn the_gap_is_inclusive_and_chains_grow_the_moment() {
        // 12 -> 14 is exactly the gap: joined; then 14..16 -> 18 joins the grown moment.
        let hits = vec![
            hit(1, Some((10.0, 12.0)), 0.9),
            hit(1, Some((14.0, 16.0)), 0.8),
            hit(1, Some((18.0, 19.0)), 0.7),
            hit(1, Some((21.5, 22.0)), 0.6),
        ];
        let m = group(hits, GroupBy::Moment, 20);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0].moment,
            Some(TimeRange {
                start: 10.0,
                end: 19.0
            })
        );
        assert_eq!(m[0].merged, 3);
        assert_eq!(m[1].merged, 1);
    }

    #[test]
    fn a_later_hit_before_the_first_extends_it_backwards() {
        let hits = vec![hit(1, Some((10.0, 12.0)), 0.9), hit(1, Some((7.0, 9.0)), 0.8)];
        let m = group(hits, GroupBy::Moment, 20);
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[0].moment,
            Some(TimeRange {
                start: 7.0,
                end: 12.0
            })
        );
        assert_eq!(
            m[0].segment.locator.time_range(),
            Some((10.0, 12.0)),
            "the best member shows"
        );
    }

    #[test]
    fn whole_assets_never_merge_and_order_is_kept() {
        let hits = vec![hit(1, None, 0.9), hit(1, None, 0.8), hit(2, None, 0.7)];
        let m = group(hits.clone(), GroupBy::Moment, 20);
        assert_eq!(m.len(), 3);
        let a = group(hits, GroupBy::Asset, 20);
        assert_eq!(a.iter().map(|h| h.score).collect::<Vec<_>>(), vec![0.9, 0.7]);
        assert!(group(Vec::new(), GroupBy::Moment, 20).is_empty());
    }
}
