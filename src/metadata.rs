//! Walk the container of a JPEG, PNG, WebP, TIFF or GIF file and collect the
//! raw metadata blocks: EXIF, XMP packets, C2PA JUMBF, text chunks, the JPEG
//! quantisation tables, and whether the file is an animation. Parsing their
//! contents is left to the detectors.
//!
//! Every walk is bounded: lengths are checked against the buffer, the number
//! of blocks and the bytes kept are capped, and compressed text is inflated
//! with a size limit, so a crafted file cannot make us loop or allocate much.

use crate::decode::Format;

/// Text kept per block, in bytes; generator prompts are rarely longer.
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// Blocks visited per file before the walk stops.
const MAX_BLOCKS: usize = 4096;
/// Bytes of a TIFF kept as its EXIF (the IFDs may sit at the end).
const MAX_TIFF_EXIF_BYTES: usize = 64 << 20;
/// Sub-blocks of a GIF extension kept (up to 255 bytes each): a comment
/// up to the text limit.
const MAX_GIF_SUB_BLOCKS: usize = MAX_TEXT_BYTES / 255 + 1;
/// The namespace that opens an APP1 segment holding XMP (XMP part 3, 1.1.3).
const XMP_APP1_HEADER: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
/// C2PA bytes kept per file.
const MAX_C2PA_BYTES: usize = 8 << 20;
/// XMP and text bytes kept per file, all blocks together: a crafted file
/// with thousands of 64 KiB segments must not become gigabytes of strings.
const MAX_KEPT_TEXT_BYTES: usize = 16 << 20;

/// A JPEG quantisation table (ITU T.81 B.2.4.1), in natural (row-major) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantTable {
    /// Table slot 0..=3 (0 is luminance in every encoder we know).
    pub id: u8,
    /// 64 step sizes, row-major.
    pub values: [u16; 64],
}

/// The JPEG frame header (SOF).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JpegFrame {
    /// SOF marker type (0 = baseline, 2 = progressive, ...).
    pub sof: u8,
    /// Components: (id, horizontal sampling, vertical sampling, table id).
    pub components: Vec<(u8, u8, u8, u8)>,
}

/// Raw metadata blocks found in a file.
#[derive(Debug, Clone, Default)]
pub struct RawMetadata {
    /// TIFF-structured EXIF (JPEG APP1 `Exif`, PNG `eXIf`, WebP `EXIF`, or the TIFF file).
    pub exif: Option<Vec<u8>>,
    /// XMP packets as text.
    pub xmp: Vec<String>,
    /// C2PA JUMBF payload bytes, concatenated (JPEG APP11, PNG `caBX`, WebP `C2PA`).
    pub c2pa: Vec<u8>,
    /// Text chunks as (key, value): PNG tEXt/zTXt/iTXt, JPEG COM as `comment`.
    pub text: Vec<(String, String)>,
    /// JPEG quantisation tables.
    pub quant_tables: Vec<QuantTable>,
    /// JPEG frame header.
    pub jpeg_frame: Option<JpegFrame>,
    /// A WebP file whose image is a lossy VP8 bitstream (a `VP8 ` chunk).
    pub lossy_webp: bool,
    /// For an animation, the frames the container declares (an APNG's
    /// `acTL`, a WebP's `ANMF` chunks, a GIF's images; 0 when they could
    /// not be counted): the analysis reads one image (the first frame, or
    /// an APNG's default image) while a viewer is shown the animation.
    /// `None` for a still image.
    pub animation_frames: Option<u32>,
    /// Bytes of XMP and text kept so far.
    kept_text_bytes: usize,
}

impl RawMetadata {
    fn has_text_room(&self) -> bool {
        self.kept_text_bytes < MAX_KEPT_TEXT_BYTES
    }

    fn push_xmp(&mut self, xmp: String) {
        if self.has_text_room() {
            self.kept_text_bytes += xmp.len();
            self.xmp.push(xmp);
        }
    }

    fn push_text(&mut self, key: String, value: String) {
        if self.has_text_room() {
            self.kept_text_bytes += key.len() + value.len();
            self.text.push((key, value));
        }
    }

    /// A PNG text chunk: XMP under its registered keyword whichever of the
    /// three chunk types holds it (Pillow writes Latin-1 text as tEXt),
    /// ImageMagick's hex-coded EXIF and XMP profiles as EXIF and XMP, any
    /// other keyword as text.
    fn push_png_text(&mut self, key: String, value: String) {
        if key == "XML:com.adobe.xmp" {
            self.push_xmp(value);
            return;
        }
        match key.strip_prefix("Raw profile type ") {
            Some("exif" | "APP1") => {
                let Some(app1) = raw_profile(&value) else {
                    return;
                };
                // An APP1 profile is EXIF or, under its namespace header,
                // XMP (as a JPEG's APP1 segments are).
                if let Some(xmp) = app1.strip_prefix(XMP_APP1_HEADER) {
                    self.push_xmp(text_of(xmp));
                } else {
                    // Some writers repeat APP1's header (Pillow reads that).
                    let once = app1.strip_prefix(b"Exif\0\0").unwrap_or(&app1);
                    self.set_exif(once);
                }
            }
            Some("xmp") => {
                if let Some(xmp) = raw_profile(&value) {
                    self.push_xmp(text_of(&xmp));
                }
            }
            _ => self.push_text(key, value),
        }
    }
}

/// The bytes of an ImageMagick "Raw profile type" text: a line with the
/// profile's name, a line with its length in bytes, then that many bytes in
/// hexadecimal over lines of 72 digits.
fn raw_profile(text: &str) -> Option<Vec<u8>> {
    let mut lines = text.trim_start().splitn(3, '\n');
    let _name = lines.next()?;
    let length: usize = lines.next()?.trim().parse().ok()?;
    let digits = lines.next()?.bytes().filter(|b| !b.is_ascii_whitespace());
    let mut bytes = Vec::with_capacity(length.min(text.len() / 2));
    let mut high = None;
    for digit in digits {
        let value = char::from(digit).to_digit(16)? as u8;
        match high.take() {
            None => high = Some(value),
            Some(h) => bytes.push(h << 4 | value),
        }
        if bytes.len() == length {
            break;
        }
    }
    (bytes.len() == length && length > 0).then_some(bytes)
}

