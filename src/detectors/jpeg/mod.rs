//! JPEG forensics: quantisation tables, double compression, the 8x8 block
//! grid and error level analysis.
//!
//! - **Tables** ([`estimate_quality`]): the IJG-equivalent quality and whether
//!   the tables are the standard IJG ones (libjpeg, Pillow, editors, web
//!   pipelines) or a camera's own. Re-saving is normal, so this is context only.
//! - **Double compression** (Bianchi & Piva 2012; Lin et al. 2009): a photo
//!   re-saved as JPEG keeps the periodic trace of its first quantisation in
//!   the DCT histograms; content pasted or painted in before the re-save does
//!   not. The map flags blocks that were compressed once inside a doubly
//!   compressed image.
//! - **Block grid** (Li, Yuan & Yu 2009): windows whose 8x8 grid is shifted
//!   against the image's grid.
//! - **Quantisation lattice** (Fan & de Queiroz 2003), for pixels stored
//!   without their JPEG file (PNG, WebP, ...): a decoded JPEG keeps its DCT
//!   coefficients on multiples of the steps; content changed after the
//!   decoding falls off the lattice. The map flags those blocks. The same
//!   test runs in a JPEG file saved with fine steps whose blocking shows an
//!   earlier grid (a coarser JPEG cropped between the saves: non-aligned
//!   double compression, Bianchi & Piva 2012).
//! - **Error level analysis** (Krawetz 2007): supporting map only.

mod dct;
mod double;
mod ela;
mod grid;
mod lattice;
mod tables;

pub use tables::{estimate_quality, ijg_table, QualityEstimate, IJG_CHROMA, IJG_LUMA};

use super::{residual, DetectorOutput, PixelContext};
use crate::decode::Format;
use crate::report::{Class, DetectorKind, Finding, Heatmap, Region};

/// Side of a map cell: one JPEG block.
const CELL: u32 = 8;
/// Smoothed log-likelihood (nats, summed over a 3x3 neighbourhood of blocks)
/// at which a block is as likely singly as doubly compressed in the map:
/// the map crosses 0.5 at `-SINGLE_LLR`, so a block needs clear evidence.
const SINGLE_LLR: f32 = 6.0;
/// Nats per unit of the map's logistic slope.
const LLR_SLOPE: f32 = 3.0;
/// Fewest doubly compressed frequencies for the image to count as doubly
/// compressed (one frequency alone can be a misfit of the histogram).
const MIN_MODELS: usize = 2;
/// Smallest flagged region, in blocks (6 blocks = 384 pixels).
const MIN_REGION_BLOCKS: usize = 6;
/// A flagged area above this share of the image is not a local edit: the
/// whole image has one history and the model does not fit it. Global
/// processing between the two compressions (a vignette, sharpening, local
/// tone mapping) erases the first compression's traces wherever it changes
/// the pixels most, which on genuine photos flagged 10-40% of the blocks;
/// the pasted and painted regions of the development corpus flag at most 15%.
const MAX_REGION_SHARE: f32 = 0.2;
/// Global grid z-score from which the image shows a JPEG grid at all.
const MIN_GRID_STRENGTH: f32 = 8.0;
/// Share of grid windows off the global phase above which misalignment is
/// global (a cropped earlier JPEG) rather than local.
const MAX_MISALIGNED_SHARE: f32 = 0.25;
/// Regions reported as boxes, largest first.
const MAX_REGIONS: usize = 5;
/// Pixels with a channel at 0 or 255 in a block from which its DCT no
/// longer follows the quantisation lattice.
const MAX_CLIPPED: usize = 8;
/// The same for the lattice test, which reads every coefficient against a
/// tolerance of 0.75: a single channel clipped at 0 or 255 moves the luma,
/// and the block's low frequencies, off the lattice.
const LATTICE_MAX_CLIPPED: usize = 1;

