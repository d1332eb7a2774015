//! The change map of a claim against the reference aligned onto it.
//!
//! Both images are blurred so resampling and JPEG noise average out: the
//! luma by 1 px, the colour (each channel's difference from luma) by 2 px,
//! since JPEG stores colour at half resolution. The reference's colours are
//! matched to the claim's as a photo filter would change them (see
//! [`ColourMatch`]), and each claim pixel is compared with the *range* of the
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

/// How the claim's colours follow the aligned reference's, as photo filters
/// change them: per channel, a gain and an offset after a gamma (exposure,
/// white balance, contrast, gamma), or a colour matrix mixing the channels
/// (greyscale, sepia, saturation); either clipped to 0..=255 as an 8-bit
/// image is. Three parameters per channel (twelve for the matrix) cannot
/// follow damage painted over a part of the photo, which a free tone
/// curve can (a stain over the only bright object in a photo bends the
/// top of the curve to its own colour).
struct ColourMatch {
    /// Per claim channel: gains on the reference's R, G, B, each toned by
    /// `gamma` first, and an offset.
    matrix: [[f32; 4]; 3],
    /// Per reference channel: the exponent of its level on a 0-1 scale.
    gamma: [f32; 3],
}

/// Exponents tried for each channel's gamma: 1 (none) and those of common
/// brightening and darkening filters.
const GAMMAS: [f32; 11] = [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.35, 1.6, 2.0];
/// A gamma other than 1 is used only when it leaves less than this share
/// of the linear fit's misfit: a channel whose levels span a narrow range
/// tells gammas apart by little.
const GAMMA_BETTER: f32 = 0.95;
/// The colour matrix is used only when it leaves less than this share of
/// the per-channel fit's misfit.
const MATRIX_BETTER: f32 = 0.8;
/// Claim levels the fits use: beyond them a pixel may be clipped (JPEG
/// ringing spreads clipped white by a few levels).
const UNCLIPPED: std::ops::RangeInclusive<f32> = 6.0..=249.0;
/// Share of the compared pixels a colour fit's misfit is measured on.
const MISFIT_SHARE: f32 = 0.9;
/// Refits of a colour row on its inliers.
const REFITS: usize = 3;
/// Most pixels the fits use, a regular sample of the compared pixels, and
/// fewer while gammas are compared.
const FIT_SAMPLE: usize = 1 << 13;
const SEARCH_SAMPLE: usize = 1 << 11;

/// The compared pixels the colour fits use.
struct Samples {
    claim: [Vec<f32>; 3],
    reference: [Vec<f32>; 3],
}

impl Samples {
    fn new(claim: &[Plane], reference: &[Plane], inside: &[bool], most: usize) -> Self {
        let compared = inside.iter().filter(|&&ok| ok).count();
        let step = compared.div_ceil(most).max(1);
        let picked: Vec<usize> = (0..inside.len())
            .filter(|&i| inside[i])
            .step_by(step)
            .collect();
        let take = |planes: &[Plane]| {
            std::array::from_fn(|c| picked.iter().map(|&i| planes[c].data[i]).collect())
        };
        Samples {
            claim: take(claim),
            reference: take(reference),
        }
    }
}

/// `255 * (level / 255)^gamma`.
fn toned(level: f32, gamma: f32) -> f32 {
    if gamma == 1.0 {
        level
    } else {
        255.0 * (level.max(0.0) / 255.0).powf(gamma)
    }
}

impl ColourMatch {
    /// The per-channel match, or the colour matrix when it is clearly
    /// closer: a matrix fitted where gains would do borrows the other
    /// channels to bend towards a gamma, and then miscolours what the rest
    /// of the photo did not show it, such as a saturated red flower.
    fn fit(claim: &[Plane], reference: &[Plane], inside: &[bool]) -> Self {
        let s = Samples::new(claim, reference, inside, FIT_SAMPLE);
        let per_channel =
            Self::per_channel(&s, &Samples::new(claim, reference, inside, SEARCH_SAMPLE));
        let mixed = ColourMatch {
            matrix: std::array::from_fn(|c| {
                robust_row(&s.claim[c], [0, 1, 2].map(|k| s.reference[k].as_slice()), c)
            }),
            gamma: [1.0; 3],
        };
        if mixed.misfit(&s) < MATRIX_BETTER * per_channel.misfit(&s) {
            mixed
        } else {
            per_channel
        }
    }

