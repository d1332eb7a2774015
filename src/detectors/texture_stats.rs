//! Global statistics of the noise residual: co-occurrences, cross-channel
//! correlation and noise level across scales.
//!
//! Camera photos and generated images differ less in what they show than
//! in how neighbouring samples of their high-pass residual relate:
//! - **Co-occurrence (SPAM).** Joint histograms of adjacent pairs of
//!   truncated, quantised residuals, symmetrised by sign and direction,
//!   after the subtractive pixel adjacency model of Pevný, Bas & Fridrich
//!   2010 ("Steganalysis by subtractive pixel adjacency matrix", IEEE TIFS
//!   5(2)) and the rich models of Fridrich & Kodovský 2012 (IEEE TIFS 7(3));
//!   co-occurrences separate GAN images from photos (Nataraj et al. 2019,
//!   "Detecting GAN generated fake images using co-occurrence matrices",
//!   Electronic Imaging). We keep two compact sets of 9 orbits each (first
//!   order differences and the shared Laplacian residual, truncated to ±2),
//!   not thousands of features: the calibration set is small.
//! - **Cross-channel correlation.** Demosaicing interpolates each colour
//!   from its neighbours, so the R, G and B residuals of a camera photo are
//!   strongly correlated (Gunturk et al. 2002, "Color plane interpolation
//!   using alternating projections", IEEE TIP 11(9)); a generator decodes
//!   colour through its own network (a VAE in latent diffusion) and a
//!   painted edit adds colour without sensor noise. We report the R–G and
//!   B–G correlations and the chroma-to-green residual ratio.
//! - **Noise level across scales.** The residual level of the smoothest
//!   blocks (10th percentile) at full resolution, and the median ratio of
//!   each block's level after 2x2 binning to its level before. White
//!   sensor noise halves; the spatially correlated noise of demosaicing,
//!   resampling and generation does not (Pyatykh, Hesser & Zheng 2013,
//!   "Image noise level estimation by principal component analysis", IEEE
//!   TIP 22(2), on noise that is not white across scales).
//! - **Shape and cleanliness.** Kurtosis of the residual and the share of
//!   near-zero residual samples: generated and inpainted areas are too clean.
//!
//! All features are image-level; the detector has no map and no finding of
//! its own: its numbers only make sense to the calibrated fusion model.
//! Sums are integer counts or per-row partial sums added in row order, so
//! results do not depend on the number of rayon threads.

use rayon::prelude::*;

use super::residual::{laplacian_row, median_in_place, mirror, quantile_in_place};
use super::{DetectorOutput, PixelContext};
use crate::report::DetectorKind;

/// Truncation of the quantised residual (values are clamped to ±T), as in
/// the rich models' T = 2 (SPAM used 3 and 4): larger T adds sparse cells.
const T: i32 = 2;
/// Side of the co-occurrence table.
const SIDE: usize = (2 * T + 1) as usize;
/// Channel residuals are clipped to ±this many levels, so that the edges
/// (correlated in every image) do not dominate the correlations.
const CHANNEL_CLIP: f32 = 6.0;
/// Pixels the row statistics read at most (see [`run`]).
const ROW_BUDGET: usize = 1_000_000;
/// Block side for the noise level across scales.
const BLOCK: usize = 32;

/// Orbit names follow [`orbit`]'s order.
/// Feature names of the first-order-difference co-occurrence orbits.
const SPAM1_NAMES: [&str; 9] = [
    "texture_stats.d1_0_0",
    "texture_stats.d1_0_1",
    "texture_stats.d1_0_2",
    "texture_stats.d1_1_1",
    "texture_stats.d1_1_m1",
    "texture_stats.d1_2_2",
    "texture_stats.d1_2_m2",
    "texture_stats.d1_1_2",
    "texture_stats.d1_1_m2",
];

/// Feature names of the Laplacian-residual co-occurrence orbits.
const SPAM2_NAMES: [&str; 9] = [
    "texture_stats.lap_0_0",
    "texture_stats.lap_0_1",
    "texture_stats.lap_0_2",
    "texture_stats.lap_1_1",
    "texture_stats.lap_1_m1",
    "texture_stats.lap_2_2",
    "texture_stats.lap_2_m2",
    "texture_stats.lap_1_2",
    "texture_stats.lap_1_m2",
];