/// Run the JPEG detector.
///
/// Features (`jpeg.*`): `applicable` (1 = JPEG file, 0.5 = non-JPEG pixels
/// with a visible JPEG grid or quantisation lattice, 0 = neither),
/// `quality` (IJG-equivalent, 0 when unknown), `standard_table` (1 =
/// IJG-scaled tables), `double_compression` (share of studied DCT
/// frequencies with a previous quantisation), `dq_gain` (nats per
/// coefficient), `single_share` (share of blocks flagged as singly
/// compressed), `grid_strength`, `grid_misaligned_share`,
/// `ela_outlier_share`, `lattice_steps` (for pixels without their JPEG
/// file: share of the 15 low AC frequencies that keep a quantisation lattice).
///
/// The map has one cell per 8x8 block; 1.0 = most suspicious, ≥ 0.5 only
/// for blocks with clear evidence. Findings of class `Edited` need local
/// inconsistency; double compression of the whole image alone is reported
/// with class `None`.
#[must_use]
pub fn run(ctx: &PixelContext<'_>) -> DetectorOutput {
    let mut out = DetectorOutput::empty(DetectorKind::Jpeg);
    let (w, h) = (ctx.width as usize, ctx.height as usize);
    if w < 16 || h < 16 || ctx.luma.len() < w * h {
        out.features.push(("jpeg.applicable", 0.0));
        return out;
    }
    let quality = estimate_quality(ctx.quant_tables);
    let luma_table = ctx
        .quant_tables
        .iter()
        .find(|t| t.id == 0)
        .or(ctx.quant_tables.first())
        .filter(|_| quality.is_some());
    let is_jpeg = ctx.format == Some(Format::Jpeg) && luma_table.is_some();

    let grid = grid::analyze(ctx.luma, w, h);
    let grid_visible = grid.strength >= MIN_GRID_STRENGTH;
    // Where the blocking shows a grid, blocks start one pixel after its
    // boundaries.
    let grid_origin = (
        (usize::from(grid.phase.0) + 1) % 8,
        (usize::from(grid.phase.1) + 1) % 8,
    );
    // The low frequencies of the blocks on a JPEG file's own grid, which the
    // double-compression test reads (and the lattice test, below).
    let own_grid = is_jpeg.then(|| dct::low_frequencies(ctx.luma, w, h, 0, 0));
    let own_clipped = own_grid
        .as_ref()
        .map(|(_, bw, bh)| clipped_counts(ctx.rgb, w, (*bw, *bh), (0, 0)));
    // Pixels without their JPEG file: look for the lattice on the grid the
    // blocking shows (a crop moves it), else on the image's origin. A JPEG
    // file saved with fine steps: if its strongest blocking is off its own
    // grid, an earlier, coarser JPEG was cropped between the two saves
    // (non-aligned double compression, Bianchi & Piva 2012): look for its
    // lattice there; else on the file's own grid, where only steps coarser
    // than the file's are an earlier JPEG's (an earlier q85 JPEG saved again
    // at q100: the double-compression histograms cannot study steps of 1).
    let fine = luma_table.filter(|t| is_jpeg && fine_steps(&t.values));
    let lattice_origin = if let Some(table) = fine {
        if grid_visible && grid_origin != (0, 0) {
            Some((grid_origin, None))
        } else {
            Some(((0, 0), Some(own_low_steps(&table.values))))
        }
    } else if is_jpeg {
        None
    } else if grid_visible {
        Some((grid_origin, None))
    } else {
        Some(((0, 0), None))
    };
    let lattice = lattice_origin.and_then(|((ox, oy), own)| {
        let shifted;
        let (blocks, bw, bh) = match &own_grid {
            Some((blocks, bw, bh)) if (ox, oy) == (0, 0) => (blocks, *bw, *bh),
            _ => {
                shifted = dct::low_frequencies(ctx.luma, w, h, ox, oy);
                (&shifted.0, shifted.1, shifted.2)
            }
        };
        lattice::analyze(blocks, own.as_ref()).map(|l| (l, bw, bh, ox, oy))
    });
    let applicable = if is_jpeg {
        1.0
    } else if grid_visible || lattice.is_some() {
        0.5
    } else {
        0.0
    };
    out.features.push((
        "jpeg.lattice_steps",
        lattice
            .as_ref()
            .map_or(0.0, |(l, ..)| l.steps.len() as f32 / 15.0),
    ));
    out.features.push(("jpeg.applicable", applicable));
    out.features.push((
        "jpeg.quality",
        quality.map_or(0.0, |q| f32::from(q.quality)),
    ));
    out.features.push((
        "jpeg.standard_table",
        f32::from(u8::from(quality.is_some_and(|q| q.standard))),
    ));
    out.features.push(("jpeg.grid_strength", grid.strength));
    // 0 when the grid sits where a JPEG decoded at its own origin puts it,
    // or when there is no grid to place (the phase of noise means nothing).
    out.features.push((
        "jpeg.grid_offset",
        f32::from(u8::from(grid_visible && grid.phase != (7, 7))),
    ));
    if applicable == 0.0 {
        return out;
    }

    let mut map = Heatmap::zeros(ctx.width, ctx.height, CELL);
    let gw = map.grid_width as usize;
    let mut grid_cells = vec![false; map.values.len()];

    // Grid misalignment, only where the image shows a grid at all, and only
    // when a minority of windows disagree: a second grid across much of the
    // image is the trace of a crop of an earlier JPEG, not a paste. In JPEG
    // files the last compression re-imposes its own grid on every block, and
    // on re-saved genuine photos the off-phase windows were as common as on
    // edited ones (dev corpus), so there the grid is a feature only.
    let grid_share = if grid_visible {
        if !is_jpeg && grid.misaligned_share <= MAX_MISALIGNED_SHARE {
            for by in 0..grid.bh {
                for bx in 0..grid.bw {
                    let v = grid.misaligned[by * grid.bw + bx];
                    map.values[by * gw + bx] = v;
                    grid_cells[by * gw + bx] = v >= 0.5;
                }
            }
        }
        grid.misaligned_share
    } else {
        0.0
    };
    out.features
        .push(("jpeg.grid_misaligned_share", grid_share));

    // Double compression, on the file's own grid.
    let mut dq_share = 0.0f32;
    let mut single_share = 0.0f32;
    let mut dq_gain = 0.0f32;
    let mut single_cells = vec![false; map.values.len()];
    if let (Some((aligned, bw, bh)), Some(clipped), Some(table)) =
        (&own_grid, &own_clipped, luma_table)
    {
        let (bw, bh) = (*bw, *bh);
        let skip = at_least(clipped, MAX_CLIPPED);
        let dq = double::analyze(aligned, (ctx.luma, w, h), &table.values, &skip);
        dq_share = dq.models.len() as f32 / dq.studied.max(1) as f32;
        dq_gain = dq.mean_gain() as f32;
        if dq.models.len() >= MIN_MODELS {
            let flagged = paint_llr(&mut map, &mut single_cells, &dq.block_llr, (bw, bh), (0, 0));
            single_share = flagged as f32 / (bw * bh).max(1) as f32;
        }
        push_dq_finding(&mut out, &dq, dq_share);
    }
    // Off the lattice of a decoded JPEG, block by block, on the same scale
    // as the double-compression log-likelihoods.
    let mut lattice_cells = vec![false; map.values.len()];
    if let Some((lat, bw, bh, ox, oy)) = &lattice {
        let shifted;
        let clipped = match &own_clipped {
            Some(counts) if (*ox, *oy) == (0, 0) => counts,
            _ => {
                shifted = clipped_counts(ctx.rgb, w, (*bw, *bh), (*ox, *oy));
                &shifted
            }
        };
        let skip = at_least(clipped, LATTICE_MAX_CLIPPED);
        let llr: Vec<f32> = lat
            .block_llr
            .iter()
            .zip(&skip)
            .map(|(&v, &clipped)| if clipped { 0.0 } else { v })
            .collect();
        paint_llr(&mut map, &mut lattice_cells, &llr, (*bw, *bh), (*ox, *oy));
    }
    out.features.push(("jpeg.double_compression", dq_share));
    out.features.push(("jpeg.dq_gain", dq_gain));
    out.features.push(("jpeg.single_share", single_share));

    // ELA is wanted only where another test already sees something.
    let supported = |bx: usize, by: usize| map.values.get(by * gw + bx).is_some_and(|&v| v >= 0.3);
    if let Some(e) = ela::analyze(ctx.luma, ctx.width, ctx.height, supported) {
        out.features
            .push(("jpeg.ela_outlier_share", e.outlier_share));
        // Supporting only: ELA lifts a block by at most 0.15 and only where
        // another test already sees something.
        for by in 0..e.bh {
            for bx in 0..e.bw {
                let cell = by * gw + bx;
                let v = map.values[cell];
                if v >= 0.3 {
                    let lift = 0.15 * (e.excess[by * e.bw + bx] / 2.0).min(1.0);
                    map.values[cell] = (v + lift).min(1.0);
                }
            }
        }
    }

    // Flagged regions: connected flagged cells, small specks dropped.
    let all_flagged = map.values.iter().filter(|&&v| v >= 0.5).count();
    let mut regions = components(&map, MIN_REGION_BLOCKS);
    let largest = regions.first().map_or(0, |r| r.cells);
    // Secondary regions much smaller than the main one are more likely
    // misfits of the model than a second edit.
    regions.retain(|r| r.cells * 4 >= largest);
    regions.truncate(MAX_REGIONS);
    let mut kept = vec![false; map.values.len()];
    for r in &regions {
        for &c in &r.members {
            kept[c] = true;
        }
    }
    for (v, &k) in map.values.iter_mut().zip(&kept) {
        if !k {
            *v = v.min(0.45);
        }
    }
    let flagged: usize = regions.iter().map(|r| r.cells).sum();
    let share = flagged as f32 / map.values.len().max(1) as f32;
    // An edit is one or a few compact areas; flags scattered all over the
    // image mean the model does not fit this photo, so they count against.
    let dominance = flagged as f32 / all_flagged.max(1) as f32;
    if share > MAX_REGION_SHARE || regions.is_empty() {
        // Nothing local to report: clear the map below the flag level so a
        // global misfit is not painted as an edit.
        for v in &mut map.values {
            *v = v.min(0.45);
        }
    } else {
        for (i, r) in regions.iter().enumerate() {
            let single = r.members.iter().filter(|&&c| single_cells[c]).count();
            let off_lattice = r.members.iter().filter(|&&c| lattice_cells[c]).count();
            let off_grid = r.members.iter().filter(|&&c| grid_cells[c]).count();
            let (code, what, what_zh) = match region_evidence(single, off_lattice, off_grid, r.cells) {
                RegionEvidence::LatticeBreak => (
                    "jpeg.local_lattice_break",
                    "changed after the image was decoded from a JPEG (off the quantisation lattice the rest keeps)",
                    "在图像从 JPEG 解码之后被改动（不符合其余部分保留的量化格点）",
                ),
                RegionEvidence::SingleCompression => (
                    "jpeg.local_single_compression",
                    "compressed once inside a doubly compressed JPEG",
                    "在二次压缩的 JPEG 中只经过一次压缩",
                ),
                RegionEvidence::GridShift => (
                    "jpeg.grid_misaligned",
                    "with an 8x8 block grid shifted against the image's",
                    "其 8x8 分块网格与全图网格错位",
                ),
            };
            let area = r.cells as f32 / map.values.len() as f32;
            // Larger and stronger regions are stronger evidence; a region of
            // 1% of the image at full strength scores about 0.8.
            let score =
                (r.mean * (1.0 - (-area / 0.006).exp()) * dominance * dominance).clamp(0.0, 1.0);
            let message = format!(
                "Region {} ({}x{} px at {},{}; {:.1}% of the image) was {what} (mean map value {:.2}).",
                i + 1,
                r.region.width,
                r.region.height,
                r.region.x,
                r.region.y,
                100.0 * area,
                r.mean
            );
            let message_zh = format!(
                "区域 {}（{}x{} 像素，位于 {},{}；占图像 {:.1}%）{what_zh}（热图均值 {:.2}）。",
                i + 1,
                r.region.width,
                r.region.height,
                r.region.x,
                r.region.y,
                100.0 * area,
                r.mean
            );
            out.findings.push(
                Finding::new(
                    DetectorKind::Jpeg,
                    code,
                    score,
                    Class::Edited,
                    message,
                    message_zh,
                )
                .with_region(r.region),
            );
        }
    }
    out.features.push(("jpeg.flagged_share", share));
    out.features.push(("jpeg.flag_dominance", dominance));
    if let Some(q) = quality.filter(|_| is_jpeg) {
        push_quality_finding(&mut out, q);
    }
    out.map = Some(map);
    out
}

