//! `trueshot calibrate`: fit the fusion model on a labelled corpus, with
//! k-fold cross-validation by source group, and write it as JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use rayon::prelude::*;
use serde_json::json;
use trueshot::fusion::{
    self, auc, auc_interval, fit_boosted_head, fit_head, threshold_for, Head, Model, OperatingPoint,
};
use trueshot::perturb::{self, Perturbation};
use trueshot::{Analyzer, Config, DetectorKind, Finding, Report};

use crate::dataset::{self, Row, Sample};

/// Training variants: the files as found plus what upload pipelines do.
const DEFAULT_VARIANTS: &str =
    "strip-metadata;jpeg:70-95;resize:1600,jpeg:70-95;crop:0.8-1.0,resize:1024,jpeg:70-95";
/// False-alarm rates for which operating points are stored.
const RATES: [f32; 5] = [0.005, 0.01, 0.02, 0.05, 0.1];
/// Features no head may use: they describe the file (format, quality
/// setting, size, where a peak sits) rather than measure evidence, and in a
/// corpus those correlate with the class for reasons that do not hold
/// elsewhere ("the AI images are small PNGs").
const DESCRIPTORS: &[&str] = &[
    "jpeg.applicable",
    "jpeg.quality",
    "jpeg.standard_table",
    "spectrum.tiles",
    "spectrum.tile_size",
    "spectrum.peak_fx",
    "spectrum.peak_fy",
    "noise_residual.top_cells",
];
/// Thresholds are set for this fraction of the target false-alarm rate: a
/// margin for cameras, pipelines and generators the corpus does not have.
const SAFETY_FACTOR: f32 = 0.25;
/// L2 penalties tried by cross-validation.
const PENALTIES: [f64; 4] = [0.3, 1.0, 3.0, 10.0];
/// Most rounds of setting the operating points on the scores they give.
const SETTLE_ROUNDS: usize = 5;

#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// labels.csv in the corpus format.
    pub labels: PathBuf,
    /// Where to write the model.
    #[arg(short, long, value_name = "JSON")]
    pub output: PathBuf,
    /// Perturbed training variants, `;`-separated, each a perturbation list.
    #[arg(long, value_name = "SPECS", default_value = DEFAULT_VARIANTS)]
    pub variants: String,
    /// Number of cross-validation folds, 2-10000 (reduced to the number of
    /// source groups when there are fewer).
    #[arg(
        long,
        default_value_t = 5,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(2..=10_000)
    )]
    pub folds: usize,
    /// Worker threads (default: one per core; at most 1024).
    #[arg(long, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1024))]
    pub threads: Option<usize>,
    /// Select the features afresh: keep at most this many, chosen by greedy
    /// forward selection on the out-of-fold AUC (0 keeps them all). Without
    /// it (or --features) the built-in model's features are refitted: on the
    /// development corpus a fresh selection did not generalise (nested
    /// cross-validation, README), so select only with many labelled images
    /// and check the result with --nested.
    #[arg(long, value_name = "N")]
    pub max_features: Option<usize>,
    /// Fit exactly these features (comma-separated names, or a model JSON
    /// whose features to reuse) instead of the built-in model's: refits an
    /// earlier model's feature set on new data, so its figures can be
    /// compared.
    #[arg(long, value_name = "NAMES|MODEL.json", conflicts_with = "max_features",
          value_parser = feature_list)]
    pub features: Option<FeatureNames>,
    /// Keep the analysed samples in this JSONL file and reuse them when it
    /// exists (for refitting without analysing the corpus again). A cache
    /// that does not hold exactly these rows under these variants, whose
    /// files changed since, or that another trueshot build analysed, is
    /// refused: remove it to analyse again.
    #[arg(long, value_name = "JSONL")]
    pub samples: Option<PathBuf>,
    /// The heads' kind: `logistic` (logistic regression over the built-in
    /// model's features, or those of --features or --max-features) or `boosted`
    /// (gradient-boosted trees over every usable feature). On the
    /// development corpus boosted heads lose under grouped cross-validation
    /// (laundered AUC 0.75 against 0.84): a few hundred images per class are
    /// too few for them; platforms with more labelled claims can try them.
    #[arg(long, value_enum, default_value_t = HeadKind::Logistic)]
    pub heads: HeadKind,
    /// Also measure the whole recipe by nested cross-validation (Varma &
    /// Simon 2006): each outer fold is scored by a model whose penalty,
    /// operating points and (with --max-features or boosted heads) features
    /// were chosen on the other folds alone. The plain out-of-fold figures
    /// choose them on the same scores they report, which flatters them.
    /// Fixed features (the built-in model's, or --features) are not
    /// chosen per fold: if they were chosen on this data, the nested
    /// figures flatter them too. About `folds` times the cost of the fit.
    #[arg(long)]
    pub nested: bool,
}

/// How each class's head is fitted.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadKind {
    /// Gradient-boosted trees (`fusion::fit_boosted_head`).
    Boosted,
    /// Logistic regression (`fusion::fit_head`).
    Logistic,
}

struct Data<'a> {
    rows: &'a [Row],
    samples: Vec<(&'a Sample, &'a Report, Vec<Finding>)>,
    x: Vec<Vec<f32>>,
    features: Vec<String>,
}

pub fn run(args: &CalibrateArgs) -> Result<ExitCode, String> {
    // Everything parallel (analysis, the cache check, feature selection)
    // runs on --threads workers.
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .map_err(|e| e.to_string())?
        .install(|| calibrate(args))
}

