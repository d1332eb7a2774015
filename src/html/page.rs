//! The review page of one claim photo.

use std::fmt::Write as _;

use image::metadata::Orientation;
use image::{DynamicImage, GenericImageView};
use imageproc::geometric_transformations::{warp_into, Interpolation, Projection};

use super::assets::{content_security_policy, CSS, SCRIPT, SCRIPT_SHA256};
use super::{
    bi, escape_capped, escape_tail_capped, heatmap_overlay, jpeg_data_uri, pct, verdict_icon,
    verdict_text, HtmlOptions, Upright, PHOTO_QUALITY,
};
use crate::report::{clamp01, Class, DetectorKind, Finding, Provenance, Region, Transform};
use crate::{ReferenceMatch, Report};

/// Longest metadata value shown, in characters (generator prompts can be long).
const MAX_FIELD_CHARS: usize = 2000;

/// Render the self-contained review page of one analysed photo.
///
/// `image` must be the pixels that were analysed (the decoded file, EXIF
/// orientation not applied), so that the heatmap and the regions line up,
/// or a smaller copy of them with their size given by
/// [`HtmlOptions::with_analysed_size`]. It
/// is embedded as a JPEG downscaled to `options.max_side`; the heatmap is
/// embedded as a PNG overlay. The page shows the photo upright, turned as
/// the report's EXIF orientation asks, with its heatmap and regions turned
/// alike. Every string from the report is HTML-escaped.
/// The output is deterministic: the same inputs give the same bytes.
///
/// ```
/// # fn main() -> Result<(), trueshot::Error> {
/// let image = image::DynamicImage::ImageRgb8(image::RgbImage::new(64, 64));
/// let report = trueshot::analyze_image(&image, &trueshot::Config::default())?;
/// let options = trueshot::HtmlOptions::default().with_title("claim.jpg");
/// let page = trueshot::render_html(&report, &image, &options);
/// assert!(page.starts_with("<!DOCTYPE html>"));
/// # Ok(()) }
/// ```
#[must_use]
pub fn render_html(report: &Report, image: &DynamicImage, options: &HtmlOptions<'_>) -> String {
    let side = options.side();
    let (width, height) = options.analysed_size.unwrap_or(image.dimensions());
    let title = options.title.as_deref().unwrap_or("Claim photo");
    let mut page = String::with_capacity(256 * 1024);
    let vt = verdict_text(report.verdict);

    // Head: charset first, then the policy that forbids any request.
    let _ = write!(
        page,
        r#"<!DOCTYPE html>
<html lang="{lang_attr}" class="{lang_class}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="referrer" content="no-referrer">
<title>{word} – {title} – trueshot</title>
<style>{CSS}</style>
</head>
<body>
<header class="top">
<h1><span class="brand">{brand}</span>{title}</h1>
<div class="controls">
<div class="langs" role="group" aria-label="Language / 语言">
<button type="button" data-lang="en" aria-pressed="{en_pressed}">EN</button><button type="button" data-lang="zh" aria-pressed="{zh_pressed}" lang="zh-Hans">中文</button>
</div>
</div>
</header>
<main>
"#,
        lang_attr = options.lang.attr(),
        lang_class = options.lang.class(),
        csp = content_security_policy(SCRIPT_SHA256),
        // The title is not switched by the language buttons: it is in the
        // language the page opens in.
        word = match options.lang {
            super::Lang::En => vt.word.0,
            super::Lang::Zh => vt.word.1,
        },
        // A long path keeps its end, which names the file.
        title = escape_tail_capped(title, 300),
        brand = bi("trueshot review page", "trueshot 审核页面"),
        en_pressed = options.lang == super::Lang::En,
        zh_pressed = options.lang == super::Lang::Zh,
    );

    verdict_section(&mut page, report, options);

    // Numbered regions: a finding's number is its place in the list; a
    // note's region (a copy's source) is drawn apart from evidence.
    let boxes: Vec<(usize, Region, &str)> = report
        .findings
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let class = if f.class == Class::None { "note" } else { "" };
            f.region.map(|r| (i + 1, r, class))
        })
        .collect();

    // Encoded once, shown in the main figure and beside the listing photo.
    let upright = Upright::of(report);
    let claim_uri = jpeg_data_uri(image, side, PHOTO_QUALITY, upright);
    page.push_str(r#"<div class="layout">"#);
    let claim = ClaimView {
        uri: claim_uri.as_deref(),
        stored: (width, height),
        upright,
    };
    photo_figure(&mut page, report, &claim, &boxes, side);
    findings_section(&mut page, report);
    page.push_str("</div>\n");

    if let Some(reference) = &report.reference {
        reference_section(&mut page, report, reference, options, &claim, side);
    }
    provenance_section(&mut page, &report.provenance);
    facts_section(&mut page, report, upright);

    let _ = write!(
        page,
        "</main>\n<footer><p>{}</p></footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        bi(
            &format!(
                "Made by trueshot {} from classical signal-processing evidence. It supports a reviewer's decision; it does not replace it.",
                env!("CARGO_PKG_VERSION")
            ),
            &format!(
                "由 trueshot {} 基于经典信号处理证据生成。结果仅供审核人员参考，最终由人工决定。",
                env!("CARGO_PKG_VERSION")
            ),
        )
    );
    page
}

