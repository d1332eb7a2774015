//! The pipeline: decode, read provenance, run the pixel detectors, fuse.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use image::DynamicImage;
use rayon::prelude::*;

use crate::buffer::Buffer;
use crate::deadline::Deadline;
use crate::decode::{self, Format};
use crate::detectors::{
    self, cfa, copy_move, jpeg, local_consistency, noise_residual, provenance, residual, spectrum,
    texture_stats, DetectorOutput, FftPlans, PixelContext,
};
use crate::error::contain_panic;
use crate::margins;
use crate::metadata::{self, RawMetadata};
use crate::reference::{self, References};
use crate::report::{clamp01, DetectorKind, Heatmap, ImageFacts, PixelCaveat, Region, Report};
use crate::{fusion, Config, Error};

/// A pixel detector's entry point.
type PixelDetector = fn(&PixelContext<'_>) -> DetectorOutput;
/// One detector's run, ready to be timed against the deadline.
type DetectorStep<'a> = Box<dyn Fn() -> DetectorOutput + 'a>;

/// Side of a heatmap cell in pixels when no detector provides a map.
const DEFAULT_CELL: u32 = 16;

/// A reusable analyser: validates the `Config` once and keeps FFT plans
/// between images.
///
/// `Analyzer` is `Send + Sync`: share one between threads (`&Analyzer`), or
/// keep one per thread; both give identical results.
#[derive(Debug)]
pub struct Analyzer {
    config: Config,
    fft: FftPlans,
    model: Arc<fusion::Model>,
    /// The verdict's thresholds: the model's for `Config::max_false_alarm`
    /// and `Config::review_rate`.
    point: fusion::OperatingPoint,
    /// The merchant's reference photos, compared with every claim (issue 7).
    references: Option<Arc<References>>,
    /// The analyser's own worker pool when `Config::threads > 0`; `None`
    /// runs the per-image parallel work in the caller's rayon pool (the
    /// global one, or the pool a batch driver `install`ed, which is how the
    /// CLI's `--threads` bounds both file-level and in-image parallelism).
    /// With the process that made it: a pool made before a fork has no
    /// threads in the child.
    pool: Option<(u32, Arc<rayon::ThreadPool>)>,
}

/// Decoded 8-bit RGB: `width * height` pixels of 3 bytes, row-major.
#[derive(Clone, Copy)]
struct Pixels<'a> {
    rgb: &'a [u8],
    width: u32,
    height: u32,
}

/// The fusion model `config` names (`kept` when given: the one already
/// loaded from the same file) and the thresholds it resolves to.
pub(crate) fn model_and_point(
    config: &Config,
    kept: Option<&Arc<fusion::Model>>,
) -> Result<(Arc<fusion::Model>, fusion::OperatingPoint), Error> {
    let model = match (kept, &config.model_path) {
        (Some(model), _) => Arc::clone(model),
        (None, Some(path)) => Arc::new(fusion::Model::load(path)?),
        (None, None) => Arc::new(fusion::Model::builtin()),
    };
    let point = model.operating_point_for(config.max_false_alarm, config.review_rate)?;
    Ok((model, point))
}

/// Where the pixels came from.
struct Source<'a> {
    format: Option<Format>,
    meta: &'a RawMetadata,
    file_bytes: Option<u64>,
    /// The share of pixels that were not fully opaque
    /// ([`decode::transparent_share`]).
    transparent: f32,
}

impl Analyzer {
    /// Validate `config` and build an analyser.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when a value is out of range.
    pub fn new(config: Config) -> Result<Self, Error> {
        Self::build(config, None)
    }

    /// An analyser that uses `model`, loaded once (with
    /// [`fusion::Model::load`]) for many analysers, instead of reading
    /// `config.model_path`: a model file replaced or removed later does not
    /// reach them.
    ///
    /// # Errors
    /// As [`Analyzer::new`] (a review rate the model cannot honour).
    pub fn with_model(config: Config, model: Arc<fusion::Model>) -> Result<Self, Error> {
        Self::build(config, Some(&model))
    }

    fn build(config: Config, model: Option<&Arc<fusion::Model>>) -> Result<Self, Error> {
        config.validate()?;
        let (model, point) = model_and_point(&config, model)?;
        let pool = worker_pool(config.threads)?;
        Ok(Analyzer {
            config,
            fft: FftPlans::default(),
            model,
            point,
            references: None,
            pool,
        })
    }

    /// An analyser for `config` that keeps what did not change: the loaded
    /// model when `model_path` is the same (the file is not read again, so
    /// a later change or removal of it cannot creep in through an unrelated
    /// setting), the worker pool when `threads` is, and the references.
    ///
    /// # Errors
    /// As [`Analyzer::new`].
    #[cfg(feature = "capi")]
    pub(crate) fn reconfigured(&self, config: Config) -> Result<Self, Error> {
        config.validate()?;
        let kept = (config.model_path == self.config.model_path).then_some(&self.model);
        let (model, point) = model_and_point(&config, kept)?;
        let pool = if config.threads == self.config.threads {
            self.pool.clone()
        } else {
            worker_pool(config.threads)?
        };
        Ok(Analyzer {
            config,
            fft: FftPlans::default(),
            model,
            point,
            references: self.references.clone(),
            pool,
        })
    }

