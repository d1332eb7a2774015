//! Safe decoding: sniff the format from magic bytes, read the declared size
//! from the header, refuse oversized images before any pixel buffer exists,
//! then decode with the image crate under `Limits`.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat};

use crate::buffer::Buffer;

use crate::{Config, Error};

/// Formats recognised by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JPEG (SOI marker).
    Jpeg,
    /// PNG.
    Png,
    /// WebP (RIFF/WEBP).
    Webp,
    /// TIFF, either byte order.
    Tiff,
    /// Windows bitmap.
    Bmp,
    /// GIF87a / GIF89a.
    Gif,
}

impl Format {
    /// Lower-case name, as in `ImageFacts::format`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Tiff => "tiff",
            Format::Bmp => "bmp",
            Format::Gif => "gif",
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            Format::Jpeg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
            Format::Webp => ImageFormat::WebP,
            Format::Tiff => ImageFormat::Tiff,
            Format::Bmp => ImageFormat::Bmp,
            Format::Gif => ImageFormat::Gif,
        }
    }
}

/// Identify the format from the first bytes.
///
/// # Errors
/// `Error::Decode` for an empty file, `Error::Unsupported` for HEIC/AVIF (named)
/// and for anything unrecognised.
pub fn sniff(bytes: &[u8]) -> Result<Format, Error> {
    if bytes.is_empty() {
        return Err(Error::Decode("the file is empty".into()));
    }
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
        return Ok(Format::Webp);
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Ok(Format::Tiff);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Ok(Format::Gif);
    }
    if starts(b"BM") && bytes.len() >= 26 {
        return Ok(Format::Bmp);
    }
    // ISO-BMFF: a `ftyp` box whose brand names the format.
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = &bytes[8..12];
        let name = match brand {
            b"avif" | b"avis" => "AVIF",
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                "HEIC/HEIF"
            }
            _ => "ISO base media (not an image trueshot reads)",
        };
        return Err(Error::Unsupported(format!(
            "{name}; convert it to JPEG or PNG first"
        )));
    }
    Err(Error::Unsupported(
        "not a JPEG, PNG, WebP, TIFF, BMP or GIF file".into(),
    ))
}

/// The little-endian 16-bit value at `at`, if the bytes reach it.
fn le16_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes(
        bytes.get(at..at + 2)?.try_into().ok()?,
    )))
}

/// The dimensions the header declares, read without decoding pixels.
///
/// # Errors
/// `Error::Decode` when the header is truncated or malformed.
pub fn declared_dimensions(bytes: &[u8], format: Format) -> Result<(u32, u32), Error> {
    let truncated = || Error::Decode(format!("truncated or malformed {} header", format.name()));
    let le16 = |at: usize| le16_at(bytes, at);
    let be32 = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let le32 = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let dims = match format {
        // IHDR is the first chunk: 8 signature + 4 length + 4 type.
        Format::Png => (|| {
            (bytes.get(12..16)? == b"IHDR").then_some(())?;
            Some((be32(16)?, be32(20)?))
        })(),
        Format::Gif => gif_dimensions(bytes),
        Format::Bmp => (|| {
            let header_size = le32(14)?;
            if header_size == 12 {
                Some((le16(18)?, le16(20)?))
            } else {
                let w = le32(18)? as i32;
                let h = le32(22)? as i32;
                Some((w.unsigned_abs(), h.unsigned_abs()))
            }
        })(),
        Format::Jpeg => jpeg_sof_dimensions(bytes),
        Format::Webp => webp_dimensions(bytes),
        Format::Tiff => {
            // The TIFF decoder reads the IFD only; it allocates no pixels here.
            let reader = image::ImageReader::with_format(Cursor::new(bytes), ImageFormat::Tiff);
            match reader.into_dimensions() {
                Ok(dims) => Some(dims),
                // A valid TIFF of a kind the decoder does not read (float
                // samples, some compressions) is not a corrupt file.
                Err(image::ImageError::Unsupported(e)) => {
                    return Err(Error::Unsupported(format!("TIFF: {}", decoder_message(&e))));
                }
                Err(_) => None,
            }
        }
    };
    let (w, h) = dims.ok_or_else(truncated)?;
    if w == 0 || h == 0 {
        return Err(Error::Decode(format!(
            "{} header declares a {w}x{h} image",
            format.name()
        )));
    }
    Ok((w, h))
}

