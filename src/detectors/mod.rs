//! The detectors, one per module, and what they share.
//!
//! Each pixel detector is a function `run(&PixelContext) -> DetectorOutput`;
//! the pipeline in `crate::analyzer` calls them in a fixed order.

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
use crate::report::{cell_centre, DetectorKind, Finding, Heatmap, Region};

/// What every pixel detector reads. Built once per image by the analyser.
pub struct PixelContext<'a> {
    /// The decoded image as 8-bit RGB, in stored orientation: `width *
    /// height` pixels of 3 bytes, row-major (an `RgbImage`'s raw buffer).
    pub rgb: &'a [u8],
    /// Luminance (ITU-R BT.601 weights) as f32 in 0..=255, row-major.
    pub luma: &'a [f32],
    /// The shared noise residual of `luma` ([`residual::laplacian_residual`]),
    /// computed once and read by the noise, spectrum, texture,
    /// local-consistency and copy-move detectors (CFA filters its green
    /// channel itself).
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

/// Sets aside the spectrum's up-sampling evidence in a demosaiced image.
/// A camera's colour filter array interpolation makes the residual's
/// variance periodic with period 2 (Popescu & Farid, IEEE TSP 53(10),
/// 2005), which puts the same `N/2` peaks in the residual spectrum as
/// up-sampling by 2: on the development corpus the up-sampling score fired
/// (excess ≥ 8σ) on 10 camera photos, each with the CFA trace at z ≥ 31,
/// and on no generated image. Where the CFA
/// test finds it (z ≥ [`cfa::PRESENT_Z`]), the periodic-peak finding
/// scores 0 and says why, `spectrum.score` is 0, and the spectrum map is
/// bounded as for a score of 0. A generated image up-sampled by 2 that
/// also passes the CFA test loses this evidence; the fusion model does not
/// read it.
pub fn explain_period_two_by_demosaicing(outputs: &mut [(Region, DetectorOutput)]) {
    let cfa_z = outputs
        .iter()
        .filter(|(_, out)| out.kind == DetectorKind::Cfa)
        .flat_map(|(_, out)| &out.features)
        .find(|(name, _)| *name == "cfa.z")
        .map(|&(_, z)| z);
    let Some(z) = cfa_z.filter(|&z| z >= cfa::PRESENT_Z) else {
        return;
    };
    for (_, out) in outputs
        .iter_mut()
        .filter(|(_, out)| out.kind == DetectorKind::Spectrum)
    {
        let mut set_aside = false;
        for finding in &mut out.findings {
            if finding.code == spectrum::PERIODIC_PEAK && finding.score > 0.0 {
                finding.score = 0.0;
                finding.message.push_str(&format!(
                    " Not counted: the demosaicing trace the CFA test found ({z:.0}σ) makes the same N/2 peaks."
                ));
                finding.message_zh.push_str(&format!(
                    "不计入：CFA 检测发现的去马赛克痕迹（{z:.0}σ）会产生相同的 N/2 峰。"
                ));
                set_aside = true;
            }
        }
        if !set_aside {
            continue;
        }
        for (name, value) in &mut out.features {
            if *name == "spectrum.score" {
                *value = 0.0;
            }
        }
        if let Some(map) = &mut out.map {
            for v in &mut map.values {
                *v = v.min(spectrum::MAP_HEADROOM);
            }
        }
    }
}

/// Region findings of the two noise statistics, which alone mark genuine
/// photos about as often as edits (lens shading, JPEG-flattened sky and
/// shadows, defocus): they stay marked only where another trace confirms
/// them ([`confirm_regions`]). On the development corpus the rule took
/// every mark off 45 of the 91 genuine photos that had any (252 in all),
/// and the edits' mean localisation F1 went 0.474 → 0.479: more of the
/// unconfirmed regions lay off the edit than on it (README, Measured).
/// The co-occurrence cluster (drawn only when strong), single-compression
/// areas and copies stand on their own: requiring confirmation of them
/// too cost F1 0.477 → 0.429.
const NEEDS_CONFIRMATION: &[&str] = &[noise_residual::REGION_CODE, local_consistency::REGION_CODE];

