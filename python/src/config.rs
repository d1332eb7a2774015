//! `trueshot.Config`: the core `Config`, validated once when it is built.

use std::path::PathBuf;

use pyo3::prelude::*;

use crate::error::invalid_config;

/// Analysis settings. Every argument is keyword-only and mirrors a field of
/// the Rust `trueshot::Config`; values are checked here, so a bad one raises
/// `InvalidConfigError` (also a `ValueError`) before any image is read.
#[pyclass(frozen, name = "Config", module = "trueshot")]
#[derive(Clone)]
pub struct PyConfig {
    pub inner: trueshot::Config,
}

/// A Python int that must fit the field's unsigned type. Taking `i128`
/// lets a negative value raise InvalidConfigError, not OverflowError.
fn unsigned<T: TryFrom<i128>>(py: Python<'_>, name: &str, value: i128) -> PyResult<T> {
    T::try_from(value).map_err(|_| invalid_config(py, format!("{name} is out of range: {value}")))
}

#[pymethods]
impl PyConfig {
    #[new]
    #[pyo3(signature = (
        *,
        max_pixels = 100_000_000,
        max_file_bytes = 256 << 20,
        max_decoded_bytes = 2 << 30,
        heatmap = true,
        max_false_alarm = 0.01,
        model_path = None,
        time_budget_ms = 0,
        threads = 0,
    ))]
    #[allow(clippy::too_many_arguments)] // one keyword per Config field
    fn new(
        py: Python<'_>,
        max_pixels: i128,
        max_file_bytes: i128,
        max_decoded_bytes: i128,
        heatmap: bool,
        max_false_alarm: f64,
        model_path: Option<PathBuf>,
        time_budget_ms: i128,
        threads: i128,
    ) -> PyResult<Self> {
        let mut inner = trueshot::Config::default();
        inner.max_pixels = unsigned(py, "max_pixels", max_pixels)?;
        inner.max_file_bytes = unsigned(py, "max_file_bytes", max_file_bytes)?;
        inner.max_decoded_bytes = unsigned(py, "max_decoded_bytes", max_decoded_bytes)?;
        inner.heatmap = heatmap;
        // f64 -> f32 rounds; validate() then checks the range on what is used.
        inner.max_false_alarm = max_false_alarm as f32;
        inner.model_path = model_path;
        inner.time_budget_ms = unsigned(py, "time_budget_ms", time_budget_ms)?;
        inner.threads = unsigned(py, "threads", threads)?;
        inner
            .validate()
            .map_err(|e| crate::error::to_pyerr(py, e))?;
        Ok(PyConfig { inner })
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

    /// A fusion model file to use instead of the built-in one, or None.
    #[getter]
    fn model_path(&self) -> Option<PathBuf> {
        self.inner.model_path.clone()
    }

    /// Per-image time budget for the pixel detectors in ms; 0 = none.
    #[getter]
    fn time_budget_ms(&self) -> u64 {
        self.inner.time_budget_ms
    }

    /// Worker threads inside one image; 0 = rayon's global pool.
    #[getter]
    fn threads(&self) -> usize {
        self.inner.threads
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyConfig>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __repr__(&self) -> String {
        let c = &self.inner;
        let model = c.model_path.as_ref().map_or_else(
            || "None".to_string(),
            |p| crate::report::quoted(&p.display().to_string()),
        );
        format!(
            "Config(max_pixels={}, max_file_bytes={}, max_decoded_bytes={}, heatmap={}, \
             max_false_alarm={}, model_path={model}, time_budget_ms={}, threads={})",
            c.max_pixels,
            c.max_file_bytes,
            c.max_decoded_bytes,
            if c.heatmap { "True" } else { "False" },
            c.max_false_alarm,
            c.time_budget_ms,
            c.threads
        )
    }
}
