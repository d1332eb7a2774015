//! The native module `trueshot._trueshot`. The public package `trueshot`
//! (py_src/trueshot/__init__.py) re-exports it. Inputs are copied into Rust
//! values while the GIL is held; every analysis then runs with the GIL
//! released (`Python::detach`), so other Python threads keep running.

mod budget;
mod config;
mod error;
mod input;
mod reference;
mod report;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use numpy::{PyArrayDescrMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;
use rayon::prelude::*;
use trueshot::{Analyzer, MemoryBudget};

use crate::budget::PyMemoryBudget;
use crate::config::PyConfig;
use crate::error::{
    input_changed_type, invalid_config, invalid_config_type, to_pyerr, DecodeError,
    ImageTooLargeError, TrueshotError, UnsupportedFormatError,
};
use crate::input::{Input, Kept};
use crate::reference::{Catalogue, Listings, PyReferences};
use crate::report::{PyFinding, PyReport, Shared};

/// Build the analyser for one call with the GIL released (`threads` starts
/// a pool) while other Python threads run on. The model is the Config's,
/// loaded when it was made.
fn analyzer(py: Python<'_>, config: Option<&PyConfig>) -> PyResult<trueshot::Analyzer> {
    let (settings, model) = match config {
        Some(c) => (c.inner.clone(), Arc::clone(&c.model)),
        None => (trueshot::Config::default(), config::builtin_model()),
    };
    py.detach(|| trueshot::Analyzer::with_model(settings, model))
        .map_err(|e| to_pyerr(py, e))
}

/// Attach the `reference` argument to `analyzer`: a prebuilt `References`
/// as it is (an `Arc` clone, nothing read or indexed again), or one image or
/// a list of them, indexed here into a catalogue with the GIL released.
/// `None` and an empty catalogue leave the analyser as it is. The listing
/// photos are returned too: a report keeps them (not the index) to show the
/// matched one in `to_html`.
fn with_references(
    py: Python<'_>,
    function: &str,
    analyzer: trueshot::Analyzer,
    reference: Option<&Bound<'_, PyAny>>,
) -> PyResult<(trueshot::Analyzer, Option<Arc<Listings>>)> {
    let Some(reference) = reference.filter(|r| !r.is_none()) else {
        return Ok((analyzer, None));
    };
    let catalogue = match reference.cast::<PyReferences>() {
        Ok(prebuilt) => prebuilt.get().catalogue.clone(),
        Err(_) => Arc::new(Catalogue::build(
            py,
            function,
            reference,
            analyzer.config(),
        )?),
    };
    if catalogue.listings.sources.is_empty() {
        return Ok((analyzer, None));
    }
    let analyzer = analyzer.with_references(catalogue.index.clone());
    Ok((analyzer, Some(catalogue.listings.clone())))
}

/// Analyse one image and return a Report.
///
/// `image` is a path (str or os.PathLike), the bytes of an encoded file, a
/// numpy uint8 array of shape (H, W), (H, W, 3) or (H, W, 4), or a PIL
/// image. Paths and bytes also give the file's metadata to the provenance
/// detector; a PIL image gives what Pillow kept of it in `info` (EXIF, XMP,
/// PNG text, a comment; no C2PA, no JPEG tables); arrays carry pixels
/// only. 16-bit PIL images
/// ("I;16"...) and "I" (read as 16-bit) are brought to 8 bits as a 16-bit
/// PNG file is; "F" is read as 0.0 = black to 1.0 = white.
///
/// `reference` is the merchant's listing photo (same kinds), a list of
/// them, or a `References` built from them once for many calls: the
/// report's `reference` then says whether the claim is derived from one, and
/// a derived photo with changed regions is `edited`.
#[pyfunction]
#[pyo3(signature = (image, *, reference = None, config = None))]
fn analyze(
    py: Python<'_>,
    image: &Bound<'_, PyAny>,
    reference: Option<&Bound<'_, PyAny>>,
    config: Option<PyRef<'_, PyConfig>>,
) -> PyResult<PyReport> {
    let analyzer = analyzer(py, config.as_deref())?;
    let input = input::extract("analyze", image, analyzer.config())?;
    let (analyzer, references) = with_references(py, "analyze", analyzer, reference)?;
    let shared = Shared::new(&analyzer, references);
    let result = py.detach(|| input.analyze(&analyzer));
    let (report, kept) = result.map_err(|e| to_pyerr(py, e))?;
    Ok(PyReport::new(report, kept, shared))
}

/// Analyse many images in parallel (rayon, in Rust) and return the Reports
/// in the order given.
///
/// `threads=None` (or 0) uses rayon's global pool, one worker per core; a
/// number uses a pool of that size for this call. When an image fails, the
/// error of the first failing image (by position) is raised, unless
/// `return_exceptions=True`, which puts each exception in its place in the list.
/// `reference` (one image, a list, or a `References`) is compared with every
/// image; a listing that cannot be read raises its error (naming it) for
/// the whole batch, `return_exceptions` or not. `max_memory_mb` admits images while their estimated peak memory
/// (the file plus about 15 bytes per pixel) fits in that many megabytes:
/// files are read one by one on the calling thread, small images run side
/// by side, a large one waits for room, one over the whole budget runs
/// alone. Without it each worker holds one image at a time.
/// `memory_budget` (a `MemoryBudget`) does the same against a budget shared
/// with the other calls given it, such as calls on other Python threads;
/// give one or the other. Ctrl-C (on the main thread) stops the batch once
/// the images already started finish, and raises `KeyboardInterrupt`.
#[pyfunction]
#[pyo3(signature = (images, *, reference = None, threads = None, config = None, return_exceptions = false, max_memory_mb = None, memory_budget = None))]
#[allow(clippy::too_many_arguments)] // one per Python keyword argument
fn analyze_many<'py>(
    py: Python<'py>,
    images: &Bound<'py, PyAny>,
    reference: Option<&Bound<'py, PyAny>>,
    threads: Option<i64>,
    config: Option<PyRef<'py, PyConfig>>,
    return_exceptions: bool,
    max_memory_mb: Option<&Bound<'py, PyAny>>,
    memory_budget: Option<PyRef<'py, PyMemoryBudget>>,
) -> PyResult<Bound<'py, PyList>> {
    let analyzer = analyzer(py, config.as_deref())?;
    let budget: Option<Arc<MemoryBudget>> = match (max_memory_mb, memory_budget) {
        (None, None) => None,
        (Some(mb), None) => Some(Arc::new(MemoryBudget::new(budget::megabytes_to_bytes(
            py,
            "max_memory_mb",
            mb,
        )?))),
        (None, Some(shared)) => Some(Arc::clone(&shared.inner)),
        (Some(_), Some(_)) => {
            return Err(invalid_config(
                py,
                "analyze_many: give max_memory_mb or memory_budget, not both".to_string(),
            ))
        }
    };
    let threads = match threads {
        None => 0,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|&n| n <= 1024)
            .ok_or_else(|| invalid_config(py, format!("threads must be in 0..=1024, got {n}")))?,
    };
    // A single image is iterable too (a str by character, an array by row):
    // refuse it rather than analyse its pieces. An array is a batch when it
    // is one of objects (a column of encoded files) or of 4 dimensions
    // (images stacked along the first axis).
    let one_array = images.cast::<numpy::PyUntypedArray>().ok().filter(|array| {
        let objects = array.dtype().kind() == b'O';
        !(array.ndim() == 4 || (array.ndim() == 1 && objects))
    });
    if images.is_instance_of::<pyo3::types::PyString>()
        || images.is_instance_of::<pyo3::types::PyBytes>()
        || images.is_instance_of::<pyo3::types::PyByteArray>()
        || one_array.is_some()
    {
        let kind = match &one_array {
            Some(array) => format!("{}-dimensional array", array.ndim()),
            None => images.get_type().name()?.to_string(),
        };
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "analyze_many: expected an iterable of images (a list, a 1-dimensional object \
             array, or a 4-dimensional array of stacked images), got one {kind}; use \
             analyze() for one image"
        )));
    }
    // An item that cannot be taken (a wrong type, an array over the pixel
    // limit) fails in its place, like an image that fails to decode; an
    // error of the iterable itself (or Ctrl-C while it runs) is raised.
    let mut items: Vec<PyResult<Input>> = Vec::new();
    for item in images.try_iter()? {
        items.push(input::extract("analyze_many", &item?, analyzer.config()));
    }
    let (analyzer, references) = with_references(py, "analyze_many", analyzer, reference)?;
    let shared = Shared::new(&analyzer, references);
    let inputs: Vec<&Input> = items.iter().filter_map(|item| item.as_ref().ok()).collect();

    let results = interruptible(py, |stop| -> Result<Vec<_>, rayon::ThreadPoolBuildError> {
        if threads == 0 && budget.is_none() {
            // The global pool, unless this process was forked from one
            // that used it (multiprocessing): its threads are gone.
            return Ok(trueshot::in_live_pool(|| {
                analyze_all(&inputs, &analyzer, stop)
            }));
        }
        // With a budget the pool is always this call's own, so the thread
        // that waits for room is never one of its workers (a caller on a
        // worker of the global pool would otherwise stall it).
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        Ok(match &budget {
            Some(budget) => analyze_admitted(&inputs, &analyzer, budget, &pool, stop),
            None => pool.install(|| analyze_all(&inputs, &analyzer, stop)),
        })
    })?;
    let results = results.map_err(|e| {
        pyo3::exceptions::PyRuntimeError::new_err(format!("cannot start worker threads: {e}"))
    })?;

    // Back in input order: without return_exceptions, the first failing
    // image by position raises.
    let mut analysed = results.into_iter();
    let out = PyList::empty(py);
    for item in items {
        let error = match item {
            Err(e) => e,
            Ok(_) => match analysed.next().flatten() {
                Some(Ok((report, kept))) => {
                    out.append(Py::new(py, PyReport::new(report, kept, shared.clone()))?)?;
                    continue;
                }
                Some(Err(e)) => to_pyerr(py, e),
                None => {
                    pyo3::exceptions::PyRuntimeError::new_err("analyze_many: a result is missing")
                }
            },
        };
        if !return_exceptions {
            return Err(error);
        }
        out.append(error.into_value(py))?;
    }
    Ok(out)
}

