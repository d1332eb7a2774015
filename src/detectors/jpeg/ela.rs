//! Error level analysis (Krawetz, "A Picture's Worth...", Black Hat 2007).
//!
//! Re-save the luminance as JPEG at a known quality and measure, per 8x8
//! block, how much it changes. Content that has already been through a
//! similar quantisation changes little; content with another history (pasted,
//! painted) changes more. The raw error also follows texture, so each block
//! is compared with blocks of similar activity, and the map only supports the
//! other tests: it never flags on its own.
//!
//! The re-save is done in the DCT domain: each block's coefficients are
//! re-quantised with the IJG table of [`QUALITY`], and since the DCT is
//! orthonormal (Parseval) the root-mean-square change of the coefficients is
//! the RMS change of the block's pixels before the decoder's rounding. This
//! avoids a full JPEG encode and decode of the image.

use rayon::prelude::*;

use super::dct;
use super::double::round_unsaturated;
use super::tables::{ijg_table, IJG_LUMA};
use crate::detectors::residual::median_in_place;

/// Re-save quality (the customary ELA setting).
const QUALITY: u8 = 90;

/// Per-8x8-block ELA, relative to blocks of similar texture.
#[derive(Debug, Clone, Default)]
pub struct Ela {
    /// Blocks across.
    pub bw: usize,
    /// Blocks down.
    pub bh: usize,
    /// Per block: error over the median error of its texture class, minus 1
    /// (0 = typical, 1 = twice the typical error); 0 for blocks not wanted.
    pub excess: Vec<f32>,
    /// Share of (sampled) blocks with an error at least three times the
    /// typical one.
    pub outlier_share: f32,
}

/// RMS re-quantisation error and mean horizontal gradient of the 8x8 block
/// at (`x0`, `y0`), on the luminance rounded to 8 bits as an encoder sees it.
fn block_error(luma: &[f32], width: usize, x0: usize, y0: usize, table: &Steps) -> (f32, f32) {
    let mut grey = [0.0f32; 64];
    let mut activity = 0.0f32;
    for y in 0..8 {
        let line = &luma[(y0 + y) * width + x0..][..8];
        for x in 0..8 {
            grey[y * 8 + x] = round_unsaturated(line[x]).clamp(0, 255) as f32;
        }
        for x in 0..7 {
            activity += (grey[y * 8 + x + 1] - grey[y * 8 + x]).abs();
        }
    }
    let coef = dct::block(&grey, 8, 0, 0);
    let error: f32 = coef
        .iter()
        .zip(table)
        .map(|(&c, &(q, q_recip))| {
            let d = c - q * round_unsaturated(c * q_recip) as f32;
            d * d
        })
        .sum();
    ((error / 64.0).sqrt(), activity / 56.0)
}

/// The re-save table's steps as f32 with their reciprocals, the same values
/// as converting and inverting them per coefficient, computed once.
type Steps = [(f32, f32); 64];

fn steps(table: &[u16; 64]) -> Steps {
    table.map(|q| {
        let q = f32::from(q);
        (q, q.recip())
    })
}

/// Blocks in an image from which the texture-class medians are taken from
/// a sample of one block in [`SAMPLE_STEP`]² rather than from all (about
/// 0.26 Mpx): 256 and more sampled blocks (16,384 pixels) give stable
/// medians.
const SAMPLE_FROM: usize = 4096;
/// Sampling step, in blocks across and down.
const SAMPLE_STEP: usize = 4;