/// The file's steps of the [`LOW`](dct::LOW) zig-zag frequencies the
/// lattice studies.
fn own_low_steps(table: &[u16; 64]) -> [u16; dct::LOW] {
    std::array::from_fn(|k| table[crate::metadata::ZIGZAG[k]])
}

/// Whether a luma table's low AC steps are fine enough (mean of zig-zag
/// positions 1-15 at most 3, IJG quality about 91 or more) for an earlier,
/// coarser quantisation to survive the last one.
fn fine_steps(table: &[u16; 64]) -> bool {
    let low: u32 = own_low_steps(table)[1..]
        .iter()
        .map(|&q| u32::from(q))
        .sum();
    low <= 3 * 15
}

/// Which test a flagged region's cells mostly come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RegionEvidence {
    LatticeBreak,
    SingleCompression,
    GridShift,
}

/// The test a region of `cells` cells is named after, from how many of
/// them each test marked. A paste from another JPEG is off both the lattice
/// and the grid: the grid names it more precisely. A region none of the
/// three holds by majority (cells the error levels lifted over 0.5) takes
/// the test that marked most of its cells, not the grid by default (which
/// is never painted in a JPEG file).
fn region_evidence(
    single: usize,
    off_lattice: usize,
    off_grid: usize,
    cells: usize,
) -> RegionEvidence {
    let majority = |n: usize| n * 2 >= cells;
    if majority(off_lattice) && !majority(off_grid) {
        return RegionEvidence::LatticeBreak;
    }
    if majority(single) {
        return RegionEvidence::SingleCompression;
    }
    if majority(off_grid) {
        return RegionEvidence::GridShift;
    }
    if off_lattice >= single && off_lattice > off_grid {
        RegionEvidence::LatticeBreak
    } else if single > off_lattice && single > off_grid {
        RegionEvidence::SingleCompression
    } else {
        RegionEvidence::GridShift
    }
}

