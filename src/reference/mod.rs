//! Reference comparison: is the claim photo a (doctored) copy of one of the
//! merchant's listing photos?
//!
//! The commonest refund fraud takes the merchant's own listing photo, paints
//! damage on it and submits it. Against the listing, the doctoring is plain:
//!
//! 1. **Index** (`hash`): each reference gets perceptual DCT hashes over its
//!    whole frame and over crop windows, once. A claim is hashed (as is and
//!    mirrored) and the closest few references by Hamming distance are
//!    shortlisted, so a catalogue of thousands costs microseconds. A small
//!    catalogue (up to `WINDOW_SEARCH_MAX` references, the listing photos
//!    of one product) is searched instead over windows of the claim's shape
//!    down to 30% of the reference by thumbnail correlation, so that a
//!    detail cut out of a large listing photo is found too; such a claim is
//!    registered against the matched window and a margin, cut from a
//!    `DETAIL`-px copy of the reference, not against the whole reference.
//!    When none of these is the source, the reference nearest by an
//!    occlusion-robust `Signature` is registered too: a copy with a part
//!    blacked out or painted over moves its hash and thumbnail correlation,
//!    not most of its thumbnail's cells.
//! 2. **Registration** (`register`): Fourier-Mellin phase correlation
//!    (Reddy & Chatterji 1996) for scale and rotation, phase correlation for
//!    translation, then an NCC pattern search, at a long side of 256 px.
//! 3. **Similarity**: the median, over textured 16x16 blocks, of the NCC of
//!    band-passed (difference of Gaussians) luma of the aligned pair. A copy
//!    matches to the pixel almost everywhere, so the median stays high even
//!    with painted damage; another photo of the same object from another
//!    angle cannot be aligned at the pixel level by one similarity transform,
//!    and its fine structure decorrelates.
//! 4. **Change map** (`change`): at a long side of 512 px, after matching
//!    exposure and colour; thin lines (hairline cracks) also at up to
//!    1024 px when both photos are that fine.
//! 5. **Partial copies** (`References::partial_copy`): a claim not derived
//!    from any listing may still hold a listing's product, cut out and put
//!    into a new scene; the copied part is reported for review.

mod change;
mod hash;
mod plane;
mod register;

use std::path::Path;

use image::{DynamicImage, RgbImage};
use rayon::prelude::*;

use crate::deadline::Deadline;
use crate::detectors::residual::{cell_groups, cells_box, quantile_in_place};
use crate::detectors::{FftPlans, UNFLAGGED};
use crate::error::escape_untrusted;
use crate::report::{Class, DetectorKind, Finding, Heatmap, ReferenceMatch, Region, Transform};
use crate::{Config, Error};
use hash::{Hash, Signature};
use plane::{shrink, Affine, Plane, RgbView};

/// Long side of the registration planes (see [`register::N`]).
const LO: u32 = register::N as u32;
/// Long side of the change-map planes: fine enough to outline a crack, small
/// enough to compare in a few milliseconds.
const HI: u32 = 512;
/// Long side of the detail copy a reference keeps while the catalogue is
/// searched window by window: a detail of a quarter of the listing's width
/// is then a view of about 300 px instead of 150 (under [`MIN_VIEW`]).
const DETAIL: u32 = 1024;
/// References verified by registration per claim (after the hash shortlist).
const SHORTLIST: usize = 3;
/// Hamming distance (of 63 bits) above which a candidate is not worth
/// registering: unrelated images sit near 31.
const MAX_HASH_DISTANCE: u32 = 24;
/// Hamming distance within which a listing is worth registering for a
/// turned copy. Tighter than [`MAX_HASH_DISTANCE`], since every claim is
/// tried this way when nothing else matched: 20 dev photos painted on and
/// turned a quarter turn or flipped upside down lay 0-8 bits from their
/// listing's nearest window (one photo 14), 40 unrelated dev photos turned
/// or tilted at least 12 (mostly 16-18) from any of the 20 listings.
const TURNED_MAX_HASH_DISTANCE: u32 = 14;
/// Signature distance above which a reference is not worth registering.
/// Copies of dev photos with 8% blacked out reached 0.13; the nearest
/// unrelated listing lay under 0.16 for 43% of the dev claims (median
/// 0.17, and as close as 0.06), so no bound separates them and the
/// registration decides: this one spares more than half the unrelated
/// claims the extra registration (about 15 ms), at the price of missing
/// copies covered much more than that.
const MAX_SIGNATURE_DISTANCE: f32 = 0.16;
/// The closest reference by signature is registered only when the next
/// other reference is farther by this factor: the 20 blacked-out dev
/// copies had ratios of 0.08-0.48, and one 0.83 (found without it).
const SIGNATURE_RATIO: f32 = 0.6;
/// Catalogues up to this size are searched window by window with
/// thumbnail correlation instead of hashes: a detail cut out of a listing
/// hashes 16-18 bits away from the nearest window, where some window of an
/// unrelated photo lies 12-16 bits away, but its thumbnail still correlates
/// far better. Platforms compare a claim with the listing photos of the
/// product concerned, a handful; the window search costs about 3 ms of CPU
/// per reference and claim.
const WINDOW_SEARCH_MAX: usize = 64;
/// Thumbnail correlation from which a window is worth registering.
const MIN_WINDOW_CORRELATION: f32 = 0.5;
/// Windows correlating this much less than the best one are not registered:
/// on the development corpus's 122 crops the true window was the best or
/// within 0.04 of it, while half of the other shortlisted windows were more
/// than 0.15 below (registration is most of the comparison's cost).
const WINDOW_CORRELATION_SPREAD: f32 = 0.15;
/// How a shortlisted reference is registered onto the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alignment {
    /// Fourier-Mellin, or the matched window refined when that is a part
    /// of the reference, whichever aligns better.
    Spectral,
    /// The matched window refined (frames matched cell by cell).
    Window,
    /// Fourier-Mellin over the whole frame, kept only when it starts close
    /// ([`TURNED_MIN_START`]): a listing shortlisted by the claim's turned
    /// hashes.
    Turned,
}

/// Refinement objective (NCC over the overlap) from which a Fourier-Mellin
/// start is worth refining in the search for turned copies. Two dev photos
/// painted on and turned by quarter and half turns or flipped started at
/// 0.95-1.0, tilted by 15 or 45 degrees 0.95-0.99; a synthetic copy tilted
/// by 30 degrees in its own frame, black corners included, at 0.58; the
/// unrelated dev listings at -0.3 to 0.48. Only the cost depends on it:
/// the similarity after refinement decides.
const TURNED_MIN_START: f32 = 0.45;
/// Similarity at and above which the claim is derived from the reference.
const DERIVED_SIMILARITY: f32 = 0.7;
/// Similarity from which a claim that is not derived still lines up with a
/// listing as the same picture: the listing redrawn by an AI tool (every
/// pixel regenerated through an autoencoder or a diffusion model: 0.46
/// and 0.68 on the development corpus's round trips and restyles that fall
/// short of [`DERIVED_SIMILARITY`]) or the same scene photographed again.
/// It is then treated as a match in outline only ([`same_scene_only`]).
/// Unrelated dev photos reach at most 0.22.
const SAME_SCENE_SIMILARITY: f32 = 0.4;
/// The similarity is the median block correlation over the claim's
/// textured blocks, or the upper quartile less this, whichever is higher:
/// damage painted over most of what is textured in a studio photo must not
/// hide the source (a stain over half a product on a white background: the
/// median 0.63, the upper quartile 0.93), while a frame mostly flat, where a
/// quarter of the blocks can match by chance, must not be derived from a
/// wrong listing (a screenshot against another listing: median 0.09, upper
/// quartile 0.70). Unrelated dev photos reach at most 0.22.
const UPPER_QUARTILE_DISCOUNT: f32 = 0.1;
/// A block of the claim whose band-passed luma correlates at least this
/// well with the aligned reference shows the same picture.
const COPIED_BLOCK: f32 = 0.8;
/// A claim not derived from any reference holds a copied part of one when
/// that many 4-connected blocks, and at least that share of its textured
/// blocks, show the same picture (see [`References::partial_copy`]).
const PARTIAL_MIN_BLOCKS: usize = 12;
const PARTIAL_MIN_SHARE: f32 = 0.08;
/// A registration with one axis stretched against the other replaces the
/// similarity when its block similarity's misfit (1 - similarity) is at
/// most this share of the similarity's. Measured (session 35): copies
/// stretched by 2-10%, plain or painted, keep a few percent of it; detail
/// crops whose tones were equalised, where the stretch drifted by 1-3%
/// without being there, nearly all.
const ASPECT_MISFIT_SHARE: f32 = 0.5;
/// Frames whose shapes (height over width) differ by more than this share
/// are also laid over each other stretched, in the search for a copied
/// part: more than rounding a side of a working plane (≥ 128 px) to whole
/// pixels gives.
const FRAME_SHAPE_TOLERANCE: f32 = 0.01;
/// Fine similarity ([`fine_similarity`]: texture and noise, away from
/// changed regions and straight edges) from which a match is a copy. A copy
/// keeps the listing's fine texture and noise: on the development corpus,
/// the edits and controls cut from their source photos 0.79 and above, the
/// same 122 claims downscaled to 0.3-0.9 and saved at JPEG quality 60-92
/// 0.52 and above, real AI-tool edits 0.71 and above, laundered copies of
/// whole photos at 256 px 0.33 and above; synthetic studio copies 0.57 and
/// above where their noise is measurable. New photos of a product from the
/// same spot, and other products of the same shape, share its outline:
/// synthetic ones 0.07 at most, or too few blocks to measure.
const FINE_CONFIRMED: f32 = 0.2;
/// Fine similarities of several derived candidates within this of the best
/// are a tie, won by the finest view: one photo stored at two sizes differs
/// at a common scale by resampling alone. Kept tight: two cameras'
/// photos of one scene from the same spot (dev, prnu-python) measured
/// 0.977 against the claim's own source's 0.996, and a thumbnail of the
/// listing 0.979-0.996 against the listing's 0.999 (a review's cracks).
const FINE_TIE: f32 = 0.005;
/// Derived candidates whose fine similarity at their own scale trails the
/// best by more than this are left out before the common scale: a listing
/// and its thumbnail measured 0.96 and 0.996 against a cracked copy.
const FINE_SHORTLIST: f32 = 0.1;
/// Fewer blocks of fine detail than this (away from changes and straight
/// edges) cannot confirm a copy: the corners of a plain product line up in
/// any photo framed like the listing.
const MIN_FINE_BLOCKS: usize = 12;
/// Band variance from which a block counts for the fine similarity, in the
/// claim and in the listing: a quarter of the registration's floor
/// ([`MIN_BAND_VARIANCE`]). Lower
/// floors let faint prints and the ringing of compression confirm a new
/// photo of the same product (a review's sweep of 1740 synthetic studio
/// claims: at 0.05, 118 reshoots or other products derived; at 0.12, 34; at
/// 0.25, 1, a reshoot from a tripod of a printed box); the price is that a
/// copy of a plain product without visible noise goes to review.
const FINE_MIN_VARIANCE: f32 = 0.25;
/// Blocks whose structure is more coherent than this ([`block_coherence`]:
/// one straight edge) are left out of the fine similarity: a product's
/// outline lines up in any photo framed like the listing, its texture and
/// noise only in a copy.
const MAX_FINE_COHERENCE: f32 = 0.5;
/// Share of the claim the reference must cover to be its source.
const MIN_OVERLAP: f32 = 0.6;
/// Side of the similarity blocks at the registration scale.
const BLOCK: usize = 16;
/// Largest number of per-region findings.
const MAX_REGIONS: usize = 10;

/// One indexed reference photo.
#[derive(Clone)]
struct Entry {
    name: Option<String>,
    width: u32,
    height: u32,
    /// RGB at long side ≤ `HI`.
    hi: RgbImage,
    /// RGB at long side ≤ `DETAIL`, for the window views of a small
    /// catalogue; `None` when `hi` is the full resolution already or the
    /// catalogue outgrew [`WINDOW_SEARCH_MAX`].
    detail: Option<RgbImage>,
    /// Luma at long side ≤ `LO`.
    lo: Plane,
    /// Whole-frame and window hashes of `lo`.
    hashes: Vec<Hash>,
    /// Occlusion-robust whole-frame signature of `lo`.
    signature: Signature,
    /// Thumbnails of `lo`, as is and mirrored, looked for inside a claim
    /// ([`References::embedded_copy`]).
    thumbs: [hash::ClaimThumbs; 2],
    /// Stored with a palette ([`ReferenceMatch::palette`]): a GIF or an
    /// indexed PNG. Known for files only: synthetic pictures of few colours
    /// (renders with one grain for all channels) are no colour reduction.
    palette: bool,
    /// An animation (APNG, animated WebP or GIF) of which only the first
    /// image (an APNG's default image) is indexed.
    animated: bool,
}

