//! Panics in the command-line tool: each file's work is contained, and a
//! panic is reported on one line of standard error.

use std::panic::{catch_unwind, AssertUnwindSafe, Location};

use trueshot::Error;

/// Run `work`, turning a panic into [`Error::Internal`], as the library does
/// around each analysis: a bug hit by one
/// file fails that file only. The scan calls it around each file's steps
/// after the analysis too (heatmap, review page, record) and around indexing
/// each reference photo.
///
/// `AssertUnwindSafe`: the callers keep no state that a panic could leave
/// half-changed. What `work` changes is its own (a reference catalogue being
/// built is dropped with the error) or already sound after a panic (the
/// analyser: the library's own containment relies on that, see
/// `contain_panic` in src/error.rs); the locks the scan shares between files
/// are taken outside it. A file written through a temporary
/// name may leave that temporary behind.
pub fn contain_panic<T>(work: impl FnOnce() -> T) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(work)).map_err(|payload| Error::from_panic(payload.as_ref()))
}

/// Report every panic on one line of standard error, in the form of the
/// tool's other messages, instead of Rust's report of several lines.
///
/// Most panics in a scan are contained (the file gets an `internal` record,
/// see [`contain_panic`]), but the hook runs before they are caught; the
/// default report would break into a scan's standard error, which a platform
/// logs, with lines that read as a crash. The line keeps what a bug report
/// needs that the record lacks: where in the code it happened. With
/// `RUST_BACKTRACE` set (and not `0`) the default report, backtrace
/// included, is kept, as a developer who set it expects. Only the binary
/// installs this hook: the library never touches the process's hook.
pub fn install_hook() {
    if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let message = match Error::from_panic(info.payload()) {
            Error::Internal(message) => message,
            other => other.to_string(),
        };
        eprintln!("{}", one_line(&message, info.location()));
    }));
}

/// The line [`install_hook`] prints. The message is escaped (a panic may
/// quote text read from a file) and capped, so that it stays one line.
fn one_line(message: &str, location: Option<&Location<'_>>) -> String {
    let error = Error::Internal(trueshot::escape_untrusted(message, 500));
    match location {
        Some(at) => format!("trueshot: {error} (at {}:{})", at.file(), at.line()),
        None => format!("trueshot: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_internal_error_as_in_the_library() {
        assert_eq!(contain_panic(|| 7).ok(), Some(7));
        let error = contain_panic(|| -> u32 { panic!("boom {}", 42) }).expect_err("contained");
        assert_eq!(error.code(), "internal");
        assert_eq!(
            error.to_string(),
            "internal error (a bug in trueshot; please report it with the input): boom 42"
        );
        let error = contain_panic(|| std::panic::panic_any(3_u8)).expect_err("contained");
        assert!(error.to_string().ends_with(": unknown panic"), "{error}");
    }

    #[test]
    fn the_hook_line_is_one_line_with_the_place() {
        let here = Location::caller();
        let line = one_line("bad \u{1b}[31mname\nsecond", Some(here));
        assert!(!line.contains('\n') && !line.contains('\u{1b}'), "{line}");
        assert!(line.starts_with("trueshot: internal error"), "{line}");
        assert!(line.contains("bad \\u{1b}[31mname\\nsecond"), "{line}");
        assert!(
            line.ends_with(&format!("(at {}:{})", here.file(), here.line())),
            "{line}"
        );
        assert!(one_line(&"x".repeat(10_000), None).len() < 700);
    }
}
