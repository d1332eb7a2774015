//! The checked-in C header is exactly what the pinned cbindgen makes from
//! the source, and its version macros match Cargo.toml (after rustls-ffi's
//! `rustls_header_version.rs`). `REGENERATE=1 cargo test --test header`
//! (or `scripts/gen-header`) rewrites it; review the diff.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Generate the header text from `src/` and `cbindgen.toml`.
fn generate() -> String {
    let root = root();
    let mut config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("read cbindgen.toml");
    // The version macros come from Cargo.toml through cargo's env, so a
    // version bump without regenerating makes this test fail.
    config.after_includes = Some(format!(
        "\n#define TRUESHOT_VERSION_MAJOR {}\n#define TRUESHOT_VERSION_MINOR {}\n#define TRUESHOT_VERSION_PATCH {}\n",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
    ));
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi.rs"))
        .generate()
        .expect("cbindgen parses src/ffi.rs")
        .write(&mut out);
    String::from_utf8(out).expect("header is UTF-8")
}

fn header_path() -> PathBuf {
    root().join("include/trueshot.h")
}

#[test]
fn header_is_up_to_date() {
    let fresh = generate();
    let path = header_path();
    if std::env::var_os("REGENERATE").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // Written beside and renamed over, so that the other tests of this
        // binary, running at the same time, read the old or the new header,
        // never a partly written one.
        let partial = path.with_extension("h.partial");
        std::fs::write(&partial, &fresh).unwrap();
        std::fs::rename(&partial, &path).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != fresh {
        let first = checked_in
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| checked_in.lines().count().min(fresh.lines().count()));
        panic!(
            "include/trueshot.h is stale (first difference at line {}); run scripts/gen-header and review the diff",
            first + 1
        );
    }
}

/// Read `#define NAME value` from the header.
fn define(header: &str, name: &str) -> Option<String> {
    header.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some("#define") && words.next() == Some(name))
            .then(|| words.next().unwrap_or_default().to_string())
    })
}

/// The `version = "..."` of `[package]`, read from the file itself rather
/// than from cargo's env, so this check is independent of the generator.
fn cargo_toml_version(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let package = text.split("[package]").nth(1).unwrap();
    let line = package
        .lines()
        .find(|l| l.trim_start().starts_with("version"))
        .unwrap();
    line.split('"').nth(1).unwrap().to_string()
}

#[test]
fn version_macros_match_cargo_toml() {
    let header = std::fs::read_to_string(header_path()).unwrap();
    let version = cargo_toml_version(&root().join("Cargo.toml"));
    let parts: Vec<&str> = version.split(['.', '-', '+']).collect();
    for (name, want) in [
        ("TRUESHOT_VERSION_MAJOR", parts[0]),
        ("TRUESHOT_VERSION_MINOR", parts[1]),
        ("TRUESHOT_VERSION_PATCH", parts[2]),
    ] {
        assert_eq!(define(&header, name).as_deref(), Some(want), "{name}");
    }
}

#[test]
fn status_numbers_are_stable() {
    // The numbers are ABI: this fails if someone reorders or renumbers.
    let header = std::fs::read_to_string(header_path()).unwrap();
    for line in [
        "TRUESHOT_STATUS_OK = 0,",
        "TRUESHOT_STATUS_NULL_ARGUMENT = 1,",
        "TRUESHOT_STATUS_INVALID_ARGUMENT = 2,",
        "TRUESHOT_STATUS_IO = 3,",
        "TRUESHOT_STATUS_NOT_FOUND = 4,",
        "TRUESHOT_STATUS_UNSUPPORTED_FORMAT = 5,",
        "TRUESHOT_STATUS_DECODE = 6,",
        "TRUESHOT_STATUS_TOO_LARGE = 7,",
        "TRUESHOT_STATUS_PANIC = 100,",
    ] {
        assert!(header.contains(line), "missing `{line}`");
    }
}
