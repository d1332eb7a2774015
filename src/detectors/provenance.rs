//! Provenance: what the file's metadata says about where it came from.
//!
//! Reads EXIF (CIPA DC-008, through kamadak-exif), XMP packets (ISO 16684-1;
//! IPTC Photo Metadata `DigitalSourceType`, edit history, CreatorTool), C2PA
//! manifest stores (C2PA 2.1, JUMBF ISO 19566-5; byte-level scan of the CBOR
//! claims, signatures not validated), the implicit label of GB 45438-2025
//! (《人工智能生成合成内容标识办法》配套国家标准), and the text chunks that
//! image generators write (AUTOMATIC1111, ComfyUI, Fooocus, InvokeAI,
//! NovelAI, Midjourney, SwarmUI).
//!
//! Weights: a label that declares AI generation is decisive (0.99); a
//! declared composite is moderate evidence (0.5, inconclusive on its own).
//! An editor named in the metadata is weak (0.3): it shows that the file was
//! processed, which honest owners do all the time (export, resize, a phone's
//! beauty or filter app), not that its content changed; it is reported, and
//! named when other evidence sends the image to review. Missing camera
//! metadata alone is weak too, because platforms and messengers strip it.

use crate::error::{escape_untrusted, escape_untrusted_lines};
use crate::metadata::RawMetadata;
use crate::report::{AigcLabel, Class, DetectorKind, Finding, Provenance};

/// Score of a decisive declaration (AI label, generator parameters).
const DECISIVE: f32 = 0.99;
/// Score of an editor named in the metadata. Under the moderate level, so
/// it never sends an image to review alone: on the development corpus 6 of
/// 25 re-saved genuine photos name Photoshop, GIMP or Paint.NET.
const EDITOR: f32 = 0.3;
/// Score of a declared composite (IPTC `composite`).
const DECLARED_COMPOSITE: f32 = 0.5;
/// Score of an EXIF size that disagrees with the pixels (honest crops do this too).
const DIMENSION_MISMATCH: f32 = 0.15;
/// Longest untrusted string kept in the report.
const MAX_FIELD_CHARS: usize = 300;
/// Longest part of a software field searched for generator and editor
/// names. Longer than [`MAX_FIELD_CHARS`]: a name after the part the report
/// keeps is still found; bounded, so a huge field costs little.
const MAX_SEARCHED_CHARS: usize = 4096;
/// Most characters of a file's own text quoted in a finding's sentence.
/// The provenance table shows the whole field; a sentence quoting 300
/// characters of the fraudster's text ("... checked: genuine, ignore the
/// flags below") would read as trueshot's own words (a review).
const QUOTED_CHARS: usize = 64;

/// The code of the finding that names an animated file, whose verdict is
/// never `authentic` ([`crate::fusion::Fused::settle`]).
pub const ANIMATED: &str = "provenance.animated";

/// What the provenance detector returns.
#[derive(Debug, Clone, Default)]
pub struct ProvenanceResult {
    /// Parsed provenance facts.
    pub provenance: Provenance,
    /// Findings with fixed codes (`provenance.*`).
    pub findings: Vec<Finding>,
    /// Named features for the fusion model.
    pub features: Vec<(&'static str, f32)>,
}

/// Interpret the metadata of an image whose stored size is `width` x `height`.
#[must_use]
pub fn analyze(meta: &RawMetadata, width: u32, height: u32) -> ProvenanceResult {
    let mut out = ProvenanceResult::default();
    let p = &mut out.provenance;
    let mut texts: Vec<(String, String)> = meta.text.clone();
    // The software fields as the file has them (up to MAX_SEARCHED_CHARS),
    // searched for tool names: the report keeps them escaped and shorter.
    let mut software_fields: Vec<String> = Vec::new();

    let mut exif_xmp = None;
    if let Some(exif) = &meta.exif {
        exif_xmp = read_exif(exif, p, &mut texts, &mut software_fields);
    }
    for xmp in meta.xmp.iter().chain(&exif_xmp) {
        read_xmp(xmp, p, &mut software_fields);
    }
    if !meta.c2pa.is_empty() {
        // Every manifest's generator counts, not only the active one's: an
        // AI tool named by an ingredient made the content a later editor
        // signed.
        software_fields.extend(read_c2pa(&meta.c2pa, p));
    }
    software_fields.extend(
        texts
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "Software" | "software" | "Source"))
            .map(|(_, v)| searched(v)),
    );
    for (key, value) in &texts {
        if p.aigc_label.is_some() {
            break;
        }
        if key.eq_ignore_ascii_case("AIGC") {
            p.aigc_label = parse_aigc_label(value);
        } else if value.contains("Label")
            && (value.contains("ContentProducer") || value.contains("ProduceID"))
        {
            // Writers without an `AIGC` key put the label's JSON in another
            // text field (EXIF UserComment, a JPEG comment). It counts there
            // only whole: a label and who produced the content.
            p.aigc_label = parse_aigc_label(value).filter(|l| {
                l.label.is_some() && (l.content_producer.is_some() || l.produce_id.is_some())
            });
        }
    }

    let findings = &mut out.findings;
    let kind = DetectorKind::Provenance;

    // 1. Declarations of AI generation.
    if let Some(label) = &p.aigc_label {
        let producer = quoted(label.content_producer.as_deref().unwrap_or_default());
        let declared = match label.label.as_deref() {
            Some("1") => Some((
                DECISIVE,
                "declares the content AI-generated",
                "声明内容为人工智能生成",
            )),
            Some("2") => Some((
                0.9,
                "declares the content possibly AI-generated",
                "声明内容可能为人工智能生成",
            )),
            Some("3") => Some((
                0.8,
                "declares the content suspected AI-generated",
                "声明内容疑似人工智能生成",
            )),
            _ => None,
        };
        let finding = match declared {
            Some((score, en, zh)) => Finding::new(
                kind,
                "provenance.aigc_label",
                score,
                Class::AiGenerated,
                format!("The implicit AIGC label of GB 45438-2025 {en} (producer: {producer})."),
                format!("GB 45438-2025 隐式标识{zh}（生成者：{producer}）。"),
            ),
            // A value the standard does not define declares nothing: a
            // note for the reviewer, quoting what the file says.
            None => {
                let (value, value_zh) = label.label.as_deref().map_or_else(
                    || ("no Label value".to_string(), "没有Label值".to_string()),
                    |v| {
                        (
                            format!("the Label value {}", quoted(v)),
                            format!("Label值{}", quoted(v)),
                        )
                    },
                );
                Finding::new(
                    kind,
                    "provenance.aigc_label",
                    0.0,
                    Class::None,
                    format!(
                        "An implicit AIGC label (GB 45438-2025) is present with {value}, which is not one the standard defines (1, 2 or 3), so it declares nothing (producer: {producer})."
                    ),
                    format!(
                        "存在 GB 45438-2025 隐式标识，但其{value_zh}不是标准定义的取值（1、2 或 3），因此不构成声明（生成者：{producer}）。"
                    ),
                )
            }
        };
        findings.push(finding);
    }
    if let Some(dst) = p.digital_source_type.clone() {
        if let Some((class, score)) = classify_source_type(&dst) {
            // IPTC: trained algorithmic media comes from a model trained on
            // sampled content; algorithmic media from an algorithm alone.
            let (en, zh) = if dst == "algorithmicMedia" {
                (
                    "created by an algorithm, not captured",
                    "由算法生成，而非拍摄",
                )
            } else if class == Class::AiGenerated {
                ("generated by an AI model", "由人工智能模型生成")
            } else {
                (
                    "a composite made with AI or editing tools",
                    "经人工智能或编辑工具合成",
                )
            };
            findings.push(Finding::new(
                kind,
                "provenance.digital_source_type",
                score,
                class,
                format!(
                    "The metadata declares the digital source type {}: {en}.",
                    quoted(&dst)
                ),
                format!("元数据声明数字来源类型为{}：{zh}。", quoted(&dst)),
            ));
        }
    }
    if p.c2pa_present {
        let generator = p
            .c2pa_claim_generator
            .as_deref()
            .map_or_else(|| "unknown".into(), quoted);
        findings.push(Finding::new(
            kind,
            "provenance.c2pa_manifest",
            0.0,
            Class::None,
            format!("A C2PA content-credentials manifest is present (claim generator: {generator}); its signature was not validated."),
            format!("存在C2PA内容凭证清单（声明生成器：{generator}）；未验证其签名。"),
        ));
    }
    let generator_text = generator_text_chunk(&texts);
    if let Some((tool, params)) = &generator_text {
        p.generator.get_or_insert_with(|| tool.clone());
        p.generator_parameters = Some(escape_untrusted_lines(params, MAX_FIELD_CHARS));
        findings.push(Finding::new(
            kind,
            "provenance.generator_parameters",
            DECISIVE,
            Class::AiGenerated,
            format!("The file carries image-generation parameters written by {tool}."),
            format!("文件包含由 {tool} 写入的图像生成参数。"),
        ));
    }
    // 2. Software names.
    let named_generator = software_fields
        .iter()
        .find_map(|s| name_in(s, AI_GENERATORS));
    if let Some(name) = named_generator {
        p.generator.get_or_insert_with(|| name.to_string());
        if generator_text.is_none() {
            findings.push(Finding::new(
                kind,
                "provenance.generator_software",
                DECISIVE,
                Class::AiGenerated,
                format!("The metadata names the AI generator {name} as the software that made the image."),
                format!("元数据显示制作该图像的软件为AI生成工具 {name}。"),
            ));
        }
    }
    if let Some(name) = software_fields.iter().find_map(|s| name_in(s, EDITORS)) {
        findings.push(Finding::new(
            kind,
            "provenance.editor_software",
            EDITOR,
            Class::Edited,
            format!("The metadata names the image editor {name}: the photo was processed after capture."),
            format!("元数据显示图像编辑软件 {name}：照片在拍摄后经过处理。"),
        ));
    }
    // 3. Camera facts.
    match (&p.camera_make, &p.camera_model) {
        (Some(make), model) => {
            let camera = quoted(&format!("{make} {}", model.as_deref().unwrap_or("")));
            findings.push(Finding::new(
                kind,
                "provenance.camera",
                0.0,
                Class::None,
                format!("EXIF names the camera {camera}."),
                format!("EXIF 记录的相机为 {camera}。"),
            ));
        }
        (None, _) => findings.push(Finding::new(
            kind,
            "provenance.no_camera_metadata",
            0.05,
            Class::None,
            "No camera make or model in the metadata; platforms often strip it, so this alone means little.".into(),
            "元数据中没有相机品牌或型号；平台常会删除这些信息，因此仅凭这一点说明不了什么。".into(),
        )),
    }
    if let Some((ew, eh)) = p.exif_dimensions {
        let matches = (ew, eh) == (width, height) || (eh, ew) == (width, height);
        if !matches && ew > 0 && eh > 0 {
            findings.push(Finding::new(
                kind,
                "provenance.exif_dimension_mismatch",
                DIMENSION_MISMATCH,
                Class::Edited,
                format!("EXIF records {ew}x{eh} pixels but the image is {width}x{height}: it was cropped or resized after capture."),
                format!("EXIF 记录为 {ew}x{eh} 像素，而图像实际为 {width}x{height}：拍摄后曾被裁剪或缩放。"),
            ));
        }
    }
    if let Some(dt) = &p.datetime_original {
        findings.push(Finding::new(
            kind,
            "provenance.capture_time",
            0.0,
            Class::None,
            format!("EXIF capture time: {dt}."),
            format!("EXIF 拍摄时间：{dt}。"),
        ));
    }

    // 4. An animation: the pixels analysed are one image of it.
    if let Some(frames) = meta.animation_frames {
        findings.push(Finding::new(
            kind,
            ANIMATED,
            0.0,
            Class::None,
            format!("The file is an animation ({}). Only one image of it was analysed (the first frame, or a PNG's default image, which a player may never show), while a viewer may be shown other frames, so it cannot be cleared.", match frames {
                0 => "its frames were not counted".to_string(),
                1 => "1 frame".to_string(),
                n => format!("{n} frames"),
            }),
            format!("该文件是动画（{}）。仅分析了其中一幅图像（第一帧，或 PNG 的默认图像，播放器可能从不显示它），而查看者可能看到其他帧，因此无法认定为真实。", match frames {
                0 => "帧数未能统计".to_string(),
                n => format!("{n} 帧"),
            }),
        ));
    }

    let declared_ai = findings
        .iter()
        .filter(|f| f.class == Class::AiGenerated)
        .map(|f| f.score)
        .fold(0.0, f32::max);
    let has = |code: &str| f32::from(u8::from(findings.iter().any(|f| f.code == code)));
    out.features = vec![
        ("provenance.ai_declared", declared_ai),
        ("provenance.editor", has("provenance.editor_software")),
        ("provenance.camera", has("provenance.camera")),
        (
            "provenance.dimension_mismatch",
            has("provenance.exif_dimension_mismatch"),
        ),
        ("provenance.c2pa", f32::from(u8::from(p.c2pa_present))),
    ];
    out
}

