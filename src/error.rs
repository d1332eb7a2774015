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
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Escape an untrusted string for inclusion in a message: control characters
/// and anything outside printable text become `\u{..}` escapes, and the result
/// is capped so a crafted field cannot flood a log.
#[must_use]
pub fn escape_untrusted(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 2));
    for (count, ch) in text.chars().enumerate() {
        if count >= max_chars {
            out.push('…');
            break;
        }
        if ch.is_control() || matches!(ch, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    out
}