/// Paint per-block log-likelihood ratios (positive = the block follows the
/// JPEG history of the rest, negative = it does not) into the map: summed
/// over 3x3 blocks, then a logistic that crosses 0.5 at `-SINGLE_LLR`.
/// Blocks sit on the grid at `(ox, oy)`; each lands in the map cell that
/// holds its centre. Marks the cells of blocks at 0.5 or more in `cells` and
/// returns how many blocks those are.
fn paint_llr(
    map: &mut Heatmap,
    cells: &mut [bool],
    llr: &[f32],
    (bw, bh): (usize, usize),
    (ox, oy): (usize, usize),
) -> usize {
    let (gw, gh) = (map.grid_width as usize, map.grid_height as usize);
    let smooth = box3(llr, bw, bh);
    let mut flagged = 0;
    for by in 0..bh {
        for bx in 0..bw {
            let v = 1.0 / (1.0 + ((smooth[by * bw + bx] + SINGLE_LLR) / LLR_SLOPE).exp());
            let (cx, cy) = ((ox + bx * 8 + 4) / 8, (oy + by * 8 + 4) / 8);
            if cx < gw && cy < gh {
                let cell = cy * gw + cx;
                if v >= 0.5 {
                    flagged += 1;
                    cells[cell] = true;
                }
                map.values[cell] = map.values[cell].max(v);
            }
        }
    }
    flagged
}

