//! The command-line contract of ../shared/corpus/README.md, on files made here.

mod common;

use std::process::Command;

use common::*;

fn trueshot() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trueshot"))
}

/// The command ended with `code`; its stderr is shown when it did not.
fn assert_exit(out: &std::process::Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh directory, removed when the test ends, whether it passed or not.
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("trueshot-cli-{name}-"))
        .tempdir()
        .expect("temp dir")
}

#[test]
fn bad_files_get_error_records_and_exit_1() {
    let scratch = temp_dir("mixed");
    let dir = scratch.path();
    let good = jpeg(&camera_like(120, 90, 1), 90);
    std::fs::write(dir.join("good.jpg"), &good).expect("write");
    std::fs::write(dir.join("empty.jpg"), b"").expect("write");
    std::fs::write(dir.join("random.png"), [0x5Au8; 4096]).expect("write");
    std::fs::write(dir.join("truncated.jpg"), &good[..good.len() / 3]).expect("write");
    let mut bomb = png(&camera_like(8, 8, 2));
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    std::fs::write(dir.join("bomb.png"), &bomb).expect("write");
    std::fs::write(dir.join("notes.txt"), b"not an image").expect("write");
    let heat = dir.join("heat");
    let scan = |input: &std::path::Path| {
        trueshot()
            .args(["scan", "--format", "jsonl", "--heatmap-dir"])
            .arg(&heat)
            .arg(input)
            .output()
            .expect("run")
    };

    let out = scan(dir);
    assert_exit(&out, 1);
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(records.len(), 5, "txt files are skipped in directories");
    for r in &records {
        let path = r["path"].as_str().expect("path");
        if path.ends_with("good.jpg") {
            assert!(r["error"].is_null());
            let score = r["score"].as_f64().expect("score");
            assert!((0.0..=1.0).contains(&score));
            assert!(r["verdict"].is_string());
            let map = image::open(r["heatmap"].as_str().expect("heatmap path")).expect("png");
            assert_eq!((map.width(), map.height()), (120, 90));
            assert_eq!(map.color(), image::ColorType::L8);
        } else {
            assert!(r["error"]["code"].is_string(), "{r}");
            assert!(r["error"]["message"].is_string(), "{r}");
        }
    }
    let code_of = |name: &str| {
        records
            .iter()
            .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .map(|r| r["error"]["code"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(code_of("bomb.png").as_deref(), Some("too_large"));
    assert_eq!(code_of("empty.jpg").as_deref(), Some("decode"));
    assert_eq!(code_of("truncated.jpg").as_deref(), Some("decode"));
    assert_eq!(code_of("random.png").as_deref(), Some("unsupported_format"));

    // The heatmap directory lies in the scanned one: a second run leaves
    // the first run's heatmaps out, and the directory named alone is read.
    assert_eq!(std::fs::read_dir(&heat).expect("heatmaps").count(), 1);
    let again = scan(dir);
    assert_exit(&again, 1);
    assert_eq!(String::from_utf8_lossy(&again.stdout).lines().count(), 5);
    let alone = scan(&heat);
    assert_exit(&alone, 0);
    assert_eq!(String::from_utf8_lossy(&alone.stdout).lines().count(), 1);
}

#[test]
fn all_good_exits_0_and_usage_error_exits_2() {
    let scratch = temp_dir("good");
    let dir = scratch.path();
    let file = dir.join("a.png");
    std::fs::write(&file, png(&camera_like(64, 64, 3))).expect("write");
    let ok = trueshot()
        .args(["scan", "--format", "json"])
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(ok.status.code(), Some(0));
    let array: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("json array");
    assert_eq!(array.as_array().map(Vec::len), Some(1));
    let human = trueshot().args(["scan"]).arg(&file).output().expect("run");
    assert_eq!(human.status.code(), Some(0));
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.starts_with("AUTHENTIC") || text.starts_with("INCONCLUSIVE"),
        "{text}"
    );
    let usage = trueshot()
        .args(["scan", "--format", "xml"])
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(usage.status.code(), Some(2));
    let nothing = trueshot().args(["scan"]).output().expect("run");
    assert_eq!(nothing.status.code(), Some(2));
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("dir");
    let none_found = trueshot().args(["scan"]).arg(&empty).output().expect("run");
    assert_eq!(none_found.status.code(), Some(2));
}

/// A tiny labelled corpus: camera-like JPEGs against flat-shaded PNGs, from
/// four source repositories, each with both classes, so that
/// cross-validation has groups to split and every training split both.
fn tiny_corpus(dir: &std::path::Path) -> std::path::PathBuf {
    let mut labels = String::from("file,label,kind,set,mask,source,generator\n");
    for i in 0..16u64 {
        let repo = format!("owner/repo{}", (i / 2) % 4);
        if i % 2 == 0 {
            let name = format!("real_{i}.jpg");
            std::fs::write(dir.join(&name), jpeg(&camera_like(160, 120, i), 90)).expect("write");
            labels += &format!("{name},real,camera,asfound,,{repo}:{name},\n");
        } else {
            let name = format!("ai_{i}.png");
            let flat = image::RgbImage::from_fn(160, 120, |x, y| {
                image::Rgb([(x + i as u32) as u8, y as u8, 128])
            });
            std::fs::write(dir.join(&name), png(&flat)).expect("write");
            labels += &format!("{name},ai_generated,generated,asfound,,{repo}:{name},test\n");
        }
    }
    let path = dir.join("labels.csv");
    std::fs::write(&path, labels).expect("labels");
    path
}

/// [`tiny_corpus`] with each `(from, to)` replaced in its labels.
fn tiny_corpus_with(dir: &std::path::Path, replacements: &[(&str, &str)]) -> std::path::PathBuf {
    let labels = tiny_corpus(dir);
    let text = std::fs::read_to_string(&labels).expect("labels");
    let text = replacements
        .iter()
        .fold(text, |text, (from, to)| text.replace(from, to));
    std::fs::write(&labels, text).expect("labels");
    labels
}

#[test]
fn calibrate_with_given_features_then_eval_with_that_model() {
    let scratch = temp_dir("calibrate");
    let dir = scratch.path();
    let labels = tiny_corpus(dir);
    let model = dir.join("model.json");
    let features = "texture_stats.d1_1_1,spectrum.grid_peak";
    let calibrate_with = |features: &str, output: &std::path::Path, extra: &[&str]| {
        trueshot()
            .args(["calibrate", "--variants", "", "--folds", "2"])
            .args(["--features", features])
            .args(extra)
            .arg(&labels)
            .arg("-o")
            .arg(output)
            .output()
            .expect("run calibrate")
    };
    let calibrate =
        |features: &str, output: &std::path::Path| calibrate_with(features, output, &[]);
    let out = calibrate(features, &model);
    assert_exit(&out, 0);
    let fitted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&model).expect("model")).expect("json");
    assert_eq!(
        fitted["features"],
        serde_json::json!(features.split(',').collect::<Vec<_>>())
    );
    assert!(fitted["description"]
        .as_str()
        .is_some_and(|d| d.contains("given by --features")));

    // An unknown feature is an error, not a silently smaller model.
    assert!(!calibrate("no.such", &dir.join("bad.json")).status.success());

    let eval_with = |model: &std::path::Path, extra: &[&str]| {
        let out = trueshot()
            .args(["eval", "--format", "json", "--model"])
            .arg(model)
            .args(extra)
            .arg(&labels)
            .output()
            .expect("run eval");
        assert_exit(&out, 0);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("eval json")
    };
    let figures = eval_with(&model, &[]);
    assert!(figures.to_string().contains("asfound"), "{figures}");
    // The model keeps its training files' fingerprints, and eval on them
    // says its figures are in-sample; the built-in model has not seen them.
    assert_eq!(
        fitted["training_files"].as_array().map(Vec::len),
        Some(16),
        "{fitted}"
    );
    assert_eq!(figures["files_in_training"], 16);
    let warned = trueshot()
        .args(["eval", "--model"])
        .arg(&model)
        .arg(&labels)
        .output()
        .expect("run eval");
    let stderr = String::from_utf8_lossy(&warned.stderr);
    assert!(
        stderr.contains("fitted on 16 of these 16 files"),
        "{stderr}"
    );
    // The model records the build that fitted it: this one, so no warning;
    // from another build, every command that loads it says so.
    assert!(fitted["fitted_by"]
        .as_str()
        .is_some_and(|b| b.contains('+')));
    assert!(!stderr.contains("fitted by trueshot"), "{stderr}");
    let mut other = fitted.clone();
    other["fitted_by"] = serde_json::json!("0.0.1+0000000000000000");
    let older = dir.join("older.json");
    std::fs::write(&older, other.to_string()).expect("model");
    let scan_with = |model: &std::path::Path| {
        trueshot()
            .args(["scan", "--format", "jsonl", "--model"])
            .arg(model)
            .arg(dir.join("real_0.jpg"))
            .output()
            .expect("run scan")
    };
    let out = scan_with(&older);
    assert_exit(&out, 0);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the model was fitted by trueshot 0.0.1+0000000000000000"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let builtin = trueshot()
        .args(["eval", "--format", "json"])
        .arg(&labels)
        .output()
        .expect("run eval");
    assert_exit(&builtin, 0);
    let unseen: serde_json::Value = serde_json::from_slice(&builtin.stdout).expect("json");
    assert_eq!(unseen["files_in_training"], 0);
    assert!(!String::from_utf8_lossy(&builtin.stderr).contains("in-sample"));
    // Every set gives its AUC before the camera discount, and the fusion's
    // own notes are not listed as a detector.
    let text = figures.to_string();
    assert!(text.contains("\"auc_before_camera_discount\""), "{text}");
    assert!(!text.contains("\"fusion\":"), "{text}");
    // Each of the model's features has its own AUC, feature-only
    // detectors (texture_stats) included.
    let feature_auc = &figures["sets"][0]["feature_auc"];
    for name in features.split(',') {
        assert!(feature_auc[name].is_number(), "{feature_auc}");
    }
    // Every set's AUC and false-alarm rate come with their 95% intervals,
    // which hold them (an AUC of 1 has none: its variance is 0).
    for set in figures["sets"].as_array().expect("sets") {
        let bracket = |value: &str, interval: &str| {
            let v = set[value].as_f64().expect("figure");
            match set[interval]
                .as_array()
                .map(|b| (b[0].as_f64(), b[1].as_f64()))
            {
                Some((Some(low), Some(high))) => {
                    assert!(0.0 <= low && low <= v && v <= high && high <= 1.0, "{set}");
                }
                _ => assert!(set[interval].is_null() && v == 1.0, "{set}"),
            }
        };
        bracket("auc", "auc_ci95");
        bracket("false_alarm_rate", "false_alarm_rate_ci95");
        assert!(set["false_alarm_rate_ci95"].is_array(), "{set}");
    }
    // The model keeps its genuine photos' out-of-fold scores, ascending, so
    // a review rate can be asked of it; eval reports the review shares.
    let genuine = fitted["genuine_scores"].as_array().expect("genuine scores");
    let genuine: Vec<f64> = genuine
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    assert!(
        !genuine.is_empty() && genuine.windows(2).all(|w| w[0] <= w[1]),
        "{genuine:?}"
    );
    // This corpus separates perfectly (every genuine score near 0), so the
    // review rate is checked on the same heads with spread genuine scores.
    let mut spread = fitted.clone();
    spread["genuine_scores"] =
        serde_json::json!([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    spread["operating_points"] =
        serde_json::json!([{"max_false_alarm": 0.01, "flag": 0.99, "authentic": 0.95}]);
    let spread_model = dir.join("spread.json");
    std::fs::write(&spread_model, spread.to_string()).expect("model");
    let (own, wide) = (
        eval_with(&spread_model, &[]),
        eval_with(&spread_model, &["--review-rate", "0.5"]),
    );
    assert_eq!(wide["review_rate"], 0.5);
    let point = |figures: &serde_json::Value, key: &str| {
        figures["operating_point"][key].as_f64().expect("threshold")
    };
    assert_eq!(point(&own, "flag"), point(&wide, "flag"));
    assert!((point(&own, "authentic") - 0.95).abs() < 1e-6, "{own}");
    assert!((point(&wide, "authentic") - 0.4001).abs() < 1e-6, "{wide}");
    let figures = wide;
    let in_unit = |v: &serde_json::Value| v.as_f64().is_some_and(|v| (0.0..=1.0).contains(&v));
    for set in figures["sets"].as_array().expect("sets") {
        assert!(set["real_reviewed"].is_number(), "{set}");
        assert!(set["kinds"][0]["reviewed"].is_number(), "{set}");
        // What the heatmaps mark on genuine photos.
        assert!(in_unit(&set["real_marked"]), "{set}");
        assert!(in_unit(&set["real_marked_area"]), "{set}");
    }
    // A perturbation that moves the pixels leaves the heatmaps out, and
    // with them the marks: no figure rather than a zero.
    let moved = eval_with(&spread_model, &["--perturb", "crop:0.9"]);
    for set in moved["sets"].as_array().expect("sets") {
        assert!(set["real_marked"].is_null(), "{set}");
        assert!(set["real_marked_area"].is_null(), "{set}");
    }

    // Boosted heads: the model file carries trees, and analysis loads it.
    let boosted = dir.join("boosted.json");
    let out = calibrate_with(features, &boosted, &["--heads", "boosted"]);
    assert_exit(&out, 0);
    let fitted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&boosted).expect("model")).expect("json");
    assert!(fitted["ai_generated"]["trees"].is_array(), "{fitted}");
    assert_eq!(fitted["cross_validation"]["heads"], "boosted");
    assert_exit(&scan_with(&boosted), 0);

    // A samples cache is reused by the same labels, and refused (an error,
    // no panic) by labels it was not made from.
    let cache = dir.join("samples.jsonl");
    let cached = |labels: &std::path::Path| {
        trueshot()
            .args(["calibrate", "--variants", "", "--folds", "2"])
            .args(["--features", features, "--samples"])
            .arg(&cache)
            .arg(labels)
            .arg("-o")
            .arg(dir.join("cached.json"))
            .output()
            .expect("run calibrate")
    };
    assert_exit(&cached(&labels), 0);
    assert_exit(&cached(&labels), 0);
    let text = std::fs::read_to_string(&labels).expect("labels");
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1..].reverse();
    let shuffled = dir.join("shuffled.csv");
    std::fs::write(&shuffled, lines.join("\n")).expect("labels");
    let out = cached(&shuffled);
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("samples cache"));
}

