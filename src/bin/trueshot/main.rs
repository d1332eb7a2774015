//! The `trueshot` command-line tool.

mod calibrate;
mod dataset;
mod eval;
mod panic;
mod report;
mod scan;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tells whether photos are genuine camera photos, or generated or edited
/// with AI or image tools, and shows where and why.
#[derive(Parser, Debug)]
#[command(name = "trueshot", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Analyse image files or directories (recursively) and print one record per file.
    Scan(scan::ScanArgs),
    /// Measure detection and localisation on a labelled corpus (labels.csv).
    Eval(eval::EvalArgs),
    /// Fit the fusion model on a labelled corpus and write it as JSON.
    Calibrate(calibrate::CalibrateArgs),
    /// Write a self-contained HTML review page for one claim photo.
    Report(report::ReportArgs),
}

fn main() -> ExitCode {
    panic::install_hook();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Calibrate(args) => calibrate::run(&args),
        Command::Report(args) => report::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("trueshot: {message}");
            ExitCode::from(2)
        }
    }
}

/// The analyser for `config`, saying on standard error when its model was
/// fitted by another build of trueshot (whose detectors may measure
/// otherwise, so its scores may differ from the fit's).
pub fn analyzer_for(config: trueshot::Config) -> Result<trueshot::Analyzer, String> {
    let analyzer = trueshot::Analyzer::new(config).map_err(|e| e.to_string())?;
    if let Some(warning) = analyzer.model().another_build_warning() {
        eprintln!("trueshot: warning: {warning}");
    }
    Ok(analyzer)
}

/// Refuse an output file that cannot be written (no such directory, or a
/// directory in its place) before the work that makes it, not after.
pub fn check_output_path(flag: &str, path: &std::path::Path) -> Result<(), String> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !parent.is_dir() {
        return Err(format!(
            "{flag} {}: there is no directory {}",
            path.display(),
            parent.display()
        ));
    }
    if path.is_dir() {
        return Err(format!("{flag} {}: it is a directory", path.display()));
    }
    Ok(())
}

/// Print `text` and a newline on standard output. A reader that has gone
/// (`| head`) is a usage error with its message, exit 2, as in `scan
/// --format jsonl`; `println!` would panic and report a bug.
pub fn print_out(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => "standard output was closed".to_string(),
            _ => format!("cannot write to standard output: {e}"),
        })
}
