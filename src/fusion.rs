//! Fusion: combine the detectors' features and findings into per-class
//! scores, one score and a verdict at the configured operating point.
//!
//! The pixel evidence goes through a fitted model: one L2-regularised
//! logistic regression per class (`ai_generated`, `edited`) over the
//! detectors' named features, standardised and clipped so that one extreme
//! measurement cannot dominate. Declarations found in the metadata (an AIGC
//! label, generator parameters) are not learned: they keep their fixed scores,
//! and a class's score is the larger of the model's probability and the
//! strongest declaration. Thresholds come from the scores of genuine photos
//! (out-of-fold when fitted by `trueshot calibrate`), one pair per target
//! false-alarm rate.
//!
//! One kind of localised pixel evidence also counts on its own: a compact
//! region compressed once inside a doubly compressed JPEG. It lifts the
//! `edited` score into the inconclusive band (a region for a reviewer to
//! look at), never to a flag.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::detectors::provenance::ANIMATED;
use crate::report::{
    clamp01, Class, DetectorKind, Finding, PixelCaveat, ReferenceMatch, Scores, Verdict,
};
use crate::Error;

pub mod trees;

pub use trees::Tree;

/// Images with fewer pixels than this (256 x 256) cannot be flagged by the
/// pixel model alone: on the development corpus every genuine photo it
/// flagged was about 256 x 192.
pub const MIN_PIXELS_TO_FLAG: u64 = 256 * 256;

/// [`PixelCaveat::Small`] for an image under [`MIN_PIXELS_TO_FLAG`].
#[must_use]
pub fn size_caveat(width: u32, height: u32) -> Option<PixelCaveat> {
    (u64::from(width) * u64::from(height) < MIN_PIXELS_TO_FLAG).then_some(PixelCaveat::Small)
}

/// Feature prefixes the `ai_generated` head may not use (`trueshot
/// calibrate` leaves them out of it; the shipped model's test checks it).
/// JPEG measurements (quality, tables, grid) say which format the file is
/// in, and found AI images are mostly PNG while camera photos are JPEG: a
/// head that learnt them would learn the format, and flag every honest PNG.
/// They stay available to the `edited` head, where both classes are JPEGs.
/// The co-occurrence cluster measures how much the frame's noise statistics
/// vary from place to place, which camera photos of varied scenes do more
/// than generated images (development corpus, as found: AUC 0.32, the
/// wrong way): for the `ai_generated` head it would be a content shortcut;
/// between an edit and its re-saved original it is evidence. (Entries match
/// feature names by prefix.)
pub const AI_HEAD_EXCLUDED: &[&str] = &["jpeg.", "local_consistency.cooccurrence_cluster"];

/// Factor on the scores of a photo whose metadata names a camera and shows
/// no later processing, when the scores are already under the authentic
/// threshold. Intact camera EXIF is evidence of a camera original, but it
/// can be forged, so it only orders photos already judged authentic: it
/// never changes a verdict, and an image that any test flags keeps its score.
const CAMERA_DISCOUNT: f32 = 0.5;

/// Findings of localised pixel evidence strong enough to send an image to a
/// reviewer on their own: a compact region compressed once inside a doubly
/// compressed JPEG (aligned double compression, Bianchi & Piva, IEEE TIFS
/// 7(3), 2012), whose score weighs the region's strength, area and
/// dominance, and a region duplicated with its pixels (copy-move, on
/// images up to its size limit). On the development corpus no genuine
/// photo reaches 0.45 on the first, while 9 of 61 added-damage edits reach
/// 0.66-0.98; the second is found on 9 of 11 copy-moves and on none of 252
/// genuine photos and 5,336 honestly processed copies. A listing the claim
/// matches in outline but not closely enough for a copy or not in fine
/// detail, with differences, is a doctored or AI-redrawn copy or a new
/// photo of the same product from the same spot
/// (`reference.same_scene_changed`), for a reviewer to tell apart, as a
/// copied part of a listing is (`reference.partial_copy`). The noise-inconsistency regions
/// (`local_consistency`, `noise_residual`) fire on 12-24% of genuine photos
/// and stay with the model.
const LOCAL_EVIDENCE: &[&str] = &[
    "jpeg.local_single_compression",
    "jpeg.local_lattice_break",
    "copy_move.duplicated_region",
    "reference.partial_copy",
    "reference.same_scene_changed",
];

/// Shortest side, in pixels, of an image that can be cleared. The pixel
/// tests read 32-px blocks at a 16-px stride (noise level, demosaicing,
/// local consistency) or larger tiles (spectrum), and a local statistic
/// needs several blocks to compare: under 64 px only the texture
/// statistics read anything (measured on generated noise images of 8 to
/// 256 px). No development-corpus image is under 143 px on a side.
pub const MIN_SIDE_TO_CLEAR: u32 = 64;

/// Local evidence score from which it lifts the `edited` score.
const LOCAL_EVIDENCE_MIN: f32 = 0.5;

/// Largest model file read: a fitted model is a few kilobytes, 200 boosted
/// trees a few hundred.
const MAX_MODEL_BYTES: u64 = 64 << 20;
/// Largest magnitude of a model's means, scales, weights and leaf values:
/// fitted ones stay within a few thousand, and with this bound the logit of
/// any admitted model is finite.
const MAX_MODEL_VALUE: f32 = 1e6;
/// Most trees per head (a fitted model has 200).
const MAX_TREES: usize = 10_000;
/// Most genuine-photo score quantiles a model keeps ([`Model::genuine_scores`]):
/// a review rate resolves to 0.1%.
pub const MAX_GENUINE_QUANTILES: usize = 1001;
/// Most training-file fingerprints a model keeps ([`Model::training_files`]):
/// with them the model file stays under the 64 MiB it may take (about 24 bytes
/// each as `trueshot calibrate` writes them).
pub const MAX_TRAINING_FILES: usize = 2_000_000;
/// The detectors whose measurements a model may use; they name their
/// features `detector.measure` by [`DetectorKind::as_str`].
const FEATURE_DETECTORS: [DetectorKind; 8] = [
    DetectorKind::Cfa,
    DetectorKind::CopyMove,
    DetectorKind::Jpeg,
    DetectorKind::LocalConsistency,
    DetectorKind::NoiseResidual,
    DetectorKind::Provenance,
    DetectorKind::Spectrum,
    DetectorKind::TextureStats,
];

/// Whether `name` names a detector's feature (`detector.measure`, of a
/// detector that gives model features). A misspelt name would silently
/// weigh nothing (features an image lacks count as the training mean); the
/// measure itself cannot be checked without running every detector, its
/// detector can.
#[must_use]
pub fn is_feature_name(name: &str) -> bool {
    name.split_once('.').is_some_and(|(detector, measure)| {
        FEATURE_DETECTORS.iter().any(|k| k.as_str() == detector) && !measure.is_empty()
    })
}

/// This build of trueshot: its version and a fingerprint of the library's
/// sources and built-in model (`build.rs`), so that two builds of one
/// version whose detectors differ are told apart.
pub const BUILD: &str = concat!(env!("CARGO_PKG_VERSION"), "+", env!("TRUESHOT_SOURCE_HASH"));

/// Standardised features are clipped to this many standard deviations.
const Z_CLIP: f32 = 5.0;

/// The shipped model, fitted on the development corpus by `trueshot calibrate`.
const BUILTIN_MODEL: &str = include_str!("../models/default.json");

/// Thresholds of the verdict. Scores ≥ `flag` are flagged; scores < `authentic`
/// are authentic; in between is inconclusive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    /// The target false-alarm rate on genuine photos this point was chosen for.
    pub max_false_alarm: f32,
    /// Flagging threshold.
    pub flag: f32,
    /// Upper bound of `authentic`.
    pub authentic: f32,
}

/// One head: `p = sigmoid(bias + Σ weights[i] * clip((x[i] - mean[i]) / scale[i]) + Σ tree(x))`.
/// A logistic head has no trees; a boosted head has zero weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    /// Per-feature centre.
    pub mean: Vec<f32>,
    /// Per-feature spread (never 0).
    pub scale: Vec<f32>,
    /// Per-feature weight.
    pub weights: Vec<f32>,
    /// Intercept.
    pub bias: f32,
    /// Gradient-boosted trees over the raw features ([`trees`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trees: Vec<Tree>,
}

impl Head {
    /// The probability for a feature vector laid out as `Model::features`.
    #[must_use]
    pub fn predict(&self, x: &[f32]) -> f32 {
        let (constant, terms) = self.logit(x);
        sigmoid(constant + terms.iter().sum::<f32>())
    }

    /// Each feature's term of the logit: its linear term plus what its
    /// splits changed along each tree's path.
    #[must_use]
    pub fn contributions(&self, x: &[f32]) -> Vec<f32> {
        self.logit(x).1
    }

    /// The logit as the part no feature owns (bias, trees' roots) and each
    /// feature's term.
    fn logit(&self, x: &[f32]) -> (f32, Vec<f32>) {
        let mut terms: Vec<f32> = x
            .iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .zip(&self.weights)
            .map(|(((&v, &m), &s), &w)| w * standardise(v, m, s))
            .collect();
        let mut constant = self.bias;
        for tree in &self.trees {
            constant += tree.attribute(x, &mut terms);
        }
        (constant, terms)
    }
}

fn standardise(v: f32, mean: f32, scale: f32) -> f32 {
    let v = if v.is_finite() { v } else { mean };
    ((v - mean) / scale).clamp(-Z_CLIP, Z_CLIP)
}

fn sigmoid(t: f32) -> f32 {
    1.0 / (1.0 + (-t).exp())
}

/// A fusion model: the feature layout, one head per class, and operating points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Free text: what data, when, with which command.
    pub description: String,
    /// Feature names, in the order the heads expect them.
    pub features: Vec<String>,
    /// Head for `ai_generated`; `None` leaves the class to the findings alone.
    pub ai_generated: Option<Head>,
    /// Head for `edited`.
    pub edited: Option<Head>,
    /// Operating points, one per target false-alarm rate.
    pub operating_points: Vec<OperatingPoint>,
    /// The out-of-fold scores of the genuine photos, fused at the model's
    /// own operating points, as at most [`MAX_GENUINE_QUANTILES`] evenly spaced
    /// quantiles, ascending: what lets [`Model::operating_point_for`] set
    /// the authentic threshold for a review rate. Empty in models written
    /// before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub genuine_scores: Vec<f32>,
    /// Cross-validated figures recorded when the model was fitted.
    #[serde(default)]
    pub cross_validation: serde_json::Value,
    /// Fingerprints (64-bit FNV-1a of the bytes, hex) of the files the
    /// model was fitted on, so that `trueshot eval` can say which of the
    /// files it measures the model has seen: figures on those are
    /// in-sample. Empty in models written before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub training_files: Vec<String>,
    /// The trueshot build that fitted the model ([`BUILD`]): its features
    /// are that build's measurements, which another build's detectors may
    /// make otherwise. `None` in models written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted_by: Option<String>,
}

