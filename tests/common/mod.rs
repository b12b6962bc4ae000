//! Shared helpers for the end-to-end tests: run the real `loupe` binary, make fixture media.
#![allow(dead_code)]

use image::{ImageFormat, Rgb, RgbImage};
use std::ffi::{OsStr, OsString};
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
        // A developer's own server must not receive the tests' vectors.
        .env_remove("LOUPE_QDRANT_URL")
        .env_remove("LOUPE_QDRANT_API_KEY")
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

/// The files an index report lists as failed: (file name, reason).
pub fn failures(report: &serde_json::Value) -> Vec<(String, String)> {
    report["failed"]
        .as_array()
        .expect("failed list")
        .iter()
        .map(|f| {
            (
                file_name(f["path"].as_str().unwrap()).to_string(),
                f["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The reason an index report gives for a failed file, by file name; panics (listing every
/// failure) when the file is not reported.
pub fn failure_reason(failed: &[(String, String)], name: &str) -> String {
    failed
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, r)| r.clone())
        .unwrap_or_else(|| panic!("{name} not reported as failed: {failed:#?}"))
}

/// Speaks `text` into a 22.05 kHz mono WAV with espeak-ng (one voice for every test).
pub fn speak(text: &str, wav: &Path) {
    let out = Command::new("espeak-ng")
        .args(["-v", "en-us+m3", "-s", "140", "-w"])
        .arg(wav)
        .arg(text)
        .output()
        .expect("espeak-ng (scripts/setup installs it)");
    assert!(
        out.status.success(),
        "espeak-ng: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `loupe transcribe FILE --speech-model MODEL` as JSON (the index folder is not used).
pub fn transcribe(file: &Path, model: &str) -> serde_json::Value {
    let index = file.with_extension("unused-index");
    loupe_json(
        &index,
        &["transcribe", file.to_str().unwrap(), "--speech-model", model],
    )
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

/// Makes a fixture with ffmpeg, run as Loupe runs it (`ffmpeg-sidecar`, the system's ffmpeg), and
/// panics with ffmpeg's error lines when it fails.
pub fn ffmpeg<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) {
    use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel};
    let mut cmd = ffmpeg_sidecar::command::FfmpegCommand::new_with_path("ffmpeg");
    cmd.args(["-nostdin", "-hide_banner"]).args(args);
    let shown = format!("{:?}", cmd.as_inner());
    let mut child = cmd.spawn().expect("ffmpeg (scripts/setup installs it)");
    let mut errors = Vec::new();
    for event in child.iter().expect("ffmpeg's output") {
        match event {
            FfmpegEvent::Error(m) | FfmpegEvent::Log(LogLevel::Error | LogLevel::Fatal, m) => errors.push(m),
            _ => {}
        }
    }
    let status = child.wait().expect("waiting for ffmpeg");
    assert!(status.success(), "{shown}: {}", errors.join("\n"));
}

/// Black 0-1 s, red 1-3 s, blue 3-6 s, green 6-8 s, with a tone (cuts at 1, 3 and 6 s).
pub fn make_video(path: &Path, codec: &[&str]) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    let mut args: Vec<OsString> = Vec::new();
    let mut add = |a: &[&str]| args.extend(a.iter().map(OsString::from));
    for (colour, secs) in [("black", 1), ("red", 2), ("blue", 3), ("green", 2)] {
        add(&[
            "-f",
            "lavfi",
            "-i",
            &format!("color=c={colour}:s=320x240:r=25:d={secs}"),
        ]);
    }
    add(&["-f", "lavfi", "-i", "sine=frequency=440:duration=8"]);
    add(&[
        "-filter_complex",
        "[0:v][1:v][2:v][3:v]concat=n=4:v=1:a=0[v]",
        "-map",
        "[v]",
        "-map",
        "4:a",
    ]);
    add(codec);
    add(&["-shortest"]);
    args.push(path.into());
    ffmpeg(args);
}

/// A one-page PDF with a real text layer (Helvetica), one string per line, offsets computed so
/// every reader accepts it.
pub fn simple_pdf(lines: &[&str]) -> Vec<u8> {
    let mut content = String::from("BT /F1 18 Tf 72 720 Td 24 TL\n");
    for l in lines {
        let esc = l.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
        content.push_str(&format!("({esc}) Tj T*\n"));
    }
    content.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// An HTTP client that hands back error statuses instead of failing on them.
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// A `loupe serve` process on an ephemeral loopback port, killed when dropped.
pub struct LoupeServer {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The tail of the server's log (stderr).
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl LoupeServer {
    /// Starts `loupe --index INDEX serve --port 0 ARGS...` with extra environment variables, and
    /// waits (up to two minutes: models load first) for the line that gives its address. Panics
    /// with the server's stderr if it exits instead.
    pub fn start(index: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        use std::io::{BufRead, BufReader};
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_loupe"));
        cmd.arg("--index")
            .arg(index)
            .arg("--models")
            .arg(models_dir())
            .args(["serve", "--port", "0"])
            .args(args)
            .env_remove("LOUPE_MODEL")
            .env_remove("LOUPE_API_KEY")
            .env("LOUPE_CONFIG", "/dev/null")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starting loupe serve");
        let stdout = child.stdout.take().expect("stdout");
        // Drain the request log, or the server blocks on a full pipe; keep its tail for errors.
        let stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&line);
                    l.push('\n');
                    if l.len() > 64 * 1024 {
                        let cut = l.len() - 32 * 1024;
                        let cut = (cut..l.len()).find(|i| l.is_char_boundary(*i)).unwrap_or(0);
                        l.drain(..cut);
                    }
                }
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("loupe: listening on ") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        match rx.recv_timeout(std::time::Duration::from_secs(120)) {
            Ok(base) => Self { child, base, log },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(std::time::Duration::from_millis(200));
                panic!(
                    "loupe serve did not start: {}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                );
            }
        }
    }

    pub fn log_tail(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for LoupeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
