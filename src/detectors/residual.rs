//! The shared noise residual and the block helpers of the pixel detectors.
//!
//! The residual of the luma is computed once per image (by the analyser,
//! into [`crate::detectors::PixelContext::residual`]) and read by the
//! noise, spectrum, texture, local-consistency and copy-move detectors; the
//! CFA detector applies the same filter to the green channel
//! ([`laplacian_row`]).
//!
//! # Which filter
//! `r = x - (N + S + E + W) / 4`, the 4-neighbour Laplacian high-pass. We
//! considered three candidates:
//! - image minus its 3x3 median: a median leaves structured residue on
//!   edges and is ~10x slower than a fixed kernel;
//! - Immerkær's separable `[1 -2 1] ⊗ [1 -2 1]` (Immerkær 1996): best edge
//!   rejection for noise estimation, but its transfer function is zero on
//!   both frequency axes, so it erases the (π, 0) / (0, π) peaks that
//!   2x up-sampling and Bayer demosaicing leave, which the spectrum and CFA
//!   detectors need;
//! - the 4-neighbour Laplacian: zero at DC and on linear ramps, gain 1 at
//!   (π, 0), 2 at (π, π), and exactly zero on a green sample that bilinear
//!   demosaicing interpolated from its four neighbours, which is the very
//!   trace the CFA test looks for (Gallagher & Chen 2008). One filter serves
//!   all three detectors, so it is the one we keep.
//!
//! On white noise of standard deviation σ the residual has standard
//! deviation `σ · sqrt(1 + 4/16) = σ · 1.118` ([`LAPLACIAN_NOISE_GAIN`]).

use rayon::prelude::*;

use crate::report::{Heatmap, Region};

/// Standard deviation of the Laplacian residual of unit white noise:
/// `sqrt(1² + 4 · (1/4)²)`.
pub const LAPLACIAN_NOISE_GAIN: f32 = 1.118_034;

/// The 4-neighbour Laplacian residual `x - (N + S + E + W) / 4` of a
/// row-major plane, with mirrored borders. Returns `width * height` values
/// (empty when the plane does not hold `width * height` samples).
///
/// Rows are computed independently (rayon over rows), so the result is
/// bit-identical for any number of threads.
#[must_use]
pub fn laplacian_residual(plane: &[f32], width: usize, height: usize) -> Vec<f32> {
    let Some(len) = width.checked_mul(height) else {
        return Vec::new();
    };
    if len == 0 || plane.len() != len {
        return Vec::new();
    }
    let mut out = vec![0.0f32; len];
    laplacian_residual_into(plane, width, height, &mut out);
    out
}

/// [`laplacian_residual`] into `out`, which holds `width * height` values
/// like `plane` (nothing is written otherwise).
pub fn laplacian_residual_into(plane: &[f32], width: usize, height: usize, out: &mut [f32]) {
    if width == 0 || width.checked_mul(height) != Some(plane.len()) || out.len() != plane.len() {
        return;
    }
    out.par_chunks_mut(width)
        .enumerate()
        .for_each(|(y, row_out)| {
            let up = &plane[mirror(y as isize - 1, height) * width..][..width];
            let row = &plane[y * width..][..width];
            let down = &plane[mirror(y as isize + 1, height) * width..][..width];
            laplacian_row(up, row, down, row_out);
        });
}

/// One row of [`laplacian_residual`]: `row` with the rows above and below
/// it (already mirrored at the image border) into `out`, all of one width.
pub fn laplacian_row(up: &[f32], row: &[f32], down: &[f32], out: &mut [f32]) {
    let width = row.len();
    if width == 0 || up.len() != width || down.len() != width || out.len() != width {
        return;
    }
    let at = |x: usize, left: f32, right: f32| row[x] - 0.25 * (up[x] + down[x] + left + right);
    // Interior as zipped slices (no index mirroring, no bounds checks), so
    // the loop vectorises; the two border columns mirror. Same expression,
    // same bits.
    if width >= 3 {
        let inner = 1..width - 1;
        let neighbours = up[inner.clone()]
            .iter()
            .zip(&down[inner.clone()])
            .zip(&row[..width - 2])
            .zip(&row[2..]);
        for ((o, &c), (((&u, &d), &l), &r)) in out[inner.clone()]
            .iter_mut()
            .zip(&row[inner])
            .zip(neighbours)
        {
            *o = c - 0.25 * (u + d + l + r);
        }
    }
    for x in [0, width - 1] {
        let left = row[mirror(x as isize - 1, width)];
        let right = row[mirror(x as isize + 1, width)];
        out[x] = at(x, left, right);
    }
}

