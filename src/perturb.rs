//! Perturbations that upload pipelines and careful fraudsters apply:
//! metadata dropped, crops, downscaling, JPEG re-encoding; and one that
//! honest capture applies: a defocused background. Used by
//! `trueshot eval --perturb` and `trueshot calibrate` to check and train
//! robustness. Every choice is drawn from a seed, so runs repeat exactly.

use std::io::Cursor;

use image::imageops::FilterType;
use image::DynamicImage;

use crate::decode;
use crate::detectors::jpeg::estimate_quality;
use crate::metadata;
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
    /// Crop to a random window covering `min..=max` of each side: one
    /// fraction for both sides (the aspect ratio stays, to a pixel), each
    /// rounded to the nearest pixel, at least 1, and kept within the range
    /// when a whole number of pixels is.
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
    /// Blur the background, as a phone's portrait mode or a close-up's
    /// shallow depth of field does: a Gaussian blur with sigma drawn from
    /// `min..=max` pixels outside an ellipse around the centre (60% of the
    /// width, 80% of the height), fading in over a third of its radius.
    Defocus {
        /// Smallest blur sigma, pixels.
        min: f32,
        /// Largest blur sigma, pixels.
        max: f32,
    },
}

/// Parse a comma-separated list:
/// `jpeg:70-95,resize:1600,crop:0.8-1.0,gif,strip-metadata,defocus:2-6`.
///
/// # Errors
/// [`Error::InvalidConfig`] naming the step it could not read and why; an
/// empty list or step is an error too (it is a typo, not "no perturbation").
pub fn parse(spec: &str) -> Result<Vec<Perturbation>, Error> {
    if spec.trim().is_empty() {
        return Err(Error::InvalidConfig(
            "empty perturbation list; give steps such as jpeg:70-95,resize:1600".into(),
        ));
    }
    spec.split(',').map(|s| parse_step(s.trim())).collect()
}

