//! Videos: probed and sampled through [`loupe_media::video`] (`ffprobe`, an ffmpeg frame pipe),
//! split into shots with a colour-histogram difference of our own, and one representative keyframe
//! picked per shot.
//!
//! Frames are sampled at a fixed rate (4 fps for clips up to 10 minutes, fewer for longer files) and
//! scaled so the short side is 224 px, which is what CLIP preprocessing needs; rotation is applied by
//! ffmpeg. A shot ends at a cut (a large jump in the histogram) once it is at least `min_shot` long, or
//! when it reaches `max_shot`, so a static video still gets keyframes and a fast one is not flooded.
//! Keyframes avoid blank (near-black or near-white, flat) frames when the shot has anything else.

use image::RgbImage;
use loupe_media::video::Probe;
use std::path::Path;

/// Knobs of shot detection.
#[derive(Debug, Clone)]
pub struct ShotParams {
    /// Histogram distance (0..1) above which consecutive frames are a cut.
    pub cut: f32,
    /// A smaller distance is a cut when it is also 2.5 times the shot's median frame-to-frame change.
    pub soft_cut: f32,
    pub min_shot: f64,
    pub max_shot: f64,
    /// Output short side of sampled frames.
    pub short_side: u32,
}

impl Default for ShotParams {
    fn default() -> Self {
        Self {
            cut: 0.45,
            soft_cut: 0.2,
            min_shot: 0.75,
            max_shot: 20.0,
            short_side: 224,
        }
    }
}

/// A shot and its chosen keyframe.
#[derive(Debug, Clone)]
pub struct Shot {
    pub t_start: f64,
    pub t_end: f64,
    pub keyframe_t: f64,
    pub keyframe: RgbImage,
    /// True when every sampled frame of the shot is blank.
    pub blank: bool,
}

/// Sampling rate for a file of this length: every shot boundary lands within 1/fps.
pub fn sample_fps(duration_s: f64) -> f64 {
    match duration_s {
        d if d <= 600.0 => 4.0,
        d if d <= 3600.0 => 2.0,
        _ => 1.0,
    }
}

const BINS: usize = 8;

/// Normalised joint RGB histogram, 8x8x8 bins.
fn histogram(img: &RgbImage) -> Vec<f32> {
    let mut h = vec![0f32; BINS * BINS * BINS];
    for p in img.pixels() {
        let [r, g, b] = p.0;
        let i = (usize::from(r) * BINS / 256) * BINS * BINS
            + (usize::from(g) * BINS / 256) * BINS
            + usize::from(b) * BINS / 256;
        h[i] += 1.0;
    }
    let n = (img.width() * img.height()).max(1) as f32;
    h.iter_mut().for_each(|x| *x /= n);
    h
}

/// Half the L1 distance: 0 for equal histograms, 1 for disjoint ones.
fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / 2.0
}

/// Flat and near-black or near-white: a fade, a title card's background, a lens cap.
pub fn is_blank(img: &RgbImage) -> bool {
    let n = (img.width() * img.height()).max(1) as f64;
    let (mut sum, mut sq) = (0f64, 0f64);
    for p in img.pixels() {
        let [r, g, b] = p.0;
        let y = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
        sum += y;
        sq += y * y;
    }
    let mean = sum / n;
    let std = (sq / n - mean * mean).max(0.0).sqrt();
    std < 10.0 && !(20.0..=235.0).contains(&mean)
}

/// Streaming shot segmentation over (time, frame) pairs.
pub struct ShotDetector {
    params: ShotParams,
    frames: Vec<(f64, RgbImage, bool)>,
    prev_hist: Option<Vec<f32>>,
    /// Frame-to-frame distances inside the current shot.
    diffs: Vec<f32>,
    shot_start: f64,
    shots: Vec<Shot>,
}

impl ShotDetector {
    pub fn new(params: ShotParams) -> Self {
        Self {
            params,
            frames: Vec::new(),
            prev_hist: None,
            diffs: Vec::new(),
            shot_start: 0.0,
            shots: Vec::new(),
        }
    }

    pub fn push(&mut self, t: f64, frame: RgbImage) {
        let hist = histogram(&frame);
        let d = self.prev_hist.as_ref().map_or(0.0, |p| distance(p, &hist));
        // A cut is a jump that is large in itself, or large against the shot's own motion so far
        // (a busy street shot changes more from frame to frame than a talking head).
        let mut within: Vec<f32> = self.diffs.clone();
        within.sort_by(f32::total_cmp);
        let median = within.get(within.len() / 2).copied();
        let jump = d >= self.params.cut
            || (d >= self.params.soft_cut && median.is_some_and(|m| d >= 2.5 * m) && within.len() >= 2);
        let cut = jump && t - self.shot_start >= self.params.min_shot;
        let too_long = t - self.shot_start >= self.params.max_shot;
        if (cut || too_long) && !self.frames.is_empty() {
            self.close(t);
            self.diffs.clear();
        } else if self.prev_hist.is_some() {
            self.diffs.push(d);
        }
        self.prev_hist = Some(hist);
        let blank = is_blank(&frame);
        self.frames.push((t, frame, blank));
    }

