"""`python -m trueshot scan` keeps the command-line contract of the Rust CLI."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import subprocess
import sys
import threading
from typing import Any, Iterator

import pytest
from PIL import Image

import trueshot
import trueshot.__main__ as cli
from trueshot.__main__ import heatmap_name
from conftest import claim, listing, make_pixels, png_bytes


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trueshot", *args],
                          capture_output=True, text=True, timeout=300, check=False)


@contextlib.contextmanager
def scan_fed_by_stdin() -> Iterator[subprocess.Popen[bytes]]:
    """``python -m trueshot scan --format jsonl --files-from -``, its standard
    streams piped; killed after 60 s, so that a record waiting for the end of
    the list fails the test instead of hanging it."""
    with subprocess.Popen([sys.executable, "-m", "trueshot", "scan", "--format", "jsonl",
                           "--files-from", "-"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as scan:
        watchdog = threading.Timer(60, scan.kill)
        watchdog.start()
        try:
            yield scan
        finally:
            watchdog.cancel()
            scan.kill()


def test_scan_jsonl(tmp_path: pathlib.Path) -> None:
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    (images / "a.png").write_bytes(png_bytes(make_pixels(40, 60, 3)))
    Image.fromarray(make_pixels(30, 50, 3)).save(images / "sub" / "b.jpg", quality=90)
    (images / "notes.txt").write_text("not an image")  # skipped: no image extension
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    heatmaps = tmp_path / "heatmaps"

    result = run("scan", "--format", "jsonl", "--heatmap-dir", str(heatmaps),
                 str(images), str(tmp_path / "broken.jpg"))
    assert result.returncode == 1, result.stderr  # one file failed
    records = {pathlib.Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert set(records) == {"a.png", "b.jpg", "broken.jpg"}
    for name, size in (("a.png", (60, 40)), ("b.jpg", (50, 30))):
        record = records[name]
        assert record["error"] is None
        assert 0.0 <= record["score"] <= 1.0
        assert record["verdict"] in {"authentic", "inconclusive", "edited", "ai_generated"}
        assert isinstance(record["findings"], list)
        with Image.open(record["heatmap"]) as png:
            assert png.mode == "L" and png.size == size
    broken = records["broken.jpg"]
    assert broken["score"] is None and broken["verdict"] is None
    assert broken["error"]["code"] == "decode" and broken["error"]["message"]


def test_scan_leaves_out_its_own_heatmap_directory(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a.png").write_bytes(png_bytes(make_pixels(40, 60, 3)))
    heatmaps = tmp_path / "heatmaps"
    for _ in range(2):  # the second run would read the first run's heatmap
        result = run("scan", "--format", "jsonl", "--heatmap-dir", str(heatmaps), str(tmp_path))
        assert result.returncode == 0, result.stderr
        names = [pathlib.Path(json.loads(r)["path"]).name for r in result.stdout.splitlines()]
        assert names == ["a.png"]
    assert len(list(heatmaps.iterdir())) == 1
    alone = run("scan", "--format", "jsonl", "--heatmap-dir", str(heatmaps), str(heatmaps))
    assert alone.returncode == 0 and len(alone.stdout.splitlines()) == 1, alone.stderr


def test_scan_all_ok_and_usage_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(make_pixels(20, 20, 3)))
    ok = run("scan", "--format", "json", str(path))
    assert ok.returncode == 0
    assert [r["path"] for r in json.loads(ok.stdout)] == [str(path)]
    human = run("scan", str(path))
    assert human.returncode == 0 and str(path) in human.stdout
    assert run("scan").returncode == 2
    assert run("scan", "--format", "xml", str(path)).returncode == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("scan", str(empty)).returncode == 2  # no image anywhere: a wrong path


def test_scan_copy_move_and_model_options(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(make_pixels(64, 64, 3)))

    def timed_stages(*options: str) -> set[str]:
        result = run("scan", "--format", "jsonl", *options, str(path))
        assert result.returncode == 0, result.stderr
        return set(json.loads(result.stdout)["timings_ms"])

    assert "copy_move" in timed_stages()
    assert "copy_move" not in timed_stages("--no-copy-move")
    assert "copy_move" not in timed_stages("--copy-move-max-pixels", "100")
    assert "copy_move" in timed_stages("--copy-move")
    assert run("scan", "--copy-move", "--no-copy-move", str(path)).returncode == 2
    assert run("scan", "--model", str(tmp_path / "missing.json"), str(path)).returncode == 2


def test_scan_review_rate(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(make_pixels(64, 64, 3)))

    def record(*options: str) -> dict[str, float]:
        result = run("scan", "--format", "jsonl", *options, str(path))
        assert result.returncode == 0, result.stderr
        parsed: dict[str, float] = json.loads(result.stdout)
        return parsed

    own, wide = record(), record("--review-rate", "0.3")
    assert wide["flag_threshold"] == own["flag_threshold"]
    assert wide["authentic_threshold"] < own["authentic_threshold"]
    refused = run("scan", "--review-rate", "1.5", str(path))
    assert refused.returncode == 2 and "review_rate" in refused.stderr


def test_scan_time_budget(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(make_pixels(900, 1200, 3)))

    def record(budget: str) -> dict[str, object]:
        result = run("scan", "--format", "jsonl", "--time-budget-ms", budget, str(path))
        assert result.returncode == 0, result.stderr
        parsed: dict[str, object] = json.loads(result.stdout)
        return parsed

    cut = record("1")
    assert cut["incomplete"] and cut["verdict"] != "authentic"
    assert not record("0").get("incomplete")


def test_scan_memory_budget(tmp_path: pathlib.Path) -> None:
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(png_bytes(make_pixels(200 + 40 * i, 300, 3, seed=i)))

    def scores(*extra: str) -> list[tuple[object, object]]:
        result = run("scan", "--format", "json", *extra, str(tmp_path))
        assert result.returncode == 0, result.stderr
        records: list[dict[str, object]] = json.loads(result.stdout)
        return sorted((r["path"], r["score"]) for r in records)

    assert len(scores()) == 3
    assert scores("--max-memory-mb", "1") == scores()
    assert run("scan", "--max-memory-mb", "0", str(tmp_path)).returncode == 2


def test_scan_with_references(tmp_path: pathlib.Path) -> None:
    # The claim is the first listing, cropped, scaled and JPEG'd, with a
    # painted crack and stain; the directory holds an unrelated listing.
    listing_path = tmp_path / "listing.png"
    Image.fromarray(listing(1)).save(listing_path)
    (tmp_path / "more" / "sub").mkdir(parents=True)
    other = tmp_path / "more" / "sub" / "other.png"
    Image.fromarray(listing(5)).save(other)
    claim_path = tmp_path / "claim.jpg"
    claim_path.write_bytes(claim(listing(1), damage=True))

    result = run("scan", "--format", "jsonl", "--reference", str(listing_path),
                 "--reference-dir", str(tmp_path / "more"), str(claim_path))
    assert result.returncode == 0, result.stderr
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["verdict"] == "edited", record
    match = record["reference"]
    assert match["derived"] is True, match
    assert (match["index"], match["path"]) == (0, str(listing_path))
    # The catalogue is the --reference files, then the directories' photos.
    report = trueshot.analyze(claim_path, reference=[str(listing_path), str(other)])
    assert (record["score"], record["reference"]) == (report.score, report.to_dict()["reference"])

    plain = json.loads(run("scan", "--format", "jsonl", str(claim_path)).stdout)
    assert "reference" not in plain


def test_scan_refuses_an_unreadable_reference(tmp_path: pathlib.Path) -> None:
    # Matching against fewer references than asked would clear doctored
    # claims, so this is a usage error, before any claim is analysed.
    photo = tmp_path / "a.png"
    photo.write_bytes(png_bytes(make_pixels(20, 20, 3)))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    # A listing volume that did not mount: an empty catalogue directory.
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("no photo")
    for args in (["--reference", str(tmp_path / "missing.jpg")],
                 ["--reference", str(broken)],
                 ["--reference-dir", str(photo)],
                 ["--reference", str(photo), "--reference-dir", str(tmp_path / "empty")]):
        result = run("scan", "--format", "jsonl", *args, str(photo))
        assert result.returncode == 2, (args, result.stderr)
        assert result.stdout == ""
        assert result.stderr.startswith("trueshot: ") and "Traceback" not in result.stderr
        if args[1].endswith(("missing.jpg", "broken.jpg")):
            # The reference that failed is named, once.
            assert result.stderr.count(args[1]) == 1, result.stderr


def test_heatmap_names_are_the_rust_cli_names() -> None:
    # ASCII stem (others become "_") plus the 64-bit FNV-1a hash of the path
    # as given; the same strings are pinned for the Rust CLI's `output_name`
    # (src/bin/trueshot/scan.rs, output_names_are_the_stem_and_a_64_bit_hash).
    assert heatmap_name("claim é 日本.jpg") == "claim_____.0f5e0986e051761e.heatmap.png"
    assert heatmap_name("a/" + "x" * 300 + ".png").startswith("x" * 80 + ".")
    # Rust's Path::file_stem: a name ending with a dot loses it, `..` has none.
    assert heatmap_name("foo.") == "foo.dd1252790c25863b.heatmap.png"
    # Never a hidden file, nor one that reads as an option.
    assert heatmap_name("a/..") == "_.7346f2827ec5e001.heatmap.png"
    assert heatmap_name("-x.jpg") == "_x.bf8d879194d223d5.heatmap.png"
    if os.name != "nt":
        # Names that are not UTF-8 (as os.fsdecode gives them): the stem of
        # the text with each invalid sequence as one U+FFFD, as Rust's
        # to_string_lossy, and the hash of the name's own bytes (two names
        # differing in invalid bytes only get two files); names from Rust's
        # `output_name` on the bytes.
        assert heatmap_name(os.fsdecode(b"a/b\xffc.png")) == "b_c.61d3da5ff656e35a.heatmap.png"
        assert heatmap_name(os.fsdecode(b"x\xf0\x90\x80y.jpg")) == "x_y.5c29bdc3b0816191.heatmap.png"
        assert heatmap_name(os.fsdecode(b"q\x80\x80\x80.png")) == "q___.4661cdb8e16f6381.heatmap.png"
        assert heatmap_name(os.fsdecode(b"a\xfe.png")) != heatmap_name(os.fsdecode(b"a\xff.png"))


def test_scan_indexes_the_references_once(tmp_path: pathlib.Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # In process, to count: one catalogue for the whole scan, shared by every
    # batch, and batches no larger with references than without.
    listings = [tmp_path / "listing1.png", tmp_path / "listing5.png"]
    for listing_path, seed in zip(listings, (1, 5)):
        Image.fromarray(listing(seed)).save(listing_path)
    claims = tmp_path / "claims"
    claims.mkdir()
    for i in range(5):
        (claims / f"claim{i}.jpg").write_bytes(claim(listing(1 if i % 2 else 5), damage=i == 1))

    built: list[trueshot.References] = []
    calls: list[tuple[int, object]] = []

    def references(*args: Any, **kwargs: Any) -> trueshot.References:
        built.append(trueshot.References(*args, **kwargs))
        return built[-1]

    def analyze_many(images: list[str], **kwargs: Any) -> list[Any]:
        calls.append((len(images), kwargs["reference"]))
        return trueshot.analyze_many(images, **kwargs)

    monkeypatch.setattr(cli, "References", references)
    monkeypatch.setattr(cli, "analyze_many", analyze_many)
    monkeypatch.setattr(cli, "BATCH", 2)
    out = io.StringIO()
    args = ["scan", "--format", "jsonl", "--reference", str(listings[0]),
            "--reference", str(listings[1]), str(claims)]
    assert cli.scan(cli.parser().parse_args(args), out) == 0
    assert len(built) == 1 and len(built[0]) == 2
    assert calls == [(2, built[0]), (2, built[0]), (1, built[0])]
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    paths = sorted(str(p) for p in claims.iterdir())
    assert [r["path"] for r in records] == paths
    for record, path in zip(records, paths):
        report = trueshot.analyze(path, reference=[str(p) for p in listings])
        assert record["reference"] == report.to_dict()["reference"]
        assert (record["score"], record["verdict"]) == (report.score, report.verdict)


def test_scan_names_the_reference_that_cannot_be_read(tmp_path: pathlib.Path) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(listing(1)).save(good)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    missing = tmp_path / "missing.jpg"
    for bad, reason in ((broken, "could not decode"), (missing, "No such file")):
        result = run("scan", "--format", "jsonl", "--reference", str(good),
                     "--reference", str(bad), str(good))
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("trueshot: cannot load reference "), result.stderr
        assert result.stderr.count(str(bad)) == 1 and reason in result.stderr, result.stderr


def test_scan_files_from_a_list_file(tmp_path: pathlib.Path) -> None:
    # A byte-order mark (a Windows editor's), `\r\n` line ends, empty lines
    # and no final line end; a missing file and a directory (not searched)
    # are error records like any failing file.
    first, last = tmp_path / "first.png", tmp_path / "last.png"
    first.write_bytes(png_bytes(make_pixels(20, 30, 3, seed=1)))
    last.write_bytes(png_bytes(make_pixels(20, 30, 3, seed=2)))
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "inside.png").write_bytes(png_bytes(make_pixels(20, 30, 3, seed=3)))
    missing = tmp_path / "missing.png"
    listing_file = tmp_path / "list.txt"
    listing_file.write_bytes(f"\ufeff{first}\r\n\r\n\n{missing}\n{folder}\r\n{last}".encode())

    result = run("scan", "--format", "json", "--files-from", str(listing_file))
    assert result.returncode == 1, result.stderr  # the missing file failed
    records = json.loads(result.stdout)
    assert [(r["path"], r["error"] and r["error"]["code"]) for r in records] == [
        (str(first), None), (str(missing), "not_found"), (str(folder), "io"), (str(last), None)]


def test_scan_files_from_a_null_separated_list_beside_paths(tmp_path: pathlib.Path) -> None:
    # Names with a space and a newline, as `find -print0` writes them; the
    # paths on the command line come first.
    given = tmp_path / "given.png"
    spaced = tmp_path / "a name with spaces.png"
    broken_line = tmp_path / "two\nlines.png"
    for seed, path in enumerate((given, spaced, broken_line)):
        path.write_bytes(png_bytes(make_pixels(20, 30, 3, seed=seed)))
    listing_file = tmp_path / "list"
    listing_file.write_bytes(b"".join(os.fsencode(p) + b"\0" for p in (spaced, broken_line)))

    result = run("scan", "--format", "json", "--null", "--files-from", str(listing_file), str(given))
    assert result.returncode == 0, result.stderr
    assert [r["path"] for r in json.loads(result.stdout)] == [str(given), str(spaced), str(broken_line)]
    assert run("scan", "--null", str(given)).returncode == 2  # --null needs --files-from


def test_scan_files_from_stdin_as_they_arrive(tmp_path: pathlib.Path) -> None:
    # A queue can feed one long-running scan: the first record comes out
    # while the list is still open.
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    first.write_bytes(png_bytes(make_pixels(20, 30, 3, seed=1)))
    second.write_bytes(png_bytes(make_pixels(20, 30, 3, seed=2)))
    with scan_fed_by_stdin() as scan:
        assert scan.stdin is not None and scan.stdout is not None
        scan.stdin.write(f"{first}\n".encode())
        scan.stdin.flush()
        line = scan.stdout.readline()
        assert line, "no record while the list is open"
        record = json.loads(line)
        assert (record["path"], record["error"]) == (str(first), None)
        scan.stdin.write(f"{second}\n".encode())
        scan.stdin.close()
        assert [json.loads(line)["path"] for line in scan.stdout] == [str(second)]
        assert scan.wait() == 0


def test_scan_stops_when_the_output_is_closed(tmp_path: pathlib.Path) -> None:
    # A queue feeding the scan is not drained into a closed pipe: no more
    # files are taken, and the exit status says so.
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes(make_pixels(20, 30, 3)))
    with scan_fed_by_stdin() as scan:
        assert scan.stdin is not None and scan.stdout is not None and scan.stderr is not None
        scan.stdin.write(f"{photo}\n".encode())
        scan.stdin.flush()
        line = scan.stdout.readline()
        assert line, "no record while the list is open"
        assert json.loads(line)["path"] == str(photo)
        scan.stdout.close()
        with contextlib.suppress(BrokenPipeError):  # the scan may stop reading first
            for _ in range(50):
                scan.stdin.write(f"{photo}\n".encode())
                scan.stdin.flush()
        with contextlib.suppress(BrokenPipeError):  # what a failed write left
            scan.stdin.close()
        assert scan.wait() == 2
        assert "standard output was closed" in scan.stderr.read().decode()


def test_scan_files_from_a_list_that_cannot_be_read(tmp_path: pathlib.Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes(make_pixels(20, 30, 3)))
    unopenable = run("scan", "--format", "jsonl", "--files-from", str(tmp_path / "no-such-list"),
                     str(photo))
    assert unopenable.returncode == 2 and unopenable.stdout == ""
    assert unopenable.stderr.startswith("trueshot: cannot open --files-from "), unopenable.stderr
    # A list that fails part-way (a directory: opened, not read) exits 2
    # after the records of the files taken before.
    unreadable = run("scan", "--format", "jsonl", "--files-from", str(tmp_path), str(photo))
    assert unreadable.returncode == 2
    assert [json.loads(line)["path"] for line in unreadable.stdout.splitlines()] == [str(photo)]
    assert "cannot read --files-from" in unreadable.stderr


def test_scan_files_from_an_empty_list_is_not_an_error(tmp_path: pathlib.Path) -> None:
    # A queue with nothing to do yet: no record, exit 0. An empty directory
    # among the PATHs is still a wrong path, also beside a list.
    listing_file = tmp_path / "list"
    listing_file.write_bytes(b"\n\r\n")
    result = run("scan", "--format", "json", "--files-from", str(listing_file))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    for format in ("jsonl", "human"):
        alone = subprocess.run([sys.executable, "-m", "trueshot", "scan", "--format", format,
                                "--files-from", "-"], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=300, check=False)
        assert alone.returncode == 0, alone.stderr
        assert alone.stdout == b"" and alone.stderr == b""

    empty = tmp_path / "empty"
    empty.mkdir()
    listing_file.write_text(f"{empty}\n")
    listed = run("scan", "--format", "jsonl", "--files-from", str(listing_file))
    assert listed.returncode == 1, listed.stderr  # a listed directory is a failed file
    [record] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert record["error"]["code"] == "io"

    beside = run("scan", "--files-from", str(listing_file), str(empty))
    assert beside.returncode == 2 and beside.stdout == ""
    assert beside.stderr == "trueshot: no image files found in the given directories\n"


def run_strict(*args: str) -> tuple[int, str, str]:
    """``python -m trueshot`` writing to a strict UTF-8 standard output, as a
    pipe read by a program that refuses anything else; its exit status and
    outputs."""
    result = subprocess.run([sys.executable, "-m", "trueshot", *args], capture_output=True,
                            timeout=300, check=False,
                            env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"})
    return result.returncode, result.stdout.decode(), result.stderr.decode(errors="replace")


@pytest.mark.skipif(sys.platform != "linux", reason="file names that are not UTF-8")
def test_scan_prints_a_path_that_is_not_utf8_as_the_rust_cli(tmp_path: pathlib.Path) -> None:
    # Such a path comes in through a list or a directory; the file is opened
    # by its bytes, and its record and text carry U+FFFD for the invalid byte
    # (Rust's to_string_lossy), so the scan goes on with the next file.
    photos = tmp_path / "photos"
    photos.mkdir()
    odd = os.path.join(os.fsencode(photos), b"bad\xffname.png")
    with open(odd, "wb") as file:
        file.write(png_bytes(make_pixels(20, 30, 3, seed=1)))
    following = photos / "next.png"
    following.write_bytes(png_bytes(make_pixels(20, 30, 3, seed=2)))
    shown = f"{photos}{os.sep}bad\ufffdname.png"
    listing_file = tmp_path / "list"
    listing_file.write_bytes(odd + b"\0" + os.fsencode(following) + b"\0")
    heatmaps = tmp_path / "heatmaps"

    status, out, err = run_strict("scan", "--format", "jsonl", "--null", "--files-from",
                                  str(listing_file), "--heatmap-dir", str(heatmaps))
    assert status == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["path"], r["error"]) for r in records] == [(shown, None), (str(following), None)]
    # The heatmap is named as the Rust CLI names it: the stem of the text,
    # the hash of the path's bytes (not of the text, which another name
    # with another invalid byte shares).
    assert records[0]["heatmap"] == str(heatmaps / heatmap_name(os.fsdecode(odd)))
    assert (heatmaps / heatmap_name(os.fsdecode(odd))).is_file()
    assert heatmap_name(os.fsdecode(odd)) != heatmap_name(shown)

    # A directory walk, in the readable form.
    status, out, err = run_strict("scan", str(photos))
    assert status == 0, err
    assert [line.split("  ")[-1] for line in out.splitlines() if not line.startswith(" ")] == [
        shown, str(following)]

    # The error record of a missing one names it the same way.
    listing_file.write_bytes(os.path.join(os.fsencode(photos), b"gone\xfe.png") + b"\0"
                             + os.fsencode(following))
    status, out, err = run_strict("scan", "--format", "json", "--null", "--files-from",
                                  str(listing_file))
    assert status == 1, err
    missing, found = json.loads(out)
    gone = f"{photos}{os.sep}gone\ufffd.png"
    assert (missing["path"], missing["error"]["code"], missing["error"]["file"]) == (
        gone, "not_found", gone)
    assert (found["path"], found["error"]) == (str(following), None)


@pytest.mark.skipif(os.name != "posix", reason="file names with control characters")
def test_the_readable_form_shows_no_escape_sequence_of_a_file_name(tmp_path: pathlib.Path) -> None:
    # A name that would clear the screen and retitle the terminal is shown
    # escaped, as the Rust CLI shows it (trueshot::escape_untrusted).
    name = "a\x1b[2J\x1b]0;pwned\x07b.png"
    (tmp_path / name).write_bytes(png_bytes(make_pixels(20, 30, 3, seed=1)))
    status, out, err = run_strict("scan", str(tmp_path))
    assert status == 0, err
    assert "\x1b" not in out and "\x07" not in out
    assert out.splitlines()[0].endswith("a\\u{1b}[2J\\u{1b}]0;pwned\\u{7}b.png"), out


@pytest.mark.skipif(os.name != "posix", reason="directory links")
def test_a_directory_link_back_up_the_tree_is_walked_once(tmp_path: pathlib.Path) -> None:
    # As the Rust CLI: a link back up the tree repeated the photo 40 times
    # (to the kernel's limit of links in a path), two made the walk hang.
    sub = tmp_path / "tree" / "sub"
    sub.mkdir(parents=True)
    (sub / "x.png").write_bytes(png_bytes(make_pixels(20, 30, 3, seed=1)))
    (sub / "up").symlink_to("..")
    status, out, err = run_strict("scan", "--format", "jsonl", str(tmp_path / "tree"))
    assert status == 0, err
    assert len(out.splitlines()) == 1, out
