//! Python inputs (path, bytes, numpy array, PIL image) turned into owned Rust
//! values while the GIL is held, so the analysis can run without it.

use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::DynamicImage;
use numpy::{PyArrayDescrMethods, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMemoryView, PyString, PyTuple};
use trueshot::metadata::RawMetadata;

/// One image, owned by Rust. Bytes and pixels sit behind `Arc`s so that a
/// report can keep them for `Report.to_html` without a copy.
#[derive(Clone)]
pub enum Input {
    /// A file to read (metadata and pixels).
    Path(PathBuf),
    /// An encoded file held in memory (metadata and pixels).
    Bytes(Arc<[u8]>),
    /// Decoded pixels, with the metadata the decoder kept apart from them
    /// (a PIL image's `info`; none for an array).
    Pixels(Arc<DynamicImage>, Arc<RawMetadata>),
}

/// What a report keeps of its input to draw the review page later. A file is
/// not kept in memory (a batch of reports over a folder would hold the whole
/// folder): its path and a digest are, and `to_html` reads it again and
/// refuses a file that changed since. Bytes and pixels are shared with the
/// caller's copy (`Arc`), so they cost nothing more than the input itself.
#[derive(Clone)]
pub enum Kept {
    /// A file, with the length and digest of the bytes that were analysed
    /// (or indexed, for a reference photo).
    Path {
        path: PathBuf,
        len: usize,
        digest: u64,
    },
    /// An encoded file in memory, or decoded pixels.
    Input(Input),
    /// Nothing: the report was unpickled, and a pickle carries the analysis
    /// only (see `Report.__reduce__`).
    Unpickled,
}

/// A digest to notice that a file changed between analysis and `to_html`.
/// `DefaultHasher::new()` is the same function for every instance in one
/// build, which is all this needs (it is never stored).
fn digest(bytes: &[u8]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// Read a file under `config`'s size limit, as `Analyzer::analyze_path` does
/// (regular files only, the read itself bounded).
pub fn read_file(path: &Path, config: &trueshot::Config) -> Result<Vec<u8>, trueshot::Error> {
    trueshot::decode::read_file(path, config.max_file_bytes)
}

impl Kept {
    /// The kept image decoded under `config`'s limits. A file is read again
    /// and must still hold the bytes that were analysed.
    pub fn decode(&self, config: &trueshot::Config) -> Result<DynamicImage, KeptError> {
        self.decode_with_orientation(config).map(|(image, _)| image)
    }

    /// [`Kept::decode`], with the EXIF orientation of the file the image was
    /// decoded from (`None` for pixels).
    pub fn decode_with_orientation(
        &self,
        config: &trueshot::Config,
    ) -> Result<(DynamicImage, Option<u16>), KeptError> {
        let decode = |bytes: &[u8]| -> Result<(DynamicImage, Option<u16>), trueshot::Error> {
            let format = trueshot::decode::sniff(bytes)?;
            let image = trueshot::decode::decode(bytes, format, config)?;
            Ok((image, trueshot::decode::exif_orientation(bytes)))
        };
        match self {
            Kept::Path {
                path,
                len,
                digest: d,
            } => {
                let bytes = read_file(path, config)?;
                if bytes.len() != *len || digest(&bytes) != *d {
                    return Err(KeptError::Changed(path.clone()));
                }
                Ok(decode(&bytes)?)
            }
            Kept::Input(Input::Bytes(bytes)) => Ok(decode(bytes)?),
            Kept::Input(Input::Pixels(image, _)) => Ok((image.as_ref().clone(), None)),
            Kept::Input(Input::Path(path)) => Ok(decode(&read_file(path, config)?)?),
            Kept::Unpickled => Err(KeptError::Unpickled),
        }
    }
}

/// Why a kept image could not be had again.
pub enum KeptError {
    /// Reading or decoding failed.
    Core(trueshot::Error),
    /// The file no longer holds the analysed bytes.
    Changed(PathBuf),
    /// The report was unpickled without its image.
    Unpickled,
}

impl From<trueshot::Error> for KeptError {
    fn from(e: trueshot::Error) -> Self {
        KeptError::Core(e)
    }
}

/// An input ready to analyse: a file has been read, so that a batch can
/// admit it by its size before its pool gets it.
pub enum Loaded<'a> {
    /// A file and the bytes read from it.
    File(&'a Path, Vec<u8>),
    /// An encoded file given in memory.
    Bytes(&'a Arc<[u8]>),
    /// Decoded pixels and their metadata.
    Pixels(&'a Arc<DynamicImage>, &'a Arc<RawMetadata>),
}

impl Input {
    /// Run the analysis. Called without the GIL. Also returns what the
    /// report keeps of the input.
    pub fn analyze(
        &self,
        analyzer: &trueshot::Analyzer,
    ) -> Result<(trueshot::Report, Kept), trueshot::Error> {
        self.load(analyzer.config())?.analyze(analyzer)
    }

    /// Read a file input under `config`'s limits; bytes and pixels are used
    /// as they are.
    pub fn load(&self, config: &trueshot::Config) -> Result<Loaded<'_>, trueshot::Error> {
        Ok(match self {
            Input::Path(path) => Loaded::File(path, read_file(path, config)?),
            Input::Bytes(bytes) => Loaded::Bytes(bytes),
            Input::Pixels(image, metadata) => Loaded::Pixels(image, metadata),
        })
    }
}

impl Loaded<'_> {
    /// The memory analysing it is expected to take at its peak
    /// (`trueshot::MemoryBudget`).
    pub fn estimated_peak_bytes(&self, config: &trueshot::Config) -> u64 {
        match self {
            Loaded::File(_, bytes) => trueshot::estimated_peak_bytes(bytes, config),
            Loaded::Bytes(bytes) => trueshot::estimated_peak_bytes(bytes, config),
            Loaded::Pixels(image, _) => {
                trueshot::estimated_peak_bytes_for_pixels(image.width(), image.height())
            }
        }
    }

    /// Run the analysis. Called without the GIL. Also returns what the
    /// report keeps of the input.
    pub fn analyze(
        self,
        analyzer: &trueshot::Analyzer,
    ) -> Result<(trueshot::Report, Kept), trueshot::Error> {
        match self {
            // Read by `load` rather than by `analyze_path`, so the digest is
            // of the very bytes analysed.
            Loaded::File(path, bytes) => {
                let report = analyzer.analyze_bytes(&bytes)?;
                let kept = Kept::Path {
                    path: path.to_path_buf(),
                    len: bytes.len(),
                    digest: digest(&bytes),
                };
                Ok((report, kept))
            }
            Loaded::Bytes(bytes) => Ok((
                analyzer.analyze_bytes(bytes)?,
                Kept::Input(Input::Bytes(Arc::clone(bytes))),
            )),
            Loaded::Pixels(image, metadata) => Ok((
                analyzer.analyze_image_with_metadata(image, metadata)?,
                Kept::Input(Input::Pixels(Arc::clone(image), Arc::clone(metadata))),
            )),
        }
    }
}

