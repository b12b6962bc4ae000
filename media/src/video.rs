//! Videos (and the container side of recordings): [`probe`] with `ffprobe`, [`frames`] sampled at a
//! fixed rate and size as raw RGB through an ffmpeg pipe, and one [`frame_at`] a time. The
//! binaries are the system's (Debian's `ffmpeg` package), never downloaded; rotation is applied
//! by ffmpeg.
//!
//! Why `ffprobe` and not ffmpeg's own log: `ffmpeg-sidecar` parses an input's duration, sizes and
//! streams, but not its rotation, cover-art streams or creation time, which the probe needs; one
//! `ffprobe -print_format json` call (time-limited, output bounded) gives them all.

use crate::ffmpeg::{self, Output};
use crate::run::{self, Bounds};
use crate::{Error, Result, TimeLimit};
use image::RgbImage;
use std::ffi::OsString;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

/// What `ffprobe` says about a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub duration_s: f64,
    /// Display size (after rotation) of the first video stream (cover art is not a video).
    pub video: Option<(u32, u32)>,
    pub has_audio: bool,
    /// `creation_time` tag, as given (usually RFC 3339).
    pub creation_time: Option<String>,
}

/// Longest an `ffprobe` run may take, and most bytes of JSON it may print.
const PROBE_LIMIT: Duration = Duration::from_secs(60);
const PROBE_OUTPUT: u64 = 16 << 20;