fn verdict_section(page: &mut String, report: &Report, options: &HtmlOptions<'_>) {
    let mut vt = verdict_text(report.verdict);
    if crate::fusion::held_unexamined(report) {
        vt.sentence = (
            "The photo could not be examined fully (why is said below), so it is not cleared; this alone is no sign of editing.",
            "无法完整检查这张照片（原因见下文），因此未认定为真实；这本身并不表示照片被编辑过。",
        );
    }
    let score = clamp01(report.score);
    let flag = clamp01(report.flag_threshold);
    let authentic = clamp01(report.authentic_threshold).min(flag);
    let d = decimals(score, authentic, flag);
    let rate = quoted_rate(options.max_false_alarm, |p| {
        (
            format!("; the flag threshold is set for at most {p} false alarms on genuine photos"),
            format!("；判定阈值按真实照片误报率不超过 {p} 设定"),
        )
    });
    let review = quoted_rate(options.review_rate, |p| {
        (
            format!("; the authentic threshold is set so that about {p} of genuine photos go to review or are flagged"),
            format!("；真实阈值按约 {p} 的真实照片进入复核或被判可疑设定"),
        )
    });
    let _ = write!(
        page,
        r#"<section class="verdict v-{v}" aria-labelledby="verdict-word">
{icon}
<div>
<p class="word" id="verdict-word">{word}</p>
<p class="sentence">{sentence} {score_text}</p>
<div class="meter" style="--a:{a}%;--f:{f}%" aria-hidden="true"><span class="mark" style="left:{s}%"></span></div>
<div class="scale" aria-hidden="true"><span>0 {low}</span><span>1 {high}</span></div>
<p class="point">{point}</p>{limits}
</div>
</section>
"#,
        limits = report.image.caveat.map_or(String::new(), |caveat| {
            let (en, zh) = caveat.description();
            format!(
                "\n<p class=\"point\">{}</p>",
                bi(
                    &format!("Limits: the image is {en}. Pixel evidence alone cannot flag it, and pixel tests that find nothing say less than usual."),
                    &format!("局限：该图像{zh}。仅凭像素证据不能判为可疑；像素检测未发现问题时，其说服力也低于通常。"),
                )
            )
        }),
        v = report.verdict.as_str(),
        icon = verdict_icon(report.verdict),
        word = bi(vt.word.0, vt.word.1),
        sentence = bi(vt.sentence.0, vt.sentence.1),
        score_text = bi(
            &format!("Suspicion score: <strong>{score:.d$}</strong> (0 = no evidence, 1 = certain)."),
            &format!("可疑分数：<strong>{score:.d$}</strong>（0 = 无证据，1 = 确定）。"),
        ),
        a = pct(f64::from(authentic)),
        f = pct(f64::from(flag)),
        s = pct(f64::from(score)),
        low = bi("authentic", "真实"),
        high = bi("flagged", "可疑"),
        point = bi(
            &format!(
                "Operating point: a score of {flag:.d$} or more is flagged; below {authentic:.d$} is authentic; in between is inconclusive{}{}.",
                rate.0, review.0
            ),
            &format!(
                "判定标准：分数 ≥ {flag:.d$} 判为可疑；低于 {authentic:.d$} 判为真实；介于两者之间为无法确定{}{}。",
                rate.1, review.1
            ),
        ),
    );
}

/// Decimals that print the score and the thresholds as they compare: two,
/// or more where two would print a score equal to a threshold it is under,
/// two different thresholds alike, or a threshold under 1 as 1.
fn decimals(score: f32, authentic: f32, flag: f32) -> usize {
    let agrees = |d: usize| {
        let shown = |v: f32| {
            format!("{v:.d$}")
                .parse::<f64>()
                .unwrap_or_else(|_| f64::from(v))
        };
        let same_order = |a: f32, b: f32| (a < b) == (shown(a) < shown(b));
        same_order(score, flag)
            && same_order(score, authentic)
            && same_order(authentic, flag)
            && same_order(flag, 1.0)
    };
    (2..6).find(|&d| agrees(d)).unwrap_or(6)
}

/// The operating point's clause for a rate, in English and Chinese, with
/// the rate as a percentage; empty for no (or no usable) rate.
fn quoted_rate(rate: Option<f32>, clause: impl Fn(&str) -> (String, String)) -> (String, String) {
    rate.filter(|r| r.is_finite() && *r > 0.0)
        .map(|r| clause(&percent_text(r)))
        .unwrap_or_default()
}

fn percent_text(rate: f32) -> String {
    let p = f64::from(rate) * 100.0;
    // An f32 rate is off its decimal by up to about 6e-6 percent (0.3 ->
    // 30.0000012%): a whole percent within 1e-4 reads as whole.
    if (p - p.round()).abs() < 1e-4 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// The claim photo as the page shows it.
struct ClaimView<'a> {
    /// Its embedded JPEG, turned upright.
    uri: Option<&'a str>,
    /// The analysed frame, where the heatmap and the regions lie.
    stored: (u32, u32),
    upright: Upright,
}

