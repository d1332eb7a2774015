//! Tiles whose residual co-occurrences stand apart from the rest of the
//! photo, a feature of [`local_consistency`](super::local_consistency).
//!
//! Method: Cozzolino, Poggi & Verdoliva 2015 ("Splicebuster: a new blind
//! image splicing detector", IEEE WIFS). Each tile is described by the
//! histogram of co-occurring triples of its third-order residual, quantised
//! and truncated, along rows and along columns (Fridrich & Kodovský 2012's
//! rich-model features). One camera leaves one such statistic over the
//! frame; a pasted, painted or generated region another. Splicebuster
//! models the tiles with a two-class mixture; we keep a simpler, robust
//! version: the tiles' histograms (square roots, so that distances are
//! Hellinger distances), centred on their median, projected on their
//! [`COMPONENTS`] principal axes, and each tile's distance from the rest in
//! robust z-scores. Tiles partly clipped (blown highlights, a white
//! backdrop) carry no statistic and are left out; they would all stand out
//! together. The feature is the largest
//! connected cluster of outlying tiles, over the square root of the number
//! of tiles measured: content varies too (sky against foliage), so the
//! number only means something to the calibrated fusion, which gives it to
//! the `edited` head alone. Images over [`MAX_SIDE`] are box-averaged by a
//! whole factor first (to between 512 and 1024 px), which also bounds the
//! cost (about 5 ms at 1024 x 768 on one core).
//!
//! Measured on the development corpus (2026-12-01): alone, AUC 0.65 for the
//! added-damage edits against their re-saved originals (0.30 for AI images
//! against camera originals: higher on the photos); with it, the
//! out-of-fold `edits` figures rose from 0.730 / 0.612 / 0.604 to 0.793 /
//! 0.700 / 0.652 (files as found / JPEG / crop, resize and JPEG), and the
//! AI sets fell by up to 0.03 (README, Measured).
//! Integer counts and sums in a fixed order: the result does not depend on
//! the number of threads.

use rayon::prelude::*;

use super::residual::{grid_groups, median_and_spread, median_in_place};

/// Tile side and step (tiles overlap by half).
const TILE: usize = 64;
const STEP: usize = TILE / 2;
/// Residuals are divided by this step, rounded and clamped to ±`T`.
const QUANT: f32 = 2.0;
const T: i32 = 2;
/// Values of a quantised residual, and of a triple of them.
const LEVELS: usize = (2 * T + 1) as usize;
const TRIPLES: usize = LEVELS * LEVELS * LEVELS;
/// Triples the same up to reversal and sign ((a, b, c), (c, b, a),
/// (-a, -b, -c), (-c, -b, -a)) share a bin, as in the rich models'
/// symmetrisation (Fridrich & Kodovský 2012): 39 bins instead of 125, the
/// same information for an isotropic, sign-symmetric noise, and a steadier
/// histogram per tile.
const ORBITS: usize = 39;
/// Histogram length per tile: row orbits, then column orbits.
const DIM: usize = 2 * ORBITS;
/// Principal axes the tiles are compared along.
const COMPONENTS: usize = 12;
/// Power-iteration steps for the principal axes.
const ITERATIONS: usize = 30;
/// A tile this many robust z-scores from the others is an outlier.
const OUTLIER_Z: f32 = 3.0;
/// Each outlier's contribution to its cluster is capped here.
const MAX_Z: f32 = 10.0;
/// Tiles read at most to find the principal axes (every tile is scored).
const AXIS_SAMPLE: usize = 512;
/// Larger images are box-averaged by a whole factor to at most this side:
/// natural content varies more over a camera original's many tiles than
/// over a web-sized photo's, and the number must mean the same at any size
/// (at full size, genuine camera originals scored higher than AI images).
const MAX_SIDE: usize = 1024;
/// A side shorter than this many tile sides (plus the 5 px a residual
/// triple reaches): no statistic.
const MIN_TILES: usize = 3;
/// A tile with at least this share of clipped pixels (at a level outside
/// [`CLIP_LOW`]..=[`CLIP_HIGH`] and equal to the two pixels to their right
/// and the one below: blown highlights, crushed shadows, a white backdrop)
/// is left out: a tile partly on a clipped area differs from every other
/// tile by that alone, and a row of them along its edge made an outlier
/// cluster (a review: a clipped disc over a corner of a synthetic photo
/// raised the feature from 0.15 to 20-88). Clean but unclipped tiles stay:
/// a smoothed or painted region is what the feature is for (leaving out
/// every tile with 10% of pixels equal to their neighbours cost the edits'
/// out-of-fold AUC 0.01-0.03).
const CLIPPED_SHARE: f32 = 0.1;
/// Luma levels outside this range are clipped.
const CLIP_LOW: f32 = 5.0;
const CLIP_HIGH: f32 = 250.0;
/// Fewer measured (not clipped) tiles than this: no statistic.
const MIN_MEASURED: usize = 16;
/// Floors of the robust spreads, for frames where most measured tiles are
/// alike: a projection's (Hellinger units) and a distance's (z units).
const MIN_PROJECTION_MAD: f32 = 1e-3;
const MIN_DISTANCE_MAD: f32 = 0.05;

