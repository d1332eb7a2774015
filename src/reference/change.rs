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
//! a morphological opening and a minimum area. The opening removes lines
//! under 3 px wide, so hairline cracks are found by a line detector of their
//! own ([`thin_lines`]), after a sharpening of the whole claim is fitted as
//! a filter ([`Sharpening`]), since its halos are thin lines too. When both
//! photos are finer than the working scale, the line detector also reads
//! them at up to twice its resolution ([`Finer`]).

use std::sync::Arc;

use image::{GrayImage, Luma};
use imageproc::distance_transform::Norm;
use imageproc::region_labelling::{connected_components, Connectivity};

use super::plane::{warp_all, Affine, Plane};
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
    let mut out = Plane::new(rgb[0].w, rgb[0].h);
    for (i, v) in out.data.iter_mut().enumerate() {
        *v = luma([0, 1, 2].map(|c| rgb[c].data[i]));
    }
    out
}

/// BT.601 luma of one RGB pixel.
fn luma([r, g, b]: [f32; 3]) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
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
/// change them: each claim channel is a gain and an offset on one input
/// made from the reference, either its own channel after a gamma
/// (exposure, white balance, contrast, gamma), its own channel mixed with
/// the luma by a saturation the three channels share (greyscale and sepia
/// at 0, faded or vivid colour around 1), or its own channel on a contrast
/// S-curve the three share ([`s_curve`], or [`sigmoid_curve`] for the
/// steeper ones), or, for other curves, its own channel given the claim's
/// histogram ([`Matching`]), clipped to 0..=255 as an 8-bit image is. None
/// turns a hue: a product recoloured (a blue one made green) stays a
/// change, which a free colour matrix would explain away on a neutral
/// background. A few parameters per channel cannot follow damage painted
/// over a part of the photo either, which a tone curve fitted level by
/// level can (a stain over the only bright object bends the curve's top to
/// its colour); the histogram's ranks do not.
#[derive(Clone)]
struct ColourMatch {
    input: FilterInput,
    /// Per claim channel: gain and offset on its input.
    rows: [(f32, f32); 3],
}

/// What each claim channel is a gain and an offset on.
#[derive(Clone)]
enum FilterInput {
    /// The reference's own channel to the power of its gamma (0-1 scale).
    Toned([f32; 3]),
    /// The reference's own channel mixed with its luma by this saturation.
    Saturated(f32),
    /// The reference's own channel on a contrast S-curve of this strength
    /// ([`s_curve`]).
    Curved(f32),
    /// The reference's own channel on a logistic contrast curve of this
    /// gain ([`sigmoid_curve`]).
    Sigmoid(f32),
    /// The reference's own channel given the claim's histogram
    /// ([`Matching`]).
    Matched(Arc<Matching>),
}

/// A tone curve per channel that gives the reference's levels the claim's
/// histogram (histogram matching, Gonzalez & Woods, "Digital Image
/// Processing", 3.3.2): each level goes to the claim's level of the same
/// rank. It stands for the filters no formula here describes, a different
/// monotone curve per channel, such as an editor's "equalize" (its curve
/// is the image's own histogram): of 20 dev details equalised, 15 of the
/// 16 copies found derived were called `edited` without it, 3 with it.
/// Unlike a curve fitted level by level, it is fixed by the ranks, not by
/// which claim levels sit at which reference levels: damage over the only
/// bright object does not move the top of the curve to its colour, it
/// moves the object's pixels down the claim's ranks, and they stay a
/// change. Damage still shifts every rank by at most its share of the
/// pixels.
struct Matching {
    /// Per channel, the claim level of each integer reference level.
    curves: [[f32; 256]; 3],
}

impl Matching {
    /// The curves from the histograms of `reference` onto those of
    /// `claim`, over the pixels where `inside` holds. A level's rank is the
    /// middle of its step (the share of pixels below it plus half its own),
    /// read back on the claim's histogram with its levels spread evenly
    /// over their step.
    fn of(claim: &[Plane], reference: &[Plane], inside: &[bool]) -> Self {
        let histogram = |plane: &Plane| {
            let mut counts = [0u64; 256];
            for (&v, _) in plane.data.iter().zip(inside).filter(|(_, &ok)| ok) {
                counts[v.round().clamp(0.0, 255.0) as usize] += 1;
            }
            counts
        };
        let curves = std::array::from_fn(|c| {
            let (from, to) = (histogram(&reference[c]), histogram(&claim[c]));
            let total = from.iter().sum::<u64>().max(1) as f64;
            let to_total = to.iter().sum::<u64>().max(1) as f64;
            let mut below = 0u64;
            // The claim's step reached so far, and the pixels below it.
            let (mut step, mut to_below) = (0usize, 0u64);
            std::array::from_fn(|level| {
                let rank = (below as f64 + from[level] as f64 / 2.0) / total * to_total;
                below += from[level];
                while step < 255 && (to_below + to[step]) as f64 <= rank {
                    to_below += to[step];
                    step += 1;
                }
                let within = if to[step] == 0 {
                    0.5
                } else {
                    ((rank - to_below as f64) / to[step] as f64).clamp(0.0, 1.0)
                };
                (step as f64 + within - 0.5).clamp(0.0, 255.0) as f32
            })
        });
        Matching { curves }
    }

    /// `v` (0-255) on channel `c`'s curve, linear between integer levels.
    fn level(&self, c: usize, v: f32) -> f32 {
        let v = v.clamp(0.0, 255.0);
        let low = v.floor() as usize;
        let high = (low + 1).min(255);
        let t = v - low as f32;
        self.curves[c][low] * (1.0 - t) + self.curves[c][high] * t
    }
}

/// `v` (0-255) on the contrast S-curve of strength `k`: `v` moved `k` of
/// the way to the raised cosine `255·(1 − cos(π·v/255))/2`, which is steeper
/// than the identity at mid-grey and flatter at both ends (`k` < 0: the
/// inverse, a faded look). The curves of photo apps and editors are of this
/// shape, monotone and symmetric about mid-grey; with a gain and an offset,
/// this one basis fits a smoothstep blend and a spline through (64, 48) and
/// (192, 208) within 2 grey levels and ImageMagick's sigmoidal contrast 5
/// within 2 (measured; 8 within 6 before the clip at both ends). Without it
/// a copy of a listing under a contrast filter reads as changed all over
/// (a review: 13 to 20 of 20 copies called `edited`).
fn s_curve(v: f32, k: f32) -> f32 {
    let cosine = 127.5 * (1.0 - (std::f32::consts::PI * v.clamp(0.0, 255.0) / 255.0).cos());
    // Past k = 1 the blend dips below its start near black (and rises past
    // its end near white); clamped, it clips there instead, as a strong
    // curve does, and stays monotone.
    (v + k * (cosine - v)).clamp(0.0, 255.0)
}

/// `v` (0-255) on the logistic curve of gain `g` about mid-grey, scaled
/// so that black and white stay put: ImageMagick's `-sigmoidal-contrast
/// gx50%` and the S-curves of photo apps at strengths the raised cosine
/// ([`s_curve`]) does not reach.
fn sigmoid_curve(v: f32, g: f32) -> f32 {
    let logistic = |t: f32| 1.0 / (1.0 + (-g * (t - 0.5)).exp());
    let (lo, hi) = (logistic(0.0), logistic(1.0));
    255.0 * (logistic(v.clamp(0.0, 255.0) / 255.0) - lo) / (hi - lo)
}

impl FilterInput {
    /// The three channels' inputs for one reference pixel.
    fn of(&self, rgb: [f32; 3]) -> [f32; 3] {
        match *self {
            FilterInput::Toned(gamma) => std::array::from_fn(|c| {
                if gamma[c] == 1.0 {
                    rgb[c]
                } else {
                    255.0 * (rgb[c].max(0.0) / 255.0).powf(gamma[c])
                }
            }),
            FilterInput::Saturated(s) => {
                let grey = luma(rgb);
                rgb.map(|v| s * v + (1.0 - s) * grey)
            }
            FilterInput::Curved(k) => rgb.map(|v| s_curve(v, k)),
            FilterInput::Sigmoid(g) => rgb.map(|v| sigmoid_curve(v, g)),
            FilterInput::Matched(ref curves) => std::array::from_fn(|c| curves.level(c, rgb[c])),
        }
    }
}

/// Gammas tried per channel: 1 (none) and those of common brightening and
/// darkening filters.
const GAMMAS: [f32; 11] = [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.35, 1.6, 2.0];
/// Saturations tried: greyscale to twice as vivid (1 is the gamma model's).
const SATURATIONS: [f32; 8] = [0.0, 0.25, 0.5, 0.75, 1.25, 1.5, 1.75, 2.0];
/// A gamma other than 1 is taken only when it leaves less than this share
/// of the linear fit's misfit: a channel whose levels span a narrow range
/// tells gammas apart by little.
const GAMMA_BETTER: f32 = 0.95;
/// A saturation is taken only when it leaves less than this share of the
/// per-channel fit's misfit.
const SATURATION_BETTER: f32 = 0.8;
/// S-curve strengths tried ([`s_curve`]): a faded look to a strong contrast
/// (past 1 the curve clips at both ends, as strong sigmoids nearly do). The
/// refinement stays within the first and the last.
const CURVES: [f32; 12] = [
    -0.6, -0.4, -0.2, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8,
];
/// Gains of the logistic contrast curves tried ([`sigmoid_curve`]).
const SIGMOIDS: [f32; 13] = [
    3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
];
/// Steps either side of the closest strength in [`CURVES`] tried next, to
/// half a step of the grid.
const CURVE_REFINE: i32 = 4;
/// The same for the gains in [`SIGMOIDS`]: quarter steps.
const SIGMOID_REFINE: i32 = 2;
/// An S-curve is taken only when it leaves less than this share of the
/// misfit of the best other match.
const CURVE_BETTER: f32 = 0.8;
/// Claim levels the fits use: beyond them a pixel may be clipped (JPEG
/// ringing spreads clipped white by a few levels).
const UNCLIPPED: std::ops::RangeInclusive<f32> = 6.0..=249.0;
/// Share of the compared pixels a fit's misfit is measured on.
const MISFIT_SHARE: f32 = 0.9;
/// Refits of a channel's gain and offset on the pixels the last fit
/// explains.
const REFITS: usize = 3;
/// Fewest pixels a gain and an offset are fitted on.
const MIN_FIT_PIXELS: usize = 16;
/// Most pixels the final fits use (a grid over the compared pixels), and
/// the fewer the gammas and saturations are compared on.
const FIT_SAMPLE: usize = 1 << 13;
const SEARCH_SAMPLE: usize = 1 << 11;

/// The compared pixels a colour fit uses, on a regular grid (a stride
/// through the rows alone could fall on the same few columns).
struct Samples {
    claim: [Vec<f32>; 3],
    reference: [Vec<f32>; 3],
}

