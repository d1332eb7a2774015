//! Copy-move: a region of the photo duplicated elsewhere in the same photo
//! (a stain, dent or crack cloned, or background cloned over an object).
//!
//! Classical block matching after Fridrich, Soukal & Lukáš 2003 ("Detection
//! of copy-move forgery in digital images", DFRWS), with the lexicographic
//! sort and shift-vector voting of Popescu & Farid 2004 ("Exposing digital
//! forgeries by detecting duplicated image regions", Dartmouth TR2004-515)
//! and the robust low-frequency block features compared by Christlein et al.
//! 2012 ("An evaluation of popular copy-move forgery detection approaches",
//! IEEE TIFS 7(6)):
//!
//! 1. The luma is box-downscaled by `k ≥ 2` (the stride rule below) and every
//!    16x16 block of the reduced plane (stride 1 there, so `16k` original
//!    pixels every `k` pixels) is described by the means of its 4x4 sub-blocks.
//!    Flat blocks (they match everywhere) and clipped blocks are skipped.
//! 2. Blocks are sorted lexicographically by 8 quantised low-sequency
//!    Walsh–Hadamard coefficients of those means; each block is compared with
//!    its next few neighbours in sort order, and near-identical pairs at
//!    least `MIN_SHIFT` pixels apart vote for their shift vector.
//! 3. The shift vectors with most votes are refined to the exact pixel shift
//!    (residual correlation, then the pixel difference) and verified at full
//!    resolution: a region of 8x8 cells grows where the Laplacian noise
//!    residual at `p` correlates with that at `p + d` (two places of one
//!    camera photo never share a noise realisation), or where the pixels
//!    match the copy better at exactly `d` than one pixel off. Once the
//!    photo was compressed again after the copy, on another 8x8 grid phase,
//!    the residual keeps little of the copy (0.3 at quality 90) but the
//!    pixel difference is still sharpest at the exact shift: copied pixels
//!    differ there only by the later rounding, look-alike content (texture,
//!    edges shifted along themselves) matches as well one pixel off.
//! 4. A region is kept when its pixels match sharply at `d` (the median
//!    ratio of the difference at `d` to the smallest one pixel off, or a core
//!    of sharply matching cells for a copy with soft edges) and much better
//!    than anywhere else within 24 px (periodic content, a facade or a
//!    fabric, also matches a period away); it is rejected when the same
//!    cells also correlate at `2d` or `−d`, when it is a large share of the
//!    image, or when both shift components are multiples of 8 (the JPEG
//!    grid).
//!
//! A verified pair means that the two marked regions hold the same pixels.
//! Only translation is searched: a copy that was rotated, scaled or
//! brightness-adjusted is not found.
//!
//! Map (cells of 8 px): the copy of a verified pair at `0.5 + 0.5 ·
//! strength of the pixel match`, holes it encloses at 0.5, and its source
//! at `SOURCE_MARK`, shown but not flagged; when the edge test (`edge`)
//! cannot tell which place is the copy, both places as a copy. Everything
//! else 0. A pair's cells are its verified cells and the cells around them
//! whose pixels equal the copy's (smooth parts and edges, which
//! verification cannot use): dev copy-moves' localisation F1 0.381 → 0.458.

mod edge;

use super::residual::{median_in_place, ramp};
use super::{DetectorOutput, PixelContext};
use crate::buffer::Buffer;
use crate::report::{Class, DetectorKind, Finding, Heatmap, Region};
use edge::EdgeTest;

/// Block side in reduced pixels (`16k` original pixels).
const BLOCK: usize = 16;
/// Map value of a pair's source once the edge test named its copy: shown,
/// so a reviewer sees where the copy came from, but not flagged (its
/// pixels are the photo's own).
const SOURCE_MARK: f32 = 0.3;
/// Sub-block side in reduced pixels: a block holds 4x4 sub-block means.
const SUB: usize = 4;
/// Most blocks we index. The downscale factor `k` is the smallest `k ≥ 2`
/// with `(w/k)·(h/k) ≤ MAX_BLOCKS`: 2 up to 1024 x 1024, 3 up to 2.4 MP, 4
/// up to 4.2 MP, 7 for 12 MP. Stride 1 on the reduced plane means any shift
/// is matched within half a reduced pixel (a whole-pixel offset on a stride
/// grid would miss most copies). With 1M blocks instead, constructed copies
/// of 8% of the side in dev photos of up to 16 MP were found 39 times of 86
/// instead of 33, at two to three times the cost on photos over 1 MP.
const MAX_BLOCKS: usize = 262_144;
/// Smallest shift (original pixels) that counts: nearer blocks overlap and
/// smooth content matches its own neighbourhood.
const MIN_SHIFT: f32 = 24.0;
/// Neighbours compared in sort order.
const NEIGHBOURS: usize = 6;
/// Largest difference of any sub-block mean (grey levels) for a match: JPEG
/// noise averaged over `4k x 4k` pixels stays well below it.
const MATCH_TOL: f32 = 2.0;
/// Smallest standard deviation of the sub-block means: flatter blocks match
/// everywhere and carry no information.
const MIN_STD: f32 = 2.0;
/// Fewest votes (3x3 neighbourhood of the shift) for a candidate.
const MIN_VOTES: usize = 12;
/// Candidates verified at full resolution. Repetitive content takes many
/// of the top vote counts, so a small copy may rank low: of 86 constructed
/// copies of 8% of the side (q95), 12 candidates find 42, 6 find 34.
const MAX_CANDIDATES: usize = 12;
/// Source blocks, and the side of their middle square, read to refine and
/// polish a shift.
const MAX_MIDDLES: usize = 32;
const MIDDLE_SIDE: usize = 16;
/// Map cell side in original pixels.
const CELL: usize = 8;
/// Cell residual correlation that seeds a region, and that grows it (JPEG
/// at quality 90 on another 8x8 grid phase leaves a copy at about 0.3; unrelated noise over 144
/// samples has a standard deviation of 0.08).
const SEED_CORR: f32 = 0.3;
const GROW_CORR: f32 = 0.22;
/// Smallest mean squared residual of a cell (grey²) worth correlating:
/// flat or clipped cells have no noise to compare.
const MIN_ENERGY: f32 = 0.5;
/// Fewest matched cells in a region (12 cells = 768 px², ~28x28).
const MIN_CELLS: usize = 12;
/// Largest share of the image a source region may cover: beyond it the
/// "copy" is a repetitive scene, not a clone.
const MAX_REGION_SHARE: f32 = 0.15;
/// A shift whose double or opposite correlates at least this share as well
/// is a period of the content, not a copy.
const PERIODIC_RATIO: f32 = 0.5;
/// Largest median, over a region's cells, of the pixel difference at the
/// shift against the smallest difference one pixel off it (RMS of luma
/// differences; see `Luma::sharpness`). Copied pixels differ only by the
/// later JPEG rounding at the exact shift and by the content's gradient one
/// pixel off: 0.17-0.78 on the development corpus's copies. Look-alike
/// content (texture, periodic structure, edges shifted along themselves)
/// matches no better at the shift than next to it: 1.00 and above on every
/// candidate of its genuine photos.
const LUMA_SHARPNESS: f32 = 0.85;
/// Largest ratio of the region's median difference at the shift to the
/// smallest at any other shift within 24 px ([`Luma::uniqueness`]): copies on the
/// development corpus 0.12-0.44, periodic genuine content 1.09 and above.
const UNIQUENESS: f32 = 0.7;
/// A cell next to the region joins on its pixels alone under this ratio.
const CELL_SHARPNESS: f32 = 0.8;
/// A cell of a verified region is kept when its pixels match better at the
/// shift than one pixel off (the region grown on the residual also takes in
/// cells around the copy that correlate by chance, at about 1 and above).
const MATCHED_CELL: f32 = 1.0;
/// A seed cell joins on its pixels alone under this ratio.
const SEED_SHARPNESS: f32 = 0.6;
/// Smallest difference one pixel off the shift (RMS grey levels) for a
/// cell's pixels to say anything: flat and clipped cells match everywhere.
const MIN_OFF_DIFFERENCE: f32 = 2.0;
/// How far (cells) beyond the box of a pair's verified cells its extent
/// may reach ([`copied_extent`]).
const EXTENT_MARGIN: usize = 3;
/// A cell belongs to a copy's extent when its RMS difference from the copy
/// is within this factor of the verified cells' median ...
const EXTENT_TOLERANCE: f32 = 2.0;
/// ... and within these bounds (grey levels): JPEG rounding alone leaves
/// about 1 on the copy's own cells.
const EXTENT_MIN_DIFFERENCE: f32 = 1.5;
const EXTENT_MAX_DIFFERENCE: f32 = 4.0;
/// ... and under this share of its difference a cell further (see
/// [`copied_at`]).
const EXTENT_CONTRAST: f32 = 0.6;
/// The 8 one-pixel steps around a shift.
const NEIGHBOURHOOD: [(i64, i64); 8] = [
    (1, 0),
    (-1, 0),
    (0, 1),
    (0, -1),
    (1, 1),
    (1, -1),
    (-1, 1),
    (-1, -1),
];

