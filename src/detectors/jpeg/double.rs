//! Aligned double JPEG compression (A-DJPG), block by block.
//!
//! Method: Bianchi & Piva, "Image Forgery Localization via Block-Grained
//! Analysis of JPEG Artifacts", IEEE TIFS 7(3), 2012, after Lin et al.,
//! "Fast, automatic and fine-grained tampered JPEG image detection via DCT
//! coefficient analysis", Pattern Recognition 42, 2009.
//!
//! A coefficient quantised first with step `q1` and then with `q2` takes the
//! value `x` with probability `n(x) p0(x)`, where `p0` is the singly
//! quantised distribution and `n(x)` (the number of `q1` bins that fall into
//! bin `x`, times `q1/q2`) is periodic. We estimate `q1` per DCT frequency
//! from the whole-image histogram, with `p0` taken from the DCT on a grid
//! shifted by 4 pixels (calibration, which sees unquantised content), then
//! score each block by the likelihood ratio `n(x)/Z` of its coefficients:
//! blocks that were compressed once (pasted, painted or generated content
//! inside a doubly compressed photo) get a negative log-ratio.

use rayon::prelude::*;

use super::dct::{self, LowBlock, LOW};
use crate::metadata::ZIGZAG;

/// AC frequencies studied, in zig-zag order (the low ones carry most
/// non-zero coefficients; Bianchi & Piva use the first 6 to 15).
const FREQS: std::ops::RangeInclusive<usize> = 1..=15;
/// Histogram half-range in quantised units.
const RANGE: i32 = 40;
/// Fewest non-zero coefficients for a frequency to be studied.
const MIN_COUNT: f64 = 200.0;
/// Gain (nats per non-zero coefficient) from which a frequency counts as
/// doubly compressed. Smooth misfits of the calibrated histogram give less
/// than 0.01; a real previous quantisation gives 0.05 and more.
const MIN_GAIN: f64 = 0.03;
/// Lowest probability ratio for a value that the model says cannot occur:
/// decoder rounding and clipping put a few coefficients there anyway.
const FLOOR: f64 = 0.15;

/// The double-compression model of one DCT frequency.
#[derive(Debug, Clone)]
pub struct FrequencyModel {
    /// Natural index of the coefficient (0..64).
    pub index: usize,
    /// The file's step.
    pub q2: u16,
    /// Estimated primary step.
    pub q1: u16,
    /// Share of coefficients the mixture gives to double compression.
    pub alpha: f64,
    /// Log-likelihood gain over single compression, nats per non-zero coefficient.
    pub gain: f64,
}

/// What the double-compression analysis found.
#[derive(Debug, Clone, Default)]
pub struct DoubleCompression {
    /// Frequencies that were studied (enough non-zero coefficients, usable step).
    pub studied: usize,
    /// Frequencies that show a previous quantisation.
    pub models: Vec<FrequencyModel>,
    /// Per aligned block: sum over the models of the log-likelihood ratio,
    /// positive = doubly compressed, negative = singly compressed.
    pub block_llr: Vec<f32>,
}

impl DoubleCompression {
    /// Mean gain over the doubly compressed frequencies (0 if none).
    #[must_use]
    pub fn mean_gain(&self) -> f64 {
        if self.models.is_empty() {
            return 0.0;
        }
        self.models.iter().map(|m| m.gain).sum::<f64>() / self.models.len() as f64
    }

    /// Mean mixture share over the doubly compressed frequencies (0 if none).
    #[must_use]
    pub fn mean_alpha(&self) -> f64 {
        if self.models.is_empty() {
            return 0.0;
        }
        self.models.iter().map(|m| m.alpha).sum::<f64>() / self.models.len() as f64
    }
}

fn bin(c: f32, q: u16) -> i32 {
    round_i32(c / f32::from(q))
}