/// A `--reference-dir` without any image file (a listing volume that did
/// not mount) is a usage error for `scan` and `report`, as a missing one is:
/// matching against nothing would clear every doctored copy.
#[test]
fn an_empty_reference_directory_is_a_usage_error() {
    let scratch = temp_dir("empty-references");
    let dir = scratch.path();
    std::fs::create_dir_all(dir.join("listings/sub")).expect("dirs");
    std::fs::write(dir.join("listings/notes.txt"), b"no photo").expect("write");
    let photo = jpeg(&camera_like(120, 90, 3), 90);
    std::fs::write(dir.join("claim.jpg"), &photo).expect("write");
    std::fs::write(dir.join("listing.jpg"), &photo).expect("write");
    for command in ["scan", "report"] {
        let mut run = trueshot();
        run.current_dir(dir)
            .args([command, "claim.jpg", "--reference", "listing.jpg"]);
        run.args(["--reference-dir", "listings"]);
        if command == "report" {
            run.args(["-o", "claim.html"]);
        }
        let out = run.output().expect("run");
        assert_exit(&out, 2);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("holds no image file"),
            "{command}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{command}");
        assert!(!dir.join("claim.html").exists());
    }
}

/// `report --reference` and `scan --reference --html-dir` compare the claim
/// with the listing photo and show that photo, aligned, on the page: a
/// listing with a painted patch is `edited`.
#[test]
fn review_pages_compare_with_the_reference_and_show_it() {
    let scratch = temp_dir("pages");
    let dir = scratch.path();
    // Detail everywhere (a mosaic of tiles over camera-like noise), as on a
    // product photo: the match is read on textured blocks.
    let mut listing = camera_like(480, 360, 11);
    for (x, y, p) in listing.enumerate_pixels_mut() {
        let tile = (x / 12).wrapping_mul(2_654_435_761) ^ (y / 12).wrapping_mul(40_503);
        let shade = (tile % 97) as f32 / 97.0 - 0.5;
        for c in &mut p.0 {
            *c = (f32::from(*c) * (1.0 + 0.6 * shade)).clamp(0.0, 255.0) as u8;
        }
    }
    let mut claim = listing.clone();
    for y in 120..200 {
        for x in 160..260 {
            claim.put_pixel(x, y, image::Rgb([40, 30, 25]));
        }
    }
    std::fs::write(dir.join("listing.jpg"), jpeg(&listing, 92)).expect("write");
    std::fs::write(dir.join("claim.jpg"), jpeg(&claim, 90)).expect("write");
    let page = dir.join("claim.html");
    let out = trueshot()
        .args(["report", "claim.jpg", "--reference", "listing.jpg", "-o"])
        .arg(&page)
        .current_dir(dir)
        .output()
        .expect("run");
    assert_exit(&out, 0);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("show no listing"));
    let html = std::fs::read_to_string(&page).expect("page");
    assert!(html.contains("Listing photo, aligned to the claim"));
    assert!(
        html.contains("reference.derived_edited"),
        "not derived with changes"
    );

    let pages = dir.join("pages");
    let out = trueshot()
        .args([
            "scan",
            "--format",
            "jsonl",
            "--reference",
            "listing.jpg",
            "--html-dir",
        ])
        .arg(&pages)
        .arg("claim.jpg")
        .current_dir(dir)
        .output()
        .expect("run");
    assert_exit(&out, 0);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("show no listing"));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON record");
    assert_eq!(record["verdict"], "edited", "{record}");
    let page = std::fs::read_dir(&pages)
        .expect("pages")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n != "index.html"))
        .expect("a page");
    let html = std::fs::read_to_string(page).expect("page");
    assert!(html.contains("Listing photo, aligned to the claim"));
}

