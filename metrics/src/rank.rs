//! Ranking metrics with binary relevance.

/// Whether any relevant item is among the first `k` results (one query's Recall@k in the
/// Flickr30k / COCO retrieval protocol; average over queries for the figure).
pub fn hit_at_k<T: PartialEq>(ranked: &[T], relevant: &[T], k: usize) -> bool {
    ranked.iter().take(k).any(|r| relevant.contains(r))
}

/// Normalised discounted cumulative gain at `k`, binary relevance: DCG of the ranking divided by
/// the DCG of an ideal one. 0 when nothing is relevant.
pub fn ndcg_at_k<T: PartialEq>(ranked: &[T], relevant: &[T], k: usize) -> f64 {
    let gain = |i: usize| 1.0 / ((i + 2) as f64).log2();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, r)| relevant.contains(r))
        .map(|(i, _)| gain(i))
        .sum();
    let ideal: f64 = (0..relevant.len().min(k)).map(gain).sum();
    if ideal == 0.0 { 0.0 } else { dcg / ideal }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_and_ndcg() {
        let ranked = ["a", "b", "c", "d"];
        assert!(!hit_at_k(&ranked, &["c"], 2));
        assert!(hit_at_k(&ranked, &["c"], 3));
        assert_eq!(ndcg_at_k(&ranked, &["a"], 10), 1.0);
        // Relevant at rank 2 only: 1/log2(3).
        assert!((ndcg_at_k(&ranked, &["b"], 10) - 1.0 / 3f64.log2()).abs() < 1e-12);
        // Two relevant, found at ranks 1 and 3.
        let want = (1.0 + 0.5) / (1.0 + 1.0 / 3f64.log2());
        assert!((ndcg_at_k(&ranked, &["a", "c"], 10) - want).abs() < 1e-12);
        assert_eq!(ndcg_at_k(&ranked, &["z"], 10), 0.0);
        assert_eq!(ndcg_at_k::<&str>(&ranked, &[], 10), 0.0);
    }
}