/// One verified duplicated pair: a first place and the second, the first
/// moved by `d` (either may be the copy; [`edge`] may tell which).
struct Pair {
    /// Shift in original pixels from the first place to the second.
    d: (i64, i64),
    /// The first place's verified cells (indices into the cell grid).
    cells: Vec<usize>,
    /// Mean residual correlation over the matched cells.
    corr: f32,
    /// Median ratio of the pixel difference at the shift to the smallest
    /// one pixel off (under [`LUMA_SHARPNESS`]; lower is sharper).
    sharpness: f32,
    /// Votes of its shift vector.
    votes: usize,
    /// The first place's cells shown in the map and boxed: `cells` and the
    /// cells around them whose pixels equal the second place's
    /// ([`copied_extent`]).
    extent: Vec<usize>,
}

/// Run the detector.
#[must_use]
pub fn run(ctx: &PixelContext<'_>) -> DetectorOutput {
    run_within(ctx, None)
}

/// Run the detector, counting only the pairs with a place overlapping
/// `focus` (`None`: all), at the sampling the focus alone would get. The
/// analyser gives copy-move the whole frame and, as the focus, the content
/// inside uniform margins: a pair with both places in the margins is
/// rendered interface text or icons (the repeated letters of a screenshot's
/// toolbar matched in 14 of 86 simulated screenshots when every pair was
/// kept), not a clone.
#[must_use]
pub fn run_within(ctx: &PixelContext<'_>, focus: Option<Region>) -> DetectorOutput {
    let mut out = DetectorOutput::empty(DetectorKind::CopyMove);
    let (w, h) = (ctx.width as usize, ctx.height as usize);
    let mut map = Heatmap::zeros(ctx.width, ctx.height, CELL as u32);
    let whole = Region {
        x: 0,
        y: 0,
        width: ctx.width,
        height: ctx.height,
    };
    let (pairs, best_votes) = if ctx.luma.len() == w * h && ctx.residual.len() == w * h {
        detect(ctx.luma, ctx.residual, w, h, focus.unwrap_or(whole))
    } else {
        (Vec::new(), 0)
    };

    let gw = map.grid_width as usize;
    // Each pair with the boxes of its two places, computed once.
    let mut pairs: Vec<(Pair, (Region, Region))> = pairs
        .into_iter()
        .map(|p| {
            let places = boxes(&p, w, h, gw);
            (p, places)
        })
        .collect();
    if let Some(focus) = focus {
        pairs.retain(|(_, (first, second))| first.overlaps(&focus) || second.overlaps(&focus));
    }
    let luma = Luma {
        pixels: ctx.luma,
        w,
        h,
    };
    // Per pair, the edge test when it named the copy, and whether the copy
    // is the second place.
    let named: Vec<Option<(EdgeTest, bool)>> = pairs
        .iter()
        .map(|(p, (first, _))| {
            let test = edge::edge_test(ctx.rgb, &luma, *first, p.d)?;
            test.copy_is_shifted().map(|second| (test, second))
        })
        .collect();
    let total_cells = map.values.len().max(1);
    let mut marked = 0usize;
    for ((p, _), named) in pairs.iter().zip(&named) {
        let v = 0.5 + 0.5 * sharpness_strength(p);
        // The copy at `v`; its source, once told apart, only shown.
        let (own, shifted) = match named {
            Some((_, true)) => (SOURCE_MARK, v),
            Some((_, false)) => (v, SOURCE_MARK),
            None => (v, v),
        };
        for &c in &p.extent {
            let (cx, cy) = (c % gw, c / gw);
            let src = (cx * CELL + CELL / 2, cy * CELL + CELL / 2);
            let dst = (src.0 as i64 + p.d.0, src.1 as i64 + p.d.1);
            if let Some(m) = map.values.get_mut(c) {
                *m = m.max(own);
            }
            if dst.0 >= 0 && dst.1 >= 0 && (dst.0 as usize) < w && (dst.1 as usize) < h {
                let j = (dst.1 as usize / CELL) * gw + dst.0 as usize / CELL;
                if let Some(m) = map.values.get_mut(j) {
                    *m = m.max(shifted);
                }
            }
        }
    }
    // Cells inside a copy whose pixels were too flat to match are holes.
    map.fill_enclosed();
    for &v in &map.values {
        if v >= 0.5 {
            marked += 1;
        }
    }
    let matched_share = marked as f32 / total_cells as f32;
    let score = pairs
        .iter()
        .map(|(p, _)| pair_score(p))
        .fold(0.0f32, f32::max);
    let best_corr = pairs.iter().map(|(p, _)| p.corr).fold(0.0f32, f32::max);
    out.features.extend([
        ("copy_move.matched_share", matched_share),
        ("copy_move.best_votes", best_votes as f32),
        ("copy_move.best_corr", best_corr),
        ("copy_move.score", score),
    ]);
    // Both places are boxed: the copy first, with the pair's score, and its
    // source as a note when the edge test told them apart; else both with
    // the pair's score. Session 30 compared the step across the edge pixel
    // by pixel: it took a source in busier texture than the copy's
    // surroundings for the copy; [`edge`] compares each place's outside
    // with the shared inside, in colour and in texture, within a window.
    for ((p, (src, dst)), named) in pairs.iter().zip(&named).take(3) {
        let (src, dst) = (*src, *dst);
        let score = pair_score(p);
        let back = (-p.d.0, -p.d.1);
        match *named {
            Some((t, second)) => {
                let (copy, source, d) = if second {
                    (dst, src, p.d)
                } else {
                    (src, dst, back)
                };
                out.findings
                    .push(duplicated_region(p, score, (copy, source), d, Some(t)));
                out.findings.push(copy_source((source, copy), t));
            }
            None => {
                out.findings
                    .push(duplicated_region(p, score, (dst, src), p.d, None));
                out.findings
                    .push(duplicated_region(p, score, (src, dst), back, None));
            }
        }
    }
    out.map = Some(map);
    out
}

/// The finding boxing one place of a verified pair, `here`, whose pixels
/// repeat at `there` (`here` is `there` moved by `d`). With `named`, the edge test
/// that named `here` the copy; without, the pair is open.
fn duplicated_region(
    p: &Pair,
    score: f32,
    (here, there): (Region, Region),
    (dx, dy): (i64, i64),
    named: Option<EdgeTest>,
) -> Finding {
    let (n, votes, sharpness, corr) = (p.cells.len(), p.votes, p.sharpness, p.corr);
    let (w, h) = (here.width, here.height);
    let same = format!(
        "A region of {w}x{h} px at ({}, {}) holds the same pixels, noise included, as the region at ({}, {}) (shift {dx}, {dy} px; {n} cells, {votes} block votes; pixel difference {sharpness:.2} of the smallest one pixel off, residual correlation {corr:.2})",
        here.x, here.y, there.x, there.y
    );
    let same_zh = format!(
        "位于 ({}, {}) 的 {w}x{h} 像素区域与 ({}, {}) 处的区域像素相同，连噪声也相同（位移 {dx}, {dy} 像素；{n} 个单元，{votes} 个块投票；像素差为偏移一像素时最小差的 {sharpness:.2}，残差相关 {corr:.2}）",
        here.x, here.y, there.x, there.y
    );
    let (message, message_zh) = match named {
        None => (
            format!("{same}: one of the two was copied over the other."),
            format!("{same_zh}：其中一处是从另一处复制过去的。"),
        ),
        Some(test) => {
            let (z, points) = (test.z.abs(), test.votes);
            (
                format!("{same}, and is the copy by the edge test: along the edge of the shared pixels it breaks with its surroundings where the other continues them (z = {z:.1} over {points} points)."),
                format!("{same_zh}；边缘检验判定此处为副本：沿共同像素的边缘，此处与周围断开，而另一处与周围连续（z = {z:.1}，{points} 个点）。"),
            )
        }
    };
    Finding::new(
        DetectorKind::CopyMove,
        "copy_move.duplicated_region",
        score,
        Class::Edited,
        message,
        message_zh,
    )
    .with_region(here)
}

/// The finding boxing the source of a pair whose copy the edge test named:
/// where the copy came from, shown to the reviewer; its pixels are the
/// photo's own, so it carries no score (the copy's finding does).
fn copy_source((source, copy): (Region, Region), test: EdgeTest) -> Finding {
    let (w, h) = (source.width, source.height);
    let (z, points) = (test.z.abs(), test.votes);
    Finding::new(
        DetectorKind::CopyMove,
        "copy_move.duplicated_region",
        0.0,
        Class::None,
        format!(
            "The region of {w}x{h} px at ({}, {}) holds the same pixels as the copy at ({}, {}) and is its source by the edge test: its edge continues its surroundings (z = {z:.1} over {points} points). Its pixels are the photo's own: it is shown, not flagged.",
            source.x, source.y, copy.x, copy.y
        ),
        format!(
            "位于 ({}, {}) 的 {w}x{h} 像素区域与 ({}, {}) 处的副本像素相同，边缘检验判定其为来源：其边缘与周围连续（z = {z:.1}，{points} 个点）。其像素是照片原有的，仅作标示，不作标记。",
            source.x, source.y, copy.x, copy.y
        ),
    )
    .with_region(source)
}

