//! Any bytes through Loupe's image decoder (format sniffing, size limits against decompression
//! bombs, EXIF orientation): an error is fine, a panic, a hang or an allocation past the limits
//! is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loupe_media::{DecodeLimits, decode_image};

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_side: 4096,
        max_pixels: 4096 * 4096,
        ..DecodeLimits::default()
    };
    let _ = decode_image(data, &limits);
});
