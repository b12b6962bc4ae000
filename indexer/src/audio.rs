//! Sound: the audio track of a video or a recording -> 16 kHz mono ([`loupe_media::audio`]) -> voice activity
//! detection -> Whisper -> transcript segments with word times.
//!
//! Memory stays bounded for any length: ffmpeg streams samples through a pipe; an energy detector
//! (30 ms frames, a noise floor that falls at once and rises slowly) keeps only the stretches that
//! hold sound above the floor, with a little padding; those stretches are packed into chunks of
//! about a minute of speech that Whisper transcribes one at a time, and the chunk's times are mapped
//! back to the file's. Silence never reaches the recogniser, so it cannot be hallucinated into
//! text, and a 3-hour file that is mostly quiet costs what its speech costs.
//!
//! Seams: whisper.cpp walks each chunk in 30 s windows and seeks by the last complete timestamp, so
//! no word is lost between windows; chunks are cut only at pauses (at least [`CLOSE_GAP_S`] of
//! quiet), or, inside a very long stretch without pauses, at the quietest frame of its last two
//! seconds.

use loupe_models::whisper::{Decode, SAMPLE_RATE, Whisper};
use loupe_schemas::{Transcript, TranscriptSegment};
use std::collections::{BTreeMap, VecDeque};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

const RATE: f64 = SAMPLE_RATE as f64;
// The samples ffmpeg gives are the samples Whisper reads.
const _: () = assert!(SAMPLE_RATE as u64 == loupe_media::audio::SAMPLE_RATE as u64);
/// Analysis frame: 30 ms.
const FRAME: usize = 480;
/// Sound kept before the first loud frame of a stretch.
const PRE_PAD_S: f64 = 0.25;
/// Sound kept after the last loud frame of a stretch.
const POST_PAD_S: f64 = 0.35;
/// Quiet this long ends a stretch.
pub const CLOSE_GAP_S: f64 = 1.0;
/// Stretches with less loud sound than this are clicks, not speech.
const MIN_VOICED_S: f64 = 0.25;
/// A stretch without any pause is cut at this length.
const MAX_STRETCH_S: f64 = 60.0;
/// Speech handed to Whisper per call.
const CHUNK_S: f64 = 60.0;
/// Silence put between two stretches in a chunk, so the recogniser sees the pause and its
/// timestamps fall between them.
const JOIN_GAP_S: f64 = 0.4;
/// A frame is loud when it is this far above the noise floor...
const ABOVE_FLOOR_DB: f32 = 12.0;
/// ...and above this absolute level.
const MIN_LEVEL_DB: f32 = -50.0;
/// How fast the noise floor rises per frame while the sound stays above it (dB).
const FLOOR_RISE_DB: f32 = 0.03;

fn level_db(frame: &[f32]) -> f32 {
    let e = frame.iter().map(|x| x * x).sum::<f32>() / frame.len().max(1) as f32;
    10.0 * (e + 1e-12).log10()
}

/// The energy detector.
#[derive(Debug, Clone)]
struct Vad {
    floor_db: f32,
}

impl Vad {
    fn new() -> Self {
        Self { floor_db: -70.0 }
    }

    /// Returns (is loud, level in dB).
    fn push(&mut self, frame: &[f32]) -> (bool, f32) {
        let db = level_db(frame);
        if db < self.floor_db {
            self.floor_db = db.max(-110.0);
        } else {
            self.floor_db += FLOOR_RISE_DB;
        }
        (db > MIN_LEVEL_DB.max(self.floor_db + ABOVE_FLOOR_DB), db)
    }
}

/// A stretch of a chunk and where it came from in the file.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Piece {
    chunk_start: usize,
    file_start: u64,
    len: usize,
}

/// Speech packed for one Whisper call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpeechChunk {
    pub samples: Vec<f32>,
    pieces: Vec<Piece>,
}

impl SpeechChunk {
    /// Maps a time in the chunk (seconds) to the file's time. Times in the silence put between
    /// two stretches snap to the start of the next one; times past the end, to the last one's end.
    pub fn to_file_time(&self, t: f64) -> f64 {
        let s = (t.max(0.0) * RATE) as usize;
        let sample = match self.pieces.iter().find(|p| s < p.chunk_start + p.len) {
            Some(p) => p.file_start + s.saturating_sub(p.chunk_start) as u64,
            None => match self.pieces.last() {
                Some(p) => p.file_start + p.len as u64,
                None => return t,
            },
        };
        sample as f64 / RATE
    }

    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / RATE
    }
}