// `ORBITS` is the number of bins for `T = 2`, and a cell's counts fit u16.
const _: () = assert!(T == 2 && LEVELS == 5);
const _: () = assert!(STEP * STEP <= u16::MAX as usize);

/// The largest 4-connected cluster of tiles [`OUTLIER_Z`] or more from
/// the rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct OutlierCluster {
    /// The sum of the tiles' capped z-scores over the square root of the
    /// number of tiles measured (not clipped); 0 when the image is too small,
    /// too few tiles are measured, or no tile stands out.
    pub strength: f32,
    /// The cluster's tiles as `[x, y, side]` squares in pixels of the image
    /// given (tiles overlap by half).
    pub tiles: Vec<[usize; 3]>,
}

/// The largest cluster of outlying tiles of a `w x h` luma plane.
pub(super) fn outlier_cluster(luma: &[f32], w: usize, h: usize) -> OutlierCluster {
    if luma.len() != w * h {
        return OutlierCluster::default();
    }
    let factor = w.max(h).div_ceil(MAX_SIDE);
    let mut cluster = if factor > 1 {
        let (small, sw, sh) = box_downscale(luma, w, h, factor);
        cluster_at_scale(&small, sw, sh)
    } else {
        cluster_at_scale(luma, w, h)
    };
    for tile in &mut cluster.tiles {
        tile.iter_mut().for_each(|v| *v *= factor.max(1));
    }
    cluster
}

/// `luma` averaged over `factor x factor` boxes (the remainder dropped).
fn box_downscale(luma: &[f32], w: usize, h: usize, factor: usize) -> (Vec<f32>, usize, usize) {
    let (sw, sh) = (w / factor, h / factor);
    let norm = 1.0 / (factor * factor) as f32;
    let mut out = vec![0.0f32; sw * sh];
    for (y, line) in out.chunks_mut(sw.max(1)).enumerate().take(sh) {
        for dy in 0..factor {
            let src = &luma[(y * factor + dy) * w..][..sw * factor];
            for (o, px) in line.iter_mut().zip(src.chunks(factor)) {
                *o += px.iter().sum::<f32>();
            }
        }
        line.iter_mut().for_each(|v| *v *= norm);
    }
    (out, sw, sh)
}

