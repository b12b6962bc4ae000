//! Shared helpers for the end-to-end tests: run the real `loupe` binary, make fixture media.
#![allow(dead_code)]

use image::{ImageFormat, Rgb, RgbImage};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The model folder scripts/setup fills. Tests need the generated test CLIP pair in it.
pub fn models_dir() -> PathBuf {
    let dir = std::env::var_os("LOUPE_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".local/share/loupe/models")
        });
    assert!(
        dir.join("tiny-clip-colour/loupe-model.json").is_file(),
        "the test CLIP model is not installed in {}: run scripts/setup first",
        dir.display()
    );
    dir
}

pub fn real_clip_installed() -> bool {
    models_dir().join("clip-vit-b-32/loupe-model.json").is_file()
}

/// `loupe --index INDEX ARGS...` with the installed models.
pub fn loupe(index: &Path, args: &[&str]) -> Output {
    loupe_with_models(index, &models_dir(), args)
}

pub fn loupe_with_models(index: &Path, models: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loupe"))
        .arg("--index")
        .arg(index)
        .arg("--models")
        .arg(models)
        .args(args)
        .env_remove("LOUPE_MODEL")
        .output()
        .expect("running loupe")
}

/// Runs loupe with `--json`, asserts success, parses stdout.
pub fn loupe_json(index: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = loupe(index, &all);
    assert!(
        out.status.success(),
        "loupe {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Paths of the hits of a search, best first.
pub fn hit_paths(resp: &serde_json::Value) -> Vec<String> {
    resp["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["asset"]["path"].as_str().expect("path").to_string())
        .collect()
}

pub fn file_name(p: &str) -> &str {
    Path::new(p).file_name().and_then(|n| n.to_str()).unwrap_or(p)
}

/// A `w`x`h` image of `bg` with a centred disc of `fg` covering about 40% of it.
pub fn disc(w: u32, h: u32, fg: [u8; 3], bg: [u8; 3]) -> RgbImage {
    let (cx, cy, r) = (w as f32 / 2.0, h as f32 / 2.0, w.min(h) as f32 * 0.45);
    RgbImage::from_fn(w, h, |x, y| {
        let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
        if d < r { Rgb(fg) } else { Rgb(bg) }
    })
}

pub fn solid(w: u32, h: u32, c: [u8; 3]) -> RgbImage {
    RgbImage::from_pixel(w, h, Rgb(c))
}

pub fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::WebP => {
            let enc = image::codecs::webp::WebPEncoder::new_lossless(&mut out);
            img.write_with_encoder(enc).expect("webp");
        }
        f => img.write_to(&mut out, f).expect("encode"),
    }
    out.into_inner()
}

pub fn write(path: &Path, bytes: &[u8]) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}

/// A JPEG with an EXIF block holding DateTimeOriginal and Orientation.
pub fn jpeg_with_exif(img: &RgbImage, date: &str, orientation: u16) -> Vec<u8> {
    use exif::experimental::Writer;
    use exif::{Field, In, Tag, Value};
    let jpeg = encode(img, ImageFormat::Jpeg);
    let date_field = Field {
        tag: Tag::DateTimeOriginal,
        ifd_num: In::PRIMARY,
        value: Value::Ascii(vec![date.as_bytes().to_vec()]),
    };
    let orient_field = Field {
        tag: Tag::Orientation,
        ifd_num: In::PRIMARY,
        value: Value::Short(vec![orientation]),
    };
    let mut w = Writer::new();
    w.push_field(&date_field);
    w.push_field(&orient_field);
    let mut tiff = Cursor::new(Vec::new());
    w.write(&mut tiff, false).expect("exif");
    let tiff = tiff.into_inner();
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let len = (app1.len() + 2) as u16;
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

pub const RED: [u8; 3] = [220, 20, 30];
pub const GREEN: [u8; 3] = [30, 180, 40];
pub const BLUE: [u8; 3] = [20, 40, 210];
pub const YELLOW: [u8; 3] = [245, 225, 30];
pub const WHITE: [u8; 3] = [250, 250, 250];
pub const BLACK: [u8; 3] = [5, 5, 5];

/// A valid PNG header (signature + IHDR with a correct CRC) claiming `w` x `h` pixels, with no
/// pixel data: a decompression bomb's opening, refused before any allocation.
pub fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    // An IDAT chunk with a few bytes of zlib data, so the decoder gets as far as allocating.
    let idat = [b'I', b'D', b'A', b'T', 0x78, 0x9c, 0x03, 0x00];
    out.extend_from_slice(&4u32.to_be_bytes());
    out.extend_from_slice(&idat);
    out.extend_from_slice(&crc32(&idat).to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
