//! The JPEG detector on images made in code, with the truth known by construction.

use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, RgbImage};
use trueshot::decode::Format;
use trueshot::detectors::{jpeg, DetectorOutput, FftPlans, PixelContext};
use trueshot::metadata::{self, QuantTable};
use trueshot::{Class, DetectorKind};

mod common;
use common::{finding, png};

/// A deterministic camera-like scene: smooth shading, edges and sensor-like
/// noise, so that the DCT has many non-zero coefficients.
fn scene(width: u32, height: u32, seed: u64) -> RgbImage {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let base = 120.0
            + 50.0 * (fx / 23.0 + seed as f32).sin() * (fy / 31.0).cos()
            + 30.0 * ((fx + 2.0 * fy) / 9.0).sin();
        let n = 24.0 * noise();
        let v = |k: f32| (base * k + n).clamp(2.0, 253.0) as u8;
        image::Rgb([v(1.0), v(0.9), v(0.8)])
    })
}

fn encode_jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode");
    out
}

fn decode(bytes: &[u8]) -> RgbImage {
    image::load_from_memory(bytes).expect("decode").to_rgb8()
}

fn luma(rgb: &RgbImage) -> Vec<f32> {
    rgb.pixels()
        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
        .collect()
}

/// Run the detector on decoded pixels with the given format and tables.
fn run_on(rgb: &RgbImage, format: Format, tables: &[QuantTable]) -> DetectorOutput {
    let l = luma(rgb);
    let residual = trueshot::detectors::residual::laplacian_residual(
        &l,
        rgb.width() as usize,
        rgb.height() as usize,
    );
    let fft = FftPlans::default();
    let ctx = PixelContext {
        rgb: rgb.as_raw(),
        luma: &l,
        residual: &residual,
        width: rgb.width(),
        height: rgb.height(),
        format: Some(format),
        quant_tables: tables,
        jpeg_quality: jpeg::estimate_quality(tables).map(|q| q.quality),
        fft: &fft,
    };
    jpeg::run(&ctx)
}

fn run_jpeg(bytes: &[u8]) -> DetectorOutput {
    let tables = metadata::extract(bytes, Format::Jpeg).quant_tables;
    run_on(&decode(bytes), Format::Jpeg, &tables)
}

fn feature(out: &DetectorOutput, name: &str) -> f32 {
    out.features
        .iter()
        .find(|(k, _)| *k == name)
        .map(|&(_, v)| v)
        .unwrap_or_else(|| panic!("feature {name} missing"))
}

#[test]
fn q60_then_q90_is_double_compressed_and_once_is_not() {
    let img = scene(384, 384, 1);
    let once = encode_jpeg(&img, 90);
    let twice = encode_jpeg(&decode(&encode_jpeg(&img, 60)), 90);

    let single = run_jpeg(&once);
    let double = run_jpeg(&twice);
    assert_eq!(feature(&single, "jpeg.applicable"), 1.0);
    assert_eq!(feature(&single, "jpeg.quality"), 90.0);
    assert_eq!(feature(&single, "jpeg.standard_table"), 1.0);
    assert!(
        feature(&single, "jpeg.double_compression") < 0.15,
        "single: {:?}",
        single.features
    );
    assert!(
        feature(&double, "jpeg.double_compression") > 0.5,
        "double: {:?}",
        double.features
    );
    assert!(double
        .findings
        .iter()
        .any(|f| f.code == "jpeg.double_compression"));
    // Re-saving alone is never evidence of editing.
    for out in [&single, &double] {
        assert!(
            out.findings.iter().all(|f| f.class != Class::Edited),
            "{:?}",
            out.findings
        );
        let map = out.map.as_ref().expect("map");
        assert!(map.max() < 0.5, "max {}", map.max());
    }
}