impl Samples {
    fn new(claim: &[Plane], reference: &[Plane], inside: &[bool], most: usize) -> Self {
        let picked = grid_sample(inside, claim[0].w, most);
        let take = |planes: &[Plane]| {
            std::array::from_fn(|c| picked.iter().map(|&i| planes[c].data[i]).collect())
        };
        Samples {
            claim: take(claim),
            reference: take(reference),
        }
    }

    fn rgb(&self, i: usize) -> [f32; 3] {
        [0, 1, 2].map(|c| self.reference[c][i])
    }
}

impl ColourMatch {
    /// The per-channel match with the gammas that fit best, or the
    /// saturation or the S-curve match when it is clearly closer.
    fn fit(claim: &[Plane], reference: &[Plane], inside: &[bool]) -> Self {
        let s = Samples::new(claim, reference, inside, FIT_SAMPLE);
        let coarse = Samples::new(claim, reference, inside, SEARCH_SAMPLE);
        let by_gamma: Vec<(f32, [f32; 3])> = GAMMAS
            .iter()
            .map(|&g| (g, Self::fitted(FilterInput::Toned([g; 3]), &coarse).1))
            .collect();
        let gamma = std::array::from_fn(|c| {
            let linear = by_gamma
                .iter()
                .find(|b| b.0 == 1.0)
                .map_or(f32::MAX, |b| b.1[c]);
            by_gamma
                .iter()
                .min_by(|a, b| a.1[c].total_cmp(&b.1[c]))
                .filter(|best| best.1[c] < GAMMA_BETTER * linear)
                .map_or(1.0, |best| best.0)
        });
        let saturation =
            Self::closest(FilterInput::Saturated, SATURATIONS.iter().copied(), &coarse)
                .unwrap_or(1.0);
        let curve = Self::closest_refined(
            FilterInput::Curved,
            &CURVES,
            CURVE_REFINE,
            CURVES[0]..=CURVES[CURVES.len() - 1],
            &coarse,
        );
        let sigmoid = Self::closest_refined(
            FilterInput::Sigmoid,
            &SIGMOIDS,
            SIGMOID_REFINE,
            0.0..=f32::MAX,
            &coarse,
        );
        // Each other family is taken only when clearly closer than the best
        // so far.
        let (mut best, toned_misfit) = Self::fitted(FilterInput::Toned(gamma), &s);
        let mut best_misfit: f32 = toned_misfit.iter().sum();
        for (input, better) in [
            (FilterInput::Saturated(saturation), SATURATION_BETTER),
            (FilterInput::Curved(curve), CURVE_BETTER),
            (FilterInput::Sigmoid(sigmoid), CURVE_BETTER),
            (
                FilterInput::Matched(Arc::new(Matching::of(claim, reference, inside))),
                CURVE_BETTER,
            ),
        ] {
            let (candidate, misfit) = Self::fitted(input, &s);
            let misfit: f32 = misfit.iter().sum();
            if misfit < better * best_misfit {
                (best, best_misfit) = (candidate, misfit);
            }
        }
        best
    }

    /// The parameter of `family` among `values` whose match leaves the
    /// least misfit over the sample; `None` for no values.
    fn closest(
        family: impl Fn(f32) -> FilterInput,
        values: impl Iterator<Item = f32>,
        s: &Samples,
    ) -> Option<f32> {
        values
            .map(|v| (v, Self::fitted(family(v), s).1.iter().sum::<f32>()))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|best| best.0)
    }

    /// The closest parameter of `family` on the evenly spaced `grid`, then
    /// on `per_side` steps either side of it to half a grid step, kept
    /// `within` a range.
    fn closest_refined(
        family: impl Fn(f32) -> FilterInput + Copy,
        grid: &[f32],
        per_side: i32,
        within: std::ops::RangeInclusive<f32>,
        s: &Samples,
    ) -> f32 {
        let coarse = Self::closest(family, grid.iter().copied(), s).unwrap_or_default();
        let step = grid.get(1).zip(grid.first()).map_or(0.0, |(b, a)| b - a);
        let refined = (-per_side..=per_side)
            .map(|i| coarse + step * i as f32 / (2 * per_side) as f32)
            .filter(|v| within.contains(v));
        Self::closest(family, refined, s).unwrap_or(coarse)
    }

    /// Each channel's gain and offset on `input` over the sample, with its
    /// misfit.
    fn fitted(input: FilterInput, s: &Samples) -> (Self, [f32; 3]) {
        let inputs: Vec<[f32; 3]> = (0..s.claim[0].len()).map(|i| input.of(s.rgb(i))).collect();
        let mut rows = [(1.0, 0.0); 3];
        let mut misfits = [0.0; 3];
        for c in 0..3 {
            let x: Vec<f32> = inputs.iter().map(|v| v[c]).collect();
            let (gain, offset) = robust_fit(&s.claim[c], &x);
            rows[c] = (gain, offset);
            misfits[c] = channel_misfit(&s.claim[c], |i| gain * x[i] + offset);
        }
        (ColourMatch { input, rows }, misfits)
    }

    /// The reference's planes in the claim's colours.
    fn apply(&self, reference: &[Plane], levels: Levels) -> Vec<Plane> {
        let mut out: Vec<Plane> = reference.iter().map(|p| Plane::new(p.w, p.h)).collect();
        for i in 0..reference[0].data.len() {
            let inputs = self.input.of([0, 1, 2].map(|k| reference[k].data[i]));
            for (c, plane) in out.iter_mut().enumerate() {
                let (gain, offset) = self.rows[c];
                plane.data[i] = levels.limit(gain * inputs[c] + offset);
            }
        }
        out
    }
}

/// A vignette: brightness scaled by a smooth function of the distance from
/// the frame's centre, `g(t) = c0 + c1·t + c2·t²`, the even polynomial of
/// lens vignetting (Goldman 2010, "Vignette and exposure calibration and
/// compensation", IEEE TPAMI 32(12)), as phone and editor filters darken
/// corners. `t` is the squared distance, 1 at the corners, measured in
/// half-sides (editors' vignettes follow the frame's aspect) or in
/// half-diagonals (round ones); the better fit of the two is kept. Without
/// it a copy of a listing under a vignette filter reads as painted corners
/// (a review: 19 of 20 copies with corners darkened by 15% called
/// `edited`). Fitted on the median claim-to-reference ratio of each ring,
/// so damage over part of a ring does not bend it, and taken only as a
/// plausible vignette: a gain that changes monotonically from the centre
/// out, by at most [`VIGNETTE_MAX_DEPTH`].
#[derive(Clone, Copy)]
struct Vignette {
    c: [f32; 3],
    round: bool,
    w: usize,
    h: usize,
}

/// Rings the ratio is summarised over (equal steps of `t`).
const VIGNETTE_RINGS: usize = 16;
/// Fewest pixels of a ring that count, and fewest rings to fit.
const VIGNETTE_RING_PIXELS: usize = 32;
const VIGNETTE_MIN_RINGS: usize = 6;
/// Smallest and largest change of gain from the centre out worth taking
/// for a vignette.
const VIGNETTE_MIN_DEPTH: f32 = 0.03;
const VIGNETTE_MAX_DEPTH: f32 = 0.6;
/// The correction is taken only when it leaves less than this share of the
/// misfit without it.
const VIGNETTE_BETTER: f32 = 0.8;
/// Rounds of fitting the colours and the vignette in turn (each fit sees
/// the other's error), and the change of a coefficient that ends them.
const VIGNETTE_ROUNDS: usize = 4;
const VIGNETTE_CONVERGED: f32 = 0.005;

impl Vignette {
    fn t(&self, x: usize, y: usize) -> f32 {
        let (cx, cy) = ((self.w as f32 - 1.0) / 2.0, (self.h as f32 - 1.0) / 2.0);
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        if self.round {
            (dx * dx + dy * dy) / (cx * cx + cy * cy).max(1.0)
        } else {
            let (u, v) = (dx / cx.max(1.0), dy / cy.max(1.0));
            (u * u + v * v) / 2.0
        }
    }

    fn gain(&self, t: f32) -> f32 {
        self.c[0] + self.c[1] * t + self.c[2] * t * t
    }