/// Which orbit a pair belongs to (index into the feature-name tables).
fn orbit(a: i32, b: i32) -> usize {
    // Canonical member: flip the sign so that the first non-zero of the
    // sorted-by-magnitude pair is positive, then order by magnitude.
    let (a, b) = if a.abs() < b.abs() || (a.abs() == b.abs() && a < b) {
        (b, a)
    } else {
        (a, b)
    };
    // Now |a| ≥ |b|; make a ≥ 0 (or b ≥ 0 when a == 0).
    let (a, b) = if a < 0 || (a == 0 && b < 0) {
        (-a, -b)
    } else {
        (a, b)
    };
    // (a, b) with a ≥ |b| ≥ 0 in sign pattern; map to the table's names
    // written as (small, large) or (small, -large).
    match (a, b) {
        (0, 0) => 0,
        (1, 0) => 1,
        (2, 0) => 2,
        (1, 1) => 3,
        (1, -1) => 4,
        (2, 2) => 5,
        (2, -2) => 6,
        (2, 1) => 7,
        _ => 8, // (2, -1)
    }
}

/// Per-row partial sums, added in row order.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    spam1: [u64; SIDE * SIDE],
    spam2: [u64; SIDE * SIDE],
    /// Sums of rR, rG, rB, rR², rG², rB², rR·rG, rB·rG.
    chan: [f64; 8],
    chan_n: u64,
    /// Sums of r², r⁴ of the luma residual (clipped), count of |r| < 0.5.
    luma: [f64; 2],
    near_zero: u64,
    luma_n: u64,
}

impl Acc {
    fn add(mut self, o: &Acc) -> Acc {
        for (a, b) in self.spam1.iter_mut().zip(&o.spam1) {
            *a += b;
        }
        for (a, b) in self.spam2.iter_mut().zip(&o.spam2) {
            *a += b;
        }
        for (a, b) in self.chan.iter_mut().zip(&o.chan) {
            *a += b;
        }
        for (a, b) in self.luma.iter_mut().zip(&o.luma) {
            *a += b;
        }
        self.chan_n += o.chan_n;
        self.near_zero += o.near_zero;
        self.luma_n += o.luma_n;
        self
    }
}

/// `(v.round() as i32).clamp(-T, T)` for T = 2, rounding half away from
/// zero (NaN gives 0), by comparisons: the libm `roundf` call it replaces
/// was most of this detector's time.
fn quant(v: f32) -> i32 {
    const _: () = assert!(T == 2);
    i32::from(v >= 0.5) + i32::from(v >= 1.5) - i32::from(v <= -0.5) - i32::from(v <= -1.5)
}

fn cell(a: i32, b: i32) -> usize {
    ((a + T) as usize) * SIDE + (b + T) as usize
}

