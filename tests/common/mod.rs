//! Fixture builders shared by the integration tests: images made in code,
//! with metadata written into them, so that every truth is known by
//! construction.
#![allow(dead_code)]

use image::{ImageEncoder, RgbImage};
use trueshot::Finding;

/// SplitMix64: a fixed, seedable generator so every run builds the same
/// inputs.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 24 bits.
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// The first finding with `code`; panics (failing the test) when there is
/// none.
pub fn finding<'a>(findings: &'a [Finding], code: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} finding"))
}

/// A deterministic camera-like RGB image: smooth shapes plus
/// signal-dependent noise from a fixed-seed generator.
pub fn camera_like(width: u32, height: u32, seed: u64) -> RgbImage {
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        // xorshift64*: tiny, deterministic, good enough for test noise.
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        (rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    };
    RgbImage::from_fn(width, height, |x, y| {
        let base = 60.0
            + 120.0 * ((x as f32 / width as f32) * 0.7 + (y as f32 / height as f32) * 0.3)
            + 30.0 * ((x as f32 / 17.0).sin() * (y as f32 / 23.0).cos());
        let mut px = [0u8; 3];
        for (c, v) in px.iter_mut().enumerate() {
            let level = base * (0.8 + 0.15 * c as f32);
            let sigma = (0.5 + 0.02 * level).sqrt() * 1.5;
            let noise = (next() + next() + next() - 1.5) * 2.0 * sigma;
            *v = (level + noise).clamp(0.0, 255.0) as u8;
        }
        image::Rgb(px)
    })
}

/// Encode as PNG.
pub fn png(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("png encode");
    out
}

/// Encode as JPEG at `quality`.
pub fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(image)
        .expect("jpeg encode");
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG chunk with length and CRC.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

/// Insert chunks right after IHDR.
pub fn png_with_chunks(png: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    let ihdr_end = 8 + 4 + 4 + 13 + 4;
    let mut out = png[..ihdr_end].to_vec();
    for c in chunks {
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&png[ihdr_end..]);
    out
}

/// A tEXt chunk.
pub fn text_chunk(key: &str, value: &str) -> Vec<u8> {
    let mut data = key.as_bytes().to_vec();
    data.push(0);
    data.extend_from_slice(value.as_bytes());
    png_chunk(b"tEXt", &data)
}

/// An uncompressed iTXt chunk.
pub fn itxt_chunk(key: &str, value: &str) -> Vec<u8> {
    let mut data = key.as_bytes().to_vec();
    data.extend_from_slice(&[0, 0, 0, 0, 0]);
    data.extend_from_slice(value.as_bytes());
    png_chunk(b"iTXt", &data)
}

/// Insert a JPEG segment (marker, payload) right after SOI.
pub fn jpeg_with_segment(jpeg: &[u8], marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// An XMP APP1 payload wrapping `body` in a minimal packet.
pub fn xmp_app1(body: &str) -> Vec<u8> {
    let mut out = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    out.extend_from_slice(
        format!(
            "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">{body}</rdf:RDF></x:xmpmeta>"
        )
        .as_bytes(),
    );
    out
}

/// A little-endian TIFF/EXIF block with ASCII entries in IFD0 and, when
/// `exif_dims` is given, an Exif IFD with PixelXDimension/PixelYDimension.
pub fn exif_block(ascii: &[(u16, &str)], exif_dims: Option<(u32, u32)>) -> Vec<u8> {
    let mut entries: Vec<(u16, u16, u32, Vec<u8>)> = ascii
        .iter()
        .map(|&(tag, s)| {
            let mut v = s.as_bytes().to_vec();
            v.push(0);
            (tag, 2u16, v.len() as u32, v)
        })
        .collect();
    if exif_dims.is_some() {
        entries.push((0x8769, 4, 1, vec![0; 4])); // ExifIFDPointer, patched below
    }
    entries.sort_by_key(|e| e.0);
    let ifd0_len = 2 + 12 * entries.len() + 4;
    let mut data_off = 8 + ifd0_len;
    let mut ifd = Vec::new();
    let mut data = Vec::new();
    ifd.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    let exif_ifd_off = data_off
        + entries
            .iter()
            .filter(|e| e.3.len() > 4)
            .map(|e| e.3.len())
            .sum::<usize>();
    for (tag, typ, count, value) in &entries {
        ifd.extend_from_slice(&tag.to_le_bytes());
        ifd.extend_from_slice(&typ.to_le_bytes());
        ifd.extend_from_slice(&count.to_le_bytes());
        if *tag == 0x8769 {
            ifd.extend_from_slice(&(exif_ifd_off as u32).to_le_bytes());
        } else if value.len() <= 4 {
            let mut v = value.clone();
            v.resize(4, 0);
            ifd.extend_from_slice(&v);
        } else {
            ifd.extend_from_slice(&(data_off as u32).to_le_bytes());
            data.extend_from_slice(value);
            data_off += value.len();
        }
    }
    ifd.extend_from_slice(&0u32.to_le_bytes());
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&ifd);
    out.extend_from_slice(&data);
    if let Some((w, h)) = exif_dims {
        out.extend_from_slice(&2u16.to_le_bytes());
        for (tag, v) in [(0xA002u16, w), (0xA003u16, h)] {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&4u16.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&0u32.to_le_bytes());
    }
    out
}

/// A JPEG of `image` (quality 75) whose EXIF asks for `orientation` (tag
/// 0x0112).
pub fn jpeg_with_orientation(image: &image::DynamicImage, orientation: u16) -> Vec<u8> {
    // A TIFF header and one IFD with one SHORT entry, little endian.
    let mut tiff = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    tiff.extend(1u16.to_le_bytes());
    tiff.extend(0x0112u16.to_le_bytes());
    tiff.extend(3u16.to_le_bytes());
    tiff.extend(1u32.to_le_bytes());
    tiff.extend(orientation.to_le_bytes());
    tiff.extend([0, 0]);
    tiff.extend(0u32.to_le_bytes());
    jpeg_with_segment(&jpeg(&image.to_rgb8(), 75), 0xE1, &exif_app1(&tiff))
}

/// An EXIF APP1 payload.
pub fn exif_app1(tiff: &[u8]) -> Vec<u8> {
    let mut out = b"Exif\0\0".to_vec();
    out.extend_from_slice(tiff);
    out
}

/// Write the built-in model to `path` as a model file from before models
/// kept their genuine photos' scores (no `genuine_scores`): one that cannot
/// honour a review rate.
pub fn write_model_without_genuine_scores(path: &std::path::Path) {
    let mut model = serde_json::to_value(trueshot::fusion::Model::builtin()).expect("model json");
    model
        .as_object_mut()
        .expect("object")
        .remove("genuine_scores")
        .expect("the built-in model keeps genuine scores");
    std::fs::write(path, model.to_string()).expect("write model");
}