/// Pixels with a channel at 0 or 255 in each 8x8 block of the grid at
/// `(ox, oy)`: blocks with too many no longer follow the quantisation
/// lattice (see [`at_least`]).
///
/// Most blocks hold no clipped sample at all: a pass over whole rows (which
/// vectorises) marks the bytes at 0 or 255 of each block row, and only the
/// blocks with a mark are counted pixel by pixel.
fn clipped_counts(
    raw: &[u8],
    width: usize,
    (bw, bh): (usize, usize),
    (ox, oy): (usize, usize),
) -> Vec<u8> {
    let mut out = vec![0u8; bw * bh];
    let span = bw * 24;
    let mut marks = vec![0u8; span];
    for (by, counts) in out.chunks_exact_mut(bw.max(1)).enumerate().take(bh) {
        let rows = oy + by * 8..oy + by * 8 + 8;
        marks.fill(0);
        for y in rows.clone() {
            let start = (y * width + ox) * 3;
            match raw.get(start..start + span) {
                Some(px) => {
                    for (m, &c) in marks.iter_mut().zip(px) {
                        *m |= u8::from(c == 0 || c == 255);
                    }
                }
                // Not expected (the grid lies inside the image); count
                // every block exactly as below.
                None => marks.fill(1),
            }
        }
        for (bx, (count, m)) in counts.iter_mut().zip(marks.chunks_exact(24)).enumerate() {
            if m.iter().fold(0, |a, &b| a | b) == 0 {
                continue;
            }
            // At most 64 pixels per block.
            *count = clipped_in_block(raw, width, ox + bx * 8, rows.clone()) as u8;
        }
    }
    out
}