    /// The vignette that takes `matched` (the reference in the claim's
    /// colours) to `claim`, if one is there, with a gain of 1 at the centre
    /// (the colours carry the rest).
    fn fit(claim: &Plane, matched: &Plane, inside: &[bool]) -> Option<Self> {
        let usable: Vec<usize> = (0..claim.data.len())
            .filter(|&i| {
                inside[i]
                    && UNCLIPPED.contains(&claim.data[i])
                    && (20.0..=249.0).contains(&matched.data[i])
            })
            .collect();
        let ratios: Vec<f32> = usable
            .iter()
            .map(|&i| claim.data[i] / matched.data[i])
            .collect();
        let sampled: Vec<usize> = usable.iter().copied().step_by(4).collect();
        let ys: Vec<f32> = sampled.iter().map(|&i| claim.data[i]).collect();
        let plain = channel_misfit(&ys, |k| matched.data[sampled[k]]);
        [false, true]
            .into_iter()
            .filter_map(|round| {
                let model = Self::fit_shape(claim.w, claim.h, &usable, &ratios, round)?;
                let misfit = channel_misfit(&ys, |k| {
                    let i = sampled[k];
                    matched.data[i] * model.gain(model.t(i % claim.w, i / claim.w))
                });
                Some((misfit, model))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .filter(|(misfit, _)| *misfit < VIGNETTE_BETTER * plain)
            .map(|(_, mut model)| {
                let centre = model.gain(0.0);
                model.c = model.c.map(|c| c / centre);
                model
            })
    }

    /// The plausible vignette of one geometry fitted on the ring medians of
    /// the claim-to-reference `ratios` at the pixels `usable` (row-major
    /// indices of a `w x h` frame).
    fn fit_shape(
        w: usize,
        h: usize,
        usable: &[usize],
        ratios: &[f32],
        round: bool,
    ) -> Option<Self> {
        let mut model = Vignette {
            c: [1.0, 0.0, 0.0],
            round,
            w,
            h,
        };
        let mut rings: Vec<Vec<f32>> = vec![Vec::new(); VIGNETTE_RINGS];
        for (&i, &ratio) in usable.iter().zip(ratios) {
            let ring =
                ((model.t(i % w, i / w) * VIGNETTE_RINGS as f32) as usize).min(VIGNETTE_RINGS - 1);
            rings[ring].push(ratio);
        }
        // Weighted least squares of the ring medians on (1, t, t²).
        let (mut ata, mut aty, mut used) = ([0.0f64; 9], [0.0f64; 3], 0);
        for (k, ring) in rings.iter_mut().enumerate() {
            if ring.len() < VIGNETTE_RING_PIXELS {
                continue;
            }
            let weight = (ring.len() as f64).sqrt();
            let median = f64::from(median_in_place(ring));
            let t = (k as f64 + 0.5) / VIGNETTE_RINGS as f64;
            let basis = [1.0, t, t * t];
            for a in 0..3 {
                aty[a] += weight * basis[a] * median;
                for b in 0..3 {
                    ata[a * 3 + b] += weight * basis[a] * basis[b];
                }
            }
            used += 1;
        }
        if used < VIGNETTE_MIN_RINGS {
            return None;
        }
        let c = crate::fusion::solve(&mut ata, &mut aty, 3)?;
        model.c = [c[0] as f32, c[1] as f32, c[2] as f32];
        let centre = model.gain(0.0);
        if !(0.5..=1.5).contains(&centre) {
            return None;
        }
        // Monotone from the centre out: the slope c1 + 2·c2·t keeps one
        // sign over [0, 1] (it is linear, so its ends decide).
        let (start, end) = (model.c[1], model.c[1] + 2.0 * model.c[2]);
        let depth = (model.gain(1.0) / centre - 1.0).abs();
        let plausible = start * end >= 0.0
            && (VIGNETTE_MIN_DEPTH..=VIGNETTE_MAX_DEPTH).contains(&depth)
            && [start, end].iter().all(|v| v.is_finite());
        plausible.then_some(model)
    }

    /// Whether `other` has the same geometry and coefficients within
    /// [`VIGNETTE_CONVERGED`].
    fn settled(&self, other: &Vignette) -> bool {
        self.round == other.round
            && self
                .c
                .iter()
                .zip(&other.c)
                .all(|(a, b)| (a - b).abs() < VIGNETTE_CONVERGED)
    }

    fn apply(&self, planes: &mut [Plane], levels: Levels) {
        self.scale(planes, |g| g, levels);
    }

    fn apply_inverse(&self, planes: &mut [Plane]) {
        self.scale(planes, |g| 1.0 / g.max(0.1), Levels::Clipped);
    }

    fn scale(&self, planes: &mut [Plane], factor: impl Fn(f32) -> f32, levels: Levels) {
        for plane in planes {
            for (i, v) in plane.data.iter_mut().enumerate() {
                let g = factor(self.gain(self.t(i % self.w, i / self.w)));
                *v = levels.limit(*v * g);
            }
        }
    }
}

/// Row-major indices of the compared pixels on a square grid, about `most`
/// of them (all when there are fewer).
fn grid_sample(inside: &[bool], w: usize, most: usize) -> Vec<usize> {
    let w = w.max(1);
    let compared = inside.iter().filter(|&&ok| ok).count();
    let stride = (compared as f32 / most.max(1) as f32)
        .sqrt()
        .ceil()
        .max(1.0) as usize;
    (0..inside.len())
        .filter(|&i| inside[i] && (i / w) % stride == 0 && (i % w) % stride == 0)
        .collect()
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

/// `claim ≈ gain * input + offset`, fitted where the claim is not clipped,
/// then refitted a few times on the pixels the last fit explains and
/// predicts unclipped: painted damage does not bend it, and choosing pixels
/// by the prediction rather than by the claim's own level does not bias the
/// gain near the clipping. `(1, 0)` with too few pixels to fit.
fn robust_fit(claim: &[f32], input: &[f32]) -> (f32, f32) {
    let unclipped: Vec<bool> = claim.iter().map(|y| UNCLIPPED.contains(y)).collect();
    let Some(mut fit) = line_fit(claim, input, &unclipped) else {
        return (1.0, 0.0);
    };
    for _ in 0..REFITS {
        let predicted: Vec<f32> = input.iter().map(|&x| fit.0 * x + fit.1).collect();
        let residual: Vec<f32> = claim
            .iter()
            .zip(&predicted)
            .map(|(y, p)| (y - p).abs())
            .collect();
        let mut sample = compared_values(&residual, &unclipped);
        let cut = (median_in_place(&mut sample) * 3.0).max(4.0);
        let inliers: Vec<bool> = residual
            .iter()
            .zip(&predicted)
            .map(|(&r, p)| r <= cut && UNCLIPPED.contains(p))
            .collect();
        match line_fit(claim, input, &inliers) {
            Some(refit) => fit = refit,
            None => break,
        }
    }
    fit
}

/// Least squares `claim ≈ gain * input + offset` over the pixels where
/// `use_px` holds; `None` with fewer than [`MIN_FIT_PIXELS`].
fn line_fit(claim: &[f32], input: &[f32], use_px: &[bool]) -> Option<(f32, f32)> {
    let (mut n, mut sx, mut sy, mut sxx, mut sxy) = (0usize, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for ((&y, &x), _) in claim.iter().zip(input).zip(use_px).filter(|(_, &ok)| ok) {
        let (x, y) = (f64::from(x), f64::from(y));
        n += 1;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    if n < MIN_FIT_PIXELS {
        return None;
    }
    let count = n as f64;
    let var = sxx - sx * sx / count;
    if var < 1e-6 * count {
        // An input that does not vary fixes no gain: only the level moves.
        return Some((1.0, ((sy - sx) / count) as f32));
    }
    // Filters worth matching change contrast moderately; a wild gain means
    // the fit is driven by the edit itself.
    let gain = ((sxy - sx * sy / count) / var).clamp(0.25, 4.0);
    let offset = (sy - gain * sx) / count;
    Some((gain as f32, offset as f32))
}

/// Radii (Gaussian sigma, working-scale pixels) of the unsharp masks tried.
const SHARPENING_SIGMAS: [f32; 7] = [0.5, 0.8, 1.2, 1.8, 2.5, 3.5, 5.0];
/// Amounts of unsharp masking believed: -1 is the blur itself, 4 a heavy
/// sharpening.
const SHARPENING_AMOUNTS: std::ops::RangeInclusive<f32> = -1.0..=4.0;
/// Steps of the amounts tried, over the whole range and then around each
/// local minimum of the misfit on that coarse grid.
const SHARPENING_COARSE_STEP: f32 = 0.25;
const SHARPENING_STEP: f32 = 0.05;
/// Share of the luma misfit the sharpening must leave to be believed.
const SHARPENING_BETTER: f32 = 0.9;
/// Most fits of the sharpening, each on the tones refitted after the last
/// ([`Filters::fit`]): a mask on textures that a gain nearly mimics
/// settled in the sixth (a test's case); 120 sharpened copies of 20 dev
/// listings in 2 to 4 fits, and two reached the sixth.
const SHARPENING_ROUNDS: usize = 6;

/// An unsharp mask (or a blur) applied to the whole claim:
/// `p + amount * (p - blur_sigma(p))`, clipped to 8 bits, which photo apps
/// and phone pipelines apply by default. Its halos are thin lines along
/// every edge, which the thin-line detector ([`thin_lines`]) takes for
/// cracks: of 20 dev listings sharpened at radius 2 (amount 1.2) and saved
/// at 800 px, 14 were called `edited` without this fit and 4 with it (5
/// before the line detector); at radius 1 (amount 2), 7 and 3 (3).
struct Sharpening {
    sigma: f32,
    amount: f32,
}

impl Sharpening {
    /// The radius and amount, of those tried, whose clipped prediction
    /// leaves the least mean absolute misfit over every sampled pixel, kept when it leaves less
    /// than [`SHARPENING_BETTER`] of the misfit without it. Absolute, so a
    /// painted change (a small share of the pixels) weighs about the same
    /// with and without the sharpening and does not steer it; clipped to 8
    /// bits, since where most halos clip (a high-contrast graphic) an
    /// unclipped model fits the wrong amount or none. The claim was clipped
    /// per channel and before the downscale to this scale, which a clipped
    /// luma only approximates.
    fn fit(claim: &Plane, matched: &Plane, inside: &[bool]) -> Option<Self> {
        let usable = grid_sample(inside, claim.w, FIT_SAMPLE);
        if usable.len() < MIN_FIT_PIXELS {
            return None;
        }
        let target: Vec<f32> = usable.iter().map(|&i| claim.data[i]).collect();
        let base: Vec<f32> = usable.iter().map(|&i| matched.data[i]).collect();
        let misfit = |amount: f32, detail: &[f32]| -> f64 {
            target
                .iter()
                .zip(&base)
                .zip(detail)
                .map(|((&t, &m), &d)| f64::from((t - (m + amount * d).clamp(0.0, 255.0)).abs()))
                .sum()
        };
        let plain: f64 = target
            .iter()
            .zip(&base)
            .map(|(&t, &m)| f64::from((t - m).abs()))
            .sum();
        if plain <= 0.0 {
            return None;
        }
        let (lo, hi) = (*SHARPENING_AMOUNTS.start(), *SHARPENING_AMOUNTS.end());
        let coarse_steps = ((hi - lo) / SHARPENING_COARSE_STEP).round() as usize;
        let fine_steps = (SHARPENING_COARSE_STEP / SHARPENING_STEP).round() as usize;
        SHARPENING_SIGMAS
            .iter()
            .filter_map(|&sigma| {
                let detail: Vec<f32> = base
                    .iter()
                    .zip(blurred_at(matched, sigma, &usable))
                    .map(|(m, soft)| m - soft)
                    .collect();
                if detail.len() != base.len() {
                    return None;
                }
                // A coarse grid, then the fine grid around each of its local
                // minima: clipping can give the misfit a second valley (a
                // clipped graphic beside a sharpened photo), which refining
                // around the best coarse amount alone missed in 14 of 1,755
                // constructed cases (a review's count). Each fine amount is
                // tried once however many valleys reach it, so a flat or
                // two-level plane (many tied valleys) costs at most the
                // whole fine grid.
                let coarse: Vec<f64> = (0..=coarse_steps)
                    .map(|k| misfit(lo + k as f32 * SHARPENING_COARSE_STEP, &detail))
                    .collect();
                let mut tried = vec![false; coarse_steps * fine_steps + 1];
                for k in 0..coarse.len() {
                    let left = k.checked_sub(1).map_or(f64::INFINITY, |j| coarse[j]);
                    let right = coarse.get(k + 1).copied().unwrap_or(f64::INFINITY);
                    if coarse[k] <= left && coarse[k] <= right {
                        let centre = k * fine_steps;
                        let last = (centre + fine_steps).min(tried.len() - 1);
                        tried[centre.saturating_sub(fine_steps)..=last].fill(true);
                    }
                }
                (0..tried.len())
                    .filter(|&i| tried[i])
                    .map(|i| lo + i as f32 * SHARPENING_STEP)
                    .map(|amount| (misfit(amount, &detail), amount))
                    .min_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(left, amount)| (left, Sharpening { sigma, amount }))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .filter(|(left, _)| *left < f64::from(SHARPENING_BETTER) * plain)
            .map(|(_, s)| s)
    }

    /// The same radius and amount (both from the grids tried).
    fn settled(&self, other: &Sharpening) -> bool {
        self.sigma == other.sigma && (self.amount - other.amount).abs() < SHARPENING_STEP * 0.5
    }

    /// Sharpen each plane as the claim was, clipped to 8 bits.
    fn apply(&self, planes: &mut [Plane]) {
        let soft: Vec<Plane> = planes.iter().map(|p| p.blurred(self.sigma)).collect();
        self.apply_blurred(planes, &soft, Levels::Clipped);
    }

    /// [`Sharpening::apply`] with each plane's blur at this radius given.
    fn apply_blurred(&self, planes: &mut [Plane], soft: &[Plane], levels: Levels) {
        for (plane, soft) in planes.iter_mut().zip(soft) {
            for (v, s) in plane.data.iter_mut().zip(&soft.data) {
                *v = levels.limit(*v + self.amount * (*v - s));
            }
        }
    }
}

/// `plane` blurred as [`Plane::blurred`] blurs it (imageproc's Gaussian:
/// radius ⌈2σ⌉, edges continued), worked out at `points` (row-major
/// indices) only: the sharpening fit reads a sample, and blurring whole
/// planes at seven radii took most of its time.
fn blurred_at(plane: &Plane, sigma: f32, points: &[usize]) -> Vec<f32> {
    let (w, h) = (plane.w, plane.h);
    if w == 0 || h == 0 || plane.data.len() != w * h {
        return Vec::new();
    }
    let radius = (2.0 * sigma).ceil() as i64;
    let mut kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-((i * i) as f32) / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = kernel.iter().sum();
    kernel.iter_mut().for_each(|k| *k /= sum);
    // The kernel at `at` along one row or column; taps past either end
    // read the end pixel.
    let convolve = |at: usize, line: &[f32]| -> f32 {
        let n = line.len() as i64;
        let first = at as i64 - radius;
        if first >= 0 && first + kernel.len() as i64 <= n {
            let taps = &line[first as usize..][..kernel.len()];
            return kernel.iter().zip(taps).map(|(k, v)| k * v).sum();
        }
        kernel
            .iter()
            .zip(first..)
            .map(|(k, i)| k * line[i.clamp(0, n - 1) as usize])
            .sum()
    };
    // The horizontal pass down each sampled column, then the vertical pass
    // at each point.
    let mut columns: Vec<Option<Vec<f32>>> = vec![None; w];
    points
        .iter()
        .filter(|&&p| p < w * h)
        .map(|&p| {
            let (x, y) = (p % w, p / w);
            let column = columns[x].get_or_insert_with(|| {
                plane
                    .data
                    .chunks_exact(w)
                    .map(|row| convolve(x, row))
                    .collect()
            });
            convolve(y, column)
        })
        .collect()
}

/// Half-length of the segments the line detector averages along, in
/// working-scale pixels.
const LINE_REACH: i32 = 5;
/// Orientations of the line detector (every 22.5 degrees).
const LINE_ORIENTATIONS: usize = 8;
/// Offset of the flanking segments, either side of the line.
const LINE_FLANK: f32 = 3.0;
/// Smallest line response, in 8-bit levels, ever called a line.
const LINE_FLOOR: f32 = 15.0;
/// A claim line of at most this multiple of the contrast the reference
/// already has there, within a pixel, is the reference's line, not a drawn
/// one ([`line_response`]). A 3x3 sharpening kernel (PIL's `SHARPEN`)
/// multiplies a 1-px line's contrast by about 2.1, and the listing's copy,
/// shrunk with a softer filter than the claim was, shows its finest lines
/// fainter: a sharpened 1024-px copy of a dev listing, whose sharpening the
/// fit did not take, showed a window's joints 2-2.8 times as dark, and was
/// called `edited` with 1.5 here. A line drawn over one the reference has
/// is therefore seen only where it adds twice that line's contrast.
const LINE_GROWTH: f32 = 3.0;
/// Blur of both lumas before the line detector, in working-scale pixels:
/// less than the 1 px of the pixel-wise map, which halves a line 1 px wide,
/// enough to take the edge off JPEG's ringing.
const LINE_SMOOTHING: f32 = 0.7;
/// Shortest thin line kept, in working-scale pixels (5% of the 512-px side).
/// A line joins the change map as a region, which must also reach the
/// smallest area ([`MIN_AREA_FRACTION`]: about 95 pixels at 512x384), so a
/// line 1-2 px wide is kept from about 50-95 px long: a shorter scratch is
/// left unreported rather than risk the many short traces filters leave.
const LINE_MIN_LENGTH: usize = 24;

/// The claim's luma outside the reference's 3x3 range, signed (negative
/// where darker), 0 within it and outside the compared pixels.
fn excess_over_range(claim_luma: &Plane, reference_luma: &Plane, inside: &[bool]) -> Vec<f32> {
    let (w, h) = (claim_luma.w, claim_luma.h);
    let contrast_lo = local_extreme(reference_luma, 1, f32::min);
    let contrast_hi = local_extreme(reference_luma, 1, f32::max);
    (0..w * h)
        .map(|i| {
            let v = claim_luma.data[i];
            if !inside[i] {
                0.0
            } else if v < contrast_lo[i] {
                v - contrast_lo[i]
            } else if v > contrast_hi[i] {
                v - contrast_hi[i]
            } else {
                0.0
            }
        })
        .collect()
}

/// The pixel offsets of a line segment and of its two flanks.
type Segments = [Vec<(i32, i32)>; 3];

/// How much darker (or lighter) than the fitted reference the claim is along
/// a thin line through each pixel, in levels: the luma difference outside
/// the reference's 3x3 range, averaged along a segment of `2 LINE_REACH + 1`
/// pixels in the best of 8 orientations, less the same average on the
/// parallel segments [`LINE_FLANK`] pixels either side (the line detector of
/// Ricci & Perfetti 2007, on the difference image). Averaging along the line
/// lifts a crack 1-2 px wide out of the noise that hides it pixel by pixel,
/// and the flanks reject steps and broad changes. A line the reference
/// already has (in the best orientation, within a pixel across it), which
/// the claim shows with less than [`LINE_GROWTH`] times its contrast,
/// responds 0.
fn line_response(
    excess: &[f32],
    claim_luma: &Plane,
    reference_luma: &Plane,
    inside: &[bool],
) -> Vec<f32> {
    let (w, h) = (claim_luma.w, claim_luma.h);
    let at = |x: i32, y: i32| -> f32 {
        if x < 0 || y < 0 || x >= w as i32 || y >= h as i32 {
            0.0
        } else {
            excess[y as usize * w + x as usize]
        }
    };
    let level_at = |plane: &Plane, x: i32, y: i32| -> f32 {
        let (x, y) = (x.clamp(0, w as i32 - 1), y.clamp(0, h as i32 - 1));
        plane.data[y as usize * w + x as usize]
    };
    let claim_at = |x: i32, y: i32| level_at(claim_luma, x, y);
    let reference_at = |x: i32, y: i32| level_at(reference_luma, x, y);
    // Per orientation, the pixel offsets of the line and of its two flanks,
    // each pixel once (rounding repeats some on the diagonals).
    let segments: Vec<Segments> = (0..LINE_ORIENTATIONS)
        .map(|k| {
            let theta = std::f32::consts::PI * k as f32 / LINE_ORIENTATIONS as f32;
            let (dx, dy) = (theta.cos(), theta.sin());
            std::array::from_fn(|side| {
                let shift = [0.0, LINE_FLANK, -LINE_FLANK][side];
                let mut offsets: Vec<(i32, i32)> = (-LINE_REACH..=LINE_REACH)
                    .map(|t| {
                        let t = t as f32;
                        (
                            (t * dx - shift * dy).round() as i32,
                            (t * dy + shift * dx).round() as i32,
                        )
                    })
                    .collect();
                offsets.dedup();
                offsets
            })
        })
        .collect();
    // Per orientation, the pixel step across the line.
    let normals: Vec<(i32, i32)> = (0..LINE_ORIENTATIONS)
        .map(|k| {
            let theta = std::f32::consts::PI * k as f32 / LINE_ORIENTATIONS as f32;
            (-theta.sin().round() as i32, theta.cos().round() as i32)
        })
        .collect();
    // A response reaching half the floor, the least a line pixel needs,
    // needs a mean excess of that much along its segment, so an excess of
    // that much on it: responses that cannot reach it are not worked out
    // and read 0 (most of the frame, where the claim keeps to the range).
    // The line test is unchanged by this; the threshold, which reads the
    // response's spread ([`thin_lines`]), is not when most of the frame
    // responds: a review fed noise into the excess and saw it rise from 25
    // to 40 levels, a stricter test where nothing is a line anyway.
    let magnitude = Plane {
        w,
        h,
        data: excess.iter().map(|e| e.abs()).collect(),
    };
    let near = local_extreme(&magnitude, LINE_REACH as usize, f32::max);
    (0..w * h)
        .map(|i| {
            if !inside[i] || near[i] <= 0.5 * LINE_FLOOR {
                return 0.0;
            }
            let (x, y) = ((i % w) as i32, (i / w) as i32);
            let mean_of = |value: &dyn Fn(i32, i32) -> f32, offsets: &[(i32, i32)]| {
                offsets
                    .iter()
                    .map(|&(ox, oy)| value(x + ox, y + oy))
                    .sum::<f32>()
                    / offsets.len() as f32
            };
            let mean = |offsets: &[(i32, i32)]| mean_of(&at, offsets);
            // The strongest response, on its segments, and whether dark.
            let mut best: Option<(f32, usize, bool)> = None;
            for (k, [line, left, right]) in segments.iter().enumerate() {
                let l = mean(line);
                if l.abs() <= 0.5 * LINE_FLOOR {
                    continue;
                }
                let (a, b) = (mean(left), mean(right));
                // A dark line and a light line both count, each by how far
                // it passes the nearer of its flanks and the reference.
                let darker = (a.min(b) - l).min(-l);
                let lighter = (l - a.max(b)).min(l);
                for (response, dark) in [(darker, true), (lighter, false)] {
                    if best.is_none_or(|(kept, _, _)| response > kept) && response > 0.0 {
                        best = Some((response, k, dark));
                    }
                }
            }
            let Some((response, k, dark)) = best else {
                return 0.0;
            };
            let [line, left, right] = &segments[k];
            // A line of the reference that the claim shows with more
            // contrast, along the line's own orientation, was sharpened, not
            // drawn: resampling and filters that keep edges (a median)
            // change an existing line's contrast in proportion, where
            // drawing adds one that was not there or much fainter. The
            // reference's line is looked for a pixel either side too, as
            // the 3x3 range allows for misregistration.
            let contrast = |at: &dyn Fn(i32, i32) -> f32| {
                let (l, a, b) = (mean_of(at, line), mean_of(at, left), mean_of(at, right));
                if dark {
                    a.min(b) - l
                } else {
                    l - a.max(b)
                }
            };
            let (nx, ny) = normals[k];
            let existing = [-1, 0, 1]
                .map(|s| contrast(&|x, y| reference_at(x + s * nx, y + s * ny)))
                .into_iter()
                .fold(f32::MIN, f32::max);
            if existing > 0.0 && contrast(&claim_at) < LINE_GROWTH * existing {
                0.0
            } else {
                response
            }
        })
        .collect()
}

/// Thin lines the opening removes (a crack drawn 2 px wide on an 800-px
/// claim is 1.3 px wide at the working scale): connected pixels whose line
/// response ([`line_response`]) reaches half its threshold and which
/// themselves leave the reference's range, holding one that reaches the
/// threshold, at least [`LINE_MIN_LENGTH`] long. The threshold is
/// [`LINE_FLOOR`], well above what filters leave (sharpening, a strong tone
/// curve or a colour fitted a little off leave thin traces along the
/// reference's edges, of a few levels once the sharpening is fitted:
/// [`Sharpening`]); it rises with the response's noise scale, as for the
/// other measures, only when most of the frame responds, since the
/// response is 0 over most of an ordinary claim and so are its median and
/// spread. `scale` is the claim's pixels per working-scale pixel (1, or
/// more at the finer scale: [`Finer`]), so a line's length is measured
/// alike at both.
/// Per pixel, the line's response over its threshold; 0 off the lines.
fn thin_lines(claim_luma: &Plane, reference_luma: &Plane, inside: &[bool], scale: f32) -> Vec<f32> {
    let (w, h) = (claim_luma.w, claim_luma.h);
    let excess = excess_over_range(claim_luma, reference_luma, inside);
    let min_length = (LINE_MIN_LENGTH as f32 * scale).round() as usize;
    let response = line_response(&excess, claim_luma, reference_luma, inside);
    let threshold = robust_threshold(&response, inside, LINE_FLOOR);
    let candidates = GrayImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w + x as usize;
        // The pixel itself must leave the reference's range: the response
        // reaches a pixel or two beside a line, and beside a painted
        // region it would widen the region by a rim (on dev copies painted
        // with a stain and a crack, F1 0.880 -> 0.866).
        let on_line = response[i] > 0.5 * threshold && excess[i] != 0.0;
        Luma([if on_line { 255 } else { 0 }])
    });
    let labels = connected_components(&candidates, Connectivity::Eight, Luma([0u8]));
    let n = labels.pixels().map(|p| p[0]).max().unwrap_or(0) as usize;
    let mut extent = vec![(usize::MAX, usize::MAX, 0usize, 0usize); n + 1];
    let mut seeded = vec![false; n + 1];
    for (i, l) in labels.pixels().enumerate() {
        let l = l[0] as usize;
        if l == 0 {
            continue;
        }
        let (x, y) = (i % w, i / w);
        let e = &mut extent[l];
        *e = (e.0.min(x), e.1.min(y), e.2.max(x + 1), e.3.max(y + 1));
        seeded[l] |= response[i] > threshold;
    }
    let keep: Vec<bool> = extent
        .iter()
        .zip(&seeded)
        .map(|(&(x0, y0, x1, y1), &s)| s && x1 > x0 && (x1 - x0).max(y1 - y0) >= min_length)
        .collect();
    labels
        .pixels()
        .zip(&response)
        .map(|(l, &r)| {
            if keep[l[0] as usize] {
                r / threshold
            } else {
                0.0
            }
        })
        .collect()
}

/// Per pixel, `pick` (min or max) of the plane over the square of `reach`,
/// a row pass then a column pass taken row by row (cache-friendly).
fn local_extreme(plane: &Plane, reach: usize, pick: impl Fn(f32, f32) -> f32 + Copy) -> Vec<f32> {
    let (w, h) = (plane.w, plane.h);
    if w == 0 || h == 0 || plane.data.len() != w * h {
        return plane.data.clone();
    }
    let mut rows = vec![0.0f32; w * h];
    for (src, dst) in plane.data.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
        for (x, d) in dst.iter_mut().enumerate() {
            let window = &src[x.saturating_sub(reach)..(x + reach + 1).min(w)];
            *d = window.iter().copied().fold(src[x], pick);
        }
    }
    let mut out = rows.clone();
    for (y, dst) in out.chunks_exact_mut(w).enumerate() {
        for row in rows[y.saturating_sub(reach) * w..(y + reach + 1).min(h) * w].chunks_exact(w) {
            for (d, &v) in dst.iter_mut().zip(row) {
                *d = pick(*d, v);
            }
        }
    }
    out
}

/// The filters a claim went through as a copy of the reference: perhaps a
/// sharpening of the whole frame, then its tones. (The sharpening is
/// fitted on the toned reference; a mask and a gain commute, and a gamma or
/// curve nearly does over the small range of a halo.)
struct Filters {
    tones: Tones,
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the tests check what was fitted")
    )]
    sharpening: Option<Sharpening>,
    /// The reference filtered as the claim was.
    filtered: Vec<Plane>,
    /// The same before any clipping to 8 bits.
    unclipped: Vec<Plane>,
}

impl Filters {
    /// A wide unsharp mask raises contrast over whole surfaces, which a
    /// colour match alone takes for a gain, and a sharpening fitted after
    /// it then falls short (of 20 dev listings under a radius-4, 150% mask
    /// at 800 px, 11 were called `edited`, with gains of 1.14-1.22 where
    /// the amount was fitted at 1.0-1.2). A mask and a gain nearly commute,
    /// so the tones are refitted on the sharpened reference, and the
    /// sharpening on those tones, until the same radius and amount come
    /// back or [`SHARPENING_ROUNDS`] fits are made. The alternation creeps
    /// towards the answer (a review: the gain left about halves per round)
    /// and may stop short of it for the widest masks; a gain fitted inside
    /// the sharpening's own search found it at once but made the search
    /// slower than the rounds it saved (300 battery claims: 45-50 s against
    /// 34-39 s).
    fn fit(claim: &[Plane], claim_luma: &Plane, reference: &[Plane], inside: &[bool]) -> Self {
        let mut tones = Tones::fit(claim, claim_luma, reference, inside);
        let mut toned = tones.apply(reference, Levels::Clipped);
        // The sharpening kept, with the reference sharpened by it.
        let mut sharpened: Option<(Sharpening, Vec<Plane>)> = None;
        // The reference blurred at each radius fitted: the rounds mostly
        // return the same radius with another amount.
        let mut blurred: Vec<(f32, Vec<Plane>)> = Vec::new();
        for _ in 0..SHARPENING_ROUNDS {
            let Some(next) = Sharpening::fit(claim_luma, &luma_of(&toned), inside) else {
                break;
            };
            if sharpened
                .as_ref()
                .is_some_and(|(kept, _)| kept.settled(&next))
            {
                break;
            }
            if !blurred.iter().any(|(sigma, _)| *sigma == next.sigma) {
                let planes = reference.iter().map(|p| p.blurred(next.sigma)).collect();
                blurred.push((next.sigma, planes));
            }
            let soft = blurred_for(&blurred, &next);
            let mut planes = reference.to_vec();
            next.apply_blurred(&mut planes, soft, Levels::Clipped);
            tones = Tones::fit(claim, claim_luma, &planes, inside);
            toned = tones.apply(reference, Levels::Clipped);
            sharpened = Some((next, planes));
        }
        match sharpened {
            Some((sharpening, planes)) => {
                let mut unclipped = reference.to_vec();
                let soft = blurred_for(&blurred, &sharpening);
                sharpening.apply_blurred(&mut unclipped, soft, Levels::Unclipped);
                Filters {
                    filtered: tones.apply(&planes, Levels::Clipped),
                    unclipped: tones.apply(&unclipped, Levels::Unclipped),
                    tones,
                    sharpening: Some(sharpening),
                }
            }
            None => Filters {
                filtered: toned,
                unclipped: tones.apply(reference, Levels::Unclipped),
                tones,
                sharpening: None,
            },
        }
    }
}

/// The reference blurred at `sharpening`'s radius, from the blurs made
/// (empty if it was not made: nothing is sharpened then).
fn blurred_for<'a>(blurred: &'a [(f32, Vec<Plane>)], sharpening: &Sharpening) -> &'a [Plane] {
    blurred
        .iter()
        .find(|(sigma, _)| *sigma == sharpening.sigma)
        .map_or(&[], |(_, planes)| planes.as_slice())
}

