//! Rank fusion of several signals' ranked lists.

use loupe_schemas::{AssetId, Fusion, Signal, Uuid};
use std::collections::HashMap;

/// A fused result: segment, fused score, and each contributing signal's (rank, raw score).
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    pub segment_id: Uuid,
    pub asset_id: AssetId,
    pub score: f32,
    pub signals: Vec<(Signal, u32, f32)>,
}

/// One signal's result: segment, asset, raw score.
pub type Ranked = (Uuid, AssetId, f32);

/// Fuses ranked lists (each sorted best first). Ties break by segment id, so results are stable.
pub fn fuse(lists: &[(Signal, Vec<Ranked>)], method: &Fusion) -> Vec<Fused> {
    let mut by_id: HashMap<Uuid, Fused> = HashMap::new();
    for (signal, list) in lists {
        let (lo, hi) = list
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), (_, _, s)| {
                (lo.min(*s), hi.max(*s))
            });
        for (i, (id, asset, raw)) in list.iter().enumerate() {
            let rank = i as u32 + 1;
            let contribution = match method {
                Fusion::Rrf { k } => 1.0 / (*k as f32 + rank as f32),
                Fusion::Weighted {
                    visual,
                    lexical,
                    text_dense,
                } => {
                    let w = match signal {
                        Signal::Visual => *visual,
                        Signal::Lexical => *lexical,
                        Signal::TextDense => *text_dense,
                    };
                    let norm = if hi > lo { (raw - lo) / (hi - lo) } else { 1.0 };
                    w * norm
                }
            };
            let e = by_id.entry(*id).or_insert_with(|| Fused {
                segment_id: *id,
                asset_id: asset.clone(),
                score: 0.0,
                signals: Vec::new(),
            });
            e.score += contribution;
            e.signals.push((*signal, rank, *raw));
        }
    }
    let mut out: Vec<Fused> = by_id.into_values().collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.segment_id.cmp(&b.segment_id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> (Uuid, AssetId) {
        (Uuid::from_bytes([n; 16]), AssetId::from_hash(&[n; 32]))
    }

    fn list(ns: &[(u8, f32)]) -> Vec<Ranked> {
        ns.iter()
            .map(|&(n, s)| {
                let (u, a) = id(n);
                (u, a, s)
            })
            .collect()
    }

    #[test]
    fn rrf_rewards_agreement() {
        let lists = vec![
            (Signal::Visual, list(&[(1, 0.9), (2, 0.8), (3, 0.7)])),
            (Signal::Lexical, list(&[(3, 12.0), (2, 3.0)])),
        ];
        let f = fuse(&lists, &Fusion::Rrf { k: 60 });
        // 2 is second in both: 2/62; 3 is 3rd and 1st: 1/63 + 1/61; 1 is first once: 1/61.
        assert_eq!(f[0].segment_id, id(3).0);
        assert_eq!(f[1].segment_id, id(2).0);
        assert_eq!(f[2].segment_id, id(1).0);
        assert_eq!(
            f[0].signals,
            vec![(Signal::Visual, 3, 0.7), (Signal::Lexical, 1, 12.0)]
        );
    }

    #[test]
    fn weighted_uses_normalised_scores_and_weights() {
        let lists = vec![
            (Signal::Visual, list(&[(1, 0.9), (2, 0.1)])),
            (Signal::Lexical, list(&[(2, 5.0), (1, 1.0)])),
        ];
        let visual_heavy = fuse(
            &lists,
            &Fusion::Weighted {
                visual: 1.0,
                lexical: 0.1,
                text_dense: 0.0,
            },
        );
        assert_eq!(visual_heavy[0].segment_id, id(1).0);
        let lexical_heavy = fuse(
            &lists,
            &Fusion::Weighted {
                visual: 0.1,
                lexical: 1.0,
                text_dense: 0.0,
            },
        );
        assert_eq!(lexical_heavy[0].segment_id, id(2).0);
    }

    #[test]
    fn empty_lists_fuse_to_nothing() {
        assert!(fuse(&[], &Fusion::default()).is_empty());
    }
}
