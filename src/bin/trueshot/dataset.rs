//! A labelled corpus in the format of ../shared/corpus/README.md, and the
//! analysis of every row (optionally perturbed), shared by `eval` and `calibrate`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use trueshot::perturb::{self, Perturbation};
use trueshot::{escape_untrusted, Analyzer, Config, Report};

/// One row of labels.csv.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Row {
    pub file: String,
    pub label: String,
    pub kind: String,
    pub set: String,
    #[serde(default)]
    pub mask: String,
    #[serde(default)]
    pub source: String,
    /// Cross-validation group, resolved after reading.
    #[serde(skip)]
    pub group: String,
}

impl Row {
    pub fn is_positive(&self) -> bool {
        self.label != "real"
    }
}

/// The labels of the corpus format; anything else is a typo, not a class.
const LABELS: [&str; 3] = ["real", "ai_generated", "edited"];

/// Read labels.csv; paths are relative to its folder. A file without rows,
/// with an unknown label, or with a path given two labels or listed twice
/// in one set is an error: figures or a model from it would be
/// meaningless. (A path may be in several sets, with one label.)
pub fn read_labels(path: &Path) -> Result<(PathBuf, Vec<Row>), String> {
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let not_labels = |e: csv::Error| format!("{} is not in the labels format: {e}", path.display());
    let headers = reader.headers().map_err(not_labels)?.clone();
    let mut rows: Vec<Row> = Vec::new();
    // Each file's first row (label, set, line): a file may take part in
    // several comparisons, but as one class, and once in each.
    let mut seen: BTreeMap<PathBuf, Vec<(String, String, u64)>> = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(not_labels)?;
        let row: Row = record.deserialize(Some(&headers)).map_err(not_labels)?;
        let line = record.position().map_or(0, csv::Position::line);
        let at = |what: String| {
            format!(
                "{} line {line} ({}): {what}",
                path.display(),
                trueshot::escape_untrusted(&row.file, 200)
            )
        };
        if !LABELS.contains(&row.label.as_str()) {
            return Err(at(format!(
                "unknown label {:?}; labels are real, ai_generated, edited",
                trueshot::escape_untrusted(&row.label, 40),
            )));
        }
        let earlier = seen.entry(file_key(&base, &row.file)).or_default();
        for (label, set, first) in earlier.iter() {
            if *label != row.label {
                return Err(at(format!(
                    "labelled {} here but {label} on line {first}",
                    row.label
                )));
            }
            if *set == row.set {
                return Err(at(format!(
                    "listed twice in set {:?} (also on line {first}): it would count twice",
                    trueshot::escape_untrusted(set, 40)
                )));
            }
        }
        earlier.push((row.label.clone(), row.set.clone(), line));
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(format!("{} has no rows", path.display()));
    }
    resolve_groups(&mut rows);
    Ok((base, rows))
}

