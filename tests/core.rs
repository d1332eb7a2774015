//! The core contract: inputs, errors, provenance findings and verdicts on
//! images made in code.

mod common;

use std::time::Instant;

use common::*;
use trueshot::{analyze_bytes, analyze_image, Class, Config, Error, Verdict};

fn codes(report: &trueshot::Report) -> Vec<&str> {
    report.findings.iter().map(|f| f.code.as_str()).collect()
}

#[test]
fn a_plain_photo_is_not_flagged_by_provenance() {
    let bytes = jpeg(&camera_like(256, 192, 1), 92);
    let report = analyze_bytes(&bytes, &Config::default()).expect("analysis");
    assert!((0.0..=1.0).contains(&report.score));
    assert!(!report.verdict.is_flagged(), "{:?}", report.findings);
    assert_eq!(report.image.format, "jpeg");
    assert_eq!((report.image.width, report.image.height), (256, 192));
    assert_eq!(report.image.jpeg_quality, Some(92));
    assert!(codes(&report).contains(&"provenance.no_camera_metadata"));
}

#[test]
fn camera_exif_is_read_and_not_flagged() {
    let tiff = exif_block(
        &[
            (0x010F, "Canon"),
            (0x0110, "Canon EOS 5D"),
            (0x0131, "Firmware 1.1"),
        ],
        Some((256, 192)),
    );
    let bytes = jpeg_with_segment(
        &jpeg(&camera_like(256, 192, 2), 90),
        0xE1,
        &exif_app1(&tiff),
    );
    let report = analyze_bytes(&bytes, &Config::default()).expect("analysis");
    assert_eq!(report.provenance.camera_make.as_deref(), Some("Canon"));
    assert_eq!(
        report.provenance.camera_model.as_deref(),
        Some("Canon EOS 5D")
    );
    assert_eq!(report.provenance.exif_dimensions, Some((256, 192)));
    assert!(codes(&report).contains(&"provenance.camera"));
    assert!(!codes(&report).contains(&"provenance.exif_dimension_mismatch"));
    assert!(!report.verdict.is_flagged());
}

#[test]
fn exif_dimension_mismatch_is_weak_evidence() {
    let tiff = exif_block(&[(0x010F, "Sony")], Some((4000, 3000)));
    let bytes = jpeg_with_segment(
        &jpeg(&camera_like(256, 192, 3), 90),
        0xE1,
        &exif_app1(&tiff),
    );
    let report = analyze_bytes(&bytes, &Config::default()).expect("analysis");
    assert!(codes(&report).contains(&"provenance.exif_dimension_mismatch"));
    assert!(!report.verdict.is_flagged());
}

#[test]
fn editor_software_is_reported_but_does_not_send_to_review_alone() {
    let pixels = jpeg(&camera_like(128, 128, 4), 90);
    let tiff = exif_block(&[(0x0131, "Adobe Photoshop 25.1 (Windows)")], None);
    let bytes = jpeg_with_segment(&pixels, 0xE1, &exif_app1(&tiff));
    let report = analyze_bytes(&bytes, &Config::default()).expect("analysis");
    let finding = finding(&report.findings, "provenance.editor_software");
    assert_eq!(finding.class, Class::Edited);
    assert!(finding.score > 0.0 && finding.score < report.authentic_threshold);
    // The tag raises the edited score at most to its own level.
    let plain = analyze_bytes(&pixels, &Config::default()).expect("analysis");
    assert_eq!(
        report.scores.edited.to_bits(),
        plain.scores.edited.max(finding.score).to_bits()
    );
    if plain.verdict == Verdict::Authentic {
        assert_eq!(report.verdict, Verdict::Authentic);
    }
}

fn assert_ai(bytes: &[u8], code: &str) {
    let report = analyze_bytes(bytes, &Config::default()).expect("analysis");
    assert!(
        codes(&report).contains(&code),
        "{code} missing: {:?}",
        codes(&report)
    );
    assert_eq!(
        report.verdict,
        Verdict::AiGenerated,
        "{:?}",
        report.findings
    );
    assert!(report.score >= 0.99);
    assert!(report.deciding.iter().any(|c| c == code));
}

#[test]
fn automatic1111_parameters_in_png() {
    let png = png_with_chunks(
        &png(&camera_like(64, 64, 5)),
        &[text_chunk(
            "parameters",
            "a cracked vase\nSteps: 20, Sampler: Euler a, CFG scale: 7\x1b[2J",
        )],
    );
    assert_ai(&png, "provenance.generator_parameters");
    // Kept with their lines, as the review page shows them in a <pre>
    // block; other control characters escaped.
    let report = analyze_bytes(&png, &Config::default()).expect("analysis");
    assert_eq!(
        report.provenance.generator_parameters.as_deref(),
        Some("a cracked vase\nSteps: 20, Sampler: Euler a, CFG scale: 7\\u{1b}[2J")
    );
}

