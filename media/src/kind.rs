//! What kind of media a file holds: by its extension ([`kind_of`]), and by its first bytes when
//! the name says something else ([`sniff_kind`]).

use loupe_schemas::AssetKind;
use std::path::Path;

/// File extensions read as images.
const IMAGE_EXTS: &[&str] = &["jpg", "jpeg", "jpe", "png", "webp", "gif", "tif", "tiff", "bmp"];
/// File extensions read as videos (through ffmpeg).
const VIDEO_EXTS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "wmv", "flv", "3gp", "ts", "mts",
];
/// File extensions read as sound recordings (through ffmpeg).
const AUDIO_EXTS: &[&str] = &["mp3", "wav", "flac", "m4a", "ogg", "oga", "opus", "aac", "wma"];
/// File extensions read as documents (through poppler).
const DOCUMENT_EXTS: &[&str] = &["pdf"];

/// The kind of media a path names, by extension; `None` for files Loupe does not read.
pub fn kind_of(path: &Path) -> Option<AssetKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    let ext = ext.as_str();
    if IMAGE_EXTS.contains(&ext) {
        Some(AssetKind::Image)
    } else if VIDEO_EXTS.contains(&ext) {
        Some(AssetKind::Video)
    } else if AUDIO_EXTS.contains(&ext) {
        Some(AssetKind::Audio)
    } else if DOCUMENT_EXTS.contains(&ext) {
        Some(AssetKind::Document)
    } else {
        None
    }
}

/// What a file's first bytes say it is, when that is a different kind of thing than its name
/// says: a PDF, a photo, or an audio/video container behind the wrong extension is read as what it
/// is. `named` is the kind from the extension; None keeps it.
pub fn sniff_kind(path: &Path, named: AssetKind) -> Option<AssetKind> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .ok()?;
    let h = &head[..n];
    let at = |i: usize, magic: &[u8]| h.get(i..i + magic.len()) == Some(magic);
    let sniffed = if at(0, b"%PDF-") {
        AssetKind::Document
    } else if at(4, b"ftyp") || at(0, &[0x1A, 0x45, 0xDF, 0xA3]) || (at(0, b"RIFF") && at(8, b"AVI ")) {
        AssetKind::Video
    } else if (at(0, b"RIFF") && at(8, b"WAVE")) || at(0, b"ID3") || at(0, b"fLaC") || at(0, b"OggS") {
        AssetKind::Audio
    } else if matches!(
        image::guess_format(h),
        Ok(image::ImageFormat::Png
            | image::ImageFormat::Jpeg
            | image::ImageFormat::Gif
            | image::ImageFormat::WebP
            | image::ImageFormat::Bmp
            | image::ImageFormat::Tiff)
    ) {
        AssetKind::Image
    } else {
        return None;
    };
    // Audio and video share containers (an .m4a is an MP4): the name decides between them.
    let av = |k: AssetKind| matches!(k, AssetKind::Video | AssetKind::Audio);
    (sniffed != named && !(av(sniffed) && av(named))).then_some(sniffed)
}

fn has_ext(path: &Path, exts: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Named as a TIFF (`.tif`, `.tiff`): a multi-page one is read as a document.
pub fn is_tiff(path: &Path) -> bool {
    has_ext(path, &["tif", "tiff"])
}

/// Named as a PDF.
pub fn is_pdf(path: &Path) -> bool {
    has_ext(path, DOCUMENT_EXTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_extension() {
        assert_eq!(kind_of(Path::new("/a/B.JPG")), Some(AssetKind::Image));
        assert_eq!(kind_of(Path::new("/a/b.webp")), Some(AssetKind::Image));
        assert_eq!(kind_of(Path::new("/a/b.txt")), None);
        assert_eq!(kind_of(Path::new("/a/noext")), None);
    }

    #[test]
    fn content_decides_when_the_name_lies() {
        let dir = tempfile::tempdir().unwrap();
        let put = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let pdf = put("a.png", b"%PDF-1.7\n1 0 obj");
        assert_eq!(sniff_kind(&pdf, AssetKind::Image), Some(AssetKind::Document));
        let png = put("b.pdf", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        assert_eq!(sniff_kind(&png, AssetKind::Document), Some(AssetKind::Image));
        let mp4 = put("c.jpg", b"\0\0\0\x18ftypmp42\0\0\0\0");
        assert_eq!(sniff_kind(&mp4, AssetKind::Image), Some(AssetKind::Video));
        // An .m4a is an MP4 container: audio stays audio.
        let m4a = put("d.m4a", b"\0\0\0\x18ftypM4A \0\0\0\0");
        assert_eq!(sniff_kind(&m4a, AssetKind::Audio), None);
        // Unknown content keeps the name's kind (and fails later with a reason).
        let text = put("e.mp4", b"plain text pretending");
        assert_eq!(sniff_kind(&text, AssetKind::Video), None);
        // Agreement changes nothing.
        assert_eq!(sniff_kind(&pdf, AssetKind::Document), None);
    }

    #[test]
    fn tiff_and_pdf_names() {
        assert!(is_tiff(Path::new("/scans/Fax.TIF")) && is_tiff(Path::new("a.tiff")));
        assert!(!is_tiff(Path::new("a.png")) && !is_tiff(Path::new("tif")));
        assert!(is_pdf(Path::new("/a/Report.PDF")) && !is_pdf(Path::new("/a/pdf")));
    }
}
