//! One question, end to end: evidence, answer, citations.

use crate::evidence::{self, Evidence, GatherOptions};
use crate::{Answerer, Error, Flow, GenOptions, Result, Task, cite, text};
use loupe_query::Searcher;
use loupe_schemas::answer::{AskRequest, AskResponse, AskTimings, Citation, NOT_FOUND};
use loupe_schemas::llm::LlmTurn;
use std::time::Instant;

/// What an ask reports while it runs.
#[derive(Debug)]
pub enum AskEvent<'a> {
    /// The sources, numbered, before any of the answer (none cited yet).
    Citations(&'a [Citation]),
    /// A piece of the answer.
    Token(&'a str),
}

/// A conversation's earlier turns, for follow-up questions.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Earlier user questions, most recent first (their evidence is searched again and kept).
    pub questions: Vec<String>,
    /// The turns as the model should see them (user and assistant), oldest first.
    pub turns: Vec<LlmTurn>,
}

/// Answers `req` with `answerer`, streaming through `on_event`.
pub fn ask(
    searcher: &Searcher,
    answerer: &dyn Answerer,
    req: &AskRequest,
    history: &History,
    on_event: &mut dyn FnMut(AskEvent<'_>) -> Flow,
) -> Result<AskResponse> {
    let started = Instant::now();
    let question = req.question.trim();
    if question.is_empty() && req.image.is_none() {
        return Err(Error::BadRequest("the question is empty".into()));
    }
    if question.chars().count() > 4000 {
        return Err(Error::BadRequest(
            "the question is longer than 4000 characters".into(),
        ));
    }
    let mut questions = vec![question];
    questions.extend(history.questions.iter().map(String::as_str));
    let opts = GatherOptions {
        max_evidence: req.max_evidence.min(20),
        score_threshold: req.score_threshold,
        budget_chars: answerer.evidence_budget(),
        images: answerer.vision(),
    };
    let evidence = evidence::gather(searcher, &questions, req.image.as_ref(), &req.filters, &opts)?;
    let retrieval_ms = ms(started);
    let mut citations: Vec<Citation> = evidence.iter().map(|e| e.citation(false, None)).collect();
    let withheld: Vec<String> = evidence
        .iter()
        .flat_map(|e| e.withheld.iter().map(move |w| format!("[{}] {w}", e.n)))
        .collect();
    if on_event(AskEvent::Citations(&citations)) == Flow::Stop {
        return Err(Error::BadRequest("cancelled".into()));
    }
    if evidence.is_empty() {
        on_event(AskEvent::Token(NOT_FOUND));
        return Ok(AskResponse {
            answer: NOT_FOUND.into(),
            found: false,
            answerer: answerer.name(),
            citations,
            usage: None,
            finish_reason: None,
            withheld,
            unsupported_draft: None,
            timings: AskTimings {
                retrieval_ms,
                first_token_ms: ms(started),
                total_ms: ms(started),
                tokens_per_s: None,
            },
        });
    }
    let task = Task {
        question,
        history: &history.turns,
        evidence: &evidence,
        opts: GenOptions {
            max_tokens: req.max_tokens.unwrap_or(256).clamp(1, 4096),
            temperature: 0.0,
        },
        brief: req.brief,
    };
    let mut first_token_at = None;
    let generation = answerer.answer(&task, &mut |piece| {
        first_token_at.get_or_insert_with(|| ms(started));
        on_event(AskEvent::Token(piece))
    })?;
    let said_found = !cite::says_not_found(&generation.text);
    // A generated answer must rest on the sources: numbers from them, words from them. An answer
    // from the model's own memory (or invented) is reported as not found, with the draft kept.
    let sources: String = evidence.iter().map(|e| e.text() + "\n").collect();
    let grounded = !said_found || text::supported(&strip_markers(&generation.text), question, &sources);
    let found = said_found && grounded;
    let answer = if found {
        generation.text.trim().to_string()
    } else {
        NOT_FOUND.to_string()
    };
    let unsupported_draft = (said_found && !grounded).then(|| generation.text.trim().to_string());
    if found {
        mark_cited(&answer, &evidence, &mut citations);
    }
    let tokens_per_s = match (generation.usage, generation.generate_ms) {
        (Some(u), Some(g)) if g > 0.0 && u.completion_tokens > 1 => {
            Some(f64::from(u.completion_tokens - 1) / (g / 1000.0))
        }
        _ => None,
    };
    Ok(AskResponse {
        answer,
        found,
        answerer: answerer.name(),
        citations,
        usage: generation.usage,
        finish_reason: Some(generation.finish),
        withheld,
        unsupported_draft,
        timings: AskTimings {
            retrieval_ms,
            first_token_ms: first_token_at.unwrap_or_else(|| ms(started)),
            total_ms: ms(started),
            tokens_per_s,
        },
    })
}

/// Marks the sources the answer cites (`[n]`), narrowing each to the passage the answer rests on;
/// an answer without markers is attributed to the passage it overlaps most.
pub fn mark_cited(answer: &str, evidence: &[Evidence], citations: &mut [Citation]) {
    let numbers = cite::cited(answer, u32::try_from(evidence.len()).unwrap_or(u32::MAX));
    let bare = strip_markers(answer);
    let targets: Vec<(u32, Option<usize>)> = if numbers.is_empty() {
        cite::attribute(&bare, evidence)
            .map(|(n, i)| vec![(n, Some(i))])
            .unwrap_or_default()
    } else {
        numbers
            .iter()
            .map(|&n| {
                let e = evidence.iter().find(|e| e.n == n);
                (
                    n,
                    e.and_then(|e| cite::attribute(&bare, std::slice::from_ref(e)).map(|(_, i)| i)),
                )
            })
            .collect()
    };
    for (n, passage) in targets {
        if let (Some(e), Some(c)) = (
            evidence.iter().find(|e| e.n == n),
            citations.iter_mut().find(|c| c.n == n),
        ) {
            *c = e.citation(true, passage.and_then(|i| e.passages.get(i)));
        }
    }
}

/// The answer without its `[n]` markers.
pub fn strip_markers(answer: &str) -> String {
    let out = loupe_metrics::qa::strip_markers(answer);
    text::tokens(&out)
        .is_empty()
        .then(String::new)
        .unwrap_or_else(|| out.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::strip_markers;

    #[test]
    fn markers_are_stripped() {
        assert_eq!(strip_markers("42183017 [1]"), "42183017");
        assert_eq!(strip_markers("It is 4.11 [1, 2]. [x]"), "It is 4.11 . [x]");
    }
}