#[test]
fn automatic1111_parameters_in_jpeg_user_comment() {
    // UserComment (0x9286) is UNDEFINED; build it by hand in an Exif IFD.
    let comment = b"ASCII\0\0\0Steps: 30, Sampler: DPM++ 2M, CFG scale: 5";
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x8769u16.to_le_bytes());
    tiff.extend_from_slice(&4u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&26u32.to_le_bytes()); // Exif IFD right after IFD0
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x9286u16.to_le_bytes());
    tiff.extend_from_slice(&7u16.to_le_bytes());
    tiff.extend_from_slice(&(comment.len() as u32).to_le_bytes());
    tiff.extend_from_slice(&44u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(comment);
    let bytes = jpeg_with_segment(&jpeg(&camera_like(64, 64, 6), 90), 0xE1, &exif_app1(&tiff));
    assert_ai(&bytes, "provenance.generator_parameters");
}

#[test]
fn comfyui_workflow_in_png() {
    let png = png_with_chunks(
        &png(&camera_like(64, 64, 7)),
        &[text_chunk(
            "prompt",
            "{\"3\": {\"class_type\": \"KSampler\"}}",
        )],
    );
    assert_ai(&png, "provenance.generator_parameters");
}

#[test]
fn aigc_label_in_png_text_chunk() {
    let png = png_with_chunks(
        &png(&camera_like(64, 64, 8)),
        &[text_chunk(
            "AIGC",
            r#"{"Label":"1","ContentProducer":"001191110108MA01","ProduceID":"x1"}"#,
        )],
    );
    assert_ai(&png, "provenance.aigc_label");
}

#[test]
fn aigc_label_in_jpeg_xmp_entity_escaped() {
    let body = r#"<rdf:Description xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/" TC260:AIGC="{&quot;Label&quot;:&quot;1&quot;,&quot;ContentProducer&quot;:&quot;Doubao&quot;}"/>"#;
    let bytes = jpeg_with_segment(&jpeg(&camera_like(64, 64, 9), 90), 0xE1, &xmp_app1(body));
    assert_ai(&bytes, "provenance.aigc_label");
    let report = analyze_bytes(&bytes, &Config::default()).expect("analysis");
    let label = report.provenance.aigc_label.expect("label");
    assert_eq!(label.content_producer.as_deref(), Some("Doubao"));
}

#[test]
fn iptc_digital_source_type_in_png_xmp() {
    let xmp = r#"<x:xmpmeta><rdf:RDF><rdf:Description Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>"#;
    let png = png_with_chunks(
        &png(&camera_like(64, 64, 10)),
        &[itxt_chunk("XML:com.adobe.xmp", xmp)],
    );
    assert_ai(&png, "provenance.digital_source_type");
}

#[test]
fn composite_with_ai_is_edited() {
    let body = r#"<rdf:Description><Iptc4xmpExt:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia</Iptc4xmpExt:DigitalSourceType></rdf:Description>"#;
    let bytes = jpeg_with_segment(&jpeg(&camera_like(64, 64, 11), 90), 0xE1, &xmp_app1(body));
    let report = analyze_bytes(&bytes, &Config::default()).expect("analysis");
    assert_eq!(report.verdict, Verdict::Edited);
}

#[test]
fn c2pa_manifest_in_jpeg_app11_with_ai_source() {
    // A JUMBF box skeleton with CBOR text after the keys, as C2PA writes them.
    let mut jumbf = b"JP\x00\x01\x00\x00\x00\x01\x00\x00\x00\x40jumbjumdc2pa".to_vec();
    jumbf.extend_from_slice(b"claim_generator");
    jumbf.push(0x60 + 11);
    jumbf.extend_from_slice(b"DALL-E 3 v1");
    jumbf.extend_from_slice(b"digitalSourceType");
    let url = b"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia";
    jumbf.push(0x78);
    jumbf.push(url.len() as u8);
    jumbf.extend_from_slice(url);
    let bytes = jpeg_with_segment(&jpeg(&camera_like(64, 64, 12), 90), 0xEB, &jumbf);
    let report = analyze_bytes(&bytes, &Config::default()).expect("analysis");
    assert!(report.provenance.c2pa_present);
    assert_eq!(
        report.provenance.c2pa_claim_generator.as_deref(),
        Some("DALL-E 3 v1")
    );
    assert_eq!(report.verdict, Verdict::AiGenerated);
}

#[test]
fn generator_named_as_software() {
    let png = png_with_chunks(
        &png(&camera_like(64, 64, 13)),
        &[text_chunk("Software", "Midjourney v6")],
    );
    assert_ai(&png, "provenance.generator_software");
}

