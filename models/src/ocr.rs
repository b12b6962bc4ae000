//! Reading text in images: PP-OCR (text detection, line orientation, recognition), run through ONNX
//! Runtime, following RapidOCR 3.10's pipeline (the models come from the PyPI `rapidocr==3.10.0`
//! wheel: PP-OCRv6 small det/rec and the mobile v2.0 line classifier).
//!
//! Pipeline for one image:
//! 1. **Detect**: the page (long side at most 2000 px) is resized so its short side is at least
//!    736 px, sides rounded to multiples of 32, normalised `(x/255-0.5)/0.5` in BGR order. The
//!    probability map is thresholded at 0.3, dilated 2x2, split into connected regions; each region
//!    becomes its minimum-area rectangle, scored by the mean probability inside it (kept at 0.5 and
//!    above), and grown by `area * 1.6 / perimeter` on every side (DBNet's "unclip").
//! 2. **Page orientation**: when most text boxes stand upright, the page is turned a quarter and
//!    detected again; when most lines read upside down (line classifier), it is turned half a turn.
//!    So a scan fed in sideways or upside down is read upright, in reading order, and its boxes are
//!    given on the upright page ([`OcrPage::rotation`] says how it was turned).
//! 3. **Recognise**: each box is cut out (tall crops turned a quarter counter-clockwise), turned
//!    half a turn when the classifier says so with more than 0.9, resized to 48 px high, batched
//!    six at a time, and decoded greedily (CTC) with the character list stored in the rec model's
//!    `character` metadata (`blank` first, a space last). Lines scoring under 0.5 are dropped.
//! 4. **Words**: the CTC steps that produced each character give its position along the line, so a
//!    line splits into words with their own boxes.
//!
//! Differences from RapidOCR, all small: resizing uses the `image` crate's triangle filter (OpenCV
//! uses bilinear without antialiasing), crops are sampled bilinearly (OpenCV: bicubic), the box
//! score averages the probability over the rectangle rather than its integer polygon, and the
//! unclipped rectangle is computed exactly rather than through a rounded polygon offset.
//!
//! Not for: deciding when a photo deserves OCR (the indexer asks [`Ocr::has_text`]).

use crate::{Error, ModelStore, Result, Runtime};
use image::{RgbImage, imageops::FilterType};
use loupe_schemas::{ModelManifest, ModelRole, PageText, TextSource, WordBox};
use ndarray::{Array4, ArrayView2};
use ort::session::Session;
use ort::value::Tensor;
use std::path::PathBuf;
use std::sync::Mutex;

/// Pages are shrunk to this long side before anything else.
const MAX_SIDE: u32 = 2000;
/// Detection runs with at least this short side.
const DET_SHORT_SIDE: u32 = 736;
const DET_THRESH: f32 = 0.3;
const BOX_THRESH: f32 = 0.5;
const UNCLIP_RATIO: f32 = 1.6;
const MAX_CANDIDATES: usize = 1000;
const MIN_SIZE: f32 = 3.0;
const REC_HEIGHT: u32 = 48;
const REC_MIN_WIDTH: u32 = 320;
const REC_BATCH: usize = 6;
const CLS_WIDTH: u32 = 192;
const CLS_THRESH: f32 = 0.9;
/// At most this many classifier windows per line.
const CLS_WINDOWS: u32 = 4;
const TEXT_SCORE: f32 = 0.5;
/// Boxes whose top edges are closer than this (pixels) are on the same line for reading order.
const SAME_LINE_PX: f32 = 10.0;

/// A point on the image, in pixels.
pub type Point = [f32; 2];

/// A word found on a line, its box axis-aligned in pixels of the upright image.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrWord {
    pub text: String,
    /// `[x0, y0, x1, y1]`.
    pub bbox: [f32; 4],
    /// Mean probability of the word's characters.
    pub conf: f32,
}

/// A line of text.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrLine {
    pub text: String,
    /// Mean probability of its characters.
    pub conf: f32,
    /// Corners top-left, top-right, bottom-right, bottom-left, in pixels of the upright image.
    pub quad: [Point; 4],
    pub words: Vec<OcrWord>,
}

/// What was read on one image.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OcrPage {
    /// Clockwise turn (0, 90, 180, 270) applied to the input to read it upright.
    pub rotation: u32,
    /// Size of the upright image (pixels).
    pub width: u32,
    pub height: u32,
    /// In reading order.
    pub lines: Vec<OcrLine>,
}