/// Takes the box off every region finding in `NEEDS_CONFIRMATION` that
/// no other trace confirms, saying so in its message, and unflags its
/// cells; its evidence (score, message) stays. A region is confirmed when
/// a flagged cell of another detector's map, or one in the box of a region
/// of its own detector that stands on its own, has its centre on one of
/// its flagged cells. `outputs` are the pipeline's outputs with where each map
/// lies in the image, already reduced to their boxes
/// ([`DetectorOutput::unflag_unboxed`]); all are judged on the maps as
/// they are, so the two noise statistics can confirm each other.
pub fn confirm_regions(outputs: &mut [(Region, DetectorOutput)]) {
    let mut unconfirmed = Vec::new();
    for (i, (origin, out)) in outputs.iter().enumerate() {
        let Some(map) = &out.map else {
            continue;
        };
        // The image point (x, y) in this map's coordinates, when it lies on
        // one of its flagged cells inside `region`.
        let flagged_at = |region: &Region, x: u32, y: u32| {
            x.checked_sub(origin.x)
                .zip(y.checked_sub(origin.y))
                .filter(|&(x, y)| region.contains(x, y) && map.at(x, y) >= 0.5)
        };
        let needs_confirmation = |f: &Finding| NEEDS_CONFIRMATION.contains(&f.code.as_str());
        // This detector's regions that stand on their own.
        let own_other_kinds: Vec<Region> = out
            .findings
            .iter()
            .filter(|f| !needs_confirmation(f))
            .filter_map(|f| f.region)
            .collect();
        for (j, finding) in out.findings.iter().enumerate() {
            let Some(region) = finding.region.filter(|_| needs_confirmation(finding)) else {
                continue;
            };
            let confirmed = outputs.iter().enumerate().any(|(k, (at, other))| {
                let Some(other_map) = &other.map else {
                    return false;
                };
                flagged_centres(other_map, *at).any(|(x, y)| {
                    flagged_at(&region, x, y).is_some_and(|(x, y)| {
                        k != i || own_other_kinds.iter().any(|r| r.contains(x, y))
                    })
                })
            });
            if !confirmed {
                unconfirmed.push((i, j));
            }
        }
    }
    for &(i, j) in &unconfirmed {
        if let Some(finding) = outputs
            .get_mut(i)
            .and_then(|(_, out)| out.findings.get_mut(j))
        {
            finding.region = None;
            finding
                .message
                .push_str(" Not marked: no other trace confirms this region.");
            finding
                .message_zh
                .push_str("未标出：没有其他痕迹佐证该区域。");
        }
    }
    for (_, out) in outputs.iter_mut() {
        out.unflag_unboxed();
    }
}

/// The image points (cell centres, in image pixels) of the flagged cells
/// of `map`, which lies at `origin`.
fn flagged_centres(map: &Heatmap, origin: Region) -> impl Iterator<Item = (u32, u32)> + '_ {
    let size = (map.width, map.height);
    map.values
        .iter()
        .enumerate()
        .filter(|(_, &v)| v >= 0.5)
        .map(move |(i, _)| {
            let (x, y) = cell_centre(i, map.grid_width, map.cell, size);
            (origin.x.saturating_add(x), origin.y.saturating_add(y))
        })
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

/// Uniform noise in [-0.5, 0.5) from a xorshift sequence, for the
/// detectors' tests (the same seed gives the same images everywhere).
#[cfg(test)]
pub(crate) fn test_noise(seed: &mut u64) -> f32 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed % 10_000) as f32 / 10_000.0 - 0.5
}

