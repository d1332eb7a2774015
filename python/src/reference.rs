//! `trueshot.References`: the merchant's listing photos, read and indexed
//! once, then shared by every analysis that compares claims with them.
//!
//! `reference=` given as a list builds the same [`Catalogue`] on every call;
//! a prebuilt `References` hands its `Arc` to the analyser instead, so the
//! two give the same reports and differ only in what the call costs.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::config::PyConfig;
use crate::error::to_pyerr_about;
use crate::input::{self, Input, Kept};
use crate::interruptible;
use crate::report::quoted;

/// An indexed catalogue and what `Report.to_html` needs to show the
/// listing photo a claim matched.
pub struct Catalogue {
    /// What the core compares claims with. In an `Arc`, because
    /// `Analyzer::with_references` takes one: every analyser shares it.
    pub index: Arc<trueshot::References>,
    /// The photos as given, which reports keep for `to_html`; apart from
    /// the index, which a report must not keep alive (about 1-4 MB per
    /// listing).
    pub listings: Arc<Listings>,
}

/// The listing photos as given, for `Report.to_html`.
pub struct Listings {
    /// One per reference, in index order (`reference["index"]`): a file's
    /// path and digest, or a copy of the bytes or pixels given (kept as
    /// long as the catalogue or a report made with it lives).
    pub sources: Vec<Kept>,
    /// The settings the photos were read under. `to_html` decodes the
    /// matched one again under the same limits, which may not be those of
    /// the analysis that uses a prebuilt catalogue.
    pub config: trueshot::Config,
}

impl Catalogue {
    /// Convert `images` (one image, or a list or tuple of them, as
    /// `reference=` takes them) while the GIL is held, then read and index
    /// them without it, under `config`'s limits. The first reference that
    /// cannot be read or decoded raises its error, as an analysis does.
    pub fn build(
        py: Python<'_>,
        function: &str,
        images: &Bound<'_, PyAny>,
        config: &trueshot::Config,
    ) -> PyResult<Catalogue> {
        let inputs = input::extract_many(function, images, config)?;
        // Interruptible: a merchant's catalogue can take minutes to index.
        let built = interruptible(py, |stop| -> Result<_, (usize, trueshot::Error)> {
            let mut index = trueshot::References::new().with_limits(config);
            let sources = inputs
                .iter()
                .enumerate()
                .take_while(|_| !stop.load(Ordering::Relaxed))
                .map(|(i, input)| input.push_to(&mut index, config).map_err(|e| (i, e)))
                .collect::<Result<Vec<Kept>, _>>()?;
            Ok((index, sources))
        })?;
        // Say which listing failed: the error would otherwise read as the
        // claim's own (a broken listing is not a broken claim).
        let (index, sources) = built.map_err(|(i, e)| {
            let what = match &inputs[i] {
                Input::Path(path) => format!("reference {}", quoted(&path.display().to_string())),
                Input::Bytes(bytes) => format!("reference #{i} (<{} bytes>)", bytes.len()),
                Input::Pixels(..) => format!("reference #{i}"),
            };
            to_pyerr_about(py, e, &what)
        })?;
        Ok(Catalogue {
            index: Arc::new(index),
            listings: Arc::new(Listings {
                sources,
                config: config.clone(),
            }),
        })
    }

    /// A short description of one source, for `References.__repr__`.
    fn describe(source: &Kept) -> String {
        match source {
            Kept::Path { path, .. } => quoted(&path.display().to_string()),
            Kept::Input(Input::Bytes(bytes)) => format!("<{} bytes>", bytes.len()),
            Kept::Input(Input::Pixels(image, _)) => {
                format!("<{}x{} pixels>", image.width(), image.height())
            }
            // Not made by `Input::push_to`; described anyway rather than panicking.
            Kept::Input(Input::Path(path)) => quoted(&path.display().to_string()),
            Kept::Unpickled => "<unknown>".to_string(),
        }
    }
}

/// Sources `repr` names after the count; the rest are "...": a catalogue
/// can hold thousands.
const REPR_SOURCES: usize = 3;

/// The merchant's listing photos, read and indexed once.
///
/// `images` is one image or a list of them, of the kinds `analyze` takes.
/// Pass the catalogue as `reference=` to `analyze` and `analyze_many` to
/// compare many claims with the same listing without indexing it again.
/// `config`'s limits (`max_pixels`, `max_file_bytes`, `max_decoded_bytes`)
/// apply to reading the photos; for the rest, the settings of each analysis
/// that uses the catalogue apply.
#[pyclass(frozen, name = "References", module = "trueshot")]
pub struct PyReferences {
    pub catalogue: Arc<Catalogue>,
}

#[pymethods]
impl PyReferences {
    /// Raises as `analyze(..., reference=images)` would for the first photo
    /// that cannot be read or decoded (`FileNotFoundError`, `DecodeError`...).
    #[new]
    #[pyo3(signature = (images, *, config = None))]
    fn new(
        py: Python<'_>,
        images: &Bound<'_, PyAny>,
        config: Option<PyRef<'_, PyConfig>>,
    ) -> PyResult<Self> {
        let config = config.map(|c| c.inner.clone()).unwrap_or_default();
        let catalogue = Catalogue::build(py, "References", images, &config)?;
        Ok(PyReferences {
            catalogue: Arc::new(catalogue),
        })
    }

    fn __len__(&self) -> usize {
        self.catalogue.listings.sources.len()
    }

    /// `References(2 photos: 'listing-1.png', <52311 bytes>)`: how many,
    /// and the first few as they were given.
    fn __repr__(&self) -> String {
        let sources = &self.catalogue.listings.sources;
        let count = match sources.len() {
            1 => "1 photo".to_string(),
            n => format!("{n} photos"),
        };
        let mut shown: Vec<String> = sources
            .iter()
            .take(REPR_SOURCES)
            .map(Catalogue::describe)
            .collect();
        if sources.len() > REPR_SOURCES {
            shown.push("...".to_string());
        }
        if shown.is_empty() {
            format!("References({count})")
        } else {
            format!("References({count}: {})", shown.join(", "))
        }
    }

    /// Pickling is refused. The index is up to a few megabytes per photo
    /// and has no serialised form; pickling the sources instead would index
    /// them again in every process that unpickles one, for every task a pool
    /// sends it with: the cost this class exists to avoid, hidden.
    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "cannot pickle trueshot.References: build one in each process \
             (e.g. in the process pool's initializer) from the listing photos",
        ))
    }

    /// The catalogue cannot change, so a copy is the object itself (as for a
    /// tuple); without this, `copy` would fall back on pickling and fail.
    fn __copy__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __deepcopy__<'py>(slf: PyRef<'py, Self>, _memo: &Bound<'py, PyAny>) -> PyRef<'py, Self> {
        slf
    }
}
