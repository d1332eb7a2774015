#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_op_in_unsafe_fn)]

mod admission;
mod analyzer;
mod buffer;
mod config;
mod deadline;
pub mod decode;
pub mod detectors;
mod error;
#[cfg(feature = "capi")]
pub mod ffi;
pub mod fusion;
pub mod html;
mod jpeg_entropy;
mod margins;
pub mod metadata;
pub mod perturb;
pub mod reference;
mod report;
mod workers;

use std::path::Path;

/// The image crate, whose `DynamicImage` the API takes: re-exported so
/// that callers use the very version trueshot was built with.
pub use image;
/// The rayon crate, whose `ThreadPool` [`MemoryBudget::run_admitted`] takes.
pub use rayon;

pub use admission::{
    declared_pixels, estimated_peak_bytes, estimated_peak_bytes_for_pixels, MemoryBudget,
    PEAK_BYTES_PER_PIXEL,
};
pub use analyzer::Analyzer;
pub use buffer::set_spare_memory;
pub use config::Config;
pub use error::{escape_untrusted, Error};
pub use html::{render_html, render_index, HtmlOptions, IndexEntry};
pub use reference::References;
pub use report::{
    clamp01, AigcLabel, Class, DetectorKind, Finding, Heatmap, ImageFacts, PixelCaveat, Provenance,
    ReferenceMatch, Region, Report, Scores, Transform, Verdict,
};
pub use workers::in_live_pool;

/// Analyse an image file.
///
/// Each call builds an [`Analyzer`] (checks the config, loads the model,
/// starts a worker pool when `config.threads` is set): a service analysing
/// many images builds one `Analyzer` and reuses it.
///
/// # Errors
/// See [`Analyzer::analyze_path`].
pub fn analyze_path(path: impl AsRef<Path>, config: &Config) -> Result<Report, Error> {
    Analyzer::new(config.clone())?.analyze_path(path.as_ref())
}

/// Analyse an encoded image held in memory. Builds an [`Analyzer`] per
/// call, as [`analyze_path`].
///
/// # Errors
/// See [`Analyzer::analyze_bytes`].
pub fn analyze_bytes(bytes: &[u8], config: &Config) -> Result<Report, Error> {
    Analyzer::new(config.clone())?.analyze_bytes(bytes)
}

/// Analyse decoded pixels (no file metadata). Builds an [`Analyzer`] per
/// call, as [`analyze_path`].
///
/// ```
/// # fn main() -> Result<(), trueshot::Error> {
/// let image = image::RgbImage::new(64, 64).into();
/// let report = trueshot::analyze_image(&image, &trueshot::Config::default())?;
/// assert!((0.0..=1.0).contains(&report.score()));
/// # Ok(()) }
/// ```
///
/// # Errors
/// See [`Analyzer::analyze_image`].
pub fn analyze_image(image: &image::DynamicImage, config: &Config) -> Result<Report, Error> {
    Analyzer::new(config.clone())?.analyze_image(image)
}
