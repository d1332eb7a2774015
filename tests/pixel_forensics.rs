//! Pixel forensics on images whose truth is known by construction.

use trueshot::detectors::residual::laplacian_residual;
use trueshot::detectors::{
    self, cfa, local_consistency, noise_residual, spectrum, DetectorOutput, FftPlans, PixelContext,
};
use trueshot::{Class, DetectorKind, Finding, Heatmap, Region};

/// Deterministic generator (PCG-style LCG) with Gaussian samples.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }

    fn gauss(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f32::consts::PI * v).cos()
    }
}

fn run(rgb: &image::RgbImage, detector: fn(&PixelContext<'_>) -> DetectorOutput) -> DetectorOutput {
    let (w, h) = rgb.dimensions();
    let luma: Vec<f32> = rgb
        .pixels()
        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
        .collect();
    let residual = laplacian_residual(&luma, w as usize, h as usize);
    let fft = FftPlans::default();
    let ctx = PixelContext {
        rgb: rgb.as_raw(),
        luma: &luma,
        residual: &residual,
        width: w,
        height: h,
        format: None,
        quant_tables: &[],
        jpeg_quality: None,
        fft: &fft,
    };
    detector(&ctx)
}

fn feature(out: &DetectorOutput, name: &str) -> f32 {
    out.features
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("missing feature {name}"))
}

fn grey(w: u32, h: u32, mut f: impl FnMut(u32, u32) -> f32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let v = f(x, y).round().clamp(0.0, 255.0) as u8;
        image::Rgb([v, v, v])
    })
}

/// A smooth scene (brightness 40..220) with camera-like noise
/// σ² = 0.08·μ + 1 (Poissonian-Gaussian), a 64x64 patch without noise at
/// (64, 64) (smoothed/inpainted) and a 64x64 patch with 4x the noise at
/// (256, 192) (spliced from a noisier camera).
fn two_patch_scene() -> image::RgbImage {
    let (w, h) = (384u32, 320u32);
    let mut rng = Rng(7);
    let clean = |x: u32, y: u32| (x, y) >= (64, 64) && x < 128 && (64..128).contains(&y);
    let noisy = |x: u32, y: u32| (256..320).contains(&x) && (192..256).contains(&y);
    let mut values = vec![0.0f32; (w * h) as usize];
    for y in 0..h {
        for x in 0..w {
            let mu =
                40.0 + 180.0 * x as f32 / w as f32 * (0.8 + 0.2 * (y as f32 / 50.0).sin().abs());
            let sigma = (0.08 * mu + 1.0).sqrt();
            let n = rng.gauss();
            values[(y * w + x) as usize] = if clean(x, y) {
                mu
            } else if noisy(x, y) {
                mu + 4.0 * sigma * n
            } else {
                mu + sigma * n
            };
        }
    }
    grey(w, h, |x, y| values[(y * w + x) as usize])
}

#[test]
fn noise_map_flags_smoothed_and_noisier_patches_only() {
    let rgb = two_patch_scene();
    let (w, h) = rgb.dimensions();
    let out = run(&rgb, noise_residual::run);
    let map = out.map.clone().expect("noise map");
    assert_eq!((map.width, map.height), (w, h));
    let mut clean_hits = 0;
    let mut noisy_hits = 0;
    for y in (8..h).step_by(16) {
        for x in (8..w).step_by(16) {
            let v = map.at(x, y);
            // Centres well inside each patch (one cell from its border).
            if (80..112).contains(&x) && (80..112).contains(&y) {
                clean_hits += usize::from(v >= 0.5);
            } else if (272..304).contains(&x) && (208..240).contains(&y) {
                noisy_hits += usize::from(v >= 0.5);
            } else if !(48..144).contains(&x) || !(48..144).contains(&y) {
                // Away from the patches (one cell of margin for block overlap).
                if !((240..336).contains(&x) && (176..272).contains(&y)) {
                    assert!(v < 0.5, "false alarm {v} at ({x}, {y})");
                }
            }
        }
    }
    assert_eq!(clean_hits, 4, "smoothed patch");
    assert_eq!(noisy_hits, 4, "noisier patch");
    assert!(feature(&out, "noise_residual.score") >= 0.5);
    assert!(out.findings.iter().any(|f| f.region.is_some()));
}

