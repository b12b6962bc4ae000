//! Images: decoding one image safely (format sniffed from the bytes, size limits checked before any
//! pixel is allocated, EXIF orientation applied, capture date read), thumbnails, and the one JPEG
//! encoder every caller uses (thumbnails on disk, thumbnails served, evidence for a vision model).

use crate::{Error, Result};
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};
use std::io::Cursor;
use std::path::Path;

/// Limits that keep a hostile or broken file from exhausting memory.
#[derive(Debug, Clone)]
pub struct DecodeLimits {
    /// Largest width or height accepted, in pixels.
    pub max_side: u32,
    /// Largest decoded size accepted (width x height), in pixels.
    pub max_pixels: u64,
    /// Largest file read into memory.
    pub max_file_bytes: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_side: 30_000,
            max_pixels: 200_000_000,
            max_file_bytes: 512 * 1024 * 1024,
        }
    }
}

/// A decoded, upright image and what its metadata says.
#[derive(Debug)]
pub struct DecodedImage {
    pub image: DynamicImage,
    /// RFC 3339 capture time (EXIF DateTimeOriginal; UTC when the file gives no offset).
    pub captured_at: Option<String>,
    pub captured_ts: Option<i64>,
}

/// Decodes an image held in memory. Errors are reasons for the per-file report.
pub fn decode_image(bytes: &[u8], limits: &DecodeLimits) -> Result<DecodedImage> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(Error::Read)?;
    if reader.format().is_none() {
        return Err(Error::Unrecognised);
    }
    let limits = limits.clone();
    // Decoders are third-party code fed hostile input: a panic must become one file's error.
    let decoded = std::panic::catch_unwind(move || -> Result<DynamicImage> {
        let mut reader = reader;
        let mut l = Limits::default();
        l.max_image_width = Some(limits.max_side);
        l.max_image_height = Some(limits.max_side);
        l.max_alloc = Some(limits.max_pixels.saturating_mul(4));
        reader.limits(l);
        let mut decoder = reader.into_decoder().map_err(describe)?;
        let (w, h) = decoder.dimensions();
        if u64::from(w) * u64::from(h) > limits.max_pixels {
            return Err(Error::TooManyPixels {
                width: w,
                height: h,
                limit: limits.max_pixels,
            });
        }
        if w == 0 || h == 0 {
            return Err(Error::NoPixels { width: w, height: h });
        }
        let orientation = decoder.orientation().map_err(describe)?;
        let mut img = DynamicImage::from_decoder(decoder).map_err(describe)?;
        img.apply_orientation(orientation);
        Ok(img)
    })
    .map_err(|_| Error::DecoderCrashed)??;
    let (captured_at, captured_ts) = capture_time(bytes).unzip();
    Ok(DecodedImage {
        image: decoded,
        captured_at,
        captured_ts,
    })
}

fn describe(e: image::ImageError) -> Error {
    match e {
        image::ImageError::Limits(l) => Error::Limits(l.to_string()),
        image::ImageError::Unsupported(u) => Error::Unsupported(u.to_string()),
        image::ImageError::Decoding(d) => Error::Corrupt(d.to_string()),
        image::ImageError::IoError(e) => Error::Corrupt(e.to_string()),
        e => Error::Image(e.to_string()),
    }
}

/// The image scaled down (aspect kept) to fit in `side` x `side`, as RGB.
pub fn thumbnail(img: &DynamicImage, side: u32) -> RgbImage {
    img.thumbnail(side, side).to_rgb8()
}

/// The one JPEG encoder: `quality` 1-100 (callers keep their own: thumbnails on disk 80, served
/// thumbnails 82, evidence for a vision model 85).
pub fn encode_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .map_err(|e| Error::Encode(e.to_string()))?;
    Ok(out)
}

/// Writes `img` as a JPEG file, creating its folder.
pub fn save_jpeg(path: &Path, img: &RgbImage, quality: u8) -> Result<()> {
    let fail = |reason: String| Error::Write {
        path: path.display().to_string(),
        reason,
    };
    let bytes = encode_jpeg(img, quality)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    }
    std::fs::write(path, bytes).map_err(|e| fail(e.to_string()))
}