/// Refuse, as unsupported rather than corrupt, the JPEG coding processes
/// the decoder does not read (ITU T.81 B.1.1.3, Table B.1): lossless and
/// hierarchical frames, arithmetic coding, and 12-bit samples (a valid
/// medical or scientific file is not a broken one).
fn check_jpeg_frame_kind(bytes: &[u8]) -> Result<(), Error> {
    // A hierarchical file opens with a DHP segment (T.81 B.3.2) and may
    // code its first frame with an ordinary SOF; JPEG-LS (ITU T.87) has its
    // own SOF55.
    let frame = crate::metadata::jpeg_segments(bytes).find_map(|(marker, seg)| {
        let is_frame = crate::metadata::is_sof(marker) || matches!(marker, 0xDE | 0xF7);
        is_frame.then(|| (marker, seg.first().copied()))
    });
    let Some((marker, precision)) = frame else {
        return Ok(());
    };
    let process = match marker {
        0xC3 | 0xC7 | 0xCB | 0xCF => Some("lossless coding"),
        0xC5 | 0xC6 | 0xCD | 0xCE | 0xDE => Some("hierarchical coding"),
        0xC9 | 0xCA => Some("arithmetic coding"),
        0xF7 => Some("JPEG-LS"),
        _ => None,
    };
    if let Some(process) = process {
        return Err(Error::Unsupported(format!(
            "JPEG: {process} (marker 0xFF{marker:02X}) is not read"
        )));
    }
    match precision {
        Some(bits) if bits != 8 => Err(Error::Unsupported(format!(
            "JPEG: {bits}-bit samples are not read (8-bit only)"
        ))),
        _ => Ok(()),
    }
}

/// Width and height from the first SOF marker (ITU T.81 B.2.2).
fn jpeg_sof_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    crate::metadata::jpeg_segments(bytes).find_map(|(marker, seg)| {
        let seg = seg.get(0..5).filter(|_| crate::metadata::is_sof(marker))?;
        let h = u32::from(u16::from_be_bytes([seg[1], seg[2]]));
        let w = u32::from(u16::from_be_bytes([seg[3], seg[4]]));
        Some((w, h))
    })
}

/// The bytes from the first start-of-scan on: the scans and what follows.
fn jpeg_scans(bytes: &[u8]) -> Option<&[u8]> {
    // Walk the segments so that a thumbnail's SOS/EOI inside APP1 is skipped.
    crate::metadata::jpeg_segments(bytes)
        .find(|&(marker, _)| marker == 0xDA)
        .map(|(_, payload)| &bytes[payload.as_ptr() as usize - bytes.as_ptr() as usize..])
}

/// Whether an EOI marker follows the first start-of-scan. Inside entropy-coded
/// data 0xFF is always stuffed (ITU T.81 F.1.2.3), so FF D9 there is the marker.
fn jpeg_has_end_after_scan(bytes: &[u8]) -> bool {
    jpeg_scans(bytes).is_some_and(|scans| scans.windows(2).any(|w| w == [0xFF, 0xD9]))
}

/// Whether the scans are long enough for the declared size: every 8 x 8
/// block of the first component codes at least its DC difference, one bit
/// or more (T.81 F.1.2.1), so a frame needs at least a bit per block even
/// with that component subsampled 4 x 4; here a bit per 16 blocks. A file
/// of a few hundred bytes declaring 100 megapixels would otherwise be
/// decoded, filled in, in seconds and a gigabyte (a review).
fn jpeg_scans_can_cover(bytes: &[u8], width: u32, height: u32) -> bool {
    let blocks = u64::from(width).div_ceil(8) * u64::from(height).div_ceil(8);
    jpeg_scans(bytes).is_some_and(|scans| scans.len() as u64 * 8 >= blocks / 16)
}

/// The logical screen of a GIF, widened to hold its first frame: a frame
/// may overflow the screen, and the decoder allocates the frame's own size
/// (an 8000x8000 frame behind a 1x1 screen took 317 MB while the admission
/// counted 1 pixel). Walks the blocks to the first image descriptor (GIF89a
/// specification, sections 18-23).
fn gif_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let le16 = |at: usize| le16_at(bytes, at);
    let screen = (le16(6)?, le16(8)?);
    let first_frame = || -> Option<(u32, u32)> {
        let packed = *bytes.get(10)?;
        let mut at = 13;
        if packed & 0x80 != 0 {
            at += 3 << ((packed & 7) + 1);
        }
        loop {
            match *bytes.get(at)? {
                // An extension: its label, then data sub-blocks until an empty one.
                0x21 => {
                    at += 2;
                    loop {
                        let size = usize::from(*bytes.get(at)?);
                        at += 1 + size;
                        if size == 0 {
                            break;
                        }
                    }
                }
                // The image descriptor: left, top, width, height.
                0x2C => {
                    let (left, top) = (le16(at + 1)?, le16(at + 3)?);
                    return Some((left + le16(at + 5)?, top + le16(at + 7)?));
                }
                // The trailer (no frame) or anything else.
                _ => return None,
            }
        }
    };
    // A file cut before its first frame keeps the screen's size.
    Some(first_frame().map_or(screen, |(w, h)| (screen.0.max(w), screen.1.max(h))))
}