impl Default for Model {
    fn default() -> Self {
        Model::builtin()
    }
}

impl Model {
    /// The model shipped inside the crate.
    #[must_use]
    pub fn builtin() -> Self {
        serde_json::from_str::<Model>(BUILTIN_MODEL)
            .ok()
            .filter(|m| m.check().is_ok())
            .unwrap_or_else(Model::uncalibrated)
    }

    /// No heads: each class score comes from metadata declarations and
    /// local evidence alone, placed as with a fitted model.
    #[must_use]
    pub fn uncalibrated() -> Self {
        Model {
            description: "uncalibrated: metadata declarations and local evidence only".into(),
            features: Vec::new(),
            ai_generated: None,
            edited: None,
            operating_points: vec![OperatingPoint {
                max_false_alarm: 0.01,
                flag: 0.9,
                authentic: 0.3,
            }],
            genuine_scores: Vec::new(),
            cross_validation: serde_json::Value::Null,
            training_files: Vec::new(),
            fitted_by: None,
        }
    }

    /// The build that fitted this model, when that is known and is not
    /// this one ([`BUILD`]): its scores may then differ from the fit's (a
    /// platform that upgraded trueshot should refit, or check the model
    /// with `trueshot eval`).
    #[must_use]
    pub fn fitted_by_another_build(&self) -> Option<&str> {
        self.fitted_by.as_deref().filter(|&build| build != BUILD)
    }

    /// What to tell the operator when the model was fitted by another
    /// build ([`Model::fitted_by_another_build`]), in one line; `None`
    /// otherwise. The CLI prints it, Python raises it as a `UserWarning`,
    /// C reads it with `trueshot_config_model_warning`.
    #[must_use]
    pub fn another_build_warning(&self) -> Option<String> {
        self.fitted_by_another_build().map(|other| {
            format!(
                "the model was fitted by trueshot {}; this is {BUILD}: its scores may differ \
                 from the fit's; refit it, or check it with `trueshot eval`",
                crate::escape_untrusted(other, 80)
            )
        })
    }

    /// Load a model file written by `trueshot calibrate`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when it cannot be read or is inconsistent.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let cannot_read = |e: String| {
            Error::InvalidConfig(format!("cannot read model file {}: {e}", path.display()))
        };
        let bytes = crate::decode::read_file(path, MAX_MODEL_BYTES).map_err(|e| match e {
            Error::Io { source, .. } => cannot_read(source.to_string()),
            other => cannot_read(other.to_string()),
        })?;
        let model: Model = serde_json::from_slice(&bytes).map_err(|e| {
            Error::InvalidConfig(format!("model file {} is not valid: {e}", path.display()))
        })?;
        model.check()?;
        Ok(model)
    }

    /// Check the heads match the feature layout and the thresholds are sane.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`].
    pub fn check(&self) -> Result<(), Error> {
        let n = self.features.len();
        let mut names = std::collections::BTreeSet::new();
        for name in &self.features {
            if !is_feature_name(name) {
                return Err(Error::InvalidConfig(format!(
                    "model feature {name:?} is not a detector's feature (detector.measure)"
                )));
            }
            if !names.insert(name) {
                return Err(Error::InvalidConfig(format!(
                    "model feature {name:?} is listed twice"
                )));
            }
        }
        for head in [&self.ai_generated, &self.edited].into_iter().flatten() {
            if head.mean.len() != n || head.scale.len() != n || head.weights.len() != n {
                return Err(Error::InvalidConfig(
                    "model head does not match its feature list".into(),
                ));
            }
            // Bounded, not only finite: a sum of finite terms near f32::MAX
            // overflows to inf − inf = NaN, which would read as score 0.
            let bounded = |v: &f32| v.is_finite() && v.abs() <= MAX_MODEL_VALUE;
            let sane = head
                .mean
                .iter()
                .chain(&head.weights)
                .chain(std::iter::once(&head.bias))
                .all(bounded);
            if !sane || head.scale.iter().any(|s| !(bounded(s) && *s > 0.0)) {
                return Err(Error::InvalidConfig(format!(
                    "model head has values that are not finite or exceed {MAX_MODEL_VALUE:e}"
                )));
            }
            for tree in &head.trees {
                tree.check(n)
                    .map_err(|e| Error::InvalidConfig(format!("model tree: {e}")))?;
                if tree.nodes.iter().any(|node| !bounded(&node.value)) {
                    return Err(Error::InvalidConfig(format!(
                        "model tree has values that exceed {MAX_MODEL_VALUE:e}"
                    )));
                }
            }
            if head.trees.len() > MAX_TREES {
                return Err(Error::InvalidConfig(format!(
                    "model head has more than {MAX_TREES} trees"
                )));
            }
        }
        // A flag threshold of 0 would flag every photo; a rate outside (0, 1)
        // names no operating point.
        if self.operating_points.is_empty()
            || !self.operating_points.iter().all(|p| {
                p.max_false_alarm > 0.0
                    && p.max_false_alarm < 1.0
                    && p.flag > 0.0
                    && p.flag <= 1.0
                    && p.authentic > 0.0
                    && p.authentic <= p.flag
            })
        {
            return Err(Error::InvalidConfig(
                "model operating points must satisfy 0 < max_false_alarm < 1 and \
                 0 < authentic <= flag <= 1"
                    .into(),
            ));
        }
        if self.training_files.len() > MAX_TRAINING_FILES
            || self.training_files.iter().any(|f| f.len() > 64)
        {
            return Err(Error::InvalidConfig(format!(
                "model training_files must be at most {MAX_TRAINING_FILES} fingerprints of at most 64 characters"
            )));
        }
        let scores = &self.genuine_scores;
        if scores.len() > MAX_GENUINE_QUANTILES
            || !scores.iter().all(|s| (0.0..=1.0).contains(s))
            || !scores.windows(2).all(|w| w[0] <= w[1])
        {
            return Err(Error::InvalidConfig(format!(
                "model genuine_scores must be at most {MAX_GENUINE_QUANTILES} scores in [0, 1], ascending"
            )));
        }
        Ok(())
    }

    /// The operating point for a target false-alarm rate and, optionally, a
    /// review rate: the share of genuine photos that may score at or above
    /// the authentic threshold (sent to review or flagged). The flag
    /// threshold is [`Model::operating_point`]'s; without a review rate so
    /// is the authentic one (reached by 2.5 times the target rate of the
    /// genuine photos it was chosen on: 2.5% at the default 1%). A review
    /// rate sets the authentic threshold from [`Model::genuine_scores`].
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the review rate is outside (0, 1), when
    /// the model has no genuine scores (written before they existed), or
    /// when the rate is so small that its authentic threshold would reach
    /// the flag threshold (no band left for review).
    pub fn operating_point_for(
        &self,
        max_false_alarm: f32,
        review_rate: Option<f32>,
    ) -> Result<OperatingPoint, Error> {
        let point = self.operating_point(max_false_alarm);
        let Some(rate) = review_rate else {
            return Ok(point);
        };
        if !(rate > 0.0 && rate < 1.0) {
            return Err(Error::InvalidConfig("review_rate must be in (0, 1)".into()));
        }
        let scores = &self.genuine_scores;
        if scores.is_empty() {
            return Err(Error::InvalidConfig(
                "review_rate needs a model with genuine_scores: refit it with this version's \
                 `trueshot calibrate`"
                    .into(),
            ));
        }
        let authentic = score_reached_by(scores, rate);
        // No band left between the thresholds: review evidence (a declared
        // composite, a local JPEG region) would have nowhere to go but a flag.
        if authentic >= point.flag {
            let flagged = scores.iter().filter(|&&s| s >= point.flag).count();
            return Err(Error::InvalidConfig(format!(
                "review_rate {rate} sets the authentic threshold at the flag threshold, leaving \
                 no band for review (the flag threshold alone reaches {:.4} of genuine photos); \
                 give a larger one",
                flagged as f32 / scores.len() as f32
            )));
        }
        Ok(OperatingPoint { authentic, ..point })
    }

    /// The operating point for a target false-alarm rate: the loosest stored
    /// point whose rate does not exceed the target, else the strictest.
    #[must_use]
    pub fn operating_point(&self, max_false_alarm: f32) -> OperatingPoint {
        let mut points = self.operating_points.clone();
        points.sort_by(|a, b| a.max_false_alarm.total_cmp(&b.max_false_alarm));
        points
            .iter()
            .rev()
            .find(|p| p.max_false_alarm <= max_false_alarm + 1e-6)
            .or(points.first())
            .copied()
            .map(with_review_band)
            .unwrap_or(OperatingPoint {
                max_false_alarm,
                flag: 0.9,
                authentic: 0.3,
            })
    }

    /// The feature vector in this model's layout; missing features count as
    /// the training mean (they contribute nothing).
    #[must_use]
    pub fn vector(&self, features: &BTreeMap<String, f32>) -> Vec<f32> {
        self.features
            .iter()
            .map(|name| features.get(name).copied().unwrap_or(f32::NAN))
            .collect()
    }

    /// Fuse one image's features and findings into scores and a verdict at
    /// `point` (from [`Model::operating_point_for`]). Fixed-level evidence
    /// (a declared composite, a local JPEG region, a copy) is placed in the
    /// model's own inconclusive band for `point`'s rate when `point`'s band
    /// holds it, else in `point`'s: see `placing` in [`Fused`].
    ///
    /// With a `caveat` (an image too small, a palette image, a lossy WebP,
    /// a mostly smooth frame: see [`PixelCaveat`]) the pixel evidence alone
    /// cannot flag the image:
    /// the score is kept, the verdict is at most `inconclusive`, and a
    /// finding says why.
    #[must_use]
    pub fn fuse(
        &self,
        features: &BTreeMap<String, f32>,
        findings: &[Finding],
        point: OperatingPoint,
        caveat: Option<PixelCaveat>,
    ) -> Fused {
        let placing = self.placing_point(point);
        let x = self.vector(features);
        let mut model_findings = Vec::new();
        let mut class_score = |head: &Option<Head>, class: Class| -> f32 {
            let declared = on_scale(
                strongest(findings, class, |f| f.detector == DetectorKind::Provenance),
                placing,
            );
            let local = if class == Class::Edited {
                local_level(strongest(findings, class, is_local_evidence), placing)
            } else {
                0.0
            };
            // Without a head for this class (a model fitted on labels of
            // one class only) the pixels give no evidence for it, and the
            // fixed-level evidence keeps its fixed place: a declaration
            // flags, a local region is sent to review, never flagged.
            let Some(head) = head else {
                return declared.max(local);
            };
            let p = head.predict(&x);
            if p >= point.authentic {
                model_findings.push(self.explain(head, &x, p, class));
            }
            p.max(declared).max(local)
        };
        let scores = Scores {
            ai_generated: clamp01(class_score(&self.ai_generated, Class::AiGenerated)),
            edited: clamp01(class_score(&self.edited, Class::Edited)),
        };
        let (verdict, deciding) = verdict(scores, findings, &model_findings, point, placing);
        let mut fused = Fused {
            scores,
            score: scores.ai_generated.max(scores.edited),
            verdict,
            deciding,
            point,
            placing,
            caveat,
            findings: model_findings,
        };
        fused.hold_for_caveat(findings);
        fused.discount_camera_original(findings);
        fused
    }

    /// The thresholds fixed-level evidence (a declared composite, a local
    /// JPEG region, a copy) is placed between: the model's own inconclusive
    /// band when the verdict's band holds it (a review rate that widens the
    /// band moves no score), else the verdict's (a narrowed band: the
    /// evidence moves up into it, still sent to review, never flagged).
    fn placing_point(&self, point: OperatingPoint) -> OperatingPoint {
        let own = self.operating_point(point.max_false_alarm);
        // A stored point may have no band of its own (authentic == flag,
        // from tied genuine scores): then only the active band can hold it.
        if own.flag == point.flag && own.authentic < own.flag && own.authentic >= point.authentic {
            own
        } else {
            point
        }
    }

    /// A finding that names the features that pushed the model's score up.
    fn explain(&self, head: &Head, x: &[f32], p: f32, class: Class) -> Finding {
        let mut terms: Vec<(f32, &str)> = head
            .contributions(x)
            .into_iter()
            .zip(self.features.iter().map(String::as_str))
            .filter(|(c, _)| *c > 0.0)
            .collect();
        terms.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let top: Vec<&str> = terms.iter().take(3).map(|t| t.1).collect();
        let names = if top.is_empty() {
            "none".to_string()
        } else {
            top.join(", ")
        };
        let (code, en, zh) = if class == Class::AiGenerated {
            (
                "fusion.pixel_evidence_ai",
                "generated by AI",
                "由人工智能生成",
            )
        } else {
            ("fusion.pixel_evidence_edited", "edited", "经过编辑")
        };
        Finding::new(
            DetectorKind::Fusion,
            code,
            p,
            class,
            format!(
                "Taken together, the pixel measurements put the chance that the image was {en} at {:.0}%; the strongest contributions: {names}.",
                p * 100.0
            ),
            format!(
                "综合像素层面的测量，该图像{zh}的可能性约为 {:.0}%；贡献最大的特征：{names}。",
                p * 100.0
            ),
        )
    }
}