impl Input {
    /// Add this image to a reference catalogue read under `config`'s
    /// limits, and return what a report keeps of it to show it in
    /// `to_html`. Called without the GIL.
    pub fn push_to(
        &self,
        references: &mut trueshot::References,
        config: &trueshot::Config,
    ) -> Result<Kept, trueshot::Error> {
        match self {
            Input::Path(path) => {
                // Read here rather than with `push_path` (which reads the
                // file and names the reference by its path the same way), so
                // that the digest is of the very bytes indexed and `to_html`
                // refuses a listing file that changed since.
                let bytes = read_file(path, config)?;
                references.push_bytes(&bytes, Some(path.to_string_lossy().into_owned()))?;
                Ok(Kept::Path {
                    path: path.clone(),
                    len: bytes.len(),
                    digest: digest(&bytes),
                })
            }
            Input::Bytes(bytes) => {
                references.push_bytes(bytes, None)?;
                Ok(Kept::Input(self.clone()))
            }
            Input::Pixels(image, _) => {
                references.push_image(image, None);
                Ok(Kept::Input(self.clone()))
            }
        }
    }
}

/// Convert one image argument. `function` names the caller in messages
/// (kornia: `"gaussian_blur: … got {c}"`).
pub fn extract(
    function: &str,
    obj: &Bound<'_, PyAny>,
    config: &trueshot::Config,
) -> PyResult<Input> {
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Ok(Input::Bytes(Arc::from(bytes.as_bytes())));
    }
    if let Ok(bytes) = obj.cast::<PyByteArray>() {
        return Ok(Input::Bytes(Arc::from(bytes.to_vec())));
    }
    if obj.is_instance_of::<PyString>() || obj.hasattr("__fspath__")? {
        // PathBuf extraction goes through os.fspath, as open() does.
        return Ok(Input::Path(obj.extract::<PathBuf>()?));
    }
    if let Ok(array) = obj.cast::<PyUntypedArray>() {
        let image = array_image(function, array, config)?;
        return Ok(Input::Pixels(Arc::new(image), Arc::default()));
    }
    if is_pil_image(obj)? {
        // Duck-typed so Pillow stays optional.
        return from_pil(function, obj, config);
    }
    let kind = obj.get_type().name()?;
    Err(PyTypeError::new_err(format!(
        "{function}: expected a path (str or os.PathLike), bytes, a numpy uint8 array \
         or a PIL image, got {kind}"
    )))
}

