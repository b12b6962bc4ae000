//! One question, end to end: evidence, answer, citations.

use crate::evidence::{self, Evidence, GatherOptions};
use crate::{Answerer, Error, Flow, GenOptions, Result, Task, cite, extractive, ground, question, text};
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
    let question = tail_of(question, MAX_QUESTION);
    let mut questions = vec![question];
    questions.extend(history.questions.iter().map(|q| tail_of(q, MAX_QUESTION)));
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
            value: None,
            from_fields: false,
            timings: AskTimings {
                retrieval_ms,
                first_token_ms: ms(started),
                total_ms: ms(started),
                tokens_per_s: None,
                prompt_tokens_per_s: None,
                prompt_ms: None,
                generate_ms: None,
                cached_prompt_tokens: None,
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
    // A given answer must rest on a cited source: a typed value on the page, a span of it (or a
    // near miss snapped to one), or for a sentence, numbers and words from the sources. An answer
    // from the model's own memory (or invented) is reported as not found, with the draft kept.
    let bare = strip_markers(&generation.text);
    let markers = cite::cited(
        &generation.text,
        u32::try_from(evidence.len()).unwrap_or(u32::MAX),
    );
    let q = question::analyse(question);
    let mut grounded = said_found
        .then(|| ground::check(&bare, &q, &evidence, &markers, req.brief, question))
        .flatten();
    let unsupported_draft = (said_found && grounded.is_none()).then(|| generation.text.trim().to_string());
    // A question that certainly asks for a typed value, which the model did not answer with one
    // the page labels as asked: the field reader's value, if the page has one (the model's draft
    // is kept beside it).
    let mut from_fields = false;
    if grounded.is_none()
        && q.strict
        && q.expect.kind().is_some()
        && let Some((n, _, value)) = extractive::best(question, &evidence)
    {
        grounded = ground::check(&value, &q, &evidence, &[n], true, question);
        from_fields = grounded.is_some();
    }
    let found = grounded.is_some();
    let mut answer = match &grounded {
        Some(g) if req.brief || from_fields => format!("{} [{}]", g.answer, g.n),
        Some(_) => generation.text.trim().to_string(),
        None => NOT_FOUND.to_string(),
    };
    // Several files could hold the answer and the question named none: say which one was used.
    if let Some(g) = &grounded
        && !req.brief
        && let Some(e) = evidence.iter().find(|e| e.n == g.n)
    {
        let mut files: Vec<&str> = evidence.iter().map(|e| e.hit.asset.id.as_str()).collect();
        files.sort_unstable();
        files.dedup();
        if files.len() > 1 {
            let note = format!(" (from {})", e.label());
            on_event(AskEvent::Token(&note));
            answer.push_str(&note);
        }
    }
    if let Some(g) = &grounded {
        mark_cited(&answer, &evidence, &mut citations);
        if let Some(e) = evidence.iter().find(|e| e.n == g.n)
            && let Some(p) = e.passages.get(g.passage)
            && let Some(c) = citations.iter_mut().find(|c| c.n == g.n)
        {
            *c = e.citation(true, Some(p));
        }
    }
    let value = grounded.and_then(|g| g.value);
    Ok(AskResponse {
        answer,
        found,
        answerer: answerer.name(),
        citations,
        usage: generation.usage,
        finish_reason: Some(generation.finish),
        withheld,
        unsupported_draft,
        value,
        from_fields,
        timings: AskTimings {
            retrieval_ms,
            first_token_ms: first_token_at.unwrap_or_else(|| ms(started)),
            total_ms: ms(started),
            tokens_per_s: generation.tokens_per_s(),
            prompt_tokens_per_s: generation.prompt_tokens_per_s(),
            prompt_ms: generation.prompt_ms,
            generate_ms: generation.generate_ms,
            cached_prompt_tokens: generation.cached_tokens,
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

/// Longest question searched and answered, in characters; a longer one (a pasted page, then the
/// question) is read from its end.
pub const MAX_QUESTION: usize = 2000;

/// The last `max` characters of `q`, from the start of a sentence when one begins there.
fn tail_of(q: &str, max: usize) -> &str {
    let n = q.chars().count();
    if n <= max {
        return q;
    }
    let start = q.char_indices().nth(n - max).map_or(0, |(i, _)| i);
    let tail = &q[start..];
    match tail.find(['.', '?', '!', '\n']) {
        Some(i) if i + 1 < tail.len() => tail[i + 1..].trim_start(),
        _ => tail,
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::strip_markers;

    #[test]
    fn long_questions_are_read_from_their_end() {
        let q = format!("{} What is the total?", "Ipsum. ".repeat(1000));
        let t = super::tail_of(&q, 100);
        assert!(
            t.starts_with("Ipsum.") && t.ends_with("What is the total?") && t.len() <= 100,
            "{t}"
        );
        assert_eq!(super::tail_of("Short?", 100), "Short?");
        let wide = "é".repeat(3000);
        assert_eq!(super::tail_of(&wide, 10).chars().count(), 10);
    }

    #[test]
    fn markers_are_stripped() {
        assert_eq!(strip_markers("42183017 [1]"), "42183017");
        assert_eq!(strip_markers("It is 4.11 [1, 2]. [x]"), "It is 4.11 . [x]");
    }
}