fn calibrate(args: &CalibrateArgs) -> Result<ExitCode, String> {
    let mut config = Config::default();
    config.heatmap = false;
    let analyzer = Analyzer::new(config).map_err(|e| e.to_string())?;
    if args.heads == HeadKind::Boosted && args.max_features.is_some() {
        return Err(
            "--max-features selects features for logistic heads; boosted heads \
                    use every usable feature (or those of --features)"
                .into(),
        );
    }
    // The model is written after the analysis, which takes hours on a
    // large corpus: a path that cannot be written is refused first.
    crate::check_output_path("-o", &args.output)?;
    if let Some(path) = args.samples.as_deref().filter(|p| !p.exists()) {
        crate::check_output_path("--samples", path)?;
    }
    let (base, rows) = dataset::read_labels(&args.labels)?;
    refuse_unpaired_sets(&rows)?;
    let mut variants: Vec<(String, Vec<Perturbation>)> = vec![("as-found".into(), Vec::new())];
    for spec in args
        .variants
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        variants.push((
            spec.to_string(),
            perturb::parse(spec).map_err(|e| e.to_string())?,
        ));
    }
    let started = std::time::Instant::now();
    let samples = match args.samples.as_deref().filter(|p| p.exists()) {
        Some(path) => {
            let names: Vec<&str> = variants.iter().map(|(name, _)| name.as_str()).collect();
            dataset::load_samples(path, &base, &rows, &names, analyzer.config().max_file_bytes)?
        }
        None => {
            let samples = dataset::analyse(&analyzer, &base, &rows, &variants);
            if let Some(path) = &args.samples {
                dataset::save_samples(path, &samples, &rows)?;
            }
            samples
        }
    };
    eprintln!(
        "calibrate: analysed {} samples in {:.0} s",
        samples.len(),
        started.elapsed().as_secs_f32()
    );

    dataset::report_failures("calibrate", &rows, &samples);

    let all = prepare(&rows, &samples);
    check_usable(&all)?;
    // Folds are dealt over the groups that have usable samples: a fold
    // without any would refit the heads on everything and test nothing.
    let groups: BTreeSet<&str> = all
        .samples
        .iter()
        .map(|(s, _, _)| rows[s.row].group.as_str())
        .collect();
    if groups.len() < 2 {
        return Err(format!(
            "cross-validation needs usable samples from at least 2 source groups; found {}",
            groups.len()
        ));
    }
    let k = args.folds.min(groups.len());
    if k < args.folds {
        eprintln!(
            "calibrate: {} folds requested but only {} source groups: using {k} folds",
            args.folds,
            groups.len()
        );
    }
    let folds = assign_folds(
        all.samples
            .iter()
            .map(|(s, _, _)| rows[s.row].group.as_str()),
        k,
    );
    warn_of_one_class_folds(&all, &folds, k, "");
    // Said before the fit rather than after it.
    if let Some(why) = args
        .nested
        .then(|| nested_blocker(&all, &folds, k))
        .flatten()
    {
        return Err(why);
    }
    // The reported out-of-fold figures fuse with the final operating points,
    // as the shipped model does (the camera-provenance rule reads the
    // authentic threshold); so do the genuine scores a review rate reads.
    let Tuned {
        data,
        l2,
        operating_points,
        oof,
    } = tune(&all, &folds, k, args, true)?;
    let real_oof = genuine_scores(&data, &oof);
    warn_of_unkept_rates(&operating_points, &real_oof);
    warn_of_few_genuine(real_oof.len());
    let (ai, edited) = fit_heads(&data, &vec![true; data.samples.len()], l2, args.heads);
    let mut model = Model {
        description: String::new(),
        features: data.features.clone(),
        ai_generated: ai,
        edited,
        operating_points,
        genuine_scores: fusion::genuine_quantiles(&real_oof),
        cross_validation: serde_json::Value::Null,
        training_files: training_files(&data),
        fitted_by: Some(fusion::BUILD.into()),
    };
    let in_sample: Vec<Scored> = data
        .samples
        .iter()
        .zip(&data.x)
        .map(|((_, rep, f), _)| fused(&model, rep, f))
        .collect();
    let point = model.operating_point(0.01);
    model.cross_validation = json!({
        "folds": k,
        "grouping": "source repository; derived files join the group of their source",
        "heads": format!("{:?}", args.heads).to_lowercase(),
        "l2": l2,
        "variants": variants.iter().map(|v| v.0.clone()).collect::<Vec<_>>(),
        "operating_point_1pct": point,
        "out_of_fold": figures(&data, &oof),
        "in_sample": figures(&data, &in_sample),
    });
    if args.nested {
        if features_fixed(args) {
            eprintln!(
                "calibrate: --nested: the features are fixed ({}), not chosen within each outer fold: \
                 if they were chosen on this data, the nested figures still flatter them",
                if args.features.is_some() { "--features" } else { "the built-in model's" }
            );
        }
        model.cross_validation["nested_features_fixed"] = json!(features_fixed(args));
        let started = std::time::Instant::now();
        let nested = nested_out_of_fold(&all, &folds, k, args)?;
        eprintln!(
            "calibrate: nested cross-validation in {:.0} s",
            started.elapsed().as_secs_f32()
        );
        model.cross_validation["nested_out_of_fold"] = figures(&all, &nested);
        model.cross_validation["nested_fold_mean_auc"] = fold_mean_auc(&all, &nested, &folds, k);
    }
    let chosen_how = match (&args.features, args.heads, args.max_features) {
        (Some(_), _, _) => "given by --features",
        (None, HeadKind::Boosted, _) | (None, _, Some(0)) => "all usable",
        (None, _, Some(_)) => "chosen by forward selection",
        (None, _, None) => "the built-in model's",
    };
    let heads = match args.heads {
        HeadKind::Boosted => "gradient-boosted tree heads (200 trees of depth 3 each)",
        HeadKind::Logistic => "logistic heads",
    };
    model.description = format!(
        "Fitted by `trueshot calibrate {}` on {} rows x {} variants ({} samples), {}; \
         {heads} over {} pixel features ({chosen_how}); operating points from out-of-fold scores of genuine photos.",
        args.labels.display(),
        rows.len(),
        variants.len(),
        data.samples.len(),
        today(),
        data.features.len()
    );
    model.check().map_err(|e| e.to_string())?;
    let text = serde_json::to_string_pretty(&model).map_err(|e| e.to_string())?;
    std::fs::write(&args.output, text + "\n")
        .map_err(|e| format!("cannot write {}: {e}", args.output.display()))?;
    crate::print_out(&serde_json::to_string_pretty(&model.cross_validation).unwrap_or_default())?;
    // As `eval`: 1 when some sample failed, so that a pipeline does not ship
    // a model fitted on part of the corpus unawares (the model is written).
    Ok(if samples.iter().all(|s| s.report.is_ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Whether the recipe takes its features as given (--features, or the
/// built-in model's) rather than choosing them from the data.
fn features_fixed(args: &CalibrateArgs) -> bool {
    args.features.is_some() || (args.heads == HeadKind::Logistic && args.max_features.is_none())
}

/// What the recipe chooses from data: the feature columns (kept in
/// `data`), the penalty, and the operating points.
struct Tuned<'a> {
    data: Data<'a>,
    l2: f64,
    operating_points: Vec<OperatingPoint>,
    /// Out-of-fold scores fused at `operating_points`.
    oof: Vec<Scored>,
}

/// Choose the features (given by `--features`, all, or by forward
/// selection), then the penalty by out-of-fold AUC, then the operating
/// points from the genuine photos' out-of-fold scores, on `all` under
/// `folds`. `verbose` logs each step.
fn tune<'a>(
    all: &Data<'a>,
    folds: &BTreeMap<String, usize>,
    k: usize,
    args: &CalibrateArgs,
    verbose: bool,
) -> Result<Tuned<'a>, String> {
    let named = |names: Vec<String>, whose: &str| -> Result<Data<'a>, String> {
        let columns = names
            .iter()
            .map(|n| {
                all.features
                    .iter()
                    .position(|f| f == n)
                    .ok_or_else(|| format!("{whose}: no usable feature named {n}"))
            })
            .collect::<Result<Vec<usize>, String>>()?;
        Ok(restrict(all, &columns))
    };
    let every = || restrict(all, &(0..all.features.len()).collect::<Vec<_>>());
    let data = match (&args.features, args.heads, args.max_features) {
        (Some(FeatureNames(names)), _, _) => named(names.clone(), "--features")?,
        (None, HeadKind::Boosted, _) | (None, _, Some(0)) => every(),
        (None, _, Some(max)) => restrict(all, &select_features(all, folds, k, max, verbose)),
        (None, _, None) => {
            // Some features exist only for some inputs (the JPEG ones for
            // JPEG files): a corpus without such inputs is fitted without
            // them, as the model reads a missing feature as its mean.
            let (present, missing): (Vec<String>, Vec<String>) = Model::builtin()
                .features
                .into_iter()
                .partition(|n| all.features.contains(n));
            if present.is_empty() {
                return Err(
                    "no feature of the built-in model is measured on any usable sample; \
                     choose features with --features or --max-features"
                        .into(),
                );
            }
            if verbose && !missing.is_empty() {
                eprintln!(
                    "calibrate: warning: the built-in model's {} measured on no usable sample \
                     (JPEG features need JPEG inputs): fitted without {}",
                    if missing.len() == 1 {
                        "feature is"
                    } else {
                        "features are"
                    },
                    missing.join(", ")
                );
            }
            named(present, "the built-in model")?
        }
    };
    let uncalibrated = Model::uncalibrated().operating_points;
    let mut best: Option<(f64, f32, Vec<Scored>)> = None;
    for &l2 in &PENALTIES {
        let oof = out_of_fold(&data, folds, k, l2, args.heads, &uncalibrated);
        let quality = mean_auc(&data, &oof);
        if verbose {
            eprintln!("calibrate: l2 {l2}: mean out-of-fold AUC {quality:.4}");
        }
        if best.as_ref().is_none_or(|b| quality > b.1 + 1e-4) {
            best = Some((l2, quality, oof));
        }
    }
    let (l2, _, oof) = best.ok_or("no penalty evaluated")?;
    // The fused scores depend on the points they are set on (the
    // camera-provenance rule reads the authentic threshold): set them again
    // on the scores they give until they settle, so that the points and
    // the genuine scores a review rate reads agree.
    let mut operating_points = operating_points_for(&genuine_scores(&data, &oof));
    let mut round = 0;
    let oof = loop {
        round += 1;
        let oof = out_of_fold(&data, folds, k, l2, args.heads, &operating_points);
        let settled = operating_points_for(&genuine_scores(&data, &oof));
        if settled == operating_points {
            if verbose {
                eprintln!("calibrate: operating points settled after {round} round(s)");
            }
            break oof;
        }
        operating_points = settled;
        if round == SETTLE_ROUNDS {
            // Said also for an outer fold of --nested (not verbose).
            eprintln!(
                "calibrate: warning: the operating points did not settle in {SETTLE_ROUNDS} rounds"
            );
            break out_of_fold(&data, folds, k, l2, args.heads, &operating_points);
        }
    };
    Ok(Tuned {
        data,
        l2,
        operating_points,
        oof,
    })
}

