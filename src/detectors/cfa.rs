//! Demosaicing (colour filter array) traces.
//!
//! A camera samples one colour per pixel through a Bayer filter and
//! interpolates the others. Interpolated samples are (nearly) linear
//! combinations of their neighbours, so the high-pass residual of the green
//! channel is weaker on the interpolated quincunx lattice than on the
//! sampled one: a period-2 pattern, a peak at (π, π), and for the red/blue
//! leakage into green at (π, 0) / (0, π) (Popescu & Farid, "Exposing
//! digital forgeries in color filter array interpolated images", IEEE TSP
//! 53(10), 2005; Ferrara, Bianchi, De Rosa & Piva, "Image forgery
//! localization via fine-grained analysis of CFA artifacts", IEEE TIFS 7(5),
//! 2012; the residual form is Gallagher & Chen 2008).
//!
//! Per 32x32 block (stride 16) we take the mean `|r|` of the green
//! Laplacian residual on the four 2x2 phases `m00, m01, m10, m11` and form
//! the normalised Fourier components of that 2x2 pattern: `(π, π) =
//! (m00 + m11 - m01 - m10) / Σ`, `(π, 0)` and `(0, π)` likewise. Camera
//! images show one dominant component with a consistent sign over the
//! whole image; plain noise, generated pixels and resampled content show
//! none.
//!
//! - Local absence in an otherwise CFA-rich image marks an edited region.
//!   A block's map value rises from 0 where its component is half the
//!   image's to 0.5 where it keeps about 15% of it and 0.71 where it has
//!   none (more for the opposite phase), scaled down while the image's
//!   trace is under 3 block-standard-deviations strong: a block is flagged
//!   only when its trace is nearly gone.
//! - Global absence in a high-quality, full-size image points to generation
//!   (weak evidence: heavy in-camera processing also removes the trace).
//! - JPEG quality under [`MIN_QUALITY`] erases the trace: the test then
//!   reports that it cannot speak and scores 0.

use rayon::prelude::*;

use super::residual::{blocks_to_heatmap, flagged_regions, laplacian_row, mirror, ramp, BlockGrid};
use super::{DetectorOutput, PixelContext};
use crate::report::{Class, DetectorKind, Finding};

/// Block side in pixels (even, so that blocks hold every phase equally).
const BLOCK: usize = 32;
/// Block step (even, so the phases keep their image parity).
const STRIDE: usize = 16;
/// Below this JPEG quality the 8x8 quantisation removes the period-2
/// pattern (its energy sits at the highest DCT frequencies, quantised
/// hardest), so the test cannot speak.
pub const MIN_QUALITY: u8 = 90;
/// z-score of the image-wide trace from which the image counts as
/// demosaiced (below 3 it counts as absent).
pub const PRESENT_Z: f32 = 10.0;

