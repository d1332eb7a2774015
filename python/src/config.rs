//! `trueshot.Config`: the core `Config`, validated once when it is built.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyUserWarning};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use trueshot::fusion::{Model, OperatingPoint};

use crate::error::invalid_config;

/// Analysis settings. Every argument is keyword-only and mirrors a field of
/// the Rust `trueshot::Config`; values are checked here (and a model file
/// loaded), so a bad one raises `InvalidConfigError` (also a `ValueError`)
/// before any image is read.
#[pyclass(frozen, name = "Config", module = "trueshot")]
#[derive(Clone)]
pub struct PyConfig {
    pub inner: trueshot::Config,
    /// The fusion model, loaded once when the Config is made: every
    /// analysis with this Config uses it, and a model file replaced or
    /// removed later does not reach them.
    pub model: Arc<Model>,
}

/// The built-in model, parsed once per process.
pub fn builtin_model() -> Arc<Model> {
    static BUILTIN: OnceLock<Arc<Model>> = OnceLock::new();
    Arc::clone(BUILTIN.get_or_init(|| Arc::new(Model::builtin())))
}

/// A Python int that must fit the field's unsigned type. Any int is taken
/// here, not in the signature, so that one out of range (negative, or even
/// `2**200`) raises InvalidConfigError rather than OverflowError; a value
/// that is no int still raises TypeError.
fn unsigned<T: TryFrom<i128>>(name: &str, value: &Bound<'_, PyAny>) -> PyResult<T> {
    let py = value.py();
    let out_of_range = || {
        // str() of a huge int can itself fail (sys.set_int_max_str_digits).
        let shown = value
            .str()
            .map_or_else(|_| "(too many digits)".to_string(), |s| s.to_string());
        invalid_config(py, format!("{name} is out of range: {shown}"))
    };
    match value.extract::<i128>() {
        Ok(v) => T::try_from(v).map_err(|_| out_of_range()),
        Err(e) if e.is_instance_of::<PyOverflowError>(py) => Err(out_of_range()),
        Err(e) if e.is_instance_of::<PyTypeError>(py) => Err(PyTypeError::new_err(format!(
            "argument '{name}': {}",
            e.value(py)
        ))),
        Err(e) => Err(e),
    }
}

/// Check `config` and load its model (the file at `model_path`, else the
/// built-in one) with the GIL released, as the C setters check: a value out
/// of range, a missing or malformed model file, or a review rate the model
/// cannot honour fails where it is named rather than at the first analysis.
fn load_model(py: Python<'_>, config: &trueshot::Config) -> PyResult<Arc<Model>> {
    let model = py
        .detach(|| -> Result<Arc<Model>, trueshot::Error> {
            config.validate()?;
            let model = match &config.model_path {
                Some(path) => Arc::new(Model::load(path)?),
                None => builtin_model(),
            };
            model.operating_point_for(config.max_false_alarm, config.review_rate)?;
            Ok(model)
        })
        .map_err(|e| crate::error::to_pyerr(py, e))?;
    // A model fitted by another build still loads, as in the CLI, but its
    // scores may differ from the fit's: say so once, where it is loaded.
    // (The build names in it are escaped, so it holds no NUL.)
    let warning = model.another_build_warning();
    if let Some(message) = warning.and_then(|w| std::ffi::CString::new(w).ok()) {
        PyErr::warn(py, py.get_type::<PyUserWarning>().as_any(), &message, 1)?;
    }
    Ok(model)
}

/// The verdict's thresholds `config` resolves to with its loaded model.
fn operating_point(py: Python<'_>, config: &PyConfig) -> PyResult<OperatingPoint> {
    config
        .model
        .operating_point_for(config.inner.max_false_alarm, config.inner.review_rate)
        .map_err(|e| crate::error::to_pyerr(py, e))
}