/// The scores of the genuine photos among `scored`, before the camera
/// original's discount: the 1% point's discount never lowers a score past
/// its own authentic threshold, but it would lower one past another
/// point's, where the discount does not apply, and send more genuine
/// photos to review there than the point's rate allows.
fn genuine_scores(data: &Data<'_>, scored: &[Scored]) -> Vec<f32> {
    data.samples
        .iter()
        .zip(scored)
        .filter(|((s, _, _), _)| !data.rows[s.row].is_positive())
        .map(|(_, scored)| scored.before_discount)
        .collect()
}

/// An operating point per stored rate, set on genuine photos' scores
/// with the safety margin.
fn operating_points_for(real_scores: &[f32]) -> Vec<OperatingPoint> {
    RATES
        .iter()
        .map(|&r| OperatingPoint {
            max_false_alarm: r,
            ..threshold_for(real_scores, r * SAFETY_FACTOR)
        })
        .collect()
}

/// Say which operating points let more genuine photos reach their flag
/// threshold than their rate allows: when genuine photos score 1.0 (a
/// saturated head), no threshold in [0, 1] keeps them out.
fn warn_of_unkept_rates(points: &[OperatingPoint], real_oof: &[f32]) {
    for (p, reaching) in unkept_rates(points, real_oof) {
        eprintln!(
            "calibrate: warning: at the {} false-alarm point, {reaching} of {} genuine photos \
             reach the flag threshold {} out-of-fold: the rate is not kept",
            p.max_false_alarm,
            real_oof.len(),
            p.flag
        );
    }
}

/// The figures that choose the penalty and the features are read per set,
/// whose genuine rows are the negatives of its positives (the labels
/// format's `set`: one comparison): labels where no set holds both would
/// give a model chosen on no figure at all. Said from the labels alone,
/// before hours of analysis; that the files can be read is checked after.
fn refuse_unpaired_sets(rows: &[dataset::Row]) -> Result<(), String> {
    if rows.iter().all(|r| r.is_positive()) {
        return Err(
            "no genuine (real) rows: the operating points are chosen on genuine photos; \
                    no model written"
                .into(),
        );
    }
    if rows.iter().all(|r| !r.is_positive()) {
        return Err(
            "no ai_generated or edited rows: there is nothing to fit a head on; \
                    no model written"
                .into(),
        );
    }
    let with_genuine: BTreeSet<&str> = rows
        .iter()
        .filter(|r| !r.is_positive())
        .map(|r| r.set.as_str())
        .collect();
    let paired = rows
        .iter()
        .any(|r| r.is_positive() && with_genuine.contains(r.set.as_str()));
    if paired {
        return Ok(());
    }
    Err(
        "no set holds both genuine photos and positives: a set is one comparison, and its \
         genuine rows are the negatives its positives are measured against"
            .into(),
    )
}

