//! Transcript and OCR accuracy: word error rate after the Whisper English text normaliser, and
//! character error rate.
//!
//! [`normalise_english`] follows the steps of OpenAI Whisper's `EnglishTextNormalizer` (the one
//! its published WER figures use): lower case, drop bracketed and parenthesised spans and filler
//! words, expand contractions and spell out titles ("Mr." -> "mister"), drop punctuation, and
//! write spelled-out numbers as digits ("twenty five" -> "25", "one hundred and five" -> "105").
//! Left out: British-to-American spelling and diacritic folding (both need large tables); the
//! references in the dev set do not need them.

use crate::edit_distance;

const FILLERS: &[&str] = &["hmm", "mm", "mhm", "mmm", "uh", "um"];

/// Whole-word replacements (Whisper's `replacers`, contractions and titles).
const WORDS: &[(&str, &str)] = &[
    ("won't", "will not"),
    ("can't", "can not"),
    ("let's", "let us"),
    ("ain't", "aint"),
    ("y'all", "you all"),
    ("wanna", "want to"),
    ("gotta", "got to"),
    ("gonna", "going to"),
    ("i'ma", "i am going to"),
    ("imma", "i am going to"),
    ("woulda", "would have"),
    ("coulda", "could have"),
    ("shoulda", "should have"),
    ("ma'am", "madam"),
    ("mr", "mister"),
    ("mrs", "missus"),
    ("st", "saint"),
    ("dr", "doctor"),
    ("prof", "professor"),
    ("capt", "captain"),
    ("gov", "governor"),
    ("ald", "alderman"),
    ("gen", "general"),
    ("sen", "senator"),
    ("rep", "representative"),
    ("pres", "president"),
    ("rev", "reverend"),
    ("hon", "honorable"),
    ("asst", "assistant"),
    ("assoc", "associate"),
    ("lt", "lieutenant"),
    ("col", "colonel"),
    ("jr", "junior"),
    ("sr", "senior"),
    ("esq", "esquire"),
];

/// Contraction endings, in Whisper's order.
const ENDINGS: &[(&str, &str)] = &[
    ("n't", " not"),
    ("'re", " are"),
    ("'s", " is"),
    ("'d", " would"),
    ("'ll", " will"),
    ("'t", " not"),
    ("'ve", " have"),
    ("'m", " am"),
];

/// Drops `[...]`, `<...>` and `(...)` spans (sound tags such as "[Music]", asides).
fn drop_bracketed(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut close: Option<char> = None;
    for c in s.chars() {
        match close {
            Some(end) if c == end => {
                close = None;
                out.push(' ');
            }
            Some(_) => {}
            None => match c {
                '[' => close = Some(']'),
                '<' => close = Some('>'),
                '(' => close = Some(')'),
                _ => out.push(c),
            },
        }
    }
    out
}

fn expand_word(token: &str, out: &mut String) {
    let bare = token.trim_end_matches('.');
    if let Some((_, to)) = WORDS.iter().find(|(from, _)| *from == bare) {
        out.push_str(to);
        return;
    }
    for (end, to) in ENDINGS {
        if let Some(stem) = token.strip_suffix(end).filter(|s| !s.is_empty()) {
            out.push_str(stem);
            out.push_str(to);
            return;
        }
    }
    out.push_str(token);
}

