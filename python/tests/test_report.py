"""Report, Finding, heatmap and analyze_many."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
from PIL import Image

import trueshot
from conftest import make_pixels, png_bytes, summary


def test_report_fields() -> None:
    report = trueshot.analyze(make_pixels(48, 64, 3))
    assert 0.0 <= report.score <= 1.0
    assert report.verdict in {"authentic", "inconclusive", "edited", "ai_generated"}
    assert report.flagged == (report.verdict in {"edited", "ai_generated"})
    assert set(report.scores) == {"ai_generated", "edited"}
    assert all(0.0 <= v <= 1.0 for v in report.scores.values())
    assert isinstance(report.provenance, dict)
    # 48x64 is under 256x256: pixel evidence alone cannot flag it.
    assert report.image == {"format": "raw", "width": 64, "height": 48, "caveat": "small"}
    assert report.reference is None
    assert "total" in report.timings_ms
    for finding in report.findings:
        assert isinstance(finding, trueshot.Finding)
        assert finding.detector in finding.code
        assert 0.0 <= finding.score <= 1.0
        assert finding.class_ in {"ai_generated", "edited", "none"}
        assert finding.message and finding.message_zh
        assert finding.region is None or set(finding.region) == {"x", "y", "width", "height"}
        assert finding.to_dict()["code"] == finding.code
    scores = [f.score for f in report.findings]
    assert scores == sorted(scores, reverse=True)


def test_uniform_margins_are_left_out() -> None:
    # A photo on a flat canvas, as in a phone screenshot: the pixel detectors
    # read the photo alone, and the report says which region that was.
    photo = make_pixels(288, 320, 3)
    shot = np.full((640, 320, 3), 250, dtype=np.uint8)
    shot[176 : 176 + 288] = photo
    alone = trueshot.analyze(photo)
    shown = trueshot.analyze(shot)
    assert "content" not in alone.image
    assert shown.image["content"] == {"x": 0, "y": 176, "width": 320, "height": 288}
    assert shown.score == alone.score


def test_repr() -> None:
    report = trueshot.analyze(make_pixels(48, 64, 3))
    text = repr(report)
    assert text.startswith("Report(verdict='") and "raw 64x48" in text
    if report.findings:
        assert repr(report.findings[0]).startswith("Finding(code='")


def test_to_dict_and_json_agree() -> None:
    report = trueshot.analyze(png_bytes(make_pixels(48, 64, 3)))
    as_dict = report.to_dict()
    assert as_dict == json.loads(report.to_json())
    assert as_dict["score"] == pytest.approx(report.score)
    assert as_dict["verdict"] == report.verdict
    assert [f["code"] for f in as_dict["findings"]] == [f.code for f in report.findings]
    assert "heatmap" not in as_dict


def test_heatmap() -> None:
    report = trueshot.analyze(make_pixels(50, 70, 3))
    heatmap = report.heatmap
    assert heatmap is not None
    assert heatmap.shape == (50, 70) and heatmap.dtype == np.float32
    assert float(heatmap.min()) >= 0.0 and float(heatmap.max()) <= 1.0
    assert report.heatmap is heatmap  # built once, then cached
    with pytest.raises(ValueError):
        heatmap[0, 0] = 1.0  # shared, so read-only
    assert trueshot.analyze(make_pixels(50, 70, 3), config=trueshot.Config(heatmap=False)).heatmap is None


def test_write_heatmap_png(tmp_path: pathlib.Path) -> None:
    report = trueshot.analyze(make_pixels(50, 70, 3))
    target = tmp_path / "map.png"
    trueshot.write_heatmap_png(report, target)
    with Image.open(target) as png:
        assert png.mode == "L" and png.size == (70, 50)
        assert report.heatmap is not None
        expected = np.round(report.heatmap * 255).astype(np.uint8)
        np.testing.assert_array_equal(np.asarray(png), expected)
    with pytest.raises(FileNotFoundError):
        trueshot.write_heatmap_png(report, tmp_path / "missing-dir" / "map.png")
    no_map = trueshot.analyze(make_pixels(8, 8, 3), config=trueshot.Config(heatmap=False))
    with pytest.raises(ValueError, match="no heatmap"):
        trueshot.write_heatmap_png(no_map, target)


def test_analyze_many_matches_analyze() -> None:
    images = [make_pixels(40 + 8 * i, 56, 3, seed=i) for i in range(6)]
    expected = [summary(trueshot.analyze(image)) for image in images]
    for threads in (None, 1, 3):
        reports = trueshot.analyze_many(images, threads=threads)
        assert [summary(r) for r in reports] == expected
    assert trueshot.analyze_many([]) == []
    # Any iterable, not only lists.
    assert len(trueshot.analyze_many(iter(images[:2]))) == 2


def test_deterministic() -> None:
    data = png_bytes(make_pixels(64, 64, 3))
    first = trueshot.analyze(data)
    second = trueshot.analyze(data)
    assert summary(first) == summary(second)
    assert first.heatmap is not None and second.heatmap is not None
    assert first.heatmap.tobytes() == second.heatmap.tobytes()


def test_set_spare_memory() -> None:
    trueshot.set_spare_memory(0)
    try:
        report = trueshot.analyze(make_pixels(1000, 1200, 3))
        assert 0.0 <= report.score <= 1.0
    finally:
        trueshot.set_spare_memory(256)
    with pytest.raises(OverflowError):
        trueshot.set_spare_memory(-1)