impl RawMetadata {
    /// Add a file's EXIF block, as TIFF bytes (a leading `Exif\0\0`, as
    /// JPEG's APP1 and Pillow's `Image.info["exif"]` carry it, is dropped),
    /// for metadata that came apart from its file: see
    /// [`crate::Analyzer::analyze_image_with_metadata`]. A second block is
    /// ignored, as in a file; an empty one is no block.
    #[must_use]
    pub fn with_exif(mut self, exif: &[u8]) -> Self {
        self.set_exif(exif);
        self
    }

    /// Keep `exif` (without a leading `Exif\0\0`) as the EXIF block, unless
    /// there is one already or it is empty.
    fn set_exif(&mut self, exif: &[u8]) {
        let tiff = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
        if self.exif.is_none() && !tiff.is_empty() {
            self.exif = Some(tiff[..tiff.len().min(MAX_TIFF_EXIF_BYTES)].to_vec());
        }
    }

    /// Say that the image is one frame of an animation, of `frames` frames
    /// (as Pillow's `n_frames`), or of frames that could not be counted
    /// (`None`), so that it is not cleared
    /// ([`crate::detectors::provenance::ANIMATED`]). One frame or none is
    /// a still picture.
    #[must_use]
    pub fn with_animation(mut self, frames: Option<u32>) -> Self {
        self.animation_frames = match frames {
            Some(n) => Some(n).filter(|&n| n > 1),
            None => Some(0),
        };
        self
    }

    /// Add an XMP packet (UTF-8, else Latin-1), capped as a file's are.
    #[must_use]
    pub fn with_xmp(mut self, packet: &[u8]) -> Self {
        self.push_xmp(text_of(packet));
        self
    }

    /// Add a text entry (a PNG text chunk, `comment` for a JPEG comment),
    /// capped as a file's are; the XMP keyword of PNG text is taken as XMP.
    #[must_use]
    pub fn with_text(mut self, key: &str, value: &[u8]) -> Self {
        let key: String = key.chars().take(MAX_KEY_CHARS).collect();
        self.push_png_text(key, text_of(value));
        self
    }
}

/// Characters kept of a text entry's key (a PNG keyword has at most 79).
const MAX_KEY_CHARS: usize = 79;

/// Collect the metadata blocks of a file of a known format.
#[must_use]
pub fn extract(bytes: &[u8], format: Format) -> RawMetadata {
    let mut meta = RawMetadata::default();
    match format {
        Format::Jpeg => walk_jpeg(bytes, &mut meta),
        Format::Png => walk_png(bytes, &mut meta),
        Format::Webp => walk_webp(bytes, &mut meta),
        // Writers often put the IFD after the strips, at the end of the
        // file: up to 64 MiB are kept (16 MiB cut a 17 MiB file's IFD off),
        // so the copy and its parse stay within a bounded extra memory.
        Format::Tiff => meta.exif = Some(bytes[..bytes.len().min(MAX_TIFF_EXIF_BYTES)].to_vec()),
        Format::Gif => walk_gif(bytes, &mut meta),
        Format::Bmp => {}
    }
    meta
}

/// Zig-zag scan order of ITU T.81 figure A.6: `ZIGZAG[k]` is the natural index
/// of the k-th coefficient in the stream.
pub const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// The marker segments of a JPEG before its first scan, as (marker, payload).
///
/// Like libjpeg, stray bytes between segments are skipped (some writers get
/// a segment length wrong by a few bytes) rather than ending the walk.
pub fn jpeg_segments(bytes: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    marker_segments(bytes, false)
}

/// [`jpeg_segments`] on past the first scan: every scan's header, and the
/// segments between scans, with each scan's entropy-coded data skipped to
/// the next marker (in that data 0xFF is followed only by a stuffed 0x00 or
/// a restart marker, T.81 B.1.1.5 and F.1.2.3).
pub(crate) fn jpeg_segments_across_scans(bytes: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    marker_segments(bytes, true)
}

/// Whether `marker` starts a frame (SOF0-SOF15; C4, C8 and CC are DHT, JPG
/// and DAC, T.81 Table B.1).
pub(crate) fn is_sof(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

fn marker_segments(bytes: &[u8], across_scans: bool) -> impl Iterator<Item = (u8, &[u8])> {
    let mut pos = 2;
    let mut count = 0;
    std::iter::from_fn(move || loop {
        count += 1;
        if count > MAX_BLOCKS || pos + 4 > bytes.len() {
            return None;
        }
        if bytes[pos] != 0xFF || bytes[pos + 1] == 0x00 || bytes[pos + 1] == 0xFF {
            // Resynchronise on the next marker; restart markers belong to
            // scan data, which is skipped in one step.
            let next = bytes[pos + 1..]
                .windows(2)
                .position(|w| w[0] == 0xFF && !matches!(w[1], 0x00 | 0xFF | 0xD0..=0xD7))?;
            pos += 1 + next;
            continue;
        }
        let marker = bytes[pos + 1];
        if marker == 0xD8 || (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            pos += 2;
            continue;
        }
        if marker == 0xD9 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]));
        if len < 2 {
            return None;
        }
        let end = (pos + 2 + len).min(bytes.len());
        let payload = &bytes[pos + 4..end];
        pos += 2 + len;
        if marker == 0xDA && !across_scans {
            pos = bytes.len(); // metadata precedes the first scan
        }
        return Some((marker, payload));
    })
}