/// `x.round() as i32` (half away from zero, saturating, NaN → 0) without
/// the libm `roundf` call, which dominated the histogram loops. `x - trunc(x)`
/// is exact in f32, so the comparison with 0.5 decides exactly as `round`.
/// Branch-free: the rounding direction depends on the data, and
/// mispredicted branches dominated the histogram loops.
pub(super) fn round_i32(x: f32) -> i32 {
    let t = x as i32;
    let frac = x - t as f32;
    t.saturating_add(i32::from(frac >= 0.5))
        .saturating_sub(i32::from(frac <= -0.5))
}

/// [`round_i32`] of `x.clamp(-64.0, 64.0)`: equal to `round_i32(x)` when
/// `|x| <= 64`, and beyond it still more than [`RANGE`] in magnitude. No
/// saturating arithmetic, so it vectorises.
fn round_small(x: f32) -> i32 {
    round_unsaturated(x.clamp(-64.0, 64.0))
}

/// [`round_i32`] without its saturation, which only acts beyond `i32`'s
/// range: for pixels and DCT coefficients (|x| ≤ 1024) both give the same
/// result, and this one vectorises.
pub(super) fn round_unsaturated(x: f32) -> i32 {
    debug_assert!(x.is_nan() || x.abs() < 1e9);
    let t = x as i32;
    let frac = x - t as f32;
    t + i32::from(frac >= 0.5) - i32::from(frac <= -0.5)
}

/// Histogram slot of a quantised value, and whether it counts (non-zero and
/// within ±[`RANGE`]); out-of-range values map to a clamped slot that the
/// caller adds 0 to, so the loops need no data-dependent branch.
fn slot(x: i32) -> (usize, bool) {
    let counts = x != 0 && x.abs() <= RANGE;
    ((x.clamp(-RANGE, RANGE) + RANGE) as usize, counts)
}

/// Histograms of the non-zero quantised values of every studied
/// `(zig-zag position, q)`, in one pass over the blocks (each block is read once
/// instead of once per frequency).
///
/// Per block, the quotients of all [`LOW`] positions are computed at once
/// (fixed length, no bounds checks: the compiler vectorises the division
/// and the rounding, which are the same IEEE operations as [`bin`] so the
/// bins do not change), then each studied position adds 1 to its slot.
/// Values that do not count go to an extra trash slot, so no increment
/// depends on data through a branch or a multiply.
fn histograms(blocks: &[LowBlock], studied: &[(usize, u16)]) -> Vec<Vec<f64>> {
    const SLOTS: usize = (2 * RANGE + 1) as usize;
    const TRASH: usize = SLOTS;
    // Step per zig-zag position; 1 where the position is not studied (its
    // slot is computed and never read).
    let mut steps = [1.0f32; LOW];
    for &(k, q) in studied {
        steps[k] = f32::from(q);
    }
    let mut counts = vec![[0u32; SLOTS + 1]; studied.len()];
    let mut slots = [0u32; LOW];
    for b in blocks {
        for ((s, &c), &q) in slots.iter_mut().zip(b).zip(&steps) {
            // Clamping to ±64 first changes no slot (beyond ±RANGE is
            // trash either way, NaN stays NaN and rounds to 0) and lets
            // rounding skip its saturation, so the loop vectorises.
            let x = round_small(c / q);
            let counted = x != 0 && x.abs() <= RANGE;
            *s = if counted {
                (x + RANGE) as u32
            } else {
                TRASH as u32
            };
        }
        for (h, &(k, _)) in counts.iter_mut().zip(studied) {
            h[slots[k] as usize] += 1;
        }
    }
    counts
        .iter()
        .map(|h| h[..SLOTS].iter().map(|&c| f64::from(c)).collect())
        .collect()
}

/// `n(x)` for steps `q1` then `q2`: how many `q1` bins round into `x`,
/// times `q1/q2` so that it averages 1.
fn periodic_factor(q1: u16, q2: u16) -> Vec<f64> {
    let mut n = vec![0.0f64; (2 * RANGE + 1) as usize];
    let (q1f, q2f) = (f64::from(q1), f64::from(q2));
    let k_max = (f64::from(RANGE + 1) * q2f / q1f).ceil() as i64 + 1;
    for k1 in -k_max..=k_max {
        let x = (k1 as f64 * q1f / q2f).round() as i64;
        if x.abs() <= i64::from(RANGE) {
            n[(x + i64::from(RANGE)) as usize] += q1f / q2f;
        }
    }
    n
}

