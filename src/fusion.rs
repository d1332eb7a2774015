//! Fusion: combine the detectors' findings into per-class scores, one score
//! and a verdict at the configured operating point.

use crate::report::{Class, DetectorKind, Finding, ReferenceMatch, Scores, Verdict};

/// Thresholds of the verdict. Scores ≥ `flag` are flagged; scores < `authentic`
/// are authentic; in between is inconclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OperatingPoint {
    /// Flagging threshold.
    pub flag: f32,
    /// Upper bound of `authentic`.
    pub authentic: f32,
}

/// The operating point for a target false-alarm rate on genuine photos.
#[must_use]
pub fn operating_point(max_false_alarm: f32) -> OperatingPoint {
    // Until a calibrated model exists, a declaration must be near-certain to
    // flag, and the inconclusive band starts at moderate evidence. A looser
    // false-alarm target lowers the flag threshold a little.
    let flag = (0.9 - (max_false_alarm - 0.01).max(0.0)).clamp(0.5, 0.95);
    OperatingPoint {
        flag,
        authentic: 0.3,
    }
}

/// Per-class scores from the findings: the strongest evidence of each class.
#[must_use]
pub fn class_scores(findings: &[Finding]) -> Scores {
    let best = |class: Class| {
        findings
            .iter()
            .filter(|f| f.class == class)
            .map(|f| f.score)
            .fold(0.0, f32::max)
    };
    Scores {
        ai_generated: best(Class::AiGenerated),
        edited: best(Class::Edited),
    }
}

/// The verdict and the codes of the findings that decided it.
#[must_use]
pub fn verdict(
    scores: Scores,
    findings: &[Finding],
    point: OperatingPoint,
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
    let floor = if verdict == Verdict::Authentic {
        point.authentic
    } else {
        point.authentic.min(score)
    };
    let deciding = findings
        .iter()
        .filter(|f| f.class == class && f.score >= floor && f.score > 0.0)
        .map(|f| f.code.clone())
        .collect();
    (verdict, deciding)
}

/// The verdict rule of the reference comparison (issue 7), applied after
/// [`verdict`]:
/// - a claim derived from a reference photo with changed regions is
///   `edited`, whatever the other detectors say: the pixel comparison with
///   the source is direct evidence;
/// - a claim derived without changes is the merchant's own photo: the blind
///   edit evidence is superseded by the comparison (the edited score drops to
///   0), so it is never `edited`, and the AI evidence still decides between
///   `authentic`, `inconclusive` and `ai_generated`;
/// - otherwise nothing changes.
#[must_use]
pub fn reference_verdict(
    scores: Scores,
    decided: (Verdict, Vec<String>),
    findings: &[Finding],
    reference: &ReferenceMatch,
    point: OperatingPoint,
) -> (Scores, Verdict, Vec<String>) {
    if !reference.derived {
        return (scores, decided.0, decided.1);
    }
    if reference.changed_fraction > 0.0 {
        let deciding = findings
            .iter()
            .filter(|f| f.detector == DetectorKind::Reference && f.class == Class::Edited)
            .map(|f| f.code.clone())
            .fold(Vec::new(), |mut v, c| {
                if !v.contains(&c) {
                    v.push(c);
                }
                v
            });
        return (scores, Verdict::Edited, deciding);
    }
    let scores = Scores {
        edited: 0.0,
        ..scores
    };
    let rest: Vec<Finding> = findings
        .iter()
        .filter(|f| f.class != Class::Edited)
        .cloned()
        .collect();
    let (verdict, deciding) = verdict(scores, &rest, point);
    (scores, verdict, deciding)
}