impl OcrPage {
    /// The lines joined by newlines.
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// As a page of a document: word boxes in fractions of the upright page. `size` is the page's
    /// size before turning (PDF points, or pixels); it is swapped for quarter turns.
    pub fn to_page_text(&self, page: u32, size: (f32, f32)) -> PageText {
        let (w, h) = if self.rotation % 180 == 90 {
            (size.1, size.0)
        } else {
            size
        };
        let (pw, ph) = (self.width.max(1) as f32, self.height.max(1) as f32);
        let mut words = Vec::new();
        for (i, l) in self.lines.iter().enumerate() {
            for wd in &l.words {
                words.push(WordBox {
                    text: wd.text.clone(),
                    bbox: [wd.bbox[0] / pw, wd.bbox[1] / ph, wd.bbox[2] / pw, wd.bbox[3] / ph]
                        .map(|v| v.clamp(0.0, 1.0)),
                    conf: wd.conf,
                    line: i as u32,
                });
            }
        }
        PageText {
            page,
            width: w,
            height: h,
            source: TextSource::Ocr,
            rotation: self.rotation,
            text: self.text(),
            words,
        }
    }
}

/// A rotated rectangle.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RotRect {
    center: Point,
    /// Unit vector along the rectangle's first side.
    axis: Point,
    /// Length along `axis` and across it.
    w: f32,
    h: f32,
}

impl RotRect {
    fn corners(&self) -> [Point; 4] {
        let [ax, ay] = self.axis;
        let (nx, ny) = (-ay, ax);
        let (hw, hh) = (self.w / 2.0, self.h / 2.0);
        let [cx, cy] = self.center;
        [
            [cx - ax * hw - nx * hh, cy - ay * hw - ny * hh],
            [cx + ax * hw - nx * hh, cy + ay * hw - ny * hh],
            [cx + ax * hw + nx * hh, cy + ay * hw + ny * hh],
            [cx - ax * hw + nx * hh, cy - ay * hw + ny * hh],
        ]
    }

    fn contains(&self, p: Point) -> bool {
        let (dx, dy) = (p[0] - self.center[0], p[1] - self.center[1]);
        let u = dx * self.axis[0] + dy * self.axis[1];
        let v = -dx * self.axis[1] + dy * self.axis[0];
        u.abs() <= self.w / 2.0 + 0.5 && v.abs() <= self.h / 2.0 + 0.5
    }
}

/// Orders four points as top-left, top-right, bottom-right, bottom-left (by x, then y), as
/// PaddleOCR does.
fn order_points(mut p: [Point; 4]) -> [Point; 4] {
    p.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let (l0, l1) = if p[0][1] <= p[1][1] {
        (p[0], p[1])
    } else {
        (p[1], p[0])
    };
    let (r0, r1) = if p[2][1] <= p[3][1] {
        (p[2], p[3])
    } else {
        (p[3], p[2])
    };
    [l0, r0, r1, l1]
}

fn dist(a: Point, b: Point) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

fn cross(o: Point, a: Point, b: Point) -> f32 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// Convex hull (Andrew's monotone chain), counter-clockwise.
fn convex_hull(mut pts: Vec<Point>) -> Vec<Point> {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let mut lower: Vec<Point> = Vec::new();
    for &p in &pts {
        while lower.len() >= 2 && cross(lower[lower.len() - 2], lower[lower.len() - 1], p) <= 0.0 {
            lower.pop();
        }
        lower.push(p);
    }
    let mut upper: Vec<Point> = Vec::new();
    for &p in pts.iter().rev() {
        while upper.len() >= 2 && cross(upper[upper.len() - 2], upper[upper.len() - 1], p) <= 0.0 {
            upper.pop();
        }
        upper.push(p);
    }
    lower.pop();
    upper.pop();
    lower.extend(upper);
    lower
}

/// Minimum-area rectangle around points (rotating the frame over each hull edge).
fn min_area_rect(points: Vec<Point>) -> Option<RotRect> {
    let hull = convex_hull(points);
    if hull.is_empty() {
        return None;
    }
    if hull.len() < 3 {
        let (a, b) = (hull[0], *hull.last()?);
        let len = dist(a, b);
        let axis = if len > 0.0 {
            [(b[0] - a[0]) / len, (b[1] - a[1]) / len]
        } else {
            [1.0, 0.0]
        };
        return Some(RotRect {
            center: [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0],
            axis,
            w: len,
            h: 0.0,
        });
    }
    let mut best: Option<(f32, RotRect)> = None;
    for i in 0..hull.len() {
        let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
        let len = dist(a, b);
        if len == 0.0 {
            continue;
        }
        let axis = [(b[0] - a[0]) / len, (b[1] - a[1]) / len];
        let (mut umin, mut umax, mut vmin, mut vmax) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for p in &hull {
            let u = p[0] * axis[0] + p[1] * axis[1];
            let v = -p[0] * axis[1] + p[1] * axis[0];
            umin = umin.min(u);
            umax = umax.max(u);
            vmin = vmin.min(v);
            vmax = vmax.max(v);
        }
        let area = (umax - umin) * (vmax - vmin);
        if best.is_none_or(|(a, _)| area < a) {
            let (cu, cv) = ((umin + umax) / 2.0, (vmin + vmax) / 2.0);
            let center = [cu * axis[0] - cv * axis[1], cu * axis[1] + cv * axis[0]];
            best = Some((
                area,
                RotRect {
                    center,
                    axis,
                    w: umax - umin,
                    h: vmax - vmin,
                },
            ));
        }
    }
    best.map(|(_, r)| r)
}

