//! `trueshot.Report` and `trueshot.Finding`: read-only views of the core's
//! plain data. Nested data (provenance, image facts) becomes dicts through
//! the same serde JSON the CLI prints, so every face spells fields alike.

use std::sync::Arc;

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyType};

use crate::error::{input_changed, to_pyerr};
use crate::input::{Kept, KeptError};
use crate::reference::Listings;

/// A serialisable value as plain Python objects (dict, list, str, float...).
///
/// It goes through `serde_json::Value`, as `Report::to_json` does, so that a
/// float32 comes out widened (0.1f32 as 0.10000000149011612), the same float
/// as the getters (`Report.score`), `to_dict()` and the CLI's JSON records.
/// `serde_json::to_string` alone would print the shortest float32 decimal
/// (0.1), a different Python float.
fn to_python<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_value(value)
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?
        .to_string();
    py.import("json")?.call_method1("loads", (text,))
}

/// What `__reduce__` returns to pickle: the callable that rebuilds the
/// object, and its arguments.
type Reduced<'py, Args> = PyResult<(Bound<'py, PyAny>, Args)>;

/// Read back the JSON of a pickled `Report` or `Finding`. Its floats come
/// back bit for bit: each is written as a decimal that reads back the same.
fn unpickle<T: serde::de::DeserializeOwned>(class: &str, json: &str) -> PyResult<T> {
    serde_json::from_str(json)
        .map_err(|e| PyValueError::new_err(format!("cannot unpickle a trueshot.{class}: {e}")))
}

/// The heatmap part of a report's pickle: width, height, cell, grid_width,
/// grid_height, and the cells as little-endian float32 bytes. As JSON text
/// the cells would take about three times the room, and a map merged with a
/// reference comparison has one cell per pixel.
type HeatmapState<'py> = (u32, u32, u32, u32, u32, Bound<'py, PyBytes>);

fn heatmap_state<'py>(py: Python<'py>, map: &trueshot::Heatmap) -> HeatmapState<'py> {
    let cells: Vec<u8> = map.values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let cells = PyBytes::new(py, &cells);
    (
        map.width,
        map.height,
        map.cell,
        map.grid_width,
        map.grid_height,
        cells,
    )
}

fn heatmap_from_state(state: &HeatmapState<'_>) -> PyResult<trueshot::Heatmap> {
    let (width, height, cell, grid_width, grid_height, cells) = state;
    let cells = cells.as_bytes();
    let map = trueshot::Heatmap {
        width: *width,
        height: *height,
        cell: *cell,
        grid_width: *grid_width,
        grid_height: *grid_height,
        values: cells
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    };
    // A corrupt pickle must not make `upscaled` index past the cells.
    if cells.len() % 4 != 0 || !map.is_consistent() {
        return Err(PyValueError::new_err(
            "cannot unpickle a trueshot.Report: inconsistent heatmap",
        ));
    }
    Ok(map)
}

/// A string as Python's `repr` writes it (single quotes), for `__repr__`.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for ch in text.chars() {
        match ch {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn class_name(class: trueshot::Class) -> &'static str {
    match class {
        trueshot::Class::AiGenerated => "ai_generated",
        trueshot::Class::Edited => "edited",
        trueshot::Class::None => "none",
    }
}

/// One piece of evidence. `score` is in [0, 1]: 0.0 = no evidence, 1.0 = certain.
#[pyclass(frozen, name = "Finding", module = "trueshot")]
pub struct PyFinding {
    inner: trueshot::Finding,
}

