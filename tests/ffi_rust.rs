//! Calls the `extern "C"` functions from Rust and asserts the exact statuses
//! for NULLs, bad sizes and bad values (gifski's `c_api.rs` tests). Needs
//! `--features capi` (see `[[test]]` in Cargo.toml).

mod common;

use std::ffi::{c_char, CStr};
use std::ptr;

use trueshot::ffi::*;

/// A sentinel for "must not be written".
fn sentinel() -> *mut trueshot_report {
    ptr::NonNull::dangling().as_ptr()
}

fn last_error() -> String {
    // SAFETY (test): NULL buffer only asks for the length; then a buffer of
    // exactly length + 1 bytes.
    unsafe {
        let n = trueshot_last_error_message(ptr::null_mut(), 0);
        let mut buf = vec![0u8; n + 1];
        assert_eq!(
            trueshot_last_error_message(buf.as_mut_ptr().cast(), buf.len()),
            n
        );
        CStr::from_bytes_with_nul(&buf)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    }
}

fn png_bytes(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn text(ptr: *const c_char) -> String {
    assert!(!ptr.is_null());
    // SAFETY (test): the library returns NUL-terminated strings.
    unsafe { CStr::from_ptr(ptr) }.to_str().unwrap().to_string()
}

#[test]
fn version_matches_cargo() {
    assert_eq!(text(trueshot_version()), env!("CARGO_PKG_VERSION"));
}

#[test]
fn status_numbers_and_names() {
    let all = [
        (trueshot_status::Ok, 0, "ok"),
        (trueshot_status::NullArgument, 1, "null argument"),
        (trueshot_status::InvalidArgument, 2, "invalid argument"),
        (trueshot_status::Io, 3, "I/O error"),
        (trueshot_status::NotFound, 4, "file not found"),
        (
            trueshot_status::UnsupportedFormat,
            5,
            "unsupported image format",
        ),
        (trueshot_status::Decode, 6, "could not decode image"),
        (trueshot_status::TooLarge, 7, "image or file too large"),
        (trueshot_status::Panic, 100, "internal error (panic)"),
    ];
    for (status, number, name) in all {
        assert_eq!(status as i32, number);
        assert_eq!(text(trueshot_status_str(number)), name);
    }
    assert_eq!(text(trueshot_status_str(8)), "unknown status");
    assert_eq!(text(trueshot_status_str(i32::MIN)), "unknown status");
}

#[test]
fn config_setters_validate() {
    // SAFETY (test): `config` is live until freed at the end.
    unsafe {
        let config = trueshot_config_new();
        assert!(!config.is_null());
        use trueshot_status::*;
        assert_eq!(trueshot_config_set_max_false_alarm(config, 0.05), Ok);
        assert_eq!(trueshot_config_set_max_false_alarm(config, 0.5), Ok);
        for bad in [0.0, -0.1, 0.51, f32::NAN, f32::INFINITY] {
            assert_eq!(
                trueshot_config_set_max_false_alarm(config, bad),
                InvalidArgument
            );
        }
        assert!(last_error().contains("max_false_alarm"));
        assert_eq!(trueshot_config_set_review_rate(config, 0.2), Ok);
        for bad in [-0.1, 1.0, f32::NAN, f32::INFINITY] {
            assert_eq!(
                trueshot_config_set_review_rate(config, bad),
                InvalidArgument
            );
        }
        assert!(last_error().contains("review_rate"));
        assert_eq!(trueshot_config_set_review_rate(config, 0.0), Ok);
        assert_eq!(trueshot_config_set_max_pixels(config, 0), InvalidArgument);
        assert_eq!(
            trueshot_config_set_max_pixels(config, 1_000_000_001),
            InvalidArgument
        );
        assert_eq!(trueshot_config_set_max_pixels(config, 1), Ok);
        assert_eq!(
            trueshot_config_set_max_file_bytes(config, 0),
            InvalidArgument
        );
        assert_eq!(trueshot_config_set_max_file_bytes(config, 1), Ok);
        assert_eq!(trueshot_config_set_heatmap(config, false), Ok);
        assert_eq!(trueshot_config_set_time_budget_ms(config, 250), Ok);
        assert_eq!(
            trueshot_config_set_model_file(config, c"/no/such/model.json".as_ptr()),
            NotFound
        );
        // A directory is not a model file.
        assert_eq!(
            trueshot_config_set_model_file(config, c"/".as_ptr()),
            InvalidArgument
        );
        assert_eq!(trueshot_config_set_model_file(config, ptr::null()), Ok);

        assert_eq!(
            trueshot_config_set_max_false_alarm(ptr::null_mut(), 0.01),
            NullArgument
        );
        assert_eq!(last_error(), "argument `config` is NULL");
        assert_eq!(
            trueshot_config_set_max_pixels(ptr::null_mut(), 1),
            NullArgument
        );
        assert_eq!(
            trueshot_config_set_max_file_bytes(ptr::null_mut(), 1),
            NullArgument
        );
        assert_eq!(
            trueshot_config_set_heatmap(ptr::null_mut(), true),
            NullArgument
        );
        assert_eq!(
            trueshot_config_set_time_budget_ms(ptr::null_mut(), 1),
            NullArgument
        );
        assert_eq!(
            trueshot_config_set_model_file(ptr::null_mut(), ptr::null()),
            NullArgument
        );

        // A refused value leaves the config as it was: max_pixels is still 1.
        let png = png_bytes(4, 4);
        let mut report = sentinel();
        assert_eq!(
            trueshot_analyze_bytes(config, png.as_ptr(), png.len(), &mut report),
            TooLarge
        );
        assert_eq!(report, sentinel());
        trueshot_config_free(config);
        trueshot_config_free(ptr::null_mut());
    }
}

/// The decoder's memory bound can be set from C: under 64 KiB is refused,
/// and an image whose pixels need more than the bound is too large.
#[test]
fn the_decoded_memory_bound_is_set_from_c() {
    // SAFETY (test): the config is live until freed; buffers are sized as passed.
    unsafe {
        let config = trueshot_config_new();
        assert_eq!(
            trueshot_config_set_max_decoded_bytes(config, 65_535),
            trueshot_status::InvalidArgument
        );
        let png = png_bytes(200, 200); // 120,000 bytes of RGB
        let mut report = sentinel();
        assert_eq!(
            trueshot_analyze_bytes(config, png.as_ptr(), png.len(), &mut report),
            trueshot_status::Ok
        );
        trueshot_report_free(report);
        assert_eq!(
            trueshot_config_set_max_decoded_bytes(config, 65_536),
            trueshot_status::Ok
        );
        let mut report = sentinel();
        assert_eq!(
            trueshot_analyze_bytes(config, png.as_ptr(), png.len(), &mut report),
            trueshot_status::TooLarge
        );
        assert_eq!(report, sentinel());
        assert_eq!(
            trueshot_config_set_max_decoded_bytes(ptr::null_mut(), 1 << 20),
            trueshot_status::NullArgument
        );
        trueshot_config_free(config);
    }
}

/// A review rate set through the C ABI reaches the analysis, survives the
/// other setters, and a model file that cannot honour it is refused with
/// the config left as it was.
#[test]
fn a_review_rate_reaches_the_analysis() {
    use trueshot_status::*;
    let png = png_bytes(64, 48);
    let dir = tempfile::tempdir().unwrap();
    let old_path = dir.path().join("old-model.json");
    common::write_model_without_genuine_scores(&old_path);
    let old_path = std::ffi::CString::new(old_path.to_str().unwrap()).unwrap();

    // SAFETY (test): `config` is live until freed; buffers are sized.
    unsafe {
        let threshold = |config: *const trueshot_config| {
            let mut report = ptr::null_mut();
            assert_eq!(
                trueshot_analyze_bytes(config, png.as_ptr(), png.len(), &mut report),
                Ok
            );
            let json: serde_json::Value =
                serde_json::from_str(&text(trueshot_report_json(report))).unwrap();
            // The page quotes a review rate only when one is set.
            let page = text(trueshot_report_html(report));
            let quoted = page.contains("about 30% of genuine photos go to review");
            trueshot_report_free(report);
            // The config tells the same thresholds before any analysis.
            let (mut flag, mut authentic) = (f32::NAN, f32::NAN);
            assert_eq!(
                trueshot_config_thresholds(config, &mut flag, &mut authentic),
                Ok
            );
            assert_eq!(json["flag_threshold"].as_f64().unwrap() as f32, flag);
            assert_eq!(
                json["authentic_threshold"].as_f64().unwrap() as f32,
                authentic
            );
            assert!(authentic < flag);
            (json["authentic_threshold"].as_f64().unwrap(), quoted)
        };
        let config = trueshot_config_new();
        let default = threshold(config);
        assert_eq!(threshold(ptr::null()), default, "NULL is the defaults");
        let mut flag_only = f32::NAN;
        assert_eq!(
            trueshot_config_thresholds(config, &mut flag_only, ptr::null_mut()),
            Ok
        );
        assert!(flag_only > 0.0);
        assert_eq!(trueshot_config_set_review_rate(config, 0.3), Ok);
        assert_eq!(trueshot_config_set_max_pixels(config, 1 << 24), Ok);
        let reviewed = threshold(config);
        assert!(reviewed.0 < default.0, "{reviewed:?} {default:?}");
        assert!(reviewed.1 && !default.1, "only a set review rate is quoted");
        assert_eq!(
            trueshot_config_set_model_file(config, old_path.as_ptr()),
            InvalidArgument
        );
        assert!(last_error().contains("review_rate"));
        assert_eq!(threshold(config), reviewed);
        assert_eq!(trueshot_config_set_review_rate(config, 0.0), Ok);
        assert_eq!(threshold(config), default);
        // A stricter false-alarm rate than the model's strictest point is
        // served by that point, and the page quotes the point's rate.
        assert_eq!(trueshot_config_set_max_false_alarm(config, 0.001), Ok);
        let mut report = ptr::null_mut();
        assert_eq!(
            trueshot_analyze_bytes(config, png.as_ptr(), png.len(), &mut report),
            Ok
        );
        assert!(text(trueshot_report_html(report)).contains("at most 0.5% false alarms"));
        trueshot_report_free(report);
        trueshot_config_free(config);
    }
}

#[test]
fn analyses_and_exact_error_statuses() {
    use trueshot_status::*;
    let png = png_bytes(40, 30);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.png");
    std::fs::write(&path, &png).unwrap();
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let pixels: Vec<u8> = (0..40 * 30 * 3).map(|i| (i * 31 % 251) as u8).collect();

    // SAFETY (test): every pointer below is live and sized as documented.
    unsafe {
        let mut report = ptr::null_mut();
        assert_eq!(
            trueshot_analyze_file(ptr::null(), c_path.as_ptr(), &mut report),
            Ok
        );
        assert!(!report.is_null());
        assert_eq!(trueshot_report_heatmap_width(report), 40);
        assert_eq!(trueshot_report_heatmap_height(report), 30);
        let map = trueshot_report_heatmap_data(report);
        let map = std::slice::from_raw_parts(map, 40 * 30);
        assert!(map.iter().all(|v| (0.0..=1.0).contains(v)));
        let json: serde_json::Value =
            serde_json::from_str(&text(trueshot_report_json(report))).unwrap();
        assert_eq!(json["image"]["format"], "png");
        assert_eq!(
            json["score"].as_f64().unwrap() as f32,
            trueshot_report_score(report)
        );
        let verdict = json["verdict"].as_str().unwrap().to_string();
        assert_eq!(
            text(trueshot_verdict_str(trueshot_report_verdict(report) as i32)),
            verdict
        );
        assert_eq!(trueshot_report_incomplete_count(report), 0);
        let n = trueshot_report_finding_count(report);
        assert_eq!(json["findings"].as_array().unwrap().len(), n);
        for i in 0..n {
            assert_eq!(
                text(trueshot_report_finding_code(report, i)),
                json["findings"][i]["code"]
            );
        }
        trueshot_report_free(report);

        let mut report = ptr::null_mut();
        assert_eq!(
            trueshot_analyze_rgb8(ptr::null(), pixels.as_ptr(), 40, 30, 120, &mut report),
            Ok
        );
        trueshot_report_free(report);

        let s = sentinel();
        let mut out = s;
        let missing = c"/definitely/not/here.jpg";
        assert_eq!(
            trueshot_analyze_file(ptr::null(), missing.as_ptr(), &mut out),
            NotFound
        );
        assert_eq!(
            trueshot_analyze_file(ptr::null(), c"/".as_ptr(), &mut out),
            Io
        );
        assert_eq!(
            trueshot_analyze_file(ptr::null(), ptr::null(), &mut out),
            NullArgument
        );
        assert_eq!(
            trueshot_analyze_file(ptr::null(), missing.as_ptr(), ptr::null_mut()),
            NullArgument
        );
        assert_eq!(
            trueshot_analyze_bytes(ptr::null(), b"hello".as_ptr(), 5, &mut out),
            UnsupportedFormat
        );
        // HEIC is named, not just "unsupported".
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0";
        assert_eq!(
            trueshot_analyze_bytes(ptr::null(), heic.as_ptr(), heic.len(), &mut out),
            UnsupportedFormat
        );
        assert!(last_error().contains("HEIC"));
        assert_eq!(
            trueshot_analyze_bytes(ptr::null(), png.as_ptr(), 20, &mut out),
            Decode
        );
        assert_eq!(
            trueshot_analyze_bytes(ptr::null(), png.as_ptr(), 0, &mut out),
            Decode
        );
        assert_eq!(
            trueshot_analyze_bytes(ptr::null(), ptr::null(), 0, &mut out),
            NullArgument
        );
        assert_eq!(
            trueshot_analyze_bytes(ptr::null(), png.as_ptr(), usize::MAX, &mut out),
            InvalidArgument
        );
        let p = pixels.as_ptr();
        assert_eq!(
            trueshot_analyze_rgb8(ptr::null(), ptr::null(), 40, 30, 120, &mut out),
            NullArgument
        );
        assert_eq!(
            trueshot_analyze_rgb8(ptr::null(), p, 0, 30, 120, &mut out),
            InvalidArgument
        );
        assert_eq!(
            trueshot_analyze_rgb8(ptr::null(), p, 40, 0, 120, &mut out),
            InvalidArgument
        );
        assert_eq!(
            trueshot_analyze_rgb8(ptr::null(), p, 40, 30, 119, &mut out),
            InvalidArgument
        );
        assert_eq!(
            trueshot_analyze_rgb8(ptr::null(), p, 1, 2, usize::MAX, &mut out),
            InvalidArgument
        );
        // Over max_pixels is refused before the buffer is read, whatever it holds.
        assert_eq!(
            trueshot_analyze_rgb8(ptr::null(), p, 100_000, 100_000, 300_000, &mut out),
            TooLarge
        );
        assert_eq!(out, s, "failed calls must not write the output");
    }
}

#[test]
fn spare_memory_is_set_process_wide_and_analysis_goes_on() {
    // 1.2 MP: its planes are large enough to be mapped buffers.
    let png = png_bytes(1200, 1000);
    assert_eq!(trueshot_set_spare_memory(0), trueshot_status::Ok);
    // SAFETY (test): the buffer and the out pointer are live.
    unsafe {
        let mut report = ptr::null_mut();
        assert_eq!(
            trueshot_analyze_bytes(ptr::null(), png.as_ptr(), png.len(), &mut report),
            trueshot_status::Ok
        );
        assert!((0.0..=1.0).contains(&trueshot_report_score(report)));
        trueshot_report_free(report);
    }
    assert_eq!(trueshot_set_spare_memory(256), trueshot_status::Ok);
}

/// The accessors of a NULL report (one an analysis failed to make) return
/// "nothing" and keep the failure's message for the caller to read after.
#[test]
fn null_report_accessors_return_nothing() {
    // SAFETY (test): NULL is allowed everywhere here.
    unsafe {
        let mut out = sentinel();
        assert_eq!(
            trueshot_analyze_file(ptr::null(), c"/nonexistent/claim.jpg".as_ptr(), &mut out),
            trueshot_status::NotFound
        );
        let cause = last_error();
        assert!(cause.contains("claim.jpg"), "{cause}");
        let r = ptr::null();
        assert_eq!(trueshot_report_score(r), -1.0);
        assert_eq!(trueshot_report_verdict(r), trueshot_verdict::Unknown);
        assert!(trueshot_report_json(r).is_null());
        assert_eq!(trueshot_report_finding_count(r), 0);
        assert_eq!(trueshot_report_incomplete_count(r), 0);
        assert!(trueshot_report_finding_code(r, 0).is_null());
        assert!(trueshot_report_finding_detector(r, 0).is_null());
        assert!(trueshot_report_finding_message(r, 0).is_null());
        assert!(trueshot_report_finding_message_zh(r, 0).is_null());
        assert_eq!(trueshot_report_finding_score(r, 0), -1.0);
        assert_eq!(trueshot_report_finding_class(r, 0), trueshot_class::None);
        let mut region = trueshot_region {
            x: 9,
            ..Default::default()
        };
        assert!(!trueshot_report_finding_region(r, 0, &mut region));
        assert_eq!(region.x, 9);
        assert_eq!(trueshot_report_heatmap_width(r), 0);
        assert_eq!(trueshot_report_heatmap_height(r), 0);
        assert!(trueshot_report_heatmap_data(r).is_null());
        assert_eq!(trueshot_config_reference_count(ptr::null()), 0);
        trueshot_report_free(ptr::null_mut());
        assert_eq!(last_error(), cause);
    }
}

#[test]
fn last_error_truncates_at_char_boundary() {
    // SAFETY (test): buffers are sized as passed.
    unsafe {
        let mut out = sentinel();
        // A path with a multi-byte character, so truncation can split one.
        let path = c"/nonexistent/\xc3\xa9\xc3\xa9\xc3\xa9.png";
        assert_eq!(
            trueshot_analyze_file(ptr::null(), path.as_ptr(), &mut out),
            trueshot_status::NotFound
        );
        let full = last_error();
        let n = trueshot_last_error_message(ptr::null_mut(), 0);
        assert_eq!(n, full.len());
        for len in 1..=n + 1 {
            let mut buf = vec![0xffu8; len];
            assert_eq!(trueshot_last_error_message(buf.as_mut_ptr().cast(), len), n);
            let s = CStr::from_bytes_until_nul(&buf).unwrap().to_str().unwrap();
            let room = len - 1; // bytes available before the NUL
            if room >= n {
                assert_eq!(s, full);
            } else {
                // Cut at a character boundary: at most 3 bytes short of the room.
                assert!(full.starts_with(s) && s.len() <= room && s.len() + 3 >= room);
            }
        }
    }
}

#[test]
fn threads_share_a_config_with_identical_results() {
    let png = png_bytes(64, 64);
    let config = trueshot_config_new() as usize; // usize: raw pointers are not Send
    let results: Vec<(u32, Vec<u32>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let png = &png;
                s.spawn(move || {
                    // SAFETY (test): the config lives until after the scope;
                    // analyses only read it.
                    unsafe {
                        let mut r = ptr::null_mut();
                        let st = trueshot_analyze_bytes(
                            config as *const _,
                            png.as_ptr(),
                            png.len(),
                            &mut r,
                        );
                        assert_eq!(st, trueshot_status::Ok);
                        let map =
                            std::slice::from_raw_parts(trueshot_report_heatmap_data(r), 64 * 64);
                        let out = (
                            trueshot_report_score(r).to_bits(),
                            map.iter().map(|v| v.to_bits()).collect(),
                        );
                        trueshot_report_free(r);
                        out
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    // SAFETY (test): no thread uses it any more.
    unsafe { trueshot_config_free(config as *mut _) };
}

/// A textured "listing" scene: a gradient, three sinusoidal textures, a
/// dozen flat rectangles placed by a fixed LCG, and a little sensor noise.
/// tests/c/test_api.c builds the same kind of scene in C.
fn listing_scene(w: u32, h: u32) -> image::RgbImage {
    let mut seed = 2024u32;
    let mut next = move || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223); // Numerical Recipes LCG
        seed >> 8
    };
    let rects: Vec<[u32; 7]> = (0..12)
        .map(|_| {
            let (x, y) = (next() % w, next() % h);
            let (rw, rh) = (20 + next() % (w / 5), 20 + next() % (h / 5));
            [
                x,
                y,
                rw,
                rh,
                40 + next() % 180,
                40 + next() % 180,
                40 + next() % 180,
            ]
        })
        .collect();
    let mut noise = 99u32;
    image::RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let tex = 14.0 * (fx * 0.21 + 3.0 * (fy * 0.05).sin()).sin()
            + 10.0 * (fy * 0.17 + 2.0 * (fx * 0.03).sin()).sin()
            + 8.0 * ((fx + fy) * 0.09).sin();
        let mut c = [
            60.0 + 120.0 * fx / w as f32,
            80.0 + 90.0 * fy / h as f32,
            150.0 - 60.0 * fx / w as f32,
        ];
        for r in &rects {
            if x >= r[0] && x < r[0] + r[2] && y >= r[1] && y < r[1] + r[3] {
                c = [r[4] as f32, r[5] as f32, r[6] as f32];
            }
        }
        noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let n = (noise >> 29) as f32 - 3.5;
        image::Rgb(c.map(|v| (v + tex + n).round().clamp(0.0, 255.0) as u8))
    })
}

/// The listing cropped at (40, 30) to 400x300, with two dark patches
/// painted on it (a doctored claim photo), as PNG.
fn doctored_crop(listing: &image::RgbImage) -> Vec<u8> {
    let mut claim = image::imageops::crop_imm(listing, 40, 30, 400, 300).to_image();
    for (x0, y0, w, h) in [(150, 100, 70, 50), (280, 200, 50, 40)] {
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                claim.put_pixel(x, y, image::Rgb([30, 26, 22]));
            }
        }
    }
    encode_png(&claim)
}