/// Group rows that share an origin, so that cross-validation never tests on
/// a near-duplicate of a training image: a repository (`owner/repo:path`)
/// for found files; derived files (laundered copies, edits and their
/// controls) join the group of the root their `source` chain leads to
/// (its repository, or the root file itself when its `source` is empty).
/// A `source` (trimmed, `\\` read as `/`) names a row by its path or,
/// failing that, its file name when only one row has that name; one
/// outside the labels, or a name two rows share, is a group of its own.
/// A row path wins over the `repo:path` form, so a path with a colon still
/// finds its row. (Chains are a few rows long: each row walks its own.)
fn resolve_groups(rows: &mut [Row]) {
    let paths: Vec<String> = rows.iter().map(|r| normal_path(&r.file)).collect();
    let mut by_path: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, path) in paths.iter().enumerate() {
        by_path.entry(path.as_str()).or_insert(i);
        by_name.entry(basename(path)).or_default().push(i);
    }
    let group_of = |start: usize| -> String {
        let mut walked: Vec<usize> = Vec::new();
        let mut current = start;
        loop {
            if let Some(at) = walked.iter().position(|&i| i == current) {
                // A cycle of sources (a typo): its first file by name
                // stands for all its members, whichever is walked first.
                return walked[at..]
                    .iter()
                    .map(|&i| rows[i].file.as_str())
                    .min()
                    .unwrap_or_default()
                    .to_string();
            }
            walked.push(current);
            let source = normal_path(&rows[current].source);
            if source.is_empty() {
                return rows[current].file.clone();
            }
            if let Some(&next) = by_path.get(source.as_str()) {
                current = next;
                continue;
            }
            if let Some((repo, _)) = source.split_once(':') {
                return repo.to_string();
            }
            // The name's rows other than this one (an edit often keeps its
            // photo's file name in another folder): one is the source.
            let others: Vec<usize> = by_name
                .get(basename(&source))
                .map(|rows| rows.iter().copied().filter(|&i| i != current).collect())
                .unwrap_or_default();
            match others[..] {
                [next] => current = next,
                _ => return source,
            }
        }
    };
    let groups: Vec<String> = (0..rows.len()).map(group_of).collect();
    for (row, group) in rows.iter_mut().zip(groups) {
        row.group = group;
    }
}

/// One spelling per path of labels.csv: `/` for `\`, and no leading `./`.
fn normal_path(path: &str) -> String {
    let path = path.trim().replace('\\', "/");
    let mut rest = path.as_str();
    while let Some(inner) = rest.strip_prefix("./") {
        rest = inner;
    }
    rest.to_string()
}

/// One name per file a labels row names, however it is spelt (`a//b`,
/// `a/./b`, `x/../a/b`, absolute or relative, through a link): the file's
/// resolved path when it exists, else its path with `.`, `..` and repeated
/// separators resolved as written.
fn file_key(base: &Path, file: &str) -> PathBuf {
    let path = base.join(normal_path(file));
    std::fs::canonicalize(&path).unwrap_or_else(|_| {
        let mut resolved = PathBuf::new();
        for part in path.components() {
            match part {
                Component::CurDir => {}
                Component::ParentDir
                    if resolved
                        .components()
                        .next_back()
                        .is_some_and(|c| matches!(c, Component::Normal(_))) =>
                {
                    resolved.pop();
                }
                other => resolved.push(other),
            }
        }
        resolved
    })
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// One analysed sample.
pub struct Sample {
    pub row: usize,
    pub variant: String,
    /// The report, without its heatmap: what eval reads of the heatmap is
    /// measured as each sample is analysed ([`Marks`]), so that memory does
    /// not grow with maps (a few MB each for a phone photo) row by row.
    pub report: Result<Report, String>,
    /// [`fingerprint`] of the row's file as read (before any perturbation);
    /// `None` when it could not be read, or in a cache written before
    /// fingerprints were kept.
    pub fingerprint: Option<String>,
    pub marks: Marks,
}

/// What the heatmap marks, measured when the sample was analysed with one.
#[derive(Debug, Clone, PartialEq)]
pub struct Marks {
    /// [`flagged_share`]: `None` without a heatmap.
    pub flagged_share: Option<f32>,
    /// [`localisation_f1`] against the row's mask: `Ok(None)` without a
    /// mask or a heatmap, `Err` when the mask could not be read.
    pub localisation_f1: Result<Option<f32>, String>,
}

impl Default for Marks {
    fn default() -> Self {
        Marks {
            flagged_share: None,
            localisation_f1: Ok(None),
        }
    }
}

impl Marks {
    /// Measure what `report`'s heatmap marks, then drop the heatmap.
    fn take(report: &mut Report, mask: Option<&Path>, config: &Config) -> Self {
        let marks = Marks {
            flagged_share: flagged_share(report),
            localisation_f1: match mask {
                Some(mask) if report.heatmap.is_some() => localisation_f1(report, mask, config),
                _ => Ok(None),
            },
        };
        report.heatmap = None;
        marks
    }
}

/// The fingerprints of these samples' files, sorted, each once.
pub fn fingerprints_of<'a>(samples: impl IntoIterator<Item = &'a Sample>) -> Vec<String> {
    let unique: BTreeSet<&str> = samples
        .into_iter()
        .filter_map(|s| s.fingerprint.as_deref())
        .collect();
    unique.into_iter().map(String::from).collect()
}