#[pymethods]
impl PyConfig {
    /// Every argument left out (or None) keeps the Rust default, so the two
    /// faces cannot drift apart; `repr(Config())` shows the values.
    #[new]
    #[pyo3(signature = (
        *,
        max_pixels = None,
        max_file_bytes = None,
        max_decoded_bytes = None,
        heatmap = None,
        max_false_alarm = None,
        review_rate = None,
        model_path = None,
        time_budget_ms = None,
        threads = None,
        copy_move = None,
        copy_move_max_pixels = None,
    ))]
    #[allow(clippy::too_many_arguments)] // one keyword per Config field
    fn new(
        py: Python<'_>,
        max_pixels: Option<Bound<'_, PyAny>>,
        max_file_bytes: Option<Bound<'_, PyAny>>,
        max_decoded_bytes: Option<Bound<'_, PyAny>>,
        heatmap: Option<bool>,
        max_false_alarm: Option<f64>,
        review_rate: Option<f64>,
        model_path: Option<PathBuf>,
        time_budget_ms: Option<Bound<'_, PyAny>>,
        threads: Option<Bound<'_, PyAny>>,
        copy_move: Option<bool>,
        copy_move_max_pixels: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let mut inner = trueshot::Config::default();
        if let Some(v) = max_pixels {
            inner.max_pixels = unsigned("max_pixels", &v)?;
        }
        if let Some(v) = max_file_bytes {
            inner.max_file_bytes = unsigned("max_file_bytes", &v)?;
        }
        if let Some(v) = max_decoded_bytes {
            inner.max_decoded_bytes = unsigned("max_decoded_bytes", &v)?;
        }
        if let Some(v) = heatmap {
            inner.heatmap = v;
        }
        if let Some(v) = max_false_alarm {
            // f64 -> f32 rounds; operating_point() below validates the value
            // that is used.
            inner.max_false_alarm = v as f32;
        }
        inner.review_rate = review_rate.map(|v| v as f32);
        if model_path.is_some() {
            inner.model_path = model_path;
        }
        if let Some(v) = time_budget_ms {
            inner.time_budget_ms = unsigned("time_budget_ms", &v)?;
        }
        if let Some(v) = threads {
            inner.threads = unsigned("threads", &v)?;
        }
        match (copy_move, copy_move_max_pixels) {
            (Some(_), Some(_)) => {
                return Err(invalid_config(
                    py,
                    "give copy_move or copy_move_max_pixels, not both".to_string(),
                ))
            }
            (Some(v), None) => inner.set_copy_move(v),
            (None, Some(v)) => {
                inner.copy_move_max_pixels = unsigned("copy_move_max_pixels", &v)?;
            }
            (None, None) => {}
        }
        let model = load_model(py, &inner)?;
        Ok(PyConfig { inner, model })
    }

    /// Images whose header declares more pixels than this are refused.
    #[getter]
    fn max_pixels(&self) -> u64 {
        self.inner.max_pixels
    }

    /// Inputs larger than this many bytes are refused unread.
    #[getter]
    fn max_file_bytes(&self) -> u64 {
        self.inner.max_file_bytes
    }

    /// Upper bound on memory the decoder may allocate, in bytes.
    #[getter]
    fn max_decoded_bytes(&self) -> u64 {
        self.inner.max_decoded_bytes
    }

    /// Whether the localisation heatmap is computed.
    #[getter]
    fn heatmap(&self) -> bool {
        self.inner.heatmap
    }

    /// Target false-alarm rate on genuine photos, in (0, 0.5].
    #[getter]
    fn max_false_alarm(&self) -> f32 {
        self.inner.max_false_alarm
    }

    /// Share of genuine photos, in (0, 1), that may be sent to review or
    /// flagged: sets the authentic threshold from the model's out-of-fold
    /// scores of genuine photos. None keeps the model's own threshold.
    #[getter]
    fn review_rate(&self) -> Option<f32> {
        self.inner.review_rate
    }

    /// The flag threshold this config resolves to: scores at or above it
    /// are flagged (`Report.flag_threshold` of its analyses). Set by the
    /// model (a model file is read once, when the Config is made) and
    /// `max_false_alarm`.
    #[getter]
    fn flag_threshold(&self, py: Python<'_>) -> PyResult<f32> {
        Ok(operating_point(py, self)?.flag)
    }

    /// The authentic threshold this config resolves to: scores under it
    /// are authentic, scores from it up to the flag threshold go to review
    /// (`Report.authentic_threshold`). Set by the model, `max_false_alarm`
    /// and `review_rate`.
    #[getter]
    fn authentic_threshold(&self, py: Python<'_>) -> PyResult<f32> {
        Ok(operating_point(py, self)?.authentic)
    }

    /// A fusion model file to use instead of the built-in one, or None. It
    /// was read when the Config was made (with a `UserWarning` when another
    /// build of trueshot fitted it); to pick up a refitted file, make a new
    /// Config.
    #[getter]
    fn model_path(&self) -> Option<PathBuf> {
        self.inner.model_path.clone()
    }

    /// Per-image time budget in ms, decoding included; 0 = none. Past it the
    /// remaining detectors and references are skipped (`Report.incomplete`).
    #[getter]
    fn time_budget_ms(&self) -> u64 {
        self.inner.time_budget_ms
    }

    /// Worker threads inside one image; 0 = rayon's global pool.
    #[getter]
    fn threads(&self) -> usize {
        self.inner.threads
    }

    /// Whether the copy-move detector runs at all (on images up to
    /// `copy_move_max_pixels`).
    #[getter]
    fn copy_move(&self) -> bool {
        self.inner.copy_move_max_pixels > 0
    }

    /// The copy-move detector runs on images of at most this many pixels.
    #[getter]
    fn copy_move_max_pixels(&self) -> u64 {
        self.inner.copy_move_max_pixels
    }

    /// Pickle support (`functools.partial(trueshot.analyze, config=...)` in
    /// a process pool): a config travels as its settings, and unpickling
    /// calls `Config(**settings)`, so it is checked (and a model file
    /// loaded) again in the receiving process. `copy_move` is not one of
    /// them: `copy_move_max_pixels` carries it.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        // Named, not destructured: `trueshot::Config` is #[non_exhaustive].
        // A field added to it needs a keyword in `new` and a line here; the
        // test that every getter round-trips catches the second.
        let c = &self.inner;
        let settings = PyDict::new(py);
        settings.set_item("max_pixels", c.max_pixels)?;
        settings.set_item("max_file_bytes", c.max_file_bytes)?;
        settings.set_item("max_decoded_bytes", c.max_decoded_bytes)?;
        settings.set_item("heatmap", c.heatmap)?;
        // f32 widened to a Python float, narrowed back exactly by `new`.
        settings.set_item("max_false_alarm", c.max_false_alarm)?;
        settings.set_item("review_rate", c.review_rate)?;
        settings.set_item("model_path", c.model_path.clone())?;
        settings.set_item("time_budget_ms", c.time_budget_ms)?;
        settings.set_item("threads", c.threads)?;
        settings.set_item("copy_move_max_pixels", c.copy_move_max_pixels)?;
        // A partial of the class rather than a private rebuild function:
        // the pickle holds only public names, `trueshot.Config` and its
        // keywords.
        let rebuild = py
            .import("functools")?
            .getattr("partial")?
            .call((py.get_type::<PyConfig>(),), Some(&settings))?;
        Ok((rebuild, PyTuple::empty(py)))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyConfig>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }

    /// Consistent with `__eq__` (a `Config` is immutable), so a config can
    /// key a dict or an `lru_cache`: equal settings print the same `repr`
    /// (the floats are finite and validated, never -0.0 or NaN).
    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.__repr__().hash(&mut hasher);
        hasher.finish()
    }

    fn __repr__(&self) -> String {
        let c = &self.inner;
        let model = c.model_path.as_ref().map_or_else(
            || "None".to_string(),
            |p| crate::report::quoted(&p.display().to_string()),
        );
        let review_rate = c
            .review_rate
            .map_or_else(|| "None".to_string(), |r| r.to_string());
        format!(
            "Config(max_pixels={}, max_file_bytes={}, max_decoded_bytes={}, heatmap={}, \
             max_false_alarm={}, review_rate={review_rate}, model_path={model}, \
             time_budget_ms={}, threads={}, copy_move_max_pixels={})",
            c.max_pixels,
            c.max_file_bytes,
            c.max_decoded_bytes,
            if c.heatmap { "True" } else { "False" },
            c.max_false_alarm,
            c.time_budget_ms,
            c.threads,
            c.copy_move_max_pixels
        )
    }
}