    /// Compare every analysed image with these reference (listing) photos:
    /// the report gets `reference`, `reference.*` findings, the change map in
    /// its heatmap, and a derived photo with changed regions is `edited`.
    /// Pass an `Arc<References>` to share one catalogue between analysers.
    #[must_use]
    pub fn with_references(mut self, references: impl Into<Arc<References>>) -> Self {
        self.set_references(references.into());
        self
    }

    /// [`Analyzer::with_references`] in place, for the C ABI's config,
    /// which owns its analyser.
    pub(crate) fn set_references(&mut self, references: Arc<References>) {
        self.references = (!references.is_empty()).then_some(references);
    }

    /// The validated configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The verdict's thresholds: the model's for `Config::max_false_alarm`,
    /// with the authentic threshold `Config::review_rate` sets.
    #[must_use]
    pub fn operating_point(&self) -> fusion::OperatingPoint {
        self.point
    }

    /// The fusion model in use (the built-in one unless `Config::model_path` is set).
    #[must_use]
    pub fn model(&self) -> &fusion::Model {
        &self.model
    }

    /// Analyse a file.
    ///
    /// # Errors
    /// `Io` when it cannot be read or is not a regular file (a pipe, a
    /// device), `FileTooLarge`, and every error of [`Analyzer::analyze_bytes`].
    pub fn analyze_path(&self, path: &Path) -> Result<Report, Error> {
        let bytes = crate::decode::read_file(path, self.config.max_file_bytes)?;
        self.analyze_bytes(&bytes)
    }

    /// Analyse an encoded image (JPEG, PNG, WebP, TIFF, BMP or GIF).
    ///
    /// # Errors
    /// `FileTooLarge`, `Unsupported` (HEIC/AVIF are named), `TooLarge` before
    /// any pixel buffer is allocated, `Decode` for corrupt data, `Internal`
    /// if the analysis panicked (a bug; the panic does not propagate).
    pub fn analyze_bytes(&self, bytes: &[u8]) -> Result<Report, Error> {
        contain_panic(|| self.analyze_encoded(bytes))
    }

    fn analyze_encoded(&self, bytes: &[u8]) -> Result<Report, Error> {
        let start = Instant::now();
        let len = bytes.len() as u64;
        if len > self.config.max_file_bytes {
            return Err(Error::FileTooLarge {
                bytes: len,
                limit: self.config.max_file_bytes,
            });
        }
        let format = decode::sniff(bytes)?;
        let decoded = self.in_pool(|| decode::decode_rgb(bytes, format, &self.config))?;
        let decode_ms = ms_since(start);
        let meta_start = Instant::now();
        let meta = metadata::extract(bytes, format);
        let meta_ms = ms_since(meta_start);
        let source = Source {
            format: Some(format),
            meta: &meta,
            file_bytes: Some(len),
            transparent: decoded.transparent,
        };
        let pixels = Pixels {
            rgb: &decoded.data,
            width: decoded.width,
            height: decoded.height,
        };
        let deadline = Deadline::new(start, self.config.time_budget_ms);
        let mut report = self.analyze_decoded(pixels, &source, &deadline)?;
        report.timings_ms.insert("decode".into(), decode_ms);
        report.timings_ms.insert("metadata".into(), meta_ms);
        report.timings_ms.insert("total".into(), ms_since(start));
        Ok(report)
    }

    /// Analyse decoded pixels. There is no file metadata, so provenance
    /// findings are limited to its absence.
    ///
    /// # Errors
    /// `TooLarge` over `Config::max_pixels`, `Internal` if the analysis
    /// panicked (a bug; the panic does not propagate).
    pub fn analyze_image(&self, image: &DynamicImage) -> Result<Report, Error> {
        self.analyze_image_with_metadata(image, &RawMetadata::default())
    }

    /// [`Analyzer::analyze_image`] with the metadata the image's file held,
    /// kept apart from its pixels by the decoder (Pillow's `Image.info`):
    /// EXIF, XMP and text entries (built with [`RawMetadata::with_exif`] and
    /// its siblings) are read for provenance as in the file. JPEG tables in
    /// `metadata` are not used: the JPEG tests read decoded pixels as such.
    pub fn analyze_image_with_metadata(
        &self,
        image: &DynamicImage,
        metadata: &RawMetadata,
    ) -> Result<Report, Error> {
        contain_panic(|| self.analyze_decoded_image(image, metadata))
    }