#[test]
fn decoded_pixels_have_no_metadata() {
    let report =
        analyze_image(&camera_like(96, 80, 14).into(), &Config::default()).expect("analysis");
    assert_eq!(report.image.format, "raw");
    let map = report.heatmap.expect("heatmap on by default");
    assert_eq!((map.width, map.height), (96, 80));
    assert_eq!(map.upscaled().len(), 96 * 80);
}

#[test]
fn errors_have_stable_codes() {
    let cfg = Config::default();
    let err = |b: &[u8]| analyze_bytes(b, &cfg).expect_err("must fail");
    assert_eq!(err(b"").code(), "decode");
    assert_eq!(err(&[0x13u8; 1000]).code(), "unsupported_format");
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
    let e = err(heic);
    assert_eq!(e.code(), "unsupported_format");
    assert!(e.to_string().contains("HEIC"));
    let full = jpeg(&camera_like(128, 128, 15), 90);
    assert_eq!(err(&full[..full.len() / 2]).code(), "decode");
    assert_eq!(err(&full[..40]).code(), "decode");
    let missing = trueshot::analyze_path("/nonexistent/claim.jpg", &cfg).expect_err("missing");
    assert_eq!(missing.code(), "not_found");
    assert!(matches!(missing, Error::Io { .. }));
}

#[test]
fn huge_declared_png_is_refused_before_allocation() {
    let small = png(&camera_like(8, 8, 16));
    let mut bomb = small.clone();
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let start = Instant::now();
    let e = analyze_bytes(&bomb, &Config::default()).expect_err("too large");
    assert!(start.elapsed().as_millis() < 100, "{:?}", start.elapsed());
    assert!(matches!(
        e,
        Error::TooLarge {
            width: 100_000,
            height: 100_000,
            ..
        }
    ));
}

#[test]
fn huge_declared_jpeg_is_refused() {
    let mut bytes = jpeg(&camera_like(16, 16, 17), 90);
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("SOF0");
    bytes[sof + 5..sof + 7].copy_from_slice(&65_500u16.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&65_500u16.to_be_bytes());
    let e = analyze_bytes(&bytes, &Config::default()).expect_err("too large");
    assert_eq!(e.code(), "too_large");
}

#[test]
fn config_is_validated() {
    let mut cfg = Config::default();
    cfg.max_false_alarm = 0.0;
    assert_eq!(
        trueshot::Analyzer::new(cfg).expect_err("invalid").code(),
        "invalid_config"
    );
    let mut cfg = Config::default();
    cfg.max_pixels = 0;
    assert!(trueshot::Analyzer::new(cfg).is_err());
}

#[test]
fn a_review_rate_moves_only_the_authentic_threshold() {
    let bytes = jpeg(&camera_like(200, 150, 21), 85);
    let at = |review_rate: Option<f32>| {
        let mut cfg = Config::default();
        cfg.review_rate = review_rate;
        let report = analyze_bytes(&bytes, &cfg).expect("analysis");
        // The config tells the thresholds its reports carry.
        let point = cfg.operating_point().expect("thresholds");
        assert_eq!(
            (point.flag, point.authentic),
            (report.flag_threshold, report.authentic_threshold)
        );
        report
    };
    let (default, some, more) = (at(None), at(Some(0.05)), at(Some(0.3)));
    assert_eq!(default.flag_threshold, some.flag_threshold);
    assert_eq!(default.flag_threshold, more.flag_threshold);
    assert!(more.authentic_threshold < some.authentic_threshold);
    assert_eq!(default.score.to_bits(), more.score.to_bits());
    for bad in [0.0, 1.0, f32::NAN, -0.1] {
        let mut cfg = Config::default();
        cfg.review_rate = Some(bad);
        let e = cfg.operating_point().expect_err("out of range");
        assert_eq!(e.code(), "invalid_config");
        let e = trueshot::Analyzer::new(cfg).expect_err("out of range");
        assert_eq!(e.code(), "invalid_config");
    }

    // A model file from before genuine scores were kept cannot honour one.
    let path = std::env::temp_dir().join(format!("trueshot-old-model-{}.json", std::process::id()));
    write_model_without_genuine_scores(&path);
    let mut cfg = Config::default();
    cfg.model_path = Some(path.clone());
    assert!(trueshot::Analyzer::new(cfg.clone()).is_ok());
    cfg.review_rate = Some(0.1);
    assert!(cfg.operating_point().is_err());
    let e = trueshot::Analyzer::new(cfg).expect_err("no genuine scores");
    std::fs::remove_file(&path).ok();
    assert_eq!(e.code(), "invalid_config");
    assert!(e.to_string().contains("review_rate"), "{e}");
}