/// Windows covering at least this share of the reference's area are
/// registered against the whole reference; smaller ones against the window
/// and a margin around it, cut from the stored RGB copy, so that a detail
/// cut out of the listing is registered at a scale close to its own.
const WHOLE_FRAME_AREA: f32 = 0.8;
/// Margin around a small window, as a share of its side on each side: the
/// crop the claim came from is within about 10% of some window.
const VIEW_MARGIN: f32 = 0.2;
/// Smallest long side (stored pixels) of a window view: below the
/// registration scale, different photos of one scene from nearly the same
/// spot (two cameras at a landmark) correlate as well as a true crop
/// (development corpus: 0.77-0.81 against 0.72-0.87 at 200-250 px).
const MIN_VIEW: u32 = LO;
/// A claim finer than the reference view by more than this factor is
/// compared with it at the view's resolution: an upsampled reference lacks
/// the claim's fine texture, which would read as change.
const MAX_UPSAMPLING: f32 = 1.5;

/// Windows of the claim looked at for a listing shown inside it (a
/// collage, a grid, a screenshot with a page around the photo, a photo
/// pasted into another): at most this many, the most correlated first,
/// so that a doctored copy beside unchanged ones in a 2x2 grid is reached.
const EMBEDDED_PLACES: usize = 4;
/// Least thumbnail correlation (32x32, refined) of a claim window with a
/// whole listing for the window to be compared with it.
const EMBEDDED_MIN_CORRELATION: f32 = 0.8;
/// Least coarse (16x16) correlation of a window for it to be refined.
const EMBEDDED_MIN_COARSE: f32 = 0.75;
/// Least similarity ([`similarity`]) of such a window with the listing
/// registered near it for the window to be cut out and compared: that of
/// a claim lining up as the same scene. Measured (session 51): windows of
/// 25 dev photos that match none of 61 listings reach at most 0.38 (94
/// windows), the shown listing in 120 collages, grids and pasted copies
/// of `scripts/reference_collage_eval.py` 0.59 or more.
const EMBEDDED_MIN_SIMILARITY: f32 = SAME_SCENE_SIMILARITY;
/// Margin cut around such a window, as a share of its side on each side:
/// the refined window can be a few percent off the pasted picture's edges,
/// and what lies outside the listing's footprint is not compared.
const EMBEDDED_MARGIN: f32 = 0.04;
/// A listing by its index, and whether it is mirrored.
type Listing = (usize, bool);

/// Inset of a listing's footprint, as a share of its sides, when the claim
/// is cut to it: the registration is good to about a pixel at 256 px.
const FOOTPRINT_INSET: f32 = 0.005;

/// The part of a reference a claim is registered against: the whole of it,
/// or a window with a margin (mirrored first if the claim is).
#[derive(Debug, Clone)]
struct View {
    /// RGB cut from the reference's stored copy (`hi`, or `detail` for a
    /// window).
    hi: RgbImage,
    /// Luma at long side ≤ `LO`.
    lo: Plane,
    /// Top-left corner of `hi` in the (mirrored if so) stored copy.
    origin: (u32, u32),
    /// Size of the stored copy `hi` was cut from.
    source: (u32, u32),
    /// The matched window `[x0, y0, x1, y1]` in `lo` pixels.
    window: [f32; 4],
}

/// An indexed catalogue of reference (listing) photos.
///
/// Each reference keeps about 0.8 MB (a 512-px RGB copy, a 256-px luma
/// plane, 49 hashes and its thumbnails, as is and mirrored, about 11 KB),
/// and while the catalogue holds at most 64 (searched window by window) up to 3 MB more, a 1024-px RGB copy for the views of details. `References` is `Send + Sync`; share it between analysers
/// through [`Analyzer::with_references`](crate::Analyzer::with_references)
/// (which takes an `Arc`, so one catalogue serves every worker).
///
/// ```
/// # fn main() -> Result<(), trueshot::Error> {
/// let mut refs = trueshot::References::new();
/// refs.push_image(&image::RgbImage::new(64, 48).into(), Some("listing-1".into()));
/// let analyzer = trueshot::Analyzer::new(trueshot::Config::default())?.with_references(refs);
/// let report = analyzer.analyze_image(&image::RgbImage::new(64, 48).into())?;
/// assert!(report.reference.is_some());
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct References {
    entries: Vec<Entry>,
    /// Limits for decoding references (file bytes, pixels, decoded bytes).
    limits: Config,
}

impl std::fmt::Debug for References {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("References")
            .field("len", &self.entries.len())
            .finish()
    }
}

/// The outcome of comparing one claim with the catalogue.
#[derive(Debug, Clone)]
pub(crate) struct Comparison {
    /// What goes into `Report::reference`.
    pub matched: ReferenceMatch,
    /// `reference.*` findings.
    pub findings: Vec<Finding>,
    /// The change map, when the claim is derived.
    pub map: Option<Heatmap>,
}

/// A prepared claim.
struct Claim {
    width: u32,
    height: u32,
    hi: RgbImage,
    lo: Plane,
    /// `lo` band-passed, as the similarity reads it ([`band`]).
    lo_band: Plane,
    spectrum: register::ClaimSpectrum,
    hash: Hash,
    hash_mirrored: Hash,
    /// Hashes of `lo` turned by one, two and three quarter turns, each as
    /// is and mirrored (`true`): the orientations the upright search
    /// cannot see.
    hashes_turned: Vec<(Hash, bool)>,
    thumbs: hash::ClaimThumbs,
    thumbs_mirrored: hash::ClaimThumbs,
}

/// A verified candidate.
#[derive(Debug, Clone)]
struct Candidate {
    index: usize,
    mirrored: bool,
    /// How it was registered: a `Window` refinement starts from the
    /// identity and cannot recover a turn.
    alignment: Alignment,
    view: View,
    /// View working frame → claim working frame.
    affine: Affine,
    similarity: f32,
    overlap: f32,
}

impl Candidate {
    /// Whether the registration says the claim is derived from this view.
    fn is_derived(&self) -> bool {
        self.similarity >= DERIVED_SIMILARITY && self.overlap >= MIN_OVERLAP
    }

    /// Whether the claim lines up with this view as the same picture, if
    /// not necessarily as a copy ([`SAME_SCENE_SIMILARITY`]).
    fn is_same_scene(&self) -> bool {
        self.similarity >= SAME_SCENE_SIMILARITY && self.overlap >= MIN_OVERLAP
    }
}

impl View {
    /// The view of `entry` (mirrored if `mirrored`) for a claim that
    /// matched `window` (in the unmirrored `lo` plane).
    fn new(entry: &Entry, mirrored: bool, window: [usize; 4]) -> View {
        let [x0, y0, x1, y1] = window;
        let (lw, lh) = (entry.lo.w.max(1), entry.lo.h.max(1));
        let area = ((x1 - x0) * (y1 - y0)) as f32 / (lw * lh) as f32;
        let (x0, x1) = if mirrored {
            (lw - x1, lw - x0)
        } else {
            (x0, x1)
        };
        if area >= WHOLE_FRAME_AREA {
            let (hi, lo) = if mirrored {
                (
                    image::imageops::flip_horizontal(&entry.hi),
                    entry.lo.flipped(),
                )
            } else {
                (entry.hi.clone(), entry.lo.clone())
            };
            return View {
                source: hi.dimensions(),
                hi,
                lo,
                origin: (0, 0),
                window: [x0, y0, x1, y1].map(|v| v as f32),
            };
        }
        let stored = entry.detail.as_ref().unwrap_or(&entry.hi);
        let (sw, sh) = stored.dimensions();
        // The window with its margin, in stored pixels (of the mirrored
        // copy when mirrored).
        let (fx, fy) = (sw as f32 / lw as f32, sh as f32 / lh as f32);
        let (mx, my) = (
            VIEW_MARGIN * (x1 - x0) as f32,
            VIEW_MARGIN * (y1 - y0) as f32,
        );
        let cx0 = (((x0 as f32 - mx) * fx).max(0.0) as u32).min(sw.saturating_sub(1));
        let cy0 = (((y0 as f32 - my) * fy).max(0.0) as u32).min(sh.saturating_sub(1));
        let cx1 = (((x1 as f32 + mx) * fx).ceil() as u32).min(sw);
        let cy1 = (((y1 as f32 + my) * fy).ceil() as u32).min(sh);
        let (cw, ch) = (
            cx1.saturating_sub(cx0).max(1),
            cy1.saturating_sub(cy0).max(1),
        );
        // Cut first, mirror the cut: the same pixels as cutting the mirrored
        // copy, without copying all of it.
        let hi = if mirrored {
            let ux0 = sw.saturating_sub(cx0 + cw);
            image::imageops::flip_horizontal(&*image::imageops::crop_imm(stored, ux0, cy0, cw, ch))
        } else {
            image::imageops::crop_imm(stored, cx0, cy0, cw, ch).to_image()
        };
        let lo = Plane::luma(&shrink(&hi, LO));
        // The window in the view's `lo` pixels (each axis by its own
        // ratio: the shrink rounds each side to whole pixels).
        let kx = lo.w as f32 / hi.width().max(1) as f32;
        let ky = lo.h as f32 / hi.height().max(1) as f32;
        let window = [
            (x0 as f32 * fx - cx0 as f32) * kx,
            (y0 as f32 * fy - cy0 as f32) * ky,
            (x1 as f32 * fx - cx0 as f32) * kx,
            (y1 as f32 * fy - cy0 as f32) * ky,
        ];
        View {
            lo,
            hi,
            origin: (cx0, cy0),
            source: (sw, sh),
            window,
        }
    }

    /// Whether this is the whole reference, not a window of it.
    fn is_whole(&self) -> bool {
        self.origin == (0, 0) && self.hi.dimensions() == self.source
    }

    /// The map (view `lo` → claim `lo`) that lays the matched window over
    /// a claim of `w x h`: the first guess of the registration.
    fn window_guess(&self, (w, h): (usize, usize)) -> Affine {
        let [x0, y0, x1, y1] = self.window;
        let s = ((w as f32 / (x1 - x0).max(1.0)) * (h as f32 / (y1 - y0).max(1.0))).sqrt();
        Affine::similarity(s, 0.0, -s * x0, -s * y0)
    }
}

impl References {
    /// An empty catalogue; references are decoded under the default
    /// [`Config`] limits.
    #[must_use]
    pub fn new() -> Self {
        References::default()
    }

    /// Decode the references pushed from now on under the limits of
    /// `config` (`max_file_bytes`, `max_pixels`, `max_decoded_bytes`), as
    /// the claims analysed with it are.
    #[must_use]
    pub fn with_limits(mut self, config: &Config) -> Self {
        self.set_limits(config);
        self
    }

    /// As [`References::with_limits`], in place.
    pub(crate) fn set_limits(&mut self, config: &Config) {
        self.limits = config.clone();
    }

    /// Decode and index an image file; its name is the path.
    ///
    /// # Errors
    /// `Io`, `FileTooLarge`, `Unsupported`, `TooLarge` or `Decode`, as for
    /// [`Analyzer::analyze_path`](crate::Analyzer::analyze_path) under this
    /// catalogue's limits.
    pub fn push_path(&mut self, path: &Path) -> Result<(), Error> {
        let bytes = crate::decode::read_file(path, self.limits.max_file_bytes)?;
        self.push_bytes(&bytes, Some(path.to_string_lossy().into_owned()))
    }

    /// Decode and index an encoded image (JPEG, PNG, WebP, TIFF, BMP, GIF).
    ///
    /// # Errors
    /// `FileTooLarge`, `Unsupported`, `TooLarge` or `Decode` under this
    /// catalogue's limits.
    pub fn push_bytes(&mut self, bytes: &[u8], name: Option<String>) -> Result<(), Error> {
        let config = &self.limits;
        if bytes.len() as u64 > config.max_file_bytes {
            return Err(Error::FileTooLarge {
                bytes: bytes.len() as u64,
                limit: config.max_file_bytes,
            });
        }
        let format = crate::decode::sniff(bytes)?;
        let image = crate::decode::decode(bytes, format, config)?;
        let indexed = self.entries.len();
        self.push_image(&image, name);
        if let Some(entry) = self.entries.get_mut(indexed) {
            entry.animated = crate::metadata::extract(bytes, format)
                .animation_frames
                .is_some();
            entry.palette = stored_with_palette(bytes, format);
        }
        Ok(())
    }