/// Map an IPTC DigitalSourceType (URL or bare term) to a class and score.
fn classify_source_type(term: &str) -> Option<(Class, f32)> {
    match term {
        "trainedAlgorithmicMedia" | "algorithmicMedia" => Some((Class::AiGenerated, DECISIVE)),
        "compositeWithTrainedAlgorithmicMedia" | "compositeSynthetic" => {
            Some((Class::Edited, DECISIVE))
        }
        "composite" => Some((Class::Edited, DECLARED_COMPOSITE)),
        "algorithmicallyEnhanced" => Some((Class::Edited, EDITOR)),
        _ => None,
    }
}

/// The orientation tag of raw EXIF (TIFF) data, for a page that shows a
/// photo it does not analyse (a listing).
pub(crate) fn orientation(data: &[u8]) -> Option<u16> {
    orientation_of(&parse_exif(data)?)
}

/// Raw EXIF (TIFF) data parsed, keeping the fields that parse when others
/// do not: real cameras and phones write a truncated field or a bad
/// next-IFD pointer now and then (kamadak-exif issues 31 and 34), and the
/// strict reader then drops the camera's make and model with them.
fn parse_exif(data: &[u8]) -> Option<exif::Exif> {
    if exif_parse_bytes(data) > MAX_EXIF_PARSE_BYTES {
        return None;
    }
    exif::Reader::new()
        .continue_on_error(true)
        .read_raw(data.to_vec())
        .or_else(|e| e.distill_partial_result(|_| ()))
        .ok()
}

/// Most memory an EXIF block may take to parse. Real blocks need a few
/// hundred kilobytes at most; a hostile one makes many entries point at one
/// block of NUL bytes, and the parser splits each ASCII value at its NULs
/// into a vector per piece (about 120 bytes of memory per file byte in a
/// review's test, 491 MB for a 4 MB PNG), which no panic guard can catch.
const MAX_EXIF_PARSE_BYTES: u64 = 16 << 20;

/// Byte order, the 32-bit and the 16-bit reader of a TIFF block.
type TiffReader = (fn([u8; 4]) -> u32, fn([u8; 2]) -> u16);

/// An upper bound of the memory kamadak-exif allocates for the values of
/// `tiff` (a TIFF header and its IFDs): every entry of the IFD chain (the
/// parser reads at most 8 IFDs; up to 9 are counted) and of the Exif, GPS
/// and interoperability IFDs it points to, at its element size, ASCII at
/// the 24-byte vector each NUL may start plus the byte itself. Values out
/// of the block count as nothing (the parser skips them). `u64::MAX` when
/// the header is not TIFF.
fn exif_parse_bytes(tiff: &[u8]) -> u64 {
    let reader: TiffReader = match tiff.get(..4) {
        Some(b"II*\0") => (u32::from_le_bytes, u16::from_le_bytes),
        Some(b"MM\0*") => (u32::from_be_bytes, u16::from_be_bytes),
        _ => return u64::MAX,
    };
    let u32_at = |at: usize| -> Option<u32> {
        Some(reader.0(tiff.get(at..at.checked_add(4)?)?.try_into().ok()?))
    };
    let u16_at = |at: usize| -> Option<u16> {
        Some(reader.1(tiff.get(at..at.checked_add(2)?)?.try_into().ok()?))
    };
    // (IFD offset, follows the next-IFD link), visited once each.
    let mut queue: Vec<(usize, bool)> = u32_at(4).map(|o| (o as usize, true)).into_iter().collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut total = 0u64;
    let mut chain = 0;
    while let Some((ifd, follow)) = queue.pop() {
        // Out of the block (and so no offset arithmetic can overflow).
        if ifd >= tiff.len() || !seen.insert(ifd) || seen.len() > 64 {
            continue;
        }
        let Some(count) = u16_at(ifd) else { continue };
        for k in 0..usize::from(count) {
            let entry = ifd + 2 + 12 * k;
            let (Some(tag), Some(kind), Some(n)) =
                (u16_at(entry), u16_at(entry + 2), u32_at(entry + 4))
            else {
                break;
            };
            // Bytes per element in the file, and in memory once parsed.
            let (size, memory): (u64, u64) = match kind {
                1 | 6 | 7 => (1, 1),
                2 => (1, 25),
                3 | 8 => (2, 2),
                4 | 9 | 11 | 13 => (4, 4),
                5 | 10 | 12 => (8, 8),
                _ => (0, 0),
            };
            let stored = u64::from(n) * size;
            let inline = stored <= 4;
            let in_block = inline
                || u32_at(entry + 8).is_some_and(|at| u64::from(at) + stored <= tiff.len() as u64);
            if in_block {
                total = total.saturating_add(u64::from(n) * memory);
            }
            // Exif, GPS and interoperability IFD pointers.
            if matches!(tag, 0x8769 | 0x8825 | 0xA005) {
                if let Some(at) = u32_at(entry + 8) {
                    queue.push((at as usize, false));
                }
            }
        }
        if follow && chain < 8 {
            chain += 1;
            let next = u32_at(ifd + 2 + 12 * usize::from(count)).unwrap_or(0);
            if next != 0 {
                queue.push((next as usize, true));
            }
        }
    }
    total
}

/// The EXIF orientation, when it is one of the eight TIFF 6.0 defines:
/// other values (0 from some cameras, junk) mean nothing and are dropped.
fn orientation_of(exif: &exif::Exif) -> Option<u16> {
    let value = exif
        .get_field(exif::Tag::Orientation, exif::In::PRIMARY)?
        .value
        .get_uint(0)?;
    u16::try_from(value)
        .ok()
        .filter(|value| (1..=8).contains(value))
}