    fn close(&mut self, t_end: f64) {
        let frames = std::mem::take(&mut self.frames);
        let middle = (self.shot_start + t_end) / 2.0;
        let all_blank = frames.iter().all(|f| f.2);
        // The non-blank frame nearest the middle of the shot.
        let best = frames
            .into_iter()
            .filter(|f| all_blank || !f.2)
            .min_by(|a, b| (a.0 - middle).abs().total_cmp(&(b.0 - middle).abs()));
        if let Some((kt, img, _)) = best {
            self.shots.push(Shot {
                t_start: self.shot_start,
                t_end,
                keyframe_t: kt,
                keyframe: img,
                blank: all_blank,
            });
        }
        self.shot_start = t_end;
    }

    /// Closes the last shot at `duration` and returns all shots. Blank shots are dropped unless
    /// the video has nothing else.
    pub fn finish(mut self, duration: f64) -> Vec<Shot> {
        if !self.frames.is_empty() {
            let end = duration.max(self.frames.last().map_or(0.0, |f| f.0));
            self.close(end);
        }
        if self.shots.iter().any(|s| !s.blank) {
            self.shots.retain(|s| !s.blank);
        } else {
            self.shots.truncate(1);
        }
        self.shots
    }
}

/// Samples frames of the first video stream and splits them into shots.
pub fn shots(path: &Path, probe: &Probe, params: &ShotParams) -> Result<Vec<Shot>, String> {
    let Some((w, h)) = probe.video else {
        return Ok(Vec::new());
    };
    // Output size with the short side at `short_side` (even numbers, as encoders like them).
    let s = params.short_side;
    let (ow, oh) = if w <= h {
        (
            s,
            ((u64::from(s) * u64::from(h) / u64::from(w)) as u32).max(2) & !1,
        )
    } else {
        (
            ((u64::from(s) * u64::from(w) / u64::from(h)) as u32).max(2) & !1,
            s,
        )
    };
    let fps = sample_fps(probe.duration_s);
    let mut det = ShotDetector::new(params.clone());
    let sampled = loupe_media::video::frames(
        path,
        fps,
        (ow, oh),
        loupe_media::TimeLimit::default(),
        |t, img| {
            det.push(t, img);
            std::ops::ControlFlow::Continue(())
        },
    )
    .map_err(|e| e.to_string())?;
    if let Some(w) = &sampled.warning {
        tracing::warn!("{}: {w}", path.display());
    }
    Ok(det.finish(probe.duration_s.max(sampled.frames as f64 / fps)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn cuts_min_and_max_and_blank_frames() {
        let p = ShotParams {
            min_shot: 0.5,
            max_shot: 3.0,
            ..Default::default()
        };
        let mut d = ShotDetector::new(p);
        let frame = |c: [u8; 3]| RgbImage::from_pixel(8, 8, Rgb(c));
        // 0-1 s black (blank), 1-2 s red, 2-7 s blue (split at the 3 s maximum), then green.
        for i in 0..30 {
            let t = f64::from(i) * 0.25;
            let c = match t {
                t if t < 1.0 => [0, 0, 0],
                t if t < 2.0 => [220, 10, 10],
                t if t < 7.0 => [10, 10, 220],
                _ => [10, 220, 10],
            };
            d.push(t, frame(c));
        }
        let shots = d.finish(7.5);
        let spans: Vec<(f64, f64)> = shots.iter().map(|s| (s.t_start, s.t_end)).collect();
        // The black opening shot is dropped; the blue run is split at the 3 s maximum.
        assert_eq!(
            spans,
            vec![(1.0, 2.0), (2.0, 5.0), (5.0, 7.0), (7.0, 7.5)],
            "{spans:?}"
        );
        assert!(shots.iter().all(|s| !s.blank));
        assert_eq!(shots[0].keyframe.get_pixel(0, 0).0, [220, 10, 10]);
    }

    #[test]
    fn an_all_black_video_keeps_one_shot() {
        let mut d = ShotDetector::new(ShotParams::default());
        for i in 0..8 {
            d.push(f64::from(i) * 0.25, RgbImage::new(8, 8));
        }
        let shots = d.finish(2.0);
        assert_eq!(shots.len(), 1);
        assert!(shots[0].blank);
    }

    #[test]
    fn blank_means_flat_and_dark_or_light() {
        assert!(is_blank(&RgbImage::from_pixel(4, 4, Rgb([3, 3, 3]))));
        assert!(is_blank(&RgbImage::from_pixel(4, 4, Rgb([250, 250, 250]))));
        assert!(!is_blank(&RgbImage::from_pixel(4, 4, Rgb([200, 0, 0]))));
    }
}
