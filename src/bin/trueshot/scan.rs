//! `trueshot scan`: analyse files in parallel and print records.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use clap::{Args, ValueEnum};
use image::DynamicImage;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use trueshot::{
    decode, escape_untrusted, Analyzer, Config, Error, IndexEntry, MemoryBudget, References,
    Report, Verdict,
};

use crate::panic::contain_panic;
use crate::report;

/// File extensions picked up when scanning a directory.
const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "jfif", "png", "webp", "tif", "tiff", "bmp", "gif", "heic", "heif",
    "avif",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Readable, coloured on a terminal: the verdict first, then the findings.
    Human,
    /// One JSON array of records.
    Json,
    /// One JSON record per line, in completion order.
    Jsonl,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Image files or directories (searched recursively for image extensions).
    #[arg(required_unless_present = "files_from")]
    pub paths: Vec<PathBuf>,
    /// Also analyse the files listed in FILE, one path per line (`-`:
    /// standard input). The list is read as the scan goes, so records come
    /// out while it is still being written: a queue can feed one
    /// long-running scan.
    #[arg(long, value_name = "FILE")]
    pub files_from: Option<PathBuf>,
    /// Paths in --files-from end with a NUL byte instead of a newline (as
    /// `find -print0` writes them), so they may contain newlines.
    #[arg(long, requires = "files_from")]
    pub null: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Write one 8-bit heatmap PNG per image here (255 = most suspicious, ≥128 = flagged).
    #[arg(long, value_name = "DIR")]
    pub heatmap_dir: Option<PathBuf>,
    /// Write one HTML review page per image here, plus `index.html` sorted by score.
    #[arg(long, value_name = "DIR")]
    pub html_dir: Option<PathBuf>,
    /// Worker threads (default: one per core; at most 1024, as
    /// `Config::threads`).
    #[arg(long, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1024))]
    pub threads: Option<usize>,
    /// A merchant's reference (listing) photo to compare against; repeatable.
    #[arg(long, value_name = "IMG")]
    pub reference: Vec<PathBuf>,
    /// A directory of reference photos (searched recursively); every claim is
    /// matched against all of them.
    #[arg(long, value_name = "DIR")]
    pub reference_dir: Vec<PathBuf>,
    /// Target false-alarm rate on genuine photos for the verdict thresholds.
    #[arg(long, value_name = "RATE", default_value_t = 0.01)]
    pub max_false_alarm: f32,
    /// Share of genuine photos, in (0, 1), that may be sent to review or
    /// flagged: sets the authentic threshold from the model's out-of-fold
    /// scores of genuine photos (default: the model's own, 2.5% at the
    /// default false-alarm rate).
    #[arg(long, value_name = "RATE")]
    pub review_rate: Option<f32>,
    /// Run the copy-move detector at every size (by default it runs on
    /// images up to 2048 x 1536; see --copy-move-max-pixels).
    #[arg(long, conflicts_with_all = ["no_copy_move", "copy_move_max_pixels"])]
    pub copy_move: bool,
    /// Do not run the copy-move detector.
    #[arg(long, conflicts_with = "copy_move_max_pixels")]
    pub no_copy_move: bool,
    /// Run the copy-move detector on images of at most this many pixels.
    #[arg(long, value_name = "PIXELS")]
    pub copy_move_max_pixels: Option<u64>,
    /// A fusion model file (from `trueshot calibrate`) to use instead of the
    /// built-in one.
    #[arg(long, value_name = "JSON")]
    pub model: Option<PathBuf>,
    /// Per-image time budget in milliseconds (0 = none): past it the
    /// remaining detectors and references are skipped, listed in
    /// `incomplete`, and the verdict is at best inconclusive (unless every
    /// reference was compared and the claim is one of them unchanged).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub time_budget_ms: u64,
    /// Admit images while their estimated peak memory (the file plus about
    /// 15 bytes per pixel) fits in this many megabytes: small images run
    /// side by side, a large one waits for room, one over the whole budget
    /// runs alone. Without it each worker thread holds one image at a time.
    #[arg(long, value_name = "MB",
          value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(1..=(1 << 24)))]
    pub max_memory_mb: Option<u64>,
}