#[test]
fn never_compressed_patch_in_double_compressed_image_is_localised() {
    let mut img = decode(&encode_jpeg(&scene(384, 384, 2), 60));
    // Paste fresh, never-compressed content on the grid.
    let patch = scene(96, 96, 7);
    image::imageops::replace(&mut img, &patch, 160, 128);
    let out = run_jpeg(&encode_jpeg(&img, 90));
    assert_localised(
        &out,
        "jpeg.local_single_compression",
        (208, 176),
        (176, 144, 240, 208),
    );
}

#[test]
fn a_strong_vignette_between_two_compressions_is_not_a_local_edit() {
    // A filter that darkens towards the corners (to 65% at the middle of each
    // side, 30% in the corners) erases the earlier JPEG's traces over a
    // third of the blocks: a history of the whole photo, not a pasted region.
    let mut img = decode(&encode_jpeg(&scene(384, 384, 3), 60));
    for (x, y, p) in img.enumerate_pixels_mut() {
        let (dx, dy) = (x as f32 / 192.0 - 1.0, y as f32 / 192.0 - 1.0);
        let gain = 1.0 - 0.35 * (dx * dx + dy * dy);
        for c in &mut p.0 {
            *c = (f32::from(*c) * gain).round() as u8;
        }
    }
    let out = run_jpeg(&encode_jpeg(&img, 90));
    let share = feature(&out, "jpeg.flagged_share");
    assert!(
        share > 0.2,
        "share {share}: the vignette no longer flags blocks"
    );
    assert!(
        out.findings.iter().all(|f| f.class != Class::Edited),
        "{:?}",
        out.findings
    );
    assert!(out.map.as_ref().expect("map").max() < 0.5);
}

/// The map flags `inside` but not the corners of a 384x384 image, and a
/// finding `code` of class `Edited` has a region that covers the box
/// `(x0, y0, x1, y1)`.
fn assert_localised(
    out: &DetectorOutput,
    code: &str,
    inside: (u32, u32),
    covers: (u32, u32, u32, u32),
) {
    let map = out.map.as_ref().expect("map");
    let v = map.at(inside.0, inside.1);
    assert!(v >= 0.5, "inside {v}");
    for (x, y) in [(40, 40), (340, 340), (40, 340), (340, 40)] {
        assert!(map.at(x, y) < 0.5, "outside ({x},{y}) {}", map.at(x, y));
    }
    let finding = finding(&out.findings, code);
    assert_eq!(finding.class, Class::Edited);
    let r = finding.region.expect("region");
    let (x0, y0, x1, y1) = covers;
    assert!(
        r.x <= x0 && r.x + r.width >= x1 && r.y <= y0 && r.y + r.height >= y1,
        "{r:?}"
    );
}

#[test]
fn block_pasted_off_the_grid_is_found() {
    // Strong blocking in both the base and the patch source, saved losslessly.
    let mut img = decode(&encode_jpeg(&scene(320, 320, 3), 30));
    let source = decode(&encode_jpeg(&scene(160, 160, 9), 30));
    let patch = image::imageops::crop_imm(&source, 0, 0, 128, 128).to_image();
    // (99, 101): the patch's grid lands at phases 2 and 4, not 7.
    image::imageops::replace(&mut img, &patch, 99, 101);
    let out = run_on(&img, Format::Png, &[]);
    assert_eq!(feature(&out, "jpeg.applicable"), 0.5);
    let map = out.map.as_ref().expect("map");
    assert!(map.at(163, 165) >= 0.5, "inside {}", map.at(163, 165));
    for (x, y) in [(30, 30), (290, 290), (30, 290), (290, 30)] {
        assert!(map.at(x, y) < 0.5, "outside ({x},{y}) {}", map.at(x, y));
    }
    assert!(out
        .findings
        .iter()
        .any(|f| f.code == "jpeg.grid_misaligned" && f.class == Class::Edited));
    assert!(feature(&out, "jpeg.grid_misaligned_share") > 0.0);
}