    fn analyze_decoded_image(
        &self,
        image: &DynamicImage,
        metadata: &RawMetadata,
    ) -> Result<Report, Error> {
        let start = Instant::now();
        // Without the file, its JPEG tables would not describe the grid or
        // the history of these pixels (a caller may have resized them).
        let mut meta = metadata.clone();
        meta.quant_tables.clear();
        meta.jpeg_frame = None;
        meta.lossy_webp = false;
        let source = Source {
            format: None,
            meta: &meta,
            file_bytes: None,
            transparent: decode::transparent_share(image),
        };
        let (width, height) = (image.width(), image.height());
        decode::check_pixels(width, height, &self.config)?;
        // Borrow the pixels when they already are 8-bit RGB instead of
        // copying width x height x 3 bytes.
        let converted;
        let rgb = match image.as_rgb8() {
            Some(rgb) => rgb.as_raw(),
            None => {
                converted = image.to_rgb8();
                converted.as_raw()
            }
        };
        let deadline = Deadline::new(start, self.config.time_budget_ms);
        let mut report = self.analyze_decoded(Pixels { rgb, width, height }, &source, &deadline)?;
        report.timings_ms.insert("total".into(), ms_since(start));
        Ok(report)
    }

    fn analyze_decoded(
        &self,
        pixels: Pixels<'_>,
        source: &Source<'_>,
        deadline: &Deadline,
    ) -> Result<Report, Error> {
        // Every parallel loop below (rows, blocks, tiles) runs in the
        // analyser's pool when it has one. Results do not depend on the
        // number of threads: each loop writes disjoint outputs and reduces
        // in a fixed order.
        self.in_pool(|| self.analyze_pixels(pixels, source, deadline))
    }

    /// Run `op` in the analyser's pool when it has one, else in the
    /// caller's; in a process forked after the analyser made its pool, or
    /// after the caller's pool ran trueshot, whose threads did not survive
    /// the fork, in a pool of the child's own of as many threads
    /// ([`crate::in_live_pool`]).
    fn in_pool<T: Send>(&self, op: impl FnOnce() -> T + Send) -> T {
        // Asked first, so that the first process to analyse is recorded
        // whichever pool it uses.
        let forked = crate::workers::is_forked();
        let pid = std::process::id();
        match &self.pool {
            Some((made_in, pool)) if *made_in == pid => return pool.install(op),
            Some(_) => {}
            // A worker of a pool: one made in this process, since threads
            // do not survive a fork (unless it forked from a worker).
            None if rayon::current_thread_index().is_some() || !forked => return op(),
            None => {}
        }
        match crate::workers::forked_pool(self.config.threads) {
            Some(pool) => pool.install(op),
            None => op(),
        }
    }