/// One argument or a list/tuple of them (the `reference` argument).
pub fn extract_many(
    function: &str,
    obj: &Bound<'_, PyAny>,
    config: &trueshot::Config,
) -> PyResult<Vec<Input>> {
    if is_several(obj)? {
        obj.try_iter()?
            .map(|item| extract(function, &item?, config))
            .collect()
    } else {
        Ok(vec![extract(function, obj, config)?])
    }
}

/// Whether `obj` holds several images: a list, a tuple or any other
/// sequence (`collections.deque`, `UserList`...), as the stubs promise;
/// not a path, bytes or a buffer, which are sequences of characters or
/// bytes making one image.
fn is_several(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        return Ok(true);
    }
    if obj.is_instance_of::<PyString>()
        || obj.is_instance_of::<PyBytes>()
        || obj.is_instance_of::<PyByteArray>()
        || obj.is_instance_of::<PyMemoryView>()
    {
        return Ok(false);
    }
    let sequence = obj.py().import("collections.abc")?.getattr("Sequence")?;
    obj.is_instance(&sequence)
}

fn is_pil_image(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(obj.hasattr("convert")? && obj.hasattr("mode")? && obj.hasattr("size")?)
}

/// A PIL image. Modes numpy can take as they are ("RGB", "RGBA", "L") keep
/// their pixels bit for bit; modes with alpha ("LA", "PA", "RGBa") and
/// images with a transparent palette entry or colour key become RGBA, so
/// that their transparency is measured. 16-bit ("I;16", "I;16B"...) and 32-bit integer
/// ("I") greyscale become 16-bit greyscale, which the core brings to 8 bits
/// as it does a 16-bit PNG file (round(v * 255 / 65535), "I" clamped to
/// 0..=65535 first), so the image and its file give the same report; Pillow's
/// own `convert` would clip them to 0..=255 instead. Float ("F") samples are
/// read as the image crate reads float pixels: 0.0 = black, 1.0 = white,
/// clamped. Other modes ("P", "CMYK", "LA", "1"...) are converted to RGB by
/// Pillow's own rules.
fn from_pil(function: &str, obj: &Bound<'_, PyAny>, config: &trueshot::Config) -> PyResult<Input> {
    let image = pil_image(function, obj, config)?;
    Ok(Input::Pixels(Arc::new(image), Arc::new(pil_metadata(obj))))
}

/// The metadata Pillow read from the image's file (`Image.info`), which the
/// analysis reads as in the file: EXIF (`exif`), XMP (`xmp`, or PNG text
/// under `XML:com.adobe.xmp`), a JPEG or GIF comment (`comment`) and PNG
/// text entries (any other key with a text value: generator parameters, an
/// AIGC label). Other entries (`dpi`, `icc_profile`, ...) are not read, and
/// Pillow keeps no C2PA manifest. Without `exif` in `info` (Pillow keeps
/// a TIFF's tags apart), `getexif()` gives the EXIF. An animated GIF, PNG
/// or WebP as Pillow opened it (`is_animated`) is one frame of `n_frames`,
/// and is never cleared. Bytes are read in place and text is cut before it
/// is copied, so a huge entry costs no more than the caps.
fn pil_metadata(obj: &Bound<'_, PyAny>) -> RawMetadata {
    let mut metadata = RawMetadata::default();
    // Only formats that animate: Pillow also calls a JPEG with a
    // multi-picture preview (MPO) and a multi-page TIFF "animated".
    let format = obj
        .getattr("format")
        .and_then(|f| f.extract::<String>())
        .unwrap_or_default();
    if matches!(format.as_str(), "GIF" | "PNG" | "WEBP") {
        // Asking a GIF seeks its file (and loads frame 0 again); a closed
        // file cannot answer, and is held as an animation not counted.
        match obj.getattr("is_animated").and_then(|a| a.extract::<bool>()) {
            Ok(false) => {}
            Ok(true) => {
                // Animated whatever the count: one that cannot be read
                // is "not counted", never a made-up number.
                let frames = obj.getattr("n_frames").and_then(|n| n.extract::<u32>());
                metadata = metadata.with_animation(frames.ok().filter(|&n| n > 1));
            }
            Err(_) => metadata = metadata.with_animation(None),
        }
    }
    let Some(info) = obj
        .getattr("info")
        .ok()
        .and_then(|info| info.cast_into::<PyDict>().ok())
    else {
        return metadata;
    };
    for (key, value) in info.iter() {
        let Ok(key) = key.extract::<String>() else {
            continue;
        };
        if let Ok(bytes) = value.cast::<PyBytes>() {
            let bytes = bytes.as_bytes();
            metadata = match key.as_str() {
                "exif" => metadata.with_exif(bytes),
                "xmp" => metadata.with_xmp(bytes),
                "comment" => metadata.with_text("comment", bytes),
                _ => metadata,
            };
        } else if let Ok(text) = value.cast::<PyString>() {
            let Some(text) = capped_text(text) else {
                continue;
            };
            metadata = match key.as_str() {
                "xmp" => metadata.with_xmp(text.as_bytes()),
                _ => metadata.with_text(&key, text.as_bytes()),
            };
        }
    }
    if metadata.exif.is_none() {
        // Pillow keeps a TIFF's tags (camera, software, XMP in tag 700)
        // out of `info`; `getexif()` has them.
        let exif = obj
            .call_method0("getexif")
            .and_then(|exif| exif.call_method0("tobytes"));
        if let Ok(Ok(bytes)) = exif.as_ref().map(|b| b.cast::<PyBytes>()) {
            metadata = metadata.with_exif(bytes.as_bytes());
        }
    }
    metadata
}

