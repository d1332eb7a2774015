//! The 8x8 forward DCT of ITU T.81 (A.3.3), on the decoded luminance.
//!
//! JPEG's FDCT with its `1/4 C(u) C(v)` factors is exactly the orthonormal
//! 2-D DCT-II, so dividing our coefficients by the file's quantisation step
//! recovers the encoder's quantised values up to the decoder's rounding.

use rayon::prelude::*;

use crate::buffer::Buffer;
use crate::metadata::ZIGZAG;

/// Zig-zag positions kept by [`low_frequencies`]: DC and the first 15 AC
/// coefficients, all the double-compression test reads.
pub const LOW: usize = 16;

/// The first [`LOW`] coefficients of one 8x8 block, in zig-zag order.
pub type LowBlock = [f32; LOW];

/// The orthonormal DCT-II basis: `BASIS[u][x] = a(u) cos((2x + 1) u pi / 16)`,
/// computed once.
fn basis() -> &'static [[f32; 8]; 8] {
    static BASIS: std::sync::OnceLock<[[f32; 8]; 8]> = std::sync::OnceLock::new();
    BASIS.get_or_init(make_basis)
}

fn make_basis() -> [[f32; 8]; 8] {
    let mut b = [[0.0f32; 8]; 8];
    for (u, row) in b.iter_mut().enumerate() {
        let a = if u == 0 {
            (1.0f64 / 8.0).sqrt()
        } else {
            (2.0f64 / 8.0).sqrt()
        };
        for (x, v) in row.iter_mut().enumerate() {
            *v = (a * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos()) as f32;
        }
    }
    b
}

/// The basis transposed, `[x][u]`, so that the inner loops below run over
/// eight independent outputs and vectorise.
fn basis_t() -> &'static [[f32; 8]; 8] {
    static BASIS_T: std::sync::OnceLock<[[f32; 8]; 8]> = std::sync::OnceLock::new();
    BASIS_T.get_or_init(|| {
        let b = basis();
        let mut t = [[0.0f32; 8]; 8];
        for (u, row) in b.iter().enumerate() {
            for (x, &v) in row.iter().enumerate() {
                t[x][u] = v;
            }
        }
        t
    })
}

/// The separable transform of the block at (`x0`, `y0`), rows `v < vmax`
/// of the output only. Rows first: `tmp[y][u] = sum_x (f(x, y) - 128)
/// B[u][x]`, then `coef[v][u] = sum_y tmp[y][u] B[v][y]`; every sum runs
/// over x (or y) in order, so a coefficient has the same bits whatever
/// `vmax` is.
fn transform(luma: &[f32], width: usize, x0: usize, y0: usize, vmax: usize) -> [[f32; 8]; 8] {
    let (b, bt) = (basis(), basis_t());
    let mut tmp = [[0.0f32; 8]; 8];
    for (y, t) in tmp.iter_mut().enumerate() {
        let line = &luma[(y0 + y) * width + x0..][..8];
        for (&p, bx) in line.iter().zip(bt) {
            let p = p - 128.0;
            for (tu, &c) in t.iter_mut().zip(bx) {
                *tu += p * c;
            }
        }
    }
    let mut coef = [[0.0f32; 8]; 8];
    for (row, bv) in coef.iter_mut().zip(b).take(vmax) {
        for (t, &c) in tmp.iter().zip(bv) {
            for (o, &tu) in row.iter_mut().zip(t) {
                *o += tu * c;
            }
        }
    }
    coef
}

/// The full DCT of the 8x8 block of `luma` (row-major, `width` wide) whose
/// top-left pixel is (`x0`, `y0`), level-shifted by 128 as in T.81; natural
/// (row-major) order. The caller guarantees the block lies inside `luma`.
#[must_use]
pub fn block(luma: &[f32], width: usize, x0: usize, y0: usize) -> [f32; 64] {
    let coef = transform(luma, width, x0, y0, 8);
    let mut out = [0.0f32; 64];
    for (o, row) in out.chunks_exact_mut(8).zip(&coef) {
        o.copy_from_slice(row);
    }
    out
}