/// Heatmaps: a path given twice gets one whole file, a long non-ASCII name
/// a short ASCII one, and a heatmap that cannot be written is said in the
/// record (`heatmap_error`) instead of silently missing.
#[test]
fn heatmap_files_are_whole_named_safely_and_failures_reported() {
    let scratch = temp_dir("heatmaps");
    let dir = scratch.path();
    let long = format!("{}.png", "图".repeat(83)); // 251 bytes: a legal name
    std::fs::write(dir.join(&long), png(&camera_like(160, 120, 3))).expect("write");
    std::fs::write(dir.join("a.png"), png(&camera_like(160, 120, 4))).expect("write");
    let scan = |maps: &str, code: i32| {
        let out = trueshot()
            .args([
                "scan",
                "--format",
                "jsonl",
                "--heatmap-dir",
                maps,
                "a.png",
                "a.png",
            ])
            .arg(&long)
            .current_dir(dir)
            .output()
            .expect("run");
        assert_exit(&out, code);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
            .collect::<Vec<_>>()
    };
    let records = scan("maps", 0);
    assert_eq!(records.len(), 3);
    for r in &records {
        let file = r["heatmap"].as_str().expect("heatmap written");
        assert!(std::path::Path::new(file)
            .file_name()
            .is_some_and(|n| n.len() <= 120));
        let map = image::open(dir.join(file)).expect("a whole PNG");
        assert_eq!((map.width(), map.height()), (160, 120));
    }
    // The same name taken by a directory: the write fails, the record says
    // so. (Records come in completion order: find a.png's by its path.)
    let taken = records
        .iter()
        .find(|r| r["path"] == "a.png")
        .and_then(|r| r["heatmap"].as_str())
        .expect("a.png's heatmap")
        .to_string();
    std::fs::remove_file(dir.join(&taken)).expect("remove");
    std::fs::create_dir(dir.join(&taken)).expect("dir");
    // An output that could not be written fails the scan (exit 1).
    let records = scan("maps", 1);
    let a = records
        .iter()
        .find(|r| r["path"] == "a.png")
        .expect("a.png");
    assert!(a["heatmap"].is_null(), "{a}");
    assert!(
        a["heatmap_error"].as_str().is_some_and(|m| !m.is_empty()),
        "{a}"
    );
    assert!(a["error"].is_null());
}

/// Write `labels.csv` (header plus `rows`) into `dir` and return its path.
fn labels_file(dir: &std::path::Path, rows: &[&str]) -> std::path::PathBuf {
    let mut text = String::from("file,label,kind,set,mask,source,generator\n");
    for row in rows {
        text += row;
        text.push('\n');
    }
    let path = dir.join("labels.csv");
    std::fs::write(&path, text).expect("labels");
    path
}

/// `--nested` scores every sample once more, each outer fold by a model
/// whose features were selected (and penalty and thresholds chosen) on the
/// other folds alone; on this separable corpus it still separates.
#[test]
fn calibrate_nested_scores_every_sample_by_a_model_tuned_without_it() {
    let scratch = temp_dir("calibrate-nested");
    let dir = scratch.path();
    let labels = tiny_corpus(dir);
    let model = dir.join("model.json");
    let out = trueshot()
        .args([
            "calibrate",
            "--variants",
            "",
            "--folds",
            "2",
            "--max-features",
            "2",
        ])
        .arg("--nested")
        .arg(&labels)
        .arg("-o")
        .arg(&model)
        .output()
        .expect("run calibrate");
    assert_exit(&out, 0);
    let fitted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&model).expect("model")).expect("json");
    let cv = &fitted["cross_validation"];
    let count = |figures: &serde_json::Value, key: &str| figures[0][key].as_u64().expect("count");
    let (plain, nested) = (&cv["out_of_fold"], &cv["nested_out_of_fold"]);
    assert_eq!(count(nested, "n_real"), 8, "{cv}");
    assert_eq!(count(nested, "n_positive"), 8, "{cv}");
    assert_eq!(count(plain, "n_real"), count(nested, "n_real"));
    let auc = nested[0]["auc"].as_f64().expect("nested AUC");
    assert!(auc >= 0.75, "{cv}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nested fold 2/2"), "{stderr}");
    // Features selected within each fold are part of what is nested...
    assert_eq!(cv["nested_features_fixed"], false, "{cv}");
    assert!(!stderr.contains("features are fixed"), "{stderr}");
    // ...fixed ones are not, and the model and stderr say so.
    let fixed = dir.join("fixed.json");
    let out = calibrate_fast(&labels, &fixed, &["--folds", "2", "--nested"]);
    assert_exit(&out, 0);
    let fitted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&fixed).expect("model")).expect("json");
    assert_eq!(fitted["cross_validation"]["nested_features_fixed"], true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("features are fixed (--features)"),
        "{stderr}"
    );
    // Without the flag, no nested figures (they cost `folds` fits more).
    let plain_model = dir.join("plain.json");
    assert_exit(&calibrate_fast(&labels, &plain_model, &["--folds", "2"]), 0);
    let fitted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plain_model).expect("model")).expect("json");
    assert!(fitted["cross_validation"]
        .get("nested_out_of_fold")
        .is_none());
}

/// Without --features or --max-features, calibrate refits the built-in
/// model's features (a fresh selection did not generalise on the
/// development corpus); --max-features selects afresh.
#[test]
fn calibrate_refits_the_builtin_features_by_default() {
    let scratch = temp_dir("calibrate-default");
    let dir = scratch.path();
    let labels = tiny_corpus(dir);
    let fit = |extra: &[&str]| -> serde_json::Value {
        let model = dir.join("model.json");
        let out = trueshot()
            .args(["calibrate", "--variants", "", "--folds", "2"])
            .args(extra)
            .arg(&labels)
            .arg("-o")
            .arg(&model)
            .output()
            .expect("run calibrate");
        assert_exit(&out, 0);
        serde_json::from_slice(&std::fs::read(&model).expect("model")).expect("json")
    };
    let builtin: serde_json::Value =
        serde_json::from_str(include_str!("../models/default.json")).expect("built-in model");
    let default = fit(&[]);
    assert_eq!(default["features"], builtin["features"]);
    assert!(default["description"]
        .as_str()
        .is_some_and(|d| d.contains("the built-in model's")));
    let selected = fit(&["--max-features", "1"]);
    assert_eq!(selected["features"].as_array().map(Vec::len), Some(1));
}

/// `calibrate` with the fast settings of the tests above.
fn calibrate_fast(
    labels: &std::path::Path,
    model: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    trueshot()
        .args(["calibrate", "--variants", ""])
        .args(["--features", "texture_stats.d1_1_1,spectrum.grid_peak"])
        .args(extra)
        .arg(labels)
        .arg("-o")
        .arg(model)
        .output()
        .expect("run calibrate")
}

