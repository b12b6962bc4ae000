//! Every ffmpeg run, through `ffmpeg-sidecar`: the system's `ffmpeg` (never a downloaded one),
//! its log read as typed events (input duration, errors, progress) and its stdout as raw frames or
//! chunks. A watchdog kills a run that goes over its [`TimeLimit`]; memory is bounded by one frame
//! or one chunk in flight and a few kept error lines.

use crate::{Error, Result};
use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel, OutputVideoFrame};
use std::ffi::OsString;
use std::ops::ControlFlow;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long one ffmpeg run may take, counting ffmpeg's own time only: time the caller spends
/// handling frames or samples (a speech model, a shot detector) is not counted. The limit grows
/// with the length of the input, as ffmpeg reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeLimit {
    /// Allowed for any input.
    pub base: Duration,
    /// Added per second of media (ffmpeg's `Duration:` of the input).
    pub per_media_second: f64,
}

impl TimeLimit {
    /// The same limit whatever the input's length.
    pub const fn fixed(limit: Duration) -> Self {
        Self {
            base: limit,
            per_media_second: 0.0,
        }
    }

    /// The limit for an input of `media_s` seconds (unknown: the base).
    pub fn for_media(&self, media_s: Option<f64>) -> Duration {
        let extra = media_s
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(0.0, |s| s * self.per_media_second.max(0.0));
        self.base
            .saturating_add(Duration::from_secs_f64(extra.min(30.0 * 24.0 * 3600.0)))
    }
}

impl Default for TimeLimit {
    /// Two minutes, plus four seconds per second of media: decoding well below real time still
    /// finishes, a run that hangs does not hold the indexer for long.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(120),
            per_media_second: 4.0,
        }
    }
}

/// What ffmpeg wrote on its stdout.
pub(crate) enum Output {
    /// A raw video frame (the output's size and pixel format).
    Frame(OutputVideoFrame),
    /// Bytes of a non-video output (raw audio).
    Chunk(Vec<u8>),
}

/// How a run ended (when it was not killed for time).
pub(crate) struct Finished {
    pub status: ExitStatus,
    /// The first error lines ffmpeg logged, without their `[error]` tags.
    pub errors: Vec<String>,
    /// The caller stopped the run (its callback said so).
    pub stopped: bool,
}

impl Finished {
    /// The first error line, or `default`.
    pub fn reason(&self, default: &str) -> String {
        self.errors
            .first()
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }
}

/// Error lines kept, and their longest length.
const KEPT_ERRORS: usize = 8;
const ERROR_CHARS: usize = 500;