fn walk_jpeg(bytes: &[u8], meta: &mut RawMetadata) {
    let mut extended_xmp = Vec::new();
    let mut jumbf = Vec::new();
    for (marker, payload) in jpeg_segments(bytes) {
        match marker {
            0xE1 if payload.starts_with(b"Exif\0\0") && meta.exif.is_none() => {
                meta.exif = Some(payload[6..].to_vec());
            }
            0xE1 if payload.starts_with(XMP_APP1_HEADER) => {
                meta.push_xmp(text_of(&payload[XMP_APP1_HEADER.len()..]));
            }
            0xE1 if payload.starts_with(EXTENDED_XMP_APP1_HEADER) => {
                extended_xmp.extend(ExtendedXmpChunk::parse(payload));
            }
            // APP11 JUMBF (ISO/IEC 19566-5, carried as in ISO/IEC 18477-3):
            // "JP", box instance (2), packet sequence (4), then the box.
            0xEB if payload.starts_with(b"JP") && payload.len() > 8 => {
                let instance = u16::from_be_bytes([payload[2], payload[3]]);
                let sequence = u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]);
                jumbf.push((instance, sequence, &payload[8..]));
            }
            0xFE => meta.push_text("comment".into(), text_of(payload)),
            0xDB => parse_dqt(payload, &mut meta.quant_tables),
            marker if is_sof(marker) => {
                meta.jpeg_frame = parse_sof(marker - 0xC0, payload);
            }
            _ => {}
        }
    }
    if let Some(packet) = reassemble_extended_xmp(&meta.xmp, &extended_xmp) {
        meta.push_xmp(packet);
    }
    push_jumbf(meta, jumbf);
}

/// APP11 segments' JUMBF, as (box instance, packet sequence, box bytes),
/// put back together: a box larger than one segment continues in segments
/// of the same instance, each repeating the box header (LBox, TBox and,
/// when LBox is 1, XLBox), which is dropped so that a name cut by a
/// segment boundary reads whole again.
fn push_jumbf(meta: &mut RawMetadata, mut segments: Vec<(u16, u32, &[u8])>) {
    segments.sort_by_key(|&(instance, sequence, _)| (instance, sequence));
    let mut previous = None;
    for (instance, _, data) in segments {
        let header = if data.starts_with(&[0, 0, 0, 1]) {
            16
        } else {
            8
        };
        let data = if previous == Some(instance) {
            data.get(header..).unwrap_or_default()
        } else {
            data
        };
        previous = Some(instance);
        push_c2pa(meta, data);
    }
}

/// Signature of a JPEG Extended XMP segment (XMP Specification Part 3,
/// 2016, 1.1.3.1): a packet too large for one 64 KiB APP1 is split into
/// chunks, each with the packet's GUID, its full length and its offset.
const EXTENDED_XMP_APP1_HEADER: &[u8] = b"http://ns.adobe.com/xmp/extension/\0";

/// One chunk of an Extended XMP packet.
struct ExtendedXmpChunk<'a> {
    guid: &'a [u8],
    full_length: usize,
    offset: usize,
    data: &'a [u8],
}

impl<'a> ExtendedXmpChunk<'a> {
    fn parse(payload: &'a [u8]) -> Option<Self> {
        let rest = payload.get(EXTENDED_XMP_APP1_HEADER.len()..)?;
        let be32 = |at: usize| -> Option<usize> {
            let b = rest.get(at..at + 4)?;
            Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        };
        Some(Self {
            guid: rest.get(..32)?,
            full_length: be32(32)?,
            offset: be32(36)?,
            data: rest.get(40..)?,
        })
    }
}

/// The Extended XMP packet that the main packet names by its GUID
/// (`xmpNote:HasExtendedXMP`), put together from its chunks. Chunks of
/// any other GUID are ignored, as the specification asks. The packet is
/// cut at the per-block text limit; a missing chunk leaves zero bytes.
fn reassemble_extended_xmp(main: &[String], chunks: &[ExtendedXmpChunk]) -> Option<String> {
    if chunks.is_empty() {
        return None;
    }
    let guid = main.iter().find_map(|xmp| {
        crate::detectors::provenance::xmp_values(xmp, "HasExtendedXMP")
            .into_iter()
            .next()
    })?;
    let guid = guid.trim().as_bytes();
    let mut packet: Vec<u8> = Vec::new();
    for chunk in chunks.iter().filter(|c| c.guid == guid) {
        // One byte over the limit lets `text_of` know the text was cut.
        let length = chunk.full_length.min(MAX_TEXT_BYTES + 1);
        if packet.len() < length {
            packet.resize(length, 0);
        }
        if chunk.offset < length {
            let end = chunk.offset.saturating_add(chunk.data.len()).min(length);
            packet[chunk.offset..end].copy_from_slice(&chunk.data[..end - chunk.offset]);
        }
    }
    (!packet.is_empty()).then(|| text_of(&packet))
}

fn parse_dqt(mut payload: &[u8], tables: &mut Vec<QuantTable>) {
    while let Some(&pq_tq) = payload.first() {
        let precision16 = pq_tq >> 4 == 1;
        let id = pq_tq & 0x0F;
        let size = if precision16 { 128 } else { 64 };
        let Some(data) = payload.get(1..1 + size) else {
            return;
        };
        let mut values = [0u16; 64];
        for (k, &natural) in ZIGZAG.iter().enumerate() {
            values[natural] = if precision16 {
                u16::from_be_bytes([data[2 * k], data[2 * k + 1]])
            } else {
                u16::from(data[k])
            };
        }
        tables.retain(|t| t.id != id);
        if tables.len() < 4 {
            tables.push(QuantTable { id, values });
        }
        payload = &payload[1 + size..];
    }
}

fn parse_sof(sof: u8, payload: &[u8]) -> Option<JpegFrame> {
    let count = usize::from(*payload.get(5)?);
    let mut components = Vec::with_capacity(count.min(4));
    for c in 0..count.min(4) {
        let d = payload.get(6 + 3 * c..9 + 3 * c)?;
        components.push((d[0], d[1] >> 4, d[1] & 0x0F, d[2]));
    }
    Some(JpegFrame { sof, components })
}