#[test]
fn png_without_grid_is_not_applicable() {
    let img = scene(128, 128, 4);
    let out = run_on(&img, Format::Png, &[]);
    assert_eq!(out.kind, DetectorKind::Jpeg);
    assert_eq!(feature(&out, "jpeg.applicable"), 0.0);
    assert!(out.map.is_none() && out.findings.is_empty());
}

#[test]
fn garbage_tables_and_tiny_images_do_not_panic() {
    let img = scene(64, 48, 5);
    let zeros = QuantTable {
        id: 0,
        values: [0; 64],
    };
    let huge = QuantTable {
        id: 0,
        values: [u16::MAX; 64],
    };
    let ones = QuantTable {
        id: 3,
        values: [1; 64],
    };
    assert!(jpeg::estimate_quality(std::slice::from_ref(&zeros)).is_none());
    assert!(jpeg::estimate_quality(&[]).is_none());
    assert!(
        !jpeg::estimate_quality(std::slice::from_ref(&huge))
            .expect("est")
            .standard
    );
    for tables in [vec![], vec![zeros], vec![huge], vec![ones]] {
        let out = run_on(&img, Format::Jpeg, &tables);
        assert!(out.findings.iter().all(|f| (0.0..=1.0).contains(&f.score)));
    }
    for (w, h) in [(1, 1), (7, 300), (17, 9), (16, 16)] {
        let tiny = scene(w, h, 6);
        let out = run_on(&tiny, Format::Jpeg, &[]);
        assert!(out.findings.is_empty());
    }
}

#[test]
fn results_are_bit_identical_between_runs() {
    let bytes = encode_jpeg(&decode(&encode_jpeg(&scene(200, 136, 8), 70)), 85);
    let a = run_jpeg(&bytes);
    let b = run_jpeg(&bytes);
    assert_eq!(a.features, b.features);
    assert_eq!(a.map, b.map);
}

/// A decoded JPEG stored as PNG, cropped by `(dx, dy)` so that its lattice
/// sits off the origin, with fresh (never compressed) content pasted at
/// `(px, py)` when `patch` is true.
fn decoded_jpeg_as_png(dx: u32, dy: u32, patch: Option<(i64, i64)>) -> RgbImage {
    let decoded = decode(&encode_jpeg(&scene(400, 400, 5), 75));
    let mut img = image::imageops::crop_imm(&decoded, dx, dy, 384, 384).to_image();
    if let Some((px, py)) = patch {
        image::imageops::replace(&mut img, &scene(96, 96, 11), px, py);
    }
    img
}

/// The earlier JPEG's lattice is found in `untouched` (no edit, nothing
/// flagged), and the patch [`decoded_jpeg_as_png`] pasted at (150, 170)
/// falls off it in `edited`.
fn assert_patch_off_the_lattice(untouched: &DetectorOutput, edited: &DetectorOutput) {
    assert!(feature(untouched, "jpeg.lattice_steps") > 0.2);
    assert!(untouched.findings.iter().all(|f| f.class != Class::Edited));
    assert!(untouched.map.as_ref().expect("map").max() < 0.5);
    assert_localised(
        edited,
        "jpeg.local_lattice_break",
        (198, 218),
        (166, 186, 230, 250),
    );
}

#[test]
fn content_changed_after_decoding_a_jpeg_is_off_its_lattice() {
    let as_png = |patch| run_on(&decoded_jpeg_as_png(3, 5, patch), Format::Png, &[]);
    let untouched = as_png(None);
    assert_eq!(feature(&untouched, "jpeg.applicable"), 0.5);
    assert_patch_off_the_lattice(&untouched, &as_png(Some((150, 170))));
}

#[test]
fn pixels_that_never_were_a_jpeg_have_no_lattice() {
    let out = run_on(&scene(384, 384, 6), Format::Png, &[]);
    assert_eq!(feature(&out, "jpeg.lattice_steps"), 0.0);
}

