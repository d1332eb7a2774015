//! The 8x8 forward DCT of ITU T.81 (A.3.3), on the decoded luminance.
//!
//! JPEG's FDCT with its `1/4 C(u) C(v)` factors is exactly the orthonormal
//! 2-D DCT-II, so dividing our coefficients by the file's quantisation step
//! recovers the encoder's quantised values up to the decoder's rounding.

use rayon::prelude::*;

/// Coefficients of one 8x8 block, natural (row-major) order.
pub type Block = [f32; 64];

/// The orthonormal DCT-II basis: `BASIS[u][x] = a(u) cos((2x + 1) u pi / 16)`.
fn basis() -> [[f32; 8]; 8] {
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

/// The DCT of every whole 8x8 block of `luma` (row-major, `width` wide) on
/// the grid that starts at (`ox`, `oy`), level-shifted by 128 as in T.81.
/// Returns the blocks row by row and the grid size (blocks across, down).
#[must_use]
pub fn block_dct(
    luma: &[f32],
    width: usize,
    height: usize,
    ox: usize,
    oy: usize,
    max_sum: usize,
) -> (Vec<Block>, usize, usize) {
    let bw = width.saturating_sub(ox) / 8;
    let bh = height.saturating_sub(oy) / 8;
    if bw == 0 || bh == 0 || luma.len() < width * height {
        return (Vec::new(), 0, 0);
    }
    let b = basis();
    let max_sum = max_sum.min(14);
    let umax = (max_sum + 1).min(8);
    let mut out = vec![[0.0f32; 64]; bw * bh];
    // Each block is computed alone, so the parallel split cannot change a bit.
    out.par_chunks_mut(bw).enumerate().for_each(|(by, row)| {
        for (bx, coef) in row.iter_mut().enumerate() {
            let (x0, y0) = (ox + bx * 8, oy + by * 8);
            // Rows first: tmp[y][u] = sum_x f(x, y) B[u][x].
            let mut tmp = [[0.0f32; 8]; 8];
            for (y, t) in tmp.iter_mut().enumerate() {
                let line = &luma[(y0 + y) * width + x0..(y0 + y) * width + x0 + 8];
                for (u, tu) in t.iter_mut().enumerate().take(umax) {
                    *tu = line.iter().zip(&b[u]).map(|(&p, &c)| (p - 128.0) * c).sum();
                }
            }
            // Only the frequencies the caller reads (u + v <= max_sum); the
            // others stay 0. Each computed one is summed exactly as in the
            // full transform, so it has the same bits.
            for v in 0..umax {
                for u in 0..(max_sum + 1 - v).min(8) {
                    coef[v * 8 + u] = (0..8).map(|y| tmp[y][u] * b[v][y]).sum();
                }
            }
        }
    });
    (out, bw, bh)
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
        let (blocks, bw, bh) = block_dct(&luma, 16, 8, 8, 0, 14);
        assert_eq!((bw, bh), (1, 1));
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
                assert!((f64::from(blocks[0][v * 8 + u]) - expected).abs() < 1e-2);
            }
        }
    }

    #[test]
    fn partial_transform_has_the_same_bits() {
        let luma: Vec<f32> = (0..24 * 16).map(|i| ((i * 53 + 7) % 241) as f32).collect();
        let (full, ..) = block_dct(&luma, 24, 16, 4, 4, 14);
        let (part, ..) = block_dct(&luma, 24, 16, 4, 4, 5);
        for (f, p) in full.iter().zip(&part) {
            for v in 0..8 {
                for u in 0..8 {
                    let want = if u + v <= 5 { f[v * 8 + u] } else { 0.0 };
                    assert_eq!(p[v * 8 + u].to_bits(), want.to_bits());
                }
            }
        }
    }

    #[test]
    fn too_small_gives_nothing() {
        assert_eq!(block_dct(&[0.0; 49], 7, 7, 0, 0, 14).0.len(), 0);
        assert_eq!(block_dct(&[0.0; 3], 8, 8, 0, 0, 14).0.len(), 0);
    }
}