/// Strength of one verified pair, from 0.5 (a verified copy, the least that
/// reaches review) to 0.9 for large copies whose pixels match sharply. The
/// residual correlation is reported but does not weigh: a copy compressed
/// again on another grid phase keeps little of it (0.3 at quality 90).
fn pair_score(p: &Pair) -> f32 {
    let size = ramp(
        p.cells.len() as f32,
        MIN_CELLS as f32,
        MIN_CELLS as f32 * 3.0,
    );
    0.5 + 0.4 * size * sharpness_strength(p)
}

/// 0 at the acceptance limit of the pixel-match ratio, 1 at half of it.
fn sharpness_strength(p: &Pair) -> f32 {
    ramp(LUMA_SHARPNESS - p.sharpness, 0.0, LUMA_SHARPNESS / 2.0)
}

/// Bounding boxes of a pair's source cells and of their copy.
fn boxes(p: &Pair, w: usize, h: usize, gw: usize) -> (Region, Region) {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0usize, 0usize);
    for &c in &p.extent {
        let (cx, cy) = (c % gw, c / gw);
        x0 = x0.min(cx * CELL);
        y0 = y0.min(cy * CELL);
        x1 = x1.max(((cx + 1) * CELL).min(w));
        y1 = y1.max(((cy + 1) * CELL).min(h));
    }
    if x0 > x1 || y0 > y1 {
        let empty = Region {
            x: 0,
            y: 0,
            width: 0,
            height: 0,
        };
        return (empty, empty);
    }
    let src = Region {
        x: x0 as u32,
        y: y0 as u32,
        width: (x1 - x0) as u32,
        height: (y1 - y0) as u32,
    };
    let clamp = |v: i64, n: usize| v.clamp(0, n as i64) as usize;
    let (dx0, dy0) = (clamp(x0 as i64 + p.d.0, w), clamp(y0 as i64 + p.d.1, h));
    let (dx1, dy1) = (clamp(x1 as i64 + p.d.0, w), clamp(y1 as i64 + p.d.1, h));
    let dst = Region {
        x: dx0 as u32,
        y: dy0 as u32,
        width: dx1.saturating_sub(dx0) as u32,
        height: dy1.saturating_sub(dy0) as u32,
    };
    (src, dst)
}

/// A block position `(bx, by)` (each under 2^16) as one u32 that orders
/// as `(by, bx)`, like the row-major index, and unpacks without a division.
fn pack(bx: usize, by: usize) -> u32 {
    ((by as u32) << 16) | bx as u32
}

/// See [`pack`].
fn unpack(p: u32) -> (usize, usize) {
    ((p & 0xffff) as usize, (p >> 16) as usize)
}

/// The downscale factor: the smallest `k ≥ 2` that keeps the block count
/// under [`MAX_BLOCKS`].
fn scale_for(w: usize, h: usize) -> usize {
    (2..64)
        .find(|&k| (w / k) * (h / k) <= MAX_BLOCKS)
        .unwrap_or(64)
}

/// Block matching, voting and verification. Returns the verified pairs
/// (strongest first) and the best raw vote count.
fn detect(luma: &[f32], res: &[f32], w: usize, h: usize, focus: Region) -> (Vec<Pair>, usize) {
    // Sampled as finely as the focus alone would be: the margins around it
    // are mostly flat blocks, which are not indexed.
    let k = scale_for(focus.width as usize, focus.height as usize);
    let (sw, sh) = (w / k, h / k);
    if sw < 2 * BLOCK || sh < 2 * BLOCK {
        return (Vec::new(), 0);
    }
    // Box-downscaled luma.
    let mut small = vec![0.0f32; sw * sh];
    let inv = 1.0 / (k * k) as f32;
    for (sy, row) in small.chunks_exact_mut(sw).enumerate() {
        for y in sy * k..(sy + 1) * k {
            let src = &luma[y * w..][..sw * k];
            for (o, chunk) in row.iter_mut().zip(src.chunks_exact(k)) {
                *o += chunk.iter().sum::<f32>();
            }
        }
        for o in row.iter_mut() {
            *o *= inv;
        }
    }
    // Means of every 4x4 window of the reduced plane (separable box sums).
    let (mw, mh) = (sw - SUB + 1, sh - SUB + 1);
    let mut hsum = vec![0.0f32; mw * sh];
    for y in 0..sh {
        let row = &small[y * sw..][..sw];
        for x in 0..mw {
            hsum[y * mw + x] = row[x] + row[x + 1] + row[x + 2] + row[x + 3];
        }
    }
    let mut means = vec![0.0f32; mw * mh];
    for y in 0..mh {
        for x in 0..mw {
            let s = hsum[y * mw + x]
                + hsum[(y + 1) * mw + x]
                + hsum[(y + 2) * mw + x]
                + hsum[(y + 3) * mw + x];
            means[y * mw + x] = s / 16.0;
        }
    }
    let sub = |bx: usize, by: usize| -> [f32; 16] {
        let mut m = [0.0f32; 16];
        for j in 0..4 {
            for i in 0..4 {
                m[j * 4 + i] = means[(by + SUB * j) * mw + bx + SUB * i];
            }
        }
        m
    };

    // Features and sort keys of the informative blocks, one row of blocks
    // at a time so that every step is a pass along contiguous rows.
    let (nbx, nby) = (sw - BLOCK + 1, sh - BLOCK + 1);
    if nbx > 1 << 16 || nby > 1 << 16 {
        return (Vec::new(), 0); // Not reached under the block cap.
    }
    // (sort key, block position, bits of the block's gradient): positive
    // floats order as their bits, and the position makes every entry unique.
    let mut keyed: Vec<(u64, u32, u32)> = Vec::with_capacity(nbx * nby / 2);
    // A block row reads means rows `by + 4j`: their transforms are kept in
    // a ring over the last `3·SUB + 1` rows, each computed once.
    const RING: usize = 3 * SUB + 1;
    let mut ring: Vec<RowTransform> = (0..RING).map(|_| RowTransform::new(nbx)).collect();
    for y in 0..RING - 1 {
        ring[y].compute(&means[y * mw..][..mw]);
    }
    let mut block_row = BlockRow::new(nbx, mw);
    for by in 0..nby {
        let newest = by + RING - 1;
        ring[newest % RING].compute(&means[newest * mw..][..mw]);
        let means_rows: [&[f32]; 4] = std::array::from_fn(|j| &means[(by + SUB * j) * mw..][..mw]);
        let rows: [&RowTransform; 4] = std::array::from_fn(|j| &ring[(by + SUB * j) % RING]);
        block_row.compute(rows, means_rows);
        for bx in 0..nbx {
            if block_row.informative(bx) {
                let gradient = block_row.gradient[bx].to_bits();
                keyed.push((block_row.keys[bx], pack(bx, by), gradient));
            }
        }
    }
    keyed.sort_unstable();

    // Near-identical neighbours in sort order vote for their shift. Each
    // block's sub-block means are gathered once, in sort order, so that the
    // comparisons read consecutive memory.
    let mut described: Buffer<[f32; 16]> = Buffer::zeroed(keyed.len());
    for (d, &(_, b, _)) in described.iter_mut().zip(&keyed) {
        let (bx, by) = unpack(b);
        *d = sub(bx, by);
    }
    let min_shift = MIN_SHIFT / k as f32;
    // A pair votes only when one of its blocks lies in the focus: repeated
    // icons or letters in a screenshot's bars would otherwise take the
    // candidates the photo's own copy needs (`MAX_CANDIDATES`).
    let side = (BLOCK * k) as u32;
    let in_focus: Vec<bool> = keyed
        .iter()
        .map(|&(_, b, _)| {
            let (bx, by) = unpack(b);
            let block = Region {
                x: (bx * k) as u32,
                y: (by * k) as u32,
                width: side,
                height: side,
            };
            block.overlaps(&focus)
        })
        .collect();
    let mut votes: Vec<(i32, i32, u32)> = Vec::new();
    for (i, &(_, a, ga)) in keyed.iter().enumerate() {
        let (ax, ay) = unpack(a);
        let next = i + 1..(i + 1 + NEIGHBOURS).min(keyed.len());
        for ((&(_, b, gb), mb), &b_in_focus) in keyed[next.clone()]
            .iter()
            .zip(&described[next.clone()])
            .zip(&in_focus[next])
        {
            let (bx, by) = unpack(b);
            let (dx, dy) = (bx as i32 - ax as i32, by as i32 - ay as i32);
            if ((dx * dx + dy * dy) as f32) < min_shift * min_shift || !(in_focus[i] || b_in_focus)
            {
                continue;
            }
            // A shift by an odd number of original pixels samples the copy
            // half a reduced pixel off: allow for the block's own gradient.
            let tol = MATCH_TOL + 0.3 * f32::from_bits(ga).min(f32::from_bits(gb));
            if largest_difference(&described[i], mb) > tol {
                continue;
            }
            // One sign per vector: the source is the block the shift leaves.
            if dx < 0 || (dx == 0 && dy < 0) {
                votes.push((-dx, -dy, b));
            } else {
                votes.push((dx, dy, a));
            }
        }
    }
    votes.sort_unstable();
    // Vote counts per shift vector.
    let mut counts: Vec<((i32, i32), usize, usize)> = Vec::new(); // (shift, start, end)
    let mut start = 0;
    while start < votes.len() {
        let d = (votes[start].0, votes[start].1);
        let mut end = start;
        while end < votes.len() && (votes[end].0, votes[end].1) == d {
            end += 1;
        }
        counts.push((d, start, end));
        start = end;
    }
    let count_of = |d: (i32, i32)| -> usize {
        counts
            .binary_search_by(|c| c.0.cmp(&d))
            .map_or(0, |i| counts[i].2 - counts[i].1)
    };
    // A shift between two reduced pixels splits its votes: count the 3x3
    // neighbourhood, and keep local maxima only.
    let mut cands: Vec<((i32, i32), usize)> = Vec::new();
    for c in &counts {
        if c.2 - c.1 < 2 {
            continue;
        }
        let (dx, dy) = c.0;
        let mut agg = 0;
        let mut is_max = true;
        for ey in -1..=1 {
            for ex in -1..=1 {
                let n = count_of((dx + ex, dy + ey));
                agg += n;
                if (ex, ey) != (0, 0) && n > c.2 - c.1 {
                    is_max = false;
                }
            }
        }
        if is_max && agg >= MIN_VOTES {
            cands.push((c.0, agg));
        }
    }
    cands.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let best_votes = cands.first().map_or(0, |c| c.1);

    let pixels = Luma { pixels: luma, w, h };
    let mut pairs: Vec<Pair> = Vec::new();
    let mut taken = vec![false; w.div_ceil(CELL) * h.div_ceil(CELL)];
    for &((dx, dy), n_votes) in cands.iter().take(MAX_CANDIDATES) {
        // Source blocks of this shift and its neighbours, in original pixels.
        let mut sources: Vec<(usize, usize)> = Vec::new();
        for ey in -1..=1 {
            for ex in -1..=1 {
                if let Ok(i) = counts.binary_search_by(|c| c.0.cmp(&(dx + ex, dy + ey))) {
                    let (_, s, e) = counts[i];
                    for v in &votes[s..e] {
                        let (bx, by) = unpack(v.2);
                        sources.push((bx * k, by * k));
                    }
                }
            }
        }
        sources.sort_unstable();
        sources.dedup();
        let (middles, side) = block_middles(&sources, k);
        let refined = refine_shift(res, w, h, &middles, side, (dx, dy), k);
        let Some((d, corr0)) = refined else {
            continue;
        };
        let d = pixels.polish_shift(&middles, side, d);
        // Both components multiples of 8: the JPEG 8x8 block artefacts of a
        // (re)compressed genuine photo correlate along the grid. We give up
        // the 1 in 64 copies that land on the grid rather than flag them.
        if corr0 < 0.2 || (d.0 % 8 == 0 && d.1 % 8 == 0) || pairs.iter().any(|p| p.d == d) {
            continue;
        }
        let Some(pair) = verify(&pixels, res, &sources, d, k, n_votes, &taken) else {
            continue;
        };
        for &c in &pair.cells {
            taken[c] = true;
        }
        pairs.push(pair);
    }
    pairs.sort_by(|a, b| b.cells.len().cmp(&a.cells.len()).then(a.d.cmp(&b.d)));
    (pairs, best_votes)
}

