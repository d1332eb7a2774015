//! `trueshot eval`: detection and localisation figures on a labelled corpus.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;
use trueshot::fusion::{auc, auc_interval, Z_95};
use trueshot::{escape_untrusted, Config, DetectorKind, Report, Verdict};

use crate::dataset::{self, Row, Sample};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EvalFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// labels.csv in the corpus format (file,label,kind,set,mask,source,generator).
    pub labels: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = EvalFormat::Human)]
    pub format: EvalFormat,
    /// Write a ROC curve (one line per set) to this PNG.
    #[arg(long, value_name = "PNG")]
    pub roc: Option<PathBuf>,
    /// Perturb every file first, e.g. `jpeg:70-95,resize:1600,strip-metadata,crop:0.8-1.0`
    /// (also `gif`: a 256-colour palette; `defocus:2-6`: the background
    /// blurred with a sigma of 2-6 pixels, as portrait mode does).
    #[arg(long, value_name = "STEPS")]
    pub perturb: Option<String>,
    /// Target false-alarm rate of the verdicts.
    #[arg(long, value_name = "RATE", default_value_t = 0.01)]
    pub max_false_alarm: f32,
    /// Share of genuine photos, in (0, 1), that may be sent to review or
    /// flagged: sets the authentic threshold from the model's out-of-fold
    /// scores of genuine photos (default: the model's own, 2.5% at the
    /// default false-alarm rate).
    #[arg(long, value_name = "RATE")]
    pub review_rate: Option<f32>,
    /// A fusion model file to evaluate instead of the built-in one.
    #[arg(long, value_name = "JSON")]
    pub model: Option<PathBuf>,
    /// Worker threads (default: one per core; at most 1024).
    #[arg(long, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1024))]
    pub threads: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct KindFigures {
    pub kind: String,
    pub n: usize,
    pub auc: Option<f32>,
    /// 95% confidence interval of `auc` (DeLong; `fusion::auc_interval`).
    pub auc_ci95: Option<[f32; 2]>,
    pub detection_rate: Option<f32>,
    /// Share not called authentic: flagged or sent to review.
    pub reviewed: Option<f32>,
    pub localisation_f1: Option<f32>,
    pub localisation_n: usize,
}

#[derive(Debug, Serialize)]
pub struct SetFigures {
    pub set: String,
    pub n_real: usize,
    pub n_positive: usize,
    pub errors: usize,
    pub auc: Option<f32>,
    /// 95% confidence interval of `auc` (DeLong; `fusion::auc_interval`):
    /// how far another sample of the same size could put it.
    pub auc_ci95: Option<[f32; 2]>,
    /// The AUC of the scores before the camera original's discount
    /// (`fusion::score_before_camera_discount`): without the metadata's
    /// ordering. It moves with the operating point only through evidence
    /// scored on the point's bands (declarations, local evidence), not
    /// through the discount.
    pub auc_before_camera_discount: Option<f32>,
    pub tpr_at_fpr_1: Option<f32>,
    pub tpr_at_fpr_5: Option<f32>,
    pub false_alarm_rate: Option<f32>,
    /// 95% confidence interval of `false_alarm_rate` (Wilson): none of 86
    /// genuine photos flagged still allows a rate up to 4.3%.
    pub false_alarm_rate_ci95: Option<[f32; 2]>,
    pub detection_rate: Option<f32>,
    /// Shares of genuine photos and of positives not called authentic:
    /// flagged or sent to review (the review load and what it catches).
    pub real_reviewed: Option<f32>,
    pub positive_reviewed: Option<f32>,
    /// Share of genuine photos whose heatmap flags any pixel, and the mean
    /// share of their pixels it flags: what a reviewer sees marked on
    /// honest photos whatever their verdict (none without heatmaps, under a
    /// perturbation that moves the pixels).
    pub real_marked: Option<f32>,
    pub real_marked_area: Option<f32>,
    pub kinds: Vec<KindFigures>,
    pub detector_auc: BTreeMap<String, Option<f32>>,
    /// Per feature of the model, the AUC of its raw value (photos without
    /// it left out): below 0.5, the feature falls as the class rises. It
    /// covers the detectors that give features only (texture_stats).
    pub feature_auc: BTreeMap<String, Option<f32>>,
    pub mean_ms_per_image: f32,
}