fn cluster_at_scale(luma: &[f32], w: usize, h: usize) -> OutlierCluster {
    if luma.len() != w * h || w < TILE * MIN_TILES + 5 || h < TILE * MIN_TILES + 5 {
        return OutlierCluster::default();
    }
    // The row codes cover x in 0..w-5, the column codes y in 0..h-5.
    let (cw, ch) = (w - 5, h - 5);
    let (nx, ny) = ((cw - TILE) / STEP + 1, (ch - TILE) / STEP + 1);
    // Histograms of STEP x STEP cells; a tile is 2x2 cells.
    let (gx, gy) = (nx + 1, ny + 1);
    let orbit = orbits();
    let cells: Vec<[u16; DIM + 1]> = (0..gy)
        .into_par_iter()
        .flat_map_iter(|cy| cell_row(luma, w, cy, gx, &orbit))
        .collect();
    let tiles: Vec<Option<[f32; DIM]>> = (0..nx * ny)
        .map(|i| {
            let (tx, ty) = (i % nx, i / nx);
            let mut counts = [0u32; DIM];
            let mut clipped = 0u32;
            for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let cell = &cells[(ty + dy) * gx + tx + dx];
                clipped += u32::from(cell[DIM]);
                for (sum, &c) in counts.iter_mut().zip(cell) {
                    *sum += u32::from(c);
                }
            }
            let total = (TILE * TILE) as f32;
            let mostly_clipped = clipped as f32 >= CLIPPED_SHARE * total;
            // Each direction sums to one; square roots make Euclidean
            // distances Hellinger distances between histograms.
            (!mostly_clipped).then(|| counts.map(|c| (c as f32 / total).sqrt()))
        })
        .collect();
    let measured: Vec<&[f32; DIM]> = tiles.iter().flatten().collect();
    let n = measured.len();
    if n < MIN_MEASURED {
        return OutlierCluster::default();
    }
    let mut centre = [0.0f32; DIM];
    let mut column = vec![0.0f32; n];
    for (d, c) in centre.iter_mut().enumerate() {
        column
            .iter_mut()
            .zip(&measured)
            .for_each(|(v, t)| *v = t[d]);
        *c = median_in_place(&mut column);
    }
    let centred: Vec<[f32; DIM]> = measured
        .iter()
        .map(|t| std::array::from_fn(|d| t[d] - centre[d]))
        .collect();
    let axes = principal_axes(&centred);
    // Each tile's robust z along each axis, then its RMS over the axes.
    let projections: Vec<[f32; COMPONENTS]> = centred
        .iter()
        .map(|t| std::array::from_fn(|k| dot(t, &axes[k])))
        .collect();
    let mut distance = vec![0.0f32; n];
    for k in 0..COMPONENTS {
        column
            .iter_mut()
            .zip(&projections)
            .for_each(|(v, p)| *v = p[k]);
        let (median, mad) = median_and_spread(&mut column);
        let mad = mad.max(MIN_PROJECTION_MAD);
        for (d, p) in distance.iter_mut().zip(&projections) {
            let z = (p[k] - median) / mad;
            *d += z * z / COMPONENTS as f32;
        }
    }
    distance.iter_mut().for_each(|d| *d = d.sqrt());
    column.copy_from_slice(&distance);
    let (median, mad) = median_and_spread(&mut column);
    let mad = mad.max(MIN_DISTANCE_MAD);
    // Back on the grid; clipped tiles are never outliers and break clusters.
    let mut distances = distance.iter();
    let z: Vec<f32> = tiles
        .iter()
        .map(|t| match t.as_ref().and_then(|_| distances.next()) {
            Some(d) => (d - median) / mad,
            None => 0.0,
        })
        .collect();
    let (sum, members) = largest_cluster(&z, nx, ny);
    OutlierCluster {
        strength: sum / (n as f32).sqrt(),
        tiles: members
            .into_iter()
            .map(|i| [(i % nx) * STEP, (i / nx) * STEP, TILE])
            .collect(),
    }
}

