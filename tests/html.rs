//! The HTML review page and index: structure, self-containment, escaping of
//! hostile metadata, determinism. Inputs are built in code.

mod common;

use common::jpeg_with_orientation;
use image::{DynamicImage, Rgb, RgbImage};
use trueshot::{
    analyze_bytes, analyze_image, render_html, render_index, Class, Config, DetectorKind, Finding,
    Heatmap, HtmlOptions, IndexEntry, ReferenceMatch, Region, Report, Transform, Verdict,
};

/// A script-injection payload that also tries to break out of an attribute.
const PAYLOAD: &str =
    r#"<script>alert(1)</script>"onerror=alert(2) x='<img src=x onerror=alert(3)>"#;

fn gradient(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 128])
    }))
}

/// An "edited" report with one located finding, a hot heatmap block and a
/// metadata note, built on a real analysis of `image`.
fn edited_report(image: &DynamicImage) -> Report {
    let mut report = analyze_image(image, &Config::default()).expect("analysis");
    let (w, h) = (image.width(), image.height());
    report.verdict = Verdict::Edited;
    report.score = 0.93;
    report.findings.insert(
        0,
        Finding::new(
            DetectorKind::NoiseResidual,
            "noise_residual.inconsistent",
            0.93,
            Class::Edited,
            "The noise in this area does not match the rest of the photo.".into(),
            "该区域的噪声与照片其余部分不一致。".into(),
        )
        .with_region(Region {
            x: w / 4,
            y: h / 4,
            width: w / 4,
            height: h / 4,
        }),
    );
    report.deciding = vec!["noise_residual.inconsistent".into()];
    let mut map = Heatmap::zeros(w, h, 16);
    let gw = map.grid_width as usize;
    for gy in 0..map.grid_height as usize {
        for gx in 0..gw {
            let (x, y) = (gx as u32 * 16, gy as u32 * 16);
            if (w / 4..w / 2).contains(&x) && (h / 4..h / 2).contains(&y) {
                map.values[gy * gw + gx] = 0.9;
            }
        }
    }
    report.heatmap = Some(map);
    report
}

