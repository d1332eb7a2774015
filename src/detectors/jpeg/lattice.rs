//! The JPEG quantisation lattice in pixels that arrive without their JPEG
//! file (PNG, WebP, TIFF, BMP).
//!
//! Method: Fan & de Queiroz, "Identification of bitmap compression history:
//! JPEG detection and quantizer estimation", IEEE TIP 12(2), 2003. A JPEG
//! decoded and stored losslessly keeps its DCT coefficients on multiples of
//! the quantisation steps, up to the 8-bit rounding of the pixels. We
//! estimate the step of each low frequency from the whole image, then score
//! each block by how many of its non-zero coefficients sit on the lattice.
//! Content painted, inpainted or pasted after the decoding (an AI inpainting
//! tool that composites its output into a decoded photo, a cloned patch)
//! falls off it, while the rest of the image keeps it. In a JPEG file saved
//! with fine steps, an earlier, coarser JPEG's lattice survives on its own
//! grid when a crop moved it (non-aligned double compression, Bianchi &
//! Piva, IEEE TIFS 7(3), 2012); the caller studies that grid.

use super::dct::{LowBlock, LOW};
use super::double::round_unsaturated;

/// Distance to the nearest multiple of the step (in coefficient units)
/// within which a coefficient counts as on the lattice: the 8-bit rounding
/// of the pixels moves a coefficient by about 0.3 (standard deviation).
const TOLERANCE: f32 = 0.75;
/// Coefficients closer to 0 than this are uninformative (on every lattice).
const MIN_MAGNITUDE: f32 = 1.5;
/// Largest step searched.
const MAX_STEP: u16 = 40;
/// Fewest informative coefficients for a frequency to be studied.
const MIN_COUNT: usize = 200;
/// Most coefficients per frequency the step search reads (an even stride
/// over the blocks): the step is a whole-image statistic (4096 samples
/// estimate a share to about ±0.01, against a decision margin of
/// [`MIN_EXCESS`]), and searching 39 steps over every block of a 12 MP
/// image would take longer than the rest of the analysis. Every block is
/// still scored.
const MAX_SEARCH: usize = 4096;
/// Share of coefficients on the lattice above the chance share, from which a
/// frequency has a step. Pixels that never were a JPEG stay under 0.1.
const MIN_EXCESS: f32 = 0.25;
/// Fewest frequencies with a step for the image to count as a decoded JPEG.
pub const MIN_STEPS: usize = 3;

/// The lattice found in the image, and each block's fit to it.
#[derive(Debug, Clone, Default)]
pub struct Lattice {
    /// `(zig-zag position, step, share of coefficients on the lattice)` of
    /// the frequencies with a step.
    pub steps: Vec<(usize, u16, f32)>,
    /// Per block: log-likelihood ratio of "on the lattice" against "off it"
    /// from its informative coefficients (0 when it has none).
    pub block_llr: Vec<f32>,
}

/// Whether `c` lies within [`TOLERANCE`] of a multiple of `step`. DCT
/// coefficients of 8-bit pixels stay far inside `i32`, so the rounding
/// needs no saturation (and the step search's loop vectorises).
fn on_lattice(c: f32, step: u16) -> bool {
    let q = f32::from(step);
    (c - q * round_unsaturated(c / q) as f32).abs() < TOLERANCE
}

/// Share of chance alignment: a coefficient unrelated to the lattice lands
/// within the tolerance of a multiple this often.
fn chance(step: u16) -> f32 {
    (2.0 * TOLERANCE / f32::from(step)).min(1.0)
}

/// The best step of one frequency and its share on the lattice, if its
/// excess over chance reaches [`MIN_EXCESS`]. A divisor of the true step
/// has the same share on the lattice but a higher chance share, and a
/// multiple has about a proportionally lower share, so the best excess
/// picks the true step.
fn estimate_step(values: &[f32]) -> Option<(u16, f32)> {
    if values.len() < MIN_COUNT {
        return None;
    }
    let n = values.len() as f32;
    let mut best: Option<(u16, f32, f32)> = None;
    for step in 2..=MAX_STEP {
        let on = values
            .iter()
            .map(|&c| u32::from(on_lattice(c, step)))
            .sum::<u32>() as f32
            / n;
        let excess = on - chance(step);
        if best.is_none_or(|(_, e, _)| excess > e) {
            best = Some((step, excess, on));
        }
    }
    best.filter(|&(_, e, _)| e >= MIN_EXCESS)
        .map(|(step, _, on)| (step, on))
}

/// Study the AC frequencies of the blocks on one grid; `None` when fewer
/// than [`MIN_STEPS`] frequencies show a lattice (the pixels were never a
/// JPEG on this grid, or too little texture to tell). `own` are the steps
/// of the file's own quantisation on this grid (zig-zag order), when the
/// pixels come from a JPEG file aligned with it: only a coarser step is an
/// earlier JPEG's.
#[must_use]
pub fn analyze(blocks: &[LowBlock], own: Option<&[u16; LOW]>) -> Option<Lattice> {
    let mut steps = Vec::new();
    let stride = blocks.len().div_ceil(MAX_SEARCH).max(1);
    for k in 1..LOW {
        let values: Vec<f32> = blocks
            .iter()
            .step_by(stride)
            .map(|b| b[k])
            .filter(|c| c.abs() >= MIN_MAGNITUDE)
            .collect();
        if let Some((step, on)) = estimate_step(&values) {
            if own.is_none_or(|own| step > own[k]) {
                steps.push((k, step, on));
            }
        }
    }
    if steps.len() < MIN_STEPS {
        return None;
    }
    // Per coefficient: ln(P(on | genuine) / P(on | chance)) when on the
    // lattice, ln(P(off | genuine) / P(off | chance)) when off it.
    let weights: Vec<(usize, u16, f32, f32)> = steps
        .iter()
        .map(|&(k, step, on)| {
            let c = chance(step).min(0.95);
            let on = on.clamp(c + 0.01, 0.99);
            (k, step, (on / c).ln(), ((1.0 - on) / (1.0 - c)).ln())
        })
        .collect();
    let block_llr = blocks
        .iter()
        .map(|b| {
            weights
                .iter()
                .filter(|&&(k, _, _, _)| b[k].abs() >= MIN_MAGNITUDE)
                .map(|&(k, step, hit, miss)| if on_lattice(b[k], step) { hit } else { miss })
                .sum()
        })
        .collect();
    Some(Lattice { steps, block_llr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_step_of_quantised_values_and_none_in_noise() {
        let mut seed = 7u64;
        let quantised: Vec<f32> = (0..2000)
            .map(|_| {
                let k = (crate::detectors::test_noise(&mut seed) * 20.0).round();
                let k = if k == 0.0 { 1.0 } else { k };
                6.0 * k + 0.3 * crate::detectors::test_noise(&mut seed)
            })
            .collect();
        assert_eq!(estimate_step(&quantised).map(|s| s.0), Some(6));
        let noise: Vec<f32> = (0..2000)
            .map(|_| 2.0 + 40.0 * crate::detectors::test_noise(&mut seed).abs())
            .collect();
        assert_eq!(estimate_step(&noise), None);
    }
}