/// Whether a filter's output is clipped to 8 bits, as a claim's pixels
/// are, or left unclipped to see how far the filter pushed them.
#[derive(Clone, Copy)]
enum Levels {
    Clipped,
    Unclipped,
}

impl Levels {
    fn limit(self, v: f32) -> f32 {
        match self {
            Levels::Clipped => v.clamp(0.0, 255.0),
            Levels::Unclipped => v,
        }
    }
}

/// A claim's tones against a reference: the colour match, with the
/// vignette fitted in turn (the colours on the claim without the vignette,
/// since a first colour fit sees darkened corners and takes part of them)
/// until the vignette settles.
#[derive(Clone)]
struct Tones {
    colours: ColourMatch,
    vignette: Option<Vignette>,
}

impl Tones {
    fn fit(claim: &[Plane], claim_luma: &Plane, reference: &[Plane], inside: &[bool]) -> Self {
        let mut colours = ColourMatch::fit(claim, reference, inside);
        let mut vignette: Option<Vignette> = None;
        for _ in 0..VIGNETTE_ROUNDS {
            let Some(next) = Vignette::fit(
                claim_luma,
                &luma_of(&colours.apply(reference, Levels::Clipped)),
                inside,
            ) else {
                break;
            };
            let settled = vignette.is_some_and(|kept| kept.settled(&next));
            let mut flattened = claim.to_vec();
            next.apply_inverse(&mut flattened);
            colours = ColourMatch::fit(&flattened, reference, inside);
            vignette = Some(next);
            if settled {
                break;
            }
        }
        Tones { colours, vignette }
    }