    /// Each claim channel from its own reference channel: the gamma that
    /// fits it best on `coarse`, then the gain and offset on `s`.
    fn per_channel(s: &Samples, coarse: &Samples) -> Self {
        let mut matched = ColourMatch {
            matrix: [[0.0; 4]; 3],
            gamma: [1.0; 3],
        };
        for c in 0..3 {
            let misfits: Vec<(f32, f32)> = GAMMAS
                .iter()
                .map(|&gamma| (gamma, own_channel_row(coarse, c, gamma).1))
                .collect();
            let linear = misfits
                .iter()
                .find(|m| m.0 == 1.0)
                .map_or(f32::MAX, |m| m.1);
            let gamma = misfits
                .iter()
                .copied()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .filter(|best| best.1 < GAMMA_BETTER * linear)
                .map_or(1.0, |best| best.0);
            matched.gamma[c] = gamma;
            matched.matrix[c] = own_channel_row(s, c, gamma).0;
        }
        matched
    }

    /// The claim level predicted for reference levels `rgb`.
    fn predict(&self, c: usize, rgb: [f32; 3]) -> f32 {
        let row = &self.matrix[c];
        let v = (0..3)
            .map(|k| row[k] * toned(rgb[k], self.gamma[k]))
            .sum::<f32>()
            + row[3];
        v.clamp(0.0, 255.0)
    }

    /// Misfit over the sample ([`channel_misfit`]), summed over the channels.
    fn misfit(&self, s: &Samples) -> f32 {
        (0..3)
            .map(|c| {
                channel_misfit(&s.claim[c], |i| {
                    self.predict(c, [0, 1, 2].map(|k| s.reference[k][i]))
                })
            })
            .sum()
    }

    /// The reference's planes in the claim's colours.
    fn apply(&self, reference: &[Plane]) -> Vec<Plane> {
        let toned_planes: Vec<Plane> = (0..3)
            .map(|k| {
                let mut p = reference[k].clone();
                if self.gamma[k] != 1.0 {
                    p.data
                        .iter_mut()
                        .for_each(|v| *v = toned(*v, self.gamma[k]));
                }
                p
            })
            .collect();
        let inputs = [0, 1, 2].map(|k| toned_planes[k].data.as_slice());
        (0..3)
            .map(|c| {
                let mut out = reference[c].clone();
                for (i, v) in out.data.iter_mut().enumerate() {
                    *v = apply_row(&self.matrix[c], inputs, i).clamp(0.0, 255.0);
                }
                out
            })
            .collect()
    }
}

/// The row predicting claim channel `c` from its own reference channel
/// after gamma `gamma`, with its misfit.
fn own_channel_row(s: &Samples, c: usize, gamma: f32) -> ([f32; 4], f32) {
    let toned_ref: Vec<f32> = s.reference[c].iter().map(|&v| toned(v, gamma)).collect();
    let none = vec![0.0f32; toned_ref.len()];
    let mut inputs = [none.as_slice(); 3];
    inputs[c] = &toned_ref;
    let row = robust_row(&s.claim[c], inputs, c);
    (
        row,
        channel_misfit(&s.claim[c], |i| apply_row(&row, inputs, i)),
    )
}

/// Mean of `|claim - predicted|` (the prediction clipped to 0..=255) over
/// the best-fitting [`MISFIT_SHARE`] of the pixels: damage over a small
/// part of the photo is left out, a filter's tones the fit misses over a
/// large part are not (the median would hide a wrong gamma behind the
/// mid-tones that any gamma fits).
fn channel_misfit(claim: &[f32], predicted: impl Fn(usize) -> f32) -> f32 {
    let mut misfit: Vec<f32> = claim
        .iter()
        .enumerate()
        .map(|(i, &y)| (y - predicted(i).clamp(0.0, 255.0)).abs())
        .collect();
    let kept = ((misfit.len() as f32 * MISFIT_SHARE) as usize).min(misfit.len());
    if kept == 0 {
        return 0.0;
    }
    misfit.select_nth_unstable_by(kept - 1, f32::total_cmp);
    misfit[..kept].iter().sum::<f32>() / kept as f32
}

