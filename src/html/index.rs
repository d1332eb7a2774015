//! The batch index: one card per photo, most suspicious first, with verdict
//! filters.

use std::cmp::Ordering;
use std::fmt::Write as _;

use image::DynamicImage;

use super::assets::{content_security_policy, CSS, SCRIPT, SCRIPT_SHA256};
use super::{
    bi, encode_href, escape_capped, escape_tail_capped, jpeg_data_uri, verdict_icon, verdict_text,
    Upright, THUMBNAIL_QUALITY, THUMBNAIL_SIDE,
};
use crate::report::{clamp01, Class, Verdict};
use crate::Report;

/// One photo of a batch, as listed by [`render_index`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IndexEntry {
    /// Shown name, usually the file path. Untrusted: it is escaped.
    pub name: String,
    /// Relative link to the photo's review page. Percent-encoded on output,
    /// so it always stays a relative link.
    pub href: Option<String>,
    /// The verdict; `None` when the analysis failed.
    pub verdict: Option<Verdict>,
    /// The score in [0, 1]; `None` when the analysis failed.
    pub score: Option<f32>,
    /// The strongest finding's explanation (English, Chinese).
    pub summary: Option<(String, String)>,
    /// Why the analysis failed, when it did.
    pub error: Option<String>,
    /// A small JPEG `data:` URI, made by [`IndexEntry::new`] only.
    thumbnail: Option<String>,
}

impl IndexEntry {
    /// An entry for an analysed photo. `image`, when given, becomes a
    /// thumbnail (long side [`THUMBNAIL_SIDE`]), upright as the report's EXIF
    /// orientation asks.
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        href: Option<String>,
        report: &Report,
        image: Option<&DynamicImage>,
    ) -> Self {
        // The strongest evidence, else the first note (e.g. the camera model).
        let summary = report
            .findings
            .iter()
            .find(|f| f.class != Class::None && f.score > 0.0)
            .or_else(|| report.findings.first())
            .map(|f| (f.message.clone(), f.message_zh.clone()));
        IndexEntry {
            name: name.into(),
            href,
            verdict: Some(report.verdict),
            score: Some(clamp01(report.score)),
            summary,
            error: None,
            thumbnail: image.and_then(|i| {
                jpeg_data_uri(i, THUMBNAIL_SIDE, THUMBNAIL_QUALITY, Upright::of(report))
            }),
        }
    }

    /// An entry for a photo whose analysis failed.
    #[must_use]
    pub fn failed(name: impl Into<String>, error: impl std::fmt::Display) -> Self {
        IndexEntry {
            name: name.into(),
            href: None,
            verdict: None,
            score: None,
            summary: None,
            error: Some(error.to_string()),
            thumbnail: None,
        }
    }

    fn key(&self) -> &'static str {
        self.verdict.map_or("error", Verdict::as_str)
    }
}

/// Verdicts in the order of the filters.
const FILTERS: [Option<Verdict>; 5] = [
    Some(Verdict::AiGenerated),
    Some(Verdict::Edited),
    Some(Verdict::Inconclusive),
    Some(Verdict::Authentic),
    None,
];

/// Most memory [`render_index`] reserves before writing.
const MAX_RESERVED_BYTES: usize = 64 << 20;