/// The blocks whose clipped-pixel count reaches `limit`.
fn at_least(counts: &[u8], limit: usize) -> Vec<bool> {
    counts.iter().map(|&c| usize::from(c) >= limit).collect()
}

/// Pixels with a channel at 0 or 255 in the 8 pixels from column `x` of
/// each of `rows` (an RGB buffer `width` pixels wide).
fn clipped_in_block(raw: &[u8], width: usize, x: usize, rows: std::ops::Range<usize>) -> usize {
    rows.filter_map(|y| raw.get((y * width + x) * 3..(y * width + x) * 3 + 24))
        .map(|px| {
            px.chunks_exact(3)
                .filter(|p| p.iter().any(|&c| c == 0 || c == 255))
                .count()
        })
        .sum()
}

/// Sum over the 3x3 neighbourhood of each block (edges use what exists).
fn box3(values: &[f32], bw: usize, bh: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; values.len()];
    for by in 0..bh {
        for bx in 0..bw {
            let mut s = 0.0f32;
            for y in by.saturating_sub(1)..(by + 2).min(bh) {
                for x in bx.saturating_sub(1)..(bx + 2).min(bw) {
                    s += values[y * bw + x];
                }
            }
            out[by * bw + bx] = s;
        }
    }
    out
}

/// A connected flagged area of the map.
struct Component {
    cells: usize,
    mean: f32,
    region: Region,
    members: Vec<usize>,
}

/// 4-connected components of cells ≥ 0.5 with at least `min_cells` cells,
/// largest first (ties by position, so the order is deterministic).
fn components(map: &Heatmap, min_cells: usize) -> Vec<Component> {
    let mut out: Vec<Component> = residual::cell_groups(map, 0.5)
        .into_iter()
        .filter(|members| members.len() >= min_cells)
        .map(|members| Component {
            cells: members.len(),
            mean: members.iter().map(|&c| map.values[c]).sum::<f32>() / members.len() as f32,
            region: residual::cells_box(map, &members),
            members,
        })
        .collect();
    out.sort_by(|a, b| {
        b.cells
            .cmp(&a.cells)
            .then_with(|| (a.region.y, a.region.x).cmp(&(b.region.y, b.region.x)))
    });
    out
}

fn push_quality_finding(out: &mut DetectorOutput, q: QualityEstimate) {
    let (kind, kind_zh) = if q.standard {
        (
            "standard IJG tables (libjpeg, Pillow, editors, web pipelines)",
            "标准 IJG 量化表（libjpeg、Pillow、编辑软件、网页处理流程）",
        )
    } else {
        (
            "custom tables (typical of cameras)",
            "自定义量化表（相机常见）",
        )
    };
    out.findings.push(Finding::new(
        DetectorKind::Jpeg,
        "jpeg.quality",
        0.0,
        Class::None,
        format!(
            "JPEG quality about {} with {kind}; re-saving alone is not evidence of editing.",
            q.quality
        ),
        format!(
            "JPEG 质量约为 {}，使用{kind_zh}；仅重新保存不构成编辑证据。",
            q.quality
        ),
    ));
}