/// Runs `ffprobe` on a file.
pub fn probe(path: &Path) -> Result<Probe> {
    let mut args: Vec<OsString> = [
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.push(path.as_os_str().to_owned());
    let bounds = Bounds {
        time: PROBE_LIMIT,
        output_bytes: PROBE_OUTPUT,
    };
    let out = run::run("ffprobe", "ffmpeg package", &args, bounds)?;
    if !out.status.success() {
        let first = run::first_line(&out.stderr, |_| false);
        return Err(Error::NotMedia(
            first.unwrap_or_else(|| "unreadable media".into()),
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| Error::BadOutput {
        tool: "ffprobe",
        reason: e.to_string(),
    })?;
    parse_probe(&v)
}

/// Reads `ffprobe -print_format json -show_format -show_streams` output.
fn parse_probe(v: &serde_json::Value) -> Result<Probe> {
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let num = |x: &serde_json::Value| -> Option<f64> {
        x.as_f64().or_else(|| x.as_str().and_then(|s| s.parse().ok()))
    };
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video" && s["disposition"]["attached_pic"].as_i64() != Some(1))
        .and_then(|s| {
            let (w, h) = (
                u32::try_from(s["width"].as_u64()?).ok()?,
                u32::try_from(s["height"].as_u64()?).ok()?,
            );
            let rotation = s["side_data_list"]
                .as_array()
                .and_then(|l| l.iter().find_map(|d| num(&d["rotation"])))
                .or_else(|| num(&s["tags"]["rotate"]))
                .unwrap_or(0.0);
            let quarter = ((rotation / 90.0).round() as i64).rem_euclid(2) == 1;
            Some(if quarter { (h, w) } else { (w, h) })
        })
        .filter(|&(w, h)| w > 0 && h > 0);
    let has_audio = streams.iter().any(|s| s["codec_type"] == "audio");
    if video.is_none() && !has_audio {
        return Err(Error::NoStreams);
    }
    let duration_s = num(&v["format"]["duration"])
        .or_else(|| streams.iter().find_map(|s| num(&s["duration"])))
        .unwrap_or(0.0);
    let creation_time = v["format"]["tags"]["creation_time"]
        .as_str()
        .or_else(|| streams.iter().find_map(|s| s["tags"]["creation_time"].as_str()))
        .map(str::to_string);
    Ok(Probe {
        duration_s,
        video,
        has_audio,
        creation_time,
    })
}

/// Largest frame [`frames`] hands out (a strip-shaped video scaled to a short side could be huge).
const MAX_FRAME_PIXELS: u64 = 1 << 25;

/// How a frame sampling ended.
#[derive(Debug)]
pub struct Sampled {
    /// Frames handed to the callback.
    pub frames: u64,
    /// ffmpeg failed after some frames (what was read is kept): what it said.
    pub warning: Option<String>,
}

/// Samples the first video stream at `fps` frames per second, each scaled to `width` x `height`,
/// and hands them to `on_frame` with their time (frame number / fps) as they are decoded; the
/// callback can stop the run. At most one frame is in memory. No frame at all is an error.
pub fn frames(
    path: &Path,
    fps: f64,
    (width, height): (u32, u32),
    limit: TimeLimit,
    mut on_frame: impl FnMut(f64, RgbImage) -> ControlFlow<()>,
) -> Result<Sampled> {
    if u64::from(width) * u64::from(height) > MAX_FRAME_PIXELS || width == 0 || height == 0 {
        return Err(Error::NoFrames(format!(
            "frames of {width}x{height} pixels are over the {MAX_FRAME_PIXELS} pixel limit"
        )));
    }
    let mut args: Vec<OsString> = vec!["-i".into(), path.as_os_str().to_owned()];
    args.extend(
        [
            "-map".to_string(),
            "0:v:0".into(),
            "-an".into(),
            "-sn".into(),
            "-vf".into(),
            format!("fps={fps},scale={width}:{height}:flags=bicubic"),
            "-f".into(),
            "rawvideo".into(),
            "-pix_fmt".into(),
            "rgb24".into(),
            "-".into(),
        ]
        .map(OsString::from),
    );
    let mut n = 0u64;
    let mut bad: Option<Error> = None;
    let run = ffmpeg::run(&args, limit, &mut |o| {
        let Output::Frame(f) = o else {
            return ControlFlow::Continue(());
        };
        let Some(img) = RgbImage::from_raw(f.width, f.height, f.data) else {
            bad = Some(Error::NoFrames("frame size mismatch".into()));
            return ControlFlow::Break(());
        };
        let flow = on_frame(n as f64 / fps, img);
        n += 1;
        flow
    })?;
    if let Some(e) = bad {
        return Err(e);
    }
    if n == 0 {
        return Err(Error::NoFrames(run.reason("no frames could be decoded")));
    }
    let warning = (!run.stopped && !run.status.success()).then(|| {
        format!(
            "ffmpeg reported errors after {n} frames: {}",
            run.errors.join("; ")
        )
    });
    Ok(Sampled { frames: n, warning })
}

/// One frame of a video at `t` seconds, scaled down (aspect kept) when its long side is over
/// `max_side`.
pub fn frame_at(path: &Path, t: f64, max_side: u32, limit: TimeLimit) -> Result<RgbImage> {
    let s = max_side.max(2);
    let mut args: Vec<OsString> = vec!["-ss".into(), format!("{t:.3}").into(), "-i".into()];
    args.push(path.as_os_str().to_owned());
    args.extend(
        [
            "-map".to_string(),
            "0:v:0".into(),
            "-an".into(),
            "-sn".into(),
            "-frames:v".into(),
            "1".into(),
            "-vf".into(),
            format!("scale='min(iw,{s})':'min(ih,{s})':force_original_aspect_ratio=decrease,fps=1"),
            "-f".into(),
            "rawvideo".into(),
            "-pix_fmt".into(),
            "rgb24".into(),
            "-".into(),
        ]
        .map(OsString::from),
    );
    let mut frame = None;
    let run = ffmpeg::run(&args, limit, &mut |o| {
        if let Output::Frame(f) = o {
            frame = RgbImage::from_raw(f.width, f.height, f.data);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })?;
    frame.ok_or_else(|| Error::NoFrameAt {
        t,
        reason: run.reason("no frame decoded"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_json_rotation_cover_art_and_dates() {
        let v = serde_json::json!({
            "streams": [
                {"codec_type": "video", "width": 300, "height": 300, "disposition": {"attached_pic": 1}},
                {"codec_type": "video", "width": 1920, "height": 1080,
                 "side_data_list": [{"rotation": -90}], "tags": {"creation_time": "2020-01-02T03:04:05Z"}},
                {"codec_type": "audio", "duration": "12.5"}
            ],
            "format": {}
        });
        let p = parse_probe(&v).unwrap();
        assert_eq!(p.video, Some((1080, 1920)));
        assert!(p.has_audio);
        assert_eq!(p.duration_s, 12.5);
        assert_eq!(p.creation_time.as_deref(), Some("2020-01-02T03:04:05Z"));
        // Cover art alone is no video; no stream at all is an error.
        let art = serde_json::json!({"streams": [
            {"codec_type": "video", "width": 300, "height": 300, "disposition": {"attached_pic": 1}},
            {"codec_type": "audio"}], "format": {"duration": "3.0"}});
        let p = parse_probe(&art).unwrap();
        assert_eq!((p.video, p.has_audio, p.duration_s), (None, true, 3.0));
        let none = serde_json::json!({"streams": [], "format": {}});
        assert!(matches!(parse_probe(&none), Err(Error::NoStreams)));
    }
}

/// Runs on a tiny video made by ffmpeg's test sources (needs the system's ffmpeg, as Loupe does).
#[cfg(test)]
mod runs {
    use super::*;
    use crate::audio;
    use std::process::Command;

    /// 2 s, 64 x 48 at 10 fps, left half red, right half blue, with a 440 Hz tone.
    fn tiny_video(dir: &Path) -> std::path::PathBuf {
        let out = dir.join("tiny.mp4");
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i"])
            .arg("color=c=red:size=32x48:rate=10:duration=2[a];color=c=blue:size=32x48:rate=10:duration=2[b];[a][b]hstack")
            .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=2"])
            .args(["-pix_fmt", "yuv420p", "-c:v", "libx264", "-c:a", "aac", "-shortest"])
            .arg(&out)
            .status()
            .expect("ffmpeg (Debian's ffmpeg package) is needed to make the test video");
        assert!(status.success());
        out
    }

    #[test]
    fn probe_frames_frame_at_and_sound() {
        let dir = tempfile::tempdir().unwrap();
        let file = tiny_video(dir.path());
        let p = probe(&file).unwrap();
        assert_eq!(p.video, Some((64, 48)));
        assert!(p.has_audio);
        assert!((p.duration_s - 2.0).abs() < 0.2, "{p:?}");

        let mut seen = Vec::new();
        let s = frames(&file, 4.0, (32, 24), TimeLimit::default(), |t, img| {
            assert_eq!(img.dimensions(), (32, 24));
            let (left, right) = (img.get_pixel(4, 12).0, img.get_pixel(28, 12).0);
            assert!(left[0] > 180 && left[2] < 80, "{left:?}");
            assert!(right[2] > 180 && right[0] < 80, "{right:?}");
            seen.push(t);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(s.frames, 8, "{seen:?}");
        assert!(s.warning.is_none());
        assert_eq!(&seen[..3], &[0.0, 0.25, 0.5]);

        // The callback can stop the run.
        let mut n = 0;
        let s = frames(&file, 4.0, (32, 24), TimeLimit::default(), |_, _| {
            n += 1;
            if n == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
        assert_eq!((s.frames, s.warning.is_none()), (2, true));

        let one = frame_at(&file, 1.0, 32, TimeLimit::default()).unwrap();
        assert_eq!(one.dimensions(), (32, 24));
        let full = frame_at(&file, 0.5, 1568, TimeLimit::default()).unwrap();
        assert_eq!(full.dimensions(), (64, 48));

        let mut energy = 0f64;
        let st = audio::stream_pcm(&file, TimeLimit::default(), |block| {
            energy += block.iter().map(|x| f64::from(x * x)).sum::<f64>();
            ControlFlow::Continue(())
        })
        .unwrap();
        let expected = 2 * u64::from(audio::SAMPLE_RATE);
        assert!(st.samples.abs_diff(expected) < 2000, "{st:?}");
        assert!(st.warning.is_none() && !st.stopped);
        // lavfi's sine is at 1/8 of full scale: a mean square near 0.0078.
        assert!(energy / st.samples as f64 > 0.005, "a tone, not silence");
    }

    #[test]
    fn unreadable_files_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.mp4");
        std::fs::write(&junk, b"plain text pretending to be a video").unwrap();
        let err = probe(&junk).unwrap_err();
        assert!(
            err.to_string().starts_with("not a readable video or audio file"),
            "{err}"
        );
        let err = frames(&junk, 4.0, (32, 24), TimeLimit::default(), |_, _| {
            ControlFlow::Continue(())
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("no video frames decoded: "), "{err}");
        let err = audio::stream_pcm(&junk, TimeLimit::default(), |_| ControlFlow::Continue(())).unwrap_err();
        assert!(
            err.to_string().starts_with("ffmpeg could not decode the sound: "),
            "{err}"
        );
        // A video without sound.
        let silent = dir.path().join("silent.mp4");
        let ok = Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-nostdin",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "color=c=green:size=32x32:rate=5:duration=1",
            ])
            .args(["-pix_fmt", "yuv420p"])
            .arg(&silent)
            .status()
            .unwrap();
        assert!(ok.success());
        let err =
            audio::stream_pcm(&silent, TimeLimit::default(), |_| ControlFlow::Continue(())).unwrap_err();
        assert!(err.to_string().contains("matches no streams"), "{err}");
        assert!(!probe(&silent).unwrap().has_audio);
    }
}