fn walk_png(bytes: &[u8], meta: &mut RawMetadata) {
    let mut pos = 8;
    let mut blocks = 0;
    // APNG (W3C PNG 3rd edition): the first valid `acTL` before the image
    // data declares the frames (as libpng's APNG patch and browsers read
    // it: 8 bytes, at least one frame); a `fcTL` before the first IDAT
    // makes the default image the first frame.
    let mut declared_frames: Option<u32> = None;
    let mut default_is_a_frame = false;
    let mut seen_idat = false;
    while pos + 8 <= bytes.len() {
        let len = u32::from_be_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]])
            as usize;
        let kind = &bytes[pos + 4..pos + 8];
        // Image data is skipped in O(1) and not counted: a large image is
        // thousands of IDAT chunks, and text may follow them.
        if !matches!(kind, b"IDAT" | b"fdAT") {
            blocks += 1;
        }
        // Past the block cap metadata is no longer read, but the walk goes
        // on (chunk headers only) to the image data, before which an
        // animation must be declared: padding cannot hide one.
        let collecting = blocks <= MAX_BLOCKS;
        if !collecting && seen_idat {
            break;
        }
        let start = pos + 8;
        let Some(end) = start.checked_add(len).filter(|&e| e <= bytes.len()) else {
            break;
        };
        let data = &bytes[start..end];
        match kind {
            b"acTL" if !seen_idat && declared_frames.is_none() && data.len() == 8 => {
                let frames = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                declared_frames = Some(frames).filter(|&n| n > 0);
            }
            b"fcTL" if !seen_idat => default_is_a_frame = true,
            b"IDAT" => seen_idat = true,
            _ if !collecting => {}
            b"tEXt" => {
                if let Some((key, value)) = split_key(data) {
                    meta.push_png_text(key, text_of(value));
                }
            }
            b"zTXt" => {
                if let Some((key, rest)) = split_key(data) {
                    // One compression-method byte (0 = zlib), then the stream.
                    if let Some(value) = rest.get(1..).and_then(inflate_limited) {
                        meta.push_png_text(key, value);
                    }
                }
            }
            b"iTXt" => {
                if let Some((key, value)) = parse_itxt(data) {
                    meta.push_png_text(key, value);
                }
            }
            b"eXIf" if meta.exif.is_none() => meta.exif = Some(data.to_vec()),
            b"caBX" => {
                push_c2pa(meta, data);
            }
            b"IEND" => break,
            _ => {}
        }
        pos = end + 4; // skip CRC
    }
    // One frame that is the default image is a still picture; a default
    // image outside the animation is never shown by a viewer that plays it.
    meta.animation_frames = declared_frames.filter(|&frames| frames > 1 || !default_is_a_frame);
}

fn parse_itxt(data: &[u8]) -> Option<(String, String)> {
    let (key, rest) = split_key(data)?;
    let compressed = *rest.first()? == 1;
    let rest = rest.get(2..)?; // flag, method
    let lang_end = rest.iter().position(|&b| b == 0)?;
    let rest = &rest[lang_end + 1..];
    let tkey_end = rest.iter().position(|&b| b == 0)?;
    let text = &rest[tkey_end + 1..];
    let value = if compressed {
        inflate_limited(text)?
    } else {
        text_of(text)
    };
    Some((key, value))
}

fn walk_webp(bytes: &[u8], meta: &mut RawMetadata) {
    let mut frames = 0u32;
    // Every chunk is walked for the frames (headers only, so padding cannot
    // hide an animation); metadata is read from the first MAX_BLOCKS.
    let chunks = riff_chunks(bytes.get(12..).unwrap_or_default(), usize::MAX);
    for (index, (kind, data)) in chunks.enumerate() {
        let collecting = index < MAX_BLOCKS;
        match kind {
            // An animation frame (WebP container specification, "ANMF"):
            // a 16-byte frame header, then the frame's own chunks.
            b"ANMF" => {
                let frame = riff_chunks(data.get(16..).unwrap_or_default(), MAX_BLOCKS);
                meta.lossy_webp |= frame.into_iter().any(|(kind, _)| kind == b"VP8 ");
                frames = frames.saturating_add(1);
            }
            b"VP8 " => meta.lossy_webp = true,
            _ if !collecting => {}
            b"EXIF" if meta.exif.is_none() => {
                // Some writers keep the JPEG-style "Exif\0\0" prefix.
                let data = data.strip_prefix(b"Exif\0\0").unwrap_or(data);
                meta.exif = Some(data.to_vec());
            }
            b"XMP " => meta.push_xmp(text_of(data)),
            b"C2PA" => {
                push_c2pa(meta, data);
            }
            _ => {}
        }
    }
    meta.animation_frames = Some(frames).filter(|&n| n > 1);
}

/// A GIF (GIF89a specification): comment extensions as `comment` text, the
/// XMP application extension as XMP, and the number of images (frames).
fn walk_gif(bytes: &[u8], meta: &mut RawMetadata) {
    // Header (6 bytes), logical screen descriptor (7), global colour table.
    let Some(&packed) = bytes.get(10) else {
        return;
    };
    let mut pos = 13 + colour_table_bytes(packed);
    let mut images = 0u32;
    let mut blocks = 0;
    loop {
        // Past the block cap only images are counted (sub-block headers
        // only, so padding cannot hide a second frame), until a second.
        blocks += 1;
        let collecting = blocks <= MAX_BLOCKS;
        if !collecting && images > 1 {
            break;
        }
        match bytes.get(pos) {
            Some(0x2C) => {
                // Image descriptor (9 bytes), local colour table, LZW code
                // size, then the data sub-blocks.
                let Some(&packed) = bytes.get(pos + 9) else {
                    break;
                };
                images = images.saturating_add(1);
                let data = pos + 10 + colour_table_bytes(packed) + 1;
                let Some((_, end)) = gif_sub_blocks(bytes, data, 0) else {
                    break;
                };
                pos = end;
            }
            Some(0x21) => {
                let label = bytes.get(pos + 1).copied().filter(|_| collecting);
                let keep = if collecting { MAX_GIF_SUB_BLOCKS } else { 0 };
                let Some((data, end)) = gif_sub_blocks(bytes, pos + 2, keep) else {
                    break;
                };
                match label {
                    Some(0xFE) => {
                        let comment: Vec<u8> =
                            data.iter().flat_map(|b| b.iter().copied()).collect();
                        meta.push_text("comment".into(), text_of(&comment));
                    }
                    // XMP: the 11-byte application identifier, then the
                    // packet's raw bytes (its sub-block lengths are the
                    // packet's own bytes), then a "magic trailer" of bytes
                    // 0x01, 0xFF, 0xFE, ..., 0x00 that no XMP text holds.
                    Some(0xFF) if data.first().is_some_and(|id| *id == b"XMP DataXMP") => {
                        let raw = &bytes[pos + 3 + 11..end];
                        let packet = raw.split(|&b| b == 0x01).next().unwrap_or_default();
                        meta.push_xmp(text_of(packet));
                    }
                    _ => {}
                }
                pos = end;
            }
            _ => break, // the trailer (0x3B), or bytes that are no block
        }
    }
    meta.animation_frames = Some(images).filter(|&n| n > 1);
}