#[pymethods]
impl PyFinding {
    /// Stable id of the detector that found it (`"noise_residual"`).
    #[getter]
    fn detector(&self) -> &'static str {
        self.inner.detector.as_str()
    }

    /// Stable machine-readable code, `detector.what` (`"provenance.aigc_label"`).
    #[getter]
    fn code(&self) -> &str {
        &self.inner.code
    }

    /// Strength of the evidence in [0, 1].
    #[getter]
    fn score(&self) -> f32 {
        self.inner.score
    }

    /// The class it speaks for: `"ai_generated"`, `"edited"` or `"none"`.
    #[getter]
    fn class_(&self) -> &'static str {
        class_name(self.inner.class)
    }

    /// Explanation in English.
    #[getter]
    fn message(&self) -> &str {
        &self.inner.message
    }

    /// Explanation in Simplified Chinese.
    #[getter]
    fn message_zh(&self) -> &str {
        &self.inner.message_zh
    }

    /// `{"x", "y", "width", "height"}` in image pixels, or None when the
    /// finding is about the whole image.
    #[getter]
    fn region<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner
            .region
            .as_ref()
            .map(|r| to_python(py, r))
            .transpose()
    }

    /// The finding as a dict, as in the JSON report.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }

    /// Pickle support (multiprocessing pools pickle results): the finding
    /// travels as its JSON and is rebuilt by `Finding._from_pickle`.
    fn __reduce__<'py>(&self, py: Python<'py>) -> Reduced<'py, (String,)> {
        let json = serde_json::to_string(&self.inner)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let rebuild = py.get_type::<PyFinding>().getattr("_from_pickle")?;
        Ok((rebuild, (json,)))
    }

    /// Inverse of `__reduce__`. A classmethod, so that pickle stores it as
    /// `getattr(trueshot.Finding, "_from_pickle")`, found by the class's name.
    #[classmethod]
    fn _from_pickle(_class: &Bound<'_, PyType>, json: &str) -> PyResult<Self> {
        Ok(PyFinding {
            inner: unpickle("Finding", json)?,
        })
    }

    fn __repr__(&self) -> String {
        let region = self.inner.region.map_or_else(
            || "None".to_string(),
            |r| format!("({}, {}, {}, {})", r.x, r.y, r.width, r.height),
        );
        format!(
            "Finding(code={}, score={:.3}, class_={}, region={region}, message={})",
            quoted(&self.inner.code),
            self.inner.score,
            quoted(class_name(self.inner.class)),
            quoted(&self.inner.message)
        )
    }
}

const _: () = assert!(trueshot::html::DEFAULT_MAX_SIDE == 1600);

/// What every report of one call shares: the settings it was made with, the
/// thresholds they resolved to, and the reference catalogue it was compared
/// with (for `to_html`).
#[derive(Clone)]
pub struct Shared {
    config: Arc<trueshot::Config>,
    point: trueshot::fusion::OperatingPoint,
    references: Option<Arc<Listings>>,
}

impl Shared {
    pub fn new(analyzer: &trueshot::Analyzer, references: Option<Arc<Listings>>) -> Self {
        Shared {
            config: Arc::new(analyzer.config().clone()),
            point: analyzer.operating_point(),
            references,
        }
    }
}

/// Everything an analysis found. All attributes are read-only.
#[pyclass(frozen, name = "Report", module = "trueshot")]
pub struct PyReport {
    pub inner: trueshot::Report,
    /// The upscaled heatmap, built on first access: at image resolution it
    /// is 4 bytes per pixel, which a batch of reports should not pay unasked.
    heatmap: PyOnceLock<Option<Py<PyArray2<f32>>>>,
    /// The input, to draw the review page (see `Kept` for what that costs).
    kept: Kept,
    shared: Shared,
}

impl PyReport {
    pub fn new(inner: trueshot::Report, kept: Kept, shared: Shared) -> Self {
        PyReport {
            inner,
            heatmap: PyOnceLock::new(),
            kept,
            shared,
        }
    }
}

fn kept_error(py: Python<'_>, error: KeptError) -> PyErr {
    match error {
        KeptError::Core(e) => to_pyerr(py, e),
        KeptError::Changed(path) => input_changed(
            py,
            format!("to_html: {} changed since it was analysed", path.display()),
        ),
        KeptError::Unpickled => PyRuntimeError::new_err(
            "to_html: an unpickled report does not carry its image; \
             call to_html in the process that analysed it",
        ),
    }
}

#[pymethods]
impl PyReport {
    /// How likely the image is AI-generated or edited, in [0, 1]; higher = more suspicious.
    #[getter]
    fn score(&self) -> f32 {
        self.inner.score
    }