    /// Index decoded pixels. An image without pixels (a width or height of
    /// 0) matches nothing and is not indexed, so it takes no
    /// [`ReferenceMatch::index`](crate::ReferenceMatch::index) (the indices
    /// of later images count only indexed ones: check [`References::len`]
    /// when indices matter); [`References::push_bytes`] refuses one as a
    /// `Decode` error.
    pub fn push_image(&mut self, image: &DynamicImage, name: Option<String>) {
        if image.width() == 0 || image.height() == 0 {
            return; // nothing to match: not indexed
        }
        let rgb = image.to_rgb8();
        let detail = (self.entries.len() < WINDOW_SEARCH_MAX && rgb.width().max(rgb.height()) > HI)
            .then(|| shrink(&rgb, DETAIL));
        let hi = shrink(&rgb, HI);
        let lo = Plane::luma(&shrink(&hi, LO));
        let hashes = hash::windows(&lo);
        let signature = Signature::new(&lo);
        let thumbs = [
            hash::ClaimThumbs::new(&lo),
            hash::ClaimThumbs::new(&lo.flipped()),
        ];
        self.entries.push(Entry {
            name,
            width: image.width(),
            height: image.height(),
            hi,
            detail,
            lo,
            hashes,
            signature,
            thumbs,
            palette: false,
            animated: false,
        });
        // A larger catalogue goes through the hash index, whose views are
        // whole frames, so the detail copies (up to 3 MB each) go: the
        // finer thin-line pass, which reads them too, is then left out
        // (thin lines at 512 px only; README, Reference comparison).
        if self.entries.len() > WINDOW_SEARCH_MAX {
            for entry in &mut self.entries {
                entry.detail = None;
            }
        }
    }

    /// Number of references.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Compare a claim with the catalogue and return the best match (the
    /// same value an [`Analyzer`](crate::Analyzer) with these references puts
    /// in `Report::reference`). `None` when the catalogue is empty.
    #[must_use]
    pub fn best_match(&self, claim: &DynamicImage) -> Option<ReferenceMatch> {
        let rgb = claim.to_rgb8();
        let content = crate::margins::content_region(rgb.as_raw(), rgb.width(), rgb.height());
        self.compare(
            rgb.as_raw(),
            rgb.width(),
            rgb.height(),
            content,
            &FftPlans::default(),
            &Deadline::none(),
        )
        .map(|c| c.matched)
    }

    /// The shortlist: `(distance, index, mirrored, window)` of the closest
    /// references (by hash, or by window search in a small catalogue),
    /// closest first, ties by index.
    fn shortlist(&self, claim: &Claim, deadline: &Deadline) -> Vec<(u32, usize, bool, [usize; 4])> {
        if self.entries.len() <= WINDOW_SEARCH_MAX {
            self.window_shortlist(claim, deadline)
        } else {
            self.hash_shortlist(claim)
        }
    }

    /// The reference closest to the claim (as is or mirrored) by
    /// [`Signature`], to be registered against its whole frame, as
    /// `(1000 · distance, index, mirrored, window)`: none unless it lies
    /// within [`MAX_SIGNATURE_DISTANCE`] and clearly closer than any other
    /// reference ([`SIGNATURE_RATIO`]), and not when it was `tried`
    /// already against its whole frame.
    fn signature_candidate(
        &self,
        claim: &Claim,
        tried: &[Candidate],
    ) -> Option<(u32, usize, bool, [usize; 4])> {
        let mut all: Vec<(f32, usize, bool)> = self
            .entries
            .iter()
            .enumerate()
            .flat_map(|(i, e)| {
                [
                    (claim.thumbs.signature.distance(&e.signature), i, false),
                    (
                        claim.thumbs_mirrored.signature.distance(&e.signature),
                        i,
                        true,
                    ),
                ]
            })
            .collect();
        all.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let &(best, index, mirrored) = all.first()?;
        // Lowe's ratio test (IJCV 60(2), 2004): a product on a plain
        // background is as close to every other such listing as to its
        // own, since the background fills the cells the distance keeps.
        let second = all.iter().find(|c| c.1 != index).map_or(f32::MAX, |c| c.0);
        if best > MAX_SIGNATURE_DISTANCE || best >= SIGNATURE_RATIO * second {
            return None;
        }
        let entry = &self.entries[index];
        let whole = [0, 0, entry.lo.w, entry.lo.h];
        (!tried_whole(tried, index, mirrored, false)).then_some((
            (best * 1000.0) as u32,
            index,
            mirrored,
            whole,
        ))
    }

    /// The shortlist of a large catalogue: the references whose whole frame
    /// or a crop window hashes closest to the claim (as is or mirrored).
    fn hash_shortlist(&self, claim: &Claim) -> Vec<(u32, usize, bool, [usize; 4])> {
        let upright = [(claim.hash, false), (claim.hash_mirrored, true)];
        self.hashed_candidates(&upright, MAX_HASH_DISTANCE, &[])
    }

    /// The references whose whole frame or a crop window hashes within
    /// `max_distance` of one of `hashes` (each with its mirroring), as
    /// `(distance, index, mirrored, whole frame)`, closest first, once per
    /// reference and mirroring (the registration finds a turn itself), at
    /// most [`SHORTLIST`], leaving out those `tried` already against their
    /// whole frame in the same mirroring by a registration that recovers a
    /// turn.
    fn hashed_candidates(
        &self,
        hashes: &[(Hash, bool)],
        max_distance: u32,
        tried: &[Candidate],
    ) -> Vec<(u32, usize, bool, [usize; 4])> {
        let mut all: Vec<(u32, usize, bool, [usize; 4])> = self
            .entries
            .iter()
            .enumerate()
            .flat_map(|(i, e)| {
                // Registered against the whole reference (see `View`).
                let whole = [0, 0, e.lo.w, e.lo.h];
                hashes.iter().map(move |&(h, mirrored)| {
                    let d = e.hashes.iter().map(|&w| hash::distance(h, w)).min();
                    (d.unwrap_or(64), i, mirrored, whole)
                })
            })
            .filter(|&(d, i, m, _)| d <= max_distance && !tried_whole(tried, i, m, true))
            .collect();
        all.sort_unstable();
        let mut seen = std::collections::BTreeSet::new();
        all.retain(|c| seen.insert((c.1, c.2)));
        all.truncate(SHORTLIST);
        all
    }

    /// The shortlist of a small catalogue, by the correlation of the claim's
    /// thumbnail (as is and mirrored) with every window's: `(1000 · (1 −
    /// correlation), index, mirrored, window)`, most correlated first.
    fn window_shortlist(
        &self,
        claim: &Claim,
        deadline: &Deadline,
    ) -> Vec<(u32, usize, bool, [usize; 4])> {
        let mut all: Vec<(u32, usize, bool, [usize; 4])> = self
            .entries
            .par_iter()
            .enumerate()
            .filter(|_| !deadline.expired())
            .flat_map_iter(|(i, e)| {
                let [(r, rect), (rm, rect_m)] =
                    hash::best_windows(&e.lo, [&claim.thumbs, &claim.thumbs_mirrored]);
                [(r, i, false, rect), (rm, i, true, rect_m)]
            })
            .filter(|&(r, ..)| r >= MIN_WINDOW_CORRELATION)
            .map(|(r, i, m, rect)| (((1.0 - r) * 1000.0) as u32, i, m, rect))
            .collect();
        all.sort_unstable();
        all.truncate(SHORTLIST);
        let closest = all.first().map_or(0, |a| a.0);
        let spread = (WINDOW_CORRELATION_SPREAD * 1000.0) as u32;
        all.retain(|a| a.0 <= closest + spread);
        all
    }

    /// Register and score one shortlisted reference, against the window
    /// of it the claim matched when that window is small.
    fn verify(
        &self,
        claim: &Claim,
        (index, mirrored, window): (usize, bool, [usize; 4]),
        alignment: Alignment,
        plans: &FftPlans,
    ) -> Option<Candidate> {
        let entry = self.entries.get(index)?;
        let view = View::new(entry, mirrored, window);
        if !view.is_whole() && view.hi.width().max(view.hi.height()) < MIN_VIEW {
            return None;
        }
        if view.lo.w < 8 || view.lo.h < 8 || claim.lo.w < 8 || claim.lo.h < 8 {
            return None;
        }
        // Fourier-Mellin, or the matched window refined, whichever aligns
        // better: the spectrum of a small crop that is also painted on can
        // mislead Fourier-Mellin, while the window is right by construction.
        let spectral = || register::register(&claim.lo, &claim.spectrum, &view.lo, plans);
        let full_frame = window == [0, 0, entry.lo.w, entry.lo.h];
        let reg = match alignment {
            Alignment::Window => register::register_near(
                &claim.lo,
                &view.lo,
                view.window_guess((claim.lo.w, claim.lo.h)),
            ),
            Alignment::Turned => register::register_if_close(
                &claim.lo,
                &claim.spectrum,
                &view.lo,
                plans,
                TURNED_MIN_START,
            )?,
            Alignment::Spectral if full_frame => spectral(),
            Alignment::Spectral => {
                let guess = view.window_guess((claim.lo.w, claim.lo.h));
                let near = register::register_near(&claim.lo, &view.lo, guess);
                // Both, even when the window aligns well: taking it alone
                // whenever its NCC reached 0.9 lost 2 of 100 dev crops.
                let spectral = spectral();
                if near.best_ncc > spectral.best_ncc {
                    near
                } else {
                    spectral
                }
            }
        };
        let view_band = band(&view.lo);
        let measured = |affine: Affine| (affine, similarity(&claim.lo_band, &view_band, &affine));
        let similar = measured(reg.affine);
        // A stretch is believed when it explains most of what the
        // similarity left unexplained in the median textured block, which
        // paint over a part of the picture does not move.
        let misfit = |(_, (s, _)): &(Affine, (f32, f32))| 1.0 - s;
        let (affine, (similarity, overlap)) = match reg.stretched.map(measured) {
            Some(stretched) if misfit(&stretched) <= ASPECT_MISFIT_SHARE * misfit(&similar) => {
                stretched
            }
            _ => similar,
        };
        Some(Candidate {
            index,
            mirrored,
            alignment,
            view,
            affine,
            similarity,
            overlap,
        })
    }

    /// Compare a claim (decoded RGB: `width * height` pixels of 3 bytes,
    /// row-major) with every reference; when the claim is not derived as a
    /// whole, what lies inside its uniform margins (`content`) is compared
    /// too: a listing photo shown in a screenshot, a frame or padding.
    ///
    /// Past the `deadline`, listings not yet looked at are skipped
    /// (`deadline.was_cut()` then says so) and "no match" is not claimed.
    pub(crate) fn compare(
        &self,
        rgb: &[u8],
        width: u32,
        height: u32,
        content: Option<Region>,
        plans: &FftPlans,
        deadline: &Deadline,
    ) -> Option<Comparison> {
        // An image without pixels shows nothing to compare.
        if width == 0 || height == 0 || rgb.len() < width as usize * height as usize * 3 {
            return None;
        }
        if self.entries.is_empty() {
            return None;
        }
        if deadline.expired() {
            // Nothing was compared: no "no match" either.
            let mut nothing = no_match(0.0);
            nothing.findings.clear();
            return Some(nothing);
        }
        let frame = RgbView::from_raw(width, height, rgb)?;
        let claim = prepare(&frame, plans);
        let placement = Placement::whole(width, height);
        let whole = self.compare_claim(&claim, &frame, placement, plans, deadline);
        let mut comparison = match content.filter(|_| !whole.matched.derived) {
            None => whole,
            Some(region) => {
                let inner = crate::margins::crop(rgb, width, region);
                let placement = Placement::within(region, (width, height));
                // The inside of the margins decides when it is derived, or
                // when it matches a listing in outline or holds a copied
                // part of one and the whole does neither.
                let says_something = |c: &Comparison| {
                    c.matched.index.is_some()
                        || c.findings
                            .iter()
                            .any(|f| f.code == "reference.partial_copy")
                };
                match self.compare_placed(&inner, placement, plans, deadline) {
                    Some(c) if c.matched.derived => c,
                    Some(c) if says_something(&c) && !says_something(&whole) => c,
                    _ => whole,
                }
            }
        };
        if !comparison.matched.derived {
            if let Some(shown) = self.embedded_copy(&claim, &frame, plans, deadline) {
                comparison = shown;
            }
        }
        if deadline.was_cut() {
            comparison
                .findings
                .retain(|f| f.code != "reference.no_match");
        }
        if let Some(f) = comparison
            .findings
            .iter_mut()
            .find(|f| f.code == "reference.no_match")
        {
            let (en, zh) = self.unsearched();
            f.message.push_str(&en);
            f.message_zh.push_str(&zh);
        }
        Some(comparison)
    }