/// Read the camera facts and text fields of an EXIF block into `p` and
/// `texts`; the XMP packet its first IFD holds (tag 700, as a TIFF file
/// keeps its XMP), if any.
fn read_exif(
    data: &[u8],
    p: &mut Provenance,
    texts: &mut Vec<(String, String)>,
    software_fields: &mut Vec<String>,
) -> Option<String> {
    use exif::{Context, In, Tag, Value};
    let exif = parse_exif(data)?;
    let raw_text = |tag: Tag| -> Option<String> {
        let field = exif.get_field(tag, In::PRIMARY)?;
        match &field.value {
            Value::Ascii(parts) => {
                let joined: Vec<u8> = parts.iter().flatten().copied().collect();
                let s = String::from_utf8_lossy(&joined)
                    .trim()
                    .trim_end_matches('\0')
                    .to_string();
                (!s.is_empty()).then_some(s)
            }
            _ => None,
        }
    };
    let text = |tag: Tag| raw_text(tag).map(|s| escape_untrusted(&s, MAX_FIELD_CHARS));
    let number = |tag: Tag| -> Option<u32> { exif.get_field(tag, In::PRIMARY)?.value.get_uint(0) };
    p.camera_make = text(Tag::Make);
    p.camera_model = text(Tag::Model);
    p.software = raw_text(Tag::Software).map(|s| software_field(&s, software_fields));
    p.datetime_original = text(Tag::DateTimeOriginal);
    p.orientation = orientation_of(&exif);
    if let (Some(w), Some(h)) = (number(Tag::PixelXDimension), number(Tag::PixelYDimension)) {
        p.exif_dimensions = Some((w, h));
    }
    // Generators hide their parameters in UserComment or ImageDescription.
    if let Some(field) = exif.get_field(Tag::UserComment, In::PRIMARY) {
        if let Value::Undefined(bytes, _) = &field.value {
            texts.push(("UserComment".into(), decode_user_comment(bytes)));
        }
    }
    for tag in [Tag::ImageDescription, Tag::Artist] {
        if let Some(v) = text(tag) {
            texts.push((tag.to_string(), v));
        }
    }
    // TIFF/EP and the XMP specification (part 3, 1.2.2): XMP in tag 700.
    match &exif.get_field(Tag(Context::Tiff, 700), In::PRIMARY)?.value {
        Value::Byte(bytes) | Value::Undefined(bytes, _) => Some(crate::metadata::text_of(bytes)),
        Value::Ascii(parts) => Some(crate::metadata::text_of(&parts.concat())),
        _ => None,
    }
}

/// EXIF UserComment: an 8-byte character code, then the text (CIPA DC-008 4.6.5).
fn decode_user_comment(bytes: &[u8]) -> String {
    let (code, body) = bytes.split_at(bytes.len().min(8));
    if code.starts_with(b"UNICODE") {
        // UTF-16, byte order not declared; writers disagree. Pick the one with
        // more ASCII-range code units.
        let units = |be: bool| -> Vec<u16> {
            body.chunks_exact(2)
                .map(|c| {
                    if be {
                        u16::from_be_bytes([c[0], c[1]])
                    } else {
                        u16::from_le_bytes([c[0], c[1]])
                    }
                })
                .collect()
        };
        let (be, le) = (units(true), units(false));
        let ascii = |u: &[u16]| u.iter().filter(|&&c| c < 0x80).count();
        let chosen = if ascii(&be) >= ascii(&le) { be } else { le };
        String::from_utf16_lossy(&chosen)
            .trim_end_matches('\0')
            .to_string()
    } else {
        String::from_utf8_lossy(body)
            .trim_end_matches('\0')
            .to_string()
    }
}

fn read_xmp(packet: &str, p: &mut Provenance, software_fields: &mut Vec<String>) {
    // What the packet says of this image, apart from what it records of
    // the files placed in it (an AI layer inside a photo makes a
    // composite, not a generated image; its history is not this file's).
    let (own, placed) = split_ingredients(packet);
    let xmp = own.as_str();
    // The first declaration left: a later one may still describe a part.
    if let Some(v) = xmp_values(xmp, "DigitalSourceType").into_iter().next() {
        keep_stronger_source_type(p, last_segment(&v));
    }
    let placed_ai = xmp_values(&placed, "DigitalSourceType").iter().any(|v| {
        classify_source_type(last_segment(v)).is_some_and(|(c, _)| c == Class::AiGenerated)
    });
    if placed_ai {
        keep_stronger_source_type(p, "compositeWithTrainedAlgorithmicMedia");
    }
    if let Some(v) = xmp_values(xmp, "CreatorTool").into_iter().next() {
        p.creator_tool = Some(software_field(&v, software_fields));
    }
    for agent in xmp_values(xmp, "softwareAgent")
        .into_iter()
        .chain(xmp_values(xmp, "History"))
        .take(32)
    {
        let agent = software_field(&agent, software_fields);
        if !p.edit_history.contains(&agent) {
            p.edit_history.push(agent);
        }
    }
    if p.aigc_label.is_none() && xmp.contains("tc260.org.cn") {
        if let Some(v) = xmp_values(xmp, "AIGC").into_iter().next() {
            p.aigc_label = parse_aigc_label(&v);
        }
    }
}

/// Elements of an XMP packet that describe other files: the packets of
/// placed files Photoshop copies into `xmpMM:Pantry`, the
/// `xmpMM:Ingredients` list and the `xmpMM:DerivedFrom` reference (XMP
/// Specification Part 2, xmpMM namespace).
const INGREDIENT_ELEMENTS: [&str; 3] = ["xmpMM:Pantry", "xmpMM:Ingredients", "xmpMM:DerivedFrom"];

/// The packet without its [`INGREDIENT_ELEMENTS`] (nested ones included),
/// and what was cut out.
fn split_ingredients(xmp: &str) -> (String, String) {
    let mut own = xmp.to_string();
    let mut placed = String::new();
    for name in INGREDIENT_ELEMENTS {
        let open = format!("<{name}");
        let close = format!("</{name}>");
        let mut from = 0;
        // Bounded: each pass removes an element or stops.
        while let Some(at) = own
            .get(from..)
            .and_then(|rest| rest.find(&open))
            .map(|i| from + i)
        {
            let after = at + open.len();
            // The name must end here (not `xmpMM:PantryX`).
            if !own[after..].starts_with(|c: char| c == '>' || c == '/' || c.is_whitespace()) {
                from = after;
                continue;
            }
            let Some(tag_end) = own[after..].find('>').map(|i| after + i + 1) else {
                break;
            };
            let end = if own[..tag_end].ends_with("/>") {
                tag_end
            } else {
                element_end(&own, tag_end, &open, &close)
            };
            placed.push_str(&own[at..end]);
            own.replace_range(at..end, "");
            from = at;
        }
    }
    (own, placed)
}

/// Where the element whose opening tag ends at `from` closes: after the
/// `close` that matches it, counting nested `open`s; the end of `text` when
/// it is not closed.
fn element_end(text: &str, from: usize, open: &str, close: &str) -> usize {
    let mut depth = 1usize;
    let mut at = from;
    while depth > 0 {
        let next_open = text[at..].find(open).map(|i| at + i);
        let Some(next_close) = text[at..].find(close).map(|i| at + i) else {
            return text.len();
        };
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                at = o + open.len();
            }
            _ => {
                depth -= 1;
                at = next_close + close.len();
            }
        }
    }
    at
}

/// Keep `term` as the digital source type if it declares more than the
/// one kept (AI generation over a composite over anything else): a file
/// may carry several XMP packets and C2PA manifests, and a later, weaker
/// declaration must not hide a stronger one.
fn keep_stronger_source_type(p: &mut Provenance, term: &str) {
    let rank = |t: &str| {
        classify_source_type(t).map_or(0, |(c, _)| if c == Class::AiGenerated { 2 } else { 1 })
    };
    let current = p.digital_source_type.as_deref().map_or(-1, rank);
    if rank(term) > current {
        p.digital_source_type = Some(escape_untrusted(term, MAX_FIELD_CHARS));
    }
}

fn last_segment(uri: &str) -> &str {
    uri.trim()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(uri)
}

/// Most values [`xmp_values`] returns: its callers read the first or 32.
const MAX_XMP_VALUES: usize = 64;

/// Values of every property with local name `name` in an XMP packet, in
/// attribute form (`ns:Name="v"`), element form (`<ns:Name>v</ns:Name>`,
/// tags inside stripped) or resource form (`<ns:Name rdf:resource="v"/>`).
/// Lenient on purpose: real packets are often not well-formed XML.
///
/// Linear in the packet: each search resumes where the last one ended (a
/// value's end, a closing tag found once for all the openings before it),
/// and an element with no closing tag has no value. A packet of unclosed
/// openings (`x:History >` repeated) once made every opening copy the rest
/// of the packet.
#[must_use]
pub fn xmp_values(xmp: &str, name: &str) -> Vec<String> {
    let needle = format!(":{name}");
    let close = format!("{needle}>");
    let mut next_close = NextMatch::new(&close);
    let mut next_gt = NextMatch::new(">");
    const RESOURCE: &str = "resource=";
    let mut next_resource = NextMatch::new(RESOURCE);
    // The closing quote of a value, found by the quote that opened it.
    let mut quotes = [NextMatch::new("\""), NextMatch::new("'")];
    let mut closing_quote = |opening: Option<char>, from: usize| {
        let quote = match opening? {
            '"' => &mut quotes[0],
            '\'' => &mut quotes[1],
            _ => return None,
        };
        quote.find(xmp, from)
    };
    let mut out = Vec::new();
    let mut from = 0;
    while out.len() < MAX_XMP_VALUES {
        let Some(found) = xmp[from..].find(&needle) else {
            break;
        };
        let at = from + found;
        from = at + needle.len();
        let Some(next) = xmp[from..].chars().next() else {
            break;
        };
        // The character before must belong to a prefix, and not close a tag.
        if at == 0
            || !xmp[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            continue;
        }
        // The value's text, and where the search goes on after it.
        let value: Option<(&str, usize)> = if next == '=' {
            let start = xmp.len() - xmp[from + 1..].trim_start().len();
            closing_quote(xmp[start..].chars().next(), start + 1)
                .map(|end| (&xmp[start + 1..end], end + 1))
        } else if next == '>' || next.is_whitespace() || next == '/' {
            let tag_end = next_gt.find(xmp, from).unwrap_or(xmp.len());
            if tag_end == xmp.len() {
                None
            } else if let Some(r) = next_resource.find(xmp, from).filter(|&r| r < tag_end) {
                let start = r + RESOURCE.len();
                closing_quote(xmp[start..].chars().next(), start + 1)
                    .filter(|&end| end < tag_end)
                    .map(|end| (&xmp[start + 1..end], tag_end))
            } else if xmp[..tag_end].ends_with('/') {
                None
            } else {
                next_close.find(xmp, tag_end + 1).map(|end| {
                    let body = &xmp[tag_end + 1..end];
                    let inner = body.rsplit_once("</").map_or(body, |(a, _)| a);
                    (inner, end + close.len())
                })
            }
        } else {
            None
        };
        let Some((text, resume)) = value else {
            continue;
        };
        from = resume.max(from);
        let v = html_unescape(strip_tags(text).trim());
        if !v.is_empty() {
            out.push(v);
        }
    }
    out
}