    /// `"authentic"`, `"inconclusive"`, `"edited"` or `"ai_generated"`.
    #[getter]
    fn verdict(&self) -> &'static str {
        self.inner.verdict.as_str()
    }

    /// Whether the verdict blocks a claim (`"edited"` or `"ai_generated"`).
    #[getter]
    fn flagged(&self) -> bool {
        self.inner.verdict.is_flagged()
    }

    /// Per-class scores in [0, 1]: `{"ai_generated": ..., "edited": ...}`.
    #[getter]
    fn scores<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("ai_generated", self.inner.scores.ai_generated)?;
        dict.set_item("edited", self.inner.scores.edited)?;
        Ok(dict)
    }

    /// The score at and above which the verdict is flagged.
    #[getter]
    fn flag_threshold(&self) -> f32 {
        self.inner.flag_threshold
    }

    /// The score under which the verdict is `"authentic"`.
    #[getter]
    fn authentic_threshold(&self) -> f32 {
        self.inner.authentic_threshold
    }

    /// Codes of the findings that decided the verdict.
    #[getter]
    fn deciding(&self) -> Vec<String> {
        self.inner.deciding.clone()
    }

    /// Evidence, strongest first.
    #[getter]
    fn findings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = self
            .inner
            .findings
            .iter()
            .map(|f| Py::new(py, PyFinding { inner: f.clone() }))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// What the file's metadata says (EXIF camera, software, C2PA, AIGC
    /// label, generator...). Strings come from the file: treat them as untrusted.
    #[getter]
    fn provenance<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.provenance)
    }

    /// Facts about the input: format, width, height, file_bytes, jpeg_quality,
    /// caveat ("small", "palette", "lossy_webp", "replicated", "smooth") when
    /// pixel evidence alone cannot flag the image, and content (x, y, width, height) when the pixel
    /// detectors read only the region inside uniform margins (copy-move
    /// compares the whole frame and keeps pairs with a place inside).
    #[getter]
    fn image<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.image)
    }

    /// Comparison with reference photos, or None when none were given.
    #[getter]
    fn reference<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner
            .reference
            .as_ref()
            .map(|r| to_python(py, r))
            .transpose()
    }

    /// Named detector features (`"detector.feature"`), the inputs of the fusion.
    #[getter]
    fn features(&self) -> std::collections::BTreeMap<String, f32> {
        self.inner.features.clone()
    }

    /// Detectors skipped because the time budget ran out.
    #[getter]
    fn incomplete(&self) -> Vec<&'static str> {
        self.inner.incomplete.iter().map(|k| k.as_str()).collect()
    }

    /// Wall time per stage, in milliseconds.
    #[getter]
    fn timings_ms(&self) -> std::collections::BTreeMap<String, f64> {
        self.inner.timings_ms.clone()
    }

    /// The localisation map at image resolution: a read-only float32 array of
    /// shape (height, width), values in [0, 1], 1.0 = most suspicious,
    /// >= 0.5 = flagged. None when `Config(heatmap=False)`.
    #[getter]
    fn heatmap<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyArray2<f32>>>> {
        let cached = self.heatmap.get_or_try_init(py, || -> PyResult<_> {
            let Some(map) = self.inner.heatmap.as_ref() else {
                return Ok(None);
            };
            let shape = (map.height as usize, map.width as usize);
            // Upscaling a large image takes a while: let other threads run.
            let values = py.detach(|| {
                map.upscaled()
                    .into_iter()
                    .map(trueshot::clamp01)
                    .collect::<Vec<f32>>()
            });
            let array = Array2::from_shape_vec(shape, values)
                .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?
                .into_pyarray(py);
            // Shared by every access, so it must not be changed in place.
            array.getattr("flags")?.setattr("writeable", false)?;
            Ok(Some(array.unbind()))
        })?;
        Ok(cached.as_ref().map(|a| a.bind(py).clone()))
    }

    /// The heatmap as an 8-bit greyscale PNG at image resolution (255 = most
    /// suspicious, 128 or more = flagged), the same file as the CLI's
    /// `--heatmap-dir`; None when `Config(heatmap=False)`.
    fn heatmap_png<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let Some(map) = self.inner.heatmap.as_ref() else {
            return Ok(None);
        };
        let png = py.detach(|| {
            let mut out = std::io::Cursor::new(Vec::new());
            map.to_gray_image()
                .write_to(&mut out, image::ImageFormat::Png)
                .map(|()| out.into_inner())
        });
        let png = png.map_err(|e| PyRuntimeError::new_err(format!("heatmap_png: {e}")))?;
        Ok(Some(PyBytes::new(py, &png)))
    }

    /// The self-contained HTML review page of this report (English and
    /// Chinese, no network access, every file string escaped), as the CLI's
    /// `trueshot report` writes it. `title` is shown at the top (e.g. the
    /// file name), `lang` is the language it opens in (`"en"` or `"zh"`),
    /// `max_side` the long side of the embedded photo (64..=8192).
    ///
    /// A path input is read again and must be unchanged; bytes and arrays
    /// were kept by the report. With a reference, the matched listing photo
    /// is shown beside the claim.
    // A literal default, so that the signature Python sees (and stubtest
    // checks) shows it; the assertion keeps it equal to the core's.
    #[pyo3(signature = (*, title = None, lang = "en", max_side = 1600))]
    fn to_html(
        &self,
        py: Python<'_>,
        title: Option<String>,
        lang: &str,
        // Signed, so that a negative side is the ValueError below rather
        // than the OverflowError of the conversion to an unsigned type.
        max_side: i64,
    ) -> PyResult<String> {
        let lang = match lang {
            "en" => trueshot::html::Lang::En,
            "zh" => trueshot::html::Lang::Zh,
            other => {
                return Err(PyValueError::new_err(format!(
                    "to_html: lang must be \"en\" or \"zh\", got {}",
                    quoted(other)
                )))
            }
        };
        let max_side = u32::try_from(max_side)
            .ok()
            .filter(|side| (64..=8192).contains(side))
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "to_html: max_side must be in 64..=8192, got {max_side}"
                ))
            })?;
        let config = &self.shared.config;
        let catalogue = self.shared.references.as_deref();
        let listing = self
            .inner
            .reference
            .as_ref()
            .and_then(|r| r.index)
            .and_then(|i| {
                let catalogue = catalogue?;
                Some((catalogue.sources.get(i)?, &catalogue.config))
            });
        let page = py.detach(|| -> Result<String, KeptError> {
            let image = self.kept.decode(config)?;
            // The catalogue read and decoded the references under its own
            // config's limits (`References::with_limits`); so again here.
            let listing = listing
                .map(|(source, limits)| source.decode_with_orientation(limits))
                .transpose()?;
            let mut options = trueshot::HtmlOptions::default()
                .with_lang(lang)
                .with_max_side(max_side)
                .with_operating_point(self.shared.point, config.review_rate);
            // A file's name is the natural title; bytes and arrays have none.
            let title = title.or_else(|| match &self.kept {
                Kept::Path { path, .. } => {
                    path.file_name().map(|n| n.to_string_lossy().into_owned())
                }
                Kept::Input(_) | Kept::Unpickled => None,
            });
            if let Some(title) = title {
                options = options.with_title(title);
            }
            if let Some((listing, orientation)) = listing.as_ref() {
                options = options
                    .with_reference_image(listing)
                    .with_reference_orientation(*orientation);
            }
            Ok(trueshot::render_html(&self.inner, &image, &options))
        });
        page.map_err(|e| kept_error(py, e))
    }

    /// The report as plain Python objects, as in the JSON record (the
    /// heatmap cells are left out; use `heatmap`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?
            .call_method1("loads", (self.inner.to_json(),))
    }

    /// The report as a JSON string, without the heatmap cells.
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// Pickle support (multiprocessing pools pickle results): the report
    /// travels as its JSON (`to_json`) plus its heatmap, and is rebuilt by
    /// `Report._from_pickle`. The image it was made from does not travel (it
    /// may be hundreds of megabytes, or a path on another machine), so an
    /// unpickled report cannot draw `to_html`.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> Reduced<'py, (String, Option<HeatmapState<'py>>)> {
        let heatmap = self.inner.heatmap.as_ref().map(|m| heatmap_state(py, m));
        let rebuild = py.get_type::<PyReport>().getattr("_from_pickle")?;
        Ok((rebuild, (self.inner.to_json(), heatmap)))
    }

    /// A report is immutable, so a copy is the report itself, which keeps
    /// its image for `to_html` (a copy made through `__reduce__` would not).
    fn __copy__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __deepcopy__<'py>(slf: PyRef<'py, Self>, _memo: &Bound<'py, PyAny>) -> PyRef<'py, Self> {
        slf
    }

    /// Inverse of `__reduce__`. A classmethod, so that pickle stores it as
    /// `getattr(trueshot.Report, "_from_pickle")`, found by the class's name.
    #[classmethod]
    fn _from_pickle(
        _class: &Bound<'_, PyType>,
        json: &str,
        heatmap: Option<HeatmapState<'_>>,
    ) -> PyResult<Self> {
        let mut inner: trueshot::Report = unpickle("Report", json)?;
        inner.heatmap = heatmap.as_ref().map(heatmap_from_state).transpose()?;
        // `Shared` only serves `to_html`, which `Kept::Unpickled` refuses:
        // the point is a placeholder no page reads.
        let shared = Shared {
            config: Arc::new(trueshot::Config::default()),
            point: trueshot::fusion::OperatingPoint {
                max_false_alarm: trueshot::Config::default().max_false_alarm,
                flag: inner.flag_threshold,
                authentic: inner.authentic_threshold,
            },
            references: None,
        };
        Ok(PyReport::new(inner, Kept::Unpickled, shared))
    }

    fn __repr__(&self) -> String {
        let r = &self.inner;
        // Informative findings (score 0) would only crowd the line.
        let codes: Vec<String> = r
            .findings
            .iter()
            .filter(|f| f.score > 0.0)
            .map(|f| quoted(&f.code))
            .collect();
        format!(
            "Report(verdict={}, score={:.3}, image='{} {}x{}', findings=[{}], heatmap={})",
            quoted(r.verdict.as_str()),
            r.score,
            r.image.format,
            r.image.width,
            r.image.height,
            codes.join(", "),
            if r.heatmap.is_some() { "yes" } else { "None" }
        )
    }
}