    fn analyze_pixels(
        &self,
        pixels: Pixels<'_>,
        source: &Source<'_>,
        deadline: &Deadline,
    ) -> Result<Report, Error> {
        let Pixels { rgb, width, height } = pixels;
        decode::check_pixels(width, height, &self.config)?;
        #[cfg(test)]
        tests::panic_on_the_test_trigger(rgb, width, height);
        // Exactly the pixels: an `RgbImage`'s container may be longer.
        let Some(rgb) = (width as usize)
            .checked_mul(height as usize)
            .and_then(|n| n.checked_mul(3))
            .and_then(|n| rgb.get(..n))
        else {
            return Err(Error::Decode(format!(
                "{} bytes of pixels for a {width}x{height} RGB image",
                rgb.len()
            )));
        };
        let mut timings = BTreeMap::new();

        // The pixel detectors read the content inside uniform margins
        // (screenshot bars, frames); provenance and references see it all.
        let content = margins::content_region(rgb, width, height);
        let cropped = content.map(|region| (margins::crop(rgb, width, region), region));
        let analysed = match &cropped {
            Some((bytes, region)) => Pixels {
                rgb: bytes,
                width: region.width,
                height: region.height,
            },
            None => Pixels { rgb, width, height },
        };

        let quality = jpeg::estimate_quality(&source.meta.quant_tables);
        let caveat = fusion::size_caveat(analysed.width, analysed.height)
            .or_else(|| source.meta.lossy_webp.then_some(PixelCaveat::LossyWebp))
            .or_else(|| is_palette(analysed.rgb).then_some(PixelCaveat::Palette));
        let mut facts = ImageFacts {
            format: source.format.map_or("raw", Format::name).to_string(),
            width,
            height,
            file_bytes: source.file_bytes,
            jpeg_quality: quality.map(|q| q.quality),
            caveat,
            content,
        };

        let t = Instant::now();
        let prov = provenance::analyze(source.meta, width, height);
        timings.insert(DetectorKind::Provenance.to_string(), ms_since(t));
        let mut findings = prov.findings;
        if source.transparent > 0.0 {
            findings.push(fusion::transparent(source.transparent));
        }
        let mut features: BTreeMap<String, f32> = prov
            .features
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();

        // Shared pixel planes, computed once for every pixel detector; not
        // when the budget ran out in the decode already (a large file),
        // since every detector will be skipped.
        let (luma, residual) = if deadline.expired() {
            (Buffer::zeroed(0), Buffer::zeroed(0))
        } else {
            let t = Instant::now();
            let planes = planes(
                analysed.rgb,
                analysed.width as usize,
                analysed.height as usize,
            );
            timings.insert("planes".into(), ms_since(t));
            planes
        };
        let (aw, ah) = (analysed.width as usize, analysed.height as usize);
        if facts.caveat.is_none() && is_pixel_replicated(&luma, aw, ah) {
            facts.caveat = Some(PixelCaveat::Replicated);
        }
        if facts.caveat.is_none() && is_mostly_smooth(&residual, aw) {
            facts.caveat = Some(PixelCaveat::Smooth);
        }
        let ctx = PixelContext {
            rgb: analysed.rgb,
            luma: &luma,
            residual: &residual,
            width: analysed.width,
            height: analysed.height,
            format: source.format,
            quant_tables: &source.meta.quant_tables,
            jpeg_quality: facts.jpeg_quality,
            fft: &self.fft,
        };
        let whole = Region {
            x: 0,
            y: 0,
            width,
            height,
        };
        let analysed_region = content.unwrap_or(whole);

        // Each step is one detector and the region of the image its output
        // covers. The statistical detectors read the content inside the
        // margins.
        let statistical: &[(DetectorKind, PixelDetector)] = &[
            (DetectorKind::NoiseResidual, noise_residual::run),
            (DetectorKind::Spectrum, spectrum::run),
            (DetectorKind::Cfa, cfa::run),
            (DetectorKind::Jpeg, jpeg::run),
            (DetectorKind::TextureStats, texture_stats::run),
            (DetectorKind::LocalConsistency, local_consistency::run),
        ];
        let ctx = &ctx;
        let mut steps: Vec<(DetectorKind, Region, DetectorStep<'_>)> = statistical
            .iter()
            .map(|&(kind, run)| {
                let step: DetectorStep<'_> = Box::new(move || run(ctx));
                (kind, analysed_region, step)
            })
            .collect();
        // Copy-move pairs pixels with pixels and skips flat blocks, so the
        // margins do not distort it: it reads the whole frame (when its size
        // limit allows), so that a part of the photo the margin rule left
        // out (past a band of crushed shadows or clipped sky, as decoration)
        // is still compared with the rest, and counts only pairs with a
        // place in the content (repeated interface letters or icons in the
        // bars also match). It then computes its own planes.
        if content.is_some() && self.config.runs_copy_move(width, height) {
            let step: DetectorStep<'_> = Box::new(move || {
                let (luma, residual) = planes(rgb, width as usize, height as usize);
                let whole_ctx = PixelContext {
                    rgb,
                    luma: &luma,
                    residual: &residual,
                    width,
                    height,
                    ..*ctx
                };
                copy_move::run_within(&whole_ctx, content)
            });
            steps.push((DetectorKind::CopyMove, whole, step));
        } else if self.config.runs_copy_move(ctx.width, ctx.height) {
            let step: DetectorStep<'_> = Box::new(move || copy_move::run(ctx));
            steps.push((DetectorKind::CopyMove, analysed_region, step));
        }

        let mut outputs = Vec::new();
        let mut incomplete = Vec::new();
        for (kind, region, run) in steps {
            if deadline.expired() {
                incomplete.push(kind);
                continue;
            }
            let t = Instant::now();
            let mut out = run();
            out.unflag_unboxed();
            timings.insert(kind.to_string(), ms_since(t));
            outputs.push((region, out));
        }
        // Noise-statistics regions need a second trace to stay marked.
        detectors::confirm_regions(&mut outputs);
        detectors::explain_period_two_by_demosaicing(&mut outputs);

        let mut maps = Vec::new();
        for (region, out) in outputs {
            // A value that is not finite is left out, so that the fusion
            // reads it as missing (the training mean), not as a measured 0.
            features.extend(
                out.features
                    .into_iter()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(k, v)| (k.to_string(), v)),
            );
            findings.extend(out.findings.into_iter().map(|mut f| {
                if let Some(r) = &mut f.region {
                    r.x += region.x;
                    r.y += region.y;
                }
                f
            }));
            maps.extend(out.map.map(|map| (map, region)));
        }

        // Reference comparison (issue 7): its findings join the others and
        // its verdict rule is applied after fusion.
        // It checks the deadline between listings: what it found before the
        // cut stands, the listings it did not reach are reported skipped.
        let comparison = self.references.as_deref().and_then(|refs| {
            let t = Instant::now();
            let part = deadline.fresh();
            let c = refs.compare(rgb, width, height, content, &self.fft, &part);
            timings.insert(DetectorKind::Reference.to_string(), ms_since(t));
            if part.was_cut() {
                incomplete.push(DetectorKind::Reference);
            }
            c
        });
        if let Some(c) = &comparison {
            findings.extend(c.findings.iter().cloned());
        }
        let references_cut = incomplete.contains(&DetectorKind::Reference);

        let mut fused = self
            .model
            .fuse(&features, &findings, self.point, facts.caveat);
        fused.settle(
            comparison.as_ref().map(|c| &c.matched),
            &findings,
            &incomplete,
            (analysed.width, analysed.height),
        );
        findings.extend(fused.findings.iter().cloned());
        findings.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.code.cmp(&b.code))
        });
        let mut heatmap = self.config.heatmap.then(|| {
            let mut fused = fuse_maps(&maps, width, height);
            // Holes that several boxes enclose together may lie in none.
            let boxes: Vec<Region> = findings.iter().filter_map(|f| f.region).collect();
            fused.unflag_outside(&boxes);
            fused
        });
        if let (Some(fused), Some(change)) =
            (&heatmap, comparison.as_ref().and_then(|c| c.map.as_ref()))
        {
            heatmap = Some(reference::merge_heatmap(fused, change));
        }

        Ok(Report {
            score: clamp01(fused.score),
            verdict: fused.verdict,
            scores: fused.scores,
            flag_threshold: fused.point.flag,
            authentic_threshold: fused.point.authentic,
            deciding: fused.deciding,
            findings,
            provenance: prov.provenance,
            image: facts,
            // A comparison cut short before any listing matched established
            // nothing: no "not derived" (`incomplete` names it instead).
            reference: comparison
                .map(|c| c.matched)
                .filter(|m| m.derived || !references_cut),
            features,
            incomplete,
            heatmap,
            timings_ms: timings,
        })
    }
}