    /// What "no match" leaves unsearched, in English and Chinese (empty
    /// when nothing): a large catalogue is searched by whole-frame hashes
    /// only (a review: a detail cut out of a listing was found among 50
    /// listings and not among 65, without a word), and an animated listing
    /// by its first image.
    fn unsearched(&self) -> (String, String) {
        let (mut en, mut zh) = (String::new(), String::new());
        let animated: Vec<(usize, &Entry)> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.animated)
            .collect();
        if !animated.is_empty() {
            let mut shown: Vec<String> = animated
                .iter()
                .take(5)
                .map(|(i, e)| {
                    e.name
                        .as_deref()
                        .map_or_else(|| format!("#{i}"), |n| escape_untrusted(n, 120))
                })
                .collect();
            if animated.len() > 5 {
                shown.push("...".into());
            }
            let (n, shown) = (animated.len(), shown.join(", "));
            en += &format!(" {n} of the reference photos are animations ({shown}): only their first image was compared.");
            zh += &format!("其中 {n} 张商家商品图是动图（{shown}）：只比较了其第一帧。");
        }
        let n = self.entries.len();
        if n > WINDOW_SEARCH_MAX {
            en += &format!(" With more than {WINDOW_SEARCH_MAX} reference photos ({n} here), a photo that is a detail cut out of one is not looked for: compare with one product's listings to find such details.");
            zh += &format!("商家商品图超过 {WINDOW_SEARCH_MAX} 张（此处 {n} 张）时，不查找从商品图中裁出的局部：只与同一商品的商品图比较才能发现这类局部截图。");
        }
        (en, zh)
    }

    /// Compare the claim `rgb` (`placement.size` pixels), reporting regions,
    /// the transform and the map in the frame it was cut from.
    fn compare_placed(
        &self,
        rgb: &[u8],
        placement: Placement,
        plans: &FftPlans,
        deadline: &Deadline,
    ) -> Option<Comparison> {
        if self.entries.is_empty() {
            return None;
        }
        if deadline.expired() {
            return Some(no_match(0.0));
        }
        let (width, height) = placement.size;
        let rgb = RgbView::from_raw(width, height, rgb)?;
        let claim = prepare(&rgb, plans);
        Some(self.compare_claim(&claim, &rgb, placement, plans, deadline))
    }

    /// [`Self::compare_placed`] for a claim prepared already.
    fn compare_claim(
        &self,
        claim: &Claim,
        rgb: &RgbView<'_>,
        placement: Placement,
        plans: &FftPlans,
        deadline: &Deadline,
    ) -> Comparison {
        let shortlist = self.shortlist(claim, deadline);
        // Candidates are verified in parallel and reduced in shortlist order,
        // so the result does not depend on scheduling (without a deadline).
        let verify_all = |list: &[(u32, usize, bool, [usize; 4])], alignment: Alignment| {
            list.par_iter()
                .filter(|_| !deadline.expired())
                .filter_map(|&(_, i, m, window)| {
                    self.verify(claim, (i, m, window), alignment, plans)
                })
                .collect::<Vec<Candidate>>()
        };
        let mut verified = verify_all(&shortlist, Alignment::Spectral);
        // A copy with a part blacked out or painted over can rank behind
        // unrelated photos by hash and by thumbnail correlation; its
        // signature still ranks it first. A copy turned by a quarter or
        // half turn, or flipped upside down, hashes and correlates with
        // nothing upright. Both searches run only when no candidate is the
        // source, so a found copy costs no more. `searched` says which of
        // the two ran; `anyway` runs the turned one even after a candidate
        // passed the registration's test.
        #[derive(Default)]
        struct Searched {
            signature: bool,
            turned: bool,
        }
        let mut searched = Searched::default();
        let search_further =
            |verified: &mut Vec<Candidate>, searched: &mut Searched, anyway: bool| {
                if !searched.signature {
                    searched.signature = true;
                    if let Some(candidate) = self.signature_candidate(claim, verified) {
                        // Whole frame on whole frame: the signature matched the
                        // frames cell by cell, so the pattern search from there
                        // suffices.
                        verified.extend(verify_all(&[candidate], Alignment::Window));
                    }
                }
                // The claim's turned hashes shortlist the listings it may have
                // been turned from (any catalogue size: a hash comparison costs
                // nanoseconds), and Fourier-Mellin registration, which recovers
                // any rotation, aligns them; an alignment that does not start
                // close is dropped unrefined.
                if !searched.turned && (anyway || !verified.iter().any(Candidate::is_derived)) {
                    searched.turned = true;
                    let turned = self.hashed_candidates(
                        &claim.hashes_turned,
                        TURNED_MAX_HASH_DISTANCE,
                        verified,
                    );
                    verified.extend(verify_all(&turned, Alignment::Turned));
                }
            };
        if !verified.iter().any(Candidate::is_derived) {
            search_further(&mut verified, &mut searched, false);
        }
        let mut comparison = self.conclude(
            claim,
            rgb,
            choose_best(claim, &verified).cloned(),
            placement,
            deadline,
        );
        // A candidate can pass the registration's test without being the
        // source: on a mostly plain frame a wrong alignment's upper quartile
        // can reach it, and `conclude` then finds no fine detail in common.
        // The searches it stopped may still find the source (a review: an
        // unchanged copy turned by a quarter turn was reported as the same
        // scene, matched to a stretched mirror image of its listing). Their
        // answer is taken only if it is a copy.
        let skipped = !(searched.signature && searched.turned);
        if !comparison.matched.derived && skipped && !deadline.expired() {
            let tried = verified.len();
            search_further(&mut verified, &mut searched, true);
            let new_ones: Vec<Candidate> = verified.split_off(tried);
            if !new_ones.is_empty() {
                let retry = self.conclude(
                    claim,
                    rgb,
                    choose_best(claim, &new_ones).cloned(),
                    placement,
                    deadline,
                );
                if retry.matched.derived {
                    comparison = retry;
                }
            }
        }
        // A listing matched as a whole (an index named) holds no part of
        // the claim that the whole-frame match has not weighed already.
        let matched_whole = comparison.matched.index.is_some();
        if !matched_whole && self.entries.len() <= WINDOW_SEARCH_MAX {
            if let Some(partial) = self.partial_copy(claim, plans, placement, deadline) {
                // It says what matches and what does not; "no match" would
                // contradict it.
                comparison
                    .findings
                    .retain(|f| f.code != "reference.no_match");
                comparison.findings.push(partial);
            }
        }
        comparison
    }

    /// A listing shown whole inside the claim, smaller than its frame: a
    /// collage or a grid of photos, a screenshot of the product page (with
    /// a page around the photo, not flat margins), a photo pasted into
    /// another. The frame-on-frame searches cannot see it: the window
    /// search looks for the claim inside a listing, and the copied-part
    /// search lays the frames over each other at the scale of their sides.
    /// So the roles are turned round: each listing's thumbnail (as is and
    /// mirrored) is looked for among the windows of its own shape in the
    /// claim, at the sizes the window search uses, and the most correlated
    /// windows are cut out (with a margin) and compared with that listing.
    ///
    /// A copy found there with changes is a doctored copy of the listing:
    /// the claim is `derived` and its changed regions are placed in the
    /// claim's frame. An unchanged copy is only part of the picture (a
    /// buyer's "ordered / received" collage): it is named, and the rest of
    /// the claim is judged on its own (`derived` stays false).
    fn embedded_copy(
        &self,
        claim: &Claim,
        frame: &RgbView<'_>,
        plans: &FftPlans,
        deadline: &Deadline,
    ) -> Option<Comparison> {
        if self.entries.len() > WINDOW_SEARCH_MAX || deadline.expired() {
            return None;
        }
        let (lw, lh) = (claim.lo.w.max(1), claim.lo.h.max(1));
        let (fx, fy) = (
            claim.width as f32 / lw as f32,
            claim.height as f32 / lh as f32,
        );
        // Smaller than the frame (the whole-frame search saw the rest),
        // and large enough to trust (see `MIN_VIEW`).
        let placed = |[x0, y0, x1, y1]: [usize; 4]| {
            let area = ((x1 - x0) * (y1 - y0)) as f32 / (lw * lh) as f32;
            let side = ((x1 - x0) as f32 * fx).max((y1 - y0) as f32 * fy);
            area < WHOLE_FRAME_AREA && side >= MIN_VIEW as f32
        };
        let mut found: Vec<(f32, usize, bool, [usize; 4])> = self
            .entries
            .par_iter()
            .enumerate()
            .filter(|_| !deadline.expired())
            .flat_map_iter(|(i, e)| {
                let [upright, mirrored] = &e.thumbs;
                let [a, b] = hash::matching_windows(
                    &claim.lo,
                    [upright, mirrored],
                    EMBEDDED_PLACES,
                    EMBEDDED_MIN_COARSE,
                );
                let a = a.into_iter().map(move |(r, w)| (r, i, false, w));
                a.chain(b.into_iter().map(move |(r, w)| (r, i, true, w)))
            })
            .filter(|&(r, _, _, w)| r >= EMBEDDED_MIN_CORRELATION && placed(w))
            .collect();
        found.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        found.truncate(EMBEDDED_PLACES * SHORTLIST);
        // A window that lines up with a listing in its thumbnail only (a
        // sky over a roof matches many photos at 32x32) does not keep the
        // listing's band-passed detail once the listing, shrunk to the
        // window, is registered near it. Cheaper than cutting the window
        // out and registering it from scratch, which only those that pass
        // get.
        let found: Vec<(f32, usize, bool, [usize; 4])> = found
            .into_par_iter()
            .filter(|&(_, index, mirrored, [x0, y0, x1, y1])| {
                let Some(entry) = self.entries.get(index) else {
                    return false;
                };
                // The listing at the window's size, so that the band the
                // similarity reads holds the same detail in both.
                let (ww, wh) = ((x1 - x0) as u32, (y1 - y0) as u32);
                let small = image::imageops::resize(
                    &entry.hi,
                    ww.max(8),
                    wh.max(8),
                    image::imageops::FilterType::Triangle,
                );
                let small = if mirrored {
                    image::imageops::flip_horizontal(&small)
                } else {
                    small
                };
                let listing = Plane::luma(&small);
                let guess = Affine::translation(x0 as f32, y0 as f32);
                let near = register::register_near(&claim.lo, &listing, guess);
                similarity(&claim.lo_band, &band(&listing), &near.affine).0
                    >= EMBEDDED_MIN_SIMILARITY
            })
            .collect();
        // Places: the best windows in distinct places, each with every
        // listing (and mirroring) found there. Two listings of one spot
        // (a photo and its HDR twin) both match a place, and only the
        // comparison of their fine detail tells which one is shown.
        let mut places: Vec<([usize; 4], Vec<Listing>)> = Vec::new();
        for &(_, index, mirrored, rect) in &found {
            let listing = (index, mirrored);
            match places
                .iter()
                .position(|(at, _)| hash::overlap(at, &rect) > hash::SAME_PLACE)
            {
                Some(k) => {
                    let listings = &mut places[k].1;
                    if !listings.contains(&listing) && listings.len() < SHORTLIST {
                        listings.push(listing);
                    }
                }
                None if places.len() < EMBEDDED_PLACES => places.push((rect, vec![listing])),
                None => {}
            }
        }
        let compared: Vec<(Region, Comparison)> = places
            .par_iter()
            .filter(|_| !deadline.expired())
            .filter_map(|([x0, y0, x1, y1], listings)| {
                let (x0, y0, x1, y1) = (*x0, *y0, *x1, *y1);
                let (mx, my) = (
                    EMBEDDED_MARGIN * (x1 - x0) as f32,
                    EMBEDDED_MARGIN * (y1 - y0) as f32,
                );
                let left = ((x0 as f32 - mx) * fx).max(0.0) as u32;
                let top = ((y0 as f32 - my) * fy).max(0.0) as u32;
                let right = (((x1 as f32 + mx) * fx).ceil() as u32).min(claim.width);
                let bottom = (((y1 as f32 + my) * fy).ceil() as u32).min(claim.height);
                let region = Region {
                    x: left,
                    y: top,
                    width: right.checked_sub(left)?.max(1),
                    height: bottom.checked_sub(top)?.max(1),
                };
                self.embedded_at(frame, region, listings, plans, deadline, true)
            })
            .collect();
        // A doctored copy beside unchanged ones is still a doctored copy.
        let (region, mut shown) = compared
            .iter()
            .find(|(_, c)| c.matched.changed_fraction > 0.0)
            .or(compared.first())
            .cloned()?;
        let label = shown
            .matched
            .path
            .clone()
            .or_else(|| shown.matched.index.map(|i| format!("#{i}")))
            .unwrap_or_default();
        let (x, y, w, h) = (region.x, region.y, region.width, region.height);
        let share = (w as f32 * h as f32) / (claim.width as f32 * claim.height as f32).max(1.0);
        if shown.matched.changed_fraction > 0.0 {
            // The share of the claim's whole frame.
            shown.matched.changed_fraction *= share.min(1.0);
            shown.findings.insert(
                0,
                Finding::new(
                    DetectorKind::Reference,
                    "reference.embedded_copy",
                    0.0,
                    Class::None,
                    format!("The merchant's reference photo {label} is shown inside this photo at ({x}, {y}, {w}x{h}), as in a collage, a screenshot or a picture pasted into another; that part was compared with it."),
                    format!("商家商品图 {label} 出现在这张图片中的 ({x}, {y}, {w}x{h})，如拼图、截图或贴入另一张图片；已将该部分与商品图比较。"),
                )
                .with_region(region),
            );
            return Some(shown);
        }
        shown.matched.derived = false;
        shown.map = None;
        shown.findings = vec![Finding::new(
            DetectorKind::Reference,
            "reference.embedded_copy",
            0.0,
            Class::None,
            format!("The merchant's reference photo {label} is shown unchanged inside this photo at ({x}, {y}, {w}x{h}), as in a collage, a screenshot or a picture pasted into another. The rest of the photo is not from it and is judged on its own."),
            format!("商家商品图 {label} 未经改动地出现在这张图片中的 ({x}, {y}, {w}x{h})，如拼图、截图或贴入另一张图片。图片其余部分并非来自该商品图，单独判断。"),
        )
        .with_region(region)];
        Some(shown)
    }

    /// Compare the part `region` of the claim's `frame` with `listings`
    /// (each whole, as is or mirrored; [`choose_best`] picks among them),
    /// as [`Self::embedded_copy`] does: the part and its comparison when
    /// it is derived. With `cut_again`, the part is cut once more to the
    /// listing's footprint found by the registration, a few pixels inside
    /// it, and compared again: the margin around the window holds the
    /// picture's neighbours (a grid's next cell, the page), which a
    /// registration a pixel off reads as a change along the edge.
    fn embedded_at(
        &self,
        frame: &RgbView<'_>,
        region: Region,
        listings: &[Listing],
        plans: &FftPlans,
        deadline: &Deadline,
        cut_again: bool,
    ) -> Option<(Region, Comparison)> {
        let pixels = crate::margins::crop(frame.as_raw(), frame.width(), region);
        let inner = RgbView::from_raw(region.width, region.height, pixels.as_slice())?;
        let claim = prepare(&inner, plans);
        let verified: Vec<Candidate> = listings
            .iter()
            .filter_map(|&(index, mirrored)| {
                let entry = self.entries.get(index)?;
                let whole = [0, 0, entry.lo.w, entry.lo.h];
                self.verify(&claim, (index, mirrored, whole), Alignment::Spectral, plans)
            })
            .collect();
        // `conclude` calls no candidate short of a copy derived.
        let best = choose_best(&claim, &verified)
            .filter(|c| c.is_derived())?
            .clone();
        if cut_again {
            let exact = footprint(&best, &claim, region);
            if let Some(found) = exact.filter(|&exact| exact != region).and_then(|exact| {
                let listing = [(best.index, best.mirrored)];
                self.embedded_at(frame, exact, &listing, plans, deadline, false)
            }) {
                return Some(found);
            }
        }
        let placement = Placement::within(region, frame.dimensions());
        let c = self.conclude(&claim, &inner, Some(best), placement, deadline);
        c.matched.derived.then_some((region, c))
    }

    /// A part of the claim copied from a reference while the rest is not: a
    /// listing's product cut out and put into a new scene (AI tools replace
    /// everything around a kept subject in one step). The claim as a whole
    /// is then not derived, and a small catalogue's window search may not
    /// even shortlist the listing; so each reference is laid over the whole
    /// claim, frame on frame, and the largest 4-connected group of blocks showing
    /// the same picture ([`COPIED_BLOCK`]) must reach [`PARTIAL_MIN_BLOCKS`]
    /// and [`PARTIAL_MIN_SHARE`] of the textured blocks. Two photos of one
    /// scene from the same spot (or a flat print photographed again) can
    /// match as well at this scale, and a buyer may send a collage of the
    /// listing and their own photo, so the finding is local evidence for
    /// review (`reference.partial_copy`), never a flag.
    fn partial_copy(
        &self,
        claim: &Claim,
        plans: &FftPlans,
        placement: Placement,
        deadline: &Deadline,
    ) -> Option<Finding> {
        // Also mirrored: flipping is the cheapest way to defeat a matcher,
        // and the whole-frame search tries it too. The claim is mirrored
        // (once), not each listing, so that a listing's overlay and its
        // spectrum serve both; a blur commutes with the flip, so the band
        // flips as it is.
        let mirror_band = claim.lo_band.flipped();
        let mirror_spectrum = register::window_spectrum(&claim.lo.flipped(), plans);
        let views = [
            (false, &claim.spectrum.win, &claim.lo_band),
            (true, &mirror_spectrum, &mirror_band),
        ];
        let found = self
            .entries
            .par_iter()
            .enumerate()
            .filter(|_| !deadline.expired())
            .filter_map(|(index, entry)| {
                // The frames laid over each other: editing tools keep the
                // frame or resize it; Fourier-Mellin would read the scale
                // from the whole spectrum, which the new content dominates.
                // A frame of another shape was either cut (the widths
                // scale alike) or stretched to it (each axis scales to
                // fit: tools that round sizes to multiples of 8 or 64).
                let sx = claim.lo.w as f32 / entry.lo.w.max(1) as f32;
                let sy = claim.lo.h as f32 / entry.lo.h.max(1) as f32;
                let mut frames = vec![Affine::scaling(sx, sx)];
                if (sy / sx - 1.0).abs() > FRAME_SHAPE_TOLERANCE {
                    frames.push(Affine::scaling(sx, sy));
                }
                let listing_band = band(&entry.lo);
                let overlays: Vec<register::Overlay> = frames
                    .into_iter()
                    .map(|frame| {
                        register::Overlay::new((claim.lo.w, claim.lo.h), &entry.lo, frame, plans)
                    })
                    .collect();
                overlays
                    .iter()
                    .flat_map(|overlay| views.iter().map(move |view| (overlay, view)))
                    .filter_map(|(overlay, &(mirrored, spectrum, claim_band))| {
                        let (affine, _) = overlay.shift(spectrum, plans);
                        let (copied, textured, mut rect) =
                            copied_part(claim_band, &listing_band, &affine)?;
                        if mirrored {
                            // Back to the claim's own frame.
                            rect.x = (claim.lo.w as u32).saturating_sub(rect.x + rect.width);
                        }
                        Some((copied, textured, rect, index, mirrored))
                    })
                    // The frame cut and the listing as it is, unless
                    // stretched or mirrored matches more.
                    .reduce(|best, next| if next.0 > best.0 { next } else { best })
            })
            .collect::<Vec<_>>()
            .into_iter()
            // Most copied blocks first, then catalogue order.
            .max_by(|a, b| a.0.cmp(&b.0).then(b.3.cmp(&a.3)))?;
        let (copied, textured, rect, index, mirrored) = found;
        let entry = self.entries.get(index)?;
        let (x, y) = (rect.x as usize, rect.y as usize);
        let corners = [x, y, x + rect.width as usize, y + rect.height as usize];
        let region = in_claim_frame(corners, (claim.lo.w, claim.lo.h), placement);
        let name = entry.name.as_deref().map(|n| escape_untrusted(n, 120));
        let label = name.unwrap_or_else(|| format!("#{index}"));
        let (as_is, as_is_zh) = if mirrored {
            (", mirrored", "（左右翻转）")
        } else {
            ("", "")
        };
        let (x, y, w, h) = (region.x, region.y, region.width, region.height);
        Some(
            Finding::new(
                DetectorKind::Reference,
                "reference.partial_copy",
                0.9,
                Class::Edited,
                format!(
                    "Part of this photo, ({x}, {y}, {w}x{h}), shows the same picture as the merchant's reference photo {label}{as_is} ({copied} of its {textured} detailed blocks match), while the rest of the photo does not: the listing's subject may have been cut out and placed in a new scene, or the photo may be a collage. Compare the two."
                ),
                format!(
                    "这张图片的一部分 ({x}, {y}, {w}x{h}) 与商家商品图 {label}{as_is_zh} 的画面相同（{textured} 个有细节的图块中 {copied} 个一致），其余部分则不同：可能是把商品图中的商品抠出放进了新场景，也可能是拼图。请对比两张图片。"
                ),
            )
            .with_region(region),
        )
    }

    fn conclude(
        &self,
        claim: &Claim,
        original: &RgbView<'_>,
        best: Option<Candidate>,
        placement: Placement,
        deadline: &Deadline,
    ) -> Comparison {
        let Some(best) = best else {
            return no_match(0.0);
        };
        if !best.is_same_scene() {
            return no_match(best.similarity);
        }
        let Some(entry) = self.entries.get(best.index) else {
            return no_match(0.0);
        };
        let ref_hi = &best.view.hi;
        let (claim_small, affine_hi, affine_cmp) = at_change_scale(claim, &best, MAX_UPSAMPLING);
        let claim_cmp = claim_small.as_ref().unwrap_or(&claim.hi);
        let claim_planes = Plane::channels(claim_cmp);
        let ref_planes = Plane::channels(ref_hi);
        // The finer thin-line pass is a step of its own (up to a few
        // hundred ms on a large copy): past the deadline the map stays at
        // the working scale, and the cut is reported.
        let finer = if deadline.expired() {
            None
        } else {
            finer_pair(
                &claim.hi,
                original,
                entry,
                &best,
                &affine_hi,
                claim_cmp.dimensions(),
            )
        };
        let map = change::change_map(&claim_planes, &ref_planes, &affine_cmp, finer.as_ref());

        // The transform in original pixels (reference → claim).
        let claim_to_orig = per_axis_scaling(
            (claim.width as usize, claim.height as usize),
            claim.hi.dimensions(),
        );
        let orig_to_ref =
            Affine::translation(-(best.view.origin.0 as f32), -(best.view.origin.1 as f32))
                .compose(&per_axis_scaling(
                    (best.view.source.0 as usize, best.view.source.1 as usize),
                    (entry.width, entry.height),
                ));
        let full = claim_to_orig.compose(&affine_hi.compose(&orig_to_ref));
        let transform = Transform {
            scale: full.scale(),
            aspect: full.aspect(),
            rotation_deg: full.m[2].atan2(full.m[0]).to_degrees(),
            // With a mirror, the map acts on the mirrored reference
            // (x → width - x): the origin lands at the claim's `t` after
            // the mirror is applied.
            dx: full.t[0] + placement.origin.0 as f32,
            dy: full.t[1] + placement.origin.1 as f32,
            mirrored: best.mirrored,
        };

        let name = entry.name.as_deref().map(|n| escape_untrusted(n, 120));
        let label = name.clone().unwrap_or_else(|| format!("#{}", best.index));
        let regions: Vec<Region> = map
            .blobs
            .iter()
            .map(|b| in_claim_frame([b.x0, b.y0, b.x1, b.y1], (map.w, map.h), placement))
            .collect();
        let changed = !regions.is_empty();
        let boxes = regions
            .iter()
            .take(MAX_REGIONS)
            .map(|r| format!("({}, {}, {}x{})", r.x, r.y, r.width, r.height))
            .collect::<Vec<_>>()
            .join(", ");
        let union = regions
            .iter()
            .skip(1)
            .fold(regions.first().copied(), |u, r| {
                let u = u?;
                let x1 = (u.x + u.width).max(r.x + r.width);
                let y1 = (u.y + u.height).max(r.y + r.height);
                let (x0, y0) = (u.x.min(r.x), u.y.min(r.y));
                Some(Region {
                    x: x0,
                    y: y0,
                    width: x1 - x0,
                    height: y1 - y0,
                })
            });
        let matched = ReferenceMatch {
            derived: true,
            similarity: crate::clamp01(best.similarity),
            index: Some(best.index),
            path: name,
            transform: Some(transform),
            changed_fraction: if changed { map.changed_fraction } else { 0.0 },
            palette: entry.palette || crate::analyzer::is_palette(original.as_raw()),
        };
        // Measured where the claim is unchanged: damage painted over much
        // of a copy must not hide that the rest keeps the listing's detail.
        // Measured only for a copy: a match short of one is in outline only.
        let fine = best
            .is_derived()
            .then(|| fine_similarity(claim, &best, Some(&map), 1.0))
            .flatten();
        if !best.is_derived() || fine.is_none_or(|f| f < FINE_CONFIRMED) {
            return same_scene_only(matched, fine, &label, union.map(|u| (u, boxes)));
        }
        let mut findings = Vec::new();
        if let Some(union) = union {
            let pct = map.changed_fraction * 100.0;
            findings.push(
                Finding::new(
                    DetectorKind::Reference,
                    "reference.derived_edited",
                    0.99,
                    Class::Edited,
                    format!(
                        "This photo is a modified copy of the merchant's reference photo {label} (similarity {:.2}); {} changed region(s), {pct:.1}% of the area, at {boxes}.",
                        best.similarity,
                        regions.len()
                    ),
                    format!(
                        "这张图片是商家商品图 {label} 的修改版本（相似度 {:.2}），改动区域共 {} 处，占画面 {pct:.1}%，位置：{boxes}。",
                        best.similarity,
                        regions.len()
                    ),
                )
                .with_region(union),
            );
            for (r, b) in regions.iter().zip(&map.blobs).take(MAX_REGIONS) {
                // Say how it differs: a reviewer looks for painted colour
                // and for a smoothed surface in different ways.
                let (how, how_zh) = if b.texture_share > 0.5 {
                    (
                        "its fine texture is gone (smoothed or filled in) while its colour is about the same",
                        "细节纹理消失（被涂抹或填补），颜色基本不变",
                    )
                } else {
                    ("its colour or shapes changed", "颜色或形状被改动")
                };
                findings.push(
                    Finding::new(
                        DetectorKind::Reference,
                        "reference.changed_region",
                        (0.8 + 0.1 * b.strength).min(0.95),
                        Class::Edited,
                        format!(
                            "Region ({}, {}, {}x{}) differs from the merchant's reference photo {label}: {how}.",
                            r.x, r.y, r.width, r.height
                        ),
                        format!(
                            "区域 ({}, {}, {}x{}) 与商家商品图 {label} 不同：{how_zh}，是改动过的部分。",
                            r.x, r.y, r.width, r.height
                        ),
                    )
                    .with_region(*r),
                );
            }
        } else {
            findings.push(Finding::new(
                DetectorKind::Reference,
                "reference.derived_unchanged",
                best.similarity,
                Class::None,
                format!(
                    "This photo is the merchant's own reference photo {label} (similarity {:.2}), without changes: the buyer submitted the merchant's photo.",
                    best.similarity
                ),
                format!(
                    "这张图片就是商家自己的商品图 {label}（相似度 {:.2}），没有改动：买家提交的是商家的原图。",
                    best.similarity
                ),
            ));
        }
        let heatmap = change_heatmap(&map, placement);
        Comparison {
            matched,
            findings,
            map: Some(heatmap),
        }
    }
}

