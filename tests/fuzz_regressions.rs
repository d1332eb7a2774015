//! The fuzzing regression corpus (issue 9): inputs kept by the cargo-fuzz
//! targets in `fuzz/`, replayed through the same entry points on every test
//! run, so that an input that once crashed (or reached new code) keeps
//! working. Each directory of `tests/fuzz_regressions/` is named after its
//! fuzz target; minimised crashers go into the directory of the target that
//! found them (`cargo fuzz tmin`), together with the fix.

use std::path::{Path, PathBuf};

use trueshot::decode::Format;
use trueshot::Config;

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "{}: only {} inputs",
        dir.display(),
        files.len()
    );
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("read input");
            (path, bytes)
        })
        .collect()
}

/// As `fuzz/fuzz_targets/analyze_bytes.rs`, and the outcome is checked: a
/// report with scores in [0, 1] and a map of the image's size, or an error
/// with a stable code.
#[test]
fn analyze_bytes_inputs_give_a_report_or_a_coded_error() {
    let mut config = Config::default();
    config.max_pixels = 4_000_000;
    config.max_decoded_bytes = 64 << 20;
    let (mut reports, mut errors) = (0, 0);
    for (path, bytes) in inputs("analyze_bytes") {
        match trueshot::analyze_bytes(&bytes, &config) {
            Ok(report) => {
                reports += 1;
                assert!(
                    (0.0..=1.0).contains(&report.score),
                    "{}: score {}",
                    path.display(),
                    report.score
                );
                if let Some(map) = &report.heatmap {
                    assert_eq!(
                        (map.width, map.height),
                        (report.image.width, report.image.height),
                        "{}",
                        path.display()
                    );
                    assert!(map.values.iter().all(|v| (0.0..=1.0).contains(v)));
                }
            }
            Err(e) => {
                errors += 1;
                assert!(!e.code().is_empty(), "{}", path.display());
            }
        }
    }
    // The corpus holds both decodable images and broken files.
    assert!(
        reports > 0 && errors > 0,
        "{reports} reports, {errors} errors"
    );
}

/// As `fuzz/fuzz_targets/decode.rs`: sniffing, the header's size and
/// decoding with the JPEG scan checks. A decoded image never holds more
/// pixels than its header declared (the limits are enforced on the header).
#[test]
fn decode_inputs_never_exceed_their_declared_size() {
    let mut config = Config::default();
    config.max_pixels = 1 << 18;
    let (mut decoded, mut refused) = (0, 0);
    for (path, bytes) in inputs("decode") {
        let Ok(format) = trueshot::decode::sniff(&bytes) else {
            refused += 1;
            continue;
        };
        let declared = trueshot::decode::declared_dimensions(&bytes, format);
        match trueshot::decode::decode(&bytes, format, &config) {
            Ok(image) => {
                decoded += 1;
                let (w, h) = declared.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(
                    u64::from(image.width()) * u64::from(image.height())
                        <= u64::from(w) * u64::from(h),
                    "{}: {}x{} decoded, {w}x{h} declared",
                    path.display(),
                    image.width(),
                    image.height()
                );
            }
            Err(e) => {
                refused += 1;
                assert!(!e.code().is_empty(), "{}", path.display());
            }
        }
    }
    assert!(
        decoded > 0 && refused > 0,
        "{decoded} decoded, {refused} refused"
    );
}

/// As `fuzz/fuzz_targets/metadata.rs`: every container walker on every input.
#[test]
fn metadata_inputs_parse_in_every_format() {
    for (_, bytes) in inputs("metadata") {
        for format in [Format::Jpeg, Format::Png, Format::Webp, Format::Tiff] {
            let meta = trueshot::metadata::extract(&bytes, format);
            let result = trueshot::detectors::provenance::analyze(&meta, 640, 480);
            assert!(result
                .findings
                .iter()
                .all(|f| (0.0..=1.0).contains(&f.score)));
        }
    }
}

/// As `fuzz/fuzz_targets/aigc_label.rs`: the lenient text parsers.
#[test]
fn aigc_label_inputs_parse() {
    for (_, bytes) in inputs("aigc_label") {
        let text = String::from_utf8_lossy(&bytes);
        let _ = trueshot::detectors::provenance::parse_aigc_label(&text);
        let _ = trueshot::detectors::provenance::xmp_values(&text, "AIGC");
        // Every character reference is at least as long as the UTF-8 of
        // the character it stands for, so unescaping never lengthens text.
        let unescaped = trueshot::detectors::provenance::html_unescape(&text);
        assert!(unescaped.len() <= text.len());
    }
}
