//! The change map of a claim against the reference aligned onto it.
//!
//! Both images are blurred so resampling and JPEG noise average out: the
//! luma by 1 px, the colour (each channel's difference from luma) by 2 px,
//! since JPEG stores colour at half resolution. The reference's exposure and
//! colour are matched to the claim by a per-channel linear fit refitted on
//! its inliers, and each claim pixel is compared with the *range* of the
//! fitted reference over its 3x3 neighbourhood, so a residual sub-pixel
//! misalignment at edges costs nothing. A second measure catches fills that
//! keep the colour and remove the texture: the local RMS of the luma's
//! high-pass, which the claim may not lose against the reference beyond
//! what it lost as a whole. Each measure's threshold is a multiple of its
//! noise scale estimated from the median absolute deviation (Hampel 1974),
//! with a floor; regions grow by hysteresis (Canny 1986) and are cleaned by
//! a morphological opening and a minimum area.

use image::{GrayImage, Luma};
use imageproc::distance_transform::Norm;
use imageproc::region_labelling::{connected_components, Connectivity};

use super::plane::{warp, Affine, Plane};
use crate::detectors::residual::{median_and_spread, median_in_place};

/// Smallest difference, in 8-bit levels, ever called a change: re-encoding
/// at JPEG quality 70 moves blurred pixels by a few levels at most.
const FLOOR: f32 = 14.0;
/// Noise-scale multiple of the threshold.
const K_SIGMA: f32 = 6.0;
/// Smallest region kept, as a share of the compared area (0.05%), and in
/// pixels at the working scale.
const MIN_AREA_FRACTION: f32 = 0.0005;
const MIN_AREA_PIXELS: usize = 24;
/// Smallest loss of texture, in levels of local RMS, ever called a change.
const TEXTURE_FLOOR: f32 = 6.0;
/// Scale of the texture measure's high-pass, in working-scale pixels.
const TEXTURE_SIGMA: f32 = 1.5;
/// Blur of the reference before its texture is measured, in working-scale
/// pixels: a claim downscaled or re-compressed keeps less of the finest
/// detail than the reference warped onto it without filtering (in dev
/// claims downscaled and re-saved, thin palm fronds against a wall and
/// glinting water lost more than the claim as a whole).
const REFERENCE_SOFTENING: f32 = 0.6;

/// A changed region in working-scale pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Blob {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
    pub area: usize,
    /// Mean difference over the threshold.
    pub strength: f32,
    /// Share of its pixels where lost texture, not colour, is the larger
    /// difference: a fill that smoothed the surface rather than painted it.
    pub texture_share: f32,
}

/// The change map at working scale.
#[derive(Debug, Clone)]
pub(crate) struct ChangeMap {
    pub w: usize,
    pub h: usize,
    /// Per pixel, in [0, 1]: ≥ 0.5 inside a changed region.
    pub values: Vec<f32>,
    /// Changed regions, largest first.
    pub blobs: Vec<Blob>,
    /// Changed pixels over compared pixels.
    pub changed_fraction: f32,
}

/// `median + K_SIGMA * sigma` of `values` over the compared pixels, sigma
/// from their median absolute deviation (Hampel 1974), at least `floor`.
fn robust_threshold(values: &[f32], inside: &[bool], floor: f32) -> f32 {
    let mut sample = compared_values(values, inside);
    let (med, sigma) = median_and_spread(&mut sample);
    (med + K_SIGMA * sigma).max(floor)
}

/// The values at the compared pixels.
fn compared_values(values: &[f32], inside: &[bool]) -> Vec<f32> {
    values
        .iter()
        .zip(inside)
        .filter(|(_, &ok)| ok)
        .map(|(&v, _)| v)
        .collect()
}

/// RGB planes blurred by 1 px in luma and by 2 px in each channel's
/// difference from luma: JPEG stores colour at half the resolution (4:2:0
/// subsampling, ITU-T T.81 / JFIF), so a re-saved claim bleeds saturated
/// colour across edges by a pixel or two that its luma keeps sharp.
fn colour_blurred(rgb: &[Plane], luma: &Plane) -> Vec<Plane> {
    let luma_b = luma.blurred(1.0);
    rgb.iter()
        .map(|p| {
            let mut chroma = p.clone();
            for (c, y) in chroma.data.iter_mut().zip(&luma.data) {
                *c -= y;
            }
            let mut out = chroma.blurred(2.0);
            for (c, y) in out.data.iter_mut().zip(&luma_b.data) {
                *c += y;
            }
            out
        })
        .collect()
}

/// BT.601 luma of RGB planes.
fn luma_of(rgb: &[Plane]) -> Plane {
    let mut luma = Plane::new(rgb[0].w, rgb[0].h);
    for (i, v) in luma.data.iter_mut().enumerate() {
        *v = 0.299 * rgb[0].data[i] + 0.587 * rgb[1].data[i] + 0.114 * rgb[2].data[i];
    }
    luma
}

