//! Calls the `extern "C"` functions from Rust and asserts the exact statuses
//! for NULLs, bad sizes and bad values (gifski's `c_api.rs` tests). Needs
//! `--features capi` (see `[[test]]` in Cargo.toml).

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
        assert_eq!(trueshot_config_set_model_file(config, c"/".as_ptr()), Ok);
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
fn null_report_accessors_return_nothing() {
    // SAFETY (test): NULL is allowed everywhere here.
    unsafe {
        let r = ptr::null();
        assert_eq!(trueshot_report_score(r), -1.0);
        assert_eq!(trueshot_report_verdict(r), trueshot_verdict::Unknown);
        assert!(trueshot_report_json(r).is_null());
        assert_eq!(trueshot_report_finding_count(r), 0);
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
        trueshot_report_free(ptr::null_mut());
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