struct Stretch {
    start: u64,
    samples: Vec<f32>,
    levels: Vec<f32>,
    voiced: usize,
    quiet_run: usize,
}

/// Turns a stream of samples into speech chunks.
pub struct Segmenter {
    vad: Vad,
    pending: Vec<f32>,
    preroll: VecDeque<f32>,
    stretch: Option<Stretch>,
    pos: u64,
    chunk: SpeechChunk,
    ready: Vec<SpeechChunk>,
    /// Seconds of sound passed on (padding included).
    pub kept_s: f64,
}

impl Default for Segmenter {
    fn default() -> Self {
        Self::new()
    }
}

impl Segmenter {
    pub fn new() -> Self {
        Self {
            vad: Vad::new(),
            pending: Vec::new(),
            preroll: VecDeque::new(),
            stretch: None,
            pos: 0,
            chunk: SpeechChunk::default(),
            ready: Vec::new(),
            kept_s: 0.0,
        }
    }

    /// Feeds samples; finished chunks come out of [`Self::take_ready`].
    pub fn push(&mut self, samples: &[f32]) {
        self.pending.extend_from_slice(samples);
        let whole = self.pending.len() / FRAME * FRAME;
        let frames: Vec<f32> = self.pending.drain(..whole).collect();
        for f in frames.chunks(FRAME) {
            self.frame(f);
        }
    }

    /// Ends the stream: the last stretch and chunk come out.
    pub fn finish(&mut self) {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.frame(&rest);
        }
        if let Some(s) = self.stretch.take() {
            let keep = s.samples.len()
                - (s.quiet_run * FRAME)
                    .saturating_sub(secs(POST_PAD_S))
                    .min(s.samples.len());
            self.close(s, keep);
        }
        self.flush_chunk();
    }

    pub fn take_ready(&mut self) -> Vec<SpeechChunk> {
        std::mem::take(&mut self.ready)
    }

    fn frame(&mut self, f: &[f32]) {
        let (loud, db) = self.vad.push(f);
        let start = self.pos;
        self.pos += f.len() as u64;
        let Some(s) = self.stretch.as_mut() else {
            if loud {
                let pre: Vec<f32> = self.preroll.drain(..).collect();
                let mut samples = pre;
                let start = start - samples.len() as u64;
                samples.extend_from_slice(f);
                self.stretch = Some(Stretch {
                    start,
                    samples,
                    levels: vec![db],
                    voiced: 1,
                    quiet_run: 0,
                });
            } else {
                self.preroll.extend(f);
                let max = secs(PRE_PAD_S);
                while self.preroll.len() > max {
                    self.preroll.pop_front();
                }
            }
            return;
        };
        s.samples.extend_from_slice(f);
        s.levels.push(db);
        if loud {
            s.voiced += 1;
            s.quiet_run = 0;
        } else {
            s.quiet_run += 1;
        }
        if s.quiet_run * FRAME >= secs(CLOSE_GAP_S) {
            let Some(s) = self.stretch.take() else { return };
            let quiet = s.quiet_run * FRAME;
            let keep = s.samples.len() - quiet + secs(POST_PAD_S).min(quiet);
            // What follows the kept tail is quiet; its end is the next stretch's pre-roll.
            let tail_from = s.samples.len().saturating_sub(secs(PRE_PAD_S)).max(keep);
            self.preroll = s.samples[tail_from..].iter().copied().collect();
            self.close(s, keep);
        } else if s.samples.len() >= secs(MAX_STRETCH_S) {
            // No pause for a minute: cut at the quietest frame of the last two seconds.
            let Some(s) = self.stretch.take() else { return };
            let window = (secs(2.0) / FRAME).min(s.levels.len());
            let first = s.levels.len() - window;
            let quietest = (first..s.levels.len())
                .min_by(|&a, &b| s.levels[a].total_cmp(&s.levels[b]))
                .unwrap_or(s.levels.len() - 1);
            let cut = ((quietest + 1) * FRAME).min(s.samples.len());
            let rest = Stretch {
                start: s.start + cut as u64,
                samples: s.samples[cut..].to_vec(),
                levels: s.levels[quietest + 1..].to_vec(),
                voiced: 1,
                quiet_run: 0,
            };
            self.close(s, cut);
            self.stretch = Some(rest);
        }
    }

    fn close(&mut self, s: Stretch, keep: usize) {
        if s.voiced * FRAME < secs(MIN_VOICED_S) {
            return;
        }
        let keep = keep.min(s.samples.len());
        // A chunk holds at most a minute of sound (or one stretch, itself at most a minute).
        if self.chunk.samples.len() + keep > secs(CHUNK_S) {
            self.flush_chunk();
        }
        if !self.chunk.samples.is_empty() {
            let gap = self.chunk.samples.len() + secs(JOIN_GAP_S);
            self.chunk.samples.resize(gap, 0.0);
        }
        self.chunk.pieces.push(Piece {
            chunk_start: self.chunk.samples.len(),
            file_start: s.start,
            len: keep,
        });
        self.chunk.samples.extend_from_slice(&s.samples[..keep]);
        self.kept_s += keep as f64 / RATE;
    }

    fn flush_chunk(&mut self) {
        if !self.chunk.samples.is_empty() {
            self.ready.push(std::mem::take(&mut self.chunk));
        }
    }
}