/// An output `calibrate` cannot write (`-o`, `--samples`) is refused before
/// the analysis, which takes hours on a large corpus, not after it.
#[test]
fn calibrate_checks_its_outputs_before_analysing() {
    let scratch = temp_dir("calibrate-outputs");
    let dir = scratch.path();
    std::fs::write(dir.join("a.jpg"), jpeg(&camera_like(160, 120, 1), 90)).expect("write");
    let labels = labels_file(dir, &["a.jpg,real,camera,s1,,a,"]);
    let model = dir.join("model.json");
    for (flag, extra, output) in [
        ("-o", vec![], dir.join("missing/model.json")),
        ("-o", vec![], dir.to_path_buf()),
        (
            "--samples",
            vec!["--samples", "missing/s.jsonl"],
            model.clone(),
        ),
    ] {
        let out = trueshot()
            .current_dir(dir)
            .args(["calibrate", "--variants", ""])
            .args(&extra)
            .arg(&labels)
            .arg("-o")
            .arg(&output)
            .output()
            .expect("run calibrate");
        assert_exit(&out, 2);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag), "{stderr}");
        assert!(!stderr.contains("analysed"), "{stderr}");
    }
    assert!(!model.exists());
}

/// No usable samples, or no genuine or no positive ones, is an error that
/// says which files failed, and no model is written.
#[test]
fn calibrate_without_usable_data_writes_no_model() {
    let scratch = temp_dir("calibrate-unusable");
    let dir = scratch.path();
    let model = dir.join("model.json");
    let labels = labels_file(
        dir,
        &[
            "nope.jpg,real,camera,s1,,a,",
            "gone.png,edited,splice,s1,,b,",
        ],
    );
    let out = calibrate_fast(&labels, &model, &[]);
    assert_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nope.jpg") && stderr.contains("gone.png"),
        "{stderr}"
    );
    assert!(!model.exists());

    for i in 0..4u64 {
        std::fs::write(
            dir.join(format!("real_{i}.jpg")),
            jpeg(&camera_like(160, 120, i), 90),
        )
        .expect("write");
    }
    let rows: Vec<String> = (0..4)
        .map(|i| format!("real_{i}.jpg,real,camera,s1,,owner/repo{i}:x,"))
        .collect();
    let labels = labels_file(dir, &rows.iter().map(String::as_str).collect::<Vec<_>>());
    let out = calibrate_fast(&labels, &model, &[]);
    assert_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Said from the labels, before any file is analysed.
    assert!(
        stderr.contains("no ai_generated or edited rows") && !stderr.contains("analysed"),
        "{stderr}"
    );
    assert!(!model.exists());
    let rows: Vec<String> = (0..4)
        .map(|i| format!("real_{i}.jpg,edited,splice,s1,,owner/repo{i}:x,"))
        .collect();
    let labels = labels_file(dir, &rows.iter().map(String::as_str).collect::<Vec<_>>());
    let out = calibrate_fast(&labels, &model, &[]);
    assert_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no genuine (real) rows"), "{stderr}");
    assert!(!model.exists());
}

/// A `--features` list naming no feature, one feature twice or a feature of
/// no detector, and
/// `--max-features` with boosted heads (which use every feature) are
/// refused before anything is analysed, and no model is written.
#[test]
fn calibrate_refuses_bad_feature_arguments() {
    let scratch = temp_dir("calibrate-feature-lists");
    let dir = scratch.path();
    let labels = tiny_corpus(dir);
    let model = dir.join("model.json");
    for (arguments, needle) in [
        (["--features", " , "], "names no feature"),
        (
            [
                "--features",
                "spectrum.grid_peak,texture_stats.d1_1_1,spectrum.grid_peak",
            ],
            "spectrum.grid_peak twice",
        ),
        (
            ["--features", "spectrum.grid_peak,nosuch.x"],
            "nosuch.x, which is not a detector's feature",
        ),
        (
            ["--heads", "boosted"],
            "boosted heads use every usable feature",
        ),
    ] {
        let boosted = arguments[0] == "--heads";
        let out = trueshot()
            .args(["calibrate", "--variants", ""])
            .args(arguments)
            .args(if boosted {
                &["--max-features", "2"][..]
            } else {
                &[][..]
            })
            .arg(&labels)
            .arg("-o")
            .arg(&model)
            .output()
            .expect("run calibrate");
        assert_exit(&out, 2);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{stderr}");
        assert!(!model.exists());
    }
}

/// Genuine photos and positives in different sets leave nothing to measure
/// the model on (a set is one comparison): refused before the analysis.
#[test]
fn calibrate_refuses_sets_without_both_classes() {
    let scratch = temp_dir("calibrate-unpaired");
    let dir = scratch.path();
    let labels = tiny_corpus_with(
        dir,
        &[
            (",real,camera,asfound,", ",real,camera,photos,"),
            (",generated,asfound,", ",generated,fakes,"),
        ],
    );
    let model = dir.join("model.json");
    let out = trueshot()
        .args(["calibrate", "--variants", ""])
        .arg(&labels)
        .arg("-o")
        .arg(&model)
        .output()
        .expect("run calibrate");
    assert_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no set holds both"), "{stderr}");
    assert!(!stderr.contains("analysed"), "{stderr}");
    assert!(!model.exists());
}

/// Labels without rows, or with a label outside the format, are errors.
#[test]
fn eval_refuses_empty_labels_and_unknown_labels() {
    let scratch = temp_dir("eval-labels");
    let dir = scratch.path();
    std::fs::write(dir.join("a.jpg"), jpeg(&camera_like(160, 120, 1), 90)).expect("write");
    let eval = |labels: &std::path::Path| {
        trueshot()
            .arg("eval")
            .arg(labels)
            .output()
            .expect("run eval")
    };
    let out = eval(&labels_file(dir, &[]));
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no rows"));
    let empty = dir.join("empty.csv");
    std::fs::write(&empty, "").expect("write");
    assert_exit(&eval(&empty), 2);
    let out = eval(&labels_file(dir, &["a.jpg,Real,camera,s1,,a,"]));
    assert_exit(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown label") && stderr.contains("Real"),
        "{stderr}"
    );
    // A file is one class, counted once per set; it may take part in
    // several sets (a leading ./ spells the same path).
    std::fs::write(dir.join("b.jpg"), jpeg(&camera_like(160, 120, 2), 90)).expect("write");
    std::fs::create_dir(dir.join("sub")).expect("mkdir");
    let pair = ["a.jpg,real,camera,s1,,a,", "b.jpg,edited,splice,s1,,b,"];
    let rows = |extra: &str| labels_file(dir, &[pair[0], pair[1], extra]);
    let out = eval(&rows("./a.jpg,real,camera,s2,,a,"));
    assert_exit(&out, 0);
    // However the path is spelt, it is the same file.
    let absolute = dir.join("a.jpg").to_string_lossy().into_owned();
    for (extra, says) in [
        (
            "./a.jpg,real,resaved,s1,,a,".to_string(),
            "listed twice in set \"s1\" (also on line 2)",
        ),
        (
            "sub/.//../a.jpg,real,resaved,s1,,a,".to_string(),
            "listed twice in set \"s1\" (also on line 2)",
        ),
        (
            format!("{absolute},real,resaved,s1,,a,"),
            "listed twice in set \"s1\" (also on line 2)",
        ),
        (
            "b.jpg,real,camera,s2,,b,".to_string(),
            "labelled real here but edited on line 3",
        ),
        (
            "./sub/../b.jpg,real,camera,s2,,b,".to_string(),
            "labelled real here but edited on line 3",
        ),
    ] {
        let out = eval(&rows(&extra));
        assert_exit(&out, 2);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("line 4") && stderr.contains(says),
            "{stderr}"
        );
    }
}

/// More folds than source groups are reduced (with a note); out-of-range
/// fold counts are usage errors, not a panic.
#[test]
fn calibrate_folds_are_bounded() {
    let scratch = temp_dir("folds");
    let dir = scratch.path();
    let labels = tiny_corpus(dir);
    let model = dir.join("model.json");
    let out = calibrate_fast(&labels, &model, &["--folds", "1000"]);
    assert_exit(&out, 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("using 4 folds"));
    let fitted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&model).expect("model")).expect("json");
    assert_eq!(fitted["cross_validation"]["folds"], 4);
    for folds in ["0", "1", "10001", "18446744073709551615"] {
        let out = calibrate_fast(&labels, &dir.join("bad.json"), &["--folds", folds]);
        assert_exit(&out, 2);
        assert!(String::from_utf8_lossy(&out.stderr).contains("--folds"));
    }
}