/// Width and height from the first VP8 / VP8L / VP8X chunk.
fn webp_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let chunk = bytes.get(12..16)?;
    let data = bytes.get(20..)?;
    let le24 = |d: &[u8]| u32::from(d[0]) | u32::from(d[1]) << 8 | u32::from(d[2]) << 16;
    match chunk {
        b"VP8X" => {
            let d = data.get(4..10)?;
            Some((le24(&d[0..3]) + 1, le24(&d[3..6]) + 1))
        }
        b"VP8L" => {
            let d = data.get(0..5)?;
            if d[0] != 0x2F {
                return None;
            }
            let bits = u32::from_le_bytes([d[1], d[2], d[3], d[4]]);
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8 " => {
            let d = data.get(0..10)?;
            if d[3..6] != [0x9D, 0x01, 0x2A] {
                return None;
            }
            let w = u32::from(u16::from_le_bytes([d[6], d[7]]) & 0x3FFF);
            let h = u32::from(u16::from_le_bytes([d[8], d[9]]) & 0x3FFF);
            Some((w, h))
        }
        _ => None,
    }
}

/// Check the declared size against the limits, then decode.
///
/// # Errors
/// `TooLarge` before any allocation when the header declares too many
/// pixels; `Decode` when the data is corrupt.
pub fn decode(bytes: &[u8], format: Format, config: &Config) -> Result<DynamicImage, Error> {
    let declared = checked_header(bytes, format, config)?;
    // One step after the other: the callers (pages, references,
    // perturbations) run outside an analyser's pool, where a join would
    // take rayon's global pool whatever `Config::threads` says.
    let image = with_scan_check(bytes, format, false, || {
        let decoder = limited_decoder(bytes, format, config, declared)?;
        guarded(config, || DynamicImage::from_decoder(decoder))
    })?;
    if format == Format::Jpeg {
        let row_bytes = image.width() as usize * usize::from(image.color().bytes_per_pixel());
        check_jpeg_complete(bytes, image.as_bytes(), row_bytes)?;
    }
    Ok(image)
}

/// Decoded 8-bit RGB pixels: `width * height` pixels of 3 bytes, row-major.
pub(crate) struct RgbPixels {
    pub data: Buffer<u8>,
    pub width: u32,
    pub height: u32,
    /// [`transparent_share`] of the decoded image, before its alpha was
    /// dropped.
    pub transparent: f32,
}

/// The share of pixels that are not fully opaque (alpha under its maximum);
/// 0 for an image without alpha. The analysis reads the colour under the
/// alpha, which a viewer shows blended with a background the analysis does
/// not know (a review: a copy of a listing with a hole cut into it was
/// cleared as the listing unchanged).
pub(crate) fn transparent_share(image: &DynamicImage) -> f32 {
    fn share(translucent: impl Iterator<Item = bool>, total: u64) -> f32 {
        if total == 0 {
            return 0.0;
        }
        (translucent.filter(|&t| t).count() as f64 / total as f64) as f32
    }
    let total = u64::from(image.width()) * u64::from(image.height());
    match image {
        DynamicImage::ImageLumaA8(i) => share(i.pixels().map(|p| p.0[1] < u8::MAX), total),
        DynamicImage::ImageRgba8(i) => share(i.pixels().map(|p| p.0[3] < u8::MAX), total),
        DynamicImage::ImageLumaA16(i) => share(i.pixels().map(|p| p.0[1] < u16::MAX), total),
        DynamicImage::ImageRgba16(i) => share(i.pixels().map(|p| p.0[3] < u16::MAX), total),
        DynamicImage::ImageRgba32F(i) => share(i.pixels().map(|p| p.0[3] < 1.0), total),
        _ => 0.0,
    }
}

/// [`decode`] to 8-bit RGB. Images the decoder gives as 8-bit RGB (most
/// JPEGs) are decoded straight into a [`Buffer`] rather than the decoder's
/// own vector, so a 12 MP photo's 36 MB land in huge pages; others are
/// converted.
///
/// # Errors
/// As [`decode`].
pub(crate) fn decode_rgb(
    bytes: &[u8],
    format: Format,
    config: &Config,
) -> Result<RgbPixels, Error> {
    let declared = checked_header(bytes, format, config)?;
    let (data, width, height, transparent) = with_scan_check(bytes, format, true, || {
        let decoder = limited_decoder(bytes, format, config, declared)?;
        let (width, height) = decoder.dimensions();
        let data = if decoder.color_type() == image::ColorType::Rgb8 {
            // As the image crate's own path: more than `isize::MAX` bytes is
            // a limit error, not an allocation panic (32-bit targets).
            let len = usize::try_from(decoder.total_bytes())
                .ok()
                .filter(|&len| isize::try_from(len).is_ok())
                .ok_or_else(|| Error::Decode("the image does not fit in memory".into()))?;
            let mut data = Buffer::zeroed(len);
            guarded(config, || decoder.read_image(&mut data))?;
            (data, 0.0)
        } else {
            let image = guarded(config, || DynamicImage::from_decoder(decoder))?;
            let transparent = transparent_share(&image);
            (Buffer::from(image.into_rgb8().into_raw()), transparent)
        };
        Ok((data.0, width, height, data.1))
    })?;
    if format == Format::Jpeg {
        check_jpeg_complete(bytes, &data, width as usize * 3)?;
    }
    Ok(RgbPixels {
        data,
        width,
        height,
        transparent,
    })
}