#[test]
fn same_input_same_report() {
    let bytes = jpeg(&camera_like(200, 150, 18), 85);
    let a = analyze_bytes(&bytes, &Config::default()).expect("a");
    let b = analyze_bytes(&bytes, &Config::default()).expect("b");
    assert_eq!(a.score.to_bits(), b.score.to_bits());
    assert_eq!(a.findings, b.findings);
    assert_eq!(a.heatmap, b.heatmap);
}

#[test]
fn report_json_round_trips_without_heatmap_cells() {
    let bytes = png(&camera_like(64, 48, 19));
    let report = analyze_bytes(&bytes, &Config::default()).expect("analysis");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("json");
    assert!(json.get("heatmap").is_none());
    assert!(json["score"].is_number());
    assert!(json["verdict"].is_string());
    assert!(json["findings"][0]["message_zh"].is_string());
}

#[test]
fn copy_move_runs_up_to_its_size_limit() {
    let bytes = jpeg(&camera_like(320, 240, 5), 92);
    let on = analyze_bytes(&bytes, &Config::default()).expect("analysis");
    assert!(on.timings_ms.contains_key("copy_move"));
    assert!(on.features.contains_key("copy_move.score"));
    let mut config = Config::default();
    config.copy_move_max_pixels = 320 * 240 - 1;
    let off = analyze_bytes(&bytes, &config).expect("analysis");
    assert!(!off.timings_ms.contains_key("copy_move"));
    assert!(!off.features.keys().any(|k| k.starts_with("copy_move.")));
    config.copy_move_max_pixels = 320 * 240;
    let at_limit = analyze_bytes(&bytes, &config).expect("analysis");
    assert!(at_limit.timings_ms.contains_key("copy_move"));
    // A photo without a copy: the detector adds nothing to the verdict.
    assert_eq!(on.verdict, off.verdict);
    assert_eq!(on.score, off.score);
}

/// `camera_like` over a smooth random texture (box-blurred noise), so that
/// no region looks like another.
fn textured_like(width: u32, height: u32, seed: u64) -> image::RgbImage {
    let (w, h) = (width as usize, height as usize);
    let mut rng = seed | 1;
    let mut field: Vec<f32> = (0..w * h)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    for _ in 0..2 {
        let src = field.clone();
        for y in 0..h {
            for x in 0..w {
                let (x0, x1, y0, y1) = (
                    x.saturating_sub(3),
                    (x + 4).min(w),
                    y.saturating_sub(3),
                    (y + 4).min(h),
                );
                let mut sum = 0.0;
                for yy in y0..y1 {
                    sum += src[yy * w + x0..yy * w + x1].iter().sum::<f32>();
                }
                field[y * w + x] = sum / ((x1 - x0) * (y1 - y0)) as f32;
            }
        }
    }
    let base = camera_like(width, height, seed);
    image::RgbImage::from_fn(width, height, |x, y| {
        let t = 400.0 * field[y as usize * w + x as usize];
        let p = base.get_pixel(x, y).0;
        image::Rgb(p.map(|v| (f32::from(v) + t).clamp(0.0, 255.0) as u8))
    })
}