/// One analysis's result, `None` if it is missing.
type Analysed = Option<Result<(trueshot::Report, Kept), trueshot::Error>>;

/// How often a batch's waiting thread looks for Python signals (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// Run `work` with the GIL released, on a thread of its own, while the
/// calling thread checks Python's signal handlers every [`SIGNAL_CHECK`]:
/// a batch of thousands of images must answer Ctrl-C the way Python code
/// does, not minutes later. When a handler raises (`KeyboardInterrupt`),
/// `stop` is set, the analyses already running finish (each checks the
/// deadline only between its steps), no image starts after it, and the
/// handler's exception is returned. Python runs signal handlers on the main
/// thread only, so a call from another thread is not interrupted.
pub(crate) fn interruptible<T: Send>(
    py: Python<'_>,
    work: impl FnOnce(&AtomicBool) -> T + Send,
) -> PyResult<T> {
    let stop = AtomicBool::new(false);
    let (result, interrupted) = py.detach(|| {
        let (done, finished) = mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let worker = std::thread::Builder::new().spawn_scoped(scope, || {
                // Dropped when `work` ends, by return or by panic, which
                // ends the wait below either way.
                let _done = done;
                work(&stop)
            });
            let worker = match worker {
                Ok(worker) => worker,
                Err(e) => return (Err(format!("cannot start a thread: {e}")), None),
            };
            let mut interrupted = None;
            while let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(SIGNAL_CHECK) {
                if interrupted.is_none() {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        stop.store(true, Ordering::Relaxed);
                        interrupted = Some(e);
                    }
                }
            }
            let joined = worker
                .join()
                .map_err(|panic| format!("a worker thread panicked: {}", panic_text(&*panic)));
            (joined, interrupted)
        })
    });
    if let Some(e) = interrupted {
        return Err(e);
    }
    result.map_err(pyo3::exceptions::PyRuntimeError::new_err)
}