/// A `--roc` path that cannot be written is refused before analysing; a
/// write that fails late still leaves the figures on stdout.
#[test]
fn eval_checks_the_roc_path_first_and_prints_figures_before_drawing() {
    let scratch = temp_dir("roc");
    let dir = scratch.path();
    let labels = tiny_corpus(dir);
    let eval = |roc: &std::path::Path| {
        trueshot()
            .arg("eval")
            .arg("--roc")
            .arg(roc)
            .arg(&labels)
            .output()
            .expect("run eval")
    };
    // A directory where the file should go is refused first too.
    let taken = dir.join("taken.png");
    std::fs::create_dir(&taken).expect("dir");
    for roc in [dir.join("no/such/dir/roc.png"), dir.join("roc.jpg"), taken] {
        let out = eval(&roc);
        assert_exit(&out, 2);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("trueshot: --roc"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    // A link into a directory that does not exist: found only when writing.
    #[cfg(unix)]
    {
        let dangling = dir.join("dangling.png");
        std::os::unix::fs::symlink(dir.join("gone/roc.png"), &dangling).expect("link");
        let out = eval(&dangling);
        assert_exit(&out, 2);
        assert!(String::from_utf8_lossy(&out.stdout).contains("asfound"));
    }
}

/// Set and kind names come from the labels file: printed escaped, so that
/// a name cannot send control sequences to the terminal or break a
/// Markdown table.
#[test]
fn eval_prints_set_and_kind_names_escaped() {
    let scratch = temp_dir("names");
    let dir = scratch.path();
    let labels = tiny_corpus_with(
        dir,
        &[
            (",asfound,", ",as|found\u{1b}[2J,"),
            (",generated,", ",gen|erated\u{7},"),
        ],
    );
    for format in ["human", "markdown"] {
        let out = trueshot()
            .args(["eval", "--format", format])
            .arg(&labels)
            .output()
            .expect("run eval");
        assert_exit(&out, 0);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains(['\u{1b}', '\u{7}']), "{stdout}");
        if format == "markdown" {
            assert!(stdout.contains("| as\\|found"), "{stdout}");
            assert!(stdout.contains("| gen\\|erated"), "{stdout}");
        }
    }
}

/// An empty perturbation list or step is an error, in `eval --perturb` and
/// in `calibrate --variants` (where `""` still means no extra variants).
#[test]
fn empty_perturbation_specs_are_errors() {
    let scratch = temp_dir("perturb");
    let dir = scratch.path();
    let labels = tiny_corpus(dir);
    for spec in ["", ",", "jpeg:80,", "jpeg:70.5-70.9"] {
        let out = trueshot()
            .args(["eval", "--perturb", spec])
            .arg(&labels)
            .output()
            .expect("run eval");
        assert_exit(&out, 2);
        assert!(String::from_utf8_lossy(&out.stderr).contains("perturbation"));
    }
    let out = calibrate_fast(
        &labels,
        &dir.join("m.json"),
        &["--variants", "gif;jpeg:80,"],
    );
    assert_exit(&out, 2);
}

/// Corpus reads are bounded like every other read, and a mask that is not
/// an image is a warning, not a silently smaller localisation figure.
#[test]
fn eval_bounds_reads_and_warns_about_bad_masks() {
    let scratch = temp_dir("eval-masks");
    let dir = scratch.path();
    std::fs::write(dir.join("notes.txt"), b"not an image").expect("write");
    let mut rows = Vec::new();
    for i in 0..2u64 {
        std::fs::write(
            dir.join(format!("r{i}.jpg")),
            jpeg(&camera_like(160, 120, i), 90),
        )
        .expect("write");
        std::fs::write(
            dir.join(format!("e{i}.png")),
            png(&camera_like(160, 120, i + 7)),
        )
        .expect("write");
        rows.push(format!("r{i}.jpg,real,camera,s1,,a{i},"));
        rows.push(format!("e{i}.png,edited,splice,s1,notes.txt,b{i},"));
    }
    if cfg!(target_os = "linux") {
        rows.push("/dev/zero,real,camera,s1,,z,".into());
    }
    let labels = labels_file(dir, &rows.iter().map(String::as_str).collect::<Vec<_>>());
    let out = trueshot()
        .arg("eval")
        .arg(&labels)
        .output()
        .expect("run eval");
    // /dev/zero is a sample that failed.
    assert_exit(&out, if cfg!(target_os = "linux") { 1 } else { 0 });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: mask notes.txt"), "{stderr}");
    if cfg!(target_os = "linux") {
        assert!(stderr.contains("/dev/zero"), "{stderr}");
    }
}

/// The README's quickstart shows what `trueshot scan examples/images`
/// prints: each verdict line there (verdict, score, path) must be what the
/// command prints now, so the sample cannot go stale.
#[test]
fn readme_quickstart_sample_matches_the_command() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README");
    let sample = readme
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the quickstart's text block");
    let verdict_lines = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(char::is_uppercase))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    let out = trueshot()
        .args(["scan", "examples/images"])
        .current_dir(root)
        .output()
        .expect("run");
    assert_exit(&out, 0);
    // Records print in completion order, which varies.
    let mut printed = verdict_lines(&String::from_utf8_lossy(&out.stdout));
    let mut shown = verdict_lines(sample);
    assert_eq!(shown.len(), 4, "{sample}");
    printed.sort();
    shown.sort();
    assert_eq!(printed, shown);
}

/// `scan --time-budget-ms` reaches the analysis: a budget spent on decoding
/// skips the detectors, which the record lists, and clears nothing.
#[test]
fn scan_takes_a_time_budget() {
    let scratch = temp_dir("budget");
    let dir = scratch.path();
    let file = dir.join("a.jpg");
    std::fs::write(&file, jpeg(&camera_like(1600, 1200, 21), 92)).expect("write");
    let record = |budget: &str| {
        let out = trueshot()
            .args(["scan", "--format", "jsonl", "--time-budget-ms", budget])
            .arg(&file)
            .output()
            .expect("run");
        assert_exit(&out, 0);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("record")
    };
    let cut = record("1");
    assert!(
        cut["incomplete"].as_array().is_some_and(|a| !a.is_empty()),
        "{cut}"
    );
    assert_eq!(cut["verdict"], "inconclusive");
    let unlimited = record("0");
    assert_eq!(unlimited["verdict"], "authentic", "{unlimited}");
    assert!(unlimited["incomplete"].as_array().is_none_or(Vec::is_empty));
}

/// `scan --review-rate` moves the authentic threshold only, and is checked.
#[test]
fn scan_takes_a_review_rate() {
    let scratch = temp_dir("review");
    let dir = scratch.path();
    let file = dir.join("a.jpg");
    std::fs::write(&file, jpeg(&camera_like(160, 120, 22), 90)).expect("write");
    let run = |extra: &[&str]| {
        trueshot()
            .args(["scan", "--format", "jsonl"])
            .args(extra)
            .arg(&file)
            .output()
            .expect("run")
    };
    let record = |extra: &[&str]| {
        let out = run(extra);
        assert_exit(&out, 0);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("record")
    };
    let (default, wide) = (record(&[]), record(&["--review-rate", "0.3"]));
    assert_eq!(default["score"], wide["score"]);
    assert_eq!(default["flag_threshold"], wide["flag_threshold"]);
    let threshold = |r: &serde_json::Value| r["authentic_threshold"].as_f64().expect("threshold");
    assert!(threshold(&wide) < threshold(&default), "{wide}");
    let out = run(&["--review-rate", "1.5"]);
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("review_rate"));
    // The review page takes it too.
    let out = trueshot()
        .args(["report", "--review-rate", "1.5", "-o"])
        .arg(dir.join("page.html"))
        .arg(&file)
        .output()
        .expect("run report");
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("review_rate"));
    // ... and quotes it in the operating point, as scan's pages do.
    let report_page = |extra: &[&str], name: &str| {
        let page = dir.join(name);
        let out = trueshot()
            .arg("report")
            .args(extra)
            .arg("-o")
            .arg(&page)
            .arg(&file)
            .output()
            .expect("run report");
        assert_exit(&out, 0);
        std::fs::read_to_string(&page).expect("page")
    };
    let quoted = "about 30% of genuine photos go to review";
    assert!(report_page(&["--review-rate", "0.3"], "page.html").contains(quoted));
    let pages = dir.join("pages");
    let out = trueshot()
        .args(["scan", "--review-rate", "0.3", "--html-dir"])
        .arg(&pages)
        .arg(&file)
        .output()
        .expect("run scan");
    assert_exit(&out, 0);
    let scan_page = std::fs::read_dir(&pages)
        .expect("pages")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("a."))
        })
        .expect("a's page");
    assert!(std::fs::read_to_string(scan_page)
        .expect("page")
        .contains(quoted));
    // A false-alarm rate stricter than the model's strictest point is
    // served by that point, and the page quotes the point's rate.
    let strict = report_page(&["--max-false-alarm", "0.001"], "strict.html");
    assert!(strict.contains("at most 0.5% false alarms"));
}