/// A listing the claim matches at the registration scale but not closely
/// enough for a copy ([`SAME_SCENE_SIMILARITY`]) or not in its fine detail
/// ([`FINE_CONFIRMED`]): a new photo of the same product from the same
/// spot shares the listing's outline and layout, not its texture and
/// noise, and so does a copy redrawn by an AI tool or degraded beyond
/// comparison. Neither is called a copy: the match is not `derived`, its
/// differences (`changes`: the regions' union and their boxes) send the
/// claim to a reviewer as local evidence, never flag it, and no change map
/// is drawn (the match keeps its `changed_fraction`).
fn same_scene_only(
    matched: ReferenceMatch,
    fine: Option<f32>,
    label: &str,
    changes: Option<(Region, String)>,
) -> Comparison {
    let similarity = matched.similarity;
    let (detail, detail_zh) = match fine {
        _ if similarity < DERIVED_SIMILARITY => (
            format!("not closely enough for a copy (a copy reaches {DERIVED_SIMILARITY:.2})"),
            format!("相似程度不足以认定为副本（副本可达 {DERIVED_SIMILARITY:.2}）"),
        ),
        Some(f) => (
            format!("not in its fine detail (fine similarity {f:.2})"),
            format!("细节不一致（细节相似度 {f:.2}）"),
        ),
        None => (
            "it holds too little fine detail away from straight edges to tell".to_string(),
            "除直线边缘外细节太少，无法判断".to_string(),
        ),
    };
    let en = format!(
        "This photo shows the same scene as the merchant's reference photo {label} in outline (similarity {similarity:.2}), but {detail}: it may be a new photo of the same product taken from the same spot, or a copy redrawn by an AI tool (which regenerates every pixel) or too faint or degraded to compare, so it is not treated as a copy."
    );
    let zh = format!(
        "这张图片在轮廓上与商家商品图 {label} 是同一画面（相似度 {similarity:.2}），但{detail_zh}：可能是在同一位置对同一商品新拍的照片，也可能是被 AI 工具重绘（每个像素都重新生成）或细节太弱、损坏到无法比对的副本，因此不认定为副本。"
    );
    let finding = match changes {
        Some((union, boxes)) => Finding::new(
            DetectorKind::Reference,
            "reference.same_scene_changed",
            0.9,
            Class::Edited,
            format!("{en} It differs from the listing at {boxes}: compare the two."),
            format!("{zh} 与商品图不同的位置：{boxes}，请对比两张图片。"),
        )
        .with_region(union),
        None => Finding::new(
            DetectorKind::Reference,
            "reference.same_scene",
            0.0,
            Class::None,
            en,
            zh,
        ),
    };
    Comparison {
        matched: ReferenceMatch {
            derived: false,
            ..matched
        },
        findings: vec![finding],
        map: None,
    }
}