/// Mirror an index into `0..n` (`-1 → 1`, `n → n - 2`), for borders.
pub fn mirror(i: isize, n: usize) -> usize {
    let n = n as isize;
    if n <= 1 {
        return 0;
    }
    let i = if i < 0 { -i } else { i };
    let i = if i >= n { 2 * (n - 1) - i } else { i };
    i.clamp(0, n - 1) as usize
}

/// Median of a slice, reordering it. `0.0` when empty. Uses a total order
/// so that NaN cannot panic and the result does not depend on the input order.
pub fn median_in_place(values: &mut [f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mid = values.len() / 2;
    let (_, m, _) = values.select_nth_unstable_by(mid, f32::total_cmp);
    *m
}

/// Median and robust spread (1.4826 times the median absolute deviation:
/// the standard deviation for Gaussian data; Hampel 1974) of a slice,
/// which is left holding the absolute deviations. `(0, 0)` when empty.
pub fn median_and_spread(values: &mut [f32]) -> (f32, f32) {
    let median = median_in_place(values);
    values.iter_mut().for_each(|v| *v = (*v - median).abs());
    (median, 1.4826 * median_in_place(values))
}

/// Quantile `q` in [0, 1] of a slice (nearest rank), reordering it.
pub fn quantile_in_place(values: &mut [f32], q: f32) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let k = ((values.len() - 1) as f32 * q.clamp(0.0, 1.0)).round() as usize;
    let (_, m, _) = values.select_nth_unstable_by(k, f32::total_cmp);
    *m
}

/// A grid of square blocks `size` wide, every `stride` pixels, that fit
/// inside a `width` x `height` image. Block `(bx, by)` starts at
/// `(bx * stride, by * stride)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockGrid {
    /// Side of a block in pixels.
    pub size: usize,
    /// Step between blocks in pixels.
    pub stride: usize,
    /// Blocks across.
    pub nx: usize,
    /// Blocks down.
    pub ny: usize,
}

impl BlockGrid {
    /// The grid for an image; zero blocks when the image is smaller than a block.
    #[must_use]
    pub fn new(width: usize, height: usize, size: usize, stride: usize) -> Self {
        let size = size.max(1);
        let stride = stride.max(1);
        let count = |n: usize| if n < size { 0 } else { (n - size) / stride + 1 };
        BlockGrid {
            size,
            stride,
            nx: count(width),
            ny: count(height),
        }
    }

    /// Number of blocks.
    #[must_use]
    pub fn len(&self) -> usize {
        self.nx * self.ny
    }