fn encode_png(img: &image::RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn references_make_a_doctored_crop_derived_and_edited() {
    let listing = listing_scene(480, 360);
    let listing_png = encode_png(&listing);
    let other_png = encode_png(&image::imageops::rotate90(&listing_scene(360, 480)));
    let claim = doctored_crop(&listing);
    let dir = tempfile::tempdir().unwrap();
    let listing_path = dir.path().join("listing.png");
    std::fs::write(&listing_path, &listing_png).unwrap();
    let listing_c = std::ffi::CString::new(listing_path.to_str().unwrap()).unwrap();
    // SAFETY (test): every pointer is live or deliberately NULL.
    unsafe {
        let config = trueshot_config_new();
        assert_eq!(trueshot_config_reference_count(config), 0);
        assert_eq!(trueshot_config_reference_count(ptr::null()), 0);
        // Bad references: exact statuses, config unchanged.
        let junk = b"not an image";
        assert_eq!(
            trueshot_config_add_reference_bytes(config, junk.as_ptr(), junk.len(), ptr::null()),
            trueshot_status::UnsupportedFormat
        );
        assert_eq!(
            trueshot_config_add_reference_bytes(config, ptr::null(), 3, ptr::null()),
            trueshot_status::NullArgument
        );
        assert_eq!(
            trueshot_config_add_reference_bytes(
                ptr::null_mut(),
                junk.as_ptr(),
                junk.len(),
                ptr::null()
            ),
            trueshot_status::NullArgument
        );
        assert_eq!(
            trueshot_config_add_reference_file(config, c"/nonexistent/listing.png".as_ptr()),
            trueshot_status::NotFound
        );
        assert!(last_error().contains("/nonexistent/listing.png"));
        assert_eq!(
            trueshot_config_add_reference_file(config, ptr::null()),
            trueshot_status::NullArgument
        );
        assert_eq!(
            trueshot_config_clear_references(ptr::null_mut()),
            trueshot_status::NullArgument
        );
        assert_eq!(trueshot_config_reference_count(config), 0);

        // Without references: no match is written.
        let mut report = ptr::null_mut();
        assert_eq!(
            trueshot_analyze_bytes(config, claim.as_ptr(), claim.len(), &mut report),
            trueshot_status::Ok
        );
        let mut m = trueshot_reference_match {
            similarity: 7.0,
            ..Default::default()
        };
        assert!(!trueshot_report_reference(report, &mut m));
        assert_eq!(m.similarity, 7.0);
        assert!(trueshot_report_reference_name(report).is_null());
        trueshot_report_free(report);

        // An unrelated reference first (index 0), then the listing (index 1).
        assert_eq!(
            trueshot_config_add_reference_bytes(
                config,
                other_png.as_ptr(),
                other_png.len(),
                c"other.png".as_ptr()
            ),
            trueshot_status::Ok
        );
        assert_eq!(
            trueshot_config_add_reference_file(config, listing_c.as_ptr()),
            trueshot_status::Ok
        );
        assert_eq!(trueshot_config_reference_count(config), 2);
        let mut report = ptr::null_mut();
        assert_eq!(
            trueshot_analyze_bytes(config, claim.as_ptr(), claim.len(), &mut report),
            trueshot_status::Ok
        );
        assert!(trueshot_report_reference(report, &mut m));
        assert!(m.derived, "{m:?}");
        assert!(m.has_index && m.index == 1, "{m:?}");
        assert!(
            m.changed_fraction > 0.01 && m.changed_fraction < 0.5,
            "{m:?}"
        );
        assert!((0.0..=1.0).contains(&m.similarity), "{m:?}");
        assert!(m.has_transform, "{m:?}");
        let t = m.transform;
        // Crop at (40, 30), no rescale: listing → claim is a shift by (-40, -30).
        assert!((t.scale - 1.0).abs() < 0.03 && !t.mirrored, "{t:?}");
        assert!(
            (t.dx + 40.0).abs() < 3.0 && (t.dy + 30.0).abs() < 3.0,
            "{t:?}"
        );
        assert_eq!(
            text(trueshot_report_reference_name(report)),
            listing_path.to_str().unwrap()
        );
        assert_eq!(trueshot_report_verdict(report), trueshot_verdict::Edited);
        assert!(!trueshot_report_reference(report, ptr::null_mut()));
        assert!(!trueshot_report_reference(ptr::null(), &mut m));

        // Its page shows the listing photo beside the claim.
        let page = text(trueshot_report_html(report));
        assert!(page.contains("Edited"), "verdict word missing");
        assert!(page.contains("Listing photo, aligned to the claim"));

        // Cleared: the next analysis has no reference; the old report keeps its.
        assert_eq!(
            trueshot_config_clear_references(config),
            trueshot_status::Ok
        );
        assert_eq!(trueshot_config_reference_count(config), 0);
        let mut plain = ptr::null_mut();
        assert_eq!(
            trueshot_analyze_bytes(config, claim.as_ptr(), claim.len(), &mut plain),
            trueshot_status::Ok
        );
        assert!(!trueshot_report_reference(plain, &mut m));
        trueshot_config_free(config);
        assert!(trueshot_report_reference(report, &mut m) && m.derived);
        trueshot_report_free(plain);
        trueshot_report_free(report);
    }
}

/// A listing indexed under raised limits stays on the page of a claim
/// analysed after the limits were lowered below its size: it is decoded
/// again under the limits it was indexed with.
#[test]
fn a_listing_keeps_the_limits_it_was_indexed_under() {
    let listing = listing_scene(480, 360);
    let listing_png = encode_png(&listing);
    let claim = doctored_crop(&listing);
    // SAFETY (test): every pointer is live.
    unsafe {
        let config = trueshot_config_new();
        assert_eq!(
            trueshot_config_set_max_pixels(config, 200_000),
            trueshot_status::Ok
        );
        assert_eq!(
            trueshot_config_add_reference_bytes(
                config,
                listing_png.as_ptr(),
                listing_png.len(),
                c"listing.png".as_ptr()
            ),
            trueshot_status::Ok
        );
        // 480 x 360 = 172,800 pixels: over the new limit; the 400 x 300
        // claim is under it.
        assert_eq!(
            trueshot_config_set_max_pixels(config, 150_000),
            trueshot_status::Ok
        );
        let mut report = ptr::null_mut();
        assert_eq!(
            trueshot_analyze_bytes(config, claim.as_ptr(), claim.len(), &mut report),
            trueshot_status::Ok
        );
        let mut m = trueshot_reference_match::default();
        assert!(
            trueshot_report_reference(report, &mut m) && m.derived,
            "{m:?}"
        );
        let page = text(trueshot_report_html(report));
        assert!(page.contains("Listing photo, aligned to the claim"));
        trueshot_report_free(report);
        trueshot_config_free(config);
    }
}

/// What a crafted upload might hide in a PNG text chunk.
const PAYLOAD: &str = "<script>alert('x')</script><img src=x onerror=alert(1)>";

fn png_with_parameters(text: &str) -> Vec<u8> {
    let (w, h) = (96u32, 64u32);
    let pixels = listing_scene(w, h).into_raw();
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .add_text_chunk("parameters".into(), text.into())
            .unwrap();
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&pixels).unwrap();
    }
    bytes
}

