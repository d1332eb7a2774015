"""``python -m trueshot scan``: the same scan as the ``trueshot`` command line.

Same arguments and the same records (see the corpus README's command-line
contract): one JSON object per file with ``path``, ``score``, ``verdict``,
``findings``, ``error``, ``reference`` (with ``--reference`` or
``--reference-dir``) and, with ``--heatmap-dir``, ``heatmap``; exit status 0
when every file was analysed, 1 when some failed, 2 on a usage error (an
unreadable reference photo included, or a ``--files-from`` list that cannot
be read) or when standard output is closed before the scan is done.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import unicodedata
from pathlib import Path
from typing import Any, Iterable, Iterator, TextIO, Union

from . import Config, References, Report, TrueshotError, analyze_many

# File extensions picked up when scanning a directory (as in the Rust CLI).
IMAGE_EXTENSIONS = frozenset(
    "jpg jpeg jpe jfif png webp tif tiff bmp gif heic heif avif".split()
)

# Files analysed per call: big enough to keep every core busy, small enough
# that records stream out while a large directory is scanned, and that the
# reports held until their records are written (a heatmap each) stay few.
# The reference catalogue is built once for the whole scan, so it does not
# weigh on the batch size.
BATCH = 64


def collect_files(paths: list[str], outputs: Iterable[str] = ()) -> list[str]:
    """Files given directly are always analysed; directories contribute files
    with image extensions, recursively, in sorted order, except under the
    scan's own ``outputs`` directories (a second run would analyse the first
    run's heatmaps), unless one is named itself (as in the Rust CLI)."""
    skipped = {os.path.realpath(d) for d in outputs if os.path.isdir(d)}
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            _walk(path, files, skipped - {os.path.realpath(path)})
        else:
            files.append(path)
    return files


def _walk(directory: str, files: list[str], seen: set[str] | None = None) -> None:
    """As the Rust CLI's walk: links to directories are followed, but each
    directory (by its real path) is read once, so a link back up the tree
    neither repeats files nor makes the walk exponential."""
    seen = set() if seen is None else seen
    real = os.path.realpath(directory)
    if real in seen:
        return
    seen.add(real)
    try:
        entries = sorted(os.path.join(directory, e) for e in os.listdir(directory))
    except OSError:
        files.append(directory)  # reported as an I/O error record
        return
    for entry in entries:
        if os.path.isdir(entry):
            _walk(entry, files, seen)
        elif Path(entry).suffix[1:].lower() in IMAGE_EXTENSIONS:
            files.append(entry)


UTF8_BOM = b"\xef\xbb\xbf"


