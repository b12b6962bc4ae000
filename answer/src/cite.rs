//! Reading an answer back: which sources it cites, and whether it says "not found".

use crate::prompt::NOT_FOUND_MARK;
use crate::text;

/// The source numbers an answer cites (`[1]`, `[2, 3]`, `[1][4]`), in order of first mention,
/// limited to `1..=max`.
pub fn cited(answer: &str, max: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let inside = &after[..close];
        if inside
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == ' ' || c == '-')
        {
            for part in inside.split(',') {
                if let Ok(n) = part.trim().parse::<u32>()
                    && (1..=max).contains(&n)
                    && !out.contains(&n)
                {
                    out.push(n);
                }
            }
        }
        rest = &after[close..];
    }
    out
}

/// Whether a generated answer says the sources do not hold the answer.
pub fn says_not_found(answer: &str) -> bool {
    let a = answer
        .trim()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_uppercase();
    a.is_empty()
        || a.starts_with(NOT_FOUND_MARK)
        || a.contains("NOT FOUND IN THE")
        || a.contains("SOURCES DO NOT CONTAIN")
        || a.contains("DO NOT CONTAIN THE ANSWER")
        || a.contains("NO INFORMATION ABOUT")
}

/// Which passage of which source an uncited answer rests on most: the best overlap of the answer's
/// words with a passage (at least two words, one number, or the whole of a one-word answer).
pub fn attribute(answer: &str, evidence: &[crate::evidence::Evidence]) -> Option<(u32, usize)> {
    let words = text::content_terms(answer);
    if words.is_empty() {
        return None;
    }
    let weights: Vec<(String, f32)> = words
        .iter()
        .map(|w| {
            (
                w.clone(),
                if w.chars().any(|c| c.is_ascii_digit()) {
                    2.0
                } else {
                    1.0
                },
            )
        })
        .collect();
    let need = weights.iter().map(|(_, w)| w).sum::<f32>().min(2.0);
    let mut best: Option<(u32, usize, f32)> = None;
    for e in evidence {
        for (i, p) in e.passages.iter().enumerate() {
            let s = text::overlap(&p.text, &weights);
            if s >= need && best.is_none_or(|b| s > b.2) {
                best = Some((e.n, i, s));
            }
        }
    }
    best.map(|(n, i, _)| (n, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_are_read() {
        assert_eq!(
            cited("The total is 4.11 [2]. See also [1, 3] and [9].", 3),
            vec![2, 1, 3]
        );
        assert_eq!(cited("no refs [a]", 3), Vec::<u32>::new());
    }

    #[test]
    fn not_found_is_recognised() {
        assert!(says_not_found("NOT FOUND"));
        assert!(says_not_found("Not found."));
        assert!(!says_not_found("The total is 4.11 [1]."));
    }
}
