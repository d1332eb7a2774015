//! Block-artifact grid: where the 8x8 JPEG grid lies, globally and locally.
//!
//! Method: after Li, Yuan & Yu, "Passive detection of doctored JPEG image via
//! block artifact grid extraction", Signal Processing 89(9), 2009. A JPEG
//! block boundary is a column (or
//! row) where the luminance jumps more than at its neighbours. We measure,
//! for each of the 8 horizontal and 8 vertical phases (64 offsets in all),
//! the mean excess jump in local windows; a window whose strongest phase
//! differs from the image's is content that was pasted off the grid.

use rayon::prelude::*;

use crate::buffer::Buffer;

/// Jumps are capped at this many grey levels: blocking steps are small, and
/// strong edges belong to the content, not to the grid.
const JUMP_CAP: f32 = 6.0;
/// Window side in blocks (32 pixels) and stride in blocks (16 pixels).
const WINDOW: usize = 4;
const STRIDE: usize = 2;
/// z-score of the best phase from which a window's grid counts as visible.
/// The best of 8 noise-only phases rarely exceeds 3.
const MIN_LOCAL_Z: f32 = 4.5;

/// The grid evidence of an image.
#[derive(Debug, Clone, Default)]
pub struct GridAnalysis {
    /// Global phase (x, y) of the block boundaries: `x % 8 == phase` is the
    /// last column of a block. A JPEG decoded at its own grid gives (7, 7).
    pub phase: (u8, u8),
    /// Global z-score of the grid, the weaker axis: noise alone rarely
    /// passes 4; the JPEG detector counts a grid from 8
    /// (`MIN_GRID_STRENGTH`).
    pub strength: f32,
    /// Blocks across of the per-block maps.
    pub bw: usize,
    /// Blocks down.
    pub bh: usize,
    /// Per 8x8 block, in [0, 1]: how strongly the local grid is off the global one.
    pub misaligned: Vec<f32>,
    /// Share of windows with a visible grid whose phase differs.
    pub misaligned_share: f32,
    /// Windows with a visible grid.
    pub visible_windows: usize,
}

/// Capped absolute differences of neighbouring samples: `out[i] = min(|b[i]
/// - a[i]|, JUMP_CAP)`.
fn capped_jumps(a: &[f32], b: &[f32], out: &mut [f32]) {
    for ((o, &p), &q) in out.iter_mut().zip(a).zip(b) {
        *o = (q - p).abs().min(JUMP_CAP);
    }
}

/// Excess of each jump over the mean of its two neighbours,
/// `out[i] = mid[i] - (before[i] + after[i]) / 2`.
fn excess(before: &[f32], mid: &[f32], after: &[f32], out: &mut [f32]) {
    for (((o, &m), &b), &a) in out.iter_mut().zip(mid).zip(before).zip(after) {
        *o = m - 0.5 * (b + a);
    }
}

/// Per 8x8 block (absolute grid from the image origin), the summed excess
/// jumps of each horizontal phase (0..8) and vertical phase (8..16), then
/// the summed squares of all horizontal (16) and vertical (17) excesses.
/// The excess at the first and the last boundary of a line counts as 0.
fn block_profiles(luma: &[f32], width: usize, height: usize) -> (Buffer<[f32; 18]>, usize, usize) {
    let (bw, bh) = (width / 8, height / 8);
    let mut out = Buffer::zeroed(bw * bh);
    if bw == 0 || bh == 0 {
        return (out, bw, bh);
    }
    let row = |y: usize| &luma[y * width..(y + 1) * width];
    // Rows are computed as whole lines so the loops vectorise; each block
    // still adds its own values in the same order, so the sums do not
    // depend on the split.
    out.par_chunks_mut(bw).enumerate().for_each(|(by, blocks)| {
        let mut dx = vec![0.0f32; width - 1];
        let mut horizontal = vec![0.0f32; width];
        let mut vertical = vec![0.0f32; width];
        // Vertical jumps of the rows y - 1, y and y + 1.
        let mut dy = [
            vec![0.0f32; width],
            vec![0.0f32; width],
            vec![0.0f32; width],
        ];
        // The row whose jump lines `dy` holds.
        let mut dy_row: Option<usize> = None;
        for y in by * 8..by * 8 + 8 {
            capped_jumps(&row(y)[..width - 1], &row(y)[1..], &mut dx);
            horizontal.fill(0.0);
            if width >= 3 {
                excess(
                    &dx[..width - 2],
                    &dx[1..],
                    &dx[2..],
                    &mut horizontal[1..width - 2],
                );
            }
            vertical.fill(0.0);
            if y >= 1 && y + 2 < height {
                // Rolling: after row y - 1, two of the three jump lines are
                // already known (the same values, so the same bits).
                if dy_row == Some(y - 1) {
                    dy.rotate_left(1);
                    capped_jumps(row(y + 1), row(y + 2), &mut dy[2]);
                } else {
                    for (k, d) in dy.iter_mut().enumerate() {
                        capped_jumps(row(y + k - 1), row(y + k), d);
                    }
                }
                dy_row = Some(y);
                excess(&dy[0], &dy[1], &dy[2], &mut vertical);
            }
            // Local accumulators and chunked rows (no bounds checks); each
            // sum still adds its terms in the same order.
            let lines = horizontal.chunks_exact(8).zip(vertical.chunks_exact(8));
            for (prof, (hs, vs)) in blocks.iter_mut().zip(lines) {
                let (mut sh2, mut sv, mut sv2) = (prof[16], prof[8 + (y % 8)], prof[17]);
                for ((ph, &eh), &ev) in prof[..8].iter_mut().zip(hs).zip(vs) {
                    *ph += eh;
                    sh2 += eh * eh;
                    sv += ev;
                    sv2 += ev * ev;
                }
                prof[16] = sh2;
                prof[8 + (y % 8)] = sv;
                prof[17] = sv2;
            }
        }
    });
    (out, bw, bh)
}