#[test]
fn a_copied_patch_is_sent_to_review() {
    // Non-repetitive content: a photo of a periodic pattern offers many
    // look-alike shifts, and those are rejected by design.
    let mut img = textured_like(480, 360, 23);
    // A 72 px square copied 205 px right and 93 px down (off the 8x8 grid),
    // then the whole photo saved as JPEG.
    let (from, to, side) = ((40u32, 60u32), (245u32, 153u32), 72u32);
    let source = img.clone();
    for y in 0..side {
        for x in 0..side {
            let p = *source.get_pixel(from.0 + x, from.1 + y);
            img.put_pixel(to.0 + x, to.1 + y, p);
        }
    }
    let bytes = jpeg(&img, 90);
    let mut config = Config::default();
    config.copy_move_max_pixels = 0;
    let off = analyze_bytes(&bytes, &config).expect("analysis");
    let on = analyze_bytes(&bytes, &Config::default()).expect("analysis");
    // Both places are boxed. The copy's edge breaks the texture around it
    // where the source's continues: the edge test names the copy, which is
    // flagged in the heatmap, and its source is only shown.
    let found: Vec<_> = on
        .findings
        .iter()
        .filter(|f| f.code == "copy_move.duplicated_region")
        .collect();
    let boxes: Vec<_> = found.iter().filter_map(|f| f.region).collect();
    let overlaps = |r: &trueshot::Region, place: (u32, u32)| {
        let overlap_x = (r.x + r.width).min(place.0 + side) as i64 - r.x.max(place.0) as i64;
        let overlap_y = (r.y + r.height).min(place.1 + side) as i64 - r.y.max(place.1) as i64;
        overlap_x > 32 && overlap_y > 32
    };
    assert!(!found.is_empty(), "{:?}", on.findings);
    // This copy's surroundings differ from its source's: it is named.
    assert!(
        found[0].message.contains("is the copy by the edge test"),
        "{:?}",
        found[0]
    );
    assert!(
        found[0].region.is_some_and(|r| overlaps(&r, to)),
        "{:?}",
        found[0]
    );
    let heatmap = on.heatmap.as_ref().expect("heatmap");
    for place in [from, to] {
        assert!(
            boxes.iter().any(|r| overlaps(r, place)),
            "{place:?} {boxes:?}"
        );
        let cells: Vec<f32> = (0..side / 8)
            .flat_map(|i| (0..side / 8).map(move |j| (place.0 + 8 * i + 4, place.1 + 8 * j + 4)))
            .map(|(x, y)| heatmap.at(x, y))
            .collect();
        let flagged = cells.iter().filter(|&&v| v >= 0.5).count();
        let shown = cells.iter().filter(|&&v| v >= 0.3).count();
        if place == from {
            assert!(
                flagged == 0 && shown * 2 > cells.len(),
                "{place:?} {cells:?}"
            );
        } else {
            assert!(flagged * 2 > cells.len(), "{place:?} {cells:?}");
        }
    }
    assert_eq!(boxes.len(), 2, "{boxes:?}");
    // Local evidence: sent to a reviewer, never flagged on its own.
    assert_eq!(on.verdict, Verdict::Inconclusive, "{}", on.score);
    assert!(on.score > off.score, "{} vs {}", on.score, off.score);
}

#[test]
fn images_outside_the_models_calibration_carry_a_caveat() {
    use trueshot::PixelCaveat;
    let caveat = |bytes: &[u8]| {
        analyze_bytes(bytes, &Config::default())
            .expect("analysis")
            .image
            .caveat
    };
    let photo = camera_like(320, 288, 21);
    assert_eq!(caveat(&png(&photo)), None);
    // Its noise alone, saved as JPEG, would be mostly quantised away (a
    // smooth frame, below): a photo has texture too.
    let mut textured = photo.clone();
    for (x, y, p) in textured.enumerate_pixels_mut() {
        let t = 12.0 * (x as f32 * 2.1).sin() * (y as f32 * 1.7).cos();
        p.0 = p.0.map(|c| (f32::from(c) + t).clamp(0.0, 255.0) as u8);
    }
    assert_eq!(caveat(&jpeg(&textured, 90)), None);
    assert_eq!(
        caveat(&png(&camera_like(200, 150, 21))),
        Some(PixelCaveat::Small)
    );
    // The same photo quantised to 3 levels per channel (27 colours), as a
    // palette compressor would: a palette image.
    let mut quantised = photo.clone();
    for p in quantised.pixels_mut() {
        for c in &mut p.0 {
            *c = (*c / 86) * 127;
        }
    }
    assert_eq!(caveat(&png(&quantised)), Some(PixelCaveat::Palette));
    // A GIF export: NeuQuant's 256 colours.
    let gif = trueshot::perturb::apply(
        &png(&photo),
        &[trueshot::perturb::Perturbation::Gif],
        1,
        &Config::default(),
    )
    .expect("gif");
    assert!(gif.starts_with(b"GIF8"));
    assert_eq!(caveat(&gif), Some(PixelCaveat::Palette));
    // 256 grey levels are the whole 8-bit range, not a palette.
    let mut grey = photo.clone();
    for p in grey.pixels_mut() {
        let v = p.0[1];
        p.0 = [v, v, v];
    }
    assert_eq!(caveat(&png(&grey)), None);
    // A phone's portrait mode: the subject sharp, the background around it
    // blurred (Gaussian, sigma 6 px), which leaves no noise over most of
    // the frame.
    let blurred = image::imageops::blur(&textured, 6.0);
    let mut portrait = blurred.clone();
    for y in 110..180 {
        for x in 120..200 {
            portrait.put_pixel(x, y, *textured.get_pixel(x, y));
        }
    }
    assert_eq!(caveat(&jpeg(&portrait, 92)), Some(PixelCaveat::Smooth));
    // Sharp over more than half the frame: measured as usual.
    let mut half_sharp = blurred;
    for y in 0..288 {
        for x in 0..200 {
            half_sharp.put_pixel(x, y, *textured.get_pixel(x, y));
        }
    }
    assert_eq!(caveat(&jpeg(&half_sharp, 92)), None);
}