/// For one row of the sub-block means plane and every block column `bx`,
/// the first three rows of the 4-point Walsh–Hadamard transform, in
/// sequency order ([1 1 1 1], [1 1 −1 −1], [1 −1 −1 1]), of the four means
/// at `bx + 4i`, with their sum of squares (about 128, to keep f32 exact
/// enough), smallest and largest, and the sum of absolute differences of
/// adjacent ones.
struct RowTransform {
    wht: [Vec<f32>; 3],
    squares: Vec<f32>,
    steps: Vec<f32>,
    min: Vec<f32>,
    max: Vec<f32>,
}

impl RowTransform {
    fn new(n: usize) -> Self {
        Self {
            wht: std::array::from_fn(|_| vec![0.0; n]),
            squares: vec![0.0; n],
            steps: vec![0.0; n],
            min: vec![0.0; n],
            max: vec![0.0; n],
        }
    }

    fn compute(&mut self, means: &[f32]) {
        let n = self.min.len();
        let (r0, r1, r2, r3) = (
            &means[..n],
            &means[SUB..][..n],
            &means[2 * SUB..][..n],
            &means[3 * SUB..][..n],
        );
        let [w0, w1, w2] = &mut self.wht;
        for x in 0..n {
            let r = [r0[x], r1[x], r2[x], r3[x]];
            w0[x] = r[0] + r[1] + r[2] + r[3];
            w1[x] = r[0] + r[1] - r[2] - r[3];
            w2[x] = r[0] - r[1] - r[2] + r[3];
            let c = r.map(|v| v - 128.0);
            self.squares[x] = c[0] * c[0] + c[1] * c[1] + c[2] * c[2] + c[3] * c[3];
            self.steps[x] = (r[1] - r[0]).abs() + (r[2] - r[1]).abs() + (r[3] - r[2]).abs();
            self.min[x] = r[0].min(r[1]).min(r[2].min(r[3]));
            self.max[x] = r[0].max(r[1]).max(r[2].max(r[3]));
        }
    }
}

/// For one row of blocks: the sort-key coefficients and the statistics of
/// each block's 4x4 sub-block means, combined from the row transforms of
/// its four rows of means.
struct BlockRow {
    /// The 8 low-sequency coefficients (u, v) of [`KEY_COEFFICIENTS`].
    coef: [Vec<f32>; 8],
    variance: Vec<f32>,
    min: Vec<f32>,
    max: Vec<f32>,
    /// Mean absolute difference of adjacent sub-block means (grey levels
    /// per sub-block step).
    gradient: Vec<f32>,
    /// Sort keys: the coefficients quantised (the mean with a coarser
    /// step) and packed so that one integer comparison orders blocks as the
    /// coefficients would lexicographically.
    keys: Vec<u64>,
    /// Absolute differences of vertically adjacent means, one row.
    vertical_steps: Vec<f32>,
    /// Scratch: per block, one sum of those differences.
    sums: Vec<f32>,
}

/// `out[x] = f(a[x], b[x], c[x], d[x])` for the four planes, each at least
/// as long as `out` (sliced first, so that the loop has no bounds checks
/// and vectorises).
fn combine4(out: &mut [f32], planes: [&[f32]; 4], f: impl Fn(f32, f32, f32, f32) -> f32) {
    let n = out.len();
    let [a, b, c, d] = planes.map(|p| &p[..n]);
    for ((((o, &a), &b), &c), &d) in out.iter_mut().zip(a).zip(b).zip(c).zip(d) {
        *o = f(a, b, c, d);
    }
}

/// The largest absolute difference of two blocks' sub-block means, without
/// an early exit so that it compiles to a few vector instructions.
fn largest_difference(a: &[f32; 16], b: &[f32; 16]) -> f32 {
    a.iter().zip(b).fold(0.0f32, |m, (p, q)| {
        let d = (p - q).abs();
        if d > m {
            d
        } else {
            m
        }
    })
}

/// The Walsh–Hadamard coefficients (row sequency u, column sequency v) of
/// the sort key, in key order: the mean first, then the lowest sequencies.
const KEY_COEFFICIENTS: [(usize, usize); 8] = [
    (0, 0),
    (1, 0),
    (0, 1),
    (1, 1),
    (2, 0),
    (0, 2),
    (2, 1),
    (1, 2),
];

impl BlockRow {
    fn new(n: usize, means_width: usize) -> Self {
        Self {
            coef: std::array::from_fn(|_| vec![0.0; n]),
            variance: vec![0.0; n],
            min: vec![0.0; n],
            max: vec![0.0; n],
            gradient: vec![0.0; n],
            keys: vec![0; n],
            vertical_steps: vec![0.0; means_width],
            sums: vec![0.0; n],
        }
    }