/// The outcome of fusion.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    /// Per-class scores.
    pub scores: Scores,
    /// The overall score (the larger class score).
    pub score: f32,
    /// The verdict at the operating point.
    pub verdict: Verdict,
    /// Codes of the findings that decided it.
    pub deciding: Vec<String>,
    /// The operating point used.
    pub point: OperatingPoint,
    /// The band fixed-level evidence was placed in (`Model::placing_point`):
    /// the model's own for `point`'s rate unless a review rate narrowed it.
    pub placing: OperatingPoint,
    /// Why pixel evidence alone may not flag this image, if it may not
    /// (see [`Model::fuse`]).
    pub caveat: Option<PixelCaveat>,
    /// Findings that explain the model's output.
    pub findings: Vec<Finding>,
}

impl Fused {
    /// The score before the camera original's discount. The discount
    /// applies only under the authentic threshold in use, so a verdict
    /// compares this score with the thresholds at any operating point:
    /// `trueshot calibrate` sets them on it.
    #[must_use]
    pub fn score_before_camera_discount(&self) -> f32 {
        undiscounted(self.score, &self.findings)
    }

    /// The verdict's last rules, in order: a listing photo the claim is
    /// derived from decides (`Fused::apply_reference`); then an analysis
    /// the time budget cut short cannot be authentic
    /// (`Fused::hold_incomplete`), unless the claim derives from a listing
    /// and every listing was compared: a claim derived unchanged is cleared
    /// by the listing whatever pixel detectors were skipped, but not when
    /// listings were left uncompared (`skipped` holds
    /// [`DetectorKind::Reference`]), one of which may be the changed
    /// original. Likewise an image whose pixels were too few to examine
    /// (`examined`, the width and height the pixel tests read, under
    /// [`MIN_SIDE_TO_CLEAR`] on a side) cannot be authentic
    /// (`Fused::hold_unexamined`). Nor can an animation (a finding
    /// [`ANIMATED`]) or an image with transparent pixels (a finding
    /// [`transparent`]), listing or not: the one image analysed may not be
    /// what a viewer is shown.
    pub fn settle(
        &mut self,
        reference: Option<&ReferenceMatch>,
        findings: &[Finding],
        skipped: &[DetectorKind],
        examined: (u32, u32),
    ) {
        if let Some(matched) = reference {
            self.apply_reference(matched, findings);
        }
        let cleared_by_listing =
            reference.is_some_and(|m| m.derived) && !skipped.contains(&DetectorKind::Reference);
        if !cleared_by_listing {
            self.hold_incomplete(skipped);
            self.hold_unexamined(examined);
        }
        // The listing was compared with the one image analysed, not with
        // the frames a viewer is shown.
        if findings.iter().any(|f| f.code == ANIMATED) {
            self.hold(ANIMATED);
        }
        // Nor with the picture a viewer is shown where pixels are
        // transparent: that depends on the background.
        if findings.iter().any(|f| f.code == TRANSPARENT) {
            self.hold(TRANSPARENT);
        }
    }

    /// The reference rule (issue 7): a claim derived from a listing photo
    /// with changed regions is `edited`, whatever the other detectors say
    /// (unless the claim or the listing has at most 256 colours: then it is
    /// judged as a copy without changes, and is at least `inconclusive`); a
    /// derived claim without changes is the
    /// merchant's own photo, so no editing evidence counts and the verdict
    /// is decided again without it (never `edited`).
    fn apply_reference(&mut self, reference: &ReferenceMatch, findings: &[Finding]) {
        if !reference.derived {
            return;
        }
        let from_reference =
            |f: &&Finding| f.detector == DetectorKind::Reference && f.class == Class::Edited;
        let strongest = findings
            .iter()
            .filter(from_reference)
            .map(|f| f.score)
            .fold(0.0, f32::max);
        let mut codes: Vec<String> = Vec::new();
        for f in findings.iter().filter(from_reference) {
            if !codes.contains(&f.code) {
                codes.push(f.code.clone());
            }
        }
        if reference.changed_fraction > 0.0 && !reference.palette {
            self.scores.edited = self.scores.edited.max(strongest);
            self.score = self.scores.ai_generated.max(self.scores.edited);
            self.verdict = Verdict::Edited;
            // A listing's changed regions are no pixel evidence: no hold;
            // and the score is the listing's, not a discounted one.
            self.findings
                .retain(|f| f.code != HELD_BACK && f.code != CAMERA_PROVENANCE);
            self.deciding = codes;
            return;
        }
        self.scores.edited = 0.0;
        self.score = self.scores.ai_generated;
        let keep = |f: &&Finding| f.class != Class::Edited;
        let rest: Vec<Finding> = findings.iter().filter(keep).cloned().collect();
        self.findings.retain(|f| f.class != Class::Edited);
        let (verdict, deciding) =
            verdict(self.scores, &rest, &self.findings, self.point, self.placing);
        self.verdict = verdict;
        self.deciding = deciding;
        // The listing clears editing, not a doubtful flag of the AI head:
        // the caveat's hold is decided again on what is left (a dropped
        // declaration of editing no longer lifts it). A verdict cleared to
        // authentic gets the camera discount a photo without a listing gets.
        self.hold_for_caveat(&rest);
        self.discount_camera_original(&rest);
        if reference.changed_fraction > 0.0 {
            // A palette copy (`reference.palette`): colour reduction moves
            // colours as paint does (a review: unchanged GIF copies of 9 of
            // 12 listings were `edited`), so it is judged as a copy without
            // changes, and its changed regions go to a reviewer.
            self.scores.edited = strongest;
            self.score = self.scores.ai_generated.max(self.scores.edited);
            // The score is the listing's now, not a discounted one.
            self.findings.retain(|f| f.code != CAMERA_PROVENANCE);
            if self.verdict == Verdict::Authentic {
                self.verdict = Verdict::Inconclusive;
                self.deciding = codes;
            }
            self.findings.push(palette_copy_held());
        }
    }

    /// With a caveat, pixel evidence alone cannot flag: a flagged verdict
    /// that no metadata declaration reaches becomes `inconclusive`, with a
    /// finding that says why (the score stays as measured). Called again
    /// when the verdict is decided again, so a stale hold is removed first.
    fn hold_for_caveat(&mut self, findings: &[Finding]) {
        self.findings.retain(|f| f.code != HELD_BACK);
        let declared_flag = findings.iter().any(|f| {
            f.detector == DetectorKind::Provenance
                && on_scale(f.score, self.placing) >= self.point.flag
        });
        if let Some(caveat) = self
            .caveat
            .filter(|_| self.verdict.is_flagged() && !declared_flag)
        {
            self.verdict = Verdict::Inconclusive;
            self.findings.push(held_back(caveat));
        }
    }

    /// Camera-original metadata lowers a score already under the authentic
    /// threshold (never a verdict), once: see [`CAMERA_DISCOUNT`].
    fn discount_camera_original(&mut self, findings: &[Finding]) {
        let score = self.score;
        if self.verdict != Verdict::Authentic
            || score >= self.point.authentic
            || !camera_original(findings)
            || self.findings.iter().any(|f| f.code == CAMERA_PROVENANCE)
        {
            return;
        }
        self.scores.ai_generated *= CAMERA_DISCOUNT;
        self.scores.edited *= CAMERA_DISCOUNT;
        self.score = self.scores.ai_generated.max(self.scores.edited);
        self.findings.push(Finding::new(
            DetectorKind::Fusion,
            CAMERA_PROVENANCE,
            0.0,
            Class::None,
            format!(
                "The metadata names a camera and shows no later processing, and the pixel evidence is under the authentic threshold: the score is lowered from {score:.2} to {:.2}. Metadata can be forged, so this never changes a verdict.",
                score * CAMERA_DISCOUNT
            ),
            format!(
                "元数据记录了相机且没有后期处理的迹象，像素证据也低于真实阈值：分数由 {score:.2} 降为 {:.2}。元数据可以伪造，因此这一点从不改变结论。",
                score * CAMERA_DISCOUNT
            ),
        ));
    }

    /// An analysis the time budget cut short cannot clear a photo: the
    /// skipped detectors' features count as the training mean, which reads
    /// as "nothing unusual", and their local evidence was never looked for.
    /// An `authentic` verdict becomes `inconclusive` with a finding naming
    /// what was skipped; a flag found before the cut stands.
    fn hold_incomplete(&mut self, skipped: &[DetectorKind]) {
        if skipped.is_empty() {
            return;
        }
        let names: Vec<String> = skipped.iter().map(ToString::to_string).collect();
        let names = names.join(", ");
        self.hold_authentic(Finding::new(
            DetectorKind::Fusion,
            INCOMPLETE,
            0.0,
            Class::None,
            format!("The time budget ran out before these tests ran or finished: {names}. Without them the photo cannot be cleared, so the verdict is inconclusive."),
            format!("时间预算用尽，以下检测未运行或未完成：{names}。缺少这些检测无法认定照片真实，因此结论为“无法确定”。"),
        ));
    }