    /// The same tones for a frame of `w x h` (the vignette spans the frame).
    fn resized(&self, w: usize, h: usize) -> Tones {
        Tones {
            colours: self.colours.clone(),
            vignette: self.vignette.map(|v| Vignette { w, h, ..v }),
        }
    }

    /// `reference` in the claim's tones.
    fn apply(&self, reference: &[Plane], levels: Levels) -> Vec<Plane> {
        let mut toned = self.colours.apply(reference, levels);
        if let Some(vignette) = &self.vignette {
            vignette.apply(&mut toned, levels);
        }
        toned
    }
}

/// How far below (`below`) or above (`above`) its clipped prediction a
/// claim pixel may lie where a filter clipped the claim's levels. The claim
/// was filtered and clipped at its own resolution and then shrunk to this
/// scale; the prediction is clipped after the shrinking. Clipping is
/// concave at 255 (convex at 0), so the mean of clipped values lies below
/// (above) the clipped mean (Jensen's inequality): a brightened or
/// sharpened texture that straddles 255 reads darker in the claim than
/// predicted. Values spread over `[m, M]` with a mean at the limit `l` give
/// the largest gap, `(l - m)(M - l) / (M - m)`; `m` and `M` are the unclipped
/// prediction's extremes over 3x3 pixels, spread [`FINE_SPREAD`] times
/// wider about the pixel's own value, and the gap is blurred as the
/// compared planes are. Where every value clips, or none, the slack is 0, so a
/// change painted inside a blown-out area is still seen. On 96 unedited
/// filtered copies of 12 dev photos (`scripts/reference_filters_eval.py`)
/// 7 were called `edited` without the slack and 2 with it; the painted
/// copies' F1 rose for the brightened ones (0.79 to 0.85).
struct ClipSlack {
    below: Plane,
    above: Plane,
}