    /// From the row transforms of the block row's four rows of means, and
    /// those rows.
    fn compute(&mut self, rows: [&RowTransform; 4], means: [&[f32]; 4]) {
        let column = |plane: fn(&RowTransform) -> &[f32]| rows.map(plane);
        for (out, &(u, v)) in self.coef.iter_mut().zip(&KEY_COEFFICIENTS) {
            let c = rows.map(|r| r.wht[u].as_slice());
            match v {
                0 => combine4(out, c, |a, b, c, d| (a + b + c + d) / 16.0),
                1 => combine4(out, c, |a, b, c, d| (a + b - c - d) / 16.0),
                _ => combine4(out, c, |a, b, c, d| (a - b - c + d) / 16.0),
            }
        }
        combine4(&mut self.variance, column(|r| &r.squares), |a, b, c, d| {
            a + b + c + d
        });
        for (var, &mean) in self.variance.iter_mut().zip(&self.coef[0]) {
            let centred_mean = mean - 128.0;
            *var = *var / 16.0 - centred_mean * centred_mean;
        }
        combine4(&mut self.min, column(|r| &r.min), |a, b, c, d| {
            a.min(b).min(c).min(d)
        });
        combine4(&mut self.max, column(|r| &r.max), |a, b, c, d| {
            a.max(b).max(c).max(d)
        });
        combine4(&mut self.gradient, column(|r| &r.steps), |a, b, c, d| {
            a + b + c + d
        });
        for pair in means.windows(2) {
            for ((v, a), b) in self.vertical_steps.iter_mut().zip(pair[0]).zip(pair[1]) {
                *v = (b - a).abs();
            }
            let v = &self.vertical_steps;
            let shifted = [0, SUB, 2 * SUB, 3 * SUB].map(|o| &v[o..]);
            let mut sums = std::mem::take(&mut self.sums);
            combine4(&mut sums, shifted, |a, b, c, d| a + b + c + d);
            for (g, s) in self.gradient.iter_mut().zip(&sums) {
                *g += s;
            }
            self.sums = sums;
        }
        for g in &mut self.gradient {
            *g /= 24.0;
        }
        // Floor without a libm call (the baseline x86-64 target has no
        // SSE4.1 rounding instruction). The mean over 8 is at most 32, the
        // others over 4 at most 32 in magnitude: each fits in a byte.
        self.keys.fill(0);
        for (i, coef) in self.coef.iter().enumerate() {
            let step = if i == 0 { 8.0 } else { 4.0 };
            for (key, &c) in self.keys.iter_mut().zip(coef) {
                let x = (c / step).clamp(-128.0, 127.0);
                let t = x as i32;
                let q = if (t as f32) > x { t - 1 } else { t };
                // Offset binary keeps the order of signed values.
                *key = (*key << 8) | u64::from(q as i8 as u8 ^ 0x80);
            }
        }
    }

    /// Flat blocks match everywhere; clipped ones carry no detail.
    fn informative(&self, x: usize) -> bool {
        self.variance[x] >= MIN_STD * MIN_STD && self.max[x] < 250.0 && self.min[x] > 3.0
    }
}

/// Normalised correlation of the residual at `p` and `p + d` over a square
/// patch at `(x, y)` of side `n`, and the two mean energies. `None` when the
/// patch or its shifted copy leaves the image.
fn patch_corr(
    res: &[f32],
    w: usize,
    h: usize,
    (x, y): (usize, usize),
    n: usize,
    d: (i64, i64),
) -> Option<(f32, f32, f32)> {
    let (tx, ty) = (x as i64 + d.0, y as i64 + d.1);
    if tx < 0 || ty < 0 {
        return None;
    }
    let (tx, ty) = (tx as usize, ty as usize);
    let (xe, ye) = ((x + n).min(w), (y + n).min(h));
    if xe <= x || ye <= y || tx + (xe - x) > w || ty + (ye - y) > h {
        return None;
    }
    let (mut sab, mut saa, mut sbb) = (0.0f32, 0.0f32, 0.0f32);
    for yy in 0..ye - y {
        let a = &res[(y + yy) * w + x..][..xe - x];
        let b = &res[(ty + yy) * w + tx..][..xe - x];
        for (p, q) in a.iter().zip(b) {
            sab += p * q;
            saa += p * p;
            sbb += q * q;
        }
    }
    let count = ((xe - x) * (ye - y)) as f32;
    let corr = if saa > 0.0 && sbb > 0.0 {
        sab / (saa * sbb).sqrt()
    } else {
        0.0
    };
    Some((corr, saa / count, sbb / count))
}

/// The middle squares of at most [`MAX_MIDDLES`] source blocks, and their
/// side (half the block, at most [`MIDDLE_SIDE`]): a block's border may lie
/// outside the copy, and a fixed side keeps the cost of the shift search
/// from growing with the downscale factor.
fn block_middles(sources: &[(usize, usize)], k: usize) -> (Vec<(usize, usize)>, usize) {
    let step = sources.len().div_ceil(MAX_MIDDLES).max(1);
    let block = BLOCK * k;
    let side = (block / 2).min(MIDDLE_SIDE);
    let inset = (block - side) / 2;
    let middles = sources
        .iter()
        .step_by(step)
        .map(|&(x, y)| (x + inset, y + inset))
        .collect();
    (middles, side)
}

/// The exact shift in original pixels: the reduced shift `dr` spans
/// `dr·k ± (k − 1)`; keep the offset whose residuals correlate best over
/// the middles of the source blocks ([`block_middles`]).
fn refine_shift(
    res: &[f32],
    w: usize,
    h: usize,
    middles: &[(usize, usize)],
    side: usize,
    dr: (i32, i32),
    k: usize,
) -> Option<((i64, i64), f32)> {
    let span = k as i64;
    let mut best: Option<((i64, i64), f32)> = None;
    for ey in -span..=span {
        for ex in -span..=span {
            let d = (
                i64::from(dr.0) * k as i64 + ex,
                i64::from(dr.1) * k as i64 + ey,
            );
            let (mut sum, mut n) = (0.0f32, 0usize);
            for &(px, py) in middles {
                if let Some((c, ea, eb)) = patch_corr(res, w, h, (px, py), side, d) {
                    if ea >= MIN_ENERGY && eb >= MIN_ENERGY {
                        sum += c;
                        n += 1;
                    }
                }
            }
            if n == 0 {
                continue;
            }
            let c = sum / n as f32;
            if best.is_none_or(|b| c > b.1) {
                best = Some((d, c));
            }
        }
    }
    best
}

/// The luma plane, for the pixel differences between a place and its copy.
struct Luma<'a> {
    pixels: &'a [f32],
    w: usize,
    h: usize,
}

impl Luma<'_> {
    /// RMS of the luma difference between the rectangle `[x0, x1) x [y0, y1)`
    /// and its copy at `d`; `None` when either leaves the image or it is
    /// empty.
    fn rect_difference(
        &self,
        (x0, y0, x1, y1): (usize, usize, usize, usize),
        d: (i64, i64),
    ) -> Option<f32> {
        let (w, h) = (self.w, self.h);
        let (tx, ty) = (x0 as i64 + d.0, y0 as i64 + d.1);
        if x1 <= x0 || y1 <= y0 || x1 > w || y1 > h || tx < 0 || ty < 0 {
            return None;
        }
        let (tx, ty, n) = (tx as usize, ty as usize, x1 - x0);
        if tx + n > w || ty + (y1 - y0) > h {
            return None;
        }
        let mut sum = 0.0f32;
        for y in 0..y1 - y0 {
            let a = &self.pixels[(y0 + y) * w + x0..][..n];
            let b = &self.pixels[(ty + y) * w + tx..][..n];
            sum += a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f32>();
        }
        Some((sum / (n * (y1 - y0)) as f32).sqrt())
    }

    /// The same for the `n x n` square at `(x, y)`.
    fn patch_difference(&self, (x, y): (usize, usize), n: usize, d: (i64, i64)) -> Option<f32> {
        self.rect_difference((x, y, x + n, y + n), d)
    }

    /// The same for 8x8 cell `c` of the map grid (clipped to the image).
    fn cell_difference(&self, c: usize, d: (i64, i64)) -> Option<f32> {
        let gw = self.w.div_ceil(CELL);
        let (x0, y0) = ((c % gw) * CELL, (c / gw) * CELL);
        self.rect_difference(
            (x0, y0, (x0 + CELL).min(self.w), (y0 + CELL).min(self.h)),
            d,
        )
    }

    /// How much better a cell matches its copy at exactly `d` than one pixel
    /// off: the difference at `d` over the smallest of the 8 around it
    /// (under 1 for copied pixels, about 1 or more for look-alike content).
    fn sharpness(&self, c: usize, d: (i64, i64)) -> Option<f32> {
        let at = self.cell_difference(c, d)?;
        let mut off = f32::MAX;
        for e in NEIGHBOURHOOD {
            off = off.min(self.cell_difference(c, (d.0 + e.0, d.1 + e.1))?);
        }
        // Flat or clipped pixels match everywhere: they cannot tell.
        (off >= MIN_OFF_DIFFERENCE).then_some(at / off)
    }

    /// How uniquely a region matches at `d`: the median cell difference at
    /// `d` over the smallest median at any other shift within 24 px of it
    /// (beyond the 8 neighbours). Periodic content (a facade, a fabric, a
    /// fence) also matches a period away; a copy matches only at its shift.
    fn uniqueness(&self, cells: &[usize], d: (i64, i64)) -> Option<f32> {
        let step = (cells.len() / 64).max(1);
        let sample: Vec<usize> = cells.iter().copied().step_by(step).collect();
        let median_at = |t: (i64, i64)| -> Option<f32> {
            let mut v: Vec<f32> = sample
                .iter()
                .filter_map(|&c| self.cell_difference(c, t))
                .collect();
            if v.len() * 2 < sample.len() {
                return None;
            }
            Some(median_in_place(&mut v))
        };
        let at = median_at(d)?;
        let mut other = f32::MAX;
        for ty in -24..=24i64 {
            for tx in -24..=24i64 {
                if tx.abs() <= 1 && ty.abs() <= 1 {
                    continue;
                }
                // A shift this short compares the region with itself (a
                // median near 0 that would reject any copy); copies closer
                // than MIN_SHIFT get no votes in the first place.
                let near = (d.0 + tx, d.1 + ty);
                if ((near.0 * near.0 + near.1 * near.1) as f32) < MIN_SHIFT * MIN_SHIFT {
                    continue;
                }
                if let Some(v) = median_at(near) {
                    other = other.min(v);
                }
            }
        }
        Some(at / other.max(1e-3))
    }

    /// Whether a region matches at `d` much better than anywhere near it.
    fn is_unique(&self, cells: &[usize], d: (i64, i64)) -> bool {
        self.uniqueness(cells, d).is_some_and(|u| u <= UNIQUENESS)
    }

    /// Move a refined shift to the neighbouring offset where the source
    /// blocks' pixels match their copies best (median RMS difference), up to
    /// two steps. The residual correlation peaks broadly once the copy was
    /// compressed again, and can settle one pixel off; the pixel difference
    /// is sharpest at the exact shift.
    fn polish_shift(&self, middles: &[(usize, usize)], side: usize, d: (i64, i64)) -> (i64, i64) {
        let median_difference = |d: (i64, i64)| -> f32 {
            let mut diffs: Vec<f32> = middles
                .iter()
                .filter_map(|&p| self.patch_difference(p, side, d))
                .collect();
            if diffs.is_empty() {
                f32::MAX
            } else {
                median_in_place(&mut diffs)
            }
        };
        let mut best = (d, median_difference(d));
        for _ in 0..2 {
            let centre = best.0;
            for e in NEIGHBOURHOOD {
                let t = (centre.0 + e.0, centre.1 + e.1);
                let v = median_difference(t);
                if v < best.1 {
                    best = (t, v);
                }
            }
            if best.0 == centre {
                break;
            }
        }
        best.0
    }
}