/// Most distinct colours of a palette image (GIF, PNG-8).
const PALETTE_COLOURS: usize = 256;

/// At most [`PALETTE_COLOURS`] distinct colours, not all of them grey: a
/// palette image. Grey photos are excluded, since 256 grey levels are the
/// whole 8-bit range, not a quantisation. Stops at the first colour over the
/// limit, which in a photo comes within its first rows.
pub(crate) fn is_palette(rgb: &[u8]) -> bool {
    // One bit per 24-bit colour: 2 MB, of which a photo touches a few pages.
    let mut seen = vec![0u64; 1 << 18];
    let mut colours = 0;
    let mut grey = true;
    for p in rgb.chunks_exact(3) {
        let c = (usize::from(p[0]) << 16) | (usize::from(p[1]) << 8) | usize::from(p[2]);
        let (word, bit) = (c >> 6, 1u64 << (c & 63));
        if seen[word] & bit == 0 {
            seen[word] |= bit;
            colours += 1;
            if colours > PALETTE_COLOURS {
                return false;
            }
            grey &= p[0] == p[1] && p[1] == p[2];
        }
    }
    !grey
}

/// Below this, the differences between neighbours at all but one phase of
/// a period are small against those at the other phase: the image was
/// enlarged by repeating pixels. A photo's own ratio is near 1 (a JPEG's
/// 8x8 grid lowers it to about 0.9 at periods 2 and 4).
const REPLICATED_RATIO: f32 = 0.35;

/// Whether `luma` (`width` x `height`) was enlarged by repeating each pixel
/// 2, 3 or 4 times along both axes (nearest-neighbour up-scaling: a zoomed
/// screenshot, a "2x" export). Such an image keeps its content but the
/// statistics of neighbouring pixels the pixel model reads are the
/// repetition's: on the development corpus's genuine photos reduced six
/// times and enlarged 2x that way, the model called 6 of 10 generated
/// (bilinear or bicubic enlargement: none). For a period `k`, the mean
/// |difference| of neighbours is taken per phase `x mod k`; repetition
/// leaves `k - 1` phases near 0, also after JPEG compression.
fn is_pixel_replicated(luma: &[f32], width: usize, height: usize) -> bool {
    if luma.len() != width * height || width < 16 || height < 16 {
        return false;
    }
    let (across, down) = (
        phase_sums(luma, width, height, true),
        phase_sums(luma, width, height, false),
    );
    (2..=4).any(|k| {
        replication_ratio(&across, k) < REPLICATED_RATIO
            && replication_ratio(&down, k) < REPLICATED_RATIO
    })
}

/// Phases [`phase_sums`] keeps: a multiple of every period tested (2, 3, 4).
const PHASES: usize = 12;

/// The sums of |neighbour differences| along rows (`across`) or columns,
/// per phase `x mod PHASES` (or `y`): one pass serves every period.
/// Every fourth row (or column) is read.
fn phase_sums(luma: &[f32], width: usize, height: usize, across: bool) -> [f64; PHASES] {
    let mut sums = [0.0f64; PHASES];
    if across {
        for row in luma.chunks_exact(width).step_by(4) {
            for (phase, sum) in sums.iter_mut().enumerate() {
                *sum += row
                    .windows(2)
                    .skip(phase)
                    .step_by(PHASES)
                    .map(|pair| f64::from((pair[1] - pair[0]).abs()))
                    .sum::<f64>();
            }
        }
    } else {
        for y in 0..height - 1 {
            let (upper, lower) = (
                &luma[y * width..][..width],
                &luma[(y + 1) * width..][..width],
            );
            let d: f32 = upper
                .iter()
                .zip(lower)
                .step_by(4)
                .map(|(a, b)| (b - a).abs())
                .sum();
            sums[y % PHASES] += f64::from(d);
        }
    }
    sums
}