/// The box `[x0, y0, x1, y1]` in the pixels of a working plane of `plane`
/// size (covering the compared pixels) as a region of the claim's frame.
fn in_claim_frame(
    [x0, y0, x1, y1]: [usize; 4],
    plane: (usize, usize),
    placement: Placement,
) -> Region {
    let (width, height) = placement.size;
    let (fx, fy) = (
        width as f32 / plane.0.max(1) as f32,
        height as f32 / plane.1.max(1) as f32,
    );
    let (left, top) = (
        (x0 as f32 * fx).floor() as u32,
        (y0 as f32 * fy).floor() as u32,
    );
    let right = ((x1 as f32 * fx).ceil() as u32).min(width);
    let bottom = ((y1 as f32 * fy).ceil() as u32).min(height);
    Region {
        x: left + placement.origin.0,
        y: top + placement.origin.1,
        width: right.saturating_sub(left).max(1),
        height: bottom.saturating_sub(top).max(1),
    }
}

/// The footprint of a registered listing in the claim part `region` (of
/// which `claim` was prepared), as a region of the claim's frame, inset by
/// [`FOOTPRINT_INSET`] of its sides and at least 2 px; `None` when
/// nothing of it is left.
fn footprint(candidate: &Candidate, claim: &Claim, region: Region) -> Option<Region> {
    let (w, h) = (candidate.view.lo.w as f32, candidate.view.lo.h as f32);
    let corners =
        [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)].map(|(x, y)| candidate.affine.apply(x, y));
    let (kx, ky) = (
        region.width as f32 / claim.lo.w.max(1) as f32,
        region.height as f32 / claim.lo.h.max(1) as f32,
    );
    let xs = corners.map(|c| c.0 * kx);
    let ys = corners.map(|c| c.1 * ky);
    let (x0, x1) = (
        xs.iter().copied().fold(f32::MAX, f32::min),
        xs.iter().copied().fold(f32::MIN, f32::max),
    );
    let (y0, y1) = (
        ys.iter().copied().fold(f32::MAX, f32::min),
        ys.iter().copied().fold(f32::MIN, f32::max),
    );
    let inset_x = (FOOTPRINT_INSET * (x1 - x0)).max(2.0);
    let inset_y = (FOOTPRINT_INSET * (y1 - y0)).max(2.0);
    let left = (x0 + inset_x).ceil().max(0.0);
    let top = (y0 + inset_y).ceil().max(0.0);
    let right = (x1 - inset_x).floor().min(region.width as f32);
    let bottom = (y1 - inset_y).floor().min(region.height as f32);
    if !(right - left >= 16.0 && bottom - top >= 16.0) {
        return None;
    }
    Some(Region {
        x: region.x + left as u32,
        y: region.y + top as u32,
        width: (right - left) as u32,
        height: (bottom - top) as u32,
    })
}

/// The map `a` → `b` of two frames scaled per axis, from their sizes.
fn per_axis_scaling(a: (usize, usize), b: (u32, u32)) -> Affine {
    Affine::scaling(
        a.0 as f32 / b.0.max(1) as f32,
        a.1 as f32 / b.1.max(1) as f32,
    )
}

/// The candidate's registration lifted to the change-map scale: the claim
/// downscaled to the view's resolution when it is finer by more than
/// `max_upsampling` (`None`: the claim's stored copy as is), the map view
/// `hi` → claim `hi`, and the map view `hi` → the claim at the comparison
/// scale.
fn at_change_scale(
    claim: &Claim,
    candidate: &Candidate,
    max_upsampling: f32,
) -> (Option<RgbImage>, Affine, Affine) {
    let affine_hi = view_to_claim_hi(claim, candidate);
    let upsampling = affine_hi.scale();
    if upsampling <= max_upsampling {
        return (None, affine_hi, affine_hi);
    }
    let (small, down) = downscaled(&claim.hi, upsampling);
    (Some(small), affine_hi, down.compose(&affine_hi))
}

/// Long side of the claim for the thin-line search at a finer scale
/// ([`change::Finer`]): the reference's detail copy is no finer.
const FINER: u32 = DETAIL;
/// The finer scale is searched only when it is at least this much finer
/// than the compared one: a 640-px claim (a listing's usual size) is.
const FINER_MIN_GAIN: f32 = 1.25;

/// The claim (from its `original` pixels; `claim_hi` at the working scale)
/// and the whole reference at up to [`FINER`] px, and the map between them
/// (reference → claim), for the thin-line search; `None` for a window view,
/// a reference kept without a detail copy, or when the pair is not
/// [`FINER_MIN_GAIN`] times finer than the claim `compared` at the working
/// scale. `affine_hi` maps the view's `hi` onto the claim's `hi`.
fn finer_pair(
    claim_hi: &RgbImage,
    original: &RgbView<'_>,
    entry: &Entry,
    candidate: &Candidate,
    affine_hi: &Affine,
    compared: (u32, u32),
) -> Option<change::Finer> {
    if !candidate.view.is_whole() {
        return None;
    }
    let detail = entry.detail.as_ref()?;
    let (cw, ch) = original.dimensions();
    let least = FINER_MIN_GAIN * compared.0.max(compared.1) as f32;
    if (cw.max(ch) as f32) < least {
        return None;
    }
    let claim = shrink(original, FINER);
    let (hw, hh) = candidate.view.hi.dimensions();
    let (fw, fh) = claim.dimensions();
    let affine = per_axis_scaling((fw as usize, fh as usize), claim_hi.dimensions())
        .compose(affine_hi)
        .compose(&per_axis_scaling(
            (hw as usize, hh as usize),
            detail.dimensions(),
        ));
    // As at the working scale, the claim is never compared with an
    // upsampled reference.
    let (claim, affine) = if affine.scale() > MAX_UPSAMPLING {
        let (small, down) = downscaled(&claim, affine.scale());
        (small, down.compose(&affine))
    } else {
        (claim, affine)
    };
    if (claim.width().max(claim.height()) as f32) < least {
        return None;
    }
    let reference = if candidate.mirrored {
        Plane::channels(&image::imageops::flip_horizontal(detail))
    } else {
        Plane::channels(detail)
    };
    Some(change::Finer {
        claim: Plane::channels(&claim),
        reference,
        affine,
    })
}

/// The candidate's registration as the map of its view's `hi` onto the
/// claim's `hi`; its scale is how much finer the claim's stored copy is.
fn view_to_claim_hi(claim: &Claim, candidate: &Candidate) -> Affine {
    let view = &candidate.view;
    let claim_up = per_axis_scaling(
        (claim.hi.width() as usize, claim.hi.height() as usize),
        (claim.lo.w as u32, claim.lo.h as u32),
    );
    let ref_down = per_axis_scaling((view.lo.w, view.lo.h), view.hi.dimensions());
    claim_up.compose(&candidate.affine.compose(&ref_down))
}

