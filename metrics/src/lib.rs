//! Evaluation metrics for `loupe eval` and the benchmarks: pure functions, no I/O.
//!
//! - [`rank`]: Recall@k (the Flickr30k / COCO protocol: a query counts when any relevant item is in
//!   the first k) and nDCG@k with binary relevance.
//! - [`speech`]: word error rate after the Whisper English normaliser (numbers written as digits),
//!   character error rate.
//! - [`qa`]: answer exact match, "contains", and ANLS (as in DocVQA).
//! - [`edit_distance`]: Levenshtein distance over any sequence, shared by WER, CER and ANLS.

pub mod qa;
pub mod rank;
pub mod speech;

/// Levenshtein distance between two sequences (characters for CER and ANLS, words for WER).
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The value at quantile `p` (0..=1) of an ascending slice, nearest rank; 0 for an empty slice.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p.clamp(0.0, 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance(b"kitten", b"sitting"), 3);
        assert_eq!(edit_distance::<u8>(b"", b"abc"), 3);
        assert_eq!(edit_distance::<u8>(b"abc", b""), 3);
        assert_eq!(edit_distance(&["a", "b"], &["a", "b"]), 0);
    }

    #[test]
    fn percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 0.5), 3.0);
        assert_eq!(percentile(&v, 1.0), 5.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