/// The claim photo; `width` and `height` (of the frame as shown) give the
/// browser its aspect ratio before the data is decoded.
fn push_photo(page: &mut String, uri: Option<&str>, (width, height): (u32, u32)) {
    match uri {
        Some(uri) => {
            let _ = write!(
                page,
                r#"<img class="photo" src="{uri}" width="{width}" height="{height}" alt="The claim photo / 索赔照片">"#,
            );
        }
        None => {
            let _ = write!(
                page,
                r#"<p class="note">{}</p>"#,
                bi("The photo could not be embedded.", "无法嵌入照片。")
            );
        }
    }
}

/// The claim photo with the heatmap overlay and the numbered region boxes.
fn photo_figure(
    page: &mut String,
    report: &Report,
    claim: &ClaimView<'_>,
    boxes: &[(usize, Region, &str)],
    side: u32,
) {
    page.push_str(r#"<figure class="photo-figure" aria-labelledby="photo-caption">"#);
    let (width, height) = claim.stored;
    let overlay = report
        .heatmap
        .as_ref()
        .filter(|m| m.width == width && m.height == height)
        .and_then(|m| heatmap_overlay(m, side, claim.upright));
    if overlay.is_some() {
        let _ = write!(
            page,
            r#"<div class="slider"><label for="opacity">{}</label><input type="range" id="opacity" min="0" max="100" step="5" value="60"><output id="opacity-value" for="opacity">60%</output></div>"#,
            bi("Heatmap opacity", "热力图透明度")
        );
    }
    page.push_str(r#"<div class="stage">"#);
    push_photo(page, claim.uri, claim.upright.size(claim.stored));
    if let Some((uri, (x, y, w, h))) = &overlay {
        let _ = write!(
            page,
            r#"<img class="overlay" src="{uri}" alt="" aria-hidden="true" style="left:{l}%;top:{t}%;width:{w}%;height:{h}%">"#,
            l = pct(*x),
            t = pct(*y),
            w = pct(*w),
            h = pct(*h),
        );
    }
    for (number, region, class) in boxes {
        push_box(page, *number, region, claim, class);
    }
    page.push_str("</div>");
    let flagged_map = report.heatmap.as_ref().is_some_and(|m| m.max() >= 0.5);
    let caption = if boxes.is_empty() && !flagged_map {
        bi(
            "No area of the photo was flagged.",
            "照片中没有被标记的区域。",
        )
    } else {
        bi(
            r#"The overlay marks where traces were found: <span class="legend" aria-hidden="true"></span> yellow = weak, red = strong. Numbered boxes are the regions the findings name (grey dotted: a note, such as where a copy came from); the numbers match the findings list."#,
            r#"叠加层标出发现痕迹的位置：<span class="legend" aria-hidden="true"></span> 黄色 = 弱，红色 = 强。带编号的方框为证据所指的区域（灰色点线：说明，例如副本的来源）；编号与证据列表对应。"#,
        )
    };
    let _ = write!(
        page,
        r#"<figcaption id="photo-caption">{caption}</figcaption></figure>"#
    );
}

/// Share of the shown photo's height, from its top, within which a box's
/// number goes inside the box: about the number's 19 px on a photo shown
/// 300 px high (a 2:1 photo in a 600 px column; a wider one gets a
/// proportionally higher band, up to half the photo).
const NUMBER_INSIDE_BELOW: f64 = 0.07;

/// A numbered box over a region of a photo shown in the claim's frame
/// (`claim`: the stored frame the region lies in, and how the page turns
/// it), as a link to its finding (so it is reachable from the keyboard).
/// Positions are percentages of the shown frame, so the box follows the
/// photo at any display size.
fn push_box(page: &mut String, number: usize, region: &Region, claim: &ClaimView<'_>, class: &str) {
    let (w, h) = (
        f64::from(claim.stored.0.max(1)),
        f64::from(claim.stored.1.max(1)),
    );
    let x0 = f64::from(region.x).min(w);
    let y0 = f64::from(region.y).min(h);
    let x1 = (f64::from(region.x) + f64::from(region.width)).min(w);
    let y1 = (f64::from(region.y) + f64::from(region.height)).min(h);
    let (l, t, bw, bh) = claim
        .upright
        .rect((x0 / w, y0 / h, (x1 - x0) / w, (y1 - y0) / h));
    // The number sits above its box, where the photo's frame would clip it
    // for a box at the top: that one carries it inside. The band is the
    // number's height over the photo's shown height, which a wide photo
    // makes small: the column is about 600 px wide.
    let (shown_w, shown_h) = claim.upright.size(claim.stored);
    let aspect = f64::from(shown_w.max(1)) / f64::from(shown_h.max(1));
    let inside_below = (NUMBER_INSIDE_BELOW * aspect / 2.0).clamp(NUMBER_INSIDE_BELOW, 0.5);
    let class = if t < inside_below {
        format!("{class} in").trim_start().to_string()
    } else {
        class.to_string()
    };
    let _ = write!(
        page,
        r##"<a class="box {class}" href="#finding-{number}" style="left:{l}%;top:{t}%;width:{bw}%;height:{bh}%" aria-label="Region {number} / 区域 {number}"><span aria-hidden="true">{number}</span></a>"##,
        l = pct(l),
        t = pct(t),
        bw = pct(bw),
        bh = pct(bh),
    );
}

fn findings_section(page: &mut String, report: &Report) {
    let _ = write!(
        page,
        r#"<section class="findings-section" aria-labelledby="findings-title"><h2 id="findings-title">{} ({})</h2>"#,
        bi("Findings", "证据"),
        report.findings.len()
    );
    if report.findings.is_empty() {
        let _ = write!(
            page,
            r#"<p class="note">{}</p>"#,
            bi("No findings.", "没有发现。")
        );
    } else {
        page.push_str(r#"<ol class="findings">"#);
        let deciding = deciding_findings(report);
        for (i, (finding, deciding)) in report.findings.iter().zip(deciding).enumerate() {
            push_finding(page, i + 1, finding, deciding);
        }
        page.push_str("</ol>");
    }
    if !report.incomplete.is_empty() {
        let names: Vec<&str> = report.incomplete.iter().map(|k| k.as_str()).collect();
        let _ = write!(
            page,
            r#"<p class="note">{}</p>"#,
            bi(
                &format!("Not finished within the time budget: {}.", names.join(", ")),
                &format!("在时间限制内未完成：{}。", names.join("、")),
            )
        );
    }
    page.push_str("</section>\n");
}

/// Which findings decided the verdict: those with a deciding code that
/// point to a class (a copy-move's source is a note with its copy's code),
/// or the first with that code when none does (`fusion.incomplete`).
fn deciding_findings(report: &Report) -> Vec<bool> {
    let mut marked = vec![false; report.findings.len()];
    for code in &report.deciding {
        let with_code = || {
            report
                .findings
                .iter()
                .enumerate()
                .filter(|(_, f)| &f.code == code)
        };
        let mut pointing = with_code()
            .filter(|(_, f)| f.class != Class::None)
            .peekable();
        if pointing.peek().is_none() {
            if let Some((i, _)) = with_code().next() {
                marked[i] = true;
            }
        }
        for (i, _) in pointing {
            marked[i] = true;
        }
    }
    marked
}

fn push_finding(page: &mut String, number: usize, f: &Finding, deciding: bool) {
    // A test that ran and found nothing (strength 0) points nowhere.
    let class = if f.score > 0.0 { f.class } else { Class::None };
    let (class_key, class_en, class_zh) = match class {
        Class::AiGenerated => ("ai_generated", "Points to AI generation", "指向 AI 生成"),
        Class::Edited => ("edited", "Points to editing", "指向编辑"),
        Class::None => ("none", "Information", "信息"),
    };
    let (det_en, det_zh) = detector_name(f.detector);
    let _ = write!(
        page,
        r#"<li id="finding-{number}"><span class="num{boxed}" aria-hidden="true">{number}</span><div>"#,
        boxed = if f.region.is_some() { " boxed" } else { "" },
    );
    let _ = write!(
        page,
        r#"<span class="sr-only">{number}. </span><span class="tag c-{class_key}">{}</span>"#,
        bi(class_en, class_zh)
    );
    if deciding {
        let _ = write!(
            page,
            r#"<span class="tag c-{class_key}">★ {}</span>"#,
            bi("decided the verdict", "决定了结论")
        );
    }
    if f.score > 0.0 {
        let s = clamp01(f.score);
        let _ = write!(
            page,
            r#"<span class="meta"><span class="bar" aria-hidden="true"><i style="width:{w}%"></i></span>{label} {s:.2}</span>"#,
            w = pct(f64::from(s)),
            label = bi("strength", "强度"),
        );
    }
    let _ = write!(
        page,
        r#"<p class="msg">{}</p><p class="meta">{} · <code>{}</code>"#,
        bi(
            &escape_capped(&f.message, MAX_FIELD_CHARS),
            &escape_capped(&f.message_zh, MAX_FIELD_CHARS)
        ),
        bi(det_en, det_zh),
        escape_capped(&f.code, 200),
    );
    if let Some(r) = f.region {
        let _ = write!(
            page,
            " · {}",
            bi(
                &format!(
                    "box {number}: {}×{} px at ({}, {})",
                    r.width, r.height, r.x, r.y
                ),
                &format!(
                    "方框 {number}：{}×{} 像素，位于 ({}, {})",
                    r.width, r.height, r.x, r.y
                ),
            )
        );
    }
    page.push_str("</p></div></li>");
}

fn detector_name(kind: DetectorKind) -> (&'static str, &'static str) {
    match kind {
        DetectorKind::Provenance => ("File metadata", "文件元数据"),
        DetectorKind::NoiseResidual => ("Sensor noise", "传感器噪声"),
        DetectorKind::Spectrum => ("Frequency spectrum", "频谱"),
        DetectorKind::Cfa => (
            "Colour filter array (demosaicing)",
            "色彩滤波阵列（去马赛克）",
        ),
        DetectorKind::Jpeg => ("JPEG compression", "JPEG 压缩"),
        DetectorKind::Reference => ("Comparison with the listing photo", "与商品原图对比"),
        DetectorKind::Fusion => ("Combined evidence", "综合证据"),
        DetectorKind::TextureStats => ("Residual statistics", "残差统计"),
        DetectorKind::LocalConsistency => ("Local consistency", "局部一致性"),
        DetectorKind::CopyMove => ("Duplicated regions (copy-move)", "重复区域（复制-移动）"),
    }
}

fn reference_section(
    page: &mut String,
    report: &Report,
    reference: &ReferenceMatch,
    options: &HtmlOptions<'_>,
    claim: &ClaimView<'_>,
    side: u32,
) {
    let size = claim.stored;
    let _ = write!(
        page,
        r#"<section class="reference" aria-labelledby="reference-title"><h2 id="reference-title">{}</h2><table><tbody>"#,
        bi("Comparison with the listing photo", "与商品原图的对比")
    );
    let yes_no = |b: bool| {
        if b {
            bi("<strong>Yes</strong>", "<strong>是</strong>")
        } else {
            bi("No", "否")
        }
    };
    row(
        page,
        ("Derived from a listing photo", "源自商品原图"),
        Some(yes_no(reference.derived)),
    );
    row(
        page,
        ("Similarity (0–1)", "相似度（0–1）"),
        Some(format!("{:.2}", clamp01(reference.similarity))),
    );
    let matched = match (reference.index, &reference.path) {
        (Some(i), Some(p)) => Some(format!("#{} – {}", i + 1, escape_capped(p, 500))),
        (Some(i), None) => Some(format!("#{}", i + 1)),
        (None, Some(p)) => Some(escape_capped(p, 500)),
        (None, None) => None,
    };
    row(page, ("Best-matching reference", "最匹配的原图"), matched);
    row(
        page,
        ("Changed area", "变化面积"),
        Some(format!(
            "{:.1}%",
            f64::from(clamp01(reference.changed_fraction)) * 100.0
        )),
    );
    row(
        page,
        ("Alignment (listing → claim)", "对齐变换（原图 → 索赔照片）"),
        reference.transform.map(|t| transform_text(&t)),
    );
    page.push_str("</tbody></table>");

    if let Some(listing) = options.reference_image {
        let ref_findings: Vec<(usize, Region)> = report
            .findings
            .iter()
            .enumerate()
            .filter(|(_, f)| f.detector == DetectorKind::Reference)
            .filter_map(|(i, f)| f.region.map(|r| (i + 1, r)))
            .collect();
        // Show the display size of the claim, never more than the page's photo.
        let scale = f64::from(side) / f64::from(size.0.max(size.1).max(1));
        let k = scale.min(1.0);
        let out_w = ((f64::from(size.0) * k).round() as u32).max(1);
        let out_h = ((f64::from(size.1) * k).round() as u32).max(1);
        let aligned = reference
            .transform
            .and_then(|t| align_reference(listing, &t, k as f32, (out_w, out_h), side));
        let is_aligned = aligned.is_some();
        // Aligned, the listing lies in the claim's frame and turns with it;
        // otherwise it turns by its own file's orientation.
        let listing_upright = Upright::from_exif(options.reference_orientation);
        let left = match aligned {
            Some(img) => jpeg_data_uri(
                &DynamicImage::ImageRgb8(img),
                side,
                PHOTO_QUALITY,
                claim.upright,
            ),
            None => jpeg_data_uri(listing, side, PHOTO_QUALITY, listing_upright),
        };
        let (left_title, left_dims) = if is_aligned {
            (
                bi(
                    "Listing photo, aligned to the claim",
                    "商品原图（已与索赔照片对齐）",
                ),
                claim.upright.size((out_w, out_h)),
            )
        } else {
            (
                bi(
                    "Listing photo (not aligned: no transform was estimated)",
                    "商品原图（未对齐：没有估计出变换）",
                ),
                listing_upright.size(listing.dimensions()),
            )
        };
        let _ = write!(
            page,
            r#"<figure class="pair-figure"><div class="pair"><div><h3>{left_title}</h3><div class="stage">"#
        );
        if let Some(uri) = left {
            let _ = write!(
                page,
                r#"<img class="photo" src="{uri}" width="{}" height="{}" alt="The listing photo / 商品原图">"#,
                left_dims.0, left_dims.1
            );
        }
        if is_aligned {
            for (n, r) in &ref_findings {
                push_box(page, *n, r, claim, "ref");
            }
        }
        let _ = write!(
            page,
            r#"</div></div><div><h3>{}</h3><div class="stage">"#,
            bi("Claim photo", "索赔照片")
        );
        push_photo(page, claim.uri, claim.upright.size(size));
        for (n, r) in &ref_findings {
            push_box(page, *n, r, claim, "ref");
        }
        let _ = write!(
            page,
            r#"</div></div></div><figcaption>{}</figcaption></figure>"#,
            if ref_findings.is_empty() {
                bi("No changed region was located.", "没有定位到变化区域。")
            } else {
                bi(
                    "Blue numbered boxes mark the regions that differ between the listing photo and the claim.",
                    "蓝色编号方框标出商品原图与索赔照片之间不同的区域。",
                )
            }
        );
    }
    page.push_str("</section>\n");
}

fn transform_text(t: &Transform) -> String {
    let mirrored = if t.mirrored {
        bi(", mirrored", "，镜像")
    } else {
        String::new()
    };
    // Shown when one axis was stretched by half a percent or more, judged
    // in thousandths as printed (1.005 in f32 is 1.00499...).
    let stretched = if ((f64::from(t.aspect) - 1.0).abs() * 1000.0).round() >= 5.0 {
        bi(
            &format!(", width stretched {:.3}x against height", t.aspect),
            &format!("，宽度相对高度拉伸 {:.3} 倍", t.aspect),
        )
    } else {
        String::new()
    };
    bi(
        &format!(
            "scale {:.3}, rotation {:.1}°, shift ({:.0}, {:.0}) px",
            t.scale, t.rotation_deg, t.dx, t.dy
        ),
        &format!(
            "缩放 {:.3}，旋转 {:.1}°，平移 ({:.0}, {:.0}) 像素",
            t.scale, t.rotation_deg, t.dx, t.dy
        ),
    ) + &stretched
        + &mirrored
}

/// Warp the listing photo into the claim's frame at display scale `k`, so the
/// two panels line up pixel for pixel.
///
/// `Transform` maps reference pixels to claim pixels: mirror horizontally
/// (when `mirrored`), scale, rotate clockwise on screen (image y points
/// down) about the origin, then translate by (dx, dy).
fn align_reference(
    listing: &DynamicImage,
    t: &Transform,
    k: f32,
    out: (u32, u32),
    side: u32,
) -> Option<image::RgbImage> {
    let valid = t.scale.is_finite()
        && t.scale > 1e-3
        && t.rotation_deg.is_finite()
        && t.aspect.is_finite()
        && t.aspect > 1e-3
        && t.dx.is_finite()
        && t.dy.is_finite();
    if !valid {
        return None;
    }
    // Work from a copy at most twice the display size: warping a 50 MP
    // listing photo pixel by pixel would cost more than the whole analysis.
    let (lw, lh) = listing.dimensions();
    let f = (2.0 * side as f32 / lw.max(lh).max(1) as f32).min(1.0);
    let small = if f < 1.0 {
        listing
            .resize(
                ((lw as f32 * f).round() as u32).max(1),
                ((lh as f32 * f).round() as u32).max(1),
                image::imageops::FilterType::Triangle,
            )
            .to_rgb8()
    } else {
        listing.to_rgb8()
    };
    let mirror = if t.mirrored {
        Projection::translate(lw as f32, 0.0) * Projection::scale(-1.0, 1.0)
    } else {
        Projection::scale(1.0, 1.0)
    };
    let projection = Projection::scale(k, k)
        * Projection::translate(t.dx, t.dy)
        * Projection::rotate(t.rotation_deg.to_radians())
        * Projection::scale(t.scale * t.aspect.sqrt(), t.scale / t.aspect.sqrt())
        * mirror
        * Projection::scale(1.0 / f, 1.0 / f);
    let mut aligned = image::RgbImage::new(out.0, out.1);
    warp_into(
        &small,
        &projection,
        Interpolation::Bilinear,
        image::Rgb([40, 40, 40]),
        &mut aligned,
    );
    Some(aligned)
}

fn row(page: &mut String, label: (&str, &str), value: Option<String>) {
    let value = value
        .unwrap_or_else(|| format!(r#"<span class="absent">{}</span>"#, bi("not present", "无")));
    let _ = write!(
        page,
        "<tr><th scope=\"row\">{}</th><td>{value}</td></tr>",
        bi(label.0, label.1)
    );
}

fn text(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .map(|v| escape_capped(v, MAX_FIELD_CHARS))
}

fn provenance_section(page: &mut String, p: &Provenance) {
    let _ = write!(
        page,
        r#"<section aria-labelledby="provenance-title"><h2 id="provenance-title">{}</h2><p class="note">{}</p><table><tbody>"#,
        bi("Where the file says it came from", "文件自述的来源"),
        bi(
            "Metadata is written by the camera or the software, and can be removed or forged: it supports the evidence above but proves nothing alone.",
            "元数据由相机或软件写入，可以被删除或伪造：它能佐证上方的证据，但单独不能证明任何结论。",
        ),
    );
    let camera = match (text(&p.camera_make), text(&p.camera_model)) {
        (Some(make), Some(model)) => Some(format!("{make} {model}")),
        (Some(one), None) | (None, Some(one)) => Some(one),
        (None, None) => None,
    };
    row(page, ("Camera (EXIF)", "相机（EXIF）"), camera);
    row(
        page,
        ("Date taken (EXIF)", "拍摄时间（EXIF）"),
        text(&p.datetime_original),
    );
    row(page, ("Software (EXIF)", "软件（EXIF）"), text(&p.software));
    row(
        page,
        ("Creator tool (XMP)", "创建工具（XMP）"),
        text(&p.creator_tool),
    );
    let history = (!p.edit_history.is_empty()).then(|| {
        p.edit_history
            .iter()
            .take(50)
            .map(|h| escape_capped(h, 300))
            .collect::<Vec<_>>()
            .join(" → ")
    });
    row(page, ("Edit history (XMP)", "编辑历史（XMP）"), history);
    row(
        page,
        ("Digital source type (IPTC)", "数字来源类型（IPTC）"),
        text(&p.digital_source_type),
    );
    let c2pa = if p.c2pa_present {
        let generator = text(&p.c2pa_claim_generator)
            .map(|g| format!(" – {g}"))
            .unwrap_or_default();
        Some(format!("{}{generator}", bi("manifest present", "存在清单")))
    } else {
        None
    };
    row(
        page,
        ("Content Credentials (C2PA)", "内容凭证（C2PA）"),
        c2pa,
    );
    let aigc = p.aigc_label.as_ref().map(|l| {
        let meaning = match l.label.as_deref().map(str::trim) {
            Some("1") => bi("1 – AI-generated", "1 – AI 生成"),
            Some("2") => bi("2 – possibly AI-generated", "2 – 可能为 AI 生成"),
            Some("3") => bi("3 – suspected AI-generated", "3 – 疑似 AI 生成"),
            Some(other) => escape_capped(other, 100),
            None => bi("label without a value", "标识无取值"),
        };
        let mut parts = vec![meaning];
        for (name, value) in [
            ("ContentProducer", &l.content_producer),
            ("ProduceID", &l.produce_id),
            ("ContentPropagator", &l.content_propagator),
            ("PropagateID", &l.propagate_id),
        ] {
            if let Some(v) = text(value) {
                parts.push(format!("{name}: {v}"));
            }
        }
        parts.join("<br>")
    });
    row(
        page,
        (
            "AIGC label (GB 45438-2025)",
            "AIGC 隐式标识（GB 45438-2025）",
        ),
        aigc,
    );
    row(
        page,
        ("AI generator named in metadata", "元数据中的 AI 生成器"),
        text(&p.generator),
    );
    row(
        page,
        ("Generation parameters or prompt", "生成参数或提示词"),
        text(&p.generator_parameters).map(|v| format!("<pre>{v}</pre>")),
    );
    page.push_str("</tbody></table></section>\n");
}

fn facts_section(page: &mut String, report: &Report, upright: Upright) {
    let f = &report.image;
    let _ = write!(
        page,
        r#"<section aria-labelledby="facts-title"><h2 id="facts-title">{}</h2><table><tbody>"#,
        bi("The file", "文件信息")
    );
    row(
        page,
        ("Format", "格式"),
        Some(escape_capped(&f.format, 50).to_uppercase()),
    );
    row(
        page,
        ("Size", "尺寸"),
        Some(format!("{} × {} px", f.width, f.height)),
    );
    row(
        page,
        ("File size", "文件大小"),
        f.file_bytes.map(|b| format!("{:.1} KB", b as f64 / 1024.0)),
    );
    row(
        page,
        ("JPEG quality (estimated)", "JPEG 质量（估计）"),
        f.jpeg_quality.map(|q| q.to_string()),
    );
    row(
        page,
        ("Pixels analysed", "分析的像素区域"),
        Some(f.content.map_or_else(
            || bi("the whole image", "整幅图像"),
            |r| {
                format!(
                    "{} × {} px at ({}, {}); {}",
                    r.width,
                    r.height,
                    r.x,
                    r.y,
                    bi("uniform margins left out", "已排除均匀边框")
                )
            },
        )),
    );
    row(page, ("Shown", "显示方向"), upright_text(upright));
    page.push_str("</tbody></table></section>\n");
}

/// How the page turned the stored pixels, when it did.
fn upright_text(upright: Upright) -> Option<String> {
    let (en, zh) = match upright.0 {
        Orientation::NoTransforms => return None,
        Orientation::FlipHorizontal => ("mirrored left to right", "左右镜像"),
        Orientation::Rotate180 => ("turned 180°", "旋转 180°"),
        Orientation::FlipVertical => ("mirrored top to bottom", "上下镜像"),
        Orientation::Rotate90 => ("turned 90° clockwise", "顺时针旋转 90°"),
        Orientation::Rotate270 => ("turned 90° anticlockwise", "逆时针旋转 90°"),
        Orientation::Rotate90FlipH => (
            "turned 90° clockwise and mirrored left to right",
            "顺时针旋转 90° 并左右镜像",
        ),
        Orientation::Rotate270FlipH => (
            "turned 90° anticlockwise and mirrored left to right",
            "逆时针旋转 90° 并左右镜像",
        ),
    };
    Some(bi(
        &format!(
            "upright, as the EXIF orientation asks: the stored pixels are {en} on this page; sizes and positions in the findings refer to the stored pixels"
        ),
        &format!("按 EXIF 方向标记正向显示：本页将存储的像素{zh}；证据中的尺寸和位置均以存储的像素为准"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_people_write_them() {
        for (rate, text) in [
            (0.3f32, "30%"),
            (0.01, "1%"),
            (0.005, "0.5%"),
            (0.025, "2.5%"),
            (0.999, "99.9%"),
            (1.0, "100%"),
        ] {
            assert_eq!(percent_text(rate), text, "{rate}");
        }
    }

    /// A dark listing photo with one bright pixel at (x, y).
    fn dot(w: u32, h: u32, x: u32, y: u32) -> DynamicImage {
        let mut img = image::RgbImage::new(w, h);
        img.put_pixel(x, y, image::Rgb([255, 255, 255]));
        DynamicImage::ImageRgb8(img)
    }

    fn brightest(img: &image::RgbImage) -> (u32, u32) {
        let (mut best, mut at) = (0u32, (0, 0));
        for (x, y, p) in img.enumerate_pixels() {
            let v = u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]);
            if v > best {
                (best, at) = (v, (x, y));
            }
        }
        at
    }

    fn transform(scale: f32, rotation_deg: f32, dx: f32, dy: f32, mirrored: bool) -> Transform {
        Transform {
            scale,
            rotation_deg,
            dx,
            dy,
            mirrored,
            aspect: 1.0,
        }
    }

    #[test]
    fn alignment_applies_shift_scale_rotation_and_mirror() {
        let listing = dot(100, 80, 20, 10);
        let cases = [
            // (transform, display scale, where the dot must land)
            (transform(1.0, 0.0, 15.0, 5.0, false), 1.0, (35, 15)),
            (transform(2.0, 0.0, 0.0, 0.0, false), 1.0, (40, 20)),
            (transform(1.0, 0.0, 0.0, 0.0, false), 0.5, (10, 5)),
            // Clockwise on screen: (20, 10) → (-10, 20), then shifted.
            (transform(1.0, 90.0, 50.0, 0.0, false), 1.0, (40, 20)),
            // Mirrored about the vertical axis of a 100-wide photo.
            (transform(1.0, 0.0, 0.0, 0.0, true), 1.0, (80, 10)),
            // Width stretched 4x against height at a mean scale of 1:
            // x scaled by 2, y by 0.5.
            (
                Transform {
                    aspect: 4.0,
                    ..transform(1.0, 0.0, 0.0, 0.0, false)
                },
                1.0,
                (40, 5),
            ),
        ];
        for (t, k, expected) in cases {
            let out = align_reference(&listing, &t, k, (100, 80), 1600).expect("aligned");
            let (x, y) = brightest(&out);
            assert!(
                x.abs_diff(expected.0) <= 1 && y.abs_diff(expected.1) <= 1,
                "{t:?} at scale {k}: dot at ({x}, {y}), expected {expected:?}"
            );
        }
    }

    #[test]
    fn the_transform_text_names_a_stretch_and_a_mirror_only_when_there() {
        let plain = transform_text(&transform(1.25, -3.0, 12.0, 7.0, false));
        assert!(
            plain.contains("scale 1.250, rotation -3.0°, shift (12, 7) px"),
            "{plain}"
        );
        assert!(
            !plain.contains("stretched") && !plain.contains("mirrored"),
            "{plain}"
        );
        // A stretch under half a percent is rounding, not worth a word.
        let slight = Transform {
            aspect: 1.004,
            ..transform(1.0, 0.0, 0.0, 0.0, false)
        };
        assert!(!transform_text(&slight).contains("stretched"));
        // Half a percent exactly, in either direction, is named.
        for aspect in [1.005, 0.995] {
            let edge = Transform {
                aspect,
                ..transform(1.0, 0.0, 0.0, 0.0, false)
            };
            assert!(
                transform_text(&edge).contains(&format!("stretched {aspect:.3}x")),
                "{aspect}"
            );
        }
        let stretched = Transform {
            aspect: 1.05,
            ..transform(1.0, 0.0, 0.0, 0.0, true)
        };
        let text = transform_text(&stretched);
        assert!(
            text.contains("width stretched 1.050x against height"),
            "{text}"
        );
        assert!(
            text.contains("拉伸 1.050 倍") && text.contains("mirrored"),
            "{text}"
        );
    }

    #[test]
    fn alignment_refuses_degenerate_transforms() {
        let listing = dot(10, 10, 1, 1);
        for t in [
            transform(0.0, 0.0, 0.0, 0.0, false),
            transform(f32::NAN, 0.0, 0.0, 0.0, false),
            transform(1.0, f32::INFINITY, 0.0, 0.0, false),
            Transform {
                aspect: 0.0,
                ..transform(1.0, 0.0, 0.0, 0.0, false)
            },
        ] {
            assert!(align_reference(&listing, &t, 1.0, (10, 10), 1600).is_none());
        }
    }
}