/// A cell joining a region: its index, residual correlation (0 when not
/// measurable) and pixel sharpness when it was measured to let it join.
type Joined = (usize, f32, Option<f32>);

/// Verify a shift at full resolution: grow the region of 8x8 cells whose
/// residual correlates with its shifted copy, from seeds under the source
/// blocks; reject small, huge and periodic regions.
fn verify(
    luma: &Luma<'_>,
    res: &[f32],
    sources: &[(usize, usize)],
    d: (i64, i64),
    k: usize,
    votes: usize,
    taken: &[bool],
) -> Option<Pair> {
    let (w, h) = (luma.w, luma.h);
    let (gw, gh) = (w.div_ceil(CELL), h.div_ceil(CELL));
    let total = gw * gh;
    let max_cells = (MAX_REGION_SHARE * total as f32) as usize;
    // Correlation of one cell; None = nothing to compare (flat, clipped or
    // out of the image).
    let cell_corr = |c: usize, d: (i64, i64)| -> Option<f32> {
        let (cx, cy) = (c % gw, c / gw);
        // 12x12 window around the 8x8 cell: 144 samples keep the chance
        // correlation of unrelated noise near 0.08 (one standard deviation).
        let (x, y) = ((cx * CELL).saturating_sub(2), (cy * CELL).saturating_sub(2));
        let (c, ea, eb) = patch_corr(res, w, h, (x, y), CELL + 4, d)?;
        (ea >= MIN_ENERGY && eb >= MIN_ENERGY).then_some(c)
    };
    // A cell joins when its residual correlates with the copy's, or when its
    // pixels match the copy's sharply (the residual of a copy compressed
    // again on another grid phase may correlate little); its correlation
    // (0 when not measurable) enters the region's mean, and its pixel
    // sharpness is kept when it had to be measured.
    let joins = |c: usize, min_corr: f32, max_sharpness: f32| -> Option<Joined> {
        let corr = cell_corr(c, d);
        if corr.is_some_and(|v| v >= min_corr) {
            return Some((c, corr.unwrap_or(0.0), None));
        }
        let sharpness = luma.sharpness(c, d).filter(|&r| r < max_sharpness)?;
        Some((c, corr.unwrap_or(0.0), Some(sharpness)))
    };
    // 0 unseen, 1 in the region, 2 rejected.
    let mut state = vec![0u8; total];
    let mut stack: Vec<Joined> = Vec::new();
    let mut consider = |c: usize, min_corr: f32, max_sharpness: f32, stack: &mut Vec<Joined>| {
        if state[c] != 0 || taken[c] {
            return;
        }
        match joins(c, min_corr, max_sharpness) {
            Some(joined) => {
                state[c] = 1;
                stack.push(joined);
            }
            None => state[c] = 2,
        }
    };
    // Seeds: cells under the middle of the source blocks.
    let side = BLOCK * k;
    for &(x, y) in sources {
        let (px, py) = (x + side / 2, y + side / 2);
        let c = (py / CELL).min(gh - 1) * gw + (px / CELL).min(gw - 1);
        consider(c, SEED_CORR, SEED_SHARPNESS, &mut stack);
    }
    let mut cells = Vec::new();
    let mut measured = Vec::new();
    let mut sum = 0.0f32;
    while let Some((c, v, sharpness)) = stack.pop() {
        cells.push(c);
        measured.push(sharpness);
        sum += v;
        if cells.len() > max_cells {
            return None;
        }
        let (cx, cy) = (c % gw, c / gw);
        let mut near = [usize::MAX; 4];
        if cx > 0 {
            near[0] = c - 1;
        }
        if cx + 1 < gw {
            near[1] = c + 1;
        }
        if cy > 0 {
            near[2] = c - gw;
        }
        if cy + 1 < gh {
            near[3] = c + gw;
        }
        for j in near {
            if j != usize::MAX {
                consider(j, GROW_CORR, CELL_SHARPNESS, &mut stack);
            }
        }
    }
    if cells.len() < MIN_CELLS {
        return None;
    }
    let corr = sum / cells.len() as f32;
    // Mean correlation of the region's cells at another shift, and how many
    // cells it could be measured on (the shift may leave the image).
    let mean_at = |test: (i64, i64)| -> (f32, usize) {
        let (mut s, mut n) = (0.0f32, 0usize);
        for &c in &cells {
            if let Some(v) = cell_corr(c, test) {
                s += v;
                n += 1;
            }
        }
        (s / n.max(1) as f32, n)
    };
    // A period of the content correlates at 2d and at −d as well; one copy
    // does not. Cells where the test shift leaves the image do not count.
    for test in [(2 * d.0, 2 * d.1), (-d.0, -d.1)] {
        let (mean, n) = mean_at(test);
        if n * 4 >= cells.len() && mean >= PERIODIC_RATIO * corr {
            return None;
        }
    }
    // Copied pixels match at the exact shift and not one pixel off it;
    // look-alike content matches as well next to the shift (an edge along
    // itself, a texture, JPEG-smoothed detail). The residual correlation
    // cannot tell them apart once the copy was compressed again on another
    // grid phase (its noise is then correlated over neighbouring pixels),
    // the pixel differences can.
    let mut ratios: Vec<(usize, f32)> = cells
        .iter()
        .zip(&measured)
        .filter_map(|(&c, &known)| known.or_else(|| luma.sharpness(c, d)).map(|r| (c, r)))
        .collect();
    if ratios.len() < MIN_CELLS {
        return None;
    }
    let mut values: Vec<f32> = ratios.iter().map(|&(_, r)| r).collect();
    let whole = median_in_place(&mut values);
    // A copy made with a soft brush blends into its surroundings: the grown
    // region is then mostly blend, and only its core matches sharply. The
    // core must then be a region of its own, and match uniquely as well as
    // the whole region (cells picked for their match would favour the shift
    // in periodic content).
    let sharpness = if whole <= LUMA_SHARPNESS {
        whole
    } else {
        let (core, mut core_ratios): (Vec<usize>, Vec<f32>) = ratios
            .iter()
            .filter(|&&(_, r)| r < SEED_SHARPNESS)
            .copied()
            .unzip();
        if core.len() < MIN_CELLS || !luma.is_unique(&core, d) {
            return None;
        }
        median_in_place(&mut core_ratios)
    };
    if !luma.is_unique(&cells, d) {
        return None;
    }
    // The region grown on the residual reaches into neighbouring cells that
    // correlate by chance; keep the cells whose pixels match.
    ratios.retain(|&(_, r)| r < MATCHED_CELL);
    let mut cells: Vec<usize> = ratios.into_iter().map(|(c, _)| c).collect();
    if cells.len() < MIN_CELLS {
        return None;
    }
    cells.sort_unstable();
    let extent = copied_extent(luma, &cells, d);
    Some(Pair {
        d,
        cells,
        corr,
        sharpness,
        votes,
        extent,
    })
}