/// Run a pixel detector on decoded RGB pixels the way the analyser does for
/// an image with no file behind it (no format, no JPEG tables). For tests.
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

    /// The spectrum's up-sampling evidence is set aside where the CFA test
    /// found a demosaicing trace, and kept where it did not.
    #[test]
    fn a_period_two_peak_in_a_demosaiced_image_is_not_counted() {
        let whole = Region {
            x: 0,
            y: 0,
            width: 64,
            height: 64,
        };
        let outputs = |cfa_z: f32| {
            let mut cfa = DetectorOutput::empty(DetectorKind::Cfa);
            cfa.features.push(("cfa.z", cfa_z));
            let mut spectrum = DetectorOutput::empty(DetectorKind::Spectrum);
            spectrum.features.push(("spectrum.score", 0.4));
            spectrum.findings.push(Finding::new(
                DetectorKind::Spectrum,
                spectrum::PERIODIC_PEAK,
                0.4,
                Class::AiGenerated,
                "Peak.".into(),
                "峰。".into(),
            ));
            let mut map = Heatmap::zeros(64, 64, 32);
            map.values.fill(0.6);
            spectrum.map = Some(map);
            let mut outputs = vec![(whole, spectrum), (whole, cfa)];
            explain_period_two_by_demosaicing(&mut outputs);
            outputs.swap_remove(0).1
        };
        let demosaiced = outputs(cfa::PRESENT_Z + 1.0);
        assert_eq!(demosaiced.findings[0].score, 0.0);
        assert!(demosaiced.findings[0].message.contains("demosaicing"));
        assert_eq!(demosaiced.features, vec![("spectrum.score", 0.0)]);
        let map = demosaiced.map.expect("map");
        assert!(map.values.iter().all(|&v| v <= spectrum::MAP_HEADROOM));

        let plain = outputs(cfa::PRESENT_Z - 1.0);
        assert_eq!(plain.findings[0].score, 0.4);
        assert_eq!(plain.features, vec![("spectrum.score", 0.4)]);
        assert!(plain.map.expect("map").values.iter().all(|&v| v == 0.6));
    }

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

    fn region_finding(kind: DetectorKind, code: &str, region: Region) -> Finding {
        Finding::new(
            kind,
            code,
            0.5,
            Class::Edited,
            "A region.".into(),
            "区域。".into(),
        )
        .with_region(region)
    }

    fn square(x: u32, y: u32, side: u32) -> Region {
        Region {
            x,
            y,
            width: side,
            height: side,
        }
    }

    /// A local-consistency map over a 64x64 frame, offset by (16, 16),
    /// with two noise-law regions: one overlapping the detector's own
    /// co-occurrence cluster, one alone. And a noise-model map over the
    /// whole frame whose region lies on the lone one's cells, offset: the
    /// two noise statistics confirm each other. A third noise-model region
    /// stands alone.
    #[test]
    fn noise_regions_stay_marked_only_with_a_second_trace() {
        let lc_kind = DetectorKind::LocalConsistency;
        let mut lc = DetectorOutput::empty(lc_kind);
        let mut map = Heatmap::zeros(48, 48, 16);
        map.values = vec![0.9, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.8];
        lc.map = Some(map);
        lc.findings = vec![
            // Cell (0, 0): inside the cluster's box too.
            region_finding(lc_kind, local_consistency::REGION_CODE, square(0, 0, 16)),
            region_finding(
                lc_kind,
                "local_consistency.cooccurrence_region",
                square(0, 0, 32),
            ),
            // Cell (2, 2), at (48..64, 48..64) of the frame.
            region_finding(lc_kind, local_consistency::REGION_CODE, square(32, 32, 16)),
        ];
        let nr_kind = DetectorKind::NoiseResidual;
        let mut nr = DetectorOutput::empty(nr_kind);
        let mut map = Heatmap::zeros(64, 64, 16);
        map.values[3 * 4 + 3] = 0.7; // (48..64, 48..64)
        map.values[3 * 4] = 0.7; // (0..16, 48..64): nothing else there
        nr.map = Some(map);
        nr.findings = vec![
            region_finding(nr_kind, noise_residual::REGION_CODE, square(48, 48, 16)),
            region_finding(nr_kind, noise_residual::REGION_CODE, square(0, 48, 16)),
        ];
        let mut outputs = vec![(square(16, 16, 48), lc), (square(0, 0, 64), nr)];
        confirm_regions(&mut outputs);

        let boxed = |out: &DetectorOutput| -> Vec<bool> {
            out.findings.iter().map(|f| f.region.is_some()).collect()
        };
        assert_eq!(boxed(&outputs[0].1), [true, true, true]);
        assert_eq!(boxed(&outputs[1].1), [true, false]);
        let lone = &outputs[1].1.findings[1];
        assert!(lone
            .message
            .ends_with("no other trace confirms this region."));
        assert!(lone.message_zh.contains("未标出"));
        assert_eq!(lone.score, 0.5, "the evidence stays");
        let nr_map = outputs[1].1.map.as_ref().expect("map");
        assert_eq!(nr_map.values[3 * 4 + 3], 0.7);
        assert_eq!(nr_map.values[3 * 4], UNFLAGGED);

        // Without the cluster and the noise model, the local-consistency
        // regions lose their boxes too.
        let mut alone = DetectorOutput::empty(lc_kind);
        alone.map = outputs[0].1.map.clone();
        alone.findings = vec![
            region_finding(lc_kind, local_consistency::REGION_CODE, square(0, 0, 16)),
            region_finding(lc_kind, local_consistency::REGION_CODE, square(32, 32, 16)),
        ];
        let mut outputs = vec![(square(16, 16, 48), alone)];
        confirm_regions(&mut outputs);
        assert_eq!(boxed(&outputs[0].1), [false, false]);
        assert!(outputs[0].1.map.as_ref().expect("map").max() < 0.5);
    }
}