/// Run the detector.
#[must_use]
pub fn run(ctx: &PixelContext<'_>) -> DetectorOutput {
    let mut out = DetectorOutput::empty(DetectorKind::Cfa);
    let (w, h) = (ctx.width as usize, ctx.height as usize);
    let grid = BlockGrid::new(w, h, BLOCK, STRIDE);
    if grid.len() < 16 {
        out.features.push(("cfa.score", 0.0));
        return out;
    }
    if ctx.rgb.len() != w * h * 3 {
        return out;
    }
    let comps = block_components(ctx.rgb, w, h, grid);
    let informative: Vec<[f32; 3]> = comps.iter().flatten().copied().collect();
    let nb = informative.len();
    if nb < 16 {
        out.features.push(("cfa.score", 0.0));
        return out;
    }
    // The dominant component: the largest |mean| in standard-error units.
    let mut best = (0usize, 0.0f32, 0.0f32, 0.0f32); // (index, mean, sd, z)
    for c in 0..3 {
        let mean = informative.iter().map(|v| v[c]).sum::<f32>() / nb as f32;
        let var = informative
            .iter()
            .map(|v| (v[c] - mean).powi(2))
            .sum::<f32>()
            / (nb - 1) as f32;
        let sd = var.sqrt().max(1e-6);
        let z = mean.abs() / (sd / (nb as f32).sqrt());
        if z > best.3 {
            best = (c, mean, sd, z);
        }
    }
    let (component, mean, sd, z) = best;
    let strength = mean.abs();
    let sign = mean.signum();
    // How many block standard deviations the image-wide trace stands out:
    // the reliability of a single block's verdict.
    let block_snr = strength / sd;
    let quality = ctx.jpeg_quality;
    let compressed = quality.is_some_and(|q| q < MIN_QUALITY);
    let present_share = informative
        .iter()
        .filter(|v| sign * v[component] > 0.5 * strength)
        .count() as f32
        / nb as f32;

    let reliable = ramp(block_snr, 1.5, 3.0);
    let values: Vec<Option<f32>> = comps
        .iter()
        .map(|c| {
            c.map(|v| {
                let b = sign * v[component];
                // 0 when the block keeps ≥ half the image's trace, 0.5 at
                // about 15% of it, 0.71 at none, 1 at a fifth of it in the
                // opposite phase (see the module doc).
                ramp((strength - b) / strength.max(1e-6), 0.5, 1.2) * reliable
            })
        })
        .collect();
    let mut map = blocks_to_heatmap(&values, grid, ctx.width, ctx.height);
    if compressed {
        map.values.iter_mut().for_each(|v| *v = 0.0);
    }
    let regions = flagged_regions(&map, 0.5, 4);
    let flagged_cells: usize = regions.iter().map(|r| r.1).sum();
    let flagged_share = flagged_cells as f32 / map.values.len().max(1) as f32;
    let largest = regions.first().map_or(0, |r| r.1) as f32 / map.values.len().max(1) as f32;
    // Local: a missing-trace region (≥ 4 cells, full weight from 2% of the
    // image; none when flagged cells cover over 40%) in an image whose trace
    // is reliable.
    let edited = if compressed || flagged_share > 0.4 {
        0.0
    } else {
        0.6 * reliable * ramp(largest, 0.0, 0.02)
    };
    // Global: no trace at all in a high-quality image (PNG, or JPEG ≥ 95)
    // of at least 1 Mpx (down-scaling also erases it, so small images say
    // nothing). Heavy in-camera processing removes the trace too: weak.
    let high_quality = quality.is_none_or(|q| q >= 95);
    let big = (w * h) >= 1_000_000;
    let generated = if high_quality && big {
        0.3 * (1.0 - ramp(z, 3.0, PRESENT_Z))
    } else {
        0.0
    };

    out.features.extend([
        ("cfa.strength", strength),
        ("cfa.z", z),
        ("cfa.block_snr", block_snr),
        ("cfa.component", component as f32),
        ("cfa.present_share", present_share),
        ("cfa.flagged_share", flagged_share),
        ("cfa.score", edited.max(generated)),
    ]);
    let names = ["(π, π)", "(π, 0)", "(0, π)"];
    let name = names[component];
    if compressed {
        let q = quality.unwrap_or(0);
        out.findings.push(Finding::new(
            DetectorKind::Cfa,
            "cfa.not_applicable",
            0.0,
            Class::None,
            format!("JPEG quality {q} is below {MIN_QUALITY}: compression erases demosaicing traces, so this test cannot speak (measured trace {strength:.3} at {name}, {z:.1}σ)."),
            format!("JPEG 质量 {q} 低于 {MIN_QUALITY}：压缩抹去了去马赛克痕迹，本检测无法给出结论（测得痕迹 {strength:.3}，位于 {name}，{z:.1}σ）。"),
        ));
    } else {
        out.findings.push(Finding::new(
            DetectorKind::Cfa,
            "cfa.local_absence",
            edited,
            Class::Edited,
            format!("Demosaicing trace at {name}: {strength:.3} ({z:.1}σ over {nb} blocks, {:.0}% of blocks carry it); it is missing in {} region(s) covering {:.1}% of the image.", present_share * 100.0, regions.len(), flagged_share * 100.0),
            format!("去马赛克痕迹位于 {name}：强度 {strength:.3}（{nb} 个块上 {z:.1}σ，{:.0}% 的块带有该痕迹）；在 {} 个区域中缺失，占图像 {:.1}%。", present_share * 100.0, regions.len(), flagged_share * 100.0),
        ));
        if generated > 0.0 {
            out.findings.push(Finding::new(
                DetectorKind::Cfa,
                "cfa.global_absence",
                generated,
                Class::AiGenerated,
                format!("A high-quality {w}x{h} image with no consistent demosaicing trace ({z:.1}σ): camera photos usually carry one; generated images do not."),
                format!("高质量的 {w}x{h} 图像没有一致的去马赛克痕迹（{z:.1}σ）：相机照片通常带有此痕迹，生成图像没有。"),
            ));
        }
        for (region, cells) in regions.iter().take(8) {
            out.findings.push(
                Finding::new(
                    DetectorKind::Cfa,
                    "cfa.region",
                    edited,
                    Class::Edited,
                    format!("Region of {cells} cells without the demosaicing trace of the rest of the photo."),
                    format!("该区域（{cells} 个单元）缺少照片其余部分的去马赛克痕迹。"),
                )
                .with_region(*region),
            );
        }
    }
    out.map = Some(map);
    out
}