fn push_dq_finding(out: &mut DetectorOutput, dq: &double::DoubleCompression, share: f32) {
    if dq.models.len() < MIN_MODELS {
        return;
    }
    let steps: Vec<String> = dq
        .models
        .iter()
        .take(4)
        .map(|m| format!("#{}: {}→{}", m.index, m.q1, m.q2))
        .collect();
    let steps = steps.join(", ");
    out.findings.push(Finding::new(
        DetectorKind::Jpeg,
        "jpeg.double_compression",
        share,
        Class::None,
        format!(
            "The JPEG was compressed twice: {} of {} DCT frequencies keep a previous quantisation (steps {steps}; {:.0}% of coefficients). Re-saving alone is normal.",
            dq.models.len(),
            dq.studied,
            100.0 * dq.mean_alpha()
        ),
        format!(
            "该 JPEG 经过两次压缩：{} 个 DCT 频率中有 {} 个保留了先前的量化痕迹（步长 {steps}；{:.0}% 的系数）。仅重新保存属正常情况。",
            dq.studied,
            dq.models.len(),
            100.0 * dq.mean_alpha()
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every block counted pixel by pixel, as before the row pre-pass.
    fn clipped_counts_naive(
        rgb: &image::RgbImage,
        bw: usize,
        bh: usize,
        ox: usize,
        oy: usize,
    ) -> Vec<u8> {
        let width = rgb.width() as usize;
        let raw = rgb.as_raw();
        let mut out = vec![0u8; bw * bh];
        for by in 0..bh {
            for bx in 0..bw {
                let rows = oy + by * 8..oy + by * 8 + 8;
                out[by * bw + bx] = clipped_in_block(raw, width, ox + bx * 8, rows) as u8;
            }
        }
        out
    }

    #[test]
    fn regions_are_named_after_the_test_that_marked_them() {
        use RegionEvidence::{GridShift, LatticeBreak, SingleCompression};
        // (single, off lattice, off grid) of 10 cells.
        for (counts, expected) in [
            ((0, 6, 0), LatticeBreak),
            ((0, 6, 6), GridShift), // a paste from another JPEG
            ((6, 0, 0), SingleCompression),
            ((6, 6, 6), SingleCompression),
            ((0, 0, 7), GridShift),
            // No majority: cells lifted by the error levels.
            ((4, 0, 0), SingleCompression),
            ((1, 3, 0), LatticeBreak),
            ((0, 0, 3), GridShift),
            ((0, 0, 0), GridShift),
        ] {
            let (single, lattice, grid) = counts;
            assert_eq!(
                region_evidence(single, lattice, grid, 10),
                expected,
                "{counts:?}"
            );
        }
    }

    #[test]
    fn clipped_counts_match_the_pixel_count() {
        let mut seed = 5u64;
        // Clipped samples: about one in ten on the left, one in a hundred
        // on the right, so some blocks pass the limit and some do not.
        let rgb = image::RgbImage::from_fn(77, 45, |x, _| {
            let limit = if x < 40 { 0.45 } else { 0.495 };
            let mut c = || {
                let v = crate::detectors::test_noise(&mut seed);
                if v < -limit {
                    0
                } else if v > limit {
                    255
                } else {
                    (128.0 + 200.0 * v) as u8
                }
            };
            image::Rgb([c(), c(), c()])
        });
        for (ox, oy) in [(0, 0), (4, 4), (3, 6)] {
            let (bw, bh) = ((77 - ox) / 8, (45 - oy) / 8);
            let fast = clipped_counts(&rgb, 77, (bw, bh), (ox, oy));
            assert_eq!(fast, clipped_counts_naive(&rgb, bw, bh, ox, oy));
            let skip = at_least(&fast, MAX_CLIPPED);
            assert!(skip.iter().any(|&c| c) && !skip.iter().all(|&c| c));
        }
        // Beyond the image (not expected from the callers) as before.
        assert_eq!(
            clipped_counts(&rgb, 77, (9, 6), (4, 4)),
            clipped_counts_naive(&rgb, 9, 6, 4, 4)
        );
    }
}