/// The candidate a claim is matched to. A reference the claim is derived
/// from beats any that is not (a detail crop lying inside the claim
/// registers well but covers too little of it). Of several, the one that
/// also matches its fine texture (one too plain to measure ranks by its
/// registration similarity: it must not lose to a wrong listing's faint
/// chance correlation), compared at the coarsest of their resolutions: at
/// its own, a thumbnail of the listing looks smoother, so closer, than the
/// listing itself, and the change map at the thumbnail's scale misses a
/// thin crack. Of one photo stored at several sizes, the finest then wins
/// the tie ([`FINE_TIE`]).
fn choose_best<'c>(claim: &Claim, verified: &'c [Candidate]) -> Option<&'c Candidate> {
    let derived: Vec<&Candidate> = verified.iter().filter(|c| c.is_derived()).collect();
    match derived.as_slice() {
        // None is a copy: one that lines up as the same scene (enough
        // overlap) beats a higher similarity over too small an overlap,
        // which `conclude` would call no match.
        [] => first_best(
            verified
                .iter()
                .filter(|c| c.is_same_scene())
                .map(|c| (c.similarity, c)),
        )
        .or_else(|| first_best(verified.iter().map(|c| (c.similarity, c)))),
        [only] => Some(*only),
        several => {
            let upsampling = |c: &Candidate| view_to_claim_hi(claim, c).scale();
            let fine_at = |c: &Candidate, scale: f32| {
                fine_similarity(claim, c, None, scale)
                    .filter(|f| f.is_finite())
                    .unwrap_or(c.similarity)
            };
            // Those far behind at their own scale are other photos (a
            // second camera at the same spot: 0.65-0.84 against the
            // source's 0.99, a review's Zwinger copies); a common scale
            // coarse enough for a thumbnail would bring them close.
            let own: Vec<f32> = several.iter().map(|c| fine_at(c, 1.0)).collect();
            let lead = own.iter().copied().fold(f32::MIN, f32::max);
            let several: Vec<&Candidate> = several
                .iter()
                .zip(&own)
                .filter(|(_, &f)| f >= lead - FINE_SHORTLIST)
                .map(|(c, _)| *c)
                .collect();
            let common = several.iter().map(|c| upsampling(c)).fold(1.0f32, f32::max);
            let fine: Vec<f32> = several.iter().map(|c| fine_at(c, common)).collect();
            let top = fine.iter().copied().fold(f32::MIN, f32::max);
            // The finest view among those within FINE_TIE of the best.
            first_best(
                several
                    .iter()
                    .zip(&fine)
                    .filter(|(_, &f)| f >= top - FINE_TIE)
                    .map(|(c, _)| (-upsampling(c), *c)),
            )
        }
    }
}

/// The item of the highest key, the first of equal ones.
fn first_best<'a, T>(items: impl Iterator<Item = (f32, &'a T)>) -> Option<&'a T> {
    items
        .fold(None::<(f32, &T)>, |best, (key, item)| match best {
            Some((b, _)) if b >= key => best,
            _ => Some((key, item)),
        })
        .map(|(_, item)| item)
}

/// `image` shrunk by `factor` (≥ 1; as it is below that) and the map of its
/// pixel coordinates onto the shrunk copy's.
fn downscaled(image: &RgbImage, factor: f32) -> (RgbImage, Affine) {
    let (w, h) = image.dimensions();
    if factor <= 1.0 {
        return (image.clone(), Affine::scaling(1.0, 1.0));
    }
    let (sw, sh) = (
        ((w as f32 / factor).round() as u32).max(1),
        ((h as f32 / factor).round() as u32).max(1),
    );
    let small = image::imageops::resize(image, sw, sh, image::imageops::FilterType::Triangle);
    (small, per_axis_scaling((sw as usize, sh as usize), (w, h)))
}

/// The similarity of a registered candidate at the change-map scale, finer
/// than the registration's: two photos of a distant building from nearly
/// the same spot (two cameras at the Zwinger in the development corpus)
/// align at 256 px as well as a crop aligns with its source (0.876 against
/// 0.871), but only the source matches the crop's fine texture. Never
/// upsampled, so that candidates stored at different scales compare alike.
/// Only blocks of texture, noise or corners count, not straight edges
/// ([`MAX_FINE_COHERENCE`]), nor, with a change map (`changed`), blocks
/// that hold changed pixels; `None` under [`MIN_FINE_BLOCKS`]. Compared
/// in the claim's frame at the coarser of the two resolutions (a finer
/// claim is shrunk to the view's scale; a finer view's band is warped onto
/// the claim's frame), or at `upsampling` times coarser than the claim's
/// stored copy when that is coarser still (both are then downscaled), so
/// that several candidates compare at one scale.
fn fine_similarity(
    claim: &Claim,
    candidate: &Candidate,
    changed: Option<&change::ChangeMap>,
    upsampling: f32,
) -> Option<f32> {
    let (small, affine_hi, own) = at_change_scale(claim, candidate, 1.0);
    let own_upsampling = affine_hi.scale();
    let (claim_plane, view_plane, affine) = if upsampling > own_upsampling.max(1.0) * 1.01 {
        let (claim_small, claim_down) = downscaled(&claim.hi, upsampling);
        let (view_small, view_down) = downscaled(&candidate.view.hi, upsampling / own_upsampling);
        let affine = claim_down.compose(&affine_hi.compose(&view_down.inverse()?));
        (Plane::luma(&claim_small), Plane::luma(&view_small), affine)
    } else {
        let claim_plane = Plane::luma(small.as_ref().unwrap_or(&claim.hi));
        (claim_plane, Plane::luma(&candidate.view.hi), own)
    };
    let claim_band = band(&claim_plane);
    let reference = band(&view_plane);
    let inv = affine.inverse()?;
    let (warped, valid) = plane::warp(&reference, &inv, claim_band.w, claim_band.h);
    let (blocks, _) = correlate_blocks(&claim_band, &warped, &valid, FINE_MIN_VARIANCE, true);
    let (gw, gh) = (
        (blocks.grid_width as usize).max(1),
        blocks.grid_height as usize,
    );
    // An edge is straight in the listing even where the claim's compression
    // rings around it.
    let coherence: Vec<f32> = block_coherence(&claim_band, gw, gh)
        .into_iter()
        .zip(block_coherence(&warped, gw, gh))
        .map(|(a, b)| a.max(b))
        .collect();
    let keep = |i: usize| {
        coherence[i] <= MAX_FINE_COHERENCE
            && changed.is_none_or(|map| {
                // The block's pixels in the change map's plane (both planes
                // cover the claim's frame).
                let (bx, by) = ((i % gw) * BLOCK, (i / gw) * BLOCK);
                let to_map = |v: usize, from: usize, to: usize| v * to / from.max(1);
                let (x0, x1) = (
                    to_map(bx, claim_band.w, map.w),
                    to_map(bx + BLOCK, claim_band.w, map.w),
                );
                let (y0, y1) = (
                    to_map(by, claim_band.h, map.h),
                    to_map(by + BLOCK, claim_band.h, map.h),
                );
                !(y0..y1.min(map.h))
                    .any(|y| (x0..x1.min(map.w)).any(|x| map.values[y * map.w + x] >= 0.5))
            })
    };
    summarise(&blocks, MIN_FINE_BLOCKS, keep)
}

/// Per [`BLOCK`]-px block of `plane` (`gw x gh` blocks, row-major), the
/// coherence of its structure tensor, `((Jxx - Jyy)^2 + 4 Jxy^2) / (Jxx +
/// Jyy)^2` in [0, 1] (Bigün & Granlund 1987; Kass & Witkin 1987): near 1
/// where one straight edge or stripe dominates, low for texture, noise and
/// corners; 1 where the block is flat.
fn block_coherence(plane: &Plane, gw: usize, gh: usize) -> Vec<f32> {
    let mut out = vec![1.0; gw * gh];
    for by in 0..gh {
        for bx in 0..gw {
            let (mut jxx, mut jyy, mut jxy) = (0.0f32, 0.0f32, 0.0f32);
            for y in (by * BLOCK).max(1)..((by + 1) * BLOCK).min(plane.h.saturating_sub(1)) {
                for x in (bx * BLOCK).max(1)..((bx + 1) * BLOCK).min(plane.w.saturating_sub(1)) {
                    let at = |x: usize, y: usize| plane.data[y * plane.w + x];
                    let gx = at(x + 1, y) - at(x - 1, y);
                    let gy = at(x, y + 1) - at(x, y - 1);
                    jxx += gx * gx;
                    jyy += gy * gy;
                    jxy += gx * gy;
                }
            }
            let trace = jxx + jyy;
            if trace > 1e-6 {
                out[by * gw + bx] = ((jxx - jyy).powi(2) + 4.0 * jxy * jxy) / (trace * trace);
            }
        }
    }
    out
}

/// Whether an image file stores its pixels through a palette: a GIF, or a
/// PNG of colour type 3 (PNG specification, 11.2.2 IHDR).
fn stored_with_palette(bytes: &[u8], format: crate::decode::Format) -> bool {
    match format {
        crate::decode::Format::Gif => true,
        crate::decode::Format::Png => {
            bytes.get(12..16) == Some(b"IHDR") && bytes.get(25) == Some(&3)
        }
        _ => false,
    }
}

/// Whether reference `index` (mirrored or not) was registered against its
/// whole frame among `tried`; with `turn_found`, only by a registration
/// that recovers a turn (Fourier-Mellin), not by a `Window` refinement.
fn tried_whole(tried: &[Candidate], index: usize, mirrored: bool, turn_found: bool) -> bool {
    tried.iter().any(|c| {
        (c.index, c.mirrored) == (index, mirrored)
            && c.view.is_whole()
            && !(turn_found && c.alignment == Alignment::Window)
    })
}

fn no_match(similarity: f32) -> Comparison {
    Comparison {
        matched: ReferenceMatch {
            derived: false,
            similarity: crate::clamp01(similarity),
            ..ReferenceMatch::default()
        },
        findings: vec![Finding::new(
            DetectorKind::Reference,
            "reference.no_match",
            0.0,
            Class::None,
            format!("No reference photo matches this photo (best similarity {similarity:.2})."),
            format!("没有与这张图片匹配的商家商品图（最高相似度 {similarity:.2}）。"),
        )],
        map: None,
    }
}

fn prepare(rgb: &RgbView<'_>, plans: &FftPlans) -> Claim {
    let hi = shrink(rgb, HI);
    let lo = Plane::luma(&shrink(&hi, LO));
    let mirrored = lo.flipped();
    Claim {
        width: rgb.width(),
        height: rgb.height(),
        spectrum: register::ClaimSpectrum::new(&lo, plans),
        hash: hash::whole(&lo),
        hash_mirrored: hash::whole(&mirrored),
        hashes_turned: std::iter::successors(Some(lo.quarter_turned()), |p| {
            Some(p.quarter_turned())
        })
        .take(3)
        .flat_map(|turned| {
            [
                (hash::whole(&turned), false),
                (hash::whole(&turned.flipped()), true),
            ]
        })
        .collect(),
        thumbs: hash::ClaimThumbs::new(&lo),
        thumbs_mirrored: hash::ClaimThumbs::new(&mirrored),
        lo_band: band(&lo),
        hi,
        lo,
    }
}

/// The largest group of blocks of the claim's band that show the listing's
/// band laid over it by `affine`: `(blocks, textured blocks, box in the
/// working plane)`, when it is large enough to report.
fn copied_part(
    claim_band: &Plane,
    listing_band: &Plane,
    affine: &Affine,
) -> Option<(usize, usize, Region)> {
    let (blocks, _) = block_correlations(claim_band, listing_band, affine)?;
    let textured = blocks.values.iter().filter(|&&r| r > NOT_MEASURED).count();
    let group = cell_groups(&blocks, COPIED_BLOCK)
        .into_iter()
        .max_by_key(Vec::len)?;
    let enough = group.len() >= PARTIAL_MIN_BLOCKS
        && group.len() as f32 >= PARTIAL_MIN_SHARE * textured as f32;
    enough.then(|| (group.len(), textured, cells_box(&blocks, &group)))
}

/// Difference of Gaussians: the band the similarity looks at (periods of
/// roughly 4 to 12 px at 256 px), which JPEG at quality 70 keeps and a change
/// of viewpoint moves.
fn band(p: &Plane) -> Plane {
    let fine = p.blurred(0.7);
    let coarse = p.blurred(2.0);
    Plane {
        w: p.w,
        h: p.h,
        data: fine
            .data
            .iter()
            .zip(&coarse.data)
            .map(|(a, b)| a - b)
            .collect(),
    }
}