/// The CLI's record holds the report's numbers exactly (each f32 widened),
/// as the library's JSON and the Python wheel give them: parsing the JSON
/// text back had moved some by one unit in the last place.
#[test]
fn scan_records_hold_the_reports_floats_exactly() {
    let scratch = temp_dir("floats");
    let dir = scratch.path();
    let file = dir.join("a.jpg");
    let bytes = jpeg(&camera_like(640, 480, 7), 90);
    std::fs::write(&file, &bytes).expect("write");
    let out = trueshot()
        .args(["scan", "--format", "jsonl"])
        .arg(&file)
        .output()
        .expect("run");
    assert_exit(&out, 0);
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).expect("record");
    let report = trueshot::analyze_bytes(&bytes, &trueshot::Config::default()).expect("analysis");
    assert!(!report.features.is_empty());
    for (name, &value) in &report.features {
        assert_eq!(
            record["features"][name].as_f64(),
            Some(f64::from(value)),
            "{name}"
        );
    }
    assert_eq!(
        record["authentic_threshold"].as_f64(),
        Some(f64::from(report.authentic_threshold))
    );
}

/// With `--max-memory-mb` the files are read and admitted one by one
/// before the pool analyses them (a 1 MB budget admits one image here at a
/// time: each is estimated at 0.9 MB or more): the records are those of a
/// scan without it, in the same order, bad files included, and review
/// pages are written under the budget too.
#[test]
fn a_memory_budget_changes_no_record() {
    let scratch = temp_dir("memory");
    let dir = scratch.path();
    for (i, size) in [(640, 480), (300, 200), (900, 700)].into_iter().enumerate() {
        let photo = camera_like(size.0, size.1, 30 + i as u64);
        std::fs::write(dir.join(format!("{i}.jpg")), jpeg(&photo, 90)).expect("write");
    }
    std::fs::write(dir.join("broken.png"), [0x89u8, b'P', b'N', b'G']).expect("write");
    let missing = dir.join("missing.jpg");
    let records = |extra: &[&str]| {
        let out = trueshot()
            .args(["scan", "--format", "json", "--threads", "2"])
            .args(extra)
            .arg(dir)
            .arg(&missing)
            .output()
            .expect("run");
        assert_exit(&out, 1);
        let array: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json array");
        array
            .as_array()
            .expect("array")
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {}",
                    r["path"], r["score"], r["verdict"], r["error"]["code"]
                )
            })
            .collect::<Vec<String>>()
    };
    let free = records(&[]);
    assert_eq!(free.len(), 5);
    assert_eq!(records(&["--max-memory-mb", "1"]), free);
    let pages = dir.join("pages");
    let pages_arg = pages.to_string_lossy().into_owned();
    assert_eq!(
        records(&["--max-memory-mb", "4096", "--html-dir", &pages_arg]),
        free
    );
    assert!(pages.join("index.html").is_file());
    let refused = trueshot()
        .args(["scan", "--max-memory-mb", "0"])
        .arg(dir)
        .output()
        .expect("run");
    assert_exit(&refused, 2);
}

/// `trueshot scan --format jsonl --files-from -` on `threads` threads, its
/// standard streams piped.
fn scan_fed_by_stdin(threads: &str) -> std::process::Child {
    trueshot()
        .args(["scan", "--format", "jsonl", "--threads", threads])
        .args(["--files-from", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run")
}

/// `--files-from -` reads the list as the scan goes: the first record comes
/// out before the list is complete (a queue feeding one long-running scan),
/// and later entries, a missing file and a `\r\n` line end included, follow.
#[test]
fn files_from_stdin_are_analysed_as_they_arrive() {
    use std::io::{BufRead, Write};
    let scratch = temp_dir("stream");
    let dir = scratch.path();
    let first = dir.join("first.jpg");
    let second = dir.join("second.jpg");
    std::fs::write(&first, jpeg(&camera_like(160, 120, 41), 90)).expect("write");
    std::fs::write(&second, jpeg(&camera_like(160, 120, 42), 90)).expect("write");
    let missing = dir.join("missing.jpg");
    let mut child = scan_fed_by_stdin("2");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if lines.send(line.expect("utf-8 record")).is_err() {
                break;
            }
        }
    });
    writeln!(stdin, "{}", first.display()).expect("write the list");
    stdin.flush().expect("flush");
    let record = received
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("a record while the list is still open");
    let record: serde_json::Value = serde_json::from_str(&record).expect("json");
    assert_eq!(record["path"].as_str(), Some(&*first.to_string_lossy()));
    assert!(record["error"].is_null(), "{record}");

    write!(stdin, "\n{}\r\n{}\n", second.display(), missing.display()).expect("write");
    drop(stdin);
    let rest: Vec<serde_json::Value> = received
        .iter()
        .map(|l| serde_json::from_str(&l).expect("json"))
        .collect();
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(1), "a listed file is missing");
    let code_of = |path: &std::path::Path| {
        rest.iter()
            .find(|r| r["path"].as_str() == Some(&*path.to_string_lossy()))
            .map(|r| r["error"]["code"].as_str().unwrap_or("none").to_string())
    };
    assert_eq!(rest.len(), 2, "{rest:?}");
    assert_eq!(code_of(&second).as_deref(), Some("none"));
    assert_eq!(code_of(&missing).as_deref(), Some("not_found"));
}

/// When the reader of the records goes away, the scan stops taking files
/// from the list (a queue feeding it must not be drained into a closed
/// pipe) and says so with exit status 2.
#[test]
fn files_from_stops_when_the_output_is_closed() {
    use std::io::{BufRead, Write};
    let scratch = temp_dir("closed-output");
    let dir = scratch.path();
    let photo = dir.join("photo.jpg");
    std::fs::write(&photo, jpeg(&camera_like(160, 120, 61), 90)).expect("write");
    let mut child = scan_fed_by_stdin("1");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    writeln!(stdin, "{}", photo.display()).expect("write the list");
    stdin.flush().expect("flush");
    let mut first = String::new();
    stdout.read_line(&mut first).expect("the first record");
    assert!(first.contains("photo.jpg"), "{first}");
    drop(stdout);
    // Entries after the reader left: the first is analysed and fails to
    // print; the scan then takes no more of them. A write may fail once
    // the scan has stopped reading.
    for _ in 0..50 {
        if writeln!(stdin, "{}", photo.display()).is_err() {
            break;
        }
    }
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("standard output was closed"));
}

/// A list file with `--null` (as `find -print0` writes it) holds names with
/// spaces and newlines; paths given on the command line come first. A list
/// that cannot be opened is a usage error.
#[test]
fn files_from_a_null_separated_list_beside_paths() {
    let scratch = temp_dir("null-list");
    let dir = scratch.path();
    let given = dir.join("given.jpg");
    let spaced = dir.join("a name with spaces.jpg");
    let broken_line = dir.join("two\nlines.jpg");
    for (i, path) in [&given, &spaced, &broken_line].into_iter().enumerate() {
        std::fs::write(path, jpeg(&camera_like(120, 90, 50 + i as u64), 90)).expect("write");
    }
    let list = dir.join("list");
    let mut entries = Vec::new();
    for path in [&spaced, &broken_line] {
        entries.extend_from_slice(path.to_string_lossy().as_bytes());
        entries.push(0);
    }
    std::fs::write(&list, entries).expect("write");

    let out = trueshot()
        .args(["scan", "--format", "json", "--null", "--files-from"])
        .arg(&list)
        .arg(&given)
        .output()
        .expect("run");
    assert_exit(&out, 0);
    let array: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json array");
    let paths: Vec<&str> = array
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["path"].as_str().expect("path"))
        .collect();
    let want = [&given, &spaced, &broken_line].map(|p| p.to_string_lossy().into_owned());
    assert_eq!(paths, want);

    let out = trueshot()
        .args(["scan", "--files-from"])
        .arg(dir.join("no-such-list"))
        .output()
        .expect("run");
    assert_exit(&out, 2);
}

