//! Which place of a duplicated pair is the copy, from its edge.
//!
//! The two places hold the same pixels; what differs is around them. The
//! source's surroundings continue its content (the scene goes on past the
//! zone the forger selected), while the copy was laid onto a place whose
//! content it interrupts: along the edge of the pixels the two places
//! share, the copy's outside differs from the shared inside more than the
//! source's outside does. This is the boundary-discontinuity cue of splice
//! detection (Ng & Chang 2004, "A model for image splicing", ICIP; the
//! local colour and texture statistics of Farid 2009, "Image forgery
//! detection", IEEE Signal Processing Magazine 26(2)), compared between the
//! two places of one pair, which share everything else: content, noise,
//! compression. Each point along the edge votes for the place whose
//! outside stands further from the shared inside (in mean colour and in
//! texture), and a sign test over the votes decides, or leaves the pair
//! open.
//!
//! Measured (session 37) on copies made in code in 127 of the as-found and
//! laundered genuine dev photos (a blob of 12-24% of the short side moved
//! elsewhere, once hard-edged and once feathered, JPEG q75-95; the
//! copy-move search found 69 and 64 of them): at |z| ≥ 4 the hard-edged
//! copies were told right 58 times, wrong never, 11 left open; the
//! feathered ones right 24, wrong once, 39 open. A second battery (207
//! genuine photos, rectangles, ellipses and blobs, closer shifts, q70-92;
//! 81 found): 61 right, 1 wrong (feathered), 19 open. On the 10 found
//! development copy-moves: 9 right, none wrong, 1 open.

use super::Luma;
use crate::detectors::residual::grid_groups;
use crate::report::Region;

/// Pixels around the pair's cells that the test reads on each side.
const MARGIN: usize = 16;
/// Half-side of the window around an edge point (9x9 pixels).
const WINDOW: usize = 4;
/// Edge points are taken at most one per square of this side.
const POINT_SPACING: usize = 3;
/// Fewest pixels of each side (inside, outside) a window must hold.
const MIN_SIDE_PIXELS: usize = 8;
/// A shared pixel differs from its twin by at most this many times the
/// median difference (the later JPEG rounding), within these limits.
const SHARED_TOLERANCE: f32 = 3.0;
const SHARED_MIN: f32 = 2.0;
const SHARED_MAX: f32 = 8.0;
/// Sign statistic beyond which a place is called the copy. Points 3 px
/// apart read overlapping windows, so their votes are not independent: z
/// is a score whose threshold was set on the batteries above, not a
/// significance level (at least 16 votes are needed to reach it).
const DECISIVE_Z: f32 = 4.0;

/// The verdict of the edge test on one pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct EdgeTest {
    /// Sign statistic of the votes, `(for − against) / sqrt(votes)`:
    /// positive when the place moved by the shift is the copy.
    pub z: f32,
    /// Edge points that voted.
    pub votes: usize,
}

impl EdgeTest {
    /// `Some(true)` when the place moved by the shift is the copy,
    /// `Some(false)` when the first place is, `None` when the test cannot
    /// tell.
    pub fn copy_is_shifted(&self) -> Option<bool> {
        (self.z.abs() >= DECISIVE_Z).then_some(self.z > 0.0)
    }
}

