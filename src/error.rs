//! The one error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong while analysing an image.
///
/// Each variant has a stable [`code`](Error::code) shared by every face of the
/// library (CLI JSON, C status, Python exception). Messages never contain raw
/// bytes taken from the file: untrusted strings are escaped first.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("could not read {}: {source}", path.display())]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not an image format trueshot reads (HEIC and AVIF are named).
    #[error("unsupported image format: {0}")]
    Unsupported(String),
    /// The file claims to be an image but is truncated or corrupt.
    #[error("could not decode image: {0}")]
    Decode(String),
    /// The image (as declared by its header) exceeds a configured limit.
    #[error("image is {width}x{height} ({pixels} pixels); the limit is {limit} pixels")]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// `width * height`.
        pixels: u64,
        /// `Config::max_pixels`.
        limit: u64,
    },
    /// The file is larger than `Config::max_file_bytes`.
    #[error("file is {bytes} bytes; the limit is {limit} bytes")]
    FileTooLarge {
        /// Size of the input.
        bytes: u64,
        /// `Config::max_file_bytes`.
        limit: u64,
    },
    /// Decoding the image would take more memory than
    /// `Config::max_decoded_bytes` allows.
    #[error("decoding would exceed the memory limit of {limit} bytes: {detail}")]
    MemoryLimit {
        /// `Config::max_decoded_bytes`.
        limit: u64,
        /// What the decoder reported.
        detail: String,
    },
    /// A `Config` value is out of range, or a model file is unusable.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// A bug in trueshot: the analysis of this input panicked. The panic is
    /// caught so that one input cannot take down a batch or a service (the
    /// other inputs are unaffected); please report it with the input.
    #[error("internal error (a bug in trueshot; please report it with the input): {0}")]
    Internal(String),
}

impl Error {
    /// A stable snake_case identifier for the kind of error, used in JSON
    /// records, the C status mapping and Python exceptions.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                "not_found"
            }
            Error::Io { .. } => "io",
            Error::Unsupported(_) => "unsupported_format",
            Error::Decode(_) => "decode",
            Error::TooLarge { .. } | Error::FileTooLarge { .. } | Error::MemoryLimit { .. } => {
                "too_large"
            }
            Error::InvalidConfig(_) => "invalid_config",
            Error::Internal(_) => "internal",
        }
    }

    /// The error a caught panic becomes, from the payload
    /// `std::panic::catch_unwind` returns (`panic!` gives a `&str` or a
    /// `String`): for a caller containing panics of its own around work
    /// with trueshot, as the library does around each analysis.
    #[must_use]
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        Error::Internal(panic_text(payload).to_string())
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Run one analysis, turning a panic into [`Error::Internal`]: every
/// analysis entry point runs inside this, so that a bug hit by one crafted
/// upload fails that upload only (the batch faces promise that a file that
/// fails does not stop the others; the C ABI has its own boundary too).
/// State shared between analyses stays sound after a panic: the locks it
/// takes ignore poisoning and hold counts that each change sets at once.
pub(crate) fn contain_panic<T>(analysis: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(analysis))
        .unwrap_or_else(|payload| Err(Error::from_panic(payload.as_ref())))
}

/// The message a panic was raised with (`panic!` gives a `&str` or a `String`).
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

/// Escape an untrusted string for inclusion in a message: control characters
/// and anything outside printable text become `\u{..}` escapes, and the result
/// is capped so a crafted field cannot flood a log.
#[must_use]
pub fn escape_untrusted(text: &str, max_chars: usize) -> String {
    escape_control(text, max_chars, false)
}

/// [`escape_untrusted`] for multi-line text (generation parameters, shown
/// in a `<pre>` block): line breaks and tabs are kept.
pub(crate) fn escape_untrusted_lines(text: &str, max_chars: usize) -> String {
    escape_control(text, max_chars, true)
}

fn escape_control(text: &str, max_chars: usize, keep_lines: bool) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(2)));
    for (count, ch) in text.chars().enumerate() {
        if count >= max_chars {
            out.push('…');
            break;
        }
        if keep_lines && matches!(ch, '\n' | '\t') {
            out.push(ch);
        } else if ch.is_control() || matches!(ch, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_an_analysis_becomes_an_internal_error() {
        let answer: Result<u32, Error> = contain_panic(|| Ok(7));
        assert_eq!(answer.ok(), Some(7));
        let refused: Result<u32, Error> = contain_panic(|| Err(Error::Decode("eof".into())));
        assert_eq!(refused.err().map(|e| e.code()), Some("decode"));

        let error = contain_panic(|| -> Result<u32, Error> { panic!("boom {}", 42) })
            .expect_err("the panic is an error");
        assert_eq!(error.code(), "internal");
        assert!(error.to_string().ends_with(": boom 42"), "{error}");
    }

    #[test]
    fn a_panic_on_a_pool_thread_is_contained_too() {
        // The analyser runs its parallel loops in a pool of its own
        // (`Config::threads`): the panic of a worker comes back through
        // `install` to the thread that called the analysis.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("a pool");
        let error = contain_panic(|| -> Result<u32, Error> {
            pool.install(|| {
                rayon::join(|| 1, || -> u32 { panic!("worker") });
                Ok(0)
            })
        })
        .expect_err("the panic is an error");
        assert_eq!(error.code(), "internal");
        assert!(error.to_string().ends_with(": worker"), "{error}");
        // The pool survives for the next analysis.
        assert_eq!(pool.install(|| 3), 3);
    }
}