/// Keeps letters and digits, a '.' between digits and a '%'; everything else becomes a space.
fn drop_symbols(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let digit_at = |i: usize| chars.get(i).is_some_and(|c| c.is_ascii_digit());
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = i > 0 && digit_at(i - 1) && digit_at(i + 1);
        match c {
            c if c.is_alphanumeric() => out.push(c),
            '.' if between_digits => out.push('.'),
            ',' if between_digits => {}
            '%' => out.push_str(" percent "),
            _ => out.push(' '),
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Last {
    None,
    Ones,
    Teens,
    Tens,
    Hundred,
    Scale,
}

fn small_number(w: &str) -> Option<(u64, Last)> {
    const ONES: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    const TEENS: [&str; 10] = [
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    if let Some(i) = ONES.iter().position(|o| *o == w) {
        return Some((i as u64, Last::Ones));
    }
    if let Some(i) = TEENS.iter().position(|o| *o == w) {
        return Some((10 + i as u64, Last::Teens));
    }
    TENS.iter()
        .position(|o| *o == w)
        .map(|i| (20 + 10 * i as u64, Last::Tens))
}

fn scale(w: &str) -> Option<u64> {
    match w {
        "thousand" => Some(1_000),
        "million" => Some(1_000_000),
        "billion" => Some(1_000_000_000),
        _ => None,
    }
}

/// Writes runs of number words as digits: "twenty five" -> "25", "two thousand and three" ->
/// "2003", "one two three" -> "1 2 3".
fn numbers_to_digits(words: &[&str]) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    let (mut total, mut group, mut last) = (0u64, 0u64, Last::None);
    let flush = |out: &mut Vec<String>, total: &mut u64, group: &mut u64, last: &mut Last| {
        if *last != Last::None {
            out.push((*total + *group).to_string());
        }
        (*total, *group, *last) = (0, 0, Last::None);
    };
    for (i, &w) in words.iter().enumerate() {
        if let Some((n, kind)) = small_number(w) {
            let joins = match kind {
                Last::Ones => {
                    matches!(last, Last::None | Last::Hundred | Last::Scale)
                        || (last == Last::Tens && group % 10 == 0)
                }
                _ => matches!(last, Last::None | Last::Hundred | Last::Scale),
            };
            if !joins {
                flush(&mut out, &mut total, &mut group, &mut last);
            }
            group += n;
            last = kind;
        } else if w == "hundred" && matches!(last, Last::Ones | Last::Teens) && group < 100 {
            group *= 100;
            last = Last::Hundred;
        } else if let Some(s) = scale(w).filter(|_| last != Last::None && last != Last::Scale) {
            total += group.max(1) * s;
            group = 0;
            last = Last::Scale;
        } else if w == "and"
            && matches!(last, Last::Hundred | Last::Scale)
            && words.get(i + 1).is_some_and(|n| small_number(n).is_some())
        {
            // "one hundred and five": part of the number.
        } else {
            flush(&mut out, &mut total, &mut group, &mut last);
            out.push(w.to_string());
        }
    }
    flush(&mut out, &mut total, &mut group, &mut last);
    out
}

/// The words of `s` after the Whisper English normaliser (see the module comment).
pub fn normalise_english(s: &str) -> Vec<String> {
    let lower = s.to_lowercase().replace(['\u{2019}', '\u{2018}', '`'], "'");
    let unbracketed = drop_bracketed(&lower);
    let mut expanded = String::with_capacity(unbracketed.len());
    for token in unbracketed.split_whitespace() {
        let token = token.trim_matches(|c: char| !c.is_alphanumeric() && !matches!(c, '\'' | '.' | '%'));
        let token = token.trim_matches('\'');
        expand_word(token, &mut expanded);
        expanded.push(' ');
    }
    let plain = drop_symbols(&expanded);
    let words: Vec<&str> = plain
        .split_whitespace()
        .filter(|w| !FILLERS.contains(w))
        .collect();
    numbers_to_digits(&words)
}

/// Word errors (substitutions + insertions + deletions) and reference words, both normalised by
/// [`normalise_english`]. WER = errors / words, summed over a corpus before dividing.
pub fn wer(reference: &str, hypothesis: &str) -> (usize, usize) {
    let (r, h) = (normalise_english(reference), normalise_english(hypothesis));
    (edit_distance(&r, &h), r.len())
}

/// Character errors and reference characters, whitespace runs collapsed. `loose` also lower-cases
/// and turns everything but letters and digits into spaces (what a search cares about).
pub fn cer(reference: &str, hypothesis: &str, loose: bool) -> (usize, usize) {
    let norm = |s: &str| {
        let s: String = if loose {
            s.to_lowercase()
                .chars()
                .map(|c| if c.is_alphanumeric() { c } else { ' ' })
                .collect()
        } else {
            s.to_string()
        };
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .collect::<Vec<char>>()
    };
    let (r, h) = (norm(reference), norm(hypothesis));
    (edit_distance(&r, &h), r.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalise_english(s).join(" ")
    }

    #[test]
    fn whisper_normaliser() {
        assert_eq!(
            n("And so, my fellow Americans: ask not what your country can do for you."),
            "and so my fellow americans ask not what your country can do for you"
        );
        assert_eq!(n("Mr. John Dashwood"), "mister john dashwood");
        assert_eq!(
            n("I won't, it's [Music] (laughs) um fine"),
            "i will not it is fine"
        );
        assert_eq!(n("We can't go; they're here"), "we can not go they are here");
        assert_eq!(n("twenty-five apples"), "25 apples");
        assert_eq!(n("one hundred and five"), "105");
        assert_eq!(n("two thousand and three"), "2003");
        assert_eq!(n("one two three"), "1 2 3");
        assert_eq!(n("1,000 people, 3.5 percent"), "1000 people 3.5 percent");
        assert_eq!(n("50% off"), "50 percent off");
        assert_eq!(n("a million, two million"), "a million 2000000");
        assert_eq!(n("he and she"), "he and she");
        assert_eq!(n("nine hundred ninety nine thousand"), "999000");
        assert_eq!(n("The end."), "the end");
    }

    #[test]
    fn word_and_character_errors() {
        // Digits against spelled-out numbers, and titles, are not errors.
        assert_eq!(
            wer("mister smith has twenty five cats", "Mr. Smith has 25 cats."),
            (0, 5)
        );
        assert_eq!(wer("a b c d", "a x c"), (2, 4));
        assert_eq!(wer("", ""), (0, 0));
        assert_eq!(cer("Hello, World", "hello world", false), (3, 12));
        assert_eq!(cer("Hello, World", "hello world", true), (0, 11));
    }
}