/// Print the figures of `args.labels`. Exit status: 0 when every sample
/// was analysed, 1 when some failed (they are listed on stderr and left
/// out of the figures, which are still printed), 2 on a usage error.
pub fn run(args: &EvalArgs) -> Result<ExitCode, String> {
    let mut config = Config::default();
    config.max_false_alarm = args.max_false_alarm;
    config.review_rate = args.review_rate;
    config.model_path.clone_from(&args.model);
    if let Some(path) = &args.roc {
        check_roc_path(path)?;
    }
    let steps = match &args.perturb {
        Some(spec) => trueshot::perturb::parse(spec).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    // Masks only line up with the pixels when the geometry is untouched.
    let geometry_kept = steps.iter().all(|s| {
        matches!(
            s,
            trueshot::perturb::Perturbation::Jpeg { .. }
                | trueshot::perturb::Perturbation::Gif
                | trueshot::perturb::Perturbation::StripMetadata
                | trueshot::perturb::Perturbation::Defocus { .. }
        )
    });
    config.heatmap = geometry_kept;
    let analyzer = crate::analyzer_for(config)?;
    let (base, rows) = dataset::read_labels(&args.labels)?;
    let variant = args.perturb.clone().unwrap_or_else(|| "as-found".into());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .map_err(|e| e.to_string())?;
    let samples =
        pool.install(|| dataset::analyse(&analyzer, &base, &rows, &[(variant.clone(), steps)]));
    dataset::report_failures("eval", &rows, &samples);
    let (seen, files) = seen_in_training(&samples, analyzer.model());
    if seen > 0 {
        eprintln!(
            "eval: warning: the model was fitted on {seen} of these {files} files: figures on them \
             are in-sample and flatter it; for unseen data see `trueshot calibrate --nested`"
        );
    }
    let figures = figures(&rows, &samples, &analyzer.model().features);
    let text = match args.format {
        EvalFormat::Json => serde_json::to_string_pretty(&serde_json::json!({
            "labels": args.labels.to_string_lossy(),
            "variant": variant,
            "max_false_alarm": args.max_false_alarm,
            "review_rate": args.review_rate,
            "operating_point": analyzer.operating_point(),
            "files_in_training": seen,
            "sets": figures,
        }))
        .map_err(|e| e.to_string())?,
        EvalFormat::Markdown => markdown(&figures),
        EvalFormat::Human => human(&figures, &variant),
    };
    crate::print_out(&text)?;
    // Drawn after the figures are printed, so that a failed write loses
    // only the drawing, not the analysis.
    if let Some(path) = &args.roc {
        draw_roc(path, &rows, &samples)?;
    }
    // As `scan`: 1 when some sample failed, so that a script does not take
    // figures over part of the corpus (or none of it) for the whole.
    Ok(if samples.iter().all(|s| s.report.is_ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// How many of the samples' distinct files the model was fitted on (by
/// the fingerprints it keeps; none for a model written before it kept
/// them), and how many distinct files were read.
fn seen_in_training(samples: &[Sample], model: &trueshot::fusion::Model) -> (usize, usize) {
    let training: BTreeSet<&str> = model.training_files.iter().map(String::as_str).collect();
    let files = dataset::fingerprints_of(samples);
    let seen = files
        .iter()
        .filter(|f| training.contains(f.as_str()))
        .count();
    (seen, files.len())
}

/// Refuse a `--roc` path that cannot be written before analysing, not after.
fn check_roc_path(path: &Path) -> Result<(), String> {
    if !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        return Err(format!(
            "--roc {}: the name must end in .png",
            path.display()
        ));
    }
    crate::check_output_path("--roc", path)
}

/// True-positive rate at a false-positive rate, counted as score.py does.
pub fn tpr_at_fpr(negatives: &[f32], positives: &[f32], fpr: f32) -> Option<f32> {
    if negatives.is_empty() || positives.is_empty() {
        return None;
    }
    let mut neg = negatives.to_vec();
    neg.sort_by(f32::total_cmp);
    let allowed = (fpr * neg.len() as f32).floor() as usize;
    let threshold = if allowed < neg.len() {
        neg[neg.len() - allowed - 1]
    } else {
        f32::NEG_INFINITY
    };
    Some(positives.iter().filter(|&&p| p > threshold).count() as f32 / positives.len() as f32)
}

fn rate(flags: impl Iterator<Item = bool>) -> Option<f32> {
    let (n, k) = counts(flags);
    (n > 0).then(|| k as f32 / n as f32)
}

/// (all, true) of `flags`.
fn counts(flags: impl Iterator<Item = bool>) -> (usize, usize) {
    flags.fold((0usize, 0usize), |(n, k), f| (n + 1, k + usize::from(f)))
}

/// Two-sided 95% Wilson score interval of the rate of `flags` (Wilson,
/// "Probable inference, the law of succession, and statistical
/// inference", JASA 22(158), 1927): unlike the plain normal interval it
/// stays informative at 0 hits, where the false-alarm rates sit.
fn rate_interval(flags: impl Iterator<Item = bool>) -> Option<[f32; 2]> {
    let (n, k) = counts(flags);
    if n == 0 {
        return None;
    }
    let (n, p) = (n as f64, k as f64 / n as f64);
    let z2 = Z_95 * Z_95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z_95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some([
        (centre - half).max(0.0) as f32,
        (centre + half).min(1.0) as f32,
    ])
}

/// A detector's image-level score: its strongest finding.
fn detector_score(report: &Report, kind: DetectorKind) -> f32 {
    report
        .findings
        .iter()
        .filter(|f| f.detector == kind)
        .map(|f| f.score)
        .fold(0.0, f32::max)
}

/// The samples of each set (every set a row names), in sample order:
/// grouped once, so that a labels file of many small sets is not read
/// once per set.
fn by_set<'a>(
    rows: &'a [Row],
    samples: &'a [Sample],
) -> BTreeMap<&'a str, Vec<(&'a Row, &'a Sample)>> {
    let mut sets: BTreeMap<&str, Vec<(&Row, &Sample)>> =
        rows.iter().map(|r| (r.set.as_str(), Vec::new())).collect();
    for s in samples {
        let row = &rows[s.row];
        sets.entry(row.set.as_str()).or_default().push((row, s));
    }
    sets
}

pub fn figures(rows: &[Row], samples: &[Sample], model_features: &[String]) -> Vec<SetFigures> {
    by_set(rows, samples)
        .into_iter()
        .map(|(set, in_set)| {
            let ok: Vec<(&Row, &Report)> = in_set
                .iter()
                .filter_map(|(r, s)| s.report.as_ref().ok().map(|rep| (*r, rep)))
                .collect();
            let scores = |pos: bool, kind: Option<&str>| -> Vec<f32> {
                ok.iter()
                    .filter(|(r, _)| r.is_positive() == pos && kind.is_none_or(|k| r.kind == k))
                    .map(|(_, rep)| rep.score)
                    .collect()
            };
            let (neg, pos) = (scores(false, None), scores(true, None));
            let undiscounted = |pos: bool| -> Vec<f32> {
                ok.iter()
                    .filter(|(r, _)| r.is_positive() == pos)
                    .map(|(_, rep)| trueshot::fusion::score_before_camera_discount(rep))
                    .collect()
            };
            let kinds: BTreeSet<&str> = ok
                .iter()
                .filter(|(r, _)| r.is_positive())
                .map(|(r, _)| r.kind.as_str())
                .collect();
            let kinds = kinds
                .into_iter()
                .map(|kind| {
                    let of_kind: Vec<&(&Row, &Report)> = ok
                        .iter()
                        .filter(|(r, _)| r.is_positive() && r.kind == kind)
                        .collect();
                    // Measured as each sample was analysed (`Marks`).
                    let f1s: Vec<f32> = in_set
                        .iter()
                        .filter(|(r, s)| s.report.is_ok() && r.is_positive() && r.kind == kind)
                        .filter_map(|(r, s)| {
                            // A broken mask costs only its own F1, but is said.
                            s.marks.localisation_f1.clone().unwrap_or_else(|e| {
                                eprintln!(
                                    "eval: warning: mask {} of {} left out: {}",
                                    escape_untrusted(&r.mask, 4096),
                                    escape_untrusted(&r.file, 4096),
                                    escape_untrusted(&e, 4096)
                                );
                                None
                            })
                        })
                        .collect();
                    KindFigures {
                        kind: kind.to_string(),
                        n: of_kind.len(),
                        auc: auc(&neg, &scores(true, Some(kind))),
                        auc_ci95: auc_interval(&neg, &scores(true, Some(kind))),
                        detection_rate: rate(
                            of_kind.iter().map(|(_, rep)| rep.verdict.is_flagged()),
                        ),
                        reviewed: rate(of_kind.iter().map(|(_, rep)| reviewed(rep))),
                        localisation_f1: (!f1s.is_empty())
                            .then(|| f1s.iter().sum::<f32>() / f1s.len() as f32),
                        localisation_n: f1s.len(),
                    }
                })
                .collect();
            // Fusion's findings are the model's own verdict notes, not a
            // detector (its "AUC" was the fused score cut at the authentic
            // threshold). Detectors that give only features (texture_stats)
            // have no findings and so no row.
            let detectors: BTreeSet<DetectorKind> = ok
                .iter()
                .flat_map(|(_, rep)| rep.findings.iter().map(|f| f.detector))
                .filter(|&kind| kind != DetectorKind::Fusion)
                .collect();
            // The AUC of a value per report, left out where it has none.
            let auc_of = |value: &dyn Fn(&Report) -> Option<f32>| {
                let of = |p: bool| -> Vec<f32> {
                    ok.iter()
                        .filter(|(r, _)| r.is_positive() == p)
                        .filter_map(|(_, rep)| value(rep))
                        .collect()
                };
                auc(&of(false), &of(true))
            };
            let detector_auc = detectors
                .into_iter()
                .map(|kind| {
                    let score = |rep: &Report| Some(detector_score(rep, kind));
                    (kind.to_string(), auc_of(&score))
                })
                .collect();
            let feature_auc = model_features
                .iter()
                .map(|name| {
                    let value =
                        |rep: &Report| rep.features.get(name).copied().filter(|v| v.is_finite());
                    (name.clone(), auc_of(&value))
                })
                .collect();
            let marked: Vec<f32> = in_set
                .iter()
                .filter(|(r, s)| !r.is_positive() && s.report.is_ok())
                .filter_map(|(_, s)| s.marks.flagged_share)
                .collect();
            let total_ms: f64 = ok
                .iter()
                .filter_map(|(_, rep)| rep.timings_ms.get("total"))
                .sum();
            let real_flagged = || {
                ok.iter()
                    .filter(|(r, _)| !r.is_positive())
                    .map(|(_, rep)| rep.verdict.is_flagged())
            };
            SetFigures {
                set: set.to_string(),
                n_real: neg.len(),
                n_positive: pos.len(),
                errors: in_set.len() - ok.len(),
                auc: auc(&neg, &pos),
                auc_ci95: auc_interval(&neg, &pos),
                auc_before_camera_discount: auc(&undiscounted(false), &undiscounted(true)),
                tpr_at_fpr_1: tpr_at_fpr(&neg, &pos, 0.01),
                tpr_at_fpr_5: tpr_at_fpr(&neg, &pos, 0.05),
                false_alarm_rate: rate(real_flagged()),
                false_alarm_rate_ci95: rate_interval(real_flagged()),
                detection_rate: rate(
                    ok.iter()
                        .filter(|(r, _)| r.is_positive())
                        .map(|(_, rep)| rep.verdict.is_flagged()),
                ),
                real_reviewed: rate(
                    ok.iter()
                        .filter(|(r, _)| !r.is_positive())
                        .map(|(_, rep)| reviewed(rep)),
                ),
                positive_reviewed: rate(
                    ok.iter()
                        .filter(|(r, _)| r.is_positive())
                        .map(|(_, rep)| reviewed(rep)),
                ),
                real_marked: rate(marked.iter().map(|&share| share > 0.0)),
                real_marked_area: (!marked.is_empty())
                    .then(|| marked.iter().sum::<f32>() / marked.len() as f32),
                kinds,
                detector_auc,
                feature_auc,
                mean_ms_per_image: if ok.is_empty() {
                    0.0
                } else {
                    (total_ms / ok.len() as f64) as f32
                },
            }
        })
        .collect()
}

/// Not called authentic: flagged or sent to review.
fn reviewed(report: &Report) -> bool {
    report.verdict != Verdict::Authentic
}

fn fmt(v: Option<f32>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

/// `v` and its 95% interval, "0.955 (0.925-0.985)".
fn fmt_ci(v: Option<f32>, ci: Option<[f32; 2]>) -> String {
    match ci {
        Some([low, high]) => format!("{} ({low:.3}-{high:.3})", fmt(v)),
        None => fmt(v),
    }
}

/// Most characters of a set or kind name printed.
const SHOWN_NAME_CHARS: usize = 200;

/// A set or kind name from the labels file as printed: escaped, so that a
/// crafted name cannot send control sequences to a terminal.
fn shown(name: &str) -> String {
    escape_untrusted(name, SHOWN_NAME_CHARS)
}

/// [`shown`] in a Markdown table cell, its pipes escaped.
fn cell(name: &str) -> String {
    shown(name).replace('|', "\\|")
}

fn markdown(figures: &[SetFigures]) -> String {
    let mut out = String::from(
        "| set | real | positive | AUC (95% CI) | AUC before camera discount | TPR@1% | TPR@5% | false alarms (95% CI) | detected | genuine reviewed | positives reviewed | genuine marked (area) | ms/image |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for f in figures {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {:.0} |\n",
            cell(&f.set),
            f.n_real,
            f.n_positive,
            fmt_ci(f.auc, f.auc_ci95),
            fmt(f.auc_before_camera_discount),
            fmt(f.tpr_at_fpr_1),
            fmt(f.tpr_at_fpr_5),
            fmt_ci(f.false_alarm_rate, f.false_alarm_rate_ci95),
            fmt(f.detection_rate),
            fmt(f.real_reviewed),
            fmt(f.positive_reviewed),
            fmt(f.real_marked),
            fmt(f.real_marked_area),
            f.mean_ms_per_image
        ));
    }
    out.push_str(
        "\n| set | kind | n | AUC (95% CI) | detected | reviewed | localisation F1 (n) |\n|---|---|---|---|---|---|---|\n",
    );
    for f in figures {
        for k in &f.kinds {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} ({}) |\n",
                cell(&f.set),
                cell(&k.kind),
                k.n,
                fmt_ci(k.auc, k.auc_ci95),
                fmt(k.detection_rate),
                fmt(k.reviewed),
                fmt(k.localisation_f1),
                k.localisation_n
            ));
        }
    }
    out.push_str("\n| set | detector | AUC |\n|---|---|---|\n");
    for f in figures {
        for (d, a) in &f.detector_auc {
            out.push_str(&format!("| {} | {} | {} |\n", cell(&f.set), d, fmt(*a)));
        }
    }
    out
}