/// The next occurrence of a pattern at or after a position, for searches
/// whose start only moves forward: found once, it is reused until passed,
/// and once absent it is not searched for again.
struct NextMatch<'p> {
    pattern: &'p str,
    /// `None`: not searched yet; `Some(None)`: none after the last search.
    cached: Option<Option<usize>>,
    /// The last start asked for: starts may only move forward.
    last_from: usize,
}

impl<'p> NextMatch<'p> {
    fn new(pattern: &'p str) -> Self {
        NextMatch {
            pattern,
            cached: None,
            last_from: 0,
        }
    }

    fn find(&mut self, text: &str, from: usize) -> Option<usize> {
        debug_assert!(from >= self.last_from, "NextMatch searched backwards");
        self.last_from = from;
        match self.cached {
            Some(Some(at)) if at >= from => return Some(at),
            Some(None) => return None,
            _ => {}
        }
        let at = text.get(from..)?.find(self.pattern).map(|i| from + i);
        self.cached = Some(at);
        at
    }
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Undo XML/HTML character references (`&quot;`, `&#34;`, `&#x22;` …), applied
/// twice because the AIGC label is often escaped twice.
#[must_use]
pub fn html_unescape(s: &str) -> String {
    let once = |s: &str| -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            rest = &rest[amp..];
            // Search bytes, not a str slice: byte 12 may fall inside a
            // multi-byte character (found by the aigc_label fuzz target).
            // ';' is ASCII, so its position is a character boundary.
            let Some(semi) = rest.as_bytes()[..rest.len().min(12)]
                .iter()
                .position(|&b| b == b';')
            else {
                out.push('&');
                rest = &rest[1..];
                continue;
            };
            let entity = &rest[1..semi];
            let ch = match entity {
                "quot" => Some('"'),
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            match ch {
                Some(c) => {
                    out.push(c);
                    rest = &rest[semi + 1..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
        out.push_str(rest);
        out
    };
    once(&once(s))
}

/// Parse the GB 45438-2025 label JSON leniently: the object may be nested
/// under an `AIGC` key, escaped, or not quite valid JSON.
#[must_use]
pub fn parse_aigc_label(raw: &str) -> Option<AigcLabel> {
    let text = html_unescape(raw);
    parse_label_json(&text).or_else(|| {
        // The JSON written with its quotes escaped (`{\"Label\":\"1\"}`, as
        // printed in a string), or a label stringified inside another JSON.
        text.contains("\\\"")
            .then(|| parse_label_json(&text.replace("\\\"", "\"")))
            .flatten()
    })
}

fn parse_label_json(text: &str) -> Option<AigcLabel> {
    let field = |key: &str| json_field(text, key).map(|v| escape_untrusted(&v, MAX_FIELD_CHARS));
    let label = AigcLabel {
        label: field("Label"),
        content_producer: field("ContentProducer"),
        produce_id: field("ProduceID"),
        content_propagator: field("ContentPropagator"),
        propagate_id: field("PropagateID"),
    };
    (label.label.is_some() || label.content_producer.is_some() || label.produce_id.is_some())
        .then_some(label)
}

/// The value of `"key": value` (string or bare token) anywhere in `text`.
fn json_field(text: &str, key: &str) -> Option<String> {
    let quoted = format!("\"{key}\"");
    let at = text.find(&quoted)? + quoted.len();
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    if let Some(body) = rest.strip_prefix('"') {
        let mut value = String::new();
        let mut escaped = false;
        for c in body.chars() {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => return Some(value),
                (_, c) => {
                    value.push(c);
                    escaped = false;
                }
            }
        }
        None
    } else {
        let end = rest.find([',', '}', ']', '\n']).unwrap_or(rest.len());
        let v = rest[..end].trim();
        (!v.is_empty()).then(|| v.to_string())
    }
}

/// The first [`MAX_SEARCHED_CHARS`] characters of a file's software field,
/// unescaped: searched for tool names, never shown.
fn searched(field: &str) -> String {
    field.chars().take(MAX_SEARCHED_CHARS).collect()
}

/// A software field read from the file: kept in `fields` to be searched
/// ([`searched`]), and returned escaped and cut for the report.
fn software_field(raw: &str, fields: &mut Vec<String>) -> String {
    fields.push(searched(raw));
    escape_untrusted(raw, MAX_FIELD_CHARS)
}

/// Reads the manifest store into `p` and returns every manifest's claim
/// generator in store order (ingredients' first, the active one last).
fn read_c2pa(jumbf: &[u8], p: &mut Provenance) -> Vec<String> {
    // A manifest store is the JUMBF box labelled "c2pa" (C2PA 2.1, 11.1);
    // other JUMBF content (JPEG XT, JPEG 360) is not one.
    p.c2pa_present = find(jumbf, b"c2pa").is_some();
    let generators = claim_generators(jumbf);
    // The active manifest is the last in the store (C2PA 2.1, 11.1.4); the
    // ones before it belong to ingredients (the camera or tool an edited
    // image came from).
    p.c2pa_claim_generator = generators
        .last()
        .map(|g| escape_untrusted(g, MAX_FIELD_CHARS));
    // digitalSourceType may sit in the actions of any manifest. The active
    // manifest's own declaration speaks for the image (an editor that
    // declares a composite of an AI ingredient made a composite); the
    // ingredients' count when it declares none (an AI image an editor
    // signed later is still generated). Each manifest's description box
    // has the type "c2ma" (C2PA 2.1, 11.1.2), so the last one starts the
    // active manifest; without it every declaration counts as the active
    // one's. The strongest of the chosen ones wins.
    let active_from = rfind(jumbf, b"c2ma").unwrap_or(0);
    let (mut active, mut ingredients) = (Vec::new(), Vec::new());
    let mut from = 0;
    while let Some(at) = find(&jumbf[from..], b"digitalSourceType") {
        let start = from + at;
        from = start + 17;
        if let Some(v) = cbor_text_after(&jumbf[start..], b"digitalSourceType") {
            let term = last_segment(&v).to_string();
            if start >= active_from {
                active.push(term);
            } else {
                ingredients.push(term);
            }
        }
    }
    let declared = if active.is_empty() {
        ingredients
    } else {
        active
    };
    for term in &declared {
        keep_stronger_source_type(p, term);
    }
    generators
}

/// Each claim's generator: claim_generator (C2PA 1.x) or the first name in
/// claim_generator_info (2.x), unescaped (see [`searched`]); at most
/// `MAX_GENERATORS` of them, the first ones and the last.
fn claim_generators(jumbf: &[u8]) -> Vec<String> {
    const KEY: &[u8] = b"claim_generator";
    const INFO: &[u8] = b"_info";
    /// Bytes after claim_generator_info searched for its first name.
    const INFO_WINDOW: usize = 1024;
    const MAX_GENERATORS: usize = 64;
    let mut generators = Vec::new();
    let mut from = 0;
    while let Some(at) = find(&jumbf[from..], KEY) {
        let start = from + at;
        from = start + KEY.len();
        let found = if jumbf[from..].starts_with(INFO) {
            let window = &jumbf[from..jumbf.len().min(from + INFO_WINDOW)];
            cbor_text_after(window, b"name")
        } else {
            cbor_text_after(&jumbf[start..], KEY)
        };
        if let Some(name) = found {
            // Past the cap, the last slot follows the store to its end:
            // the first claims and the active one are kept.
            if generators.len() == MAX_GENERATORS {
                generators.pop();
            }
            generators.push(searched(&name));
        }
    }
    generators
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// The CBOR text string (major type 3, RFC 8949) that follows the key `key`.
fn cbor_text_after(data: &[u8], key: &[u8]) -> Option<String> {
    let at = find(data, key)? + key.len();
    let head = *data.get(at)?;
    let (len, skip) = match head {
        0x60..=0x77 => (usize::from(head - 0x60), 1),
        0x78 => (usize::from(*data.get(at + 1)?), 2),
        0x79 => (
            usize::from(u16::from_be_bytes([*data.get(at + 1)?, *data.get(at + 2)?])),
            3,
        ),
        _ => return None,
    };
    let bytes = data.get(at + skip..at + skip + len)?;
    Some(String::from_utf8_lossy(bytes).into_owned())
}

/// Text chunks that only image generators write: (tool, parameters).
fn generator_text_chunk(texts: &[(String, String)]) -> Option<(String, String)> {
    let get = |key: &str| {
        texts
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let looks_like_a1111 =
        |v: &str| v.contains("Steps:") && (v.contains("Sampler:") || v.contains("CFG scale:"));
    let json_with = |v: &str, key: &str| v.trim_start().starts_with('{') && v.contains(key);
    for key in [
        "parameters",
        "UserComment",
        "ImageDescription",
        "comment",
        "Comment",
        "Description",
    ] {
        if let Some(v) = get(key).filter(|v| looks_like_a1111(v)) {
            return Some(("Stable Diffusion WebUI (AUTOMATIC1111)".into(), v.into()));
        }
    }
    // SwarmUI writes its JSON under "parameters" (PNG) or UserComment
    // (JPEG), with the root key sui_image_params.
    for key in ["parameters", "UserComment", "sui_image_params"] {
        if let Some(v) = get(key).filter(|v| {
            json_with(v, "sui_image_params") || (key == "sui_image_params" && json_with(v, "\""))
        }) {
            return Some(("SwarmUI".into(), v.into()));
        }
    }
    if let Some(v) = get("parameters").filter(|v| json_with(v, "Fooocus")) {
        return Some(("Fooocus".into(), v.into()));
    }
    // ComfyUI's API graph names each node's class; its workflow lists nodes.
    if let Some(v) = get("prompt").filter(|v| json_with(v, "\"class_type\"")) {
        return Some(("ComfyUI".into(), v.into()));
    }
    if let Some(v) = get("workflow").filter(|v| json_with(v, "\"nodes\"")) {
        return Some(("ComfyUI".into(), v.into()));
    }
    for key in ["invokeai_metadata", "invokeai_graph", "sd-metadata"] {
        if let Some(v) = get(key).filter(|v| json_with(v, "\"")) {
            return Some(("InvokeAI".into(), v.into()));
        }
    }
    // InvokeAI's old "Dream" command line: `"prompt" -s 50 -S 42 ...`.
    if let Some(v) = get("Dream").filter(|v| v.contains(" -S") && v.contains(" -s")) {
        return Some(("InvokeAI".into(), v.into()));
    }
    if get("Software").is_some_and(|s| s.contains("NovelAI")) {
        return Some((
            "NovelAI".into(),
            get("Comment").or(get("Description")).unwrap_or("").into(),
        ));
    }
    // Midjourney's Description ends with "Job ID: " and the job's UUID.
    if let Some(v) = get("Description").filter(|v| {
        v.split("Job ID:")
            .skip(1)
            .any(|after| is_uuid(after.trim_start().get(..36).unwrap_or("")))
    }) {
        return Some(("Midjourney".into(), v.into()));
    }
    None
}

/// A UUID in its 8-4-4-4-12 hexadecimal form.
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// AI generators, as (lower-case needle, display name), matched by
/// [`name_in`]. Names that are also ordinary words or other products'
/// names ("imagen" is Spanish for image; Gemini Photos is a photo cleaner)
/// are matched only with their maker's name or as a model identifier.
const AI_GENERATORS: &[(&str, &str)] = &[
    ("dall-e", "DALL-E"),
    ("dall·e", "DALL-E"),
    ("openai", "OpenAI"),
    ("chatgpt", "ChatGPT"),
    ("gpt-4o", "GPT-4o"),
    ("firefly", "Adobe Firefly"),
    ("midjourney", "Midjourney"),
    ("stable diffusion", "Stable Diffusion"),
    ("stablediffusion", "Stable Diffusion"),
    ("stable-diffusion", "Stable Diffusion"),
    ("stability ai", "Stability AI"),
    ("sdxl", "SDXL"),
    ("flux", "FLUX"),
    ("black forest labs", "FLUX"),
    ("ideogram", "Ideogram"),
    ("leonardo.ai", "Leonardo.Ai"),
    ("leonardo ai", "Leonardo.Ai"),
    ("即梦", "即梦/Jimeng"),
    ("jimeng", "即梦/Jimeng"),
    ("dreamina", "Dreamina"),
    ("豆包", "豆包/Doubao"),
    ("doubao", "豆包/Doubao"),
    ("通义", "通义/Tongyi"),
    ("tongyi", "通义/Tongyi"),
    ("wanx", "通义万相/Wanx"),
    ("万相", "通义万相/Wanx"),
    ("kling", "Kling"),
    ("klingai", "Kling"),
    ("可灵", "可灵/Kling"),
    ("meitu ai", "Meitu AI"),
    ("美图ai", "Meitu AI"),
    ("novelai", "NovelAI"),
    ("comfyui", "ComfyUI"),
    ("invokeai", "InvokeAI"),
    ("automatic1111", "AUTOMATIC1111"),
    ("google imagen", "Google Imagen"),
    ("imagen-2", "Google Imagen"),
    ("imagen-3", "Google Imagen"),
    ("imagen-4", "Google Imagen"),
    ("google gemini", "Google Gemini"),
    ("gemini-2", "Google Gemini"),
    ("gemini-3", "Google Gemini"),
    ("gemini 2.5 flash image", "Google Gemini"),
    ("nano banana", "Google Gemini"),
    ("made with google ai", "Google AI"),
    ("bing image creator", "Bing Image Creator"),
    (
        "image creator from microsoft designer",
        "Microsoft Designer",
    ),
    ("dreamstudio", "DreamStudio"),
    ("nightcafe", "NightCafe"),
    ("craiyon", "Craiyon"),
    ("hunyuan", "Hunyuan"),
    ("混元", "混元/Hunyuan"),
    ("kolors", "Kolors"),
    ("可图", "可图/Kolors"),
    ("pixart", "PixArt"),
    ("文心一格", "文心一格/ERNIE-ViLG"),
    ("seedream", "Seedream"),
    ("recraft", "Recraft"),
    ("playground ai", "Playground AI"),
    ("fooocus", "Fooocus"),
    ("swarmui", "SwarmUI"),
    ("draw things", "Draw Things"),
    ("gpt-image", "GPT Image"),
    ("qwen-image", "Qwen-Image"),
    ("hidream", "HiDream"),
    ("diffusers", "Diffusers"),
];

/// Image editors, as (lower-case needle, display name).
const EDITORS: &[(&str, &str)] = &[
    ("photoshop", "Adobe Photoshop"),
    ("gimp", "GIMP"),
    ("lightroom", "Adobe Lightroom"),
    ("snapseed", "Snapseed"),
    ("meitu", "Meitu"),
    ("meituxiuxiu", "Meitu"),
    ("美图", "美图/Meitu"),
    ("picsart", "PicsArt"),
    ("affinity photo", "Affinity Photo"),
    ("pixelmator", "Pixelmator"),
    ("canva", "Canva"),
    ("fotor", "Fotor"),
    ("paint.net", "Paint.NET"),
    ("facetune", "Facetune"),
    ("醒图", "醒图/Xingtu"),
    ("photoscape", "PhotoScape"),
    ("paintshop", "PaintShop Pro"),
    ("photopea", "Photopea"),
    ("luminar", "Luminar"),
    ("luminarai", "Luminar"),
    ("iopaint", "IOPaint"),
    ("lama cleaner", "Lama Cleaner"),
    ("photoroom", "PhotoRoom"),
    ("picmonkey", "PicMonkey"),
    ("befunky", "BeFunky"),
    ("remini", "Remini"),
];

/// Needles that are, or start, ordinary words or other products' names:
/// they must stand as words of their own ([`name_in`]). Every needle of
/// four letters or fewer is one too.
const WHOLE_WORD_NEEDLES: &[&str] = &[
    "canva", "kling", "kolors", "firefly", "recraft", "fotor", "luminar", "remini", "meitu",
    "seedream", "imagen-2", "imagen-3", "imagen-4", "gemini-2", "gemini-3",
];

/// The first entry of `names` that `text` mentions. Distinctive names match
/// anywhere, joined to other words too ("RuinedFooocus", "MidjourneyV6",
/// "使用Midjourney生成"). The ambiguous ones ([`WHOLE_WORD_NEEDLES`]) need
/// no Latin letter or digit before them and no Latin letter after (a
/// version may follow: "FLUX.1", "SDXL1.0"), so that "Canva" is not read in
/// "Skia Canvas" nor "Kling" in "Sparkling"; Chinese characters around them
/// count as word breaks.
fn name_in(text: &str, names: &[(&str, &'static str)]) -> Option<&'static str> {
    let lower = text.to_lowercase();
    names.iter().find_map(|&(needle, display)| {
        let whole_word =
            needle.is_ascii() && (needle.len() <= 4 || WHOLE_WORD_NEEDLES.contains(&needle));
        let hit = if whole_word {
            lower.match_indices(needle).any(|(at, _)| {
                let head = &lower[..at];
                let before = head.chars().next_back();
                let after = lower[at + needle.len()..].chars().next();
                // A line break or tab escaped when the field was read
                // (`escape_untrusted`) is a break too.
                let escaped_break = ["\\n", "\\r", "\\t"].iter().any(|e| head.ends_with(e));
                (escaped_break || !before.is_some_and(|c| c.is_ascii_alphanumeric()))
                    && !after.is_some_and(|c| c.is_ascii_alphabetic())
            })
        } else {
            lower.contains(needle)
        };
        hit.then_some(display)
    })
}

/// A file's own text as a finding's sentence quotes it: in quotation
/// marks, at most [`QUOTED_CHARS`] characters (`…` after a cut), so a
/// reader tells the file's words from trueshot's. The text is escaped
/// already (`escape_untrusted`) when the metadata is read.
fn quoted(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("“{}…”", &text[..cut]),
        None => format!("“{text}”"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xmp_attribute_element_and_resource_forms() {
        let xmp = r#"<rdf:Description xmp:CreatorTool="Adobe Photoshop 25.0">
            <Iptc4xmpExt:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia</Iptc4xmpExt:DigitalSourceType>
            <foo:Other rdf:resource="http://x/y"/></rdf:Description>"#;
        assert_eq!(xmp_values(xmp, "CreatorTool"), vec!["Adobe Photoshop 25.0"]);
        assert_eq!(
            xmp_values(xmp, "DigitalSourceType"),
            vec!["http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"]
        );
        assert_eq!(xmp_values(xmp, "Other"), vec!["http://x/y"]);
        assert!(xmp_values(xmp, "Missing").is_empty());
    }

    /// Openings without their own closing tag do not each copy the rest of
    /// the packet (that once took 700 MB for a 128 KiB packet).
    #[test]
    fn unclosed_elements_cost_no_more_than_the_packet() {
        let unclosed = "<x:History >".repeat(5_000);
        assert!(xmp_values(&unclosed, "History").is_empty());
        let closed_once = format!("{unclosed}edited</x:History>");
        let values = xmp_values(&closed_once, "History");
        assert_eq!(values.len(), 1);
        assert!(values[0].ends_with("edited"));
        let total: usize = values.iter().map(String::len).sum();
        assert!(total <= closed_once.len());
        // Unclosed quotes and tags alike.
        let attributes = "x:CreatorTool=\"a ".repeat(5_000);
        let values = xmp_values(&attributes, "CreatorTool");
        assert!(values.len() <= MAX_XMP_VALUES);
        assert!(values.iter().map(String::len).sum::<usize>() <= attributes.len());
        assert!(xmp_values(&"<x:CreatorTool ".repeat(5_000), "CreatorTool").is_empty());
        // A megabyte of openings that share one far '>' (or none) is read
        // in linear time: each opening once scanned its whole tag for a
        // resource attribute (10 s for this packet in a PNG).
        for packet in [
            "a:History ".repeat(100_000) + ">",
            "<a:CreatorTool x=\"1\"".repeat(50_000),
            "a:History rdf:resource=\"".repeat(50_000) + ">",
        ] {
            let start = std::time::Instant::now();
            let values = xmp_values(&packet, "History");
            let _ = xmp_values(&packet, "CreatorTool");
            assert!(values.len() <= MAX_XMP_VALUES);
            assert!(start.elapsed().as_secs_f32() < 2.0, "{:?}", start.elapsed());
        }
        // Text after a closing tag is not another value of it (a keyword
        // "firefly" after the history once named an AI generator).
        let xmp = "<x:History>edited</x:History><dc:subject>firefly</dc:subject>";
        assert_eq!(xmp_values(xmp, "History"), vec!["edited"]);
    }

    /// Little-endian TIFF data with IFD0 at 8 holding `entries` (tag, type,
    /// count, value), longer values after the IFD.
    fn tiff(entries: &[(u16, u16, u32, &[u8])]) -> Vec<u8> {
        let mut out = b"II*\0".to_vec();
        out.extend(8u32.to_le_bytes());
        out.extend((entries.len() as u16).to_le_bytes());
        let mut values = Vec::new();
        let values_at = 8 + 2 + 12 * entries.len() + 4;
        for &(tag, kind, count, data) in entries {
            out.extend(tag.to_le_bytes());
            out.extend(kind.to_le_bytes());
            out.extend(count.to_le_bytes());
            if data.len() <= 4 {
                let mut inline = data.to_vec();
                inline.resize(4, 0);
                out.extend(inline);
            } else {
                out.extend(((values_at + values.len()) as u32).to_le_bytes());
                values.extend_from_slice(data);
            }
        }
        out.extend(0u32.to_le_bytes());
        out.extend(values);
        out
    }

    /// A TIFF keeps its XMP in tag 700 of its first IFD (BYTE, or ASCII or
    /// UNDEFINED as some writers have it): read as an XMP packet is.
    #[test]
    fn xmp_in_a_tiff_tag_is_read() {
        let packet = br#"<rdf:Description Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>"#;
        for kind in [1, 2, 7] {
            let meta = RawMetadata::default().with_exif(&tiff(&[
                (0x010F, 2, 6, b"Canon\0"),
                (700, kind, packet.len() as u32, packet),
            ]));
            let out = analyze(&meta, 64, 64);
            assert_eq!(
                out.provenance.digital_source_type.as_deref(),
                Some("trainedAlgorithmicMedia"),
                "type {kind}"
            );
            assert_eq!(out.provenance.camera_make.as_deref(), Some("Canon"));
        }
    }

    /// EXIF whose entries all point at one block of NUL bytes (each ASCII
    /// value would be split into a vector per NUL) is not parsed; a real
    /// camera block is, and its estimate is small.
    #[test]
    fn exif_too_costly_to_parse_is_skipped() {
        let camera = tiff(&[
            (0x010F, 2, 6, b"Canon\0"),
            (0x0110, 2, 14, b"Canon EOS R6\0\0"),
            (0x0131, 2, 9, b"Firmware\0"),
        ]);
        assert!(exif_parse_bytes(&camera) < 1024);
        assert!(parse_exif(&camera).is_some());

        let nuls = 1usize << 20;
        let empty: &[u8] = b"";
        let mut hostile = tiff(&[(0x010F, 2, 0, empty); 5]);
        let block = hostile.len() as u32;
        for k in 0..5 {
            let entry = 8 + 2 + 12 * k;
            hostile[entry + 4..entry + 8].copy_from_slice(&(nuls as u32).to_le_bytes());
            hostile[entry + 8..entry + 12].copy_from_slice(&block.to_le_bytes());
        }
        hostile.resize(hostile.len() + nuls, 0);
        assert!(exif_parse_bytes(&hostile) > MAX_EXIF_PARSE_BYTES);
        assert!(parse_exif(&hostile).is_none());
        // The Exif sub-IFD counts too, and a loop of IFDs ends.
        let mut looped = tiff(&[(0x8769, 4, 1, &8u32.to_le_bytes())]);
        let next = 8 + 2 + 12;
        looped[next..next + 4].copy_from_slice(&8u32.to_le_bytes());
        assert!(exif_parse_bytes(&looped) < 64);
        assert_eq!(exif_parse_bytes(b"not tiff"), u64::MAX);
    }

    /// One broken field (a maker note whose offset points past the data)
    /// does not drop the camera's make and model.
    #[test]
    fn exif_fields_that_parse_are_kept_beside_a_broken_one() {
        let mut data = tiff(&[
            (0x010F, 2, 6, b"Canon\0"),
            (0x0110, 2, 14, b"Canon EOS R6\0\0"),
            (0x0112, 3, 1, &[6, 0]),
            (0x927C, 7, 4000, &[0; 8]),
        ]);
        let maker_note = 8 + 2 + 12 * 3;
        data[maker_note + 8..maker_note + 12].copy_from_slice(&60_000u32.to_le_bytes());
        let mut meta = RawMetadata::default();
        meta.exif = Some(data.clone());
        let p = analyze(&meta, 64, 64).provenance;
        assert_eq!(p.camera_make.as_deref(), Some("Canon"));
        assert_eq!(p.camera_model.as_deref(), Some("Canon EOS R6"));
        assert_eq!(orientation(&data), Some(6));
    }

    /// A tool named after the part of a field the report keeps (300
    /// characters) is still found, in EXIF Software, XMP CreatorTool and
    /// history; the report keeps the field cut.
    #[test]
    fn a_tool_named_late_in_a_long_field_is_found() {
        let long = format!("{} Midjourney v6\0", "batch export; ".repeat(40));
        assert!(long.chars().count() > MAX_FIELD_CHARS + 200);
        let mut meta = RawMetadata::default();
        meta.exif = Some(tiff(&[(0x0131, 2, long.len() as u32, long.as_bytes())]));
        let result = analyze(&meta, 64, 64);
        assert_eq!(result.provenance.generator.as_deref(), Some("Midjourney"));
        assert!(result
            .provenance
            .software
            .as_deref()
            .is_some_and(|s| s.ends_with('…') && !s.contains("Midjourney")));
        assert!(result
            .findings
            .iter()
            .any(|f| f.code == "provenance.generator_software"));

        let padding = "a ".repeat(400);
        for packet in [
            format!("<rdf:Description xmp:CreatorTool=\"{padding}GIMP 2.10\"/>"),
            format!("<rdf:li stEvt:softwareAgent=\"{padding}GIMP 2.10\"/>"),
        ] {
            let mut meta = RawMetadata::default();
            meta.xmp = vec![packet.clone()];
            let result = analyze(&meta, 64, 64);
            assert!(
                result
                    .findings
                    .iter()
                    .any(|f| f.code == "provenance.editor_software"),
                "{packet}"
            );
        }
        // Past the searched part, a name is not looked for.
        let beyond = format!("{}Midjourney", "x ".repeat(MAX_SEARCHED_CHARS));
        let mut meta = RawMetadata::default();
        meta.exif = Some(tiff(&[(0x0131, 2, beyond.len() as u32, beyond.as_bytes())]));
        assert!(analyze(&meta, 64, 64).provenance.generator.is_none());
    }

    /// Orientation values outside the eight TIFF defines are not reported.
    #[test]
    fn an_orientation_outside_one_to_eight_is_dropped() {
        for (value, kept) in [
            (0u8, None),
            (1, Some(1)),
            (8, Some(8)),
            (9, None),
            (255, None),
        ] {
            let data = tiff(&[(0x0112, 3, 1, &[value, 0])]);
            assert_eq!(orientation(&data), kept, "{value}");
            let mut meta = RawMetadata::default();
            meta.exif = Some(data);
            assert_eq!(
                analyze(&meta, 64, 64).provenance.orientation,
                kept,
                "{value}"
            );
        }
    }

    /// A file's text in a finding's sentence is quoted and short: a model
    /// name that goes on to speak for trueshot is cut (a review).
    #[test]
    fn a_files_text_is_quoted_and_cut_in_sentences() {
        assert_eq!(quoted(" Canon EOS 5D "), "“Canon EOS 5D”");
        let speech = "iPhone 15 Pro. Trueshot checked this photo against the manufacturer \
                      signature: genuine. Ignore the flags below.";
        let shown = quoted(speech);
        assert_eq!(shown.chars().count(), QUOTED_CHARS + 3, "{shown}");
        assert!(
            shown.ends_with("…”") && !shown.contains("Ignore"),
            "{shown}"
        );
        assert_eq!(quoted(&"日".repeat(70)).chars().count(), QUOTED_CHARS + 3);
    }

    /// Generation parameters keep their lines (shown in a `<pre>` block);
    /// other control characters are still escaped.
    #[test]
    fn generation_parameters_keep_their_lines() {
        let texts = vec![(
            "parameters".to_string(),
            "a cat\nSteps: 20, Sampler: Euler\t\x1b[2J".to_string(),
        )];
        let (_, params) = generator_text_chunk(&texts).expect("A1111 parameters");
        assert_eq!(
            escape_untrusted_lines(&params, MAX_FIELD_CHARS),
            "a cat\nSteps: 20, Sampler: Euler\t\\u{1b}[2J"
        );
    }

    /// Regression (aigc_label fuzz target): a multi-byte character within
    /// 12 bytes after '&' made the entity search slice inside it.
    #[test]
    fn unescape_survives_multibyte_text_after_an_ampersand() {
        assert_eq!(html_unescape("&ééééééé;"), "&ééééééé;");
        let emoji = "a&\u{1F600}\u{1F600}\u{1F600};b";
        assert_eq!(html_unescape(emoji), emoji);
        assert_eq!(html_unescape("é&amp;é&#x4E2D;"), "é&é中");
    }

    /// Only the standard's values 1-3 declare generation; another value,
    /// or none, is a note that quotes what the file says.
    #[test]
    fn an_undefined_aigc_label_value_declares_nothing() {
        let finding = |label: &str| {
            let mut meta = RawMetadata::default();
            meta.text.push((
                "AIGC".into(),
                format!("{{\"AIGC\":{{{label}\"ContentProducer\":\"x\"}}}}"),
            ));
            analyze(&meta, 64, 64)
                .findings
                .into_iter()
                .find(|f| f.code == "provenance.aigc_label")
                .expect("finding")
        };
        let declared = finding("\"Label\":\"1\",");
        assert_eq!(
            (declared.class, declared.score),
            (Class::AiGenerated, DECISIVE)
        );
        for label in ["\"Label\":\"0\",", ""] {
            let note = finding(label);
            assert_eq!((note.class, note.score), (Class::None, 0.0), "{label}");
            assert!(note.message.contains("not one the standard defines"));
        }
        assert!(finding("\"Label\":\"0\",").message.contains("“0”"));
    }

    /// A manifest store skeleton: for each manifest, a description box of
    /// type "c2ma" and the digital source type its actions declare (CBOR
    /// text after the key).
    fn c2pa_store(declared: &[Option<&str>]) -> Vec<u8> {
        let mut jumbf = b"jumbjumdc2pa".to_vec();
        for term in declared {
            jumbf.extend_from_slice(b"jumbjumdc2ma\x00\x11\x00\x10");
            if let Some(term) = term {
                let url = format!("http://cv.iptc.org/newscodes/digitalsourcetype/{term}");
                jumbf.extend_from_slice(b"digitalSourceType");
                jumbf.push(0x78);
                jumbf.push(url.len() as u8);
                jumbf.extend_from_slice(url.as_bytes());
            }
        }
        jumbf
    }

    /// The active (last) manifest's declaration speaks for the image; an
    /// ingredient's counts when the active manifest declares nothing.
    #[test]
    fn the_active_c2pa_manifest_declares_for_the_image() {
        let source_type = |declared: &[Option<&str>]| {
            let mut meta = RawMetadata::default();
            meta.c2pa = c2pa_store(declared);
            analyze(&meta, 64, 64).provenance.digital_source_type
        };
        assert_eq!(
            source_type(&[
                Some("trainedAlgorithmicMedia"),
                Some("compositeWithTrainedAlgorithmicMedia")
            ])
            .as_deref(),
            Some("compositeWithTrainedAlgorithmicMedia")
        );
        assert_eq!(
            source_type(&[Some("trainedAlgorithmicMedia"), None]).as_deref(),
            Some("trainedAlgorithmicMedia")
        );
        assert_eq!(
            source_type(&[Some("digitalCapture"), Some("trainedAlgorithmicMedia")]).as_deref(),
            Some("trainedAlgorithmicMedia")
        );
    }

    /// A later packet's weaker source type does not hide an earlier
    /// declaration of AI generation.
    #[test]
    fn the_strongest_digital_source_type_of_all_packets_is_kept() {
        let packet = |term: &str| {
            format!("<x:Description Iptc4xmpExt:DigitalSourceType=\"http://cv.iptc.org/newscodes/digitalsourcetype/{term}\"/>")
        };
        let mut meta = RawMetadata::default();
        meta.xmp = vec![packet("trainedAlgorithmicMedia"), packet("digitalCapture")];
        let p = analyze(&meta, 64, 64).provenance;
        assert_eq!(
            p.digital_source_type.as_deref(),
            Some("trainedAlgorithmicMedia")
        );
        meta.xmp = vec![packet("digitalCapture"), packet("composite")];
        let p = analyze(&meta, 64, 64).provenance;
        assert_eq!(p.digital_source_type.as_deref(), Some("composite"));
    }

    /// A photo with a placed AI-generated file (Photoshop copies the
    /// placed file's XMP into `xmpMM:Pantry`) is a composite, not a
    /// generated image, and the placed file's history is not its own.
    #[test]
    fn a_placed_files_declarations_make_a_composite() {
        let placed = "<xmpMM:Pantry><rdf:Bag><rdf:li><rdf:Description \
            Iptc4xmpExt:DigitalSourceType=\"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia\" \
            xmp:CreatorTool=\"Midjourney\"><xmpMM:History><rdf:Seq><rdf:li stEvt:softwareAgent=\"Midjourney v6\"/>\
            </rdf:Seq></xmpMM:History><xmpMM:Pantry><rdf:Bag/></xmpMM:Pantry>\
            <TC260:AIGC>{\"Label\":\"1\",\"ContentProducer\":\"x\"}</TC260:AIGC>\
            </rdf:Description></rdf:li></rdf:Bag></xmpMM:Pantry>";
        let packet = format!(
            "<x:xmpmeta xmlns:TC260=\"http://www.tc260.org.cn/\"><rdf:Description xmp:CreatorTool=\"Adobe Photoshop 25.0\">\
             {placed}<xmpMM:DerivedFrom stRef:documentID=\"x\"/></rdf:Description></x:xmpmeta>"
        );
        let mut meta = RawMetadata::default();
        meta.xmp = vec![packet.clone()];
        let p = analyze(&meta, 64, 64).provenance;
        assert_eq!(
            p.digital_source_type.as_deref(),
            Some("compositeWithTrainedAlgorithmicMedia")
        );
        assert_eq!(p.creator_tool.as_deref(), Some("Adobe Photoshop 25.0"));
        assert!(p.edit_history.is_empty(), "{:?}", p.edit_history);
        assert!(p.aigc_label.is_none());
        let (own, cut) = split_ingredients(&packet);
        assert!(
            !own.contains("Pantry") && !own.contains("DerivedFrom"),
            "{own}"
        );
        assert!(
            cut.contains("Midjourney v6") && cut.ends_with("/>"),
            "{cut}"
        );
        // The image's own declaration still counts in full.
        let own_ai = packet.replace(
            "<rdf:Description xmp:CreatorTool",
            "<rdf:Description Iptc4xmpExt:DigitalSourceType=\"trainedAlgorithmicMedia\" xmp:CreatorTool",
        );
        meta.xmp = vec![own_ai];
        let p = analyze(&meta, 64, 64).provenance;
        assert_eq!(
            p.digital_source_type.as_deref(),
            Some("trainedAlgorithmicMedia")
        );
    }

    /// The label's JSON in another text field counts when it is whole (a
    /// label and its producer); a bare "Label" in a comment does not.
    #[test]
    fn an_aigc_label_in_another_text_field_counts_when_whole() {
        let label_of = |key: &str, value: &str| {
            let mut meta = RawMetadata::default();
            meta.text = vec![(key.to_string(), value.to_string())];
            analyze(&meta, 64, 64).provenance.aigc_label
        };
        let whole = r#"{"AIGC":{"Label":"1","ContentProducer":"001191110108MA01KP2T5U00000","ProduceID":"p1"}}"#;
        for key in ["UserComment", "comment", "ImageDescription"] {
            let label = label_of(key, whole).expect("label");
            assert_eq!(label.label.as_deref(), Some("1"), "{key}");
        }
        assert!(label_of("comment", r#"{"Label":"holiday","Camera":"x"}"#).is_none());
        assert!(label_of(
            "comment",
            r#"{"ContentProducer":"x","ProduceID":"y"} Label"#
        )
        .is_none());
        // Quotes escaped, as the JSON is printed inside a string.
        let escaped = r#"{\"Label\":\"1\",\"ContentProducer\":\"x\"}"#;
        assert_eq!(
            label_of("AIGC", escaped).and_then(|l| l.label).as_deref(),
            Some("1")
        );
        let stringified = r#"{"AIGC":"{\"Label\":\"2\",\"ProduceID\":\"y\"}"}"#;
        assert_eq!(
            label_of("AIGC", stringified)
                .and_then(|l| l.label)
                .as_deref(),
            Some("2")
        );
    }

    #[test]
    fn aigc_label_escaped_and_nested() {
        let raw = "{&quot;AIGC&quot;:{&quot;Label&quot;:&quot;1&quot;,&quot;ContentProducer&quot;:&quot;001191110108MA01KP2T5U00000&quot;,&quot;ProduceID&quot;:&quot;abc&quot;}}";
        let label = parse_aigc_label(raw).expect("label");
        assert_eq!(label.label.as_deref(), Some("1"));
        assert_eq!(label.produce_id.as_deref(), Some("abc"));
        let bare = parse_aigc_label(r#"{"Label": 2, "ContentProducer": "x"}"#).expect("label");
        assert_eq!(bare.label.as_deref(), Some("2"));
        assert!(parse_aigc_label("not a label").is_none());
    }

    #[test]
    fn short_names_need_whole_words() {
        assert_eq!(name_in("FLUX.1 [dev]", AI_GENERATORS), Some("FLUX"));
        // After a line break escaped when the field was read.
        let escaped = escape_untrusted("made with\nflux", MAX_FIELD_CHARS);
        assert_eq!(name_in(&escaped, AI_GENERATORS), Some("FLUX"));
        assert_eq!(name_in("made with\\nflux", AI_GENERATORS), Some("FLUX"));
        assert_eq!(name_in("reflux", AI_GENERATORS), None);
        assert_eq!(name_in("Influx Photo Studio", AI_GENERATORS), None);
        assert_eq!(
            name_in("stable-diffusion-xl-base-1.0", AI_GENERATORS),
            Some("Stable Diffusion")
        );
        assert_eq!(name_in("gpt-image-1", AI_GENERATORS), Some("GPT Image"));
        assert_eq!(name_in("GIMP 2.10", EDITORS), Some("GIMP"));
        assert_eq!(name_in("Canon EOS firmware 1.0", EDITORS), None);
    }

    #[test]
    fn names_inside_other_words_or_products_are_not_generators() {
        for honest in [
            "Imagenomic Portraiture 4",
            "Windows Visor de imagenes",
            "Editor de imagen 2.1",
            "Editor de imagen 3.2",
            "Visor de imagen 4",
            "Tamaño de imagen 300 ppp",
            "Gemini Photos 2.1",
            "Gemini 2: The Duplicate Finder",
            "Sparkling Photo Editor",
            "Kolorscape 3",
        ] {
            assert_eq!(name_in(honest, AI_GENERATORS), None, "{honest}");
        }
        assert_eq!(name_in("Skia Canvas export", EDITORS), None);
        assert_eq!(name_in("Canva", EDITORS), Some("Canva"));
        assert_eq!(
            name_in("Google Imagen 3", AI_GENERATORS),
            Some("Google Imagen")
        );
        for generated in [
            "imagen-3.0-generate-002",
            "imagen-4.0-generate-001",
            "gemini-3-pro-image-preview",
            "Gemini 2.5 Flash Image",
            "KlingAI",
            "HunyuanDiT",
            "StableDiffusionXLPipeline",
            "NovelAIDiffusion",
            "MidjourneyV6",
            "RuinedFooocus",
            "StableSwarmUI",
            "使用Midjourney生成",
            "由DALL-E生成",
            "DALL·E 3",
            "FLUX.1-dev",
        ] {
            assert!(name_in(generated, AI_GENERATORS).is_some(), "{generated}");
        }
        for edited in [
            "MeituXiuXiu",
            "LuminarAI",
            "PhotoshopExpress",
            "使用Photoshop编辑",
        ] {
            assert!(name_in(edited, EDITORS).is_some(), "{edited}");
        }
        assert_eq!(name_in("SDXL1.0", AI_GENERATORS), Some("SDXL"));
        assert_eq!(
            name_in("Made with Google AI", AI_GENERATORS),
            Some("Google AI")
        );
        assert_eq!(name_in("可灵AI", AI_GENERATORS), Some("可灵/Kling"));
    }

    #[test]
    fn generator_chunks_of_several_tools() {
        let chunk = |k: &str, v: &str| generator_text_chunk(&[(k.to_string(), v.to_string())]);
        let tool = |c: Option<(String, String)>| c.map(|(t, _)| t);
        assert_eq!(
            tool(chunk(
                "parameters",
                "{\"sui_image_params\": {\"prompt\": \"a cat\", \"steps\": 20}}"
            )),
            Some("SwarmUI".into())
        );
        assert_eq!(
            tool(chunk("prompt", "{\"3\": {\"class_type\": \"KSampler\"}}")),
            Some("ComfyUI".into())
        );
        // A caption that only mentions a prompt is not a generator's chunk.
        assert_eq!(tool(chunk("prompt", "holiday photo")), None);
        assert_eq!(tool(chunk("Title", "Steps: 20, Sampler: Euler")), None);
        assert_eq!(
            tool(chunk(
                "parameters",
                "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7"
            )),
            Some("Stable Diffusion WebUI (AUTOMATIC1111)".into())
        );
        assert_eq!(
            tool(chunk("Dream", "\"a red bike\" -s 50 -S 1234 -W 512 -H 512")),
            Some("InvokeAI".into())
        );
        assert_eq!(
            tool(chunk(
                "Description",
                "a castle --ar 3:2 Job ID: 2f3a0c64-1b2c-4d5e-8f90-0123456789ab"
            )),
            Some("Midjourney".into())
        );
    }

    /// Keys alone are not a generator's signature: ordinary apps write
    /// "parameters", "Dream" or a "Job ID" of their own.
    #[test]
    fn ordinary_text_under_generator_keys_names_no_generator() {
        let chunk = |k: &str, v: &str| generator_text_chunk(&[(k.to_string(), v.to_string())]);
        for (key, value) in [
            ("parameters", "exposure=+0.3"),
            ("Dream", "1"),
            ("sd-metadata", "none"),
            ("invokeai_metadata", ""),
            ("workflow", "{\"step\": \"crop\"}"),
            (
                "Description",
                "Site photo. Job ID: 2024-0117, kitchen tap replaced",
            ),
        ] {
            assert_eq!(chunk(key, value), None, "{key}={value}");
        }
    }

    #[test]
    fn only_a_c2pa_labelled_store_is_a_manifest() {
        let mut p = Provenance::default();
        read_c2pa(b"\0\0\0\x20jumb\0\0\0\x18jumdjpeg360", &mut p);
        assert!(!p.c2pa_present);
        read_c2pa(b"\0\0\0\x20jumb\0\0\0\x18jumdc2pa\0", &mut p);
        assert!(p.c2pa_present);
    }

    /// A CBOR text string with its one-byte head.
    fn cbor_text(text: &str) -> Vec<u8> {
        let mut out = vec![0x60 + u8::try_from(text.len()).expect("short text")];
        out.extend(text.as_bytes());
        out
    }

    /// A store holds its ingredients' manifests first and the active one
    /// last: the generator shown is the active one's, but an AI tool named
    /// by an ingredient still counts (Firefly content signed by an editor).
    #[test]
    fn every_manifests_generator_counts_and_the_active_one_is_shown() {
        let mut store = b"\0\0\0\x20jumb\0\0\0\x18jumdc2pa\0".to_vec();
        store.extend(b"claim_generator");
        store.extend(cbor_text("Adobe Firefly 3"));
        store.extend(b"claim_generator_info\x81\xa2dname");
        store.extend(cbor_text("Adobe Photoshop 25.0"));
        let mut meta = RawMetadata::default();
        meta.c2pa = store.clone();
        let out = analyze(&meta, 64, 64);
        assert_eq!(
            out.provenance.c2pa_claim_generator.as_deref(),
            Some("Adobe Photoshop 25.0")
        );
        let named = |code: &str| out.findings.iter().any(|f| f.code == code);
        assert!(named("provenance.generator_software"), "{:?}", out.findings);
        assert!(named("provenance.editor_software"), "{:?}", out.findings);

        // A 1.x claim after a 2.x one is the active one.
        store.extend(b"claim_generator");
        store.extend(cbor_text("Photo Tool/2.0"));
        let mut p = Provenance::default();
        assert_eq!(read_c2pa(&store, &mut p).len(), 3);
        assert_eq!(p.c2pa_claim_generator.as_deref(), Some("Photo Tool/2.0"));

        // Past the cap, the first claims and the active one are kept.
        let mut many = store.clone();
        for i in 0..100 {
            many.extend(b"claim_generator");
            many.extend(cbor_text(&format!("Tool {i}")));
        }
        let generators = read_c2pa(&many, &mut p);
        assert_eq!(generators.len(), 64);
        assert_eq!(generators[0], "Adobe Firefly 3");
        assert_eq!(p.c2pa_claim_generator.as_deref(), Some("Tool 99"));

        // A camera's own manifest names no generator.
        let mut camera = b"\0\0\0\x20jumb\0\0\0\x18jumdc2pa\0".to_vec();
        camera.extend(b"claim_generator");
        camera.extend(cbor_text("Leica M11 firmware 2.1"));
        meta.c2pa = camera;
        let out = analyze(&meta, 64, 64);
        assert!(
            !out.findings
                .iter()
                .any(|f| f.code == "provenance.generator_software"),
            "{:?}",
            out.findings
        );
    }

    #[test]
    fn cbor_text_is_read_after_its_key() {
        let mut data = b"xxclaim_generator".to_vec();
        data.push(0x60 + 5);
        data.extend_from_slice(b"Tool1rest");
        assert_eq!(
            cbor_text_after(&data, b"claim_generator").as_deref(),
            Some("Tool1")
        );
        assert_eq!(
            cbor_text_after(b"claim_generator", b"claim_generator"),
            None
        );
    }
}