/// Say which stored rates rest on too few genuine samples: under one
/// sample per rate (with the safety margin), a point's flag threshold is
/// only "above the highest genuine score", whatever the rate.
fn warn_of_few_genuine(n_genuine: usize) {
    for &rate in &RATES {
        // Rounded first: 1 / (0.005 x 0.25) is 800, not the 800.00002 of
        // the f32 rate.
        let needed = (1.0 / (f64::from(rate) * f64::from(SAFETY_FACTOR)))
            .round()
            .max(1.0) as usize;
        if n_genuine < needed {
            eprintln!(
                "calibrate: warning: {n_genuine} genuine samples are too few for the {rate} \
                 false-alarm point (it needs {needed}): its flag threshold is set just above \
                 the highest genuine score"
            );
        }
    }
}

/// The fingerprints of the files the model is fitted on, for `eval` to
/// tell in-sample files; none (with a warning) past what a model file
/// may hold.
fn training_files(data: &Data<'_>) -> Vec<String> {
    let files = dataset::fingerprints_of(data.samples.iter().map(|(s, _, _)| *s));
    if files.len() > fusion::MAX_TRAINING_FILES {
        eprintln!(
            "calibrate: warning: {} training files are more than a model keeps ({}); eval will \
             not be able to say which files the model was fitted on",
            files.len(),
            fusion::MAX_TRAINING_FILES
        );
        return Vec::new();
    }
    files
}

/// The points whose flag threshold more than their rate of `real_oof`
/// reach, with how many reach it.
fn unkept_rates<'p>(
    points: &'p [OperatingPoint],
    real_oof: &[f32],
) -> Vec<(&'p OperatingPoint, usize)> {
    points
        .iter()
        .map(|p| (p, real_oof.iter().filter(|&&s| s >= p.flag).count()))
        .filter(|&(p, reaching)| reaching as f32 > p.max_false_alarm * real_oof.len() as f32)
        .collect()
}

/// Nested cross-validation: each outer fold is scored by a model tuned
/// ([`tune`]: features, penalty, operating points) and fitted on the other
/// folds alone, with inner folds dealt over their source groups.
fn nested_out_of_fold(
    all: &Data<'_>,
    folds: &BTreeMap<String, usize>,
    k: usize,
    args: &CalibrateArgs,
) -> Result<Vec<Scored>, String> {
    if let Some(why) = nested_blocker(all, folds, k) {
        return Err(why);
    }
    let fold_of = fold_of(all, folds);
    let mut nested = vec![Scored::default(); all.samples.len()];
    for fold in 0..k {
        let outer_train = subset(all, |i| fold_of[i] != fold);
        let groups = outer_train
            .samples
            .iter()
            .map(|(s, _, _)| all.rows[s.row].group.as_str());
        let inner_k = k.min(groups.clone().collect::<BTreeSet<_>>().len());
        let inner_folds = assign_folds(groups, inner_k);
        warn_of_one_class_folds(
            &outer_train,
            &inner_folds,
            inner_k,
            &format!("outer fold {fold}'s inner "),
        );
        let tuned = tune(&outer_train, &inner_folds, inner_k, args, false)?;
        let train = vec![true; tuned.data.samples.len()];
        let (ai, edited) = fit_heads(&tuned.data, &train, tuned.l2, args.heads);
        // A fold's model: heads and points only (no description, genuine
        // scores, figures or fingerprints).
        let model = Model {
            features: tuned.data.features.clone(),
            ai_generated: ai,
            edited,
            operating_points: tuned.operating_points,
            ..Model::uncalibrated()
        };
        for (i, (_, report, findings)) in all.samples.iter().enumerate() {
            if fold_of[i] == fold {
                nested[i] = fused(&model, report, findings);
            }
        }
        eprintln!(
            "calibrate: nested fold {}/{k}: {} features, l2 {}",
            fold + 1,
            model.features.len(),
            tuned.l2
        );
    }
    Ok(nested)
}

/// Why nested cross-validation cannot run: the first outer fold whose
/// training split holds fewer than 2 source groups to tune on.
fn nested_blocker(all: &Data<'_>, folds: &BTreeMap<String, usize>, k: usize) -> Option<String> {
    let fold_of = fold_of(all, folds);
    (0..k).find_map(|fold| {
        let groups: BTreeSet<&str> = all
            .samples
            .iter()
            .zip(&fold_of)
            .filter(|&(_, &f)| f != fold)
            .map(|((s, _, _), _)| all.rows[s.row].group.as_str())
            .collect();
        (groups.len() < 2).then(|| {
            format!(
                "nested cross-validation: outer fold {fold} leaves fewer than 2 source groups to tune on"
            )
        })
    })
}

/// Per (set, variant), the mean over folds of each fold's own AUC (folds
/// lacking a class in that cell left out), next to the pooled AUC of
/// [`figures`]: each outer fold of nested cross-validation has its own
/// model, whose scores need not share a scale with the others'.
fn fold_mean_auc(
    data: &Data<'_>,
    scored: &[Scored],
    folds: &BTreeMap<String, usize>,
    k: usize,
) -> serde_json::Value {
    let mut per_cell: BTreeMap<(String, String), Vec<f32>> = BTreeMap::new();
    let fold_of = fold_of(data, folds);
    for fold in 0..k {
        let sub = subset(data, |i| fold_of[i] == fold);
        let sub_scored: Vec<Scored> = (0..scored.len())
            .filter(|&i| fold_of[i] == fold)
            .map(|i| scored[i])
            .collect();
        for (cell, (neg, pos)) in cells(&sub, &sub_scored) {
            if let Some(a) = auc(&scores(&neg), &scores(&pos)) {
                per_cell.entry(cell).or_default().push(a);
            }
        }
    }
    let rows: Vec<serde_json::Value> = per_cell
        .into_iter()
        .map(|((set, variant), aucs)| {
            json!({
                "set": set,
                "variant": variant,
                "folds": aucs.len(),
                "mean_auc": aucs.iter().sum::<f32>() / aucs.len() as f32,
            })
        })
        .collect();
    json!(rows)
}