/// The two patches of [`two_patch_scene`], with another detector's map
/// (8-px cells, over the whole frame while the noise map covers the
/// content from (64, 64), as inside margins) flagging one boxed cell inside
/// the smoothed patch only: the smoothed patch stays marked, the noisier
/// one is described but not marked.
#[test]
fn noise_regions_stay_marked_only_where_another_map_confirms_them() {
    let rgb = two_patch_scene();
    let (w, h) = rgb.dimensions();
    let with_other_map = |level: f32| {
        let noise = run(&rgb, noise_residual::run);
        assert_eq!(regions(&noise).len(), 2);
        let mut other = DetectorOutput::empty(DetectorKind::Jpeg);
        let mut map = Heatmap::zeros(w + 64, h + 64, 8);
        // Pixels (160..168, 160..168) of the frame: (96, 96) of the noise
        // map, inside the smoothed patch.
        map.values[(160 / 8) * map.grid_width as usize + 160 / 8] = level;
        other.map = Some(map);
        let cell = Region {
            x: 160,
            y: 160,
            width: 8,
            height: 8,
        };
        other.findings.push(
            Finding::new(
                DetectorKind::Jpeg,
                "jpeg.local_single_compression",
                0.5,
                Class::Edited,
                String::new(),
                String::new(),
            )
            .with_region(cell),
        );
        let content = Region {
            x: 64,
            y: 64,
            width: w,
            height: h,
        };
        let frame = Region {
            x: 0,
            y: 0,
            width: w + 64,
            height: h + 64,
        };
        let mut outputs = vec![(content, noise), (frame, other)];
        detectors::confirm_regions(&mut outputs);
        outputs.swap_remove(0).1
    };

    let out = with_other_map(0.9);
    let kept = regions(&out);
    assert_eq!(kept.len(), 1);
    assert!(
        kept[0].contains(96, 96) && !kept[0].contains(288, 224),
        "{kept:?}"
    );
    let map = out.map.clone().expect("noise map");
    assert!(map.at(96, 96) >= 0.5);
    assert!(map.at(288, 224) < 0.5);
    let unmarked: Vec<&Finding> = out
        .findings
        .iter()
        .filter(|f| f.code == "noise_residual.region" && f.region.is_none())
        .collect();
    assert_eq!(unmarked.len(), 1);
    assert!(unmarked[0].message.contains("Not marked"));

    // Without any other flagged cell nothing stays marked.
    let alone = with_other_map(0.49);
    assert!(regions(&alone).is_empty());
    assert!(alone.map.expect("noise map").max() < 0.5);
}

/// The boxes of the noise-model regions of `out`.
fn regions(out: &DetectorOutput) -> Vec<Region> {
    out.findings
        .iter()
        .filter(|f| f.code == "noise_residual.region")
        .filter_map(|f| f.region)
        .collect()
}

/// The same camera-like scene with five small smoothed patches spread over
/// the frame (as lens shading or JPEG-flattened areas put blocks off the
/// noise model all over some genuine photos): scattered regions are
/// described but not marked.
#[test]
fn scattered_noise_regions_are_described_not_marked() {
    let (w, h) = (448u32, 384u32);
    let mut rng = Rng(11);
    let patches = [(32, 32), (352, 32), (192, 160), (32, 288), (352, 288)];
    let smoothed = |x: u32, y: u32| {
        patches
            .iter()
            .any(|&(px, py)| (px..px + 64).contains(&x) && (py..py + 64).contains(&y))
    };
    let rgb = grey(w, h, |x, y| {
        let mu = 40.0 + 180.0 * x as f32 / w as f32 * (0.8 + 0.2 * (y as f32 / 50.0).sin().abs());
        let sigma = (0.08 * mu + 1.0).sqrt();
        let n = rng.gauss();
        if smoothed(x, y) {
            mu
        } else {
            mu + sigma * n
        }
    });
    let out = run(&rgb, noise_residual::run);
    let map = out.map.clone().expect("noise map");
    assert!(map.max() < 0.5, "max {}", map.max());
    assert!(out.findings.iter().all(|f| f.region.is_none()));
    let summary = out
        .findings
        .iter()
        .find(|f| f.code == "noise_residual.inconsistent")
        .expect("summary finding");
    assert!(
        summary.message.contains("none is marked"),
        "{}",
        summary.message
    );
}