pub fn run(args: &ScanArgs) -> Result<ExitCode, String> {
    let mut config = Config::default();
    config.max_false_alarm = args.max_false_alarm;
    config.review_rate = args.review_rate;
    if args.copy_move || args.no_copy_move {
        config.set_copy_move(args.copy_move);
    } else if let Some(n) = args.copy_move_max_pixels {
        config.copy_move_max_pixels = n;
    }
    config.model_path.clone_from(&args.model);
    config.time_budget_ms = args.time_budget_ms;
    config.heatmap =
        args.heatmap_dir.is_some() || args.html_dir.is_some() || args.format == OutputFormat::Human;
    let catalogue = Catalogue::load(&args.reference, &args.reference_dir, &config)?;
    let analyzer = crate::analyzer_for(config)?.with_references(Arc::clone(&catalogue.references));
    if let Some(dir) = &args.heatmap_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create heatmap directory {}: {e}", dir.display()))?;
    }
    if let Some(dir) = &args.html_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create HTML directory {}: {e}", dir.display()))?;
    }
    let pages = Mutex::new(Vec::new());
    let outputs: Vec<&Path> = [&args.heatmap_dir, &args.html_dir]
        .into_iter()
        .filter_map(Option::as_deref)
        .collect();
    let files = collect_files(&args.paths, &outputs);
    if files.is_empty() && !args.paths.is_empty() {
        // Only directories were given, and they hold no image: a wrong path
        // more likely than a batch with nothing to do (also beside a list).
        // An empty --files-from list is not an error: a queue with nothing
        // to do yet; the scan prints no record and exits 0.
        return Err("no image files found in the given directories".into());
    }
    let listed = match &args.files_from {
        Some(list) => Some(PathList::open(list, if args.null { b'\0' } else { b'\n' })?),
        None => None,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .map_err(|e| format!("cannot start worker threads: {e}"))?;

    let progress = if !std::io::stderr().is_terminal() || (files.len() < 2 && listed.is_none()) {
        ProgressBar::hidden()
    } else if listed.is_some() {
        // A list read as the scan goes has no length to show.
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    } else {
        ProgressBar::with_draw_target(Some(files.len() as u64), ProgressDrawTarget::stderr())
    };
    let template = if listed.is_some() {
        "{spinner} {pos} images {elapsed}"
    } else {
        "{bar:40} {pos}/{len} images {elapsed} (eta {eta})"
    };
    progress.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );

    let stdout = Mutex::new(std::io::stdout());
    let color = std::io::stdout().is_terminal();
    // Only a JSON array needs the records at the end; the other formats
    // print each as it completes and keep a count (a scan of millions of
    // files would otherwise hold every record).
    let kept = Mutex::new(Vec::new());
    let failed = AtomicUsize::new(0);
    // Analysed files whose heatmap or review page could not be written.
    let unwritten = AtomicUsize::new(0);
    // Once the reader of the records has gone, no more files are taken:
    // a queue feeding the scan must not be drained into a closed pipe.
    let output_closed = AtomicBool::new(false);
    // One file's outputs: its heatmap file, record, review page and text.
    let outputs = |path: &Path, result: &Result<Report, Error>, bytes: Option<&[u8]>| {
        // The files are kept only once every step has finished (WrittenFile).
        let (mut record, heatmap_file) = to_record(path, result, args.heatmap_dir.as_deref());
        let page = args
            .html_dir
            .as_ref()
            .map(|dir| report::write_scan_page(dir, path, result, bytes, &analyzer, &catalogue));
        let (page, page_file) = match page {
            Some(report::ScanPage { entry, file, error }) => {
                if let Some(obj) = record.as_object_mut() {
                    let page = file.as_ref().map(|f| f.path().to_string_lossy());
                    obj.insert("page".into(), json!(page));
                    if let Some(error) = error {
                        // The analysis stands; the missing page is said, not hidden.
                        obj.insert("page_error".into(), json!(error));
                    }
                }
                (Some(entry), file)
            }
            None => (None, None),
        };
        Outputs {
            record,
            page,
            text: (args.format == OutputFormat::Human).then(|| human(path, result, color)),
            _written: [heatmap_file, page_file],
        }
    };
    // The review page shows the analysed bytes, kept for it.
    let keep_bytes = args.html_dir.is_some();
    // One file: hand over its outputs (from `contained_outputs`).
    let finish = |index: usize, (file_failed, made): (bool, Outputs)| {
        let Outputs {
            record, page, text, ..
        } = made;
        if file_failed {
            failed.fetch_add(1, Ordering::Relaxed);
        } else if record.get("heatmap_error").is_some() || record.get("page_error").is_some() {
            unwritten.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(entry) = page {
            pages
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(entry);
        }
        let written = match args.format {
            OutputFormat::Jsonl => emit(&stdout, &progress, &format!("{record}\n")),
            OutputFormat::Human => emit(&stdout, &progress, text.as_deref().unwrap_or_default()),
            OutputFormat::Json => {
                kept.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((index, record));
                true
            }
        };
        if !written {
            output_closed.store(true, Ordering::Relaxed);
        }
        progress.inc(1);
    };
    let inputs = files
        .into_iter()
        .chain(listed.iter().flat_map(|list| list.paths()))
        .take_while(|_| !output_closed.load(Ordering::Relaxed))
        .enumerate();
    // Paths are taken from the list on this thread, outside the pool, and
    // handed to it in turn (trueshot::MemoryBudget::run_admitted): a worker
    // that waited for the list to grow could hold up a file in progress.
    match args.max_memory_mb {
        None => {
            // No bytes to count: run_admitted keeps two files per worker in
            // flight, enough to keep every worker busy without reading the
            // whole list ahead.
            MemoryBudget::new(u64::MAX).run_admitted(
                &pool,
                inputs,
                |input| (input, 0),
                |(index, path)| {
                    let analyse = || {
                        let bytes = decode::read_file(&path, analyzer.config().max_file_bytes);
                        analyse_bytes(&analyzer, bytes, keep_bytes)
                    };
                    finish(index, contained_outputs(&path, analyse, outputs));
                },
            );
        }
        Some(megabytes) => {
            // Files are read and admitted on this thread; each holds its
            // bytes until its record and review page are written (the page
            // decodes them again).
            let max_file_bytes = analyzer.config().max_file_bytes;
            // Writing the heatmap PNG and the review page takes about 5 and
            // 10 bytes per pixel more than the analysis (peak RSS on a 12 MP
            // JPEG, 2026-12-01).
            let outputs_per_pixel =
                5 * u64::from(args.heatmap_dir.is_some()) + 10 * u64::from(args.html_dir.is_some());
            MemoryBudget::new(megabytes.saturating_mul(1 << 20)).run_admitted(
                &pool,
                inputs,
                |(index, path)| {
                    // The header is read without a panic escaping
                    // (`declared_pixels` counts one as unreadable).
                    let loaded = decode::read_file(&path, max_file_bytes);
                    let estimate = loaded.as_ref().map_or(0, |b| {
                        let pixels = trueshot::declared_pixels(b, analyzer.config());
                        let per_pixel = trueshot::PEAK_BYTES_PER_PIXEL + outputs_per_pixel;
                        (b.len() as u64).saturating_add(pixels.saturating_mul(per_pixel))
                    });
                    ((index, path, loaded), estimate)
                },
                |(index, path, bytes)| {
                    let analyse = || analyse_bytes(&analyzer, bytes, keep_bytes);
                    finish(index, contained_outputs(&path, analyse, outputs));
                },
            );
        }
    }
    progress.finish_and_clear();
    if let Some(dir) = &args.html_dir {
        catalogue.warn_left_out();
        // `render_index` sorts, so the completion order does not matter.
        let pages = pages.into_inner().unwrap_or_else(|p| p.into_inner());
        report::write_scan_index(dir, pages)?;
    }
    if args.format == OutputFormat::Json {
        let mut records = kept.into_inner().unwrap_or_else(PoisonError::into_inner);
        records.sort_by_key(|r| r.0);
        let array = Value::Array(records.into_iter().map(|r| r.1).collect());
        let text = serde_json::to_string_pretty(&array).map_err(|e| e.to_string())?;
        crate::print_out(&text)?;
    }
    if let Some(error) = listed.and_then(PathList::error) {
        // The files listed before the failure were analysed and reported.
        return Err(error);
    }
    if output_closed.into_inner() {
        return Err("standard output was closed: the scan stopped taking files".into());
    }
    let unwritten = unwritten.into_inner();
    if unwritten > 0 {
        // One line at the end: a line per file would break the progress bar.
        eprintln!(
            "trueshot: {unwritten} analysed file(s) lack a heatmap or review page that could \
             not be written (`heatmap_error`, `page_error` in their records)"
        );
    }
    Ok(if failed.into_inner() == 0 && unwritten == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What one file leaves behind: its record, its review page's index entry
/// (with `--html-dir`), its text (human format), and the heatmap and page
/// files written for it.
struct Outputs {
    record: Value,
    page: Option<IndexEntry>,
    text: Option<String>,
    _written: [Option<WrittenFile>; 2],
}

/// A file written for one input, removed again when that input's steps
/// panic before they all finish: the record then says `internal` and names
/// no heatmap, and no page shows a verdict for it. Only a file this step
/// wrote is removed, never one found under the same name.
pub struct WrittenFile(PathBuf);

impl WrittenFile {
    pub fn new(path: PathBuf) -> Self {
        WrittenFile(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WrittenFile {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Already gone is fine: nothing of this input is left.
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// Analyse one file and make its outputs, with a panic on the way contained
/// (in the analysis, which the library already contains, or in writing the
/// heatmap or the page or in rendering the record): the file then gets the
/// outputs of the `internal` error a contained analysis panic gives, and the
/// scan goes on with the others (the files written before the panic are
/// removed as it unwinds: [`WrittenFile`]). Also returns whether the file
/// failed.
fn contained_outputs(
    path: &Path,
    analyse: impl FnOnce() -> (Result<Report, Error>, Option<Vec<u8>>),
    outputs: impl Fn(&Path, &Result<Report, Error>, Option<&[u8]>) -> Outputs,
) -> (bool, Outputs) {
    contain_panic(|| {
        let (result, bytes) = analyse();
        (result.is_err(), outputs(path, &result, bytes.as_deref()))
    })
    // The outputs of an error are plain formatting and write no file.
    .unwrap_or_else(|error| (true, outputs(path, &Err(error), None)))
}

/// The analysis of a file's bytes, and the bytes: its review page shows
/// the photo that was analysed, not the file read again (which may have
/// been replaced meanwhile: a review, a clean photo swapped for the
/// doctored one between the two reads).
/// The bytes are dropped after the analysis unless `keep` (a page is made).
fn analyse_bytes(
    analyzer: &Analyzer,
    bytes: Result<Vec<u8>, Error>,
    keep: bool,
) -> (Result<Report, Error>, Option<Vec<u8>>) {
    match bytes {
        Ok(bytes) => (analyzer.analyze_bytes(&bytes), keep.then_some(bytes)),
        Err(error) => (Err(error), None),
    }
}

/// The list of `--files-from`, read one path at a time as the scan asks.
struct PathList {
    name: PathBuf,
    reader: RefCell<Box<dyn std::io::BufRead>>,
    separator: u8,
    error: RefCell<Option<String>>,
    /// Whether an entry was read (only the first may start with a BOM).
    started: std::cell::Cell<bool>,
}

impl PathList {
    fn open(name: &Path, separator: u8) -> Result<Self, String> {
        let reader: Box<dyn std::io::BufRead> = if name == Path::new("-") {
            Box::new(std::io::BufReader::new(std::io::stdin()))
        } else {
            let file = std::fs::File::open(name)
                .map_err(|e| format!("cannot open --files-from {}: {e}", name.display()))?;
            Box::new(std::io::BufReader::new(file))
        };
        Ok(PathList {
            name: name.to_path_buf(),
            reader: RefCell::new(reader),
            separator,
            error: RefCell::new(None),
            started: std::cell::Cell::new(false),
        })
    }

    /// The listed paths, in order. Empty entries are skipped, and so are
    /// the `\r` of a line ended by `\r\n` and a UTF-8 byte-order mark
    /// before the first (Windows editors write one). A read error ends the
    /// list; it is returned by [`PathList::error`].
    fn paths(&self) -> impl Iterator<Item = PathBuf> + '_ {
        std::iter::from_fn(move || loop {
            let mut entry = Vec::new();
            let read = self
                .reader
                .borrow_mut()
                .read_until(self.separator, &mut entry);
            match read {
                Ok(0) => return None,
                Ok(_) => {
                    if !self.started.replace(true) && entry.starts_with(UTF8_BOM) {
                        entry.drain(..UTF8_BOM.len());
                    }
                    if entry.last() == Some(&self.separator) {
                        entry.pop();
                    }
                    if self.separator == b'\n' && entry.last() == Some(&b'\r') {
                        entry.pop();
                    }
                    if !entry.is_empty() {
                        return Some(path_from_bytes(entry));
                    }
                }
                Err(e) => {
                    *self.error.borrow_mut() = Some(format!(
                        "cannot read --files-from {}: {e}",
                        self.name.display()
                    ));
                    return None;
                }
            }
        })
    }

    fn error(self) -> Option<String> {
        self.error.into_inner()
    }
}

/// The UTF-8 byte-order mark.
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// A listed path: its bytes as they are on Unix, where a file name need not
/// be UTF-8; elsewhere read as UTF-8 (invalid bytes replaced).
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        PathBuf::from(std::ffi::OsString::from_vec(bytes))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// A matched listing photo read again for a page, with its file's EXIF
/// orientation (the page turns it upright when it shows it unaligned).
pub struct Listing {
    pub image: DynamicImage,
    pub orientation: Option<u16>,
}

/// The merchant's reference photos: indexed once and shared by all workers,
/// with their paths in catalogue order, so a page can show the one a claim
/// matched (`ReferenceMatch::index`), and a digest of the bytes indexed, so
/// that a page never shows a file changed on disk since (the catalogue keeps
/// reduced copies only: every listing's bytes would hold a large catalogue
/// in memory). The Python package keeps its files the same way.
pub struct Catalogue {
    pub references: Arc<References>,
    paths: Vec<PathBuf>,
    digests: Vec<Digest>,
    /// Catalogue indices of matched listings a page could not show.
    left_out: Mutex<BTreeSet<usize>>,
}

/// The length of a file's bytes and their hash: enough to notice a file
/// changed between indexing and the page. `DefaultHasher::new()` is the same
/// function for every instance in one build, which is all this needs (it is
/// never stored).
type Digest = (usize, u64);

fn digest(bytes: &[u8]) -> Digest {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    (bytes.len(), hasher.finish())
}

impl Catalogue {
    /// Index the photos given by `--reference` and found under
    /// `--reference-dir`. An unreadable reference is a usage error: silently
    /// matching against a smaller catalogue would clear doctored claims.
    pub fn load(files: &[PathBuf], dirs: &[PathBuf], config: &Config) -> Result<Self, String> {
        let mut paths = files.to_vec();
        for dir in dirs {
            if !dir.is_dir() {
                return Err(format!(
                    "--reference-dir {} is not a directory",
                    dir.display()
                ));
            }
            let before = paths.len();
            walk(dir, &mut paths);
            // An empty catalogue directory (a listing volume that did not
            // mount) would clear every doctored copy without a word.
            if paths.len() == before {
                return Err(format!(
                    "--reference-dir {} holds no image file",
                    dir.display()
                ));
            }
        }
        let mut references = References::new().with_limits(config);
        let mut digests = Vec::with_capacity(paths.len());
        for path in &paths {
            // A panic while indexing a reference (a bug) refuses the scan
            // like an unreadable reference, instead of ending it unexplained.
            let sum = contain_panic(|| -> Result<Digest, Error> {
                let bytes = decode::read_file(path, config.max_file_bytes)?;
                references.push_bytes(&bytes, Some(path.to_string_lossy().into_owned()))?;
                Ok(digest(&bytes))
            })
            .and_then(|pushed| pushed)
            .map_err(|e| {
                let shown = escape_untrusted(&path.to_string_lossy(), SHOWN_PATH_CHARS);
                format!("cannot load reference {shown}: {e}")
            })?;
            digests.push(sum);
        }
        Ok(Catalogue {
            references: Arc::new(references),
            paths,
            digests,
            left_out: Mutex::new(BTreeSet::new()),
        })
    }

    /// The indexed reference photos' paths, in catalogue order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// The reference photo `report` matched, decoded for its page from the
    /// file read again; `None` when it matched none, or when the file no
    /// longer holds the bytes indexed (then noted for
    /// [`Catalogue::warn_left_out`]).
    pub fn matched_image(&self, report: &Report, config: &Config) -> Option<Listing> {
        let index = report.reference.as_ref()?.index?;
        let image = self.read_unchanged(index, config);
        if image.is_none() {
            self.left_out
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(index);
        }
        image
    }

    fn read_unchanged(&self, index: usize, config: &Config) -> Option<Listing> {
        let bytes = decode::read_file(self.paths.get(index)?, config.max_file_bytes).ok()?;
        if self.digests.get(index) != Some(&digest(&bytes)) {
            return None;
        }
        Some(Listing {
            image: decode::decode(&bytes, decode::sniff(&bytes).ok()?, config).ok()?,
            orientation: decode::exif_orientation(&bytes),
        })
    }

    /// Say on standard error which matched listings pages left out, once
    /// each, after the pages are written (a line per page would break the
    /// progress bar of a scan).
    pub fn warn_left_out(&self) {
        let left_out = self.left_out.lock().unwrap_or_else(PoisonError::into_inner);
        for path in left_out.iter().filter_map(|&index| self.paths.get(index)) {
            let shown = escape_untrusted(&path.to_string_lossy(), SHOWN_PATH_CHARS);
            eprintln!(
                "trueshot: the matched listing {shown} cannot be read again or changed since it \
                 was indexed; its review pages show no listing"
            );
        }
    }
}

/// Write `text` to standard output; `false` when it could not be written
/// (the reader has gone: a closed pipe is not worth a panic).
fn emit(stdout: &Mutex<std::io::Stdout>, progress: &ProgressBar, text: &str) -> bool {
    progress.suspend(|| {
        let mut out = stdout.lock().unwrap_or_else(PoisonError::into_inner);
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .is_ok()
    })
}

/// Files given directly are always analysed; directories contribute files
/// with image extensions, recursively, in sorted order.
/// The files named in `paths`, and the image files under the directories
/// among them, except under the scan's own `outputs` directories (heatmaps,
/// pages): `scan uploads --heatmap-dir uploads/heatmaps` run twice would
/// otherwise analyse the first run's heatmaps as claims. An output
/// directory named in `paths` itself is read.
fn collect_files(paths: &[PathBuf], outputs: &[&Path]) -> Vec<PathBuf> {
    let outputs: Vec<PathBuf> = outputs
        .iter()
        .filter_map(|dir| std::fs::canonicalize(dir).ok())
        .collect();
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk_skipping(path, &mut files, &outputs);
        } else {
            files.push(path.clone());
        }
    }
    files
}

/// The image files under `dir`, recursively, in sorted order. Links to
/// directories are followed, but each directory is read once: a link back
/// up the tree (`sub/up -> ..`) would otherwise repeat it until the path is
/// too long, and two such links make the walk exponential.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    walk_skipping(dir, files, &[]);
}

/// [`walk`], leaving out the directories under `dir` whose canonical paths
/// are in `skip`.
fn walk_skipping(dir: &Path, files: &mut Vec<PathBuf>, skip: &[PathBuf]) {
    let mut seen: HashSet<PathBuf> = skip.iter().cloned().collect();
    if let Ok(real) = std::fs::canonicalize(dir) {
        seen.remove(&real);
    }
    walk_once(dir, files, &mut seen);
}

fn walk_once(dir: &Path, files: &mut Vec<PathBuf>, seen: &mut HashSet<PathBuf>) {
    // A directory whose real path cannot be had is read under its own.
    let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !seen.insert(real) {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        files.push(dir.to_path_buf()); // reported as an I/O error record
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk_once(&path, files, seen);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            files.push(path);
        }
    }
}

/// The JSON record of `path`, and its heatmap file when one was written.
fn to_record(
    path: &Path,
    result: &Result<Report, Error>,
    heatmap_dir: Option<&Path>,
) -> (Value, Option<WrittenFile>) {
    let path_text = path.to_string_lossy();
    let mut heatmap_file = None;
    let record = match result {
        Ok(report) => {
            let mut record = match report.to_json_value() {
                object @ Value::Object(_) => object,
                _ => json!({}),
            };
            let written = heatmap_dir
                .zip(report.heatmap())
                .map(|(dir, map)| write_heatmap(dir, path, map));
            if let Some(obj) = record.as_object_mut() {
                obj.insert("path".into(), json!(path_text));
                let heatmap_path = match written {
                    Some(Ok(file)) => {
                        let text = file.to_string_lossy().into_owned();
                        heatmap_file = Some(WrittenFile::new(file));
                        Some(text)
                    }
                    Some(Err(message)) => {
                        // The analysis stands; the missing file is said, not hidden.
                        obj.insert("heatmap_error".into(), json!(message));
                        None
                    }
                    None => None,
                };
                obj.insert("heatmap".into(), json!(heatmap_path));
                obj.insert("error".into(), Value::Null);
            }
            record
        }
        Err(error) => json!({
            "path": path_text,
            "score": null,
            "verdict": null,
            "findings": [],
            "error": {"code": error.code(), "message": error.to_string(), "file": path_text},
        }),
    };
    (record, heatmap_file)
}

/// Write the heatmap of `path` into `dir` as 8-bit grey PNG.
fn write_heatmap(dir: &Path, path: &Path, map: &trueshot::Heatmap) -> Result<PathBuf, String> {
    let mut png = std::io::Cursor::new(Vec::new());
    map.to_gray_image()
        .write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| format!("cannot encode the heatmap: {e}"))?;
    let name = output_name(path, ".heatmap.png");
    write_output(dir, &name, png.get_ref())
        .map_err(|e| format!("cannot write {}: {e}", dir.join(&name).display()))
}

