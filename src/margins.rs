//! Uniform margins around the content: the bars of a screenshot, a frame,
//! letterboxing, padding to a square.
//!
//! A band of one flat colour holds neither a camera's traces (sensor noise,
//! demosaicing) nor a generator's, but the pixel statistics count it: on
//! the development corpus's genuine photos, shown in a phone screenshot
//! (bars above and below, status text), one photo's score rose from 0.20
//! to 0.99 and 7 of 86 went past 0.9. The statistical pixel detectors
//! therefore read only the region inside such margins, and the report says
//! which region was analysed. Copy-move, which pairs pixels with pixels and
//! counts nothing flat, reads the whole frame when its size limit allows
//! (content this rule takes for decoration can be part of the photo) and
//! counts only the pairs with a place in the region.
//!
//! A row (column) is flat when at least [`FLAT_SHARE`] of its pixels lie
//! within [`TOLERANCE`] levels of the colour at one of its ends: a synthetic
//! margin is exact (PNG) or nearly so (JPEG of a flat colour), while a
//! photo's rows vary from the first pixels on. Content rows form runs; flat
//! gaps shorter than [`MIN_GAP`] belong to the content (a clipped streak
//! inside a photo), and runs much shorter than the longest one (status-bar
//! text, buttons) are margin decoration. Only margins thicker than
//! [`MIN_MARGIN`] are trimmed, and the region starts on the 8x8 grid so the
//! JPEG and CFA detectors see the file's block and Bayer phases.

use crate::report::Region;

/// Levels (per channel) a margin pixel may differ from the margin colour:
/// JPEG re-encoding leaves a flat colour within one or two levels.
const TOLERANCE: u8 = 2;
/// Share of a line's pixels at the margin colour for the line to be flat.
const FLAT_SHARE: f32 = 0.95;
/// Flat gaps shorter than this many lines are part of the content.
const MIN_GAP: usize = 8;
/// A content run shorter than the longest one divided by this is decoration
/// in the margin, not content.
const DECORATION_RATIO: usize = 4;
/// Thinner margins are left in: they cannot move the statistics.
const MIN_MARGIN: u32 = 16;
/// Content smaller than this on a side is not trimmed to.
const MIN_CONTENT: u32 = 32;
/// The region's origin is a multiple of this (the JPEG block grid, which
/// also keeps the Bayer phase).
const GRID: u32 = 8;

/// The region inside uniform margins, when there are margins worth trimming
/// (`None`: analyse the whole image).
pub(crate) fn content_region(rgb: &[u8], width: u32, height: u32) -> Option<Region> {
    let (w, h) = (width as usize, height as usize);
    if w < 2 || h < 2 || rgb.len() != w * h * 3 {
        return None;
    }
    let row_flat: Vec<bool> = (0..h)
        .map(|y| is_flat(w, |x| pixel(rgb, w, x, y)))
        .collect();
    let (y0, y1) = content_span(&row_flat)?;
    let col_flat: Vec<bool> = (0..w)
        .map(|x| is_flat(y1 - y0, |i| pixel(rgb, w, x, y0 + i)))
        .collect();
    let (x0, x1) = content_span(&col_flat)?;

    let (x0, y0) = (x0 as u32 / GRID * GRID, y0 as u32 / GRID * GRID);
    let (x1, y1) = (x1 as u32, y1 as u32);
    let thickest = x0.max(y0).max(width - x1).max(height - y1);
    if thickest < MIN_MARGIN || x1 - x0 < MIN_CONTENT || y1 - y0 < MIN_CONTENT {
        return None;
    }
    Some(Region {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    })
}

/// The RGB bytes of `region` of a `width`-wide image, row-major.
pub(crate) fn crop(rgb: &[u8], width: u32, region: Region) -> Vec<u8> {
    let stride = width as usize * 3;
    let (x, w) = (region.x as usize * 3, region.width as usize * 3);
    let mut out = Vec::with_capacity(w * region.height as usize);
    for row in rgb
        .chunks_exact(stride)
        .skip(region.y as usize)
        .take(region.height as usize)
    {
        out.extend_from_slice(&row[x..x + w]);
    }
    out
}

fn pixel(rgb: &[u8], w: usize, x: usize, y: usize) -> [u8; 3] {
    let i = (y * w + x) * 3;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}

