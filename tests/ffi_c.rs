//! Builds the C libraries (`--features capi`), then compiles and runs the C
//! test program `tests/c/test_api.c` against both `libtrueshot.so` and
//! `libtrueshot.a` (libimagequant's `c_test/`), the shared one also under
//! valgrind when it is installed (rustls-ffi's `VALGRIND`), and builds the C
//! and C++ examples against the header and runs them on a PNG made here.
//!
//! Needs a C compiler (`cc`, or `$CC`); without one these tests say so and
//! pass, so `cargo test` still works on a machine without C tools.
//! `TRUESHOT_NO_VALGRIND=1` skips the valgrind run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Link flags the static library needs, from
/// `cargo rustc --lib --features capi -- --print native-static-libs`
/// on Linux/glibc (std's own dependencies).
const STATIC_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn cc() -> Option<String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    have(&cc).then_some(cc)
}

/// The directory holding libtrueshot.{so,a}, after building them once per
/// test process with this test's profile, in a target directory of their
/// own (`<target>/capi-libs`): a plain `cargo build` resolves features
/// without the dev-dependencies, so its crates differ from the test build's,
/// and two builds of one crate side by side break rustdoc's doctests.
fn lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // This executable is <target>/<profile>/deps/ffi_c-<hash>.
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap().join("capi-libs");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .current_dir(root())
            .env("CARGO_TARGET_DIR", &target_dir)
            .args(["build", "--lib", "--features", "capi"]);
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        if release {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "cargo build --features capi failed");
        let lib_dir = target_dir.join(if release { "release" } else { "debug" });
        for lib in ["libtrueshot.so", "libtrueshot.a"] {
            assert!(lib_dir.join(lib).is_file(), "{lib} was not built");
        }
        lib_dir
    })
}

/// Run `cmd` to success and return its standard output. The programs find
/// the library of [`lib_dir`] first: `cargo test` puts its own target
/// directories on `LD_LIBRARY_PATH`, which outranks the rpath, and a
/// libtrueshot.so built there without the `capi` feature lacks the C symbols.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .env("LD_LIBRARY_PATH", lib_dir())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({})\nstdout:\n{text}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

enum Link {
    Shared,
    Static,
}

/// Compile `source` (C or C++ by `compiler`) against the header and library.
fn compile(compiler: &str, flags: &[&str], source: &Path, out: &Path, link: Link) {
    let lib = lib_dir();
    let mut cmd = Command::new(compiler);
    cmd.args(flags)
        .args(["-Wall", "-Wextra", "-Werror", "-I"])
        .arg(root().join("include"))
        .arg(source)
        .arg("-o")
        .arg(out);
    match link {
        Link::Shared => {
            cmd.arg("-L")
                .arg(lib)
                .arg("-ltrueshot")
                .arg(format!("-Wl,-rpath,{}", lib.display()))
                .args(["-lpthread", "-lm"]);
        }
        Link::Static => {
            cmd.arg(lib.join("libtrueshot.a")).args(STATIC_LIBS);
        }
    }
    run(&mut cmd);
}

const C_FLAGS: &[&str] = &["-std=c11", "-D_POSIX_C_SOURCE=200809L", "-pthread"];

/// The fixtures `tests/c/test_api.c` reads from the directory it is given:
/// `sideways.jpg`, 96x64 stored pixels whose EXIF orientation (6) turns
/// them upright to 64x96.
fn c_test_fixtures(dir: &Path) {
    let stored = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(96, 64, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 3) as u8, ((x ^ y) * 5) as u8])
    }));
    std::fs::write(
        dir.join("sideways.jpg"),
        common::jpeg_with_orientation(&stored, 6),
    )
    .unwrap();
    std::fs::write(
        dir.join("photo.jpg"),
        common::jpeg(&common::camera_like(640, 480, 5), 90),
    )
    .unwrap();
}

#[test]
fn c_test_against_shared_library() {
    let Some(cc) = cc() else {
        eprintln!("no C compiler: skipping the C API test");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    c_test_fixtures(dir.path());
    let exe = dir.path().join("test_api_shared");
    compile(
        &cc,
        C_FLAGS,
        &root().join("tests/c/test_api.c"),
        &exe,
        Link::Shared,
    );
    let out = run(Command::new(&exe).arg(dir.path()));
    assert!(out.contains("all C API checks passed"), "{out}");

    if std::env::var_os("TRUESHOT_NO_VALGRIND").is_none() && have("valgrind") {
        run(Command::new("valgrind")
            .args([
                "--error-exitcode=1",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
                "--quiet",
            ])
            .arg(&exe)
            .arg(dir.path()));
    }
}

#[test]
fn c_test_against_static_library() {
    let Some(cc) = cc() else {
        eprintln!("no C compiler: skipping the C API test");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    c_test_fixtures(dir.path());
    let exe = dir.path().join("test_api_static");
    compile(
        &cc,
        C_FLAGS,
        &root().join("tests/c/test_api.c"),
        &exe,
        Link::Static,
    );
    let out = run(Command::new(&exe).arg(dir.path()));
    assert!(out.contains("all C API checks passed"), "{out}");
}

/// A small PNG written with the image crate, for the examples to read.
fn sample_png(dir: &Path) -> PathBuf {
    let img = image::RgbImage::from_fn(96, 64, |x, y| {
        image::Rgb([(x * 2) as u8, (y * 3) as u8, ((x ^ y) * 5) as u8])
    });
    let path = dir.join("sample.png");
    img.save(&path).unwrap();
    path
}

#[test]
fn c_example_builds_and_runs() {
    let Some(cc) = cc() else {
        eprintln!("no C compiler: skipping the C example");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("analyze_c");
    compile(
        &cc,
        C_FLAGS,
        &root().join("examples/c/analyze.c"),
        &exe,
        Link::Static,
    );
    let png = sample_png(dir.path());
    let out = run(Command::new(&exe).arg(&png));
    assert!(out.contains("verdict:"), "{out}");
    // A missing file is reported, by the library's message, and a nonzero
    // exit.
    let missing = Command::new(&exe)
        .arg(dir.path().join("missing.png"))
        .env("LD_LIBRARY_PATH", lib_dir())
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("could not read") && stderr.contains("missing.png"),
        "{stderr}"
    );
}

#[test]
fn cpp_example_builds_and_runs() {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    if !have(&cxx) {
        eprintln!("no C++ compiler: skipping the C++ example");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("analyze_cpp");
    compile(
        &cxx,
        &["-std=c++17"],
        &root().join("examples/cpp/analyze.cpp"),
        &exe,
        Link::Shared,
    );
    let png = sample_png(dir.path());
    let out = run(Command::new(&exe).arg(&png));
    assert!(
        out.contains("verdict:") && out.contains("heatmap: 96x64"),
        "{out}"
    );
}

#[test]
fn header_compiles_as_strict_c99() {
    let Some(cc) = cc() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("only_header.c");
    std::fs::write(
        &src,
        "#include \"trueshot.h\"\nint main(void) { return 0; }\n",
    )
    .unwrap();
    run(Command::new(cc)
        .args([
            "-std=c99",
            "-pedantic",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsyntax-only",
            "-I",
        ])
        .arg(root().join("include"))
        .arg(&src));
}
