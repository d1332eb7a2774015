//! Local consistency: blocks whose noise does not match their own texture
//! and colour, against the image's own robust distribution.
//!
//! Per 32x32 block (stride 16) we measure the luma residual level `s`
//! (mean |Laplacian residual|), the texture `g` (mean gradient magnitude)
//! and the chroma residual `c` (mean |Laplacian of R−G| + |Laplacian of B−G|).
//! In one camera photo, residual level follows texture, and chroma noise
//! follows luma noise, by the same law everywhere (one sensor, one
//! demosaicing, one compression). A painted stain or crack is smooth where
//! its surroundings are textured, a splice brings another camera's noise,
//! inpainting is too clean: their blocks fall off the image's own fit.
//! This is the local-inconsistency principle of Mahdian & Saic 2009 ("Using
//! noise inconsistencies for blind image forensics", IVC 27(10)) and of
//! Cozzolino, Poggi & Verdoliva 2015 ("Splicebuster", IEEE WIFS), here
//! with two hand-made block descriptors and robust z-scores (median/MAD)
//! instead of a learned feature model:
//! - `z_noise`: robust z of `ln s − (α + β ln g)`, the residual level
//!   against the least-squares fit on texture;
//! - `z_chroma`: robust z of `ln c − (α' + β' ln s)`;
//! - `z_level`: robust z of `ln s` itself, on its low side only (too clean).
//!
//! Map (cells of 16 px): `ramp(max(|z_noise|, |z_chroma|, −z_level), 4, 8)`, kept only
//! for the largest compact outlier region (≤ 25% of the image); everything
//! else is capped below 0.5, since a genuine photo has scattered outliers.
//!
//! Feature `local_consistency.cooccurrence_cluster` (module `cooccurrence`):
//! the same principle with Splicebuster's richer tile descriptor, the
//! co-occurrences of the residual, for the fusion model's `edited` head.
//! Its cluster of outlying tiles joins the map, boxed, when it is at least
//! `CLUSTER_MAP_MIN` strong and its tiles' box covers at most
//! `MAX_REGION_SHARE` of the image.

use rayon::prelude::*;

use super::cooccurrence::OutlierCluster;
use super::residual::{
    blocks_to_heatmap, cells_box, flagged_regions, grow_flagged, median_and_spread,
    quantile_in_place, ramp, BlockGrid, RIM_LEVEL,
};
use super::{DetectorOutput, PixelContext};
use crate::report::{Class, DetectorKind, Finding, Heatmap, Region};

/// Block side in pixels.
const BLOCK: usize = 32;
/// Block step: each 16 px cell is seen by 4 blocks.
const STRIDE: usize = 16;
/// Largest share of the image one flagged region may cover: beyond it there
/// is no "rest of the image" to be inconsistent with.
const MAX_REGION_SHARE: f32 = 0.25;
/// Co-occurrence cluster strength from which the cluster is drawn on the
/// map: about the 90th percentile of the genuine development photos. There
/// the edits' mean localisation F1 rose 0.359 -> 0.419 and 25 of 252
/// genuine photos got a cluster drawn (README, Measured); weaker clusters
/// are as often on an honest photo's busy or defocused content as on an
/// edit (all clusters drawn: 202 of the 252).
const CLUSTER_MAP_MIN: f32 = 2.5;

/// Code of the findings that mark the largest region off the image's own
/// noise laws.
pub(crate) const REGION_CODE: &str = "local_consistency.region";