/// Whether a line of `len` pixels (`at(i)`) is flat: most of it within
/// [`TOLERANCE`] of the colour at its start or at its end. Stops as soon as
/// both colours have missed too often: a photo's line is read for about a
/// twentieth of its length ([`FLAT_SHARE`]).
fn is_flat(len: usize, at: impl Fn(usize) -> [u8; 3]) -> bool {
    let (first, last) = (at(0), at(len - 1));
    let allowed = ((1.0 - FLAT_SHARE) * len as f32) as usize;
    let near = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(&p, q)| p.abs_diff(q) <= TOLERANCE);
    let (mut miss_first, mut miss_last) = (0, 0);
    for i in 0..len {
        let p = at(i);
        miss_first += usize::from(!near(p, first));
        miss_last += usize::from(!near(p, last));
        if miss_first > allowed && miss_last > allowed {
            return false;
        }
    }
    true
}

/// The span `[start, end)` from the first to the last content run, where
/// content runs are the non-flat lines (flat gaps under [`MIN_GAP`] bridged)
/// at least a [`DECORATION_RATIO`]th as long as the longest. `None` when
/// every line is flat.
fn content_span(flat: &[bool]) -> Option<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < flat.len() {
        if flat[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < flat.len() && !flat[i] {
            i += 1;
        }
        match runs.last_mut() {
            Some(last) if start - last.1 < MIN_GAP => last.1 = i,
            _ => runs.push((start, i)),
        }
    }
    let longest = runs.iter().map(|(a, b)| b - a).max()?;
    let mut kept = runs
        .into_iter()
        .filter(|(a, b)| (b - a) * DECORATION_RATIO >= longest);
    let first = kept.next()?;
    let end = kept.next_back().map_or(first.1, |r| r.1);
    Some((first.0, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::test_noise;

    /// A noisy photo-like `w` x `h` image placed at (`x`, `y`) on a flat
    /// `cw` x `ch` canvas of colour `bg`.
    fn framed(w: u32, h: u32, x: u32, y: u32, cw: u32, ch: u32, bg: u8) -> Vec<u8> {
        let mut seed = 7;
        let mut rgb = vec![bg; (cw * ch * 3) as usize];
        for yy in 0..h {
            for xx in 0..w {
                let i = (((y + yy) * cw + x + xx) * 3) as usize;
                for c in 0..3 {
                    let v = 100.0 + 40.0 * test_noise(&mut seed) + (xx % 50) as f32;
                    rgb[i + c] = v as u8;
                }
            }
        }
        rgb
    }

    #[test]
    fn a_photo_without_margins_is_analysed_whole() {
        let rgb = framed(300, 200, 0, 0, 300, 200, 0);
        assert_eq!(content_region(&rgb, 300, 200), None);
    }

    #[test]
    fn letterbox_bars_are_trimmed_to_the_grid() {
        let rgb = framed(400, 300, 0, 203, 400, 700, 255);
        let r = content_region(&rgb, 400, 700).expect("bars trimmed");
        assert_eq!((r.x, r.y, r.width, r.height), (0, 200, 400, 303));
    }

    #[test]
    fn frame_on_all_sides_and_sparse_text_in_the_bars_are_left_out() {
        let (cw, ch) = (500, 900);
        let mut rgb = framed(400, 300, 48, 296, cw, ch, 20);
        // A status line: 12 rows of scattered glyph pixels near the top.
        for y in 30..42u32 {
            for x in (40..200u32).step_by(3) {
                let i = ((y * cw + x) * 3) as usize;
                rgb[i..i + 3].copy_from_slice(&[230, 230, 230]);
            }
        }
        let r = content_region(&rgb, cw, ch).expect("frame trimmed");
        assert_eq!((r.x, r.y, r.width, r.height), (48, 296, 400, 300));
    }

    #[test]
    fn thin_or_no_content_is_not_trimmed() {
        // Margins of 8 pixels: too thin to matter.
        let rgb = framed(300, 200, 0, 8, 300, 216, 0);
        assert_eq!(content_region(&rgb, 300, 216), None);
        // An all-flat image has no content to trim to.
        assert_eq!(content_region(&[9; 64 * 64 * 3], 64, 64), None);
        // Nor does one whose content is a sliver.
        let rgb = framed(300, 10, 0, 100, 300, 300, 0);
        assert_eq!(content_region(&rgb, 300, 300), None);
    }

    #[test]
    fn crop_copies_the_region_rows() {
        let rgb: Vec<u8> = (0..4 * 3 * 3).map(|v| v as u8).collect();
        let region = Region {
            x: 1,
            y: 1,
            width: 2,
            height: 2,
        };
        assert_eq!(
            crop(&rgb, 4, region),
            [15, 16, 17, 18, 19, 20, 27, 28, 29, 30, 31, 32]
        );
    }
}
