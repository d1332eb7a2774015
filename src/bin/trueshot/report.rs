//! `trueshot report`: one self-contained HTML review page per claim photo,
//! and the pages and index of `trueshot scan --html-dir`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use image::DynamicImage;
use trueshot::html::Lang;
use trueshot::{decode, Analyzer, Config, Error, HtmlOptions, IndexEntry, Report};

use crate::scan::{output_name, write_output, Catalogue, WrittenFile};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    /// English.
    En,
    /// Simplified Chinese.
    Zh,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The claim photo.
    pub image: PathBuf,
    /// A merchant's reference (listing) photo to compare against; repeatable.
    /// The page shows the matched one aligned beside the claim.
    #[arg(long, value_name = "IMG")]
    pub reference: Vec<PathBuf>,
    /// A directory of reference photos (searched recursively).
    #[arg(long, value_name = "DIR")]
    pub reference_dir: Vec<PathBuf>,
    /// Where to write the page (`-` for standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Target false-alarm rate on genuine photos for the verdict thresholds.
    #[arg(long, value_name = "RATE", default_value_t = 0.01)]
    pub max_false_alarm: f32,
    /// Share of genuine photos, in (0, 1), that may be sent to review or
    /// flagged: sets the authentic threshold from the model's out-of-fold
    /// scores of genuine photos (default: the model's own, 2.5% at the
    /// default false-alarm rate).
    #[arg(long, value_name = "RATE")]
    pub review_rate: Option<f32>,
    /// Language the page opens in (both are in the page, with a switch).
    #[arg(long, value_enum, default_value_t = LangArg::En)]
    pub lang: LangArg,
    /// A fusion model file (from `trueshot calibrate`) to use instead of the
    /// built-in one.
    #[arg(long, value_name = "JSON")]
    pub model: Option<PathBuf>,
}