/// How much wider than the compared scale's 3x3 extremes the claim's own
/// pixels are taken to spread: a pixel here averages several of the
/// claim's, and its finest detail (a chain-link fence against a blown-out
/// sky) is averaged away. Of the 12 copies brightened by 1.6, 3 were called
/// `edited` with the extremes as they are (1), and 1 with them spread by 2
/// or by 3; 3 also cleared the last edge-enhanced battery copy, but cost
/// the painted copies 0.003-0.005 of F1.
const FINE_SPREAD: f32 = 2.0;

impl ClipSlack {
    fn of(unclipped: &Plane) -> Self {
        let lows = local_extreme(unclipped, 1, f32::min);
        let highs = local_extreme(unclipped, 1, f32::max);
        let gaps = |limit: f32| Plane {
            w: unclipped.w,
            h: unclipped.h,
            data: lows
                .iter()
                .zip(&highs)
                .zip(&unclipped.data)
                .map(|((&low, &high), &centre)| {
                    let low = centre - FINE_SPREAD * (centre - low);
                    let high = centre + FINE_SPREAD * (high - centre);
                    if low < limit && high > limit {
                        (limit - low) * (high - limit) / (high - low)
                    } else {
                        0.0
                    }
                })
                .collect(),
        };
        let (below, above) = (gaps(255.0), gaps(0.0));
        ClipSlack {
            below: below.blurred(1.0),
            above: above.blurred(1.0),
        }
    }
}

/// The claim and the reference at a finer scale than the working one, for
/// the thin-line detector alone: a crack 1 px wide on an 800-px claim is
/// 0.64 px wide at 512 px, its contrast diluted below what the detector
/// can tell from JPEG noise (of 20 dev listings with such a crack painted
/// dark, 7 were called `edited` at the working scale alone, 13 with this).
pub(crate) struct Finer {
    pub claim: [Plane; 3],
    pub reference: [Plane; 3],
    /// Reference → claim, at this scale.
    pub affine: Affine,
}

/// The reference warped onto a claim frame of `w x h`, and the pixels
/// compared: inside the overlap, less a 3-pixel band at its edge, where
/// interpolation mixes in the outside.
struct Overlay {
    warped: Vec<Plane>,
    valid: GrayImage,
    inside: Vec<bool>,
    compared: usize,
}

impl Overlay {
    fn of(reference: &[Plane; 3], affine: &Affine, w: usize, h: usize) -> Option<Self> {
        let inv = affine.inverse()?;
        if w < 8 || h < 8 {
            return None;
        }
        let (warped, valid) = warp_all(reference, &inv, w, h);
        let valid = GrayImage::from_fn(w as u32, h as u32, |x, y| {
            Luma([if valid[y as usize * w + x as usize] {
                255
            } else {
                0
            }])
        });
        let inner = imageproc::morphology::erode(&valid, Norm::LInf, 3);
        let inside: Vec<bool> = inner.pixels().map(|p| p[0] > 0).collect();
        let compared = inside.iter().filter(|&&b| b).count();
        (compared >= 64).then_some(Overlay {
            warped,
            valid,
            inside,
            compared,
        })
    }
}

/// The thin lines ([`thin_lines`]) of the finer claim against the
/// reference in the claim's `tones` (fitted at the working scale; they act
/// pixel by pixel), each working-scale pixel of `w x h` given the strongest
/// response among the finer pixels it covers. A sharpening is fitted again
/// at this scale: its halos are finer here, and would read as lines.
fn finer_lines(finer: &Finer, w: usize, h: usize, tones: &Tones) -> Option<Vec<f32>> {
    let (fw, fh) = (finer.claim[0].w, finer.claim[0].h);
    let overlay = Overlay::of(&finer.reference, &finer.affine, fw, fh)?;
    let claim_luma = luma_of(&finer.claim);
    let tones = tones.resized(fw, fh);
    let toned = tones.apply(&overlay.warped, Levels::Clipped);
    let predicted = match Sharpening::fit(&claim_luma, &luma_of(&toned), &overlay.inside) {
        Some(sharpening) => {
            let mut sharpened = overlay.warped;
            sharpening.apply(&mut sharpened);
            tones.apply(&sharpened, Levels::Clipped)
        }
        None => toned,
    };
    let (kx, ky) = (fw as f32 / w as f32, fh as f32 / h as f32);
    let lines = thin_lines(
        &claim_luma.blurred(LINE_SMOOTHING),
        &luma_of(&predicted).blurred(LINE_SMOOTHING),
        &overlay.inside,
        kx.max(ky),
    );
    let mut pooled = vec![0.0f32; w * h];
    for (i, &v) in lines.iter().enumerate() {
        if v > 0.0 {
            let x = (((i % fw) as f32 + 0.5) / kx) as usize;
            let y = (((i / fw) as f32 + 0.5) / ky) as usize;
            let cell = &mut pooled[y.min(h - 1) * w + x.min(w - 1)];
            *cell = cell.max(v);
        }
    }
    Some(pooled)
}