/// Bytes of the colour table a GIF descriptor's packed field declares.
fn colour_table_bytes(packed: u8) -> usize {
    if packed & 0x80 == 0 {
        0
    } else {
        3 << ((packed & 7) + 1)
    }
}

/// The first `keep` data sub-blocks of a GIF block starting at `pos` (each
/// a length byte and that many bytes, ended by a 0 length), and the
/// position after them all; `None` when the file ends first.
fn gif_sub_blocks(bytes: &[u8], mut pos: usize, keep: usize) -> Option<(Vec<&[u8]>, usize)> {
    let mut blocks = Vec::new();
    loop {
        let len = usize::from(*bytes.get(pos)?);
        if len == 0 {
            return Some((blocks, pos + 1));
        }
        let block = bytes.get(pos + 1..pos + 1 + len)?;
        if blocks.len() < keep {
            blocks.push(block);
        }
        pos += 1 + len;
    }
}

/// The chunks of a RIFF body, as (FourCC, data): at most `max_blocks`,
/// data cut at the end of `bytes`.
fn riff_chunks(bytes: &[u8], max_blocks: usize) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut pos = 0usize;
    let mut blocks = 0usize;
    std::iter::from_fn(move || {
        let header = bytes.get(pos..pos.checked_add(8)?)?;
        blocks += 1;
        if blocks > max_blocks {
            return None;
        }
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let start = pos + 8;
        let end = start.saturating_add(len).min(bytes.len());
        // Chunks are padded to an even size.
        pos = start.saturating_add(len).saturating_add(len & 1);
        Some((&header[..4], &bytes[start..end]))
    })
}