/// Run the edge test on the pair of the first place `place` (the box of a
/// pair's cells) and the same box moved by `d`; `rgb` holds the image's
/// interleaved pixels, `luma` its luma. `None` when the places overlap,
/// leave too little of the image to read, or the inputs do not fit.
pub(super) fn edge_test(
    rgb: &[u8],
    luma: &Luma<'_>,
    place: Region,
    d: (i64, i64),
) -> Option<EdgeTest> {
    let (w, h) = (luma.w, luma.h);
    let (dx, dy) = d;
    let (x0, y0) = (place.x as usize, place.y as usize);
    let (x1, y1) = (x0 + place.width as usize, y0 + place.height as usize);
    let fits = luma.pixels.len() == w * h
        && rgb.len() == w * h * 3
        && x0 < x1
        && y0 < y1
        && x1 <= w
        && y1 <= h
        && dx.unsigned_abs() < w as u64
        && dy.unsigned_abs() < h as u64;
    // Places that overlap share their surroundings: nothing to compare.
    let apart = dx.unsigned_abs() >= (x1 - x0) as u64 || dy.unsigned_abs() >= (y1 - y0) as u64;
    if !fits || !apart {
        return None;
    }
    // The box read at both places, within the image at both.
    let lo = |v: usize, s: i64| (v.saturating_sub(MARGIN) as i64).max(-s).max(0) as usize;
    let hi = |v: usize, s: i64, n: usize| {
        ((v + MARGIN) as i64).min(n as i64 - s).min(n as i64).max(0) as usize
    };
    let (bx0, by0, bx1, by1) = (lo(x0, dx), lo(y0, dy), hi(x1, dx, w), hi(y1, dy, h));
    if bx1 <= bx0 + 2 * WINDOW + 1 || by1 <= by0 + 2 * WINDOW + 1 {
        return None;
    }
    let (bw, bh) = (bx1 - bx0, by1 - by0);
    // Pixel index of box position `(x, y)` at the first place, or moved by
    // `d` to the second.
    let at = |x: usize, y: usize, second: bool| -> usize {
        if second {
            ((y as i64 + dy) as usize) * w + (x as i64 + dx) as usize
        } else {
            y * w + x
        }
    };

    // Pixels equal to their twin, within the later rounding.
    let diff: Vec<f32> = (0..bw * bh)
        .map(|i| {
            let (x, y) = (bx0 + i % bw, by0 + i / bw);
            (luma.pixels[at(x, y, false)] - luma.pixels[at(x, y, true)]).abs()
        })
        .collect();
    // The place itself, within the box read (columns clamped to the box).
    let (ix0, ix1) = (x0.clamp(bx0, bx1) - bx0, x1.clamp(bx0, bx1) - bx0);
    let mut inner: Vec<f32> = (y0.max(by0)..y1.min(by1))
        .flat_map(|y| &diff[(y - by0) * bw..][ix0..ix1.max(ix0)])
        .copied()
        .collect();
    if inner.is_empty() {
        return None;
    }
    let tolerance =
        (SHARED_TOLERANCE * super::median_in_place(&mut inner)).clamp(SHARED_MIN, SHARED_MAX);
    let shared = largest_component(&majority(&diff, bw, bh, tolerance), bw, bh);

    // One vote per edge point: the place whose outside differs more from
    // the shared inside is the copy.
    let mut taken = vec![false; bw.div_ceil(POINT_SPACING) * bh.div_ceil(POINT_SPACING)];
    let (mut for_shifted, mut for_own) = (0usize, 0usize);
    for y in WINDOW..bh - WINDOW {
        for x in WINDOW..bw - WINDOW {
            let i = y * bw + x;
            let edge =
                shared[i] && !(shared[i - 1] && shared[i + 1] && shared[i - bw] && shared[i + bw]);
            let slot = (y / POINT_SPACING) * bw.div_ceil(POINT_SPACING) + x / POINT_SPACING;
            if !edge || taken[slot] {
                continue;
            }
            taken[slot] = true;
            let window = |second: bool| {
                contrast(rgb, &shared, bw, (x, y), |wx, wy| {
                    at(bx0 + wx, by0 + wy, second)
                })
            };
            let (Some(own), Some(shifted)) = (window(false), window(true)) else {
                continue;
            };
            if shifted > own {
                for_shifted += 1;
            } else if own > shifted {
                for_own += 1;
            }
        }
    }
    let votes = for_shifted + for_own;
    let z = if votes == 0 {
        0.0
    } else {
        (for_shifted as f32 - for_own as f32) / (votes as f32).sqrt()
    };
    Some(EdgeTest { z, votes })
}

/// How far the outside of the window around `(x, y)` stands from its
/// inside (the shared pixels): the difference of their mean colours in
/// units of their pooled spread, plus the log ratio of their spreads.
/// `index` maps a box position to the pixel read. `None` when either side
/// holds fewer than [`MIN_SIDE_PIXELS`].
fn contrast(
    rgb: &[u8],
    shared: &[bool],
    bw: usize,
    (x, y): (usize, usize),
    index: impl Fn(usize, usize) -> usize,
) -> Option<f32> {
    // Per side: count, per channel sum and sum of squares.
    let mut sums = [[0.0f64; 7]; 2];
    for wy in y - WINDOW..=y + WINDOW {
        for wx in x - WINDOW..=x + WINDOW {
            let side = &mut sums[usize::from(!shared[wy * bw + wx])];
            let p = index(wx, wy) * 3;
            side[0] += 1.0;
            for c in 0..3 {
                let v = f64::from(rgb[p + c]);
                side[1 + c] += v;
                side[4 + c] += v * v;
            }
        }
    }
    if sums.iter().any(|s| (s[0] as usize) < MIN_SIDE_PIXELS) {
        return None;
    }
    // Mean and standard deviation per channel.
    let stats = |s: &[f64; 7]| {
        let n = s[0];
        let mean = [s[1] / n, s[2] / n, s[3] / n];
        let sd = [0, 1, 2].map(|c| (s[4 + c] / n - mean[c] * mean[c]).max(0.0).sqrt());
        (mean, sd)
    };
    let ((mean_in, sd_in), (mean_out, sd_out)) = (stats(&sums[0]), stats(&sums[1]));
    let var = |sd: [f64; 3]| sd.iter().map(|s| s * s).sum::<f64>() / 3.0;
    let spread = ((var(sd_in) + var(sd_out)) / 2.0).sqrt() + 2.0;
    let colour: f64 = (0..3)
        .map(|c| (mean_in[c] - mean_out[c]).abs())
        .sum::<f64>()
        / spread;
    let texture = |sd: [f64; 3]| sd.iter().sum::<f64>() / 3.0 + 1.0;
    Some((colour + (texture(sd_in) / texture(sd_out)).ln().abs()) as f32)
}