#[test]
fn lattice_break_sends_the_image_to_review_but_does_not_flag_it() {
    let config = trueshot::Config::default();
    let edited =
        trueshot::analyze_bytes(&png(&decoded_jpeg_as_png(0, 0, Some((150, 170)))), &config)
            .expect("report");
    assert!(edited.scores.edited >= edited.authentic_threshold);
    assert!(edited.scores.edited < edited.flag_threshold);
    assert!(
        edited
            .deciding
            .iter()
            .any(|c| c == "jpeg.local_lattice_break")
            || edited.verdict != trueshot::Verdict::Inconclusive,
        "{:?}",
        edited.deciding
    );
    let untouched =
        trueshot::analyze_bytes(&png(&decoded_jpeg_as_png(0, 0, None)), &config).expect("report");
    assert!(untouched.scores.edited < edited.scores.edited);
}

#[test]
fn decoded_jpegs_of_odd_sizes_and_crops_do_not_panic() {
    for (w, h) in [(16, 16), (17, 9), (33, 65), (100, 7), (251, 250), (9, 300)] {
        let decoded = decode(&encode_jpeg(&scene(w + 7, h + 7, 3), 50));
        for (dx, dy) in [(0, 0), (1, 6), (7, 3)] {
            let img = image::imageops::crop_imm(&decoded, dx, dy, w, h).to_image();
            let out = run_on(&img, Format::Png, &[]);
            // Images under 16 px on a side are not studied at all.
            let steps = out
                .features
                .iter()
                .find(|(k, _)| *k == "jpeg.lattice_steps");
            assert_eq!(steps.is_some(), w >= 16 && h >= 16, "{w}x{h}");
            assert!(
                steps.is_none_or(|s| (0.0..=1.0).contains(&s.1)),
                "{w}x{h}+{dx},{dy}"
            );
            if w * h > 60_000 {
                // Large enough for the lattice to be found on the crop's grid.
                assert!(steps.is_some_and(|s| s.1 > 0.0), "{w}x{h}+{dx},{dy}");
            }
            if let Some(map) = &out.map {
                assert!(map.values.iter().all(|v| (0.0..=1.0).contains(v)));
            }
        }
    }
}

#[test]
fn patch_in_a_jpeg_cropped_between_two_saves_is_off_the_earlier_lattice() {
    // An earlier JPEG (q75), decoded and cropped by (3, 5) so that its grid
    // no longer sits on the file's, saved again with fine steps (q98).
    let saved = |patch| run_jpeg(&encode_jpeg(&decoded_jpeg_as_png(3, 5, patch), 98));
    assert_patch_off_the_lattice(&saved(None), &saved(Some((150, 170))));

    // Coarse last steps (q80) leave no earlier lattice to test.
    let coarse = run_jpeg(&encode_jpeg(&decoded_jpeg_as_png(3, 5, None), 80));
    assert_eq!(feature(&coarse, "jpeg.lattice_steps"), 0.0);
}

#[test]
fn patch_in_a_jpeg_saved_again_at_quality_100_is_off_the_earlier_lattice() {
    // An earlier JPEG (q75) saved again on the same grid with steps of 1
    // (what AI-inpainting tools often write): the double-compression
    // histograms cannot study steps of 1, the lattice can.
    let saved = |patch| run_jpeg(&encode_jpeg(&decoded_jpeg_as_png(0, 0, patch), 100));
    assert_patch_off_the_lattice(&saved(None), &saved(Some((150, 170))));

    // Compressed once, the file's own steps are no earlier lattice, from
    // steps of 1 (q100) to the coarsest still studied (q93 fails without
    // the rule that an earlier step be coarser than the file's).
    for quality in [100, 97, 95, 93] {
        let once = run_jpeg(&encode_jpeg(&scene(384, 384, 6), quality));
        assert_eq!(feature(&once, "jpeg.lattice_steps"), 0.0, "q{quality}");
    }
}