/// Text regions of a probability map: connected components of the dilated threshold mask, as
/// scored, unclipped rectangles in map pixels.
fn boxes_from_map(prob: ArrayView2<'_, f32>) -> Vec<RotRect> {
    let (h, w) = prob.dim();
    let mut mask = vec![false; h * w];
    for y in 0..h {
        for x in 0..w {
            // 2x2 dilation with OpenCV's anchor: any of (y-1..=y, x-1..=x).
            let hit = |yy: usize, xx: usize| prob[[yy, xx]] > DET_THRESH;
            mask[y * w + x] = hit(y, x)
                || (x > 0 && hit(y, x - 1))
                || (y > 0 && hit(y - 1, x))
                || (x > 0 && y > 0 && hit(y - 1, x - 1));
        }
    }
    let mut seen = vec![false; h * w];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..h * w {
        if !mask[start] || seen[start] {
            continue;
        }
        if out.len() >= MAX_CANDIDATES {
            break;
        }
        // One component, 8-connected; its boundary pixels (corners of pixel squares) feed the hull.
        let mut pts: Vec<Point> = Vec::new();
        seen[start] = true;
        stack.push(start);
        while let Some(i) = stack.pop() {
            let (y, x) = (i / w, i % w);
            let boundary = x == 0
                || y == 0
                || x + 1 == w
                || y + 1 == h
                || !mask[i - 1]
                || !mask[i + 1]
                || !mask[i - w]
                || !mask[i + w];
            if boundary {
                pts.push([x as f32, y as f32]);
            }
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (ny, nx) = (y as i64 + dy, x as i64 + dx);
                    if ny < 0 || nx < 0 || ny >= h as i64 || nx >= w as i64 {
                        continue;
                    }
                    let j = ny as usize * w + nx as usize;
                    if mask[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        let Some(rect) = min_area_rect(pts) else { continue };
        if rect.w.min(rect.h) < MIN_SIZE {
            continue;
        }
        // Mean probability inside the rectangle.
        let c = rect.corners();
        let x0 = c.iter().map(|p| p[0]).fold(f32::MAX, f32::min).floor().max(0.0) as usize;
        let x1 = (c.iter().map(|p| p[0]).fold(f32::MIN, f32::max).ceil() as usize).min(w - 1);
        let y0 = c.iter().map(|p| p[1]).fold(f32::MAX, f32::min).floor().max(0.0) as usize;
        let y1 = (c.iter().map(|p| p[1]).fold(f32::MIN, f32::max).ceil() as usize).min(h - 1);
        let (mut sum, mut n) = (0f32, 0u32);
        for y in y0..=y1 {
            for x in x0..=x1 {
                if rect.contains([x as f32, y as f32]) {
                    sum += prob[[y, x]];
                    n += 1;
                }
            }
        }
        if n == 0 || sum / (n as f32) < BOX_THRESH {
            continue;
        }
        // Unclip: grow every side by area * ratio / perimeter.
        let d = rect.w * rect.h * UNCLIP_RATIO / (2.0 * (rect.w + rect.h)).max(1e-6);
        let grown = RotRect {
            w: rect.w + 2.0 * d,
            h: rect.h + 2.0 * d,
            ..rect
        };
        if grown.w.min(grown.h) < MIN_SIZE + 2.0 {
            continue;
        }
        out.push(grown);
    }
    out
}

/// Sorts quads into reading order: by top edge, lines of boxes whose tops are close, left to right.
fn reading_order(mut quads: Vec<[Point; 4]>) -> Vec<[Point; 4]> {
    quads.sort_by(|a, b| a[0][1].total_cmp(&b[0][1]));
    let mut line = 0u32;
    let mut keyed: Vec<(u32, f32, [Point; 4])> = Vec::with_capacity(quads.len());
    for (i, q) in quads.iter().enumerate() {
        if i > 0 && q[0][1] - quads[i - 1][0][1] >= SAME_LINE_PX {
            line += 1;
        }
        keyed.push((line, q[0][0], *q));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    keyed.into_iter().map(|k| k.2).collect()
}

/// Multiple of 32 nearest to `v` (ties to even, as Python's `round`), at least 32.
fn round32(v: f32) -> u32 {
    (((v / 32.0).round_ties_even() * 32.0) as u32).max(32)
}

/// CHW tensor data of an image in BGR order, normalised `(x/255-0.5)/0.5`, written at `x_off = 0`
/// into a slot `width` wide (the rest stays 0.0, i.e. mid-grey after normalisation).
fn put_bgr(dst: &mut Array4<f32>, n: usize, img: &RgbImage) {
    let (_, _, h, w) = dst.dim();
    for (x, y, p) in img.enumerate_pixels() {
        let (x, y) = (x as usize, y as usize);
        if x >= w || y >= h {
            continue;
        }
        for (c, &v) in [p[2], p[1], p[0]].iter().enumerate() {
            dst[[n, c, y, x]] = (f32::from(v) / 255.0 - 0.5) / 0.5;
        }
    }
}

/// Bilinear sample with replicated borders.
fn sample(img: &RgbImage, x: f32, y: f32) -> [u8; 3] {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (x, y) = (x - 0.5, y - 0.5);
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |xx: i64, yy: i64| {
        img.get_pixel(xx.clamp(0, w - 1) as u32, yy.clamp(0, h - 1) as u32)
            .0
    };
    let (x0, y0) = (x0 as i64, y0 as i64);
    let (a, b, c, d) = (at(x0, y0), at(x0 + 1, y0), at(x0, y0 + 1), at(x0 + 1, y0 + 1));
    let mut out = [0u8; 3];
    for i in 0..3 {
        let top = f32::from(a[i]) * (1.0 - fx) + f32::from(b[i]) * fx;
        let bot = f32::from(c[i]) * (1.0 - fx) + f32::from(d[i]) * fx;
        out[i] = (top * (1.0 - fy) + bot * fy).round().clamp(0.0, 255.0) as u8;
    }
    out
}

/// A crop of a text box and the affine frame that maps crop pixels back to the page:
/// `page = origin + u * ex + v * ey`.
struct Crop {
    img: RgbImage,
    origin: Point,
    ex: Point,
    ey: Point,
}

impl Crop {
    fn cut(page: &RgbImage, q: &[Point; 4]) -> Option<Self> {
        let cw = dist(q[0], q[1]).max(dist(q[2], q[3])) as u32;
        let ch = dist(q[0], q[3]).max(dist(q[1], q[2])) as u32;
        if cw == 0 || ch == 0 {
            return None;
        }
        let ex = [(q[1][0] - q[0][0]) / cw as f32, (q[1][1] - q[0][1]) / cw as f32];
        let ey = [(q[3][0] - q[0][0]) / ch as f32, (q[3][1] - q[0][1]) / ch as f32];
        let origin = q[0];
        let img = RgbImage::from_fn(cw, ch, |u, v| {
            let (u, v) = (u as f32 + 0.5, v as f32 + 0.5);
            image::Rgb(sample(
                page,
                origin[0] + u * ex[0] + v * ey[0],
                origin[1] + u * ex[1] + v * ey[1],
            ))
        });
        let mut crop = Self { img, origin, ex, ey };
        if ch as f32 / cw as f32 >= 1.5 {
            crop.turn_ccw();
        }
        Some(crop)
    }

    /// Quarter turn counter-clockwise (numpy's rot90).
    fn turn_ccw(&mut self) {
        let w = self.img.width() as f32;
        self.img = image::imageops::rotate270(&self.img);
        // old u = W - v', old v = u'.
        self.origin = [self.origin[0] + w * self.ex[0], self.origin[1] + w * self.ex[1]];
        let ex = self.ex;
        self.ex = self.ey;
        self.ey = [-ex[0], -ex[1]];
    }

    fn turn_half(&mut self) {
        let (w, h) = (self.img.width() as f32, self.img.height() as f32);
        self.img = image::imageops::rotate180(&self.img);
        self.origin = [
            self.origin[0] + w * self.ex[0] + h * self.ey[0],
            self.origin[1] + w * self.ex[1] + h * self.ey[1],
        ];
        self.ex = [-self.ex[0], -self.ex[1]];
        self.ey = [-self.ey[0], -self.ey[1]];
    }

    fn to_page(&self, u: f32, v: f32) -> Point {
        [
            self.origin[0] + u * self.ex[0] + v * self.ey[0],
            self.origin[1] + u * self.ex[1] + v * self.ey[1],
        ]
    }

    /// Axis-aligned page box of the crop's columns `u0..u1` (full height).
    fn span_box(&self, u0: f32, u1: f32) -> [f32; 4] {
        let h = self.img.height() as f32;
        let pts = [
            self.to_page(u0, 0.0),
            self.to_page(u1, 0.0),
            self.to_page(u0, h),
            self.to_page(u1, h),
        ];
        [
            pts.iter().map(|p| p[0]).fold(f32::MAX, f32::min),
            pts.iter().map(|p| p[1]).fold(f32::MAX, f32::min),
            pts.iter().map(|p| p[0]).fold(f32::MIN, f32::max),
            pts.iter().map(|p| p[1]).fold(f32::MIN, f32::max),
        ]
    }

    fn ratio(&self) -> f32 {
        self.img.width() as f32 / self.img.height().max(1) as f32
    }
}

/// A loaded PP-OCR model set.
pub struct Ocr {
    pub manifest: ModelManifest,
    pub dir: PathBuf,
    det: Mutex<Session>,
    cls: Option<Mutex<Session>>,
    rec: Mutex<Session>,
    /// CTC table: `blank`, the model's characters, a space.
    table: Vec<String>,
}

impl std::fmt::Debug for Ocr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ocr").field("dir", &self.dir).finish()
    }
}

fn lock(s: &Mutex<Session>) -> Result<std::sync::MutexGuard<'_, Session>> {
    s.lock().map_err(|_| Error::Ort("session lock poisoned".into()))
}