/// Blocks transformed together by [`low_group`], one per vector lane.
const LANES: usize = 8;
/// Row-transform outputs the first [`LOW`] zig-zag positions read (u < 6).
const LOW_U: usize = 6;

/// The first [`LOW`] zig-zag coefficients of [`LANES`] side-by-side blocks
/// whose top-left pixels are (`x0 + 8 i`, `y0`), into `out[i]`.
///
/// Structure of arrays: lane `i` holds block `i`, so each multiply-add of
/// [`transform`] runs for eight blocks at once, and only the 6 row outputs
/// and the 16 coefficients read are computed (the one-block transform
/// works on the 8 u of a row at a time and must compute them all). Every
/// coefficient adds the same products in the same order as [`transform`],
/// so the bits are the same.
fn low_group(luma: &[f32], width: usize, x0: usize, y0: usize, out: &mut [LowBlock]) {
    let (b, bt) = (basis(), basis_t());
    // tmp[y][u][lane]
    let mut tmp = [[[0.0f32; LANES]; LOW_U]; 8];
    for (y, t) in tmp.iter_mut().enumerate() {
        let line = &luma[(y0 + y) * width + x0..][..8 * LANES];
        // Transposed: p[x][lane].
        let mut p = [[0.0f32; LANES]; 8];
        for (lane, px) in line.chunks_exact(8).enumerate() {
            for (pl, &v) in p.iter_mut().zip(px) {
                pl[lane] = v - 128.0;
            }
        }
        for (px, bx) in p.iter().zip(bt) {
            for (tu, &c) in t.iter_mut().zip(&bx[..LOW_U]) {
                for (a, &v) in tu.iter_mut().zip(px) {
                    *a += v * c;
                }
            }
        }
    }
    for (k, &natural) in ZIGZAG[..LOW].iter().enumerate() {
        let (v, u) = (natural / 8, natural % 8);
        let mut acc = [0.0f32; LANES];
        for (t, &c) in tmp.iter().zip(&b[v]) {
            for (a, &tv) in acc.iter_mut().zip(&t[u]) {
                *a += tv * c;
            }
        }
        for (o, &a) in out.iter_mut().zip(&acc) {
            o[k] = a;
        }
    }
}

/// The first [`LOW`] zig-zag coefficients of every whole 8x8 block of
/// `luma` on the grid that starts at (`ox`, `oy`). Returns the blocks row
/// by row and the grid size (blocks across, down). Only these 16 of the 64
/// coefficients are computed and stored: a quarter of the memory.
#[must_use]
pub fn low_frequencies(
    luma: &[f32],
    width: usize,
    height: usize,
    ox: usize,
    oy: usize,
) -> (Buffer<LowBlock>, usize, usize) {
    let bw = width.saturating_sub(ox) / 8;
    let bh = height.saturating_sub(oy) / 8;
    if bw == 0 || bh == 0 || luma.len() < width * height {
        return (Buffer::zeroed(0), 0, 0);
    }
    let mut out = Buffer::zeroed(bw * bh);
    // Each block is computed alone, so the parallel split cannot change a bit.
    out.par_chunks_mut(bw)
        .enumerate()
        .for_each(|(by, row)| low_row(luma, width, ox, oy + by * 8, row));
    (out, bw, bh)
}

/// [`low_frequencies`] one row of blocks at a time (rows in parallel, in
/// no fixed order), for callers that only accumulate over the blocks and
/// need not hold them all (12 MB on a 12 MP image).
pub fn low_frequency_rows(
    luma: &[f32],
    width: usize,
    height: usize,
    ox: usize,
    oy: usize,
) -> impl ParallelIterator<Item = Vec<LowBlock>> + '_ {
    let bw = width.saturating_sub(ox) / 8;
    let mut bh = height.saturating_sub(oy) / 8;
    if bw == 0 || luma.len() < width * height {
        bh = 0;
    }
    (0..bh).into_par_iter().map(move |by| {
        let mut row = vec![[0.0f32; LOW]; bw];
        low_row(luma, width, ox, oy + by * 8, &mut row);
        row
    })
}

