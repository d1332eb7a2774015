//! Analysis settings.

use std::path::PathBuf;

use crate::Error;

/// Settings for an analysis. Build with [`Config::default`] and change the
/// public fields; [`Analyzer::new`](crate::Analyzer::new) validates them once.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// Images whose header declares more pixels than this are refused before
    /// any pixel buffer is allocated. Range 1..=1_000_000_000. Default: `100_000_000`.
    pub max_pixels: u64,
    /// Inputs larger than this many bytes are refused unread.
    /// Default: `256 MiB`.
    pub max_file_bytes: u64,
    /// Upper bound on memory the decoder may allocate, in bytes (pixels
    /// given decoded are bounded by `max_pixels` only). Default: `1 GiB`.
    pub max_decoded_bytes: u64,
    /// Compute the localisation heatmap. Default: `true`.
    pub heatmap: bool,
    /// Target false-alarm rate on genuine photos, in (0, 0.5]. The flagging
    /// thresholds of the verdict are those of the model's loosest operating
    /// point at or under it (the built-in model's: 0.5%, 1%, 2%, 5%, 10%);
    /// a rate under the strictest point gets that point, whose thresholds
    /// the report carries and its page quotes. Default: `0.01` (1%).
    pub max_false_alarm: f32,
    /// Share of genuine photos, in (0, 1), that may score at or above the
    /// authentic threshold (be sent to review or flagged): sets that
    /// threshold from the model's out-of-fold scores of genuine photos, so
    /// a platform chooses its review load. The share is that of the
    /// photos the model was fitted on (and their perturbed copies); on
    /// other photos it differs. Flags stay where `max_false_alarm` puts
    /// them; a rate so small that its authentic threshold would reach the
    /// flag threshold leaves no band for review and is refused. `None` keeps the
    /// model's own threshold (2.5% of genuine photos at the default
    /// `max_false_alarm`). Default: `None`.
    pub review_rate: Option<f32>,
    /// A fusion model file (JSON) to use instead of the built-in one.
    /// Default: `None`.
    pub model_path: Option<PathBuf>,
    /// Per-image time budget in milliseconds, counted from the start of the
    /// analysis (decoding included). When it runs out, the remaining pixel
    /// detectors are skipped, and so are the reference photos not yet
    /// compared; they are listed in `Report::incomplete`, and the verdict
    /// cannot be `authentic` (finding `fusion.incomplete`: what was not
    /// looked at cannot clear a photo) unless every listing was compared
    /// and the claim is one of them unchanged; a cut comparison reports no
    /// `reference` unless a listing matched. The budget is checked between
    /// steps: decoding, a step already running (one detector, one
    /// reference) and the change map of a matched listing are not
    /// interrupted, so an analysis overruns by up to about one step (80 ms
    /// took 120 ms against 20 listings, 150 ms took 185 ms on a 12 MP
    /// photo). `0` means no budget. Default: `0`.
    pub time_budget_ms: u64,
    /// Worker threads for parallel work inside one image. `0` uses rayon's
    /// global pool. Default: `0`.
    pub threads: usize,
    /// Run the copy-move detector (regions duplicated within the image) on
    /// images of at most this many pixels. It costs about as much as the
    /// rest of the analysis at 1 MP, about a third of it at 12-16 MP; the
    /// default covers the photos upload pipelines deliver (2048 x 1536 and
    /// smaller) and keeps the analysis of camera originals within 3x their
    /// decoding time. `0` turns it off; [`u64::MAX`] runs it at every size.
    /// Default: [`Config::COPY_MOVE_MAX_PIXELS`].
    pub copy_move_max_pixels: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_pixels: 100_000_000,
            max_file_bytes: 256 << 20,
            max_decoded_bytes: 1 << 30,
            heatmap: true,
            max_false_alarm: 0.01,
            review_rate: None,
            model_path: None,
            time_budget_ms: 0,
            threads: 0,
            copy_move_max_pixels: Self::COPY_MOVE_MAX_PIXELS,
        }
    }
}

impl Config {
    /// Default of [`Config::copy_move_max_pixels`]: 2048 x 1536.
    pub const COPY_MOVE_MAX_PIXELS: u64 = 2048 * 1536;

    /// The verdict's thresholds this config resolves to, as an
    /// [`crate::Analyzer`] built from it resolves them: its model (the file
    /// at `model_path` is read), `max_false_alarm` and `review_rate`.
    ///
    /// # Errors
    /// As [`crate::Analyzer::new`]: [`Error::InvalidConfig`] for a value out
    /// of range, a model file that cannot be loaded, or a review rate the
    /// model cannot honour.
    pub fn operating_point(&self) -> Result<crate::fusion::OperatingPoint, Error> {
        self.validate()?;
        crate::analyzer::model_and_point(self, None).map(|(_, point)| point)
    }

    /// Copy-move at every size (`true`) or never (`false`): the switch the
    /// CLI, C and Python faces offer next to the size limit.
    pub fn set_copy_move(&mut self, enabled: bool) {
        self.copy_move_max_pixels = if enabled { u64::MAX } else { 0 };
    }

    /// Whether the copy-move detector runs on an image of `width` x `height`.
    #[must_use]
    pub fn runs_copy_move(&self, width: u32, height: u32) -> bool {
        u64::from(width) * u64::from(height) <= self.copy_move_max_pixels
    }

    /// Check every value is in range.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |what: &str| Err(Error::InvalidConfig(what.to_string()));
        if !(1..=1_000_000_000).contains(&self.max_pixels) {
            return bad("max_pixels must be in 1..=1000000000");
        }
        if self.max_file_bytes == 0 {
            return bad("max_file_bytes must be positive");
        }
        if self.max_decoded_bytes < 1 << 16 {
            return bad("max_decoded_bytes must be at least 65536");
        }
        if !(self.max_false_alarm > 0.0 && self.max_false_alarm <= 0.5) {
            return bad("max_false_alarm must be in (0, 0.5]");
        }
        if self.review_rate.is_some_and(|r| !(r > 0.0 && r < 1.0)) {
            return bad("review_rate must be in (0, 1)");
        }
        if self.threads > 1024 {
            return bad("threads must be at most 1024");
        }
        Ok(())
    }
}
