"""`python -m trueshot scan` keeps the command-line contract of the Rust CLI."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

from PIL import Image

from conftest import make_pixels, png_bytes


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trueshot", *args],
                          capture_output=True, text=True, timeout=300, check=False)


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