/// Run `decode` and, for a JPEG, check its scans ([`jpeg_scan_shortfall`]):
/// `beside` it in the current rayon pool (the walk needs only the bytes and
/// takes about a third of the decode's time, which it then does not add to
/// a one-shot analysis in the analyser's pool), or after it. A decode error
/// comes first; then scans that code less than the frame declares, which
/// the decoder read on as zero bits (a file cut short and given a new end
/// marker), are refused. The header's checks (size limits, coding process)
/// ran before.
fn with_scan_check<T: Send>(
    bytes: &[u8],
    format: Format,
    beside: bool,
    decode: impl FnOnce() -> Result<T, Error> + Send,
) -> Result<T, Error> {
    if format != Format::Jpeg {
        return decode();
    }
    let (shortfall, decoded) = if beside {
        rayon::join(|| jpeg_scan_shortfall(bytes), decode)
    } else {
        let decoded = decode();
        (
            decoded
                .is_ok()
                .then(|| jpeg_scan_shortfall(bytes))
                .flatten(),
            decoded,
        )
    };
    let decoded = decoded?;
    match shortfall {
        Some(message) => Err(Error::Decode(message)),
        None => Ok(decoded),
    }
}

/// What a JPEG's scans leave uncoded that its frame declares, in words:
/// blocks of a sequential scan ([`jpeg_entropy::coded_mcus`]), or the last
/// bits of a progressive file's coefficients
/// ([`jpeg_entropy::progressive_scans_complete`]).
///
/// [`jpeg_entropy::coded_mcus`]: crate::jpeg_entropy::coded_mcus
/// [`jpeg_entropy::progressive_scans_complete`]: crate::jpeg_entropy::progressive_scans_complete
fn jpeg_scan_shortfall(bytes: &[u8]) -> Option<String> {
    if let Some((coded, total)) = crate::jpeg_entropy::coded_mcus(bytes) {
        return (coded < total).then(|| {
            format!(
                "truncated JPEG: its scan data codes {coded} of the {total} blocks \
                 (minimum coded units) its frame declares"
            )
        });
    }
    (crate::jpeg_entropy::progressive_scans_complete(bytes) == Some(false)).then(|| {
        "truncated progressive JPEG: its scans end before every coefficient is coded in \
         full (a file cut short and given a new end marker)"
            .to_string()
    })
}

/// Refuse a JPEG whose bottom the decoder made up. The image crate runs
/// zune-jpeg leniently: a scan that runs out of bytes is filled with grey
/// (128 in every channel, a zero DCT block) and one that breaks off on bad
/// data leaves the rest of the buffer at 0, both without an error (a
/// review: a photo with bytes flipped in its scan was analysed). At least
/// a row of 8 x 8 blocks so filled is checked again with the strict
/// decoder, which a photo's own flat bottom (a black bar) passes and a
/// broken scan does not. Not caught: a scan cut short and followed by an
/// end marker, which both decoders read on as zero bits (README, Limits).
fn check_jpeg_complete(bytes: &[u8], pixels: &[u8], row_bytes: usize) -> Result<(), Error> {
    if uniform_bottom_rows(pixels, row_bytes) < 8 || strictly_decodes(bytes) {
        return Ok(());
    }
    Err(Error::Decode(
        "truncated or corrupt JPEG: the decoder could not read the scan data to the end of \
         the image and filled the rest"
            .into(),
    ))
}

/// Rows at the bottom of `pixels` whose every byte is 0, or every byte 128.
fn uniform_bottom_rows(pixels: &[u8], row_bytes: usize) -> usize {
    match pixels.last() {
        Some(&value @ (0 | 128)) if row_bytes > 0 => pixels
            .rchunks_exact(row_bytes)
            .take_while(|row| row.iter().all(|&b| b == value))
            .count(),
        _ => 0,
    }
}

/// Whether zune-jpeg decodes `bytes` in strict mode, which fails on a scan
/// that ends early or holds a stray marker instead of filling in.
fn strictly_decodes(bytes: &[u8]) -> bool {
    let options = zune_core::options::DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX);
    std::panic::catch_unwind(|| {
        zune_jpeg::JpegDecoder::new_with_options(
            zune_core::bytestream::ZCursor::new(bytes),
            options,
        )
        .decode()
        .is_ok()
    })
    .unwrap_or(false)
}