/// Runs `ffmpeg -nostdin -hide_banner <args>` and hands its output to `on_output` as it comes.
pub(crate) fn run(
    args: &[OsString],
    limit: TimeLimit,
    on_output: &mut dyn FnMut(Output) -> ControlFlow<()>,
) -> Result<Finished> {
    let mut cmd = FfmpegCommand::new_with_path("ffmpeg");
    cmd.args(["-nostdin", "-hide_banner"]).args(args);
    let spawned = cmd.spawn().map_err(|source| Error::Missing {
        tool: "ffmpeg",
        package: "ffmpeg package",
        source,
    })?;
    let child = Mutex::new(spawned);
    let lock = || child.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let events = lock().iter().map_err(|e| Error::Io {
        tool: "ffmpeg",
        reason: e.to_string(),
    });
    let mut events = match events {
        Ok(e) => e,
        Err(e) => {
            let _ = lock().kill();
            let _ = lock().wait();
            return Err(e);
        }
    };
    let started = Instant::now();
    // Nanoseconds spent in the caller's callback, and nanoseconds allowed in all.
    let paused = AtomicU64::new(0);
    let allowed = AtomicU64::new(nanos(limit.for_media(None)));
    let timed_out = AtomicBool::new(false);
    let (done, finished) = mpsc::channel::<()>();
    let mut errors: Vec<String> = Vec::new();
    let mut stopped = false;
    std::thread::scope(|s| {
        let (paused, allowed, timed_out, lock) = (&paused, &allowed, &timed_out, &lock);
        s.spawn(move || {
            // Polls: the child is killed once ffmpeg's own time is over the limit.
            while let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(Duration::from_millis(50))
            {
                let own = nanos(started.elapsed()).saturating_sub(paused.load(Ordering::Relaxed));
                if own > allowed.load(Ordering::Relaxed) {
                    timed_out.store(true, Ordering::SeqCst);
                    let _ = lock().kill();
                    return;
                }
            }
        });
        for event in events.by_ref() {
            let output = match event {
                FfmpegEvent::ParsedDuration(d) if d.input_index == 0 => {
                    allowed.store(nanos(limit.for_media(Some(d.duration))), Ordering::Relaxed);
                    continue;
                }
                FfmpegEvent::Log(LogLevel::Error | LogLevel::Fatal, line) | FfmpegEvent::Error(line) => {
                    if errors.len() < KEPT_ERRORS {
                        errors.push(untag(&line));
                    }
                    continue;
                }
                FfmpegEvent::OutputFrame(f) => Output::Frame(f),
                FfmpegEvent::OutputChunk(c) => Output::Chunk(c),
                _ => continue,
            };
            let t = Instant::now();
            let flow = on_output(output);
            paused.fetch_add(nanos(t.elapsed()), Ordering::Relaxed);
            if flow.is_break() {
                stopped = true;
                let _ = lock().kill();
                break;
            }
        }
        drop(events);
        drop(done);
    });
    let status = lock().wait().map_err(|e| Error::Io {
        tool: "ffmpeg",
        reason: e.to_string(),
    })?;
    if timed_out.load(Ordering::SeqCst) {
        return Err(Error::TimedOut {
            tool: "ffmpeg",
            limit: Duration::from_nanos(allowed.load(Ordering::Relaxed)),
        });
    }
    if !stopped && let Some(how) = crate::run::killed(&status) {
        return Err(Error::Killed { tool: "ffmpeg", how });
    }
    Ok(Finished {
        status,
        errors,
        stopped,
    })
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A log line without its level tag (`[error] `), cut to a readable length.
fn untag(line: &str) -> String {
    let mut s = line.trim().to_string();
    for tag in ["[error] ", "[fatal] "] {
        if let Some(i) = s.find(tag) {
            s.replace_range(i..i + tag.len(), "");
        }
    }
    if s.len() > ERROR_CHARS {
        let mut end = ERROR_CHARS;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_grow_with_the_media() {
        let l = TimeLimit::default();
        assert_eq!(l.for_media(None), Duration::from_secs(120));
        assert_eq!(l.for_media(Some(10.0)), Duration::from_secs(160));
        assert_eq!(l.for_media(Some(f64::NAN)), Duration::from_secs(120));
        let f = TimeLimit::fixed(Duration::from_secs(3));
        assert_eq!(f.for_media(Some(1e9)), Duration::from_secs(3));
    }

    #[test]
    fn tags_are_removed() {
        assert_eq!(
            untag("[mov,mp4 @ 0x55] [error] moov atom not found"),
            "[mov,mp4 @ 0x55] moov atom not found"
        );
        assert_eq!(untag("[error] a.mp4: Invalid data"), "a.mp4: Invalid data");
        assert!(untag(&"x".repeat(2000)).chars().count() <= ERROR_CHARS + 1);
    }

    #[test]
    fn the_time_limit_fires_on_a_run_that_goes_on() {
        // An endless test source: only the watchdog ends this run.
        let args: Vec<OsString> = [
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=32x32:rate=25",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let started = Instant::now();
        let err = run(&args, TimeLimit::fixed(Duration::from_millis(1500)), &mut |o| {
            if let Output::Frame(f) = o {
                assert_eq!((f.width, f.height, f.data.len()), (32, 32, 32 * 32 * 3));
            }
            ControlFlow::Continue(())
        })
        .err()
        .unwrap();
        assert!(matches!(err, Error::TimedOut { tool: "ffmpeg", .. }), "{err}");
        // (On a loaded machine ffmpeg may not have made a frame yet: the source never ends by itself.)
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}