#[test]
fn page_is_self_contained_and_has_every_part() {
    let image = gradient(320, 240);
    let report = edited_report(&image);
    let options = HtmlOptions::default()
        .with_title("claim.jpg")
        .with_max_false_alarm(0.01);
    let page = render_html(&report, &image, &options);

    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<html lang=\"en\" class=\"show-en\">"));
    // Verdict in words (both languages) and the operating point.
    assert!(page.contains(r#"class="verdict v-edited""#));
    assert!(page.contains(">Edited<") && page.contains(">已编辑<"));
    assert!(page.contains("Suspicion score: <strong>0.93</strong>"));
    assert!(page.contains(&format!("{:.2} or more is flagged", report.flag_threshold)));
    assert!(page.contains("at most 1% false alarms"));
    // The model's own authentic threshold: no review rate quoted.
    assert!(!page.contains("go to review or are flagged"));
    let reviewed = render_html(&report, &image, &options.clone().with_review_rate(0.3));
    assert!(reviewed.contains("about 30% of genuine photos go to review or are flagged"));
    assert!(reviewed.contains("约 30% 的真实照片进入复核"));
    // The point's own rate is quoted (the CLI, C and Python tests check
    // that a stricter request is served by the model's strictest point).
    let point = trueshot::fusion::OperatingPoint {
        max_false_alarm: 0.005,
        flag: report.flag_threshold,
        authentic: report.authentic_threshold,
    };
    let strict = render_html(
        &report,
        &image,
        &options.clone().with_operating_point(point, None),
    );
    assert!(strict.contains("at most 0.5% false alarms"));
    assert!(!strict.contains("go to review or are flagged"));
    // Photo and heatmap as data URIs, a real slider, a numbered box linking
    // to its finding, and the finding in both languages.
    assert!(page.contains(r#"<img class="photo" src="data:image/jpeg;base64,"#));
    assert!(page.contains(r#"<img class="overlay" src="data:image/png;base64,"#));
    assert!(page.contains(r#"<input type="range" id="opacity""#));
    assert!(page.contains(r##"href="#finding-1""##));
    assert!(page.contains(r#"<li id="finding-1">"#));
    assert!(page.contains("does not match the rest of the photo"));
    assert!(page.contains("该区域的噪声与照片其余部分不一致"));
    assert!(page.contains("decided the verdict"));
    assert!(page.contains(r#"<button type="button" data-lang="zh""#));
    // Provenance table with absent values stated.
    assert!(page.contains("AIGC label (GB 45438-2025)"));
    assert!(page.contains("Content Credentials (C2PA)"));
    assert!(page.contains("not present"));
    // No request can leave the page.
    assert!(page.contains("default-src 'none'"));
    for remote in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "@import",
        "src=\"//",
    ] {
        assert!(!page.contains(remote), "page references {remote}");
    }
    assert!(page.contains("@media print"));
    // Without a reference match there is no comparison section.
    assert!(!page.contains("reference-title"));
}

#[test]
fn page_without_heatmap_or_findings_says_so() {
    let image = gradient(64, 64);
    let mut report = analyze_image(&image, &Config::default()).expect("analysis");
    report.heatmap = None;
    report.findings.clear();
    let page = render_html(&report, &image, &HtmlOptions::default());
    assert!(!page.contains("id=\"opacity\""));
    assert!(page.contains("No area of the photo was flagged."));
    assert!(page.contains("No findings."));
    assert!(page.contains(&format!("class=\"verdict v-{}\"", report.verdict.as_str())));
}

#[test]
fn page_says_which_pixels_were_analysed() {
    let image = gradient(64, 64);
    let mut report = analyze_image(&image, &Config::default()).expect("analysis");
    let page = render_html(&report, &image, &HtmlOptions::default());
    assert!(page.contains("the whole image"));
    report.image.content = Some(trueshot::Region {
        x: 0,
        y: 16,
        width: 64,
        height: 40,
    });
    let page = render_html(&report, &image, &HtmlOptions::default());
    assert!(page.contains("64 × 40 px at (0, 16)"));
    assert!(page.contains("uniform margins left out"));
}

#[test]
fn page_opens_in_chinese_when_asked() {
    let image = gradient(64, 64);
    let report = analyze_image(&image, &Config::default()).expect("analysis");
    let options = HtmlOptions::default().with_lang(trueshot::html::Lang::Zh);
    let page = render_html(&report, &image, &options);
    assert!(page.contains("<html lang=\"zh-Hans\" class=\"show-zh\">"));
    assert!(page.contains(r#"data-lang="zh" aria-pressed="true""#));
    let word = match report.verdict {
        Verdict::Authentic => "真实",
        Verdict::Inconclusive => "无法确定",
        Verdict::Edited => "已编辑",
        _ => "AI 生成",
    };
    let title = page.split("<title>").nth(1).unwrap_or_default();
    assert!(title.starts_with(word), "{title}");
}

#[test]
fn pages_are_deterministic() {
    let image = gradient(200, 150);
    let report = edited_report(&image);
    let a = render_html(&report, &image, &HtmlOptions::default());
    let b = render_html(&report, &image, &HtmlOptions::default());
    assert_eq!(a, b);
}

#[test]
fn large_photos_are_downscaled_to_keep_pages_small() {
    let image = gradient(3000, 2000);
    let report = edited_report(&image);
    let page = render_html(&report, &image, &HtmlOptions::default());
    // A 3000x2000 gradient at full size would be far bigger as JPEG base64.
    assert!(page.len() < 400_000, "page is {} bytes", page.len());
    let small = render_html(&report, &image, &HtmlOptions::default().with_max_side(200));
    assert!(small.len() < page.len());
}

/// A page made from a smaller copy of the analysed pixels, given their
/// size, places the photo, the heatmap and the boxes as the page made from
/// the pixels themselves; without the size the boxes land elsewhere.
#[test]
fn a_smaller_copy_with_the_analysed_size_gives_the_same_places() {
    let image = gradient(1200, 800);
    let report = edited_report(&image);
    let small = image.thumbnail(300, 200);
    // The photo's tag, the overlay's and the boxes', less the embedded
    // pictures (the copy is resampled otherwise).
    let places = |page: &str| -> Vec<String> {
        page.split('<')
            .filter(|tag| {
                tag.starts_with(r#"img class="photo""#)
                    || tag.starts_with(r#"img class="overlay""#)
                    || tag.starts_with(r#"a class="box"#)
            })
            .map(|tag| match tag.split_once(r#" src=""#) {
                Some((head, rest)) => {
                    head.to_owned() + rest.split_once('"').map_or("", |(_, tail)| tail)
                }
                None => tag.to_owned(),
            })
            .collect()
    };
    let full = places(&render_html(&report, &image, &HtmlOptions::default()));
    assert!(full.iter().any(|t| t.contains("overlay")), "{full:?}");
    assert!(full.iter().any(|t| t.contains("box")), "{full:?}");
    let options = HtmlOptions::default().with_analysed_size(1200, 800);
    assert_eq!(places(&render_html(&report, &small, &options)), full);
    assert_ne!(
        places(&render_html(&report, &small, &HtmlOptions::default())),
        full
    );
}

/// A note that names a region (a copy's source) is boxed apart from the
/// evidence: dotted grey, not as a flagged region.
#[test]
fn a_note_with_a_region_is_boxed_as_a_note() {
    let image = gradient(128, 96);
    let mut report = edited_report(&image);
    report.findings.push(copy_source_note(8));
    let page = render_html(&report, &image, &HtmlOptions::default());
    let number = report.findings.len();
    let tag = |class: &str| format!(r##"<a class="box {class}" href="#finding-{number}""##);
    assert!(page.contains(&tag("note")), "{page}");
    assert_eq!(page.matches(r#"<a class="box note""#).count(), 1);
    assert!(page.contains(r##"<a class="box " href="#finding-1""##));
}

/// A box at the top of the photo carries its number inside, where the
/// photo's frame does not clip it; a box lower down carries it above.
#[test]
fn a_box_at_the_top_carries_its_number_inside() {
    let image = gradient(128, 96);
    let mut report = edited_report(&image);
    report.findings.push(copy_source_note(0));
    report.findings.push(copy_source_note(40));
    let page = render_html(&report, &image, &HtmlOptions::default());
    let n = report.findings.len();
    let tag = |class: &str, number: usize| {
        format!(r##"<a class="box {class}" href="#finding-{number}""##)
    };
    assert!(page.contains(&tag("note in", n - 1)), "{page}");
    assert!(page.contains(&tag("note", n)), "{page}");
    assert!(page.contains(".box.in span{"));

    // A wide photo is shown low: 12 px down of 96 is already too close.
    let wide = gradient(512, 96);
    let mut report = edited_report(&wide);
    report.findings.push(copy_source_note(12));
    let page = render_html(&report, &wide, &HtmlOptions::default());
    assert!(
        page.contains(&tag("note in", report.findings.len())),
        "{page}"
    );
}

/// A note naming the 16 x 16 source of a copy at (8, `y`).
fn copy_source_note(y: u32) -> Finding {
    Finding::new(
        DetectorKind::CopyMove,
        "copy_move.duplicated_region",
        0.0,
        Class::None,
        "The source of the copy.".into(),
        "副本的来源。".into(),
    )
    .with_region(Region {
        x: 8,
        y,
        width: 16,
        height: 16,
    })
}

/// The picture of the first `data:` URI in `html`.
fn picture_in(html: &str) -> DynamicImage {
    use base64::Engine as _;
    let b64 = html
        .split_once(";base64,")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(data, _)| data)
        .expect("data URI");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    image::load_from_memory(&bytes).expect("picture")
}

/// The first `<img class="{class}" src="data:...">` tag in a page, and its
/// picture.
fn embedded(page: &str, class: &str) -> (DynamicImage, String) {
    let tag = page
        .split('<')
        .find(|t| t.starts_with(&format!(r#"img class="{class}" src="data:"#)))
        .expect("embedded image");
    (picture_in(tag), tag.to_owned())
}

/// `left`, `top`, `width` and `height` of a tag's inline style, as fractions.
fn placed(tag: &str) -> [f64; 4] {
    ["left:", "top:", "width:", "height:"].map(|key| {
        let at = tag
            .find(key)
            .map(|i| i + key.len())
            .unwrap_or_else(|| panic!("{key} in {tag}"));
        let value = &tag[at..];
        let end = value.find('%').expect("percent");
        value[..end].parse::<f64>().expect("number") / 100.0
    })
}

/// Bounding box, in fractions of the picture's sides, of its pixels that
/// pass `keep`.
fn share_box(picture: &DynamicImage, keep: impl Fn(image::Rgba<u8>) -> bool) -> [f64; 4] {
    let rgba = picture.to_rgba8();
    let (w, h) = (f64::from(rgba.width()), f64::from(rgba.height()));
    let lit: Vec<(u32, u32)> = rgba
        .enumerate_pixels()
        .filter(|(_, _, p)| keep(**p))
        .map(|(x, y, _)| (x, y))
        .collect();
    assert!(!lit.is_empty(), "nothing lit");
    let x0 = f64::from(lit.iter().map(|p| p.0).min().unwrap_or(0));
    let y0 = f64::from(lit.iter().map(|p| p.1).min().unwrap_or(0));
    let x1 = f64::from(lit.iter().map(|p| p.0).max().unwrap_or(0)) + 1.0;
    let y1 = f64::from(lit.iter().map(|p| p.1).max().unwrap_or(0)) + 1.0;
    [x0 / w, y0 / h, (x1 - x0) / w, (y1 - y0) / h]
}

/// A phone photo stored sideways (EXIF orientation 6) is shown upright:
/// under each of the eight orientations the photo, the heatmap overlay and
/// the region box are turned alike, so the box and the overlay still lie on
/// the green square the finding is about; the photo's size attributes are
/// the upright ones, and the page says it turned the photo.
#[test]
fn the_page_shows_the_photo_upright_with_its_marks() {
    // Not a multiple of the 16-px heatmap cell: the last cells overhang,
    // on the left or at the top once turned.
    let (w, h) = (152u32, 88u32);
    // A green square at (32, 16) to (64, 48), off the centre on both axes.
    let square = |x: u32, y: u32| (32..64).contains(&x) && (16..48).contains(&y);
    let image = DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
        if square(x, y) {
            Rgb([0, 220, 0])
        } else {
            Rgb([60, 60, 60])
        }
    }));
    let mut report = edited_report(&image);
    report.findings[0].region = Some(Region {
        x: 32,
        y: 16,
        width: 32,
        height: 32,
    });
    let mut map = Heatmap::zeros(w, h, 16);
    let gw = map.grid_width as usize;
    for (i, value) in map.values.iter_mut().enumerate() {
        let (x, y) = ((i % gw) as u32 * 16, (i / gw) as u32 * 16);
        *value = if square(x, y) { 0.9 } else { 0.0 };
    }
    report.heatmap = Some(map);
    let green = |p: image::Rgba<u8>| p.0[1] > 150 && p.0[0] < 100;
    for orientation in 1..=8u16 {
        report.provenance.orientation = Some(orientation);
        let page = render_html(&report, &image, &HtmlOptions::default());
        let (photo, tag) = embedded(&page, "photo");
        let quarter = orientation >= 5;
        let shown = if quarter { (h, w) } else { (w, h) };
        assert_eq!(photo.width(), shown.0, "orientation {orientation}");
        assert!(
            tag.contains(&format!(r#"width="{}" height="{}""#, shown.0, shown.1)),
            "orientation {orientation}: {tag}"
        );
        let square_at = share_box(&photo, green);
        let box_tag = page
            .split('<')
            .find(|t| t.starts_with(r#"a class="box"#))
            .expect("box");
        let box_at = placed(box_tag);
        for (a, b) in square_at.iter().zip(box_at) {
            assert!(
                (a - b).abs() < 0.02,
                "orientation {orientation}: square {square_at:?}, box {box_at:?}"
            );
        }
        // The overlay's opaque cells, placed on the page as its style says.
        let (overlay, tag) = embedded(&page, "overlay");
        let [ol, ot, ow, oh] = placed(&tag);
        let hot = share_box(&overlay, |p| p.0[3] > 100);
        let hot_at = [ol + hot[0] * ow, ot + hot[1] * oh, hot[2] * ow, hot[3] * oh];
        for (a, b) in square_at.iter().zip(hot_at) {
            assert!(
                (a - b).abs() < 0.02,
                "orientation {orientation}: square {square_at:?}, overlay {hot_at:?}"
            );
        }
        assert_eq!(
            page.contains("as the EXIF orientation asks"),
            orientation != 1,
            "orientation {orientation}"
        );
        // The index's thumbnail is upright too.
        let entry = IndexEntry::new("claim.jpg", None, &report, Some(&image));
        let thumbnail = picture_in(&render_index(&[entry]));
        assert_eq!(
            share_box(&thumbnail, green).map(|v| (v * 10.0).round()),
            square_at.map(|v| (v * 10.0).round()),
            "orientation {orientation}"
        );
    }
}

/// A TIFF-structured EXIF block (little endian) with Make, Model and
/// Software set to `value`.
fn exif_with(value: &str) -> Vec<u8> {
    let tags = [0x010f_u16, 0x0110, 0x0131];
    let text: Vec<u8> = value.bytes().chain([0]).collect();
    let entries_end = 8 + 2 + tags.len() * 12 + 4;
    let mut out = b"II*\0".to_vec();
    out.extend(8u32.to_le_bytes());
    out.extend((tags.len() as u16).to_le_bytes());
    for (i, tag) in tags.iter().enumerate() {
        out.extend(tag.to_le_bytes());
        out.extend(2u16.to_le_bytes()); // ASCII
        out.extend((text.len() as u32).to_le_bytes());
        out.extend(((entries_end + i * text.len()) as u32).to_le_bytes());
    }
    out.extend(0u32.to_le_bytes()); // no next IFD
    for _ in tags {
        out.extend(&text);
    }
    out
}

/// A PNG whose text chunks and EXIF carry `PAYLOAD`.
fn malicious_png() -> Vec<u8> {
    let (w, h) = (64u32, 48u32);
    let pixels = gradient(w, h).to_rgb8().into_raw();
    let mut info = png::Info::with_size(w, h);
    info.color_type = png::ColorType::Rgb;
    info.bit_depth = png::BitDepth::Eight;
    info.exif_metadata = Some(exif_with(PAYLOAD).into());
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::with_info(&mut bytes, info).expect("encoder");
        encoder
            .add_text_chunk(
                "parameters".into(),
                format!("{PAYLOAD} Steps: 20, Sampler: Euler"),
            )
            .expect("tEXt");
        encoder
            .add_itxt_chunk("Description".into(), PAYLOAD.into())
            .expect("iTXt");
        let mut writer = encoder.write_header().expect("header");
        writer.write_image_data(&pixels).expect("pixels");
    }
    bytes
}

#[test]
fn hostile_metadata_cannot_inject_markup() {
    let bytes = malicious_png();
    let report = analyze_bytes(&bytes, &Config::default()).expect("analysis");
    // The payload must reach the report, or this test would prove nothing.
    let p = &report.provenance;
    assert!(p
        .camera_make
        .as_deref()
        .is_some_and(|m| m.contains("<script>")));
    assert!(p
        .software
        .as_deref()
        .is_some_and(|m| m.contains("onerror=")));
    assert!(p
        .generator_parameters
        .as_deref()
        .is_some_and(|m| m.contains("<script>")));
    assert!(report
        .findings
        .iter()
        .any(|f| f.message.contains("<script>")));

    let image = image::load_from_memory(&bytes).expect("decode");
    let mut reference = ReferenceMatch::default();
    reference.path = Some(PAYLOAD.into());
    let mut report = report;
    report.reference = Some(reference);
    let options = HtmlOptions::default()
        .with_title(PAYLOAD)
        .with_reference_image(&image);
    let page = render_html(&report, &image, &options);
    assert_no_injection(&page);
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;onerror=alert(2)"));

    let entries = vec![
        IndexEntry::new(
            PAYLOAD,
            Some("javascript:alert(1)//\"><b>x".into()),
            &report,
            Some(&image),
        ),
        IndexEntry::failed(PAYLOAD, PAYLOAD),
    ];
    let index = render_index(&entries);
    assert_no_injection(&index);
    assert!(!index.contains("href=\"javascript:"));
}

fn assert_no_injection(page: &str) {
    // Exactly one script element: our own, allowed by its CSP hash.
    assert_eq!(page.matches("<script").count(), 1, "extra <script> in page");
    for bad in ["<script>alert", "\"onerror=", "<img src=x", "x='<"] {
        assert!(!page.contains(bad), "page contains {bad:?}");
    }
    // The payload's words may appear as text, never inside a tag, where they
    // would be an attribute: the last bracket before each one must be `>`.
    for word in ["onerror", "alert("] {
        for (at, _) in page.match_indices(word) {
            let open = page[..at].rfind('<');
            let close = page[..at].rfind('>');
            assert!(
                close > open,
                "{word:?} inside a tag: {}",
                &page[at.saturating_sub(300)..at + 50]
            );
        }
    }
}

#[test]
fn reference_match_is_shown_with_the_listing_photo_aligned() {
    let claim = gradient(240, 160);
    let listing = gradient(240, 160);
    let mut report = edited_report(&claim);
    report.findings.push(
        Finding::new(
            DetectorKind::Reference,
            "reference.changed_region",
            0.8,
            Class::Edited,
            "This area differs from the listing photo.".into(),
            "该区域与商品原图不同。".into(),
        )
        .with_region(Region {
            x: 10,
            y: 10,
            width: 40,
            height: 30,
        }),
    );
    let mut reference = ReferenceMatch::default();
    reference.derived = true;
    reference.similarity = 0.91;
    reference.index = Some(0);
    reference.changed_fraction = 0.042;
    reference.transform = Some(Transform {
        scale: 1.0,
        rotation_deg: 2.0,
        dx: 3.0,
        dy: -1.0,
        mirrored: false,
        ..Transform::default()
    });
    report.reference = Some(reference);

    // Facts are shown even without the listing photo.
    let facts_only = render_html(&report, &claim, &HtmlOptions::default());
    assert!(facts_only.contains("reference-title"));
    assert!(facts_only.contains("0.91") && facts_only.contains("4.2%"));
    assert!(facts_only.contains("rotation 2.0°"));
    assert!(!facts_only.contains("pair-figure"));

    let options = HtmlOptions::default().with_reference_image(&listing);
    let page = render_html(&report, &claim, &options);
    assert!(page.contains("pair-figure"));
    assert!(page.contains("Listing photo, aligned to the claim"));
    // The changed region (finding 3 after sorting is not done here: it is the
    // last finding) is boxed on both panels and on the main photo.
    let n = report.findings.len();
    assert_eq!(page.matches(&format!("href=\"#finding-{n}\"")).count(), 3);

    // A claim stored sideways (EXIF orientation 6): the aligned listing
    // turns with the claim, and the changed region's three boxes land
    // where the turned region lies.
    report.provenance.orientation = Some(6);
    let page = render_html(&report, &claim, &options);
    let tag = page
        .split('<')
        .find(|t| t.starts_with(r#"img class="photo""#) && t.contains("The listing photo"))
        .expect("listing photo");
    let listing_shown = picture_in(tag);
    assert_eq!((listing_shown.width(), listing_shown.height()), (160, 240));
    assert!(tag.contains(r#"width="160" height="240""#), "{tag}");
    // (10, 10) 40x30 of 240x160, turned a quarter clockwise: left = 1 -
    // (10 + 30) / 160, top = 10 / 240, width 30 / 160, height 40 / 240.
    let places: Vec<[f64; 4]> = page
        .split('<')
        .filter(|t| t.contains(&format!("href=\"#finding-{n}\"")))
        .map(placed)
        .collect();
    assert_eq!(places.len(), 3);
    for place in places {
        let expected = [0.75, 10.0 / 240.0, 0.1875, 40.0 / 240.0];
        for (a, b) in place.iter().zip(expected) {
            assert!((a - b).abs() < 1e-4, "{place:?}");
        }
    }
}

/// A listing shown unaligned (a report without a transform, or one the
/// page cannot draw the listing by) is turned upright by its own file's
/// orientation, not by the claim's.
#[test]
fn an_unaligned_listing_is_shown_upright_by_its_own_orientation() {
    let claim = gradient(240, 160);
    let bytes = jpeg_with_orientation(&gradient(240, 160), 6);
    let orientation = trueshot::decode::exif_orientation(&bytes);
    assert_eq!(orientation, Some(6));
    let listing = image::load_from_memory(&bytes).expect("decode");
    assert_eq!((listing.width(), listing.height()), (240, 160));
    let mut report = edited_report(&claim);
    report.reference = Some(ReferenceMatch::default());
    for (listing_orientation, claim_orientation, upright) in [
        (None, None, false),
        (orientation, None, true),
        (None, Some(6), false),
        (orientation, Some(8), true),
    ] {
        report.provenance.orientation = claim_orientation;
        let options = HtmlOptions::default()
            .with_reference_image(&listing)
            .with_reference_orientation(listing_orientation);
        let page = render_html(&report, &claim, &options);
        assert!(page.contains("not aligned"));
        let tag = page
            .split('<')
            .find(|t| t.starts_with(r#"img class="photo""#) && t.contains("The listing photo"))
            .expect("listing photo");
        let shown = picture_in(tag).to_rgb8();
        let (w, h) = if upright { (160, 240) } else { (240, 160) };
        assert_eq!(shown.dimensions(), (w, h), "{listing_orientation:?}");
        assert!(
            tag.contains(&format!(r#"width="{w}" height="{h}""#)),
            "{tag}"
        );
        // Turned a quarter clockwise, the stored left column (red 0) is the
        // top row, its bottom end (green 255) on the left.
        let top_left = shown.get_pixel(2, 2);
        if upright {
            assert!(top_left[0] < 30 && top_left[1] > 225, "{top_left:?}");
        } else {
            assert!(top_left[0] < 30 && top_left[1] < 30, "{top_left:?}");
        }
    }
}

#[test]
fn index_sorts_by_score_and_offers_filters() {
    let image = gradient(64, 64);
    let mut low = analyze_image(&image, &Config::default()).expect("analysis");
    low.score = 0.1;
    low.verdict = Verdict::Authentic;
    let high = edited_report(&image);
    let entries = vec![
        IndexEntry::failed("broken.jpg", "could not decode image"),
        IndexEntry::new("low.jpg", Some("low.html".into()), &low, Some(&image)),
        IndexEntry::new("high.jpg", Some("high.html".into()), &high, Some(&image)),
    ];
    let index = render_index(&entries);
    let at = |s: &str| index.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(at("high.jpg") < at("low.jpg") && at("low.jpg") < at("broken.jpg"));
    assert!(index.contains(r#"<input type="checkbox" data-filter="edited" checked>"#));
    assert!(index.contains(r#"<input type="checkbox" data-filter="authentic" checked>"#));
    assert!(index.contains(r#"<input type="checkbox" data-filter="error" checked>"#));
    assert!(!index.contains(r#"data-filter="ai_generated""#));
    assert!(index.contains(r#"<li class="card v-edited" data-verdict="edited">"#));
    assert!(index.contains(r#"<a class="link" href="high.html">"#));
    assert_eq!(index.matches("src=\"data:image/jpeg;base64,").count(), 2);
    // Order of the input does not matter.
    let mut reversed = entries.clone();
    reversed.reverse();
    assert_eq!(render_index(&reversed), index);
}

/// The `<li>` of finding `number` in `page`.
fn finding_item(page: &str, number: usize) -> &str {
    let start = page
        .find(&format!(r#"<li id="finding-{number}">"#))
        .expect("finding");
    let end = page[start..].find("</li>").expect("end of finding");
    &page[start..start + end]
}

/// A deciding code stars the findings that point to a class, not a note
/// with the same code (a copy's source); a test that found nothing
/// (strength 0) is tagged as information, not as pointing to editing.
#[test]
fn only_findings_that_point_somewhere_are_starred_and_tagged() {
    let image = gradient(128, 96);
    let mut report = edited_report(&image);
    let finding = |code: &str, score: f32, class: Class| {
        Finding::new(
            DetectorKind::CopyMove,
            code,
            score,
            class,
            "A finding.".into(),
            "一个发现。".into(),
        )
    };
    report.findings.truncate(1);
    report.findings.extend([
        finding("copy_move.duplicated_region", 0.8, Class::Edited),
        finding("copy_move.duplicated_region", 0.0, Class::None),
        finding("cfa.local_absence", 0.0, Class::Edited),
    ]);
    report.deciding.push("copy_move.duplicated_region".into());
    let page = render_html(&report, &image, &HtmlOptions::default());
    let starred = |n: usize| finding_item(&page, n).contains("decided the verdict");
    assert!(starred(1) && starred(2));
    assert!(!starred(3) && !starred(4));
    assert_eq!(page.matches("decided the verdict").count(), 2);
    let zero = finding_item(&page, 4);
    assert!(
        zero.contains("c-none") && !zero.contains("Points to editing"),
        "{zero}"
    );
    assert!(!zero.contains("strength"), "{zero}");
}

/// The printed score and thresholds compare as the numbers do: a score
/// just under a threshold is not printed equal to it, and a threshold
/// under 1 is not printed as 1.
#[test]
fn printed_scores_and_thresholds_keep_their_order() {
    let image = gradient(64, 64);
    let mut report = analyze_image(&image, &Config::default()).expect("analysis");
    let cases = [
        (
            0.926,
            0.92756,
            0.99284,
            "<strong>0.926</strong>",
            "below 0.928",
        ),
        (
            0.990,
            0.92756,
            0.99284,
            "<strong>0.990</strong>",
            "0.993 or more",
        ),
        (
            0.5,
            0.95674,
            0.99866,
            "<strong>0.500</strong>",
            "0.999 or more",
        ),
        (0.3, 0.92756, 0.99284, "<strong>0.30</strong>", "below 0.93"),
    ];
    for (score, authentic, flag, shown, threshold) in cases {
        report.score = score;
        report.authentic_threshold = authentic;
        report.flag_threshold = flag;
        let page = render_html(&report, &image, &HtmlOptions::default());
        assert!(
            page.contains(shown) && page.contains(threshold),
            "{score}: {shown}, {threshold}"
        );
    }
}

/// A caveat of the report (here: a small image) is said in the verdict box.
#[test]
fn the_verdict_box_says_the_limits_of_a_small_image() {
    let image = gradient(64, 64);
    let report = analyze_image(&image, &Config::default()).expect("analysis");
    assert_eq!(report.image.caveat, Some(trueshot::PixelCaveat::Small));
    let page = render_html(&report, &image, &HtmlOptions::default());
    assert!(page.contains("Limits: the image is fewer than 256 x 256 pixels"));
    let large = gradient(320, 240);
    let mut report = analyze_image(&large, &Config::default()).expect("analysis");
    report.image.caveat = None;
    let page = render_html(&report, &large, &HtmlOptions::default());
    assert!(!page.contains("Limits:"));
}

/// An image that could not be examined fully is not said to show "signs":
/// the verdict box says why it was not cleared.
#[test]
fn a_verdict_held_for_want_of_examination_says_so() {
    let signs = "Some signs were found";
    let tiny = gradient(40, 40);
    let held = analyze_image(&tiny, &Config::default()).expect("analysis");
    assert_eq!(held.deciding, ["fusion.too_small"]);
    let page = render_html(&held, &tiny, &HtmlOptions::default());
    assert!(page.contains("could not be examined fully"));
    assert!(!page.contains(signs));
    // Inconclusive on evidence keeps its sentence.
    let mut reviewed = held.clone();
    reviewed.deciding = vec!["jpeg.local_single_compression".into()];
    let page = render_html(&reviewed, &tiny, &HtmlOptions::default());
    assert!(page.contains(signs) && !page.contains("could not be examined fully"));
}

/// A long path as the title keeps its end, the file's name; the index
/// splits folders at `/` (and at `\` only where that separates folders).
#[test]
fn long_and_odd_names_keep_the_file_name() {
    let image = gradient(64, 64);
    let report = analyze_image(&image, &Config::default()).expect("analysis");
    let path = format!("{}/claim_12345.jpg", "deep_folder_name/".repeat(30));
    let page = render_html(
        &report,
        &image,
        &HtmlOptions::default().with_title(path.clone()),
    );
    assert!(page.contains("…"), "the title was cut");
    assert!(page.contains("claim_12345.jpg</h1>"));
    let index = render_index(&[IndexEntry::new(
        r"uploads/back\slash.jpg",
        None,
        &report,
        None,
    )]);
    let name = if cfg!(windows) {
        "slash.jpg"
    } else {
        r"back\slash.jpg"
    };
    assert!(
        index.contains(&format!(r#"<p class="name">{name}</p>"#)),
        "{index}"
    );
}