/// The header's checks, before any pixel is decoded: a JPEG coding process
/// the decoder reads, the declared size within the limits, and for a JPEG
/// an end marker after scan data long enough for that size. Returns the
/// declared width and height.
fn checked_header(bytes: &[u8], format: Format, config: &Config) -> Result<(u32, u32), Error> {
    if format == Format::Jpeg {
        check_jpeg_frame_kind(bytes)?;
    }
    let (width, height) = declared_dimensions(bytes, format)?;
    check_pixels(width, height, config)?;
    if format == Format::Jpeg && !jpeg_has_end_after_scan(bytes) {
        // The JPEG decoder fills a truncated scan with grey and succeeds;
        // analysing invented pixels would be wrong, so refuse the file.
        return Err(Error::Decode(
            "truncated JPEG: no end-of-image marker after the scan data".into(),
        ));
    }
    if format == Format::Jpeg && !jpeg_scans_can_cover(bytes, width, height) {
        return Err(Error::Decode(format!(
            "truncated JPEG: too little scan data for {width} x {height} pixels"
        )));
    }
    Ok((width, height))
}

/// The image crate's decoder for `bytes`, whose header passed
/// [`checked_header`] with the size `declared`, with the limits set (the
/// decoder refuses to allocate past `Config::max_decoded_bytes`).
fn limited_decoder<'a>(
    bytes: &'a [u8],
    format: Format,
    config: &Config,
    (width, height): (u32, u32),
) -> Result<impl ImageDecoder + 'a, Error> {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(width.max(1));
    limits.max_image_height = Some(height.max(1));
    limits.max_alloc = Some(config.max_decoded_bytes);
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format.image_format());
    reader.limits(limits.clone());
    let mut decoder = guarded(config, || reader.into_decoder())?;
    guarded(config, || {
        let mut limits = limits.clone();
        // The output buffer counts against the allocation limit, as in
        // `ImageReader::decode`.
        limits.reserve(decoder.total_bytes())?;
        decoder.set_limits(limits)
    })?;
    Ok(decoder)
}

/// Run a decoder step under `config`'s memory limit. The image crate's
/// decoders are not known to panic, but a panic here would take down a
/// review service: treat one as a decode error.
fn guarded<T>(config: &Config, step: impl FnOnce() -> image::ImageResult<T>) -> Result<T, Error> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)) {
        Ok(Ok(value)) => Ok(value),
        // A valid image too large for the limit, not a corrupt one.
        // The decoders' messages may quote the file (a chunk name, a tag):
        // escaped, as every untrusted string in an error.
        Ok(Err(image::ImageError::Limits(e))) => Err(Error::MemoryLimit {
            limit: config.max_decoded_bytes,
            detail: decoder_message(&e),
        }),
        Ok(Err(image::ImageError::Unsupported(e))) => Err(Error::Unsupported(decoder_message(&e))),
        Ok(Err(e)) => Err(Error::Decode(decoder_message(&e))),
        Err(_) => Err(Error::Decode("the decoder failed on malformed data".into())),
    }
}

/// A decoder's error message, escaped and bounded.
fn decoder_message(error: &dyn std::fmt::Display) -> String {
    crate::error::escape_untrusted(&error.to_string(), DECODER_MESSAGE_CHARS)
}

/// Longest decoder message kept in an error.
const DECODER_MESSAGE_CHARS: usize = 300;

