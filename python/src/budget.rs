//! `trueshot.MemoryBudget`: one memory budget shared by several
//! `analyze_many` calls (Python threads, Spark's listing groups).

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::error::invalid_config;

/// The largest budget, in megabytes (16 TiB): far beyond any machine, and
/// small enough that its bytes fit in `u64`.
pub const MAX_MEGABYTES: u64 = 1 << 24;

/// Megabytes of memory shared by the `analyze_many` calls given it as
/// `memory_budget=`: their images together are admitted while their
/// estimated peak memory fits, as `max_memory_mb` does for one call. Use
/// one when several Python threads analyse at once; `max_memory_mb` gives
/// each call a budget of its own.
#[pyclass(frozen, name = "MemoryBudget", module = "trueshot")]
pub struct PyMemoryBudget {
    pub inner: Arc<trueshot::MemoryBudget>,
}

#[pymethods]
impl PyMemoryBudget {
    /// Raises `InvalidConfigError` unless `megabytes` is in 1..=16777216.
    #[new]
    #[pyo3(signature = (megabytes))]
    fn new(py: Python<'_>, megabytes: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(PyMemoryBudget {
            inner: Arc::new(trueshot::MemoryBudget::new(megabytes_to_bytes(
                py,
                "megabytes",
                megabytes,
            )?)),
        })
    }

    /// The budget, in megabytes.
    #[getter]
    fn megabytes(&self) -> u64 {
        self.inner.limit() >> 20
    }

    /// The most bytes admitted at once so far (an image over the whole
    /// budget counts as the budget): how close the calls came to it.
    #[getter]
    fn peak_bytes(&self) -> u64 {
        self.inner.peak_bytes()
    }

    fn __repr__(&self) -> String {
        format!("MemoryBudget({} MB)", self.megabytes())
    }

    /// Pickling is refused: a budget counts the memory of one process, and
    /// a copy in another process would share nothing.
    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "cannot pickle trueshot.MemoryBudget: it counts one process's memory; \
             make one in each process",
        ))
    }

    /// Sharing is the point, so a copy is the object itself.
    fn __copy__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __deepcopy__<'py>(slf: PyRef<'py, Self>, _memo: &Bound<'py, PyAny>) -> PyRef<'py, Self> {
        slf
    }
}

/// `megabytes` (the argument `name`, a Python int) in bytes, or
/// `InvalidConfigError` for anything else and outside 1..=[`MAX_MEGABYTES`]
/// (a bool is not a number of megabytes; an int past 64 bits is out of
/// range, not an `OverflowError`).
pub fn megabytes_to_bytes(
    py: Python<'_>,
    name: &str,
    megabytes: &Bound<'_, PyAny>,
) -> PyResult<u64> {
    let invalid = || {
        let shown = megabytes
            .repr()
            .map_or_else(|_| "?".to_string(), |r| r.to_string());
        invalid_config(
            py,
            format!("{name} must be an int in 1..={MAX_MEGABYTES}, got {shown}"),
        )
    };
    if megabytes.is_instance_of::<pyo3::types::PyBool>() {
        return Err(invalid());
    }
    megabytes
        .extract::<u64>()
        .ok()
        .filter(|mb| (1..=MAX_MEGABYTES).contains(mb))
        .map(|mb| mb << 20)
        .ok_or_else(invalid)
}