fn split_key(data: &[u8]) -> Option<(String, &[u8])> {
    let nul = data.iter().position(|&b| b == 0)?;
    if nul == 0 || nul > 79 {
        return None;
    }
    Some((latin1(&data[..nul]), &data[nul + 1..]))
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Text of a block: UTF-8 when valid, else Latin-1; capped.
pub(crate) fn text_of(bytes: &[u8]) -> String {
    let cut = bytes.len() > MAX_TEXT_BYTES;
    let bytes = &bytes[..bytes.len().min(MAX_TEXT_BYTES)];
    match std::str::from_utf8(bytes) {
        Ok(s) => s.trim_end_matches('\0').to_string(),
        // The cut fell inside a character of UTF-8 text (a long Chinese
        // prompt): keep the whole characters, not a Latin-1 reading of all.
        Err(e) if cut && e.error_len().is_none() => {
            let whole = &bytes[..e.valid_up_to()];
            std::str::from_utf8(whole).unwrap_or_default().to_string()
        }
        Err(_) => latin1(bytes),
    }
}

/// Inflate compressed text, keeping its first `MAX_TEXT_BYTES` when it is
/// longer (a long prompt is cut like uncompressed text, not dropped).
fn inflate_limited(data: &[u8]) -> Option<String> {
    use miniz_oxide::inflate::{decompress_to_vec_zlib_with_limit, TINFLStatus};
    // One byte over the limit lets `text_of` know the text was cut.
    match decompress_to_vec_zlib_with_limit(data, MAX_TEXT_BYTES + 1) {
        Ok(v) => Some(text_of(&v)),
        Err(e) if e.status == TINFLStatus::HasMoreOutput => Some(text_of(&e.output)),
        Err(_) => None,
    }
}

fn push_c2pa(meta: &mut RawMetadata, data: &[u8]) {
    if meta.c2pa.len() < MAX_C2PA_BYTES {
        meta.c2pa.extend_from_slice(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG chunk (the walk does not check CRCs; they are left 0).
    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend(kind);
        out.extend(data);
        out.extend([0; 4]);
        out
    }

    /// UTF-8 text cut at the size limit inside a character keeps its
    /// whole characters (it was read as Latin-1 throughout).
    #[test]
    fn utf8_text_cut_inside_a_character_stays_utf8() {
        let text = "提示".repeat(MAX_TEXT_BYTES / 6 + 1) + "x";
        let bytes = text.as_bytes();
        assert!(bytes.len() > MAX_TEXT_BYTES && !text.is_char_boundary(MAX_TEXT_BYTES));
        let read = text_of(bytes);
        assert!(read.starts_with("提示提示"));
        assert!(read.len() <= MAX_TEXT_BYTES && read.len() > MAX_TEXT_BYTES - 4);
        // Bytes that are not UTF-8 before the cut are still Latin-1.
        assert_eq!(text_of(&[0x41, 0xE9, 0x42]), "AéB");
    }

    /// Text after thousands of image data chunks (a large image) is read.
    #[test]
    fn png_text_after_many_image_chunks_is_kept() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &[0; 13]));
        for _ in 0..(MAX_BLOCKS + 10) {
            png.extend(chunk(b"IDAT", &[0; 8]));
        }
        png.extend(chunk(b"tEXt", b"parameters\0a cat, Steps: 20"));
        png.extend(chunk(b"IEND", &[]));
        let meta = extract(&png, Format::Png);
        assert_eq!(meta.text.len(), 1);
    }

    /// XMP is XMP under its keyword in any of the three text chunk types
    /// (Pillow writes Latin-1 text as tEXt).
    #[test]
    fn png_xmp_is_read_from_every_text_chunk_type() {
        let packet = "<x:xmpmeta><Iptc4xmpExt:DigitalSourceType>trained</Iptc4xmpExt:DigitalSourceType></x:xmpmeta>";
        let key = b"XML:com.adobe.xmp\0";
        let deflated = miniz_oxide::deflate::compress_to_vec_zlib(packet.as_bytes(), 6);
        let chunks: [(&[u8; 4], Vec<u8>); 3] = [
            (b"tEXt", [&key[..], packet.as_bytes()].concat()),
            (b"zTXt", [&key[..], &[0], &deflated].concat()),
            (
                b"iTXt",
                [&key[..], &[0, 0, 0, 0], packet.as_bytes()].concat(),
            ),
        ];
        for (kind, data) in chunks {
            let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
            png.extend(chunk(b"IHDR", &[0; 13]));
            png.extend(chunk(kind, &data));
            png.extend(chunk(b"tEXt", b"Software\0GIMP"));
            png.extend(chunk(b"IEND", &[]));
            let meta = extract(&png, Format::Png);
            assert_eq!(meta.xmp, vec![packet.to_string()], "{kind:?}");
            assert_eq!(meta.text.len(), 1, "{kind:?}");
        }
    }

    /// ImageMagick's hex-coded profiles in PNG text are EXIF and XMP; a
    /// profile whose digits fall short of its length is dropped.
    #[test]
    fn png_raw_profiles_are_exif_and_xmp() {
        let hex = |bytes: &[u8]| -> String {
            let digits: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let lines: Vec<&str> = digits
                .as_bytes()
                .chunks(72)
                .map(|c| std::str::from_utf8(c).unwrap_or_default())
                .collect();
            lines.join("\n")
        };
        let profile =
            |name: &str, bytes: &[u8]| format!("\n{name}\n{:8}\n{}\n", bytes.len(), hex(bytes));
        let tiff = b"II*\0\x08\0\0\0\0\0\0\0\0\0".repeat(3);
        let exif = [&b"Exif\0\0"[..], &tiff].concat();
        let packet = "<x:xmpmeta>trainedAlgorithmicMedia</x:xmpmeta>";
        let png = |chunks: &[(&str, String)]| {
            let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
            png.extend(chunk(b"IHDR", &[0; 13]));
            for (key, value) in chunks {
                png.extend(chunk(
                    b"tEXt",
                    &[key.as_bytes(), b"\0", value.as_bytes()].concat(),
                ));
            }
            png.extend(chunk(b"IEND", &[]));
            extract(&png, Format::Png)
        };
        let meta = png(&[
            ("Raw profile type exif", profile("exif", &exif)),
            ("Raw profile type xmp", profile("xmp", packet.as_bytes())),
        ]);
        assert_eq!(meta.exif.as_deref(), Some(tiff.as_slice()));
        assert_eq!(meta.xmp, vec![packet.to_string()]);
        assert!(meta.text.is_empty());
        let mut short = profile("exif", &exif);
        short.truncate(short.len() - 4);
        assert_eq!(png(&[("Raw profile type APP1", short)]).exif, None);
        // An APP1 profile may hold XMP, under its namespace.
        let app1_xmp = [XMP_APP1_HEADER, packet.as_bytes()].concat();
        let meta = png(&[
            ("Raw profile type APP1", profile("APP1", &app1_xmp)),
            ("Raw profile type exif", profile("exif", &exif)),
        ]);
        assert_eq!(meta.xmp, vec![packet.to_string()]);
        assert_eq!(meta.exif.as_deref(), Some(tiff.as_slice()));
        let doubled = [&b"Exif\0\0"[..], &exif].concat();
        let text = png(&[("Raw profile type APP1", profile("APP1", &doubled))]);
        assert_eq!(text.exif.as_deref(), Some(tiff.as_slice()));
    }

    /// A JPEG of the given APP1 payloads (no image data: only the walk runs).
    fn jpeg_with_app1(payloads: &[Vec<u8>]) -> Vec<u8> {
        jpeg_with(0xE1, payloads)
    }

    /// A JPEG of the given payloads of one marker segment kind.
    fn jpeg_with(marker: u8, payloads: &[Vec<u8>]) -> Vec<u8> {
        let mut jpeg = vec![0xFF, 0xD8];
        for p in payloads {
            jpeg.extend([0xFF, marker]);
            jpeg.extend(((p.len() + 2) as u16).to_be_bytes());
            jpeg.extend(p);
        }
        jpeg.extend([0xFF, 0xD9]);
        jpeg
    }

    /// A lossy frame makes an animated WebP lossy (its chunks sit inside
    /// the frame's, behind a padded alpha chunk); lossless frames do not.
    #[test]
    fn an_animation_of_lossy_frames_is_a_lossy_webp() {
        let riff_chunk = |kind: &[u8; 4], data: &[u8]| {
            let mut out = kind.to_vec();
            out.extend((data.len() as u32).to_le_bytes());
            out.extend(data);
            if data.len() % 2 == 1 {
                out.push(0);
            }
            out
        };
        let webp = |frame_kind: &[u8; 4]| {
            let frame = [
                vec![0u8; 16],
                riff_chunk(b"ALPH", &[0; 3]),
                riff_chunk(frame_kind, &[0; 10]),
            ]
            .concat();
            let body = [
                b"WEBP".to_vec(),
                riff_chunk(b"VP8X", &[0; 10]),
                riff_chunk(b"ANIM", &[0; 6]),
                riff_chunk(b"ANMF", &frame),
            ]
            .concat();
            [
                b"RIFF".to_vec(),
                (body.len() as u32).to_le_bytes().to_vec(),
                body,
            ]
            .concat()
        };
        assert!(extract(&webp(b"VP8 "), Format::Webp).lossy_webp);
        assert!(!extract(&webp(b"VP8L"), Format::Webp).lossy_webp);
        // One frame is a still picture; two are an animation.
        assert_eq!(extract(&webp(b"VP8 "), Format::Webp).animation_frames, None);
        let mut two = webp(b"VP8L");
        let frame = two[two.len() - 54..].to_vec(); // 8 + 16 + 12 + 18 bytes
        assert_eq!(&frame[..4], b"ANMF");
        two.extend(&frame);
        assert_eq!(extract(&two, Format::Webp).animation_frames, Some(2));
        // Chunks past the metadata cap still count their frames.
        let mut padded = webp(b"VP8L");
        let one = padded.split_off(padded.len() - 54);
        for _ in 0..MAX_BLOCKS + 10 {
            padded.extend(riff_chunk(b"juNk", &[]));
        }
        padded.extend(one);
        padded.extend(frame);
        assert_eq!(extract(&padded, Format::Webp).animation_frames, Some(2));
    }

    /// An APNG is an animation unless its one frame is the default image
    /// (a `fcTL` before the image data); a default image outside the
    /// animation is never shown, so one such frame counts.
    #[test]
    fn an_apng_is_an_animation_unless_its_one_frame_is_the_image() {
        let png = |frames: u32, frame_first: bool| {
            let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
            png.extend(chunk(b"IHDR", &[0; 13]));
            png.extend(chunk(
                b"acTL",
                &[&frames.to_be_bytes()[..], &[0; 4]].concat(),
            ));
            if frame_first {
                png.extend(chunk(b"fcTL", &[0; 26]));
            }
            png.extend(chunk(b"IDAT", &[0; 8]));
            for _ in u32::from(frame_first)..frames {
                png.extend(chunk(b"fcTL", &[0; 26]));
                png.extend(chunk(b"fdAT", &[0; 8]));
            }
            png.extend(chunk(b"IEND", &[]));
            extract(&png, Format::Png).animation_frames
        };
        assert_eq!(png(0, false), None);
        assert_eq!(png(1, true), None);
        assert_eq!(png(1, false), Some(1));
        assert_eq!(png(2, true), Some(2));
        assert_eq!(png(3, false), Some(3));

        // The first valid acTL before the image data counts, as decoders
        // read it; padding before it does not hide it.
        let frames = |chunks: &[Vec<u8>]| {
            let png = [b"\x89PNG\r\n\x1a\n".to_vec(), chunks.concat()].concat();
            extract(&png, Format::Png).animation_frames
        };
        let actl = |n: u32| chunk(b"acTL", &[&n.to_be_bytes()[..], &[0; 4]].concat());
        let (ihdr, idat, iend) = (
            chunk(b"IHDR", &[0; 13]),
            chunk(b"IDAT", &[0; 8]),
            chunk(b"IEND", &[]),
        );
        let fctl = chunk(b"fcTL", &[0; 26]);
        let two = |extra: Vec<u8>| {
            frames(&[
                ihdr.clone(),
                actl(2),
                extra,
                fctl.clone(),
                idat.clone(),
                fctl.clone(),
                chunk(b"fdAT", &[0; 8]),
                iend.clone(),
            ])
        };
        assert_eq!(two(chunk(b"acTL", &[])), Some(2));
        assert_eq!(two(actl(1)), Some(2));
        assert_eq!(two(Vec::new()), Some(2));
        assert_eq!(
            frames(&[ihdr.clone(), idat.clone(), actl(2), iend.clone()]),
            None
        );
        let junk = chunk(b"juNk", &[]).repeat(MAX_BLOCKS + 10);
        assert_eq!(frames(&[ihdr, junk, actl(3), idat, iend]), Some(3));
    }

    /// A GIF's comment extension is text, its XMP application extension
    /// (raw packet, then the magic trailer) is XMP, and two images are an
    /// animation; a cut file keeps what came before the cut.
    #[test]
    fn a_gif_gives_its_comment_xmp_and_frames() {
        let packet = "<x:xmpmeta>trainedAlgorithmicMedia</x:xmpmeta>";
        let image = [
            &[0x2C][..],
            &[0; 8],
            &[0x80], // a local colour table of 2 entries
            &[0; 6],
            &[2, 3, 1, 2, 3, 0], // LZW code size, one sub-block, end
        ]
        .concat();
        let mut gif = b"GIF89a".to_vec();
        gif.extend([1, 0, 1, 0, 0x81, 0, 0]); // 1x1, a global table of 4
        gif.extend([0; 12]);
        gif.extend([0x21, 0xFE, 5]);
        gif.extend(b"hello");
        gif.extend([3]);
        gif.extend(b" AI");
        gif.push(0);
        gif.extend(&image);
        gif.extend([0x21, 0xFF, 11]);
        gif.extend(b"XMP DataXMP");
        gif.extend(packet.as_bytes());
        gif.push(1);
        gif.extend((0..=255u8).rev());
        gif.push(0);
        let still = [&gif[..], &[0x3B]].concat();
        let meta = extract(&still, Format::Gif);
        assert_eq!(
            meta.text,
            vec![("comment".to_string(), "hello AI".to_string())]
        );
        assert_eq!(meta.xmp, vec![packet.to_string()]);
        assert_eq!(meta.animation_frames, None);
        let padded = [
            &gif[..],
            &[0x21, 0xFE, 0].repeat(MAX_BLOCKS + 10),
            &image,
            &[0x3B],
        ]
        .concat();
        assert_eq!(extract(&padded, Format::Gif).animation_frames, Some(2));
        gif.extend(&image);
        gif.push(0x3B);
        assert_eq!(extract(&gif, Format::Gif).animation_frames, Some(2));
        for cut in 0..gif.len() {
            let meta = extract(&gif[..cut], Format::Gif);
            assert!(meta.text.len() <= 1 && meta.xmp.len() <= 1);
        }
    }

    /// A JUMBF box split over APP11 segments, written out of order, each
    /// continuation repeating the box header, reads as the box itself: a
    /// name cut at the boundary is whole again. Another instance's box
    /// stays apart.
    #[test]
    fn a_jumbf_box_over_several_segments_is_put_back_together() {
        let content = b"jumdc2pa claim_generator DALL-E digitalSourceType";
        for (lbox, header) in [
            (
                None,
                [&(8 + content.len() as u32).to_be_bytes()[..], b"jumb"].concat(),
            ),
            (
                Some(1u32),
                [
                    &1u32.to_be_bytes()[..],
                    b"jumb",
                    &(16 + content.len() as u64).to_be_bytes(),
                ]
                .concat(),
            ),
        ] {
            let segment = |instance: u16, sequence: u32, part: &[u8]| {
                [
                    b"JP".as_slice(),
                    &instance.to_be_bytes(),
                    &sequence.to_be_bytes(),
                    &header,
                    part,
                ]
                .concat()
            };
            let cut = 29; // inside "DALL-E"
            let other = [
                b"JP".as_slice(),
                &2u16.to_be_bytes(),
                &1u32.to_be_bytes(),
                b"\0\0\0\x0cjumbxyzw",
            ]
            .concat();
            let meta = extract(
                &jpeg_with(
                    0xEB,
                    &[
                        segment(1, 2, &content[cut..]),
                        other.clone(),
                        segment(1, 1, &content[..cut]),
                    ],
                ),
                Format::Jpeg,
            );
            let whole = [&header[..], content, &other[8..]].concat();
            assert_eq!(meta.c2pa, whole, "{lbox:?}");
        }
    }

    fn extended_chunk(guid: &[u8; 32], full: &[u8], range: std::ops::Range<usize>) -> Vec<u8> {
        let mut p = EXTENDED_XMP_APP1_HEADER.to_vec();
        p.extend(guid);
        p.extend((full.len() as u32).to_be_bytes());
        p.extend((range.start as u32).to_be_bytes());
        p.extend(&full[range]);
        p
    }

    /// An Extended XMP packet split over two segments, written out of
    /// order, is put together when the main packet names its GUID; chunks
    /// of another GUID, or with no main packet naming them, are not read.
    #[test]
    fn extended_xmp_named_by_the_main_packet_is_reassembled() {
        let guid = b"0123456789ABCDEF0123456789ABCDEF";
        let stale = b"FEDCBA9876543210FEDCBA9876543210";
        let main = b"http://ns.adobe.com/xap/1.0/\0<rdf:Description xmpNote:HasExtendedXMP=\"0123456789ABCDEF0123456789ABCDEF\"/>".to_vec();
        let extended =
            br#"<rdf:Description><TC260:AIGC>{"Label":"1"}</TC260:AIGC></rdf:Description>"#;
        let half = extended.len() / 2;
        let chunks = [
            extended_chunk(guid, extended, half..extended.len()),
            extended_chunk(guid, extended, 0..half),
            extended_chunk(stale, b"<stale/>", 0..8),
        ];
        let meta = extract(
            &jpeg_with_app1(&[
                main.clone(),
                chunks[0].clone(),
                chunks[1].clone(),
                chunks[2].clone(),
            ]),
            Format::Jpeg,
        );
        assert_eq!(meta.xmp.len(), 2);
        assert_eq!(meta.xmp[1].as_bytes(), extended);

        let unnamed = extract(&jpeg_with_app1(&chunks), Format::Jpeg);
        assert!(unnamed.xmp.is_empty());
    }

    /// Metadata given apart from a file is capped as a file's is: each
    /// text to [`MAX_TEXT_BYTES`], keys to a PNG keyword's length, all text
    /// to [`MAX_KEPT_TEXT_BYTES`]; the first EXIF block stands.
    #[test]
    fn metadata_given_apart_is_capped_as_a_files() {
        let long = vec![b'a'; MAX_TEXT_BYTES + 10];
        let meta = RawMetadata::default()
            .with_exif(b"Exif\0\0II*\0")
            .with_exif(b"MM\0*")
            .with_text(&"k".repeat(100), &long)
            .with_xmp(&long);
        assert_eq!(meta.exif.as_deref(), Some(b"II*\0".as_slice()));
        assert_eq!(meta.text[0].0.len(), MAX_KEY_CHARS);
        assert_eq!(meta.text[0].1.len(), MAX_TEXT_BYTES);
        assert_eq!(meta.xmp[0].len(), MAX_TEXT_BYTES);
        let mut many = RawMetadata::default();
        for _ in 0..(MAX_KEPT_TEXT_BYTES / MAX_TEXT_BYTES + 5) {
            many = many.with_text("parameters", &long);
        }
        assert!(many.kept_text_bytes <= MAX_KEPT_TEXT_BYTES + MAX_TEXT_BYTES + MAX_KEY_CHARS);
        assert!(many.text.len() < MAX_KEPT_TEXT_BYTES / MAX_TEXT_BYTES + 5);
        // An empty block is none: the next one is read.
        let after_empty = RawMetadata::default()
            .with_exif(b"Exif\0\0")
            .with_exif(b"MM\0*");
        assert_eq!(after_empty.exif.as_deref(), Some(b"MM\0*".as_slice()));
        let frames = |n| RawMetadata::default().with_animation(n).animation_frames;
        assert_eq!((frames(Some(0)), frames(Some(1))), (None, None));
        assert_eq!((frames(Some(3)), frames(None)), (Some(3), Some(0)));
    }

    /// A forged full length of 4 GiB allocates no more than the text limit.
    #[test]
    fn extended_xmp_length_is_bounded() {
        let guid = b"0123456789ABCDEF0123456789ABCDEF";
        let main = b"http://ns.adobe.com/xap/1.0/\0<x xmpNote:HasExtendedXMP=\"0123456789ABCDEF0123456789ABCDEF\"/>".to_vec();
        let mut chunk = extended_chunk(guid, b"<a/>", 0..4);
        let at = EXTENDED_XMP_APP1_HEADER.len() + 32;
        chunk[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        let meta = extract(&jpeg_with_app1(&[main, chunk]), Format::Jpeg);
        assert_eq!(meta.xmp.len(), 2);
        assert!(meta.xmp[1].starts_with("<a/>") && meta.xmp[1].len() <= MAX_TEXT_BYTES);
    }

    /// Compressed text longer than the limit keeps its first part, like
    /// uncompressed text; it was dropped whole.
    #[test]
    fn long_compressed_text_is_cut_not_dropped() {
        let prompt = "a cat, Steps: 20, Sampler: Euler, ".repeat(MAX_TEXT_BYTES / 20);
        let mut data = b"parameters\0\0".to_vec();
        data.extend(miniz_oxide::deflate::compress_to_vec_zlib(
            prompt.as_bytes(),
            6,
        ));
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &[0; 13]));
        png.extend(chunk(b"zTXt", &data));
        png.extend(chunk(b"IEND", &[]));
        let meta = extract(&png, Format::Png);
        assert_eq!(meta.text.len(), 1);
        assert_eq!(meta.text[0].1.len(), MAX_TEXT_BYTES);
        assert!(prompt.starts_with(&meta.text[0].1));
    }

    /// A TIFF's EXIF keeps up to 64 MiB of it, so an IFD written after
    /// 16 MiB of strips is still read.
    #[test]
    fn a_tiff_keeps_its_ifd_at_the_end_of_a_large_file() {
        let mut tiff = vec![0u8; 17 << 20];
        tiff[..4].copy_from_slice(b"II*\0");
        let ifd = tiff.len() - 64;
        tiff[4..8].copy_from_slice(&(ifd as u32).to_le_bytes());
        let meta = extract(&tiff, Format::Tiff);
        assert_eq!(meta.exif.map(|e| e.len()), Some(tiff.len()));
    }
}
