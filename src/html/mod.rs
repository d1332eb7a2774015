//! Self-contained HTML review pages: one page per claim photo
//! ([`render_html`]) and a batch index ([`render_index`]).
//!
//! The pages are made for a reviewer who is not a forensics expert. They hold
//! everything inline (images as `data:` URIs, CSS, a few lines of script), make
//! no network request (a Content Security Policy forbids it), read in English
//! and Simplified Chinese with a switch, work from the keyboard, and print
//! legibly to PDF.
//!
//! Every string that comes from the analysed file (metadata, generator prompts,
//! file names, finding messages that quote metadata) goes through
//! [`escape_html`]. The CSP also pins the page's own scripts by hash, so even
//! markup that slipped through could not run script.

mod assets;
mod index;
mod page;

use std::io::Cursor;

use base64::Engine as _;
use image::metadata::Orientation;
use image::{DynamicImage, GenericImageView};

use crate::report::{clamp01, Heatmap, Verdict};
use crate::{decode, Config, Error, Report};

pub use index::{render_index, IndexEntry};
pub use page::render_html;

/// Default long side of the embedded photo, in pixels: sharp on a laptop
/// screen while keeping a page near a few hundred kilobytes.
pub const DEFAULT_MAX_SIDE: u32 = 1600;

/// Long side of index thumbnails, in pixels.
pub const THUMBNAIL_SIDE: u32 = 320;

/// The language a page opens in. Both languages are always in the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    fn class(self) -> &'static str {
        match self {
            Lang::En => "show-en",
            Lang::Zh => "show-zh",
        }
    }

    fn attr(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-Hans",
        }
    }
}

/// Options of [`render_html`]. Start from [`HtmlOptions::default`] and use the
/// `with_*` methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HtmlOptions<'a> {
    /// Title shown at the top, usually the file name. Untrusted: it is escaped.
    /// Default: `None` ("Claim photo").
    pub title: Option<String>,
    /// The merchant's reference (listing) photo that `Report::reference`
    /// describes. When given together with `Report::reference`, the page shows
    /// it beside the claim, warped into the claim's frame by the estimated
    /// transform, with the changed regions marked on both. Default: `None`.
    pub reference_image: Option<&'a DynamicImage>,
    /// The EXIF orientation of the reference photo's file
    /// ([`crate::decode::exif_orientation`]). Aligned, the listing turns
    /// with the claim; not aligned, it is turned by its own orientation.
    /// Default: `None` (shown as stored).
    pub reference_orientation: Option<u16>,
    /// Long side of the embedded photos in pixels, 64..=8192. Default: `1600`.
    pub max_side: u32,
    /// The false-alarm rate the thresholds were chosen for: the operating
    /// point's (`Analyzer::operating_point`), which is stricter than
    /// `Config::max_false_alarm` when the model has no point that loose;
    /// quoted in the operating point. The report holds only the
    /// thresholds. Default: `None` (not quoted).
    pub max_false_alarm: Option<f32>,
    /// The review rate the authentic threshold was set for
    /// (`Config::review_rate`), quoted in the operating point. Default:
    /// `None` (the model's own authentic threshold; not quoted).
    pub review_rate: Option<f32>,
    /// Language the page opens in. Default: English.
    pub lang: Lang,
    /// Width and height of the pixels that were analysed, when the image
    /// given to [`render_html`] is a smaller copy of them (a thumbnail kept
    /// for the page, so the full-size pixels need not be kept or scaled up
    /// again): the heatmap and the regions are placed in this frame.
    /// Default: `None`, the image's own size.
    pub analysed_size: Option<(u32, u32)>,
}

impl Default for HtmlOptions<'_> {
    fn default() -> Self {
        HtmlOptions {
            title: None,
            reference_image: None,
            reference_orientation: None,
            max_side: DEFAULT_MAX_SIDE,
            max_false_alarm: None,
            review_rate: None,
            lang: Lang::En,
            analysed_size: None,
        }
    }
}