    /// An image with fewer than [`MIN_SIDE_TO_CLEAR`] pixels on a side
    /// (`examined`: what the pixel tests read, margins left out) was hardly
    /// examined: the noise, demosaicing, spectrum and local-consistency
    /// tests find no or too few blocks in it, so its score is mostly the
    /// model's prior, which reads as "nothing unusual". As with a cut
    /// analysis, an `authentic` verdict becomes `inconclusive`; a flag
    /// stands.
    fn hold_unexamined(&mut self, (width, height): (u32, u32)) {
        if width.min(height) >= MIN_SIDE_TO_CLEAR {
            return;
        }
        self.hold_authentic(Finding::new(
            DetectorKind::Fusion,
            TOO_SMALL,
            0.0,
            Class::None,
            format!("The image content is {width}x{height} pixels (uniform margins left out): too few for the pixel tests, which read blocks of 32 px and need several of them. It cannot be cleared, so the verdict is inconclusive."),
            format!("图像内容（不含均匀边框）仅 {width}x{height} 像素，像素检测需要多个 32 像素的图块，像素不足无法检测。无法认定照片真实，因此结论为“无法确定”。"),
        ));
    }

    /// An `authentic` verdict becomes `inconclusive`, decided by `why`,
    /// which the fusion adds to the findings; any other verdict stands.
    fn hold_authentic(&mut self, why: Finding) {
        if self.hold(&why.code) {
            self.findings.push(why);
        }
    }

    /// An `authentic` verdict becomes `inconclusive`, decided by the
    /// finding `code`; whether it did (any other verdict stands).
    fn hold(&mut self, code: &str) -> bool {
        if self.verdict != Verdict::Authentic {
            return false;
        }
        self.verdict = Verdict::Inconclusive;
        self.deciding = vec![code.to_string()];
        true
    }
}

/// The finding of an analysis the time budget cut short.
const INCOMPLETE: &str = "fusion.incomplete";

/// The finding of an image too small to examine.
const TOO_SMALL: &str = "fusion.too_small";

/// The finding of an image with pixels that are not fully opaque.
const TRANSPARENT: &str = "fusion.transparent";

/// The finding that `share` of the pixels are not fully opaque: what a
/// viewer sees there is their colour blended with a background the
/// analysis does not know, so the photo is not cleared (a flag stands).
#[must_use]
pub fn transparent(share: f32) -> Finding {
    let (pct, pct_zh) = if share * 100.0 < 0.1 {
        ("under 0.1".to_string(), "不到 0.1".to_string())
    } else {
        let pct = format!("{:.1}", share * 100.0);
        (pct.clone(), pct)
    };
    Finding::new(
        DetectorKind::Fusion,
        TRANSPARENT,
        0.0,
        Class::None,
        format!("{pct}% of the pixels are transparent or translucent: what a viewer sees there depends on the background the image is shown on, while the analysis reads the colour stored under the transparency. A camera photo has no transparency; the photo cannot be cleared, so the verdict is at least inconclusive."),
        format!("{pct_zh}% 的像素是透明或半透明的：观看者看到的内容取决于显示时的背景，而分析读取的是透明区域下存储的颜色。相机照片没有透明度；无法认定照片真实，因此结论至少为“无法确定”。"),
    )
}

/// Whether a report's verdict is `inconclusive` only because the image
/// could not be examined fully (a cut analysis, too few pixels, an
/// animation): no evidence sent it to review, and nothing cleared it.
#[must_use]
pub fn held_unexamined(report: &crate::Report) -> bool {
    report.verdict == Verdict::Inconclusive
        && report
            .deciding
            .iter()
            .any(|code| [INCOMPLETE, TOO_SMALL, ANIMATED, TRANSPARENT].contains(&code.as_str()))
}

/// The code of [`held_back`]'s finding.
const HELD_BACK: &str = "fusion.held_back";

/// The code of the finding that says a camera original's score was lowered.
const CAMERA_PROVENANCE: &str = "fusion.camera_provenance";

/// A report's score before the camera original's discount (`CAMERA_DISCOUNT`):
/// the score of the pixels and the other evidence alone. The discount
/// applies under the authentic threshold in use, so rankings on the
/// reported score (an AUC) move with the operating point and include the
/// metadata; `trueshot eval` reports the AUC of this score beside it.
#[must_use]
pub fn score_before_camera_discount(report: &crate::Report) -> f32 {
    undiscounted(report.score, &report.findings)
}

/// `score` before the camera original's discount, if `findings` say it
/// was applied.
fn undiscounted(score: f32, findings: &[Finding]) -> f32 {
    if findings.iter().any(|f| f.code == CAMERA_PROVENANCE) {
        clamp01(score / CAMERA_DISCOUNT)
    } else {
        score
    }
}

/// The finding that says why a flag from pixel evidence was held back.
fn held_back(caveat: PixelCaveat) -> Finding {
    let (en, zh) = caveat.description();
    Finding::new(
        DetectorKind::Fusion,
        HELD_BACK,
        0.0,
        Class::None,
        format!("The pixel evidence reaches the flag threshold, but the image is {en}; its false-alarm rate on genuine photos of this kind is not known to be low, so the verdict is held at inconclusive for a reviewer."),
        format!("像素证据达到了判定阈值，但该图像{zh}；此类真实照片的误报率未知或偏高，因此结论保留为“无法确定”，交由人工复核。"),
    )
}

/// The finding that says why a copy of a listing with changed regions was
/// not flagged: the claim or the listing has at most 256 colours.
fn palette_copy_held() -> Finding {
    Finding::new(
        DetectorKind::Fusion,
        HELD_BACK,
        0.0,
        Class::None,
        "This photo is a copy of a reference photo with changed regions, but one of the two is stored with at most 256 colours (a GIF or a PNG-8): reducing the colours moves them as paint does, so the changed regions are held for a reviewer, not flagged.".to_string(),
        "这张图片是商家商品图的副本且有改动区域，但两者之一最多只有 256 种颜色（GIF 或 PNG-8）：减色处理会像涂改一样改变颜色，因此改动区域交由人工复核，不直接判定。".to_string(),
    )
}

/// Metadata evidence has fixed meanings (0.99 decisive, 0.5 moderate), but
/// the model's thresholds move with each fit: place the fixed levels on the
/// model's scale, so that a declaration always flags and moderate evidence
/// (a declared composite) is always inconclusive on its own.
fn on_scale(declared: f32, point: OperatingPoint) -> f32 {
    if declared >= 0.99 {
        declared.max(point.flag)
    } else if declared >= 0.5 {
        declared.max(middle(point))
    } else {
        declared
    }
}

/// The middle of the inconclusive band, strictly under the flag threshold
/// (the mean of two adjacent floats can round up to the larger).
fn middle(point: OperatingPoint) -> f32 {
    ((point.authentic + point.flag) / 2.0).min(just_under(point.flag))
}

/// The largest float under a positive `v` (`f32::next_down`, after this
/// crate's minimum Rust version).
fn just_under(v: f32) -> f32 {
    if v > 0.0 && v.is_finite() {
        f32::from_bits(v.to_bits() - 1)
    } else {
        v
    }
}

fn is_local_evidence(f: &Finding) -> bool {
    LOCAL_EVIDENCE.contains(&f.code.as_str())
}

/// Place local evidence of strength `s` in the inconclusive band: from its
/// middle at [`LOCAL_EVIDENCE_MIN`] up to just under the flag threshold at 1,
/// so stronger regions rank higher but never flag on their own (0 below the
/// minimum: weak regions leave the score to the model).
fn local_level(s: f32, point: OperatingPoint) -> f32 {
    if s < LOCAL_EVIDENCE_MIN {
        return 0.0;
    }
    let t = ((s - LOCAL_EVIDENCE_MIN) / (1.0 - LOCAL_EVIDENCE_MIN)).clamp(0.0, 1.0);
    let middle = middle(point);
    (middle + 0.9 * t * (point.flag - middle)).min(just_under(point.flag))
}

/// The level of a finding on the verdict's scale.
fn level(f: &Finding, point: OperatingPoint) -> f32 {
    if f.detector == DetectorKind::Provenance {
        on_scale(f.score, point)
    } else if is_local_evidence(f) {
        local_level(f.score, point)
    } else {
        f.score
    }
}

fn strongest(findings: &[Finding], class: Class, keep: impl Fn(&Finding) -> bool) -> f32 {
    findings
        .iter()
        .filter(|f| f.class == class && keep(f))
        .map(|f| f.score)
        .fold(0.0, f32::max)
}

/// The verdict and the codes of the findings that decided it.
fn verdict(
    scores: Scores,
    findings: &[Finding],
    model_findings: &[Finding],
    point: OperatingPoint,
    placing: OperatingPoint,
) -> (Verdict, Vec<String>) {
    let score = scores.ai_generated.max(scores.edited);
    let class = if scores.ai_generated >= scores.edited {
        Class::AiGenerated
    } else {
        Class::Edited
    };
    let verdict = if score >= point.flag {
        if class == Class::AiGenerated {
            Verdict::AiGenerated
        } else {
            Verdict::Edited
        }
    } else if score >= point.authentic {
        Verdict::Inconclusive
    } else {
        Verdict::Authentic
    };
    if verdict == Verdict::Authentic {
        return (verdict, Vec::new());
    }
    // A code is named once, however many regions it marked.
    let mut deciding: Vec<String> = Vec::new();
    for f in model_findings.iter().chain(findings) {
        if f.class == class && level(f, placing) >= point.authentic && !deciding.contains(&f.code) {
            deciding.push(f.code.clone());
        }
    }
    (verdict, deciding)
}

/// Fit one logistic head by iteratively reweighted least squares (Newton's
/// method) with an L2 penalty `l2` on the weights, on features standardised
/// by median and interquartile range. `weight` balances the classes.
#[must_use]
pub fn fit_head(rows: &[Vec<f32>], labels: &[bool], l2: f64) -> Head {
    let n_features = rows.first().map_or(0, Vec::len);
    let (mean, scale): (Vec<f32>, Vec<f32>) = (0..n_features)
        .map(|j| robust_centre_scale(rows.iter().map(|r| r[j])))
        .unzip();
    let z: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(j, &v)| f64::from(standardise(v, mean[j], scale[j])))
                .collect()
        })
        .collect();
    let sample_weights = balanced_weights(labels);
    // Parameters: weights then bias (last).
    let d = n_features + 1;
    let mut beta = vec![0.0f64; d];
    for _ in 0..50 {
        let mut gradient = vec![0.0f64; d];
        let mut hessian = vec![0.0f64; d * d];
        for ((zi, &yi), &w) in z.iter().zip(labels).zip(&sample_weights) {
            let t: f64 = zi.iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>() + beta[d - 1];
            let p = 1.0 / (1.0 + (-t).exp());
            let residual = w * (p - f64::from(u8::from(yi)));
            let curvature = w * (p * (1.0 - p)).max(1e-9);
            for a in 0..d {
                let za = if a + 1 == d { 1.0 } else { zi[a] };
                gradient[a] += residual * za;
                for b in 0..d {
                    let zb = if b + 1 == d { 1.0 } else { zi[b] };
                    hessian[a * d + b] += curvature * za * zb;
                }
            }
        }
        for a in 0..d - 1 {
            gradient[a] += l2 * beta[a];
            hessian[a * d + a] += l2;
        }
        hessian[(d - 1) * d + d - 1] += 1e-6;
        let Some(step) = solve(&mut hessian, &mut gradient, d) else {
            break;
        };
        let mut largest = 0.0f64;
        for (b, s) in beta.iter_mut().zip(&step) {
            *b -= s;
            largest = largest.max(s.abs());
        }
        if largest < 1e-7 {
            break;
        }
    }
    Head {
        mean,
        scale,
        weights: beta[..d - 1].iter().map(|&b| b as f32).collect(),
        bias: beta[d - 1] as f32,
        trees: Vec::new(),
    }
}

