//! IJG quantisation tables and the quality estimate.

use crate::metadata::QuantTable;

/// IJG / ITU T.81 Annex K.1 luminance table, natural order.
pub const IJG_LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/// IJG / ITU T.81 Annex K.1 chrominance table, natural order.
pub const IJG_CHROMA: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/// The IJG table for `quality` (libjpeg `jpeg_quality_scaling`).
#[must_use]
pub fn ijg_table(base: &[u16; 64], quality: u8) -> [u16; 64] {
    let q = u32::from(quality.clamp(1, 100));
    let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
    let mut out = [0u16; 64];
    for (o, &b) in out.iter_mut().zip(base) {
        *o = ((u32::from(b) * scale + 50) / 100).clamp(1, 255) as u16;
    }
    out
}

/// Estimated JPEG quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QualityEstimate {
    /// The IJG quality whose luminance table is closest (1..=100).
    pub quality: u8,
    /// Whether the table is exactly an IJG-scaled table (libjpeg, Pillow,
    /// most editors and web pipelines) rather than a camera's own.
    pub standard: bool,
}

/// Estimate the quality from the luminance table (slot 0); `None` when
/// there is no table or it holds an invalid step of 0.
#[must_use]
pub fn estimate_quality(tables: &[QuantTable]) -> Option<QualityEstimate> {
    let luma = tables.iter().find(|t| t.id == 0).or(tables.first())?;
    // A step of 0 is invalid (T.81 B.2.4.1): the table is garbage.
    if luma.values.contains(&0) {
        return None;
    }
    let (quality, error) = (1..=100u8)
        .map(|q| {
            let reference = ijg_table(&IJG_LUMA, q);
            let error: u32 = reference
                .iter()
                .zip(&luma.values)
                .map(|(&a, &b)| u32::from(a.abs_diff(b)))
                .sum();
            (q, error)
        })
        .min_by_key(|&(q, e)| (e, u8::MAX - q))?;
    // Standard libraries scale the chroma table with the same factor.
    let chroma_ok = tables
        .iter()
        .find(|t| t.id == 1)
        .is_none_or(|t| t.values == ijg_table(&IJG_CHROMA, quality));
    Some(QualityEstimate {
        quality,
        standard: error == 0 && chroma_ok,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_round_trips_through_ijg_tables() {
        for q in [10u8, 50, 75, 90, 100] {
            let table = QuantTable {
                id: 0,
                values: ijg_table(&IJG_LUMA, q),
            };
            let est = estimate_quality(&[table]).expect("estimate");
            assert!(est.standard);
            // q=100 and q=99 both... every quality maps to a distinct table at these points.
            assert_eq!(est.quality, q);
        }
    }
}
