//! Concurrency stress test (issue 9, section 4): many threads analyse a mixed
//! set of good and hostile inputs, all made here so the expected outcome of
//! each is known by construction, through one shared `Analyzer` and through
//! one `Analyzer` per thread. Every thread must get, for every input, exactly
//! the result a single-threaded run gets: the same error code, or the same
//! report bit for bit (wall-clock timings aside).
//!
//! The same through the C ABI is in `tests/c/test_api.c` (run by
//! tests/ffi_c.rs, also under valgrind).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::{Rgb, RgbImage};
use trueshot::{Analyzer, Config, Error, Report};

mod common;
use common::Rng;

const THREADS: usize = 8;

/// A photo-like image: gradient, texture and noise that differ by `seed`.
fn photo(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut rng = Rng(seed);
    let f = 0.05 + (seed % 7) as f32 * 0.02;
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let t = 30.0 * (fx * f).sin() * (fy * f * 0.7).cos();
        let n = (rng.next() % 9) as f32 - 4.0;
        Rgb([
            (80.0 + fx * 0.4 + t + n).clamp(0.0, 255.0) as u8,
            (90.0 + fy * 0.5 - t + n).clamp(0.0, 255.0) as u8,
            (120.0 + t * 0.5 + n).clamp(0.0, 255.0) as u8,
        ])
    })
}

fn encode(img: &RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// CRC-32 (ISO-HDLC, the PNG chunk checksum), bitwise: only for the few
/// bytes of a crafted header.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A decompression bomb's front: a valid PNG signature and IHDR declaring
/// `w x h` RGB pixels, then a tiny IDAT. Must be refused before allocation.
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

/// One input and the error code it must give (`None`: it must analyse).
struct Input {
    name: String,
    bytes: Vec<u8>,
    expect: Option<&'static str>,
}

fn inputs() -> Vec<Input> {
    let mut all = Vec::new();
    let mut push = |name: String, bytes: Vec<u8>, expect| {
        all.push(Input {
            name,
            bytes,
            expect,
        })
    };
    for seed in 0..8u64 {
        let (w, h) = (160 + 16 * seed as u32, 120 + 8 * seed as u32);
        let img = photo(w, h, seed);
        let jpeg = encode(&img, image::ImageFormat::Jpeg);
        let png = encode(&img, image::ImageFormat::Png);
        if seed % 2 == 0 {
            push(format!("good-{seed}.jpg"), jpeg.clone(), None);
            push(
                format!("truncated-{seed}.jpg"),
                jpeg[..jpeg.len() / 2].to_vec(),
                Some("decode"),
            );
        } else {
            push(format!("good-{seed}.png"), png.clone(), None);
            push(
                format!("truncated-{seed}.png"),
                png[..png.len() / 2].to_vec(),
                Some("decode"),
            );
        }
    }
    let mut rng = Rng(7);
    for i in 0..4 {
        let len = 16 + (rng.next() % 4000) as usize;
        let bytes = (0..len).map(|_| rng.next() as u8).collect();
        push(format!("random-{i}.bin"), bytes, Some("unsupported_format"));
    }
    push(
        "bomb-60000.png".into(),
        png_declaring(60000, 60000),
        Some("too_large"),
    );
    push(
        "bomb-65535.png".into(),
        png_declaring(65535, 65535),
        Some("too_large"),
    );
    push("empty.jpg".into(), Vec::new(), Some("decode"));
    // A JPEG/PNG signature and nothing else.
    push(
        "signature.jpg".into(),
        vec![0xff, 0xd8, 0xff, 0xe0],
        Some("decode"),
    );
    push(
        "signature.png".into(),
        b"\x89PNG\r\n\x1a\n".to_vec(),
        Some("decode"),
    );
    all
}

/// Everything a result says that must not depend on threads: the error
/// code, or the JSON (without wall-clock timings) and the heatmap's bits.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Report { json: String, heatmap: Vec<u32> },
    Error(&'static str),
}

fn outcome(result: Result<Report, Error>) -> Outcome {
    match result {
        Ok(mut report) => {
            report.timings_ms.clear();
            let heatmap = report
                .heatmap
                .as_ref()
                .map(|h| h.values.iter().map(|v| v.to_bits()).collect())
                .unwrap_or_default();
            Outcome::Report {
                json: report.to_json(),
                heatmap,
            }
        }
        Err(e) => Outcome::Error(e.code()),
    }
}

/// Analyse input `i`, by path for odd `i` (exercising the file reader) and
/// by bytes for even `i`.
fn run(analyzer: &Analyzer, inputs: &[Input], paths: &[PathBuf], i: usize) -> Outcome {
    if i % 2 == 1 {
        outcome(analyzer.analyze_path(&paths[i]))
    } else {
        outcome(analyzer.analyze_bytes(&inputs[i].bytes))
    }
}

fn write_all(dir: &Path, inputs: &[Input]) -> Vec<PathBuf> {
    inputs
        .iter()
        .map(|input| {
            let path = dir.join(&input.name);
            std::fs::write(&path, &input.bytes).unwrap();
            path
        })
        .collect()
}

#[test]
fn many_threads_over_good_and_hostile_inputs_agree_with_one() {
    let inputs = inputs();
    assert!(inputs.len() >= 25, "{} inputs", inputs.len());
    let dir = tempfile::tempdir().unwrap();
    let paths = write_all(dir.path(), &inputs);

    // The single-threaded truth, with a fresh analyser.
    let single = Analyzer::new(Config::default()).unwrap();
    let truth: Vec<Outcome> = (0..inputs.len())
        .map(|i| run(&single, &inputs, &paths, i))
        .collect();
    for (input, got) in inputs.iter().zip(&truth) {
        match (input.expect, got) {
            (None, Outcome::Report { .. }) => {}
            (Some(want), Outcome::Error(code)) => assert_eq!(*code, want, "{}", input.name),
            (want, got) => panic!("{}: want {want:?}, got {got:?}", input.name),
        }
    }

    let shared = Arc::new(Analyzer::new(Config::default()).unwrap());
    let (inputs, paths, truth) = (Arc::new(inputs), Arc::new(paths), Arc::new(truth));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (shared, inputs, paths, truth) = (
                Arc::clone(&shared),
                Arc::clone(&inputs),
                Arc::clone(&paths),
                Arc::clone(&truth),
            );
            std::thread::spawn(move || {
                let own = Analyzer::new(Config::default()).unwrap();
                let n = inputs.len();
                // Each thread starts at a different input so different
                // inputs are in flight at once.
                for k in 0..n {
                    let i = (k + t * 5) % n;
                    let name = &inputs[i].name;
                    let via_shared = run(&shared, &inputs, &paths, i);
                    assert_eq!(via_shared, truth[i], "thread {t}, shared analyser, {name}");
                    let via_own = run(&own, &inputs, &paths, i);
                    assert_eq!(via_own, truth[i], "thread {t}, own analyser, {name}");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("a stress thread failed");
    }
}