/// An output file name unique per input path: the stem (ASCII letters,
/// digits, `-` and `_`; anything else becomes `_`; at most 80 bytes, far
/// under the 255 bytes file systems allow) plus a 64-bit hash of the whole
/// path (with 32 bits, two of 100,000 `IMG_0001.jpg` in different folders
/// would share a name about once), then `suffix`. The hash is of the
/// path's own bytes, so two names that are not UTF-8 and differ only in
/// invalid bytes (both shown with U+FFFD) still get their own files.
pub fn output_name(path: &Path, suffix: &str) -> String {
    // FNV-1a: stable across runs and platforms, unlike std's RandomState.
    let hash = path_bytes(path)
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        });
    let mut stem: String = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    // Not a hidden file (an empty stem), nor one that reads as an option
    // to the shell tools a reviewer runs on the folder (`-x`).
    if stem.is_empty() || stem.starts_with('-') {
        stem.replace_range(..stem.len().min(1), "_");
    }
    format!("{stem}.{hash:016x}{suffix}")
}

/// The path's own bytes: the file system's on Unix; elsewhere the
/// platform's encoding of the `OsStr` (WTF-8 on Windows, which the Python
/// CLI's names follow).
fn path_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        std::borrow::Cow::Borrowed(path.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        std::borrow::Cow::Borrowed(path.as_os_str().as_encoded_bytes())
    }
}