impl<'a> HtmlOptions<'a> {
    /// Set the title (e.g. the file name).
    #[must_use]
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Pass the reference photo that `Report::reference` was computed against.
    #[must_use]
    pub fn with_reference_image(mut self, image: &'a DynamicImage) -> Self {
        self.reference_image = Some(image);
        self
    }

    /// Pass the EXIF orientation of the reference photo's file, so that a
    /// listing shown unaligned is shown upright.
    #[must_use]
    pub fn with_reference_orientation(mut self, orientation: Option<u16>) -> Self {
        self.reference_orientation = orientation;
        self
    }

    /// Set the long side of the embedded photos (clamped to 64..=8192).
    #[must_use]
    pub fn with_max_side(mut self, max_side: u32) -> Self {
        self.max_side = max_side;
        self
    }

    /// Quote the false-alarm rate of the operating point.
    #[must_use]
    pub fn with_max_false_alarm(mut self, rate: f32) -> Self {
        self.max_false_alarm = Some(rate);
        self
    }

    /// Quote the review rate the authentic threshold was set for.
    #[must_use]
    pub fn with_review_rate(mut self, rate: f32) -> Self {
        self.review_rate = Some(rate);
        self
    }

    /// Quote the operating point the report was decided at: the
    /// false-alarm rate its thresholds were chosen for (`point`, e.g.
    /// [`crate::Analyzer::operating_point`]: the model's strictest point
    /// when `Config::max_false_alarm` asks for less) and the review rate,
    /// if one was set (`Config::review_rate`).
    #[must_use]
    pub fn with_operating_point(
        self,
        point: crate::fusion::OperatingPoint,
        review_rate: Option<f32>,
    ) -> Self {
        let mut options = self.with_max_false_alarm(point.max_false_alarm);
        options.review_rate = review_rate;
        options
    }

    /// Set the language the page opens in.
    #[must_use]
    pub fn with_lang(mut self, lang: Lang) -> Self {
        self.lang = lang;
        self
    }

    /// Give the size of the analysed pixels when the image passed to
    /// [`render_html`] is a smaller copy of them.
    #[must_use]
    pub fn with_analysed_size(mut self, width: u32, height: u32) -> Self {
        self.analysed_size = Some((width, height));
        self
    }

    fn side(&self) -> u32 {
        self.max_side.clamp(64, 8192)
    }
}

/// Render the review page of an encoded image (the bytes that were analysed):
/// decode it under `config`'s limits, then [`render_html`].
///
/// # Errors
/// The decoding errors of [`crate::analyze_bytes`]: `Unsupported`, `TooLarge`,
/// `Decode`.
pub fn render_html_from_bytes(
    report: &Report,
    bytes: &[u8],
    options: &HtmlOptions<'_>,
    config: &Config,
) -> Result<String, Error> {
    let format = decode::sniff(bytes)?;
    let image = decode::decode(bytes, format, config)?;
    Ok(render_html(report, &image, options))
}

/// Escape text for HTML element content and quoted attribute values.
///
/// `& < > " '` become character references, so the text can neither open a
/// tag nor leave an attribute. C0/C1 control characters (except tab and
/// newline), bidirectional overrides and isolates, and the direction marks
/// (U+200E, U+200F, U+061C), which can disguise text or reorder the
/// digits around it, become U+FFFD.
#[must_use]
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(ch),
            c if c.is_control()
                || matches!(
                    c,
                    '\u{202a}'..='\u{202e}'
                        | '\u{2066}'..='\u{2069}'
                        | '\u{200e}'
                        | '\u{200f}'
                        | '\u{061c}'
                ) =>
            {
                out.push('\u{fffd}');
            }
            c => out.push(c),
        }
    }
    out
}

/// Escape untrusted text and cap it at `max_chars` characters, so a crafted
/// metadata field cannot bloat the page.
fn escape_capped(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", escape_html(&text[..cut])),
        None => escape_html(text),
    }
}

