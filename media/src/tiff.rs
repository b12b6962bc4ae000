//! Multi-page TIFFs (what fax and scanner software writes), read one page at a time with the
//! `tiff` crate within the same [`DecodeLimits`] as any image.

use crate::{DecodeLimits, Error, Result};
use image::RgbImage;
use std::io::Cursor;

/// Most pages read from one TIFF (a loop in its directory chain ends here).
const MAX_PAGES: u32 = 100_000;

/// A TIFF held in memory, positioned on one page (the first when opened).
pub struct Pages<'a> {
    decoder: tiff::decoder::Decoder<Cursor<&'a [u8]>>,
    limits: DecodeLimits,
}

impl<'a> Pages<'a> {
    /// Opens a TIFF, or says why it cannot be read.
    pub fn open(bytes: &'a [u8], limits: &DecodeLimits) -> Result<Self> {
        let mut tl = tiff::decoder::Limits::default();
        tl.decoding_buffer_size = usize::try_from(limits.max_pixels.saturating_mul(8)).unwrap_or(usize::MAX);
        let decoder = tiff::decoder::Decoder::new(Cursor::new(bytes))
            .map(|d| d.with_limits(tl))
            .map_err(|e| Error::Tiff(e.to_string()))?;
        Ok(Self {
            decoder,
            limits: limits.clone(),
        })
    }

    /// Moves on to the next page (its directory may be unreadable in a cut-off file).
    pub fn next_page(&mut self) -> Result<()> {
        self.decoder
            .next_image()
            .map_err(|e| Error::BadPage(e.to_string()))
    }

    /// The current page as RGB (bilevel, grey, RGB and RGBA; 8 or 16 bits).
    pub fn rgb(&mut self) -> Result<RgbImage> {
        use tiff::ColorType as C;
        use tiff::decoder::DecodingResult as D;
        let bad = |e: tiff::TiffError| Error::BadPage(e.to_string());
        let d = &mut self.decoder;
        let (w, h) = d.dimensions().map_err(bad)?;
        let limits = &self.limits;
        if w == 0 || h == 0 || w.max(h) > limits.max_side || u64::from(w) * u64::from(h) > limits.max_pixels {
            return Err(Error::PageTooLarge { width: w, height: h });
        }
        let ct = d.colortype().map_err(bad)?;
        let data = d.read_image().map_err(bad)?;
        let (wu, n) = (w as usize, w as usize * h as usize);
        let short = || Error::BadPage(format!("page data is shorter than {w}x{h} pixels"));
        let from = |f: &dyn Fn(usize) -> [u8; 3]| {
            RgbImage::from_fn(w, h, |x, y| image::Rgb(f(y as usize * wu + x as usize)))
        };
        let img = match (ct, data) {
            (C::Gray(1), D::U8(v)) => {
                let stride = wu.div_ceil(8);
                if v.len() < stride * h as usize {
                    return Err(short());
                }
                RgbImage::from_fn(w, h, |x, y| {
                    let bit = (v[y as usize * stride + x as usize / 8] >> (7 - x % 8)) & 1;
                    image::Rgb([if bit == 1 { 255 } else { 0 }; 3])
                })
            }
            (C::Gray(8), D::U8(v)) if v.len() >= n => from(&|i| [v[i]; 3]),
            (C::Gray(16), D::U16(v)) if v.len() >= n => from(&|i| [(v[i] >> 8) as u8; 3]),
            (C::GrayA(8), D::U8(v)) if v.len() >= 2 * n => from(&|i| [v[2 * i]; 3]),
            (C::RGB(8), D::U8(v)) if v.len() >= 3 * n => from(&|i| [v[3 * i], v[3 * i + 1], v[3 * i + 2]]),
            (C::RGB(16), D::U16(v)) if v.len() >= 3 * n => from(&|i| {
                [
                    (v[3 * i] >> 8) as u8,
                    (v[3 * i + 1] >> 8) as u8,
                    (v[3 * i + 2] >> 8) as u8,
                ]
            }),
            (C::RGBA(8), D::U8(v)) if v.len() >= 4 * n => from(&|i| [v[4 * i], v[4 * i + 1], v[4 * i + 2]]),
            (C::Gray(_) | C::GrayA(_) | C::RGB(_) | C::RGBA(_), _) => return Err(short()),
            (ct, _) => {
                return Err(Error::BadPage(format!(
                    "TIFF colour type {ct:?} is not supported"
                )));
            }
        };
        Ok(img)
    }
}

/// Number of pages in a TIFF (images in its chain of directories). A directory that cannot be
/// read is counted and ends the count, so a cut-off file reports the page it lost.
pub fn page_count(bytes: &[u8], limits: &DecodeLimits) -> Result<u32> {
    let mut d = Pages::open(bytes, limits)?;
    let mut n = 1;
    while d.decoder.more_images() && n < MAX_PAGES {
        n += 1;
        if d.decoder.next_image().is_err() {
            break;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TIFF with one grey page per entry of `pages` (width, height, level).
    fn tiff_file(pages: &[(u32, u32, u8)]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut enc = tiff::encoder::TiffEncoder::new(&mut out).unwrap();
        for &(w, h, level) in pages {
            let data = vec![level; (w * h) as usize];
            enc.write_image::<tiff::encoder::colortype::Gray8>(w, h, &data)
                .unwrap();
        }
        out.into_inner()
    }

    #[test]
    fn pages_one_at_a_time() {
        let bytes = tiff_file(&[(8, 4, 10), (6, 6, 200)]);
        let l = DecodeLimits::default();
        assert_eq!(page_count(&bytes, &l).unwrap(), 2);
        let mut p = Pages::open(&bytes, &l).unwrap();
        let first = p.rgb().unwrap();
        assert_eq!((first.dimensions(), first.get_pixel(0, 0).0), ((8, 4), [10; 3]));
        p.next_page().unwrap();
        let second = p.rgb().unwrap();
        assert_eq!(
            (second.dimensions(), second.get_pixel(5, 5).0),
            ((6, 6), [200; 3])
        );
    }

    #[test]
    fn limits_and_garbage() {
        let bytes = tiff_file(&[(40, 4, 10)]);
        let small = DecodeLimits {
            max_side: 16,
            ..DecodeLimits::default()
        };
        let err = Pages::open(&bytes, &small).unwrap().rgb().unwrap_err();
        assert!(
            matches!(err, Error::PageTooLarge { width: 40, height: 4 }),
            "{err}"
        );
        let err = page_count(b"II*\0garbage", &DecodeLimits::default()).unwrap_err();
        assert!(err.to_string().starts_with("not a readable TIFF"), "{err}");
    }
}