/// Local texture energy: the RMS of the luma's high-pass (luma minus its
/// Gaussian blur) over a Gaussian window.
fn texture_energy(mut luma: Plane) -> Plane {
    let smooth = luma.blurred(TEXTURE_SIGMA);
    for (v, s) in luma.data.iter_mut().zip(&smooth.data) {
        *v = (*v - s) * (*v - s);
    }
    let mut energy = luma.blurred(2.0 * TEXTURE_SIGMA);
    energy.data.iter_mut().for_each(|v| *v = v.max(0.0).sqrt());
    energy
}

/// Texture the claim lost against the aligned reference, in levels of RMS:
/// `max(0, gain * e_ref - e_claim)`, the gain being the median ratio of the
/// two energies where the reference is textured, so a claim softened as a
/// whole (downscaled, re-compressed) loses nothing. A fill that paints over
/// texture (a clone or inpainting of a brick wall) changes the colour
/// little and the texture a lot.
fn texture_loss(claim_luma: &Plane, reference_luma: &Plane, valid: &GrayImage) -> Vec<f32> {
    // The high-pass and the energy window reach 3 sigma each: keep that clear
    // of the overlap's edge, where the reference steps to nothing.
    let reach = (3.0 * (TEXTURE_SIGMA + 2.0 * TEXTURE_SIGMA)).ceil() as u8;
    let inside: Vec<bool> = imageproc::morphology::erode(valid, Norm::LInf, reach)
        .pixels()
        .map(|p| p[0] > 0)
        .collect();
    let e_claim = texture_energy(claim_luma.clone());
    let e_ref = texture_energy(reference_luma.blurred(REFERENCE_SOFTENING));
    let mut ratios: Vec<f32> = e_claim
        .data
        .iter()
        .zip(&e_ref.data)
        .zip(&inside)
        .filter(|((_, &r), &ok)| ok && r >= TEXTURE_FLOOR)
        .map(|((&c, &r), _)| c / r)
        .collect();
    if ratios.len() < 64 {
        return vec![0.0; e_claim.data.len()];
    }
    let gain = median_in_place(&mut ratios).min(1.0);
    e_claim
        .data
        .iter()
        .zip(&e_ref.data)
        .zip(&inside)
        .map(|((&c, &r), &ok)| if ok { (gain * r - c).max(0.0) } else { 0.0 })
        .collect()
}

/// Per-channel least squares `claim ≈ gain * reference + offset` over the
/// pixels where `use_px` holds.
fn fit(claim: &[f32], reference: &[f32], use_px: &[bool]) -> (f32, f32) {
    let (mut n, mut sx, mut sy, mut sxx, mut sxy) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for ((&c, &r), &ok) in claim.iter().zip(reference).zip(use_px) {
        if ok {
            let (x, y) = (f64::from(r), f64::from(c));
            n += 1.0;
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
        }
    }
    if n < 2.0 {
        return (1.0, 0.0);
    }
    let var = sxx - sx * sx / n;
    if var < 1e-6 {
        return (1.0, ((sy - sx) / n) as f32);
    }
    // Colour changes worth matching are moderate; a wild gain means the fit
    // is driven by the edit itself.
    let gain = ((sxy - sx * sy / n) / var).clamp(0.25, 4.0);
    let offset = (sy - gain * sx) / n;
    (gain as f32, offset as f32)
}

