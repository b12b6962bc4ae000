//! Answer accuracy: exact match and ANLS (average normalised Levenshtein similarity, as in DocVQA).

use crate::edit_distance;

/// The answer without citation markers such as `[1]` or `[2, 3]` (other brackets stay).
pub fn strip_markers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close)
                if after[..close]
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ',' || c == ' ') =>
            {
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Lower case, no punctuation at the ends of words, single spaces; "4.11" and "$4.11" compare equal,
/// as do "319.0" and "319".
pub fn normalise(s: &str) -> String {
    let s = strip_markers(s);
    s.to_lowercase()
        .split_whitespace()
        .map(|w| {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric());
            let w = w.trim_start_matches(['$', '€', '£', '₹']);
            match w.strip_suffix(".0").or_else(|| w.strip_suffix(".00")) {
                Some(int) if int.chars().all(|c| c.is_ascii_digit() || c == ',') && !int.is_empty() => {
                    int.to_string()
                }
                _ => w.to_string(),
            }
        })
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn exact_match(pred: &str, gold: &str) -> bool {
    normalise(pred) == normalise(gold)
}

/// Whether the prediction contains the gold answer (for verbose generative answers).
pub fn contains(pred: &str, gold: &str) -> bool {
    let g = normalise(gold);
    !g.is_empty() && normalise(pred).contains(&g)
}

/// ANLS of one prediction against one gold answer: 1 - normalised edit distance, 0 below 0.5.
pub fn anls(pred: &str, gold: &str) -> f64 {
    let (p, g) = (normalise(pred), normalise(gold));
    let (p, g): (Vec<char>, Vec<char>) = (p.chars().collect(), g.chars().collect());
    let longest = p.len().max(g.len());
    if longest == 0 {
        return 1.0;
    }
    let nl = edit_distance(&p, &g) as f64 / longest as f64;
    if nl < 0.5 { 1.0 - nl } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores() {
        assert!(exact_match("4.11 [1]", "4.11"));
        assert!(exact_match("$4.11", "4.11"));
        assert!(exact_match("319", "319.0"));
        assert!(!exact_match("The total is 4.11", "4.11"));
        assert!(contains("The total is $4.11 [1].", "4.11"));
        assert_eq!(anls("Deacon Winn", "Deacon Winn"), 1.0);
        assert!(anls("Deacon Wynn", "Deacon Winn") > 0.8);
        assert_eq!(anls("something else entirely", "4.11"), 0.0);
    }
}
