//! Perturbations that upload pipelines and careful fraudsters apply:
//! metadata dropped, crops, downscaling, JPEG re-encoding. Used by
//! `trueshot eval --perturb` and `trueshot calibrate` to check and train
//! robustness. Every choice is drawn from a seed, so runs repeat exactly.

use std::io::Cursor;

use image::imageops::FilterType;
use image::DynamicImage;

use crate::decode;
use crate::{Config, Error};

/// One perturbation step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Perturbation {
    /// Re-encode as JPEG with a quality drawn from `min..=max` (drops metadata).
    Jpeg {
        /// Lowest quality.
        min: u8,
        /// Highest quality.
        max: u8,
    },
    /// Downscale so the long side is at most this many pixels (Lanczos3).
    Resize(u32),
    /// Crop to a random window covering `min..=max` of each side.
    Crop {
        /// Smallest kept fraction of each side.
        min: f32,
        /// Largest kept fraction.
        max: f32,
    },
    /// Re-encode as a GIF: 256 colours chosen by NeuQuant, as palette
    /// compressors and GIF exports do (drops metadata).
    Gif,
    /// Drop all metadata (re-encode losslessly as PNG).
    StripMetadata,
}

/// Parse a comma-separated list: `jpeg:70-95,resize:1600,crop:0.8-1.0,gif,strip-metadata`.
///
/// # Errors
/// [`Error::InvalidConfig`] naming the step it could not read.
pub fn parse(spec: &str) -> Result<Vec<Perturbation>, Error> {
    let bad = |step: &str| Error::InvalidConfig(format!("unknown perturbation '{step}'"));
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|step| {
            let (name, arg) = step.split_once(':').unwrap_or((step, ""));
            let range = |arg: &str| -> Option<(f32, f32)> {
                let (a, b) = arg.split_once('-').unwrap_or((arg, arg));
                Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
            };
            match name {
                "jpeg" => {
                    let (a, b) = range(if arg.is_empty() { "70-95" } else { arg })
                        .ok_or_else(|| bad(step))?;
                    if !(1.0..=100.0).contains(&a) || !(a..=100.0).contains(&b) {
                        return Err(bad(step));
                    }
                    Ok(Perturbation::Jpeg {
                        min: a as u8,
                        max: b as u8,
                    })
                }
                "resize" => arg
                    .parse()
                    .ok()
                    .filter(|&n| n >= 16)
                    .map(Perturbation::Resize)
                    .ok_or_else(|| bad(step)),
                "crop" => {
                    let (a, b) = range(if arg.is_empty() { "0.8-1.0" } else { arg })
                        .ok_or_else(|| bad(step))?;
                    if !(0.1..=1.0).contains(&a) || !(a..=1.0).contains(&b) {
                        return Err(bad(step));
                    }
                    Ok(Perturbation::Crop { min: a, max: b })
                }
                "strip-metadata" => Ok(Perturbation::StripMetadata),
                "gif" => Ok(Perturbation::Gif),
                _ => Err(bad(step)),
            }
        })
        .collect()
}

/// A small deterministic generator (SplitMix64).
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Apply `steps` in order to an encoded image and return the new encoding.
/// With no step that re-encodes, the bytes come back unchanged.
///
/// # Errors
/// Decoding errors of the input.
pub fn apply(
    bytes: &[u8],
    steps: &[Perturbation],
    seed: u64,
    config: &Config,
) -> Result<Vec<u8>, Error> {
    if steps.is_empty() {
        return Ok(bytes.to_vec());
    }
    let format = decode::sniff(bytes)?;
    let mut image = decode::decode(bytes, format, config)?;
    let mut draw = Draw(seed);
    let mut encoded: Option<Vec<u8>> = None;
    for step in steps {
        if let Some(previous) = encoded.take() {
            image = decode::decode(&previous, decode::sniff(&previous)?, config)?;
        }
        match *step {
            Perturbation::Resize(long) => {
                let (w, h) = (image.width(), image.height());
                if w.max(h) > long {
                    let f = long as f32 / w.max(h) as f32;
                    let (nw, nh) = (
                        ((w as f32 * f).round() as u32).max(1),
                        ((h as f32 * f).round() as u32).max(1),
                    );
                    image = image.resize_exact(nw, nh, FilterType::Lanczos3);
                }
            }
            Perturbation::Crop { min, max } => {
                let keep = min + (max - min) * draw.next();
                let (w, h) = (image.width(), image.height());
                let (cw, ch) = (
                    ((w as f32 * keep) as u32).max(1),
                    ((h as f32 * keep) as u32).max(1),
                );
                let x = ((w - cw) as f32 * draw.next()) as u32;
                let y = ((h - ch) as f32 * draw.next()) as u32;
                image = image.crop_imm(x, y, cw, ch);
            }
            Perturbation::Jpeg { min, max } => {
                let q = min
                    + ((f32::from(max - min) + 1.0) * draw.next())
                        .floor()
                        .min(f32::from(max - min)) as u8;
                encoded = Some(encode(&image, Some(q))?);
            }
            Perturbation::StripMetadata => encoded = Some(encode(&image, None)?),
            Perturbation::Gif => encoded = Some(encode_gif(&image)?),
        }
    }
    match encoded {
        Some(bytes) => Ok(bytes),
        // Geometry changed but nothing encoded yet: PNG keeps the pixels exact.
        None => encode(&image, None),
    }
}

/// Encode as JPEG at `quality`, or as PNG when `None`. No metadata is written.
fn encode(image: &DynamicImage, quality: Option<u8>) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let result = match quality {
        Some(q) => image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, q)
            .encode_image(&DynamicImage::ImageRgb8(image.to_rgb8())),
        None => DynamicImage::ImageRgb8(image.to_rgb8())
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png),
    };
    result.map_err(|e| Error::Decode(format!("re-encoding failed: {e}")))?;
    Ok(out)
}

/// Encode as a single-frame GIF (NeuQuant palette of 256 colours).
fn encode_gif(image: &DynamicImage) -> Result<Vec<u8>, Error> {
    let rgb = image.to_rgb8();
    let mut out = Vec::new();
    image::codecs::gif::GifEncoder::new(&mut out)
        .encode(
            rgb.as_raw(),
            rgb.width(),
            rgb.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| Error::Decode(format!("re-encoding failed: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_spec() {
        let steps = parse("jpeg:70-95,resize:1600,strip-metadata,crop:0.8-1.0,gif").expect("spec");
        assert_eq!(steps.len(), 5);
        assert_eq!(steps[4], Perturbation::Gif);
        assert_eq!(steps[0], Perturbation::Jpeg { min: 70, max: 95 });
        assert_eq!(steps[1], Perturbation::Resize(1600));
        assert!(parse("blur:3").is_err());
        assert!(parse("jpeg:95-70").is_err());
    }

    #[test]
    fn perturbations_are_deterministic_and_shrink() {
        let img = image::RgbImage::from_fn(200, 100, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
        });
        let png = encode(&DynamicImage::ImageRgb8(img), None).expect("png");
        let steps = parse("crop:0.5-0.9,resize:64,jpeg:80-90").expect("spec");
        let cfg = Config::default();
        let a = apply(&png, &steps, 7, &cfg).expect("a");
        let b = apply(&png, &steps, 7, &cfg).expect("b");
        assert_eq!(a, b);
        let out = image::load_from_memory(&a).expect("decodes");
        assert!(out.width() <= 64 && out.height() <= 64);
        assert_eq!(decode::sniff(&a).ok(), Some(decode::Format::Jpeg));
    }
}