/// Per cell of row `cy` (`gx` cells of `STEP` px), the counts of row and
/// column residual triples whose first sample lies in the cell, by bin
/// (`orbit`), then its clipped pixels.
fn cell_row(
    luma: &[f32],
    w: usize,
    cy: usize,
    gx: usize,
    orbit: &[usize; TRIPLES],
) -> Vec<[u16; DIM + 1]> {
    let h = luma.len() / w.max(1);
    let (cw, ch) = (w - 5, h - 5);
    let width = (gx * STEP).min(cw);
    let line = |y: usize| &luma[y * w..][..w];
    // Quantised third-order residuals: along row y (`w - 3` of them), and
    // down the columns from row y (three rows below it are read).
    let along = |y: usize, out: &mut Vec<i32>| {
        out.clear();
        out.extend(
            line(y)
                .windows(4)
                .map(|p| quantise(p[3] - 3.0 * p[2] + 3.0 * p[1] - p[0])),
        );
    };
    let down = |y: usize, out: &mut Vec<i32>| {
        let [a, b, c, d] = [0, 1, 2, 3].map(|k| line(y + k));
        out.clear();
        out.extend((0..w).map(|x| quantise(d[x] - 3.0 * c[x] + 3.0 * b[x] - a[x])));
    };
    let (y0, y1) = (cy * STEP, ((cy + 1) * STEP).min(ch));
    // The last count is the cell's clipped pixels (see [`CLIPPED_SHARE`]).
    let mut out = vec![[0u16; DIM + 1]; gx];
    if y0 >= y1 {
        return out;
    }
    // Rows y, y + 1 and y + 2 of the column residuals, rotated as y moves.
    let mut columns: [Vec<i32>; 3] = Default::default();
    down(y0, &mut columns[1]);
    down(y0 + 1, &mut columns[2]);
    let mut row = Vec::with_capacity(w);
    for y in y0..y1 {
        columns.rotate_left(1);
        down(y + 2, &mut columns[2]);
        along(y, &mut row);
        let [c0, c1, c2] = &columns;
        let (here, below) = (line(y), line(y + 1));
        for x in 0..width {
            let cell = &mut out[x / STEP];
            cell[orbit[triple(row[x], row[x + 1], row[x + 2])]] += 1;
            cell[ORBITS + orbit[triple(c0[x], c1[x], c2[x])]] += 1;
            let v = here[x];
            let clipped = !(CLIP_LOW..=CLIP_HIGH).contains(&v);
            if clipped && here[x + 1] == v && here[x + 2] == v && below[x] == v {
                cell[DIM] += 1;
            }
        }
    }
    out
}

/// `round(r / QUANT)` (halves away from zero) clamped to ±T and shifted to
/// `0..LEVELS`, as comparisons, which vectorise where `round` is a call.
fn quantise(r: f32) -> i32 {
    let up = i32::from(r >= 0.5 * QUANT) + i32::from(r >= 1.5 * QUANT);
    let down = i32::from(r <= -0.5 * QUANT) + i32::from(r <= -1.5 * QUANT);
    T + up - down
}

/// The index of a triple of quantised residuals, each shifted to `0..LEVELS`.
fn triple(a: i32, b: i32, c: i32) -> usize {
    let levels = LEVELS as i32;
    ((a * levels + b) * levels + c) as usize
}

/// The bin ([`ORBITS`]) of each triple ([`triple`]): bins numbered in the
/// order their first triple comes.
fn orbits() -> [usize; TRIPLES] {
    let levels = LEVELS as i32;
    let index = |[a, b, c]: [i32; 3]| triple(a + T, b + T, c + T);
    let mut bin_of_first = [usize::MAX; TRIPLES];
    let mut out = [0; TRIPLES];
    let mut bins = 0;
    for (i, slot) in out.iter_mut().enumerate() {
        let v = i as i32;
        let [a, b, c] = [
            v / levels / levels - T,
            v / levels % levels - T,
            v % levels - T,
        ];
        let first = [[a, b, c], [c, b, a], [-a, -b, -c], [-c, -b, -a]]
            .map(index)
            .into_iter()
            .min()
            .unwrap_or(i);
        if bin_of_first[first] == usize::MAX {
            bin_of_first[first] = bins;
            bins += 1;
        }
        *slot = bin_of_first[first];
    }
    out
}

