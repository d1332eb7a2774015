//! Sniffing, the header's dimensions and decoding, with the JPEG scan checks
//! (the Huffman walk of a sequential scan, the coverage of progressive
//! scans). A small pixel limit keeps each run fast; the limit is checked
//! before anything is allocated, so it hides no decoding path.
//!
//! Checked: a decoded image never holds more pixels than its header
//! declared, since the pixel and memory limits are enforced on the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trueshot::{decode, Config};

fuzz_target!(|data: &[u8]| {
    let mut config = Config::default();
    config.max_pixels = 1 << 18;
    let Ok(format) = decode::sniff(data) else {
        return;
    };
    let declared = decode::declared_dimensions(data, format);
    if let Ok(image) = decode::decode(data, format, &config) {
        let (w, h) = declared.expect("a decoded image had a readable header");
        assert!(
            u64::from(image.width()) * u64::from(image.height()) <= u64::from(w) * u64::from(h),
            "decoded {}x{} from a header declaring {w}x{h}",
            image.width(),
            image.height()
        );
    }
});
