//! Sound: a file's first audio track as 16 kHz mono f32 samples, streamed through an ffmpeg pipe
//! in blocks, so memory does not grow with the file's length. What is done with the samples
//! (voice activity, speech recognition) is the caller's.

use crate::ffmpeg::{self, Output};
use crate::{Error, Result, TimeLimit};
use std::ffi::OsString;
use std::ops::ControlFlow;
use std::path::Path;

/// Samples per second of [`stream_pcm`]'s output (what Whisper reads).
pub const SAMPLE_RATE: u32 = 16_000;

/// How a stream ended.
#[derive(Debug)]
pub struct Streamed {
    /// Samples handed to the callback.
    pub samples: u64,
    /// ffmpeg failed after some sound was read (what was read is kept).
    pub warning: Option<Error>,
    /// The callback stopped the stream.
    pub stopped: bool,
}

/// Streams a file's first audio track as 16 kHz mono f32 samples to `on_block`, in blocks, as
/// ffmpeg decodes them; the callback can stop the stream. A decoding error before any sound is an
/// error; after some, it is [`Streamed::warning`].
pub fn stream_pcm(
    path: &Path,
    limit: TimeLimit,
    mut on_block: impl FnMut(&[f32]) -> ControlFlow<()>,
) -> Result<Streamed> {
    let mut args: Vec<OsString> = vec!["-i".into(), path.as_os_str().to_owned()];
    args.extend(
        [
            "-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar", "16000", "-f", "f32le", "-",
        ]
        .map(OsString::from),
    );
    let mut carry: Vec<u8> = Vec::new();
    let mut samples: Vec<f32> = Vec::new();
    let mut total = 0u64;
    let run = ffmpeg::run(&args, limit, &mut |o| {
        let Output::Chunk(bytes) = o else {
            return ControlFlow::Continue(());
        };
        carry.extend_from_slice(&bytes);
        let whole = carry.len() / 4 * 4;
        samples.clear();
        samples.extend(
            carry[..whole]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        carry.drain(..whole);
        total += samples.len() as u64;
        on_block(&samples)
    })?;
    if run.stopped {
        return Ok(Streamed {
            samples: total,
            warning: None,
            stopped: true,
        });
    }
    if !run.status.success() {
        let reason = Error::NoSound(run.reason("unknown error"));
        if total == 0 {
            return Err(reason);
        }
        return Ok(Streamed {
            samples: total,
            warning: Some(reason),
            stopped: false,
        });
    }
    Ok(Streamed {
        samples: total,
        warning: None,
        stopped: false,
    })
}