/// Run the detector.
#[must_use]
pub fn run(ctx: &PixelContext<'_>) -> DetectorOutput {
    let mut out = DetectorOutput::empty(DetectorKind::LocalConsistency);
    let (w, h) = (ctx.width as usize, ctx.height as usize);
    let grid = BlockGrid::new(w, h, BLOCK, STRIDE);
    if grid.len() < 16
        || ctx.luma.len() != w * h
        || ctx.residual.len() != w * h
        || ctx.rgb.len() != w * h * 3
    {
        return out;
    }
    let (cw, ch) = (w / STRIDE, h / STRIDE);
    let rgb = ctx.rgb;
    // Keeps the R and B differences of the interleaved bytes (see
    // [`cell_row`]); made once, read by every row.
    let mask: Vec<i16> = (0..3 * w)
        .map(|i| if i % 3 == 2 { 0 } else { -1 })
        .collect();
    // Per cell: [Σ|r|, Σ gradient, Σ chroma residual].
    let cells: Vec<[f32; 3]> = (0..ch)
        .into_par_iter()
        .flat_map_iter(|cy| cell_row(ctx.luma, ctx.residual, rgb, &mask, [w, h, cw], cy))
        .collect();
    let n = (BLOCK * BLOCK) as f32;
    let span = BLOCK / STRIDE;
    let blocks: Vec<[f32; 3]> = (0..grid.len())
        .map(|i| {
            let (bx, by) = (i % grid.nx, i / grid.nx);
            let mut acc = [0.0f32; 3];
            for cy in by..by + span {
                for cx in bx..bx + span {
                    if let Some(c) = cells.get(cy * cw + cx) {
                        for (a, v) in acc.iter_mut().zip(c) {
                            *a += v;
                        }
                    }
                }
            }
            // Logs with floors at the 8-bit quantisation level, so that
            // flat blocks do not reach -inf.
            [
                (acc[0] / n + 0.3).ln(),
                (acc[1] / n + 0.5).ln(),
                (acc[2] / n + 0.3).ln(),
            ]
        })
        .collect();
    let ls: Vec<f32> = blocks.iter().map(|b| b[0]).collect();
    let lg: Vec<f32> = blocks.iter().map(|b| b[1]).collect();
    let lc: Vec<f32> = blocks.iter().map(|b| b[2]).collect();
    let z_noise = robust_z(&fit_residuals(&lg, &ls));
    let z_chroma = robust_z(&fit_residuals(&ls, &lc));
    // Too clean against the image's own noise level: the fit on texture
    // cannot see a flat painted patch (no texture, no noise lies on the
    // line), but its residual level falls far below the rest.
    let z_level = robust_z(&ls);
    let score: Vec<f32> = z_noise
        .iter()
        .zip(&z_chroma)
        .zip(&z_level)
        .map(|((a, b), c)| a.abs().max(b.abs()).max(-c))
        .collect();

    let cluster = super::cooccurrence::outlier_cluster(ctx.luma, w, h);
    let values: Vec<Option<f32>> = score.iter().map(|&z| Some(ramp(z, 4.0, 8.0))).collect();
    let mut map = blocks_to_heatmap(&values, grid, ctx.width, ctx.height);
    grow_flagged(&mut map, RIM_LEVEL, 2);
    let regions = flagged_regions(&map, 0.5, 2);
    let total_cells = map.values.len().max(1);
    let keep = regions
        .first()
        .filter(|r| (r.1 as f32) <= MAX_REGION_SHARE * total_cells as f32)
        .copied();
    // Only the largest compact region stays flagged.
    let (gw, cell) = (map.grid_width as usize, map.cell);
    for (i, v) in map.values.iter_mut().enumerate() {
        let inside = keep.is_some_and(|(r, _)| {
            let (x, y) = ((i % gw) as u32 * cell, (i / gw) as u32 * cell);
            r.contains(x, y)
        });
        if !inside {
            *v = v.min(super::UNFLAGGED);
        }
    }

    let mut sorted = score.clone();
    let p99 = quantile_in_place(&mut sorted, 0.99);
    let outliers = score.iter().filter(|&&z| z > 4.0).count() as f32 / score.len() as f32;
    let mut zn: Vec<f32> = z_noise.iter().map(|z| -z).collect();
    let clean_p99 = quantile_in_place(&mut zn, 0.99);
    let mut zc: Vec<f32> = z_chroma.iter().map(|z| z.abs()).collect();
    let chroma_p99 = quantile_in_place(&mut zc, 0.99);
    // Through u32 (a region has far fewer cells): converting a usize to f32
    // branches on its top bit, and the optimiser may run that conversion
    // before it knows whether there is a region, which valgrind reports as
    // a jump on an uninitialised value.
    let region_share = keep.map_or(0.0, |r| r.1 as u32 as f32 / total_cells as f32);
    let region_strength = keep.map_or(0.0, |(r, _)| {
        let (x0, y0) = ((r.x / cell) as usize, (r.y / cell) as usize);
        let (x1, y1) = (
            ((r.x + r.width).div_ceil(cell)) as usize,
            ((r.y + r.height).div_ceil(cell)) as usize,
        );
        let mut best = 0.0f32;
        for y in y0..y1 {
            for x in x0..x1 {
                if let Some(v) = map.values.get(y * gw + x) {
                    best = best.max(*v);
                }
            }
        }
        best
    });
    out.features.extend([
        ("local_consistency.z_p99", p99),
        ("local_consistency.outlier_share", outliers),
        ("local_consistency.clean_z_p99", clean_p99),
        ("local_consistency.chroma_z_p99", chroma_p99),
        ("local_consistency.region_share", region_share),
        ("local_consistency.region_strength", region_strength),
        ("local_consistency.cooccurrence_cluster", cluster.strength),
    ]);
    if let Some(region) = paint_cluster(&mut map, &cluster, ctx.width, ctx.height) {
        let strength = cluster.strength;
        let tiles = cluster.tiles.len();
        let noun = if tiles == 1 { "tile" } else { "tiles" };
        // Score 0: the finding locates; the cluster's evidence counts once,
        // through the model's `cooccurrence_cluster` feature. A score would
        // count it twice, and with a model without an `edited` head (the
        // strongest finding decides) send a tenth of genuine photos to
        // review.
        out.findings.push(
            Finding::new(
                DetectorKind::LocalConsistency,
                "local_consistency.cooccurrence_region",
                0.0,
                Class::Edited,
                format!(
                    "Region of {tiles} {noun} whose residual texture (co-occurrences of neighbouring noise values) stands apart from the rest of the photo (strength {strength:.1})."
                ),
                format!(
                    "该区域的残差纹理（相邻噪声值的共生统计）与照片其余部分明显不同（强度 {strength:.1}，共 {tiles} 个图块）。"
                ),
            )
            .with_region(region),
        );
    }
    if let Some((region, cells)) = keep {
        // Conservative on its own (≤ 0.6, the inconclusive band): the
        // calibrated fusion weighs it with the rest.
        let s = 0.6 * region_strength;
        out.findings.push(
            Finding::new(
                DetectorKind::LocalConsistency,
                REGION_CODE,
                s,
                Class::Edited,
                format!(
                    "Region of {cells} cells whose noise or colour noise does not follow the rest of the photo (block z up to {p99:.1})."
                ),
                format!("该区域（{cells} 个单元）的噪声或色彩噪声与照片其余部分不一致（块 z 值最高 {p99:.1}）。"),
            )
            .with_region(region),
        );
    }
    out.map = Some(map);
    out
}