/// Run ELA on `luma` (`width` x `height`). The texture-class medians and
/// the outlier share come from a regular sample of blocks (all blocks in
/// small images); the per-block excess is computed for the blocks where
/// `wanted(bx, by)` holds and left at 0 elsewhere, since ELA only supports
/// other evidence. Returns `None` when the image holds no whole 8x8 block.
#[must_use]
pub fn analyze(
    luma: &[f32],
    width: u32,
    height: u32,
    wanted: impl Fn(usize, usize) -> bool + Sync,
) -> Option<Ela> {
    let (w, h) = (width as usize, height as usize);
    if luma.len() < w * h || w < 8 || h < 8 {
        return None;
    }
    let table = steps(&ijg_table(&IJG_LUMA, QUALITY));
    let (bw, bh) = (w / 8, h / 8);
    let step = if bw * bh >= SAMPLE_FROM {
        SAMPLE_STEP
    } else {
        1
    };
    // (error, activity) per sampled block; each block alone, so the result
    // is bit-identical for any number of threads.
    let sample: Vec<(f32, f32)> = (0..bh)
        .step_by(step)
        .collect::<Vec<_>>()
        .par_iter()
        .flat_map_iter(|&by| {
            (0..bw)
                .step_by(step)
                .map(move |bx| block_error(luma, w, bx * 8, by * 8, &table))
        })
        .collect();
    // Texture classes: octaves of mean gradient. The typical error of each
    // class is its median, so a busy photo is not an outlier everywhere.
    let class = |a: f32| ((a + 0.5).log2().clamp(-1.0, 6.0) + 1.0) as usize;
    let mut per_class: Vec<Vec<f32>> = vec![Vec::new(); 8];
    for &(e, a) in &sample {
        per_class[class(a)].push(e);
    }
    let medians: Vec<f32> = per_class.iter_mut().map(|v| median_in_place(v)).collect();
    // A floor of a quarter grey level keeps flat, error-free areas at 0.
    let excess_of = |(e, a): (f32, f32)| (e / medians[class(a)].max(0.25) - 1.0).max(0.0);
    let outliers = sample.iter().filter(|&&b| excess_of(b) >= 2.0).count();
    let mut excess = vec![0.0f32; bw * bh];
    excess.par_chunks_mut(bw).enumerate().for_each(|(by, row)| {
        for (bx, v) in row.iter_mut().enumerate() {
            if wanted(bx, by) {
                *v = excess_of(block_error(luma, w, bx * 8, by * 8, &table));
            }
        }
    });
    Some(Ela {
        bw,
        bh,
        outlier_share: outliers as f32 / sample.len().max(1) as f32,
        excess,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block already quantised at the re-save table changes (almost) not
    /// at all; the same block with noise added changes.
    #[test]
    fn requantised_content_has_a_low_error() {
        let table = ijg_table(&IJG_LUMA, QUALITY);
        let steps = steps(&table);
        let smooth: Vec<f32> = (0..64)
            .map(|i| 128.0 + 40.0 * ((i % 8) as f32 * 0.4).sin() + 5.0 * (i / 8) as f32)
            .collect();
        // Quantise then invert with the transpose of the orthonormal basis.
        let coef = dct::block(&smooth, 8, 0, 0);
        let quantised: Vec<f32> = coef
            .iter()
            .zip(&table)
            .map(|(&c, &q)| f32::from(q) * (c / f32::from(q)).round())
            .collect();
        let mut pixels = vec![0.0f32; 64];
        for (i, p) in pixels.iter_mut().enumerate() {
            // The transform is orthonormal, so pixel i of the inverse is the
            // coefficients' dot product with the DCT of the unit impulse at i
            // (128 added: `block` level-shifts).
            let mut impulse = [128.0f32; 64];
            impulse[i] += 1.0;
            let row = dct::block(&impulse, 8, 0, 0);
            *p = 128.0 + quantised.iter().zip(&row).map(|(a, b)| a * b).sum::<f32>();
        }
        let (clean, _) = block_error(&pixels, 8, 0, 0, &steps);
        // Uniform noise in [-6, 6) from a fixed linear congruential sequence.
        let mut state = 12_345u32;
        let noisy: Vec<f32> = pixels
            .iter()
            .map(|&v| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                v + (state >> 8) as f32 / (1u32 << 24) as f32 * 12.0 - 6.0
            })
            .collect();
        let (dirty, _) = block_error(&noisy, 8, 0, 0, &steps);
        assert!(clean < 0.6, "clean {clean}");
        assert!(dirty > 2.0 * clean.max(0.3), "dirty {dirty} clean {clean}");
    }
}
