//! Matching one claim against a catalogue of 1,000 references (issue 7), and
//! a detail (as cut, and sharpened and brightened) and an unrelated photo
//! against the eight listing photos of one product.
//! Inputs are synthetic (made here), so the bench needs no data files.

use criterion::{criterion_group, criterion_main, Criterion};
use image::{DynamicImage, Rgb, RgbImage};
use trueshot::References;

/// A textured image that differs per seed.
fn image(seed: u32, w: u32, h: u32) -> RgbImage {
    let s = seed as f32;
    RgbImage::from_fn(w, h, |x, y| {
        let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
        let a = (u * (5.0 + s % 7.0) + s).sin() * (v * (3.0 + s % 5.0) - s).cos();
        let b = ((u + v) * (13.0 + s % 11.0)).sin();
        let n = ((x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503) ^ seed) % 17) as f32;
        let g = (128.0 + 70.0 * a + 30.0 * b + n).clamp(0.0, 255.0) as u8;
        Rgb([g, g.wrapping_add((seed % 40) as u8), 255 - g])
    })
}

fn bench(c: &mut Criterion) {
    let mut refs = References::new();
    for i in 0..1000 {
        refs.push_image(
            &DynamicImage::ImageRgb8(image(i, 320, 240)),
            Some(format!("ref{i}")),
        );
    }
    let listing = image(500, 320, 240);
    let claim = image::imageops::crop_imm(&listing, 20, 16, 272, 204).to_image();
    let claim = DynamicImage::ImageRgb8(image::imageops::resize(
        &claim,
        180,
        135,
        image::imageops::FilterType::Triangle,
    ));
    let unrelated = DynamicImage::ImageRgb8(image(5000, 300, 200));
    // The listing photos of one product (a small catalogue, searched window
    // by window): a claim cut out of one of eight at its own resolution.
    let mut product = References::new();
    for i in 0..8 {
        product.push_image(
            &DynamicImage::ImageRgb8(image(2000 + i, 1600, 1200)),
            Some(format!("product{i}")),
        );
    }
    let source = image(2003, 1600, 1200);
    let detail = image::imageops::crop_imm(&source, 530, 260, 768, 768).to_image();
    // The same detail as a photo app leaves it: sharpened (unsharp mask,
    // sigma 1) and brightened until parts clip, which takes the refits of
    // the sharpening and the tones, and the clipping slack; compare with
    // `match_detail_8` in the same run. (A sigma of 2 or more lifts this
    // scene's white grain until the detail no longer matches, similarity
    // 0.69-0.70; sharpened details of 20 dev photos all match.)
    let sharpened = DynamicImage::ImageRgb8(image::imageops::brighten(
        &image::imageops::unsharpen(&detail, 1.0, 0),
        30,
    ));
    let detail = DynamicImage::ImageRgb8(detail);
    let mut group = c.benchmark_group("reference");
    group.sample_size(10);
    group.bench_function("match_detail_8", |b| b.iter(|| product.best_match(&detail)));
    group.bench_function("match_sharpened_8", |b| {
        b.iter(|| product.best_match(&sharpened))
    });
    group.bench_function("match_derived_1000", |b| b.iter(|| refs.best_match(&claim)));
    group.bench_function("match_unrelated_1000", |b| {
        b.iter(|| refs.best_match(&unrelated))
    });
    // The honest claim against a product's listings: not derived, so the
    // small catalogue is also searched for a copied part.
    group.bench_function("match_unrelated_8", |b| {
        b.iter(|| product.best_match(&unrelated))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