/// Fit the mixture `alpha p1 + (1 - alpha) p0` by EM; return (alpha, gain in nats).
fn fit_mixture(h: &[f64], p0: &[f64], p1: &[f64]) -> (f64, f64) {
    let mut alpha = 0.5f64;
    for _ in 0..40 {
        let (mut num, mut den) = (0.0, 0.0);
        for ((&hx, &a), &b) in h.iter().zip(p1).zip(p0) {
            if hx > 0.0 {
                let mix = alpha * a + (1.0 - alpha) * b;
                if mix > 0.0 {
                    num += hx * alpha * a / mix;
                }
                den += hx;
            }
        }
        if den <= 0.0 {
            return (0.0, 0.0);
        }
        alpha = (num / den).clamp(0.0, 1.0);
    }
    let gain = h
        .iter()
        .zip(p1)
        .zip(p0)
        .filter(|((&hx, _), &b)| hx > 0.0 && b > 0.0)
        .map(|((&hx, &a), &b)| hx * ((alpha * a + (1.0 - alpha) * b) / b).ln())
        .sum();
    (alpha, gain)
}

/// Study every frequency in [`FREQS`]: estimate `q1`, keep those that show
/// double compression, and sum the per-block log-likelihood ratios.
///
/// `aligned` are the blocks on the file's grid of `luma` (`width` x
/// `height`); the calibration histograms come from the blocks on the grid
/// moved by (4, 4), made and counted a row at a time (they are not kept).
/// `skip[b]` marks blocks to leave at 0 (clipped).
#[must_use]
pub fn analyze(
    aligned: &[LowBlock],
    (luma, width, height): (&[f32], usize, usize),
    table: &[u16; 64],
    skip: &[bool],
) -> DoubleCompression {
    let mut result = DoubleCompression {
        block_llr: vec![0.0; aligned.len()],
        ..DoubleCompression::default()
    };
    // Step 1 leaves only decoder noise to study; very coarse steps leave
    // almost no non-zero coefficients.
    let studied: Vec<(usize, u16)> = FREQS
        .filter(|&k| k < LOW)
        .map(|k| (k, table[ZIGZAG[k]]))
        .filter(|&(_, q2)| (2..=60).contains(&q2))
        .collect();
    let aligned_h = histograms(aligned, &studied);
    // Counts are integers, so adding the rows' histograms in any order
    // gives the histograms of all blocks exactly.
    let empty = || vec![vec![0.0f64; (2 * RANGE + 1) as usize]; studied.len()];
    let shifted_h = dct::low_frequency_rows(luma, width, height, 4, 4)
        .map(|row| histograms(&row, &studied))
        .reduce(empty, |mut a, b| {
            for (ha, hb) in a.iter_mut().zip(&b) {
                for (x, y) in ha.iter_mut().zip(hb) {
                    *x += y;
                }
            }
            a
        });
    for ((&(k, q2), h), h0) in studied.iter().zip(aligned_h).zip(shifted_h) {
        let total: f64 = h.iter().sum();
        let total0: f64 = h0.iter().sum();
        if total < MIN_COUNT || total0 < MIN_COUNT / 2.0 {
            continue;
        }
        result.studied += 1;
        // Add-half smoothing keeps empty calibration bins finite.
        let p0: Vec<f64> = h0
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                if i as i32 == RANGE {
                    0.0
                } else {
                    (c + 0.5) / (total0 + 0.5 * f64::from(2 * RANGE))
                }
            })
            .collect();
        let mut best: Option<(u16, f64, f64, Vec<f32>)> = None;
        let q1_max = (3 * q2).min(100);
        for q1 in 1..=q1_max {
            if q1 == q2 {
                continue;
            }
            let n = periodic_factor(q1, q2);
            let z: f64 = n.iter().zip(&p0).map(|(a, b)| a * b).sum();
            if z <= 0.0 {
                continue;
            }
            let p1: Vec<f64> = n.iter().zip(&p0).map(|(a, b)| a * b / z).collect();
            let (alpha, gain) = fit_mixture(&h, &p0, &p1);
            let gain = gain / total;
            if best.as_ref().is_none_or(|b| gain > b.2 + 1e-12) {
                let log_ratio = n
                    .iter()
                    .map(|&v| ((v / z).max(FLOOR)).ln() as f32)
                    .collect();
                best = Some((q1, alpha, gain, log_ratio));
            }
        }
        let Some((q1, alpha, gain, log_ratio)) = best else {
            continue;
        };
        if gain < MIN_GAIN || alpha < 0.2 {
            continue;
        }
        for ((llr, b), &s) in result.block_llr.iter_mut().zip(aligned).zip(skip) {
            let (i, counted) = slot(bin(b[k], q2));
            if counted && !s {
                *llr += log_ratio[i];
            }
        }
        result.models.push(FrequencyModel {
            index: ZIGZAG[k],
            q2,
            q1,
            alpha,
            gain,
        });
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_round_matches_round() {
        let mut values = vec![
            0.0f32,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            0.499_999_97,
            -0.499_999_97,
            8_388_607.5,
            16_777_217.0,
            2.147_483_6e9,
            3e9,
            -3e9,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
            f32::MIN,
        ];
        values.extend((0..20_000).map(|i| (i as f32 - 10_000.0) * 0.013_7));
        for v in values {
            assert_eq!(round_i32(v), v.round() as i32, "{v}");
        }
    }

    #[test]
    fn small_round_gives_the_same_slots() {
        let mut values = vec![0.5f32, -0.5, 40.5, -40.5, 41.0, 63.5, 64.0, 64.5, 1e9, -1e9];
        // Not -inf or below -2^31: there `slot(round_i32(v))` counts
        // i32::MIN (its `abs` wraps), which DCT quotients of 8-bit pixels
        // (|c| < 2100) never reach; `round_small` puts them in no bin.
        values.extend([f32::NAN, f32::INFINITY, -2.0e9, 0.499_999_97]);
        values.extend((0..40_000).map(|i| (i as f32 - 20_000.0) * 0.003_7));
        for v in values {
            let (a, b) = (round_small(v), round_i32(v));
            assert_eq!(slot(a), slot(b), "{v}");
        }
    }

    #[test]
    fn the_low_blocks_hold_every_studied_frequency() {
        assert!(*FREQS.end() < LOW);
    }

    #[test]
    fn periodic_factor_has_empty_bins_when_q1_is_coarser() {
        // q1 = 2 q2: only even values are reachable.
        let n = periodic_factor(10, 5);
        assert_eq!(n[(RANGE + 1) as usize], 0.0);
        assert!(n[(RANGE + 2) as usize] > 1.5);
        // Same step: flat, every bin reached once.
        let n = periodic_factor(5, 5);
        assert!(n.iter().all(|&v| (v - 1.0).abs() < 1e-9));
    }

    #[test]
    fn mixture_prefers_single_compression_when_histograms_agree() {
        let p0 = vec![1.0 / 81.0; 81];
        let h: Vec<f64> = p0.iter().map(|p| p * 1000.0).collect();
        let n = periodic_factor(10, 5);
        let z: f64 = n.iter().zip(&p0).map(|(a, b)| a * b).sum();
        let p1: Vec<f64> = n.iter().zip(&p0).map(|(a, b)| a * b / z).collect();
        let (alpha, gain) = fit_mixture(&h, &p0, &p1);
        assert!(alpha < 0.05, "alpha {alpha}");
        assert!(gain.abs() < 1.0, "gain {gain}");
    }
}