/// The verified cells and the cells around them, within [`EXTENT_MARGIN`]
/// cells of their box and connected to them, whose pixels equal their
/// copy's ([`copied_at`]: an RMS difference at the shift within
/// [`EXTENT_TOLERANCE`] times the verified cells' median, and clearly below
/// the difference a cell further).
/// Verification keeps only textured cells that match sharply; the copy also
/// holds smooth cells and cells along its edge, which say nothing about a
/// shift once the copy is known but do show its extent. A smooth
/// surrounding that looks the same at both places could be taken in too,
/// hence the margin.
fn copied_extent(luma: &Luma<'_>, cells: &[usize], d: (i64, i64)) -> Vec<usize> {
    let gw = luma.w.div_ceil(CELL);
    let gh = luma.h.div_ceil(CELL);
    let mut diffs: Vec<f32> = cells
        .iter()
        .filter_map(|&c| luma.cell_difference(c, d))
        .collect();
    if diffs.is_empty() || gw == 0 {
        return cells.to_vec();
    }
    let tolerance = (EXTENT_TOLERANCE * median_in_place(&mut diffs))
        .clamp(EXTENT_MIN_DIFFERENCE, EXTENT_MAX_DIFFERENCE);
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for &c in cells {
        let (cx, cy) = (c % gw, c / gw);
        (x0, y0, x1, y1) = (x0.min(cx), y0.min(cy), x1.max(cx), y1.max(cy));
    }
    let (x0, y0) = (
        x0.saturating_sub(EXTENT_MARGIN),
        y0.saturating_sub(EXTENT_MARGIN),
    );
    let (x1, y1) = (
        (x1 + EXTENT_MARGIN).min(gw - 1),
        (y1 + EXTENT_MARGIN).min(gh - 1),
    );
    // Every cell is tested once: a rejected cell next to several accepted
    // ones is not measured again.
    let mut seen = vec![false; gw * gh];
    let mut stack: Vec<usize> = cells.to_vec();
    for &c in cells {
        seen[c] = true;
    }
    let mut extent = Vec::with_capacity(cells.len());
    while let Some(c) = stack.pop() {
        extent.push(c);
        let (cx, cy) = (c % gw, c / gw);
        let near = [
            (cx > x0).then(|| c - 1),
            (cx < x1).then(|| c + 1),
            (cy > y0).then(|| c - gw),
            (cy < y1).then(|| c + gw),
        ];
        for j in near.into_iter().flatten() {
            if !seen[j] {
                seen[j] = true;
                if copied_at(luma, j, d, tolerance) {
                    stack.push(j);
                }
            }
        }
    }
    extent.sort_unstable();
    extent
}

