//! Python exceptions, and the one mapping from `trueshot::Error` to them
//! (polars `exceptions.rs`).

use pyo3::exceptions::{
    PyException, PyFileNotFoundError, PyIsADirectoryError, PyOSError, PyPermissionError,
    PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

pyo3::create_exception!(
    trueshot,
    TrueshotError,
    PyException,
    "Base class of every error trueshot raises about an image or a setting."
);
pyo3::create_exception!(
    trueshot,
    DecodeError,
    TrueshotError,
    "The input claims to be an image but is truncated or corrupt."
);
pyo3::create_exception!(
    trueshot,
    UnsupportedFormatError,
    TrueshotError,
    "The bytes are not an image format trueshot reads (HEIC and AVIF are named)."
);
pyo3::create_exception!(
    trueshot,
    ImageTooLargeError,
    TrueshotError,
    "The image or file exceeds `Config.max_pixels` or `Config.max_file_bytes`."
);

/// `InvalidConfigError(TrueshotError, ValueError)` and
/// `InputChangedError(TrueshotError, RuntimeError)`. `create_exception!`
/// takes one base only, so these classes are made with
/// `type(name, bases, dict)`, once each.
static INVALID_CONFIG: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static INPUT_CHANGED: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The class `name(TrueshotError, base)` kept in `cell`.
fn dual_class<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
    base: Bound<'py, PyType>,
    doc: &str,
) -> PyResult<&'py Bound<'py, PyType>> {
    cell.get_or_try_init(py, || {
        let bases = PyTuple::new(py, [py.get_type::<TrueshotError>(), base])?;
        let dict = PyDict::new(py);
        dict.set_item("__module__", "trueshot")?;
        dict.set_item("__doc__", doc)?;
        let class = py.get_type::<PyType>().call1((name, bases, dict))?;
        Ok::<_, PyErr>(class.cast_into::<PyType>()?.unbind())
    })
    .map(|class| class.bind(py))
}

/// The `InvalidConfigError` class.
pub fn invalid_config_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    dual_class(
        py,
        &INVALID_CONFIG,
        "InvalidConfigError",
        py.get_type::<PyValueError>(),
        "A Config value is out of range, or a model file is unusable. Also a ValueError.",
    )
}

/// The `InputChangedError` class.
pub fn input_changed_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    dual_class(
        py,
        &INPUT_CHANGED,
        "InputChangedError",
        py.get_type::<PyRuntimeError>(),
        "A file analysed by path changed before Report.to_html read it again. \
         Also a RuntimeError.",
    )
}

/// An `InputChangedError` with `message`, tagged with the code `changed`.
pub fn input_changed(py: Python<'_>, message: String) -> PyErr {
    match input_changed_type(py) {
        Ok(class) => tagged(py, PyErr::from_type(class.clone(), message), "changed"),
        Err(err) => err,
    }
}

/// An `InvalidConfigError` with `message`, tagged with the code `invalid_config`.
pub fn invalid_config(py: Python<'_>, message: String) -> PyErr {
    match invalid_config_type(py) {
        Ok(class) => tagged(
            py,
            PyErr::from_type(class.clone(), message),
            "invalid_config",
        ),
        Err(err) => err,
    }
}

/// Convert a core error. This is the single place where a variant meets its
/// Python class; `Error::code()` is attached as the `code` attribute, the
/// same string as in the CLI's JSON records.
pub fn to_pyerr(py: Python<'_>, error: trueshot::Error) -> PyErr {
    let message = error.to_string();
    to_pyerr_with(py, error, message)
}

/// [`to_pyerr`] for an input other than the one analysed (a listing
/// photo): the message starts with `what`; an `OSError` names the file in
/// its `filename` already.
pub fn to_pyerr_about(py: Python<'_>, error: trueshot::Error, what: &str) -> PyErr {
    let message = format!("{what}: {error}");
    to_pyerr_with(py, error, message)
}

fn to_pyerr_with(py: Python<'_>, error: trueshot::Error, message: String) -> PyErr {
    let code = error.code();
    let err = match &error {
        trueshot::Error::Io { path, source } => {
            // OSError(errno, strerror, filename) fills `.errno` and `.filename`
            // the way open() does.
            // std appends " (os error N)" to strerror; Python shows the errno apart.
            let text = source.to_string();
            let strerror = match source.raw_os_error() {
                Some(n) => text
                    .trim_end_matches(&format!(" (os error {n})"))
                    .to_string(),
                None => text,
            };
            let args = (
                source
                    .raw_os_error()
                    .unwrap_or_else(|| posix_errno(source.kind())),
                strerror,
                path.to_string_lossy().into_owned(),
            );
            match source.kind() {
                std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(args),
                std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(args),
                std::io::ErrorKind::IsADirectory => PyIsADirectoryError::new_err(args),
                _ => PyOSError::new_err(args),
            }
        }
        trueshot::Error::Unsupported(_) => UnsupportedFormatError::new_err(message),
        trueshot::Error::Decode(_) => DecodeError::new_err(message),
        trueshot::Error::TooLarge { .. }
        | trueshot::Error::FileTooLarge { .. }
        | trueshot::Error::MemoryLimit { .. } => ImageTooLargeError::new_err(message),
        trueshot::Error::InvalidConfig(_) => return invalid_config(py, message),
        // `Error` is #[non_exhaustive]: a variant added to the core lands
        // here, still a TrueshotError, until it gets its own class.
        _ => TrueshotError::new_err(message),
    };
    tagged(py, err, code)
}

/// The POSIX errno of the kinds the core raises without an OS error (a path
/// that is a directory is refused before it is opened), so that `.errno`
/// says what `open()` would: EISDIR, ENOENT and EACCES have these numbers
/// on Linux and macOS, and in Python's `errno` on Windows.
fn posix_errno(kind: std::io::ErrorKind) -> i32 {
    match kind {
        std::io::ErrorKind::NotFound => 2,
        std::io::ErrorKind::PermissionDenied => 13,
        std::io::ErrorKind::IsADirectory => 21,
        _ => 0,
    }
}

/// Set `code` on the exception instance. Failing to set it must not hide the
/// original error, so that failure is ignored.
fn tagged(py: Python<'_>, err: PyErr, code: &'static str) -> PyErr {
    let _ = err.value(py).setattr("code", code);
    err
}

/// An `OSError` (or subclass) for a failed read or write of `path`.
pub fn io_error(py: Python<'_>, source: std::io::Error, path: &std::path::Path) -> PyErr {
    to_pyerr(
        py,
        trueshot::Error::Io {
            path: path.to_path_buf(),
            source,
        },
    )
}