/// The normalised `[(π, π), (π, 0), (0, π)]` components of every block, or
/// `None` for blocks without information (flat or clipped). Phase sums are
/// taken once per 16x16 cell and a block adds its 2x2 cells, so each pixel
/// is read once. The green residual ([`laplacian_row`]) is computed row by
/// row from `rgb` (`w` x `h`, 8-bit RGB) and never stored whole.
fn block_components(rgb: &[u8], w: usize, h: usize, grid: BlockGrid) -> Vec<Option<[f32; 3]>> {
    let (cw, ch) = (w / STRIDE, h / STRIDE);
    let green_row = |y: usize, out: &mut [f32]| {
        for (o, p) in out
            .iter_mut()
            .zip(rgb[y * w * 3..][..w * 3].chunks_exact(3))
        {
            *o = f32::from(p[1]);
        }
    };
    // Per cell: the four phase sums of |r| and the clipped count.
    let cells: Vec<[f32; 5]> = (0..ch)
        .into_par_iter()
        .flat_map_iter(|cy| {
            let mut row_cells = vec![[0.0f32; 5]; cw];
            // Clipped pixels are counted as integers (the float count they
            // replace was exact, so the value is the same) and stored last.
            let mut clipped = vec![0u32; cw];
            // Rolling rows: each green row is extracted once per band, not
            // three times (the row below becomes the current one, ...).
            let (mut up, mut grow, mut down, mut row) =
                (vec![0.0; w], vec![0.0; w], vec![0.0; w], vec![0.0; w]);
            let y0 = cy * STRIDE;
            green_row(mirror(y0 as isize - 1, h), &mut up);
            green_row(y0, &mut grow);
            for y in y0..y0 + STRIDE {
                green_row(mirror(y as isize + 1, h), &mut down);
                laplacian_row(&up, &grow, &down, &mut row);
                // Even columns add to phase `base`, odd ones to `base + 1`,
                // each in column order as before.
                let base = (y & 1) * 2;
                let cols = row.chunks_exact(STRIDE).zip(grow.chunks_exact(STRIDE));
                for ((cell, n), (r, g)) in row_cells.iter_mut().zip(&mut clipped).zip(cols) {
                    let (mut even, mut odd) = (cell[base], cell[base + 1]);
                    for p in r.chunks_exact(2) {
                        even += p[0].abs();
                        odd += p[1].abs();
                    }
                    cell[base] = even;
                    cell[base + 1] = odd;
                    *n += g
                        .iter()
                        .map(|&v| u32::from(!(3.0..252.0).contains(&v)))
                        .sum::<u32>();
                }
                std::mem::swap(&mut up, &mut grow);
                std::mem::swap(&mut grow, &mut down);
            }
            for (cell, &n) in row_cells.iter_mut().zip(&clipped) {
                cell[4] = n as f32;
            }
            row_cells
        })
        .collect();
    let span = BLOCK / STRIDE;
    let n = (BLOCK * BLOCK) as f32;
    (0..grid.len())
        .map(|i| {
            let (bx, by) = (i % grid.nx, i / grid.nx);
            let mut m = [0.0f32; 5];
            for cy in by..by + span {
                for cx in bx..bx + span {
                    if let Some(c) = cells.get(cy * cw + cx) {
                        for (a, v) in m.iter_mut().zip(c) {
                            *a += v;
                        }
                    }
                }
            }
            let sum: f32 = m[..4].iter().sum();
            // Mean |r| under 0.3 grey levels: flat (or quantised flat), no
            // interpolation to see. Clipping flattens the pattern too.
            if sum / n < 0.3 || m[4] > 0.02 * n {
                return None;
            }
            Some([
                (m[0] + m[3] - m[1] - m[2]) / sum,
                (m[0] - m[1] + m[2] - m[3]) / sum,
                (m[0] + m[1] - m[2] - m[3]) / sum,
            ])
        })
        .collect()
}