#[test]
fn uniform_camera_noise_is_not_flagged() {
    let (w, h) = (320u32, 256u32);
    let mut rng = Rng(99);
    let rgb = grey(w, h, |x, y| {
        let mu = 30.0 + 0.5 * x as f32 + 0.2 * y as f32;
        mu + (0.08 * mu + 1.0).sqrt() * rng.gauss()
    });
    let out = run(&rgb, noise_residual::run);
    assert!(out.map.as_ref().expect("map").max() < 0.5);
    assert!(feature(&out, "noise_residual.score") < 0.3);
}

/// Smooth random content: white noise blurred by a 5x5 box (range ~60..190).
fn smooth_noise(w: u32, h: u32, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed);
    let raw: Vec<f32> = (0..w * h).map(|_| rng.gauss()).collect();
    let mut out = vec![0.0f32; (w * h) as usize];
    for y in 0..h as i64 {
        for x in 0..w as i64 {
            let mut s = 0.0;
            for dy in -2..=2i64 {
                for dx in -2..=2i64 {
                    let (xx, yy) = (
                        (x + dx).clamp(0, w as i64 - 1),
                        (y + dy).clamp(0, h as i64 - 1),
                    );
                    s += raw[(yy * w as i64 + xx) as usize];
                }
            }
            out[(y * w as i64 + x) as usize] = 128.0 + 60.0 * s / 5.0;
        }
    }
    out
}

/// Bilinear up-sampling by an integer factor.
fn upsample(src: &[f32], w: u32, h: u32, k: u32) -> image::RgbImage {
    grey(w * k, h * k, |x, y| {
        let (fx, fy) = (x as f32 / k as f32, y as f32 / k as f32);
        let (x0, y0) = (fx.floor() as u32, fy.floor() as u32);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
        let at = |x: u32, y: u32| src[(y * w + x) as usize];
        let top = at(x0, y0) * (1.0 - ax) + at(x1, y0) * ax;
        let bottom = at(x0, y1) * (1.0 - ax) + at(x1, y1) * ax;
        top * (1.0 - ay) + bottom * ay
    })
}

#[test]
fn upsampling_by_two_leaves_a_peak_at_half_the_sampling_rate() {
    let src = smooth_noise(256, 256, 3);
    let out = run(&upsample(&src, 256, 256, 2), spectrum::run);
    let excess = feature(&out, "spectrum.upsample_excess");
    assert!(excess > 8.0, "excess {excess}");
    assert!(feature(&out, "spectrum.score") > 0.0);

    // The same content at native resolution has no such peak.
    let native_src = smooth_noise(512, 512, 4);
    let native = grey(512, 512, |x, y| native_src[(y * 512 + x) as usize]);
    let out = run(&native, spectrum::run);
    assert!(feature(&out, "spectrum.upsample_excess") < 4.0);
    assert!(feature(&out, "spectrum.score") < 0.05);
}

#[test]
fn upsampling_by_three_peaks_at_one_third() {
    let src = smooth_noise(200, 200, 5);
    let out = run(&upsample(&src, 200, 200, 3), spectrum::run);
    let (fx, fy) = (
        feature(&out, "spectrum.peak_fx"),
        feature(&out, "spectrum.peak_fy"),
    );
    let third = |f: f32| (f.abs() - 1.0 / 3.0).abs() < 0.01;
    assert!(third(fx) || third(fy), "peak at ({fx}, {fy})");
    assert!(feature(&out, "spectrum.off_grid_peak") > 8.0);
}