/// One step of [`parse`].
fn parse_step(step: &str) -> Result<Perturbation, Error> {
    let invalid = |why: &str| Error::InvalidConfig(format!("perturbation '{step}': {why}"));
    if step.is_empty() {
        return Err(Error::InvalidConfig(
            "empty perturbation step (a stray comma?)".into(),
        ));
    }
    let (name, arg) = step.split_once(':').unwrap_or((step, ""));
    let arg = arg.trim();
    // `a-b`, or `a` for `a-a`, kept only when lo <= a <= b <= hi.
    fn range<T: std::str::FromStr + PartialOrd>(arg: &str, lo: T, hi: T) -> Option<(T, T)> {
        let (a, b) = arg.split_once('-').unwrap_or((arg, arg));
        let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        (lo <= a && a <= b && b <= hi).then_some((a, b))
    }
    let or_default = |default| if arg.is_empty() { default } else { arg };
    match name {
        "jpeg" => range(or_default("70-95"), 1u8, 100)
            .map(|(min, max)| Perturbation::Jpeg { min, max })
            .ok_or_else(|| {
                invalid("jpeg quality must be a whole number 1-100, or a range min-max")
            }),
        "resize" => arg
            .parse()
            .ok()
            .filter(|&n| n >= 16)
            .map(Perturbation::Resize)
            .ok_or_else(|| {
                invalid("resize needs a whole number of pixels, at least 16 and at most 4294967295")
            }),
        "crop" => range(or_default("0.8-1.0"), 0.1f32, 1.0)
            .map(|(min, max)| Perturbation::Crop { min, max })
            .ok_or_else(|| invalid("crop must keep a fraction 0.1-1.0, or a range min-max")),
        "defocus" => range(or_default("2-6"), 0.5f32, 50.0)
            .map(|(min, max)| Perturbation::Defocus { min, max })
            .ok_or_else(|| invalid("defocus sigma must be 0.5-50 pixels, or a range min-max")),
        "strip-metadata" | "gif" if !arg.is_empty() => Err(invalid("takes no argument")),
        "strip-metadata" => Ok(Perturbation::StripMetadata),
        "gif" => Ok(Perturbation::Gif),
        _ => Err(invalid(
            "unknown step; known: jpeg, resize, crop, defocus, gif, strip-metadata",
        )),
    }
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
///
/// Steps that name an encoding (`jpeg`, `gif`, `strip-metadata`) write
/// one. Steps that only change pixels (`resize`, `crop`, `defocus`) write
/// nothing themselves: when the last of them is not followed by an
/// encoding step, the result keeps the family of the file it came from,
/// as an upload pipeline that resizes a photo does: a JPEG is written
/// again as a JPEG at its own estimated IJG quality (90 when the tables
/// give none), anything else as a lossless PNG. So `resize:1600,jpeg:80`
/// encodes once, at 80, and `resize:1600` alone on a JPEG at 85 gives a
/// JPEG at 85. A step that changes nothing (a resize to a larger size, a
/// crop that keeps everything) writes nothing, and with no step that
/// changes or encodes anything the bytes come back unchanged.
///
/// # Errors
/// Decoding errors of the input; [`Error::Unsupported`] when the result
/// cannot be written in its format (JPEG and GIF hold at most 65535
/// pixels a side).
pub fn apply(
    bytes: &[u8],
    steps: &[Perturbation],
    seed: u64,
    config: &Config,
) -> Result<Vec<u8>, Error> {
    // The latest encoding: the input, or what the last encoding step wrote.
    let mut file: Vec<u8> = bytes.to_vec();
    // Its pixels, decoded when a step first needs them, and whether a
    // step has changed them since `file` was written.
    let mut pixels: Option<DynamicImage> = None;
    let mut changed = false;
    let mut draw = Draw(seed);
    for step in steps {
        let image = match pixels.take() {
            Some(image) => image,
            None => decode::decode(&file, decode::sniff(&file)?, config)?,
        };
        match *step {
            Perturbation::Resize(long) => {
                let (w, h) = (image.width(), image.height());
                if w.max(h) > long {
                    let f = long as f32 / w.max(h) as f32;
                    let (nw, nh) = (
                        ((w as f32 * f).round() as u32).max(1),
                        ((h as f32 * f).round() as u32).max(1),
                    );
                    pixels = Some(image.resize_exact(nw, nh, FilterType::Lanczos3));
                    changed = true;
                } else {
                    pixels = Some(image);
                }
            }
            Perturbation::Crop { min, max } => {
                let keep = min + (max - min) * draw.next();
                let (w, h) = (image.width(), image.height());
                let (cw, ch) = (
                    cropped_side(w, keep, min, max),
                    cropped_side(h, keep, min, max),
                );
                let x = ((w - cw) as f32 * draw.next()) as u32;
                let y = ((h - ch) as f32 * draw.next()) as u32;
                if (cw, ch) == (w, h) {
                    pixels = Some(image);
                } else {
                    pixels = Some(image.crop_imm(x, y, cw, ch));
                    changed = true;
                }
            }
            Perturbation::Defocus { min, max } => {
                let sigma = min + (max - min) * draw.next();
                pixels = Some(DynamicImage::ImageRgb8(defocus(&image.to_rgb8(), sigma)));
                changed = true;
            }
            Perturbation::Jpeg { min, max } => {
                let q = min
                    + ((f32::from(max - min) + 1.0) * draw.next())
                        .floor()
                        .min(f32::from(max - min)) as u8;
                file = encode(&image, Some(q))?;
                changed = false;
            }
            Perturbation::StripMetadata => {
                file = encode(&image, None)?;
                changed = false;
            }
            Perturbation::Gif => {
                file = encode_gif(&image)?;
                changed = false;
            }
        }
    }
    match pixels {
        Some(image) if changed => encode(&image, quality_to_keep(&file)),
        _ => Ok(file),
    }
}

/// The quality to write changed pixels at so that the file keeps its
/// family: a JPEG's own estimated IJG quality (90 when its tables give
/// none), `None` (lossless PNG) for every other format.
fn quality_to_keep(file: &[u8]) -> Option<u8> {
    // 90: a common default of cameras and editors, for the rare JPEG whose
    // tables cannot be read (the decoder read it, so it has some).
    const UNKNOWN_JPEG_QUALITY: u8 = 90;
    match decode::sniff(file) {
        Ok(decode::Format::Jpeg) => Some(
            estimate_quality(&metadata::extract(file, decode::Format::Jpeg).quant_tables)
                .map_or(UNKNOWN_JPEG_QUALITY, |estimate| estimate.quality),
        ),
        _ => None,
    }
}

/// Pixels a crop keeps of a side of `side` pixels for the drawn fraction
/// `keep`: the nearest whole number, at least 1, and within `min..=max` of
/// the side when some whole number is (a 2-pixel side cropped to 0.8-1.0
/// keeps both pixels, not one).
fn cropped_side(side: u32, keep: f32, min: f32, max: f32) -> u32 {
    let side_f = f64::from(side);
    // The slack absorbs the rounding of the f32 fractions (0.8 is
    // 0.800000011...; an f32 is off by at most half an epsilon), so that
    // 0.8 of 5 pixels may keep 4.
    let slack = side_f * f64::from(f32::EPSILON);
    let nearest = (side_f * f64::from(keep)).round();
    let lowest = (side_f * f64::from(min) - slack).ceil();
    let highest = (side_f * f64::from(max) + slack).floor();
    let kept = if lowest <= highest {
        nearest.clamp(lowest, highest)
    } else {
        nearest
    };
    (kept as u32).clamp(1, side.max(1))
}

/// Blend a Gaussian-blurred copy in outside a centred ellipse (see
/// [`Perturbation::Defocus`]).
fn defocus(rgb: &image::RgbImage, sigma: f32) -> image::RgbImage {
    let blurred = image::imageops::blur(rgb, sigma);
    let (w, h) = (rgb.width() as f32, rgb.height() as f32);
    let mut out = rgb.clone();
    for (x, y, px) in out.enumerate_pixels_mut() {
        let dx = (x as f32 + 0.5 - w / 2.0) / (0.3 * w);
        let dy = (y as f32 + 0.5 - h / 2.0) / (0.4 * h);
        let weight = (((dx * dx + dy * dy).sqrt() - 1.0) / 0.3).clamp(0.0, 1.0);
        let far = blurred.get_pixel(x, y);
        for (c, &b) in px.0.iter_mut().zip(&far.0) {
            *c = (f32::from(*c) * (1.0 - weight) + f32::from(b) * weight).round() as u8;
        }
    }
    out
}

/// Encode as JPEG at `quality`, or as PNG when `None`. No metadata is written.
fn encode(image: &DynamicImage, quality: Option<u8>) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let result = match quality {
        Some(q) => {
            check_sides(image, "JPEG")?;
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, q)
                .encode_image(&DynamicImage::ImageRgb8(image.to_rgb8()))
                .map_err(|e| cannot_write(image, "JPEG", &e))
        }
        None => DynamicImage::ImageRgb8(image.to_rgb8())
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .map_err(|e| cannot_write(image, "PNG", &e)),
    };
    result?;
    Ok(out)
}