/// Each sample's fold, by its source group.
fn fold_of(data: &Data<'_>, folds: &BTreeMap<String, usize>) -> Vec<usize> {
    data.samples
        .iter()
        .map(|(s, _, _)| folds.get(&data.rows[s.row].group).copied().unwrap_or(0))
        .collect()
}

/// The samples `keep` admits (by index), with all the feature columns.
fn subset<'a>(data: &Data<'a>, keep: impl Fn(usize) -> bool) -> Data<'a> {
    let kept: Vec<usize> = (0..data.samples.len()).filter(|&i| keep(i)).collect();
    Data {
        rows: data.rows,
        samples: kept.iter().map(|&i| data.samples[i].clone()).collect(),
        x: kept.iter().map(|&i| data.x[i].clone()).collect(),
        features: data.features.clone(),
    }
}

/// Pixel features only: metadata is gone after any upload pipeline, and a
/// model that learnt it would learn the file format, not the pixels.
fn prepare<'a>(rows: &'a [Row], samples: &'a [Sample]) -> Data<'a> {
    let ok: Vec<(&Sample, &Report, Vec<Finding>)> = samples
        .iter()
        .filter_map(|s| s.report.as_ref().ok().map(|r| (s, r)))
        .map(|(s, r)| {
            let findings = r
                .findings
                .iter()
                .filter(|f| f.detector != DetectorKind::Fusion)
                .cloned()
                .collect();
            (s, r, findings)
        })
        .collect();
    let names: BTreeSet<&String> = ok
        .iter()
        .flat_map(|(_, r, _)| r.features.keys())
        .filter(|k| !k.starts_with("provenance.") && !DESCRIPTORS.contains(&k.as_str()))
        .collect();
    let features: Vec<String> = names.into_iter().cloned().collect();
    let x = ok
        .iter()
        .map(|(_, r, _)| {
            features
                .iter()
                .map(|k| r.features.get(k).copied().unwrap_or(f32::NAN))
                .collect()
        })
        .collect();
    Data {
        rows,
        samples: ok,
        x,
        features,
    }
}

/// A model needs genuine photos and at least one positive class among the
/// usable samples; a missing positive class only leaves its head out.
fn check_usable(data: &Data<'_>) -> Result<(), String> {
    let count = |label: &str| {
        data.samples
            .iter()
            .filter(|(s, _, _)| data.rows[s.row].label == label)
            .count()
    };
    if data.samples.is_empty() {
        return Err("no usable samples: every file failed (see above); no model written".into());
    }
    if count("real") == 0 {
        return Err("no usable genuine (real) samples; no model written".into());
    }
    let (ai, edited) = (count("ai_generated"), count("edited"));
    if ai + edited == 0 {
        return Err("no usable ai_generated or edited samples; no model written".into());
    }
    for (n, label) in [(ai, "ai_generated"), (edited, "edited")] {
        if n == 0 {
            eprintln!("calibrate: no usable {label} samples: the model has no {label} head");
        }
    }
    Ok(())
}

/// The names in `--features`: a model file's feature list, or names
/// separated by commas.
/// The features `--features` names, read once when the arguments are
/// parsed, so a malformed list (or model file) is said before the corpus is
/// analysed.
#[derive(Clone, Debug)]
pub struct FeatureNames(Vec<String>);

fn feature_list(spec: &str) -> Result<FeatureNames, String> {
    if spec.ends_with(".json") {
        let model = Model::load(std::path::Path::new(spec)).map_err(|e| e.to_string())?;
        return Ok(FeatureNames(model.features));
    }
    let names: Vec<String> = spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if names.is_empty() {
        return Err("--features names no feature".into());
    }
    let mut seen = BTreeSet::new();
    if let Some(twice) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(format!("--features names {twice} twice"));
    }
    if let Some(unknown) = names.iter().find(|n| !fusion::is_feature_name(n)) {
        return Err(format!(
            "--features names {unknown}, which is not a detector's feature (detector.measure)"
        ));
    }
    Ok(FeatureNames(names))
}

/// The same data with only the feature columns `columns`.
fn restrict<'a>(data: &Data<'a>, columns: &[usize]) -> Data<'a> {
    Data {
        rows: data.rows,
        samples: data.samples.clone(),
        x: data
            .x
            .iter()
            .map(|r| columns.iter().map(|&j| r[j]).collect())
            .collect(),
        features: columns.iter().map(|&j| data.features[j].clone()).collect(),
    }
}

/// Greedy forward selection (Guyon & Elisseeff 2003): add the feature that
/// raises the mean out-of-fold AUC most, until `max` features or no gain of
/// at least 0.002. Candidates are scored in parallel; ties go to the first
/// feature in name order, so the choice is deterministic.
fn select_features(
    data: &Data<'_>,
    folds: &BTreeMap<String, usize>,
    k: usize,
    max: usize,
    verbose: bool,
) -> Vec<usize> {
    const SELECTION_L2: f64 = 3.0;
    let mut chosen: Vec<usize> = Vec::new();
    let mut quality = 0.0f32;
    while chosen.len() < max.min(data.features.len()) {
        let candidates: Vec<usize> = (0..data.features.len())
            .filter(|j| !chosen.contains(j))
            .collect();
        let scored: Vec<(usize, f32)> = candidates
            .par_iter()
            .map(|&j| {
                let mut columns = chosen.clone();
                columns.push(j);
                let sub = restrict(data, &columns);
                (
                    j,
                    mean_auc(
                        &sub,
                        &out_of_fold(
                            &sub,
                            folds,
                            k,
                            SELECTION_L2,
                            HeadKind::Logistic,
                            &Model::uncalibrated().operating_points,
                        ),
                    ),
                )
            })
            .collect();
        let Some(&(best, q)) = scored
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        else {
            break;
        };
        if q < quality + 0.002 {
            break;
        }
        chosen.push(best);
        quality = q;
        if verbose {
            eprintln!(
                "calibrate: + {} -> mean out-of-fold AUC {q:.4}",
                data.features[best]
            );
        }
    }
    chosen.sort_unstable();
    chosen
}