/// Pixels whose difference is within `tolerance`, cleaned by a 3x3
/// majority (a lone rounding outlier does not break the shared zone).
fn majority(diff: &[f32], bw: usize, bh: usize, tolerance: f32) -> Vec<bool> {
    let within: Vec<bool> = diff.iter().map(|&v| v <= tolerance).collect();
    (0..bw * bh)
        .map(|i| {
            let (x, y) = (i % bw, i / bw);
            let (mut yes, mut all) = (0usize, 0usize);
            for yy in y.saturating_sub(1)..(y + 2).min(bh) {
                for xx in x.saturating_sub(1)..(x + 2).min(bw) {
                    all += 1;
                    yes += usize::from(within[yy * bw + xx]);
                }
            }
            2 * yes > all
        })
        .collect()
}

/// The largest 4-connected set of `true` pixels (the shared zone; specks
/// of chance agreement outside it are dropped), the first found on a tie.
fn largest_component(mask: &[bool], bw: usize, bh: usize) -> Vec<bool> {
    let values: Vec<f32> = mask.iter().map(|&m| f32::from(u8::from(m))).collect();
    let mut largest: Vec<usize> = Vec::new();
    for group in grid_groups(&values, bw, bh, 0.5) {
        if group.len() > largest.len() {
            largest = group;
        }
    }
    let mut out = vec![false; mask.len()];
    for i in largest {
        out[i] = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detectors::test_noise as noise;

    /// Grey levels from `f`, in 8 bits.
    fn grey(w: usize, h: usize, mut f: impl FnMut(usize, usize) -> f32) -> Vec<f32> {
        (0..w * h)
            .map(|i| f(i % w, i / w).clamp(0.0, 255.0).round())
            .collect()
    }

    /// `pixels` with the `side`-px square at `from` copied to `to`.
    fn copied(
        pixels: &[f32],
        w: usize,
        from: (usize, usize),
        to: (usize, usize),
        side: usize,
    ) -> Vec<f32> {
        let mut out = pixels.to_vec();
        for y in 0..side {
            for x in 0..side {
                out[(to.1 + y) * w + to.0 + x] = pixels[(from.1 + y) * w + from.0 + x];
            }
        }
        out
    }

    fn test_on(
        luma: &[f32],
        w: usize,
        h: usize,
        from: (usize, usize),
        d: (i64, i64),
    ) -> Option<EdgeTest> {
        let rgb: Vec<u8> = luma.iter().flat_map(|&v| [v as u8; 3]).collect();
        let view = Luma { pixels: luma, w, h };
        let place = Region {
            x: from.0 as u32,
            y: from.1 as u32,
            width: 48,
            height: 48,
        };
        edge_test(&rgb, &view, place, d)
    }

    /// A busy dark patch laid onto a plain bright wall: the place on the
    /// wall is the copy, whichever of the two the pair starts from.
    #[test]
    fn the_copy_is_the_place_whose_surroundings_it_interrupts() {
        let (w, h) = (320, 192);
        let mut s = 7;
        let scene = grey(w, h, |x, _| {
            if x < w / 2 {
                60.0 + 25.0 * noise(&mut s)
            } else {
                190.0 + 3.0 * noise(&mut s)
            }
        });
        let (from, to) = ((40, 64), (200, 64));
        let luma = copied(&scene, w, from, to, 48);
        let forward = test_on(&luma, w, h, from, (160, 0)).expect("test");
        assert_eq!(forward.copy_is_shifted(), Some(true), "{forward:?}");
        let backward = test_on(&luma, w, h, to, (-160, 0)).expect("test");
        assert_eq!(backward.copy_is_shifted(), Some(false), "{backward:?}");
    }

    /// In an even noise field the surroundings of both places look alike:
    /// the test does not guess.
    #[test]
    fn a_copy_in_even_noise_is_left_open() {
        let (w, h) = (320, 192);
        let mut s = 11;
        let scene = grey(w, h, |_, _| 128.0 + 20.0 * noise(&mut s));
        let luma = copied(&scene, w, (40, 64), (200, 64), 48);
        let test = test_on(&luma, w, h, (40, 64), (160, 0)).expect("test");
        assert!(test.votes >= 16, "{test:?}");
        assert_eq!(test.copy_is_shifted(), None, "{test:?}");
    }

    /// Places closer than their size share their surroundings.
    #[test]
    fn overlapping_places_are_not_tested() {
        let (w, h) = (160, 160);
        let mut s = 3;
        let luma = grey(w, h, |_, _| 128.0 + 20.0 * noise(&mut s));
        assert_eq!(test_on(&luma, w, h, (40, 40), (16, 8)), None);
    }
}
