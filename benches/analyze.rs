//! Speed of the whole analysis, of each detector alone, and of decoding
//! alone (the baseline), on camera-like JPEGs made here (issue 8).
//!
//! Absolute times drift on shared machines, so the bench ends by printing
//! every median as a ratio to the decode median of the same size, measured
//! in the same run. Everything runs on one thread (a one-thread rayon pool)
//! unless the id says `threads_all`.
//!
//! ```text
//! CARGO_TARGET_DIR=... cargo bench --bench analyze            # all (~3 min)
//! CARGO_TARGET_DIR=... cargo bench --bench analyze -- 4mp     # a filter
//! ```

use std::path::PathBuf;
use std::time::Duration;

use criterion::{black_box, Criterion};
use image::{ImageFormat, RgbImage};
use trueshot::decode::Format;
use trueshot::detectors::residual::laplacian_residual;
use trueshot::detectors::PixelContext;
use trueshot::detectors::{
    cfa, copy_move, jpeg, local_consistency, noise_residual, spectrum, texture_stats,
    DetectorOutput, FftPlans,
};
use trueshot::{Analyzer, Config};

#[path = "../tests/common/mod.rs"]
mod common;

/// Image sizes: about 1, 4 and 12 megapixels, 4:3 like most cameras.
const SIZES: [(&str, u32, u32); 3] = [
    ("1mp", 1152, 864),
    ("4mp", 2304, 1728),
    ("12mp", 4000, 3000),
];

/// Camera quality JPEG; q92 is typical of phone cameras.
const QUALITY: u8 = 92;

type Detector = fn(&PixelContext<'_>) -> DetectorOutput;

/// Every pixel detector, benched alone (in an analysis, copy_move runs on
/// images up to `Config::copy_move_max_pixels`).
const DETECTORS: [(&str, Detector); 7] = [
    ("noise_residual", noise_residual::run),
    ("spectrum", spectrum::run),
    ("cfa", cfa::run),
    ("jpeg", jpeg::run),
    ("texture_stats", texture_stats::run),
    ("local_consistency", local_consistency::run),
    ("copy_move", copy_move::run),
];

fn single_thread() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("one-thread pool")
}

fn config(threads: usize) -> Config {
    let mut config = Config::default();
    config.threads = threads;
    config
}

fn bench(c: &mut Criterion) {
    let pool = single_thread();
    let mut group = c.benchmark_group("analyze");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let analyzer = Analyzer::new(config(1)).expect("config");
    for (name, w, h) in SIZES {
        let jpg = common::jpeg(&common::camera_like(w, h, 7), QUALITY);
        group.bench_function(format!("decode_{name}"), |b| {
            b.iter(|| {
                image::load_from_memory_with_format(black_box(&jpg), ImageFormat::Jpeg)
                    .expect("decode")
            });
        });
        group.bench_function(format!("full_{name}"), |b| {
            b.iter(|| analyzer.analyze_bytes(black_box(&jpg)).expect("analyze"));
        });
        if name == "1mp" {
            // What keeping an Analyzer (FFT plans, model, pool) is worth.
            group.bench_function("fresh_analyzer_1mp", |b| {
                b.iter(|| {
                    Analyzer::new(config(1))
                        .expect("config")
                        .analyze_bytes(black_box(&jpg))
                        .expect("analyze")
                });
            });
        }
        if name == "12mp" {
            let all = Analyzer::new(config(0)).expect("config");
            group.bench_function("full_12mp_threads_all", |b| {
                b.iter(|| all.analyze_bytes(black_box(&jpg)).expect("analyze"));
            });
        }
        if name != "1mp" {
            bench_detectors(&mut group, &pool, name, &jpg);
        }
    }
    group.finish();
}

/// Each pixel detector alone, on the planes the analyser would give it.
fn bench_detectors(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    pool: &rayon::ThreadPool,
    name: &str,
    jpg: &[u8],
) {
    let decoded = image::load_from_memory_with_format(jpg, ImageFormat::Jpeg).expect("decode");
    let rgb: RgbImage = decoded.to_rgb8();
    let (w, h) = rgb.dimensions();
    let luma: Vec<f32> = rgb
        .pixels()
        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
        .collect();
    group.bench_function(format!("planes_{name}"), |b| {
        b.iter(|| pool.install(|| laplacian_residual(black_box(&luma), w as usize, h as usize)));
    });
    let residual = laplacian_residual(&luma, w as usize, h as usize);
    let meta = trueshot::metadata::extract(jpg, Format::Jpeg);
    let fft = FftPlans::default();
    let ctx = PixelContext {
        rgb: rgb.as_raw(),
        luma: &luma,
        residual: &residual,
        width: w,
        height: h,
        format: Some(Format::Jpeg),
        quant_tables: &meta.quant_tables,
        jpeg_quality: jpeg::estimate_quality(&meta.quant_tables).map(|q| q.quality),
        fft: &fft,
    };
    for (id, run) in DETECTORS {
        group.bench_function(format!("{id}_{name}"), |b| {
            b.iter(|| pool.install(|| run(black_box(&ctx))));
        });
    }
}

/// Where criterion 0.5 writes its results.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("criterion")
}

/// Median of one bench from this run, in nanoseconds.
fn median_ns(id: &str) -> Option<f64> {
    let path = criterion_dir()
        .join("analyze")
        .join(id)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

/// Every median as a multiple of the decode median of the same size.
fn print_ratios() {
    println!("\nratio to decoding the same JPEG with the image crate (median, one thread):");
    println!(
        "{:<28} {:>10} {:>8} {:>8}",
        "bench", "ms", "ms/MP", "x decode"
    );
    for (name, w, h) in SIZES {
        let Some(decode) = median_ns(&format!("decode_{name}")) else {
            continue;
        };
        let mp = f64::from(w) * f64::from(h) / 1e6;
        let ids = ["decode", "full", "fresh_analyzer", "full_THREADS", "planes"]
            .into_iter()
            .chain(DETECTORS.iter().map(|d| d.0));
        for id in ids {
            let full = if id == "full_THREADS" {
                format!("full_{name}_threads_all")
            } else {
                format!("{id}_{name}")
            };
            if let Some(ns) = median_ns(&full) {
                println!(
                    "{full:<28} {:>10.1} {:>8.1} {:>8.2}",
                    ns / 1e6,
                    ns / 1e6 / mp,
                    ns / decode
                );
            }
        }
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    print_ratios();
}