/// Run the detector.
#[must_use]
pub fn run(ctx: &PixelContext<'_>) -> DetectorOutput {
    let mut out = DetectorOutput::empty(DetectorKind::TextureStats);
    let (w, h) = (ctx.width as usize, ctx.height as usize);
    // Below 8x8 there are too few pairs for any statistic to mean something.
    if w < 8
        || h < 8
        || ctx.luma.len() != w * h
        || ctx.residual.len() != w * h
        || ctx.rgb.len() != w * h * 3
    {
        return out;
    }
    let luma = ctx.luma;
    let res = ctx.residual;
    let rgb = ctx.rgb;
    // Above one megapixel, every `step`-th row is enough: the statistics
    // are averages over hundreds of thousands of pairs either way, and the
    // cost stays near that of a 1 MP image.
    // At most the rows there are: a band far wider than high (1,000,000 x
    // 8) would otherwise sample none.
    let step = (w * h).div_ceil(ROW_BUDGET).clamp(1, (h - 2).max(1));
    let rows: Vec<Acc> = (1..h - 1)
        .into_par_iter()
        .filter(|y| y % step == 0 || step == 1)
        .map_init(RowScratch::default, |scratch, y| {
            row_acc(luma, res, rgb, w, y, scratch)
        })
        .collect();
    let acc = rows.iter().fold(Acc::default(), |a, r| a.add(r));

    push_orbits(&mut out, &acc.spam1, &SPAM1_NAMES);
    push_orbits(&mut out, &acc.spam2, &SPAM2_NAMES);

    let n = acc.chan_n.max(1) as f64;
    let c = acc.chan;
    let (mr, mg, mb) = (c[0] / n, c[1] / n, c[2] / n);
    let vr = (c[3] / n - mr * mr).max(1e-9);
    let vg = (c[4] / n - mg * mg).max(1e-9);
    let vb = (c[5] / n - mb * mb).max(1e-9);
    let crg = c[6] / n - mr * mg;
    let cbg = c[7] / n - mb * mg;
    let rg_corr = crg / (vr * vg).sqrt();
    let bg_corr = cbg / (vb * vg).sqrt();
    // Chroma residual (R−G, B−G) against the green residual, in σ.
    let chroma = ((vr + vg - 2.0 * crg).max(0.0) + (vb + vg - 2.0 * cbg).max(0.0)) / 2.0;
    let chroma_ratio = (chroma / vg).sqrt();

    let ln = acc.luma_n.max(1) as f64;
    let m2 = acc.luma[0] / ln;
    let m4 = acc.luma[1] / ln;
    let kurtosis = if m2 > 1e-9 { m4 / (m2 * m2) } else { 0.0 };
    let near_zero = acc.near_zero as f64 / ln;

    let (sigma_low, scale_ratio) = scale_stats(luma, res, w, h);

    out.features.extend([
        ("texture_stats.rg_corr", rg_corr as f32),
        ("texture_stats.bg_corr", bg_corr as f32),
        ("texture_stats.chroma_ratio", chroma_ratio as f32),
        (
            "texture_stats.log_kurtosis",
            (kurtosis.max(1e-3)).ln() as f32,
        ),
        ("texture_stats.near_zero", near_zero as f32),
        ("texture_stats.log_sigma_low", sigma_low.max(0.05).ln()),
        ("texture_stats.scale_ratio", scale_ratio),
    ]);
    out
}

/// Orbit probabilities as `log10(p + 1e-5)`: the orbits span four orders of
/// magnitude, and a logistic model is linear in its inputs.
fn push_orbits(out: &mut DetectorOutput, table: &[u64; SIDE * SIDE], names: &[&'static str; 9]) {
    let mut orbits = [0u64; 9];
    for a in -T..=T {
        for b in -T..=T {
            orbits[orbit(a, b)] += table[cell(a, b)];
        }
    }
    let total = orbits.iter().sum::<u64>().max(1) as f64;
    for (name, count) in names.iter().zip(orbits) {
        out.features
            .push((name, (count as f64 / total + 1e-5).log10() as f32));
    }
}

/// Per-row buffers of [`row_acc`], reused from row to row.
#[derive(Default)]
struct RowScratch {
    /// Co-occurrence cells of the row: horizontal and vertical first-order
    /// pairs, horizontal and vertical Laplacian pairs.
    cells: [Vec<u32>; 4],
    /// Channel Laplacians, interleaved RGB, times 4 (integers).
    lap: Vec<i16>,
}

/// `v` with `n` elements (contents unspecified: the caller overwrites them).
fn sized<V: Copy + Default>(v: &mut Vec<V>, n: usize) -> &mut [V] {
    if v.len() != n {
        v.clear();
        v.resize(n, V::default());
    }
    v
}

/// [`cell`] as a `u32`, for the vectorised loops.
fn cell32(a: i32, b: i32) -> u32 {
    ((a + T) * SIDE as i32 + (b + T)) as u32
}

/// What the statistics of interior row `y` read: luma rows `y - 1`, `y`,
/// `y + 1`, then residual rows `y` and `y + 1`.
fn rows_around<'a>(luma: &'a [f32], res: &'a [f32], w: usize, y: usize) -> [&'a [f32]; 5] {
    [
        &luma[(y - 1) * w..][..w],
        &luma[y * w..][..w],
        &luma[(y + 1) * w..][..w],
        &res[y * w..][..w],
        &res[(y + 1) * w..][..w],
    ]
}