/// Paints the co-occurrence cluster into `map` when it is strong enough
/// ([`CLUSTER_MAP_MIN`]) and the box of its tiles covers at most
/// [`MAX_REGION_SHARE`] of the image: its cells from 0.5 at that strength
/// to 1 at twice it. Each tile paints its core, the central half of its
/// side: the cores of the half-overlapping tiles cover the frame's interior
/// once, and whole tiles would reach half a tile beyond the outlying
/// content on every side (dev edits' mean localisation F1 0.389 with whole
/// tiles, 0.405 with cores, at strength 3). Returns the box of the painted
/// cells.
fn paint_cluster(
    map: &mut Heatmap,
    cluster: &OutlierCluster,
    width: u32,
    height: u32,
) -> Option<Region> {
    if cluster.strength < CLUSTER_MAP_MIN || cluster.tiles.is_empty() {
        return None;
    }
    let (w, h) = (width as usize, height as usize);
    let [x0, y0, x1, y1] = cluster.tiles.iter().fold(
        [usize::MAX, usize::MAX, 0, 0],
        |[x0, y0, x1, y1], &[x, y, side]| {
            [x0.min(x), y0.min(y), x1.max(x + side), y1.max(y + side)]
        },
    );
    let tiles_area = x1.min(w).saturating_sub(x0) * y1.min(h).saturating_sub(y0);
    if tiles_area as f32 > MAX_REGION_SHARE * (w * h) as f32 {
        return None;
    }
    let level = 0.5 + 0.5 * ramp(cluster.strength, CLUSTER_MAP_MIN, 2.0 * CLUSTER_MAP_MIN);
    let (gw, gh) = (map.grid_width as usize, map.grid_height as usize);
    let cell = (map.cell as usize).max(1);
    let mut painted = Vec::new();
    for &[x, y, side] in &cluster.tiles {
        let (x, y, side) = (x + side / 4, y + side / 4, side / 2);
        // The cells whose centre (c * cell + cell / 2) lies in the core.
        let cells = |from: usize, n: usize| {
            (from.saturating_sub(cell / 2).div_ceil(cell)..n)
                .take_while(move |c| c * cell + cell / 2 < from + side)
        };
        for cy in cells(y, gh) {
            for cx in cells(x, gw) {
                let i = cy * gw + cx;
                if let Some(v) = map.values.get_mut(i) {
                    *v = v.max(level);
                    painted.push(i);
                }
            }
        }
    }
    (!painted.is_empty()).then(|| cells_box(map, &painted))
}