fn secs(s: f64) -> usize {
    (s * RATE) as usize
}

/// What transcribing a file gave, plus a warning when only part of the sound could be read.
#[derive(Debug, Clone, Default)]
pub struct Transcribed {
    pub transcript: Transcript,
    pub warning: Option<String>,
}

/// Transcribes a file's first audio track. `progress` gets the seconds of sound decoded so far.
pub fn transcribe_file(
    path: &Path,
    whisper: &Whisper,
    decode: &Decode,
    cancel: &AtomicBool,
    progress: &dyn Fn(f64),
) -> Result<Transcribed, String> {
    let mut seg = Segmenter::new();
    let mut segments: Vec<TranscriptSegment> = Vec::new();
    let mut by_language: BTreeMap<String, f64> = BTreeMap::new();
    // Language detection costs an extra pass; it runs until a chunk with speech has named the
    // language, which the rest of the file then uses.
    let mut decode = decode.clone();
    let mut run = |chunk: SpeechChunk, segments: &mut Vec<TranscriptSegment>| -> Result<(), String> {
        if cancel.load(Ordering::SeqCst) {
            return Err(INTERRUPTED.into());
        }
        let rec = whisper
            .transcribe(&chunk.samples, &decode)
            .map_err(|e| e.to_string())?;
        if !rec.segments.is_empty() && !rec.language.is_empty() {
            if decode.language.is_none() && whisper.is_multilingual() {
                decode.language = Some(rec.language.clone());
            }
            *by_language.entry(rec.language.clone()).or_default() += chunk.duration_s();
        }
        for mut s in rec.segments {
            s.start = chunk.to_file_time(s.start);
            s.end = chunk.to_file_time(s.end).max(s.start);
            for w in &mut s.words {
                w.start = chunk.to_file_time(w.start);
                w.end = chunk.to_file_time(w.end).max(w.start);
            }
            // Segment bounds are coarser than word times; trust the words when they disagree by
            // more than a second (e.g. a segment that "starts" in the pause before its speech).
            if let (Some(first), Some(last)) = (s.words.first(), s.words.last()) {
                if first.start > s.start + 1.0 {
                    s.start = first.start;
                }
                if last.end + 1.0 < s.end {
                    s.end = last.end.max(s.start);
                }
            }
            segments.push(s);
        }
        Ok(())
    };
    // Sound comes from loupe-media's ffmpeg pipe; a failure of ours (a model error, a cancel) stops it.
    let mut failed: Option<String> = None;
    let streamed = loupe_media::audio::stream_pcm(path, loupe_media::TimeLimit::default(), |block| {
        seg.push(block);
        for chunk in seg.take_ready() {
            if let Err(e) = run(chunk, &mut segments) {
                failed = Some(e);
                return ControlFlow::Break(());
            }
        }
        progress(seg.pos as f64 / RATE);
        ControlFlow::Continue(())
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    let (total, warning) = (streamed.samples, streamed.warning.map(|w| w.to_string()));
    seg.finish();
    for chunk in seg.take_ready() {
        run(chunk, &mut segments)?;
    }
    let language = by_language
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(l, _)| l)
        .unwrap_or_default();
    Ok(Transcribed {
        transcript: Transcript {
            language,
            model: whisper.id(),
            duration_s: total as f64 / RATE,
            speech_s: seg.kept_s,
            segments,
        },
        warning,
    })
}

/// The reason given when a run is cancelled mid-file.
pub const INTERRUPTED: &str = "interrupted";

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(secs_: f64, amp: f32) -> Vec<f32> {
        (0..secs(secs_))
            .map(|i| amp * (i as f64 * 2.0 * std::f64::consts::PI * 220.0 / RATE).sin() as f32)
            .collect()
    }

    fn run(samples: &[f32]) -> (Vec<SpeechChunk>, f64) {
        let mut s = Segmenter::new();
        for block in samples.chunks(7777) {
            s.push(block);
        }
        s.finish();
        (s.take_ready(), s.kept_s)
    }

    #[test]
    fn silence_yields_nothing() {
        let (chunks, kept) = run(&vec![0.0; secs(20.0)]);
        assert!(chunks.is_empty());
        assert_eq!(kept, 0.0);
        // Faint hiss stays below the absolute level.
        let hiss: Vec<f32> = (0..secs(5.0))
            .map(|i| if i % 2 == 0 { 1e-4 } else { -1e-4 })
            .collect();
        assert!(run(&hiss).0.is_empty());
    }

    #[test]
    fn stretches_are_found_padded_and_mapped_back() {
        // 3 s quiet, 2 s sound, 10 s quiet, 1 s sound, 2 s quiet.
        let mut a = vec![0.0; secs(3.0)];
        a.extend(tone(2.0, 0.3));
        a.extend(vec![0.0; secs(10.0)]);
        a.extend(tone(1.0, 0.3));
        a.extend(vec![0.0; secs(2.0)]);
        let (chunks, kept) = run(&a);
        assert_eq!(chunks.len(), 1);
        let c = &chunks[0];
        assert_eq!(c.pieces.len(), 2);
        // Sound plus its padding (0.25 s before, 0.35 s after); the long silence is dropped.
        assert!((4.1..=4.3).contains(&kept), "{kept}");
        assert!(
            (c.to_file_time(0.25) - 3.0).abs() < 0.05,
            "{}",
            c.to_file_time(0.25)
        );
        let second = c.pieces[1].chunk_start as f64 / RATE;
        assert!((c.to_file_time(second + 0.25) - 15.0).abs() < 0.05);
    }

    /// A tone whose loudness rises and falls three times a second, like syllables.
    fn syllables(secs_: f64) -> Vec<f32> {
        tone(secs_, 0.3)
            .into_iter()
            .enumerate()
            .map(|(i, x)| {
                let t = i as f64 / RATE;
                x * (0.55 + 0.45 * (2.0 * std::f64::consts::PI * 3.0 * t).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn a_steady_sound_becomes_the_noise_floor() {
        // Two minutes of an unchanging hum are background, not speech, after a while.
        let (_, kept) = run(&tone(120.0, 0.3));
        assert!(kept < 60.0, "{kept}");
    }

    #[test]
    fn a_long_stretch_is_cut_into_chunks() {
        let a = syllables(150.0);
        let (chunks, kept) = run(&a);
        assert!(chunks.len() >= 2, "{}", chunks.len());
        assert!((kept - 150.0).abs() < 0.1, "{kept}");
        for c in &chunks {
            assert!(c.duration_s() <= CHUNK_S + 0.01, "{}", c.duration_s());
        }
    }

    #[test]
    fn clicks_are_not_speech() {
        let mut a = vec![0.0; secs(2.0)];
        a.extend(tone(0.06, 0.5));
        a.extend(vec![0.0; secs(2.0)]);
        assert!(run(&a).0.is_empty());
    }
}