/// The sums of one interior row `y` (1 ≤ y < h − 1).
///
/// One pass per statistic over whole rows, so the quantisations and the
/// channel Laplacians vectorise; the counts are integers and the luma sums
/// add in column order, as a single loop would. The channel residuals are
/// quarter-integers clipped to ±6, so their sums and products are exact in
/// f64 in any order: they are summed as integers (times 4) and scaled.
fn row_acc(luma: &[f32], res: &[f32], rgb: &[u8], w: usize, y: usize, s: &mut RowScratch) -> Acc {
    let mut acc = Acc::default();
    let [up, row, down, rrow, rdown] = rows_around(luma, res, w, y);
    let n = w - 2;
    let mid = 1..w - 1;

    // First-order differences: pairs of consecutive horizontal differences
    // and of consecutive vertical differences (SPAM); Laplacian residual:
    // horizontal and vertical neighbour pairs.
    let [c1h, c1v, c2h, c2v] = &mut s.cells;
    let c1h = sized(c1h, n);
    for (((c, &l), &m), &r) in c1h
        .iter_mut()
        .zip(&row[..n])
        .zip(&row[mid.clone()])
        .zip(&row[2..])
    {
        *c = cell32(quant(m - l), quant(r - m));
    }
    let c1v = sized(c1v, n);
    for (((c, &u), &m), &d) in c1v
        .iter_mut()
        .zip(&up[mid.clone()])
        .zip(&row[mid.clone()])
        .zip(&down[mid.clone()])
    {
        *c = cell32(quant(m - u), quant(d - m));
    }
    let c2h = sized(c2h, n);
    let c2v = sized(c2v, n);
    for ((((ch, cv), &r), &right), &d) in c2h
        .iter_mut()
        .zip(c2v.iter_mut())
        .zip(&rrow[mid.clone()])
        .zip(&rrow[2..])
        .zip(&rdown[mid.clone()])
    {
        let q = quant(r);
        *ch = cell32(q, quant(right));
        *cv = cell32(q, quant(d));
    }
    // One table per pair type and lane of four columns, so that increments
    // of the same cell do not wait on each other (cells are < 25 < 32).
    let mut tables = [[[0u32; 32]; 4]; 4];
    let quads = c1h
        .chunks_exact(4)
        .zip(c1v.chunks_exact(4))
        .zip(c2h.chunks_exact(4))
        .zip(c2v.chunks_exact(4));
    for (((a, b), c), d) in quads {
        for (kind, cells) in [a, b, c, d].iter().enumerate() {
            for (table, &k) in tables[kind].iter_mut().zip(cells.iter()) {
                table[k as usize & 31] += 1;
            }
        }
    }
    let tail = n - n % 4;
    for (table, cells) in tables.iter_mut().zip([&c1h, &c1v, &c2h, &c2v]) {
        for &k in &cells[tail..] {
            table[0][k as usize & 31] += 1;
        }
    }
    let count = |t: &[[u32; 32]; 4], i: usize| t.iter().map(|l| u64::from(l[i])).sum::<u64>();
    for (i, (s1, s2)) in acc.spam1.iter_mut().zip(acc.spam2.iter_mut()).enumerate() {
        *s1 = count(&tables[0], i) + count(&tables[1], i);
        *s2 = count(&tables[2], i) + count(&tables[3], i);
    }

    let (mut m2, mut m4, mut near_zero) = (0.0f64, 0.0f64, 0u64);
    for &v in &rrow[mid] {
        let rv = v.clamp(-32.0, 32.0);
        let r2 = f64::from(rv * rv);
        m2 += r2;
        m4 += r2 * r2;
        near_zero += u64::from(v.abs() < 0.5);
    }
    acc.luma = [m2, m4];
    acc.near_zero = near_zero;
    acc.luma_n = n as u64;

    // Channel Laplacians on the interleaved bytes (left and right
    // neighbours are 3 bytes away), times 4 so they are integers.
    let line = |yy: usize| &rgb[yy * w * 3..][..w * 3];
    let (cu, cm, cd) = (line(y - 1), line(y), line(y + 1));
    let lap = sized(&mut s.lap, 3 * n);
    let clip = (4.0 * CHANNEL_CLIP) as i16;
    for (((((o, &c), &u), &d), &l), &r) in lap
        .iter_mut()
        .zip(&cm[3..])
        .zip(&cu[3..])
        .zip(&cd[3..])
        .zip(cm)
        .zip(&cm[6..])
    {
        let v = 4 * i16::from(c) - i16::from(u) - i16::from(d) - i16::from(l) - i16::from(r);
        *o = v.clamp(-clip, clip);
    }
    // Sums of rR, rG, rB, rR², rG², rB², rR·rG, rB·rG (times 4 and 16).
    let mut sums = [0i64; 8];
    for p in lap.chunks_exact(3) {
        let (r, g, b) = (i64::from(p[0]), i64::from(p[1]), i64::from(p[2]));
        for (sum, v) in sums
            .iter_mut()
            .zip([r, g, b, r * r, g * g, b * b, r * g, b * g])
        {
            *sum += v;
        }
    }
    for (k, (c, &sum)) in acc.chan.iter_mut().zip(&sums).enumerate() {
        *c = sum as f64 / if k < 3 { 4.0 } else { 16.0 };
    }
    acc.chan_n = n as u64;
    acc
}