/// Compare `claim` (RGB planes at working scale) with `reference` (RGB planes
/// of the reference at its stored scale) mapped by `affine` (reference →
/// claim).
pub(crate) fn change_map(claim: &[Plane; 3], reference: &[Plane; 3], affine: &Affine) -> ChangeMap {
    let (w, h) = (claim[0].w, claim[0].h);
    let empty = ChangeMap {
        w,
        h,
        values: vec![0.0; w * h],
        blobs: Vec::new(),
        changed_fraction: 0.0,
    };
    let Some(inv) = affine.inverse() else {
        return empty;
    };
    if w < 8 || h < 8 {
        return empty;
    }
    let mut valid = vec![false; w * h];
    let mut warped_sharp: Vec<Plane> = Vec::with_capacity(3);
    for (c, plane) in reference.iter().enumerate() {
        let (p, v) = warp(plane, &inv, w, h);
        if c == 0 {
            valid = v;
        }
        warped_sharp.push(p);
    }
    let reference_luma = luma_of(&warped_sharp);
    let warped = colour_blurred(&warped_sharp, &reference_luma);
    // Ignore a 3-pixel band at the edge of the overlap: interpolation there
    // mixes in the outside.
    let valid_img = GrayImage::from_fn(w as u32, h as u32, |x, y| {
        Luma([if valid[y as usize * w + x as usize] {
            255
        } else {
            0
        }])
    });
    let inner = imageproc::morphology::erode(&valid_img, Norm::LInf, 3);
    let inside: Vec<bool> = inner.pixels().map(|p| p[0] > 0).collect();
    let compared = inside.iter().filter(|&&b| b).count();
    if compared < 64 {
        return empty;
    }
    let claim_luma = luma_of(claim);
    let claim_b = colour_blurred(claim, &claim_luma);

    // Exposure and colour match: fit, then refit on the pixels the first fit
    // explains, so painted damage does not bend the fit.
    let mut fitted: Vec<Plane> = Vec::with_capacity(3);
    for c in 0..3 {
        let (g, o) = fit(&claim_b[c].data, &warped[c].data, &inside);
        let res: Vec<f32> = claim_b[c]
            .data
            .iter()
            .zip(&warped[c].data)
            .map(|(&a, &b)| (a - (g * b + o)).abs())
            .collect();
        let mut sample = compared_values(&res, &inside);
        let cut = (median_in_place(&mut sample) * 3.0).max(4.0);
        let inl: Vec<bool> = res
            .iter()
            .zip(&inside)
            .map(|(&r, &ok)| ok && r <= cut)
            .collect();
        let (g, o) = fit(&claim_b[c].data, &warped[c].data, &inl);
        let mut p = warped[c].clone();
        p.data.iter_mut().for_each(|v| *v = g * *v + o);
        fitted.push(p);
    }

    // Distance of each claim pixel from the fitted reference's 3x3 range.
    let mut diff = vec![0.0f32; w * h];
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            if !inside[i] {
                continue;
            }
            let mut sq = 0.0f32;
            for c in 0..3 {
                let (mut lo, mut hi) = (f32::MAX, f32::MIN);
                for yy in y - 1..=y + 1 {
                    for xx in x - 1..=x + 1 {
                        let v = fitted[c].data[yy * w + xx];
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
                let v = claim_b[c].data[i];
                let e = if v < lo {
                    lo - v
                } else if v > hi {
                    v - hi
                } else {
                    0.0
                };
                sq += e * e;
            }
            diff[i] = sq.sqrt();
        }
    }
    let high = robust_threshold(&diff, &inside, FLOOR);
    let loss = texture_loss(&claim_luma, &reference_luma, &valid_img);
    let high_loss = robust_threshold(&loss, &inside, TEXTURE_FLOOR);
    // Colour and texture differences in units of their own thresholds:
    // a change at 1, grown by hysteresis down to 0.5.
    let (diff, texture_led): (Vec<f32>, Vec<bool>) = diff
        .iter()
        .zip(&loss)
        .map(|(&d, &t)| {
            let (colour, texture) = (d / high, t / high_loss);
            (colour.max(texture), texture > colour)
        })
        .unzip();

    // Hysteresis: strong seeds grow into connected weaker differences.
    let weak = GrayImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w + x as usize;
        Luma([if inside[i] && diff[i] > 0.5 { 255 } else { 0 }])
    });
    let weak = imageproc::morphology::open(&weak, Norm::LInf, 1);
    let labels = connected_components(&weak, Connectivity::Eight, Luma([0u8]));
    let n_labels = labels.pixels().map(|p| p[0]).max().unwrap_or(0) as usize;
    let mut seeded = vec![false; n_labels + 1];
    // Per label: its extent, and sums of the difference and of the pixels
    // the texture measure leads, normalised below.
    let mut stats = vec![
        Blob {
            x0: usize::MAX,
            y0: usize::MAX,
            x1: 0,
            y1: 0,
            area: 0,
            strength: 0.0,
            texture_share: 0.0,
        };
        n_labels + 1
    ];
    for (i, l) in labels.pixels().enumerate() {
        let l = l[0] as usize;
        if l == 0 {
            continue;
        }
        let (x, y) = (i % w, i / w);
        seeded[l] |= diff[i] > 1.0;
        let s = &mut stats[l];
        s.x0 = s.x0.min(x);
        s.y0 = s.y0.min(y);
        s.x1 = s.x1.max(x + 1);
        s.y1 = s.y1.max(y + 1);
        s.area += 1;
        s.strength += diff[i];
        s.texture_share += f32::from(u8::from(texture_led[i]));
    }
    let min_area = ((compared as f32 * MIN_AREA_FRACTION) as usize).max(MIN_AREA_PIXELS);
    let keep: Vec<bool> = (0..=n_labels)
        .map(|l| l > 0 && seeded[l] && stats[l].area >= min_area)
        .collect();
    let mut blobs: Vec<Blob> = (1..=n_labels)
        .filter(|&l| keep[l])
        .map(|l| {
            let s = stats[l];
            let n = s.area.max(1) as f32;
            Blob {
                strength: s.strength / n,
                texture_share: s.texture_share / n,
                ..s
            }
        })
        .collect();
    blobs.sort_by(|a, b| b.area.cmp(&a.area).then((a.y0, a.x0).cmp(&(b.y0, b.x0))));

    let mut changed = 0usize;
    let values: Vec<f32> = labels
        .pixels()
        .enumerate()
        .map(|(i, l)| {
            let d = diff[i];
            if keep[l[0] as usize] {
                changed += 1;
                0.5 + 0.5 * ((d - 0.5) / 1.5).clamp(0.0, 1.0)
            } else {
                0.45 * d.clamp(0.0, 1.0)
            }
        })
        .collect();
    ChangeMap {
        w,
        h,
        values,
        blobs,
        changed_fraction: changed as f32 / compared as f32,
    }
}