/// An RGGB Bayer mosaic of a smooth colour scene with sensor noise, then
/// bilinear demosaicing: every missing colour is the mean of its nearest
/// samples of that colour.
fn demosaiced(w: u32, h: u32) -> image::RgbImage {
    let base = smooth_noise(w, h, 11);
    let mut rng = Rng(17);
    let scene = |x: u32, y: u32, c: usize| {
        let b = base[(y * w + x) as usize];
        [b, 0.8 * b + 20.0, 0.6 * b + 40.0][c]
    };
    // The colour sampled at (x, y): R at (even, even), B at (odd, odd), G elsewhere.
    let colour = |x: u32, y: u32| match (x % 2, y % 2) {
        (0, 0) => 0,
        (1, 1) => 2,
        _ => 1,
    };
    let mosaic: Vec<f32> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            scene(x, y, colour(x, y)) + 2.0 * rng.gauss()
        })
        .collect();
    image::RgbImage::from_fn(w, h, |x, y| {
        let mut px = [0u8; 3];
        for (c, p) in px.iter_mut().enumerate() {
            let (mut s, mut n) = (0.0, 0.0);
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (xx, yy) = (x as i64 + dx, y as i64 + dy);
                    if xx < 0 || yy < 0 || xx >= w as i64 || yy >= h as i64 {
                        continue;
                    }
                    let (xx, yy) = (xx as u32, yy as u32);
                    if colour(xx, yy) != c {
                        continue;
                    }
                    // Only the nearest samples: the pixel itself if sampled,
                    // else its 4-neighbours (G) or the 2/4 nearest (R, B).
                    if colour(x, y) == c && (dx, dy) != (0, 0) {
                        continue;
                    }
                    if c == 1 && dx != 0 && dy != 0 {
                        continue;
                    }
                    s += mosaic[(yy * w + xx) as usize];
                    n += 1.0;
                }
            }
            *p = (s / n).round().clamp(0.0, 255.0) as u8;
        }
        image::Rgb(px)
    })
}

#[test]
fn bilinear_demosaicing_leaves_a_cfa_trace_and_plain_noise_none() {
    let out = run(&demosaiced(256, 256), cfa::run);
    let z = feature(&out, "cfa.z");
    assert!(z > 10.0, "demosaiced z {z}");
    assert!(feature(&out, "cfa.present_share") > 0.8);

    let mut rng = Rng(23);
    let plain = image::RgbImage::from_fn(256, 256, |x, _| {
        let mut c = || (100.0 + 0.3 * x as f32 + 4.0 * rng.gauss()).round() as u8;
        image::Rgb([c(), c(), c()])
    });
    let out = run(&plain, cfa::run);
    let z = feature(&out, "cfa.z");
    assert!(z < 5.0, "plain noise z {z}");
}

#[test]
fn results_are_identical_for_any_thread_count() {
    let rgb = demosaiced(320, 288);
    let detectors: [fn(&PixelContext<'_>) -> DetectorOutput; 4] = [
        noise_residual::run,
        spectrum::run,
        cfa::run,
        local_consistency::run,
    ];
    for detector in detectors {
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| run(&rgb, detector));
        let four = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap()
            .install(|| run(&rgb, detector));
        let bits = |o: &DetectorOutput| {
            let mut v: Vec<u32> = o.features.iter().map(|f| f.1.to_bits()).collect();
            v.extend(
                o.map
                    .iter()
                    .flat_map(|m| m.values.iter().map(|x| x.to_bits())),
            );
            v
        };
        assert_eq!(bits(&one), bits(&four));
    }
}

#[test]
fn tiny_and_odd_images_do_not_panic() {
    for (w, h) in [(1, 1), (1, 40), (31, 33), (33, 31), (65, 64), (257, 63)] {
        let rgb = grey(w, h, |x, y| ((x * 7 + y * 13) % 256) as f32);
        for detector in [noise_residual::run, spectrum::run, cfa::run] {
            let out = run(&rgb, detector);
            for f in &out.findings {
                assert!((0.0..=1.0).contains(&f.score));
            }
            if let Some(map) = out.map {
                assert_eq!((map.width, map.height), (w, h));
                assert!(map.values.iter().all(|v| (0.0..=1.0).contains(v)));
            }
        }
    }
}