/// For period `k` (dividing [`PHASES`]): the mean of the per-phase sums
/// other than the largest, over the largest.
fn replication_ratio(phase_sums: &[f64; PHASES], k: usize) -> f32 {
    let mut sums = [0.0f64; PHASES];
    for (phase, &sum) in phase_sums.iter().enumerate() {
        sums[phase % k] += sum;
    }
    let sums = &sums[..k];
    let largest = sums.iter().copied().fold(0.0, f64::max);
    if largest <= 0.0 {
        return 1.0;
    }
    let rest = (sums.iter().sum::<f64>() - largest) / (k - 1) as f64;
    (rest / largest) as f32
}

/// Side of the blocks [`is_mostly_smooth`] reads.
const SMOOTH_BLOCK: usize = 16;
/// A block whose mean |Laplacian residual| is under this many grey levels
/// shows neither noise nor texture (sensor noise alone gives about 1 in a
/// well-lit camera photo saved at JPEG quality 90).
const SMOOTH_LEVEL: f32 = 0.6;
/// Share of such blocks from which the frame is mostly smooth. On the
/// development corpus: genuine photos median 0.08-0.16, AI images
/// 0.28-0.32, 13-15 of 86 genuine photos and 15 of 78 AI images at or over
/// 0.5, the 4 AI images the pixel model flags on its own 1; the 172 genuine
/// photos halved with the background outside a centred ellipse blurred
/// (sigma 4 px, a phone's portrait mode) median 0.69, and the 9 of them the
/// pixel model flagged 0.64-0.96.
const SMOOTH_SHARE: f32 = 0.5;

/// Whether at least [`SMOOTH_SHARE`] of the whole [`SMOOTH_BLOCK`]-px blocks
/// of a `width`-wide residual plane have a mean |residual| under
/// [`SMOOTH_LEVEL`].
fn is_mostly_smooth(residual: &[f32], width: usize) -> bool {
    let (gw, gh) = (
        width / SMOOTH_BLOCK,
        residual.len() / width.max(1) / SMOOTH_BLOCK,
    );
    if gw == 0 || gh == 0 {
        return false;
    }
    let limit = SMOOTH_LEVEL * (SMOOTH_BLOCK * SMOOTH_BLOCK) as f32;
    let mut smooth = 0usize;
    let mut sums = vec![0.0f32; gw];
    for band in residual.chunks_exact(width * SMOOTH_BLOCK).take(gh) {
        sums.fill(0.0);
        for row in band.chunks_exact(width) {
            for (sum, block) in sums.iter_mut().zip(row.chunks_exact(SMOOTH_BLOCK)) {
                *sum += block.iter().map(|v| v.abs()).sum::<f32>();
            }
        }
        smooth += sums.iter().filter(|&&s| s < limit).count();
    }
    smooth as f32 >= SMOOTH_SHARE * (gw * gh) as f32
}

/// ITU-R BT.601 luma, f32 in 0..=255, and its shared noise residual
/// ([`residual::laplacian_residual`]).
///
/// Rows in parallel (rayon); every value is computed by the same expression
/// whatever the thread count, so both planes are bit-identical.
fn planes(rgb: &[u8], width: usize, height: usize) -> (Buffer<f32>, Buffer<f32>) {
    let mut luma = Buffer::zeroed(width * height);
    let mut residual = Buffer::zeroed(width * height);
    if width == 0 || height == 0 {
        return (luma, residual);
    }
    let weights = luma_weights();
    luma.par_chunks_mut(width)
        .zip(rgb.par_chunks(width * 3))
        .for_each(|(out, row)| luma_row(row, weights, out));
    residual::laplacian_residual_into(&luma, width, height, &mut residual);
    (luma, residual)
}

/// `0.299 v`, `0.587 v` and `0.114 v` for every byte `v`: the same
/// products as computing them, looked up instead of converted and
/// multiplied.
fn luma_weights() -> &'static [[f32; 256]; 3] {
    static WEIGHTS: std::sync::OnceLock<[[f32; 256]; 3]> = std::sync::OnceLock::new();
    WEIGHTS.get_or_init(|| {
        [0.299f32, 0.587, 0.114].map(|k| std::array::from_fn(|v| k * f32::from(v as u8)))
    })
}

/// One row of BT.601 luma, `0.299 R + 0.587 G + 0.114 B` added left to right.
fn luma_row(rgb: &[u8], weights: &[[f32; 256]; 3], out: &mut [f32]) {
    let [r, g, b] = weights;
    for (o, p) in out.iter_mut().zip(rgb.chunks_exact(3)) {
        *o = r[usize::from(p[0])] + g[usize::from(p[1])] + b[usize::from(p[2])];
    }
}