/// `sums[i] += Σ |line[i·size..(i+1)·size]|`, each inner sum in order from
/// the start, as `iter().map(abs).sum::<f32>()` adds it; eight blocks at a
/// time so that their sums do not wait on each other.
fn add_abs_sums(line: &[f32], size: usize, sums: &mut [f32]) {
    const GROUP: usize = 8;
    let mut groups = sums.chunks_exact_mut(GROUP);
    let mut parts = line.chunks_exact(GROUP * size);
    for (s, part) in groups.by_ref().zip(parts.by_ref()) {
        // -0.0: the start of `Sum for f32`.
        let mut acc = [-0.0f32; GROUP];
        for x in 0..size {
            for (j, a) in acc.iter_mut().enumerate() {
                *a += part[j * size + x].abs();
            }
        }
        for (s, a) in s.iter_mut().zip(acc) {
            *s += a;
        }
    }
    let rest = parts.remainder().chunks_exact(size);
    for (s, c) in groups.into_remainder().iter_mut().zip(rest) {
        *s += c.iter().map(|v| v.abs()).sum::<f32>();
    }
}

/// Row `k` of the 2x2-binned plane (`out.len()` = `w / 2`).
fn binned_row(luma: &[f32], w: usize, k: usize, out: &mut [f32]) {
    let r0 = &luma[2 * k * w..][..w];
    let r1 = &luma[(2 * k + 1) * w..][..w];
    for ((o, a), b) in out
        .iter_mut()
        .zip(r0.chunks_exact(2))
        .zip(r1.chunks_exact(2))
    {
        *o = 0.25 * (a[0] + a[1] + b[0] + b[1]);
    }
}