/// Render the self-contained index of a batch: a card per entry, sorted by
/// score (most suspicious first, failures last, then by name), with a
/// thumbnail, the verdict in words and with an icon, and checkboxes that
/// filter by verdict. Deterministic for the same entries in any order.
#[must_use]
pub fn render_index(entries: &[IndexEntry]) -> String {
    let mut sorted: Vec<&IndexEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| {
        let by_score = match (a.score, b.score) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_score
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.href.cmp(&b.href))
    });
    let count = |v: Option<Verdict>| sorted.iter().filter(|e| e.verdict == v).count();
    let flagged = sorted
        .iter()
        .filter(|e| e.verdict.is_some_and(Verdict::is_flagged))
        .count();

    // About 24 KB a card (its thumbnail); the reservation is capped, since a
    // scan of a million files would otherwise ask for 24 GB up front.
    let mut page = String::with_capacity(
        entries
            .len()
            .saturating_mul(24 * 1024)
            .saturating_add(64 * 1024)
            .min(MAX_RESERVED_BYTES),
    );
    let _ = write!(
        page,
        r#"<!DOCTYPE html>
<html lang="en" class="show-en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="referrer" content="no-referrer">
<title>trueshot – {n} photos / {n} 张照片</title>
<style>{CSS}</style>
</head>
<body>
<header class="top">
<h1><span class="brand">{brand}</span>{heading}</h1>
<div class="controls">
<div class="langs" role="group" aria-label="Language / 语言">
<button type="button" data-lang="en" aria-pressed="true">EN</button><button type="button" data-lang="zh" aria-pressed="false" lang="zh-Hans">中文</button>
</div>
</div>
</header>
<main>
<section aria-labelledby="filters-title">
<h2 id="filters-title" class="sr-only">{filters_title}</h2>
<p class="intro">{summary}</p>
<fieldset class="filters"><legend>{show}</legend>
"#,
        csp = content_security_policy(SCRIPT_SHA256),
        n = sorted.len(),
        brand = bi("trueshot review index", "trueshot 审核索引"),
        heading = bi(
            &format!("{} photos, most suspicious first", sorted.len()),
            &format!("{} 张照片，按可疑程度排序", sorted.len())
        ),
        filters_title = bi("Filters", "筛选"),
        summary = bi(
            &format!(
                "{flagged} flagged (edited or AI-generated). Showing <strong class=\"shown\">{}</strong> of {}.",
                sorted.len(),
                sorted.len()
            ),
            &format!(
                "{flagged} 张被标记（编辑或 AI 生成）。显示 <strong class=\"shown\">{}</strong> / {} 张。",
                sorted.len(),
                sorted.len()
            ),
        ),
        show = bi("Show:", "显示："),
    );
    for verdict in FILTERS {
        let n = count(verdict);
        if n == 0 {
            continue;
        }
        let (key, word) = match verdict {
            Some(v) => {
                let vt = verdict_text(v);
                (v.as_str(), bi(vt.word.0, vt.word.1))
            }
            None => ("error", bi("Could not analyse", "无法分析")),
        };
        let _ = writeln!(
            page,
            r#"<label><input type="checkbox" data-filter="{key}" checked> {word} ({n})</label>"#
        );
    }
    page.push_str("</fieldset>\n</section>\n<ul class=\"grid\">\n");
    for entry in &sorted {
        push_card(&mut page, entry);
    }
    let _ = write!(
        page,
        "</ul>\n</main>\n<footer><p>{}</p></footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        bi(
            &format!(
                "Made by trueshot {}. Open a card for the evidence.",
                env!("CARGO_PKG_VERSION")
            ),
            &format!(
                "由 trueshot {} 生成。点击卡片查看证据。",
                env!("CARGO_PKG_VERSION")
            ),
        )
    );
    page
}

fn push_card(page: &mut String, entry: &IndexEntry) {
    let key = entry.key();
    let _ = write!(page, r#"<li class="card v-{key}" data-verdict="{key}">"#);
    match &entry.href {
        Some(href) => {
            let _ = write!(page, r#"<a class="link" href="{}">"#, encode_href(href));
        }
        None => page.push_str(r#"<div class="link">"#),
    }
    page.push_str(r#"<div class="thumb">"#);
    if let Some(uri) = &entry.thumbnail {
        // Our own data URI; escaped all the same.
        let _ = write!(
            page,
            r#"<img src="{}" alt="">"#,
            escape_capped(uri, usize::MAX)
        );
    }
    page.push_str(r#"</div><div class="body">"#);
    match entry.verdict {
        Some(v) => {
            let vt = verdict_text(v);
            let _ = write!(
                page,
                r#"<p class="badge b-{key}">{}{} · {:.2}</p>"#,
                verdict_icon(v),
                bi(vt.word.0, vt.word.1),
                entry.score.unwrap_or(0.0)
            );
        }
        None => {
            let _ = write!(
                page,
                r#"<p class="badge">{}</p>"#,
                bi("Could not analyse", "无法分析")
            );
        }
    }
    // The file name stands out; its folder, often long and shared by the
    // whole batch, is shown small above it (its end, if long). A backslash
    // separates folders only where the system says so (Windows).
    let (folder, file) = match entry
        .name
        .rfind(|c: char| c == '/' || std::path::is_separator(c))
    {
        Some(at) => entry.name.split_at(at + 1),
        None => ("", entry.name.as_str()),
    };
    if !folder.is_empty() {
        let _ = write!(
            page,
            r#"<p class="folder">{}</p>"#,
            escape_tail_capped(folder, 200)
        );
    }
    let _ = write!(page, r#"<p class="name">{}</p>"#, escape_capped(file, 200));
    if let Some((en, zh)) = &entry.summary {
        let _ = write!(
            page,
            r#"<p class="meta">{}</p>"#,
            bi(&escape_capped(en, 240), &escape_capped(zh, 240))
        );
    }
    if let Some(error) = &entry.error {
        let _ = write!(page, r#"<p class="meta">{}</p>"#, escape_capped(error, 300));
    }
    page.push_str("</div>");
    page.push_str(if entry.href.is_some() {
        "</a>"
    } else {
        "</div>"
    });
    page.push_str("</li>\n");
}
