//! The lenient parsers of untrusted text: the AIGC label JSON, XMP property
//! lookup and character-reference unescaping.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = trueshot::detectors::provenance::parse_aigc_label(&text);
    let _ = trueshot::detectors::provenance::xmp_values(&text, "AIGC");
    let _ = trueshot::detectors::provenance::html_unescape(&text);
});