/// A file's fingerprint: the 64-bit FNV-1a hash of its bytes, in hex. It
/// tells files apart (was this file in the training set, did it change
/// since it was cached); it authenticates nothing.
pub fn fingerprint(bytes: &[u8]) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    format!("{hash:016x}")
}

/// Analyse every row under every variant (each a list of perturbation steps;
/// an empty list is the file as found), in parallel, with a progress bar.
pub fn analyse(
    analyzer: &Analyzer,
    base: &Path,
    rows: &[Row],
    variants: &[(String, Vec<Perturbation>)],
) -> Vec<Sample> {
    let jobs: Vec<(usize, usize)> = (0..rows.len())
        .flat_map(|r| (0..variants.len()).map(move |v| (r, v)))
        .collect();
    let progress = progress_bar(jobs.len() as u64, "analysing");
    let samples = jobs
        .par_iter()
        .map(|&(r, v)| {
            let path = base.join(&rows[r].file);
            let (name, steps) = &variants[v];
            // Bounded like every other read: a row naming /dev/zero or a
            // huge file is that row's error, not an exhausted memory.
            let read = trueshot::decode::read_file(&path, analyzer.config().max_file_bytes)
                .map_err(|e| e.to_string());
            let fingerprint = read.as_ref().ok().map(|bytes| fingerprint(bytes));
            let mut report = read
                .and_then(|bytes| {
                    let seed = seed_of(&rows[r].file, name);
                    perturb::apply(&bytes, steps, seed, analyzer.config())
                        .map_err(|e| e.to_string())
                })
                .and_then(|bytes| analyzer.analyze_bytes(&bytes).map_err(|e| e.to_string()));
            let mask = Some(&rows[r].mask)
                .filter(|m| !m.is_empty())
                .map(|m| base.join(m));
            let marks = report.as_mut().map_or_else(
                |_| Marks::default(),
                |rep| Marks::take(rep, mask.as_deref(), analyzer.config()),
            );
            progress.inc(1);
            Sample {
                row: r,
                variant: name.clone(),
                report,
                fingerprint,
                marks,
            }
        })
        .collect();
    progress.finish_and_clear();
    samples
}

/// Say on stderr which samples could not be analysed and why (the first
/// few, then a count), so that a broken corpus is not taken for a small one.
pub fn report_failures(command: &str, rows: &[Row], samples: &[Sample]) {
    const SHOWN: usize = 10;
    let failed: Vec<(&Sample, &String)> = samples
        .iter()
        .filter_map(|s| s.report.as_ref().err().map(|e| (s, e)))
        .collect();
    for (s, e) in failed.iter().take(SHOWN) {
        // The labels file's names, shown as text: no escape sequence of
        // theirs reaches the terminal.
        let file = rows
            .get(s.row)
            .map_or("?".to_string(), |r| escape_untrusted(&r.file, 4096));
        let e = escape_untrusted(e, 4096);
        match s.variant.as_str() {
            "as-found" => eprintln!("{command}: {file}: {e}"),
            variant => eprintln!("{command}: {file} ({variant}): {e}"),
        }
    }
    if failed.len() > SHOWN {
        eprintln!("{command}: ... and {} more", failed.len() - SHOWN);
    }
    if !failed.is_empty() {
        eprintln!(
            "{command}: {} of {} samples failed and are left out",
            failed.len(),
            samples.len()
        );
    }
}

pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    use std::io::IsTerminal;
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what} {{elapsed}} (eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// FNV-1a of the file and variant: the perturbation seed of a sample.
fn seed_of(file: &str, variant: &str) -> u64 {
    file.bytes()
        .chain([0u8])
        .chain(variant.bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
}

/// Localisation F1 of a heatmap (≥ 0.5 flagged) against a mask (white =
/// edited); `Ok(None)` without a heatmap. The mask is read under the same
/// limits as the images.
pub fn localisation_f1(
    report: &Report,
    mask_path: &Path,
    config: &Config,
) -> Result<Option<f32>, String> {
    let Some(map) = report.heatmap.as_ref() else {
        return Ok(None);
    };
    let mask = trueshot::decode::open(mask_path, config)
        .map_err(|e| e.to_string())?
        .to_luma8();
    let (mw, mh) = mask.dimensions();
    let values = map.upscaled();
    let (w, h) = (map.width, map.height);
    // The heatmap is resized to the mask as score.py does it.
    let (columns, rows) = (pillow_nearest(w, mw), pillow_nearest(h, mh));
    let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
    for (y, &hy) in (0..mh).zip(&rows) {
        for (x, &hx) in (0..mw).zip(&columns) {
            let flagged = values
                .get(hy * w as usize + hx)
                .is_some_and(|&v| is_flagged(v));
            let truth = mask.get_pixel(x, y).0[0] > 127;
            match (flagged, truth) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fn_ += 1,
                _ => {}
            }
        }
    }
    let denom = 2 * tp + fp + fn_;
    Ok(Some(if denom == 0 {
        1.0
    } else {
        (2 * tp) as f32 / denom as f32
    }))
}

/// The share of the image a report's heatmap flags, counted on the pixels
/// of the PNG `scan --heatmap-dir` writes (≥ 128 of 255); `None` without a
/// heatmap. A reviewer sees this much of an image marked.
pub fn flagged_share(report: &Report) -> Option<f32> {
    let map = report.heatmap.as_ref()?;
    let values = map.upscaled();
    let flagged = values.iter().filter(|&&v| is_flagged(v)).count();
    Some(if values.is_empty() {
        0.0
    } else {
        flagged as f32 / values.len() as f32
    })
}

/// Whether a heatmap value is flagged in the written PNG (≥ 128 of 255).
fn is_flagged(v: f32) -> bool {
    (v * 255.0).round() >= 128.0
}

/// The source index of each of `dst` samples of `src`, as Pillow's
/// `Image.resize(size, NEAREST)` picks them (what score.py, the acceptance
/// scorer, does to a heatmap of another size than the mask). Pillow
/// (libImaging/Geometry.c, `ImagingScaleAffine`) starts at half a step and
/// adds the step `src / dst` in doubles, truncating each sum; the closed
/// form floor((i + 0.5) * src / dst) differs where a sum lands just below
/// a whole number (2 onto 7: Pillow gives 0 0 0 0 1 1 1, not 0 0 0 1 1 1 1),
/// so the sums are repeated here exactly.
fn pillow_nearest(src: u32, dst: u32) -> Vec<usize> {
    if src == 0 || dst == 0 {
        return Vec::new();
    }
    let step = f64::from(src) / f64::from(dst);
    let mut at = step * 0.5;
    (0..dst)
        .map(|_| {
            // Pillow leaves a sample past the edge unset; it never happens
            // for a plain resize, and clamping keeps the index in range.
            let index = (at as usize).min(src as usize - 1);
            at += step;
            index
        })
        .collect()
}

/// The build of trueshot that analyses samples (the binary and the
/// library are one package): its version and a fingerprint of its sources
/// (build.rs), so that two builds of one version with other detectors are
/// told apart.
const VERSION: &str = trueshot::fusion::BUILD;

/// Write samples as JSON lines (`row`, `file`, `fingerprint`, `variant`, `trueshot`,
/// `report` or `error`).
pub fn save_samples(path: &Path, samples: &[Sample], rows: &[Row]) -> Result<(), String> {
    let mut text = String::new();
    for s in samples {
        // The row's file and its fingerprint too, so that a cache made from
        // another labels file, or before a file changed, is recognised when
        // read back; and the version that analysed it, since another
        // version's detectors give other features.
        let file = rows.get(s.row).map_or("", |r| r.file.as_str());
        let mut line = serde_json::json!({
            "row": s.row, "file": file, "fingerprint": s.fingerprint, "variant": s.variant,
            "trueshot": VERSION,
        });
        match &s.report {
            Ok(r) => line["report"] = serde_json::json!(r),
            Err(e) => line["error"] = serde_json::json!(e),
        }
        text.push_str(&line.to_string());
        text.push('\n');
    }
    // Written aside and renamed, so that a run stopped while writing
    // leaves no partial cache behind.
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, text)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Read samples written by [`save_samples`] for these `rows` and
/// `variants`; a cache made from another labels file or other variants is
/// an error, not a silent mix, and so is one that lacks a sample of some
/// row under some variant (made with fewer variants, or before rows were
/// added), or one whose fingerprint of a file no longer matches the file
/// under `base` (read within `max_bytes`; it changed since), or one
/// written before fingerprints were kept or by another trueshot build: it is named,
/// and the cache must be removed to analyse again.
pub fn load_samples(
    path: &Path,
    base: &Path,
    rows: &[Row],
    variants: &[&str],
    max_bytes: u64,
) -> Result<Vec<Sample>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let stale = |why: String| {
        format!(
            "the samples cache {} does not match these labels, variants and files ({why}); \
             remove it to analyse again",
            path.display()
        )
    };
    let samples = text
        .lines()
        .enumerate()
        .map(|(n, line)| {
            // A cache cut short (a run stopped while writing it) or edited.
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| stale(format!("line {} is not a sample: {e}", n + 1)))?;
            let row = v["row"]
                .as_u64()
                .and_then(|r| usize::try_from(r).ok())
                .ok_or_else(|| stale(format!("line {} names no row", n + 1)))?;
            let file = v["file"].as_str();
            match rows.get(row) {
                None => return Err(stale(format!("row {row} of {} rows", rows.len()))),
                Some(r) if file.is_some_and(|f| f != r.file) => {
                    return Err(stale(format!(
                        "row {row} is {}, not {}",
                        escape_untrusted(&r.file, 4096),
                        escape_untrusted(file.unwrap_or(""), 4096)
                    )));
                }
                Some(_) => {}
            }
            // Features of another build's detectors would be fitted as
            // if this build had measured them.
            match v["trueshot"].as_str() {
                Some(version) if version == VERSION => {}
                Some(version) => {
                    return Err(stale(format!(
                        "row {row} was analysed by trueshot {version}, this is {}",
                        VERSION
                    )));
                }
                None => {
                    return Err(stale(format!(
                        "row {row} names no trueshot version: the cache predates them"
                    )));
                }
            }
            let variant = v["variant"].as_str().unwrap_or("").to_string();
            if !variants.contains(&variant.as_str()) {
                return Err(stale(format!("variant {variant:?}")));
            }
            let report = match v.get("report") {
                Some(r) => serde_json::from_value::<Report>(r.clone()).map_err(|e| e.to_string()),
                None => Err(v["error"].as_str().unwrap_or("error").to_string()),
            };
            let fingerprint = v["fingerprint"].as_str().map(String::from);
            // A file that was analysed was read, so it has a fingerprint
            // unless an older trueshot wrote the cache: a model fitted on
            // it could not say which files it was trained on.
            if report.is_ok() && fingerprint.is_none() {
                return Err(stale(format!(
                    "row {row} has no fingerprint: the cache predates them"
                )));
            }
            Ok(Sample {
                row,
                variant,
                report,
                fingerprint,
                marks: Marks::default(),
            })
        })
        .collect::<Result<Vec<Sample>, String>>()?;
    // Each cached file once, as it is now: read then (a fingerprint) and
    // the same now, or unreadable then and still unreadable.
    let cached: BTreeMap<usize, Option<&str>> = samples
        .iter()
        .map(|s| (s.row, s.fingerprint.as_deref()))
        .collect();
    let changed = cached.into_par_iter().find_map_first(|(row, cached)| {
        let now = trueshot::decode::read_file(&base.join(&rows[row].file), max_bytes).ok();
        let file = escape_untrusted(&rows[row].file, 4096);
        match (cached, now) {
            (Some(cached), Some(bytes)) => {
                (fingerprint(&bytes) != cached).then(|| format!("{file} changed since"))
            }
            (Some(_), None) => Some(format!("{file} cannot be read now")),
            (None, Some(_)) => Some(format!("{file} could not be read then and can now")),
            (None, None) => None,
        }
    });
    if let Some(why) = changed {
        return Err(stale(why));
    }
    // Every row under every variant, once: a pair missing from the cache
    // would otherwise be left out of the fit without a word.
    let mut counts: BTreeMap<(usize, &str), usize> = BTreeMap::new();
    for s in &samples {
        *counts.entry((s.row, s.variant.as_str())).or_default() += 1;
    }
    if let Some(((row, variant), _)) = counts.iter().find(|(_, &n)| n > 1) {
        return Err(stale(format!(
            "{} ({variant}) is there twice",
            escape_untrusted(&rows[*row].file, 4096)
        )));
    }
    let missing: Vec<String> = (0..rows.len())
        .flat_map(|row| variants.iter().map(move |&variant| (row, variant)))
        .filter(|pair| !counts.contains_key(pair))
        .map(|(row, variant)| format!("{} ({variant})", escape_untrusted(&rows[row].file, 4096)))
        .collect();
    if let Some(first) = missing.first() {
        let more = match missing.len() {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        return Err(stale(format!("no sample of {first}{more}")));
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of (file, source), grouped.
    fn grouped(rows: &[(&str, &str)]) -> Vec<String> {
        let mut rows: Vec<Row> = rows
            .iter()
            .map(|&(file, source)| Row {
                file: file.into(),
                label: "real".into(),
                kind: "camera".into(),
                set: "s".into(),
                mask: String::new(),
                source: source.into(),
                group: String::new(),
            })
            .collect();
        resolve_groups(&mut rows);
        rows.into_iter().map(|r| r.group).collect()
    }

    /// Sources written loosely still find their row; a file name two rows
    /// share names neither (a group of its own, not the first row's).
    #[test]
    fn loose_sources_resolve_and_shared_names_do_not_guess() {
        assert_eq!(
            grouped(&[
                ("real/x.jpg", "o/r:x.jpg"),
                ("e1.jpg", "real/x.jpg "),
                ("e2.jpg", "real\\x.jpg"),
                ("real/y:1.jpg", "p/q:y.jpg"),
                ("e3.jpg", "real/y:1.jpg"),
                ("a/IMG_1.jpg", "a/a:1"),
                ("b/IMG_1.jpg", "b/b:1"),
                ("e4.jpg", "IMG_1.jpg"),
                ("real\\z.jpg", "s/t:z.jpg"),
                ("e5.jpg", "real\\z.jpg"),
                ("real/IMG_9.jpg", "u/v:9"),
                ("edited/IMG_9.jpg", "IMG_9.jpg"),
                ("./photos/a.jpg", "w/x:a"),
                ("other/a.jpg", "y/z:a"),
                ("e6.jpg", "./photos/a.jpg"),
                ("e7.jpg", "photos/a.jpg"),
            ]),
            [
                "o/r",
                "o/r",
                "o/r",
                "p/q",
                "p/q",
                "a/a",
                "b/b",
                "IMG_1.jpg",
                "s/t",
                "s/t",
                "u/v",
                "u/v",
                "w/x",
                "y/z",
                "w/x",
                "w/x"
            ]
        );
    }

    #[test]
    fn derived_files_join_the_group_of_their_root() {
        // Photos without a source are their own group; an edit joins its
        // photo's, however far down the chain.
        assert_eq!(
            grouped(&[
                ("photos/r1.jpg", ""),
                ("r2.jpg", ""),
                ("e1.jpg", "r1.jpg"),
                ("e2.jpg", "r2.jpg"),
                ("laundered/e1.jpg", "e1.jpg"),
                ("a1.png", ""),
            ]),
            [
                "photos/r1.jpg",
                "r2.jpg",
                "photos/r1.jpg",
                "r2.jpg",
                "photos/r1.jpg",
                "a1.png"
            ]
        );
        // Found files group by repository, and so do their derivatives; a
        // source outside the labels is a group of its own.
        assert_eq!(
            grouped(&[
                ("f.jpg", "owner/repo:f.jpg"),
                ("g.jpg", "f.jpg"),
                ("h.jpg", "elsewhere.jpg"),
            ]),
            ["owner/repo", "owner/repo", "elsewhere.jpg"]
        );
        // A cycle of sources ends, with one group for its members.
        let cycle = grouped(&[("x.jpg", "y.jpg"), ("y.jpg", "x.jpg"), ("z.jpg", "x.jpg")]);
        assert!(cycle.iter().all(|g| *g == cycle[0]), "{cycle:?}");
    }

    #[test]
    fn the_heatmap_is_sampled_onto_the_mask_as_pillow_nearest_does() {
        // A 3x2 map with its top middle cell flagged, against a 7x7 mask.
        // score.py resizes the map with Pillow's NEAREST, which maps mask
        // columns to map columns 0 0 1 1 1 2 2 and rows to 0 0 0 0 1 1 1
        // (checked with Pillow 13): the flagged block is exactly columns
        // 2-4 of rows 0-3, so F1 is 1 there (score.py's f1_iou says so).
        let config = Config::default();
        let mut report = trueshot::analyze_image(
            &image::DynamicImage::ImageRgb8(image::RgbImage::new(64, 64)),
            &config,
        )
        .expect("report");
        let mut map = trueshot::Heatmap::zeros(3, 2, 1);
        map.values[1] = 1.0;
        report.heatmap = Some(map);
        let mask = image::GrayImage::from_fn(7, 7, |x, y| {
            image::Luma([if (2..5).contains(&x) && y < 4 { 255 } else { 0 }])
        });
        let path = std::env::temp_dir().join(format!("trueshot-mask-{}.png", std::process::id()));
        mask.save(&path).expect("mask");
        let f1 = localisation_f1(&report, &path, &config);
        let _ = std::fs::remove_file(&path);
        assert_eq!(f1, Ok(Some(1.0)));
        // One of its six 1-px cells: a sixth of the image is marked.
        let share = flagged_share(&report).expect("a heatmap");
        assert!((share - 1.0 / 6.0).abs() < 1e-6, "{share}");
        report.heatmap = None;
        assert_eq!(flagged_share(&report), None);
    }

    #[test]
    fn pillow_nearest_indices_match_pillow() {
        // Pillow 13's Image.resize(..., NEAREST) of a ramp 0..src to dst.
        assert_eq!(pillow_nearest(2, 7), [0, 0, 0, 0, 1, 1, 1]);
        assert_eq!(pillow_nearest(3, 7), [0, 0, 1, 1, 1, 2, 2]);
        assert_eq!(pillow_nearest(7, 3), [1, 3, 5]);
        assert_eq!(pillow_nearest(4, 10), [0, 0, 1, 1, 1, 2, 2, 2, 3, 3]);
        assert_eq!(pillow_nearest(5, 5), [0, 1, 2, 3, 4]);
        assert!(pillow_nearest(0, 3).is_empty() && pillow_nearest(3, 0).is_empty());
    }
}
