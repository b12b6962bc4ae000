//! The extractive answerer: no generative model. It finds the passage that best matches the
//! question's words across the evidence and quotes it (for a "label: value" line, the value), with
//! the source's number. Nothing matching means "not found".

use crate::evidence::Evidence;
use crate::text::{self, Passage};
use crate::{Answerer, Flow, Generation, Result, Task};
use loupe_schemas::llm::FinishReason;
use std::time::Instant;

pub struct Extractive;

/// The best passage for a question: (source number, passage index, the answer text).
pub fn best(question: &str, evidence: &[Evidence]) -> Option<(u32, usize, String)> {
    let terms = text::content_terms(question);
    if terms.is_empty() {
        return None;
    }
    let all: Vec<&str> = evidence
        .iter()
        .flat_map(|e| e.passages.iter().map(|p| p.text.as_str()))
        .collect();
    let weights = text::weigh(&terms, &all);
    let max_weight: f32 = weights.iter().map(|(_, w)| w).sum();
    let mut best: Option<(u32, usize, f32)> = None;
    for e in evidence {
        for (i, p) in e.passages.iter().enumerate() {
            let s = text::overlap(&p.text, &weights);
            // A small preference for higher-ranked sources and shorter passages breaks ties.
            let s = s - 0.01 * e.n as f32 - 0.0005 * p.text.len() as f32;
            if s > 0.0 && best.is_none_or(|b| s > b.2) {
                best = Some((e.n, i, s));
            }
        }
    }
    let (n, i, score) = best?;
    // At least a third of what the question is about must be there.
    if score < max_weight / 3.0 {
        return None;
    }
    let e = evidence.iter().find(|e| e.n == n)?;
    let answer = value_of(&e.passages, i, &weights).unwrap_or_else(|| e.passages[i].text.clone());
    Some((n, i, answer))
}

/// For a "label value" passage, the value: what follows the last question word in it (separators
/// trimmed), or the next passage when the label stands alone.
fn value_of(ps: &[Passage], i: usize, weights: &[(String, f32)]) -> Option<String> {
    let line = &ps[i].text;
    let words: Vec<&str> = line.split_whitespace().collect();
    let last = words
        .iter()
        .rposition(|w| weights.iter().any(|(t, _)| text::stem(&w.to_lowercase()) == *t))?;
    let trim = |s: &str| {
        s.trim_start_matches([':', '-', '–', '=', '.', ' '])
            .trim()
            .trim_end_matches(['.', ','])
            .to_string()
    };
    let rest = trim(&words[last + 1..].join(" "));
    let rest = rest
        .strip_prefix("is ")
        .or_else(|| rest.strip_prefix("was "))
        .map(str::to_string)
        .unwrap_or(rest);
    if !rest.is_empty() {
        return (rest.len() <= 80).then_some(rest);
    }
    let next = ps.get(i + 1).map(|p| trim(&p.text))?;
    (!next.is_empty() && next.len() <= 80).then_some(next)
}

impl Answerer for Extractive {
    fn name(&self) -> String {
        "extractive".into()
    }
    fn vision(&self) -> bool {
        false
    }
    fn evidence_budget(&self) -> usize {
        20_000
    }
    fn answer(&self, task: &Task<'_>, on_text: &mut dyn FnMut(&str) -> Flow) -> Result<Generation> {
        let started = Instant::now();
        let text = match best(task.question, task.evidence) {
            Some((n, _, answer)) => format!("{answer} [{n}]"),
            None => crate::prompt::NOT_FOUND_MARK.to_string(),
        };
        on_text(&text);
        Ok(Generation {
            text,
            usage: None,
            finish: FinishReason::Stop,
            first_token_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
            generate_ms: None,
        })
    }
}
