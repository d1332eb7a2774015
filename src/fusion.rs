//! Fusion: combine the detectors' findings into per-class scores, one score
//! and a verdict at the configured operating point.

use crate::report::{Class, Finding, Scores, Verdict};

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
