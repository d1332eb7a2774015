//! A fingerprint of the library's sources and built-in model
//! (`TRUESHOT_SOURCE_HASH`, 64-bit FNV-1a over the sorted file paths and
//! contents), so that the `calibrate --samples` cache can tell apart two
//! builds of one version whose detectors differ. The command-line tool
//! (src/bin) and the review page (src/html) measure nothing, and are left
//! out so that editing them does not rebuild the library.

use std::path::{Path, PathBuf};

fn main() {
    let mut files = Vec::new();
    for dir in ["src", "models"] {
        collect(Path::new(dir), &mut files);
    }
    files.sort();
    // Each file read, not the whole of src: a change to the tool or the
    // page would otherwise rebuild the library. A new module shows as a
    // change of the file that declares it.
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for file in &files {
        let name = file.to_string_lossy().into_owned().into_bytes();
        let contents = std::fs::read(file).unwrap_or_default();
        for b in name.iter().chain(&[0]).chain(&contents) {
            hash = (hash ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=TRUESHOT_SOURCE_HASH={hash:016x}");
}

/// Every file under `dir`, recursively (none if it cannot be read).
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path == Path::new("src/bin") || path == Path::new("src/html") {
            continue;
        }
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}