fn human(figures: &[SetFigures], variant: &str) -> String {
    let mut out = format!("variant: {variant}  (in parentheses: 95% confidence intervals)\n");
    for f in figures {
        out.push_str(&format!(
            "\n{}: {} real, {} positive, {} errors\n  AUC {}, before the camera discount {}  TPR@1% {}  TPR@5% {}  false alarms {}  detected {}  reviewed: genuine {} positive {}  genuine marked {} (area {})  {:.0} ms/image\n",
            shown(&f.set), f.n_real, f.n_positive, f.errors, fmt_ci(f.auc, f.auc_ci95), fmt(f.auc_before_camera_discount), fmt(f.tpr_at_fpr_1), fmt(f.tpr_at_fpr_5),
            fmt_ci(f.false_alarm_rate, f.false_alarm_rate_ci95), fmt(f.detection_rate), fmt(f.real_reviewed), fmt(f.positive_reviewed),
            fmt(f.real_marked), fmt(f.real_marked_area), f.mean_ms_per_image
        ));
        for k in &f.kinds {
            out.push_str(&format!(
                "  {:<12} n={:<4} AUC {}  detected {}  reviewed {}  loc F1 {} (n={})\n",
                shown(&k.kind),
                k.n,
                fmt_ci(k.auc, k.auc_ci95),
                fmt(k.detection_rate),
                fmt(k.reviewed),
                fmt(k.localisation_f1),
                k.localisation_n
            ));
        }
        let det: Vec<String> = f
            .detector_auc
            .iter()
            .map(|(d, a)| format!("{d} {}", fmt(*a)))
            .collect();
        out.push_str(&format!("  detector AUC: {}\n", det.join(", ")));
        let features: Vec<String> = f
            .feature_auc
            .iter()
            .map(|(name, a)| format!("{name} {}", fmt(*a)))
            .collect();
        if !features.is_empty() {
            out.push_str(&format!("  model feature AUC: {}\n", features.join(", ")));
        }
    }
    out
}