class PathList:
    """The list of ``--files-from``, read as the scan goes (as in the Rust CLI):
    a queue can feed one long-running scan, its records coming out while the
    list is still being written."""

    def __init__(self, name: str, separator: bytes) -> None:
        self.name, self.separator = name, separator
        self.error: str | None = None
        try:
            # A descriptor, not a file object: one read returns what a pipe
            # holds so far instead of waiting for a full buffer.
            self.fd = 0 if name == "-" else os.open(name, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except OSError as error:
            raise ValueError(f"cannot open --files-from {name}: {error.strerror or error}") from error

    def groups(self) -> Iterator[list[str]]:
        """The listed paths, in order, in groups as they arrive: what one read
        returns (a block of a file, what a pipe holds). Empty entries are
        skipped, and so are the ``\\r`` of a line ended by ``\\r\\n`` and a
        UTF-8 byte-order mark before the first (Windows editors write one). A
        read error ends the list; it is kept in ``error``."""
        rest = b""
        started = False
        try:
            while True:
                try:
                    chunk = os.read(self.fd, 1 << 16)
                except OSError as error:
                    self.error = f"cannot read --files-from {self.name}: {error.strerror or error}"
                    return
                data = rest + chunk
                if not started:
                    if len(data) < len(UTF8_BOM) and chunk:
                        rest = data  # a pipe may deliver the mark in parts
                        continue
                    started = True
                    if data.startswith(UTF8_BOM):
                        data = data[len(UTF8_BOM):]
                entries = data.split(self.separator)
                rest = entries.pop() if chunk else b""
                if self.separator == b"\n":
                    entries = [e[:-1] if e.endswith(b"\r") else e for e in entries]
                yield [_listed_path(e) for e in entries if e]
                if not chunk:
                    return
        finally:
            if self.name != "-":
                os.close(self.fd)


def _listed_path(entry: bytes) -> str:
    """A listed path: its bytes as they are on Unix (``os.fsdecode`` keeps a
    name that is not UTF-8 as lone surrogates); elsewhere read as UTF-8,
    invalid bytes replaced (as in the Rust CLI), where ``os.fsdecode`` would
    refuse them."""
    if os.name == "nt":
        return entry.decode("utf-8", "replace")
    return os.fsdecode(entry)


def batches(groups: Iterable[list[str]]) -> Iterator[list[str]]:
    """The files of each group, BATCH at a time: a group is not held back
    for the next one to fill a batch (a list may be waiting for its writer)."""
    for group in groups:
        for start in range(0, len(group), BATCH):
            yield group[start:start + BATCH]


def load_references(files: list[str], dirs: list[str], config: Config) -> References | None:
    """The catalogue of the photos given by ``--reference`` and found under
    ``--reference-dir``, in that order (the order of ``reference["index"]``),
    read and indexed once for the whole scan; None without any. An
    unreadable one is a usage error, as in the Rust CLI, because matching
    against a smaller catalogue would clear doctored claims."""
    paths = list(files)
    for directory in dirs:
        if not os.path.isdir(directory):
            raise ValueError(f"--reference-dir {directory} is not a directory")
        before = len(paths)
        _walk(directory, paths)
        # An empty catalogue directory (a listing volume that did not
        # mount) would clear every doctored copy without a word.
        if len(paths) == before:
            raise ValueError(f"--reference-dir {directory} holds no image file")
    if not paths:
        return None
    try:
        return References(paths, config=config)
    except OSError as error:
        # An OSError names its file; its strerror is the reason alone.
        named = f" {error.filename}" if error.filename else ""
        raise ValueError(f"cannot load reference{named}: {error.strerror or error}") from error
    except TrueshotError as error:
        # Its message names the listing: "reference 'x.jpg': ...".
        raise ValueError(f"cannot load {error}") from error


def path_text(path: str) -> str:
    """A path as text, as the Rust CLI prints it (``to_string_lossy``): the
    bytes of a name that is not UTF-8 (which ``os.fsdecode`` keeps as lone
    surrogates) each maximal invalid sequence replaced by U+FFFD, so that
    records and text can be written to any UTF-8 output. The path itself is
    kept for opening the file."""
    if os.name == "nt":
        # Windows names are UTF-16, possibly with unpaired surrogates: one
        # U+FFFD each, as Rust's lossy conversion of an OsStr.
        return path.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return os.fsencode(path).decode("utf-8", "replace")


def _file_stem(path: str) -> str:
    """``Path::file_stem`` of Rust: the last component without its last
    ``.extension``; a name starting with its only dot is kept whole, one
    ending with a dot loses it (unlike ``PurePath.stem`` before Python
    3.14), and ``..`` has none."""
    name = Path(path).name
    if name == "..":
        return ""
    before, dot, _ = name.rpartition(".")
    return before if dot and before else name


def heatmap_name(path: str) -> str:
    """The stem (ASCII letters, digits, ``-`` and ``_``, others as ``_``, at
    most 80) of the path as text (``path_text``) plus an FNV-1a hash of the
    path's own bytes: the Rust CLI's file name (``output_name``), also for a
    name that is not UTF-8."""
    text = path_text(path)
    # The bytes Rust's OsStr::as_encoded_bytes gives: the file system's own
    # on POSIX, WTF-8 (lone surrogates kept) on Windows.
    raw = os.fsencode(path) if os.name != "nt" else path.encode("utf-8", "surrogatepass")
    h = 0xCBF29CE484222325
    for byte in raw:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    stem = "".join(c if c.isascii() and c.isalnum() or c in "-_" else "_"
                   for c in _file_stem(text))[:80]
    # Not a hidden file, nor one that reads as an option to shell tools.
    if not stem or stem.startswith("-"):
        stem = "_" + stem[1:]
    return f"{stem}.{h:016x}.heatmap.png"


def write_heatmap(target: str, png: bytes) -> None:
    """Write a heatmap file whole, through a temporary file and a rename (as
    the Rust CLI), so that a reader never sees half a file."""
    directory, name = os.path.split(target)
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as file:
            file.write(png)
        os.replace(temporary, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def to_record(path: str, result: Union[Report, BaseException], heatmap_dir: str | None) -> dict[str, Any]:
    """The JSON record of one file, as the Rust CLI prints it (paths as
    ``path_text`` gives them)."""
    text = path_text(path)
    if isinstance(result, Report):
        record: dict[str, Any] = result.to_dict()
        record["path"] = text
        heatmap = None
        # heatmap_png(), not .heatmap: the file needs no float map at image size.
        png = result.heatmap_png() if heatmap_dir is not None else None
        if heatmap_dir is not None and png is not None:
            target = os.path.join(heatmap_dir, heatmap_name(path))
            try:
                write_heatmap(target, png)
                heatmap = path_text(target)
            except OSError as error:
                # The analysis stands; the missing file is said, not hidden.
                record["heatmap_error"] = (f"cannot write {path_text(target)}: "
                                           f"{error.strerror or error}")
        record["heatmap"] = heatmap
        record["error"] = None
        return record
    code = getattr(result, "code", None) or "io"
    return {
        "path": text,
        "score": None,
        "verdict": None,
        "findings": [],
        "error": {"code": code, "message": str(result), "file": text},
    }


_LABELS = {
    "authentic": ("1;32", "AUTHENTIC"),
    "inconclusive": ("1;33", "INCONCLUSIVE"),
    "edited": ("1;31", "EDITED"),
    "ai_generated": ("1;35", "AI-GENERATED"),
}


#: Longest file name or error message the readable form shows whole.
SHOWN_CHARS = 4096


def shown(text: str) -> str:
    """Untrusted text (a file name, maybe a fraudster's) as the Rust CLI
    shows it (``trueshot::escape_untrusted``): control characters and bidi
    overrides escaped (``\\u{1b}``, ``\\n``), at most ``SHOWN_CHARS``
    characters, so no escape sequence reaches the terminal."""
    out = []
    for count, ch in enumerate(text):
        if count >= SHOWN_CHARS:
            out.append("…")
            break
        if unicodedata.category(ch) == "Cc" or "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069":
            out.append({"\t": "\\t", "\r": "\\r", "\n": "\\n"}.get(ch, f"\\u{{{ord(ch):x}}}"))
        else:
            out.append(ch)
    return "".join(out)


def human(path: str, result: Union[Report, BaseException], color: bool) -> str:
    """The readable form: the verdict first, then the findings (the path as
    ``path_text`` gives it, escaped as ``shown``)."""
    path = shown(path_text(path))

    def paint(code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text

    if not isinstance(result, Report):
        return f"{paint('1;31', 'ERROR')}  {path}  {shown(str(result))}\n"
    code, label = _LABELS[result.verdict]
    lines = [f"{paint(code, label)}  score {result.score:.2f}  {path}"]
    findings = result.findings
    for f in findings:
        if f.score > 0.0 or f.region is not None:
            lines.append(f"  [{f.score:.2f}] {f.code:<38} {f.message}")
    for f in findings:
        if f.score == 0.0 and f.region is None:
            lines.append("  " + paint("2", f"       {f.code:<38} {f.message}"))
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m trueshot``."""
    top = argparse.ArgumentParser(
        prog="python -m trueshot",
        description="Tell whether photos are genuine camera photos or AI-generated/edited.",
    )
    commands = top.add_subparsers(dest="command", required=True)
    scan = commands.add_parser("scan", help="analyse files in parallel and print records")
    scan.add_argument("paths", nargs="*", metavar="PATH",
                      help="image files or directories (searched recursively)")
    scan.add_argument("--files-from", metavar="FILE",
                      help="also analyse the files listed in FILE, one path per line "
                           "(`-`: standard input), read as the scan goes")
    scan.add_argument("--null", action="store_true",
                      help="paths in --files-from end with a NUL byte instead of a newline")
    scan.add_argument("--format", choices=["human", "json", "jsonl"], default="human",
                      help="output format (default: human)")
    scan.add_argument("--heatmap-dir", metavar="DIR",
                      help="write one 8-bit heatmap PNG per image here (255 = most suspicious)")
    scan.add_argument("--threads", type=int, metavar="N",
                      help="worker threads (default: one per core)")
    scan.add_argument("--reference", action="append", default=[], metavar="IMG",
                      help="a merchant's reference (listing) photo to compare against; repeatable")
    scan.add_argument("--reference-dir", action="append", default=[], metavar="DIR",
                      help="a directory of reference photos (searched recursively); "
                           "every claim is matched against all of them")
    scan.add_argument("--max-false-alarm", type=float, default=0.01, metavar="RATE",
                      help="target false-alarm rate on genuine photos (default: 0.01)")
    scan.add_argument("--review-rate", type=float, metavar="RATE",
                      help="share of genuine photos, in (0, 1), that may be sent to review "
                           "or flagged: sets the authentic threshold (default: the model's "
                           "own, 2.5%% at the default false-alarm rate)")
    copy_move = scan.add_mutually_exclusive_group()
    copy_move.add_argument("--copy-move", action="store_true",
                           help="run the copy-move detector at every size "
                                "(by default on images up to 2048 x 1536)")
    copy_move.add_argument("--no-copy-move", action="store_true",
                           help="do not run the copy-move detector")
    copy_move.add_argument("--copy-move-max-pixels", type=int, metavar="PIXELS",
                           help="run the copy-move detector on images of at most this many pixels")
    scan.add_argument("--model", metavar="JSON",
                      help="a fusion model file (from `trueshot calibrate`) instead of the built-in one")
    scan.add_argument("--time-budget-ms", type=int, default=0, metavar="MS",
                      help="per-image time budget (0 = none): past it the remaining detectors "
                           "and references are skipped, listed in `incomplete`, and the "
                           "verdict is at best inconclusive")
    scan.add_argument("--max-memory-mb", type=int, metavar="MB",
                      help="admit images while their estimated peak memory (the file plus "
                           "about 15 bytes per pixel) fits in this many megabytes; one over "
                           "the whole budget runs alone")
    return top


def scan(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``scan``; returns the exit status."""
    settings: dict[str, Any] = {}
    if args.copy_move or args.no_copy_move:
        settings["copy_move"] = args.copy_move
    elif args.copy_move_max_pixels is not None:
        settings["copy_move_max_pixels"] = args.copy_move_max_pixels
    if args.model is not None:
        settings["model_path"] = args.model
    if args.review_rate is not None:
        settings["review_rate"] = args.review_rate
    config = Config(
        max_false_alarm=args.max_false_alarm,
        time_budget_ms=args.time_budget_ms,
        heatmap=args.heatmap_dir is not None or args.format == "human",
        **settings,
    )
    references = load_references(args.reference, args.reference_dir, config)
    if args.heatmap_dir is not None:
        os.makedirs(args.heatmap_dir, exist_ok=True)
    files = collect_files(args.paths, [args.heatmap_dir] if args.heatmap_dir is not None else [])
    if not files and args.paths:
        # Only directories were given, and they hold no image: a wrong path
        # more likely than a batch with nothing to do, also beside a list (as
        # in the Rust CLI). An empty --files-from list alone is no error: a
        # queue with nothing to do yet prints no record and exits 0.
        raise ValueError("no image files found in the given directories")
    listed: PathList | None = None
    if args.files_from is not None:
        # Listed entries are files: a directory among them gets an `io` record.
        listed = PathList(args.files_from, b"\0" if args.null else b"\n")
    color = out.isatty()
    records: list[dict[str, Any]] = []
    failed = 0
    for batch in batches(itertools.chain([files], () if listed is None else listed.groups())):
        results = analyze_many(batch, reference=references, threads=args.threads,
                               config=config, return_exceptions=True,
                               max_memory_mb=args.max_memory_mb)
        for path, result in zip(batch, results):
            failed += not isinstance(result, Report)
            if args.format == "human":
                out.write(human(path, result, color))
            else:
                record = to_record(path, result, args.heatmap_dir)
                if args.format == "jsonl":
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                else:
                    records.append(record)
        out.flush()
    if args.format == "json":
        out.write(json.dumps(records, ensure_ascii=False, indent=2) + "\n")
    if listed is not None and listed.error is not None:
        # The files listed before the failure were analysed and reported.
        raise ValueError(listed.error)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m trueshot``."""
    top = parser()
    args = top.parse_args(argv)
    if not args.paths and args.files_from is None:
        top.error("scan: give PATH... or --files-from FILE")
    if args.null and args.files_from is None:
        top.error("scan: --null requires --files-from")
    try:
        return scan(args, sys.stdout)
    except BrokenPipeError:
        # The reader has gone (`| head`): no more files are taken, so a queue
        # feeding the scan is not drained into a closed pipe (as in the Rust CLI).
        print("trueshot: standard output was closed: the scan stopped taking files",
              file=sys.stderr)
        return 2
    except (ValueError, OSError) as error:  # bad option value or reference, unwritable dir
        print(f"trueshot: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