/// The sums of one row of 16 px cells: `[Σ|r|, Σ(|∂x| + |∂y|), Σ chroma |Laplacian|]`.
fn cell_row(
    luma: &[f32],
    res: &[f32],
    rgb: &[u8],
    mask: &[i16],
    [w, h, cw]: [usize; 3],
    cy: usize,
) -> Vec<[f32; 3]> {
    let (y0, y1) = (cy * STRIDE, (cy + 1) * STRIDE);
    // Luma terms: each cell adds its own |r| and gradients pixel by pixel
    // (rows ascending, x ascending within a row). Running the cells
    // innermost (independent chains, strided reads) measured slower.
    let mut s_acc = vec![0.0f32; cw];
    let mut g_acc = vec![0.0f32; cw];
    let mut g_row = vec![0.0f32; w];
    // Chroma terms, exactly in integers: R−G and B−G are integers, so each
    // Laplacian times 4 is an integer, |ΔA| + |ΔB| a multiple of 1/4 under
    // 1021, and a cell's f32 sum of them (≤ 256 · 1020 < 2^22) is exact in
    // any order. Hence the sum of 4·(|ΔA| + |ΔB|) as integers, times 1/4,
    // has the same bits as the f32 sum pixel by pixel.
    //
    // On the interleaved bytes, `d[3x] = G − R = −A` and `d[3x + 1] = B −
    // G`, while `d[3x + 2]` is zeroed (mask), so the Laplacian of `d` at
    // stride 3 gives ∓4ΔA, 4ΔB and 0: contiguous lines that vectorise.
    let n3 = 3 * w;
    let diff_row = |y: usize, d: &mut [i16]| {
        let px = &rgb[y * n3..][..n3];
        for (((o, &p), &q), &m) in d.iter_mut().zip(px).zip(&px[1..]).zip(mask) {
            *o = (i16::from(q) - i16::from(p)) & m;
        }
        d[n3 - 1] = 0;
    };
    let mut d = [vec![0i16; n3], vec![0i16; n3], vec![0i16; n3]];
    diff_row(y0.saturating_sub(1), &mut d[0]);
    diff_row(y0, &mut d[1]);
    // Σ over the cell's rows of 4·|Δ| per interleaved position (≤ 16 · 2040).
    let mut c_acc = vec![0i16; n3];
    for y in y0..y1 {
        let (yu, yd) = (y.saturating_sub(1), (y + 1).min(h - 1));
        if y > y0 {
            d.rotate_left(1);
        }
        diff_row(yd, &mut d[2]);
        gradients(
            [
                &luma[yu * w..][..w],
                &luma[y * w..][..w],
                &luma[yd * w..][..w],
            ],
            &mut g_row,
        );
        let res_row = &res[y * w..][..w];
        let lines = res_row.chunks_exact(STRIDE).zip(g_row.chunks_exact(STRIDE));
        for ((s, g), (r, gr)) in s_acc.iter_mut().zip(g_acc.iter_mut()).zip(lines) {
            let (mut a, mut b) = (*s, *g);
            for (&r, &gr) in r.iter().zip(gr) {
                a += r.abs();
                b += gr;
            }
            (*s, *g) = (a, b);
        }
        chroma_laplacians([&d[0], &d[1], &d[2]], &mut c_acc);
    }
    s_acc
        .iter()
        .zip(&g_acc)
        .zip(c_acc.chunks_exact(3 * STRIDE))
        .map(|((&s, &g), c)| {
            let sum4: i32 = c.iter().map(|&v| i32::from(v)).sum();
            [s, g, sum4 as f32 * 0.25]
        })
        .collect()
}