/// As [`escape_capped`], keeping the end: a path's end names its file.
fn escape_tail_capped(text: &str, max_chars: usize) -> String {
    match text.char_indices().rev().nth(max_chars.saturating_sub(1)) {
        Some((cut, _)) if cut > 0 => format!("…{}", escape_html(&text[cut..])),
        _ => escape_html(text),
    }
}

/// Percent-encode a relative link. Only unreserved characters and `/` stay,
/// so a crafted name can neither leave the attribute nor become a
/// `javascript:` URL (the colon is encoded). A leading `/` gets `.` before
/// it: `//host/page` would be another site and `/etc/x` the disk's root.
fn encode_href(href: &str) -> String {
    let mut out = String::with_capacity(href.len() + 1);
    if href.starts_with('/') {
        out.push('.');
    }
    for b in href.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Both languages of one piece of text; CSS shows the selected one. Both
/// arguments are HTML already (callers escape untrusted parts).
fn bi(en: &str, zh: &str) -> String {
    format!(r#"<span class="en" lang="en">{en}</span><span class="zh" lang="zh-Hans">{zh}</span>"#)
}

/// Word, sentence and icon of a verdict, in both languages.
struct VerdictText {
    word: (&'static str, &'static str),
    sentence: (&'static str, &'static str),
}

fn verdict_text(verdict: Verdict) -> VerdictText {
    match verdict {
        Verdict::Authentic => VerdictText {
            word: ("Authentic", "真实"),
            sentence: (
                "No evidence strong enough to send the photo to review was found.",
                "未发现足以送交人工复核的证据。",
            ),
        },
        Verdict::Inconclusive => VerdictText {
            word: ("Inconclusive", "无法确定"),
            sentence: (
                "Some signs were found, but not enough to flag the photo. Please look at the evidence below.",
                "发现了一些迹象，但不足以判定。请查看下方证据。",
            ),
        },
        Verdict::Edited => VerdictText {
            word: ("Edited", "已编辑"),
            sentence: (
                "This photo shows signs of having been edited.",
                "这张照片有被编辑过的迹象。",
            ),
        },
        Verdict::AiGenerated => VerdictText {
            word: ("AI-generated", "AI 生成"),
            sentence: (
                "This photo shows signs of having been generated by AI.",
                "这张照片有由 AI 生成的迹象。",
            ),
        },
    }
}

/// An inline SVG icon per verdict, so the verdict is told by shape as well as
/// by colour and word. Decorative: the word next to it is the text.
fn verdict_icon(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Authentic => {
            r##"<svg class="icon" viewBox="0 0 64 64" aria-hidden="true" focusable="false"><circle cx="32" cy="32" r="29" fill="#1e7b3a"/><path d="M18 33l10 10 19-21" fill="none" stroke="#fff" stroke-width="7" stroke-linecap="round" stroke-linejoin="round"/></svg>"##
        }
        Verdict::Inconclusive => {
            r##"<svg class="icon" viewBox="0 0 64 64" aria-hidden="true" focusable="false"><circle cx="32" cy="32" r="29" fill="#8a5a00"/><path d="M23 24a9 9 0 1 1 13 8c-3 2-4 3-4 7" fill="none" stroke="#fff" stroke-width="6" stroke-linecap="round"/><circle cx="32" cy="48" r="4" fill="#fff"/></svg>"##
        }
        Verdict::Edited => {
            r##"<svg class="icon" viewBox="0 0 64 64" aria-hidden="true" focusable="false"><path d="M32 4L61 58H3z" fill="#b3261e" stroke="#b3261e" stroke-width="4" stroke-linejoin="round"/><path d="M32 22v18" stroke="#fff" stroke-width="7" stroke-linecap="round"/><circle cx="32" cy="49" r="4.5" fill="#fff"/></svg>"##
        }
        Verdict::AiGenerated => {
            r##"<svg class="icon" viewBox="0 0 64 64" aria-hidden="true" focusable="false"><rect x="4" y="4" width="56" height="56" rx="12" fill="#6a2bb3"/><path d="M14 48l9-32h4l9 32M17 38h15M44 16v32" fill="none" stroke="#fff" stroke-width="6" stroke-linecap="round" stroke-linejoin="round"/></svg>"##
        }
    }
}

/// JPEG quality of the embedded photo: artefacts stay below what a reviewer
/// notices at screen size.
const PHOTO_QUALITY: u8 = 85;

/// JPEG quality of index thumbnails, which only help to recognise a photo.
const THUMBNAIL_QUALITY: u8 = 70;

/// How a page shows the stored pixels: turned as the EXIF orientation (tag
/// 0x0112, Exif 2.32 / TIFF 6.0) asks, so that a reviewer sees the photo as
/// the camera held it. The analysis, the heatmap and the regions stay in the
/// stored frame (turning the pixels would move the JPEG 8x8 grid the
/// detectors read); only what the page draws is turned, all of it alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Upright(Orientation);

impl Upright {
    /// The orientation the report's metadata gives.
    fn of(report: &Report) -> Self {
        Upright::from_exif(report.provenance.orientation)
    }

    /// The orientation an EXIF value asks for; none (or one outside 1-8)
    /// leaves the pixels as stored.
    fn from_exif(orientation: Option<u16>) -> Self {
        orientation
            .and_then(|o| u8::try_from(o).ok())
            .and_then(Orientation::from_exif)
            .map_or(Upright::STORED, Upright)
    }

    const STORED: Upright = Upright(Orientation::NoTransforms);

    /// Whether the upright frame is the stored one turned a quarter.
    fn swaps_sides(self) -> bool {
        matches!(
            self.0,
            Orientation::Rotate90
                | Orientation::Rotate270
                | Orientation::Rotate90FlipH
                | Orientation::Rotate270FlipH
        )
    }

    /// Width and height of the upright frame.
    fn size(self, (w, h): (u32, u32)) -> (u32, u32) {
        if self.swaps_sides() {
            (h, w)
        } else {
            (w, h)
        }
    }

    fn image(self, mut image: DynamicImage) -> DynamicImage {
        image.apply_orientation(self.0);
        image
    }

    /// The rectangle `(x, y, width, height)`, in fractions of the stored
    /// frame's sides, in fractions of the upright frame's sides.
    fn rect(self, (x, y, w, h): (f64, f64, f64, f64)) -> (f64, f64, f64, f64) {
        match self.0 {
            Orientation::NoTransforms => (x, y, w, h),
            Orientation::FlipHorizontal => (1.0 - x - w, y, w, h),
            Orientation::Rotate180 => (1.0 - x - w, 1.0 - y - h, w, h),
            Orientation::FlipVertical => (x, 1.0 - y - h, w, h),
            Orientation::Rotate90 => (1.0 - y - h, x, h, w),
            Orientation::Rotate270 => (y, 1.0 - x - w, h, w),
            Orientation::Rotate90FlipH => (y, x, h, w),
            Orientation::Rotate270FlipH => (1.0 - y - h, 1.0 - x - w, h, w),
        }
    }
}

/// A `data:` URI of the image as JPEG, downscaled so its long side is at most
/// `max_side`, then turned upright. Alpha is dropped: photos have none to
/// show.
fn jpeg_data_uri(
    image: &DynamicImage,
    max_side: u32,
    quality: u8,
    upright: Upright,
) -> Option<String> {
    let (w, h) = image.dimensions();
    let small = if w.max(h) > max_side {
        image.resize(max_side, max_side, image::imageops::FilterType::Triangle)
    } else {
        image.clone()
    };
    let rgb = upright.image(small).to_rgb8();
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(&rgb)
        .ok()?;
    Some(data_uri("image/jpeg", &bytes))
}

fn png_data_uri(image: &image::RgbaImage) -> Option<String> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).ok()?;
    Some(data_uri("image/png", bytes.get_ref()))
}