/// Whether cell `c` equals its copy at `d`: the RMS difference is within
/// `tolerance` and under [`EXTENT_CONTRAST`] times the smallest difference
/// at the shift moved by two cells (16 px) along either axis, which must be
/// at least [`MIN_OFF_DIFFERENCE`]. A smooth or evenly noisy surface (a
/// painted panel, a casing) differs from itself as much at any shift, so
/// the place next to a copy is not taken for it; a plain area shows no
/// copy either way (it joins only when the copy encloses it).
fn copied_at(luma: &Luma<'_>, c: usize, d: (i64, i64), tolerance: f32) -> bool {
    let Some(at) = luma.cell_difference(c, d).filter(|&at| at <= tolerance) else {
        return false;
    };
    let step = 2 * CELL as i64;
    let off = [(step, 0), (-step, 0), (0, step), (0, -step)]
        .iter()
        .filter_map(|&(x, y)| luma.cell_difference(c, (d.0 + x, d.1 + y)))
        .fold(f32::MAX, f32::min);
    (MIN_OFF_DIFFERENCE..f32::MAX).contains(&off) && at <= EXTENT_CONTRAST * off
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::test_noise as noise;
    use image::RgbImage;

    fn run_on(img: &RgbImage) -> DetectorOutput {
        crate::detectors::run_on_pixels(img, run)
    }

    /// A camera-like image: a smoothed random field (non-repetitive
    /// texture) plus per-pixel noise.
    fn camera_like(w: u32, h: u32, seed: u64) -> RgbImage {
        let (wu, hu) = (w as usize, h as usize);
        let mut s = seed;
        let mut field: Vec<f32> = (0..wu * hu).map(|_| noise(&mut s)).collect();
        // Three box blurs of radius 4: a smooth, non-periodic texture.
        for _ in 0..3 {
            let mut tmp = field.clone();
            for y in 0..hu {
                for x in 0..wu {
                    let (x0, x1) = (x.saturating_sub(4), (x + 5).min(wu));
                    tmp[y * wu + x] =
                        field[y * wu + x0..y * wu + x1].iter().sum::<f32>() / (x1 - x0) as f32;
                }
            }
            for y in 0..hu {
                for x in 0..wu {
                    let (y0, y1) = (y.saturating_sub(4), (y + 5).min(hu));
                    field[y * wu + x] =
                        (y0..y1).map(|yy| tmp[yy * wu + x]).sum::<f32>() / (y1 - y0) as f32;
                }
            }
        }
        RgbImage::from_fn(w, h, |x, y| {
            let base = 128.0 + 600.0 * field[y as usize * wu + x as usize];
            let n = 8.0 * noise(&mut s);
            let v = |o: f32| (base + o + n).clamp(0.0, 255.0) as u8;
            image::Rgb([v(8.0), v(0.0), v(-8.0)])
        })
    }

    fn copy_region(img: &mut RgbImage, from: (u32, u32), to: (u32, u32), side: u32) {
        let src = img.clone();
        for y in 0..side {
            for x in 0..side {
                let p = *src.get_pixel(from.0 + x, from.1 + y);
                img.put_pixel(to.0 + x, to.1 + y, p);
            }
        }
    }

    fn jpeg(img: &RgbImage, quality: u8) -> RgbImage {
        let mut buf = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality)
            .encode_image(img)
            .expect("encode");
        image::load_from_memory(&buf).expect("decode").to_rgb8()
    }

    fn region_values(map: &Heatmap, x0: u32, y0: u32, side: u32) -> Vec<f32> {
        let mut v = Vec::new();
        for y in (y0 + 8..y0 + side - 8).step_by(4) {
            for x in (x0 + 8..x0 + side - 8).step_by(4) {
                v.push(map.at(x, y));
            }
        }
        v
    }

    #[test]
    fn copied_region_is_found_and_only_there() {
        let from = (40, 50);
        let to = (173, 141);
        // Also once compressed after the copy, which lands on another 8x8
        // grid phase: the copy's noise is then rounded differently.
        for quality in [None, Some(95)] {
            let mut img = camera_like(320, 256, 3);
            copy_region(&mut img, from, to, 48);
            let img = quality.map_or(img.clone(), |q| jpeg(&img, q));
            let out = run_on(&img);
            let map = out.map.expect("map");
            assert!(!out.findings.is_empty(), "{quality:?}: {:?}", out.features);
            // Uncompressed, every cell matches; once compressed, a cell of
            // flat noise may not match better at the shift than next to it.
            let share = if quality.is_none() { 1.0 } else { 0.85 };
            // The copy interrupts the texture around it; the source's
            // surroundings continue it: uncompressed, the copy is named,
            // flagged, and the source shown. Compressed again, the edge
            // test may leave the pair open (both flagged), never name the
            // source.
            let first = &out.findings[0];
            let named = first.message.contains("is the copy by the edge test");
            assert!(named || quality.is_some(), "{first:?}");
            let near = |r: Option<Region>, (x, y): (u32, u32)| {
                r.is_some_and(|r| r.x.abs_diff(x) < 8 && r.y.abs_diff(y) < 8)
            };
            if named {
                assert!(near(first.region, to), "{quality:?}: {first:?}");
                // The source: a note with no score, boxed where it is.
                let second = &out.findings[1];
                assert!(
                    second.class == Class::None && second.score == 0.0 && near(second.region, from),
                    "{quality:?}: {second:?}"
                );
            }
            let source_lowest = if named { SOURCE_MARK } else { 0.5 };
            for (x, y, lowest) in [(from.0, from.1, source_lowest), (to.0, to.1, 0.5)] {
                let v = region_values(&map, x, y, 48);
                let marked = v.iter().filter(|&&v| v >= lowest).count();
                assert!(
                    marked as f32 >= share * v.len() as f32,
                    "{quality:?} ({x},{y}) {v:?}"
                );
            }
            let source = region_values(&map, from.0, from.1, 48);
            assert!(
                !named || source.iter().all(|&v| v < 0.5),
                "{quality:?} {source:?}"
            );
            for y in (0..256).step_by(4) {
                for x in (0..320).step_by(4) {
                    let near = |(a, b): (u32, u32)| {
                        x + 8 >= a && x < a + 48 + 8 && y + 8 >= b && y < b + 48 + 8
                    };
                    if !near(from) && !near(to) {
                        assert!(map.at(x, y) < 0.5, "{quality:?} ({x},{y})");
                    }
                }
            }
        }
    }

    /// A copy whose left part is smooth (a blurred surface, too smooth for
    /// a pixel-sharp match): only its textured cells can be verified, and
    /// the map shows the smooth part too, at both places (flagged at the
    /// copy, shown at the source), and nothing around them.
    #[test]
    fn the_smooth_part_of_a_copy_is_shown_with_it() {
        let (from, to, side) = ((32u32, 40u32), (200u32, 140u32), 96u32);
        let mut img = camera_like(320, 256, 5);
        let sharp = img.clone();
        for y in from.1..from.1 + side {
            for x in from.0..from.0 + 24 {
                let mut sum = [0u32; 3];
                for (dx, dy) in (0..49).map(|i| (i % 7, i / 7)) {
                    let p = sharp.get_pixel(x + dx - 3, y + dy - 3);
                    for (s, v) in sum.iter_mut().zip(p.0) {
                        *s += u32::from(v);
                    }
                }
                img.put_pixel(x, y, image::Rgb(sum.map(|s| (s / 49) as u8)));
            }
        }
        copy_region(&mut img, from, to, side);
        let out = run_on(&img);
        let map = out.map.expect("map");
        for ((x0, y0), lowest) in [(from, SOURCE_MARK), (to, 0.5)] {
            for y in (y0 + 4..y0 + side - 4).step_by(8) {
                for x in (x0 + 4..x0 + 20).step_by(8) {
                    assert!(map.at(x, y) >= lowest, "smooth part at ({x},{y})");
                }
            }
            for y in (y0 + 4..y0 + side - 4).step_by(8) {
                assert!(map.at(x0 - 12, y) < 0.1, "left of the copy at {y}");
            }
        }
    }

    /// A copy on an evenly noisy surface (a painted panel) saved as JPEG:
    /// the surface around both places differs from itself as little as the
    /// copy does from its source, and must not be shown as copied.
    #[test]
    fn the_surface_around_a_copy_is_not_shown_with_it() {
        let (w, h) = (560u32, 420u32);
        let mut s = 17u64;
        let stain = camera_like(96, 96, 9);
        let mut img = RgbImage::from_fn(w, h, |_, _| {
            // Uniform noise of σ = 2 grey levels.
            let n = 4.0 * 3.0f32.sqrt() * noise(&mut s);
            let v = |c: f32| (c + n).round().clamp(0.0, 255.0) as u8;
            image::Rgb([v(150.0), v(142.0), v(134.0)])
        });
        for (x, y, p) in stain.enumerate_pixels() {
            img.put_pixel(100 + x, 100 + y, *p);
        }
        let (from, to, side) = ((92u32, 92u32), (380u32, 240u32), 112u32);
        copy_region(&mut img, from, to, side);
        let img = jpeg(&img, 95);
        let out = run_on(&img);
        assert!(!out.findings.is_empty(), "{:?}", out.features);
        let map = out.map.expect("map");
        let near = |x: u32, y: u32, (a, b): (u32, u32)| {
            x + 8 >= a && x < a + side + 8 && y + 8 >= b && y < b + side + 8
        };
        let outside = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .filter(|&(x, y)| !near(x, y, from) && !near(x, y, to) && map.at(x, y) >= 0.5)
            .count();
        assert!(outside < 1000, "{outside} px flagged around the copy");
    }

    /// A copy in an even noise field: the surroundings of both places look
    /// alike, the edge test leaves the pair open, and both places are
    /// flagged and scored alike.
    #[test]
    fn a_pair_the_edge_cannot_tell_keeps_both_places() {
        let (from, to, side) = ((40u32, 48u32), (203u32, 117u32), 64u32);
        // Noise blurred by a 3x3 box: texture at the scale of a few pixels,
        // the same everywhere.
        let (w, h) = (320usize, 256usize);
        let mut s = 29u64;
        let field: Vec<f32> = (0..w * h).map(|_| 60.0 * noise(&mut s)).collect();
        let mut img = RgbImage::from_fn(w as u32, h as u32, |x, y| {
            let (x, y) = (x as usize, y as usize);
            let mut sum = 0.0;
            for yy in y.saturating_sub(1)..(y + 2).min(h) {
                for xx in x.saturating_sub(1)..(x + 2).min(w) {
                    sum += field[yy * w + xx];
                }
            }
            let v = (128.0 + sum / 9.0).round().clamp(0.0, 255.0) as u8;
            image::Rgb([v, v, v])
        });
        copy_region(&mut img, from, to, side);
        let out = run_on(&img);
        let found: Vec<&Finding> = out
            .findings
            .iter()
            .filter(|f| f.code == "copy_move.duplicated_region")
            .collect();
        assert_eq!(found.len(), 2, "{:?}", out.features);
        for f in &found {
            assert!(f.message.contains("one of the two was copied"), "{f:?}");
            assert!(f.class == Class::Edited && f.score >= 0.5, "{f:?}");
        }
        let map = out.map.expect("map");
        for (x, y) in [from, to] {
            let v = region_values(&map, x, y, side);
            assert!(v.iter().all(|&v| v >= 0.5), "({x},{y}) {v:?}");
        }
    }

    #[test]
    fn copy_with_soft_edges_is_found() {
        // A clone-stamp brush: full strength in the middle, fading to
        // nothing over the outer half of the radius, so that most of the
        // region matching the source is blend.
        let (from, to, side) = ((30u32, 40u32), (190u32, 150u32), 96u32);
        for quality in [None, Some(95)] {
            let mut img = camera_like(320, 256, 11);
            let src = img.clone();
            let r = side as f32 / 2.0;
            for y in 0..side {
                for x in 0..side {
                    let dist = ((x as f32 + 0.5 - r).powi(2) + (y as f32 + 0.5 - r).powi(2)).sqrt();
                    let alpha = ((r - dist) / (r * 0.5)).clamp(0.0, 1.0);
                    let a = src.get_pixel(from.0 + x, from.1 + y).0;
                    let b = src.get_pixel(to.0 + x, to.1 + y).0;
                    let mixed = std::array::from_fn(|c| {
                        (alpha * f32::from(a[c]) + (1.0 - alpha) * f32::from(b[c])).round() as u8
                    });
                    img.put_pixel(to.0 + x, to.1 + y, image::Rgb(mixed));
                }
            }
            let img = quality.map_or(img.clone(), |q| jpeg(&img, q));
            let out = run_on(&img);
            let finding = out.findings.first().expect("the copy is found");
            let region = finding.region.expect("boxed");
            // The box lies on the copy (its centre within the brush).
            let (cx, cy) = (region.x + region.width / 2, region.y + region.height / 2);
            assert!(
                cx.abs_diff(to.0 + side / 2) < side / 3 && cy.abs_diff(to.1 + side / 2) < side / 3,
                "{quality:?} {region:?}"
            );
        }
    }

    #[test]
    fn genuine_image_is_not_flagged() {
        for quality in [None, Some(90), Some(60)] {
            let img = camera_like(320, 256, 3);
            let img = quality.map_or(img.clone(), |q| jpeg(&img, q));
            let out = run_on(&img);
            assert!(out.findings.is_empty(), "{quality:?}");
            assert!(out.map.expect("map").values.iter().all(|&v| v < 0.5));
        }
    }

    #[test]
    fn periodic_textures_are_not_flagged() {
        let mut seed = 7u64;
        let checker = RgbImage::from_fn(320, 256, |x, y| {
            let v = if (x / 16 + y / 16) % 2 == 0 {
                80.0
            } else {
                170.0
            };
            let g = (v + 12.0 * noise(&mut seed)) as u8;
            image::Rgb([g, g, g])
        });
        let stripes = RgbImage::from_fn(320, 256, |x, y| {
            let v = 128.0 + 60.0 * (x as f32 * 0.31 + y as f32 * 0.05).sin();
            let g = (v + 10.0 * noise(&mut seed)) as u8;
            image::Rgb([g, g, g])
        });
        let bricks = RgbImage::from_fn(320, 256, |x, y| {
            let off = if (y / 20) % 2 == 0 { 0 } else { 20 };
            let mortar = y % 20 < 3 || (x + off) % 40 < 3;
            let v = if mortar {
                200.0
            } else {
                90.0 + 10.0 * ((x + off) % 40) as f32 / 40.0
            };
            let g = (v + 10.0 * noise(&mut seed)) as u8;
            image::Rgb([g, (g as f32 * 0.8) as u8, (g as f32 * 0.6) as u8])
        });
        for (name, img) in [
            ("checker", checker),
            ("stripes", stripes),
            ("bricks", bricks),
        ] {
            for quality in [None, Some(80)] {
                let img = quality.map_or(img.clone(), |q| jpeg(&img, q));
                let out = run_on(&img);
                assert!(out.findings.is_empty(), "{name} {quality:?}");
                assert!(
                    out.map.expect("map").values.iter().all(|&v| v < 0.5),
                    "{name} {quality:?}"
                );
            }
        }
    }

    #[test]
    fn flat_and_tiny_images_do_not_panic() {
        for (w, h) in [
            (1, 1),
            (7, 5),
            (3, 80),
            (80, 3),
            (31, 64),
            (64, 64),
            (97, 65),
        ] {
            let mut seed = 1u64;
            let img = RgbImage::from_fn(w, h, |_, _| {
                let v = (128.0 + 50.0 * noise(&mut seed)) as u8;
                image::Rgb([v, v, v])
            });
            let out = run_on(&img);
            assert!(out.findings.is_empty());
            assert!(out.features.iter().all(|f| f.1.is_finite()));
        }
        let flat = RgbImage::from_pixel(300, 200, image::Rgb([120, 120, 120]));
        let out = run_on(&flat);
        assert!(out.findings.is_empty());
        assert!(out.map.expect("map").values.iter().all(|&v| v < 0.5));
    }
}