/// A row of gains on `inputs` and an offset predicting claim channel `c`,
/// fitted where the claim is not clipped, then refitted a few times on the
/// pixels the last fit explains and predicts unclipped: painted damage does
/// not bend it, and choosing pixels by the prediction rather than by the
/// claim's own level does not bias the gain near the clipping.
fn robust_row(claim: &[f32], inputs: [&[f32]; 3], c: usize) -> [f32; 4] {
    let unclipped: Vec<bool> = claim.iter().map(|y| UNCLIPPED.contains(y)).collect();
    let mut row = fit_row(claim, inputs, &unclipped, c);
    for _ in 0..REFITS {
        let residual: Vec<f32> = (0..claim.len())
            .map(|i| (claim[i] - apply_row(&row, inputs, i)).abs())
            .collect();
        let mut sample = compared_values(&residual, &unclipped);
        let cut = (median_in_place(&mut sample) * 3.0).max(4.0);
        let inliers: Vec<bool> = (0..claim.len())
            .map(|i| residual[i] <= cut && UNCLIPPED.contains(&apply_row(&row, inputs, i)))
            .collect();
        row = fit_row(claim, inputs, &inliers, c);
    }
    row
}

fn apply_row(row: &[f32; 4], inputs: [&[f32]; 3], i: usize) -> f32 {
    row[0] * inputs[0][i] + row[1] * inputs[1][i] + row[2] * inputs[2][i] + row[3]
}

/// Least squares `claim ≈ a·R + b·G + c·B + d` over the pixels where `use_px`
/// holds, pulled weakly towards the channel itself (ridge regression, Hoerl
/// & Kennard 1970) so that a reference without colour (R = G = B), whose
/// channels cannot be told apart, still gives a unique answer.
fn fit_row(claim: &[f32], inputs: [&[f32]; 3], use_px: &[bool], channel: usize) -> [f32; 4] {
    // Normal equations of [R G B 1] against the claim, in f64.
    let mut a = [[0.0f64; 4]; 4];
    let mut b = [0.0f64; 4];
    let mut n = 0usize;
    for (i, _) in use_px.iter().enumerate().filter(|(_, &ok)| ok) {
        let x = [
            f64::from(inputs[0][i]),
            f64::from(inputs[1][i]),
            f64::from(inputs[2][i]),
            1.0,
        ];
        let y = f64::from(claim[i]);
        for r in 0..4 {
            for (k, xk) in x.iter().enumerate() {
                a[r][k] += x[r] * xk;
            }
            b[r] += x[r] * y;
        }
        n += 1;
    }
    let mut identity = [0.0f32; 4];
    identity[channel] = 1.0;
    if n < 16 {
        return identity;
    }
    // The ridge: a thousandth of the mean squared level per gain, towards
    // gain 1 on the channel itself and 0 on the others.
    let lambda = 1e-3 * (a[0][0] + a[1][1] + a[2][2]) / 3.0;
    for k in 0..3 {
        a[k][k] += lambda;
        b[k] += lambda * f64::from(identity[k]);
    }
    match solve4(a, b) {
        Some(s) if s.iter().all(|v| v.is_finite()) => s.map(|v| v as f32),
        _ => identity,
    }
}

/// Solves `a · x = b` by Gaussian elimination with partial pivoting.
fn solve4(mut a: [[f64; 4]; 4], mut b: [f64; 4]) -> Option<[f64; 4]> {
    for col in 0..4 {
        let pivot = (col..4).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-9 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (pivot_row, pivot_b) = (a[col], b[col]);
        for (row, rhs) in a.iter_mut().zip(b.iter_mut()).skip(col + 1) {
            let f = row[col] / pivot_row[col];
            for (v, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                *v -= f * p;
            }
            *rhs -= f * pivot_b;
        }
    }
    let mut x = [0.0f64; 4];
    for row in (0..4).rev() {
        let tail: f64 = (row + 1..4).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    Some(x)
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

    // The match is fitted and applied on the sharp planes, then blurred: a
    // filter acts pixel by pixel, and blurring a clipped image is not
    // clipping a blurred one.
    let colour = ColourMatch::fit(claim, &warped_sharp, &inside);
    let matched = colour.apply(&warped_sharp);
    let matched_luma = luma_of(&matched);
    let fitted = colour_blurred(&matched, &matched_luma);

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
    // Texture is compared in the claim's tones: a gamma or curves filter
    // changes local contrast unevenly across the tonal range.
    let loss = texture_loss(&claim_luma, &matched_luma, &valid_img);
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