/// EXIF DateTimeOriginal (falling back to DateTime), as RFC 3339 and Unix seconds.
fn capture_time(bytes: &[u8]) -> Option<(String, i64)> {
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()?;
    let field = exif
        .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
        .or_else(|| exif.get_field(exif::Tag::DateTime, exif::In::PRIMARY))?;
    let exif::Value::Ascii(ref parts) = field.value else {
        return None;
    };
    let raw = std::str::from_utf8(parts.first()?).ok()?.trim();
    let naive = chrono::NaiveDateTime::parse_from_str(raw, "%Y:%m:%d %H:%M:%S").ok()?;
    let offset = exif
        .get_field(exif::Tag::OffsetTimeOriginal, exif::In::PRIMARY)
        .and_then(|f| match &f.value {
            exif::Value::Ascii(v) => v
                .first()
                .and_then(|s| std::str::from_utf8(s).ok())
                .map(str::to_string),
            _ => None,
        })
        .and_then(|s| {
            chrono::DateTime::parse_from_str(
                &format!("2000-01-01T00:00:00{}", s.trim()),
                "%Y-%m-%dT%H:%M:%S%:z",
            )
            .ok()
        })
        .map(|d| *d.offset());
    Some(match offset {
        Some(off) => {
            let dt = naive.and_local_timezone(off).single()?;
            (dt.to_rfc3339(), dt.timestamp())
        }
        None => {
            let dt = naive.and_utc();
            (dt.to_rfc3339(), dt.timestamp())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb, RgbImage};

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_pixel(w, h, Rgb([200, 10, 10]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn decodes_and_rejects() {
        let l = DecodeLimits::default();
        let ok = decode_image(&png(8, 4), &l).unwrap();
        assert_eq!((ok.image.width(), ok.image.height()), (8, 4));
        assert!(ok.captured_at.is_none());
        let truncated = &png(64, 64)[..60];
        assert!(decode_image(truncated, &l).is_err());
        assert!(
            decode_image(b"hello, not an image", &l)
                .unwrap_err()
                .to_string()
                .contains("unrecognised")
        );
        let small = DecodeLimits {
            max_side: 16,
            ..DecodeLimits::default()
        };
        let err = decode_image(&png(32, 8), &small).unwrap_err().to_string();
        assert!(err.contains("limit"), "{err}");
    }

    #[test]
    fn header_only_bomb_is_refused_before_allocation() {
        // A PNG claiming 20000 x 20000 pixels (under the side limit, over the pixel limit).
        let img = image::RgbImage::new(1, 1);
        let mut out = Cursor::new(Vec::new());
        let enc = image::codecs::png::PngEncoder::new(&mut out);
        image::ImageEncoder::write_image(enc, img.as_raw(), 1, 1, image::ExtendedColorType::Rgb8).unwrap();
        let mut bytes = out.into_inner();
        bytes[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        // Fix the IHDR checksum so the decoder reads the dimensions.
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = decode_image(&bytes, &DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, Error::TooManyPixels { .. }), "{err}");
        assert!(err.to_string().contains("pixel limit"), "{err}");
    }

    /// A JPEG with an EXIF block holding DateTimeOriginal, its offset and Orientation.
    fn jpeg_with_exif(img: &RgbImage, date: &str, offset: Option<&str>, orientation: u16) -> Vec<u8> {
        use exif::experimental::Writer;
        use exif::{Field, In, Tag, Value};
        let jpeg = encode_jpeg(img, 90).unwrap();
        let ascii = |tag, s: &str| Field {
            tag,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![s.as_bytes().to_vec()]),
        };
        let mut fields = vec![
            ascii(Tag::DateTimeOriginal, date),
            Field {
                tag: Tag::Orientation,
                ifd_num: In::PRIMARY,
                value: Value::Short(vec![orientation]),
            },
        ];
        if let Some(o) = offset {
            fields.push(ascii(Tag::OffsetTimeOriginal, o));
        }
        let mut w = Writer::new();
        for f in &fields {
            w.push_field(f);
        }
        let mut tiff = Cursor::new(Vec::new());
        w.write(&mut tiff, false).unwrap();
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff.into_inner());
        let len = u16::try_from(app1.len() + 2).unwrap();
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn exif_orientation_and_capture_date() {
        // 40 x 20, left half red: orientation 6 (turn 90 degrees clockwise) makes it 20 x 40, red on top.
        let img = RgbImage::from_fn(40, 20, |x, _| {
            if x < 20 {
                Rgb([220, 0, 0])
            } else {
                Rgb([0, 0, 220])
            }
        });
        let d = decode_image(
            &jpeg_with_exif(&img, "2021:07:04 15:30:00", None, 6),
            &DecodeLimits::default(),
        )
        .unwrap();
        assert_eq!((d.image.width(), d.image.height()), (20, 40));
        let top = d.image.to_rgb8().get_pixel(10, 5).0;
        assert!(top[0] > 150 && top[2] < 100, "{top:?}");
        assert_eq!(d.captured_at.as_deref(), Some("2021-07-04T15:30:00+00:00"));
        assert_eq!(d.captured_ts, Some(1_625_412_600));
        // With an offset the instant moves.
        let d = decode_image(
            &jpeg_with_exif(&img, "2021:07:04 15:30:00", Some("+02:00"), 1),
            &DecodeLimits::default(),
        )
        .unwrap();
        assert_eq!((d.image.width(), d.image.height()), (40, 20));
        assert_eq!(d.captured_at.as_deref(), Some("2021-07-04T15:30:00+02:00"));
        assert_eq!(d.captured_ts, Some(1_625_412_600 - 7200));
    }

    #[test]
    fn thumbnails_and_jpeg_files() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(640, 320, Rgb([10, 200, 10])));
        let t = thumbnail(&img, 320);
        assert_eq!(t.dimensions(), (320, 160));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/t.jpg");
        save_jpeg(&path, &t, 80).unwrap();
        let back = decode_image(&std::fs::read(&path).unwrap(), &DecodeLimits::default()).unwrap();
        assert_eq!((back.image.width(), back.image.height()), (320, 160));
        // Higher quality, more bytes.
        assert!(encode_jpeg(&t, 95).unwrap().len() > encode_jpeg(&t, 20).unwrap().len());
        // A folder where the file should be is a clear error.
        let blocked = dir.path().join("a");
        assert!(
            save_jpeg(&blocked, &t, 80)
                .unwrap_err()
                .to_string()
                .contains("cannot write")
        );
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
}