/// Read an image file of at most `max_bytes` bytes.
///
/// Only regular files are read: opening a named pipe would block until a
/// writer comes, and a device such as `/dev/zero` never ends. The size is
/// checked before reading and the read itself stops one byte past the
/// limit, so a file that grows after the check cannot exhaust memory.
///
/// # Errors
/// `Io` when the path cannot be opened or is not a regular file,
/// `FileTooLarge` over `max_bytes`.
pub fn read_file(path: &std::path::Path, max_bytes: u64) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let too_large = |bytes: u64| Error::FileTooLarge {
        bytes,
        limit: max_bytes,
    };
    // Checked on the path first (following links), since `open` itself
    // blocks on a pipe.
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        let error = if meta.is_dir() {
            std::io::Error::new(std::io::ErrorKind::IsADirectory, "a directory")
        } else {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file")
        };
        return Err(Error::io(path, error));
    }
    if meta.len() > max_bytes {
        return Err(too_large(meta.len()));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Read and decode an image file under `config`'s limits: [`read_file`],
/// [`sniff`] and [`decode`] in one step.
///
/// # Errors
/// As those three.
pub fn open(path: &std::path::Path, config: &Config) -> Result<DynamicImage, Error> {
    let bytes = read_file(path, config.max_file_bytes)?;
    decode(&bytes, sniff(&bytes)?, config)
}

/// The EXIF orientation (1-8, TIFF tag 0x0112) the file asks a viewer to
/// apply, if it names one. The analysis keeps the stored pixels; review
/// pages turn what they show by it.
#[must_use]
pub fn exif_orientation(bytes: &[u8]) -> Option<u16> {
    let exif = crate::metadata::extract(bytes, sniff(bytes).ok()?).exif?;
    crate::detectors::provenance::orientation(&exif)
}

/// Refuse images without pixels and images over `Config::max_pixels`.
///
/// # Errors
/// `Error::Decode` for a width or height of 0, `Error::TooLarge`.
pub fn check_pixels(width: u32, height: u32, config: &Config) -> Result<(), Error> {
    if width == 0 || height == 0 {
        return Err(Error::Decode(format!(
            "the image has no pixels ({width}x{height})"
        )));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > config.max_pixels {
        return Err(Error::TooLarge {
            width,
            height,
            pixels,
            limit: config.max_pixels,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A noisy 128 x 96 JPEG at quality 90, and where its scan data starts.
    fn noisy_image() -> image::RgbImage {
        let mut state = 7u32;
        image::RgbImage::from_fn(128, 96, |x, y| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let n = (state >> 24) as u8 / 4;
            image::Rgb([(x as u8).wrapping_add(n), (y as u8).wrapping_add(n), n])
        })
    }

    fn noisy_jpeg() -> (Vec<u8>, usize) {
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&noisy_image())
            .expect("encode");
        let scan = jpeg.len() - jpeg_scans(&jpeg).expect("a scan").len();
        (jpeg, scan)
    }

    /// Scan data that breaks off on bad codes (all-ones, which no Huffman
    /// code is) leaves the decoder's buffer unwritten: refused, where the
    /// intact file decodes.
    #[test]
    fn a_jpeg_whose_scan_breaks_off_is_refused() {
        let config = Config::default();
        let (mut jpeg, scan) = noisy_jpeg();
        assert!(decode(&jpeg, Format::Jpeg, &config).is_ok());
        assert!(decode_rgb(&jpeg, Format::Jpeg, &config).is_ok());
        let end = jpeg.len() - 2; // the end marker stays
        let from = scan + (end - scan) / 3;
        for (i, b) in jpeg[from..end].iter_mut().enumerate() {
            *b = if i % 2 == 0 { 0xFF } else { 0x00 };
        }
        for result in [
            decode(&jpeg, Format::Jpeg, &config).map(|_| ()),
            decode_rgb(&jpeg, Format::Jpeg, &config).map(|_| ()),
        ] {
            assert!(
                matches!(&result, Err(Error::Decode(m)) if m.contains("corrupt")),
                "{result:?}"
            );
        }
    }

    /// A scan cut short and given an end marker again, which the decoder
    /// reads on as zero bits, is refused; the intact file is walked whole.
    #[test]
    fn a_jpeg_cut_short_with_a_new_end_marker_is_refused() {
        let config = Config::default();
        let (jpeg, scan) = noisy_jpeg();
        let walked = crate::jpeg_entropy::coded_mcus(&jpeg).expect("a baseline scan");
        assert_eq!(walked.0, walked.1);
        let cut = scan + (jpeg.len() - scan) * 4 / 5;
        let short = [&jpeg[..cut], &[0xFF, 0xD9]].concat();
        let result = decode_rgb(&short, Format::Jpeg, &config).map(|_| ());
        assert!(
            matches!(&result, Err(Error::Decode(m)) if m.contains("codes")),
            "{result:?}"
        );
    }

    /// Valid JPEGs of a coding process the decoder does not read are
    /// unsupported, not corrupt: arithmetic coding, lossless and
    /// hierarchical frames, 12-bit samples.
    #[test]
    fn jpeg_processes_the_decoder_does_not_read_are_unsupported() {
        let (jpeg, _) = noisy_jpeg();
        let sof = jpeg
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("a baseline frame");
        let patched = |at: usize, value: u8| {
            let mut file = jpeg.clone();
            file[at] = value;
            decode_rgb(&file, Format::Jpeg, &Config::default()).map(|_| ())
        };
        for (marker, process) in [
            (0xC9, "arithmetic"),
            (0xC3, "lossless"),
            (0xC5, "hierarchical"),
            (0xDE, "hierarchical"),
            (0xF7, "JPEG-LS"),
        ] {
            let result = patched(sof + 1, marker);
            assert!(
                matches!(&result, Err(Error::Unsupported(m)) if m.contains(process)),
                "{marker:02X}: {result:?}"
            );
        }
        // The precision byte follows the marker and the segment length.
        let result = patched(sof + 4, 12);
        assert!(
            matches!(&result, Err(Error::Unsupported(m)) if m.contains("12-bit")),
            "{result:?}"
        );
        assert!(
            patched(sof + 1, 0xC1).is_ok(),
            "extended sequential is read"
        );
    }

    /// A decoder's message is escaped before it reaches an error.
    #[test]
    fn decoder_messages_are_escaped_and_bounded() {
        let message = decoder_message(&format!("bad chunk \u{1b}[31m{}", "x".repeat(1000)));
        assert!(!message.contains('\u{1b}'), "{message}");
        // The bound counts the message's characters, before escaping.
        assert!(
            message.chars().count() < DECODER_MESSAGE_CHARS + 10,
            "{message}"
        );
    }

    /// A progressive JPEG that lost its last scan to a cut (and was given an
    /// end marker again) is refused, with or without restart markers; the
    /// whole file is read.
    #[test]
    fn a_progressive_jpeg_missing_its_last_scan_is_refused() {
        let image = noisy_image();
        for restart in [0, 3] {
            let mut jpeg = Vec::new();
            let mut encoder = jpeg_encoder::Encoder::new(&mut jpeg, 90);
            encoder.set_progressive(true);
            encoder.set_restart_interval(restart);
            encoder
                .encode(image.as_raw(), 128, 96, jpeg_encoder::ColorType::Rgb)
                .expect("encode");
            assert_eq!(
                crate::jpeg_entropy::progressive_scans_complete(&jpeg),
                Some(true),
                "restart {restart}"
            );
            assert!(decode_rgb(&jpeg, Format::Jpeg, &Config::default()).is_ok());
            let last_scan = jpeg
                .windows(2)
                .rposition(|w| w == [0xFF, 0xDA])
                .expect("scans");
            let cut = [&jpeg[..last_scan], &[0xFF, 0xD9]].concat();
            let result = decode_rgb(&cut, Format::Jpeg, &Config::default()).map(|_| ());
            assert!(
                matches!(&result, Err(Error::Decode(m)) if m.contains("progressive")),
                "restart {restart}: {result:?}"
            );
        }
        // A baseline file is not judged by its progressive scans.
        let (baseline, _) = noisy_jpeg();
        assert_eq!(
            crate::jpeg_entropy::progressive_scans_complete(&baseline),
            None
        );
    }

    /// A frame declaring far more pixels than its scan data could code is
    /// refused before any decoding.
    #[test]
    fn a_jpeg_declaring_more_pixels_than_its_scan_can_code_is_refused() {
        let (mut jpeg, _) = noisy_jpeg();
        let sof = jpeg
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("a baseline frame");
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0x27, 0x10, 0x27, 0x10]); // 10000 x 10000
        let result = decode_rgb(&jpeg, Format::Jpeg, &Config::default()).map(|_| ());
        assert!(
            matches!(&result, Err(Error::Decode(m)) if m.contains("too little scan data")),
            "{result:?}"
        );
    }

    /// A GIF whose only frame (40x30, with a comment extension before it)
    /// overflows a logical screen patched to 1x1 is admitted and checked at
    /// the frame's size, so a pixel limit refuses it before decoding.
    #[test]
    fn a_gif_frame_larger_than_its_screen_counts_at_its_size() {
        let frame = image::RgbaImage::from_pixel(40, 30, image::Rgba([200, 10, 10, 255]));
        let mut gif = Vec::new();
        image::DynamicImage::ImageRgba8(frame)
            .write_to(&mut Cursor::new(&mut gif), ImageFormat::Gif)
            .expect("encode");
        assert_eq!(
            declared_dimensions(&gif, Format::Gif).expect("dims"),
            (40, 30)
        );
        gif[6..10].copy_from_slice(&[1, 0, 1, 0]);
        // A comment extension right before the frame (after any colour table).
        let packed = gif[10];
        let table = if packed & 0x80 != 0 {
            3 << ((packed & 7) + 1)
        } else {
            0
        };
        let at = 13 + table;
        gif.splice(at..at, [0x21, 0xFE, 3, b'a', b'b', b'c', 0]);
        assert_eq!(
            declared_dimensions(&gif, Format::Gif).expect("dims"),
            (40, 30)
        );
        let config = Config {
            max_pixels: 1_000,
            ..Config::default()
        };
        assert!(matches!(
            decode(&gif, Format::Gif, &config),
            Err(Error::TooLarge { .. })
        ));
        // Cut before the frame: the screen's size.
        assert_eq!(
            declared_dimensions(&gif[..at], Format::Gif).expect("dims"),
            (1, 1)
        );
    }

    /// A valid 4x4 grey TIFF with 32-bit float samples (SampleFormat 3),
    /// which the decoder does not read.
    fn float_tiff() -> Vec<u8> {
        let entries: [(u16, u16, u32); 10] = [
            (256, 3, 4),   // ImageWidth
            (257, 3, 4),   // ImageLength
            (258, 3, 32),  // BitsPerSample
            (259, 3, 1),   // Compression: none
            (262, 3, 1),   // Photometric: black is zero
            (273, 4, 134), // StripOffsets: after the IFD
            (277, 3, 1),   // SamplesPerPixel
            (278, 3, 4),   // RowsPerStrip
            (279, 4, 64),  // StripByteCounts
            (339, 3, 3),   // SampleFormat: IEEE float
        ];
        let mut out = b"II*\0".to_vec();
        out.extend(8u32.to_le_bytes());
        out.extend((entries.len() as u16).to_le_bytes());
        for (tag, kind, value) in entries {
            out.extend(tag.to_le_bytes());
            out.extend(kind.to_le_bytes());
            out.extend(1u32.to_le_bytes());
            out.extend(value.to_le_bytes());
        }
        out.extend(0u32.to_le_bytes()); // no next IFD
        assert_eq!(out.len(), 134);
        for i in 0..16 {
            out.extend((i as f32 / 16.0).to_le_bytes());
        }
        out
    }

    /// An image the memory limit refuses is too large, not corrupt: the
    /// caller may retry with a larger limit.
    #[test]
    fn over_the_memory_limit_is_too_large_not_corrupt() {
        let image = DynamicImage::ImageRgb8(image::RgbImage::new(200, 100));
        let bytes = encoded(&image, ImageFormat::Png);
        let mut config = Config {
            max_decoded_bytes: 10_000, // under 200 x 100 x 3
            ..Config::default()
        };
        let error = decode(&bytes, Format::Png, &config).expect_err("over the limit");
        assert!(
            matches!(error, Error::MemoryLimit { limit: 10_000, .. }),
            "{error}"
        );
        assert_eq!(error.code(), "too_large");
        config.max_decoded_bytes = 1 << 20;
        assert!(decode(&bytes, Format::Png, &config).is_ok());
    }

    #[test]
    fn a_float_tiff_is_unsupported_not_corrupt() {
        let bytes = float_tiff();
        assert_eq!(sniff(&bytes).expect("a TIFF"), Format::Tiff);
        assert!(
            matches!(
                declared_dimensions(&bytes, Format::Tiff),
                Err(Error::Unsupported(_))
            ),
            "{:?}",
            declared_dimensions(&bytes, Format::Tiff)
        );
    }

    #[test]
    fn read_file_reads_regular_files_within_the_limit_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a.bin");
        std::fs::write(&file, [7u8; 100]).expect("write");
        assert_eq!(read_file(&file, 100).expect("read").len(), 100);
        assert!(matches!(
            read_file(&file, 99),
            Err(Error::FileTooLarge {
                bytes: 100,
                limit: 99
            })
        ));
        assert!(matches!(read_file(dir.path(), 1000), Err(Error::Io { .. })));
        assert!(matches!(
            read_file(&dir.path().join("missing"), 1000),
            Err(Error::Io { .. })
        ));
    }

    /// A named pipe is refused at once: opening it would block until a
    /// writer came.
    #[cfg(unix)]
    #[test]
    fn read_file_refuses_a_named_pipe_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("claim.jpg");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // no mkfifo on this system: nothing to test
        }
        assert!(matches!(read_file(&fifo, 1000), Err(Error::Io { .. })));
        let devices = std::path::Path::new("/dev/zero");
        if devices.exists() {
            assert!(matches!(read_file(devices, 1000), Err(Error::Io { .. })));
        }
    }

    /// Encode `image` in `format` with the image crate.
    fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).expect("encode");
        out.into_inner()
    }

    #[test]
    fn decoding_into_a_buffer_gives_the_image_crates_rgb() {
        // Large enough for a mapped buffer (4 MB of RGB), odd sizes, and
        // the colour types that take the conversion path instead.
        let (w, h) = (1201, 1203);
        let rgb = image::RgbImage::from_fn(w, h, |x, y| {
            let v = (x * 7 + y * 13 + x * y) % 256;
            image::Rgb([v as u8, (v * 5 % 256) as u8, (255 - v) as u8])
        });
        let rgb = DynamicImage::ImageRgb8(rgb);
        let config = Config::default();
        for (image, format, kind) in [
            (rgb.clone(), ImageFormat::Jpeg, Format::Jpeg),
            (rgb.clone(), ImageFormat::Png, Format::Png),
            (
                DynamicImage::ImageLuma8(rgb.to_luma8()),
                ImageFormat::Jpeg,
                Format::Jpeg,
            ),
            (
                DynamicImage::ImageRgba8(rgb.to_rgba8()),
                ImageFormat::Png,
                Format::Png,
            ),
        ] {
            let bytes = encoded(&image, format);
            let expected = decode(&bytes, kind, &config).expect("decode").to_rgb8();
            let got = decode_rgb(&bytes, kind, &config).expect("decode_rgb");
            assert_eq!((got.width, got.height), (w, h));
            assert!(
                got.data[..] == expected.as_raw()[..],
                "{format:?} {:?}",
                image.color()
            );
        }
    }

    #[test]
    fn decode_rgb_refuses_what_decode_refuses() {
        let bytes = encoded(
            &DynamicImage::ImageRgb8(image::RgbImage::new(64, 64)),
            ImageFormat::Jpeg,
        );
        let truncated = &bytes[..bytes.len() / 2];
        assert!(matches!(
            decode_rgb(truncated, Format::Jpeg, &Config::default()),
            Err(Error::Decode(_))
        ));
        let small = Config {
            max_pixels: 100,
            ..Config::default()
        };
        assert!(matches!(
            decode_rgb(&bytes, Format::Jpeg, &small),
            Err(Error::TooLarge { .. })
        ));
    }
}