/// One row's gradient magnitudes `|∂x| + |∂y|` (central differences), with
/// neighbours clamped at the left and right borders. The interior runs on
/// plain slices so that it vectorises; both paths use the same expression.
fn gradients([up, row, down]: [&[f32]; 3], g_out: &mut [f32]) {
    let w = row.len();
    let at = |x: usize, xl: usize, xr: usize| (row[xr] - row[xl]).abs() + (down[x] - up[x]).abs();
    for x in [0, w - 1] {
        g_out[x] = at(x, x.saturating_sub(1), (x + 1).min(w - 1));
    }
    if w < 3 {
        return;
    }
    let n = w - 2;
    let g_in = &mut g_out[1..w - 1];
    let (left, right, up, down) = (&row[..n], &row[2..], &up[1..w - 1], &down[1..w - 1]);
    for (i, g) in g_in.iter_mut().enumerate() {
        *g = (right[i] - left[i]).abs() + (down[i] - up[i]).abs();
    }
}

/// Adds `4·|ΔA|` and `4·|ΔB|` of one row (neighbours clamped at the left
/// and right borders) to `acc`, on the masked interleaved differences of
/// the rows above, at and below (see [`cell_row`]).
fn chroma_laplacians([up, mid, down]: [&[i16]; 3], acc: &mut [i16]) {
    let n3 = mid.len();
    let w = n3 / 3;
    let at = |i: usize, il: usize, ir: usize| 4 * mid[i] - mid[il] - mid[ir] - up[i] - down[i];
    for x in [0, w - 1] {
        let (xl, xr) = (x.saturating_sub(1), (x + 1).min(w - 1));
        for c in 0..2 {
            let i = 3 * x + c;
            let l = at(i, 3 * xl + c, 3 * xr + c);
            // Pixel 0 and pixel w − 1 are the same when w = 1.
            if x == 0 || w > 1 {
                acc[i] += l.abs();
            }
        }
    }
    if w < 3 {
        return;
    }
    let n = n3 - 6;
    let (left, right) = (&mid[..n], &mid[6..]);
    let (m, u, dn) = (&mid[3..n3 - 3], &up[3..n3 - 3], &down[3..n3 - 3]);
    for (i, a) in acc[3..n3 - 3].iter_mut().enumerate() {
        *a += (4 * m[i] - left[i] - right[i] - u[i] - dn[i]).abs();
    }
}

/// Residuals of the least-squares line `y ≈ α + β x`.
fn fit_residuals(x: &[f32], y: &[f32]) -> Vec<f32> {
    let n = x.len().max(1) as f64;
    let mx = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let my = y.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (mut sxx, mut sxy) = (0.0f64, 0.0f64);
    for (&a, &b) in x.iter().zip(y) {
        sxx += (f64::from(a) - mx).powi(2);
        sxy += (f64::from(a) - mx) * (f64::from(b) - my);
    }
    let beta = if sxx > 1e-9 { sxy / sxx } else { 0.0 };
    x.iter()
        .zip(y)
        .map(|(&a, &b)| (f64::from(b) - my - beta * (f64::from(a) - mx)) as f32)
        .collect()
}