/// Write `bytes` to `dir/name` through a temporary file and a rename, so
/// that two workers given the same input (a path listed twice) never
/// interleave their writes and a reader never sees half a file.
pub fn write_output(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let temporary = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let target = dir.join(name);
    // A new file only: a link planted under the temporary name in a
    // shared directory is not followed.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| std::fs::rename(&temporary, &target))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&temporary);
        })?;
    Ok(target)
}

/// Longest file name or error message the human output shows whole.
const SHOWN_PATH_CHARS: usize = 4096;

fn human(path: &Path, result: &Result<Report, Error>, color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    // File names are the user's, maybe a fraudster's: an escape sequence
    // in one would reach the terminal (clear it, retitle it).
    let shown = escape_untrusted(&path.to_string_lossy(), SHOWN_PATH_CHARS);
    let mut out = String::new();
    match result {
        Ok(report) => {
            let (code, label) = match report.verdict() {
                Verdict::Authentic => ("1;32", "AUTHENTIC"),
                Verdict::Inconclusive => ("1;33", "INCONCLUSIVE"),
                Verdict::Edited => ("1;31", "EDITED"),
                Verdict::AiGenerated => ("1;35", "AI-GENERATED"),
            };
            out.push_str(&format!(
                "{}  score {:.2}  {}\n",
                paint(code, label),
                report.score(),
                shown
            ));
            for f in report
                .findings()
                .iter()
                .filter(|f| f.score > 0.0 || f.region.is_some())
            {
                out.push_str(&format!(
                    "  [{:.2}] {:<38} {}\n",
                    f.score, f.code, f.message
                ));
            }
            for f in report
                .findings()
                .iter()
                .filter(|f| f.score == 0.0 && f.region.is_none())
            {
                out.push_str(&format!(
                    "  {}\n",
                    paint("2", &format!("       {:<38} {}", f.code, f.message))
                ));
            }
        }
        Err(error) => {
            out.push_str(&format!(
                "{}  {}  {}\n",
                paint("1;31", "ERROR"),
                shown,
                escape_untrusted(&error.to_string(), SHOWN_PATH_CHARS)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The outputs of a file, as the scan makes them without the optional
    /// files; `panic_on_report` stands for a bug in writing the heatmap or
    /// the page, or in rendering the record, of an analysed file.
    fn outputs(
        panic_on_report: bool,
    ) -> impl Fn(&Path, &Result<Report, Error>, Option<&[u8]>) -> Outputs {
        written_outputs(panic_on_report, None)
    }

    /// [`outputs`] writing the heatmap into `heatmap_dir` (before the
    /// stand-in panic, as the scan writes it before the page).
    fn written_outputs(
        panic_on_report: bool,
        heatmap_dir: Option<&Path>,
    ) -> impl Fn(&Path, &Result<Report, Error>, Option<&[u8]>) -> Outputs + '_ {
        move |path, result, _| {
            let (record, heatmap_file) = to_record(path, result, heatmap_dir);
            assert!(!(panic_on_report && result.is_ok()), "the page");
            Outputs {
                record,
                page: None,
                text: Some(human(path, result, false)),
                _written: [heatmap_file, None],
            }
        }
    }

    fn analysed() -> (Result<Report, Error>, Option<Vec<u8>>) {
        let analyzer = match Analyzer::new(Config::default()) {
            Ok(analyzer) => analyzer,
            Err(error) => return (Err(error), None),
        };
        (
            analyzer.analyze_image(&DynamicImage::new_rgb8(64, 64)),
            None,
        )
    }

    /// A panic in any step of a file gives that file the record of a
    /// contained analysis panic (`internal`), and the next file is made as
    /// usual. The binary has no input that panics, so the steps are
    /// stand-ins here; `tests/cli.rs` checks the records of real failures.
    #[test]
    fn a_panic_in_a_files_steps_fails_that_file_only() {
        let path = Path::new("claims/a.jpg");
        let internal = |(failed, out): (bool, Outputs)| {
            assert!(failed);
            assert_eq!(out.record["error"]["code"], "internal", "{}", out.record);
            assert_eq!(out.record["path"], "claims/a.jpg");
            assert!(out.record["score"].is_null());
            let message = out.record["error"]["message"].as_str().unwrap_or_default();
            let text = out.text.unwrap_or_default();
            assert!(
                text.starts_with("ERROR  claims/a.jpg  internal error"),
                "{text}"
            );
            message.to_string()
        };
        let in_analysis = contained_outputs(
            path,
            || -> (Result<Report, Error>, Option<Vec<u8>>) { panic!("the analysis") },
            outputs(false),
        );
        assert!(internal(in_analysis).ends_with(": the analysis"));
        let in_outputs = contained_outputs(path, analysed, outputs(true));
        assert!(internal(in_outputs).ends_with(": the page"));

        let (failed, out) = contained_outputs(path, analysed, outputs(false));
        assert!(!failed);
        assert!(out.record["error"].is_null(), "{}", out.record);
        let refused = || (Err(Error::Decode("eof".into())), None);
        let (failed, out) = contained_outputs(path, refused, outputs(true));
        assert!(failed);
        assert_eq!(out.record["error"]["code"], "decode");
    }

    /// A panic after the heatmap was written leaves no heatmap behind for
    /// the `internal` record; an analysed file keeps its heatmap; a panic
    /// before anything was written removes nothing (a file of the same name
    /// is not this step's).
    #[test]
    fn a_panic_after_the_heatmap_leaves_no_heatmap() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let files = || -> std::io::Result<usize> { Ok(std::fs::read_dir(dir.path())?.count()) };
        let path = Path::new("claims/a.jpg");

        let (failed, out) =
            contained_outputs(path, analysed, written_outputs(false, Some(dir.path())));
        assert!(!failed);
        assert!(out.record["heatmap"].is_string(), "{}", out.record);
        drop(out);
        assert_eq!(files()?, 1, "an analysed file keeps its heatmap");

        let (failed, out) =
            contained_outputs(path, analysed, written_outputs(true, Some(dir.path())));
        assert!(failed);
        assert_eq!(out.record["error"]["code"], "internal");
        assert!(out.record.get("heatmap").is_none_or(Value::is_null));
        assert_eq!(files()?, 0, "the heatmap of the failed file stayed");

        let existing = dir.path().join(output_name(path, ".heatmap.png"));
        std::fs::write(&existing, b"an earlier scan's")?;
        let in_analysis = || -> (Result<Report, Error>, Option<Vec<u8>>) { panic!("the analysis") };
        let (failed, _) =
            contained_outputs(path, in_analysis, written_outputs(false, Some(dir.path())));
        assert!(failed);
        assert!(
            existing.is_file(),
            "a file this step did not write was removed"
        );
        Ok(())
    }

    /// The names the Python CLI gives too (python/tests/test_cli.py pins
    /// the same strings): 64-bit FNV-1a of the path as text.
    #[test]
    fn the_human_output_shows_no_escape_sequence_of_a_file_name() {
        let path = Path::new("a\x1b[2J\x1b]0;pwned\x07b.jpg");
        let failed: Result<Report, Error> = Err(Error::Decode("eof at \x1b[31m".into()));
        let text = human(path, &failed, false);
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
        assert!(text.contains("a\\u{1b}[2J"), "{text:?}");
    }

    #[test]
    fn output_names_are_the_stem_and_a_64_bit_hash() {
        let name = |p: &str| output_name(Path::new(p), ".heatmap.png");
        assert_eq!(
            name("claim é 日本.jpg"),
            "claim_____.0f5e0986e051761e.heatmap.png"
        );
        assert_eq!(name("foo."), "foo.dd1252790c25863b.heatmap.png");
        assert_eq!(name("a/.."), "_.7346f2827ec5e001.heatmap.png");
        assert_eq!(name("-x.jpg"), "_x.bf8d879194d223d5.heatmap.png");
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let bytes =
                |b: &[u8]| output_name(Path::new(std::ffi::OsStr::from_bytes(b)), ".heatmap.png");
            assert_eq!(bytes(b"a/b\xffc.png"), "b_c.61d3da5ff656e35a.heatmap.png");
            assert_eq!(
                bytes(b"x\xf0\x90\x80y.jpg"),
                "x_y.5c29bdc3b0816191.heatmap.png"
            );
            assert_eq!(
                bytes(b"q\x80\x80\x80.png"),
                "q___.4661cdb8e16f6381.heatmap.png"
            );
            // Shown alike (U+FFFD), hashed apart.
            assert_ne!(bytes(b"a\xfe.png"), bytes(b"a\xff.png"));
        }
    }

    /// A listing with texture enough to be matched: waves and a hashed grain.
    fn listing(seed: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(320, 240, |x, y| {
            let key = u64::from(seed) << 32 | u64::from(y * 320 + x);
            let grain = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 59) as u8;
            let wave = 60.0 * ((x as f32 / (9.0 + seed as f32)).sin() + (y as f32 / 13.0).cos());
            let v = (120.0 + wave).clamp(0.0, 220.0) as u8 + grain;
            image::Rgb([v, v / 2 + 40, 255 - v])
        }))
    }

    /// The page shows the listing the claim was compared with: a file
    /// changed on disk after the catalogue was indexed is not shown in its
    /// place.
    #[test]
    fn a_listing_changed_after_indexing_is_not_shown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("listing.png");
        listing(0).save(&path).expect("save");
        let config = Config::default();
        let catalogue =
            Catalogue::load(std::slice::from_ref(&path), &[], &config).expect("catalogue");
        let analyzer = Analyzer::new(config.clone())
            .expect("analyzer")
            .with_references(Arc::clone(&catalogue.references));
        let report = analyzer.analyze_image(&listing(0)).expect("report");
        assert_eq!(report.reference.as_ref().and_then(|r| r.index), Some(0));
        let shown = catalogue
            .matched_image(&report, &config)
            .expect("the listing");
        assert_eq!(shown.image.to_rgb8(), listing(0).to_rgb8());
        let left_out = || catalogue.left_out.lock().expect("lock").clone();
        assert!(left_out().is_empty());
        listing(1).save(&path).expect("save");
        assert!(catalogue.matched_image(&report, &config).is_none());
        assert_eq!(left_out(), BTreeSet::from([0]));
        listing(0).save(&path).expect("save");
        assert!(catalogue.matched_image(&report, &config).is_some());
    }
}