#[test]
fn html_page_has_the_verdict_and_escapes_metadata() {
    let bytes = png_with_parameters(&format!("{PAYLOAD} Steps: 20, Sampler: Euler a"));
    let pixels = listing_scene(96, 64);
    // SAFETY (test): every pointer is live or deliberately NULL.
    unsafe {
        assert!(trueshot_report_html(ptr::null()).is_null());
        let mut report = ptr::null_mut();
        assert_eq!(
            trueshot_analyze_bytes(ptr::null(), bytes.as_ptr(), bytes.len(), &mut report),
            trueshot_status::Ok
        );
        // The payload reached the report (else the test would prove nothing).
        assert!(text(trueshot_report_json(report)).contains("onerror"));
        let page_ptr = trueshot_report_html(report);
        let page = text(page_ptr);
        assert_eq!(trueshot_report_html(report), page_ptr, "built once, kept");
        assert!(page.starts_with("<!DOCTYPE html>"));
        let word = match trueshot_report_verdict(report) {
            trueshot_verdict::Authentic => "Authentic",
            trueshot_verdict::Inconclusive => "Inconclusive",
            trueshot_verdict::Edited => "Edited",
            trueshot_verdict::AiGenerated => "AI-generated",
            trueshot_verdict::Unknown => unreachable!(),
        };
        assert!(page.contains(word), "verdict word {word} missing");
        assert!(
            page.contains("&lt;script&gt;alert("),
            "payload not shown escaped"
        );
        assert!(!page.contains("<script>alert("), "payload not escaped");
        assert!(!page.contains("<img src=x"), "payload not escaped");
        assert!(page.contains("data:image/jpeg;base64,"), "photo missing");
        trueshot_report_free(report);

        // Raw pixels have a page too, at the analysed size.
        let mut raw = ptr::null_mut();
        assert_eq!(
            trueshot_analyze_rgb8(ptr::null(), pixels.as_ptr(), 96, 64, 96 * 3, &mut raw),
            trueshot_status::Ok
        );
        let page = text(trueshot_report_html(raw));
        assert!(page.contains(r#"width="96" height="64""#), "photo size");
        trueshot_report_free(raw);
    }
}

#[test]
fn large_raw_pixels_keep_a_small_copy_for_the_page() {
    let pixels = listing_scene(2000, 500);
    // SAFETY (test): live pointers.
    unsafe {
        let config = trueshot_config_new();
        assert_eq!(
            trueshot_config_set_heatmap(config, false),
            trueshot_status::Ok
        );
        let mut raw = ptr::null_mut();
        assert_eq!(
            trueshot_analyze_rgb8(config, pixels.as_ptr(), 2000, 500, 2000 * 3, &mut raw),
            trueshot_status::Ok
        );
        let page = text(trueshot_report_html(raw));
        assert!(page.contains(r#"width="2000" height="500""#), "photo size");
        trueshot_report_free(raw);
        trueshot_config_free(config);
    }
}

#[test]
fn model_file_must_be_a_regular_valid_model() {
    let dir = tempfile::tempdir().unwrap();
    let dir_c = std::ffi::CString::new(dir.path().to_str().unwrap()).unwrap();
    let bad = dir.path().join("bad-model.json");
    std::fs::write(&bad, "{\"not\": \"a model\"").unwrap();
    let bad_c = std::ffi::CString::new(bad.to_str().unwrap()).unwrap();
    // SAFETY (test): live pointers.
    unsafe {
        let config = trueshot_config_new();
        assert_eq!(
            trueshot_config_set_model_file(config, dir_c.as_ptr()),
            trueshot_status::InvalidArgument
        );
        assert!(
            last_error().contains("not a regular file"),
            "{}",
            last_error()
        );
        assert_eq!(
            trueshot_config_set_model_file(config, bad_c.as_ptr()),
            trueshot_status::InvalidArgument
        );
        assert!(last_error().contains("model"), "{}", last_error());
        // The config still works, with the built-in model.
        let png = png_bytes(64, 48);
        let mut report = ptr::null_mut();
        assert_eq!(
            trueshot_analyze_bytes(config, png.as_ptr(), png.len(), &mut report),
            trueshot_status::Ok
        );
        trueshot_report_free(report);
        trueshot_config_free(config);
    }
}

/// The model file is read when it is set, and only then: a later, unrelated
/// setter neither fails because the file went away nor picks up a file
/// changed in between; setting the file again does. A model another build
/// fitted loads with a warning the caller can read.
#[test]
fn model_file_is_read_once_by_its_own_setter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    let builtin =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/default.json"))
            .unwrap();
    std::fs::write(&path, &builtin).unwrap();
    let mut changed: serde_json::Value = serde_json::from_str(&builtin).unwrap();
    for head in ["ai_generated", "edited"] {
        changed[head]["bias"] = serde_json::json!(12.0);
    }
    changed["fitted_by"] = serde_json::json!("0.0.1+0000000000000000");
    let path_c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let png = png_bytes(64, 48);
    // SAFETY (test): live pointers.
    unsafe {
        let config = trueshot_config_new();
        let score = |config: *const trueshot_config| {
            let mut report = ptr::null_mut();
            assert_eq!(
                trueshot_analyze_bytes(config, png.as_ptr(), png.len(), &mut report),
                trueshot_status::Ok
            );
            let s = trueshot_report_score(report);
            trueshot_report_free(report);
            s
        };
        let warning = || {
            let w = trueshot_config_model_warning(config);
            (!w.is_null()).then(|| text(w))
        };
        assert_eq!(warning(), None, "the built-in model");
        assert_eq!(
            trueshot_config_set_model_file(config, path_c.as_ptr()),
            trueshot_status::Ok
        );
        assert_eq!(warning(), None, "a model that names no build");
        let before = score(config);
        std::fs::write(&path, changed.to_string()).unwrap();
        assert_eq!(
            trueshot_config_set_heatmap(config, true),
            trueshot_status::Ok
        );
        assert_eq!(score(config), before, "a changed file crept in");
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            trueshot_config_set_max_false_alarm(config, 0.02),
            trueshot_status::Ok
        );
        std::fs::write(&path, changed.to_string()).unwrap();
        assert_eq!(
            trueshot_config_set_model_file(config, path_c.as_ptr()),
            trueshot_status::Ok
        );
        assert!(
            score(config) > 0.99,
            "the file set again is the changed one"
        );
        let said = warning().expect("a warning");
        assert!(
            said.contains("fitted by trueshot 0.0.1+0000000000000000; this is "),
            "{said}"
        );
        // The pointer lasts until the model changes.
        let kept = trueshot_config_model_warning(config);
        assert_eq!(
            trueshot_config_set_time_budget_ms(config, 5_000),
            trueshot_status::Ok
        );
        assert_eq!(trueshot_config_model_warning(config), kept);
        assert_eq!(
            trueshot_config_set_model_file(config, ptr::null()),
            trueshot_status::Ok
        );
        assert_eq!(warning(), None, "back to the built-in model");
        assert!(trueshot_config_model_warning(ptr::null()).is_null());
        trueshot_config_free(config);
    }
}

/// A C caller can tell an analysis the time budget cut short without
/// parsing the JSON: the count matches the JSON's `incomplete`.
#[test]
fn a_cut_analysis_counts_what_it_skipped() {
    let pixels: Vec<u8> = (0..1200 * 900 * 3).map(|i| (i * 31 % 251) as u8).collect();
    // SAFETY (test): every pointer below is live and sized as documented.
    unsafe {
        let config = trueshot_config_new();
        assert_eq!(
            trueshot_config_set_time_budget_ms(config, 1),
            trueshot_status::Ok
        );
        let mut report = ptr::null_mut();
        assert_eq!(
            trueshot_analyze_rgb8(config, pixels.as_ptr(), 1200, 900, 1200 * 3, &mut report),
            trueshot_status::Ok
        );
        let json: serde_json::Value =
            serde_json::from_str(&text(trueshot_report_json(report))).unwrap();
        let skipped = json["incomplete"].as_array().map_or(0, Vec::len);
        assert!(skipped > 0, "{json}");
        assert_eq!(trueshot_report_incomplete_count(report), skipped);
        assert_ne!(trueshot_report_verdict(report), trueshot_verdict::Authentic);
        trueshot_report_free(report);
        trueshot_config_free(config);
    }
}
