//! Error level analysis (Krawetz, "A Picture's Worth...", Black Hat 2007).
//!
//! Re-save the luminance as JPEG at a known quality and measure, per 8x8
//! block, the mean absolute change. Content that has already been through a
//! similar quantisation changes little; content with another history (pasted,
//! painted) changes more. The raw error also follows texture, so each block
//! is compared with blocks of similar activity, and the map only supports the
//! other tests: it never flags on its own.

use image::codecs::jpeg::JpegEncoder;
use image::ImageDecoder;

/// Re-save quality (the customary ELA setting).
const QUALITY: u8 = 90;

/// Per-8x8-block ELA, relative to blocks of similar texture.
#[derive(Debug, Clone, Default)]
pub struct Ela {
    /// Blocks across.
    pub bw: usize,
    /// Blocks down.
    pub bh: usize,
    /// Per block: error over the median error of its texture class, minus 1
    /// (0 = typical, 1 = twice the typical error).
    pub excess: Vec<f32>,
    /// Share of blocks with an error at least three times the typical one.
    pub outlier_share: f32,
}

/// Run ELA on `luma` (`width` x `height`). Returns `None` if the encoder or
/// decoder fails (it should not on valid sizes).
#[must_use]
pub fn analyze(luma: &[f32], width: u32, height: u32) -> Option<Ela> {
    let (w, h) = (width as usize, height as usize);
    if luma.len() < w * h || w < 8 || h < 8 {
        return None;
    }
    let gray: Vec<u8> = luma[..w * h]
        .iter()
        .map(|&v| v.round().clamp(0.0, 255.0) as u8)
        .collect();
    let mut encoded = Vec::new();
    JpegEncoder::new_with_quality(&mut encoded, QUALITY)
        .encode(&gray, width, height, image::ExtendedColorType::L8)
        .ok()?;
    let decoder = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(&encoded)).ok()?;
    if decoder.dimensions() != (width, height) || decoder.color_type() != image::ColorType::L8 {
        return None;
    }
    let mut back = vec![0u8; w * h];
    decoder.read_image(&mut back).ok()?;

    let (bw, bh) = (w / 8, h / 8);
    let mut error = vec![0.0f32; bw * bh];
    let mut activity = vec![0.0f32; bw * bh];
    for by in 0..bh {
        for bx in 0..bw {
            let (mut e, mut a) = (0.0f32, 0.0f32);
            for y in by * 8..by * 8 + 8 {
                for x in bx * 8..bx * 8 + 8 {
                    let i = y * w + x;
                    e += (f32::from(gray[i]) - f32::from(back[i])).abs();
                    if x + 1 < bx * 8 + 8 {
                        a += (f32::from(gray[i + 1]) - f32::from(gray[i])).abs();
                    }
                }
            }
            error[by * bw + bx] = e / 64.0;
            activity[by * bw + bx] = a / 56.0;
        }
    }
    // Texture classes: octaves of mean gradient. The typical error of each
    // class is its median, so a busy photo is not an outlier everywhere.
    let class = |a: f32| ((a + 0.5).log2().clamp(-1.0, 6.0) + 1.0) as usize;
    let mut per_class: Vec<Vec<f32>> = vec![Vec::new(); 8];
    for (&e, &a) in error.iter().zip(&activity) {
        per_class[class(a)].push(e);
    }
    let medians: Vec<f32> = per_class
        .iter_mut()
        .map(|v| {
            if v.is_empty() {
                return 0.0;
            }
            v.sort_by(f32::total_cmp);
            v[v.len() / 2]
        })
        .collect();
    // A floor of a quarter grey level keeps flat, error-free areas at 0.
    let excess: Vec<f32> = error
        .iter()
        .zip(&activity)
        .map(|(&e, &a)| (e / medians[class(a)].max(0.25) - 1.0).max(0.0))
        .collect();
    let outliers = excess.iter().filter(|&&v| v >= 2.0).count();
    Some(Ela {
        bw,
        bh,
        outlier_share: outliers as f32 / excess.len().max(1) as f32,
        excess,
    })
}