/// Robust z-scores `(v − median) / (1.4826 · MAD)`, with the spread floored
/// at 0.1 (in log units, ~10%) so that a very uniform image does not turn
/// estimation error into many sigmas.
fn robust_z(values: &[f32]) -> Vec<f32> {
    let mut deviations = values.to_vec();
    let (med, spread) = median_and_spread(&mut deviations);
    let scale = spread.max(0.1);
    values.iter().map(|v| (v - med) / scale).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::test_noise as noise;
    use image::RgbImage;

    fn run_on(img: &RgbImage) -> DetectorOutput {
        crate::detectors::run_on_pixels(img, run)
    }

    /// A noisy textured "camera" image with a flat painted patch at
    /// (128..192, 64..128): the map flags the patch and nothing far from it.
    #[test]
    fn painted_flat_patch_is_flagged_and_the_rest_is_not() {
        let (w, h) = (256u32, 256u32);
        let mut seed = 5u64;
        let img = RgbImage::from_fn(w, h, |x, y| {
            let base = 120.0 + 30.0 * ((x as f32 * 0.07).sin() + (y as f32 * 0.05).cos());
            let painted = (128..192).contains(&x) && (64..128).contains(&y);
            let n = if painted {
                0.0
            } else {
                16.0 * noise(&mut seed)
            };
            let v = |o: f32| (base + o + n).clamp(0.0, 255.0) as u8;
            if painted {
                image::Rgb([150, 90, 60])
            } else {
                image::Rgb([v(10.0), v(0.0), v(-10.0)])
            }
        });
        let out = run_on(&img);
        let map = out.map.expect("map");
        assert!(map.at(160, 96) >= 0.5, "{}", map.at(160, 96));
        for (x, y) in [(20, 20), (230, 230), (20, 230), (230, 20)] {
            assert!(map.at(x, y) < 0.5, "({x},{y}) {}", map.at(x, y));
        }
        assert!(!out.findings.is_empty());
    }

    /// The cell sums have the bits of the plain per-pixel f32 sums (x
    /// ascending, rows ascending; chroma as f32 Laplacians of R−G and B−G
    /// with clamped neighbours), at every size including 1 and 2 wide.
    #[test]
    fn cell_rows_match_the_per_pixel_f32_sums() {
        for (w, h) in [(1, 40), (2, 33), (3, 17), (16, 16), (37, 50), (100, 64)] {
            let mut seed = (w * 31 + h) as u64;
            let img = RgbImage::from_fn(w as u32, h as u32, |_, _| {
                let mut c = || (128.0 + 120.0 * noise(&mut seed)).clamp(0.0, 255.0) as u8;
                image::Rgb([c(), c(), c()])
            });
            let rgb = img.as_raw();
            let luma: Vec<f32> = rgb
                .chunks_exact(3)
                .map(|p| {
                    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
                })
                .collect();
            let res: Vec<f32> = luma.iter().map(|v| (v * 0.37).sin() * 3.0).collect();
            let mask: Vec<i16> = (0..3 * w)
                .map(|i| if i % 3 == 2 { 0 } else { -1 })
                .collect();
            let cw = w / STRIDE;
            let chroma = |x: usize, y: usize| {
                let p = &rgb[(y * w + x) * 3..][..3];
                (
                    f32::from(p[0]) - f32::from(p[1]),
                    f32::from(p[2]) - f32::from(p[1]),
                )
            };
            for cy in 0..h / STRIDE {
                let got = cell_row(&luma, &res, rgb, &mask, [w, h, cw], cy);
                let mut want = vec![[0.0f32; 3]; cw];
                for y in cy * STRIDE..(cy + 1) * STRIDE {
                    let (yu, yd) = (y.saturating_sub(1), (y + 1).min(h - 1));
                    for (cx, cell) in want.iter_mut().enumerate() {
                        for x in cx * STRIDE..(cx + 1) * STRIDE {
                            let (xl, xr) = (x.saturating_sub(1), (x + 1).min(w - 1));
                            let l = |x: usize, y: usize| luma[y * w + x];
                            let g = (l(xr, y) - l(xl, y)).abs() + (l(x, yd) - l(x, yu)).abs();
                            let (m, le, r, u, d) = (
                                chroma(x, y),
                                chroma(xl, y),
                                chroma(xr, y),
                                chroma(x, yu),
                                chroma(x, yd),
                            );
                            let a = m.0 - 0.25 * (le.0 + r.0 + u.0 + d.0);
                            let b = m.1 - 0.25 * (le.1 + r.1 + u.1 + d.1);
                            cell[0] += res[y * w + x].abs();
                            cell[1] += g;
                            cell[2] += a.abs() + b.abs();
                        }
                    }
                }
                for (g, v) in got.iter().zip(&want) {
                    for (a, b) in g.iter().zip(v) {
                        assert_eq!(a.to_bits(), b.to_bits(), "{w}x{h} row {cy}");
                    }
                }
                assert_eq!(got.len(), cw);
            }
        }
    }

    /// The cluster's tiles paint their cores, inside the returned box, from
    /// 0.5 at the threshold to 1 at twice it; weaker or too large clusters
    /// paint nothing.
    #[test]
    fn a_cluster_paints_the_cores_of_its_tiles() {
        let (w, h) = (512u32, 384u32);
        let two_tiles = |strength: f32| OutlierCluster {
            strength,
            tiles: vec![[128, 64, 64], [160, 64, 64]],
        };
        let mut map = Heatmap::zeros(w, h, 16);
        assert_eq!(
            paint_cluster(&mut map, &two_tiles(CLUSTER_MAP_MIN * 0.99), w, h),
            None
        );
        assert!(map.values.iter().all(|&v| v == 0.0));

        let region = paint_cluster(&mut map, &two_tiles(CLUSTER_MAP_MIN), w, h).expect("painted");
        // Cores: x 144..176 and 176..208, y 80..112.
        let want = Region {
            x: 144,
            y: 80,
            width: 64,
            height: 32,
        };
        assert_eq!(region, want);
        let gw = map.grid_width;
        for (i, &v) in map.values.iter().enumerate() {
            let (x, y) = crate::report::cell_centre(i, gw, map.cell, (w, h));
            let inside = region.contains(x, y);
            assert_eq!(v, if inside { 0.5 } else { 0.0 }, "cell at ({x}, {y})");
        }
        let mut strong = Heatmap::zeros(w, h, 16);
        paint_cluster(&mut strong, &two_tiles(2.0 * CLUSTER_MAP_MIN), w, h);
        assert_eq!(strong.at(150, 90), 1.0);

        // Tiles spanning more than a quarter of the frame: nothing drawn.
        let wide = OutlierCluster {
            strength: 10.0,
            tiles: vec![[0, 0, 64], [320, 224, 64]],
        };
        let mut untouched = Heatmap::zeros(w, h, 16);
        assert_eq!(paint_cluster(&mut untouched, &wide, w, h), None);
        assert!(untouched.values.iter().all(|&v| v == 0.0));
    }

    /// A noisy photo with a patch whose noise was smoothed away (a painted
    /// stain): the co-occurrence cluster is drawn over it and boxed.
    #[test]
    fn residual_texture_cluster_is_drawn_on_the_smoothed_patch() {
        let (w, h) = (512u32, 384u32);
        let patch = |x: u32, y: u32| (192..320).contains(&x) && (128..256).contains(&y);
        let make = |smoothed: bool| {
            let mut seed = 11u64;
            RgbImage::from_fn(w, h, |x, y| {
                let base = 110.0 + 40.0 * ((x as f32 * 0.013).sin() * (y as f32 * 0.017).cos());
                let gain = if smoothed && patch(x, y) { 0.15 } else { 1.0 };
                let v = (base + 12.0 * gain * noise(&mut seed)).clamp(0.0, 255.0) as u8;
                image::Rgb([v, v, v])
            })
        };
        let cluster_box = |out: &DetectorOutput| {
            out.findings
                .iter()
                .find(|f| f.code == "local_consistency.cooccurrence_region")
                .and_then(|f| f.region)
        };
        let edited = run_on(&make(true));
        let region = cluster_box(&edited).expect("a cluster region");
        assert!(region.contains(256, 192), "{region:?}");
        assert!(region.width <= 256 && region.height <= 256, "{region:?}");
        let map = edited.map.expect("map");
        assert!(map.at(256, 192) >= 0.5, "{}", map.at(256, 192));
        assert!(map.at(40, 40) < 0.5 && map.at(470, 340) < 0.5);
        let clean = run_on(&make(false));
        assert_eq!(cluster_box(&clean), None);
    }

    #[test]
    fn uniform_noise_is_not_flagged() {
        let mut seed = 9u64;
        let img = RgbImage::from_fn(200, 160, |_, _| {
            let mut c = || (128.0 + 30.0 * noise(&mut seed)) as u8;
            image::Rgb([c(), c(), c()])
        });
        let out = run_on(&img);
        let map = out.map.expect("map");
        assert!(map.values.iter().all(|&v| v < 0.5));
    }

    #[test]
    fn tiny_and_odd_sizes_do_not_panic() {
        for (w, h) in [(1, 1), (3, 80), (80, 3), (47, 47), (97, 65), (130, 33)] {
            let mut seed = 1u64;
            let img = RgbImage::from_fn(w, h, |_, _| {
                let v = (128.0 + 50.0 * noise(&mut seed)) as u8;
                image::Rgb([v, v, v])
            });
            let a = run_on(&img);
            let b = run_on(&img);
            assert_eq!(a.features, b.features);
            assert!(a.features.iter().all(|f| f.1.is_finite()));
        }
    }
}