/// Compare `claim` (RGB planes at working scale) with `reference` (RGB planes
/// of the reference at its stored scale) mapped by `affine` (reference →
/// claim); thin lines are looked for at the `finer` scale too when given.
pub(crate) fn change_map(
    claim: &[Plane; 3],
    reference: &[Plane; 3],
    affine: &Affine,
    finer: Option<&Finer>,
) -> ChangeMap {
    let (w, h) = (claim[0].w, claim[0].h);
    let Some(Overlay {
        warped: warped_sharp,
        valid: valid_img,
        inside,
        compared,
    }) = Overlay::of(reference, affine, w, h)
    else {
        return ChangeMap {
            w,
            h,
            values: vec![0.0; w * h],
            blobs: Vec::new(),
            changed_fraction: 0.0,
        };
    };
    let claim_luma = luma_of(claim);
    let claim_b = colour_blurred(claim, &claim_luma);

    // The match is fitted and applied on the sharp planes, then blurred: a
    // filter acts pixel by pixel, and blurring a clipped image is not
    // clipping a blurred one.
    let filters = Filters::fit(claim, &claim_luma, &warped_sharp, &inside);
    let slack: Vec<ClipSlack> = filters.unclipped.iter().map(ClipSlack::of).collect();
    let matched = filters.filtered;
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
                let (lo, hi) = (lo - slack[c].below.data[i], hi + slack[c].above.data[i]);
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
    let mut lines = thin_lines(
        &claim_luma.blurred(LINE_SMOOTHING),
        &matched_luma.blurred(LINE_SMOOTHING),
        &inside,
        1.0,
    );
    if let Some(finer) = finer.and_then(|f| finer_lines(f, w, h, &filters.tones)) {
        for ((line, fine), &ok) in lines.iter_mut().zip(finer).zip(&inside) {
            if ok {
                *line = line.max(fine);
            }
        }
    }
    // Colour and texture differences in units of their own thresholds:
    // a change at 1, grown by hysteresis down to 0.5.
    let (mut diff, texture_led): (Vec<f32>, Vec<bool>) = diff
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
    let mut weak = imageproc::morphology::open(&weak, Norm::LInf, 1);
    for ((p, d), &line) in weak.pixels_mut().zip(diff.iter_mut()).zip(&lines) {
        if line > 0.0 {
            p[0] = 255;
            *d = d.max(line);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn planes(w: usize, h: usize, f: impl Fn(usize, usize, usize) -> f32) -> Vec<Plane> {
        (0..3)
            .map(|c| Plane {
                w,
                h,
                data: (0..w * h).map(|i| f(i % w, i / w, c)).collect(),
            })
            .collect()
    }

    /// The match of `claim` from `reference` over every pixel: each
    /// predicted level finite and within 0..=255, and the largest error.
    fn largest_error(claim: &[Plane], reference: &[Plane]) -> f32 {
        let inside = vec![true; claim[0].data.len()];
        let matched = ColourMatch::fit(claim, reference, &inside).apply(reference, Levels::Clipped);
        let mut worst = 0.0f32;
        for (m, c) in matched.iter().zip(claim) {
            for (&p, &y) in m.data.iter().zip(&c.data) {
                assert!(p.is_finite() && (0.0..=255.0).contains(&p), "{p}");
                worst = worst.max((p - y).abs());
            }
        }
        worst
    }

    /// The map has one changed region, and it covers the box
    /// `[x0, y0, x1, y1]`.
    fn assert_one_region_covering(map: &ChangeMap, [x0, y0, x1, y1]: [usize; 4]) {
        assert_eq!(map.blobs.len(), 1, "{:?}", map.blobs);
        let blob = map.blobs[0];
        assert!(
            blob.x0 <= x0 && blob.x1 >= x1 && blob.y0 <= y0 && blob.y1 >= y1,
            "{blob:?}"
        );
    }

    /// ImageMagick's sigmoidal contrast about mid-grey, written out here
    /// independently of [`sigmoid_curve`].
    fn sigmoidal(v: f32, gain: f32) -> f32 {
        let s = |u: f32| 1.0 / (1.0 + (gain * (0.5 - u)).exp());
        255.0 * (s(v / 255.0) - s(0.0)) / (s(1.0) - s(0.0))
    }

    fn scene(x: usize, y: usize, c: usize) -> f32 {
        let t = ((x * 7 + y * 13) % 97) as f32;
        [40.0 + 1.5 * t, 30.0 + 2.0 * t, 80.0 + t][c]
    }

    #[test]
    fn filters_are_matched_exactly() {
        let reference = planes(64, 48, scene);
        let luma = |x, y| 0.299 * scene(x, y, 0) + 0.587 * scene(x, y, 1) + 0.114 * scene(x, y, 2);
        type Filter = Box<dyn Fn(usize, usize, usize) -> f32>;
        let cases: [(&str, Filter); 5] = [
            (
                "clipped brighter",
                Box::new(|x, y, c| (1.6 * scene(x, y, c)).min(255.0)),
            ),
            (
                "gamma",
                Box::new(|x, y, c| 255.0 * (scene(x, y, c) / 255.0).powf(0.6)),
            ),
            (
                "sepia",
                Box::new(move |x, y, c| [1.07, 0.74, 0.43][c] * luma(x, y) + 10.0),
            ),
            // ImageMagick's `-sigmoidal-contrast 8x50%` (the raised cosine
            // is 6 levels off) and a gain between those of the grid.
            (
                "sigmoidal 8",
                Box::new(|x, y, c| sigmoidal(scene(x, y, c), 8.0)),
            ),
            (
                "sigmoidal 11",
                Box::new(|x, y, c| sigmoidal(scene(x, y, c), 11.0)),
            ),
        ];
        for (name, filter) in cases {
            let claim = planes(64, 48, filter);
            let error = largest_error(&claim, &reference);
            assert!(error < 2.0, "{name}: {error}");
        }
    }

    /// A different monotone curve on each channel (as an editor's
    /// "equalize" gives) is matched by the claim's histogram, and leaves no
    /// change; a stain over the only bright object stays a change, which a
    /// curve fitted level by level would bend to.
    #[test]
    fn per_channel_curves_are_matched_by_rank_and_a_stain_is_not() {
        let (w, h) = (160, 120);
        let grain = grainy(w, h, 3);
        // A bright disc, the only pixels over 200.
        let disc = |x: usize, y: usize| (x as f32 - 110.0).hypot(y as f32 - 60.0) < 14.0;
        let reference: [Plane; 3] = std::array::from_fn(|c| Plane {
            data: (0..w * h)
                .map(|i| {
                    let (x, y) = (i % w, i / w);
                    if disc(x, y) {
                        235.0 + (grain.data[i] - 120.0) * 0.2
                    } else {
                        (grain.data[i] + 12.0 * c as f32 - 20.0).clamp(0.0, 190.0)
                    }
                })
                .collect(),
            ..grain.clone()
        });
        // A square root, a steep S and a cube: none of the other families.
        let curve = |c: usize, v: f32| {
            let t = v / 255.0;
            255.0
                * match c {
                    0 => t.sqrt(),
                    1 => 0.5 + 0.5 * (std::f32::consts::PI * (t - 0.5)).sin(),
                    _ => t * t * t,
                }
        };
        let mut claim: [Plane; 3] = std::array::from_fn(|c| Plane {
            data: reference[c].data.iter().map(|&v| curve(c, v)).collect(),
            ..grain.clone()
        });
        let identity = Affine::scaling(1.0, 1.0);
        let map = change_map(&claim, &reference, &identity, None);
        assert!(map.blobs.is_empty(), "{:?}", map.blobs);

        // A brown stain over most of the disc.
        for (c, plane) in claim.iter_mut().enumerate() {
            for (i, v) in plane.data.iter_mut().enumerate() {
                let (x, y) = (i % w, i / w);
                if disc(x, y) && x < 118 {
                    *v = 0.4 * *v + 0.6 * [120.0, 80.0, 30.0][c];
                }
            }
        }
        let map = change_map(&claim, &reference, &identity, None);
        assert_one_region_covering(&map, [100, 50, 114, 70]);
    }

    /// A vignette is recovered from a claim whose corners it darkened,
    /// through a painted stain over part of a corner, and none is found
    /// on a claim without one.
    #[test]
    fn a_vignette_is_fitted_through_damage_and_not_invented() {
        let (w, h) = (160, 120);
        let reference = planes(w, h, |x, y, c| scene(x, y, c) * 0.8 + 20.0);
        let inside = vec![true; w * h];
        // Following the frame's aspect, and round.
        for round in [false, true] {
            let truth = Vignette {
                c: [1.0, -0.1, -0.25],
                round,
                w,
                h,
            };
            let mut claim = reference.clone();
            truth.apply(&mut claim, Levels::Clipped);
            for y in 90..115 {
                for x in 5..40 {
                    for (c, plane) in claim.iter_mut().enumerate() {
                        plane.data[y * w + x] = [110.0, 70.0, 30.0][c];
                    }
                }
            }
            let fitted =
                Vignette::fit(&luma_of(&claim), &luma_of(&reference), &inside).expect("a vignette");
            assert_eq!(fitted.round, round);
            for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
                let (got, want) = (fitted.gain(t), truth.gain(t));
                assert!(
                    (got - want).abs() < 0.03,
                    "{round} t {t}: {got} against {want}"
                );
            }
        }
        let plain = Vignette::fit(&luma_of(&reference), &luma_of(&reference), &inside);
        assert!(plain.is_none());
        // A brighter copy is a gain, not a vignette.
        let brighter = planes(w, h, |x, y, c| (scene(x, y, c) * 0.8 + 20.0) * 1.2);
        assert!(Vignette::fit(&luma_of(&brighter), &luma_of(&reference), &inside).is_none());
    }

    #[test]
    fn degenerate_colours_give_finite_matches() {
        let varied = planes(32, 32, scene);
        let flat = planes(32, 32, |_, _, _| 120.0);
        let black = planes(32, 32, |_, _, _| 0.0);
        let white = planes(32, 32, |_, _, _| 255.0);
        let grey = planes(32, 32, |x, y, _| scene(x, y, 1));
        // A flat or black reference explains a flat claim by its level.
        assert!(largest_error(&flat, &flat) < 1.0);
        assert!(largest_error(&planes(32, 32, |_, _, _| 90.0), &flat) < 1.0);
        for (claim, reference) in [
            (&varied, &black),
            (&black, &varied),
            (&white, &varied),
            (&varied, &grey),
            (&grey, &varied),
        ] {
            largest_error(claim, reference);
        }
        // Too few pixels to fit: the reference as it is.
        let tiny = planes(2, 2, scene);
        assert!(largest_error(&tiny, &tiny) < 1.0);
    }

    /// A textured grey plane with per-pixel grain from a fixed hash.
    fn grainy(w: usize, h: usize, seed: usize) -> Plane {
        Plane {
            w,
            h,
            data: (0..w * h)
                .map(|i| {
                    let (x, y) = (i % w, i / w);
                    // A multiplicative hash of the pixel and the seed (Knuth), so
                    // grains of different seeds are independent.
                    let key = ((seed as u64) << 32 | i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    let grain = ((key >> 40) % 1000) as f32 / 1000.0 - 0.5;
                    120.0 + 30.0 * ((x as f32 / 9.0).sin() * (y as f32 / 13.0).cos()) + 6.0 * grain
                })
                .collect(),
        }
    }

    /// `plane` shrunk by `k`, each pixel the mean of its k x k square.
    fn shrunk(plane: &Plane, k: usize) -> Plane {
        let (w, h) = (plane.w / k, plane.h / k);
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w * k, i / w * k);
                let sum: f32 = (0..k * k)
                    .map(|j| plane.data[(y + j / k) * plane.w + x + j % k])
                    .sum();
                sum / (k * k) as f32
            })
            .collect();
        Plane { w, h, data }
    }

    /// A crack one pixel wide on a claim three times finer than the
    /// working scale is a third of a pixel wide there, 20 levels dark, too
    /// faint to call; at the finer scale it is 60 levels dark and found,
    /// while the unedited copy shows nothing at either scale.
    #[test]
    fn a_hairline_crack_is_found_at_the_finer_scale() {
        let (w, h, k) = (480, 360, 3);
        let crack_y = |x: usize| 100 + x / 5;
        let reference = grainy(w, h, 1);
        let mut cracked = grainy(w, h, 2);
        for x in 60..420 {
            cracked.data[crack_y(x) * w + x] -= 60.0;
        }
        let identity = Affine::similarity(1.0, 0.0, 0.0, 0.0);
        let reference_fine = [0, 1, 2].map(|_| reference.clone());
        let reference_working = [0, 1, 2].map(|_| shrunk(&reference, k));
        for (claim, edited) in [(grainy(w, h, 2), false), (cracked, true)] {
            let claim_fine = [0, 1, 2].map(|_| claim.clone());
            let claim_working = [0, 1, 2].map(|_| shrunk(&claim, k));
            let working_only = change_map(&claim_working, &reference_working, &identity, None);
            assert!(working_only.blobs.is_empty(), "{:?}", working_only.blobs);
            let finer = Finer {
                claim: claim_fine,
                reference: reference_fine.clone(),
                affine: identity,
            };
            let map = change_map(&claim_working, &reference_working, &identity, Some(&finer));
            if edited {
                assert_one_region_covering(&map, [25, 40, 135, 60]);
            } else {
                assert!(map.blobs.is_empty(), "{:?}", map.blobs);
            }
        }
    }

    /// A thin light line of the reference that the claim shows with 39%
    /// more contrast (an edge-keeping filter against a softer resampling),
    /// or with 2.2 times as much (a 3x3 sharpening), even a pixel off, was
    /// not drawn; the same line on a claim whose reference has none was, and
    /// so was one three pixels beside the reference's (which misregistration
    /// does not explain).
    #[test]
    fn a_line_of_the_reference_with_more_contrast_is_not_a_drawn_line() {
        let (w, h) = (160, 120);
        let line_y = |x: usize| 40 + x / 4;
        // Darker than `grainy`, so the lines stay under 255.
        let with_line = |seed: usize, contrast: f32, shift: usize| {
            let mut plane = grainy(w, h, seed);
            plane.data.iter_mut().for_each(|v| *v -= 40.0);
            for x in 20..140 {
                plane.data[(line_y(x) + shift) * w + x] += contrast;
            }
            plane
        };
        let inside = vec![true; w * h];
        let strongest_on_line = |claim: &Plane, reference: &Plane| {
            let excess = excess_over_range(claim, reference, &inside);
            let response = line_response(&excess, claim, reference, &inside);
            (24..136)
                .map(|x| response[line_y(x) * w + x])
                .fold(0.0f32, f32::max)
        };
        // The last a pixel off, as misregistration leaves it.
        for (listed, shown, off) in [(90.0, 125.0, 0), (50.0, 110.0, 0), (90.0, 125.0, 1)] {
            let sharpened = strongest_on_line(&with_line(2, shown, 0), &with_line(1, listed, off));
            assert!(sharpened < LINE_FLOOR, "{listed} -> {shown}: {sharpened}");
        }
        let claim = with_line(2, 125.0, 0);
        let drawn = strongest_on_line(&claim, &with_line(1, 0.0, 0));
        assert!(drawn > LINE_FLOOR, "{drawn}");
        let beside = strongest_on_line(&claim, &with_line(1, 90.0, 3));
        assert!(beside > LINE_FLOOR, "{beside}");
    }

    /// A line one pixel wide and 40 levels dark over grain and texture,
    /// which the opening of the pixel-wise map removes, is found along its
    /// length by the line detector; a band 20 pixels wide and as dark (a
    /// change the pixel-wise map keeps) and the grain are not lines.
    #[test]
    fn the_line_detector_finds_a_faint_thin_line_and_not_a_band() {
        let (w, h) = (160, 120);
        let line_y = |x: usize| 30 + x / 4;
        let band = 110..130;
        let reference = grainy(w, h, 1);
        let mut claim = grainy(w, h, 2);
        for x in 20..90 {
            claim.data[line_y(x) * w + x] -= 40.0;
        }
        for (i, v) in claim.data.iter_mut().enumerate() {
            if band.contains(&(i % w)) {
                *v -= 40.0;
            }
        }
        let inside = vec![true; w * h];
        let excess = excess_over_range(&claim, &reference, &inside);
        let response = line_response(&excess, &claim, &reference, &inside);
        let on_line: Vec<f32> = (24..86).map(|x| response[line_y(x) * w + x]).collect();
        let found = on_line.iter().filter(|&&r| r > LINE_FLOOR).count();
        assert!(found >= on_line.len() * 9 / 10, "{on_line:?}");
        let worst_off_line = (0..w * h)
            .filter(|&i| {
                let (x, y) = (i % w, i / w);
                y.abs_diff(line_y(x)) > 2 && (8..w - 8).contains(&x) && (8..h - 8).contains(&y)
            })
            .map(|i| response[i])
            .fold(0.0f32, f32::max);
        assert!(worst_off_line < LINE_FLOOR, "{worst_off_line}");
    }

    /// The blur at sample points is the blur of the whole plane there,
    /// edges included, on planes smaller than the kernel too.
    #[test]
    fn blurring_at_points_matches_blurring_the_plane() {
        // The small planes are narrower than the widest kernels.
        for (w, h) in [(37, 23), (1, 1), (5, 3), (3, 40)] {
            let plane = grainy(w, h, 6);
            let points: Vec<usize> = (0..plane.data.len()).step_by(5).collect();
            for sigma in SHARPENING_SIGMAS {
                let whole = plane.blurred(sigma);
                let at = blurred_at(&plane, sigma, &points);
                assert_eq!(at.len(), points.len());
                for (&p, v) in points.iter().zip(&at) {
                    assert!(
                        (whole.data[p] - v).abs() < 1e-3,
                        "{w}x{h} sigma {sigma} at {p}"
                    );
                }
            }
        }
    }

    /// An unsharp mask over the whole claim is recovered and holds through
    /// a painted patch; a claim that differs from the reference only by
    /// noise of its own (a re-encoding) is not taken for a sharpened one.
    #[test]
    fn sharpening_is_fitted_and_not_invented() {
        let (w, h) = (160, 120);
        let reference = grainy(w, h, 3);
        let inside = vec![true; w * h];
        // Grain of its own, about 1.5 levels: the difference of two grains.
        let (a, b) = (grainy(w, h, 4), grainy(w, h, 5));
        let resaved = Plane {
            data: (reference.data.iter().zip(a.data.iter().zip(&b.data)))
                .map(|(r, (a, b))| r + 0.25 * (a - b))
                .collect(),
            ..reference.clone()
        };
        let invented = Sharpening::fit(&resaved, &reference, &inside);
        assert!(
            invented.is_none(),
            "{:?}",
            invented.map(|s| (s.sigma, s.amount))
        );
        // Off the coarse grid of amounts, so the fine search is needed: one
        // left and one right of the nearest coarse amount (1.25).
        for amount in [1.15, 1.35] {
            let truth = Sharpening { sigma: 1.2, amount };
            let mut claim = vec![reference.clone()];
            truth.apply(&mut claim);
            let mut claim = claim.remove(0);
            for y in 10..40 {
                for x in 10..40 {
                    claim.data[y * w + x] = 30.0;
                }
            }
            let fitted = Sharpening::fit(&claim, &reference, &inside).expect("a sharpening");
            assert_eq!(fitted.sigma, truth.sigma);
            assert!(
                (fitted.amount - truth.amount).abs() < 0.03,
                "{amount}: {}",
                fitted.amount
            );
        }
    }

    /// A sharpened claim, `truth` applied to `reference` where `sharpened`
    /// holds and `reference` as it is elsewhere.
    fn sharpened_where(
        reference: &Plane,
        truth: &Sharpening,
        sharpened: impl Fn(usize) -> bool,
    ) -> Plane {
        let mut whole = vec![reference.clone()];
        truth.apply(&mut whole);
        Plane {
            data: (0..reference.data.len())
                .map(|i| {
                    if sharpened(i) {
                        whole[0].data[i]
                    } else {
                        reference.data[i]
                    }
                })
                .collect(),
            ..reference.clone()
        }
    }

    /// A two-level graphic next to black and white, left as it was beside
    /// a sharpened photo: clipping flattens the graphic's misfit once its
    /// halos clip, so the misfit has a valley at 0 as well as at the
    /// photo's amount, and refining around the best coarse amount alone
    /// rejected the sharpening (a review's counterexample). An unclipped
    /// model rejects it too: the graphic's halos would be wrong by far more.
    #[test]
    fn the_sharpening_search_finds_a_second_valley() {
        let (w, h) = (320, 240);
        let graphic_to = 40;
        let photo = grainy(w, h, 3);
        let reference = Plane {
            data: (0..w * h)
                .map(|i| {
                    let (x, y) = (i % w, i / w);
                    match (x < graphic_to, (x / 3 + y / 5) % 2) {
                        (true, 0) => 5.0,
                        (true, _) => 250.0,
                        (false, _) => photo.data[i],
                    }
                })
                .collect(),
            ..photo.clone()
        };
        let truth = Sharpening {
            sigma: 1.2,
            amount: 0.6,
        };
        let claim = sharpened_where(&reference, &truth, |i| i % w >= graphic_to);
        let fitted = Sharpening::fit(&claim, &reference, &vec![true; w * h]).expect("a sharpening");
        assert_eq!(fitted.sigma, truth.sigma);
        assert!(
            (fitted.amount - truth.amount).abs() < 0.03,
            "{}",
            fitted.amount
        );
    }

    /// A wide, strong unsharp mask over a whole textured photo raises its
    /// contrast much as a gain would, which a colour match fitted first
    /// took (at radius 2.5 and amount 1.5, gains of 1.21 and the mask
    /// fitted at radius 1.8, amount 1.3). With the tones refitted after
    /// each fit of the mask, the mask is recovered nearly (the alternation
    /// creeps towards it: 1.45 and 1.4 for 1.5 here) and the colour gain
    /// nearly gone; the copies are unchanged (at radius 3.5 without the
    /// refit, 4 regions), and a dark patch painted on one is found.
    #[test]
    fn a_wide_unsharp_mask_is_not_taken_for_a_gain() {
        let (w, h) = (240, 180);
        let grain = grainy(w, h, 7);
        let reference: [Plane; 3] = std::array::from_fn(|c| Plane {
            data: (0..w * h)
                .map(|i| {
                    let (x, y) = ((i % w) as f32, (i / w) as f32);
                    let fine = (x / 3.0 + c as f32).sin() * (y / 2.5).cos();
                    let coarse = (x / 14.0).sin() + (y / 17.0 + c as f32).cos();
                    128.0 + 35.0 * fine + 30.0 * coarse + (grain.data[i] - 120.0) * 0.5
                })
                .collect(),
            ..grain.clone()
        });
        let inside = vec![true; w * h];
        let identity = Affine::scaling(1.0, 1.0);
        let sharpened = |truth: &Sharpening| {
            let mut claim = reference.clone();
            truth.apply(&mut claim);
            claim
        };
        for (sigma, amount) in [(2.5, 1.5), (3.5, 1.5)] {
            let claim = sharpened(&Sharpening { sigma, amount });
            let filters = Filters::fit(&claim, &luma_of(&claim), &reference, &inside);
            let fitted = filters.sharpening.as_ref().expect("a sharpening");
            assert_eq!(fitted.sigma, sigma);
            assert!((fitted.amount - amount).abs() < 0.11, "{}", fitted.amount);
            let rows = filters.tones.colours.rows;
            assert!(
                rows.iter().all(|(gain, _)| (gain - 1.0).abs() < 0.03),
                "{rows:?}"
            );
            let map = change_map(&claim, &reference, &identity, None);
            assert!(map.blobs.is_empty(), "{sigma} {amount}: {:?}", map.blobs);
        }
        let mut claim = sharpened(&Sharpening {
            sigma: 3.5,
            amount: 1.5,
        });
        for plane in &mut claim {
            for y in 100..130 {
                for x in 60..100 {
                    plane.data[y * w + x] = 20.0;
                }
            }
        }
        let map = change_map(&claim, &reference, &identity, None);
        assert_one_region_covering(&map, [62, 102, 98, 128]);
    }

    /// A contrast raised and clipped at twice the compared scale, as a
    /// claim is filtered at its own size and shrunk: its textures that
    /// straddle a clip read darker (brighter) than the prediction, which
    /// is clipped after the shrink. Without the slack this plane gives
    /// false regions; a patch painted where the claim is blown out
    /// everywhere is still found.
    #[test]
    fn clipping_before_the_shrink_is_not_read_as_change() {
        let (w, h) = (300, 200);
        // Mid-grey shading with a textured bright disc, and a brighter
        // flat one, on a fine texture.
        let fine = |x: f32, y: f32, c: usize| {
            let texture = (0.8 * (x * 2.1).sin() * (y * 1.9).cos()
                + 0.2 * (0.45 * x + 0.3 * y).sin())
                * (1.0 - 0.2 * c as f32);
            let inside = |cx: f32, cy: f32| (x - cx).hypot(y - cy) < 40.0;
            let level = if inside(120.0, 150.0) {
                207.0 + 80.0 * texture
            } else if inside(300.0, 150.0) {
                250.0
            } else {
                110.0 + 0.1 * x + 30.0 * texture
            };
            level.clamp(0.0, 255.0)
        };
        let contrast = |v: f32| (128.0 + 1.6 * (v - 128.0)).clamp(0.0, 255.0);
        // Each pixel the mean of 2x2 pixels of the fine scale.
        let shrunk = |f: &dyn Fn(f32, f32, usize) -> f32| -> [Plane; 3] {
            std::array::from_fn(|c| Plane {
                w,
                h,
                data: (0..w * h)
                    .map(|i| {
                        let (x, y) = ((2 * (i % w)) as f32, (2 * (i / w)) as f32);
                        let at = |dx: f32, dy: f32| f(x + dx, y + dy, c);
                        (at(0.0, 0.0) + at(1.0, 0.0) + at(0.0, 1.0) + at(1.0, 1.0)) / 4.0
                    })
                    .collect(),
            })
        };
        let reference = shrunk(&fine);
        let mut claim = shrunk(&|x, y, c| contrast(fine(x, y, c)));
        let identity = Affine::scaling(1.0, 1.0);
        let map = change_map(&claim, &reference, &identity, None);
        assert!(map.blobs.is_empty(), "{:?}", map.blobs);

        // Blown out in every channel: the flat disc.
        let (px, py) = (144, 69);
        assert!(
            (py..py + 12)
                .all(|y| (px..px + 12).all(|x| claim.iter().all(|p| p.data[y * w + x] == 255.0))),
            "the patch is not on a blown-out area"
        );
        for plane in &mut claim {
            for y in py..py + 12 {
                for x in px..px + 12 {
                    plane.data[y * w + x] = 200.0;
                }
            }
        }
        let map = change_map(&claim, &reference, &identity, None);
        assert_one_region_covering(&map, [px, py, px + 12, py + 12]);
    }

    /// The separable min and max equal the brute-force ones over the
    /// square, on planes narrower and shorter than the reach too.
    #[test]
    fn local_extremes_are_those_of_the_square() {
        for (w, h) in [(1, 1), (1, 7), (7, 1), (3, 4), (13, 9)] {
            let plane = grainy(w, h, 9);
            for reach in [0, 1, 5] {
                let got = local_extreme(&plane, reach, f32::max);
                let lows = local_extreme(&plane, reach, f32::min);
                for (i, (&high, &low)) in got.iter().zip(&lows).enumerate() {
                    let (x, y) = (i % w, i / w);
                    let square = (y.saturating_sub(reach)..(y + reach + 1).min(h)).flat_map(|yy| {
                        (x.saturating_sub(reach)..(x + reach + 1).min(w)).map(move |xx| yy * w + xx)
                    });
                    let values: Vec<f32> = square.map(|j| plane.data[j]).collect();
                    let max = values.iter().copied().fold(f32::MIN, f32::max);
                    let min = values.iter().copied().fold(f32::MAX, f32::min);
                    assert_eq!((high, low), (max, min), "{w}x{h} reach {reach} at {i}");
                }
            }
        }
    }
}