/// A Python string cut to one character past the metadata text cap before
/// it is copied out of Python (`None` if it cannot be read).
fn capped_text(text: &Bound<'_, PyString>) -> Option<String> {
    let cap = trueshot::metadata::MAX_TEXT_BYTES + 1;
    let short = match text.len() {
        Ok(chars) if chars > cap => text
            .get_item(pyo3::types::PySlice::new(text.py(), 0, cap as isize, 1))
            .ok()?
            .cast_into::<PyString>()
            .ok()?,
        _ => text.clone(),
    };
    Some(short.to_string_lossy().into_owned())
}

/// The pixels of a PIL image (see [`from_pil`]).
fn pil_image(
    function: &str,
    obj: &Bound<'_, PyAny>,
    config: &trueshot::Config,
) -> PyResult<DynamicImage> {
    let py = obj.py();
    let numpy = py.import("numpy")?;
    // Refuse an image over the pixel limit before Pillow converts or numpy
    // copies it (a 120-megapixel palette image would be 360 MB of RGB).
    // (An empty one is refused below, as an empty array is.)
    let size = obj.getattr("size")?.extract::<(u64, u64)>();
    if let Ok((width @ 1.., height @ 1..)) = size {
        let side = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        trueshot::decode::check_pixels(side(width), side(height), config)
            .map_err(|e| crate::error::to_pyerr(py, e))?;
    }
    let mode: String = obj.getattr("mode")?.extract()?;
    let deep = mode == "I" || mode.starts_with("I;16");
    if !(deep || mode == "F") {
        // Alpha is kept to be measured (`fusion.transparent`): modes with
        // an alpha band, and a palette or colour key (`transparency`).
        let keyed = obj
            .getattr("info")
            .ok()
            .and_then(|info| info.cast_into::<PyDict>().ok())
            .is_some_and(|info| info.contains("transparency").unwrap_or(false));
        let translucent = matches!(mode.as_str(), "LA" | "La" | "PA" | "RGBa") || keyed;
        let image = if translucent && mode != "RGBA" {
            obj.call_method1("convert", ("RGBA",))?
        } else if matches!(mode.as_str(), "RGB" | "RGBA" | "L") {
            obj.clone()
        } else {
            obj.call_method1("convert", ("RGB",))?
        };
        let array = numpy.call_method1("asarray", (image,))?;
        let array = array.cast::<PyUntypedArray>().map_err(PyErr::from)?;
        return array_image(function, array, config);
    }
    let array = numpy.call_method1("asarray", (obj,))?;
    let array = array.cast::<PyUntypedArray>().map_err(PyErr::from)?;
    let (width, height, channels) = dimensions(function, array, config)?;
    if channels != 1 {
        return Err(PyValueError::new_err(format!(
            "{function}: a PIL image of mode {mode} gave an array of shape {:?}",
            array.shape()
        )));
    }
    let image = if deep {
        // numpy clips and swaps bytes in C; "=u2" is native-endian uint16.
        let clipped = numpy.call_method1("clip", (array, 0, 65535))?;
        let samples = clipped.call_method1("astype", ("=u2",))?;
        let data = contiguous::<u16>(&samples)?;
        image::ImageBuffer::from_raw(width, height, data).map(DynamicImage::ImageLuma16)
    } else {
        let samples = array.call_method1("astype", ("=f4",))?;
        let data = contiguous::<f32>(&samples)?;
        let grey = py.detach(|| data.iter().map(|&v| float_to_u8(v)).collect());
        image::GrayImage::from_raw(width, height, grey).map(DynamicImage::ImageLuma8)
    };
    sized(
        image,
        function,
        "the image's size does not match its pixels",
    )
}

