//! Property tests (proptest) on images made in code: any size from 1x1,
//! grey, RGBA and 16-bit, any valid Config. Checked: no panic, a heatmap of
//! the input size, scores in [0, 1], and identical results for 1 and N threads.

mod common;

use image::{DynamicImage, GrayImage, ImageBuffer, Rgb, RgbaImage};
use proptest::prelude::*;
use trueshot::{Analyzer, Config, Report};

fn check(report: &Report, width: u32, height: u32) {
    assert!(
        (0.0..=1.0).contains(&report.score),
        "score {}",
        report.score
    );
    assert!((0.0..=1.0).contains(&report.scores.ai_generated));
    assert!((0.0..=1.0).contains(&report.scores.edited));
    for f in &report.findings {
        assert!((0.0..=1.0).contains(&f.score), "{f:?}");
        if let Some(r) = f.region {
            assert!(r.x + r.width <= width && r.y + r.height <= height, "{r:?}");
        }
    }
    if let Some(map) = &report.heatmap {
        assert_eq!((map.width, map.height), (width, height));
        let full = map.upscaled();
        assert_eq!(full.len(), width as usize * height as usize);
        assert!(full.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}

fn image_of(kind: u8, width: u32, height: u32, seed: u64) -> DynamicImage {
    let rgb = common::camera_like(width, height, seed);
    match kind % 4 {
        0 => DynamicImage::ImageRgb8(rgb),
        1 => DynamicImage::ImageLuma8(GrayImage::from_fn(width, height, |x, y| {
            image::Luma([rgb.get_pixel(x, y).0[1]])
        })),
        2 => DynamicImage::ImageRgba8(RgbaImage::from_fn(width, height, |x, y| {
            let p = rgb.get_pixel(x, y).0;
            image::Rgba([p[0], p[1], p[2], ((x + y) % 256) as u8])
        })),
        _ => DynamicImage::ImageRgb16(ImageBuffer::<Rgb<u16>, Vec<u16>>::from_fn(
            width,
            height,
            |x, y| {
                let p = rgb.get_pixel(x, y).0;
                Rgb(p.map(|v| u16::from(v) * 257 + (x as u16 % 7)))
            },
        )),
    }
}

fn run_with_threads(config: &Config, threads: usize, image: &DynamicImage) -> Report {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let analyzer = Analyzer::new(config.clone()).expect("valid config");
    pool.install(|| analyzer.analyze_image(image))
        .expect("analysis")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, .. ProptestConfig::default() })]

    #[test]
    fn any_small_image_any_config(
        width in 1u32..90,
        height in 1u32..90,
        kind in 0u8..4,
        seed in 0u64..1000,
        heatmap in any::<bool>(),
        copy_move_max_pixels in 0u64..10_000,
        max_false_alarm in 0.001f32..0.5,
    ) {
        let mut config = Config::default();
        config.heatmap = heatmap;
        config.copy_move_max_pixels = copy_move_max_pixels;
        config.max_false_alarm = max_false_alarm;
        let image = image_of(kind, width, height, seed);
        let one = run_with_threads(&config, 1, &image);
        check(&one, width, height);
        let many = run_with_threads(&config, 3, &image);
        prop_assert_eq!(one.score.to_bits(), many.score.to_bits());
        prop_assert_eq!(&one.findings, &many.findings);
        prop_assert_eq!(&one.heatmap, &many.heatmap);
        prop_assert_eq!(one.verdict, many.verdict);
    }

    #[test]
    fn encoded_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = trueshot::analyze_bytes(&data, &Config::default());
    }

    #[test]
    fn mutated_jpeg_never_panics(
        seed in 0u64..50,
        flips in proptest::collection::vec((0usize..4000, any::<u8>()), 1..12),
        cut in 0usize..5000,
    ) {
        let mut bytes = common::jpeg(&common::camera_like(48, 40, seed), 80);
        for (at, value) in flips {
            let n = bytes.len();
            bytes[at % n] = value;
        }
        bytes.truncate(cut.max(2).min(bytes.len()));
        if let Ok(report) = trueshot::analyze_bytes(&bytes, &Config::default()) {
            check(&report, report.image.width, report.image.height);
        }
    }
}

#[test]
fn edge_sizes() {
    for (w, h) in [
        (1, 1),
        (1, 97),
        (97, 1),
        (7, 7),
        (31, 33),
        (63, 65),
        (64, 64),
        (65, 63),
        (257, 3),
    ] {
        for kind in 0..4 {
            let image = image_of(kind, w, h, 1);
            let report = run_with_threads(&Config::default(), 2, &image);
            check(&report, w, h);
        }
    }
}