/// Folds by group (one entry per sample): groups sorted by size, dealt to
/// the currently smallest fold.
fn assign_folds<'a>(groups: impl Iterator<Item = &'a str>, k: usize) -> BTreeMap<String, usize> {
    let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
    for g in groups {
        *sizes.entry(g).or_default() += 1;
    }
    let mut groups: Vec<(&str, usize)> = sizes.into_iter().collect();
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut load = vec![0usize; k];
    let mut out = BTreeMap::new();
    for (g, n) in groups {
        let fold = (0..k).min_by_key(|&f| (load[f], f)).unwrap_or(0);
        load[fold] += n;
        out.insert(g.to_string(), fold);
    }
    out
}

fn fit_heads(
    data: &Data<'_>,
    train: &[bool],
    l2: f64,
    kind: HeadKind,
) -> (Option<Head>, Option<Head>) {
    let fit = |positive: &str, excluded: &[&str]| {
        let columns: Vec<usize> = (0..data.features.len())
            .filter(|&j| !excluded.iter().any(|p| data.features[j].starts_with(p)))
            .collect();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for ((i, (s, _, _)), keep) in data.samples.iter().enumerate().zip(train) {
            let label = &data.rows[s.row].label;
            if *keep && (label == "real" || label == positive) {
                x.push(columns.iter().map(|&j| data.x[i][j]).collect::<Vec<f32>>());
                y.push(label == positive);
            }
        }
        // A class without examples (or without genuine photos) cannot be
        // fitted: its head is left out and fusion falls back to the
        // detectors' own findings for it.
        let both = y.iter().any(|&p| p) && y.iter().any(|&p| !p);
        both.then(|| {
            let head = match kind {
                HeadKind::Boosted => fit_boosted_head(&x, &y, l2),
                HeadKind::Logistic => fit_head(&x, &y, l2),
            };
            expand(&head, &columns, data.features.len())
        })
    };
    (
        fit("ai_generated", fusion::AI_HEAD_EXCLUDED),
        fit("edited", &[]),
    )
}

/// A head fitted on some columns, laid out over all of them (weight 0 elsewhere).
fn expand(head: &Head, columns: &[usize], n: usize) -> Head {
    let mut trees = head.trees.clone();
    for node in trees.iter_mut().flat_map(|t| t.nodes.iter_mut()) {
        if node.left != 0 {
            node.feature = columns.get(node.feature).copied().unwrap_or(node.feature);
        }
    }
    let mut full = Head {
        mean: vec![0.0; n],
        scale: vec![1.0; n],
        weights: vec![0.0; n],
        bias: head.bias,
        trees,
    };
    for (k, &j) in columns.iter().enumerate() {
        full.mean[j] = head.mean[k];
        full.scale[j] = head.scale[k];
        full.weights[j] = head.weights[k];
    }
    full
}

/// A sample fused at the 1% point.
#[derive(Debug, Clone, Copy, Default)]
struct Scored {
    /// The reported score (what the AUCs rank).
    score: f32,
    /// The score before the camera original's discount, which the 1%
    /// point applies under its own authentic threshold only: what every
    /// point's thresholds and a review rate are set on.
    before_discount: f32,
    /// Whether the verdict is flagged (it also holds back small images,
    /// which a score threshold does not).
    flagged: bool,
}

fn fused(model: &Model, report: &Report, findings: &[Finding]) -> Scored {
    // Samples saved before caveats were recorded still hold back small images.
    let caveat = report
        .image
        .caveat
        .or_else(|| fusion::size_caveat(report.image.width, report.image.height));
    let fused = model.fuse(
        &report.features,
        findings,
        model.operating_point(0.01),
        caveat,
    );
    Scored {
        score: fused.score,
        before_discount: fused.score_before_camera_discount(),
        flagged: fused.verdict.is_flagged(),
    }
}

/// Say which folds leave a class out of their training split: the held-out
/// fold's head is then not fitted, and its photos are scored by the
/// detectors' findings alone, on another scale than the other folds, so
/// the out-of-fold figures mix two scorers (a class from one source group
/// does this to the fold holding that group). `whose` names the folds
/// (the outer ones, or an outer fold's inner ones).
fn warn_of_one_class_folds(
    data: &Data<'_>,
    folds: &BTreeMap<String, usize>,
    k: usize,
    whose: &str,
) {
    // Inner folds' scores only tune their outer fold's penalty and points.
    let mixed = if whose.is_empty() {
        "the out-of-fold figures"
    } else {
        "the scores the outer fold's penalty and operating points are tuned on"
    };
    for (positive, lacking) in one_class_folds(data, folds, k) {
        eprintln!(
            "calibrate: warning: the training split of {whose}fold(s) {lacking:?} has no {positive} or no real photo: \
             those folds' {positive} scores come from the findings alone, so {mixed} \
             mix two scorers; give that class photos from more source groups"
        );
    }
}

/// Per positive class present in `data`, the folds whose training split
/// (the other folds) lacks that class or genuine photos.
fn one_class_folds(
    data: &Data<'_>,
    folds: &BTreeMap<String, usize>,
    k: usize,
) -> Vec<(&'static str, Vec<usize>)> {
    // Per label, its photos in each fold; a fold's training split holds
    // the label's total less the fold's own.
    let mut counts: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (s, _, _) in &data.samples {
        let row = &data.rows[s.row];
        let fold = folds
            .get(&row.group)
            .copied()
            .unwrap_or(0)
            .min(k.saturating_sub(1));
        counts
            .entry(row.label.as_str())
            .or_insert_with(|| vec![0; k])[fold] += 1;
    }
    let trains = |label: &str, fold: usize| {
        counts
            .get(label)
            .is_some_and(|c| c.iter().sum::<usize>() > c[fold])
    };
    ["ai_generated", "edited"]
        .into_iter()
        .filter(|positive| counts.contains_key(positive))
        .map(|positive| {
            let lacking: Vec<usize> = (0..k)
                .filter(|&fold| !(trains(positive, fold) && trains("real", fold)))
                .collect();
            (positive, lacking)
        })
        .filter(|(_, lacking)| !lacking.is_empty())
        .collect()
}