/// One ROC curve per set, drawn with plotters. Colours, in set order:
/// blue, orange, green, red, purple, brown (listed on stderr).
fn draw_roc(path: &Path, rows: &[Row], samples: &[Sample]) -> Result<(), String> {
    use plotters::prelude::*;
    const SIZE: u32 = 640;
    let palette = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    let mut buffer = vec![255u8; (SIZE * SIZE * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (SIZE, SIZE)).into_drawing_area();
        let area = root.margin(20, 20, 20, 20);
        let mut chart = ChartBuilder::on(&area)
            .build_cartesian_2d(0f32..1f32, 0f32..1f32)
            .map_err(|e| e.to_string())?;
        for i in 0..=10 {
            let t = i as f32 / 10.0;
            let grid = RGBColor(225, 225, 225);
            chart
                .draw_series(LineSeries::new([(t, 0.0), (t, 1.0)], grid))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(LineSeries::new([(0.0, t), (1.0, t)], grid))
                .map_err(|e| e.to_string())?;
        }
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                RGBColor(160, 160, 160),
            ))
            .map_err(|e| e.to_string())?;
        for (i, (set, in_set)) in by_set(rows, samples).into_iter().enumerate() {
            let pairs: Vec<(bool, f32)> = in_set
                .iter()
                .filter_map(|(row, s)| s.report.as_ref().ok().map(|r| (row.is_positive(), r.score)))
                .collect();
            let color = palette[i % palette.len()];
            chart
                .draw_series(LineSeries::new(roc_points(&pairs), color.stroke_width(3)))
                .map_err(|e| e.to_string())?;
            // The labels file's set name, shown as text.
            eprintln!(
                "roc: {} drawn in rgb{:?}",
                escape_untrusted(set, 200),
                (color.0, color.1, color.2)
            );
        }
        root.present().map_err(|e| e.to_string())?;
    }
    image::RgbImage::from_raw(SIZE, SIZE, buffer)
        .ok_or("ROC buffer has the wrong size")?
        .save(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn roc_points(pairs: &[(bool, f32)]) -> Vec<(f32, f32)> {
    let positives = pairs.iter().filter(|p| p.0).count().max(1) as f32;
    let negatives = pairs.iter().filter(|p| !p.0).count().max(1) as f32;
    let mut sorted = pairs.to_vec();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    for (i, (positive, score)) in sorted.iter().enumerate() {
        if *positive {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        if sorted.get(i + 1).is_none_or(|next| next.1 != *score) {
            points.push((fp / negatives, tp / positives));
        }
    }
    points.push((1.0, 1.0));
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wilson's interval at known values: none of 86 flagged still allows
    /// 4.28% (z² / (n + z²)), and 5 of 10 gives 0.237-0.763.
    #[test]
    fn rate_intervals_follow_wilson() {
        let [low, high] = rate_interval((0..86).map(|_| false)).expect("interval");
        assert_eq!(low, 0.0);
        assert!((high - 0.042_76).abs() < 1e-4, "{high}");
        let [low, high] = rate_interval((0..10).map(|i| i < 5)).expect("interval");
        assert!(
            (low - 0.2366).abs() < 1e-3 && (high - 0.7634).abs() < 1e-3,
            "{low} {high}"
        );
        assert_eq!(rate_interval(std::iter::empty()), None);
    }
}