/// The fused heatmap of a `width` x `height` image: the per-cell maximum of
/// the detectors' maps, resampled to the finest cell size among them. Each
/// map covers its region of the image; cells outside every region are 0.
/// Holes that flagged cells enclose are flagged too ([`Heatmap::fill_enclosed`]).
fn fuse_maps(maps: &[(Heatmap, Region)], width: u32, height: u32) -> Heatmap {
    let finest = maps
        .iter()
        .map(|(m, _)| m.cell)
        .min()
        .unwrap_or(DEFAULT_CELL);
    // The detector maps start at their region's origin (on the 8x8 grid):
    // the fused cells must line up with theirs, or each would take the
    // value of a detector cell half a cell away (16-px cells behind a
    // margin of 8, 24, ... pixels).
    let cell = maps
        .iter()
        .fold(finest, |cell, (_, r)| gcd(gcd(cell, r.x), r.y));
    let mut fused = Heatmap::zeros(width, height, cell);
    let gw = fused.grid_width;
    for (i, v) in fused.values.iter_mut().enumerate() {
        let (x, y) = crate::report::cell_centre(i, gw, cell, (width, height));
        *v = maps
            .iter()
            .filter_map(|(map, r)| {
                let (cx, cy) = (x.checked_sub(r.x)?, y.checked_sub(r.y)?);
                (cx < r.width && cy < r.height).then(|| map.at(cx, cy))
            })
            .fold(0.0, f32::max);
    }
    fused.fill_enclosed();
    fused
}

/// Greatest common divisor (`gcd(a, 0) = a`).
fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The analyser's own pool of `threads` workers; `None` for 0 (the caller's
/// pool).
fn worker_pool(threads: usize) -> Result<Option<(u32, Arc<rayon::ThreadPool>)>, Error> {
    if threads == 0 {
        return Ok(None);
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("trueshot-{i}"))
        .build()
        .map(|pool| Some((std::process::id(), Arc::new(pool))))
        .map_err(|e| Error::InvalidConfig(format!("cannot start {threads} threads: {e}")))
}