/// Encode as a single-frame GIF (NeuQuant palette of 256 colours).
fn encode_gif(image: &DynamicImage) -> Result<Vec<u8>, Error> {
    check_sides(image, "GIF")?;
    let rgb = image.to_rgb8();
    let mut out = Vec::new();
    image::codecs::gif::GifEncoder::new(&mut out)
        .encode(
            rgb.as_raw(),
            rgb.width(),
            rgb.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| cannot_write(image, "GIF", &e))?;
    Ok(out)
}

/// JPEG and GIF store each side in 16 bits (ITU T.81 B.2.2; GIF89a's
/// logical screen): say so, rather than pass on the encoder's terse error.
fn check_sides(image: &DynamicImage, format: &str) -> Result<(), Error> {
    const MAX_SIDE: u32 = u16::MAX as u32;
    if image.width() > MAX_SIDE || image.height() > MAX_SIDE {
        return Err(Error::Unsupported(format!(
            "cannot write a {}x{} image as {format}: it holds at most {MAX_SIDE} pixels a side",
            image.width(),
            image.height()
        )));
    }
    Ok(())
}

/// An encoder's failure. The input was read; what failed is writing the
/// result in a format that cannot hold it, so it is not a decoding error.
fn cannot_write(image: &DynamicImage, format: &str, error: &image::ImageError) -> Error {
    Error::Unsupported(format!(
        "cannot write a {}x{} image as {format}: {error}",
        image.width(),
        image.height()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_spec() {
        let steps = parse("jpeg:70-95,resize:1600,strip-metadata,crop:0.8-1.0,gif,defocus:2-6")
            .expect("spec");
        assert_eq!(steps.len(), 6);
        assert_eq!(steps[4], Perturbation::Gif);
        assert_eq!(steps[5], Perturbation::Defocus { min: 2.0, max: 6.0 });
        assert_eq!(steps[0], Perturbation::Jpeg { min: 70, max: 95 });
        assert_eq!(steps[1], Perturbation::Resize(1600));
        assert!(parse("blur:3").is_err());
        assert!(parse("defocus:6-2").is_err());
        assert!(parse("jpeg:95-70").is_err());
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let message = |spec: &str| parse(spec).map(|_| ()).unwrap_err().to_string();
        // Empty lists and steps are typos, not "no perturbation".
        for spec in ["", " ", ",", "jpeg:80,", "jpeg:80,,gif"] {
            assert!(message(spec).contains("empty perturbation"), "{spec:?}");
        }
        // A fractional quality is refused, not truncated.
        assert!(message("jpeg:70.5-70.9").contains("whole number"));
        assert!(message("jpeg:200").contains("1-100"));
        assert!(message("resize:0").contains("at least 16"));
        assert!(message("crop:1.5").contains("0.1-1.0"));
        assert!(message("gif:3").contains("no argument"));
        assert!(message("blur:3").contains("unknown step"));
        assert_eq!(
            parse("jpeg:75").expect("one quality"),
            [Perturbation::Jpeg { min: 75, max: 75 }]
        );
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

    /// A 200x100 test card with detail in every block, so that JPEG tables
    /// and resizes matter.
    fn card() -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(200, 100, |x, y| {
            image::Rgb([
                (x * 3 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x ^ y) % 256) as u8,
            ])
        }))
    }

    /// The format of an encoding, and its estimated IJG quality if a JPEG.
    fn format_and_quality(bytes: &[u8]) -> (Option<decode::Format>, Option<u8>) {
        let format = decode::sniff(bytes).ok();
        let quality = (format == Some(decode::Format::Jpeg))
            .then(|| {
                crate::detectors::jpeg::estimate_quality(
                    &crate::metadata::extract(bytes, decode::Format::Jpeg).quant_tables,
                )
            })
            .flatten()
            .map(|estimate| estimate.quality);
        (format, quality)
    }

    #[test]
    fn pixel_steps_keep_the_files_format_and_no_op_steps_write_nothing() {
        use decode::Format::{Jpeg, Png};
        let jpeg_75 = encode(&card(), Some(75)).expect("jpeg");
        let png = encode(&card(), None).expect("png");
        assert_eq!(format_and_quality(&jpeg_75), (Some(Jpeg), Some(75)));
        let cfg = Config::default();
        let run = |bytes: &[u8], spec: &str| {
            apply(bytes, &parse(spec).expect("spec"), 3, &cfg).expect("perturbed")
        };
        // A resize to a larger size or a crop that keeps everything changes
        // nothing, so nothing is written: a JPEG does not become a PNG.
        for spec in ["resize:60000", "crop:1.0", "resize:200,crop:1.0"] {
            assert!(run(&jpeg_75, spec) == jpeg_75, "{spec}");
            assert!(run(&png, spec) == png, "{spec}");
        }
        // Changed pixels keep the family: a JPEG at its own quality, a PNG
        // losslessly.
        for spec in ["resize:64", "crop:0.5", "defocus:2", "crop:0.5,resize:64"] {
            assert_eq!(
                format_and_quality(&run(&jpeg_75, spec)),
                (Some(Jpeg), Some(75)),
                "{spec}"
            );
            assert_eq!(
                format_and_quality(&run(&png, spec)),
                (Some(Png), None),
                "{spec}"
            );
        }
        // The last encoding step decides, and pixel steps before it add no
        // encoding of their own.
        let resized = run(&jpeg_75, "resize:64,jpeg:80");
        assert_eq!(format_and_quality(&resized), (Some(Jpeg), Some(80)));
        let once = run(&png, "jpeg:80");
        assert!(run(&png, "jpeg:80,resize:60000") == once);
        let gif = run(&jpeg_75, "gif,resize:64");
        assert_eq!(format_and_quality(&gif), (Some(Png), None));
        let out = run(&png, "jpeg:80,crop:0.5");
        assert_eq!(format_and_quality(&out), (Some(Jpeg), Some(80)));
        let image = image::load_from_memory(&out).expect("decodes");
        assert_eq!((image.width(), image.height()), (100, 50));
    }

    #[test]
    fn crops_round_each_side_and_keep_its_fraction_in_range() {
        let cfg = Config::default();
        let size_after = |width: u32, height: u32, spec: &str, seed: u64| {
            let png = encode(
                &DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
                    image::Rgb([(x * 40) as u8, (y * 40) as u8, 9])
                })),
                None,
            )
            .expect("png");
            let out = apply(&png, &parse(spec).expect("spec"), seed, &cfg).expect("cropped");
            let image = image::load_from_memory(&out).expect("decodes");
            (image.width(), image.height())
        };
        for seed in 0..40 {
            // The drawn fraction of each side, rounded to the nearest pixel.
            let keep = 0.5 + 0.4 * Draw(seed).next();
            let kept = (100.0 * keep).round() as u32;
            assert_eq!(
                size_after(100, 50, "crop:0.5-0.9", seed),
                (kept, (50.0 * keep).round() as u32),
                "seed {seed}"
            );
            // 0.8-1.0 of 2 pixels can only be both of them, not one.
            assert_eq!(
                size_after(2, 2, "crop:0.8-1.0", seed),
                (2, 2),
                "seed {seed}"
            );
            // Each side keeps 0.8-1.0 of itself: 6 or 7 of 7, 3 of 3.
            let (w, h) = size_after(7, 3, "crop:0.8-1.0", seed);
            assert!((6..=7).contains(&w) && h == 3, "seed {seed}: {w}x{h}");
            // 0.5-0.6 of 5 pixels: 3 (0.6); 0.5 of 1 pixel is still 1.
            assert_eq!(
                size_after(5, 1, "crop:0.5-0.6", seed),
                (3, 1),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn a_result_its_format_cannot_hold_is_not_a_decoding_error() {
        // JPEG and GIF store each side in 16 bits: 70000 pixels do not fit.
        let wide = encode(
            &DynamicImage::ImageRgb8(image::RgbImage::new(70_000, 2)),
            None,
        )
        .expect("png");
        let cfg = Config::default();
        for spec in ["jpeg:80", "gif"] {
            let error =
                apply(&wide, &parse(spec).expect("spec"), 1, &cfg).expect_err("too wide to write");
            assert_eq!(error.code(), "unsupported_format", "{spec}: {error}");
            assert!(error.to_string().contains("70000x2"), "{spec}: {error}");
        }
        // The input as found, and as a PNG, are still fine.
        assert!(apply(&wide, &parse("strip-metadata").expect("spec"), 1, &cfg).is_ok());
    }

    #[test]
    fn defocus_blurs_the_border_and_keeps_the_centre() {
        // A checkerboard of single pixels: blurring turns it to mid grey.
        let img = image::RgbImage::from_fn(120, 80, |x, y| {
            let v = if (x + y) % 2 == 0 { 40 } else { 220 };
            image::Rgb([v, v, v])
        });
        let out = defocus(&img, 3.0);
        assert_eq!(out.get_pixel(60, 40), img.get_pixel(60, 40));
        let corner = out.get_pixel(2, 2).0[0];
        assert!((110..=150).contains(&corner), "corner {corner}");
    }
}