/// Runs a one-input, one-output model.
fn run1(session: &Mutex<Session>, input: Array4<f32>) -> Result<ndarray::ArrayD<f32>> {
    let mut s = lock(session)?;
    let name = s
        .inputs()
        .first()
        .map(|i| i.name().to_string())
        .ok_or_else(|| Error::Ort("model has no input".into()))?;
    let outputs = s.run(ort::inputs![name.as_str() => Tensor::from_array(input)?])?;
    let (_, value) = outputs
        .iter()
        .next()
        .ok_or_else(|| Error::Ort("model gave no output".into()))?;
    Ok(value.try_extract_array::<f32>()?.to_owned())
}

impl Ocr {
    /// Loads an installed OCR model set by name.
    pub fn load(rt: &Runtime, store: &ModelStore, name: &str) -> Result<Self> {
        let (dir, manifest) = store.get(name)?;
        if manifest.role != ModelRole::Ocr {
            return Err(Error::BadModel {
                path: dir,
                reason: format!("'{name}' is not an OCR model (role {})", manifest.role.as_str()),
            });
        }
        let det = rt.session(&dir.join("det.onnx"))?;
        let rec_path = dir.join("rec.onnx");
        let rec = rt.session(&rec_path)?;
        let chars = rec
            .metadata()
            .ok()
            .and_then(|m| m.custom("character"))
            .ok_or_else(|| Error::BadModel {
                path: rec_path.clone(),
                reason: "the recogniser has no 'character' metadata (its character list)".into(),
            })?;
        let mut table = vec!["blank".to_string()];
        table.extend(chars.lines().map(str::to_string));
        table.push(" ".to_string());
        let cls_path = dir.join("cls.onnx");
        let cls = if cls_path.is_file() {
            Some(Mutex::new(rt.session(&cls_path)?))
        } else {
            None
        };
        Ok(Self {
            manifest,
            dir,
            det: Mutex::new(det),
            cls,
            rec: Mutex::new(rec),
            table,
        })
    }