/// Noise level of the smoothest blocks at full resolution, and its ratio
/// after 2x2 binning: `(σ_p10, median over blocks of σ_2 / σ_1)`, with σ the
/// mean absolute Laplacian residual. Returns `(0, 0)` on images too small
/// for one block.
///
/// One strip of blocks at a time: the binned rows a strip needs (one more
/// above and below, mirrored at the image border as in
/// [`super::residual::laplacian_residual`]) and their residual are made in
/// small buffers, not as two whole planes.
fn scale_stats(luma: &[f32], res: &[f32], w: usize, h: usize) -> (f32, f32) {
    let (nx, ny) = (w / BLOCK, h / BLOCK);
    if nx == 0 || ny == 0 {
        return (0.0, 0.0);
    }
    let (w2, h2) = (w / 2, h / 2);
    let half = BLOCK / 2;
    let strips: Vec<Vec<(f32, f32)>> = (0..ny)
        .into_par_iter()
        .map(|by| {
            let mut s1 = vec![0.0f32; nx];
            for y in by * BLOCK..(by + 1) * BLOCK {
                add_abs_sums(&res[y * w..][..nx * BLOCK], BLOCK, &mut s1);
            }
            let first = by * half;
            let mut binned = vec![0.0f32; (half + 2) * w2];
            for (k, out) in binned.chunks_exact_mut(w2).enumerate() {
                let row = mirror((first + k) as isize - 1, h2);
                binned_row(luma, w, row, out);
            }
            let row = |k: usize| &binned[k * w2..][..w2];
            let mut res2 = vec![0.0f32; w2];
            let mut s2 = vec![0.0f32; nx];
            for k in 0..half {
                laplacian_row(row(k), row(k + 1), row(k + 2), &mut res2);
                add_abs_sums(&res2[..nx * half], half, &mut s2);
            }
            s1.iter()
                .zip(&s2)
                .map(|(a, b)| (a / (BLOCK * BLOCK) as f32, b / (half * half) as f32))
                .collect()
        })
        .collect();
    noise_summary(&strips.concat())
}