    /// Whether there are no blocks.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Spread per-block values onto a heatmap whose cells are `grid.stride`
/// pixels: each cell takes the mean of the valid blocks that cover it
/// (`None` blocks carry no information and are left out). Cells no valid
/// block covers are 0.
#[must_use]
pub fn blocks_to_heatmap(
    values: &[Option<f32>],
    grid: BlockGrid,
    width: u32,
    height: u32,
) -> Heatmap {
    let mut map = Heatmap::zeros(width, height, grid.stride as u32);
    let (gw, gh) = (map.grid_width as usize, map.grid_height as usize);
    let mut sum = vec![0.0f32; gw * gh];
    let mut count = vec![0u32; gw * gh];
    let span = grid.size.div_ceil(grid.stride);
    for by in 0..grid.ny {
        for bx in 0..grid.nx {
            let Some(v) = values.get(by * grid.nx + bx).copied().flatten() else {
                continue;
            };
            for cy in by..(by + span).min(gh) {
                for cx in bx..(bx + span).min(gw) {
                    sum[cy * gw + cx] += v;
                    count[cy * gw + cx] += 1;
                }
            }
        }
    }
    for ((m, s), c) in map.values.iter_mut().zip(&sum).zip(&count) {
        *m = if *c > 0 { *s / *c as f32 } else { 0.0 };
    }
    map
}

/// The 4-connected groups of cells ≥ `threshold`, each as its cell indices
/// (in the order the fill reached them), groups in scan order of their
/// first cell.
pub(crate) fn cell_groups(map: &Heatmap, threshold: f32) -> Vec<Vec<usize>> {
    let (gw, gh) = (map.grid_width as usize, map.grid_height as usize);
    let n = (gw * gh).min(map.values.len());
    grid_groups(&map.values[..n], gw, gh, threshold)
}

/// [`cell_groups`] on the values of a row-major `gw x gh` grid.
pub(crate) fn grid_groups(values: &[f32], gw: usize, gh: usize, threshold: f32) -> Vec<Vec<usize>> {
    let n = values.len();
    let mut seen = vec![false; n];
    let mut groups = Vec::new();
    for start in 0..n {
        if seen[start] || values[start] < threshold {
            continue;
        }
        seen[start] = true;
        let mut stack = vec![start];
        let mut members = Vec::new();
        while let Some(i) = stack.pop() {
            members.push(i);
            for j in crate::report::grid_neighbours(i, gw, gh) {
                if j < n && !seen[j] && values[j] >= threshold {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        groups.push(members);
    }
    groups
}

/// The bounding box, in image pixels, of a group of cells of `map`.
pub(crate) fn cells_box(map: &Heatmap, cells: &[usize]) -> Region {
    let gw = (map.grid_width as usize).max(1);
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for &c in cells {
        let (x, y) = (c % gw, c / gw);
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    if cells.is_empty() {
        (x0, y0) = (0, 0);
    }
    let cell = map.cell;
    let (x, y) = (x0 as u32 * cell, y0 as u32 * cell);
    Region {
        x,
        y,
        width: ((x1 as u32 + 1) * cell).min(map.width).saturating_sub(x),
        height: ((y1 as u32 + 1) * cell).min(map.height).saturating_sub(y),
    }
}

/// The level down to which a flagged region extends over its rim
/// ([`grow_flagged`]): on the block maps' ramps, 0.3 is about 5 robust
/// spreads off the image's own law for `local_consistency` and 4 for
/// `noise_residual`, still well outside a genuine photo's bulk.
pub const RIM_LEVEL: f32 = 0.3;

/// Cells a flagged region's rim reaches: hysteresis thresholding (Canny
/// 1986, "A computational approach to edge detection", IEEE PAMI 8(6)).
/// Every 4-connected group of at least `min_cells` flagged cells (≥ 0.5)
/// grows over the connected cells ≥ `low`, which are raised to 0.5. A
/// block map blurs an edit's border: blocks that straddle it hold part
/// normal pixels and score under the flag, though the same anomaly makes
/// them (measured on the dev splices: flagged areas covered 71% of their
/// masks, the rest mostly this rim). No region appears that was not
/// flagged already, and scattered sub-threshold cells stay unflagged.
pub fn grow_flagged(map: &mut Heatmap, low: f32, min_cells: usize) {
    let mut stack: Vec<usize> = cell_groups(map, 0.5)
        .into_iter()
        .filter(|g| g.len() >= min_cells)
        .flatten()
        .collect();
    let mut reached = vec![false; map.values.len()];
    for &i in &stack {
        reached[i] = true;
    }
    while let Some(i) = stack.pop() {
        for j in map.neighbours(i) {
            if j < reached.len() && !reached[j] && map.values[j] >= low {
                reached[j] = true;
                map.values[j] = map.values[j].max(0.5);
                stack.push(j);
            }
        }
    }
}

/// Bounding boxes (in image pixels) of the 4-connected groups of cells
/// ≥ `threshold` that have at least `min_cells` cells, largest first.
#[must_use]
pub fn flagged_regions(map: &Heatmap, threshold: f32, min_cells: usize) -> Vec<(Region, usize)> {
    let mut out: Vec<(Region, usize)> = cell_groups(map, threshold)
        .into_iter()
        .filter(|g| g.len() >= min_cells)
        .map(|g| (cells_box(map, &g), g.len()))
        .collect();
    out.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| (a.0.y, a.0.x).cmp(&(b.0.y, b.0.x)))
    });
    out
}

/// Linear ramp: 0 at `lo`, 1 at `hi`, clamped (NaN → 0).
#[must_use]
pub fn ramp(v: f32, lo: f32, hi: f32) -> f32 {
    if v.is_nan() || hi <= lo {
        return 0.0;
    }
    ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residual_matches_hand_computed_3x3() {
        // Centre: 5 - (2 + 8 + 4 + 6) / 4 = 0. Corner (0,0) mirrors to
        // neighbours (1,0)=2 twice and (0,1)=4 twice: 1 - (2+2+4+4)/4 = -2.
        let plane = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
        let r = laplacian_residual(&plane, 3, 3);
        assert_eq!(r.len(), 9);
        assert!((r[4] - 0.0).abs() < 1e-6);
        assert!((r[0] - -2.0).abs() < 1e-6);
        // Top middle (1,0)=2: up mirrors to row 1 (5), down 5, left 1, right 3 → 2 - 14/4.
        assert!((r[1] - (2.0 - 3.5)).abs() < 1e-6);
    }

    #[test]
    fn residual_is_zero_on_a_ramp_and_handles_edge_sizes() {
        let (w, h) = (9, 7);
        let plane: Vec<f32> = (0..w * h).map(|i| (i % w) as f32 * 3.0 + 10.0).collect();
        let r = laplacian_residual(&plane, w, h);
        for y in 0..h {
            for x in 1..w - 1 {
                assert!(r[y * w + x].abs() < 1e-4);
            }
        }
        assert_eq!(laplacian_residual(&[7.0], 1, 1), vec![0.0]);
        assert_eq!(laplacian_residual(&[1.0, 2.0, 3.0], 3, 1).len(), 3);
        assert!(laplacian_residual(&[1.0, 2.0], 3, 1).is_empty());
    }

    #[test]
    fn regions_and_grid() {
        let grid = BlockGrid::new(100, 40, 32, 16);
        assert_eq!((grid.nx, grid.ny), (5, 1));
        assert!(BlockGrid::new(10, 10, 32, 16).is_empty());
        let mut map = Heatmap::zeros(64, 64, 16);
        map.values[5] = 0.9; // (1,1)
        map.values[6] = 0.8; // (2,1)
        map.values[15] = 0.7; // (3,3), alone
        let regions = flagged_regions(&map, 0.5, 2);
        assert_eq!(regions.len(), 1);
        assert_eq!(
            regions[0].0,
            Region {
                x: 16,
                y: 16,
                width: 32,
                height: 16
            }
        );
    }

    #[test]
    fn flagged_regions_grow_over_their_rim_only() {
        // Row 0: a flagged pair (0.9, 0.8), its rim 0.35 then 0.2; row 2: a
        // lone flagged cell (under min_cells) next to 0.4, and a 0.45 cell
        // that touches nothing flagged.
        let mut map = Heatmap::zeros(64, 48, 16);
        map.values[..4].copy_from_slice(&[0.9, 0.8, 0.35, 0.2]);
        map.values[8..12].copy_from_slice(&[0.7, 0.4, 0.0, 0.45]);
        grow_flagged(&mut map, 0.3, 2);
        assert_eq!(&map.values[..4], &[0.9, 0.8, 0.5, 0.2]);
        assert_eq!(&map.values[8..12], &[0.7, 0.4, 0.0, 0.45]);
        assert_eq!(flagged_regions(&map, 0.5, 2)[0].1, 3);
    }
}
