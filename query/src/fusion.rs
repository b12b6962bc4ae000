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
        assert!(fuse(&[(Signal::Visual, vec![])], &Fusion::Rrf { k: 60 }).is_empty());
    }

    #[test]
    fn rrf_scores_are_reciprocal_ranks_and_k_flattens_them() {
        let lists = vec![(Signal::Visual, list(&[(1, 0.9), (2, 0.8)]))];
        let f = fuse(&lists, &Fusion::Rrf { k: 60 });
        assert_eq!(f[0].score, 1.0 / 61.0);
        assert_eq!(f[1].score, 1.0 / 62.0);
        let f = fuse(&lists, &Fusion::Rrf { k: 0 });
        assert_eq!((f[0].score, f[1].score), (1.0, 0.5));
    }

    #[test]
    fn ties_break_by_segment_id_whatever_the_input_order() {
        // Each is first in one list: equal RRF scores.
        let a = vec![
            (Signal::Visual, list(&[(7, 0.9)])),
            (Signal::Lexical, list(&[(3, 2.0)])),
            (Signal::TextDense, list(&[(5, 0.5)])),
        ];
        let mut b = a.clone();
        b.reverse();
        let ids = |lists: &[(Signal, Vec<Ranked>)]| -> Vec<Uuid> {
            fuse(lists, &Fusion::Rrf { k: 60 })
                .into_iter()
                .map(|f| f.segment_id)
                .collect()
        };
        assert_eq!(ids(&a), vec![id(3).0, id(5).0, id(7).0]);
        assert_eq!(ids(&a), ids(&b));
    }

    #[test]
    fn weighted_normalises_each_list_and_a_flat_list_counts_fully() {
        let lists = vec![
            (Signal::Visual, list(&[(1, 0.9), (2, 0.5), (3, 0.1)])),
            // One candidate: no spread to normalise, it counts as the top.
            (Signal::TextDense, list(&[(3, 0.4)])),
        ];
        let f = fuse(
            &lists,
            &Fusion::Weighted {
                visual: 1.0,
                lexical: 9.0,
                text_dense: 0.25,
            },
        );
        let score = |n: u8| f.iter().find(|x| x.segment_id == id(n).0).unwrap().score;
        assert!((score(1) - 1.0).abs() < 1e-6);
        assert!((score(2) - 0.5).abs() < 1e-6);
        assert!(
            (score(3) - 0.25).abs() < 1e-6,
            "0 from visual + 0.25 * 1 from text"
        );
        // Raw scores and ranks are kept per signal.
        let three = f.iter().find(|x| x.segment_id == id(3).0).unwrap();
        assert_eq!(
            three.signals,
            vec![(Signal::Visual, 3, 0.1), (Signal::TextDense, 1, 0.4)]
        );
    }

    #[test]
    fn a_zero_weight_silences_a_signal_but_keeps_its_ranks() {
        let lists = vec![
            (Signal::Visual, list(&[(1, 0.9), (2, 0.1)])),
            (Signal::Lexical, list(&[(2, 5.0)])),
        ];
        let f = fuse(
            &lists,
            &Fusion::Weighted {
                visual: 1.0,
                lexical: 0.0,
                text_dense: 1.0,
            },
        );
        assert_eq!(f[0].segment_id, id(1).0);
        assert_eq!(f[1].score, 0.0);
        assert_eq!(f[1].signals.len(), 2);
    }
}