/// Out-of-fold fused scores: each fold scored by heads fitted on the
/// others, fused at `points`.
fn out_of_fold(
    data: &Data<'_>,
    folds: &BTreeMap<String, usize>,
    k: usize,
    l2: f64,
    kind: HeadKind,
    points: &[OperatingPoint],
) -> Vec<Scored> {
    let fold_of = fold_of(data, folds);
    let mut oof = vec![Scored::default(); data.samples.len()];
    for fold in 0..k {
        let train: Vec<bool> = fold_of.iter().map(|&f| f != fold).collect();
        let (ai, edited) = fit_heads(data, &train, l2, kind);
        // A fold's model: heads and points only (no description, genuine
        // scores, figures or fingerprints).
        let model = Model {
            features: data.features.clone(),
            ai_generated: ai,
            edited,
            operating_points: points.to_vec(),
            ..Model::uncalibrated()
        };
        for (i, (_, report, findings)) in data.samples.iter().enumerate() {
            if fold_of[i] == fold {
                oof[i] = fused(&model, report, findings);
            }
        }
    }
    oof
}

/// Mean AUC over (set, variant) cells: what the penalty is chosen on.
fn mean_auc(data: &Data<'_>, scored: &[Scored]) -> f32 {
    let cells = cells(data, scored);
    let aucs: Vec<f32> = cells
        .values()
        .filter_map(|(neg, pos)| auc(&scores(neg), &scores(pos)))
        .collect();
    aucs.iter().sum::<f32>() / aucs.len().max(1) as f32
}

fn scores(scored: &[Scored]) -> Vec<f32> {
    scored.iter().map(|s| s.score).collect()
}

type Cells = BTreeMap<(String, String), (Vec<Scored>, Vec<Scored>)>;

fn cells(data: &Data<'_>, scored: &[Scored]) -> Cells {
    let mut cells: Cells = BTreeMap::new();
    for ((s, _, _), &score) in data.samples.iter().zip(scored) {
        let row = &data.rows[s.row];
        let cell = cells
            .entry((row.set.clone(), s.variant.clone()))
            .or_default();
        if row.is_positive() {
            cell.1.push(score);
        } else {
            cell.0.push(score);
        }
    }
    cells
}

/// Per (set, variant): AUC, and the verdicts' false-alarm and detection
/// rates (null without genuine photos or without positives).
fn figures(data: &Data<'_>, scored: &[Scored]) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = cells(data, scored)
        .into_iter()
        .map(|((set, variant), (neg, pos))| {
            let share = |v: &[Scored]| {
                (!v.is_empty())
                    .then(|| v.iter().filter(|s| s.flagged).count() as f32 / v.len() as f32)
            };
            json!({
                "set": set,
                "variant": variant,
                "n_real": neg.len(),
                "n_positive": pos.len(),
                "auc": auc(&scores(&neg), &scores(&pos)),
                "auc_ci95": auc_interval(&scores(&neg), &scores(&pos)),
                "false_alarm_rate": share(&neg),
                "detection_rate": share(&pos),
            })
        })
        .collect();
    json!(rows)
}

