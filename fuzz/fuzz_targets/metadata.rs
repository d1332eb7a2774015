//! The container walkers and metadata parsers (EXIF, XMP, JUMBF/C2PA, PNG
//! text chunks, GIF blocks), each format forced, then the provenance detector.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trueshot::decode::Format;

fuzz_target!(|data: &[u8]| {
    for format in [Format::Jpeg, Format::Png, Format::Webp, Format::Tiff, Format::Gif] {
        let meta = trueshot::metadata::extract(data, format);
        let _ = trueshot::detectors::provenance::analyze(&meta, 640, 480);
    }
});