/// Fit one boosted head ([`trees`]) with the leaf penalty `l2`, classes
/// balanced as in [`fit_head`]. Its linear part is empty (zero weights).
#[must_use]
pub fn fit_boosted_head(rows: &[Vec<f32>], labels: &[bool], l2: f64) -> Head {
    let n_features = rows.first().map_or(0, Vec::len);
    let params = trees::Params {
        l2,
        ..trees::Params::default()
    };
    let (bias, trees) = trees::fit(rows, labels, &balanced_weights(labels), &params);
    Head {
        mean: vec![0.0; n_features],
        scale: vec![1.0; n_features],
        weights: vec![0.0; n_features],
        bias,
        trees,
    }
}

/// Per-sample weights that give both classes the same total weight.
fn balanced_weights(labels: &[bool]) -> Vec<f64> {
    let positives = labels.iter().filter(|&&y| y).count().max(1) as f64;
    let negatives = labels.iter().filter(|&&y| !y).count().max(1) as f64;
    let total = positives + negatives;
    labels
        .iter()
        .map(|&y| {
            if y {
                total / (2.0 * positives)
            } else {
                total / (2.0 * negatives)
            }
        })
        .collect()
}

/// Median and interquartile range (scaled to match a normal's standard
/// deviation), robust to the outliers forensic features have.
fn robust_centre_scale(values: impl Iterator<Item = f32>) -> (f32, f32) {
    let mut v: Vec<f32> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (0.0, 1.0);
    }
    v.sort_by(f32::total_cmp);
    let q = |p: f32| v[((v.len() - 1) as f32 * p).round() as usize];
    let median = q(0.5);
    let iqr = (q(0.75) - q(0.25)) / 1.349;
    let spread = if iqr > 1e-6 {
        iqr
    } else {
        // Mostly constant features: fall back to the mean absolute deviation.
        let mad = v.iter().map(|x| (x - median).abs()).sum::<f32>() / v.len() as f32;
        if mad > 1e-6 {
            mad
        } else {
            1.0
        }
    };
    (median, spread)
}