pub fn run(args: &ReportArgs) -> Result<ExitCode, String> {
    let mut config = Config::default();
    config.max_false_alarm = args.max_false_alarm;
    config.review_rate = args.review_rate;
    config.model_path.clone_from(&args.model);
    config.heatmap = true;
    let catalogue = Catalogue::load(&args.reference, &args.reference_dir, &config)?;
    if let Some(input) = overwritten_input(&args.output, &args.image, catalogue.paths()) {
        return Err(format!(
            "-o {} is the input photo {}: the page would replace the evidence",
            args.output.display(),
            input.display()
        ));
    }
    let analyzer = crate::analyzer_for(config)?.with_references(Arc::clone(&catalogue.references));
    let (report, image) = analyze_with_image(&analyzer, &args.image)
        .map_err(|e| format!("{}: {e}", args.image.display()))?;
    let listing = catalogue.matched_image(&report, analyzer.config());
    catalogue.warn_left_out();
    let lang = match args.lang {
        LangArg::En => Lang::En,
        LangArg::Zh => Lang::Zh,
    };
    let mut options = HtmlOptions::default()
        .with_title(display_name(&args.image))
        .with_operating_point(analyzer.operating_point(), analyzer.config().review_rate)
        .with_lang(lang);
    if let Some(listing) = &listing {
        options = options
            .with_reference_image(&listing.image)
            .with_reference_orientation(listing.orientation);
    }
    let page = trueshot::render_html(&report, &image, &options);
    if args.output.as_os_str() == "-" {
        std::io::stdout()
            .write_all(page.as_bytes())
            .map_err(|e| format!("cannot write the page: {e}"))?;
    } else {
        std::fs::write(&args.output, page)
            .map_err(|e| format!("cannot write {}: {e}", args.output.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The claim or reference photo (given by `--reference` or found under
/// `--reference-dir`) that `output` names, if any (the same file by its
/// canonical path).
fn overwritten_input<'a>(
    output: &Path,
    claim: &'a Path,
    references: &'a [PathBuf],
) -> Option<&'a Path> {
    let output = std::fs::canonicalize(output).ok()?;
    std::iter::once(claim)
        .chain(references.iter().map(PathBuf::as_path))
        .find(|input| std::fs::canonicalize(input).is_ok_and(|p| p == output))
}

/// Analyse a file and keep its decoded pixels for the page: the bytes are
/// read once and decoded under the analyser's limits.
fn analyze_with_image(analyzer: &Analyzer, path: &Path) -> Result<(Report, DynamicImage), Error> {
    let bytes = decode::read_file(path, analyzer.config().max_file_bytes)?;
    let report = analyzer.analyze_bytes(&bytes)?;
    let image = decode::decode(&bytes, decode::sniff(&bytes)?, analyzer.config())?;
    Ok((report, image))
}

fn display_name(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// A scanned file's review page, from [`write_scan_page`].
pub struct ScanPage {
    /// Its card in the index.
    pub entry: IndexEntry,
    /// The page file, when written.
    pub file: Option<WrittenFile>,
    /// Why an analysed file has no page (its card keeps the verdict).
    pub error: Option<String>,
}

/// For `scan --html-dir`: write the page of one scanned file into `dir`.
/// The photo shown is decoded from `bytes`, the ones analysed. A file that
/// failed gets a card without a page; an analysed file whose page cannot be
/// made keeps its verdict on its card, which says why the page is missing.
pub fn write_scan_page(
    dir: &Path,
    path: &Path,
    result: &Result<Report, Error>,
    bytes: Option<&[u8]>,
    analyzer: &Analyzer,
    catalogue: &Catalogue,
) -> ScanPage {
    let config = analyzer.config();
    let name = display_name(path);
    let report = match result {
        Ok(report) => report,
        Err(error) => {
            return ScanPage {
                entry: IndexEntry::failed(name, error),
                file: None,
                error: None,
            }
        }
    };
    let missing = |image: Option<&DynamicImage>, error: String| {
        let mut entry = IndexEntry::new(name.clone(), None, report, image);
        entry.error = Some(error.clone());
        ScanPage {
            entry,
            file: None,
            error: Some(error),
        }
    };
    let decoded = bytes
        .ok_or_else(|| Error::Decode("the analysed bytes were not kept".into()))
        .and_then(|b| decode::decode(b, decode::sniff(b)?, config));
    let image = match decoded {
        Ok(image) => image,
        Err(error) => return missing(None, format!("no review page: {error}")),
    };
    let listing = catalogue.matched_image(report, config);
    let mut options = HtmlOptions::default()
        .with_title(name.clone())
        .with_operating_point(analyzer.operating_point(), config.review_rate);
    if let Some(listing) = &listing {
        options = options
            .with_reference_image(&listing.image)
            .with_reference_orientation(listing.orientation);
    }
    let page = trueshot::render_html(report, &image, &options);
    let file = output_name(path, ".html");
    match write_output(dir, &file, page.as_bytes()) {
        Ok(written) => {
            // Removed again if making the index entry's thumbnail panics.
            let written = WrittenFile::new(written);
            ScanPage {
                entry: IndexEntry::new(name, Some(file), report, Some(&image)),
                file: Some(written),
                error: None,
            }
        }
        Err(e) => missing(
            Some(&image),
            format!("cannot write {}: {e}", dir.join(&file).display()),
        ),
    }
}

/// Write `index.html` of a batch into `dir`.
///
/// A file given twice (`scan dir dir/a.jpg`) was analysed twice into the
/// same page: it gets one card.
pub fn write_scan_index(dir: &Path, mut entries: Vec<IndexEntry>) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    entries.retain(|e| seen.insert((e.name.clone(), e.href.clone())));
    let file = dir.join("index.html");
    std::fs::write(&file, trueshot::render_index(&entries))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 5) as u8, (y * 7) as u8, ((x + y) * 3) as u8])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        image
            .write_to(&mut out, image::ImageFormat::Png)
            .expect("encode");
        out.into_inner()
    }

    /// The page shows the photo that was analysed, even when the file on
    /// disk was replaced after it was read (a review: a clean photo swapped
    /// for a doctored one between the analysis and the page).
    #[test]
    fn a_scan_page_shows_the_analysed_bytes_not_the_file_read_again() {
        let dir = std::env::temp_dir().join(format!("trueshot-page-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("claim.png");
        std::fs::write(&path, png(40, 30)).expect("write"); // the file now
        let analysed = png(50, 20); // the bytes the scan read
        let analyzer = Analyzer::new(Config::default()).expect("analyser");
        let catalogue = Catalogue::load(&[], &[], analyzer.config()).expect("no references");
        let report = analyzer.analyze_bytes(&analysed);
        let page = write_scan_page(&dir, &path, &report, Some(&analysed), &analyzer, &catalogue)
            .file
            .expect("a page");
        let html = std::fs::read_to_string(dir.join(output_name(&path, ".html"))).expect("read");
        drop(page);
        assert!(html.contains(r#"width="50" height="20""#));
        assert!(!html.contains(r#"width="40" height="30""#));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