fn ms_since(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The picture that makes an analysis panic in tests (13 x 7 pixels of
    /// one odd colour), so that the entry points' containment is tested on
    /// a real analysis.
    const TRIGGER: ([u8; 3], u32, u32) = ([171, 13, 7], 13, 7);

    pub(super) fn panic_on_the_test_trigger(rgb: &[u8], width: u32, height: u32) {
        let (colour, w, h) = TRIGGER;
        if (width, height) == (w, h) && rgb.chunks_exact(3).all(|p| p == colour) {
            panic!("the test trigger");
        }
    }

    /// A 16-px detector map behind a margin of 8 pixels: the fused cells
    /// line up with the detector's (8 px), so each pixel keeps its own
    /// detector cell's value.
    #[test]
    fn fused_cells_line_up_with_the_content_origin() {
        let content = Region {
            x: 8,
            y: 0,
            width: 64,
            height: 32,
        };
        let mut map = Heatmap::zeros(64, 32, 16);
        map.values[1] = 1.0; // content x 16..32, y 0..16
        let fused = fuse_maps(&[(map, content)], 72, 32);
        for x in 0..72 {
            let expected = if (24..40).contains(&x) { 1.0 } else { 0.0 };
            assert_eq!(fused.at(x, 4), expected, "x {x}");
        }
    }

    #[test]
    fn an_analysis_that_panics_fails_that_input_only() {
        let (colour, w, h) = TRIGGER;
        let trigger = image::RgbImage::from_pixel(w, h, image::Rgb(colour));
        let mut png = Vec::new();
        trigger
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("png");
        for threads in [0, 2] {
            let config = Config {
                threads,
                ..Config::default()
            };
            let analyzer = Analyzer::new(config).expect("analyzer");
            let from_bytes = analyzer.analyze_bytes(&png).expect_err("contained");
            assert_eq!(from_bytes.code(), "internal");
            assert!(
                from_bytes.to_string().ends_with("the test trigger"),
                "{from_bytes}"
            );
            let image = DynamicImage::ImageRgb8(trigger.clone());
            let from_image = analyzer.analyze_image(&image).expect_err("contained");
            assert_eq!(from_image.code(), "internal");
            // The analyser goes on with the next input.
            let other =
                DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb([1, 2, 3])));
            assert!(analyzer.analyze_image(&other).is_ok());
        }
    }

    #[test]
    fn smoothness_counts_whole_blocks_of_any_frame() {
        // 40 x 37: two by two whole 16-px blocks; the partial ones at the
        // right and bottom edges are not read.
        let (w, h) = (40, 37);
        let plane = |smooth_blocks: usize| -> Vec<f32> {
            (0..w * h)
                .map(|i| {
                    let (x, y) = (i % w, i / w);
                    let block = (y / 16) * 2 + x / 16;
                    // Noise in the whole blocks not made smooth, and in
                    // the partial blocks, which must not count.
                    if x >= 32 || y >= 32 || block >= smooth_blocks {
                        3.0
                    } else {
                        0.1
                    }
                })
                .collect()
        };
        assert!(!is_mostly_smooth(&plane(1), w));
        assert!(is_mostly_smooth(&plane(2), w), "half the blocks");
        assert!(is_mostly_smooth(&plane(4), w));
        assert!(!is_mostly_smooth(&[0.0; 15 * 40], 40), "no whole block");
        assert!(!is_mostly_smooth(&[], 0));
    }

    #[test]
    fn own_pool_gives_the_same_bits_for_any_thread_count() {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(96, 80, |x, y| {
            let v = ((x * 31 + y * 17) ^ (x * y)) % 251;
            image::Rgb([v as u8, (v / 2) as u8, (255 - v) as u8])
        }));
        let run = |threads| {
            let config = Config {
                threads,
                ..Config::default()
            };
            let report = Analyzer::new(config)
                .and_then(|a| a.analyze_image(&image))
                .expect("analyze");
            let bits: Vec<(String, u32)> = report
                .features
                .iter()
                .map(|(k, v)| (k.clone(), v.to_bits()))
                .collect();
            (bits, report.score.to_bits(), report.heatmap)
        };
        let one = run(1);
        assert_eq!(one, run(3));
        assert_eq!(one, run(0));
    }

    /// Pixels repeated 2, 3 or 4 times along both axes are told from a
    /// textured image, from the same image enlarged by interpolation, and
    /// from one repeated along one axis only; small noise on top (as a
    /// JPEG adds) does not hide the repetition.
    #[test]
    fn images_enlarged_by_repeating_pixels_are_recognised() {
        let (w, h) = (60, 48);
        let mut state = 11u32;
        let texture: Vec<f32> = (0..w * h)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                f32::from((state >> 24) as u8)
            })
            .collect();
        let enlarged = |kx: usize, ky: usize| -> Vec<f32> {
            (0..h * ky)
                .flat_map(|y| (0..w * kx).map(move |x| (x, y)))
                .map(|(x, y)| texture[(y / ky) * w + x / kx])
                .collect()
        };
        assert!(!is_pixel_replicated(&texture, w, h));
        for k in 2..=4 {
            let image = enlarged(k, k);
            assert!(is_pixel_replicated(&image, w * k, h * k), "x{k}");
            let mut state = 5u32;
            let noisy: Vec<f32> = image
                .iter()
                .map(|v| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    v + f32::from((state >> 30) as u8) - 1.5
                })
                .collect();
            assert!(is_pixel_replicated(&noisy, w * k, h * k), "x{k} with noise");
        }
        assert!(!is_pixel_replicated(&enlarged(2, 1), w * 2, h));
        // Linear interpolation by 2 along rows and columns.
        let (w2, h2) = (2 * w - 1, 2 * h - 1);
        let at = |x: usize, y: usize| texture[y * w + x];
        let interpolated: Vec<f32> = (0..h2)
            .flat_map(|y| (0..w2).map(move |x| (x, y)))
            .map(|(x, y)| {
                let (x0, y0) = (x / 2, y / 2);
                let (x1, y1) = (x.div_ceil(2), y.div_ceil(2));
                (at(x0, y0) + at(x1, y0) + at(x0, y1) + at(x1, y1)) / 4.0
            })
            .collect();
        assert!(!is_pixel_replicated(&interpolated, w2, h2));
    }

    #[test]
    fn planes_have_the_bits_of_luma_then_residual() {
        for (w, h) in [
            (1u32, 1u32),
            (1, 5),
            (5, 1),
            (2, 2),
            (7, 64),
            (9, 65),
            (13, 129),
            (3, 200),
        ] {
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                let v = (x * 37 + y * 101 + x * y * 7) % 256;
                image::Rgb([v as u8, (v * 3 % 256) as u8, (255 - v) as u8])
            });
            let luma: Vec<f32> = img
                .pixels()
                .map(|p| {
                    0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
                })
                .collect();
            let res = residual::laplacian_residual(&luma, w as usize, h as usize);
            let (l, r) = planes(img.as_raw(), w as usize, h as usize);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&l), bits(&luma), "{w}x{h}");
            assert_eq!(bits(&r), bits(&res), "{w}x{h}");
        }
    }

    #[test]
    fn an_rgb_image_with_a_longer_container_is_analysed_as_its_pixels() {
        let (w, h) = (64u32, 48u32);
        let exact = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut longer = exact.as_raw().clone();
        longer.push(255);
        let longer =
            image::RgbImage::from_raw(w, h, longer).expect("a longer container is accepted");
        let analyzer = Analyzer::new(Config::default()).expect("config");
        let a = analyzer.analyze_image(&exact.into()).expect("exact");
        let b = analyzer.analyze_image(&longer.into()).expect("longer");
        assert_eq!(a.score.to_bits(), b.score.to_bits());
        assert_eq!(a.features, b.features);
    }

    #[test]
    fn analyzer_is_send_and_sync() {
        fn is<T: Send + Sync>() {}
        is::<Analyzer>();
    }
}