/// Similarity in [0, 1] of two band-passed lumas ([`band`]) aligned by
/// `affine`, and the overlap fraction: of the block NCC over textured blocks
/// fully covered by the reference, the median or the upper quartile less
/// [`UPPER_QUARTILE_DISCOUNT`], whichever is higher (the global NCC when too
/// few blocks qualify).
fn similarity(claim: &Plane, reference: &Plane, affine: &Affine) -> (f32, f32) {
    let Some((blocks, overlap)) = block_correlations(claim, reference, affine) else {
        return (0.0, 0.0);
    };
    let s = summarise(&blocks, 6, |_| true)
        .unwrap_or_else(|| register::ncc(claim, reference, affine, 1).0);
    (crate::clamp01(s), overlap)
}

/// Of the measured blocks for which `keep` holds (by index), the median or
/// the upper quartile less [`UPPER_QUARTILE_DISCOUNT`], whichever is
/// higher; `None` under `min` blocks.
fn summarise(blocks: &Heatmap, min: usize, keep: impl Fn(usize) -> bool) -> Option<f32> {
    let mut scores: Vec<f32> = blocks
        .values
        .iter()
        .enumerate()
        .filter(|&(i, &r)| r > NOT_MEASURED && keep(i))
        .map(|(_, &r)| r)
        .collect();
    (scores.len() >= min.max(1)).then(|| {
        let median = quantile_in_place(&mut scores, 0.5);
        let upper = quantile_in_place(&mut scores, 0.75);
        median.max(upper - UPPER_QUARTILE_DISCOUNT)
    })
}

/// Band variance under which a claim's block is flat and says nothing to
/// [`block_correlations`].
const MIN_BAND_VARIANCE: f32 = 1.0;
/// Block value of [`block_correlations`] for a block that says nothing.
const NOT_MEASURED: f32 = f32::MIN;

/// The NCC of two band-passed planes aligned by `affine` (reference →
/// claim), per [`BLOCK`]-px block of the claim's plane, as a map of
/// `BLOCK`-px cells ([`NOT_MEASURED`] where the block is flat or not fully
/// covered by the reference), and the share of the claim the reference
/// covers. `None` when `affine` cannot be inverted.
fn block_correlations(claim: &Plane, reference: &Plane, affine: &Affine) -> Option<(Heatmap, f32)> {
    let inv = affine.inverse()?;
    let (warped, valid) = plane::warp(reference, &inv, claim.w, claim.h);
    Some(correlate_blocks(
        claim,
        &warped,
        &valid,
        MIN_BAND_VARIANCE,
        false,
    ))
}

/// [`block_correlations`] of `claim` with a reference already warped into
/// its frame (`valid` where the reference covers it); with `both`, a block
/// must reach `min_variance` in the reference too.
fn correlate_blocks(
    claim: &Plane,
    warped: &Plane,
    valid: &[bool],
    min_variance: f32,
    both: bool,
) -> (Heatmap, f32) {
    let overlap = valid.iter().filter(|&&v| v).count() as f32 / valid.len().max(1) as f32;
    let mut blocks = Heatmap::zeros(claim.w as u32, claim.h as u32, BLOCK as u32);
    blocks.values.fill(NOT_MEASURED);
    let gw = blocks.grid_width as usize;
    for by in 0..claim.h / BLOCK {
        for bx in 0..claim.w / BLOCK {
            let (mut n, mut sa, mut sb, mut saa, mut sbb, mut sab) =
                (0.0f32, 0.0, 0.0, 0.0, 0.0, 0.0);
            let mut full = true;
            for y in by * BLOCK..(by + 1) * BLOCK {
                for x in bx * BLOCK..(bx + 1) * BLOCK {
                    let i = y * claim.w + x;
                    full &= valid[i];
                    let (a, b) = (claim.data[i], warped.data[i]);
                    n += 1.0;
                    sa += a;
                    sb += b;
                    saa += a * a;
                    sbb += b * b;
                    sab += a * b;
                }
            }
            let va = saa - sa * sa / n;
            let vb = sbb - sb * sb / n;
            // Blocks with almost no band energy (flat areas) say nothing.
            if !full || va / n < min_variance || (both && vb / n < min_variance) {
                continue;
            }
            blocks.values[by * gw + bx] = if vb > 1e-6 {
                (sab - sa * sb / n) / (va * vb).sqrt()
            } else {
                0.0
            };
        }
    }
    (blocks, overlap)
}

/// The change map as a [`Heatmap`] over the claim's original pixels, with
/// cells about one change-map pixel wide.
fn change_heatmap(map: &change::ChangeMap, placement: Placement) -> Heatmap {
    let (width, height) = placement.size;
    let (ox, oy) = placement.origin;
    let cell = width.max(height).div_ceil(HI).max(1);
    let mut out = Heatmap::zeros(placement.frame.0, placement.frame.1, cell);
    let gw = out.grid_width as usize;
    for (i, v) in out.values.iter_mut().enumerate() {
        // The cell's centre in the compared region's pixels (outside it: 0).
        let cx = ((i % gw) as u32 * cell) as f32 + cell as f32 / 2.0 - ox as f32;
        let cy = ((i / gw) as u32 * cell) as f32 + cell as f32 / 2.0 - oy as f32;
        if cx < 0.0 || cy < 0.0 || cx >= width as f32 || cy >= height as f32 {
            continue;
        }
        let mx = ((cx * map.w as f32 / width.max(1) as f32) as usize).min(map.w.saturating_sub(1));
        let my = ((cy * map.h as f32 / height.max(1) as f32) as usize).min(map.h.saturating_sub(1));
        *v = map.values.get(my * map.w + mx).copied().unwrap_or(0.0);
    }
    out
}

/// Where the compared pixels lie: `size` pixels at `origin` of a `frame`
/// (the whole claim, or what lies inside its margins).
#[derive(Debug, Clone, Copy)]
struct Placement {
    origin: (u32, u32),
    size: (u32, u32),
    frame: (u32, u32),
}

impl Placement {
    /// The pixels of `region` of a `frame`.
    fn within(region: Region, frame: (u32, u32)) -> Self {
        Placement {
            origin: (region.x, region.y),
            size: (region.width, region.height),
            frame,
        }
    }

    fn whole(width: u32, height: u32) -> Self {
        Placement {
            origin: (0, 0),
            size: (width, height),
            frame: (width, height),
        }
    }
}

/// Merge the change map into the fused heatmap of a derived claim: the
/// comparison with the source is direct evidence, so only its changed
/// regions stay flagged; the other detectors' values are kept below 0.5.
#[must_use]
pub(crate) fn merge_heatmap(fused: &Heatmap, change: &Heatmap) -> Heatmap {
    let mut out = change.clone();
    let (gw, cell, size) = (out.grid_width, out.cell, (out.width, out.height));
    for (i, v) in out.values.iter_mut().enumerate() {
        let (x, y) = crate::report::cell_centre(i, gw, cell, size);
        *v = v.max(fused.at(x, y).min(UNFLAGGED));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w x h` frame: a plain light background, and a product in the
    /// middle half textured by `seed` (or a whole-frame texture when
    /// `studio` is false).
    fn photo(seed: u32, studio: bool) -> RgbImage {
        let (w, h) = (320u32, 240u32);
        let f = 3.0 + seed as f32 * 0.7;
        RgbImage::from_fn(w, h, |x, y| {
            let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
            let inside = !studio || ((0.3..0.7).contains(&u) && (0.25..0.75).contains(&v));
            let c = if inside {
                128.0 + 60.0 * (u * f * 6.0 + seed as f32).sin() * (v * f * 4.0).cos()
            } else {
                235.0
            };
            image::Rgb([c as u8, (0.9 * c) as u8, (0.8 * c) as u8])
        })
    }

    fn blacked_out(mut img: RgbImage) -> RgbImage {
        for y in 70..150 {
            for x in 100..160 {
                img.put_pixel(x, y, image::Rgb([0, 0, 0]));
            }
        }
        img
    }

    fn candidate(refs: &References, claim: &RgbImage) -> Option<usize> {
        let view = RgbView::from_raw(claim.width(), claim.height(), claim.as_raw().as_slice())?;
        let claim = prepare(&view, &FftPlans::default());
        refs.signature_candidate(&claim, &[]).map(|c| c.1)
    }

    /// A candidate with the given registration figures (its view and
    /// transform are placeholders: choosing among non-copies reads only
    /// these).
    fn registered(index: usize, similarity: f32, overlap: f32) -> Candidate {
        Candidate {
            index,
            mirrored: false,
            alignment: Alignment::Spectral,
            view: View {
                hi: RgbImage::new(8, 8),
                lo: Plane::new(8, 8),
                origin: (0, 0),
                source: (8, 8),
                window: [0.0, 0.0, 8.0, 8.0],
            },
            affine: Affine::scaling(1.0, 1.0),
            similarity,
            overlap,
        }
    }

    #[test]
    fn without_a_copy_the_same_scene_beats_a_higher_similarity_over_too_little() {
        let photo = photo(1, false);
        let view = RgbView::from_raw(photo.width(), photo.height(), photo.as_raw().as_slice())
            .expect("view");
        let claim = prepare(&view, &FftPlans::default());
        let small_overlap = registered(0, 0.65, MIN_OVERLAP * 0.5);
        let same_scene = registered(1, 0.5, MIN_OVERLAP + 0.1);
        let unrelated = registered(2, 0.2, 1.0);
        assert!(!small_overlap.is_same_scene() && same_scene.is_same_scene());
        assert!(!same_scene.is_derived());
        let list = [small_overlap, same_scene, unrelated];
        assert_eq!(choose_best(&claim, &list).map(|c| c.index), Some(1));
        // With no same-scene candidate, the highest similarity (for the
        // "best similarity" a no-match reports).
        assert_eq!(choose_best(&claim, &list[..1]).map(|c| c.index), Some(0));
        assert_eq!(
            choose_best(&claim, &[registered(2, 0.2, 1.0), registered(0, 0.65, 0.1)])
                .map(|c| c.index),
            Some(0)
        );
    }

    #[test]
    fn the_signature_names_a_listing_only_when_it_stands_out() {
        for studio in [false, true] {
            let mut refs = References::new();
            for seed in 0..12 {
                refs.push_image(&DynamicImage::ImageRgb8(photo(seed, studio)), None);
            }
            let found = candidate(&refs, &blacked_out(photo(5, studio)));
            if studio {
                // The background fills most cells the distance keeps: other
                // listings come nearly as close as the source (without the
                // ratio test the source would be named here, but by luck).
                assert_eq!(found, None);
            } else {
                assert_eq!(found, Some(5));
            }
        }
    }

    /// A copy at twice the compared scale gets the finer thin-line pass
    /// ([`finer_pair`]); once the deadline has passed it is skipped, and
    /// the cut is recorded, so the report lists the comparison as cut
    /// short.
    #[test]
    fn the_finer_pass_is_skipped_past_the_deadline() {
        let listing = image::imageops::resize(
            &photo(3, false),
            1280,
            960,
            image::imageops::FilterType::CatmullRom,
        );
        let mut refs = References::new();
        refs.push_image(&DynamicImage::ImageRgb8(listing.clone()), None);
        let Some(view) = RgbView::from_raw(1280, 960, listing.as_raw().as_slice()) else {
            panic!("view")
        };
        let plans = FftPlans::default();
        let claim = prepare(&view, &plans);
        let Some(entry) = refs.entries.first() else {
            panic!("no entry")
        };
        let whole = [0, 0, entry.lo.w, entry.lo.h];
        let Some(best) = refs.verify(&claim, (0, false, whole), Alignment::Spectral, &plans) else {
            panic!("not verified")
        };
        assert!(best.is_derived());
        let (small, affine_hi, _) = at_change_scale(&claim, &best, MAX_UPSAMPLING);
        let compared = small.as_ref().unwrap_or(&claim.hi).dimensions();
        assert!(finer_pair(&claim.hi, &view, entry, &best, &affine_hi, compared).is_some());

        let open = Deadline::none();
        let full = refs.conclude(
            &claim,
            &view,
            Some(best.clone()),
            Placement::whole(1280, 960),
            &open,
        );
        assert!(!open.was_cut());
        let past = Deadline::new(std::time::Instant::now(), 1);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let comparison = refs.conclude(
            &claim,
            &view,
            Some(best),
            Placement::whole(1280, 960),
            &past,
        );
        assert!(past.was_cut());
        // What the working scale says stands.
        assert_eq!(comparison.matched, full.matched);
    }
}