fn data_uri(mime: &str, bytes: &[u8]) -> String {
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The heatmap as a translucent RGBA overlay at cell resolution (the browser
/// smooths it when scaling). Colour ramps from yellow to red and opacity
/// grows with the value; cells under 0.1 are transparent so the photo stays
/// visible. Returns the URI, turned upright, and where it lies in the
/// upright frame, in fractions of its sides (the last row and column of
/// cells overhang the image: on the left or at the top once turned).
fn heatmap_overlay(
    map: &Heatmap,
    max_side: u32,
    upright: Upright,
) -> Option<(String, (f64, f64, f64, f64))> {
    // Nothing would be visible: no overlay and no slider to confuse a reviewer.
    if map.width == 0 || map.height == 0 || map.values.is_empty() || map.max() < 0.1 {
        return None;
    }
    let (gw, gh) = (map.grid_width.max(1), map.grid_height.max(1));
    if map.values.len() < gw as usize * gh as usize {
        return None;
    }
    let mut img = image::RgbaImage::from_fn(gw, gh, |x, y| {
        let v = clamp01(map.values[(y * gw + x) as usize]);
        if v < 0.1 {
            return image::Rgba([0, 0, 0, 0]);
        }
        // Yellow (255,214,0) at 0.1 to red (210,0,0) at 1.0.
        let t = (v - 0.1) / 0.9;
        let r = 255.0 - 45.0 * t;
        let g = 214.0 * (1.0 - t);
        // Flagged cells (≥ 0.5) are nearly opaque; weaker ones fade out.
        let a = if v >= 0.5 {
            200.0 + 55.0 * (v - 0.5) * 2.0
        } else {
            60.0 + 120.0 * (v - 0.1) / 0.4
        };
        image::Rgba([r as u8, g as u8, 0, a as u8])
    });
    if gw.max(gh) > max_side {
        img = image::imageops::thumbnail(&img, gw.min(max_side), gh.min(max_side));
    }
    let cover_w = f64::from(gw) * f64::from(map.cell) / f64::from(map.width);
    let cover_h = f64::from(gh) * f64::from(map.cell) / f64::from(map.height);
    let img = upright.image(DynamicImage::ImageRgba8(img)).into_rgba8();
    let place = upright.rect((0.0, 0.0, cover_w, cover_h));
    Some((png_data_uri(&img)?, place))
}

/// `12.5` → `"12.5"`: a percentage for CSS, finite and short.
fn pct(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    format!("{:.3}", v * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape_html(r#"<script>alert(1)</script>"onerror='x'&"#),
            "&lt;script&gt;alert(1)&lt;/script&gt;&quot;onerror=&#39;x&#39;&amp;"
        );
    }

    #[test]
    fn escapes_controls_and_bidi_overrides() {
        assert_eq!(
            escape_html("a\u{0}b\u{202e}c\u{85}"),
            "a\u{fffd}b\u{fffd}c\u{fffd}"
        );
        assert_eq!(
            escape_html("1\u{200f}2\u{200e}3\u{61c}4\u{2067}"),
            "1\u{fffd}2\u{fffd}3\u{fffd}4\u{fffd}"
        );
        assert_eq!(escape_html("tab\tline\n"), "tab\tline\n");
        assert_eq!(escape_html("中文 ok"), "中文 ok");
    }

    #[test]
    fn caps_long_text_on_a_char_boundary() {
        assert_eq!(escape_capped("ééé<", 2), "éé…");
        assert_eq!(escape_capped("a<", 5), "a&lt;");
    }

    #[test]
    fn hrefs_cannot_change_scheme_or_leave_the_attribute() {
        assert_eq!(
            encode_href("javascript:alert(1)"),
            "javascript%3Aalert%281%29"
        );
        assert_eq!(encode_href("a b\"<>.html"), "a%20b%22%3C%3E.html");
        assert_eq!(encode_href("dir/x-1_2.html"), "dir/x-1_2.html");
        // Never another site or the disk's root.
        assert_eq!(
            encode_href("//evil.example/p.html"),
            ".//evil.example/p.html"
        );
        assert_eq!(encode_href("/etc/passwd"), "./etc/passwd");
        assert_eq!(encode_href("\\\\host\\x"), "%5C%5Chost%5Cx");
    }

    #[test]
    fn overlay_covers_the_overhanging_grid() {
        let mut map = Heatmap::zeros(100, 50, 16);
        assert!(
            heatmap_overlay(&map, 1600, Upright::STORED).is_none(),
            "empty map, no overlay"
        );
        map.values[0] = 1.0;
        let (uri, (x, y, cw, ch)) = heatmap_overlay(&map, 1600, Upright::STORED).expect("overlay");
        assert!(uri.starts_with("data:image/png;base64,"));
        assert_eq!((x, y), (0.0, 0.0));
        assert!((cw - 112.0 / 100.0).abs() < 1e-9);
        assert!((ch - 64.0 / 50.0).abs() < 1e-9);
        // Turned half a turn, the overhang lies on the left and at the top.
        let (_, (x, y, _, _)) =
            heatmap_overlay(&map, 1600, Upright(Orientation::Rotate180)).expect("overlay");
        assert!((x + 0.12).abs() < 1e-9 && (y + 0.28).abs() < 1e-9);
    }

    /// Bounding box `(x, y, width, height)` of the pixels brighter than 128.
    fn bright_box(image: &DynamicImage) -> (u32, u32, u32, u32) {
        let luma = image.to_luma8();
        let lit: Vec<(u32, u32)> = luma
            .enumerate_pixels()
            .filter(|(_, _, p)| p.0[0] > 128)
            .map(|(x, y, _)| (x, y))
            .collect();
        let x0 = lit.iter().map(|p| p.0).min().expect("lit");
        let y0 = lit.iter().map(|p| p.1).min().expect("lit");
        let x1 = lit.iter().map(|p| p.0).max().expect("lit");
        let y1 = lit.iter().map(|p| p.1).max().expect("lit");
        (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
    }

    #[test]
    fn upright_rectangles_follow_the_turned_pixels() {
        // A lit 4x3 block at (5, 7) of a 40x24 frame, under each of the
        // eight EXIF orientations: the turned rectangle is where the turned
        // pixels are.
        let (w, h) = (40u32, 24u32);
        let stored = DynamicImage::ImageLuma8(image::GrayImage::from_fn(w, h, |x, y| {
            image::Luma([if (5..9).contains(&x) && (7..10).contains(&y) {
                255
            } else {
                0
            }])
        }));
        let mut turned_sizes = Vec::new();
        for exif in 1..=8u8 {
            let upright = Upright(Orientation::from_exif(exif).expect("orientation"));
            let turned = upright.image(stored.clone());
            let (tw, th) = upright.size((w, h));
            assert_eq!(turned.dimensions(), (tw, th), "orientation {exif}");
            turned_sizes.push((tw, th));
            let (x, y, rw, rh) = upright.rect((
                5.0 / f64::from(w),
                7.0 / f64::from(h),
                4.0 / f64::from(w),
                3.0 / f64::from(h),
            ));
            let expected = (
                (x * f64::from(tw)).round() as u32,
                (y * f64::from(th)).round() as u32,
                (rw * f64::from(tw)).round() as u32,
                (rh * f64::from(th)).round() as u32,
            );
            assert_eq!(bright_box(&turned), expected, "orientation {exif}");
        }
        // Orientations 5-8 are quarter turns.
        assert_eq!(turned_sizes[4..], [(h, w); 4]);
        assert_eq!(turned_sizes[..4], [(w, h); 4]);
    }

    #[test]
    fn embedded_photo_is_downscaled() {
        let img = DynamicImage::ImageRgb8(image::RgbImage::new(400, 100));
        let uri = jpeg_data_uri(&img, 200, PHOTO_QUALITY, Upright::STORED).expect("jpeg");
        let b64 = uri.strip_prefix("data:image/jpeg;base64,").expect("prefix");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64");
        let back = image::load_from_memory(&bytes).expect("decode");
        assert_eq!(back.dimensions(), (200, 50));
    }
}