#[test]
fn uniform_margins_are_left_out_of_the_pixel_analysis() {
    // A photo shown in a screenshot: flat bars above and below, a line of
    // status text in the top bar. The pixel detectors must read the photo
    // alone, so its features and score are those of the photo by itself.
    let photo = camera_like(320, 288, 23);
    let (top, height) = (176, 640);
    let mut shot = image::RgbImage::from_pixel(320, height, image::Rgb([250, 250, 250]));
    image::imageops::replace(&mut shot, &photo, 0, i64::from(top));
    for y in 20..30 {
        for x in (16..120).step_by(3) {
            shot.put_pixel(x, y, image::Rgb([20, 20, 20]));
        }
    }
    let alone = analyze_bytes(&png(&photo), &Config::default()).expect("analysis");
    let shown = analyze_bytes(&png(&shot), &Config::default()).expect("analysis");
    assert_eq!(alone.image.content, None);
    assert_eq!(
        shown.image.content,
        Some(trueshot::Region {
            x: 0,
            y: top,
            width: 320,
            height: 288
        })
    );
    // Copy-move reads the whole frame (its block votes count the status
    // text too) and keeps only pairs with a place in the photo: none here.
    let pixel_features = |r: &trueshot::Report| {
        r.features
            .iter()
            .filter(|(k, _)| !k.starts_with("provenance.") && k.as_str() != "copy_move.best_votes")
            .map(|(k, v)| (k.clone(), *v))
            .collect::<Vec<_>>()
    };
    assert_eq!(pixel_features(&alone), pixel_features(&shown));
    assert_eq!(alone.score, shown.score);
    // The heatmap covers the whole screenshot and is zero in the bars.
    let map = shown.heatmap.expect("heatmap");
    assert_eq!((map.width, map.height), (320, height));
    for y in (0..top).chain(top + 288..height) {
        assert_eq!(map.at(160, y), 0.0, "row {y}");
    }
}

/// Copy-move reads the whole frame: a part of the photo copied past a flat
/// band, into what the margin rule leaves out as decoration, is still
/// found; the same patch twice within a bar (the repeated letters of an
/// interface) is not a clone of anything in the photo.
#[test]
fn copy_move_reads_past_the_margins_but_not_their_decoration() {
    let photo = camera_like(320, 288, 23);
    let top = 176;
    let framed = |patches: &[(&image::RgbImage, i64, i64)]| {
        let mut shot = image::RgbImage::from_pixel(320, 640, image::Rgb([250, 250, 250]));
        image::imageops::replace(&mut shot, &photo, 0, top);
        for &(patch, x, y) in patches {
            image::imageops::replace(&mut shot, patch, x, y);
        }
        let report = analyze_bytes(&png(&shot), &Config::default()).expect("analysis");
        let content = trueshot::Region {
            x: 0,
            y: top as u32,
            width: 320,
            height: 288,
        };
        assert_eq!(report.image.content, Some(content));
        report
            .findings
            .iter()
            .filter(|f| f.code == "copy_move.duplicated_region")
            .filter_map(|f| f.region)
            .collect::<Vec<_>>()
    };
    let bar = trueshot::Region {
        x: 0,
        y: 500,
        width: 320,
        height: 140,
    };
    let part = image::imageops::crop_imm(&photo, 40, 60, 64, 64).to_image();
    let boxes = framed(&[(&part, 203, 541)]);
    assert!(boxes.iter().any(|b| bar.overlaps(b)), "{boxes:?}");
    assert!(boxes.iter().any(|b| b.y < 464), "{boxes:?}");
    let glyph = camera_like(64, 64, 5);
    assert_eq!(framed(&[(&glyph, 40, 541), (&glyph, 203, 541)]), vec![]);
}

#[test]
fn lossy_webp_is_told_from_lossless() {
    use trueshot::decode::Format;
    // RIFF container with one image chunk; the bitstream itself is not read.
    let riff = |chunk: &[u8; 4]| {
        let mut body = b"WEBP".to_vec();
        body.extend_from_slice(chunk);
        body.extend_from_slice(&4u32.to_le_bytes());
        body.extend_from_slice(&[0; 4]);
        let mut file = b"RIFF".to_vec();
        file.extend_from_slice(&(body.len() as u32).to_le_bytes());
        file.extend_from_slice(&body);
        file
    };
    assert!(trueshot::metadata::extract(&riff(b"VP8 "), Format::Webp).lossy_webp);
    assert!(!trueshot::metadata::extract(&riff(b"VP8L"), Format::Webp).lossy_webp);
}

