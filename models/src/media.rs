//! Decoding one image safely: format sniffed from the bytes, size limits checked before any
//! pixel is allocated, EXIF orientation applied, capture date read.

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use std::io::Cursor;

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
pub fn decode_image(bytes: &[u8], limits: &DecodeLimits) -> Result<DecodedImage, String> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read: {e}"))?;
    if reader.format().is_none() {
        return Err("not an image format Loupe reads (unrecognised content)".into());
    }
    let limits = limits.clone();
    // Decoders are third-party code fed hostile input: a panic must become one file's error.
    let decoded = std::panic::catch_unwind(move || -> Result<DynamicImage, String> {
        let mut reader = reader;
        let mut l = Limits::default();
        l.max_image_width = Some(limits.max_side);
        l.max_image_height = Some(limits.max_side);
        l.max_alloc = Some(limits.max_pixels.saturating_mul(4));
        reader.limits(l);
        let mut decoder = reader.into_decoder().map_err(describe)?;
        let (w, h) = decoder.dimensions();
        if u64::from(w) * u64::from(h) > limits.max_pixels {
            return Err(format!(
                "image is {w}x{h}, over the {} pixel limit (possible decompression bomb)",
                limits.max_pixels
            ));
        }
        if w == 0 || h == 0 {
            return Err(format!("image has no pixels ({w}x{h})"));
        }
        let orientation = decoder.orientation().map_err(describe)?;
        let mut img = DynamicImage::from_decoder(decoder).map_err(describe)?;
        img.apply_orientation(orientation);
        Ok(img)
    })
    .map_err(|_| "the image decoder crashed on this file".to_string())??;
    let (captured_at, captured_ts) = capture_time(bytes).unzip();
    Ok(DecodedImage {
        image: decoded,
        captured_at,
        captured_ts,
    })
}

fn describe(e: image::ImageError) -> String {
    match e {
        image::ImageError::Limits(l) => {
            format!("image exceeds the size limits (possible decompression bomb): {l}")
        }
        image::ImageError::Unsupported(u) => format!("unsupported image: {u}"),
        image::ImageError::Decoding(d) => format!("corrupt or truncated image: {d}"),
        image::ImageError::IoError(e) => format!("corrupt or truncated image: {e}"),
        e => e.to_string(),
    }
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
                .contains("unrecognised")
        );
        let small = DecodeLimits {
            max_side: 16,
            ..DecodeLimits::default()
        };
        let err = decode_image(&png(32, 8), &small).unwrap_err();
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
        assert!(err.contains("pixel limit"), "{err}");
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