fn dot(a: &[f32; DIM], b: &[f32; DIM]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The [`COMPONENTS`] leading eigenvectors of the rows' scatter matrix, by
/// orthogonal (subspace) iteration from a fixed start (Golub & Van Loan,
/// Matrix Computations, 4th ed., 8.2.4), on at most [`AXIS_SAMPLE`] rows
/// taken evenly.
fn principal_axes(rows: &[[f32; DIM]]) -> Vec<[f32; DIM]> {
    let stride = rows.len().div_ceil(AXIS_SAMPLE).max(1);
    // The upper triangle, row by row (the inner loops vectorise), then
    // mirrored.
    let mut scatter = vec![0.0f32; DIM * DIM];
    for row in rows.iter().step_by(stride) {
        for (i, &a) in row.iter().enumerate() {
            for (s, &b) in scatter[i * DIM + i..(i + 1) * DIM]
                .iter_mut()
                .zip(&row[i..])
            {
                *s += a * b;
            }
        }
    }
    for i in 0..DIM {
        for j in 0..i {
            scatter[i * DIM + j] = scatter[j * DIM + i];
        }
    }
    // The axes as the columns of a DIM x COMPONENTS matrix, row-major.
    let mut axes: Vec<[f32; COMPONENTS]> = (0..DIM)
        .map(|d| std::array::from_fn(|k| if d % COMPONENTS == k { 1.0 } else { 0.1 }))
        .collect();
    let mut next = vec![[0.0f32; COMPONENTS]; DIM];
    for _ in 0..ITERATIONS {
        for (out, line) in next.iter_mut().zip(scatter.chunks_exact(DIM)) {
            *out = [0.0; COMPONENTS];
            for (&s, axis) in line.iter().zip(&axes) {
                for (o, a) in out.iter_mut().zip(axis) {
                    *o += s * a;
                }
            }
        }
        std::mem::swap(&mut axes, &mut next);
        // Gram-Schmidt, in order, so the axes stay orthonormal.
        for k in 0..COMPONENTS {
            for prev in 0..k {
                let p: f64 = axes.iter().map(|a| f64::from(a[prev] * a[k])).sum();
                axes.iter_mut().for_each(|a| a[k] -= p as f32 * a[prev]);
            }
            let norm = axes
                .iter()
                .map(|a| f64::from(a[k] * a[k]))
                .sum::<f64>()
                .sqrt();
            if norm > 1e-12 {
                axes.iter_mut()
                    .for_each(|a| a[k] = (f64::from(a[k]) / norm) as f32);
            }
        }
    }
    (0..COMPONENTS)
        .map(|k| std::array::from_fn(|d| axes[d][k]))
        .collect()
}

/// The 4-connected cluster of tiles at or above [`OUTLIER_Z`] in the
/// `nx x ny` grid `z` with the largest sum of capped z-scores, and that
/// sum (the first such cluster on a tie; none and 0 when no tile is out).
fn largest_cluster(z: &[f32], nx: usize, ny: usize) -> (f32, Vec<usize>) {
    let mut best = (0.0, Vec::new());
    for group in grid_groups(z, nx, ny, OUTLIER_Z) {
        let sum: f32 = group.iter().map(|&i| z[i].min(MAX_Z)).sum();
        if sum > best.0 {
            best = (sum, group);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic noise field of standard deviation about `sigma`.
    fn noise(w: usize, h: usize, sigma: f32, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..w * h)
            .map(|_| {
                let mut sum = 0.0;
                for _ in 0..4 {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    sum += (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                }
                128.0 + sum * sigma * 1.732
            })
            .collect()
    }

    #[test]
    fn a_patch_of_other_noise_makes_a_cluster_and_even_noise_does_not() {
        let (w, h) = (512, 384);
        let even = noise(w, h, 4.0, 1);
        let mut patched = even.clone();
        // Smoothed (painted over): the residual's triples collapse to zero.
        for y in 128..256 {
            for x in 192..320 {
                patched[y * w + x] = 128.0 + (even[y * w + x] - 128.0) * 0.15;
            }
        }
        let clean = outlier_cluster(&even, w, h).strength;
        let cluster = outlier_cluster(&patched, w, h);
        let edited = cluster.strength;
        assert!(edited > 1.0, "patched: {edited}");
        assert!(clean < 0.3 * edited, "even: {clean}, patched: {edited}");
        // The cluster lies on the patch: every tile overlaps it.
        assert!(!cluster.tiles.is_empty());
        for &[x, y, side] in &cluster.tiles {
            let overlaps = x < 320 && x + side > 192 && y < 256 && y + side > 128;
            assert!(overlaps, "tile at ({x}, {y})");
        }
    }

    /// Over [`MAX_SIDE`] the plane is box-averaged; the tiles come back in
    /// the image's own pixels.
    #[test]
    fn a_large_image_gives_its_tiles_in_its_own_pixels() {
        let (w, h) = (2048, 1536);
        let mut patched = noise(w, h, 6.0, 3);
        let inside = |x: usize, y: usize| (768..1280).contains(&x) && (512..1024).contains(&y);
        for (i, v) in patched.iter_mut().enumerate() {
            if inside(i % w, i / w) {
                *v = 128.0 + (*v - 128.0) * 0.15;
            }
        }
        let cluster = outlier_cluster(&patched, w, h);
        assert!(cluster.strength > 1.0, "{}", cluster.strength);
        assert!(!cluster.tiles.is_empty());
        // A tile's residual triples reach 5 samples past its edge (10 px
        // here): a tile touching the patch sees it.
        for &[x, y, side] in &cluster.tiles {
            assert_eq!(side, 2 * TILE);
            let overlaps = x < 1290 && x + side > 758 && y < 1034 && y + side > 502;
            assert!(overlaps, "tile at ({x}, {y})");
        }
    }

    /// Smooth shapes under signal-dependent noise, like a camera photo.
    fn scene(w: usize, h: usize, seed: u64) -> Vec<f32> {
        let grain = noise(w, h, 1.0, seed);
        (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                let level = 60.0
                    + 120.0 * (x / w as f32 * 0.7 + y / h as f32 * 0.3)
                    + 30.0 * (x / 17.0).sin() * (y / 23.0).cos();
                level + (grain[i] - 128.0) * (0.5 + 0.02 * level).sqrt() * 1.5
            })
            .collect()
    }

    #[test]
    fn blown_out_highlights_are_left_out_not_counted_as_outliers() {
        // A window or a lamp clipped to white over a corner of the frame.
        let (w, h) = (1024, 768);
        let photo = scene(w, h, 5);
        let before = outlier_cluster(&photo, w, h).strength;
        for radius in [250.0f32, 400.0, 550.0] {
            let mut clipped = photo.clone();
            for (i, v) in clipped.iter_mut().enumerate() {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                if x.hypot(y) < radius {
                    *v = 255.0;
                }
            }
            let after = outlier_cluster(&clipped, w, h).strength;
            assert!(after < before + 1.0, "radius {radius}: {before} -> {after}");
        }
    }

    #[test]
    fn quantising_by_comparisons_is_rounding() {
        for i in -4000..=4000 {
            let r = i as f32 * 0.0025;
            let rounded = ((r / QUANT).round() as i32).clamp(-T, T) + T;
            assert_eq!(quantise(r), rounded, "{r}");
        }
    }

    #[test]
    fn triples_fold_into_39_bins_by_reversal_and_sign() {
        let orbit = orbits();
        assert_eq!(orbit.iter().max(), Some(&(ORBITS - 1)));
        let index = |a: i32, b: i32, c: i32| triple(a + T, b + T, c + T);
        assert_eq!(orbit[index(2, -1, 0)], orbit[index(0, -1, 2)]);
        assert_eq!(orbit[index(2, -1, 0)], orbit[index(-2, 1, 0)]);
        assert_ne!(orbit[index(2, -1, 0)], orbit[index(2, 1, 0)]);
    }

    #[test]
    fn small_or_mismatched_inputs_give_zero() {
        let none = OutlierCluster::default();
        assert_eq!(outlier_cluster(&[0.0; 10], 5, 2), none);
        assert_eq!(outlier_cluster(&vec![1.0; 100 * 100], 100, 100), none);
        assert_eq!(outlier_cluster(&[0.0; 10], 50, 50), none);
    }
}