/// From per-block (full-resolution, binned) noise levels: the 10th
/// percentile of the full-resolution level and the median ratio binned /
/// full, the ratio only where there is noise to measure (above 8-bit
/// quantisation).
fn noise_summary(blocks: &[(f32, f32)]) -> (f32, f32) {
    let mut s1: Vec<f32> = blocks.iter().map(|b| b.0).collect();
    let sigma_low = quantile_in_place(&mut s1, 0.1);
    let mut ratios: Vec<f32> = blocks
        .iter()
        .filter(|b| b.0 > 0.25)
        .map(|b| b.1 / b.0)
        .collect();
    (sigma_low, median_in_place(&mut ratios))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quant_rounds_and_clamps_like_round() {
        let mut values = vec![
            0.5f32,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            0.0,
            -0.0,
            f32::NAN,
            1e9,
            -1e9,
        ];
        values.extend((0..40_000).map(|i| (i as f32 - 20_000.0) * 0.000_37));
        values.extend([0.499_999_97f32, -0.499_999_97, 1.499_999_9, -1.499_999_9]);
        for v in values {
            assert_eq!(quant(v), (v.round() as i32).clamp(-T, T), "{v}");
        }
    }
    use image::RgbImage;

    /// The 9 orbits of a 5x5 pair table under `(a, b) → (-a, -b)` and
    /// `(a, b) → (b, a)`, named by their canonical member. Symmetrising keeps
    /// the features stable (Fridrich & Kodovský 2012) and divides their number.
    const ORBITS: [(i32, i32); 9] = [
        (0, 0),
        (0, 1),
        (0, 2),
        (1, 1),
        (1, -1),
        (2, 2),
        (2, -2),
        (1, 2),
        (1, -2),
    ];

    /// A tiny deterministic generator (xorshift) so tests need no RNG crate.
    fn noise(seed: &mut u64) -> f32 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed % 10_000) as f32 / 10_000.0 - 0.5
    }

    fn features(img: &RgbImage) -> std::collections::BTreeMap<&'static str, f32> {
        crate::detectors::run_on_pixels(img, run)
            .features
            .into_iter()
            .collect()
    }

    /// The per-pixel loop [`row_acc`] replaced.
    fn row_acc_reference(luma: &[f32], res: &[f32], rgb: &[u8], w: usize, y: usize) -> Acc {
        let mut acc = Acc::default();
        let [up, row, down, rrow, rdown] = rows_around(luma, res, w, y);
        let px = |yy: usize, x: usize, c: usize| f32::from(rgb[(yy * w + x) * 3 + c]);
        for x in 1..w - 1 {
            acc.spam1[cell(quant(row[x] - row[x - 1]), quant(row[x + 1] - row[x]))] += 1;
            acc.spam1[cell(quant(row[x] - up[x]), quant(down[x] - row[x]))] += 1;
            let r = quant(rrow[x]);
            acc.spam2[cell(r, quant(rrow[x + 1]))] += 1;
            acc.spam2[cell(r, quant(rdown[x]))] += 1;
            let rv = rrow[x].clamp(-32.0, 32.0);
            let r2 = f64::from(rv * rv);
            acc.luma[0] += r2;
            acc.luma[1] += r2 * r2;
            acc.near_zero += u64::from(rrow[x].abs() < 0.5);
            acc.luma_n += 1;
            let mut cres = [0.0f64; 3];
            for (c, out) in cres.iter_mut().enumerate() {
                let lap = px(y, x, c)
                    - 0.25
                        * (px(y - 1, x, c) + px(y + 1, x, c) + px(y, x - 1, c) + px(y, x + 1, c));
                *out = f64::from(lap.clamp(-CHANNEL_CLIP, CHANNEL_CLIP));
            }
            let [cr, cg, cb] = cres;
            for (a, v) in
                acc.chan
                    .iter_mut()
                    .zip([cr, cg, cb, cr * cr, cg * cg, cb * cb, cr * cg, cb * cg])
            {
                *a += v;
            }
        }
        acc.chan_n = (w - 2) as u64;
        acc
    }

    /// The whole-plane [`scale_stats`] it replaced.
    fn scale_stats_reference(luma: &[f32], res: &[f32], w: usize, h: usize) -> (f32, f32) {
        let (nx, ny) = (w / BLOCK, h / BLOCK);
        let (w2, h2) = (w / 2, h / 2);
        let binned: Vec<f32> = (0..h2 * w2)
            .map(|j| {
                let i = 2 * (j / w2) * w + 2 * (j % w2);
                0.25 * (luma[i] + luma[i + 1] + luma[i + w] + luma[i + w + 1])
            })
            .collect();
        let res2 = crate::detectors::residual::laplacian_residual(&binned, w2, h2);
        let half = BLOCK / 2;
        let sum = |plane: &[f32], pw: usize, x0: usize, y0: usize, side: usize| {
            let mut s = 0.0f32;
            for y in y0..y0 + side {
                s += plane[y * pw + x0..][..side]
                    .iter()
                    .map(|v| v.abs())
                    .sum::<f32>();
            }
            s / (side * side) as f32
        };
        let blocks: Vec<(f32, f32)> = (0..nx * ny)
            .map(|i| {
                let (bx, by) = (i % nx, i / nx);
                (
                    sum(res, w, bx * BLOCK, by * BLOCK, BLOCK),
                    sum(&res2, w2, bx * half, by * half, half),
                )
            })
            .collect();
        noise_summary(&blocks)
    }

    #[test]
    fn row_passes_have_the_bits_of_the_pixel_loop() {
        let mut seed = 19u64;
        for (w, h) in [(8usize, 8usize), (13, 9), (300, 70), (331, 99)] {
            let rgb: Vec<u8> = (0..w * h * 3)
                .map(|i| {
                    let base = 120.0 + 100.0 * ((i / 3 % w) as f32 * 0.05).sin();
                    (base + 90.0 * noise(&mut seed)).clamp(0.0, 255.0) as u8
                })
                .collect();
            let luma: Vec<f32> = rgb
                .chunks_exact(3)
                .map(|p| {
                    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
                })
                .collect();
            let res = crate::detectors::residual::laplacian_residual(&luma, w, h);
            let mut scratch = RowScratch::default();
            for y in 1..h - 1 {
                let a = row_acc(&luma, &res, &rgb, w, y, &mut scratch);
                let b = row_acc_reference(&luma, &res, &rgb, w, y);
                assert_eq!(format!("{a:?}"), format!("{b:?}"), "{w}x{h} row {y}");
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a.chan), bits(&b.chan));
                assert_eq!(bits(&a.luma), bits(&b.luma));
            }
            let (s, r) = scale_stats(&luma, &res, w, h);
            let (s0, r0) = scale_stats_reference(&luma, &res, w, h);
            assert_eq!((s.to_bits(), r.to_bits()), (s0.to_bits(), r0.to_bits()));
        }
    }

    #[test]
    fn orbits_are_symmetric_and_cover_the_table() {
        let mut seen = [0usize; 9];
        for a in -T..=T {
            for b in -T..=T {
                let o = orbit(a, b);
                assert_eq!(o, orbit(-a, -b));
                assert_eq!(o, orbit(b, a));
                seen[o] += 1;
            }
        }
        assert_eq!(seen, [1, 4, 4, 2, 2, 2, 2, 4, 4]);
        for (i, &(a, b)) in ORBITS.iter().enumerate() {
            assert_eq!(orbit(a, b), i);
        }
    }

    #[test]
    fn correlated_channel_noise_is_told_from_independent_noise() {
        let (w, h) = (96u32, 96u32);
        let mut seed = 7u64;
        let shared = RgbImage::from_fn(w, h, |_, _| {
            let n = 128.0 + 20.0 * noise(&mut seed);
            let v = n.clamp(0.0, 255.0) as u8;
            image::Rgb([v, v, v])
        });
        let independent = RgbImage::from_fn(w, h, |_, _| {
            let mut c = || (128.0 + 20.0 * noise(&mut seed)).clamp(0.0, 255.0) as u8;
            image::Rgb([c(), c(), c()])
        });
        let a = features(&shared);
        let b = features(&independent);
        assert!(a["texture_stats.rg_corr"] > 0.99, "{a:?}");
        assert!(b["texture_stats.rg_corr"].abs() < 0.2, "{b:?}");
        assert!(a["texture_stats.chroma_ratio"] < 0.05);
        assert!(b["texture_stats.chroma_ratio"] > 1.0);
    }

    #[test]
    fn white_noise_halves_across_scales_and_flat_images_are_clean() {
        let (w, h) = (128u32, 128u32);
        let mut seed = 11u64;
        let white = RgbImage::from_fn(w, h, |_, _| {
            let v = (128.0 + 40.0 * noise(&mut seed)).clamp(0.0, 255.0) as u8;
            image::Rgb([v, v, v])
        });
        let f = features(&white);
        // 2x2 binning divides white-noise σ by 2.
        let r = f["texture_stats.scale_ratio"];
        assert!((0.4..0.6).contains(&r), "{r}");
        let flat = RgbImage::from_pixel(w, h, image::Rgb([90, 90, 90]));
        let g = features(&flat);
        assert!(g["texture_stats.near_zero"] > 0.99);
        assert!(g["texture_stats.d1_0_0"] > -0.01);
        assert!(f["texture_stats.d1_0_0"] < -1.0);
    }

    #[test]
    fn a_band_far_wider_than_high_is_still_read() {
        // 760,000 x 8: over a million pixels, so rows are sampled; every
        // other step skipped all six inner rows and gave the empty
        // statistics (orbits at -5). Its statistics are those of a slice.
        let mut seed = 11u64;
        let band = RgbImage::from_fn(760_000, 8, |_, _| {
            let v = (128.0 + 60.0 * noise(&mut seed)) as u8;
            image::Rgb([v, v, v])
        });
        let slice = image::imageops::crop_imm(&band, 0, 0, 20_000, 8).to_image();
        let (wide, narrow) = (features(&band), features(&slice));
        for name in [
            "texture_stats.d1_0_0",
            "texture_stats.d1_0_1",
            "texture_stats.lap_0_0",
        ] {
            assert!(
                (wide[name] - narrow[name]).abs() < 0.1,
                "{name}: {} vs {}",
                wide[name],
                narrow[name]
            );
        }
    }

    #[test]
    fn tiny_and_odd_sizes_do_not_panic_and_are_deterministic() {
        for (w, h) in [(1, 1), (1, 9), (9, 1), (7, 7), (8, 8), (33, 31), (65, 17)] {
            let mut seed = 3u64;
            let img = RgbImage::from_fn(w, h, |_, _| {
                let v = (128.0 + 50.0 * noise(&mut seed)) as u8;
                image::Rgb([v, v.wrapping_add(3), v / 2])
            });
            let a = features(&img);
            let b = features(&img);
            assert_eq!(a, b);
            assert!(a.values().all(|v| v.is_finite()));
        }
    }
}