/// A time budget that runs out skips detectors; what was never looked at
/// cannot clear a photo, so the verdict is held at inconclusive and says
/// why, while the same photo analysed in full is authentic.
#[test]
fn an_analysis_cut_short_by_the_time_budget_is_not_authentic() {
    let bytes = jpeg(&camera_like(1600, 1200, 21), 92);
    let full = analyze_bytes(&bytes, &Config::default()).expect("analysis");
    assert!(full.incomplete.is_empty());
    assert_eq!(full.verdict, Verdict::Authentic, "{:?}", full.deciding);
    let mut config = Config::default();
    config.time_budget_ms = 1;
    let cut = analyze_bytes(&bytes, &config).expect("analysis");
    assert!(!cut.incomplete.is_empty());
    assert_eq!(cut.verdict, Verdict::Inconclusive);
    assert_eq!(cut.deciding, vec!["fusion.incomplete".to_string()]);
    assert!(codes(&cut).contains(&"fusion.incomplete"));
    // Past the budget after the decode, the pixel planes are not computed
    // either: no work is started for detectors that will be skipped.
    assert!(full.timings_ms.contains_key("planes"));
    if cut.timings_ms["decode"] >= 1.0 {
        assert!(
            !cut.timings_ms.contains_key("planes"),
            "{:?}",
            cut.timings_ms
        );
    }
}

/// A photo enlarged 2x by repeating pixels (a zoomed screenshot) carries
/// the `replicated` caveat, so its pixels alone cannot flag it; the photo
/// itself does not.
#[test]
fn a_photo_enlarged_by_repeating_pixels_has_a_caveat() {
    let photo = camera_like(400, 300, 5);
    let enlarged = image::imageops::resize(&photo, 800, 600, image::imageops::FilterType::Nearest);
    let report = analyze_image(&enlarged.into(), &Config::default()).expect("analysis");
    assert_eq!(report.image.caveat, Some(trueshot::PixelCaveat::Replicated));
    assert!(!report.verdict.is_flagged(), "{:?}", report.verdict);
    let plain = analyze_image(&photo.into(), &Config::default()).expect("analysis");
    assert_ne!(plain.image.caveat, Some(trueshot::PixelCaveat::Replicated));
}

/// An image under 64 px on a side, or a photo whose content inside uniform
/// margins is, is too small to examine: never `authentic`.
#[test]
fn an_image_too_small_to_examine_is_not_cleared() {
    let tiny =
        analyze_bytes(&jpeg(&camera_like(40, 40, 5), 90), &Config::default()).expect("analysis");
    assert_eq!(tiny.verdict, Verdict::Inconclusive, "{:?}", tiny.findings);
    assert_eq!(tiny.deciding, ["fusion.too_small"]);

    let mut framed = image::RgbImage::from_pixel(256, 256, image::Rgb([250, 250, 250]));
    image::imageops::replace(&mut framed, &camera_like(48, 200, 6), 104, 28);
    let report = analyze_image(&framed.into(), &Config::default()).expect("analysis");
    let content = report.image.content.expect("margins found");
    // The content's origin is put on the 8x8 grid (y 28 -> 24).
    assert_eq!((content.width, content.height), (48, 204));
    assert!(codes(&report).contains(&"fusion.too_small"));
    assert_ne!(report.verdict, Verdict::Authentic);

    let examined =
        analyze_bytes(&jpeg(&camera_like(64, 64, 5), 90), &Config::default()).expect("analysis");
    assert!(!codes(&examined).contains(&"fusion.too_small"));
}

/// An animation is analysed by one image of it, but a viewer sees the
/// frames: it is never cleared, and says why. A still picture of the same
/// pixels is cleared; one animated GIF frame is a still picture.
#[test]
fn an_animation_is_not_cleared() {
    let photo = camera_like(128, 128, 3);
    let still = analyze_bytes(&png(&photo), &Config::default()).expect("analysis");
    assert_eq!(still.verdict, Verdict::Authentic, "{:?}", still.findings);
    // An APNG whose default image is outside its one-frame animation: a
    // player shows the frame, never the image analysed.
    let apng = png_with_chunks(
        &png(&photo),
        &[png_chunk(b"acTL", &[0, 0, 0, 1, 0, 0, 0, 0])],
    );
    let animated = analyze_bytes(&apng, &Config::default()).expect("analysis");
    assert_eq!(animated.verdict, Verdict::Inconclusive);
    assert_eq!(animated.deciding, ["provenance.animated"]);
    assert_eq!(animated.score.to_bits(), still.score.to_bits());

    let gif =
        |frames: &[image::RgbImage]| {
            let mut bytes = Vec::new();
            let mut encoder = image::codecs::gif::GifEncoder::new(&mut bytes);
            encoder
                .encode_frames(frames.iter().map(|f| {
                    image::Frame::new(image::DynamicImage::ImageRgb8(f.clone()).into_rgba8())
                }))
                .expect("gif");
            drop(encoder);
            analyze_bytes(&bytes, &Config::default()).expect("analysis")
        };
    let one = gif(std::slice::from_ref(&photo));
    assert!(!codes(&one).contains(&"provenance.animated"));
    let two = gif(&[photo, camera_like(128, 128, 4)]);
    assert!(codes(&two).contains(&"provenance.animated"));
    assert_ne!(two.verdict, Verdict::Authentic);
}