    /// `name@fingerprint`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.manifest.name, self.manifest.fingerprint())
    }

    /// Text boxes (ordered quads, page pixels) found with detection at `short_side`.
    fn detect(&self, img: &RgbImage, short_side: u32) -> Result<Vec<[Point; 4]>> {
        let (w, h) = img.dimensions();
        if w < 4 || h < 4 {
            return Ok(Vec::new());
        }
        let ratio = if short_side > 0 && w.min(h) < short_side {
            short_side as f32 / w.min(h) as f32
        } else {
            1.0
        };
        let (dw, dh) = (round32(w as f32 * ratio), round32(h as f32 * ratio));
        let resized = image::imageops::resize(img, dw, dh, FilterType::Triangle);
        let mut input = Array4::<f32>::zeros((1, 3, dh as usize, dw as usize));
        put_bgr(&mut input, 0, &resized);
        let out = run1(&self.det, input)?;
        let shape = out.shape().to_vec();
        if shape.len() != 4 || shape[0] != 1 {
            return Err(Error::Ort(format!("detector output has shape {shape:?}")));
        }
        let (mh, mw) = (shape[2], shape[3]);
        let prob = out
            .into_shape_with_order((mh, mw))
            .map_err(|e| Error::Ort(format!("detector output: {e}")))?;
        let (sx, sy) = (w as f32 / mw as f32, h as f32 / mh as f32);
        let mut quads = Vec::new();
        for r in boxes_from_map(prob.view()) {
            let c = r.corners().map(|p| {
                [
                    (p[0] * sx).round_ties_even().clamp(0.0, (w - 1) as f32),
                    (p[1] * sy).round_ties_even().clamp(0.0, (h - 1) as f32),
                ]
            });
            let q = order_points(c);
            if dist(q[0], q[1]) as u32 <= 3 || dist(q[0], q[3]) as u32 <= 3 {
                continue;
            }
            quads.push(q);
        }
        Ok(reading_order(quads))
    }

    /// Whether an image has any text worth reading: detection at a reduced size finds at least
    /// `min_boxes` boxes. Costs a fraction of [`Ocr::read`].
    pub fn has_text(&self, img: &RgbImage, short_side: u32, min_boxes: usize) -> Result<bool> {
        let (w, h) = img.dimensions();
        let r = (short_side as f32 / w.min(h).max(1) as f32)
            .min(3.0 * short_side as f32 / w.max(h).max(1) as f32)
            .min(1.0);
        let small = if r < 1.0 {
            let (nw, nh) = (((w as f32 * r) as u32).max(1), ((h as f32 * r) as u32).max(1));
            image::imageops::resize(img, nw, nh, FilterType::Triangle)
        } else {
            img.clone()
        };
        Ok(self.detect(&small, 0)?.len() >= min_boxes)
    }

    /// Line orientation: per crop, the probability that it reads upside down. The classifier
    /// sees 48x192 inputs (a line four heights long); a longer line squeezed into that reads
    /// poorly, so long lines are cut into windows of that shape (at most [`CLS_WINDOWS`],
    /// spread along the line) and the windows' probabilities are averaged.
    fn upside_down(&self, crops: &[Crop]) -> Result<Vec<f32>> {
        let Some(cls) = &self.cls else {
            return Ok(vec![0.0; crops.len()]);
        };
        // (crop, window image)
        let mut windows: Vec<(usize, RgbImage)> = Vec::new();
        for (i, c) in crops.iter().enumerate() {
            let (w, h) = c.img.dimensions();
            let win = (h as f32 * CLS_WIDTH as f32 / REC_HEIGHT as f32).ceil() as u32;
            if w <= win + win / 2 {
                windows.push((i, c.img.clone()));
                continue;
            }
            let n = (w / win).min(CLS_WINDOWS);
            let step = (w - win) as f32 / (n - 1).max(1) as f32;
            for k in 0..n {
                let x = (k as f32 * step) as u32;
                windows.push((i, image::imageops::crop_imm(&c.img, x, 0, win, h).to_image()));
            }
        }
        let mut sum = vec![0f32; crops.len()];
        let mut count = vec![0u32; crops.len()];
        for batch in windows.chunks(REC_BATCH) {
            let mut input = Array4::<f32>::zeros((batch.len(), 3, REC_HEIGHT as usize, CLS_WIDTH as usize));
            for (n, (_, img)) in batch.iter().enumerate() {
                let ratio = img.width() as f32 / img.height().max(1) as f32;
                let rw = ((REC_HEIGHT as f32 * ratio).ceil() as u32).clamp(1, CLS_WIDTH);
                let r = image::imageops::resize(img, rw, REC_HEIGHT, FilterType::Triangle);
                put_bgr(&mut input, n, &r);
            }
            let probs = run1(cls, input)?;
            for (n, (i, _)) in batch.iter().enumerate() {
                let (p0, p180) = (probs[[n, 0]], probs[[n, 1]]);
                sum[*i] += p180 / (p0 + p180).max(f32::EPSILON);
                count[*i] += 1;
            }
        }
        Ok(sum
            .iter()
            .zip(&count)
            .map(|(s, c)| s / (*c).max(1) as f32)
            .collect())
    }

    /// Recognises crops; per crop the text, its score and the characters' CTC columns, as
    /// `(char, column, prob)`, with the number of columns the crop spans.
    fn recognise(&self, crops: &[Crop]) -> Result<Vec<Recognised>> {
        let mut out: Vec<Option<Recognised>> = (0..crops.len()).map(|_| None).collect();
        let mut order: Vec<usize> = (0..crops.len()).collect();
        order.sort_by(|&a, &b| crops[a].ratio().total_cmp(&crops[b].ratio()));
        for batch in order.chunks(REC_BATCH) {
            let max_ratio = batch
                .iter()
                .map(|&i| crops[i].ratio())
                .fold(REC_MIN_WIDTH as f32 / REC_HEIGHT as f32, f32::max);
            let bw = (REC_HEIGHT as f32 * max_ratio) as u32;
            let mut input = Array4::<f32>::zeros((batch.len(), 3, REC_HEIGHT as usize, bw as usize));
            let mut widths = Vec::with_capacity(batch.len());
            for (n, &i) in batch.iter().enumerate() {
                let rw = ((REC_HEIGHT as f32 * crops[i].ratio()).ceil() as u32).clamp(1, bw);
                let r = image::imageops::resize(&crops[i].img, rw, REC_HEIGHT, FilterType::Triangle);
                put_bgr(&mut input, n, &r);
                widths.push(rw);
            }
            let probs = run1(&self.rec, input)?;
            let shape = probs.shape().to_vec();
            if shape.len() != 3 || shape[2] != self.table.len() {
                return Err(Error::Ort(format!(
                    "recogniser output has shape {shape:?}, its character list has {} entries",
                    self.table.len()
                )));
            }
            let steps = shape[1];
            for (n, &i) in batch.iter().enumerate() {
                let mut chars = Vec::new();
                let mut prev = 0usize;
                for t in 0..steps {
                    let row = probs.slice(ndarray::s![n, t, ..]);
                    let (idx, p) =
                        row.iter().enumerate().fold(
                            (0, f32::MIN),
                            |best, (k, &v)| if v > best.1 { (k, v) } else { best },
                        );
                    if idx != 0 && idx != prev {
                        chars.push((self.table[idx].clone(), t, p));
                    }
                    prev = idx;
                }
                // Input pixels per CTC column, and crop pixels per input pixel.
                let col_px = bw as f32 / steps.max(1) as f32;
                let scale = crops[i].img.width() as f32 / widths[n] as f32;
                out[i] = Some(Recognised {
                    chars,
                    col_width: col_px * scale,
                });
            }
        }
        Ok(out.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Reads an image: lines and words in reading order, on the upright page.
    pub fn read(&self, img: &RgbImage) -> Result<OcrPage> {
        let mut page = shrink(img, MAX_SIDE);
        let mut rotation = 0u32;
        let mut quads = self.detect(&page, DET_SHORT_SIDE)?;
        // Sideways page: most text boxes stand upright.
        let (tall, wide) = quads.iter().fold((0f32, 0f32), |(t, w), q| {
            let (qw, qh) = (dist(q[0], q[1]), dist(q[0], q[3]));
            if qh / qw.max(1.0) >= 1.5 {
                (t + qh, w)
            } else {
                (t, w + qw)
            }
        });
        if tall > 2.0 * wide && quads.len() >= 2 {
            page = image::imageops::rotate90(&page);
            rotation = 90;
            quads = self.detect(&page, DET_SHORT_SIDE)?;
        }
        let mut crops: Vec<Crop> = quads.iter().filter_map(|q| Crop::cut(&page, q)).collect();
        let mut flips = self.upside_down(&crops)?;
        // Upside-down page: the text, weighted by length, reads upside down on the whole.
        let all: f32 = crops.iter().map(|c| c.img.width() as f32).sum();
        let flipped: f32 = crops
            .iter()
            .zip(&flips)
            .map(|(c, p)| c.img.width() as f32 * p)
            .sum();
        if crops.len() >= 2 && flipped > 0.6 * all {
            page = image::imageops::rotate180(&page);
            rotation = (rotation + 180) % 360;
            quads = self.detect(&page, DET_SHORT_SIDE)?;
            crops = quads.iter().filter_map(|q| Crop::cut(&page, q)).collect();
            flips = self.upside_down(&crops)?;
        }
        for (c, p) in crops.iter_mut().zip(&flips) {
            if *p > CLS_THRESH {
                c.turn_half();
            }
        }
        let recognised = self.recognise(&crops)?;
        let (pw, ph) = page.dimensions();
        let sx = img_scale(img, &page);
        let mut lines = Vec::new();
        for ((q, crop), r) in quads.iter().zip(&crops).zip(recognised) {
            let text: String = r.chars.iter().map(|c| c.0.as_str()).collect();
            let text = text.trim().to_string();
            if text.is_empty() {
                continue;
            }
            let conf = r.chars.iter().map(|c| c.2).sum::<f32>() / r.chars.len().max(1) as f32;
            if conf < TEXT_SCORE {
                continue;
            }
            let words = split_words(&r, crop)
                .into_iter()
                .map(|w| OcrWord {
                    bbox: w.bbox.map(|v| v * sx),
                    ..w
                })
                .collect();
            lines.push(OcrLine {
                text,
                conf,
                quad: q.map(|p| [p[0] * sx, p[1] * sx]),
                words,
            });
        }
        Ok(OcrPage {
            rotation,
            width: (pw as f32 * sx).round() as u32,
            height: (ph as f32 * sx).round() as u32,
            lines,
        })
    }
}

/// Scale from the (possibly shrunk) working page back to the caller's image (same for x and y,
/// since shrinking keeps the aspect ratio).
fn img_scale(orig: &RgbImage, page: &RgbImage) -> f32 {
    let long_orig = orig.width().max(orig.height()) as f32;
    let long_page = page.width().max(page.height()) as f32;
    long_orig / long_page.max(1.0)
}

/// The image with its long side at most `max_side` (a copy either way).
fn shrink(img: &RgbImage, max_side: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    if w.max(h) <= max_side {
        return img.clone();
    }
    let r = max_side as f32 / w.max(h) as f32;
    let (nw, nh) = (((w as f32 * r) as u32).max(1), ((h as f32 * r) as u32).max(1));
    image::imageops::resize(img, nw, nh, FilterType::Triangle)
}

/// A recognised crop.
#[derive(Debug, Clone, Default)]
struct Recognised {
    /// `(character, CTC column, probability)`.
    chars: Vec<(String, usize, f32)>,
    /// Crop pixels per CTC column.
    col_width: f32,
}

/// Splits a recognised line into words at spaces (and at wide gaps between columns), each word
/// boxed from its characters' columns.
fn split_words(r: &Recognised, crop: &Crop) -> Vec<OcrWord> {
    let mut words = Vec::new();
    let mut cur: Vec<&(String, usize, f32)> = Vec::new();
    let flush = |cur: &mut Vec<&(String, usize, f32)>, words: &mut Vec<OcrWord>| {
        if cur.is_empty() {
            return;
        }
        let first = cur[0].1 as f32;
        let last = cur[cur.len() - 1].1 as f32;
        let half = r.col_width * 0.75;
        let cw = crop.img.width() as f32;
        let u0 = ((first + 0.5) * r.col_width - half).clamp(0.0, cw);
        let u1 = ((last + 0.5) * r.col_width + half).clamp(0.0, cw);
        words.push(OcrWord {
            text: cur.iter().map(|c| c.0.as_str()).collect(),
            bbox: crop.span_box(u0, u1),
            conf: cur.iter().map(|c| c.2).sum::<f32>() / cur.len() as f32,
        });
        cur.clear();
    };
    for c in &r.chars {
        if c.0.trim().is_empty() {
            flush(&mut cur, &mut words);
            continue;
        }
        if let Some(prev) = cur.last()
            && c.1 - prev.1 > 5
        {
            flush(&mut cur, &mut words);
        }
        cur.push(c);
    }
    flush(&mut cur, &mut words);
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn min_area_rect_of_a_tilted_bar() {
        // A 40x10 bar rotated by 30 degrees.
        let (c, s) = (30f32.to_radians().cos(), 30f32.to_radians().sin());
        let mut pts = Vec::new();
        for u in 0..=40 {
            for v in 0..=10 {
                let (u, v) = (u as f32 - 20.0, v as f32 - 5.0);
                pts.push([50.0 + u * c - v * s, 50.0 + u * s + v * c]);
            }
        }
        let r = min_area_rect(pts).unwrap();
        let (long, short) = (r.w.max(r.h), r.w.min(r.h));
        assert!((long - 40.0).abs() < 0.5 && (short - 10.0).abs() < 0.5, "{r:?}");
        assert!((r.center[0] - 50.0).abs() < 0.5 && (r.center[1] - 50.0).abs() < 0.5);
    }

    #[test]
    fn boxes_from_a_map_with_two_lines() {
        let mut m = Array2::<f32>::zeros((100, 200));
        for y in 20..30 {
            for x in 10..150 {
                m[[y, x]] = 0.9;
            }
        }
        for y in 60..72 {
            for x in 30..100 {
                m[[y, x]] = 0.8;
            }
        }
        // A faint blob under the box threshold.
        for y in 85..95 {
            for x in 10..40 {
                m[[y, x]] = 0.35;
            }
        }
        let boxes = boxes_from_map(m.view());
        assert_eq!(boxes.len(), 2, "{boxes:?}");
        let quads = reading_order(boxes.iter().map(|b| order_points(b.corners())).collect());
        assert!(quads[0][0][1] < 25.0 && quads[1][0][1] > 50.0);
        // Unclip grew the first line. Its dilated mask is 141x11 pixels, whose centres span
        // 140x10 (OpenCV's contour), so d = 140*10*1.6/(2*150) ~ 7.47 on every side: 154.9x24.9.
        let first = quads[0];
        let (w, h) = (dist(first[0], first[1]), dist(first[0], first[3]));
        assert!((w - 154.9).abs() < 0.2 && (h - 24.9).abs() < 0.2, "{first:?}");
    }

    #[test]
    fn crop_frames_map_back_after_turns() {
        let page = RgbImage::from_pixel(100, 100, image::Rgb([255, 255, 255]));
        let q = [[10.0, 20.0], [60.0, 20.0], [60.0, 30.0], [10.0, 30.0]];
        let mut c = Crop::cut(&page, &q).unwrap();
        assert_eq!(c.img.dimensions(), (50, 10));
        assert_eq!(c.span_box(0.0, 50.0), [10.0, 20.0, 60.0, 30.0]);
        c.turn_half();
        let b = c.span_box(0.0, 25.0);
        assert!((b[0] - 35.0).abs() < 1e-3 && (b[2] - 60.0).abs() < 1e-3, "{b:?}");
        // A tall box is turned a quarter counter-clockwise (as RapidOCR's np.rot90 does): the
        // crop's left edge is the box's top. (Text running the other way is then upside down,
        // which the orientation classifier turns.)
        let tall = [[10.0, 10.0], [20.0, 10.0], [20.0, 70.0], [10.0, 70.0]];
        let t = Crop::cut(&page, &tall).unwrap();
        assert_eq!(t.img.dimensions(), (60, 10));
        let b = t.span_box(0.0, 10.0);
        assert!((b[1] - 10.0).abs() < 1e-3 && (b[3] - 20.0).abs() < 1e-3, "{b:?}");
        assert!((b[0] - 10.0).abs() < 1e-3 && (b[2] - 20.0).abs() < 1e-3, "{b:?}");
    }

    #[test]
    fn words_split_at_spaces() {
        let page = RgbImage::from_pixel(400, 60, image::Rgb([255, 255, 255]));
        let crop = Crop::cut(&page, &[[0.0, 0.0], [400.0, 0.0], [400.0, 48.0], [0.0, 48.0]]).unwrap();
        let ch = |s: &str, t: usize| (s.to_string(), t, 0.9f32);
        let r = Recognised {
            chars: vec![
                ch("T", 2),
                ch("o", 4),
                ch(" ", 6),
                ch("5", 9),
                ch("1", 11),
                ch("8", 13),
            ],
            col_width: 8.0,
        };
        let w = split_words(&r, &crop);
        assert_eq!(w.len(), 2);
        assert_eq!(w[1].text, "518");
        assert!(w[0].bbox[2] < w[1].bbox[0] + 8.0 && w[1].bbox[0] > 60.0);
    }
}