/// A list saved by a Windows editor: a byte-order mark before the first
/// path and `\r\n` line ends. Both listed files are analysed.
#[test]
fn files_from_a_list_with_a_byte_order_mark() {
    let scratch = temp_dir("bom-list");
    let dir = scratch.path();
    let files = [dir.join("a.jpg"), dir.join("b.jpg")];
    for (i, path) in files.iter().enumerate() {
        std::fs::write(path, jpeg(&camera_like(120, 90, 60 + i as u64), 90)).expect("write");
    }
    let list = dir.join("list.txt");
    let text = format!(
        "\u{feff}{}\r\n{}\r\n",
        files[0].display(),
        files[1].display()
    );
    std::fs::write(&list, text).expect("write");
    let out = trueshot()
        .args(["scan", "--format", "jsonl", "--files-from"])
        .arg(&list)
        .output()
        .expect("run");
    assert_exit(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
}

/// An empty list is a queue with nothing to do, not an error: no record and
/// exit 0. A listed directory is not searched (an `io` record, exit 1), and
/// directories given as paths that hold no image are a usage error beside a
/// list as without one.
#[test]
fn files_from_an_empty_list_is_not_an_error() {
    let scratch = temp_dir("empty-list");
    let dir = scratch.path();
    let list = dir.join("list");
    std::fs::write(&list, "\n\r\n").expect("write");
    let out = trueshot()
        .args(["scan", "--format", "json", "--files-from"])
        .arg(&list)
        .output()
        .expect("run");
    assert_exit(&out, 0);
    let array: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json array");
    assert_eq!(array, serde_json::json!([]));
    for format in ["jsonl", "human"] {
        let out = trueshot()
            .args(["scan", "--format", format, "--files-from", "-"])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run");
        assert_exit(&out, 0);
        assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    }

    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("dir");
    std::fs::write(&list, format!("{}\n", empty.display())).expect("write");
    let out = trueshot()
        .args(["scan", "--format", "jsonl", "--files-from"])
        .arg(&list)
        .output()
        .expect("run");
    assert_exit(&out, 1);
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one record");
    assert_eq!(record["error"]["code"], "io", "{record}");

    let out = trueshot()
        .args(["scan", "--files-from"])
        .arg(&list)
        .arg(&empty)
        .output()
        .expect("run");
    assert_exit(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no image files"));
    assert!(out.stdout.is_empty());
}

/// An edit joins the cross-validation group of the photo it was made from,
/// also when that photo names no source of its own: 3 photos with their 3
/// edits and 2 generated images are 5 groups, not 8.
#[test]
fn calibrate_groups_edits_with_their_source_photo() {
    let scratch = temp_dir("groups");
    let dir = scratch.path();
    let mut rows = Vec::new();
    for i in 0..3u64 {
        std::fs::write(
            dir.join(format!("r{i}.jpg")),
            jpeg(&camera_like(160, 120, i), 90),
        )
        .expect("write");
        std::fs::write(
            dir.join(format!("e{i}.jpg")),
            jpeg(&camera_like(160, 120, i + 10), 90),
        )
        .expect("write");
        rows.push(format!("r{i}.jpg,real,camera,s,,,"));
        rows.push(format!("e{i}.jpg,edited,splice,s,,r{i}.jpg,"));
    }
    for i in 0..2u32 {
        let flat =
            image::RgbImage::from_fn(160, 120, |x, y| image::Rgb([(x + i) as u8, y as u8, 128]));
        std::fs::write(dir.join(format!("a{i}.png")), png(&flat)).expect("write");
        rows.push(format!("a{i}.png,ai_generated,generated,s,,,"));
    }
    let labels = labels_file(dir, &rows.iter().map(String::as_str).collect::<Vec<_>>());
    let out = calibrate_fast(&labels, &dir.join("model.json"), &["--folds", "100"]);
    assert_exit(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("only 5 source groups"), "{stderr}");
    // No warning about the folds (only that 3 genuine photos are too few
    // for the stored rates).
    assert!(
        stderr
            .lines()
            .filter(|l| l.contains("warning"))
            .all(|l| l.contains("genuine samples are too few")),
        "{stderr}"
    );

    // All AI images from one source group: the fold holding it trains no
    // ai_generated head, and calibrate says so.
    let one_source: Vec<String> = rows
        .iter()
        .map(|r| {
            r.replace(
                "a1.png,ai_generated,generated,s,,,",
                "a1.png,ai_generated,generated,s,,a0.png,",
            )
        })
        .collect();
    let labels = labels_file(
        dir,
        &one_source.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let out = calibrate_fast(&labels, &dir.join("model.json"), &["--folds", "100"]);
    assert_exit(&out, 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("has no ai_generated or no real photo"),
        "{stderr}"
    );
}

/// A samples cache that lacks some (row, variant) pairs, because it was
/// made with fewer variants or before rows were added, is refused with
/// what is missing, not used as if it were complete.
#[test]
fn calibrate_refuses_a_samples_cache_that_lacks_samples() {
    let scratch = temp_dir("samples-cache");
    let dir = scratch.path();
    let labels = tiny_corpus(dir);
    let cache = dir.join("cache.jsonl");
    let calibrate = |variants: &str| {
        trueshot()
            .args(["calibrate", "--variants", variants])
            .args(["--features", "texture_stats.d1_1_1,spectrum.grid_peak"])
            .arg("--samples")
            .arg(&cache)
            .arg(&labels)
            .arg("-o")
            .arg(dir.join("model.json"))
            .output()
            .expect("run calibrate")
    };
    assert_exit(&calibrate(""), 0);
    assert!(cache.exists());
    // Refused (exit 2), with stderr naming every one of `needles`.
    let refused = |variants: &str, needles: &[&str]| {
        let out = calibrate(variants);
        assert_exit(&out, 2);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(needles.iter().all(|n| stderr.contains(n)), "{stderr}");
    };

    // The cache is reused as it is.
    assert_exit(&calibrate(""), 0);
    // A file rewritten since the cache was made: its cached samples are stale.
    let first = dir.join("real_0.jpg");
    let original = std::fs::read(&first).expect("read");
    std::fs::write(&first, jpeg(&camera_like(160, 120, 77), 90)).expect("write");
    refused("", &["real_0.jpg changed since"]);
    // A file gone since: its cached samples would be fitted as if it were there.
    std::fs::remove_file(&first).expect("remove");
    refused("", &["real_0.jpg cannot be read now"]);
    std::fs::write(&first, original).expect("write");
    assert_exit(&calibrate(""), 0);
    // The cache with every line changed by `edit`.
    let kept = std::fs::read_to_string(&cache).expect("read cache");
    let rewrite = |edit: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let text: String = kept
            .lines()
            .map(|line| {
                let mut v: serde_json::Value = serde_json::from_str(line).expect("json line");
                edit(v.as_object_mut().expect("object"));
                v.to_string() + "\n"
            })
            .collect();
        std::fs::write(&cache, text).expect("write cache");
    };
    // A cache written before fingerprints were kept: refused, since the
    // model could not name its training files.
    rewrite(&|v| {
        v.remove("fingerprint");
    });
    refused("", &["predates them"]);
    // Analysed by another version, whose detectors may measure otherwise.
    rewrite(&|v| {
        v.insert("trueshot".into(), "0.0.1".into());
    });
    refused("", &["analysed by trueshot 0.0.1, this is"]);
    // The same version built from other sources (another build's detectors).
    let other_build = format!("{}+0000000000000000", env!("CARGO_PKG_VERSION"));
    rewrite(&|v| {
        v.insert("trueshot".into(), other_build.clone().into());
    });
    refused(
        "",
        &[&format!("analysed by trueshot {other_build}, this is")],
    );
    rewrite(&|v| {
        v.remove("trueshot");
    });
    refused("", &["names no trueshot version"]);
    std::fs::write(&cache, &kept).expect("write cache");
    assert_exit(&calibrate(""), 0);
    // A variant the cache was not made with.
    refused("jpeg:80", &["cache.jsonl", "(jpeg:80)"]);
    // A row added to the labels since.
    let mut text = std::fs::read_to_string(&labels).expect("labels");
    std::fs::write(dir.join("late.jpg"), jpeg(&camera_like(160, 120, 99), 90)).expect("write");
    text += "late.jpg,real,camera,asfound,,owner/repo9:late.jpg,\n";
    std::fs::write(&labels, text).expect("labels");
    refused("", &["late.jpg (as-found)"]);
}

/// `eval` exits 1 when some sample failed (as `scan` does when some file
/// failed), after printing the figures of the others; 0 when none failed.
#[test]
fn eval_exits_1_when_samples_fail() {
    let scratch = temp_dir("eval-status");
    let dir = scratch.path();
    std::fs::write(dir.join("r.jpg"), jpeg(&camera_like(160, 120, 1), 90)).expect("write");
    std::fs::write(dir.join("e.png"), png(&camera_like(160, 120, 2))).expect("write");
    let eval = |rows: &[&str]| {
        trueshot()
            .args(["eval", "--format", "json"])
            .arg(labels_file(dir, rows))
            .output()
            .expect("run eval")
    };
    let out = eval(&["r.jpg,real,camera,s1,,a,", "e.png,edited,splice,s1,,b,"]);
    assert_exit(&out, 0);
    for rows in [
        &[
            "gone.jpg,real,camera,s1,,a,",
            "gone.png,edited,splice,s1,,b,",
        ][..],
        &["r.jpg,real,camera,s1,,a,", "gone.png,edited,splice,s1,,b,"][..],
    ] {
        let out = eval(rows);
        assert_exit(&out, 1);
        let figures: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let missing = rows.iter().filter(|r| r.starts_with("gone")).count();
        assert_eq!(figures["sets"][0]["errors"], missing, "{figures}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("gone.png"));
    }
}

/// Links back up the tree are followed once: one repeated the photo 40
/// times (to the kernel's limit of links in a path), two made the walk
/// exponential (no record, ever).
#[cfg(unix)]
#[test]
fn a_directory_link_back_up_the_tree_is_walked_once() {
    let scratch = temp_dir("link-loop");
    let dir = scratch.path();
    let sub = dir.join("tree").join("sub");
    std::fs::create_dir_all(&sub).expect("dir");
    std::fs::write(sub.join("x.png"), png(&camera_like(64, 64, 3))).expect("write");
    // One link: two would make the old walk hang rather than fail.
    std::os::unix::fs::symlink("..", sub.join("up")).expect("link");
    let out = trueshot()
        .args(["scan", "--format", "jsonl"])
        .arg(dir.join("tree"))
        .output()
        .expect("run");
    assert_exit(&out, 0);
    let records = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(records, 1, "{}", String::from_utf8_lossy(&out.stdout));
}

/// `calibrate` as `eval`: a sample that fails makes the exit status 1 (so a
/// pipeline does not ship a model fitted on part of the corpus unawares);
/// the model is still written from the others.
#[test]
fn calibrate_exits_1_when_samples_fail() {
    let scratch = temp_dir("calibrate-status");
    let dir = scratch.path();
    let labels = tiny_corpus(dir);
    let model = dir.join("model.json");
    assert_exit(&calibrate_fast(&labels, &model, &[]), 0);
    std::fs::remove_file(&model).expect("remove");
    let mut text = std::fs::read_to_string(&labels).expect("labels");
    text += "gone.jpg,real,camera,asfound,,owner/repo9:gone.jpg,\n";
    std::fs::write(&labels, text).expect("labels");
    let out = calibrate_fast(&labels, &model, &[]);
    assert_exit(&out, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("gone.jpg"));
    assert!(model.exists());
}

/// A reader that leaves before the figures (`| head`) is a usage error with
/// its message, not a panic reported as a bug.
#[cfg(unix)]
#[test]
fn a_closed_output_is_a_usage_error_for_every_command() {
    use std::process::Stdio;
    let scratch = temp_dir("closed-pipe");
    let dir = scratch.path();
    let labels = tiny_corpus(dir);
    let photo = dir.join("real_0.jpg");
    let commands: [Vec<std::ffi::OsString>; 3] = [
        vec![
            "scan".into(),
            "--format".into(),
            "json".into(),
            photo.into(),
        ],
        vec![
            "eval".into(),
            "--format".into(),
            "json".into(),
            labels.clone().into(),
        ],
        vec![
            "calibrate".into(),
            "--variants".into(),
            "".into(),
            "--features".into(),
            "texture_stats.d1_1_1,spectrum.grid_peak".into(),
            labels.into(),
            "-o".into(),
            dir.join("model.json").into(),
        ],
    ];
    for args in commands {
        // The reader leaves before the command starts: a socket whose other
        // end is already closed (dropping a pipe's reader after the spawn
        // raced a fast command, which could write its figures first).
        let (reader, writer) = std::os::unix::net::UnixStream::pair().expect("socket pair");
        drop(reader);
        let child = trueshot()
            .args(&args)
            .stdout(Stdio::from(std::os::fd::OwnedFd::from(writer)))
            .stderr(Stdio::piped())
            .spawn()
            .expect("run");
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("standard output was closed"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("a bug in trueshot"), "{args:?}: {stderr}");
    }
}

/// An analysed file whose review page cannot be written keeps its verdict:
/// its record says why the page is missing (`page_error`), its card in the
/// index shows the verdict with the reason, and the scan exits 1.
#[test]
fn a_page_that_cannot_be_written_is_said_and_fails_the_scan() {
    let scratch = temp_dir("page-error");
    let dir = scratch.path();
    let photo = dir.join("claim.png");
    std::fs::write(&photo, png(&camera_like(96, 64, 3))).expect("write");
    let pages = dir.join("pages");
    let scan = || {
        trueshot()
            .args(["scan", "--format", "jsonl", "--html-dir"])
            .arg(&pages)
            .arg(&photo)
            .output()
            .expect("run")
    };
    let out = scan();
    assert_exit(&out, 0);
    let page = std::fs::read_dir(&pages)
        .expect("pages")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n != "index.html"))
        .expect("the claim's page");
    // A directory in the page's place: the rename onto it fails.
    std::fs::remove_file(&page).expect("remove");
    std::fs::create_dir(&page).expect("directory");
    let out = scan();
    assert_exit(&out, 1);
    let record: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("one record");
    assert!(record["error"].is_null(), "{record}");
    assert!(record["verdict"].is_string(), "{record}");
    assert!(
        record["page_error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot write")),
        "{record}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("page_error"));
    let index = std::fs::read_to_string(pages.join("index.html")).expect("index");
    let verdict = record["verdict"].as_str().expect("verdict");
    assert!(
        index.contains(&format!("data-verdict=\"{verdict}\"")),
        "{index}"
    );
    assert!(index.contains("cannot write"));
}

/// `report -o` naming the claim photo (by another spelling of its path)
/// or a listing photo is refused, and the photo is left as it was.
#[test]
fn a_report_never_writes_over_the_claim_photo() {
    let scratch = temp_dir("report-over-input");
    let dir = scratch.path();
    let photo = dir.join("claim.png");
    let bytes = png(&camera_like(64, 48, 4));
    std::fs::write(&photo, &bytes).expect("write");
    let out = trueshot()
        .arg("report")
        .arg(&photo)
        .arg("-o")
        .arg(dir.join(".").join("claim.png"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the input photo"));
    assert_eq!(std::fs::read(&photo).expect("read"), bytes);

    // Nor over a listing photo found under --reference-dir.
    let listings = dir.join("listings");
    std::fs::create_dir_all(&listings).expect("dir");
    let listing = listings.join("listing.png");
    let listing_bytes = png(&camera_like(64, 48, 5));
    std::fs::write(&listing, &listing_bytes).expect("write");
    let out = trueshot()
        .arg("report")
        .arg(&photo)
        .arg("--reference-dir")
        .arg(&listings)
        .arg("-o")
        .arg(&listing)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the input photo"));
    assert_eq!(std::fs::read(&listing).expect("read"), listing_bytes);
}

/// A file given twice (here directly and through its directory) is
/// analysed twice into one page, and the index shows it once.
#[test]
fn scan_index_shows_a_file_given_twice_once() {
    let scratch = temp_dir("twice");
    let dir = scratch.path();
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).expect("dir");
    let file = photos.join("a.jpg");
    std::fs::write(&file, jpeg(&camera_like(320, 240, 3), 90)).expect("write");
    std::fs::write(photos.join("b.jpg"), jpeg(&camera_like(320, 240, 4), 90)).expect("write");
    let pages = dir.join("pages");
    let out = trueshot()
        .args(["scan", "--format", "jsonl", "--html-dir"])
        .arg(&pages)
        .arg(&photos)
        .arg(&file)
        .output()
        .expect("run scan");
    assert_exit(&out, 0);
    // Both analyses are reported, each with its page...
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 3);
    for line in stdout.lines() {
        let record: serde_json::Value = serde_json::from_str(line).expect("record");
        let page = record["page"].as_str().expect("page path");
        assert!(std::path::Path::new(page).starts_with(&pages), "{page}");
        assert!(std::fs::read_to_string(page)
            .expect("page")
            .contains("<html"));
    }
    // ... and the index has one card per distinct file.
    let index = std::fs::read_to_string(pages.join("index.html")).expect("index");
    assert_eq!(index.matches(r#"<li class="card"#).count(), 2);
}