/// Solve `a x = b` (a is d x d, row-major) by Gaussian elimination with
/// partial pivoting. `None` when singular.
pub(crate) fn solve(a: &mut [f64], b: &mut [f64], d: usize) -> Option<Vec<f64>> {
    for col in 0..d {
        let pivot =
            (col..d).max_by(|&i, &j| a[i * d + col].abs().total_cmp(&a[j * d + col].abs()))?;
        if a[pivot * d + col].abs() < 1e-12 {
            return None;
        }
        if pivot != col {
            for k in 0..d {
                a.swap(pivot * d + k, col * d + k);
            }
            b.swap(pivot, col);
        }
        for row in col + 1..d {
            let f = a[row * d + col] / a[col * d + col];
            for k in col..d {
                a[row * d + k] -= f * a[col * d + k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; d];
    for row in (0..d).rev() {
        let s: f64 = (row + 1..d).map(|k| a[row * d + k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row * d + row];
    }
    Some(x)
}

/// Thresholds for a target false-alarm rate from the scores of genuine
/// photos: `flag` is the smallest score that at most `rate` of them reach,
/// nudged above the highest genuine score under it; `authentic` is the same
/// for ten times the rate (at most `flag`).
#[must_use]
pub fn threshold_for(real_scores: &[f32], rate: f32) -> OperatingPoint {
    let s = sorted_finite(real_scores);
    let flag = score_reached_by(&s, rate).max(0.5);
    let authentic = score_reached_by(&s, (rate * 10.0).min(0.5));
    with_review_band(OperatingPoint {
        max_false_alarm: rate,
        flag,
        authentic,
    })
}

/// `point` with a band for review: where the authentic threshold reaches
/// the flag threshold (tied top scores, or too few genuine photos for the
/// rates), the flag stays and the authentic threshold comes just under it,
/// so that evidence placed in the band (a declared composite, a local JPEG
/// region) is sent to review instead of cleared for want of one.
fn with_review_band(point: OperatingPoint) -> OperatingPoint {
    OperatingPoint {
        authentic: point.authentic.min(just_under(point.flag)),
        ..point
    }
}

/// The finite scores, ascending.
fn sorted_finite(scores: &[f32]) -> Vec<f32> {
    let mut s: Vec<f32> = scores.iter().copied().filter(|v| v.is_finite()).collect();
    s.sort_by(f32::total_cmp);
    s
}

/// The smallest threshold that at most `rate` of the `sorted` genuine
/// scores reach: nudged above the highest score it must stay over (0.5
/// when there are none).
fn score_reached_by(sorted: &[f32], rate: f32) -> f32 {
    if sorted.is_empty() {
        return 0.5;
    }
    // Number of genuine photos allowed at or above the threshold; in f64
    // with a margin, so that a whole share (0.025 of 40) is not lost to
    // the f32 rounding of the rate.
    let allowed = (f64::from(rate) * sorted.len() as f64 + 1e-6).floor() as usize;
    let idx = sorted.len().saturating_sub(allowed + 1);
    (sorted[idx] + 1e-4).min(1.0)
}

/// [`Model::genuine_scores`] for these genuine-photo scores: all of them,
/// ascending, or [`MAX_GENUINE_QUANTILES`] evenly spaced quantiles of more.
#[must_use]
pub fn genuine_quantiles(real_scores: &[f32]) -> Vec<f32> {
    let s = sorted_finite(real_scores);
    if s.len() <= MAX_GENUINE_QUANTILES {
        return s.into_iter().map(|v| v.clamp(0.0, 1.0)).collect();
    }
    let last = (s.len() - 1) as f64;
    (0..MAX_GENUINE_QUANTILES)
        .map(|i| {
            let at = (i as f64 * last / (MAX_GENUINE_QUANTILES - 1) as f64).round() as usize;
            s[at.min(s.len() - 1)].clamp(0.0, 1.0)
        })
        .collect()
}

/// Whether the provenance findings describe a camera original: EXIF names a
/// camera, and no metadata finding points to editing, cropping or generation.
fn camera_original(findings: &[Finding]) -> bool {
    let provenance = || {
        findings
            .iter()
            .filter(|f| f.detector == DetectorKind::Provenance)
    };
    provenance().any(|f| f.code == "provenance.camera")
        && !provenance()
            .any(|f| f.score > 0.0 && matches!(f.class, Class::Edited | Class::AiGenerated))
}

/// Area under the ROC curve (Mann-Whitney U, ties counted half).
#[must_use]
pub fn auc(negatives: &[f32], positives: &[f32]) -> Option<f32> {
    if negatives.is_empty() || positives.is_empty() {
        return None;
    }
    let mut wins = 0.0f64;
    for &p in positives {
        for &n in negatives {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    Some((wins / (negatives.len() * positives.len()) as f64) as f32)
}

/// Two-sided 95% confidence interval of [`auc`] by DeLong, DeLong &
/// Clarke-Pearson ("Comparing the areas under two or more correlated
/// receiver operating characteristic curves: a nonparametric approach",
/// Biometrics 44(3), 1988): the AUC's variance from each image's share of
/// wins (its structural component), then the normal approximation, cut to
/// [0, 1]. `None` with fewer than two images of a class, or when the
/// variance is 0 (a perfect or perfectly wrong ranking, where the normal
/// approximation says nothing). It treats images as independent: near
/// duplicates (crops of one photo) make it too narrow.
#[must_use]
pub fn auc_interval(negatives: &[f32], positives: &[f32]) -> Option<[f32; 2]> {
    let (m, n) = (positives.len(), negatives.len());
    if m < 2 || n < 2 {
        return None;
    }
    let win = |p: f32, q: f32| match p.partial_cmp(&q) {
        Some(std::cmp::Ordering::Greater) => 1.0,
        Some(std::cmp::Ordering::Equal) => 0.5,
        _ => 0.0,
    };
    let of_positives: Vec<f64> = positives
        .iter()
        .map(|&p| negatives.iter().map(|&q| win(p, q)).sum::<f64>() / n as f64)
        .collect();
    let of_negatives: Vec<f64> = negatives
        .iter()
        .map(|&q| positives.iter().map(|&p| win(p, q)).sum::<f64>() / m as f64)
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let variance = |v: &[f64]| {
        let mu = mean(v);
        v.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    };
    let area = mean(&of_positives);
    let se = (variance(&of_positives) / m as f64 + variance(&of_negatives) / n as f64).sqrt();
    (se > 0.0).then(|| {
        let half = Z_95 * se;
        [(area - half).max(0.0) as f32, (area + half).min(1.0) as f32]
    })
}

/// The standard normal quantile of a two-sided 95% interval.
pub const Z_95: f64 = 1.959_964;

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of an ordinary photo, for [`Fused::settle`].
    const PHOTO: (u32, u32) = (1024, 768);

    /// DeLong's interval on a case worked by hand: positives 0.2, 0.6,
    /// 0.8 and negatives 0.1, 0.4, 0.7 give AUC 2/3; the positives' win
    /// shares are 1/3, 2/3, 1 (variance 1/9) and the negatives' 1, 2/3,
    /// 1/3 (1/9), so the standard error is sqrt(2/27).
    #[test]
    fn the_auc_interval_follows_delong() {
        let (negatives, positives) = ([0.1, 0.4, 0.7], [0.2, 0.6, 0.8]);
        assert!((auc(&negatives, &positives).expect("auc") - 2.0 / 3.0).abs() < 1e-6);
        let [low, high] = auc_interval(&negatives, &positives).expect("interval");
        let half = Z_95 * (2.0f64 / 27.0).sqrt();
        assert!((f64::from(low) - (2.0 / 3.0 - half)).abs() < 1e-5, "{low}");
        assert_eq!(high, 1.0, "cut at 1");
        // Perfect separation, or a class of one, has no interval.
        assert_eq!(auc_interval(&[0.1, 0.2], &[0.8, 0.9]), None);
        assert_eq!(auc_interval(&[0.1], &[0.8, 0.9]), None);
        // More images narrow it.
        let many_neg: Vec<f32> = (0..30).map(|i| [0.1, 0.4, 0.7][i % 3]).collect();
        let many_pos: Vec<f32> = (0..30).map(|i| [0.2, 0.6, 0.8][i % 3]).collect();
        let [low_many, _] = auc_interval(&many_neg, &many_pos).expect("interval");
        assert!(low_many > low + 0.1, "{low_many} vs {low}");
    }

    /// A claim derived unchanged from a listing is the merchant's own photo
    /// even when the budget skipped pixel detectors, but not when listings
    /// were left uncompared (another may be the changed original).
    #[test]
    fn a_listing_clears_a_cut_analysis_only_when_every_listing_was_compared() {
        let plain = || {
            let model = Model::builtin();
            model.fuse(&BTreeMap::new(), &[], model.operating_point(0.01), None)
        };
        assert_eq!(plain().verdict, Verdict::Authentic);
        let derived = derived_unchanged();
        let codes = |f: &Fused| {
            f.findings
                .iter()
                .map(|f| f.code.clone())
                .collect::<Vec<_>>()
        };

        let mut pixels_cut = plain();
        pixels_cut.settle(Some(&derived), &[], &[DetectorKind::CopyMove], PHOTO);
        assert_eq!(pixels_cut.verdict, Verdict::Authentic);
        assert!(!codes(&pixels_cut).contains(&"fusion.incomplete".to_string()));

        let mut listings_cut = plain();
        listings_cut.settle(Some(&derived), &[], &[DetectorKind::Reference], PHOTO);
        assert_eq!(listings_cut.verdict, Verdict::Inconclusive);
        assert!(codes(&listings_cut).contains(&"fusion.incomplete".to_string()));

        let mut no_listing = plain();
        no_listing.settle(None, &[], &[DetectorKind::Reference], PHOTO);
        assert_eq!(no_listing.verdict, Verdict::Inconclusive);
    }

    /// An image too small to examine cannot be cleared, unless a listing it
    /// was derived from unchanged clears it; the rule reads the shorter
    /// side, and a flag stands.
    #[test]
    fn an_image_too_small_to_examine_is_not_cleared() {
        let model = Model::builtin();
        let point = model.operating_point(0.01);
        let plain = || model.fuse(&BTreeMap::new(), &[], point, None);
        let side = MIN_SIDE_TO_CLEAR;
        for (size, held) in [
            ((side - 1, 4 * side), true),
            ((4 * side, side - 1), true),
            ((1, 1), true),
            ((side, side), false),
        ] {
            let mut fused = plain();
            fused.settle(None, &[], &[], size);
            let expected = if held {
                Verdict::Inconclusive
            } else {
                Verdict::Authentic
            };
            assert_eq!(fused.verdict, expected, "{size:?}");
            let says = fused.findings.iter().any(|f| f.code == "fusion.too_small");
            assert_eq!(says, held, "{size:?}");
            assert_eq!(fused.deciding.contains(&"fusion.too_small".into()), held);
        }

        let mut by_listing = plain();
        by_listing.settle(Some(&derived_unchanged()), &[], &[], (8, 8));
        assert_eq!(by_listing.verdict, Verdict::Authentic);

        let declared = [finding(
            DetectorKind::Provenance,
            "provenance.aigc_label",
            0.99,
            Class::AiGenerated,
        )];
        let mut flagged = model.fuse(&BTreeMap::new(), &declared, point, None);
        assert!(flagged.verdict.is_flagged());
        flagged.settle(None, &declared, &[], (8, 8));
        assert!(flagged.verdict.is_flagged());
    }

    /// An animation is never cleared, not even by a listing it derives
    /// from unchanged (the listing was compared with one frame); a flag
    /// stands.
    #[test]
    fn an_animation_or_transparency_is_not_cleared() {
        let model = Model::builtin();
        let point = model.operating_point(0.01);
        let animated = finding(DetectorKind::Provenance, ANIMATED, 0.0, Class::None);
        for unseen in [animated, transparent(0.0001)] {
            let code = unseen.code.clone();
            let shown = [unseen];
            for listing in [None, Some(derived_unchanged())] {
                let mut still = model.fuse(&BTreeMap::new(), &[], point, None);
                still.settle(listing.as_ref(), &[], &[], PHOTO);
                assert_eq!(still.verdict, Verdict::Authentic);
                let mut fused = model.fuse(&BTreeMap::new(), &shown, point, None);
                fused.settle(listing.as_ref(), &shown, &[], PHOTO);
                assert_eq!(fused.verdict, Verdict::Inconclusive, "{code} {listing:?}");
                assert_eq!(fused.deciding, vec![code.clone()]);
                // The finding given says why; the fusion adds none.
                assert!(fused.findings.iter().all(|f| f.code != code));
            }
            let declared = [
                shown[0].clone(),
                finding(
                    DetectorKind::Provenance,
                    "provenance.aigc_label",
                    0.99,
                    Class::AiGenerated,
                ),
            ];
            let mut flagged = model.fuse(&BTreeMap::new(), &declared, point, None);
            flagged.settle(None, &declared, &[], PHOTO);
            assert!(flagged.verdict.is_flagged(), "{code}");
        }
        assert!(transparent(0.0001).message.starts_with("under 0.1% "));
        assert!(transparent(0.25).message.starts_with("25.0% "));
    }

    #[test]
    fn builtin_model_loads() {
        let model = Model::builtin();
        assert!(model.check().is_ok());
        assert!(!model.operating_points.is_empty());
        // Its genuine scores are the ones its thresholds were chosen on:
        // each stored authentic threshold is the one a review rate of its
        // own share gives (calibrate's safety factor 1/4, then 10x).
        for p in &model.operating_points {
            let rate = p.max_false_alarm * 2.5;
            let from_scores = model.operating_point_for(p.max_false_alarm, Some(rate));
            assert_eq!(from_scores.ok(), Some(*p), "rate {rate}");
        }
    }

    /// The shipped `ai_generated` head does not read what would let it learn
    /// a shortcut: the file's JPEG history (format) or the co-occurrence
    /// cluster (how varied a scene is); the `edited` head reads both.
    #[test]
    fn builtin_ai_head_reads_no_shortcut_features() {
        let model = Model::builtin();
        let (Some(ai), Some(edited)) = (&model.ai_generated, &model.edited) else {
            panic!("the shipped model has both heads");
        };
        let shortcut = |name: &str| AI_HEAD_EXCLUDED.iter().any(|p| name.starts_with(p));
        let mut edited_reads = 0;
        for (j, name) in model.features.iter().enumerate() {
            if shortcut(name) {
                assert_eq!(ai.weights[j], 0.0, "{name}");
                edited_reads += usize::from(edited.weights[j] != 0.0);
            }
        }
        assert_eq!(edited_reads, 2);
    }

    /// Models a platform might load by mistake are refused, each with a
    /// reason, instead of scoring every photo the same or as 0.
    #[test]
    fn model_check_refuses_what_would_score_wrongly() {
        assert!(one_feature_model(1.0, vec![POINT]).check().is_ok());
        let refused = |model: Model| assert!(model.check().is_err(), "{model:?}");
        let mut misspelt = one_feature_model(1.0, vec![POINT]);
        misspelt.features = vec!["texturestats_x".into()];
        refused(misspelt);
        let mut unknown_detector = one_feature_model(1.0, vec![POINT]);
        unknown_detector.features = vec!["colour.x".into()];
        refused(unknown_detector);
        let mut twice = one_feature_model(1.0, vec![POINT]);
        twice.features.push("texture_stats.x".into());
        if let Some(head) = &mut twice.ai_generated {
            head.mean.push(0.0);
            head.scale.push(1.0);
            head.weights.push(1.0);
        }
        refused(twice);
        // Finite but huge: the logit would overflow to NaN.
        refused(one_feature_model(3e38, vec![POINT]));
        for point in [
            OperatingPoint {
                flag: 0.0,
                authentic: 0.0,
                ..POINT
            },
            OperatingPoint {
                max_false_alarm: 7.0,
                ..POINT
            },
            OperatingPoint {
                max_false_alarm: -5.0,
                ..POINT
            },
            OperatingPoint {
                authentic: 0.95,
                ..POINT
            },
        ] {
            refused(one_feature_model(1.0, vec![point]));
        }
    }

    /// A model with one feature `x` and an `ai_generated` head of `weight`.
    fn one_feature_model(weight: f32, operating_points: Vec<OperatingPoint>) -> Model {
        Model {
            description: String::new(),
            features: vec!["texture_stats.x".into()],
            ai_generated: Some(Head {
                mean: vec![0.0],
                scale: vec![1.0],
                weights: vec![weight],
                bias: 0.0,
                trees: Vec::new(),
            }),
            edited: None,
            operating_points,
            genuine_scores: Vec::new(),
            cross_validation: serde_json::Value::Null,
            training_files: Vec::new(),
            fitted_by: None,
        }
    }

    /// [`one_feature_model`] whose edited head rises with the feature as
    /// its AI head falls.
    fn edits_model(weight: f32, operating_points: Vec<OperatingPoint>) -> Model {
        let mut model = one_feature_model(-weight, operating_points);
        model.edited = one_feature_model(weight, Vec::new()).ai_generated;
        model
    }

    /// A claim matched to a listing photo it was derived from unchanged.
    fn derived_unchanged() -> ReferenceMatch {
        ReferenceMatch {
            derived: true,
            similarity: 0.99,
            ..ReferenceMatch::default()
        }
    }

    #[test]
    fn a_review_rate_sets_the_authentic_threshold_from_the_genuine_scores() {
        let point = OperatingPoint {
            max_false_alarm: 0.01,
            flag: 0.995,
            authentic: 0.9,
        };
        let mut model = one_feature_model(1.0, vec![point]);
        // Without genuine scores a review rate cannot be honoured.
        assert!(model.operating_point_for(0.01, Some(0.1)).is_err());
        assert_eq!(model.operating_point_for(0.01, None).ok(), Some(point));

        // 100 genuine scores 0.00, 0.01, ..., 0.99.
        model.genuine_scores = (0..100).map(|i| i as f32 / 100.0).collect();
        assert!(model.check().is_ok());
        let share_reaching =
            |t: f32| model.genuine_scores.iter().filter(|&&s| s >= t).count() as f32 / 100.0;
        let mut last = f32::INFINITY;
        for rate in [0.05, 0.1, 0.2, 0.5] {
            let p = model.operating_point_for(0.01, Some(rate)).unwrap_or(point);
            assert_eq!(
                p.flag, point.flag,
                "a review rate leaves the flag threshold"
            );
            assert!(
                (share_reaching(p.authentic) - rate).abs() < 1e-6,
                "rate {rate}: {p:?}"
            );
            assert!(p.authentic < last, "more review, lower threshold");
            last = p.authentic;
        }
        // A review rate the flag's own share already fills leaves no band
        // for review evidence: refused, naming that share; so is one out of
        // range.
        model.operating_points[0].flag = 0.95;
        let e = model
            .operating_point_for(0.01, Some(0.04))
            .expect_err("no band left");
        assert!(e.to_string().contains("reaches 0.0500 of genuine"), "{e}");
        assert!(model.operating_point_for(0.01, Some(0.06)).is_ok());
        for bad in [0.0, 1.0, f32::NAN] {
            assert!(model.operating_point_for(0.01, Some(bad)).is_err());
        }
    }

    /// Review evidence (a declared composite, a local JPEG region) goes to
    /// review at any review rate and never flags; a widened band moves no
    /// score.
    #[test]
    fn review_evidence_stays_in_the_band_a_review_rate_sets() {
        let mut model = one_feature_model(1.0, vec![POINT]);
        model.edited = model.ai_generated.clone();
        // 100 genuine scores 0.00 .. 0.99: the flag (0.9) is reached by 10%.
        model.genuine_scores = (0..100).map(|i| i as f32 / 100.0).collect();
        let features = BTreeMap::from([("texture_stats.x".to_string(), -3.0f32)]);
        let local = finding(
            DetectorKind::Jpeg,
            "jpeg.local_single_compression",
            0.6,
            Class::Edited,
        );
        let composite = finding(
            DetectorKind::Provenance,
            "provenance.digital_source_type",
            0.5,
            Class::Edited,
        );
        let own = |f: &Finding| model.fuse(&features, std::slice::from_ref(f), POINT, None);
        for rate in [0.12, 0.3, 0.6, 0.9] {
            let point = model
                .operating_point_for(0.01, Some(rate))
                .expect("a band is left");
            for f in [&local, &composite] {
                let fused = model.fuse(&features, std::slice::from_ref(f), point, None);
                assert_eq!(fused.verdict, Verdict::Inconclusive, "{rate} {}", f.code);
                assert!(fused.score > point.authentic && fused.score < point.flag);
                assert_eq!(fused.deciding, vec![f.code.clone()]);
                if point.authentic <= POINT.authentic {
                    assert_eq!(fused.score.to_bits(), own(f).score.to_bits(), "{rate}");
                }
            }
        }
        // A stored point without a band of its own (tied genuine scores):
        // the evidence goes to the review band, not to the flag.
        model.operating_points = vec![OperatingPoint {
            authentic: POINT.flag,
            ..POINT
        }];
        let point = model
            .operating_point_for(0.01, Some(0.5))
            .expect("a band is left");
        for f in [&local, &composite] {
            let fused = model.fuse(&features, std::slice::from_ref(f), point, None);
            assert_eq!(fused.verdict, Verdict::Inconclusive, "{}", f.code);
        }
    }

    #[test]
    fn genuine_scores_are_kept_whole_or_thinned_to_quantiles() {
        let few: Vec<f32> = vec![0.3, f32::NAN, 0.1, 0.2];
        assert_eq!(genuine_quantiles(&few), vec![0.1, 0.2, 0.3]);
        let many: Vec<f32> = (0..5000).rev().map(|i| i as f32 / 5000.0).collect();
        let q = genuine_quantiles(&many);
        assert_eq!(q.len(), MAX_GENUINE_QUANTILES);
        assert_eq!(q.first().copied(), Some(0.0));
        assert_eq!(q.last().copied(), Some(4999.0 / 5000.0));
        assert!(q.windows(2).all(|w| w[0] <= w[1]));
        // The thinned quantiles keep a share where the whole list has it.
        let at = |s: &[f32], t: f32| s.iter().filter(|&&v| v >= t).count() as f32 / s.len() as f32;
        assert!((at(&q, 0.9) - at(&many, 0.9)).abs() < 0.002);

        let mut model = one_feature_model(1.0, Model::uncalibrated().operating_points);
        for bad in [
            vec![0.5, 0.4],
            vec![0.1, 1.5],
            vec![f32::NAN],
            vec![0.5; MAX_GENUINE_QUANTILES + 1],
        ] {
            model.genuine_scores = bad;
            assert!(model.check().is_err(), "{:?}", &model.genuine_scores[..1]);
        }
    }

    /// Thresholds flag 0.9, authentic 0.5, at the 1% rate.
    const POINT: OperatingPoint = OperatingPoint {
        max_false_alarm: 0.01,
        flag: 0.9,
        authentic: 0.5,
    };

    /// A finding without messages.
    fn finding(detector: DetectorKind, code: &str, score: f32, class: Class) -> Finding {
        Finding::new(detector, code, score, class, String::new(), String::new())
    }

    /// A claim derived from a listing has its verdict decided again, and a
    /// caveat's hold with it: derived unchanged, the editing evidence is
    /// dropped but a hold on the AI head's flag stays (it comes back when
    /// the dropped evidence was a declaration that lifted it, and goes when
    /// the verdict is cleared); derived with changes, the verdict is
    /// `edited` and no hold is left.
    #[test]
    fn a_listing_match_decides_a_caveats_hold_again() {
        let model = one_feature_model(5.0, Model::uncalibrated().operating_points);
        let features = BTreeMap::from([("texture_stats.x".to_string(), 3.0f32)]);
        let derived = derived_unchanged();
        let point = model.operating_point(0.01);

        let mut held = model.fuse(&features, &[], point, Some(PixelCaveat::Small));
        assert_eq!(held.verdict, Verdict::Inconclusive);
        held.settle(Some(&derived), &[], &[], PHOTO);
        assert_eq!(held.verdict, Verdict::Inconclusive);
        assert!(held.findings.iter().any(|f| f.code == HELD_BACK));

        let mut plain = model.fuse(&features, &[], point, None);
        plain.settle(Some(&derived), &[], &[], PHOTO);
        assert_eq!(plain.verdict, Verdict::AiGenerated);

        // A declared composite lifted the hold; the listing drops that
        // declaration (editing evidence), so the hold comes back.
        let declared = [finding(
            DetectorKind::Provenance,
            "provenance.iptc_composite",
            0.99,
            Class::Edited,
        )];
        let mut lifted = model.fuse(&features, &declared, point, Some(PixelCaveat::Small));
        assert!(lifted.verdict.is_flagged());
        lifted.settle(Some(&derived), &declared, &[], PHOTO);
        assert_eq!(lifted.verdict, Verdict::Inconclusive);
        assert!(lifted.findings.iter().any(|f| f.code == HELD_BACK));

        // An edited flag held back, then cleared by the listing: authentic,
        // and no finding still says the verdict is held.
        let edits = edits_model(5.0, Model::uncalibrated().operating_points);
        let mut cleared = edits.fuse(&features, &[], point, Some(PixelCaveat::Small));
        assert_eq!(cleared.verdict, Verdict::Inconclusive);
        cleared.settle(Some(&derived), &[], &[], PHOTO);
        assert_eq!(cleared.verdict, Verdict::Authentic);
        assert!(cleared.findings.iter().all(|f| f.code != HELD_BACK));

        // A listing with changed regions decides `edited`: no hold is left.
        let changed = ReferenceMatch {
            changed_fraction: 0.05,
            ..derived.clone()
        };
        let mut edited = model.fuse(&features, &[], point, Some(PixelCaveat::Small));
        edited.settle(Some(&changed), &[], &[], PHOTO);
        assert_eq!(edited.verdict, Verdict::Edited);
        assert!(edited.findings.iter().all(|f| f.code != HELD_BACK));
    }

    /// Colour reduction moves colours as paint does: a copy whose claim or
    /// listing has at most 256 colours is sent to review by its changed
    /// regions, not flagged, and a flag the other evidence reached stands.
    #[test]
    fn a_changed_palette_copy_is_reviewed_not_flagged() {
        let model = one_feature_model(5.0, Model::uncalibrated().operating_points);
        let point = model.operating_point(0.01);
        let region = finding(
            DetectorKind::Reference,
            "reference.changed_region",
            0.9,
            Class::Edited,
        );
        let palette_copy = ReferenceMatch {
            changed_fraction: 0.05,
            palette: true,
            ..derived_unchanged()
        };
        let settled = |x: f32, matched: &ReferenceMatch| {
            let features = BTreeMap::from([("texture_stats.x".to_string(), x)]);
            let mut fused = model.fuse(&features, std::slice::from_ref(&region), point, None);
            fused.settle(Some(matched), std::slice::from_ref(&region), &[], PHOTO);
            fused
        };
        let held = settled(-3.0, &palette_copy);
        assert_eq!(held.verdict, Verdict::Inconclusive);
        assert_eq!(held.deciding, vec!["reference.changed_region".to_string()]);
        assert!(held.findings.iter().any(|f| f.code == HELD_BACK));
        assert!(held.score >= 0.9);
        let flagged = settled(3.0, &palette_copy);
        assert_eq!(flagged.verdict, Verdict::AiGenerated);
        // The pixels' editing evidence is the listing's copy, as for a copy
        // without changes: it does not flag a palette copy.
        let edits = edits_model(5.0, Model::uncalibrated().operating_points);
        let features = BTreeMap::from([("texture_stats.x".to_string(), 3.0f32)]);
        let mut edited = edits.fuse(&features, std::slice::from_ref(&region), point, None);
        assert_eq!(edited.verdict, Verdict::Edited);
        edited.settle(
            Some(&palette_copy),
            std::slice::from_ref(&region),
            &[],
            PHOTO,
        );
        assert_eq!(edited.verdict, Verdict::Inconclusive);
        assert_eq!(
            edited.deciding,
            vec!["reference.changed_region".to_string()]
        );
        let full_colour = ReferenceMatch {
            palette: false,
            ..palette_copy
        };
        assert_eq!(settled(-3.0, &full_colour).verdict, Verdict::Edited);
    }

    #[test]
    fn pixel_model_alone_cannot_flag_an_image_with_a_caveat() {
        let model = one_feature_model(5.0, Model::uncalibrated().operating_points);
        let features = BTreeMap::from([("texture_stats.x".to_string(), 3.0f32)]);
        let plain = model.fuse(&features, &[], model.operating_point(0.01), None);
        assert_eq!(plain.verdict, Verdict::AiGenerated);
        assert!(plain.findings.iter().all(|f| f.code != "fusion.held_back"));
        for (caveat, says) in [
            (
                PixelCaveat::Small,
                "the image is fewer than 256 x 256 pixels",
            ),
            (PixelCaveat::Palette, "the image is at most 256 colours"),
            (PixelCaveat::LossyWebp, "the image is a lossy WebP"),
            (
                PixelCaveat::Smooth,
                "the image is mostly without measurable noise",
            ),
            (
                PixelCaveat::Replicated,
                "the image is enlarged by repeating pixels",
            ),
        ] {
            let held = model.fuse(&features, &[], model.operating_point(0.01), Some(caveat));
            assert_eq!(held.verdict, Verdict::Inconclusive, "{caveat:?}");
            assert_eq!(held.score.to_bits(), plain.score.to_bits());
            let reason = held.findings.iter().find(|f| f.code == "fusion.held_back");
            assert!(
                reason.is_some_and(|f| f.message.contains(says)),
                "{caveat:?}"
            );
            // A metadata declaration still flags.
            let declared = [finding(
                DetectorKind::Provenance,
                "provenance.c2pa_ai",
                0.99,
                Class::AiGenerated,
            )];
            let flagged = model.fuse(
                &features,
                &declared,
                model.operating_point(0.01),
                Some(caveat),
            );
            assert_eq!(flagged.verdict, Verdict::AiGenerated, "{caveat:?}");
        }
        // An authentic image gets no hold-back finding.
        let low = BTreeMap::from([("texture_stats.x".to_string(), -3.0f32)]);
        let authentic = model.fuse(
            &low,
            &[],
            model.operating_point(0.01),
            Some(PixelCaveat::Palette),
        );
        assert_eq!(authentic.verdict, Verdict::Authentic);
        assert!(authentic.findings.is_empty());
    }

    #[test]
    fn the_score_before_the_camera_discount_undoes_it() {
        let image = image::DynamicImage::new_rgb8(64, 64);
        let mut report = crate::analyze_image(&image, &crate::Config::default()).expect("report");
        report.score = 0.2;
        report.findings.retain(|f| f.code != CAMERA_PROVENANCE);
        assert_eq!(score_before_camera_discount(&report), 0.2);
        report.findings.push(finding(
            DetectorKind::Fusion,
            CAMERA_PROVENANCE,
            0.0,
            Class::None,
        ));
        assert!((score_before_camera_discount(&report) - 0.2 / CAMERA_DISCOUNT).abs() < 1e-6);
    }

    #[test]
    fn camera_provenance_lowers_only_authentic_scores() {
        let model = one_feature_model(1.0, vec![POINT]);
        let finding = |code: &str, score: f32, class: Class| {
            finding(DetectorKind::Provenance, code, score, class)
        };
        let camera = [finding("provenance.camera", 0.0, Class::None)];
        let edited_camera = [
            finding("provenance.camera", 0.0, Class::None),
            finding("provenance.editor_software", 0.5, Class::Edited),
        ];
        let features = |x: f32| BTreeMap::from([("texture_stats.x".to_string(), x)]);
        let fuse = |x: f32, findings: &[Finding]| {
            model.fuse(&features(x), findings, model.operating_point(0.01), None)
        };

        // Under the authentic threshold: halved, verdict kept, explained.
        let plain = fuse(-1.0, &[]);
        let with_camera = fuse(-1.0, &camera);
        assert_eq!(plain.verdict, Verdict::Authentic);
        assert_eq!(with_camera.verdict, Verdict::Authentic);
        assert!((with_camera.score - plain.score * CAMERA_DISCOUNT).abs() < 1e-6);
        assert!(with_camera
            .findings
            .iter()
            .any(|f| f.code == "fusion.camera_provenance"));
        // Metadata showing processing: no discount.
        let edited = fuse(-1.0, &edited_camera);
        assert!(edited.score >= plain.score);
        // Inconclusive or flagged: the camera changes nothing.
        for x in [0.5, 3.0] {
            let plain = fuse(x, &[]);
            let with_camera = fuse(x, &camera);
            assert_ne!(plain.verdict, Verdict::Authentic);
            assert_eq!(with_camera.verdict, plain.verdict);
            assert_eq!(with_camera.score.to_bits(), plain.score.to_bits());
        }

        // A listing that clears an edited flag gives the discount a photo
        // without one gets, once; a listing's changes take it back.
        let edits = edits_model(1.0, vec![POINT]);
        let derived = derived_unchanged();
        let discounts = |f: &Fused| {
            f.findings
                .iter()
                .filter(|f| f.code == CAMERA_PROVENANCE)
                .count()
        };
        let mut cleared = edits.fuse(&features(3.0), &camera, POINT, None);
        assert_eq!(cleared.verdict, Verdict::Edited);
        assert_eq!(discounts(&cleared), 0);
        let ai_only = cleared.scores.ai_generated;
        cleared.settle(Some(&derived), &camera, &[], PHOTO);
        assert_eq!(cleared.verdict, Verdict::Authentic);
        assert_eq!(discounts(&cleared), 1);
        assert!((cleared.score - ai_only * CAMERA_DISCOUNT).abs() < 1e-6);
        let mut once = model.fuse(&features(-1.0), &camera, POINT, None);
        assert_eq!(discounts(&once), 1);
        let discounted = once.score;
        once.settle(Some(&derived), &camera, &[], PHOTO);
        assert_eq!((discounts(&once), once.score), (1, discounted));
        let changed = ReferenceMatch {
            changed_fraction: 0.05,
            ..derived
        };
        once.settle(Some(&changed), &camera, &[], PHOTO);
        assert_eq!(once.verdict, Verdict::Edited);
        assert_eq!(discounts(&once), 0);
    }

    #[test]
    fn local_single_compression_is_reviewed_never_flagged() {
        let mut model = one_feature_model(1.0, vec![POINT]);
        model.edited = model.ai_generated.clone();
        let region =
            |code: &str, score: f32| finding(DetectorKind::Jpeg, code, score, Class::Edited);
        let features = BTreeMap::from([("texture_stats.x".to_string(), -3.0f32)]);
        let fuse = |findings: &[Finding]| {
            model.fuse(&features, findings, model.operating_point(0.01), None)
        };
        let plain = fuse(&[]);
        assert_eq!(plain.verdict, Verdict::Authentic);
        // Weak regions leave the model's score alone.
        let weak = fuse(&[region("jpeg.local_single_compression", 0.3)]);
        assert_eq!(weak.score.to_bits(), plain.score.to_bits());
        // Strong ones send the image to review, naming the region, and a
        // stronger region ranks higher; none flags on its own.
        let mut last = 0.0;
        for s in [0.5, 0.8, 1.0] {
            let fused = fuse(&[region("jpeg.local_single_compression", s)]);
            assert_eq!(fused.verdict, Verdict::Inconclusive, "strength {s}");
            assert!(fused.score > last && fused.score < POINT.flag);
            assert_eq!(fused.deciding, vec!["jpeg.local_single_compression"]);
            last = fused.score;
        }
        // Two regions of one test are named once.
        let two = region("jpeg.local_single_compression", 0.8);
        let fused = fuse(&[two.clone(), two]);
        assert_eq!(fused.deciding, vec!["jpeg.local_single_compression"]);
        // Other region findings stay with the model.
        let other = fuse(&[region("local_consistency.region", 1.0)]);
        assert_eq!(other.verdict, Verdict::Authentic);
    }

    /// A model fitted on one class only (no head for the other) keeps the
    /// fixed places: a local region of the missing class is sent to review,
    /// never flagged or cleared, and a declaration still flags.
    #[test]
    fn a_missing_head_keeps_the_fixed_places_of_evidence() {
        let mut ai_only = one_feature_model(1.0, vec![POINT]);
        ai_only.edited = None;
        let mut edits_only = one_feature_model(1.0, vec![POINT]);
        edits_only.edited = edits_only.ai_generated.take();
        let features = BTreeMap::from([("texture_stats.x".to_string(), -3.0f32)]);
        let region = [finding(
            DetectorKind::Jpeg,
            "jpeg.local_single_compression",
            0.98,
            Class::Edited,
        )];
        let declared = [finding(
            DetectorKind::Provenance,
            "provenance.generator_parameters",
            0.99,
            Class::AiGenerated,
        )];
        for model in [&ai_only, &edits_only, &Model::uncalibrated()] {
            let point = model.operating_point(0.01);
            let reviewed = model.fuse(&features, &region, point, None);
            assert_eq!(
                reviewed.verdict,
                Verdict::Inconclusive,
                "{}",
                model.description
            );
            let flagged = model.fuse(&features, &declared, point, None);
            assert_eq!(
                flagged.verdict,
                Verdict::AiGenerated,
                "{}",
                model.description
            );
        }
    }

    #[test]
    fn logistic_fit_separates_a_separable_feature() {
        let rows: Vec<Vec<f32>> = (0..200)
            .map(|i| vec![i as f32, (i * 7 % 13) as f32])
            .collect();
        let labels: Vec<bool> = (0..200).map(|i| i >= 100).collect();
        let head = fit_head(&rows, &labels, 1.0);
        assert!(head.weights[0] > 0.5, "{head:?}");
        assert!(head.weights[1].abs() < head.weights[0] / 4.0, "{head:?}");
        assert!(head.predict(&[190.0, 3.0]) > 0.9);
        assert!(head.predict(&[10.0, 3.0]) < 0.1);
    }

    #[test]
    fn thresholds_respect_the_false_alarm_rate() {
        let real: Vec<f32> = (0..200).map(|i| i as f32 / 400.0).collect();
        let point = threshold_for(&real, 0.01);
        let alarms = real.iter().filter(|&&s| s >= point.flag).count();
        assert!(alarms <= 2, "{alarms} {point:?}");
        assert!(point.authentic <= point.flag);
    }

    /// A whole share of the genuine photos is allowed despite the f32
    /// rate (0.025 of 40 is one photo), and tied or too few genuine scores
    /// still leave a band for review, in a fitted point and in a stored one.
    #[test]
    fn thresholds_keep_whole_shares_and_a_review_band() {
        let real: Vec<f32> = (0..40).map(|i| i as f32 / 100.0 + 0.5).collect();
        let point = threshold_for(&real, 0.025);
        assert_eq!(real.iter().filter(|&&s| s >= point.flag).count(), 1);

        let tied = vec![0.97f32; 30];
        let point = threshold_for(&tied, 0.01);
        assert!(point.authentic < point.flag, "{point:?}");
        let mut model = one_feature_model(1.0, vec![POINT]);
        model.operating_points = vec![OperatingPoint {
            max_false_alarm: 0.01,
            flag: 0.95,
            authentic: 0.95,
        }];
        let stored = model.operating_point(0.01);
        assert!(stored.authentic < stored.flag && stored.flag == 0.95);
        let region = [finding(
            DetectorKind::Jpeg,
            "jpeg.local_single_compression",
            0.98,
            Class::Edited,
        )];
        let features = BTreeMap::from([("texture_stats.x".to_string(), -3.0f32)]);
        let fused = model.fuse(&features, &region, stored, None);
        assert_eq!(fused.verdict, Verdict::Inconclusive);
    }

    #[test]
    fn auc_of_perfect_and_random_rankings() {
        assert_eq!(auc(&[0.1, 0.2], &[0.3, 0.4]), Some(1.0));
        assert_eq!(auc(&[0.5], &[0.5]), Some(0.5));
        assert_eq!(auc(&[], &[0.5]), None);
    }

    #[test]
    fn linear_solver_solves() {
        let mut a = vec![2.0, 1.0, 1.0, 3.0];
        let mut b = vec![3.0, 5.0];
        let x = solve(&mut a, &mut b, 2).expect("solvable");
        assert!((x[0] - 0.8).abs() < 1e-9 && (x[1] - 1.4).abs() < 1e-9);
    }
}