/// Best phase of an 8-phase profile and its z-score: the margin over the
/// mean of the other phases, in units of the noise of a phase sum
/// (`rms` per sample, `per_phase` samples per phase).
fn phase_of(profile: &[f32], sum_sq: f32, per_phase: f32) -> (u8, f32) {
    let (mut best, mut best_v) = (0usize, f32::MIN);
    for (p, &v) in profile.iter().enumerate() {
        if v > best_v {
            (best, best_v) = (p, v);
        }
    }
    let others = (profile.iter().sum::<f32>() - best_v) / 7.0;
    let rms = (sum_sq / (8.0 * per_phase)).sqrt();
    let z = if rms > 1e-6 {
        (best_v - others) / (rms * per_phase.sqrt())
    } else {
        0.0
    };
    (best as u8, z)
}

/// Find the global grid and the windows that disagree with it.
#[must_use]
pub fn analyze(luma: &[f32], width: usize, height: usize) -> GridAnalysis {
    if luma.len() < width * height {
        return GridAnalysis::default();
    }
    let (blocks, bw, bh) = block_profiles(luma, width, height);
    let mut global = [0.0f32; 18];
    for b in blocks.iter() {
        for (g, v) in global.iter_mut().zip(b) {
            *g += v;
        }
    }
    let per_phase = (blocks.len() * 8) as f32;
    let (px, sx) = phase_of(&global[..8], global[16], per_phase);
    let (py, sy) = phase_of(&global[8..16], global[17], per_phase);
    let mut out = GridAnalysis {
        phase: (px, py),
        strength: sx.min(sy).max(0.0),
        bw,
        bh,
        misaligned: vec![0.0; bw * bh],
        ..GridAnalysis::default()
    };
    if bw < WINDOW || bh < WINDOW {
        return out;
    }
    let mut votes = vec![0.0f32; bw * bh];
    let mut counts = vec![0u16; bw * bh];
    let (mut visible, mut off) = (0usize, 0usize);
    for wy in (0..=bh - WINDOW).step_by(STRIDE) {
        for wx in (0..=bw - WINDOW).step_by(STRIDE) {
            let mut prof = [0.0f32; 18];
            for by in wy..wy + WINDOW {
                for b in &blocks[by * bw + wx..by * bw + wx + WINDOW] {
                    for (p, v) in prof.iter_mut().zip(b) {
                        *p += v;
                    }
                }
            }
            let local_per_phase = (WINDOW * WINDOW * 8) as f32;
            let (lx, cx) = phase_of(&prof[..8], prof[16], local_per_phase);
            let (ly, cy) = phase_of(&prof[8..16], prof[17], local_per_phase);
            let mut value = 0.0f32;
            if cx >= MIN_LOCAL_Z && cy >= MIN_LOCAL_Z {
                visible += 1;
                if (lx, ly) != (px, py) {
                    off += 1;
                    // Both axes must show a clear grid; the weaker one sets the value.
                    value = ((cx.min(cy) - MIN_LOCAL_Z) / MIN_LOCAL_Z + 0.5).min(1.0);
                }
            }
            for by in wy..wy + WINDOW {
                for bx in wx..wx + WINDOW {
                    votes[by * bw + bx] += value;
                    counts[by * bw + bx] += 1;
                }
            }
        }
    }
    for ((m, &v), &c) in out.misaligned.iter_mut().zip(&votes).zip(&counts) {
        if c > 0 {
            *m = v / f32::from(c);
        }
    }
    out.visible_windows = visible;
    out.misaligned_share = if visible > 0 {
        off as f32 / visible as f32
    } else {
        0.0
    };
    out
}