/// Pixels that are not fully opaque are shown blended with a background the
/// analysis does not know (a copy of a listing with a hole cut into it was
/// cleared as the listing): such an image is not cleared, from its file or
/// as decoded pixels; the same picture with opaque alpha is.
#[test]
fn transparent_pixels_are_not_cleared() {
    let photo = camera_like(128, 128, 3);
    let encoded = |image: &image::DynamicImage| {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image
            .write_to(&mut bytes, image::ImageFormat::Png)
            .expect("png");
        bytes.into_inner()
    };
    let opaque = image::DynamicImage::ImageRgb8(photo).into_rgba8();
    let mut holed = opaque.clone();
    holed.get_pixel_mut(5, 5).0[3] = 0;
    let analyzer = trueshot::Analyzer::new(Config::default()).expect("analyzer");
    let cleared = analyzer
        .analyze_bytes(&encoded(&opaque.clone().into()))
        .expect("analysis");
    assert_eq!(
        cleared.verdict,
        Verdict::Authentic,
        "{:?}",
        cleared.findings
    );
    assert!(!codes(&cleared).contains(&"fusion.transparent"));
    let holed = image::DynamicImage::ImageRgba8(holed);
    for report in [
        analyzer.analyze_bytes(&encoded(&holed)).expect("analysis"),
        analyzer.analyze_image(&holed).expect("analysis"),
    ] {
        assert_eq!(report.verdict, Verdict::Inconclusive);
        assert_eq!(report.deciding, ["fusion.transparent"]);
        assert_eq!(report.score.to_bits(), cleared.score.to_bits());
    }
    let mut translucent = image::DynamicImage::ImageRgba8(opaque).into_rgba16();
    translucent.get_pixel_mut(0, 0).0[3] = u16::MAX - 1;
    let report = analyzer
        .analyze_image(&translucent.into())
        .expect("analysis");
    assert_eq!(report.deciding, ["fusion.transparent"]);
}

/// Metadata a decoder kept apart from the pixels (Pillow's `Image.info`)
/// counts as the file's: an AIGC label in a text entry, generator
/// parameters, XMP and EXIF (with or without APP1's `Exif\0\0`) give the
/// findings the file gives; the pixels alone give none of them.
#[test]
fn metadata_kept_apart_from_the_pixels_is_read() {
    use trueshot::metadata::RawMetadata;
    let pixels = image::DynamicImage::ImageRgb8(camera_like(64, 64, 8));
    let analyzer = trueshot::Analyzer::new(Config::default()).expect("analyzer");
    let label = br#"{"Label":"1","ContentProducer":"001191110108MA01","ProduceID":"x1"}"#;
    let labelled = RawMetadata::default().with_text("AIGC", label);
    let report = analyzer
        .analyze_image_with_metadata(&pixels, &labelled)
        .expect("analysis");
    assert_eq!(report.verdict, Verdict::AiGenerated);
    assert!(codes(&report).contains(&"provenance.aigc_label"));
    let bare = analyzer.analyze_image(&pixels).expect("analysis");
    assert!(!codes(&bare).contains(&"provenance.aigc_label"));

    let parameters =
        RawMetadata::default().with_text("parameters", b"a cat\nSteps: 20, CFG scale: 7");
    let report = analyzer
        .analyze_image_with_metadata(&pixels, &parameters)
        .expect("analysis");
    assert!(codes(&report).contains(&"provenance.generator_parameters"));

    let xmp = br#"<rdf:Description Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>"#;
    for metadata in [
        RawMetadata::default().with_xmp(xmp),
        RawMetadata::default().with_text("XML:com.adobe.xmp", xmp),
    ] {
        let report = analyzer
            .analyze_image_with_metadata(&pixels, &metadata)
            .expect("analysis");
        assert!(codes(&report).contains(&"provenance.digital_source_type"));
    }

    let tiff = exif_block(&[(0x010F, "Canon"), (0x0110, "Canon EOS 5D")], None);
    for exif in [tiff.clone(), [b"Exif\0\0".as_slice(), &tiff].concat()] {
        let metadata = RawMetadata::default().with_exif(&exif);
        let report = analyzer
            .analyze_image_with_metadata(&pixels, &metadata)
            .expect("analysis");
        assert_eq!(report.provenance.camera_make.as_deref(), Some("Canon"));
    }
}
