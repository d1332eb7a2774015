//! The README's table of finding codes covers every code the library emits:
//! integrators build allow-lists and mappings from it.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The string literals given as the code (second argument) of
/// `Finding::new(...)` in `text`.
fn finding_codes(text: &str) -> Vec<String> {
    let mut codes = Vec::new();
    for (at, _) in text.match_indices("Finding::new(") {
        let args = &text[at + "Finding::new(".len()..];
        let Some(comma) = args.find(',') else {
            continue;
        };
        let rest = args[comma + 1..].trim_start();
        if let Some(literal) = rest.strip_prefix('"') {
            if let Some(end) = literal.find('"') {
                codes.push(literal[..end].to_string());
            }
        }
    }
    codes
}

#[test]
fn every_finding_code_is_in_the_readme_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let table_at = readme
        .find("Finding codes and what each can do")
        .expect("the finding-code table");
    let table = &readme[table_at..];
    let table = &table[..table.find("\n\n## ").unwrap_or(table.len())];
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let mut seen = 0;
    let mut missing = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source");
        // Unit tests make up codes of their own.
        let library = &text[..text.find("#[cfg(test)]").unwrap_or(text.len())];
        for code in finding_codes(library) {
            seen += 1;
            let documented = table.contains(&format!("`{code}`"))
                || code.starts_with("reference.") && table.contains("`reference.*`");
            if !documented {
                missing.push(format!("{code} ({})", file.display()));
            }
        }
    }
    assert!(seen >= 20, "only {seen} codes found: the scan is broken");
    assert!(missing.is_empty(), "not in the README table: {missing:?}");
}

#[test]
fn finding_codes_are_read_from_the_second_argument() {
    let text = r#"Finding::new(
            kind,
            "a.b",
            0.0,
        ); Finding::new(DetectorKind::Cfa, code, 0.0); Finding::new(k, "c.d""#;
    assert_eq!(finding_codes(text), ["a.b", "c.d"]);
}