/// The blocks of one row of [`low_frequencies`], whose top is `y0`.
fn low_row(luma: &[f32], width: usize, ox: usize, y0: usize, row: &mut [LowBlock]) {
    // Zig-zag positions 0..16 have v <= 4.
    let vmax = 5;
    let bw = row.len();
    let mut groups = row.chunks_exact_mut(LANES);
    for (g, blocks) in groups.by_ref().enumerate() {
        low_group(luma, width, ox + g * 8 * LANES, y0, blocks);
    }
    // The last blocks of the row, one at a time (same bits).
    let done = bw - groups.into_remainder().len();
    for (bx, coef) in row.iter_mut().enumerate().skip(done) {
        let full = transform(luma, width, ox + bx * 8, y0, vmax);
        for (k, c) in coef.iter_mut().enumerate() {
            *c = full[ZIGZAG[k] / 8][ZIGZAG[k] % 8];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The separable DCT against the direct T.81 double sum.
    #[test]
    fn matches_the_t81_formula() {
        let mut luma = vec![0.0f32; 16 * 8];
        for (i, v) in luma.iter_mut().enumerate() {
            *v = ((i * 37 + 11) % 251) as f32;
        }
        let coef = block(&luma, 16, 8, 0);
        for v in 0..8 {
            for u in 0..8 {
                let c = |k: usize| if k == 0 { 1.0 / 2f64.sqrt() } else { 1.0 };
                let mut s = 0.0f64;
                for y in 0..8 {
                    for x in 0..8 {
                        let f = f64::from(luma[y * 16 + 8 + x]) - 128.0;
                        s += f
                            * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos()
                            * ((2 * y + 1) as f64 * v as f64 * std::f64::consts::PI / 16.0).cos();
                    }
                }
                let expected = 0.25 * c(u) * c(v) * s;
                assert!((f64::from(coef[v * 8 + u]) - expected).abs() < 1e-2);
            }
        }
    }

    #[test]
    fn low_frequencies_have_the_bits_of_the_full_transform() {
        // 19 blocks across: two groups of eight and three alone.
        let (w, h) = (8 * 19 + 5, 21);
        let luma: Vec<f32> = (0..w * h)
            .map(|i| ((i * 53 + 7) % 241) as f32 + 0.37 * (i % 5) as f32)
            .collect();
        for (ox, oy) in [(0, 0), (4, 4), (5, 2)] {
            let (low, bw, bh) = low_frequencies(&luma, w, h, ox, oy);
            assert_eq!((bw, bh), ((w - ox) / 8, (h - oy) / 8));
            for (i, l) in low.iter().enumerate() {
                let (bx, by) = (i % bw, i / bw);
                let full = block(&luma, w, ox + bx * 8, oy + by * 8);
                for (k, &c) in l.iter().enumerate() {
                    assert_eq!(c.to_bits(), full[ZIGZAG[k]].to_bits(), "block {i} k {k}");
                }
            }
        }
    }

    #[test]
    fn rows_are_the_rows_of_the_grid() {
        let (w, h) = (8 * 11 + 6, 8 * 3 + 5);
        let luma: Vec<f32> = (0..w * h).map(|i| ((i * 29 + 3) % 251) as f32).collect();
        let (all, bw, _) = low_frequencies(&luma, w, h, 4, 4);
        let rows: Vec<Vec<LowBlock>> = low_frequency_rows(&luma, w, h, 4, 4).collect();
        assert_eq!(rows.concat(), &all[..]);
        assert_eq!(rows[0].len(), bw);
        assert_eq!(low_frequency_rows(&luma, 7, 7, 0, 0).count(), 0);
    }

    #[test]
    fn too_small_gives_nothing() {
        assert_eq!(low_frequencies(&[0.0; 49], 7, 7, 0, 0).0.len(), 0);
        assert_eq!(low_frequencies(&[0.0; 3], 8, 8, 0, 0).0.len(), 0);
    }
}