/// The message of a panic's payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

/// Every input analysed in parallel in the current pool, in order; after
/// `stop` is set, the inputs not yet started are left `None`.
fn analyze_all(inputs: &[&Input], analyzer: &Analyzer, stop: &AtomicBool) -> Vec<Analysed> {
    inputs
        .par_iter()
        .map(|i| (!stop.load(Ordering::Relaxed)).then(|| i.analyze(analyzer)))
        .collect()
}

/// Every input analysed in `pool`, each admitted against `budget` first
/// (`trueshot::MemoryBudget::run_admitted`: files are read on this thread),
/// in order; after `stop` is set, no input is admitted.
fn analyze_admitted(
    inputs: &[&Input],
    analyzer: &Analyzer,
    budget: &MemoryBudget,
    pool: &rayon::ThreadPool,
    stop: &AtomicBool,
) -> Vec<Analysed> {
    let slots: Vec<Mutex<Analysed>> = inputs.iter().map(|_| Mutex::new(None)).collect();
    let put = |slot: &Mutex<Analysed>, result| {
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
    };
    budget.run_admitted(
        pool,
        inputs
            .iter()
            .zip(&slots)
            .take_while(|_| !stop.load(Ordering::Relaxed)),
        |(input, slot)| {
            let loaded = input.load(analyzer.config());
            let estimate = loaded
                .as_ref()
                .map_or(0, |l| l.estimated_peak_bytes(analyzer.config()));
            ((loaded, slot), estimate)
        },
        |(loaded, slot)| {
            // Admitted before Ctrl-C, started after: left out as well.
            if !stop.load(Ordering::Relaxed) {
                put(slot, loaded.and_then(|l| l.analyze(analyzer)));
            }
        },
    );
    slots
        .into_iter()
        .map(|slot| slot.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect()
}

/// Write the report's heatmap as an 8-bit greyscale PNG at image resolution:
/// 255 = most suspicious, 128 or more = flagged. The same file as the CLI's
/// `--heatmap-dir`; needs no Pillow.
#[pyfunction]
#[pyo3(signature = (report, path))]
fn write_heatmap_png(py: Python<'_>, report: PyRef<'_, PyReport>, path: PathBuf) -> PyResult<()> {
    let Some(map) = report.inner.heatmap.as_ref() else {
        return Err(PyValueError::new_err(
            "write_heatmap_png: the report has no heatmap (Config(heatmap=False))",
        ));
    };
    let result = py.detach(|| {
        map.to_gray_image()
            .save_with_format(&path, image::ImageFormat::Png)
    });
    match result {
        Ok(()) => Ok(()),
        Err(image::ImageError::IoError(e)) => Err(error::io_error(py, e, &path)),
        Err(e) => Err(pyo3::exceptions::PyOSError::new_err(format!(
            "write_heatmap_png: cannot write {}: {e}",
            path.display()
        ))),
    }
}

/// Keep at most `megabytes` of dropped image-buffer memory for the next
/// images of this process (default 256, or the TRUESHOT_SPARE_MB
/// environment variable); 0 keeps nothing, for workers that want the memory
/// back after each image. Process-wide; what no longer fits is handed back
/// to the system at once.
#[pyfunction]
#[pyo3(signature = (megabytes))]
fn set_spare_memory(megabytes: usize) {
    trueshot::set_spare_memory(megabytes);
}

#[pymodule]
fn _trueshot(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyConfig>()?;
    m.add_class::<PyReport>()?;
    m.add_class::<PyFinding>()?;
    m.add_class::<PyReferences>()?;
    m.add_class::<PyMemoryBudget>()?;
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    m.add_function(wrap_pyfunction!(analyze_many, m)?)?;
    m.add_function(wrap_pyfunction!(write_heatmap_png, m)?)?;
    m.add_function(wrap_pyfunction!(set_spare_memory, m)?)?;
    m.add("TrueshotError", py.get_type::<TrueshotError>())?;
    m.add("DecodeError", py.get_type::<DecodeError>())?;
    m.add(
        "UnsupportedFormatError",
        py.get_type::<UnsupportedFormatError>(),
    )?;
    m.add("ImageTooLargeError", py.get_type::<ImageTooLargeError>())?;
    m.add("InvalidConfigError", invalid_config_type(py)?)?;
    m.add("InputChangedError", input_changed_type(py)?)?;
    Ok(())
}
