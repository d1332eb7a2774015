//! The detectors, one per module, and what they share.
//!
//! Each pixel detector is a function `run(&PixelContext) -> DetectorOutput`;
//! the pipeline in [`crate::analyzer`] calls them in a fixed order.

pub mod cfa;
mod cooccurrence;
pub mod copy_move;
pub mod jpeg;
pub mod local_consistency;
pub mod noise_residual;
pub mod provenance;
pub mod residual;
pub mod spectrum;
pub mod texture_stats;

use std::sync::Arc;

use rustfft::{Fft, FftPlanner};

use crate::decode::Format;
use crate::metadata::QuantTable;
use crate::report::{DetectorKind, Finding, Heatmap, Region};

/// What every pixel detector reads. Built once per image by the analyser.
pub struct PixelContext<'a> {
    /// The decoded image as 8-bit RGB, in stored orientation: `width *
    /// height` pixels of 3 bytes, row-major (an `RgbImage`'s raw buffer).
    pub rgb: &'a [u8],
    /// Luminance (ITU-R BT.601 weights) as f32 in 0..=255, row-major.
    pub luma: &'a [f32],
    /// The shared noise residual of `luma` ([`residual::laplacian_residual`]),
    /// computed once and read by the noise, spectrum and CFA detectors.
    pub residual: &'a [f32],
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// The source format, when the input was a file.
    pub format: Option<Format>,
    /// JPEG quantisation tables from the file (empty if not JPEG).
    pub quant_tables: &'a [QuantTable],
    /// Estimated JPEG quality, when JPEG.
    pub jpeg_quality: Option<u8>,
    /// FFT plans shared between images.
    pub fft: &'a FftPlans,
}

/// What a pixel detector returns.
#[derive(Debug, Clone)]
pub struct DetectorOutput {
    /// Which detector.
    pub kind: DetectorKind,
    /// Named features (`detector.feature`) for the fusion model.
    pub features: Vec<(&'static str, f32)>,
    /// Evidence, each with its class and score.
    pub findings: Vec<Finding>,
    /// Localisation map in [0, 1] (≥ 0.5 flagged), when the detector can localise.
    pub map: Option<Heatmap>,
}

impl DetectorOutput {
    /// An output with nothing in it yet.
    #[must_use]
    pub fn empty(kind: DetectorKind) -> Self {
        DetectorOutput {
            kind,
            features: Vec::new(),
            findings: Vec::new(),
            map: None,
        }
    }

    /// Lower the map's flagged cells (≥ 0.5) that lie outside the box of
    /// every localised finding to just under 0.5: what the heatmap flags is
    /// always a region a finding names and explains. Detectors paint their
    /// maps before choosing regions, so isolated specks could otherwise show
    /// as flagged with no finding behind them (on the development corpus, 8
    /// of 252 genuine photos had only such specks).
    pub fn unflag_unboxed(&mut self) {
        let Some(map) = &mut self.map else {
            return;
        };
        let boxes: Vec<Region> = self.findings.iter().filter_map(|f| f.region).collect();
        map.unflag_outside(&boxes);
    }
}

/// The highest map value that is not flagged.
pub(crate) const UNFLAGGED: f32 = 0.49;

/// Forward FFT plans of the sizes the detectors use, planned once per
/// analyser and shared (plans are `Send + Sync`).
pub struct FftPlans {
    planner: std::sync::Mutex<FftPlanner<f32>>,
}

impl Default for FftPlans {
    fn default() -> Self {
        FftPlans {
            planner: std::sync::Mutex::new(FftPlanner::new()),
        }
    }
}

impl std::fmt::Debug for FftPlans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FftPlans")
    }
}

impl FftPlans {
    /// The forward plan of length `n` (planned on first use, then cached by rustfft).
    #[must_use]
    pub fn forward(&self, n: usize) -> Arc<dyn Fft<f32>> {
        let mut planner = match self.planner.lock() {
            Ok(guard) => guard,
            // A panic elsewhere while planning leaves the planner usable.
            Err(poisoned) => poisoned.into_inner(),
        };
        planner.plan_fft_forward(n)
    }
}

/// Run a pixel detector on decoded RGB pixels the way the analyser does for
/// an image with no file behind it (no format, no JPEG tables). For tests.
/// Uniform noise in [-0.5, 0.5) from a xorshift sequence, for the
/// detectors' tests (the same seed gives the same images everywhere).
#[cfg(test)]
pub(crate) fn test_noise(seed: &mut u64) -> f32 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed % 10_000) as f32 / 10_000.0 - 0.5
}

#[cfg(test)]
pub(crate) fn run_on_pixels(
    img: &image::RgbImage,
    run: fn(&PixelContext<'_>) -> DetectorOutput,
) -> DetectorOutput {
    let luma: Vec<f32> = img
        .pixels()
        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
        .collect();
    let (w, h) = img.dimensions();
    let residual = residual::laplacian_residual(&luma, w as usize, h as usize);
    let fft = FftPlans::default();
    let ctx = PixelContext {
        rgb: img.as_raw(),
        luma: &luma,
        residual: &residual,
        width: w,
        height: h,
        format: None,
        quant_tables: &[],
        jpeg_quality: None,
        fft: &fft,
    };
    run(&ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Class;

    #[test]
    fn flagged_cells_outside_every_finding_box_are_unflagged() {
        let mut out = DetectorOutput::empty(DetectorKind::NoiseResidual);
        let mut map = Heatmap::zeros(64, 64, 16);
        // A flagged region at cells (0, 0)-(1, 0), a speck at (3, 3) and a
        // weak cell at (2, 2).
        map.values[0] = 0.9;
        map.values[1] = 0.6;
        map.values[15] = 0.8;
        map.values[10] = 0.3;
        out.map = Some(map);
        out.findings.push(
            Finding::new(
                DetectorKind::NoiseResidual,
                "x.region",
                0.6,
                Class::Edited,
                String::new(),
                String::new(),
            )
            .with_region(Region {
                x: 0,
                y: 0,
                width: 32,
                height: 16,
            }),
        );
        out.unflag_unboxed();
        let values = &out.map.expect("map").values;
        assert_eq!((values[0], values[1]), (0.9, 0.6));
        assert_eq!(values[15], UNFLAGGED);
        assert_eq!(values[10], 0.3);
    }
}