/// Today's date (UTC) as YYYY-MM-DD, from the civil-from-days algorithm
/// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Genuine photos scoring 1.0 cannot be kept under a flag threshold
    /// of at most 1.0: the points whose rate they exceed are named.
    #[test]
    fn saturated_genuine_scores_leave_rates_unkept() {
        let mut real: Vec<f32> = (0..97).map(|i| i as f32 / 200.0).collect();
        real.extend([1.0; 3]);
        let points = operating_points_for(&real);
        let unkept: Vec<f32> = unkept_rates(&points, &real)
            .iter()
            .map(|(p, reaching)| {
                assert_eq!(*reaching, 3);
                p.max_false_alarm
            })
            .collect();
        assert_eq!(unkept, vec![0.005, 0.01, 0.02]);
        // Without the saturated scores every rate is kept.
        let spread: Vec<f32> = (0..100).map(|i| i as f32 / 200.0).collect();
        assert!(unkept_rates(&operating_points_for(&spread), &spread).is_empty());
    }

    /// A recipe run on data whose held-out fold reverses the relation the
    /// other folds show: an honest nested model, fitted without that
    /// fold, ranks it backwards (AUC near 0); one that saw the fold while
    /// tuning or fitting would rank it right, since it outweighs the rest.
    #[test]
    fn nested_models_never_see_their_outer_fold() {
        let template = template_report();
        // Group g0 (fold 0, 60 + 60 photos): edits score high on x; the
        // four small groups (folds 1-4, 10 + 10 each): edits score low.
        let mut rows = Vec::new();
        let mut xs = Vec::new();
        for (group, n, edits_high) in [
            ("g0", 60, true),
            ("g1", 10, false),
            ("g2", 10, false),
            ("g3", 10, false),
            ("g4", 10, false),
        ] {
            for i in 0..2 * n {
                let edited = i % 2 == 1;
                let jitter = i as f32 * 0.01;
                let high = edited == edits_high;
                xs.push(if high { 1.0 + jitter } else { -1.0 - jitter });
                rows.push(Row {
                    file: format!("{group}_{i}.png"),
                    label: if edited { "edited" } else { "real" }.into(),
                    kind: "test".into(),
                    set: "edits".into(),
                    mask: String::new(),
                    source: String::new(),
                    group: group.into(),
                });
            }
        }
        let samples: Vec<Sample> = xs
            .iter()
            .enumerate()
            .map(|(row, &x)| {
                sample_of(
                    &template,
                    row,
                    BTreeMap::from([("texture_stats.x".to_string(), x)]),
                )
            })
            .collect();
        let all = prepare(&rows, &samples);
        let folds = assign_folds(rows.iter().map(|r| r.group.as_str()), 5);
        assert_eq!(folds["g0"], 0);
        let args = args_of(&["--features", "texture_stats.x"]);
        let nested = nested_out_of_fold(&all, &folds, 5, &args).expect("nested");
        let fold_0 = |edited: bool| -> Vec<f32> {
            (0..rows.len())
                .filter(|&i| rows[i].group == "g0" && rows[i].is_positive() == edited)
                .map(|i| nested[i].score)
                .collect()
        };
        let held_out = auc(&fold_0(false), &fold_0(true)).expect("both classes");
        assert!(held_out < 0.25, "fold 0 AUC {held_out}: its model saw it");
    }

    /// Genuine camera originals, whose scores the 1% point halves under
    /// its authentic threshold: at every stored point, no more of them are
    /// sent to review (or flagged) out-of-fold, fused at that point, than
    /// the point's rate allows. Set on the discounted scores, the 10%
    /// point's authentic threshold fell among undiscounted ones and sent
    /// about half of them to review.
    #[test]
    fn every_point_keeps_its_rate_on_camera_originals() {
        use trueshot::{Class, Verdict};
        let template = template_report();
        let camera = Finding::new(
            DetectorKind::Provenance,
            "provenance.camera",
            0.0,
            Class::None,
            "EXIF names the camera.".into(),
            "EXIF 记录了相机。".into(),
        );
        let mut rows = Vec::new();
        let mut samples = Vec::new();
        for i in 0..400 {
            let edited = i % 2 == 1;
            // Genuine photos spread over [-2, 2], edits over [0, 4]: the
            // heads give genuine photos every score from low to high.
            let x = (i / 2) as f32 / 200.0 * 4.0 - 2.0 + if edited { 2.0 } else { 0.0 };
            rows.push(Row {
                file: format!("{i}.jpg"),
                label: if edited { "edited" } else { "real" }.into(),
                kind: "test".into(),
                set: "edits".into(),
                mask: String::new(),
                source: String::new(),
                group: format!("g{}", i % 5),
            });
            let mut sample = sample_of(
                &template,
                i,
                BTreeMap::from([("texture_stats.x".to_string(), x)]),
            );
            if let (false, Ok(report)) = (edited, sample.report.as_mut()) {
                report.findings.push(camera.clone());
            }
            samples.push(sample);
        }
        let all = prepare(&rows, &samples);
        let folds = assign_folds(rows.iter().map(|r| r.group.as_str()), 5);
        let tuned = tune(
            &all,
            &folds,
            5,
            &args_of(&["--features", "texture_stats.x"]),
            false,
        )
        .expect("tuned");
        let discounted = tuned
            .oof
            .iter()
            .filter(|s| s.before_discount > s.score)
            .count();
        assert!(
            discounted > 100,
            "only {discounted} camera originals discounted"
        );
        let fold_of = fold_of(&tuned.data, &folds);
        for point in &tuned.operating_points {
            let (mut genuine, mut reviewed, mut flagged) = (0, 0, 0);
            for fold in 0..5 {
                let train: Vec<bool> = fold_of.iter().map(|&f| f != fold).collect();
                let (ai, edited) = fit_heads(&tuned.data, &train, tuned.l2, HeadKind::Logistic);
                let model = Model {
                    features: tuned.data.features.clone(),
                    ai_generated: ai,
                    edited,
                    operating_points: tuned.operating_points.clone(),
                    ..Model::uncalibrated()
                };
                for (i, (sample, report, findings)) in tuned.data.samples.iter().enumerate() {
                    if fold_of[i] != fold || rows[sample.row].is_positive() {
                        continue;
                    }
                    let verdict = model.fuse(&report.features, findings, *point, None).verdict;
                    genuine += 1;
                    reviewed += usize::from(verdict != Verdict::Authentic);
                    flagged += usize::from(verdict.is_flagged());
                }
            }
            // A whole share is allowed (2.5% of 200 is 5), as the
            // thresholds count it.
            let allowed =
                |rate: f32| (f64::from(rate.min(0.5)) * genuine as f64 + 1e-6).floor() as usize;
            let rate = point.max_false_alarm * SAFETY_FACTOR;
            assert!(
                reviewed <= allowed(rate * 10.0) && flagged <= allowed(rate),
                "at {}: {reviewed} reviewed and {flagged} flagged of {genuine}",
                point.max_false_alarm
            );
        }
    }

    /// A report of a small PNG, whose features and findings tests replace.
    fn template_report() -> Report {
        let analyzer = Analyzer::new(Config::default()).expect("analyzer");
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(64, 64, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 4) as u8, 128])
        }))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encode");
        analyzer.analyze_bytes(&png).expect("analysis")
    }

    /// Row `row`'s sample as found: `template` with these features and no findings.
    fn sample_of(template: &Report, row: usize, features: BTreeMap<String, f32>) -> Sample {
        let mut report = template.clone();
        report.features = features;
        report.findings.clear();
        Sample {
            row,
            variant: "as-found".into(),
            report: Ok(report),
            fingerprint: None,
            marks: super::dataset::Marks::default(),
        }
    }

    /// `calibrate labels.csv -o m.json` with `extra` arguments.
    fn args_of(extra: &[&str]) -> CalibrateArgs {
        #[derive(clap::Parser)]
        struct Command {
            #[command(flatten)]
            args: CalibrateArgs,
        }
        let base = ["calibrate", "labels.csv", "-o", "m.json"];
        let Command { args } =
            clap::Parser::try_parse_from(base.iter().chain(extra)).expect("arguments");
        args
    }

    /// The built-in model's features are refitted without those no sample
    /// measures (JPEG features on a corpus without JPEGs); with none of
    /// them measured, the recipe asks for features.
    #[test]
    fn builtin_features_missing_from_the_corpus_are_left_out() {
        let template = template_report();
        let builtin = Model::builtin().features;
        let missing = "jpeg.flagged_share";
        assert!(builtin.iter().any(|f| f == missing));
        let fit = |names: &[String]| {
            let rows: Vec<Row> = (0..40)
                .map(|i| Row {
                    file: format!("{i}.png"),
                    label: if i % 2 == 1 { "edited" } else { "real" }.into(),
                    kind: "test".into(),
                    set: "edits".into(),
                    mask: String::new(),
                    source: String::new(),
                    group: format!("g{}", i % 5),
                })
                .collect();
            let samples: Vec<Sample> = (0..rows.len())
                .map(|row| {
                    let features = names
                        .iter()
                        .enumerate()
                        .map(|(j, n)| {
                            (
                                n.clone(),
                                ((row * 7 + j * 3) % 11) as f32 + (row % 2) as f32,
                            )
                        })
                        .collect();
                    sample_of(&template, row, features)
                })
                .collect();
            let all = prepare(&rows, &samples);
            let folds = assign_folds(rows.iter().map(|r| r.group.as_str()), 5);
            tune(&all, &folds, 5, &args_of(&[]), false).map(|t| t.data.features)
        };
        let measured: Vec<String> = builtin.iter().filter(|f| *f != missing).cloned().collect();
        assert_eq!(fit(&measured).expect("fitted"), measured);
        let error = fit(&["other.feature".to_string()]).expect_err("no built-in feature");
        assert!(error.contains("--features or --max-features"), "{error}");
    }
}