/// The image a buffer made, or `mismatch` as the error of a buffer whose
/// length does not match its size.
fn sized(image: Option<DynamicImage>, function: &str, mismatch: &str) -> PyResult<DynamicImage> {
    image.ok_or_else(|| PyValueError::new_err(format!("{function}: {mismatch}")))
}

/// A float sample as the image crate converts one to 8 bits (its
/// `FromPrimitive<f32> for u8`): clamped to [0, 1], NaN as white, rounded.
fn float_to_u8(v: f32) -> u8 {
    let clamped = if v < 1.0 { v.max(0.0) } else { 1.0 };
    // In 0.0..=255.0 after the clamp, so the cast is exact.
    (clamped * 255.0).round() as u8
}

/// Width, height and channels of an image array of shape (H, W), (H, W, 3)
/// or (H, W, 4), checked against `config`'s pixel limit.
fn dimensions(
    function: &str,
    array: &Bound<'_, PyUntypedArray>,
    config: &trueshot::Config,
) -> PyResult<(u32, u32, usize)> {
    let py = array.py();
    let shape = array.shape().to_vec();
    let channels = match shape.as_slice() {
        [_, _] => 1,
        [_, _, c @ (3 | 4)] => *c,
        _ => {
            return Err(PyValueError::new_err(format!(
                "{function}: expected an array of shape (H, W), (H, W, 3) or (H, W, 4), \
                 got {shape:?}"
            )))
        }
    };
    let (Ok(height), Ok(width)) = (u32::try_from(shape[0]), u32::try_from(shape[1])) else {
        // Wider than any decodable image: report it as the decoder would.
        let pixels = (shape[0] as u64).saturating_mul(shape[1] as u64);
        let error = trueshot::Error::TooLarge {
            width: u32::try_from(shape[1]).unwrap_or(u32::MAX),
            height: u32::try_from(shape[0]).unwrap_or(u32::MAX),
            pixels,
            limit: config.max_pixels,
        };
        return Err(crate::error::to_pyerr(py, error));
    };
    if width == 0 || height == 0 {
        return Err(PyValueError::new_err(format!(
            "{function}: the image is empty ({width}x{height})"
        )));
    }
    // Refuse before copying, as the decoder refuses before allocating.
    trueshot::decode::check_pixels(width, height, config)
        .map_err(|e| crate::error::to_pyerr(py, e))?;
    Ok((width, height, channels))
}

/// The elements of a numpy array of `T`, in row-major order. A
/// non-contiguous view (`bgr[..., ::-1]`) is made contiguous by numpy first,
/// in one C loop, rather than walked element by element here.
fn contiguous<T: numpy::Element + Copy>(array: &Bound<'_, PyAny>) -> PyResult<Vec<T>> {
    let numpy = array.py().import("numpy")?;
    // The array itself when it already is C-contiguous.
    let array = numpy.call_method1("ascontiguousarray", (array,))?;
    let readonly: PyReadonlyArrayDyn<'_, T> = array.extract()?;
    let view = readonly.as_array();
    Ok(match view.as_slice() {
        Some(slice) => slice.to_vec(),
        // Not reached after `ascontiguousarray`; still correct for any strides.
        None => view.iter().copied().collect(),
    })
}

/// A numpy `uint8` array of shape (H, W), (H, W, 3) or (H, W, 4), any strides.
fn array_image(
    function: &str,
    array: &Bound<'_, PyUntypedArray>,
    config: &trueshot::Config,
) -> PyResult<DynamicImage> {
    let py = array.py();
    let dtype = array.dtype();
    if !dtype.is_equiv_to(&numpy::dtype::<u8>(py)) {
        return Err(PyTypeError::new_err(format!(
            "{function}: expected a uint8 array, got dtype {}",
            dtype.str()?
        )));
    }
    let (width, height, channels) = dimensions(function, array, config)?;
    let data = contiguous::<u8>(array.as_any())?;
    let image = match channels {
        1 => image::GrayImage::from_raw(width, height, data).map(DynamicImage::ImageLuma8),
        3 => image::RgbImage::from_raw(width, height, data).map(DynamicImage::ImageRgb8),
        _ => image::RgbaImage::from_raw(width, height, data).map(DynamicImage::ImageRgba8),
    };
    sized(image, function, "the array's size does not match its shape")
}
