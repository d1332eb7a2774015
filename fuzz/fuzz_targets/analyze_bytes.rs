//! Whole pipeline on arbitrary bytes: sniff, header limits, decode, every detector.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut config = trueshot::Config::default();
    // Small limits keep each run fast; the limits themselves are under test too.
    config.max_pixels = 4_000_000;
    config.max_decoded_bytes = 64 << 20;
    let _ = trueshot::analyze_bytes(data, &config);
});
